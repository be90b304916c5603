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
    let sipp = common::KillOnDrop(
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
    let run = common::check_recorder(
        dir.path(),
        &format!(
            "name: SIPp literal recorder\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{recorder}\n  dialects: [rfc-strict]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\n"
        ),
        "@smoke",
    );
    drop(sipp);
    let (code, stdout, stderr, results) = (run.code, run.stdout, run.stderr, run.results);
    assert_eq!(
        code, 1,
        "a recorder failing SRS-02/03 fails the run:\n{stdout}\n{stderr}"
    );
    assert_eq!(results["sut"], "SIPp literal recorder");
    assert_eq!(results["clock"], "real");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    let ran = common::ran(&results);
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
    let verdict = |check: &str| common::verdict_of(ran[0], check);
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
