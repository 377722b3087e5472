//! The crate's layering, checked from its source: every `crate::` path in `src/` names a module
//! in the same layer or one below, and the modules' imports form no circle. A new module must be
//! given a layer here (the test fails until it is), so where a change lands is a decision, not
//! an accident.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// The layers, bottom first (lib.rs tells the same story in prose).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "vocabulary",
        &["text", "legacy", "safe", "schema", "domain"],
    ),
    ("configuration", &["config"]),
    (
        "the pure middle",
        &[
            "mail", "sheet", "wording", "validate", "units", "dedupe", "pipeline",
        ],
    ),
    (
        "composing and the edges",
        &[
            "template", "reply", "mailbox", "store", "outbox", "report", "remind", "worker",
        ],
    ),
    ("the daemon", &["daemon"]),
    ("the commands", &["desk", "commands", "cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// The top-level module a file of `src/` belongs to (`src/store/query.rs` → `store`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file's code names through `crate::`, comments left out.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b};`: each first-level name of the group.
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every edge between two top-level modules: (from, to) → the files that make it.
fn edges() -> BTreeMap<(String, String), Vec<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in files {
        let module = module_of(&src, &f);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // A file's unit tests (last, by the crate's convention) may use what they check against.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        for to in names(code) {
            if to != module {
                let rel = f.strip_prefix(root()).unwrap().display().to_string();
                edges.entry((module.clone(), to)).or_default().push(rel);
            }
        }
    }
    edges
}

#[test]
fn every_module_of_the_crate_has_a_layer_and_imports_only_its_own_layer_or_those_below() {
    let edges = edges();
    assert!(edges.len() > 40, "the scan found the imports: {edges:?}");
    let mut problems = Vec::new();
    let modules: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    for m in modules {
        if layer_of(m).is_none() {
            problems.push(format!("module `{m}` has no layer in tests/it/layers.rs"));
        }
    }
    for ((from, to), files) in &edges {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
            && b > a
        {
            problems.push(format!(
                "`{from}` ({}) imports `{to}` ({}), a layer above it, in {}",
                LAYERS[a].0,
                LAYERS[b].0,
                files.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_modules_imports_form_no_circle() {
    let edges = edges();
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().insert(to);
    }
    // Depth-first search; a module met again on the current path closes a circle.
    fn visit<'a>(
        m: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut circle = path[at..].to_vec();
            circle.push(m);
            return Some(circle);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(circle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "an import circle: {} (edges: {:?})",
                circle.join(" → "),
                circle
                    .windows(2)
                    .map(|w| edges.get(&(w[0].to_string(), w[1].to_string())))
                    .collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn the_test_builders_are_not_part_of_the_library() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    assert!(
        !lib.lines()
            .any(|l| l.trim_start().starts_with("pub mod testkit")),
        "testkit is a dev-only crate (testkit/), not library API"
    );
}
