use std::process::ExitCode;

use whoport::{exit, sanitize};

fn main() -> ExitCode {
    match whoport::run() {
        Ok(code) => code,
        Err(err) if exit::is_broken_pipe(&err) => exit::code(exit::MATCHED),
        Err(err) => {
            eprintln!("whoport: {}", sanitize::one_line(&format!("{err:#}")));
            exit::code(exit::ERROR)
        }
    }
}
