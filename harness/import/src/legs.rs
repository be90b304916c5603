//! Which SIP message belongs to which call, and who saw it.
//!
//! Owns: the classification of every dialog of a capture (by Call-ID, from its first
//! INVITE) into a caller leg (a phone calling the SUT), a callee leg (the SUT calling a
//! phone) or a recording session (the SUT, as SRC, opening a SIPREC session at a
//! recorder); the grouping of legs into calls; and the SIP observations each leg's party
//! would have made (the caller's phone for the caller leg, the callee's for the callee
//! leg, the recorder for a recording session), which is what recproof's checks read.
//!
//! # How a dialog is classified
//!
//! - An INVITE carrying recording metadata (or a `+sip.src` Contact, or `Require:
//!   siprec`) opens a recording session; its receiver is the recorder.
//! - Another INVITE sent to a SUT address is a caller leg; one sent from a SUT address
//!   (its source, or the sent-by of its top Via: a TCP connection's source port is
//!   ephemeral) is a callee leg. SUT addresses are the profile's (or the run's), plus
//!   every address that sent a recording session (the SRC is the SUT).
//! - Anything else (OPTIONS, REGISTER, dialogs between two other hosts) is counted and
//!   left out.
//!
//! # How legs make a call
//!
//! A caller leg starts a call. A callee leg joins the newest call still without one that
//! dialled the same user (else the newest without one). A recording session joins the
//! newest call not yet ended whose caller or dialled user its metadata names (else the
//! newest not yet ended). Each is decided when its INVITE is seen, in capture order.
//!
//! # Direction
//!
//! A message came from the leg's party when it left an address the party used (the
//! INVITE's source for a caller, its destination for a callee or recorder), or went from
//! elsewhere to the SUT side; otherwise the party received it.
//!
//! Must not touch: RTP (the `streams` module), judging.

use observe::{Actor, Event, Observation, Payload};
use sip::{Method, SipMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

/// The kind of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LegKind {
    Caller,
    Callee,
    Recording,
}

impl LegKind {
    pub(crate) fn actor(self) -> Actor {
        match self {
            Self::Caller => Actor::Caller,
            Self::Callee => Actor::Callee,
            Self::Recording => Actor::Srs,
        }
    }
}

/// One dialog of the capture that recproof reads.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) kind: LegKind,
    /// Index of its call.
    pub(crate) call: usize,
    /// Addresses the leg's party used.
    party_side: BTreeSet<SocketAddr>,
    /// Addresses of the SUT's side of the leg.
    sut_side: BTreeSet<SocketAddr>,
    /// Recording sessions: the SDP labels the SRC offered, by m-line.
    pub(crate) offered_labels: Vec<Option<String>>,
    /// Recording sessions: the session's ordinal in its call (1 for the first).
    pub(crate) ordinal: usize,
    ended: bool,
    answered: bool,
}

impl Leg {
    fn new(
        kind: LegKind,
        call: usize,
        party_side: BTreeSet<SocketAddr>,
        sut_side: BTreeSet<SocketAddr>,
        ordinal: usize,
    ) -> Self {
        Self {
            kind,
            call,
            party_side,
            sut_side,
            offered_labels: Vec::new(),
            ordinal,
            ended: false,
            answered: false,
        }
    }
}

/// One call of the capture.
#[derive(Debug)]
pub(crate) struct CallSlot {
    pub(crate) label: String,
    /// Call-ID of the caller leg.
    pub(crate) caller_call_id: Option<String>,
    dialled_user: Option<String>,
    caller_user: Option<String>,
    started_us: u64,
    has_callee: bool,
    /// Opened by a recording session: the capture holds no leg of it (yet).
    from_recording: bool,
    pub(crate) ended_us: Option<u64>,
    pub(crate) recordings: usize,
    /// Last observation time of the call.
    pub(crate) last_us: u64,
}

impl CallSlot {
    /// True when the capture holds this call's recording session(s) but no leg of it.
    pub(crate) fn recording_only(&self) -> bool {
        self.from_recording && self.caller_call_id.is_none() && !self.has_callee
    }
}

/// What a SIP message told the media side: the addresses one side of a leg declared in
/// its SDP (the party's, or the SUT's).
#[derive(Debug, Clone)]
pub(crate) struct MediaUpdate {
    pub(crate) call: usize,
    pub(crate) kind: LegKind,
    /// Written by the leg's party (the phone, the recorder), not the SUT.
    pub(crate) from_party: bool,
    /// A party leg's first audio m-line, a recording's every audio m-line.
    pub(crate) addresses: Vec<MediaAddr>,
    /// Recording sessions: label per m-line (offer's, else answer's) and the ordinal.
    pub(crate) labels: Vec<Option<String>>,
    pub(crate) ordinal: usize,
}

/// One m-line's media address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MediaAddr {
    /// 0-based m-line.
    pub(crate) index: usize,
    /// Where that side takes RTP.
    pub(crate) addr: SocketAddr,
    /// Its telephone-event payload type.
    pub(crate) telephone_event: Option<u8>,
    /// SRTP (`RTP/SAVP`, `RTP/SAVPF`): the payload cannot be read.
    pub(crate) encrypted: bool,
}

/// Legs and calls of a capture, built message by message in capture order.
#[derive(Debug, Default)]
pub(crate) struct Legs {
    sut: BTreeSet<SocketAddr>,
    legs: BTreeMap<String, Leg>,
    pub(crate) calls: Vec<CallSlot>,
    labels: BTreeMap<String, String>,
    users: Vec<String>,
    next_label: usize,
    /// Notes for the user (dialogs left out and why), bounded.
    pub(crate) notes: Vec<String>,
    /// SIP messages outside any leg read.
    pub(crate) outside: u64,
    left_out: BTreeSet<String>,
}

/// At most this many notes are kept; the rest are counted in [`Legs::outside`].
const MAX_NOTES: usize = 50;

/// True for an INVITE that opens a SIPREC recording session.
pub(crate) fn is_recording_invite(msg: &SipMessage) -> bool {
    let has_metadata = roles::srs::split_body(msg).is_ok_and(|p| !p.metadata.is_empty());
    let src_contact = msg
        .contacts()
        .map(|cs| cs.iter().any(|c| c.param("+sip.src").is_some()))
        .unwrap_or(false);
    let requires = msg
        .header_list("Require")
        .iter()
        .any(|t| t.eq_ignore_ascii_case("siprec"));
    has_metadata || src_contact || requires
}

/// The sent-by address of a request's top Via, when it is an IP literal.
pub(crate) fn via_sent_by(msg: &SipMessage) -> Option<SocketAddr> {
    let via = msg.top_via().ok()?;
    let host = via.host.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, via.port.unwrap_or(5060)))
}

fn user_of(uri: &str) -> Option<String> {
    sip::message::Uri::parse(uri).ok()?.user
}

impl Legs {
    /// `sut`: the SUT's SIP addresses; `labels`: call labels by the caller leg's Call-ID.
    pub(crate) fn new(
        sut: BTreeSet<SocketAddr>,
        labels: BTreeMap<String, String>,
        users: Vec<String>,
    ) -> Self {
        Self {
            sut,
            labels,
            users,
            next_label: 1,
            ..Self::default()
        }
    }

    /// The SUT's addresses in use.
    pub(crate) fn sut(&self) -> &BTreeSet<SocketAddr> {
        &self.sut
    }

    fn note(&mut self, s: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(s);
        }
    }

    fn fresh_label(&mut self) -> String {
        loop {
            let l = format!("call-{:04}", self.next_label);
            self.next_label += 1;
            if !self.labels.values().any(|v| *v == l) && !self.calls.iter().any(|c| c.label == l) {
                return l;
            }
        }
    }

    fn new_call(&mut self, t_us: u64, label: String) -> usize {
        self.calls.push(CallSlot {
            label,
            caller_call_id: None,
            dialled_user: None,
            caller_user: None,
            started_us: t_us,
            has_callee: false,
            from_recording: false,
            ended_us: None,
            recordings: 0,
            last_us: t_us,
        });
        self.calls.len() - 1
    }

    /// The preferred open call, else the newest open one, else a new call (said in a note).
    fn join_or_new(
        &mut self,
        preferred: Option<usize>,
        open: &[usize],
        t_us: u64,
        call_id: &str,
        why_new: impl Fn(&str) -> String,
    ) -> usize {
        if let Some(i) = preferred.or_else(|| open.last().copied()) {
            return i;
        }
        // A run's label for this dialog (a recording session of a recproof run whose
        // capture holds no leg), else the next free one.
        let l = match self.labels.get(call_id) {
            Some(l) if !self.calls.iter().any(|c| c.label == *l) => l.clone(),
            _ => self.fresh_label(),
        };
        self.note(why_new(&l));
        self.new_call(t_us, l)
    }

    /// Reads one SIP message; returns its observations and what its SDP said about media.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn message(
        &mut self,
        t_us: u64,
        transport: &str,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &SipMessage,
        out: &mut Vec<Observation>,
    ) -> Option<MediaUpdate> {
        let Ok(call_id) = msg.call_id().map(str::to_owned) else {
            self.outside += 1;
            return None;
        };
        if !self.legs.contains_key(&call_id) {
            if msg.method() != Some(&Method::Invite) {
                self.outside += 1;
                return None;
            }
            let leg = self.classify(t_us, src, dst, msg, &call_id, out)?;
            self.legs.insert(call_id.clone(), leg);
        }
        let leg = self.legs.get_mut(&call_id)?;
        let from_party = leg.party_side.contains(&src)
            || (!leg.sut_side.contains(&src) && leg.sut_side.contains(&dst));
        if from_party && leg.kind == LegKind::Caller {
            leg.party_side.insert(src);
        }
        let actor = leg.kind.actor();
        let call = leg.call;
        let label = self.calls[call].label.clone();
        let payload = Payload::from_bytes(msg.raw());
        let event = if from_party {
            Event::SipSent {
                transport: transport.to_owned(),
                local: src.to_string(),
                remote: dst.to_string(),
                message: payload,
            }
        } else {
            Event::SipReceived {
                transport: transport.to_owned(),
                local: dst.to_string(),
                remote: src.to_string(),
                message: payload,
            }
        };
        let obs = |event| Observation {
            t_us,
            call: Some(label.clone()),
            actor,
            event,
        };
        out.push(obs(event));
        self.calls[call].last_us = self.calls[call].last_us.max(t_us);
        let parts = roles::srs::split_body(msg).ok();
        if leg.kind == LegKind::Recording && !from_party && msg.is_request() {
            for (ct, xml) in parts.iter().flat_map(|p| &p.metadata) {
                out.push(obs(Event::Metadata {
                    rs_call_id: call_id.clone(),
                    method: msg
                        .method()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default(),
                    content_type: ct.clone(),
                    xml: String::from_utf8_lossy(xml).into_owned(),
                }));
            }
        }
        // The end of a party's leg: a BYE, or a final failure before any answer.
        let invite_status = msg
            .status()
            .filter(|_| msg.cseq().is_ok_and(|c| c.method == Method::Invite));
        if invite_status.is_some_and(|s| (200..300).contains(&s)) {
            leg.answered = true;
        }
        let ended = if msg.method() == Some(&Method::Bye) {
            Some("bye".to_owned())
        } else {
            invite_status
                .filter(|&s| s >= 300 && !leg.answered)
                .map(|s| format!("rejected {s}"))
        };
        if let Some(reason) = ended
            && !leg.ended
        {
            leg.ended = true;
            if leg.kind == LegKind::Recording && self.calls[call].recording_only() {
                // A call seen only through its recording session ends with it.
                self.calls[call].ended_us = Some(t_us);
            }
            if leg.kind != LegKind::Recording {
                out.push(obs(Event::CallEnded { reason }));
                let slot = &mut self.calls[call];
                slot.ended_us = Some(slot.ended_us.map_or(t_us, |e| e.max(t_us)));
            }
        }
        // What the SDP says about media: the addresses of whichever side wrote it.
        let sdp = parts.and_then(|p| p.sdp)?;
        let media = sdp.media();
        if leg.kind == LegKind::Recording && !from_party {
            leg.offered_labels = media.iter().map(|m| m.label.clone()).collect();
        }
        let audio = media.iter().filter(|m| m.kind == "audio");
        let read = |m: &sip::sdp::MediaView| {
            Some(MediaAddr {
                index: m.index,
                addr: media_addr(m)?,
                telephone_event: telephone_event(m),
                encrypted: m.proto.to_ascii_uppercase().contains("SAVP"),
            })
        };
        let addresses = if leg.kind == LegKind::Recording {
            audio.filter_map(read).collect()
        } else {
            audio.take(1).filter_map(read).collect()
        };
        let labels = media
            .iter()
            .map(|m| {
                leg.offered_labels
                    .get(m.index)
                    .cloned()
                    .flatten()
                    .or_else(|| m.label.clone())
            })
            .collect();
        Some(MediaUpdate {
            call,
            kind: leg.kind,
            from_party,
            addresses,
            labels,
            ordinal: leg.ordinal,
        })
    }

    /// Decides what a dialog's first INVITE opens; `None` leaves the dialog out.
    fn classify(
        &mut self,
        t_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &SipMessage,
        call_id: &str,
        out: &mut Vec<Observation>,
    ) -> Option<Leg> {
        // A request to a SUT address from elsewhere is a caller's; one from a SUT
        // address, or whose top Via names one (a TCP connection's source port is
        // ephemeral), is the SUT's.
        let to_sut = self.sut.contains(&dst) && !self.sut.contains(&src);
        let from_sut = !to_sut
            && (self.sut.contains(&src) || via_sent_by(msg).is_some_and(|v| self.sut.contains(&v)));
        let request_user = msg.request_uri().and_then(user_of);
        let to_user = msg.to_header().ok().and_then(|t| t.uri.user);
        let mut sut_side: BTreeSet<SocketAddr> = self.sut.clone();
        if is_recording_invite(msg) {
            sut_side.insert(src);
            let text = roles::srs::split_body(msg)
                .ok()
                .map(|p| {
                    p.metadata
                        .iter()
                        .map(|(_, x)| String::from_utf8_lossy(x).into_owned())
                        .collect::<String>()
                })
                .unwrap_or_default();
            let open: Vec<usize> = (0..self.calls.len())
                .filter(|&i| {
                    let c = &self.calls[i];
                    c.started_us <= t_us && c.ended_us.is_none_or(|e| e + 5_000_000 >= t_us)
                })
                .collect();
            let names = |c: &CallSlot| {
                [&c.caller_user, &c.dialled_user].iter().any(|u| {
                    u.as_deref()
                        .is_some_and(|u| !u.is_empty() && text.contains(u))
                })
            };
            let preferred = open.iter().rev().find(|&&i| names(&self.calls[i])).copied();
            let before = self.calls.len();
            let call = self.join_or_new(preferred, &open, t_us, call_id, |l| {
                format!(
                    "the recording session {call_id} started before (or without) any call leg in the capture: judged as a call of its own ({l}), on the recording session's own rules"
                )
            });
            if self.calls.len() > before {
                // Whose call it was, as far as the metadata says: the participant that is
                // one of the SUT's users is taken as the dialled one.
                let aors = participant_aors(&text);
                let user_of_aor = |a: &String| user_of(a).unwrap_or_default();
                let callee = aors
                    .iter()
                    .find(|a| self.users.contains(&user_of_aor(a)))
                    .or_else(|| aors.get(1))
                    .cloned()
                    .unwrap_or_default();
                let caller = aors
                    .iter()
                    .find(|a| **a != callee)
                    .cloned()
                    .unwrap_or_default();
                let slot = &mut self.calls[call];
                slot.from_recording = true;
                slot.caller_user = Some(user_of_aor(&caller));
                slot.dialled_user = Some(user_of_aor(&callee));
                out.push(Observation {
                    t_us,
                    call: Some(slot.label.clone()),
                    actor: Actor::Srs,
                    event: Event::CallStarted {
                        caller,
                        callee,
                        scenario: "imported from a capture (recording session only)".to_owned(),
                    },
                });
            }
            self.calls[call].recordings += 1;
            return Some(Leg::new(
                LegKind::Recording,
                call,
                [dst].into(),
                sut_side,
                self.calls[call].recordings,
            ));
        }
        if to_sut && !from_sut {
            let label = match self.labels.get(call_id) {
                Some(l) => l.clone(),
                None => self.fresh_label(),
            };
            let call = self.new_call(t_us, label);
            let slot = &mut self.calls[call];
            slot.caller_call_id = Some(call_id.to_owned());
            slot.dialled_user = request_user.clone().or(to_user);
            slot.caller_user = msg.from_header().ok().and_then(|f| f.uri.user);
            let caller_uri = msg.from_header().map(|f| f.uri.text).unwrap_or_default();
            let obs = Observation {
                t_us,
                call: Some(slot.label.clone()),
                actor: Actor::Caller,
                event: Event::CallStarted {
                    caller: caller_uri,
                    callee: msg.request_uri().unwrap_or_default().to_owned(),
                    scenario: "imported from a capture".to_owned(),
                },
            };
            out.push(obs);
            sut_side.insert(dst);
            return Some(Leg::new(LegKind::Caller, call, [src].into(), sut_side, 0));
        }
        if from_sut {
            let users = [request_user.clone(), to_user.clone()];
            let open: Vec<usize> = (0..self.calls.len())
                .filter(|&i| {
                    let c = &self.calls[i];
                    !c.has_callee && c.started_us <= t_us && c.ended_us.is_none()
                })
                .collect();
            let same_user = |c: &CallSlot| {
                c.dialled_user.is_some()
                    && users.iter().any(|u| u.is_some() && *u == c.dialled_user)
            };
            let preferred = open
                .iter()
                .rev()
                .find(|&&i| same_user(&self.calls[i]))
                .copied();
            let call = self.join_or_new(preferred, &open, t_us, call_id, |l| {
                format!(
                    "the SUT called {dst} (dialog {call_id}) with no caller leg in the capture to tie it to: judged as a call of its own ({l})"
                )
            });
            self.calls[call].has_callee = true;
            let obs = Observation {
                t_us,
                call: Some(self.calls[call].label.clone()),
                actor: Actor::Callee,
                event: Event::CallStarted {
                    caller: msg.from_header().map(|f| f.uri.text).unwrap_or_default(),
                    callee: msg.request_uri().unwrap_or_default().to_owned(),
                    scenario: "imported from a capture".to_owned(),
                },
            };
            out.push(obs);
            sut_side.insert(src);
            return Some(Leg::new(LegKind::Callee, call, [dst].into(), sut_side, 0));
        }
        if self.left_out.insert(call_id.to_owned()) {
            self.note(format!(
                "an INVITE from {src} to {dst} (dialog {call_id}) involves no SUT address ({}): left out",
                self.sut
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
    }
}

/// The participants' addresses a metadata document names, in order: RFC 7865
/// `<nameID aor="...">` and the BroadWorks dialect's `<aor>...</aor>`.
fn participant_aors(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (open, close) in [("aor=\"", "\""), ("<aor>", "</aor>")] {
        let mut rest = xml;
        while let Some(i) = rest.find(open) {
            rest = &rest[i + open.len()..];
            let Some(j) = rest.find(close) else { break };
            let aor = rest[..j].trim().to_owned();
            if !aor.is_empty() && !out.contains(&aor) {
                out.push(aor);
            }
            rest = &rest[j..];
        }
    }
    out
}

/// The RTP address an m-line declares (`None` when declined or on hold by 0.0.0.0).
fn media_addr(m: &sip::sdp::MediaView) -> Option<SocketAddr> {
    if m.is_declined() || m.is_zero_address() {
        return None;
    }
    let ip: std::net::IpAddr = m.connection.as_deref()?.parse().ok()?;
    Some(SocketAddr::new(ip, m.port))
}

/// The telephone-event payload type of an m-line.
fn telephone_event(m: &sip::sdp::MediaView) -> Option<u8> {
    m.rtpmaps
        .iter()
        .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
        .map(|r| r.payload_type)
}
