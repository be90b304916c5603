//! A caller phone calls a callee phone directly (no platform) under the simulated clock:
//! what each hears, with the latency and loss the network emulator injected.

use observe::{Actor, Direction, Event, Observation, Source};
use recproof_roles::media_io::MediaContext;
use recproof_roles::ua::{CallPhase, PartyUa, UaConfig};
use sim::{LinkProfile, NodeId, World};
use sip::time::Time;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

struct Call {
    world: World,
    caller: NodeId,
    callee: NodeId,
    obs: Vec<Observation>,
}

/// A 30 s call: caller → callee 25 ms and lossless, callee → caller 40 ms with `loss`.
/// The caller sends `dtmf` 5 s after the answer and hangs up at 31 s.
fn run_call(seed: u64, loss: f64, dtmf: &str) -> Call {
    let ctx = MediaContext::with_default_signal().expect("signal");
    let mut world = World::new(seed);
    let caller_cfg = UaConfig::caller(addr("10.0.0.1:5060"), addr("10.0.0.1:30000"));
    let callee_cfg = UaConfig::callee(addr("10.0.0.2:5060"), addr("10.0.0.2:30000"));
    let callee_uri = callee_cfg.uri.clone();
    let caller = world.add(Box::new(
        PartyUa::new(caller_cfg, ctx.clone()).expect("caller"),
    ));
    let callee = world.add(Box::new(PartyUa::new(callee_cfg, ctx).expect("callee")));
    world.set_link(
        caller,
        callee,
        LinkProfile::latency(Duration::from_millis(25)),
    );
    world.set_link(
        callee,
        caller,
        LinkProfile::latency(Duration::from_millis(40)).loss(loss),
    );
    world
        .with_node::<PartyUa, _>(caller, |ua, now| {
            ua.dial(now, &callee_uri, addr("10.0.0.2:5060"))
        })
        .expect("node")
        .expect("dial");
    world.run_until(Time::from_secs(6));
    assert_eq!(
        world.with_node::<PartyUa, _>(caller, |ua, _| ua.phase()),
        Some(Some(CallPhase::Active))
    );
    if !dtmf.is_empty() {
        let queued = world
            .with_node::<PartyUa, _>(caller, |ua, now| ua.send_dtmf(now, dtmf))
            .expect("node");
        assert_eq!(queued, dtmf.len());
    }
    world.run_until(Time::from_secs(31));
    world
        .with_node::<PartyUa, _>(caller, |ua, now| ua.hang_up(now))
        .expect("node")
        .expect("hang up");
    world.run_until(Time::from_secs(40));
    assert!(!world.stats().stalled);
    let obs = world.take_observations();
    Call {
        world,
        caller,
        callee,
        obs,
    }
}

/// (frames, lost, latency min/max µs) of one party on one stream.
fn party_frames(obs: &[Observation], stream: &str, party: &str) -> (u64, u64, u64, u64) {
    obs.iter()
        .find_map(|o| match &o.event {
            Event::PartyFrames {
                stream: s,
                party: p,
                frames,
                lost,
                latency,
                ..
            } if s == stream && p == party => {
                let l = latency.as_ref().expect("latency known");
                Some((*frames, *lost, l.min_us, l.max_us))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no party_frames for {party} on {stream}"))
}

#[test]
fn each_party_hears_the_other_with_the_injected_latency_and_loss() {
    let call = run_call(11, 0.05, "");
    // Callee hears the caller over the 25 ms lossless link.
    let (frames, lost, min, max) = party_frames(&call.obs, "callee.heard", "caller");
    assert_eq!(lost, 0, "lossless link loses nothing");
    assert!(frames > 1400, "about 30 s of frames, got {frames}");
    assert!(
        min.abs_diff(25_000) <= 500 && max.abs_diff(25_000) <= 500,
        "latency {min}..{max} µs, injected 25 ms"
    );
    // Caller hears the callee over the 40 ms link losing 5 %.
    let (frames, lost, min, max) = party_frames(&call.obs, "caller.heard", "callee");
    assert!(
        min.abs_diff(40_000) <= 500 && max.abs_diff(40_000) <= 500,
        "latency {min}..{max} µs, injected 40 ms"
    );
    let ratio = lost as f64 / (frames + lost) as f64;
    assert!(
        (0.03..=0.07).contains(&ratio),
        "loss {ratio:.3} ({lost}/{}), injected 0.05",
        frames + lost
    );
    assert!(
        call.world.stats().lost > 0,
        "the emulator did drop datagrams"
    );
    // Nobody hears itself.
    for (stream, other) in [("callee.heard", "callee"), ("caller.heard", "caller")] {
        assert!(
            !call.obs.iter().any(|o| matches!(&o.event,
                Event::PartyFrames { stream: s, party, .. } if s == stream && party == other)),
            "{stream} has {other}'s own frames"
        );
    }
}

#[test]
fn a_lossless_run_reports_no_loss_and_is_repeatable() {
    let a = run_call(5, 0.0, "");
    let (_, lost, _, _) = party_frames(&a.obs, "caller.heard", "callee");
    assert_eq!(lost, 0);
    let b = run_call(5, 0.0, "");
    assert_eq!(a.obs, b.obs, "same seed, same observations");
}

#[test]
fn hang_up_ends_both_sides() {
    let call = run_call(3, 0.0, "");
    for actor in [Actor::Caller, Actor::Callee] {
        let ended: Vec<&str> = call
            .obs
            .iter()
            .filter(|o| o.actor == actor)
            .filter_map(|o| match &o.event {
                Event::CallEnded { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ended, vec!["bye"], "{actor:?}");
    }
    let mut world = call.world;
    for id in [call.caller, call.callee] {
        assert_eq!(
            world.with_node::<PartyUa, _>(id, |ua, _| ua.phase()),
            Some(None)
        );
    }
}

#[test]
fn dtmf_sent_by_the_caller_is_heard_by_the_callee() {
    let with = run_call(7, 0.0, "*44");
    let heard: String = with
        .obs
        .iter()
        .filter_map(|o| match &o.event {
            Event::Dtmf {
                stream,
                digit,
                direction: Direction::Received,
                ..
            } if stream == "callee.heard" => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(heard, "*44");
    let sent = with
        .obs
        .iter()
        .filter(|o| {
            matches!(&o.event, Event::Dtmf { stream, direction: Direction::Sent, .. }
                if stream == "caller.sent")
        })
        .count();
    assert_eq!(sent, 3);
    let without = run_call(7, 0.0, "");
    assert!(
        !without
            .obs
            .iter()
            .any(|o| matches!(&o.event, Event::Dtmf { .. })),
        "no DTMF when none was sent"
    );
    // The callee's audio keeps flowing around the digits: one party span only.
    let spans = with
        .obs
        .iter()
        .filter(|o| {
            matches!(&o.event, Event::MediaSegment { stream, source: Source::Party { .. }, .. }
                if stream == "callee.heard")
        })
        .count();
    assert!(spans >= 1);
}
