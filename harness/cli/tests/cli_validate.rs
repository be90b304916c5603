//! `recproof validate` end to end: exit codes 0/1/2, text and JSON output.

mod common;

use common::recproof;

fn vector(name: &str) -> String {
    format!(
        "{}/../siprec/tests/data/validate/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn exit_zero_when_nothing_fails() {
    let (code, out, _) = recproof(&[
        "validate",
        &vector("rfc_initial_invite.sip"),
        &vector("srs_200_ok.sip"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: PASS"), "{out}");
}

#[test]
fn exit_one_on_any_fail_and_profile_changes_the_verdict() {
    let webex = vector("webex_initial_invite.sip");
    let (code, out, _) = recproof(&["validate", &webex]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL SRC-02"), "{out}");
    let (code, out, _) = recproof(&["validate", "--profile", "broadworks-compat", &webex]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("WARN SRC-02"), "{out}");
}

#[test]
fn json_output_is_one_document_with_requirement_ids() {
    let (code, out, _) = recproof(&[
        "validate",
        "--format",
        "json",
        &vector("webex_initial_invite.sip"),
    ]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(doc["schema"], "recproof.validate/1");
    assert_eq!(doc["verdict"], "fail");
    let findings = doc["files"][0]["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["requirement"] == "SRC-02" && f["severity"] == "FAIL"),
        "{out}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
}

#[test]
fn exit_two_on_unreadable_file_or_bad_arguments() {
    let (code, _, err) = recproof(&["validate", "/nonexistent/invite.sip"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read `/nonexistent/invite.sip`"),
        "{err}"
    );
    let (code, _, err) = recproof(&["validate", "--profile", "strict", &vector("srs_200_ok.sip")]);
    assert_eq!(code, 2);
    assert!(err.contains("known profiles"), "{err}");
    let (code, _, _) = recproof(&["validate"]);
    assert_eq!(code, 2);
}
