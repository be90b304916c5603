//! What a SIPREC SRC puts on the wire of a recording session (RS): the SDP offers, the
//! metadata documents, the SRC header markers and the multipart body. Shared by the two
//! SRCs recproof has: its reference platform (the system it tests itself against) and the
//! harness SRC that plays the platform against a recorder under test, so both send the
//! same bytes for the same dialect.
//!
//! # What this module owns
//!
//! [`RsDocs`]: the per-RS constants (IDs, labels, correlation values) fixed when the RS
//! starts, so every later document of the same RS reuses them (SRC-15), and the
//! functions that turn them into bytes for either dialect:
//!
//! - **RFC 7865 / RFC 7866** (`rfc-strict`): `Require: siprec`, `Contact: <…>;+sip.src`,
//!   `Accept` with the snapshot-request type, `Session-ID` (RFC 7989), SDP first then
//!   `application/rs-metadata+xml` with `Content-Disposition: recording-session`, metadata
//!   `<recording>` with group, session (`sipSessionID`), participants, streams and the
//!   three association kinds.
//! - **BroadWorks / Webex** (`broadworks-compat`): no `Require`, `Contact: <sip:host:port;src>`,
//!   Webex's `Accept`, `Session-ID`, `X-BroadWorks-Correlation-Info` equal to
//!   `<extTrackingID>`, `MIME-Version: 1.0`, metadata part first with BroadWorks' header
//!   style (`Name:value`), `<recording_metadata>` with `extensiondata` /
//!   `broadWorksRecordingMetadata` carrying the person's serviceProvider, externalGroup
//!   and externalIdentifier.
//!
//! # What it must not touch
//!
//! No state machine, no timers, no I/O: the SRC using it decides when to send; this
//! module only builds.

use crate::metadata::{
    self, BroadWorksCallMetadata, BroadWorksGroup, BroadWorksRecording, BroadWorksRecordingInfo,
    BroadWorksStream, CallDirection, CallType, DataMode, Dialect, ExtensionData, Group, NameId,
    Participant, ParticipantSessionAssoc, ParticipantStreamAssoc, Recording, Session,
    SessionRecordingAssoc, Stream, StreamMode, XsDateTime, ids::IdGenerator,
};
use sip::endpoint::Extra;
use sip::multipart::{self, RS_METADATA_LEGACY, RS_METADATA_XML, Style};
use sip::sdp::{Codec, Direction, SdpBuilder, SessionDescription, StreamSpec};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Who is recorded and the call around them, as the metadata describes it.
#[derive(Debug, Clone)]
pub struct RsSubject {
    /// Their AOR on the platform.
    pub user_aor: String,
    /// Webex `serviceProvider`.
    pub service_provider: Option<String>,
    /// Webex `externalGroup`.
    pub external_group: Option<String>,
    /// Webex `externalIdentifier`.
    pub external_identifier: Option<String>,
    /// True when the recorded person placed the call.
    pub originating: bool,
    /// AOR of the party whose audio is stream 1 (the caller).
    pub party1_aor: String,
    /// AOR of the party whose audio is stream 2 (the callee, or the voicemail box).
    pub party2_aor: String,
    /// Number dialled by the caller.
    pub dialed: String,
}

/// How the streams are described (the faults and variants that touch the RS shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsShape {
    /// The SDP labels of the caller's and the callee's stream.
    pub labels: [&'static str; 2],
    /// One mixed stream instead of two (fault `single-stream`).
    pub single_stream: bool,
    /// Metadata labels differ from the SDP labels (fault `label-mismatch`).
    pub label_mismatch: bool,
    /// Times with `+00:00` instead of `Z` (variant `offset-times`).
    pub offset_times: bool,
}

/// How the multipart body of an RS INVITE is written: the details RFC 2046 and RFC 9806
/// leave open and real SRCs differ on (SRS-09, SRS-10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsBodyStyle {
    /// Content-Type of the metadata part: `application/rs-metadata+xml` (RFC 7866) or
    /// the legacy `application/rs-metadata`.
    pub metadata_type: &'static str,
    /// The metadata part before the SDP part (BroadWorks) instead of after it (RFC).
    pub metadata_first: bool,
    /// Part header spacing and line ends.
    pub style: Style,
    /// Boundary to start from ([`multipart::Builder::build_unique`] keeps it unique).
    pub boundary: &'static str,
}

impl RsBodyStyle {
    /// What the dialect's SRCs send: RFC 7866 puts SDP first with `Name: value` headers;
    /// BroadWorks puts the metadata first with `Name:value` headers.
    pub fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Rfc7865 => Self {
                metadata_type: RS_METADATA_XML,
                metadata_first: false,
                style: Style::default(),
                boundary: "recproof-rs",
            },
            Dialect::BroadWorks => Self {
                metadata_type: RS_METADATA_XML,
                metadata_first: true,
                style: Style {
                    space_after_colon: false,
                    line_end: "\r\n",
                },
                boundary: "UniqueBroadWorksBoundary",
            },
        }
    }

    /// This style with the legacy metadata media type name (`application/rs-metadata`).
    pub fn legacy_type(mut self) -> Self {
        self.metadata_type = RS_METADATA_LEGACY;
        self
    }
}

/// The SDP state of the RS streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsSdpState {
    /// `a=sendonly` at our address: recording.
    Active,
    /// `a=inactive` (pause by re-INVITE).
    Inactive,
    /// `a=sendonly` with `c=0.0.0.0` (BroadWorks-style pause).
    Hold0000,
}

/// The constants of one recording session and the documents built from them.
#[derive(Debug, Clone)]
pub struct RsDocs {
    /// Which dialect the documents and headers are written in.
    pub dialect: Dialect,
    /// The SDP labels, one per m-line.
    pub sdp_labels: Vec<String>,
    /// The complete metadata as first sent (updates add to it).
    pub recording: Recording,
    /// `Session-ID` header value (RFC 7989) = `<sipSessionID>`.
    pub session_header: String,
    /// `X-BroadWorks-Correlation-Info` = `<extTrackingID>`.
    pub correlation: String,
    /// ID of the CS `<session>`.
    pub session_id: String,
    ids: IdGenerator,
    sdp_session_id: u64,
    sdp_version: u64,
}

impl RsDocs {
    /// Fixes the IDs of a new RS.
    pub fn new(
        dialect: Dialect,
        shape: RsShape,
        subject: &RsSubject,
        seed: u64,
        call_half: u64,
        started: jiff::Timestamp,
    ) -> Self {
        let mut ids = IdGenerator::new(seed);
        let session_header = format!("{:032x}", ids.next_uuid().as_u128());
        let correlation = ids.next_uuid().hyphenated().to_string();
        let rec_id = ids.next_id(dialect);
        let group_id = ids.next_id(dialect);
        let session_id = ids.next_id(dialect);
        let p1 = ids.next_id(dialect);
        let p2 = ids.next_id(dialect);
        let s1 = ids.next_id(dialect);
        let s2 = ids.next_id(dialect);
        let ext_id = ids.next_id(dialect);
        let start: XsDateTime = if shape.offset_times {
            XsDateTime::new(XsDateTime::from(started).as_str().replace('Z', "+00:00"))
        } else {
            started.into()
        };
        let [l1, l2] = shape.labels;
        let sdp_labels: Vec<String> = if shape.single_stream {
            vec![l1.into()]
        } else {
            vec![l1.into(), l2.into()]
        };
        let md_label = |l: &str| {
            if shape.label_mismatch {
                format!("{l}0")
            } else {
                l.to_owned()
            }
        };
        let mode = StreamMode::Separate;
        let mut streams = vec![Stream {
            id: Some(s1.clone()),
            session_id: Some(session_id.clone()),
            label: Some(md_label(l1)),
            extensions: Vec::new(),
            broadworks: Some(BroadWorksStream {
                mode: Some(mode.clone()),
            }),
        }];
        if !shape.single_stream {
            streams.push(Stream {
                id: Some(s2.clone()),
                session_id: Some(session_id.clone()),
                label: Some(md_label(l2)),
                extensions: Vec::new(),
                broadworks: Some(BroadWorksStream { mode: Some(mode) }),
            });
        }
        let participant = |id: &str, aor: &str| Participant {
            id: Some(id.to_owned()),
            name_ids: vec![NameId {
                aor: Some(aor.to_owned()),
                names: Vec::new(),
                extensions: Vec::new(),
            }],
            extensions: Vec::new(),
        };
        let psa = |pid: &str| ParticipantSessionAssoc {
            participant_id: Some(pid.to_owned()),
            session_id: Some(session_id.clone()),
            associate_time: Some(start.clone()),
            ..ParticipantSessionAssoc::default()
        };
        let pstream = |pid: &str, send: Option<&str>, recv: Option<&str>| ParticipantStreamAssoc {
            participant_id: Some(pid.to_owned()),
            send: send.map(str::to_owned).into_iter().collect(),
            recv: recv.map(str::to_owned).into_iter().collect(),
            ..ParticipantStreamAssoc::default()
        };
        // With the single-stream fault the callee's stream is simply missing: the callee
        // is a participant that sends on nothing (and the SDP has one m-line).
        let stream_assocs = if shape.single_stream {
            vec![pstream(&p1, Some(&s1), None), pstream(&p2, None, Some(&s1))]
        } else {
            vec![
                pstream(&p1, Some(&s1), Some(&s2)),
                pstream(&p2, Some(&s2), Some(&s1)),
            ]
        };
        let (calling, called) = (subject.party1_aor.clone(), subject.party2_aor.clone());
        let recording = Recording {
            datamode: Some(DataMode::Complete),
            groups: vec![Group {
                id: Some(group_id.clone()),
                associate_time: Some(start.clone()),
                broadworks: Some(BroadWorksGroup {
                    recording: Some(rec_id.clone()),
                    initiator: Some(subject.user_aor.clone()),
                }),
                ..Group::default()
            }],
            sessions: vec![Session {
                id: Some(session_id.clone()),
                sip_session_ids: vec![session_header.clone()],
                group_ref: Some(group_id),
                start_time: Some(start.clone()),
                ..Session::default()
            }],
            participants: vec![
                participant(&p1, &subject.party1_aor),
                participant(&p2, &subject.party2_aor),
            ],
            streams,
            session_recording_assocs: vec![SessionRecordingAssoc {
                session_id: Some(session_id.clone()),
                associate_time: Some(start.clone()),
                ..SessionRecordingAssoc::default()
            }],
            participant_session_assocs: vec![psa(&p1), psa(&p2)],
            participant_stream_assocs: stream_assocs,
            extensions: Vec::new(),
            broadworks: Some(BroadWorksRecording {
                recording: Some(BroadWorksRecordingInfo {
                    id: Some(rec_id),
                    requestor: Some("SRC".into()),
                    recording_type: Some("selective".into()),
                    extensions: Vec::new(),
                }),
                extension_data: vec![ExtensionData {
                    id: Some(ext_id),
                    parent: Some(session_id.clone()),
                    call: Some(BroadWorksCallMetadata {
                        version: Some("3.0".into()),
                        ext_tracking_id: Some(correlation.clone()),
                        service_provider_id: subject.service_provider.clone(),
                        group_id: subject.external_group.clone(),
                        user_id: subject.external_identifier.clone(),
                        call_id: Some(format!("callhalf-{call_half}:0")),
                        call_type: Some(CallType {
                            direction: if subject.originating {
                                CallDirection::Originating
                            } else {
                                CallDirection::Terminating
                            },
                            calling_party_number: Some(calling),
                            called_party_number: Some(called),
                            dialed_digits: subject.originating.then(|| subject.dialed.clone()),
                            extensions: Vec::new(),
                        }),
                        recording_type: Some("on".into()),
                        acd: None,
                        extensions: Vec::new(),
                    }),
                    extensions: Vec::new(),
                }],
            }),
        };
        Self {
            dialect,
            sdp_labels,
            recording,
            session_header,
            correlation,
            session_id,
            ids,
            sdp_session_id: seed % 1_000_000_000 + 1000,
            sdp_version: 0,
        }
    }

    /// A fresh ID for an `extensiondata` (BroadWorks announcement updates).
    pub fn next_id(&mut self) -> String {
        self.ids.next_id(self.dialect)
    }

    /// The SDP offer for the RS streams on `ports` (one per SDP label), each offering
    /// PCMU and PCMA.
    pub fn sdp(&mut self, ip: IpAddr, ports: &[u16], state: RsSdpState) -> SessionDescription {
        self.sdp_with_codecs(ip, ports, state, &[])
    }

    /// [`RsDocs::sdp`] with the codecs of each stream given (`codecs[i]` for m-line
    /// `i`; PCMU and PCMA for a stream without an entry). The harness SRC offers each
    /// stream a different codec, so an answer that copies one stream's codec onto another
    /// is seen.
    pub fn sdp_with_codecs(
        &mut self,
        ip: IpAddr,
        ports: &[u16],
        state: RsSdpState,
        codecs: &[Vec<Codec>],
    ) -> SessionDescription {
        self.sdp_version += 1;
        let mut b = SdpBuilder::new(ip, self.sdp_session_id, self.sdp_version);
        for (i, (label, port)) in self.sdp_labels.iter().zip(ports).enumerate() {
            let offered = codecs
                .get(i)
                .cloned()
                .unwrap_or_else(|| vec![Codec::Pcmu, Codec::Pcma]);
            let mut spec = StreamSpec::audio(*port)
                .codecs(offered)
                .label(label.clone())
                .direction(if state == RsSdpState::Inactive {
                    Direction::Inactive
                } else {
                    Direction::SendOnly
                });
            if state == RsSdpState::Hold0000 {
                spec.connection = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            }
            b = b.stream(spec);
        }
        b.build()
    }

    /// Headers of every RS request: the CS identity (`Session-ID`, RFC 7989, SRC-23).
    fn base(&self) -> Extra {
        Extra::new().header(
            "Session-ID",
            &format!(
                "{};remote=00000000000000000000000000000000",
                self.session_header
            ),
        )
    }

    /// The initial RS INVITE's headers and multipart body, written the way the dialect's
    /// real SRCs write it ([`RsBodyStyle::of`]).
    pub fn initial_invite(&self, sdp: &SessionDescription) -> Extra {
        self.initial_invite_styled(sdp, &RsBodyStyle::of(self.dialect))
    }

    /// The initial RS INVITE with the dialect's headers and this body style.
    pub fn initial_invite_styled(&self, sdp: &SessionDescription, style: &RsBodyStyle) -> Extra {
        let xml = metadata::to_xml(&self.recording, self.dialect);
        self.initial_invite_with_metadata(sdp, style, xml.into_bytes())
    }

    /// The initial RS INVITE carrying `metadata` as the metadata part's bytes, whatever
    /// they are (the harness SRC's negative cases: malformed XML, a dangling reference).
    pub fn initial_invite_with_metadata(
        &self,
        sdp: &SessionDescription,
        style: &RsBodyStyle,
        metadata: Vec<u8>,
    ) -> Extra {
        let mut extra = self.base();
        extra = match self.dialect {
            Dialect::Rfc7865 => extra.header("Require", "siprec").header(
                "Accept",
                "application/sdp, application/rs-metadata+xml, application/rs-metadata-request",
            ),
            Dialect::BroadWorks => extra
                .header(
                    "Accept",
                    "application/media_control+xml,application/sdp,application/x-broadworks-call-center+xml",
                )
                .header("X-BroadWorks-Correlation-Info", &self.correlation)
                .header("MIME-Version", "1.0"),
        };
        with_multipart(extra, sdp, style, metadata)
    }

    /// A re-INVITE carrying only a new SDP offer (pause/resume).
    pub fn reinvite(&self, sdp: &SessionDescription) -> Extra {
        self.base().body(multipart::SDP, sdp.to_bytes())
    }

    /// A re-INVITE carrying a new SDP offer and `doc` as metadata in one multipart body
    /// (RFC 7866 §9: metadata may ride on any re-INVITE; SRS-06).
    pub fn reinvite_with_metadata(
        &self,
        sdp: &SessionDescription,
        style: &RsBodyStyle,
        doc: &Recording,
    ) -> Extra {
        let xml = metadata::to_xml(doc, self.dialect);
        with_multipart(self.base(), sdp, style, xml.into_bytes())
    }

    /// A partial metadata update (RFC 7865 `datamode` partial): only what changed, here
    /// the callee participant gaining a display name, referring by ID to the participant
    /// the complete document defined. An SRS applies it on top of its stored state
    /// (SRS-06).
    pub fn partial_update(&self) -> Recording {
        let mut doc = self.recording.clone();
        doc.datamode = Some(DataMode::Partial);
        doc.groups.clear();
        doc.sessions.clear();
        doc.streams.clear();
        doc.session_recording_assocs.clear();
        doc.participant_session_assocs.clear();
        doc.participant_stream_assocs.clear();
        doc.extensions.clear();
        let last = doc.participants.len().saturating_sub(1);
        doc.participants = doc.participants.drain(last..).collect();
        for p in &mut doc.participants {
            for n in &mut p.name_ids {
                n.names = vec![metadata::Name {
                    lang: Some("en".to_owned()),
                    text: "Recorded party (renamed by a partial update)".to_owned(),
                }];
            }
        }
        doc
    }

    /// An UPDATE carrying a metadata document (announcement reports).
    pub fn metadata_update(&self, doc: &Recording) -> Extra {
        let xml = metadata::to_xml(doc, self.dialect);
        self.base()
            .header("Content-Disposition", multipart::RECORDING_SESSION)
            .body(RS_METADATA_XML, xml.into_bytes())
    }
}

/// `extra` with a `multipart/mixed` body of `sdp` and `metadata`, in `style`'s part order.
fn with_multipart(
    extra: Extra,
    sdp: &SessionDescription,
    style: &RsBodyStyle,
    metadata: Vec<u8>,
) -> Extra {
    let mut b = multipart::Builder::new().style(style.style.clone());
    if style.metadata_first {
        b = b
            .metadata(style.metadata_type, metadata)
            .sdp(sdp.to_bytes());
    } else {
        b = b
            .sdp(sdp.to_bytes())
            .metadata(style.metadata_type, metadata);
    }
    let (boundary, bytes) = b.build_unique(style.boundary);
    extra.body(&format!("multipart/mixed;boundary={boundary}"), bytes)
}

/// The Contact of the SRC's user agent, on every RS request (SRC-03): `+sip.src` as a
/// feature tag (RFC 7866), BroadWorks' `;src` URI parameter, or nothing with the
/// `no-src-marker` fault.
pub fn src_contact(dialect: Dialect, src_marker: bool, sip: SocketAddr) -> String {
    match (src_marker, dialect) {
        (false, _) => format!("<sip:src@{sip}>"),
        (true, Dialect::Rfc7865) => format!("<sip:src@{sip}>;+sip.src"),
        (true, Dialect::BroadWorks) => format!("<sip:{sip};src>"),
    }
}
