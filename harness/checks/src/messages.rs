//! Single-message rules over a whole call: `recproof_siprec::validate` on every
//! recording-session request the recorder received (initial INVITE, re-INVITEs,
//! UPDATEs), its findings turned into verdicts under their own requirement IDs
//! (SRC-02..13, SRC-23, MD-xx, POL-17, SIP-xx).
//!
//! This module owns only the aggregation (one verdict per requirement, worst severity
//! wins, with every finding as evidence); the rules themselves live in
//! `recproof-siprec`.

use crate::verdict::{Evidence, Status, Verdict};
use crate::{Context, public_check};
use siprec::Severity;
use siprec::validate::{InputKind, validate};
use std::collections::BTreeMap;

/// The requirements `validate` checks on every RS request; each gets a verdict, a PASS
/// when no request broke it.
pub const VALIDATED: &[&str] = &[
    "SRC-02", "SRC-03", "SRC-04", "SRC-05", "SRC-06", "SRC-07", "SRC-08", "SRC-09", "SRC-10",
    "SRC-11", "SRC-12", "SRC-13", "SRC-23",
];

public_check!(
    /// SRC-02..13, SRC-23 and the MD-/POL-17/SIP- rules of one message: every RS request
    /// the recorder received is validated under the expectation's dialect; each
    /// requirement gets one verdict (FAIL if any request failed it, WARN if any warned,
    /// PASS otherwise, with the validator's notes in the summary).
    single_message,
    single_message_in
);

/// [`single_message`] on a prepared context.
pub fn single_message_in(ctx: &Context<'_>) -> Vec<Verdict> {
    let profile = ctx.expect.dialect.profile();
    let requests: Vec<_> = ctx
        .timeline
        .rs
        .iter()
        .flat_map(|r| r.requests.iter())
        .filter(|r| matches!(r.method.as_str(), "INVITE" | "UPDATE"))
        .collect();
    if requests.is_empty() {
        return vec![ctx.verdict(
            "SRC-05",
            "message.validate",
            Status::NotApplicable,
            "The recorder received no recording-session request to validate.",
        )];
    }
    // requirement -> (worst severity, evidence)
    let mut by_req: BTreeMap<&'static str, (Severity, Vec<Evidence>, Vec<String>)> =
        BTreeMap::new();
    for r in &requests {
        let report = validate(r.msg.raw(), profile);
        let what = match report.kind {
            InputKind::InitialInvite => "initial INVITE",
            InputKind::ReInvite => "re-INVITE",
            InputKind::Update => "UPDATE",
            _ => "request",
        };
        for f in &report.findings {
            let e = by_req
                .entry(f.requirement)
                .or_insert((f.severity, Vec::new(), Vec::new()));
            e.0 = e.0.max(f.severity);
            let ev = f.evidence.to_string();
            e.1.push(Evidence::at(
                r.t_us,
                "srs",
                if ev.is_empty() {
                    format!("{what}: {} {}", f.severity, f.message)
                } else {
                    format!("{what}: {} {} ({ev})", f.severity, f.message)
                },
            ));
            if !e.2.contains(&f.message) {
                e.2.push(f.message.clone());
            }
        }
    }
    let n = requests.len();
    let mut out = Vec::new();
    for req in VALIDATED {
        if by_req.contains_key(req) {
            continue;
        }
        out.push(ctx.verdict(
            req,
            "message.validate",
            Status::Pass,
            format!(
                "All {n} recording-session request(s) the recorder received meet {req} ({} profile).",
                profile.name()
            ),
        ));
    }
    for (req, (sev, ev, messages)) in by_req {
        // A note (the validator's INFO) breaks nothing: the requirement is met under this
        // dialect, and the note is kept in the summary and evidence.
        let status = match sev {
            Severity::Fail => Status::Fail,
            Severity::Warn => Status::Warn,
            Severity::Info => Status::Pass,
        };
        let first = messages.first().cloned().unwrap_or_default();
        let more = if messages.len() > 1 {
            format!(" (and {} other finding(s))", messages.len() - 1)
        } else {
            String::new()
        };
        let lead = if sev == Severity::Info {
            format!(
                "All {n} recording-session request(s) meet {req} ({} profile), with a note on {} of them",
                profile.name(),
                ev.len().min(n)
            )
        } else {
            format!(
                "{req} under the {} profile, {} of {n} request(s)",
                profile.name(),
                ev.len().min(n)
            )
        };
        out.push(
            ctx.verdict(
                req,
                "message.validate",
                status,
                format!("{lead}: {first}{more}."),
            )
            .with_evidence(ev),
        );
    }
    out.sort_by(|a, b| a.requirement.cmp(&b.requirement));
    out
}
