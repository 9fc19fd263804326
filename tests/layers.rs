//! The architecture as the code has it (docs/architecture.md): every module imports only its
//! own layer and the layers below, no two modules import each other, plugins never import the
//! proxy or the management plane, and every policy file is in the registry. Reads the sources;
//! a change that breaks a rule fails here with the file and the import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each top-level module of `src/` (lower may not import higher).
const LAYERS: &[(&str, u8)] = &[
    ("config", 0),
    ("net", 0),
    ("metrics", 0),
    ("consumers", 0),
    ("pipeline", 1),
    ("plugins", 2),
    ("cache", 2),
    ("upstream", 2),
    ("limits", 2),
    ("openapi", 2),
    ("tls", 2),
    ("store", 2),
    ("runtime", 3),
    ("analytics", 3),
    ("proxy", 3),
    ("access_log", 3),
    ("echo", 3),
    ("web", 4),
    ("admin", 4),
    ("portal", 4),
    ("process", 5),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for main.rs and lib.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "main" && name != "lib").then_some(name)
}

/// `crate::<module>` references outside `#[cfg(test)]` code, with their line numbers.
fn imports(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.push((n + 1, name));
        }
    }
    out
}

/// module → (imported module → first place it is imported).
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let Some(m) = module_of(&src, &f) else { continue };
        let text = std::fs::read_to_string(&f).unwrap();
        let edges = g.entry(m.clone()).or_default();
        for (line, to) in imports(&text) {
            if to != m {
                edges.entry(to).or_insert_with(|| format!("{}:{line}", f.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    g
}

fn layer(m: &str) -> u8 {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l).unwrap_or_else(|| panic!("module {m} has no layer"))
}

#[test]
fn every_module_imports_only_its_layer_and_below() {
    let mut wrong = Vec::new();
    for (from, edges) in graph() {
        for (to, at) in edges {
            if layer(&to) > layer(&from) {
                wrong.push(format!("{from} (layer {}) imports {to} (layer {}) at src/{at}", layer(&from), layer(&to)));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_depend_on_each_other() {
    let g = graph();
    // Any cycle passes through an edge whose target reaches its source again.
    let reaches = |start: &str, goal: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(m) = todo.pop() {
            if m == goal {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.extend(g.get(&m).into_iter().flat_map(|e| e.keys().cloned()));
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (from, edges) in &g {
        for (to, at) in edges {
            if reaches(to, from) {
                cycles.push(format!("{from} -> {to} (src/{at}) and back"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn plugins_never_import_the_proxy_runtime_store_or_management_plane() {
    let g = graph();
    let forbidden = ["proxy", "runtime", "store", "admin", "portal", "web", "process"];
    let bad: Vec<String> = g["plugins"]
        .iter()
        .filter(|(to, _)| forbidden.contains(&to.as_str()))
        .map(|(to, at)| format!("{to} at src/{at}"))
        .collect();
    assert!(bad.is_empty(), "plugins import: {bad:?}");
}

#[test]
fn every_policy_file_is_in_the_registry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/plugins");
    let registry = std::fs::read_to_string(dir.join("registry.rs")).unwrap();
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut missing = Vec::new();
    let mut found = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if !text.contains("pub static POLICY:") {
            continue;
        }
        found += 1;
        let rel = f.strip_prefix(&dir).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if !registry.contains(&format!("&{module}::POLICY")) {
            missing.push(module.to_string());
        }
    }
    assert!(found >= 10, "policy files found: {found}");
    assert!(missing.is_empty(), "policies not in POLICIES: {missing:?}");
}
