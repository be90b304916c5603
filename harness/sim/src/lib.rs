//! The node contract and the simulated world.
//!
//! Every role recproof plays (caller and callee UAs, the SRS emulator, the reference
//! platform) is a sans-IO [`Node`]: it owns addresses, takes datagrams and time, and
//! returns datagrams, a next wake-up and [`Observation`]s. Two drivers run the same
//! nodes:
//! - [`World`] here: a deterministic event loop with a seeded network emulator
//!   ([`LinkProfile`]: latency, jitter, loss). Time jumps from event to event, so a
//!   3-minute call costs what its packets cost, and the same seed gives the same run.
//! - `recproof-net`'s node runner: real UDP/TCP sockets on loopback and tokio's clock.
//!
//! This crate owns the contract and the simulation only. It knows nothing of SIP or
//! media beyond the [`Transport`] tag on a datagram, and it never judges: the nodes'
//! observations go to the caller untouched.
//!
//! Quinn's test `Pair` and str0m's netem are the models.

use bytes::Bytes;
use observe::Observation;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sip::time::Time;
pub use sip::transaction::Transport;
use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

/// A datagram (or, for TCP, one framed message) between two addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address (one the sending node owns).
    pub from: SocketAddr,
    /// Destination address.
    pub to: SocketAddr,
    /// UDP or TCP (TCP is delivered reliably and in order).
    pub transport: Transport,
    /// The payload.
    pub bytes: Bytes,
}

/// A role as a sans-IO state machine. Both drivers call it the same way: one input
/// (`handle_datagram` or `handle_timeout`), then drain `poll_transmit` and
/// `poll_observation` until `None`, then sleep until `poll_timeout`.
pub trait Node: Any {
    /// A short name for logs (`caller`, `platform`...).
    fn name(&self) -> &str;
    /// Every address this node receives on (SIP and RTP).
    fn addresses(&self) -> Vec<SocketAddr>;
    /// The addresses among [`Node::addresses`] where SIP arrives. A real-socket driver
    /// also takes SIP over TCP on them (RFC 3261 §18: every element takes both); the
    /// default, none, is for nodes that speak no SIP.
    fn sip_addresses(&self) -> Vec<SocketAddr> {
        Vec::new()
    }
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Time, datagram: Datagram);
    /// Time passed; an early or repeated call must be harmless.
    fn handle_timeout(&mut self, now: Time);
    /// Next datagram to send.
    fn poll_transmit(&mut self) -> Option<Datagram>;
    /// When the node next wants [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Time>;
    /// Next observation for the log.
    fn poll_observation(&mut self) -> Option<Observation>;
    /// For downcasting to the concrete role to give it commands.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Network conditions on a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    /// One-way base latency.
    pub latency: Duration,
    /// Uniform extra delay in `0..=jitter` per UDP datagram (can reorder packets).
    pub jitter: Duration,
    /// Probability that a UDP datagram is lost, 0.0..=1.0.
    pub loss: f64,
}

impl LinkProfile {
    /// A perfect link with this latency.
    pub fn latency(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
        }
    }

    /// Adds jitter.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Adds loss (clamped to 0..=1).
    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = loss.clamp(0.0, 1.0);
        self
    }
}

impl Default for LinkProfile {
    /// 1 ms, no jitter, no loss: a quiet LAN.
    fn default() -> Self {
        Self::latency(Duration::from_millis(1))
    }
}

/// Handle of a node in a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

/// Counters a test can assert on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Datagrams delivered.
    pub delivered: u64,
    /// Datagrams lost by the emulator.
    pub lost: u64,
    /// Datagrams sent to an address no node owns (dropped, like a closed port).
    pub unroutable: u64,
    /// Events processed.
    pub steps: u64,
    /// True when the run stopped because a node kept asking to be woken at the same
    /// instant without time moving (a node bug); the run ends instead of hanging.
    pub stalled: bool,
}

/// Events allowed at one instant before the world declares a stall.
pub const MAX_EVENTS_AT_ONE_INSTANT: u64 = 1_000_000;

struct InFlight {
    at: Time,
    seq: u64,
    node: usize,
    datagram: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A deterministic network of nodes under a simulated clock.
pub struct World {
    now: Time,
    nodes: Vec<Box<dyn Node>>,
    routes: HashMap<SocketAddr, usize>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    rng: SmallRng,
    default_link: LinkProfile,
    links: HashMap<(usize, usize), LinkProfile>,
    /// Last arrival per (sender, receiver) for TCP, to keep streams in order.
    tcp_last: HashMap<(SocketAddr, SocketAddr), Time>,
    observations: Vec<Observation>,
    stats: WorldStats,
    same_instant: u64,
    /// Every datagram sent, with its send time, when capturing (evidence pcaps).
    capture: Option<Vec<(Time, Datagram)>>,
}

impl World {
    /// An empty world at time zero; `seed` drives every random network decision.
    pub fn new(seed: u64) -> Self {
        Self {
            now: Time::ZERO,
            nodes: Vec::new(),
            routes: HashMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            rng: SmallRng::seed_from_u64(seed),
            default_link: LinkProfile::default(),
            links: HashMap::new(),
            tcp_last: HashMap::new(),
            observations: Vec::new(),
            stats: WorldStats::default(),
            same_instant: 0,
            capture: None,
        }
    }

    /// Sets the link used between nodes with no specific profile.
    pub fn set_default_link(&mut self, link: LinkProfile) {
        self.default_link = link;
    }

    /// Sets the link from node `a` to node `b` (one direction).
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkProfile) {
        self.links.insert((from.0, to.0), link);
    }

    /// Adds a node; its addresses must not be owned by another node.
    ///
    /// # Panics
    /// When an address is already taken: that is a bug in the test or scenario set-up,
    /// never peer input.
    pub fn add(&mut self, node: Box<dyn Node>) -> NodeId {
        let id = self.nodes.len();
        for addr in node.addresses() {
            let previous = self.routes.insert(addr, id);
            assert!(previous.is_none(), "address {addr} is owned by two nodes");
        }
        self.nodes.push(node);
        self.drain(id);
        NodeId(id)
    }

    /// The current simulated time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Counters.
    pub fn stats(&self) -> WorldStats {
        self.stats
    }

    /// The concrete node, to give it a command. Call [`World::poke`] afterwards so what
    /// the command queued is sent.
    pub fn node_mut<T: Node>(&mut self, id: NodeId) -> Option<&mut T> {
        self.nodes
            .get_mut(id.0)
            .and_then(|n| n.as_any_mut().downcast_mut::<T>())
    }

    /// Runs `f` on a node and then sends what it queued.
    pub fn with_node<T: Node, R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut T, Time) -> R,
    ) -> Option<R> {
        let now = self.now;
        let r = self.node_mut::<T>(id).map(|n| f(n, now));
        self.drain(id.0);
        r
    }

    /// Sends whatever a node has queued (after a command).
    pub fn poke(&mut self, id: NodeId) {
        self.drain(id.0);
    }

    /// Starts keeping a copy of every datagram a node sends (with its send time), for an
    /// evidence pcap. Memory grows with the traffic: turn it on per call, not per load run.
    pub fn capture_datagrams(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// Takes the datagrams captured so far (empty when not capturing).
    pub fn take_capture(&mut self) -> Vec<(Time, Datagram)> {
        self.capture
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Takes the observations collected so far.
    pub fn take_observations(&mut self) -> Vec<Observation> {
        std::mem::take(&mut self.observations)
    }

    /// The time of the next event, if any.
    pub fn next_event(&self) -> Option<Time> {
        let arrival = self.in_flight.peek().map(|Reverse(f)| f.at);
        let timer = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
        match (arrival, timer) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        }
    }

    /// Processes the earliest event if it is at or before `limit`. Returns false when
    /// nothing is due by then.
    pub fn step(&mut self, limit: Time) -> bool {
        let Some(at) = self.next_event().filter(|t| *t <= limit) else {
            return false;
        };
        if at <= self.now {
            self.same_instant += 1;
            if self.same_instant > MAX_EVENTS_AT_ONE_INSTANT {
                self.stats.stalled = true;
                return false;
            }
        } else {
            self.same_instant = 0;
        }
        self.now = self.now.max(at);
        self.stats.steps += 1;
        let arrival_due = self
            .in_flight
            .peek()
            .is_some_and(|Reverse(f)| f.at <= self.now);
        if arrival_due {
            if let Some(Reverse(f)) = self.in_flight.pop() {
                self.stats.delivered += 1;
                let now = self.now;
                if let Some(node) = self.nodes.get_mut(f.node) {
                    node.handle_datagram(now, f.datagram);
                }
                self.drain(f.node);
            }
        } else {
            let now = self.now;
            let due: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].poll_timeout().is_some_and(|t| t <= now))
                .collect();
            for i in due {
                self.nodes[i].handle_timeout(now);
                self.drain(i);
            }
        }
        true
    }

    /// Runs every event up to and including `until`, then sets the clock to `until`
    /// (unless the run stalled: see [`WorldStats::stalled`]).
    pub fn run_until(&mut self, until: Time) {
        while self.step(until) {}
        if !self.stats.stalled {
            self.now = self.now.max(until);
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn drain(&mut self, index: usize) {
        let now = self.now;
        let mut out = Vec::new();
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        while let Some(d) = node.poll_transmit() {
            out.push(d);
        }
        while let Some(o) = node.poll_observation() {
            self.observations.push(o);
        }
        for d in out {
            if let Some(c) = self.capture.as_mut() {
                c.push((now, d.clone()));
            }
            self.route(now, index, d);
        }
    }

    fn route(&mut self, now: Time, from_node: usize, datagram: Datagram) {
        let Some(&to_node) = self.routes.get(&datagram.to) else {
            self.stats.unroutable += 1;
            return;
        };
        let link = self
            .links
            .get(&(from_node, to_node))
            .copied()
            .unwrap_or(self.default_link);
        let mut at = now + link.latency;
        match datagram.transport {
            Transport::Udp => {
                if link.loss > 0.0 && self.rng.random::<f64>() < link.loss {
                    self.stats.lost += 1;
                    return;
                }
                if !link.jitter.is_zero() {
                    let extra = self.rng.random_range(0..=link.jitter.as_micros() as u64);
                    at += Duration::from_micros(extra);
                }
            }
            Transport::Tcp => {
                // Reliable and in order: never before the previous message on this path.
                let key = (datagram.from, datagram.to);
                if let Some(&last) = self.tcp_last.get(&key) {
                    at = at.max(last);
                }
                self.tcp_last.insert(key, at);
            }
        }
        self.seq += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            seq: self.seq,
            node: to_node,
            datagram,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use observe::{Actor, Event};
    use std::collections::VecDeque;

    /// Sends a numbered ping every 20 ms to a peer and records what it receives.
    struct Pinger {
        name: String,
        addr: SocketAddr,
        peer: SocketAddr,
        next: Option<Time>,
        sent: u32,
        limit: u32,
        out: VecDeque<Datagram>,
        received: Vec<(Time, u32)>,
        obs: VecDeque<Observation>,
    }

    impl Pinger {
        fn new(name: &str, addr: &str, peer: &str, limit: u32) -> Self {
            Self {
                name: name.into(),
                addr: addr.parse().expect("addr"),
                peer: peer.parse().expect("addr"),
                next: (limit > 0).then_some(Time::ZERO),
                sent: 0,
                limit,
                out: VecDeque::new(),
                received: Vec::new(),
                obs: VecDeque::new(),
            }
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
            let n = u32::from_be_bytes(d.bytes[..4].try_into().expect("4 bytes"));
            self.received.push((now, n));
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Harness,
                event: Event::PlatformAction {
                    action: "ping".into(),
                    detail: n.to_string(),
                },
            });
        }
        fn handle_timeout(&mut self, now: Time) {
            // Drift-free pacing: the n-th ping is due at n * 20 ms whatever `now` is.
            while let Some(at) = self.next.filter(|at| *at <= now) {
                self.out.push_back(Datagram {
                    from: self.addr,
                    to: self.peer,
                    transport: Transport::Udp,
                    bytes: Bytes::copy_from_slice(&self.sent.to_be_bytes()),
                });
                self.sent += 1;
                self.next = (self.sent < self.limit).then(|| at + Duration::from_millis(20));
            }
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

    fn world(seed: u64, link: LinkProfile, pings: u32) -> (World, NodeId, NodeId) {
        let mut w = World::new(seed);
        w.set_default_link(link);
        let a = w.add(Box::new(Pinger::new(
            "a",
            "10.0.0.1:1000",
            "10.0.0.2:2000",
            pings,
        )));
        let b = w.add(Box::new(Pinger::new(
            "b",
            "10.0.0.2:2000",
            "10.0.0.1:1000",
            0,
        )));
        (w, a, b)
    }

    #[test]
    fn delivers_with_exact_latency_and_jumps_time() {
        let (mut w, _, b) = world(1, LinkProfile::latency(Duration::from_millis(37)), 9000);
        w.run_for(Duration::from_secs(200));
        let got = &w.node_mut::<Pinger>(b).expect("b").received;
        assert_eq!(got.len(), 9000);
        for (i, (at, n)) in got.iter().enumerate() {
            assert_eq!(*n, i as u32);
            assert_eq!(*at, Time::from_millis(20 * i as u64 + 37));
        }
        assert_eq!(w.now(), Time::from_secs(200));
        assert_eq!(w.stats().delivered, 9000);
        assert_eq!(w.take_observations().len(), 9000);
    }

    #[test]
    fn loss_and_jitter_are_seeded_and_repeatable() {
        let link = LinkProfile::latency(Duration::from_millis(20))
            .jitter(Duration::from_millis(30))
            .loss(0.1);
        let run = |seed| {
            let (mut w, _, b) = world(seed, link, 5000);
            w.run_for(Duration::from_secs(120));
            (
                w.stats(),
                w.node_mut::<Pinger>(b).expect("b").received.clone(),
            )
        };
        let (stats, got) = run(42);
        assert_eq!(run(42), (stats, got.clone()), "same seed, same run");
        assert_ne!(run(43).1, got, "another seed, another run");
        let loss = stats.lost as f64 / 5000.0;
        assert!((0.08..0.12).contains(&loss), "loss {loss}");
        assert!(
            got.windows(2).any(|w| w[1].1 < w[0].1),
            "30 ms jitter on a 20 ms cadence reorders"
        );
        for (at, n) in &got {
            let sent = Time::from_millis(20 * u64::from(*n));
            let delay = *at - sent;
            assert!(
                delay >= Duration::from_millis(20) && delay <= Duration::from_millis(50),
                "{delay:?}"
            );
        }
    }

    /// A node that always wants to be woken now, and never moves on.
    struct Spinner;
    impl Node for Spinner {
        fn name(&self) -> &str {
            "spinner"
        }
        fn addresses(&self) -> Vec<SocketAddr> {
            Vec::new()
        }
        fn handle_datagram(&mut self, _: Time, _: Datagram) {}
        fn handle_timeout(&mut self, _: Time) {}
        fn poll_transmit(&mut self) -> Option<Datagram> {
            None
        }
        fn poll_timeout(&self) -> Option<Time> {
            Some(Time::ZERO)
        }
        fn poll_observation(&mut self) -> Option<Observation> {
            None
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    #[test]
    fn a_node_that_never_advances_stalls_the_run_instead_of_hanging_it() {
        let mut w = World::new(1);
        w.add(Box::new(Spinner));
        w.run_for(Duration::from_secs(1));
        assert!(w.stats().stalled);
        assert_eq!(w.now(), Time::ZERO);
    }

    #[test]
    fn unroutable_datagrams_are_counted_not_fatal() {
        let mut w = World::new(1);
        w.add(Box::new(Pinger::new("a", "10.0.0.1:1000", "10.9.9.9:9", 3)));
        w.run_for(Duration::from_secs(1));
        assert_eq!(w.stats().unroutable, 3);
    }
}
