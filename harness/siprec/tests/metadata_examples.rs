//! The checklist's examples and realistic BroadWorks/Webex documents (shaped like the
//! public captures) parse, map into the one model, and give the expected findings.

use recproof_siprec::findings::{Finding, Profile, Severity};
use recproof_siprec::metadata::{
    self, BroadWorksIdentity, CallDirection, DataMode, Dialect, Locator, StreamMode,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/metadata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn parse(name: &str) -> metadata::Document {
    metadata::parse(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (requirement, severity) pairs, sorted, for comparing finding sets.
fn summary(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
    let mut v: Vec<_> = findings
        .iter()
        .map(|f| (f.requirement, f.severity))
        .collect();
    v.sort();
    v
}

const A: &str = "2gKL6KqKTDGjaeIQrDr9aQ==";
const B: &str = "nI23N6C0QJmGetdo4fpzVA==";
const S1: &str = "oUF8CQ3HSMeZGmDMCltQFQ==";
const S2: &str = "SAr7DOrMStqOM/yHxZHo5Q==";

#[test]
fn example1_is_a_clean_two_party_call() {
    let doc = parse("example1_complete.xml");
    assert_eq!(doc.dialect, Dialect::Rfc7865);
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.datamode, Some(DataMode::Complete));
    assert!(rec.is_complete());
    assert_eq!(rec.stream_labels(), ["1", "2"]);
    assert_eq!(rec.senders_of(S1), [A]);
    assert_eq!(rec.senders_of(S2), [B]);
    assert_eq!(rec.receivers_of(S1), [B]);
    assert_eq!(rec.streams_sent_by(A), [S1]);
    assert_eq!(rec.streams_received_by(A), [S2]);
    assert_eq!(rec.participants_in("sDW5yJFaTRWlfKpxlFxbCA=="), [A, B]);
    assert_eq!(
        rec.sip_session_ids(),
        ["ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000"]
    );
    let alice = rec.participant(A).expect("alice");
    assert_eq!(
        alice.name_ids[0].aor.as_deref(),
        Some("sip:+15551230001@example.com")
    );
    assert_eq!(alice.name_ids[0].names[0].lang.as_deref(), Some("en"));
    assert_eq!(alice.name_ids[0].names[0].text, "Alice Agent");
    assert!(doc.observations.is_empty(), "{:?}", doc.observations);
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        let findings = metadata::check_document(&doc, profile, None);
        assert!(findings.is_empty(), "{profile}: {findings:#?}");
    }
}

#[test]
fn example1_evidence_points_into_the_bytes() {
    let bytes = data("example1_complete.xml");
    let doc = metadata::parse(&bytes).expect("parses");
    let loc = doc.loc(Locator::Stream(1));
    assert_eq!(loc.path, "recording/stream[2]");
    let at = loc.offset.expect("offset");
    assert!(bytes[at..].starts_with(b"<stream stream_id=\"SAr7DOrMStqOM/yHxZHo5Q==\""));
    let labels = doc.stream_label_evidence();
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[1].label, "2");
    assert_eq!(labels[1].path, "recording/stream[2]/label");
    let sends = doc.send_evidence();
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1].participant_id.as_deref(), Some(B));
    assert_eq!(sends[1].path, "recording/participantstreamassoc[2]/send[1]");
    let send_at = sends[1].offset.expect("offset");
    assert!(bytes[send_at..].starts_with(b"<send>SAr7DOrMStqOM/yHxZHo5Q==</send>"));
}

#[test]
fn example2_partial_update_defers_references() {
    let doc = parse("example2_partial.xml");
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.datamode_or_default(), DataMode::Partial);
    assert!(!rec.is_complete());
    assert_eq!(rec.streams_sent_by("ZNOgmQ+KQy6V5Pt7tHxoZA=="), [S2]);
    assert_eq!(rec.unresolved_references().len(), 5);
    let b_assoc = &rec.participant_session_assocs[0];
    assert_eq!(b_assoc.participant_id.as_deref(), Some(B));
    assert_eq!(
        b_assoc.disassociate_time.as_ref().map(|t| t.as_str()),
        Some("2025-01-15T10:05:30Z")
    );
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        let findings = metadata::check_document(&doc, profile, None);
        assert_eq!(
            summary(&findings),
            [("MD-12", Severity::Info)],
            "{findings:#?}"
        );
        assert!(findings[0].message.contains("5 reference(s)"));
    }
}

#[test]
fn example3_snapshot_request() {
    let doc = parse("example3_snapshot.xml");
    let req = doc.snapshot_request().expect("snapshot request");
    let reason = req.reason.as_ref().expect("reason");
    assert_eq!(reason.text, "SRS restarted, state lost");
    assert_eq!(reason.lang.as_deref(), Some("en"));
    assert!(metadata::check_document(&doc, Profile::RfcStrict, None).is_empty());
    assert!(metadata::facts(&doc).is_none());
    let again =
        metadata::parse(metadata::snapshot_request_to_xml(req).as_bytes()).expect("reparses");
    assert_eq!(again.snapshot_request(), Some(req));
}

const WEBEX_S1: &str = "urn:uuid:aa11bb22-cc33-4d44-8e55-ff6600771188";
const WEBEX_S2: &str = "urn:uuid:bb22cc33-dd44-4e55-9f66-007711882299";
const WEBEX_P1: &str = "urn:uuid:0f1e2d3c-4b5a-4697-8877-665544332211";
const WEBEX_P2: &str = "urn:uuid:12345678-9abc-4def-8123-456789abcdef";
const WEBEX_SESSION: &str = "urn:uuid:9e8d7c6b-5a49-4382-a716-05f4e3d2c1b0";

#[test]
fn webex_inbound_maps_into_the_same_model() {
    let bytes = data("webex_inbound.xml");
    let doc = metadata::parse(&bytes).expect("parses");
    assert_eq!(doc.dialect, Dialect::BroadWorks);
    assert!(doc.observations.is_empty(), "{:?}", doc.observations);
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.datamode_or_default(), DataMode::Complete);
    // Two streams, labels 1 and 2, each with exactly one sender.
    assert_eq!(rec.stream_labels(), ["1", "2"]);
    assert_eq!(rec.senders_of(WEBEX_S1), [WEBEX_P1]);
    assert_eq!(rec.senders_of(WEBEX_S2), [WEBEX_P2]);
    assert_eq!(rec.streams_sent_by(WEBEX_P2), [WEBEX_S2]);
    assert_eq!(rec.sessions_of(WEBEX_P1), [WEBEX_SESSION]);
    assert_eq!(rec.stream_mode(WEBEX_S1), Some(&StreamMode::Separate));
    assert_eq!(
        rec.sessions[0].group_ref.as_deref(),
        Some("urn:uuid:1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d")
    );
    let group = rec.groups[0].broadworks.as_ref().expect("group info");
    assert_eq!(
        group.initiator.as_deref(),
        Some("sip:q7wz2k1m@81234567.int10.bcld.webex.com")
    );
    let info = rec
        .broadworks
        .as_ref()
        .and_then(|b| b.recording.as_ref())
        .expect("recording info");
    assert_eq!(info.requestor.as_deref(), Some("SRC"));
    assert_eq!(info.recording_type.as_deref(), Some("selective"));
    let call = rec.broadworks_call().expect("broadWorksRecordingMetadata");
    assert_eq!(call.version.as_deref(), Some("3.0"));
    assert_eq!(
        call.ext_tracking_id.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );
    assert_eq!(call.service_provider_id.as_deref(), Some("WXYZA123456"));
    assert_eq!(call.group_id.as_deref(), Some("WXYZA123456L98765"));
    assert_eq!(
        call.user_id.as_deref(),
        Some("q7wz2k1m@81234567.int10.bcld.webex.com")
    );
    assert_eq!(call.call_id.as_deref(), Some("callhalf-41234567:0"));
    assert_eq!(call.recording_type.as_deref(), Some("on"));
    let ct = call.call_type.as_ref().expect("callType");
    assert_eq!(ct.direction, CallDirection::Terminating);
    assert_eq!(
        ct.calling_party_number.as_deref(),
        Some("sip:4412@10.20.30.40;user=phone")
    );
    assert_eq!(ct.dialed_digits, None);

    // Evidence paths and offsets use the BroadWorks element names.
    let sends = doc.send_evidence();
    assert_eq!(
        sends[1].path,
        "recording_metadata/participant[2]/send[1]/id[1]"
    );
    let at = sends[1].offset.expect("offset");
    assert!(bytes[at..].starts_with(format!("<id>{WEBEX_S2}</id>").as_bytes()));

    let compat = metadata::check_document(&doc, Profile::BroadworksCompat, None);
    assert_eq!(
        summary(&compat),
        [
            ("MD-01", Severity::Warn),
            ("MD-04", Severity::Warn),
            ("MD-07", Severity::Info)
        ],
        "{compat:#?}"
    );
    let strict = metadata::check_document(&doc, Profile::RfcStrict, None);
    assert_eq!(
        summary(&strict),
        [
            ("MD-01", Severity::Fail),
            ("MD-04", Severity::Fail),
            ("MD-07", Severity::Warn)
        ],
        "{strict:#?}"
    );
}

#[test]
fn webex_facts_feed_the_message_rules() {
    let doc = parse("webex_inbound.xml");
    let facts = metadata::facts(&doc).expect("facts");
    assert!(facts.complete);
    assert_eq!(facts.streams.len(), 2);
    assert_eq!(facts.streams[0].0, WEBEX_S1);
    assert_eq!(facts.streams[0].1, "1");
    assert_eq!(facts.streams[0].2, "recording_metadata/stream[1]/label");
    assert_eq!(
        facts.senders[1],
        (
            WEBEX_P2.to_owned(),
            vec![WEBEX_S2.to_owned()],
            "recording_metadata/participant[2]".to_owned()
        )
    );
    assert_eq!(
        facts.ext_tracking_id.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );
    assert_eq!(facts.separate_mode, Some(true));
    assert!(facts.sip_session_ids.is_empty());

    let example1 = metadata::facts(&parse("example1_complete.xml")).expect("facts");
    assert_eq!(example1.separate_mode, None);
    assert_eq!(example1.sip_session_ids.len(), 1);
    assert_eq!(example1.ext_tracking_id, None);
}

#[test]
fn webex_conference_shares_the_remote_stream() {
    let doc = parse("webex_conference_update.xml");
    let rec = doc.recording().expect("recording");
    let remote = "urn:uuid:9d0e1f2a-3b4c-4d5e-b6f7-a8b9c0d1e2f3";
    assert_eq!(rec.senders_of(remote).len(), 2);
    let call = rec.broadworks_call().expect("call");
    let ct = call.call_type.as_ref().expect("callType");
    assert_eq!(ct.direction, CallDirection::Originating);
    assert_eq!(ct.dialed_digits.as_deref(), Some("sip:4415@10.20.30.40"));
    // The third party's AOR has no scheme, as in the public conference capture.
    let compat = metadata::check_document(&doc, Profile::BroadworksCompat, None);
    let md08: Vec<&Finding> = compat.iter().filter(|f| f.requirement == "MD-08").collect();
    assert_eq!(md08.len(), 1, "{compat:#?}");
    assert_eq!(md08[0].severity, Severity::Warn);
    assert!(md08[0].message.contains("no scheme"));
    let strict = metadata::check_document(&doc, Profile::RfcStrict, None);
    assert!(
        strict
            .iter()
            .any(|f| f.requirement == "MD-08" && f.severity == Severity::Fail)
    );
}

#[test]
fn broadworks_acd_v2_document() {
    let doc = parse("broadworks_acd_v2.xml");
    let rec = doc.recording().expect("recording");
    let call = rec.broadworks_call().expect("call");
    assert_eq!(call.version.as_deref(), Some("2.0"));
    let acd = call.acd.as_ref().expect("acd");
    assert_eq!(acd.acd_name.as_deref(), Some("Support Queue"));
    let number = acd.acd_number.as_ref().expect("acdNumber");
    assert_eq!(number.country_code.as_deref(), Some("1"));
    assert_eq!(number.number, "tel:+15550100");
    assert_eq!(
        metadata::facts(&doc).and_then(|f| f.separate_mode),
        Some(false)
    );
    // One mixed stream, but the caller "sends" on a stream the document never describes.
    let findings = metadata::check_document(&doc, Profile::BroadworksCompat, None);
    let md12: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.requirement == "MD-12")
        .collect();
    assert_eq!(md12.len(), 1, "{findings:#?}");
    assert_eq!(md12[0].severity, Severity::Fail);
    assert!(
        md12[0]
            .message
            .contains("urn:uuid:87092143-0f12-4436-a578-901234567890")
    );
    assert!(
        !findings.iter().any(|f| f.requirement == "MD-16"),
        "{findings:#?}"
    );
}

#[test]
fn out_of_order_document_with_crlf_is_read_and_flagged() {
    let doc = parse("rfc_out_of_order_crlf.xml");
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.stream_labels(), ["1"]);
    assert_eq!(
        rec.senders_of("DyxVShKXEeaAO/FyJSj9YQ=="),
        ["Dyu5IhKXEeaANvFyJSj9YQ=="]
    );
    let findings = metadata::check_document(&doc, Profile::RfcStrict, None);
    assert_eq!(
        summary(&findings),
        [("MD-02", Severity::Warn), ("MD-07", Severity::Warn)],
        "{findings:#?}"
    );
}

#[test]
fn md17_compares_the_person_identity() {
    let doc = parse("webex_inbound.xml");
    let person = BroadWorksIdentity {
        service_provider: "WXYZA123456".into(),
        external_group: "WXYZA123456L98765".into(),
        external_identifier: "q7wz2k1m@81234567.int10.bcld.webex.com".into(),
    };
    let ok = metadata::check_document(&doc, Profile::BroadworksCompat, Some(&person));
    assert!(!ok.iter().any(|f| f.requirement == "MD-17"), "{ok:#?}");
    let other = BroadWorksIdentity {
        external_group: "WXYZA123456L00001".into(),
        ..person
    };
    let bad = metadata::check_document(&doc, Profile::BroadworksCompat, Some(&other));
    let md17: Vec<&Finding> = bad.iter().filter(|f| f.requirement == "MD-17").collect();
    assert_eq!(md17.len(), 1, "{bad:#?}");
    assert_eq!(md17[0].severity, Severity::Fail);
    assert_eq!(
        md17[0].message,
        "<groupID> is \"WXYZA123456L98765\" but the person's externalGroup is \"WXYZA123456L00001\""
    );
}
