//! Client transactions (RFC 3261 §17.1) against a simulated clock: exact retransmission
//! times and counts, timeouts, the ACK for non-2xx, matching, and reliable transports.

use recproof_sip::message::{MessageBuilder, Method, SipMessage};
use recproof_sip::time::Time;
use recproof_sip::transaction::{
    PeerAddr, Routed, Timer, Transactions, Transmit, Transport, TxError, TxEvent, TxKey, TxState,
    cancel_for,
};

const BRANCH: &str = "z9hG4bKclient1";

fn peer(transport: Transport) -> PeerAddr {
    PeerAddr::new("192.0.2.9:5060".parse().expect("addr"), transport)
}

fn request(method: Method, branch: &str) -> SipMessage {
    MessageBuilder::request(&method, "sip:srs@192.0.2.9:5060")
        .header(
            "Via",
            &format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"),
        )
        .header("Route", "<sip:p1.example.net;lr>")
        .header("Max-Forwards", "70")
        .header("From", "<sip:src@192.0.2.1>;tag=from1")
        .header("To", "<sip:srs@192.0.2.9>")
        .header("Call-ID", "call-1@192.0.2.1")
        .header("CSeq", &format!("7 {method}"))
        .build()
        .expect("request builds")
}

fn response(req: &SipMessage, code: u16) -> SipMessage {
    let tag = (code > 100).then_some("to9");
    MessageBuilder::response_to(req, code, "Reason", tag)
        .header("Contact", "<sip:srs@192.0.2.9:5060>")
        .build()
        .expect("response builds")
}

fn secs(ms: u64) -> Time {
    Time::from_millis(ms)
}

/// What the table produced, stamped with the simulated time.
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

    /// Jumps from deadline to deadline, up to and including `until`.
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

fn start(
    txs: &mut Transactions,
    transport: Transport,
    method: Method,
) -> (TxKey, SipMessage, Trace) {
    let req = request(method, BRANCH);
    let key = txs
        .send_request(Time::ZERO, peer(transport), req.clone())
        .expect("send");
    let mut trace = Trace::default();
    trace.drain(Time::ZERO, txs);
    (key, req, trace)
}

#[test]
fn timer_a_doubles_from_t1_and_timer_b_times_out_at_64_t1() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    trace.run_until(&mut txs, secs(100_000));
    // RFC 3261 §17.1.1.2: sent at 0, then Timer A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    assert_eq!(
        trace.sent_times(),
        [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500].map(secs)
    );
    assert!(trace.sent.iter().all(|(_, t)| t.bytes == *req.raw()));
    assert!(trace.sent.iter().all(|(_, t)| t.tx == Some(key)));
    assert_eq!(
        trace.events,
        vec![
            (
                secs(32_000),
                TxEvent::TimedOut {
                    key,
                    timer: Timer::B
                }
            ),
            (secs(32_000), TxEvent::Terminated { key }),
        ]
    );
    assert_eq!(txs.state(key), None);
    assert!(txs.is_empty());
}

#[test]
fn timer_e_doubles_up_to_t2_and_timer_f_times_out_at_64_t1() {
    let mut txs = Transactions::default();
    let (key, _, mut trace) = start(&mut txs, Transport::Udp, Method::Options);
    trace.run_until(&mut txs, secs(100_000));
    // §17.1.2.2: intervals 0.5, 1, 2, 4, then capped at T2 = 4 s.
    assert_eq!(
        trace.sent_times(),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(secs)
    );
    assert_eq!(
        trace.events,
        vec![
            (
                secs(32_000),
                TxEvent::TimedOut {
                    key,
                    timer: Timer::F
                }
            ),
            (secs(32_000), TxEvent::Terminated { key }),
        ]
    );
}

#[test]
fn non_invite_in_proceeding_retransmits_every_t2() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Bye);
    let trying = response(&req, 100);
    assert_eq!(
        txs.handle(secs(200), peer(Transport::Udp), trying.clone()),
        Routed::ToClient(key)
    );
    trace.drain(secs(200), &mut txs);
    assert_eq!(txs.state(key), Some(TxState::Proceeding));
    trace.run_until(&mut txs, secs(100_000));
    // Timer E keeps its 0.5 s deadline, then fires every T2 (§17.1.2.2).
    assert_eq!(
        trace.sent_times(),
        [0, 500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500].map(secs)
    );
    assert_eq!(
        trace.events,
        vec![
            (
                secs(200),
                TxEvent::Provisional {
                    key,
                    response: trying
                }
            ),
            (
                secs(32_000),
                TxEvent::TimedOut {
                    key,
                    timer: Timer::F
                }
            ),
            (secs(32_000), TxEvent::Terminated { key }),
        ]
    );
}

#[test]
fn provisional_stops_invite_retransmissions_and_timer_b() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    trace.run_until(&mut txs, secs(1_000));
    txs.handle(secs(1_000), peer(Transport::Udp), response(&req, 180));
    trace.drain(secs(1_000), &mut txs);
    assert_eq!(txs.state(key), Some(TxState::Proceeding));
    assert_eq!(txs.poll_timeout(), None, "no timer runs in Proceeding");
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(trace.sent_times(), [0, 500].map(secs));
}

#[test]
fn ack_for_non_2xx_reuses_the_branch_and_is_resent_for_retransmissions() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    let busy = response(&req, 486);
    trace.run_until(&mut txs, secs(1_000));
    txs.handle(secs(1_000), peer(Transport::Udp), busy.clone());
    trace.drain(secs(1_000), &mut txs);
    let (_, ack) = trace.sent.last().expect("ACK sent");
    let ack = SipMessage::parse(ack.bytes.clone()).expect("ACK parses");
    // §17.1.1.3.
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), req.request_uri());
    let vias = ack.vias().expect("vias");
    assert_eq!(vias.len(), 1);
    assert_eq!(vias[0].branch.as_deref(), Some(BRANCH));
    assert_eq!(ack.to_header().expect("to").tag(), Some("to9"));
    assert_eq!(ack.from_header().expect("from").tag(), Some("from1"));
    assert_eq!(ack.header_value("CSeq"), Some("7 ACK"));
    assert_eq!(ack.call_id(), req.call_id());
    assert_eq!(ack.header_list("Route"), vec!["<sip:p1.example.net;lr>"]);
    assert_eq!(
        trace.events,
        vec![(
            secs(1_000),
            TxEvent::Final {
                key,
                response: busy.clone()
            }
        )]
    );
    assert_eq!(txs.state(key), Some(TxState::Completed));

    // A retransmitted 486 is ACKed again with the same bytes and not passed up.
    txs.handle(secs(2_000), peer(Transport::Udp), busy);
    trace.drain(secs(2_000), &mut txs);
    assert_eq!(trace.sent.len(), 4, "INVITE at 0 and 0.5, ACK, ACK again");
    assert_eq!(trace.sent[2].1.bytes, trace.sent[3].1.bytes);
    assert_eq!(trace.events.len(), 1);

    // Timer D: 32 s after the final response.
    assert_eq!(txs.timer(key, Timer::D), Some(secs(33_000)));
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(
        trace.events.last(),
        Some(&(secs(33_000), TxEvent::Terminated { key }))
    );
}

#[test]
fn every_2xx_reaches_the_tu_until_timer_m() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    let ok = response(&req, 200);
    trace.run_until(&mut txs, secs(1_000));
    for at in [1_000, 1_500, 2_500] {
        assert_eq!(
            txs.handle(secs(at), peer(Transport::Udp), ok.clone()),
            Routed::ToClient(key)
        );
        trace.drain(secs(at), &mut txs);
    }
    assert_eq!(txs.state(key), Some(TxState::Accepted));
    assert_eq!(
        trace.sent.len(),
        2,
        "INVITE at 0 and 0.5; the transaction never ACKs a 2xx"
    );
    trace.run_until(&mut txs, secs(100_000));
    let finals = trace
        .events
        .iter()
        .filter(|(_, e)| matches!(e, TxEvent::Final { .. }))
        .count();
    assert_eq!(finals, 3);
    // RFC 6026 Timer M = 64*T1 after the first 2xx.
    assert_eq!(
        trace.events.last(),
        Some(&(secs(33_000), TxEvent::Terminated { key }))
    );
}

#[test]
fn reliable_transport_never_retransmits_but_still_times_out() {
    for method in [Method::Invite, Method::Options] {
        let mut txs = Transactions::default();
        let (key, _, mut trace) = start(&mut txs, Transport::Tcp, method.clone());
        trace.run_until(&mut txs, secs(100_000));
        assert_eq!(trace.sent_times(), vec![Time::ZERO], "{method}");
        let timer = if method == Method::Invite {
            Timer::B
        } else {
            Timer::F
        };
        assert_eq!(
            trace.events,
            vec![
                (secs(32_000), TxEvent::TimedOut { key, timer }),
                (secs(32_000), TxEvent::Terminated { key }),
            ],
            "{method}"
        );
    }
}

#[test]
fn reliable_transport_timers_d_and_k_are_zero() {
    let mut txs = Transactions::default();
    let (invite, req, mut trace) = start(&mut txs, Transport::Tcp, Method::Invite);
    txs.handle(secs(300), peer(Transport::Tcp), response(&req, 603));
    trace.drain(secs(300), &mut txs);
    assert_eq!(trace.sent.len(), 2, "INVITE and ACK");
    assert!(matches!(trace.events.as_slice(), [
        (_, TxEvent::Final { .. }),
        (t, TxEvent::Terminated { key }),
    ] if *t == secs(300) && *key == invite));

    let (bye, req, mut trace) = {
        let req = request(Method::Bye, "z9hG4bKbye");
        let key = txs
            .send_request(secs(400), peer(Transport::Tcp), req.clone())
            .expect("send");
        (key, req, Trace::default())
    };
    txs.handle(secs(450), peer(Transport::Tcp), response(&req, 200));
    trace.drain(secs(450), &mut txs);
    assert_eq!(
        trace.events.last(),
        Some(&(secs(450), TxEvent::Terminated { key: bye }))
    );
    assert!(txs.is_empty());
}

#[test]
fn timer_k_lingers_t4_after_a_non_invite_final() {
    let mut txs = Transactions::default();
    let (key, req, mut trace) = start(&mut txs, Transport::Udp, Method::Info);
    let ok = response(&req, 200);
    txs.handle(secs(100), peer(Transport::Udp), ok.clone());
    // Response retransmissions in Completed are absorbed.
    txs.handle(secs(600), peer(Transport::Udp), ok);
    trace.drain(secs(600), &mut txs);
    trace.run_until(&mut txs, secs(100_000));
    assert_eq!(trace.sent_times(), vec![Time::ZERO]);
    assert_eq!(trace.events.len(), 2);
    assert_eq!(trace.events[1], (secs(5_100), TxEvent::Terminated { key }));
}

#[test]
fn spurious_and_repeated_timeouts_change_nothing() {
    let mut txs = Transactions::default();
    let (_, _, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    for at in [0, 1, 100, 499] {
        txs.handle_timeout(secs(at));
        trace.drain(secs(at), &mut txs);
    }
    assert_eq!(trace.sent.len(), 1);
    txs.handle_timeout(secs(500));
    txs.handle_timeout(secs(500));
    txs.handle_timeout(secs(501));
    trace.drain(secs(501), &mut txs);
    assert_eq!(trace.sent.len(), 2, "Timer A fired once");
    assert_eq!(txs.poll_timeout(), Some(secs(1_500)));
}

#[test]
fn responses_match_on_branch_and_cseq_method_only() {
    let mut txs = Transactions::default();
    let (key, req, _) = start(&mut txs, Transport::Udp, Method::Invite);
    let other_branch = request(Method::Invite, "z9hG4bKother");
    assert!(matches!(
        txs.handle(secs(10), peer(Transport::Udp), response(&other_branch, 200)),
        Routed::StrayResponse(_)
    ));
    let cancel_resp = MessageBuilder::response_to(&req, 200, "OK", None)
        .build()
        .expect("builds");
    let cancel_resp = SipMessage::parse(
        String::from_utf8_lossy(cancel_resp.raw())
            .replace("CSeq: 7 INVITE", "CSeq: 7 CANCEL")
            .into_bytes(),
    )
    .expect("parses");
    assert!(matches!(
        txs.handle(secs(10), peer(Transport::Udp), cancel_resp),
        Routed::StrayResponse(_)
    ));
    let no_via =
        SipMessage::parse(b"SIP/2.0 200 OK\r\nCSeq: 7 INVITE\r\n\r\n".to_vec()).expect("parses");
    assert!(matches!(
        txs.handle(secs(10), peer(Transport::Udp), no_via),
        Routed::Invalid {
            error: TxError::Via(_),
            ..
        }
    ));
    assert_eq!(txs.state(key), Some(TxState::Calling));
}

#[test]
fn send_request_refuses_what_cannot_be_a_client_transaction() {
    let mut txs = Transactions::default();
    let to = peer(Transport::Udp);
    assert_eq!(
        txs.send_request(Time::ZERO, to, request(Method::Ack, BRANCH)),
        Err(TxError::AckIsNotATransaction)
    );
    assert_eq!(
        txs.send_request(Time::ZERO, to, request(Method::Invite, "1234")),
        Err(TxError::NotRfc3261Branch("1234".into()))
    );
    let mismatched = SipMessage::parse(
        String::from_utf8_lossy(request(Method::Bye, BRANCH).raw())
            .replace("CSeq: 7 BYE", "CSeq: 7 INFO")
            .into_bytes(),
    )
    .expect("parses");
    assert!(matches!(
        txs.send_request(Time::ZERO, to, mismatched),
        Err(TxError::CSeqMethodMismatch { .. })
    ));
    txs.send_request(Time::ZERO, to, request(Method::Invite, BRANCH))
        .expect("first");
    assert!(matches!(
        txs.send_request(Time::ZERO, to, request(Method::Invite, BRANCH)),
        Err(TxError::Duplicate { .. })
    ));
    let resp = response(&request(Method::Invite, BRANCH), 200);
    assert!(matches!(
        txs.send_request(Time::ZERO, to, resp),
        Err(TxError::WrongMessageKind { .. })
    ));
}

#[test]
fn cancel_is_its_own_transaction_on_the_invite_branch() {
    let mut txs = Transactions::default();
    let (invite, req, mut trace) = start(&mut txs, Transport::Udp, Method::Invite);
    txs.handle(secs(100), peer(Transport::Udp), response(&req, 180));
    let cancel = cancel_for(&req).expect("cancel").build().expect("builds");
    assert_eq!(cancel.header_value("CSeq"), Some("7 CANCEL"));
    assert_eq!(
        cancel.top_via().expect("via").branch.as_deref(),
        Some(BRANCH)
    );
    assert_eq!(cancel.header_value("To"), req.header_value("To"));
    assert_eq!(cancel.header_list("Route"), req.header_list("Route"));
    let cancel_key = txs
        .send_request(secs(200), peer(Transport::Udp), cancel.clone())
        .expect("CANCEL starts");
    assert_ne!(cancel_key, invite);
    assert_eq!(
        txs.handle(secs(300), peer(Transport::Udp), response(&cancel, 200)),
        Routed::ToClient(cancel_key)
    );
    assert_eq!(
        txs.handle(secs(310), peer(Transport::Udp), response(&req, 487)),
        Routed::ToClient(invite)
    );
    trace.drain(secs(310), &mut txs);
    let last = SipMessage::parse(trace.sent.last().expect("ack").1.bytes.clone()).expect("parses");
    assert_eq!(last.method(), Some(&Method::Ack));
    assert_eq!(last.top_via().expect("via").branch.as_deref(), Some(BRANCH));
    assert!(cancel_for(&request(Method::Bye, BRANCH)).is_err());
}

#[test]
fn transport_error_terminates_the_transaction() {
    let mut txs = Transactions::default();
    let (key, _, mut trace) = start(&mut txs, Transport::Tcp, Method::Invite);
    txs.handle_transport_error(secs(5), key);
    trace.drain(secs(5), &mut txs);
    assert_eq!(
        trace.events,
        vec![
            (secs(5), TxEvent::TransportError { key }),
            (secs(5), TxEvent::Terminated { key }),
        ]
    );
    assert_eq!(txs.poll_timeout(), None);
    // Unknown keys are ignored.
    txs.handle_transport_error(secs(6), key);
    assert_eq!(txs.poll_event(), None);
}
