//! Tests of whole paths through the layers, on fake hosts: the check's policy from parsed
//! expectations (`check`), and the golden output of every format (`golden`).

mod check;
mod golden;
