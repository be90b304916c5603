//! The I/O of a load run: binds the sockets an engine asks for and runs it on one thread
//! with one readiness poll, until the engine has finished or the user stops it.
//!
//! Owns: the sockets (non-blocking UDP from `socket2`, registered with one `mio::Poll`),
//! the clock (a monotonic `Instant` turned into [`Time`]), Ctrl-C flags, and the
//! harness's self-health readings: CPU time of the event-loop thread (`getrusage`), and
//! receive drops of its own sockets, read once per interval from the kernel's
//! `/proc/net/udp` and `/proc/net/udp6` drop counters (the sockets' `sk_drops`, each
//! counted once). There is one loop for all calls and streams: no task, thread or timer
//! per call.
//!
//! Timing: `mio` waits in whole milliseconds (rounding up), so the loop wakes up to a
//! millisecond before the next deadline and polls without sleeping until it is due; send
//! lateness is measured per packet by the engine and reported.
//!
//! Must not touch: protocol or judgement (the engine's), files (the caller's sink).

use crate::direct::{DirectEngine, SocketSpec};
use crate::record::CallRecord;
use crate::stats::Figures;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use sip::time::Time;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Receive buffer asked for on the SIP sockets (the kernel caps it at `rmem_max`).
pub const SIP_RCVBUF: usize = 4 << 20;
/// Receive buffer asked for on each RTP socket (50 packets a second each).
pub const RTP_RCVBUF: usize = 64 << 10;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams handled before the clock is read again.
const CLOCK_EVERY: u32 = 32;

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A socket could not be bound.
    #[error(
        "cannot bind {addr} ({what}): {source}. Choose another address or port range, or \
         stop what holds it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the socket is for.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The readiness poll failed.
    #[error("event loop: {0}")]
    Poll(#[from] std::io::Error),
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
    /// CPU time the event-loop thread used, as a fraction of the interval (1.0 = a core).
    pub cpu_share: f64,
    /// Datagrams the kernel dropped on the harness's sockets (full receive buffers).
    pub receive_drops: u64,
    /// Whether the drop counters could be read at all.
    pub drops_readable: bool,
}

/// One interval of the run, handed to the sink.
#[derive(Debug)]
pub struct Interval<'a> {
    /// Seconds since the run started, at the interval's end.
    pub at: Duration,
    /// How long the interval was.
    pub length: Duration,
    /// The interval's figures.
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
    fn record(&mut self, record: &CallRecord);
    /// An interval ended.
    fn interval(&mut self, interval: &Interval<'_>);
}

/// What the driver measured over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTotals {
    /// Wall time of the run.
    pub elapsed: Duration,
    /// CPU time of the event-loop thread.
    pub cpu: Duration,
    /// Kernel receive drops on the harness's sockets.
    pub receive_drops: u64,
    /// Whether those could be read.
    pub drops_readable: bool,
    /// Peak resident memory of the process, bytes (`ru_maxrss`).
    pub max_rss_bytes: u64,
    /// True when the run was stopped by Ctrl-C.
    pub interrupted: bool,
}

struct Bound {
    sockets: Vec<UdpSocket>,
    ports: HashSet<u16>,
}

fn bind_all(specs: &[SocketSpec]) -> Result<Bound, DriverError> {
    let mut sockets = Vec::with_capacity(specs.len());
    let mut ports = HashSet::with_capacity(specs.len());
    for spec in specs {
        let what = format!("{:?}", spec.role);
        let err = |source| DriverError::Bind {
            addr: spec.addr,
            what: what.clone(),
            source,
        };
        let sock = Socket::new(
            Domain::for_address(spec.addr),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .map_err(err)?;
        let rcvbuf = match spec.role {
            crate::direct::SocketRole::CallerSip | crate::direct::SocketRole::CalleeSip => {
                SIP_RCVBUF
            }
            _ => RTP_RCVBUF,
        };
        // A smaller buffer than asked is not an error; drops are counted either way.
        let _ = sock.set_recv_buffer_size(rcvbuf);
        let _ = sock.set_send_buffer_size(rcvbuf);
        sock.set_nonblocking(true).map_err(err)?;
        sock.bind(&spec.addr.into()).map_err(err)?;
        let std: std::net::UdpSocket = sock.into();
        ports.insert(spec.addr.port());
        sockets.push(UdpSocket::from_std(std));
    }
    Ok(Bound { sockets, ports })
}

/// Runs `engine` to its end on real sockets, handing records and intervals to `sink`.
pub fn run(
    engine: &mut DirectEngine,
    origin: Instant,
    interval: Duration,
    stop: &StopFlag,
    sink: &mut dyn RunSink,
) -> Result<RunTotals, DriverError> {
    let mut bound = bind_all(engine.sockets())?;
    let mut poll = Poll::new()?;
    for (i, s) in bound.sockets.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let clock = |origin: Instant| Time::from_duration(origin.elapsed());
    let drops_at_start = udp_drops(&bound.ports);
    let cpu_at_start = thread_cpu();
    let mut last_interval = Instant::now();
    let mut cpu_at_interval = cpu_at_start;
    let mut drops_at_interval = drops_at_start;
    let mut stop_seen = 0u8;
    loop {
        let now = clock(origin);
        let level = stop.level();
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
        flush(engine, &bound.sockets);
        while let Some(rec) = engine.poll_record() {
            sink.record(&rec);
        }
        if last_interval.elapsed() >= interval || engine.is_finished() {
            let length = last_interval.elapsed();
            last_interval = Instant::now();
            let cpu = thread_cpu();
            let drops = udp_drops(&bound.ports);
            let health = Health {
                cpu_share: cpu.saturating_sub(cpu_at_interval).as_secs_f64()
                    / length.as_secs_f64().max(1e-6),
                receive_drops: match (drops, drops_at_interval) {
                    (Some(a), Some(b)) => a.saturating_sub(b),
                    _ => 0,
                },
                drops_readable: drops.is_some(),
            };
            cpu_at_interval = cpu;
            drops_at_interval = drops;
            let figures = engine.stats().take_interval();
            sink.interval(&Interval {
                at: origin.elapsed(),
                length,
                figures: &figures,
                active: engine.active(),
                started: engine.started(),
                health,
            });
        }
        if engine.is_finished() {
            break;
        }
        let now = clock(origin);
        let until_interval = interval.saturating_sub(last_interval.elapsed());
        let wait = engine
            .poll_timeout()
            .map_or(until_interval, |t| t.saturating_duration_since(now))
            .min(until_interval)
            .min(Duration::from_millis(100));
        // Wake a millisecond early (mio rounds up to whole ms) and poll until due.
        let sleep = Duration::from_millis(wait.as_millis().saturating_sub(1) as u64);
        match poll.poll(&mut events, Some(sleep)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        let mut now = clock(origin);
        let mut handled = 0u32;
        for ev in events.iter() {
            let Token(i) = ev.token();
            let Some(sock) = bound.sockets.get(i) else {
                continue;
            };
            let id = crate::direct::SocketId(i as u32);
            loop {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        engine.handle_datagram(now, id, from, buf.get(..n).unwrap_or(&[]));
                        handled += 1;
                        if handled.is_multiple_of(CLOCK_EVERY) {
                            now = clock(origin);
                            flush(engine, &bound.sockets);
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
        flush(engine, &bound.sockets);
    }
    let drops_end = udp_drops(&bound.ports);
    Ok(RunTotals {
        elapsed: origin.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu_at_start),
        receive_drops: match (drops_end, drops_at_start) {
            (Some(a), Some(b)) => a.saturating_sub(b),
            _ => 0,
        },
        drops_readable: drops_end.is_some(),
        max_rss_bytes: max_rss(),
        interrupted: stop_seen > 0,
    })
}

fn flush(engine: &mut DirectEngine, sockets: &[UdpSocket]) {
    let mut errors = 0;
    while let Some(t) = engine.poll_transmit() {
        let Some(sock) = sockets.get(t.socket.0 as usize) else {
            errors += 1;
            continue;
        };
        if sock.send_to(&t.payload, t.to).is_err() {
            errors += 1;
        }
    }
    if errors > 0 {
        engine.stats().both(|f| f.send_errors += errors);
    }
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
