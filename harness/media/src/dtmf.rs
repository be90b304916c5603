//! RFC 4733 telephone-events (DTMF digits carried in RTP), sent and received.
//!
//! Owns: the 4-byte event payload ([`TelephoneEvent`]), a sender that turns one key press
//! into the RFC's packet sequence ([`DtmfSender`]), and a receiver that turns packets back
//! into key presses without double-counting retransmitted end packets ([`DtmfReceiver`]).
//!
//! Must not touch: audio, sockets, clocks. The sender is driven once per packet interval by
//! the same pacer that drives audio; the receiver is fed packets already parsed by
//! [`crate::rtp`].
//!
//! Deviations: RFC 4733 §2.5.1.3 lets a sender split events longer than 65535 samples into
//! segments; we clamp instead (8 s at 8 kHz is far beyond any key press). Multiple events in
//! one payload (RFC 2198 redundancy) are not decoded: only the first event is read.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::rtp::RtpError;

/// One RFC 4733 §2.3 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelephoneEvent {
    /// Event code (0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the first event of a payload. Bytes in, never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, RtpError> {
        match bytes {
            [event, flags, d0, d1, ..] => Ok(Self {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(RtpError::ShortEvent(bytes.len())),
        }
    }

    /// The 4 payload bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let flags = (u8::from(self.end) << 7) | (self.volume & 0x3F);
        let d = self.duration.to_be_bytes();
        [self.event, flags, d[0], d[1]]
    }
}

/// The event code for a DTMF key, or `None` for other characters.
pub fn digit_to_event(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The DTMF key for an event code, or `None` for non-DTMF events.
pub fn event_to_digit(e: u8) -> Option<char> {
    match e {
        0..=9 => Some(char::from(b'0' + e)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + e - 12)),
        _ => None,
    }
}

/// One packet a [`DtmfSender`] wants sent: put it in an RTP packet with the event payload
/// type, this timestamp and marker (see [`crate::rtp::RtpSender::packet_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// RTP timestamp: the event's start, the same in every packet of the event.
    pub ts: u32,
    /// Set on the first packet of the event only.
    pub marker: bool,
    /// The event payload.
    pub event: TelephoneEvent,
}

/// How many times the final (E bit) packet is sent (RFC 4733 §2.5.1.4 recommends three).
pub const END_REPEATS: u8 = 3;

/// Turns one key press into RFC 4733 packets, one per packet interval.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    start_ts: u32,
    total: u32,
    step: u32,
    elapsed: u32,
    ends_sent: u8,
}

impl DtmfSender {
    /// A key press of `duration` samples starting at RTP timestamp `start_ts`, with one
    /// packet every `packet_samples` samples (160 for 20 ms at 8 kHz).
    pub fn new(event: u8, volume: u8, duration: u32, start_ts: u32, packet_samples: u32) -> Self {
        Self {
            event,
            volume: volume.min(63),
            start_ts,
            total: duration.clamp(1, u32::from(u16::MAX)),
            step: packet_samples.max(1),
            elapsed: 0,
            ends_sent: 0,
        }
    }

    /// The packet for the next interval, or `None` once the end packets have been sent.
    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.ends_sent >= END_REPEATS {
            return None;
        }
        let first = self.elapsed == 0;
        self.elapsed = (self.elapsed + self.step).min(self.total);
        let end = self.elapsed >= self.total;
        if end {
            self.ends_sent += 1;
        }
        Some(DtmfPacket {
            ts: self.start_ts,
            marker: first,
            event: TelephoneEvent {
                event: self.event,
                end,
                volume: self.volume,
                duration: self.elapsed as u16,
            },
        })
    }

    /// Whether every packet has been produced.
    pub fn is_done(&self) -> bool {
        self.ends_sent >= END_REPEATS
    }
}

/// A key press seen by a [`DtmfReceiver`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtmfEvent {
    /// Event code.
    pub event: u8,
    /// The key, when the code is a DTMF key.
    pub digit: Option<char>,
    /// Extended RTP timestamp of the event start.
    pub start_ts: u64,
    /// Final duration in timestamp units.
    pub duration: u32,
    /// False when the event was cut short: a new event began (or the stream ended) before
    /// any end packet arrived.
    pub ended: bool,
}

#[derive(Debug, Clone)]
struct Open {
    event: u8,
    start_ts: u64,
    duration: u32,
}

/// Reassembles key presses from telephone-event packets.
///
/// An event is identified by its start timestamp (RFC 4733 §2.5.2.1); retransmitted end
/// packets of an event already reported are ignored.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    open: Option<Open>,
    last_done: Option<u64>,
    events: VecDeque<DtmfEvent>,
}

impl DtmfReceiver {
    /// A receiver with no event in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one telephone-event packet: its extended RTP timestamp and payload.
    pub fn handle(&mut self, ext_ts: u64, payload: &[u8]) -> Result<(), RtpError> {
        let ev = TelephoneEvent::parse(payload)?;
        if self.last_done == Some(ext_ts) {
            return Ok(());
        }
        match &mut self.open {
            Some(open) if open.start_ts == ext_ts => {
                open.duration = open.duration.max(u32::from(ev.duration));
            }
            _ => {
                if let Some(prev) = self.open.take() {
                    self.emit(prev, false);
                }
                self.open = Some(Open {
                    event: ev.event,
                    start_ts: ext_ts,
                    duration: u32::from(ev.duration),
                });
            }
        }
        if ev.end
            && let Some(open) = self.open.take()
        {
            self.last_done = Some(open.start_ts);
            self.emit(open, true);
        }
        Ok(())
    }

    /// The stream ended: report an event still in progress as cut short.
    pub fn finish(&mut self) {
        if let Some(open) = self.open.take() {
            self.emit(open, false);
        }
    }

    /// Next completed key press.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    fn emit(&mut self, open: Open, ended: bool) {
        self.events.push_back(DtmfEvent {
            event: open.event,
            digit: event_to_digit(open.event),
            start_ts: open.start_ts,
            duration: open.duration,
            ended,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{RtpSender, Ssrc, parse};

    #[test]
    fn payload_round_trip() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Ok(ev));
        assert!(TelephoneEvent::parse(&[1, 2, 3]).is_err());
    }

    #[test]
    fn digits_map_both_ways() {
        for c in "0123456789*#ABCD".chars() {
            let e = digit_to_event(c).expect("dtmf key");
            assert_eq!(event_to_digit(e), Some(c));
        }
        assert_eq!(digit_to_event('x'), None);
    }

    #[test]
    fn send_and_receive_digits_through_rtp() {
        // "1#" over RTP, with the end packets repeated and one middle packet lost.
        let mut tx = RtpSender::new(Ssrc(9), 0, 100, 5000);
        let mut rx = DtmfReceiver::new();
        let mut wire = Vec::new();
        for digit in ['1', '#'] {
            let start = tx.next_ts() as u32;
            let mut s = DtmfSender::new(digit_to_event(digit).expect("key"), 10, 800, start, 160);
            let mut n = 0;
            while let Some(p) = s.next_packet() {
                let bytes = tx
                    .packet_with(101, p.ts, p.marker, &p.event.to_bytes())
                    .expect("build");
                tx.advance(160);
                n += 1;
                if n != 2 {
                    wire.push(bytes);
                }
            }
            assert_eq!(n, 5 + 2, "5 packets for 100 ms plus 2 extra end packets");
        }
        for bytes in &wire {
            let pkt = parse(bytes).expect("parse");
            assert_eq!(pkt.header.payload_type, 101);
            rx.handle(u64::from(pkt.header.timestamp), &pkt.payload)
                .expect("event");
        }
        rx.finish();
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_event()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].digit, Some('1'));
        assert_eq!(got[1].digit, Some('#'));
        assert!(got.iter().all(|e| e.ended && e.duration == 800));
        assert_eq!(got[1].start_ts - got[0].start_ts, 7 * 160);
    }

    #[test]
    fn cut_short_event_is_reported() {
        let mut rx = DtmfReceiver::new();
        let start = TelephoneEvent {
            event: 5,
            end: false,
            volume: 10,
            duration: 160,
        };
        rx.handle(1000, &start.to_bytes()).expect("ok");
        rx.handle(3000, &TelephoneEvent { event: 6, ..start }.to_bytes())
            .expect("ok");
        rx.finish();
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_event()).collect();
        assert_eq!(got.len(), 2);
        assert!(!got[0].ended && !got[1].ended);
        assert_eq!(got[0].digit, Some('5'));
    }
}
