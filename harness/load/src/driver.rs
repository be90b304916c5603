//! The I/O of a load run: binds the sockets each engine asks for and runs every engine on
//! an event loop of its own thread (one loop per core: no task or thread per call or per
//! stream), until the engines have finished or the user stops them.
//!
//! Owns: the sockets (non-blocking UDP from `socket2`, one `mio::Poll` per loop), the
//! clock (a monotonic `Instant` turned into [`Time`]), a `timerfd` per loop for wake-ups
//! at microsecond precision (`epoll_wait` only takes whole milliseconds, and a loop that
//! polled until its deadline would burn the core the other loops and the embedded
//! platform share), Ctrl-C, and the harness's self-health readings: CPU time of each
//! loop's thread (`getrusage`), and receive drops of the run's sockets. Every socket has
//! `SO_RXQ_OVFL` on, so each datagram read carries its socket's drop counter (the
//! socket's `sk_drops`, the same counter `/proc/net/udp` shows): a loop counts the drops
//! of its own sockets as it reads, for free. The kernel's tables are read only when a
//! loop binds and when it ends (by the coordinating thread, never a loop: with
//! thousands of sockets a read takes milliseconds), so drops that no later datagram
//! reported are counted in the totals too.
//!
//! Batched I/O: every socket is read with `recvmmsg` (all queued datagrams in one system
//! call, each with its drop counter; `quinn-udp`, which batches too, does not hand out
//! that control message, so nix's safe `recvmmsg` is used). Sends are one `sendto` each:
//! every call's RTP leaves from its own port (the one its SDP announced, as symmetric RTP
//! requires), so consecutive datagrams rarely share a socket and `sendmmsg` would batch
//! nothing; batching across sockets needs io_uring, which the crate's
//! `forbid(unsafe_code)` rules out.
//!
//! The loops report to the calling thread over a channel: judged calls as they end, and
//! each interval's figures, which the caller merges (interval `k` of every loop covers
//! the same span, `k * interval` after the common origin) and hands to the [`RunSink`].
//!
//! Must not touch: protocol or judgement (the engines'), files (the sink's).

use crate::engine::Finished;
use crate::engine::{Engine, SocketKind, SocketSpec};
use crate::results::FiguresData;
use crate::stats::Figures;
use media::pcap::PcapWriter;
use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use sip::time::Time;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Receive buffer asked for on the SIP sockets (the kernel caps it at `rmem_max`).
pub const SIP_RCVBUF: usize = 4 << 20;
/// Receive buffer asked for on each RTP socket (50 packets a second each).
pub const RTP_RCVBUF: usize = 256 << 10;
/// Bytes per receive buffer: the largest UDP datagram.
const RECV_BUF: usize = 65_536;
/// Control-message room per datagram read.
const CMSG_BYTES: usize = 64;
/// Datagrams read with one `recvmmsg` at most.
const RECV_BATCH: usize = 32;
/// Datagrams handled before the clock is read again.
const CLOCK_EVERY: u32 = 16;
/// The loop's timer wakes on this grid (deadlines are rounded up to it): calls start
/// spread over the 20 ms frame, so without a grid a loop with 1,000 streams would wake
/// 50,000 times a second for one packet each (measured: +57 % call-loop CPU at 456
/// calls). Nothing is sent early; a packet leaves at most this much later than due.
const WAKE_GRID_US: u64 = 250;
/// The token of the loop's timer.
const TIMER: Token = Token(usize::MAX);

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A socket could not be bound.
    #[error(
        "cannot bind {addr} ({owner}): {source}. Choose another address or port range, or \
         stop what holds it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the socket is for.
        owner: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The readiness poll or the timer failed.
    #[error("event loop: {0}")]
    Poll(#[from] std::io::Error),
    /// A loop's thread ended without reporting (it panicked).
    #[error("event loop {0} stopped without reporting; the run's figures are incomplete")]
    LoopLost(usize),
}

/// Ctrl-C state shared with a signal handler: 0 running, 1 stop starting calls and drain,
/// 2 or more hang up everything now.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(pub Arc<AtomicU8>);

impl StopFlag {
    /// Records one more Ctrl-C.
    pub fn press(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn level(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The harness's own health over an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Health {
    /// CPU time the busiest call loop used, as a fraction of the interval (1.0 = a core).
    pub cpu_share: f64,
    /// CPU share of the service loops (the embedded platform and recorder), summed.
    pub service_cpu_share: f64,
    /// Datagrams the kernel dropped on the run's sockets (full receive buffers).
    pub receive_drops: u64,
    /// Whether the drop counters could be read at all.
    pub drops_readable: bool,
}

/// One interval of the run, handed to the sink.
#[derive(Debug)]
pub struct Interval<'a> {
    /// Time since the run started, at the interval's end.
    pub at: Duration,
    /// How long the interval was.
    pub length: Duration,
    /// The interval's figures, merged over the loops.
    pub figures: &'a Figures,
    /// Calls open at its end.
    pub active: u32,
    /// Calls started so far.
    pub started: u64,
    /// The harness's health in it.
    pub health: Health,
}

/// Where a run's output goes (files, the live status).
pub trait RunSink {
    /// A call ended and was judged.
    fn record(&mut self, call: &Finished);
    /// An interval ended.
    fn interval(&mut self, interval: &Interval<'_>);
}

/// What one loop measured over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopTotals {
    /// CPU time of the loop's thread.
    pub cpu: Duration,
    /// Kernel receive drops on the loop's sockets.
    pub receive_drops: u64,
    /// Whether those could be read.
    pub drops_readable: bool,
    /// Sockets the loop bound.
    pub sockets: usize,
}

/// What the driver measured over the whole run.
#[derive(Debug, Clone, Default)]
pub struct RunTotals {
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Per call loop.
    pub loops: Vec<LoopTotals>,
    /// Per service loop (embedded platform, recorder).
    pub services: Vec<LoopTotals>,
    /// Peak resident memory of the process, bytes (`ru_maxrss`).
    pub max_rss_bytes: u64,
    /// Resident memory when the run started (engines built, nothing bound yet), bytes:
    /// what the peak is compared with to tell the memory the calls took.
    pub rss_at_start_bytes: u64,
    /// True when the run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// The figures of the whole run, merged over the loops.
    pub figures: Figures,
    /// Messages that matched no call, over the loops.
    pub stray: u64,
    /// Recording sessions tied to no call, over the loops.
    pub unattributed: u64,
}

impl RunTotals {
    /// CPU time of the call loops.
    pub fn cpu(&self) -> Duration {
        self.loops.iter().map(|l| l.cpu).sum()
    }

    /// CPU time of the service loops.
    pub fn service_cpu(&self) -> Duration {
        self.services.iter().map(|l| l.cpu).sum()
    }

    /// Receive drops over every loop, `None` when no loop could read them.
    pub fn receive_drops(&self) -> Option<u64> {
        let all = self.loops.iter().chain(&self.services);
        let readable = all.clone().any(|l| l.drops_readable);
        readable.then(|| all.map(|l| l.receive_drops).sum())
    }
}

/// A bound socket and the last drop count it reported.
struct Bound {
    socket: UdpSocket,
    drops_seen: u32,
    v6: bool,
}

/// Reads up to a batch of datagrams from one socket with `recvmmsg`, each with the
/// socket's drop counter (`SO_RXQ_OVFL`).
///
/// The kernel writes back each header's control length (and address length) after a
/// read, and nix's `recvmmsg` does not reset them for the next one, so a header that last
/// carried a datagram without the counter (the kernel adds it only once drops happened)
/// has no room for it the next time: that read comes back truncated. The counter is
/// cumulative, so nothing is lost by skipping it once; the headers are rebuilt before
/// the next read (and whenever the address family changes).
struct BatchReceiver {
    headers: MultiHeaders<SockaddrStorage>,
    storage: Vec<Vec<u8>>,
    got: Vec<(Option<SocketAddr>, usize, Option<u32>)>,
    rebuild: bool,
    last_v6: bool,
}

impl BatchReceiver {
    fn new(batch: usize) -> Self {
        Self {
            headers: Self::headers(batch),
            storage: (0..batch).map(|_| vec![0u8; RECV_BUF]).collect(),
            got: Vec::with_capacity(batch),
            rebuild: false,
            last_v6: false,
        }
    }

    fn headers(batch: usize) -> MultiHeaders<SockaddrStorage> {
        MultiHeaders::preallocate(batch, Some(Vec::with_capacity(CMSG_BYTES)))
    }

    fn batch(&self) -> usize {
        self.storage.len()
    }

    /// Reads what is queued on `fd` (without blocking); the datagrams are then
    /// [`Self::datagram`] `0..n`.
    fn recv(&mut self, fd: std::os::fd::RawFd, v6: bool) -> std::io::Result<usize> {
        self.got.clear();
        if self.rebuild || v6 != self.last_v6 {
            self.headers = Self::headers(self.storage.len());
            self.rebuild = false;
            self.last_v6 = v6;
        }
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self
            .storage
            .iter_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())])
            .collect();
        let res = recvmmsg(
            fd,
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(std::io::Error::from)?;
        let mut rebuild = false;
        for r in res {
            rebuild |= r.flags.contains(MsgFlags::MSG_CTRUNC);
            let addr = r.address.as_ref().and_then(std_addr);
            let ovfl = r.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::RxqOvfl(n) => Some(n),
                    _ => None,
                })
            });
            self.got.push((addr, r.bytes, ovfl));
        }
        self.rebuild = rebuild;
        Ok(self.got.len())
    }

    /// Datagram `i` of the last read: source, bytes and the drop counter it carried.
    fn datagram(&self, i: usize) -> Option<(Option<SocketAddr>, &[u8], Option<u32>)> {
        let (addr, len, ovfl) = *self.got.get(i)?;
        let buf = self.storage.get(i)?;
        Some((addr, buf.get(..len).unwrap_or(buf), ovfl))
    }
}

fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(std::net::SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(std::net::SocketAddrV6::from(*v6)))
}

fn bind_all(specs: &[SocketSpec]) -> Result<(Vec<Bound>, HashSet<u16>), DriverError> {
    let mut out = Vec::with_capacity(specs.len());
    let mut ports = HashSet::with_capacity(specs.len());
    for spec in specs {
        let err = |source| DriverError::Bind {
            addr: spec.addr,
            owner: spec.owner,
            source,
        };
        let sock = Socket::new(
            Domain::for_address(spec.addr),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .map_err(err)?;
        let buf = match spec.kind {
            SocketKind::Sip => SIP_RCVBUF,
            SocketKind::Rtp => RTP_RCVBUF,
        };
        // A smaller buffer than asked is not an error; drops are counted either way.
        let _ = sock.set_recv_buffer_size(buf);
        let _ = sock.set_send_buffer_size(buf);
        sock.set_nonblocking(true).map_err(err)?;
        // Every datagram read then carries the socket's drop counter.
        setsockopt(&sock, sockopt::RxqOvfl, &1).map_err(|e| err(e.into()))?;
        sock.bind(&spec.addr.into()).map_err(err)?;
        let std: std::net::UdpSocket = sock.into();
        ports.insert(spec.addr.port());
        out.push(Bound {
            socket: UdpSocket::from_std(std),
            drops_seen: 0,
            v6: spec.addr.is_ipv6(),
        });
    }
    Ok((out, ports))
}

/// What a loop sends the coordinating thread.
enum LoopMsg {
    Bound(HashSet<u16>),
    Record(Box<Finished>),
    Interval {
        seq: u64,
        figures: Box<FiguresData>,
        cpu: Duration,
        drops: u64,
        active: u32,
        started: u64,
    },
    Done {
        totals: LoopTotals,
        figures: Box<Figures>,
        stray: u64,
        unattributed: u64,
    },
    Failed(DriverError),
}

/// Whether a loop runs calls (and ends when its engine has finished) or serves them (the
/// embedded platform: ends when every call loop has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopRole {
    Calls,
    Service,
}

struct LoopCtx {
    id: usize,
    role: LoopRole,
    origin: Instant,
    interval: Duration,
    stop: StopFlag,
    calls_done: Arc<AtomicBool>,
    tx: mpsc::Sender<(usize, LoopMsg)>,
    spool_dir: Option<PathBuf>,
}

/// The captures of the open calls, spooled to disk as they happen (one pcap per call,
/// through a small buffer): never held in memory, and closed when the call ends, when
/// the sink keeps or deletes it.
struct Spooler {
    dir: Option<PathBuf>,
    open: HashMap<u64, PcapWriter<BufWriter<File>>>,
    /// The wall clock at the run's origin, for the capture's timestamps.
    wall_origin: Duration,
    /// Captures that could not be written (the disk is full, the directory is gone).
    failed: u64,
}

impl Spooler {
    fn new(dir: Option<PathBuf>, origin: Instant) -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            dir,
            open: HashMap::new(),
            wall_origin: since_epoch.saturating_sub(origin.elapsed()),
            failed: 0,
        }
    }

    fn path(dir: &Path, call: u64) -> PathBuf {
        dir.join(format!("call-{call}.pcap"))
    }

    /// Writes what the engine captured since the last call.
    fn drain(&mut self, engine: &mut dyn Engine) {
        let Some(dir) = &self.dir else {
            return;
        };
        while let Some(c) = engine.poll_capture() {
            let w = match self.open.entry(c.call) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    match File::create(Self::path(dir, c.call))
                        .map_err(|e| e.to_string())
                        .and_then(|f| {
                            PcapWriter::new(BufWriter::with_capacity(8 << 10, f))
                                .map_err(|e| e.to_string())
                        }) {
                        Ok(w) => v.insert(w),
                        Err(_) => {
                            self.failed += 1;
                            continue;
                        }
                    }
                }
            };
            let ts = self.wall_origin + c.at.since_origin();
            if w.write_udp(ts, c.from, c.to, &c.payload).is_err() {
                self.failed += 1;
            }
        }
    }

    /// Closes a call's capture, returning its file (when one was written).
    fn close(&mut self, call: u64) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let w = self.open.remove(&call)?;
        let mut inner = w.into_inner();
        if std::io::Write::flush(&mut inner).is_err() {
            self.failed += 1;
        }
        Some(Self::path(dir, call))
    }
}

fn clock(origin: Instant) -> Time {
    Time::from_duration(origin.elapsed())
}

/// Runs one engine on this thread until it is finished (or, for a service, until the
/// call loops are).
fn run_loop(engine: &mut dyn Engine, ctx: &LoopCtx) -> Result<(), DriverError> {
    let send = |m: LoopMsg| {
        let _ = ctx.tx.send((ctx.id, m));
    };
    let (mut bound, ports) = bind_all(engine.sockets())?;
    send(LoopMsg::Bound(ports));
    let mut poll = Poll::new()?;
    for (i, b) in bound.iter_mut().enumerate() {
        poll.registry()
            .register(&mut b.socket, Token(i), Interest::READABLE)?;
    }
    let timer = TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    poll.registry()
        .register(&mut SourceFd(&timer.as_fd_raw()), TIMER, Interest::READABLE)?;
    let mut events = Events::with_capacity(4096);
    let mut spooler = Spooler::new(ctx.spool_dir.clone(), ctx.origin);
    let mut rx = BatchReceiver::new(RECV_BATCH);
    let mut drops_in_interval = 0u64;
    let cpu_at_start = thread_cpu();
    let mut seq = 1u64;
    let mut cpu_at_interval = cpu_at_start;
    let mut stop_seen = 0u8;
    let mut armed: Option<Time> = None;
    loop {
        let now = clock(ctx.origin);
        let level = ctx.stop.level();
        if level > stop_seen {
            stop_seen = level;
            if level == 1 {
                engine.stop();
            } else {
                engine.hang_up_all(now);
            }
        }
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
        flush(engine, &bound);
        spooler.drain(engine);
        while let Some(mut rec) = engine.poll_record() {
            rec.capture = spooler.close(rec.record.index);
            send(LoopMsg::Record(Box::new(rec)));
        }
        let finished = match ctx.role {
            LoopRole::Calls => engine.is_finished(),
            LoopRole::Service => ctx.calls_done.load(Ordering::SeqCst),
        };
        let boundary = ctx.interval.saturating_mul(seq as u32);
        if ctx.origin.elapsed() >= boundary || finished {
            let cpu = thread_cpu();
            send(LoopMsg::Interval {
                seq,
                figures: Box::new(engine.take_interval()),
                cpu: cpu.saturating_sub(cpu_at_interval),
                drops: std::mem::take(&mut drops_in_interval),
                active: engine.active(),
                started: engine.started(),
            });
            cpu_at_interval = cpu;
            seq += 1;
        }
        if finished {
            break;
        }
        let now = clock(ctx.origin);
        let next_interval = Time::from_duration(ctx.interval.saturating_mul(seq as u32));
        let deadline = engine
            .poll_timeout()
            .map_or(next_interval, |t| t.min(next_interval));
        // Service loops look at the calls-done flag at least every 50 ms.
        let deadline = deadline.min(now + Duration::from_millis(50));
        let deadline =
            Time::from_micros(deadline.as_micros().div_ceil(WAKE_GRID_US) * WAKE_GRID_US);
        let timeout = if deadline <= now {
            Some(Duration::ZERO)
        } else {
            if armed != Some(deadline) {
                let wait = deadline.saturating_duration_since(now);
                timer
                    .set(
                        Expiration::OneShot(TimeSpec::from_duration(wait)),
                        TimerSetTimeFlags::empty(),
                    )
                    .map_err(std::io::Error::from)?;
                armed = Some(deadline);
            }
            // The timer wakes the loop; the bound is a safety net only.
            Some(Duration::from_millis(200))
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        let mut now = clock(ctx.origin);
        if armed.is_some_and(|t| t <= now) {
            armed = None;
        }
        let mut handled = 0u32;
        for ev in events.iter() {
            let Token(i) = ev.token();
            let Some((fd, v6)) = bound.get(i).map(|b| (b.socket.as_raw_fd(), b.v6)) else {
                continue;
            };
            let id = crate::engine::SocketId(i as u32);
            loop {
                match rx.recv(fd, v6) {
                    Ok(n) => {
                        for k in 0..n {
                            let Some((from, data, ovfl)) = rx.datagram(k) else {
                                continue;
                            };
                            if let (Some(c), Some(b)) = (ovfl, bound.get_mut(i)) {
                                drops_in_interval += u64::from(c.wrapping_sub(b.drops_seen));
                                b.drops_seen = c;
                            }
                            let Some(from) = from else {
                                continue;
                            };
                            engine.handle_datagram(now, id, from, data);
                            handled += 1;
                            if handled.is_multiple_of(CLOCK_EVERY) {
                                // Keep the send schedule while a long batch of
                                // arrivals is handled.
                                now = clock(ctx.origin);
                                if engine.poll_timeout().is_some_and(|t| t <= now) {
                                    engine.handle_timeout(now);
                                }
                                flush(engine, &bound);
                                spooler.drain(engine);
                            }
                        }
                        // Fewer than a full batch: the queue was empty when read, and any
                        // later arrival raises a new edge.
                        if n < rx.batch() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // ICMP port unreachable surfaces as ECONNREFUSED on the next read;
                    // it belongs to no datagram, so it is skipped.
                    Err(_) => break,
                }
            }
        }
        flush(engine, &bound);
        spooler.drain(engine);
    }
    send(LoopMsg::Done {
        totals: LoopTotals {
            cpu: thread_cpu().saturating_sub(cpu_at_start),
            // Filled in by the coordinator, which reads the kernel's counters.
            receive_drops: 0,
            drops_readable: false,
            sockets: bound.len(),
        },
        figures: Box::new(engine.totals().clone()),
        stray: engine.stray(),
        unattributed: engine.unattributed(),
    });
    Ok(())
}

trait RawTimer {
    fn as_fd_raw(&self) -> i32;
}

impl RawTimer for TimerFd {
    fn as_fd_raw(&self) -> i32 {
        std::os::fd::AsFd::as_fd(self).as_raw_fd()
    }
}

fn flush(engine: &mut dyn Engine, sockets: &[Bound]) {
    let mut errors = 0;
    while let Some(t) = engine.poll_transmit() {
        let Some(b) = sockets.get(t.socket.0 as usize) else {
            errors += 1;
            continue;
        };
        if b.socket.send_to(&t.payload, t.to).is_err() {
            errors += 1;
        }
    }
    if errors > 0 {
        engine.count_send_errors(errors);
    }
}

/// Runs `engines` (one thread and event loop each) to their end, with `services` (the
/// embedded platform, one loop each) running beside them until the last call loop ends.
/// Judged calls and merged intervals go to `sink` on this thread. With `spool_dir`, every
/// call's capture is spooled there while it runs (see [`crate::engine::Captured`]).
#[allow(clippy::too_many_arguments)]
pub fn run(
    engines: Vec<Box<dyn Engine + Send>>,
    services: Vec<Box<dyn Engine + Send>>,
    origin: Instant,
    interval: Duration,
    stop: &StopFlag,
    spool_dir: Option<&Path>,
    sink: &mut dyn RunSink,
) -> Result<RunTotals, DriverError> {
    let rss_at_start = current_rss();
    let (tx, rx) = mpsc::channel::<(usize, LoopMsg)>();
    let calls_done = Arc::new(AtomicBool::new(false));
    let n_calls = engines.len();
    let n_all = n_calls + services.len();
    std::thread::scope(|scope| {
        for (id, (mut engine, role)) in engines
            .into_iter()
            .map(|e| (e, LoopRole::Calls))
            .chain(services.into_iter().map(|e| (e, LoopRole::Service)))
            .enumerate()
        {
            let ctx = LoopCtx {
                id,
                role,
                origin,
                interval,
                stop: stop.clone(),
                calls_done: calls_done.clone(),
                tx: tx.clone(),
                spool_dir: spool_dir.map(Path::to_path_buf),
            };
            std::thread::Builder::new()
                .name(format!("recproof-loop-{id}"))
                .spawn_scoped(scope, move || {
                    if let Err(e) = run_loop(engine.as_mut(), &ctx) {
                        let _ = ctx.tx.send((ctx.id, LoopMsg::Failed(e)));
                    }
                })
                .map_err(DriverError::Poll)?;
        }
        drop(tx);
        coordinate(
            rx,
            n_calls,
            n_all,
            &calls_done,
            origin,
            interval,
            stop,
            sink,
        )
        .map(|mut t| {
            t.rss_at_start_bytes = rss_at_start;
            t
        })
    })
}

/// Resident memory of the process now, bytes (`/proc/self/statm`; 0 when unreadable).
fn current_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Collects the loops' messages: records to the sink at once, intervals merged by
/// sequence number once every loop still running has reported it.
#[allow(clippy::too_many_arguments)]
fn coordinate(
    rx: mpsc::Receiver<(usize, LoopMsg)>,
    n_calls: usize,
    n_all: usize,
    calls_done: &AtomicBool,
    origin: Instant,
    interval: Duration,
    stop: &StopFlag,
    sink: &mut dyn RunSink,
) -> Result<RunTotals, DriverError> {
    struct Pending {
        figures: Figures,
        reported: usize,
        cpu_max: f64,
        service_cpu: f64,
        drops: u64,
        active: Vec<u32>,
    }
    // Kernel drop tables: each loop's ports and the reading when it bound them (the
    // totals; intervals use the counters the loops read with every datagram).
    let mut ports: Vec<HashSet<u16>> = vec![HashSet::new(); n_all];
    let mut baseline: Vec<Option<u64>> = vec![None; n_all];
    let read_all = |ports: &[HashSet<u16>]| -> Vec<Option<u64>> {
        let tables: Vec<String> = ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        ports
            .iter()
            .map(|set| (!tables.is_empty()).then(|| tables.iter().map(|t| drops_in(t, set)).sum()))
            .collect()
    };
    let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
    let mut done: Vec<Option<LoopTotals>> = vec![None; n_all];
    let mut last_started = vec![0u64; n_all];
    let mut totals = RunTotals::default();
    // The calls' outcomes are counted here as their records arrive (judged on this
    // thread); the loops count packets and schedules.
    let mut calls_interval = Figures::default();
    let mut calls_total = Figures::default();
    let mut failure = None;
    let mut calls_left = n_calls;
    let secs = interval.as_secs_f64().max(1e-6);
    for (id, msg) in rx {
        match msg {
            LoopMsg::Bound(set) => {
                let one = read_all(std::slice::from_ref(&set));
                baseline[id] = one.first().copied().flatten();
                if let Some(slot) = ports.get_mut(id) {
                    *slot = set;
                }
            }
            LoopMsg::Record(mut r) => {
                // Judged here, not on the loop: see `Finished`.
                crate::judge::complete(&mut r);
                calls_interval.count_call(&r.record);
                calls_total.count_call(&r.record);
                sink.record(&r);
            }
            LoopMsg::Interval {
                seq,
                figures,
                cpu,
                drops,
                active,
                started,
            } => {
                let p = pending.entry(seq).or_insert_with(|| Pending {
                    figures: Figures::default(),
                    reported: 0,
                    cpu_max: 0.0,
                    service_cpu: 0.0,
                    drops: 0,
                    active: vec![0; n_all],
                });
                p.drops += drops;
                p.figures.merge(&figures.figures());
                p.reported += 1;
                let share = cpu.as_secs_f64() / secs;
                if id < n_calls {
                    p.cpu_max = p.cpu_max.max(share);
                } else {
                    p.service_cpu += share;
                }
                p.active[id] = active;
                last_started[id] = started;
            }
            LoopMsg::Done {
                totals: mut t,
                figures,
                stray,
                unattributed,
            } => {
                totals.unattributed += unattributed;
                let now = read_all(std::slice::from_ref(&ports[id]));
                if let (Some(Some(a)), Some(b)) = (now.first(), baseline[id]) {
                    t.receive_drops = a.saturating_sub(b);
                    t.drops_readable = true;
                }
                done[id] = Some(t);
                if id < n_calls {
                    totals.figures.merge(&figures);
                    totals.stray += stray;
                    calls_left -= 1;
                    if calls_left == 0 {
                        calls_done.store(true, Ordering::SeqCst);
                    }
                }
            }
            LoopMsg::Failed(e) => {
                failure.get_or_insert(e);
                // The other loops stop starting calls and hang up: the run is broken.
                stop.press();
                stop.press();
                done[id] = Some(LoopTotals::default());
                if id < n_calls {
                    calls_left = calls_left.saturating_sub(1);
                    if calls_left == 0 {
                        calls_done.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
        // An interval is complete when every loop still running has reported it.
        let running = done.iter().filter(|d| d.is_none()).count();
        while let Some((&seq, p)) = pending.iter().next() {
            if p.reported < running.max(1) && running > 0 {
                break;
            }
            let Some(mut p) = pending.remove(&seq) else {
                break;
            };
            p.figures.merge(&calls_interval);
            calls_interval.reset();
            let active = p.active.iter().sum::<u32>();
            let at = interval.saturating_mul(seq as u32).min(origin.elapsed());
            let length = at.saturating_sub(interval.saturating_mul(seq as u32 - 1));
            sink.interval(&Interval {
                at,
                length: if length.is_zero() { interval } else { length },
                figures: &p.figures,
                active,
                started: last_started.iter().sum(),
                health: Health {
                    cpu_share: p.cpu_max,
                    service_cpu_share: p.service_cpu,
                    receive_drops: p.drops,
                    drops_readable: true,
                },
            });
        }
    }
    // Whatever intervals are still pending (a loop ended between reports) go out as
    // they are.
    for (seq, mut p) in std::mem::take(&mut pending) {
        p.figures.merge(&calls_interval);
        calls_interval.reset();
        let at = interval.saturating_mul(seq as u32).min(origin.elapsed());
        sink.interval(&Interval {
            at,
            length: interval,
            figures: &p.figures,
            active: p.active.iter().sum(),
            started: last_started.iter().sum(),
            health: Health {
                cpu_share: p.cpu_max,
                service_cpu_share: p.service_cpu,
                receive_drops: p.drops,
                drops_readable: true,
            },
        });
    }
    if let Some(e) = failure {
        return Err(e);
    }
    for (id, d) in done.into_iter().enumerate() {
        let d = d.ok_or(DriverError::LoopLost(id))?;
        if id < n_calls {
            totals.loops.push(d);
        } else {
            totals.services.push(d);
        }
    }
    totals.figures.merge(&calls_total);
    totals.elapsed = origin.elapsed();
    totals.max_rss_bytes = max_rss();
    totals.interrupted = stop.level() > 0;
    Ok(totals)
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |u| {
        let tv = |t: nix::sys::time::TimeVal| {
            Duration::from_secs(t.tv_sec().max(0) as u64)
                + Duration::from_micros(t.tv_usec().max(0) as u64)
        };
        tv(u.user_time()) + tv(u.system_time())
    })
}

/// Peak resident memory of the process, bytes.
fn max_rss() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.max_rss().max(0) as u64 * 1024)
}

/// The kernel's receive-drop count summed over the UDP sockets bound to `ports`, from
/// `/proc/net/udp` and `/proc/net/udp6` (`None` when neither can be read).
pub fn udp_drops(ports: &HashSet<u16>) -> Option<u64> {
    let mut total = None;
    for path in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            *total.get_or_insert(0) += drops_in(&text, ports);
        }
    }
    total
}

/// Sums the `drops` column of `/proc/net/udp`-format `text` for sockets on `ports`.
pub fn drops_in(text: &str, ports: &HashSet<u16>) -> u64 {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            if !ports.contains(&port) {
                return None;
            }
            fields.last()?.parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket flooded past its receive buffer reports, with the next datagram read,
    /// how many the kernel dropped: the loops count drops from this, for free.
    #[test]
    fn a_flooded_socket_reports_its_drops_with_the_next_datagram() {
        let spec = SocketSpec {
            id: crate::engine::SocketId(0),
            addr: "127.0.0.1:0".parse().expect("addr"),
            kind: SocketKind::Rtp,
            owner: "test",
        };
        let (bound, _) = bind_all(std::slice::from_ref(&spec)).expect("bind");
        let to = bound[0].socket.local_addr().expect("local");
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("sender");
        let payload = [0u8; 1200];
        let mut sent = 0u32;
        for _ in 0..20_000 {
            if tx.send_to(&payload, to).is_ok() {
                sent += 1;
            }
        }
        let mut rx = BatchReceiver::new(RECV_BATCH);
        let fd = bound[0].socket.as_raw_fd();
        let drain = |rx: &mut BatchReceiver| {
            let (mut read, mut drops) = (0u32, None);
            while let Ok(n) = rx.recv(fd, false) {
                if n == 0 {
                    break;
                }
                for k in 0..n {
                    let (from, data, ovfl) = rx.datagram(k).expect("datagram");
                    assert_eq!(data.len(), 1200);
                    assert!(from.is_some());
                    // The kernel adds the counter only once it is not zero.
                    drops = ovfl.or(drops);
                    read += 1;
                }
            }
            (read, drops)
        };
        let (read, _) = drain(&mut rx);
        assert!(read > 0 && read < sent, "read {read} of {sent}");
        // The next datagrams queued carry the drops so far (the first read after a
        // header carried no counter may come back truncated; the counter is cumulative).
        tx.send_to(&payload, to).expect("one more");
        tx.send_to(&payload, to).expect("and another");
        let (two, first) = drain(&mut rx);
        tx.send_to(&payload, to).expect("one more");
        let (one, drops) = drain(&mut rx);
        assert_eq!(two + one, 3);
        let drops = drops.or(first).expect("the counter reports the overflow");
        assert_eq!(read + drops, sent, "every datagram is read or counted");
    }

    #[test]
    fn drops_are_summed_for_our_ports_only() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 0100007F:4E20 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 7\n\
  2: 0100007F:4E22 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0\n\
  3: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 99\n";
        let ports: HashSet<u16> = [20_000, 20_002].into_iter().collect();
        assert_eq!(drops_in(text, &ports), 7);
        assert_eq!(drops_in("garbage\nmore garbage here", &ports), 0);
    }
}
