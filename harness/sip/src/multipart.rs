//! multipart/mixed bodies as SIPREC uses them (RFC 7866 §9.1, RFC 2046 §5.1).
//!
//! A recording-session INVITE carries an SDP part and a metadata part. Real SRCs differ
//! in how they write it (checklist SRC-05/06/07, SRS-10): BroadWorks puts metadata first
//! in some captures and SDP first in others, writes part headers with no space after the
//! colon, and some stacks use bare LF. So parsing here is lenient and order-blind, and
//! building is byte-exact with the style chosen by the caller (fault profiles and SRS
//! tests need each variant).
//!
//! Parsing uses `mailparse` (MIME is MIME). Building is ours: the crates that build MIME
//! are e-mail oriented (`mail-builder` adds Date/Message-ID and encodes), `multer` only
//! parses form-data, and `multipart` is unmaintained; a SIP multipart body is a
//! boundary and a few header lines, and we need exact control of each byte.
//!
//! This module knows nothing of what the parts mean: see `recproof-siprec` for that.

use bytes::Bytes;
use std::fmt::Write as _;

/// The SDP media type.
pub const SDP: &str = "application/sdp";
/// The registered metadata media type (RFC 9806).
pub const RS_METADATA_XML: &str = "application/rs-metadata+xml";
/// The media type RFC 7866 used before RFC 9806; still seen in the field.
pub const RS_METADATA_LEGACY: &str = "application/rs-metadata";
/// The snapshot-request media type (RFC 7866 §9).
pub const RS_METADATA_REQUEST: &str = "application/rs-metadata-request";
/// The Content-Disposition value RFC 7866 §11 registers for metadata parts.
pub const RECORDING_SESSION: &str = "recording-session";

/// One body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Part headers in order: (name as sent, value trimmed).
    pub headers: Vec<(String, String)>,
    /// The part body, without the CRLF that belongs to the next boundary.
    pub body: Bytes,
    /// Byte offset of the part (its first header) within the multipart body.
    pub offset: usize,
}

impl Part {
    /// The first value of a part header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type (`type/subtype`, lowercased, parameters removed), if the part has a
    /// Content-Type.
    pub fn media_type(&self) -> Option<String> {
        self.header("Content-Type").map(media_type_of)
    }

    /// The disposition type (`recording-session`, `session`, ... lowercased), if any.
    pub fn disposition(&self) -> Option<String> {
        self.header("Content-Disposition").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// True for a metadata part under either media type name (SRC-06).
    pub fn is_metadata(&self) -> bool {
        matches!(
            self.media_type().as_deref(),
            Some(RS_METADATA_XML | RS_METADATA_LEGACY)
        )
    }
}

/// `type/subtype` of a Content-Type value, lowercased, without parameters.
pub fn media_type_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The value of a Content-Type parameter (e.g. `boundary`), unquoted.
pub fn content_type_param(content_type: &str, name: &str) -> Option<String> {
    mailparse::parse_content_type(content_type)
        .params
        .get(&name.to_ascii_lowercase())
        .cloned()
}
/// True when a `Content-Disposition` value is `recording-session` (parameters and case
/// aside).
pub fn is_recording_session(disposition: &str) -> bool {
    disposition
        .split(';')
        .next()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(RECORDING_SESSION))
}

/// The metadata snapshot request a message carries (RFC 7866 §9): the
/// `application/rs-metadata-request` body itself, or that part of a multipart body, as
/// (its `Content-Disposition`, if any; its bytes). `None` when it carries none.
pub fn snapshot_request(msg: &crate::message::SipMessage) -> Option<(Option<String>, Bytes)> {
    let ct = msg.content_type()?;
    let media_type = media_type_of(ct);
    if media_type == RS_METADATA_REQUEST {
        return Some((
            msg.header_value("Content-Disposition").map(str::to_owned),
            msg.body().clone(),
        ));
    }
    if !media_type.starts_with("multipart/") {
        return None;
    }
    let parsed = parse(ct, msg.body()).ok()?;
    let part = parsed
        .parts
        .iter()
        .find(|p| p.media_type().as_deref() == Some(RS_METADATA_REQUEST))?;
    Some((
        part.header("Content-Disposition").map(str::to_owned),
        part.body.clone(),
    ))
}

/// Why a body could not be split into parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The Content-Type is not multipart/*.
    #[error("Content-Type `{0}` is not multipart")]
    NotMultipart(String),
    /// multipart without a boundary parameter.
    #[error("multipart Content-Type has no boundary parameter")]
    NoBoundary,
    /// The boundary does not occur in the body.
    #[error("boundary `{0}` does not occur in the body")]
    BoundaryNotFound(String),
    /// More parts than [`MAX_PARTS`].
    #[error("more than {MAX_PARTS} parts")]
    TooManyParts,
    /// A boundary longer than RFC 2046 §5.1.1 allows ([`MAX_BOUNDARY`] characters).
    #[error("boundary of {0} characters; RFC 2046 §5.1.1 allows at most {MAX_BOUNDARY}")]
    BoundaryTooLong(usize),
    /// A boundary with a control character (CR, LF, NUL...) or a quote: RFC 2046 §5.1.1
    /// `bchars` allow neither, and such a boundary cannot be matched reliably.
    #[error("boundary `{0}` contains a character RFC 2046 §5.1.1 does not allow in one")]
    BadBoundary(String),
    /// mailparse could not read the MIME structure.
    #[error("malformed multipart body: {0}")]
    Malformed(String),
}

/// Most parts accepted in one body: SIPREC needs two or three; a flood is refused.
pub const MAX_PARTS: usize = 32;

/// Longest boundary RFC 2046 §5.1.1 allows (1 to 70 characters).
pub const MAX_BOUNDARY: usize = 70;

/// Splits a multipart body given the message's Content-Type value.
///
/// Accepts any part order, part headers with or without a space after the colon, CRLF or
/// bare LF, and a missing closing boundary (reported by [`Parsed::closed`]).
pub fn parse(content_type: &str, body: &[u8]) -> Result<Parsed, MultipartError> {
    let ctype = mailparse::parse_content_type(content_type);
    if !ctype.mimetype.starts_with("multipart/") {
        return Err(MultipartError::NotMultipart(content_type.to_owned()));
    }
    let boundary = ctype
        .params
        .get("boundary")
        .cloned()
        .ok_or(MultipartError::NoBoundary)?;
    if boundary.is_empty() {
        return Err(MultipartError::NoBoundary);
    }
    if boundary.chars().count() > MAX_BOUNDARY {
        return Err(MultipartError::BoundaryTooLong(boundary.chars().count()));
    }
    if boundary
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(MultipartError::BadBoundary(boundary));
    }
    // One linear pass over the body finds every delimiter: whether there is any, how
    // many (a flood of parts is refused before mailparse sees it), and the closing one.
    let delimiter = format!("--{boundary}");
    let mut count = 0usize;
    let mut closed = false;
    for at in memchr::memmem::find_iter(body, delimiter.as_bytes()) {
        count += 1;
        if count > MAX_PARTS + 1 {
            return Err(MultipartError::TooManyParts);
        }
        closed |= body.get(at + delimiter.len()..at + delimiter.len() + 2) == Some(b"--");
    }
    if count == 0 {
        return Err(MultipartError::BoundaryNotFound(boundary));
    }
    // mailparse parses whole MIME entities; give it a synthetic header naming the type
    // and the very boundary counted above (never the peer's header text, whose own
    // quirks could make mailparse split on something else).
    let mut entity = format!(
        "Content-Type: {}; boundary=\"{boundary}\"\r\n\r\n",
        ctype.mimetype
    )
    .into_bytes();
    let prefix = entity.len();
    entity.extend_from_slice(body);
    let mail =
        mailparse::parse_mail(&entity).map_err(|e| MultipartError::Malformed(e.to_string()))?;
    let base = entity.as_ptr() as usize;
    let parts = mail
        .subparts
        .iter()
        .map(|p| {
            let offset = (p.raw_bytes.as_ptr() as usize)
                .saturating_sub(base)
                .saturating_sub(prefix);
            let headers = p
                .headers
                .iter()
                .map(|h| (h.get_key(), h.get_value().trim().to_owned()))
                .collect();
            Part {
                headers,
                body: Bytes::copy_from_slice(raw_body(p)),
                offset,
            }
        })
        .collect::<Vec<Part>>();
    // What mailparse split must agree with the count; a disagreement is refused, never
    // passed on unbounded.
    if parts.len() > MAX_PARTS + 1 {
        return Err(MultipartError::TooManyParts);
    }
    Ok(Parsed {
        boundary,
        parts,
        closed,
    })
}

fn raw_body<'a>(p: &'a mailparse::ParsedMail<'a>) -> &'a [u8] {
    use mailparse::body::Body;
    match p.get_body_encoded() {
        Body::Base64(b) | Body::QuotedPrintable(b) => b.get_raw(),
        Body::SevenBit(b) | Body::EightBit(b) => b.get_raw(),
        Body::Binary(b) => b.get_raw(),
    }
}

/// A parsed multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The boundary parameter.
    pub boundary: String,
    /// The parts in the order they appeared.
    pub parts: Vec<Part>,
    /// Whether the closing delimiter `--boundary--` was present.
    pub closed: bool,
}

impl Parsed {
    /// The first part of this media type (lowercase `type/subtype`).
    pub fn part(&self, media_type: &str) -> Option<&Part> {
        self.parts
            .iter()
            .find(|p| p.media_type().as_deref() == Some(media_type))
    }

    /// The first SDP part.
    pub fn sdp(&self) -> Option<&Part> {
        self.part(SDP)
    }

    /// The first metadata part, under either name.
    pub fn metadata(&self) -> Option<&Part> {
        self.parts.iter().find(|p| p.is_metadata())
    }
}

/// How to write part headers and line ends; the defaults are RFC style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// Write `Name: value` (true) or BroadWorks' `Name:value` (false).
    pub space_after_colon: bool,
    /// Line end: `"\r\n"` (RFC) or `"\n"`.
    pub line_end: &'static str,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            space_after_colon: true,
            line_end: "\r\n",
        }
    }
}

/// Part headers in order: (name, value).
type PartHeaders = Vec<(String, String)>;

/// Builds a multipart/mixed body byte-exactly.
///
/// Round-trip limit (found by the property tests): with `line_end: "\n"`, a part body
/// that ends in `\r` loses that byte when parsed again, because `\r\n--boundary` is also
/// a valid CRLF delimiter and the lenient parser takes it as one. RFC-style CRLF output
/// has no such ambiguity.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    parts: Vec<(PartHeaders, Vec<u8>)>,
    style: Style,
}

impl Builder {
    /// An empty body with RFC style.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes the writing style.
    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Adds a part with the given headers, in order.
    pub fn part(mut self, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        self.parts.push((headers, body.into()));
        self
    }

    /// Adds an SDP part.
    pub fn sdp(self, sdp: impl Into<Vec<u8>>) -> Self {
        self.part(&[("Content-Type", SDP)], sdp)
    }

    /// Adds a metadata part with the given media type and `recording-session` disposition.
    pub fn metadata(self, media_type: &str, xml: impl Into<Vec<u8>>) -> Self {
        self.part(
            &[
                ("Content-Type", media_type),
                ("Content-Disposition", RECORDING_SESSION),
            ],
            xml,
        )
    }

    /// Writes the body with this boundary. The caller's Content-Type is
    /// `multipart/mixed;boundary=<boundary>`.
    ///
    /// The boundary must not occur inside any part; [`Builder::build_unique`] picks one.
    pub fn build(&self, boundary: &str) -> Vec<u8> {
        let eol = self.style.line_end;
        let sep = if self.style.space_after_colon {
            ": "
        } else {
            ":"
        };
        let mut out = Vec::new();
        for (headers, body) in &self.parts {
            let mut head = format!("--{boundary}{eol}");
            for (n, v) in headers {
                let _ = write!(head, "{n}{sep}{v}{eol}");
            }
            head.push_str(eol);
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(format!("--{boundary}--{eol}").as_bytes());
        out
    }

    /// Picks a boundary, starting from `base`, that occurs in no part, and builds.
    /// Returns (boundary, body).
    pub fn build_unique(&self, base: &str) -> (String, Vec<u8>) {
        let mut boundary = base.to_owned();
        let mut n = 0u32;
        while self
            .parts
            .iter()
            .any(|(_, b)| memchr::memmem::find(b, boundary.as_bytes()).is_some())
        {
            n += 1;
            boundary = format!("{base}{n}");
        }
        let body = self.build(&boundary);
        (boundary, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP_BODY: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n";
    const XML: &str =
        "<?xml version=\"1.0\"?>\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"/>";

    fn both_orders() -> Vec<Builder> {
        vec![
            Builder::new().sdp(SDP_BODY).metadata(RS_METADATA_XML, XML),
            Builder::new().metadata(RS_METADATA_XML, XML).sdp(SDP_BODY),
        ]
    }

    #[test]
    fn parts_parse_in_any_order_style_and_line_end() {
        let styles = [
            Style::default(),
            Style {
                space_after_colon: false,
                line_end: "\r\n",
            },
            Style {
                space_after_colon: true,
                line_end: "\n",
            },
            Style {
                space_after_colon: false,
                line_end: "\n",
            },
        ];
        for builder in both_orders() {
            for style in &styles {
                let body = builder.clone().style(style.clone()).build("foobar");
                let parsed = parse("multipart/mixed;boundary=foobar", &body).expect("parses");
                assert_eq!(parsed.parts.len(), 2, "{style:?}");
                assert!(parsed.closed);
                let sdp = parsed.sdp().expect("sdp part");
                assert_eq!(&sdp.body[..], SDP_BODY.as_bytes(), "{style:?}");
                let meta = parsed.metadata().expect("metadata part");
                assert_eq!(&meta.body[..], XML.as_bytes(), "{style:?}");
                assert_eq!(meta.disposition().as_deref(), Some(RECORDING_SESSION));
                assert_eq!(
                    &body[meta.offset..meta.offset + 2],
                    b"Co",
                    "offset points at the part"
                );
            }
        }
    }

    #[test]
    fn an_overlong_boundary_and_a_flood_of_parts_are_refused() {
        let long = "b".repeat(MAX_BOUNDARY + 1);
        let body = format!("--{long}\r\n\r\nx\r\n--{long}--\r\n");
        assert_eq!(
            parse(&format!("multipart/mixed;boundary={long}"), body.as_bytes()),
            Err(MultipartError::BoundaryTooLong(MAX_BOUNDARY + 1))
        );
        let ok = "b".repeat(MAX_BOUNDARY);
        let body = format!("--{ok}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{ok}--\r\n");
        assert!(parse(&format!("multipart/mixed;boundary={ok}"), body.as_bytes()).is_ok());
        let mut flood = String::new();
        for _ in 0..1000 {
            flood.push_str("--f\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        }
        flood.push_str("--f--\r\n");
        assert_eq!(
            parse("multipart/mixed;boundary=f", flood.as_bytes()),
            Err(MultipartError::TooManyParts)
        );
    }

    #[test]
    fn legacy_type_quoted_boundary_and_unclosed_body() {
        let body = Builder::new()
            .metadata(RS_METADATA_LEGACY, XML)
            .build("b 1");
        let parsed = parse("multipart/mixed; boundary=\"b 1\"", &body).expect("parses");
        assert!(parsed.metadata().is_some());
        let unclosed = &body[..body.len() - "--b 1--\r\n".len()];
        let parsed = parse("multipart/mixed; boundary=\"b 1\"", unclosed).expect("parses");
        assert!(!parsed.closed);
        assert_eq!(parsed.parts.len(), 1);
    }

    #[test]
    fn build_is_byte_exact() {
        let body = Builder::new()
            .sdp("S")
            .metadata(RS_METADATA_XML, "M")
            .build("B");
        assert_eq!(
            String::from_utf8(body).expect("utf8"),
            "--B\r\nContent-Type: application/sdp\r\n\r\nS\r\n--B\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\nM\r\n--B--\r\n"
        );
        let (boundary, _) = Builder::new().sdp("has B inside").build_unique("B");
        assert_eq!(boundary, "B1");
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(matches!(
            parse("application/sdp", b"v=0"),
            Err(MultipartError::NotMultipart(_))
        ));
        assert_eq!(
            parse("multipart/mixed", b"--x\r\n"),
            Err(MultipartError::NoBoundary)
        );
        assert!(matches!(
            parse("multipart/mixed;boundary=zz", b"no delimiter"),
            Err(MultipartError::BoundaryNotFound(_))
        ));
        let flood = "--f\r\n\r\nx\r\n".repeat(MAX_PARTS + 5);
        assert_eq!(
            parse("multipart/mixed;boundary=f", flood.as_bytes()),
            Err(MultipartError::TooManyParts)
        );
    }

    /// Found by the `multipart` fuzz target (`fuzz/regressions/multipart/`): an unquoted
    /// boundary made of CR LF and dashes made mailparse split on something else than the
    /// delimiters counted, returning more parts than the bound.
    #[test]
    fn a_boundary_with_line_breaks_is_refused() {
        let body = b"\r\n-----0)0000000000000000391817281Type:--\r\n\r\n--UniqueBroadWorksBoundary";
        match parse("multipart/mixed;boundary=\r\n---", body) {
            Err(MultipartError::BadBoundary(_) | MultipartError::NoBoundary) => {}
            Ok(p) => assert!(p.parts.len() <= MAX_PARTS + 1, "{} parts", p.parts.len()),
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(matches!(
            parse("multipart/mixed; boundary=\"a\u{1}b\"", b"--a\x01b\r\n"),
            Err(MultipartError::BadBoundary(_))
        ));
    }
}
