//! `recproof analyze` end to end: a WAV with tones and a clip at known times, JSON shape,
//! and exit 2 for an unreadable file.

mod common;

use common::recproof;

use media::synth::{mix_into, speech_like, tone};
use media::wav::write_wav_file;

const RATE: usize = 8_000;

#[test]
fn finds_tones_and_clip_at_their_times_in_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 12 s of quiet speech-like audio; 1400 Hz bursts of 0.5 s at 2 s and 7 s; a 1.5 s
    // "announcement" clip at 4.25 s.
    let mut stream = speech_like(7, 12 * RATE, -30.0);
    let burst = tone(1400.0, -20.0, RATE / 2);
    mix_into(&mut stream, &burst, 2 * RATE);
    mix_into(&mut stream, &burst, 7 * RATE);
    let clip = speech_like(99, 3 * RATE / 2, -20.0);
    mix_into(&mut stream, &clip, 4 * RATE + RATE / 4);
    let stream_path = dir.path().join("recorded.wav");
    let clip_path = dir.path().join("announcement.wav");
    write_wav_file(&stream_path, 8_000, &stream).expect("write stream");
    write_wav_file(&clip_path, 8_000, &clip).expect("write clip");

    let (code, out, err) = recproof(&[
        "analyze",
        stream_path.to_str().expect("utf8"),
        "--tone",
        "1400",
        "--reference",
        clip_path.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let streams = doc["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{out}");
    let s = &streams[0];
    assert!((s["duration_s"].as_f64().expect("duration") - 12.0).abs() < 0.01);
    let tones = s["tones"].as_array().expect("tones");
    assert_eq!(tones.len(), 2, "{out}");
    for (t, start) in tones.iter().zip([2.0, 7.0]) {
        assert_eq!(t["freq_hz"].as_f64(), Some(1400.0));
        assert!(
            (t["start_s"].as_f64().expect("start") - start).abs() <= 0.010,
            "{t}"
        );
        assert!(
            (t["end_s"].as_f64().expect("end") - start - 0.5).abs() <= 0.010,
            "{t}"
        );
    }
    let matches = s["reference_matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{out}");
    assert!((matches[0]["start_s"].as_f64().expect("onset") - 4.25).abs() <= 0.010);
    assert!(s["silences"].is_array());
}

#[test]
fn no_clip_match_without_the_clip_and_text_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stream = speech_like(7, 6 * RATE, -20.0);
    let clip = speech_like(99, 3 * RATE / 2, -20.0);
    let stream_path = dir.path().join("plain.wav");
    let clip_path = dir.path().join("announcement.wav");
    write_wav_file(&stream_path, 8_000, &stream).expect("write stream");
    write_wav_file(&clip_path, 8_000, &clip).expect("write clip");
    let (code, out, err) = recproof(&[
        "analyze",
        stream_path.to_str().expect("utf8"),
        "--reference",
        clip_path.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        doc["streams"][0]["reference_matches"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "{out}"
    );
    let (code, text, _) = recproof(&["analyze", stream_path.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    assert!(text.contains("plain.wav"), "{text}");
}

#[test]
fn unreadable_file_exits_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"RIFF\x00\x00not a wav").expect("write");
    let (code, _, err) = recproof(&["analyze", junk.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = recproof(&["analyze", "/nonexistent/file.wav"]);
    assert_eq!(code, 2);
}
