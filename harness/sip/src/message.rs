//! SIP messages: parse, inspect and build, with the raw bytes kept as evidence.
//!
//! This module is recproof's facade over [`rsip`]. It owns the message framing (start
//! line, header lines, folding, the empty line, the body and Content-Length), the mapping
//! of compact header names (RFC 3261 §7.3.3, which rsip 0.4 does not know), and the typed
//! views the transaction and dialog layers need. rsip does the grammar of URIs and of the
//! typed headers (From/To/Contact/Via/CSeq); nothing outside this module sees rsip types.
//!
//! What a peer sends is untrusted: every accessor returns a `Result` or `Option`, framing
//! problems are reported as [`LengthIssue`]s instead of errors where the message is still
//! usable, and nothing here panics on input. The original bytes are always available via
//! [`SipMessage::raw`], so a finding can quote exactly what arrived.
//!
//! It does no I/O and knows nothing of transactions: see [`crate::transaction`].

use bytes::Bytes;
use std::fmt::{self, Write as _};

/// Largest header section accepted (start line plus headers). Beyond this a message is
/// refused rather than scanned further: a peer must not make us buffer without bound.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most header fields accepted in one message.
pub const MAX_HEADERS: usize = 256;

/// A SIP method. Known methods are variants; anything else keeps its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261.
    Invite,
    /// RFC 3261.
    Ack,
    /// RFC 3261.
    Bye,
    /// RFC 3261.
    Cancel,
    /// RFC 3261.
    Options,
    /// RFC 3261.
    Register,
    /// RFC 3311: SIPREC metadata updates without SDP.
    Update,
    /// RFC 6086.
    Info,
    /// RFC 3262.
    Prack,
    /// RFC 6665.
    Subscribe,
    /// RFC 6665.
    Notify,
    /// RFC 3515.
    Refer,
    /// RFC 3428.
    Message,
    /// Any other token, as sent.
    Other(String),
}

impl Method {
    /// Parses a method token (case-sensitive, as RFC 3261 §7.1 says).
    pub fn from_token(token: &str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "REGISTER" => Self::Register,
            "UPDATE" => Self::Update,
            "INFO" => Self::Info,
            "PRACK" => Self::Prack,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Register => "REGISTER",
            Self::Update => "UPDATE",
            Self::Info => "INFO",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`
    Request {
        /// The method.
        method: Method,
        /// The Request-URI as sent.
        uri: String,
    },
    /// `SIP/2.0 code reason`
    Response {
        /// The status code, 100..=699.
        code: u16,
        /// The reason phrase as sent.
        reason: String,
    },
}

/// Maps a compact header name (RFC 3261 §7.3.3 and later RFCs) to its long form.
///
/// rsip 0.4 treats `i:` as an unknown header named `i`, so the facade normalises here.
pub fn expand_compact(name: &str) -> Option<&'static str> {
    let [c] = name.as_bytes() else { return None };
    Some(match c.to_ascii_lowercase() {
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'c' => "Content-Type",
        b'd' => "Request-Disposition",
        b'e' => "Content-Encoding",
        b'f' => "From",
        b'i' => "Call-ID",
        b'j' => "Reject-Contact",
        b'k' => "Supported",
        b'l' => "Content-Length",
        b'm' => "Contact",
        b'o' => "Event",
        b'r' => "Refer-To",
        b's' => "Subject",
        b't' => "To",
        b'u' => "Allow-Events",
        b'v' => "Via",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        _ => return None,
    })
}

/// One header field as it appeared, with its name normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The long name (compact names expanded), with the case as sent for long names.
    pub name: String,
    /// The name exactly as on the wire (`i`, `call-id`, `Call-ID`...).
    pub wire_name: String,
    /// The value with folding undone and surrounding whitespace trimmed.
    pub value: String,
    /// Byte offset of the header line in the raw message (for evidence).
    pub offset: usize,
}

impl HeaderField {
    /// True when this field has the given (long, case-insensitive) name.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// How the body length compares with what Content-Length says (RFC 3261 §18.3, §20.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthIssue {
    /// Content-Length announces more bytes than arrived: the message is truncated.
    Truncated {
        /// Content-Length value.
        declared: usize,
        /// Bytes actually after the empty line.
        actual: usize,
    },
    /// More bytes arrived than Content-Length says; the extra bytes are not part of the
    /// body (RFC 3261 §18.3 for datagrams).
    TrailingBytes {
        /// Content-Length value.
        declared: usize,
        /// Bytes actually after the empty line.
        actual: usize,
    },
    /// No Content-Length header; the body is the rest of the datagram. Legal on UDP,
    /// mandatory on stream transports.
    Missing {
        /// Bytes after the empty line.
        actual: usize,
    },
    /// Content-Length is present but not a decimal number.
    Unparseable,
}

impl fmt::Display for LengthIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { declared, actual } => write!(
                f,
                "Content-Length says {declared} bytes but only {actual} follow the headers (truncated message)"
            ),
            Self::TrailingBytes { declared, actual } => write!(
                f,
                "Content-Length says {declared} bytes but {actual} follow the headers; the extra {} bytes are not part of the body",
                actual - declared
            ),
            Self::Missing { actual } => {
                write!(
                    f,
                    "no Content-Length header; took the remaining {actual} bytes as the body"
                )
            }
            Self::Unparseable => f.write_str("Content-Length is not a decimal number"),
        }
    }
}

/// Why bytes could not be read as a SIP message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("empty message")]
    Empty,
    /// The start line is neither a request line nor a status line.
    #[error(
        "malformed start line `{line}`: expected `METHOD uri SIP/2.0` or `SIP/2.0 code reason`"
    )]
    StartLine {
        /// The line, cut for display.
        line: String,
    },
    /// A header line has no colon, or an empty name.
    #[error("malformed header line at byte {offset}: `{line}`")]
    HeaderLine {
        /// Byte offset of the line.
        offset: usize,
        /// The line, cut for display.
        line: String,
    },
    /// The header section is not UTF-8.
    #[error("header section is not valid UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The header section or body exceeds our limits.
    #[error("message too large: {what} exceeds {limit} bytes")]
    TooLarge {
        /// Which part.
        what: &'static str,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More header fields than [`MAX_HEADERS`].
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    /// A datagram whose Content-Length announces more bytes than it holds, or is not a
    /// number (RFC 3261 §18.3: an error; a request gets 400, a response is discarded).
    #[error("Content-Length {0}")]
    ContentLength(String),
}

/// A header that is needed but absent or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Not present at all.
    #[error("missing `{0}` header")]
    Missing(&'static str),
    /// Present but does not follow its grammar.
    #[error("malformed `{name}` header `{value}`: {reason}")]
    Malformed {
        /// Header name.
        name: &'static str,
        /// The value as sent (cut for display).
        value: String,
        /// What the grammar expected.
        reason: String,
    },
}

/// A generic parameter (`;name=value` or `;name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name as sent.
    pub name: String,
    /// Value, without surrounding quotes; `None` for a flag such as `;lr` or `;+sip.src`.
    pub value: Option<String>,
}

/// A parsed SIP or SIPS URI (rsip's grammar), with its text kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// The URI as sent, without enclosing angle brackets.
    pub text: String,
    /// User part, if any.
    pub user: Option<String>,
    /// Host (name or address literal, brackets removed for IPv6).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr;src`).
    pub params: Vec<Param>,
}

impl Uri {
    /// Parses a SIP URI with rsip.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let uri = rsip::Uri::try_from(text).map_err(|e| e.to_string())?;
        Ok(Self::from_rsip(text, &uri))
    }

    fn from_rsip(text: &str, uri: &rsip::Uri) -> Self {
        let host_with_port = &uri.host_with_port;
        let host = host_with_port.host.to_string();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Self {
            text: text.to_owned(),
            user: uri.user().map(str::to_owned),
            host,
            port: host_with_port.port.map(|p| *p.value()),
            params: uri.params.iter().map(param_from_rsip).collect(),
        }
    }

    /// True when a URI parameter of that name (case-insensitive) is present.
    pub fn has_param(&self, name: &str) -> bool {
        self.params
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The transport parameter, lowercased, if any.
    pub fn transport(&self) -> Option<String> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case("transport"))
            .and_then(|p| p.value.as_ref())
            .map(|v| v.to_ascii_lowercase())
    }
}

fn param_from_rsip(p: &rsip::Param) -> Param {
    // rsip displays every param variant as `;name[=value]`; read it back generically so
    // our callers do not match on rsip's variant list.
    let shown = p.to_string();
    let shown = shown.trim_start_matches(';');
    match shown.split_once('=') {
        Some((n, v)) => Param {
            name: n.to_owned(),
            value: Some(v.trim_matches('"').to_owned()),
        },
        None => Param {
            name: shown.to_owned(),
            value: None,
        },
    }
}

/// A name-addr header value (From, To, Contact, Route, Record-Route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, if any.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters after the URI (`;tag=...`, `;+sip.src`).
    pub params: Vec<Param>,
}

impl NameAddr {
    /// The value of a header parameter (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }
}

/// The CSeq header: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

/// The parts of a Via header that transactions use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport from `SIP/2.0/UDP`, uppercased.
    pub transport: String,
    /// sent-by host.
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// The branch parameter.
    pub branch: Option<String>,
    /// All parameters.
    pub params: Vec<Param>,
}

/// A SIP request or response, parsed, with the raw bytes it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMessage {
    raw: Bytes,
    start: StartLine,
    headers: Vec<HeaderField>,
    body_offset: usize,
    body: Bytes,
    length_issue: Option<LengthIssue>,
}

impl SipMessage {
    /// Parses one message from a datagram or a framed stream chunk.
    ///
    /// The body is what Content-Length says (or the rest of the input when it is absent
    /// or larger than what arrived); the disagreement is reported by
    /// [`length_issue`](Self::length_issue), not as an error, so a validator can still
    /// look at the rest of the message.
    pub fn parse(raw: impl Into<Bytes>) -> Result<Self, ParseError> {
        let raw: Bytes = raw.into();
        // RFC 3261 §7.5: implementations should ignore CRLFs before the start line.
        let lead = raw
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
            .count();
        if lead == raw.len() {
            return Err(ParseError::Empty);
        }
        let (head_end, body_start) = find_head_end(&raw[lead..])
            .map(|(h, b)| (lead + h, lead + b))
            .unwrap_or((raw.len(), raw.len()));
        if head_end - lead > MAX_HEAD_BYTES {
            return Err(ParseError::TooLarge {
                what: "header section",
                limit: MAX_HEAD_BYTES,
            });
        }
        let head = std::str::from_utf8(&raw[lead..head_end]).map_err(|e| ParseError::NotUtf8 {
            offset: lead + e.valid_up_to(),
        })?;
        let mut lines = LineIter {
            text: head,
            pos: 0,
            base: lead,
        };
        let (_, first) = lines.next().ok_or(ParseError::Empty)?;
        let start = parse_start_line(first)?;
        let headers = parse_headers(&mut lines)?;

        let available = raw.len() - body_start;
        if available > MAX_BODY_BYTES {
            return Err(ParseError::TooLarge {
                what: "body",
                limit: MAX_BODY_BYTES,
            });
        }
        let declared = headers
            .iter()
            .find(|h| h.is("Content-Length"))
            .map(|h| h.value.trim());
        let (body_len, length_issue) = match declared {
            None => (
                available,
                (available > 0).then_some(LengthIssue::Missing { actual: available }),
            ),
            Some(v) => match v.parse::<usize>() {
                Err(_) => (available, Some(LengthIssue::Unparseable)),
                Ok(d) if d > available => (
                    available,
                    Some(LengthIssue::Truncated {
                        declared: d,
                        actual: available,
                    }),
                ),
                Ok(d) if d < available => (
                    d,
                    Some(LengthIssue::TrailingBytes {
                        declared: d,
                        actual: available,
                    }),
                ),
                Ok(d) => (d, None),
            },
        };
        let body = raw.slice(body_start..body_start + body_len);
        Ok(Self {
            raw,
            start,
            headers,
            body_offset: body_start,
            body,
            length_issue,
        })
    }

    /// The bytes exactly as received (or as built).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// The method of a request, or `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response, or `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The Request-URI text of a request.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// All header fields in order.
    pub fn headers(&self) -> &[HeaderField] {
        &self.headers
    }

    /// The fields with this long name (case-insensitive; compact forms already expanded).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderField> {
        self.headers.iter().filter(move |h| h.is(name))
    }

    /// The first field with this name.
    pub fn header(&self, name: &str) -> Option<&HeaderField> {
        self.headers.iter().find(|h| h.is(name))
    }

    /// The first value of a header, or `None`.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.header(name).map(|h| h.value.as_str())
    }

    /// Every comma-separated element of every field with this name (for list headers such
    /// as Require, Supported, Accept, Via, Route). Commas inside quotes or `<...>` are kept.
    pub fn header_list(&self, name: &str) -> Vec<String> {
        self.headers_named(name)
            .flat_map(|h| split_list(&h.value))
            .collect()
    }

    /// The body bytes (per Content-Length).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Byte offset of the body in [`raw`](Self::raw).
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }

    /// How the body length disagrees with Content-Length, if it does.
    pub fn length_issue(&self) -> Option<LengthIssue> {
        self.length_issue
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.header_value("Call-ID")
            .filter(|v| !v.is_empty())
            .ok_or(HeaderError::Missing("Call-ID"))
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        let v = self
            .header_value("CSeq")
            .ok_or(HeaderError::Missing("CSeq"))?;
        let malformed = |reason: &str| HeaderError::Malformed {
            name: "CSeq",
            value: cut(v),
            reason: reason.to_owned(),
        };
        let mut it = v.split_whitespace();
        let seq = it
            .next()
            .ok_or_else(|| malformed("expected `number METHOD`"))?;
        let seq = seq
            .parse::<u32>()
            .map_err(|_| malformed("sequence number is not a 32-bit number"))?;
        let method = it
            .next()
            .ok_or_else(|| malformed("expected `number METHOD`"))?;
        if it.next().is_some() {
            return Err(malformed("expected `number METHOD`"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }

    /// The From header.
    pub fn from_header(&self) -> Result<NameAddr, HeaderError> {
        let v = self
            .header_value("From")
            .ok_or(HeaderError::Missing("From"))?;
        parse_name_addr(NameAddrKind::From, v)
    }

    /// The To header.
    pub fn to_header(&self) -> Result<NameAddr, HeaderError> {
        let v = self.header_value("To").ok_or(HeaderError::Missing("To"))?;
        parse_name_addr(NameAddrKind::To, v)
    }

    /// Every Contact value (a field may hold several, comma-separated).
    pub fn contacts(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.header_list("Contact")
            .iter()
            .map(|v| parse_name_addr(NameAddrKind::Contact, v))
            .collect()
    }

    /// The first Contact value.
    pub fn contact(&self) -> Result<NameAddr, HeaderError> {
        self.contacts()?
            .into_iter()
            .next()
            .ok_or(HeaderError::Missing("Contact"))
    }

    /// The Record-Route entries in order.
    pub fn record_route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.header_list("Record-Route")
            .iter()
            .map(|v| parse_name_addr(NameAddrKind::RecordRoute, v))
            .collect()
    }

    /// The Via entries in order (topmost first).
    pub fn vias(&self) -> Result<Vec<Via>, HeaderError> {
        self.header_list("Via")
            .iter()
            .map(|v| parse_via(v))
            .collect()
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        self.vias()?
            .into_iter()
            .next()
            .ok_or(HeaderError::Missing("Via"))
    }

    /// The Content-Type value with parameters, if present.
    pub fn content_type(&self) -> Option<&str> {
        self.header_value("Content-Type")
    }
}

impl fmt::Display for SipMessage {
    /// The raw message, lossily decoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

/// Finds the end of the header section: returns (end of last header line, body start).
/// Accepts CRLF CRLF and, leniently, bare LF LF.
pub(crate) fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            // `\n\n` or `\n\r\n`
            match buf.get(i + 1) {
                Some(b'\n') => return Some((i, i + 2)),
                Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

struct LineIter<'a> {
    text: &'a str,
    pos: usize,
    base: usize,
}

impl<'a> Iterator for LineIter<'a> {
    type Item = (usize, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match rest.find('\n') {
            Some(n) => (&rest[..n], n + 1),
            None => (rest, rest.len()),
        };
        let offset = self.base + self.pos;
        self.pos += advance;
        Some((offset, line.strip_suffix('\r').unwrap_or(line)))
    }
}

fn cut(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let err = || ParseError::StartLine { line: cut(line) };
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code.parse().map_err(|_| err())?;
        if !(100..=699).contains(&code) {
            return Err(err());
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_owned(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err());
    };
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    };
    if !is_token(method) || uri.is_empty() || version != "SIP/2.0" {
        return Err(err());
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri: uri.to_owned(),
    })
}

fn parse_headers(lines: &mut LineIter<'_>) -> Result<Vec<HeaderField>, ParseError> {
    let mut headers: Vec<HeaderField> = Vec::new();
    for (offset, line) in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // RFC 3261 §7.3.1 line folding: continuation of the previous value.
            let Some(last) = headers.last_mut() else {
                return Err(ParseError::HeaderLine {
                    offset,
                    line: cut(line),
                });
            };
            last.value.push(' ');
            last.value.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::HeaderLine {
                offset,
                line: cut(line),
            });
        };
        let wire_name = name.trim_end();
        if wire_name.is_empty() || wire_name.contains(char::is_whitespace) {
            return Err(ParseError::HeaderLine {
                offset,
                line: cut(line),
            });
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        let name = expand_compact(wire_name).map_or_else(|| wire_name.to_owned(), str::to_owned);
        headers.push(HeaderField {
            name,
            wire_name: wire_name.to_owned(),
            value: value.trim().to_owned(),
            offset,
        });
    }
    Ok(headers)
}

/// Splits a list header value at top-level commas (not inside quotes or `<...>`).
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut current = String::new();
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && c == '<' {
            angle = true;
        } else if !quoted && c == '>' {
            angle = false;
        } else if !quoted && !angle && c == ',' {
            let item = current.trim();
            if !item.is_empty() {
                out.push(item.to_owned());
            }
            current.clear();
            continue;
        }
        current.push(c);
    }
    let item = current.trim();
    if !item.is_empty() {
        out.push(item.to_owned());
    }
    out
}

/// The name-addr headers the facade reads through rsip.
#[derive(Clone, Copy)]
enum NameAddrKind {
    From,
    To,
    Contact,
    RecordRoute,
}

impl NameAddrKind {
    fn name(self) -> &'static str {
        match self {
            Self::From => "From",
            Self::To => "To",
            Self::Contact => "Contact",
            Self::RecordRoute => "Record-Route",
        }
    }

    /// Runs rsip's typed parser; returns display name, URI and header params.
    fn typed(self, value: &str) -> Result<(Option<String>, rsip::Uri, Vec<rsip::Param>), String> {
        use rsip::prelude::{ToTypedHeader, UntypedHeader};
        let v = value.to_owned();
        let e = |e: rsip::Error| e.to_string();
        match self {
            Self::From => rsip::headers::From::new(v)
                .typed()
                .map(|t| (t.display_name, t.uri, t.params))
                .map_err(e),
            Self::To => rsip::headers::To::new(v)
                .typed()
                .map(|t| (t.display_name, t.uri, t.params))
                .map_err(e),
            Self::Contact => rsip::headers::Contact::new(v)
                .typed()
                .map(|t| (t.display_name, t.uri, t.params))
                .map_err(e),
            Self::RecordRoute => {
                let t = rsip::headers::RecordRoute::new(v).typed().map_err(e)?;
                // The facade splits lists itself, so this value holds exactly one entry.
                let first = t
                    .uris()
                    .first()
                    .cloned()
                    .ok_or_else(|| "empty Record-Route".to_owned())?;
                Ok((None, first.uri, first.params))
            }
        }
    }
}

fn parse_name_addr(kind: NameAddrKind, value: &str) -> Result<NameAddr, HeaderError> {
    let name = kind.name();
    let malformed = |reason: String| HeaderError::Malformed {
        name,
        value: cut(value),
        reason,
    };
    let (display_name, uri, params) = kind.typed(value).map_err(malformed)?;
    // The URI text as sent: between <> when present, else up to the first `;`.
    let uri_text = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    };
    if uri.host_with_port.host.to_string().is_empty() {
        return Err(malformed("no host in URI".into()));
    }
    Ok(NameAddr {
        display_name: display_name
            .map(|d| d.trim().trim_matches('"').to_owned())
            .filter(|d| !d.is_empty()),
        uri: Uri::from_rsip(uri_text.trim(), &uri),
        params: params.iter().map(param_from_rsip).collect(),
    })
}

fn parse_via(value: &str) -> Result<Via, HeaderError> {
    let malformed = |reason: &str| HeaderError::Malformed {
        name: "Via",
        value: cut(value),
        reason: reason.to_owned(),
    };
    // `SIP/2.0/UDP host:port;params` — parsed here rather than with rsip because rsip
    // rejects transports it does not know and we must still read the branch of such a Via.
    let (proto, rest) = value
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| malformed("expected `SIP/2.0/TRANSPORT sent-by`"))?;
    let mut proto_parts = proto.split('/').map(str::trim);
    let (Some(name), Some(version), Some(transport), None) = (
        proto_parts.next(),
        proto_parts.next(),
        proto_parts.next(),
        proto_parts.next(),
    ) else {
        return Err(malformed("expected `SIP/2.0/TRANSPORT`"));
    };
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || transport.is_empty() {
        return Err(malformed("expected `SIP/2.0/TRANSPORT`"));
    }
    let mut pieces = rest.trim().split(';');
    let sent_by = pieces.next().unwrap_or("").trim();
    let (host, port) =
        split_host_port(sent_by).ok_or_else(|| malformed("bad sent-by host:port"))?;
    let params: Vec<Param> = pieces
        .map(|p| match p.split_once('=') {
            Some((n, v)) => Param {
                name: n.trim().to_owned(),
                value: Some(v.trim().trim_matches('"').to_owned()),
            },
            None => Param {
                name: p.trim().to_owned(),
                value: None,
            },
        })
        .filter(|p| !p.name.is_empty())
        .collect();
    let branch = params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case("branch"))
        .and_then(|p| p.value.clone());
    Ok(Via {
        transport: transport.to_ascii_uppercase(),
        host,
        port,
        branch,
        params,
    })
}

/// Splits `host[:port]`, handling `[v6]:port`.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), Some(p.parse().ok()?))),
        Some(_) => Some((s.to_owned(), None)), // bare IPv6 without brackets
        None => Some((s.to_owned(), None)),
    }
}

/// Builds a request or response byte-exactly: headers in the order added, CRLF line ends,
/// `Content-Length` computed from the body and placed last.
///
/// Fault profiles build wrong messages on purpose, so the builder checks nothing; parse
/// the result with [`SipMessage::parse`] (as [`build`](Self::build) does) to inspect it.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: bool,
}

impl MessageBuilder {
    /// Starts a request `METHOD uri SIP/2.0`.
    pub fn request(method: &Method, uri: &str) -> Self {
        Self::with_start(format!("{method} {uri} SIP/2.0"))
    }

    /// Starts a response `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> Self {
        Self::with_start(format!("SIP/2.0 {code} {reason}"))
    }

    /// Starts a response to `request` per RFC 3261 §8.2.6.2: Via (all, in order), From,
    /// To (with `to_tag` added when it has none), Call-ID and CSeq are copied.
    pub fn response_to(
        request: &SipMessage,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Self {
        let mut b = Self::response(code, reason);
        for h in request.headers_named("Via") {
            b = b.header("Via", &h.value);
        }
        if let Some(from) = request.header_value("From") {
            b = b.header("From", from);
        }
        if let Some(to) = request.header_value("To") {
            let has_tag = request
                .to_header()
                .ok()
                .and_then(|t| t.tag().map(str::to_owned))
                .is_some();
            match to_tag {
                Some(tag) if !has_tag => b = b.header("To", &format!("{to};tag={tag}")),
                _ => b = b.header("To", to),
            }
        }
        for name in ["Call-ID", "CSeq"] {
            if let Some(v) = request.header_value(name) {
                b = b.header(name, v);
            }
        }
        b
    }

    fn with_start(start: String) -> Self {
        Self {
            start,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
        }
    }

    /// Adds a header line `name: value`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// Leaves Content-Length out (for fault injection and datagram tests).
    pub fn without_content_length(mut self) -> Self {
        self.content_length = false;
        self
    }

    /// The message bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(256 + self.headers.len() * 48);
        head.push_str(&self.start);
        head.push_str("\r\n");
        for (n, v) in &self.headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        if self.content_length {
            let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// Builds and parses the message.
    ///
    /// Fails only when the caller put something unparseable in the start line or a
    /// header name, which is a harness bug, not peer input.
    pub fn build(&self) -> Result<SipMessage, ParseError> {
        SipMessage::parse(self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:srs@recorder.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:srs@recorder.example.net>\r\n\
From: \"SRC\" <sip:src@platform.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:src@10.0.0.1:5060>;+sip.src\r\n\
Require: siprec\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\
\r\n\
hello";

    #[test]
    fn parses_a_request_and_its_typed_headers() {
        let m = SipMessage::parse(INVITE.as_bytes().to_vec()).expect("parses");
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.request_uri(), Some("sip:srs@recorder.example.net"));
        assert_eq!(m.call_id(), Ok("a84b4c76e66710@pc33"));
        assert_eq!(
            m.cseq(),
            Ok(CSeq {
                seq: 314159,
                method: Method::Invite
            })
        );
        let from = m.from_header().expect("from");
        assert_eq!(from.tag(), Some("1928301774"));
        assert_eq!(from.display_name.as_deref(), Some("SRC"));
        assert_eq!(from.uri.host, "platform.example.com");
        let contact = m.contact().expect("contact");
        assert!(contact.param("+sip.src").is_some(), "{contact:?}");
        assert_eq!(contact.uri.port, Some(5060));
        let via = m.top_via().expect("via");
        assert_eq!(via.branch.as_deref(), Some("z9hG4bK776asdhds"));
        assert_eq!((via.host.as_str(), via.port), ("10.0.0.1", Some(5060)));
        assert_eq!(&m.body()[..], b"hello");
        assert_eq!(m.length_issue(), None);
        assert_eq!(m.raw().as_ref(), INVITE.as_bytes());
    }

    #[test]
    fn compact_header_names_are_expanded() {
        let compact = "BYE sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h:5060;branch=z9hG4bKx\r\n\
i: abc@h\r\nf: <sip:x@h>;tag=1\r\nt: <sip:y@h>;tag=2\r\nm: <sip:x@h;src>\r\n\
k: timer\r\nc: application/sdp\r\nl: 0\r\ns: hi\r\n\r\n";
        let m = SipMessage::parse(compact.as_bytes().to_vec()).expect("parses");
        assert_eq!(m.call_id(), Ok("abc@h"));
        assert_eq!(m.from_header().expect("from").tag(), Some("1"));
        assert_eq!(m.to_header().expect("to").tag(), Some("2"));
        assert!(m.contact().expect("contact").uri.has_param("src"));
        assert_eq!(m.header_value("Supported"), Some("timer"));
        assert_eq!(m.content_type(), Some("application/sdp"));
        assert_eq!(m.header("Subject").map(|h| h.wire_name.as_str()), Some("s"));
        assert_eq!(m.top_via().expect("via").transport, "TCP");
        assert_eq!(m.length_issue(), None);
    }

    #[test]
    fn content_length_mismatches_are_reported_not_fatal() {
        let short = INVITE.replace("Content-Length: 5", "Content-Length: 50");
        let m = SipMessage::parse(short.into_bytes()).expect("still parses");
        assert_eq!(
            m.length_issue(),
            Some(LengthIssue::Truncated {
                declared: 50,
                actual: 5
            })
        );
        let long = INVITE.replace("Content-Length: 5", "Content-Length: 2");
        let m = SipMessage::parse(long.into_bytes()).expect("still parses");
        assert_eq!(
            m.length_issue(),
            Some(LengthIssue::TrailingBytes {
                declared: 2,
                actual: 5
            })
        );
        assert_eq!(&m.body()[..], b"he");
        let none = INVITE.replace("Content-Length: 5\r\n", "");
        let m = SipMessage::parse(none.into_bytes()).expect("parses");
        assert_eq!(m.length_issue(), Some(LengthIssue::Missing { actual: 5 }));
        let junk = INVITE.replace("Content-Length: 5", "Content-Length: five");
        let m = SipMessage::parse(junk.into_bytes()).expect("parses");
        assert_eq!(m.length_issue(), Some(LengthIssue::Unparseable));
    }

    #[test]
    fn folding_bare_lf_and_leading_crlf_are_accepted() {
        let text = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nSubject: one\n  two\nCall-ID: x\nContent-Length: 0\n\n";
        let m = SipMessage::parse(text.as_bytes().to_vec()).expect("parses");
        assert_eq!(m.header_value("Subject"), Some("one two"));
        assert_eq!(m.call_id(), Ok("x"));
        assert_eq!(m.top_via().expect("via").port, None);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            "",
            "\r\n",
            "HELLO",
            "INVITE sip:a@b SIP/3.0\r\n\r\n",
            "SIP/2.0 99 Too Low\r\n\r\n",
            "SIP/2.0 abc OK\r\n\r\n",
            "INVITE sip:a@b SIP/2.0\r\nNoColonHere\r\n\r\n",
            "INVITE sip:a@b SIP/2.0\r\n folded-first: x\r\n\r\n",
        ] {
            assert!(
                SipMessage::parse(bad.as_bytes().to_vec()).is_err(),
                "{bad:?}"
            );
        }
        let m =
            SipMessage::parse(b"SIP/2.0 200 OK\r\nCSeq: x INVITE\r\nFrom: <<<\r\n\r\n".to_vec())
                .expect("start line is fine");
        assert!(matches!(m.cseq(), Err(HeaderError::Malformed { .. })));
        assert!(m.from_header().is_err());
        assert_eq!(m.call_id(), Err(HeaderError::Missing("Call-ID")));
    }

    #[test]
    fn builder_round_trips_byte_exactly() {
        let req = MessageBuilder::request(&Method::Invite, "sip:srs@127.0.0.1:5080")
            .header("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc")
            .header("From", "<sip:src@127.0.0.1>;tag=aa")
            .header("To", "<sip:srs@127.0.0.1>")
            .header("Call-ID", "c1")
            .header("CSeq", "1 INVITE")
            .body("text/plain", "body!");
        let bytes = req.to_bytes();
        let m = req.build().expect("parses");
        assert_eq!(m.raw().as_ref(), bytes.as_slice());
        assert_eq!(&m.body()[..], b"body!");
        let resp = MessageBuilder::response_to(&m, 200, "OK", Some("bb"))
            .build()
            .expect("parses");
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.to_header().expect("to").tag(), Some("bb"));
        assert_eq!(resp.cseq().expect("cseq").method, Method::Invite);
        assert_eq!(
            resp.top_via().expect("via").branch.as_deref(),
            Some("z9hG4bKabc")
        );
    }

    #[test]
    fn list_headers_split_at_top_level_commas_only() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@h;p=1,2>, <sip:y@h>"#),
            vec![
                r#""a, b" <sip:x@h;p=1,2>"#.to_owned(),
                "<sip:y@h>".to_owned()
            ]
        );
        assert_eq!(split_list("siprec, timer ,,"), vec!["siprec", "timer"]);
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("[::1]:5060"),
            Some(("::1".into(), Some(5060)))
        );
        assert_eq!(
            split_host_port("h.example"),
            Some(("h.example".into(), None))
        );
        assert_eq!(split_host_port("h:99999"), None);
        assert_eq!(split_host_port("[::1"), None);
    }
}
