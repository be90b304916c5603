//! MD-01..MD-17 (and POL-05's element) on one metadata document.
//!
//! Each rule looks at one [`Document`]; rules that need earlier messages of the recording
//! session (stable IDs across updates, references resolved against earlier documents)
//! belong to the session state machine, which can use
//! [`Recording::unresolved_references`].
//!
//! Required attributes and children are judged from the model (so a model built in code
//! is judged like a parsed one); the rest of the schema (unknown, foreign or misplaced
//! elements, stray text) from the reader's [`SchemaObservation`]s.

use super::announcement::{ANNOUNCEMENT_ELEMENT, ANNOUNCEMENT_NS, Announcement};
use super::ids::{IdForm, classify_id};
use super::model::*;
use super::time::{TimeValue, XsDateTime};
use super::{
    Body, Dialect, Document, MetadataError, ObservationKind, RECORDING_NS, SIPREC_NS,
    SchemaObservation,
};
use crate::findings::{Evidence, Finding, Profile, Severity};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// The Webex person settings MD-17 compares the BroadWorks identity with
/// (`GET /people/{personId}/features/callRecording`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadWorksIdentity {
    /// `serviceProvider`; must equal `<serviceProviderID>`.
    pub service_provider: String,
    /// `externalGroup`; must equal `<groupID>`.
    pub external_group: String,
    /// `externalIdentifier`; must equal `<userID>`.
    pub external_identifier: String,
}

/// An example of a well-formed RFC 7865 ID, for messages.
const ID_EXAMPLE: &str = "sDW5yJFaTRWlfKpxlFxbCA==";

/// Runs every MD rule one document can show.
///
/// Severities (`strict` = `rfc-strict`, `compat` = `broadworks-compat`):
///
/// | rule | what | severity |
/// |---|---|---|
/// | MD-01 | root not `recording`/`requestsnapshot` in the RFC 7865 namespace | FAIL; the BroadWorks root (`recording_metadata` in `urn:ietf:params:xml:ns:siprec`) is FAIL strict / WARN compat |
/// | MD-02 | `recording` children out of XSD order | WARN (order not yet verified against the XSD) |
/// | MD-03 | `datamode` not `complete`/`partial` | FAIL |
/// | MD-04 | ID not base64 | FAIL; base64 of other than 16 bytes, or `urn:uuid:` in an RFC document: FAIL strict / WARN compat; `urn:uuid:` IDs of a BroadWorks document: one finding, FAIL strict / WARN compat; an ID defined twice: FAIL |
/// | MD-05..11 | required attribute or child missing | FAIL (`param` `pname`/`pval`: WARN, shape unverified); order inside an element: WARN; repeats beyond the maximum: FAIL; stray text or child in a text element: FAIL strict / WARN compat |
/// | MD-07 | a session of a complete RFC document without `sessionrecordingassoc` | WARN (checklist A); BroadWorks documents have none: INFO compat / WARN strict |
/// | MD-08 | `aor` is not a URI | FAIL strict / WARN compat (a Webex capture has an AOR without scheme); participant without `nameID`: INFO |
/// | MD-10 | empty label, or a label used by two streams | FAIL |
/// | MD-11 | participant of a complete document that sends nothing | INFO |
/// | MD-12 | dangling reference in a complete document | FAIL; in a partial document: one INFO listing them |
/// | MD-13 | not an `xs:dateTime` | FAIL; no time zone: WARN; disassociate before associate, stop before start: FAIL |
/// | MD-14 | unknown element/attribute in the document namespace or unqualified | FAIL strict / WARN compat; foreign ones: INFO |
/// | MD-15 | snapshot request body with unknown content or repeats | FAIL strict / WARN compat (repeats FAIL) |
/// | MD-16 | BroadWorks: ID or required child missing, no `callType` child | FAIL; unknown version, unknown `callType` child, unknown `mode`, missing `recording`/`group`/`session`/`extensiondata`, participant without `session`, unknown element in the siprec namespace | WARN; `recordingType` other than `on`: INFO |
/// | MD-17 | BroadWorks identity differs from `expected_identity` | FAIL |
/// | POL-05 | malformed element in recproof's announcement namespace | FAIL |
pub fn check_document(
    doc: &Document,
    profile: Profile,
    expected_identity: Option<&BroadWorksIdentity>,
) -> Vec<Finding> {
    let mut c = Checker {
        doc,
        profile,
        out: Vec::new(),
    };
    c.md01();
    for obs in &doc.observations {
        c.observation(obs);
    }
    match &doc.body {
        Body::Recording(rec) => {
            c.md03(rec);
            c.md04(rec);
            c.required(rec);
            c.md07(rec);
            c.md08(rec);
            c.md10(rec);
            c.md11(rec);
            c.md12(rec);
            c.md13(rec);
            if doc.dialect == Dialect::BroadWorks {
                c.md16(rec);
            }
            c.md17(rec, expected_identity);
            c.pol05(rec);
        }
        Body::SnapshotRequest(_) | Body::Unrecognized => {}
    }
    c.out
}

/// MD-13's last clause: no time lies in the future by more than `skew` at `now`.
///
/// Separate from [`check_document`] because the library reads no clock: the caller passes
/// its (possibly simulated) `now`. The checklist's assumption is a skew of 5 s.
pub fn check_future_times(
    doc: &Document,
    now: jiff::Timestamp,
    skew: jiff::SignedDuration,
) -> Vec<Finding> {
    let Some(rec) = doc.recording() else {
        return Vec::new();
    };
    let limit = now.checked_add(skew).unwrap_or(now);
    let mut out = Vec::new();
    for (path, t) in time_fields(doc, rec) {
        if let Ok(TimeValue::Instant(ts)) = t.value()
            && ts > limit
        {
            out.push(Finding::new(
                "MD-13",
                Severity::Fail,
                format!(
                    "time {} is {} ahead of now ({now}), more than the allowed clock skew of {}",
                    t.as_str(),
                    human_span(ts.duration_since(now)),
                    human_span(skew)
                ),
                Evidence::element(path, t.as_str()),
            ));
        }
    }
    out
}

fn human_span(d: jiff::SignedDuration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Turns a [`MetadataError`] into an MD-01 FAIL. `xml` is the metadata body, `offset` its
/// position in the enclosing message (0 for a bare document), so the evidence points into
/// the message.
pub fn parse_error_finding(err: &MetadataError, xml: &[u8], offset: usize) -> Finding {
    let at = err.offset().unwrap_or(0);
    let from = at.saturating_sub(40);
    let to = at.saturating_add(80).min(xml.len());
    let window = xml.get(from..to).unwrap_or_default();
    Finding::new(
        "MD-01",
        Severity::Fail,
        format!("the metadata body cannot be read as XML metadata: {err}"),
        Evidence::bytes(offset.saturating_add(from), window),
    )
}

/// The facts [`crate::validate`] needs for SRC-10..13, SRC-23 and POL-17, or `None` when
/// the document is not recording metadata (a snapshot request or unrecognised).
pub fn facts(doc: &Document) -> Option<crate::validate::MetadataFacts> {
    let rec = doc.recording()?;
    let streams = rec
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                s.id.clone().unwrap_or_default(),
                s.label.clone().unwrap_or_default(),
                format!("{}/label", doc.loc(Locator::Stream(i)).path),
            )
        })
        .collect();
    let sends = sends_by_participant(rec);
    let senders = rec
        .participants
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = p.id.clone().unwrap_or_default();
            let sends = sends
                .get(id.as_str())
                .map(|v| v.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default();
            (id, sends, doc.loc(Locator::Participant(i)).path)
        })
        .collect();
    let modes: Vec<&StreamMode> = rec
        .streams
        .iter()
        .filter_map(|s| s.broadworks.as_ref().and_then(|b| b.mode.as_ref()))
        .collect();
    Some(crate::validate::MetadataFacts {
        complete: rec.is_complete(),
        streams,
        senders,
        sip_session_ids: rec
            .sip_session_ids()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ext_tracking_id: rec
            .broadworks_call()
            .and_then(|c| c.ext_tracking_id.clone()),
        separate_mode: (!modes.is_empty())
            .then(|| modes.iter().all(|m| **m == StreamMode::Separate)),
    })
}

/// Stream IDs each participant sends on, built once (instead of a scan per participant)
/// so that large documents are checked in linear time.
fn sends_by_participant(rec: &Recording) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for a in &rec.participant_stream_assocs {
        if let Some(pid) = a.participant_id.as_deref() {
            out.entry(pid)
                .or_default()
                .extend(a.send.iter().map(String::as_str));
        }
    }
    out
}

struct Checker<'d> {
    doc: &'d Document,
    profile: Profile,
    out: Vec<Finding>,
}

/// Every time value of a recording with the path of its element.
fn time_fields<'r>(doc: &Document, rec: &'r Recording) -> Vec<(String, &'r XsDateTime)> {
    let mut out = Vec::new();
    let mut push = |base: String, name: &str, t: Option<&'r XsDateTime>| {
        if let Some(t) = t {
            out.push((format!("{base}/{name}"), t));
        }
    };
    for (i, g) in rec.groups.iter().enumerate() {
        let p = doc.loc(Locator::Group(i)).path;
        push(p.clone(), "associate-time", g.associate_time.as_ref());
        push(p, "disassociate-time", g.disassociate_time.as_ref());
    }
    for (i, s) in rec.sessions.iter().enumerate() {
        let p = doc.loc(Locator::Session(i)).path;
        push(p.clone(), "start-time", s.start_time.as_ref());
        push(p, "stop-time", s.stop_time.as_ref());
    }
    for (i, a) in rec.session_recording_assocs.iter().enumerate() {
        let p = doc.loc(Locator::SessionRecordingAssoc(i)).path;
        push(p.clone(), "associate-time", a.associate_time.as_ref());
        push(p, "disassociate-time", a.disassociate_time.as_ref());
    }
    for (i, a) in rec.participant_session_assocs.iter().enumerate() {
        let p = doc.loc(Locator::ParticipantSessionAssoc(i)).path;
        push(p.clone(), "associate-time", a.associate_time.as_ref());
        push(p, "disassociate-time", a.disassociate_time.as_ref());
    }
    for (i, a) in rec.participant_stream_assocs.iter().enumerate() {
        let p = doc.loc(Locator::ParticipantStreamAssoc(i)).path;
        push(p.clone(), "associate-time", a.associate_time.as_ref());
        push(p, "disassociate-time", a.disassociate_time.as_ref());
    }
    out
}

/// The rule an element's content model belongs to.
fn owner_rule(dialect: Dialect, owner: &str) -> &'static str {
    match owner {
        "requestsnapshot" | "requestreason" => return "MD-15",
        _ if dialect == Dialect::BroadWorks => return "MD-16",
        _ => {}
    }
    match owner {
        "recording" => "MD-02",
        "datamode" => "MD-03",
        "group" => "MD-05",
        "session" | "sipSessionID" | "reason" | "group-ref" => "MD-06",
        "sessionrecordingassoc" => "MD-07",
        "participant" | "nameID" | "name" => "MD-08",
        "participantsessionassoc" | "param" => "MD-09",
        "stream" | "label" => "MD-10",
        "participantstreamassoc" | "send" | "recv" => "MD-11",
        "associate-time" | "disassociate-time" | "start-time" | "stop-time" => "MD-13",
        _ => "MD-14",
    }
}

impl Checker<'_> {
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        message: String,
        evidence: Evidence,
    ) {
        self.out
            .push(Finding::new(rule, severity, message, evidence));
    }

    fn bw(&self) -> bool {
        self.doc.dialect == Dialect::BroadWorks
    }

    fn path(&self, at: Locator) -> String {
        self.doc.loc(at).path
    }

    /// Name of the ID attribute of an object kind in this dialect.
    fn id_attr(&self, kind: ObjectKind) -> &'static str {
        if self.bw() {
            return "id";
        }
        match kind {
            ObjectKind::Group => "group_id",
            ObjectKind::Session => "session_id",
            ObjectKind::Participant => "participant_id",
            ObjectKind::Stream => "stream_id",
            ObjectKind::Recording | ObjectKind::ExtensionData => "id",
        }
    }

    /// Path of the attribute or element holding a reference.
    fn ref_path(&self, r: &Reference<'_>) -> String {
        let base = self.path(r.at);
        let suffix = match (r.field, self.bw()) {
            (RefField::SessionId, false) => "/@session_id",
            (RefField::SessionId, true) => "/@session",
            (RefField::ParticipantId, false) => "/@participant_id",
            (RefField::ParticipantId, true) => "/@id",
            (RefField::GroupRef, false) => "/group-ref",
            (RefField::GroupRef, true) => "/@group",
            (RefField::Send | RefField::Recv, _) => "",
            (RefField::Recording, _) => "/@recording",
            (RefField::Parent, _) => "/@parent",
        };
        format!("{base}{suffix}")
    }

    fn ref_name(&self, field: RefField) -> &'static str {
        match (field, self.bw()) {
            (RefField::SessionId, false) => "session_id",
            (RefField::SessionId, true) => "session",
            (RefField::ParticipantId, false) => "participant_id",
            (RefField::ParticipantId, true) => "id",
            (RefField::GroupRef, false) => "group-ref",
            (RefField::GroupRef, true) => "group",
            (RefField::Send, false) => "send",
            (RefField::Send, true) => "send/id",
            (RefField::Recv, _) => "recv",
            (RefField::Recording, _) => "recording",
            (RefField::Parent, _) => "parent",
        }
    }

    // MD-01 -------------------------------------------------------------------------------

    fn md01(&mut self) {
        let root = &self.doc.root;
        let ns = root.namespace.as_deref();
        let shown = match ns {
            Some(n) => format!("<{} xmlns=\"{n}\">", root.name),
            None => format!("<{}> (no namespace)", root.name),
        };
        let ev = Evidence::element(root.name.clone(), &shown);
        let (severity, message) = match (root.name.as_str(), ns) {
            ("recording" | "requestsnapshot", Some(RECORDING_NS)) => return,
            ("recording" | "requestsnapshot", _) => (
                Severity::Fail,
                format!(
                    "root element <{}> is in namespace {}; RFC 7865 puts it in {RECORDING_NS}",
                    root.name,
                    ns.unwrap_or("(none)")
                ),
            ),
            ("recording_metadata", Some(SIPREC_NS)) => (
                self.profile.strict_or(Severity::Warn),
                format!(
                    "root element is the pre-RFC BroadWorks <recording_metadata xmlns=\"{SIPREC_NS}\">; RFC 7865 metadata is <recording xmlns=\"{RECORDING_NS}\">"
                ),
            ),
            ("recording_metadata", _) => (
                Severity::Fail,
                format!(
                    "root element <recording_metadata> is in namespace {}; the BroadWorks dialect uses {SIPREC_NS} (and RFC 7865 uses <recording xmlns=\"{RECORDING_NS}\">)",
                    ns.unwrap_or("(none)")
                ),
            ),
            _ => (
                Severity::Fail,
                format!(
                    "root element {shown} is not recording metadata; expected <recording> or <requestsnapshot> in {RECORDING_NS}"
                ),
            ),
        };
        self.push("MD-01", severity, message, ev);
    }

    // Observations --------------------------------------------------------------------------

    fn observation(&mut self, obs: &SchemaObservation) {
        let bw = self.bw();
        let snapshot = matches!(self.doc.body, Body::SnapshotRequest(_));
        let lenient = self.profile.strict_or(Severity::Warn);
        let ev = Evidence::element(obs.path.clone(), &obs.excerpt);
        let rule = owner_rule(self.doc.dialect, &obs.owner);
        let where_ = format!("<{}>", obs.owner);
        match &obs.kind {
            ObservationKind::UnknownElement { namespace } => {
                let (rule, severity) = if snapshot {
                    ("MD-15", lenient)
                } else if bw {
                    ("MD-16", Severity::Warn)
                } else {
                    ("MD-14", lenient)
                };
                let message = match namespace {
                    Some(ns) if bw => format!(
                        "element <{}> inside {where_} in {ns} is not part of the BroadWorks schema as captured",
                        obs.element
                    ),
                    Some(_) => format!(
                        "element <{}> inside {where_} is in the RFC 7865 namespace but the schema does not define it there; only elements of other namespaces may be added",
                        obs.element
                    ),
                    None => format!(
                        "element <{}> inside {where_} has no namespace; the schema allows only its own elements and elements of other namespaces (##other) there",
                        obs.element
                    ),
                };
                self.push(rule, severity, message, ev);
            }
            ObservationKind::ForeignElement { namespace } => self.push(
                "MD-14",
                Severity::Info,
                format!(
                    "foreign-namespace extension <{}> ({namespace}) inside {where_}: allowed and recorded",
                    obs.element
                ),
                ev,
            ),
            ObservationKind::OutOfOrder { after } => self.push(
                rule,
                Severity::Warn,
                format!(
                    "<{}> comes after <{after}> inside {where_}; the schema sequence puts <{}> first (lenient until the order is verified against the official XSD)",
                    obs.element, obs.element
                ),
                ev,
            ),
            ObservationKind::Duplicate { max } => {
                let rule = match obs.element.as_str() {
                    "datamode" | "dataMode" => "MD-03",
                    _ => rule,
                };
                self.push(
                    rule,
                    Severity::Fail,
                    format!(
                        "<{}> appears more than {max} time(s) inside {where_}; the extra ones were ignored",
                        obs.element
                    ),
                    ev,
                );
            }
            // Judged from the model in `required` and `md16`, so that models built in code
            // are judged the same way.
            ObservationKind::MissingAttribute { .. } | ObservationKind::MissingChild { .. } => {}
            ObservationKind::UnknownAttribute { attribute } => {
                let (rule, severity) = if snapshot {
                    ("MD-15", lenient)
                } else if bw {
                    ("MD-16", Severity::Warn)
                } else {
                    ("MD-14", lenient)
                };
                self.push(
                    rule,
                    severity,
                    format!(
                        "attribute `{attribute}` is not defined on <{}>; only attributes of other namespaces may be added",
                        obs.element
                    ),
                    ev,
                );
            }
            ObservationKind::ForeignAttribute { attribute, namespace } => self.push(
                "MD-14",
                Severity::Info,
                format!(
                    "foreign-namespace attribute `{attribute}` ({namespace}) on <{}>: allowed and recorded",
                    obs.element
                ),
                ev,
            ),
            ObservationKind::UnexpectedText { text } => self.push(
                rule,
                if bw { Severity::Warn } else { lenient },
                format!("text `{text}` inside {where_}, where the schema allows only elements"),
                ev,
            ),
            ObservationKind::ChildInSimpleContent { child } => self.push(
                rule,
                if bw { Severity::Warn } else { lenient },
                format!("<{child}> inside {where_}, which holds only text; the child was ignored"),
                ev,
            ),
        }
    }

    // MD-03 -------------------------------------------------------------------------------

    fn md03(&mut self, rec: &Recording) {
        if let Some(DataMode::Other(v)) = &rec.datamode {
            let name = if self.bw() { "dataMode" } else { "datamode" };
            self.push(
                "MD-03",
                Severity::Fail,
                format!(
                    "{name} is `{v}`; it must be `complete` or `partial` (absent means complete)"
                ),
                Evidence::element(self.path(Locator::Datamode), v),
            );
        }
    }

    // MD-04 -------------------------------------------------------------------------------

    fn md04(&mut self, rec: &Recording) {
        let defs = rec.definitions();
        let mut urn_ids: Vec<(String, &str)> = Vec::new();
        let mut checked: Vec<(String, &str)> = defs
            .iter()
            .map(|d| {
                (
                    format!("{}/@{}", self.path(d.at), self.id_attr(d.kind)),
                    d.id,
                )
            })
            .collect();
        // Unresolved references carry IDs this document does not define: check their form
        // too (resolved ones share the definition's form).
        for r in rec.unresolved_references() {
            checked.push((self.ref_path(&r), r.id));
        }
        for (path, id) in checked {
            let what = path
                .rsplit('/')
                .next()
                .unwrap_or("")
                .trim_start_matches('@')
                .to_owned();
            match (classify_id(id), self.bw()) {
                (IdForm::Base64Uuid, _) => {}
                (IdForm::UrnUuid, true) => urn_ids.push((path, id)),
                (IdForm::UrnUuid, false) => self.push(
                    "MD-04",
                    self.profile.strict_or(Severity::Warn),
                    format!(
                        "{what} \"{id}\" is a urn:uuid: ID (BroadWorks style); RFC 7865 IDs are the UUID's 16 bytes in base64, like {ID_EXAMPLE}"
                    ),
                    Evidence::element(path, id),
                ),
                (IdForm::Base64Other { len }, _) => self.push(
                    "MD-04",
                    self.profile.strict_or(Severity::Warn),
                    format!(
                        "{what} \"{id}\" is not base64 of 16 bytes (decodes to {len} bytes); RFC 7865 IDs are base64 UUIDs like {ID_EXAMPLE}"
                    ),
                    Evidence::element(path, id),
                ),
                (IdForm::Invalid, _) => self.push(
                    "MD-04",
                    Severity::Fail,
                    format!(
                        "{what} \"{id}\" is not {}",
                        if self.bw() {
                            "urn:uuid: followed by a UUID (the BroadWorks form), nor base64"
                        } else {
                            "base64 (xs:base64Binary); RFC 7865 IDs are base64 UUIDs like sDW5yJFaTRWlfKpxlFxbCA=="
                        }
                    ),
                    Evidence::element(path, id),
                ),
            }
        }
        if let Some((first_path, first)) = urn_ids.first() {
            self.push(
                "MD-04",
                self.profile.strict_or(Severity::Warn),
                format!(
                    "{} ID(s) use the BroadWorks urn:uuid: form (e.g. \"{first}\"); RFC 7865 IDs are the UUID's 16 bytes in base64, like {ID_EXAMPLE}",
                    urn_ids.len()
                ),
                Evidence::element(first_path.clone(), first),
            );
        }
        let mut first_use: HashMap<&str, usize> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            let first = *first_use.entry(d.id).or_insert(i);
            if let Some(e) = defs.get(first).filter(|_| first != i) {
                let path = format!("{}/@{}", self.path(d.at), self.id_attr(d.kind));
                self.push(
                    "MD-04",
                    Severity::Fail,
                    format!(
                        "ID \"{}\" of this <{}> is already the ID of <{}> at {}; IDs are unique within a recording session",
                        d.id,
                        d.kind.element(),
                        e.kind.element(),
                        self.path(e.at)
                    ),
                    Evidence::element(path, d.id),
                );
            }
        }
    }

    // Required attributes and children (MD-05..MD-11; MD-16 for BroadWorks) --------------

    fn missing(
        &mut self,
        rule: &'static str,
        severity: Severity,
        at: Locator,
        element: &str,
        what: &str,
    ) {
        let rule = if self.bw() { "MD-16" } else { rule };
        let path = self.path(at);
        self.push(
            rule,
            severity,
            format!("<{element}> has no {what}, which the schema requires"),
            Evidence::element(path, format!("<{element}>")),
        );
    }

    fn required(&mut self, rec: &Recording) {
        let bw = self.bw();
        let fail = Severity::Fail;
        let id_word = |rfc: &'static str| if bw { "id attribute" } else { rfc };
        for (i, g) in rec.groups.iter().enumerate() {
            if g.id.is_none() {
                self.missing(
                    "MD-05",
                    fail,
                    Locator::Group(i),
                    "group",
                    id_word("group_id attribute"),
                );
            }
        }
        for (i, s) in rec.sessions.iter().enumerate() {
            if s.id.is_none() {
                self.missing(
                    "MD-06",
                    fail,
                    Locator::Session(i),
                    "session",
                    id_word("session_id attribute"),
                );
            }
        }
        for (i, p) in rec.participants.iter().enumerate() {
            if p.id.is_none() {
                self.missing(
                    "MD-08",
                    fail,
                    Locator::Participant(i),
                    "participant",
                    id_word("participant_id attribute"),
                );
            }
            if !bw {
                for (j, n) in p.name_ids.iter().enumerate() {
                    if n.aor.is_none() {
                        self.missing(
                            "MD-08",
                            fail,
                            Locator::NameId(i, j),
                            "nameID",
                            "aor attribute",
                        );
                    }
                }
            }
        }
        for (i, s) in rec.streams.iter().enumerate() {
            if s.id.is_none() {
                self.missing(
                    "MD-10",
                    fail,
                    Locator::Stream(i),
                    "stream",
                    id_word("stream_id attribute"),
                );
            }
            if s.session_id.is_none() {
                let what = if bw {
                    "session attribute"
                } else {
                    "session_id attribute"
                };
                self.missing("MD-10", fail, Locator::Stream(i), "stream", what);
            }
            if s.label.is_none() {
                // A label problem is a label problem in both dialects.
                let path = self.path(Locator::Stream(i));
                self.push(
                    "MD-10",
                    fail,
                    "<stream> has no <label>; the label ties the stream to its SDP m-line (a=label)".to_owned(),
                    Evidence::element(path, s.id.as_deref().unwrap_or("<stream>")),
                );
            }
        }
        for (i, a) in rec.session_recording_assocs.iter().enumerate() {
            if a.session_id.is_none() {
                self.missing(
                    "MD-07",
                    fail,
                    Locator::SessionRecordingAssoc(i),
                    "sessionrecordingassoc",
                    "session_id attribute",
                );
            }
        }
        for (i, a) in rec.participant_session_assocs.iter().enumerate() {
            let at = Locator::ParticipantSessionAssoc(i);
            if !bw && a.participant_id.is_none() {
                self.missing(
                    "MD-09",
                    fail,
                    at,
                    "participantsessionassoc",
                    "participant_id attribute",
                );
            }
            if a.session_id.is_none() {
                self.missing(
                    "MD-09",
                    fail,
                    at,
                    "participantsessionassoc",
                    "session_id attribute",
                );
            }
            for p in &a.params {
                if p.name.is_none() || p.value.is_none() {
                    let path = self.path(at);
                    self.push(
                        "MD-09",
                        Severity::Warn,
                        "<param> lacks pname or pval (the param shape is unverified against the XSD, hence WARN)".to_owned(),
                        Evidence::element(format!("{path}/param"), p.name.as_deref().or(p.value.as_deref()).unwrap_or("")),
                    );
                }
            }
        }
        if !bw {
            for (i, a) in rec.participant_stream_assocs.iter().enumerate() {
                if a.participant_id.is_none() {
                    self.missing(
                        "MD-11",
                        fail,
                        Locator::ParticipantStreamAssoc(i),
                        "participantstreamassoc",
                        "participant_id attribute",
                    );
                }
            }
        }
    }

    // MD-07 -------------------------------------------------------------------------------

    fn md07(&mut self, rec: &Recording) {
        if !rec.is_complete() || rec.sessions.is_empty() {
            return;
        }
        if self.bw() {
            let severity = match self.profile {
                Profile::RfcStrict => Severity::Warn,
                Profile::BroadworksCompat => Severity::Info,
            };
            self.push(
                "MD-07",
                severity,
                "the BroadWorks dialect has no <sessionrecordingassoc>: nothing ties the communication session to the recording session explicitly".to_owned(),
                Evidence::element(self.path(Locator::Root), "no sessionrecordingassoc"),
            );
            return;
        }
        let tied: HashSet<&str> = rec
            .session_recording_assocs
            .iter()
            .filter_map(|a| a.session_id.as_deref())
            .collect();
        for (i, s) in rec.sessions.iter().enumerate() {
            let Some(id) = s.id.as_deref() else { continue };
            if !tied.contains(id) {
                self.push(
                    "MD-07",
                    Severity::Warn,
                    format!("session {id} has no <sessionrecordingassoc> tying it to this recording session"),
                    Evidence::element(self.path(Locator::Session(i)), id),
                );
            }
        }
    }

    // MD-08 -------------------------------------------------------------------------------

    fn md08(&mut self, rec: &Recording) {
        for (i, p) in rec.participants.iter().enumerate() {
            if p.name_ids.is_empty() && !self.bw() {
                self.push(
                    "MD-08",
                    Severity::Info,
                    format!(
                        "participant {} has no <nameID>: the recorder cannot tell who it is",
                        p.id.as_deref().unwrap_or("(no id)")
                    ),
                    Evidence::element(
                        self.path(Locator::Participant(i)),
                        p.id.as_deref().unwrap_or(""),
                    ),
                );
            }
            for (j, n) in p.name_ids.iter().enumerate() {
                let Some(aor) = n.aor.as_deref() else {
                    continue;
                };
                if let Some(problem) = uri_problem(aor) {
                    let loc = self.path(Locator::NameId(i, j));
                    let path = if self.bw() {
                        loc
                    } else {
                        format!("{loc}/@aor")
                    };
                    self.push(
                        "MD-08",
                        self.profile.strict_or(Severity::Warn),
                        format!("aor \"{aor}\" is not a URI: {problem}"),
                        Evidence::element(path, aor),
                    );
                }
            }
        }
    }

    // MD-10 -------------------------------------------------------------------------------

    fn md10(&mut self, rec: &Recording) {
        let mut first_label: HashMap<&str, usize> = HashMap::new();
        for (i, s) in rec.streams.iter().enumerate() {
            let Some(label) = s.label.as_deref() else {
                continue;
            };
            let path = format!("{}/label", self.path(Locator::Stream(i)));
            if label.is_empty() {
                self.push(
                    "MD-10",
                    Severity::Fail,
                    "<label> is empty; it must equal the a=label token of the stream's SDP m-line"
                        .to_owned(),
                    Evidence::element(path, label),
                );
                continue;
            }
            if label.chars().any(char::is_whitespace) {
                self.push(
                    "MD-10",
                    Severity::Fail,
                    format!("label \"{label}\" contains whitespace; an SDP a=label value is a token and cannot match it"),
                    Evidence::element(path.clone(), label),
                );
            }
            let first = *first_label.entry(label).or_insert(i);
            if first != i {
                self.push(
                    "MD-10",
                    Severity::Fail,
                    format!(
                        "label \"{label}\" is also the label of {}; each stream's label must name its own m-line",
                        self.path(Locator::Stream(first))
                    ),
                    Evidence::element(path, label),
                );
            }
        }
    }

    // MD-11 -------------------------------------------------------------------------------

    fn md11(&mut self, rec: &Recording) {
        if !rec.is_complete() {
            return;
        }
        let sends = sends_by_participant(rec);
        for (i, p) in rec.participants.iter().enumerate() {
            let Some(id) = p.id.as_deref() else { continue };
            if sends.get(id).is_none_or(Vec::is_empty) {
                self.push(
                    "MD-11",
                    Severity::Info,
                    format!("participant {id} sends on no stream: listen-only, on hold, or its stream is missing"),
                    Evidence::element(self.path(Locator::Participant(i)), id),
                );
            }
        }
    }

    // MD-12 -------------------------------------------------------------------------------

    fn md12(&mut self, rec: &Recording) {
        let unresolved = rec.unresolved_references();
        if unresolved.is_empty() {
            return;
        }
        let describe = |c: &Self, r: &Reference<'_>| {
            let kinds: Vec<&str> = r.targets.iter().map(|k| k.element()).collect();
            format!(
                "{} \"{}\" (at {}) names no <{}> in this document",
                c.ref_name(r.field),
                r.id,
                c.ref_path(r),
                kinds.join("> or <")
            )
        };
        if rec.is_complete() {
            for r in &unresolved {
                let message = format!(
                    "{}; in a complete document every reference must resolve",
                    describe(self, r)
                );
                let path = self.ref_path(r);
                self.push(
                    "MD-12",
                    Severity::Fail,
                    message,
                    Evidence::element(path, r.id),
                );
            }
        } else {
            let list: Vec<String> = unresolved.iter().map(|r| describe(self, r)).collect();
            let first_path = unresolved
                .first()
                .map(|r| self.ref_path(r))
                .unwrap_or_default();
            self.push(
                "MD-12",
                Severity::Info,
                format!(
                    "{} reference(s) of this partial update name objects it does not carry; they must have been sent earlier on this recording session: {}",
                    unresolved.len(),
                    list.join("; ")
                ),
                Evidence::element(first_path, unresolved.first().map(|r| r.id).unwrap_or("")),
            );
        }
    }

    // MD-13 -------------------------------------------------------------------------------

    fn md13(&mut self, rec: &Recording) {
        for (path, t) in time_fields(self.doc, rec) {
            match t.value() {
                Ok(TimeValue::Instant(_)) => {}
                Ok(TimeValue::Local(_)) => self.push(
                    "MD-13",
                    Severity::Warn,
                    format!("time \"{}\" has no time zone (Z or an offset), so the instant it names is unknown", t.as_str()),
                    Evidence::element(path, t.as_str()),
                ),
                Err(e) => self.push("MD-13", Severity::Fail, e.to_string(), Evidence::element(path, t.as_str())),
            }
        }
        let pairs = |base: Locator,
                     a: Option<&XsDateTime>,
                     b: Option<&XsDateTime>,
                     names: (&'static str, &'static str)| {
            (base, a.cloned(), b.cloned(), names)
        };
        let mut checks = Vec::new();
        const ASSOC: (&str, &str) = ("associate-time", "disassociate-time");
        for (i, g) in rec.groups.iter().enumerate() {
            checks.push(pairs(
                Locator::Group(i),
                g.associate_time.as_ref(),
                g.disassociate_time.as_ref(),
                ASSOC,
            ));
        }
        for (i, s) in rec.sessions.iter().enumerate() {
            checks.push(pairs(
                Locator::Session(i),
                s.start_time.as_ref(),
                s.stop_time.as_ref(),
                ("start-time", "stop-time"),
            ));
        }
        for (i, a) in rec.session_recording_assocs.iter().enumerate() {
            checks.push(pairs(
                Locator::SessionRecordingAssoc(i),
                a.associate_time.as_ref(),
                a.disassociate_time.as_ref(),
                ASSOC,
            ));
        }
        for (i, a) in rec.participant_session_assocs.iter().enumerate() {
            checks.push(pairs(
                Locator::ParticipantSessionAssoc(i),
                a.associate_time.as_ref(),
                a.disassociate_time.as_ref(),
                ASSOC,
            ));
        }
        for (i, a) in rec.participant_stream_assocs.iter().enumerate() {
            checks.push(pairs(
                Locator::ParticipantStreamAssoc(i),
                a.associate_time.as_ref(),
                a.disassociate_time.as_ref(),
                ASSOC,
            ));
        }
        for (at, first, second, (first_name, second_name)) in checks {
            let (Some(first), Some(second)) = (first, second) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (first.value(), second.value()) else {
                continue;
            };
            if a.partial_cmp_with(&b) == Some(Ordering::Greater) {
                let path = format!("{}/{second_name}", self.path(at));
                self.push(
                    "MD-13",
                    Severity::Fail,
                    format!(
                        "{second_name} {} is before {first_name} {}",
                        second.as_str(),
                        first.as_str()
                    ),
                    Evidence::element(path, second.as_str()),
                );
            }
        }
    }

    // MD-16 -------------------------------------------------------------------------------

    fn md16(&mut self, rec: &Recording) {
        let root = self.path(Locator::Root);
        let bw = rec.broadworks.as_ref();
        let info = bw.and_then(|b| b.recording.as_ref());
        match info {
            None => self.push(
                "MD-16",
                Severity::Warn,
                "no BroadWorks <recording> element (every capture has one, with the recording's id, requestor and type)".to_owned(),
                Evidence::element(root.clone(), "no <recording>"),
            ),
            Some(r) if r.id.is_none() => self.missing("MD-16", Severity::Fail, Locator::BroadWorksRecording, "recording", "id attribute"),
            Some(_) => {}
        }
        for (what, empty) in [
            ("group", rec.groups.is_empty()),
            ("session", rec.sessions.is_empty()),
        ] {
            if empty && rec.is_complete() {
                self.push(
                    "MD-16",
                    Severity::Warn,
                    format!("no <{what}> element in a complete BroadWorks document (every capture has one)"),
                    Evidence::element(root.clone(), format!("no <{what}>")),
                );
            }
        }
        let in_session: HashSet<&str> = rec
            .participant_session_assocs
            .iter()
            .filter(|a| a.session_id.is_some())
            .filter_map(|a| a.participant_id.as_deref())
            .collect();
        for (i, p) in rec.participants.iter().enumerate() {
            let Some(id) = p.id.as_deref() else { continue };
            if !in_session.contains(id) {
                self.push(
                    "MD-16",
                    Severity::Warn,
                    format!(
                        "participant {id} has no session attribute, so it belongs to no session"
                    ),
                    Evidence::element(self.path(Locator::Participant(i)), id),
                );
            }
        }
        for (i, s) in rec.streams.iter().enumerate() {
            match s.broadworks.as_ref().and_then(|b| b.mode.as_ref()) {
                Some(StreamMode::Other(m)) => self.push(
                    "MD-16",
                    Severity::Warn,
                    format!("stream mode \"{m}\" is neither `separate` nor `mixed`"),
                    Evidence::element(format!("{}/mode", self.path(Locator::Stream(i))), m),
                ),
                None => self.push(
                    "MD-16",
                    Severity::Info,
                    "stream has no <mode> (separate or mixed); the captures always give one"
                        .to_owned(),
                    Evidence::element(self.path(Locator::Stream(i)), s.id.as_deref().unwrap_or("")),
                ),
                Some(_) => {}
            }
        }
        let ext = bw.map(|b| b.extension_data.as_slice()).unwrap_or_default();
        for (i, e) in ext.iter().enumerate() {
            if e.id.is_none() {
                self.missing(
                    "MD-16",
                    Severity::Fail,
                    Locator::ExtensionData(i),
                    "extensiondata",
                    "id attribute",
                );
            }
            if e.parent.is_none() {
                self.missing(
                    "MD-16",
                    Severity::Fail,
                    Locator::ExtensionData(i),
                    "extensiondata",
                    "parent attribute",
                );
            }
            if let Some(call) = &e.call {
                self.bw_call(i, call);
            }
        }
        if rec.is_complete() && rec.broadworks_call().is_none() {
            self.push(
                "MD-16",
                Severity::Warn,
                "no <extensiondata> with <broadWorksRecordingMetadata>: extTrackingID, serviceProviderID, groupID and userID cannot be checked (POL-17, MD-17)".to_owned(),
                Evidence::element(root, "no broadWorksRecordingMetadata"),
            );
        }
    }

    fn bw_call(&mut self, index: usize, call: &BroadWorksCallMetadata) {
        let at = Locator::BroadWorksCall(index);
        let path = self.path(at);
        match call.version.as_deref() {
            None => self.push(
                "MD-16",
                Severity::Warn,
                "<broadWorksRecordingMetadata> has no version attribute (1.0, 2.0 and 3.0 are known)".to_owned(),
                Evidence::element(path.clone(), "<broadWorksRecordingMetadata>"),
            ),
            Some("1.0" | "2.0" | "3.0") => {}
            Some(v) => self.push(
                "MD-16",
                Severity::Warn,
                format!("<broadWorksRecordingMetadata> version \"{v}\" is not one of the known 1.0, 2.0, 3.0"),
                Evidence::element(format!("{path}/@version"), v),
            ),
        }
        for (present, child) in [
            (call.ext_tracking_id.is_some(), "extTrackingID"),
            (call.service_provider_id.is_some(), "serviceProviderID"),
            (call.group_id.is_some(), "groupID"),
            (call.user_id.is_some(), "userID"),
            (call.call_id.is_some(), "callID"),
            (
                call.call_type.is_some(),
                "callType (with origCall or termCall)",
            ),
            (call.recording_type.is_some(), "recordingType"),
        ] {
            if !present {
                self.missing(
                    "MD-16",
                    Severity::Fail,
                    at,
                    "broadWorksRecordingMetadata",
                    &format!("<{child}>"),
                );
            }
        }
        if let Some(ct) = &call.call_type {
            let ct_path = format!("{path}/callType/{}", ct.direction.element_name());
            if let CallDirection::Other(name) = &ct.direction {
                self.push(
                    "MD-16",
                    Severity::Warn,
                    format!("<callType> holds <{name}>; only <origCall> and <termCall> are known"),
                    Evidence::element(ct_path.clone(), name),
                );
            }
            for (present, child) in [
                (ct.calling_party_number.is_some(), "callingPartyNumber"),
                (ct.called_party_number.is_some(), "calledPartyNumber"),
            ] {
                if !present {
                    self.push(
                        "MD-16",
                        Severity::Fail,
                        format!("<{}> has no <{child}>", ct.direction.element_name()),
                        Evidence::element(
                            ct_path.clone(),
                            format!("<{}>", ct.direction.element_name()),
                        ),
                    );
                }
            }
        }
        if let Some(t) = call.recording_type.as_deref().filter(|t| *t != "on") {
            self.push(
                "MD-16",
                Severity::Info,
                format!(
                    "recordingType \"{t}\": only `on` has been seen, other values are not public"
                ),
                Evidence::element(format!("{path}/recordingType"), t),
            );
        }
    }

    // MD-17 -------------------------------------------------------------------------------

    fn md17(&mut self, rec: &Recording, expected: Option<&BroadWorksIdentity>) {
        let Some(expected) = expected else { return };
        let found = rec
            .broadworks
            .iter()
            .flat_map(|b| b.extension_data.iter().enumerate())
            .find_map(|(i, e)| e.call.as_ref().map(|c| (i, c)));
        let Some((index, call)) = found else {
            self.push(
                "MD-17",
                Severity::Info,
                "no <broadWorksRecordingMetadata> to compare with the person's serviceProvider, externalGroup and externalIdentifier".to_owned(),
                Evidence::element(self.path(Locator::Root), "no broadWorksRecordingMetadata"),
            );
            return;
        };
        let path = self.path(Locator::BroadWorksCall(index));
        for (element, value, field, want) in [
            (
                "serviceProviderID",
                call.service_provider_id.as_deref(),
                "serviceProvider",
                expected.service_provider.as_str(),
            ),
            (
                "groupID",
                call.group_id.as_deref(),
                "externalGroup",
                expected.external_group.as_str(),
            ),
            (
                "userID",
                call.user_id.as_deref(),
                "externalIdentifier",
                expected.external_identifier.as_str(),
            ),
        ] {
            let Some(value) = value else { continue }; // MD-16 reports the absence
            if value.trim() != want.trim() {
                self.push(
                    "MD-17",
                    Severity::Fail,
                    format!("<{element}> is \"{value}\" but the person's {field} is \"{want}\""),
                    Evidence::element(format!("{path}/{element}"), value),
                );
            }
        }
    }

    // POL-05 ------------------------------------------------------------------------------

    fn pol05(&mut self, rec: &Recording) {
        let bw = rec
            .broadworks
            .iter()
            .flat_map(|b| b.extension_data.iter().enumerate())
            .flat_map(|(i, e)| e.extensions.iter().map(move |x| (Some(i), x)));
        let all: Vec<(Option<usize>, &super::XmlElement)> =
            rec.extensions.iter().map(|x| (None, x)).chain(bw).collect();
        for (ext_index, el) in all {
            if el.namespace.as_deref() != Some(ANNOUNCEMENT_NS) {
                continue;
            }
            let base = match ext_index {
                Some(i) => self.path(Locator::ExtensionData(i)),
                None => self.path(Locator::Root),
            };
            let path = format!("{base}/{}", el.name);
            let problem = if el.name == ANNOUNCEMENT_ELEMENT {
                Announcement::from_element(el).err().map(|e| e.to_string())
            } else {
                Some(format!(
                    "element <{}> is not defined in the announcement namespace (only <announcement> is)",
                    el.name
                ))
            };
            if let Some(problem) = problem {
                self.push(
                    "POL-05",
                    Severity::Fail,
                    format!("malformed announcement report: {problem}"),
                    Evidence::element(path, el.to_xml_string()),
                );
            }
        }
    }
}

/// Why `aor` is not a URI (RFC 3986 §3.1 scheme, then a light check of `sip:`/`sips:`
/// (RFC 3261 §19.1) and `tel:` (RFC 3966) shapes), or `None` when it is one.
/// Hand-written: no URI crate is in the tree and anyURI needs only this much.
pub(crate) fn uri_problem(aor: &str) -> Option<String> {
    if aor.is_empty() {
        return Some("it is empty".into());
    }
    if let Some(c) = aor.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    }) {
        return Some(format!("it contains {c:?}, which a URI cannot hold"));
    }
    let Some((scheme, rest)) = aor.split_once(':') else {
        return Some("it has no scheme (expected sip:, sips:, tel: or another scheme:)".into());
    };
    let mut sc = scheme.chars();
    let scheme_ok = sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Some(format!("`{scheme}` is not a URI scheme"));
    }
    if rest.is_empty() {
        return Some(format!("nothing follows `{scheme}:`"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sip" | "sips" => {
            let before_params = rest.split([';', '?']).next().unwrap_or("");
            let host = before_params.rsplit('@').next().unwrap_or("");
            if host.is_empty() {
                return Some(format!("the {scheme} URI has no host"));
            }
            if before_params.starts_with('@') {
                return Some(format!(
                    "the {scheme} URI has an empty user part before `@`"
                ));
            }
            None
        }
        "tel" => {
            let number = rest.split(';').next().unwrap_or("");
            let ok = !number.is_empty()
                && number.chars().all(|c| {
                    c.is_ascii_hexdigit() || matches!(c, '+' | '-' | '.' | '(' | ')' | '*' | '#')
                });
            (!ok).then(|| format!("`{number}` is not a telephone number (RFC 3966)"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::uri_problem;

    #[test]
    fn uris() {
        for ok in [
            "sip:+15551230001@example.com",
            "sips:alice@example.com;transport=tls",
            "sip:8638254725",
            "tel:+18638254220",
            "tel:7711;phone-context=example.com",
            "urn:service:sos",
            "mailto:a@b",
        ] {
            assert_eq!(uri_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "gosrs4isif@44936045.int10.bcld.webex.com",
            "sip:",
            "sip:@example.com",
            "1sip:a@b",
            "sip:alice smith@example.com",
            "tel:call-me",
            "sip:alice@",
        ] {
            assert!(uri_problem(bad).is_some(), "{bad}");
        }
    }
}
