//! Ground truth for the instrumented signal: identification after G.711, ±10 dB, mixing
//! with tones and speech; foreign audio never decodes; streams switching parties.

use std::sync::Arc;

use recproof_media::g711::Law;
use recproof_media::signal::{
    DecoderConfig, Found, FrameDecoder, FrameEvent, Modem, PartyId, PartySource, SignalConfig,
};
use recproof_media::synth::{apply_gain_db, mix_into, multi_tone, speech_like, tone, white_noise};

fn modem() -> Arc<Modem> {
    Arc::new(Modem::new(&SignalConfig::default()).expect("config"))
}

fn decode(m: &Arc<Modem>, pcm: &[i16], first: u64) -> Vec<FrameEvent> {
    let mut d = FrameDecoder::new(m.clone(), DecoderConfig::default());
    for (i, c) in pcm.chunks(160).enumerate() {
        d.push(first + (i * 160) as u64, c);
    }
    d.finish();
    std::iter::from_fn(|| d.poll_event()).collect()
}

/// Frames identified correctly (party, number and position within a sample).
fn correct(ev: &[FrameEvent], party: u8, offset: f64) -> usize {
    ev.iter()
        .filter(|e| {
            e.party == PartyId(party) && (e.start - (offset + 160.0 * e.frame as f64)).abs() < 1.0
        })
        .count()
}

#[test]
fn every_frame_survives_g711_and_gain() {
    let m = modem();
    let pcm = PartySource::new(m.clone(), PartyId(77)).take(1000);
    for law in [Law::Ulaw, Law::Alaw] {
        for gain in [-10.0, -3.0, 0.0, 6.0, 10.0] {
            let mut p = pcm.clone();
            apply_gain_db(&mut p, gain);
            let ev = decode(&m, &law.roundtrip(&p), 0);
            assert_eq!(correct(&ev, 77, 0.0), 1000, "{law:?} {gain:+} dB");
            assert_eq!(ev.len(), 1000);
            for e in &ev {
                assert!(
                    (e.gain_db - gain).abs() < 0.5,
                    "{law:?}: gain {}",
                    e.gain_db
                );
                assert!(e.start.fract().abs() < 0.02 || e.start.fract() > 0.98);
            }
        }
    }
    // Inverted polarity is reported, frames still identified.
    let inv: Vec<i16> = pcm.iter().map(|s| s.saturating_neg()).collect();
    let ev = decode(&m, &inv, 0);
    assert_eq!(correct(&ev, 77, 0.0), 1000);
    assert!(ev.iter().all(|e| e.inverted));
}

fn delayed(x: Vec<i16>, by: usize) -> Vec<i16> {
    let mut v = vec![0i16; by];
    v.extend(x);
    v
}

#[test]
fn frames_survive_mixing_with_tones_and_speech() {
    let m = modem();
    let pcm = PartySource::new(m.clone(), PartyId(3)).take(1500);
    let n = pcm.len();
    let cases: Vec<(&str, Vec<i16>, usize)> = vec![
        ("1400 Hz tone, equal level", tone(1400.0, -24.0, n), 1500),
        (
            "440+480 Hz, equal level",
            multi_tone(&[440.0, 480.0], -27.0, n),
            1500,
        ),
        // A louder tone that starts after the stream is acquired (as a reminder does).
        (
            "2100 Hz tone, +6 dB",
            delayed(tone(2100.0, -18.0, n - 16_000), 16_000),
            1480,
        ),
        // Speech at equal level: most frames still identified, none misidentified.
        ("speech, equal level", speech_like(41, n, -24.0), 1350),
        ("speech, +6 dB", speech_like(42, n, -18.0), 1100),
    ];
    for (name, other, want) in cases {
        let mut p = pcm.clone();
        mix_into(&mut p, &other, 0);
        let ev = decode(&m, &Law::Ulaw.roundtrip(&p), 0);
        let ok = correct(&ev, 3, 0.0);
        assert_eq!(ok, ev.len(), "{name}: misidentified frames");
        assert!(
            ok >= want,
            "{name}: {ok} of 1500 identified, want >= {want}"
        );
        // Timing stays sample-accurate.
        let worst = ev
            .iter()
            .map(|e| (e.start - 160.0 * e.frame as f64).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2.0, "{name}: timing error {worst:.2} samples");
    }
}

#[test]
fn foreign_audio_never_decodes() {
    let m = modem();
    let mut n = 0;
    // 10 minutes of speech (two voices summed too), 5 minutes of noise, tones.
    for seed in 0..20u64 {
        let mut s = speech_like(5_000 + seed, 8000 * 30, -18.0);
        if seed % 2 == 0 {
            mix_into(&mut s, &speech_like(6_000 + seed, 8000 * 30, -20.0), 0);
        }
        n += decode(&m, &Law::Ulaw.roundtrip(&s), 0).len();
    }
    for seed in 0..10u64 {
        n += decode(&m, &white_noise(seed, 8000 * 30, -15.0), 0).len();
    }
    n += decode(
        &m,
        &multi_tone(&[700.0, 1850.0, 2900.0], -20.0, 8000 * 30),
        0,
    )
    .len();
    assert_eq!(n, 0, "foreign audio produced frames");
}

#[test]
fn decoder_follows_a_stream_that_switches_party_and_counter() {
    let m = modem();
    let mut a = PartySource::new(m.clone(), PartyId(1)).take(50);
    let mut b_src = PartySource::new(m.clone(), PartyId(2));
    for _ in 0..1000 {
        b_src.next_frame();
    }
    // 93 samples of silence, then the other party, as after a transfer.
    a.extend(vec![0i16; 93]);
    a.extend(b_src.take(50));
    let ev = decode(&m, &a, 0);
    assert_eq!(ev.len(), 100);
    assert!(ev[..50].iter().all(|e| e.party == PartyId(1)));
    let b: Vec<_> = ev[50..].iter().collect();
    assert!(b.iter().all(|e| e.party == PartyId(2)));
    assert_eq!(b[0].frame, 1000);
    assert_eq!(b[0].found, Found::Blind);
    assert!((b[0].start - (8000.0 + 93.0)).abs() < 0.05);
}

#[test]
fn counter_wrap_is_extended() {
    let m = modem();
    let mut src = PartySource::new(m.clone(), PartyId(5));
    // Jump the source close to the 24-bit wrap.
    let start = (1u64 << 24) - 20;
    let mut pcm = Vec::new();
    for n in start..start + 40 {
        pcm.extend_from_slice(&m.frame(PartyId(5), n));
    }
    let _ = src.next_frame();
    let ev = decode(&m, &pcm, 0);
    assert_eq!(ev.len(), 40);
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e.frame, start + i as u64);
    }
}

#[test]
fn late_segment_is_decoded_on_its_own() {
    // A packet pushed after later audio (reordering without a jitter buffer).
    let m = modem();
    let pcm = PartySource::new(m.clone(), PartyId(8)).take(20);
    let mut d = FrameDecoder::new(m.clone(), DecoderConfig::default());
    d.push(0, &pcm[..1600]);
    d.push(1760, &pcm[1760..]);
    d.push(1600, &pcm[1600..1760]);
    let ev: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    let mut frames: Vec<u64> = ev.iter().map(|e| e.frame).collect();
    frames.sort_unstable();
    assert_eq!(frames, (0..20).collect::<Vec<_>>());
}
