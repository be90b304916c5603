//! What `recproof analyze` reports for a WAV or pcap file.
//!
//! Owns: turning a recording (WAV, any common rate, any channel count, PCM or G.711) or a
//! capture (every RTP audio stream in it, G.711 decoded) into a serialisable [`Report`]:
//! tone bursts, occurrences of a reference clip, silences, instrumented-frame summary, RTP
//! statistics, and, when a capture holds the same party's frames in several streams, the
//! latency between those streams (for example party-to-recorder at an SBC).
//!
//! Must not touch: command-line parsing and printing (that is the CLI's job). File I/O
//! happens only in [`analyze_file`] and [`load_reference`]; everything else is bytes in.
//!
//! Times in the report are seconds from the start of each stream (for pcap: from the
//! stream's first RTP timestamp; its first packet's capture time is given separately).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::capture::decode_streams;
use crate::clip::{ClipConfig, ClipDetector, ClipError};
use crate::dtmf::DtmfEvent;
use crate::energy::{SilenceConfig, SilenceDetector};
use crate::g711::Law;
use crate::pcap::PcapError;
use crate::signal::{
    DecoderConfig, FrameDecoder, FrameEvent, FrameTracker, LatencyStats, Modem, PartyFrameReport,
    SignalConfig, SignalError,
};
use crate::tone::{ToneConfig, ToneDetector};
use crate::wav::{WavError, read_wav};
use crate::{SAMPLE_RATE, resample, synth};

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    /// Tone frequencies to detect (empty: no tone detection).
    pub tones_hz: Vec<f64>,
    /// Tone detector tuning (its `freqs_hz` is replaced by `tones_hz`).
    pub tone: ToneConfig,
    /// Reference clip at 8 kHz (e.g. the announcement), if any.
    pub reference: Option<Vec<i16>>,
    /// Clip detector tuning.
    pub clip: ClipConfig,
    /// Silence tuning.
    pub silence: SilenceConfig,
    /// Instrumented-signal configuration (must match the sender's).
    pub signal: SignalConfig,
    /// Frame decoder thresholds.
    pub decoder: DecoderConfig,
}

/// Why a file could not be analysed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// The file could not be read from disk.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Neither WAV nor pcap/pcapng.
    #[error("`{0}` is neither a WAV file nor a pcap/pcapng capture (first bytes not recognised)")]
    UnknownFormat(String),
    /// A WAV file that could not be decoded.
    #[error("`{name}` is not a usable WAV file")]
    Wav {
        /// The file.
        name: String,
        /// Why.
        #[source]
        source: WavError,
    },
    /// A capture that could not be decoded.
    #[error("`{name}` is not a usable capture")]
    Pcap {
        /// The file.
        name: String,
        /// Why.
        #[source]
        source: PcapError,
    },
    /// The reference clip cannot be used.
    #[error("reference clip `{name}` cannot be used")]
    Reference {
        /// The file.
        name: String,
        /// Why.
        #[source]
        source: ClipError,
    },
    /// The instrumented-signal configuration is invalid.
    #[error("invalid instrumented-signal configuration")]
    Signal(#[from] SignalError),
}

/// The whole analysis: one entry per stream found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every stream, in file order.
    pub streams: Vec<StreamReport>,
    /// Latency between streams carrying the same party's frames (pcap input).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cross_stream_latency: Vec<CrossLatency>,
}

/// Findings for one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    /// `file` for mono WAV, `file#chN` for multi-channel, `file src -> dst ssrc` for RTP.
    pub name: String,
    /// Length in seconds.
    pub duration_s: f64,
    /// How the audio was stored (`16-bit PCM`, `G.711 PCMU`, `RTP PCMA`, ...).
    pub encoding: String,
    /// Original sample rate (resampled to 8 kHz for analysis).
    pub sample_rate_hz: u32,
    /// Overall RMS level in dBFS.
    pub level_dbfs: f64,
    /// Tone bursts.
    pub tones: Vec<ToneReport>,
    /// Occurrences of the reference clip.
    pub reference_matches: Vec<MatchReport>,
    /// Silences (200 ms or longer by default).
    pub silences: Vec<SilenceReport>,
    /// Instrumented party frames found, per party (empty for ordinary audio).
    pub instrumented: Vec<PartyFrameReport>,
    /// RTP statistics (pcap input only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rtp: Option<RtpReport>,
}

/// One tone burst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneReport {
    /// The configured frequency matched.
    pub freq_hz: f64,
    /// Onset (s).
    pub start_s: f64,
    /// End (s).
    pub end_s: f64,
    /// Level of the tone (dBFS).
    pub level_dbfs: f64,
}

/// One occurrence of the reference clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchReport {
    /// Onset of the clip (s).
    pub start_s: f64,
    /// Normalised correlation (1.0 = identical).
    pub score: f64,
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceReport {
    /// Start (s).
    pub start_s: f64,
    /// End (s).
    pub end_s: f64,
}

/// RTP facts about a stream found in a capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtpReport {
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// SSRC (hex).
    pub ssrc: String,
    /// Audio payload type.
    pub payload_type: u8,
    /// Capture time of the first packet, seconds since the capture's first datagram.
    pub first_packet_s: f64,
    /// Packets accepted.
    pub packets: u64,
    /// Sequence numbers expected.
    pub expected: u64,
    /// Sequence numbers never received.
    pub missing: u64,
    /// Fraction missing.
    pub loss_fraction: f64,
    /// Duplicates.
    pub duplicates: u64,
    /// Packets received out of order.
    pub reordered: u64,
    /// RFC 3550 interarrival jitter at the end of the stream (ms).
    pub jitter_ms: f64,
    /// Largest jitter value during the stream (ms).
    pub max_jitter_ms: f64,
    /// SSRC switches on this flow.
    pub ssrc_changes: u64,
    /// Sequence restarts.
    pub restarts: u64,
    /// RFC 4733 key presses seen on the same SSRC.
    pub dtmf: Vec<DtmfEvent>,
}

/// Latency of one party's frames between two streams of a capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossLatency {
    /// The party.
    pub party: u8,
    /// Stream where the frames appear first.
    pub from: String,
    /// Stream where they appear later.
    pub to: String,
    /// Frames seen in both.
    pub frames: u64,
    /// Arrival-time difference statistics.
    pub latency: LatencyStats,
}

/// Analyse 8 kHz PCM. Returns the report and the decoded frames (positions in samples).
pub fn analyze_pcm(
    name: &str,
    pcm: &[i16],
    cfg: &AnalysisConfig,
) -> Result<(StreamReport, Vec<FrameEvent>), AnalysisError> {
    let fs = f64::from(SAMPLE_RATE);
    let chunk = 8000;
    let mut tones = (!cfg.tones_hz.is_empty()).then(|| {
        ToneDetector::new(ToneConfig {
            freqs_hz: cfg.tones_hz.clone(),
            ..cfg.tone.clone()
        })
    });
    let mut clip = match &cfg.reference {
        Some(r) => Some(ClipDetector::new(r, cfg.clip.clone()).map_err(|source| {
            AnalysisError::Reference {
                name: "reference".into(),
                source,
            }
        })?),
        None => None,
    };
    let mut silence = SilenceDetector::new(cfg.silence.clone());
    let modem = Arc::new(Modem::new(&cfg.signal)?);
    let mut frames = FrameDecoder::new(modem, cfg.decoder.clone());
    for (i, c) in pcm.chunks(chunk).enumerate() {
        let at = (i * chunk) as u64;
        if let Some(t) = &mut tones {
            t.push(at, c);
        }
        if let Some(k) = &mut clip {
            k.push(at, c);
        }
        silence.push(at, c);
        frames.push(at, c);
    }
    let mut tone_reports = Vec::new();
    if let Some(t) = &mut tones {
        t.finish();
        while let Some(e) = t.poll_event() {
            tone_reports.push(ToneReport {
                freq_hz: e.freq_hz,
                start_s: e.start / fs,
                end_s: e.end / fs,
                level_dbfs: e.level_dbfs,
            });
        }
        tone_reports.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }
    let mut matches = Vec::new();
    if let Some(k) = &mut clip {
        k.finish();
        while let Some(m) = k.poll_event() {
            matches.push(MatchReport {
                start_s: m.start / fs,
                score: m.score,
            });
        }
    }
    silence.finish();
    let silences = std::iter::from_fn(|| silence.poll_event())
        .map(|s| SilenceReport {
            start_s: s.start as f64 / fs,
            end_s: s.end as f64 / fs,
        })
        .collect();
    frames.finish();
    let events: Vec<FrameEvent> = std::iter::from_fn(|| frames.poll_event()).collect();
    let mut tracker = FrameTracker::new(&[]);
    for e in &events {
        tracker.record(e, None);
    }
    let report = StreamReport {
        name: name.to_string(),
        duration_s: pcm.len() as f64 / fs,
        encoding: "16-bit PCM".into(),
        sample_rate_hz: SAMPLE_RATE,
        level_dbfs: round2(synth::rms_dbfs(pcm)),
        tones: tone_reports,
        reference_matches: matches,
        silences,
        instrumented: tracker.report(),
        rtp: None,
    };
    Ok((report, events))
}

fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        -200.0
    }
}

/// Analyse a WAV file held in memory: one stream per channel.
pub fn analyze_wav(
    name: &str,
    bytes: &[u8],
    cfg: &AnalysisConfig,
) -> Result<Report, AnalysisError> {
    let audio = read_wav(bytes).map_err(|source| AnalysisError::Wav {
        name: name.into(),
        source,
    })?;
    let multi = audio.channels.len() > 1;
    let mut report = Report::default();
    for (i, ch) in audio.channels.iter().enumerate() {
        let pcm = resample::to_8k(ch, audio.sample_rate);
        let stream_name = if multi {
            format!("{name}#ch{}", i + 1)
        } else {
            name.to_string()
        };
        let (mut s, _) = analyze_pcm(&stream_name, &pcm, cfg)?;
        s.encoding = audio.encoding.clone();
        s.sample_rate_hz = audio.sample_rate;
        s.duration_s = ch.len() as f64 / f64::from(audio.sample_rate);
        report.streams.push(s);
    }
    Ok(report)
}

/// Analyse a pcap/pcapng capture held in memory: one stream per RTP flow and SSRC carrying
/// G.711 (payload type 0 or 8).
pub fn analyze_pcap(
    name: &str,
    bytes: &[u8],
    cfg: &AnalysisConfig,
) -> Result<Report, AnalysisError> {
    let streams = decode_streams(bytes).map_err(|source| AnalysisError::Pcap {
        name: name.into(),
        source,
    })?;
    let mut report = Report::default();
    // (stream index, party, frame) -> arrival seconds
    let mut arrivals: Vec<(usize, u8, u64, f64)> = Vec::new();
    for mut d in streams {
        let timeline = d.timeline();
        let (src, dst, ssrc) = (d.src, d.dst, d.ssrc);
        let stream_name = format!("{name} {src} -> {dst} ssrc {ssrc:#010x}");
        let (mut s, events) = analyze_pcm(&stream_name, &timeline.pcm, cfg)?;
        let law = Law::from_payload_type(d.payload_type).unwrap_or(Law::Ulaw);
        s.encoding = format!("RTP {}", law.encoding_name());
        d.dtmf.finish();
        let first_arrival = d
            .packets
            .iter()
            .map(|p| p.arrival)
            .min()
            .unwrap_or_default();
        s.rtp = d.stats.as_ref().map(|st| RtpReport {
            src,
            dst,
            ssrc: format!("{ssrc:#010x}"),
            payload_type: d.payload_type,
            first_packet_s: first_arrival.as_secs_f64(),
            packets: st.unique,
            expected: st.expected,
            missing: st.missing,
            loss_fraction: st.loss_fraction(),
            duplicates: st.duplicates,
            reordered: st.reordered,
            jitter_ms: st.jitter_ms,
            max_jitter_ms: st.max_jitter_ms,
            ssrc_changes: d.ssrc_changes,
            restarts: st.restarts,
            dtmf: std::iter::from_fn(|| d.dtmf.poll_event()).collect(),
        });
        let idx = report.streams.len();
        for e in &events {
            if let Some(a) = timeline.arrival_at(e.start) {
                arrivals.push((idx, e.party.0, e.frame, a));
            }
        }
        report.streams.push(s);
    }
    report.cross_stream_latency = cross_latency(&report.streams, &arrivals);
    Ok(report)
}

fn cross_latency(
    streams: &[StreamReport],
    arrivals: &[(usize, u8, u64, f64)],
) -> Vec<CrossLatency> {
    let mut by_key: HashMap<(u8, u64), Vec<(usize, f64)>> = HashMap::new();
    for &(s, p, f, a) in arrivals {
        by_key.entry((p, f)).or_default().push((s, a));
    }
    let mut pairs: BTreeMap<(u8, usize, usize), Vec<f64>> = BTreeMap::new();
    for ((party, _), v) in &by_key {
        for &(sa, aa) in v {
            for &(sb, ab) in v {
                if sa != sb {
                    pairs
                        .entry((*party, sa, sb))
                        .or_default()
                        .push((ab - aa) * 1000.0);
                }
            }
        }
    }
    pairs
        .into_iter()
        .filter_map(|((party, a, b), lat)| {
            let stats = LatencyStats::of(&lat)?;
            // Keep the direction in which the frames arrive later.
            (stats.p50_ms >= 0.0 && (stats.p50_ms > 0.0 || a < b)).then(|| CrossLatency {
                party,
                from: streams.get(a).map(|s| s.name.clone()).unwrap_or_default(),
                to: streams.get(b).map(|s| s.name.clone()).unwrap_or_default(),
                frames: lat.len() as u64,
                latency: stats,
            })
        })
        .collect()
}

/// Analyse bytes whose format is recognised by their first bytes.
pub fn analyze_bytes(
    name: &str,
    bytes: &[u8],
    cfg: &AnalysisConfig,
) -> Result<Report, AnalysisError> {
    match bytes.get(0..4) {
        Some(b"RIFF") | Some(b"RIFX") | Some(b"RF64") => analyze_wav(name, bytes, cfg),
        Some([0xD4, 0xC3, 0xB2, 0xA1])
        | Some([0xA1, 0xB2, 0xC3, 0xD4])
        | Some([0x4D, 0x3C, 0xB2, 0xA1])
        | Some([0xA1, 0xB2, 0x3C, 0x4D])
        | Some([0x0A, 0x0D, 0x0D, 0x0A]) => analyze_pcap(name, bytes, cfg),
        _ => Err(AnalysisError::UnknownFormat(name.into())),
    }
}

/// Read and analyse one file.
pub fn analyze_file(path: &Path, cfg: &AnalysisConfig) -> Result<Report, AnalysisError> {
    let bytes = std::fs::read(path).map_err(|source| AnalysisError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    analyze_bytes(&path.display().to_string(), &bytes, cfg)
}

/// Load a reference clip from a WAV file: channels averaged, resampled to 8 kHz.
pub fn load_reference(path: &Path) -> Result<Vec<i16>, AnalysisError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| AnalysisError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let audio = read_wav(&bytes).map_err(|source| AnalysisError::Wav {
        name: name.clone(),
        source,
    })?;
    let n = audio.channels.first().map_or(0, Vec::len);
    let k = audio.channels.len().max(1) as i32;
    let mono: Vec<i16> = (0..n)
        .map(|i| {
            let s: i32 = audio
                .channels
                .iter()
                .map(|c| i32::from(c.get(i).copied().unwrap_or(0)))
                .sum();
            (s / k) as i16
        })
        .collect();
    let pcm = resample::to_8k(&mono, audio.sample_rate);
    // Validate now so the error names the file.
    ClipDetector::new(&pcm, ClipConfig::default())
        .map_err(|source| AnalysisError::Reference { name, source })?;
    Ok(pcm)
}
