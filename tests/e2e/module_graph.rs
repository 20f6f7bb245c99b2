//! The import graph of the crates whose layering CODE_STYLE.md names (hop-core read bottom-up,
//! the router's edge -> admission -> dual_run -> log -> store) has no circles: a module never
//! names, directly or through others, a module that names it.
//!
//! The graph is read from the source text: a file belongs to its top-level module (`src/x.rs`,
//! `src/x/**`); an edge x -> y is any `crate::y` (also inside `use crate::{..}` groups and doc
//! links) or a `super::` path that climbs to the crate root and names y. Test modules kept in
//! their own `tests.rs` files (and the `tests/` folders beside them) are left out: a module's
//! tests may drive it from a layer above (the router's dual-run tests submit through admission).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate root, `lib.rs`), and how many
/// `super::` segments climb from it to the crate root.
fn module_of(src: &Path, file: &Path) -> (Option<String>, usize) {
    let relative = file.strip_prefix(src).expect("file under src");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.len() == 1 {
        let stem = parts[0].trim_end_matches(".rs");
        return match stem {
            "lib" | "main" => (None, 0),
            other => (Some(other.to_owned()), 1),
        };
    }
    // src/x/mod.rs is x itself (one climb); src/x/y.rs is x::y (two); deeper adds one each.
    let depth = if parts.last().is_some_and(|p| p == "mod.rs") {
        parts.len() - 1
    } else {
        parts.len()
    };
    (Some(parts[0].clone()), depth)
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first segment of every item of a `{a::b, c, d::{e, f}}` group that starts `text`.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                depth += 1;
                at_item_start = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => at_item_start = true,
            c if c.is_whitespace() => {}
            _ if at_item_start && depth == 1 => {
                heads.push(identifier(&text[i..]).to_owned());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules a path written after `crate::` (or after enough `super::`) names.
fn heads_after(rest: &str) -> Vec<String> {
    if rest.starts_with('{') {
        group_heads(rest)
    } else {
        vec![identifier(rest).to_owned()]
    }
}

fn references(text: &str, climbs: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `hop_crate::`, not `crate::`
        }
        found.extend(heads_after(&text[at + "crate::".len()..]));
    }
    if climbs > 0 {
        let to_root = "super::".repeat(climbs);
        for (at, _) in text.match_indices(&to_root) {
            let rest = &text[at + to_root.len()..];
            if !rest.starts_with("super::") {
                found.extend(heads_after(rest));
            }
        }
    }
    found
}

fn graph(crate_dir: &str) -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f).0).collect();
    let mut graph = Graph::new();
    for file in &files {
        let (Some(module), climbs) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        let edges = graph.entry(module.clone()).or_default();
        for target in references(&text, climbs) {
            if target != module && modules.contains(&target) {
                edges.insert(target);
            }
        }
    }
    graph
}

/// A circle in `graph`, as the modules along it (first = last), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn assert_acyclic(crate_dir: &str) -> Graph {
    let graph = graph(crate_dir);
    assert!(
        graph.len() > 3,
        "{crate_dir}: too few modules read: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "{crate_dir}: modules import in a circle: {}",
            cycle.join(" -> ")
        );
    }
    graph
}

#[test]
fn hop_core_modules_read_bottom_up() {
    let graph = assert_acyclic("crates/hop-core");
    // The shared vocabulary and the errors are leaves.
    for leaf in ["types", "error", "format", "rng"] {
        let edges = &graph[leaf];
        assert!(
            edges
                .iter()
                .all(|e| ["error", "format"].contains(&e.as_str())),
            "hop-core::{leaf} imports {edges:?}"
        );
    }
}

#[test]
fn router_modules_form_one_direction() {
    let graph = assert_acyclic("services/router");
    // The layers CODE_STYLE.md names, top to bottom: none names one above it.
    let layers = ["jobs_service", "admission", "dual_run", "log", "store"];
    for (i, lower) in layers.iter().enumerate() {
        for higher in &layers[..i] {
            assert!(
                !graph[*lower].contains(*higher),
                "router::{lower} names router::{higher}, a layer above it"
            );
        }
    }
}

#[test]
fn the_checker_finds_a_circle() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    graph.insert("d".into(), ["a".into()].into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn the_reader_sees_groups_doc_links_and_super_paths() {
    let text = "use crate::{alpha::X, beta, gamma::{Y, Z}};\n/// See [`crate::delta`].\n\
                use super::epsilon::W; use super::super::zeta::V; hop_crate::eta";
    let found = references(text, 2);
    let expected: BTreeSet<String> = ["alpha", "beta", "gamma", "delta", "zeta"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
    assert!(references("use super::epsilon::W;", 1).contains("epsilon"));
}
