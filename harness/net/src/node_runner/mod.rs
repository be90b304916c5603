//! Runs sans-IO [`sim::Node`]s over real UDP sockets and the wall clock.
//!
//! # What this module owns
//!
//! The second of the two drivers `recproof-sim` describes: [`sim::World`] runs nodes on a
//! simulated network and clock, [`NodeRunner`] runs the very same nodes (reference
//! platform, SRS emulator, party phones) on real sockets, so a SIPp, a real SRC or a real
//! SRS can talk to them. It binds one UDP socket per address a node owns and a TCP
//! listener on each of its SIP addresses ([`Node::sip_addresses`]), turns arrivals into
//! [`Node::handle_datagram`] calls stamped with the run clock (a message framed from a TCP
//! stream arrives as a datagram tagged [`Transport::Tcp`]), sends what the nodes queue from
//! the socket bound to the datagram's source address (or over a TCP connection between
//! the two addresses, opened when there is none: [`tcp`]), wakes nodes at their
//! [`Node::poll_timeout`], and hands every [`Observation`] to the caller's sink.
//!
//! Commands (dial, hang up, DTMF) are scheduled with [`NodeRunner::at`]: a closure run
//! against the concrete node at a run-clock time, the real-time counterpart of
//! [`sim::World::with_node`]. [`NodeRunner::capture_datagrams`] keeps every datagram
//! sent and received (for a pcap), as [`sim::World::capture_datagrams`] does.
//!
//! # What it must not touch
//!
//! No protocol or judging: it moves bytes and time only. What it finds wrong with a TCP
//! peer (a stream that cannot be framed, a bound reached) it logs as the harness's own
//! `sip_malformed` finding with the bytes, at most [`FINDINGS_PER_SECOND`] a second. It
//! never panics on what arrives.

mod tcp;

pub use tcp::TcpLimits;

use bytes::Bytes;
use observe::{Actor, Event, FloodLimit, Observation, Payload};
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Largest datagram received (the IPv4 UDP maximum).
const MAX_DATAGRAM: usize = 65_507;
/// Arrivals buffered between the socket tasks and the loop.
const INBOX_DEPTH: usize = 4_096;
/// Receive buffer asked for on every node socket: about 2 s of a thousand RTP streams,
/// so a burst waits in the kernel instead of being dropped (the kernel caps it at
/// `net.core.rmem_max`; what it drops anyway is counted, see [`NodeRunner::receive_drops`]).
const RECV_BUFFER: usize = 4 * 1024 * 1024;
/// Transport findings (TCP streams that cannot be framed, bounds reached) logged a second
/// at most; the rest are counted in one aggregate line.
pub const FINDINGS_PER_SECOND: u32 = 20;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A node's address could not be bound (in use, not a local address...).
    #[error(
        "cannot bind {transport} {addr} for node `{node}`: {source}; pick a free address or port"
    )]
    Bind {
        /// `UDP` or `TCP`.
        transport: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The node that owns it.
        node: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Two nodes claim one address.
    #[error("address {addr} is claimed by both `{first}` and `{second}`")]
    AddressTaken {
        /// The address.
        addr: SocketAddr,
        /// The node that claimed it first.
        first: String,
        /// The other node.
        second: String,
    },
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Datagrams (and messages framed from TCP) delivered to nodes.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams a node queued that could not be sent (no socket for its source address,
    /// an OS send error, a TCP bound).
    pub dropped: u64,
    /// Observations handed to the sink.
    pub observations: u64,
}

/// The kernel's receive-drop counter summed over the UDP sockets on `ports`, from
/// `/proc/net/udp` and `/proc/net/udp6` (their last column); `None` when neither can be
/// read (not Linux). Written here rather than shared with the load driver's, which lives
/// in a crate without tokio; both read the same column.
fn kernel_udp_drops(ports: &[u16]) -> Option<u64> {
    let tables: Vec<String> = ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    if tables.is_empty() {
        return None;
    }
    let mut total = 0u64;
    for line in tables.iter().flat_map(|t| t.lines().skip(1)) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = cols
            .get(1)
            .and_then(|local| local.rsplit(':').next())
            .and_then(|hex| u16::from_str_radix(hex, 16).ok());
        if port.is_some_and(|p| ports.contains(&p)) {
            total += cols.last().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Some(total)
}

/// Why [`NodeRunner::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The run time given was reached.
    Deadline,
    /// The stop future completed (Ctrl-C).
    Interrupted,
}

type Command = Box<dyn FnOnce(&mut dyn Any, Time)>;

struct Arrival {
    local: SocketAddr,
    from: SocketAddr,
    bytes: Bytes,
    at: Instant,
}

/// What the socket tasks hand the loop.
#[derive(Debug)]
enum Inbound {
    /// A UDP datagram.
    Datagram(Arrival),
    /// Something on a TCP connection.
    Stream(tcp::StreamEvent),
}

impl std::fmt::Debug for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrival")
            .field("local", &self.local)
            .field("from", &self.from)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Real-socket driver for a set of nodes. See the [module docs](self).
pub struct NodeRunner {
    nodes: Vec<Box<dyn Node>>,
    routes: HashMap<SocketAddr, usize>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    inbox: mpsc::Receiver<Inbound>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    tcp: tcp::Connections,
    findings: FloodLimit,
    commands: BTreeMap<(Time, u64), (usize, Command)>,
    next_command: u64,
    origin: Instant,
    origin_wall: std::time::SystemTime,
    stats: RunStats,
    capture: Option<Vec<(Time, Datagram)>>,
    /// The kernel's drop count on our ports when they were bound.
    drops_at_bind: Option<u64>,
}

impl std::fmt::Debug for NodeRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRunner")
            .field(
                "nodes",
                &self.nodes.iter().map(|n| n.name()).collect::<Vec<_>>(),
            )
            .field("stats", &self.stats)
            .finish()
    }
}

impl NodeRunner {
    /// Binds every address of every node (UDP, and TCP on their SIP addresses) with the
    /// default TCP bounds. The run clock starts now.
    pub async fn bind(nodes: Vec<Box<dyn Node>>) -> Result<Self, RunnerError> {
        Self::bind_with(nodes, TcpLimits::default()).await
    }

    /// [`Self::bind`] with other TCP bounds.
    pub async fn bind_with(
        nodes: Vec<Box<dyn Node>>,
        limits: TcpLimits,
    ) -> Result<Self, RunnerError> {
        let (tx, inbox) = mpsc::channel(INBOX_DEPTH);
        let counts = tcp::ConnectionCounts::new(limits);
        let mut routes = HashMap::new();
        let mut sockets = HashMap::new();
        let mut readers = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            for addr in node.addresses() {
                if let Some(&first) = routes.get(&addr) {
                    let first: Option<&dyn Node> = nodes.get(first).map(AsRef::as_ref);
                    let first = first.map_or("?", Node::name);
                    return Err(RunnerError::AddressTaken {
                        addr,
                        first: first.to_owned(),
                        second: node.name().to_owned(),
                    });
                }
                let socket = UdpSocket::bind(addr)
                    .await
                    .map_err(|source| RunnerError::Bind {
                        transport: "UDP",
                        addr,
                        node: node.name().to_owned(),
                        source,
                    })?;
                // Best effort: a smaller buffer only makes drops likelier, and they are
                // counted either way.
                let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
                let socket = Arc::new(socket);
                routes.insert(addr, index);
                sockets.insert(addr, socket.clone());
                readers.push(tokio::spawn(read_loop(addr, socket, tx.clone())));
            }
            for addr in node.sip_addresses() {
                let listener = tcp::listen(addr)
                    .await
                    .map_err(|source| RunnerError::Bind {
                        transport: "TCP",
                        addr,
                        node: node.name().to_owned(),
                        source,
                    })?;
                readers.push(tokio::spawn(tcp::accept_loop(
                    listener,
                    addr,
                    counts.clone(),
                    tx.clone(),
                )));
            }
        }
        let ports: Vec<u16> = sockets.keys().map(SocketAddr::port).collect();
        let drops_at_bind = kernel_udp_drops(&ports);
        Ok(Self {
            drops_at_bind,
            nodes,
            routes,
            sockets,
            inbox,
            readers,
            tcp: tcp::Connections::new(counts, tx),
            findings: FloodLimit::new(FINDINGS_PER_SECOND),
            commands: BTreeMap::new(),
            next_command: 0,
            origin: Instant::now(),
            origin_wall: std::time::SystemTime::now(),
            stats: RunStats::default(),
            capture: None,
        })
    }

    /// The wall-clock instant of run time zero (for metadata and pcap timestamps).
    pub fn origin_wall(&self) -> std::time::SystemTime {
        self.origin_wall
    }

    /// From now on, keeps every datagram the nodes send and receive, stamped with the
    /// run clock ([`NodeRunner::take_capture`]). Memory grows with the traffic: for
    /// evidence of single calls, not for load.
    pub fn capture_datagrams(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// The datagrams captured so far, in the order they were seen.
    pub fn take_capture(&mut self) -> Vec<(Time, Datagram)> {
        self.capture
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The run clock now.
    pub fn now(&self) -> Time {
        Time::from_duration(self.origin.elapsed())
    }

    /// Counters so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// Datagrams the kernel dropped in our sockets' receive buffers since they were bound
    /// (the harness did not read fast enough: harness-side loss, never the SUT's); `None`
    /// where the counter cannot be read.
    pub fn receive_drops(&self) -> Option<u64> {
        let ports: Vec<u16> = self.sockets.keys().map(SocketAddr::port).collect();
        Some(kernel_udp_drops(&ports)?.saturating_sub(self.drops_at_bind?))
    }

    /// Schedules a command: at run time `at`, `f` gets node `index` (as its concrete
    /// type; a node of another type is skipped) and the current time.
    pub fn at<T: Node, F>(&mut self, at: Time, index: usize, f: F)
    where
        F: FnOnce(&mut T, Time) + 'static,
    {
        let command: Command = Box::new(move |node: &mut dyn Any, now| {
            if let Some(node) = node.downcast_mut::<T>() {
                f(node, now);
            }
        });
        self.commands
            .insert((at, self.next_command), (index, command));
        self.next_command += 1;
    }

    /// The concrete node at `index`, after (or between) runs.
    pub fn node_mut<T: Node>(&mut self, index: usize) -> Option<&mut T> {
        let node: &mut dyn Any = self.nodes.get_mut(index)?.as_any_mut();
        node.downcast_mut::<T>()
    }

    /// Runs until `run_for` has passed on the run clock (measured from [`Self::bind`]) or
    /// `stop` completes, whichever is first. Every observation goes to `sink` as it is
    /// made, so an interrupted run keeps everything seen so far.
    pub async fn run<S>(
        &mut self,
        run_for: Duration,
        stop: S,
        mut sink: impl FnMut(Observation),
    ) -> RunEnd
    where
        S: Future<Output = ()>,
    {
        let deadline = self.origin + run_for;
        tokio::pin!(stop);
        // Let the nodes send what they queued before the run (e.g. at construction).
        for index in 0..self.nodes.len() {
            self.drain(index, &mut sink).await;
        }
        loop {
            let wake = self.next_wake().min(deadline);
            tokio::select! {
                biased;
                () = &mut stop => return RunEnd::Interrupted,
                arrival = self.inbox.recv() => {
                    match arrival {
                        Some(Inbound::Datagram(a)) => {
                            self.deliver(a, Transport::Udp, &mut sink).await;
                        }
                        Some(Inbound::Stream(event)) => self.on_stream(event, &mut sink).await,
                        None => return RunEnd::Deadline,
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= deadline {
                        return RunEnd::Deadline;
                    }
                    self.fire_due(&mut sink).await;
                }
            }
        }
    }

    fn instant_of(&self, t: Time) -> Instant {
        self.origin + t.since_origin()
    }

    fn next_wake(&self) -> Instant {
        let node_wake = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
        let command_wake = self.commands.keys().next().map(|(t, _)| *t);
        match node_wake.into_iter().chain(command_wake).min() {
            Some(t) => self.instant_of(t),
            // Nothing scheduled: wake for arrivals only (the deadline bounds the sleep).
            None => Instant::now() + Duration::from_secs(3_600),
        }
    }

    /// TCP connections open now.
    pub fn tcp_connections(&self) -> usize {
        self.tcp.len()
    }

    async fn on_stream(&mut self, event: tcp::StreamEvent, sink: &mut impl FnMut(Observation)) {
        match event {
            tcp::StreamEvent::Message {
                local,
                remote,
                bytes,
                at,
            } => {
                let arrival = Arrival {
                    local,
                    from: remote,
                    bytes,
                    at,
                };
                self.deliver(arrival, Transport::Tcp, sink).await;
            }
            tcp::StreamEvent::Opened {
                local,
                remote,
                id,
                writer,
                queued,
                half,
            } => self.tcp.opened(local, remote, id, writer, queued, half),
            tcp::StreamEvent::Closed { local, remote, id } => self.tcp.closed(local, remote, id),
            tcp::StreamEvent::Finding {
                local,
                remote,
                reason,
                bytes,
                at,
            } => {
                let now = Time::from_duration(at.saturating_duration_since(self.origin));
                self.finding(now, local, remote, reason, &bytes, sink);
            }
        }
    }

    /// Logs a transport finding as the harness's `sip_malformed`, rate-limited.
    fn finding(
        &mut self,
        now: Time,
        local: SocketAddr,
        remote: SocketAddr,
        reason: String,
        bytes: &[u8],
        sink: &mut impl FnMut(Observation),
    ) {
        let admit = self.findings.admit(now.as_micros());
        let mut emit = |event| {
            self.stats.observations += 1;
            sink(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Harness,
                event,
            });
        };
        if let Some(n) = admit.suppressed_before {
            emit(FloodLimit::summary("tcp", n, FINDINGS_PER_SECOND));
        }
        if admit.log {
            emit(Event::SipMalformed {
                transport: "tcp".to_owned(),
                remote: remote.to_string(),
                message: Payload::from_bytes(bytes),
                reason: format!("{reason} (at {local})"),
            });
        }
    }

    async fn deliver(
        &mut self,
        arrival: Arrival,
        transport: Transport,
        sink: &mut impl FnMut(Observation),
    ) {
        let Some(&index) = self.routes.get(&arrival.local) else {
            return;
        };
        let now = Time::from_duration(arrival.at.saturating_duration_since(self.origin));
        self.stats.received += 1;
        let datagram = Datagram {
            from: arrival.from,
            to: arrival.local,
            transport,
            bytes: arrival.bytes,
        };
        if let Some(c) = self.capture.as_mut() {
            c.push((now, datagram.clone()));
        }
        if let Some(node) = self.nodes.get_mut(index) {
            node.handle_datagram(now, datagram);
        }
        self.drain(index, sink).await;
    }

    async fn fire_due(&mut self, sink: &mut impl FnMut(Observation)) {
        let now = self.now();
        while let Some(entry) = self.commands.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (index, command) = entry.remove();
            if let Some(node) = self.nodes.get_mut(index) {
                command(node.as_any_mut(), now);
            }
            self.drain(index, sink).await;
        }
        for index in 0..self.nodes.len() {
            let due = self.nodes[index].poll_timeout().is_some_and(|t| t <= now);
            if due {
                self.nodes[index].handle_timeout(now);
                self.drain(index, sink).await;
            }
        }
    }

    async fn drain(&mut self, index: usize, sink: &mut impl FnMut(Observation)) {
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        let mut outgoing = Vec::new();
        while let Some(d) = node.poll_transmit() {
            outgoing.push(d);
        }
        while let Some(o) = node.poll_observation() {
            self.stats.observations += 1;
            sink(o);
        }
        if let Some(c) = self.capture.as_mut() {
            let now = Time::from_duration(self.origin.elapsed());
            c.extend(outgoing.iter().map(|d| (now, d.clone())));
        }
        for d in outgoing {
            if d.transport == Transport::Tcp {
                let (from, to) = (d.from, d.to);
                match self.tcp.send(from, to, d.bytes.clone()) {
                    Ok(()) => self.stats.sent += 1,
                    Err(refused) => {
                        self.stats.dropped += 1;
                        let reason = match refused {
                            tcp::SendRefused::QueueFull => format!(
                                "{to} is not reading: its TCP queue is full; message dropped"
                            ),
                            tcp::SendRefused::NoSlot(why) => format!("{why}; message dropped"),
                        };
                        self.finding(self.now(), from, to, reason, &d.bytes, sink);
                    }
                }
                continue;
            }
            match self.sockets.get(&d.from) {
                Some(socket) if socket.send_to(&d.bytes, d.to).await.is_ok() => {
                    self.stats.sent += 1;
                }
                _ => self.stats.dropped += 1,
            }
        }
    }
}

impl Drop for NodeRunner {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read_loop(local: SocketAddr, socket: Arc<UdpSocket>, tx: mpsc::Sender<Inbound>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let arrival = Arrival {
                    local,
                    from,
                    bytes: Bytes::copy_from_slice(&buf[..n]),
                    at: Instant::now(),
                };
                if tx.send(Inbound::Datagram(arrival)).await.is_err() {
                    return;
                }
            }
            // ICMP port unreachable surfaces as an error on Linux UDP sockets: not fatal.
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}
