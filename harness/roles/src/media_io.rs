//! RTP in and out for the simulated parties: what a party's phone sends, and what a
//! phone (or the recorder) hears, turned into observations.
//!
//! # What this module owns
//!
//! - [`MediaContext`]: the knowledge every harness role shares: the instrumented-signal
//!   [`Modem`] and the [`PartyRegistry`] (party id → name and media start). Frame `n` of a
//!   party is emitted at `media_start + n * 20 ms`; that schedule is how a receiver turns a
//!   decoded frame into a latency without any side channel.
//! - [`SendStream`]: one outgoing RTP stream: G.711 packetisation at 20 ms, drift-free
//!   pacing from `now` ([`media::rtp::Pacer`]), seeded SSRC, sequence and timestamp, RFC
//!   4733 DTMF by digit list, and a pluggable [`AudioSource`] (instrumented party signal,
//!   silence, a PCM buffer, a mix) with timed overlays ([`SendStream::mix_in`]).
//! - [`ListenStream`]: one incoming RTP port: RFC 3550 statistics, a small reorder buffer
//!   that places packets on a PCM timeline by RTP timestamp, and the media detectors
//!   (instrumented frames, tones, reference clips, DTMF, silence). It emits
//!   [`Event::RtpStream`] on the first packet, [`Event::MediaSegment`] spans,
//!   [`Event::ToneBurst`], [`Event::ClipMatch`], [`Event::Dtmf`], [`Event::Silence`] as it
//!   goes, and [`Event::PartyFrames`] and [`Event::RtpStats`] when it is finished. On
//!   request ([`ListenConfig::keep_pcm`]) it also keeps the decoded PCM timeline
//!   ([`ListenStream::take_pcm`]) so a recorder's audio can be written out.
//!
//! # Time
//!
//! Every observation time is µs on the run clock (the [`Time`] the node receives). A
//! sample position on a listen stream's timeline is converted with the arrival time of
//! the packet that carried it plus the sample's offset inside that packet ("played on
//! arrival", the same model as [`media::timeline::Timeline::arrival_at`]). So a frame's
//! latency is the one-way network delay of its packet, plus whatever a SUT added; a
//! sender's frame `n` counts as emitted when its packet leaves.
//!
//! # What it must not touch
//!
//! No sockets, clocks or threads: datagrams and `now` come in, datagrams and observations
//! go out. It does not judge: checks read the observations. It never panics on what
//! arrives: a datagram that is not RTP is counted and (the first few) logged as
//! [`Event::RtpMalformed`].

use bytes::Bytes;
use media::clip::{ClipConfig, ClipDetector, ClipError};
use media::dtmf::{DtmfReceiver, DtmfSender, digit_to_event};
use media::energy::{SilenceConfig, SilenceDetector};
use media::g711::Law;
use media::rtp::{CatchUp, Pacer, RtpEvent, RtpReceiver, RtpSender, Ssrc};
use media::signal::{
    DecoderConfig, FrameDecoder, FrameEvent, FrameTracker, Modem, PartyId, PartySource,
    SendSchedule, SignalConfig, SignalError,
};
use media::tone::{ToneConfig, ToneDetector};
use media::{FRAME_SAMPLES, SAMPLE_RATE};
use observe::{Actor, Direction, Event, LatencySummary, Observation, Payload, Source};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sim::{Datagram, Transport};
use sip::time::Time;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The packet interval recproof sends at.
pub const PTIME: Duration = Duration::from_millis(20);
/// µs per sample at 8 kHz.
const US_PER_SAMPLE: f64 = 1_000_000.0 / SAMPLE_RATE as f64;
/// Samples per packet.
const PACKET_SAMPLES: u32 = FRAME_SAMPLES as u32;
/// Default key-press length of a DTMF digit (RFC 4733 event duration).
pub const DTMF_TONE: Duration = Duration::from_millis(100);
/// Default pause between DTMF digits (audio is sent again in between).
pub const DTMF_GAP: Duration = Duration::from_millis(100);
/// Volume written in RFC 4733 events, -dBm0.
const DTMF_VOLUME: u8 = 10;
/// Party frames further apart than this (in frames) start a new [`Source::Party`] span.
pub const SEGMENT_MAX_FRAME_GAP: u64 = 25;
/// Malformed datagrams logged per listen stream before the rest are only counted.
const MAX_MALFORMED_LOGGED: u64 = 16;
/// A listen stream with pending audio flushes it after this much quiet (a paused sender).
const FLUSH_AFTER_QUIET: Duration = Duration::from_millis(200);
/// Position of the first packet on a listen timeline (room for early reordered packets).
const TIMELINE_ORIGIN: u64 = 16_000;
/// A timestamp jump beyond this (10 minutes) re-anchors the timeline instead of padding.
const MAX_TIMELINE_JUMP: u64 = 10 * 60 * SAMPLE_RATE as u64;
/// How far behind the flush point timing pieces are kept (for late detector reports).
const PIECE_HISTORY: u64 = 120 * SAMPLE_RATE as u64;

/// A configuration error of the harness itself (never peer input).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The instrumented-signal configuration cannot be used.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// A reference clip cannot be searched for.
    #[error("reference clip `{name}`: {source}")]
    Clip {
        /// Clip name.
        name: String,
        /// Why.
        source: ClipError,
    },
}

/// Who sends which instrumented frames, and since when: shared by every harness role so
/// any receiver can compute per-frame latency from the sender's deterministic schedule.
///
/// A cloneable handle; clones see the same entries. Senders register a party when they
/// emit its frame 0 ([`SendStream`] does so by itself).
#[derive(Debug, Clone, Default)]
pub struct PartyRegistry(Arc<Mutex<BTreeMap<PartyId, PartyEntry>>>);

/// One registered party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyEntry {
    /// Party name used in observations (`caller`, `callee`, `A`...).
    pub name: String,
    /// When its frame 0 was emitted.
    pub media_start: Time,
}

impl PartyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<PartyId, PartyEntry>> {
        // A poisoned lock only means another role panicked; the map is still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records (or replaces) a party's name and the emission time of its frame 0.
    pub fn register(&self, party: PartyId, name: &str, media_start: Time) {
        self.lock().insert(
            party,
            PartyEntry {
                name: name.to_owned(),
                media_start,
            },
        );
    }

    /// The entry of a party, if registered.
    pub fn get(&self, party: PartyId) -> Option<PartyEntry> {
        self.lock().get(&party).cloned()
    }

    /// When frame `frame` of `party` was emitted, if the party is registered.
    pub fn emission_time(&self, party: PartyId, frame: u64) -> Option<Time> {
        let start = self.get(party)?.media_start;
        start.checked_add(PTIME.checked_mul(u32::try_from(frame).ok()?)?)
    }
}

/// The shared media knowledge of a run: the instrumented-signal modem and the party
/// registry. Build one per run and hand clones to every role.
#[derive(Debug, Clone)]
pub struct MediaContext {
    /// The modulation every party's signal uses.
    pub modem: Arc<Modem>,
    /// Who sends what since when.
    pub registry: PartyRegistry,
}

impl MediaContext {
    /// A context for the given signal configuration.
    pub fn new(signal: &SignalConfig) -> Result<Self, MediaError> {
        Ok(Self {
            modem: Arc::new(Modem::new(signal)?),
            registry: PartyRegistry::new(),
        })
    }

    /// A context with the default signal configuration (protected tone bands at 400-500,
    /// 1000, 1400 and 2100 Hz).
    pub fn with_default_signal() -> Result<Self, MediaError> {
        Self::new(&SignalConfig::default())
    }
}

/// What a [`SendStream`] plays. Every variant advances one 20 ms frame per packet slot,
/// whether or not the packet is sent, so party frame numbers stay on schedule through
/// holds and DTMF.
#[derive(Debug, Clone)]
pub enum AudioSource {
    /// Digital silence.
    Silence,
    /// An instrumented party signal.
    Party {
        /// The frame generator (its counter should start at 0).
        source: PartySource,
        /// Name registered for the party (`caller`...).
        name: String,
    },
    /// A PCM buffer (8 kHz), played once or looped; silence after its end.
    Pcm {
        /// The samples.
        samples: Arc<[i16]>,
        /// Next sample to play.
        pos: usize,
        /// Start over at the end.
        looped: bool,
    },
    /// The sum of several sources (saturating).
    Mix(Vec<AudioSource>),
}

impl AudioSource {
    /// An instrumented party signal from frame 0.
    pub fn party(ctx: &MediaContext, party: PartyId, name: &str) -> Self {
        Self::Party {
            source: PartySource::new(ctx.modem.clone(), party),
            name: name.to_owned(),
        }
    }

    /// A PCM buffer.
    pub fn pcm(samples: impl Into<Arc<[i16]>>, looped: bool) -> Self {
        Self::Pcm {
            samples: samples.into(),
            pos: 0,
            looped,
        }
    }

    /// Adds the next frame into `out`; pushes `(party, counter, name)` for party frames.
    fn mix_next(&mut self, out: &mut [i16], drawn: &mut Vec<(PartyId, u64, String)>) {
        match self {
            Self::Silence => {}
            Self::Party { source, name } => {
                let (n, frame) = source.next_frame();
                add_into(out, &frame);
                drawn.push((source.party(), n, name.clone()));
            }
            Self::Pcm {
                samples,
                pos,
                looped,
            } => {
                for o in out.iter_mut() {
                    if *pos >= samples.len() && *looped && !samples.is_empty() {
                        *pos = 0;
                    }
                    if let Some(s) = samples.get(*pos) {
                        *o = o.saturating_add(*s);
                        *pos += 1;
                    }
                }
            }
            Self::Mix(parts) => {
                for p in parts {
                    p.mix_next(out, drawn);
                }
            }
        }
    }
}

fn add_into(out: &mut [i16], src: &[i16]) {
    for (o, s) in out.iter_mut().zip(src) {
        *o = o.saturating_add(*s);
    }
}

/// Settings of a [`SendStream`].
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Name for the [`Event::RtpStream`] observation (`caller.sent`, `src.1`...).
    pub stream: String,
    /// Who observes (the owning role).
    pub actor: Actor,
    /// Harness call label for observations.
    pub call: Option<String>,
    /// Our RTP address (source of the datagrams).
    pub local: SocketAddr,
    /// G.711 law.
    pub law: Law,
    /// RFC 4733 telephone-event payload type, when negotiated.
    pub telephone_event: Option<u8>,
    /// Seed of SSRC, first sequence number and first timestamp.
    pub seed: u64,
}

enum DtmfPhase {
    Idle,
    Tone(DtmfSender),
    Gap(u32),
}

/// One outgoing RTP stream, paced at 20 ms from the time it is started.
///
/// Drive it like any sans-IO core: [`start`](Self::start), then on every
/// [`poll_timeout`](Self::poll_timeout) call [`handle_timeout`](Self::handle_timeout) and
/// drain [`poll_transmit`](Self::poll_transmit) and
/// [`poll_observation`](Self::poll_observation).
pub struct SendStream {
    cfg: SendConfig,
    registry: PartyRegistry,
    rtp: RtpSender,
    law: Law,
    remote: Option<SocketAddr>,
    pacer: Option<(Time, Pacer)>,
    source: AudioSource,
    overlays: Vec<(Time, Arc<[i16]>)>,
    digits: VecDeque<char>,
    dtmf: DtmfPhase,
    announced: bool,
    sent: u64,
    out: VecDeque<Datagram>,
    obs: VecDeque<Observation>,
}

impl std::fmt::Debug for SendStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendStream")
            .field("stream", &self.cfg.stream)
            .field("remote", &self.remote)
            .field("sent", &self.sent)
            .finish()
    }
}

impl SendStream {
    /// A stream that sends nothing until started; SSRC, sequence and timestamp are drawn
    /// from `cfg.seed`.
    pub fn new(cfg: SendConfig, source: AudioSource, ctx: &MediaContext) -> Self {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let ssrc = Ssrc(rng.random());
        let rtp = RtpSender::new(
            ssrc,
            cfg.law.payload_type(),
            rng.random(),
            rng.random::<u32>() & 0x7FFF_FFFF,
        );
        Self {
            law: cfg.law,
            cfg,
            registry: ctx.registry.clone(),
            rtp,
            remote: None,
            pacer: None,
            source,
            overlays: Vec::new(),
            digits: VecDeque::new(),
            dtmf: DtmfPhase::Idle,
            announced: false,
            sent: 0,
            out: VecDeque::new(),
            obs: VecDeque::new(),
        }
    }

    /// Starts the 20 ms schedule: frame 0 is emitted at `now`. A second call does nothing.
    pub fn start(&mut self, now: Time) {
        if self.pacer.is_none() {
            self.pacer = Some((now, Pacer::new(Duration::ZERO, PTIME, CatchUp::Burst)));
        }
    }

    /// When frame 0 was emitted, once started.
    pub fn media_start(&self) -> Option<Time> {
        self.pacer.as_ref().map(|(t, _)| *t)
    }

    /// Where packets go; `None` keeps the schedule running without sending (hold,
    /// inactive, `c=0.0.0.0`): frames are skipped, so the receiver sees the gap.
    pub fn set_remote(&mut self, remote: Option<SocketAddr>) {
        self.remote = remote;
    }

    /// The current destination.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Changes the codec (after a new offer/answer).
    pub fn set_law(&mut self, law: Law) {
        self.law = law;
    }

    /// Changes the telephone-event payload type (after a new offer/answer).
    pub fn set_telephone_event(&mut self, pt: Option<u8>) {
        self.cfg.telephone_event = pt;
    }

    /// Replaces the audio source from the next frame on.
    pub fn set_source(&mut self, source: AudioSource) {
        self.source = source;
    }

    /// Mixes `pcm` into the outgoing audio with its first sample at run time `start`
    /// (sample-accurate), e.g. a tone or an announcement over a party's signal.
    pub fn mix_in(&mut self, start: Time, pcm: impl Into<Arc<[i16]>>) {
        self.overlays.push((start, pcm.into()));
    }

    /// Queues DTMF digits (`0-9*#A-D`; others are ignored) sent as RFC 4733 events of
    /// [`DTMF_TONE`] with [`DTMF_GAP`] between them. Returns how many were queued; none
    /// are when no telephone-event payload type was negotiated.
    pub fn send_dtmf(&mut self, digits: &str) -> usize {
        if self.cfg.telephone_event.is_none() {
            return 0;
        }
        let before = self.digits.len();
        self.digits
            .extend(digits.chars().filter(|c| digit_to_event(*c).is_some()));
        self.digits.len() - before
    }

    /// Stops the schedule; nothing more is sent.
    pub fn stop(&mut self) {
        self.pacer = None;
        self.digits.clear();
        self.dtmf = DtmfPhase::Idle;
    }

    /// Packets sent so far.
    pub fn packets_sent(&self) -> u64 {
        self.sent
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.pacer
            .as_ref()
            .map(|(start, p)| *start + p.poll_timeout())
    }

    /// Sends every frame due at `now`. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Time) {
        let Some((start, pacer)) = self.pacer.as_mut() else {
            return;
        };
        let start = *start;
        let due = pacer.handle_timeout(now.saturating_duration_since(start));
        for n in due {
            let at = start + pacer_deadline(n);
            self.frame(now, at);
        }
    }

    fn frame(&mut self, now: Time, at: Time) {
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut drawn = Vec::new();
        self.source.mix_next(&mut pcm, &mut drawn);
        for (party, counter, name) in drawn {
            if counter == 0 {
                self.registry.register(party, &name, at);
            }
        }
        self.apply_overlays(at, &mut pcm);
        let Some(remote) = self.remote else {
            self.rtp.skip(PACKET_SAMPLES);
            return;
        };
        if let Some(bytes) = self.dtmf_slot(now) {
            self.push(now, remote, bytes);
            self.rtp.advance(PACKET_SAMPLES);
            return;
        }
        let payload = self.law.encode(&pcm);
        let pt = self.law.payload_type();
        let ts = self.rtp.next_ts() as u32;
        // Packetize with the current law's payload type (RtpSender fixes one PT; use the
        // explicit form so a codec change after re-negotiation takes effect).
        let marker = self.sent == 0;
        match self.rtp.packet_with(pt, ts, marker, &payload) {
            Ok(bytes) => {
                self.rtp.advance(PACKET_SAMPLES);
                self.push(now, remote, bytes);
            }
            Err(_) => self.rtp.skip(PACKET_SAMPLES),
        }
    }

    /// The DTMF packet for this slot, if a key press is in progress or starts now.
    fn dtmf_slot(&mut self, now: Time) -> Option<Bytes> {
        let te = self.cfg.telephone_event?;
        loop {
            match &mut self.dtmf {
                DtmfPhase::Idle => {
                    let digit = self.digits.pop_front()?;
                    let event = digit_to_event(digit)?;
                    let duration = duration_samples(DTMF_TONE);
                    let ts = self.rtp.next_ts() as u32;
                    self.dtmf = DtmfPhase::Tone(DtmfSender::new(
                        event,
                        DTMF_VOLUME,
                        duration,
                        ts,
                        PACKET_SAMPLES,
                    ));
                    self.obs.push_back(Observation {
                        t_us: now.as_micros(),
                        call: self.cfg.call.clone(),
                        actor: self.cfg.actor,
                        event: Event::Dtmf {
                            stream: self.cfg.stream.clone(),
                            digit,
                            direction: Direction::Sent,
                            duration_us: DTMF_TONE.as_micros() as u64,
                        },
                    });
                }
                DtmfPhase::Tone(sender) => {
                    if let Some(p) = sender.next_packet() {
                        return self
                            .rtp
                            .packet_with(te, p.ts, p.marker, &p.event.to_bytes())
                            .ok();
                    }
                    self.dtmf = DtmfPhase::Gap(duration_samples(DTMF_GAP) / PACKET_SAMPLES);
                }
                DtmfPhase::Gap(left) => {
                    if *left == 0 {
                        self.dtmf = DtmfPhase::Idle;
                        continue;
                    }
                    *left -= 1;
                    return None;
                }
            }
        }
    }

    fn apply_overlays(&mut self, at: Time, pcm: &mut [i16]) {
        let frame_us = at.as_micros() as i128;
        self.overlays.retain(|(start, samples)| {
            let offset = (frame_us - start.as_micros() as i128) as f64 / US_PER_SAMPLE;
            let first = offset.round() as i128;
            for (i, o) in pcm.iter_mut().enumerate() {
                let k = first + i as i128;
                if k >= 0
                    && let Some(s) = usize::try_from(k).ok().and_then(|k| samples.get(k))
                {
                    *o = o.saturating_add(*s);
                }
            }
            first + (FRAME_SAMPLES as i128) < samples.len() as i128
        });
    }

    fn push(&mut self, now: Time, remote: SocketAddr, bytes: Bytes) {
        if !self.announced {
            self.announced = true;
            self.obs.push_back(Observation {
                t_us: now.as_micros(),
                call: self.cfg.call.clone(),
                actor: self.cfg.actor,
                event: Event::RtpStream {
                    stream: self.cfg.stream.clone(),
                    direction: Direction::Sent,
                    local: self.cfg.local.to_string(),
                    remote: remote.to_string(),
                    ssrc: self.rtp.ssrc().0,
                    payload_type: self.law.payload_type(),
                },
            });
        }
        self.sent += 1;
        self.out.push_back(Datagram {
            from: self.cfg.local,
            to: remote,
            transport: Transport::Udp,
            bytes,
        });
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    /// Next observation.
    pub fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }
}

fn pacer_deadline(n: u64) -> Duration {
    Duration::from_micros(n.saturating_mul(PTIME.as_micros() as u64))
}

fn duration_samples(d: Duration) -> u32 {
    u32::try_from(d.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000).unwrap_or(u32::MAX)
}

/// A known audio clip to look for on a received stream (an announcement).
#[derive(Debug, Clone)]
pub struct ReferenceClip {
    /// Name used in observations.
    pub name: String,
    /// The clip, 8 kHz PCM.
    pub pcm: Arc<[i16]>,
}

/// What a [`ListenStream`] looks for besides party frames (always decoded).
#[derive(Debug, Clone, Default)]
pub struct Detectors {
    /// Tone frequencies to report, Hz.
    pub tones_hz: Vec<f64>,
    /// Reference clips (announcements).
    pub clips: Vec<ReferenceClip>,
    /// Silence detection; `None` leaves it off.
    pub silence: Option<SilenceConfig>,
}

/// Settings of a [`ListenStream`].
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Stream name (`caller.heard`, `callee.heard`, `srs.<label>`).
    pub stream: String,
    /// Who observes.
    pub actor: Actor,
    /// Harness call label for observations.
    pub call: Option<String>,
    /// Our RTP address.
    pub local: SocketAddr,
    /// Payload type of RFC 4733 events; other dynamic types are ignored.
    pub telephone_event: Option<u8>,
    /// What to detect.
    pub detectors: Detectors,
    /// Reorder window: audio is handed to the detectors once a newer packet is this many
    /// samples ahead (default 480, 60 ms).
    pub reorder_samples: u64,
    /// Keep the decoded PCM timeline (gaps as digital silence) for
    /// [`ListenStream::take_pcm`], e.g. to write one WAV per recorded stream. Off by
    /// default: 16 kB per second of audio.
    pub keep_pcm: bool,
}

/// The decoded audio of a [`ListenStream`], as placed on its timeline: what a recorder
/// would have written to its file (gaps where no RTP came are digital silence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedPcm {
    /// Run time (µs) at which the first sample arrived.
    pub start_us: u64,
    /// 8 kHz mono samples.
    pub samples: Vec<i16>,
    /// True when audio beyond [`MAX_KEPT_SAMPLES`] was dropped (a peer's timestamps can
    /// ask for huge gaps; memory stays bounded).
    pub truncated: bool,
}

/// Most samples a listen stream keeps for [`ListenStream::take_pcm`] between two takes:
/// two hours at 8 kHz (about 115 MB).
pub const MAX_KEPT_SAMPLES: usize = 2 * 3600 * SAMPLE_RATE as usize;

/// The PCM being kept by a listen stream: timeline position of `samples[0]`.
#[derive(Debug, Default)]
struct KeptPcm {
    origin: Option<u64>,
    pcm: RecordedPcm,
}

impl ListenConfig {
    /// Defaults for a stream name, observer and local address.
    pub fn new(stream: &str, actor: Actor, call: Option<String>, local: SocketAddr) -> Self {
        Self {
            stream: stream.to_owned(),
            actor,
            call,
            local,
            telephone_event: Some(101),
            detectors: Detectors::default(),
            reorder_samples: 3 * u64::from(PACKET_SAMPLES),
            keep_pcm: false,
        }
    }
}

struct Pending {
    pcm: Vec<i16>,
    arrival_us: u64,
}

struct PartySpan {
    party: PartyId,
    name: String,
    first_frame: u64,
    last_frame: u64,
    frames: u64,
    start_us: u64,
    end_us: u64,
    latencies_us: Vec<u64>,
}

struct Clip {
    name: String,
    len: usize,
    detector: ClipDetector,
}

/// One incoming RTP port and everything recproof detects in it. See the module docs.
pub struct ListenStream {
    cfg: ListenConfig,
    registry: PartyRegistry,
    rx: RtpReceiver,
    decoder: FrameDecoder,
    trackers: BTreeMap<PartyId, FrameTracker>,
    tones: Option<ToneDetector>,
    clips: Vec<Clip>,
    silence: Option<SilenceDetector>,
    dtmf: DtmfReceiver,
    anchors: HashMap<Ssrc, i64>,
    pending: BTreeMap<u64, Pending>,
    flushed: Option<u64>,
    newest: Option<(u64, Time)>,
    pieces: BTreeMap<u64, (u64, u64)>,
    span: Option<PartySpan>,
    first_remote: Option<SocketAddr>,
    malformed: u64,
    late: u64,
    finished: bool,
    kept: Option<KeptPcm>,
    obs: VecDeque<Observation>,
}

impl std::fmt::Debug for ListenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenStream")
            .field("stream", &self.cfg.stream)
            .field("flushed", &self.flushed)
            .field("finished", &self.finished)
            .finish()
    }
}

impl ListenStream {
    /// A listener with the configured detectors. Fails only on a harness configuration
    /// error (a reference clip too short or silent).
    pub fn new(cfg: ListenConfig, ctx: &MediaContext) -> Result<Self, MediaError> {
        // Each stream's clip detectors are phased by a hash of the stream (what is found
        // does not change): the streams of one call start together, and unphased their
        // large block FFTs would fall on the same packet and stall the host together.
        let phase = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&cfg.stream, &cfg.call, cfg.local).hash(&mut h);
            (h.finish() % 10_000) as f64 / 10_000.0
        };
        let clips = cfg
            .detectors
            .clips
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ClipDetector::new(&c.pcm, ClipConfig::default())
                    .map(|mut detector| {
                        detector.set_phase((phase + i as f64 * 0.37) % 1.0);
                        detector
                    })
                    .map(|detector| Clip {
                        name: c.name.clone(),
                        len: c.pcm.len(),
                        detector,
                    })
                    .map_err(|source| MediaError::Clip {
                        name: c.name.clone(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tones = (!cfg.detectors.tones_hz.is_empty())
            .then(|| ToneDetector::new(ToneConfig::for_freqs(&cfg.detectors.tones_hz)));
        let silence = cfg.detectors.silence.clone().map(SilenceDetector::new);
        Ok(Self {
            registry: ctx.registry.clone(),
            rx: RtpReceiver::new(SAMPLE_RATE),
            decoder: FrameDecoder::new(ctx.modem.clone(), DecoderConfig::default()),
            trackers: BTreeMap::new(),
            tones,
            clips,
            silence,
            dtmf: DtmfReceiver::new(),
            anchors: HashMap::new(),
            pending: BTreeMap::new(),
            flushed: None,
            newest: None,
            pieces: BTreeMap::new(),
            span: None,
            first_remote: None,
            malformed: 0,
            late: 0,
            finished: false,
            kept: cfg.keep_pcm.then(KeptPcm::default),
            obs: VecDeque::new(),
            cfg,
        })
    }

    /// The stream name.
    pub fn name(&self) -> &str {
        &self.cfg.stream
    }

    /// Whether any packet arrived yet.
    pub fn is_started(&self) -> bool {
        self.first_remote.is_some()
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sets the telephone-event payload type (after offer/answer).
    pub fn set_telephone_event(&mut self, pt: Option<u8>) {
        self.cfg.telephone_event = pt;
    }

    /// The PCM kept so far (when [`ListenConfig::keep_pcm`] is on), emptied: audio that
    /// is still in the reorder window comes with a later call (all of it after
    /// [`finish`](Self::finish)). `None` when keeping is off or nothing was kept.
    pub fn take_pcm(&mut self) -> Option<RecordedPcm> {
        let kept = self.kept.as_mut()?;
        kept.origin?;
        kept.origin = None;
        Some(std::mem::take(&mut kept.pcm))
    }

    /// Audio packets that arrived after their place was already handed to the detectors.
    pub fn late_packets(&self) -> u64 {
        self.late
    }

    /// One datagram arrived on our RTP address. Never panics; ignored once finished.
    pub fn handle_datagram(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        if self.finished {
            return;
        }
        if let Err(e) = self.rx.handle_datagram(now.since_origin(), bytes) {
            self.malformed += 1;
            if self.malformed <= MAX_MALFORMED_LOGGED {
                self.note(
                    now,
                    Event::RtpMalformed {
                        stream: self.cfg.stream.clone(),
                        remote: from.to_string(),
                        reason: e.to_string(),
                        packet: Payload::from_bytes(bytes),
                    },
                );
            }
            return;
        }
        while let Some(ev) = self.rx.poll_event() {
            match ev {
                RtpEvent::Packet(p) => {
                    if self.first_remote.is_none() {
                        self.first_remote = Some(from);
                        self.note(
                            now,
                            Event::RtpStream {
                                stream: self.cfg.stream.clone(),
                                direction: Direction::Received,
                                local: self.cfg.local.to_string(),
                                remote: from.to_string(),
                                ssrc: p.ssrc.0,
                                payload_type: p.payload_type,
                            },
                        );
                    }
                    if Some(p.payload_type) == self.cfg.telephone_event {
                        let _ = self.dtmf.handle(p.ts, &p.payload);
                        self.drain_dtmf(now);
                    } else if let Some(law) = Law::from_payload_type(p.payload_type) {
                        let pcm = law.decode(&p.payload);
                        self.place(now, p.ssrc, p.ts, pcm);
                    }
                }
                RtpEvent::Restarted { ssrc, .. } => {
                    self.anchors.remove(&ssrc);
                }
                _ => {}
            }
        }
        self.flush(now, false);
    }

    /// Flushes audio held back by the reorder window once the sender went quiet.
    pub fn handle_timeout(&mut self, now: Time) {
        if let Some(at) = self.poll_timeout()
            && now >= at
        {
            self.flush(now, true);
        }
    }

    /// When held-back audio should be flushed.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.pending.is_empty() || self.finished {
            return None;
        }
        self.newest.map(|(_, t)| t + FLUSH_AFTER_QUIET)
    }

    /// End of stream: flushes everything, closes open spans, and writes
    /// [`Event::PartyFrames`] per party and [`Event::RtpStats`]. Idempotent.
    pub fn finish(&mut self, now: Time) {
        if self.finished {
            return;
        }
        self.flush(now, true);
        self.decoder.finish();
        if let Some(t) = self.tones.as_mut() {
            t.finish();
        }
        for c in &mut self.clips {
            c.detector.finish();
        }
        if let Some(s) = self.silence.as_mut() {
            s.finish();
        }
        self.dtmf.finish();
        self.drain_detectors(now);
        self.drain_dtmf(now);
        self.close_span(now);
        let reports: Vec<_> = self
            .trackers
            .values()
            .flat_map(FrameTracker::report)
            .collect();
        for r in reports {
            let name = self
                .registry
                .get(r.party)
                .map_or_else(|| format!("party-{}", r.party.0), |e| e.name);
            let latency = r.latency.map(|l| LatencySummary {
                min_us: ms_to_us(l.min_ms),
                p50_us: ms_to_us(l.p50_ms),
                p95_us: ms_to_us(l.p95_ms),
                max_us: ms_to_us(l.max_ms),
            });
            self.note(
                now,
                Event::PartyFrames {
                    stream: self.cfg.stream.clone(),
                    party: name,
                    party_id: r.party.0,
                    frames: r.frames,
                    first_frame: r.first_frame,
                    last_frame: r.last_frame,
                    lost: r.lost,
                    duplicates: r.duplicates,
                    reordered: r.reordered,
                    front_clip_ms: r.front_clip_ms,
                    latency,
                },
            );
        }
        if self.first_remote.is_some() {
            let stats = self.rx.stats();
            let packets = stats.iter().map(|s| s.received).sum();
            let lost = stats.iter().map(|s| s.lost).sum();
            let duplicates = stats.iter().map(|s| s.duplicates).sum();
            let reordered = stats.iter().map(|s| s.reordered).sum();
            let jitter_ms = stats.iter().map(|s| s.jitter_ms).fold(0.0, f64::max);
            self.note(
                now,
                Event::RtpStats {
                    stream: self.cfg.stream.clone(),
                    packets,
                    lost,
                    duplicates,
                    reordered,
                    jitter_ms,
                    ssrc_changes: self.rx.ssrc_changes(),
                },
            );
        }
        self.finished = true;
    }

    /// Next observation.
    pub fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }

    fn note(&mut self, now: Time, event: Event) {
        self.obs.push_back(Observation {
            t_us: now.as_micros(),
            call: self.cfg.call.clone(),
            actor: self.cfg.actor,
            event,
        });
    }

    /// Puts one audio packet on the timeline (by RTP timestamp, anchored per SSRC).
    fn place(&mut self, now: Time, ssrc: Ssrc, ts: u64, pcm: Vec<i16>) {
        if pcm.is_empty() {
            return;
        }
        let predicted = self.predicted_position(now);
        let offset = *self
            .anchors
            .entry(ssrc)
            .or_insert_with(|| predicted as i64 - ts as i64);
        let mut pos = ts as i64 + offset;
        let newest_end = self.newest.map_or(0, |(e, _)| e);
        if pos < 0 || pos as u64 > newest_end.saturating_add(MAX_TIMELINE_JUMP) {
            // Unusable timestamp jump: re-anchor this SSRC on the arrival clock.
            let offset = predicted as i64 - ts as i64;
            self.anchors.insert(ssrc, offset);
            pos = predicted as i64;
        }
        let pos = pos as u64;
        if self.flushed.is_some_and(|f| pos < f) {
            self.late += 1;
            return;
        }
        let end = pos + pcm.len() as u64;
        if self.newest.is_none_or(|(e, _)| end > e) {
            self.newest = Some((end, now));
        }
        self.pending.entry(pos).or_insert(Pending {
            pcm,
            arrival_us: now.as_micros(),
        });
    }

    /// Where a packet from a new SSRC starts: right after the newest audio, shifted by the
    /// quiet time since it arrived beyond one packet.
    fn predicted_position(&self, now: Time) -> u64 {
        match self.newest {
            None => TIMELINE_ORIGIN,
            Some((end, at)) => {
                let quiet = now.saturating_duration_since(at).as_micros() as f64 / US_PER_SAMPLE;
                let extra = (quiet - f64::from(PACKET_SAMPLES)).max(0.0).round() as u64;
                (end + extra).max(self.flushed.unwrap_or(0))
            }
        }
    }

    /// Hands audio older than the reorder window (or all of it) to the detectors.
    fn flush(&mut self, now: Time, all: bool) {
        let limit = self
            .newest
            .map_or(0, |(e, _)| e.saturating_sub(self.cfg.reorder_samples));
        while let Some(entry) = self.pending.first_entry() {
            let pos = *entry.key();
            let len = entry.get().pcm.len() as u64;
            if !all && pos + len > limit {
                break;
            }
            let p = entry.remove();
            self.feed(pos, &p.pcm, p.arrival_us);
        }
        self.drain_detectors(now);
    }

    fn feed(&mut self, pos: u64, pcm: &[i16], arrival_us: u64) {
        // Trim what overlaps audio already handed on; the rest starts later in the packet.
        let skip = self.flushed.map_or(0, |f| f.saturating_sub(pos));
        let Some(pcm) = usize::try_from(skip).ok().and_then(|s| pcm.get(s..)) else {
            return;
        };
        if pcm.is_empty() {
            return;
        }
        let pos = pos + skip;
        let arrival = arrival_us + (skip as f64 * US_PER_SAMPLE) as u64;
        self.pieces.insert(pos, (pcm.len() as u64, arrival));
        self.decoder.push(pos, pcm);
        if let Some(t) = self.tones.as_mut() {
            t.push(pos, pcm);
        }
        for c in &mut self.clips {
            c.detector.push(pos, pcm);
        }
        if let Some(s) = self.silence.as_mut() {
            s.push(pos, pcm);
        }
        if let Some(k) = self.kept.as_mut() {
            let origin = *k.origin.get_or_insert_with(|| {
                k.pcm.start_us = arrival;
                pos
            });
            // Positions only grow (overlaps were trimmed above); a gap becomes silence.
            let at = usize::try_from(pos.saturating_sub(origin)).unwrap_or(usize::MAX);
            if at.saturating_add(pcm.len()) > MAX_KEPT_SAMPLES {
                k.pcm.truncated = true;
            } else {
                if at > k.pcm.samples.len() {
                    k.pcm.samples.resize(at, 0);
                }
                k.pcm.samples.extend_from_slice(pcm);
            }
        }
        let end = pos + pcm.len() as u64;
        self.flushed = Some(end);
        let keep_from = end.saturating_sub(PIECE_HISTORY);
        while self.pieces.len() > 1 {
            match self.pieces.first_entry() {
                Some(entry) if *entry.key() < keep_from => {
                    entry.remove();
                }
                _ => break,
            }
        }
    }

    /// Run time (µs) of a timeline position: arrival of the carrying packet plus the
    /// offset inside it.
    fn time_of(&self, pos: f64) -> u64 {
        let key = (pos + 0.5).max(0.0) as u64;
        let piece = self
            .pieces
            .range(..=key)
            .next_back()
            .or_else(|| self.pieces.first_key_value());
        match piece {
            Some((&start, &(_, arrival))) => {
                let us = arrival as f64 + (pos - start as f64) * US_PER_SAMPLE;
                us.max(0.0).round() as u64
            }
            None => 0,
        }
    }

    fn drain_detectors(&mut self, now: Time) {
        while let Some(ev) = self.decoder.poll_event() {
            self.on_frame(now, &ev);
        }
        let mut tone_events = Vec::new();
        if let Some(t) = self.tones.as_mut() {
            while let Some(ev) = t.poll_event() {
                tone_events.push(ev);
            }
        }
        for ev in tone_events {
            let start_us = self.time_of(ev.start);
            let end_us = self.time_of(ev.end);
            self.note(
                now,
                Event::ToneBurst {
                    stream: self.cfg.stream.clone(),
                    freq_hz: ev.freq_hz,
                    start_us,
                    end_us,
                },
            );
            self.note(
                now,
                Event::MediaSegment {
                    stream: self.cfg.stream.clone(),
                    source: Source::Tone {
                        freq_hz: ev.freq_hz,
                    },
                    start_us,
                    end_us,
                    frames: ((ev.end - ev.start).max(0.0) / FRAME_SAMPLES as f64).round() as u64,
                    latency: None,
                },
            );
        }
        let mut clip_events = Vec::new();
        for c in &mut self.clips {
            while let Some(m) = c.detector.poll_event() {
                clip_events.push((c.name.clone(), c.len, m));
            }
        }
        for (name, len, m) in clip_events {
            let start_us = self.time_of(m.start);
            let end_us = self.time_of(m.start + len as f64);
            self.note(
                now,
                Event::ClipMatch {
                    stream: self.cfg.stream.clone(),
                    clip: name.clone(),
                    start_us,
                    end_us,
                    score: m.score,
                },
            );
            self.note(
                now,
                Event::MediaSegment {
                    stream: self.cfg.stream.clone(),
                    source: Source::Announcement { clip: name },
                    start_us,
                    end_us,
                    frames: (len / FRAME_SAMPLES) as u64,
                    latency: None,
                },
            );
        }
        let mut quiet = Vec::new();
        if let Some(s) = self.silence.as_mut() {
            while let Some(ev) = s.poll_event() {
                quiet.push(ev);
            }
        }
        for q in quiet {
            let start_us = self.time_of(q.start as f64);
            let end_us = self.time_of(q.end as f64);
            self.note(
                now,
                Event::Silence {
                    stream: self.cfg.stream.clone(),
                    start_us,
                    end_us,
                },
            );
        }
    }

    fn drain_dtmf(&mut self, now: Time) {
        while let Some(ev) = self.dtmf.poll_event() {
            let Some(digit) = ev.digit else { continue };
            self.note(
                now,
                Event::Dtmf {
                    stream: self.cfg.stream.clone(),
                    digit,
                    direction: Direction::Received,
                    duration_us: (f64::from(ev.duration) * US_PER_SAMPLE).round() as u64,
                },
            );
        }
    }

    fn on_frame(&mut self, now: Time, ev: &FrameEvent) {
        let recv_us = self.time_of(ev.start);
        let entry = self.registry.get(ev.party);
        let tracker = self.trackers.entry(ev.party).or_insert_with(|| {
            let schedules: Vec<SendSchedule> = entry
                .iter()
                .map(|e| SendSchedule {
                    party: ev.party,
                    first_frame: 0,
                    first_start: e.media_start.as_micros() as f64 / US_PER_SAMPLE,
                })
                .collect();
            FrameTracker::new(&schedules)
        });
        tracker.record(ev, Some(recv_us as f64 / US_PER_SAMPLE));
        let latency_us = self
            .registry
            .emission_time(ev.party, ev.frame)
            .map(|sent| recv_us.saturating_sub(sent.as_micros()));
        let name = entry.map_or_else(|| format!("party-{}", ev.party.0), |e| e.name);
        let frame_end = recv_us + (FRAME_SAMPLES as f64 * US_PER_SAMPLE) as u64;
        if let Some(span) = self.span.as_mut() {
            let same = span.party == ev.party;
            if same && ev.frame <= span.last_frame {
                // A duplicate or a late frame: counted by the tracker, not a new span.
                return;
            }
            let continues = same && ev.frame - span.last_frame <= SEGMENT_MAX_FRAME_GAP;
            if continues {
                span.last_frame = ev.frame;
                span.frames += 1;
                span.end_us = span.end_us.max(frame_end);
                span.latencies_us.extend(latency_us);
                return;
            }
            self.close_span(now);
        }
        self.span = Some(PartySpan {
            party: ev.party,
            name,
            first_frame: ev.frame,
            last_frame: ev.frame,
            frames: 1,
            start_us: recv_us,
            end_us: frame_end,
            latencies_us: latency_us.into_iter().collect(),
        });
    }

    fn close_span(&mut self, now: Time) {
        let Some(mut span) = self.span.take() else {
            return;
        };
        span.latencies_us.sort_unstable();
        let latency = summarize(&span.latencies_us);
        self.note(
            now,
            Event::MediaSegment {
                stream: self.cfg.stream.clone(),
                source: Source::Party {
                    party: span.name,
                    first_frame: span.first_frame,
                    last_frame: span.last_frame,
                },
                start_us: span.start_us,
                end_us: span.end_us,
                frames: span.frames,
                latency,
            },
        );
    }
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).max(0.0).round() as u64
}

/// Summary of sorted latencies.
fn summarize(sorted: &[u64]) -> Option<LatencySummary> {
    let pick = |q: f64| {
        let i = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
        sorted.get(i).copied()
    };
    Some(LatencySummary {
        min_us: *sorted.first()?,
        p50_us: pick(0.5)?,
        p95_us: pick(0.95)?,
        max_us: *sorted.last()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MediaContext {
        MediaContext::with_default_signal().expect("default signal")
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn sender_paces_without_drift_and_registers_the_party() {
        let ctx = ctx();
        let cfg = SendConfig {
            stream: "a.sent".into(),
            actor: Actor::Caller,
            call: None,
            local: addr("10.0.0.1:4000"),
            law: Law::Ulaw,
            telephone_event: Some(101),
            seed: 1,
        };
        let mut s = SendStream::new(cfg, AudioSource::party(&ctx, PartyId(3), "a"), &ctx);
        s.set_remote(Some(addr("10.0.0.2:4000")));
        s.start(Time::from_millis(1000));
        let mut sent = Vec::new();
        while let Some(at) = s.poll_timeout().filter(|t| *t <= Time::from_secs(61)) {
            s.handle_timeout(at);
            while let Some(d) = s.poll_transmit() {
                sent.push((at, d));
            }
        }
        assert_eq!(sent.len(), 3001);
        assert_eq!(
            sent[3000].0,
            Time::from_secs(61),
            "frame 3000 exactly on time"
        );
        assert_eq!(
            ctx.registry.get(PartyId(3)).map(|e| e.media_start),
            Some(Time::from_millis(1000))
        );
        let p0 = media::rtp::parse(&sent[0].1.bytes).expect("rtp");
        let p1 = media::rtp::parse(&sent[1].1.bytes).expect("rtp");
        assert_eq!(p1.header.timestamp.wrapping_sub(p0.header.timestamp), 160);
        assert!(p0.header.marker && !p1.header.marker);
    }

    #[test]
    fn listener_measures_latency_from_the_schedule() {
        let ctx = ctx();
        let cfg = SendConfig {
            stream: "a.sent".into(),
            actor: Actor::Caller,
            call: None,
            local: addr("10.0.0.1:4000"),
            law: Law::Alaw,
            telephone_event: Some(101),
            seed: 2,
        };
        let mut s = SendStream::new(cfg, AudioSource::party(&ctx, PartyId(1), "a"), &ctx);
        s.set_remote(Some(addr("10.0.0.2:4000")));
        s.mix_in(Time::from_secs(2), media::synth::tone(1000.0, -20.0, 4000));
        s.start(Time::ZERO);
        let mut l = ListenStream::new(
            ListenConfig {
                detectors: Detectors {
                    tones_hz: vec![1000.0],
                    ..Detectors::default()
                },
                ..ListenConfig::new("b.heard", Actor::Callee, None, addr("10.0.0.2:4000"))
            },
            &ctx,
        )
        .expect("listener");
        s.send_dtmf("5");
        let delay = Duration::from_millis(30);
        while let Some(at) = s.poll_timeout().filter(|t| *t < Time::from_secs(5)) {
            s.handle_timeout(at);
            while let Some(d) = s.poll_transmit() {
                l.handle_datagram(at + delay, d.from, &d.bytes);
            }
        }
        l.finish(Time::from_secs(6));
        let obs: Vec<Event> = std::iter::from_fn(|| l.poll_observation())
            .map(|o| o.event)
            .collect();
        let seg = obs
            .iter()
            .find_map(|e| match e {
                Event::MediaSegment {
                    source: Source::Party { party, .. },
                    latency: Some(l),
                    ..
                } if party == "a" => Some(l.clone()),
                _ => None,
            })
            .expect("party span");
        assert!(
            seg.min_us >= 29_900 && seg.max_us <= 30_100,
            "latency {seg:?}"
        );
        let tone = obs
            .iter()
            .find_map(|e| match e {
                Event::ToneBurst {
                    start_us, end_us, ..
                } => Some((*start_us, *end_us)),
                _ => None,
            })
            .expect("tone");
        assert!(tone.0.abs_diff(2_030_000) < 3_000, "{tone:?}");
        assert!(tone.1.abs_diff(2_530_000) < 3_000, "{tone:?}");
        assert!(
            obs.iter()
                .any(|e| matches!(e, Event::Dtmf { digit: '5', .. }))
        );
    }
}
