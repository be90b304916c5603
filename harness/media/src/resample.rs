//! Sample-rate conversion of whole recordings to 8 kHz.
//!
//! Owns: a zero-delay windowed-sinc resampler for any input rate. Hand-written rather than
//! taken from a resampling crate because analysis converts whole files offline and needs a
//! *centred* kernel: output sample `n` is the input at time `n / 8000` exactly, so every
//! time reported after resampling is the time in the original file, with no latency to
//! subtract. Streaming resamplers (rubato and friends) introduce a delay that callers must
//! compensate.
//!
//! Must not touch: I/O, clocks.

use std::f64::consts::PI;

use crate::SAMPLE_RATE;
use crate::synth::to_i16;

/// Half-width of the kernel in output-rate samples (the filter spans `2 * HALF` taps at the
/// lower of the two rates).
const HALF: f64 = 16.0;

/// Resample `input` from `rate` Hz to 8 kHz. Identity when `rate` is already 8000.
pub fn to_8k(input: &[i16], rate: u32) -> Vec<i16> {
    resample(input, rate, SAMPLE_RATE)
}

/// Resample `input` from `from` Hz to `to` Hz with a Hann-windowed sinc, cut-off at 95 % of
/// the lower Nyquist frequency. Positions are exact: output `n` is input time `n / to`.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || from == 0 || to == 0 || input.is_empty() {
        return input.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    let out_len = ((input.len() as f64) * ratio).floor() as usize;
    // Cut-off relative to the input rate.
    let cutoff = 0.95 * ratio.min(1.0);
    // Kernel half-width in input samples.
    let half_in = HALF / cutoff;
    // The kernel, tabulated at 1/OVERSAMPLE input-sample steps (linear interpolation in
    // between), so the inner loop does no trigonometry.
    const OVERSAMPLE: f64 = 512.0;
    let table_len = (half_in * OVERSAMPLE).ceil() as usize + 2;
    let table: Vec<f64> = (0..table_len)
        .map(|i| {
            let d = i as f64 / OVERSAMPLE;
            let x = d * cutoff;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (PI * x).sin() / (PI * x)
            };
            let w = if d <= half_in {
                0.5 + 0.5 * (PI * d / (half_in + 1.0)).cos()
            } else {
                0.0
            };
            sinc * w
        })
        .collect();
    let kernel = |d: f64| {
        let p = d.abs() * OVERSAMPLE;
        let i = p.floor() as usize;
        let f = p - i as f64;
        let a = table.get(i).copied().unwrap_or(0.0);
        let b = table.get(i + 1).copied().unwrap_or(0.0);
        a + (b - a) * f
    };
    let len = input.len() as i64;
    (0..out_len)
        .map(|n| {
            let t = n as f64 / ratio; // position in input samples
            let lo = (t - half_in).ceil().max(0.0) as i64;
            let hi = ((t + half_in).floor() as i64).min(len - 1);
            let mut acc = 0.0;
            let mut norm = 0.0;
            for m in lo..=hi {
                let h = kernel(m as f64 - t);
                acc += h * f64::from(input.get(m as usize).copied().unwrap_or(0));
                norm += h;
            }
            if norm.abs() > 1e-9 {
                to_i16(acc / norm)
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rms_dbfs;

    fn sine(freq: f64, rate: u32, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| to_i16(8000.0 * (2.0 * PI * freq * n as f64 / f64::from(rate)).sin()))
            .collect()
    }

    #[test]
    fn keeps_in_band_tones_and_timing() {
        for rate in [16_000u32, 44_100, 48_000, 11_025] {
            let x = sine(1000.0, rate, rate as usize);
            let y = to_8k(&x, rate);
            assert_eq!(y.len(), 8000);
            let want = sine(1000.0, 8000, 8000);
            let err: f64 = (100..7900)
                .map(|i| (f64::from(y[i]) - f64::from(want[i])).abs())
                .fold(0.0, f64::max);
            assert!(err < 120.0, "rate {rate}: max err {err}");
        }
    }

    #[test]
    fn removes_out_of_band_content() {
        let x = sine(6000.0, 48_000, 48_000);
        let y = to_8k(&x, 48_000);
        assert!(rms_dbfs(&y[100..7900]) < -60.0);
    }
}
