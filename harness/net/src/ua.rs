//! Drives a sans-IO [`Endpoint`] over real sockets with tokio's clock.
//!
//! This is the whole sans-IO driver loop and nothing more: feed what the
//! [`SipTransport`] receives to [`Endpoint::handle_datagram`], wake at
//! [`Endpoint::poll_timeout`] for [`Endpoint::handle_timeout`], send every
//! [`Endpoint::poll_transmit`] in order, and hand [`EndpointEvent`]s to the caller. The
//! caller (a harness role, a test) decides how to answer requests.
//!
//! Every message on the wire, in both directions, is reported to the optional
//! [`WireTap`], so a role can write it to the observation log. Time comes from tokio's
//! clock relative to the driver's creation, so a paused runtime reaches the core.

use crate::transport::{InboundKind, SipTransport, Transport, TransportError};
use sip::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
use sip::time::Time;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// One message on the wire, as a [`WireTap`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    /// When, on the driver's clock.
    pub at: Time,
    /// True when this driver sent it.
    pub sent: bool,
    /// Transport used.
    pub transport: Transport,
    /// Local address.
    pub local: SocketAddr,
    /// Remote address.
    pub remote: SocketAddr,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Receives every message the driver sends or receives.
pub type WireTap = Box<dyn FnMut(WireRecord) + Send>;

/// A SIP user agent on real sockets.
pub struct UaDriver {
    transport: SipTransport,
    endpoint: Endpoint,
    origin: Instant,
    events: VecDeque<EndpointEvent>,
    tap: Option<WireTap>,
}

impl UaDriver {
    /// Binds UDP and TCP on `addr` and creates an endpoint whose Contact is
    /// `sip:<user>@<bound address>`.
    pub async fn bind(addr: SocketAddr, user: &str, seed: u64) -> Result<Self, TransportError> {
        let transport = SipTransport::bind(addr).await?;
        let local = transport.local_addr();
        let config = EndpointConfig::new(local, &format!("sip:{user}@{local}"), seed);
        Ok(Self::with_endpoint(transport, Endpoint::new(config)))
    }

    /// Drives an endpoint built by the caller (for a custom [`EndpointConfig`]).
    pub fn with_endpoint(transport: SipTransport, endpoint: Endpoint) -> Self {
        Self {
            transport,
            endpoint,
            origin: Instant::now(),
            events: VecDeque::new(),
            tap: None,
        }
    }

    /// Installs a tap that sees every message on the wire.
    pub fn set_tap(&mut self, tap: WireTap) {
        self.tap = Some(tap);
    }

    /// The UDP (and, normally, TCP) address.
    pub fn local_addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }

    /// The current time on the driver's clock.
    pub fn now(&self) -> Time {
        Time::from_duration(Instant::now().saturating_duration_since(self.origin))
    }

    /// The endpoint, to issue commands (`invite`, `answer`, `bye`...). Call
    /// [`flush`](Self::flush) or [`next_event`](Self::next_event) afterwards so its
    /// output is sent.
    pub fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.endpoint
    }

    /// Sends everything the endpoint has queued and collects its events.
    pub async fn flush(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            let local = match t.transport {
                Transport::Udp => self.transport.local_addr(),
                Transport::Tcp => self.transport.tcp_local_addr(),
            };
            if let Some(tap) = &mut self.tap {
                tap(WireRecord {
                    at: Time::from_duration(Instant::now().saturating_duration_since(self.origin)),
                    sent: true,
                    transport: t.transport,
                    local,
                    remote: t.to,
                    bytes: t.bytes.to_vec(),
                });
            }
            let failed = self
                .transport
                .send(t.transport, t.to, &t.bytes)
                .await
                .is_err();
            if let (true, Some(tx)) = (failed, t.tx) {
                let now = self.now();
                self.endpoint.handle_transport_error(now, tx);
            }
        }
        while let Some(e) = self.endpoint.poll_event() {
            self.events.push_back(e);
        }
    }

    /// Runs the loop until the endpoint reports an event, or `limit` passes (`None`).
    pub async fn next_event(&mut self, limit: Duration) -> Option<EndpointEvent> {
        let give_up = Instant::now() + limit;
        loop {
            self.flush().await;
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let wake = self
                .endpoint
                .poll_timeout()
                .map(|t| self.origin + (t - Time::ZERO))
                .map_or(give_up, |w| w.min(give_up));
            tokio::select! {
                inbound = self.transport.recv() => {
                    let inbound = inbound?;
                    let now = self.now();
                    let local = match inbound.transport {
                        Transport::Udp => self.transport.local_addr(),
                        Transport::Tcp => self.transport.tcp_local_addr(),
                    };
                    match inbound.kind {
                        InboundKind::Message(bytes) => {
                            if let Some(tap) = &mut self.tap {
                                tap(WireRecord { at: now, sent: false, transport: inbound.transport, local, remote: inbound.from, bytes: bytes.clone() });
                            }
                            self.endpoint.handle_datagram(now, inbound.from, inbound.transport, &bytes);
                        }
                        InboundKind::Unframeable { bytes, .. } => {
                            if let Some(tap) = &mut self.tap {
                                tap(WireRecord { at: now, sent: false, transport: inbound.transport, local, remote: inbound.from, bytes: bytes.clone() });
                            }
                            // Let the endpoint report it as malformed, with the bytes.
                            self.endpoint.handle_datagram(now, inbound.from, inbound.transport, &bytes);
                        }
                        InboundKind::Closed => {}
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= give_up {
                        self.flush().await;
                        return self.events.pop_front();
                    }
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                }
            }
        }
    }
}
