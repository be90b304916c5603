//! The suite's self-test: the whole feature set against the clean embedded platform (every
//! scenario passes) and against every fault profile (each fault is caught: a scenario
//! bound to the fault's requirement fails with a FAIL verdict for that requirement).
//! A fault that no scenario catches fails the build. The faults x scenarios matrix is
//! printed (`cargo test -p recproof-suite --test self_test -- --nocapture`).
//!
//! One test function runs every suite in turn: the step context is process-wide, and the
//! runs use both cores through the scenario concurrency instead.

use platform::Fault;
use recproof_suite::{RunResults, SuiteOptions, run_suite};
use std::path::PathBuf;

fn features() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

fn run(fault: Option<Fault>, out: &std::path::Path, seed: u64) -> RunResults {
    let mut opts = SuiteOptions::new(features(), out.to_path_buf());
    opts.fault = fault;
    opts.seed = seed;
    opts.console = false;
    // 16 suites: verdicts only; the evidence writer is exercised by the CLI tests.
    opts.evidence = false;
    opts.concurrency = 4;
    run_suite(&opts).expect("the suite runs")
}

fn failures(r: &RunResults) -> Vec<String> {
    r.scenarios
        .iter()
        .filter(|s| s.status != "passed")
        .map(|s| {
            format!(
                "{} / {} [{}]: {}",
                s.feature,
                s.scenario,
                s.status,
                s.failure.as_deref().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn clean_platform_passes_and_every_fault_is_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = run(None, &dir.path().join("clean"), 1);
    let mut total_sim = clean.simulated_call_seconds;
    let mut total_wall = clean.wall_seconds;
    assert!(
        clean.all_passed(),
        "the clean platform must pass every scenario:\n{}",
        failures(&clean).join("\n")
    );
    let clean_fails: Vec<String> = clean
        .scenarios
        .iter()
        .flat_map(|s| &s.verdicts)
        .filter(|v| v.status == checks::Status::Fail)
        .map(|v| {
            format!(
                "{} {}: {}",
                v.requirement,
                v.call.as_deref().unwrap_or(""),
                v.summary
            )
        })
        .collect();
    assert!(
        clean_fails.is_empty(),
        "the clean platform must have no FAIL verdict at all:\n{}",
        clean_fails.join("\n")
    );
    let scenarios: Vec<String> = clean
        .scenarios
        .iter()
        .map(|s| format!("{} / {}", s.feature, s.scenario))
        .collect();

    let mut uncaught = Vec::new();
    let mut rows = Vec::new();
    for &fault in Fault::ALL {
        let r = run(Some(fault), &dir.path().join(fault.name()), 1);
        total_sim += r.simulated_call_seconds;
        total_wall += r.wall_seconds;
        let req = fault.requirement();
        let tag = format!("@{req}");
        let failed: Vec<&recproof_suite::ScenarioResult> = r
            .scenarios
            .iter()
            .filter(|s| s.status == "failed")
            .collect();
        let bound_failed = failed
            .iter()
            .filter(|s| s.tags.iter().any(|t| t == &tag || t == req))
            .count();
        let caught = bound_failed > 0 && r.failed_requirements().contains(req);
        if !caught {
            uncaught.push(format!("{} ({req})", fault.name()));
        }
        let collateral: Vec<String> = failed
            .iter()
            .filter(|s| !s.tags.iter().any(|t| t == &tag || t == req))
            .map(|s| s.scenario.clone())
            .collect();
        rows.push((
            fault,
            bound_failed,
            failed.len(),
            collateral,
            r.failed_requirements(),
        ));
    }

    println!(
        "\nself-test matrix: {} scenarios x {} faults",
        scenarios.len(),
        Fault::ALL.len()
    );
    println!(
        "{:<34} {:<8} {:>7} {:>7}  requirements with FAIL verdicts",
        "fault", "breaks", "bound", "failed"
    );
    for (fault, bound, failed, collateral, reqs) in &rows {
        println!(
            "{:<34} {:<8} {:>7} {:>7}  {}",
            fault.name(),
            fault.requirement(),
            bound,
            failed,
            reqs.iter().cloned().collect::<Vec<_>>().join(" ")
        );
        if !collateral.is_empty() {
            println!("{:<34} also failed: {}", "", collateral.join("; "));
        }
    }
    println!(
        "\n{total_sim:.0} simulated call-seconds in {total_wall:.1} s wall ({:.0}x real time)",
        total_sim / total_wall.max(1e-9)
    );
    assert!(
        uncaught.is_empty(),
        "faults no scenario catches: {uncaught:?}"
    );
}
