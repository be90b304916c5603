//! One direction of one load call's audio: what its sender emitted and what its receiver
//! decoded, frame by frame.
//!
//! Owns: [`LegSender`] (RTP numbering and the send schedule of one party's instrumented
//! frames) and [`LegReceiver`] (RTP sequence accounting, G.711 decoding onto a timeline by
//! RTP timestamp, the instrumented-frame decoder, per-frame mouth-to-ear latency against
//! the sender's schedule, foreign-party and front-clipping detection). Every received
//! packet is analysed; nothing is sampled.
//!
//! Latency model (the same as the suite's): frame `n` of a party counts as emitted at
//! `media_start + n * 20 ms`, its packet's scheduled send time; it counts as heard when
//! the packet carrying its first sample arrives, plus that sample's offset in the packet.
//! So harness send lateness is part of the figure (and reported on its own too).
//!
//! Must not touch: sockets, clocks, SIP. Bytes and times come in; counts come out.

pub use loadmodel::record::LegCounts;
use media::FRAME_SAMPLES;
use media::g711::Law;
use media::rtp::{RtpSender, Ssrc, extend_ts};
use media::signal::{DecoderConfig, FrameDecoder, Modem, PartyId};
use sip::time::Time;
use std::sync::Arc;

/// µs per 20 ms frame.
pub const FRAME_US: u64 = 20_000;
/// Where the first packet lands on a receiver's timeline (room for reordering before it).
const TIMELINE_ORIGIN: u64 = 1_600;
/// Packets remembered for mapping a decoded frame back to its arrival time.
const ARRIVAL_RING: usize = 32;
/// A timestamp further than this (60 s) from the first packet's is not placed on the
/// timeline (a broken or hostile sender); it is counted instead.
const MAX_TS_SPAN: u64 = 60 * 8000 * 60;
/// Frames the receiver may miss at the very end of a call without it counting as loss:
/// the last packet can cross the BYE.
pub const TAIL_ALLOWANCE: u64 = 2;

/// The sending side of a leg.
#[derive(Debug)]
pub struct LegSender {
    rtp: RtpSender,
    party: PartyId,
    media_start: Time,
    next_frame: u64,
}

impl LegSender {
    /// A sender of `party`'s frames whose frame 0 is due at `media_start`.
    pub fn new(party: PartyId, ssrc: u32, seq0: u16, ts0: u32, media_start: Time) -> Self {
        Self {
            rtp: RtpSender::new(Ssrc(ssrc), Law::Ulaw.payload_type(), seq0, ts0),
            party,
            media_start,
            next_frame: 0,
        }
    }

    /// When the next frame is due.
    pub fn next_due(&self) -> Time {
        self.media_start + std::time::Duration::from_micros(self.next_frame * FRAME_US)
    }

    /// The party these frames belong to.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// Frames sent so far.
    pub fn sent(&self) -> u64 {
        self.next_frame
    }

    /// When frame 0 was due.
    pub fn media_start(&self) -> Time {
        self.media_start
    }

    /// The packet for the next frame (`payload` is its encoded audio), advancing the
    /// schedule. `None` only if packetising fails, which a 160-byte payload cannot.
    pub fn next_packet(&mut self, payload: &[u8]) -> Option<bytes::Bytes> {
        self.next_frame += 1;
        self.rtp.packetize(payload, FRAME_SAMPLES as u32).ok()
    }

    /// The frame number of the next packet.
    pub fn next_frame(&self) -> u64 {
        self.next_frame
    }
}

/// RTP sources (SSRCs) a receiver decodes at once. A platform may switch SSRC mid-call
/// (an announcement from a media server, then the relayed party), and a mis-bridged path
/// adds another call's stream beside the right one; two sources cover both. A third SSRC
/// takes the place of the one heard least recently.
const MAX_SOURCES: usize = 2;

/// One RTP source at a receiver: its own timestamp timeline and frame decoder, since two
/// sources' timestamps have nothing in common.
struct Source {
    ssrc: u32,
    first_ts: u64,
    last_ts: Option<u64>,
    last_arrival: Time,
    seen: Vec<u64>,
    decoder: FrameDecoder,
    ring: [(u64, Time); ARRIVAL_RING],
    ring_next: usize,
}

impl Source {
    fn new(modem: Arc<Modem>, ssrc: u32, ts: u32, now: Time) -> Self {
        Self {
            ssrc,
            first_ts: u64::from(ts),
            last_ts: None,
            last_arrival: now,
            seen: Vec::new(),
            decoder: FrameDecoder::new(modem, DecoderConfig::default()),
            ring: [(u64::MAX, Time::ZERO); ARRIVAL_RING],
            ring_next: 0,
        }
    }

    /// Arrival time (µs) of timeline position `start`: the packet that carried it, plus
    /// the sample's offset inside the packet.
    fn heard_at(&self, start: f64) -> Option<u64> {
        let s = start.max(0.0);
        self.ring
            .iter()
            .filter(|(pos, _)| *pos != u64::MAX)
            .find(|(pos, _)| {
                let p = *pos as f64;
                s >= p - 1.0 && s < p + FRAME_SAMPLES as f64
            })
            .map(|(pos, at)| at.as_micros() + ((s - *pos as f64).max(0.0) * 125.0) as u64)
    }
}

/// What a receiver counted over all its sources.
struct Tally {
    expected: PartyId,
    media_start: Option<Time>,
    frames_seen: Vec<u64>,
    latency_sum: u64,
    counts: LegCounts,
}

impl Tally {
    /// Counts the frames `src` decoded so far: the expected party's (each frame number
    /// once, whichever source carried it) with their latency, and any other party's as
    /// foreign.
    fn drain(&mut self, src: &mut Source, latency: &mut dyn FnMut(u64)) {
        while let Some(ev) = src.decoder.poll_event() {
            if ev.party != self.expected {
                self.counts.foreign_frames += 1;
                self.counts.first_foreign_party.get_or_insert(ev.party.0);
                continue;
            }
            if is_duplicate(&mut self.frames_seen, ev.frame) {
                continue;
            }
            self.counts.frames += 1;
            if self.counts.first_frame.is_none_or(|f| ev.frame < f) {
                self.counts.first_frame = Some(ev.frame);
                self.counts.lead_in = if ev.frame == 0 { None } else { ev.lead_in };
            }
            let Some(start) = self.media_start else {
                continue;
            };
            let Some(heard) = src.heard_at(ev.start) else {
                continue;
            };
            let emitted = start.as_micros() + ev.frame * FRAME_US;
            let us = heard.saturating_sub(emitted);
            latency(us);
            self.latency_sum += us;
            let c = &mut self.counts;
            c.latency_min_us = Some(c.latency_min_us.map_or(us, |m| m.min(us)));
            c.latency_max_us = Some(c.latency_max_us.map_or(us, |m| m.max(us)));
        }
    }
}

/// The receiving side of a leg.
pub struct LegReceiver {
    modem: Arc<Modem>,
    sources: Vec<Source>,
    pcm: Vec<i16>,
    tally: Tally,
}

impl std::fmt::Debug for LegReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegReceiver")
            .field("expected", &self.tally.expected)
            .field("counts", &self.tally.counts)
            .finish()
    }
}

impl LegReceiver {
    /// A receiver expecting `expected`'s frames, decoded with `modem`.
    pub fn new(modem: Arc<Modem>, expected: PartyId) -> Self {
        Self {
            modem,
            sources: Vec::new(),
            pcm: Vec::with_capacity(FRAME_SAMPLES),
            tally: Tally {
                expected,
                media_start: None,
                frames_seen: Vec::new(),
                latency_sum: 0,
                counts: LegCounts::default(),
            },
        }
    }

    /// The expected party's frame 0 was due at `at` (known once its sender started).
    pub fn set_media_start(&mut self, at: Time) {
        self.tally.media_start = Some(at);
    }

    /// The source `ssrc`'s index, taking a place for it when it is new.
    fn source(&mut self, ssrc: u32, ts: u32, now: Time) -> usize {
        if let Some(i) = self.sources.iter().position(|s| s.ssrc == ssrc) {
            return i;
        }
        self.tally.counts.sources += 1;
        let fresh = Source::new(self.modem.clone(), ssrc, ts, now);
        if self.sources.len() < MAX_SOURCES {
            self.sources.push(fresh);
            return self.sources.len() - 1;
        }
        let stalest = self
            .sources
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.last_arrival)
            .map_or(0, |(i, _)| i);
        if let Some(slot) = self.sources.get_mut(stalest) {
            let mut old = std::mem::replace(slot, fresh);
            // Its last frames still count.
            old.decoder.finish();
            self.tally.drain(&mut old, &mut |_| {});
        }
        stalest
    }

    /// One datagram that arrived at `now`. The latency (µs) of each frame it completes is
    /// handed to `latency`.
    pub fn handle_datagram(&mut self, now: Time, bytes: &[u8], mut latency: impl FnMut(u64)) {
        let Ok(pkt) = media::rtp::parse(bytes) else {
            self.tally.counts.rejected += 1;
            return;
        };
        let h = &pkt.header;
        let Some(law) = Law::from_payload_type(h.payload_type) else {
            self.tally.counts.rejected += 1;
            return;
        };
        let i = self.source(h.ssrc, h.timestamp, now);
        let (Some(src), tally) = (self.sources.get_mut(i), &mut self.tally) else {
            return;
        };
        src.last_arrival = now;
        let ts = extend_ts(src.last_ts, h.timestamp);
        if src.last_ts.is_none_or(|l| ts > l) {
            src.last_ts = Some(ts);
        }
        let Some(offset) = ts.checked_sub(src.first_ts).filter(|&o| o < MAX_TS_SPAN) else {
            tally.counts.rejected += 1;
            return;
        };
        if is_duplicate(&mut src.seen, offset / FRAME_SAMPLES as u64) {
            tally.counts.duplicates += 1;
            return;
        }
        tally.counts.packets += 1;
        let pos = TIMELINE_ORIGIN + offset;
        src.ring[src.ring_next] = (pos, now);
        src.ring_next = (src.ring_next + 1) % ARRIVAL_RING;
        self.pcm.clear();
        law.decode_into(&pkt.payload, &mut self.pcm);
        src.decoder.push(pos, &self.pcm);
        tally.drain(src, &mut latency);
    }

    /// What was counted (call at the end).
    pub fn counts(&mut self) -> LegCounts {
        for src in &mut self.sources {
            src.decoder.finish();
            self.tally.drain(src, &mut |_| {});
        }
        let mut c = self.tally.counts.clone();
        if c.frames > 0 && c.latency_max_us.is_some() {
            c.latency_mean_us = Some(self.tally.latency_sum / c.frames);
        }
        c
    }
}

/// Sets bit `n` of a growable bitset; true when it was already set.
fn is_duplicate(bits: &mut Vec<u64>, n: u64) -> bool {
    let Ok(word) = usize::try_from(n / 64) else {
        return false;
    };
    if word >= bits.len() {
        bits.resize(word + 1, 0);
    }
    let mask = 1u64 << (n % 64);
    bits.get_mut(word).is_some_and(|w| {
        let was = *w & mask != 0;
        *w |= mask;
        was
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{DEFAULT_BANK_BYTES, FrameBank};
    use media::signal::SignalConfig;
    use std::time::Duration;

    /// Sends `frames` frames of `party` through a receiver expecting `expected`, skipping
    /// the frame numbers in `drop`, each arriving `delay` after it was due.
    fn run(party: PartyId, expected: PartyId, frames: u64, drop: &[u64], delay: u64) -> LegCounts {
        let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("modem"));
        let mut bank = FrameBank::new(modem.clone(), Law::Ulaw, DEFAULT_BANK_BYTES);
        let start = Time::from_millis(1000);
        let mut tx = LegSender::new(party, 0x1234, 65_500, 4_000_000_000, start);
        let mut rx = LegReceiver::new(modem, expected);
        rx.set_media_start(start);
        let mut h = |_| {};
        let mut payload = [0u8; FRAME_SAMPLES];
        for _ in 0..frames {
            let n = tx.next_frame();
            let due = tx.next_due();
            bank.payload(party, n, &mut payload);
            let pkt = tx.next_packet(&payload).expect("packet");
            if !drop.contains(&n) {
                rx.handle_datagram(due + Duration::from_micros(delay), &pkt, &mut h);
            }
        }
        rx.counts()
    }

    #[test]
    fn a_clean_leg_decodes_every_frame_with_its_latency() {
        let c = run(PartyId(2), PartyId(2), 100, &[], 3_000);
        assert_eq!(c.packets, 100);
        assert_eq!(c.frames, 100, "{c:?}");
        assert_eq!(c.first_frame, Some(0));
        assert_eq!(c.foreign_frames, 0);
        let (lo, hi) = (
            c.latency_min_us.expect("min"),
            c.latency_max_us.expect("max"),
        );
        assert!(
            (2_900..=3_100).contains(&lo) && (2_900..=3_100).contains(&hi),
            "{c:?}"
        );
    }

    #[test]
    fn lost_and_clipped_frames_are_counted() {
        let c = run(PartyId(2), PartyId(2), 100, &[0, 1, 2, 50], 1_000);
        assert_eq!(c.first_frame, Some(3), "front clipped by three frames");
        assert_eq!(c.frames, 96);
    }

    #[test]
    fn another_partys_audio_is_foreign() {
        let c = run(PartyId(4), PartyId(2), 50, &[], 1_000);
        assert_eq!(c.frames, 0);
        assert!(c.foreign_frames >= 45, "{c:?}");
        assert_eq!(c.first_foreign_party, Some(4));
    }

    /// Frames `range` of `party` from a sender with `ssrc`, each arriving 1 ms after due.
    fn feed(
        rx: &mut LegReceiver,
        bank: &mut FrameBank,
        party: PartyId,
        ssrc: u32,
        range: std::ops::Range<u64>,
        start: Time,
    ) {
        let mut tx = LegSender::new(party, ssrc, 7, 90_000, start);
        let mut payload = [0u8; FRAME_SAMPLES];
        let mut h = |_| {};
        for n in 0..range.end {
            let due = tx.next_due();
            bank.payload(party, n, &mut payload);
            let pkt = tx.next_packet(&payload).expect("packet");
            if range.contains(&n) {
                rx.handle_datagram(due + Duration::from_millis(1), &pkt, &mut h);
            }
        }
    }

    #[test]
    fn a_switch_of_ssrc_mid_call_keeps_counting_the_partys_frames() {
        // A platform relays frames 0-49 with one SSRC and 50-99 with another (a media
        // server took over): every frame is still the party's, none is lost.
        let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("modem"));
        let mut bank = FrameBank::new(modem.clone(), Law::Ulaw, DEFAULT_BANK_BYTES);
        let mut rx = LegReceiver::new(modem, PartyId(2));
        let start = Time::from_millis(1000);
        rx.set_media_start(start);
        feed(&mut rx, &mut bank, PartyId(2), 1, 0..50, start);
        feed(&mut rx, &mut bank, PartyId(2), 2, 50..100, start);
        let c = rx.counts();
        assert_eq!(c.sources, 2);
        assert_eq!(c.foreign_frames, 0, "{c:?}");
        assert!(c.frames >= 97, "{c:?}");
        assert_eq!(c.first_frame, Some(0));
    }

    #[test]
    fn another_calls_stream_beside_the_right_one_is_foreign() {
        // The right party's stream arrives first; another call's leaks in beside it.
        let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("modem"));
        let mut bank = FrameBank::new(modem.clone(), Law::Ulaw, DEFAULT_BANK_BYTES);
        let mut rx = LegReceiver::new(modem, PartyId(2));
        let start = Time::from_millis(1000);
        rx.set_media_start(start);
        let mut right = LegSender::new(PartyId(2), 1, 7, 90_000, start);
        let mut leak = LegSender::new(PartyId(4), 9, 300, 5, start + Duration::from_millis(7));
        let mut payload = [0u8; FRAME_SAMPLES];
        let mut h = |_| {};
        for n in 0..60 {
            for (tx, party) in [(&mut right, PartyId(2)), (&mut leak, PartyId(4))] {
                let due = tx.next_due();
                bank.payload(party, n, &mut payload);
                let pkt = tx.next_packet(&payload).expect("packet");
                rx.handle_datagram(due + Duration::from_millis(1), &pkt, &mut h);
            }
        }
        let c = rx.counts();
        assert_eq!(c.sources, 2);
        assert!(c.frames >= 57, "the right party is still heard: {c:?}");
        assert!(c.foreign_frames >= 50, "{c:?}");
        assert_eq!(c.first_foreign_party, Some(4));
    }

    #[test]
    fn garbage_and_duplicates_do_not_count_as_audio() {
        let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("modem"));
        let mut rx = LegReceiver::new(modem, PartyId(0));
        let mut h = |_| {};
        rx.handle_datagram(Time::ZERO, b"not rtp at all", &mut h);
        rx.handle_datagram(Time::ZERO, &[], &mut h);
        let mut tx = LegSender::new(PartyId(0), 9, 1, 1, Time::ZERO);
        let pkt = tx.next_packet(&[0xFF; FRAME_SAMPLES]).expect("packet");
        rx.handle_datagram(Time::ZERO, &pkt, &mut h);
        rx.handle_datagram(Time::ZERO, &pkt, &mut h);
        let c = rx.counts();
        assert_eq!(
            (c.rejected, c.packets, c.duplicates, c.frames),
            (2, 1, 1, 0)
        );
    }
}
