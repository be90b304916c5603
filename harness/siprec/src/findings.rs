//! Findings: what a check reports, citing a requirement of recproof's catalogue (`docs/requirements.md`).
//!
//! This module owns the vocabulary every checker in recproof shares: the requirement
//! catalogue ([`REQUIREMENTS`], one entry per checklist ID), the [`Severity`] of a
//! finding, the target [`Profile`] that decides severities, and the [`Evidence`] a finding
//! carries so a person can see *what* was wrong, not just that something was.
//!
//! It does no checking itself and must not depend on any parser: checkers (single-message
//! validation in [`crate::validate`], the metadata rules in [`crate::metadata`], the call
//! checks of later crates) build [`Finding`]s with it.

use serde::Serialize;
use std::fmt;

/// How bad a finding is, as the checklist defines the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Recorded, not judged.
    Info,
    /// Works with the known platforms but is non-standard.
    Warn,
    /// Breaks the standard or the stated policy.
    Fail,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// Which dialect the target is judged against (the two dialects of `docs/requirements.md`).
///
/// In `broadworks-compat` the deviations that the observed Webex/BroadWorks SRC is known
/// to make (no `Require: siprec`, `;src` instead of `+sip.src`, the pre-RFC metadata
/// schema, ...) are WARN instead of FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// RFC 7866 + RFC 7865 + RFC 9806, to the letter.
    #[default]
    RfcStrict,
    /// What Webex Calling and BroadWorks are seen to send.
    BroadworksCompat,
}

impl Profile {
    /// The profile's name as the CLI and reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::RfcStrict => "rfc-strict",
            Self::BroadworksCompat => "broadworks-compat",
        }
    }

    /// Picks the severity for a deviation that is a FAIL under `rfc-strict` and `compat`
    /// under `broadworks-compat`.
    pub fn strict_or(self, compat: Severity) -> Severity {
        match self {
            Self::RfcStrict => Severity::Fail,
            Self::BroadworksCompat => compat,
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rfc-strict" => Ok(Self::RfcStrict),
            "broadworks-compat" => Ok(Self::BroadworksCompat),
            other => Err(format!(
                "unknown profile `{other}` (known profiles: rfc-strict, broadworks-compat)"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One requirement of the checklist: its ID and a one-line title for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The checklist ID, e.g. `SRC-02`. Grep for it to find where it is checked.
    pub id: &'static str,
    /// A short title, for report tables.
    pub title: &'static str,
}

/// Every requirement ID of recproof's catalogue (`docs/requirements.md`), in catalogue
/// order: SRC-, SRS-, MD-, POL-, then the SIP- framing rules recproof adds.
#[rustfmt::skip]
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement { id: "SRC-01", title: "Recording session is its own dialog, separate from the CS" },
    Requirement { id: "SRC-02", title: "Initial RS INVITE carries Require: siprec" },
    Requirement { id: "SRC-03", title: "Contact carries the +sip.src feature tag" },
    Requirement { id: "SRC-04", title: "Accept lists SDP, metadata and rs-metadata-request" },
    Requirement { id: "SRC-05", title: "Body is multipart/mixed with an SDP part and a metadata part" },
    Requirement { id: "SRC-06", title: "Metadata part has Content-Type application/rs-metadata+xml" },
    Requirement { id: "SRC-07", title: "Metadata part has Content-Disposition: recording-session" },
    Requirement { id: "SRC-08", title: "Every m-line has a unique a=label" },
    Requirement { id: "SRC-09", title: "Every RS stream is offered sendonly" },
    Requirement { id: "SRC-10", title: "Two-party call in separate mode has two streams" },
    Requirement { id: "SRC-11", title: "Metadata stream labels and SDP labels match one to one" },
    Requirement { id: "SRC-12", title: "Every sending participant is tied to its stream" },
    Requirement { id: "SRC-13", title: "First metadata on an RS is complete" },
    Requirement { id: "SRC-14", title: "CS changes are sent as metadata updates in the RS dialog" },
    Requirement { id: "SRC-15", title: "Update IDs stay stable across snapshots" },
    Requirement { id: "SRC-16", title: "Streams are added with new labels and removed with port 0" },
    Requirement { id: "SRC-17", title: "No call audio reaches the SRS while paused" },
    Requirement { id: "SRC-18", title: "CS hold is shown to the recorder" },
    Requirement { id: "SRC-19", title: "CS parties are told about the recording" },
    Requirement { id: "SRC-20", title: "RS ends with BYE when the CS ends" },
    Requirement { id: "SRC-21", title: "SRC answers a snapshot request with a complete snapshot" },
    Requirement { id: "SRC-22", title: "SRS failure triggers the configured failure behaviour" },
    Requirement { id: "SRC-23", title: "RS INVITE carries the CS identity (Session-ID / sipSessionID)" },
    Requirement { id: "SRC-24", title: "RS uses TLS and SRTP" },
    Requirement { id: "SRC-25", title: "RTP goes where the SRS answer says; none to declined streams" },
    Requirement { id: "SRS-01", title: "SRS treats an INVITE as an RS only with both SIPREC markers" },
    Requirement { id: "SRS-02", title: "SRS Contact carries +sip.srs" },
    Requirement { id: "SRS-03", title: "SRS answers sendonly with recvonly and sends no RTP" },
    Requirement { id: "SRS-04", title: "Non-SIPREC INVITE is rejected" },
    Requirement { id: "SRS-05", title: "An unsupported Require option tag is refused with 420 and Unsupported" },
    Requirement { id: "SRS-06", title: "SRS accepts metadata updates with 2xx (applying them: needs its export)" },
    Requirement { id: "SRS-07", title: "SRS snapshot request is well formed" },
    Requirement { id: "SRS-08", title: "SRS error handling: 400, 415, 503, never silent drop" },
    Requirement { id: "SRS-09", title: "SRS accepts both metadata media type names" },
    Requirement { id: "SRS-10", title: "SRS accepts any part order, header spacing and line ends" },
    Requirement { id: "SRS-11", title: "SRS ends the RS with BYE when it stops on its own" },
    Requirement { id: "SRS-12", title: "SRS keeps the streams apart and tied to participants" },
    Requirement { id: "SRS-13", title: "SRS answers a recording session promptly" },
    Requirement { id: "SRS-14", title: "SRS under load accepts or rejects with 503, never drops media" },
    Requirement { id: "MD-01", title: "Metadata namespace and root element" },
    Requirement { id: "MD-02", title: "Children of recording in schema order" },
    Requirement { id: "MD-03", title: "datamode is complete or partial" },
    Requirement { id: "MD-04", title: "IDs are base64 of a 128-bit UUID" },
    Requirement { id: "MD-05", title: "group has group_id and valid children" },
    Requirement { id: "MD-06", title: "session has session_id and valid children" },
    Requirement { id: "MD-07", title: "sessionrecordingassoc ties the CS to the RS" },
    Requirement { id: "MD-08", title: "participant has participant_id and nameID with aor" },
    Requirement { id: "MD-09", title: "participantsessionassoc references and times" },
    Requirement { id: "MD-10", title: "stream has stream_id, session_id and label" },
    Requirement { id: "MD-11", title: "participantstreamassoc send/recv references" },
    Requirement { id: "MD-12", title: "Every reference resolves" },
    Requirement { id: "MD-13", title: "Times are RFC 3339 with timezone and consistent" },
    Requirement { id: "MD-14", title: "No unknown elements in the recording namespace" },
    Requirement { id: "MD-15", title: "Snapshot request body and headers" },
    Requirement { id: "MD-16", title: "BroadWorks dialect maps into the common model" },
    Requirement { id: "MD-17", title: "BroadWorks identity matches the person's settings" },
    Requirement { id: "POL-01", title: "Record modes behave as configured" },
    Requirement { id: "POL-02", title: "Feature access codes start, stop, pause, resume" },
    Requirement { id: "POL-03", title: "Start/stop announcement is played" },
    Requirement { id: "POL-04", title: "Announcement is not in the recording" },
    Requirement { id: "POL-05", title: "Announcement is reported to the recorder as metadata" },
    Requirement { id: "POL-06", title: "Reminder tone keeps its interval" },
    Requirement { id: "POL-07", title: "Pause/resume notification" },
    Requirement { id: "POL-08", title: "Compliance announcement" },
    Requirement { id: "POL-09", title: "Two streams per call, one per participant" },
    Requirement { id: "POL-10", title: "Voicemail recording" },
    Requirement { id: "POL-11", title: "Vendor precedence: org default, location override" },
    Requirement { id: "POL-12", title: "None vendor disables recording" },
    Requirement { id: "POL-13", title: "Failure behaviour when the SRS fails" },
    Requirement { id: "POL-14", title: "Licence/vendor constraint" },
    Requirement { id: "POL-15", title: "Paused portions left out; restart gives several recordings" },
    Requirement { id: "POL-16", title: "Transfer and conference update the recorder" },
    Requirement { id: "POL-17", title: "Correlation ids match" },
    // recproof additions, not (yet) in the checklist: framing rules every SIP peer must
    // keep, needed because a malformed message must be a finding, never a crash.
    Requirement { id: "SIP-01", title: "Message follows the SIP grammar (RFC 3261 §7, §25)" },
    Requirement { id: "SIP-02", title: "Content-Length matches the body (RFC 3261 §18.3, §20.14)" },
    Requirement { id: "SIP-03", title: "Mandatory headers are present (RFC 3261 §8.1.1)" },
];

/// The IDs [`crate::validate::validate`] can report findings for (a test runs the
/// validator over every test vector and keeps this list a superset of what it finds).
#[rustfmt::skip]
pub const VALIDATED_IDS: &[&str] = &[
    "SRC-02", "SRC-03", "SRC-04", "SRC-05", "SRC-06", "SRC-07", "SRC-08", "SRC-09", "SRC-10",
    "SRC-11", "SRC-12", "SRC-13", "SRC-23",
    "MD-01", "MD-02", "MD-03", "MD-04", "MD-05", "MD-06", "MD-07", "MD-08", "MD-09", "MD-10",
    "MD-11", "MD-12", "MD-13", "MD-14", "MD-15", "MD-16", "MD-17",
    "POL-05", "POL-17", "SIP-01", "SIP-02", "SIP-03",
];

/// Looks a requirement up by its ID (`SRC-02`, `MD-04`, ...).
pub fn requirement(id: &str) -> Option<&'static Requirement> {
    REQUIREMENTS.iter().find(|r| r.id == id)
}

/// What a finding points at, so the reader sees the offending input itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Nothing beyond the message (e.g. "header absent").
    None,
    /// A header line as received.
    Header {
        /// Header name as it appeared on the wire.
        name: String,
        /// Its value, verbatim.
        value: String,
    },
    /// A span of the input bytes (lossy UTF-8 for display; `offset` into the file).
    Bytes {
        /// Byte offset of the excerpt in the input.
        offset: usize,
        /// The excerpt, lossily decoded, truncated to a readable length.
        excerpt: String,
    },
    /// An XML element, by a path such as `recording/stream[2]/label`.
    Element {
        /// Slash-separated element path.
        path: String,
        /// The element's text or a short serialisation.
        excerpt: String,
    },
    /// An SDP line or media section.
    Sdp {
        /// 0-based media section index, or none for session level.
        media_index: Option<usize>,
        /// The offending SDP line(s).
        excerpt: String,
    },
}

/// Longest excerpt kept as evidence; longer input is cut with a marker.
pub const MAX_EXCERPT: usize = 400;

impl Evidence {
    /// Evidence for a byte span, cut to [`MAX_EXCERPT`] characters.
    pub fn bytes(offset: usize, bytes: &[u8]) -> Self {
        Self::Bytes {
            offset,
            excerpt: excerpt(&String::from_utf8_lossy(bytes)),
        }
    }

    /// Evidence for a header line.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Header {
            name: name.into(),
            value: excerpt(&value.into()),
        }
    }

    /// Evidence for an XML element.
    pub fn element(path: impl Into<String>, text: impl AsRef<str>) -> Self {
        Self::Element {
            path: path.into(),
            excerpt: excerpt(text.as_ref()),
        }
    }

    /// Evidence for SDP lines.
    pub fn sdp(media_index: Option<usize>, text: impl AsRef<str>) -> Self {
        Self::Sdp {
            media_index,
            excerpt: excerpt(text.as_ref()),
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Header { name, value } => write!(f, "{name}: {value}"),
            Self::Bytes { offset, excerpt } => write!(f, "at byte {offset}: {excerpt:?}"),
            Self::Element { path, excerpt } => write!(f, "<{path}> {excerpt}"),
            Self::Sdp {
                media_index: Some(i),
                excerpt,
            } => write!(f, "m-line {}: {excerpt}", i + 1),
            Self::Sdp {
                media_index: None,
                excerpt,
            } => write!(f, "session: {excerpt}"),
        }
    }
}

/// Cuts `s` to [`MAX_EXCERPT`] characters on a char boundary.
pub fn excerpt(s: &str) -> String {
    if s.chars().count() <= MAX_EXCERPT {
        return s.to_owned();
    }
    let cut: String = s.chars().take(MAX_EXCERPT).collect();
    format!("{cut}…[cut]")
}

/// One judged observation: which requirement, how bad, why, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Checklist ID (see [`REQUIREMENTS`]).
    pub requirement: &'static str,
    /// Severity under the profile the check ran with.
    pub severity: Severity,
    /// A sentence a person understands, saying what was expected and what was seen.
    pub message: String,
    /// The offending input.
    pub evidence: Evidence,
}

impl Finding {
    /// Builds a finding. `requirement` must be a checklist ID; debug builds assert it.
    pub fn new(
        requirement: &'static str,
        severity: Severity,
        message: impl Into<String>,
        evidence: Evidence,
    ) -> Self {
        debug_assert!(
            self::requirement(requirement).is_some(),
            "unknown requirement ID {requirement}"
        );
        Self {
            requirement,
            severity,
            message: message.into(),
            evidence,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.severity, self.requirement, self.message
        )?;
        if self.evidence != Evidence::None {
            write!(f, "\n    evidence: {}", self.evidence)?;
        }
        Ok(())
    }
}

/// True when any finding is a FAIL.
pub fn any_fail(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in REQUIREMENTS {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            let (prefix, num) = r.id.split_once('-').expect("ID has a dash");
            assert!(
                ["SRC", "SRS", "MD", "POL", "SIP"].contains(&prefix),
                "{}",
                r.id
            );
            assert_eq!(num.len(), 2, "{}", r.id);
        }
        assert_eq!(REQUIREMENTS.len(), 25 + 14 + 17 + 17 + 3);
    }

    #[test]
    fn profile_decides_severity() {
        assert_eq!(Profile::RfcStrict.strict_or(Severity::Warn), Severity::Fail);
        assert_eq!(
            Profile::BroadworksCompat.strict_or(Severity::Warn),
            Severity::Warn
        );
        assert_eq!(
            "broadworks-compat".parse::<Profile>(),
            Ok(Profile::BroadworksCompat)
        );
        assert!(
            "strict"
                .parse::<Profile>()
                .expect_err("unknown profile")
                .contains("known profiles")
        );
    }

    #[test]
    fn excerpts_are_cut_on_char_boundaries() {
        let long = "ø".repeat(MAX_EXCERPT + 10);
        let cut = excerpt(&long);
        assert!(cut.ends_with("…[cut]"));
        assert_eq!(cut.chars().filter(|c| *c == 'ø').count(), MAX_EXCERPT);
    }
}
