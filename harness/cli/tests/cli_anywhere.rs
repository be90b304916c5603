//! The binary stands on its own: copied out of the build tree (as `cargo install` puts it)
//! and run from an empty directory, `recproof check` runs its built-in features (the
//! platform suite and the recorder suite), `recproof features list` lists them, and
//! `recproof features export` writes files that `recproof check DIR` runs again.

mod common;

use std::path::Path;

/// The built binary copied into `bin/` of a fresh directory: nothing of the checkout
/// beside it.
fn installed(root: &Path) -> std::path::PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let to = bin.join("recproof");
    std::fs::copy(env!("CARGO_BIN_EXE_recproof"), &to).expect("copy the binary");
    to
}

fn run(bin: &Path, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    common::run_in(bin, cwd, args)
}

#[test]
fn an_installed_binary_runs_its_own_suite_from_an_empty_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let bin = installed(root.path());
    let cwd = root.path().join("empty");
    std::fs::create_dir_all(&cwd).expect("cwd");

    let (code, out, err) = run(&bin, &cwd, &["features", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("announcements.feature"), "{out}");
    assert!(
        out.contains("recorder/"),
        "the recorder features too: {out}"
    );

    // The platform suite (one requirement's scenarios) and the recorder suite.
    let (code, out, err) = run(&bin, &cwd, &["check", "--tags", "@POL-04", "--out", "run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("built-in"), "{err}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cwd.join("run/results.json")).expect("results.json"),
    )
    .expect("json");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert!(!scenarios.is_empty());
    assert!(
        scenarios.iter().all(|s| s["status"] == "passed"),
        "{results}"
    );
    assert!(cwd.join("run/features/announcements.feature").is_file());
    assert!(cwd.join("run/index.html").is_file());
    let (code, out, err) = run(
        &bin,
        &cwd,
        &[
            "check",
            "--recorder",
            "--tags",
            "@SRS-04",
            "--out",
            "run-recorder",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");

    // Exported, edited, run from the files.
    let (code, _, err) = run(&bin, &cwd, &["features", "export", "mine"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&bin, &cwd, &["features", "export", "mine"]);
    assert_eq!(code, 2, "never overwrites unasked: {err}");
    assert!(err.contains("--force"), "{err}");
    let edited = cwd.join("mine/announcements.feature");
    let text = std::fs::read_to_string(&edited).expect("exported");
    std::fs::write(&edited, text.replacen("Feature:", "@edited\nFeature:", 1)).expect("edit");
    let (code, out, err) = run(
        &bin,
        &cwd,
        &[
            "check",
            "mine",
            "--tags",
            "@edited and @POL-04",
            "--out",
            "run-mine",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("passed"), "{out}");
}
