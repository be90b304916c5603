//! RTP (RFC 3550) for recproof: parse, build, pace, and judge a received stream.
//!
//! Owns:
//! - [`parse`]: bytes in, a validated [`Packet`] out (wire format from `rtc-rtp`; this module
//!   adds the version and RTCP checks that crate leaves to its users). Fuzz target material.
//! - [`RtpSender`]: per-stream sending state (SSRC, sequence number, timestamp, marker).
//! - [`Pacer`]: the 20 ms send schedule, computed from the start time so it never drifts.
//! - [`RtpReceiver`]: per-SSRC receive state and RFC 3550 statistics (loss, interarrival
//!   jitter, duplicates, reordering, SSRC changes), reported as [`RtpEvent`]s.
//! - [`extend_seq`] / [`extend_ts`]: 16/32-bit wrap-around extension to 64 bits.
//!
//! Must not touch: sockets, clocks, threads. Every time is an argument (`Duration` since an
//! epoch the driver picks; only differences matter), so a simulated clock works unchanged.
//! RTCP, SRTP and jitter-buffer playout are not here.
//!
//! Deviations from RFC 3550 Appendix A.1, written down as `docs/rtp.md` in str0m does:
//! - "a source is declared valid only after MIN_SEQUENTIAL packets have been received in
//!   sequence": we do not hold packets back during probation. A compliance harness must see
//!   every packet a SUT sends, including the first one.
//! - "cumulative number of packets lost ... expected - received": reported as
//!   [`ReceiveStats::lost`] (signed, as in the RFC), and we also report
//!   [`ReceiveStats::missing`], which does not count duplicates as received.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use rtc_rtp::header::Header;
use serde::{Deserialize, Serialize};
use shared::marshal::{Marshal, Unmarshal};

pub use rtc_rtp::Packet;

use rtc_shared as shared;

/// Length of the fixed RTP header (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;

/// Largest forward sequence jump still treated as loss rather than a restart
/// (RFC 3550 A.1 `MAX_DROPOUT`).
pub const MAX_DROPOUT: u64 = 3000;
/// Largest backward sequence step still treated as reordering (RFC 3550 A.1 `MAX_MISORDER`).
pub const MAX_MISORDER: u64 = 100;

/// An RTP synchronisation source identifier.
///
/// A newtype so an SSRC cannot be confused with a timestamp or sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ssrc(pub u32);

impl std::fmt::Display for Ssrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// A sequence number extended to 64 bits, so wrap-around never confuses ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeqNo(pub u64);

impl SeqNo {
    /// The 16-bit value on the wire.
    pub fn wire(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

/// Why a datagram is not an acceptable RTP packet.
///
/// Peers send garbage; this is data for a violation record, never a reason to panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Fewer bytes than the fixed header.
    #[error("datagram of {len} bytes is too short for an RTP header (need at least 12)")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version is {0}, expected 2")]
    BadVersion(u8),
    /// The second byte is an RTCP packet type (200-204), so this is RTCP on the RTP port
    /// (RFC 5761 multiplexing) rather than RTP.
    #[error("packet type {0} is RTCP, not RTP")]
    Rtcp(u8),
    /// The header is inconsistent with the datagram length (CSRC list, extension, padding).
    #[error("malformed RTP packet: {0}")]
    Malformed(String),
    /// A telephone-event payload shorter than 4 bytes (RFC 4733 §2.3).
    #[error("telephone-event payload of {0} bytes is too short (need 4)")]
    ShortEvent(usize),
    /// Building a packet failed (the payload does not fit a datagram).
    #[error("cannot build RTP packet: {0}")]
    Build(String),
    /// A new SSRC on a flow that already tracks [`MAX_SOURCES`] of them: the packet is
    /// not accounted (a peer spraying SSRCs must not cost unbounded memory).
    #[error(
        "SSRC {ssrc:08x} would be source number {} on this flow; at most {max} are tracked",
        max + 1
    )]
    TooManySources {
        /// The refused SSRC.
        ssrc: u32,
        /// The cap.
        max: usize,
    },
}

/// Parse one datagram as RTP.
///
/// Bytes in, packet out: never panics, whatever the input (see the proptest in
/// `tests/robustness.rs`). Padding is removed from the payload.
pub fn parse(bytes: &[u8]) -> Result<Packet, RtpError> {
    let Some(&b0) = bytes.first() else {
        return Err(RtpError::TooShort { len: 0 });
    };
    if bytes.len() < HEADER_LEN {
        return Err(RtpError::TooShort { len: bytes.len() });
    }
    let version = b0 >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion(version));
    }
    let b1 = bytes.get(1).copied().unwrap_or(0);
    if (200..=204).contains(&b1) {
        return Err(RtpError::Rtcp(b1));
    }
    let mut buf = bytes;
    Packet::unmarshal(&mut buf).map_err(|e| RtpError::Malformed(e.to_string()))
}

/// Serialise a packet to bytes.
pub fn serialize(pkt: &Packet) -> Result<Bytes, RtpError> {
    pkt.marshal()
        .map(|b| b.freeze())
        .map_err(|e| RtpError::Build(e.to_string()))
}

/// Extend a 16-bit sequence number to 64 bits, picking the value nearest to `prev`.
///
/// Same rule as str0m's `extend_u16`: with no previous value the number is taken as is;
/// otherwise the candidate in the previous, same or next 65536-cycle closest to `prev`
/// wins, so `Some(65_535), 0` gives `65_536` and `Some(65_536), 65_535` gives `65_535`.
pub fn extend_seq(prev: Option<u64>, seq: u16) -> u64 {
    extend_bits(prev, u64::from(seq), 16)
}

/// Extend a 32-bit RTP timestamp to 64 bits, picking the value nearest to `prev`.
pub fn extend_ts(prev: Option<u64>, ts: u32) -> u64 {
    extend_bits(prev, u64::from(ts), 32)
}

/// Extend a `bits`-wide counter to 64 bits, nearest to `prev` (shared by RTP sequence
/// numbers, timestamps and the instrumented frame counter).
pub fn extend_bits(prev: Option<u64>, value: u64, bits: u32) -> u64 {
    let modulus = 1u64 << bits;
    let value = value & (modulus - 1);
    let Some(prev) = prev else {
        return value;
    };
    let cycle = prev >> bits;
    let candidates = [
        cycle.checked_sub(1).map(|c| (c << bits) | value),
        Some((cycle << bits) | value),
        cycle.checked_add(1).map(|c| (c << bits) | value),
    ];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|&c| c.abs_diff(prev))
        .unwrap_or(value)
}

/// Sending state of one RTP stream.
///
/// Exists because rtc-rtp's `Packetizer` reads the wall clock (`SystemInstant::now`) and
/// draws its initial timestamp from the thread RNG: neither is allowed in a sans-IO,
/// seeded harness. The wire format still comes from rtc-rtp (`Packet::marshal`).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: Ssrc,
    payload_type: u8,
    seq: u64,
    ts: u64,
    marker_next: bool,
}

impl RtpSender {
    /// A sender whose first packet carries `first_seq` and `first_ts` (pick both from a
    /// seeded RNG, as RFC 3550 §5.1 asks for random initial values).
    pub fn new(ssrc: Ssrc, payload_type: u8, first_seq: u16, first_ts: u32) -> Self {
        Self {
            ssrc,
            payload_type,
            seq: u64::from(first_seq),
            ts: u64::from(first_ts),
            marker_next: true,
        }
    }

    /// The SSRC this sender stamps on packets.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The extended sequence number the next packet will carry.
    pub fn next_seq(&self) -> SeqNo {
        SeqNo(self.seq)
    }

    /// The extended timestamp the next audio packet will carry.
    pub fn next_ts(&self) -> u64 {
        self.ts
    }

    /// Build the packet for one audio frame of `samples` samples and advance the
    /// timestamp. The marker bit is set on the first packet of a talkspurt (RFC 3551 §4.1).
    pub fn packetize(&mut self, payload: &[u8], samples: u32) -> Result<Bytes, RtpError> {
        let marker = std::mem::take(&mut self.marker_next);
        let bytes = self.build(self.payload_type, self.ts as u32, marker, payload)?;
        self.ts += u64::from(samples);
        Ok(bytes)
    }

    /// Advance the timestamp without sending (silence suppression, or a frame the caller
    /// drops on purpose). The next packet starts a new talkspurt.
    pub fn skip(&mut self, samples: u32) {
        self.ts += u64::from(samples);
        self.marker_next = true;
    }

    /// Advance the timestamp without sending and without starting a talkspurt: the slot was
    /// used by something else on the same SSRC (an RFC 4733 event).
    pub fn advance(&mut self, samples: u32) {
        self.ts += u64::from(samples);
    }

    /// Build a packet with an explicit payload type, timestamp and marker (for RFC 4733
    /// events, which keep the event's start timestamp across packets). Consumes a sequence
    /// number; does not move the audio timestamp.
    pub fn packet_with(
        &mut self,
        payload_type: u8,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Bytes, RtpError> {
        self.build(payload_type, ts, marker, payload)
    }

    fn build(
        &mut self,
        payload_type: u8,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Bytes, RtpError> {
        let pkt = Packet {
            header: Header {
                version: 2,
                marker,
                payload_type: payload_type & 0x7F,
                sequence_number: (self.seq & 0xFFFF) as u16,
                timestamp: ts,
                ssrc: self.ssrc.0,
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(payload),
        };
        let out = serialize(&pkt)?;
        self.seq += 1;
        Ok(out)
    }
}

/// A drift-free send schedule: frame `n` is due at `start + n * ptime`, computed by
/// multiplication, never by adding `ptime` to the previous deadline (which accumulates
/// rounding and scheduling error).
///
/// Sans-IO: the driver asks [`Pacer::poll_timeout`] when to wake, then calls
/// [`Pacer::handle_timeout`] with the time it woke. A spurious early wake is a no-op.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Duration,
    ptime_ns: u128,
    next: u64,
    catch_up: CatchUp,
}

/// What a [`Pacer`] does when the driver wakes late by more than one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Send every frame that is due (media time is preserved; the burst shows as jitter).
    Burst,
    /// Send only the newest due frame and skip the rest (the timestamp still advances, so
    /// the receiver sees loss, as from a real overloaded sender).
    Skip,
}

impl Pacer {
    /// Frame 0 is due at `start`; `ptime` is the packet interval (20 ms for G.711 here).
    pub fn new(start: Duration, ptime: Duration, catch_up: CatchUp) -> Self {
        Self {
            start,
            ptime_ns: ptime.as_nanos().max(1),
            next: 0,
            catch_up,
        }
    }

    /// When frame `n` is due.
    pub fn deadline(&self, n: u64) -> Duration {
        let ns = self.ptime_ns.saturating_mul(u128::from(n));
        let secs = u64::try_from(ns / 1_000_000_000).unwrap_or(u64::MAX);
        let sub = (ns % 1_000_000_000) as u32;
        self.start.saturating_add(Duration::new(secs, sub))
    }

    /// When the driver should next wake.
    pub fn poll_timeout(&self) -> Duration {
        self.deadline(self.next)
    }

    /// The index of the next frame to send.
    pub fn next_frame(&self) -> u64 {
        self.next
    }

    /// Frames due at `now`, as a half-open range of frame indices to send. With
    /// [`CatchUp::Skip`] only the last due frame is in the range; the skipped ones are
    /// below it.
    pub fn handle_timeout(&mut self, now: Duration) -> std::ops::Range<u64> {
        if now < self.deadline(self.next) {
            return self.next..self.next;
        }
        let elapsed = now.saturating_sub(self.start).as_nanos();
        let due_last = u64::try_from(elapsed / self.ptime_ns).unwrap_or(u64::MAX - 1);
        let first = match self.catch_up {
            CatchUp::Burst => self.next,
            CatchUp::Skip => due_last.max(self.next),
        };
        self.next = due_last + 1;
        first..self.next
    }
}

/// Something the receiver noticed about one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtpEvent {
    /// A packet was accepted (in order, late, or after a restart; duplicates are not
    /// repeated here).
    Packet(ReceivedPacket),
    /// Sequence numbers `from..=to` were skipped over (they may still arrive late).
    Gap {
        /// The source.
        ssrc: Ssrc,
        /// First missing sequence number.
        from: SeqNo,
        /// Last missing sequence number.
        to: SeqNo,
    },
    /// A packet with a sequence number already received.
    Duplicate {
        /// The source.
        ssrc: Ssrc,
        /// Its sequence number.
        seq: SeqNo,
    },
    /// A packet older than the newest one received (it arrived out of order).
    Reordered {
        /// The source.
        ssrc: Ssrc,
        /// Its sequence number.
        seq: SeqNo,
        /// How many sequence numbers behind the newest it was.
        behind: u64,
    },
    /// The stream switched from one SSRC to another (a SUT re-anchoring media, a transfer).
    SsrcChanged {
        /// The previous SSRC.
        from: Ssrc,
        /// The new SSRC.
        to: Ssrc,
    },
    /// A jump larger than [`MAX_DROPOUT`] confirmed by a following packet: the sender
    /// restarted its sequence (RFC 3550 A.1 "resync"); statistics restart from here.
    Restarted {
        /// The source.
        ssrc: Ssrc,
        /// The sequence number the stream continues from.
        seq: SeqNo,
    },
}

/// One accepted packet, with everything later stages need (the payload is a cheap
/// reference-counted slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// The source.
    pub ssrc: Ssrc,
    /// Extended sequence number.
    pub seq: SeqNo,
    /// Extended RTP timestamp.
    pub ts: u64,
    /// Arrival time given by the driver.
    pub arrival: Duration,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Payload with padding removed.
    pub payload: Bytes,
}

/// RFC 3550 receive statistics for one SSRC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiveStats {
    /// The source.
    pub ssrc: Ssrc,
    /// Extended sequence number of the first packet (after the last restart).
    pub base_seq: u64,
    /// Highest extended sequence number received.
    pub max_seq: u64,
    /// Packets received, duplicates included (RFC 3550 "received").
    pub received: u64,
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// `max_seq - base_seq + 1` (RFC 3550 "expected").
    pub expected: u64,
    /// `expected - received`: the RFC's cumulative loss, negative when duplicates outnumber
    /// losses.
    pub lost: i64,
    /// `expected - unique`: sequence numbers never seen.
    pub missing: u64,
    /// Packets whose sequence number had already been received.
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number.
    pub reordered: u64,
    /// Sequence restarts (RFC 3550 A.1 resync).
    pub restarts: u64,
    /// Interarrival jitter per RFC 3550 A.8, in milliseconds.
    pub jitter_ms: f64,
    /// Largest jitter value seen during the stream, in milliseconds.
    pub max_jitter_ms: f64,
    /// Arrival of the first packet.
    pub first_arrival: Duration,
    /// Arrival of the last packet.
    pub last_arrival: Duration,
}

impl ReceiveStats {
    /// Fraction of expected packets never received (0.0-1.0).
    pub fn loss_fraction(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.missing as f64 / self.expected as f64
        }
    }
}

/// How many recent sequence numbers are remembered for duplicate detection.
const SEEN_WINDOW: u64 = 1024;

/// Most SSRCs one flow tracks. A well-behaved sender uses one, and a SUT re-anchoring
/// media or transferring a call a few; past this, packets of new SSRCs are refused with
/// [`RtpError::TooManySources`] (each source costs its 1,024-slot duplicate window).
pub const MAX_SOURCES: usize = 8;

#[derive(Debug, Clone)]
struct Source {
    stats: ReceiveStats,
    /// `seen[i]` is whether `max_seq - i` was received.
    seen: VecDeque<bool>,
    max_ts: u64,
    last_transit: Option<f64>,
    jitter: f64,
    /// A.1 `bad_seq`: a big jump waiting for confirmation.
    bad_seq: Option<u64>,
}

impl Source {
    fn new(ssrc: Ssrc, ext: u64, ts: u64, arrival: Duration) -> Self {
        let mut seen = VecDeque::with_capacity(SEEN_WINDOW as usize);
        seen.push_front(true);
        Self {
            stats: ReceiveStats {
                ssrc,
                base_seq: ext,
                max_seq: ext,
                received: 1,
                unique: 1,
                expected: 1,
                lost: 0,
                missing: 0,
                duplicates: 0,
                reordered: 0,
                restarts: 0,
                jitter_ms: 0.0,
                max_jitter_ms: 0.0,
                first_arrival: arrival,
                last_arrival: arrival,
            },
            seen,
            max_ts: ts,
            last_transit: None,
            jitter: 0.0,
            bad_seq: None,
        }
    }

    fn restart(&mut self, ext: u64, ts: u64) {
        let s = &mut self.stats;
        s.base_seq = ext;
        s.max_seq = ext;
        s.received = 1;
        s.unique = 1;
        s.duplicates = 0;
        s.reordered = 0;
        s.restarts += 1;
        self.seen.clear();
        self.seen.push_front(true);
        self.max_ts = ts;
        self.last_transit = None;
        self.bad_seq = None;
    }

    fn was_seen(&self, ext: u64) -> Option<bool> {
        let back = self.stats.max_seq.checked_sub(ext)?;
        self.seen.get(back as usize).copied()
    }

    fn mark_seen(&mut self, ext: u64) {
        if let Some(back) = self.stats.max_seq.checked_sub(ext)
            && let Some(slot) = self.seen.get_mut(back as usize)
        {
            *slot = true;
        }
    }

    fn advance_to(&mut self, ext: u64) {
        let step = ext - self.stats.max_seq;
        for _ in 0..step.min(SEEN_WINDOW) {
            self.seen.push_front(false);
        }
        self.seen.truncate(SEEN_WINDOW as usize);
        self.stats.max_seq = ext;
        if let Some(front) = self.seen.front_mut() {
            *front = true;
        }
    }

    fn finish_stats(&mut self) {
        let s = &mut self.stats;
        s.expected = s.max_seq - s.base_seq + 1;
        s.lost = s.expected as i64 - s.received as i64;
        s.missing = s.expected.saturating_sub(s.unique);
    }
}

/// Receive side of one RTP flow (one 5-tuple): per-SSRC state and RFC 3550 statistics.
///
/// Sans-IO: feed datagrams with their arrival time, then drain [`RtpReceiver::poll_event`].
/// The clock rate is needed to express jitter in milliseconds (8000 for G.711).
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    sources: Vec<Source>,
    current: Option<Ssrc>,
    ssrc_changes: u64,
    events: VecDeque<RtpEvent>,
    rejected: u64,
    refused_sources: u64,
}

impl RtpReceiver {
    /// A receiver for a flow with the given RTP clock rate (Hz).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            sources: Vec::new(),
            current: None,
            ssrc_changes: 0,
            events: VecDeque::new(),
            rejected: 0,
            refused_sources: 0,
        }
    }

    /// Parse and account one datagram. A malformed datagram is counted in
    /// [`RtpReceiver::rejected`] and returned as an error for the caller to record.
    pub fn handle_datagram(&mut self, arrival: Duration, bytes: &[u8]) -> Result<(), RtpError> {
        match parse(bytes) {
            Ok(pkt) => {
                let ssrc = pkt.header.ssrc;
                if self.sources.len() >= MAX_SOURCES
                    && !self.sources.iter().any(|s| s.stats.ssrc.0 == ssrc)
                {
                    self.rejected += 1;
                    self.refused_sources += 1;
                    return Err(RtpError::TooManySources {
                        ssrc,
                        max: MAX_SOURCES,
                    });
                }
                self.handle_packet(arrival, &pkt);
                Ok(())
            }
            Err(e) => {
                self.rejected += 1;
                Err(e)
            }
        }
    }

    /// Packets refused because their SSRC would have been one source too many
    /// ([`MAX_SOURCES`]).
    pub fn refused_sources(&self) -> u64 {
        self.refused_sources
    }

    /// Account one parsed packet. Unlike [`RtpReceiver::handle_datagram`] this does not
    /// apply the [`MAX_SOURCES`] cap: it is for packets the caller already trusts.
    pub fn handle_packet(&mut self, arrival: Duration, pkt: &Packet) {
        let ssrc = Ssrc(pkt.header.ssrc);
        if let Some(cur) = self.current
            && cur != ssrc
        {
            self.ssrc_changes += 1;
            self.events.push_back(RtpEvent::SsrcChanged {
                from: cur,
                to: ssrc,
            });
        }
        self.current = Some(ssrc);
        let clock_rate = f64::from(self.clock_rate);
        let idx = self.sources.iter().position(|s| s.stats.ssrc == ssrc);
        let Some(idx) = idx else {
            let ext = u64::from(pkt.header.sequence_number);
            let ts = u64::from(pkt.header.timestamp);
            let mut src = Source::new(ssrc, ext, ts, arrival);
            src.last_transit = Some(arrival.as_secs_f64() * clock_rate - ts as f64);
            self.sources.push(src);
            self.events
                .push_back(RtpEvent::Packet(received(pkt, ssrc, ext, ts, arrival)));
            return;
        };
        let Some(src) = self.sources.get_mut(idx) else {
            return;
        };
        let ext = extend_seq(Some(src.stats.max_seq), pkt.header.sequence_number);
        let ts = extend_ts(Some(src.max_ts), pkt.header.timestamp);
        src.stats.last_arrival = arrival;
        let max = src.stats.max_seq;
        let mut accepted = true;
        if ext > max {
            let jump = ext - max;
            if jump > MAX_DROPOUT {
                // A.1: a very large jump. Accept it only if the next packet follows it.
                if src.bad_seq == Some(ext) {
                    src.restart(ext, ts);
                    self.events.push_back(RtpEvent::Restarted {
                        ssrc,
                        seq: SeqNo(ext),
                    });
                } else {
                    src.bad_seq = Some(ext + 1);
                    accepted = false;
                }
            } else {
                if jump > 1 {
                    self.events.push_back(RtpEvent::Gap {
                        ssrc,
                        from: SeqNo(max + 1),
                        to: SeqNo(ext - 1),
                    });
                }
                src.advance_to(ext);
                src.stats.received += 1;
                src.stats.unique += 1;
                src.bad_seq = None;
            }
            src.max_ts = src.max_ts.max(ts);
        } else if ext == max || src.was_seen(ext) == Some(true) {
            src.stats.received += 1;
            src.stats.duplicates += 1;
            accepted = false;
            self.events.push_back(RtpEvent::Duplicate {
                ssrc,
                seq: SeqNo(ext),
            });
        } else if max - ext <= MAX_MISORDER && ext >= src.stats.base_seq {
            src.mark_seen(ext);
            src.stats.received += 1;
            src.stats.unique += 1;
            src.stats.reordered += 1;
            self.events.push_back(RtpEvent::Reordered {
                ssrc,
                seq: SeqNo(ext),
                behind: max - ext,
            });
        } else if ext < src.stats.base_seq && src.stats.base_seq - ext <= MAX_MISORDER {
            // Arrived before the first packet we saw: the stream really began earlier.
            src.stats.base_seq = ext;
            src.stats.received += 1;
            src.stats.unique += 1;
            src.stats.reordered += 1;
            self.events.push_back(RtpEvent::Reordered {
                ssrc,
                seq: SeqNo(ext),
                behind: max - ext,
            });
        } else {
            // Far behind: A.1 treats it like a big jump (possible restart).
            if src.bad_seq == Some(ext) {
                src.restart(ext, ts);
                self.events.push_back(RtpEvent::Restarted {
                    ssrc,
                    seq: SeqNo(ext),
                });
            } else {
                src.bad_seq = Some(ext + 1);
                accepted = false;
            }
        }
        if accepted {
            // RFC 3550 A.8, in timestamp units, in arrival order.
            let transit = arrival.as_secs_f64() * clock_rate - ts as f64;
            if let Some(last) = src.last_transit {
                let d = (transit - last).abs();
                src.jitter += (d - src.jitter) / 16.0;
                let ms = src.jitter / clock_rate * 1000.0;
                src.stats.jitter_ms = ms;
                if ms > src.stats.max_jitter_ms {
                    src.stats.max_jitter_ms = ms;
                }
            }
            src.last_transit = Some(transit);
            self.events
                .push_back(RtpEvent::Packet(received(pkt, ssrc, ext, ts, arrival)));
        }
        src.finish_stats();
    }

    /// Next event, in the order packets were handled.
    pub fn poll_event(&mut self) -> Option<RtpEvent> {
        self.events.pop_front()
    }

    /// Statistics for every SSRC seen, in order of first appearance.
    pub fn stats(&self) -> Vec<ReceiveStats> {
        self.sources.iter().map(|s| s.stats.clone()).collect()
    }

    /// How many times the flow switched SSRC.
    pub fn ssrc_changes(&self) -> u64 {
        self.ssrc_changes
    }

    /// Datagrams that failed to parse as RTP.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

fn received(pkt: &Packet, ssrc: Ssrc, ext: u64, ts: u64, arrival: Duration) -> ReceivedPacket {
    ReceivedPacket {
        ssrc,
        seq: SeqNo(ext),
        ts,
        arrival,
        payload_type: pkt.header.payload_type,
        marker: pkt.header.marker,
        payload: pkt.payload.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_seq_table() {
        // The wrap-around table from str0m's header tests, plus a few of our own.
        let cases: &[(Option<u64>, u16, u64)] = &[
            (None, 0, 0),
            (None, 65_535, 65_535),
            (Some(0), 1, 1),
            (Some(65_535), 0, 65_536),
            (Some(65_536), 65_535, 65_535),
            (Some(65_534), 2, 65_538),
            (Some(131_071), 0, 131_072),
            (Some(131_072), 65_535, 131_071),
            (Some(1), 65_535, 65_535),
            (Some(32_767), 65_535, 65_535),
            (Some(100_000), 34_464, 100_000),
        ];
        for &(prev, seq, want) in cases {
            assert_eq!(extend_seq(prev, seq), want, "prev={prev:?} seq={seq}");
        }
    }

    #[test]
    fn extend_ts_wraps() {
        assert_eq!(
            extend_ts(Some(u64::from(u32::MAX) - 80), 79),
            1u64 << 32 | 79
        );
        assert_eq!(
            extend_ts(Some(1u64 << 32 | 10), u32::MAX - 5),
            u64::from(u32::MAX) - 5
        );
    }

    #[test]
    fn sender_round_trips_through_parse() {
        let mut tx = RtpSender::new(Ssrc(0xDEAD_BEEF), 0, 65_534, u32::MAX - 100);
        let a = parse(&tx.packetize(&[1; 160], 160).expect("build")).expect("parse");
        let b = parse(&tx.packetize(&[2; 160], 160).expect("build")).expect("parse");
        let c = parse(&tx.packetize(&[3; 160], 160).expect("build")).expect("parse");
        assert!(a.header.marker && !b.header.marker && !c.header.marker);
        assert_eq!(
            [
                a.header.sequence_number,
                b.header.sequence_number,
                c.header.sequence_number
            ],
            [65_534, 65_535, 0]
        );
        assert_eq!(b.header.timestamp, 59);
        assert_eq!(c.payload.len(), 160);
        assert_eq!(a.header.ssrc, 0xDEAD_BEEF);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(matches!(parse(&[]), Err(RtpError::TooShort { len: 0 })));
        assert!(matches!(parse(&[0x80; 5]), Err(RtpError::TooShort { .. })));
        assert!(matches!(parse(&[0x40; 20]), Err(RtpError::BadVersion(1))));
        let mut rtcp = [0u8; 20];
        rtcp[0] = 0x80;
        rtcp[1] = 200;
        assert!(matches!(parse(&rtcp), Err(RtpError::Rtcp(200))));
        // CSRC count says 15 CSRCs but the datagram is only 20 bytes.
        let mut bad = [0u8; 20];
        bad[0] = 0x8F;
        assert!(matches!(parse(&bad), Err(RtpError::Malformed(_))));
    }

    #[test]
    fn pacer_does_not_drift() {
        let ptime = Duration::from_millis(20);
        let mut p = Pacer::new(Duration::from_millis(7), ptime, CatchUp::Burst);
        // Wake up late every time by a varying amount; deadlines stay on the grid.
        let mut sent = 0u64;
        for i in 0..100_000u64 {
            let now = p.poll_timeout() + Duration::from_micros(i % 900);
            let due = p.handle_timeout(now);
            sent += due.end - due.start;
        }
        assert_eq!(sent, 100_000);
        assert_eq!(p.deadline(100_000), Duration::from_millis(7 + 2_000_000));
        // Early wake is a no-op.
        let next = p.poll_timeout();
        assert!(p.handle_timeout(next - Duration::from_nanos(1)).is_empty());
    }

    #[test]
    fn pacer_catch_up_modes() {
        let ptime = Duration::from_millis(20);
        let mut burst = Pacer::new(Duration::ZERO, ptime, CatchUp::Burst);
        assert_eq!(burst.handle_timeout(Duration::from_millis(65)), 0..4);
        let mut skip = Pacer::new(Duration::ZERO, ptime, CatchUp::Skip);
        assert_eq!(skip.handle_timeout(Duration::from_millis(65)), 3..4);
        assert_eq!(skip.poll_timeout(), Duration::from_millis(80));
    }

    fn pkt(seq: u16, ts: u32, ssrc: u32) -> Packet {
        Packet {
            header: Header {
                version: 2,
                payload_type: 0,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: Bytes::from_static(&[0xFF; 160]),
        }
    }

    #[test]
    fn receiver_counts_loss_dups_reorder() {
        let mut rx = RtpReceiver::new(8000);
        let ms = Duration::from_millis;
        // seq 65533..: 65533, 65534, (65535 lost), 0, 2, 1 (reordered), 2 (dup)
        let order = [
            (65_533u16, 0u32),
            (65_534, 160),
            (0, 480),
            (2, 800),
            (1, 640),
            (2, 800),
        ];
        for (i, &(seq, ts)) in order.iter().enumerate() {
            rx.handle_packet(ms(20 * i as u64), &pkt(seq, ts, 7));
        }
        let s = &rx.stats()[0];
        assert_eq!(s.expected, 6);
        assert_eq!(s.unique, 5);
        assert_eq!(s.missing, 1);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.received, 6);
        assert_eq!(s.lost, 0);
        let gaps: Vec<_> = std::iter::from_fn(|| rx.poll_event())
            .filter_map(|ev| match ev {
                RtpEvent::Gap { from, to, .. } => Some((from.0, to.0)),
                _ => None,
            })
            .collect();
        // 65535 never arrives; 65537 (wire 1) arrives late.
        assert_eq!(gaps, vec![(65_535, 65_535), (65_537, 65_537)]);
    }

    #[test]
    fn a_flow_tracks_at_most_max_sources_and_refuses_the_rest() {
        let ms = Duration::from_millis;
        let mut rx = RtpReceiver::new(8000);
        let mut refused = 0;
        for ssrc in 0..1000u32 {
            let bytes = serialize(&pkt(1, 0, ssrc)).expect("packet");
            match rx.handle_datagram(ms(u64::from(ssrc)), &bytes) {
                Ok(()) => {}
                Err(RtpError::TooManySources { max, .. }) => {
                    assert_eq!(max, MAX_SOURCES);
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
            while rx.poll_event().is_some() {}
        }
        assert_eq!(rx.stats().len(), MAX_SOURCES);
        assert_eq!(refused, 1000 - MAX_SOURCES as u64);
        assert_eq!(rx.refused_sources(), refused);
        // A tracked source still goes on.
        let bytes = serialize(&pkt(2, 160, 0)).expect("packet");
        assert!(rx.handle_datagram(ms(2000), &bytes).is_ok());
    }

    #[test]
    fn receiver_reports_ssrc_change_and_restart() {
        let mut rx = RtpReceiver::new(8000);
        let ms = Duration::from_millis;
        rx.handle_packet(ms(0), &pkt(10, 0, 1));
        rx.handle_packet(ms(20), &pkt(11, 160, 1));
        rx.handle_packet(ms(40), &pkt(500, 0, 2));
        assert_eq!(rx.ssrc_changes(), 1);
        // A restart: jump of 30000 confirmed by the next packet.
        rx.handle_packet(ms(60), &pkt(30_500, 9_000, 2));
        rx.handle_packet(ms(80), &pkt(30_501, 9_160, 2));
        let s = &rx.stats()[1];
        assert_eq!(s.restarts, 1);
        assert_eq!(s.base_seq, 30_501);
        let evs: Vec<_> = std::iter::from_fn(|| rx.poll_event()).collect();
        assert!(evs.iter().any(|e| matches!(
            e,
            RtpEvent::SsrcChanged {
                from: Ssrc(1),
                to: Ssrc(2)
            }
        )));
        assert!(evs.iter().any(|e| matches!(e, RtpEvent::Restarted { .. })));
    }

    #[test]
    fn jitter_is_zero_for_perfect_pacing_and_matches_rfc_for_constant_offset() {
        let mut rx = RtpReceiver::new(8000);
        for i in 0..100u16 {
            rx.handle_packet(
                Duration::from_millis(20 * u64::from(i)) + Duration::from_millis(50),
                &pkt(i, u32::from(i) * 160, 3),
            );
        }
        assert!(rx.stats()[0].jitter_ms.abs() < 1e-9);
        // Alternate +0/+4 ms: |D| = 4 ms every packet, J converges to 4 ms.
        let mut rx = RtpReceiver::new(8000);
        for i in 0..400u16 {
            let extra = if i % 2 == 0 { 0 } else { 4 };
            rx.handle_packet(
                Duration::from_millis(20 * u64::from(i) + extra),
                &pkt(i, u32::from(i) * 160, 3),
            );
        }
        assert!((rx.stats()[0].jitter_ms - 4.0).abs() < 0.01);
    }
}
