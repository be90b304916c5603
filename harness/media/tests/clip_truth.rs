//! Ground truth for the known-audio detector: a spoken clip mixed into a stream at a known
//! offset is found within 10 ms; the same stream without it gives no match.

use std::sync::Arc;

use recproof_media::clip::{ClipConfig, ClipDetector, ClipMatch};
use recproof_media::g711::Law;
use recproof_media::signal::{Modem, PartyId, PartySource, SignalConfig};
use recproof_media::synth::{mix_into, speech_like};

fn find(clip: &[i16], stream: &[i16]) -> Vec<ClipMatch> {
    let mut d = ClipDetector::new(clip, ClipConfig::default()).expect("usable clip");
    for (i, c) in stream.chunks(1234).enumerate() {
        d.push((i * 1234) as u64, c);
    }
    d.finish();
    std::iter::from_fn(|| d.poll_event()).collect()
}

#[test]
fn announcement_in_conversation_is_found_at_its_onset() {
    // A 4 s "announcement" voice, mixed at equal level into 40 s of another voice.
    let clip = speech_like(11, 4 * 8000, -20.0);
    for (seed, offset) in [(1u64, 98_765usize), (2, 8_000), (3, 250_001)] {
        let bed = speech_like(100 + seed, 40 * 8000, -20.0);
        let mut with = bed.clone();
        mix_into(&mut with, &clip, offset);
        let with = Law::Alaw.roundtrip(&with);
        let without = Law::Alaw.roundtrip(&bed);
        let m = find(&clip, &with);
        assert_eq!(m.len(), 1, "seed {seed}: {m:?}");
        let err_ms = (m[0].start - offset as f64) / 8.0;
        assert!(err_ms.abs() <= 10.0, "seed {seed}: onset error {err_ms} ms");
        assert!(m[0].score > 0.4, "seed {seed}: score {}", m[0].score);
        assert!(
            find(&clip, &without).is_empty(),
            "seed {seed}: match without the clip"
        );
    }
}

#[test]
fn announcement_over_party_audio_twice() {
    let m = Arc::new(Modem::new(&SignalConfig::default()).expect("config"));
    let bed = PartySource::new(m, PartyId(1)).take(1500);
    let clip = speech_like(12, 3 * 8000, -24.0);
    let mut with = bed.clone();
    mix_into(&mut with, &clip, 40_321);
    mix_into(&mut with, &clip, 170_000);
    let with = Law::Ulaw.roundtrip(&with);
    let got = find(&clip, &with);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!((got[0].start - 40_321.0).abs() <= 80.0);
    assert!((got[1].start - 170_000.0).abs() <= 80.0);
    assert!(find(&clip, &Law::Ulaw.roundtrip(&bed)).is_empty());
}

#[test]
fn a_different_announcement_does_not_match() {
    let clip = speech_like(13, 3 * 8000, -20.0);
    let other = speech_like(14, 3 * 8000, -20.0);
    let mut stream = vec![0i16; 10 * 8000];
    mix_into(&mut stream, &other, 20_000);
    assert!(find(&clip, &stream).is_empty());
}
