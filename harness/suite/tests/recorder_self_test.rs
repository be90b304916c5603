//! The recorder suite's self-test: the `@recorder` scenarios run against the embedded SRS
//! emulator standing in for a recorder under test.
//!
//! - Clean emulator: every recorder scenario passes.
//! - Every recorder fault ([`SrsFault`]): at least one scenario tagged with the fault's
//!   requirement fails through a FAIL among its own asserted verdicts citing that
//!   requirement (the fault is caught), and no scenario fails on a requirement outside
//!   the fault's own and the collateral ones [`COLLATERAL`] lists with the reason.
//!
//! The matrix is printed (`cargo test -p recproof-suite --test recorder_self_test --
//! --nocapture`).

use checks::Status;
use recproof_suite::{RunResults, ScenarioResult, ScenarioStatus, SuiteOptions, run_suite};
use roles::srs_fault::SrsFault;
use std::path::PathBuf;

fn features() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

fn run(fault: Option<SrsFault>, out: &std::path::Path) -> RunResults {
    let mut opts = SuiteOptions::new(features(), out.to_path_buf());
    opts.recorder = true;
    opts.recorder_fault = fault;
    opts.console = false;
    opts.evidence = false;
    opts.concurrency = 4;
    run_suite(&opts).expect("the recorder suite runs")
}

/// Requirements a fault may fail besides its own, and why.
const COLLATERAL: &[(SrsFault, &[&str], &str)] = &[
    (
        SrsFault::SilentOverCapacity,
        &["SRS-13"],
        "a session left without a final response is also an answer-time failure",
    ),
    (
        SrsFault::StopsSilently,
        &["SRS-12"],
        "a recording that stops early also lacks the party's frames SRS-12 counts",
    ),
    (
        SrsFault::SlowAnswer,
        &["SRS-14"],
        "answering late is also answering late under load",
    ),
    (
        SrsFault::SilentOnBadMetadata,
        &["SRS-13"],
        "a session left without a final response is also an answer-time failure",
    ),
    (
        SrsFault::RejectsBroadWorks,
        &["SRS-08", "RP-CALL"],
        "a scenario in the BroadWorks dialect has no session taken at all (its precondition), and the valid sessions after each bad one are refused too",
    ),
];

fn bound(s: &ScenarioResult, requirement: &str) -> bool {
    s.tags
        .iter()
        .any(|t| t.trim_start_matches('@') == requirement)
}

#[test]
fn the_clean_recorder_passes_and_every_recorder_fault_is_caught() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clean = run(None, &dir.path().join("clean"));
    assert!(
        clean.scenarios.len() >= 9,
        "the recorder scenarios ran: {}",
        clean.scenarios.len()
    );
    let failed: Vec<String> = clean
        .scenarios
        .iter()
        .filter(|s| s.status != ScenarioStatus::Passed)
        .map(|s| format!("{} / {}: {:?}", s.feature, s.scenario, s.failure))
        .collect();
    assert!(
        failed.is_empty(),
        "the clean emulator passes every recorder scenario:\n{}",
        failed.join("\n")
    );
    assert!(
        clean
            .scenarios
            .iter()
            .all(|s| !s.tags.iter().any(|t| t.contains("POL-"))),
        "a recorder run runs no platform scenario"
    );
    println!(
        "{:<28} {:<7} {:>6} {:>6}",
        "recorder fault", "breaks", "failed", "caught"
    );
    let mut problems = Vec::new();
    for fault in SrsFault::ALL {
        let r = run(Some(fault), &dir.path().join(fault.name()));
        let req = fault.requirement();
        let allowed: Vec<&str> = std::iter::once(req)
            .chain(
                COLLATERAL
                    .iter()
                    .filter(|(f, _, _)| *f == fault)
                    .flat_map(|(_, reqs, _)| reqs.iter().copied()),
            )
            .collect();
        let caught = r.scenarios.iter().any(|s| {
            bound(s, req)
                && s.status == ScenarioStatus::Failed
                && s.verdicts.iter().any(|v| {
                    v.status == Status::Fail
                        && v.requirement == req
                        && s.asserted_checks.contains(&v.check)
                })
        });
        if !caught {
            problems.push(format!(
                "{} is not caught by a scenario tagged {req}",
                fault.name()
            ));
        }
        for s in &r.scenarios {
            for v in s.verdicts.iter().filter(|v| v.status == Status::Fail) {
                if !allowed.contains(&v.requirement.as_str()) {
                    problems.push(format!(
                        "{}: {} / {} fails {} outside {allowed:?}: {}",
                        fault.name(),
                        s.feature,
                        s.scenario,
                        v.requirement,
                        v.summary
                    ));
                }
            }
        }
        let n_failed = r
            .scenarios
            .iter()
            .filter(|s| s.status == ScenarioStatus::Failed)
            .count();
        println!(
            "{:<28} {:<7} {:>6} {:>6}",
            fault.name(),
            req,
            n_failed,
            if caught { "yes" } else { "NO" }
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
