//! ARCHITECTURE.md against the tree, and the import graph of every crate: the map names every
//! top-level module and module folder of every crate, and no module of a crate reaches, through
//! its `crate::`/`super::` paths, a module that reaches it back (a parent's own items, which its
//! children use, are not such a reach).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

use faultline_testkit::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate's source folder, as ARCHITECTURE.md names the crate's folder.
const CRATES: [&str; 5] = [
    "extension/src",
    "extension/schema/src",
    "extension/alarms/src",
    "deployer/src",
    "testkit/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path: `runtime_proxy/wire/head.rs` → [runtime_proxy, wire, head]; `mod.rs`,
/// `lib.rs` and `main.rs` are their folder's module.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without comments and without its `#[cfg(test)] mod tests { ... }` tail.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` and `super::a` path in `code`, as module paths from the crate root.
fn references(code: &str, module: &[String], is_folder_module: bool) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b':'))
            {
                continue;
            }
            let rest: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segments: Vec<String> = rest
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut base: Vec<String> = if segments.first().map(String::as_str) == Some("crate") {
                segments.remove(0);
                Vec::new()
            } else {
                // `super` in a/b.rs is a; in a/mod.rs it is a's parent.
                let mut base = module.to_vec();
                if !is_folder_module || !module.is_empty() {
                    base.pop();
                }
                segments.remove(0);
                while segments.first().map(String::as_str) == Some("super") {
                    base.pop();
                    segments.remove(0);
                }
                base
            };
            base.extend(segments);
            found.push(base);
        }
    }
    found
}

struct Crate {
    /// Module path → the modules it reaches.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    folders: BTreeSet<String>,
}

fn read_crate(src: &Path) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|candidate| modules.contains_key(candidate))
    };
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).expect("read");
        let is_folder_module = matches!(
            file.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib" | "main")
        );
        let targets: BTreeSet<Vec<String>> = references(&code(&text), module, is_folder_module)
            .iter()
            .filter_map(|path| resolve(path))
            // Not itself, not the crate root, not one of its ancestors (their items are the
            // children's shared vocabulary).
            .filter(|t| t != module && !t.is_empty() && !module.starts_with(t))
            .collect();
        edges.insert(module.clone(), targets);
    }
    let folders = files
        .iter()
        .filter_map(|f| f.parent())
        .filter(|dir| *dir != src)
        .map(|dir| {
            dir.strip_prefix(src)
                .expect("under src")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    Crate { edges, folders }
}

/// A cycle in the graph, if there is one (depth-first search with colours).
fn find_cycle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                0 => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
                1 => {
                    let at = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[at..].iter().map(|m| m.join("/")).collect();
                    cycle.push(next.join("/"));
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node).copied().unwrap_or(0) == 0
            && let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_crate_has_an_import_circle() {
    for src in CRATES {
        let krate = read_crate(&repo_root().join(src));
        assert!(
            krate.edges.len() > 1 || src.contains("alarms"),
            "{src}: no modules read"
        );
        if let Some(cycle) = find_cycle(&krate.edges) {
            panic!("{src}: import circle {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_circle_finder_finds_circles() {
    let module = |m: &str| vec![m.to_string()];
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    edges.insert(module("a"), [module("b")].into());
    edges.insert(module("b"), [module("c")].into());
    edges.insert(module("c"), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
    edges.insert(module("c"), [module("a")].into());
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let refs = references(
        "use super::wire::Head; use crate::config::state::X; fn f() { super::super::y(); }",
        &["runtime_proxy".to_string(), "relay".to_string()],
        false,
    );
    assert_eq!(
        refs,
        [
            vec!["config".to_string(), "state".into(), "X".into()],
            vec!["runtime_proxy".to_string(), "wire".into(), "Head".into()],
            vec!["y".to_string()],
        ]
    );
}

/// Every top-level module and every module folder of every crate is on the map, written as its
/// path from the crate's src (`runtime_proxy/`, `runtime_proxy/wire/`, `settings.rs`; a crate's
/// lib.rs is the crate).
#[test]
fn architecture_md_names_every_module_folder_and_top_level_module() {
    let map = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("map");
    let mut missing = Vec::new();
    for src in CRATES {
        let dir = repo_root().join(src);
        let krate = read_crate(&dir);
        for folder in &krate.folders {
            if !map.contains(&format!("{folder}/")) {
                missing.push(format!("{src}/{folder}/"));
            }
        }
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            // lib.rs is the crate itself, which the map names by its folder.
            if name.ends_with(".rs") && name != "lib.rs" && !map.contains(&name) {
                missing.push(format!("{src}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name: {missing:?}"
    );
}
