//! `junit.xml`: two test suites, `scenarios` (one test case per scenario, from
//! `results.json`) and `requirements` (one test case per requirement ID), so a CI gate can
//! count either.
//!
//! Scenarios come from `results.json` rather than cucumber's own JUnit writer (kept as
//! `cucumber-junit.xml`) because cucumber has no user-level skip: a scenario an external
//! SUT profile cannot run is `skipped` here, `passed` there. A requirement fails when any
//! of its verdicts, on any call, failed; it is skipped when every verdict said the
//! requirement did not apply; otherwise it passes. This module owns those rules and the
//! serialisation (quick-junit, which also strips characters XML cannot carry).

use crate::results::{RunResults, ScenarioStatus, Status, StatusWords as _, Verdict};
use crate::util::requirement_key;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Verdicts by requirement, in checklist order, each with its scenario's call.
pub(crate) fn by_requirement(
    results: &RunResults,
) -> BTreeMap<(u8, String, u64, String), Vec<&Verdict>> {
    let mut map: BTreeMap<_, Vec<&Verdict>> = BTreeMap::new();
    for s in &results.scenarios {
        for v in &s.verdicts {
            map.entry(requirement_key(&v.requirement))
                .or_default()
                .push(v);
        }
    }
    map
}

/// One test case per scenario: failed with cucumber's failure text, skipped with its
/// reason, passed otherwise.
fn scenarios_suite(results: &RunResults) -> TestSuite {
    let mut suite = TestSuite::new("scenarios");
    for s in &results.scenarios {
        let status = match s.status {
            ScenarioStatus::Passed => TestCaseStatus::success(),
            ScenarioStatus::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let failed: Vec<&str> = s
                    .verdicts
                    .iter()
                    .filter(|v| v.status == Status::Fail)
                    .map(|v| v.requirement.as_str())
                    .collect();
                st.set_message(if failed.is_empty() {
                    "scenario failed".to_owned()
                } else {
                    format!("failed requirement(s): {}", failed.join(", "))
                });
                st.set_type("scenario failed");
                if let Some(f) = &s.failure {
                    st.set_description(f.clone());
                }
                st
            }
            ScenarioStatus::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(
                    s.skip_reason
                        .clone()
                        .or_else(|| s.failure.clone())
                        .unwrap_or_else(|| "skipped".to_owned()),
                );
                st
            }
        };
        let mut case = TestCase::new(s.scenario.clone(), status);
        case.set_classname(s.feature.clone());
        case.set_assertions(s.verdicts.len());
        let mut out = String::new();
        if let Some(c) = &s.call {
            let _ = writeln!(out, "call {c} (page calls/{c}.html)");
        }
        if !s.tags.is_empty() {
            let _ = writeln!(out, "tags: {}", s.tags.join(" "));
        }
        for v in &s.verdicts {
            let _ = writeln!(
                out,
                "{} {} {}: {}",
                v.status.word(),
                v.requirement,
                v.check,
                v.summary
            );
        }
        case.set_system_out(out);
        suite.add_test_case(case);
    }
    suite
}

/// The document, and how many requirements failed.
pub(crate) fn run_junit(
    results: &RunResults,
) -> Result<(String, usize), quick_junit::SerializeError> {
    let mut suite = TestSuite::new("requirements");
    let mut failed = 0;
    for ((_, _, _, id), verdicts) in by_requirement(results) {
        let count = |s: Status| verdicts.iter().filter(|v| v.status == s).count();
        let fails: Vec<&&Verdict> = verdicts
            .iter()
            .filter(|v| v.status == Status::Fail)
            .collect();
        let mut out = format!(
            "{} verdict(s): {} pass, {} fail, {} warn, {} info, {} not applicable\n",
            verdicts.len(),
            count(Status::Pass),
            fails.len(),
            count(Status::Warn),
            count(Status::Info),
            count(Status::NotApplicable)
        );
        let status = if !fails.is_empty() {
            failed += 1;
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!(
                "{} of {} verdict(s) failed",
                fails.len(),
                verdicts.len()
            ));
            st.set_type("requirement failed");
            let mut desc = String::new();
            for v in &fails {
                let _ = writeln!(
                    desc,
                    "{} {}: {}",
                    v.call.as_deref().unwrap_or("-"),
                    v.check,
                    v.summary
                );
            }
            st.set_description(desc);
            st
        } else if verdicts.iter().all(|v| v.status == Status::NotApplicable) {
            let mut st = TestCaseStatus::skipped();
            st.set_message("not applicable on any call of this run");
            st
        } else {
            TestCaseStatus::success()
        };
        for v in verdicts.iter().filter(|v| v.status == Status::Warn) {
            let _ = writeln!(
                out,
                "WARN {} {}: {}",
                v.call.as_deref().unwrap_or("-"),
                v.check,
                v.summary
            );
        }
        let mut case = TestCase::new(id.clone(), status);
        case.set_classname(format!(
            "recproof.requirements.{}",
            id.split('-').next().unwrap_or("")
        ));
        case.set_assertions(verdicts.len());
        case.set_system_out(out);
        suite.add_test_case(case);
    }
    let mut report = Report::new("recproof");
    if results.wall_seconds.is_finite() && results.wall_seconds >= 0.0 {
        report.set_time(std::time::Duration::from_secs_f64(
            results.wall_seconds.min(1e9),
        ));
    }
    report.add_test_suite(scenarios_suite(results));
    report.add_test_suite(suite);
    Ok((report.to_string()?, failed))
}
