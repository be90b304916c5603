//! Client transactions: INVITE (RFC 3261 §17.1.1, with the RFC 6026 Accepted state) and
//! non-INVITE (§17.1.2).
//!
//! Each transaction owns its request, its state (an enum whose variants carry what that
//! state needs) and a [`TimerTable`]. It writes what to send and what happened into an
//! [`Out`]; the table in `mod.rs` owns routing, keys and the global timer index.

use super::timer::{Timer, TimerTable, TimerValues};
use super::{Out, PeerAddr, TxEvent, TxKey, TxState, at_least_tick, top_via_text};
use crate::message::{MessageBuilder, Method, SipMessage};
use crate::time::Time;
use bytes::Bytes;
use std::time::Duration;

/// Client INVITE states (§17.1.1.2, Figure 5; Accepted from RFC 6026 §8.4).
#[derive(Debug, Clone)]
enum InviteState {
    /// Request sent, nothing heard. `interval` is the current Timer A interval.
    Calling { interval: Duration },
    /// A provisional response arrived; no more retransmissions.
    Proceeding,
    /// A non-2xx final arrived and was ACKed; `ack` is re-sent for each retransmitted final.
    Completed { ack: Bytes },
    /// A 2xx arrived; later 2xx retransmissions are passed to the TU, which ACKs them.
    Accepted,
    /// Done; the table removes the transaction.
    Terminated,
}

/// A client INVITE transaction.
#[derive(Debug, Clone)]
pub(crate) struct ClientInvite {
    key: TxKey,
    peer: PeerAddr,
    request: SipMessage,
    state: InviteState,
    timers: TimerTable,
}

impl ClientInvite {
    /// Sends the request and starts timers A (unreliable only) and B (§17.1.1.2).
    pub(crate) fn start(
        now: Time,
        key: TxKey,
        peer: PeerAddr,
        request: SipMessage,
        cfg: &TimerValues,
        out: &mut Out,
    ) -> Self {
        let mut timers = TimerTable::default();
        out.transmit(peer, request.raw().clone(), Some(key));
        if !peer.transport.is_reliable() {
            timers.set(Timer::A, now + at_least_tick(cfg.t1));
        }
        timers.set(Timer::B, now + cfg.t1_x64());
        Self {
            key,
            peer,
            request,
            state: InviteState::Calling { interval: cfg.t1 },
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
            InviteState::Calling { .. } => TxState::Calling,
            InviteState::Proceeding => TxState::Proceeding,
            InviteState::Completed { .. } => TxState::Completed,
            InviteState::Accepted => TxState::Accepted,
            InviteState::Terminated => TxState::Terminated,
        }
    }

    /// A response matched to this transaction (§17.1.1.2).
    pub(crate) fn on_response(
        &mut self,
        now: Time,
        response: SipMessage,
        code: u16,
        cfg: &TimerValues,
        out: &mut Out,
    ) {
        let key = self.key;
        match (&self.state, code) {
            (InviteState::Calling { .. } | InviteState::Proceeding, 100..=199) => {
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                self.state = InviteState::Proceeding;
                out.event(TxEvent::Provisional { key, response });
            }
            (InviteState::Calling { .. } | InviteState::Proceeding, 200..=299) => {
                // RFC 6026 §8.4: Accepted, so that 2xx retransmissions still reach the TU
                // (which must ACK each one, RFC 3261 §13.2.2.4) for Timer M.
                self.timers.stop_all();
                self.timers.set(Timer::M, now + cfg.t1_x64());
                self.state = InviteState::Accepted;
                out.event(TxEvent::Final { key, response });
            }
            (InviteState::Calling { .. } | InviteState::Proceeding, _) => {
                // §17.1.1.2: 300-699 → ACK, pass up, Completed (Timer D) or Terminated.
                let ack = ack_for_non_2xx(&self.request, &response).to_bytes();
                let ack = Bytes::from(ack);
                out.transmit(self.peer, ack.clone(), Some(key));
                out.event(TxEvent::Final { key, response });
                self.timers.stop_all();
                if self.peer.transport.is_reliable() {
                    self.state = InviteState::Terminated;
                } else {
                    self.timers.set(Timer::D, now + cfg.timer_d);
                    self.state = InviteState::Completed { ack };
                }
            }
            (InviteState::Completed { ack }, 300..) => {
                // §17.1.1.2: retransmitted final → ACK again, not passed up.
                out.transmit(self.peer, ack.clone(), Some(key));
            }
            (InviteState::Accepted, 200..=299) => {
                out.event(TxEvent::Final { key, response });
            }
            // Anything else in Completed/Accepted/Terminated is absorbed.
            _ => {}
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Time, _cfg: &TimerValues, out: &mut Out) {
        let key = self.key;
        for timer in expired(&mut self.timers, now) {
            match (timer, &mut self.state) {
                (Timer::A, InviteState::Calling { interval }) => {
                    // §17.1.1.2: retransmit, double the interval (no cap for INVITE).
                    out.transmit(self.peer, self.request.raw().clone(), Some(key));
                    *interval = interval.saturating_mul(2);
                    self.timers.set(Timer::A, now + at_least_tick(*interval));
                }
                (Timer::B, InviteState::Calling { .. }) => {
                    out.event(TxEvent::TimedOut { key, timer });
                    self.terminate();
                }
                (Timer::D, InviteState::Completed { .. }) | (Timer::M, InviteState::Accepted) => {
                    self.terminate()
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

/// Client non-INVITE states (§17.1.2.2, Figure 6).
#[derive(Debug, Clone)]
enum NonInviteState {
    /// Request sent; `interval` is the current Timer E interval.
    Trying { interval: Duration },
    /// A provisional arrived; Timer E continues at T2.
    Proceeding,
    /// A final arrived; response retransmissions are absorbed until Timer K.
    Completed,
    /// Done.
    Terminated,
}

/// A client non-INVITE transaction.
#[derive(Debug, Clone)]
pub(crate) struct ClientNonInvite {
    key: TxKey,
    peer: PeerAddr,
    request: SipMessage,
    state: NonInviteState,
    timers: TimerTable,
}

impl ClientNonInvite {
    /// Sends the request and starts timers E (unreliable only) and F (§17.1.2.2).
    pub(crate) fn start(
        now: Time,
        key: TxKey,
        peer: PeerAddr,
        request: SipMessage,
        cfg: &TimerValues,
        out: &mut Out,
    ) -> Self {
        let mut timers = TimerTable::default();
        out.transmit(peer, request.raw().clone(), Some(key));
        if !peer.transport.is_reliable() {
            timers.set(Timer::E, now + at_least_tick(cfg.t1));
        }
        timers.set(Timer::F, now + cfg.t1_x64());
        Self {
            key,
            peer,
            request,
            state: NonInviteState::Trying { interval: cfg.t1 },
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
            NonInviteState::Trying { .. } => TxState::Trying,
            NonInviteState::Proceeding => TxState::Proceeding,
            NonInviteState::Completed => TxState::Completed,
            NonInviteState::Terminated => TxState::Terminated,
        }
    }

    pub(crate) fn on_response(
        &mut self,
        now: Time,
        response: SipMessage,
        code: u16,
        cfg: &TimerValues,
        out: &mut Out,
    ) {
        let key = self.key;
        match (&self.state, code) {
            (NonInviteState::Trying { .. } | NonInviteState::Proceeding, 100..=199) => {
                self.state = NonInviteState::Proceeding;
                out.event(TxEvent::Provisional { key, response });
            }
            (NonInviteState::Trying { .. } | NonInviteState::Proceeding, _) => {
                out.event(TxEvent::Final { key, response });
                self.timers.stop_all();
                if self.peer.transport.is_reliable() {
                    self.state = NonInviteState::Terminated;
                } else {
                    self.timers.set(Timer::K, now + cfg.t4);
                    self.state = NonInviteState::Completed;
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Time, cfg: &TimerValues, out: &mut Out) {
        let key = self.key;
        for timer in expired(&mut self.timers, now) {
            match (timer, &mut self.state) {
                (Timer::E, NonInviteState::Trying { interval }) => {
                    // §17.1.2.2: retransmit, interval MIN(2*interval, T2).
                    out.transmit(self.peer, self.request.raw().clone(), Some(key));
                    *interval = interval.saturating_mul(2).min(cfg.t2);
                    self.timers.set(Timer::E, now + at_least_tick(*interval));
                }
                (Timer::E, NonInviteState::Proceeding) => {
                    // §17.1.2.2: in Proceeding, retransmit every T2.
                    out.transmit(self.peer, self.request.raw().clone(), Some(key));
                    self.timers.set(Timer::E, now + at_least_tick(cfg.t2));
                }
                (Timer::F, NonInviteState::Trying { .. } | NonInviteState::Proceeding) => {
                    out.event(TxEvent::TimedOut { key, timer });
                    self.terminate();
                }
                (Timer::K, NonInviteState::Completed) => self.terminate(),
                _ => {}
            }
        }
    }

    pub(crate) fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = NonInviteState::Terminated;
    }
}

/// Takes every timer due at `now`, earliest first, each once (so a zero interval cannot
/// loop).
pub(crate) fn expired(timers: &mut TimerTable, now: Time) -> Vec<Timer> {
    let mut due = Vec::new();
    while let Some(t) = timers.take_expired(now) {
        due.push(t);
    }
    due
}

/// The ACK a client INVITE transaction sends for a 300-699 response (§17.1.1.3): same
/// Request-URI, Call-ID, From and CSeq number as the INVITE, the To of the response (with
/// its tag), one Via equal to the INVITE's top Via (so the same branch), and the INVITE's
/// Route headers.
pub fn ack_for_non_2xx(invite: &SipMessage, response: &SipMessage) -> MessageBuilder {
    let uri = invite.request_uri().unwrap_or_default();
    let mut b = MessageBuilder::request(&Method::Ack, uri);
    if let Some(via) = top_via_text(invite) {
        b = b.header("Via", &via);
    }
    b = b.header("Max-Forwards", "70");
    if let Some(from) = invite.header_value("From") {
        b = b.header("From", from);
    }
    if let Some(to) = response
        .header_value("To")
        .or_else(|| invite.header_value("To"))
    {
        b = b.header("To", to);
    }
    if let Some(call_id) = invite.header_value("Call-ID") {
        b = b.header("Call-ID", call_id);
    }
    if let Ok(cseq) = invite.cseq() {
        b = b.header("CSeq", &format!("{} ACK", cseq.seq));
    }
    for route in invite.headers_named("Route") {
        b = b.header("Route", &route.value);
    }
    b
}
