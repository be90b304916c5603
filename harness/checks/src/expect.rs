//! What the checks are told to expect: the policy for one call ([`CallExpectation`]) and
//! how strict to be ([`Tolerances`]).
//!
//! Both are plain data with serde `Deserialize`, so a SUT profile (YAML) can carry them:
//! an external system under test states its announcement clip names, tone frequencies,
//! feature codes and thresholds there. Every field has a documented default, which is
//! what the embedded reference platform does.
//!
//! This module owns no logic beyond defaults and small lookups; it must not read a log.

use serde::{Deserialize, Serialize};
use siprec::Profile;
use std::collections::BTreeMap;

/// The recording mode of the recorded person (Webex `callRecording.record`), POL-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
pub enum RecordMode {
    /// `Always`: recorded from answer to release, no user control.
    #[default]
    Always,
    /// `Never`: not recorded.
    Never,
    /// `Always with Pause/Resume`: recorded from answer; pause and resume codes work,
    /// stop does not.
    #[serde(alias = "Always with Pause/Resume")]
    AlwaysWithPauseResume,
    /// `On Demand with User Initiated Start`: only what follows the start code is
    /// recorded; pause, resume and stop work.
    #[serde(alias = "On Demand with User Initiated Start")]
    OnDemand,
}

impl RecordMode {
    /// The Webex spelling, for summaries.
    pub fn webex_name(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::Never => "Never",
            Self::AlwaysWithPauseResume => "Always with Pause/Resume",
            Self::OnDemand => "On Demand with User Initiated Start",
        }
    }

    /// Whether the mode lets the user pause and resume.
    pub fn allows_pause(self) -> bool {
        matches!(self, Self::AlwaysWithPauseResume | Self::OnDemand)
    }

    /// Whether the mode lets the user start and stop.
    pub fn allows_start_stop(self) -> bool {
        self == Self::OnDemand
    }
}

/// The recorder a call's recording session should reach (POL-11): the provider's SRS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SrsTarget {
    /// Provider name, for summaries (`Dubber`).
    #[serde(default)]
    pub provider: Option<String>,
    /// `host:port` where that SRS receives SIP (compared with the address the SRS
    /// emulator received the RS INVITE on).
    #[serde(default)]
    pub address: Option<String>,
    /// The SRS URI (`sip:dubber@10.0.1.1:5060`); its host and port are compared with the
    /// RS INVITE's Request-URI.
    #[serde(default)]
    pub uri: Option<String>,
}

/// How the parties are told about pause and resume (Webex `notification`), POL-07.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub enum PauseNotice {
    /// No notice (`enabled: false` or type `None`).
    #[default]
    None,
    /// A beep tone.
    Beep {
        /// Its frequency, Hz (reference platform: 1000).
        #[serde(default = "default_beep_hz")]
        freq_hz: f64,
    },
    /// An announcement clip at pause and another at resume.
    Announcement {
        /// Clip played at pause.
        #[serde(default = "default_pause_clip")]
        pause_clip: String,
        /// Clip played at resume.
        #[serde(default = "default_resume_clip")]
        resume_clip: String,
    },
}

fn default_beep_hz() -> f64 {
    1000.0
}
fn default_pause_clip() -> String {
    "announcement-pause".into()
}
fn default_resume_clip() -> String {
    "announcement-resume".into()
}

/// The reminder ("this call is recorded") tone, POL-06.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    /// `repeat.interval`, seconds (Webex default 20).
    pub interval_s: f64,
    /// Tone frequency, Hz (reference platform: 1400).
    #[serde(default = "default_reminder_hz")]
    pub freq_hz: f64,
}

fn default_reminder_hz() -> f64 {
    1400.0
}

/// The start/stop announcement, POL-03/04/05.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Announcements {
    /// `startStopAnnouncementEnabled` (for this call's type: internal or PSTN).
    pub enabled: bool,
    /// Clip played when recording starts.
    pub start_clip: String,
    /// Clip played when recording stops.
    pub stop_clip: String,
    /// Whether each announcement must be reported to the SRS as recproof's
    /// announcement element (POL-05). `false` for an external SUT whose profile names no
    /// format: what arrives is then only recorded (INFO).
    pub metadata: bool,
}

impl Default for Announcements {
    fn default() -> Self {
        Self {
            enabled: true,
            start_clip: "announcement-start".into(),
            stop_clip: "announcement-stop".into(),
            metadata: true,
        }
    }
}

/// The feature access codes (RFC 4733 DTMF by the recorded party), POL-02.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureCodes {
    /// Start recording (BroadWorks default `*44`).
    pub start: String,
    /// Stop recording (`*45`).
    pub stop: String,
    /// Pause recording (`*48`).
    pub pause: String,
    /// Resume recording (`*49`).
    pub resume: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        Self {
            start: "*44".into(),
            stop: "*45".into(),
            pause: "*48".into(),
            resume: "*49".into(),
        }
    }
}

/// A call that goes to voicemail (unanswered or declined), POL-10.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// `recordVoicemailEnabled`: whether the deposit must be recorded.
    pub recorded: bool,
    /// The greeting clip the caller hears.
    #[serde(default = "default_greeting")]
    pub greeting_clip: String,
}

fn default_greeting() -> String {
    "voicemail-greeting".into()
}

/// Webex `failureBehavior` (POL-13 / SRC-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureBehavior {
    /// The call goes on, nobody is told.
    #[default]
    ProceedWithCallNoAnnouncement,
    /// The call goes on, the parties hear an announcement.
    ProceedCallWithAnnouncement,
    /// The parties hear an announcement, then the platform ends the call.
    EndCallWithAnnouncement,
}

/// What to expect when the SRS fails (POL-13).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The configured behaviour.
    pub behavior: FailureBehavior,
    /// The clip that tells the parties (reference platform: `announcement-stop`).
    #[serde(default = "default_failure_clip")]
    pub clip: String,
}

fn default_failure_clip() -> String {
    "announcement-stop".into()
}

/// The metadata and SIP dialect the RS requests are judged under (checklist §0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// RFC 7866 / 7865 to the letter.
    RfcStrict,
    /// What Webex and BroadWorks send (the reference platform's default).
    #[default]
    BroadworksCompat,
}

impl Dialect {
    /// The validation profile of `recproof-siprec`.
    pub fn profile(self) -> Profile {
        match self {
            Self::RfcStrict => Profile::RfcStrict,
            Self::BroadworksCompat => Profile::BroadworksCompat,
        }
    }
}

/// What the policy says should happen on one call. `Default` is the suite's default:
/// callee recorded Always by the org's SRS (unnamed), announcement on, no reminder, no
/// pause notice, BroadWorks codes, two streams (label 1 the caller, label 2 the callee).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallExpectation {
    /// Recording mode of the recorded person.
    pub mode: RecordMode,
    /// Where the recording must go. `None`: the provider is "None", so no recording at
    /// all (POL-12), whatever the mode.
    pub srs: Option<SrsTarget>,
    /// Start/stop announcement.
    pub announcements: Announcements,
    /// Reminder tone; `None` when `repeat.enabled` is false.
    pub reminder: Option<Reminder>,
    /// Pause/resume notice.
    pub pause_notice: PauseNotice,
    /// Feature access codes.
    pub feature_codes: FeatureCodes,
    /// `Some` when the call goes to voicemail.
    pub voicemail: Option<Voicemail>,
    /// Streams per recording session (POL-09: 2).
    pub streams: usize,
    /// Which party's audio each SDP label carries (`1` → `caller`, `2` → `callee`).
    pub stream_parties: BTreeMap<String, String>,
    /// `Some` when the SRS is made to fail and this is the configured behaviour.
    pub failure: Option<Failure>,
    /// Dialect the RS requests are validated under.
    pub dialect: Dialect,
}

impl Default for CallExpectation {
    fn default() -> Self {
        Self {
            mode: RecordMode::Always,
            srs: Some(SrsTarget::default()),
            announcements: Announcements::default(),
            reminder: None,
            pause_notice: PauseNotice::None,
            feature_codes: FeatureCodes::default(),
            voicemail: None,
            streams: 2,
            stream_parties: BTreeMap::from([
                ("1".into(), "caller".into()),
                ("2".into(), "callee".into()),
            ]),
            failure: None,
            dialect: Dialect::BroadworksCompat,
        }
    }
}

impl CallExpectation {
    /// Whether the policy records this call at all (provider not None, mode not Never;
    /// voicemail calls: `recordVoicemailEnabled`).
    pub fn recording_expected(&self) -> bool {
        if self.srs.is_none() || self.mode == RecordMode::Never {
            return false;
        }
        self.voicemail.as_ref().is_none_or(|v| v.recorded)
    }

    /// The party whose audio the stream with this label must carry.
    pub fn party_of_label(&self, label: &str) -> Option<&str> {
        self.stream_parties.get(label).map(String::as_str)
    }
}

/// How strict the checks are. All times in milliseconds; defaults are documented per
/// field and fit the embedded reference platform under the simulated clock.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tolerances {
    /// POL-06: each measured reminder interval may differ from the configured one by this
    /// much. Default 50 ms (the reference platform); the checklist's assumption for a
    /// real SUT is 1000 ms.
    pub reminder_interval_ms: f64,
    /// POL-06: the first reminder comes `interval` after recording start (the RS INVITE
    /// at the SRS) within this much. Default 1000 ms (network and setup time).
    pub reminder_first_ms: f64,
    /// Tone detection: a burst within this many Hz of the expected frequency counts.
    /// Default 30 Hz.
    pub tone_freq_hz: f64,
    /// POL-03/07: a notice may begin this long before the recording event it belongs to
    /// (the SUT may announce before it signals). Default 3000 ms.
    pub notice_before_ms: f64,
    /// POL-03/07: ... and must begin at most this long after it. Default 3000 ms.
    pub notice_after_ms: f64,
    /// POL-05: a metadata update must reach the SRS within T of the announcement
    /// (between onset - T and end + T). Default 2000 ms (checklist SRC-14's T).
    pub metadata_delay_ms: f64,
    /// POL-02/SRC-17: time a feature code may take to act at the SRS after its last
    /// digit was sent, and the grace after a pause before audio must have stopped.
    /// Default 1000 ms.
    pub feature_reaction_ms: f64,
    /// Two key presses further apart than this do not form one code. Default 3000 ms.
    pub key_gap_ms: f64,
    /// SRC-20: the RS BYE must come within this of the end of the call. Default 5000 ms
    /// (checklist SRC-20).
    pub rs_end_ms: f64,
    /// POL-01: recorded party audio must start within this of answer (Always modes).
    /// Default 1000 ms.
    pub answer_to_recording_ms: f64,
    /// POL-01: front clipping of the recording (party audio missing from its start)
    /// must not exceed this. Default 500 ms.
    pub front_clip_ms: f64,
    /// RP-LATENCY: answer to first media heard, per party. Default 500 ms.
    pub answer_to_media_ms: f64,
    /// RP-LATENCY: mouth-to-ear latency p95 limit. Default 150 ms (ITU-T G.114).
    pub mouth_to_ear_p95_ms: f64,
    /// RP-LATENCY: party-to-recorder latency p95 limit. Default 500 ms.
    pub party_to_recorder_p95_ms: f64,
    /// POL-09: frames of the wrong party a stream may carry before it fails. Default 0.
    pub foreign_frames: u64,
    /// POL-10/13: how long after a failure or the end of the greeting the platform may
    /// take to act (release the call). Default 10000 ms.
    pub failure_release_ms: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            reminder_interval_ms: 50.0,
            reminder_first_ms: 1000.0,
            tone_freq_hz: 30.0,
            notice_before_ms: 3000.0,
            notice_after_ms: 3000.0,
            metadata_delay_ms: 2000.0,
            feature_reaction_ms: 1000.0,
            key_gap_ms: 3000.0,
            rs_end_ms: 5000.0,
            answer_to_recording_ms: 1000.0,
            front_clip_ms: 500.0,
            answer_to_media_ms: 500.0,
            mouth_to_ear_p95_ms: 150.0,
            party_to_recorder_p95_ms: 500.0,
            foreign_frames: 0,
            failure_release_ms: 10_000.0,
        }
    }
}

/// Milliseconds to µs for comparisons with log times.
pub(crate) fn ms_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}
