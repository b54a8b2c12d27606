//! `whoport --generate man|complete-bash|complete-zsh|complete-fish|complete-powershell`:
//! the manual page (clap_mangen) and shell completions (clap_complete), made from the
//! same clap definition as `--help`, so they cannot disagree with it.
//!
//! The man page is clap_mangen's sections (name, synopsis, description, options, the
//! list of subcommands, version), then a section per subcommand (its synopsis and
//! options), then EXAMPLES, EXIT STATUS and the other titled blocks of the help's
//! epilogue (`Examples:`, `Exit codes:`), so the examples and codes are written once,
//! in `cli.rs`.
//!
//! The Debian package ships copies checked in under `docs/man/` and `docs/completions/`;
//! the test `generated_files_are_current` fails when they differ from what this writes
//! (`WHOPORT_UPDATE_GENERATED=1 cargo test generated_files` rewrites them).

use std::io::Write;

use anyhow::{Result, bail};
use clap::CommandFactory;
use clap_complete::Shell;
use roff::{Roff, bold, roman};

use crate::cli::Cli;

/// What `--generate` accepts (the same list is the argument's possible values).
pub const WHAT: [&str; 5] = [
    "man",
    "complete-bash",
    "complete-zsh",
    "complete-fish",
    "complete-powershell",
];

/// Writes the man page or a completion script.
pub fn write(what: &str, out: &mut dyn Write) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let shell = match what {
        "man" => return Ok(man(&cmd, out)?),
        "complete-bash" => Shell::Bash,
        "complete-zsh" => Shell::Zsh,
        "complete-fish" => Shell::Fish,
        "complete-powershell" => Shell::PowerShell,
        other => bail!("invalid --generate '{other}': one of {}", WHAT.join(", ")),
    };
    clap_complete::generate(shell, &mut cmd, "whoport", out);
    Ok(())
}

fn man(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone())
        .title("WHOPORT")
        .section("1")
        .manual("User Commands");
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    // A section per subcommand instead of clap_mangen's list, which points to pages of
    // their own (whoport-check(1)) that are not shipped.
    subcommand_sections(cmd, out)?;
    let epilogue = after_help(cmd);
    let mut roff = Roff::new();
    blocks(&mut roff, &epilogue, "SH");
    roff.to_writer(out)?;
    page.render_version_section(out)
}

/// The sections of every (visible) subcommand, nested ones after their parent.
fn subcommand_sections(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_section(sub, out)?;
        subcommand_sections(sub, out)?;
    }
    Ok(())
}

/// `WHOPORT KILL`: what the subcommand does, its synopsis and options, its own
/// examples and exit codes.
fn subcommand_section(sub: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let mut roff = Roff::new();
    let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_string();
    roff.control("SH", [name.to_uppercase().as_str()]);
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        for para in about.to_string().split("\n\n") {
            roff.control("PP", []);
            roff.text([roman(para.replace('\n', " "))]);
        }
    }
    roff.to_writer(out)?;
    // clap_mangen's sections, demoted to subsections of this one.
    let page = clap_mangen::Man::new(sub.clone());
    for render in [
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_options_section,
    ] {
        let mut buf = Vec::new();
        render(&page, &mut buf)?;
        let text = String::from_utf8_lossy(&buf)
            .replace(".SH SYNOPSIS", ".SS Synopsis")
            .replace(".SH OPTIONS", ".SS Options");
        out.write_all(text.as_bytes())?;
    }
    let mut roff = Roff::new();
    blocks(&mut roff, &after_help(sub), "SS");
    roff.to_writer(out)
}

fn after_help(cmd: &clap::Command) -> String {
    cmd.get_after_long_help()
        .or(cmd.get_after_help())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The help epilogue as man sections: a line `Examples:` (not indented, ending in a
/// colon) opens a block, kept as written (`.nf`); `Examples` becomes EXAMPLES and
/// `Exit codes` EXIT STATUS, the man page's names. Text before any heading goes to NOTES.
fn blocks(roff: &mut Roff, text: &str, level: &str) {
    let mut open = false;
    for line in text.lines() {
        let heading = !line.starts_with(' ')
            && line.ends_with(':')
            && line.len() < 80
            && !line.contains(". ");
        if heading {
            if open {
                roff.control("fi", []);
            }
            let title = line.trim_end_matches(':');
            let title = match title.split(' ').next() {
                Some("Examples") if level == "SH" => "EXAMPLES".to_string(),
                Some("Exit") if title.starts_with("Exit codes") && level == "SH" => {
                    "EXIT STATUS".to_string()
                }
                _ if level == "SH" => title.to_uppercase(),
                _ => title.to_string(),
            };
            roff.control(level, [title.as_str()]);
            roff.control("nf", []);
            open = true;
            continue;
        }
        if !open {
            roff.control(level, [if level == "SH" { "NOTES" } else { "Notes" }]);
            roff.control("nf", []);
            open = true;
        }
        if line.trim().is_empty() {
            roff.text([roman("")]);
        } else if let Some(command) = line.strip_prefix("  whoport") {
            // An example: the command in bold, its explanation (after two spaces) plain.
            let (cmd, rest) = match command.find("  ") {
                Some(at) => (&command[..at], &command[at..]),
                None => (command, ""),
            };
            roff.text([roman("  "), bold(format!("whoport{cmd}")), roman(rest)]);
        } else {
            roff.text([roman(line)]);
        }
    }
    if open {
        roff.control("fi", []);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The files the Debian package installs, and what makes each.
    const FILES: [(&str, &str); 4] = [
        ("man", "docs/man/whoport.1"),
        ("complete-bash", "docs/completions/whoport.bash"),
        ("complete-zsh", "docs/completions/_whoport"),
        ("complete-fish", "docs/completions/whoport.fish"),
    ];

    fn generated(what: &str) -> Result<String> {
        let mut out = Vec::new();
        write(what, &mut out)?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn generated_files_are_current() -> Result<()> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let update = std::env::var_os("WHOPORT_UPDATE_GENERATED").is_some();
        let mut stale = Vec::new();
        for (what, path) in FILES {
            let fresh = generated(what)?;
            let file = root.join(path);
            if std::fs::read_to_string(&file).ok().as_deref() != Some(fresh.as_str()) {
                if update {
                    std::fs::write(&file, &fresh)?;
                } else {
                    stale.push(path);
                }
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated files {stale:?}: run `WHOPORT_UPDATE_GENERATED=1 cargo test \
             generated_files` and commit them"
        );
        Ok(())
    }

    #[test]
    fn man_page_has_exit_status_and_examples() -> Result<()> {
        let page = generated("man")?;
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH EXAMPLES",
            ".SH \"EXIT STATUS\"",
            ".SH \"WHOPORT CHECK\"",
            ".SH \"WHOPORT REGISTRY IMPORT\"",
        ] {
            assert!(page.contains(section), "{section} missing");
        }
        assert!(page.contains("\\fBwhoport 60322\\fR"), "examples in bold");
        Ok(())
    }

    #[test]
    fn every_shell() -> Result<()> {
        for what in WHAT {
            let text = generated(what)?;
            assert!(text.contains("whoport"), "{what}");
        }
        assert!(generated("complete-bash")?.contains("complete -F"));
        assert!(generated("nonsense").is_err());
        Ok(())
    }
}
