//! `framing::frame` on an arbitrary stream buffer.
//!
//! Asserts: no panic; `Complete { len }` and `KeepAlive(n)` stay within the buffer and are
//! not empty; a complete frame parses as a message whose body stays within it; framing
//! the rest of the buffer repeatedly terminates.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_sip::SipMessage;
use recproof_sip::framing::{Frame, frame};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    // Each step consumes at least one byte, so this loop ends.
    while !rest.is_empty() {
        match frame(rest) {
            Ok(Frame::KeepAlive(n)) => {
                assert!(n > 0 && n <= rest.len(), "keep-alive {n} of {}", rest.len());
                assert!(rest[..n].iter().all(|b| matches!(b, b'\r' | b'\n')));
                rest = &rest[n..];
            }
            Ok(Frame::Complete { len }) => {
                assert!(
                    len > 0 && len <= rest.len(),
                    "frame {len} of {}",
                    rest.len()
                );
                if let Ok(msg) = SipMessage::parse(rest[..len].to_vec()) {
                    assert!(msg.body_offset() + msg.body().len() <= len);
                }
                rest = &rest[len..];
            }
            Ok(Frame::Incomplete) | Err(_) => break,
        }
    }
});
