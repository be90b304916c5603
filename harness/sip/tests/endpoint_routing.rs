//! Where in-dialog requests go (RFC 3261 §8.1.2, §12.2.1.1): the first Route or the
//! remote target when it is an IP literal, the set-up address otherwise or when the
//! endpoint is told to use the flow.

use bytes::Bytes;
use recproof_sip::endpoint::{CallKey, Endpoint, EndpointConfig, EndpointEvent, Extra, NextHop};
use recproof_sip::message::{Method, SipMessage};
use recproof_sip::time::Time;
use recproof_sip::transaction::{PeerAddr, Transmit, Transport};
use std::net::SocketAddr;

fn a_addr() -> SocketAddr {
    "192.0.2.1:5060".parse().expect("addr")
}

fn b_addr() -> SocketAddr {
    "192.0.2.9:5080".parse().expect("addr")
}

fn transmits(ep: &mut Endpoint) -> Vec<Transmit> {
    std::iter::from_fn(|| ep.poll_transmit()).collect()
}

/// Sets up a call from A to B with B advertising `b_contact`, A using `next_hop`, and
/// `extra` on the INVITE. Returns both endpoints, A's call, B's call and the ACK A sent.
fn call(
    b_contact: &str,
    next_hop: NextHop,
    extra: Extra,
) -> (Endpoint, Endpoint, CallKey, CallKey, Transmit) {
    let mut a_cfg = EndpointConfig::new(a_addr(), "sip:src@192.0.2.1:5060", 1);
    a_cfg.next_hop = next_hop;
    let mut b_cfg = EndpointConfig::new(b_addr(), "sip:srs@192.0.2.9:5080", 2);
    b_cfg.contact = b_contact.to_owned();
    let (mut a, mut b) = (Endpoint::new(a_cfg), Endpoint::new(b_cfg));
    let now = Time::ZERO;
    let a_call = a
        .invite(
            now,
            "sip:srs@192.0.2.9:5080",
            PeerAddr::new(b_addr(), Transport::Udp),
            extra,
        )
        .expect("invite");
    for t in transmits(&mut a) {
        b.handle_datagram(now, a_addr(), Transport::Udp, &t.bytes);
    }
    let (b_call, tx) = std::iter::from_fn(|| b.poll_event())
        .find_map(|e| match e {
            EndpointEvent::IncomingRequest { call, tx, .. } => Some((call.expect("call"), tx)),
            _ => None,
        })
        .expect("INVITE");
    b.answer(now, tx, 200, Extra::new()).expect("200");
    for t in transmits(&mut b) {
        assert_eq!(t.to, a_addr(), "responses go back to the source");
        a.handle_datagram(now, b_addr(), Transport::Udp, &t.bytes);
    }
    let mut sent = transmits(&mut a);
    assert_eq!(sent.len(), 1, "just the ACK");
    let ack = sent.remove(0);
    (a, b, a_call, b_call, ack)
}

fn parse(b: &Bytes) -> SipMessage {
    SipMessage::parse(b.clone()).expect("parses")
}

#[test]
fn an_ip_literal_remote_target_is_used() {
    let (_, _, _, _, ack) = call("<sip:srs@198.51.100.7:5090>", NextHop::Uri, Extra::new());
    assert_eq!(
        ack.to,
        "198.51.100.7:5090".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        parse(&ack.bytes).request_uri(),
        Some("sip:srs@198.51.100.7:5090")
    );
}

#[test]
fn flow_policy_and_host_names_use_the_set_up_address() {
    let (_, _, _, _, ack) = call("<sip:srs@198.51.100.7:5090>", NextHop::Flow, Extra::new());
    assert_eq!(ack.to, b_addr());
    assert_eq!(
        parse(&ack.bytes).request_uri(),
        Some("sip:srs@198.51.100.7:5090"),
        "the Request-URI is still the remote target"
    );
    let (_, _, _, _, ack) = call("<sip:srs@srs.example.net>", NextHop::Uri, Extra::new());
    assert_eq!(ack.to, b_addr(), "no DNS in a sans-IO core");
}

#[test]
fn a_transport_parameter_selects_the_transport() {
    let (mut a, _, a_call, _, ack) = call(
        "<sip:srs@192.0.2.9:5080;transport=tcp>",
        NextHop::Uri,
        Extra::new(),
    );
    assert_eq!(ack.transport, Transport::Tcp);
    assert_eq!(parse(&ack.bytes).top_via().expect("via").transport, "TCP");
    a.bye(Time::from_secs(1), a_call, Extra::new())
        .expect("BYE");
    let bye = transmits(&mut a).remove(0);
    assert_eq!((bye.to, bye.transport), (b_addr(), Transport::Tcp));
}

#[test]
fn a_record_routed_call_goes_through_the_proxy_both_ways() {
    let proxy: SocketAddr = "192.0.2.50:5070".parse().expect("addr");
    let (mut a, mut b, a_call, b_call, ack) = call(
        "<sip:srs@192.0.2.9:5080>",
        NextHop::Uri,
        Extra::new().header("Record-Route", "<sip:192.0.2.50:5070;lr>"),
    );
    assert_eq!(ack.to, proxy);
    let ack = parse(&ack.bytes);
    assert_eq!(ack.header_list("Route"), ["<sip:192.0.2.50:5070;lr>"]);
    assert_eq!(ack.request_uri(), Some("sip:srs@192.0.2.9:5080"));
    assert_eq!(a.dialog(a_call).expect("dialog").route_set().len(), 1);

    b.request(Time::from_secs(1), b_call, &Method::Info, Extra::new())
        .expect("INFO");
    let info = transmits(&mut b).remove(0);
    assert_eq!(info.to, proxy);
    let info = parse(&info.bytes);
    assert_eq!(info.request_uri(), Some("sip:src@192.0.2.1:5060"));
    assert_eq!(info.header_list("Route"), ["<sip:192.0.2.50:5070;lr>"]);
    assert_eq!(info.header_value("CSeq"), Some("1 INFO"));
    assert_eq!(
        a.request(Time::from_secs(1), a_call, &Method::Ack, Extra::new()),
        Err(recproof_sip::endpoint::EndpointError::UseDedicatedCommand(
            "send_ack()"
        ))
    );
    let _ = transmits(&mut a);
}
