//! Turns the committed IANA registry table (data/iana-registry.tsv, made by
//! scripts/gen-iana.py) into static, sorted Rust arrays, so that the binary looks ports
//! and service names up by binary search with nothing to parse at start-up.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

const DATA: &str = "data/iana-registry.tsv";

struct Row {
    ports: Option<(u16, u16)>,
    transport: &'static str,
    name: String,
    description: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={DATA}");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let text = std::fs::read_to_string(manifest.join(DATA)).map_err(|e| format!("{DATA}: {e}"))?;
    let mut generated = String::new();
    let mut sources = Vec::new();
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{DATA} line {}", n + 1);
        if let Some(meta) = line.strip_prefix("#@ ") {
            match meta.split_once(": ") {
                Some(("generated", v)) => generated = v.to_string(),
                Some(("source", v)) => sources.push(v.to_string()),
                _ => {}
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [first, last, transport, name, description] = fields[..] else {
            return Err(format!("{}: expected 5 tab-separated fields", at()).into());
        };
        let ports = match (first, last) {
            ("", "") => None,
            (a, b) => {
                let (a, b): (u16, u16) = (a.parse()?, b.parse()?);
                if a > b {
                    return Err(format!("{}: first port above last", at()).into());
                }
                Some((a, b))
            }
        };
        let transport = match transport {
            "" => "Any",
            "tcp" => "Tcp",
            "udp" => "Udp",
            "sctp" => "Sctp",
            "dccp" => "Dccp",
            other => return Err(format!("{}: unknown protocol {other:?}", at()).into()),
        };
        rows.push(Row {
            ports,
            transport,
            name: unescape(name),
            description: unescape(description),
        });
    }
    // The order the lookups rely on (the same as `Registry::from_rows`): single ports by
    // port, then ranges by first and last port, then names without a port; stable, so
    // that the registry's own order stays within a port (80/tcp: http, www, www-http).
    rows.sort_by_key(|r| match r.ports {
        Some((a, b)) if a == b => (0, a, b),
        Some((a, b)) => (1, a, b),
        None => (2, 0, 0),
    });
    let singles = rows
        .iter()
        .filter(|r| matches!(r.ports, Some((a, b)) if a == b))
        .count();
    let ranged = rows.iter().filter(|r| r.ports.is_some()).count();
    let mut names: Vec<(String, usize)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.name.is_empty())
        .map(|(i, r)| (r.name.to_lowercase(), i))
        .collect();
    names.sort();

    // Every string once, in one blob; the tables hold (offset, length) into it, so that
    // they hold no pointers: pointers in static data must be relocated, and so read into
    // memory, each time whoport starts (for 14,000 rows, over a megabyte).
    let mut blob = String::with_capacity(text.len());
    let mut placed: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let mut place = |s: &str| -> (usize, usize) {
        *placed.entry(s.to_string()).or_insert_with(|| {
            let at = blob.len();
            blob.push_str(s);
            (at, s.len())
        })
    };
    let mut row_texts = Vec::with_capacity(rows.len());
    for r in &rows {
        row_texts.push((place(&r.name), place(&r.description)));
    }
    let name_texts: Vec<(usize, usize)> = names.iter().map(|(n, _)| place(n)).collect();
    let mut out = String::with_capacity(text.len() * 2);
    writeln!(out, "pub static STRINGS: &str = {blob:?};")?;
    writeln!(out, "pub const GENERATED: &str = {generated:?};")?;
    writeln!(out, "pub const SOURCES: &[&str] = &{sources:?};")?;
    writeln!(out, "pub const SINGLES_END: usize = {singles};")?;
    writeln!(out, "pub const PORTS_END: usize = {ranged};")?;
    // The first port of every row that has ports, apart: a lookup binary-searches these
    // 2-byte numbers, and reads only the rows of the port it finds (the rows are most of
    // the table's size, so searching them would read most of it into memory).
    writeln!(out, "pub static FIRSTS: [u16; {ranged}] = [")?;
    for r in rows.iter().take(ranged) {
        if let Some((a, _)) = r.ports {
            write!(out, "{a},")?;
        }
    }
    writeln!(out, "];")?;
    writeln!(out, "pub static ROWS: [Row; {}] = [", rows.len())?;
    for (r, ((na, nl), (da, dl))) in rows.iter().zip(&row_texts) {
        let ports = match r.ports {
            Some((a, b)) => format!("Some(({a}, {b}))"),
            None => "None".to_string(),
        };
        writeln!(
            out,
            "Row::builtin({ports}, Transport::{}, Text::builtin({na}, {nl}), Text::builtin({da}, {dl})),",
            r.transport
        )?;
    }
    writeln!(out, "];")?;
    writeln!(out, "pub static NAMES: [NameEntry; {}] = [", names.len())?;
    for ((_, i), (at, len)) in names.iter().zip(&name_texts) {
        writeln!(out, "NameEntry::builtin(Text::builtin({at}, {len}), {i}),")?;
    }
    writeln!(out, "];")?;
    let dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(dir.join("iana_builtin.rs"), out)?;
    Ok(())
}

/// Undoes the generator's escapes: `\n`, `\t`, `\\`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
