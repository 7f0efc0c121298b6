//! The modules of `variants/src` form no import cycle: a protocol builds on the roles and quorum systems below
//! it, never the other way round (Cheap Paxos is a policy over the Multi-Paxos core, not branches inside it).
//! Edges are the `crate::<module>` paths in code (comments and `#[cfg(test)]` sections left out), between
//! top-level modules (a file `x.rs` or a folder `x/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("variants/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for `lib.rs`, the root that names every module).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(m) => Some(m.to_string()),
        None => Some(first.to_string()),
    }
}

/// Top-level modules named by `crate::<name>` in the code of `text`.
fn references(text: &str) -> BTreeSet<String> {
    let code_end = text.find("#[cfg(test)]").unwrap_or(text.len());
    let mut out = BTreeSet::new();
    for line in text[..code_end].lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        // `use crate::{a, b::c}` names several.
        if let Some(i) = line.find("crate::{") {
            let inner = &line[i + "crate::{".len()..];
            for part in inner.split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(m) = module_of(&src, &f) else {
            continue;
        };
        let text = std::fs::read_to_string(&f).expect("a source file is readable");
        let refs = references(&text);
        let entry = g.entry(m.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != m));
    }
    let names: BTreeSet<String> = g.keys().cloned().collect();
    for deps in g.values_mut() {
        deps.retain(|d| names.contains(d));
    }
    g
}

/// A cycle through `node`, if the depth-first search from it finds one.
fn find_cycle(
    g: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|p| p == node) {
        let mut cycle = path[i..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in g.get(node).into_iter().flatten() {
        if let Some(c) = find_cycle(g, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

fn cycle_in(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| find_cycle(g, n, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_variants_imports_one_that_imports_it_back() {
    let g = graph();
    assert!(g.contains_key("multi") && g.contains_key("cheap"), "{g:?}");
    assert!(
        g["cheap"].contains("multi"),
        "the reader found no edge from cheap to multi: {g:?}"
    );
    if let Some(c) = cycle_in(&g) {
        panic!("import cycle among variants/ modules: {}", c.join(" -> "));
    }
}

#[test]
fn the_cycle_search_finds_a_cycle_when_there_is_one() {
    let mut g = graph();
    g.get_mut("multi")
        .expect("multi is a module")
        .insert("cheap".into());
    let c = cycle_in(&g).expect("multi -> cheap -> multi is a cycle");
    assert!(c.contains(&"multi".to_string()) && c.contains(&"cheap".to_string()));
    assert_eq!(c.first(), c.last());
}
