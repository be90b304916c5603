//! RTP of a capture turned into what each party heard and what the recorder received.
//!
//! Owns: the map from RTP addresses to stream names that the legs' SDP builds
//! (`caller.heard` is RTP sent to the address the caller's SDP gave, `caller.sent` RTP
//! sent from it; `srs.<label>` is RTP sent to the recorder's address for the m-line the
//! SRC labelled `<label>`, `srs.s<n>.<label>` for the n-th session of a call reusing a
//! label, as the SRS emulator names them); one [`ListenStream`] per heard or recorded
//! stream (the same detectors recproof's own roles run: instrumented party frames, tones,
//! clips, DTMF); the DTMF the parties sent; and, for audio that turns out not to be
//! recproof's instrumented signal, where there was sound.
//!
//! Times are the capture's: a packet counts as heard when it was captured, so latency
//! and loss are as seen at the capture point, not at the phone.
//!
//! Must not touch: SIP (the `legs` module), judging.

use crate::legs::{LegKind, MediaAddr, MediaUpdate};
use media::dtmf::DtmfReceiver;
use media::g711::Law;
use media::signal::PartyId;
use observe::{Actor, CaptureAudio, Direction, Event, Observation, Source};
use roles::media_io::{Detectors, ListenConfig, ListenStream, MediaContext};
use sip::time::Time;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

/// Packets louder than this (RMS, dBFS) count as sound for uninstrumented audio: the
/// level below which recproof's silence detector calls a block silent.
pub(crate) const SOUND_DBFS: f64 = -50.0;
/// Loud packets closer than this (µs) belong to one sound span.
const SOUND_GAP_US: u64 = 300_000;

/// Where a packet goes. Cloned per packet, so the name is shared, not copied.
#[derive(Debug, Clone)]
struct Target {
    call: usize,
    stream: Arc<str>,
    actor: Actor,
    telephone_event: Option<u8>,
    encrypted: bool,
}

/// The media addresses the two sides of one leg declared, by m-line.
#[derive(Debug, Clone, Default)]
struct LegMedia {
    party: BTreeMap<usize, MediaAddr>,
    sut: BTreeMap<usize, SocketAddr>,
}

/// A sound span being built.
#[derive(Debug, Clone, Copy)]
struct Span {
    start_us: u64,
    end_us: u64,
    samples: u64,
}

/// What a party sent: only its stream's first packet and its key presses are read
/// (what it said is judged where it was heard).
struct Sent {
    call: usize,
    actor: Actor,
    stream: String,
    telephone_event: Option<u8>,
    dtmf: DtmfReceiver,
    last_ts: Option<u64>,
    started: bool,
    obs: Vec<Observation>,
}

struct Listened {
    listen: ListenStream,
    actor: Actor,
    last_us: u64,
    spans: Vec<Span>,
    first_remote: Option<SocketAddr>,
    /// Audio packets decoded (G.711).
    decoded: u64,
    /// Audio packets that could not be decoded, by why.
    undecoded: BTreeMap<String, u64>,
}

/// Every stream of a capture.
pub(crate) struct Streams {
    detectors: Detectors,
    base: MediaContext,
    contexts: BTreeMap<usize, MediaContext>,
    heard: HashMap<SocketAddr, Target>,
    /// Heard streams by (source, destination), once both sides of a leg are known.
    heard_from: HashMap<(SocketAddr, SocketAddr), Target>,
    /// Sent streams by (source, destination), likewise.
    sent_to: HashMap<(SocketAddr, SocketAddr), Target>,
    /// Media addresses each side of a leg declared, by (call, ordinal, kind).
    sides: HashMap<(usize, usize, LegKind), LegMedia>,
    sent: HashMap<SocketAddr, Target>,
    listened: BTreeMap<(usize, Arc<str>), Listened>,
    sent_streams: BTreeMap<(usize, Arc<str>), Sent>,
    /// Recording stream names given out, per call: (ordinal, m-line) -> name.
    names: BTreeMap<usize, BTreeMap<(usize, usize), String>>,
    /// RTP-looking datagrams to or from no known stream.
    pub(crate) unmatched: u64,
    /// Datagrams read into a stream.
    pub(crate) matched: u64,
}

/// Party ids recproof's phones use for their instrumented signal.
const PARTY_IDS: [(PartyId, &str); 2] = [(PartyId(1), "caller"), (PartyId(2), "callee")];

impl Streams {
    pub(crate) fn new(base: MediaContext, detectors: Detectors) -> Self {
        Self {
            detectors,
            base,
            contexts: BTreeMap::new(),
            heard: HashMap::new(),
            heard_from: HashMap::new(),
            sent_to: HashMap::new(),
            sides: HashMap::new(),
            sent: HashMap::new(),
            listened: BTreeMap::new(),
            sent_streams: BTreeMap::new(),
            names: BTreeMap::new(),
            unmatched: 0,
            matched: 0,
        }
    }

    /// What a leg's SDP said. RTP is tied to a stream by its destination, and, once both
    /// sides of a leg have said where they take media, by source and destination (so
    /// concurrent calls to one phone port, as SIPp's callee uses, stay apart).
    pub(crate) fn update(&mut self, u: &MediaUpdate) {
        let side = self.sides.entry((u.call, u.ordinal, u.kind)).or_default();
        for m in &u.addresses {
            if u.from_party {
                side.party.insert(m.index, *m);
            } else {
                side.sut.insert(m.index, m.addr);
            }
        }
        let side = side.clone();
        for (&index, m) in &side.party {
            let addr = m.addr;
            let (heard, sent) = match u.kind {
                LegKind::Caller => ("caller.heard".to_owned(), Some("caller.sent")),
                LegKind::Callee => ("callee.heard".to_owned(), Some("callee.sent")),
                LegKind::Recording => {
                    let label = u.labels.get(index).cloned().flatten();
                    (self.recording_name(u.call, u.ordinal, index, label), None)
                }
            };
            let target = |stream: &str| Target {
                call: u.call,
                stream: stream.into(),
                actor: u.kind.actor(),
                telephone_event: m.telephone_event,
                encrypted: m.encrypted,
            };
            self.heard.insert(addr, target(&heard));
            if let Some(sut) = side.sut.get(&index) {
                self.heard_from.insert((*sut, addr), target(&heard));
            }
            if let Some(sent) = sent {
                self.sent.insert(addr, target(sent));
                if let Some(sut) = side.sut.get(&index) {
                    self.sent_to.insert((addr, *sut), target(sent));
                }
            }
        }
    }

    /// The SRS emulator's naming: `srs.<label>` first, `srs.s<n>.<label>` when a later
    /// session of the call reuses the label.
    fn recording_name(
        &mut self,
        call: usize,
        ordinal: usize,
        index: usize,
        label: Option<String>,
    ) -> String {
        let names = self.names.entry(call).or_default();
        if let Some(n) = names.get(&(ordinal, index)) {
            return n.clone();
        }
        let suffix = label.unwrap_or_else(|| format!("m{index}"));
        let plain = format!("srs.{suffix}");
        let mut name = plain.clone();
        if names.values().any(|n| *n == plain) {
            name = format!("srs.s{ordinal}.{suffix}");
            let mut k = 1;
            while names.values().any(|n| *n == name) {
                k += 1;
                name = format!("srs.s{ordinal}.{suffix}.{k}");
            }
        }
        names.insert((ordinal, index), name.clone());
        name
    }

    /// One UDP datagram that is not SIP.
    pub(crate) fn datagram(
        &mut self,
        t_us: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        labels: &dyn Fn(usize) -> String,
    ) {
        let mut used = false;
        let heard = self
            .heard_from
            .get(&(src, dst))
            .or_else(|| self.heard.get(&dst))
            .cloned();
        if let Some(t) = heard {
            self.feed(t_us, src, dst, payload, &t, labels);
            used = true;
        }
        let sent = self
            .sent_to
            .get(&(src, dst))
            .or_else(|| self.sent.get(&src))
            .cloned();
        if let Some(t) = sent {
            self.feed_sent(t_us, src, dst, payload, &t, labels);
            used = true;
        }
        if used {
            self.matched += 1;
        } else {
            self.unmatched += 1;
        }
    }

    /// A packet a party sent: registers the party's media start (its frame 0, as
    /// recproof's phones number frames) and reads its key presses.
    fn feed_sent(
        &mut self,
        t_us: u64,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &[u8],
        t: &Target,
        labels: &dyn Fn(usize) -> String,
    ) {
        let ctx = self.contexts.entry(t.call).or_insert_with(|| MediaContext {
            modem: self.base.modem.clone(),
            registry: roles::media_io::PartyRegistry::new(),
        });
        let (id, name) = PARTY_IDS[usize::from(t.actor != Actor::Caller)];
        if ctx.registry.get(id).is_none() {
            ctx.registry.register(id, name, Time::from_micros(t_us));
        }
        let Ok(p) = media::rtp::parse(payload) else {
            return;
        };
        let s = self
            .sent_streams
            .entry((t.call, t.stream.clone()))
            .or_insert_with(|| Sent {
                call: t.call,
                actor: t.actor,
                stream: t.stream.to_string(),
                telephone_event: t.telephone_event,
                dtmf: DtmfReceiver::new(),
                last_ts: None,
                started: false,
                obs: Vec::new(),
            });
        let obs = |event| Observation {
            t_us,
            call: Some(labels(s.call)),
            actor: s.actor,
            event,
        };
        if !s.started {
            s.started = true;
            s.obs.push(obs(Event::RtpStream {
                stream: s.stream.clone(),
                direction: Direction::Sent,
                local: local.to_string(),
                remote: remote.to_string(),
                ssrc: p.header.ssrc,
                payload_type: p.header.payload_type,
            }));
        }
        if Some(p.header.payload_type) != s.telephone_event {
            return;
        }
        let ts = media::rtp::extend_ts(s.last_ts, p.header.timestamp);
        s.last_ts = Some(ts);
        let _ = s.dtmf.handle(ts, &p.payload);
        while let Some(ev) = s.dtmf.poll_event() {
            let Some(digit) = ev.digit else { continue };
            let duration_us = u64::from(ev.duration) * 125;
            // Reported when the event ends; the key press began a duration earlier.
            let mut o = obs(Event::Dtmf {
                stream: s.stream.clone(),
                digit,
                direction: Direction::Sent,
                duration_us,
            });
            o.t_us = o.t_us.saturating_sub(duration_us);
            s.obs.push(o);
        }
    }

    fn feed(
        &mut self,
        t_us: u64,
        remote: SocketAddr,
        local: SocketAddr,
        payload: &[u8],
        t: &Target,
        labels: &dyn Fn(usize) -> String,
    ) {
        let now = Time::from_micros(t_us);
        let ctx = self.contexts.entry(t.call).or_insert_with(|| MediaContext {
            modem: self.base.modem.clone(),
            registry: roles::media_io::PartyRegistry::new(),
        });
        let key = (t.call, t.stream.clone());
        if !self.listened.contains_key(&key) {
            let mut cfg = ListenConfig::new(&t.stream, t.actor, Some(labels(t.call)), local);
            cfg.telephone_event = t.telephone_event;
            cfg.detectors = self.detectors.clone();
            let Ok(listen) = ListenStream::new(cfg, ctx) else {
                return;
            };
            self.listened.insert(
                key.clone(),
                Listened {
                    listen,
                    actor: t.actor,
                    last_us: t_us,
                    spans: Vec::new(),
                    first_remote: None,
                    decoded: 0,
                    undecoded: BTreeMap::new(),
                },
            );
        }
        let Some(l) = self.listened.get_mut(&key) else {
            return;
        };
        l.listen.handle_timeout(now);
        l.listen.handle_datagram(now, remote, payload);
        l.last_us = l.last_us.max(t_us);
        l.first_remote.get_or_insert(remote);
        let Ok(p) = media::rtp::parse(payload) else {
            return;
        };
        let pt = p.header.payload_type;
        if t.encrypted {
            *l.undecoded
                .entry("encrypted (SRTP)".to_owned())
                .or_default() += 1;
            return;
        }
        if Some(pt) == t.telephone_event || pt == COMFORT_NOISE {
            return;
        }
        if Law::from_payload_type(pt).is_none() {
            *l.undecoded
                .entry(format!("payload type {pt}, not G.711"))
                .or_default() += 1;
            return;
        }
        l.decoded += 1;
        if let Some((samples, loud)) = loudness(&p) {
            let end = t_us + samples * 125;
            match l.spans.last_mut() {
                Some(s) if loud && t_us <= s.end_us + SOUND_GAP_US => {
                    s.end_us = end;
                    s.samples += samples;
                }
                _ if loud => l.spans.push(Span {
                    start_us: t_us,
                    end_us: end,
                    samples,
                }),
                _ => {}
            }
        }
    }

    /// Ends every stream (at the later of its last packet and its call's end) and
    /// returns the observations, what each call's audio was, and notes on streams whose
    /// audio could not be decoded.
    pub(crate) fn finish(
        mut self,
        call_end: &dyn Fn(usize) -> u64,
        labels: &dyn Fn(usize) -> String,
    ) -> (Vec<Observation>, BTreeMap<usize, CaptureAudio>, Vec<String>) {
        let mut out = Vec::new();
        let mut sound: BTreeMap<usize, Vec<Observation>> = BTreeMap::new();
        let mut audio: BTreeMap<usize, CaptureAudio> = BTreeMap::new();
        let mut undecodable = std::collections::BTreeSet::new();
        let mut notes = Vec::new();
        for (_, sent) in std::mem::take(&mut self.sent_streams) {
            out.extend(sent.obs);
        }
        for ((call, stream), mut l) in std::mem::take(&mut self.listened) {
            let end = l.last_us.max(call_end(call));
            l.listen.finish(Time::from_micros(end));
            // Sound the detectors recognised (a clip, a tone) is not unknown sound.
            let mut known: Vec<(u64, u64)> = Vec::new();
            while let Some(o) = l.listen.poll_observation() {
                match &o.event {
                    Event::ClipMatch {
                        start_us, end_us, ..
                    }
                    | Event::ToneBurst {
                        start_us, end_us, ..
                    } => known.push((*start_us, *end_us)),
                    Event::PartyFrames { frames, .. } if *frames > 0 => {
                        audio.insert(call, CaptureAudio::Instrumented);
                    }
                    _ => {}
                }
                out.push(o);
            }
            let undecoded: u64 = l.undecoded.values().sum();
            if undecoded > l.decoded {
                undecodable.insert(call);
                notes.push(format!(
                    "{} ({}): {} of its {} audio packets could not be decoded ({}); what was heard or recorded on it is not judged",
                    stream,
                    labels(call),
                    undecoded,
                    undecoded + l.decoded,
                    l.undecoded
                        .iter()
                        .map(|(why, n)| format!("{n} {why}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let spans = sound.entry(call).or_default();
            for s in l.spans.iter().flat_map(|s| without(*s, &known)) {
                spans.push(Observation {
                    t_us: s.end_us,
                    call: Some(labels(call)),
                    actor: l.actor,
                    event: Event::MediaSegment {
                        stream: stream.to_string(),
                        source: Source::Unknown,
                        start_us: s.start_us,
                        end_us: s.end_us,
                        frames: s.samples / media::FRAME_SAMPLES as u64,
                        latency: None,
                    },
                });
            }
        }
        for (call, spans) in sound {
            let kind = audio.entry(call).or_insert(if undecodable.contains(&call) {
                CaptureAudio::Undecoded
            } else if spans.is_empty() {
                CaptureAudio::None
            } else {
                CaptureAudio::Uninstrumented
            });
            if *kind == CaptureAudio::Uninstrumented {
                out.extend(spans);
            }
        }
        (out, audio, notes)
    }
}

/// The parts of a sound span outside the known intervals (clips, tones), each at least
/// one frame long; samples in proportion to the time kept.
fn without(span: Span, known: &[(u64, u64)]) -> Vec<Span> {
    let mut parts = vec![(span.start_us, span.end_us)];
    for &(k0, k1) in known {
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| {
                if k1 <= a || k0 >= b {
                    vec![(a, b)]
                } else {
                    [(a, k0.max(a)), (k1.min(b), b)]
                        .into_iter()
                        .filter(|(x, y)| y > x)
                        .collect()
                }
            })
            .collect();
    }
    let whole = span.end_us.saturating_sub(span.start_us).max(1);
    parts
        .into_iter()
        .filter(|(a, b)| b - a >= FRAME_US)
        .map(|(a, b)| Span {
            start_us: a,
            end_us: b,
            samples: span.samples * (b - a) / whole,
        })
        .collect()
}

/// One 20 ms frame, µs.
const FRAME_US: u64 = 20_000;

/// RFC 3389 comfort noise (static payload type 13): no audio to decode, nothing lost.
const COMFORT_NOISE: u8 = 13;

/// Samples and whether a G.711 RTP packet is louder than [`SOUND_DBFS`]; `None` for
/// anything else.
fn loudness(p: &media::rtp::Packet) -> Option<(u64, bool)> {
    let law = Law::from_payload_type(p.header.payload_type)?;
    let pcm = law.decode(&p.payload);
    if pcm.is_empty() {
        return None;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / pcm.len() as f64).sqrt();
    let threshold = 32768.0 * 10f64.powf(SOUND_DBFS / 20.0);
    Some((pcm.len() as u64, rms >= threshold))
}
