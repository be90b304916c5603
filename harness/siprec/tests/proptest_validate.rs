//! Property tests for `validate::validate`: arbitrary bytes and mutated copies of the test
//! vectors never panic, always give a report under the profile asked for, and input that
//! is neither SIP nor XML always yields at least one finding quoting the offending bytes.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use recproof_siprec::findings::{Evidence, Profile, requirement};
use recproof_siprec::metadata;
use recproof_siprec::validate::{InputKind, Report, validate};

/// 256 cases per property (a few seconds in all); `PROPTEST_CASES` raises it for a deeper
/// run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failures are reported with their minimal case; no regression files are written
        // next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The vectors in `tests/data/validate`.
const VECTORS: &[&[u8]] = &[
    include_bytes!("data/validate/rfc_initial_invite.sip"),
    include_bytes!("data/validate/srs_200_ok.sip"),
    include_bytes!("data/validate/webex_initial_invite.sip"),
    include_bytes!("data/validate/webex_update_metadata.sip"),
    include_bytes!("data/validate/example1.xml"),
];

/// Byte strings that matter to the SIP, MIME, SDP and XML readers.
const FRAGMENTS: &[&str] = &[
    "\r\n",
    "\n",
    "\r\n\r\n",
    "\0",
    ":",
    ";",
    ",",
    "<",
    ">",
    "</",
    "/>",
    "\"",
    "&",
    "&amp;",
    "&#x0;",
    "&#99999999;",
    "<!DOCTYPE x [<!ENTITY a \"aa\">]>",
    "<![CDATA[",
    "]]>",
    "xmlns=\"\"",
    "Content-Length: 0",
    "Content-Length: 99999999999999999999",
    "Content-Type: multipart/mixed;boundary=",
    "Content-Type: application/sdp",
    "--",
    "--boundary",
    "m=audio 0 RTP/AVP 0",
    "a=label:",
    "c=IN IP4 0.0.0.0",
    "a=inactive",
    "Require: siprec",
    "+sip.src",
    ";tag=",
    "SIP/2.0 ",
    "INVITE ",
    "\u{feff}",
    "\u{00e9}",
    "\u{1F600}",
    "9999999999",
    "-1",
];

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Cut everything from here on.
    Truncate(Index),
    /// Insert bytes here.
    Insert(Index, Vec<u8>),
    /// Remove up to this many bytes from here.
    Delete(Index, usize),
    /// Copy a span to another position (repeats headers, parts, elements).
    Duplicate(Index, usize, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let insert = prop_oneof![
        2 => select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        4 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        4 => (any::<Index>(), insert).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..256, any::<Index>())
            .prop_map(|(i, n, to)| Mutation::Duplicate(i, n, to)),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = data.len();
        match m {
            Mutation::Flip(i, mask) if len > 0 => data[i.index(len)] ^= mask,
            Mutation::Flip(..) => {}
            Mutation::Truncate(i) => data.truncate(i.index(len + 1)),
            Mutation::Insert(i, bytes) => {
                let at = i.index(len + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i.index(len + 1);
                data.drain(at..(at + n).min(len));
            }
            Mutation::Duplicate(i, n, to) => {
                let at = i.index(len + 1);
                let span = data[at..(at + n).min(len)].to_vec();
                let to = to.index(len + 1);
                data.splice(to..to, span);
            }
        }
    }
    data
}

/// A vector with 1..8 edits.
fn mutated_vector() -> impl Strategy<Value = Vec<u8>> {
    (select(VECTORS), proptest::collection::vec(mutation(), 1..8))
        .prop_map(|(v, m)| apply(v.to_vec(), &m))
}

/// Random bytes, or random fragments glued together.
fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        proptest::collection::vec(piece, 0..64).prop_map(|v| v.concat()),
    ]
}

/// What every report must satisfy, whatever the input.
fn check_report(input: &[u8], profile: Profile, report: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(report.profile, profile);
    for f in &report.findings {
        prop_assert!(
            requirement(f.requirement).is_some(),
            "finding cites unknown requirement {}",
            f.requirement
        );
        let _ = f.to_string();
    }
    match &report.kind {
        InputKind::Unreadable => {
            prop_assert!(
                report
                    .findings
                    .iter()
                    .any(|f| matches!(f.evidence, Evidence::Bytes { .. })),
                "unreadable input without a finding quoting its bytes: {:?}",
                report.findings
            );
        }
        InputKind::MetadataDocument if metadata::parse(input).is_err() => {
            prop_assert!(
                !report.findings.is_empty(),
                "unparseable XML without a finding"
            );
        }
        _ => {}
    }
    Ok(())
}

fn both_profiles(input: &[u8]) -> Result<(), TestCaseError> {
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        let report = validate(input, profile);
        check_report(input, profile, &report)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_always_give_a_report(input in arbitrary_input()) {
        both_profiles(&input)?;
    }

    #[test]
    fn mutated_vectors_always_give_a_report(input in mutated_vector()) {
        both_profiles(&input)?;
    }

    #[test]
    fn non_sip_non_xml_input_has_a_finding(input in arbitrary_input()) {
        let trimmed: Vec<u8> = input.iter().copied().skip_while(u8::is_ascii_whitespace).collect();
        let xml_like = trimmed.starts_with(b"<") || trimmed.starts_with(b"\xEF\xBB\xBF");
        prop_assume!(!xml_like && sip::SipMessage::parse(input.clone()).is_err());
        for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
            let report = validate(&input, profile);
            prop_assert_eq!(&report.kind, &InputKind::Unreadable);
            check_report(&input, profile, &report)?;
        }
    }
}

#[test]
fn every_vector_truncated_at_every_length_gives_a_report() {
    for v in VECTORS {
        for cut in 0..=v.len() {
            for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
                let report = validate(&v[..cut], profile);
                assert_eq!(report.profile, profile);
                if report.kind == InputKind::Unreadable {
                    assert!(!report.findings.is_empty(), "cut at {cut}");
                }
            }
        }
    }
}
