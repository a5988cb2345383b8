//! The repository stands alone: no file refers to a path outside it (a bare clone has
//! nothing beside it). Relative paths in a crate are read from the crate's directory
//! (`CARGO_MANIFEST_DIR`), elsewhere from the file's own directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Component, Path, PathBuf};

/// Directories that are built or written at run time, never committed.
const SKIP: &[&str] = &[".git", "target", "bench-results", "ponte-data"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !SKIP.contains(&name) {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// How many directories a run of `../` climbs, for every run in `line` (an ellipsis
/// such as `.../x` is not one).
fn climbs(line: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("../") {
        let after_dot = rest[..i].ends_with('.');
        let mut n = 0;
        let mut s = &rest[i..];
        while let Some(t) = s.strip_prefix("../") {
            n += 1;
            s = t;
        }
        if !after_dot {
            out.push(n);
        }
        rest = s;
    }
    out
}

/// Depth below the repository root of the directory relative paths in `rel` start from.
fn base_depth(rel: &Path) -> usize {
    let parts: Vec<_> = rel.components().collect();
    match parts.first() {
        Some(Component::Normal(c)) if *c == "crates" && parts.len() > 2 => 2,
        _ => parts.len().saturating_sub(1),
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let root = root().canonicalize().unwrap();
    let mut all = Vec::new();
    files(&root, &mut all);
    // Spelled in pieces so that this file does not name what it looks for.
    let outside = ["shared/", "fixtures"].concat();
    let beside = ["..", "/shared"].concat();
    let mut bad = Vec::new();
    for path in &all {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // binary
        };
        let rel = path.strip_prefix(&root).unwrap();
        if rel.ends_with("tests/standalone.rs") {
            continue;
        }
        let depth = base_depth(rel);
        for (n, line) in text.lines().enumerate() {
            let escapes = climbs(line).into_iter().any(|c| c > depth);
            if escapes || line.contains(&outside) || line.contains(&beside) {
                bad.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "files refer to paths outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_fixtures_and_their_provenance_are_in_the_repository() {
    let f = root().join("fixtures");
    assert!(f.join("SOURCES.md").is_file());
    for platform in ["nuvemshop", "vtex", "nfe"] {
        assert!(f.join(platform).is_dir(), "fixtures/{platform} missing");
    }
}
