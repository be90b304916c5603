//! The real-socket node runner: datagrams between nodes over loopback, timers, scheduled
//! commands, observations streamed to the sink, and the deadline ending the run.

use bytes::Bytes;
use observe::{Actor, Event, Observation};
use recproof_net::node_runner::{NodeRunner, RunEnd, RunnerError};
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

/// Sends `count` numbered pings to `peer`, one every 10 ms from its first timeout, and
/// echoes whatever it receives back unless it is the pinger. Logs each arrival.
struct Pinger {
    name: String,
    addr: SocketAddr,
    peer: SocketAddr,
    pings_left: u32,
    next: Option<Time>,
    echo: bool,
    out: VecDeque<Datagram>,
    obs: VecDeque<Observation>,
}

impl Pinger {
    fn new(name: &str, addr: SocketAddr, peer: SocketAddr, pings: u32, echo: bool) -> Self {
        Self {
            name: name.into(),
            addr,
            peer,
            pings_left: pings,
            next: (pings > 0).then_some(Time::ZERO),
            echo,
            out: VecDeque::new(),
            obs: VecDeque::new(),
        }
    }

    fn note(&mut self, now: Time, what: String) {
        self.obs.push_back(Observation {
            t_us: now.as_micros(),
            call: None,
            actor: Actor::Harness,
            event: Event::PlatformAction {
                action: self.name.clone(),
                detail: what,
            },
        });
    }
}

impl Node for Pinger {
    fn name(&self) -> &str {
        &self.name
    }
    fn addresses(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }
    fn handle_datagram(&mut self, now: Time, d: Datagram) {
        let text = String::from_utf8_lossy(&d.bytes).into_owned();
        self.note(now, format!("got {text}"));
        if self.echo {
            self.out.push_back(Datagram {
                from: self.addr,
                to: d.from,
                transport: Transport::Udp,
                bytes: d.bytes,
            });
        }
    }
    fn handle_timeout(&mut self, now: Time) {
        let Some(at) = self.next else { return };
        if now < at {
            return;
        }
        self.pings_left -= 1;
        self.out.push_back(Datagram {
            from: self.addr,
            to: self.peer,
            transport: Transport::Udp,
            bytes: Bytes::from(format!("ping{}", self.pings_left)),
        });
        self.next = (self.pings_left > 0)
            .then(|| at.checked_add(Duration::from_millis(10)))
            .flatten();
    }
    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.next
    }
    fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn free_addr() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

#[tokio::test]
async fn pings_cross_loopback_and_commands_run_at_their_time() {
    let (a, b) = (free_addr(), free_addr());
    let nodes: Vec<Box<dyn Node>> = vec![
        Box::new(Pinger::new("a", a, b, 5, false)),
        Box::new(Pinger::new("b", b, a, 0, true)),
    ];
    let mut runner = NodeRunner::bind(nodes).await.expect("bind");
    // At 100 ms, tell b to send two pings of its own to a.
    runner.at(Time::from_millis(100), 1, |b: &mut Pinger, now| {
        b.pings_left = 2;
        b.next = Some(now);
    });
    let mut seen = Vec::new();
    let end = runner
        .run(Duration::from_millis(400), std::future::pending(), |o| {
            seen.push(o)
        })
        .await;
    assert_eq!(end, RunEnd::Deadline);
    let texts: Vec<String> = seen
        .iter()
        .filter_map(|o| match &o.event {
            Event::PlatformAction { action, detail } => Some(format!("{action}:{detail}")),
            _ => None,
        })
        .collect();
    // b got the five pings; a got their five echoes plus b's two own pings.
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("b:got ping")).count(),
        5,
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("a:got ping")).count(),
        7,
        "{texts:?}"
    );
    // b's own pings were sent on the command, at or after 100 ms.
    let late = seen.iter().filter(|o| o.t_us >= 100_000).count();
    assert!(late >= 2, "the commanded pings arrive after 100 ms");
    let stats = runner.stats();
    assert_eq!(stats.sent, 12);
    assert_eq!(stats.received, 12);
    assert_eq!(stats.dropped, 0);
}

#[tokio::test]
async fn stop_future_interrupts_and_address_clash_is_an_error() {
    let a = free_addr();
    let nodes: Vec<Box<dyn Node>> = vec![Box::new(Pinger::new("a", a, a, 0, false))];
    let mut runner = NodeRunner::bind(nodes).await.expect("bind");
    let end = runner
        .run(Duration::from_secs(3_600), async {}, |_| {})
        .await;
    assert_eq!(end, RunEnd::Interrupted);

    let b = free_addr();
    let clash: Vec<Box<dyn Node>> = vec![
        Box::new(Pinger::new("x", b, b, 0, false)),
        Box::new(Pinger::new("y", b, b, 0, false)),
    ];
    match NodeRunner::bind(clash).await {
        Err(RunnerError::AddressTaken { first, second, .. }) => {
            assert_eq!((first.as_str(), second.as_str()), ("x", "y"));
        }
        other => panic!("expected AddressTaken, got {other:?}"),
    }
}

#[tokio::test]
async fn datagrams_dropped_in_our_receive_buffers_are_counted_as_harness_loss() {
    let a = free_addr();
    let nodes: Vec<Box<dyn Node>> = vec![Box::new(Pinger::new("a", a, a, 0, false))];
    let runner = NodeRunner::bind(nodes).await.expect("bind");
    assert_eq!(runner.receive_drops(), Some(0), "nothing dropped yet");
    // 5,000 datagrams while the runner does not read (this single-threaded test never
    // yields to its reader task): far beyond any receive buffer the kernel grants.
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("sender");
    let payload = [0u8; 1200];
    for _ in 0..5_000 {
        let _ = tx.send_to(&payload, a);
    }
    let drops = runner.receive_drops().expect("Linux has /proc/net/udp");
    assert!(drops > 0, "the flood overflowed the buffer and was counted");
    assert!(
        drops < 5_000,
        "what the buffer held is not counted: {drops}"
    );
}
