//! SIP over TCP put back together from captured segments.
//!
//! Owns: one [`Reassembler`] for every TCP flow of a capture (a flow is one direction of
//! one connection, keyed by source and destination), which orders segments by sequence
//! number, drops what was captured twice (retransmissions, overlaps), holds early
//! segments in a bounded buffer, and frames the byte stream into SIP messages with
//! [`sip::framing::Framer`] (the same framing recproof's own TCP transport uses).
//!
//! A capture is not a connection: it may start mid-stream (no SYN: the first segment
//! seen starts the flow), lose segments (a gap is skipped, said as a [`Gap`], and framing
//! starts over at the next message head), or hold bytes that never frame (said as
//! unframed, with the bytes). Nothing here panics or grows without bound on any input.
//!
//! Must not touch: SIP semantics (which message is which is the caller's business).

use media::pcap::TcpSegment;
use sip::framing::Framer;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

/// Bytes a flow may hold ahead of a gap, waiting for the missing segment, before the gap
/// is given up on (4 MB, one largest SIP message).
pub const MAX_HELD_BYTES: usize = 4 << 20;
/// Segments a flow may hold ahead of a gap (bounds the work of putting them in order).
pub const MAX_HELD_SEGMENTS: usize = 1024;
/// Flows followed at once; segments of further flows are counted, not read.
pub const MAX_FLOWS: usize = 65_536;

/// A SIP message read from a TCP flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpMessage {
    /// Capture time of the segment that completed it.
    pub ts: Duration,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The message bytes.
    pub bytes: Vec<u8>,
}

/// Bytes of a flow that could not be read as SIP: missing from the capture, or not
/// framable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// When it was noticed.
    pub ts: Duration,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// What happened, in words.
    pub reason: String,
    /// The bytes given up on (at most 4 KB of them), empty for bytes never captured.
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Flow {
    /// Sequence number of the next byte expected.
    next: Option<u32>,
    /// Segments beyond `next`, by sequence number.
    held: BTreeMap<u32, Vec<u8>>,
    held_bytes: usize,
    framer: Framer,
}

/// Every TCP flow of a capture, fed segment by segment in capture order.
#[derive(Default)]
pub struct Reassembler {
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    messages: Vec<TcpMessage>,
    gaps: Vec<Gap>,
    /// Segments of flows beyond [`MAX_FLOWS`].
    pub ignored_segments: u64,
}

/// How far ahead of `next` a sequence number is (negative: behind), modulo 2^32.
fn ahead(seq: u32, next: u32) -> i64 {
    i64::from(seq.wrapping_sub(next) as i32)
}

const EVIDENCE_BYTES: usize = 4096;

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// One captured segment.
    pub fn push(&mut self, seg: &TcpSegment) {
        let key = (seg.src, seg.dst);
        if !self.flows.contains_key(&key) && self.flows.len() >= MAX_FLOWS {
            self.ignored_segments += 1;
            return;
        }
        let flow = self.flows.entry(key).or_default();
        if seg.syn {
            // A new connection on this address pair: start over.
            *flow = Flow {
                next: Some(seg.seq.wrapping_add(1)),
                ..Flow::default()
            };
        }
        if seg.payload.is_empty() {
            if seg.fin || seg.rst {
                Self::close(flow, seg, &mut self.gaps);
            }
            return;
        }
        let next = *flow.next.get_or_insert(seg.seq);
        let off = ahead(seg.seq, next);
        let len = seg.payload.len() as i64;
        if off + len <= 0 {
            // Entirely captured before (a retransmission).
        } else if off <= 0 {
            let skip = usize::try_from(-off).unwrap_or(0);
            let fresh = &seg.payload[skip..];
            Self::take(flow, seg, fresh, &mut self.messages, &mut self.gaps);
            Self::drain_held(flow, seg, &mut self.messages, &mut self.gaps);
        } else {
            if flow.held_bytes + seg.payload.len() > MAX_HELD_BYTES
                || flow.held.len() >= MAX_HELD_SEGMENTS
            {
                Self::skip_gap(flow, seg, &mut self.messages, &mut self.gaps);
                // The segment itself may now be in order; otherwise start from it.
                let now_next = flow.next.unwrap_or(seg.seq);
                if ahead(seg.seq, now_next) != 0 {
                    flow.next = Some(seg.seq);
                    flow.framer = Framer::new();
                }
                Self::take(flow, seg, &seg.payload, &mut self.messages, &mut self.gaps);
            } else {
                flow.held_bytes += seg.payload.len();
                let entry = flow.held.entry(seg.seq).or_default();
                if entry.len() < seg.payload.len() {
                    flow.held_bytes -= entry.len();
                    *entry = seg.payload.clone();
                } else {
                    flow.held_bytes -= seg.payload.len();
                }
            }
        }
        if seg.fin || seg.rst {
            Self::close(flow, seg, &mut self.gaps);
        }
    }

    /// End of the capture: what is still held is read past its gaps, and bytes that never
    /// made a whole message are reported.
    pub fn finish(&mut self, ts: Duration) -> (Vec<TcpMessage>, Vec<Gap>) {
        let mut keys: Vec<_> = self.flows.keys().copied().collect();
        keys.sort();
        for key in keys {
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            let seg = TcpSegment {
                ts,
                src: key.0,
                dst: key.1,
                seq: 0,
                syn: false,
                fin: true,
                rst: false,
                payload: Vec::new(),
            };
            while !flow.held.is_empty() {
                Self::skip_gap(flow, &seg, &mut self.messages, &mut self.gaps);
            }
            Self::close(flow, &seg, &mut self.gaps);
        }
        self.messages.sort_by_key(|m| m.ts);
        (
            std::mem::take(&mut self.messages),
            std::mem::take(&mut self.gaps),
        )
    }

    /// Appends in-order bytes and frames what is complete.
    fn take(
        flow: &mut Flow,
        seg: &TcpSegment,
        bytes: &[u8],
        out: &mut Vec<TcpMessage>,
        gaps: &mut Vec<Gap>,
    ) {
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        flow.next = Some(flow.next.unwrap_or(seg.seq).wrapping_add(n));
        flow.framer.push(bytes);
        loop {
            match flow.framer.next_message() {
                Ok(Some(message)) => out.push(TcpMessage {
                    ts: seg.ts,
                    src: seg.src,
                    dst: seg.dst,
                    bytes: message,
                }),
                Ok(None) => break,
                Err(e) => {
                    gaps.push(Gap {
                        ts: seg.ts,
                        src: seg.src,
                        dst: seg.dst,
                        reason: format!("bytes that do not frame as SIP ({e}); dropped"),
                        bytes: evidence(flow.framer.pending()),
                    });
                    flow.framer = Framer::new();
                    break;
                }
            }
        }
    }

    /// Takes held segments that have become in order.
    fn drain_held(
        flow: &mut Flow,
        seg: &TcpSegment,
        out: &mut Vec<TcpMessage>,
        gaps: &mut Vec<Gap>,
    ) {
        loop {
            let Some(next) = flow.next else { return };
            let mut ready = None;
            for (&seq, _) in flow.held.iter() {
                if ahead(seq, next) <= 0 {
                    ready = Some(seq);
                    break;
                }
            }
            let Some(seq) = ready else { return };
            let Some(bytes) = flow.held.remove(&seq) else {
                return;
            };
            flow.held_bytes -= bytes.len();
            let behind = usize::try_from(-ahead(seq, next)).unwrap_or(usize::MAX);
            if behind < bytes.len() {
                Self::take(flow, seg, &bytes[behind..], out, gaps);
            }
        }
    }

    /// Gives up on the missing bytes before the earliest held segment.
    fn skip_gap(flow: &mut Flow, seg: &TcpSegment, out: &mut Vec<TcpMessage>, gaps: &mut Vec<Gap>) {
        let Some(next) = flow.next else { return };
        let Some(first) = flow.held.keys().copied().min_by_key(|&s| ahead(s, next)) else {
            return;
        };
        let missing = ahead(first, next).max(0);
        gaps.push(Gap {
            ts: seg.ts,
            src: seg.src,
            dst: seg.dst,
            reason: format!(
                "{missing} byte(s) of the stream are missing from the capture; reading resumes at the next whole message"
            ),
            bytes: evidence(flow.framer.pending()),
        });
        flow.framer = Framer::new();
        flow.next = Some(first);
        Self::drain_held(flow, seg, out, gaps);
    }

    fn close(flow: &mut Flow, seg: &TcpSegment, gaps: &mut Vec<Gap>) {
        let pending = flow.framer.pending();
        if !pending.is_empty() && pending.iter().any(|b| !b.is_ascii_whitespace()) {
            gaps.push(Gap {
                ts: seg.ts,
                src: seg.src,
                dst: seg.dst,
                reason: format!(
                    "the connection ended (or the capture did) with {} byte(s) that are not a whole SIP message",
                    pending.len()
                ),
                bytes: evidence(pending),
            });
        }
        flow.framer = Framer::new();
        flow.held.clear();
        flow.held_bytes = 0;
    }
}

fn evidence(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(EVIDENCE_BYTES)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(seq: u32, payload: &[u8]) -> TcpSegment {
        TcpSegment {
            ts: Duration::from_millis(u64::from(seq)),
            src: "10.0.0.1:5060".parse().expect("address"),
            dst: "10.0.0.2:5060".parse().expect("address"),
            seq,
            syn: false,
            fin: false,
            rst: false,
            payload: payload.to_vec(),
        }
    }

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn split_reordered_and_retransmitted_segments_make_one_message() {
        let mut r = Reassembler::new();
        let (a, b) = MSG.split_at(20);
        let (b1, b2) = b.split_at(10);
        r.push(&seg(1000, a));
        r.push(&seg(1030, b2)); // early
        r.push(&seg(1000, a)); // retransmitted
        r.push(&seg(1020, b1));
        let (msgs, gaps) = r.finish(Duration::from_secs(9));
        assert_eq!(msgs.len(), 1, "{gaps:?}");
        assert_eq!(msgs[0].bytes, MSG);
        assert!(gaps.is_empty(), "{gaps:?}");
    }

    #[test]
    fn a_missing_segment_is_a_gap_and_the_next_message_still_reads() {
        let mut r = Reassembler::new();
        let first = &MSG[..30];
        r.push(&seg(0, first));
        // 30..MSG.len() never captured; the next message follows.
        let next = MSG.len() as u32;
        r.push(&seg(next, MSG));
        let (msgs, gaps) = r.finish(Duration::from_secs(9));
        assert_eq!(msgs.len(), 1);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!(gaps[0].reason.contains("missing"), "{}", gaps[0].reason);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::new();
        let start = u32::MAX - 10;
        let (a, b) = MSG.split_at(20);
        r.push(&seg(start, a));
        r.push(&seg(start.wrapping_add(20), b));
        let (msgs, _) = r.finish(Duration::ZERO);
        assert_eq!(msgs.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn any_segments_never_panic(segs in proptest::collection::vec(
            (proptest::num::u32::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..64), proptest::bool::ANY),
            0..64,
        )) {
            let mut r = Reassembler::new();
            for (seq, payload, fin) in segs {
                let mut s = seg(seq, &payload);
                s.fin = fin;
                r.push(&s);
            }
            let _ = r.finish(Duration::ZERO);
        }
    }
}
