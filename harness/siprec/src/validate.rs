//! Single-message validation: what `recproof validate` checks in one captured message.
//!
//! Input is the bytes of one SIP message (an RS INVITE, re-INVITE or UPDATE from an SRC,
//! or an SRS's response to one) or a bare metadata XML document. Output is a list of
//! [`Finding`]s, each citing its checklist ID, with the offending bytes as evidence.
//!
//! This module owns the rules that one message can show: SRC-02..13 and SRC-23 on
//! requests, SRS-02/03 on responses, POL-17 where the BroadWorks correlation header and
//! metadata are both present, plus the framing rules recproof adds (SIP-01..03, see
//! [`crate::findings`]). Metadata document rules (MD-xx) are delegated to
//! [`crate::metadata::check_document`]. Rules that need several messages or media
//! (SRC-14 onwards, POL-xx) belong to the call checks, not here.
//!
//! It never fails on input: anything unreadable becomes a finding.

use crate::findings::{Evidence, Finding, Profile, Severity};
use crate::metadata;
use sip::message::{LengthIssue, Method, SipMessage};
use sip::multipart::{self, Part, RS_METADATA_LEGACY, RS_METADATA_REQUEST, RS_METADATA_XML, SDP};
use sip::sdp::{Direction, MediaView, SessionDescription};
use std::collections::{BTreeMap, BTreeSet};

/// What kind of input a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// An initial RS INVITE (no To tag).
    InitialInvite,
    /// A re-INVITE (To tag present).
    ReInvite,
    /// An UPDATE.
    Update,
    /// Another request method.
    OtherRequest(String),
    /// A response (status code).
    Response(u16),
    /// A bare metadata document.
    MetadataDocument,
    /// Could not be read as SIP or XML.
    Unreadable,
}

/// The result of validating one input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// What the input was.
    pub kind: InputKind,
    /// The profile the severities were chosen under.
    pub profile: Profile,
    /// All findings, in the order the rules ran.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when any finding is a FAIL.
    pub fn failed(&self) -> bool {
        crate::findings::any_fail(&self.findings)
    }
}

/// Validates one input: a raw SIP message or a bare metadata XML document.
pub fn validate(input: &[u8], profile: Profile) -> Report {
    let trimmed = trim_start(input);
    if trimmed.first() == Some(&b'<') {
        let mut findings = Vec::new();
        check_metadata_bytes(input, 0, &mut findings, profile, &Context::default());
        return Report {
            kind: InputKind::MetadataDocument,
            profile,
            findings,
        };
    }
    match SipMessage::parse(input.to_vec()) {
        Ok(msg) => validate_message(&msg, profile),
        Err(e) => Report {
            kind: InputKind::Unreadable,
            profile,
            findings: vec![Finding::new(
                "SIP-01",
                Severity::Fail,
                format!("not a SIP message: {e}"),
                Evidence::bytes(0, &input[..input.len().min(200)]),
            )],
        },
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// What rules about the whole message need to know while checking the metadata.
#[derive(Debug, Default)]
struct Context {
    initial: bool,
    sdp_labels: Option<Vec<(usize, Option<String>)>>,
    active_streams: Option<usize>,
}

/// Validates a parsed SIP message.
pub fn validate_message(msg: &SipMessage, profile: Profile) -> Report {
    let mut f = Vec::new();
    check_framing(msg, &mut f);
    let kind = match (msg.method(), msg.status()) {
        (Some(Method::Invite), _) => {
            let tagged = msg
                .to_header()
                .ok()
                .and_then(|t| t.tag().map(str::to_owned))
                .is_some();
            if tagged {
                InputKind::ReInvite
            } else {
                InputKind::InitialInvite
            }
        }
        (Some(Method::Update), _) => InputKind::Update,
        (Some(m), _) => InputKind::OtherRequest(m.to_string()),
        (None, Some(code)) => InputKind::Response(code),
        (None, None) => InputKind::Unreadable,
    };
    match &kind {
        InputKind::InitialInvite | InputKind::ReInvite | InputKind::Update => {
            check_request(msg, kind == InputKind::InitialInvite, profile, &mut f)
        }
        InputKind::Response(_) => check_response(msg, profile, &mut f),
        _ => f.push(Finding::new(
            "SIP-01",
            Severity::Info,
            format!(
                "{} is not a recording-session request recproof validates (INVITE, re-INVITE, UPDATE or a response to one); only framing was checked",
                msg.method().map(Method::to_string).unwrap_or_default()
            ),
            Evidence::None,
        )),
    }
    Report {
        kind,
        profile,
        findings: f,
    }
}

/// SIP-02/SIP-03: Content-Length and mandatory headers.
fn check_framing(msg: &SipMessage, f: &mut Vec<Finding>) {
    if let Some(issue) = msg.length_issue() {
        let severity = match issue {
            LengthIssue::Missing { .. } => Severity::Warn,
            _ => Severity::Fail,
        };
        let evidence = msg
            .header("Content-Length")
            .map(|h| Evidence::header(&h.wire_name, &h.value))
            .unwrap_or(Evidence::None);
        f.push(Finding::new(
            "SIP-02",
            severity,
            issue.to_string(),
            evidence,
        ));
    }
    let needed: &[&str] = if msg.is_request() {
        &["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"]
    } else {
        &["Via", "From", "To", "Call-ID", "CSeq"]
    };
    for name in needed {
        if msg.header(name).is_none() {
            f.push(Finding::new(
                "SIP-03",
                if *name == "Max-Forwards" {
                    Severity::Warn
                } else {
                    Severity::Fail
                },
                format!("mandatory header `{name}` is missing (RFC 3261 §8.1.1)"),
                Evidence::None,
            ));
        }
    }
    for (name, result) in [
        ("From", msg.from_header().map(|_| ())),
        ("To", msg.to_header().map(|_| ())),
        ("CSeq", msg.cseq().map(|_| ())),
        ("Via", msg.top_via().map(|_| ())),
    ] {
        if let Err(sip::HeaderError::Malformed { reason, .. }) = result {
            let value = msg.header_value(name).unwrap_or_default();
            f.push(Finding::new(
                "SIP-01",
                Severity::Fail,
                format!("`{name}` header does not follow its grammar: {reason}"),
                Evidence::header(name, value),
            ));
        }
    }
}

fn check_request(msg: &SipMessage, initial: bool, profile: Profile, f: &mut Vec<Finding>) {
    if initial {
        check_require(msg, profile, f);
    }
    check_contact_src(msg, profile, f);
    if initial {
        check_accept(msg, profile, f);
    }
    let body = split_body(msg, initial, profile, f);
    let mut ctx = Context {
        initial,
        ..Context::default()
    };
    if let Some(sdp) = &body.sdp {
        check_sdp(sdp, body.sdp_offset, profile, f, &mut ctx);
    }
    let facts = body.metadata.as_ref().and_then(|(part, offset)| {
        check_metadata_part_headers(part, msg, *offset, profile, f);
        check_metadata_bytes(&part.body, *offset, f, profile, &ctx)
    });
    if let Some(facts) = &facts {
        check_session_id(msg, facts, profile, f);
        check_correlation(msg, facts, f);
    } else if initial {
        check_session_id(msg, &MetadataFacts::default(), profile, f);
    }
}

/// SRC-02: `Require: siprec` on the initial INVITE.
fn check_require(msg: &SipMessage, profile: Profile, f: &mut Vec<Finding>) {
    let require = msg.header_list("Require");
    if require.iter().any(|r| r.eq_ignore_ascii_case("siprec")) {
        return;
    }
    let supported = msg.header_list("Supported");
    let note = if supported.iter().any(|s| s.eq_ignore_ascii_case("siprec")) {
        " (`siprec` is only in Supported, which does not oblige the SRS)"
    } else {
        ""
    };
    f.push(Finding::new(
        "SRC-02",
        profile.strict_or(Severity::Warn),
        format!("initial recording-session INVITE has no `Require: siprec`{note}; RFC 7866 §6.1.1 requires it (BroadWorks/Webex omit it)"),
        msg.header("Require").map_or(Evidence::None, |h| Evidence::header(&h.wire_name, &h.value)),
    ));
}

/// SRC-03: `+sip.src` on the Contact (compat: `;src` as URI or header parameter).
fn check_contact_src(msg: &SipMessage, profile: Profile, f: &mut Vec<Finding>) {
    let Some(field) = msg.header("Contact") else {
        f.push(Finding::new(
            "SRC-03",
            Severity::Fail,
            "request has no Contact header, so it cannot carry the +sip.src feature tag",
            Evidence::None,
        ));
        return;
    };
    let evidence = Evidence::header(&field.wire_name, &field.value);
    let contacts = match msg.contacts() {
        Ok(c) if !c.is_empty() => c,
        Ok(_) | Err(_) => {
            f.push(Finding::new(
                "SRC-03",
                Severity::Fail,
                "Contact header cannot be parsed",
                evidence,
            ));
            return;
        }
    };
    let contact = &contacts[0];
    if contact.param("+sip.src").is_some() {
        return;
    }
    let src_param = contact.param("src").is_some();
    let src_uri = contact.uri.has_param("src");
    if src_param || src_uri {
        let place = if src_uri {
            "a URI parameter inside <...>"
        } else {
            "a header parameter"
        };
        f.push(Finding::new(
            "SRC-03",
            profile.strict_or(Severity::Warn),
            format!("Contact marks the SRC with `;src` as {place} instead of the `+sip.src` feature tag (RFC 7866 §6.1.1); BroadWorks/Webex style"),
            evidence,
        ));
    } else {
        f.push(Finding::new(
            "SRC-03",
            Severity::Fail,
            "Contact has neither `+sip.src` nor `;src`: the SRS cannot tell this is a recording session",
            evidence,
        ));
    }
}

/// SRC-04: Accept lists SDP, metadata and the snapshot-request type.
fn check_accept(msg: &SipMessage, profile: Profile, f: &mut Vec<Finding>) {
    let accept: Vec<String> = msg
        .header_list("Accept")
        .iter()
        .map(|a| multipart::media_type_of(a))
        .collect();
    let evidence = msg
        .header("Accept")
        .map_or(Evidence::None, |h| Evidence::header(&h.wire_name, &h.value));
    if accept.is_empty() {
        f.push(Finding::new(
            "SRC-04",
            Severity::Warn,
            "no Accept header: the SRS cannot tell that the SRC takes metadata snapshot requests (application/rs-metadata-request)",
            evidence,
        ));
        return;
    }
    let has = |t: &str| accept.iter().any(|a| a == t);
    let mut missing = Vec::new();
    if !has(SDP) {
        missing.push(SDP);
    }
    if !has(RS_METADATA_XML) && !has(RS_METADATA_LEGACY) {
        missing.push(RS_METADATA_XML);
    }
    if !has(RS_METADATA_REQUEST) {
        missing.push(RS_METADATA_REQUEST);
    }
    if !missing.is_empty() {
        let severity = match profile {
            Profile::RfcStrict => Severity::Warn,
            Profile::BroadworksCompat => Severity::Info,
        };
        f.push(Finding::new(
            "SRC-04",
            severity,
            format!("Accept does not list {}; without application/rs-metadata-request the SRS cannot ask for snapshots (SRC-21)", missing.join(", ")),
            evidence,
        ));
    }
}

struct Body {
    sdp: Option<SessionDescription>,
    sdp_offset: usize,
    metadata: Option<(Part, usize)>,
}

/// SRC-05: multipart/mixed with an SDP and a metadata part; finds the parts.
fn split_body(msg: &SipMessage, initial: bool, profile: Profile, f: &mut Vec<Finding>) -> Body {
    let mut out = Body {
        sdp: None,
        sdp_offset: msg.body_offset(),
        metadata: None,
    };
    let body = msg.body();
    let ctype = msg.content_type().unwrap_or("");
    let ctype_ev = || {
        msg.header("Content-Type")
            .map_or(Evidence::None, |h| Evidence::header(&h.wire_name, &h.value))
    };
    if body.is_empty() {
        if initial {
            f.push(Finding::new(
                "SRC-05",
                Severity::Fail,
                "initial recording-session INVITE has no body: it needs SDP and metadata (RFC 7866 §9.1)",
                Evidence::None,
            ));
        }
        return out;
    }
    let media_type = multipart::media_type_of(ctype);
    let parse_sdp = |bytes: &[u8], offset: usize, f: &mut Vec<Finding>| {
        match SessionDescription::parse(bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                f.push(Finding::new(
                    "SRC-05",
                    Severity::Fail,
                    format!("SDP part does not parse: {e}"),
                    Evidence::bytes(offset, bytes),
                ));
                None
            }
        }
    };
    match media_type.as_str() {
        "multipart/mixed" => {}
        SDP => {
            if initial {
                f.push(Finding::new(
                    "SRC-05",
                    Severity::Fail,
                    "initial recording-session INVITE carries only SDP; RFC 7866 §9.1 requires multipart/mixed with SDP and metadata",
                    ctype_ev(),
                ));
            }
            out.sdp = parse_sdp(body, msg.body_offset(), f);
            return out;
        }
        RS_METADATA_XML | RS_METADATA_LEGACY if !initial => {
            // An UPDATE or re-INVITE may carry metadata alone (Webex UPDATE captures).
            let part = Part {
                headers: msg
                    .headers()
                    .iter()
                    .filter(|h| h.name.to_ascii_lowercase().starts_with("content-"))
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
                body: body.clone(),
                offset: msg.body_offset(),
            };
            out.metadata = Some((part, msg.body_offset()));
            return out;
        }
        _ => {
            f.push(Finding::new(
                "SRC-05",
                Severity::Fail,
                format!("body Content-Type is `{media_type}`; a recording-session request carries multipart/mixed (SDP + metadata), or SDP or metadata alone in an update"),
                ctype_ev(),
            ));
            return out;
        }
    }
    let parsed = match multipart::parse(ctype, body) {
        Ok(p) => p,
        Err(e) => {
            f.push(Finding::new(
                "SRC-05",
                Severity::Fail,
                format!("multipart body cannot be split: {e}"),
                Evidence::bytes(msg.body_offset(), body),
            ));
            return out;
        }
    };
    if !parsed.closed {
        f.push(Finding::new(
            "SRC-05",
            Severity::Warn,
            format!(
                "multipart body has no closing delimiter `--{}--` (RFC 2046 §5.1.1)",
                parsed.boundary
            ),
            Evidence::bytes(msg.body_offset(), body),
        ));
    }
    let base = msg.body_offset();
    match parsed.sdp() {
        Some(p) => {
            out.sdp_offset = base + p.offset;
            out.sdp = parse_sdp(&p.body, base + p.offset, f);
        }
        None if initial => f.push(Finding::new(
            "SRC-05",
            Severity::Fail,
            "multipart body has no application/sdp part",
            Evidence::bytes(base, body),
        )),
        None => {}
    }
    match parsed.metadata() {
        Some(p) => out.metadata = Some((p.clone(), base + p.offset)),
        None => {
            let types: Vec<String> = parsed
                .parts
                .iter()
                .map(|p| p.media_type().unwrap_or_else(|| "(no Content-Type)".into()))
                .collect();
            let severity = if initial {
                Severity::Fail
            } else {
                profile.strict_or(Severity::Fail)
            };
            f.push(Finding::new(
                "SRC-05",
                severity,
                format!("multipart body has no metadata part (application/rs-metadata+xml); parts are: {}", types.join(", ")),
                Evidence::bytes(base, body),
            ));
        }
    }
    out
}

/// SRC-06/07 on the metadata part's own headers.
fn check_metadata_part_headers(
    part: &Part,
    msg: &SipMessage,
    offset: usize,
    _profile: Profile,
    f: &mut Vec<Finding>,
) {
    let ctype = part.header("Content-Type").unwrap_or("");
    if multipart::media_type_of(ctype) == RS_METADATA_LEGACY {
        f.push(Finding::new(
            "SRC-06",
            Severity::Warn,
            "metadata part uses the legacy type application/rs-metadata; RFC 9806 registered application/rs-metadata+xml",
            Evidence::header("Content-Type", ctype),
        ));
    }
    match part.disposition() {
        Some(d) if d == multipart::RECORDING_SESSION => {}
        Some(d) => f.push(Finding::new(
            "SRC-07",
            Severity::Fail,
            format!("metadata part has Content-Disposition `{d}`; RFC 7866 §9.1 requires `recording-session`"),
            Evidence::header("Content-Disposition", part.header("Content-Disposition").unwrap_or_default()),
        )),
        None => f.push(Finding::new(
            "SRC-07",
            Severity::Fail,
            "metadata part has no Content-Disposition; RFC 7866 §9.1 requires `Content-Disposition: recording-session`",
            Evidence::bytes(offset, &msg.raw()[offset.min(msg.raw().len())..(offset + 120).min(msg.raw().len())]),
        )),
    }
    // The BroadWorks style `Content-Type:application/...` is legal (RFC 3261 HCOLON) but
    // has broken public SRS parsers; say so without judging.
    let raw = msg.raw();
    if let Some(head) = raw.get(offset..(offset + 200).min(raw.len())) {
        let text = String::from_utf8_lossy(head);
        if let Some(line) = text
            .lines()
            .next()
            .filter(|l| l.contains(':') && !l.contains(": "))
        {
            f.push(Finding::new(
                "SRC-07",
                Severity::Info,
                "metadata part headers have no space after the colon: legal (RFC 3261 HCOLON), but some SRS parsers reject it",
                Evidence::bytes(offset, line.as_bytes()),
            ));
        }
    }
}

/// SRC-08/09/10 (the SDP half) and collection of labels for SRC-11.
fn check_sdp(
    sdp: &SessionDescription,
    offset: usize,
    profile: Profile,
    f: &mut Vec<Finding>,
    ctx: &mut Context,
) {
    let media = sdp.media();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for m in &media {
        match (&m.label, m.label_count) {
            (None, _) => f.push(Finding::new(
                "SRC-08",
                Severity::Fail,
                format!("m-line {} has no a=label; RFC 7866 §7.1.1 needs one per stream to bind it to the metadata", m.index + 1),
                Evidence::sdp(Some(m.index), &m.text),
            )),
            (Some(_), n) if n > 1 => f.push(Finding::new(
                "SRC-08",
                Severity::Fail,
                format!("m-line {} has {n} a=label attributes; exactly one is allowed", m.index + 1),
                Evidence::sdp(Some(m.index), &m.text),
            )),
            (Some(label), _) => {
                if let Some(first) = seen.insert(label.clone(), m.index) {
                    f.push(Finding::new(
                        "SRC-08",
                        Severity::Fail,
                        format!("label `{label}` is used by m-lines {} and {}; labels must be unique within the SDP", first + 1, m.index + 1),
                        Evidence::sdp(Some(m.index), &m.text),
                    ));
                }
            }
        }
        check_direction(m, profile, ctx.initial, f);
    }
    let active = media
        .iter()
        .filter(|m| !m.is_declined() && m.kind == "audio")
        .count();
    ctx.sdp_labels = Some(media.iter().map(|m| (m.index, m.label.clone())).collect());
    ctx.active_streams = Some(active);
    let _ = offset;
}

/// SRC-09: streams are offered sendonly (inactive/0.0.0.0 in a re-INVITE is a pause).
fn check_direction(m: &MediaView, profile: Profile, initial: bool, f: &mut Vec<Finding>) {
    if m.is_declined() {
        return;
    }
    let ev = || Evidence::sdp(Some(m.index), &m.text);
    match (m.direction, m.direction_explicit) {
        (Direction::SendOnly, _) => {
            if m.is_zero_address() && !initial {
                f.push(Finding::new(
                    "SRC-09",
                    Severity::Info,
                    format!("m-line {} has connection address 0.0.0.0: a pause or hold in the BroadWorks style", m.index + 1),
                    ev(),
                ));
            }
        }
        (Direction::Inactive, _) if !initial => f.push(Finding::new(
            "SRC-09",
            Severity::Info,
            format!("m-line {} is inactive: a pause or hold (RFC 7866 §7.1.1)", m.index + 1),
            ev(),
        )),
        (Direction::SendRecv, false) => f.push(Finding::new(
            "SRC-09",
            profile.strict_or(Severity::Warn),
            format!("m-line {} has no direction attribute, which means sendrecv; an SRC offers recording streams a=sendonly (RFC 7866 §7.1.1)", m.index + 1),
            ev(),
        )),
        (d, _) => f.push(Finding::new(
            "SRC-09",
            Severity::Fail,
            format!("m-line {} is offered {}; an SRC offers recording streams a=sendonly (RFC 7866 §7.1.1)", m.index + 1, d.as_str()),
            ev(),
        )),
    }
}

/// The facts of a metadata document that the message-level rules need.
///
/// Filled from [`metadata::Document`]; kept separate so these rules do not depend on
/// the metadata model's layout.
#[derive(Debug, Clone, Default)]
pub struct MetadataFacts {
    /// Whether the document is complete (datamode complete or absent).
    pub complete: bool,
    /// (stream id, label, evidence path) per metadata stream.
    pub streams: Vec<(String, String, String)>,
    /// (participant id, stream ids it sends, evidence path) per participant.
    pub senders: Vec<(String, Vec<String>, String)>,
    /// `<sipSessionID>` values.
    pub sip_session_ids: Vec<String>,
    /// BroadWorks `<extTrackingID>`, if present.
    pub ext_tracking_id: Option<String>,
    /// Whether the dialect declares the streams as `separate` (BroadWorks `<mode>`), if it says.
    pub separate_mode: Option<bool>,
}

/// Runs the MD- rules on a metadata document, then SRC-10..13 against the SDP.
fn check_metadata_bytes(
    xml: &[u8],
    offset: usize,
    f: &mut Vec<Finding>,
    profile: Profile,
    ctx: &Context,
) -> Option<MetadataFacts> {
    let doc = match metadata::parse(xml) {
        Ok(d) => d,
        Err(e) => {
            f.push(metadata::parse_error_finding(&e, xml, offset));
            return None;
        }
    };
    f.extend(metadata::check_document(&doc, profile, None));
    let facts = metadata::facts(&doc)?;
    check_binding(&facts, profile, ctx, f);
    Some(facts)
}

/// SRC-10, SRC-11, SRC-12, SRC-13: metadata against SDP.
fn check_binding(facts: &MetadataFacts, _profile: Profile, ctx: &Context, f: &mut Vec<Finding>) {
    if ctx.initial && !facts.complete {
        f.push(Finding::new(
            "SRC-13",
            Severity::Fail,
            "the first metadata of a recording session is `partial`; it must be complete (RFC 7866 §9.1)",
            Evidence::element("recording/datamode", "partial"),
        ));
    }
    if let Some(sdp_labels) = &ctx.sdp_labels {
        let sdp: BTreeSet<&str> = sdp_labels
            .iter()
            .filter_map(|(_, l)| l.as_deref())
            .collect();
        let meta: BTreeSet<&str> = facts.streams.iter().map(|(_, l, _)| l.as_str()).collect();
        for (id, label, path) in &facts.streams {
            if !sdp.contains(label.as_str()) {
                f.push(Finding::new(
                    "SRC-11",
                    Severity::Fail,
                    format!("metadata stream {id} has label `{label}` but no SDP m-line carries a=label:{label}"),
                    Evidence::element(path, label),
                ));
            }
        }
        let mut dup = BTreeSet::new();
        for (_, label, path) in &facts.streams {
            if !dup.insert(label.as_str()) {
                f.push(Finding::new(
                    "SRC-11",
                    Severity::Fail,
                    format!("label `{label}` is described by more than one metadata stream"),
                    Evidence::element(path, label),
                ));
            }
        }
        if facts.complete {
            for (index, label) in sdp_labels {
                if let Some(l) = label.as_deref().filter(|l| !meta.contains(l)) {
                    f.push(Finding::new(
                        "SRC-11",
                        Severity::Fail,
                        format!(
                            "SDP m-line {} (a=label:{l}) is described by no metadata <stream>",
                            index + 1
                        ),
                        Evidence::sdp(Some(*index), format!("a=label:{l}")),
                    ));
                }
            }
        }
    }
    // SRC-12: every send reference resolves and every stream has a sender.
    let stream_ids: BTreeSet<&str> = facts.streams.iter().map(|(id, _, _)| id.as_str()).collect();
    if facts.complete {
        for (pid, sends, path) in &facts.senders {
            for s in sends {
                if !stream_ids.contains(s.as_str()) {
                    f.push(Finding::new("SRC-12", Severity::Fail, format!("participant {pid} sends on stream {s}, which the metadata does not describe"), Evidence::element(path, s)));
                }
            }
        }
        for (id, label, path) in &facts.streams {
            if !facts
                .senders
                .iter()
                .any(|(_, sends, _)| sends.iter().any(|s| s == id))
            {
                f.push(Finding::new(
                    "SRC-12",
                    Severity::Fail,
                    format!("stream {id} (label {label}) has no participant sending on it, so the recorder cannot tell whose audio it is"),
                    Evidence::element(path, label),
                ));
            }
        }
        let senders: Vec<&(String, Vec<String>, String)> = facts
            .senders
            .iter()
            .filter(|(_, s, _)| !s.is_empty())
            .collect();
        if facts.senders.len() == 2 && senders.len() == 2 {
            let shared: Vec<&String> = senders[0]
                .1
                .iter()
                .filter(|s| senders[1].1.contains(s))
                .collect();
            if !shared.is_empty() {
                f.push(Finding::new(
                    "SRC-12",
                    Severity::Fail,
                    format!("in a two-party call both participants send on stream {}; each party needs its own stream", shared[0]),
                    Evidence::element(&senders[1].2, shared[0]),
                ));
            }
        }
        // SRC-10: a two-party call in separate mode has two streams.
        if facts.senders.len() == 2 && facts.separate_mode != Some(false) {
            let meta_streams = facts.streams.len();
            let sdp_streams = ctx.active_streams;
            if meta_streams != 2 || sdp_streams.is_some_and(|n| n != 2) {
                f.push(Finding::new(
                    "SRC-10",
                    Severity::Fail,
                    format!(
                        "a two-party call recorded in separate mode needs two streams; metadata describes {meta_streams}{}",
                        sdp_streams.map(|n| format!(" and the SDP offers {n} active audio m-line(s)")).unwrap_or_default()
                    ),
                    Evidence::element("recording/stream", format!("{meta_streams} stream(s)")),
                ));
            }
        }
    }
}

/// SRC-23: the CS identity for correlation (Session-ID header and/or sipSessionID).
fn check_session_id(
    msg: &SipMessage,
    facts: &MetadataFacts,
    profile: Profile,
    f: &mut Vec<Finding>,
) {
    let header = msg.header_value("Session-ID").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if header.is_none() && facts.sip_session_ids.is_empty() {
        f.push(Finding::new(
            "SRC-23",
            profile.strict_or(Severity::Warn),
            "neither a Session-ID header (RFC 7989) nor a <sipSessionID> in the metadata: the recorder cannot correlate the recording with the call",
            Evidence::None,
        ));
        return;
    }
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        let uuid_ok = h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit());
        if !uuid_ok {
            f.push(Finding::new(
                "SRC-23",
                Severity::Warn,
                "Session-ID is not 32 hexadecimal digits as RFC 7989 §4 defines",
                Evidence::header(
                    "Session-ID",
                    msg.header_value("Session-ID").unwrap_or_default(),
                ),
            ));
        }
        let in_meta: Vec<String> = facts
            .sip_session_ids
            .iter()
            .map(|s| {
                s.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        if !in_meta.is_empty() && !in_meta.contains(&h) {
            f.push(Finding::new(
                "SRC-23",
                Severity::Warn,
                format!("Session-ID header `{h}` does not match any <sipSessionID> in the metadata ({})", in_meta.join(", ")),
                Evidence::header("Session-ID", msg.header_value("Session-ID").unwrap_or_default()),
            ));
        }
    }
}

/// POL-17: X-BroadWorks-Correlation-Info equals the metadata extTrackingID.
fn check_correlation(msg: &SipMessage, facts: &MetadataFacts, f: &mut Vec<Finding>) {
    let (Some(header), Some(ext)) = (
        msg.header_value("X-BroadWorks-Correlation-Info"),
        facts.ext_tracking_id.as_deref(),
    ) else {
        return;
    };
    if header.trim() != ext.trim() {
        f.push(Finding::new(
            "POL-17",
            Severity::Fail,
            format!("X-BroadWorks-Correlation-Info `{header}` differs from the metadata <extTrackingID> `{ext}`"),
            Evidence::header("X-BroadWorks-Correlation-Info", header),
        ));
    }
}

/// SRS-02/03 on a response to an RS INVITE.
fn check_response(msg: &SipMessage, _profile: Profile, f: &mut Vec<Finding>) {
    let Some(code) = msg.status() else { return };
    let is_invite = msg
        .cseq()
        .map(|c| c.method == Method::Invite)
        .unwrap_or(false);
    if !(200..300).contains(&code) || !is_invite {
        return;
    }
    let contact = msg.contacts().ok().and_then(|c| c.into_iter().next());
    match contact {
        Some(c) if c.param("+sip.srs").is_some() => {}
        other => f.push(Finding::new(
            "SRS-02",
            Severity::Fail,
            "the SRS's 2xx Contact has no +sip.srs feature tag (RFC 7866 §6.2)",
            other.map_or(Evidence::None, |_| {
                Evidence::header("Contact", msg.header_value("Contact").unwrap_or_default())
            }),
        )),
    }
    let body = msg.body();
    let sdp_bytes: Option<Vec<u8>> =
        match msg.content_type().map(multipart::media_type_of).as_deref() {
            Some(SDP) => Some(body.to_vec()),
            Some("multipart/mixed") => multipart::parse(msg.content_type().unwrap_or(""), body)
                .ok()
                .and_then(|p| p.sdp().map(|s| s.body.to_vec())),
            _ => None,
        };
    let Some(sdp) = sdp_bytes.and_then(|b| SessionDescription::parse(&b).ok()) else {
        f.push(Finding::new(
            "SRS-03",
            Severity::Fail,
            "the SRS's 2xx to the INVITE carries no readable SDP answer",
            Evidence::None,
        ));
        return;
    };
    for m in sdp.media() {
        if m.is_declined() {
            continue;
        }
        if !matches!(m.direction, Direction::RecvOnly | Direction::Inactive) {
            f.push(Finding::new(
                "SRS-03",
                Severity::Fail,
                format!("the SRS answers m-line {} {}; it must answer a sendonly stream recvonly (RFC 7866 §7.2)", m.index + 1, m.direction.as_str()),
                Evidence::sdp(Some(m.index), &m.text),
            ));
        }
    }
}
