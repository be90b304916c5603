//! The importer on captures no SUT should ever send, and on a small well-formed call.
//!
//! Property: any mix of SIP-like text, broken SDP and random bytes over UDP and TCP
//! (split at random points, reordered, retransmitted) imports without a panic, into a
//! log that opens and closes as a run and whose times never go backwards. Example: a
//! caller leg, a callee leg and a recording session written as a capture come out as one
//! call with the SIP seen from each party's side and the recorder's stream named by its
//! label.

use media::pcap::PcapWriter;
use observe::{Actor, Event};
use proptest::prelude::*;
use recproof_import::{ImportConfig, import};
use std::net::SocketAddr;
use std::time::Duration;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

const SUT: &str = "10.0.0.1:5060";

fn cfg() -> ImportConfig {
    ImportConfig {
        capture_name: "test.pcap".into(),
        sut: vec![addr(SUT)],
        ..ImportConfig::default()
    }
}

fn invite(call_id: &str, to_user: &str, body_type: &str, body: &str) -> String {
    invite_from("10.0.0.1:5060", call_id, to_user, body_type, body)
}

fn invite_from(via: &str, call_id: &str, to_user: &str, body_type: &str, body: &str) -> String {
    format!(
        "INVITE sip:{to_user}@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{call_id}\r\nFrom: <sip:1001@10.0.0.10>;tag=a\r\nTo: <sip:{to_user}@10.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:x@10.0.0.10>\r\nContent-Type: {body_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn ok(call_id: &str, sdp: &str) -> String {
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call_id}\r\nFrom: <sip:1001@10.0.0.10>;tag=a\r\nTo: <sip:2001@10.0.0.1>;tag=b\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn sdp(ip: &str, ports: &[(u16, &str)]) -> String {
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for (port, label) in ports {
        s.push_str(&format!(
            "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ));
        if !label.is_empty() {
            s.push_str(&format!("a=label:{label}\r\n"));
        }
    }
    s
}

fn rtp(seq: u16, loud: bool) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[1, 2, 3, 4]);
    // PCMU: 0xFF is silence, 0x00 the loudest negative sample.
    p.extend(std::iter::repeat_n(if loud { 0x10 } else { 0xFF }, 160));
    p
}

#[test]
fn a_call_with_its_recording_session_imports_as_one_call() {
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let t = |ms: u64| Duration::from_millis(1_000_000 + ms);
    let (caller, callee, srs) = (
        addr("10.0.0.10:5060"),
        addr("10.0.0.11:5060"),
        addr("10.0.2.1:5060"),
    );
    let sut = addr(SUT);
    let caller_sdp = sdp("10.0.0.10", &[(30000, "")]);
    w.write_udp(
        t(0),
        caller,
        sut,
        invite_from(
            "10.0.0.10:5060",
            "leg-a",
            "2001",
            "application/sdp",
            &caller_sdp,
        )
        .as_bytes(),
    )
    .expect("w");
    // The SUT calls the callee (from its own address), who answers.
    w.write_udp(
        t(10),
        sut,
        callee,
        invite(
            "leg-b",
            "2001",
            "application/sdp",
            &sdp("10.0.0.1", &[(40000, "")]),
        )
        .as_bytes(),
    )
    .expect("w");
    w.write_udp(
        t(500),
        callee,
        sut,
        ok("leg-b", &sdp("10.0.0.11", &[(30010, "")])).as_bytes(),
    )
    .expect("w");
    w.write_udp(
        t(510),
        sut,
        caller,
        ok("leg-a", &sdp("10.0.0.1", &[(40002, "")])).as_bytes(),
    )
    .expect("w");
    // The recording session: metadata naming the caller, then the SRS's answer over TCP.
    let boundary = "b1";
    let body = format!(
        "--{boundary}\r\nContent-Type: application/sdp\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><participant><nameID aor=\"sip:1001@10.0.0.10\"/></participant></recording>\r\n--{boundary}--\r\n",
        sdp("10.0.0.1", &[(40010, "1"), (40012, "2")])
    );
    let rs = invite(
        "rs-1",
        "srs",
        &format!("multipart/mixed;boundary={boundary}"),
        &body,
    );
    let (first, second) = rs.as_bytes().split_at(100);
    w.write_tcp(t(520), sut, srs, first).expect("w");
    w.write_tcp(t(521), sut, srs, second).expect("w");
    w.write_tcp(
        t(600),
        srs,
        sut,
        ok("rs-1", &sdp("10.0.2.1", &[(41000, "1"), (41002, "2")])).as_bytes(),
    )
    .expect("w");
    for i in 0..50u16 {
        let at = t(700 + u64::from(i) * 20);
        w.write_udp(
            at,
            addr("10.0.0.1:40010"),
            addr("10.0.2.1:41000"),
            &rtp(i, true),
        )
        .expect("w");
        w.write_udp(
            at,
            addr("10.0.0.1:40002"),
            addr("10.0.0.10:30000"),
            &rtp(i, true),
        )
        .expect("w");
    }
    let imported = import(&w.into_inner(), &cfg()).expect("import");
    assert_eq!(imported.calls.len(), 1, "{:?}", imported.notes);
    let c = &imported.calls[0];
    assert_eq!((c.label.as_str(), c.recordings), ("call-0001", 1));
    assert_eq!(c.caller_call_id.as_deref(), Some("leg-a"));
    assert_eq!(c.audio, observe::CaptureAudio::Uninstrumented);
    let seen = |actor: Actor, sent: bool, start: &str| {
        imported.observations.iter().any(|o| {
            o.actor == actor
                && match &o.event {
                    Event::SipSent { message, .. } if sent => {
                        message.to_bytes().starts_with(start.as_bytes())
                    }
                    Event::SipReceived { message, .. } if !sent => {
                        message.to_bytes().starts_with(start.as_bytes())
                    }
                    _ => false,
                }
        })
    };
    assert!(seen(Actor::Caller, true, "INVITE"));
    assert!(seen(Actor::Caller, false, "SIP/2.0 200"));
    assert!(seen(Actor::Callee, false, "INVITE"));
    assert!(seen(Actor::Callee, true, "SIP/2.0 200"));
    assert!(
        seen(Actor::Srs, false, "INVITE"),
        "the RS INVITE, reassembled from two segments"
    );
    assert!(seen(Actor::Srs, true, "SIP/2.0 200"));
    let streams: Vec<&str> = imported
        .observations
        .iter()
        .filter_map(|o| match &o.event {
            Event::RtpStream { stream, .. } => Some(stream.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        streams.contains(&"srs.1") && streams.contains(&"caller.heard"),
        "{streams:?}"
    );
    assert!(imported.observations.iter().any(|o| matches!(
        &o.event,
        Event::MediaSegment { stream, source: observe::Source::Unknown, frames, .. } if stream == "srs.1" && *frames >= 45
    )));
    assert!(
        imported.observations.iter().any(
            |o| matches!(&o.event, Event::Metadata { rs_call_id, .. } if rs_call_id == "rs-1")
        )
    );
}

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (0u8..4, "[a-z0-9@.:;=<> -]{0,40}").prop_map(|(k, s)| {
            let text = match k {
                0 => invite(
                    &s,
                    &s,
                    "application/sdp",
                    &format!("v=0\r\nc=IN IP4 {s}\r\nm=audio {s} RTP/AVP 0\r\n"),
                ),
                1 => ok(&s, &s),
                2 => invite(
                    &s,
                    "2001",
                    "multipart/mixed;boundary=x",
                    &format!("--x\r\n{s}\r\n--x--"),
                ),
                _ => format!("BYE sip:{s} SIP/2.0\r\nCall-ID: {s}\r\nContent-Length: 0\r\n\r\n"),
            };
            text.into_bytes()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_capture_imports_without_panic(
        records in proptest::collection::vec((piece(), any::<bool>(), 0usize..6, 0u64..5_000, any::<u8>()), 0..40)
    ) {
        let hosts = ["10.0.0.1:5060", "10.0.0.10:5060", "10.0.2.1:5060", "10.0.0.1:40000", "10.0.0.10:30000", "[::1]:5060"];
        let mut w = PcapWriter::new(Vec::new()).expect("writer");
        for (bytes, tcp, h, ms, cut) in &records {
            let (src, dst) = (addr(hosts[*h]), addr(hosts[(*h + 1 + usize::from(*cut) % 4) % hosts.len()]));
            if src.is_ipv4() != dst.is_ipv4() {
                continue;
            }
            let at = Duration::from_millis(*ms);
            if *tcp {
                let k = usize::from(*cut) % (bytes.len() + 1);
                let _ = w.write_tcp(at, src, dst, &bytes[..k]);
                let _ = w.write_tcp(at, src, dst, &bytes[k..]);
            } else {
                let _ = w.write_udp(at, src, dst, bytes);
            }
        }
        let imported = import(&w.into_inner(), &cfg()).expect("a written capture imports");
        let obs = &imported.observations;
        let opens = matches!(obs.first().map(|o| &o.event), Some(Event::RunStarted { .. }));
        prop_assert!(opens, "the log opens with run_started");
        let closes = matches!(obs.last().map(|o| &o.event), Some(Event::RunEnded { .. }));
        prop_assert!(closes, "the log closes with run_ended");
        prop_assert!(obs[1..obs.len() - 1].windows(2).all(|w| w[0].t_us <= w[1].t_us));
    }

    #[test]
    fn any_bytes_import_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = import(&bytes, &cfg());
    }
}

/// SIPp's callee answers every call with one media port: concurrent calls' RTP to that
/// port is told apart by the SUT port it comes from (each call's own SDP).
#[test]
fn concurrent_calls_to_one_phone_port_stay_apart() {
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let t = |ms: u64| Duration::from_millis(2_000_000 + ms);
    let (caller, callee) = (addr("10.0.0.10:5060"), addr("10.0.0.11:5060"));
    let sut = addr(SUT);
    for (k, leg) in ["a", "b"].iter().enumerate() {
        let at = 100 * k as u64;
        let (cs, ce) = (format!("leg-{leg}1"), format!("leg-{leg}2"));
        let caller_sdp = sdp("10.0.0.10", &[(30000 + 2 * k as u16, "")]);
        w.write_udp(
            t(at),
            caller,
            sut,
            invite_from(
                "10.0.0.10:5060",
                &cs,
                "2001",
                "application/sdp",
                &caller_sdp,
            )
            .as_bytes(),
        )
        .expect("w");
        let sut_sdp = sdp("10.0.0.1", &[(40000 + 10 * k as u16, "")]);
        w.write_udp(
            t(at + 10),
            sut,
            callee,
            invite(&ce, "2001", "application/sdp", &sut_sdp).as_bytes(),
        )
        .expect("w");
        // The same callee media port for both calls.
        w.write_udp(
            t(at + 20),
            callee,
            sut,
            ok(&ce, &sdp("10.0.0.11", &[(30010, "")])).as_bytes(),
        )
        .expect("w");
        w.write_udp(
            t(at + 30),
            sut,
            caller,
            ok(&cs, &sdp("10.0.0.1", &[(40002 + 10 * k as u16, "")])).as_bytes(),
        )
        .expect("w");
    }
    // Only the first call's callee hears sound (from the SUT's port of that call).
    for i in 0..50u16 {
        let at = t(500 + u64::from(i) * 20);
        w.write_udp(
            at,
            addr("10.0.0.1:40000"),
            addr("10.0.0.11:30010"),
            &rtp(i, true),
        )
        .expect("w");
        w.write_udp(
            at,
            addr("10.0.0.1:40010"),
            addr("10.0.0.11:30010"),
            &rtp(i, false),
        )
        .expect("w");
    }
    let imported = import(&w.into_inner(), &cfg()).expect("import");
    assert_eq!(imported.calls.len(), 2, "{:?}", imported.notes);
    let sound = |label: &str| {
        imported.observations.iter().any(|o| {
            o.call.as_deref() == Some(label)
                && matches!(&o.event, Event::MediaSegment { stream, source: observe::Source::Unknown, .. } if stream == "callee.heard")
        })
    };
    assert!(
        sound("call-0001"),
        "the first call's callee heard its sound"
    );
    assert!(
        !sound("call-0002"),
        "the second call's silence is not the first call's sound"
    );
    assert_eq!(imported.calls[1].audio, observe::CaptureAudio::None);
}

/// RTP the importer cannot decode (SRTP, or a codec other than G.711) makes the call's
/// audio "undecoded", with a note naming the stream, never sound or silence.
#[test]
fn srtp_and_other_codecs_are_said_undecoded() {
    for (proto, pt) in [("RTP/SAVP", 0u8), ("RTP/AVP", 9u8)] {
        let mut w = PcapWriter::new(Vec::new()).expect("writer");
        let t = |ms: u64| Duration::from_millis(3_000_000 + ms);
        let (caller, sut) = (addr("10.0.0.10:5060"), addr(SUT));
        let caller_sdp = sdp("10.0.0.10", &[(30000, "")]).replace("RTP/AVP", proto);
        w.write_udp(
            t(0),
            caller,
            sut,
            invite_from(
                "10.0.0.10:5060",
                "c1",
                "2001",
                "application/sdp",
                &caller_sdp,
            )
            .as_bytes(),
        )
        .expect("w");
        w.write_udp(
            t(30),
            sut,
            caller,
            ok(
                "c1",
                &sdp("10.0.0.1", &[(40002, "")]).replace("RTP/AVP", proto),
            )
            .as_bytes(),
        )
        .expect("w");
        for i in 0..50u16 {
            let mut p = rtp(i, true);
            p[1] = pt;
            w.write_udp(
                t(100 + u64::from(i) * 20),
                addr("10.0.0.1:40002"),
                addr("10.0.0.10:30000"),
                &p,
            )
            .expect("w");
        }
        let imported = import(&w.into_inner(), &cfg()).expect("import");
        assert_eq!(imported.calls.len(), 1);
        assert_eq!(
            imported.calls[0].audio,
            observe::CaptureAudio::Undecoded,
            "{proto} {pt}"
        );
        let why = if pt == 9 {
            "payload type 9"
        } else {
            "encrypted"
        };
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("caller.heard") && n.contains(why)),
            "{:?}",
            imported.notes
        );
        assert!(
            !imported
                .observations
                .iter()
                .any(|o| matches!(o.event, Event::MediaSegment { .. }))
        );
    }
}

/// The same reading over IPv6: SIP with bracketed Via hosts, SDP `IN IP6`, RTP to a v6
/// address.
#[test]
fn an_ipv6_call_imports() {
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let t = |ms: u64| Duration::from_millis(4_000_000 + ms);
    let (caller, sut) = (addr("[2001:db8::10]:5060"), addr("[2001:db8::1]:5060"));
    let v6 = |ip: &str, port: u16| sdp(ip, &[(port, "")]).replace("IP4", "IP6");
    let inv = invite_from(
        "[2001:db8::10]:5060",
        "v6",
        "2001",
        "application/sdp",
        &v6("2001:db8::10", 30000),
    );
    w.write_udp(t(0), caller, sut, inv.as_bytes()).expect("w");
    w.write_udp(
        t(30),
        sut,
        caller,
        ok("v6", &v6("2001:db8::1", 40002)).as_bytes(),
    )
    .expect("w");
    for i in 0..50u16 {
        let at = t(100 + u64::from(i) * 20);
        w.write_udp(
            at,
            addr("[2001:db8::1]:40002"),
            addr("[2001:db8::10]:30000"),
            &rtp(i, true),
        )
        .expect("w");
    }
    let cfg = ImportConfig {
        sut: vec![sut],
        ..cfg()
    };
    let imported = import(&w.into_inner(), &cfg).expect("import");
    assert_eq!(imported.calls.len(), 1, "{:?}", imported.notes);
    assert_eq!(
        imported.calls[0].audio,
        observe::CaptureAudio::Uninstrumented
    );
    assert!(imported.observations.iter().any(|o| matches!(
        &o.event,
        Event::RtpStream { stream, remote, .. } if stream == "caller.heard" && remote == "[2001:db8::1]:40002"
    )));
}
