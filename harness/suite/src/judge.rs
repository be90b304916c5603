//! Offline judging: the checks re-run on a saved observation log (`recproof judge`).
//!
//! A run log is a sequence of blocks, one per call, each opened by `run_started` (each
//! embedded call has its own simulated clock, so times restart per block). The suite
//! writes each call's [`observe::Event::Expectation`] into its block, so the log alone
//! says what every call was judged against. A log without expectations (a `recproof
//! srs` log, an older run) can still be judged with a SUT profile: the call is matched
//! to the profile user whose extension it called, and that user's settings give the
//! expectation (for a plain answered call: keypresses and voicemail are not in the log
//! and are not assumed).
//!
//! A recorder call (recproof as the SRC against a recorder under test) carries its
//! recorder rules as its expectation (`{"recorder": {...}}`) and is judged by
//! `recproof_checks::recorder::judge_recorder`.
//!
//! This module owns only that bookkeeping; the verdicts are `recproof_checks::judge_call`
//! and `judge_recorder`.

use crate::profile::SutProfile;
use checks::{CallExpectation, Tolerances, Verdict};
use drive::embedded::RecorderMode;
use drive::plan::CallPlan;
use observe::{Event, Log, Observation};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a call's expectation came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectationSource {
    /// The `expectation` observation the suite wrote into the log.
    Log,
    /// The SUT profile user with this extension.
    ProfileUser(String),
}

/// One call judged again.
#[derive(Debug, Clone)]
pub struct JudgedCall {
    /// The harness call label.
    pub call: String,
    /// Where its expectation came from.
    pub source: ExpectationSource,
    /// The verdicts, as `recproof check` would give them.
    pub verdicts: Vec<Verdict>,
}

/// What [`judge_log`] found.
#[derive(Debug, Clone, Default)]
pub struct JudgedLog {
    /// Calls judged, in log order.
    pub calls: Vec<JudgedCall>,
    /// Calls that could not be judged, with the reason and what to do.
    pub unjudged: Vec<(String, String)>,
}

/// Re-runs the checks on every call of `log`. `profile`, when given, supplies the
/// tolerances (its real-time ones, over the ones recorded in the log) and expectations
/// for calls the log has none for.
pub fn judge_log(log: &Log, profile: Option<&SutProfile>) -> JudgedLog {
    let mut out = JudgedLog::default();
    for block in blocks(&log.observations) {
        judge_block(block, profile, &mut out);
    }
    out
}

/// The log split at each `run_started`.
fn blocks(observations: &[Observation]) -> Vec<&[Observation]> {
    let mut starts: Vec<usize> = observations
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o.event, Event::RunStarted { .. }))
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &a)| {
            let b = starts.get(k + 1).copied().unwrap_or(observations.len());
            &observations[a..b]
        })
        .filter(|b| !b.is_empty())
        .collect()
}

fn judge_block(block: &[Observation], profile: Option<&SutProfile>, out: &mut JudgedLog) {
    // Calls in order of first appearance, with their expectation and callee.
    let mut order: Vec<String> = Vec::new();
    let mut expectations: BTreeMap<String, (serde_json::Value, serde_json::Value)> =
        BTreeMap::new();
    let mut callees: BTreeMap<String, String> = BTreeMap::new();
    for o in block {
        let Some(call) = &o.call else { continue };
        if !order.contains(call) {
            order.push(call.clone());
        }
        match &o.event {
            Event::Expectation {
                expectation,
                tolerances,
            } => {
                expectations.insert(call.clone(), (expectation.clone(), tolerances.clone()));
            }
            // The caller's phone says whom it dialled; the callee's phone and the SRS
            // also log a call start (the SRS with its own URI), so the caller's wins.
            Event::CallStarted { callee, .. }
                if o.actor == observe::Actor::Caller || !callees.contains_key(call) =>
            {
                callees.insert(call.clone(), callee.clone());
            }
            _ => {}
        }
    }
    for call in order {
        let recorded = expectations.get(&call);
        // A recorder call (the harness as SRC against a recorder under test) carries its
        // recorder rules as its expectation and is judged by the recorder checks.
        if let Some(rules) = recorded.and_then(|(e, _)| e.get("recorder")) {
            match serde_json::from_value::<checks::recorder::RecorderRules>(rules.clone()) {
                Ok(rules) => out.calls.push(JudgedCall {
                    verdicts: checks::recorder::judge_recorder(block, &call, &rules),
                    call,
                    source: ExpectationSource::Log,
                }),
                Err(e) => out.unjudged.push((
                    call,
                    format!("its recorded recorder rules cannot be read ({e})"),
                )),
            }
            continue;
        }
        let tolerances = match (profile.map(|p| p.tolerances.clone()), recorded) {
            (Some(t), _) => t,
            (None, Some((_, t))) if !t.is_null() => {
                match serde_json::from_value::<Tolerances>(t.clone()) {
                    Ok(t) => t,
                    Err(e) => {
                        out.unjudged.push((
                            call,
                            format!("its recorded tolerances cannot be read ({e})"),
                        ));
                        continue;
                    }
                }
            }
            _ => Tolerances::default(),
        };
        let (expect, source) = match recorded {
            Some((e, _)) => match serde_json::from_value::<CallExpectation>(e.clone()) {
                Ok(e) => (e, ExpectationSource::Log),
                Err(err) => {
                    out.unjudged.push((
                        call,
                        format!(
                            "its recorded expectation cannot be read ({err}); was the log written by another recproof version?"
                        ),
                    ));
                    continue;
                }
            },
            None => match from_profile(&call, callees.get(&call), profile) {
                Ok(pair) => pair,
                Err(why) => {
                    out.unjudged.push((call, why));
                    continue;
                }
            },
        };
        let verdicts = checks::judge_call(block, &call, &expect, &tolerances);
        out.calls.push(JudgedCall {
            call,
            source,
            verdicts,
        });
    }
}

/// `expectation` observations for the calls of `log` that have none, from the settings of
/// the profile user each called (what [`judge_log`] judges them against), so a log saved
/// with them (`recproof judge CAPTURE --save-log`) is judged and rendered alone.
pub fn profile_expectations(log: &Log, profile: &SutProfile) -> Vec<Observation> {
    let mut out = Vec::new();
    for block in blocks(&log.observations) {
        let mut callees: BTreeMap<&str, &str> = BTreeMap::new();
        let mut has: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for o in block {
            let Some(call) = o.call.as_deref() else {
                continue;
            };
            match &o.event {
                Event::Expectation { .. } => {
                    has.insert(call);
                }
                Event::CallStarted { callee, .. }
                    if o.actor == observe::Actor::Caller || !callees.contains_key(call) =>
                {
                    callees.insert(call, callee);
                }
                _ => {}
            }
        }
        for (call, callee) in callees {
            if has.contains(call) {
                continue;
            }
            let Ok((expect, _)) = from_profile(call, Some(&callee.to_owned()), Some(profile))
            else {
                continue;
            };
            out.push(Observation {
                t_us: 0,
                call: Some(call.to_owned()),
                actor: observe::Actor::Harness,
                event: Event::Expectation {
                    expectation: serde_json::to_value(&expect).unwrap_or_default(),
                    tolerances: serde_json::to_value(&profile.tolerances).unwrap_or_default(),
                },
            });
        }
    }
    out
}

/// The expectation of a call the log has none for, from the profile user it called.
fn from_profile(
    call: &str,
    callee: Option<&String>,
    profile: Option<&SutProfile>,
) -> Result<(CallExpectation, ExpectationSource), String> {
    let Some(profile) = profile else {
        return Err(
            "the log has no expectation for it; give --sut PROFILE.yaml so its callee's settings can be used"
                .to_owned(),
        );
    };
    let Some(callee) = callee else {
        return Err("the log has no expectation and no call_started for it".to_owned());
    };
    // The callee may be logged as an extension or a URI (`sip:2001@host`).
    let extension = callee
        .strip_prefix("sip:")
        .unwrap_or(callee)
        .split('@')
        .next()
        .unwrap_or(callee);
    let Some(user) = profile.users.iter().find(|u| u.extension == extension) else {
        return Err(format!(
            "the log has no expectation and the profile `{}` has no user with extension `{extension}`",
            profile.path.display()
        ));
    };
    let plan = CallPlan::answered(call, "", Duration::from_secs(0));
    Ok((
        crate::expectation::external_expectation(
            &user.settings,
            &plan,
            RecorderMode::Accept,
            profile,
            &user.extension,
        ),
        ExpectationSource::ProfileUser(user.extension.clone()),
    ))
}

/// The capture a log was imported from (`recproof judge CAPTURE --save-log`), if it was.
pub fn imported_from(log: &Log) -> Option<String> {
    log.observations.iter().find_map(|o| match &o.event {
        Event::CaptureImported { capture, .. } => Some(capture.clone()),
        _ => None,
    })
}

/// The `sut` line of results rebuilt from a log: what the run tested, and that the run
/// ended before writing its own results.
pub const REBUILT_NOTE: &str =
    "incomplete: rebuilt from the observation log, the run ended before it wrote results.json";

/// Results for a run that ended before writing `results.json` (killed, crashed), rebuilt
/// from its observation log and [`judge_log`]'s verdicts, so `recproof report` can still
/// render it. Marked interrupted, with [`REBUILT_NOTE`] in its `sut`. The log does not
/// say what each scenario's steps asserted, so no scenario is passed: one with a FAIL
/// verdict is failed, every other is skipped with that reason, its verdicts listed.
pub fn rebuilt_results(log: &Log, judged: &JudgedLog) -> checks::results::RunResults {
    use checks::results::{RESULTS_SCHEMA, RunResults, ScenarioResult, ScenarioStatus};
    // A log `recproof judge CAPTURE --save-log` built: no run was interrupted, no
    // scenario ran.
    let capture = imported_from(log);
    let run = log.observations.iter().find_map(|o| match &o.event {
        Event::RunStarted {
            seed,
            sut,
            clock,
            tool_version,
            ..
        } => Some((*seed, sut.clone(), *clock, tool_version.clone())),
        _ => None,
    });
    // The scenario each call played, as its first CallStarted names it.
    let mut scenario_of: BTreeMap<&str, &str> = BTreeMap::new();
    for o in &log.observations {
        if let (Some(call), Event::CallStarted { scenario, .. }) = (&o.call, &o.event) {
            scenario_of
                .entry(call.as_str())
                .or_insert(scenario.as_str());
        }
    }
    let scenario = |call: &str| {
        scenario_of
            .get(call)
            .map_or_else(|| format!("call {call}"), |s| format!("{s} ({call})"))
    };
    let base = |call: &str| ScenarioResult {
        feature: match &capture {
            Some(file) => format!("judged from the packet capture {file}"),
            None => "rebuilt from the observation log".to_owned(),
        },
        scenario: scenario(call),
        tags: Vec::new(),
        status: ScenarioStatus::Skipped,
        failure: None,
        call: Some(call.to_owned()),
        asserted: Vec::new(),
        asserted_checks: Vec::new(),
        verdicts: Vec::new(),
        expectation: None,
        timeline: None,
        evidence_error: None,
        skip_reason: None,
        rs_sessions: Vec::new(),
    };
    let mut scenarios = Vec::new();
    for c in &judged.calls {
        let failed: Vec<String> = c
            .verdicts
            .iter()
            .filter(|v| v.status == checks::Status::Fail)
            .map(|v| format!("{} {}", v.requirement, v.check))
            .collect();
        let mut s = base(&c.call);
        s.verdicts = c.verdicts.clone();
        if failed.is_empty() {
            s.skip_reason = Some(if capture.is_some() {
                "judged from a packet capture: no verdict FAILed, but no scenario's steps ran \
                 on it, so nothing was asserted and it is not passed"
                    .to_owned()
            } else {
                "the run ended before this scenario's result was written: no verdict FAILed, \
                 but what its steps asserted is not in the log, so it is not passed"
                    .to_owned()
            });
        } else {
            s.status = ScenarioStatus::Failed;
            s.failure = Some(format!("FAIL verdicts: {}", failed.join(", ")));
        }
        scenarios.push(s);
    }
    for (call, why) in &judged.unjudged {
        let mut s = base(call);
        s.skip_reason = Some(format!("not judged: {why}"));
        scenarios.push(s);
    }
    let count = |st: ScenarioStatus| scenarios.iter().filter(|s| s.status == st).count();
    let (seed, sut, clock, tool_version) =
        run.unwrap_or_else(|| (0, "unknown".to_owned(), observe::Clock::Real, String::new()));
    RunResults {
        schema: RESULTS_SCHEMA,
        tool_version,
        sut: match &capture {
            Some(_) => sut,
            None => format!("{sut} ({REBUILT_NOTE})"),
        },
        seed,
        clock: match clock {
            observe::Clock::Simulated => "simulated".to_owned(),
            observe::Clock::Real => "real".to_owned(),
        },
        passed: count(ScenarioStatus::Passed),
        failed: count(ScenarioStatus::Failed),
        skipped: count(ScenarioStatus::Skipped),
        scenarios,
        call_seconds: log.observations.last().map_or(0.0, |o| o.t_us as f64 / 1e6),
        wall_seconds: 0.0,
        interrupted: capture.is_none(),
        tolerances: Tolerances::default(),
        started_at: String::new(),
        profile: None,
    }
}
