//! RTP audio packets to one PCM timeline, remembering when each part arrived.
//!
//! Owns: placing decoded payloads at their RTP-timestamp position (so reordering and
//! duplicates do not disturb the audio), filling lost packets with silence, and mapping a
//! timeline position back to the arrival time of the packet that carried it, which is what
//! per-frame latency is measured against.
//!
//! Must not touch: parsing (see [`crate::rtp`]), decoding laws (see [`crate::g711`]), I/O.
//! It works on a whole stream at once: analysis of captures and ground-truth tests, not a
//! live jitter buffer.

use std::time::Duration;

/// One packet's audio, already decoded to PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedAudio {
    /// Extended RTP timestamp of the first sample.
    pub ts: u64,
    /// Arrival time of the packet.
    pub arrival: Duration,
    /// Decoded samples.
    pub pcm: Vec<i16>,
}

/// One contiguous piece of the timeline that came from one packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    /// Offset in [`Timeline::pcm`].
    pub pos: usize,
    /// Samples.
    pub len: usize,
    /// Extended RTP timestamp of the first sample.
    pub ts: u64,
    /// Arrival time of the packet.
    pub arrival: Duration,
}

/// A stream's audio on its RTP-timestamp timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Samples; position 0 is the earliest timestamp received.
    pub pcm: Vec<i16>,
    /// Where each packet landed, sorted by position.
    pub pieces: Vec<Piece>,
    /// Packets dropped because their timestamp range was already filled (duplicates).
    pub duplicates: u64,
    /// Timestamp jumps longer than [`MAX_GAP`] that were shortened to one second.
    pub compressed_gaps: u64,
}

/// Longest timestamp gap kept as real silence (60 s); longer jumps are shortened.
pub const MAX_GAP: u64 = 60 * 8000;

impl Timeline {
    /// Build a timeline from packets in any order.
    pub fn build(mut packets: Vec<TimedAudio>) -> Self {
        packets.sort_by_key(|p| (p.ts, p.arrival));
        let mut t = Timeline::default();
        let mut end_ts: Option<u64> = None;
        for p in packets {
            if p.pcm.is_empty() {
                continue;
            }
            let mut pcm: &[i16] = &p.pcm;
            let mut ts = p.ts;
            if let Some(end) = end_ts {
                if ts + pcm.len() as u64 <= end {
                    t.duplicates += 1;
                    continue;
                }
                if ts < end {
                    // Overlaps what we have: keep only the new tail.
                    let skip = (end - ts) as usize;
                    pcm = pcm.get(skip..).unwrap_or(&[]);
                    ts = end;
                } else if ts > end {
                    let gap = ts - end;
                    let fill = if gap > MAX_GAP {
                        t.compressed_gaps += 1;
                        8000
                    } else {
                        gap
                    };
                    t.pcm.resize(t.pcm.len() + fill as usize, 0);
                }
            }
            t.pieces.push(Piece {
                pos: t.pcm.len(),
                len: pcm.len(),
                ts,
                arrival: p.arrival,
            });
            t.pcm.extend_from_slice(pcm);
            end_ts = Some(ts + pcm.len() as u64);
        }
        t
    }

    /// When the sample at (fractional) position `pos` arrived, in seconds on the arrival
    /// clock: the carrying packet's arrival plus the offset inside the packet. `None` for
    /// positions in filled gaps.
    pub fn arrival_at(&self, pos: f64) -> Option<f64> {
        // Fractional timing may put a frame start up to half a sample before its packet.
        let i = self
            .pieces
            .partition_point(|p| (p.pos as f64) <= pos + 0.5)
            .checked_sub(1)?;
        let p = self.pieces.get(i)?;
        let off = pos - p.pos as f64;
        (off < p.len as f64).then(|| p.arrival.as_secs_f64() + off / 8000.0)
    }

    /// Arrival time of the first packet, in seconds.
    pub fn first_arrival(&self) -> Option<f64> {
        self.pieces.first().map(|p| p.arrival.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_dedups_and_fills() {
        let ms = Duration::from_millis;
        let pk = |ts: u64, at: u64, v: i16| TimedAudio {
            ts,
            arrival: ms(at),
            pcm: vec![v; 160],
        };
        let t = Timeline::build(vec![
            pk(1000, 0, 1),
            pk(1320, 25, 3), // 1160 lost
            pk(1480, 70, 4),
            pk(1320, 80, 9), // duplicate
        ]);
        assert_eq!(t.pcm.len(), 640);
        assert_eq!(t.pcm[0], 1);
        assert_eq!(t.pcm[200], 0);
        assert_eq!(t.pcm[320], 3);
        assert_eq!(t.duplicates, 1);
        let a = t.arrival_at(330.0).expect("in a packet");
        assert!((a - (0.025 + 10.0 / 8000.0)).abs() < 1e-9);
        assert!(t.arrival_at(200.0).is_none());
    }
}
