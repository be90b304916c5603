//! Test rig for the reference platform: a simulated world with a caller and a callee
//! (`roles::ua::PartyUa`), the platform, and minimal SRS nodes that answer recording
//! sessions and listen to their streams.
//!
//! The SRS here is deliberately small (INVITE → 200 recvonly per m-line, re-INVITE,
//! UPDATE, BYE; reject or stay silent on demand); `roles::srs::SrsEmulator` is the real
//! one and was not written yet when these tests were.

#![allow(dead_code, unreachable_pub)]

use observe::{Actor, Event, Observation, Source};
use recproof_platform::assets::{Assets, prompt};
use recproof_platform::{Fault, PauseStyle, Platform, PlatformConfig};
use roles::media_io::{Detectors, ListenConfig, ListenStream, MediaContext, ReferenceClip};
use roles::ua::{AnswerMode, PartyUa, UaConfig};
use sim::{Datagram, Node, NodeId, Transport, World};
use sip::endpoint::{Endpoint, EndpointConfig, EndpointEvent, Extra, RequestContext};
use sip::message::{Method, SipMessage};
use sip::sdp::SessionDescription;
use sip::time::Time;
use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

pub const CALLER_SIP: &str = "10.0.0.1:5060";
pub const CALLER_RTP: &str = "10.0.0.1:4000";
pub const CALLEE_SIP: &str = "10.0.0.2:5060";
pub const CALLEE_RTP: &str = "10.0.0.2:4000";
pub const PLATFORM_SIP: &str = "10.0.0.10:5060";
pub const DUBBER_SIP: &str = "10.0.0.20:5060";
pub const IMAGICLE_SIP: &str = "10.0.0.21:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// The policy most tests use. `{FAILURE}` is replaced by the org failure behaviour.
pub const POLICY: &str = r#"
organization:
  name: Test Org
  region: US
  callRecording:
    vendor: Dubber
    failureBehavior: {FAILURE}
providers:
  Dubber: { srs: "sip:dubber@10.0.0.20:5060" }
  Imagicle: { srs: "sip:imagicle@10.0.0.21:5060" }
dialect: {DIALECT}
locations:
  - id: hq
  - id: oslo
    callRecording: { orgDefaultEnabled: false, vendor: Imagicle }
  - id: bergen
    callRecording: { orgDefaultEnabled: false, vendor: None }
people:
  - extension: "1001"
    displayName: Carl Caller
    location: hq
    callRecording: { enabled: true, record: Never }
  - extension: "2001"
    displayName: Alice Always
    location: hq
    callRecording:
      enabled: true
      record: Always
      recordVoicemailEnabled: true
      startStopAnnouncement: { internalCallsEnabled: true, pstnCallsEnabled: true }
      repeat: { enabled: true, interval: 20 }
      serviceProvider: WSWYZ25455
      externalGroup: WSWYZ25455L31161
      externalIdentifier: alice@test.example
  - extension: "2002"
    displayName: Bob PauseResume
    location: hq
    callRecording:
      enabled: true
      record: Always with Pause/Resume
      startStopAnnouncement: { internalCallsEnabled: true, pstnCallsEnabled: true }
      notification: { enabled: true, type: Beep }
  - extension: "2003"
    displayName: Nora Never
    location: hq
    callRecording: { enabled: true, record: Never, recordVoicemailEnabled: true }
  - extension: "2004"
    displayName: Vera NoVoicemailRecording
    location: hq
    callRecording: { enabled: true, record: Always, recordVoicemailEnabled: false }
  - extension: "3001"
    displayName: Erin OnDemand
    location: hq
    callRecording:
      enabled: true
      record: On Demand with User Initiated Start
      startStopAnnouncement: { internalCallsEnabled: true, pstnCallsEnabled: true }
      notification: { enabled: true, type: Play Announcement }
      repeat: { enabled: true, interval: 10 }
  - extension: "4001"
    displayName: Olav Oslo
    location: oslo
    callRecording: { enabled: true, record: Always }
  - extension: "5001"
    displayName: Berit Bergen
    location: bergen
    callRecording: { enabled: true, record: Always }
"#;

pub fn policy(failure: &str, dialect: &str) -> policy::Policy {
    let text = POLICY
        .replace("{FAILURE}", failure)
        .replace("{DIALECT}", dialect);
    policy::parse(&text, "test.yaml").expect("test policy")
}

/// How the SRS answers recording sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrsMode {
    Answer,
    Reject(u16),
    /// Reads nothing at all (a dead recorder): the SRC's Timer B fires.
    Silent,
}

/// One request the SRS received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Time,
    pub method: String,
    pub in_dialog: bool,
    pub raw: Vec<u8>,
}

/// A minimal SRS node.
pub struct MiniSrs {
    name: String,
    sip: SocketAddr,
    ctx: MediaContext,
    detectors: Detectors,
    mode: SrsMode,
    ep: Endpoint,
    next_port: u16,
    /// RTP port → listener.
    listeners: BTreeMap<u16, ListenStream>,
    pub requests: Vec<Received>,
    out: VecDeque<Datagram>,
    obs: VecDeque<Observation>,
}

impl MiniSrs {
    pub fn new(
        name: &str,
        sip: SocketAddr,
        ctx: MediaContext,
        detectors: Detectors,
        mode: SrsMode,
    ) -> Self {
        let mut cfg = EndpointConfig::new(sip, &format!("sip:srs@{sip}"), 99);
        cfg.contact = format!("<sip:srs@{sip}>;+sip.srs");
        Self {
            name: name.to_owned(),
            sip,
            ctx,
            detectors,
            mode,
            ep: Endpoint::new(cfg),
            next_port: 30000,
            listeners: BTreeMap::new(),
            requests: Vec::new(),
            out: VecDeque::new(),
            obs: VecDeque::new(),
        }
    }

    pub fn invites(&self) -> Vec<&Received> {
        self.requests
            .iter()
            .filter(|r| r.method == "INVITE" && !r.in_dialog)
            .collect()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests.iter().filter(|r| r.method == method).count()
    }

    fn answer_offer(&mut self, offer: &SessionDescription, reuse: bool) -> SessionDescription {
        let ip = self.sip.ip();
        let mut ports = Vec::new();
        for m in offer.media() {
            let label = m.label.clone().unwrap_or_else(|| m.index.to_string());
            let existing = self
                .listeners
                .iter()
                .find(|(_, l)| l.name() == format!("srs.{label}"))
                .map(|(p, _)| *p);
            let port = match existing {
                Some(p) if reuse => p,
                _ => {
                    let p = self.next_port;
                    self.next_port += 2;
                    let mut cfg = ListenConfig::new(
                        &format!("srs.{label}"),
                        Actor::Srs,
                        None,
                        SocketAddr::new(ip, p),
                    );
                    cfg.detectors = self.detectors.clone();
                    if let Ok(l) = ListenStream::new(cfg, &self.ctx) {
                        self.listeners.insert(p, l);
                    }
                    p
                }
            };
            ports.push(port);
        }
        sip::sdp::answer_as_recorder(offer, ip, 4242, &ports)
    }

    fn pump(&mut self, now: Time) {
        while let Some(ev) = self.ep.poll_event() {
            if let EndpointEvent::IncomingRequest {
                tx,
                request,
                context,
                ..
            } = ev
            {
                let method = request.method().map(|m| m.to_string()).unwrap_or_default();
                self.requests.push(Received {
                    at: now,
                    method: method.clone(),
                    in_dialog: context == RequestContext::InDialog,
                    raw: request.raw().to_vec(),
                });
                match (context, request.method()) {
                    (RequestContext::NewCall, _) => match self.mode {
                        SrsMode::Reject(code) => {
                            let _ = self.ep.answer(now, tx, code, Extra::new());
                        }
                        _ => {
                            let offer = sdp_of(&request);
                            match offer {
                                Some(o) => {
                                    let ans = self.answer_offer(&o, false);
                                    let _ = self.ep.answer(
                                        now,
                                        tx,
                                        200,
                                        Extra::new().body("application/sdp", ans.to_bytes()),
                                    );
                                }
                                None => {
                                    let _ = self.ep.answer(now, tx, 488, Extra::new());
                                }
                            }
                        }
                    },
                    (_, Some(Method::Invite)) => {
                        let ans = sdp_of(&request).map(|o| self.answer_offer(&o, true));
                        let extra = match ans {
                            Some(a) => Extra::new().body("application/sdp", a.to_bytes()),
                            None => Extra::new(),
                        };
                        let _ = self.ep.answer(now, tx, 200, extra);
                    }
                    _ => {
                        let _ = self.ep.answer(now, tx, 200, Extra::new());
                    }
                }
            }
        }
        while let Some(t) = self.ep.poll_transmit() {
            self.out.push_back(Datagram {
                from: self.sip,
                to: t.to,
                transport: t.transport,
                bytes: t.bytes,
            });
        }
        for l in self.listeners.values_mut() {
            while let Some(o) = l.poll_observation() {
                self.obs.push_back(o);
            }
        }
    }

    /// Ends every listener (flushes detectors, writes PartyFrames).
    pub fn finish(&mut self, now: Time) {
        for l in self.listeners.values_mut() {
            l.finish(now);
        }
        self.pump(now);
    }
}

fn sdp_of(msg: &SipMessage) -> Option<SessionDescription> {
    let ct = msg.content_type()?;
    let mt = sip::multipart::media_type_of(ct);
    if mt == sip::multipart::SDP {
        return SessionDescription::parse(msg.body()).ok();
    }
    let parsed = sip::multipart::parse(ct, msg.body()).ok()?;
    SessionDescription::parse(&parsed.sdp()?.body).ok()
}

impl Node for MiniSrs {
    fn name(&self) -> &str {
        &self.name
    }
    fn addresses(&self) -> Vec<SocketAddr> {
        let ip = self.sip.ip();
        let mut v = vec![self.sip];
        v.extend((0..16).map(|i| SocketAddr::new(ip, 30000 + 2 * i)));
        v
    }
    fn handle_datagram(&mut self, now: Time, d: Datagram) {
        if self.mode == SrsMode::Silent {
            return;
        }
        if d.to == self.sip {
            self.ep.handle_datagram(now, d.from, d.transport, &d.bytes);
        } else if let Some(l) = self.listeners.get_mut(&d.to.port()) {
            l.handle_datagram(now, d.from, &d.bytes);
        }
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        for l in self.listeners.values_mut() {
            l.handle_timeout(now);
        }
        self.pump(now);
    }
    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.ep
            .poll_timeout()
            .into_iter()
            .chain(
                self.listeners
                    .values()
                    .filter_map(ListenStream::poll_timeout),
            )
            .min()
    }
    fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Who presses keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Caller,
    Callee,
}

/// One simulated call through the platform.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub caller: &'static str,
    pub callee: &'static str,
    pub answer: AnswerMode,
    pub dtmf: Vec<(u64, Who, &'static str)>,
    /// Caller hangs up at this time (ms).
    pub hangup_ms: u64,
    /// The world runs until this time (ms).
    pub run_ms: u64,
    pub fault: Option<Fault>,
    pub variant: Option<recproof_platform::Variant>,
    pub failure: &'static str,
    pub dialect: &'static str,
    pub pause_style: PauseStyle,
    pub srs_mode: SrsMode,
    pub policy_override: Option<&'static str>,
    /// Datagrams handed to the platform at a time (ms), as if they had arrived.
    pub inject: Vec<(u64, Datagram)>,
    /// Whether the callee's extension is in the platform's directory.
    pub callee_in_directory: bool,
}

impl Scenario {
    pub fn call(caller: &'static str, callee: &'static str, hangup_ms: u64) -> Self {
        Self {
            caller,
            callee,
            answer: AnswerMode::Answer {
                ring: Duration::from_secs(1),
            },
            dtmf: Vec::new(),
            hangup_ms,
            run_ms: hangup_ms + 3000,
            fault: None,
            variant: None,
            failure: "PROCEED_WITH_CALL_NO_ANNOUNCEMENT",
            dialect: "broadworks-compat",
            pause_style: PauseStyle::default(),
            srs_mode: SrsMode::Answer,
            policy_override: None,
            inject: Vec::new(),
            callee_in_directory: true,
        }
    }

    pub fn with_fault(mut self, f: Option<Fault>) -> Self {
        self.fault = f;
        self
    }
}

/// What a run left behind.
pub struct Outcome {
    pub obs: Vec<Observation>,
    pub dubber: Vec<Received>,
    pub imagicle: Vec<Received>,
    pub wall: Duration,
    pub sim: Duration,
    /// The platform's free RTP ports and calls at the end of the run.
    pub free_ports: usize,
    pub active_calls: usize,
}

pub fn detectors(assets: &Assets) -> Detectors {
    Detectors {
        tones_hz: vec![1000.0, 1400.0],
        clips: vec![
            ReferenceClip {
                name: prompt::START.into(),
                pcm: assets.start.clone(),
            },
            ReferenceClip {
                name: prompt::STOP.into(),
                pcm: assets.stop.clone(),
            },
            ReferenceClip {
                name: prompt::PAUSE.into(),
                pcm: assets.pause.clone(),
            },
            ReferenceClip {
                name: prompt::RESUME.into(),
                pcm: assets.resume.clone(),
            },
            ReferenceClip {
                name: prompt::VOICEMAIL_GREETING.into(),
                pcm: assets.greeting.clone(),
            },
        ],
        silence: None,
    }
}

pub fn run(s: &Scenario) -> Outcome {
    let started = std::time::Instant::now();
    let assets = Assets::load().expect("assets");
    let det = detectors(&assets);
    let ctx = MediaContext::with_default_signal().expect("ctx");
    let mut w = World::new(11);
    let pol = match s.policy_override {
        Some(text) => policy::parse(text, "override.yaml").expect("policy"),
        None => policy(s.failure, s.dialect),
    };
    let mut cfg = PlatformConfig::new(pol, addr(PLATFORM_SIP), addr(PLATFORM_SIP).ip());
    if s.callee_in_directory {
        cfg.directory.insert(s.callee.to_owned(), addr(CALLEE_SIP));
    }
    cfg.directory.insert(s.caller.to_owned(), addr(CALLER_SIP));
    cfg.fault = s.fault;
    cfg.variant = s.variant;
    cfg.pause_style = s.pause_style;
    let plat = w.add(Box::new(Platform::new(cfg).expect("platform")));
    let mut caller_cfg = UaConfig::caller(addr(CALLER_SIP), addr(CALLER_RTP));
    caller_cfg.uri = format!("sip:{}@{CALLER_SIP}", s.caller);
    caller_cfg.detectors = det.clone();
    let mut callee_cfg = UaConfig::callee(addr(CALLEE_SIP), addr(CALLEE_RTP));
    callee_cfg.uri = format!("sip:{}@{CALLEE_SIP}", s.callee);
    callee_cfg.detectors = det.clone();
    callee_cfg.answer = s.answer;
    let caller = w.add(Box::new(
        PartyUa::new(caller_cfg, ctx.clone()).expect("caller"),
    ));
    let callee = w.add(Box::new(
        PartyUa::new(callee_cfg, ctx.clone()).expect("callee"),
    ));
    let dubber = w.add(Box::new(MiniSrs::new(
        "dubber",
        addr(DUBBER_SIP),
        ctx.clone(),
        det.clone(),
        s.srs_mode,
    )));
    let imagicle = w.add(Box::new(MiniSrs::new(
        "imagicle",
        addr(IMAGICLE_SIP),
        ctx.clone(),
        det,
        s.srs_mode,
    )));
    let target = format!("sip:{}@{PLATFORM_SIP}", s.callee);
    w.with_node::<PartyUa, _>(caller, |ua, now| {
        ua.dial(now, &target, addr(PLATFORM_SIP)).expect("dial")
    });
    let mut events: Vec<(u64, u8, Who, &str, usize)> = s
        .dtmf
        .iter()
        .map(|(t, who, d)| (*t, 0u8, *who, *d, 0))
        .collect();
    events.push((s.hangup_ms, 1, Who::Caller, "", 0));
    for (i, (t, _)) in s.inject.iter().enumerate() {
        events.push((*t, 2, Who::Caller, "", i));
    }
    events.sort_by_key(|e| (e.0, e.1));
    for (t, kind, who, digits, i) in events {
        w.run_until(Time::from_millis(t));
        if kind == 2 {
            let d = s.inject[i].1.clone();
            w.with_node::<Platform, _>(plat, |p, now| p.handle_datagram(now, d));
            continue;
        }
        let node = match who {
            Who::Caller => caller,
            Who::Callee => callee,
        };
        if kind == 0 {
            w.with_node::<PartyUa, _>(node, |ua, now| ua.send_dtmf(now, digits));
        } else {
            w.with_node::<PartyUa, _>(node, |ua, now| {
                let _ = ua.hang_up(now);
            });
        }
    }
    w.run_until(Time::from_millis(s.run_ms));
    let end = w.now();
    for id in [dubber, imagicle] {
        w.with_node::<MiniSrs, _>(id, |srs, now| srs.finish(now));
    }
    let take = |w: &mut World, id: NodeId| {
        w.node_mut::<MiniSrs>(id)
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    };
    let (free_ports, active_calls) = w
        .node_mut::<Platform>(plat)
        .map(|p| (p.free_ports(), p.active_calls()))
        .unwrap_or_default();
    let d = take(&mut w, dubber);
    let i = take(&mut w, imagicle);
    Outcome {
        obs: w.take_observations(),
        dubber: d,
        imagicle: i,
        wall: started.elapsed(),
        sim: end.since_origin(),
        free_ports,
        active_calls,
    }
}

// ---- queries on an outcome ----------------------------------------------------------

impl Outcome {
    pub fn platform_actions(&self, action: &str) -> Vec<(u64, String)> {
        self.obs
            .iter()
            .filter(|o| o.actor == Actor::Platform)
            .filter_map(|o| match &o.event {
                Event::PlatformAction { action: a, detail } if a == action => {
                    Some((o.t_us, detail.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Clip matches (start µs) of `clip` on `stream`.
    pub fn clips(&self, stream: &str, clip: &str) -> Vec<u64> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::ClipMatch {
                    stream: s,
                    clip: c,
                    start_us,
                    ..
                } if s == stream && c == clip => Some(*start_us),
                _ => None,
            })
            .collect()
    }

    /// Any clip on streams starting with `prefix`.
    pub fn any_clip(&self, prefix: &str) -> Vec<(String, String, u64)> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::ClipMatch {
                    stream,
                    clip,
                    start_us,
                    ..
                } if stream.starts_with(prefix) => Some((stream.clone(), clip.clone(), *start_us)),
                _ => None,
            })
            .collect()
    }

    /// Tone bursts (start, end µs) at `freq` on `stream`.
    pub fn tones(&self, stream: &str, freq: f64) -> Vec<(u64, u64)> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::ToneBurst {
                    stream: s,
                    freq_hz,
                    start_us,
                    end_us,
                } if s == stream && (freq_hz - freq).abs() < 1.0 => Some((*start_us, *end_us)),
                _ => None,
            })
            .collect()
    }

    /// Tone bursts on streams starting with `prefix`.
    pub fn any_tone(&self, prefix: &str) -> Vec<(String, f64, u64)> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::ToneBurst {
                    stream,
                    freq_hz,
                    start_us,
                    ..
                } if stream.starts_with(prefix) => Some((stream.clone(), *freq_hz, *start_us)),
                _ => None,
            })
            .collect()
    }

    /// Party frames (count) of `party` on `stream`.
    pub fn party_frames(&self, stream: &str, party: &str) -> u64 {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::PartyFrames {
                    stream: s,
                    party: p,
                    frames,
                    ..
                } if s == stream && p == party => Some(*frames),
                _ => None,
            })
            .sum()
    }

    /// p95 latency (ms) of `party`'s frames on `stream`, from its frame report.
    pub fn p95_ms(&self, stream: &str, party: &str) -> Option<f64> {
        self.obs.iter().find_map(|o| match &o.event {
            Event::PartyFrames {
                stream: s,
                party: p,
                latency: Some(l),
                ..
            } if s == stream && p == party => Some(l.p95_us as f64 / 1e3),
            _ => None,
        })
    }

    /// Spans (start, end µs) of `party` audio on `stream`.
    pub fn party_spans(&self, stream: &str, party: &str) -> Vec<(u64, u64)> {
        self.obs
            .iter()
            .filter_map(|o| match &o.event {
                Event::MediaSegment {
                    stream: s,
                    source: Source::Party { party: p, .. },
                    start_us,
                    end_us,
                    ..
                } if s == stream && p == party => Some((*start_us, *end_us)),
                _ => None,
            })
            .collect()
    }

    /// The announcement events carried by metadata requests the SRS got.
    pub fn announcement_events(reqs: &[Received]) -> Vec<String> {
        let mut out = Vec::new();
        for r in reqs {
            let Ok(msg) = SipMessage::parse(r.raw.clone()) else {
                continue;
            };
            let Some(ct) = msg.content_type() else {
                continue;
            };
            let mt = sip::multipart::media_type_of(ct);
            let xml = if mt.starts_with("multipart/") {
                match sip::multipart::parse(ct, msg.body())
                    .ok()
                    .and_then(|p| p.metadata().map(|m| m.body.clone()))
                {
                    Some(b) => b,
                    None => continue,
                }
            } else if mt.contains("rs-metadata") {
                msg.body().clone()
            } else {
                continue;
            };
            let Ok(doc) = siprec::metadata::parse(&xml) else {
                continue;
            };
            let Some(rec) = doc.recording() else { continue };
            for a in siprec::metadata::announcement::find_announcements(rec)
                .into_iter()
                .flatten()
            {
                out.push(a.event.as_str().to_owned());
            }
        }
        out
    }

    pub fn sdp_of_invite(r: &Received) -> SessionDescription {
        let msg = SipMessage::parse(r.raw.clone()).expect("sip");
        sdp_of(&msg).expect("sdp")
    }
}

pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn transport_is_udp(_: Transport) {}
