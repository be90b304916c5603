//! From the model to XML, byte for byte the same for the same model.
//!
//! Output: `<?xml version="1.0" encoding="UTF-8"?>`, two-space indentation, children in
//! XSD sequence order, the document namespace as the default namespace on the root,
//! extensions declaring their own namespace, and a final newline. Text and attribute
//! values are escaped so that re-reading gives the same strings back (see
//! [`super::xml::escape_text`]).

use super::model::*;
use super::xml::{XmlWriter, escape_attr, escape_text, is_ncname, push_raw_attr, write_element};
use super::{BROADWORKS_NS, Dialect, RECORDING_NS, SIPREC_NS};
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};
use std::collections::HashMap;
use std::io;

type Res = io::Result<()>;

/// Serialises `recording` in `dialect`.
///
/// Same model, same bytes. What the target dialect cannot carry is left out:
///
/// * RFC 7865 output drops the `broadworks` sub-structs (the BroadWorks `recording`
///   element, group initiator, stream mode, `extensiondata`).
/// * BroadWorks output keeps, per participant, the first `nameID`'s AOR, the session of
///   its first participant-session association and the `send` IDs of its
///   participant-stream associations; it drops `sessionrecordingassoc`, names, reasons,
///   `sipSessionID`, `recv`, association times, params and group times, and associations
///   of participants that are not listed.
///
/// Names that are not valid XML names (in extension elements, or an unknown
/// `callType` child) are skipped and characters XML cannot carry become U+FFFD, so the
/// output is always well-formed.
pub fn to_xml(recording: &Recording, dialect: Dialect) -> String {
    document(|w| match dialect {
        Dialect::Rfc7865 => rfc_recording(w, recording),
        Dialect::BroadWorks => bw_recording(w, recording),
    })
}

/// Serialises an RFC 7866 snapshot request body (`application/rs-metadata-request`).
pub fn snapshot_request_to_xml(request: &SnapshotRequest) -> String {
    document(|w| {
        let mut root = BytesStart::new("requestsnapshot");
        push_raw_attr(&mut root, "xmlns", RECORDING_NS);
        let empty = request.reason.is_none() && request.extensions.is_empty();
        container(w, root, empty, |w| {
            if let Some(reason) = &request.reason {
                let mut start = BytesStart::new("requestreason");
                attr(&mut start, "xml:lang", reason.lang.as_deref());
                text_element(w, start, &reason.text)?;
            }
            extensions(w, &request.extensions, Some(RECORDING_NS))
        })
    })
}

fn document(body: impl FnOnce(&mut XmlWriter) -> Res) -> String {
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let written = w
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| body(&mut w));
    if written.is_err() {
        // Writing into a Vec<u8> does not fail.
        return String::new();
    }
    let mut out = match String::from_utf8(w.into_inner()) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    out.push('\n');
    out
}

fn attr(start: &mut BytesStart<'_>, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        push_raw_attr(start, name, &escape_attr(v));
    }
}

/// `<name>text</name>`, or `<name/>` when the text is empty.
fn text_element(w: &mut XmlWriter, start: BytesStart<'_>, text: &str) -> Res {
    if text.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    let end = start.to_end().into_owned();
    w.write_event(Event::Start(start))?;
    w.write_event(Event::Text(BytesText::from_escaped(escape_text(text))))?;
    w.write_event(Event::End(end))
}

fn leaf(w: &mut XmlWriter, name: &str, text: Option<&str>) -> Res {
    match text {
        Some(t) => text_element(w, BytesStart::new(name), t),
        None => Ok(()),
    }
}

fn container(
    w: &mut XmlWriter,
    start: BytesStart<'_>,
    empty: bool,
    body: impl FnOnce(&mut XmlWriter) -> Res,
) -> Res {
    if empty {
        return w.write_event(Event::Empty(start));
    }
    let end = start.to_end().into_owned();
    w.write_event(Event::Start(start))?;
    body(w)?;
    w.write_event(Event::End(end))
}

fn extensions(w: &mut XmlWriter, list: &[super::xml::XmlElement], default_ns: Option<&str>) -> Res {
    for el in list {
        write_element(w, el, default_ns)?;
    }
    Ok(())
}

fn times(
    w: &mut XmlWriter,
    associate: Option<&super::time::XsDateTime>,
    disassociate: Option<&super::time::XsDateTime>,
) -> Res {
    leaf(w, "associate-time", associate.map(|t| t.as_str()))?;
    leaf(w, "disassociate-time", disassociate.map(|t| t.as_str()))
}

// ---------------------------------------------------------------------------------------
// RFC 7865
// ---------------------------------------------------------------------------------------

const NS: Option<&str> = Some(RECORDING_NS);

fn rfc_recording(w: &mut XmlWriter, rec: &Recording) -> Res {
    let mut root = BytesStart::new("recording");
    push_raw_attr(&mut root, "xmlns", RECORDING_NS);
    let empty = rec.datamode.is_none()
        && rec.groups.is_empty()
        && rec.sessions.is_empty()
        && rec.participants.is_empty()
        && rec.streams.is_empty()
        && rec.session_recording_assocs.is_empty()
        && rec.participant_session_assocs.is_empty()
        && rec.participant_stream_assocs.is_empty()
        && rec.extensions.is_empty();
    container(w, root, empty, |w| {
        leaf(w, "datamode", rec.datamode.as_ref().map(DataMode::as_str))?;
        for g in &rec.groups {
            let mut start = BytesStart::new("group");
            attr(&mut start, "group_id", g.id.as_deref());
            let empty = g.associate_time.is_none()
                && g.disassociate_time.is_none()
                && g.extensions.is_empty();
            container(w, start, empty, |w| {
                times(w, g.associate_time.as_ref(), g.disassociate_time.as_ref())?;
                extensions(w, &g.extensions, NS)
            })?;
        }
        for s in &rec.sessions {
            let mut start = BytesStart::new("session");
            attr(&mut start, "session_id", s.id.as_deref());
            let empty = s.sip_session_ids.is_empty()
                && s.reasons.is_empty()
                && s.group_ref.is_none()
                && s.start_time.is_none()
                && s.stop_time.is_none()
                && s.extensions.is_empty();
            container(w, start, empty, |w| {
                for id in &s.sip_session_ids {
                    leaf(w, "sipSessionID", Some(id))?;
                }
                for r in &s.reasons {
                    let mut start = BytesStart::new("reason");
                    attr(&mut start, "protocol", r.protocol.as_deref());
                    attr(&mut start, "cause", r.cause.as_deref());
                    text_element(w, start, &r.text)?;
                }
                leaf(w, "group-ref", s.group_ref.as_deref())?;
                leaf(w, "start-time", s.start_time.as_ref().map(|t| t.as_str()))?;
                leaf(w, "stop-time", s.stop_time.as_ref().map(|t| t.as_str()))?;
                extensions(w, &s.extensions, NS)
            })?;
        }
        for p in &rec.participants {
            let mut start = BytesStart::new("participant");
            attr(&mut start, "participant_id", p.id.as_deref());
            let empty = p.name_ids.is_empty() && p.extensions.is_empty();
            container(w, start, empty, |w| {
                for n in &p.name_ids {
                    let mut start = BytesStart::new("nameID");
                    attr(&mut start, "aor", n.aor.as_deref());
                    let empty = n.names.is_empty() && n.extensions.is_empty();
                    container(w, start, empty, |w| {
                        for name in &n.names {
                            let mut start = BytesStart::new("name");
                            attr(&mut start, "xml:lang", name.lang.as_deref());
                            text_element(w, start, &name.text)?;
                        }
                        extensions(w, &n.extensions, NS)
                    })?;
                }
                extensions(w, &p.extensions, NS)
            })?;
        }
        for s in &rec.streams {
            let mut start = BytesStart::new("stream");
            attr(&mut start, "stream_id", s.id.as_deref());
            attr(&mut start, "session_id", s.session_id.as_deref());
            let empty = s.label.is_none() && s.extensions.is_empty();
            container(w, start, empty, |w| {
                leaf(w, "label", s.label.as_deref())?;
                extensions(w, &s.extensions, NS)
            })?;
        }
        for a in &rec.session_recording_assocs {
            let mut start = BytesStart::new("sessionrecordingassoc");
            attr(&mut start, "session_id", a.session_id.as_deref());
            let empty = a.associate_time.is_none()
                && a.disassociate_time.is_none()
                && a.extensions.is_empty();
            container(w, start, empty, |w| {
                times(w, a.associate_time.as_ref(), a.disassociate_time.as_ref())?;
                extensions(w, &a.extensions, NS)
            })?;
        }
        for a in &rec.participant_session_assocs {
            let mut start = BytesStart::new("participantsessionassoc");
            attr(&mut start, "participant_id", a.participant_id.as_deref());
            attr(&mut start, "session_id", a.session_id.as_deref());
            let empty = a.associate_time.is_none()
                && a.disassociate_time.is_none()
                && a.params.is_empty()
                && a.extensions.is_empty();
            container(w, start, empty, |w| {
                times(w, a.associate_time.as_ref(), a.disassociate_time.as_ref())?;
                for p in &a.params {
                    let mut start = BytesStart::new("param");
                    attr(&mut start, "pname", p.name.as_deref());
                    attr(&mut start, "pval", p.value.as_deref());
                    w.write_event(Event::Empty(start))?;
                }
                extensions(w, &a.extensions, NS)
            })?;
        }
        for a in &rec.participant_stream_assocs {
            let mut start = BytesStart::new("participantstreamassoc");
            attr(&mut start, "participant_id", a.participant_id.as_deref());
            let empty = a.send.is_empty()
                && a.recv.is_empty()
                && a.associate_time.is_none()
                && a.disassociate_time.is_none()
                && a.extensions.is_empty();
            container(w, start, empty, |w| {
                for s in &a.send {
                    leaf(w, "send", Some(s))?;
                }
                for s in &a.recv {
                    leaf(w, "recv", Some(s))?;
                }
                times(w, a.associate_time.as_ref(), a.disassociate_time.as_ref())?;
                extensions(w, &a.extensions, NS)
            })?;
        }
        extensions(w, &rec.extensions, NS)
    })
}

// ---------------------------------------------------------------------------------------
// BroadWorks
// ---------------------------------------------------------------------------------------

const BW: Option<&str> = Some(SIPREC_NS);

fn bw_recording(w: &mut XmlWriter, rec: &Recording) -> Res {
    let mut root = BytesStart::new("recording_metadata");
    push_raw_attr(&mut root, "xmlns", SIPREC_NS);
    let bw = rec.broadworks.as_ref();
    let info = bw.and_then(|b| b.recording.as_ref());
    let ext_data: &[ExtensionData] = bw.map(|b| b.extension_data.as_slice()).unwrap_or_default();
    let empty = rec.datamode.is_none()
        && info.is_none()
        && rec.groups.is_empty()
        && rec.sessions.is_empty()
        && rec.participants.is_empty()
        && rec.streams.is_empty()
        && ext_data.is_empty()
        && rec.extensions.is_empty();
    container(w, root, empty, |w| {
        leaf(w, "dataMode", rec.datamode.as_ref().map(DataMode::as_str))?;
        if let Some(r) = info {
            let mut start = BytesStart::new("recording");
            attr(&mut start, "id", r.id.as_deref());
            let empty =
                r.requestor.is_none() && r.recording_type.is_none() && r.extensions.is_empty();
            container(w, start, empty, |w| {
                leaf(w, "requestor", r.requestor.as_deref())?;
                leaf(w, "type", r.recording_type.as_deref())?;
                extensions(w, &r.extensions, BW)
            })?;
        }
        for g in &rec.groups {
            let gi = g.broadworks.as_ref();
            let mut start = BytesStart::new("group");
            attr(&mut start, "id", g.id.as_deref());
            attr(
                &mut start,
                "recording",
                gi.and_then(|i| i.recording.as_deref()),
            );
            let initiator = gi.and_then(|i| i.initiator.as_deref());
            container(
                w,
                start,
                initiator.is_none() && g.extensions.is_empty(),
                |w| {
                    leaf(w, "initiator", initiator)?;
                    extensions(w, &g.extensions, BW)
                },
            )?;
        }
        for s in &rec.sessions {
            let mut start = BytesStart::new("session");
            attr(&mut start, "id", s.id.as_deref());
            attr(&mut start, "group", s.group_ref.as_deref());
            let empty = s.start_time.is_none() && s.stop_time.is_none() && s.extensions.is_empty();
            container(w, start, empty, |w| {
                leaf(w, "start-time", s.start_time.as_ref().map(|t| t.as_str()))?;
                leaf(w, "stop-time", s.stop_time.as_ref().map(|t| t.as_str()))?;
                extensions(w, &s.extensions, BW)
            })?;
        }
        let links = ParticipantLinks::new(rec);
        for p in &rec.participants {
            bw_participant(w, &links, p)?;
        }
        for s in &rec.streams {
            let mut start = BytesStart::new("stream");
            attr(&mut start, "id", s.id.as_deref());
            attr(&mut start, "session", s.session_id.as_deref());
            let mode = s.broadworks.as_ref().and_then(|b| b.mode.as_ref());
            let empty = s.label.is_none() && mode.is_none() && s.extensions.is_empty();
            container(w, start, empty, |w| {
                leaf(w, "label", s.label.as_deref())?;
                leaf(w, "mode", mode.map(StreamMode::as_str))?;
                extensions(w, &s.extensions, BW)
            })?;
        }
        for e in ext_data {
            let mut start = BytesStart::new("extensiondata");
            attr(&mut start, "id", e.id.as_deref());
            attr(&mut start, "parent", e.parent.as_deref());
            container(w, start, e.call.is_none() && e.extensions.is_empty(), |w| {
                if let Some(call) = &e.call {
                    bw_call(w, call)?;
                }
                extensions(w, &e.extensions, BW)
            })?;
        }
        extensions(w, &rec.extensions, BW)
    })
}

/// Per participant ID: the session of its first participant-session association and the
/// `send` IDs of its participant-stream associations (built once, so writing is linear).
struct ParticipantLinks<'r> {
    session: HashMap<&'r str, Option<&'r str>>,
    sends: HashMap<&'r str, Vec<&'r str>>,
}

impl<'r> ParticipantLinks<'r> {
    fn new(rec: &'r Recording) -> Self {
        let mut session = HashMap::new();
        for a in &rec.participant_session_assocs {
            if let Some(pid) = a.participant_id.as_deref() {
                session.entry(pid).or_insert(a.session_id.as_deref());
            }
        }
        let mut sends: HashMap<&str, Vec<&str>> = HashMap::new();
        for a in &rec.participant_stream_assocs {
            if let Some(pid) = a.participant_id.as_deref() {
                sends
                    .entry(pid)
                    .or_default()
                    .extend(a.send.iter().map(String::as_str));
            }
        }
        Self { session, sends }
    }
}

fn bw_participant(w: &mut XmlWriter, links: &ParticipantLinks<'_>, p: &Participant) -> Res {
    let id = p.id.as_deref();
    let session = id.and_then(|id| links.session.get(id).copied().flatten());
    let sends: &[&str] = id
        .and_then(|id| links.sends.get(id))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let aor = p.name_ids.first().and_then(|n| n.aor.as_deref());
    let mut start = BytesStart::new("participant");
    attr(&mut start, "id", id);
    attr(&mut start, "session", session);
    let empty = aor.is_none() && sends.is_empty() && p.extensions.is_empty();
    container(w, start, empty, |w| {
        leaf(w, "aor", aor)?;
        for s in sends.iter().copied() {
            container(w, BytesStart::new("send"), false, |w| {
                leaf(w, "id", Some(s))
            })?;
        }
        extensions(w, &p.extensions, BW)
    })
}

fn bw_call(w: &mut XmlWriter, call: &BroadWorksCallMetadata) -> Res {
    const NS: Option<&str> = Some(BROADWORKS_NS);
    let mut start = BytesStart::new("broadWorksRecordingMetadata");
    push_raw_attr(&mut start, "xmlns", BROADWORKS_NS);
    attr(&mut start, "version", call.version.as_deref());
    let call_type = call
        .call_type
        .as_ref()
        .filter(|c| is_ncname(c.direction.element_name()));
    let empty = call.ext_tracking_id.is_none()
        && call.service_provider_id.is_none()
        && call.group_id.is_none()
        && call.user_id.is_none()
        && call.call_id.is_none()
        && call_type.is_none()
        && call.recording_type.is_none()
        && call.acd.is_none()
        && call.extensions.is_empty();
    container(w, start, empty, |w| {
        leaf(w, "extTrackingID", call.ext_tracking_id.as_deref())?;
        leaf(w, "serviceProviderID", call.service_provider_id.as_deref())?;
        leaf(w, "groupID", call.group_id.as_deref())?;
        leaf(w, "userID", call.user_id.as_deref())?;
        leaf(w, "callID", call.call_id.as_deref())?;
        if let Some(ct) = call_type {
            container(w, BytesStart::new("callType"), false, |w| {
                let inner = BytesStart::new(ct.direction.element_name());
                let empty = ct.calling_party_number.is_none()
                    && ct.called_party_number.is_none()
                    && ct.dialed_digits.is_none()
                    && ct.extensions.is_empty();
                container(w, inner, empty, |w| {
                    leaf(w, "callingPartyNumber", ct.calling_party_number.as_deref())?;
                    leaf(w, "calledPartyNumber", ct.called_party_number.as_deref())?;
                    leaf(w, "dialedDigits", ct.dialed_digits.as_deref())?;
                    extensions(w, &ct.extensions, NS)
                })
            })?;
        }
        leaf(w, "recordingType", call.recording_type.as_deref())?;
        if let Some(acd) = &call.acd {
            let empty = acd.acd_user_id.is_none()
                && acd.acd_name.is_none()
                && acd.acd_number.is_none()
                && acd.extensions.is_empty();
            container(w, BytesStart::new("acd"), empty, |w| {
                leaf(w, "acdUserId", acd.acd_user_id.as_deref())?;
                leaf(w, "acdName", acd.acd_name.as_deref())?;
                if let Some(n) = &acd.acd_number {
                    let mut start = BytesStart::new("acdNumber");
                    attr(&mut start, "countryCode", n.country_code.as_deref());
                    text_element(w, start, &n.number)?;
                }
                extensions(w, &acd.extensions, NS)
            })?;
        }
        extensions(w, &call.extensions, NS)
    })
}
