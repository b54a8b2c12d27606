//! The layers point one way: no module names one above it (docs/architecture.md). This
//! reads every source file and checks each `crate::` path against the order below, so a
//! new import that points up fails the suite.

use std::path::Path;

/// Lowest first. A module may use any module of a lower or equal rank.
const LAYERS: &[(&str, u8)] = &[
    ("exit", 0),
    ("model", 0),
    ("sanitize", 1),
    ("iana", 2),
    ("host", 3),
    ("collect", 4),
    ("resolve", 5),
    ("annotate", 6),
    ("pipeline", 7),
    ("check", 8),
    ("render", 9),
    ("act", 10),
    ("cli", 11),
    ("generate", 12),
    ("config", 12),
    ("app", 13),
    ("main", 14),
    ("tests", 15),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    assert!(all.len() > 20, "found only {} source files", all.len());
    let mut wrong = Vec::new();
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap_or(path);
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs");
        let Some(own) = rank(top) else {
            wrong.push(format!("{}: module {top} has no layer", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // `use crate::{a, b}` and `crate::a::b` both name their first segment.
        let mut rest = text.as_str();
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end]
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or("").trim())
                    .collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                vec![&rest[..end]]
            };
            for name in names.into_iter().filter(|n| !n.is_empty() && *n != "self") {
                match rank(name) {
                    Some(r) if r > own => {
                        wrong.push(format!("{}: {top} uses crate::{name}", rel.display()))
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up:\n{}",
        wrong.join("\n")
    );
}
