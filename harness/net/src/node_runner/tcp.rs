//! SIP over TCP for the [node runner](super): the stream half of the real-socket driver.
//!
//! # What this module owns
//!
//! A TCP listener on every SIP address of every node, and for each connection (accepted,
//! or opened to send a message) one reader task and one writer task. The reader frames the
//! byte stream into whole messages with [`sip::framing::Framer`] (Content-Length, RFC 3261
//! §18.3) and hands them to the runner's loop as [`StreamEvent::Message`], which the loop
//! delivers to the node exactly as a datagram tagged [`sim::Transport::Tcp`]. The writer
//! drains a bounded queue of messages with a timeout on every write. The loop alone owns
//! the table of open connections ([`Connections`]); no lock is held across an await, so a
//! peer that stops reading stalls only its own writer.
//!
//! Every resource a peer can make the harness hold is bounded, and every bound, when hit,
//! is a finding for the log with the peer's bytes ([`StreamEvent::Finding`]): connections
//! per peer address and in all, bytes buffered for one message (the framer's bound), time
//! to complete a message once it has started (a slow-loris sender), time for an accepted
//! connection to send its first message (a half-open or silent one), messages queued
//! towards a peer that does not read, and the time one write may take.
//!
//! # What it must not touch
//!
//! No SIP beyond framing and no decisions about messages: it moves bytes. It never reads
//! the nodes, and never panics on what a peer sends.

use bytes::Bytes;
use sip::framing::Framer;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

/// Largest evidence kept from one connection's unframed bytes.
const MAX_EVIDENCE: usize = 64 * 1024;
/// How long a connection whose peer has finished sending (a half-close, RFC 793) stays
/// open for the answers to what it sent last.
const LINGER: Duration = Duration::from_secs(2);

/// The bounds on what TCP peers can make the runner hold. The defaults suit a conformance
/// run and a load test alike; tests shrink them to reach them quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Open connections from (or to) one peer IP address.
    pub per_peer: usize,
    /// Open connections in all.
    pub total: usize,
    /// Time a message may take to arrive once its first byte has (slow-loris bound).
    pub message_time: Duration,
    /// Time an accepted connection may stay open without sending a whole message.
    pub first_message_time: Duration,
    /// Time to open a connection to a peer.
    pub connect_time: Duration,
    /// Time one message may take to be written (the peer reads too slowly or not at all).
    pub write_time: Duration,
    /// Messages queued towards one connection before more are dropped.
    pub queue: usize,
}

impl Default for TcpLimits {
    /// Sized for a load run whose peer opens one connection per call from one address
    /// (SIPp `-t tn`, an SBC): 2,048 at once per peer address, 8,192 in all; each costs
    /// two tasks and a 16 KB read buffer.
    fn default() -> Self {
        Self {
            per_peer: 2_048,
            total: 8_192,
            // 64 × T1, the time RFC 3261 gives a transaction to complete.
            message_time: Duration::from_secs(32),
            first_message_time: Duration::from_secs(32),
            connect_time: Duration::from_secs(5),
            write_time: Duration::from_secs(5),
            queue: 256,
        }
    }
}

/// What the connection tasks tell the runner's loop.
#[derive(Debug)]
pub(super) enum StreamEvent {
    /// One framed message arrived.
    Message {
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Bytes,
        at: Instant,
    },
    /// A connection is open: a peer connected (`writer` is the queue towards it), or one
    /// the loop asked for is now connected (`writer` is `None`: the loop has it). From now
    /// on the loop may write to `half` itself while nothing is `queued`.
    Opened {
        local: SocketAddr,
        remote: SocketAddr,
        id: u64,
        writer: Option<mpsc::Sender<Bytes>>,
        queued: Arc<AtomicUsize>,
        half: Arc<OwnedWriteHalf>,
    },
    /// A connection is gone (closed by either side, or by a bound).
    Closed {
        local: SocketAddr,
        remote: SocketAddr,
        id: u64,
    },
    /// A bound was hit or the stream could not be framed: the evidence for the log.
    Finding {
        local: SocketAddr,
        remote: SocketAddr,
        reason: String,
        bytes: Vec<u8>,
        at: Instant,
    },
}

/// Counts open connections per peer address and in all, shared by the acceptors, the
/// connection tasks and the loop. The lock is a std mutex held for a map update only,
/// never across an await.
#[derive(Debug)]
pub(super) struct ConnectionCounts {
    limits: TcpLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    next_id: AtomicU64,
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub(super) struct Slot {
    counts: Arc<ConnectionCounts>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.1.remove(&self.peer);
            }
        }
    }
}

impl ConnectionCounts {
    pub(super) fn new(limits: TcpLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new((0, HashMap::new())),
            next_id: AtomicU64::new(1),
        })
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A slot for one more connection with `peer`, or why there is none.
    fn acquire(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, String> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.0 >= self.limits.total {
            return Err(format!(
                "connection refused: {} TCP connections are open, the most the harness holds",
                open.0
            ));
        }
        let of_peer = open.1.get(&peer).copied().unwrap_or(0);
        if of_peer >= self.limits.per_peer {
            return Err(format!(
                "connection refused: {of_peer} TCP connections with {peer} are open, the most the harness holds per peer"
            ));
        }
        open.0 += 1;
        *open.1.entry(peer).or_default() += 1;
        Ok(Slot {
            counts: self.clone(),
            peer,
        })
    }
}

/// One open (or opening) connection, as the loop knows it.
///
/// The loop writes a message straight to the socket when nothing is queued for the
/// writer task (the common case: no task switch between a node's answer and the wire,
/// which under load kept answers waiting behind every other task); what the socket does
/// not take at once goes to the writer task, which finishes it in order. `queued` counts
/// the messages handed to the task and not yet written, so the two never interleave.
#[derive(Debug)]
struct Connection {
    id: u64,
    writer: mpsc::Sender<Bytes>,
    queued: Arc<AtomicUsize>,
    /// The socket's writing half, once connected.
    half: Option<Arc<OwnedWriteHalf>>,
}

/// Why [`Connections::send`] could not queue a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SendRefused {
    /// The connection's queue is full: the peer is not reading.
    QueueFull,
    /// No slot for a new connection (a bound).
    NoSlot(String),
}

/// The loop's table of connections by (local, remote) address, and the means to open
/// new ones. Owned by the runner's loop alone: no lock.
#[derive(Debug)]
pub(super) struct Connections {
    open: HashMap<(SocketAddr, SocketAddr), Connection>,
    counts: Arc<ConnectionCounts>,
    events: mpsc::Sender<super::Inbound>,
}

impl Connections {
    pub(super) fn new(counts: Arc<ConnectionCounts>, events: mpsc::Sender<super::Inbound>) -> Self {
        Self {
            open: HashMap::new(),
            counts,
            events,
        }
    }

    /// Queues `bytes` to `remote` from the node address `local`: over the connection
    /// between them (either side may have opened it, RFC 3261 §18.2.2), else over a new
    /// one from `local`'s IP address. Never waits.
    pub(super) fn send(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Bytes,
    ) -> Result<(), SendRefused> {
        let bytes = match self.open.get(&(local, remote)) {
            Some(c) => {
                let mut bytes = bytes;
                if let Some(half) = &c.half
                    && c.queued.load(Ordering::Acquire) == 0
                {
                    match half.try_write(&bytes) {
                        Ok(n) if n == bytes.len() => return Ok(()),
                        Ok(n) => bytes = bytes.slice(n..),
                        // Full, or broken: the writer task waits, or reports it.
                        Err(_) => {}
                    }
                }
                c.queued.fetch_add(1, Ordering::AcqRel);
                match c.writer.try_send(bytes) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        c.queued.fetch_sub(1, Ordering::AcqRel);
                        return Err(SendRefused::QueueFull);
                    }
                    // Its tasks ended and the loop has not heard yet: open a new one.
                    Err(mpsc::error::TrySendError::Closed(bytes)) => {
                        self.open.remove(&(local, remote));
                        bytes
                    }
                }
            }
            None => bytes,
        };
        let slot = self
            .counts
            .acquire(remote.ip())
            .map_err(SendRefused::NoSlot)?;
        let id = self.counts.next_id();
        let (writer, queue) = mpsc::channel(self.counts.limits.queue);
        let queued = Arc::new(AtomicUsize::new(1));
        // A fresh channel has room for the first message.
        let _ = writer.try_send(bytes);
        self.open.insert(
            (local, remote),
            Connection {
                id,
                writer,
                queued: queued.clone(),
                half: None,
            },
        );
        tokio::spawn(connect(Opening {
            conn: Endpoints { local, remote, id },
            slot,
            queue,
            queued,
            limits: self.counts.limits,
            events: self.events.clone(),
        }));
        Ok(())
    }

    /// A peer connected to a node (`writer` given), or a connection the loop opened is
    /// now connected (`writer` `None`).
    pub(super) fn opened(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        id: u64,
        writer: Option<mpsc::Sender<Bytes>>,
        queued: Arc<AtomicUsize>,
        half: Arc<OwnedWriteHalf>,
    ) {
        match writer {
            Some(writer) => {
                self.open.insert(
                    (local, remote),
                    Connection {
                        id,
                        writer,
                        queued,
                        half: Some(half),
                    },
                );
            }
            None => {
                if let Some(c) = self.open.get_mut(&(local, remote))
                    && c.id == id
                {
                    c.half = Some(half);
                }
            }
        }
    }

    /// A connection ended; a newer one on the same addresses is kept.
    pub(super) fn closed(&mut self, local: SocketAddr, remote: SocketAddr, id: u64) {
        if self.open.get(&(local, remote)).is_some_and(|c| c.id == id) {
            self.open.remove(&(local, remote));
        }
    }

    /// Connections open now.
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }
}

/// A TCP socket of `addr`'s family.
fn socket_for(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
}

/// Binds a TCP listener on a node's SIP address.
pub(super) async fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket_for(addr)?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections on one node address until the runner ends. An accept error
/// (out of file descriptors, a connection reset before it was taken) is waited out, never
/// the end of accepting.
pub(super) async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    counts: Arc<ConnectionCounts>,
    events: mpsc::Sender<super::Inbound>,
) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        match counts.acquire(remote.ip()) {
            Ok(slot) => {
                let id = counts.next_id();
                let (writer, queue) = mpsc::channel(counts.limits.queue);
                let queued = Arc::new(AtomicUsize::new(0));
                let (read, half) = split(stream);
                let opened = StreamEvent::Opened {
                    local,
                    remote,
                    id,
                    writer: Some(writer),
                    queued: queued.clone(),
                    half: half.clone(),
                };
                // Before the reader starts, so the loop knows the connection before its
                // first message.
                if events.send(super::Inbound::Stream(opened)).await.is_err() {
                    return;
                }
                let opening = Opening {
                    conn: Endpoints { local, remote, id },
                    slot,
                    queue,
                    queued,
                    limits: counts.limits,
                    events: events.clone(),
                };
                serve(read, half, opening, true);
            }
            Err(reason) => {
                drop(stream);
                let finding = StreamEvent::Finding {
                    local,
                    remote,
                    reason,
                    bytes: Vec::new(),
                    at: Instant::now(),
                };
                if events.send(super::Inbound::Stream(finding)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A connection about to be served: who it joins, its slot, the queue the loop writes
/// to, and where its events go.
struct Opening {
    conn: Endpoints,
    slot: Slot,
    queue: mpsc::Receiver<Bytes>,
    /// Messages handed to the writer task and not yet written (shared with the loop).
    queued: Arc<AtomicUsize>,
    limits: TcpLimits,
    events: mpsc::Sender<super::Inbound>,
}

/// Opens a connection from the local node address's IP to the remote one and serves it;
/// a failure drops what was queued and tells the loop.
async fn connect(opening: Opening) {
    let Endpoints { local, remote, id } = opening.conn;
    let opened = async {
        let socket = socket_for(remote)?;
        // From the node's own IP address, so a peer that tells its peers apart by
        // address (several harness parties on 127.0.0.x) sees the right one.
        if local.ip().is_ipv4() == remote.ip().is_ipv4() {
            socket.bind(SocketAddr::new(local.ip(), 0))?;
        }
        socket.connect(remote).await
    };
    let connect_time = opening.limits.connect_time;
    match tokio::time::timeout(connect_time, opened).await {
        Ok(Ok(stream)) => {
            let (read, half) = split(stream);
            let opened = StreamEvent::Opened {
                local,
                remote,
                id,
                writer: None,
                queued: opening.queued.clone(),
                half: half.clone(),
            };
            if opening
                .events
                .send(super::Inbound::Stream(opened))
                .await
                .is_ok()
            {
                serve(read, half, opening, false);
            }
        }
        outcome => {
            let reason = match outcome {
                Ok(Err(e)) => format!("cannot connect to {remote} over TCP: {e}"),
                _ => format!(
                    "cannot connect to {remote} over TCP: no answer within {} s",
                    connect_time.as_secs()
                ),
            };
            let unsent = opening.queue.len();
            let events = opening.events;
            let _ = events
                .send(
                    opening
                        .conn
                        .finding(format!("{reason}; {unsent} message(s) not sent"), &[]),
                )
                .await;
            let _ = events
                .send(super::Inbound::Stream(StreamEvent::Closed {
                    local,
                    remote,
                    id,
                }))
                .await;
        }
    }
}

/// A connected stream's halves: the reading one for the reader task, the writing one
/// shared by the loop and the writer task.
fn split(stream: TcpStream) -> (OwnedReadHalf, Arc<OwnedWriteHalf>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    (read, Arc::new(write))
}

/// Starts the reader and writer tasks of one connection.
fn serve(read: OwnedReadHalf, half: Arc<OwnedWriteHalf>, opening: Opening, accepted: bool) {
    let Opening {
        conn,
        slot,
        queue,
        queued,
        limits,
        events,
    } = opening;
    let stop = Arc::new(Notify::new());
    let (read_end_tx, read_end) = oneshot::channel();
    tokio::spawn(write_loop(
        Writer {
            half,
            queue,
            queued,
        },
        conn,
        limits,
        events.clone(),
        stop.clone(),
        read_end,
    ));
    tokio::spawn(read_loop(
        read,
        conn,
        slot,
        limits,
        events,
        stop,
        read_end_tx,
        accepted,
    ));
}

/// What the writer task of one connection writes with.
struct Writer {
    half: Arc<OwnedWriteHalf>,
    queue: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicUsize>,
}

/// Writes all of `bytes`, waiting for the socket to take them.
async fn write_whole(half: &OwnedWriteHalf, bytes: &[u8]) -> std::io::Result<()> {
    let mut off = 0;
    while off < bytes.len() {
        half.writable().await?;
        match half.try_write(&bytes[off..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How the reading half of a connection ended, told to the writing half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// The peer finished sending: answer what is queued, then close after [`LINGER`].
    Finished,
    /// A bound was hit or the stream cannot be framed: close now.
    Abort,
}

/// The addresses and id of one connection, for its events.
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    local: SocketAddr,
    remote: SocketAddr,
    id: u64,
}

impl Endpoints {
    fn finding(self, reason: String, bytes: &[u8]) -> super::Inbound {
        super::Inbound::Stream(StreamEvent::Finding {
            local: self.local,
            remote: self.remote,
            reason,
            bytes: bytes[..bytes.len().min(MAX_EVIDENCE)].to_vec(),
            at: Instant::now(),
        })
    }
}

/// Writes what the loop could not write at once, each message bounded in time, until the
/// loop drops the queue, a write fails, or the reader says the connection is over; then
/// tells the loop, which drops the last handle of the writing half (closing it).
async fn write_loop(
    mut w: Writer,
    conn: Endpoints,
    limits: TcpLimits,
    events: mpsc::Sender<super::Inbound>,
    stop: Arc<Notify>,
    mut read_end: oneshot::Receiver<ReadEnd>,
) {
    let mut reading = true;
    let mut linger_until: Option<Instant> = None;
    loop {
        let bytes = tokio::select! {
            next = w.queue.recv() => match next {
                Some(bytes) => bytes,
                None => break,
            },
            end = &mut read_end, if reading => {
                reading = false;
                match end {
                    Ok(ReadEnd::Abort) => break,
                    // The peer finished (or the reader stopped with the runner).
                    Ok(ReadEnd::Finished) | Err(_) => {
                        linger_until = Some(Instant::now() + LINGER);
                        continue;
                    }
                }
            }
            () = async {
                match linger_until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => break,
        };
        let written = tokio::time::timeout(limits.write_time, write_whole(&w.half, &bytes)).await;
        w.queued.fetch_sub(1, Ordering::AcqRel);
        let failure = match written {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("cannot write to {} over TCP: {e}", conn.remote),
            Err(_) => format!(
                "{} did not take a {}-byte message within {} s (it does not read); connection closed",
                conn.remote,
                bytes.len(),
                limits.write_time.as_secs()
            ),
        };
        let _ = events.send(conn.finding(failure, &bytes)).await;
        break;
    }
    // Nothing more goes through the task; the loop must not write either. The socket
    // is shut down now, not when the loop drops its handle (it may not run again).
    w.queued.fetch_add(1, Ordering::AcqRel);
    let tcp: &TcpStream = (*w.half).as_ref();
    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Both);
    drop(w);
    stop.notify_one();
    let _ = events
        .send(super::Inbound::Stream(StreamEvent::Closed {
            local: conn.local,
            remote: conn.remote,
            id: conn.id,
        }))
        .await;
}

/// Frames what the peer sends into messages for the loop, within the bounds; tells the
/// writer how reading ended.
#[allow(clippy::too_many_arguments)]
async fn read_loop(
    mut read: OwnedReadHalf,
    conn: Endpoints,
    slot: Slot,
    limits: TcpLimits,
    events: mpsc::Sender<super::Inbound>,
    stop: Arc<Notify>,
    read_end: oneshot::Sender<ReadEnd>,
    accepted: bool,
) {
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 16 * 1024];
    let opened = Instant::now();
    // When the first byte of the message being received arrived.
    let mut started: Option<Instant> = None;
    let mut whole_messages = 0u64;
    let finding = loop {
        let deadline = match started {
            Some(t) => Some((t + limits.message_time, "a message begun")),
            None if accepted && whole_messages == 0 => {
                Some((opened + limits.first_message_time, "a first message"))
            }
            None => None,
        };
        let read_once = read.read(&mut buf);
        let outcome = match deadline {
            Some((at, what)) => tokio::select! {
                r = read_once => Ok(r),
                () = tokio::time::sleep_until(at) => Err(what),
                () = stop.notified() => break None,
            },
            None => tokio::select! {
                r = read_once => Ok(r),
                () = stop.notified() => break None,
            },
        };
        let n = match outcome {
            Err(what) => {
                let secs = match started {
                    Some(_) => limits.message_time.as_secs(),
                    None => limits.first_message_time.as_secs(),
                };
                break Some(format!(
                    "{what} did not arrive whole within {secs} s ({} bytes held); connection closed",
                    framer.pending().len()
                ));
            }
            Ok(Ok(0)) if framer.pending().is_empty() => break None,
            Ok(Ok(0)) => {
                break Some(format!(
                    "connection closed by the peer in the middle of a message ({} bytes held)",
                    framer.pending().len()
                ));
            }
            Ok(Err(_)) => break None,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        let framing_error = loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    whole_messages += 1;
                    let event = StreamEvent::Message {
                        local: conn.local,
                        remote: conn.remote,
                        bytes: Bytes::from(message),
                        at: Instant::now(),
                    };
                    if events.send(super::Inbound::Stream(event)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(format!("cannot frame the stream: {e}; connection closed")),
            }
        };
        if framing_error.is_some() {
            break framing_error;
        }
        started = if framer.pending().is_empty() {
            None
        } else {
            started.or(Some(Instant::now()))
        };
    };
    let end = match finding {
        Some(reason) => {
            let _ = events.send(conn.finding(reason, framer.pending())).await;
            ReadEnd::Abort
        }
        None => ReadEnd::Finished,
    };
    let _ = read_end.send(end);
    drop(slot);
}
