//! Interop with SIPp (Debian `sip-tester`) on loopback, over UDP and TCP:
//! SIPp's built-in `uac` against a recproof UAS, and a recproof UAC against SIPp's `uas`.
//!
//! SIPp is an independent implementation: if our transactions, dialogs, ACK handling or
//! TCP framing were wrong, its scenario would fail (it exits non-zero when a call fails).
//! Without SIPp installed each test prints `skipped: ...` and passes, unless
//! `RECPROOF_REQUIRE_TOOLS=1` (CI), which fails it.

use recproof_net::transport::Transport;
use recproof_net::ua::{UaDriver, WireRecord};
use sip::endpoint::{EndpointEvent, Extra, RequestContext};
use sip::message::{Method, SipMessage};
use sip::sdp::{Direction, SdpBuilder, StreamSpec};
use sip::transaction::PeerAddr;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn sipp() -> Option<&'static str> {
    testkit::tool("sipp", "-v").then_some("sipp")
}

/// A free loopback port for SIPp (bound and released; the race is harmless on loopback).
fn free_port() -> u16 {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let tcp = std::net::TcpListener::bind(udp.local_addr().expect("addr"));
    match tcp {
        Ok(_) => udp.local_addr().expect("addr").port(),
        Err(_) => free_port(),
    }
}

fn transport_flag(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "u1",
        Transport::Tcp => "t1",
    }
}

fn sdp(port: u16) -> Vec<u8> {
    SdpBuilder::new("127.0.0.1".parse().expect("ip"), 1, 1)
        .stream(StreamSpec::audio(port).direction(Direction::SendRecv))
        .build()
        .to_bytes()
}

async fn ua() -> (UaDriver, Arc<Mutex<Vec<WireRecord>>>) {
    let mut ua = UaDriver::bind("127.0.0.1:0".parse().expect("addr"), "recproof", 11)
        .await
        .expect("bind");
    let wire = Arc::new(Mutex::new(Vec::new()));
    let w = wire.clone();
    ua.set_tap(Box::new(move |r| w.lock().expect("lock").push(r)));
    (ua, wire)
}

fn methods_seen(wire: &Mutex<Vec<WireRecord>>, sent: bool) -> Vec<String> {
    wire.lock()
        .expect("lock")
        .iter()
        .filter(|r| r.sent == sent)
        .filter_map(|r| SipMessage::parse(r.bytes.clone()).ok())
        .map(|m| match (m.method(), m.status()) {
            (Some(method), _) => method.to_string(),
            (None, Some(code)) => code.to_string(),
            _ => "?".into(),
        })
        .collect()
}

async fn wait_sipp(mut child: tokio::process::Child, what: &str) {
    let status = tokio::time::timeout(LIMIT, child.wait()).await;
    match status {
        Ok(Ok(s)) if s.success() => {}
        Ok(Ok(s)) => {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = e.read_to_string(&mut err).await;
            }
            panic!("{what}: sipp exited with {s}: {err}");
        }
        Ok(Err(e)) => panic!("{what}: waiting for sipp: {e}"),
        Err(_) => {
            let _ = child.kill().await;
            panic!("{what}: sipp did not finish within {LIMIT:?}");
        }
    }
}

/// SIPp `uac` calls a recproof UAS: INVITE, 180, 200 (SDP), ACK, BYE, 200.
async fn sipp_uac_against_recproof_uas(transport: Transport) {
    let Some(sipp) = sipp() else { return };
    let (mut ua, wire) = ua().await;
    let target = ua.local_addr();
    let dir = std::env::temp_dir().join(format!(
        "recproof-sipp-uac-{}-{}",
        std::process::id(),
        transport_flag(transport)
    ));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let child = tokio::process::Command::new(sipp)
        .current_dir(&dir)
        .args([
            "-sn",
            "uac",
            &target.to_string(),
            "-m",
            "1",
            "-t",
            transport_flag(transport),
        ])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-d",
            "200",
        ])
        .args([
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sipp");

    let mut answered_bye = false;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !answered_bye && tokio::time::Instant::now() < deadline {
        let Some(event) = ua.next_event(Duration::from_secs(1)).await else {
            continue;
        };
        if let EndpointEvent::IncomingRequest {
            tx,
            request,
            context,
            ..
        } = event
        {
            let now = ua.now();
            match (request.method(), context) {
                (Some(Method::Invite), RequestContext::NewCall) => {
                    ua.endpoint()
                        .answer(now, tx, 180, Extra::new())
                        .expect("180");
                    ua.endpoint()
                        .answer(
                            now,
                            tx,
                            200,
                            Extra::new().body("application/sdp", sdp(40_000)),
                        )
                        .expect("200");
                }
                (Some(Method::Bye), _) => {
                    ua.endpoint()
                        .answer(now, tx, 200, Extra::new())
                        .expect("200 to BYE");
                    answered_bye = true;
                }
                (Some(_), _) => ua
                    .endpoint()
                    .answer(now, tx, 200, Extra::new())
                    .expect("200"),
                (None, _) => {}
            }
        }
    }
    ua.flush().await;
    assert!(
        answered_bye,
        "SIPp never sent BYE; recproof saw {:?}",
        methods_seen(&wire, false)
    );
    wait_sipp(child, "sipp uac").await;
    let received = methods_seen(&wire, false);
    for m in ["INVITE", "ACK", "BYE"] {
        assert!(
            received.contains(&m.to_owned()),
            "{m} not received: {received:?}"
        );
    }
    let sent = methods_seen(&wire, true);
    assert!(
        sent.starts_with(&["180".to_owned(), "200".to_owned()]),
        "{sent:?}"
    );
    assert!(
        wire.lock()
            .expect("lock")
            .iter()
            .all(|r| r.transport == transport)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A recproof UAC calls SIPp `uas`: INVITE, 180, 200, ACK, then BYE and its 200.
async fn recproof_uac_against_sipp_uas(transport: Transport) {
    let Some(sipp) = sipp() else { return };
    let port = free_port();
    let dir = std::env::temp_dir().join(format!(
        "recproof-sipp-uas-{}-{}",
        std::process::id(),
        transport_flag(transport)
    ));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let child = tokio::process::Command::new(sipp)
        .current_dir(&dir)
        .args([
            "-sn",
            "uas",
            "-m",
            "1",
            "-t",
            transport_flag(transport),
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args([
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sipp");
    // Give SIPp a moment to bind before we send (UDP would be retransmitted anyway; a
    // TCP connect must not race the listener).
    let sipp_addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    for _ in 0..50 {
        if transport == Transport::Udp || tokio::net::TcpStream::connect(sipp_addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if transport == Transport::Udp {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let (mut ua, wire) = ua().await;
    let now = ua.now();
    let call = ua
        .endpoint()
        .invite(
            now,
            &format!("sip:service@{sipp_addr}"),
            PeerAddr::new(sipp_addr, transport),
            Extra::new().body("application/sdp", sdp(40_010)),
        )
        .expect("invite");
    let mut established = false;
    let mut ended = None;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while ended.is_none() && tokio::time::Instant::now() < deadline {
        let Some(event) = ua.next_event(Duration::from_secs(1)).await else {
            continue;
        };
        match event {
            EndpointEvent::DialogEstablished { call: c, .. } if c == call && !established => {
                established = true;
                // Hold the call briefly, then hang up.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = ua.now();
                ua.endpoint().bye(now, call, Extra::new()).expect("bye");
            }
            EndpointEvent::DialogTerminated { call: c, reason } if c == call => {
                ended = Some(reason)
            }
            EndpointEvent::IncomingRequest { tx, .. } => {
                let now = ua.now();
                ua.endpoint()
                    .answer(now, tx, 200, Extra::new())
                    .expect("answer");
            }
            _ => {}
        }
    }
    ua.flush().await;
    assert!(
        established,
        "no dialog with SIPp; wire: sent {:?} received {:?}",
        methods_seen(&wire, true),
        methods_seen(&wire, false)
    );
    assert_eq!(
        ended,
        Some(sip::endpoint::EndReason::ByeSent),
        "received {:?}",
        methods_seen(&wire, false)
    );
    wait_sipp(child, "sipp uas").await;
    let sent = methods_seen(&wire, true);
    for m in ["INVITE", "ACK", "BYE"] {
        assert!(sent.contains(&m.to_owned()), "{m} not sent: {sent:?}");
    }
    let received = methods_seen(&wire, false);
    assert!(received.contains(&"200".to_owned()), "{received:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sipp_uac_to_recproof_uas_udp() {
    sipp_uac_against_recproof_uas(Transport::Udp).await;
}

#[tokio::test]
async fn sipp_uac_to_recproof_uas_tcp() {
    sipp_uac_against_recproof_uas(Transport::Tcp).await;
}

#[tokio::test]
async fn recproof_uac_to_sipp_uas_udp() {
    recproof_uac_against_sipp_uas(Transport::Udp).await;
}

#[tokio::test]
async fn recproof_uac_to_sipp_uas_tcp() {
    recproof_uac_against_sipp_uas(Transport::Tcp).await;
}
