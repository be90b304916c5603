//! Library-level test of what `recproof analyze` reports, on files built with known
//! content: a stereo 44.1 kHz WAV and a capture with SIP and two RTP legs of one party.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use recproof_media::analysis::{AnalysisConfig, AnalysisError, analyze_bytes, analyze_file};
use recproof_media::g711::Law;
use recproof_media::pcap::PcapWriter;
use recproof_media::resample::resample;
use recproof_media::rtp::{RtpSender, Ssrc};
use recproof_media::signal::{Modem, PartyId, PartySource, SignalConfig};
use recproof_media::synth::{mix_into, speech_like, tone};

fn stereo_wav(left: &[i16], right: &[i16], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cur = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cur, spec).expect("wav");
    for (l, r) in left.iter().zip(right) {
        w.write_sample(*l).expect("l");
        w.write_sample(*r).expect("r");
    }
    w.finalize().expect("finalize");
    cur.into_inner()
}

#[test]
fn stereo_44k_wav_report() {
    let m = Arc::new(Modem::new(&SignalConfig::default()).expect("config"));
    let secs = 20;
    // Channel 1: a voice, an announcement at 2.5 s, 1400 Hz reminders at 6.0 s and 16.0 s,
    // 3 s of silence from 10 s.
    let announcement = speech_like(21, 2 * 8000, -20.0);
    let mut left = speech_like(22, secs * 8000, -22.0);
    for s in &mut left[80_000..104_000] {
        *s = 0;
    }
    mix_into(&mut left, &announcement, 20_000);
    mix_into(&mut left, &tone(1400.0, -20.0, 4000), 48_000);
    mix_into(&mut left, &tone(1400.0, -20.0, 4000), 128_000);
    // Channel 2: party 6's instrumented audio, missing its first 0.5 s (25 frames).
    let party = PartySource::new(m, PartyId(6)).take(secs * 50 + 25);
    let right = party[25 * 160..].to_vec();
    let rate = 44_100;
    let wav = stereo_wav(
        &resample(&left, 8000, rate),
        &resample(&right, 8000, rate),
        rate,
    );
    let cfg = AnalysisConfig {
        tones_hz: vec![1400.0],
        reference: Some(announcement),
        ..AnalysisConfig::default()
    };
    let report = analyze_bytes("call.wav", &wav, &cfg).expect("analyse");
    let json = serde_json::to_value(&report).expect("json");
    let streams = json["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2);
    let l = &streams[0];
    assert_eq!(l["name"], "call.wav#ch1");
    assert!((l["duration_s"].as_f64().expect("duration") - secs as f64).abs() < 0.01);
    let tones = l["tones"].as_array().expect("tones");
    assert_eq!(tones.len(), 2, "{tones:?}");
    for (t, want) in tones.iter().zip([6.0, 16.0]) {
        assert_eq!(t["freq_hz"], 1400.0);
        assert!(
            (t["start_s"].as_f64().expect("s") - want).abs() < 0.010,
            "{t}"
        );
        assert!(
            (t["end_s"].as_f64().expect("e") - want - 0.5).abs() < 0.010,
            "{t}"
        );
    }
    let refs = l["reference_matches"].as_array().expect("matches");
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!((refs[0]["start_s"].as_f64().expect("s") - 2.5).abs() < 0.010);
    let sil = l["silences"].as_array().expect("silences");
    assert!(
        sil.iter().any(
            |s| (s["start_s"].as_f64().unwrap_or(0.0) - 10.0).abs() < 0.05
                && (s["end_s"].as_f64().unwrap_or(0.0) - 13.0).abs() < 0.05
        ),
        "{sil:?}"
    );
    assert!(l["instrumented"].as_array().expect("inst").is_empty());
    let r = &streams[1];
    let inst = r["instrumented"].as_array().expect("inst");
    assert_eq!(inst.len(), 1);
    assert_eq!(inst[0]["party"], 6);
    assert_eq!(inst[0]["first_frame"], 25);
    assert_eq!(inst[0]["lost"], 0);
    assert!((inst[0]["front_clip_ms"].as_f64().expect("clip") - 500.0).abs() < 0.5);
    assert!(r["tones"].as_array().expect("tones").is_empty());
    assert!(r["reference_matches"].as_array().expect("m").is_empty());
}

#[test]
fn capture_report_with_rtp_stats_and_cross_stream_latency() {
    let m = Arc::new(Modem::new(&SignalConfig::default()).expect("config"));
    let audio = PartySource::new(m, PartyId(2)).take(250);
    let caller: SocketAddr = "192.0.2.10:30000".parse().expect("a");
    let sbc: SocketAddr = "192.0.2.1:30002".parse().expect("a");
    let src: SocketAddr = "192.0.2.1:31000".parse().expect("a");
    let srs: SocketAddr = "192.0.2.20:32000".parse().expect("a");
    let mut w = PcapWriter::new(Vec::new()).expect("w");
    let t0 = Duration::from_secs(1_800_000_000);
    w.write_udp(
        t0,
        "192.0.2.10:5060".parse().expect("a"),
        "192.0.2.1:5060".parse().expect("a"),
        b"INVITE sip:x SIP/2.0\r\n\r\n",
    )
    .expect("sip");
    let mut leg_a = RtpSender::new(Ssrc(0xAAAA), 0, 100, 0);
    let mut leg_b = RtpSender::new(Ssrc(0xBBBB), 8, 60_000, 5);
    let mut dropped = 0;
    for (k, frame) in audio.chunks(160).enumerate() {
        let sent = t0 + Duration::from_millis(100 + 20 * k as u64);
        let a = leg_a.packetize(&Law::Ulaw.encode(frame), 160).expect("a");
        w.write_udp(sent, caller, sbc, &a).expect("w");
        // The forked leg to the recorder: 37.3 ms later, A-law, every 50th packet lost.
        let b = leg_b.packetize(&Law::Alaw.encode(frame), 160).expect("b");
        if k % 50 == 7 {
            dropped += 1;
            continue;
        }
        w.write_udp(sent + Duration::from_micros(37_300), src, srs, &b)
            .expect("w");
    }
    let bytes = w.into_inner();
    let cfg = AnalysisConfig::default();
    let report = analyze_bytes("fork.pcap", &bytes, &cfg).expect("analyse");
    assert_eq!(report.streams.len(), 2, "{report:?}");
    let b = &report.streams[1];
    let rtp = b.rtp.as_ref().expect("rtp stats");
    assert_eq!(rtp.payload_type, 8);
    assert_eq!(rtp.missing, dropped);
    assert!((rtp.first_packet_s - 0.1373).abs() < 1e-6);
    assert_eq!(b.instrumented[0].lost, dropped);
    assert!((b.duration_s - 5.0).abs() < 0.001);
    let x = report
        .cross_stream_latency
        .iter()
        .find(|x| x.party == 2)
        .expect("cross-stream latency");
    assert!(
        x.from.contains("192.0.2.10:30000") && x.to.contains("192.0.2.20:32000"),
        "{x:?}"
    );
    assert_eq!(x.frames, 250 - dropped);
    assert!(
        (x.latency.min_ms - 37.3).abs() < 0.5 && (x.latency.max_ms - 37.3).abs() < 0.5,
        "{x:?}"
    );
    // One JSON document with the documented keys.
    let json = serde_json::to_value(&report).expect("json");
    for key in [
        "name",
        "duration_s",
        "tones",
        "reference_matches",
        "silences",
    ] {
        assert!(json["streams"][0].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn unreadable_and_unknown_files_are_errors() {
    let cfg = AnalysisConfig::default();
    let missing = std::path::Path::new("/nonexistent/recproof/file.wav");
    assert!(matches!(
        analyze_file(missing, &cfg),
        Err(AnalysisError::Read { .. })
    ));
    assert!(matches!(
        analyze_bytes("x.bin", b"hello world", &cfg),
        Err(AnalysisError::UnknownFormat(_))
    ));
    assert!(matches!(
        analyze_bytes("bad.wav", b"RIFF\x04\0\0\0WAVE", &cfg),
        Err(AnalysisError::Wav { .. })
    ));
}
