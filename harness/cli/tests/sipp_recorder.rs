//! A recorder nobody here wrote, judged: SIPp (Debian `sip-tester`) playing a "literal
//! recorder" (`scenarios/sipp/literal-recorder.xml`: every INVITE answered 200 with one
//! fixed SDP, two recvonly PCMU streams labelled 1 and 2, no `+sip.srs`), with recproof
//! as the platform (`recproof check --sut recorder.yaml`, real sockets and time). The
//! verdicts must say what that recorder really does: its Contact lacks `+sip.srs`
//! (SRS-02 FAIL), its answer relabels the streams and answers stream 2 with a codec it
//! was not offered (SRS-03 FAIL), it sends no RTP (PASS) and answers at once (SRS-13
//! PASS); the run exits 1. The same over TCP, the harness SRC connecting. Without SIPp the test prints `skipped: ...` and passes (CI sets
//! RECPROOF_REQUIRE_TOOLS=1, which fails it instead).

mod common;

use std::process::{Command, Stdio};

/// Runs the `@smoke` recorder scenarios with the harness SRC against SIPp playing the
/// literal recorder, over UDP or (`tcp`) over TCP only (`-t t1`, and the profile's
/// `transport: tcp`); returns the run and its directory (the observation log is in
/// `run/observations.jsonl`).
fn judge_literal_recorder(tcp: bool) -> (common::RecorderRun, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = common::free_udp_port();
    let src = common::free_udp_port();
    let src_rtp = common::free_port_range(4);
    let sipp_media = common::free_port_range(4);
    let scenario = format!(
        "{}/../../scenarios/sipp/literal-recorder.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let transport: &[&str] = if tcp { &["-t", "t1"] } else { &[] };
    let sipp = common::KillOnDrop(
        Command::new("sipp")
            .args(["-sf", &scenario])
            .args(transport)
            .args([
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
    let transport_line = if tcp { "  transport: tcp\n" } else { "" };
    let run = common::check_recorder(
        dir.path(),
        &format!(
            "name: SIPp literal recorder\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{recorder}\n{transport_line}  dialects: [rfc-strict]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\n"
        ),
        "@smoke",
    );
    drop(sipp);
    (run, dir)
}

#[test]
fn a_sipp_literal_recorder_is_judged_for_what_it_does() {
    if !testkit::tool("sipp", "-v") {
        return;
    }
    let (run, _dir) = judge_literal_recorder(false);
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

/// The same recorder reached over TCP: the harness SRC opens the connection (SIPp
/// `-t t1` takes nothing else), the verdicts are the ones above (what the recorder does is
/// transport-blind), and the log shows the session's SIP over TCP, none over UDP.
#[test]
fn the_harness_src_reaches_a_sipp_recorder_over_tcp() {
    if !testkit::tool("sipp", "-v") {
        return;
    }
    let (run, dir) = judge_literal_recorder(true);
    let ran = common::ran(&run.results);
    assert_eq!(ran.len(), 1, "{}\n{}", run.stdout, run.stderr);
    let verdict = |check: &str| common::verdict_of(ran[0], check);
    for (check, want) in [
        ("precondition.recorder_took_session", "pass"),
        ("srs.contact", "fail"),
        ("srs.answer", "fail"),
        ("srs.no_rtp", "pass"),
        ("srs.answer_time", "pass"),
    ] {
        let (status, summary) = verdict(check);
        assert_eq!(status, want, "{check}: {summary}");
    }
    let log: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.path().join("run").join("observations.jsonl"))
            .expect("observation log")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    let sip = |event: &str, transport: &str, start: &str| -> Vec<String> {
        log.iter()
            .filter(|o| o["event"] == event && o["transport"] == transport)
            .filter_map(|o| o["message"]["text"].as_str())
            .filter(|m| m.starts_with(start))
            .map(str::to_owned)
            .collect()
    };
    let invites = sip("sip_sent", "tcp", "INVITE ");
    assert!(!invites.is_empty(), "the RS INVITE went over TCP");
    assert!(
        invites[0].contains(";transport=tcp"),
        "its Contact asks for TCP"
    );
    assert!(!sip("sip_received", "tcp", "SIP/2.0 200").is_empty());
    assert!(
        sip("sip_sent", "udp", "").is_empty(),
        "no SIP went over UDP"
    );
}
