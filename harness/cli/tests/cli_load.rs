//! `recproof load --direct` on loopback: a clean run exits 0 with every call judged and
//! passed; a threshold that cannot be met exits 1 and says so in junit.xml; a port range
//! too small for the concurrency is refused before any call (exit 2).

use std::process::Command;

fn load(dir: &std::path::Path, sip_base: u16, rtp: &str, extra: &[&str]) -> std::process::Output {
    let caller = format!("127.0.0.1:{sip_base}");
    let callee = format!("127.0.0.1:{}", sip_base + 2);
    let out = dir.to_str().expect("utf-8 path");
    let mut args = vec![
        "load",
        "--direct",
        "--caller-sip",
        &caller,
        "--callee-sip",
        &callee,
        "--rtp-ports",
        rtp,
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

#[test]
fn a_clean_direct_run_judges_every_call_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(
        dir.path(),
        25_160,
        "41000-41400",
        &["-r", "20", "-m", "10", "--hold", "1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let calls = std::fs::read_to_string(dir.path().join("calls.jsonl")).expect("calls.jsonl");
    let lines: Vec<serde_json::Value> = calls
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 10);
    for call in &lines {
        assert!(call["failure"].is_null(), "{call}");
        assert_eq!(call["legs"].as_array().map(Vec::len), Some(2), "{call}");
        assert!(
            call["legs"][0]["frames"].as_u64().is_some_and(|f| f >= 48),
            "{call}"
        );
        assert_eq!(call["checks"].as_array().map(Vec::len), Some(8), "{call}");
    }
    let results: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(results["passed"], 10);
    assert!(
        results["mouth_to_ear"]["count"]
            .as_u64()
            .is_some_and(|n| n >= 900)
    );
    let csv = std::fs::read_to_string(dir.path().join("stats.csv")).expect("stats.csv");
    assert!(csv.lines().count() >= 3, "{csv}");
}

#[test]
fn an_unmet_threshold_fails_the_run_with_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(
        dir.path(),
        25_170,
        "41400-41800",
        &[
            "-r",
            "50",
            "-m",
            "20",
            "--no-media",
            "--hold",
            "0",
            "--max-setup-p99-ms",
            "0.001",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(junit.contains("setup time p99"), "{junit}");
}

#[test]
fn a_port_range_too_small_for_the_concurrency_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = load(dir.path(), 25_180, "41800-41810", &["-l", "50", "-m", "5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--rtp-ports") && stderr.contains("need 100"),
        "{stderr}"
    );
}
