//! Hostile input through the public API. Policy (as str0m's
//! `malformed-packet-injection.rs`): a panic here is a bug in recproof, never bad input.
//! Bad bytes become events; the endpoint keeps working.

use bytes::Bytes;
use proptest::prelude::*;
use recproof_sip::endpoint::{CallPhase, Endpoint, EndpointConfig, EndpointEvent, Extra};
use recproof_sip::time::Time;
use recproof_sip::transaction::{PeerAddr, Transport, TxError};
use std::net::SocketAddr;

fn a_addr() -> SocketAddr {
    "192.0.2.1:5060".parse().expect("addr")
}

fn b_addr() -> SocketAddr {
    "192.0.2.9:5080".parse().expect("addr")
}

fn endpoints() -> (Endpoint, Endpoint) {
    (
        Endpoint::new(EndpointConfig::new(a_addr(), "sip:src@192.0.2.1:5060", 1)),
        Endpoint::new(EndpointConfig::new(b_addr(), "sip:srs@192.0.2.9:5080", 2)),
    )
}

fn drain_events(ep: &mut Endpoint) -> Vec<EndpointEvent> {
    std::iter::from_fn(|| ep.poll_event())
        .take(10_000)
        .collect()
}

fn drain_transmits(ep: &mut Endpoint) -> Vec<Bytes> {
    std::iter::from_fn(|| ep.poll_transmit().map(|t| t.bytes))
        .take(10_000)
        .collect()
}

/// A and B with an established call, and every message of the handshake (the corpus
/// the mutation test starts from).
fn established() -> (Endpoint, Endpoint, Vec<Bytes>) {
    let (mut a, mut b) = endpoints();
    let now = Time::from_millis(1);
    let call = a
        .invite(
            now,
            "sip:srs@192.0.2.9:5080",
            PeerAddr::new(b_addr(), Transport::Udp),
            Extra::new().body("application/sdp", "v=0\r\n"),
        )
        .expect("invite");
    let mut corpus = drain_transmits(&mut a);
    for m in &corpus {
        b.handle_datagram(now, a_addr(), Transport::Udp, m);
    }
    let tx = drain_events(&mut b)
        .into_iter()
        .find_map(|e| match e {
            EndpointEvent::IncomingRequest { tx, .. } => Some(tx),
            _ => None,
        })
        .expect("incoming INVITE");
    b.answer(now, tx, 200, Extra::new()).expect("200");
    let ok = drain_transmits(&mut b);
    for m in &ok {
        a.handle_datagram(now, b_addr(), Transport::Udp, m);
    }
    let ack = drain_transmits(&mut a);
    for m in &ack {
        b.handle_datagram(now, a_addr(), Transport::Udp, m);
    }
    a.info(now, call, Extra::new()).expect("INFO");
    let info = drain_transmits(&mut a);
    corpus.extend(ok);
    corpus.extend(ack);
    corpus.extend(info);
    drain_events(&mut a);
    drain_events(&mut b);
    assert_eq!(a.phase(call), Some(CallPhase::Established));
    (a, b, corpus)
}

#[test]
fn bytes_that_do_not_parse_become_malformed_events() {
    let (mut a, _) = endpoints();
    for junk in [
        &b""[..],
        b"\r\n\r\n",
        b"hello",
        b"SIP/2.0 999 Nope\r\n\r\n",
        &[0xff; 64],
    ] {
        a.handle_datagram(Time::ZERO, b_addr(), Transport::Udp, junk);
        match drain_events(&mut a).as_slice() {
            [EndpointEvent::Malformed { from, bytes, .. }] => {
                assert_eq!(from.addr, b_addr());
                assert_eq!(&bytes[..], junk);
            }
            other => panic!("{junk:?}: {other:?}"),
        }
        assert!(a.poll_transmit().is_none());
    }
}

#[test]
fn parseable_but_unroutable_messages_are_reported() {
    let (mut a, _) = endpoints();
    a.handle_datagram(
        Time::ZERO,
        b_addr(),
        Transport::Udp,
        b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
    );
    assert!(matches!(
        drain_events(&mut a).as_slice(),
        [EndpointEvent::Unroutable {
            error: TxError::Via(_),
            ..
        }]
    ));
    a.handle_datagram(
        Time::ZERO,
        b_addr(),
        Transport::Udp,
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnone\r\nCSeq: 1 INVITE\r\n\r\n",
    );
    assert!(matches!(
        drain_events(&mut a).as_slice(),
        [EndpointEvent::Stray { .. }]
    ));
    a.handle_datagram(
        Time::ZERO,
        b_addr(),
        Transport::Udp,
        b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKack\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: nobody\r\nCSeq: 1 ACK\r\n\r\n",
    );
    assert!(matches!(
        drain_events(&mut a).as_slice(),
        [EndpointEvent::Stray { .. }]
    ));
}

#[test]
fn a_peer_that_omits_contact_cannot_break_the_uas() {
    let (mut a, mut b) = endpoints();
    a.invite(
        Time::ZERO,
        "sip:srs@192.0.2.9:5080",
        PeerAddr::new(b_addr(), Transport::Udp),
        Extra::new().omit("Contact"),
    )
    .expect("invite");
    for m in drain_transmits(&mut a) {
        b.handle_datagram(Time::ZERO, a_addr(), Transport::Udp, &m);
    }
    let (call, tx) = drain_events(&mut b)
        .into_iter()
        .find_map(|e| match e {
            EndpointEvent::IncomingRequest { call, tx, .. } => Some((call, tx)),
            _ => None,
        })
        .expect("incoming");
    // Without a Contact there is no remote target, so no dialog; answering still works.
    b.answer(Time::ZERO, tx, 200, Extra::new()).expect("answer");
    assert_eq!(b.dialog(call.expect("call")), None);
    assert_eq!(drain_transmits(&mut b).len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (mut a, mut b, _) = established();
        for (ep, from) in [(&mut a, b_addr()), (&mut b, a_addr())] {
            ep.handle_datagram(Time::from_secs(1), from, Transport::Udp, &bytes);
            drain_transmits(ep);
            drain_events(ep);
            ep.handle_timeout(Time::from_secs(100));
            drain_transmits(ep);
            drain_events(ep);
        }
    }

    #[test]
    fn mutated_real_messages_never_panic(
        pick in 0usize..16,
        edits in proptest::collection::vec((any::<u16>(), prop_oneof![
            Just(b':'), Just(b';'), Just(b'<'), Just(b'>'), Just(b'@'), Just(b'\r'),
            Just(b'\n'), Just(b' '), Just(b'='), Just(b','), Just(b'"'), Just(b'0'),
            Just(b'9'), any::<u8>(),
        ], 0u8..3), 0..8),
        cut in proptest::option::of(any::<u16>()),
        at_ms in 0u64..40_000,
    ) {
        let (mut a, mut b, corpus) = established();
        let mut msg = corpus[pick % corpus.len()].to_vec();
        for (pos, byte, op) in edits {
            let pos = usize::from(pos) % (msg.len() + 1);
            match op {
                0 => msg.insert(pos, byte),
                1 if pos < msg.len() => { msg.remove(pos); }
                _ if pos < msg.len() => msg[pos] = byte,
                _ => {}
            }
        }
        if let Some(cut) = cut {
            msg.truncate(usize::from(cut) % (msg.len() + 1));
        }
        let now = Time::from_millis(at_ms);
        for (ep, from) in [(&mut a, b_addr()), (&mut b, a_addr())] {
            for transport in [Transport::Udp, Transport::Tcp] {
                ep.handle_datagram(now, from, transport, &msg);
                drain_transmits(ep);
                drain_events(ep);
            }
            while let Some(t) = ep.poll_timeout().filter(|t| *t <= Time::from_secs(200)) {
                ep.handle_timeout(t);
                drain_transmits(ep);
                drain_events(ep);
            }
        }
    }
}

#[test]
fn a_peer_opening_more_calls_than_its_bound_gets_503_and_costs_nothing_more() {
    let mut cfg = EndpointConfig::new(b_addr(), "sip:srs@192.0.2.9:5080", 2);
    cfg.max_calls_per_peer = 5;
    let mut b = Endpoint::new(cfg);

    let mut checks = Vec::new();
    for i in 0..8 {
        let invite = format!(
            "INVITE sip:srs@192.0.2.9:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:src@192.0.2.1>;tag=f{i}\r\nTo: <sip:srs@192.0.2.9>\r\n\
             Call-ID: spray-{i}@192.0.2.1\r\nCSeq: 1 INVITE\r\nContact: <sip:src@192.0.2.1:5060>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        b.handle_datagram(Time::ZERO, a_addr(), Transport::Udp, invite.as_bytes());
        for ev in drain_events(&mut b) {
            if let EndpointEvent::IncomingRequest { call, check, .. } = ev {
                checks.push((call.is_some(), check.suggested_status()));
            }
        }
    }
    let taken = checks.iter().filter(|(call, _)| *call).count();
    let refused: Vec<Option<u16>> = checks
        .iter()
        .filter(|(call, _)| !*call)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(taken, 5, "{checks:?}");
    assert_eq!(refused, vec![Some(503); 3], "{checks:?}");
}

#[test]
fn a_peer_opening_more_transactions_than_its_bound_gets_503_statelessly_and_a_finding() {
    let mut cfg = EndpointConfig::new(b_addr(), "sip:srs@192.0.2.9:5080", 2);
    cfg.transactions.max_server_per_peer = 4;
    let mut b = Endpoint::new(cfg);
    let options = |i: usize| {
        format!(
            "OPTIONS sip:srs@192.0.2.9:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-o{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:src@192.0.2.1>;tag=o{i}\r\nTo: <sip:srs@192.0.2.9>\r\n\
             Call-ID: opt-{i}@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let (mut taken, mut refused, mut busy) = (Vec::new(), Vec::new(), 0);
    for i in 0..7 {
        // Not answered yet by the TU: each stays open.
        b.handle_datagram(Time::ZERO, a_addr(), Transport::Udp, options(i).as_bytes());
        for ev in drain_events(&mut b) {
            match ev {
                EndpointEvent::IncomingRequest { tx, .. } => taken.push(tx),
                EndpointEvent::Unroutable { message, error, .. } => {
                    assert!(
                        matches!(error, TxError::TooManyTransactions { open: 4 }),
                        "{error}"
                    );
                    refused.push(String::from_utf8_lossy(message.raw()).into_owned());
                }
                _ => {}
            }
        }
        busy += drain_transmits(&mut b)
            .iter()
            .filter(|t| t.starts_with(b"SIP/2.0 503"))
            .count();
    }
    assert_eq!(taken.len(), 4);
    assert_eq!(
        refused.len(),
        3,
        "each refusal reported with the request's bytes"
    );
    assert!(refused[0].contains("Call-ID: opt-4@192.0.2.1"));
    assert_eq!(busy, 3, "each answered 503");
    // A retransmission of a kept request is absorbed, not refused.
    b.handle_datagram(Time::ZERO, a_addr(), Transport::Udp, options(0).as_bytes());
    assert!(drain_events(&mut b).is_empty());
    // When kept transactions end (answered, then Timer J), room comes back. Another
    // peer was never limited by this one.
    b.handle_datagram(
        Time::ZERO,
        "192.0.2.77:5060".parse().expect("addr"),
        Transport::Udp,
        options(8).as_bytes(),
    );
    assert!(
        drain_events(&mut b)
            .iter()
            .any(|e| matches!(e, EndpointEvent::IncomingRequest { .. }))
    );
}
