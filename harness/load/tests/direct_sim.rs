//! The direct engine under a simulated network and clock: calls pass when every frame is
//! heard, and each media check fails when the network breaks what it judges.

use media::signal::{Modem, SignalConfig};
use recproof_load::direct::{DirectConfig, DirectEngine};
use recproof_load::engine::{Engine, SocketId, Transmit};
use recproof_load::record::{CallRecord, Failure, LegRules, Verdict};
use recproof_load::{Hold, LoadPlan, Share};
use sip::time::Time;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What the simulated network does to one datagram: where it arrives and after what delay
/// (nowhere: dropped; twice: duplicated or leaked).
type Fate = dyn FnMut(&Transmit, u64) -> Vec<(Duration, SocketAddr)>;

/// Delivers every datagram to its destination after `d`.
fn after(d: Duration) -> impl FnMut(&Transmit, u64) -> Vec<(Duration, SocketAddr)> {
    move |t, _| vec![(d, t.to)]
}

fn config(calls: u64, hold: &str, media: bool) -> DirectConfig {
    DirectConfig {
        plan: LoadPlan {
            rate_cps: 5.0,
            ramp: Duration::ZERO,
            concurrency: None,
            calls: Some(calls),
            duration: None,
            share: Share::WHOLE,
        },
        hold: hold.parse::<Hold>().expect("hold"),
        seed: 7,
        media,
        caller_sip: "127.0.0.1:5060".parse().expect("addr"),
        callee_sip: "127.0.0.1:5062".parse().expect("addr"),
        rtp_ip: "127.0.0.1".parse().expect("ip"),
        rtp_ports: (20_000, 30_000),
        slots: 4,
        rules: LegRules::default(),
    }
}

/// Runs the engine to its end over a simulated network; returns the records by index.
fn run(cfg: DirectConfig, fate: &mut Fate) -> BTreeMap<u64, CallRecord> {
    let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("modem"));
    let mut engine = DirectEngine::new(cfg, modem, Time::ZERO).expect("engine");
    let by_addr: HashMap<SocketAddr, SocketId> =
        engine.sockets().iter().map(|s| (s.addr, s.id)).collect();
    let addr_of: HashMap<SocketId, SocketAddr> =
        engine.sockets().iter().map(|s| (s.id, s.addr)).collect();
    // (arrival, sequence) -> (to socket, from, bytes)
    let mut in_flight: BTreeMap<(Time, u64), (SocketId, SocketAddr, Vec<u8>)> = BTreeMap::new();
    let mut seq = 0u64;
    let mut records = BTreeMap::new();
    let mut now = Time::ZERO;
    for _ in 0..10_000_000 {
        engine.handle_timeout(now);
        while let Some(t) = engine.poll_transmit() {
            seq += 1;
            for (delay, dest) in fate(&t, seq) {
                seq += 1;
                let to = by_addr.get(&dest).copied().expect("a bound address");
                let from = addr_of[&t.socket];
                in_flight.insert((now + delay, seq), (to, from, t.payload.to_vec()));
            }
        }
        while let Some(r) = engine.poll_record() {
            records.insert(r.record.index, r.record);
        }
        if engine.is_finished() {
            return records;
        }
        let next_timer = engine.poll_timeout();
        let next_arrival = in_flight.keys().next().map(|k| k.0);
        now = match (next_timer, next_arrival) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a
                .or(b)
                .expect("something pending while the run is not finished"),
        }
        .max(now);
        while let Some(entry) = in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (to, from, bytes) = entry.remove();
            engine.handle_datagram(now, to, from, &bytes);
        }
    }
    panic!("the run did not finish");
}

fn is_rtp(t: &Transmit) -> bool {
    t.socket.0 >= 2
}

#[test]
fn clean_calls_pass_every_check_with_the_network_delay_as_latency() {
    let recs = run(config(6, "3", true), &mut after(Duration::from_millis(2)));
    assert_eq!(recs.len(), 6);
    for r in recs.values() {
        assert!(r.passed(), "{r:#?}");
        assert_eq!(r.legs.len(), 2);
        for leg in &r.legs {
            assert!(leg.sent >= 149, "{leg:?}");
            assert!(leg.counts.frames + 2 >= leg.sent, "{leg:?}");
            let (lo, hi) = (
                leg.counts.latency_min_us.expect("latency"),
                leg.counts.latency_max_us.expect("latency"),
            );
            assert!((1_900..=2_100).contains(&lo) && hi <= 2_100, "{leg:?}");
        }
        let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), 8, "{ids:?}");
        assert!(r.setup_ms.is_some_and(|s| (3.9..4.1).contains(&s)), "{r:?}");
    }
}

#[test]
fn signalling_only_calls_pass_without_media_checks() {
    let recs = run(
        config(20, "0", false),
        &mut after(Duration::from_micros(300)),
    );
    assert_eq!(recs.len(), 20);
    assert!(
        recs.values()
            .all(|r| r.passed() && r.legs.is_empty() && r.checks.len() == 2)
    );
}

#[test]
fn a_lost_first_packet_is_front_clipping_and_loss_fails_delivery() {
    // Drop the caller's first RTP packet of call 0 and one in ten of call 1's callee audio.
    let mut first_seen: HashMap<SocketId, u32> = HashMap::new();
    let mut fate = move |t: &Transmit, _seq: u64| {
        let deliver = vec![(Duration::from_millis(1), t.to)];
        if !is_rtp(t) {
            return deliver;
        }
        let n = first_seen.entry(t.socket).or_default();
        *n += 1;
        let caller_rtp_of_call0 = t.socket == SocketId(2);
        let callee_rtp_of_call1 = t.socket == SocketId(2 + 4 + 1);
        if (caller_rtp_of_call0 && *n == 1) || (callee_rtp_of_call1 && (*n).is_multiple_of(10)) {
            vec![]
        } else {
            deliver
        }
    };
    let recs = run(config(2, "3", true), &mut fate);
    let failed = |r: &CallRecord| -> Vec<String> {
        r.checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| c.id.clone())
            .collect()
    };
    assert_eq!(failed(&recs[&0]), ["media.front[caller->callee]"]);
    assert_eq!(failed(&recs[&1]), ["media.delivered[callee->caller]"]);
    assert!(matches!(recs[&1].failure, Some(Failure::Verdict { .. })));
}

#[test]
fn a_callee_that_never_answers_fails_every_call_as_a_timeout_and_the_run_ends() {
    let mut fate = |t: &Transmit, _| {
        if t.socket == SocketId(1) {
            vec![]
        } else {
            vec![(Duration::from_millis(1), t.to)]
        }
    };
    // The callee's responses are all lost: Timer B ends each call.
    let recs = run(config(3, "2", true), &mut fate);
    assert_eq!(recs.len(), 3);
    for r in recs.values() {
        assert!(matches!(r.failure, Some(Failure::Timeout { .. })), "{r:?}");
        assert_eq!(r.checks.len(), 1, "only call.answered can be judged: {r:?}");
        assert_eq!(r.checks[0].verdict, Verdict::Fail);
    }
}

#[test]
fn audio_crossing_between_calls_is_foreign() {
    // Call 0's caller audio also reaches call 1's callee port (a mis-bridged media path).
    // Calls 0 and 1 use different party pairs, so call 1's callee hears foreign frames.
    let leak_to: SocketAddr = "127.0.0.1:20010".parse().expect("addr");
    let mut fate = move |t: &Transmit, _| {
        let mut out = vec![(Duration::from_millis(1), t.to)];
        if t.socket == SocketId(2) {
            out.push((Duration::from_millis(1), leak_to));
        }
        out
    };
    let recs = run(config(2, "3", true), &mut fate);
    assert!(recs[&0].passed(), "{:?}", recs[&0].failure);
    let failed: Vec<&str> = recs[&1]
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.id.as_str())
        .collect();
    assert!(
        failed.contains(&"media.foreign[caller->callee]"),
        "{:#?}",
        recs[&1].checks
    );
}
