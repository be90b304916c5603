//! Recorder profiles: the YAML that points the recorder scenarios at an EXTERNAL
//! recorder under test (a SIPREC SRS), recognised by `role: recorder`.
//!
//! ```yaml
//! name: Example recorder
//! role: recorder
//! recorder:
//!   sip: 127.0.0.1:5080            # where it takes recording sessions
//!   transport: udp                 # udp (default) | tcp: how the harness SRC reaches it
//!   uri: sip:srs@127.0.0.1:5080    # Request-URI of RS INVITEs (optional)
//!   dialects: [rfc-strict, broadworks-compat]   # what it claims to take
//!   capacity: 8                    # sessions it takes at once (SRS-14, optional)
//! harness:
//!   src:
//!     sip: 127.0.0.1:5090          # the harness SRC (recproof playing the platform)
//!     rtp_port_base: 31000         # its two RTP ports: this one and the next even one
//! rules:
//!   answer_time_ms: 2000           # SRS-13 (optional)
//! recordings:                      # optional: where the recorder writes its recordings
//!   dir: /var/spool/recorder       #   (WAV, or pcap/pcapng as rtpengine writes; names
//!   wait_s: 5                      #   carry the RS Call-ID; see crate::recordings)
//! ```
//!
//! [`load`] reads and checks one; every problem is reported with the file and what to
//! fix ([`ProfileError`]), never a panic. [`is_recorder_profile`] tells a recorder profile
//! from a platform one. This module owns the format only.

use crate::profile::ProfileError;
use checks::recorder::RecorderRules;
use drive::recorder::ExternalRecorderTarget;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The dialect names a recorder may claim.
pub const DIALECTS: [&str; 2] = ["rfc-strict", "broadworks-compat"];

/// A checked recorder profile.
#[derive(Debug, Clone)]
pub struct RecorderProfile {
    /// The file it came from.
    pub path: PathBuf,
    /// The recorder's name (into `results.json`).
    pub name: String,
    /// Where the recorder and the harness SRC are.
    pub target: ExternalRecorderTarget,
    /// The dialects the recorder claims to take: scenarios in another are SKIPPED.
    pub dialects: Vec<String>,
    /// What it is held to.
    pub rules: RecorderRules,
    /// Where it writes its recordings, when it can be read (SRS-12).
    pub recordings: Option<crate::recordings::RecordingsDir>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    role: String,
    recorder: RawRecorder,
    harness: RawHarness,
    #[serde(default)]
    rules: Option<RawRules>,
    #[serde(default)]
    recordings: Option<RawRecordings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecordings {
    dir: String,
    #[serde(default)]
    wait_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecorder {
    sip: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    transport: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    dialects: Option<Vec<String>>,
    #[serde(default)]
    capacity: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHarness {
    src: RawSrc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSrc {
    sip: String,
    rtp_port_base: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    answer_time_ms: Option<u64>,
}

#[derive(Deserialize)]
struct RoleOnly {
    #[serde(default)]
    role: Option<String>,
}

/// True when the YAML file says `role: recorder` (anything unreadable is not: the
/// platform profile loader then reports it).
pub fn is_recorder_profile(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_saphyr::from_str::<RoleOnly>(&t).ok())
        .and_then(|r| r.role)
        .is_some_and(|r| r == "recorder")
}

/// Reads and checks a recorder profile.
pub fn load(path: &Path) -> Result<RecorderProfile, ProfileError> {
    let fail = |problems: Vec<String>| ProfileError {
        path: path.to_owned(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
    let raw: Raw = serde_saphyr::from_str(&text).map_err(|e| {
        fail(vec![format!(
            "{e} (expected keys: name, role: recorder, recorder (sip, uri, dialects, capacity), harness (src: sip, rtp_port_base), rules, recordings (dir, wait_s))"
        )])
    })?;
    let mut problems = Vec::new();
    let recorder_transport = transport_field(
        "recorder.transport",
        raw.recorder.transport.as_deref(),
        &mut problems,
    );
    let mut addr = |what: &str, s: &str| -> SocketAddr {
        s.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "{what}: `{s}` is not IP:PORT (e.g. 127.0.0.1:5080)"
            ));
            SocketAddr::from(([0, 0, 0, 0], 0))
        })
    };
    let recorder_sip = addr("recorder.sip", &raw.recorder.sip);
    let src_sip = addr("harness.src.sip", &raw.harness.src.sip);
    if raw.role != "recorder" {
        problems.push(format!("role: `{}` is not `recorder`", raw.role));
    }
    if raw.name.trim().is_empty() {
        problems.push("name: give the recorder a name (it goes into results.json)".into());
    }
    let dialects = raw
        .recorder
        .dialects
        .unwrap_or_else(|| DIALECTS.iter().map(|d| (*d).to_owned()).collect());
    for d in &dialects {
        if !DIALECTS.contains(&d.as_str()) {
            problems.push(format!(
                "recorder.dialects: `{d}` is not one of {}",
                DIALECTS.join(", ")
            ));
        }
    }
    if dialects.is_empty() {
        problems.push("recorder.dialects: name at least one dialect the recorder takes".into());
    }
    let base = raw.harness.src.rtp_port_base;
    if !base.is_multiple_of(2) || !(1024..=65530).contains(&base) {
        problems.push(format!(
            "harness.src.rtp_port_base: {base} must be an even port from 1024 to 65530 (the SRC uses it and the next even port)"
        ));
    }
    if src_sip == recorder_sip {
        problems
            .push("harness.src.sip: the harness SRC cannot share the recorder's address".into());
    }
    let mut rules = RecorderRules {
        capacity: raw.recorder.capacity,
        recordings_available: raw.recordings.is_some(),
        ..RecorderRules::default()
    };
    if let Some(ms) = raw.rules.and_then(|r| r.answer_time_ms) {
        if ms == 0 {
            problems.push("rules.answer_time_ms: must be above 0".into());
        }
        rules.answer_time_ms = ms;
    }
    let recordings = raw.recordings.map(|r| {
        let dir = Path::new(&r.dir);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            path.parent().unwrap_or(Path::new(".")).join(dir)
        };
        if !dir.is_dir() {
            problems.push(format!(
                "recordings.dir: `{}` is not a directory (relative paths start at the profile's directory)",
                dir.display()
            ));
        }
        crate::recordings::RecordingsDir {
            dir,
            wait: std::time::Duration::from_secs(r.wait_s.unwrap_or(5).min(120)),
        }
    });
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    Ok(RecorderProfile {
        path: path.to_owned(),
        name: raw.name.clone(),
        target: ExternalRecorderTarget {
            name: raw.name,
            recorder_sip,
            recorder_transport,
            recorder_uri: raw.recorder.uri,
            src_sip,
            src_rtp_port_base: base,
        },
        dialects,
        rules,
        recordings,
    })
}

/// Reads a profile's `transport` field (`udp`, the default, or `tcp`), adding a problem
/// for anything else.
pub(crate) fn transport_field(
    field: &str,
    value: Option<&str>,
    problems: &mut Vec<String>,
) -> sip::transaction::Transport {
    match value.map(str::trim) {
        None => sip::transaction::Transport::Udp,
        Some(v) if v.eq_ignore_ascii_case("udp") => sip::transaction::Transport::Udp,
        Some(v) if v.eq_ignore_ascii_case("tcp") => sip::transaction::Transport::Tcp,
        Some(v) => {
            problems.push(format!("{field}: `{v}` is not `udp` or `tcp`"));
            sip::transaction::Transport::Udp
        }
    }
}
