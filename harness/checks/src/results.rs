//! The results of a run (`results.json`): one typed document that the suite writes and
//! the report, `recproof judge` and any other reader read back, with its schema version
//! checked on reading.
//!
//! # What this module owns
//!
//! [`RunResults`] and [`ScenarioResult`] (every scenario with its verdicts, the
//! expectation it was judged against and the judged timeline), [`TimelineSummary`] (what
//! the checks derived about when the call was recorded, paused and resumed: the report
//! draws its bands from it instead of re-deriving them), and [`read`] (parse and check
//! the version).
//!
//! It must not judge or render: the checks produce verdicts, the report draws them.

use crate::expect::CallExpectation;
use crate::timeline::Timeline;
use crate::verdict::{Status, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Version of `results.json`; bump on incompatible change. Version 2: verdict
/// preconditions, asserted check ids, the expectation and judged timeline per scenario.
pub const RESULTS_SCHEMA: u32 = 2;

/// A scenario's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioStatus {
    /// Every step passed, and no verdict of its call FAILed.
    Passed,
    /// A step failed (an asserted check did not PASS, a precondition FAILed, or a
    /// collateral FAIL).
    Failed,
    /// Not run: the SUT does not offer what it needs, no profile user has its settings,
    /// the run was interrupted, or a step has no definition.
    Skipped,
}

impl ScenarioStatus {
    /// The word the console and JUnit use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One scenario as run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Feature name.
    pub feature: String,
    /// Scenario name (outline rows keep the outline's name).
    pub scenario: String,
    /// Tags of the feature and scenario (requirement IDs among them).
    pub tags: Vec<String>,
    /// Outcome.
    pub status: ScenarioStatus,
    /// The failed step's message, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The call's label in the observation log.
    #[serde(default)]
    pub call: Option<String>,
    /// The requirements the scenario's `Then` steps asserted.
    #[serde(default)]
    pub asserted: Vec<String>,
    /// The check ids the scenario's `Then` steps asserted (the preconditions are
    /// asserted by every step and not listed).
    #[serde(default)]
    pub asserted_checks: Vec<String>,
    /// Every verdict the checks gave on the call.
    #[serde(default)]
    pub verdicts: Vec<Verdict>,
    /// What the checks were told to expect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<CallExpectation>,
    /// What the checks derived about the call's recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<TimelineSummary>,
    /// Why the call's evidence files (pcap, WAVs) are missing, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_error: Option<String>,
    /// Why the scenario was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// The recording sessions the harness SRC opened in this scenario (recorder runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rs_sessions: Vec<RsSessionRecord>,
}

impl ScenarioResult {
    /// True when `v` is one of the verdicts this scenario asserted (a check its steps
    /// named, or a precondition).
    pub fn is_asserted(&self, v: &Verdict) -> bool {
        crate::preconditions::is_precondition(&v.check) || self.asserted_checks.contains(&v.check)
    }

    /// FAIL verdicts among those the scenario asserted.
    pub fn asserted_failures(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.status == Status::Fail && self.is_asserted(v))
    }

    /// Verdicts the scenario asserted that did not PASS without failing either: NOT
    /// APPLICABLE or INFO (not judged), or WARN outside the dialect rules. They fail the
    /// step that asserts them.
    pub fn asserted_not_judged(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| {
            self.asserted_checks.contains(&v.check)
                && match v.status {
                    Status::NotApplicable | Status::Info => true,
                    Status::Warn => v.check != "message.validate",
                    Status::Pass | Status::Fail => false,
                }
        })
    }

    /// FAIL verdicts no step of the scenario asserted (they still fail it).
    pub fn collateral_failures(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.status == Status::Fail && !self.is_asserted(v))
    }
}

/// `results.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    /// Schema version ([`RESULTS_SCHEMA`]).
    pub schema: u32,
    /// recproof version.
    pub tool_version: String,
    /// What was tested (`embedded-reference`, `embedded-reference fault=<name>`, a
    /// profile's name).
    pub sut: String,
    /// Base seed (audio and timing; real-time runs draw fresh SIP identifiers).
    pub seed: u64,
    /// `simulated` or `real`.
    pub clock: String,
    /// Every scenario.
    pub scenarios: Vec<ScenarioResult>,
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios skipped.
    pub skipped: usize,
    /// Call time covered (simulated seconds, or wall seconds of the calls in real time).
    pub call_seconds: f64,
    /// Wall time of the run.
    pub wall_seconds: f64,
    /// The run was interrupted (Ctrl-C), or ended before writing its results (then
    /// rebuilt from its observation log: `sut` says so).
    pub interrupted: bool,
    /// The tolerances the checks used.
    pub tolerances: crate::Tolerances,
    /// When the run started (RFC 3339, UTC).
    #[serde(default)]
    pub started_at: String,
    /// The SUT profile the run used, if any, with its SHA-256, so a report names exactly
    /// what was tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
}

/// A profile file a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRef {
    /// Its path, as given.
    pub path: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// One recording session the harness SRC opened at a recorder under test, as the
/// recorder checks read it from the log (what was sent and how it was answered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RsSessionRecord {
    /// What it tested (`valid`, `plain-invite`, `malformed-xml`...).
    pub case: String,
    /// The dialect it was written in.
    pub dialect: String,
    /// How its body was written (part order, line ends, header spacing, media type).
    pub style: String,
    /// The recorder's final response, if any.
    pub final_code: Option<u16>,
    /// INVITE to final response, ms.
    pub answer_ms: Option<f64>,
}

impl RunResults {
    /// True when no scenario failed, none was skipped for a missing step definition
    /// or an interruption, and at least one ran. Skips for want of a capability or a
    /// matching profile user are allowed (they are listed).
    pub fn passed_gate(&self) -> bool {
        self.failed == 0
            && self.passed > 0
            && !self.interrupted
            && self
                .scenarios
                .iter()
                .filter(|s| s.status == ScenarioStatus::Skipped)
                .all(|s| s.skip_reason.is_some())
    }

    /// Requirement IDs with any FAIL verdict on any call.
    pub fn failed_requirements(&self) -> BTreeSet<String> {
        self.scenarios
            .iter()
            .flat_map(|s| &s.verdicts)
            .filter(|v| v.status == Status::Fail)
            .map(|v| v.requirement.clone())
            .collect()
    }
}

/// Why `results.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Not JSON of this shape.
    #[error("results.json does not parse: {0}")]
    Parse(String),
    /// Another schema version.
    #[error(
        "results.json has schema {found}, this recproof reads {RESULTS_SCHEMA}; re-run the suite or use the recproof that wrote it"
    )]
    Version {
        /// The version in the file.
        found: u32,
    },
}

/// Reads `results.json`, checking the schema version first (so an old file says so
/// instead of failing on a missing field).
pub fn read(bytes: &[u8]) -> Result<RunResults, ResultsError> {
    #[derive(Deserialize)]
    struct Head {
        schema: u32,
    }
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| ResultsError::Parse(e.to_string()))?;
    if head.schema != RESULTS_SCHEMA {
        return Err(ResultsError::Version { found: head.schema });
    }
    serde_json::from_slice(bytes).map_err(|e| ResultsError::Parse(e.to_string()))
}

/// A recording event the checks found, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    /// When, µs on the log's clock.
    pub t_us: u64,
    /// `start`, `stop`, `pause`, `resume`.
    pub kind: String,
    /// How it was observed.
    pub source: String,
}

/// What the checks derived about one call's recording: the report draws from this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TimelineSummary {
    /// When the caller saw the call answered, µs.
    pub answered_us: Option<u64>,
    /// When the call ended, µs.
    pub ended_us: Option<u64>,
    /// Windows in which recording ran: (from, to) µs.
    pub recording: Vec<(u64, u64)>,
    /// Windows in which recording was paused: (from, to) µs.
    pub paused: Vec<(u64, u64)>,
    /// The recording events, by time.
    pub events: Vec<EventSummary>,
}

impl TimelineSummary {
    /// The summary of a derived timeline.
    pub fn of(t: &Timeline) -> Self {
        Self {
            answered_us: t.answered_us,
            ended_us: Some(t.end_us()),
            recording: t.recording_windows(),
            paused: t
                .paused_windows()
                .into_iter()
                .map(|(a, b, _)| (a, b))
                .collect(),
            events: t
                .events
                .iter()
                .map(|e| EventSummary {
                    t_us: e.t_us,
                    kind: e.kind.as_str().to_owned(),
                    source: e.source.clone(),
                })
                .collect(),
        }
    }
}
