//! An external recorder on real sockets: `recproof srs --strict` (its own process) as the
//! recorder under test, `recproof check --sut recorder.yaml` as the platform, and the
//! recorder's own WAV files (named with the RS Call-ID and the stream label) read back
//! for SRS-12. Clean, each party's audio is in its own file under its own label; with
//! `--fault srs-swapped-attribution` the files carry the other party's audio and SRS-12
//! fails through the scenario that asserts it.

mod common;

use std::process::{Command, Stdio};

/// Runs the SRS-12 scenario (RFC dialect) against `recproof srs --strict [--fault F]`;
/// returns the exit code and the streams_apart verdict (status, summary).
fn run(fault: Option<&str>) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sip = common::free_udp_port();
    let src = common::free_udp_port();
    let rtp = common::free_port_range(8);
    let src_rtp = common::free_port_range(4);
    let files = dir.path().join("recordings");
    std::fs::create_dir_all(&files).expect("mkdir");
    let mut args = vec![
        "srs".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{sip}"),
        "--rtp-port-base".to_owned(),
        rtp.to_string(),
        "--rtp-port-count".to_owned(),
        "4".to_owned(),
        "--strict".to_owned(),
        "--out".to_owned(),
        files.display().to_string(),
        "--duration".to_owned(),
        "60".to_owned(),
    ];
    if let Some(f) = fault {
        args.extend(["--fault".to_owned(), f.to_owned()]);
    }
    let recorder = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_recproof"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start recproof srs"),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let run = common::check_recorder(
        dir.path(),
        &format!(
            "name: recproof srs\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{sip}\n  dialects: [rfc-strict]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\nrecordings:\n  dir: recordings\n  wait_s: 5\n"
        ),
        "@SRS-12",
    );
    drop(recorder);
    let ran = common::ran(&run.results);
    assert_eq!(
        ran.len(),
        1,
        "the RFC-dialect SRS-12 scenario ran:\n{}",
        run.stdout
    );
    let (status, summary) = common::verdict_of(ran[0], "srs.streams_apart");
    (run.code, status, summary)
}

#[test]
fn the_recorders_own_files_are_judged_for_srs_12() {
    let (code, status, summary) = run(None);
    assert_eq!(status, "pass", "{summary}");
    assert!(
        summary.contains("label 101") && summary.contains("of the caller only"),
        "{summary}"
    );
    assert_eq!(code, 0, "{summary}");

    let (code, status, summary) = run(Some("srs-swapped-attribution"));
    assert_eq!(status, "fail", "{summary}");
    assert!(summary.contains("of the callee"), "{summary}");
    assert_eq!(code, 1);
}
