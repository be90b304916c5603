//! The contract between a load engine (sans-IO: the direct engine, the recorded-call
//! engine, a host of role nodes) and the event loop that drives it on real sockets.
//!
//! Owns: [`Engine`], the socket vocabulary ([`SocketId`], [`SocketSpec`], [`SocketKind`])
//! and [`Transmit`]. An engine names every socket it needs before the run starts (so
//! port pools are bound, and a range too small is refused, before the first call) and is
//! then driven the same way as every sans-IO state machine here: one input
//! (`handle_datagram`, `handle_timeout`, `stop`), then drain `poll_transmit` and
//! `poll_record`, then sleep until `poll_timeout`.
//!
//! Must not touch: sockets, clocks, threads, files.

use crate::judge::JudgeJob;
use crate::record::CallRecord;
use crate::results::FiguresData;
use crate::stats::Figures;
use bytes::Bytes;
use sip::time::Time;
use std::net::SocketAddr;

/// A socket the driver binds, by index into [`Engine::sockets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// What a socket carries, which sizes its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// SIP signalling of many calls (a large receive buffer).
    Sip,
    /// RTP of one stream (50 packets a second).
    Rtp,
}

/// One socket to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// Its id in transmits and datagrams.
    pub id: SocketId,
    /// Its local address.
    pub addr: SocketAddr,
    /// What it carries.
    pub kind: SocketKind,
    /// Who uses it, for error messages (`caller SIP`, `platform RTP`...).
    pub owner: &'static str,
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// From which socket.
    pub socket: SocketId,
    /// To where.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: Bytes,
}

/// One datagram of a call, for its capture (`--capture`): what the call's phones and
/// recorder sent and received, as it crossed the harness's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The call's index in the run.
    pub call: u64,
    /// When it was sent or received, on the run clock.
    pub at: Time,
    /// Its source.
    pub from: SocketAddr,
    /// Its destination.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: Bytes,
}

/// A finished call as an engine hands it out: its line of the result log, its
/// observations (kept as evidence for a failed or sampled call, else dropped), and, for
/// a call the suite's checks judge, the judgement still to do: the coordinating thread
/// does it, so judging (milliseconds of metadata parsing and validation) never stalls an
/// event loop's send schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The call's record (complete once judged).
    pub record: CallRecord,
    /// The call's observations, if the engine kept any.
    pub observations: Option<Vec<observe::Observation>>,
    /// The judgement to do, if any.
    pub judgement: Option<Box<JudgeJob>>,
    /// Where the driver spooled the call's capture (a pcap), when capturing.
    pub capture: Option<std::path::PathBuf>,
}

impl Finished {
    /// A call that needs no judging beyond what its record says.
    pub fn judged(record: CallRecord) -> Self {
        Self {
            record,
            observations: None,
            judgement: None,
            capture: None,
        }
    }
}

/// A sans-IO load engine, as the event loop sees it.
pub trait Engine {
    /// Every socket to bind before the first call.
    fn sockets(&self) -> &[SocketSpec];
    /// A datagram arrived on `socket` from `from`.
    fn handle_datagram(&mut self, now: Time, socket: SocketId, from: SocketAddr, bytes: &[u8]);
    /// Time passed.
    fn handle_timeout(&mut self, now: Time);
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When to call [`Self::handle_timeout`] next.
    fn poll_timeout(&self) -> Option<Time>;
    /// The next judged call.
    fn poll_record(&mut self) -> Option<Finished>;
    /// Start no more calls; open calls run to their end (the first Ctrl-C).
    fn stop(&mut self);
    /// Start no more calls and hang up every open call now (the second Ctrl-C).
    fn hang_up_all(&mut self, now: Time);
    /// True when every call that will start has started, ended and been handed out.
    fn is_finished(&self) -> bool;
    /// The figures since the last call, starting a new interval.
    fn take_interval(&mut self) -> FiguresData;
    /// The figures since the start of the run.
    fn totals(&self) -> &Figures;
    /// Calls open now.
    fn active(&self) -> u32;
    /// Calls started so far.
    fn started(&self) -> u64;
    /// Datagrams counted but not judged because they matched no call.
    fn stray(&self) -> u64 {
        0
    }
    /// The next datagram of a call to capture (engines that capture; `None` otherwise).
    fn poll_capture(&mut self) -> Option<Captured> {
        None
    }
    /// Recording sessions that could be tied to no call (a recorded-call engine).
    fn unattributed(&self) -> u64 {
        0
    }
    /// The datagrams the driver could not send are counted by the engine.
    fn count_send_errors(&mut self, errors: u64);
}
