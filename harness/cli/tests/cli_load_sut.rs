//! `recproof load --sut PROFILE.yaml` against an external platform: `recproof platform`
//! as its own process on free loopback ports, routing every extension (`*`) to the
//! harness's callee side and recording to the harness's recorder. The profile spreads
//! the calls over an `extensions:` range and a `load.callers` range. A clean platform:
//! every call passes. A SUT that does nothing right fails every call: nothing listening
//! (timeouts), a platform that answers and never records (the recording preconditions).

mod common;

use common::{Platform, free_port_range, free_udp_port};
use std::path::Path;
use std::process::{Command, Output};

struct Ports {
    platform: u16,
    platform_rtp: u16,
    caller: u16,
    callee: u16,
    srs: u16,
    srs_rtp: u16,
    phones: u16,
}

impl Ports {
    fn pick() -> Self {
        Self {
            platform: free_udp_port(),
            platform_rtp: free_port_range(64),
            caller: free_udp_port(),
            callee: free_udp_port(),
            srs: free_udp_port(),
            srs_rtp: free_port_range(64),
            phones: free_port_range(64),
        }
    }
}

const USERS: u32 = 6;

fn policy(p: &Ports) -> String {
    let mut people = String::new();
    for i in 0..USERS {
        let block = if i == 0 {
            "callRecording: &rec\n      enabled: true\n      record: Always\n      \
             recordVoicemailEnabled: false\n      startStopAnnouncementEnabled: true\n      \
             startStopAnnouncement:\n        internalCallsEnabled: true\n        \
             pstnCallsEnabled: true\n      notification:\n        enabled: false\n      \
             repeat:\n        enabled: false"
                .to_owned()
        } else {
            "callRecording: *rec".to_owned()
        };
        people.push_str(&format!(
            "  - extension: \"{}\"\n    displayName: User {i}\n    location: hq\n    {block}\n",
            4000 + i
        ));
    }
    format!(
        "organization:\n  name: Load\n  region: US\n  callRecording:\n    vendor: Dubber\n\
         providers:\n  Dubber:\n    srs: \"sip:dubber@127.0.0.1:{srs}\"\n\
         dialect: broadworks-compat\nlocations:\n  - id: hq\npeople:\n{people}",
        srs = p.srs
    )
}

fn profile(p: &Ports) -> String {
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../platform/assets");
    format!(
        r#"name: loopback-platform
sut:
  sip: 127.0.0.1:{platform}
harness:
  answer_wait_s: 3
  caller: {{ sip: "127.0.0.1:{caller}", rtp: "127.0.0.1:1" }}
  callee: {{ sip: "127.0.0.1:{callee}", rtp: "127.0.0.1:1" }}
  recorders:
    Dubber: {{ sip: "127.0.0.1:{srs}", rtp_port_base: {srs_rtp} }}
audio:
  clips:
    announcement-start: {assets}/announcement-start.wav
  reminder_tone_hz: 1400
  beep_hz: 1000
  announcement_metadata: true
dialect: broadworks-compat
caller: "+4722000001"
load:
  callers: "+4722100000-+4722100009"
users:
  - extension: "4000"
    extensions: "4000-{last}"
    provider: Dubber
    mode: Always
    start_stop_announcement: true
    reminder: "off"
"#,
        platform = p.platform,
        caller = p.caller,
        callee = p.callee,
        srs = p.srs,
        srs_rtp = p.srs_rtp,
        last = 4000 + USERS - 1,
    )
}

fn platform(dir: &Path, p: &Ports, extra: &[&str]) -> Platform {
    let policy_path = dir.join("policy.yaml");
    std::fs::write(&policy_path, policy(p)).expect("write policy");
    let mut args = vec![
        "platform".to_owned(),
        "--config".into(),
        policy_path.to_str().expect("utf8").into(),
        "--listen".into(),
        format!("127.0.0.1:{}", p.platform),
        "--rtp-port-base".into(),
        p.platform_rtp.to_string(),
        "--rtp-port-count".into(),
        "32".into(),
        "--directory".into(),
        format!("*=127.0.0.1:{}", p.callee),
        "--duration".into(),
        "60".into(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    Platform::start(&args, p.platform)
}

fn load(dir: &Path, p: &Ports, calls: &str) -> Output {
    let profile_path = dir.join("profile.yaml");
    std::fs::write(&profile_path, profile(p)).expect("write profile");
    let phones = format!("{}-{}", p.phones, p.phones + 62);
    Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args([
            "load",
            "--sut",
            profile_path.to_str().expect("utf8"),
            "-r",
            "5",
            "-m",
            calls,
            "--hold",
            "3",
            "--rtp-ports",
            &phones,
            "--interval",
            "0.5",
            "--out",
        ])
        .arg(dir.join("run"))
        .output()
        .expect("run recproof load")
}

fn results(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("run/results.json")).expect("results.json"))
        .expect("json")
}

#[test]
fn calls_spread_over_the_profiles_users_and_pass_on_a_clean_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Ports::pick();
    let _platform = platform(dir.path(), &p, &[]);
    let out = load(dir.path(), &p, "6");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r = results(dir.path());
    assert_eq!(r["target"]["mode"], "sut");
    assert_eq!(r["totals"]["passed"], 6, "{r}");
    assert_eq!(r["totals"]["recorded_ok"], 6, "{r}");
    // Concurrency defaults to at most the SUT's users.
    assert!(
        r["plan"]["concurrency"].as_u64().is_some_and(|c| c <= 6),
        "{r}"
    );
}

#[test]
fn nothing_listening_fails_every_call_as_a_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Ports::pick();
    let out = load(dir.path(), &p, "2");
    assert_eq!(out.status.code(), Some(1));
    let r = results(dir.path());
    assert_eq!(
        r["totals"]["failed_by_class"],
        serde_json::json!({"timeout": 2}),
        "{r}"
    );
}

#[test]
fn a_platform_that_answers_and_never_records_fails_every_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Ports::pick();
    let _platform = platform(dir.path(), &p, &["--fault", "no-recording-session"]);
    let out = load(dir.path(), &p, "2");
    assert_eq!(out.status.code(), Some(1));
    let r = results(dir.path());
    assert_eq!(r["totals"]["passed"], 0, "{r}");
    assert_eq!(r["totals"]["recorded_ok"], 0, "{r}");
    assert!(
        r["totals"]["failed_checks"]["precondition.recording_session"]
            .as_u64()
            .is_some_and(|n| n == 2),
        "{r}"
    );
}
