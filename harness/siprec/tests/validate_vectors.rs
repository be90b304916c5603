//! Single-message validation against captured-style vectors: for every rule, a message
//! that passes and a mutation of it that fails with the expected requirement ID.

use recproof_siprec::findings::{Profile, Severity};
use recproof_siprec::validate::{InputKind, Report, validate};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/validate/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Recomputes Content-Length after a test edits the body.
fn fix_len(msg: &str) -> String {
    let (head, body) = msg.split_once("\r\n\r\n").expect("head/body");
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Content-Length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n"))
}

fn run(msg: &str, profile: Profile) -> Report {
    validate(msg.as_bytes(), profile)
}

fn worst(report: &Report, id: &str) -> Option<Severity> {
    report
        .findings
        .iter()
        .filter(|f| f.requirement == id)
        .map(|f| f.severity)
        .max()
}

fn show(report: &Report) -> String {
    report.findings.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn rfc_vector_passes_strict_with_no_warnings() {
    let r = run(&data("rfc_initial_invite.sip"), Profile::RfcStrict);
    assert_eq!(r.kind, InputKind::InitialInvite);
    let noisy: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    assert!(noisy.is_empty(), "{}", show(&r));
}

#[test]
fn webex_vector_fails_strict_and_passes_compat() {
    let msg = data("webex_initial_invite.sip");
    let strict = run(&msg, Profile::RfcStrict);
    for id in ["SRC-02", "SRC-03", "MD-01", "MD-04"] {
        assert_eq!(
            worst(&strict, id),
            Some(Severity::Fail),
            "{id}\n{}",
            show(&strict)
        );
    }
    let compat = run(&msg, Profile::BroadworksCompat);
    assert!(!compat.failed(), "{}", show(&compat));
    assert_eq!(worst(&compat, "SRC-02"), Some(Severity::Warn));
    assert_eq!(worst(&compat, "SRC-03"), Some(Severity::Warn));
    // BroadWorks writes part headers without a space after the colon: noted, not judged.
    assert_eq!(worst(&compat, "SRC-07"), Some(Severity::Info));
    assert_eq!(
        worst(&compat, "POL-17"),
        None,
        "correlation header equals extTrackingID"
    );
}

#[test]
fn webex_metadata_only_update_passes_compat() {
    let r = run(
        &data("webex_update_metadata.sip"),
        Profile::BroadworksCompat,
    );
    assert_eq!(r.kind, InputKind::Update);
    assert!(!r.failed(), "{}", show(&r));
}

/// (description, edit, requirement, severity under rfc-strict, severity under compat)
type Mutation = (
    &'static str,
    fn(&str) -> String,
    &'static str,
    Severity,
    Severity,
);

const META_STREAM_2: &str = "SAr7DOrMStqOM/yHxZHo5Q==";
const META_STREAM_1: &str = "oUF8CQ3HSMeZGmDMCltQFQ==";

fn rfc_mutations() -> Vec<Mutation> {
    use Severity::*;
    vec![
        (
            "no Require",
            |m| m.replace("Require: siprec\r\n", ""),
            "SRC-02",
            Fail,
            Warn,
        ),
        (
            "Require other",
            |m| m.replace("Require: siprec", "Require: timer"),
            "SRC-02",
            Fail,
            Warn,
        ),
        (
            "no src marker",
            |m| m.replace(";+sip.src", ""),
            "SRC-03",
            Fail,
            Fail,
        ),
        (
            "src as header param",
            |m| m.replace(";+sip.src", ";src"),
            "SRC-03",
            Fail,
            Warn,
        ),
        (
            "no Accept",
            |m| {
                m.replace("Accept: application/sdp, application/rs-metadata+xml, application/rs-metadata-request\r\n", "")
            },
            "SRC-04",
            Warn,
            Warn,
        ),
        (
            "Accept lacks snapshot type",
            |m| m.replace(", application/rs-metadata-request", ""),
            "SRC-04",
            Warn,
            Info,
        ),
        (
            "SDP only",
            |m| {
                let (head, body) = m.split_once("\r\n\r\n").expect("split");
                let sdp_start = body.find("v=0").expect("sdp");
                let sdp_end = body.find("\r\n--b1").expect("end");
                fix_len(&format!(
                    "{}\r\n\r\n{}",
                    head.replace("multipart/mixed;boundary=b1", "application/sdp"),
                    &body[sdp_start..sdp_end]
                ))
            },
            "SRC-05",
            Fail,
            Fail,
        ),
        (
            "no metadata part",
            |m| {
                let start = m
                    .find("\r\n--b1\r\nContent-Type: application/rs-metadata+xml")
                    .expect("meta part");
                let end = m.find("\r\n--b1--").expect("close");
                fix_len(&format!("{}{}", &m[..start], &m[end..]))
            },
            "SRC-05",
            Fail,
            Fail,
        ),
        (
            "unclosed multipart",
            |m| fix_len(&m.replace("\r\n--b1--\r\n", "\r\n")),
            "SRC-05",
            Warn,
            Warn,
        ),
        (
            "legacy metadata type",
            |m| {
                fix_len(&m.replace(
                    "Content-Type: application/rs-metadata+xml",
                    "Content-Type: application/rs-metadata",
                ))
            },
            "SRC-06",
            Warn,
            Warn,
        ),
        (
            "no disposition",
            |m| fix_len(&m.replace("Content-Disposition: recording-session\r\n", "")),
            "SRC-07",
            Fail,
            Fail,
        ),
        (
            "wrong disposition",
            |m| {
                fix_len(&m.replace(
                    "Content-Disposition: recording-session",
                    "Content-Disposition: session",
                ))
            },
            "SRC-07",
            Fail,
            Fail,
        ),
        (
            "missing label",
            |m| fix_len(&m.replacen("a=label:1\r\n", "", 1)),
            "SRC-08",
            Fail,
            Fail,
        ),
        (
            "duplicate label",
            |m| fix_len(&m.replace("a=label:2", "a=label:1")),
            "SRC-08",
            Fail,
            Fail,
        ),
        (
            "sendrecv stream",
            |m| fix_len(&m.replacen("a=sendonly", "a=sendrecv", 1)),
            "SRC-09",
            Fail,
            Fail,
        ),
        (
            "no direction",
            |m| fix_len(&m.replace("a=sendonly\r\n", "")),
            "SRC-09",
            Fail,
            Warn,
        ),
        (
            "one m-line for two parties",
            |m| {
                let start = m.find("m=audio 40002").expect("second m-line");
                let tail = "a=label:2\r\na=sendonly\r\n";
                let end = m.find(tail).expect("end of second m-line") + tail.len();
                fix_len(&format!("{}{}", &m[..start], &m[end..]))
            },
            "SRC-10",
            Fail,
            Fail,
        ),
        (
            "metadata label not in SDP",
            |m| fix_len(&m.replace("<label>2</label>", "<label>3</label>")),
            "SRC-11",
            Fail,
            Fail,
        ),
        (
            "both parties on one stream",
            |m| {
                let i = m
                    .rfind(&format!("<send>{META_STREAM_2}</send>"))
                    .expect("send");
                let mut s = m.to_owned();
                s.replace_range(
                    i..i + META_STREAM_2.len() + 13,
                    &format!("<send>{META_STREAM_1}</send>"),
                );
                fix_len(&s)
            },
            "SRC-12",
            Fail,
            Fail,
        ),
        (
            "partial first metadata",
            |m| {
                fix_len(&m.replace(
                    "<datamode>complete</datamode>",
                    "<datamode>partial</datamode>",
                ))
            },
            "SRC-13",
            Fail,
            Fail,
        ),
        (
            "no session identity",
            |m| {
                let s = m.replace("Session-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000\r\n", "");
                let start = s.find("    <sipSessionID>").expect("sipSessionID");
                let end = s.find("</sipSessionID>\r\n").expect("end") + "</sipSessionID>\r\n".len();
                fix_len(&format!("{}{}", &s[..start], &s[end..]))
            },
            "SRC-23",
            Fail,
            Warn,
        ),
        (
            "Session-ID differs from metadata",
            |m| m.replace("Session-ID: ab30317f", "Session-ID: ffffffff"),
            "SRC-23",
            Warn,
            Warn,
        ),
        (
            "Content-Length too large",
            |m| {
                m.replace(
                    &format!(
                        "Content-Length: {}",
                        m.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len())
                    ),
                    "Content-Length: 99999",
                )
            },
            "SIP-02",
            Fail,
            Fail,
        ),
        (
            "no Call-ID",
            |m| m.replace("Call-ID: 3848276298220188511@platform.example.com\r\n", ""),
            "SIP-03",
            Fail,
            Fail,
        ),
    ]
}

#[test]
fn every_rule_fails_on_its_mutation_with_the_right_severity() {
    let good = data("rfc_initial_invite.sip");
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        assert_eq!(worst(&run(&good, profile), "SRC-02"), None);
    }
    for (what, edit, id, strict, compat) in rfc_mutations() {
        let bad = edit(&good);
        assert_ne!(bad, good, "{what}: the edit changed nothing");
        for (profile, expected) in [
            (Profile::RfcStrict, strict),
            (Profile::BroadworksCompat, compat),
        ] {
            let r = run(&bad, profile);
            assert_eq!(
                worst(&r, id),
                Some(expected),
                "{what} under {profile}: expected {expected} {id}\n{}",
                show(&r)
            );
            // The good vector has no such finding, so the mutation is what caused it.
            assert!(
                worst(&run(&good, profile), id).is_none_or(|s| s < expected),
                "{what}: {id} already on the good vector"
            );
        }
    }
}

#[test]
fn correlation_header_must_match_ext_tracking_id() {
    let msg = data("webex_initial_invite.sip").replace(
        "X-BroadWorks-Correlation-Info: 7d0e9a51",
        "X-BroadWorks-Correlation-Info: 00000000",
    );
    let r = run(&msg, Profile::BroadworksCompat);
    assert_eq!(worst(&r, "POL-17"), Some(Severity::Fail), "{}", show(&r));
}

#[test]
fn srs_answer_rules() {
    let ok = data("srs_200_ok.sip");
    let r = run(&ok, Profile::RfcStrict);
    assert_eq!(r.kind, InputKind::Response(200));
    assert!(!r.failed(), "{}", show(&r));
    let r = run(&ok.replace(";+sip.srs", ""), Profile::RfcStrict);
    assert_eq!(worst(&r, "SRS-02"), Some(Severity::Fail));
    let r = run(
        &ok.replacen("a=recvonly", "a=sendrecv", 1),
        Profile::RfcStrict,
    );
    assert_eq!(worst(&r, "SRS-03"), Some(Severity::Fail), "{}", show(&r));
}

#[test]
fn bare_metadata_document_is_validated() {
    let r = run(&data("example1.xml"), Profile::RfcStrict);
    assert_eq!(r.kind, InputKind::MetadataDocument);
    assert!(!r.failed(), "{}", show(&r));
}

#[test]
fn garbage_is_a_finding_not_a_crash() {
    for input in [
        &b""[..],
        b"\x00\xff\xfe",
        b"HELLO WORLD",
        b"<not-closed",
        b"INVITE sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\n",
    ] {
        let r = validate(input, Profile::RfcStrict);
        assert!(
            r.failed() || !r.findings.is_empty(),
            "{:?}: {}",
            String::from_utf8_lossy(input),
            show(&r)
        );
    }
}

#[test]
fn validated_ids_cover_every_finding_the_validator_reports() {
    use recproof_siprec::findings::VALIDATED_IDS;
    let mut inputs: Vec<String> = std::fs::read_dir(format!(
        "{}/tests/data/validate",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("vectors")
    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
    .collect();
    // Bare metadata documents (hostile ones included) are validated too.
    inputs.extend(
        std::fs::read_dir(format!(
            "{}/tests/data/metadata",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("metadata vectors")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()),
    );
    let good = data("rfc_initial_invite.sip");
    inputs.extend(rfc_mutations().into_iter().map(|(_, edit, ..)| edit(&good)));
    let mut seen = std::collections::BTreeSet::new();
    for input in &inputs {
        for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
            for f in &run(input, profile).findings {
                seen.insert(f.requirement);
            }
        }
    }
    let missing: Vec<&&str> = seen
        .iter()
        .filter(|id| !VALIDATED_IDS.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "the validator reports {missing:?}, not in VALIDATED_IDS"
    );
    assert!(seen.len() >= 18, "only {} IDs seen: {seen:?}", seen.len());
}
