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
/// What the notice sounds like is in [`Signals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum PauseNotice {
    /// No notice (`enabled: false` or type `None`).
    #[default]
    None,
    /// A beep tone ([`Signals::beep_hz`]).
    Beep,
    /// An announcement at pause ([`Signals::pause_clip`]) and at resume
    /// ([`Signals::resume_clip`]).
    Announcement,
}

impl PauseNotice {
    /// The Webex spelling (`Beep`, `Play Announcement`, `None`).
    pub fn webex_name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Beep => "Beep",
            Self::Announcement => "Play Announcement",
        }
    }
}

/// What the SUT's recording notices sound like: the clip names the listeners detect
/// (each the name of a reference recording the phones and recorders correlate against)
/// and the tone frequencies. A field that is `None` is unknown: a check that needs it
/// says it cannot judge, and never substitutes another platform's value.
///
/// For the embedded reference platform the suite fills in the platform's own clips and
/// tones; for an external SUT only what its profile gives.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Signals {
    /// The start announcement ("this call is being recorded").
    pub start_clip: Option<String>,
    /// The stop announcement.
    pub stop_clip: Option<String>,
    /// The pause announcement (notification `Play Announcement`).
    pub pause_clip: Option<String>,
    /// The resume announcement.
    pub resume_clip: Option<String>,
    /// What the parties hear when the recorder fails and the failure behaviour announces
    /// it (POL-13).
    pub failure_clip: Option<String>,
    /// The voicemail greeting the caller hears before the deposit (POL-10).
    pub greeting_clip: Option<String>,
    /// Reminder tone frequency, Hz (POL-06).
    pub reminder_hz: Option<f64>,
    /// Pause/resume beep frequency, Hz (POL-07).
    pub beep_hz: Option<f64>,
}

impl Signals {
    /// Every recording notice clip that is known: start, stop, pause, resume, failure.
    pub fn notice_clips(&self) -> Vec<&str> {
        [
            &self.start_clip,
            &self.stop_clip,
            &self.pause_clip,
            &self.resume_clip,
            &self.failure_clip,
        ]
        .into_iter()
        .filter_map(|c| c.as_deref())
        .collect()
    }
}

/// The start/stop announcement, POL-03/04/05.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Announcements {
    /// `startStopAnnouncementEnabled` (for this call's type: internal or PSTN).
    pub enabled: bool,
    /// Whether each announcement must be reported to the SRS as recproof's
    /// announcement element (POL-05). `false` for an external SUT whose profile names no
    /// format: what arrives is then only recorded (INFO), which never passes a step.
    pub metadata: bool,
}

impl Default for Announcements {
    fn default() -> Self {
        Self {
            enabled: true,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// `recordVoicemailEnabled`: whether the deposit must be recorded.
    pub recorded: bool,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The configured behaviour.
    pub behavior: FailureBehavior,
}

/// The metadata and SIP dialect the RS requests are judged under (the two dialects of
/// `docs/requirements.md`: RFC 7866/7865 to the letter, or what Webex and BroadWorks
/// send).
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

    /// The spelling scenarios and profiles use.
    pub fn name(self) -> &'static str {
        match self {
            Self::RfcStrict => "rfc-strict",
            Self::BroadworksCompat => "broadworks-compat",
        }
    }
}

/// Who the two parties of the call are, as SIP identities (a URI, or just its user
/// part: `+4722000001`, `2001`). The recording metadata names its participants by AoR;
/// matching those against these identities is how a recorded stream's label is tied to
/// a party (POL-09). No label value is assumed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Parties {
    /// The caller's identity (the harness caller's URI or number).
    pub caller: String,
    /// The callee's identity (the extension the caller dialled).
    pub callee: String,
}

impl Parties {
    /// Which party a metadata participant AoR is: its user part (the number or name
    /// before `@`, without `+`, visual separators and URI parameters) equal to a party's.
    /// `None` when it matches neither or both.
    pub fn party_of_aor(&self, aor: &str) -> Option<&'static str> {
        let who = user_part(aor)?;
        let caller = user_part(&self.caller).is_some_and(|u| u == who);
        let callee = user_part(&self.callee).is_some_and(|u| u == who);
        match (caller, callee) {
            (true, false) => Some("caller"),
            (false, true) => Some("callee"),
            _ => None,
        }
    }
}

/// The comparable user part of a SIP/tel URI or a bare number: `sip:+47 22-00@h;x` →
/// `472200`. `None` when there is none (a URI without a user, an empty string).
pub fn user_part(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches('<').trim_end_matches('>');
    let scheme = ["sips:", "sip:", "tel:"].into_iter().find(|p| {
        s.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    });
    let rest = scheme.map_or(s, |p| &s[p.len()..]);
    let user = match (rest.split_once('@'), scheme) {
        (Some((user, _)), _) => user,
        // `tel:` has no host; a bare string is a user part already.
        (None, Some("tel:") | None) => rest,
        // `sip:host:port`: no user.
        (None, Some(_)) => return None,
    };
    let user = user.split(';').next().unwrap_or(user);
    let out: String = user
        .chars()
        .filter(|c| !matches!(c, '+' | '-' | '.' | '(' | ')' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod user_part_tests {
    use super::{Parties, user_part};

    #[test]
    fn user_parts_compare_numbers_and_names() {
        assert_eq!(
            user_part("sip:+4722000001@10.0.0.2:5060").as_deref(),
            Some("4722000001")
        );
        assert_eq!(
            user_part("<sip:2001@h;user=phone>").as_deref(),
            Some("2001")
        );
        assert_eq!(
            user_part("tel:+47-22-00-00-01").as_deref(),
            Some("4722000001")
        );
        assert_eq!(user_part("2001").as_deref(), Some("2001"));
        assert_eq!(user_part("sip:10.0.0.1:5060"), None);
        assert_eq!(user_part(""), None);
        let p = Parties {
            caller: "+4722000001".into(),
            callee: "2001".into(),
        };
        assert_eq!(
            p.party_of_aor("sip:+4722000001@sbc.example"),
            Some("caller")
        );
        assert_eq!(p.party_of_aor("sip:2001@pbx"), Some("callee"));
        assert_eq!(p.party_of_aor("sip:voicemail-2001@pbx"), None);
        // A participant that is both (the same identity twice) is neither.
        let same = Parties {
            caller: "2001".into(),
            callee: "2001".into(),
        };
        assert_eq!(same.party_of_aor("sip:2001@pbx"), None);
    }
}

/// What the policy says should happen on one call, and what the SUT's notices sound
/// like. `Default` is the suite's default call: the callee recorded Always by the org's
/// SRS (unnamed), announcement on, no reminder, no pause notice, BroadWorks codes, two
/// streams, no parties and no signals known (so a test must name them).
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
    /// Reminder tone interval, seconds (`repeat.interval`); `None` when `repeat.enabled`
    /// is false.
    pub reminder_interval_s: Option<f64>,
    /// Pause/resume notice.
    pub pause_notice: PauseNotice,
    /// Feature access codes.
    pub feature_codes: FeatureCodes,
    /// `Some` when the call goes to voicemail.
    pub voicemail: Option<Voicemail>,
    /// Streams per recording session (POL-09: 2).
    pub streams: usize,
    /// The two parties' identities, to tie metadata participants to parties.
    pub parties: Parties,
    /// `Some` when the SRS is made to fail and this is the configured behaviour.
    pub failure: Option<Failure>,
    /// Dialect the RS requests are validated under.
    pub dialect: Dialect,
    /// What the SUT's notices sound like.
    pub signals: Signals,
}

impl Default for CallExpectation {
    fn default() -> Self {
        Self {
            mode: RecordMode::Always,
            srs: Some(SrsTarget::default()),
            announcements: Announcements::default(),
            reminder_interval_s: None,
            pause_notice: PauseNotice::None,
            feature_codes: FeatureCodes::default(),
            voicemail: None,
            streams: 2,
            parties: Parties::default(),
            failure: None,
            dialect: Dialect::BroadworksCompat,
            signals: Signals::default(),
        }
    }
}

impl CallExpectation {
    /// Whether the policy records this call at all (provider not None, mode not Never;
    /// voicemail calls: `recordVoicemailEnabled`). A call whose recorder is made to fail
    /// is "recorded" in this sense: the platform must try.
    pub fn recording_expected(&self) -> bool {
        if self.srs.is_none() || self.mode == RecordMode::Never {
            return false;
        }
        self.voicemail.as_ref().is_none_or(|v| v.recorded)
    }

    /// Why the policy does not record this call, in words (`None` when it does).
    pub fn not_recorded_because(&self) -> Option<String> {
        if self.srs.is_none() {
            return Some("the provider is None".into());
        }
        if self.mode == RecordMode::Never {
            return Some("the recording mode is \"Never\"".into());
        }
        if self.voicemail.is_some_and(|v| !v.recorded) {
            return Some("voicemail recording is disabled".into());
        }
        None
    }
}

/// How strict the checks are. All times in milliseconds.
///
/// Two sets of defaults: [`Tolerances::default`] fits the embedded reference platform
/// under the simulated clock (tight: the platform's timing is exact there), and
/// [`Tolerances::real_time`] is meant for a real SUT on a real network, where the
/// harness's own scheduling and the network add jitter. A SUT profile's `tolerances:`
/// overrides fields of the real-time set ([`Tolerances::real_time_with`]); each field's
/// doc gives both values.
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
    /// RP-CALL (precondition): a recording the policy calls for must be set up (the
    /// recorder's 2xx to the RS INVITE) within this of answer, or of the start code in On
    /// Demand mode. Default 2000 ms; real time 3000 ms.
    pub recording_setup_ms: f64,
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
            recording_setup_ms: 2000.0,
        }
    }
}

impl Tolerances {
    /// Defaults for a real SUT on a real network, where the harness's own timers and the
    /// network add tens of milliseconds: reminder interval ± 1000 ms (the checklist's
    /// assumption), first reminder ± 1500 ms, feature-code reaction 1500 ms, answer to
    /// recorded audio 2000 ms, answer to media 1000 ms, party-to-recorder p95 1000 ms,
    /// recording set-up 3000 ms; the rest as [`Tolerances::default`].
    pub fn real_time() -> Self {
        Self {
            reminder_interval_ms: 1000.0,
            reminder_first_ms: 1500.0,
            feature_reaction_ms: 1500.0,
            answer_to_recording_ms: 2000.0,
            answer_to_media_ms: 1000.0,
            party_to_recorder_p95_ms: 1000.0,
            recording_setup_ms: 3000.0,
            ..Self::default()
        }
    }

    /// [`Tolerances::real_time`] with the fields a profile gives (a YAML/JSON map of field
    /// names to numbers) put over it. Unknown fields are an error (naming them).
    pub fn real_time_with(overrides: &serde_json::Value) -> Result<Self, String> {
        let mut base = serde_json::to_value(Self::real_time()).map_err(|e| e.to_string())?;
        match (overrides, &mut base) {
            (serde_json::Value::Null, _) => {}
            (serde_json::Value::Object(o), serde_json::Value::Object(b)) => {
                for (k, v) in o {
                    b.insert(k.clone(), v.clone());
                }
            }
            _ => return Err("tolerances must be a map of field names to numbers".into()),
        }
        serde_json::from_value(base).map_err(|e| e.to_string())
    }
}

/// Milliseconds to µs for comparisons with log times.
pub(crate) fn ms_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}
