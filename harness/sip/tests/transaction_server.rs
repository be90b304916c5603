//! Server transactions (RFC 3261 §17.2) against a simulated clock: 100 Trying, Timer G
//! retransmission of non-2xx finals until ACK or Timer H, timers I, J, L, request
//! retransmissions, CANCEL and ACK matching, RFC 2543 matching, reliable transports.

use recproof_sip::message::{MessageBuilder, Method, SipMessage};
use recproof_sip::time::Time;
use recproof_sip::transaction::{
    PeerAddr, Routed, Timer, TransactionConfig, Transactions, Transmit, Transport, TxError,
    TxEvent, TxKey, TxState,
};

fn peer(transport: Transport) -> PeerAddr {
    PeerAddr::new("192.0.2.1:5062".parse().expect("addr"), transport)
}

fn secs(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn request_with(
    method: &Method,
    cseq_method: &Method,
    branch: Option<&str>,
    sent_by: &str,
) -> SipMessage {
    let via = match branch {
        Some(b) => format!("SIP/2.0/UDP {sent_by};branch={b}"),
        None => format!("SIP/2.0/UDP {sent_by}"),
    };
    MessageBuilder::request(method, "sip:srs@192.0.2.9:5060")
        .header("Via", &via)
        .header("Max-Forwards", "70")
        .header("From", "<sip:src@192.0.2.1>;tag=f1")
        .header("To", "<sip:srs@192.0.2.9>")
        .header("Call-ID", "c1@192.0.2.1")
        .header("CSeq", &format!("1 {cseq_method}"))
        .header("Contact", "<sip:src@192.0.2.1:5062>")
        .build()
        .expect("builds")
}

fn request(method: Method, branch: &str) -> SipMessage {
    request_with(&method, &method, Some(branch), "192.0.2.1:5062")
}

/// The ACK for a non-2xx: same branch as the INVITE (§17.1.1.3).
fn ack(branch: &str) -> SipMessage {
    request_with(&Method::Ack, &Method::Ack, Some(branch), "192.0.2.1:5062")
}

fn answer(req: &SipMessage, code: u16) -> SipMessage {
    MessageBuilder::response_to(req, code, "Reason", Some("srv1"))
        .build()
        .expect("builds")
}

#[derive(Default)]
struct Trace {
    sent: Vec<(Time, Transmit)>,
    events: Vec<(Time, TxEvent)>,
}

impl Trace {
    fn drain(&mut self, now: Time, txs: &mut Transactions) {
        while let Some(t) = txs.poll_transmit() {
            self.sent.push((now, t));
        }
        while let Some(e) = txs.poll_event() {
            self.events.push((now, e));
        }
    }

    fn run_until(&mut self, txs: &mut Transactions, until: Time) {
        while let Some(at) = txs.poll_timeout() {
            if at > until {
                break;
            }
            txs.handle_timeout(at);
            self.drain(at, txs);
        }
    }

    fn sent_times(&self) -> Vec<Time> {
        self.sent.iter().map(|(t, _)| *t).collect()
    }
}

fn receive(txs: &mut Transactions, at: Time, transport: Transport, req: SipMessage) -> TxKey {
    match txs.handle(at, peer(transport), req) {
        Routed::NewServer { key, .. } => key,
        other => panic!("expected a new server transaction, got {other:?}"),
    }
}

#[test]
fn server_invite_sends_100_trying_after_200_ms_of_silence() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs1");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    let mut trace = Trace::default();
    trace.run_until(&mut txs, secs(10_000));
    assert_eq!(trace.sent_times(), vec![secs(200)]);
    let trying = SipMessage::parse(trace.sent[0].1.bytes.clone()).expect("parses");
    assert_eq!(trying.status(), Some(100));
    assert_eq!(
        trying.to_header().expect("to").tag(),
        None,
        "100 has no To tag"
    );
    assert_eq!(
        trying.top_via().expect("via").branch.as_deref(),
        Some("z9hG4bKs1")
    );
    assert_eq!(
        trace.sent[0].1.to,
        peer(Transport::Udp).addr,
        "back to the source"
    );
    // An INVITE retransmission now gets the 100 again.
    assert_eq!(
        txs.handle(secs(500), peer(Transport::Udp), req),
        Routed::ToServer(key)
    );
    trace.drain(secs(500), &mut txs);
    assert_eq!(trace.sent.len(), 2);
    assert_eq!(trace.sent[0].1.bytes, trace.sent[1].1.bytes);
}

#[test]
fn no_100_trying_when_the_tu_answers_within_200_ms_or_it_is_disabled() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs2");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    let mut trace = Trace::default();
    // Before any provisional, a retransmission is absorbed silently.
    txs.handle(secs(50), peer(Transport::Udp), req.clone());
    trace.drain(secs(50), &mut txs);
    assert!(trace.sent.is_empty());
    txs.respond(secs(100), key, answer(&req, 180)).expect("180");
    trace.drain(secs(100), &mut txs);
    trace.run_until(&mut txs, secs(10_000));
    assert_eq!(trace.sent_times(), vec![secs(100)]);
    assert_eq!(txs.state(key), Some(TxState::Proceeding));

    let mut quiet = Transactions::new(TransactionConfig {
        auto_trying: false,
        ..TransactionConfig::default()
    });
    receive(&mut quiet, Time::ZERO, Transport::Udp, req);
    assert_eq!(quiet.poll_timeout(), None);
}

#[test]
fn non_2xx_final_is_retransmitted_by_timer_g_until_timer_h() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs3");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    txs.respond(Time::ZERO, key, answer(&req, 486))
        .expect("486");
    let mut trace = Trace::default();
    trace.drain(Time::ZERO, &mut txs);
    trace.run_until(&mut txs, secs(100_000));
    // §17.2.1: G at T1, doubling, capped at T2; H at 64*T1.
    assert_eq!(
        trace.sent_times(),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(secs)
    );
    assert!(trace.sent.windows(2).all(|w| w[0].1.bytes == w[1].1.bytes));
    assert_eq!(
        trace.events,
        vec![
            (
                secs(32_000),
                TxEvent::TimedOut {
                    key,
                    timer: Timer::H
                }
            ),
            (secs(32_000), TxEvent::Terminated { key }),
        ]
    );
}

#[test]
fn ack_confirms_stops_timer_g_and_timer_i_ends_it() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs4");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    txs.respond(Time::ZERO, key, answer(&req, 488))
        .expect("488");
    let mut trace = Trace::default();
    trace.drain(Time::ZERO, &mut txs);
    trace.run_until(&mut txs, secs(2_000));
    // A retransmitted INVITE in Completed gets the final again.
    txs.handle(secs(2_000), peer(Transport::Udp), req);
    trace.drain(secs(2_000), &mut txs);
    assert_eq!(
        txs.handle(secs(2_100), peer(Transport::Udp), ack("z9hG4bKs4")),
        Routed::ToServer(key)
    );
    trace.drain(secs(2_100), &mut txs);
    assert_eq!(txs.state(key), Some(TxState::Confirmed));
    // ACK retransmissions are absorbed in Confirmed.
    assert_eq!(
        txs.handle(secs(3_000), peer(Transport::Udp), ack("z9hG4bKs4")),
        Routed::ToServer(key)
    );
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(trace.sent_times(), [0, 500, 1_500, 2_000].map(secs));
    assert_eq!(
        trace.events,
        vec![
            (secs(2_100), TxEvent::Acked { key }),
            (secs(7_100), TxEvent::Terminated { key }),
        ]
    );
}

#[test]
fn after_a_2xx_invite_retransmissions_are_absorbed_and_acks_go_to_the_tu() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs5");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    let ok = answer(&req, 200);
    txs.respond(secs(100), key, ok.clone()).expect("200");
    assert_eq!(txs.state(key), Some(TxState::Accepted));
    let mut trace = Trace::default();
    trace.drain(secs(100), &mut txs);
    assert_eq!(
        txs.handle(secs(600), peer(Transport::Udp), req.clone()),
        Routed::ToServer(key)
    );
    trace.drain(secs(600), &mut txs);
    assert_eq!(trace.sent.len(), 1, "INVITE retransmission absorbed");
    // The TU's own 2xx retransmission passes (RFC 6026 §8.7); other codes are refused.
    txs.respond(secs(600), key, ok).expect("2xx again");
    trace.drain(secs(600), &mut txs);
    assert!(matches!(
        txs.respond(secs(600), key, answer(&req, 486)),
        Err(TxError::WrongState {
            state: TxState::Accepted,
            code: 486,
            ..
        })
    ));
    // The ACK for a 2xx has its own branch and is the TU's; so is one on the same branch.
    assert!(matches!(
        txs.handle(secs(700), peer(Transport::Udp), ack("z9hG4bKother")),
        Routed::Ack(_)
    ));
    assert!(matches!(
        txs.handle(secs(700), peer(Transport::Udp), ack("z9hG4bKs5")),
        Routed::Ack(_)
    ));
    trace.drain(secs(700), &mut txs);
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(trace.sent_times(), [100, 600].map(secs));
    // RFC 6026 Timer L.
    assert_eq!(
        trace.events,
        vec![(secs(32_100), TxEvent::Terminated { key })]
    );
}

#[test]
fn server_non_invite_resends_its_final_until_timer_j() {
    let mut txs = Transactions::default();
    let req = request(Method::Bye, "z9hG4bKs6");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    assert_eq!(txs.poll_timeout(), None, "no 100 Trying for non-INVITE");
    let mut trace = Trace::default();
    // In Trying, retransmissions are absorbed.
    txs.handle(secs(500), peer(Transport::Udp), req.clone());
    txs.respond(secs(1_000), key, answer(&req, 200))
        .expect("200");
    trace.drain(secs(1_000), &mut txs);
    txs.handle(secs(1_500), peer(Transport::Udp), req.clone());
    trace.drain(secs(1_500), &mut txs);
    assert!(matches!(
        txs.respond(secs(1_600), key, answer(&req, 500)),
        Err(TxError::WrongState {
            state: TxState::Completed,
            ..
        })
    ));
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(trace.sent_times(), [1_000, 1_500].map(secs));
    assert_eq!(
        trace.events,
        vec![(secs(33_000), TxEvent::Terminated { key })]
    );
    // After Timer J the same request is new again.
    assert!(matches!(
        txs.handle(secs(40_000), peer(Transport::Udp), req),
        Routed::NewServer { .. }
    ));
}

#[test]
fn server_non_invite_provisional_is_resent_for_retransmissions() {
    let mut txs = Transactions::default();
    let req = request(Method::Info, "z9hG4bKs7");
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, req.clone());
    txs.respond(secs(10), key, answer(&req, 183)).expect("1xx");
    txs.handle(secs(20), peer(Transport::Udp), req);
    let mut trace = Trace::default();
    trace.drain(secs(20), &mut txs);
    assert_eq!(trace.sent.len(), 2);
    assert_eq!(trace.sent[0].1.bytes, trace.sent[1].1.bytes);
}

#[test]
fn reliable_transport_server_timers_g_i_j_do_not_run() {
    let mut txs = Transactions::default();
    let req = request(Method::Invite, "z9hG4bKs8");
    let key = receive(&mut txs, Time::ZERO, Transport::Tcp, req.clone());
    txs.respond(Time::ZERO, key, answer(&req, 486))
        .expect("486");
    assert_eq!(txs.timer(key, Timer::G), None);
    assert_eq!(
        txs.timer(key, Timer::H),
        Some(secs(32_000)),
        "H runs on TCP too"
    );
    txs.handle(secs(50), peer(Transport::Tcp), ack("z9hG4bKs8"));
    let mut trace = Trace::default();
    trace.drain(secs(50), &mut txs);
    assert_eq!(
        trace.events,
        vec![
            (secs(50), TxEvent::Acked { key }),
            (secs(50), TxEvent::Terminated { key }),
        ],
        "Timer I is zero"
    );
    let bye = request(Method::Bye, "z9hG4bKs9");
    let key = receive(&mut txs, secs(60), Transport::Tcp, bye.clone());
    txs.respond(secs(70), key, answer(&bye, 200)).expect("200");
    trace.drain(secs(70), &mut txs);
    assert_eq!(
        trace.events.last(),
        Some(&(secs(70), TxEvent::Terminated { key })),
        "Timer J is zero"
    );
    assert_eq!(trace.sent.len(), 2, "one response each, no retransmissions");
    assert!(txs.is_empty());
}

#[test]
fn cancel_finds_the_invite_by_branch_and_sent_by() {
    let mut txs = Transactions::default();
    let invite = request(Method::Invite, "z9hG4bKs10");
    let invite_key = receive(&mut txs, Time::ZERO, Transport::Udp, invite);
    match txs.handle(
        secs(10),
        peer(Transport::Udp),
        request(Method::Cancel, "z9hG4bKs10"),
    ) {
        Routed::Cancel { key, invite, .. } => {
            assert_eq!(invite, Some(invite_key));
            assert_ne!(key, invite_key);
            assert_eq!(txs.state(key), Some(TxState::Trying));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        txs.handle(
            secs(10),
            peer(Transport::Udp),
            request(Method::Cancel, "z9hG4bKnothing")
        ),
        Routed::Cancel { invite: None, .. }
    ));
}

#[test]
fn matching_uses_branch_sent_by_and_method() {
    let mut txs = Transactions::default();
    let a = request(Method::Invite, "z9hG4bKsame");
    receive(&mut txs, Time::ZERO, Transport::Udp, a);
    // Same branch, other sent-by: another transaction (§17.2.3).
    let other_host = request_with(
        &Method::Invite,
        &Method::Invite,
        Some("z9hG4bKsame"),
        "192.0.2.77:5062",
    );
    receive(&mut txs, Time::ZERO, Transport::Udp, other_host);
    // Same branch and sent-by, other method: another transaction.
    receive(
        &mut txs,
        Time::ZERO,
        Transport::Udp,
        request(Method::Options, "z9hG4bKsame"),
    );
    // sent-by without port means 5060.
    let implicit = request_with(&Method::Info, &Method::Info, Some("z9hG4bKp"), "192.0.2.1");
    let explicit = request_with(
        &Method::Info,
        &Method::Info,
        Some("z9hG4bKp"),
        "192.0.2.1:5060",
    );
    let k = receive(&mut txs, Time::ZERO, Transport::Udp, implicit);
    assert_eq!(
        txs.handle(Time::ZERO, peer(Transport::Udp), explicit),
        Routed::ToServer(k)
    );
    assert_eq!(txs.len(), 4);
}

#[test]
fn rfc_2543_requests_without_the_magic_cookie_still_match() {
    let mut txs = Transactions::default();
    let invite = request_with(
        &Method::Invite,
        &Method::Invite,
        Some("old1"),
        "192.0.2.1:5062",
    );
    let key = receive(&mut txs, Time::ZERO, Transport::Udp, invite.clone());
    assert_eq!(
        txs.handle(secs(10), peer(Transport::Udp), invite.clone()),
        Routed::ToServer(key)
    );
    txs.respond(secs(20), key, answer(&invite, 404))
        .expect("404");
    let ack = request_with(&Method::Ack, &Method::Ack, Some("old1"), "192.0.2.1:5062");
    assert_eq!(
        txs.handle(secs(30), peer(Transport::Udp), ack),
        Routed::ToServer(key)
    );
    assert_eq!(txs.state(key), Some(TxState::Confirmed));
    // No branch at all.
    let bare = request_with(&Method::Options, &Method::Options, None, "192.0.2.1:5062");
    let k = receive(&mut txs, secs(40), Transport::Udp, bare.clone());
    assert_eq!(
        txs.handle(secs(41), peer(Transport::Udp), bare),
        Routed::ToServer(k)
    );
}

#[test]
fn requests_that_cannot_be_matched_are_reported_invalid() {
    let mut txs = Transactions::default();
    let no_via = SipMessage::parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\nCall-ID: x\r\n\r\n".to_vec(),
    )
    .expect("parses");
    assert!(matches!(
        txs.handle(Time::ZERO, peer(Transport::Udp), no_via),
        Routed::Invalid {
            error: TxError::Via(_),
            ..
        }
    ));
    let mismatch = request_with(&Method::Bye, &Method::Invite, Some("z9hG4bKm"), "192.0.2.1");
    assert!(matches!(
        txs.handle(Time::ZERO, peer(Transport::Udp), mismatch),
        Routed::Invalid {
            error: TxError::CSeqMethodMismatch { .. },
            ..
        }
    ));
    assert!(txs.is_empty());
    let client = txs
        .send_request(
            Time::ZERO,
            PeerAddr::new("192.0.2.9:5060".parse().expect("addr"), Transport::Udp),
            request(Method::Options, "z9hG4bKclient"),
        )
        .expect("client tx");
    let resp = answer(&request(Method::Options, "z9hG4bKclient"), 200);
    assert_eq!(
        txs.respond(Time::ZERO, client, resp.clone()),
        Err(TxError::NotServer(client))
    );
    assert!(matches!(
        txs.respond(Time::ZERO, client, request(Method::Bye, "z9hG4bKq")),
        Err(TxError::WrongMessageKind { .. })
    ));
}
