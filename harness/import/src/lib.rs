//! A packet capture of real calls, read into recproof's observation log so the same
//! checks judge it (`recproof judge CAPTURE.pcap`).
//!
//! A platform team's first evidence is often a capture taken at an SBC or at the
//! recorder: the call legs and the SIPREC session, in pcap or pcapng. This crate reads
//! one (IPv4 and IPv6; UDP, and SIP over TCP put back together; Ethernet, Linux cooked,
//! raw IP and loopback link types) and writes what recproof's own roles would have
//! logged had they been the caller's phone, the callee's phone and the recorder: the SIP
//! each sent and received, the recording metadata, and, from the RTP their SDP
//! negotiated, what each party heard and what the recorder received, through the same
//! detectors (instrumented party frames, tones, announcement clips, DTMF).
//!
//! # What a capture can and cannot say
//!
//! A capture of a recproof run carries recproof's instrumented signal, so who spoke in
//! every frame and every latency can be read as in the run itself. A capture of real
//! speech cannot say who spoke frame by frame: each imported call carries an
//! [`observe::Event::CaptureImported`] saying which it was, and for uninstrumented audio
//! where there was sound ([`observe::Source::Unknown`] segments), so the checks judge what
//! sound can show (audio reaching the recorder while paused, media flowing) and say "not
//! judged: needs instrumented audio" for the rest. Audio it cannot decode (SRTP, a codec
//! other than G.711) is marked undecoded, with a note naming the stream; a call the
//! capture holds only the recording session of (a capture taken at the recorder) is
//! marked recording-only and tied to the SUT user its metadata names
//! ([`ImportConfig::users`]).
//!
//! Times are the capture's (µs since its first packet): what a party "heard" is what was
//! captured on the way to it.
//!
//! # Modules
//!
//! - `tcp`: TCP segments to SIP messages.
//! - `legs`: dialogs to caller leg, callee leg, recording session; legs to calls; the
//!   SIP observations.
//! - `streams`: RTP to heard and recorded streams.
//!
//! Must not touch: files (bytes come in, a log goes out), judging, clocks.

mod legs;
mod streams;
pub mod tcp;

use media::pcap::{Capture, PcapError};
use observe::{Actor, CaptureAudio, Clock, Event, Observation, Payload};
use roles::media_io::{Detectors, MediaContext};
use sip::SipMessage;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// What the importer needs to know besides the capture.
#[derive(Debug, Clone, Default)]
pub struct ImportConfig {
    /// Name of the capture (the file as given), written into the log.
    pub capture_name: String,
    /// The SUT's SIP addresses (IP and port): a SIP profile's `sut.sip`, or the platform
    /// address of a recproof run. Every address that sends a recording session is added.
    pub sut: Vec<SocketAddr>,
    /// What to detect in the audio: the SUT's announcement clips and tone frequencies.
    pub detectors: Detectors,
    /// Call labels by the Call-ID of the caller's INVITE, or of a recording session for a
    /// call the capture holds no leg of (a recproof run's labels, so its expectations
    /// apply); other calls are numbered `call-0001`... in capture order.
    pub labels: BTreeMap<String, String>,
    /// What the log's `run_started` calls the system under test.
    pub sut_name: String,
    /// The SUT's test users (a profile's extensions): a call the capture holds only the
    /// recording session of is taken to be the call of the user its metadata names.
    pub users: Vec<String>,
}

/// One call found in the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCall {
    /// Its label in the log.
    pub label: String,
    /// Call-ID of its caller leg, when the capture has one.
    pub caller_call_id: Option<String>,
    /// Recording sessions tied to it.
    pub recordings: usize,
    /// What its audio was.
    pub audio: CaptureAudio,
    /// The capture holds its recording session(s) but neither of its legs.
    pub recording_only: bool,
}

/// Counts of what the capture held, for the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// UDP datagrams read.
    pub datagrams: u64,
    /// TCP segments read.
    pub tcp_segments: u64,
    /// SIP messages read (UDP and TCP).
    pub sip_messages: u64,
    /// Datagrams that were SIP-like but did not parse.
    pub sip_malformed: u64,
    /// SIP messages outside any call read (OPTIONS, REGISTER, other hosts).
    pub sip_outside: u64,
    /// RTP datagrams read into a stream.
    pub rtp_matched: u64,
    /// Other datagrams (RTP of no negotiated stream, RTCP, anything else).
    pub rtp_unmatched: u64,
    /// Records that were neither UDP nor TCP, or unreadable.
    pub skipped_records: u64,
    /// The capture ended mid-record.
    pub truncated: bool,
}

/// The log built from a capture.
#[derive(Debug, Clone)]
pub struct Imported {
    /// One block: `run_started`, the calls' observations in time order, `run_ended`.
    pub observations: Vec<Observation>,
    /// The calls found, in order of their first INVITE.
    pub calls: Vec<ImportedCall>,
    /// What was left out or could not be read, for the user (bounded).
    pub notes: Vec<String>,
    /// Counts.
    pub stats: ImportStats,
    /// The SUT addresses used to tell the legs apart (given plus inferred).
    pub sut: Vec<SocketAddr>,
}

/// Why a capture could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not a readable capture.
    #[error(transparent)]
    Capture(#[from] PcapError),
    /// The harness's own signal configuration failed (never the capture's fault).
    #[error("cannot set up the audio decoders: {0}")]
    Setup(String),
}

/// One SIP message or datagram in capture order.
enum Unit {
    Sip {
        transport: &'static str,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: Vec<u8>,
    },
    Datagram {
        src: SocketAddr,
        dst: SocketAddr,
        payload: Vec<u8>,
    },
}

/// Most evidence bytes kept of a SIP-like datagram that does not parse.
const MALFORMED_EVIDENCE: usize = 4096;

/// True when a datagram starts like a SIP message (a request line or a status line).
fn looks_like_sip(p: &[u8]) -> bool {
    let line_end = p.iter().take(512).position(|&b| b == b'\n');
    let Some(end) = line_end else {
        return p.starts_with(b"SIP/2.0 ");
    };
    let line = &p[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.starts_with(b"SIP/2.0 ") || line.ends_with(b" SIP/2.0")
}

/// Reads a pcap or pcapng capture held in memory into an observation log.
pub fn import(bytes: &[u8], cfg: &ImportConfig) -> Result<Imported, ImportError> {
    let capture = media::pcap::read_datagrams(bytes)?;
    import_capture(capture, cfg)
}

/// [`import`] on a capture already read (consumed: its payloads move into the import).
pub fn import_capture(capture: Capture, cfg: &ImportConfig) -> Result<Imported, ImportError> {
    let mut stats = ImportStats {
        datagrams: capture.datagrams.len() as u64,
        tcp_segments: capture.segments.len() as u64,
        skipped_records: capture.skipped,
        truncated: capture.truncated,
        ..ImportStats::default()
    };
    let mut notes = Vec::new();
    // Every unit in capture order (stable: records with one timestamp keep their order).
    let mut units: Vec<(Duration, Unit)> = Vec::new();
    let mut tcp = tcp::Reassembler::new();
    for s in &capture.segments {
        tcp.push(s);
    }
    let last_ts = capture
        .datagrams
        .iter()
        .map(|d| d.ts)
        .chain(capture.segments.iter().map(|s| s.ts))
        .max()
        .unwrap_or_default();
    let (messages, gaps) = tcp.finish(last_ts);
    for g in gaps.iter().take(20) {
        notes.push(format!(
            "TCP {} -> {} at {:.3} s: {}",
            g.src,
            g.dst,
            g.ts.as_secs_f64(),
            g.reason
        ));
    }
    for m in messages {
        units.push((
            m.ts,
            Unit::Sip {
                transport: "tcp",
                src: m.src,
                dst: m.dst,
                bytes: m.bytes,
            },
        ));
    }
    for d in capture.datagrams {
        let unit = if looks_like_sip(&d.payload) {
            Unit::Sip {
                transport: "udp",
                src: d.src,
                dst: d.dst,
                bytes: d.payload,
            }
        } else {
            Unit::Datagram {
                src: d.src,
                dst: d.dst,
                payload: d.payload,
            }
        };
        units.push((d.ts, unit));
    }
    units.sort_by_key(|(ts, _)| *ts);
    let origin = units.first().map(|(ts, _)| *ts).unwrap_or_default();
    let t_of =
        |ts: Duration| u64::try_from(ts.saturating_sub(origin).as_micros()).unwrap_or(u64::MAX);

    // First pass: every sender of a recording session is the SUT (its SRC).
    let mut sut: BTreeSet<SocketAddr> = cfg.sut.iter().copied().collect();
    for (_, u) in &units {
        if let Unit::Sip { src, bytes, .. } = u
            && let Ok(msg) = SipMessage::parse(bytes.clone())
            && msg.method() == Some(&sip::Method::Invite)
            && legs::is_recording_invite(&msg)
        {
            sut.insert(*src);
            if let Some(v) = legs::via_sent_by(&msg) {
                sut.insert(v);
            }
        }
    }

    let base =
        MediaContext::with_default_signal().map_err(|e| ImportError::Setup(e.to_string()))?;
    let mut legs = legs::Legs::new(sut, cfg.labels.clone(), cfg.users.clone());
    let mut streams = streams::Streams::new(base, cfg.detectors.clone());
    let mut obs: Vec<Observation> = Vec::new();
    for (ts, unit) in units {
        let t_us = t_of(ts);
        match unit {
            Unit::Sip {
                transport,
                src,
                dst,
                bytes,
            } => match SipMessage::parse(bytes.clone()) {
                Ok(msg) => {
                    stats.sip_messages += 1;
                    if let Some(update) = legs.message(t_us, transport, src, dst, &msg, &mut obs) {
                        streams.update(&update);
                    }
                }
                Err(e) => {
                    stats.sip_malformed += 1;
                    obs.push(Observation {
                        t_us,
                        call: None,
                        actor: Actor::Capture,
                        event: Event::SipMalformed {
                            transport: transport.to_owned(),
                            remote: src.to_string(),
                            message: Payload::from_bytes(
                                &bytes[..bytes.len().min(MALFORMED_EVIDENCE)],
                            ),
                            reason: format!("from {src} to {dst}: {e}"),
                        },
                    });
                }
            },
            Unit::Datagram { src, dst, payload } => {
                // Labels are only read when a stream or an observation is made.
                let calls = &legs.calls;
                streams.datagram(t_us, src, dst, &payload, &|i| {
                    calls.get(i).map(|c| c.label.clone()).unwrap_or_default()
                });
            }
        }
    }
    stats.sip_outside = legs.outside;
    stats.rtp_matched = streams.matched;
    stats.rtp_unmatched = streams.unmatched;
    let end_us = t_of(last_ts);
    let ends: Vec<u64> = legs
        .calls
        .iter()
        .map(|c| c.ended_us.unwrap_or(end_us).max(c.last_us))
        .collect();
    let labels: Vec<String> = legs.calls.iter().map(|c| c.label.clone()).collect();
    let (media_obs, audio, media_notes) = streams
        .finish(&|i| ends.get(i).copied().unwrap_or(end_us), &|i| {
            labels.get(i).cloned().unwrap_or_default()
        });
    obs.extend(media_obs);
    let mut calls = Vec::new();
    for (i, c) in legs.calls.iter().enumerate() {
        let kind = audio.get(&i).copied().unwrap_or(CaptureAudio::None);
        obs.push(Observation {
            t_us: 0,
            call: Some(c.label.clone()),
            actor: Actor::Capture,
            event: Event::CaptureImported {
                capture: cfg.capture_name.clone(),
                audio: kind,
                recording_only: c.recording_only(),
            },
        });
        calls.push(ImportedCall {
            label: c.label.clone(),
            caller_call_id: c.caller_call_id.clone(),
            recordings: c.recordings,
            audio: kind,
            recording_only: c.recording_only(),
        });
    }
    obs.sort_by_key(|o| o.t_us);
    notes.extend(legs.notes.iter().cloned());
    notes.extend(media_notes);
    let mut observations = Vec::with_capacity(obs.len() + 2);
    observations.push(Observation::run_started(
        0,
        cfg.sut_name.clone(),
        Clock::Real,
    ));
    observations.extend(obs);
    observations.push(Observation {
        t_us: end_us,
        call: None,
        actor: Actor::Harness,
        event: Event::RunEnded { interrupted: false },
    });
    Ok(Imported {
        observations,
        calls,
        notes,
        stats,
        sut: legs.sut().iter().copied().collect(),
    })
}
