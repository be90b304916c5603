//! `recproof load` through the embedded reference platform on loopback: every call is the
//! suite's call, recorded by the harness's recorder and judged by the suite's checks.
//! A clean run passes every call; a fault fails the calls through the requirement it
//! breaks (and only that one); a platform that never answers fails every call as a
//! timeout; a recorded call's evidence can be judged again offline.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `recproof load` on its own ports (`base` upwards) with `extra` flags.
fn load(dir: &Path, base: u16, extra: &[&str]) -> Output {
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let (caller, callee, platform, srs) =
        (addr(base), addr(base + 2), addr(base + 4), addr(base + 6));
    // Each test's RTP ports in a block of its own, above every other test's.
    let block = 52_000 + u32::from(base - 26_000) / 100 * 3_000;
    let phones = format!("{block}-{}", block + 400);
    let recorders = format!("{}-{}", block + 500, block + 900);
    let platform_rtp = format!("{}-{}", block + 1_000, block + 1_800);
    let out = dir.to_str().expect("utf-8 path");
    let mut args = vec![
        "load",
        "--caller-sip",
        &caller,
        "--callee-sip",
        &callee,
        "--platform-sip",
        &platform,
        "--recorder-sip",
        &srs,
        "--rtp-ports",
        &phones,
        "--srs-rtp-ports",
        &recorders,
        "--platform-rtp-ports",
        &platform_rtp,
        "--out",
        out,
        "--interval",
        "0.5",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(&args)
        .output()
        .expect("run recproof")
}

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .expect("calls.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn results(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).expect("results.json"))
        .expect("json")
}

#[test]
fn clean_recorded_calls_pass_every_claimed_check_and_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(dir.path(), 26_000, &["-r", "4", "-m", "4", "--hold", "4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let calls = lines(dir.path());
    assert_eq!(calls.len(), 4);
    for call in &calls {
        assert!(call["failure"].is_null(), "{call}");
        assert_eq!(call["recording_ok"], true, "{call}");
        let checks = call["checks"].as_array().expect("checks");
        for id in [
            "precondition.recorder_media",
            "record_mode",
            "announcement.start",
            "announcement.not_recorded",
            "streams.one_party",
            "rs_end",
        ] {
            let c = checks
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("{id} missing: {call}"));
            assert_eq!(c["verdict"], "pass", "{c}");
            assert_eq!(c["asserted"], true, "{c}");
        }
    }
    // Passed calls keep no evidence: their spooled captures were deleted as they ended.
    assert!(!dir.path().join("evidence").exists());
    assert!(!dir.path().join(".spool").exists());
    let r = results(dir.path());
    assert_eq!(r["target"]["mode"], "embedded");
    assert_eq!(r["totals"]["recording_expected"], 4);
    assert_eq!(r["totals"]["recorded_ok"], 4);
    assert!(
        r["harness"]["loops"]
            .as_array()
            .is_some_and(|l| l.len() == 2),
        "{r}"
    );
}

#[test]
fn a_fault_fails_its_requirement_on_every_call_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(
        dir.path(),
        26_100,
        &[
            "-r",
            "4",
            "-m",
            "3",
            "--hold",
            "4",
            "--fault",
            "announcement-leaks-into-recording",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(dir.path());
    assert_eq!(
        r["totals"]["failed_requirements"],
        serde_json::json!({"POL-04": 3}),
        "{r}"
    );
    for call in lines(dir.path()) {
        let failing: Vec<&str> = call["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["fails_call"] == true)
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(failing, ["announcement.not_recorded"], "{call}");
        let files: Vec<&str> = call["evidence"]
            .as_array()
            .expect("evidence files")
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        assert!(
            files.iter().any(|f| f.ends_with("observations.jsonl"))
                && files.iter().any(|f| f.ends_with("call.pcap")),
            "a failed call keeps its observation log and, with --capture, its pcap: {files:?}"
        );
        // ... and its RTP streams as WAV files: two legs both ways and two recorded streams.
        let wavs: Vec<&&str> = files.iter().filter(|f| f.ends_with(".wav")).collect();
        assert!(wavs.len() >= 6, "{files:?}");
        for w in wavs {
            let bytes = std::fs::read(dir.path().join(w)).expect("wav");
            let audio = media::wav::read_wav(&bytes).expect("a readable WAV");
            assert!(
                audio.channels[0].len() > 8000,
                "{w}: at least a second of audio"
            );
        }
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(junit.contains("POL-04"), "{junit}");
    // By default the failed call's packets, spooled while it ran, are kept as its pcap:
    // its phones' and its recorder's SIP and RTP.
    let pcap = dir.path().join("evidence/call-0/call.pcap");
    let bytes = std::fs::read(&pcap).expect("call.pcap");
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());
    assert!(
        !dir.path().join(".spool").exists(),
        "the spool is gone after the run"
    );
    if testkit::tool("tshark", "--version") {
        let t = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args([
                "-d",
                "udp.port==52000-53800,rtp",
                "-Y",
                "sip.Method == \"INVITE\"",
                "-T",
                "fields",
                "-e",
                "sip.r-uri",
            ])
            .output()
            .expect("tshark");
        let invites = String::from_utf8_lossy(&t.stdout);
        assert!(
            invites.lines().any(|l| l.contains("30000"))
                && invites.lines().any(|l| l.contains("dubber")),
            "the call's INVITE and its recording session's: {invites}"
        );
    }
    // The kept evidence judges the same offline.
    let evidence = dir.path().join("evidence/call-0");
    let judged = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .arg("judge")
        .arg(&evidence)
        .output()
        .expect("judge");
    let text = String::from_utf8_lossy(&judged.stdout);
    assert_eq!(judged.status.code(), Some(1), "{text}");
    assert!(text.contains("POL-04"), "{text}");
}

#[test]
fn a_platform_that_never_answers_fails_every_call_as_a_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(
        dir.path(),
        26_200,
        &[
            "-r",
            "10",
            "-m",
            "2",
            "--hold",
            "2",
            "--fault",
            "never-answers",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = results(dir.path());
    assert_eq!(
        r["totals"]["failed_by_class"],
        serde_json::json!({"timeout": 2}),
        "{r}"
    );
    assert_eq!(r["totals"]["passed"], 0);
}
