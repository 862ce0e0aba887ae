//! Rules for the repository's own files.

use std::path::Path;
use std::process::Command;

/// No tracked file names a URL: scripts reach the package registries only through their
/// ordinary clients and the machine's configured sources (apt's source list, cargo's
/// registry), never by an address written into the project. Cargo.lock files are
/// exempt: their `source = "registry+..."` lines are cargo's own package ids.
#[test]
fn no_tracked_file_contains_a_url() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("running git ls-files");
    assert!(
        out.status.success(),
        "git ls-files failed: this test needs the git checkout"
    );
    let files: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("file names are UTF-8")
        .split('\0')
        .filter(|f| !f.is_empty() && !f.ends_with("Cargo.lock"))
        .collect();
    assert!(files.len() > 50, "only {} tracked files?", files.len());
    let scheme = ["http", "://"];
    let mut found = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read(root.join(f)) else {
            continue; // deleted in the work tree
        };
        let text = String::from_utf8_lossy(&text);
        for (n, line) in text.lines().enumerate() {
            let hit = line.match_indices(scheme[0]).any(|(i, _)| {
                let rest = &line[i + scheme[0].len()..];
                rest.starts_with(scheme[1]) || rest.starts_with(&format!("s{}", scheme[1]))
            });
            if hit {
                found.push(format!("{f}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "URLs in tracked files:\n{}",
        found.join("\n")
    );
}

/// Dependencies point one way: from the CLI down to the library crates, never back up.
/// No manifest but the root's may name the root crate (the CLI) as a dependency of any
/// kind, dev-dependencies included.
#[test]
fn no_crate_depends_on_the_cli_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("the checkout");
    let out = Command::new("git")
        .args(["ls-files", "-z", "--", "*Cargo.toml"])
        .current_dir(&root)
        .output()
        .expect("running git ls-files");
    let manifests: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("file names are UTF-8")
        .split('\0')
        .filter(|f| !f.is_empty() && *f != "Cargo.toml")
        .collect();
    assert!(manifests.len() > 8, "only {manifests:?}?");
    let mut upward = Vec::new();
    for m in &manifests {
        let dir = root
            .join(m)
            .parent()
            .expect("a file's folder")
            .to_path_buf();
        let text = std::fs::read_to_string(root.join(m)).expect("reading a manifest");
        for (n, line) in text.lines().enumerate() {
            let Some((_, rest)) = line.split_once("path = \"") else {
                continue;
            };
            let Some((path, _)) = rest.split_once('"') else {
                continue;
            };
            if dir.join(path).canonicalize().ok().as_deref() == Some(root.as_path()) {
                upward.push(format!("{m}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "crates depending on the CLI crate:\n{}",
        upward.join("\n")
    );
}
