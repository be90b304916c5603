//! Two endpoints on a simulated network (quinn-proto's `Pair`): datagrams move with a
//! fixed latency, time jumps to the earliest delivery or timeout, and chosen messages
//! are dropped to force retransmissions. Nothing sleeps; every time below is exact.

use bytes::Bytes;
use recproof_sip::dialog::RequestCheck;
use recproof_sip::endpoint::{
    CallKey, CallPhase, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra, RequestContext,
};
use recproof_sip::message::{Method, SipMessage};
use recproof_sip::time::Time;
use recproof_sip::transaction::{PeerAddr, Timer, Transport, TxKey};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    A,
    B,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// How a side answers incoming requests on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// The RFC's suggested error if the check failed; CANCEL → 200 + 487 on the INVITE;
    /// everything else 200.
    Answer200,
    /// Like `Answer200`, but a new call only gets 180.
    RingOnly,
    /// Nothing; the test answers.
    Manual,
}

#[derive(Debug, Clone)]
struct Wire {
    at: Time,
    from: Side,
    label: String,
    bytes: Bytes,
    tx: Option<TxKey>,
    dropped: bool,
}

struct Pair {
    now: Time,
    latency: Duration,
    a: Endpoint,
    b: Endpoint,
    transport: Transport,
    policy: HashMap<Side, Policy>,
    /// (side that sends, label, n-th occurrence counted from 0) to drop.
    drops: Vec<(Side, &'static str, usize)>,
    seen: HashMap<(Side, String), usize>,
    /// Everything from A to B is lost (a dead link) when set.
    blackhole_a_to_b: bool,
    inflight: Vec<(Time, u64, Side, Bytes)>,
    seq: u64,
    wire: Vec<Wire>,
    events: Vec<(Time, Side, EndpointEvent)>,
}

fn addr(side: Side) -> SocketAddr {
    match side {
        Side::A => "192.0.2.1:5060".parse().expect("addr"),
        Side::B => "192.0.2.9:5080".parse().expect("addr"),
    }
}

fn config(side: Side, seed: u64) -> EndpointConfig {
    let uri = match side {
        Side::A => "sip:src@192.0.2.1:5060",
        Side::B => "sip:srs@192.0.2.9:5080",
    };
    EndpointConfig::new(addr(side), uri, seed)
}

/// `INVITE (1 INVITE)`, `200 (1 INVITE)`: what a message is, for drop rules and checks.
fn label(bytes: &[u8]) -> String {
    let Ok(m) = SipMessage::parse(bytes.to_vec()) else {
        return "<unparseable>".into();
    };
    let kind = match (m.method(), m.status()) {
        (Some(method), _) => method.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => "?".into(),
    };
    format!("{kind} ({})", m.header_value("CSeq").unwrap_or("?"))
}

impl Pair {
    fn new(transport: Transport) -> Self {
        Self::with(config(Side::A, 1), config(Side::B, 2), transport)
    }

    fn with(a: EndpointConfig, b: EndpointConfig, transport: Transport) -> Self {
        Self {
            now: Time::ZERO,
            latency: Duration::from_millis(10),
            a: Endpoint::new(a),
            b: Endpoint::new(b),
            transport,
            policy: HashMap::from([(Side::A, Policy::Answer200), (Side::B, Policy::Answer200)]),
            drops: Vec::new(),
            seen: HashMap::new(),
            blackhole_a_to_b: false,
            inflight: Vec::new(),
            seq: 0,
            wire: Vec::new(),
            events: Vec::new(),
        }
    }

    fn ep(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn peer_of(&self, side: Side) -> PeerAddr {
        PeerAddr::new(addr(side), self.transport)
    }

    /// Moves every transmit onto the network (or drops it) and applies the answer
    /// policies, until both endpoints are quiet.
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            for side in [Side::A, Side::B] {
                while let Some(t) = self.ep(side).poll_transmit() {
                    progressed = true;
                    assert_eq!(
                        t.to,
                        addr(side.other()),
                        "everything goes to the other side"
                    );
                    let label = label(&t.bytes);
                    let n = self.seen.entry((side, label.clone())).or_insert(0);
                    let nth = *n;
                    *n += 1;
                    let dropped = (side == Side::A && self.blackhole_a_to_b)
                        || self
                            .drops
                            .iter()
                            .any(|(s, l, k)| *s == side && *l == label && *k == nth);
                    self.wire.push(Wire {
                        at: self.now,
                        from: side,
                        label,
                        bytes: t.bytes.clone(),
                        tx: t.tx,
                        dropped,
                    });
                    if !dropped {
                        self.seq += 1;
                        self.inflight.push((
                            self.now + self.latency,
                            self.seq,
                            side.other(),
                            t.bytes,
                        ));
                    }
                }
                while let Some(e) = self.ep(side).poll_event() {
                    progressed = true;
                    self.apply_policy(side, &e);
                    self.events.push((self.now, side, e));
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn apply_policy(&mut self, side: Side, e: &EndpointEvent) {
        let policy = self.policy[&side];
        let EndpointEvent::IncomingRequest {
            tx, context, check, ..
        } = e
        else {
            return;
        };
        if policy == Policy::Manual {
            return;
        }
        let now = self.now;
        let mut answers: Vec<(TxKey, u16)> = Vec::new();
        match (check.suggested_status(), context) {
            (Some(code), _) => answers.push((*tx, code)),
            (
                None,
                RequestContext::Cancel {
                    invite: Some(invite),
                    invite_pending: true,
                },
            ) => {
                answers.push((*tx, 200));
                answers.push((*invite, 487));
            }
            (None, RequestContext::NewCall) if policy == Policy::RingOnly => {
                answers.push((*tx, 180))
            }
            (None, _) => answers.push((*tx, 200)),
        }
        for (tx, code) in answers {
            self.ep(side)
                .answer(now, tx, code, Extra::new())
                .expect("answer");
        }
    }

    fn next_wakeup(&self) -> Option<Time> {
        let delivery = self.inflight.iter().map(|(t, ..)| *t).min();
        [delivery, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs every delivery and timer up to and including `until`, then sets the clock
    /// to `until`.
    fn run_until(&mut self, until: Time) {
        self.drain();
        while let Some(next) = self.next_wakeup().filter(|t| *t <= until) {
            self.now = self.now.max(next);
            let now = self.now;
            self.inflight.sort_by_key(|(t, seq, ..)| (*t, *seq));
            let due: Vec<_> = self
                .inflight
                .iter()
                .filter(|(t, ..)| *t <= now)
                .cloned()
                .collect();
            self.inflight.retain(|(t, ..)| *t > now);
            for (_, _, to, bytes) in due {
                let from = addr(to.other());
                let transport = self.transport;
                self.ep(to).handle_datagram(now, from, transport, &bytes);
                self.drain();
            }
            for side in [Side::A, Side::B] {
                if self.ep(side).poll_timeout().is_some_and(|t| t <= now) {
                    self.ep(side).handle_timeout(now);
                    self.drain();
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until nothing is scheduled (bounded, so a bug cannot hang the test).
    fn run_to_idle(&mut self) {
        self.run_until(self.now + Duration::from_secs(600));
        assert_eq!(self.next_wakeup(), None, "still busy after 600 s");
    }

    fn transcript(&self) -> Vec<(u64, Side, &str, bool)> {
        self.wire
            .iter()
            .map(|w| {
                (
                    w.at.as_micros() / 1_000,
                    w.from,
                    w.label.as_str(),
                    w.dropped,
                )
            })
            .collect()
    }

    fn events_of(&self, side: Side) -> impl Iterator<Item = (Time, &EndpointEvent)> {
        self.events
            .iter()
            .filter(move |(_, s, _)| *s == side)
            .map(|(t, _, e)| (*t, e))
    }

    fn established_at(&self, side: Side) -> Vec<Time> {
        self.events_of(side)
            .filter(|(_, e)| matches!(e, EndpointEvent::DialogEstablished { .. }))
            .map(|(t, _)| t)
            .collect()
    }

    fn terminated(&self, side: Side) -> Vec<(Time, EndReason)> {
        self.events_of(side)
            .filter_map(|(t, e)| match e {
                EndpointEvent::DialogTerminated { reason, .. } => Some((t, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn invite(&mut self) -> CallKey {
        let to = self.peer_of(Side::B);
        let now = self.now;
        let call = self
            .a
            .invite(now, "sip:srs@192.0.2.9:5080", to, Extra::new())
            .expect("invite");
        self.drain();
        call
    }

    fn b_call(&self) -> CallKey {
        self.events_of(Side::B)
            .find_map(|(_, e)| match e {
                EndpointEvent::IncomingRequest {
                    call: Some(c),
                    context: RequestContext::NewCall,
                    ..
                } => Some(*c),
                _ => None,
            })
            .expect("B saw a new call")
    }
}

fn ms(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn branch(bytes: &Bytes) -> String {
    SipMessage::parse(bytes.clone())
        .expect("parses")
        .top_via()
        .expect("via")
        .branch
        .expect("branch")
}

#[test]
fn invite_reinvite_update_info_bye_survive_dropped_messages() {
    let mut p = Pair::new(Transport::Udp);
    p.drops = vec![
        (Side::A, "INVITE (1 INVITE)", 0),
        (Side::B, "200 (1 INVITE)", 0),
        (Side::A, "ACK (2 ACK)", 0),
        (Side::A, "UPDATE (3 UPDATE)", 0),
        (Side::B, "200 (4 INFO)", 0),
    ];
    let call = p.invite();
    p.run_until(ms(2_000));
    assert_eq!(p.a.phase(call), Some(CallPhase::Established));
    p.a.reinvite(p.now, call, Extra::new()).expect("re-INVITE");
    p.run_until(ms(4_000));
    p.a.update(p.now, call, Extra::new()).expect("UPDATE");
    p.run_until(ms(6_000));
    p.a.info(
        p.now,
        call,
        Extra::new().body("application/rs-metadata+xml", "<x/>"),
    )
    .expect("INFO");
    p.run_until(ms(8_000));
    p.a.bye(p.now, call, Extra::new()).expect("BYE");
    p.run_to_idle();

    use Side::{A, B};
    assert_eq!(
        p.transcript(),
        vec![
            (0, A, "INVITE (1 INVITE)", true),
            (500, A, "INVITE (1 INVITE)", false), // Timer A
            (510, B, "200 (1 INVITE)", true),
            (1_010, B, "200 (1 INVITE)", false), // 2xx retransmitted at T1 (§13.3.1.4)
            (1_020, A, "ACK (1 ACK)", false),
            (2_000, A, "INVITE (2 INVITE)", false),
            (2_010, B, "200 (2 INVITE)", false),
            (2_020, A, "ACK (2 ACK)", true),
            (2_510, B, "200 (2 INVITE)", false),
            (2_520, A, "ACK (2 ACK)", false), // the same ACK again (§13.2.2.4)
            (4_000, A, "UPDATE (3 UPDATE)", true),
            (4_500, A, "UPDATE (3 UPDATE)", false), // Timer E
            (4_510, B, "200 (3 UPDATE)", false),
            (6_000, A, "INFO (4 INFO)", false),
            (6_010, B, "200 (4 INFO)", true),
            (6_500, A, "INFO (4 INFO)", false), // Timer E
            (6_510, B, "200 (4 INFO)", false),  // server transaction re-sends its final
            (8_000, A, "BYE (5 BYE)", false),
            (8_010, B, "200 (5 BYE)", false),
        ]
    );
    let acks: Vec<&Wire> = p.wire.iter().filter(|w| w.label == "ACK (2 ACK)").collect();
    assert_eq!(acks[0].bytes, acks[1].bytes);
    assert_ne!(
        branch(&acks[0].bytes),
        branch(&p.wire[5].bytes),
        "ACK for 2xx has its own branch"
    );

    assert_eq!(p.established_at(A), vec![ms(1_020)]);
    assert_eq!(p.established_at(B), vec![ms(510)]);
    assert_eq!(p.terminated(A), vec![(ms(8_020), EndReason::ByeSent)]);
    assert_eq!(p.terminated(B), vec![(ms(8_010), EndReason::ByeReceived)]);
    let acks_seen: Vec<(Time, bool)> = p
        .events_of(B)
        .filter_map(|(t, e)| match e {
            EndpointEvent::AckReceived {
                stopped_retransmission,
                ..
            } => Some((t, *stopped_retransmission)),
            _ => None,
        })
        .collect();
    assert_eq!(acks_seen, vec![(ms(1_030), true), (ms(2_530), true)]);
    let incoming: Vec<Method> = p
        .events_of(B)
        .filter_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest { request, check, .. } => {
                assert_eq!(check, &RequestCheck::Accept);
                request.method().cloned()
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        incoming,
        [
            Method::Invite,
            Method::Invite,
            Method::Update,
            Method::Info,
            Method::Bye
        ],
        "retransmissions are absorbed, not reported twice"
    );
    let info = p
        .wire
        .iter()
        .find(|w| w.label == "INFO (4 INFO)")
        .expect("INFO");
    assert!(info.bytes.ends_with(b"\r\n\r\n<x/>"));
    assert!(p.a.transactions().is_empty() && p.b.transactions().is_empty());
    assert_eq!(p.a.phase(call), None);
}

#[test]
fn uas_retransmits_its_2xx_until_64_t1_when_no_ack_comes() {
    let mut a = config(Side::A, 1);
    a.auto_ack_2xx = false;
    let mut p = Pair::with(a, config(Side::B, 2), Transport::Udp);
    let call = p.invite();
    p.run_until(ms(100_000));
    let ok_times: Vec<u64> = p
        .wire
        .iter()
        .filter(|w| w.label == "200 (1 INVITE)")
        .map(|w| w.at.as_micros() / 1_000)
        .collect();
    // Sent at 10 ms, then T1 doubling capped at T2 (§13.3.1.4).
    assert_eq!(
        ok_times,
        [
            10, 510, 1_510, 3_510, 7_510, 11_510, 15_510, 19_510, 23_510, 27_510, 31_510
        ]
    );
    let timeouts: Vec<Time> = p
        .events_of(Side::B)
        .filter(|(_, e)| matches!(e, EndpointEvent::AckTimeout { .. }))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(timeouts, vec![ms(32_010)], "give up at 64*T1");
    let due: Vec<_> = p
        .events_of(Side::A)
        .filter(|(_, e)| matches!(e, EndpointEvent::AckDue { invite_seq: 1, .. }))
        .collect();
    assert_eq!(due.len(), 1, "one AckDue, not one per retransmission");
    assert!(!p.wire.iter().any(|w| w.label.starts_with("ACK")));
    assert_eq!(p.a.phase(call), Some(CallPhase::Established));

    // §13.3.1.4 says the session SHOULD then end with a BYE; the TU does it.
    let b_call = p.b_call();
    let now = p.now;
    p.b.bye(now, b_call, Extra::new()).expect("BYE");
    p.run_to_idle();
    assert_eq!(
        p.terminated(Side::B),
        vec![(ms(100_020), EndReason::ByeSent)]
    );
    assert_eq!(
        p.terminated(Side::A),
        vec![(ms(100_010), EndReason::ByeReceived)]
    );
}

#[test]
fn a_late_manual_ack_stops_the_2xx_retransmissions() {
    let mut a = config(Side::A, 1);
    a.auto_ack_2xx = false;
    let mut p = Pair::with(a, config(Side::B, 2), Transport::Udp);
    let call = p.invite();
    p.run_until(ms(2_000));
    assert_eq!(p.a.send_ack(p.now, call, Extra::new()), Ok(()));
    assert!(
        p.a.send_ack(p.now, call, Extra::new()).is_err(),
        "nothing left to ACK"
    );
    p.run_until(ms(60_000));
    let ok_times: Vec<u64> = p
        .wire
        .iter()
        .filter(|w| w.label == "200 (1 INVITE)")
        .map(|w| w.at.as_micros() / 1_000)
        .collect();
    assert_eq!(ok_times, [10, 510, 1_510]);
    assert!(
        !p.events_of(Side::B)
            .any(|(_, e)| matches!(e, EndpointEvent::AckTimeout { .. }))
    );
}

#[test]
fn cancel_of_a_ringing_call_gets_487_and_the_ack_reuses_the_invite_branch() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::RingOnly);
    let call = p.invite();
    p.run_until(ms(1_000));
    assert_eq!(p.a.phase(call), Some(CallPhase::Outgoing));
    assert!(
        p.a.dialog(call).is_some(),
        "180 with a To tag made an early dialog"
    );
    p.a.cancel(p.now, call).expect("cancel");
    p.run_to_idle();
    use Side::{A, B};
    assert_eq!(
        p.transcript(),
        vec![
            (0, A, "INVITE (1 INVITE)", false),
            (10, B, "180 (1 INVITE)", false),
            (1_000, A, "CANCEL (1 CANCEL)", false),
            (1_010, B, "200 (1 CANCEL)", false),
            (1_010, B, "487 (1 INVITE)", false),
            (1_020, A, "ACK (1 ACK)", false),
        ]
    );
    let invite_branch = branch(&p.wire[0].bytes);
    assert_eq!(branch(&p.wire[2].bytes), invite_branch, "§9.1");
    assert_eq!(branch(&p.wire[5].bytes), invite_branch, "§17.1.1.3");
    let tag = |i: usize| {
        SipMessage::parse(p.wire[i].bytes.clone())
            .expect("parses")
            .to_header()
            .expect("to")
            .tag()
            .map(str::to_owned)
    };
    assert!(tag(1).is_some());
    assert_eq!(tag(1), tag(4), "487 carries the tag of the 180");
    assert_eq!(tag(4), tag(5), "ACK carries the To of the 487");
    assert_eq!(
        p.terminated(A),
        vec![(ms(1_020), EndReason::RejectedByPeer(487))]
    );
    assert_eq!(
        p.terminated(B),
        vec![(ms(1_010), EndReason::RejectedLocally(487))]
    );
    assert!(p.a.cancel(p.now, call).is_err(), "the call is over");
}

#[test]
fn cancel_before_any_provisional_waits_for_the_100_trying() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::Manual);
    let call = p.invite();
    p.a.cancel(p.now, call).expect("cancel held");
    p.run_until(ms(500));
    use Side::{A, B};
    assert_eq!(
        p.transcript(),
        vec![
            (0, A, "INVITE (1 INVITE)", false),
            (210, B, "100 (1 INVITE)", false), // §17.2.1, 200 ms after the INVITE arrived
            (220, A, "CANCEL (1 CANCEL)", false),
        ]
    );
    let (cancel_tx, invite_tx) = p
        .events_of(B)
        .find_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest {
                tx,
                context:
                    RequestContext::Cancel {
                        invite: Some(i),
                        invite_pending: true,
                    },
                check: RequestCheck::Accept,
                ..
            } => Some((*tx, *i)),
            _ => None,
        })
        .expect("B saw the CANCEL");
    let now = p.now;
    p.b.answer(now, cancel_tx, 200, Extra::new()).expect("200");
    p.b.answer(now, invite_tx, 487, Extra::new()).expect("487");
    p.run_to_idle();
    assert_eq!(
        p.terminated(A),
        vec![(ms(510), EndReason::RejectedByPeer(487))]
    );
}

#[test]
fn simultaneous_reinvites_are_glare_and_get_491() {
    let mut p = Pair::new(Transport::Udp);
    let call = p.invite();
    p.run_until(ms(1_000));
    let b_call = p.b_call();
    let now = p.now;
    p.a.reinvite(now, call, Extra::new()).expect("A re-INVITE");
    p.b.reinvite(now, b_call, Extra::new())
        .expect("B re-INVITE");
    assert_eq!(
        p.a.reinvite(now, call, Extra::new()),
        Err(recproof_sip::endpoint::EndpointError::InviteInProgress(
            call
        )),
        "§14.1: one INVITE at a time"
    );
    p.run_until(ms(2_000));
    for side in [Side::A, Side::B] {
        let checks: Vec<RequestCheck> = p
            .events_of(side)
            .filter_map(|(_, e)| match e {
                EndpointEvent::IncomingRequest {
                    check,
                    context: RequestContext::InDialog,
                    ..
                } => Some(check.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(checks, vec![RequestCheck::Glare], "{side:?}");
    }
    let labels: Vec<&str> = p.wire.iter().skip(3).map(|w| w.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "INVITE (2 INVITE)",
            "INVITE (1 INVITE)",
            "491 (2 INVITE)",
            "491 (1 INVITE)",
            "ACK (2 ACK)",
            "ACK (1 ACK)",
        ],
        "B's first request in the dialog has CSeq 1; A's INVITE was sent first"
    );
    assert_eq!(
        p.a.phase(call),
        Some(CallPhase::Established),
        "491 does not end the dialog"
    );
    assert_eq!(p.b.phase(b_call), Some(CallPhase::Established));
    // And A may try again.
    p.a.reinvite(p.now, call, Extra::new())
        .expect("retry after 491");
}

#[test]
fn out_of_order_cseq_and_unknown_dialog_are_reported_for_the_tu_to_answer() {
    let mut p = Pair::new(Transport::Udp);
    let call = p.invite();
    p.run_until(ms(1_000));
    let mut stale = p.a.dialog(call).expect("dialog").clone();
    p.a.info(p.now, call, Extra::new()).expect("INFO 2");
    p.run_until(ms(1_500));
    p.a.update(p.now, call, Extra::new()).expect("UPDATE 3");
    p.run_until(ms(2_000));

    // A request built from a stale copy of the dialog reuses CSeq 2 < 3.
    let late = stale
        .request(
            &Method::Info,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKstale",
            None,
        )
        .to_bytes();
    let to_b = p.peer_of(Side::B);
    p.a.send_raw(to_b, late);
    // A BYE for a dialog B never had.
    let unknown = String::from_utf8_lossy(&late_bye(&mut stale))
        .replace(&format!("tag={}", stale.id().remote_tag), "tag=nobody");
    p.a.send_raw(to_b, unknown.into_bytes());
    p.run_until(ms(3_000));

    let checks: Vec<(Option<CallKey>, RequestCheck)> = p
        .events_of(Side::B)
        .filter_map(|(t, e)| match e {
            EndpointEvent::IncomingRequest { call, check, .. } if t >= ms(2_000) => {
                Some((*call, check.clone()))
            }
            _ => None,
        })
        .collect();
    let b_call = p.b_call();
    assert_eq!(
        checks,
        vec![
            (
                Some(b_call),
                RequestCheck::CSeqOutOfOrder {
                    received: 2,
                    remote: 3
                }
            ),
            (None, RequestCheck::UnknownDialog),
        ]
    );
    let answers: Vec<&str> = p
        .wire
        .iter()
        .filter(|w| w.at >= ms(2_000) && w.from == Side::B)
        .map(|w| w.label.as_str())
        .collect();
    assert_eq!(answers, ["500 (2 INFO)", "481 (3 BYE)"]);
    // A sent those raw, so their responses belong to no transaction of A's.
    let strays = p
        .events_of(Side::A)
        .filter(|(_, e)| matches!(e, EndpointEvent::Stray { .. }))
        .count();
    assert_eq!(strays, 2);
    assert_eq!(p.b.phase(b_call), Some(CallPhase::Established));
}

fn late_bye(d: &mut recproof_sip::dialog::Dialog) -> Vec<u8> {
    d.request(
        &Method::Bye,
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbye",
        None,
    )
    .to_bytes()
}

#[test]
fn a_bye_into_a_dead_link_times_out_after_64_t1() {
    let mut p = Pair::new(Transport::Udp);
    let call = p.invite();
    p.run_until(ms(10_000));
    p.blackhole_a_to_b = true;
    p.a.bye(p.now, call, Extra::new()).expect("BYE");
    p.run_to_idle();
    let byes: Vec<u64> = p
        .wire
        .iter()
        .filter(|w| w.label == "BYE (2 BYE)")
        .map(|w| w.at.as_micros() / 1_000 - 10_000)
        .collect();
    assert_eq!(
        byes,
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(
        p.terminated(Side::A),
        vec![(ms(42_000), EndReason::TimedOut(Timer::F))]
    );
    assert!(p.events_of(Side::A).any(|(t, e)| t == ms(42_000)
        && matches!(e, EndpointEvent::TimedOut { timer: Timer::F, call: Some(c), .. } if *c == call)));
}

#[test]
fn a_second_fork_answering_is_acked_and_sent_a_bye() {
    let mut p = Pair::new(Transport::Udp);
    let call = p.invite();
    p.run_until(ms(1_000));
    let ok = p
        .wire
        .iter()
        .find(|w| w.label == "200 (1 INVITE)")
        .expect("200");
    let b_tag = p.a.dialog(call).expect("dialog").id().remote_tag.clone();
    let fork = String::from_utf8_lossy(&ok.bytes).replace(&format!("tag={b_tag}"), "tag=fork2");
    let to_a = p.peer_of(Side::A);
    p.b.send_raw(to_a, fork.into_bytes());
    p.run_until(ms(2_000));
    let after: Vec<(Side, &str)> = p
        .wire
        .iter()
        .filter(|w| w.at >= ms(1_000))
        .map(|w| (w.from, w.label.as_str()))
        .collect();
    assert_eq!(
        after,
        [
            (Side::B, "200 (1 INVITE)"),
            (Side::A, "ACK (1 ACK)"),
            (Side::A, "BYE (2 BYE)"),
            (Side::B, "481 (2 BYE)"),
        ]
    );
    let fork_bye = SipMessage::parse(p.wire[p.wire.len() - 2].bytes.clone()).expect("BYE");
    assert_eq!(fork_bye.to_header().expect("to").tag(), Some("fork2"));
    assert_eq!(
        p.a.dialog(call).expect("dialog").id().remote_tag,
        b_tag,
        "the first dialog stays"
    );
}

#[test]
fn over_tcp_nothing_is_sent_twice() {
    let mut p = Pair::new(Transport::Tcp);
    let call = p.invite();
    p.run_until(ms(1_000));
    p.a.reinvite(p.now, call, Extra::new()).expect("re-INVITE");
    p.run_until(ms(2_000));
    p.a.bye(p.now, call, Extra::new()).expect("BYE");
    p.run_to_idle();
    let labels: Vec<&str> = p.wire.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "INVITE (1 INVITE)",
            "200 (1 INVITE)",
            "ACK (1 ACK)",
            "INVITE (2 INVITE)",
            "200 (2 INVITE)",
            "ACK (2 ACK)",
            "BYE (3 BYE)",
            "200 (3 BYE)",
        ]
    );
    let via = SipMessage::parse(p.wire[0].bytes.clone()).expect("parses");
    assert_eq!(via.top_via().expect("via").transport, "TCP");
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let run = |seed_a: u64| {
        let mut p = Pair::with(config(Side::A, seed_a), config(Side::B, 2), Transport::Udp);
        let call = p.invite();
        p.run_until(ms(1_000));
        p.a.bye(p.now, call, Extra::new()).expect("BYE");
        p.run_to_idle();
        p.wire.into_iter().map(|w| w.bytes).collect::<Vec<_>>()
    };
    let first = run(1);
    assert_eq!(first, run(1));
    assert_ne!(first, run(99));
    for bytes in &first {
        assert!(branch(bytes).starts_with("z9hG4bK"));
    }
}

#[test]
fn extras_add_headers_and_bodies_and_can_omit_standard_headers() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::Manual);
    let to = p.peer_of(Side::B);
    let extra = Extra::new()
        .omit("User-Agent")
        .header("Require", "siprec")
        .body("application/sdp", "v=0\r\n");
    p.a.invite(Time::ZERO, "sip:srs@192.0.2.9:5080", to, extra)
        .expect("invite");
    p.run_until(ms(100));
    let invite = SipMessage::parse(p.wire[0].bytes.clone()).expect("parses");
    assert_eq!(invite.header("User-Agent"), None);
    assert_eq!(invite.header_value("Require"), Some("siprec"));
    assert_eq!(invite.content_type(), Some("application/sdp"));
    assert_eq!(&invite.body()[..], b"v=0\r\n");
    assert_eq!(
        invite.header_value("Contact"),
        Some("<sip:src@192.0.2.1:5060>")
    );
    let tx = p
        .events_of(Side::B)
        .find_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest { tx, .. } => Some(*tx),
            _ => None,
        })
        .expect("incoming");
    // The SRS emulator chooses its answer.
    p.b.answer(
        p.now,
        tx,
        488,
        Extra::new().header("Warning", "399 srs \"no\""),
    )
    .expect("488");
    assert_eq!(
        p.b.answer(p.now, tx, 200, Extra::new()),
        Err(recproof_sip::endpoint::EndpointError::Transaction(
            recproof_sip::transaction::TxError::WrongState {
                key: tx,
                state: recproof_sip::transaction::TxState::Completed,
                code: 200
            }
        )),
        "one final response"
    );
    assert_eq!(
        p.b.answer(p.now, tx, 700, Extra::new()),
        Err(recproof_sip::endpoint::EndpointError::InvalidStatus(700))
    );
    p.run_to_idle();
    assert_eq!(
        p.terminated(Side::A),
        vec![(ms(110), EndReason::RejectedByPeer(488))]
    );
    let rejection = p
        .wire
        .iter()
        .find(|w| w.label == "488 (1 INVITE)")
        .expect("488");
    assert!(String::from_utf8_lossy(&rejection.bytes).contains("Warning: 399 srs \"no\"\r\n"));
}

#[test]
fn ringing_then_answering_confirms_the_early_dialog() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::RingOnly);
    let call = p.invite();
    p.run_until(ms(1_000));
    let early = p.a.dialog(call).expect("early dialog").clone();
    assert_eq!(early.state(), recproof_sip::dialog::DialogState::Early);
    let invite_tx = p
        .events_of(Side::B)
        .find_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest { tx, .. } => Some(*tx),
            _ => None,
        })
        .expect("INVITE");
    let b_call = p.b_call();
    assert_eq!(p.b.phase(b_call), Some(CallPhase::Incoming));
    p.b.answer(p.now, invite_tx, 200, Extra::new())
        .expect("200");
    p.run_until(ms(2_000));
    let confirmed = p.a.dialog(call).expect("dialog");
    assert_eq!(
        confirmed.state(),
        recproof_sip::dialog::DialogState::Confirmed
    );
    assert_eq!(confirmed.id(), early.id(), "same tags in 180 and 200");
    assert_eq!(p.established_at(Side::A), vec![ms(1_010)]);
    assert_eq!(p.established_at(Side::B), vec![ms(1_000)]);
    let labels: Vec<&str> = p.wire.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "INVITE (1 INVITE)",
            "180 (1 INVITE)",
            "200 (1 INVITE)",
            "ACK (1 ACK)"
        ]
    );
}

#[test]
fn out_of_dialog_options_gets_a_tagged_answer() {
    let mut p = Pair::new(Transport::Udp);
    let to = p.peer_of(Side::B);
    let tx =
        p.a.send_out_of_dialog(
            Time::ZERO,
            &Method::Options,
            "sip:srs@192.0.2.9:5080",
            to,
            Extra::new(),
        )
        .expect("OPTIONS");
    assert!(
        p.a.send_out_of_dialog(Time::ZERO, &Method::Invite, "sip:x@y", to, Extra::new())
            .is_err()
    );
    p.run_to_idle();
    let context = p.events_of(Side::B).find_map(|(_, e)| match e {
        EndpointEvent::IncomingRequest { context, call, .. } => Some((context.clone(), *call)),
        _ => None,
    });
    assert_eq!(context, Some((RequestContext::OutOfDialog, None)));
    let response = p
        .events_of(Side::A)
        .find_map(|(_, e)| match e {
            EndpointEvent::Response {
                call: None,
                tx: t,
                response,
            } if *t == tx => Some(response.clone()),
            _ => None,
        })
        .expect("response");
    assert_eq!(response.status(), Some(200));
    assert!(response.to_header().expect("to").tag().is_some());
}

#[test]
fn an_unanswered_cancel_gives_up_on_the_invite_after_64_t1() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::Manual);
    let call = p.invite();
    p.run_until(ms(1_000));
    p.a.cancel(p.now, call)
        .expect("cancel after the 100 Trying");
    p.run_to_idle();
    // §9.1: 64*T1 after the CANCEL the INVITE transaction is destroyed.
    assert_eq!(
        p.terminated(Side::A),
        vec![(ms(33_000), EndReason::CancelTimeout)]
    );
    assert!(p.a.transactions().is_empty());
    let cancels = p
        .wire
        .iter()
        .filter(|w| w.label == "CANCEL (1 CANCEL)")
        .count();
    assert_eq!(
        cancels, 11,
        "the CANCEL itself retransmits like any non-INVITE"
    );
}

#[test]
fn a_transport_error_on_the_invite_ends_the_call() {
    let mut p = Pair::new(Transport::Tcp);
    let call = p.invite();
    // The driver knows which transaction a transmit belongs to.
    let tx = p.wire[0].tx.expect("the INVITE was sent by a transaction");
    p.a.handle_transport_error(Time::ZERO, tx);
    p.drain();
    assert_eq!(
        p.terminated(Side::A),
        vec![(Time::ZERO, EndReason::TransportError)]
    );
    assert!(p.events_of(Side::A).any(|(_, e)| matches!(
        e,
        EndpointEvent::TransportError { call: Some(c), tx: t } if *c == call && *t == tx
    )));
    assert_eq!(p.a.phase(call), None);
}

#[test]
fn a_cancel_that_crosses_the_200_has_no_effect_but_gets_its_own_200() {
    let mut p = Pair::new(Transport::Udp);
    let call = p.invite();
    p.run_until(ms(100));
    assert_eq!(
        p.a.cancel(p.now, call),
        Err(recproof_sip::endpoint::EndpointError::NotCancellable(call))
    );
    // A CANCEL that was already on its way when the 200 was sent (§9.2).
    let invite = SipMessage::parse(p.wire[0].bytes.clone()).expect("INVITE");
    let cancel = recproof_sip::transaction::cancel_for(&invite)
        .expect("cancel")
        .to_bytes();
    let to_b = p.peer_of(Side::B);
    p.a.send_raw(to_b, cancel);
    p.run_until(ms(1_000));
    let context = p
        .events_of(Side::B)
        .find_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest {
                context: c @ RequestContext::Cancel { .. },
                ..
            } => Some(c.clone()),
            _ => None,
        })
        .expect("CANCEL seen");
    assert!(matches!(
        context,
        RequestContext::Cancel {
            invite: Some(_),
            invite_pending: false
        }
    ));
    let from_b: Vec<&str> = p
        .wire
        .iter()
        .filter(|w| w.from == Side::B)
        .map(|w| w.label.as_str())
        .collect();
    assert_eq!(from_b, ["200 (1 INVITE)", "200 (1 CANCEL)"]);
    assert_eq!(p.b.phase(p.b_call()), Some(CallPhase::Established));
}

#[test]
fn a_2xx_repeated_by_hand_does_not_establish_twice() {
    let mut p = Pair::new(Transport::Udp);
    p.policy.insert(Side::B, Policy::Manual);
    p.invite();
    p.run_until(ms(100));
    let tx = p
        .events_of(Side::B)
        .find_map(|(_, e)| match e {
            EndpointEvent::IncomingRequest { tx, .. } => Some(*tx),
            _ => None,
        })
        .expect("INVITE");
    p.b.answer(p.now, tx, 200, Extra::new()).expect("200");
    p.b.answer(p.now, tx, 200, Extra::new())
        .expect("200 again, RFC 6026 Accepted");
    p.run_until(ms(5_000));
    assert_eq!(p.established_at(Side::B), vec![ms(100)]);
    let oks = p
        .wire
        .iter()
        .filter(|w| w.label == "200 (1 INVITE)")
        .count();
    assert_eq!(oks, 2, "the ACK at 120 ms stopped any retransmission");
}
