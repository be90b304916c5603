//! One passing and at least one failing vector per MD rule, with the requirement ID and
//! severity asserted. Failing vectors are the checklist's Example 1 (or a Webex-shaped
//! BroadWorks document) with one mutation, so each shows exactly the fault it names.

use recproof_siprec::findings::{Finding, Profile, Severity};
use recproof_siprec::metadata::{self, BroadWorksIdentity};

const STRICT: Profile = Profile::RfcStrict;
const COMPAT: Profile = Profile::BroadworksCompat;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/metadata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn ex1() -> String {
    data("example1_complete.xml")
}

fn webex() -> String {
    data("webex_inbound.xml")
}

/// `base` with the first `from` replaced; the test fails if `from` is absent, so a
/// mutation can never silently not apply.
fn mutate(base: &str, from: &str, to: &str) -> String {
    assert!(
        base.contains(from),
        "mutation target {from:?} not in document"
    );
    base.replacen(from, to, 1)
}

fn check(xml: &str, profile: Profile) -> Vec<Finding> {
    let doc = metadata::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    metadata::check_document(&doc, profile, None)
}

fn with_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.requirement == rule).collect()
}

/// Asserts a finding of `rule` with `severity`, and returns it.
#[track_caller]
fn expect(xml: &str, profile: Profile, rule: &str, severity: Severity) -> Finding {
    let findings = check(xml, profile);
    match findings
        .iter()
        .find(|f| f.requirement == rule && f.severity == severity)
    {
        Some(f) => f.clone(),
        None => panic!("expected {severity} {rule} under {profile}, got {findings:#?}"),
    }
}

/// Asserts no finding of `rule` at all.
#[track_caller]
fn clean(xml: &str, profile: Profile, rule: &str) {
    let findings = check(xml, profile);
    let hits = with_rule(&findings, rule);
    assert!(
        hits.is_empty(),
        "expected no {rule} under {profile}, got {hits:#?}"
    );
}

const DATAMODE: &str = "  <datamode>complete</datamode>\n";
const SESSION_OPEN: &str = "<session session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\">";
const SRA: &str = "  <sessionrecordingassoc session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\">\n    <associate-time>2025-01-15T10:00:00Z</associate-time>\n  </sessionrecordingassoc>\n";

#[test]
fn md01_namespace_and_root() {
    clean(&ex1(), STRICT, "MD-01");
    let wrong_ns = mutate(
        &ex1(),
        "urn:ietf:params:xml:ns:recording:1",
        "urn:example:recording",
    );
    let f = expect(&wrong_ns, COMPAT, "MD-01", Severity::Fail);
    assert!(f.message.contains("urn:example:recording"), "{}", f.message);
    let no_ns = mutate(&ex1(), " xmlns=\"urn:ietf:params:xml:ns:recording:1\"", "");
    expect(&no_ns, STRICT, "MD-01", Severity::Fail);
    let other_root = "<conference-info xmlns=\"urn:ietf:params:xml:ns:conference-info\"/>";
    expect(other_root, COMPAT, "MD-01", Severity::Fail);
    // The BroadWorks root is the dialect itself: tolerated in compat only.
    expect(&webex(), COMPAT, "MD-01", Severity::Warn);
    expect(&webex(), STRICT, "MD-01", Severity::Fail);
    let bw_wrong_ns = mutate(
        &webex(),
        "urn:ietf:params:xml:ns:siprec",
        "urn:example:siprec",
    );
    expect(&bw_wrong_ns, COMPAT, "MD-01", Severity::Fail);
}

#[test]
fn md01_unreadable_xml_is_a_finding() {
    let xml =
        b"<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><datamode>complete</recording>";
    let err = metadata::parse(xml).expect_err("mismatched end tag");
    let finding = metadata::parse_error_finding(&err, xml, 100);
    assert_eq!(finding.requirement, "MD-01");
    assert_eq!(finding.severity, Severity::Fail);
    match &finding.evidence {
        recproof_siprec::Evidence::Bytes { offset, excerpt } => {
            assert!(
                *offset >= 100,
                "offset is relative to the enclosing message"
            );
            assert!(excerpt.contains("</recording>"), "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn md02_sequence_order() {
    clean(&ex1(), STRICT, "MD-02");
    let moved = mutate(&ex1(), DATAMODE, "").replacen(SRA, &format!("{SRA}{DATAMODE}"), 1);
    let f = expect(&moved, STRICT, "MD-02", Severity::Warn);
    assert!(
        f.message
            .contains("<datamode> comes after <sessionrecordingassoc>"),
        "{}",
        f.message
    );
    // Lenient in both profiles until the order is verified.
    expect(&moved, COMPAT, "MD-02", Severity::Warn);
    // A foreign extension before an RFC element is out of order too.
    let ext_first = mutate(
        &ex1(),
        DATAMODE,
        &format!("  <x:e xmlns:x=\"urn:example:ext\"/>\n{DATAMODE}"),
    );
    expect(&ext_first, STRICT, "MD-02", Severity::Warn);
}

#[test]
fn md03_datamode() {
    clean(&ex1(), STRICT, "MD-03");
    clean(&mutate(&ex1(), DATAMODE, ""), STRICT, "MD-03");
    let bad = mutate(
        &ex1(),
        "<datamode>complete</datamode>",
        "<datamode>Complete</datamode>",
    );
    let f = expect(&bad, COMPAT, "MD-03", Severity::Fail);
    assert!(f.message.contains("`Complete`"), "{}", f.message);
    let twice = mutate(
        &ex1(),
        DATAMODE,
        &format!("{DATAMODE}  <datamode>partial</datamode>\n"),
    );
    expect(&twice, STRICT, "MD-03", Severity::Fail);
    let bw_bad = mutate(
        &webex(),
        "<dataMode>complete</dataMode>",
        "<dataMode>full</dataMode>",
    );
    expect(&bw_bad, COMPAT, "MD-03", Severity::Fail);
}

#[test]
fn md04_ids() {
    clean(&ex1(), STRICT, "MD-04");
    // Valid base64 of 3 bytes: schema-valid, not a UUID.
    let short = ex1().replace("2gKL6KqKTDGjaeIQrDr9aQ==", "YWJj");
    let f = expect(&short, STRICT, "MD-04", Severity::Fail);
    assert_eq!(
        f.message,
        "participant_id \"YWJj\" is not base64 of 16 bytes (decodes to 3 bytes); RFC 7865 IDs are base64 UUIDs like sDW5yJFaTRWlfKpxlFxbCA=="
    );
    assert_eq!(
        f.evidence,
        recproof_siprec::Evidence::element("recording/participant[1]/@participant_id", "YWJj")
    );
    expect(&short, COMPAT, "MD-04", Severity::Warn);
    // Not base64 at all: FAIL in both profiles.
    let garbage = ex1().replace("2gKL6KqKTDGjaeIQrDr9aQ==", "abc");
    expect(&garbage, COMPAT, "MD-04", Severity::Fail);
    // A BroadWorks-style ID in an RFC document.
    let urn = ex1().replace(
        "2gKL6KqKTDGjaeIQrDr9aQ==",
        "urn:uuid:03dd5b5d-6217-425a-ab0d-d04261388c36",
    );
    expect(&urn, STRICT, "MD-04", Severity::Fail);
    expect(&urn, COMPAT, "MD-04", Severity::Warn);
    // Two streams with the same ID.
    let dup = mutate(
        &ex1(),
        "stream_id=\"SAr7DOrMStqOM/yHxZHo5Q==\"",
        "stream_id=\"oUF8CQ3HSMeZGmDMCltQFQ==\"",
    );
    let f = expect(&dup, COMPAT, "MD-04", Severity::Fail);
    assert!(
        f.message.contains("already the ID of <stream>"),
        "{}",
        f.message
    );
    // BroadWorks urn:uuid: IDs: one summary finding.
    let bw = check(&webex(), COMPAT);
    let md04 = with_rule(&bw, "MD-04");
    assert_eq!(md04.len(), 1, "{md04:#?}");
    assert_eq!(md04[0].severity, Severity::Warn);
    let bw_bad = mutate(
        &webex(),
        "urn:uuid:6f1c2a3e-8d4b-4f0a-9b7e-2c5d1e8f3a90\">",
        "recording-1\">",
    );
    expect(&bw_bad, COMPAT, "MD-04", Severity::Fail);
}

const GROUP: &str = "  <group group_id=\"hVpd7YQgRW2nD22h7q60JQ==\">\n    <associate-time>2025-01-15T10:00:00Z</associate-time>\n  </group>\n";

#[test]
fn md05_group() {
    let with_group = mutate(&ex1(), DATAMODE, &format!("{DATAMODE}{GROUP}")).replacen(
        "</sipSessionID>",
        "</sipSessionID>\n    <group-ref>hVpd7YQgRW2nD22h7q60JQ==</group-ref>",
        1,
    );
    clean(&with_group, STRICT, "MD-05");
    clean(&with_group, STRICT, "MD-12");
    let no_id = mutate(
        &with_group,
        "<group group_id=\"hVpd7YQgRW2nD22h7q60JQ==\">",
        "<group>",
    );
    let f = expect(&no_id, COMPAT, "MD-05", Severity::Fail);
    assert_eq!(
        f.message,
        "<group> has no group_id attribute, which the schema requires"
    );
    let misordered = mutate(
        &with_group,
        "    <associate-time>2025-01-15T10:00:00Z</associate-time>\n  </group>",
        "    <disassociate-time>2025-01-15T10:09:00Z</disassociate-time>\n    <associate-time>2025-01-15T10:00:00Z</associate-time>\n  </group>",
    );
    expect(&misordered, STRICT, "MD-05", Severity::Warn);
}

#[test]
fn md06_session() {
    clean(&ex1(), STRICT, "MD-06");
    let no_id = mutate(&ex1(), SESSION_OPEN, "<session>");
    expect(&no_id, COMPAT, "MD-06", Severity::Fail);
    let misordered = mutate(
        &ex1(),
        "    <start-time>2025-01-15T10:00:00Z</start-time>\n  </session>",
        "    <start-time>2025-01-15T10:00:00Z</start-time>\n    <sipSessionID>x</sipSessionID>\n  </session>",
    );
    let f = expect(&misordered, STRICT, "MD-06", Severity::Warn);
    assert!(
        f.message
            .contains("<sipSessionID> comes after <start-time>"),
        "{}",
        f.message
    );
    let two_starts = mutate(
        &ex1(),
        "</start-time>\n  </session>",
        "</start-time>\n    <start-time>2025-01-15T10:00:01Z</start-time>\n  </session>",
    );
    expect(&two_starts, STRICT, "MD-06", Severity::Fail);
}

#[test]
fn md07_session_recording_assoc() {
    clean(&ex1(), STRICT, "MD-07");
    let none = mutate(&ex1(), SRA, "");
    let f = expect(&none, STRICT, "MD-07", Severity::Warn);
    assert!(
        f.message.contains("sDW5yJFaTRWlfKpxlFxbCA=="),
        "{}",
        f.message
    );
    expect(&none, COMPAT, "MD-07", Severity::Warn);
    let no_session_id = mutate(
        &ex1(),
        "<sessionrecordingassoc session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\">",
        "<sessionrecordingassoc>",
    );
    expect(&no_session_id, COMPAT, "MD-07", Severity::Fail);
    // The BroadWorks dialect has none: INFO in compat, WARN in strict.
    expect(&webex(), COMPAT, "MD-07", Severity::Info);
    expect(&webex(), STRICT, "MD-07", Severity::Warn);
}

#[test]
fn md08_participant_and_aor() {
    clean(&ex1(), STRICT, "MD-08");
    let bad_aor = mutate(
        &ex1(),
        "aor=\"sip:+15559870002@pstn.example.net\"",
        "aor=\"+15559870002 at pstn\"",
    );
    let f = expect(&bad_aor, STRICT, "MD-08", Severity::Fail);
    assert!(f.message.contains("is not a URI"), "{}", f.message);
    assert_eq!(
        f.evidence,
        recproof_siprec::Evidence::element(
            "recording/participant[2]/nameID[1]/@aor",
            "+15559870002 at pstn"
        )
    );
    expect(&bad_aor, COMPAT, "MD-08", Severity::Warn);
    let tel = mutate(
        &ex1(),
        "aor=\"sip:+15559870002@pstn.example.net\"",
        "aor=\"tel:+15559870002\"",
    );
    clean(&tel, STRICT, "MD-08");
    let no_aor = mutate(
        &ex1(),
        "<nameID aor=\"sip:+15559870002@pstn.example.net\"/>",
        "<nameID/>",
    );
    expect(&no_aor, COMPAT, "MD-08", Severity::Fail);
    let no_name_id = mutate(
        &ex1(),
        "    <nameID aor=\"sip:+15559870002@pstn.example.net\"/>\n",
        "",
    );
    expect(&no_name_id, STRICT, "MD-08", Severity::Info);
    let no_id = mutate(
        &ex1(),
        "<participant participant_id=\"nI23N6C0QJmGetdo4fpzVA==\">",
        "<participant>",
    );
    expect(&no_id, STRICT, "MD-08", Severity::Fail);
}

#[test]
fn md09_participant_session_assoc() {
    clean(&ex1(), STRICT, "MD-09");
    let no_session = mutate(
        &ex1(),
        "<participantsessionassoc participant_id=\"nI23N6C0QJmGetdo4fpzVA==\" session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\">",
        "<participantsessionassoc participant_id=\"nI23N6C0QJmGetdo4fpzVA==\">",
    );
    expect(&no_session, COMPAT, "MD-09", Severity::Fail);
    let with_param = "</associate-time>\n    <param pname=\"+sip.src\" pval=\"\"/>\n  </participantsessionassoc>";
    let param = mutate(
        &ex1(),
        "</associate-time>\n  </participantsessionassoc>",
        with_param,
    );
    clean(&param, STRICT, "MD-09");
    let bad_param = mutate(
        &ex1(),
        "</associate-time>\n  </participantsessionassoc>",
        "</associate-time>\n    <param pname=\"audio\"/>\n  </participantsessionassoc>",
    );
    expect(&bad_param, STRICT, "MD-09", Severity::Warn);
}

#[test]
fn md10_stream_and_label() {
    clean(&ex1(), STRICT, "MD-10");
    let no_label = mutate(&ex1(), "    <label>2</label>\n", "");
    let f = expect(&no_label, COMPAT, "MD-10", Severity::Fail);
    assert!(f.message.contains("no <label>"), "{}", f.message);
    let dup = mutate(&ex1(), "<label>2</label>", "<label>1</label>");
    let f = expect(&dup, COMPAT, "MD-10", Severity::Fail);
    assert!(
        f.message.contains("also the label of recording/stream[1]"),
        "{}",
        f.message
    );
    let empty = mutate(&ex1(), "<label>2</label>", "<label></label>");
    expect(&empty, STRICT, "MD-10", Severity::Fail);
    let no_session = mutate(
        &ex1(),
        "<stream stream_id=\"SAr7DOrMStqOM/yHxZHo5Q==\" session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\">",
        "<stream stream_id=\"SAr7DOrMStqOM/yHxZHo5Q==\">",
    );
    expect(&no_session, STRICT, "MD-10", Severity::Fail);
    let child_in_label = mutate(&ex1(), "<label>2</label>", "<label>2<b/></label>");
    expect(&child_in_label, STRICT, "MD-10", Severity::Fail);
    expect(&child_in_label, COMPAT, "MD-10", Severity::Warn);
}

#[test]
fn md11_participant_stream_assoc() {
    clean(&ex1(), STRICT, "MD-11");
    let no_pid = mutate(
        &ex1(),
        "<participantstreamassoc participant_id=\"nI23N6C0QJmGetdo4fpzVA==\">",
        "<participantstreamassoc>",
    );
    expect(&no_pid, COMPAT, "MD-11", Severity::Fail);
    let listen_only = mutate(&ex1(), "    <send>SAr7DOrMStqOM/yHxZHo5Q==</send>\n", "");
    let f = expect(&listen_only, STRICT, "MD-11", Severity::Info);
    assert!(
        f.message
            .contains("nI23N6C0QJmGetdo4fpzVA== sends on no stream"),
        "{}",
        f.message
    );
    let text = mutate(
        &ex1(),
        "    <send>SAr7DOrMStqOM/yHxZHo5Q==</send>\n",
        "    <send>SAr7DOrMStqOM/yHxZHo5Q==</send>\n    stray\n",
    );
    expect(&text, STRICT, "MD-11", Severity::Fail);
}

#[test]
fn md12_references() {
    clean(&ex1(), STRICT, "MD-12");
    let dangling = mutate(
        &ex1(),
        "<send>SAr7DOrMStqOM/yHxZHo5Q==</send>",
        "<send>AAAAAAAAAAAAAAAAAAAAAA==</send>",
    );
    let f = expect(&dangling, COMPAT, "MD-12", Severity::Fail);
    assert!(f.message.starts_with("send \"AAAAAAAAAAAAAAAAAAAAAA==\" (at recording/participantstreamassoc[2]/send[1]) names no <stream>"), "{}", f.message);
    let partial = mutate(
        &dangling,
        "<datamode>complete</datamode>",
        "<datamode>partial</datamode>",
    );
    expect(&partial, STRICT, "MD-12", Severity::Info);
    clean(&webex(), COMPAT, "MD-12");
    let bw_dangling = mutate(
        &webex(),
        "parent=\"urn:uuid:9e8d7c6b-5a49-4382-a716-05f4e3d2c1b0\"",
        "parent=\"urn:uuid:00000000-0000-4000-8000-000000000000\"",
    );
    let f = expect(&bw_dangling, COMPAT, "MD-12", Severity::Fail);
    assert!(f.message.contains("parent"), "{}", f.message);
}

#[test]
fn md13_times() {
    clean(&ex1(), STRICT, "MD-13");
    let not_a_date = mutate(
        &ex1(),
        "<start-time>2025-01-15T10:00:00Z</start-time>",
        "<start-time>2025-01-15 10:00:00Z</start-time>",
    );
    expect(&not_a_date, COMPAT, "MD-13", Severity::Fail);
    let no_zone = mutate(
        &ex1(),
        "<start-time>2025-01-15T10:00:00Z</start-time>",
        "<start-time>2025-01-15T10:00:00</start-time>",
    );
    let f = expect(&no_zone, STRICT, "MD-13", Severity::Warn);
    assert!(f.message.contains("no time zone"), "{}", f.message);
    let reversed = mutate(
        &ex1(),
        "<associate-time>2025-01-15T10:00:00Z</associate-time>\n  </participantsessionassoc>",
        "<associate-time>2025-01-15T10:00:00Z</associate-time>\n    <disassociate-time>2025-01-15T09:59:59+00:00</disassociate-time>\n  </participantsessionassoc>",
    );
    let f = expect(&reversed, COMPAT, "MD-13", Severity::Fail);
    assert_eq!(
        f.message,
        "disassociate-time 2025-01-15T09:59:59+00:00 is before associate-time 2025-01-15T10:00:00Z"
    );
    let stop_first = mutate(
        &ex1(),
        "</start-time>",
        "</start-time>\n    <stop-time>2025-01-15T09:00:00Z</stop-time>",
    );
    expect(&stop_first, STRICT, "MD-13", Severity::Fail);
    let later = mutate(
        &ex1(),
        "</start-time>",
        "</start-time>\n    <stop-time>2025-01-15T11:00:00+01:00</stop-time>",
    );
    clean(&later, STRICT, "MD-13");
}

#[test]
fn md13_future_times_need_a_clock() {
    let doc = metadata::parse(ex1().as_bytes()).expect("parses");
    let skew = jiff::SignedDuration::from_secs(5);
    let after: jiff::Timestamp = "2025-01-15T10:00:03Z".parse().expect("ts");
    assert!(metadata::check_future_times(&doc, after, skew).is_empty());
    let within_skew: jiff::Timestamp = "2025-01-15T09:59:56Z".parse().expect("ts");
    assert!(metadata::check_future_times(&doc, within_skew, skew).is_empty());
    let before: jiff::Timestamp = "2025-01-15T09:00:00Z".parse().expect("ts");
    let f = metadata::check_future_times(&doc, before, skew);
    assert!(!f.is_empty());
    assert!(
        f.iter()
            .all(|f| f.requirement == "MD-13" && f.severity == Severity::Fail)
    );
    assert!(f[0].message.contains("3600.0 s ahead"), "{}", f[0].message);
}

#[test]
fn md14_extensibility() {
    let ext = mutate(
        &ex1(),
        "</recording>",
        "  <ext:note xmlns:ext=\"urn:example:ext\" ext:level=\"2\">hi</ext:note>\n</recording>",
    );
    let findings = check(&ext, STRICT);
    let md14 = with_rule(&findings, "MD-14");
    assert_eq!(md14.len(), 1, "{findings:#?}");
    assert_eq!(md14[0].severity, Severity::Info);
    assert!(
        !recproof_siprec::findings::any_fail(&findings),
        "{findings:#?}"
    );
    let doc = metadata::parse(ext.as_bytes()).expect("parses");
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.extensions.len(), 1);
    assert_eq!(rec.extensions[0].text(), "hi");
    assert_eq!(
        rec.extensions[0].namespace.as_deref(),
        Some("urn:example:ext")
    );

    let unknown = mutate(
        &ex1(),
        "  <stream stream_id=\"oUF8",
        "  <mixer/>\n  <stream stream_id=\"oUF8",
    );
    let f = expect(&unknown, STRICT, "MD-14", Severity::Fail);
    assert!(
        f.message
            .contains("element <mixer> inside <recording> is in the RFC 7865 namespace"),
        "{}",
        f.message
    );
    expect(&unknown, COMPAT, "MD-14", Severity::Warn);
    let unqualified = mutate(
        &ex1(),
        "  <stream stream_id=\"oUF8",
        "  <mixer xmlns=\"\"/>\n  <stream stream_id=\"oUF8",
    );
    expect(&unqualified, STRICT, "MD-14", Severity::Fail);
    let attr = mutate(
        &ex1(),
        "<stream stream_id=\"oUF8",
        "<stream direction=\"out\" stream_id=\"oUF8",
    );
    expect(&attr, STRICT, "MD-14", Severity::Fail);
    expect(&attr, COMPAT, "MD-14", Severity::Warn);
}

#[test]
fn md15_snapshot_request() {
    let ok = data("example3_snapshot.xml");
    for rule in ["MD-01", "MD-15"] {
        clean(&ok, STRICT, rule);
    }
    clean(
        "<requestsnapshot xmlns=\"urn:ietf:params:xml:ns:recording:1\"/>",
        STRICT,
        "MD-15",
    );
    let twice = mutate(
        &ok,
        "</requestreason>\n",
        "</requestreason>\n  <requestreason>again</requestreason>\n",
    );
    expect(&twice, COMPAT, "MD-15", Severity::Fail);
    let unknown = mutate(
        &ok,
        "</requestreason>\n",
        "</requestreason>\n  <datamode>complete</datamode>\n",
    );
    expect(&unknown, STRICT, "MD-15", Severity::Fail);
    expect(&unknown, COMPAT, "MD-15", Severity::Warn);
    let wrong_ns = mutate(
        &ok,
        "urn:ietf:params:xml:ns:recording:1",
        "urn:ietf:params:xml:ns:siprec",
    );
    expect(&wrong_ns, COMPAT, "MD-01", Severity::Fail);
}

#[test]
fn md16_broadworks_structure() {
    clean(&webex(), COMPAT, "MD-16");
    clean(&data("webex_conference_update.xml"), COMPAT, "MD-16");
    let version = mutate(&webex(), "version=\"3.0\"", "version=\"4.0\"");
    let f = expect(&version, COMPAT, "MD-16", Severity::Warn);
    assert!(f.message.contains("\"4.0\""), "{}", f.message);
    let no_tracking = mutate(
        &webex(),
        "      <extTrackingID>7c9e6679-7425-40de-944b-e07fc1f90ae7</extTrackingID>\n",
        "",
    );
    let f = expect(&no_tracking, COMPAT, "MD-16", Severity::Fail);
    assert_eq!(
        f.message,
        "<broadWorksRecordingMetadata> has no <extTrackingID>, which the schema requires"
    );
    let odd_call = mutate(&webex(), "<termCall>", "<forwardedCall>").replacen(
        "</termCall>",
        "</forwardedCall>",
        1,
    );
    expect(&odd_call, COMPAT, "MD-16", Severity::Warn);
    let empty_call = mutate(
        &webex(),
        "<callType>\n        <termCall>\n          <callingPartyNumber>sip:4412@10.20.30.40;user=phone</callingPartyNumber>\n          <calledPartyNumber>sip:+15550104477@10.20.30.40</calledPartyNumber>\n        </termCall>\n      </callType>",
        "<callType/>",
    );
    expect(&empty_call, COMPAT, "MD-16", Severity::Fail);
    let mode = mutate(&webex(), "<mode>separate</mode>", "<mode>stereo</mode>");
    expect(&mode, COMPAT, "MD-16", Severity::Warn);
    let no_id = mutate(
        &webex(),
        "<participant id=\"urn:uuid:0f1e2d3c-4b5a-4697-8877-665544332211\"",
        "<participant",
    );
    expect(&no_id, COMPAT, "MD-16", Severity::Fail);
    let recording_type = mutate(
        &webex(),
        "<recordingType>on</recordingType>",
        "<recordingType>onDemand</recordingType>",
    );
    expect(&recording_type, COMPAT, "MD-16", Severity::Info);
    let unknown = mutate(
        &webex(),
        "    <mode>separate</mode>",
        "    <mode>separate</mode>\n    <codec>PCMA</codec>",
    );
    expect(&unknown, COMPAT, "MD-16", Severity::Warn);
}

#[test]
fn md17_identity() {
    let doc = metadata::parse(webex().as_bytes()).expect("parses");
    let person = BroadWorksIdentity {
        service_provider: "WXYZA123456".into(),
        external_group: "WXYZA123456L98765".into(),
        external_identifier: "q7wz2k1m@81234567.int10.bcld.webex.com".into(),
    };
    let ok = metadata::check_document(&doc, COMPAT, Some(&person));
    assert!(with_rule(&ok, "MD-17").is_empty(), "{ok:#?}");
    let wrong = BroadWorksIdentity {
        service_provider: "OTHER".into(),
        external_identifier: "someone@else".into(),
        ..person
    };
    let bad = metadata::check_document(&doc, COMPAT, Some(&wrong));
    let md17 = with_rule(&bad, "MD-17");
    assert_eq!(md17.len(), 2, "{bad:#?}");
    assert!(md17.iter().all(|f| f.severity == Severity::Fail));
    // An RFC document has no BroadWorks identity to compare: recorded, not judged.
    let rfc = metadata::parse(ex1().as_bytes()).expect("parses");
    let info = metadata::check_document(&rfc, STRICT, Some(&wrong));
    assert_eq!(with_rule(&info, "MD-17")[0].severity, Severity::Info);
}

#[test]
fn every_md_rule_has_a_vector_here() {
    // Keeps this file honest: the catalogue's MD rules are exactly the ones tested above.
    let md: Vec<&str> = recproof_siprec::REQUIREMENTS
        .iter()
        .map(|r| r.id)
        .filter(|id| id.starts_with("MD-"))
        .collect();
    assert_eq!(md.len(), 17);
    let this_file = include_str!("metadata_rules.rs");
    for id in md {
        let test_name = format!("fn md{}_", id.trim_start_matches("MD-"));
        assert!(this_file.contains(&test_name), "no test for {id}");
    }
}

#[test]
fn models_built_in_code_are_judged_like_parsed_ones() {
    use recproof_siprec::metadata::{Dialect, Document, Locator, Recording, Stream};
    let mut ids = metadata::ids::IdGenerator::new(1);
    let rec = Recording {
        streams: vec![Stream {
            id: Some(ids.next_rfc_id()),
            session_id: Some(ids.next_rfc_id()),
            label: None,
            ..Stream::default()
        }],
        ..Recording::default()
    };
    let doc = Document::from_recording(rec, Dialect::Rfc7865);
    assert_eq!(doc.loc(Locator::Stream(0)).path, "recording/stream[1]");
    assert_eq!(doc.loc(Locator::Stream(0)).offset, None);
    let findings = metadata::check_document(&doc, STRICT, None);
    let md10 = with_rule(&findings, "MD-10");
    assert_eq!(md10.len(), 1, "{findings:#?}");
    assert_eq!(md10[0].severity, Severity::Fail);
    // The stream's session is not in the (complete) document either.
    assert_eq!(with_rule(&findings, "MD-12")[0].severity, Severity::Fail);
}
