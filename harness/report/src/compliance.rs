//! Plain-language statements for legal and compliance reviewers.
//!
//! This module owns the short titles of the requirements a reviewer cares about and the
//! rule that turns a call's verdicts into one paragraph per requirement: its title, the
//! overall outcome in words, then the verdicts' own summaries (which the checks write as
//! plain sentences with the measured numbers). It adds no judgement of its own.

use crate::results::{Status, Verdict};
use crate::util::requirement_key;
use std::collections::BTreeMap;

/// A short title for a requirement ID, when it has one.
pub(crate) fn title(id: &str) -> &'static str {
    match id {
        "POL-01" => "Recording mode and media from answer",
        "POL-02" => "Feature access codes",
        "POL-03" => "Start/stop announcement heard by the parties",
        "POL-04" => "Announcement kept out of the recording",
        "POL-05" => "Announcement reported to the recorder",
        "POL-06" => "Reminder tone",
        "POL-07" => "Pause/resume notice",
        "POL-08" => "Compliance announcement",
        "POL-09" => "One recorded stream per party",
        "POL-10" => "Voicemail recording",
        "POL-11" => "Recording provider",
        "POL-12" => "No vendor means no recording",
        "POL-13" => "Behaviour when the recorder fails",
        "POL-14" => "Licence and vendor constraint",
        "POL-15" => "Paused portions left out",
        "POL-16" => "Transfer and conference update the recorder",
        "POL-17" => "Correlation identifiers",
        "SRC-01" => "Recording session is its own dialog",
        "SRC-02" => "Require: siprec on the recording INVITE",
        "SRC-03" => "+sip.src in the recorder-side Contact",
        "SRC-04" => "Accept lists SDP, metadata and snapshot requests",
        "SRC-05" => "multipart/mixed body with SDP and metadata",
        "SRC-06" => "Metadata content type",
        "SRC-07" => "Content-Disposition: recording-session",
        "SRC-08" => "Unique a=label on every recorded stream",
        "SRC-09" => "Streams offered sendonly",
        "SRC-10" => "Streams of the recording session",
        "SRC-11" => "Stream labels match the metadata",
        "SRC-12" => "Participants tied to their streams",
        "SRC-13" => "First metadata is complete",
        "SRC-14" => "Metadata updated when the call changes",
        "SRC-15" => "Partial metadata updates",
        "SRC-16" => "Streams added and removed with their metadata",
        "SRC-17" => "No audio recorded while paused",
        "SRC-18" => "Hold shown to the recorder",
        "SRC-19" => "Parties told about the recording",
        "SRC-20" => "Recording session ended with the call",
        "SRC-21" => "Metadata snapshot on request",
        "SRC-22" => "Behaviour when the recorder fails",
        "SRC-23" => "Call identity for correlation",
        "SRC-24" => "TLS and SRTP",
        "SRC-25" => "Media sent where the recorder answered",
        "MD-01" => "Metadata namespace and root element",
        "MD-02" => "Metadata element order",
        "MD-03" => "datamode",
        "MD-04" => "Identifier format",
        "MD-05" => "group element",
        "MD-06" => "session element",
        "MD-07" => "sessionrecordingassoc element",
        "MD-08" => "participant element",
        "MD-09" => "participantsessionassoc element",
        "MD-10" => "stream element and its label",
        "MD-11" => "participantstreamassoc element",
        "MD-12" => "Every reference resolves",
        "MD-13" => "Times are xs:dateTime with a timezone",
        "MD-14" => "Extensions in foreign namespaces",
        "MD-15" => "Snapshot request body",
        "MD-16" => "BroadWorks metadata dialect",
        "MD-17" => "BroadWorks identity matches the person",
        "RP-LATENCY" => "Media latency",
        id if id.starts_with("MD-") => "Recording metadata",
        id if id.starts_with("SRC-") => "Recording client protocol",
        "SRS-01" => "Recording sessions recognised, in both dialects",
        "SRS-02" => "+sip.srs in the recorder's Contact",
        "SRS-03" => "Streams answered recvonly as offered, no RTP sent",
        "SRS-04" => "An INVITE that is no recording session is refused",
        "SRS-05" => "420 with Unsupported for an option tag it does not support",
        "SRS-06" => "Metadata updates accepted (applying them is not judged)",
        "SRS-07" => "Snapshot requests well formed",
        "SRS-08" => "Errors answered, never silence",
        "SRS-09" => "Both metadata media type names taken",
        "SRS-10" => "Any part order, header spacing and line end taken",
        "SRS-11" => "Recorder ends the session with BYE when it stops",
        "SRS-12" => "Each party recorded apart and attributed correctly",
        "SRS-13" => "Recording sessions answered promptly",
        "SRS-14" => "Load: accept or 503, never drop accepted media",
        id if id.starts_with("SRS-") => "Recording server protocol",
        _ => "Requirement",
    }
}

/// How bad a status is, for picking a requirement's overall outcome.
fn severity(s: Status) -> u8 {
    match s {
        Status::Fail => 5,
        Status::Warn => 3,
        Status::Pass => 2,
        Status::Info => 1,
        Status::NotApplicable => 0,
    }
}

/// The outcome in words.
pub(crate) fn outcome(s: Status) -> &'static str {
    match s {
        Status::Pass => "Met",
        Status::Fail => "Not met",
        Status::Warn => "Met, with a reservation",
        Status::Info => "Recorded for information",
        Status::NotApplicable => "Not judged (not applicable on this call)",
    }
}

/// One requirement on one call.
#[derive(Debug, Clone)]
pub(crate) struct Paragraph {
    pub(crate) requirement: String,
    pub(crate) title: &'static str,
    pub(crate) status: Status,
    pub(crate) text: String,
}

/// Whether a reviewer reads this requirement's paragraph in full even when it was met:
/// the policy requirements, silence while paused and latency. The protocol and metadata
/// requirements get a full paragraph only when they failed; otherwise [`Statements`]
/// sums them up in one sentence.
pub(crate) fn for_reviewers(id: &str) -> bool {
    id.starts_with("POL-") || id == "SRC-17" || id.starts_with("RP-")
}

/// What the compliance page says about one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Statements {
    /// One paragraph per requirement a reviewer reads (see [`for_reviewers`]), and per
    /// failed protocol requirement, in checklist order.
    pub(crate) paragraphs: Vec<Paragraph>,
    /// The requirements that did not apply.
    pub(crate) not_applicable: Vec<String>,
    /// One sentence on the protocol and metadata requirements that did not fail.
    pub(crate) protocol: Option<String>,
}

/// The statements on a call's verdicts.
pub(crate) fn statements(verdicts: &[&Verdict]) -> Statements {
    let (all, not_applicable) = paragraphs(verdicts);
    let mut out = Statements {
        not_applicable,
        ..Statements::default()
    };
    let mut by_outcome: BTreeMap<u8, (Status, Vec<String>)> = BTreeMap::new();
    for p in all {
        if for_reviewers(&p.requirement) || p.status == Status::Fail {
            out.paragraphs.push(p);
        } else {
            by_outcome
                .entry(u8::MAX - severity(p.status))
                .or_insert_with(|| (p.status, Vec::new()))
                .1
                .push(p.requirement);
        }
    }
    if !by_outcome.is_empty() {
        let parts: Vec<String> = by_outcome
            .values()
            .map(|(status, ids)| {
                format!("{} ({})", outcome(*status).to_lowercase(), ids.join(", "))
            })
            .collect();
        out.protocol = Some(format!(
            "Protocol and metadata requirements without a failure: {}.",
            parts.join("; ")
        ));
    }
    out
}

/// Paragraphs for the requirements that applied to the call (in checklist order), and
/// the IDs of those that did not apply.
pub(crate) fn paragraphs(verdicts: &[&Verdict]) -> (Vec<Paragraph>, Vec<String>) {
    let mut by_req: BTreeMap<(u8, String, u64, String), Vec<&Verdict>> = BTreeMap::new();
    for v in verdicts {
        by_req
            .entry(requirement_key(&v.requirement))
            .or_default()
            .push(v);
    }
    let mut out = Vec::new();
    let mut not_applicable = Vec::new();
    for ((_, _, _, id), vs) in by_req {
        let status = vs
            .iter()
            .map(|v| v.status)
            .max_by_key(|s| severity(*s))
            .unwrap_or(Status::NotApplicable);
        if status == Status::NotApplicable {
            not_applicable.push(id);
            continue;
        }
        let mut sentences: Vec<String> = Vec::new();
        for v in vs.iter().filter(|v| v.status != Status::NotApplicable) {
            let mut s = v.summary.trim().to_owned();
            if s.is_empty() {
                continue;
            }
            if !s.ends_with(['.', '!', '?', ')']) {
                s.push('.');
            }
            if !sentences.contains(&s) {
                sentences.push(s);
            }
        }
        out.push(Paragraph {
            title: title(&id),
            requirement: id,
            status,
            text: sentences.join(" "),
        });
    }
    (out, not_applicable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(req: &str, status: Status, summary: &str) -> Verdict {
        Verdict::new(req, "test", "call-0001", status, summary)
    }

    #[test]
    fn one_paragraph_per_requirement_worst_outcome_first_sentence_order() {
        let vs = [
            v(
                "POL-06",
                Status::Pass,
                "The reminder tone sounded every 20.00 s",
            ),
            v(
                "POL-03",
                Status::Pass,
                "Both parties heard the announcement.",
            ),
            v("POL-03", Status::Fail, "The callee did not."),
            v("POL-07", Status::NotApplicable, "Never paused."),
        ];
        let refs: Vec<&Verdict> = vs.iter().collect();
        let (p, na) = paragraphs(&refs);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].requirement, "POL-03");
        assert_eq!(p[0].status, Status::Fail);
        assert_eq!(
            p[0].text,
            "Both parties heard the announcement. The callee did not."
        );
        assert_eq!(p[1].text, "The reminder tone sounded every 20.00 s.");
        assert_eq!(na, vec!["POL-07".to_owned()]);
    }

    #[test]
    fn protocol_requirements_are_summed_up_unless_failed() {
        let vs = [
            v("SRC-02", Status::Warn, "No Require: siprec."),
            v("SRC-05", Status::Pass, "Fine."),
            v("MD-01", Status::Fail, "Bad root."),
            v("POL-04", Status::Pass, "Not recorded."),
        ];
        let refs: Vec<&Verdict> = vs.iter().collect();
        let st = statements(&refs);
        let ids: Vec<&str> = st
            .paragraphs
            .iter()
            .map(|p| p.requirement.as_str())
            .collect();
        assert_eq!(ids, vec!["POL-04", "MD-01"]);
        assert_eq!(
            st.protocol.as_deref(),
            Some(
                "Protocol and metadata requirements without a failure: met, with a reservation (SRC-02); met (SRC-05)."
            )
        );
    }
}
