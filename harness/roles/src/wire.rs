//! The SIP side of a role's wire: turns what an [`Endpoint`] sends and what arrives on the
//! SIP address into datagrams and observations. Shared by [`crate::ua`] and
//! [`crate::srs`]; owns no protocol state.

use observe::{Actor, Event, Observation, Payload};
use sim::{Datagram, Transport};
use sip::endpoint::{Endpoint, EndpointEvent};
use sip::message::SipMessage;
use sip::time::Time;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Outgoing datagrams and observations of one role.
#[derive(Debug)]
pub(crate) struct Wire {
    actor: Actor,
    sip: SocketAddr,
    pub(crate) out: VecDeque<Datagram>,
    pub(crate) obs: VecDeque<Observation>,
    /// Bounds the `sip_malformed` lines a flood of garbage writes.
    malformed_limit: observe::FloodLimit,
    /// Bounds the `sip_refused` lines a flood of bogus requests writes.
    refused_limit: observe::FloodLimit,
}

/// Most `sip_malformed` findings a role logs a second; the rest of a flood is counted
/// and reported in one line.
const MALFORMED_PER_SECOND: u32 = 20;

pub(crate) fn transport_name(t: Transport) -> String {
    match t {
        Transport::Udp => "udp".to_owned(),
        Transport::Tcp => "tcp".to_owned(),
    }
}

/// The finding about a peer whose well-formed request was refused for breaking a rule
/// (see [`Event::SipRefused`]): what it sent, from where, the status and the rule.
pub(crate) fn refusal(
    from: &sip::transaction::PeerAddr,
    request: &SipMessage,
    status: u16,
    reason: String,
) -> Event {
    Event::SipRefused {
        transport: transport_name(from.transport),
        remote: from.addr.to_string(),
        status,
        reason,
        message: Payload::from_bytes(request.raw()),
    }
}

/// The [`sip::endpoint::prescribed_refusal`] of an incoming request, with the finding
/// about the peer (its bytes and the rule) when the refusal is one. `None` when the role
/// handles the request.
pub(crate) fn refusal_of(
    from: &sip::transaction::PeerAddr,
    request: &SipMessage,
    context: &sip::endpoint::RequestContext,
    check: &sip::dialog::RequestCheck,
) -> Option<(Option<u16>, Option<Event>)> {
    let r = sip::endpoint::prescribed_refusal(request, context, check)?;
    let finding = r
        .status
        .zip(r.reason)
        .map(|(code, why)| refusal(from, request, code, why));
    Some((r.status, finding))
}

impl Wire {
    pub(crate) fn new(actor: Actor, sip: SocketAddr) -> Self {
        Self {
            actor,
            sip,
            out: VecDeque::new(),
            obs: VecDeque::new(),
            malformed_limit: observe::FloodLimit::new(MALFORMED_PER_SECOND),
            refused_limit: observe::FloodLimit::new(MALFORMED_PER_SECOND),
        }
    }

    /// Logs a `sip_refused` finding, at most [`MALFORMED_PER_SECOND`] a second (the rest
    /// of a flood counted and reported in one line).
    pub(crate) fn refusal_finding(&mut self, now: Time, call: Option<String>, finding: Event) {
        let admit = self.refused_limit.admit(now.as_micros());
        if let Some(n) = admit.suppressed_before {
            let transport = match &finding {
                Event::SipRefused { transport, .. } => transport.clone(),
                _ => String::new(),
            };
            let line = observe::FloodLimit::refused_summary(&transport, n, MALFORMED_PER_SECOND);
            self.note(now, None, line);
        }
        if admit.log {
            self.note(now, call, finding);
        }
    }

    pub(crate) fn note(&mut self, now: Time, call: Option<String>, event: Event) {
        self.obs.push_back(Observation {
            t_us: now.as_micros(),
            call,
            actor: self.actor,
            event,
        });
    }

    /// A datagram arrived on the SIP address.
    pub(crate) fn received(&mut self, now: Time, call: Option<String>, d: &Datagram) {
        self.note(
            now,
            call,
            Event::SipReceived {
                transport: transport_name(d.transport),
                local: self.sip.to_string(),
                remote: d.from.to_string(),
                message: Payload::from_bytes(&d.bytes),
            },
        );
    }

    /// Sends everything the endpoint queued, logging each message.
    pub(crate) fn drain(&mut self, now: Time, call: Option<String>, ep: &mut Endpoint) {
        self.drain_labelled(now, ep, |_| call.clone());
    }

    /// [`Self::drain`] with each message's call label chosen by `label_of` from its bytes
    /// (a role serving several harness calls at once).
    pub(crate) fn drain_labelled(
        &mut self,
        now: Time,
        ep: &mut Endpoint,
        label_of: impl Fn(&[u8]) -> Option<String>,
    ) {
        while let Some(t) = ep.poll_transmit() {
            self.note(
                now,
                label_of(&t.bytes),
                Event::SipSent {
                    transport: transport_name(t.transport),
                    local: self.sip.to_string(),
                    remote: t.to.to_string(),
                    message: Payload::from_bytes(&t.bytes),
                },
            );
            self.out.push_back(Datagram {
                from: self.sip,
                to: t.to,
                transport: t.transport,
                bytes: t.bytes,
            });
        }
    }

    /// Logs the endpoint events that mean "not a usable message"; returns true when the
    /// event was one of those (the caller need not look at it further).
    pub(crate) fn malformed(
        &mut self,
        now: Time,
        call: Option<String>,
        ev: &EndpointEvent,
    ) -> bool {
        let (from, bytes, reason) = match ev {
            EndpointEvent::Malformed { from, bytes, error } => {
                (from, bytes.clone(), error.to_string())
            }
            EndpointEvent::Unroutable {
                from,
                message,
                error,
            } => (from, message.raw().clone(), error.to_string()),
            _ => return false,
        };
        // The datagram's `sip_received` line says nothing this finding does not (it
        // carries the same bytes): dropped, so garbage costs one line, not two.
        let payload = Payload::from_bytes(&bytes);
        let recent = self.obs.len().saturating_sub(8);
        if let Some(k) = (recent..self.obs.len()).rev().find(|&k| {
            matches!(&self.obs[k].event, Event::SipReceived { message, .. } if *message == payload)
        }) {
            self.obs.remove(k);
        }
        let admit = self.malformed_limit.admit(now.as_micros());
        if let Some(n) = admit.suppressed_before {
            let line = observe::FloodLimit::summary(
                &transport_name(from.transport),
                n,
                MALFORMED_PER_SECOND,
            );
            self.note(now, None, line);
        }
        if admit.log {
            self.note(
                now,
                call,
                Event::SipMalformed {
                    transport: transport_name(from.transport),
                    remote: from.addr.to_string(),
                    message: payload,
                    reason,
                },
            );
        }
        true
    }
}

/// The SDP offer or answer in a message: the body itself when it is `application/sdp`,
/// or the SDP part of a multipart body.
pub(crate) fn sdp_of(msg: &SipMessage) -> Option<sip::sdp::SessionDescription> {
    let ct = msg.content_type()?;
    let media_type = sip::multipart::media_type_of(ct);
    if media_type == sip::multipart::SDP {
        return sip::sdp::SessionDescription::parse(msg.body()).ok();
    }
    if media_type.starts_with("multipart/") {
        let parsed = sip::multipart::parse(ct, msg.body()).ok()?;
        return sip::sdp::SessionDescription::parse(&parsed.sdp()?.body).ok();
    }
    None
}

/// The address a negotiated `(address, port)` names, if it is an IP literal.
pub(crate) fn socket_of(target: &(String, u16)) -> Option<SocketAddr> {
    let ip: std::net::IpAddr = target.0.parse().ok()?;
    (target.1 != 0).then(|| SocketAddr::new(ip, target.1))
}
