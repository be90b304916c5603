//! Tone-burst detector: which configured frequency sounded from when to when.
//!
//! Owns: a sliding single-bin DFT per configured frequency (Goertzel's job, computed as
//! 5 ms sub-block sums so a 40 ms window costs two multiply-adds per sample and
//! frequency), burst segmentation with hysteresis, and edge refinement. Reminder tones,
//! beeps and pause/resume notices are judged from these events.
//!
//! Must not touch: clocks and I/O. Time is the sample index on the stream's 8 kHz timeline
//! (`push(first_sample, pcm)`); events carry fractional sample positions.
//!
//! How a burst is accepted (all must hold):
//! 1. tonality: the bin's power is at least `on_ratio` of the window's total power (a pure
//!    tone gives 1.0; a tone mixed with equal-level speech about 0.5);
//! 2. level: the tone's amplitude is above `min_level_dbfs`;
//! 3. steadiness: the bin's phase advances at a constant rate (frequency offset within
//!    `max_offset_hz`, spread within `max_spread_hz`). Speech harmonics glide with the
//!    pitch; generated tones do not. This is what keeps speech from tripping the detector;
//! 4. duration: at least `min_duration` samples between the refined edges.
//!
//! Edges: while the analysis window slides over an onset, the bin amplitude grows linearly
//! with the overlap, so the window centre at which the amplitude reaches half the burst's
//! median amplitude is the onset, interpolated between hops to sub-hop resolution (same for
//! the end).

use std::collections::VecDeque;
use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::SAMPLE_RATE;
use crate::dsp::{dot, energy, median, wrap_pi};

/// Tuning of a [`ToneDetector`]. The defaults suit reminder tones and beeps of 60 ms and
/// longer at 8 kHz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneConfig {
    /// Frequencies to watch, in Hz (each reported separately; a dual tone gives two events).
    pub freqs_hz: Vec<f64>,
    /// Shortest burst reported, in samples.
    pub min_duration: usize,
    /// Hop between analyses, in samples (time resolution before interpolation).
    pub hop: usize,
    /// Window length in hops (frequency resolution is `8000 / (hop * window_hops)` Hz).
    pub window_hops: usize,
    /// Local tonality needed to open a burst: the bin's power over its own plus its
    /// neighbours' (±50-100 Hz) average power. 1.0 for a pure tone; 0.5 means the tone
    /// stands as high as the background around it.
    pub on_ratio: f64,
    /// Local tonality below which a burst is considered to have ended.
    pub off_ratio: f64,
    /// Smallest share of the window's total power the tone must have (0.02: the tone may
    /// be up to 17 dB below everything else, e.g. under louder party audio).
    pub min_share: f64,
    /// Quietest tone reported, as RMS dBFS of the tone alone.
    pub min_level_dbfs: f64,
    /// Largest mean deviation from the configured frequency, in Hz. Platforms generate
    /// tones digitally at the nominal frequency (measured offsets are hundredths of a Hz);
    /// speech harmonics wander. Widen this for approximate or analogue tones, at the cost
    /// of more speech being mistaken for a tone.
    pub max_offset_hz: f64,
    /// Largest spread (standard deviation) of the instantaneous frequency, in Hz.
    pub max_spread_hz: f64,
}

impl Default for ToneConfig {
    fn default() -> Self {
        Self {
            freqs_hz: vec![1400.0],
            min_duration: 480,
            hop: 40,
            window_hops: 8,
            on_ratio: 0.6,
            off_ratio: 0.35,
            min_share: 0.02,
            min_level_dbfs: -50.0,
            max_offset_hz: 0.6,
            max_spread_hz: 2.5,
        }
    }
}

impl ToneConfig {
    /// Default tuning for the given frequencies.
    pub fn for_freqs(freqs_hz: &[f64]) -> Self {
        Self {
            freqs_hz: freqs_hz.to_vec(),
            ..Self::default()
        }
    }
}

/// One detected tone burst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneEvent {
    /// The configured frequency that matched, in Hz.
    pub freq_hz: f64,
    /// Onset, as a (fractional) sample position on the pushed timeline.
    pub start: f64,
    /// End, as a sample position.
    pub end: f64,
    /// Level of the tone alone, RMS dBFS.
    pub level_dbfs: f64,
    /// Measured mean offset from `freq_hz`, in Hz.
    pub offset_hz: f64,
}

#[derive(Debug, Clone, Copy)]
struct Obs {
    /// Window centre (sample position).
    centre: f64,
    /// The window's bin (real and imaginary part), absolute phase reference.
    re: f64,
    im: f64,
    /// Local tonality: the bin's power against its neighbours' (1.0 for a pure tone). Left
    /// at 0.0 for windows whose bin is far too weak to matter (see [`WEAK_GATE`]).
    ratio: f64,
    /// The bin's share of the whole window's power (1.0 for a pure tone alone).
    share: f64,
    /// Window start and end (sample positions).
    w0: f64,
    w1: f64,
}

impl Obs {
    /// The bin's phase. Computed on demand: only the windows of a burst being judged need
    /// it, and an `atan2` per bin and hop was a measurable share of the hot path.
    fn phase(&self) -> f64 {
        self.im.atan2(self.re)
    }
}

#[derive(Debug, Clone)]
enum Burst {
    Idle,
    On {
        obs: Vec<Obs>,
        below: usize,
        /// Amplitudes of the windows that met `on_ratio` (the burst's reference level),
        /// ascending.
        core_amps: Vec<f64>,
    },
}

/// One single-frequency sliding DFT (sum of per-hop block sums).
///
/// A probe can be left idle for a while (neighbour probes of a bin with nothing in it) and
/// brought up to date later from the detector's window buffer: [`Probe::sync`] recomputes
/// the missing blocks, so an idle probe costs nothing and a busy one one block per hop.
#[derive(Debug, Clone)]
struct Probe {
    freq: f64,
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// Rotated block sums of the newest hops (at most `window_hops`), oldest first.
    subs: VecDeque<(f64, f64)>,
    /// `e^{-j w b}` for the next expected hop start `next_b`, advanced by `step` per hop
    /// (trigonometry per hop dominated the profile); recomputed exactly now and then.
    rot: (f64, f64),
    step: (f64, f64),
    /// Start of the hop after the newest block in `subs` (`None`: nothing valid).
    next_b: Option<u64>,
    hops: u32,
}

impl Probe {
    fn new(freq: f64, hop: usize, k: usize) -> Self {
        let w = 2.0 * PI * freq / f64::from(SAMPLE_RATE);
        let (s, c) = (-w * hop as f64).sin_cos();
        Self {
            freq,
            cos: (0..hop).map(|i| (w * i as f64).cos() as f32).collect(),
            sin: (0..hop).map(|i| (-(w * i as f64).sin()) as f32).collect(),
            subs: VecDeque::with_capacity(k + 1),
            rot: (1.0, 0.0),
            step: (c, s),
            next_b: None,
            hops: 0,
        }
    }

    /// Forget all blocks (after a reset of the timeline).
    fn clear(&mut self) {
        self.subs.clear();
        self.next_b = None;
    }

    /// Append the block of the hop starting at absolute sample `b`.
    fn push_block(&mut self, hop: &[f32], b: u64, k: usize) {
        let re = f64::from(dot(hop, &self.cos));
        let im = f64::from(dot(hop, &self.sin));
        // Rotate the block sum to the absolute phase reference e^{-j w n}.
        if self.next_b != Some(b) || self.hops.is_multiple_of(1024) {
            let cycles = (self.freq / f64::from(SAMPLE_RATE) * b as f64).fract();
            let (s, c) = (-2.0 * PI * cycles).sin_cos();
            self.rot = (c, s);
        }
        let (c, s) = self.rot;
        self.rot = (
            c * self.step.0 - s * self.step.1,
            c * self.step.1 + s * self.step.0,
        );
        self.next_b = Some(b + hop.len() as u64);
        self.hops = self.hops.wrapping_add(1);
        self.subs.push_back((re * c - im * s, re * s + im * c));
        if self.subs.len() > k {
            self.subs.pop_front();
        }
    }

    /// Bring the probe up to the hop starting at `b` and return the window sum. `window`
    /// holds the newest samples up to and including that hop (a whole number of hops,
    /// at most `k`).
    fn sync(&mut self, window: &[f32], b: u64, hop: usize, k: usize) -> (f64, f64) {
        let end = b + hop as u64;
        if self.next_b != Some(end) {
            let blocks = window.len() / hop;
            if self.next_b == Some(b) && blocks > 0 {
                // Busy probe: one new block.
                let at = window.len() - hop;
                self.push_block(&window[at..], b, k);
            } else {
                // Idle probe woken up: rebuild every block of the window.
                self.subs.clear();
                self.next_b = None;
                let base = window.len() - blocks * hop;
                for j in 0..blocks {
                    let at = base + j * hop;
                    let bb = end - ((blocks - j) * hop) as u64;
                    self.push_block(&window[at..at + hop], bb, k);
                }
            }
        }
        self.subs
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
    }
}

#[derive(Debug, Clone)]
struct Bin {
    freq: f64,
    main: Probe,
    /// Probes a whole number of bins away (±50..±100 Hz for a 40 ms window), where a pure
    /// tone at `freq` leaks nothing: their energy is the local background.
    neighbours: Vec<Probe>,
    preroll: VecDeque<Obs>,
    burst: Burst,
}

/// One configured tone's waveform over a window: `cos(w i)` and `sin(w i)`, for
/// subtracting the tone in the harmonicity test without a per-sample trigonometric
/// recursion.
#[derive(Debug, Clone)]
struct ToneTable {
    freq: f64,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// Recent samples and per-hop bin sums, kept so that the harmonicity test (a pitch search
/// over each window, by far the most expensive step) runs only when a burst is judged, only
/// on the windows inside it, and only if its verdict depends on it: a generated tone is
/// accepted on its exact frequency without it.
#[derive(Debug, Clone)]
struct History {
    /// Samples from absolute index `b0` on, the newest last (the analysis window is the
    /// last `hop * window_hops` of them).
    buf: Vec<f32>,
    /// Absolute index of `buf[0]`, which is also the start of the hop of `sums[0..m]`.
    b0: u64,
    /// Every bin's window sum (after untangling) for each hop since `b0`, `m` per hop.
    sums: Vec<(f64, f64)>,
    /// Pitch of each hop's residual window, once computed (`Some(None)`: unvoiced).
    f0: Vec<Option<Option<f64>>>,
    tones: Vec<ToneTable>,
    residual: Vec<f32>,
    /// `buf` length at which old samples are dropped (doubles while bursts hold them).
    compact_at: usize,
}

impl History {
    /// Pitch (Hz) of the window `w0..w1` once every configured tone has been subtracted,
    /// or `None` when what remains is not voiced or the window is no longer kept.
    fn pitch_at(&mut self, w0: f64, w1: f64, hop: usize) -> Option<f64> {
        let m = self.tones.len();
        if !(w0 >= self.b0 as f64 && w1 > w0) {
            return None;
        }
        let (a, e) = (
            (w0 as u64 - self.b0) as usize,
            (w1 as u64 - self.b0) as usize,
        );
        let r = (e.checked_sub(hop)?) / hop;
        if let Some(&Some(f)) = self.f0.get(r) {
            return f;
        }
        let window = self.buf.get(a..e)?;
        let sums = self.sums.get(r * m..(r + 1) * m)?;
        let n = window.len();
        self.residual.clear();
        self.residual.extend_from_slice(window);
        let fs = f64::from(SAMPLE_RATE);
        let scale = 2.0 / n as f64;
        for (t, &(wr, wi)) in self.tones.iter().zip(sums) {
            // x_hat[m] = (2/N) Re(W e^{j w m}) at absolute sample m = w0 + i, i.e.
            // Re(W e^{j w w0} e^{j w i}): fold the window's start phase into the
            // coefficient once, then it is two multiply-adds per sample from the tables.
            let start = (t.freq / fs * w0).fract() * 2.0 * PI;
            let (s0, c0) = start.sin_cos();
            let ca = (scale * (wr * c0 - wi * s0)) as f32;
            let cb = (scale * (wr * s0 + wi * c0)) as f32;
            for ((x, &c), &s) in self.residual.iter_mut().zip(&t.cos).zip(&t.sin) {
                *x -= ca * c - cb * s;
            }
        }
        // A residual holding almost none of the window's energy says nothing about a voice.
        let win_e = f64::from(energy(window));
        let res_e = f64::from(energy(&self.residual));
        let f = if res_e < 0.05 * win_e {
            None
        } else {
            pitch(&self.residual)
        };
        if let Some(slot) = self.f0.get_mut(r) {
            *slot = Some(f);
        }
        f
    }

    /// Drop whole hops before absolute sample `keep`.
    fn drop_before(&mut self, keep: u64, hop: usize, min_compact: usize) {
        let m = self.tones.len();
        let hops = (keep.saturating_sub(self.b0) / hop as u64) as usize;
        let hops = hops.min(self.f0.len()).min(self.buf.len() / hop);
        self.buf.drain(..hops * hop);
        self.sums.drain(..(hops * m).min(self.sums.len()));
        self.f0.drain(..hops);
        self.b0 += (hops * hop) as u64;
        self.compact_at = min_compact.max(2 * self.buf.len());
    }

    fn clear(&mut self, b0: u64) {
        self.buf.clear();
        self.sums.clear();
        self.f0.clear();
        self.b0 = b0;
    }
}

/// A pair of configured frequencies close enough to leak into each other's bins.
#[derive(Debug, Clone)]
struct Coupling {
    /// Positions in the coupled group: the bin `i` that the tone `j` leaks into.
    i: usize,
    j: usize,
    /// `(1 - e^{j d N}) / (1 - e^{j d})` with `d = w_j - w_i`: the window's geometric sum.
    q: (f64, f64),
    /// `(f_j - f_i) / fs`: cycles of the difference frequency per sample.
    df: f64,
}

/// Sans-IO tone detector. Feed PCM with [`ToneDetector::push`], call
/// [`ToneDetector::finish`] at the end of the stream, drain [`ToneDetector::poll_event`].
#[derive(Debug, Clone)]
pub struct ToneDetector {
    cfg: ToneConfig,
    bins: Vec<Bin>,
    energies: VecDeque<f64>,
    hist: History,
    /// Samples of the current, incomplete hop at the end of `hist.buf`.
    pending: usize,
    /// Absolute index of the current hop's first sample.
    hop_start: u64,
    started: bool,
    events: VecDeque<ToneEvent>,
    /// Bins (indices) that leak into another configured frequency's bin, and the pairs,
    /// indexed by position in `group`.
    group: Vec<usize>,
    couplings: Vec<Coupling>,
    /// Per-hop scratch: each bin's window sum and neighbour power (`None`: not computed).
    sums: Vec<(f64, f64)>,
    local: Vec<Option<f64>>,
    /// Scratch for the joint solve: the augmented complex matrix, row-major.
    mat: Vec<(f64, f64)>,
    /// Smallest reportable tone amplitude (from `min_level_dbfs`).
    min_amp: f64,
}

/// Largest gap between pushes that is bridged with silence rather than a reset.
const MAX_BRIDGED_GAP: u64 = 16_000;

/// An idle bin whose amplitude is below this fraction of the quietest reportable tone
/// skips its neighbour probes and records a tonality of 0. Such a window cannot open a
/// burst (it is not loud enough), and at the edge of a burst it holds only a sliver of the
/// tone, so keeping it out of the burst's core (the windows that set its phase reference
/// and plateau) costs nothing. In party audio the tone bands hold only companding noise
/// and frame-edge splatter 10-20 dB below that level, so nearly every window skips the
/// probes that used to take most of the time.
const WEAK_GATE: f64 = 1.0;

/// The sample history is compacted once it holds this many windows (or twice what it held
/// after the last compaction).
const BUF_WINDOWS: usize = 8;
/// Longest history kept for the harmonicity test of a burst in progress, in samples (4 s).
/// Windows of a longer burst that fell out of it count as unvoiced.
const HIST_CAP: u64 = 32_000;

impl ToneDetector {
    /// A detector with the given tuning. Out-of-range values are clamped (hop >= 8,
    /// window >= 2 hops, frequencies kept inside (0, 4000) Hz).
    pub fn new(mut cfg: ToneConfig) -> Self {
        cfg.hop = cfg.hop.max(8);
        cfg.window_hops = cfg.window_hops.max(2);
        let fs = f64::from(SAMPLE_RATE);
        let nyq = fs / 2.0;
        cfg.freqs_hz
            .retain(|f| f.is_finite() && *f > 0.0 && *f < nyq);
        cfg.freqs_hz.sort_by(f64::total_cmp);
        cfg.freqs_hz.dedup_by(|a, b| (*a - *b).abs() < 1.0);
        let len = cfg.hop * cfg.window_hops;
        let resolution = fs / len as f64;
        let all = cfg.freqs_hz.clone();
        let bins = cfg
            .freqs_hz
            .iter()
            .map(|&f| {
                // Neighbours at 2, 3 and 4 bins either side, skipping any that would sit on
                // another configured tone (440 next to 480 Hz).
                let neighbours = [-4.0, -3.0, -2.0, 2.0, 3.0, 4.0]
                    .iter()
                    .map(|m| f + m * resolution)
                    .filter(|&g| g > 0.0 && g < nyq)
                    .filter(|&g| {
                        all.iter()
                            .all(|&o| (o - f).abs() < 1.0 || (o - g).abs() > 1.6 * resolution)
                    })
                    .map(|g| Probe::new(g, cfg.hop, cfg.window_hops))
                    .collect();
                Bin {
                    freq: f,
                    main: Probe::new(f, cfg.hop, cfg.window_hops),
                    neighbours,
                    preroll: VecDeque::with_capacity(cfg.window_hops + 3),
                    burst: Burst::Idle,
                }
            })
            .collect();
        let n = len as f64;
        let group: Vec<usize> = (0..all.len())
            .filter(|&i| (0..all.len()).any(|j| i != j && coupling(all[i], all[j], n) >= 0.02))
            .collect();
        let mut couplings = Vec::new();
        for (i, f) in group.iter().map(|&i| all[i]).enumerate() {
            for (j, g) in group.iter().map(|&j| all[j]).enumerate() {
                if i != j && coupling(f, g, n) >= 0.02 {
                    let df = g - f;
                    let d = 2.0 * PI * df / fs;
                    let num = (1.0 - (d * n).cos(), -(d * n).sin());
                    let den = (1.0 - d.cos(), -d.sin());
                    couplings.push(Coupling {
                        i,
                        j,
                        q: cdiv(num, den),
                        df: df / fs,
                    });
                }
            }
        }
        let m = all.len();
        Self {
            group,
            couplings,
            hist: History {
                buf: Vec::with_capacity(len * BUF_WINDOWS + cfg.hop),
                b0: 0,
                sums: Vec::new(),
                f0: Vec::new(),
                tones: all
                    .iter()
                    .map(|&f| {
                        let w = 2.0 * PI * f / fs;
                        ToneTable {
                            freq: f,
                            cos: (0..len).map(|i| (w * i as f64).cos() as f32).collect(),
                            sin: (0..len).map(|i| (w * i as f64).sin() as f32).collect(),
                        }
                    })
                    .collect(),
                residual: Vec::with_capacity(len),
                compact_at: len * BUF_WINDOWS,
            },
            pending: 0,
            energies: VecDeque::with_capacity(cfg.window_hops + 1),
            sums: Vec::with_capacity(m),
            local: Vec::with_capacity(m),
            mat: Vec::with_capacity(m * (m + 1)),
            min_amp: 32768.0 * std::f64::consts::SQRT_2 * 10f64.powf(cfg.min_level_dbfs / 20.0),
            cfg,
            bins,
            hop_start: 0,
            started: false,
            events: VecDeque::new(),
        }
    }

    /// The tuning in use (after clamping).
    pub fn config(&self) -> &ToneConfig {
        &self.cfg
    }

    /// Feed samples; `first_sample` is the timeline index of `pcm[0]`. A gap of up to two
    /// seconds is bridged with silence; a longer gap, or a step backwards, ends the bursts
    /// in progress and restarts analysis at `first_sample`.
    pub fn push(&mut self, first_sample: u64, pcm: &[i16]) {
        if !self.started {
            self.started = true;
            self.hop_start = first_sample;
            self.hist.b0 = first_sample;
        }
        let expected = self.hop_start + self.pending as u64;
        let mut pcm = pcm;
        let first = first_sample;
        if first > expected {
            let gap = first - expected;
            if gap <= MAX_BRIDGED_GAP {
                let mut left = gap as usize;
                while left > 0 {
                    let take = left.min(self.cfg.hop - self.pending);
                    self.hist.buf.resize(self.hist.buf.len() + take, 0.0);
                    self.advance(take);
                    left -= take;
                }
            } else {
                self.reset_at(first);
            }
        } else if first < expected {
            let overlap = (expected - first) as usize;
            if overlap >= pcm.len() {
                if first + (pcm.len() as u64) + MAX_BRIDGED_GAP < expected {
                    // Far in the past: a new segment.
                    self.reset_at(first);
                } else {
                    return;
                }
            } else {
                pcm = &pcm[overlap..];
            }
        }
        while !pcm.is_empty() {
            let take = pcm.len().min(self.cfg.hop - self.pending);
            let (now, rest) = pcm.split_at(take);
            self.hist.buf.extend(now.iter().map(|&s| f32::from(s)));
            self.advance(take);
            pcm = rest;
        }
    }

    /// End of stream: close bursts still open.
    pub fn finish(&mut self) {
        for i in 0..self.bins.len() {
            self.close_burst(i);
        }
    }

    /// Next detected burst, in the order bursts ended.
    pub fn poll_event(&mut self) -> Option<ToneEvent> {
        self.events.pop_front()
    }

    fn reset_at(&mut self, first: u64) {
        self.finish();
        self.hist.clear(first);
        self.pending = 0;
        self.energies.clear();
        for b in &mut self.bins {
            b.main.clear();
            for p in &mut b.neighbours {
                p.clear();
            }
            b.preroll.clear();
        }
        self.hop_start = first;
    }

    /// `n` samples were appended to `buf`; analyse the hop once it is complete.
    fn advance(&mut self, n: usize) {
        self.pending += n;
        if self.pending >= self.cfg.hop {
            self.process_hop();
            self.pending = 0;
            self.hop_start += self.cfg.hop as u64;
            if self.hist.buf.len() >= self.hist.compact_at {
                self.compact();
            }
        }
    }

    /// Drop history no burst can still need: keep the current window, and the windows of
    /// open bursts and pre-rolls (up to [`HIST_CAP`]).
    fn compact(&mut self) {
        let hop = self.cfg.hop;
        let len = hop * self.cfg.window_hops;
        let end = self.hop_start;
        let mut keep = end.saturating_sub(len as u64);
        for bin in &self.bins {
            let first = match &bin.burst {
                Burst::On { obs, .. } => obs.first(),
                Burst::Idle => bin.preroll.front(),
            };
            if let Some(o) = first {
                keep = keep.min(o.w0.max(0.0) as u64);
            }
        }
        let keep = keep.max(end.saturating_sub(HIST_CAP + len as u64));
        self.hist.drop_before(keep, hop, len * BUF_WINDOWS);
    }

    fn process_hop(&mut self) {
        let hop = self.cfg.hop;
        let k = self.cfg.window_hops;
        let len = hop * k;
        let n = len as f64;
        let b = self.hop_start;
        let window = &self.hist.buf[self.hist.buf.len().saturating_sub(len)..];
        let Some(current) = window.get(window.len().saturating_sub(hop)..) else {
            return;
        };
        let e = f64::from(energy(current));
        self.energies.push_back(e);
        if self.energies.len() > k {
            self.energies.pop_front();
        }
        let win_e: f64 = self.energies.iter().sum();
        let full = self.energies.len() == k && window.len() == len;
        let w1 = (b + hop as u64) as f64;
        let w0 = w1 - n;
        let min_amp = self.min_amp;
        // Pass 1: every bin's window sum (the main probes are always kept up to date).
        self.sums.clear();
        for bin in &mut self.bins {
            self.sums.push(bin.main.sync(window, b, hop, k));
        }
        // Pass 1b: untangle configured frequencies that leak into each other's bins (440 and
        // 480 Hz are only 1.6 bins apart in a 40 ms window): every bin is a known linear
        // mix of every tone's complex amplitude, so solve for the amplitudes.
        if !self.group.is_empty() {
            untangle(
                &self.group,
                &self.couplings,
                &mut self.mat,
                &mut self.sums,
                w0,
                n,
            );
        }
        self.hist.sums.extend_from_slice(&self.sums);
        self.hist.f0.push(None);
        if !full {
            return;
        }
        // Pass 1c: local background from the neighbour probes, only for bins that hold
        // something (or are in a burst). Party audio leaves the tone bands empty, so this
        // usually skips most probes; a probe skipped for a while is rebuilt from the window
        // when needed again.
        self.local.clear();
        for (bin, &(wr, wi)) in self.bins.iter_mut().zip(&self.sums) {
            let amp = 2.0 * (wr * wr + wi * wi).sqrt() / n;
            let need = matches!(bin.burst, Burst::On { .. }) || amp >= WEAK_GATE * min_amp;
            if need {
                let mut e = 0.0;
                for p in &mut bin.neighbours {
                    let (r, i) = p.sync(window, b, hop, k);
                    e += r * r + i * i;
                }
                self.local
                    .push(Some(e / bin.neighbours.len().max(1) as f64));
            } else {
                self.local.push(None);
            }
        }
        let share_of = |p: f64| {
            if win_e > 0.0 {
                p / (win_e * n / 2.0)
            } else {
                0.0
            }
        };
        // Pass 3: burst state per bin.
        for i in 0..self.bins.len() {
            let (Some(&(wr, wi)), Some(&l)) = (self.sums.get(i), self.local.get(i)) else {
                continue;
            };
            let p = wr * wr + wi * wi;
            let share = share_of(p);
            let ratio = l.map_or(0.0, |l| tonality(p, l));
            let obs = Obs {
                centre: (w0 + w1) / 2.0,
                re: wr,
                im: wi,
                ratio,
                share,
                w0,
                w1,
            };
            let amp = 2.0 * p.sqrt() / n;
            let loud = amp >= min_amp && share >= self.cfg.min_share;
            if self.observe(i, obs, amp, loud) {
                self.close_burst(i);
            }
        }
    }

    /// Update bin `i`'s burst state with one observation; true when the burst should close.
    fn observe(&mut self, i: usize, obs: Obs, amp: f64, loud: bool) -> bool {
        let k = self.cfg.window_hops;
        let on = self.cfg.on_ratio;
        let off = self.cfg.off_ratio;
        let Some(bin) = self.bins.get_mut(i) else {
            return false;
        };
        match &mut bin.burst {
            Burst::Idle => {
                if loud && obs.ratio >= on {
                    let mut v: Vec<Obs> = bin.preroll.drain(..).collect();
                    v.push(obs);
                    bin.burst = Burst::On {
                        obs: v,
                        below: 0,
                        core_amps: vec![amp],
                    };
                } else {
                    bin.preroll.push_back(obs);
                    if bin.preroll.len() > k + 2 {
                        bin.preroll.pop_front();
                    }
                }
                false
            }
            Burst::On {
                obs: v,
                below,
                core_amps,
            } => {
                v.push(obs);
                if obs.ratio >= on {
                    // Kept sorted, so the median below is a lookup rather than a sort.
                    let at = core_amps.partition_point(|x| x.total_cmp(&amp).is_lt());
                    core_amps.insert(at, amp);
                }
                // Louder speech can push the tonality of a steady tone below `off_ratio`
                // for a while; its amplitude in the bin stays put, so that sustains too.
                let steady = core_amps
                    .get(core_amps.len() / 2)
                    .is_some_and(|&m| amp >= 0.6 * m);
                if loud && (obs.ratio >= off || steady) {
                    *below = 0;
                    false
                } else {
                    *below += 1;
                    *below > k + 1
                }
            }
        }
    }

    fn close_burst(&mut self, i: usize) {
        let Some(bin) = self.bins.get_mut(i) else {
            return;
        };
        let Burst::On { obs, .. } = std::mem::replace(&mut bin.burst, Burst::Idle) else {
            return;
        };
        // Keep the tail as pre-roll for a burst that may follow closely.
        bin.preroll.clear();
        let keep = self.cfg.window_hops + 2;
        for o in obs.iter().rev().take(keep).rev() {
            bin.preroll.push_back(*o);
        }
        let hop = self.cfg.hop;
        let hist = &mut self.hist;
        let mut pitch = |o: &Obs| hist.pitch_at(o.w0, o.w1, hop);
        self.events
            .extend(judge_all(&self.cfg, bin.freq, &obs, &mut pitch));
    }
}

/// Judge every burst inside a run of observations. A run can hold several bursts at the
/// same frequency back to back (a speech harmonic right before a tone): each pass anchors
/// on the most tonal window, takes the coherent stretch around it, and the rest is judged
/// again.
///
/// `pitch` gives the voice pitch in a window with the configured tones removed (`None`:
/// unvoiced); it is only asked for when a verdict depends on it.
fn judge_all(
    cfg: &ToneConfig,
    freq: f64,
    obs: &[Obs],
    pitch: &mut dyn FnMut(&Obs) -> Option<f64>,
) -> Vec<ToneEvent> {
    let mut out = Vec::new();
    let mut todo = vec![(0usize, obs.len())];
    while let Some((a, b)) = todo.pop() {
        let Some(part) = obs.get(a..b) else { continue };
        let Some((ev, first, last)) = judge(cfg, freq, part, pitch) else {
            continue;
        };
        out.extend(ev);
        todo.push((a, a + first));
        todo.push((a + last + 1, b));
    }
    out.sort_by(|x, y| x.start.total_cmp(&y.start));
    out
}

/// Judge the burst around the most tonal window of `obs`: the event (if it passes) and the
/// index range it covered. `None` when no window is tonal enough to anchor on.
fn judge(
    cfg: &ToneConfig,
    freq: f64,
    obs: &[Obs],
    pitch: &mut dyn FnMut(&Obs) -> Option<f64>,
) -> Option<(Option<ToneEvent>, usize, usize)> {
    let fs = f64::from(SAMPLE_RATE);
    let hop = cfg.hop as f64;
    let n = (cfg.hop * cfg.window_hops) as f64;
    let hz_per_rad = fs / (2.0 * PI * hop);
    let core: Vec<usize> = (0..obs.len())
        .filter(|&i| obs[i].ratio >= cfg.on_ratio)
        .collect();
    // The most tone-dominated window anchors the phase reference.
    let i_max = *core
        .iter()
        .max_by(|&&a, &&b| obs[a].ratio.total_cmp(&obs[b].ratio))?;
    // Frequency offset from the phase advance between consecutive core windows.
    let core_devs: Vec<f64> = core
        .windows(2)
        .filter(|w| w[1] == w[0] + 1)
        .map(|w| wrap_pi(obs[w[1]].phase() - obs[w[0]].phase()) * hz_per_rad)
        .collect();
    let off0 = median(&core_devs).unwrap_or(0.0);
    let t_max = obs[i_max].centre;
    let model = |o: &Obs| 2.0 * PI * off0 * (o.centre - t_max) / fs;
    let (cr, ci) = core.iter().fold((0.0, 0.0), |(a, b), &i| {
        let p = obs[i].phase() - model(&obs[i]);
        (a + p.cos(), b + p.sin())
    });
    let phi_c = ci.atan2(cr);
    // Coherent amplitude: the part of each window's bin that has the tone's phase. Speech
    // energy in the same bin has unrelated phase and mostly falls away.
    let coh: Vec<f64> = obs
        .iter()
        .map(|o| {
            let p = phi_c + model(o);
            2.0 * (o.re * p.cos() + o.im * p.sin()) / n
        })
        .collect();
    let core_coh: Vec<f64> = core.iter().map(|&i| coh[i]).collect();
    let plateau = median(&core_coh)?;
    if plateau <= 0.0 {
        return None;
    }
    let half = plateau / 2.0;
    // Walk out from the anchor while the coherent amplitude stays above half the plateau,
    // stepping over dips of up to DIP_HOPS windows (speech briefly cancelling the tone in
    // its bin). An onset ramp is longer than that: it spans a whole window.
    let mut first = i_max;
    loop {
        let back = (1..=DIP_HOPS + 1).find(|&d| first >= d && coh[first - d] >= half);
        match back {
            Some(d) => first -= d,
            None => break,
        }
    }
    let mut last = i_max;
    loop {
        let fwd = (1..=DIP_HOPS + 1).find(|&d| last + d < obs.len() && coh[last + d] >= half);
        match fwd {
            Some(d) => last += d,
            None => break,
        }
    }
    let start = match first.checked_sub(1) {
        Some(p) => {
            let frac = ((half - coh[p]) / (coh[first] - coh[p])).clamp(0.0, 1.0);
            obs[p].centre + hop * frac
        }
        None => obs[first].centre,
    };
    let end = if last + 1 < obs.len() {
        let frac = ((coh[last] - half) / (coh[last] - coh[last + 1])).clamp(0.0, 1.0);
        obs[last].centre + hop * frac
    } else {
        obs[last].centre
    };
    let verdict = judge_burst(cfg, freq, obs, start, end, first, last, plateau, pitch);
    Some((verdict, first, last))
}

/// The acceptance tests for one burst with refined edges `start..end`.
#[allow(clippy::too_many_arguments)]
fn judge_burst(
    cfg: &ToneConfig,
    freq: f64,
    obs: &[Obs],
    start: f64,
    end: f64,
    first: usize,
    last: usize,
    plateau: f64,
    pitch: &mut dyn FnMut(&Obs) -> Option<f64>,
) -> Option<ToneEvent> {
    let fs = f64::from(SAMPLE_RATE);
    let hop = cfg.hop as f64;
    let hz_per_rad = fs / (2.0 * PI * hop);
    if end - start < cfg.min_duration as f64 {
        return None;
    }
    // Judge steadiness, tonality and harmonicity over the windows inside the burst.
    let mut inner: Vec<&Obs> = obs
        .iter()
        .filter(|o| o.w0 >= start - 1.0 && o.w1 <= end + 1.0)
        .collect();
    if inner.len() < 3 {
        inner = (first..=last).filter_map(|i| obs.get(i)).collect();
    }
    let ratios: Vec<f64> = inner.iter().map(|o| o.ratio).collect();
    let ratio = median(&ratios)?;
    let shares: Vec<f64> = inner.iter().map(|o| o.share).collect();
    let share = median(&shares)?;
    let devs: Vec<f64> = inner
        .windows(2)
        .map(|w| wrap_pi(w[1].phase() - w[0].phase()) * hz_per_rad)
        .collect();
    if devs.is_empty() {
        return None;
    }
    let mean = devs.iter().sum::<f64>() / devs.len() as f64;
    let spread = (devs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / devs.len() as f64).sqrt();
    let exact = mean.abs() <= EXACT_OFFSET_HZ && spread <= EXACT_SPREAD_HZ && share >= EXACT_RATIO;
    if ratio < cfg.on_ratio
        || share < cfg.min_share
        || mean.abs() > cfg.max_offset_hz
        || spread > cfg.max_spread_hz
    {
        return None;
    }
    // Harmonicity last, and only when it can change the verdict: a burst this exact is a
    // generated tone even if a voice has a harmonic near it.
    if !exact && harmonic_burst(freq, &inner, pitch) {
        return None;
    }
    Some(ToneEvent {
        freq_hz: freq,
        start,
        end,
        level_dbfs: 20.0 * (plateau / std::f64::consts::SQRT_2 / 32768.0).log10(),
        offset_hz: mean,
    })
}

/// Replace each coupled bin's window sum by `N` times the complex amplitude of its tone,
/// solving `W_i = sum_j G_ij c_j` with `G_ij = sum_n e^{j (w_j - w_i) n}` over the window.
/// Only the bins in `group` take part: every other row of `G` is `N` on the diagonal and
/// zero elsewhere, so their sums are already the answer. `G_ij` is a fixed geometric sum
/// times a phase that follows the window start. Left unchanged when the system is
/// ill-conditioned.
fn untangle(
    group: &[usize],
    couplings: &[Coupling],
    a: &mut Vec<(f64, f64)>,
    sums: &mut [(f64, f64)],
    w0: f64,
    n: f64,
) {
    let m = group.len();
    let cols = m + 1;
    // Augmented matrix [G | W], complex as (re, im), row-major.
    a.clear();
    a.resize(m * cols, (0.0, 0.0));
    for (r, &i) in group.iter().enumerate() {
        a[r * cols + r] = (n, 0.0);
        a[r * cols + m] = sums.get(i).copied().unwrap_or((0.0, 0.0));
    }
    for c in couplings {
        // e^{j start} (1 - e^{j d N}) / (1 - e^{j d})
        let start = 2.0 * PI * (c.df * w0).fract();
        let (s, co) = start.sin_cos();
        if let Some(x) = a.get_mut(c.i * cols + c.j) {
            *x = cmul((co, s), c.q);
        }
    }
    // Gaussian elimination with partial pivoting (on squared magnitudes).
    for col in 0..m {
        let Some(piv) =
            (col..m).max_by(|&x, &y| norm2(a[x * cols + col]).total_cmp(&norm2(a[y * cols + col])))
        else {
            return;
        };
        if norm2(a[piv * cols + col]) < 1e-6 * n * n {
            return;
        }
        if piv != col {
            for k in 0..cols {
                a.swap(col * cols + k, piv * cols + k);
            }
        }
        let d = a[col * cols + col];
        for row in 0..m {
            if row != col {
                let f = cdiv(a[row * cols + col], d);
                if f == (0.0, 0.0) {
                    continue;
                }
                for k in col..cols {
                    let t = cmul(f, a[col * cols + k]);
                    let x = &mut a[row * cols + k];
                    *x = (x.0 - t.0, x.1 - t.1);
                }
            }
        }
    }
    for (r, &i) in group.iter().enumerate() {
        let c = cdiv(a[r * cols + m], a[r * cols + r]);
        if let Some(s) = sums.get_mut(i) {
            *s = (c.0 * n, c.1 * n);
        }
    }
}

/// How much of a tone at `g` shows in the bin at `f` over a window of `n` samples,
/// relative to a tone at `f` itself.
fn coupling(f: f64, g: f64, n: f64) -> f64 {
    let x = PI * (g - f) / f64::from(SAMPLE_RATE);
    if x.sin().abs() < 1e-12 {
        return 1.0;
    }
    ((x * n).sin() / x.sin()).abs() / n
}

fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn cdiv(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let d = b.0 * b.0 + b.1 * b.1;
    if d == 0.0 {
        return (0.0, 0.0);
    }
    ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
}

fn norm2(a: (f64, f64)) -> f64 {
    a.0 * a.0 + a.1 * a.1
}

/// Whether a burst looks like a speech harmonic: at least three of its windows are voiced
/// and in the majority of those (the median) `freq` sits on the voice's harmonic grid.
/// Windows are asked for their pitch one by one and the search stops as soon as the
/// remaining ones cannot change the answer (the pitch search is the costliest step).
fn harmonic_burst(freq: f64, inner: &[&Obs], pitch: &mut dyn FnMut(&Obs) -> Option<f64>) -> bool {
    // The median of the voiced deviations is at most HARMONIC_DEV exactly when more of
    // them are on the grid (`on`) than off it (`off`).
    let (mut on, mut off) = (0usize, 0usize);
    for (i, o) in inner.iter().enumerate() {
        let rest = inner.len() - i;
        if on + rest <= off || on + off + rest < 3 {
            return false;
        }
        if on > off + rest && on + off >= 3 {
            return true;
        }
        if let Some(f0) = pitch(o) {
            if harmonic_dev(freq, f0) <= HARMONIC_DEV {
                on += 1;
            } else {
                off += 1;
            }
        }
    }
    on > off && on + off >= 3
}

/// Median relative distance of the frequency from the voice's harmonic grid (as a fraction
/// of the pitch) below which a burst looks like a speech harmonic.
const HARMONIC_DEV: f64 = 0.08;
/// A burst this close to the configured frequency and this steady is taken as a generated
/// tone even when a voice happens to have a harmonic near it.
const EXACT_OFFSET_HZ: f64 = 0.3;
const EXACT_SPREAD_HZ: f64 = 1.0;
/// ... and the tone dominates its windows (a voice rarely puts 70 % of its energy into one
/// harmonic).
const EXACT_RATIO: f64 = 0.7;
/// Longest dip (in windows) bridged when walking out to a burst's edges.
const DIP_HOPS: usize = 3;

/// Whether `freq` lies on the harmonic grid of a voice with fundamental `f0`: a speech
/// harmonic does, a tone played over speech only by coincidence.
/// Local tonality from the bin power and the mean neighbour power.
fn tonality(p: f64, local: f64) -> f64 {
    if p + local > 0.0 {
        p / (p + local)
    } else {
        0.0
    }
}

fn harmonic_dev(freq: f64, f0: f64) -> f64 {
    let h = (freq / f0).round().max(1.0);
    (freq - h * f0).abs() / f0
}

/// Lags searched for a voice pitch: 70-300 Hz at 8 kHz.
const MIN_LAG: usize = 27;
const MAX_LAG: usize = 114;

/// Pitch by normalised autocorrelation, or `None` when nothing periodic in the voice range
/// stands out (normalised peak below 0.5).
fn pitch(x: &[f32]) -> Option<f64> {
    let n = x.len();
    if n < MAX_LAG * 2 {
        return None;
    }
    // Prefix sums of squares give each lag's energy normalisation in O(1).
    let mut pre = Vec::with_capacity(n + 1);
    pre.push(0f64);
    let mut acc = 0f64;
    for &v in x {
        acc += f64::from(v) * f64::from(v);
        pre.push(acc);
    }
    if acc <= 1.0 {
        return None;
    }
    let mut best = (0usize, 0f64);
    let mut vals = [0f64; MAX_LAG + 2];
    for lag in MIN_LAG - 1..=MAX_LAG + 1 {
        let a = f64::from(dot(&x[..n - lag], &x[lag..]));
        let e1 = pre[n - lag] - pre[0];
        let e2 = pre[n] - pre[lag];
        let v = if e1 > 0.0 && e2 > 0.0 {
            a / (e1 * e2).sqrt()
        } else {
            0.0
        };
        vals[lag] = v;
        if (MIN_LAG..=MAX_LAG).contains(&lag) && v > best.1 {
            best = (lag, v);
        }
    }
    if best.1 < 0.5 {
        return None;
    }
    let (l, y1) = best;
    let (y0, y2) = (vals[l - 1], vals[l + 1]);
    let denom = y0 - 2.0 * y1 + y2;
    let shift = if denom.abs() > 1e-12 {
        (0.5 * (y0 - y2) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some(f64::from(SAMPLE_RATE) / (l as f64 + shift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{mix_into, tone};

    fn run(cfg: ToneConfig, pcm: &[i16], chunk: usize) -> Vec<ToneEvent> {
        let mut d = ToneDetector::new(cfg);
        for (i, c) in pcm.chunks(chunk).enumerate() {
            d.push((i * chunk) as u64, c);
        }
        d.finish();
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    #[test]
    fn clean_tone_edges_are_sample_accurate() {
        let mut pcm = vec![0i16; 16_000];
        mix_into(&mut pcm, &tone(1400.0, -20.0, 2403), 3217);
        let ev = run(ToneConfig::default(), &pcm, 160);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!((ev[0].start - 3217.0).abs() < 8.0, "{ev:?}");
        assert!((ev[0].end - 5620.0).abs() < 8.0, "{ev:?}");
        assert!((ev[0].level_dbfs + 20.0).abs() < 0.5);
    }

    #[test]
    fn off_frequency_and_short_tones_are_ignored() {
        let mut pcm = vec![0i16; 16_000];
        mix_into(&mut pcm, &tone(1460.0, -20.0, 4000), 1000);
        mix_into(&mut pcm, &tone(1400.0, -20.0, 200), 9000);
        assert!(run(ToneConfig::default(), &pcm, 100).is_empty());
    }

    #[test]
    fn gap_in_pushes_is_bridged() {
        let pcm = tone(1000.0, -20.0, 8000);
        let mut d = ToneDetector::new(ToneConfig::for_freqs(&[1000.0]));
        d.push(0, &pcm[..4000]);
        d.push(4160, &pcm[4160..]);
        d.finish();
        let ev: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
        // The 160-sample hole splits the tone in two bursts or leaves one: either way
        // nothing is reported inside the hole's silence.
        assert!(!ev.is_empty());
    }
}
