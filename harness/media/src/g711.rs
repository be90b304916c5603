//! G.711 µ-law and A-law, the two codecs every SIPREC recorder must accept.
//!
//! Owns: the mapping between 16-bit linear PCM and G.711 bytes, and between the codecs and
//! their static RTP payload types (RFC 3551: PCMU = 0, PCMA = 8). The per-sample tables come
//! from `audio-codec-algorithms` (chosen because it forbids panics and
//! matches the ITU tables); this module only adds slice helpers and payload-type mapping.
//!
//! Must not touch: RTP framing (see [`crate::rtp`]) or sample-rate conversion.

use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};
use serde::{Deserialize, Serialize};

/// Which G.711 companding law a stream uses.
///
/// Exists so callers name the codec once (from SDP or from the RTP payload type) and every
/// encode/decode call site picks the right table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Law {
    /// µ-law (PCMU, RTP payload type 0), used in North America and Japan.
    Ulaw,
    /// A-law (PCMA, RTP payload type 8), used in most other countries.
    Alaw,
}

impl Law {
    /// The static RTP payload type for this law (RFC 3551 table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law for a static RTP payload type, or `None` if the type is not G.711.
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:0 PCMU/8000`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// Encode one linear sample.
    pub fn encode_sample(self, s: i16) -> u8 {
        match self {
            Law::Ulaw => encode_ulaw(s),
            Law::Alaw => encode_alaw(s),
        }
    }

    /// Decode one G.711 byte.
    pub fn decode_sample(self, b: u8) -> i16 {
        match self {
            Law::Ulaw => decode_ulaw(b),
            Law::Alaw => decode_alaw(b),
        }
    }

    /// Encode linear PCM, appending one byte per sample to `out`.
    pub fn encode_into(self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len());
        out.extend(pcm.iter().map(|&s| self.encode_sample(s)));
    }

    /// Decode G.711 bytes, appending one sample per byte to `out`.
    pub fn decode_into(self, bytes: &[u8], out: &mut Vec<i16>) {
        out.reserve(bytes.len());
        out.extend(bytes.iter().map(|&b| self.decode_sample(b)));
    }

    /// Encode linear PCM into a new buffer.
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        let mut v = Vec::with_capacity(pcm.len());
        self.encode_into(pcm, &mut v);
        v
    }

    /// Decode G.711 bytes into a new buffer.
    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        let mut v = Vec::with_capacity(bytes.len());
        self.decode_into(bytes, &mut v);
        v
    }

    /// Encode then decode: what a listener hears after one G.711 hop. Tests and the
    /// simulated network use it to apply codec distortion without building packets.
    pub fn roundtrip(self, pcm: &[i16]) -> Vec<i16> {
        pcm.iter()
            .map(|&s| self.decode_sample(self.encode_sample(s)))
            .collect()
    }

    /// The byte that decodes to (near) zero: what a G.711 sender emits for silence.
    pub fn silence_byte(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_round_trip() {
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(Law::from_payload_type(law.payload_type()), Some(law));
        }
        assert_eq!(Law::from_payload_type(18), None);
    }

    #[test]
    fn silence_decodes_to_near_zero() {
        for law in [Law::Ulaw, Law::Alaw] {
            assert!(law.decode_sample(law.silence_byte()).abs() <= 8);
        }
    }

    #[test]
    fn roundtrip_error_is_within_companding_step() {
        // G.711 keeps roughly 12-13 bits of relative precision: error < 1/16 of the value
        // plus the smallest step.
        for law in [Law::Ulaw, Law::Alaw] {
            for s in (-32000i32..32000).step_by(37) {
                let s = s as i16;
                let r = law.decode_sample(law.encode_sample(s));
                let err = (i32::from(r) - i32::from(s)).abs();
                assert!(err <= i32::from(s).abs() / 16 + 16, "{law:?} {s} -> {r}");
            }
        }
    }
}
