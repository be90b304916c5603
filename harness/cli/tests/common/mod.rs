//! Helpers shared by the CLI end-to-end tests: running the built `recproof` binary and
//! finding the repository's features.

#![allow(dead_code)]

use std::process::Command;

/// Runs `recproof ARGS`, returning the exit code, stdout and stderr.
pub(crate) fn recproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(args)
        .output()
        .expect("run recproof");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary `bin` (the built one, or a copy of it) with `args` in `cwd`: exit
/// code, stdout and stderr.
pub(crate) fn run_in(
    bin: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run recproof");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of a feature file in the repository's `features/`.
pub(crate) fn features(name: &str) -> String {
    format!("{}/../../features/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Ports already handed to a test of this binary: the tests run in parallel and release
/// their probe sockets before the processes bind, so the OS alone could hand the same
/// port to both.
static TAKEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

pub(crate) fn claim(ports: std::ops::Range<u16>) -> bool {
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if ports.clone().any(|p| taken.contains(&p)) {
        return false;
    }
    taken.extend(ports);
    true
}

pub(crate) fn free_udp_port() -> u16 {
    for _ in 0..100 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = s.local_addr().expect("addr").port();
        if claim(port..port + 1) {
            return port;
        }
    }
    panic!("no free UDP port on loopback");
}

/// A run of `count` consecutive free UDP ports (bound together, then released).
pub(crate) fn free_port_range(count: u16) -> u16 {
    for _ in 0..100 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let base = s.local_addr().expect("addr").port() & !1;
        drop(s);
        if base > u16::MAX - count {
            continue;
        }
        let held: Vec<_> = (0..count)
            .map_while(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == usize::from(count) && claim(base..base + count) {
            return base;
        }
    }
    panic!("no {count} consecutive free UDP ports on loopback");
}

/// A `recproof platform` process, killed when the test ends, however it ends.
pub(crate) struct Platform(std::process::Child);

impl Platform {
    /// Starts `recproof ARGS` (a `platform` command line) and waits until it has bound its
    /// SIP port on loopback (our bind then fails), at most 10 s.
    pub(crate) fn start(args: &[String], sip_port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_recproof"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start recproof platform");
        let platform = Self(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::UdpSocket::bind(("127.0.0.1", sip_port)).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "recproof platform did not bind 127.0.0.1:{sip_port} within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        platform
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Ends the child process it holds when dropped (a failed assertion included): the
/// external recorders the recorder tests start.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `recproof srs --strict` as an external recorder under test on
/// `127.0.0.1:sip_port`, with `ports` RTP ports from `rtp_base`, writing its WAV files
/// into `files`, optionally with a recorder fault; it ends when dropped (60 s at most),
/// and is given 300 ms to bind.
pub(crate) fn start_strict_srs(
    sip_port: u16,
    rtp_base: u16,
    ports: u16,
    files: &std::path::Path,
    fault: Option<&str>,
) -> KillOnDrop {
    let mut args = vec![
        "srs".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{sip_port}"),
        "--rtp-port-base".to_owned(),
        rtp_base.to_string(),
        "--rtp-port-count".to_owned(),
        ports.to_string(),
        "--strict".to_owned(),
        "--out".to_owned(),
        files.display().to_string(),
        "--duration".to_owned(),
        "60".to_owned(),
    ];
    if let Some(f) = fault {
        args.extend(["--fault".to_owned(), f.to_owned()]);
    }
    let recorder = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_recproof"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start recproof srs"),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    recorder
}

/// What `recproof check --sut <recorder profile> --tags TAGS` did: exit code, stdout,
/// stderr and `results.json`.
pub(crate) struct RecorderRun {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) results: serde_json::Value,
}

/// Writes `profile_yaml` as `DIR/recorder.yaml`, runs the recorder scenarios matching
/// `tags` against it into `DIR/run`, and reads the results.
pub(crate) fn check_recorder(dir: &std::path::Path, profile_yaml: &str, tags: &str) -> RecorderRun {
    let profile = dir.join("recorder.yaml");
    std::fs::write(&profile, profile_yaml).expect("write the recorder profile");
    let out = dir.join("run");
    let features = format!("{}/../../features", env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, stderr) = recproof(&[
        "check",
        &features,
        "--sut",
        profile.to_str().expect("utf-8"),
        "--tags",
        tags,
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let results = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("no results.json:\n{stdout}\n{stderr}"));
    RecorderRun {
        code,
        stdout,
        stderr,
        results,
    }
}

/// The scenarios of a run that were not skipped.
pub(crate) fn ran(results: &serde_json::Value) -> Vec<&serde_json::Value> {
    results["scenarios"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["status"] != "skipped").collect())
        .unwrap_or_default()
}

/// The (status, summary) of `check`'s verdict in a scenario.
pub(crate) fn verdict_of(scenario: &serde_json::Value, check: &str) -> (String, String) {
    let v = scenario["verdicts"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["check"] == check))
        .unwrap_or_else(|| panic!("{check} judged in {scenario}"));
    (
        v["status"].as_str().unwrap_or_default().to_owned(),
        v["summary"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `(requirement, check, status)` of every verdict `recproof judge … --format json`
/// printed for `call`, sorted.
fn statuses_of(doc: &serde_json::Value, call: &str) -> Vec<String> {
    let mut out: Vec<String> = doc["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["call"] == call)
        .flat_map(|c| c["verdicts"].as_array().cloned().unwrap_or_default())
        .filter(|v| v["check"] != "precondition.harness_intact")
        .map(|v| format!("{} {} {}", v["requirement"], v["check"], v["status"]))
        .collect();
    out.sort();
    out
}

/// Judges every call's evidence capture of a run directory (`calls/<call>/call.pcap`,
/// and the same capture as pcapng when `pcapng` converts it) with `--expectations` and
/// asserts the verdicts equal those of judging the run's own observation log, check by
/// check; `precondition.harness_intact` (the harness's own receive drops, which a
/// capture cannot hold) is left out. Returns (calls, verdicts) compared.
pub(crate) fn assert_captures_judge_as_the_log(
    run: &std::path::Path,
    profile: Option<&std::path::Path>,
    pcapng: Option<&dyn Fn(&std::path::Path) -> std::path::PathBuf>,
) -> (usize, usize) {
    let sut: Vec<&str> = match profile {
        Some(p) => vec!["--sut", p.to_str().expect("utf8")],
        None => Vec::new(),
    };
    let run_s = run.to_str().expect("utf8");
    let mut args = vec!["judge", run_s, "--format", "json"];
    args.extend(&sut);
    let (_, out, err) = recproof(&args);
    let from_log: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("judge of the log ({e}): {err}"));
    let mut calls = 0;
    let mut verdicts = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(run.join("calls"))
        .expect("calls/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("call.pcap").exists())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no evidence capture under {}",
        run.display()
    );
    for dir in dirs {
        let call = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        let want = statuses_of(&from_log, &call);
        assert!(!want.is_empty(), "{call}: no verdict from the log");
        let mut captures = vec![dir.join("call.pcap")];
        if let Some(convert) = pcapng {
            captures.push(convert(&dir.join("call.pcap")));
        }
        for capture in captures {
            let cap = capture.to_str().expect("utf8");
            let mut args = vec!["judge", cap, "--expectations", run_s, "--format", "json"];
            args.extend(&sut);
            let (_, out, err) = recproof(&args);
            let doc: serde_json::Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{cap}: judge printed no JSON ({e}): {err}"));
            let got = statuses_of(&doc, &call);
            let only_log: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
            let only_cap: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
            assert!(
                only_log.is_empty() && only_cap.is_empty(),
                "{cap}: verdicts differ from the log's\nonly from the log: {only_log:#?}\nonly from the capture: {only_cap:#?}\n{err}"
            );
            verdicts += got.len();
        }
        calls += 1;
    }
    (calls, verdicts)
}

/// A SUT profile to judge a capture of the reference platform with: the platform at
/// `sut`, the Dubber recorder at `recorder`, user 2001 recorded Always with the start/stop
/// announcement (the platform's own clips), calls from `caller`.
pub(crate) fn capture_profile(sut: &str, recorder: &str, caller: &str) -> String {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../platform/assets");
    let clip = |name: &str| assets.join(format!("{name}.wav")).display().to_string();
    format!(
        r#"name: recproof-platform-captured
sut:
  sip: {sut}
harness:
  caller: {{ sip: "127.0.0.1:5070", rtp: "127.0.0.1:30000" }}
  callee: {{ sip: "127.0.0.1:5072", rtp: "127.0.0.1:30010" }}
  recorders:
    Dubber: {{ sip: "{recorder}", rtp_port_base: 41000 }}
audio:
  clips:
    announcement-start: {}
    announcement-stop: {}
  reminder_tone_hz: 1400
  beep_hz: 1000
  announcement_metadata: true
dialect: broadworks-compat
caller: "{caller}"
users:
  - extension: "2001"
    provider: Dubber
    mode: Always
    start_stop_announcement: true
    reminder: "off"
    record_voicemail: false
"#,
        clip("announcement-start"),
        clip("announcement-stop")
    )
}
