mod placeholder {}
mod ports_xsan;
