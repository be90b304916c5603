//! `recproof load` against a recorder on loopback real sockets: recording sessions placed
//! at a rate, several at once, each judged by the recorder checks.
//!
//! - `--recorder`: the embedded SRS emulator. Clean, every session passes; with a
//!   recorder fault every session fails on that fault's check.
//! - `--sut RECORDER.yaml`: `recproof srs --strict` in its own process, its WAV files
//!   read back per session: clean, every session's parties are in their own files under
//!   their own labels (SRS-12 passes on each); with the recorder filing each stream
//!   under the other's label, SRS-12 fails on every session.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .expect("calls.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn recproof(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(args)
        .output()
        .expect("run recproof")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The verdict of check `id` on a session line, and whether the session claims it.
fn check<'a>(line: &'a serde_json::Value, id: &str) -> (&'a str, bool) {
    let c = line["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} on {line}"));
    (
        c["verdict"].as_str().unwrap_or_default(),
        c["asserted"].as_bool().unwrap_or_default(),
    )
}

/// `recproof load --recorder` on its own ports, with `extra` flags.
fn embedded(dir: &Path, extra: &[&str]) -> Output {
    let src = common::free_port_range(8);
    let srs = common::free_udp_port();
    let rtp = common::free_port_range(24);
    let srs_rtp = common::free_port_range(24);
    let mut args = strings(&[
        "load",
        "--recorder",
        "-r",
        "4",
        "-m",
        "4",
        "-l",
        "4",
        "--hold",
        "3",
        "--threads",
        "1",
        "--interval",
        "0.5",
    ]);
    args.extend([
        "--src-sip".to_owned(),
        format!("127.0.0.1:{src}"),
        "--recorder-sip".to_owned(),
        format!("127.0.0.1:{srs}"),
        "--rtp-ports".to_owned(),
        format!("{rtp}-{}", rtp + 24),
        "--srs-rtp-ports".to_owned(),
        format!("{srs_rtp}-{}", srs_rtp + 24),
        "--out".to_owned(),
        dir.display().to_string(),
    ]);
    args.extend(strings(extra));
    recproof(&args)
}

#[test]
fn sessions_at_the_embedded_recorder_pass_clean_and_fail_on_a_recorder_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = embedded(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let sessions = lines(dir.path());
    assert_eq!(sessions.len(), 4, "{stderr}");
    for s in &sessions {
        assert!(s["failure"].is_null(), "{s}");
        for id in [
            "precondition.recorder_took_session",
            "srs.contact",
            "srs.answer",
            "srs.no_rtp",
            "srs.answer_time",
        ] {
            assert_eq!(check(s, id), ("pass", true), "{id} on {s}");
        }
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).expect("read"))
            .expect("json");
    assert_eq!(results["target"]["mode"], "recorder", "{results}");

    let dir = tempfile::tempdir().expect("tempdir");
    let out = embedded(dir.path(), &["--fault", "srs-relabel"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed session fails the run: {stderr}"
    );
    for s in &lines(dir.path()) {
        assert_eq!(s["failure"]["class"], "verdict", "{s}");
        assert_eq!(
            s["failure"]["checks"],
            serde_json::json!(["srs.answer"]),
            "{s}"
        );
        assert_eq!(check(s, "srs.answer").0, "fail", "{s}");
    }
}

/// Runs sessions at `recproof srs --strict [--fault F]` as an external recorder whose
/// WAV files the profile points at; returns the session lines and stderr.
fn external(fault: Option<&str>) -> (Vec<serde_json::Value>, Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sip = common::free_udp_port();
    let src = common::free_port_range(8);
    let rtp = common::free_port_range(16);
    let src_rtp = common::free_port_range(24);
    let files = dir.path().join("recordings");
    std::fs::create_dir_all(&files).expect("mkdir");
    let recorder = common::start_strict_srs(sip, rtp, 8, &files, fault);
    let profile = dir.path().join("recorder.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: recproof srs\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{sip}\n  dialects: [rfc-strict, broadworks-compat]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\nrecordings:\n  dir: recordings\n  wait_s: 5\n"
        ),
    )
    .expect("write profile");
    let out_dir = dir.path().join("run");
    let out = recproof(&strings(&[
        "load",
        "--sut",
        profile.to_str().expect("utf-8"),
        "-r",
        "2",
        "-m",
        "4",
        "-l",
        "2",
        "--hold",
        "3",
        "--threads",
        "1",
        "--interval",
        "0.5",
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]));
    drop(recorder);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let sessions = lines(&out_dir);
    (sessions, out.status.code(), stderr)
}

#[test]
fn an_external_recorders_own_files_are_judged_per_session_at_load() {
    let (sessions, code, stderr) = external(None);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sessions.len(), 4, "{stderr}");
    for s in &sessions {
        assert!(s["failure"].is_null(), "{s}");
        assert_eq!(check(s, "srs.streams_apart"), ("pass", true), "{s}");
        assert_eq!(s["recording_ok"], true, "{s}");
    }
    let (sessions, code, stderr) = external(Some("srs-swapped-attribution"));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(sessions.len(), 4, "{stderr}");
    for s in &sessions {
        assert_eq!(check(s, "srs.streams_apart"), ("fail", true), "{s}");
        assert_eq!(
            s["failure"]["checks"],
            serde_json::json!(["srs.streams_apart"]),
            "{s}"
        );
    }
}
