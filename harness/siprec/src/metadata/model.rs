//! The one metadata model both dialects map into, and the queries checks run on it.
//!
//! The shape follows RFC 7865 (`recording` with groups, sessions, participants, streams
//! and the three association kinds). The BroadWorks/Webex dialect maps into the same
//! shape: `participant@session` becomes a [`ParticipantSessionAssoc`], `participant/send/id`
//! becomes a [`ParticipantStreamAssoc`], `session@group` becomes [`Session::group_ref`].
//! What only BroadWorks has (the `recording` element, `group/initiator`, `stream/mode`,
//! `extensiondata` with `broadWorksRecordingMetadata`) lives in `broadworks` sub-structs
//! that are `None` for RFC documents.
//!
//! Required attributes and children are `Option`s: a peer may leave them out, and the
//! checker must be able to see that (and recproof, acting as an SRC, must be able to send
//! such a document on purpose). The model has no positions; those live in the
//! [`super::Document`]'s [`super::SourceMap`], so that two equal models compare equal
//! wherever they came from.

use super::time::XsDateTime;
use super::xml::XmlElement;
use serde::Serialize;
use std::collections::HashMap;

/// An RFC 7865 `<recording>` or a BroadWorks `<recording_metadata>` document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Recording {
    /// `<datamode>` (`<dataMode>` in BroadWorks); `None` when absent, which means complete.
    pub datamode: Option<DataMode>,
    /// `<group>` elements.
    pub groups: Vec<Group>,
    /// `<session>` elements.
    pub sessions: Vec<Session>,
    /// `<participant>` elements.
    pub participants: Vec<Participant>,
    /// `<stream>` elements.
    pub streams: Vec<Stream>,
    /// `<sessionrecordingassoc>` elements (none in the BroadWorks dialect).
    pub session_recording_assocs: Vec<SessionRecordingAssoc>,
    /// `<participantsessionassoc>` elements (BroadWorks: one per `participant@session`).
    pub participant_session_assocs: Vec<ParticipantSessionAssoc>,
    /// `<participantstreamassoc>` elements (BroadWorks: one per participant with `send`).
    pub participant_stream_assocs: Vec<ParticipantStreamAssoc>,
    /// Other child elements of the root: foreign-namespace extensions (allowed), and
    /// unknown elements in the document's own namespace (kept so a document can be judged
    /// and re-sent as it was).
    pub extensions: Vec<XmlElement>,
    /// What only the BroadWorks dialect carries.
    pub broadworks: Option<BroadWorksRecording>,
}

/// `<datamode>` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataMode {
    /// `complete`: the document describes the whole recording session.
    Complete,
    /// `partial`: only what changed since the last document.
    Partial,
    /// Anything else, as written (an MD-03 FAIL).
    Other(String),
}

impl DataMode {
    /// Reads the element text (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Self {
        match text.trim() {
            "complete" => Self::Complete,
            "partial" => Self::Partial,
            _ => Self::Other(text.to_owned()),
        }
    }

    /// The text to write.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Other(s) => s,
        }
    }
}

/// `<group>`: a set of related communication sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Group {
    /// `group_id` (BroadWorks `id`).
    pub id: Option<String>,
    /// `<associate-time>`.
    pub associate_time: Option<XsDateTime>,
    /// `<disassociate-time>`.
    pub disassociate_time: Option<XsDateTime>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
    /// BroadWorks-only data.
    pub broadworks: Option<BroadWorksGroup>,
}

/// BroadWorks `group@recording` and `group/initiator`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BroadWorksGroup {
    /// `recording` attribute: the ID of the `<recording>` element.
    pub recording: Option<String>,
    /// `<initiator>`: the AOR of the recorded user.
    pub initiator: Option<String>,
}

/// `<session>`: one communication session (CS) being recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Session {
    /// `session_id` (BroadWorks `id`).
    pub id: Option<String>,
    /// `<sipSessionID>` values (the RFC 7989 Session-ID of the CS).
    pub sip_session_ids: Vec<String>,
    /// `<reason>` elements.
    pub reasons: Vec<Reason>,
    /// `<group-ref>` (BroadWorks `session@group`).
    pub group_ref: Option<String>,
    /// `<start-time>`.
    pub start_time: Option<XsDateTime>,
    /// `<stop-time>`.
    pub stop_time: Option<XsDateTime>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<reason>` of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Reason {
    /// `protocol` attribute.
    pub protocol: Option<String>,
    /// `cause` attribute.
    pub cause: Option<String>,
    /// Element text.
    pub text: String,
}

/// `<participant>`: a party of the CS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Participant {
    /// `participant_id` (BroadWorks `id`).
    pub id: Option<String>,
    /// `<nameID>` elements (BroadWorks: one, from `<aor>`).
    pub name_ids: Vec<NameId>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<nameID aor="...">`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NameId {
    /// `aor` attribute (required by the schema).
    pub aor: Option<String>,
    /// `<name>` elements.
    pub names: Vec<Name>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<name xml:lang="...">`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Name {
    /// `xml:lang`.
    pub lang: Option<String>,
    /// Display name.
    pub text: String,
}

/// `<stream>`: one media stream of the recording session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Stream {
    /// `stream_id` (BroadWorks `id`).
    pub id: Option<String>,
    /// `session_id` (BroadWorks `session`).
    pub session_id: Option<String>,
    /// `<label>`: equals the SDP `a=label` of the m-line carrying the stream.
    pub label: Option<String>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
    /// BroadWorks-only data.
    pub broadworks: Option<BroadWorksStream>,
}

/// BroadWorks `stream/mode`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BroadWorksStream {
    /// `<mode>`.
    pub mode: Option<StreamMode>,
}

/// BroadWorks `<mode>` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// One stream per party.
    Separate,
    /// All parties mixed into one stream.
    Mixed,
    /// Anything else, as written.
    Other(String),
}

impl StreamMode {
    /// Reads the element text.
    pub fn from_text(text: &str) -> Self {
        match text {
            "separate" => Self::Separate,
            "mixed" => Self::Mixed,
            _ => Self::Other(text.to_owned()),
        }
    }

    /// The text to write.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Separate => "separate",
            Self::Mixed => "mixed",
            Self::Other(s) => s,
        }
    }
}

/// `<sessionrecordingassoc>`: ties a CS to this recording session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SessionRecordingAssoc {
    /// `session_id`.
    pub session_id: Option<String>,
    /// `<associate-time>`.
    pub associate_time: Option<XsDateTime>,
    /// `<disassociate-time>`.
    pub disassociate_time: Option<XsDateTime>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<participantsessionassoc>`: a participant's membership of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ParticipantSessionAssoc {
    /// `participant_id`.
    pub participant_id: Option<String>,
    /// `session_id`.
    pub session_id: Option<String>,
    /// `<associate-time>`.
    pub associate_time: Option<XsDateTime>,
    /// `<disassociate-time>`.
    pub disassociate_time: Option<XsDateTime>,
    /// `<param pname pval>` elements (copied Contact capabilities).
    pub params: Vec<Param>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<param pname="..." pval="..."/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Param {
    /// `pname`.
    pub name: Option<String>,
    /// `pval`.
    pub value: Option<String>,
}

/// `<participantstreamassoc>`: which streams a participant sends and receives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ParticipantStreamAssoc {
    /// `participant_id`.
    pub participant_id: Option<String>,
    /// `<send>` stream IDs.
    pub send: Vec<String>,
    /// `<recv>` stream IDs.
    pub recv: Vec<String>,
    /// `<associate-time>`.
    pub associate_time: Option<XsDateTime>,
    /// `<disassociate-time>`.
    pub disassociate_time: Option<XsDateTime>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// What only a BroadWorks `<recording_metadata>` carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BroadWorksRecording {
    /// `<recording id>{requestor, type}`.
    pub recording: Option<BroadWorksRecordingInfo>,
    /// `<extensiondata>` elements.
    pub extension_data: Vec<ExtensionData>,
}

/// BroadWorks `<recording id="..."><requestor/><type/></recording>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BroadWorksRecordingInfo {
    /// `id`.
    pub id: Option<String>,
    /// `<requestor>` (seen: `SRC`).
    pub requestor: Option<String>,
    /// `<type>` (seen: `selective`).
    pub recording_type: Option<String>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// BroadWorks `<extensiondata id parent>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ExtensionData {
    /// `id`.
    pub id: Option<String>,
    /// `parent`: the ID of the object extended (the session, in the captures).
    pub parent: Option<String>,
    /// The first `<broadWorksRecordingMetadata>`, typed.
    pub call: Option<BroadWorksCallMetadata>,
    /// Other child elements (e.g. recproof's announcement element).
    pub extensions: Vec<XmlElement>,
}

/// `<broadWorksRecordingMetadata version="...">` in namespace [`super::BROADWORKS_NS`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BroadWorksCallMetadata {
    /// `version` (1.0, 2.0 and 3.0 seen).
    pub version: Option<String>,
    /// `<extTrackingID>`; equals the `X-BroadWorks-Correlation-Info` header (POL-17).
    pub ext_tracking_id: Option<String>,
    /// `<serviceProviderID>`; the Webex person's `serviceProvider` (MD-17).
    pub service_provider_id: Option<String>,
    /// `<groupID>`; the Webex person's `externalGroup` (MD-17).
    pub group_id: Option<String>,
    /// `<userID>`; the Webex person's `externalIdentifier` (MD-17).
    pub user_id: Option<String>,
    /// `<callID>` (`callhalf-<n>:<m>`).
    pub call_id: Option<String>,
    /// `<callType>`.
    pub call_type: Option<CallType>,
    /// `<recordingType>` (only `on` has been seen).
    pub recording_type: Option<String>,
    /// `<acd>` (call-centre calls).
    pub acd: Option<Acd>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<callType><origCall|termCall>…</…></callType>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CallType {
    /// Which child element `callType` had.
    pub direction: CallDirection,
    /// `<callingPartyNumber>`.
    pub calling_party_number: Option<String>,
    /// `<calledPartyNumber>`.
    pub called_party_number: Option<String>,
    /// `<dialedDigits>` (origCall only, in the captures).
    pub dialed_digits: Option<String>,
    /// Other child elements of the direction element.
    pub extensions: Vec<XmlElement>,
}

/// The child of `<callType>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// `<origCall>`: the recorded user placed the call.
    #[default]
    Originating,
    /// `<termCall>`: the recorded user received the call.
    Terminating,
    /// Another element name, as written (MD-16 WARN).
    Other(String),
}

impl CallDirection {
    /// The element name.
    pub fn element_name(&self) -> &str {
        match self {
            Self::Originating => "origCall",
            Self::Terminating => "termCall",
            Self::Other(s) => s,
        }
    }

    /// From an element name.
    pub fn from_element_name(name: &str) -> Self {
        match name {
            "origCall" => Self::Originating,
            "termCall" => Self::Terminating,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// BroadWorks `<acd>` (automatic call distribution: the call came through a call centre).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Acd {
    /// `<acdUserId>`.
    pub acd_user_id: Option<String>,
    /// `<acdName>`.
    pub acd_name: Option<String>,
    /// `<acdNumber countryCode>`.
    pub acd_number: Option<AcdNumber>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<acdNumber countryCode="1">tel:+1…</acdNumber>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AcdNumber {
    /// `countryCode`.
    pub country_code: Option<String>,
    /// Element text.
    pub number: String,
}

/// An RFC 7866 snapshot request body (`<requestsnapshot>`, MD-15).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SnapshotRequest {
    /// `<requestreason>`.
    pub reason: Option<RequestReason>,
    /// Other child elements.
    pub extensions: Vec<XmlElement>,
}

/// `<requestreason xml:lang="...">`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RequestReason {
    /// `xml:lang`.
    pub lang: Option<String>,
    /// Why the SRS asks.
    pub text: String,
}

// ---------------------------------------------------------------------------------------
// Locators and references
// ---------------------------------------------------------------------------------------

/// Names one object of a [`Recording`] by its position in the model, so that a check can
/// ask the [`super::Document`] where that object was in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum Locator {
    /// The root element.
    Root,
    /// `<datamode>` / `<dataMode>`.
    Datamode,
    /// `groups[i]`.
    Group(usize),
    /// `sessions[i]`.
    Session(usize),
    /// `participants[i]`.
    Participant(usize),
    /// `participants[i].name_ids[j]`.
    NameId(usize, usize),
    /// `streams[i]`.
    Stream(usize),
    /// `session_recording_assocs[i]`.
    SessionRecordingAssoc(usize),
    /// `participant_session_assocs[i]` (BroadWorks: the participant element).
    ParticipantSessionAssoc(usize),
    /// `participant_stream_assocs[i]` (BroadWorks: the participant element).
    ParticipantStreamAssoc(usize),
    /// `participant_stream_assocs[i].send[j]`.
    Send(usize, usize),
    /// `participant_stream_assocs[i].recv[j]`.
    Recv(usize, usize),
    /// BroadWorks `<recording>`.
    BroadWorksRecording,
    /// `broadworks.extension_data[i]`.
    ExtensionData(usize),
    /// `broadworks.extension_data[i].call`.
    BroadWorksCall(usize),
}

/// The kinds of object an ID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A `<group>`.
    Group,
    /// A `<session>`.
    Session,
    /// A `<participant>`.
    Participant,
    /// A `<stream>`.
    Stream,
    /// A BroadWorks `<recording>`.
    Recording,
    /// A BroadWorks `<extensiondata>`.
    ExtensionData,
}

impl ObjectKind {
    /// Element name, for messages.
    pub fn element(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Session => "session",
            Self::Participant => "participant",
            Self::Stream => "stream",
            Self::Recording => "recording",
            Self::ExtensionData => "extensiondata",
        }
    }
}

/// Which attribute or element of the referring object holds a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefField {
    /// `session_id` (BroadWorks `session`).
    SessionId,
    /// `participant_id` (BroadWorks: the participant's own `id`).
    ParticipantId,
    /// `<group-ref>` (BroadWorks `group` attribute).
    GroupRef,
    /// The `<send>` element itself (BroadWorks `send/id`).
    Send,
    /// The `<recv>` element itself.
    Recv,
    /// BroadWorks `group@recording`.
    Recording,
    /// BroadWorks `extensiondata@parent` (may name any object).
    Parent,
}

/// One ID reference in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference<'a> {
    /// The object holding the reference.
    pub at: Locator,
    /// Which of its fields.
    pub field: RefField,
    /// What kinds of object it may name (several for `extensiondata@parent`).
    pub targets: &'static [ObjectKind],
    /// The ID referred to.
    pub id: &'a str,
}

/// One ID definition in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition<'a> {
    /// The object defined.
    pub at: Locator,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its ID.
    pub id: &'a str,
}

const ANY_OBJECT: &[ObjectKind] = &[
    ObjectKind::Recording,
    ObjectKind::Group,
    ObjectKind::Session,
    ObjectKind::Participant,
    ObjectKind::Stream,
    ObjectKind::ExtensionData,
];

impl Recording {
    /// The data mode, with an absent `<datamode>` read as complete (RFC 7865).
    pub fn datamode_or_default(&self) -> DataMode {
        self.datamode.clone().unwrap_or(DataMode::Complete)
    }

    /// True when the document claims to be complete (datamode `complete` or absent).
    pub fn is_complete(&self) -> bool {
        matches!(self.datamode, None | Some(DataMode::Complete))
    }

    /// The group with this ID.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id.as_deref() == Some(id))
    }

    /// The session with this ID.
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id.as_deref() == Some(id))
    }

    /// The participant with this ID.
    pub fn participant(&self, id: &str) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.id.as_deref() == Some(id))
    }

    /// The stream with this ID.
    pub fn stream(&self, id: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.id.as_deref() == Some(id))
    }

    /// The first stream with this label.
    pub fn stream_by_label(&self, label: &str) -> Option<&Stream> {
        self.streams
            .iter()
            .find(|s| s.label.as_deref() == Some(label))
    }

    /// Stream labels in document order (streams without a label are skipped). SRC-11
    /// compares these with the SDP `a=label` values.
    pub fn stream_labels(&self) -> Vec<&str> {
        self.streams
            .iter()
            .filter_map(|s| s.label.as_deref())
            .collect()
    }

    /// IDs of the participants sending on `stream_id`, in document order, each once.
    pub fn senders_of(&self, stream_id: &str) -> Vec<&str> {
        dedup(
            self.participant_stream_assocs
                .iter()
                .filter(|a| a.send.iter().any(|s| s == stream_id))
                .filter_map(|a| a.participant_id.as_deref()),
        )
    }

    /// IDs of the participants receiving `stream_id`.
    pub fn receivers_of(&self, stream_id: &str) -> Vec<&str> {
        dedup(
            self.participant_stream_assocs
                .iter()
                .filter(|a| a.recv.iter().any(|s| s == stream_id))
                .filter_map(|a| a.participant_id.as_deref()),
        )
    }

    /// IDs of the streams `participant_id` sends on (SRC-12), each once.
    pub fn streams_sent_by(&self, participant_id: &str) -> Vec<&str> {
        dedup(
            self.participant_stream_assocs
                .iter()
                .filter(|a| a.participant_id.as_deref() == Some(participant_id))
                .flat_map(|a| a.send.iter().map(String::as_str)),
        )
    }

    /// IDs of the streams `participant_id` receives.
    pub fn streams_received_by(&self, participant_id: &str) -> Vec<&str> {
        dedup(
            self.participant_stream_assocs
                .iter()
                .filter(|a| a.participant_id.as_deref() == Some(participant_id))
                .flat_map(|a| a.recv.iter().map(String::as_str)),
        )
    }

    /// IDs of the sessions `participant_id` is associated with.
    pub fn sessions_of(&self, participant_id: &str) -> Vec<&str> {
        dedup(
            self.participant_session_assocs
                .iter()
                .filter(|a| a.participant_id.as_deref() == Some(participant_id))
                .filter_map(|a| a.session_id.as_deref()),
        )
    }

    /// IDs of the participants associated with `session_id`.
    pub fn participants_in(&self, session_id: &str) -> Vec<&str> {
        dedup(
            self.participant_session_assocs
                .iter()
                .filter(|a| a.session_id.as_deref() == Some(session_id))
                .filter_map(|a| a.participant_id.as_deref()),
        )
    }

    /// Every `<sipSessionID>` value (SRC-23).
    pub fn sip_session_ids(&self) -> Vec<&str> {
        self.sessions
            .iter()
            .flat_map(|s| s.sip_session_ids.iter().map(String::as_str))
            .collect()
    }

    /// The typed `<broadWorksRecordingMetadata>` blocks, in document order.
    pub fn broadworks_calls(&self) -> impl Iterator<Item = &BroadWorksCallMetadata> {
        self.broadworks
            .iter()
            .flat_map(|b| b.extension_data.iter())
            .filter_map(|e| e.call.as_ref())
    }

    /// The first `<broadWorksRecordingMetadata>` block.
    pub fn broadworks_call(&self) -> Option<&BroadWorksCallMetadata> {
        self.broadworks_calls().next()
    }

    /// The BroadWorks `<mode>` of a stream, when the dialect says.
    pub fn stream_mode(&self, stream_id: &str) -> Option<&StreamMode> {
        self.stream(stream_id)
            .and_then(|s| s.broadworks.as_ref())
            .and_then(|b| b.mode.as_ref())
    }

    /// Every ID this document defines (objects carrying their own ID).
    pub fn definitions(&self) -> Vec<Definition<'_>> {
        let mut out: Vec<Definition<'_>> = Vec::new();
        fn add<'a>(
            out: &mut Vec<Definition<'a>>,
            at: Locator,
            kind: ObjectKind,
            id: Option<&'a String>,
        ) {
            if let Some(id) = id {
                out.push(Definition {
                    at,
                    kind,
                    id: id.as_str(),
                });
            }
        }
        let mut push = |at, kind, id| add(&mut out, at, kind, id);
        if let Some(r) = self.broadworks.as_ref().and_then(|b| b.recording.as_ref()) {
            push(
                Locator::BroadWorksRecording,
                ObjectKind::Recording,
                r.id.as_ref(),
            );
        }
        for (i, g) in self.groups.iter().enumerate() {
            push(Locator::Group(i), ObjectKind::Group, g.id.as_ref());
        }
        for (i, s) in self.sessions.iter().enumerate() {
            push(Locator::Session(i), ObjectKind::Session, s.id.as_ref());
        }
        for (i, p) in self.participants.iter().enumerate() {
            push(
                Locator::Participant(i),
                ObjectKind::Participant,
                p.id.as_ref(),
            );
        }
        for (i, s) in self.streams.iter().enumerate() {
            push(Locator::Stream(i), ObjectKind::Stream, s.id.as_ref());
        }
        if let Some(bw) = &self.broadworks {
            for (i, e) in bw.extension_data.iter().enumerate() {
                push(
                    Locator::ExtensionData(i),
                    ObjectKind::ExtensionData,
                    e.id.as_ref(),
                );
            }
        }
        out
    }

    /// Every ID reference in this document (MD-12 resolves them).
    pub fn references(&self) -> Vec<Reference<'_>> {
        const SESSION: &[ObjectKind] = &[ObjectKind::Session];
        const PARTICIPANT: &[ObjectKind] = &[ObjectKind::Participant];
        const STREAM: &[ObjectKind] = &[ObjectKind::Stream];
        const GROUP: &[ObjectKind] = &[ObjectKind::Group];
        const RECORDING: &[ObjectKind] = &[ObjectKind::Recording];
        let mut out: Vec<Reference<'_>> = Vec::new();
        fn add<'a>(
            out: &mut Vec<Reference<'a>>,
            at: Locator,
            field: RefField,
            targets: &'static [ObjectKind],
            id: Option<&'a String>,
        ) {
            if let Some(id) = id {
                out.push(Reference {
                    at,
                    field,
                    targets,
                    id: id.as_str(),
                });
            }
        }
        let mut push = |at, field, targets, id| add(&mut out, at, field, targets, id);
        for (i, g) in self.groups.iter().enumerate() {
            if let Some(bw) = &g.broadworks {
                push(
                    Locator::Group(i),
                    RefField::Recording,
                    RECORDING,
                    bw.recording.as_ref(),
                );
            }
        }
        for (i, s) in self.sessions.iter().enumerate() {
            push(
                Locator::Session(i),
                RefField::GroupRef,
                GROUP,
                s.group_ref.as_ref(),
            );
        }
        for (i, s) in self.streams.iter().enumerate() {
            push(
                Locator::Stream(i),
                RefField::SessionId,
                SESSION,
                s.session_id.as_ref(),
            );
        }
        for (i, a) in self.session_recording_assocs.iter().enumerate() {
            push(
                Locator::SessionRecordingAssoc(i),
                RefField::SessionId,
                SESSION,
                a.session_id.as_ref(),
            );
        }
        for (i, a) in self.participant_session_assocs.iter().enumerate() {
            let at = Locator::ParticipantSessionAssoc(i);
            push(
                at,
                RefField::ParticipantId,
                PARTICIPANT,
                a.participant_id.as_ref(),
            );
            push(at, RefField::SessionId, SESSION, a.session_id.as_ref());
        }
        for (i, a) in self.participant_stream_assocs.iter().enumerate() {
            push(
                Locator::ParticipantStreamAssoc(i),
                RefField::ParticipantId,
                PARTICIPANT,
                a.participant_id.as_ref(),
            );
            for (j, s) in a.send.iter().enumerate() {
                push(Locator::Send(i, j), RefField::Send, STREAM, Some(s));
            }
            for (j, s) in a.recv.iter().enumerate() {
                push(Locator::Recv(i, j), RefField::Recv, STREAM, Some(s));
            }
        }
        if let Some(bw) = &self.broadworks {
            for (i, e) in bw.extension_data.iter().enumerate() {
                push(
                    Locator::ExtensionData(i),
                    RefField::Parent,
                    ANY_OBJECT,
                    e.parent.as_ref(),
                );
            }
        }
        out
    }

    /// References that name no object of an allowed kind in this document. In a complete
    /// document each is a dangling reference (MD-12 FAIL); in a partial one it must name
    /// an object sent earlier on the recording session, which only the session's state
    /// can tell.
    pub fn unresolved_references(&self) -> Vec<Reference<'_>> {
        let mut defined: HashMap<&str, Vec<ObjectKind>> = HashMap::new();
        for d in self.definitions() {
            defined.entry(d.id).or_default().push(d.kind);
        }
        self.references()
            .into_iter()
            .filter(|r| {
                !defined
                    .get(r.id)
                    .is_some_and(|kinds| kinds.iter().any(|k| r.targets.contains(k)))
            })
            .collect()
    }
}

fn dedup<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
