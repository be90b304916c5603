//! The observation log: everything recproof's roles saw during a run, timestamped.
//!
//! Observation and judgement are separate: drivers (caller and
//! callee UAs, the SRS emulator, the reference platform, a pcap importer) only append
//! [`Observation`]s; checks are pure functions of a log; reports read a log. This crate
//! is the contract between them, so it is a leaf: event types, the JSONL encoding
//! ([`LogWriter`], [`read_log`]) and nothing else. It must not depend on drivers, checks
//! or any protocol crate, and it opens no files itself (callers pass a `Write`/`BufRead`).
//!
//! Schema (version [`SCHEMA_VERSION`]; each [`Event`] variant documents its fields): one
//! JSON object per line,
//! `{"t_us": <µs since run start>, "call": "call-0001"?, "actor": "caller"|"callee"|"srs"|"platform"|"harness"|"capture", "event": "<kind>", ...fields of the kind}`.
//!
//! Stream names follow one convention so checks can find them: `caller.heard` and
//! `callee.heard` (what each party's phone played), `srs.<label>` (what the recorder
//! received on the stream with that SDP label).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// Version of the log schema written in [`Event::RunStarted`]. Bump on incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One timestamped thing a role saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Microseconds since the run started, on the run's clock (simulated or real).
    pub t_us: u64,
    /// The harness call this belongs to, if any (`call-0001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// Who observed it.
    pub actor: Actor,
    /// What was observed.
    #[serde(flatten)]
    pub event: Event,
}

impl Observation {
    /// The first line of a log: what was tested, on which clock, with which seed, by
    /// this version of recproof (every writer of a log starts it this way).
    pub fn run_started(seed: u64, sut: String, clock: Clock) -> Self {
        Self {
            t_us: 0,
            call: None,
            actor: Actor::Harness,
            event: Event::RunStarted {
                schema: SCHEMA_VERSION,
                seed,
                sut,
                clock,
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        }
    }
}

/// The role that made an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The simulated calling party.
    Caller,
    /// The simulated called party.
    Callee,
    /// The SRS emulator (the recorder).
    Srs,
    /// The reference platform, reporting its own actions (ground truth for self-tests;
    /// checks of an external SUT must not rely on these).
    Platform,
    /// The harness itself (run and call bookkeeping).
    Harness,
    /// An offline import (pcap judged after the fact).
    Capture,
    /// The harness playing the recording client (the platform's part) against a
    /// recorder under test.
    Src,
}

/// Which way an RTP stream or DTMF went, seen from the observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The observer sent it.
    Sent,
    /// The observer received it.
    Received,
}

/// Whether the run's clock was simulated or the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Deterministic simulated time (embedded reference platform).
    Simulated,
    /// Real time (external SUT).
    Real,
}

/// Bytes kept as evidence: as text when they are UTF-8 (SIP usually is), else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// UTF-8 text, verbatim.
    Text(String),
    /// Anything else, standard base64.
    Base64(String),
}

impl Payload {
    /// Wraps bytes losslessly.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::Text(s.to_owned()),
            Err(_) => Self::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// The original bytes (empty if a base64 payload was corrupted in the file).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Text(s) => s.as_bytes().to_vec(),
            Self::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
        }
    }
}

/// What a span of received audio was identified as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A simulated party's instrumented audio.
    Party {
        /// Party name (`caller`, `callee`).
        party: String,
        /// First frame number of the span.
        first_frame: u64,
        /// Last frame number of the span.
        last_frame: u64,
    },
    /// A known announcement clip.
    Announcement {
        /// Clip name.
        clip: String,
    },
    /// A tone.
    Tone {
        /// Frequency in Hz.
        freq_hz: f64,
    },
    /// Energy that matched nothing known.
    Unknown,
}

/// Per-frame latency of a span, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Smallest one-way latency, µs.
    pub min_us: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 95th percentile, µs.
    pub p95_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

/// The kinds of observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First line of every log.
    RunStarted {
        /// [`SCHEMA_VERSION`] of the writer.
        schema: u32,
        /// Seed of every random choice in the run.
        seed: u64,
        /// What was tested (`embedded-reference`, a profile name...).
        sut: String,
        /// Simulated or real clock.
        clock: Clock,
        /// recproof version that wrote the log.
        tool_version: String,
    },
    /// A harness call begins.
    CallStarted {
        /// Caller extension or URI.
        caller: String,
        /// Callee extension or URI.
        callee: String,
        /// Scenario name.
        scenario: String,
    },
    /// A SIP message left this actor.
    SipSent {
        /// `udp` or `tcp`.
        transport: String,
        /// Local address.
        local: String,
        /// Remote address.
        remote: String,
        /// The message bytes.
        message: Payload,
    },
    /// A SIP message arrived at this actor.
    SipReceived {
        /// `udp` or `tcp`.
        transport: String,
        /// Local address.
        local: String,
        /// Remote address.
        remote: String,
        /// The message bytes.
        message: Payload,
    },
    /// A well-formed request the role refused because the peer broke a rule of RFC 3261
    /// (a request matching no dialog, a CSeq lower than the dialog's, a re-INVITE while
    /// one is pending, glare): a finding about the peer, with its bytes.
    SipRefused {
        /// `udp` or `tcp`.
        transport: String,
        /// Remote address.
        remote: String,
        /// The status answered.
        status: u16,
        /// The rule broken, in words.
        reason: String,
        /// The request as received.
        message: Payload,
    },
    /// Bytes arrived that are not a usable SIP message.
    SipMalformed {
        /// `udp` or `tcp`.
        transport: String,
        /// Remote address.
        remote: String,
        /// The bytes as received.
        message: Payload,
        /// Why they could not be used.
        reason: String,
    },
    /// An RTP stream was seen for the first time.
    RtpStream {
        /// Stream name (see the crate docs).
        stream: String,
        /// Sent or received.
        direction: Direction,
        /// Local address.
        local: String,
        /// Remote address.
        remote: String,
        /// SSRC.
        ssrc: u32,
        /// Payload type.
        payload_type: u8,
    },
    /// RFC 3550 receive statistics of a stream, at its end (or periodically).
    RtpStats {
        /// Stream name.
        stream: String,
        /// Packets received.
        packets: u64,
        /// Packets lost (expected minus received).
        lost: i64,
        /// Duplicates.
        duplicates: u64,
        /// Packets that arrived out of order.
        reordered: u64,
        /// Interarrival jitter, ms.
        jitter_ms: f64,
        /// Number of SSRC changes.
        ssrc_changes: u64,
    },
    /// A contiguous span of received audio identified as one source.
    MediaSegment {
        /// Stream name.
        stream: String,
        /// What it was.
        source: Source,
        /// Start, µs since run start.
        start_us: u64,
        /// End, µs since run start.
        end_us: u64,
        /// 20 ms frames in the span.
        frames: u64,
        /// Latency of party frames, when `source` is a party.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency: Option<LatencySummary>,
    },
    /// A tone burst detected on a stream.
    ToneBurst {
        /// Stream name.
        stream: String,
        /// Frequency, Hz.
        freq_hz: f64,
        /// Start, µs since run start.
        start_us: u64,
        /// End, µs since run start.
        end_us: u64,
    },
    /// A known clip (announcement) found on a stream.
    ClipMatch {
        /// Stream name.
        stream: String,
        /// Clip name.
        clip: String,
        /// Onset, µs since run start.
        start_us: u64,
        /// End, µs since run start.
        end_us: u64,
        /// Match score, 0..1.
        score: f64,
    },
    /// An RFC 4733 DTMF event.
    Dtmf {
        /// Stream name.
        stream: String,
        /// The digit (`0-9*#A-D`).
        digit: char,
        /// Sent or received.
        direction: Direction,
        /// Duration, µs.
        duration_us: u64,
    },
    /// A recording-metadata document (or snapshot request) carried in a SIP message, as
    /// received by the SRS emulator (checks parse and judge it; the emulator does not).
    Metadata {
        /// Call-ID of the recording session dialog.
        rs_call_id: String,
        /// Method of the request that carried it (`INVITE`, `UPDATE`...).
        method: String,
        /// Content-Type of the body part (`application/rs-metadata+xml`...).
        content_type: String,
        /// The document as received (lossy UTF-8).
        xml: String,
    },
    /// What a receiver got of one party's instrumented frames over a stream's life
    /// (written when the stream ends).
    PartyFrames {
        /// Stream name.
        stream: String,
        /// Party name (`caller`, `callee`...).
        party: String,
        /// Party id carried in the frames.
        party_id: u8,
        /// Distinct frames received.
        frames: u64,
        /// First frame number received.
        first_frame: u64,
        /// Last frame number received.
        last_frame: u64,
        /// Frames missing between the first and last received.
        lost: u64,
        /// Frames received more than once.
        duplicates: u64,
        /// Frames received after a higher-numbered one.
        reordered: u64,
        /// Party audio missing before the first received frame, ms (front clipping).
        front_clip_ms: f64,
        /// Per-frame latency from the sender's emission time, when the sender is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency: Option<LatencySummary>,
    },
    /// A stretch of silence on a received stream.
    Silence {
        /// Stream name.
        stream: String,
        /// Start, µs since run start.
        start_us: u64,
        /// End, µs since run start.
        end_us: u64,
    },
    /// A datagram on an RTP port that is not a usable RTP packet (only the first few per
    /// stream are logged; a flood is counted in [`Event::RtpStats`] terms, not line by line).
    RtpMalformed {
        /// Stream name.
        stream: String,
        /// Remote address.
        remote: String,
        /// Why it was refused.
        reason: String,
        /// The bytes as received.
        packet: Payload,
    },
    /// The reference platform's own account of an action it took (ground truth).
    PlatformAction {
        /// What it did (`announcement_start`, `pause`, `reminder_tone`...).
        action: String,
        /// Free-form detail.
        detail: String,
    },
    /// What the harness expected of this call (a `recproof_checks::CallExpectation` as
    /// JSON: mode, announcements, reminder, recorder...), written before the call's
    /// other observations so `recproof judge` can re-run the checks on the log alone.
    /// Opaque here: this crate does not depend on the checks.
    Expectation {
        /// The expectation document.
        expectation: serde_json::Value,
        /// The tolerances the checks used (a `recproof_checks::Tolerances` as JSON).
        #[serde(default)]
        tolerances: serde_json::Value,
    },
    /// What the harness SRC meant by a recording session it opened at a recorder under
    /// test (written when it sends the INVITE): which case it is and how it was written,
    /// so the checks know what the recorder's answer should have been. The harness's
    /// own intent, like [`Event::Expectation`]; never the recorder's account.
    RsCase {
        /// Call-ID of the recording session's INVITE.
        rs_call_id: String,
        /// The case (`valid`, `plain-invite`, `malformed-xml`...; the checks' table
        /// names them).
        case: String,
        /// Dialect the session was written in (`rfc-strict`, `broadworks-compat`).
        dialect: String,
        /// How the body was written (`metadata-first crlf no-space rs-metadata+xml`...).
        style: String,
        /// SDP labels offered, one per m-line, in order.
        labels: Vec<String>,
        /// Codecs offered per m-line, in order (`PCMU`, `PCMA`).
        codecs: Vec<Vec<String>>,
    },
    /// A harness call ended.
    CallEnded {
        /// Why (`bye`, `timeout`, `rejected 486`...).
        reason: String,
    },
    /// The kernel dropped datagrams in the harness's own receive buffers during the run
    /// (it did not read fast enough): loss the SUT did not cause. A real-time
    /// `recproof check` call logs it (zero included) under the call's label whenever the
    /// kernel's count can be read, and the call's `precondition.harness_intact` judges it;
    /// `recproof platform` and `recproof srs` log it at the end when above zero.
    HarnessReceiveDrops {
        /// Datagrams dropped on the harness's sockets.
        datagrams: u64,
    },
    /// This call was rebuilt from a packet capture (`recproof judge CAPTURE.pcap`), not
    /// observed by recproof's own roles: written first in each imported call, it says
    /// where the capture came from and what its audio was, so checks that need
    /// recproof's instrumented audio (party identity per frame, exact latency) can say
    /// they were not judged instead of failing or passing on audio they cannot read.
    CaptureImported {
        /// The capture file as given.
        capture: String,
        /// What the call's decoded audio was.
        audio: CaptureAudio,
        /// The capture holds this call's recording session(s) but neither of its legs
        /// (a capture taken at the recorder): only the recording session's own rules can
        /// be judged.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recording_only: bool,
    },
    /// Last line of a complete log.
    RunEnded {
        /// True when the run was interrupted (Ctrl-C) and the log is partial.
        interrupted: bool,
    },
}

/// What the audio of an imported call was (see [`Event::CaptureImported`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureAudio {
    /// recproof's instrumented party signal was decoded: every audio check applies.
    Instrumented,
    /// Audio with sound was decoded, none of it recproof's instrumented signal (real
    /// speech, a foreign tool's prompts): who spoke cannot be told frame by frame, only
    /// where there was sound ([`Source::Unknown`] segments).
    Uninstrumented,
    /// RTP flowed but could not be decoded: encrypted (SRTP) or in a codec recproof does
    /// not decode (only G.711 is): nothing about what was heard or recorded can be told.
    Undecoded,
    /// The call carried no audio at all.
    None,
}

/// Appends observations to a JSONL sink, one line each, flushed per line so a killed run
/// leaves a readable log.
pub struct LogWriter<W: Write> {
    sink: W,
    written: u64,
}

impl<W: Write> LogWriter<W> {
    /// Wraps a sink.
    pub fn new(sink: W) -> Self {
        Self { sink, written: 0 }
    }

    /// Writes one observation.
    pub fn append(&mut self, observation: &Observation) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.sink, observation)?;
        self.sink.write_all(b"\n")?;
        self.sink.flush()?;
        self.written += 1;
        Ok(())
    }

    /// How many observations were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Gives the sink back.
    pub fn into_inner(self) -> W {
        self.sink
    }
}

/// A line of a log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LogProblem {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// A log read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    /// The observations in file order.
    pub observations: Vec<Observation>,
    /// Lines that were skipped (a truncated last line after Ctrl-C, a newer schema's
    /// unknown events...). Checks report these rather than silently ignoring them.
    pub problems: Vec<LogProblem>,
}

impl Log {
    /// The schema version named by the first `run_started`, if any.
    pub fn schema(&self) -> Option<u32> {
        self.observations.iter().find_map(|o| match &o.event {
            Event::RunStarted { schema, .. } => Some(*schema),
            _ => None,
        })
    }

    /// The observations of one call.
    pub fn call<'a>(&'a self, call: &'a str) -> impl Iterator<Item = &'a Observation> {
        self.observations
            .iter()
            .filter(move |o| o.call.as_deref() == Some(call))
    }
}

/// Reads a JSONL log. Never fails on content: unreadable lines become [`LogProblem`]s.
pub fn read_log(reader: impl BufRead) -> std::io::Result<Log> {
    let mut log = Log::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Observation>(&line) {
            Ok(o) => log.observations.push(o),
            Err(e) => log.problems.push(LogProblem {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    Ok(log)
}

/// Bounds how many findings of one kind a flood can put in the log: at most
/// `per_second` in any one-second window; the rest are counted, and the count is handed
/// back with the first finding of a later window, to be logged as one aggregate line.
/// Pure (fed the run clock in µs), so every role and driver can use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodLimit {
    per_second: u32,
    window_start_us: u64,
    in_window: u32,
    suppressed: u64,
}

/// What [`FloodLimit::admit`] says about one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admit {
    /// Log this finding.
    pub log: bool,
    /// Findings not logged in earlier windows, to report in one line now.
    pub suppressed_before: Option<u64>,
}

impl FloodLimit {
    /// At most `per_second` findings a second.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window_start_us: 0,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// One finding at `t_us`: whether to log it, and what was suppressed before.
    pub fn admit(&mut self, t_us: u64) -> Admit {
        let mut suppressed_before = None;
        if t_us.saturating_sub(self.window_start_us) >= 1_000_000 {
            self.window_start_us = t_us;
            self.in_window = 0;
            if self.suppressed > 0 {
                suppressed_before = Some(std::mem::take(&mut self.suppressed));
            }
        }
        let log = self.in_window < self.per_second;
        if log {
            self.in_window += 1;
        } else {
            self.suppressed += 1;
        }
        Admit {
            log,
            suppressed_before,
        }
    }

    /// The one line that reports `n` unusable datagrams of a flood not logged one by
    /// one (a `sip_malformed` with no bytes).
    pub fn summary(transport: &str, n: u64, per_second: u32) -> Event {
        Event::SipMalformed {
            transport: transport.to_owned(),
            remote: String::new(),
            message: Payload::from_bytes(b""),
            reason: format!(
                "{n} more unusable datagrams were not logged one by one (at most {per_second} a second)"
            ),
        }
    }

    /// The one line that reports `n` refused requests of a flood not logged one by one
    /// (a `sip_refused` with no bytes and status 0).
    pub fn refused_summary(transport: &str, n: u64, per_second: u32) -> Event {
        Event::SipRefused {
            transport: transport.to_owned(),
            remote: String::new(),
            status: 0,
            reason: format!(
                "{n} more refused requests were not logged one by one (at most {per_second} a second)"
            ),
            message: Payload::from_bytes(b""),
        }
    }

    /// Findings counted but not yet reported (for a last line when the run ends).
    pub fn pending(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_flood_logs_at_most_its_limit_a_second_and_reports_the_rest_once() {
        let mut f = super::FloodLimit::new(3);
        let logged: Vec<bool> = (0..10).map(|i| f.admit(i * 1000).log).collect();
        assert_eq!(logged.iter().filter(|l| **l).count(), 3);
        assert_eq!(f.pending(), 7);
        let next = f.admit(1_500_000);
        assert!(next.log);
        assert_eq!(next.suppressed_before, Some(7));
        assert_eq!(f.pending(), 0);
    }

    use super::*;

    fn sample() -> Vec<Observation> {
        vec![
            Observation {
                t_us: 0,
                call: None,
                actor: Actor::Harness,
                event: Event::RunStarted {
                    schema: SCHEMA_VERSION,
                    seed: 7,
                    sut: "embedded-reference".into(),
                    clock: Clock::Simulated,
                    tool_version: "0.1.0".into(),
                },
            },
            Observation {
                t_us: 1_500,
                call: Some("call-0001".into()),
                actor: Actor::Srs,
                event: Event::SipReceived {
                    transport: "udp".into(),
                    local: "127.0.0.1:5080".into(),
                    remote: "127.0.0.1:5060".into(),
                    message: Payload::from_bytes(b"INVITE sip:srs@127.0.0.1 SIP/2.0\r\n\r\n"),
                },
            },
            Observation {
                t_us: 2_000,
                call: Some("call-0001".into()),
                actor: Actor::Caller,
                event: Event::MediaSegment {
                    stream: "caller.heard".into(),
                    source: Source::Announcement {
                        clip: "start".into(),
                    },
                    start_us: 2_000,
                    end_us: 3_202_000,
                    frames: 160,
                    latency: None,
                },
            },
            Observation {
                t_us: 9,
                call: None,
                actor: Actor::Capture,
                event: Event::SipMalformed {
                    transport: "udp".into(),
                    remote: "127.0.0.1:9".into(),
                    message: Payload::from_bytes(&[0xff, 0x00, b'x']),
                    reason: "not UTF-8".into(),
                },
            },
        ]
    }

    #[test]
    fn round_trips_through_jsonl() {
        let mut w = LogWriter::new(Vec::new());
        for o in sample() {
            w.append(&o).expect("write");
        }
        assert_eq!(w.written(), 4);
        let bytes = w.into_inner();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(
            text.lines()
                .nth(1)
                .expect("line")
                .contains(r#""event":"sip_received""#),
            "{text}"
        );
        let log = read_log(bytes.as_slice()).expect("read");
        assert_eq!(log.observations, sample());
        assert!(log.problems.is_empty());
        assert_eq!(log.schema(), Some(SCHEMA_VERSION));
        assert_eq!(log.call("call-0001").count(), 2);
        let Event::SipMalformed { message, .. } = &log.observations[3].event else {
            panic!("kind")
        };
        assert_eq!(
            message.to_bytes(),
            vec![0xff, 0x00, b'x'],
            "binary payloads are lossless"
        );
    }

    #[test]
    fn truncated_and_unknown_lines_are_problems_not_errors() {
        let mut w = LogWriter::new(Vec::new());
        for o in sample() {
            w.append(&o).expect("write");
        }
        let mut bytes = w.into_inner();
        bytes.extend_from_slice(b"{\"t_us\":5,\"actor\":\"srs\",\"event\":\"from_the_future\"}\n");
        bytes.extend_from_slice(b"{\"t_us\":6,\"actor\":\"srs\",\"eve");
        let log = read_log(bytes.as_slice()).expect("read");
        assert_eq!(log.observations.len(), 4);
        assert_eq!(
            log.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            vec![5, 6]
        );
    }
}
