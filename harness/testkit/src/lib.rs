//! Test helpers shared by the crates' integration tests.
//!
//! The interop and oracle tests need programs from Debian (SIPp, tshark, xmllint, sox,
//! chromium; `scripts/setup-debian.sh` installs them). Locally a missing tool skips the
//! test (or the part of it) and says why. Under `RECPROOF_REQUIRE_TOOLS=1` (what `.ci/run`
//! sets) a missing tool fails the test instead, so CI can never be green with the
//! interop tests silently not run.
//!
//! This crate owns that rule only; it must not hold test logic.

use std::process::{Command, Stdio};

/// The environment variable that turns a missing tool into a failure.
pub const REQUIRE_TOOLS: &str = "RECPROOF_REQUIRE_TOOLS";

/// True when `RECPROOF_REQUIRE_TOOLS` is set to something other than `0` or empty.
pub fn tools_required() -> bool {
    std::env::var(REQUIRE_TOOLS).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether `program` runs (`program probe_arg` starts at all). When it does not: panics
/// under [`REQUIRE_TOOLS`], else prints `skipped: ...` and returns false.
pub fn tool(program: &str, probe_arg: &str) -> bool {
    let found = Command::new(program)
        .arg(probe_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            !tools_required(),
            "{program} is not installed but {REQUIRE_TOOLS} is set: run scripts/setup-debian.sh (CI must run the interop tests, not skip them)"
        );
        eprintln!("skipped: {program} not installed (run scripts/setup-debian.sh)");
    }
    found
}
