//! The SRS emulator under the simulated clock, driven by a scripted SRC node built here:
//! an RS INVITE made from the RFC test vector (addresses adapted), two RTP streams of
//! party audio, re-INVITE pause and resume, metadata UPDATE, BYE; reject and silent
//! behaviours; malformed input.

use media::g711::Law;
use media::signal::PartyId;
use observe::{Actor, Event, Observation, Source};
use recproof_roles::media_io::{AudioSource, MediaContext, SendConfig, SendStream};
use recproof_roles::srs::{
    SessionBinder, SessionBinding, SnapshotVia, SrsBehaviour, SrsConfig, SrsEmulator,
};
use sim::{Datagram, LinkProfile, Node, NodeId, Transport, World};
use sip::endpoint::{CallKey, EndReason, Endpoint, EndpointConfig, EndpointEvent, Extra};
use sip::message::{Method, SipMessage};
use sip::multipart;
use sip::sdp::SessionDescription;
use sip::time::Time;
use sip::transaction::PeerAddr;
use siprec::findings::{Profile, Severity};
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

const SRC_SIP: &str = "10.0.0.5:5060";
const SRC_RTP: [&str; 2] = ["10.0.0.5:40000", "10.0.0.5:40002"];
const SRS_SIP: &str = "10.0.0.9:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn vector(name: &str) -> SipMessage {
    let path = format!(
        "{}/../siprec/tests/data/validate/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    SipMessage::parse(std::fs::read(path).expect("vector")).expect("vector parses")
}

/// The SDP (addresses adapted to the test network, CRLF) and the metadata of the RFC
/// vector's initial INVITE.
fn rfc_vector_parts() -> (String, Vec<u8>) {
    let msg = vector("rfc_initial_invite.sip");
    let parsed = multipart::parse(msg.content_type().expect("ct"), msg.body()).expect("parts");
    let sdp = String::from_utf8(parsed.sdp().expect("sdp").body.to_vec()).expect("utf8");
    let sdp = sdp
        .replace("192.0.2.10", "10.0.0.5")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>();
    let xml = parsed.metadata().expect("metadata").body.to_vec();
    (sdp, xml)
}

/// The SDP with every stream set to `direction` and the o= version set to `version`.
fn sdp_variant(sdp: &str, direction: &str, version: u32) -> String {
    sdp.replace("a=sendonly", &format!("a={direction}"))
        .replace(
            "2890844526 2890844526",
            &format!("2890844526 {}", 2_890_844_525 + version),
        )
}

/// A scripted SRC: one endpoint, two send streams (label 1 = party 1 `caller`, label 2 =
/// party 2 `callee`), and a record of what came back.
struct TestSrc {
    sip: SocketAddr,
    rtp: [SocketAddr; 2],
    ep: Endpoint,
    ctx: MediaContext,
    call: Option<CallKey>,
    offer: Option<SessionDescription>,
    sends: Vec<SendStream>,
    out: VecDeque<Datagram>,
    obs: VecDeque<Observation>,
    /// (time, status, CSeq method, message) of every response.
    responses: Vec<(Time, u16, Method, SipMessage)>,
    /// Requests the SRS sent us.
    requests: Vec<SipMessage>,
    ended: Option<EndReason>,
}

impl TestSrc {
    fn new(ctx: MediaContext, sip: &str, rtp: [&str; 2], seed: u64) -> Self {
        let sip = addr(sip);
        let mut cfg = EndpointConfig::new(sip, &format!("sip:src@{sip}"), seed);
        cfg.contact = format!("<sip:src@{sip}>;+sip.src");
        Self {
            sip,
            rtp: [addr(rtp[0]), addr(rtp[1])],
            ep: Endpoint::new(cfg),
            ctx,
            call: None,
            offer: None,
            sends: Vec::new(),
            out: VecDeque::new(),
            obs: VecDeque::new(),
            responses: Vec::new(),
            requests: Vec::new(),
            ended: None,
        }
    }

    fn target() -> PeerAddr {
        PeerAddr::new(addr(SRS_SIP), Transport::Udp)
    }

    /// INVITE with a multipart SDP + metadata body (SDP only when `xml` is `None`).
    fn invite(&mut self, now: Time, sdp: &str, xml: Option<&[u8]>) {
        let extra = Extra::new().header("Require", "siprec");
        let extra = match xml {
            Some(xml) => {
                let (boundary, body) = multipart::Builder::new()
                    .sdp(sdp.as_bytes())
                    .metadata(multipart::RS_METADATA_XML, xml)
                    .build_unique("b1");
                extra.body(&format!("multipart/mixed;boundary={boundary}"), body)
            }
            None => extra.body(multipart::SDP, sdp.as_bytes().to_vec()),
        };
        self.offer = Some(SessionDescription::parse(sdp.as_bytes()).expect("offer"));
        let key = self
            .ep
            .invite(now, "sip:srs@10.0.0.9:5080", Self::target(), extra)
            .expect("invite");
        self.call = Some(key);
        self.pump(now);
    }

    /// INVITE with any body (malformed-input tests).
    fn invite_raw_body(&mut self, now: Time, content_type: &str, body: &[u8]) {
        let extra = Extra::new().body(content_type, body.to_vec());
        self.call = Some(
            self.ep
                .invite(now, "sip:srs@10.0.0.9:5080", Self::target(), extra)
                .expect("invite"),
        );
        self.pump(now);
    }

    fn reinvite(&mut self, now: Time, sdp: &str) {
        self.offer = Some(SessionDescription::parse(sdp.as_bytes()).expect("offer"));
        let call = self.call.expect("call");
        self.ep
            .reinvite(
                now,
                call,
                Extra::new().body(multipart::SDP, sdp.as_bytes().to_vec()),
            )
            .expect("re-INVITE");
        self.pump(now);
    }

    fn update_metadata(&mut self, now: Time, xml: &[u8]) {
        let call = self.call.expect("call");
        let extra = Extra::new()
            .header("Content-Disposition", "recording-session")
            .body(multipart::RS_METADATA_XML, xml.to_vec());
        self.ep.update(now, call, extra).expect("UPDATE");
        self.pump(now);
    }

    fn info_metadata(&mut self, now: Time, xml: &[u8]) {
        let call = self.call.expect("call");
        let extra = Extra::new()
            .header("Content-Disposition", "recording-session")
            .body(multipart::RS_METADATA_LEGACY, xml.to_vec());
        self.ep.info(now, call, extra).expect("INFO");
        self.pump(now);
    }

    fn options(&mut self, now: Time) {
        self.ep
            .send_out_of_dialog(
                now,
                &Method::Options,
                "sip:srs@10.0.0.9:5080",
                Self::target(),
                Extra::new(),
            )
            .expect("OPTIONS");
        self.pump(now);
    }

    fn cancel(&mut self, now: Time) {
        self.ep
            .cancel(now, self.call.expect("call"))
            .expect("CANCEL");
        self.pump(now);
    }

    fn bye(&mut self, now: Time) {
        self.ep
            .bye(now, self.call.expect("call"), Extra::new())
            .expect("BYE");
        self.pump(now);
    }

    fn send_raw(&mut self, to: SocketAddr, bytes: &[u8]) {
        self.out.push_back(Datagram {
            from: self.sip,
            to,
            transport: Transport::Udp,
            bytes: bytes.to_vec().into(),
        });
    }

    fn statuses(&self, method: &Method) -> Vec<u16> {
        self.responses
            .iter()
            .filter(|(_, _, m, _)| m == method)
            .map(|(_, s, _, _)| *s)
            .collect()
    }

    fn start_media(&mut self, now: Time, answer: &SessionDescription) {
        let Some(offer) = self.offer.take() else {
            return;
        };
        let Ok(agreed) = sip::sdp::negotiate(&offer, answer) else {
            return;
        };
        if self.sends.is_empty() {
            for (i, (party, name)) in [(PartyId(1), "caller"), (PartyId(2), "callee")]
                .into_iter()
                .enumerate()
            {
                let cfg = SendConfig {
                    stream: format!("src.{}", i + 1),
                    actor: Actor::Platform,
                    call: None,
                    local: self.rtp[i],
                    law: Law::Ulaw,
                    telephone_event: None,
                    seed: 100 + i as u64,
                };
                let mut s =
                    SendStream::new(cfg, AudioSource::party(&self.ctx, party, name), &self.ctx);
                s.start(now);
                self.sends.push(s);
            }
        }
        for (s, a) in self.sends.iter_mut().zip(&agreed) {
            let to = a
                .offerer_sends_to
                .as_ref()
                .and_then(|(ip, port)| Some(SocketAddr::new(ip.parse().ok()?, *port)));
            s.set_remote(to);
        }
    }

    fn pump(&mut self, now: Time) {
        while let Some(ev) = self.ep.poll_event() {
            match ev {
                EndpointEvent::Response { response, .. } => {
                    let status = response.status().expect("status");
                    let method = response.cseq().expect("cseq").method;
                    if method == Method::Invite && (200..300).contains(&status) {
                        let answer = SessionDescription::parse(response.body()).expect("answer");
                        self.start_media(now, &answer);
                    }
                    self.responses.push((now, status, method, response));
                }
                EndpointEvent::IncomingRequest { tx, request, .. } => {
                    self.requests.push(request);
                    let _ = self.ep.answer(now, tx, 200, Extra::new());
                }
                EndpointEvent::DialogTerminated { reason, .. } => {
                    self.ended = Some(reason);
                    for s in &mut self.sends {
                        s.stop();
                    }
                }
                _ => {}
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
        for s in &mut self.sends {
            while let Some(d) = s.poll_transmit() {
                self.out.push_back(d);
            }
            while let Some(o) = s.poll_observation() {
                self.obs.push_back(o);
            }
        }
    }
}

impl Node for TestSrc {
    fn name(&self) -> &str {
        "src"
    }
    fn addresses(&self) -> Vec<SocketAddr> {
        vec![self.sip, self.rtp[0], self.rtp[1]]
    }
    fn handle_datagram(&mut self, now: Time, d: Datagram) {
        if d.to == self.sip {
            self.ep.handle_datagram(now, d.from, d.transport, &d.bytes);
        }
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Time) {
        self.ep.handle_timeout(now);
        for s in &mut self.sends {
            s.handle_timeout(now);
        }
        self.pump(now);
    }
    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.sends
            .iter()
            .filter_map(SendStream::poll_timeout)
            .chain(self.ep.poll_timeout())
            .min()
    }
    fn poll_observation(&mut self) -> Option<Observation> {
        self.obs.pop_front()
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct Setup {
    world: World,
    src: NodeId,
    srs: NodeId,
}

fn setup(behaviour: SrsBehaviour, keep_pcm: bool) -> Setup {
    setup_with(behaviour, keep_pcm, None)
}

fn setup_with(behaviour: SrsBehaviour, keep_pcm: bool, binder: Option<SessionBinder>) -> Setup {
    let ctx = MediaContext::with_default_signal().expect("signal");
    let mut world = World::new(42);
    world.set_default_link(LinkProfile::latency(Duration::from_millis(10)));
    let src = world.add(Box::new(TestSrc::new(ctx.clone(), SRC_SIP, SRC_RTP, 1)));
    let mut cfg = SrsConfig::new(addr(SRS_SIP), "10.0.0.9".parse().expect("ip"));
    cfg.behaviour = behaviour;
    cfg.call_label = Some("call-0001".to_owned());
    cfg.keep_pcm = keep_pcm;
    cfg.binder = binder;
    let srs = world.add(Box::new(SrsEmulator::new(cfg, ctx).expect("srs")));
    Setup { world, src, srs }
}

fn src<R>(s: &mut Setup, f: impl FnOnce(&mut TestSrc, Time) -> R) -> R {
    s.world.with_node::<TestSrc, _>(s.src, f).expect("src node")
}

fn srs_sent(obs: &[Observation]) -> Vec<SipMessage> {
    obs.iter()
        .filter(|o| o.actor == Actor::Srs)
        .filter_map(|o| match &o.event {
            Event::SipSent { message, .. } => SipMessage::parse(message.to_bytes()).ok(),
            _ => None,
        })
        .collect()
}

fn party_frames(obs: &[Observation], stream: &str) -> Vec<(String, u64, u64)> {
    obs.iter()
        .filter_map(|o| match &o.event {
            Event::PartyFrames {
                stream: s,
                party,
                frames,
                lost,
                ..
            } if s == stream => Some((party.clone(), *frames, *lost)),
            _ => None,
        })
        .collect()
}

/// Party spans (start µs, end µs) recorded on a stream.
fn spans(obs: &[Observation], stream: &str) -> Vec<(u64, u64)> {
    obs.iter()
        .filter_map(|o| match &o.event {
            Event::MediaSegment {
                stream: s,
                source: Source::Party { .. },
                start_us,
                end_us,
                ..
            } if s == stream => Some((*start_us, *end_us)),
            _ => None,
        })
        .collect()
}

/// The full RS life: INVITE at 0, pause (inactive) 10-15 s, UPDATE at 20 s, BYE at 30 s.
fn full_session(keep_pcm: bool) -> (Setup, Vec<Observation>, Vec<u8>) {
    let mut s = setup(SrsBehaviour::Accept, keep_pcm);
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(10));
    src(&mut s, |n, now| {
        n.reinvite(now, &sdp_variant(&sdp, "inactive", 2))
    });
    s.world.run_until(Time::from_secs(15));
    src(&mut s, |n, now| {
        n.reinvite(now, &sdp_variant(&sdp, "sendonly", 3))
    });
    s.world.run_until(Time::from_secs(20));
    let update = String::from_utf8(xml.clone())
        .expect("utf8")
        .replace("Alice Agent", "Alice Updated");
    src(&mut s, |n, now| n.update_metadata(now, update.as_bytes()));
    s.world.run_until(Time::from_secs(30));
    src(&mut s, |n, now| n.bye(now));
    s.world.run_until(Time::from_secs(35));
    assert!(!s.world.stats().stalled);
    let obs = s.world.take_observations();
    (s, obs, xml)
}

#[test]
fn accepts_the_rfc_vector_session_and_records_each_party_on_its_own_stream() {
    let (mut s, obs, xml) = full_session(false);
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(
        n.statuses(&Method::Invite),
        vec![200, 200, 200],
        "initial + 2 re-INVITEs"
    );
    assert_eq!(n.statuses(&Method::Update), vec![200]);
    assert_eq!(n.statuses(&Method::Bye), vec![200]);
    assert_eq!(n.ended, Some(EndReason::ByeSent));

    // The 200: +sip.srs, two recvonly labelled streams.
    let sent = srs_sent(&obs);
    let ok = sent
        .iter()
        .find(|m| m.status() == Some(200) && m.cseq().expect("cseq").method == Method::Invite)
        .expect("200 to INVITE");
    let contact = ok.contacts().expect("contact");
    assert!(
        contact[0].param("+sip.srs").is_some(),
        "{:?}",
        ok.header_value("Contact")
    );
    let answer = SessionDescription::parse(ok.body()).expect("sdp answer");
    let media = answer.media();
    assert_eq!(media.len(), 2);
    for (m, label) in media.iter().zip(["1", "2"]) {
        assert_eq!(m.direction, sip::sdp::Direction::RecvOnly);
        assert_eq!(m.label.as_deref(), Some(label));
        assert_ne!(m.port, 0);
    }

    // Metadata observed exactly, from the INVITE and the UPDATE.
    let docs: Vec<(&str, &str, &str)> = obs
        .iter()
        .filter_map(|o| match &o.event {
            Event::Metadata {
                method,
                content_type,
                xml,
                ..
            } => Some((method.as_str(), content_type.as_str(), xml.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[0].0, "INVITE");
    assert_eq!(docs[0].1, "application/rs-metadata+xml");
    assert_eq!(docs[0].2.as_bytes(), xml.as_slice(), "exact XML");
    assert_eq!(docs[1].0, "UPDATE");
    assert!(docs[1].2.contains("Alice Updated"));

    // Each stream carries its own party only, and both streams are finished.
    let one = party_frames(&obs, "srs.1");
    let two = party_frames(&obs, "srs.2");
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0].0, "caller");
    assert_eq!(two.len(), 1, "{two:?}");
    assert_eq!(two[0].0, "callee");
    for stream in ["srs.1", "srs.2"] {
        assert!(
            obs.iter().any(|o| matches!(&o.event,
                Event::RtpStats { stream: st, packets, .. } if st == stream && *packets > 1000)),
            "rtp_stats for {stream}"
        );
    }
    // The pause shows as a gap of about 5 s between two spans.
    for stream in ["srs.1", "srs.2"] {
        let sp = spans(&obs, stream);
        assert_eq!(sp.len(), 2, "{stream}: {sp:?}");
        let gap = sp[1].0 - sp[0].1;
        assert!(
            (4_800_000..=5_200_000).contains(&gap),
            "{stream}: gap {gap} µs, paused 5 s"
        );
    }
    // The session started and ended.
    let srs_events: Vec<&Event> = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs)
        .map(|o| &o.event)
        .collect();
    assert!(srs_events.iter().any(
        |e| matches!(e, Event::CallStarted { scenario, .. } if scenario == "recording-session")
    ));
    assert!(
        srs_events
            .iter()
            .any(|e| matches!(e, Event::CallEnded { reason } if reason == "bye"))
    );
    assert!(
        obs.iter()
            .all(|o| o.actor != Actor::Srs || o.call.as_deref() == Some("call-0001"))
    );
    // The SRS sends no RTP (SRS-03).
    assert!(!obs.iter().any(|o| o.actor == Actor::Srs
        && matches!(
            &o.event,
            Event::RtpStream {
                direction: observe::Direction::Sent,
                ..
            }
        )));
    assert_eq!(
        s.world
            .with_node::<SrsEmulator, _>(s.srs, |n, _| n.sessions().len()),
        Some(0)
    );
}

#[test]
fn the_same_seed_gives_the_same_observations() {
    let (_, a, _) = full_session(false);
    let (_, b, _) = full_session(false);
    assert_eq!(a, b);
}

#[test]
fn the_srs_200_passes_siprec_validation_and_a_broken_one_does_not() {
    let (_, obs, _) = full_session(false);
    let raw = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs)
        .find_map(|o| match &o.event {
            Event::SipSent { message, .. } if message.to_bytes().starts_with(b"SIP/2.0 200") => {
                Some(message.to_bytes())
            }
            _ => None,
        })
        .expect("200");
    for profile in [Profile::RfcStrict, Profile::BroadworksCompat] {
        let report = siprec::validate::validate(&raw, profile);
        let fails: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Fail)
            .collect();
        assert!(fails.is_empty(), "{profile:?}: {fails:?}");
    }
    // The same 200 without the feature tag and answering sendrecv fails SRS-02 and -03.
    let text = String::from_utf8(raw).expect("utf8");
    let broken = text
        .replace(";+sip.srs", "")
        .replace("a=recvonly", "a=sendrecv");
    let report = siprec::validate::validate(broken.as_bytes(), Profile::RfcStrict);
    let failed: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.requirement)
        .collect();
    assert!(failed.contains(&"SRS-02"), "{failed:?}");
    assert!(failed.contains(&"SRS-03"), "{failed:?}");
}

#[test]
fn kept_pcm_has_the_pause_as_silence() {
    let (mut s, _, _) = full_session(true);
    let recs = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.take_recordings())
        .expect("srs");
    assert_eq!(recs.len(), 2);
    for r in &recs {
        let secs = r.pcm.samples.len() as f64 / 8000.0;
        assert!((29.5..=30.5).contains(&secs), "{}: {secs} s", r.stream);
        // 12 s in: paused, digital silence; 5 s in: party audio.
        let at = |t: f64| &r.pcm.samples[(t * 8000.0) as usize..(t * 8000.0) as usize + 800];
        assert!(at(12.0).iter().all(|&x| x == 0), "{} pause", r.stream);
        assert!(at(5.0).iter().any(|&x| x != 0), "{} audio", r.stream);
    }
    let again = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.take_recordings())
        .expect("srs");
    assert!(again.is_empty(), "taken once");
    let (mut off, _, _) = full_session(false);
    let none = off
        .world
        .with_node::<SrsEmulator, _>(off.srs, |n, _| n.take_recordings())
        .expect("srs");
    assert!(none.is_empty(), "nothing kept unless asked");
}

#[test]
fn sdp_only_invite_then_metadata_in_update_and_streams_without_labels() {
    let mut s = setup(SrsBehaviour::Accept, false);
    let (sdp, xml) = rfc_vector_parts();
    let unlabelled: String = sdp
        .lines()
        .filter(|l| !l.starts_with("a=label"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    src(&mut s, |n, now| n.invite(now, &unlabelled, None));
    s.world.run_until(Time::from_secs(2));
    let streams = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.sessions())
        .expect("srs");
    assert_eq!(streams.len(), 1);
    let names: Vec<&str> = streams[0]
        .streams
        .iter()
        .map(|r| r.stream.as_str())
        .collect();
    assert_eq!(names, vec!["srs.m0", "srs.m1"]);
    assert_eq!(streams[0].metadata_documents, 0);
    src(&mut s, |n, now| n.update_metadata(now, &xml));
    s.world.run_until(Time::from_secs(3));
    src(&mut s, |n, now| n.info_metadata(now, &xml));
    s.world.run_until(Time::from_secs(4));
    src(&mut s, |n, now| n.bye(now));
    s.world.run_until(Time::from_secs(6));
    let obs = s.world.take_observations();
    let methods: Vec<&str> = obs
        .iter()
        .filter_map(|o| match &o.event {
            Event::Metadata { method, .. } => Some(method.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(methods, vec!["UPDATE", "INFO"]);
    let types: Vec<&str> = obs
        .iter()
        .filter_map(|o| match &o.event {
            Event::Metadata { content_type, .. } => Some(content_type.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        types,
        vec!["application/rs-metadata+xml", "application/rs-metadata"],
        "both names (SRS-09)"
    );
    assert_eq!(party_frames(&obs, "srs.m0")[0].0, "caller");
    assert_eq!(party_frames(&obs, "srs.m1")[0].0, "callee");
}

#[test]
fn reinvite_with_a_zero_address_and_a_new_label_is_answered_stream_by_stream() {
    let mut s = setup(SrsBehaviour::Accept, false);
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(2));
    let before = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.sessions())
        .expect("srs");
    let mut three = sdp_variant(&sdp, "sendonly", 2).replacen(
        "m=audio 40000 RTP/AVP 0 101\r\n",
        "m=audio 40000 RTP/AVP 0 101\r\nc=IN IP4 0.0.0.0\r\n",
        1,
    );
    three.push_str("m=audio 40004 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=label:3\r\na=sendonly\r\n");
    src(&mut s, |n, now| n.reinvite(now, &three));
    s.world.run_until(Time::from_secs(4));
    let after = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.sessions())
        .expect("srs");
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(n.statuses(&Method::Invite), vec![200, 200]);
    let (_, _, _, ok) = n.responses.last().expect("200");
    let answer = SessionDescription::parse(ok.body()).expect("answer");
    let labels: Vec<Option<String>> = answer.media().iter().map(|m| m.label.clone()).collect();
    assert_eq!(
        labels,
        vec![Some("1".into()), Some("2".into()), Some("3".into())]
    );
    assert!(
        answer
            .media()
            .iter()
            .all(|m| m.direction == sip::sdp::Direction::RecvOnly && m.port != 0)
    );
    let names: Vec<&str> = after[0].streams.iter().map(|r| r.stream.as_str()).collect();
    assert_eq!(names, vec!["srs.1", "srs.2", "srs.3"]);
    assert_eq!(
        before[0].streams.iter().map(|r| r.port).collect::<Vec<_>>(),
        after[0].streams[..2]
            .iter()
            .map(|r| r.port)
            .collect::<Vec<_>>(),
        "existing streams keep their ports"
    );
    // A stream offered with port 0 is declined with port 0.
    let declined = three.replace("m=audio 40004", "m=audio 0");
    let declined = declined.replace("2890844526 2890844527", "2890844526 2890844528");
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    n.reinvite(Time::from_secs(4), &declined);
    s.world.poke(s.src);
    s.world.run_until(Time::from_secs(6));
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    let (_, code, _, ok) = n.responses.last().expect("200");
    assert_eq!(*code, 200);
    let answer = SessionDescription::parse(ok.body()).expect("answer");
    let ports: Vec<bool> = answer.media().iter().map(|m| m.port == 0).collect();
    assert_eq!(ports, vec![false, false, true]);
}

#[test]
fn concurrent_sessions_get_distinct_stream_names() {
    let ctx = MediaContext::with_default_signal().expect("signal");
    let mut world = World::new(9);
    let a = world.add(Box::new(TestSrc::new(ctx.clone(), SRC_SIP, SRC_RTP, 1)));
    let b = world.add(Box::new(TestSrc::new(
        ctx.clone(),
        "10.0.0.6:5060",
        ["10.0.0.6:40000", "10.0.0.6:40002"],
        2,
    )));
    let srs = world.add(Box::new(
        SrsEmulator::new(
            SrsConfig::new(addr(SRS_SIP), "10.0.0.9".parse().expect("ip")),
            ctx,
        )
        .expect("srs"),
    ));
    let (sdp, xml) = rfc_vector_parts();
    let sdp_b = sdp.replace("10.0.0.5", "10.0.0.6");
    world.with_node::<TestSrc, _>(a, |n, now| n.invite(now, &sdp, Some(&xml)));
    world.with_node::<TestSrc, _>(b, |n, now| n.invite(now, &sdp_b, Some(&xml)));
    world.run_until(Time::from_secs(3));
    let sessions = world
        .with_node::<SrsEmulator, _>(srs, |n, _| n.sessions())
        .expect("srs");
    assert_eq!(sessions.len(), 2);
    let names: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| s.streams.iter().map(|r| r.stream.clone()).collect())
        .collect();
    assert_eq!(names[0], vec!["srs.1", "srs.2"]);
    assert_eq!(names[1], vec!["srs.s2.1", "srs.s2.2"]);
    let ports: Vec<u16> = sessions
        .iter()
        .flat_map(|s| s.streams.iter().map(|r| r.port))
        .collect();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{ports:?}");
    // End of run: the streams are finished without SIP (and not again at BYE).
    world.with_node::<SrsEmulator, _>(srs, |n, now| n.finish_streams(now));
    let early = world.take_observations();
    assert_eq!(party_frames(&early, "srs.1").len(), 1);
    for id in [a, b] {
        world.with_node::<TestSrc, _>(id, |n, now| n.bye(now));
    }
    world.run_until(Time::from_secs(5));
    let obs = world.take_observations();
    for stream in ["srs.1", "srs.2", "srs.s2.1", "srs.s2.2"] {
        let all: Vec<_> = early.iter().chain(&obs).cloned().collect();
        assert_eq!(party_frames(&all, stream).len(), 1, "{stream}");
    }
    let ended = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs && matches!(o.event, Event::CallEnded { .. }))
        .count();
    assert_eq!(ended, 2);
}

#[test]
fn reject_behaviour_sends_the_code_after_the_delay_and_cancel_gets_487() {
    let mut s = setup(
        SrsBehaviour::Reject {
            code: 486,
            after: Duration::from_secs(2),
        },
        false,
    );
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(5));
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    let finals: Vec<(Time, u16)> = n
        .responses
        .iter()
        .filter(|(_, c, m, _)| *c >= 200 && *m == Method::Invite)
        .map(|(t, c, _, _)| (*t, *c))
        .collect();
    // The INVITE arrives at 10 ms, the rejection leaves 2 s later and takes 10 ms.
    assert_eq!(finals, vec![(Time::from_millis(2020), 486)]);
    assert_eq!(n.ended, Some(EndReason::RejectedByPeer(486)));
    assert!(n.sends.is_empty(), "no media to a rejecting SRS");
    let obs = s.world.take_observations();
    assert!(
        obs.iter()
            .any(|o| matches!(&o.event, Event::Metadata { .. })),
        "metadata still recorded"
    );

    // A CANCEL before the rejection is due gets 200, and the INVITE 487.
    let mut s = setup(
        SrsBehaviour::Reject {
            code: 486,
            after: Duration::from_secs(2),
        },
        false,
    );
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(1));
    src(&mut s, |n, now| n.cancel(now));
    s.world.run_until(Time::from_secs(5));
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(n.statuses(&Method::Cancel), vec![200]);
    assert!(n.statuses(&Method::Invite).contains(&487));
    assert!(!n.statuses(&Method::Invite).contains(&486));
}

#[test]
fn silent_behaviour_answers_nothing_and_the_src_times_out() {
    let mut s = setup(SrsBehaviour::Silent, false);
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    src(&mut s, |n, now| n.options(now));
    s.world.run_until(Time::from_secs(40));
    let obs = s.world.take_observations();
    assert!(srs_sent(&obs).is_empty(), "not even 100 Trying");
    let received = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs && matches!(o.event, Event::SipReceived { .. }))
        .count();
    assert!(
        received >= 7,
        "the INVITE and its retransmissions were seen: {received}"
    );
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert!(n.responses.is_empty());
    assert!(
        matches!(n.ended, Some(EndReason::TimedOut(_))),
        "{:?}",
        n.ended
    );
}

#[test]
fn options_lists_the_metadata_type() {
    let mut s = setup(SrsBehaviour::Accept, false);
    src(&mut s, |n, now| n.options(now));
    s.world.run_until(Time::from_secs(1));
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    let (_, code, _, msg) = n.responses.last().expect("response");
    assert_eq!(*code, 200);
    assert!(
        msg.header_value("Accept")
            .expect("Accept")
            .contains("application/rs-metadata+xml")
    );
    assert!(msg.header_value("Allow").expect("Allow").contains("UPDATE"));
}

#[test]
fn snapshot_request_reaches_the_src_with_the_request_type() {
    let mut s = setup(SrsBehaviour::Accept, false);
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(1));
    let call_id = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, _| n.sessions()[0].rs_call_id.clone())
        .expect("srs");
    for via in [SnapshotVia::Update, SnapshotVia::Info] {
        s.world
            .with_node::<SrsEmulator, _>(s.srs, |n, now| {
                n.request_snapshot(now, &call_id, "SRS restarted, state lost", via)
            })
            .expect("srs")
            .expect("snapshot request");
        s.world.run_for(Duration::from_secs(1));
    }
    let unknown = s
        .world
        .with_node::<SrsEmulator, _>(s.srs, |n, now| {
            n.request_snapshot(now, "nope", "x", SnapshotVia::Update)
        })
        .expect("srs");
    assert!(unknown.is_err(), "no session, no request");
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    let methods: Vec<String> = n
        .requests
        .iter()
        .map(|r| r.method().expect("method").as_str().to_owned())
        .collect();
    assert_eq!(methods, vec!["UPDATE", "INFO"]);
    for r in &n.requests {
        assert_eq!(r.content_type(), Some("application/rs-metadata-request"));
        assert_eq!(
            r.header_value("Content-Disposition"),
            Some("recording-session")
        );
        let body = String::from_utf8(r.body().to_vec()).expect("utf8");
        assert!(body.contains("<requestsnapshot xmlns=\"urn:ietf:params:xml:ns:recording:1\">"));
        assert!(body.contains("SRS restarted, state lost"));
    }
    let update = &n.requests[0];
    let contact = update.contacts().expect("contact");
    assert!(
        !contact.is_empty() && contact.iter().all(|c| c.param("+sip.srs").is_some()),
        "SRS-02 on the SRS's requests too: {:?}",
        update.header_value("Contact")
    );
}

#[test]
fn malformed_input_is_observed_and_answered_400_and_the_srs_carries_on() {
    let mut s = setup(SrsBehaviour::Accept, false);
    // Garbage on the SIP port, then on an RTP port.
    src(&mut s, |n, _| {
        n.send_raw(addr(SRS_SIP), b"\xff\xfe garbage \x00\x01");
        n.send_raw(addr("10.0.0.9:41000"), b"not rtp");
    });
    s.world.run_until(Time::from_secs(1));
    // An INVITE whose multipart body has no boundary in it.
    src(&mut s, |n, now| {
        n.invite_raw_body(
            now,
            "multipart/mixed;boundary=b1",
            b"no parts here at all\r\n",
        )
    });
    s.world.run_until(Time::from_secs(2));
    {
        let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
        assert_eq!(n.statuses(&Method::Invite), vec![400]);
    }
    // An INVITE with an unreadable SDP part.
    src(&mut s, |n, now| {
        let (b, body) = multipart::Builder::new()
            .sdp(b"this is not sdp".to_vec())
            .build_unique("x");
        n.invite_raw_body(now, &format!("multipart/mixed;boundary={b}"), &body);
    });
    s.world.run_until(Time::from_secs(3));
    // An INVITE with a body type the SRS does not take.
    src(&mut s, |n, now| {
        n.invite_raw_body(now, "text/plain", b"hello")
    });
    s.world.run_until(Time::from_secs(4));
    let obs = s.world.take_observations();
    let malformed: Vec<&str> = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs)
        .filter_map(|o| match &o.event {
            Event::SipMalformed { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(malformed.len(), 3, "{malformed:?}");
    assert!(malformed[1].contains("multipart"), "{malformed:?}");
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(n.statuses(&Method::Invite), vec![400, 400, 415]);
    let (_, _, _, unsupported) = n.responses.last().expect("415");
    assert!(unsupported.header_value("Accept").is_some());
    assert_eq!(
        s.world
            .with_node::<SrsEmulator, _>(s.srs, |n, _| n.stray_rtp()),
        Some(1)
    );
    // The SRS still takes a valid session afterwards.
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(6));
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(n.statuses(&Method::Invite), vec![400, 400, 415, 200]);
}

#[test]
fn webex_dialect_invite_is_accepted_with_metadata_first() {
    // BroadWorks: metadata part first, no space after the part header colon, `;src`.
    let msg = vector("webex_initial_invite.sip");
    let parsed = multipart::parse(msg.content_type().expect("ct"), msg.body()).expect("parts");
    let xml = parsed.metadata().expect("metadata").body.to_vec();
    let (sdp, _) = rfc_vector_parts();
    let body = multipart::Builder::new()
        .style(multipart::Style {
            space_after_colon: false,
            line_end: "\r\n",
        })
        .metadata(multipart::RS_METADATA_XML, xml.clone())
        .sdp(sdp.as_bytes().to_vec())
        .build("UniqueBroadWorksBoundary");
    let mut s = setup(SrsBehaviour::Accept, false);
    src(&mut s, |n, now| {
        n.offer = Some(SessionDescription::parse(sdp.as_bytes()).expect("offer"));
        n.invite_raw_body(
            now,
            "multipart/mixed;boundary=UniqueBroadWorksBoundary",
            &body,
        );
    });
    s.world.run_until(Time::from_secs(2));
    let obs = s.world.take_observations();
    let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
    assert_eq!(n.statuses(&Method::Invite), vec![200]);
    assert_eq!(n.sends.len(), 2);
    let doc = obs
        .iter()
        .find_map(|o| match &o.event {
            Event::Metadata { xml, .. } => Some(xml.clone()),
            _ => None,
        })
        .expect("metadata");
    assert_eq!(doc.as_bytes(), xml.as_slice());
    assert!(doc.contains("urn:ietf:params:xml:ns:siprec"));
}

/// One emulator recording many calls (the load engine's case): a binder ties a session to
/// its call from the INVITE, and every observation of that session carries the call's
/// label: its SIP both ways, its metadata, its streams and its end.
#[test]
fn a_binder_labels_every_observation_of_a_session_with_its_call() {
    let binder = SessionBinder(std::sync::Arc::new(|invite: &SipMessage| {
        let body = String::from_utf8_lossy(invite.body()).into_owned();
        body.contains("Alice").then(|| SessionBinding {
            call_label: "load-call-7".to_owned(),
            media: MediaContext::with_default_signal().expect("signal"),
            detectors: None,
        })
    }));
    let mut s = setup_with(SrsBehaviour::Accept, false, Some(binder));
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(3));
    src(&mut s, |n, now| n.bye(now));
    s.world.run_until(Time::from_secs(5));
    let obs = s.world.take_observations();
    let srs: Vec<&Observation> = obs.iter().filter(|o| o.actor == Actor::Srs).collect();
    assert!(srs.len() > 8, "{srs:?}");
    for o in &srs {
        assert_eq!(o.call.as_deref(), Some("load-call-7"), "{o:?}");
    }
    let kinds: Vec<&str> = srs
        .iter()
        .map(|o| match &o.event {
            Event::SipReceived { .. } => "sip_received",
            Event::SipSent { .. } => "sip_sent",
            Event::Metadata { .. } => "metadata",
            Event::PartyFrames { .. } => "party_frames",
            Event::CallEnded { .. } => "call_ended",
            _ => "other",
        })
        .collect();
    for k in [
        "sip_received",
        "sip_sent",
        "metadata",
        "party_frames",
        "call_ended",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    // A session the binder does not claim keeps the emulator's own label.
    let binder = SessionBinder(std::sync::Arc::new(|_: &SipMessage| None));
    let mut s = setup_with(SrsBehaviour::Accept, false, Some(binder));
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(2));
    let obs = s.world.take_observations();
    assert!(
        obs.iter()
            .filter(|o| o.actor == Actor::Srs)
            .all(|o| o.call.as_deref() == Some("call-0001"))
    );
}

#[test]
fn requests_matching_no_dialog_or_out_of_order_are_refused_and_logged_as_findings() {
    let mut s = setup(SrsBehaviour::Accept, false);
    // A network-based SRC's BYE without a To tag: it matches no dialog (481, not 405).
    let bye = format!(
        "BYE sip:srs@{SRS_SIP} SIP/2.0\r\nVia: SIP/2.0/UDP {SRC_SIP};branch=z9hG4bK-nodialog\r\n\
         Max-Forwards: 70\r\nFrom: <sip:src@{SRC_SIP}>;tag=a1\r\nTo: <sip:srs@{SRS_SIP}>\r\n\
         Call-ID: no-dialog-1@example\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    src(&mut s, |n, _| n.send_raw(addr(SRS_SIP), bye.as_bytes()));
    s.world.run_until(Time::from_secs(1));
    // A session, re-INVITEd (the SRS's remote CSeq is then 2), then an INFO with CSeq 1
    // in its dialog: lower than the dialog's, so 500.
    let (sdp, xml) = rfc_vector_parts();
    src(&mut s, |n, now| n.invite(now, &sdp, Some(&xml)));
    s.world.run_until(Time::from_secs(3));
    src(&mut s, |n, now| {
        n.reinvite(now, &sdp_variant(&sdp, "sendonly", 2))
    });
    s.world.run_until(Time::from_secs(5));
    let ok = {
        let n = s.world.node_mut::<TestSrc>(s.src).expect("src");
        let (_, _, _, ok) = n
            .responses
            .iter()
            .find(|(_, code, m, _)| *code == 200 && *m == Method::Invite)
            .expect("the session was answered")
            .clone();
        ok
    };
    let h = |name: &str| ok.header_value(name).expect("header").to_owned();
    let info = format!(
        "INFO sip:srs@{SRS_SIP} SIP/2.0\r\nVia: SIP/2.0/UDP {SRC_SIP};branch=z9hG4bK-lowcseq\r\n\
         Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 INFO\r\n\
         Content-Length: 0\r\n\r\n",
        h("From"),
        h("To"),
        h("Call-ID")
    );
    src(&mut s, |n, _| n.send_raw(addr(SRS_SIP), info.as_bytes()));
    s.world.run_until(Time::from_secs(6));
    let obs = s.world.take_observations();
    let answered = |method: Method| -> Vec<u16> {
        srs_sent(&obs)
            .iter()
            .filter(|m| m.cseq().is_ok_and(|c| c.method == method))
            .filter_map(SipMessage::status)
            .collect()
    };
    assert_eq!(answered(Method::Bye), vec![481]);
    assert_eq!(answered(Method::Info), vec![500]);
    let refused: Vec<(u16, String, String)> = obs
        .iter()
        .filter(|o| o.actor == Actor::Srs)
        .filter_map(|o| match &o.event {
            Event::SipRefused {
                status,
                reason,
                message,
                ..
            } => Some((
                *status,
                reason.clone(),
                String::from_utf8_lossy(&message.to_bytes()).into_owned(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, 481);
    assert!(refused[0].1.contains("§12.2.2"), "{refused:?}");
    assert!(refused[0].2.starts_with("BYE "), "the bytes are kept");
    assert_eq!(refused[1].0, 500);
    assert!(refused[1].1.contains("CSeq 1 is lower"), "{refused:?}");
    assert!(refused[1].2.starts_with("INFO "));
}
