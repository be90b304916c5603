//! Helpers shared by the CLI end-to-end tests: running the built `recproof` binary and
//! finding the repository's features.

#![allow(dead_code)]

use std::process::Command;

/// Runs `recproof ARGS`, returning the exit code, stdout and stderr.
pub(crate) fn recproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(args)
        .output()
        .expect("run recproof");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of a feature file in the repository's `features/`.
pub(crate) fn features(name: &str) -> String {
    format!("{}/../../features/{name}", env!("CARGO_MANIFEST_DIR"))
}
