//! `SessionDescription::parse` on arbitrary bytes, every `MediaView` method, and a
//! write/re-parse round trip.
//!
//! Asserts: no panic; `to_bytes()` of a parsed description parses again with the same
//! number of m-lines, the same ports and directions, and writes the same bytes again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_sip::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse(data) else {
        return;
    };
    let _ = (sdp.session_connection(), sdp.session_direction());
    let media = sdp.media();
    for m in &media {
        let _ = (
            m.is_declined(),
            m.is_zero_address(),
            m.payload_types(),
            m.codecs(),
        );
        let _ = (
            m.direction.answer(),
            m.direction.sends(),
            m.direction.receives(),
        );
        for c in m.codecs() {
            let _ = (c.payload_type(), c.rtpmap());
        }
    }
    let bytes = sdp.to_bytes();
    let again = SessionDescription::parse(&bytes).unwrap_or_else(|e| {
        panic!(
            "written SDP does not parse again: {e}\n{:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let media2 = again.media();
    assert_eq!(media2.len(), media.len(), "m-line count changed");
    for (a, b) in media.iter().zip(&media2) {
        assert_eq!((a.port, a.direction), (b.port, b.direction));
    }
    assert_eq!(again.to_bytes(), bytes, "writing is not stable");
});
