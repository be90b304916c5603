//! `recproof judge CAPTURE.pcap`: a packet capture read into an observation log
//! (`recproof-import`) and judged by the same checks as a run.
//!
//! This module gathers what the importer needs (the SUT's address and its audio from a
//! profile, or a recproof run's expectations, platform address and clips), adds the
//! run's expectations to the calls they belong to, writes the log when asked, and hands
//! over to the offline judge. It reads files and prints; it judges nothing itself.

use crate::report::{JudgeArgs, finish_judge};
use anyhow::Context as _;
use observe::{Actor, CaptureAudio, Event, Log, Observation};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// True when the bytes start like a pcap or pcapng file.
pub(crate) fn is_capture(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(0..4),
        Some([0x0A, 0x0D, 0x0D, 0x0A])
            | Some([0xD4, 0xC3, 0xB2, 0xA1])
            | Some([0xA1, 0xB2, 0xC3, 0xD4])
            | Some([0x4D, 0x3C, 0xB2, 0xA1])
            | Some([0xA1, 0xB2, 0x3C, 0x4D])
    )
}

/// What a recproof run's log says about its calls.
#[derive(Debug, Default)]
struct RunFacts {
    /// The run's `sut`.
    sut: String,
    /// Label by the Call-ID of the caller's INVITE, and of each recording session.
    labels: BTreeMap<String, String>,
    /// (expectation, tolerances) by label.
    expectations: BTreeMap<String, (serde_json::Value, serde_json::Value)>,
    /// Where the run's caller sent its INVITEs (the platform).
    platform: Vec<SocketAddr>,
}

fn run_facts(dir: &Path) -> anyhow::Result<RunFacts> {
    let path = if dir.is_dir() {
        dir.join("observations.jsonl")
    } else {
        dir.to_path_buf()
    };
    let bytes =
        std::fs::read(&path).with_context(|| format!("cannot read the run's log `{}` (--expectations takes a run directory of `recproof check`)", path.display()))?;
    let log = observe::read_log(String::from_utf8_lossy(&bytes).as_bytes())
        .with_context(|| format!("cannot read the run's log `{}`", path.display()))?;
    let mut facts = RunFacts::default();
    for o in &log.observations {
        match (&o.call, &o.event) {
            (_, Event::RunStarted { sut, .. }) if facts.sut.is_empty() => facts.sut = sut.clone(),
            (
                Some(call),
                Event::Expectation {
                    expectation,
                    tolerances,
                },
            ) => {
                facts
                    .expectations
                    .insert(call.clone(), (expectation.clone(), tolerances.clone()));
            }
            // The recorder's sessions, for a capture taken at the recorder.
            (Some(call), Event::SipReceived { message, .. }) if o.actor == Actor::Srs => {
                if let Ok(msg) = sip::SipMessage::parse(message.to_bytes())
                    && msg.method() == Some(&sip::Method::Invite)
                    && let Ok(id) = msg.call_id()
                {
                    facts
                        .labels
                        .entry(id.to_owned())
                        .or_insert_with(|| call.clone());
                }
            }
            (
                Some(call),
                Event::SipSent {
                    remote, message, ..
                },
            ) if o.actor == Actor::Caller => {
                let Ok(msg) = sip::SipMessage::parse(message.to_bytes()) else {
                    continue;
                };
                if msg.method() != Some(&sip::Method::Invite) {
                    continue;
                }
                if let Ok(id) = msg.call_id() {
                    facts
                        .labels
                        .entry(id.to_owned())
                        .or_insert_with(|| call.clone());
                }
                if let Ok(addr) = remote.parse::<SocketAddr>()
                    && !facts.platform.contains(&addr)
                {
                    facts.platform.push(addr);
                }
            }
            _ => {}
        }
    }
    if facts.expectations.is_empty() {
        anyhow::bail!(
            "the run's log `{}` holds no call expectation (is it a run directory of `recproof check`?)",
            path.display()
        );
    }
    Ok(facts)
}

/// Imports the capture, judges it, prints and maps the outcome to the exit code.
pub(crate) fn judge_capture(args: &JudgeArgs, bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let profile = match &args.sut {
        Some(path) => Some(suite::profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let facts = match &args.expectations {
        Some(dir) => Some(run_facts(dir)?),
        None => None,
    };
    if profile.is_none() && facts.is_none() {
        anyhow::bail!(
            "judging a capture needs to know the SUT: give --sut PROFILE.yaml (its `sut.sip` address, users and clips; `recproof profile init` writes one) or, for a capture of a recproof run, --expectations RUN_DIR"
        );
    }
    let mut sut = Vec::new();
    if let Some(p) = &profile {
        sut.push(p.target.sut_sip);
    }
    if let Some(f) = &facts {
        sut.extend(f.platform.iter().copied());
    }
    let detectors = match (&profile, &facts) {
        (Some(p), _) => p.target.detectors.clone(),
        (None, Some(f)) if f.sut.starts_with("embedded-reference") => {
            drive::embedded::detectors().map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, _) => anyhow::bail!(
            "the run in --expectations tested `{}`, whose announcements and tones only its profile knows: give that profile with --sut too",
            facts.as_ref().map(|f| f.sut.as_str()).unwrap_or_default()
        ),
    };
    let name = args.log.display().to_string();
    let sut_name = match (&profile, &facts) {
        (Some(p), _) => format!("{} (capture {name})", p.name),
        (None, Some(f)) => format!("{} (capture {name})", f.sut),
        (None, None) => format!("capture {name}"),
    };
    let cfg = import::ImportConfig {
        capture_name: name.clone(),
        sut,
        detectors,
        labels: facts.as_ref().map(|f| f.labels.clone()).unwrap_or_default(),
        sut_name,
        users: profile
            .as_ref()
            .map(|p| p.users.iter().map(|u| u.extension.clone()).collect())
            .unwrap_or_default(),
    };
    let started = std::time::Instant::now();
    let imported =
        import::import(bytes, &cfg).with_context(|| format!("cannot read the capture `{name}`"))?;
    print_import(&imported, started.elapsed());
    let mut observations = imported.observations;
    if let Some(f) = &facts {
        // Each call of the run this capture holds is judged against its expectation.
        let mut extra = Vec::new();
        for c in &imported.calls {
            if let Some((e, t)) = f.expectations.get(&c.label) {
                extra.push(Observation {
                    t_us: 0,
                    call: Some(c.label.clone()),
                    actor: Actor::Harness,
                    event: Event::Expectation {
                        expectation: e.clone(),
                        tolerances: t.clone(),
                    },
                });
            }
        }
        observations.splice(1..1, extra);
    }
    if let Some(path) = &args.save_log {
        // With the expectations of the calls judged from the profile, so the saved log
        // is judged (and rendered) the same way on its own.
        let mut saved = observations.clone();
        if let Some(p) = &profile {
            let log = Log {
                observations: observations.clone(),
                problems: Vec::new(),
            };
            saved.splice(1..1, suite::judge::profile_expectations(&log, p));
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write the log `{}`", path.display()))?;
        let mut w = observe::LogWriter::new(std::io::BufWriter::new(file));
        for o in &saved {
            w.append(o)
                .with_context(|| format!("cannot write the log `{}`", path.display()))?;
        }
        eprintln!(
            "log written: {} ({} observations)",
            path.display(),
            w.written()
        );
    }
    if imported.calls.is_empty() {
        anyhow::bail!(
            "no call was found in `{name}`: no INVITE to or from the SUT ({}) and no recording session; check the profile's `sut.sip`",
            imported
                .sut
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let log = Log {
        observations,
        problems: Vec::new(),
    };
    let judged = suite::judge::judge_log(&log, profile.as_ref());
    finish_judge(&judged, &args.log, log.observations.len(), args.format)
}

fn print_import(i: &import::Imported, took: std::time::Duration) {
    let s = &i.stats;
    eprintln!(
        "capture: {} UDP datagram(s), {} TCP segment(s); {} SIP message(s) ({} outside any call, {} unreadable), {} RTP datagram(s) read into streams, {} not ({} other record(s) skipped{}); read in {:.2} s",
        s.datagrams,
        s.tcp_segments,
        s.sip_messages,
        s.sip_outside,
        s.sip_malformed,
        s.rtp_matched,
        s.rtp_unmatched,
        s.skipped_records,
        if s.truncated {
            ", capture cut short"
        } else {
            ""
        },
        took.as_secs_f64()
    );
    eprintln!(
        "SUT address(es): {}",
        i.sut
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for c in &i.calls {
        eprintln!(
            "{}: caller leg {}, {} recording session(s){}, audio {}",
            c.label,
            c.caller_call_id
                .as_deref()
                .unwrap_or("(none in the capture)"),
            c.recordings,
            if c.recording_only {
                " and no call leg (judged on the recording session's own rules)"
            } else {
                ""
            },
            match c.audio {
                CaptureAudio::Instrumented => "instrumented (every audio check applies)",
                CaptureAudio::Uninstrumented =>
                    "not instrumented (real speech: checks that need to know who spoke are not judged)",
                CaptureAudio::Undecoded =>
                    "not decodable (SRTP, or a codec other than G.711: what was heard or recorded is not judged)",
                CaptureAudio::None => "none",
            }
        );
    }
    for n in &i.notes {
        eprintln!("note: {n}");
    }
}
