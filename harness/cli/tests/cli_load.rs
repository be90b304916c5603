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
    assert_eq!(results["schema"], 1);
    assert_eq!(results["totals"]["passed"], 10);
    let m2e: u64 = results["totals"]["mouth_to_ear_us"]
        .as_array()
        .expect("histogram buckets")
        .iter()
        .map(|b| b[1].as_u64().expect("count"))
        .sum();
    assert!(m2e >= 900, "{m2e} frames timed");
    assert!(
        results["harness"]["loops"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
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
    assert!(
        junit.contains("could not be judged") || junit.contains("observed"),
        "{junit}"
    );
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

#[test]
fn two_shards_run_on_loopback_and_merge_into_the_sums_of_their_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shard = |i: u32, sip: u16| {
        let out = dir.path().join(format!("shard{i}"));
        let shard = format!("{i}/2");
        let o = load(
            &out,
            sip,
            "42000-43000",
            &[
                "-r",
                "20",
                "-m",
                "9",
                "--hold",
                "1",
                "--shard",
                &shard,
                "--threads",
                "1",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let a = shard(0, 25_190);
    let b = shard(1, 25_200);
    let read = |d: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("results.json")).expect("results"))
            .expect("json")
    };
    let (ra, rb) = (read(&a), read(&b));
    // Call indices interleave: shard 0 takes 0, 2, 4, 6, 8 and shard 1 takes 1, 3, 5, 7.
    assert_eq!(ra["totals"]["started"], 5);
    assert_eq!(rb["totals"]["started"], 4);
    let merged = dir.path().join("merged");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(["load", "merge"])
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&merged)
        .output()
        .expect("merge");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = read(&merged);
    assert_eq!(m["totals"]["started"], 9);
    assert_eq!(m["totals"]["passed"], 9);
    assert_eq!(m["plan"]["shards"], serde_json::json!(["0/2", "1/2"]));
    let count = |v: &serde_json::Value| -> u64 {
        v["totals"]["mouth_to_ear_us"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| b[1].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(
        count(&m),
        count(&ra) + count(&rb),
        "histograms merge losslessly"
    );
    let calls = std::fs::read_to_string(merged.join("calls.jsonl")).expect("calls");
    let mut indices: Vec<u64> = calls
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["index"]
                .as_u64()
                .expect("index")
        })
        .collect();
    indices.sort();
    assert_eq!(indices, (0..9).collect::<Vec<_>>());
    // The same shard twice is refused.
    let twice = std::process::Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(["load", "merge"])
        .arg(&a)
        .arg(&a)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .expect("merge");
    assert_eq!(twice.status.code(), Some(2));
}

/// A flood of garbage at the harness's SIP and RTP ports while calls run: nothing hangs,
/// the run ends by its plan, the garbage is counted (never judged as a call's audio),
/// and the calls are still judged on what they carried.
#[test]
fn garbage_at_the_harness_sockets_is_counted_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let mut sent = 0u64;
            // Bounded: at most 200,000 datagrams or until the run ends.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 200_000 {
                for port in [25_232u16, 25_234, 44_000, 44_002, 44_004] {
                    let junk: &[u8] = if sent.is_multiple_of(3) {
                        b"INVITE sip:x SIP/2.0\r\nVia: broken\r\n\r\n"
                    } else if sent % 3 == 1 {
                        &[0x80, 0x00, 0xff, 0xff, 1, 2, 3]
                    } else {
                        &[0u8; 1200]
                    };
                    let _ = s.send_to(junk, ("127.0.0.1", port));
                    sent += 1;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let out = load(
        dir.path(),
        25_232,
        "44000-44400",
        &["-r", "10", "-m", "8", "--hold", "2", "--threads", "1"],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().expect("flood thread");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(r["totals"]["ended"], 8, "every call ended: {r}");
    assert!(
        r["harness"]["stray_messages"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "the garbage SIP is counted: {r}"
    );
}
