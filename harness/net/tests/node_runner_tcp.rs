//! SIP over TCP in the real-socket node runner: messages framed from streams reach the
//! nodes tagged TCP, replies go back over the connection they came on, a node's own
//! TCP message opens a connection, and every bound a hostile peer can reach (slow-loris,
//! half-open, unframeable, too many connections, a peer that does not read) closes the
//! connection with a finding in the log carrying the bytes, while the runner carries on.

use bytes::Bytes;
use observe::{Actor, Event, Observation};
use recproof_net::node_runner::{NodeRunner, TcpLimits};
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A SIP-shaped message of `body` bytes.
fn message(tag: &str, body: usize) -> Vec<u8> {
    let mut m =
        format!("MESSAGE sip:{tag}@x SIP/2.0\r\nContent-Length: {body}\r\n\r\n").into_bytes();
    m.resize(m.len() + body, b'b');
    m
}

/// Logs each arrival (its transport, source and length) and, when `echo`, sends it back
/// to where it came from over the same transport. With `send_to`, sends one message over
/// TCP at its first timeout.
struct Echo {
    name: String,
    addr: SocketAddr,
    echo: bool,
    send_to: Option<SocketAddr>,
    out: VecDeque<Datagram>,
    obs: VecDeque<Observation>,
}

impl Echo {
    fn new(name: &str, addr: SocketAddr, echo: bool, send_to: Option<SocketAddr>) -> Self {
        Self {
            name: name.into(),
            addr,
            echo,
            send_to,
            out: VecDeque::new(),
            obs: VecDeque::new(),
        }
    }
}

impl Node for Echo {
    fn name(&self) -> &str {
        &self.name
    }
    fn addresses(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }
    fn sip_addresses(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }
    fn handle_datagram(&mut self, now: Time, d: Datagram) {
        self.obs.push_back(Observation {
            t_us: now.as_micros(),
            call: None,
            actor: Actor::Harness,
            event: Event::PlatformAction {
                action: self.name.clone(),
                detail: format!(
                    "{:?} from {} to {} len {}",
                    d.transport,
                    d.from,
                    d.to,
                    d.bytes.len()
                ),
            },
        });
        if self.echo {
            self.out.push_back(Datagram {
                from: self.addr,
                to: d.from,
                transport: d.transport,
                bytes: d.bytes,
            });
        }
    }
    fn handle_timeout(&mut self, _now: Time) {
        if let Some(to) = self.send_to.take() {
            self.out.push_back(Datagram {
                from: self.addr,
                to,
                transport: Transport::Tcp,
                bytes: Bytes::from(message("hello", 5)),
            });
        }
    }
    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.send_to.map(|_| Time::ZERO)
    }
    fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn free_addr() -> SocketAddr {
    let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

fn arrivals(seen: &[Observation], node: &str) -> Vec<String> {
    seen.iter()
        .filter_map(|o| match &o.event {
            Event::PlatformAction { action, detail } if action == node => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

fn findings(seen: &[Observation]) -> Vec<(String, Vec<u8>)> {
    seen.iter()
        .filter_map(|o| match &o.event {
            Event::SipMalformed {
                transport,
                reason,
                message,
                ..
            } if transport == "tcp" && o.actor == Actor::Harness => {
                Some((reason.clone(), message.to_bytes()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_node_opens_a_connection_and_the_reply_comes_back_over_it() {
    let (a, b) = (free_addr(), free_addr());
    let nodes: Vec<Box<dyn Node>> = vec![
        Box::new(Echo::new("a", a, false, Some(b))),
        Box::new(Echo::new("b", b, true, None)),
    ];
    let mut runner = NodeRunner::bind(nodes).await.expect("bind");
    let mut seen = Vec::new();
    runner
        .run(Duration::from_millis(300), std::future::pending(), |o| {
            seen.push(o)
        })
        .await;
    let at_b = arrivals(&seen, "b");
    let at_a = arrivals(&seen, "a");
    assert_eq!(at_b.len(), 1, "{at_b:?}");
    // b sees a's connection from an ephemeral port on a's IP, not a's listening port.
    assert!(at_b[0].starts_with("Tcp from 127.0.0.1:"), "{at_b:?}");
    assert!(!at_b[0].contains(&format!("from {a} ")), "{at_b:?}");
    // The echo came back over the connection a opened, to a's own address.
    let len = message("hello", 5).len();
    assert_eq!(at_a, vec![format!("Tcp from {b} to {a} len {len}")]);
    // One connection, reused both ways: its two ends (a's and b's) are both in this
    // runner; a reply over a new connection would make a third.
    assert_eq!(runner.tcp_connections(), 2);
    assert!(findings(&seen).is_empty(), "{:?}", findings(&seen));
}

/// A runner with one echo node and small bounds, and a hostile peer script run beside it.
async fn hostile<F, Fut>(limits: TcpLimits, run_for: Duration, peer: F) -> Vec<Observation>
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let addr = free_addr();
    let nodes: Vec<Box<dyn Node>> = vec![Box::new(Echo::new("srv", addr, true, None))];
    let mut runner = NodeRunner::bind_with(nodes, limits).await.expect("bind");
    let script = tokio::spawn(peer(addr));
    let mut seen = Vec::new();
    runner
        .run(run_for, std::future::pending(), |o| seen.push(o))
        .await;
    script.await.expect("the peer script ran to its end");
    seen
}

fn small() -> TcpLimits {
    TcpLimits {
        per_peer: 3,
        total: 100,
        message_time: Duration::from_millis(300),
        first_message_time: Duration::from_millis(300),
        connect_time: Duration::from_millis(300),
        write_time: Duration::from_millis(300),
        queue: 4,
    }
}

/// Reads until the runner closes the connection; returns what was read, or panics if it
/// stays open for `within`.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the runner closed the connection");
    got
}

#[tokio::test]
async fn slow_loris_half_open_and_unframeable_peers_are_closed_with_evidence() {
    let seen = hostile(small(), Duration::from_millis(1_500), |srv| async move {
        // Slow-loris: half a head, then nothing.
        let mut slow = TcpStream::connect(srv).await.expect("connect");
        slow.write_all(b"INVITE sip:slow@x SIP/2.0\r\nVia: SIP/2.0/TCP ")
            .await
            .expect("write");
        // Half-open: connects and never sends.
        let mut silent = TcpStream::connect(srv).await.expect("connect");
        // Unframeable: no Content-Length on a stream.
        let mut bad = TcpStream::connect(srv).await.expect("connect");
        bad.write_all(b"BYE sip:bad@x SIP/2.0\r\nCall-ID: q\r\n\r\n")
            .await
            .expect("write");
        assert!(
            until_closed(&mut bad, Duration::from_millis(200))
                .await
                .is_empty()
        );
        assert!(
            until_closed(&mut slow, Duration::from_millis(800))
                .await
                .is_empty()
        );
        assert!(
            until_closed(&mut silent, Duration::from_millis(800))
                .await
                .is_empty()
        );
        // The runner carries on: a good message afterwards is echoed.
        let mut good = TcpStream::connect(srv).await.expect("connect");
        let m = message("good", 10);
        good.write_all(&m).await.expect("write");
        let mut back = vec![0u8; m.len()];
        good.read_exact(&mut back).await.expect("echo");
        assert_eq!(back, m);
    })
    .await;
    let found = findings(&seen);
    let reasons: Vec<&str> = found.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(found.len(), 3, "{reasons:?}");
    let about = |needle: &str| {
        found
            .iter()
            .find(|(r, _)| r.contains(needle))
            .unwrap_or_else(|| panic!("a finding about {needle}: {reasons:?}"))
    };
    let (_, bytes) = about("Content-Length");
    assert!(
        bytes.starts_with(b"BYE sip:bad@x"),
        "the unframed bytes are the evidence"
    );
    let (_, bytes) = about("a message begun did not arrive whole");
    assert!(
        bytes.starts_with(b"INVITE sip:slow@x"),
        "the slow bytes are the evidence"
    );
    let (_, bytes) = about("a first message did not arrive whole");
    assert!(bytes.is_empty());
    assert_eq!(
        arrivals(&seen, "srv").len(),
        1,
        "only the good message reached the node"
    );
}

#[tokio::test]
async fn connections_beyond_the_per_peer_bound_are_refused_and_logged() {
    let seen = hostile(small(), Duration::from_millis(600), |srv| async move {
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut s = TcpStream::connect(srv).await.expect("connect");
            s.write_all(&message("held", 0)).await.expect("write");
            held.push(s);
        }
        // Let the runner count the three before the fourth arrives.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut fourth = TcpStream::connect(srv).await.expect("connect");
        let _ = fourth.write_all(&message("fourth", 0)).await;
        assert!(
            until_closed(&mut fourth, Duration::from_millis(300))
                .await
                .is_empty()
        );
        // The three held connections still work.
        for s in &mut held {
            let mut back = vec![0u8; message("held", 0).len()];
            s.read_exact(&mut back).await.expect("echo");
        }
    })
    .await;
    let found = findings(&seen);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].0.contains("3 TCP connections with 127.0.0.1"),
        "{found:?}"
    );
    assert_eq!(arrivals(&seen, "srv").len(), 3);
}

#[tokio::test]
async fn a_one_megabyte_body_arrives_whole() {
    let seen = hostile(
        TcpLimits::default(),
        Duration::from_millis(800),
        |srv| async move {
            let mut s = TcpStream::connect(srv).await.expect("connect");
            let m = message("big", 1 << 20);
            // In pieces, as a stream delivers it.
            for piece in m.chunks(50_000) {
                s.write_all(piece).await.expect("write");
            }
            let mut back = vec![0u8; m.len()];
            s.read_exact(&mut back).await.expect("echo");
            assert_eq!(back, m);
        },
    )
    .await;
    let at = arrivals(&seen, "srv");
    assert_eq!(at.len(), 1);
    assert!(
        at[0].ends_with(&format!("len {}", message("big", 1 << 20).len())),
        "{at:?}"
    );
}

#[tokio::test]
async fn a_peer_that_does_not_read_is_cut_off_without_stalling_the_runner() {
    let seen = hostile(small(), Duration::from_millis(2_500), |srv| async move {
        // Send 400 messages of 60 KB and never read the echoes: the kernel's buffers fill,
        // the runner's write times out, and it closes the connection.
        let stalled = TcpStream::connect(srv).await.expect("connect");
        let (_read, mut write) = stalled.into_split();
        let m = message("stall", 60_000);
        for _ in 0..400 {
            if write.write_all(&m).await.is_err() {
                break;
            }
        }
        // Meanwhile another peer is served.
        let mut other = TcpStream::connect(srv).await.expect("connect");
        let small_msg = message("other", 3);
        other.write_all(&small_msg).await.expect("write");
        let mut back = vec![0u8; small_msg.len()];
        tokio::time::timeout(Duration::from_millis(500), other.read_exact(&mut back))
            .await
            .expect("served while the other peer stalls")
            .expect("echo");
    })
    .await;
    let found = findings(&seen);
    assert!(
        found
            .iter()
            .any(|(r, _)| r.contains("is not reading") || r.contains("does not read")),
        "{:?}",
        found.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_peer_that_half_closes_still_gets_its_answer() {
    let seen = hostile(small(), Duration::from_millis(800), |srv| async move {
        let mut s = TcpStream::connect(srv).await.expect("connect");
        let m = message("last", 4);
        s.write_all(&m).await.expect("write");
        // Done sending (FIN), still reading.
        s.shutdown().await.expect("half-close");
        let got = until_closed(&mut s, Duration::from_secs(3)).await;
        assert_eq!(got, m, "the answer came before the runner closed");
    })
    .await;
    assert!(findings(&seen).is_empty(), "a half-close is no fault");
}
