//! An external recorder on real sockets: `recproof srs --strict` (its own process) as the
//! recorder under test, `recproof check --sut recorder.yaml` as the platform, and the
//! recorder's own WAV files (named with the RS Call-ID and the stream label) read back
//! for SRS-12. Clean, each party's audio is in its own file under its own label; with
//! `--fault srs-swapped-attribution` the files carry the other party's audio and SRS-12
//! fails through the scenario that asserts it.

mod common;

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
    let recorder = common::start_strict_srs(sip, rtp, 4, &files, fault);
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
