//! Recording metadata: RFC 7865 and the BroadWorks/Webex dialect in one model, XML in and
//! out, and the single-document MD- rules of the checklist.
//!
//! # What this module owns
//!
//! * The model ([`Recording`], [`SnapshotRequest`]) both dialects map into, with the
//!   queries SRC-11/12/13 need ([`Recording::stream_labels`], [`Recording::senders_of`],
//!   [`Recording::streams_sent_by`], [`Recording::datamode_or_default`]) and their
//!   evidence ([`Document::stream_label_evidence`], [`Document::send_evidence`]).
//! * Reading: [`parse`] takes the bytes of a metadata body, detects the dialect by the
//!   root element (`recording`, `recording_metadata`, `requestsnapshot`) and returns a
//!   [`Document`]: the model, where each object was ([`SourceMap`]), and the
//!   [`SchemaObservation`]s (unknown or misplaced elements, missing attributes, …).
//!   Only input that is not well-formed XML, carries a DTD, or breaks a [`Limits`] bound is
//!   a [`MetadataError`].
//! * Writing: [`to_xml`] and [`snapshot_request_to_xml`], deterministic byte for byte.
//! * IDs: [`ids`] builds RFC 7865 base64 IDs and BroadWorks `urn:uuid:` IDs from a seed.
//! * Checks: [`check_document`] implements MD-01..MD-17 for one document;
//!   [`check_future_times`] adds the MD-13 clock-skew rule when the caller has a clock.
//! * The announcement element recproof's reference platform sends for POL-05
//!   ([`announcement`], specified in `ANNOUNCEMENT.md` next to this file).
//!
//! # What it must not touch
//!
//! No SIP, SDP or MIME: [`crate::validate`] finds the metadata part of a message and calls
//! in here, and it owns SRC- rules (it uses [`facts`] for them). No I/O, no clock, no
//! randomness: everything is a function of its arguments. No panics on any input.
//!
//! # Example
//!
//! ```
//! use recproof_siprec::metadata::{self, Dialect};
//! use recproof_siprec::Profile;
//!
//! let xml = br#"<recording xmlns="urn:ietf:params:xml:ns:recording:1">
//!   <datamode>complete</datamode>
//!   <stream stream_id="oUF8CQ3HSMeZGmDMCltQFQ==" session_id="sDW5yJFaTRWlfKpxlFxbCA==">
//!     <label>1</label>
//!   </stream>
//! </recording>"#;
//! let doc = metadata::parse(xml)?;
//! let rec = doc.recording().expect("a recording document");
//! assert_eq!(rec.stream_labels(), ["1"]);
//! // The stream names a session the document does not describe: MD-12 FAIL.
//! let findings = metadata::check_document(&doc, Profile::RfcStrict, None);
//! assert!(findings.iter().any(|f| f.requirement == "MD-12"));
//! // Same model, same bytes.
//! assert_eq!(metadata::to_xml(rec, Dialect::Rfc7865), metadata::to_xml(rec, Dialect::Rfc7865));
//! # Ok::<(), metadata::MetadataError>(())
//! ```
//!
//! # Deviations and decisions
//!
//! * The XSD order and the `param`/`reason` shapes come from the checklist's summary tree,
//!   which it marks "to verify"; order problems are therefore WARN (MD-02 and the
//!   element's own rule). `send` and `recv` may interleave: RFC 7865's own example does.
//! * Foreign-namespace *attributes* are reported (MD-14 INFO) but not kept in the model.
//! * `xs:dateTime` values are limited to what jiff represents (years -9999..=9999,
//!   nanoseconds); `24:00:00` is refused.
//! * See [`check_document`] for the severity of each rule under each profile.

pub mod announcement;
mod check;
mod error;
pub mod ids;
mod model;
mod read;
mod time;
mod write;
mod xml;

pub use check::{
    BroadWorksIdentity, check_document, check_future_times, facts, parse_error_finding,
};
pub use error::{Limits, MetadataError};
pub use model::*;
pub use time::{TimeError, TimeValue, XsDateTime};
pub use write::{snapshot_request_to_xml, to_xml};
pub use xml::{XML_NS, XmlAttribute, XmlElement, XmlNode};

use serde::Serialize;
use std::collections::BTreeMap;

/// RFC 7865 namespace.
pub const RECORDING_NS: &str = "urn:ietf:params:xml:ns:recording:1";
/// Namespace of the pre-RFC draft schema the BroadWorks/Webex SRC uses.
pub const SIPREC_NS: &str = "urn:ietf:params:xml:ns:siprec";
/// Namespace of `<broadWorksRecordingMetadata>`.
pub const BROADWORKS_NS: &str = "http://schema.broadsoft.com/broadworksCallRecording";

/// Which metadata schema a document is written in (the two dialects of `docs/requirements.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// RFC 7865: `<recording xmlns="urn:ietf:params:xml:ns:recording:1">`, base64 IDs.
    Rfc7865,
    /// BroadWorks/Webex: `<recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">`,
    /// `urn:uuid:` IDs, `broadWorksRecordingMetadata` extension.
    BroadWorks,
}

impl Dialect {
    /// The namespace of the dialect's root element.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Rfc7865 => RECORDING_NS,
            Self::BroadWorks => SIPREC_NS,
        }
    }

    /// The local name of the dialect's root element.
    pub fn root_name(self) -> &'static str {
        match self {
            Self::Rfc7865 => "recording",
            Self::BroadWorks => "recording_metadata",
        }
    }
}

/// The root element's expanded name, as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootName {
    /// Namespace URI (`None`: no namespace).
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
}

/// What a document turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Body {
    /// Recording metadata (`recording` or `recording_metadata`, whatever its namespace).
    /// Boxed: it is much larger than the other variants.
    Recording(Box<Recording>),
    /// A snapshot request (`requestsnapshot`).
    SnapshotRequest(SnapshotRequest),
    /// Some other root element (MD-01 FAIL).
    Unrecognized,
}

/// A parsed metadata body: the model, where its parts were, and what the schema would
/// have objected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The dialect, by root element name.
    pub dialect: Dialect,
    /// The root element.
    pub root: RootName,
    /// The content.
    pub body: Body,
    /// Schema problems, in document order.
    pub observations: Vec<SchemaObservation>,
    /// Where each model object was in the input.
    pub sources: SourceMap,
}

/// A position in the input: an element path such as `recording/participant[2]/nameID[1]`
/// (1-based among same-named siblings) and the byte offset of its start tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Loc {
    /// Element path.
    pub path: String,
    /// Byte offset of the `<` of the start tag; `None` for a model not read from bytes.
    pub offset: Option<usize>,
}

/// Where each object of a parsed model came from, by [`Locator`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceMap {
    entries: BTreeMap<Locator, Loc>,
}

impl SourceMap {
    /// The recorded position of `at`, if the document was read from bytes.
    pub fn get(&self, at: Locator) -> Option<&Loc> {
        self.entries.get(&at)
    }
}

impl Serialize for SourceMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries.iter())
    }
}

/// Something a schema-validating reader would have rejected or flagged, kept as data so
/// the checker can judge it under the right requirement and profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaObservation {
    /// What was seen.
    pub kind: ObservationKind,
    /// Local name of the element whose content model or attribute list is concerned (the
    /// parent, for child problems; the element itself, for attribute problems).
    pub owner: String,
    /// Local name of the element the observation is about.
    pub element: String,
    /// Path of that element (or attribute, `…/@name`).
    pub path: String,
    /// Byte offset of that element's start tag.
    pub offset: usize,
    /// The element's raw text in the input, cut to a readable length.
    pub excerpt: String,
}

/// The kinds of [`SchemaObservation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservationKind {
    /// An element the schema does not define here, in the document's own namespace or in
    /// no namespace (MD-14).
    UnknownElement {
        /// Its namespace (`None`: unqualified).
        namespace: Option<String>,
    },
    /// An element in another namespace: allowed (`##other`), recorded (MD-14 INFO).
    ForeignElement {
        /// Its namespace.
        namespace: String,
    },
    /// The element comes after a sibling that the schema sequence puts after it.
    OutOfOrder {
        /// The local name of that earlier sibling.
        after: String,
    },
    /// More occurrences than the schema allows; the extra ones are not in the model.
    Duplicate {
        /// Allowed maximum.
        max: usize,
    },
    /// A required attribute is absent.
    MissingAttribute {
        /// Its name.
        attribute: String,
    },
    /// A required child element is absent.
    MissingChild {
        /// Its name.
        child: String,
    },
    /// An unqualified attribute the schema does not define.
    UnknownAttribute {
        /// Its name as written.
        attribute: String,
    },
    /// A namespaced attribute from another namespace (allowed, recorded).
    ForeignAttribute {
        /// Its name as written.
        attribute: String,
        /// Its namespace.
        namespace: String,
    },
    /// Text that is not whitespace where only elements belong.
    UnexpectedText {
        /// The text, trimmed and cut.
        text: String,
    },
    /// A child element inside an element that holds only text.
    ChildInSimpleContent {
        /// The child's local name.
        child: String,
    },
}

impl Document {
    /// A document for a model built in code (no observations; positions are synthetic
    /// paths without offsets). Lets recproof check what it is about to send.
    pub fn from_recording(recording: Recording, dialect: Dialect) -> Self {
        Self {
            dialect,
            root: RootName {
                namespace: Some(dialect.namespace().to_owned()),
                name: dialect.root_name().to_owned(),
            },
            body: Body::Recording(Box::new(recording)),
            observations: Vec::new(),
            sources: SourceMap::default(),
        }
    }

    /// The recording metadata, unless this is a snapshot request or unrecognised.
    pub fn recording(&self) -> Option<&Recording> {
        match &self.body {
            Body::Recording(r) => Some(r),
            _ => None,
        }
    }

    /// The snapshot request, if this is one.
    pub fn snapshot_request(&self) -> Option<&SnapshotRequest> {
        match &self.body {
            Body::SnapshotRequest(r) => Some(r),
            _ => None,
        }
    }

    /// Where `at` was in the input, or a synthetic path for it when the model was not read
    /// from bytes (or the object does not exist).
    pub fn loc(&self, at: Locator) -> Loc {
        if let Some(loc) = self.sources.get(at) {
            return loc.clone();
        }
        Loc {
            path: self.synthetic_path(at),
            offset: None,
        }
    }

    fn synthetic_path(&self, at: Locator) -> String {
        let root = self.root.name.as_str();
        let bw = self.dialect == Dialect::BroadWorks;
        let rec = self.recording();
        // BroadWorks associations live on the participant element with that ID.
        let participant_of = |pid: Option<&str>| -> String {
            let index = rec.zip(pid).and_then(|(r, pid)| {
                r.participants
                    .iter()
                    .position(|p| p.id.as_deref() == Some(pid))
            });
            match index {
                Some(i) => format!("{root}/participant[{}]", i + 1),
                None => format!("{root}/participant"),
            }
        };
        match at {
            Locator::Root => root.to_owned(),
            Locator::Datamode => format!("{root}/{}[1]", if bw { "dataMode" } else { "datamode" }),
            Locator::Group(i) => format!("{root}/group[{}]", i + 1),
            Locator::Session(i) => format!("{root}/session[{}]", i + 1),
            Locator::Participant(i) => format!("{root}/participant[{}]", i + 1),
            Locator::NameId(i, j) if bw => format!("{root}/participant[{}]/aor[{}]", i + 1, j + 1),
            Locator::NameId(i, j) => format!("{root}/participant[{}]/nameID[{}]", i + 1, j + 1),
            Locator::Stream(i) => format!("{root}/stream[{}]", i + 1),
            Locator::SessionRecordingAssoc(i) => format!("{root}/sessionrecordingassoc[{}]", i + 1),
            Locator::ParticipantSessionAssoc(i) if bw => participant_of(
                rec.and_then(|r| r.participant_session_assocs.get(i))
                    .and_then(|a| a.participant_id.as_deref()),
            ),
            Locator::ParticipantSessionAssoc(i) => {
                format!("{root}/participantsessionassoc[{}]", i + 1)
            }
            Locator::ParticipantStreamAssoc(i) if bw => participant_of(
                rec.and_then(|r| r.participant_stream_assocs.get(i))
                    .and_then(|a| a.participant_id.as_deref()),
            ),
            Locator::ParticipantStreamAssoc(i) => {
                format!("{root}/participantstreamassoc[{}]", i + 1)
            }
            Locator::Send(i, j) if bw => format!(
                "{}/send[{}]/id[1]",
                self.loc(Locator::ParticipantStreamAssoc(i)).path,
                j + 1
            ),
            Locator::Send(i, j) => {
                format!("{root}/participantstreamassoc[{}]/send[{}]", i + 1, j + 1)
            }
            Locator::Recv(i, j) => {
                format!("{root}/participantstreamassoc[{}]/recv[{}]", i + 1, j + 1)
            }
            Locator::BroadWorksRecording => format!("{root}/recording[1]"),
            Locator::ExtensionData(i) => format!("{root}/extensiondata[{}]", i + 1),
            Locator::BroadWorksCall(i) => format!(
                "{root}/extensiondata[{}]/broadWorksRecordingMetadata[1]",
                i + 1
            ),
        }
    }

    /// Each stream's label with where it was: what SRC-11 compares against the SDP.
    pub fn stream_label_evidence(&self) -> Vec<LabelEvidence> {
        let Some(rec) = self.recording() else {
            return Vec::new();
        };
        rec.streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let label = s.label.clone()?;
                let loc = self.loc(Locator::Stream(i));
                Some(LabelEvidence {
                    stream_id: s.id.clone(),
                    label,
                    path: format!("{}/label", loc.path),
                    offset: loc.offset,
                })
            })
            .collect()
    }

    /// Every `send` reference with where it was: what SRC-12 checks.
    pub fn send_evidence(&self) -> Vec<SendEvidence> {
        let Some(rec) = self.recording() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, a) in rec.participant_stream_assocs.iter().enumerate() {
            for (j, s) in a.send.iter().enumerate() {
                let loc = self.loc(Locator::Send(i, j));
                out.push(SendEvidence {
                    participant_id: a.participant_id.clone(),
                    stream_id: s.clone(),
                    path: loc.path,
                    offset: loc.offset,
                });
            }
        }
        out
    }
}

/// A stream label and where it was (see [`Document::stream_label_evidence`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelEvidence {
    /// The stream's ID, if it had one.
    pub stream_id: Option<String>,
    /// The label.
    pub label: String,
    /// Path of the `<label>` element.
    pub path: String,
    /// Byte offset of the `<stream>` element, when read from bytes.
    pub offset: Option<usize>,
}

/// A `send` reference and where it was (see [`Document::send_evidence`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendEvidence {
    /// The sending participant's ID, if the association had one.
    pub participant_id: Option<String>,
    /// The stream ID it sends on.
    pub stream_id: String,
    /// Path of the `<send>` (BroadWorks: `send/id`) element.
    pub path: String,
    /// Its byte offset, when read from bytes.
    pub offset: Option<usize>,
}

/// Parses a metadata body with the default [`Limits`].
///
/// Refuses DTDs (any `<!DOCTYPE`) and undefined entities without expanding anything, so
/// entity bombs cost nothing. Schema problems are not errors: see
/// [`Document::observations`].
pub fn parse(xml: &[u8]) -> Result<Document, MetadataError> {
    parse_with_limits(xml, Limits::default())
}

/// Parses a metadata body with explicit [`Limits`].
pub fn parse_with_limits(xml: &[u8], limits: Limits) -> Result<Document, MetadataError> {
    let (text, base) = xml::decode(xml, &limits)?;
    let root = xml::read_tree(text, base, &limits)?;
    Ok(read::build_document(&root, text, base))
}
