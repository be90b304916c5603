//! Ground truth for per-frame latency, loss, jitter and reordering.
//!
//! A party sends instrumented G.711 audio over RTP on a drift-free 20 ms schedule; a seeded
//! network adds a one-way delay (0-500 ms, including non-multiples of 20 ms), uniform
//! jitter (large enough to reorder), loss (0-20 %) and duplicates. The receiver side is
//! exactly what recproof runs: `RtpReceiver` statistics, `Timeline`, `FrameDecoder`,
//! `FrameTracker`. Every number it measures is compared with what was injected.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use recproof_media::g711::Law;
use recproof_media::rtp::{CatchUp, Pacer, RtpEvent, RtpReceiver, RtpSender, Ssrc};
use recproof_media::signal::{
    DecoderConfig, FrameDecoder, FrameTracker, Modem, PartyId, PartySource, SendSchedule,
    SignalConfig,
};
use recproof_media::synth::fractional_delay;
use recproof_media::timeline::{TimedAudio, Timeline};

const T0: f64 = 1.0;
const FRAMES: u64 = 1500;

struct Scenario {
    delay_ms: f64,
    jitter_ms: f64,
    loss: f64,
    dup: f64,
    seed: u64,
    /// A media-processing SUT between party and receiver that delays the audio by this many
    /// (fractional) samples and re-packetises on its own 20 ms grid.
    reframe_samples: Option<f64>,
}

struct Outcome {
    latency_errors_ms: Vec<f64>,
    decoded: u64,
    delivered_packets: u64,
    stats: recproof_media::rtp::ReceiveStats,
    injected_missing: u64,
    injected_dups: u64,
    injected_reordered: u64,
    mean_jitter_ms: f64,
    tracker_lost: u64,
    tracker_frames: u64,
}

fn modem() -> Arc<Modem> {
    Arc::new(Modem::new(&SignalConfig::default()).expect("default signal config"))
}

fn run(s: &Scenario) -> Outcome {
    let m = modem();
    let mut rng = SmallRng::seed_from_u64(s.seed);
    let party = PartyId(4);
    let mut src = PartySource::new(m.clone(), party);
    let audio = src.take(FRAMES as usize);
    // What leaves the sender (or the re-framing SUT): 20 ms payloads and their send times.
    let (payloads, send_offset): (Vec<Vec<i16>>, f64) = match s.reframe_samples {
        None => (audio.chunks(160).map(<[i16]>::to_vec).collect(), 0.0),
        Some(d) => {
            // The SUT outputs frame j once its 160 samples exist: 20 ms after they began.
            let delayed = fractional_delay(&audio, d);
            (delayed.chunks(160).map(<[i16]>::to_vec).collect(), 0.020)
        }
    };
    let mut pacer = Pacer::new(
        Duration::from_secs_f64(T0 + send_offset),
        Duration::from_millis(20),
        CatchUp::Burst,
    );
    let mut tx = RtpSender::new(Ssrc(0x1234_5678), 0, 65_000, u32::MAX - 50_000);
    // (arrival, seq index, bytes)
    let mut wire: Vec<(Duration, u64, bytes::Bytes)> = Vec::new();
    let mut truth_delay = vec![None; payloads.len()];
    let mut injected_dups = 0;
    for (k, pcm) in payloads.iter().enumerate() {
        let due = pacer.poll_timeout();
        let frames = pacer.handle_timeout(due);
        assert_eq!(
            frames,
            k as u64..k as u64 + 1,
            "pacer emits one frame per deadline"
        );
        let bytes = tx
            .packetize(&Law::Ulaw.encode(pcm), 160)
            .expect("packetize");
        if rng.random_bool(s.loss) {
            continue;
        }
        let extra = s.delay_ms + rng.random_range(0.0..=1.0) * s.jitter_ms;
        truth_delay[k] = Some(extra);
        let arrival = due + Duration::from_secs_f64(extra / 1000.0);
        wire.push((arrival, k as u64, bytes.clone()));
        if rng.random_bool(s.dup) {
            injected_dups += 1;
            wire.push((arrival + Duration::from_millis(3), k as u64, bytes));
        }
    }
    wire.sort_by_key(|(a, k, _)| (*a, *k));
    // Truth for the RTP statistics.
    let first = wire.iter().map(|w| w.1).min().expect("something arrived");
    let last = wire.iter().map(|w| w.1).max().expect("something arrived");
    let delivered: std::collections::BTreeSet<u64> = wire.iter().map(|w| w.1).collect();
    let injected_missing = (last - first + 1) - delivered.len() as u64;
    let mut injected_reordered = 0;
    let mut max_seen: Option<u64> = None;
    let mut seen = std::collections::BTreeSet::new();
    for w in &wire {
        if !seen.insert(w.1) {
            continue;
        }
        match max_seen {
            Some(mx) if w.1 < mx => injected_reordered += 1,
            _ => max_seen = Some(w.1),
        }
    }
    // Receiver.
    let mut rx = RtpReceiver::new(8000);
    let mut packets = Vec::new();
    let mut jitter_sum = 0.0;
    let mut jitter_n = 0.0;
    for (i, (arrival, _, bytes)) in wire.iter().enumerate() {
        rx.handle_datagram(*arrival, bytes).expect("valid RTP");
        while let Some(ev) = rx.poll_event() {
            if let RtpEvent::Packet(p) = ev {
                packets.push(TimedAudio {
                    ts: p.ts,
                    arrival: p.arrival,
                    pcm: Law::Ulaw.decode(&p.payload),
                });
            }
        }
        if i > wire.len() / 4 {
            jitter_sum += rx.stats()[0].jitter_ms;
            jitter_n += 1.0;
        }
    }
    let stats = rx.stats().remove(0);
    let base_ts = packets.iter().map(|p| p.ts).min().expect("packets");
    // The timeline starts at the earliest timestamp received; the sender's first timestamp
    // is known, so positions map back to frame slots.
    let first_ts = u64::from(u32::MAX - 50_000);
    for p in &mut packets {
        p.ts -= base_ts;
    }
    let timeline_offset = (base_ts - first_ts) as f64;
    let timeline = Timeline::build(packets);
    let mut dec = FrameDecoder::new(m, DecoderConfig::default());
    for (i, c) in timeline.pcm.chunks(160).enumerate() {
        dec.push((i * 160) as u64, c);
    }
    dec.finish();
    let mut tracker = FrameTracker::new(&[SendSchedule {
        party,
        first_frame: 0,
        first_start: T0 * 8000.0,
    }]);
    let mut errors = Vec::new();
    let mut decoded = 0;
    while let Some(ev) = dec.poll_event() {
        decoded += 1;
        let Some(arrival) = timeline.arrival_at(ev.start) else {
            // The frame's first samples were in a lost packet (only a re-framing SUT can
            // cause that); its arrival is undefined.
            assert!(
                s.reframe_samples.is_some(),
                "aligned frame outside every packet"
            );
            continue;
        };
        tracker.record(&ev, Some(arrival * 8000.0));
        // Truth: which packet carried the frame's first sample, and its injected delay.
        let pos_on_sender_grid = ev.start + timeline_offset; // samples since first packet
        let truth_ms = match s.reframe_samples {
            None => truth_delay[ev.frame as usize].expect("frame was delivered"),
            Some(d) => {
                let out_pos = 160.0 * ev.frame as f64 + d;
                // A start within half a sample of a packet boundary belongs to the later
                // packet (the same rule as `Timeline::arrival_at`).
                let j = ((out_pos + 0.5) / 160.0).floor() as usize;
                let within = out_pos - 160.0 * j as f64;
                assert!(
                    (pos_on_sender_grid - out_pos).abs() < 1.0,
                    "frame placed where sent"
                );
                let d_net = truth_delay[j].expect("packet delivered");
                // Sent at T0 + 20 ms + j * 20 ms, frame began at T0 + k * 20 ms.
                20.0 + 20.0 * j as f64 + d_net + within / 8.0 - 20.0 * ev.frame as f64
            }
        };
        let measured_ms = (arrival - (T0 + ev.frame as f64 * 0.020)) * 1000.0;
        errors.push(measured_ms - truth_ms);
    }
    let rep = tracker.report();
    let party_rep = rep.first().expect("party seen");
    Outcome {
        latency_errors_ms: errors,
        decoded,
        delivered_packets: delivered.len() as u64,
        stats,
        injected_missing,
        injected_dups,
        injected_reordered,
        mean_jitter_ms: jitter_sum / jitter_n,
        tracker_lost: party_rep.lost,
        tracker_frames: party_rep.frames,
    }
}

fn check(s: &Scenario) {
    let o = run(s);
    let worst = o
        .latency_errors_ms
        .iter()
        .map(|e| e.abs())
        .fold(0.0, f64::max);
    let ctx = format!(
        "seed {} delay {} jitter {} loss {} reframe {:?}",
        s.seed, s.delay_ms, s.jitter_ms, s.loss, s.reframe_samples
    );
    assert!(worst < 0.5, "{ctx}: worst latency error {worst:.3} ms");
    assert_eq!(o.stats.missing, o.injected_missing, "{ctx}: missing");
    assert_eq!(o.stats.duplicates, o.injected_dups, "{ctx}: duplicates");
    assert_eq!(o.stats.reordered, o.injected_reordered, "{ctx}: reordered");
    if s.reframe_samples.is_none() {
        // Every delivered packet carries one whole frame, and every one is identified.
        assert_eq!(o.decoded, o.delivered_packets, "{ctx}: frames decoded");
        assert_eq!(o.tracker_frames, o.delivered_packets, "{ctx}");
        assert_eq!(o.tracker_lost, o.injected_missing, "{ctx}: frame loss");
    } else {
        // A lost output packet damages two frames; the rest must all be found.
        let damaged = 2 * o.injected_missing + 2;
        assert!(
            o.decoded + damaged >= FRAMES,
            "{ctx}: decoded {} of {FRAMES}",
            o.decoded
        );
    }
    // Uniform jitter U(0, J): E|J_i - J_{i-1}| = J / 3, which RFC 3550's estimator tracks.
    let want = s.jitter_ms / 3.0;
    assert!(
        (o.mean_jitter_ms - want).abs() <= 0.1 * want + 0.05,
        "{ctx}: jitter {:.3} ms, injected {want:.3}",
        o.mean_jitter_ms
    );
}

#[test]
fn latency_loss_jitter_match_injection() {
    let cases = [
        (0.0, 0.0, 0.0, 0.0),
        (20.0, 0.0, 0.0, 0.0),
        (37.3, 2.0, 0.01, 0.0),
        (123.45, 10.0, 0.05, 0.01),
        (250.0, 30.0, 0.10, 0.02), // jitter beyond 20 ms: reordering
        (499.9, 45.0, 0.20, 0.0),
        (77.77, 15.0, 0.15, 0.03),
    ];
    for (i, &(delay_ms, jitter_ms, loss, dup)) in cases.iter().enumerate() {
        check(&Scenario {
            delay_ms,
            jitter_ms,
            loss,
            dup,
            seed: 100 + i as u64,
            reframe_samples: None,
        });
    }
}

#[test]
fn sample_level_latency_through_a_reframing_sut() {
    // The SUT delays the audio by 37.3 ms (298.4 samples) or other non-frame amounts and
    // re-packetises; frames now start mid-packet.
    let cases = [
        (298.4, 0.0, 0.0, 0.0),
        (298.4, 12.5, 3.0, 0.02),
        (1.0, 250.0, 8.0, 0.05),
        (3999.7, 0.0, 20.0, 0.2),
        (81.25, 33.3, 0.0, 0.0),
    ];
    for (i, &(d, delay_ms, jitter_ms, loss)) in cases.iter().enumerate() {
        check(&Scenario {
            delay_ms,
            jitter_ms,
            loss,
            dup: 0.0,
            seed: 200 + i as u64,
            reframe_samples: Some(d),
        });
    }
}

#[test]
fn front_clipping_is_measured_to_the_sample() {
    let m = modem();
    let mut src = PartySource::new(m.clone(), PartyId(1));
    let audio = src.take(100);
    for clip in [0usize, 37, 160, 1037, 3333] {
        let mut dec = FrameDecoder::new(m.clone(), DecoderConfig::default());
        dec.push(clip as u64, &audio[clip..]);
        dec.finish();
        let mut tracker = FrameTracker::new(&[SendSchedule {
            party: PartyId(1),
            first_frame: 0,
            first_start: 0.0,
        }]);
        while let Some(ev) = dec.poll_event() {
            tracker.record(&ev, Some(ev.start));
        }
        let rep = tracker.report();
        let got = rep[0].front_clip_ms * 8.0;
        assert!(
            (got - clip as f64).abs() <= 1.0,
            "clipped {clip} samples, measured {got}"
        );
        assert!(rep[0].front_clip_from_schedule);
        let lat = rep[0].latency.expect("latency with a schedule");
        assert!(lat.max_ms.abs() < 0.01 && lat.min_ms.abs() < 0.01);
    }
}
