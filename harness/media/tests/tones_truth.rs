//! Ground truth for the tone detector: bursts at known times under party audio and under
//! speech, and no detections at all in long stretches of party audio or speech.

use std::sync::Arc;

use recproof_media::g711::Law;
use recproof_media::signal::{Modem, PartyId, PartySource, SignalConfig};
use recproof_media::synth::{mix_into, multi_tone, speech_like, tone};
use recproof_media::tone::{ToneConfig, ToneDetector, ToneEvent};

/// The reminder/beep frequencies the platform uses by default.
const PLATFORM_TONES: [f64; 5] = [440.0, 480.0, 1000.0, 1400.0, 2100.0];

fn detect(freqs: &[f64], pcm: &[i16]) -> Vec<ToneEvent> {
    let mut d = ToneDetector::new(ToneConfig::for_freqs(freqs));
    // Odd chunk size: detector state must not depend on how audio is split.
    for (i, c) in pcm.chunks(317).enumerate() {
        d.push((i * 317) as u64, c);
    }
    d.finish();
    std::iter::from_fn(|| d.poll_event()).collect()
}

fn party_audio(party: u8, seconds: usize) -> Vec<i16> {
    let m = Arc::new(Modem::new(&SignalConfig::default()).expect("config"));
    PartySource::new(m, PartyId(party)).take(seconds * 50)
}

/// (frequencies, start sample, length in samples)
type Burst = (Vec<f64>, usize, usize);

fn place(bed: &mut [i16], bursts: &[Burst], dbfs: f64) {
    for (freqs, at, len) in bursts {
        mix_into(bed, &multi_tone(freqs, dbfs, *len), *at);
    }
}

/// Bursts at irregular, non-frame-aligned times: a 1400 Hz reminder roughly every 7.3 s
/// (500 ms), a 440+480 Hz dual tone, and 1000/2100 Hz beeps.
fn schedule() -> Vec<Burst> {
    let mut v: Vec<Burst> = Vec::new();
    for k in 0..7 {
        v.push((vec![1400.0], 8_013 + k * 58_411, 4_000 + 17 * k));
    }
    v.push((vec![440.0, 480.0], 30_555, 8_000));
    v.push((vec![1000.0], 150_123, 1_200));
    v.push((vec![2100.0], 250_007, 2_403));
    v
}

fn assert_matches(events: &[ToneEvent], bursts: &[Burst], edge_ms: f64, ctx: &str) {
    let mut expected = 0;
    for (freqs, at, len) in bursts {
        for &f in freqs {
            expected += 1;
            let e = events
                .iter()
                .find(|e| e.freq_hz == f && e.start < (at + len) as f64 && e.end > *at as f64)
                .unwrap_or_else(|| panic!("{ctx}: {f} Hz burst at {at} not detected: {events:?}"));
            let ds = (e.start - *at as f64) / 8.0;
            let de = (e.end - (at + len) as f64) / 8.0;
            assert!(
                ds.abs() <= edge_ms && de.abs() <= edge_ms,
                "{ctx}: {f} Hz at {at}: start error {ds:.2} ms, end error {de:.2} ms"
            );
        }
    }
    let extra: Vec<_> = events
        .iter()
        .filter(|e| {
            !bursts.iter().any(|(freqs, at, len)| {
                freqs.contains(&e.freq_hz) && e.start < (at + len) as f64 && e.end > *at as f64
            })
        })
        .collect();
    assert!(extra.is_empty(), "{ctx}: extra detections {extra:?}");
    assert_eq!(events.len(), expected, "{ctx}: split detections {events:?}");
}

#[test]
fn tones_under_party_audio_have_accurate_edges_and_intervals() {
    let bursts = schedule();
    for (party_db, tone_db, law) in [
        (0.0, -20.0, Law::Ulaw),
        (10.0, -24.0, Law::Alaw),
        (-10.0, -30.0, Law::Ulaw),
    ] {
        let mut pcm = party_audio(2, 60);
        recproof_media::synth::apply_gain_db(&mut pcm, party_db);
        place(&mut pcm, &bursts, tone_db);
        let pcm = law.roundtrip(&pcm);
        let ev = detect(&PLATFORM_TONES, &pcm);
        let ctx = format!("party {party_db:+} dB, tone {tone_db} dBFS, {law:?}");
        assert_matches(&ev, &bursts, 10.0, &ctx);
        // Reminder intervals: consecutive 1400 Hz onsets vs the truth.
        let mut got: Vec<f64> = ev
            .iter()
            .filter(|e| e.freq_hz == 1400.0)
            .map(|e| e.start)
            .collect();
        got.sort_by(f64::total_cmp);
        for (k, w) in got.windows(2).enumerate() {
            let truth = 58_411.0;
            let err_ms = (w[1] - w[0] - truth) / 8.0;
            assert!(
                err_ms.abs() <= 5.0,
                "{ctx}: interval {k} off by {err_ms:.2} ms"
            );
        }
    }
}

#[test]
fn tones_under_speech_are_detected() {
    let bursts = schedule();
    let mut worst: f64 = 0.0;
    let mut errors = Vec::new();
    for seed in 0..3u64 {
        let mut pcm = speech_like(3_000 + seed, 8000 * 60, -22.0);
        place(&mut pcm, &bursts, -22.0);
        let pcm = Law::Ulaw.roundtrip(&pcm);
        let ev = detect(&PLATFORM_TONES, &pcm);
        // Every burst found, nothing else; edges within 40 ms even when a louder syllable
        // masks a burst's edge.
        assert_matches(&ev, &bursts, 40.0, &format!("speech seed {seed}"));
        for (freqs, at, len) in &bursts {
            for &f in freqs {
                if let Some(e) = ev
                    .iter()
                    .find(|e| e.freq_hz == f && e.start < (at + len) as f64 && e.end > *at as f64)
                {
                    for err in [
                        (e.start - *at as f64) / 8.0,
                        (e.end - (at + len) as f64) / 8.0,
                    ] {
                        worst = worst.max(err.abs());
                        errors.push(err.abs());
                    }
                }
            }
        }
    }
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    assert!(
        median <= 2.0,
        "median edge error under speech {median:.2} ms (worst {worst:.2})"
    );
}

#[test]
fn ten_minutes_of_party_audio_trip_no_tone() {
    // Several parties (different payloads), G.711, at low and high gain.
    let mut pcm = Vec::new();
    for (party, gain) in [(0u8, 0.0), (1, 10.0), (7, -10.0), (200, 6.0)] {
        let mut p = party_audio(party, 150);
        recproof_media::synth::apply_gain_db(&mut p, gain);
        pcm.extend(Law::Ulaw.roundtrip(&p));
    }
    assert_eq!(pcm.len(), 8000 * 600);
    let ev = detect(&PLATFORM_TONES, &pcm);
    assert!(ev.is_empty(), "false detections in party audio: {ev:?}");
}

#[test]
fn ten_minutes_of_speech_trip_no_tone() {
    // Seeds not used while tuning the detector.
    let mut total = Vec::new();
    for seed in 0..20u64 {
        let pcm = Law::Alaw.roundtrip(&speech_like(9_000 + seed, 8000 * 30, -20.0));
        total.extend(detect(&PLATFORM_TONES, &pcm));
    }
    assert!(total.is_empty(), "false detections in speech: {total:?}");
}

#[test]
fn short_and_off_frequency_bursts_are_not_reported() {
    let mut pcm = party_audio(3, 10);
    mix_into(&mut pcm, &tone(1400.0, -20.0, 300), 8_000); // 37 ms: shorter than 60 ms
    mix_into(&mut pcm, &tone(1430.0, -20.0, 4_000), 20_000); // 30 Hz off
    mix_into(&mut pcm, &tone(1400.0, -20.0, 4_000), 50_000); // the real one
    let ev = detect(&[1400.0], &pcm);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!((ev[0].start - 50_000.0).abs() < 80.0);
}
