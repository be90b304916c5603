//! The instrumented party signal: every 20 ms frame says which party sent it and which
//! frame it is, and says so with sub-sample timing.
//!
//! Owns: the waveform each simulated party sends ([`Modem::frame`], [`PartySource`]), the
//! decoder that recovers party, frame number and frame start from any received audio
//! ([`FrameDecoder`]), and the bookkeeping that turns decoded frames into latency, loss,
//! reordering and front clipping ([`FrameTracker`]).
//!
//! Must not touch: RTP, sockets, clocks, files. Time is the sample index at 8 kHz.
//!
//! # Design
//!
//! A frame is one OFDM symbol: a 128-sample body (62.5 Hz carrier spacing) preceded by a
//! 32-sample cyclic prefix, 160 samples in all. Why:
//! - **Protected bands stay clean.** Carriers sit on the 62.5 Hz grid between 600 and
//!   3500 Hz, at least `margin_hz` away from every protected band (default: 300-600,
//!   900-1100, 1300-1500 and 2000-2200 Hz, i.e. ±100 Hz around 400-500, 1000, 1400 and
//!   2100 Hz). A reminder tone or beep therefore lands where the party signal has no
//!   energy: the tone detector is not tripped by party audio, and a tone mixed into the
//!   stream barely disturbs the carriers. The default grid has 31 carriers.
//! - **Timing tolerance for cheap acquisition.** Any 128-sample window that starts 8 to 24
//!   samples into a frame sees one whole period of the body (the prefix is a copy of the
//!   body's end), only phase-rotated. A blind scan therefore tries one window every 16
//!   samples, and a tracked stream costs one 128-point FFT per frame.
//! - **Robust to G.711 and gain.** Data is differential QPSK *across carriers* (the phase
//!   step from one carrier to the next): independent of gain (±10 dB or more), of polarity,
//!   and of the unknown timing offset, whose common phase slope is estimated with the
//!   fourth-power method and removed. G.711 adds noise some 35 dB below the signal.
//! - **Foreign audio never decodes.** 30 symbols carry 60 bits: a 24-bit CRC (first, so
//!   consecutive frames differ from the first carrier on), a 24-bit frame counter (wraps
//!   after 93 hours; extended to 64 bits like an RTP sequence number), an 8-bit party id,
//!   and 4 fixed bits. A blind decode is accepted only if the CRC and fixed bits match
//!   (2^-28 by chance) *and* the window correlates with the regenerated frame
//!   (score >= 0.6), so speech, tones or noise do not produce frames.
//! - **Sub-sample timing.** Once party and frame number are known, every carrier's
//!   transmitted phase is known, so the received phases form a straight line over
//!   frequency whose slope is the timing offset: that is the correlation against the
//!   regenerated frame, computed in the frequency domain and fitted to sub-sample precision.
//! - **Tracking under interference.** When a stream is locked, the decoder checks the next
//!   slot against the *predicted* frame (same party, next number) by that correlation alone
//!   (score >= 0.45). Mixed with equal-level speech or a tone, blind decoding of single
//!   frames may fail, but the predicted frame still correlates clearly, so frames keep
//!   being identified.
//! - **Front clipping at sample resolution.** When a stream is (re)acquired, the samples
//!   just before the first whole frame are compared with the regenerated previous frame;
//!   how many of them match is the frame's `lead_in`.
//!
//! Frame counters start at 0 with a party's first frame, so a recording alone tells how
//! much of the party's audio is missing at its start.
//!
//! Limits: one party per stream at a time (a stream that switches parties is followed; two
//! parties *summed* into one channel are not separated).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::f64::consts::PI;
use std::sync::Arc;

use rustfft::num_complex::{Complex, Complex64};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use crate::rtp::extend_bits;
use crate::{FRAME_SAMPLES, SAMPLE_RATE};

/// Body length of one symbol (samples): the FFT size.
pub const BODY: usize = 128;
/// Cyclic prefix length (samples).
pub const PREFIX: usize = 32;
/// Carrier spacing in Hz (`SAMPLE_RATE / BODY`).
pub const SPACING_HZ: f64 = SAMPLE_RATE as f64 / BODY as f64;
/// Carriers used per frame.
pub const CARRIERS: usize = 31;
/// Samples ramped in and out at each frame edge (limits splatter into protected bands).
const TAPER: usize = 8;
/// Where the decoder places its window inside a frame (middle of the tolerance 8..=24).
const NOMINAL_OFFSET: usize = 16;
/// Step of the blind scan (the tolerance width).
const SCAN_STEP: u64 = 16;
/// Bits in the frame counter.
pub const COUNTER_BITS: u32 = 24;

/// A party's identifier inside a call (0-255), carried by every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartyId(pub u8);

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "party {}", self.0)
    }
}

/// Where the instrumented signal may put energy, and how loud it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalConfig {
    /// Bands (low, high) in Hz the signal must keep out of: reminder tones, beeps,
    /// announcement tones live there.
    pub protected_hz: Vec<(f64, f64)>,
    /// Minimum distance between a carrier and a protected band, in Hz.
    pub margin_hz: f64,
    /// Lowest and highest carrier frequency, in Hz.
    pub band_hz: (f64, f64),
    /// RMS level of the signal, dBFS. -24 dBFS leaves room for +10 dB of gain before the
    /// peaks clip.
    pub level_dbfs: f64,
}

impl Default for SignalConfig {
    fn default() -> Self {
        Self {
            protected_hz: vec![
                (300.0, 600.0),
                (900.0, 1100.0),
                (1300.0, 1500.0),
                (2000.0, 2200.0),
            ],
            margin_hz: 62.5,
            band_hz: (600.0, 3500.0),
            level_dbfs: -24.0,
        }
    }
}

/// Why a [`SignalConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The protected bands leave too few carriers for a frame's 60 bits.
    #[error(
        "the protected bands leave {found} carriers between {lo} and {hi} Hz, need {CARRIERS} \
         (narrow the bands or the margin)"
    )]
    TooFewCarriers {
        /// Carriers available.
        found: usize,
        /// Band low edge.
        lo: f64,
        /// Band high edge.
        hi: f64,
    },
}

impl SignalConfig {
    /// The FFT bins used as carriers: 31 bins, spread over the allowed ones.
    pub fn carriers(&self) -> Result<Vec<usize>, SignalError> {
        let allowed: Vec<usize> = (1..BODY / 2)
            .filter(|&k| {
                let f = k as f64 * SPACING_HZ;
                f >= self.band_hz.0
                    && f <= self.band_hz.1
                    && self
                        .protected_hz
                        .iter()
                        .all(|&(lo, hi)| f <= lo - self.margin_hz || f >= hi + self.margin_hz)
            })
            .collect();
        if allowed.len() < CARRIERS {
            return Err(SignalError::TooFewCarriers {
                found: allowed.len(),
                lo: self.band_hz.0,
                hi: self.band_hz.1,
            });
        }
        let n = allowed.len();
        Ok((0..CARRIERS)
            .filter_map(|i| allowed.get((i * (n - 1) + (CARRIERS - 1) / 2) / (CARRIERS - 1)))
            .copied()
            .collect())
    }
}

/// The shared tables of the modulation: carriers, fixed per-carrier phase offsets, level.
///
/// Built once from a [`SignalConfig`]; encoder, decoder and tracker share it (`Arc`).
pub struct Modem {
    carriers: Vec<usize>,
    /// Fixed pseudo-random phase per carrier (keeps the crest factor low for every payload).
    psi: Vec<Complex64>,
    /// `e^{-j(psi[i+1] - psi[i])}`.
    dpsi: Vec<Complex64>,
    /// Amplitude of each carrier (linear, 16-bit scale).
    amp: f64,
    /// FFT bins counted in the score's energy: everything between 1 and 63 except the
    /// protected bands, where the party signal has no energy and tones live. A tone mixed
    /// into the stream therefore does not dilute the score.
    scored_bins: Vec<usize>,
    ifft: Arc<dyn Fft<f64>>,
    config: SignalConfig,
}

impl std::fmt::Debug for Modem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Modem")
            .field("carriers", &self.carriers)
            .field("amp", &self.amp)
            .finish()
    }
}

/// Frame counter and party packed with the CRC into the 60 transmitted bits.
fn pack(party: u8, counter: u32) -> u64 {
    let counter = u64::from(counter) & 0xFF_FFFF;
    // 34 protected bits: version (01), party, counter.
    let data = (0b01u64 << 32) | (u64::from(party) << 24) | counter;
    let crc = u64::from(crc24(data, 34));
    // Transmitted order (MSB first): crc24, counter24, party8, version2, pad2.
    (crc << 36) | (counter << 12) | (u64::from(party) << 4) | (0b01 << 2)
}

fn unpack(bits: u64) -> Option<(u8, u32)> {
    let crc = ((bits >> 36) & 0xFF_FFFF) as u32;
    let counter = ((bits >> 12) & 0xFF_FFFF) as u32;
    let party = ((bits >> 4) & 0xFF) as u8;
    let fixed = bits & 0xF;
    if fixed != 0b0100 {
        return None;
    }
    let data = (0b01u64 << 32) | (u64::from(party) << 24) | u64::from(counter);
    (crc24(data, 34) == crc).then_some((party, counter))
}

/// CRC-24/OpenPGP (RFC 4880 §6.1) over the low `nbits` bits of `data`, MSB first.
/// Hand-written: the message is 34 bits, not bytes, and the loop is eight lines.
fn crc24(data: u64, nbits: u32) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for i in (0..nbits).rev() {
        let bit = ((data >> i) & 1) as u32;
        let top = (crc >> 23) & 1;
        crc = (crc << 1) & 0xFF_FFFF;
        if top ^ bit == 1 {
            crc ^= 0x86_4CFB;
        }
    }
    crc
}

/// Gray-coded quadrant (0-3) for two bits.
fn gray(b: u8) -> u8 {
    [0, 1, 3, 2][usize::from(b & 3)]
}

/// Two bits for a quadrant.
fn ungray(q: u8) -> u8 {
    [0, 1, 3, 2][usize::from(q & 3)]
}

/// `j^q` for a quadrant `q`.
fn quarter(q: u8) -> Complex64 {
    match q & 3 {
        0 => Complex64::new(1.0, 0.0),
        1 => Complex64::new(0.0, 1.0),
        2 => Complex64::new(-1.0, 0.0),
        _ => Complex64::new(0.0, -1.0),
    }
}

impl Modem {
    /// Tables for a configuration.
    pub fn new(config: &SignalConfig) -> Result<Self, SignalError> {
        let carriers = config.carriers()?;
        // Fixed phase offsets from a tiny LCG: deterministic, shared by both ends.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let psi: Vec<Complex64> = (0..CARRIERS)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                Complex64::from_polar(1.0, 2.0 * PI * u)
            })
            .collect();
        let dpsi = psi
            .windows(2)
            .map(|w| (w[1] * w[0].conj()).conj())
            .collect();
        let rms = 32768.0 * 10f64.powf(config.level_dbfs / 20.0);
        let amp = rms * (2.0 / CARRIERS as f64).sqrt();
        let ifft = FftPlanner::<f64>::new().plan_fft_inverse(BODY);
        let scored_bins = (1..BODY / 2)
            .filter(|&k| {
                let f = k as f64 * SPACING_HZ;
                config.protected_hz.iter().all(|&(lo, hi)| f < lo || f > hi)
            })
            .collect();
        Ok(Self {
            scored_bins,
            carriers,
            psi,
            dpsi,
            amp,
            ifft,
            config: config.clone(),
        })
    }

    /// The configuration the tables were built from.
    pub fn config(&self) -> &SignalConfig {
        &self.config
    }

    /// Carrier frequencies in Hz.
    pub fn carrier_freqs(&self) -> Vec<f64> {
        self.carriers
            .iter()
            .map(|&k| k as f64 * SPACING_HZ)
            .collect()
    }

    /// Per-carrier transmitted phase (as unit phasors) for one frame.
    fn phasors(&self, party: u8, counter: u64) -> [Complex64; CARRIERS] {
        let bits = pack(party, (counter & 0xFF_FFFF) as u32);
        let mut out = [Complex64::new(0.0, 0.0); CARRIERS];
        let mut acc: u8 = 0;
        for (i, slot) in out.iter_mut().enumerate() {
            if i > 0 {
                let sym = ((bits >> (58 - 2 * (i - 1))) & 3) as u8;
                acc = acc.wrapping_add(gray(sym)) & 3;
            }
            *slot = self.psi.get(i).copied().unwrap_or_default() * quarter(acc);
        }
        out
    }

    /// The 160 samples party `party` sends as frame `counter` (only the low 24 bits of the
    /// counter are transmitted).
    pub fn frame(&self, party: PartyId, counter: u64) -> [i16; FRAME_SAMPLES] {
        let x = self.frame_f64(party.0, counter);
        let mut out = [0i16; FRAME_SAMPLES];
        for (o, v) in out.iter_mut().zip(x) {
            *o = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        out
    }

    fn frame_f64(&self, party: u8, counter: u64) -> [f64; FRAME_SAMPLES] {
        let ph = self.phasors(party, counter);
        let mut spec = vec![Complex64::new(0.0, 0.0); BODY];
        for (&k, p) in self.carriers.iter().zip(ph) {
            if let Some(s) = spec.get_mut(k) {
                *s = p * self.amp;
            }
        }
        self.ifft.process(&mut spec);
        let mut out = [0f64; FRAME_SAMPLES];
        for (j, o) in out.iter_mut().enumerate() {
            let body_idx = (j + BODY - PREFIX) % BODY;
            *o = spec.get(body_idx).map_or(0.0, |c| c.re) * taper(j as f64);
        }
        out
    }

    /// One sample of frame `(party, counter)` at a fractional position `t` (0..160) inside
    /// the frame: used to regenerate a frame at the timing it was received with.
    fn sample_at(&self, ph: &[Complex64; CARRIERS], t: f64) -> f64 {
        let mut acc = 0.0;
        for (&k, p) in self.carriers.iter().zip(ph) {
            let w = 2.0 * PI * k as f64 * (t - PREFIX as f64) / BODY as f64;
            acc += p.re * w.cos() - p.im * w.sin();
        }
        acc * self.amp * taper(t)
    }
}

/// Raised-cosine ramp over the first and last [`TAPER`] samples of a frame.
fn taper(t: f64) -> f64 {
    let n = FRAME_SAMPLES as f64;
    let edge = TAPER as f64;
    let d = t.min(n - 1.0 - t);
    if d >= edge {
        1.0
    } else if d < 0.0 {
        0.0
    } else {
        0.5 - 0.5 * (PI * (d + 0.5) / edge).cos()
    }
}

/// The audio one simulated party sends: consecutive frames from counter 0.
#[derive(Debug, Clone)]
pub struct PartySource {
    modem: Arc<Modem>,
    party: PartyId,
    next: u64,
}

impl PartySource {
    /// A source for `party`, starting at frame 0.
    pub fn new(modem: Arc<Modem>, party: PartyId) -> Self {
        Self {
            modem,
            party,
            next: 0,
        }
    }

    /// The party this source speaks for.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The counter of the next frame.
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// The next frame and its counter.
    pub fn next_frame(&mut self) -> (u64, [i16; FRAME_SAMPLES]) {
        let n = self.next;
        self.next += 1;
        (n, self.modem.frame(self.party, n))
    }

    /// `frames` consecutive frames as one buffer (tests, evidence).
    pub fn take(&mut self, frames: usize) -> Vec<i16> {
        let mut out = Vec::with_capacity(frames * FRAME_SAMPLES);
        for _ in 0..frames {
            out.extend_from_slice(&self.next_frame().1);
        }
        out
    }
}

/// How the decoder found a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Found {
    /// Decoded from the audio alone (CRC checked).
    Blind,
    /// Confirmed as the predicted next frame of a locked stream.
    Tracked,
}

/// One identified frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameEvent {
    /// Who sent it.
    pub party: PartyId,
    /// Frame counter, extended to 64 bits per party.
    pub frame: u64,
    /// Position of the frame's first sample on the pushed timeline (fractional).
    pub start: f64,
    /// Correlation with the regenerated frame (1.0 = clean).
    pub score: f64,
    /// Received level relative to the configured level, in dB.
    pub gain_db: f64,
    /// Whether the audio arrived with inverted polarity.
    pub inverted: bool,
    /// Blind decode or tracking.
    pub found: Found,
    /// On (re)acquisition: how many samples right before `start` match the end of the
    /// previous frame (0-160). Front clipping at sample resolution.
    pub lead_in: Option<u32>,
}

/// Thresholds of a [`FrameDecoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderConfig {
    /// Score needed to accept a blind decode (CRC already matched).
    pub blind_score: f64,
    /// Score needed to accept the predicted frame of a locked stream.
    pub track_score: f64,
    /// Windows quieter than this (RMS dBFS) are not decoded.
    pub min_level_dbfs: f64,
    /// Consecutive empty slots after which a locked decoder scans again.
    pub max_misses: u32,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            blind_score: 0.6,
            track_score: 0.45,
            min_level_dbfs: -60.0,
            max_misses: 2,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Scan {
        pos: u64,
    },
    Locked {
        party: u8,
        frame: u64,
        start: f64,
        misses: u32,
        inverted: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Det {
    party: u8,
    counter: u64,
    start: f64,
    score: f64,
    gain: f64,
    inverted: bool,
}

/// Largest gap between pushes bridged with silence (2 s); longer gaps start a new segment.
const MAX_BRIDGED_GAP: u64 = 16_000;
/// Samples kept before the current decode position (for the lead-in check).
const HISTORY: u64 = 2 * FRAME_SAMPLES as u64;

/// Sans-IO frame decoder: `push(first_sample, pcm)`, then drain `poll_event()`.
///
/// Pushes should be contiguous. A forward gap of up to two seconds is filled with silence;
/// a longer gap or a step backwards (a late packet pushed at its own position) starts a new
/// segment, decoded on its own, so events may then come out of position order.
pub struct FrameDecoder {
    modem: Arc<Modem>,
    cfg: DecoderConfig,
    fft: Arc<dyn Fft<f32>>,
    fft_buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    buf: Vec<f32>,
    buf_start: u64,
    started: bool,
    state: State,
    last_counter: HashMap<u8, u64>,
    events: VecDeque<FrameEvent>,
    min_energy: f64,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("buf_start", &self.buf_start)
            .field("buffered", &self.buf.len())
            .field("state", &self.state)
            .finish()
    }
}

impl FrameDecoder {
    /// A decoder for signals built with `modem`'s configuration.
    pub fn new(modem: Arc<Modem>, cfg: DecoderConfig) -> Self {
        let fft = FftPlanner::<f32>::new().plan_fft_forward(BODY);
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        let rms = 32768.0 * 10f64.powf(cfg.min_level_dbfs / 20.0);
        Self {
            min_energy: rms * rms * BODY as f64,
            modem,
            cfg,
            fft,
            fft_buf: vec![Complex::new(0.0, 0.0); BODY],
            scratch,
            buf: Vec::new(),
            buf_start: 0,
            started: false,
            state: State::Scan { pos: 0 },
            last_counter: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Feed samples; `first_sample` is the timeline index of `pcm[0]`.
    pub fn push(&mut self, first_sample: u64, pcm: &[i16]) {
        if !self.started {
            self.started = true;
            self.reset_at(first_sample);
        }
        let end = self.buf_start + self.buf.len() as u64;
        let mut pcm = pcm;
        if first_sample > end {
            let gap = first_sample - end;
            if gap <= MAX_BRIDGED_GAP {
                self.buf.resize(self.buf.len() + gap as usize, 0.0);
            } else {
                self.reset_at(first_sample);
            }
        } else if first_sample < end {
            let overlap = (end - first_sample) as usize;
            if overlap < pcm.len() {
                pcm = &pcm[overlap..];
            } else {
                // Entirely in the past: decode it as a segment of its own, then carry on.
                let saved_buf = std::mem::take(&mut self.buf);
                let saved_start = self.buf_start;
                let saved_state = self.state;
                self.buf_start = first_sample;
                self.state = State::Scan { pos: first_sample };
                self.buf.extend(pcm.iter().map(|&s| f32::from(s)));
                self.run();
                self.buf = saved_buf;
                self.buf_start = saved_start;
                self.state = saved_state;
                return;
            }
        }
        self.buf.extend(pcm.iter().map(|&s| f32::from(s)));
        self.run();
    }

    /// End of stream (frames are emitted as soon as their window is complete, so this only
    /// exists for symmetry with the other detectors).
    pub fn finish(&mut self) {
        self.run();
    }

    /// Next identified frame.
    pub fn poll_event(&mut self) -> Option<FrameEvent> {
        self.events.pop_front()
    }

    fn reset_at(&mut self, first: u64) {
        self.buf.clear();
        self.buf_start = first;
        self.state = State::Scan { pos: first };
    }

    fn buf_end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    fn run(&mut self) {
        loop {
            match self.state {
                State::Scan { pos } => {
                    let pos = pos.max(self.buf_start);
                    if pos + BODY as u64 > self.buf_end() {
                        self.state = State::Scan { pos };
                        break;
                    }
                    match self.blind(pos) {
                        Some(det) => {
                            let det = self.refine(det);
                            let lead_in = self.lead_in(&det);
                            self.emit(det, Found::Blind, Some(lead_in));
                        }
                        None => {
                            self.state = State::Scan {
                                pos: pos + SCAN_STEP,
                            }
                        }
                    }
                }
                State::Locked {
                    party,
                    frame,
                    start,
                    misses,
                    inverted,
                } => {
                    let next = start + FRAME_SAMPLES as f64;
                    let w = (next.round() as i64 + NOMINAL_OFFSET as i64).max(0) as u64;
                    if w < self.buf_start {
                        self.state = State::Scan {
                            pos: self.buf_start,
                        };
                        continue;
                    }
                    if w + BODY as u64 > self.buf_end() {
                        break;
                    }
                    let want = frame + 1;
                    let u_pred = w as f64 - next - PREFIX as f64;
                    // Polarity does not change inside a stream: a fit that flips it has
                    // slipped a cycle under interference and is not trusted.
                    if let Some(det) = self.verify(party, want, w, u_pred)
                        && det.score >= self.cfg.track_score
                        && det.inverted == inverted
                    {
                        self.emit(det, Found::Tracked, None);
                        continue;
                    }
                    if let Some(det) = self.blind(w) {
                        let det = self.refine(det);
                        let lead_in = (det.party != party).then(|| self.lead_in(&det));
                        self.emit(det, Found::Blind, lead_in);
                        continue;
                    }
                    if misses + 1 >= self.cfg.max_misses {
                        let pos = (next.round() as i64 - 48).max(0) as u64;
                        self.state = State::Scan { pos };
                    } else {
                        self.state = State::Locked {
                            party,
                            frame: want,
                            start: next,
                            misses: misses + 1,
                            inverted,
                        };
                    }
                }
            }
            self.trim();
        }
        self.trim();
    }

    /// Drop samples no longer needed (keeping some history for the lead-in check).
    fn trim(&mut self) {
        let pos = match self.state {
            State::Scan { pos } => pos,
            State::Locked { start, .. } => start.max(0.0) as u64,
        };
        let keep_from = pos.saturating_sub(HISTORY);
        if keep_from > self.buf_start + 4096 {
            let drop = (keep_from - self.buf_start) as usize;
            let drop = drop.min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }

    fn emit(&mut self, det: Det, found: Found, lead_in: Option<u32>) {
        let ext = extend_bits(
            self.last_counter.get(&det.party).copied(),
            det.counter,
            COUNTER_BITS,
        );
        self.last_counter.insert(det.party, ext);
        self.state = State::Locked {
            party: det.party,
            frame: ext,
            start: det.start,
            misses: 0,
            inverted: det.inverted,
        };
        self.events.push_back(FrameEvent {
            party: PartyId(det.party),
            frame: ext,
            start: det.start,
            score: det.score,
            gain_db: 20.0 * det.gain.max(1e-9).log10(),
            inverted: det.inverted,
            found,
            lead_in,
        });
    }

    /// FFT of the 128-sample window starting at absolute position `w`; `None` if the
    /// window is not buffered or too quiet. Returns the carrier bins and the energy of bins
    /// 1..64.
    fn spectrum(&mut self, w: u64) -> Option<([Complex64; CARRIERS], f64)> {
        let off = usize::try_from(w.checked_sub(self.buf_start)?).ok()?;
        let win = self.buf.get(off..off + BODY)?;
        let e: f64 = win.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        if e < self.min_energy {
            return None;
        }
        for (c, &x) in self.fft_buf.iter_mut().zip(win) {
            *c = Complex::new(x, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.fft_buf, &mut self.scratch);
        let mut bins = [Complex64::new(0.0, 0.0); CARRIERS];
        for (b, &k) in bins.iter_mut().zip(&self.modem.carriers) {
            let c = self.fft_buf.get(k).copied().unwrap_or_default();
            *b = Complex64::new(f64::from(c.re), f64::from(c.im));
        }
        let band: f64 = self
            .modem
            .scored_bins
            .iter()
            .filter_map(|&k| self.fft_buf.get(k))
            .map(|c| f64::from(c.norm_sqr()))
            .sum();
        Some((bins, band))
    }

    /// Decode the window at `w` without any expectation.
    fn blind(&mut self, w: u64) -> Option<Det> {
        let (y, band) = self.spectrum(w)?;
        let carriers = &self.modem.carriers;
        // Differential products between neighbouring carriers, fixed offsets removed.
        let mut d = [Complex64::new(0.0, 0.0); CARRIERS - 1];
        let mut acc = Complex64::new(0.0, 0.0);
        for i in 0..CARRIERS - 1 {
            let p = y[i + 1] * y[i].conj() * self.modem.dpsi[i];
            d[i] = p;
            if carriers[i + 1] == carriers[i] + 1 {
                let n = p.norm_sqr().sqrt();
                if n > 0.0 {
                    let p2 = p * p;
                    acc += p2 * p2 / (n * n * n);
                }
            }
        }
        // Fourth power removes the QPSK data; the rest is the timing slope per bin.
        let theta0 = -2.0 * PI * (PREFIX - NOMINAL_OFFSET) as f64 / BODY as f64;
        let theta = theta0 + crate::dsp::wrap_pi(acc.arg() - 4.0 * theta0) / 4.0;
        let mut bits: u64 = 0;
        for i in 0..CARRIERS - 1 {
            let dk = carriers[i + 1] as f64 - carriers[i] as f64;
            let s = d[i] * Complex64::from_polar(1.0, -dk * theta);
            let q = ((s.arg() / (PI / 2.0)).round() as i64).rem_euclid(4) as u8;
            bits = (bits << 2) | u64::from(ungray(q));
        }
        let (party, counter) = unpack(bits)?;
        let ph = self.modem.phasors(party, u64::from(counter));
        let det = self.fit(&y, band, &ph, w, party, u64::from(counter))?;
        (det.score >= self.cfg.blind_score).then_some(det)
    }

    /// Re-measure a blind detection with the window at the nominal offset inside the frame
    /// (the scan window may have touched the frame's tapered edge).
    fn refine(&mut self, det: Det) -> Det {
        let w = (det.start.round() as i64 + NOMINAL_OFFSET as i64).max(0) as u64;
        let u_pred = w as f64 - det.start - PREFIX as f64;
        match self.verify(det.party, det.counter, w, u_pred) {
            Some(better) if better.score >= det.score * 0.9 => better,
            _ => det,
        }
    }

    /// Check the window at `w` against a known frame; `u_pred` is the expected offset.
    fn verify(&mut self, party: u8, counter: u64, w: u64, u_pred: f64) -> Option<Det> {
        let (y, band) = self.spectrum(w)?;
        let ph = self.modem.phasors(party, counter);
        let det = self.fit(&y, band, &ph, w, party, counter)?;
        let u = w as f64 - det.start - PREFIX as f64;
        ((u - u_pred).abs() <= 3.0).then_some(det)
    }

    /// Fit timing (phase slope), gain and score of a window against known phasors.
    fn fit(
        &self,
        y: &[Complex64; CARRIERS],
        band: f64,
        ph: &[Complex64; CARRIERS],
        w: u64,
        party: u8,
        counter: u64,
    ) -> Option<Det> {
        let carriers = &self.modem.carriers;
        let mut z = [Complex64::new(0.0, 0.0); CARRIERS];
        for i in 0..CARRIERS {
            z[i] = y[i] * ph[i].conj();
        }
        // Every carrier is sent at the same amplitude, so a carrier whose magnitude is far
        // from the median has interference on it (a tone's leakage, a speech harmonic): it
        // gets no say in the timing fit. The others count equally (unit phasors).
        // `sqrt(norm_sqr)`, not `norm`: libm's hypot dominated the profile.
        let mut mags = [0f64; CARRIERS];
        for i in 0..CARRIERS {
            mags[i] = z[i].norm_sqr().sqrt();
        }
        let mut sorted = mags;
        let (_, &mut med, _) = sorted.select_nth_unstable_by(CARRIERS / 2, f64::total_cmp);
        if med <= 0.0 {
            return None;
        }
        let mut unit = [Complex64::new(0.0, 0.0); CARRIERS];
        let mut weight = [0f64; CARRIERS];
        for i in 0..CARRIERS {
            if mags[i] >= 0.4 * med && mags[i] <= 1.6 * med {
                unit[i] = z[i] / mags[i];
                weight[i] = 1.0;
            }
        }
        // Coarse slope from neighbouring carriers (unambiguous for |u| < 64).
        let mut p = Complex64::new(0.0, 0.0);
        for i in 0..CARRIERS - 1 {
            if carriers[i + 1] == carriers[i] + 1 {
                p += unit[i + 1] * unit[i].conj();
            }
        }
        let mut a = p.arg();
        // Two refinement passes: regression of the residual phase over the bin index
        // (small-angle form, so no arctangent per carrier).
        for _ in 0..2 {
            let rot = rotations(carriers, a);
            let mut s = Complex64::new(0.0, 0.0);
            let mut wsum = 0.0;
            let mut ksum = 0.0;
            let mut r = [Complex64::new(0.0, 0.0); CARRIERS];
            for i in 0..CARRIERS {
                r[i] = unit[i] * rot[i];
                s += r[i];
                wsum += weight[i];
                ksum += weight[i] * carriers[i] as f64;
            }
            if wsum <= 0.0 {
                return None;
            }
            let kbar = ksum / wsum;
            let c = Complex64::from_polar(1.0, -s.arg());
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..CARRIERS {
                let dk = carriers[i] as f64 - kbar;
                num += dk * (r[i] * c).im;
                den += dk * dk * weight[i];
            }
            if den > 0.0 {
                a += num / den;
            }
        }
        let rot = rotations(carriers, a);
        let s: Complex64 = z.iter().zip(rot.iter()).map(|(z, r)| z * r).sum();
        let polarity: Complex64 = unit.iter().zip(rot.iter()).map(|(z, r)| z * r).sum();
        if band <= 0.0 {
            return None;
        }
        let s_abs = s.norm_sqr().sqrt();
        let score = s_abs / (CARRIERS as f64 * band).sqrt();
        let u = a * BODY as f64 / (2.0 * PI);
        let scale = CARRIERS as f64 * (BODY as f64 / 2.0) * self.modem.amp;
        Some(Det {
            party,
            counter,
            start: w as f64 - u - PREFIX as f64,
            score,
            gain: s_abs / scale,
            inverted: polarity.re < 0.0,
        })
    }

    /// How many samples right before `det.start` match the tail of the previous frame.
    fn lead_in(&self, det: &Det) -> u32 {
        let prev = det.counter.wrapping_sub(1) & 0xFF_FFFF;
        let ph = self.modem.phasors(det.party, prev);
        let g = det.gain * if det.inverted { -1.0 } else { 1.0 };
        let prev_start = det.start - FRAME_SAMPLES as f64;
        // Received and expected samples walking back from the boundary, as far as the
        // buffer goes.
        let mut pairs = Vec::with_capacity(FRAME_SAMPLES);
        let mut m = det.start.ceil() as i64 - 1;
        while m >= prev_start.ceil() as i64 && pairs.len() < FRAME_SAMPLES {
            let Some(r) = usize::try_from(m - self.buf_start as i64)
                .ok()
                .and_then(|i| self.buf.get(i))
            else {
                break;
            };
            let e = g * self.modem.sample_at(&ph, m as f64 - prev_start);
            pairs.push((f64::from(*r), e));
            m -= 1;
        }
        // Blocks of 4 samples must match within 10 % of their energy (with a floor, since
        // the taper makes the frame's last samples quiet).
        let floor = (0.05 * self.modem.amp * det.gain).powi(2);
        let mut matched = 0u32;
        for block in pairs.chunks(4) {
            let err: f64 = block.iter().map(|(r, e)| (r - e).powi(2)).sum();
            let exp: f64 = block.iter().map(|(_, e)| e * e).sum();
            if err > 0.1 * exp.max(floor * block.len() as f64) {
                break;
            }
            matched += block.len() as u32;
        }
        matched.min(FRAME_SAMPLES as u32)
    }
}

/// `e^{-j a k}` for every carrier bin `k` (one sincos, then a recurrence over bins).
fn rotations(carriers: &[usize], a: f64) -> [Complex64; CARRIERS] {
    let step = Complex64::from_polar(1.0, -a);
    let mut out = [Complex64::new(0.0, 0.0); CARRIERS];
    let k0 = carriers.first().copied().unwrap_or(0);
    let mut cur = Complex64::from_polar(1.0, -a * k0 as f64);
    let mut k = k0;
    for (o, &kc) in out.iter_mut().zip(carriers) {
        while k < kc {
            cur *= step;
            k += 1;
        }
        *o = cur;
    }
    out
}

/// When a party sent its frames: frame `first_frame` started at `first_start` (a sample
/// index on the harness's shared 8 kHz clock), and one frame followed every 160 samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SendSchedule {
    /// The sender.
    pub party: PartyId,
    /// The first frame it sent.
    pub first_frame: u64,
    /// Shared-clock sample index where that frame started.
    pub first_start: f64,
}

impl SendSchedule {
    /// Where frame `frame` started on the shared clock (`None` before the first frame).
    pub fn start_of(&self, frame: u64) -> Option<f64> {
        let d = frame.checked_sub(self.first_frame)?;
        Some(self.first_start + d as f64 * FRAME_SAMPLES as f64)
    }
}

/// Latency of one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameLatency {
    /// Frame counter.
    pub frame: u64,
    /// Receive time minus send time, in milliseconds.
    pub latency_ms: f64,
}

/// Summary statistics of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl LatencyStats {
    /// Statistics of `values` (milliseconds); `None` when empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let pick = |q: f64| v.get(((v.len() - 1) as f64 * q).round() as usize).copied();
        Some(Self {
            min_ms: *v.first()?,
            mean_ms: v.iter().sum::<f64>() / v.len() as f64,
            p50_ms: pick(0.5)?,
            p95_ms: pick(0.95)?,
            max_ms: *v.last()?,
        })
    }
}

/// What was received of one party's frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyFrameReport {
    /// The sender.
    pub party: PartyId,
    /// Distinct frames received.
    pub frames: u64,
    /// First frame counter received.
    pub first_frame: u64,
    /// Last frame counter received.
    pub last_frame: u64,
    /// Frames missing between the first and last received.
    pub lost: u64,
    /// Frames received more than once.
    pub duplicates: u64,
    /// Frames received after a higher-numbered one.
    pub reordered: u64,
    /// Sender audio missing before the first received frame, in milliseconds (sample
    /// resolution when the partial previous frame could be matched). Measured against the
    /// send schedule when one is known, else against counter 0.
    pub front_clip_ms: f64,
    /// Whether `front_clip_ms` used a send schedule (`true`) or assumed counters start at 0.
    pub front_clip_from_schedule: bool,
    /// Latency statistics (only with a send schedule and receive times).
    pub latency: Option<LatencyStats>,
    /// Per-frame latencies, in receive order (only with a send schedule).
    pub latencies: Vec<FrameLatency>,
}

#[derive(Debug, Clone, Default)]
struct PartyLog {
    seen: BTreeMap<u64, u32>,
    max_frame: Option<u64>,
    first_received: Option<(u64, Option<u32>)>,
    reordered: u64,
    duplicates: u64,
    latencies: Vec<FrameLatency>,
}

/// Turns decoded frames into per-party loss, reordering, duplicates, front clipping and
/// latency. Pure bookkeeping: feed it [`FrameEvent`]s with their receive position on the
/// shared clock.
#[derive(Debug, Clone, Default)]
pub struct FrameTracker {
    schedules: HashMap<PartyId, SendSchedule>,
    parties: BTreeMap<PartyId, PartyLog>,
}

impl FrameTracker {
    /// A tracker that knows when each party sent (may be empty for offline analysis).
    pub fn new(schedules: &[SendSchedule]) -> Self {
        Self {
            schedules: schedules.iter().map(|s| (s.party, *s)).collect(),
            parties: BTreeMap::new(),
        }
    }

    /// Record one frame. `recv_start` is where the frame started on the shared clock (for
    /// a decoder fed on the shared clock, simply `ev.start`); `None` when unknown.
    pub fn record(&mut self, ev: &FrameEvent, recv_start: Option<f64>) {
        let log = self.parties.entry(ev.party).or_default();
        let count = log.seen.entry(ev.frame).or_insert(0);
        *count += 1;
        if *count > 1 {
            log.duplicates += 1;
            return;
        }
        if log.first_received.is_none_or(|(f, _)| ev.frame < f) {
            log.first_received = Some((ev.frame, ev.lead_in));
        }
        match log.max_frame {
            Some(m) if ev.frame < m => log.reordered += 1,
            _ => log.max_frame = Some(ev.frame),
        }
        if let (Some(sched), Some(recv)) = (self.schedules.get(&ev.party), recv_start)
            && let Some(sent) = sched.start_of(ev.frame)
        {
            log.latencies.push(FrameLatency {
                frame: ev.frame,
                latency_ms: (recv - sent) / f64::from(SAMPLE_RATE) * 1000.0,
            });
        }
    }

    /// One report per party seen, in party order.
    pub fn report(&self) -> Vec<PartyFrameReport> {
        self.parties
            .iter()
            .filter_map(|(&party, log)| {
                let (&first, _) = log.seen.first_key_value()?;
                let (&last, _) = log.seen.last_key_value()?;
                let frames = log.seen.len() as u64;
                let sched = self.schedules.get(&party);
                let origin = sched.map_or(0, |s| s.first_frame);
                let lead_in = log
                    .first_received
                    .and_then(|(f, l)| (f == first).then_some(l).flatten())
                    .unwrap_or(0);
                let clip_samples = (first.saturating_sub(origin) as f64 * FRAME_SAMPLES as f64
                    - f64::from(lead_in))
                .max(0.0);
                let lat: Vec<f64> = log.latencies.iter().map(|l| l.latency_ms).collect();
                Some(PartyFrameReport {
                    party,
                    frames,
                    first_frame: first,
                    last_frame: last,
                    lost: (last - first + 1).saturating_sub(frames),
                    duplicates: log.duplicates,
                    reordered: log.reordered,
                    front_clip_ms: clip_samples / f64::from(SAMPLE_RATE) * 1000.0,
                    front_clip_from_schedule: sched.is_some(),
                    latency: LatencyStats::of(&lat),
                    latencies: log.latencies.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem() -> Arc<Modem> {
        Arc::new(Modem::new(&SignalConfig::default()).expect("default config"))
    }

    #[test]
    fn pack_unpack_round_trip_and_crc_rejects() {
        for (p, c) in [(0u8, 0u32), (7, 1), (255, 0xFF_FFFF), (42, 123_456)] {
            let bits = pack(p, c);
            assert_eq!(unpack(bits), Some((p, c)));
            for flip in 0..60 {
                assert_eq!(unpack(bits ^ (1 << flip)), None, "flip {flip}");
            }
        }
    }

    #[test]
    fn default_carriers_avoid_protected_bands() {
        let m = modem();
        let f = m.carrier_freqs();
        assert_eq!(f.len(), CARRIERS);
        for &fc in &f {
            for &(lo, hi) in &SignalConfig::default().protected_hz {
                assert!(fc <= lo - 62.5 || fc >= hi + 62.5, "{fc}");
            }
        }
    }

    #[test]
    fn too_many_protected_bands_is_an_error() {
        let cfg = SignalConfig {
            protected_hz: vec![(500.0, 3000.0)],
            ..SignalConfig::default()
        };
        assert!(matches!(
            Modem::new(&cfg),
            Err(SignalError::TooFewCarriers { .. })
        ));
    }

    #[test]
    fn level_is_as_configured_and_peaks_leave_headroom() {
        let m = modem();
        let mut src = PartySource::new(m, PartyId(3));
        let pcm = src.take(500);
        let level = crate::synth::rms_dbfs(&pcm);
        assert!((level + 24.0).abs() < 0.6, "{level}");
        let peak = pcm.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0);
        assert!(peak < 10_000, "peak {peak}");
    }

    fn decode_all(m: &Arc<Modem>, pcm: &[i16], first: u64) -> Vec<FrameEvent> {
        let mut d = FrameDecoder::new(m.clone(), DecoderConfig::default());
        for (i, c) in pcm.chunks(160).enumerate() {
            d.push(first + (i * 160) as u64, c);
        }
        d.finish();
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    #[test]
    fn decodes_every_frame_with_exact_timing() {
        let m = modem();
        let mut src = PartySource::new(m.clone(), PartyId(9));
        let mut pcm = vec![0i16; 77];
        pcm.extend(src.take(100));
        let ev = decode_all(&m, &pcm, 1000);
        assert_eq!(ev.len(), 100);
        for (i, e) in ev.iter().enumerate() {
            assert_eq!(e.party, PartyId(9));
            assert_eq!(e.frame, i as u64);
            let want = 1000.0 + 77.0 + 160.0 * i as f64;
            assert!((e.start - want).abs() < 0.05, "{e:?} want {want}");
            assert!(e.score > 0.95);
        }
        assert_eq!(ev[0].found, Found::Blind);
        assert!(ev[1..].iter().all(|e| e.found == Found::Tracked));
    }
}
