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

/// A capture taken at the recorder holds a call's recording session and none of its legs:
/// the session's own rules are judged (messages, streams, labels, which recorder), the
/// call itself is not ("not answered" would be false: the legs are just not in it).
#[test]
fn a_capture_taken_at_the_recorder_judges_the_recording_session_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let run_s = run.to_str().expect("utf8");
    let (code, _, err) = recproof(&["check", "--tags", "@POL-04 and @smoke", "--out", run_s]);
    assert_eq!(code, 0, "{err}");
    // Keep what the embedded recorder (10.0.1.1) sent and received.
    let bytes = std::fs::read(run.join("calls/call-0001/call.pcap")).expect("capture");
    let cap = media::pcap::read_datagrams(&bytes).expect("readable");
    let srs: std::net::IpAddr = "10.0.1.1".parse().expect("ip");
    let mut w = media::pcap::PcapWriter::new(Vec::new()).expect("writer");
    let mut kept = 0;
    for d in cap
        .datagrams
        .iter()
        .filter(|d| d.src.ip() == srs || d.dst.ip() == srs)
    {
        w.write_udp(d.ts, d.src, d.dst, &d.payload).expect("write");
        kept += 1;
    }
    assert!(kept > 100, "{kept} datagrams at the recorder");
    let at_recorder = dir.path().join("at-recorder.pcap");
    std::fs::write(&at_recorder, w.into_inner()).expect("write capture");
    let profile = dir.path().join("profile.yaml");
    std::fs::write(
        &profile,
        common::capture_profile("10.0.0.1:5060", "10.0.1.1:5060", "+4722000001"),
    )
    .expect("profile");
    let (code, out, err) = recproof(&[
        "judge",
        at_recorder.to_str().expect("utf8"),
        "--sut",
        profile.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("no call leg"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let calls = doc["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{out}");
    assert_eq!(calls[0]["expectation_from"], "profile user 2001");
    let verdicts = calls[0]["verdicts"].as_array().expect("verdicts");
    let status = |check: &str| -> Vec<&str> {
        verdicts
            .iter()
            .filter(|v| v["check"] == check)
            .filter_map(|v| v["status"].as_str())
            .collect()
    };
    for check in ["streams.count", "streams.labels", "provider.srs"] {
        assert_eq!(status(check), ["pass"], "{check}: {out}");
    }
    assert!(
        status("message.validate")
            .iter()
            .all(|s| *s == "pass" || *s == "warn")
            && !status("message.validate").is_empty()
    );
    for v in verdicts.iter().filter(|v| {
        ![
            "message.validate",
            "streams.count",
            "streams.labels",
            "provider.srs",
        ]
        .contains(&v["check"].as_str().unwrap_or_default())
    }) {
        assert_eq!(v["status"], "not_applicable", "{v}");
    }
    let answered = verdicts
        .iter()
        .find(|v| v["check"] == "precondition.answered")
        .expect("answered");
    assert!(
        answered["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("holds only this call's recording session"),
        "{answered}"
    );
    // With the run instead of a profile: the session is the run's call by its Call-ID,
    // judged against the run's expectation, on the same rules.
    let (code, out, err) = recproof(&[
        "judge",
        at_recorder.to_str().expect("utf8"),
        "--expectations",
        run_s,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["calls"][0]["call"], "call-0001", "{out}");
    assert_eq!(doc["calls"][0]["expectation_from"], "log");
    let again = doc["calls"][0]["verdicts"].as_array().expect("verdicts");
    for check in ["streams.count", "streams.labels", "provider.srs"] {
        assert!(
            again
                .iter()
                .any(|v| v["check"] == check && v["status"] == "pass"),
            "{check}: {out}"
        );
    }
}
