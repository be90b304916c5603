//! One judged call: its line in the result log (`calls.jsonl`).
//!
//! Owns: [`CallRecord`] (one line), [`Failure`] (the class a failed call is counted
//! under, the classes of SIPp's screen spelled out), [`CallCheck`] (one verdict on one
//! call, with whether the call claimed it and whether it failed the call), [`LegRecord`]
//! and [`LegCounts`] (a direct call's audio, direction by direction) and [`CallLatency`]
//! (a judged call's latency figures).
//!
//! Must not touch: how a call is judged (the load engine's), sockets, clocks.

use serde::{Deserialize, Serialize};

/// Why a call failed, for the failure-class counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Failure {
    /// No final response to the INVITE (Timer B), or the call never ended by itself.
    Timeout {
        /// What timed out.
        what: String,
    },
    /// The INVITE got a 3xx-6xx.
    Rejected {
        /// The status code.
        code: u16,
    },
    /// A message that should not have come (an in-dialog request the plan did not make,
    /// a BYE before the hold ended, a 2xx without a usable SDP answer...).
    Unexpected {
        /// What it was.
        what: String,
    },
    /// The transport reported an error sending one of the call's messages.
    Transport,
    /// The call was set up and torn down, and at least one check on it failed.
    Verdict {
        /// The ids of the failed checks.
        checks: Vec<String>,
    },
    /// The harness could not run the call as planned (no port left): not the SUT's fault.
    Harness {
        /// What was missing.
        what: String,
    },
}

impl Failure {
    /// The counter key: `timeout`, `rejected 503`, `unexpected`, `transport`, `verdict`,
    /// `harness`.
    pub fn class_key(&self) -> String {
        match self {
            Self::Timeout { .. } => "timeout".to_owned(),
            Self::Rejected { code } => format!("rejected {code}"),
            Self::Unexpected { .. } => "unexpected".to_owned(),
            Self::Transport => "transport".to_owned(),
            Self::Verdict { .. } => "verdict".to_owned(),
            Self::Harness { .. } => "harness".to_owned(),
        }
    }
}

/// The outcome of one check on one call (the suite's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// What was observed meets the rule.
    Pass,
    /// It does not.
    Fail,
    /// Non-standard but allowed by the dialect.
    Warn,
    /// Recorded, not judged.
    Info,
    /// The rule did not apply to what happened on the call.
    NotApplicable,
}

/// One check on one call: its id, verdict and what was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallCheck {
    /// Check id, e.g. `media.delivered[caller->callee]`.
    pub id: String,
    /// The requirement it judges (`POL-04`, `RP-CALL`...), when it judges one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// True when the call's plan claims this check (a claim must pass: NOT APPLICABLE or
    /// INFO on it fails the call).
    #[serde(default)]
    pub asserted: bool,
    /// True when this check is why the call failed: a FAIL, or an asserted check that did
    /// not pass.
    #[serde(default)]
    pub fails_call: bool,
    /// What was observed, in words.
    pub observed: String,
}

impl CallCheck {
    /// An asserted check of recproof's own: it fails the call exactly when it FAILs.
    pub fn own(id: impl Into<String>, verdict: Verdict, observed: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            requirement: Some(RP_CALL.to_owned()),
            verdict,
            asserted: true,
            fails_call: verdict == Verdict::Fail,
            observed: observed.into(),
        }
    }
}

/// What a receiver counted, for the call's record and verdicts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LegCounts {
    /// RTP packets taken in (parsed, right SSRC).
    pub packets: u64,
    /// Datagrams that were not G.711 RTP, or whose timestamp was out of range.
    pub rejected: u64,
    /// RTP sources (SSRCs) heard: 1 on a clean leg; more when the sender switched SSRC
    /// or another stream reached the port (its audio then decides: foreign frames).
    #[serde(default)]
    pub sources: u32,
    /// Packets whose 20 ms slot (by RTP timestamp) was already filled.
    pub duplicates: u64,
    /// Distinct expected-party frames decoded.
    pub frames: u64,
    /// Frames decoded that belong to another party (audio from another call or leg).
    pub foreign_frames: u64,
    /// The first foreign party seen, if any.
    pub first_foreign_party: Option<u8>,
    /// Lowest expected-party frame number decoded (0 when nothing was clipped).
    pub first_frame: Option<u64>,
    /// Samples of the previous frame present before the first decoded frame (160 = a
    /// clean start on frame 0 is reported as `None`, since frame 0 has no predecessor).
    pub lead_in: Option<u32>,
    /// Mouth-to-ear latency of the decoded frames, µs: lowest, mean and highest.
    pub latency_min_us: Option<u64>,
    /// Mean latency, µs.
    pub latency_mean_us: Option<u64>,
    /// Highest latency, µs.
    pub latency_max_us: Option<u64>,
}

/// One direction of a call's audio, as recorded in the call's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegRecord {
    /// `caller->callee` or `callee->caller`.
    pub direction: String,
    /// Frames the sending party emitted.
    pub sent: u64,
    /// What the receiving party counted.
    #[serde(flatten)]
    pub counts: LegCounts,
}

/// One line of the result log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Call number in the run, from 0.
    pub index: u64,
    /// The SIP Call-ID, once known.
    pub call_id: Option<String>,
    /// When the INVITE left, ms after the run's start.
    pub start_ms: f64,
    /// INVITE sent to 2xx received, ms.
    pub setup_ms: Option<f64>,
    /// How long the call was held after the 2xx, as planned, ms.
    pub hold_ms: f64,
    /// INVITE sent to the end of the call, ms.
    pub duration_ms: f64,
    /// The status of the BYE's final response, when a BYE was sent.
    pub bye_status: Option<u16>,
    /// How far behind its due time the call started, ms (harness or concurrency limit).
    pub start_lateness_ms: f64,
    /// The audio of each direction (empty with `--no-media`, and for calls judged by the
    /// suite's checks, whose media figures are in their verdicts).
    #[serde(default)]
    pub legs: Vec<LegRecord>,
    /// Where the policy records the call: whether every recording verdict passed.
    /// `None` when no recording was expected (a direct run, a Never user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_ok: Option<bool>,
    /// The call's evidence files kept (its observation log, its capture), relative to
    /// the run directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Latency figures the call's judgement measured (calls judged by the suite's
    /// checks).
    #[serde(default, skip_serializing_if = "CallLatency::is_empty")]
    pub latency: CallLatency,
    /// Every check made on the call.
    pub checks: Vec<CallCheck>,
    /// Why the call failed; `None` when it passed.
    pub failure: Option<Failure>,
}

/// Latency figures of one call, as its judgement measured them: per party and per
/// recorded stream (the checks summarise a stream's frames; these are those summaries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallLatency {
    /// Answer to first media, per party, µs.
    #[serde(default)]
    pub answer_to_media_us: Vec<u64>,
    /// Mouth-to-ear p95 of each party's heard stream, µs.
    #[serde(default)]
    pub mouth_to_ear_p95_us: Vec<u64>,
    /// Party-to-recorder p95 of each recorded stream, µs.
    #[serde(default)]
    pub party_to_recorder_p95_us: Vec<u64>,
}

impl CallLatency {
    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.answer_to_media_us.is_empty()
            && self.mouth_to_ear_p95_us.is_empty()
            && self.party_to_recorder_p95_us.is_empty()
    }
}

impl CallRecord {
    /// The record of call `index`, started `start_ms` after the run's start and
    /// `lateness_ms` behind its due time, with nothing else known yet.
    pub fn started(index: u64, start_ms: f64, lateness_ms: f64) -> Self {
        Self {
            index,
            call_id: None,
            start_ms,
            setup_ms: None,
            hold_ms: 0.0,
            duration_ms: 0.0,
            bye_status: None,
            start_lateness_ms: lateness_ms,
            legs: vec![],
            recording_ok: None,
            evidence: Vec::new(),
            latency: CallLatency::default(),
            checks: vec![],
            failure: None,
        }
    }

    /// A call the harness could not place as planned (no slot, no user, a phone that
    /// could not be built): counted as the harness's failure, never the SUT's.
    pub fn harness_failure(index: u64, start_ms: f64, lateness_ms: f64, what: &str) -> Self {
        Self {
            failure: Some(Failure::Harness {
                what: what.to_owned(),
            }),
            ..Self::started(index, start_ms, lateness_ms)
        }
    }

    /// Whether the call passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// recproof's requirement ID for the load checks on the call and its media: the test
/// call happened, with every frame delivered in order and from the right party.
pub const RP_CALL: &str = "RP-CALL";
