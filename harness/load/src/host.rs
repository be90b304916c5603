//! A host of role nodes (the embedded reference platform) as an [`Engine`], so a service
//! event loop of the load driver runs them on real sockets beside the call loops: the
//! third driver of the same nodes, after the simulated world and the tokio node runner.
//!
//! Owns: [`NodeHost`]: the nodes, which socket each of their addresses is, and their
//! wake-ups. Datagrams go to the node that owns the destination address; what a node
//! sends leaves from the socket of its source address. The nodes' observations are not
//! judged here (the platform's own account of its actions is never evidence); they are
//! counted and dropped, so memory stays flat over a long run.
//!
//! Must not touch: sockets, clocks, threads (the driver's).

use crate::engine::{Engine, Finished, SocketId, SocketKind, SocketSpec, Transmit};
use crate::results::FiguresData;
use crate::stats::{Figures, Stats};
use sim::{Datagram, Node, Transport};
use sip::time::Time;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// Nodes served on real sockets by a service loop.
pub struct NodeHost {
    nodes: Vec<Box<dyn Node + Send>>,
    sockets: Vec<SocketSpec>,
    owner: Vec<usize>,
    by_addr: HashMap<SocketAddr, SocketId>,
    transmits: VecDeque<Transmit>,
    stats: Stats,
    observations: u64,
    unroutable: u64,
}

impl std::fmt::Debug for NodeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHost")
            .field("nodes", &self.nodes.len())
            .field("sockets", &self.sockets.len())
            .finish()
    }
}

impl NodeHost {
    /// Hosts `nodes`; `sip` lists the addresses that carry SIP (the others are RTP).
    pub fn new(nodes: Vec<Box<dyn Node + Send>>, sip: &[SocketAddr]) -> Self {
        let mut sockets = Vec::new();
        let mut owner = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            for a in n.addresses() {
                let is_sip = sip.contains(&a);
                sockets.push(SocketSpec {
                    id: SocketId(sockets.len() as u32),
                    addr: a,
                    kind: if is_sip {
                        SocketKind::Sip
                    } else {
                        SocketKind::Rtp
                    },
                    owner: if is_sip {
                        "embedded platform SIP"
                    } else {
                        "embedded platform RTP"
                    },
                });
                owner.push(i);
            }
        }
        let by_addr = sockets.iter().map(|s| (s.addr, s.id)).collect();
        Self {
            nodes,
            sockets,
            owner,
            by_addr,
            transmits: VecDeque::new(),
            stats: Stats::default(),
            observations: 0,
            unroutable: 0,
        }
    }

    /// Observations the nodes made (counted, not kept).
    pub fn observations(&self) -> u64 {
        self.observations
    }

    fn drain(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        while let Some(d) = node.poll_transmit() {
            match self.by_addr.get(&d.from) {
                Some(&socket) => self.transmits.push_back(Transmit {
                    socket,
                    to: d.to,
                    payload: d.bytes,
                }),
                None => self.unroutable += 1,
            }
        }
        while node.poll_observation().is_some() {
            self.observations += 1;
        }
    }
}

impl Engine for NodeHost {
    fn sockets(&self) -> &[SocketSpec] {
        &self.sockets
    }

    fn handle_datagram(&mut self, now: Time, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let (Some(spec), Some(&i)) = (
            self.sockets.get(socket.0 as usize),
            self.owner.get(socket.0 as usize),
        ) else {
            return;
        };
        let to = spec.addr;
        if let Some(node) = self.nodes.get_mut(i) {
            node.handle_datagram(
                now,
                Datagram {
                    from,
                    to,
                    transport: Transport::Udp,
                    bytes: bytes::Bytes::copy_from_slice(bytes),
                },
            );
        }
        self.drain(i);
    }

    fn handle_timeout(&mut self, now: Time) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].poll_timeout().is_some_and(|t| t <= now) {
                self.nodes[i].handle_timeout(now);
                self.drain(i);
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.nodes.iter().filter_map(|n| n.poll_timeout()).min()
    }

    fn poll_record(&mut self) -> Option<Finished> {
        None
    }

    fn stop(&mut self) {}

    fn hang_up_all(&mut self, _now: Time) {}

    fn is_finished(&self) -> bool {
        false
    }

    fn take_interval(&mut self) -> FiguresData {
        self.stats.take_interval()
    }

    fn totals(&self) -> &Figures {
        &self.stats.total
    }

    fn active(&self) -> u32 {
        0
    }

    fn started(&self) -> u64 {
        0
    }

    fn stray(&self) -> u64 {
        self.unroutable
    }

    fn count_send_errors(&mut self, errors: u64) {
        self.stats.both(|f| f.send_errors += errors);
    }
}
