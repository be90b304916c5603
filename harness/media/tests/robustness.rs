//! Policy: a panic on input a peer or a vendor controls is a bug in recproof, never bad
//! input. Every byte-slice parser and every detector is fed arbitrary data here.

use std::sync::Arc;

use proptest::prelude::*;
use recproof_media::dtmf::{DtmfReceiver, TelephoneEvent};
use recproof_media::pcap::{PcapWriter, read_datagrams};
use recproof_media::rtp::{self, RtpReceiver};
use recproof_media::signal::{DecoderConfig, FrameDecoder, Modem, SignalConfig};
use recproof_media::tone::{ToneConfig, ToneDetector};
use recproof_media::{analysis, wav};

fn valid_pcap() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new()).expect("writer");
    let a = "10.1.1.1:4000".parse().expect("addr");
    let b = "10.1.1.2:4002".parse().expect("addr");
    for i in 0..3u8 {
        w.write_udp(
            std::time::Duration::from_millis(u64::from(i) * 20),
            a,
            b,
            &[0x80, 0, 0, i, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF],
        )
        .expect("write");
    }
    w.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn rtp_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = rtp::parse(&bytes);
        let mut rx = RtpReceiver::new(8000);
        let _ = rx.handle_datagram(std::time::Duration::ZERO, &bytes);
        let _ = TelephoneEvent::parse(&bytes);
        let _ = DtmfReceiver::new().handle(0, &bytes);
    }

    #[test]
    fn rtp_parse_with_valid_header_prefix_never_panics(
        b0 in 0x80u8..=0xBF, rest in proptest::collection::vec(any::<u8>(), 0..120)
    ) {
        let mut bytes = vec![b0];
        bytes.extend(rest);
        let _ = rtp::parse(&bytes);
    }

    #[test]
    fn pcap_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_datagrams(&bytes);
    }

    #[test]
    fn mutated_pcap_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut bytes = valid_pcap();
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        let n = bytes.len();
        bytes.truncate(cut % (n + 1));
        let _ = read_datagrams(&bytes);
        let _ = analysis::analyze_bytes("fuzz", &bytes, &analysis::AnalysisConfig::default());
    }

    #[test]
    fn pcapng_like_input_never_panics(rest in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = vec![0x0A, 0x0D, 0x0D, 0x0A];
        bytes.extend(rest);
        let _ = read_datagrams(&bytes);
    }

    #[test]
    fn wav_reader_never_panics(rest in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = b"RIFF\x00\x01\x00\x00WAVEfmt ".to_vec();
        bytes.extend(&rest);
        let _ = wav::read_wav(&bytes);
        let _ = wav::read_wav(&rest);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn detectors_never_panic_on_arbitrary_audio(
        pcm in proptest::collection::vec(any::<i16>(), 0..3000),
        first in 0u64..1_000_000_000,
        jumps in proptest::collection::vec(0u64..50_000, 0..4),
    ) {
        let modem = Arc::new(Modem::new(&SignalConfig::default()).expect("config"));
        let mut dec = FrameDecoder::new(modem, DecoderConfig::default());
        let mut tone = ToneDetector::new(ToneConfig::for_freqs(&[440.0, 480.0, 1400.0]));
        let mut at = first;
        for (i, chunk) in pcm.chunks(500).enumerate() {
            dec.push(at, chunk);
            tone.push(at, chunk);
            at += chunk.len() as u64 + jumps.get(i).copied().unwrap_or(0);
            // Also step backwards once.
            if i == 1 {
                dec.push(first, chunk);
                tone.push(first, chunk);
            }
        }
        dec.finish();
        tone.finish();
        while dec.poll_event().is_some() {}
        while tone.poll_event().is_some() {}
    }
}
