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
    /// Local tonality: the bin's power against its neighbours' (1.0 for a pure tone).
    ratio: f64,
    /// The bin's share of the whole window's power (1.0 for a pure tone alone).
    share: f64,
    phase: f64,
    /// Window start and end (sample positions).
    w0: f64,
    w1: f64,
    /// For voiced windows: whether the frequency sits on the harmonic grid of the pitch
    /// found in the rest of the window (see [`harmonic_test`]). `None` when unvoiced or
    /// not evaluated.
    harmonic: Option<f64>,
}

#[derive(Debug, Clone)]
enum Burst {
    Idle,
    On {
        obs: Vec<Obs>,
        below: usize,
        /// Amplitudes of the windows that met `on_ratio` (the burst's reference level).
        core_amps: Vec<f64>,
    },
}

/// One single-frequency sliding DFT (sum of per-hop block sums).
#[derive(Debug, Clone)]
struct Probe {
    freq: f64,
    cos: Vec<f32>,
    sin: Vec<f32>,
    subs: VecDeque<(f64, f64)>,
    /// `e^{-j w b}` for the next expected hop start `next_b`, advanced by `step` per hop
    /// (trigonometry per hop dominated the profile); recomputed exactly now and then.
    rot: (f64, f64),
    step: (f64, f64),
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

    /// Add the hop starting at absolute sample `b`; return the window sum.
    fn update(&mut self, hop: &[f32], b: u64, k: usize) -> (f64, f64) {
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

/// Sans-IO tone detector. Feed PCM with [`ToneDetector::push`], call
/// [`ToneDetector::finish`] at the end of the stream, drain [`ToneDetector::poll_event`].
#[derive(Debug, Clone)]
pub struct ToneDetector {
    cfg: ToneConfig,
    bins: Vec<Bin>,
    energies: VecDeque<f64>,
    /// The last `hop * window_hops` samples (for the harmonicity test).
    window: Vec<f32>,
    residual: Vec<f32>,
    hop_buf: Vec<f32>,
    /// Absolute index of `hop_buf[0]`.
    hop_start: u64,
    started: bool,
    events: VecDeque<ToneEvent>,
    /// Whether any two configured frequencies leak into each other's bins.
    coupled: bool,
}

/// Largest gap between pushes that is bridged with silence rather than a reset.
const MAX_BRIDGED_GAP: u64 = 16_000;

impl ToneDetector {
    /// A detector with the given tuning. Out-of-range values are clamped (hop >= 8,
    /// window >= 2 hops, frequencies kept inside (0, 4000) Hz).
    pub fn new(mut cfg: ToneConfig) -> Self {
        cfg.hop = cfg.hop.max(8);
        cfg.window_hops = cfg.window_hops.max(2);
        let nyq = f64::from(SAMPLE_RATE) / 2.0;
        cfg.freqs_hz
            .retain(|f| f.is_finite() && *f > 0.0 && *f < nyq);
        cfg.freqs_hz.sort_by(f64::total_cmp);
        cfg.freqs_hz.dedup_by(|a, b| (*a - *b).abs() < 1.0);
        let resolution = f64::from(SAMPLE_RATE) / (cfg.hop * cfg.window_hops) as f64;
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
                    preroll: VecDeque::new(),
                    burst: Burst::Idle,
                }
            })
            .collect();
        let n = (cfg.hop * cfg.window_hops) as f64;
        let coupled = all
            .iter()
            .enumerate()
            .any(|(i, &f)| all.iter().skip(i + 1).any(|&g| coupling(f, g, n) >= 0.02));
        Self {
            coupled,
            hop_buf: Vec::with_capacity(cfg.hop),
            window: Vec::with_capacity(cfg.hop * (cfg.window_hops + 1)),
            residual: Vec::new(),
            energies: VecDeque::with_capacity(cfg.window_hops + 1),
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
        }
        let expected = self.hop_start + self.hop_buf.len() as u64;
        let mut pcm = pcm;
        let mut first = first_sample;
        if first > expected {
            let gap = first - expected;
            if gap <= MAX_BRIDGED_GAP {
                for _ in 0..gap {
                    self.feed_sample(0.0);
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
                first = expected;
            }
        }
        let _ = first;
        for &s in pcm {
            self.feed_sample(f32::from(s));
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
        self.hop_buf.clear();
        self.window.clear();
        self.energies.clear();
        for b in &mut self.bins {
            b.main.subs.clear();
            for p in &mut b.neighbours {
                p.subs.clear();
            }
            b.preroll.clear();
        }
        self.hop_start = first;
    }

    #[inline]
    fn feed_sample(&mut self, x: f32) {
        self.hop_buf.push(x);
        if self.hop_buf.len() == self.cfg.hop {
            self.process_hop();
        }
    }

    fn process_hop(&mut self) {
        let hop = self.cfg.hop;
        let k = self.cfg.window_hops;
        let n = (hop * k) as f64;
        let b = self.hop_start;
        let e = f64::from(energy(&self.hop_buf));
        self.energies.push_back(e);
        if self.energies.len() > k {
            self.energies.pop_front();
        }
        self.window.extend_from_slice(&self.hop_buf);
        if self.window.len() > hop * k {
            let excess = self.window.len() - hop * k;
            self.window.drain(..excess);
        }
        let win_e: f64 = self.energies.iter().sum();
        let full = self.energies.len() == k;
        let w1 = (b + hop as u64) as f64;
        let w0 = w1 - n;
        let min_amp =
            32768.0 * std::f64::consts::SQRT_2 * 10f64.powf(self.cfg.min_level_dbfs / 20.0);
        // Pass 1: every bin's window sum.
        let mut sums = Vec::with_capacity(self.bins.len());
        let mut local = Vec::with_capacity(self.bins.len());
        for bin in &mut self.bins {
            sums.push(bin.main.update(&self.hop_buf, b, k));
            let mut e = 0.0;
            for p in &mut bin.neighbours {
                let (r, i) = p.update(&self.hop_buf, b, k);
                e += r * r + i * i;
            }
            local.push(e / bin.neighbours.len().max(1) as f64);
        }
        // Pass 1b: untangle configured frequencies that leak into each other's bins (440 and
        // 480 Hz are only 1.6 bins apart in a 40 ms window): every bin is a known linear
        // mix of every tone's complex amplitude, so solve for the amplitudes.
        if self.coupled {
            untangle(&self.bins, &mut sums, w0, n);
        }
        if full {
            // Pass 2: the harmonicity test, only while some bin is in or entering a burst.
            let active = self
                .bins
                .iter()
                .zip(&sums)
                .zip(&local)
                .any(|((bin, &(wr, wi)), &l)| {
                    let p = wr * wr + wi * wi;
                    matches!(bin.burst, Burst::On { .. }) || tonality(p, l) >= self.cfg.on_ratio
                });
            let f0 = if active {
                self.residual_pitch(&sums, w0)
            } else {
                None
            };
            // Pass 3: burst state per bin.
            for i in 0..self.bins.len() {
                let Some(&(wr, wi)) = sums.get(i) else {
                    continue;
                };
                let p = wr * wr + wi * wi;
                let share = if win_e > 0.0 {
                    p / (win_e * n / 2.0)
                } else {
                    0.0
                };
                let ratio = tonality(p, local.get(i).copied().unwrap_or(0.0));
                let freq = self.bins[i].freq;
                let obs = Obs {
                    centre: (w0 + w1) / 2.0,
                    re: wr,
                    im: wi,
                    ratio,
                    share,
                    phase: wi.atan2(wr),
                    w0,
                    w1,
                    harmonic: f0.map(|f0| harmonic_dev(freq, f0)),
                };
                let amp = 2.0 * p.sqrt() / n;
                let loud = amp >= min_amp && share >= self.cfg.min_share;
                if self.observe(i, obs, amp, loud) {
                    self.close_burst(i);
                }
            }
        }
        self.hop_start += hop as u64;
        self.hop_buf.clear();
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
                    core_amps.push(amp);
                }
                // Louder speech can push the tonality of a steady tone below `off_ratio`
                // for a while; its amplitude in the bin stays put, so that sustains too.
                let steady = median(core_amps).is_some_and(|m| amp >= 0.6 * m);
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

    /// Pitch (Hz) of the current window once every configured tone has been subtracted,
    /// or `None` when what remains is not voiced.
    fn residual_pitch(&mut self, sums: &[(f64, f64)], w0: f64) -> Option<f64> {
        let n = self.window.len();
        self.residual.clear();
        self.residual.extend_from_slice(&self.window);
        let fs = f64::from(SAMPLE_RATE);
        for (bin, &(wr, wi)) in self.bins.iter().zip(sums) {
            // x_hat[m] = (2/N) Re(W e^{j w m}) at absolute sample m = w0 + i.
            let w = 2.0 * PI * bin.freq / fs;
            let start = (bin.freq / fs * w0).fract() * 2.0 * PI;
            let (mut c, mut s) = (start.cos(), start.sin());
            let (dc, ds) = (w.cos(), w.sin());
            let scale = 2.0 / n as f64;
            for r in &mut self.residual {
                *r -= (scale * (wr * c - wi * s)) as f32;
                let nc = c * dc - s * ds;
                s = s * dc + c * ds;
                c = nc;
            }
        }
        // A residual holding almost none of the window's energy says nothing about a voice.
        let win_e = f64::from(energy(&self.window));
        let res_e = f64::from(energy(&self.residual));
        if res_e < 0.05 * win_e {
            return None;
        }
        pitch(&self.residual)
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
        self.events.extend(judge_all(&self.cfg, bin.freq, &obs));
    }
}

/// Judge every burst inside a run of observations. A run can hold several bursts at the
/// same frequency back to back (a speech harmonic right before a tone): each pass anchors
/// on the most tonal window, takes the coherent stretch around it, and the rest is judged
/// again.
fn judge_all(cfg: &ToneConfig, freq: f64, obs: &[Obs]) -> Vec<ToneEvent> {
    let mut out = Vec::new();
    let mut todo = vec![(0usize, obs.len())];
    while let Some((a, b)) = todo.pop() {
        let Some(part) = obs.get(a..b) else { continue };
        let Some((ev, first, last)) = judge(cfg, freq, part) else {
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
fn judge(cfg: &ToneConfig, freq: f64, obs: &[Obs]) -> Option<(Option<ToneEvent>, usize, usize)> {
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
        .map(|w| wrap_pi(obs[w[1]].phase - obs[w[0]].phase) * hz_per_rad)
        .collect();
    let off0 = median(&core_devs).unwrap_or(0.0);
    let t_max = obs[i_max].centre;
    let model = |o: &Obs| 2.0 * PI * off0 * (o.centre - t_max) / fs;
    let (cr, ci) = core.iter().fold((0.0, 0.0), |(a, b), &i| {
        let p = obs[i].phase - model(&obs[i]);
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
    let verdict = judge_burst(cfg, freq, obs, start, end, first, last, plateau);
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
        .map(|w| wrap_pi(w[1].phase - w[0].phase) * hz_per_rad)
        .collect();
    if devs.is_empty() {
        return None;
    }
    let mean = devs.iter().sum::<f64>() / devs.len() as f64;
    let spread = (devs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / devs.len() as f64).sqrt();
    let voiced: Vec<f64> = inner.iter().filter_map(|o| o.harmonic).collect();
    let harmonic = voiced.len() >= 3 && median(&voiced).unwrap_or(1.0) <= HARMONIC_DEV;
    let exact = mean.abs() <= EXACT_OFFSET_HZ && spread <= EXACT_SPREAD_HZ && share >= EXACT_RATIO;
    if ratio < cfg.on_ratio
        || share < cfg.min_share
        || mean.abs() > cfg.max_offset_hz
        || spread > cfg.max_spread_hz
        || (harmonic && !exact)
    {
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

/// Replace each bin's window sum by `N` times the complex amplitude of its tone, solving
/// `W_i = sum_j G_ij c_j` with `G_ij = sum_n e^{j (w_j - w_i) n}` over the window. Left
/// unchanged when the system is ill-conditioned.
fn untangle(bins: &[Bin], sums: &mut [(f64, f64)], w0: f64, n: f64) {
    let m = bins.len();
    let fs = f64::from(SAMPLE_RATE);
    // Augmented matrix [G | W], complex as (re, im).
    let mut a: Vec<Vec<(f64, f64)>> = vec![vec![(0.0, 0.0); m + 1]; m];
    for i in 0..m {
        for j in 0..m {
            a[i][j] = if i == j {
                (n, 0.0)
            } else if coupling(bins[i].freq, bins[j].freq, n) < 0.02 {
                (0.0, 0.0)
            } else {
                let df = bins[j].freq - bins[i].freq;
                let d = 2.0 * PI * df / fs;
                let start = 2.0 * PI * (df / fs * w0).fract();
                // e^{j start} (1 - e^{j d N}) / (1 - e^{j d})
                let num = (1.0 - (d * n).cos(), -(d * n).sin());
                let den = (1.0 - d.cos(), -d.sin());
                let q = cdiv(num, den);
                cmul((start.cos(), start.sin()), q)
            };
        }
        a[i][m] = sums[i];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..m {
        let Some(piv) = (col..m).max_by(|&x, &y| norm(a[x][col]).total_cmp(&norm(a[y][col])))
        else {
            return;
        };
        if norm(a[piv][col]) < 1e-3 * n {
            return;
        }
        a.swap(col, piv);
        for row in 0..m {
            if row != col {
                let f = cdiv(a[row][col], a[col][col]);
                // Row `row` is updated from row `col` of the same matrix, so an iterator
                // over one row cannot borrow the other; indexing is the clear form here.
                #[allow(clippy::needless_range_loop)]
                for k in col..=m {
                    let t = cmul(f, a[col][k]);
                    a[row][k] = (a[row][k].0 - t.0, a[row][k].1 - t.1);
                }
            }
        }
    }
    for (i, s) in sums.iter_mut().enumerate() {
        let c = cdiv(a[i][m], a[i][i]);
        *s = (c.0 * n, c.1 * n);
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

fn norm(a: (f64, f64)) -> f64 {
    (a.0 * a.0 + a.1 * a.1).sqrt()
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
