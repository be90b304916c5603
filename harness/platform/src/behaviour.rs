//! What the platform does, as data: derived once from the fault profile and the legal
//! variant of a [`crate::PlatformConfig`], and read by the platform where it does each
//! thing. A fault or a variant is a value here, never a branch on its name elsewhere.
//!
//! This module owns the mapping from [`Fault`] and [`Variant`] to behaviour; it must not
//! hold state or touch the wire.

use crate::config::PauseStyle;
use crate::fault::Fault;
use crate::variant::Variant;
use std::time::Duration;

/// Whose audio a recorded stream is fed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    /// The caller's audio.
    Caller,
    /// The callee's audio (on a voicemail deposit: what the mailbox plays).
    Callee,
}

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    /// Calls are answered at all (`never-answers`: no).
    pub answers_calls: bool,
    /// Recording sessions are opened at all (`no-recording-session`: no).
    pub opens_recording_sessions: bool,
    /// Always-mode users are recorded (`always-not-recorded`: no).
    pub records_always_users: bool,
    /// Never-mode users are recorded as Always (`never-recorded`).
    pub records_never_users: bool,
    /// A location's vendor override is ignored (`location-override-ignored`).
    pub ignores_location_override: bool,
    /// Provider None still records, to the first provider (`none-provider-recorded`).
    pub records_provider_none: bool,
    /// Voicemail deposits are recorded when the policy says so.
    pub records_voicemail: bool,
    /// RTP is sent on recording sessions (`records-silence`: no).
    pub sends_recorded_rtp: bool,
    /// The SDP labels of the two streams: the first carries the caller.
    pub labels: [&'static str; 2],
    /// One stream only (`single-stream`).
    pub single_stream: bool,
    /// Metadata labels differ from the SDP labels (`label-mismatch`).
    pub label_mismatch: bool,
    /// Metadata times with `+00:00` instead of `Z`.
    pub offset_times: bool,
    /// The SRC's Contact carries the dialect's SRC marker.
    pub src_marker: bool,
    /// What each of the two recorded streams is fed from.
    pub feeds: [Feed; 2],
    /// Party audio keeps going to the recorder while paused (`fork-while-paused`).
    pub forks_while_paused: bool,
    /// Recorded media starts this long after the recording starts.
    pub recorded_media_delay_start: Duration,
    /// Extra delay on the recorded streams (a delay line), in 20 ms frames.
    pub recorded_delay_frames: usize,
    /// Extra one-way delay between the parties, in 20 ms frames.
    pub party_delay_frames: usize,
    /// The start/stop announcement is mixed into the recorded streams too.
    pub announcement_leaks: bool,
    /// The start/stop announcement is offered at all (variant: no).
    pub offers_start_stop: bool,
    /// The start/stop announcement is played (fault `no-announcement`: no).
    pub plays_start_stop: bool,
    /// Announcements are reported as metadata (`no-announcement-metadata`: no).
    pub reports_announcements: bool,
    /// Seconds added to each reminder interval (`reminder-drift`: 1).
    pub reminder_drift_s: u64,
    /// The reminder tone is played (`no-reminder`: no).
    pub plays_reminder: bool,
    /// The pause/resume notice is played (`no-pause-notice`: no).
    pub plays_pause_notice: bool,
    /// How pauses keep audio from the recorder, when a variant chooses it.
    pub pause_style: Option<PauseStyle>,
    /// Feature codes act (`feature-codes-ignored`: no).
    pub honours_feature_codes: bool,
    /// The configured failure behaviour applies (`failure-behaviour-ignored`: the call
    /// is released at once, silently).
    pub applies_failure_behaviour: bool,
    /// The recording session is ended with BYE when the call ends.
    pub ends_rs_with_call: bool,
}

/// The recorded-stream delay of `slow-recorded-media`.
pub(crate) const SLOW_RECORDED_MEDIA: Duration = Duration::from_millis(600);
/// The party-to-party delay of `slow-party-media`.
pub(crate) const SLOW_PARTY_MEDIA: Duration = Duration::from_millis(200);
/// Delay of recorded media with the `late-recording-start` fault.
pub(crate) const LATE_START: Duration = Duration::from_secs(2);

fn frames(d: Duration) -> usize {
    (d.as_millis() / 20) as usize
}

impl Behaviour {
    /// The behaviour of a platform with this fault and variant.
    pub(crate) fn of(fault: Option<Fault>, variant: Option<Variant>) -> Self {
        let f = |x: Fault| fault == Some(x);
        let v = |x: Variant| variant == Some(x);
        Self {
            answers_calls: !f(Fault::NeverAnswers),
            opens_recording_sessions: !f(Fault::NoRecordingSession),
            records_always_users: !f(Fault::AlwaysNotRecorded),
            records_never_users: f(Fault::NeverRecorded),
            ignores_location_override: f(Fault::LocationOverrideIgnored),
            records_provider_none: f(Fault::NoneProviderRecorded),
            records_voicemail: !f(Fault::VoicemailNotRecorded),
            sends_recorded_rtp: !f(Fault::RecordsSilence),
            labels: if v(Variant::LabelsOneZero) {
                ["1", "0"]
            } else if v(Variant::LabelsAB) {
                ["a", "b"]
            } else {
                ["1", "2"]
            },
            single_stream: f(Fault::SingleStream),
            label_mismatch: f(Fault::LabelMismatch),
            offset_times: v(Variant::OffsetTimes),
            src_marker: !f(Fault::NoSrcMarker),
            feeds: if f(Fault::OnePartyOnBothStreams) {
                [Feed::Caller, Feed::Caller]
            } else if f(Fault::SwappedStreams) {
                [Feed::Callee, Feed::Caller]
            } else {
                [Feed::Caller, Feed::Callee]
            },
            forks_while_paused: f(Fault::ForkWhilePaused),
            recorded_media_delay_start: if f(Fault::LateRecordingStart) {
                LATE_START
            } else {
                Duration::ZERO
            },
            recorded_delay_frames: if f(Fault::SlowRecordedMedia) {
                frames(SLOW_RECORDED_MEDIA)
            } else {
                0
            },
            party_delay_frames: if f(Fault::SlowPartyMedia) {
                frames(SLOW_PARTY_MEDIA)
            } else {
                0
            },
            announcement_leaks: f(Fault::AnnouncementLeaksIntoRecording),
            offers_start_stop: !v(Variant::NoStartStopAnnouncement),
            plays_start_stop: !f(Fault::NoAnnouncement),
            reports_announcements: !f(Fault::NoAnnouncementMetadata),
            reminder_drift_s: u64::from(f(Fault::ReminderDrift)),
            plays_reminder: !f(Fault::NoReminder),
            plays_pause_notice: !f(Fault::NoPauseNotice),
            pause_style: if v(Variant::PauseByStoppingRtp) {
                Some(PauseStyle::StopRtp)
            } else if v(Variant::PauseByHold0000) {
                Some(PauseStyle::ReinviteHold0000)
            } else {
                None
            },
            honours_feature_codes: !f(Fault::FeatureCodesIgnored),
            applies_failure_behaviour: !f(Fault::FailureBehaviourIgnored),
            ends_rs_with_call: !f(Fault::NoRsByeAtCallEnd),
        }
    }
}
