//! The instrumented audio every load call sends, encoded once and shared.
//!
//! Owns: a bank of G.711 payloads of the instrumented party signal
//! ([`media::signal::Modem::frame`]), per party id and frame counter, built lazily the
//! first time a call needs a frame and kept up to a memory cap. Generating a frame costs
//! an inverse FFT; at thousands of streams every call would repeat the same work for the
//! same (party, counter), so the bank does it once and every stream copies 160 bytes.
//! Beyond the cap a frame is generated on demand into the caller's buffer (correct, only
//! slower), so a long hold never grows memory.
//!
//! Party ids: each call takes one pair from [`PARTY_PAIRS`] by its index (caller `2p`,
//! callee `2p + 1`), so audio leaking between calls of different pairs is caught as
//! foreign audio by the receiving decoder. Leaks between calls of the same pair are not
//! distinguishable by the signal (they carry the same party ids); the per-call SSRC and
//! port still separate them at the RTP level.
//!
//! Must not touch: sockets, time, or RTP framing.

use media::FRAME_SAMPLES;
use media::g711::Law;
use media::signal::{Modem, PartyId};
use std::sync::Arc;

/// How many caller/callee party-id pairs calls rotate through.
pub const PARTY_PAIRS: u8 = 8;

/// Default memory the bank may use for cached payloads: 64 MiB (8 pairs of 20 s calls
/// need 2.6 MB; a 1 h hold on every pair would need 461 MB and is generated on demand
/// past the cap).
pub const DEFAULT_BANK_BYTES: usize = 64 << 20;

/// One encoded 20 ms frame.
pub type Payload = [u8; FRAME_SAMPLES];

/// The shared, lazily filled bank of encoded party frames.
pub struct FrameBank {
    modem: Arc<Modem>,
    law: Law,
    /// `frames[party]` holds frames `0..len` of that party.
    frames: Vec<Vec<Payload>>,
    max_frames_per_party: usize,
    generated_live: u64,
}

impl std::fmt::Debug for FrameBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBank")
            .field("law", &self.law)
            .field("parties", &self.frames.len())
            .field("max_frames_per_party", &self.max_frames_per_party)
            .finish()
    }
}

impl FrameBank {
    /// A bank for `PARTY_PAIRS * 2` parties that keeps at most `max_bytes` of payloads.
    pub fn new(modem: Arc<Modem>, law: Law, max_bytes: usize) -> Self {
        let parties = usize::from(PARTY_PAIRS) * 2;
        Self {
            modem,
            law,
            frames: vec![Vec::new(); parties],
            max_frames_per_party: max_bytes / (parties * FRAME_SAMPLES),
            generated_live: 0,
        }
    }

    /// The modem the frames are built with (receivers decode with the same one).
    pub fn modem(&self) -> &Arc<Modem> {
        &self.modem
    }

    /// The party ids of call `index`: (caller, callee).
    pub fn parties_of(index: u64) -> (PartyId, PartyId) {
        let pair = (index % u64::from(PARTY_PAIRS)) as u8;
        (PartyId(pair * 2), PartyId(pair * 2 + 1))
    }

    /// Writes frame `counter` of `party` into `out`.
    pub fn payload(&mut self, party: PartyId, counter: u64, out: &mut Payload) {
        let cap = self.max_frames_per_party;
        let law = self.law;
        if let Some(list) = self.frames.get_mut(usize::from(party.0))
            && let Ok(n) = usize::try_from(counter)
            && n < cap
        {
            while list.len() <= n {
                let pcm = self.modem.frame(party, list.len() as u64);
                list.push(encode(law, &pcm));
            }
            if let Some(p) = list.get(n) {
                *out = *p;
                return;
            }
        }
        self.generated_live += 1;
        *out = encode(law, &self.modem.frame(party, counter));
    }

    /// Frames generated past the cap (each cost an inverse FFT on the send path).
    pub fn generated_live(&self) -> u64 {
        self.generated_live
    }

    /// Bytes held by cached payloads.
    pub fn cached_bytes(&self) -> usize {
        self.frames.iter().map(|l| l.len() * FRAME_SAMPLES).sum()
    }
}

fn encode(law: Law, pcm: &[i16; FRAME_SAMPLES]) -> Payload {
    let mut out = [0u8; FRAME_SAMPLES];
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = law.encode_sample(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::signal::SignalConfig;

    fn modem() -> Arc<Modem> {
        Arc::new(Modem::new(&SignalConfig::default()).expect("default signal"))
    }

    #[test]
    fn cached_and_live_frames_are_the_same_bytes() {
        let m = modem();
        let mut small = FrameBank::new(m.clone(), Law::Ulaw, 16 * FRAME_SAMPLES * 3);
        let mut big = FrameBank::new(m, Law::Ulaw, DEFAULT_BANK_BYTES);
        let (mut a, mut b) = ([0u8; FRAME_SAMPLES], [0u8; FRAME_SAMPLES]);
        for counter in [0, 1, 2, 3, 7, 2] {
            small.payload(PartyId(5), counter, &mut a);
            big.payload(PartyId(5), counter, &mut b);
            assert_eq!(a, b, "frame {counter}");
        }
        assert_eq!(
            small.generated_live(),
            2,
            "frames 3 and 7 are past the cap of 3"
        );
        assert_eq!(big.generated_live(), 0);
        assert_eq!(big.cached_bytes(), 8 * FRAME_SAMPLES);
    }

    #[test]
    fn calls_rotate_through_distinct_pairs() {
        assert_eq!(FrameBank::parties_of(0), (PartyId(0), PartyId(1)));
        assert_eq!(FrameBank::parties_of(3), (PartyId(6), PartyId(7)));
        assert_eq!(
            FrameBank::parties_of(u64::from(PARTY_PAIRS)),
            (PartyId(0), PartyId(1))
        );
    }
}
