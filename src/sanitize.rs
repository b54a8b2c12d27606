//! Terminal-safe text. Process names, command lines and paths are chosen by whoever
//! started the process: they must never reach a terminal as control characters or escape
//! sequences. JSON output does not use this (serde escapes exactly).

use std::borrow::Cow;
use std::fmt::Write;

/// Shows control characters (C0, DEL, C1) and invisible bidirectional overrides as
/// visible escapes (`\x1b`, `\u{202e}`); everything else is kept.
pub(crate) fn terminal_safe(s: &str) -> Cow<'_, str> {
    // Printable ASCII, the common case, holds nothing to escape.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            let n = u32::from(c);
            if n < 0x100 {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:04x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One line of text for an error message: terminal-safe, newlines shown as `\n`.
pub(crate) fn one_line(s: &str) -> String {
    terminal_safe(s.trim_end()).into_owned()
}

/// Text for a monitoring plugin's status line: terminal-safe, on one line, and with `|`
/// (which starts the performance data) shown as `\x7c`.
pub(crate) fn plugin_text(s: &str) -> String {
    one_line(s).replace('|', "\\x7c")
}

#[cfg(test)]
mod tests {
    use super::{plugin_text, terminal_safe};

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        let cases = [
            ("nginx", "nginx"),
            ("evil\x1b[2Jname", "evil\\x1b[2Jname"),
            ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"),
            ("bell\x07", "bell\\x07"),
            ("del\x7f", "del\\x7f"),
            ("csi\u{9b}31m", "csi\\x9b31m"),
            ("rtl\u{202e}gpj.exe", "rtl\\u{202e}gpj.exe"),
            ("ünïcødé ok", "ünïcødé ok"),
        ];
        for (input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{input:?}");
            assert!(!terminal_safe(input).chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn plugin_text_cannot_start_performance_data() {
        assert_eq!(plugin_text("a|b=1"), "a\\x7cb=1");
        assert_eq!(plugin_text("x\ny\x1b"), "x\\x0ay\\x1b");
        // Already safe text is left as it is.
        assert_eq!(plugin_text(&plugin_text("a|b\n")), plugin_text("a|b\n"));
    }
}
