//! The suite's self-test: every check shown able to fail, through the scenario that
//! asserts it, and every scenario shown able to pass.
//!
//! - The clean embedded platform (two seeds): every scenario passes, with no FAIL verdict
//!   anywhere (an asserted NOT APPLICABLE fails its step, so a pass means none).
//! - Every legal variant (other labels, offset times, another SRC port, other pause
//!   styles, no start/stop announcement): every scenario that runs passes; the skipped
//!   ones name the missing capability.
//! - Every fault profile, against the table [`EXPECTED`]:
//!   - each scenario *bound* to the fault (tagged with the requirement it breaks, unless
//!     the table lists it as unaffected, with the reason) fails through a FAIL among its
//!     own asserted verdicts (a step's check, or a precondition), and at least one bound
//!     scenario's asserted FAILs cite the fault's requirement: the fault is caught;
//!   - every other scenario passes, or fails as the table's collateral rules say (which
//!     calls, on which requirements, and why);
//!   - whole failures (no recording session, silence, never answering): every scenario
//!     fails except those asserting the absence of recording ([`ABSENCE`]), which pass;
//!     against `never-answers` every scenario fails.
//!
//! The matrix is printed (`cargo test -p recproof-suite --test self_test -- --nocapture`).
//! One test function runs every suite in turn: the step context is process-wide, and the
//! runs use both cores through the scenario concurrency instead.

use checks::{RecordMode, Status};
use platform::{Fault, Variant};
use recproof_suite::{RunResults, ScenarioResult, ScenarioStatus, SuiteOptions, run_suite};
use std::path::PathBuf;

fn features() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

fn run(
    fault: Option<Fault>,
    variant: Option<Variant>,
    out: &std::path::Path,
    seed: u64,
) -> RunResults {
    let mut opts = SuiteOptions::new(features(), out.to_path_buf());
    opts.fault = fault;
    opts.variant = variant;
    opts.seed = seed;
    opts.console = false;
    // Many suites: verdicts only; the evidence writer is exercised by the CLI tests.
    opts.evidence = false;
    opts.concurrency = 4;
    run_suite(&opts).expect("the suite runs")
}

/// The scenarios that assert the absence of recording: they pass against a platform
/// that never records (and only against never-answers do they fail).
const ABSENCE: &[&str] = &[
    "A person recorded \"Never\" is not recorded",
    "Provider \"None\" at the location means nobody there is recorded",
    "Provider \"None\" for the organisation means nobody is recorded",
    "The voicemail deposit is not recorded when voicemail recording is disabled",
];

/// Scenarios a whole failure legitimately spares, besides [`ABSENCE`]: (fault, which
/// calls, why).
const SPARED: &[(Fault, Calls, &str)] = &[(
    Fault::RecordsSilence,
    recorder_fails,
    "the recorder refuses the session, so no recorded media is due; the failure behaviour is judged as usual",
)];

/// Which calls a collateral rule covers.
type Calls = fn(&ScenarioResult) -> bool;

/// Collateral: scenarios a fault makes fail although they are not bound to it.
struct Collateral {
    /// The calls it covers (they must fail).
    calls: Calls,
    /// The requirements their FAIL verdicts may cite.
    requirements: &'static [&'static str],
    /// Why.
    reason: &'static str,
}

/// What one fault must do.
struct Expected {
    fault: Fault,
    /// Bound (tagged) scenarios the fault leaves alone: they must pass.
    unaffected: &'static [(&'static str, &'static str)],
    collateral: &'static [Collateral],
}

fn expect_of(s: &ScenarioResult) -> checks::CallExpectation {
    s.expectation.clone().unwrap_or_default()
}
/// Calls the policy records (and the recorder accepts).
fn recorded(s: &ScenarioResult) -> bool {
    let e = expect_of(s);
    e.recording_expected() && e.failure.is_none()
}
/// Calls on which the SUT must at least offer a recording session.
fn rs_attempted(s: &ScenarioResult) -> bool {
    expect_of(s).recording_expected()
}
/// Recorded calls with the start/stop announcement on.
fn announced(s: &ScenarioResult) -> bool {
    let e = expect_of(s);
    recorded(s) && e.announcements.enabled && e.voicemail.is_none()
}
/// Calls whose recorded user pauses and resumes.
fn pausing(s: &ScenarioResult) -> bool {
    recorded(s) && expect_of(s).mode == RecordMode::AlwaysWithPauseResume
}
/// Recorded calls with a pause/resume notice.
fn noticed(s: &ScenarioResult) -> bool {
    pausing(s) && expect_of(s).pause_notice != checks::PauseNotice::None
}
/// On Demand calls.
fn on_demand(s: &ScenarioResult) -> bool {
    recorded(s) && expect_of(s).mode == RecordMode::OnDemand
}
/// Calls with feature codes.
fn coded(s: &ScenarioResult) -> bool {
    pausing(s) || on_demand(s)
}
/// Calls of users recorded Always (including those whose recorder fails).
fn always_mode(s: &ScenarioResult) -> bool {
    rs_attempted(s) && expect_of(s).mode == RecordMode::Always
}
/// Recorded calls from answer: not On Demand, not voicemail deposits (recorded from the
/// mailbox's answer, before the greeting).
fn recorded_from_answer(s: &ScenarioResult) -> bool {
    let e = expect_of(s);
    recorded(s) && e.mode != RecordMode::OnDemand && e.voicemail.is_none()
}
/// Recorded calls whose recording runs until the call ends (not stopped by a code).
fn recorded_until_the_end(s: &ScenarioResult) -> bool {
    recorded(s)
        && !s
            .timeline
            .as_ref()
            .is_some_and(|t| t.events.iter().any(|e| e.kind == "stop"))
}
/// Calls where the two parties talk (not voicemail deposits).
fn two_party(s: &ScenarioResult) -> bool {
    expect_of(s).voicemail.is_none()
}
/// Calls whose recorder was made to fail.
fn recorder_fails(s: &ScenarioResult) -> bool {
    expect_of(s).failure.is_some()
}
/// The location-override-to-None scenario.
fn location_none(s: &ScenarioResult) -> bool {
    s.scenario == ABSENCE[1]
}

const EXPECTED: &[Expected] = &[
    Expected {
        fault: Fault::AnnouncementLeaksIntoRecording,
        unaffected: &[],
        collateral: &[Collateral {
            calls: announced,
            requirements: &["POL-04"],
            reason: "the start announcement leaks into every recording that has one, and POL-04 is judged on every call",
        }],
    },
    Expected {
        fault: Fault::NoAnnouncement,
        unaffected: &[(
            "No announcement when the start/stop announcement is disabled",
            "nothing is to be played there",
        )],
        collateral: &[Collateral {
            calls: announced,
            requirements: &["POL-03"],
            reason: "every recording with the announcement on misses it, and POL-03 is judged on every call",
        }],
    },
    Expected {
        fault: Fault::ReminderDrift,
        unaffected: &[(
            "No reminder tone when repeat is disabled",
            "no reminder is played to drift",
        )],
        collateral: &[],
    },
    Expected {
        fault: Fault::NoReminder,
        unaffected: &[(
            "No reminder tone when repeat is disabled",
            "no reminder is due",
        )],
        collateral: &[],
    },
    Expected {
        fault: Fault::ForkWhilePaused,
        unaffected: &[],
        collateral: &[Collateral {
            calls: pausing,
            requirements: &["SRC-17"],
            reason: "every paused call leaks party audio, and SRC-17 is judged on every call",
        }],
    },
    Expected {
        fault: Fault::NoPauseNotice,
        unaffected: &[(
            "The parties are told about pause and resume by \"None\"",
            "no notice is due",
        )],
        collateral: &[Collateral {
            calls: noticed,
            requirements: &["POL-07"],
            reason: "every pause with a notice configured misses it",
        }],
    },
    Expected {
        fault: Fault::NoAnnouncementMetadata,
        unaffected: &[],
        collateral: &[
            Collateral {
                calls: announced,
                requirements: &["POL-05"],
                reason: "every announced recording misses its metadata report, and POL-05 is judged on every call",
            },
            Collateral {
                calls: noticed,
                requirements: &["POL-05"],
                reason: "pause announcements go unreported too",
            },
        ],
    },
    Expected {
        fault: Fault::SingleStream,
        unaffected: &[],
        collateral: &[Collateral {
            calls: rs_attempted,
            requirements: &["SRC-10", "POL-09"],
            reason: "every recording session has one stream; SRC-10 (message rules and count) and POL-09 are judged on every call",
        }],
    },
    Expected {
        fault: Fault::LabelMismatch,
        unaffected: &[],
        collateral: &[Collateral {
            calls: rs_attempted,
            requirements: &["SRC-11"],
            reason: "every recording session's labels mismatch",
        }],
    },
    Expected {
        fault: Fault::NoSrcMarker,
        unaffected: &[],
        collateral: &[Collateral {
            calls: rs_attempted,
            requirements: &["SRC-03"],
            reason: "every RS INVITE lacks the marker, and the message rules are judged on every call",
        }],
    },
    Expected {
        fault: Fault::AlwaysNotRecorded,
        unaffected: &[
            (
                "A person recorded \"Never\" is not recorded",
                "not an Always user",
            ),
            (
                "\"On Demand\" records only after the user starts recording with *44",
                "not an Always user",
            ),
        ],
        collateral: &[Collateral {
            calls: always_mode,
            requirements: &["RP-CALL", "POL-01", "POL-10"],
            reason: "every Always user goes unrecorded (the recording precondition fails), voicemail deposits too",
        }],
    },
    Expected {
        fault: Fault::NeverRecorded,
        unaffected: &[
            (
                "A person recorded \"Always\" is recorded from the moment the call is answered",
                "not a Never user",
            ),
            (
                "\"On Demand\" records only after the user starts recording with *44",
                "not a Never user",
            ),
            (
                "Recording does not add latency or clip the start of the recording beyond the thresholds",
                "not a Never user",
            ),
        ],
        collateral: &[],
    },
    Expected {
        fault: Fault::LocationOverrideIgnored,
        unaffected: &[(
            "People at a location that uses the organisation default go to the organisation's recorder",
            "no override to ignore",
        )],
        collateral: &[Collateral {
            calls: location_none,
            requirements: &["POL-12"],
            reason: "ignoring the override also records users at a location that overrides with None",
        }],
    },
    Expected {
        fault: Fault::VoicemailNotRecorded,
        unaffected: &[(
            "The voicemail deposit is not recorded when voicemail recording is disabled",
            "nothing is to be recorded",
        )],
        collateral: &[],
    },
    Expected {
        fault: Fault::LateRecordingStart,
        unaffected: &[(
            "A person recorded \"Never\" is not recorded",
            "nothing is recorded",
        )],
        collateral: &[
            Collateral {
                calls: recorded_from_answer,
                requirements: &["POL-01"],
                reason: "every recording from answer starts 2 s late (record_mode and front clipping are judged on every call)",
            },
            Collateral {
                calls: on_demand,
                requirements: &["POL-02"],
                reason: "the start code's recording begins 2 s late",
            },
        ],
    },
    Expected {
        fault: Fault::OnePartyOnBothStreams,
        unaffected: &[],
        collateral: &[Collateral {
            calls: recorded,
            requirements: &["POL-09"],
            reason: "every recording carries the caller twice, and POL-09 is judged on every call",
        }],
    },
    Expected {
        fault: Fault::SwappedStreams,
        unaffected: &[],
        collateral: &[Collateral {
            calls: recorded,
            requirements: &["POL-09"],
            reason: "every recording carries each party on the other's stream",
        }],
    },
    Expected {
        fault: Fault::FeatureCodesIgnored,
        unaffected: &[],
        collateral: &[Collateral {
            calls: coded,
            requirements: &["RP-CALL", "POL-02", "POL-03", "POL-07", "SRC-17"],
            reason: "every call with feature codes: no pause, resume, start or stop happens",
        }],
    },
    Expected {
        fault: Fault::NoneProviderRecorded,
        unaffected: &[],
        collateral: &[],
    },
    Expected {
        fault: Fault::FailureBehaviourIgnored,
        unaffected: &[],
        collateral: &[],
    },
    Expected {
        fault: Fault::NoRsByeAtCallEnd,
        unaffected: &[],
        collateral: &[Collateral {
            calls: recorded_until_the_end,
            requirements: &["SRC-20"],
            reason: "every recording session still open at the call's end is left open, and SRC-20 is judged on every call",
        }],
    },
    Expected {
        fault: Fault::SlowPartyMedia,
        unaffected: &[],
        collateral: &[Collateral {
            calls: two_party,
            requirements: &["RP-LATENCY"],
            reason: "every call's mouth-to-ear latency is over the limit, and latency is judged on every call",
        }],
    },
    Expected {
        fault: Fault::SlowRecordedMedia,
        unaffected: &[],
        collateral: &[Collateral {
            calls: recorded,
            requirements: &["RP-LATENCY"],
            reason: "every recording's party-to-recorder latency is over the limit",
        }],
    },
];

fn name(s: &ScenarioResult) -> String {
    format!("{} / {}", s.feature, s.scenario)
}

fn bound(s: &ScenarioResult, requirement: &str) -> bool {
    s.tags
        .iter()
        .any(|t| t.trim_start_matches('@') == requirement)
}

fn fail_reqs<'a>(it: impl Iterator<Item = &'a checks::Verdict>) -> Vec<String> {
    let mut v: Vec<String> = it.map(|v| v.requirement.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Checks one fault's run against its table entry (or the whole-failure rule); returns
/// the problems and the matrix row.
fn judge_fault(fault: Fault, r: &RunResults) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    let req = fault.requirement();
    let failed = |s: &ScenarioResult| s.status == ScenarioStatus::Failed;
    let mut caught = false;
    let (mut n_bound, mut n_collateral) = (0, 0);
    if fault.is_whole_failure() {
        for s in &r.scenarios {
            let absence = ABSENCE.contains(&s.scenario.as_str());
            let spared = SPARED.iter().any(|(f, calls, _)| *f == fault && calls(s));
            let must_fail = (!absence && !spared) || fault == Fault::NeverAnswers;
            if must_fail != failed(s) {
                problems.push(format!(
                    "{}: {} against the whole failure {} ({})",
                    name(s),
                    s.status.as_str(),
                    fault.name(),
                    if must_fail {
                        "every scenario must fail"
                    } else {
                        "it asserts the absence of recording, or the fault spares it, and must pass"
                    }
                ));
            }
            if failed(s)
                && s.asserted_failures().next().is_none()
                && s.asserted_not_judged().next().is_none()
            {
                problems.push(format!(
                    "{}: failed, but through no asserted verdict",
                    name(s)
                ));
            }
            if failed(s) {
                n_bound += 1;
                caught |= s.asserted_failures().any(|v| v.requirement == req);
            }
        }
        if !caught {
            problems.push(format!(
                "{}: no scenario failed through an asserted {req} FAIL",
                fault.name()
            ));
        }
        return (
            problems,
            format!(
                "{:<28} {:<10} {:>5} {:>5}  whole failure",
                fault.name(),
                req,
                n_bound,
                0
            ),
        );
    }
    let Some(exp) = EXPECTED.iter().find(|e| e.fault == fault) else {
        return (
            vec![format!("{}: no entry in EXPECTED", fault.name())],
            String::new(),
        );
    };
    for s in &r.scenarios {
        let unaffected = exp.unaffected.iter().find(|(n, _)| *n == s.scenario);
        if bound(s, req) && unaffected.is_none() {
            n_bound += 1;
            if !failed(s) || s.asserted_failures().next().is_none() {
                problems.push(format!(
                    "{}: bound to {req} but {} (it must fail through a FAIL among its asserted verdicts)",
                    name(s),
                    if failed(s) { "failed without an asserted FAIL" } else { "passed" }
                ));
            }
            caught |= s.asserted_failures().any(|v| v.requirement == req);
            continue;
        }
        if let Some((_, why)) = unaffected {
            if failed(s) {
                problems.push(format!(
                    "{}: listed as unaffected ({why}) but failed: {}",
                    name(s),
                    s.failure.as_deref().unwrap_or("")
                ));
            }
            continue;
        }
        let rule = exp.collateral.iter().find(|c| (c.calls)(s));
        match (rule, failed(s)) {
            (None, false) => {}
            (None, true) => problems.push(format!(
                "{}: failed although no rule expects it to ({} FAIL): {}",
                name(s),
                fail_reqs(s.verdicts.iter().filter(|v| v.status == Status::Fail)).join(" "),
                s.failure.as_deref().unwrap_or("")
            )),
            (Some(c), false) => problems.push(format!(
                "{}: expected to fail as collateral ({}) but passed",
                name(s),
                c.reason
            )),
            (Some(c), true) => {
                n_collateral += 1;
                let off: Vec<String> =
                    fail_reqs(s.verdicts.iter().filter(|v| v.status == Status::Fail))
                        .into_iter()
                        .filter(|q| q != req && !c.requirements.contains(&q.as_str()))
                        .collect();
                if !off.is_empty() {
                    problems.push(format!(
                        "{}: collateral ({}) but also FAILs {}",
                        name(s),
                        c.reason,
                        off.join(" ")
                    ));
                }
            }
        }
    }
    if !caught {
        problems.push(format!(
            "{} ({req}) is not caught: no bound scenario failed through an asserted {req} FAIL",
            fault.name()
        ));
    }
    let row = format!(
        "{:<28} {:<10} {:>5} {:>5}  {}",
        fault.name(),
        req,
        n_bound,
        n_collateral,
        exp.collateral
            .iter()
            .map(|c| c.reason)
            .collect::<Vec<_>>()
            .join("; ")
    );
    (problems, row)
}

#[test]
fn clean_and_variants_pass_and_every_fault_is_caught_by_its_bound_scenarios() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    let mut total = (0.0, 0.0);
    let mut add = |r: &RunResults| {
        total.0 += r.call_seconds;
        total.1 += r.wall_seconds;
    };

    for seed in [1, 2] {
        let clean = run(None, None, &dir.path().join(format!("clean-{seed}")), seed);
        add(&clean);
        for s in &clean.scenarios {
            if s.status != ScenarioStatus::Passed {
                problems.push(format!(
                    "clean seed {seed}: {} {}: {}",
                    name(s),
                    s.status.as_str(),
                    s.failure.as_deref().unwrap_or("")
                ));
            }
            for v in s.verdicts.iter().filter(|v| v.status == Status::Fail) {
                problems.push(format!("clean seed {seed}: FAIL verdict {v}"));
            }
        }
    }
    for &variant in Variant::ALL {
        let r = run(None, Some(variant), &dir.path().join(variant.name()), 1);
        add(&r);
        for s in &r.scenarios {
            let ok = match s.status {
                ScenarioStatus::Passed => true,
                ScenarioStatus::Skipped => s
                    .skip_reason
                    .as_deref()
                    .is_some_and(|w| w.contains("does not offer")),
                ScenarioStatus::Failed => false,
            };
            if !ok {
                problems.push(format!(
                    "variant {}: {} {}: {}",
                    variant.name(),
                    name(s),
                    s.status.as_str(),
                    s.failure
                        .as_deref()
                        .or(s.skip_reason.as_deref())
                        .unwrap_or("")
                ));
            }
        }
        if r.passed == 0 {
            problems.push(format!("variant {}: nothing ran", variant.name()));
        }
    }

    let mut rows = Vec::new();
    for &fault in Fault::ALL {
        let r = run(Some(fault), None, &dir.path().join(fault.name()), 1);
        add(&r);
        let (p, row) = judge_fault(fault, &r);
        problems.extend(p);
        rows.push(row);
    }
    println!(
        "\nself-test matrix: {} faults (bound = scenarios failing through their own asserted verdicts; collateral = others expected to fail)",
        Fault::ALL.len()
    );
    println!(
        "{:<28} {:<10} {:>5} {:>5}  collateral reasons",
        "fault", "breaks", "bound", "coll."
    );
    for row in &rows {
        println!("{row}");
    }
    println!(
        "\n{:.0} call-seconds simulated in {:.1} s wall ({:.0}x real time)",
        total.0,
        total.1,
        total.0 / total.1.max(1e-9)
    );
    assert!(
        problems.is_empty(),
        "self-test problems:\n{}",
        problems.join("\n")
    );
}
