//! `recproof check --recorder`: the recorder scenarios against the embedded SRS emulator,
//! clean and with a recorder fault, the fault list, and the usage errors.

mod common;

use common::recproof;

fn features() -> String {
    format!("{}/../../features", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_clean_embedded_recorder_passes_and_a_fault_fails_its_requirement() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clean = dir.path().join("clean");
    let (code, stdout, stderr) = recproof(&[
        "check",
        &features(),
        "--recorder",
        "--out",
        clean.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("sut: embedded-srs"), "{stdout}");
    assert!(clean.join("index.html").exists(), "the report is rendered");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(clean.join("results.json")).expect("results.json"),
    )
    .expect("json");
    let n = results["scenarios"].as_array().map_or(0, Vec::len);
    assert!(n >= 10, "every recorder scenario ran: {n}");
    assert!(
        results["scenarios"]
            .as_array()
            .expect("scenarios")
            .iter()
            .all(|s| s["tags"].as_array().is_some_and(|t| t.iter().any(|t| t
                .as_str()
                .is_some_and(|t| t.trim_start_matches('@') == "recorder")))),
        "only @recorder scenarios run"
    );

    let faulty = dir.path().join("fault");
    let (code, stdout, _) = recproof(&[
        "check",
        &features(),
        "--recorder",
        "--fault",
        "srs-no-srs-contact",
        "--out",
        faulty.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("SRS-02"), "{stdout}");

    // The certification page: SRS-02 passed clean, failed with the fault.
    let row = |dir: &std::path::Path| -> String {
        let html = std::fs::read_to_string(dir.join("certification.html"))
            .expect("certification.html is written for a recorder run");
        let at = html.find("<td>SRS-02</td>").expect("an SRS-02 row");
        html[at..at + 400].to_owned()
    };
    assert!(row(&clean).contains("PASSED"), "{}", row(&clean));
    assert!(row(&faulty).contains("FAILED"), "{}", row(&faulty));
    let page = std::fs::read_to_string(faulty.join("certification.html")).expect("page");
    assert!(page.contains("Not certified"), "the verdict line says so");
    assert!(page.contains("SRS-14"), "the IDs not exercised are listed");

    // recproof judge gives the same verdicts from the log alone.
    let (code, stdout, stderr) = recproof(&["judge", faulty.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("srs.contact"), "{stdout}");
}

#[test]
fn recorder_faults_are_listed_and_wrong_uses_are_refused() {
    let (code, stdout, _) = recproof(&["check", "--list-recorder-faults"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("srs-swapped-attribution") && stdout.contains("SRS-12"),
        "{stdout}"
    );

    let (code, _, stderr) = recproof(&["check", &features(), "--recorder", "--fault", "no-such"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--list-recorder-faults"), "{stderr}");

    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: x\nrole: recorder\nrecorder:\n  sip: nowhere\n  dialects: [klingon]\nharness:\n  src:\n    sip: 127.0.0.1:5090\n    rtp_port_base: 31001\n",
    )
    .expect("write");
    let (code, _, stderr) =
        recproof(&["check", &features(), "--sut", bad.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{stderr}");
    for what in ["recorder.sip", "klingon", "rtp_port_base"] {
        assert!(stderr.contains(what), "names {what}: {stderr}");
    }
}
