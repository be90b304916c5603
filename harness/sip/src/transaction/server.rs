//! Server transactions: INVITE (RFC 3261 §17.2.1, with the RFC 6026 Accepted state) and
//! non-INVITE (§17.2.2).
//!
//! Responses go back to the address the request came from (see the deviation note in
//! the module docs of [`crate::transaction`]).

use super::client::expired;
use super::timer::{Timer, TimerTable, TimerValues};
use super::{Out, PeerAddr, TxError, TxEvent, TxKey, TxState, at_least_tick};
use crate::message::{MessageBuilder, SipMessage};
use crate::time::Time;
use bytes::Bytes;
use std::time::Duration;

/// Server INVITE states (§17.2.1, Figure 7; Accepted from RFC 6026 §8.7).
#[derive(Debug, Clone)]
enum InviteState {
    /// Waiting for the TU. `last_provisional` is re-sent on INVITE retransmissions.
    Proceeding { last_provisional: Option<Bytes> },
    /// A 300-699 was sent; it is retransmitted (Timer G) until ACK or Timer H.
    Completed { response: Bytes, interval: Duration },
    /// ACK received; absorbing ACK retransmissions until Timer I.
    Confirmed,
    /// A 2xx was sent; INVITE retransmissions are absorbed, further 2xx from the TU are
    /// sent, until Timer L.
    Accepted,
    /// Done.
    Terminated,
}

/// A server INVITE transaction.
#[derive(Debug, Clone)]
pub(crate) struct ServerInvite {
    key: TxKey,
    peer: PeerAddr,
    request: SipMessage,
    state: InviteState,
    timers: TimerTable,
}

impl ServerInvite {
    /// Creates the transaction in Proceeding; with `auto_trying`, arms the 100 Trying
    /// timer (§17.2.1: 100 Trying unless the TU answers within 200 ms).
    pub(crate) fn start(
        now: Time,
        key: TxKey,
        peer: PeerAddr,
        request: SipMessage,
        cfg: &TimerValues,
        auto_trying: bool,
    ) -> Self {
        let mut timers = TimerTable::default();
        if auto_trying {
            timers.set(Timer::Trying, now + cfg.trying_delay);
        }
        Self {
            key,
            peer,
            request,
            state: InviteState::Proceeding {
                last_provisional: None,
            },
            timers,
        }
    }

    pub(crate) fn request(&self) -> &SipMessage {
        &self.request
    }

    pub(crate) fn peer(&self) -> PeerAddr {
        self.peer
    }

    pub(crate) fn timers(&self) -> TimerTable {
        self.timers
    }

    pub(crate) fn state(&self) -> TxState {
        match self.state {
            InviteState::Proceeding { .. } => TxState::Proceeding,
            InviteState::Completed { .. } => TxState::Completed,
            InviteState::Confirmed => TxState::Confirmed,
            InviteState::Accepted => TxState::Accepted,
            InviteState::Terminated => TxState::Terminated,
        }
    }

    /// True in Accepted, where an ACK matching this transaction belongs to the TU
    /// (RFC 6026 §8.7).
    pub(crate) fn is_accepted(&self) -> bool {
        matches!(self.state, InviteState::Accepted)
    }

    /// A retransmitted INVITE or an ACK matched to this transaction.
    pub(crate) fn on_request(&mut self, now: Time, is_ack: bool, cfg: &TimerValues, out: &mut Out) {
        let key = self.key;
        match (&self.state, is_ack) {
            (
                InviteState::Proceeding {
                    last_provisional: Some(p),
                },
                false,
            ) => out.transmit(self.peer, p.clone(), Some(key)),
            (InviteState::Completed { response, .. }, false) => {
                out.transmit(self.peer, response.clone(), Some(key));
            }
            (InviteState::Completed { .. }, true) => {
                // §17.2.1: ACK → Confirmed; stop G and H; Timer I (zero when reliable).
                self.timers.stop_all();
                out.event(TxEvent::Acked { key });
                if self.peer.transport.is_reliable() {
                    self.state = InviteState::Terminated;
                } else {
                    self.timers.set(Timer::I, now + cfg.t4);
                    self.state = InviteState::Confirmed;
                }
            }
            // Proceeding without a provisional, Confirmed, Accepted: absorbed.
            _ => {}
        }
    }

    /// A response from the TU (§17.2.1).
    pub(crate) fn respond(
        &mut self,
        now: Time,
        response: &SipMessage,
        code: u16,
        cfg: &TimerValues,
        out: &mut Out,
    ) -> Result<(), TxError> {
        let key = self.key;
        let bytes = response.raw().clone();
        match (&self.state, code) {
            (InviteState::Proceeding { .. }, 100..=199) => {
                self.timers.stop(Timer::Trying);
                out.transmit(self.peer, bytes.clone(), Some(key));
                self.state = InviteState::Proceeding {
                    last_provisional: Some(bytes),
                };
            }
            (InviteState::Proceeding { .. }, 200..=299) => {
                out.transmit(self.peer, bytes, Some(key));
                self.timers.stop_all();
                self.timers.set(Timer::L, now + cfg.t1_x64());
                self.state = InviteState::Accepted;
            }
            (InviteState::Proceeding { .. }, _) => {
                out.transmit(self.peer, bytes.clone(), Some(key));
                self.timers.stop_all();
                if !self.peer.transport.is_reliable() {
                    self.timers.set(Timer::G, now + at_least_tick(cfg.t1));
                }
                self.timers.set(Timer::H, now + cfg.t1_x64());
                self.state = InviteState::Completed {
                    response: bytes,
                    interval: cfg.t1,
                };
            }
            (InviteState::Accepted, 200..=299) => {
                // RFC 6026 §8.7: 2xx retransmissions from the TU pass through.
                out.transmit(self.peer, bytes, Some(key));
            }
            _ => {
                return Err(TxError::WrongState {
                    key,
                    state: self.state(),
                    code,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn on_timeout(&mut self, now: Time, cfg: &TimerValues, out: &mut Out) {
        let key = self.key;
        for timer in expired(&mut self.timers, now) {
            match (timer, &mut self.state) {
                (
                    Timer::Trying,
                    InviteState::Proceeding {
                        last_provisional: last @ None,
                    },
                ) => {
                    let trying =
                        MessageBuilder::response_to(&self.request, 100, "Trying", None).to_bytes();
                    let trying = Bytes::from(trying);
                    out.transmit(self.peer, trying.clone(), Some(key));
                    *last = Some(trying);
                }
                (Timer::G, InviteState::Completed { response, interval }) => {
                    // §17.2.1: retransmit, interval MIN(2*interval, T2).
                    out.transmit(self.peer, response.clone(), Some(key));
                    *interval = interval.saturating_mul(2).min(cfg.t2);
                    self.timers.set(Timer::G, now + at_least_tick(*interval));
                }
                (Timer::H, InviteState::Completed { .. }) => {
                    out.event(TxEvent::TimedOut { key, timer });
                    self.terminate();
                }
                (Timer::I, InviteState::Confirmed) | (Timer::L, InviteState::Accepted) => {
                    self.terminate();
                }
                _ => {}
            }
        }
    }

    pub(crate) fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = InviteState::Terminated;
    }
}

/// Server non-INVITE states (§17.2.2, Figure 8).
#[derive(Debug, Clone)]
enum NonInviteState {
    /// Waiting for the TU; retransmissions are absorbed.
    Trying,
    /// A provisional was sent; it is re-sent on request retransmissions.
    Proceeding { last: Bytes },
    /// The final was sent; it is re-sent on request retransmissions until Timer J.
    Completed { response: Bytes },
    /// Done.
    Terminated,
}

/// A server non-INVITE transaction.
#[derive(Debug, Clone)]
pub(crate) struct ServerNonInvite {
    key: TxKey,
    peer: PeerAddr,
    request: SipMessage,
    state: NonInviteState,
    timers: TimerTable,
}

impl ServerNonInvite {
    pub(crate) fn start(key: TxKey, peer: PeerAddr, request: SipMessage) -> Self {
        Self {
            key,
            peer,
            request,
            state: NonInviteState::Trying,
            timers: TimerTable::default(),
        }
    }

    pub(crate) fn request(&self) -> &SipMessage {
        &self.request
    }

    pub(crate) fn peer(&self) -> PeerAddr {
        self.peer
    }

    pub(crate) fn timers(&self) -> TimerTable {
        self.timers
    }

    pub(crate) fn state(&self) -> TxState {
        match self.state {
            NonInviteState::Trying => TxState::Trying,
            NonInviteState::Proceeding { .. } => TxState::Proceeding,
            NonInviteState::Completed { .. } => TxState::Completed,
            NonInviteState::Terminated => TxState::Terminated,
        }
    }

    pub(crate) fn on_request(&mut self, out: &mut Out) {
        match &self.state {
            NonInviteState::Proceeding { last: bytes }
            | NonInviteState::Completed { response: bytes } => {
                out.transmit(self.peer, bytes.clone(), Some(self.key));
            }
            NonInviteState::Trying | NonInviteState::Terminated => {}
        }
    }

    pub(crate) fn respond(
        &mut self,
        now: Time,
        response: &SipMessage,
        code: u16,
        cfg: &TimerValues,
        out: &mut Out,
    ) -> Result<(), TxError> {
        let key = self.key;
        let bytes = response.raw().clone();
        match (&self.state, code) {
            (NonInviteState::Trying | NonInviteState::Proceeding { .. }, 100..=199) => {
                out.transmit(self.peer, bytes.clone(), Some(key));
                self.state = NonInviteState::Proceeding { last: bytes };
            }
            (NonInviteState::Trying | NonInviteState::Proceeding { .. }, _) => {
                out.transmit(self.peer, bytes.clone(), Some(key));
                if self.peer.transport.is_reliable() {
                    self.terminate();
                } else {
                    self.timers.set(Timer::J, now + cfg.t1_x64());
                    self.state = NonInviteState::Completed { response: bytes };
                }
            }
            _ => {
                // §17.2.2: further finals from the TU in Completed are discarded; we say so.
                return Err(TxError::WrongState {
                    key,
                    state: self.state(),
                    code,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn on_timeout(&mut self, now: Time) {
        for timer in expired(&mut self.timers, now) {
            if let (Timer::J, NonInviteState::Completed { .. }) = (timer, &self.state) {
                self.terminate();
            }
        }
    }

    pub(crate) fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = NonInviteState::Terminated;
    }
}
