//! Real sockets end to end: SIPp (Debian `sip-tester`) as caller and callee through
//! `recproof platform` started as its own process, with `recproof srs` (another process)
//! receiving the recording session: an RS INVITE with two labelled streams and metadata,
//! the caller's RTP (SIPp plays its shipped G.711 pcap) on stream 1, and a BYE when the
//! call ends; then the same call with SIP over TCP (SIPp `-t t1`, the provider's
//! `transport: tcp`). Without SIPp installed the tests print `skipped: ...` and pass.
//!
//! Each call is also captured (dumpcap, from tshark's packages, filtered to the ports of
//! this test: on lo for the UDP call, on `any`, Linux cooked, for the TCP one) and the capture is judged with
//! `recproof judge CAPTURE.pcapng --sut PROFILE.yaml`: real G.711 speech, not
//! recproof's instrumented audio, so what can be judged from signalling, clips and sound
//! is judged, and what needs to know who spoke says "not judged: needs instrumented
//! audio".

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn sipp_installed() -> bool {
    testkit::tool("sipp", "-v")
}

use common::{free_port_range, free_udp_port};

fn recproof(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start recproof")
}

fn wait(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn policy(srs_port: u16) -> String {
    format!(
        r#"organization:
  name: Loopback Interop
  region: US
  callRecording:
    vendor: Dubber
providers:
  Dubber:
    srs: "sip:dubber@127.0.0.1:{srs_port}"
locations:
  - id: hq
people:
  - extension: "2001"
    displayName: Callee Recorded
    location: hq
    callRecording:
      enabled: true
      record: Always
      startStopAnnouncementEnabled: true
      serviceProvider: SP1
      externalGroup: GRP1
      externalIdentifier: callee@interop.example
"#
    )
}

fn lines_of(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// What one call through the platform left behind.
struct Run {
    /// Holds the files until the test ends.
    _dir: tempfile::TempDir,
    /// `recproof srs --out`: its observation log and WAV files.
    srs_out: std::path::PathBuf,
    /// The platform's observation log.
    platform_log: std::path::PathBuf,
    /// The loopback capture of the call (pcapng), when dumpcap could capture.
    capture: Option<std::path::PathBuf>,
    /// The profile to judge the capture with.
    profile: std::path::PathBuf,
}

/// One call from SIPp's caller through `recproof platform` to SIPp's callee, recorded by
/// `recproof srs`; with `tcp`, the caller speaks TCP only (`-t t1`) and the provider's
/// `transport: tcp` sends the recording session over TCP (the callee leg stays UDP: the
/// platform's directory routes over UDP). Asserts that all three processes completed.
fn call_through_platform(tcp: bool) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let (platform_port, srs_port, uas_port, uac_port) = (
        free_udp_port(),
        free_udp_port(),
        free_udp_port(),
        free_udp_port(),
    );
    // 64 even ports: base, base + 2, ... base + 126.
    let platform_rtp = free_port_range(128);
    let srs_rtp = free_port_range(32);
    let (uas_media, uac_media) = (free_port_range(4), free_port_range(4));
    let policy_path = dir.path().join("policy.yaml");
    let mut policy_text = policy(srs_port);
    if tcp {
        policy_text = policy_text.replace(
            &format!("srs: \"sip:dubber@127.0.0.1:{srs_port}\"\n"),
            &format!("srs: \"sip:dubber@127.0.0.1:{srs_port}\"\n    transport: tcp\n"),
        );
        assert!(policy_text.contains("transport: tcp"));
    }
    std::fs::write(&policy_path, policy_text).expect("write policy");
    let srs_out = dir.path().join("srs");
    let platform_log = dir.path().join("platform.jsonl");
    let capture = dir.path().join("call.pcapng");
    let profile = dir.path().join("profile.yaml");
    std::fs::write(
        &profile,
        common::capture_profile(
            &format!("127.0.0.1:{platform_port}"),
            &format!("127.0.0.1:{srs_port}"),
            "sipp",
        ),
    )
    .expect("profile");
    // Every packet of this test's ports on loopback, for 15 s (the call takes about 10).
    let filter = format!(
        "port {platform_port} or port {srs_port} or port {uas_port} or port {uac_port} or portrange {}-{} or portrange {}-{} or portrange {}-{} or portrange {}-{}",
        platform_rtp,
        platform_rtp + 127,
        srs_rtp,
        srs_rtp + 31,
        uas_media,
        uas_media + 3,
        uac_media,
        uac_media + 3
    );
    let dumpcap = Command::new("dumpcap")
        // Over TCP the capture is taken on `any` (Linux cooked link type), over UDP on lo
        // (Ethernet): both of the link types a Linux capture has.
        .args(["-q", "-i", if tcp { "any" } else { "lo" }])
        .args(["-f", &filter, "-a", "duration:15", "-w"])
        .arg(&capture)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    // (dumpcap comes with tshark, from scripts/setup-debian.sh; whether it could capture
    // is known when it ends.)
    std::thread::sleep(Duration::from_millis(1000));

    let srs = recproof(&[
        "srs",
        "--listen",
        &format!("127.0.0.1:{srs_port}"),
        "--rtp-port-base",
        &srs_rtp.to_string(),
        "--rtp-port-count",
        "16",
        "--out",
        srs_out.to_str().expect("utf8"),
        "--duration",
        "14",
    ]);
    let platform = recproof(&[
        "platform",
        "--config",
        policy_path.to_str().expect("utf8"),
        "--listen",
        &format!("127.0.0.1:{platform_port}"),
        "--rtp-port-base",
        &platform_rtp.to_string(),
        "--rtp-port-count",
        "64",
        "--directory",
        &format!("2001=127.0.0.1:{uas_port}"),
        "--duration",
        "14",
        "--log",
        platform_log.to_str().expect("utf8"),
    ]);
    // SIPp's callee answers one call and waits for the BYE.
    let mut uas = Command::new("sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p"])
        .arg(uas_port.to_string())
        .args([
            "-mp",
            &uas_media.to_string(),
            "-m",
            "1",
            "-timeout",
            "20s",
            "-nostdin",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp uas");
    std::thread::sleep(Duration::from_millis(700));

    // SIPp's caller plays its G.711 A-law pcap (about 8 s), sends a DTMF digit from its
    // RFC 2833 pcaps, and hangs up. Its scenario reads them from ./pcap/.
    let pcap_dir = dir.path().join("pcap");
    std::fs::create_dir_all(&pcap_dir).expect("pcap dir");
    for entry in std::fs::read_dir("/usr/share/sip-tester").expect("SIPp's pcaps (sip-tester)") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "pcap")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, pcap_dir.join(name)).expect("copy pcap");
        }
    }
    let transport: &[&str] = if tcp { &["-t", "t1"] } else { &[] };
    let uac = Command::new("sipp")
        .args(["-sn", "uac_pcap", "-s", "2001", "-i", "127.0.0.1", "-p"])
        .arg(uac_port.to_string())
        .args([
            "-mp",
            &uac_media.to_string(),
            "-m",
            "1",
            "-timeout",
            "20s",
            "-nostdin",
        ])
        .args(transport)
        .arg(format!("127.0.0.1:{platform_port}"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run sipp uac");
    let platform_out = wait(platform, Duration::from_secs(30), "recproof platform");
    let srs_done = wait(srs, Duration::from_secs(30), "recproof srs");
    let uas_done = uas.try_wait().expect("uas status");
    if uas_done.is_none() {
        let _ = uas.kill();
    }
    let _ = uas.wait();
    assert!(
        uas_done.is_some_and(|s| s.success()),
        "SIPp's callee did not complete its call through the platform"
    );
    assert!(
        uac.status.success(),
        "SIPp's caller failed its scenario through the platform: {}\nplatform: {}",
        String::from_utf8_lossy(&uac.stderr),
        String::from_utf8_lossy(&platform_out.stderr)
    );
    assert!(
        srs_done.status.success(),
        "{}",
        String::from_utf8_lossy(&srs_done.stderr)
    );
    // Capturing needs root (or the wireshark group): required under
    // RECPROOF_REQUIRE_TOOLS, as every interop tool is; said and skipped otherwise.
    let failure = match dumpcap {
        Ok(child) => {
            let captured = wait(child, Duration::from_secs(30), "dumpcap");
            (!captured.status.success() || !capture.exists())
                .then(|| String::from_utf8_lossy(&captured.stderr).into_owned())
        }
        Err(e) => Some(format!("cannot start dumpcap: {e}")),
    };
    let capture = match failure {
        None => Some(capture),
        Some(why) => {
            assert!(
                !testkit::tools_required(),
                "dumpcap could not capture: {why}"
            );
            println!("skipped: judging the call's capture (dumpcap could not capture: {why})");
            None
        }
    };
    Run {
        _dir: dir,
        srs_out,
        platform_log,
        capture,
        profile,
    }
}

/// `recproof judge` on the run's loopback capture: the verdicts by check id, after
/// asserting the things every capture of this call must show.
fn judge_capture(run: &Run) -> Vec<serde_json::Value> {
    let Some(capture) = &run.capture else {
        return Vec::new();
    };
    let saved = capture.with_extension("jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .arg("judge")
        .arg(capture)
        .arg("--sut")
        .arg(&run.profile)
        .args(["--format", "json", "--save-log"])
        .arg(&saved)
        .output()
        .expect("run recproof judge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("judge printed no JSON ({e}): {stderr}"));
    let calls = doc["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "one call in the capture: {stderr}");
    assert_eq!(calls[0]["expectation_from"], "profile user 2001");
    assert!(stderr.contains("audio not instrumented"), "{stderr}");
    let verdicts = calls[0]["verdicts"].as_array().expect("verdicts").clone();
    for v in &verdicts {
        eprintln!("{} {} {}", v["status"], v["check"], v["summary"]);
    }
    let status = |check: &str| {
        verdicts
            .iter()
            .find(|v| v["check"] == check)
            .map(|v| v["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no {check} verdict"))
    };
    // Judged from signalling, metadata, clips and sound.
    for check in [
        "precondition.answered",
        "precondition.recording_session",
        "precondition.recorder_media",
        "announcement.not_recorded",
        "announcement.metadata",
        "streams.count",
        "streams.labels",
        "provider.srs",
        "rs_end",
        "latency.answer_to_media",
    ] {
        assert_eq!(status(check), "pass", "{check}");
    }
    // SIPp's callee sends no media, so its caller heard nothing but the platform's
    // announcement: the precondition says so (FAIL), it does not pass on the notice.
    assert_eq!(status("precondition.party_media"), "fail");
    // What needs to know who spoke, or exactly when a frame was sent.
    for check in [
        "record_mode",
        "recording.front_clip",
        "streams.one_party",
        "latency.mouth_to_ear",
        "latency.party_to_recorder",
    ] {
        let v = verdicts
            .iter()
            .find(|v| v["check"] == check)
            .expect("verdict");
        assert_eq!(v["status"], "not_applicable", "{check}");
        assert!(
            v["summary"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Not judged: needs instrumented audio."),
            "{v}"
        );
    }
    // The saved log carries the expectations the profile gave: judged alone, the same.
    let again = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .arg("judge")
        .arg(&saved)
        .args(["--format", "json"])
        .output()
        .expect("run recproof judge");
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(again["calls"][0]["verdicts"], doc["calls"][0]["verdicts"]);
    verdicts
}

#[test]
fn sipp_caller_and_callee_through_the_platform_recorded_by_the_srs() {
    if !sipp_installed() {
        return;
    }
    let run = call_through_platform(false);
    judge_capture(&run);
    let Run {
        srs_out,
        platform_log,
        ..
    } = run;
    let log = lines_of(&srs_out.join("observations.jsonl"));
    let invite = log
        .iter()
        .filter(|o| o["event"] == "sip_received")
        .filter_map(|o| o["message"]["text"].as_str())
        .find(|m| m.starts_with("INVITE "))
        .expect("the SRS received an RS INVITE");
    assert!(
        invite.contains("a=label:1") && invite.contains("a=label:2"),
        "{invite}"
    );
    assert_eq!(invite.matches("m=audio").count(), 2, "{invite}");
    assert!(
        log.iter().any(|o| o["event"] == "metadata"),
        "the SRS received the metadata"
    );
    assert!(
        log.iter()
            .any(|o| o["event"] == "rtp_stream" && o["stream"] == "srs.1"),
        "the caller's RTP reached the recorder on stream 1"
    );
    assert!(
        log.iter()
            .filter(|o| o["event"] == "sip_received")
            .filter_map(|o| o["message"]["text"].as_str())
            .any(|m| m.starts_with("BYE ")),
        "the recording session ended with BYE"
    );
    let wavs = std::fs::read_dir(&srs_out)
        .expect("srs out")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "wav"))
        .count();
    assert!(wavs >= 1, "a WAV per recorded stream");
    let platform_events = lines_of(&platform_log);
    assert!(
        platform_events
            .iter()
            .any(|o| o["event"] == "platform_action"),
        "the platform logged its actions"
    );
}

/// The SIP messages a log records as `event` (sent or received) over `transport`, whose
/// text starts with `start`.
fn sip<'a>(
    log: &'a [serde_json::Value],
    event: &str,
    transport: &str,
    start: &str,
) -> Vec<&'a str> {
    log.iter()
        .filter(|o| o["event"] == event && o["transport"] == transport)
        .filter_map(|o| o["message"]["text"].as_str())
        .filter(|m| m.starts_with(start))
        .collect()
}

/// The same call with SIP over TCP on both hops recproof serves: SIPp's caller speaks
/// nothing but TCP in `-t t1` mode, so its completed call proves the platform took and
/// answered it over TCP (the platform logs no SIP of its own); the SRS's log shows the
/// RS INVITE (over RFC 3261 §18.1.1's 1,300 bytes), the BYE and the answers over TCP.
#[test]
fn sipp_calls_the_platform_over_tcp_and_the_platform_records_over_tcp() {
    if !sipp_installed() {
        return;
    }
    let run = call_through_platform(true);
    judge_capture(&run);
    let slog = lines_of(&run.srs_out.join("observations.jsonl"));
    let invites = sip(&slog, "sip_received", "tcp", "INVITE ");
    assert_eq!(invites.len(), 1, "the SRS took the RS INVITE over TCP");
    assert!(invites[0].contains("SIP/2.0/TCP"), "its Via says TCP");
    assert!(invites[0].len() > 1_300, "{} bytes", invites[0].len());
    assert!(invites[0].contains("a=label:1") && invites[0].contains("a=label:2"));
    assert!(
        !sip(&slog, "sip_received", "tcp", "BYE ").is_empty(),
        "and its BYE"
    );
    assert!(
        !sip(&slog, "sip_sent", "tcp", "SIP/2.0 200").is_empty(),
        "the SRS answered over the platform's connection"
    );
    assert!(
        sip(&slog, "sip_received", "udp", "").is_empty(),
        "no SIP reached the SRS over UDP"
    );
    assert!(
        slog.iter()
            .any(|o| o["event"] == "rtp_stream" && o["stream"] == "srs.1"),
        "the caller's RTP reached the recorder on stream 1"
    );
    let plog = lines_of(&run.platform_log);
    let findings = plog
        .iter()
        .chain(&slog)
        .filter(|o| o["event"] == "sip_malformed" && o["actor"] == "harness")
        .count();
    assert_eq!(findings, 0, "no TCP finding on a clean call");
}
