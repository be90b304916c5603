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
    Ok(match measure(buf, 0)? {
        Measure::KeepAlive(n) => Frame::KeepAlive(n),
        Measure::Total(total) if buf.len() >= total => Frame::Complete { len: total },
        Measure::Total(_) | Measure::HeadIncomplete => Frame::Incomplete,
    })
}

/// How much of a stream buffer the message at its start needs.
enum Measure {
    /// Only keep-alive CRLFs of this length.
    KeepAlive(usize),
    /// The header section is not complete yet.
    HeadIncomplete,
    /// The message is this long, head and body (the buffer may hold less).
    Total(usize),
}

/// Measures the message at the start of `buf`, searching for the end of its head from
/// `search_from` (the bytes before it are known not to hold one).
fn measure(buf: &[u8], search_from: usize) -> Result<Measure, FrameError> {
    let crlf = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if crlf > 0 {
        return Ok(Measure::KeepAlive(crlf));
    }
    let search_from = search_from.min(buf.len());
    let head = find_head_end(&buf[search_from..]).map(|(e, b)| (e + search_from, b + search_from));
    let Some((head_end, body_start)) = head else {
        return if buf.len() > MAX_HEAD_BYTES {
            Err(FrameError::HeadTooLong)
        } else {
            Ok(Measure::HeadIncomplete)
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
    Ok(Measure::Total(body_start + len))
}

/// Incremental framing of one stream: bytes in as they arrive, whole messages out.
///
/// [`frame`] looks at a whole buffer each time, which is quadratic when a peer sends a
/// message a byte at a time (a slow-loris sender). A `Framer` remembers how far it has
/// searched for the end of the header section and, once the head is complete, how long
/// the message is, so every byte is examined a bounded number of times and the bytes
/// held never exceed one message's bound ([`MAX_HEAD_BYTES`] + [`MAX_BODY_BYTES`]) plus
/// one read.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// Bytes after `start` already searched for the end of the head, without success.
    head_searched: usize,
    /// Length of the message at `start`, once its head is complete.
    total: Option<usize>,
}

impl Framer {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `None` until one is complete. After an error the stream
    /// cannot be framed any more: record [`Framer::pending`] and close the connection.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            let pending = &self.buf[self.start..];
            let total = match self.total {
                Some(total) => total,
                None => {
                    // Only the newly arrived bytes (and the 2 before them, which may
                    // begin a `\n\r\n`) can complete the head.
                    let from = self.head_searched.saturating_sub(2);
                    match measure(pending, from)? {
                        Measure::KeepAlive(n) => {
                            self.start += n;
                            self.head_searched = 0;
                            continue;
                        }
                        Measure::HeadIncomplete => {
                            self.head_searched = pending.len();
                            return Ok(None);
                        }
                        Measure::Total(total) => {
                            self.total = Some(total);
                            total
                        }
                    }
                }
            };
            if pending.len() < total {
                return Ok(None);
            }
            let message = pending[..total].to_vec();
            self.start += total;
            self.total = None;
            self.head_searched = 0;
            return Ok(Some(message));
        }
    }

    /// The bytes received and not yet returned as a message (evidence after an error, or
    /// when a sender stalls mid-message).
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }
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

    #[test]
    fn framer_takes_a_stream_one_byte_at_a_time() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut stream = b"\r\n".to_vec();
        stream.extend_from_slice(one);
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(one);
        stream.extend_from_slice(&one[..10]);
        let mut framer = Framer::new();
        let mut got = Vec::new();
        for b in &stream {
            framer.push(std::slice::from_ref(b));
            while let Some(m) = framer.next_message().expect("frames") {
                got.push(m);
            }
        }
        assert_eq!(got, vec![one.to_vec(), one.to_vec()]);
        assert_eq!(framer.pending(), &one[..10]);
    }

    #[test]
    fn framer_refuses_an_endless_head_once_past_the_bound() {
        let mut framer = Framer::new();
        let line = [b'a'; 1000];
        let mut refused = None;
        for i in 0..100 {
            framer.push(&line);
            if let Err(e) = framer.next_message() {
                refused = Some((i, e));
                break;
            }
        }
        let (i, e) = refused.expect("refused");
        assert_eq!(e, FrameError::HeadTooLong);
        assert_eq!(i, MAX_HEAD_BYTES / 1000);
    }
}
