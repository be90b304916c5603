//! `pcap::read_datagrams` over arbitrary bytes (pcap and pcapng, every link type, IP
//! fragment reassembly), then what the harness does with a capture: each datagram as RTP
//! and as SIP, and the datagrams written back with `PcapWriter`.
//!
//! Asserts: no panic (overflow checks on with `-a`); datagrams written back to a pcap with
//! `PcapWriter` read back as the same datagrams (timestamps cut to the writer's
//! microseconds), without truncation or skipped records.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_media::pcap::{PcapWriter, read_datagrams};
use recproof_media::rtp;
use recproof_sip::SipMessage;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(capture) = read_datagrams(data) else {
        return;
    };
    for d in &capture.datagrams {
        let _ = rtp::parse(&d.payload);
        let _ = SipMessage::parse(d.payload.clone()).map(|m| m.call_id().map(str::to_owned));
    }

    // Write back what the pcap format can hold: 32-bit seconds, payloads that fit one
    // unfragmented IP packet.
    let writable: Vec<_> = capture
        .datagrams
        .iter()
        .filter(|d| d.ts.as_secs() <= u64::from(u32::MAX) && d.payload.len() <= 65_000)
        .collect();
    let mut writer = PcapWriter::new(Vec::new()).expect("writing to a Vec");
    for d in &writable {
        writer
            .write_udp(d.ts, d.src, d.dst, &d.payload)
            .unwrap_or_else(|e| panic!("cannot write back a datagram that was read: {e}"));
    }
    let bytes = writer.into_inner();
    let again = read_datagrams(&bytes).expect("a written capture reads back");
    assert!(!again.truncated && again.skipped == 0, "{again:?}");
    assert_eq!(again.datagrams.len(), writable.len());
    for (a, d) in again.datagrams.iter().zip(&writable) {
        let micros = Duration::new(d.ts.as_secs(), d.ts.subsec_micros() * 1000);
        assert_eq!((a.ts, a.src, a.dst), (micros, d.src, d.dst));
        assert_eq!(a.payload, d.payload);
    }
});
