//! SDP for recording sessions and calls: read, build, and RFC 3264 offer/answer.
//!
//! `sdp-types` parses and writes the grammar (RFC 8866) and keeps unknown attributes such
//! as `a=label`. This module adds what recproof reasons about: per-stream direction
//! (session-level default, media-level override, RFC 3264 §5.1), the RFC 4574 label, the
//! connection address in force (and whether it is the `c=0.0.0.0` hold/pause style), the
//! codecs (PCMU, PCMA, RFC 4733 telephone-event), and the answer rules (sendonly is
//! answered recvonly, a declined stream has port 0, m-lines keep their order).
//!
//! It judges nothing: findings about SDP (SRC-08, SRC-09, ...) are made by
//! `recproof-siprec` from the [`MediaView`]s returned here.

use sdp_types::{Attribute, Connection, Media, Origin, Session};
use std::net::IpAddr;

/// Media direction of one stream (RFC 3264 §5.1, RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Send and receive (the default when no attribute is given).
    SendRecv,
    /// Send only (what an SRC offers, RFC 7866 §7.1.1).
    SendOnly,
    /// Receive only (what an SRS answers).
    RecvOnly,
    /// Neither (hold, or pause by re-INVITE).
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Self::SendRecv,
            "sendonly" => Self::SendOnly,
            "recvonly" => Self::RecvOnly,
            "inactive" => Self::Inactive,
            _ => return None,
        })
    }

    /// The direction an answerer uses for this offered direction when it wants to
    /// receive what it can (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        }
    }

    /// Whether the offerer of `self` may send media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the offerer of `self` expects to receive media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

/// A codec recproof speaks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// RFC 4733 telephone-event (DTMF), with its dynamic payload type.
    TelephoneEvent(u8),
}

impl Codec {
    /// The payload type on the wire.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::TelephoneEvent(pt) => pt,
        }
    }

    /// The `a=rtpmap` value.
    pub fn rtpmap(self) -> String {
        match self {
            Self::Pcmu => "0 PCMU/8000".to_owned(),
            Self::Pcma => "8 PCMA/8000".to_owned(),
            Self::TelephoneEvent(pt) => format!("{pt} telephone-event/8000"),
        }
    }
}

/// One `a=rtpmap` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as sent (`PCMU`, `telephone-event`...).
    pub encoding: String,
    /// Clock rate.
    pub clock_rate: u32,
}

/// What recproof needs to know about one m-line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaView {
    /// 0-based position of the m-line.
    pub index: usize,
    /// `audio`, `video`, ...
    pub kind: String,
    /// Port; 0 means declined or removed.
    pub port: u16,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVP`, ...).
    pub proto: String,
    /// Formats as listed on the m-line (payload types for RTP).
    pub formats: Vec<String>,
    /// The `a=label` value (RFC 4574), if any.
    pub label: Option<String>,
    /// How many `a=label` attributes this m-line has (more than one is an error).
    pub label_count: usize,
    /// The direction in force (media level, else session level, else sendrecv).
    pub direction: Direction,
    /// Whether any direction attribute was written (media or session level).
    pub direction_explicit: bool,
    /// The connection address in force (media `c=`, else session `c=`).
    pub connection: Option<String>,
    /// `a=rtpmap` entries.
    pub rtpmaps: Vec<RtpMap>,
    /// The m-line and its attributes as SDP text (for evidence).
    pub text: String,
}

impl MediaView {
    /// True when the stream is declined or removed (port 0, RFC 3264 §6).
    pub fn is_declined(&self) -> bool {
        self.port == 0
    }

    /// True when the connection address is the RFC 2543 hold style `0.0.0.0` (or `::`).
    pub fn is_zero_address(&self) -> bool {
        self.connection
            .as_deref()
            .and_then(|c| c.parse::<IpAddr>().ok())
            .is_some_and(|ip| ip.is_unspecified())
    }

    /// The payload types listed on the m-line that parse as numbers.
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// The codecs recproof knows among the listed formats, in preference order.
    pub fn codecs(&self) -> Vec<Codec> {
        self.payload_types()
            .into_iter()
            .filter_map(|pt| {
                let map = self.rtpmaps.iter().find(|m| m.payload_type == pt);
                match (pt, map.map(|m| m.encoding.to_ascii_lowercase())) {
                    (0, None) => Some(Codec::Pcmu),
                    (8, None) => Some(Codec::Pcma),
                    (_, Some(e)) if e == "pcmu" => Some(Codec::Pcmu),
                    (_, Some(e)) if e == "pcma" => Some(Codec::Pcma),
                    (_, Some(e)) if e == "telephone-event" => Some(Codec::TelephoneEvent(pt)),
                    _ => None,
                }
            })
            .collect()
    }
}

/// Most m-lines an SDP may carry to be read at all: a recording session has two (one
/// per party), a conference a few more; more is refused as malformed.
pub const MAX_MEDIA: usize = 64;

/// The SDP could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SDP: {0}")]
pub struct SdpError(pub String);

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    session: Session,
}

impl SessionDescription {
    /// Parses SDP bytes (CRLF or LF line ends).
    pub fn parse(bytes: &[u8]) -> Result<Self, SdpError> {
        // Counted before parsing: an offer of 10,000 m-lines would otherwise cost a
        // stream (and a port) each wherever it is answered.
        let mlines = bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"m="))
            .count();
        if mlines > MAX_MEDIA {
            return Err(SdpError(format!(
                "{mlines} m-lines; at most {MAX_MEDIA} are taken"
            )));
        }
        Session::parse(bytes)
            .map(|session| Self { session })
            .map_err(|e| SdpError(e.to_string()))
    }

    /// Writes the SDP (CRLF line ends).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.session.write(&mut out);
        out
    }

    /// The underlying sdp-types session, for callers that need a field not wrapped here.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session-level connection address, if any.
    pub fn session_connection(&self) -> Option<&str> {
        self.session
            .connection
            .as_ref()
            .map(|c| c.connection_address.as_str())
    }

    /// The session-level direction attribute, if any.
    pub fn session_direction(&self) -> Option<Direction> {
        self.session
            .attributes
            .iter()
            .find_map(|a| Direction::from_attribute(&a.attribute))
    }

    /// One view per m-line, in order.
    pub fn media(&self) -> Vec<MediaView> {
        let session_dir = self.session_direction();
        self.session
            .medias
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let media_dir = m
                    .attributes
                    .iter()
                    .find_map(|a| Direction::from_attribute(&a.attribute));
                let labels: Vec<&Attribute> = m
                    .attributes
                    .iter()
                    .filter(|a| a.attribute == "label")
                    .collect();
                let rtpmaps = m
                    .attributes
                    .iter()
                    .filter(|a| a.attribute == "rtpmap")
                    .filter_map(|a| parse_rtpmap(a.value.as_deref()?))
                    .collect();
                let connection = m
                    .connections
                    .first()
                    .or(self.session.connection.as_ref())
                    .map(|c| c.connection_address.clone());
                MediaView {
                    index,
                    kind: m.media.clone(),
                    port: m.port,
                    proto: m.proto.clone(),
                    formats: m.fmt.split_whitespace().map(str::to_owned).collect(),
                    label: labels.first().and_then(|a| a.value.clone()),
                    label_count: labels.len(),
                    direction: media_dir.or(session_dir).unwrap_or(Direction::SendRecv),
                    direction_explicit: media_dir.is_some() || session_dir.is_some(),
                    connection,
                    rtpmaps,
                    text: media_text(m),
                }
            })
            .collect()
    }
}

fn parse_rtpmap(value: &str) -> Option<RtpMap> {
    let (pt, rest) = value.trim().split_once(char::is_whitespace)?;
    let mut enc = rest.trim().split('/');
    let encoding = enc.next()?.to_owned();
    let clock_rate = enc.next()?.parse().ok()?;
    Some(RtpMap {
        payload_type: pt.parse().ok()?,
        encoding,
        clock_rate,
    })
}

fn media_text(m: &Media) -> String {
    let mut s = format!("m={} {} {} {}", m.media, m.port, m.proto, m.fmt);
    for c in &m.connections {
        s.push_str(&format!(
            "\r\nc=IN {} {}",
            addrtype_str(c),
            c.connection_address
        ));
    }
    for a in &m.attributes {
        match &a.value {
            Some(v) => s.push_str(&format!("\r\na={}:{v}", a.attribute)),
            None => s.push_str(&format!("\r\na={}", a.attribute)),
        }
    }
    s
}

fn addrtype_str(c: &Connection) -> &'static str {
    if c.is_ipv6() { "IP6" } else { "IP4" }
}

/// One stream to put in an offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// RTP port (0 declines the stream).
    pub port: u16,
    /// `a=label`, if any.
    pub label: Option<String>,
    /// Direction attribute to write; `None` writes none (sendrecv by default).
    pub direction: Option<Direction>,
    /// Codecs in preference order.
    pub codecs: Vec<Codec>,
    /// A media-level connection address overriding the session one (e.g. `0.0.0.0`).
    pub connection: Option<IpAddr>,
}

impl StreamSpec {
    /// An audio stream with PCMU, PCMA and telephone-event/101.
    pub fn audio(port: u16) -> Self {
        Self {
            port,
            label: None,
            direction: None,
            codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent(101)],
            connection: None,
        }
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the direction attribute.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Sets the codecs.
    pub fn codecs(mut self, codecs: Vec<Codec>) -> Self {
        self.codecs = codecs;
        self
    }
}

/// Builds SDP byte-exactly from stream specs.
#[derive(Debug, Clone)]
pub struct SdpBuilder {
    address: IpAddr,
    session_id: u64,
    version: u64,
    streams: Vec<StreamSpec>,
}

impl SdpBuilder {
    /// A session from `address` with the given o= session id and version.
    pub fn new(address: IpAddr, session_id: u64, version: u64) -> Self {
        Self {
            address,
            session_id,
            version,
            streams: Vec::new(),
        }
    }

    /// Adds a stream.
    pub fn stream(mut self, spec: StreamSpec) -> Self {
        self.streams.push(spec);
        self
    }

    /// The session description.
    pub fn build(&self) -> SessionDescription {
        let mut origin = Origin::with_ip_addr(self.session_id, self.version, self.address);
        origin.set_username("recproof");
        let mut session = Session::new(origin, "recproof");
        session.connection = Some(Connection::from_ip_addr(self.address));
        session.times.push(sdp_types::Time::new(0, 0));
        for s in &self.streams {
            let fmt: Vec<String> = s
                .codecs
                .iter()
                .map(|c| c.payload_type().to_string())
                .collect();
            let mut media = Media {
                media: "audio".to_owned(),
                port: s.port,
                num_ports: None,
                proto: "RTP/AVP".to_owned(),
                fmt: if fmt.is_empty() {
                    "0".to_owned()
                } else {
                    fmt.join(" ")
                },
                media_title: None,
                connections: Vec::new(),
                bandwidths: Vec::new(),
                key: None,
                attributes: Vec::new(),
            };
            if let Some(ip) = s.connection {
                media.connections.push(Connection::from_ip_addr(ip));
            }
            for c in &s.codecs {
                media
                    .attributes
                    .push(Attribute::with_value("rtpmap", c.rtpmap()));
                if let Codec::TelephoneEvent(pt) = c {
                    media
                        .attributes
                        .push(Attribute::with_value("fmtp", format!("{pt} 0-16")));
                }
            }
            media.attributes.push(Attribute::with_value("ptime", "20"));
            if let Some(label) = &s.label {
                media.attributes.push(Attribute::with_value("label", label));
            }
            if let Some(d) = s.direction {
                media.attributes.push(Attribute::new(d.as_str()));
            }
            session.medias.push(media);
        }
        SessionDescription { session }
    }
}

/// Why an answer does not fit its offer (RFC 3264 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferAnswerError {
    /// The answer has a different number of m-lines.
    #[error(
        "answer has {answer} m-lines but the offer has {offer} (RFC 3264 §6: one per offered stream, same order)"
    )]
    StreamCount {
        /// m-lines in the offer.
        offer: usize,
        /// m-lines in the answer.
        answer: usize,
    },
    /// The media type of an m-line changed.
    #[error("m-line {index}: answer media `{answer}` does not match offered `{offer}`")]
    MediaKind {
        /// m-line index (0-based).
        index: usize,
        /// Offered media type.
        offer: String,
        /// Answered media type.
        answer: String,
    },
    /// The answer's direction is not allowed for the offered one.
    #[error(
        "m-line {index}: answer direction {answer:?} is not allowed for offered {offer:?} (RFC 3264 §6.1)"
    )]
    Direction {
        /// m-line index.
        index: usize,
        /// Offered direction.
        offer: Direction,
        /// Answered direction.
        answer: Direction,
    },
    /// The answer accepts a stream but lists no format that was offered.
    #[error("m-line {index}: answer lists no offered format")]
    NoCommonFormat {
        /// m-line index.
        index: usize,
    },
}

/// The agreed state of one stream after offer/answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// m-line index.
    pub index: usize,
    /// Label from the offer, if any.
    pub label: Option<String>,
    /// Where the offerer sends RTP (answerer's address and port), if it sends at all.
    pub offerer_sends_to: Option<(String, u16)>,
    /// Where the answerer sends RTP (offerer's address and port), if it sends at all.
    pub answerer_sends_to: Option<(String, u16)>,
    /// The first common codec (the answerer's first listed that was offered).
    pub codec: Option<Codec>,
    /// The telephone-event payload type both sides listed, if any.
    pub telephone_event: Option<u8>,
}

/// Checks an answer against its offer and returns what was agreed per stream.
pub fn negotiate(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Vec<Negotiated>, OfferAnswerError> {
    let (o, a) = (offer.media(), answer.media());
    if o.len() != a.len() {
        return Err(OfferAnswerError::StreamCount {
            offer: o.len(),
            answer: a.len(),
        });
    }
    o.iter()
        .zip(&a)
        .map(|(om, am)| {
            if om.kind != am.kind {
                return Err(OfferAnswerError::MediaKind {
                    index: om.index,
                    offer: om.kind.clone(),
                    answer: am.kind.clone(),
                });
            }
            if om.is_declined() || am.is_declined() {
                return Ok(Negotiated {
                    index: om.index,
                    label: om.label.clone(),
                    offerer_sends_to: None,
                    answerer_sends_to: None,
                    codec: None,
                    telephone_event: None,
                });
            }
            let allowed = match om.direction {
                Direction::SendRecv => true,
                Direction::SendOnly => {
                    matches!(am.direction, Direction::RecvOnly | Direction::Inactive)
                }
                Direction::RecvOnly => {
                    matches!(am.direction, Direction::SendOnly | Direction::Inactive)
                }
                Direction::Inactive => am.direction == Direction::Inactive,
            };
            if !allowed {
                return Err(OfferAnswerError::Direction {
                    index: om.index,
                    offer: om.direction,
                    answer: am.direction,
                });
            }
            let offered = om.codecs();
            let answered = am.codecs();
            let codec = answered
                .iter()
                .copied()
                .find(|c| !matches!(c, Codec::TelephoneEvent(_)) && offered.contains(c));
            let te = answered.iter().find_map(|c| match c {
                Codec::TelephoneEvent(pt)
                    if offered
                        .iter()
                        .any(|o| matches!(o, Codec::TelephoneEvent(_))) =>
                {
                    Some(*pt)
                }
                _ => None,
            });
            let common_formats = am.formats.iter().any(|f| om.formats.contains(f));
            if codec.is_none() && !common_formats {
                return Err(OfferAnswerError::NoCommonFormat { index: om.index });
            }
            let addr = |m: &MediaView| m.connection.clone().map(|c| (c, m.port));
            let live = |m: &MediaView| !m.is_zero_address();
            Ok(Negotiated {
                index: om.index,
                label: om.label.clone(),
                offerer_sends_to: (om.direction.sends() && am.direction.receives() && live(am))
                    .then(|| addr(am))
                    .flatten(),
                answerer_sends_to: (am.direction.sends() && om.direction.receives() && live(om))
                    .then(|| addr(om))
                    .flatten(),
                codec,
                telephone_event: te,
            })
        })
        .collect()
}

/// Builds the answer an SRS gives (RFC 7866 §7.2): each accepted stream answered
/// `recvonly` on the port `ports` assigns it (in m-line order), with the first offered
/// codec recproof knows; streams with no port left, or already declined, get port 0.
pub fn answer_as_recorder(
    offer: &SessionDescription,
    address: IpAddr,
    session_id: u64,
    ports: &[u16],
) -> SessionDescription {
    let mut b = SdpBuilder::new(address, session_id, 1);
    for (m, port) in offer
        .media()
        .iter()
        .zip(ports.iter().copied().chain(std::iter::repeat(0)))
    {
        let codecs = m.codecs();
        let first = codecs
            .iter()
            .copied()
            .find(|c| !matches!(c, Codec::TelephoneEvent(_)));
        let mut spec = StreamSpec::audio(if m.is_declined() { 0 } else { port })
            .direction(m.direction.answer())
            .codecs(first.into_iter().collect());
        spec.label = m.label.clone();
        b = b.stream(spec);
    }
    b.build()
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_offer_of_more_than_max_media_m_lines_is_refused() {
        let head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n";
        let mline = "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
        let ok = format!("{head}{}", mline.repeat(MAX_MEDIA));
        assert_eq!(
            SessionDescription::parse(ok.as_bytes()).map(|s| s.media().len()),
            Ok(MAX_MEDIA)
        );
        let flood = format!("{head}{}", mline.repeat(10_000));
        let err = SessionDescription::parse(flood.as_bytes()).expect_err("refused");
        assert!(err.0.contains("10000 m-lines"), "{err}");
    }

    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn recording_offer() -> SessionDescription {
        SdpBuilder::new(LOCAL, 42, 1)
            .stream(
                StreamSpec::audio(40000)
                    .label("1")
                    .direction(Direction::SendOnly),
            )
            .stream(
                StreamSpec::audio(40002)
                    .label("2")
                    .direction(Direction::SendOnly),
            )
            .build()
    }

    #[test]
    fn built_sdp_round_trips_through_the_parser() {
        let offer = recording_offer();
        let bytes = offer.to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains("a=label:1\r\na=sendonly\r\n"), "{text}");
        let parsed = SessionDescription::parse(&bytes).expect("parses");
        assert_eq!(parsed.to_bytes(), bytes, "byte-identical re-serialisation");
        let media = parsed.media();
        assert_eq!(media.len(), 2);
        assert_eq!(media[0].label.as_deref(), Some("1"));
        assert_eq!(media[1].direction, Direction::SendOnly);
        assert_eq!(
            media[0].codecs(),
            vec![Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent(101)]
        );
        assert_eq!(media[0].connection.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn recorder_answer_is_recvonly_and_declines_with_port_zero() {
        let offer = recording_offer();
        let answer = answer_as_recorder(&offer, LOCAL, 7, &[50000]);
        let am = answer.media();
        assert_eq!(am[0].direction, Direction::RecvOnly);
        assert_eq!((am[0].port, am[1].port), (50000, 0));
        let agreed = negotiate(&offer, &answer).expect("valid answer");
        assert_eq!(
            agreed[0].offerer_sends_to,
            Some(("127.0.0.1".into(), 50000))
        );
        assert_eq!(agreed[0].answerer_sends_to, None, "an SRS sends no RTP");
        assert_eq!(agreed[0].codec, Some(Codec::Pcmu));
        assert_eq!(
            agreed[1].offerer_sends_to, None,
            "declined stream carries no RTP"
        );
    }

    #[test]
    fn invalid_answers_are_rejected() {
        let offer = recording_offer();
        let sendrecv = SdpBuilder::new(LOCAL, 1, 1)
            .stream(StreamSpec::audio(1).direction(Direction::SendRecv))
            .stream(StreamSpec::audio(2).direction(Direction::RecvOnly))
            .build();
        assert!(matches!(
            negotiate(&offer, &sendrecv),
            Err(OfferAnswerError::Direction { index: 0, .. })
        ));
        let one = SdpBuilder::new(LOCAL, 1, 1)
            .stream(StreamSpec::audio(1).direction(Direction::RecvOnly))
            .build();
        assert_eq!(
            negotiate(&offer, &one),
            Err(OfferAnswerError::StreamCount {
                offer: 2,
                answer: 1
            })
        );
        let g729 = SessionDescription::parse(
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5 RTP/AVP 18\r\na=recvonly\r\nm=audio 6 RTP/AVP 18\r\na=recvonly\r\n",
        )
        .expect("parses");
        assert_eq!(
            negotiate(&offer, &g729),
            Err(OfferAnswerError::NoCommonFormat { index: 0 })
        );
    }

    #[test]
    fn hold_style_and_session_level_direction() {
        let sdp = SessionDescription::parse(
            b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\nm=audio 4002 RTP/AVP 8\r\nc=IN IP4 10.0.0.1\r\na=sendonly\r\n",
        )
        .expect("parses");
        let m = sdp.media();
        assert!(m[0].is_zero_address());
        assert_eq!(
            (m[0].direction, m[0].direction_explicit),
            (Direction::Inactive, true)
        );
        assert_eq!(m[0].codecs(), vec![Codec::Pcmu, Codec::TelephoneEvent(101)]);
        assert!(!m[1].is_zero_address());
        assert_eq!(
            m[1].direction,
            Direction::SendOnly,
            "media level overrides session level"
        );
        let plain = SessionDescription::parse(
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n",
        )
        .expect("parses");
        assert_eq!(
            (
                plain.media()[0].direction,
                plain.media()[0].direction_explicit
            ),
            (Direction::SendRecv, false)
        );
    }

    #[test]
    fn malformed_sdp_is_an_error() {
        for bad in [
            &b""[..],
            b"garbage",
            b"v=0\r\nm=audio x RTP/AVP 0\r\n",
            b"v=1\r\n",
        ] {
            assert!(
                SessionDescription::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
