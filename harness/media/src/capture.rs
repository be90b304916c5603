//! The RTP audio streams of a capture: pcap bytes in, one decoded stream per UDP flow and
//! SSRC out.
//!
//! Owns: grouping a capture's datagrams into flows, telling RTP flows from the rest (SIP,
//! DNS), decoding their G.711 payloads into timed audio and their telephone-events into a
//! DTMF receiver, with each flow's RFC 3550 receive statistics. Both the offline analysis
//! ([`crate::analysis::analyze_pcap`]) and the WAV evidence of a captured call
//! ([`write_stream_wavs`]) start from here, so a stream is split out the same way for both.
//!
//! Must not touch: judging. Bounded on hostile captures (packets kept per flow are
//! capped) and never panics on malformed bytes.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SAMPLE_RATE;
use crate::dtmf::DtmfReceiver;
use crate::g711::Law;
use crate::pcap::{PcapError, read_datagrams};
use crate::rtp::{ReceiveStats, RtpEvent, RtpReceiver};
use crate::timeline::{TimedAudio, Timeline};
use crate::wav::{WavError, write_wav_file};

/// Most packets kept per flow (about 11 hours at 50 packets/s); bounds memory on hostile
/// captures.
const MAX_PACKETS_PER_FLOW: usize = 2_000_000;

/// Streams with fewer audio packets than this are not kept (a stray packet is no stream).
const MIN_PACKETS: usize = 5;

/// One RTP source's audio in a capture, decoded.
#[derive(Debug)]
pub struct DecodedStream {
    /// The flow's source.
    pub src: SocketAddr,
    /// The flow's destination.
    pub dst: SocketAddr,
    /// The RTP source.
    pub ssrc: u32,
    /// The G.711 payload type of its audio (0 or 8).
    pub payload_type: u8,
    /// Its audio packets, arrival times counted from the capture's first datagram.
    pub packets: Vec<TimedAudio>,
    /// Its telephone-events.
    pub dtmf: DtmfReceiver,
    /// Its RFC 3550 receive statistics.
    pub stats: Option<ReceiveStats>,
    /// SSRC changes seen on its flow.
    pub ssrc_changes: u64,
}

impl DecodedStream {
    /// The audio laid out on its RTP timeline (gaps filled with silence), position 0 its
    /// earliest timestamp.
    pub fn timeline(&self) -> Timeline {
        let first_ts = self.packets.iter().map(|p| p.ts).min().unwrap_or(0);
        Timeline::build(
            self.packets
                .iter()
                .map(|p| TimedAudio {
                    ts: p.ts - first_ts,
                    arrival: p.arrival,
                    pcm: p.pcm.clone(),
                })
                .collect(),
        )
    }
}

/// A UDP flow: (source, destination).
type FlowKey = (SocketAddr, SocketAddr);

/// A flow's datagrams: arrival since the capture's first datagram, and payload.
type FlowDatagrams<'a> = Vec<(Duration, &'a [u8])>;

/// The RTP audio streams of a pcap or pcapng capture, in order of their flows' first
/// datagram. Flows most of whose datagrams are not RTP are skipped.
pub fn decode_streams(bytes: &[u8]) -> Result<Vec<DecodedStream>, PcapError> {
    let cap = read_datagrams(bytes)?;
    let t0 = cap.datagrams.first().map_or(Duration::ZERO, |d| d.ts);
    let mut flows: Vec<(FlowKey, FlowDatagrams)> = Vec::new();
    let mut index: HashMap<FlowKey, usize> = HashMap::new();
    for d in &cap.datagrams {
        let key = (d.src, d.dst);
        let i = *index.entry(key).or_insert_with(|| {
            flows.push((key, Vec::new()));
            flows.len() - 1
        });
        if let Some((_, v)) = flows.get_mut(i)
            && v.len() < MAX_PACKETS_PER_FLOW
        {
            v.push((d.ts.saturating_sub(t0), &d.payload));
        }
    }
    let mut out = Vec::new();
    for ((src, dst), pkts) in flows {
        let mut rx = RtpReceiver::new(SAMPLE_RATE);
        let mut audio: BTreeMap<u32, (u8, Vec<TimedAudio>, DtmfReceiver)> = BTreeMap::new();
        let mut parsed = 0usize;
        for (arrival, bytes) in &pkts {
            if rx.handle_datagram(*arrival, bytes).is_ok() {
                parsed += 1;
            }
            while let Some(ev) = rx.poll_event() {
                let RtpEvent::Packet(p) = ev else { continue };
                let entry = audio
                    .entry(p.ssrc.0)
                    .or_insert_with(|| (p.payload_type, Vec::new(), DtmfReceiver::new()));
                if let Some(law) = Law::from_payload_type(p.payload_type) {
                    entry.0 = p.payload_type;
                    entry.1.push(TimedAudio {
                        ts: p.ts,
                        arrival: p.arrival,
                        pcm: law.decode(&p.payload),
                    });
                } else if p.payload_type >= 96 && p.payload.len() == 4 {
                    // A dynamic payload type with 4-byte payloads: telephone-event.
                    let _ = entry.2.handle(p.ts, &p.payload);
                }
            }
        }
        // Not an RTP flow (SIP, DNS, ...): most datagrams failed to parse.
        if parsed * 5 < pkts.len() * 4 {
            continue;
        }
        let stats = rx.stats();
        let ssrc_changes = rx.ssrc_changes();
        for (ssrc, (payload_type, packets, dtmf)) in audio {
            if packets.len() < MIN_PACKETS {
                continue;
            }
            out.push(DecodedStream {
                src,
                dst,
                ssrc,
                payload_type,
                packets,
                dtmf,
                stats: stats.iter().find(|s| s.ssrc.0 == ssrc).cloned(),
                ssrc_changes,
            });
        }
    }
    Ok(out)
}

/// Why a capture's streams could not be written as WAV files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamWavError {
    /// The capture could not be read.
    #[error(transparent)]
    Pcap(#[from] PcapError),
    /// A WAV file could not be written.
    #[error(transparent)]
    Wav(#[from] WavError),
}

/// Writes each RTP audio stream of a capture as a 16-bit 8 kHz WAV file in `dir`, named
/// after its flow (`rtp-127.0.0.1_20000-to-127.0.0.1_44000-0x1234abcd.wav`), so a failed
/// call's audio can be listened to beside its packets. Returns the files written.
pub fn write_stream_wavs(bytes: &[u8], dir: &Path) -> Result<Vec<PathBuf>, StreamWavError> {
    let mut written = Vec::new();
    for s in decode_streams(bytes)? {
        let flow: String = format!("{}-to-{}", s.src, s.dst)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("rtp-{flow}-{:#010x}.wav", s.ssrc));
        write_wav_file(&path, SAMPLE_RATE, &s.timeline().pcm)?;
        written.push(path);
    }
    Ok(written)
}
