//! Known-audio detector: where does a reference clip (an announcement) occur in a stream?
//!
//! Owns: normalised cross-correlation of the stream against the reference, computed with
//! real-input FFT overlap-save (realfft), and peak picking into one match per occurrence with an onset
//! (sub-sample, by parabolic interpolation) and a score.
//!
//! Must not touch: clocks, I/O. Time is the sample index (`push(first_sample, pcm)`).
//!
//! Why waveform correlation: G.711 keeps the waveform (about 35 dB SNR), and another voice
//! mixed in at similar level only lowers the score (to about 0.7 at equal level) instead of
//! hiding the peak, while unrelated audio scores near zero. Both signals are pre-emphasised
//! first (`y[n] = x[n] - 0.95 x[n-1]`) so speech's strong low frequencies do not broaden
//! the peak. Limits: codecs that do not keep the waveform (parametric, heavy time warping)
//! lower the score; a clip cut off by the stream's end is not matched (only whole
//! occurrences are).

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

/// Tuning of a [`ClipDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Lowest score reported as a match (normalised correlation, 0-1).
    pub threshold: f64,
    /// Stream windows quieter than this (RMS dBFS) are not scored.
    pub min_level_dbfs: f64,
}

impl Default for ClipConfig {
    fn default() -> Self {
        Self {
            threshold: 0.3,
            min_level_dbfs: -60.0,
        }
    }
}

/// Why a reference clip cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClipError {
    /// Too short to identify anything (less than 50 ms).
    #[error("reference clip has {0} samples; need at least 400 (50 ms at 8 kHz)")]
    TooShort(usize),
    /// Digital silence.
    #[error("reference clip is silent")]
    Silent,
}

/// One occurrence of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipMatch {
    /// Onset: stream position of the clip's first sample (fractional).
    pub start: f64,
    /// Normalised correlation at the onset (1.0 = identical waveform).
    pub score: f64,
}

const PRE_EMPHASIS: f32 = 0.95;

/// What every detector of one clip shares: the pre-emphasised reference's conjugate
/// spectrum, its norm and the FFT plans. Preparing it costs two large FFT plans (their
/// twiddle tables) and a forward FFT of the clip, so it is done once per clip and process
/// ([`ClipReference::shared`]) and not once per listening stream: a load run opens
/// thousands of streams that all look for the same announcements.
pub struct ClipReference {
    cfg: ClipConfig,
    len: usize,
    fft_len: usize,
    hop: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    scratch_len: usize,
    /// Conjugate half spectrum (`fft_len / 2 + 1` bins) of the pre-emphasised reference.
    ref_spec: Vec<Complex<f32>>,
    ref_norm: f64,
    min_energy: f64,
    /// The clip as given, to tell a cache hit from a hash collision.
    samples: Vec<i16>,
}

impl std::fmt::Debug for ClipReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipReference")
            .field("len", &self.len)
            .field("fft_len", &self.fft_len)
            .finish()
    }
}

/// Clips prepared so far in this process, by (length, content hash). Bounded: past
/// [`MAX_SHARED_CLIPS`] distinct clips, references are prepared without being kept.
static SHARED: std::sync::Mutex<Vec<SharedEntry>> = std::sync::Mutex::new(Vec::new());

/// A prepared clip in [`SHARED`], under (length, content hash).
type SharedEntry = ((usize, u64), Arc<ClipReference>);
/// Most distinct clips kept prepared (a run looks for a handful of announcements).
const MAX_SHARED_CLIPS: usize = 64;

fn content_hash(x: &[i16]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

impl ClipReference {
    /// Prepares `reference` (8 kHz PCM).
    pub fn new(reference: &[i16], cfg: ClipConfig) -> Result<Self, ClipError> {
        if reference.len() < 400 {
            return Err(ClipError::TooShort(reference.len()));
        }
        let mut r = Vec::with_capacity(reference.len());
        let mut last = 0.0;
        pre_emphasis(reference, &mut last, &mut r);
        let ref_norm = r
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if ref_norm <= 0.0 {
            return Err(ClipError::Silent);
        }
        let len = r.len();
        let fft_len = (2 * len).next_power_of_two().max(4096);
        let hop = fft_len - len + 1;
        // Real-input transforms: the stream and the clip are real, so half spectra carry
        // everything and cost half of a complex FFT.
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(fft_len);
        let ifft = planner.plan_fft_inverse(fft_len);
        let mut padded = r.clone();
        padded.resize(fft_len, 0.0);
        let mut ref_spec = fft.make_output_vec();
        let scratch_len = fft.get_scratch_len().max(ifft.get_scratch_len());
        let mut scratch = vec![Complex::new(0.0, 0.0); scratch_len];
        // Lengths come from the plan itself, so this cannot fail.
        let _ = fft.process_with_scratch(&mut padded, &mut ref_spec, &mut scratch);
        for c in &mut ref_spec {
            *c = c.conj();
        }
        let rms = 32768.0 * 10f64.powf(cfg.min_level_dbfs / 20.0);
        Ok(Self {
            min_energy: rms * rms * len as f64,
            cfg,
            len,
            fft_len,
            hop,
            fft,
            ifft,
            scratch_len,
            ref_spec,
            ref_norm,
            samples: reference.to_vec(),
        })
    }

    /// The prepared reference for `reference` and `cfg`, prepared once per process and
    /// shared by every detector of the same clip.
    pub fn shared(reference: &[i16], cfg: ClipConfig) -> Result<Arc<Self>, ClipError> {
        let key = (reference.len(), content_hash(reference));
        let mut cache = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, r)) = cache
            .iter()
            .find(|(k, r)| *k == key && r.cfg == cfg && r.samples == reference)
        {
            return Ok(r.clone());
        }
        let r = Arc::new(Self::new(reference, cfg)?);
        if cache.len() < MAX_SHARED_CLIPS {
            cache.push((key, r.clone()));
        }
        Ok(r)
    }
}

thread_local! {
    /// The FFT work buffers of every detector on this thread: they are only used inside
    /// one block's processing, and at a full FFT length each (a quarter MB for a 3 s clip)
    /// they would dominate the memory of a run with thousands of streams.
    static WORK: std::cell::RefCell<WorkBuffers> =
        const { std::cell::RefCell::new(WorkBuffers { real: Vec::new(), spec: Vec::new(), scratch: Vec::new() }) };
}

/// The real signal (then the correlation), its half spectrum, and the scratch.
struct WorkBuffers {
    real: Vec<f32>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

/// Sans-IO detector for one reference clip.
pub struct ClipDetector {
    reference: Arc<ClipReference>,
    /// Pre-emphasised stream samples from `buf_start`.
    buf: Vec<f32>,
    buf_start: u64,
    last_raw: f32,
    started: bool,
    /// Best candidate of the current above-threshold cluster: (position, score, left, right).
    cand: Option<(u64, f64, f64, f64)>,
    prev_score: (f64, f64),
    events: VecDeque<ClipMatch>,
    /// Per-position energies, then scores, of the block being processed (kept to reuse
    /// the allocation).
    scores: Vec<f64>,
    /// Which positions of the block can reach the threshold.
    hot: Vec<bool>,
    /// Positions the first block scores (fewer than a hop when phased, see
    /// [`ClipDetector::set_phase`]); `None` once the first block is done.
    first_block: Option<usize>,
}

impl std::fmt::Debug for ClipDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipDetector")
            .field("len", &self.reference.len)
            .field("fft_len", &self.reference.fft_len)
            .field("buf_start", &self.buf_start)
            .finish()
    }
}

fn pre_emphasis(x: &[i16], last: &mut f32, out: &mut Vec<f32>) {
    for &s in x {
        let v = f32::from(s);
        out.push(v - PRE_EMPHASIS * *last);
        *last = v;
    }
}

impl ClipDetector {
    /// A detector for `reference` (8 kHz PCM); the prepared reference is shared with
    /// every other detector of the same clip ([`ClipReference::shared`]).
    pub fn new(reference: &[i16], cfg: ClipConfig) -> Result<Self, ClipError> {
        Ok(Self::with_reference(ClipReference::shared(reference, cfg)?))
    }

    /// A detector for an already prepared reference.
    pub fn with_reference(reference: Arc<ClipReference>) -> Self {
        Self {
            reference,
            buf: Vec::new(),
            buf_start: 0,
            last_raw: 0.0,
            started: false,
            cand: None,
            prev_score: (0.0, 0.0),
            events: VecDeque::new(),
            scores: Vec::new(),
            hot: Vec::new(),
            first_block: None,
        }
    }

    /// Shifts this detector's block boundaries by `phase` of a block (0.0 to 1.0): its
    /// first block scores that much fewer positions, so its blocks (a large FFT each, a
    /// millisecond or so) fall at other times than those of detectors that started at
    /// the same moment (the streams of one call), and a host running thousands of them
    /// is not stalled by several at once. What is detected does not change.
    pub fn set_phase(&mut self, phase: f64) {
        let hop = self.reference.hop;
        let cut = ((phase.clamp(0.0, 1.0) * hop as f64) as usize).min(hop.saturating_sub(1));
        self.first_block = Some(hop - cut);
    }

    /// Length of the reference, in samples.
    pub fn clip_len(&self) -> usize {
        self.reference.len
    }

    /// Feed samples. Gaps are filled with silence; overlapping samples are skipped.
    pub fn push(&mut self, first_sample: u64, pcm: &[i16]) {
        if !self.started {
            self.started = true;
            self.buf_start = first_sample;
        }
        let end = self.buf_start + self.buf.len() as u64;
        let mut pcm = pcm;
        if first_sample > end {
            let gap = (first_sample - end).min(60 * 8000) as usize;
            self.buf.resize(self.buf.len() + gap, 0.0);
            self.last_raw = 0.0;
        } else if first_sample < end {
            let skip = (end - first_sample) as usize;
            pcm = pcm.get(skip..).unwrap_or(&[]);
        }
        pre_emphasis(pcm, &mut self.last_raw, &mut self.buf);
        if let Some(first) = self.first_block
            && self.buf.len() >= first + self.reference.len - 1
        {
            self.first_block = None;
            self.process_block(first);
        }
        while self.first_block.is_none() && self.buf.len() >= self.reference.fft_len {
            self.process_block(self.reference.hop);
        }
    }

    /// End of stream: score the remaining whole-clip positions and report the last match.
    pub fn finish(&mut self) {
        self.first_block = None;
        while self.buf.len() >= self.reference.len {
            let positions = self.buf.len() - self.reference.len + 1;
            self.process_block(positions);
        }
        self.close_candidate();
    }

    /// Next match, in stream order.
    pub fn poll_event(&mut self) -> Option<ClipMatch> {
        self.events.pop_front()
    }

    /// Score `positions` positions starting at `buf_start` (at most `hop`), then drop them.
    fn process_block(&mut self, positions: usize) {
        let r = self.reference.clone();
        let positions = positions.min(r.hop);
        let avail = self.buf.len().min(r.fft_len);
        WORK.with_borrow_mut(|w| {
            w.real.clear();
            w.real.extend_from_slice(&self.buf[..avail]);
            w.real.resize(r.fft_len, 0.0);
            w.spec.clear();
            w.spec.resize(r.ref_spec.len(), Complex::new(0.0, 0.0));
            w.scratch
                .resize(r.scratch_len.max(w.scratch.len()), Complex::new(0.0, 0.0));
            let scratch = &mut w.scratch[..r.scratch_len];
            // The buffers have the plan's lengths, so the transforms cannot fail.
            let _ = r
                .fft
                .process_with_scratch(&mut w.real, &mut w.spec, scratch);
            for (s, c) in w.spec.iter_mut().zip(&r.ref_spec) {
                *s *= *c;
            }
            // A real signal's correlation: the first and last bins are real.
            if let Some(first) = w.spec.first_mut() {
                first.im = 0.0;
            }
            if let Some(last) = w.spec.last_mut() {
                last.im = 0.0;
            }
            let _ = r
                .ifft
                .process_with_scratch(&mut w.spec, &mut w.real, scratch);
            self.process_scores(&r, &w.real, positions);
        });
    }

    /// Scores every position of the block from the correlation in `work` and picks the
    /// peaks; then drops the positions from the buffer.
    fn process_scores(&mut self, r: &ClipReference, work: &[f32], positions: usize) {
        let scale = 1.0 / r.fft_len as f64;
        // Running energy of the stream window under the clip, then every position's
        // score in a loop of its own (no branches on the data path, so it vectorises),
        // then the peak picking: this block is most of what a listening stream costs.
        let sq = |x: f32| f64::from(x) * f64::from(x);
        let buf = &self.buf;
        let at = |i: usize| buf.get(i).copied().unwrap_or(0.0);
        self.scores.clear();
        let mut e: f64 = buf.iter().take(r.len).map(|&x| sq(x)).sum();
        self.scores.push(e);
        for t in 1..positions {
            e = (e - sq(at(t - 1)) + sq(at(t - 1 + r.len))).max(0.0);
            self.scores.push(e);
        }
        // Exact scores are needed only where a position can be a peak (at or above the
        // threshold) and at its neighbours (the peak test and the sub-sample fit read
        // them): a cheap squared comparison finds those, and every other position, which
        // can neither be nor border a peak, scores 0 without a square root or division.
        // The block's last two positions are always exact (the next block's first
        // positions border them).
        let k = (r.cfg.threshold * 0.999).powi(2) * r.ref_norm * r.ref_norm;
        let n = self.scores.len();
        self.hot.clear();
        self.hot
            .extend(self.scores.iter().zip(work).map(|(&e, &w)| {
                let c = f64::from(w) * scale;
                c > 0.0 && e > r.min_energy && c * c >= k * e
            }));
        let exact = |e: f64, w: f32| {
            let c = f64::from(w) * scale;
            if e > r.min_energy {
                c / (r.ref_norm * e.sqrt())
            } else {
                0.0
            }
        };
        let any_hot = self.hot.iter().any(|h| *h);
        for t in 0..n {
            let needed = t + 2 >= n
                || (any_hot
                    && (self.hot[t]
                        || (t > 0 && self.hot[t - 1])
                        || self.hot.get(t + 1).copied().unwrap_or(false)));
            self.scores[t] = if needed {
                exact(self.scores[t], work.get(t).copied().unwrap_or(0.0))
            } else {
                0.0
            };
        }
        let scores = std::mem::take(&mut self.scores);
        if any_hot || self.cand.is_some() {
            for (t, &score) in scores.iter().enumerate() {
                self.observe(self.buf_start + t as u64, score);
            }
        } else {
            // Nothing can peak in this block: only the last two scores carry over.
            self.prev_score = (
                scores
                    .len()
                    .checked_sub(2)
                    .map_or(self.prev_score.1, |i| scores[i]),
                scores.last().copied().unwrap_or(0.0),
            );
        }
        self.scores = scores;
        self.buf.drain(..positions.min(self.buf.len()));
        self.buf_start += positions as u64;
    }

    fn observe(&mut self, pos: u64, score: f64) {
        // Local maxima above threshold, one per clip length.
        let (p1, p0) = self.prev_score; // score at pos-2, pos-1
        let half = self.reference.len as u64 / 2;
        if p0 >= self.reference.cfg.threshold && p0 >= p1 && p0 > score {
            let peak = pos - 1;
            match self.cand {
                Some((cpos, cscore, ..)) if peak - cpos < half => {
                    if p0 > cscore {
                        self.cand = Some((peak, p0, p1, score));
                    }
                }
                Some(_) => {
                    self.close_candidate();
                    self.cand = Some((peak, p0, p1, score));
                }
                None => self.cand = Some((peak, p0, p1, score)),
            }
        }
        if let Some((cpos, ..)) = self.cand
            && pos > cpos + half
        {
            self.close_candidate();
        }
        self.prev_score = (p0, score);
    }

    fn close_candidate(&mut self) {
        if let Some((pos, y1, y0, y2)) = self.cand.take() {
            let denom = y0 - 2.0 * y1 + y2;
            let shift = if denom.abs() > 1e-12 {
                (0.5 * (y0 - y2) / denom).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            self.events.push_back(ClipMatch {
                start: pos as f64 + shift,
                score: y1,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{mix_into, speech_like};

    #[test]
    fn finds_clip_at_exact_offset() {
        let clip = speech_like(3, 8000, -20.0);
        let mut stream = vec![0i16; 40_000];
        mix_into(&mut stream, &clip, 12_345);
        mix_into(&mut stream, &clip, 30_001);
        let mut d = ClipDetector::new(&clip, ClipConfig::default()).expect("clip");
        for (i, c) in stream.chunks(1000).enumerate() {
            d.push((i * 1000) as u64, c);
        }
        d.finish();
        let m: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
        assert_eq!(m.len(), 2, "{m:?}");
        assert!((m[0].start - 12_345.0).abs() < 0.5 && m[0].score > 0.99);
        assert!((m[1].start - 30_001.0).abs() < 0.5);
    }

    #[test]
    fn a_phased_detector_finds_the_same_matches() {
        let clip = speech_like(3, 8000, -20.0);
        let mut stream = speech_like(4, 40 * 8000, -20.0);
        mix_into(&mut stream, &clip, 30_000);
        mix_into(&mut stream, &clip, 200_000);
        let run = |phase: Option<f64>| {
            let mut d = ClipDetector::new(&clip, ClipConfig::default()).expect("clip");
            if let Some(p) = phase {
                d.set_phase(p);
            }
            for (i, ch) in stream.chunks(160).enumerate() {
                d.push((i * 160) as u64, ch);
            }
            d.finish();
            let mut m = Vec::new();
            while let Some(e) = d.poll_event() {
                m.push((e.start.round() as i64, (e.score * 1000.0).round() as i64));
            }
            m
        };
        let plain = run(None);
        assert_eq!(plain.len(), 2, "{plain:?}");
        for phase in [0.0, 0.3, 0.77, 1.0] {
            assert_eq!(run(Some(phase)), plain, "phase {phase}");
        }
    }

    #[test]
    fn rejects_short_or_silent_reference() {
        assert!(matches!(
            ClipDetector::new(&[1; 10], ClipConfig::default()),
            Err(ClipError::TooShort(10))
        ));
        assert!(matches!(
            ClipDetector::new(&[0; 1000], ClipConfig::default()),
            Err(ClipError::Silent)
        ));
    }
}
