//! From the XML tree to the model: both dialects, with schema observations.
//!
//! Nothing here fails. Whatever the schema would reject (unknown or misplaced elements,
//! missing attributes, text where only elements belong) is recorded as a
//! [`SchemaObservation`] with its path, offset and raw excerpt, and the reader carries on
//! with what it can use. The checker turns observations into MD- findings.

use super::model::*;
use super::time::XsDateTime;
use super::xml::{RawAttr, RawElement, RawNode, XML_NS, XmlElement, is_xml_whitespace};
use super::{
    BROADWORKS_NS, Body, Dialect, Document, Loc, ObservationKind, RootName, SchemaObservation,
    SourceMap,
};
use std::collections::HashMap;

/// One allowed child of a content model: its name, its place in the XSD sequence (equal
/// ranks may interleave), and how often it may occur.
struct Spec {
    name: &'static str,
    rank: u8,
    max: usize,
}

const fn one(name: &'static str, rank: u8) -> Spec {
    Spec { name, rank, max: 1 }
}

const fn many(name: &'static str, rank: u8) -> Spec {
    Spec {
        name,
        rank,
        max: usize::MAX,
    }
}

fn attr_excerpt(attr: &RawAttr) -> String {
    crate::findings::excerpt(&format!("{}=\"{}\"", attr.qname, attr.value))
}

/// Counts one more sibling called `name` and returns its 1-based position among them.
fn bump<'e>(counts: &mut HashMap<&'e str, usize>, name: &'e str) -> usize {
    let n = counts.entry(name).or_insert(0);
    *n += 1;
    *n
}

/// Rank of `##other` content, which the schema puts after every named child.
const EXTENSION_RANK: u8 = u8::MAX;

pub(crate) fn build_document(root: &RawElement, text: &str, base: usize) -> Document {
    let mut cx = Cx {
        text,
        base,
        observations: Vec::new(),
        sources: SourceMap::default(),
    };
    let root_name = RootName {
        namespace: root.ns.clone(),
        name: root.local.clone(),
    };
    let (dialect, body) = match root.local.as_str() {
        "recording" => (
            Dialect::Rfc7865,
            Body::Recording(Box::new(cx.rfc_recording(root))),
        ),
        "requestsnapshot" => (Dialect::Rfc7865, Body::SnapshotRequest(cx.snapshot(root))),
        "recording_metadata" => (
            Dialect::BroadWorks,
            Body::Recording(Box::new(cx.bw_recording(root))),
        ),
        _ => {
            cx.sources.insert(Locator::Root, &root.local, root.start);
            let dialect = if root.ns.as_deref() == Some(super::SIPREC_NS) {
                Dialect::BroadWorks
            } else {
                Dialect::Rfc7865
            };
            (dialect, Body::Unrecognized)
        }
    };
    Document {
        dialect,
        root: root_name,
        body,
        observations: cx.observations,
        sources: cx.sources,
    }
}

struct Cx<'t> {
    text: &'t str,
    base: usize,
    observations: Vec<SchemaObservation>,
    sources: SourceMap,
}

/// Attributes of one element after the unknown ones were reported.
struct Attrs<'e> {
    list: &'e [RawAttr],
}

impl Attrs<'_> {
    /// An unqualified attribute, surrounding whitespace removed (IDs, URIs and tokens
    /// collapse whitespace in the schema).
    fn get(&self, name: &str) -> Option<String> {
        self.list
            .iter()
            .find(|a| a.ns.is_none() && a.local == name)
            .map(|a| a.value.trim().to_owned())
    }

    /// `xml:lang`.
    fn lang(&self) -> Option<String> {
        self.list
            .iter()
            .find(|a| a.ns.as_deref() == Some(XML_NS) && a.local == "lang")
            .map(|a| a.value.clone())
    }
}

impl Cx<'_> {
    fn excerpt_of(&self, el: &RawElement) -> String {
        let start = el.start.saturating_sub(self.base);
        let end = el.end.saturating_sub(self.base);
        self.text
            .get(start..end)
            .map(crate::findings::excerpt)
            .unwrap_or_default()
    }

    fn observe(
        &mut self,
        kind: ObservationKind,
        owner: &str,
        el: &RawElement,
        element: &str,
        path: &str,
    ) {
        let excerpt = self.excerpt_of(el);
        self.observe_with(kind, owner, el, element, path, excerpt);
    }

    /// Like [`Self::observe`] with a given excerpt (attribute observations show the
    /// attribute, so that many of them cannot multiply the element's text).
    fn observe_with(
        &mut self,
        kind: ObservationKind,
        owner: &str,
        el: &RawElement,
        element: &str,
        path: &str,
        excerpt: String,
    ) {
        self.observations.push(SchemaObservation {
            kind,
            owner: owner.to_owned(),
            element: element.to_owned(),
            path: path.to_owned(),
            offset: el.start,
            excerpt,
        });
    }

    /// Reports unknown and foreign attributes of `el`; `allowed` are its unqualified
    /// attributes, `lang` whether `xml:lang` belongs to it.
    fn attributes<'e>(
        &mut self,
        el: &'e RawElement,
        path: &str,
        allowed: &[&str],
        lang: bool,
    ) -> Attrs<'e> {
        for attr in &el.attrs {
            match attr.ns.as_deref() {
                None if allowed.contains(&attr.local.as_str()) => {}
                Some(XML_NS) if lang && attr.local == "lang" => {}
                None => self.observe_with(
                    ObservationKind::UnknownAttribute {
                        attribute: attr.qname.clone(),
                    },
                    &el.local,
                    el,
                    &el.local,
                    &format!("{path}/@{}", attr.qname),
                    attr_excerpt(attr),
                ),
                Some(ns) => self.observe_with(
                    ObservationKind::ForeignAttribute {
                        attribute: attr.qname.clone(),
                        namespace: ns.to_owned(),
                    },
                    &el.local,
                    el,
                    &el.local,
                    &format!("{path}/@{}", attr.qname),
                    attr_excerpt(attr),
                ),
            }
        }
        Attrs { list: &el.attrs }
    }

    /// A required attribute: reports it when absent.
    fn required(
        &mut self,
        attrs: &Attrs<'_>,
        name: &str,
        el: &RawElement,
        path: &str,
    ) -> Option<String> {
        let value = attrs.get(name);
        if value.is_none() {
            self.observe(
                ObservationKind::MissingAttribute {
                    attribute: name.to_owned(),
                },
                &el.local,
                el,
                &el.local,
                path,
            );
        }
        value
    }

    fn missing_child(&mut self, child: &str, el: &RawElement, path: &str) {
        self.observe(
            ObservationKind::MissingChild {
                child: child.to_owned(),
            },
            &el.local,
            el,
            &el.local,
            path,
        );
    }

    /// The text of an element with simple content. Element children are reported and
    /// ignored; unknown attributes are reported (`lang` allows `xml:lang`).
    fn simple_text(&mut self, el: &RawElement, path: &str, lang: bool) -> String {
        self.attributes(el, path, &[], lang);
        self.text_only(el, path)
    }

    fn text_only(&mut self, el: &RawElement, path: &str) -> String {
        if let Some(child) = el.elements().next() {
            self.observe(
                ObservationKind::ChildInSimpleContent {
                    child: child.local.clone(),
                },
                &el.local,
                el,
                &el.local,
                path,
            );
        }
        el.text()
    }

    /// Simple content that collapses whitespace (IDs, tokens, dates, URIs).
    fn token(&mut self, el: &RawElement, path: &str) -> String {
        self.simple_text(el, path, false).trim().to_owned()
    }

    fn time(&mut self, el: &RawElement, path: &str) -> XsDateTime {
        XsDateTime(self.token(el, path))
    }

    /// Walks the children of `parent` against its content model. Returns the children the
    /// model knows, in document order, with their paths. Unknown elements (in `ns`, or
    /// unqualified) and foreign ones are reported and appended to `extensions`; elements
    /// out of sequence order and repeats beyond the maximum are reported (repeats are
    /// dropped); text that is not whitespace is reported.
    fn children<'e>(
        &mut self,
        parent: &'e RawElement,
        path: &str,
        ns: Option<&str>,
        specs: &[Spec],
        extensions: &mut Vec<XmlElement>,
    ) -> Vec<(&'static str, &'e RawElement, String)> {
        let mut out = Vec::new();
        let mut name_counts: HashMap<&str, usize> = HashMap::new();
        let mut spec_counts = vec![0usize; specs.len()];
        let mut last: Option<(u8, String)> = None;
        let mut text_reported = false;
        for node in &parent.children {
            let child = match node {
                RawNode::Element(child) => child,
                RawNode::Text(t) => {
                    if !text_reported && !is_xml_whitespace(t) {
                        text_reported = true;
                        self.observe(
                            ObservationKind::UnexpectedText {
                                text: crate::findings::excerpt(t.trim()),
                            },
                            &parent.local,
                            parent,
                            &parent.local,
                            path,
                        );
                    }
                    continue;
                }
            };
            let n = bump(&mut name_counts, &child.local);
            let child_path = format!("{path}/{}[{n}]", child.local);
            let known = (child.ns.as_deref() == ns)
                .then(|| {
                    specs
                        .iter()
                        .enumerate()
                        .find(|(_, s)| s.name == child.local)
                })
                .flatten();
            match (known, child.ns.as_deref()) {
                (Some((index, spec)), _) => {
                    match &last {
                        Some((rank, after)) if spec.rank < *rank => {
                            let after = after.clone();
                            self.observe(
                                ObservationKind::OutOfOrder { after },
                                &parent.local,
                                child,
                                &child.local,
                                &child_path,
                            );
                        }
                        _ => last = Some((spec.rank, child.local.clone())),
                    }
                    let count = spec_counts.get_mut(index);
                    let seen = count.map(|c| {
                        *c += 1;
                        *c
                    });
                    if seen.is_some_and(|c| c > spec.max) {
                        self.observe(
                            ObservationKind::Duplicate { max: spec.max },
                            &parent.local,
                            child,
                            &child.local,
                            &child_path,
                        );
                        continue;
                    }
                    out.push((spec.name, child, child_path));
                }
                (None, child_ns) if child_ns == ns || child_ns.is_none() => {
                    self.observe(
                        ObservationKind::UnknownElement {
                            namespace: child_ns.map(str::to_owned),
                        },
                        &parent.local,
                        child,
                        &child.local,
                        &child_path,
                    );
                    extensions.push(child.to_xml_element());
                }
                (None, child_ns) => {
                    self.observe(
                        ObservationKind::ForeignElement {
                            namespace: child_ns.unwrap_or_default().to_owned(),
                        },
                        &parent.local,
                        child,
                        &child.local,
                        &child_path,
                    );
                    extensions.push(child.to_xml_element());
                    last = Some((EXTENSION_RANK, child.local.clone()));
                }
            }
        }
        out
    }

    // -----------------------------------------------------------------------------------
    // RFC 7865
    // -----------------------------------------------------------------------------------

    fn rfc_recording(&mut self, root: &RawElement) -> Recording {
        let path = root.local.clone();
        self.sources.insert(Locator::Root, &path, root.start);
        self.attributes(root, &path, &[], false);
        let ns = root.ns.as_deref();
        let mut rec = Recording::default();
        let specs = [
            one("datamode", 0),
            many("group", 1),
            many("session", 2),
            many("participant", 3),
            many("stream", 4),
            many("sessionrecordingassoc", 5),
            many("participantsessionassoc", 6),
            many("participantstreamassoc", 7),
        ];
        for (name, el, p) in self.children(root, &path, ns, &specs, &mut rec.extensions) {
            match name {
                "datamode" => {
                    self.sources.insert(Locator::Datamode, &p, el.start);
                    rec.datamode = Some(DataMode::from_text(&self.token(el, &p)));
                }
                "group" => {
                    self.sources
                        .insert(Locator::Group(rec.groups.len()), &p, el.start);
                    let g = self.rfc_group(el, &p, ns);
                    rec.groups.push(g);
                }
                "session" => {
                    self.sources
                        .insert(Locator::Session(rec.sessions.len()), &p, el.start);
                    let s = self.rfc_session(el, &p, ns);
                    rec.sessions.push(s);
                }
                "participant" => {
                    let i = rec.participants.len();
                    self.sources.insert(Locator::Participant(i), &p, el.start);
                    let part = self.rfc_participant(el, &p, ns, i);
                    rec.participants.push(part);
                }
                "stream" => {
                    self.sources
                        .insert(Locator::Stream(rec.streams.len()), &p, el.start);
                    let s = self.rfc_stream(el, &p, ns);
                    rec.streams.push(s);
                }
                "sessionrecordingassoc" => {
                    let at = Locator::SessionRecordingAssoc(rec.session_recording_assocs.len());
                    self.sources.insert(at, &p, el.start);
                    let a = self.rfc_sra(el, &p, ns);
                    rec.session_recording_assocs.push(a);
                }
                "participantsessionassoc" => {
                    let at = Locator::ParticipantSessionAssoc(rec.participant_session_assocs.len());
                    self.sources.insert(at, &p, el.start);
                    let a = self.rfc_psa(el, &p, ns);
                    rec.participant_session_assocs.push(a);
                }
                _ => {
                    let i = rec.participant_stream_assocs.len();
                    self.sources
                        .insert(Locator::ParticipantStreamAssoc(i), &p, el.start);
                    let a = self.rfc_pstream(el, &p, ns, i);
                    rec.participant_stream_assocs.push(a);
                }
            }
        }
        rec
    }

    fn rfc_group(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Group {
        let attrs = self.attributes(el, path, &["group_id"], false);
        let mut g = Group {
            id: self.required(&attrs, "group_id", el, path),
            ..Group::default()
        };
        let specs = [one("associate-time", 0), one("disassociate-time", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut g.extensions) {
            let t = self.time(child, &p);
            if name == "associate-time" {
                g.associate_time = Some(t);
            } else {
                g.disassociate_time = Some(t);
            }
        }
        g
    }

    fn rfc_session(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Session {
        let attrs = self.attributes(el, path, &["session_id"], false);
        let mut s = Session {
            id: self.required(&attrs, "session_id", el, path),
            ..Session::default()
        };
        let specs = [
            many("sipSessionID", 0),
            many("reason", 1),
            one("group-ref", 2),
            one("start-time", 3),
            one("stop-time", 4),
        ];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut s.extensions) {
            match name {
                "sipSessionID" => {
                    let t = self.simple_text(child, &p, false);
                    s.sip_session_ids.push(t);
                }
                "reason" => {
                    let a = self.attributes(child, &p, &["protocol", "cause"], false);
                    let reason = Reason {
                        protocol: a.get("protocol"),
                        cause: a.get("cause"),
                        text: self.text_only(child, &p),
                    };
                    s.reasons.push(reason);
                }
                "group-ref" => s.group_ref = Some(self.token(child, &p)),
                "start-time" => s.start_time = Some(self.time(child, &p)),
                _ => s.stop_time = Some(self.time(child, &p)),
            }
        }
        s
    }

    fn rfc_participant(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
        index: usize,
    ) -> Participant {
        let attrs = self.attributes(el, path, &["participant_id"], false);
        let mut part = Participant {
            id: self.required(&attrs, "participant_id", el, path),
            ..Participant::default()
        };
        let specs = [many("nameID", 0)];
        for (_, child, p) in self.children(el, path, ns, &specs, &mut part.extensions) {
            self.sources
                .insert(Locator::NameId(index, part.name_ids.len()), &p, child.start);
            let a = self.attributes(child, &p, &["aor"], false);
            let mut name_id = NameId {
                aor: self.required(&a, "aor", child, &p),
                ..NameId::default()
            };
            let name_specs = [many("name", 0)];
            for (_, name_el, np) in
                self.children(child, &p, ns, &name_specs, &mut name_id.extensions)
            {
                let lang = self.attributes(name_el, &np, &[], true).lang();
                let text = self.text_only(name_el, &np);
                name_id.names.push(Name { lang, text });
            }
            part.name_ids.push(name_id);
        }
        part
    }

    fn rfc_stream(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Stream {
        let attrs = self.attributes(el, path, &["stream_id", "session_id"], false);
        let mut s = Stream {
            id: self.required(&attrs, "stream_id", el, path),
            session_id: self.required(&attrs, "session_id", el, path),
            ..Stream::default()
        };
        let specs = [one("label", 0)];
        for (_, child, p) in self.children(el, path, ns, &specs, &mut s.extensions) {
            s.label = Some(self.token(child, &p));
        }
        if s.label.is_none() {
            self.missing_child("label", el, path);
        }
        s
    }

    fn rfc_sra(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> SessionRecordingAssoc {
        let attrs = self.attributes(el, path, &["session_id"], false);
        let mut a = SessionRecordingAssoc {
            session_id: self.required(&attrs, "session_id", el, path),
            ..SessionRecordingAssoc::default()
        };
        let specs = [one("associate-time", 0), one("disassociate-time", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut a.extensions) {
            let t = self.time(child, &p);
            if name == "associate-time" {
                a.associate_time = Some(t);
            } else {
                a.disassociate_time = Some(t);
            }
        }
        a
    }

    fn rfc_psa(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
    ) -> ParticipantSessionAssoc {
        let attrs = self.attributes(el, path, &["participant_id", "session_id"], false);
        let mut a = ParticipantSessionAssoc {
            participant_id: self.required(&attrs, "participant_id", el, path),
            session_id: self.required(&attrs, "session_id", el, path),
            ..ParticipantSessionAssoc::default()
        };
        let specs = [
            one("associate-time", 0),
            one("disassociate-time", 1),
            many("param", 2),
        ];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut a.extensions) {
            match name {
                "associate-time" => a.associate_time = Some(self.time(child, &p)),
                "disassociate-time" => a.disassociate_time = Some(self.time(child, &p)),
                _ => {
                    let pa = self.attributes(child, &p, &["pname", "pval"], false);
                    let param = Param {
                        name: self.required(&pa, "pname", child, &p),
                        value: self.required(&pa, "pval", child, &p),
                    };
                    self.text_only(child, &p);
                    a.params.push(param);
                }
            }
        }
        a
    }

    fn rfc_pstream(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
        index: usize,
    ) -> ParticipantStreamAssoc {
        let attrs = self.attributes(el, path, &["participant_id"], false);
        let mut a = ParticipantStreamAssoc {
            participant_id: self.required(&attrs, "participant_id", el, path),
            ..ParticipantStreamAssoc::default()
        };
        // send and recv share a rank: RFC 7865's own example interleaves them.
        let specs = [
            many("send", 0),
            many("recv", 0),
            one("associate-time", 1),
            one("disassociate-time", 2),
        ];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut a.extensions) {
            match name {
                "send" => {
                    self.sources
                        .insert(Locator::Send(index, a.send.len()), &p, child.start);
                    a.send.push(self.token(child, &p));
                }
                "recv" => {
                    self.sources
                        .insert(Locator::Recv(index, a.recv.len()), &p, child.start);
                    a.recv.push(self.token(child, &p));
                }
                "associate-time" => a.associate_time = Some(self.time(child, &p)),
                _ => a.disassociate_time = Some(self.time(child, &p)),
            }
        }
        a
    }

    fn snapshot(&mut self, root: &RawElement) -> SnapshotRequest {
        let path = root.local.clone();
        self.sources.insert(Locator::Root, &path, root.start);
        self.attributes(root, &path, &[], false);
        let mut req = SnapshotRequest::default();
        let specs = [one("requestreason", 0)];
        for (_, el, p) in
            self.children(root, &path, root.ns.as_deref(), &specs, &mut req.extensions)
        {
            let lang = self.attributes(el, &p, &[], true).lang();
            let text = self.text_only(el, &p);
            req.reason = Some(RequestReason { lang, text });
        }
        req
    }

    // -----------------------------------------------------------------------------------
    // BroadWorks
    // -----------------------------------------------------------------------------------

    fn bw_recording(&mut self, root: &RawElement) -> Recording {
        let path = root.local.clone();
        self.sources.insert(Locator::Root, &path, root.start);
        self.attributes(root, &path, &[], false);
        let ns = root.ns.as_deref();
        let mut rec = Recording::default();
        let mut bw = BroadWorksRecording::default();
        let specs = [
            one("dataMode", 0),
            one("recording", 1),
            many("group", 2),
            many("session", 3),
            many("participant", 4),
            many("stream", 5),
            many("extensiondata", 6),
        ];
        for (name, el, p) in self.children(root, &path, ns, &specs, &mut rec.extensions) {
            match name {
                "dataMode" => {
                    self.sources.insert(Locator::Datamode, &p, el.start);
                    rec.datamode = Some(DataMode::from_text(&self.token(el, &p)));
                }
                "recording" => {
                    self.sources
                        .insert(Locator::BroadWorksRecording, &p, el.start);
                    bw.recording = Some(self.bw_recording_info(el, &p, ns));
                }
                "group" => {
                    self.sources
                        .insert(Locator::Group(rec.groups.len()), &p, el.start);
                    let g = self.bw_group(el, &p, ns);
                    rec.groups.push(g);
                }
                "session" => {
                    self.sources
                        .insert(Locator::Session(rec.sessions.len()), &p, el.start);
                    let s = self.bw_session(el, &p, ns);
                    rec.sessions.push(s);
                }
                "participant" => self.bw_participant(el, &p, ns, &mut rec),
                "stream" => {
                    self.sources
                        .insert(Locator::Stream(rec.streams.len()), &p, el.start);
                    let s = self.bw_stream(el, &p, ns);
                    rec.streams.push(s);
                }
                _ => {
                    let i = bw.extension_data.len();
                    self.sources.insert(Locator::ExtensionData(i), &p, el.start);
                    let e = self.bw_extension_data(el, &p, ns, i);
                    bw.extension_data.push(e);
                }
            }
        }
        rec.broadworks = Some(bw);
        rec
    }

    fn bw_recording_info(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
    ) -> BroadWorksRecordingInfo {
        let attrs = self.attributes(el, path, &["id"], false);
        let mut r = BroadWorksRecordingInfo {
            id: self.required(&attrs, "id", el, path),
            ..BroadWorksRecordingInfo::default()
        };
        let specs = [one("requestor", 0), one("type", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut r.extensions) {
            let t = Some(self.token(child, &p));
            if name == "requestor" {
                r.requestor = t;
            } else {
                r.recording_type = t;
            }
        }
        r
    }

    fn bw_group(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Group {
        let attrs = self.attributes(el, path, &["id", "recording"], false);
        let mut g = Group {
            id: self.required(&attrs, "id", el, path),
            ..Group::default()
        };
        let mut info = BroadWorksGroup {
            recording: attrs.get("recording"),
            initiator: None,
        };
        let specs = [one("initiator", 0)];
        for (_, child, p) in self.children(el, path, ns, &specs, &mut g.extensions) {
            info.initiator = Some(self.token(child, &p));
        }
        g.broadworks = Some(info);
        g
    }

    fn bw_session(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Session {
        let attrs = self.attributes(el, path, &["id", "group"], false);
        let mut s = Session {
            id: self.required(&attrs, "id", el, path),
            group_ref: attrs.get("group"),
            ..Session::default()
        };
        let specs = [one("start-time", 0), one("stop-time", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut s.extensions) {
            let t = Some(self.time(child, &p));
            if name == "start-time" {
                s.start_time = t;
            } else {
                s.stop_time = t;
            }
        }
        s
    }

    /// `participant@id@session{aor, send{id}*}` becomes a participant, a
    /// participant-session association (from `@session`) and a participant-stream
    /// association (from the `send` ids), so that stream/participant queries work the same
    /// way for both dialects.
    fn bw_participant(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
        rec: &mut Recording,
    ) {
        let index = rec.participants.len();
        self.sources
            .insert(Locator::Participant(index), path, el.start);
        let attrs = self.attributes(el, path, &["id", "session"], false);
        let id = self.required(&attrs, "id", el, path);
        let session = self.required(&attrs, "session", el, path);
        let mut part = Participant {
            id: id.clone(),
            ..Participant::default()
        };
        let assoc_index = rec.participant_stream_assocs.len();
        let mut sends = Vec::new();
        let specs = [one("aor", 0), many("send", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut part.extensions) {
            if name == "aor" {
                self.sources
                    .insert(Locator::NameId(index, 0), &p, child.start);
                let aor = self.token(child, &p);
                part.name_ids.push(NameId {
                    aor: Some(aor),
                    ..NameId::default()
                });
                continue;
            }
            self.attributes(child, &p, &[], false);
            let id_specs = [many("id", 0)];
            for (_, id_el, ip) in self.children(child, &p, ns, &id_specs, &mut part.extensions) {
                self.sources
                    .insert(Locator::Send(assoc_index, sends.len()), &ip, id_el.start);
                sends.push(self.token(id_el, &ip));
            }
        }
        rec.participants.push(part);
        if let Some(session_id) = session {
            let at = Locator::ParticipantSessionAssoc(rec.participant_session_assocs.len());
            self.sources.insert(at, path, el.start);
            rec.participant_session_assocs
                .push(ParticipantSessionAssoc {
                    participant_id: id.clone(),
                    session_id: Some(session_id),
                    ..ParticipantSessionAssoc::default()
                });
        }
        if !sends.is_empty() {
            self.sources
                .insert(Locator::ParticipantStreamAssoc(assoc_index), path, el.start);
            rec.participant_stream_assocs.push(ParticipantStreamAssoc {
                participant_id: id,
                send: sends,
                ..ParticipantStreamAssoc::default()
            });
        }
    }

    fn bw_stream(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Stream {
        let attrs = self.attributes(el, path, &["id", "session"], false);
        let mut s = Stream {
            id: self.required(&attrs, "id", el, path),
            session_id: self.required(&attrs, "session", el, path),
            ..Stream::default()
        };
        let mut info = BroadWorksStream::default();
        let specs = [one("label", 0), one("mode", 1)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut s.extensions) {
            let t = self.token(child, &p);
            if name == "label" {
                s.label = Some(t);
            } else {
                info.mode = Some(StreamMode::from_text(&t));
            }
        }
        if s.label.is_none() {
            self.missing_child("label", el, path);
        }
        s.broadworks = Some(info);
        s
    }

    fn bw_extension_data(
        &mut self,
        el: &RawElement,
        path: &str,
        ns: Option<&str>,
        index: usize,
    ) -> ExtensionData {
        let attrs = self.attributes(el, path, &["id", "parent"], false);
        let mut e = ExtensionData {
            id: self.required(&attrs, "id", el, path),
            parent: self.required(&attrs, "parent", el, path),
            ..ExtensionData::default()
        };
        // The content model is "any element": broadWorksRecordingMetadata is expected,
        // the rest is kept as extensions.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut text_reported = false;
        for node in &el.children {
            let child = match node {
                RawNode::Element(child) => child,
                RawNode::Text(t) => {
                    if !text_reported && !is_xml_whitespace(t) {
                        text_reported = true;
                        self.observe(
                            ObservationKind::UnexpectedText {
                                text: crate::findings::excerpt(t.trim()),
                            },
                            &el.local,
                            el,
                            &el.local,
                            path,
                        );
                    }
                    continue;
                }
            };
            let n = bump(&mut counts, &child.local);
            let p = format!("{path}/{}[{n}]", child.local);
            let is_bw = child.ns.as_deref() == Some(BROADWORKS_NS)
                && child.local == "broadWorksRecordingMetadata";
            if is_bw && e.call.is_none() {
                self.sources
                    .insert(Locator::BroadWorksCall(index), &p, child.start);
                e.call = Some(self.bw_call(child, &p));
                continue;
            }
            let kind = match child.ns.as_deref() {
                Some(n) if Some(n) != ns => ObservationKind::ForeignElement {
                    namespace: n.to_owned(),
                },
                other => ObservationKind::UnknownElement {
                    namespace: other.map(str::to_owned),
                },
            };
            self.observe(kind, &el.local, child, &child.local, &p);
            e.extensions.push(child.to_xml_element());
        }
        e
    }

    fn bw_call(&mut self, el: &RawElement, path: &str) -> BroadWorksCallMetadata {
        let attrs = self.attributes(el, path, &["version"], false);
        let mut m = BroadWorksCallMetadata {
            version: self.required(&attrs, "version", el, path),
            ..BroadWorksCallMetadata::default()
        };
        let ns = el.ns.as_deref();
        let specs = [
            one("extTrackingID", 0),
            one("serviceProviderID", 1),
            one("groupID", 2),
            one("userID", 3),
            one("callID", 4),
            one("callType", 5),
            one("recordingType", 6),
            one("acd", 7),
        ];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut m.extensions) {
            match name {
                "extTrackingID" => m.ext_tracking_id = Some(self.token(child, &p)),
                "serviceProviderID" => m.service_provider_id = Some(self.token(child, &p)),
                "groupID" => m.group_id = Some(self.token(child, &p)),
                "userID" => m.user_id = Some(self.token(child, &p)),
                "callID" => m.call_id = Some(self.token(child, &p)),
                "callType" => m.call_type = self.bw_call_type(child, &p, ns),
                "recordingType" => m.recording_type = Some(self.token(child, &p)),
                _ => m.acd = Some(self.bw_acd(child, &p, ns)),
            }
        }
        for (present, child) in [
            (m.ext_tracking_id.is_some(), "extTrackingID"),
            (m.service_provider_id.is_some(), "serviceProviderID"),
            (m.group_id.is_some(), "groupID"),
            (m.user_id.is_some(), "userID"),
            (m.call_id.is_some(), "callID"),
            (m.recording_type.is_some(), "recordingType"),
        ] {
            if !present {
                self.missing_child(child, el, path);
            }
        }
        m
    }

    fn bw_call_type(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Option<CallType> {
        self.attributes(el, path, &[], false);
        let mut call_type: Option<CallType> = None;
        for node in &el.children {
            let child = match node {
                RawNode::Element(child) => child,
                RawNode::Text(t) => {
                    if !is_xml_whitespace(t) {
                        self.observe(
                            ObservationKind::UnexpectedText {
                                text: crate::findings::excerpt(t.trim()),
                            },
                            &el.local,
                            el,
                            &el.local,
                            path,
                        );
                    }
                    continue;
                }
            };
            let p = format!("{path}/{}[1]", child.local);
            if child.ns.as_deref() != ns {
                self.observe(
                    ObservationKind::ForeignElement {
                        namespace: child.ns.clone().unwrap_or_default(),
                    },
                    &el.local,
                    child,
                    &child.local,
                    &p,
                );
                continue;
            }
            if call_type.is_some() {
                self.observe(
                    ObservationKind::Duplicate { max: 1 },
                    &el.local,
                    child,
                    &child.local,
                    &p,
                );
                continue;
            }
            let mut ct = CallType {
                direction: CallDirection::from_element_name(&child.local),
                ..CallType::default()
            };
            self.attributes(child, &p, &[], false);
            let specs = [
                one("callingPartyNumber", 0),
                one("calledPartyNumber", 1),
                one("dialedDigits", 2),
            ];
            for (name, gc, gp) in self.children(child, &p, ns, &specs, &mut ct.extensions) {
                let t = Some(self.token(gc, &gp));
                match name {
                    "callingPartyNumber" => ct.calling_party_number = t,
                    "calledPartyNumber" => ct.called_party_number = t,
                    _ => ct.dialed_digits = t,
                }
            }
            if ct.calling_party_number.is_none() {
                self.missing_child("callingPartyNumber", child, &p);
            }
            if ct.called_party_number.is_none() {
                self.missing_child("calledPartyNumber", child, &p);
            }
            call_type = Some(ct);
        }
        if call_type.is_none() {
            self.missing_child("origCall or termCall", el, path);
        }
        call_type
    }

    fn bw_acd(&mut self, el: &RawElement, path: &str, ns: Option<&str>) -> Acd {
        self.attributes(el, path, &[], false);
        let mut acd = Acd::default();
        let specs = [one("acdUserId", 0), one("acdName", 1), one("acdNumber", 2)];
        for (name, child, p) in self.children(el, path, ns, &specs, &mut acd.extensions) {
            match name {
                "acdUserId" => acd.acd_user_id = Some(self.token(child, &p)),
                "acdName" => acd.acd_name = Some(self.token(child, &p)),
                _ => {
                    let a = self.attributes(child, &p, &["countryCode"], false);
                    let number = self.text_only(child, &p).trim().to_owned();
                    acd.acd_number = Some(AcdNumber {
                        country_code: a.get("countryCode"),
                        number,
                    });
                }
            }
        }
        acd
    }
}

impl SourceMap {
    fn insert(&mut self, at: Locator, path: &str, offset: usize) {
        self.entries.insert(
            at,
            Loc {
                path: path.to_owned(),
                offset: Some(offset),
            },
        );
    }
}
