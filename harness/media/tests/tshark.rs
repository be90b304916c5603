//! The pcap writer's output must be readable by the tools reviewers use: tshark decodes
//! it as SIP and RTP (RTP found through the SDP in the SIP messages, as Wireshark does).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use recproof_media::g711::Law;
use recproof_media::pcap::{PcapWriter, read_datagrams};
use recproof_media::rtp::{RtpSender, Ssrc};
use recproof_media::synth::tone;

fn sdp(ip: &str, port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
}

fn sip(start: &str, from_tag: &str, cseq: &str, body: Option<&str>) -> Vec<u8> {
    let body = body.unwrap_or("");
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n\
         From: <sip:alice@example.com>;tag={from_tag}\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: recproof-tshark-1\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\n\
         Contact: <sip:alice@10.0.0.1:5060>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn build() -> Vec<u8> {
    let a_sip: SocketAddr = "10.0.0.1:5060".parse().expect("addr");
    let b_sip: SocketAddr = "10.0.0.2:5060".parse().expect("addr");
    let a_rtp: SocketAddr = "10.0.0.1:40000".parse().expect("addr");
    let b_rtp: SocketAddr = "10.0.0.2:40002".parse().expect("addr");
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let t = |ms: u64| Duration::from_secs(1_750_000_000) + Duration::from_millis(ms);
    let offer = sdp("10.0.0.1", 40000);
    let answer = sdp("10.0.0.2", 40002);
    w.write_udp(
        t(0),
        a_sip,
        b_sip,
        &sip(
            "INVITE sip:bob@example.com SIP/2.0",
            "a1",
            "1 INVITE",
            Some(&offer),
        ),
    )
    .expect("invite");
    w.write_udp(
        t(50),
        b_sip,
        a_sip,
        &sip("SIP/2.0 200 OK", "a1", "1 INVITE", Some(&answer)),
    )
    .expect("200");
    w.write_udp(
        t(60),
        a_sip,
        b_sip,
        &sip("ACK sip:bob@example.com SIP/2.0", "a1", "1 ACK", None),
    )
    .expect("ack");
    let audio = Law::Ulaw.encode(&tone(1000.0, -20.0, 160 * 50));
    let mut tx_a = RtpSender::new(Ssrc(0xA), 0, 1000, 0);
    let mut tx_b = RtpSender::new(Ssrc(0xB), 0, 65_530, 123_456);
    for (k, chunk) in audio.chunks(160).enumerate() {
        let at = t(100 + 20 * k as u64);
        w.write_udp(at, a_rtp, b_rtp, &tx_a.packetize(chunk, 160).expect("rtp"))
            .expect("write");
        w.write_udp(
            at + Duration::from_millis(3),
            b_rtp,
            a_rtp,
            &tx_b.packetize(chunk, 160).expect("rtp"),
        )
        .expect("write");
    }
    w.write_udp(
        t(1200),
        a_sip,
        b_sip,
        &sip("BYE sip:bob@example.com SIP/2.0", "a1", "2 BYE", None),
    )
    .expect("bye");
    w.into_inner()
}

#[test]
fn tshark_decodes_sip_and_rtp() {
    let bytes = build();
    // Our own reader agrees first.
    let cap = read_datagrams(&bytes).expect("readable");
    assert_eq!(cap.datagrams.len(), 4 + 100);
    if !testkit::tool("tshark", "--version") {
        return;
    }
    let tshark = "tshark";
    let dir = std::env::temp_dir().join(format!("recproof-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("call.pcap");
    std::fs::write(&path, &bytes).expect("write pcap");
    let out = Command::new(tshark)
        .args(["-n", "-r"])
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "rtp.seq",
            "-e",
            "rtp.ssrc",
        ])
        .output()
        .expect("run tshark");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 104, "{text}");
    let sip_lines: Vec<&&str> = lines.iter().filter(|l| l.contains(":sip")).collect();
    assert_eq!(sip_lines.len(), 4, "{text}");
    for m in ["INVITE", "ACK", "BYE"] {
        assert!(sip_lines.iter().any(|l| l.contains(m)), "no {m}: {text}");
    }
    assert!(
        sip_lines.iter().any(|l| l.contains("200")),
        "no 200 OK: {text}"
    );
    let rtp: Vec<&&str> = lines.iter().filter(|l| l.contains(":rtp")).collect();
    assert_eq!(rtp.len(), 100, "RTP not decoded via SDP: {text}");
    // Sequence numbers as sent, wrap included.
    assert!(rtp.iter().any(|l| l.contains("\t65535\t")));
    assert!(rtp.iter().any(|l| l.contains("\t0\t")));
}

/// SIP over TCP as the writer lays it out: tshark reassembles a message that spans
/// several segments (a 100 KB INVITE) and decodes each message once, both directions.
#[test]
fn tshark_reassembles_sip_over_tcp() {
    if !testkit::tool("tshark", "--version") {
        return;
    }
    let a: SocketAddr = "10.0.0.1:5060".parse().expect("addr");
    let b: SocketAddr = "10.0.0.2:5060".parse().expect("addr");
    let t = |ms: u64| Duration::from_secs(1_750_000_000) + Duration::from_millis(ms);
    let mut big = sdp("10.0.0.1", 40000);
    big.push_str(&format!("a=x-pad:{}\r\n", "p".repeat(100_000)));
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    w.write_tcp(
        t(0),
        a,
        b,
        &sip(
            "INVITE sip:bob@example.com SIP/2.0",
            "a",
            "1 INVITE",
            Some(&big),
        ),
    )
    .expect("invite");
    w.write_tcp(t(5), b, a, &sip("SIP/2.0 200 OK", "a", "1 INVITE", None))
        .expect("200");
    w.write_tcp(
        t(9),
        a,
        b,
        &sip("BYE sip:bob@example.com SIP/2.0", "a", "2 BYE", None),
    )
    .expect("bye");
    let bytes = w.into_inner();
    let dir = std::env::temp_dir().join(format!("recproof-tshark-tcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tcp.pcap");
    std::fs::write(&path, &bytes).expect("write pcap");
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "tcp.reassembled.length",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one decoded message each: {text}");
    assert!(lines[0].starts_with("INVITE"), "{text}");
    let reassembled: usize = lines[0]
        .split('\t')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("the INVITE was reassembled from segments");
    assert!(reassembled > 100_000, "{text}");
    assert!(lines[1].contains("200"), "{text}");
    assert!(lines[2].starts_with("BYE"), "{text}");
}
