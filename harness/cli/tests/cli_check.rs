//! `recproof check` end to end: exit codes 0/1/2, the run directory (results.json,
//! junit.xml, observations.jsonl) and the per-call evidence: a pcap that tshark decodes
//! as SIP and RTP and WAVs that sox reads (when those tools are installed).

mod common;

use common::{features, recproof};

use std::path::Path;
use std::process::Command;

fn tool(name: &str) -> bool {
    testkit::tool(name, "--version")
}

#[test]
fn a_passing_run_writes_results_junit_log_and_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let (code, stdout, stderr) = recproof(&[
        "check",
        &features("recording_modes.feature"),
        "--tags",
        "@smoke",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results"))
            .expect("json");
    assert_eq!(results["schema"], 2);
    assert_eq!(results["clock"], "simulated");
    assert_eq!(results["passed"], 1);
    let verdicts = results["scenarios"][0]["verdicts"]
        .as_array()
        .expect("verdicts");
    assert!(
        verdicts
            .iter()
            .any(|v| v["requirement"] == "POL-01" && v["status"] == "pass")
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("<testsuites") && junit.contains("testcase"),
        "{junit}"
    );
    let log = std::fs::read_to_string(out.join("observations.jsonl")).expect("log");
    for kind in [
        "\"sip_received\"",
        "\"metadata\"",
        "\"party_frames\"",
        "\"clip_match\"",
    ] {
        assert!(log.contains(kind), "the log has {kind} observations");
    }

    let call = out.join("calls").join("call-0001");
    let pcap = call.join("call.pcap");
    assert!(pcap.exists(), "evidence pcap");
    for wav in [
        "caller.heard.wav",
        "callee.heard.wav",
        "srs.1.wav",
        "srs.2.wav",
    ] {
        assert!(call.join(wav).exists(), "{wav}");
    }
    if tool("tshark") {
        let sip = tshark(
            &pcap,
            &[
                "-Y",
                "sip.Method == \"INVITE\"",
                "-T",
                "fields",
                "-e",
                "sip.Method",
            ],
        );
        assert!(
            sip.lines().count() >= 2,
            "tshark sees the call and RS INVITEs: {sip}"
        );
        let rtp = tshark(
            &pcap,
            &["-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams"],
        );
        let streams = rtp.lines().filter(|l| l.contains("g711U")).count();
        assert!(
            streams >= 6,
            "two legs each way and two recorded streams: {rtp}"
        );
    }
    if tool("soxi") {
        let out = Command::new("soxi")
            .arg("-D")
            .arg(call.join("srs.1.wav"))
            .output()
            .expect("soxi");
        let secs: f64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("seconds");
        assert!((25.0..=35.0).contains(&secs), "about 30 s recorded: {secs}");
    }
}

fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_fault_fails_its_scenarios_and_bad_usage_exits_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, _) = recproof(&[
        "check",
        &features("announcements.feature"),
        "--tags",
        "@POL-04 and @smoke",
        "--fault",
        "announcement-leaks-into-recording",
        "--out",
        dir.path().join("fault").to_str().expect("utf8"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("POL-04"), "{stdout}");

    let (code, _, stderr) = recproof(&["check", "--fault", "no-such-fault"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--list-faults"), "{stderr}");
    let (code, _, stderr) = recproof(&["check", "/no/such/features"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = recproof(&[
        "check",
        "--tags",
        "@(",
        "--out",
        dir.path().join("x").to_str().expect("utf8"),
    ]);
    assert_eq!(code, 2);
}

#[test]
fn ctrl_c_stops_new_calls_and_keeps_what_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(["check", &features(""), "--out", out.to_str().expect("utf8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start recproof check");
    // Interrupt once the first call is in the log (each call is appended when judged).
    let log = out.join("observations.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("\"expectation\"")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no call finished within 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(1),
        "an interrupted run does not pass: {stderr}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results"))
            .expect("json");
    assert_eq!(results["interrupted"], true);
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    let ran = scenarios
        .iter()
        .filter(|s| s["status"] == "passed" || s["status"] == "failed")
        .count();
    let not_run = scenarios
        .iter()
        .filter(|s| {
            s["skip_reason"]
                .as_str()
                .is_some_and(|r| r.contains("interrupted"))
        })
        .count();
    assert!(ran >= 1, "what ran is kept: {results:#}");
    assert!(not_run >= 1, "the rest is skipped, not judged: {results:#}");
    assert_eq!(ran + not_run, scenarios.len());
    assert!(out.join("index.html").is_file(), "the report is written");
}
