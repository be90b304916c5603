//! Fault profiles: named variants of the reference platform that each break exactly one
//! requirement, so every check can be shown to fail against its fault and pass against
//! the clean platform.
//!
//! This module owns the catalogue (names, requirement IDs, descriptions). What each fault
//! changes is data ([`crate::behaviour::Behaviour`]) the platform reads; this module
//! must not hold behaviour.
//!
//! Besides faults that break one requirement, some are *whole failures* (a SUT that
//! answers and never records, one that never answers, one that records silence): the
//! suite's self-test runs every scenario against them and requires each to fail, except
//! the scenarios that assert the absence of a recording.

/// One way the reference platform can be made to misbehave. See the crate README for the
/// table and what exactly changes in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// The start/stop announcement is also mixed into the recorded streams.
    AnnouncementLeaksIntoRecording,
    /// The start/stop announcement is not played (the metadata still reports it).
    NoAnnouncement,
    /// The reminder tone comes every `interval + 1` seconds.
    ReminderDrift,
    /// No reminder tone at all.
    NoReminder,
    /// Party audio keeps flowing to the recorder while paused.
    ForkWhilePaused,
    /// No beep or announcement at pause and resume (the metadata still reports it).
    NoPauseNotice,
    /// Announcements are not reported to the recorder as metadata.
    NoAnnouncementMetadata,
    /// One stream instead of one per party: the callee's stream is missing.
    SingleStream,
    /// The SDP `a=label`s differ from the metadata `<label>`s.
    LabelMismatch,
    /// The RS Contact carries neither `+sip.src` nor `;src`.
    NoSrcMarker,
    /// Users in Always mode are not recorded.
    AlwaysNotRecorded,
    /// Users in Never mode are recorded as if Always.
    NeverRecorded,
    /// A location's vendor override is ignored: everyone goes to the organisation's vendor.
    LocationOverrideIgnored,
    /// Voicemail deposits are not recorded even with `recordVoicemailEnabled`.
    VoicemailNotRecorded,
    /// Recorded media starts 2 s after answer (front clipping).
    LateRecordingStart,
    /// Calls are answered and connected, but no recording session is ever opened, for
    /// any user, mode or voicemail deposit (a whole failure; not `always-not-recorded`,
    /// which spares the other modes).
    NoRecordingSession,
    /// Recording sessions are set up, but no RTP is ever sent on them (a whole failure).
    RecordsSilence,
    /// The platform never answers a call: no final response, nothing routed (a whole
    /// failure).
    NeverAnswers,
    /// Both recorded streams carry the caller's audio.
    OnePartyOnBothStreams,
    /// The caller's audio goes on the stream the metadata ties to the callee, and the
    /// other way round.
    SwappedStreams,
    /// Feature access codes (start, stop, pause, resume) are ignored.
    FeatureCodesIgnored,
    /// Provider None (organisation or location) still records, to the first provider
    /// the policy configures.
    NoneProviderRecorded,
    /// When the recorder fails, the call is released at once without an announcement,
    /// whatever `failureBehavior` says.
    FailureBehaviourIgnored,
    /// The recording session is never ended with BYE when the call ends.
    NoRsByeAtCallEnd,
    /// 200 ms more one-way delay between the parties (mouth-to-ear over 150 ms).
    SlowPartyMedia,
    /// 600 ms more delay on the recorded streams (party-to-recorder over 500 ms).
    SlowRecordedMedia,
}

impl Fault {
    /// Every fault, in catalogue order.
    pub const ALL: &'static [Fault] = &[
        Self::AnnouncementLeaksIntoRecording,
        Self::NoAnnouncement,
        Self::ReminderDrift,
        Self::NoReminder,
        Self::ForkWhilePaused,
        Self::NoPauseNotice,
        Self::NoAnnouncementMetadata,
        Self::SingleStream,
        Self::LabelMismatch,
        Self::NoSrcMarker,
        Self::AlwaysNotRecorded,
        Self::NeverRecorded,
        Self::LocationOverrideIgnored,
        Self::VoicemailNotRecorded,
        Self::LateRecordingStart,
        Self::NoRecordingSession,
        Self::RecordsSilence,
        Self::NeverAnswers,
        Self::OnePartyOnBothStreams,
        Self::SwappedStreams,
        Self::FeatureCodesIgnored,
        Self::NoneProviderRecorded,
        Self::FailureBehaviourIgnored,
        Self::NoRsByeAtCallEnd,
        Self::SlowPartyMedia,
        Self::SlowRecordedMedia,
    ];

    /// The CLI name (`recproof platform --fault NAME`), kebab-case.
    pub fn name(self) -> &'static str {
        match self {
            Self::AnnouncementLeaksIntoRecording => "announcement-leaks-into-recording",
            Self::NoAnnouncement => "no-announcement",
            Self::ReminderDrift => "reminder-drift",
            Self::NoReminder => "no-reminder",
            Self::ForkWhilePaused => "fork-while-paused",
            Self::NoPauseNotice => "no-pause-notice",
            Self::NoAnnouncementMetadata => "no-announcement-metadata",
            Self::SingleStream => "single-stream",
            Self::LabelMismatch => "label-mismatch",
            Self::NoSrcMarker => "no-src-marker",
            Self::AlwaysNotRecorded => "always-not-recorded",
            Self::NeverRecorded => "never-recorded",
            Self::LocationOverrideIgnored => "location-override-ignored",
            Self::VoicemailNotRecorded => "voicemail-not-recorded",
            Self::LateRecordingStart => "late-recording-start",
            Self::NoRecordingSession => "no-recording-session",
            Self::RecordsSilence => "records-silence",
            Self::NeverAnswers => "never-answers",
            Self::OnePartyOnBothStreams => "one-party-on-both-streams",
            Self::SwappedStreams => "swapped-streams",
            Self::FeatureCodesIgnored => "feature-codes-ignored",
            Self::NoneProviderRecorded => "none-provider-recorded",
            Self::FailureBehaviourIgnored => "failure-behaviour-ignored",
            Self::NoRsByeAtCallEnd => "no-rs-bye-at-call-end",
            Self::SlowPartyMedia => "slow-party-media",
            Self::SlowRecordedMedia => "slow-recorded-media",
        }
    }

    /// The requirement (ID of `docs/requirements.md`) the fault breaks. A whole failure
    /// names the precondition requirement `RP-CALL`, which every scenario asserts.
    ///
    /// `late-recording-start` maps to POL-01: its Always-mode test is "media from answer
    /// to release (the RS starts at answer)", which is exactly what front clipping breaks;
    /// no SRC- item speaks of when media starts.
    pub fn requirement(self) -> &'static str {
        match self {
            Self::AnnouncementLeaksIntoRecording => "POL-04",
            Self::NoAnnouncement => "POL-03",
            Self::ReminderDrift | Self::NoReminder => "POL-06",
            Self::ForkWhilePaused => "SRC-17",
            Self::NoPauseNotice => "POL-07",
            Self::NoAnnouncementMetadata => "POL-05",
            Self::SingleStream => "SRC-10",
            Self::LabelMismatch => "SRC-11",
            Self::NoSrcMarker => "SRC-03",
            Self::AlwaysNotRecorded | Self::NeverRecorded | Self::LateRecordingStart => "POL-01",
            Self::LocationOverrideIgnored => "POL-11",
            Self::VoicemailNotRecorded => "POL-10",
            Self::NoRecordingSession | Self::RecordsSilence | Self::NeverAnswers => "RP-CALL",
            Self::OnePartyOnBothStreams | Self::SwappedStreams => "POL-09",
            Self::FeatureCodesIgnored => "POL-02",
            Self::NoneProviderRecorded => "POL-12",
            Self::FailureBehaviourIgnored => "POL-13",
            Self::NoRsByeAtCallEnd => "SRC-20",
            Self::SlowPartyMedia | Self::SlowRecordedMedia => "RP-LATENCY",
        }
    }

    /// True for a whole failure: every scenario that does not assert the absence of a
    /// recording must fail against it.
    pub fn is_whole_failure(self) -> bool {
        matches!(
            self,
            Self::NoRecordingSession | Self::RecordsSilence | Self::NeverAnswers
        )
    }

    /// One line saying what the fault does.
    pub fn description(self) -> &'static str {
        match self {
            Self::AnnouncementLeaksIntoRecording => {
                "the start/stop announcement is mixed into the recorded streams as well"
            }
            Self::NoAnnouncement => {
                "the start/stop announcement is not played to the parties (metadata still sent)"
            }
            Self::ReminderDrift => "the reminder tone comes every interval + 1 s",
            Self::NoReminder => "no reminder tone is played",
            Self::ForkWhilePaused => "party audio keeps reaching the recorder while paused",
            Self::NoPauseNotice => {
                "no beep or announcement at pause and resume (metadata still sent)"
            }
            Self::NoAnnouncementMetadata => {
                "announcements are not reported to the recorder as metadata updates"
            }
            Self::SingleStream => "one recording stream (the caller's) instead of one per party",
            Self::LabelMismatch => "SDP a=label values differ from the metadata <label> values",
            Self::NoSrcMarker => "the RS Contact carries neither +sip.src nor ;src",
            Self::AlwaysNotRecorded => "users in Always mode are not recorded",
            Self::NeverRecorded => "users in Never mode are recorded as if Always",
            Self::LocationOverrideIgnored => {
                "a location's vendor override is ignored (organisation vendor used)"
            }
            Self::VoicemailNotRecorded => {
                "voicemail deposits are not recorded even with recordVoicemailEnabled"
            }
            Self::LateRecordingStart => "recorded media starts 2 s after answer (front clipping)",
            Self::NoRecordingSession => {
                "calls are answered but no recording session is ever opened (any mode, voicemail too)"
            }
            Self::RecordsSilence => "recording sessions are set up but carry no RTP at all",
            Self::NeverAnswers => "the platform never answers a call (no final response)",
            Self::OnePartyOnBothStreams => "both recorded streams carry the caller's audio",
            Self::SwappedStreams => {
                "each party's audio goes on the stream the metadata ties to the other party"
            }
            Self::FeatureCodesIgnored => "feature codes (*44, *45, *48, *49) have no effect",
            Self::NoneProviderRecorded => {
                "provider None still records, to the first configured provider"
            }
            Self::FailureBehaviourIgnored => {
                "a recorder failure releases the call at once, silently, whatever failureBehavior says"
            }
            Self::NoRsByeAtCallEnd => {
                "the recording session is not ended with BYE when the call ends"
            }
            Self::SlowPartyMedia => "200 ms more one-way delay between the parties",
            Self::SlowRecordedMedia => "600 ms more delay on the recorded streams",
        }
    }

    /// The fault with this CLI name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(f.name()), Some(*f));
            assert!(!f.description().is_empty());
            assert!(
                ["POL-", "SRC-", "RP-"]
                    .iter()
                    .any(|p| f.requirement().starts_with(p))
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
        assert_eq!(Fault::from_name("no-such-fault"), None);
    }
}
