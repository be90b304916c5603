//! Capture import throughput (criterion): how fast `recproof judge CAPTURE.pcap` reads a
//! capture into an observation log. Timing belongs here, never in unit tests.
//!
//! The capture is one 60 s call as recproof's evidence pcap would hold it: the caller
//! leg, the callee leg and a two-stream recording session, each party's RTP (G.711, 20 ms)
//! sent once and forwarded to the other party and to the recorder, so 18,000 RTP
//! datagrams. Two audio kinds: recproof's instrumented party signal (every frame decoded
//! for who spoke and when) and speech-like noise (a real network's capture: sound only).
//! The figure is RTP datagrams imported per second, on one core.
//!
//! Run: `cargo bench -p recproof-benches --bench import`

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use media::g711::Law;
use media::pcap::PcapWriter;
use media::signal::{Modem, PartyId, PartySource, SignalConfig};
use media::synth::speech_like;

const SECONDS: usize = 60;
const FRAMES: usize = SECONDS * 50;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn sdp(ip: &str, ports: &[(u16, &str)]) -> String {
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for (port, label) in ports {
        s.push_str(&format!("m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"));
        if !label.is_empty() {
            s.push_str(&format!("a=label:{label}\r\n"));
        }
    }
    s
}

fn message(
    start: &str,
    via: &str,
    call_id: &str,
    to_tag: &str,
    ctype: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "{start}\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{call_id}\r\nFrom: <sip:1001@10.0.0.10>;tag=a\r\nTo: <sip:2001@10.0.0.1>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{via}>\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The capture of one call whose parties send `caller` and `callee` (8 kHz PCM).
fn capture(caller: &[i16], callee: &[i16]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let t0 = Duration::from_secs(1_800_000_000);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let (c, e, s, p) = (
        addr("10.0.0.10:5060"),
        addr("10.0.0.11:5060"),
        addr("10.0.1.1:5060"),
        addr("10.0.0.1:5060"),
    );
    let sdp_t = "application/sdp";
    let inv = "INVITE sip:2001@10.0.0.1 SIP/2.0";
    let ok = "SIP/2.0 200 OK";
    let mut put =
        |ms, from, to, bytes: Vec<u8>| w.write_udp(at(ms), from, to, &bytes).expect("write");
    put(
        0,
        c,
        p,
        message(
            inv,
            "10.0.0.10:5060",
            "a",
            "",
            sdp_t,
            &sdp("10.0.0.10", &[(30000, "")]),
        ),
    );
    put(
        5,
        p,
        e,
        message(
            inv,
            "10.0.0.1:5060",
            "b",
            "",
            sdp_t,
            &sdp("10.0.0.1", &[(40000, "")]),
        ),
    );
    put(
        500,
        e,
        p,
        message(
            ok,
            "10.0.0.1:5060",
            "b",
            ";tag=b",
            sdp_t,
            &sdp("10.0.0.11", &[(30010, "")]),
        ),
    );
    put(
        505,
        p,
        c,
        message(
            ok,
            "10.0.0.10:5060",
            "a",
            ";tag=b",
            sdp_t,
            &sdp("10.0.0.1", &[(40002, "")]),
        ),
    );
    let meta = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><participant><nameID aor=\"sip:1001@10.0.0.10\"/></participant></recording>";
    let body = format!(
        "--b\r\nContent-Type: application/sdp\r\n\r\n{}\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n{meta}\r\n--b--\r\n",
        sdp("10.0.0.1", &[(40010, "1"), (40012, "2")])
    );
    put(
        510,
        p,
        s,
        message(
            "INVITE sip:srs@10.0.1.1 SIP/2.0",
            "10.0.0.1:5060",
            "rs",
            "",
            "multipart/mixed;boundary=b",
            &body,
        ),
    );
    put(
        520,
        s,
        p,
        message(
            ok,
            "10.0.0.1:5060",
            "rs",
            ";tag=s",
            sdp_t,
            &sdp("10.0.1.1", &[(41000, "1"), (41002, "2")]),
        ),
    );
    let law = Law::Ulaw;
    for n in 0..FRAMES {
        let ms = 520 + n as u64 * 20;
        let packet = |pcm: &[i16], ssrc: u32| {
            let mut b = vec![0x80, 0x00];
            b.extend_from_slice(&(n as u16).to_be_bytes());
            b.extend_from_slice(&((n * 160) as u32).to_be_bytes());
            b.extend_from_slice(&ssrc.to_be_bytes());
            b.extend(law.encode(&pcm[n * 160..(n + 1) * 160]));
            b
        };
        let (a, b) = (packet(caller, 1), packet(callee, 2));
        // Each party sends; the platform forwards to the other party and the recorder.
        put(
            ms,
            addr("10.0.0.10:30000"),
            addr("10.0.0.1:40002"),
            a.clone(),
        );
        put(
            ms,
            addr("10.0.0.11:30010"),
            addr("10.0.0.1:40000"),
            b.clone(),
        );
        put(
            ms + 10,
            addr("10.0.0.1:40000"),
            addr("10.0.0.11:30010"),
            a.clone(),
        );
        put(
            ms + 10,
            addr("10.0.0.1:40002"),
            addr("10.0.0.10:30000"),
            b.clone(),
        );
        put(ms + 12, addr("10.0.0.1:40010"), addr("10.0.1.1:41000"), a);
        put(ms + 12, addr("10.0.0.1:40012"), addr("10.0.1.1:41002"), b);
    }
    w.into_inner()
}

fn import(c: &mut Criterion) {
    let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("default signal"));
    let instrumented = capture(
        &PartySource::new(modem.clone(), PartyId(1)).take(FRAMES),
        &PartySource::new(modem, PartyId(2)).take(FRAMES),
    );
    let speech = capture(
        &speech_like(1, FRAMES * 160, -20.0),
        &speech_like(2, FRAMES * 160, -20.0),
    );
    let cfg = import::ImportConfig {
        capture_name: "bench.pcap".into(),
        sut: vec![addr("10.0.0.1:5060")],
        ..Default::default()
    };
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements((FRAMES * 6) as u64));
    for (name, bytes) in [
        ("instrumented_60s_call", &instrumented),
        ("speech_60s_call", &speech),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let imported = import::import(black_box(bytes), &cfg).expect("import");
                assert_eq!(imported.calls.len(), 1);
                black_box(imported)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
