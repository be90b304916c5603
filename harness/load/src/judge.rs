//! How a load call through a platform is judged: by the suite's checks
//! ([`checks::judge_call`]) on the call's own observations, under the suite's judgement
//! contract, and turned into the call's line in the result log.
//!
//! Owns: [`asserted_checks`] (what a call of a given expectation and plan claims, the
//! load run's counterpart of a scenario's `Then` steps) and [`judge_call`] (verdicts to
//! [`CallCheck`]s, the call's [`Failure`] class, whether its recording held, and its
//! latency figures). The contract: a call passes only when every precondition passed, no
//! verdict FAILed, and every check it claims PASSed (WARN only for the dialect rules of
//! `message.validate`); NOT APPLICABLE or INFO on a claimed check fails it as "not
//! judged".
//!
//! Must not touch: sockets, clocks, the platform's own account of its actions (the checks
//! never read it).

use crate::engine::Finished;
use crate::record::{CallCheck, CallLatency, Failure, Verdict};
use checks::{CallExpectation, PauseNotice, RecordMode, Status, Tolerances};
use drive::plan::{Answer, CallPlan};
use observe::{Actor, Event, Observation};

/// The checks whose verdicts say whether the recording itself held (the recorded-call
/// success ratio counts calls whose claimed ones all passed).
pub const RECORDING_CHECKS: &[&str] = &[
    checks::preconditions::RECORDING_SESSION,
    checks::preconditions::RECORDER_MEDIA,
    "record_mode",
    "feature_code.start",
    "recording.front_clip",
    "streams.count",
    "streams.labels",
    "streams.one_party",
    "announcement.not_recorded",
    "paused.silent",
    "paused.resumed",
    "rs_end",
    "voicemail",
];

/// What a call with this expectation and plan claims: the checks that must PASS (beyond
/// the preconditions, which every call claims).
pub fn asserted_checks(expect: &CallExpectation, plan: &CallPlan) -> Vec<&'static str> {
    let mut a: Vec<&'static str> = checks::preconditions::ALL.to_vec();
    let keys: Vec<&str> = plan.keypresses.iter().map(|k| k.digits.as_str()).collect();
    let codes = &expect.feature_codes;
    let pressed = |code: &str| keys.contains(&code);
    if expect.voicemail.is_some() || matches!(plan.answer, Answer::Never | Answer::Decline(_)) {
        a.push("voicemail");
        return a;
    }
    let recorded = expect.recording_expected();
    if expect.srs.is_none() {
        a.push("provider.none");
    } else if expect.mode == RecordMode::Never {
        a.push("record_mode");
    }
    if recorded {
        a.extend([
            "recording.front_clip",
            "streams.count",
            "streams.labels",
            "streams.one_party",
            "rs_end",
            "message.validate",
            "provider.srs",
            "reminder.interval",
        ]);
        if expect.mode == RecordMode::OnDemand {
            a.push("feature_code.start");
        } else {
            a.push("record_mode");
        }
        if expect.announcements.enabled {
            a.push("announcement.start");
            a.push("announcement.not_recorded");
            if expect.announcements.metadata {
                a.push("announcement.metadata");
            }
        } else {
            a.push("announcement.disabled");
        }
        if pressed(&codes.pause) || pressed(&codes.resume) {
            a.extend([
                "paused.silent",
                "paused.resumed",
                "feature_code.pause",
                "feature_code.resume",
            ]);
            if expect.pause_notice != PauseNotice::None {
                a.push("pause_notice");
            }
        }
        if pressed(&codes.stop) {
            a.push("feature_code.stop");
            if expect.announcements.enabled {
                a.push("announcement.stop");
            }
        }
        if expect.failure.is_some() {
            a.push("failure_behaviour");
        }
    }
    a.extend([
        "latency.answer_to_media",
        "latency.mouth_to_ear",
        "latency.party_to_recorder",
    ]);
    if !recorded {
        // No recorder in the call: party-to-recorder latency has nothing to measure.
        a.retain(|c| *c != "latency.party_to_recorder");
    }
    a.sort_unstable();
    a.dedup();
    a
}

/// Latency figures taken from the verdicts' measurements, for the run's histograms:
/// per-party answer-to-media and per-stream p95s (the checks summarise frames per
/// stream; the histograms are over streams, and the report says so).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyFigures {
    /// Answer to first media, per party, µs.
    pub answer_to_media_us: Vec<u64>,
    /// Mouth-to-ear p95 of each party's heard stream, µs.
    pub mouth_to_ear_p95_us: Vec<u64>,
    /// Party-to-recorder p95 of each recorded stream, µs.
    pub party_to_recorder_p95_us: Vec<u64>,
}

/// A judged call: its checks, why it failed, and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Every verdict, with whether it was claimed and whether it fails the call.
    pub checks: Vec<CallCheck>,
    /// Why the call failed (`None`: it passed).
    pub failure: Option<Failure>,
    /// Where the policy records the call: whether every claimed recording check passed.
    pub recording_ok: Option<bool>,
    /// The INVITE's setup time (to the 2xx the caller saw), µs.
    pub setup_us: Option<u64>,
    /// Latency figures.
    pub latency: LatencyFigures,
}

fn verdict_of(s: Status) -> Verdict {
    match s {
        Status::Pass => Verdict::Pass,
        Status::Fail => Verdict::Fail,
        Status::Warn => Verdict::Warn,
        Status::Info => Verdict::Info,
        Status::NotApplicable => Verdict::NotApplicable,
    }
}

/// The caller's view of its INVITE: the final status it got (if any), the time from the
/// INVITE to it, and whether the caller cancelled it (gave up waiting for the answer).
fn invite_outcome(obs: &[Observation]) -> (Option<u16>, Option<u64>, bool) {
    let mut sent_at = None;
    let mut cancelled = false;
    for o in obs.iter().filter(|o| o.actor == Actor::Caller) {
        let (Event::SipSent { message, .. } | Event::SipReceived { message, .. }) = &o.event else {
            continue;
        };
        let Ok(m) = sip::message::SipMessage::parse(message.to_bytes()) else {
            continue;
        };
        let method = m.cseq().map(|c| c.method);
        if matches!(&o.event, Event::SipSent { .. })
            && m.status().is_none()
            && method == Ok(sip::message::Method::Cancel)
        {
            cancelled = true;
        }
        if method != Ok(sip::message::Method::Invite) {
            continue;
        }
        match (&o.event, m.status()) {
            (Event::SipSent { .. }, None) => {
                sent_at.get_or_insert(o.t_us);
            }
            (Event::SipReceived { .. }, Some(code)) if code >= 200 => {
                return (
                    Some(code),
                    sent_at.map(|t| o.t_us.saturating_sub(t)),
                    cancelled,
                );
            }
            _ => {}
        }
    }
    (None, None, cancelled)
}

/// A call's judgement, to be done off the event loop ([`complete`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeJob {
    /// The call label.
    pub label: String,
    /// What the checks expect (the call's parties filled in). Unused for a recording
    /// session placed at a recorder under test ([`JudgeJob::recorder`]).
    pub expectation: CallExpectation,
    /// How strict they are.
    pub tolerances: Tolerances,
    /// What the call claims.
    pub asserted: Vec<&'static str>,
    /// The call's observations, in time order.
    pub observations: Vec<Observation>,
    /// Set for a recording session the harness SRC placed at a recorder under test
    /// (`recproof load --sut RECORDER.yaml`): judged by the recorder checks
    /// ([`judge_session`]) instead of the platform checks.
    pub recorder: Option<RecorderJudging>,
}

/// How a recording session at a recorder under test is judged.
#[derive(Clone)]
pub struct RecorderJudging {
    /// What the recorder is held to.
    pub rules: checks::recorder::RecorderRules,
    /// Reads what the recorder wrote for the session (its recordings, as
    /// [`Event::PartyFrames`] observations of the SRS), when the profile says where:
    /// given the session's observations and its label. Runs on the judging thread, never
    /// on an event loop.
    pub recordings: Option<RecordingsReader>,
}

/// Reads an external recorder's recordings of one session (see [`RecorderJudging`]).
pub type RecordingsReader =
    std::sync::Arc<dyn Fn(&[Observation], &str) -> Vec<Observation> + Send + Sync>;

impl std::fmt::Debug for RecorderJudging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderJudging")
            .field("rules", &self.rules)
            .field("recordings", &self.recordings.is_some())
            .finish()
    }
}

impl PartialEq for RecorderJudging {
    fn eq(&self, other: &Self) -> bool {
        self.rules == other.rules
            && match (&self.recordings, &other.recordings) {
                (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

/// What one recording session at a recorder under test claims: that the recorder took
/// it (RP-CALL), marked its Contact `+sip.srs` (SRS-02), answered each stream recvonly
/// with its label and codec and sent no RTP (SRS-03), answered within the answer time
/// (SRS-13), and, when its recordings can be read, kept the parties apart (SRS-12).
pub fn session_asserted(rules: &checks::recorder::RecorderRules) -> Vec<&'static str> {
    use checks::recorder as r;
    let mut a = vec![
        r::SESSION_TAKEN,
        r::CONTACT,
        r::ANSWER,
        r::NO_RTP,
        r::ANSWER_TIME,
    ];
    if rules.recordings_available {
        a.push(r::STREAMS_APART);
    }
    a
}

/// Judges one recording session placed at a recorder under test: the recorder checks on
/// its observations, under the same contract as a call ([`judge_call`]). A session the
/// recorder refused counts as `rejected <code>`, one it never answered as a timeout.
pub fn judge_session(
    obs: &[Observation],
    label: &str,
    rules: &checks::recorder::RecorderRules,
    asserted: &[&str],
) -> Judged {
    let verdicts = checks::recorder::judge_recorder(obs, label, rules);
    let out = call_checks(&verdicts, asserted);
    let view = checks::timeline::CallView::new(obs, label);
    let first = checks::recorder::attempts(&view).into_iter().next();
    let invite_us = first.as_ref().and_then(|a| a.invite_us);
    let final_response = first
        .as_ref()
        .and_then(|a| a.final_response.as_ref().map(|(c, t, _)| (*c, *t)));
    let failed: Vec<String> = out
        .iter()
        .filter(|c| c.fails_call)
        .map(|c| c.id.clone())
        .collect();
    let failure = match final_response {
        _ if failed.is_empty() => None,
        None => Some(Failure::Timeout {
            what: "no final response to the recording session's INVITE".to_owned(),
        }),
        Some((code, _)) if code >= 300 => Some(Failure::Rejected { code }),
        Some(_) => Some(Failure::Verdict { checks: failed }),
    };
    let setup_us = match (final_response, invite_us) {
        (Some((c, t)), Some(t0)) if (200..300).contains(&c) => Some(t.saturating_sub(t0)),
        _ => None,
    };
    let recording_ok = rules.recordings_available.then(|| {
        out.iter()
            .any(|c| c.id == checks::recorder::STREAMS_APART && c.verdict == Verdict::Pass)
    });
    Judged {
        checks: out,
        failure,
        recording_ok,
        setup_us,
        latency: LatencyFigures::default(),
    }
}

/// The verdicts as a call's checks under the judgement contract, with a NOT APPLICABLE
/// line for every claimed check that gave no verdict.
fn call_checks(verdicts: &[checks::Verdict], asserted: &[&str]) -> Vec<CallCheck> {
    let mut out = Vec::with_capacity(verdicts.len() + asserted.len());
    for v in verdicts {
        let claimed = asserted.contains(&v.check.as_str());
        let allowed_warn = v.status == Status::Warn && v.check == "message.validate";
        let fails =
            v.status == Status::Fail || (claimed && v.status != Status::Pass && !allowed_warn);
        out.push(CallCheck {
            id: v.check.clone(),
            requirement: Some(v.requirement.clone()),
            verdict: verdict_of(v.status),
            asserted: claimed,
            fails_call: fails,
            observed: v.summary.clone(),
        });
    }
    for c in asserted {
        if !verdicts.iter().any(|v| v.check == *c) {
            out.push(CallCheck {
                id: (*c).to_owned(),
                requirement: checks::check_info(c).map(|i| i.requirement.to_owned()),
                verdict: Verdict::NotApplicable,
                asserted: true,
                fails_call: true,
                observed: "the check gave no verdict on this call: a claim nobody judged is \
                           not a pass"
                    .to_owned(),
            });
        }
    }
    out
}

/// Judges a finished call that carries a [`JudgeJob`], filling in its record's checks,
/// failure, recording outcome, setup time and latency figures; the observations move to
/// the call (for evidence), after an [`Event::Expectation`] line so `recproof judge` can
/// judge them again offline. A call without a job is left as it is.
pub fn complete(call: &mut Finished) {
    let Some(job) = call.judgement.take() else {
        return;
    };
    let rec = &mut call.record;
    let JudgeJob {
        label,
        expectation,
        tolerances,
        asserted,
        mut observations,
        recorder,
    } = *job;
    if let Some(r) = recorder {
        if let Some(read) = &r.recordings {
            let read = read(&observations, &label);
            observations.extend(read);
            observations.sort_by_key(|o| o.t_us);
        }
        let j = judge_session(&observations, &label, &r.rules, &asserted);
        rec.checks = j.checks;
        if rec.failure.is_none() {
            rec.failure = j.failure;
        }
        rec.recording_ok = j.recording_ok;
        rec.setup_ms = j.setup_us.map(|u| u as f64 / 1000.0);
        call.observations = Some(observations);
        return;
    }
    let j = judge_call(&observations, &label, &expectation, &tolerances, &asserted);
    rec.checks = j.checks;
    if rec.failure.is_none() {
        rec.failure = j.failure;
    }
    rec.recording_ok = j.recording_ok;
    rec.setup_ms = j.setup_us.map(|u| u as f64 / 1000.0);
    rec.latency = CallLatency {
        answer_to_media_us: j.latency.answer_to_media_us,
        mouth_to_ear_p95_us: j.latency.mouth_to_ear_p95_us,
        party_to_recorder_p95_us: j.latency.party_to_recorder_p95_us,
    };
    observations.insert(
        0,
        Observation {
            t_us: observations.first().map_or(0, |o| o.t_us),
            call: Some(label),
            actor: Actor::Harness,
            event: Event::Expectation {
                expectation: serde_json::to_value(&expectation).unwrap_or_default(),
                tolerances: serde_json::to_value(&tolerances).unwrap_or_default(),
            },
        },
    );
    call.observations = Some(observations);
}

/// Judges one call: `obs` are its observations (any order), `label` its call label.
pub fn judge_call(
    obs: &[Observation],
    label: &str,
    expect: &CallExpectation,
    tol: &Tolerances,
    asserted: &[&str],
) -> Judged {
    let verdicts = checks::judge_call(obs, label, expect, tol);
    let out = call_checks(&verdicts, asserted);
    let mut latency = LatencyFigures::default();
    for v in &verdicts {
        for m in &v.measurements {
            let us = (m.value * 1000.0).max(0.0);
            if !us.is_finite() {
                continue;
            }
            let us = us as u64;
            if m.name.starts_with("answer_to_media.") {
                latency.answer_to_media_us.push(us);
            } else if m.name.starts_with("latency.mouth_to_ear.p95.") {
                latency.mouth_to_ear_p95_us.push(us);
            } else if m.name.starts_with("latency.party_to_recorder.p95.") {
                latency.party_to_recorder_p95_us.push(us);
            }
        }
    }
    let (final_code, setup_us, cancelled) = invite_outcome(obs);
    let failed: Vec<String> = out
        .iter()
        .filter(|c| c.fails_call)
        .map(|c| c.id.clone())
        .collect();
    let answered = verdicts
        .iter()
        .any(|v| v.check == checks::preconditions::ANSWERED && v.status == Status::Pass);
    let failure = if failed.is_empty() {
        None
    } else if !answered {
        Some(match final_code {
            // 487 to an INVITE the caller cancelled: nobody answered in time.
            Some(487) if cancelled => Failure::Timeout {
                what: "no answer within the answer wait; the caller cancelled".to_owned(),
            },
            Some(code) if code >= 300 => Failure::Rejected { code },
            Some(_) => Failure::Verdict { checks: failed },
            None => Failure::Timeout {
                what: "no final response to the INVITE".to_owned(),
            },
        })
    } else {
        Some(Failure::Verdict { checks: failed })
    };
    let recording_ok = expect.recording_expected().then(|| {
        out.iter()
            .filter(|c| RECORDING_CHECKS.contains(&c.id.as_str()) && c.asserted)
            .all(|c| !c.fails_call)
            && out
                .iter()
                .filter(|c| RECORDING_CHECKS.contains(&c.id.as_str()))
                .all(|c| c.verdict != Verdict::Fail)
    });
    Judged {
        checks: out,
        failure,
        recording_ok,
        setup_us,
        latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checks::{Announcements, SrsTarget};
    use drive::plan::Keypress;
    use std::time::Duration;

    fn plan(keys: &[&str]) -> CallPlan {
        let mut p = CallPlan::answered("c", "s", Duration::from_secs(20));
        p.keypresses = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Keypress {
                party: drive::plan::Party::Callee,
                after_answer: Duration::from_secs(5 * (i as u64 + 1)),
                digits: (*k).to_owned(),
            })
            .collect();
        p
    }

    #[test]
    fn a_recorded_call_claims_the_recording_checks_and_a_never_call_only_absence() {
        let e = CallExpectation {
            reminder_interval_s: Some(20.0),
            ..CallExpectation::default()
        };
        let a = asserted_checks(&e, &plan(&[]));
        for c in [
            "record_mode",
            "announcement.start",
            "announcement.not_recorded",
            "announcement.metadata",
            "reminder.interval",
            "streams.one_party",
            "rs_end",
            "precondition.recorder_media",
        ] {
            assert!(a.contains(&c), "{c} missing from {a:?}");
        }
        assert!(!a.contains(&"paused.silent"));
        let paused = asserted_checks(&e, &plan(&["*48", "*49"]));
        assert!(paused.contains(&"paused.silent") && paused.contains(&"paused.resumed"));
        let never = CallExpectation {
            mode: RecordMode::Never,
            ..CallExpectation::default()
        };
        let a = asserted_checks(&never, &plan(&[]));
        assert!(a.contains(&"record_mode"));
        assert!(!a.contains(&"announcement.start"));
        assert!(!a.contains(&"latency.party_to_recorder"));
        let none = CallExpectation {
            srs: None,
            ..CallExpectation::default()
        };
        assert!(asserted_checks(&none, &plan(&[])).contains(&"provider.none"));
        let quiet = CallExpectation {
            announcements: Announcements {
                enabled: false,
                metadata: true,
            },
            srs: Some(SrsTarget::default()),
            ..CallExpectation::default()
        };
        assert!(asserted_checks(&quiet, &plan(&[])).contains(&"announcement.disabled"));
    }

    #[test]
    fn a_call_with_no_observations_fails_every_claim_and_is_a_timeout() {
        let e = CallExpectation::default();
        let asserted = asserted_checks(&e, &plan(&[]));
        let j = judge_call(&[], "call-1", &e, &Tolerances::real_time(), &asserted);
        assert!(
            matches!(j.failure, Some(Failure::Timeout { .. })),
            "{:?}",
            j.failure
        );
        assert_eq!(j.recording_ok, Some(false));
        for c in &asserted {
            let found = j
                .checks
                .iter()
                .find(|k| k.id == *c)
                .expect("every claim has a line");
            assert!(found.fails_call, "{found:?}");
        }
    }
}
