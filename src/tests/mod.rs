//! Tests across the layers, on fake hosts: the check's policy from parsed expectations
//! (`check`), the golden output of every format (`golden`), and the direction of every
//! import (`layers`).

mod check;
mod containers;
mod golden;
mod layers;
