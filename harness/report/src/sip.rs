//! SIP messages of a call, as the report shows them: who sent what to whom and when,
//! with a short label (method, or status code and reason with the CSeq method).
//!
//! The text is the peer's: this module only slices it (first line, `CSeq`, `Call-ID`)
//! and never trusts it to be well formed; escaping is the pages' and plots' job.

use observe::{Actor, Event, Observation, Payload};

/// The longest label drawn.
const LABEL_MAX: usize = 40;

/// Request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    /// A response with its status code (0 when unreadable).
    Response(u16),
    /// Not readable as either (binary, empty).
    Unknown,
}

/// One SIP message seen on the call.
#[derive(Debug, Clone)]
pub(crate) struct SipMessage {
    pub(crate) t_us: u64,
    pub(crate) actor: Actor,
    /// True when `actor` sent it.
    pub(crate) sent: bool,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) transport: String,
    pub(crate) kind: Kind,
    /// `INVITE`, `200 OK (INVITE)`.
    pub(crate) label: String,
    pub(crate) call_id: Option<String>,
    /// The message text (lossy; base64 payloads are shown as such).
    pub(crate) text: String,
}

impl SipMessage {
    /// CSS/SVG class of the label.
    pub(crate) fn class(&self) -> &'static str {
        match self.kind {
            Kind::Request => "req",
            Kind::Response(c) if c < 200 => "r1xx",
            Kind::Response(c) if c < 300 => "r2xx",
            Kind::Response(_) => "rerr",
            Kind::Unknown => "unk",
        }
    }
}

/// The SIP messages among a call's observations, in time order. Each message is kept
/// once per observing actor (the harness plays the parties and the recorder, the
/// platform is the system under test, so each message normally appears once).
pub(crate) fn messages(observations: &[Observation]) -> Vec<SipMessage> {
    observations
        .iter()
        .filter_map(|o| {
            let (sent, transport, local, remote, message) = match &o.event {
                Event::SipSent {
                    transport,
                    local,
                    remote,
                    message,
                } => (true, transport, local, remote, message),
                Event::SipReceived {
                    transport,
                    local,
                    remote,
                    message,
                } => (false, transport, local, remote, message),
                _ => return None,
            };
            let text = match message {
                Payload::Text(t) => t.clone(),
                Payload::Base64(b) => format!("(binary message, base64) {b}"),
            };
            let (kind, label) = match message {
                Payload::Text(t) => describe(t),
                Payload::Base64(_) => (Kind::Unknown, "(binary)".to_owned()),
            };
            let (from, to) = if sent {
                (local.clone(), remote.clone())
            } else {
                (remote.clone(), local.clone())
            };
            Some(SipMessage {
                t_us: o.t_us,
                actor: o.actor,
                sent,
                from,
                to,
                transport: transport.clone(),
                kind,
                label,
                call_id: header(&text, &["call-id", "i"]).map(|s| crate::util::truncate(s, 80)),
                text,
            })
        })
        .collect()
}

/// Kind and label from the message text.
fn describe(text: &str) -> (Kind, String) {
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return (Kind::Unknown, "(empty)".to_owned());
    }
    if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let mut parts = rest.splitn(2, ' ');
        let code_s = parts.next().unwrap_or("");
        let reason = parts.next().unwrap_or("").trim();
        let code = code_s.parse::<u16>().unwrap_or(0);
        let method = header(text, &["cseq"])
            .and_then(|c| c.split_whitespace().nth(1))
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        let label = format!("{code_s} {reason}{method}");
        return (
            Kind::Response(code),
            crate::util::truncate(&label, LABEL_MAX),
        );
    }
    let method = first.split_whitespace().next().unwrap_or("");
    (Kind::Request, crate::util::truncate(method, LABEL_MAX))
}

/// The value of the first header with one of `names` (lower-case), trimmed.
fn header<'a>(text: &'a str, names: &[&str]) -> Option<&'a str> {
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && names.contains(&name.trim().to_ascii_lowercase().as_str())
        {
            return Some(value.trim());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_requests_and_responses() {
        assert_eq!(
            describe("INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n"),
            (Kind::Request, "INVITE".to_owned())
        );
        assert_eq!(
            describe("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n"),
            (Kind::Response(200), "200 OK (INVITE)".to_owned())
        );
        assert_eq!(
            describe("SIP/2.0 abc"),
            (Kind::Response(0), "abc ".to_owned())
        );
        assert_eq!(describe(""), (Kind::Unknown, "(empty)".to_owned()));
        assert_eq!(
            header("X\r\ni: abc\r\n\r\nCall-ID: body", &["call-id", "i"]),
            Some("abc")
        );
    }
}
