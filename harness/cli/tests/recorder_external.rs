//! An external recorder on real sockets: `recproof srs --strict` (its own process) as the
//! recorder under test, `recproof check --sut recorder.yaml` as the platform, and the
//! recorder's own WAV files (named with the RS Call-ID and the stream label) read back
//! for SRS-12. Clean, each party's audio is in its own file under its own label; with
//! `--fault srs-swapped-attribution` the files carry the other party's audio and SRS-12
//! fails through the scenario that asserts it.

mod common;

/// Runs the scenarios tagged `tags` (RFC dialect) against `recproof srs --strict [--fault
/// F]`, over TCP when `tcp`; returns the run and its directory.
fn run_tagged(
    fault: Option<&str>,
    tags: &str,
    tcp: bool,
) -> (common::RecorderRun, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sip = common::free_udp_port();
    let src = common::free_udp_port();
    let rtp = common::free_port_range(8);
    let src_rtp = common::free_port_range(4);
    let files = dir.path().join("recordings");
    std::fs::create_dir_all(&files).expect("mkdir");
    let recorder = common::start_strict_srs(sip, rtp, 4, &files, fault);
    let transport = if tcp { "tcp" } else { "udp" };
    let run = common::check_recorder(
        dir.path(),
        &format!(
            "name: recproof srs\nrole: recorder\nrecorder:\n  sip: 127.0.0.1:{sip}\n  transport: {transport}\n  dialects: [rfc-strict]\nharness:\n  src:\n    sip: 127.0.0.1:{src}\n    rtp_port_base: {src_rtp}\nrecordings:\n  dir: recordings\n  wait_s: 5\n"
        ),
        tags,
    );
    drop(recorder);
    (run, dir)
}

/// Runs the SRS-12 scenario (RFC dialect) against `recproof srs --strict [--fault F]`;
/// returns the exit code and the streams_apart verdict (status, summary).
fn run(fault: Option<&str>) -> (i32, String, String) {
    let (run, _dir) = run_tagged(fault, "@SRS-12", false);
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

/// Over TCP the bad-input scenario's oversized session is 1 MB (no datagram bound): the
/// recorder takes it over the SRC's connection and answers it, and SRS-08 is judged as
/// over UDP.
#[test]
fn a_one_megabyte_session_reaches_the_recorder_over_tcp_and_is_answered() {
    let (run, dir) = run_tagged(None, "@SRS-08", true);
    let ran = common::ran(&run.results);
    assert!(!ran.is_empty(), "{}\n{}", run.stdout, run.stderr);
    for scenario in &ran {
        let (status, summary) = common::verdict_of(scenario, "srs.bad_input");
        assert_eq!(status, "pass", "{summary}");
        assert!(summary.contains("oversized answered"), "{summary}");
    }
    let log =
        std::fs::read_to_string(dir.path().join("run").join("observations.jsonl")).expect("log");
    let big = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|o| o["event"] == "sip_sent" && o["transport"] == "tcp")
        .filter_map(|o| o["message"]["text"].as_str().map(str::len))
        .max()
        .unwrap_or(0);
    assert!(
        big > 1_000_000,
        "the largest INVITE sent over TCP was {big} bytes"
    );
}
