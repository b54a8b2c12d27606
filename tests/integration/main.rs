mod placeholder {}
#[cfg(target_os = "linux")]
mod bench_fixture;
