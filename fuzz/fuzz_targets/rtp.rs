//! RTP datagrams: `rtp::parse` with a serialise/re-parse round trip, a receiver fed a
//! sequence of datagrams, and telephone-event payloads.
//!
//! Input layout: a sequence of records `[len: u8][arrival step in ms: u8][len bytes]`, each
//! one datagram (the last one is cut short if the input ends).
//!
//! Asserts: no panic (overflow checks on with `-a`); a parsed packet serialises and parses
//! back to the same packet (every field but rtc-rtp's `extensions_padding` bookkeeping,
//! see below), and serialising that again gives the same bytes; receiver statistics stay
//! consistent (missing <= expected, loss fraction within 0..=1, jitter finite and
//! non-negative); every datagram is either accepted or counted as rejected.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_media::dtmf::{DtmfReceiver, TelephoneEvent};
use recproof_media::rtp::{self, RtpEvent, RtpReceiver};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let mut receiver = RtpReceiver::new(8000);
    let mut dtmf = DtmfReceiver::new();
    let mut arrival = Duration::ZERO;
    let mut rest = data;
    let mut datagrams = 0u64;
    let mut accepted = 0u64;
    while let [len, step, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (datagram, tail) = tail.split_at(n);
        rest = tail;
        arrival += Duration::from_millis(u64::from(*step));
        datagrams += 1;

        if let Ok(pkt) = rtp::parse(datagram) {
            let _ = pkt.to_string();
            if let Ok(bytes) = rtp::serialize(&pkt) {
                let mut again = rtp::parse(&bytes).unwrap_or_else(|e| {
                    panic!("serialised packet does not parse again: {e}\n{pkt:?}\n{bytes:?}")
                });
                // rtc-rtp records how many zero bytes padded the header extension it read
                // and computes its own padding when writing: that count is the only field
                // allowed to change, and the second serialisation must equal the first.
                let reserialised = rtp::serialize(&again).expect("re-serialise");
                assert_eq!(reserialised, bytes, "RTP serialisation is not stable");
                again.header.extensions_padding = pkt.header.extensions_padding;
                assert_eq!(again, pkt, "RTP round trip changed the packet");
            }
            if let Ok(ev) = TelephoneEvent::parse(&pkt.payload) {
                let back = TelephoneEvent::parse(&ev.to_bytes()).expect("4 bytes parse");
                assert_eq!(back, ev);
            }
        }
        if receiver.handle_datagram(arrival, datagram).is_ok() {
            accepted += 1;
        }
        while let Some(event) = receiver.poll_event() {
            if let RtpEvent::Packet(p) = event {
                let _ = dtmf.handle(p.ts, &p.payload);
            }
        }
    }
    dtmf.finish();
    while dtmf.poll_event().is_some() {}

    assert_eq!(accepted + receiver.rejected(), datagrams);
    for s in receiver.stats() {
        assert!(s.missing <= s.expected, "{s:?}");
        let loss = s.loss_fraction();
        assert!((0.0..=1.0).contains(&loss), "loss fraction {loss}: {s:?}");
        assert!(s.jitter_ms.is_finite() && s.jitter_ms >= 0.0, "{s:?}");
        assert!(s.max_jitter_ms >= s.jitter_ms, "{s:?}");
        assert!(s.first_arrival <= s.last_arrival, "{s:?}");
    }
    let _ = receiver.ssrc_changes();
});
