//! The recorder certification page (`certification.html`): what a recording vendor sends
//! to a platform owner after `recproof check --recorder` or `--sut RECORDER.yaml`.
//!
//! This module owns that page only: one row per recording-server requirement with the
//! outcome over the run and the checks' own sentences, the sessions the harness sent and
//! how the recorder answered each (from `results.json`), the tool version, date and
//! profile (with its SHA-256), and players for the recordings kept as evidence. It adds
//! no judgement: an outcome is read off the verdicts (FAILED on any FAIL; PASSED when
//! there is none and every scenario claiming the requirement has a PASS for it; else NOT
//! JUDGED with the verdicts' reasons).

use crate::compliance;
use crate::pages::{Audio, evidence_files};
use crate::results::{RunResults, ScenarioStatus, Status};
use crate::util::url_segment;
use askama::Template;
use std::collections::BTreeMap;
use std::path::Path;

/// The recording-server IDs the page accounts for, judged or not.
const SRS_IDS: [&str; 14] = [
    "SRS-01", "SRS-02", "SRS-03", "SRS-04", "SRS-05", "SRS-06", "SRS-07", "SRS-08", "SRS-09",
    "SRS-10", "SRS-11", "SRS-12", "SRS-13", "SRS-14",
];

struct Row {
    id: String,
    title: &'static str,
    outcome: &'static str,
    class: &'static str,
    summaries: Vec<String>,
}

struct SessionRow {
    call: String,
    href: Option<String>,
    scenario: String,
    case: String,
    dialect: String,
    style: String,
    code: String,
    answer: String,
}

struct RecordingGroup {
    call: String,
    scenario: String,
    audio: Vec<Audio>,
}

#[derive(Template)]
#[template(path = "certification.html")]
struct CertificationPage {
    tool_version: String,
    generated: String,
    sut: String,
    clock: String,
    started_at: String,
    profile: Option<(String, String)>,
    passed: usize,
    failed: usize,
    skipped: usize,
    verdict_line: String,
    verdict_class: &'static str,
    compliance_href: String,
    requirements: Vec<Row>,
    not_exercised: Vec<(&'static str, &'static str)>,
    sessions: Vec<SessionRow>,
    recordings: Vec<RecordingGroup>,
}

/// A verdict sentence cut to a readable length for the table (the call pages have it
/// whole).
fn shorten(s: &str) -> String {
    const MAX: usize = 400;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let cut: String = s.chars().take(MAX).collect();
    format!("{cut}… (whole on the call page)")
}

/// Whether the run judged a recorder (its scenarios sent recording sessions).
pub(crate) fn is_recorder_run(results: &RunResults) -> bool {
    results.scenarios.iter().any(|s| !s.rs_sessions.is_empty())
}

/// The page's HTML. `slugs` maps a call label to its page's file stem.
pub(crate) fn render(
    run_dir: &Path,
    results: &RunResults,
    slugs: &BTreeMap<String, String>,
    tool_version: &str,
    generated: &str,
    compliance_href: &str,
) -> Result<String, askama::Error> {
    // Verdicts per requirement, over every scenario that ran.
    let mut by_req: BTreeMap<String, Vec<(&str, Status, &str)>> = BTreeMap::new();
    for s in results
        .scenarios
        .iter()
        .filter(|s| s.status != ScenarioStatus::Skipped)
    {
        for v in &s.verdicts {
            by_req.entry(v.requirement.clone()).or_default().push((
                s.scenario.as_str(),
                v.status,
                v.summary.as_str(),
            ));
        }
    }
    let mut requirements = Vec::new();
    let mut any_failed = 0usize;
    let mut passed_ids = 0usize;
    for (id, vs) in &by_req {
        // The scenarios that claim it, and whether each has a PASS for it.
        let claimants: Vec<bool> = results
            .scenarios
            .iter()
            .filter(|s| {
                s.status != ScenarioStatus::Skipped
                    && s.tags
                        .iter()
                        .chain(&s.asserted)
                        .any(|t| t.trim_start_matches('@') == id)
            })
            .map(|s| {
                s.verdicts
                    .iter()
                    .any(|v| v.requirement == *id && v.status == Status::Pass)
            })
            .collect();
        let pick = |keep: &dyn Fn(Status) -> bool| -> Vec<&str> {
            vs.iter()
                .filter(|(_, st, _)| keep(*st))
                .map(|(_, _, s)| *s)
                .collect()
        };
        let fails = pick(&|st| st == Status::Fail);
        let passes = pick(&|st| st == Status::Pass);
        let (outcome, class, mut summaries): (&'static str, &'static str, Vec<&str>) =
            if !fails.is_empty() {
                any_failed += 1;
                ("FAILED", "fail", fails)
            } else if !passes.is_empty() && claimants.iter().all(|has_pass| *has_pass) {
                passed_ids += 1;
                ("PASSED", "pass", passes)
            } else {
                ("NOT JUDGED", "na", pick(&|st| st != Status::Pass))
            };
        summaries.sort_unstable();
        summaries.dedup();
        summaries.truncate(2);
        requirements.push(Row {
            id: id.clone(),
            title: if id == "RP-CALL" {
                "The recorder took a valid recording session (the precondition of every claim)"
            } else {
                compliance::title(id)
            },
            outcome,
            class,
            summaries: summaries.into_iter().map(shorten).collect(),
        });
    }
    let not_exercised: Vec<(&'static str, &'static str)> = SRS_IDS
        .iter()
        .filter(|id| !by_req.contains_key(**id))
        .map(|id| (*id, compliance::title(id)))
        .collect();
    let mut sessions = Vec::new();
    let mut recordings = Vec::new();
    for s in &results.scenarios {
        let call = s.call.clone().unwrap_or_default();
        let slug = slugs.get(&call);
        for r in &s.rs_sessions {
            sessions.push(SessionRow {
                call: call.clone(),
                href: slug.map(|g| format!("calls/{}.html", url_segment(g))),
                scenario: s.scenario.clone(),
                case: r.case.clone(),
                dialect: r.dialect.clone(),
                style: r.style.clone(),
                code: r
                    .final_code
                    .map_or_else(|| "no final response".to_owned(), |c| c.to_string()),
                answer: r
                    .answer_ms
                    .map_or_else(|| "—".to_owned(), |ms| format!("{ms:.0} ms")),
            });
        }
        if let Some(g) = slug {
            let (audio, _) = evidence_files(
                &run_dir.join("calls").join(g),
                &format!("calls/{}/", url_segment(g)),
            );
            let audio: Vec<Audio> = audio
                .into_iter()
                .filter(|a| a.name.starts_with("srs.") || a.name.starts_with("recorder-"))
                .collect();
            if !audio.is_empty() {
                recordings.push(RecordingGroup {
                    call: call.clone(),
                    scenario: s.scenario.clone(),
                    audio,
                });
            }
        }
    }
    let (verdict_line, verdict_class) = if any_failed > 0 {
        (
            format!(
                "Not certified: {any_failed} requirement(s) failed, {passed_ids} passed, in {} scenario(s).",
                results.scenarios.len()
            ),
            "fail",
        )
    } else if results.failed > 0 || passed_ids == 0 {
        (
            format!(
                "Not certified: {} scenario(s) failed or judged nothing; {passed_ids} requirement(s) passed.",
                results.failed
            ),
            "fail",
        )
    } else {
        (
            format!(
                "Every requirement this run judged passed ({passed_ids}); see the list of those not exercised."
            ),
            "pass",
        )
    };
    CertificationPage {
        tool_version: tool_version.to_owned(),
        generated: generated.to_owned(),
        sut: results.sut.clone(),
        clock: results.clock.clone(),
        started_at: results.started_at.clone(),
        profile: results
            .profile
            .as_ref()
            .map(|p| (p.path.clone(), p.sha256.clone())),
        passed: results.passed,
        failed: results.failed,
        skipped: results.skipped,
        verdict_line,
        verdict_class,
        compliance_href: compliance_href.to_owned(),
        requirements,
        not_exercised,
        sessions,
        recordings,
    }
    .render()
}
