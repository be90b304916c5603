//! Serialisation: generated models of both dialects round-trip exactly and are written
//! the same way every time; xmllint (an independent parser) accepts every document the
//! writer produces and finds the root in the namespace the checklist names; arbitrary
//! bytes never make the reader panic.

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use recproof_siprec::findings::Profile;
use recproof_siprec::metadata::announcement::{
    Announcement, AnnouncementEvent, AnnouncementTarget,
};
use recproof_siprec::metadata::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// Text kept verbatim (element content): includes everything that needs escaping, line
/// ends that XML would otherwise normalise, and non-ASCII.
fn free_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'\\t\\n\\r\u{e9}\u{4e2d}\u{1F600}\\]]{0,12}"
}

/// Values the reader trims (IDs, tokens, URIs, attribute values): no surrounding
/// whitespace, but anything needing escaping inside.
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/=:;@.&<>\"'_-]([A-Za-z0-9+/=:;@.&<>\"' \\t_-]{0,14}[A-Za-z0-9+/=:;@.&<>\"'_-])?"
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn time() -> impl Strategy<Value = XsDateTime> {
    prop_oneof![
        (0i64..4_000_000_000).prop_map(|s| XsDateTime::from_timestamp(
            jiff::Timestamp::from_second(s).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        )),
        token().prop_map(XsDateTime::new),
    ]
}

fn ncname() -> impl Strategy<Value = String> {
    "[a-wyzA-WYZ_][a-zA-Z0-9_.-]{0,6}"
}

/// Foreign namespaces only: an extension in the document's own namespace with a known
/// name would be read back as that element.
fn foreign_ns() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("urn:example:ext".to_owned())),
        Just(Some("http://example.com/x?a=1&b=2".to_owned())),
        Just(Some(announcement::ANNOUNCEMENT_NS.to_owned())),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<XmlAttribute>> {
    proptest::collection::vec((0u8..3, ncname(), token()), 0..3).prop_map(|v| {
        let mut out: Vec<XmlAttribute> = Vec::new();
        for (kind, name, value) in v {
            // In the XML namespace only xml:lang is used: libxml2 checks the values of
            // xml:id and xml:space.
            let (namespace, name) = match kind {
                0 => (None, name),
                1 => (Some("urn:example:attr".to_owned()), name),
                _ => (Some(XML_NS.to_owned()), "lang".to_owned()),
            };
            if !out
                .iter()
                .any(|a| a.namespace == namespace && a.name == name)
            {
                out.push(XmlAttribute {
                    namespace,
                    name,
                    value,
                });
            }
        }
        out
    })
}

/// Extension elements in canonical form (see `XmlNode`).
fn extension() -> impl Strategy<Value = XmlElement> {
    let leaf = (
        foreign_ns(),
        ncname(),
        attributes(),
        opt(free_text().prop_filter("non-empty", |t| !t.is_empty())),
    )
        .prop_map(|(namespace, name, attributes, text)| XmlElement {
            namespace,
            name,
            attributes,
            children: text.map(XmlNode::Text).into_iter().collect(),
        });
    leaf.prop_recursive(2, 8, 3, |inner| {
        (
            foreign_ns(),
            ncname(),
            attributes(),
            proptest::collection::vec((inner, opt("[a-z<&>]{1,4}")), 1..3),
        )
            .prop_map(|(namespace, name, attributes, kids)| {
                let mut children = Vec::new();
                for (el, text) in kids {
                    children.push(XmlNode::Element(el));
                    if let Some(t) = text {
                        children.push(XmlNode::Text(t));
                    }
                }
                XmlElement {
                    namespace,
                    name,
                    attributes,
                    children,
                }
            })
    })
}

fn extensions() -> impl Strategy<Value = Vec<XmlElement>> {
    proptest::collection::vec(extension(), 0..2)
}

fn datamode() -> impl Strategy<Value = Option<DataMode>> {
    opt(prop_oneof![
        Just(DataMode::Complete),
        Just(DataMode::Partial),
        "[a-z]{1,8}"
            .prop_filter("not a known value", |s| s != "complete" && s != "partial")
            .prop_map(DataMode::Other),
    ])
}

fn rfc_recording() -> impl Strategy<Value = Recording> {
    let group = (opt(token()), opt(time()), opt(time()), extensions()).prop_map(
        |(id, a, d, extensions)| Group {
            id,
            associate_time: a,
            disassociate_time: d,
            extensions,
            broadworks: None,
        },
    );
    let reason =
        (opt(token()), opt(token()), free_text()).prop_map(|(protocol, cause, text)| Reason {
            protocol,
            cause,
            text,
        });
    let session = (
        opt(token()),
        proptest::collection::vec(free_text(), 0..2),
        proptest::collection::vec(reason, 0..2),
        opt(token()),
        opt(time()),
        opt(time()),
        extensions(),
    )
        .prop_map(
            |(id, sip_session_ids, reasons, group_ref, start_time, stop_time, extensions)| {
                Session {
                    id,
                    sip_session_ids,
                    reasons,
                    group_ref,
                    start_time,
                    stop_time,
                    extensions,
                }
            },
        );
    let name =
        (opt("[a-z]{2}(-[A-Z]{2})?"), free_text()).prop_map(|(lang, text)| Name { lang, text });
    let name_id = (
        opt(token()),
        proptest::collection::vec(name, 0..2),
        extensions(),
    )
        .prop_map(|(aor, names, extensions)| NameId {
            aor,
            names,
            extensions,
        });
    let participant = (
        opt(token()),
        proptest::collection::vec(name_id, 0..2),
        extensions(),
    )
        .prop_map(|(id, name_ids, extensions)| Participant {
            id,
            name_ids,
            extensions,
        });
    let stream = (opt(token()), opt(token()), opt(token()), extensions()).prop_map(
        |(id, session_id, label, extensions)| Stream {
            id,
            session_id,
            label,
            extensions,
            broadworks: None,
        },
    );
    let sra = (opt(token()), opt(time()), opt(time()), extensions()).prop_map(
        |(session_id, a, d, extensions)| SessionRecordingAssoc {
            session_id,
            associate_time: a,
            disassociate_time: d,
            extensions,
        },
    );
    let param = (opt(token()), opt(token())).prop_map(|(name, value)| Param { name, value });
    let psa = (
        opt(token()),
        opt(token()),
        opt(time()),
        opt(time()),
        proptest::collection::vec(param, 0..2),
        extensions(),
    )
        .prop_map(|(participant_id, session_id, a, d, params, extensions)| {
            ParticipantSessionAssoc {
                participant_id,
                session_id,
                associate_time: a,
                disassociate_time: d,
                params,
                extensions,
            }
        });
    let pstream = (
        opt(token()),
        proptest::collection::vec(token(), 0..3),
        proptest::collection::vec(token(), 0..3),
        opt(time()),
        opt(time()),
        extensions(),
    )
        .prop_map(
            |(participant_id, send, recv, a, d, extensions)| ParticipantStreamAssoc {
                participant_id,
                send,
                recv,
                associate_time: a,
                disassociate_time: d,
                extensions,
            },
        );
    (
        datamode(),
        proptest::collection::vec(group, 0..3),
        proptest::collection::vec(session, 0..3),
        proptest::collection::vec(participant, 0..3),
        proptest::collection::vec(stream, 0..3),
        proptest::collection::vec(sra, 0..3),
        proptest::collection::vec(psa, 0..3),
        proptest::collection::vec(pstream, 0..3),
        extensions(),
    )
        .prop_map(
            |(
                datamode,
                groups,
                sessions,
                participants,
                streams,
                sras,
                psas,
                pstreams,
                extensions,
            )| Recording {
                datamode,
                groups,
                sessions,
                participants,
                streams,
                session_recording_assocs: sras,
                participant_session_assocs: psas,
                participant_stream_assocs: pstreams,
                extensions,
                broadworks: None,
            },
        )
}

fn call_metadata() -> impl Strategy<Value = BroadWorksCallMetadata> {
    let direction = prop_oneof![
        Just(CallDirection::Originating),
        Just(CallDirection::Terminating),
        "[a-z]{2,6}Call"
            .prop_filter("unknown", |n| n != "origCall" && n != "termCall")
            .prop_map(CallDirection::Other),
    ];
    let call_type = (
        direction,
        opt(token()),
        opt(token()),
        opt(token()),
        extensions(),
    )
        .prop_map(
            |(direction, calling, called, dialed, extensions)| CallType {
                direction,
                calling_party_number: calling,
                called_party_number: called,
                dialed_digits: dialed,
                extensions,
            },
        );
    let acd = (
        opt(token()),
        opt(token()),
        opt((opt(token()), token())),
        extensions(),
    )
        .prop_map(|(acd_user_id, acd_name, number, extensions)| Acd {
            acd_user_id,
            acd_name,
            acd_number: number.map(|(country_code, number)| AcdNumber {
                country_code,
                number,
            }),
            extensions,
        });
    (
        opt(prop_oneof![
            Just("1.0".to_owned()),
            Just("3.0".to_owned()),
            token()
        ]),
        [
            opt(token()),
            opt(token()),
            opt(token()),
            opt(token()),
            opt(token()),
            opt(token()),
        ],
        opt(call_type),
        opt(acd),
        extensions(),
    )
        .prop_map(
            |(version, [ext, sp, group, user, call, rtype], call_type, acd, extensions)| {
                BroadWorksCallMetadata {
                    version,
                    ext_tracking_id: ext,
                    service_provider_id: sp,
                    group_id: group,
                    user_id: user,
                    call_id: call,
                    call_type,
                    recording_type: rtype,
                    acd,
                    extensions,
                }
            },
        )
}

/// BroadWorks models in the shape the BroadWorks reader produces: participants with
/// unique IDs, at most one AOR, and their session/send associations in participant order.
fn bw_recording() -> impl Strategy<Value = Recording> {
    let info = (opt(token()), opt(token()), opt(token()), extensions()).prop_map(
        |(id, requestor, recording_type, extensions)| BroadWorksRecordingInfo {
            id,
            requestor,
            recording_type,
            extensions,
        },
    );
    let ext_data = (
        opt(token()),
        opt(token()),
        opt(call_metadata()),
        extensions(),
    )
        .prop_map(|(id, parent, call, extensions)| ExtensionData {
            id,
            parent,
            call,
            extensions,
        });
    let group = (opt(token()), opt(token()), opt(token()), extensions()).prop_map(
        |(id, recording, initiator, extensions)| Group {
            id,
            extensions,
            broadworks: Some(BroadWorksGroup {
                recording,
                initiator,
            }),
            ..Group::default()
        },
    );
    let session = (
        opt(token()),
        opt(token()),
        opt(time()),
        opt(time()),
        extensions(),
    )
        .prop_map(
            |(id, group_ref, start_time, stop_time, extensions)| Session {
                id,
                group_ref,
                start_time,
                stop_time,
                extensions,
                ..Session::default()
            },
        );
    let mode = opt(prop_oneof![
        Just(StreamMode::Separate),
        Just(StreamMode::Mixed),
        "[a-z]{1,6}"
            .prop_filter("unknown", |m| m != "separate" && m != "mixed")
            .prop_map(StreamMode::Other),
    ]);
    let stream = (opt(token()), opt(token()), opt(token()), mode, extensions()).prop_map(
        |(id, session_id, label, mode, extensions)| Stream {
            id,
            session_id,
            label,
            extensions,
            broadworks: Some(BroadWorksStream { mode }),
        },
    );
    let participant = (
        opt(token()),
        opt(token()),
        proptest::collection::vec(token(), 0..3),
        extensions(),
    );
    (
        datamode(),
        opt(info),
        proptest::collection::vec(group, 0..2),
        proptest::collection::vec(session, 0..2),
        proptest::collection::vec(participant, 0..4),
        proptest::collection::vec(stream, 0..3),
        proptest::collection::vec(ext_data, 0..2),
        extensions(),
    )
        .prop_map(
            |(datamode, info, groups, sessions, parts, streams, extension_data, extensions)| {
                let mut rec = Recording {
                    datamode,
                    groups,
                    sessions,
                    streams,
                    extensions,
                    broadworks: Some(BroadWorksRecording {
                        recording: info,
                        extension_data,
                    }),
                    ..Recording::default()
                };
                for (i, (aor, session, sends, extensions)) in parts.into_iter().enumerate() {
                    let id = format!("urn:uuid:00000000-0000-4000-8000-{i:012}");
                    rec.participants.push(Participant {
                        id: Some(id.clone()),
                        name_ids: aor
                            .map(|aor| NameId {
                                aor: Some(aor),
                                ..NameId::default()
                            })
                            .into_iter()
                            .collect(),
                        extensions,
                    });
                    if let Some(session_id) = session {
                        rec.participant_session_assocs
                            .push(ParticipantSessionAssoc {
                                participant_id: Some(id.clone()),
                                session_id: Some(session_id),
                                ..ParticipantSessionAssoc::default()
                            });
                    }
                    if !sends.is_empty() {
                        rec.participant_stream_assocs.push(ParticipantStreamAssoc {
                            participant_id: Some(id),
                            send: sends,
                            ..ParticipantStreamAssoc::default()
                        });
                    }
                }
                rec
            },
        )
}

fn dialect_and_model() -> impl Strategy<Value = (Dialect, Recording)> {
    prop_oneof![
        rfc_recording().prop_map(|r| (Dialect::Rfc7865, r)),
        bw_recording().prop_map(|r| (Dialect::BroadWorks, r)),
    ]
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn reparse(xml: &str) -> Document {
    match parse(xml.as_bytes()) {
        Ok(doc) => doc,
        Err(e) => panic!("writer output does not parse: {e}\n{xml}"),
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/data/metadata/roundtrip.proptest-regressions",
        ))),
        ..Config::default()
    })]

    #[test]
    fn models_round_trip((dialect, model) in dialect_and_model()) {
        let xml = to_xml(&model, dialect);
        prop_assert_eq!(&xml, &to_xml(&model, dialect), "same model, same bytes");
        let doc = reparse(&xml);
        prop_assert_eq!(doc.dialect, dialect);
        prop_assert_eq!(doc.recording(), Some(&model), "\n{}", xml);
        // Whatever the writer produced, the checker can judge it without panicking.
        let _ = check_document(&doc, Profile::RfcStrict, None);
    }

    #[test]
    fn snapshot_requests_round_trip(reason in opt((opt("[a-z]{2}"), free_text())), ext in extensions()) {
        let req = SnapshotRequest {
            reason: reason.map(|(lang, text)| RequestReason { lang, text }),
            extensions: ext,
        };
        let xml = snapshot_request_to_xml(&req);
        let doc = reparse(&xml);
        prop_assert_eq!(doc.snapshot_request(), Some(&req));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(doc) = parse(&bytes) {
            let _ = check_document(&doc, Profile::BroadworksCompat, None);
            if let Some(rec) = doc.recording() {
                let _ = to_xml(rec, doc.dialect);
            }
        }
    }

    #[test]
    fn xml_shaped_noise_never_panics(s in "(<[a-z:_]{0,3}( [a-z:]{1,3}=\"[^\"<]{0,3}\")?/?>|</[a-z:]{0,3}>|&[a-z#0-9]{0,4};|[ a-z<>&;\"]){0,40}") {
        let wrapped = format!("<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\" xmlns:a=\"urn:a\">{s}</recording>");
        for input in [s.as_str(), wrapped.as_str()] {
            if let Ok(doc) = parse(input.as_bytes()) {
                let _ = check_document(&doc, Profile::RfcStrict, None);
            }
        }
    }

    #[test]
    fn mutated_real_documents_never_panic(index in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let files = ["example1_complete.xml", "webex_inbound.xml", "broadworks_acd_v2.xml"];
        let path = format!("{}/tests/data/metadata/{}", env!("CARGO_MANIFEST_DIR"), files[index.index(files.len())]);
        let mut bytes = std::fs::read(path).expect("read");
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(doc) = parse(&bytes) {
            let _ = check_document(&doc, Profile::BroadworksCompat, None);
            let _ = facts(&doc);
        }
    }
}

#[test]
fn reserialising_a_parsed_document_is_stable() {
    for (file, dialect) in [
        ("example1_complete.xml", Dialect::Rfc7865),
        ("example2_partial.xml", Dialect::Rfc7865),
        ("webex_inbound.xml", Dialect::BroadWorks),
        ("webex_conference_update.xml", Dialect::BroadWorks),
        ("broadworks_acd_v2.xml", Dialect::BroadWorks),
    ] {
        let path = format!("{}/tests/data/metadata/{file}", env!("CARGO_MANIFEST_DIR"));
        let doc = parse(&std::fs::read(path).expect("read")).expect("parses");
        let rec = doc.recording().expect("recording");
        let once = to_xml(rec, dialect);
        let twice = to_xml(reparse(&once).recording().expect("recording"), dialect);
        assert_eq!(once, twice, "{file}");
        assert_eq!(reparse(&once).recording(), Some(rec), "{file}");
    }
}

#[test]
fn canonical_documents_are_written_back_byte_for_byte() {
    // The checklist's Example 1 and the Webex-shaped document are already in the writer's
    // canonical layout (two-space indentation, schema order).
    for (file, dialect) in [
        ("example1_complete.xml", Dialect::Rfc7865),
        ("webex_inbound.xml", Dialect::BroadWorks),
    ] {
        let path = format!("{}/tests/data/metadata/{file}", env!("CARGO_MANIFEST_DIR"));
        let original = std::fs::read_to_string(path).expect("read");
        let doc = parse(original.as_bytes()).expect("parses");
        assert_eq!(
            to_xml(doc.recording().expect("recording"), dialect),
            original,
            "{file}"
        );
    }
}

#[test]
fn converting_broadworks_to_rfc_keeps_the_stream_bindings() {
    let path = format!(
        "{}/tests/data/metadata/webex_inbound.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bw = parse(&std::fs::read(path).expect("read")).expect("parses");
    let bw_rec = bw.recording().expect("recording");
    let rfc = reparse(&to_xml(bw_rec, Dialect::Rfc7865));
    assert_eq!(rfc.dialect, Dialect::Rfc7865);
    let rfc_rec = rfc.recording().expect("recording");
    assert_eq!(rfc_rec.stream_labels(), bw_rec.stream_labels());
    for s in &bw_rec.streams {
        let id = s.id.as_deref().expect("stream id");
        assert_eq!(rfc_rec.senders_of(id), bw_rec.senders_of(id));
    }
    assert_eq!(
        rfc_rec.broadworks, None,
        "BroadWorks-only data is not written in RFC form"
    );
}

#[test]
fn writer_escapes_and_keeps_output_well_formed_for_any_model() {
    let rec = Recording {
        sessions: vec![Session {
            id: Some("a\"b<c>&d".into()),
            sip_session_ids: vec!["line1\r\nline2\ttab ]]> \u{1}".into()],
            ..Session::default()
        }],
        extensions: vec![
            XmlElement::new(Some("urn:x"), "bad name"),
            XmlElement::new(Some("urn:x"), "ok")
                .with_attribute("1bad", "v")
                .with_attribute("good", "v"),
        ],
        ..Recording::default()
    };
    let xml = to_xml(&rec, Dialect::Rfc7865);
    assert!(
        xml.contains("session_id=\"a&quot;b&lt;c&gt;&amp;d\""),
        "{xml}"
    );
    assert!(
        xml.contains("line1&#13;\nline2\ttab ]]&gt; \u{FFFD}"),
        "{xml}"
    );
    assert!(!xml.contains("bad name"), "{xml}");
    assert!(xml.contains("<ok xmlns=\"urn:x\" good=\"v\"/>"), "{xml}");
    let back = reparse(&xml);
    let s = &back.recording().expect("recording").sessions[0];
    assert_eq!(s.id.as_deref(), Some("a\"b<c>&d"));
    assert_eq!(s.sip_session_ids[0], "line1\r\nline2\ttab ]]> \u{FFFD}");
}

#[test]
fn ids_generated_from_a_seed_are_valid_and_repeat() {
    let mut a = ids::IdGenerator::new(42);
    let mut b = ids::IdGenerator::new(42);
    for _ in 0..100 {
        let id = a.next_rfc_id();
        assert_eq!(id, b.next_rfc_id());
        assert_eq!(id.len(), 24);
        assert!(id.ends_with("=="));
        assert!(ids::decode_rfc_id(&id).is_ok());
        assert_eq!(
            ids::classify_id(&a.next_id(Dialect::BroadWorks)),
            ids::IdForm::UrnUuid
        );
        b.next_uuid();
    }
}

// ---------------------------------------------------------------------------------------
// xmllint oracle
// ---------------------------------------------------------------------------------------

/// Runs xmllint on `input` (stdin): (success, stdout, stderr).
fn xmllint(args: &[&str], input: &str) -> Option<(bool, String, String)> {
    let mut child = Command::new("xmllint")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn xmllint_installed() -> bool {
    testkit::tool("xmllint", "--version")
}

#[test]
fn xmllint_accepts_everything_the_writer_produces() {
    if !xmllint_installed() {
        return;
    }
    let mut documents: Vec<(Dialect, String)> = Vec::new();
    let mut runner = TestRunner::deterministic();
    for _ in 0..24 {
        let (dialect, model) = dialect_and_model()
            .new_tree(&mut runner)
            .expect("generate")
            .current();
        documents.push((dialect, to_xml(&model, dialect)));
    }
    for dialect in [Dialect::Rfc7865, Dialect::BroadWorks] {
        let mut ids = ids::IdGenerator::new(7);
        let mut update = announcement::announcement_update(
            dialect,
            &Recording::default(),
            &Announcement {
                event: AnnouncementEvent::Stop,
                played_at: jiff::Timestamp::UNIX_EPOCH,
                target: AnnouncementTarget::Caller,
                prompt: None,
                session_id: Some(ids.next_id(dialect)),
            },
            &ids.next_broadworks_id(),
        );
        update.datamode = Some(DataMode::Complete);
        documents.push((dialect, to_xml(&update, dialect)));
        documents.push((dialect, to_xml(&Recording::default(), dialect)));
    }
    for (dialect, xml) in &documents {
        let (ok, _, err) = xmllint(&["--noout"], xml).expect("run xmllint");
        assert!(
            ok && err.is_empty(),
            "xmllint rejects or warns:\n{err}\n{xml}"
        );
        let (ok, ns, err) = xmllint(&["--xpath", "namespace-uri(/*)"], xml).expect("run xmllint");
        assert!(ok, "{err}");
        let expected = match dialect {
            Dialect::Rfc7865 => "urn:ietf:params:xml:ns:recording:1",
            Dialect::BroadWorks => "urn:ietf:params:xml:ns:siprec",
        };
        assert_eq!(ns.trim(), expected, "{xml}");
        let (ok, root, _) = xmllint(&["--xpath", "local-name(/*)"], xml).expect("run xmllint");
        assert!(ok);
        assert_eq!(root.trim(), dialect.root_name());
    }
    let snapshot = snapshot_request_to_xml(&SnapshotRequest {
        reason: Some(RequestReason {
            lang: Some("en".into()),
            text: "lost <state> & more".into(),
        }),
        extensions: Vec::new(),
    });
    let (ok, ns, err) = xmllint(&["--xpath", "namespace-uri(/*)"], &snapshot).expect("run xmllint");
    assert!(ok, "{err}");
    assert_eq!(ns.trim(), "urn:ietf:params:xml:ns:recording:1");
    let (_, text, _) = xmllint(
        &[
            "--xpath",
            "string(/*[local-name()='requestsnapshot']/*[local-name()='requestreason'])",
        ],
        &snapshot,
    )
    .expect("run xmllint");
    assert_eq!(text.trim_end_matches('\n'), "lost <state> & more");
}

#[test]
fn xmllint_agrees_on_extension_namespaces() {
    if !xmllint_installed() {
        return;
    }
    let rec = Recording {
        extensions: vec![
            XmlElement::new(Some("urn:example:ext"), "outer")
                .with_child(XmlElement::new(None, "inner").with_text("x"))
                .with_child(XmlElement {
                    namespace: Some("urn:example:other".into()),
                    name: "tagged".into(),
                    attributes: vec![XmlAttribute {
                        namespace: Some("urn:example:attr".into()),
                        name: "flag".into(),
                        value: "1".into(),
                    }],
                    children: Vec::new(),
                }),
        ],
        ..Recording::default()
    };
    let xml = to_xml(&rec, Dialect::Rfc7865);
    for (xpath, expected) in [
        ("namespace-uri(/*/*[1])", "urn:example:ext"),
        ("namespace-uri(/*/*[1]/*[1])", ""),
        ("local-name(/*/*[1]/*[1])", "inner"),
        ("namespace-uri(/*/*[1]/*[2])", "urn:example:other"),
        ("namespace-uri(/*/*[1]/*[2]/@*[1])", "urn:example:attr"),
    ] {
        let (ok, out, err) = xmllint(&["--xpath", xpath], &xml).expect("run xmllint");
        // libxml2 reports an empty string result as an error ("XPath set is empty").
        if expected.is_empty() {
            assert!(out.trim().is_empty() || !ok, "{xpath}: {out}");
        } else {
            assert!(ok, "{xpath}: {err}");
            assert_eq!(out.trim(), expected, "{xpath}\n{xml}");
        }
    }
}
