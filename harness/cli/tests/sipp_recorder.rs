//! A recorder nobody here wrote, judged: SIPp (Debian `sip-tester`) playing a "literal
//! recorder" (`scenarios/sipp/literal-recorder.xml`: every INVITE answered 200 with one
//! fixed SDP, two recvonly PCMU streams labelled 1 and 2, no `+sip.srs`), with recproof
//! as the platform (`recproof check --sut recorder.yaml`, real sockets and time). The
//! verdicts must say what that recorder really does: its Contact lacks `+sip.srs`
//! (SRS-02 FAIL), its answer relabels the streams and answers stream 2 with a codec it
//! was not offered (SRS-03 FAIL), it sends no RTP (PASS) and answers at once (SRS-13
//! PASS); the run exits 1. Without SIPp the test prints `skipped: ...` and passes (CI sets
//! RECPROOF_REQUIRE_TOOLS=1, which fails it instead).

mod common;

use std::process::{Command, Stdio};

/// Ends the SIPp process it holds when dropped (a failed assertion included).
struct Sipp(std::process::Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_sipp_literal_recorder_is_judged_for_what_it_does() {
    if !testkit::tool("sipp", "-v") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = common::free_udp_port();
    let src = common::free_udp_port();
    let src_rtp = common::free_port_range(4);
    let sipp_media = common::free_port_range(4);
    let scenario = format!(
        "{}/../../scenarios/sipp/literal-recorder.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let sipp = Sipp(
        Command::new("sipp")
            .args([
                "-sf",
                &scenario,
                "-i",
                "127.0.0.1",
                "-p",
                &recorder.to_string(),
                "-mp",
                &sipp_media.to_string(),
                "-nostdin",
                "-trace_err",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp"),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let profile = dir.path().join("literal.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: SIPp literal recorder\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{recorder}\n  dialects: [rfc-strict]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\n"
        ),
    )
    .expect("write profile");
    let out = dir.path().join("run");
    let features = format!("{}/../../features", env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, stderr) = common::recproof(&[
        "check",
        &features,
        "--sut",
        profile.to_str().expect("utf-8"),
        "--tags",
        "@smoke",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    drop(sipp);
    assert_eq!(
        code, 1,
        "a recorder failing SRS-02/03 fails the run:\n{stdout}\n{stderr}"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(results["sut"], "SIPp literal recorder");
    assert_eq!(results["clock"], "real");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    let ran: Vec<&serde_json::Value> = scenarios
        .iter()
        .filter(|s| s["status"] != "skipped")
        .collect();
    assert_eq!(
        ran.len(),
        1,
        "the rfc-strict smoke scenario ran, the BroadWorks one was skipped (not claimed):\n{stdout}"
    );
    let skipped = scenarios
        .iter()
        .find(|s| s["status"] == "skipped")
        .expect("the broadworks-compat example is skipped");
    assert!(
        skipped["skip_reason"]
            .as_str()
            .is_some_and(|r| r.contains("broadworks-compat")),
        "{skipped}"
    );
    let verdict = |check: &str| -> (String, String) {
        let v = ran[0]["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .find(|v| v["check"] == check)
            .unwrap_or_else(|| panic!("{check} judged"));
        (
            v["status"].as_str().unwrap_or_default().to_owned(),
            v["summary"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (status, summary) = verdict("precondition.recorder_took_session");
    assert_eq!(status, "pass", "{summary}");
    let (status, summary) = verdict("srs.contact");
    assert_eq!(status, "fail", "{summary}");
    assert!(summary.contains("no +sip.srs"), "{summary}");
    let (status, summary) = verdict("srs.answer");
    assert_eq!(status, "fail", "{summary}");
    assert!(summary.contains("answered with label 1"), "{summary}");
    assert!(summary.contains("did not offer"), "{summary}");
    let (status, summary) = verdict("srs.no_rtp");
    assert_eq!(status, "pass", "SIPp's uas sends no RTP: {summary}");
    let (status, summary) = verdict("srs.answer_time");
    assert_eq!(status, "pass", "{summary}");
}
