//! The hostile-SUT corpus against `recproof srs` on real loopback sockets: 60 cases of
//! what a broken or hostile peer sends (malformed start lines, folded and duplicated
//! headers, bad UTF-8, lying Content-Lengths, huge and endless bodies, a 5,000-character
//! boundary, 1,000 parts, an entity-expansion document, deep XML, 10,000 m-lines, RTP
//! with a CSRC count of 15 and a lying extension length, an SSRC spray, responses to
//! nothing, a retransmission storm, requests matching no dialog, a short flood).
//!
//! For every case: the process stays up; afterwards a valid session is still taken and
//! its media recorded; the process's peak RSS stays under [`RSS_BOUND_KB`]; and the log
//! holds the findings about the peer with its bytes (`sip_malformed`, `sip_refused`,
//! `rtp_malformed`), bounded in number. The table of cases and outcomes is printed
//! (`cargo test -p recproof --test hostile_corpus -- --nocapture`). The long flood
//! (100,000 datagrams/s for 5 s) belongs in a benchmark; here the flood is 10,000
//! datagrams, bounded.
//!
//! Over TCP (`tcp_corpus`, against both processes run with a 1 s message timeout and 16
//! connections per peer): slow-loris heads and bodies, half-open and silent connections,
//! unframeable streams (no or lying Content-Length, an endless head, random bytes), a
//! 1 MB body, 50 pipelined requests, a half-close, a response to nothing, and 40
//! connections at once; each is closed with a finding carrying the bytes, or answered.
//!
//! The harness's own phones and recorder as the target: a hostile platform answers the
//! harness caller's INVITE with the whole corpus (about 35,000 datagrams at the caller,
//! callee and recorder of a `recproof check --sut` process), which must stay up, bounded,
//! log findings with the bytes, and judge the SUT failed.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak resident memory `recproof srs` may reach over the whole corpus.
const RSS_BOUND_KB: u64 = 200 * 1024;

/// One case: its name, what it sends (to the SIP port, or to a recorded stream's RTP
/// port), and a Call-ID it carries when it is SIP (to find its answer).
struct Case {
    name: String,
    to_rtp: bool,
    datagrams: Vec<Vec<u8>>,
}

fn sip_case(name: &str, bytes: Vec<u8>) -> Case {
    Case {
        name: name.to_owned(),
        to_rtp: false,
        datagrams: vec![bytes],
    }
}

/// A request with a Call-ID of its own; `extra` headers and `body` as given, and a
/// Content-Length of the body's length unless `extra` sets one.
fn request(method: &str, n: usize, extra: &str, body: &[u8]) -> Vec<u8> {
    let cl = if extra.to_ascii_lowercase().contains("content-length") {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let mut v = format!(
        "{method} sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-c{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:src@127.0.0.1>;tag=c{n}\r\nTo: <sip:srs@127.0.0.1>\r\n\
         Call-ID: corpus-{n}@127.0.0.1\r\nCSeq: 1 {method}\r\nContact: <sip:src@127.0.0.1:9>\r\n\
         {extra}{cl}\r\n"
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn sdp(port: u16, mlines: usize, port_zero: bool) -> String {
    let mut s =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n".to_owned();
    for k in 0..mlines {
        let p = if port_zero { 0 } else { port + 2 * k as u16 };
        s.push_str(&format!(
            "m=audio {p} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=label:{}\r\na=sendonly\r\n",
            k + 1
        ));
    }
    s
}

fn multipart(boundary: &str, parts: usize, close: bool) -> Vec<u8> {
    let mut b = String::new();
    for _ in 0..parts {
        b.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/sdp\r\n\r\n{}\r\n",
            sdp(30_000, 1, false)
        ));
    }
    if close {
        b.push_str(&format!("--{boundary}--\r\n"));
    }
    b.into_bytes()
}

fn rtp(ssrc: u32, seq: u16, first: u8, tail: &[u8]) -> Vec<u8> {
    let mut v = vec![first, 0];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(tail);
    v
}

fn corpus() -> Vec<Case> {
    let mut c = Vec::new();
    let mut n = 0usize;
    let mut next = || {
        n += 1;
        n
    };
    // Start lines.
    for (name, bytes) in [
        ("empty datagram", Vec::new()),
        ("CRLF only", b"\r\n\r\n".to_vec()),
        ("method only", b"INVITE\r\n\r\n".to_vec()),
        ("no version", b"INVITE sip:srs@127.0.0.1\r\n\r\n".to_vec()),
        (
            "SIP/3.0",
            b"INVITE sip:srs@127.0.0.1 SIP/3.0\r\nCall-ID: x\r\n\r\n".to_vec(),
        ),
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "status line without reason",
            b"SIP/2.0 200\r\n\r\n".to_vec(),
        ),
        ("NUL bytes", vec![0u8; 512]),
        (
            "random bytes",
            (0..1400u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        (
            "10,000-character Request-URI",
            format!(
                "INVITE sip:{}@127.0.0.1 SIP/2.0\r\n\r\n",
                "a".repeat(10_000)
            )
            .into_bytes(),
        ),
    ] {
        c.push(sip_case(name, bytes));
    }
    // Headers.
    c.push(sip_case(
        "folded header",
        request("OPTIONS", next(), "Subject: one\r\n two\r\n", b""),
    ));
    c.push(sip_case(
        "duplicated Call-ID",
        request("OPTIONS", next(), "Call-ID: second@x\r\n", b""),
    ));
    c.push(sip_case(
        "duplicated CSeq",
        request("OPTIONS", next(), "CSeq: 9 OPTIONS\r\n", b""),
    ));
    c.push(sip_case(
        "CSeq not a number",
        String::from_utf8_lossy(&request("OPTIONS", next(), "", b""))
            .replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS")
            .into_bytes(),
    ));
    c.push(sip_case(
        "no Via",
        String::from_utf8_lossy(&request("OPTIONS", next(), "", b""))
            .lines()
            .filter(|l| !l.starts_with("Via:"))
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes(),
    ));
    c.push(sip_case(
        "no Call-ID",
        String::from_utf8_lossy(&request("OPTIONS", next(), "", b""))
            .lines()
            .filter(|l| !l.starts_with("Call-ID:"))
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes(),
    ));
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    c.push(sip_case(
        "300 header fields",
        request("OPTIONS", next(), &many, b""),
    ));
    c.push(sip_case(
        "a 60 KB header",
        request(
            "OPTIONS",
            next(),
            &format!("X-Big: {}\r\n", "b".repeat(60_000)),
            b"",
        ),
    ));
    let mut bad_utf8 = request("OPTIONS", next(), "Subject: \u{1}\r\n", b"");
    if let Some(p) = bad_utf8.iter().position(|&b| b == 1) {
        bad_utf8[p] = 0xFF;
    }
    c.push(sip_case("bad UTF-8 in a header", bad_utf8));
    let vias: String = (0..2_000)
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 10.0.0.{}:5060;branch=z9hG4bK-v{i}\r\n",
                i % 250
            )
        })
        .collect();
    c.push(sip_case(
        "2,000 Via headers",
        request("OPTIONS", next(), &vias, b""),
    ));
    c.push(sip_case(
        "Max-Forwards 0",
        String::from_utf8_lossy(&request("OPTIONS", next(), "", b""))
            .replace("Max-Forwards: 70", "Max-Forwards: 0")
            .into_bytes(),
    ));
    c.push(sip_case(
        "compact header forms",
        b"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-compact\r\n\
          f: <sip:src@127.0.0.1>;tag=cf\r\nt: <sip:srs@127.0.0.1>\r\ni: compact@x\r\n\
          CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"
            .to_vec(),
    ));
    c.push(sip_case(
        "tabs and extra spaces in the request line",
        b"OPTIONS\tsip:srs@127.0.0.1   SIP/2.0\r\nCall-ID: tabs\r\n\r\n".to_vec(),
    ));
    c.push(sip_case(
        "header without a colon",
        request("OPTIONS", next(), "NoColonHere\r\n", b""),
    ));
    // Content-Length.
    let body = sdp(30_000, 2, false);
    for (name, cl) in [
        ("Content-Length short", "Content-Length: 10\r\n".to_owned()),
        ("Content-Length long", "Content-Length: 5000\r\n".to_owned()),
        (
            "Content-Length negative",
            "Content-Length: -5\r\n".to_owned(),
        ),
        (
            "Content-Length huge",
            "Content-Length: 99999999\r\n".to_owned(),
        ),
        (
            "Content-Length not a number",
            "Content-Length: lots\r\n".to_owned(),
        ),
    ] {
        c.push(sip_case(
            name,
            request(
                "INVITE",
                next(),
                &format!("Content-Type: application/sdp\r\n{cl}"),
                body.as_bytes(),
            ),
        ));
    }
    // Bodies.
    c.push(sip_case(
        "a 60 KB SDP body",
        request(
            "INVITE",
            next(),
            "Content-Type: application/sdp\r\n",
            format!("{body}a={}\r\n", "x".repeat(60_000)).as_bytes(),
        ),
    ));
    c.push(sip_case(
        "multipart with no end",
        request(
            "INVITE",
            next(),
            "Content-Type: multipart/mixed;boundary=b1\r\n",
            &multipart("b1", 2, false),
        ),
    ));
    c.push(sip_case(
        "multipart of 1,000 parts",
        request(
            "INVITE",
            next(),
            "Content-Type: multipart/mixed;boundary=b2\r\n",
            &multipart("b2", 1000, true)[..60_000.min(multipart("b2", 1000, true).len())],
        ),
    ));
    let long = "z".repeat(5_000);
    c.push(sip_case(
        "a 5,000-character boundary",
        request(
            "INVITE",
            next(),
            &format!("Content-Type: multipart/mixed;boundary={long}\r\n"),
            &multipart(&long, 2, true),
        ),
    ));
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]><recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">&d;&d;&d;&d;</recording>";
    let mut mp = format!(
        "--b3\r\nContent-Type: application/sdp\r\n\r\n{body}\r\n--b3\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n{bomb}\r\n--b3--\r\n"
    );
    c.push(sip_case(
        "entity-expansion metadata",
        request(
            "INVITE",
            next(),
            "Content-Type: multipart/mixed;boundary=b3\r\nRequire: siprec\r\n",
            mp.as_bytes(),
        ),
    ));
    let deep = format!(
        "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">{}{}</recording>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    mp = format!(
        "--b4\r\nContent-Type: application/sdp\r\n\r\n{body}\r\n--b4\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n{deep}\r\n--b4--\r\n"
    );
    c.push(sip_case(
        "XML nested 10,000 deep",
        request(
            "INVITE",
            next(),
            "Content-Type: multipart/mixed;boundary=b4\r\n",
            mp.as_bytes(),
        ),
    ));
    let huge_sdp = sdp(30_000, 10_000, false);
    c.push(sip_case(
        "SDP with 10,000 m-lines",
        request(
            "INVITE",
            next(),
            "Content-Type: application/sdp\r\n",
            &huge_sdp.as_bytes()[..huge_sdp.len().min(60_000)],
        ),
    ));
    c.push(sip_case(
        "SDP with port 0 everywhere",
        request(
            "INVITE",
            next(),
            "Content-Type: application/sdp\r\n",
            sdp(0, 4, true).as_bytes(),
        ),
    ));
    c.push(sip_case(
        "SDP that is not SDP",
        request(
            "INVITE",
            next(),
            "Content-Type: application/sdp\r\n",
            b"this is not sdp at all",
        ),
    ));
    c.push(sip_case(
        "body of an unknown type",
        request("INVITE", next(), "Content-Type: text/plain\r\n", b"hello"),
    ));
    // Dialogs and transactions.
    c.push(sip_case(
        "a 200 OK to no transaction",
        String::from_utf8_lossy(&request("OPTIONS", next(), "", b""))
            .replacen("OPTIONS sip:srs@127.0.0.1 SIP/2.0", "SIP/2.0 200 OK", 1)
            .into_bytes(),
    ));
    c.push(sip_case(
        "a 180 to no transaction",
        String::from_utf8_lossy(&request("INVITE", next(), "", b""))
            .replacen("INVITE sip:srs@127.0.0.1 SIP/2.0", "SIP/2.0 180 Ringing", 1)
            .into_bytes(),
    ));
    for method in ["BYE", "UPDATE", "INFO", "NOTIFY", "PRACK", "REFER"] {
        c.push(sip_case(
            &format!("{method} outside any dialog"),
            request(method, next(), "", b""),
        ));
    }
    c.push(sip_case(
        "BYE with tags matching no dialog",
        String::from_utf8_lossy(&request("BYE", next(), "", b""))
            .replace(
                "To: <sip:srs@127.0.0.1>",
                "To: <sip:srs@127.0.0.1>;tag=nobody",
            )
            .into_bytes(),
    ));
    c.push(sip_case(
        "ACK matching nothing",
        request("ACK", next(), "", b""),
    ));
    c.push(sip_case(
        "CANCEL matching nothing",
        request("CANCEL", next(), "", b""),
    ));
    c.push(sip_case(
        "unknown method",
        request("FROBNICATE", next(), "", b""),
    ));
    let storm = request(
        "INVITE",
        next(),
        "Content-Type: application/sdp\r\n",
        sdp(30_100, 2, false).as_bytes(),
    );
    c.push(Case {
        name: "retransmission storm (one INVITE 500 times)".to_owned(),
        to_rtp: false,
        datagrams: vec![storm; 500],
    });
    let bogus: Vec<Vec<u8>> = (0..375)
        .map(|i| {
            String::from_utf8_lossy(&request("BYE", next(), "", b""))
                .replace(
                    "To: <sip:srs@127.0.0.1>",
                    &format!("To: <sip:srs@127.0.0.1>;tag=t{i}"),
                )
                .into_bytes()
        })
        .collect();
    c.push(Case {
        name: "375 distinct bogus dialogs".to_owned(),
        to_rtp: false,
        datagrams: bogus,
    });
    // RTP at a recorded stream.
    for (name, bytes) in [
        ("RTP version 0", rtp(1, 1, 0x00, &[0xFF; 160])),
        (
            "RTP CSRC count 15, packet too short",
            rtp(1, 2, 0x8F, &[0; 8]),
        ),
        (
            "RTP extension length lying",
            rtp(1, 3, 0x90, &[0xBE, 0xDE, 0xFF, 0xFF, 0, 0]),
        ),
        ("RTP padding longer than the packet", {
            let mut p = rtp(1, 4, 0xA0, &[0; 10]);
            if let Some(last) = p.last_mut() {
                *last = 200;
            }
            p
        }),
        ("RTCP on the RTP port", {
            let mut p = vec![0x80, 200, 0, 6];
            p.extend_from_slice(&[0; 24]);
            p
        }),
        ("a 3-byte datagram on the RTP port", vec![0x80, 0, 1]),
    ] {
        c.push(Case {
            name: name.to_owned(),
            to_rtp: true,
            datagrams: vec![bytes],
        });
    }
    c.push(Case {
        name: "SSRC spray (2,000 SSRCs)".to_owned(),
        to_rtp: true,
        datagrams: (0..2_000u32)
            .map(|s| rtp(0x1000 + s, 1, 0x80, &[0xFF; 160]))
            .collect(),
    });
    c.push(Case {
        name: "RTP with seq and timestamp jumping".to_owned(),
        to_rtp: true,
        datagrams: (0..200u16)
            .map(|i| rtp(7, i.wrapping_mul(9973), 0x80, &[0xFF; 160]))
            .collect(),
    });
    c.push(Case {
        name: "flood: 10,000 random datagrams".to_owned(),
        to_rtp: false,
        datagrams: (0..10_000u32)
            .map(|i| {
                (0..200u32)
                    .map(|k| ((i * 31 + k * 17) % 256) as u8)
                    .collect()
            })
            .collect(),
    });
    c
}

/// The Call-ID of a SIP text, if it has one (long or compact form).
fn call_id_of(text: &str) -> Option<&str> {
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name == "i").then(|| value.trim())
    })
}

/// Sends the datagrams and waits up to `wait` for answers; returns the first final
/// status of a response carrying the case's own Call-ID (the first datagram's), so a
/// late answer to an earlier case is never taken for this one's.
fn send(sock: &UdpSocket, to: SocketAddr, datagrams: &[Vec<u8>], wait: Duration) -> Option<u16> {
    for d in datagrams {
        let _ = sock.send_to(d, to);
    }
    let own = datagrams
        .first()
        .and_then(|d| call_id_of(&String::from_utf8_lossy(d)).map(str::to_owned))?;
    let until = Instant::now() + wait;
    let mut buf = [0u8; 65_535];
    let mut first = None;
    while Instant::now() < until {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            if first.is_none()
                && call_id_of(&text) == Some(own.as_str())
                && let Some(code) = text
                    .strip_prefix("SIP/2.0 ")
                    .and_then(|r| r.get(..3))
                    .and_then(|c| c.parse::<u16>().ok())
                && code >= 200
            {
                first = Some(code);
            }
        }
    }
    first
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A valid session: an SDP INVITE (taken in the emulator's default mode) with two
/// sendonly streams; returns the final status and the ports of the SDP answer.
fn valid_session(sock: &UdpSocket, to: SocketAddr, case: usize) -> (Option<u16>, Vec<u16>) {
    let invite = request(
        "INVITE",
        case,
        "Content-Type: application/sdp\r\n",
        sdp(30_200, 2, false).as_bytes(),
    );
    let _ = sock.send_to(&invite, to);
    let until = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 65_535];
    while Instant::now() < until {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0 200")
                && call_id_of(&text) == Some(&format!("corpus-{case}@127.0.0.1"))
            {
                let to_tag = text
                    .lines()
                    .find(|l| l.starts_with("To:"))
                    .unwrap_or("To: <sip:srs@127.0.0.1>")
                    .to_owned();
                let ack = String::from_utf8_lossy(&request("ACK", case, "", b""))
                    .replace("To: <sip:srs@127.0.0.1>", to_tag.trim())
                    .replace("z9hG4bK-c", "z9hG4bK-ack");
                let _ = sock.send_to(ack.as_bytes(), to);
                let ports = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("m=audio "))
                    .filter_map(|r| r.split_whitespace().next()?.parse().ok())
                    .collect();
                return (Some(200), ports);
            }
            if call_id_of(&text) == Some(&format!("corpus-{case}@127.0.0.1"))
                && let Some(code) = text
                    .strip_prefix("SIP/2.0 ")
                    .and_then(|r| r.get(..3)?.parse::<u16>().ok())
                && code >= 300
            {
                return (Some(code), Vec::new());
            }
        }
    }
    (None, Vec::new())
}

/// Waits until the process has bound its SIP port (our own bind of it fails), at most
/// 10 s, and a moment more; false when it never did.
fn wait_bound(sip: u16) -> bool {
    let ready = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", sip)).is_ok() {
        if Instant::now() >= ready {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    true
}

/// Ends the process with SIGINT, so its log is complete, and waits (10 s at most).
fn stop(mut child: common::KillOnDrop) {
    let pid = child.0.id();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A socket of our own to send the cases from.
fn sender() -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    sock
}

#[test]
fn the_recorder_survives_sixty_hostile_cases_logs_them_and_still_records() {
    // Our socket first: an ephemeral port taken later could land in a port range handed
    // to a process that has not bound it yet.
    let sock = sender();
    let dir = tempfile::tempdir().expect("tempdir");
    let sip = common::free_udp_port();
    let rtp = common::free_port_range(800);
    let child = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args([
            "srs",
            "--listen",
            &format!("127.0.0.1:{sip}"),
            "--rtp-port-base",
            &rtp.to_string(),
            "--rtp-port-count",
            "400",
            "--out",
            dir.path().to_str().expect("utf-8"),
            "--duration",
            "120",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start recproof srs");
    let guard = common::KillOnDrop(child);
    assert!(
        wait_bound(sip),
        "recproof did not bind its SIP port within 10 s"
    );
    let pid = guard.0.id();
    let to: SocketAddr = format!("127.0.0.1:{sip}").parse().expect("addr");

    // A session to aim the RTP cases at.
    let (code, ports) = valid_session(&sock, to, 90_000);
    assert_eq!(code, Some(200), "the first valid session is taken");
    let rtp_to: SocketAddr = format!("127.0.0.1:{}", ports[0]).parse().expect("addr");

    let cases = corpus();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut problems = Vec::new();
    println!("{:<48} {:>8} {:>10}", "case", "answer", "alive");
    for (k, case) in cases.iter().enumerate() {
        let target = if case.to_rtp { rtp_to } else { to };
        let answer = send(&sock, target, &case.datagrams, Duration::from_millis(150));
        let alive = std::fs::metadata(format!("/proc/{pid}")).is_ok()
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false);
        println!(
            "{:<48} {:>8} {:>10}",
            case.name,
            answer.map_or("-".to_owned(), |c| c.to_string()),
            alive
        );
        if !alive {
            problems.push(format!("recproof srs died on case {k}: {}", case.name));
            break;
        }
    }
    // A valid session right after, taken as ever.
    let (code, ports) = valid_session(&sock, to, 90_001);
    if code != Some(200) || ports.len() != 2 {
        problems.push(format!(
            "the valid session after the corpus got {code:?} with ports {ports:?}"
        ));
    }
    let rss = peak_rss_kb(pid).unwrap_or(0);
    println!("peak RSS of recproof srs: {} MB", rss / 1024);
    if rss > RSS_BOUND_KB {
        problems.push(format!(
            "peak RSS {rss} kB over the {RSS_BOUND_KB} kB bound"
        ));
    }
    // Stopped cleanly so the log is complete.
    stop(guard);
    let log = std::fs::read_to_string(dir.path().join("observations.jsonl")).expect("log");
    let lines = log.lines().count();
    let count = |kind: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("\"event\":\"{kind}\"")))
            .count()
    };
    let (malformed, refused, rtp_bad) = (
        count("sip_malformed"),
        count("sip_refused"),
        count("rtp_malformed"),
    );
    println!(
        "log: {lines} lines; sip_malformed {malformed}, sip_refused {refused}, rtp_malformed {rtp_bad}"
    );
    if malformed < 20 {
        problems.push(format!("only {malformed} sip_malformed findings"));
    }
    if refused < 6 {
        problems.push(format!("only {refused} sip_refused findings"));
    }
    if rtp_bad == 0 {
        problems.push("no rtp_malformed finding".to_owned());
    }
    // The corpus sends about 15,000 datagrams; a flood is logged at most 20 lines a
    // second (the rest counted in one line), so the log stays far below one line each.
    if lines > 5_000 {
        problems.push(format!(
            "the log grew to {lines} lines: floods are not bounded"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// An OPTIONS of its own Call-ID answered 200: the process still handles SIP.
fn options_answered(sock: &UdpSocket, to: SocketAddr, case: usize) -> Option<u16> {
    send(
        sock,
        to,
        &[request("OPTIONS", case, "", b"")],
        Duration::from_millis(1500),
    )
}

#[test]
fn the_platform_survives_the_sip_cases_logs_them_and_still_answers() {
    let sock = sender();
    let dir = tempfile::tempdir().expect("tempdir");
    let sip = common::free_udp_port();
    let rtp = common::free_port_range(128);
    let log = dir.path().join("platform.jsonl");
    let config = format!(
        "{}/../../scenarios/org-dubber-default.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let guard = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_recproof"))
            .args([
                "platform",
                "--config",
                &config,
                "--listen",
                &format!("127.0.0.1:{sip}"),
                "--rtp-port-base",
                &rtp.to_string(),
                "--rtp-port-count",
                "64",
                "--directory",
                "2001=127.0.0.1:9",
                "--duration",
                "120",
                "--log",
                log.to_str().expect("utf-8"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start recproof platform"),
    );
    assert!(
        wait_bound(sip),
        "recproof did not bind its SIP port within 10 s"
    );
    let pid = guard.0.id();
    let to: SocketAddr = format!("127.0.0.1:{sip}").parse().expect("addr");
    assert_eq!(options_answered(&sock, to, 91_000), Some(200), "up before");
    let mut problems = Vec::new();
    let cases: Vec<Case> = corpus().into_iter().filter(|c| !c.to_rtp).collect();
    println!("{:<48} {:>8}", "case (recproof platform)", "answer");
    for case in &cases {
        let answer = send(&sock, to, &case.datagrams, Duration::from_millis(100));
        println!(
            "{:<48} {:>8}",
            case.name,
            answer.map_or("-".to_owned(), |c| c.to_string())
        );
        if std::fs::metadata(format!("/proc/{pid}")).is_err() {
            problems.push(format!("recproof platform died on {}", case.name));
            break;
        }
    }
    if options_answered(&sock, to, 91_001) != Some(200) {
        problems.push("an OPTIONS after the corpus was not answered 200".to_owned());
    }
    let rss = peak_rss_kb(pid).unwrap_or(0);
    println!("peak RSS of recproof platform: {} MB", rss / 1024);
    if rss > RSS_BOUND_KB {
        problems.push(format!(
            "peak RSS {rss} kB over the {RSS_BOUND_KB} kB bound"
        ));
    }
    stop(guard);
    let text = std::fs::read_to_string(&log).expect("log");
    let lines = text.lines().count();
    let malformed = text.matches("\"event\":\"sip_malformed\"").count();
    let refused = text.matches("\"event\":\"sip_refused\"").count();
    println!("log: {lines} lines; sip_malformed {malformed}, sip_refused {refused}");
    if malformed < 20 || refused < 6 {
        problems.push(format!(
            "findings missing: {malformed} sip_malformed, {refused} sip_refused"
        ));
    }
    if lines > 8_000 {
        problems.push(format!(
            "the log grew to {lines} lines: floods are not bounded"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One TCP case: what it does to a fresh connection (or several), and what the SUT
/// process must have done about it.
struct TcpCase {
    name: &'static str,
    /// Bytes written at once on connecting (nothing: a silent connection).
    send: Vec<u8>,
    /// Finish sending (FIN) after writing, keep reading.
    half_close: bool,
    /// What must happen: the process closes the connection (a bound or unframeable
    /// bytes), or answers with this many final responses and keeps it open.
    expect: TcpExpect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpExpect {
    /// Closed by the process within the given time, nothing answered.
    Closed(Duration),
    /// This many final responses arrive over the connection.
    Answers(usize),
}

/// The TCP cases: what a broken or hostile stream peer does.
fn tcp_corpus() -> Vec<TcpCase> {
    let mut big = request(
        "OPTIONS",
        95_000,
        "Content-Type: text/plain\r\n",
        &vec![b'x'; 1 << 20],
    );
    big.extend_from_slice(b"");
    let mut pipelined = Vec::new();
    for k in 0..50 {
        pipelined.extend_from_slice(&request("OPTIONS", 95_100 + k, "", b""));
        pipelined.extend_from_slice(b"\r\n\r\n");
    }
    let quick = Duration::from_millis(800);
    // The processes run with --tcp-message-timeout 1.
    let timeout = Duration::from_millis(2_500);
    vec![
        TcpCase {
            name: "slow-loris: half a head, then nothing",
            send: b"INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9".to_vec(),
            half_close: false,
            expect: TcpExpect::Closed(timeout),
        },
        TcpCase {
            name: "slow-loris: a head, half a body",
            send: request("OPTIONS", 95_001, "Content-Length: 100\r\n", b"half"),
            half_close: false,
            expect: TcpExpect::Closed(timeout),
        },
        TcpCase {
            name: "half-open: connects, never sends",
            send: Vec::new(),
            half_close: false,
            expect: TcpExpect::Closed(timeout),
        },
        TcpCase {
            name: "no Content-Length on a stream",
            send: b"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nCall-ID: tcp-nocl\r\n\r\n".to_vec(),
            half_close: false,
            expect: TcpExpect::Closed(quick),
        },
        TcpCase {
            name: "Content-Length 99999999",
            send: request("OPTIONS", 95_002, "Content-Length: 99999999\r\n", b""),
            half_close: false,
            expect: TcpExpect::Closed(quick),
        },
        TcpCase {
            name: "Content-Length -1",
            send: request("OPTIONS", 95_003, "Content-Length: -1\r\n", b""),
            half_close: false,
            expect: TcpExpect::Closed(quick),
        },
        TcpCase {
            name: "an endless head (70 KB, no empty line)",
            send: [
                &b"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\n"[..],
                &b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1_000),
            ]
            .concat(),
            half_close: false,
            expect: TcpExpect::Closed(quick),
        },
        TcpCase {
            name: "random bytes on the SIP port",
            send: (0..4_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            half_close: false,
            expect: TcpExpect::Closed(timeout),
        },
        TcpCase {
            name: "a 1 MB body",
            send: big,
            half_close: false,
            expect: TcpExpect::Answers(1),
        },
        TcpCase {
            name: "50 requests pipelined in one write, keep-alives between",
            send: pipelined,
            half_close: false,
            expect: TcpExpect::Answers(50),
        },
        TcpCase {
            name: "a request, then half-close (FIN)",
            send: request("OPTIONS", 95_004, "", b""),
            half_close: true,
            expect: TcpExpect::Answers(1),
        },
        TcpCase {
            name: "a response to no transaction",
            send: b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-none\r\nCall-ID: tcp-none\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nContent-Length: 0\r\n\r\n".to_vec(),
            half_close: true,
            expect: TcpExpect::Answers(0),
        },
    ]
}

/// Final responses (status >= 200) in a stream of SIP bytes.
fn final_responses(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .match_indices("SIP/2.0 ")
        .filter(|(i, _)| {
            let text = String::from_utf8_lossy(bytes);
            text.get(i + 8..i + 11)
                .and_then(|c| c.parse::<u16>().ok())
                .is_some_and(|c| c >= 200)
        })
        .count()
}

/// Runs one TCP case against `to`: returns what came back and whether the process closed
/// the connection within `within` (reading stops early once the answers the case
/// expects have come, and 100 ms more passed for any extra).
fn tcp_case(to: SocketAddr, case: &TcpCase, within: Duration) -> (Vec<u8>, bool) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(to).expect("connect");
    if !case.send.is_empty() {
        let _ = s.write_all(&case.send);
    }
    if case.half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut until = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 65_536];
    let mut settling = false;
    while Instant::now() < until {
        if let TcpExpect::Answers(n) = case.expect
            && n > 0
            && !settling
            && final_responses(&got) >= n
        {
            settling = true;
            until = until.min(Instant::now() + Duration::from_millis(100));
        }
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

/// Runs the TCP cases and a connection flood against a process listening on `to`; returns
/// the problems found.
fn run_tcp_corpus(what: &str, to: SocketAddr, pid: u32) -> Vec<String> {
    let mut problems = Vec::new();
    println!(
        "{:<56} {:>9} {:>8}",
        format!("TCP case ({what})"),
        "answers",
        "closed"
    );
    for case in tcp_corpus() {
        let within = match case.expect {
            TcpExpect::Closed(t) => t,
            TcpExpect::Answers(_) => Duration::from_millis(2_500),
        };
        let (got, closed) = tcp_case(to, &case, within);
        let answers = final_responses(&got);
        println!("{:<56} {:>9} {:>8}", case.name, answers, closed);
        match case.expect {
            TcpExpect::Closed(_) if !closed || answers > 0 => problems.push(format!(
                "{what}: `{}`: expected the connection closed with no answer, got {answers} answers, closed {closed}",
                case.name
            )),
            TcpExpect::Answers(n) if answers != n => problems.push(format!(
                "{what}: `{}`: expected {n} answers, got {answers}",
                case.name
            )),
            _ => {}
        }
        if std::fs::metadata(format!("/proc/{pid}")).is_err() {
            problems.push(format!("{what} died on `{}`", case.name));
            return problems;
        }
    }
    // A connection flood: 40 at once from one address, 16 allowed per peer.
    let flood: Vec<std::net::TcpStream> = (0..40)
        .filter_map(|_| std::net::TcpStream::connect(to).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = flood
        .iter()
        .filter(|s| {
            use std::io::Read;
            s.set_read_timeout(Some(Duration::from_millis(20))).ok();
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Ok(0))
        })
        .count();
    println!(
        "{:<56} {:>9} {:>8}",
        "40 connections at once (16 per peer allowed)", "-", refused
    );
    if refused != 24 {
        problems.push(format!(
            "{what}: {refused} of 40 connections closed at once, expected 24"
        ));
    }
    drop(flood);
    problems
}

#[test]
fn tcp_peers_are_bounded_logged_and_the_processes_still_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tcp_bounds = ["--tcp-message-timeout", "1", "--tcp-max-per-peer", "16"];
    let (srs_sip, platform_sip) = (common::free_udp_port(), common::free_udp_port());
    let rtp = common::free_port_range(64);
    let platform_rtp = common::free_port_range(128);
    let config = format!(
        "{}/../../scenarios/org-dubber-default.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let platform_log = dir.path().join("platform.jsonl");
    let start = |args: Vec<String>| {
        common::KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_recproof"))
                .args(args)
                .args(tcp_bounds)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start recproof"),
        )
    };
    let srs = start(
        [
            "srs",
            "--listen",
            &format!("127.0.0.1:{srs_sip}"),
            "--rtp-port-base",
            &rtp.to_string(),
            "--rtp-port-count",
            "30",
            "--out",
            dir.path().to_str().expect("utf-8"),
            "--duration",
            "120",
        ]
        .map(String::from)
        .to_vec(),
    );
    let platform = start(
        [
            "platform",
            "--config",
            &config,
            "--listen",
            &format!("127.0.0.1:{platform_sip}"),
            "--rtp-port-base",
            &platform_rtp.to_string(),
            "--rtp-port-count",
            "64",
            "--directory",
            "2001=127.0.0.1:9",
            "--duration",
            "120",
            "--log",
            platform_log.to_str().expect("utf-8"),
        ]
        .map(String::from)
        .to_vec(),
    );
    assert!(
        wait_bound(srs_sip) && wait_bound(platform_sip),
        "both bound"
    );
    let mut problems = Vec::new();
    for (what, port, child) in [
        ("recproof srs", srs_sip, &srs),
        ("recproof platform", platform_sip, &platform),
    ] {
        let to: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        problems.extend(run_tcp_corpus(what, to, child.0.id()));
        // Still serving, over TCP and over UDP.
        let ok = TcpCase {
            name: "an OPTIONS after the corpus",
            send: request("OPTIONS", 95_900, "", b""),
            half_close: false,
            expect: TcpExpect::Answers(1),
        };
        let (got, _) = tcp_case(to, &ok, Duration::from_millis(1_000));
        if !String::from_utf8_lossy(&got).starts_with("SIP/2.0 200") {
            problems.push(format!(
                "{what}: an OPTIONS over TCP after the corpus got {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        if options_answered(&sender(), to, 95_901) != Some(200) {
            problems.push(format!(
                "{what}: an OPTIONS over UDP after the corpus was not answered 200"
            ));
        }
        let rss = peak_rss_kb(child.0.id()).unwrap_or(0);
        println!("peak RSS of {what}: {} MB", rss / 1024);
        if rss > RSS_BOUND_KB {
            problems.push(format!(
                "{what}: peak RSS {rss} kB over the {RSS_BOUND_KB} kB bound"
            ));
        }
    }
    stop(srs);
    stop(platform);
    // Every closed case is a finding with the peer's bytes, from the harness's transport.
    for (what, log) in [
        ("recproof srs", dir.path().join("observations.jsonl")),
        ("recproof platform", platform_log),
    ] {
        let text = std::fs::read_to_string(&log).expect("log");
        let findings: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|o| o["event"] == "sip_malformed" && o["transport"] == "tcp")
            .collect();
        let reasons: Vec<&str> = findings
            .iter()
            .filter_map(|o| o["reason"].as_str())
            .collect();
        println!(
            "{what}: {} TCP findings, {} log lines",
            findings.len(),
            text.lines().count()
        );
        for needle in [
            "a message begun did not arrive whole",
            "a first message did not arrive whole",
            "no Content-Length",
            "unusable Content-Length",
            "no end of headers",
            "connection refused",
        ] {
            if !reasons.iter().any(|r| r.contains(needle)) {
                problems.push(format!("{what}: no finding about `{needle}`: {reasons:?}"));
            }
        }
        let slow = findings
            .iter()
            .find(|o| {
                o["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("a message begun"))
            })
            .map(|o| o["message"]["text"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        if !slow.starts_with("INVITE sip:srs@127.0.0.1") && !slow.starts_with("OPTIONS sip:srs@") {
            problems.push(format!(
                "{what}: the slow-loris finding does not carry the bytes: {slow:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The harness's own phones and recorder as the target: a hostile "platform" (this test,
/// on the SUT's address) takes the harness caller's INVITE and answers it with the whole
/// corpus, sent to the caller's and callee's SIP addresses, the harness recorder's, and
/// the caller's RTP address, plus lying answers to the INVITE. The `recproof check --sut`
/// process must stay up, stay under the RSS bound, log what it got as findings about the
/// peer with the bytes (bounded), and judge the SUT failed: exit 1 with a results file,
/// never a crash and never a pass.
#[test]
fn the_harness_phones_survive_a_hostile_platform_and_judge_it_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sut = UdpSocket::bind("127.0.0.1:0").expect("bind the hostile SUT");
    sut.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let sut_port = sut.local_addr().expect("addr").port();
    let (caller, callee, srs) = (
        common::free_udp_port(),
        common::free_udp_port(),
        common::free_udp_port(),
    );
    let (caller_rtp, callee_rtp, srs_rtp) = (
        common::free_port_range(4),
        common::free_port_range(4),
        common::free_port_range(32),
    );
    let profile = dir.path().join("hostile.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: hostile platform\nsut:\n  sip: 127.0.0.1:{sut_port}\nharness:\n  answer_wait_s: 4\n  caller: {{ sip: \"127.0.0.1:{caller}\", rtp: \"127.0.0.1:{caller_rtp}\" }}\n  callee: {{ sip: \"127.0.0.1:{callee}\", rtp: \"127.0.0.1:{callee_rtp}\" }}\n  recorders:\n    Dubber: {{ sip: \"127.0.0.1:{srs}\", rtp_port_base: {srs_rtp} }}\naudio:\n  reminder_tone_hz: 1400\n  beep_hz: 1000\ndialect: broadworks-compat\ncaller: \"+4722000001\"\nusers:\n  - {{ extension: \"2001\", provider: Dubber, mode: Always, start_stop_announcement: true, reminder: \"off\", record_voicemail: false }}\n"
        ),
    )
    .expect("write profile");
    let out = dir.path().join("run");
    let mut check = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_recproof"))
            .args([
                "check",
                &common::features(""),
                "--sut",
                profile.to_str().expect("utf-8"),
                "--tags",
                "@external and @POL-04",
                "--out",
                out.to_str().expect("utf-8"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start recproof check"),
    );
    let pid = check.0.id();
    // Wait for the harness caller's INVITE.
    let mut buf = [0u8; 65_535];
    let until = Instant::now() + Duration::from_secs(15);
    let mut invite = None;
    while invite.is_none() && Instant::now() < until {
        if let Ok((n, from)) = sut.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("INVITE ") {
                invite = Some((text, from));
            }
        }
    }
    let (invite, from) = invite.expect("the harness caller sent an INVITE");
    // Lying answers: a 200 with no headers to speak of, one with a Content-Length past
    // its end, one whose SDP has 10,000 m-lines, on the INVITE's own Call-ID.
    let call_id = call_id_of(&invite).unwrap_or_default().to_owned();
    let lies = [
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        format!("SIP/2.0 200 OK\r\nCall-ID: {call_id}\r\nContent-Length: 900\r\n\r\nv=0")
            .into_bytes(),
        format!(
            "SIP/2.0 200 OK\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            sdp(30_000, 10_000, false).len(),
            sdp(30_000, 10_000, false)
        )
        .into_bytes(),
    ];
    let mut sent = 0usize;
    for lie in &lies {
        let _ = sut.send_to(lie, from);
        sent += 1;
    }
    let at = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().expect("addr") };
    for case in corpus() {
        let targets = if case.to_rtp {
            vec![at(caller_rtp)]
        } else {
            vec![at(caller), at(callee), at(srs)]
        };
        for to in targets {
            for d in &case.datagrams {
                let _ = sut.send_to(d, to);
                sent += 1;
            }
        }
    }
    let rss = peak_rss_kb(pid).unwrap_or(0);
    let alive_after_corpus = std::fs::metadata(format!("/proc/{pid}")).is_ok();
    // Let it finish the scenario (the answer wait, then the verdicts).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = check.0.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        // Keep draining what the harness sends us, so its retransmissions end.
        let _ = sut.recv_from(&mut buf);
    };
    println!(
        "hostile platform: {sent} datagrams at the harness; check process peak RSS {} MB; exit {status:?}",
        rss / 1024
    );
    let mut problems = Vec::new();
    if !alive_after_corpus {
        problems.push("recproof check died during the corpus".to_owned());
    }
    if rss > RSS_BOUND_KB {
        problems.push(format!(
            "peak RSS {rss} kB over the {RSS_BOUND_KB} kB bound"
        ));
    }
    match status.map(|s| s.code()) {
        Some(Some(1)) => {}
        other => problems.push(format!(
            "expected exit 1 (the SUT judged failed), got {other:?}"
        )),
    }
    let results: serde_json::Value = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let scenarios = results["scenarios"].as_array().cloned().unwrap_or_default();
    if scenarios.is_empty() || scenarios.iter().any(|s| s["status"] == "passed") {
        problems.push(format!("a hostile SUT must fail its scenarios: {results}"));
    }
    let log = std::fs::read_to_string(out.join("observations.jsonl")).unwrap_or_default();
    let lines = log.lines().count();
    let found = |actor: &str| {
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|o| o["actor"] == actor && o["event"] == "sip_malformed")
            .filter(|o| {
                o["message"]["text"].as_str().is_some_and(|t| !t.is_empty())
                    || o["message"]["base64"].is_string()
            })
            .count()
    };
    let (at_caller, at_callee, at_srs) = (found("caller"), found("callee"), found("srs"));
    println!(
        "log: {lines} lines; sip_malformed with bytes: caller {at_caller}, callee {at_callee}, srs {at_srs}"
    );
    if at_caller == 0 || at_callee == 0 || at_srs == 0 {
        problems.push("each harness role logs findings about the peer, with its bytes".to_owned());
    }
    if lines > 20_000 {
        problems.push(format!(
            "the log grew to {lines} lines for {sent} datagrams: not bounded"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
