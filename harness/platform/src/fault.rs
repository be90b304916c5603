//! Fault profiles: named variants of the reference platform that each break exactly one
//! requirement, so every check can be shown to fail against its fault and pass against
//! the clean platform (`shared/design.md`, "Embedded default").
//!
//! This module owns the catalogue (names, requirement IDs, descriptions). The behaviour
//! of each fault lives where the platform does the thing it breaks (see
//! [`crate::platform`]); this module must not hold behaviour.

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
        }
    }

    /// The checklist requirement (shared/spec/siprec-checklist.md) the fault breaks.
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
        }
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
            assert!(f.requirement().starts_with("POL-") || f.requirement().starts_with("SRC-"));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
        assert_eq!(Fault::from_name("no-such-fault"), None);
    }
}
