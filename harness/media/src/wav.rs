//! WAV evidence: write what a party heard or the recorder got; read what a vendor hands us.
//!
//! Owns: 16-bit PCM WAV writing (hound), and reading WAV files into per-channel 16-bit PCM.
//! hound reads PCM (8/16/24/32-bit) and 32-bit float; G.711 WAV files (format tags 6 and 7,
//! which call recorders often produce) are read by a small RIFF walker here, because hound
//! does not support those format tags.
//!
//! Must not touch: resampling (see [`crate::resample`]) or analysis. [`read_wav`] is
//! bytes-in so it can be fuzzed; it never panics on malformed input.

use std::io::{Cursor, Seek, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::g711::Law;

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// Not a RIFF/WAVE file, or its chunks are inconsistent.
    #[error("not a readable WAV file: {0}")]
    Format(String),
    /// A WAV encoding we do not decode.
    #[error(
        "unsupported WAV encoding: {0} (convert to 16-bit PCM, e.g. `sox in.wav -b 16 -e signed out.wav`)"
    )]
    Unsupported(String),
    /// Reading or writing failed.
    #[error("WAV I/O failed")]
    Io(#[source] std::io::Error),
}

impl From<hound::Error> for WavError {
    fn from(e: hound::Error) -> Self {
        match e {
            hound::Error::IoError(io) => WavError::Io(io),
            hound::Error::Unsupported => WavError::Unsupported("format not supported".into()),
            other => WavError::Format(other.to_string()),
        }
    }
}

/// Decoded audio, one vector of 16-bit samples per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Samples per channel (all channels have the same length).
    pub channels: Vec<Vec<i16>>,
    /// How the file stored its samples (for the report).
    pub encoding: String,
}

/// Most channels accepted (recordings are mono or stereo; anything above is suspicious).
const MAX_CHANNELS: u16 = 16;

/// Read a WAV file held in memory.
pub fn read_wav(bytes: &[u8]) -> Result<Audio, WavError> {
    match read_with_hound(bytes) {
        Ok(a) => Ok(a),
        Err(WavError::Unsupported(_)) | Err(WavError::Format(_)) => read_g711_wav(bytes),
        Err(e) => Err(e),
    }
}

fn read_with_hound(bytes: &[u8]) -> Result<Audio, WavError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.channels > MAX_CHANNELS {
        return Err(WavError::Unsupported(format!("{} channels", spec.channels)));
    }
    if spec.sample_rate == 0 {
        return Err(WavError::Format("sample rate 0".into()));
    }
    let nch = usize::from(spec.channels);
    let mut channels: Vec<Vec<i16>> = vec![Vec::new(); nch];
    let mut push = |i: usize, v: i16| {
        if let Some(c) = channels.get_mut(i % nch) {
            c.push(v);
        }
    };
    let encoding;
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            encoding = "32-bit float".to_string();
            for (i, s) in reader.samples::<f32>().enumerate() {
                push(i, crate::synth::to_i16(f64::from(s?) * 32768.0));
            }
        }
        (hound::SampleFormat::Int, bits @ 1..=16) => {
            encoding = format!("{bits}-bit PCM");
            let shift = 16 - u32::from(bits);
            for (i, s) in reader.samples::<i16>().enumerate() {
                push(i, s?.wrapping_shl(shift));
            }
        }
        (hound::SampleFormat::Int, bits @ 17..=32) => {
            encoding = format!("{bits}-bit PCM");
            let shift = u32::from(bits) - 16;
            for (i, s) in reader.samples::<i32>().enumerate() {
                push(i, (s? >> shift).clamp(-32768, 32767) as i16);
            }
        }
        (fmt, bits) => {
            return Err(WavError::Unsupported(format!("{fmt:?} with {bits} bits")));
        }
    }
    let min = channels.iter().map(Vec::len).min().unwrap_or(0);
    for c in &mut channels {
        c.truncate(min);
    }
    Ok(Audio {
        sample_rate: spec.sample_rate,
        channels,
        encoding,
    })
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Minimal RIFF walker for G.711 WAV (format tag 6 = A-law, 7 = µ-law, 8 bits per sample).
fn read_g711_wav(bytes: &[u8]) -> Result<Audio, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::Format("missing RIFF/WAVE header".into()));
    }
    let mut at = 12usize;
    let mut fmt: Option<(u16, u16, u32)> = None;
    let mut data: Option<&[u8]> = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), le_u32(bytes, at + 4)) {
        let body_start = at + 8;
        let size = size as usize;
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = bytes.get(body_start..body_end).unwrap_or(&[]);
        match id {
            b"fmt " => {
                let tag =
                    le_u16(body, 0).ok_or_else(|| WavError::Format("short fmt chunk".into()))?;
                let ch =
                    le_u16(body, 2).ok_or_else(|| WavError::Format("short fmt chunk".into()))?;
                let rate =
                    le_u32(body, 4).ok_or_else(|| WavError::Format("short fmt chunk".into()))?;
                // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the GUID.
                let tag = if tag == 0xFFFE {
                    le_u16(body, 24).unwrap_or(tag)
                } else {
                    tag
                };
                fmt = Some((tag, ch, rate));
            }
            b"data" => {
                data = Some(body);
                break;
            }
            _ => {}
        }
        // Chunks are padded to even sizes.
        at = body_start.saturating_add(size).saturating_add(size & 1);
    }
    let (tag, ch, rate) = fmt.ok_or_else(|| WavError::Format("no fmt chunk".into()))?;
    let data = data.ok_or_else(|| WavError::Format("no data chunk".into()))?;
    let law = match tag {
        6 => Law::Alaw,
        7 => Law::Ulaw,
        other => return Err(WavError::Unsupported(format!("format tag {other}"))),
    };
    if ch == 0 || ch > MAX_CHANNELS || rate == 0 {
        return Err(WavError::Format(format!("{ch} channels at {rate} Hz")));
    }
    let nch = usize::from(ch);
    let frames = data.len() / nch;
    let mut channels = vec![Vec::with_capacity(frames); nch];
    for frame in data.chunks_exact(nch) {
        for (c, &b) in channels.iter_mut().zip(frame) {
            c.push(law.decode_sample(b));
        }
    }
    Ok(Audio {
        sample_rate: rate,
        channels,
        encoding: format!("G.711 {}", law.encoding_name()),
    })
}

/// Write mono 16-bit PCM to any seekable writer.
pub fn write_wav<W: Write + Seek>(w: W, sample_rate: u32, pcm: &[i16]) -> Result<(), WavError> {
    let mut out = WavStreamWriter::new(w, sample_rate)?;
    out.write(pcm)?;
    out.finish()
}

/// Write mono 16-bit PCM to a file (created or truncated).
pub fn write_wav_file(path: &Path, sample_rate: u32, pcm: &[i16]) -> Result<(), WavError> {
    let file = std::fs::File::create(path).map_err(WavError::Io)?;
    write_wav(std::io::BufWriter::new(file), sample_rate, pcm)
}

/// Incremental mono 16-bit PCM writer for a stream's evidence (append as audio arrives,
/// then [`WavStreamWriter::finish`] to fix up the header).
pub struct WavStreamWriter<W: Write + Seek> {
    inner: hound::WavWriter<W>,
}

impl<W: Write + Seek> std::fmt::Debug for WavStreamWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavStreamWriter")
            .field("samples", &self.inner.len())
            .finish()
    }
}

impl<W: Write + Seek> WavStreamWriter<W> {
    /// Start a mono 16-bit file at `sample_rate`.
    pub fn new(w: W, sample_rate: u32) -> Result<Self, WavError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(Self {
            inner: hound::WavWriter::new(w, spec)?,
        })
    }

    /// Append samples.
    pub fn write(&mut self, pcm: &[i16]) -> Result<(), WavError> {
        for &s in pcm {
            self.inner.write_sample(s)?;
        }
        Ok(())
    }

    /// Finish the file (writes the final lengths into the header).
    pub fn finish(self) -> Result<(), WavError> {
        self.inner.finalize().map_err(WavError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_round_trip() {
        let pcm: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let mut cur = Cursor::new(Vec::new());
        write_wav(&mut cur, 8000, &pcm).expect("write");
        let a = read_wav(cur.get_ref()).expect("read");
        assert_eq!(a.sample_rate, 8000);
        assert_eq!(a.channels, vec![pcm]);
    }

    #[test]
    fn reads_ulaw_stereo_wav() {
        let left: Vec<i16> = (0..100).map(|i| i * 100).collect();
        let right: Vec<i16> = (0..100).map(|i| -i * 50).collect();
        let mut data = Vec::new();
        for (l, r) in left.iter().zip(&right) {
            data.push(Law::Ulaw.encode_sample(*l));
            data.push(Law::Ulaw.encode_sample(*r));
        }
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend(&(4 + 26 + 8 + data.len() as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(&18u32.to_le_bytes());
        b.extend(&7u16.to_le_bytes());
        b.extend(&2u16.to_le_bytes());
        b.extend(&8000u32.to_le_bytes());
        b.extend(&16000u32.to_le_bytes());
        b.extend(&2u16.to_le_bytes());
        b.extend(&8u16.to_le_bytes());
        b.extend(&0u16.to_le_bytes());
        b.extend(b"data");
        b.extend(&(data.len() as u32).to_le_bytes());
        b.extend(&data);
        let a = read_wav(&b).expect("read");
        assert_eq!(a.channels.len(), 2);
        assert_eq!(a.channels[0], Law::Ulaw.roundtrip(&left));
        assert_eq!(a.channels[1], Law::Ulaw.roundtrip(&right));
        assert!(a.encoding.contains("PCMU"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read_wav(b"").is_err());
        assert!(read_wav(b"RIFF\x10\0\0\0WAVEjunk").is_err());
    }
}
