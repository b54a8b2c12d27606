//! whoport's integration tests, one test binary: real sockets on loopback, the built
//! binary, exact pids.

mod act;
#[cfg(target_os = "linux")]
mod bench_fixture;
mod check;
mod compare;
#[cfg(target_os = "linux")]
mod containers;
mod input;
#[cfg(target_os = "linux")]
mod owner_scan;
mod owners;
mod ports_xsan;
mod privilege;
mod prometheus;
#[cfg(target_os = "linux")]
mod runtimes;
mod safety;
mod support;
#[cfg(target_os = "linux")]
mod truth;
