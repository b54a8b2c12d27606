//! Terminal-safe text. Process names, command lines, user names and paths are chosen by
//! whoever started the process or made the file: they must never reach a terminal, a log
//! or a monitoring system as control characters, escape sequences, invisible characters or
//! characters that reorder the text around them. JSON output does not use this (serde
//! escapes exactly; docs/json.md).
//!
//! Which characters are escaped is decided by Unicode properties, from the Unicode
//! Consortium's own data (`icu_properties`, ICU4X), not by a hand-made list:
//!
//! - General_Category Cc (controls: C0, DEL, C1), Cf (format: zero-width space and
//!   joiners, the bidi marks, embeddings, overrides and isolates, U+FEFF, U+00AD soft
//!   hyphen, U+061C, U+180E, tag characters, …), Zl and Zp (U+2028, U+2029: they break
//!   lines), Co (private use: a font decides what they look like) and Cn (unassigned: a
//!   terminal's Unicode tables may be older or newer than ours);
//! - Default_Ignorable_Code_Point (drawn as nothing: variation selectors, U+034F, Hangul
//!   fillers U+115F/U+1160/U+3164/U+FFA0, …) and Bidi_Control (every character that
//!   reorders the text around it);
//! - every space separator (Zs) but the ASCII space: U+00A0, U+2003, U+3000, … look like a
//!   space and are not one;
//!
//! An escaped character is shown as `\xHH` below U+0100 and `\u{HHHH}` above. A backslash
//! is kept as it is, so that escaping twice changes nothing (warnings and verdicts pass
//! through more than one layer): a name that contains the text `\u{200b}` shows as that
//! text, which is as visibly not `sshd` as the escape.

use std::borrow::Cow;
use std::fmt::Write;

use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

/// Whether a character is shown escaped (see the module's documentation).
pub(crate) fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointSetData::new::<BidiControl>().contains(c)
    {
        return true;
    }
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::SpaceSeparator
    )
}

/// Printable ASCII: nothing to escape, the common case.
fn plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn push_escaped(out: &mut String, c: char) {
    let n = u32::from(c);
    if n < 0x100 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:04x}}}");
    }
}

/// Shows every character that is invisible, reorders text or breaks lines as a visible
/// escape (`\x1b`, `\u{200b}`); everything else is kept.
pub(crate) fn terminal_safe(s: &str) -> Cow<'_, str> {
    if plain_ascii(s) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Bytes that are not UTF-8 (an argument, a path), terminal-safe: valid text as
/// [`terminal_safe`] shows it, each invalid byte as `\xHH`.
pub(crate) fn bytes_safe(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&terminal_safe(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The longest user value echoed whole in an error message, in characters.
pub(crate) const VALUE_CHARS: usize = 64;

/// A value the user gave, as an error message names it: terminal-safe and, when longer
/// than [`VALUE_CHARS`] characters, its start, `…` and its length (`xxxx… (5000
/// characters)`), so that a huge argument does not fill the screen.
pub(crate) fn value(s: &str) -> String {
    let count = s.chars().count();
    if count <= VALUE_CHARS {
        return terminal_safe(s).into_owned();
    }
    let head: String = s.chars().take(VALUE_CHARS - 8).collect();
    format!("{}… ({count} characters)", terminal_safe(&head))
}

/// The longest line an error or warning may take, in characters.
pub(crate) const LINE_CHARS: usize = 4000;

/// One line of text for an error message: terminal-safe, newlines shown as `\x0a`, and
/// cut at [`LINE_CHARS`] characters.
pub(crate) fn one_line(s: &str) -> String {
    let safe = terminal_safe(s.trim_end());
    shorten(&safe, LINE_CHARS)
}

/// `s` cut to at most `max` characters, the cut shown by `…`.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let end = s
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// Text for a monitoring plugin's status line: terminal-safe, on one line, and with `|`
/// (which starts the performance data) shown as `\x7c`.
pub(crate) fn plugin_text(s: &str) -> String {
    one_line(s).replace('|', "\\x7c")
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("日本語 サーバ", "日本語 サーバ"),
            ("a\\b", "a\\b"),
        ];
        for (input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{input:?}");
            assert!(!terminal_safe(input).chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn escapes_invisible_reordering_and_line_breaking_characters() {
        // Each of these makes `ss?hd` look like `sshd`, or reorders or breaks the line.
        let hidden = [
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{061c}',
            '\u{2028}',
            '\u{2029}',
            '\u{00ad}',
            '\u{180e}',
            '\u{e0041}',
            '\u{e007f}',
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{034f}',
            '\u{fe0f}',
            '\u{115f}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{00a0}',
            '\u{2003}',
            '\u{3000}',
            '\u{e000}',
            '\u{0378}',
            '\u{85}',
        ];
        for c in hidden {
            let name = format!("ss{c}hd");
            let shown = terminal_safe(&name);
            let n = u32::from(c);
            let want = if n < 0x100 {
                format!("ss\\x{n:02x}hd")
            } else {
                format!("ss\\u{{{n:04x}}}hd")
            };
            assert_eq!(shown, want, "U+{n:04X}");
        }
        // Escaping twice changes nothing.
        assert_eq!(
            terminal_safe(&terminal_safe("ss\u{200b}hd")),
            "ss\\u{200b}hd"
        );
        // Combining marks and ordinary scripts stay as they are.
        assert_eq!(terminal_safe("नमस्ते café"), "नमस्ते café");
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_escapes() {
        assert_eq!(bytes_safe(b"80\xff\xfe"), "80\\xff\\xfe");
        assert_eq!(bytes_safe("ok\u{200b}".as_bytes()), "ok\\u{200b}");
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(5000);
        let shown = value(&long);
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.ends_with("… (5000 characters)"), "{shown}");
        assert_eq!(value("-80"), "-80");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abcd", 4), "abcd");
        assert_eq!(one_line(&"y".repeat(10_000)).chars().count(), LINE_CHARS);
    }

    #[test]
    fn plugin_text_cannot_start_performance_data() {
        assert_eq!(plugin_text("a|b=1"), "a\\x7cb=1");
        assert_eq!(plugin_text("x\ny\x1b"), "x\\x0ay\\x1b");
        assert_eq!(plugin_text("a\u{2028}b"), "a\\u{2028}b");
        // Already safe text is left as it is.
        assert_eq!(plugin_text(&plugin_text("a|b\n")), plugin_text("a|b\n"));
    }
}
