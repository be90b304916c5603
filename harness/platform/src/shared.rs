//! What every part of the platform shares: the configuration and the behaviour derived
//! from it, the shipped audio, the random generator, the RTP port pool and the two
//! output queues (datagrams out, observations out), plus small helpers the parts use to
//! read SDP and to report actions.
//!
//! # What this module owns
//!
//! [`Shared`]: the context handed to every part ([`crate::b2bua`], [`crate::mixer`],
//! [`crate::recording`]) next to the call they work on. [`Ports`]: the pool of RTP ports
//! and which call leg each bound port belongs to.
//!
//! # What it must not touch
//!
//! No call, dialog or recording state and no decisions: it knows nothing of what a call
//! is doing. The random generator is one stream for the whole platform, so the order in
//! which the parts draw from it is part of the platform's behaviour (runs replay
//! exactly from the seed).

use crate::assets::Assets;
use crate::behaviour::Behaviour;
use crate::call::Side;
use crate::config::PlatformConfig;
use media::g711::Law;
use observe::{Actor, Event, Observation, Payload};
use rand::rngs::SmallRng;
use sim::{Datagram, Transport};
use sip::endpoint::{CallKey, EndReason, Endpoint, EndpointEvent, Extra, RequestContext};
use sip::message::SipMessage;
use sip::sdp::{Codec, Negotiated, SessionDescription};
use sip::time::Time;
use sip::transaction::{PeerAddr, TxKey};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// The RTP port pool: free ports (lowest first) and the call leg each bound port is.
#[derive(Debug)]
pub(crate) struct Ports {
    free: BTreeSet<u16>,
    /// Party legs' ports → their call and side (recording ports are never bound).
    owners: HashMap<u16, (u64, Side)>,
}

impl Ports {
    /// Every RTP port of `cfg` free.
    pub(crate) fn new(cfg: &PlatformConfig) -> Self {
        Self {
            free: cfg.rtp_addresses().iter().map(SocketAddr::port).collect(),
            owners: HashMap::new(),
        }
    }

    /// Takes the `n` lowest free ports, or none when fewer are free.
    pub(crate) fn alloc(&mut self, n: usize) -> Option<Vec<u16>> {
        if self.free.len() < n {
            return None;
        }
        let v: Vec<u16> = self.free.iter().take(n).copied().collect();
        for p in &v {
            self.free.remove(p);
        }
        Some(v)
    }

    /// Returns ports to the pool (and unbinds them).
    pub(crate) fn release(&mut self, ports: &[u16]) {
        for p in ports {
            self.owners.remove(p);
            self.free.insert(*p);
        }
    }

    /// Ties a party leg's port to its call, so RTP arriving on it finds the leg.
    pub(crate) fn bind(&mut self, port: u16, id: u64, side: Side) {
        self.owners.insert(port, (id, side));
    }

    /// The call leg a port is bound to.
    pub(crate) fn owner(&self, port: u16) -> Option<(u64, Side)> {
        self.owners.get(&port).copied()
    }

    /// How many ports are free.
    pub(crate) fn free_count(&self) -> usize {
        self.free.len()
    }
}

/// A request the endpoint found in order, for its user agent's part to answer.
pub(crate) struct Incoming {
    /// Its call (a new one for a new INVITE).
    pub(crate) key: Option<CallKey>,
    /// The server transaction to answer on.
    pub(crate) tx: TxKey,
    /// The request.
    pub(crate) request: SipMessage,
    /// New call, in dialog, out of dialog or CANCEL.
    pub(crate) context: RequestContext,
}

/// An endpoint event its user agent's part handles (see [`Shared::triage`]).
pub(crate) enum SipEvent {
    /// A request.
    Request(Incoming),
    /// A response to a request sent in a call.
    Response {
        /// The call.
        key: CallKey,
        /// Our client transaction.
        tx: TxKey,
        /// The response.
        response: SipMessage,
    },
    /// A dialog ended.
    Terminated {
        /// The call.
        key: CallKey,
        /// Why.
        reason: EndReason,
    },
}

/// See the [module docs](self).
pub(crate) struct Shared {
    /// The configuration.
    pub(crate) cfg: PlatformConfig,
    /// What the fault and variant make the platform do.
    pub(crate) b: Behaviour,
    /// The shipped announcements and tones.
    pub(crate) assets: Assets,
    /// The platform's one random stream (RTP SSRCs and sequence numbers, SDP versions).
    pub(crate) rng: SmallRng,
    /// The RTP port pool.
    pub(crate) ports: Ports,
    /// Datagrams to send.
    pub(crate) out: VecDeque<Datagram>,
    /// Observations to report.
    pub(crate) obs: VecDeque<Observation>,
    /// Bounds the `sip_malformed` lines a flood of garbage writes.
    pub(crate) malformed_limit: observe::FloodLimit,
    /// Bounds the `sip_refused` lines a flood of bogus requests writes.
    pub(crate) refused_limit: observe::FloodLimit,
}

/// Most `sip_malformed` findings the platform logs a second; the rest of a flood is
/// counted and reported in one line.
pub(crate) const MALFORMED_PER_SECOND: u32 = 20;

impl Shared {
    /// Reports one of the platform's own actions.
    pub(crate) fn note(&mut self, now: Time, what: &str, detail: String) {
        self.obs.push_back(action(now, what, detail));
    }

    /// The wall-clock time of simulated time `t`, when it can be represented.
    pub(crate) fn epoch_checked(&self, t: Time) -> Result<jiff::Timestamp, jiff::Error> {
        let d = jiff::SignedDuration::from_micros(t.as_micros().min(i64::MAX as u64) as i64);
        self.cfg.epoch.checked_add(d)
    }

    /// The wall-clock time of simulated time `t` (the epoch when out of range).
    pub(crate) fn epoch_at(&self, t: Time) -> jiff::Timestamp {
        self.epoch_checked(t).unwrap_or(self.cfg.epoch)
    }

    /// Does what both of the platform's user agents do alike with an event of `ep`:
    /// reports bytes that are not (routable) SIP, answers a request the endpoint found
    /// out of order with the status it suggests, sends BYE when the ACK for our 2xx never
    /// came. Returns the rest for the user agent's part.
    pub(crate) fn triage(
        &mut self,
        ep: &mut Endpoint,
        now: Time,
        ev: EndpointEvent,
    ) -> Option<SipEvent> {
        match ev {
            EndpointEvent::Malformed { from, bytes, error } => {
                self.malformed_sip(now, from, &bytes, error.to_string());
            }
            EndpointEvent::Unroutable {
                from,
                message,
                error,
            } => {
                self.malformed_sip(now, from, message.raw(), error.to_string());
            }
            EndpointEvent::IncomingRequest {
                call,
                tx,
                from,
                request,
                context,
                check,
            } => {
                // Violations, and outside any dialog everything but OPTIONS, are
                // answered here, the same for both user agents.
                if let Some(r) = sip::endpoint::prescribed_refusal(&request, &context, &check) {
                    if let Some(code) = r.status {
                        if let Some(why) = r.reason {
                            self.refused(now, &from, &request, code, why);
                        }
                        let _ = ep.answer(now, tx, code, Extra::new());
                    }
                    return None;
                }
                return Some(SipEvent::Request(Incoming {
                    key: call,
                    tx,
                    request,
                    context,
                }));
            }
            EndpointEvent::Response {
                call: Some(key),
                tx,
                response,
            } => return Some(SipEvent::Response { key, tx, response }),
            EndpointEvent::AckTimeout { call } => {
                let _ = ep.bye(now, call, Extra::new());
            }
            EndpointEvent::DialogTerminated { call, reason } => {
                return Some(SipEvent::Terminated { key: call, reason });
            }
            _ => {}
        }
        None
    }

    /// Reports a peer's well-formed request refused for breaking a rule.
    fn refused(
        &mut self,
        now: Time,
        from: &PeerAddr,
        request: &SipMessage,
        status: u16,
        reason: String,
    ) {
        let transport = match from.transport {
            Transport::Udp => "udp".to_owned(),
            Transport::Tcp => "tcp".to_owned(),
        };
        let admit = self.refused_limit.admit(now.as_micros());
        if let Some(n) = admit.suppressed_before {
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Platform,
                event: observe::FloodLimit::refused_summary(&transport, n, MALFORMED_PER_SECOND),
            });
        }
        if admit.log {
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Platform,
                event: Event::SipRefused {
                    transport,
                    remote: from.addr.to_string(),
                    status,
                    reason,
                    message: Payload::from_bytes(request.raw()),
                },
            });
        }
    }

    /// Reports bytes on the SIP address that are not (routable) SIP.
    pub(crate) fn malformed_sip(
        &mut self,
        now: Time,
        from: PeerAddr,
        bytes: &[u8],
        reason: String,
    ) {
        let transport = match from.transport {
            Transport::Udp => "udp".to_owned(),
            Transport::Tcp => "tcp".to_owned(),
        };
        let admit = self.malformed_limit.admit(now.as_micros());
        if let Some(n) = admit.suppressed_before {
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Platform,
                event: observe::FloodLimit::summary(&transport, n, MALFORMED_PER_SECOND),
            });
        }
        if admit.log {
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: None,
                actor: Actor::Platform,
                event: Event::SipMalformed {
                    transport,
                    remote: from.addr.to_string(),
                    message: Payload::from_bytes(bytes),
                    reason,
                },
            });
        }
    }
}

/// The next datagram `ep` sends, leaving from `from`.
pub(crate) fn transmit(ep: &mut Endpoint, from: SocketAddr) -> Option<Datagram> {
    let t = ep.poll_transmit()?;
    Some(Datagram {
        from,
        to: t.to,
        transport: t.transport,
        bytes: t.bytes,
    })
}

/// One of the platform's own actions as an observation.
pub(crate) fn action(now: Time, what: &str, detail: String) -> Observation {
    Observation {
        t_us: now.as_micros(),
        call: None,
        actor: Actor::Platform,
        event: Event::PlatformAction {
            action: what.to_owned(),
            detail,
        },
    }
}

/// A time as observation details print it.
pub(crate) fn secs(t: Time) -> String {
    t.to_string()
}

/// The SDP of a message: its body, or the SDP part of a multipart body.
pub(crate) fn sdp_of(msg: &SipMessage) -> Option<SessionDescription> {
    let ct = msg.content_type()?;
    let media_type = sip::multipart::media_type_of(ct);
    if media_type == sip::multipart::SDP {
        return SessionDescription::parse(msg.body()).ok();
    }
    if media_type.starts_with("multipart/") {
        let parsed = sip::multipart::parse(ct, msg.body()).ok()?;
        return SessionDescription::parse(&parsed.sdp()?.body).ok();
    }
    None
}

/// A negotiated media target as a socket address (none for a port of 0 or a name).
pub(crate) fn socket_of(target: &(String, u16)) -> Option<SocketAddr> {
    let ip: IpAddr = target.0.parse().ok()?;
    (target.1 != 0).then(|| SocketAddr::new(ip, target.1))
}

/// The G.711 law of a negotiated stream (μ-law unless PCMA was agreed).
pub(crate) fn law_of(n: &Negotiated) -> Law {
    match n.codec {
        Some(Codec::Pcma) => Law::Alaw,
        _ => Law::Ulaw,
    }
}
