//! `recproof judge CAPTURE`: a run's evidence captures, judged from the packets alone
//! (with the run's expectations), give the same verdicts as the run's observation log,
//! check by check; so does the same capture rewritten as pcapng by tshark. A capture of
//! a call nobody answered, or of a SUT that answers and never records, fails as the log
//! would; and what the importer cannot read is said, not guessed.

mod common;

use common::{assert_captures_judge_as_the_log, recproof};
use std::path::{Path, PathBuf};

/// The scenarios run: the smoke set (answer, announcement, pause and resume with codes,
/// providers, streams, latency) and the stop, notice and failure scenarios.
const TAGS: &str = "@smoke or @POL-04 or @POL-07 or @POL-13";

fn tshark_pcapng(pcap: &Path) -> PathBuf {
    let out = pcap.with_extension("pcapng");
    let status = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(pcap)
        .args(["-F", "pcapng", "-w"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run tshark");
    assert!(
        status.success(),
        "tshark could not rewrite {}",
        pcap.display()
    );
    out
}

#[test]
fn evidence_captures_judge_as_the_log_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let run_s = run.to_str().expect("utf8");
    let (code, out, err) = recproof(&["check", "--tags", TAGS, "--out", run_s]);
    assert_eq!(code, 0, "{out}\n{err}");
    let tshark = testkit::tool("tshark", "-v");
    let convert: &dyn Fn(&Path) -> PathBuf = &tshark_pcapng;
    let (calls, verdicts) = assert_captures_judge_as_the_log(&run, None, tshark.then_some(convert));
    eprintln!("{calls} call(s), {verdicts} verdict(s) agree (pcap and tshark's pcapng)");
    assert!(calls >= 12, "{calls} calls");
}

/// Faults of the reference platform, each breaking one thing (two of them everything:
/// a SUT that never records, one that never answers), and the scenarios that show it.
const FAULTS: &[(&str, &str, &str)] = &[
    (
        "announcement-leaks-into-recording",
        "@POL-04",
        "announcement.not_recorded",
    ),
    ("fork-while-paused", "@SRC-17", "paused.silent"),
    (
        "no-recording-session",
        "@POL-04 and @smoke",
        "precondition.recording_session",
    ),
    (
        "never-answers",
        "@POL-04 and @smoke",
        "precondition.answered",
    ),
];

#[test]
fn captures_of_a_failing_sut_fail_as_their_logs_do() {
    for (fault, tags, check) in FAULTS {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = dir.path().join("run");
        let run_s = run.to_str().expect("utf8");
        let (code, out, err) =
            recproof(&["check", "--tags", tags, "--fault", fault, "--out", run_s]);
        assert_eq!(code, 1, "{fault}: the run fails\n{out}\n{err}");
        assert_captures_judge_as_the_log(&run, None, None);
        let pcap = std::fs::read_dir(run.join("calls"))
            .expect("calls")
            .filter_map(Result::ok)
            .map(|e| e.path().join("call.pcap"))
            .find(|p| p.exists())
            .expect("a capture");
        let (code, out, err) = recproof(&[
            "judge",
            pcap.to_str().expect("utf8"),
            "--expectations",
            run_s,
        ]);
        assert_eq!(code, 1, "{fault}: a FAIL verdict exits 1\n{out}\n{err}");
        assert!(
            out.lines().any(|l| l.contains("FAIL") && l.contains(check)),
            "{fault}: {check} fails\n{out}"
        );
    }
}

#[test]
fn a_capture_needs_the_sut_and_says_what_it_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let run_s = run.to_str().expect("utf8");
    let (code, _, err) = recproof(&["check", "--tags", "@POL-04 and @smoke", "--out", run_s]);
    assert_eq!(code, 0, "{err}");
    let pcap = run.join("calls/call-0001/call.pcap");
    let pcap_s = pcap.to_str().expect("utf8");
    // Without a profile or a run, the SUT cannot be told apart.
    let (code, _, err) = recproof(&["judge", pcap_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sut PROFILE.yaml"), "{err}");
    // With the run: the log it built is saved and renders as a report.
    let saved = dir.path().join("imported");
    std::fs::create_dir_all(&saved).expect("dir");
    let log = saved.join("observations.jsonl");
    let (code, _, err) = recproof(&[
        "judge",
        pcap_s,
        "--expectations",
        run_s,
        "--save-log",
        log.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("call-0001: caller leg"), "{err}");
    assert!(err.contains("audio instrumented"), "{err}");
    let text = std::fs::read_to_string(&log).expect("saved log");
    assert!(text.contains("\"event\":\"capture_imported\""));
    let (code, out, err) = recproof(&["report", saved.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(saved.join("index.html").exists());
    // A file that is neither a capture nor a log.
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, [0xD4, 0xC3, 0xB2, 0xA1, 1, 2]).expect("junk");
    let (code, _, err) = recproof(&[
        "judge",
        junk.to_str().expect("utf8"),
        "--expectations",
        run_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read the capture"), "{err}");
}

/// Legal choices the importer must not trip on: recording sessions from a second SIP
/// port of the SUT, pause without a re-INVITE, hold by `c=0.0.0.0`, other labels.
#[test]
fn captures_of_legal_variants_judge_as_their_logs_do() {
    for variant in [
        "separate-src-port",
        "pause-by-stopping-rtp",
        "pause-by-hold-0000",
        "labels-a-b",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = dir.path().join("run");
        let run_s = run.to_str().expect("utf8");
        let (code, out, err) = recproof(&[
            "check",
            "--variant",
            variant,
            "--tags",
            "@smoke",
            "--out",
            run_s,
        ]);
        assert_eq!(code, 0, "{variant}: the run passes\n{out}\n{err}");
        let (calls, _) = assert_captures_judge_as_the_log(&run, None, None);
        assert!(calls >= 8, "{variant}: {calls} calls");
    }
}
