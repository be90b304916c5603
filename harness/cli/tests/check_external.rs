//! The external path proven: `recproof platform` runs as its own process on free
//! loopback ports with a policy generated here; a SUT profile pointing at it is written
//! to a temp dir; `recproof check --sut profile.yaml --tags @external` runs the tagged
//! scenarios against it in real time. Clean platform: exit 0, every tagged scenario
//! passed, clock `real`. Platform with the `announcement-leaks-into-recording` fault:
//! the announcement scenario fails (exit 1). A SUT that does nothing right (nothing
//! listening, a platform that answers and never records, one that never answers) fails
//! every tagged scenario; a platform making other legal choices (OpenSIPS's stream labels)
//! passes them. The tests run in parallel on their own ports.

mod common;

use common::{Platform, free_port_range, free_udp_port};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

struct Ports {
    /// The metadata dialect the platform is configured with (and the profile states).
    dialect: &'static str,
    /// `udp` or `tcp`: the SUT profile's transport and the platform's towards the
    /// harness recorder.
    transport: &'static str,
    platform: u16,
    platform_rtp: u16,
    caller: u16,
    caller_rtp: u16,
    callee: u16,
    callee_rtp: u16,
    srs: u16,
    srs_rtp: u16,
}

impl Ports {
    fn pick() -> Self {
        Self {
            dialect: "broadworks-compat",
            transport: "udp",
            platform: free_udp_port(),
            // The platform binds 64 even ports: base, base + 2, ... base + 126.
            platform_rtp: free_port_range(128),
            caller: free_udp_port(),
            caller_rtp: free_port_range(4),
            callee: free_udp_port(),
            callee_rtp: free_port_range(4),
            srs: free_udp_port(),
            srs_rtp: free_port_range(32),
        }
    }
}

/// The SUT's configuration: Dubber's recorder is the harness recorder; the callee
/// (2001) is recorded Always with the announcement on, no reminder, no notification.
fn policy(p: &Ports) -> String {
    format!(
        r#"organization:
  name: External Loopback
  region: US
  callRecording:
    vendor: Dubber
providers:
  Dubber:
    srs: "sip:dubber@127.0.0.1:{srs}"
    transport: {transport}
dialect: {dialect}
locations:
  - id: hq
people:
  - extension: "2001"
    displayName: Callee Recorded
    location: hq
    callRecording:
      enabled: true
      record: Always
      recordVoicemailEnabled: false
      startStopAnnouncementEnabled: true
      startStopAnnouncement:
        internalCallsEnabled: true
        pstnCallsEnabled: true
      notification:
        enabled: false
      repeat:
        enabled: false
      serviceProvider: RECPROOFSP
      externalGroup: RECPROOFGRP
      externalIdentifier: callee@recproof.invalid
"#,
        srs = p.srs,
        dialect = p.dialect,
        transport = p.transport,
    )
}

fn profile(p: &Ports, name: &str) -> String {
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../platform/assets");
    format!(
        r#"name: {name}
sut:
  sip: 127.0.0.1:{platform}
  transport: {transport}
harness:
  answer_wait_s: 3
  caller: {{ sip: "127.0.0.1:{caller}", rtp: "127.0.0.1:{caller_rtp}" }}
  callee: {{ sip: "127.0.0.1:{callee}", rtp: "127.0.0.1:{callee_rtp}" }}
  recorders:
    Dubber: {{ sip: "127.0.0.1:{srs}", rtp_port_base: {srs_rtp} }}
audio:
  clips:
    announcement-start: {assets}/announcement-start.wav
    announcement-stop: {assets}/announcement-stop.wav
    announcement-pause: {assets}/announcement-pause.wav
    announcement-resume: {assets}/announcement-resume.wav
    voicemail-greeting: {assets}/voicemail-greeting.wav
  reminder_tone_hz: 1400
  beep_hz: 1000
  announcement_metadata: true
dialect: {dialect}
tolerances:
  reminder_interval_ms: 1000
caller: "+4722000001"
users:
  - extension: "2001"
    provider: Dubber
    mode: Always
    start_stop_announcement: true
    reminder: "off"
    record_voicemail: false
"#,
        platform = p.platform,
        caller = p.caller,
        caller_rtp = p.caller_rtp,
        callee = p.callee,
        callee_rtp = p.callee_rtp,
        srs = p.srs,
        srs_rtp = p.srs_rtp,
        dialect = p.dialect,
        transport = p.transport,
    )
}

/// Starts `recproof platform` with `extra` arguments (a `--fault` or a `--variant`).
fn start_platform(dir: &Path, p: &Ports, extra: &[&str]) -> Platform {
    let policy_path = dir.join("policy.yaml");
    std::fs::write(&policy_path, policy(p)).expect("write policy");
    let mut args = vec![
        "platform".to_owned(),
        "--config".into(),
        policy_path.to_str().expect("utf8").into(),
        "--listen".into(),
        format!("127.0.0.1:{}", p.platform),
        "--rtp-port-base".into(),
        p.platform_rtp.to_string(),
        "--rtp-port-count".into(),
        "64".into(),
        "--directory".into(),
        format!("2001=127.0.0.1:{}", p.callee),
        "--duration".into(),
        "120".into(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    Platform::start(&args, p.platform)
}

fn check(dir: &Path, p: &Ports, name: &str, tags: &str) -> (i32, serde_json::Value, String) {
    let profile_path = dir.join("profile.yaml");
    std::fs::write(&profile_path, profile(p, name)).expect("write profile");
    let out = dir.join("run");
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/../../features");
    let output = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args([
            "check",
            features,
            "--sut",
            profile_path.to_str().expect("utf8"),
            "--tags",
            tags,
            "--out",
            out.to_str().expect("utf8"),
        ])
        .output()
        .expect("run recproof check");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let results = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap_or(-1), results, text)
}

#[test]
fn tagged_scenarios_pass_in_real_time_against_the_platform_as_a_separate_process() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let _platform = start_platform(dir.path(), &ports, &[]);
    let (code, results, text) = check(dir.path(), &ports, "loopback-platform", "@external");
    eprintln!("{text}");
    assert_eq!(code, 0, "recproof check --sut failed:\n{text}");
    assert_eq!(results["clock"], "real", "{results}");
    assert_eq!(results["sut"], "loopback-platform");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 3, "{results:#}");
    for s in scenarios {
        assert_eq!(s["status"], "passed", "{s:#}");
        assert!(
            !s["verdicts"].as_array().expect("verdicts").is_empty(),
            "{s:#}"
        );
    }
    eprintln!(
        "external run: {:.1} s wall",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_scenarios_pass_with_every_sip_hop_over_tcp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports {
        transport: "tcp",
        ..Ports::pick()
    };
    let _platform = start_platform(dir.path(), &ports, &[]);
    let (code, results, text) = check(dir.path(), &ports, "tcp-platform", "@external and @POL-04");
    assert_eq!(code, 0, "recproof check --sut over TCP failed:\n{text}");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{results:#}");
    assert_eq!(scenarios[0]["status"], "passed", "{results:#}");
    // The caller's INVITE went to the platform over TCP, and the recording session
    // reached the harness recorder over TCP.
    let log = std::fs::read_to_string(dir.path().join("run").join("observations.jsonl"))
        .expect("observation log");
    let over_tcp = |actor: &str, event: &str, start: &str| {
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|o| o["actor"] == actor && o["event"] == event && o["transport"] == "tcp")
            .filter_map(|o| o["message"]["text"].as_str().map(str::to_owned))
            .any(|m| m.starts_with(start))
    };
    assert!(
        over_tcp("caller", "sip_sent", "INVITE "),
        "caller INVITE over TCP"
    );
    assert!(
        over_tcp("caller", "sip_received", "SIP/2.0 200"),
        "answered over TCP"
    );
    assert!(
        over_tcp("srs", "sip_received", "INVITE "),
        "RS INVITE over TCP"
    );
    // The run's evidence capture (SIP as TCP segments) judged from the packets alone
    // gives the log's verdicts.
    let (calls, verdicts) = common::assert_captures_judge_as_the_log(
        &dir.path().join("run"),
        Some(&dir.path().join("profile.yaml")),
        None,
    );
    assert_eq!(calls, 1);
    eprintln!("TCP capture: {verdicts} verdicts agree with the log");
}

#[test]
fn the_announcement_leak_fault_fails_the_announcement_scenario_in_real_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let _platform = start_platform(
        dir.path(),
        &ports,
        &["--fault", "announcement-leaks-into-recording"],
    );
    let (code, results, text) = check(
        dir.path(),
        &ports,
        "leaky-platform",
        "@external and @POL-04",
    );
    assert_eq!(code, 1, "the leak was not caught:\n{text}");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{results:#}");
    assert_eq!(scenarios[0]["status"], "failed", "{results:#}");
    assert!(
        scenarios[0]["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .any(|v| v["requirement"] == "POL-04" && v["status"] == "fail"),
        "{results:#}"
    );
}

#[test]
fn a_bad_profile_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "name: x\nsut: { sip: nowhere }\nharness:\n  caller: { sip: \"127.0.0.1:1\", rtp: \"127.0.0.1:2\" }\n  callee: { sip: \"127.0.0.1:3\", rtp: \"127.0.0.1:4\" }\n  recorders: {}\ntolerances: { reminder_first_ms: -5 }\ncaller: \"+1\"\nusers:\n  - { extension: \"2001\", provider: Dubber, mode: Sometimes, start_stop_announcement: true }\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(["check", "--sut", path.to_str().expect("utf8")])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yaml"), "{err}");
    assert!(err.contains("sut.sip"), "{err}");
    assert!(err.contains("Sometimes"), "{err}");
    assert!(err.contains("harness.recorders"), "{err}");
    assert!(err.contains("tolerances.reminder_first_ms"), "{err}");
}

#[test]
fn an_rfc_strict_sut_runs_the_scenarios_that_do_not_state_a_dialect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports {
        dialect: "rfc-strict",
        ..Ports::pick()
    };
    let _platform = start_platform(dir.path(), &ports, &[]);
    let (code, results, text) = check(
        dir.path(),
        &ports,
        "rfc-strict-platform",
        "@external and @POL-11",
    );
    assert_eq!(code, 0, "{text}");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{results:#}");
    assert_eq!(scenarios[0]["status"], "passed", "{results:#}");
}

/// Every tagged scenario of the run failed, the run exited 1, and each failed scenario
/// carries at least one FAIL verdict (not only a missing one).
fn assert_all_failed(code: i32, results: &serde_json::Value, text: &str) {
    assert_eq!(code, 1, "a SUT that does nothing right passed:\n{text}");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 3, "{results:#}");
    for s in scenarios {
        assert_eq!(s["status"], "failed", "{s:#}");
        assert!(
            s["verdicts"]
                .as_array()
                .expect("verdicts")
                .iter()
                .any(|v| v["status"] == "fail"),
            "{s:#}"
        );
    }
}

#[test]
fn nothing_listening_fails_every_external_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let (code, results, text) = check(dir.path(), &ports, "nobody-home", "@external");
    assert_all_failed(code, &results, &text);
}

#[test]
fn a_platform_that_answers_and_never_records_fails_every_external_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let _platform = start_platform(dir.path(), &ports, &["--fault", "no-recording-session"]);
    let (code, results, text) = check(dir.path(), &ports, "never-records", "@external");
    assert_all_failed(code, &results, &text);
}

#[test]
fn a_platform_that_never_answers_fails_every_external_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let _platform = start_platform(dir.path(), &ports, &["--fault", "never-answers"]);
    let (code, results, text) = check(dir.path(), &ports, "never-answers", "@external");
    assert_all_failed(code, &results, &text);
}

#[test]
fn opensips_stream_labels_pass_the_external_scenarios() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = Ports::pick();
    let _platform = start_platform(dir.path(), &ports, &["--variant", "labels-1-0"]);
    let (code, results, text) = check(dir.path(), &ports, "labels-1-0", "@external");
    assert_eq!(code, 0, "labels 1/0 are legal:\n{text}");
    let scenarios = results["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 3, "{results:#}");
    for s in scenarios {
        assert_eq!(s["status"], "passed", "{s:#}");
    }
}
