//! Silence segments: where a stream carries (next to) nothing.
//!
//! Owns: block energy in 5 ms blocks and the runs of quiet blocks long enough to count as
//! silence. Checks use it for "recording continues while paused" (there should be silence)
//! and for dead air after answer.
//!
//! Must not touch: clocks, I/O. Time is the sample index (`push(first_sample, pcm)`).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Tuning of a [`SilenceDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceConfig {
    /// Blocks below this RMS level (dBFS) are silent. G.711 idle noise and comfort noise
    /// sit well below -50 dBFS; speech pauses with room noise around -55 to -45.
    pub threshold_dbfs: f64,
    /// Shortest silence reported, in samples (default 200 ms).
    pub min_duration: u64,
    /// Block length in samples (default 5 ms).
    pub block: usize,
}

impl Default for SilenceConfig {
    fn default() -> Self {
        Self {
            threshold_dbfs: -50.0,
            min_duration: 1600,
            block: 40,
        }
    }
}

/// One silent stretch, as sample positions `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// First silent sample.
    pub start: u64,
    /// One past the last silent sample.
    pub end: u64,
}

/// Sans-IO silence segmenter.
#[derive(Debug, Clone)]
pub struct SilenceDetector {
    cfg: SilenceConfig,
    threshold_energy: f64,
    block_start: u64,
    acc: f64,
    filled: usize,
    started: bool,
    run_start: Option<u64>,
    events: VecDeque<Silence>,
}

impl SilenceDetector {
    /// A detector with the given tuning (block clamped to at least 8 samples).
    pub fn new(mut cfg: SilenceConfig) -> Self {
        cfg.block = cfg.block.max(8);
        let rms = 32768.0 * 10f64.powf(cfg.threshold_dbfs / 20.0);
        Self {
            threshold_energy: rms * rms * cfg.block as f64,
            cfg,
            block_start: 0,
            acc: 0.0,
            filled: 0,
            started: false,
            run_start: None,
            events: VecDeque::new(),
        }
    }

    /// Feed samples; gaps are treated as silence, overlaps are skipped.
    pub fn push(&mut self, first_sample: u64, pcm: &[i16]) {
        if !self.started {
            self.started = true;
            self.block_start = first_sample;
        }
        let expected = self.block_start + self.filled as u64;
        let mut pcm = pcm;
        if first_sample > expected {
            let mut gap = first_sample - expected;
            while gap > 0 {
                let take = gap.min((self.cfg.block - self.filled) as u64);
                self.filled += take as usize;
                gap -= take;
                if self.filled == self.cfg.block {
                    self.close_block();
                }
            }
        } else if first_sample < expected {
            let skip = (expected - first_sample) as usize;
            pcm = pcm.get(skip..).unwrap_or(&[]);
        }
        for &s in pcm {
            self.acc += f64::from(s) * f64::from(s);
            self.filled += 1;
            if self.filled == self.cfg.block {
                self.close_block();
            }
        }
    }

    /// End of stream: close a silence still open.
    pub fn finish(&mut self) {
        let end = self.block_start + self.filled as u64;
        if self.filled > 0
            && self.acc >= self.threshold_energy * self.filled as f64 / self.cfg.block as f64
        {
            self.end_run(self.block_start);
        } else {
            self.end_run(end);
        }
    }

    /// Next silence, in time order.
    pub fn poll_event(&mut self) -> Option<Silence> {
        self.events.pop_front()
    }

    fn close_block(&mut self) {
        let quiet = self.acc < self.threshold_energy;
        if quiet {
            if self.run_start.is_none() {
                self.run_start = Some(self.block_start);
            }
        } else {
            self.end_run(self.block_start);
        }
        self.block_start += self.cfg.block as u64;
        self.acc = 0.0;
        self.filled = 0;
    }

    fn end_run(&mut self, end: u64) {
        if let Some(start) = self.run_start.take()
            && end.saturating_sub(start) >= self.cfg.min_duration
        {
            self.events.push_back(Silence { start, end });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::tone;

    #[test]
    fn finds_silences_between_sounds() {
        let mut pcm = tone(700.0, -20.0, 4000);
        pcm.extend(vec![0i16; 8000]);
        pcm.extend(tone(700.0, -20.0, 4000));
        pcm.extend(vec![3i16; 800]); // 100 ms: too short to count
        pcm.extend(tone(700.0, -20.0, 800));
        pcm.extend(vec![0i16; 4000]);
        let mut d = SilenceDetector::new(SilenceConfig::default());
        for (i, c) in pcm.chunks(123).enumerate() {
            d.push((i * 123) as u64, c);
        }
        d.finish();
        let got: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
        assert_eq!(
            got,
            vec![
                Silence {
                    start: 4000,
                    end: 12_000
                },
                Silence {
                    start: 17_600,
                    end: 21_600
                }
            ]
        );
    }
}
