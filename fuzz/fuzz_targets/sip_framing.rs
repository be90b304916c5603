//! `framing::frame` on an arbitrary stream buffer, and `framing::Framer` fed the same
//! bytes in pieces.
//!
//! Asserts: no panic; `Complete { len }` and `KeepAlive(n)` stay within the buffer and are
//! not empty; a complete frame parses as a message whose body stays within it; framing
//! the rest of the buffer repeatedly terminates; the incremental framer, fed the bytes in
//! pieces whose sizes come from the first byte, returns exactly the messages (and the
//! same error, and the same bytes pending) that whole-buffer framing finds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recproof_sip::SipMessage;
use recproof_sip::framing::{Frame, Framer, frame};

fuzz_target!(|data: &[u8]| {
    let Some((&piece_seed, data)) = data.split_first() else {
        return;
    };
    let mut rest = data;
    let mut messages = Vec::new();
    // Each step consumes at least one byte, so this loop ends.
    let error = loop {
        if rest.is_empty() {
            break None;
        }
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
                messages.push(&rest[..len]);
                rest = &rest[len..];
            }
            Ok(Frame::Incomplete) => break None,
            Err(e) => break Some(e),
        }
    };
    let piece = usize::from(piece_seed % 64) + 1;
    let mut framer = Framer::new();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut got_error = None;
    'pieces: for chunk in data.chunks(piece) {
        framer.push(chunk);
        loop {
            match framer.next_message() {
                Ok(Some(m)) => got.push(m),
                Ok(None) => break,
                Err(e) => {
                    got_error = Some(e);
                    break 'pieces;
                }
            }
        }
    }
    assert_eq!(got, messages, "the framer and frame disagree on the messages");
    assert_eq!(got_error, error, "the framer and frame disagree on the error");
    if error.is_none() {
        assert_eq!(framer.pending(), rest, "the framer holds other bytes than frame left");
    }
});
