//! The recorder load engine (`recproof load --recorder`) against the SRS emulator under
//! a simulated clock, no sockets: a clean recorder passes every session; a recorder
//! fault fails every session on its requirement; a recorder that never answers, or that
//! has no room, fails its sessions with what it did (timeout, 503), never a pass.

use checks::recorder::RecorderRules;
use recproof_load::engine::{Engine, SocketId};
use recproof_load::judge::RecorderJudging;
use recproof_load::record::{CallRecord, Failure};
use recproof_load::sessions::{SessionsConfig, SessionsEngine};
use recproof_load::{Hold, LoadPlan, Share};
use roles::media_io::MediaContext;
use roles::srs::{SrsBehaviour, SrsConfig, SrsEmulator};
use roles::srs_fault::SrsFault;
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use siprec::metadata::Dialect;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

const SESSIONS: u64 = 6;

fn recorder_sip() -> SocketAddr {
    "127.0.0.1:5080".parse().expect("addr")
}

fn config(concurrency: u32, capacity: u32) -> SessionsConfig {
    SessionsConfig {
        plan: LoadPlan {
            rate_cps: 3.0,
            ramp: Duration::ZERO,
            concurrency: Some(concurrency),
            calls: Some(SESSIONS),
            duration: None,
            share: Share::WHOLE,
        },
        hold: "3".parse::<Hold>().expect("hold"),
        seed: 11,
        sip_seed: 12,
        recorder_sip: recorder_sip(),
        recorder_uri: format!("sip:srs@{}", recorder_sip()),
        dialects: vec![Dialect::Rfc7865, Dialect::BroadWorks],
        src_ip: "127.0.0.1".parse().expect("ip"),
        sip_ports: (16_000, 16_100),
        rtp_ports: (20_000, 21_000),
        judging: RecorderJudging {
            rules: RecorderRules {
                capacity: Some(capacity),
                ..RecorderRules::default()
            },
            recordings: None,
        },
        epoch: jiff::Timestamp::UNIX_EPOCH,
        capture: false,
    }
}

/// Runs `SESSIONS` sessions at the emulator (with `fault`, `behaviour`, room for
/// `capacity` sessions) to the engine's end; returns the judged records by index.
fn run(
    fault: Option<SrsFault>,
    behaviour: SrsBehaviour,
    concurrency: u32,
    capacity: u32,
) -> BTreeMap<u64, CallRecord> {
    let ctx = MediaContext::with_default_signal().expect("media");
    let mut sc = SrsConfig::new(recorder_sip(), recorder_sip().ip());
    sc.strict_input = true;
    sc.fault = fault;
    sc.behaviour = behaviour;
    sc.rtp_port_base = 40_000;
    sc.rtp_port_count = u16::try_from(2 * capacity).expect("ports");
    let mut srs = SrsEmulator::new(sc, ctx.clone()).expect("srs");
    let mut engine =
        SessionsEngine::new(config(concurrency, capacity), ctx.modem.clone(), Time::ZERO)
            .expect("engine");
    let by_addr: HashMap<SocketAddr, SocketId> =
        engine.sockets().iter().map(|s| (s.addr, s.id)).collect();
    let addr_of: HashMap<SocketId, SocketAddr> =
        engine.sockets().iter().map(|s| (s.id, s.addr)).collect();
    let mut records = BTreeMap::new();
    let mut now = Time::ZERO;
    let link = Duration::from_millis(1);
    // (arrival, sequence) -> datagram; to the engine or to the recorder.
    let mut in_flight: BTreeMap<(Time, u64), Datagram> = BTreeMap::new();
    let mut seq = 0u64;
    for _ in 0..20_000_000 {
        engine.handle_timeout(now);
        if srs.poll_timeout().is_some_and(|t| t <= now) {
            srs.handle_timeout(now);
        }
        while let Some((&(at, s), _)) = in_flight.iter().next() {
            if at > now {
                break;
            }
            let Some(d) = in_flight.remove(&(at, s)) else {
                break;
            };
            match by_addr.get(&d.to) {
                Some(&socket) => engine.handle_datagram(now, socket, d.from, &d.bytes),
                None => srs.handle_datagram(now, d),
            }
        }
        while let Some(t) = engine.poll_transmit() {
            seq += 1;
            let from = addr_of[&t.socket];
            in_flight.insert(
                (now + link, seq),
                Datagram {
                    from,
                    to: t.to,
                    transport: Transport::Udp,
                    bytes: t.payload,
                },
            );
        }
        while let Some(d) = srs.poll_transmit() {
            seq += 1;
            in_flight.insert((now + link, seq), d);
        }
        while srs.poll_observation().is_some() {}
        while let Some(mut f) = engine.poll_record() {
            recproof_load::judge::complete(&mut f);
            records.insert(f.record.index, f.record);
        }
        if engine.is_finished() && in_flight.is_empty() {
            break;
        }
        let next = [
            engine.poll_timeout(),
            srs.poll_timeout(),
            in_flight.keys().next().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) if t > now => now = t,
            Some(_) => now += Duration::from_micros(1),
            None => break,
        }
    }
    records
}

fn show(records: &BTreeMap<u64, CallRecord>) -> String {
    records
        .values()
        .map(|r| {
            format!(
                "#{} {:?}: {}",
                r.index,
                r.failure,
                r.checks
                    .iter()
                    .filter(|c| c.fails_call)
                    .map(|c| format!("{} ({})", c.id, c.observed))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_clean_recorder_passes_every_session_of_both_dialects() {
    let r = run(None, SrsBehaviour::Accept, 4, 4);
    assert_eq!(r.len() as u64, SESSIONS, "{}", show(&r));
    assert!(r.values().all(|c| c.failure.is_none()), "{}", show(&r));
    for c in r.values() {
        assert!(c.setup_ms.is_some_and(|ms| ms < 100.0), "{c:?}");
        for id in [
            "precondition.recorder_took_session",
            "srs.contact",
            "srs.answer",
            "srs.no_rtp",
            "srs.answer_time",
        ] {
            let check = c.checks.iter().find(|k| k.id == id).expect("judged");
            assert!(check.asserted, "{id} is claimed");
            assert_eq!(check.verdict, recproof_load::record::Verdict::Pass, "{id}");
        }
    }
}

#[test]
fn a_recorder_fault_fails_every_session_on_its_requirement() {
    let r = run(Some(SrsFault::Relabel), SrsBehaviour::Accept, 4, 4);
    assert_eq!(r.len() as u64, SESSIONS);
    for c in r.values() {
        assert!(
            matches!(&c.failure, Some(Failure::Verdict { checks }) if checks == &["srs.answer"]),
            "{}",
            show(&r)
        );
    }
    let r = run(Some(SrsFault::NoSrsContact), SrsBehaviour::Accept, 4, 4);
    assert!(
        r.values().all(|c| matches!(&c.failure,
            Some(Failure::Verdict { checks }) if checks == &["srs.contact"])),
        "{}",
        show(&r)
    );
}

#[test]
fn a_recorder_that_never_answers_fails_every_session_as_a_timeout() {
    let r = run(None, SrsBehaviour::Silent, 4, 4);
    assert_eq!(r.len() as u64, SESSIONS);
    for c in r.values() {
        assert!(
            matches!(c.failure, Some(Failure::Timeout { .. })),
            "{}",
            show(&r)
        );
        assert!(
            c.checks
                .iter()
                .all(|k| k.verdict != recproof_load::record::Verdict::Pass),
            "nothing passes on a recorder that never answers: {}",
            show(&r)
        );
    }
}

#[test]
fn sessions_beyond_the_recorders_room_are_refused_with_503_or_left_unanswered() {
    // Six at once, room for two: the rest get 503 from a correct recorder ...
    let r = run(None, SrsBehaviour::Accept, 6, 2);
    let refused = r
        .values()
        .filter(|c| matches!(c.failure, Some(Failure::Rejected { code: 503 })))
        .count();
    let passed = r.values().filter(|c| c.failure.is_none()).count();
    assert_eq!((passed, refused), (2, 4), "{}", show(&r));
    // ... and no answer at all from one with the silent-over-capacity bug.
    let r = run(
        Some(SrsFault::SilentOverCapacity),
        SrsBehaviour::Accept,
        6,
        2,
    );
    let timed_out = r
        .values()
        .filter(|c| matches!(c.failure, Some(Failure::Timeout { .. })))
        .count();
    assert_eq!(timed_out, 4, "{}", show(&r));
}
