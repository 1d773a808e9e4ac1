//! The Architecture Invariants of ARCHITECTURE.md that can be read off the source,
//! checked so they cannot drift: which module may name which, what the domain may not
//! touch, and who alone may know sled or write to the store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `domain ← store ← actors ← api ← {http, ws} ← startup/main`, with the leaves
/// (`clock`, `config`, `auth`, `web`) where they are used. A module may name only the
/// modules listed for it.
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("telemetry", &[]),
    ("clock", &["domain"]),
    ("config", &["domain"]),
    ("store", &["domain", "telemetry"]),
    ("actors", &["domain", "store", "clock", "config"]),
    ("auth", &["domain", "config"]),
    ("api", &["domain", "store", "actors", "auth", "clock", "config"]),
    (
        "http",
        &[
            "api",
            "domain",
            "store",
            "actors",
            "auth",
            "clock",
            "config",
            "web",
            "telemetry",
        ],
    ),
    (
        "ws",
        &[
            "api",
            "domain",
            "store",
            "actors",
            "auth",
            "clock",
            "config",
            "telemetry",
        ],
    ),
    ("web", &[]),
    (
        "notify",
        &["api", "domain", "store", "actors", "clock", "config", "telemetry"],
    ),
];

/// Crates and paths the domain may not use: it does no I/O and reads no clock.
const NOT_IN_DOMAIN: &[&str] = &[
    "actix",
    "sled",
    "bincode",
    "serde",
    "tokio",
    "reqwest",
    "std::fs",
    "std::net",
    "Utc::now",
    "SystemTime",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each source file's top-level module (`src/ws/hub.rs` → `ws`, `src/startup.rs` →
/// `startup`) and its code without comments.
fn sources() -> Vec<(String, PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let code: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            (module, path, code)
        })
        .collect()
}

/// The crate modules a piece of code names through `crate::`.
fn named_modules(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(i, m)| {
            code[i + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn modules_depend_only_in_the_stated_direction() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, path, code) in sources() {
        let Some(may) = allowed.get(module.as_str()) else {
            continue; // startup, main, lib: the top, which may name anything
        };
        for named in named_modules(&code) {
            if named != module && !may.contains(&named.as_str()) {
                wrong.push(format!("{} names crate::{named}", path.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "against the dependency direction:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_is_placed_in_the_direction() {
    let placed: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let top = ["startup", "main", "lib"];
    let unplaced: BTreeSet<String> = sources()
        .into_iter()
        .map(|(m, _, _)| m)
        .filter(|m| !placed.contains(m.as_str()) && !top.contains(&m.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "modules missing from ALLOWED: {unplaced:?}");
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock() {
    let mut wrong = Vec::new();
    for (module, path, code) in sources() {
        if module != "domain" {
            continue;
        }
        let code = code.split("#[cfg(test)]").next().unwrap();
        for banned in NOT_IN_DOMAIN {
            if code.contains(banned) {
                wrong.push(format!("{} uses {banned}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_the_store_knows_sled_and_bincode() {
    let wrong: Vec<String> = sources()
        .into_iter()
        .filter(|(m, _, code)| m != "store" && (code.contains("sled::") || code.contains("bincode::")))
        .map(|(_, path, _)| path.display().to_string())
        .collect();
    assert!(wrong.is_empty(), "sled or bincode outside src/store: {wrong:?}");
}

#[test]
fn only_actors_write_to_the_store() {
    // A write is a `Batch` handed to `Store::commit`; outside the store itself only
    // actors may build one. (`startup` and the CLI reach the store through actors.)
    let wrong: Vec<String> = sources()
        .into_iter()
        .filter(|(m, _, code)| {
            m != "store" && m != "actors" && (code.contains("Batch") || code.contains(".commit("))
        })
        .map(|(_, path, _)| path.display().to_string())
        .collect();
    assert!(wrong.is_empty(), "store writes outside src/actors: {wrong:?}");
}
