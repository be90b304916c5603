//! Stream framing: where one SIP message ends in a TCP byte stream (RFC 3261 §18.3).
//!
//! On a stream transport, Content-Length is mandatory and is the only way to find the end
//! of a message. This module owns that rule and nothing else: it never parses headers
//! beyond Content-Length and never reads a socket. A peer that sends an endless header
//! section, a huge or missing Content-Length, or garbage gets a [`FrameError`] after a
//! bounded amount of input, so a driver can record the bytes and close the connection
//! instead of buffering forever.

use crate::message::{MAX_BODY_BYTES, MAX_HEAD_BYTES, expand_compact, find_head_end};

/// What the buffer holds so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Only keep-alive CRLFs (RFC 5626 §3.5.1) of this length: drop them.
    KeepAlive(usize),
    /// A complete message occupies the first `len` bytes.
    Complete {
        /// Length of the message, head and body.
        len: usize,
    },
    /// More bytes are needed.
    Incomplete,
}

/// The stream cannot be framed; the connection should be closed after recording it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header section grew beyond [`MAX_HEAD_BYTES`] without an empty line.
    #[error("no end of headers within {MAX_HEAD_BYTES} bytes")]
    HeadTooLong,
    /// No Content-Length header: mandatory on stream transports.
    #[error("no Content-Length header, which is mandatory on stream transports (RFC 3261 §18.3)")]
    MissingContentLength,
    /// Content-Length is not a number, or larger than [`MAX_BODY_BYTES`].
    #[error("unusable Content-Length `{0}`")]
    BadContentLength(String),
}

/// Looks at the start of a stream buffer and says whether a whole message is there.
pub fn frame(buf: &[u8]) -> Result<Frame, FrameError> {
    let crlf = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if crlf > 0 {
        return Ok(Frame::KeepAlive(crlf));
    }
    let Some((head_end, body_start)) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD_BYTES {
            Err(FrameError::HeadTooLong)
        } else {
            Ok(Frame::Incomplete)
        };
    };
    if head_end > MAX_HEAD_BYTES {
        return Err(FrameError::HeadTooLong);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let declared = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| {
            let name = name.trim();
            name.eq_ignore_ascii_case("Content-Length")
                || expand_compact(name) == Some("Content-Length")
        })
        .map(|(_, value)| value.trim().to_owned())
        .ok_or(FrameError::MissingContentLength)?;
    let len: usize = declared
        .parse()
        .map_err(|_| FrameError::BadContentLength(declared.clone()))?;
    if len > MAX_BODY_BYTES {
        return Err(FrameError::BadContentLength(declared));
    }
    let total = body_start + len;
    Ok(if buf.len() >= total {
        Frame::Complete { len: total }
    } else {
        Frame::Incomplete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_back_to_back_messages_and_keepalives() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(one);
        stream.extend_from_slice(one);
        assert_eq!(frame(&stream), Ok(Frame::KeepAlive(4)));
        let rest = &stream[4..];
        assert_eq!(frame(rest), Ok(Frame::Complete { len: one.len() }));
        assert_eq!(
            frame(&rest[one.len()..]),
            Ok(Frame::Complete { len: one.len() })
        );
        for cut in 0..one.len() {
            let got = frame(&one[..cut]);
            assert!(
                matches!(got, Ok(Frame::Incomplete) | Ok(Frame::KeepAlive(_))),
                "{cut}: {got:?}"
            );
        }
    }

    #[test]
    fn hostile_streams_are_refused_after_bounded_input() {
        assert_eq!(
            frame(b"BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"),
            Err(FrameError::MissingContentLength)
        );
        assert_eq!(
            frame(b"BYE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"),
            Err(FrameError::BadContentLength("-1".into()))
        );
        assert!(matches!(
            frame(b"BYE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n"),
            Err(FrameError::BadContentLength(_))
        ));
        let endless = vec![b'a'; MAX_HEAD_BYTES + 1];
        assert_eq!(frame(&endless), Err(FrameError::HeadTooLong));
    }
}
