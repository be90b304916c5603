//! Fault profiles of the SRS emulator when it stands in for a recorder under test: each
//! plays one bug seen in real recorders and breaks one requirement, so every recorder
//! check can be shown failing through the scenario that asserts it.
//!
//! # What this module owns
//!
//! [`SrsFault`]: the catalogue (name, requirement, what it does), as data the emulator
//! reads at its decision points. It must not act: [`crate::srs`] applies a fault where it
//! answers, names streams and routes RTP.

/// One recorder bug. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SrsFault {
    /// Answers each `sendonly` stream `sendrecv` instead of `recvonly` (SRS-03).
    AnswerSendrecv,
    /// Writes `a=label:1` and `a=label:2` in its answer whatever labels were offered
    /// (SRS-03: an answer m-line carries the offered label).
    Relabel,
    /// Answers only the first m-line of the offer (SRS-03: one answer m-line per offered
    /// m-line).
    FirstMlineOnly,
    /// Answers the second stream with the first stream's codec, which the second stream
    /// did not offer (SRS-03: codecs as offered).
    SameCodec,
    /// Leaves `+sip.srs` out of its Contact (SRS-02).
    NoSrsContact,
    /// Sends 100 Trying and then no final response to an INVITE whose metadata it cannot
    /// read (SRS-08; seen in the field, checklist SRS-13).
    SilentOnBadMetadata,
    /// Refuses a session without `Require: siprec` with 403: rejects the BroadWorks
    /// dialect Webex Calling sends (SRS-01).
    RejectsBroadWorks,
    /// Records both parties into the first stream's recording (SRS-12: streams kept
    /// apart).
    MixedRecording,
    /// Files each stream's audio under the other stream's label (SRS-12: each stream tied
    /// to its participant).
    SwappedAttribution,
    /// Takes an INVITE with SDP only, no SIPREC metadata or marker, as a recording
    /// session (SRS-04).
    TakesPlainInvite,
    /// Refuses the legacy metadata media type `application/rs-metadata` with 415 (SRS-09).
    RejectsLegacyType,
    /// Refuses a multipart body written with bare LF line ends with 400 (SRS-10).
    RejectsBareLf,
    /// Sends its 200 four seconds after the INVITE (SRS-13: 2 s at most).
    SlowAnswer,
    /// Asks for a metadata snapshot without `Content-Disposition: recording-session`
    /// (SRS-07).
    BadSnapshotRequest,
    /// Sends 100 Trying and no final response to a session it has no room for, instead
    /// of 503 (SRS-14).
    SilentOverCapacity,
    /// When it stops recording on its own, stops and says nothing: no BYE (SRS-11).
    StopsSilently,
    /// Takes a session whose `Require` names an option tag it does not support, instead
    /// of 420 with `Unsupported` (SRS-05).
    IgnoresUnknownRequire,
    /// Refuses metadata after the initial INVITE (an UPDATE or re-INVITE carrying a
    /// metadata part) with 415, accepting only SDP there (SRS-06).
    RejectsMetadataUpdates,
    /// Answers a pause offered `a=inactive` with `recvonly`, keeping the streams open to
    /// record through the pause (SRS-03; RFC 3264 §6.1 says inactive).
    RecordsWhilePaused,
}

impl SrsFault {
    /// Every fault.
    pub const ALL: [SrsFault; 19] = [
        Self::AnswerSendrecv,
        Self::Relabel,
        Self::FirstMlineOnly,
        Self::SameCodec,
        Self::NoSrsContact,
        Self::SilentOnBadMetadata,
        Self::RejectsBroadWorks,
        Self::MixedRecording,
        Self::SwappedAttribution,
        Self::TakesPlainInvite,
        Self::RejectsLegacyType,
        Self::RejectsBareLf,
        Self::SlowAnswer,
        Self::BadSnapshotRequest,
        Self::SilentOverCapacity,
        Self::StopsSilently,
        Self::IgnoresUnknownRequire,
        Self::RejectsMetadataUpdates,
        Self::RecordsWhilePaused,
    ];

    /// The fault's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::AnswerSendrecv => "srs-answer-sendrecv",
            Self::Relabel => "srs-relabel",
            Self::FirstMlineOnly => "srs-first-mline-only",
            Self::SameCodec => "srs-same-codec",
            Self::NoSrsContact => "srs-no-srs-contact",
            Self::SilentOnBadMetadata => "srs-silent-on-bad-metadata",
            Self::RejectsBroadWorks => "srs-rejects-broadworks",
            Self::MixedRecording => "srs-mixed-recording",
            Self::SwappedAttribution => "srs-swapped-attribution",
            Self::TakesPlainInvite => "srs-takes-plain-invite",
            Self::RejectsLegacyType => "srs-rejects-legacy-type",
            Self::RejectsBareLf => "srs-rejects-bare-lf",
            Self::SlowAnswer => "srs-slow-answer",
            Self::BadSnapshotRequest => "srs-bad-snapshot-request",
            Self::SilentOverCapacity => "srs-silent-over-capacity",
            Self::StopsSilently => "srs-stops-silently",
            Self::IgnoresUnknownRequire => "srs-ignores-unknown-require",
            Self::RejectsMetadataUpdates => "srs-rejects-metadata-updates",
            Self::RecordsWhilePaused => "srs-records-while-paused",
        }
    }

    /// The fault of a name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The requirement it breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Self::AnswerSendrecv
            | Self::Relabel
            | Self::FirstMlineOnly
            | Self::SameCodec
            | Self::RecordsWhilePaused => "SRS-03",
            Self::NoSrsContact => "SRS-02",
            Self::SilentOnBadMetadata => "SRS-08",
            Self::RejectsBroadWorks => "SRS-01",
            Self::MixedRecording | Self::SwappedAttribution => "SRS-12",
            Self::TakesPlainInvite => "SRS-04",
            Self::RejectsLegacyType => "SRS-09",
            Self::RejectsBareLf => "SRS-10",
            Self::SlowAnswer => "SRS-13",
            Self::BadSnapshotRequest => "SRS-07",
            Self::SilentOverCapacity => "SRS-14",
            Self::StopsSilently => "SRS-11",
            Self::IgnoresUnknownRequire => "SRS-05",
            Self::RejectsMetadataUpdates => "SRS-06",
        }
    }

    /// What it does, in a sentence.
    pub fn description(self) -> &'static str {
        match self {
            Self::AnswerSendrecv => "answers each sendonly stream sendrecv instead of recvonly",
            Self::Relabel => "labels its answer 1 and 2 whatever labels were offered",
            Self::FirstMlineOnly => "answers only the first m-line of the offer",
            Self::SameCodec => {
                "answers the second stream with the first stream's codec, which it did not offer"
            }
            Self::NoSrsContact => "leaves +sip.srs out of its Contact",
            Self::SilentOnBadMetadata => {
                "sends 100 Trying and no final response to metadata it cannot read"
            }
            Self::RejectsBroadWorks => {
                "refuses sessions without Require: siprec (the BroadWorks dialect) with 403"
            }
            Self::MixedRecording => "records both parties into the first stream's recording",
            Self::SwappedAttribution => "files each stream's audio under the other's label",
            Self::TakesPlainInvite => {
                "takes an INVITE with SDP only (no SIPREC metadata or marker) as a recording session"
            }
            Self::RejectsLegacyType => {
                "refuses the legacy metadata media type application/rs-metadata with 415"
            }
            Self::RejectsBareLf => "refuses a multipart body with bare LF line ends with 400",
            Self::SlowAnswer => "sends its 200 four seconds after the INVITE",
            Self::BadSnapshotRequest => {
                "asks for a snapshot without Content-Disposition: recording-session"
            }
            Self::SilentOverCapacity => {
                "sends no final response to a session it has no room for, instead of 503"
            }
            Self::StopsSilently => "stops recording on its own without a BYE",
            Self::IgnoresUnknownRequire => {
                "takes a session that requires an option tag it does not support, instead of 420"
            }
            Self::RejectsMetadataUpdates => {
                "refuses metadata in an UPDATE or re-INVITE with 415 (takes SDP only there)"
            }
            Self::RecordsWhilePaused => {
                "answers a pause offered a=inactive with recvonly, keeping the streams open to record"
            }
        }
    }
}
