//! The media mixer: the platform's RTP on both legs of a call and on the streams it
//! forks to recorders, clocked by one 20 ms media tick per call.
//!
//! # What this module owns
//!
//! - [`LegMedia`]: one party leg's RTP (its port, where to send, codec, sender,
//!   receiver), its playout buffer (a FIFO of decoded samples, at most
//!   [`PLAYOUT_MAX_FRAMES`] frames; empty gives silence) and its RFC 4733 digits.
//! - [`CallMedia`]: a call's two legs, its media clock (from answer; tick `n` is due
//!   `n` × [`PTIME`] after it) and the overlays (announcements, tones) it plays. On
//!   every tick it takes one frame of each party, mixes the overlays into what each
//!   party hears, re-encodes and sends, and feeds the same party frames, without
//!   overlays, to the recording streams it is handed ([`Tap`]).
//! - [`Fork`]: the RTP side of one recording session (its ports, targets, codecs,
//!   senders), fed by the tick.
//! - [`Mixer`]: RTP in: finds the leg by port, decodes audio into the playout buffer,
//!   turns RFC 4733 events into digits and digits into [`FeatureCode`]s (never
//!   forwarded or forked).
//!
//! # What it must not touch
//!
//! No SIP and no recording decisions: it does not know why a clip plays or whether a
//! recording is paused. The B2BUA ([`crate::b2bua`]) connects legs and starts and stops
//! the clock; the recording controller ([`crate::recording`]) asks for clips, hands in
//! the recordings' taps (whether each forks now) and acts on the feature codes.

use crate::behaviour::Feed;
use crate::call::{Calls, Phase, Side};
use crate::shared::{Shared, action};
use media::FRAME_SAMPLES;
use media::dtmf::DtmfReceiver;
use media::g711::Law;
use media::rtp::{RtpEvent, RtpReceiver, RtpSender, Ssrc};
use observe::{Actor, Event, Observation, Payload};
use rand::Rng;
use rand::rngs::SmallRng;
use sim::{Datagram, Transport};
use sip::time::Time;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The media clock period.
pub const PTIME: Duration = Duration::from_millis(20);
/// Most frames a leg's playout buffer holds; older samples are dropped beyond it.
pub const PLAYOUT_MAX_FRAMES: usize = 3;
/// Malformed RTP datagrams logged per leg before the rest are only counted.
const MAX_MALFORMED_LOGGED: u64 = 16;

/// One 20 ms frame of 8 kHz audio.
type Frame = [i16; FRAME_SAMPLES];

/// A new RTP sender with a random SSRC, sequence number and timestamp.
fn sender(rng: &mut SmallRng) -> RtpSender {
    RtpSender::new(
        Ssrc(rng.random()),
        0,
        rng.random(),
        rng.random::<u32>() & 0x7FFF_FFFF,
    )
}

/// Puts `frame` into a delay line of `delay` frames and returns what comes out (silence
/// until the line is full).
fn delayed(line: &mut VecDeque<Frame>, frame: Frame, delay: usize) -> Frame {
    if delay == 0 {
        return frame;
    }
    line.push_back(frame);
    if line.len() > delay {
        line.pop_front().unwrap_or([0; FRAME_SAMPLES])
    } else {
        [0; FRAME_SAMPLES]
    }
}

fn mix(into: &mut [i16], from: &[i16]) {
    for (o, s) in into.iter_mut().zip(from) {
        *o = o.saturating_add(*s);
    }
}

/// One RTP leg towards a party.
pub(crate) struct LegMedia {
    port: u16,
    remote: Option<SocketAddr>,
    law: Law,
    te: Option<u8>,
    tx: RtpSender,
    sent_any: bool,
    rx: RtpReceiver,
    dtmf: DtmfReceiver,
    inbox: VecDeque<i16>,
    /// Frames of this party's audio held back (the `slow-party-media` fault).
    delay_line: VecDeque<Frame>,
    digits: String,
    malformed: u64,
}

impl LegMedia {
    fn new(port: u16, rng: &mut SmallRng) -> Self {
        Self {
            port,
            remote: None,
            law: Law::Ulaw,
            te: None,
            tx: sender(rng),
            sent_any: false,
            rx: RtpReceiver::new(media::SAMPLE_RATE),
            dtmf: DtmfReceiver::new(),
            inbox: VecDeque::new(),
            delay_line: VecDeque::new(),
            digits: String::new(),
            malformed: 0,
        }
    }

    /// One frame of the party's audio from the playout buffer (silence when empty),
    /// `delay` frames late.
    fn take_frame(&mut self, delay: usize) -> Frame {
        let mut f = [0i16; FRAME_SAMPLES];
        for s in f.iter_mut() {
            match self.inbox.pop_front() {
                Some(v) => *s = v,
                None => break,
            }
        }
        delayed(&mut self.delay_line, f, delay)
    }

    fn push_audio(&mut self, pcm: &[i16]) {
        self.inbox.extend(pcm.iter().copied());
        let max = PLAYOUT_MAX_FRAMES * FRAME_SAMPLES;
        while self.inbox.len() > max {
            self.inbox.pop_front();
        }
    }

    fn send(&mut self, pcm: &[i16], from: IpAddr, out: &mut VecDeque<Datagram>) {
        let Some(remote) = self.remote else {
            self.tx.skip(FRAME_SAMPLES as u32);
            return;
        };
        let ts = self.tx.next_ts() as u32;
        let marker = !self.sent_any;
        if let Ok(bytes) =
            self.tx
                .packet_with(self.law.payload_type(), ts, marker, &self.law.encode(pcm))
        {
            self.sent_any = true;
            out.push_back(Datagram {
                from: SocketAddr::new(from, self.port),
                to: remote,
                transport: Transport::Udp,
                bytes,
            });
        }
        self.tx.advance(FRAME_SAMPLES as u32);
    }
}

/// Audio the platform plays over a call.
struct Overlay {
    first_tick: u64,
    pcm: Arc<[i16]>,
    to_caller: bool,
    to_callee: bool,
    /// A start/stop announcement (leaks into the recording with the fault).
    announcement: bool,
}

/// What a feature code asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeatureAction {
    /// Start recording (On Demand).
    Start,
    /// Stop recording (On Demand).
    Stop,
    /// Pause recording.
    Pause,
    /// Resume recording.
    Resume,
}

impl FeatureAction {
    /// The name observations use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

/// A feature code a party keyed in during a connected call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureCode {
    /// The call.
    pub(crate) id: u64,
    /// Who keyed it.
    pub(crate) side: Side,
    /// The code as configured (e.g. `*48`).
    pub(crate) code: String,
    /// What it asks for.
    pub(crate) action: FeatureAction,
}

/// One recording session's stream feed for one tick: its [`Fork`], whether party audio
/// goes out now, and whether it records a voicemail deposit (the second stream then
/// carries what the mailbox plays).
pub(crate) struct Tap<'a> {
    /// The session's RTP.
    pub(crate) fork: &'a mut Fork,
    /// Party audio is sent now (recording, started, not paused).
    pub(crate) forking: bool,
    /// The session records a voicemail deposit.
    pub(crate) voicemail: bool,
}

/// The RTP of one recording session: a stream per SDP label towards the recorder.
pub(crate) struct Fork {
    /// The session's port pair (the first ports carry the streams).
    ports: Vec<u16>,
    targets: Vec<Option<SocketAddr>>,
    laws: Vec<Law>,
    senders: Vec<RtpSender>,
    sent_any: Vec<bool>,
    /// Frames held back per stream (the `slow-recorded-media` fault).
    delay_lines: Vec<VecDeque<Frame>>,
}

impl Fork {
    /// `streams` streams on the first of `ports`, targets unknown until the answer.
    pub(crate) fn new(ports: Vec<u16>, streams: usize, rng: &mut SmallRng) -> Self {
        let mut senders = Vec::new();
        for _ in 0..streams {
            senders.push(sender(rng));
        }
        Self {
            ports,
            targets: vec![None; streams],
            laws: vec![Law::Ulaw; streams],
            senders,
            sent_any: vec![false; streams],
            delay_lines: vec![VecDeque::new(); streams],
        }
    }

    /// The session's ports (returned to the pool when it ends).
    pub(crate) fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Stream `i` as the recorder's answer negotiated it (a target that is not an
    /// address leaves the previous one).
    pub(crate) fn negotiated(&mut self, i: usize, target: Option<SocketAddr>, law: Law) {
        if let Some(t) = target
            && let Some(slot) = self.targets.get_mut(i)
        {
            *slot = Some(t);
        }
        if let Some(l) = self.laws.get_mut(i) {
            *l = law;
        }
    }

    /// Every stream's target, once all are known.
    pub(crate) fn targets(&self) -> Option<Vec<SocketAddr>> {
        self.targets.iter().copied().collect()
    }

    /// One tick of the streams: `frames` (one per stream) through the delay lines, then
    /// sent when `send`, else the senders' clocks just move on.
    fn send(
        &mut self,
        frames: &mut [Frame],
        delay: usize,
        send: bool,
        ip: IpAddr,
        out: &mut VecDeque<Datagram>,
    ) {
        for (f, line) in frames.iter_mut().zip(self.delay_lines.iter_mut()) {
            *f = delayed(line, *f, delay);
        }
        for (i, f) in frames.iter().enumerate() {
            let (Some(tx), Some(target), Some(law), Some(&port)) = (
                self.senders.get_mut(i),
                self.targets.get(i).copied().flatten(),
                self.laws.get(i).copied(),
                self.ports.get(i),
            ) else {
                continue;
            };
            if !send {
                tx.skip(FRAME_SAMPLES as u32);
                continue;
            }
            let ts = tx.next_ts() as u32;
            let marker = !self.sent_any.get(i).copied().unwrap_or(false);
            if let Ok(bytes) = tx.packet_with(law.payload_type(), ts, marker, &law.encode(f)) {
                if let Some(s) = self.sent_any.get_mut(i) {
                    *s = true;
                }
                out.push_back(Datagram {
                    from: SocketAddr::new(ip, port),
                    to: target,
                    transport: Transport::Udp,
                    bytes,
                });
            }
            tx.advance(FRAME_SAMPLES as u32);
        }
    }
}

/// A call's media: both legs, the media clock and what the platform plays over it.
pub(crate) struct CallMedia {
    a: LegMedia,
    b: LegMedia,
    /// When tick 0 was due (none before answer and after release).
    start: Option<Time>,
    /// The next tick to run.
    tick: u64,
    overlays: Vec<Overlay>,
}

impl CallMedia {
    /// The legs on `ports` (caller's, callee's), no clock yet.
    pub(crate) fn new(ports: [u16; 2], rng: &mut SmallRng) -> Self {
        let a = LegMedia::new(ports[0], rng);
        let b = LegMedia::new(ports[1], rng);
        Self {
            a,
            b,
            start: None,
            tick: 0,
            overlays: Vec::new(),
        }
    }

    fn leg(&mut self, side: Side) -> &mut LegMedia {
        match side {
            Side::Caller => &mut self.a,
            Side::Callee => &mut self.b,
        }
    }

    /// The RTP port of the leg towards `side`.
    pub(crate) fn port(&self, side: Side) -> u16 {
        match side {
            Side::Caller => self.a.port,
            Side::Callee => self.b.port,
        }
    }

    /// Where the leg towards `side` sends and in which codec (from its SDP exchange).
    pub(crate) fn connect(
        &mut self,
        side: Side,
        remote: Option<SocketAddr>,
        law: Law,
        te: Option<u8>,
    ) {
        let leg = self.leg(side);
        leg.remote = remote;
        leg.law = law;
        leg.te = te;
    }

    /// Starts the media clock: tick 0 is due now.
    pub(crate) fn start_clock(&mut self, now: Time) {
        self.start = Some(now);
        self.tick = 0;
    }

    /// Stops the media clock (no more ticks).
    pub(crate) fn stop_clock(&mut self) {
        self.start = None;
    }

    /// When media tick `n` is due (none before answer or after release).
    pub(crate) fn tick_time(&self, n: u64) -> Option<Time> {
        let start = self.start?;
        Some(start + Duration::from_micros(n.saturating_mul(PTIME.as_micros() as u64)))
    }

    /// When the next tick is due, if the clock runs.
    pub(crate) fn next_tick_time(&self) -> Option<Time> {
        self.tick_time(self.tick)
    }

    /// The next tick's time when it is due at `now`.
    pub(crate) fn due_tick(&self, now: Time) -> Option<Time> {
        self.next_tick_time().filter(|t| *t <= now)
    }

    /// The next tick at or after `now` (where an overlay started now begins).
    pub(crate) fn next_tick(&self) -> (u64, Time) {
        (self.tick, self.tick_time(self.tick).unwrap_or(Time::ZERO))
    }

    /// Plays `pcm` from the next tick. The same clip already starting on that tick for
    /// the same parties is not doubled (both parties recorded, both announced).
    /// An `announcement` (start/stop) leaks into the recording with that fault.
    pub(crate) fn play(
        &mut self,
        pcm: &Arc<[i16]>,
        to_caller: bool,
        to_callee: bool,
        announcement: bool,
    ) {
        let (first_tick, _) = self.next_tick();
        if self.overlays.iter().any(|o| {
            o.first_tick == first_tick
                && Arc::ptr_eq(&o.pcm, pcm)
                && o.to_caller == to_caller
                && o.to_callee == to_callee
        }) {
            return;
        }
        self.overlays.push(Overlay {
            first_tick,
            pcm: pcm.clone(),
            to_caller,
            to_callee,
            announcement,
        });
    }

    /// Plays `pcm` from `ticks` ticks after the next one; returns its first tick.
    pub(crate) fn play_after(
        &mut self,
        ticks: u64,
        pcm: &Arc<[i16]>,
        to_caller: bool,
        to_callee: bool,
    ) -> u64 {
        let first_tick = self.tick + ticks;
        self.overlays.push(Overlay {
            first_tick,
            pcm: pcm.clone(),
            to_caller,
            to_callee,
            announcement: false,
        });
        first_tick
    }

    /// Adds a digit `side` keyed; the feature code its last digits complete, if any
    /// (the digits are then cleared).
    fn feature_code(
        &mut self,
        side: Side,
        digit: char,
        codes: &policy::FeatureCodes,
    ) -> Option<(String, FeatureAction)> {
        let leg = self.leg(side);
        leg.digits.push(digit);
        if leg.digits.len() > 16 {
            let cut = leg.digits.len() - 16;
            leg.digits.drain(..cut);
        }
        let (code, action) = [
            (&codes.start, FeatureAction::Start),
            (&codes.stop, FeatureAction::Stop),
            (&codes.pause, FeatureAction::Pause),
            (&codes.resume, FeatureAction::Resume),
        ]
        .into_iter()
        .find(|(code, _)| !code.is_empty() && leg.digits.ends_with(code.as_str()))?;
        leg.digits.clear();
        Some((code.clone(), action))
    }

    /// Runs tick `n` (the next one), due at `t`: plays a reminder tone when `reminders`
    /// names users whose reminder is due, takes one frame of each party (the callee's
    /// only when `callee_connected`), feeds `taps`, and sends each party the other's
    /// frame with the overlays mixed in.
    pub(crate) fn tick<'a>(
        &mut self,
        cx: &mut Shared,
        id: u64,
        t: Time,
        callee_connected: bool,
        reminders: Vec<String>,
        taps: impl Iterator<Item = Tap<'a>>,
    ) {
        let leak = cx.b.announcement_leaks;
        let (feeds, sends_rtp) = (cx.b.feeds, cx.b.sends_recorded_rtp);
        let (party_delay, rec_delay) = (cx.b.party_delay_frames, cx.b.recorded_delay_frames);
        let ip = cx.cfg.media_ip;
        let n = self.tick;
        self.tick += 1;
        if !reminders.is_empty() {
            self.overlays.push(Overlay {
                first_tick: n,
                pcm: cx.assets.reminder.clone(),
                to_caller: true,
                to_callee: true,
                announcement: false,
            });
            for ext in reminders {
                cx.obs.push_back(action(
                    t,
                    "reminder_tone",
                    format!(
                        "call={id} user={ext} freq_hz={} ms=500",
                        crate::assets::REMINDER_TONE_HZ
                    ),
                ));
            }
        }
        let caller = self.a.take_frame(party_delay);
        let callee = if callee_connected {
            self.b.take_frame(party_delay)
        } else {
            [0i16; FRAME_SAMPLES]
        };
        let mut to_caller = [0i16; FRAME_SAMPLES];
        let mut to_callee = [0i16; FRAME_SAMPLES];
        let mut ann_caller = [0i16; FRAME_SAMPLES];
        let mut ann_callee = [0i16; FRAME_SAMPLES];
        self.overlays.retain(|o| {
            if o.first_tick > n {
                return true;
            }
            let off = (n - o.first_tick) as usize * FRAME_SAMPLES;
            let Some(part) = o.pcm.get(off..) else {
                return false;
            };
            let part = &part[..part.len().min(FRAME_SAMPLES)];
            if o.to_caller {
                mix(&mut to_caller, part);
                if o.announcement {
                    mix(&mut ann_caller, part);
                }
            }
            if o.to_callee {
                mix(&mut to_callee, part);
                if o.announcement {
                    mix(&mut ann_callee, part);
                }
            }
            off + FRAME_SAMPLES < o.pcm.len()
        });
        // The recording streams.
        for tap in taps {
            // What each stream is fed from; on a deposit, the callee's stream carries
            // what the mailbox plays.
            let second = if tap.voicemail { to_caller } else { callee };
            let feed = |f: Feed| match f {
                Feed::Caller => caller,
                Feed::Callee => second,
            };
            let mut frames: Vec<Frame> = if tap.fork.senders.len() == 1 {
                vec![feed(feeds[0])]
            } else {
                vec![feed(feeds[0]), feed(feeds[1])]
            };
            if leak && !tap.voicemail {
                if let Some(f) = frames.get_mut(0) {
                    mix(f, &ann_callee);
                }
                if let Some(f) = frames.get_mut(1) {
                    mix(f, &ann_caller);
                }
            }
            let send = tap.forking && sends_rtp;
            tap.fork.send(&mut frames, rec_delay, send, ip, &mut cx.out);
        }
        // The parties.
        let mut out_a = callee;
        mix(&mut out_a, &to_caller);
        self.a.send(&out_a, ip, &mut cx.out);
        if callee_connected {
            let mut out_b = caller;
            mix(&mut out_b, &to_callee);
            self.b.send(&out_b, ip, &mut cx.out);
        }
    }
}

/// RTP in. See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Mixer {
    stray_rtp: u64,
}

impl Mixer {
    /// RTP datagrams that arrived on a port no call uses (ignored).
    pub(crate) fn stray_rtp(&self) -> u64 {
        self.stray_rtp
    }

    /// An RTP datagram for one of the pool's ports: audio goes to the leg's playout
    /// buffer, RFC 4733 events become digits, and the feature codes those complete
    /// while the call is connected are returned, in order, for the recording controller.
    pub(crate) fn on_rtp(
        &mut self,
        cx: &mut Shared,
        calls: &mut Calls,
        now: Time,
        d: &Datagram,
    ) -> Vec<FeatureCode> {
        let Some((id, side)) = cx.ports.owner(d.to.port()) else {
            self.stray_rtp += 1;
            return Vec::new();
        };
        let Some(c) = calls.get_mut(id) else {
            return Vec::new();
        };
        let leg = c.media.leg(side);
        if let Err(e) = leg.rx.handle_datagram(now.since_origin(), &d.bytes) {
            leg.malformed += 1;
            if leg.malformed <= MAX_MALFORMED_LOGGED {
                cx.obs.push_back(Observation {
                    t_us: now.as_micros(),
                    call: None,
                    actor: Actor::Platform,
                    event: Event::RtpMalformed {
                        stream: format!("platform.call{id}.{side:?}").to_lowercase(),
                        remote: d.from.to_string(),
                        reason: e.to_string(),
                        packet: Payload::from_bytes(&d.bytes),
                    },
                });
            }
            return Vec::new();
        }
        let mut digits = Vec::new();
        while let Some(ev) = leg.rx.poll_event() {
            let RtpEvent::Packet(p) = ev else { continue };
            if leg.te.is_some_and(|te| te == p.payload_type)
                || (leg.te.is_none() && p.payload_type == 101)
            {
                let _ = leg.dtmf.handle(p.ts, &p.payload);
                while let Some(e) = leg.dtmf.poll_event() {
                    if let Some(dg) = e.digit {
                        digits.push(dg);
                    }
                }
            } else if let Some(law) = Law::from_payload_type(p.payload_type) {
                let pcm = law.decode(&p.payload);
                leg.push_audio(&pcm);
            }
        }
        let mut codes = Vec::new();
        for dg in digits {
            if c.phase != Phase::Active {
                continue;
            }
            if let Some((code, action)) =
                c.media.feature_code(side, dg, &cx.cfg.policy.feature_codes)
            {
                codes.push(FeatureCode {
                    id,
                    side,
                    code,
                    action,
                });
            }
        }
        codes
    }
}
