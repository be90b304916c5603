//! The reference platform as a sans-IO [`Node`]: a recording back-to-back user agent that
//! routes calls by extension, anchors their media, and acts as SIPREC SRC.
//!
//! # What this module owns
//!
//! [`Platform`] is the thin owner of the platform's parts, one state machine each, and
//! routes what arrives to them:
//!
//! - `b2bua`: the B2BUA's user agent (Contact `sip:platform@…`): routing by
//!   extension, both legs' dialogs, answer, voicemail and the end of a call.
//! - `mixer`: RTP in per leg (playout buffers, feature codes), the 20 ms media
//!   tick, the overlays mixed into what each party hears, the frames forked to
//!   recording streams.
//! - `recording`: the SRC's user agent (From `sip:src@…`, a Contact carrying the
//!   dialect's SRC marker on every request, SRC-03): one recording session (RS) per
//!   recorded user, its SDP and metadata updates, pause/resume/stop/start, the failure
//!   behaviour.
//! - `call` (the calls in progress, indexed by dialog and by next deadline) and
//!   `shared` (configuration, behaviour, assets, rng, RTP port pool, output
//!   queues), which the parts share.
//!
//! The two user agents share one UDP SIP address: a datagram goes to the SRC's when
//! its Call-ID is one the SRC sent (or it arrives on the SRC's own port), else to the
//! B2BUA's. RTP on a pool port goes to the mixer, and the feature codes it finds to the
//! recording controller. A timeout drives both user agents, then every call whose
//! deadline is due: its ring timeout or release (B2BUA), then its media ticks (mixer,
//! fed by the recordings' taps and due reminders).
//!
//! Media: the platform terminates RTP on both legs. Each call runs a 20 ms media clock
//! from answer. On every tick it takes one frame of each party's audio from a small
//! playout buffer (a FIFO of decoded samples, at most [`PLAYOUT_MAX_FRAMES`] frames; an
//! empty buffer gives silence), mixes the platform's overlays (announcements, tones) into
//! what goes to each party, re-encodes and sends. The same party frames, without
//! overlays, go to the recording streams (label 1 = caller, label 2 = callee). RFC 4733
//! events from a party are consumed as feature codes and never forwarded or forked.
//! Added one-way latency: the wait for the next tick (0-20 ms, uniformly spread when the
//! party's clock is independent) plus the frames queued in the buffer (0 in a steady
//! state on a clean link, at most [`PLAYOUT_MAX_FRAMES`] × 20 ms after a burst).
//!
//! Policy: on every call each party that is a person in the policy is resolved
//! (`policy::Policy::resolve`, with the call's direction and reach); the result decides
//! whether, where and how that person's side of the call is recorded. See the crate
//! README for the behaviour in each mode and the fault table.
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads: datagrams and `now` in, datagrams and observations out.
//! It does not judge: it reports its own actions as
//! [`observe::Event::PlatformAction`] (ground truth for self-tests) and malformed input
//! as [`observe::Event::SipMalformed`] / [`observe::Event::RtpMalformed`]. It never
//! panics on what a peer sends. The owner itself keeps no call state and makes no
//! decision: those belong to the parts.
//!
//! # Deviations
//!
//! - An INVITE without SDP (offer in the ACK) is refused with 488.
//! - A re-INVITE from the recorder is refused with 488; UPDATE, INFO and OPTIONS from it
//!   get 200 (metadata snapshot requests, SRC-21, are not served).
//! - The stop announcement is played when recording stops while the call goes on (On
//!   Demand `*45`); when the call itself ends nobody is left to hear it, so none plays.

use crate::assets::{self, Assets};
use crate::b2bua::B2bua;
use crate::behaviour::Behaviour;
use crate::call::{Calls, Phase, Ua};
use crate::config::PlatformConfig;
use crate::mixer::Mixer;
use crate::recording::Recorder;
use crate::shared::{Ports, Shared, action};
use observe::Observation;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use sim::{Datagram, Node};
use sip::endpoint::Endpoint;
use sip::time::Time;
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::b2bua::VOICEMAIL_GREETING_DELAY;
pub use crate::mixer::{PLAYOUT_MAX_FRAMES, PTIME};
/// Delay of recorded media with the `late-recording-start` fault.
pub const LATE_START: Duration = crate::behaviour::LATE_START;

/// Why a platform could not be built (harness configuration, never peer input).
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A shipped audio file does not decode.
    #[error(transparent)]
    Asset(#[from] assets::AssetError),
    /// The RTP pool is empty.
    #[error("the RTP port pool is empty (rtp_port_count = 0)")]
    NoPorts,
}

/// The reference platform. See the [module docs](self) and the crate README.
pub struct Platform {
    /// Configuration, behaviour, assets, rng, RTP ports and the output queues.
    cx: Shared,
    /// The calls in progress, indexed by dialog and by deadline.
    calls: Calls,
    /// The B2BUA: call legs.
    b2bua: B2bua,
    /// The SRC: recording sessions.
    rec: Recorder,
    /// RTP in.
    mixer: Mixer,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("name", &self.cx.cfg.name)
            .field("calls", &self.calls.len())
            .field("fault", &self.cx.cfg.fault)
            .finish()
    }
}

impl Platform {
    /// A platform with no call. Fails only on a harness configuration error.
    pub fn new(cfg: PlatformConfig) -> Result<Self, PlatformError> {
        if cfg.rtp_port_count == 0 {
            return Err(PlatformError::NoPorts);
        }
        let assets = Assets::load()?;
        let b = Behaviour::of(cfg.fault, cfg.variant);
        let b2bua = B2bua::new(&cfg);
        let rec = Recorder::new(&cfg, &b);
        let mut obs = VecDeque::new();
        if let Some(f) = cfg.fault {
            obs.push_back(action(
                Time::ZERO,
                "fault",
                format!("{} ({}): {}", f.name(), f.requirement(), f.description()),
            ));
        }
        if let Some(v) = cfg.variant {
            obs.push_back(action(
                Time::ZERO,
                "variant",
                format!("{}: {}", v.name(), v.description()),
            ));
        }
        Ok(Self {
            cx: Shared {
                b,
                rng: SmallRng::seed_from_u64(cfg.seed ^ 0x005E_ED0F_F1A7),
                assets,
                ports: Ports::new(&cfg),
                out: VecDeque::new(),
                obs,
                cfg,
                malformed_limit: observe::FloodLimit::new(crate::shared::MALFORMED_PER_SECOND),
                refused_limit: observe::FloodLimit::new(crate::shared::MALFORMED_PER_SECOND),
            },
            calls: Calls::default(),
            b2bua,
            rec,
            mixer: Mixer::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PlatformConfig {
        &self.cx.cfg
    }

    /// Calls in progress (including ones still tearing down).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// RTP datagrams that arrived on a port no call uses (ignored).
    pub fn stray_rtp(&self) -> u64 {
        self.mixer.stray_rtp()
    }

    /// RTP ports currently free in the pool.
    pub fn free_ports(&self) -> usize {
        self.cx.ports.free_count()
    }

    fn ua(&mut self, ua: Ua) -> &mut Endpoint {
        match ua {
            Ua::B2bua => self.b2bua.endpoint(),
            Ua::Src => self.rec.endpoint(),
        }
    }

    /// Which user agent a datagram on a SIP address is for: by address when the SRC
    /// has its own port, else by Call-ID.
    fn ua_for(&self, datagram: &Datagram) -> Ua {
        let src_addr = self.cx.cfg.src_addr();
        let by_call_id = src_addr == self.cx.cfg.sip_addr;
        if (by_call_id && self.rec.owns(&datagram.bytes))
            || (!by_call_id && datagram.to == src_addr)
        {
            Ua::Src
        } else {
            Ua::B2bua
        }
    }

    /// Hands both user agents' events to their parts and their datagrams to the output
    /// until neither has anything left, then reaps the calls that are over.
    fn pump(&mut self, now: Time) {
        loop {
            let mut any = false;
            while let Some(ev) = self.b2bua.poll_event() {
                any = true;
                self.b2bua
                    .on_event(&mut self.cx, &mut self.calls, &mut self.rec, now, ev);
            }
            while let Some(ev) = self.rec.poll_event() {
                any = true;
                self.rec.on_event(&mut self.cx, &mut self.calls, now, ev);
            }
            while let Some(d) = self.b2bua.poll_transmit(self.cx.cfg.sip_addr) {
                any = true;
                self.cx.out.push_back(d);
            }
            while let Some(d) = self.rec.poll_transmit(self.cx.cfg.src_addr()) {
                any = true;
                self.cx.out.push_back(d);
            }
            if !any {
                break;
            }
        }
        self.calls.reap(&mut self.cx.ports);
    }

    /// Handles every call whose deadline is due: voicemail on a ring timeout, release
    /// after a failure announcement, and the media ticks up to `now`.
    fn ticks(&mut self, now: Time) {
        while let Some(id) = self.calls.pop_due(now) {
            self.b2bua
                .on_deadline(&mut self.cx, &mut self.calls, &mut self.rec, now, id);
            while let Some(t) = self.calls.get(id).and_then(|c| c.media.due_tick(now)) {
                self.tick(id, t);
            }
            self.calls.schedule(id);
        }
    }

    /// Media tick of call `id` due at `t`: the recordings say which reminders are due
    /// and which streams fork; the mixer plays, mixes and sends.
    fn tick(&mut self, id: u64, t: Time) {
        let drift = self.cx.b.reminder_drift_s;
        let forks_while_paused = self.cx.b.forks_while_paused;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let reminders = c.recs.due_reminders(t, drift);
        let taps = c.recs.taps(t, forks_while_paused);
        let connected = c.phase == Phase::Active;
        c.media
            .tick(&mut self.cx, id, t, connected, reminders, taps);
    }
}

impl Node for Platform {
    fn name(&self) -> &str {
        &self.cx.cfg.name
    }

    fn sip_addresses(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.cx.cfg.sip_addr];
        if self.cx.cfg.src_addr() != self.cx.cfg.sip_addr {
            v.push(self.cx.cfg.src_addr());
        }
        v
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.cx.cfg.sip_addr];
        if self.cx.cfg.src_addr() != self.cx.cfg.sip_addr {
            v.push(self.cx.cfg.src_addr());
        }
        v.extend(self.cx.cfg.rtp_addresses());
        v
    }

    fn handle_datagram(&mut self, now: Time, datagram: Datagram) {
        if datagram.to == self.cx.cfg.sip_addr || datagram.to == self.cx.cfg.src_addr() {
            let ua = self.ua_for(&datagram);
            self.ua(ua)
                .handle_datagram(now, datagram.from, datagram.transport, &datagram.bytes);
        } else {
            let codes = self
                .mixer
                .on_rtp(&mut self.cx, &mut self.calls, now, &datagram);
            for fc in &codes {
                self.rec
                    .on_feature_code(&mut self.cx, &mut self.calls, now, fc);
            }
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.b2bua.endpoint().handle_timeout(now);
        self.rec.endpoint().handle_timeout(now);
        self.pump(now);
        self.ticks(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.cx.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        [
            self.b2bua.poll_timeout(),
            self.rec.poll_timeout(),
            self.calls.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_observation(&mut self) -> Option<Observation> {
        self.cx.obs.pop_front()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
