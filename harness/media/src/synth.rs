//! Known test signals: tones, speech-like audio, mixing, gain and delay.
//!
//! Owns: deterministic generators for the audio the harness plays or judges against, and
//! the small arithmetic every impairment needs (mix, gain, fractional delay). The reference
//! platform can use [`speech_like`] as a synthetic announcement; tests use everything here
//! to build ground truth.
//!
//! Must not touch: files, clocks, the thread RNG. Every random choice comes from a seed.
//!
//! Level convention everywhere in this crate: dBFS is `20 log10(rms / 32768)`, so a
//! full-scale sine is -3 dBFS.

use std::f64::consts::PI;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::SAMPLE_RATE;

/// RMS level of 16-bit PCM in dBFS (`-inf` for digital silence).
pub fn rms_dbfs(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return f64::NEG_INFINITY;
    }
    let e: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    10.0 * (e / pcm.len() as f64 / (32768.0 * 32768.0)).log10()
}

/// Convert floating-point samples to 16-bit with rounding and saturation.
pub fn to_i16(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// Multiply by `10^(db/20)`, saturating.
pub fn apply_gain_db(pcm: &mut [i16], db: f64) {
    let g = 10f64.powf(db / 20.0);
    for s in pcm {
        *s = to_i16(f64::from(*s) * g);
    }
}

/// Scale to the given RMS level in dBFS (no-op on silence).
pub fn scale_to_dbfs(pcm: &mut [i16], dbfs: f64) {
    let now = rms_dbfs(pcm);
    if now.is_finite() {
        apply_gain_db(pcm, dbfs - now);
    }
}

/// Add `b` into `a` starting at `a[offset]`, saturating; samples of `b` past the end of `a`
/// are dropped.
pub fn mix_into(a: &mut [i16], b: &[i16], offset: usize) {
    if let Some(dst) = a.get_mut(offset..) {
        for (d, &s) in dst.iter_mut().zip(b) {
            *d = d.saturating_add(s);
        }
    }
}

/// A sine tone of `len` samples at `freq_hz` with RMS level `dbfs`, starting at phase 0.
pub fn tone(freq_hz: f64, dbfs: f64, len: usize) -> Vec<i16> {
    let amp = 32768.0 * 10f64.powf(dbfs / 20.0) * std::f64::consts::SQRT_2;
    (0..len)
        .map(|n| to_i16(amp * (2.0 * PI * freq_hz * n as f64 / f64::from(SAMPLE_RATE)).sin()))
        .collect()
}

/// Several tones summed (for dual-frequency tones such as 440+480 Hz), each at `dbfs`.
pub fn multi_tone(freqs: &[f64], dbfs: f64, len: usize) -> Vec<i16> {
    let mut out = vec![0i16; len];
    for &f in freqs {
        mix_into(&mut out, &tone(f, dbfs, len), 0);
    }
    out
}

/// Delay by a fractional number of samples with a windowed-sinc interpolator (the output
/// has the same length; the head is filled with silence).
///
/// Hand-written because it is 20 lines and the ground-truth tests need an exact, known
/// sub-sample delay (a resampling crate would add its own latency bookkeeping).
pub fn fractional_delay(pcm: &[i16], delay: f64) -> Vec<i16> {
    const HALF: i64 = 32;
    let whole = delay.floor();
    let frac = delay - whole;
    let whole = whole as i64;
    // Kernel for the fractional part: y[n] = sum_k x[n - whole - k] * h(k - frac)... we
    // evaluate x at position n - delay.
    let taps: Vec<f64> = (-HALF..=HALF)
        .map(|k| {
            let t = k as f64 - frac;
            let w = 0.5 + 0.5 * (PI * t / (HALF as f64 + 1.0)).cos();
            sinc(t) * w
        })
        .collect();
    let len = pcm.len() as i64;
    (0..len)
        .map(|n| {
            let centre = n - whole;
            let mut acc = 0.0;
            for (i, &h) in taps.iter().enumerate() {
                let k = i as i64 - HALF;
                let idx = centre - k;
                if (0..len).contains(&idx) {
                    acc += h * f64::from(pcm[idx as usize]);
                }
            }
            to_i16(acc)
        })
        .collect()
}

fn sinc(t: f64) -> f64 {
    if t.abs() < 1e-12 {
        1.0
    } else {
        (PI * t).sin() / (PI * t)
    }
}

/// Vowel formants (F1, F2, F3) in Hz, roughly an adult average.
const VOWELS: [(f64, f64, f64); 8] = [
    (730.0, 1090.0, 2440.0), // a
    (270.0, 2290.0, 3010.0), // i
    (300.0, 870.0, 2240.0),  // u
    (530.0, 1840.0, 2480.0), // e
    (570.0, 840.0, 2410.0),  // o
    (660.0, 1720.0, 2410.0), // ae
    (490.0, 1350.0, 1690.0), // er
    (440.0, 1020.0, 2240.0), // schwa-ish
];

/// Two-pole resonator (one formant), coefficients updated as the formant moves.
#[derive(Debug, Clone, Copy, Default)]
struct Resonator {
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn step(&mut self, x: f64, f: f64, bw: f64) -> f64 {
        let fs = f64::from(SAMPLE_RATE);
        let r = (-PI * bw / fs).exp();
        let b1 = 2.0 * r * (2.0 * PI * f / fs).cos();
        let b2 = -r * r;
        let a0 = 1.0 - b1 - b2; // unity gain at DC: keeps levels comparable across formants
        let y = a0 * x + b1 * self.y1 + b2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Speech-like audio: a glottal pulse train through three moving formant resonators, with
/// syllabic envelopes, unvoiced consonant bursts, pauses, and a pitch contour that declines
/// over each phrase with jitter and slow drift, as natural speech does.
///
/// This stands in for recorded speech in unit tests (no espeak dependency). It has the
/// properties that matter to the detectors: harmonics whose frequencies glide, formant
/// energy between 300 and 3000 Hz, a 4-5 Hz syllable rate, and silent gaps.
pub fn speech_like(seed: u64, len: usize, dbfs: f64) -> Vec<i16> {
    let fs = f64::from(SAMPLE_RATE);
    let mut rng = SmallRng::seed_from_u64(seed);
    let base_f0 = rng.random_range(95.0..230.0);
    let mut out = vec![0f64; len];
    let mut res = [Resonator::default(); 3];
    let mut noise_res = Resonator::default();
    let mut glottal_lp = [0f64; 2];
    let mut last = 0f64;
    let mut phase = 0f64;
    let mut n = 0usize;
    let mut prev_vowel = VOWELS[0];
    while n < len {
        // A phrase of 3-9 syllables, then a pause.
        let syllables = rng.random_range(3..10);
        let phrase_len_est = syllables as f64 * 0.2;
        let phrase_start = n;
        let rise = rng.random_range(-0.15..0.25);
        for _ in 0..syllables {
            if n >= len {
                break;
            }
            // Optional unvoiced consonant.
            if rng.random_bool(0.6) {
                let clen = (rng.random_range(0.03..0.09) * fs) as usize;
                let cf = rng.random_range(1800.0..3600.0);
                let camp = rng.random_range(0.05..0.25);
                for i in 0..clen {
                    if n >= len {
                        break;
                    }
                    let env = (PI * i as f64 / clen as f64).sin();
                    let white: f64 = rng.random_range(-1.0..1.0);
                    out[n] = noise_res.step(white, cf, 600.0) * camp * env * 6.0;
                    n += 1;
                }
            }
            let vlen = (rng.random_range(0.09..0.26) * fs) as usize;
            let v = VOWELS[rng.random_range(0..VOWELS.len())];
            let jitter = |rng: &mut SmallRng, x: f64| x * rng.random_range(0.9..1.1);
            let target = (
                jitter(&mut rng, v.0),
                jitter(&mut rng, v.1),
                jitter(&mut rng, v.2),
            );
            let amp = rng.random_range(0.5..1.0);
            for i in 0..vlen {
                if n >= len {
                    break;
                }
                let t = i as f64 / vlen as f64;
                // Formants glide from the previous vowel during the first 40 %.
                let g = (t / 0.4).min(1.0);
                let f1 = prev_vowel.0 + (target.0 - prev_vowel.0) * g;
                let f2 = prev_vowel.1 + (target.1 - prev_vowel.1) * g;
                let f3 = prev_vowel.2 + (target.2 - prev_vowel.2) * g;
                // Pitch: declination over the phrase, a rise or fall, slow wobble, jitter.
                let pt = (n - phrase_start) as f64 / fs / phrase_len_est.max(0.1);
                let wobble = 1.0 + 0.03 * (2.0 * PI * 3.1 * n as f64 / fs).sin();
                let f0 = base_f0
                    * (1.0 + rise * (PI * pt).sin() - 0.12 * pt.min(1.5))
                    * wobble
                    * rng.random_range(0.99..1.01);
                phase += f0 / fs;
                let pulse = if phase >= 1.0 {
                    phase -= 1.0;
                    1.0
                } else {
                    0.0
                };
                // Glottal roll-off (two one-pole low-passes), lip radiation (difference).
                glottal_lp[0] = 0.92 * glottal_lp[0] + pulse;
                glottal_lp[1] = 0.92 * glottal_lp[1] + glottal_lp[0];
                let src = glottal_lp[1] - last;
                last = glottal_lp[1];
                let mut y = res[0].step(src, f1, 90.0);
                y = res[1].step(y, f2, 120.0) * 0.7 + y * 0.3;
                y = res[2].step(y, f3, 180.0) * 0.5 + y * 0.5;
                let env = (PI * t).sin().powf(0.6);
                out[n] = y * amp * env;
                n += 1;
            }
            prev_vowel = target;
            // Short gap between syllables.
            n += (rng.random_range(0.0..0.06) * fs) as usize;
        }
        // Pause between phrases.
        n += (rng.random_range(0.15..0.6) * fs) as usize;
    }
    let e: f64 = out.iter().map(|x| x * x).sum::<f64>() / out.len().max(1) as f64;
    if e <= 0.0 {
        return vec![0; len];
    }
    let target = 32768.0 * 10f64.powf(dbfs / 20.0);
    let g = target / e.sqrt();
    out.iter().map(|&x| to_i16(x * g)).collect()
}

/// Band-limited noise-free "music on hold"-like chords are not needed; white noise is
/// enough for robustness tests: uniform white noise at the given RMS level.
pub fn white_noise(seed: u64, len: usize, dbfs: f64) -> Vec<i16> {
    let mut rng = SmallRng::seed_from_u64(seed);
    // Uniform in [-a, a] has rms a/sqrt(3).
    let a = 32768.0 * 10f64.powf(dbfs / 20.0) * 3f64.sqrt();
    (0..len).map(|_| to_i16(rng.random_range(-a..a))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_level_is_as_asked() {
        let t = tone(1000.0, -20.0, 8000);
        assert!((rms_dbfs(&t) + 20.0).abs() < 0.05);
    }

    #[test]
    fn speech_like_has_level_pauses_and_is_seeded() {
        let a = speech_like(1, 8000 * 5, -22.0);
        let b = speech_like(1, 8000 * 5, -22.0);
        assert_eq!(a, b);
        assert!((rms_dbfs(&a) + 22.0).abs() < 0.5);
        // Some 20 ms frames are (near) silent, some are loud: a syllabic envelope.
        let levels: Vec<f64> = a.chunks(160).map(rms_dbfs).collect();
        assert!(levels.iter().filter(|&&l| l < -50.0).count() > 10);
        assert!(levels.iter().filter(|&&l| l > -25.0).count() > 30);
    }

    #[test]
    fn fractional_delay_moves_a_tone_by_the_right_phase() {
        let x = tone(500.0, -10.0, 2000);
        let y = fractional_delay(&x, 10.25);
        // Compare with an analytically delayed tone away from the edges.
        let z: Vec<i16> = (0..2000)
            .map(|n| {
                let amp = 32768.0 * 10f64.powf(-10.0 / 20.0) * std::f64::consts::SQRT_2;
                to_i16(amp * (2.0 * PI * 500.0 * (n as f64 - 10.25) / 8000.0).sin())
            })
            .collect();
        let err: f64 = (200..1800)
            .map(|i| (f64::from(y[i]) - f64::from(z[i])).abs())
            .fold(0.0, f64::max);
        assert!(err < 60.0, "max error {err}");
    }
}
