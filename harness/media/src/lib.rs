//! Media engine of recproof: its ears.
//!
//! recproof judges call recording from what people hear and what the recorder receives.
//! This crate turns audio and RTP into facts with sample positions: which party's frame
//! arrived when, which tone played from when to when, where a known announcement occurs,
//! where there is silence. It is sans-IO: nothing here opens a socket, reads a clock or
//! spawns a thread. Time is an argument (a `Duration` since an epoch the driver picks, or a
//! sample index at 8 kHz), and output is returned. File I/O lives only in the thin evidence
//! readers and writers ([`wav`], [`pcap`]) and in [`analysis`]'s path-based entry point.
//!
//! The module list is a map of the code:
//! - [`rtp`]: parse/build RTP (rtc-rtp underneath), drift-free pacing, RFC 3550 receive
//!   statistics. Start at [`rtp::RtpReceiver`].
//! - [`dtmf`]: RFC 4733 telephone-events, sent and received.
//! - [`g711`]: µ-law and A-law.
//! - [`signal`]: the instrumented party signal: every 20 ms frame names its party and frame
//!   number; [`signal::FrameDecoder`] finds frames with sub-sample timing, and
//!   [`signal::FrameTracker`] turns them into latency, loss, reordering and front clipping.
//! - [`tone`]: tone bursts (Goertzel-style sliding DFT), start/end per burst.
//! - [`clip`]: known-audio detector (a reference clip inside a longer stream).
//! - [`energy`]: silence and activity segments.
//! - [`timeline`]: RTP packets to a gap-filled PCM timeline with arrival times.
//! - [`synth`]: deterministic test signals (tones, speech-like audio, fractional delay).
//! - [`resample`]: any common rate to 8 kHz, zero delay.
//! - [`wav`] and [`pcap`]: evidence writers and readers (hound; pcap-file + etherparse).
//! - [`analysis`]: what `recproof analyze` reports for a WAV or pcap file.
//!
//! Invariant for callers: every detector takes `push(first_sample, pcm)` with
//! `first_sample` the index of `pcm[0]` on the stream's own 8 kHz timeline, and reports
//! positions on that same timeline. Convert to seconds only at the edge
//! ([`samples_to_secs`]).

pub mod analysis;
pub mod capture;
pub mod clip;
mod dsp;
pub mod dtmf;
pub mod energy;
pub mod g711;
pub mod pcap;
pub mod resample;
pub mod rtp;
pub mod signal;
pub mod synth;
pub mod timeline;
pub mod tone;
pub mod wav;

/// The sample rate of every PCM timeline in this crate (G.711 narrowband).
pub const SAMPLE_RATE: u32 = 8000;

/// Samples in one 20 ms frame at [`SAMPLE_RATE`] (the G.711 packet size recproof uses).
pub const FRAME_SAMPLES: usize = 160;

/// Seconds for a sample position on an 8 kHz timeline.
pub fn samples_to_secs(samples: f64) -> f64 {
    samples / f64::from(SAMPLE_RATE)
}
