//! Media engine throughput (criterion). Timing belongs here, never in unit tests.
//!
//! The headline figure is `frames/decoder+tone`: 20 ms frames of instrumented party audio
//! (G.711, with reminder tones mixed in) analysed per second on one core by the frame
//! decoder and a five-frequency tone detector together. Target: 500,000 frames/s.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-media cargo bench -p recproof-benches --bench media`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use media::clip::{ClipConfig, ClipDetector};
use media::g711::Law;
use media::rtp::{MAX_SOURCES, RtpReceiver, RtpSender, Ssrc, parse};
use media::signal::{DecoderConfig, FrameDecoder, Modem, PartyId, PartySource, SignalConfig};
use media::synth::{mix_into, speech_like, tone};
use media::tone::{ToneConfig, ToneDetector};

const FRAMES: usize = 2_000;
const TONES: [f64; 5] = [440.0, 480.0, 1000.0, 1400.0, 2100.0];

fn party_audio(modem: &Arc<Modem>) -> Vec<i16> {
    let mut pcm = PartySource::new(modem.clone(), PartyId(1)).take(FRAMES);
    // A 500 ms reminder every 10 s, as in a real call.
    for at in (8_000..pcm.len()).step_by(80_000) {
        mix_into(&mut pcm, &tone(1400.0, -22.0, 4_000), at);
    }
    Law::Ulaw.roundtrip(&pcm)
}

fn decode_and_detect(c: &mut Criterion) {
    let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("default config"));
    let pcm = party_audio(&modem);
    let mut g = c.benchmark_group("frames");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.bench_function("decoder+tone", |b| {
        b.iter_batched_ref(
            || {
                (
                    FrameDecoder::new(modem.clone(), DecoderConfig::default()),
                    ToneDetector::new(ToneConfig::for_freqs(&TONES)),
                )
            },
            |(dec, tones)| {
                for (i, frame) in pcm.chunks(160).enumerate() {
                    let at = (i * 160) as u64;
                    dec.push(at, frame);
                    tones.push(at, frame);
                    while let Some(ev) = dec.poll_event() {
                        black_box(ev);
                    }
                }
                tones.finish();
                while let Some(ev) = tones.poll_event() {
                    black_box(ev);
                }
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("decoder", |b| {
        b.iter_batched_ref(
            || FrameDecoder::new(modem.clone(), DecoderConfig::default()),
            |dec| {
                for (i, frame) in pcm.chunks(160).enumerate() {
                    dec.push((i * 160) as u64, frame);
                    while let Some(ev) = dec.poll_event() {
                        black_box(ev);
                    }
                }
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("tone", |b| {
        b.iter_batched_ref(
            || ToneDetector::new(ToneConfig::for_freqs(&TONES)),
            |tones| {
                for (i, frame) in pcm.chunks(160).enumerate() {
                    tones.push((i * 160) as u64, frame);
                }
                tones.finish();
                while let Some(ev) = tones.poll_event() {
                    black_box(ev);
                }
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            let mut src = PartySource::new(modem.clone(), PartyId(3));
            for _ in 0..FRAMES {
                black_box(src.next_frame());
            }
        });
    });
    g.finish();
}

fn rtp_and_clip(c: &mut Criterion) {
    let mut tx = RtpSender::new(Ssrc(7), 0, 1, 2);
    let pkt = tx.packetize(&[0xFF; 160], 160).expect("packet");
    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| b.iter(|| parse(black_box(&pkt))));
    g.finish();

    // Known-audio search: a 3 s clip in 60 s of audio.
    let clip = speech_like(1, 3 * 8000, -20.0);
    let mut stream = speech_like(2, 60 * 8000, -20.0);
    mix_into(&mut stream, &clip, 200_000);
    let mut g = c.benchmark_group("clip");
    g.throughput(Throughput::Elements(60));
    g.sample_size(10);
    g.bench_function("seconds_of_audio", |b| {
        b.iter_batched_ref(
            || ClipDetector::new(&clip, ClipConfig::default()).expect("clip"),
            |d| {
                for (i, ch) in stream.chunks(8000).enumerate() {
                    d.push((i * 8000) as u64, ch);
                }
                d.finish();
                black_box(d.poll_event())
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

/// A peer spraying SSRCs at one RTP port: 5,000 packets, each from a new SSRC. `uncapped`
/// feeds them through `handle_packet` (no cap: what every receiver did before the cap,
/// one more source and its 1,024-slot window per SSRC, found by linear search);
/// `capped` through `handle_datagram` ([`MAX_SOURCES`] tracked, the rest refused).
fn ssrc_spray(c: &mut Criterion) {
    const SPRAY: u32 = 5_000;
    let packets: Vec<_> = (0..SPRAY)
        .map(|ssrc| {
            let mut tx = RtpSender::new(Ssrc(ssrc), 0, 1, 2);
            tx.packetize(&[0xFF; 160], 160).expect("packet")
        })
        .collect();
    let parsed: Vec<_> = packets.iter().map(|p| parse(p).expect("rtp")).collect();
    let mut g = c.benchmark_group("ssrc_spray");
    g.throughput(Throughput::Elements(u64::from(SPRAY)));
    g.sample_size(10);
    g.bench_function("uncapped", |b| {
        b.iter(|| {
            let mut rx = RtpReceiver::new(8000);
            for (i, p) in parsed.iter().enumerate() {
                rx.handle_packet(std::time::Duration::from_millis(i as u64), p);
                while rx.poll_event().is_some() {}
            }
            black_box(rx.stats().len())
        });
    });
    g.bench_function("capped", |b| {
        b.iter(|| {
            let mut rx = RtpReceiver::new(8000);
            for (i, p) in packets.iter().enumerate() {
                let _ = rx.handle_datagram(std::time::Duration::from_millis(i as u64), p);
                while rx.poll_event().is_some() {}
            }
            black_box(rx.stats().len())
        });
    });
    g.finish();
    // What each keeps: sources tracked, each with a 1,024-slot duplicate window.
    let mut rx = RtpReceiver::new(8000);
    for p in &packets {
        let _ = rx.handle_datagram(std::time::Duration::ZERO, p);
    }
    eprintln!(
        "ssrc_spray: capped keeps {} sources (MAX_SOURCES {MAX_SOURCES}), uncapped {SPRAY}",
        rx.stats().len()
    );
}

criterion_group!(benches, decode_and_detect, rtp_and_clip, ssrc_spray);
criterion_main!(benches);
