//! The step definitions of the recorder features (`features/recorder/`, tagged
//! `@recorder`): recproof plays the platform (the SIPREC SRC) against a recorder under
//! test and the recorder checks (`recproof_checks::recorder`) judge what it did.
//!
//! A `When` step sends a list of recording sessions ([`RecorderPlan`]); each `Then` step
//! names the recorder checks it asserts ([`RECORDER_STEP_CHECKS`]) and passes under the
//! same judgement contract as the platform steps ([`CallWorld::assert_checks`]): PASS of
//! every named check; NOT APPLICABLE, INFO or WARN fail it as "not judged"; on the last
//! `Then` step, any other FAIL fails it too.

use crate::world::CallWorld;
use cucumber::{then, when};
use drive::recorder::{RecorderPlan, RsStep};
use roles::src::{RsCase, RsRequest};
use siprec::metadata::Dialect;
use siprec::rs::RsBodyStyle;
use std::time::Duration;

/// Every recorder `Then` sentence with the recorder check ids it asserts. The
/// requirement registry reads this table beside the platform's.
pub const RECORDER_STEP_CHECKS: &[(&str, &[&str])] = &[
    (
        "the recorder's answers carry +sip.srs in their Contact",
        &["srs.contact"],
    ),
    (
        "the recorder answers each offered stream recvonly with its label and codec",
        &["srs.answer"],
    ),
    ("the recorder sends no RTP", &["srs.no_rtp"]),
    (
        "the recorder answers every recording session within the answer time",
        &["srs.answer_time"],
    ),
    (
        "the recorder takes the sessions of both dialects",
        &["srs.accepts_dialects"],
    ),
    (
        "the recorder takes both metadata media type names",
        &["srs.accepts_media_types"],
    ),
    (
        "the recorder takes every body style",
        &["srs.accepts_body_styles"],
    ),
    (
        "the recorder refuses the plain INVITE",
        &["srs.refuses_plain_invite"],
    ),
    (
        "the recorder answers bad input with the right error and keeps taking sessions",
        &["srs.bad_input"],
    ),
    (
        "the recorder keeps each party's audio in its own recording, attributed to that party",
        &["srs.streams_apart"],
    ),
    (
        "the recorder's snapshot requests are well formed",
        &["srs.snapshot_request"],
    ),
    (
        "the recorder takes each session or refuses it with 503, promptly",
        &["srs.load"],
    ),
    (
        "the recorder ends the session itself with BYE",
        &["srs.stop"],
    ),
    (
        "the recorder refuses the unknown extension with 420",
        &["srs.unknown_extension"],
    ),
    (
        "the recorder takes every metadata update",
        &["srs.metadata_updates"],
    ),
    (
        "the recorder answers the pause inactive and the resume recvonly",
        &["srs.pause_answer"],
    ),
];

/// The recorder checks a `Then` step of a feature file asserts (empty for a text that
/// is no recorder sentence).
pub fn checks_for_step(text: &str) -> &'static [&'static str] {
    checks_of(text)
}

fn checks_of(sentence: &str) -> &'static [&'static str] {
    RECORDER_STEP_CHECKS
        .iter()
        .find(|(s, _)| *s == sentence)
        .map_or(&[], |(_, c)| *c)
}

fn dialect(name: &str) -> Dialect {
    if name == "broadworks-compat" {
        Dialect::BroadWorks
    } else {
        Dialect::Rfc7865
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn plan(w: &CallWorld, scenario: &str) -> RecorderPlan {
    RecorderPlan::new(w.label(), scenario)
}

#[when(expr = "the platform records a {int} second call in the {string} dialect")]
async fn one_session(w: &mut CallWorld, seconds: u64, dialect_name: String) {
    let p = plan(w, "one session").session(RsRequest::valid(dialect(&dialect_name)), secs(seconds));
    w.run_recorder(p).await;
}

#[when(
    regex = r#"^the platform records a call in the "([a-z-]+)" dialect and pauses it with (a=inactive|c=0\.0\.0\.0) for (\d+) seconds$"#
)]
async fn paused_session(w: &mut CallWorld, dialect_name: String, style: String, seconds: u64) {
    let p = plan(w, "paused session")
        .step(RsStep::Open(RsRequest::valid(dialect(&dialect_name))))
        .step(RsStep::Talk(secs(4)))
        .step(RsStep::Pause {
            inactive: style == "a=inactive",
        })
        .step(RsStep::Talk(secs(seconds)))
        .step(RsStep::Resume)
        .step(RsStep::UpdateMetadata)
        .step(RsStep::Talk(secs(4)))
        .step(RsStep::End);
    w.run_recorder(p).await;
}

#[when("the platform opens a valid session in each dialect")]
async fn each_dialect(w: &mut CallWorld) {
    let p = plan(w, "each dialect")
        .session(RsRequest::valid(Dialect::Rfc7865), secs(2))
        .session(RsRequest::valid(Dialect::BroadWorks), secs(2));
    w.run_recorder(p).await;
}

#[when("the platform opens a valid session with each metadata media type name")]
async fn each_media_type(w: &mut CallWorld) {
    let legacy = RsRequest {
        style: RsBodyStyle::of(Dialect::Rfc7865).legacy_type(),
        ..RsRequest::valid(Dialect::Rfc7865)
    };
    let p = plan(w, "each media type name")
        .session(RsRequest::valid(Dialect::Rfc7865), secs(2))
        .session(legacy, secs(2));
    w.run_recorder(p).await;
}

#[when("the platform opens a valid session in each body style")]
async fn each_body_style(w: &mut CallWorld) {
    let mut p = plan(w, "each body style");
    for d in [Dialect::Rfc7865, Dialect::BroadWorks] {
        for lf in [false, true] {
            let mut req = RsRequest::valid(Dialect::Rfc7865);
            req.style = RsBodyStyle::of(d);
            if lf {
                req.style.style.line_end = "\n";
            }
            p = p.session(req, secs(2));
        }
    }
    w.run_recorder(p).await;
}

#[when("the platform sends an INVITE that is no recording session, then a valid one")]
async fn plain_then_valid(w: &mut CallWorld) {
    let p = plan(w, "plain INVITE")
        .session(
            RsRequest::of(RsCase::PlainInvite, Dialect::Rfc7865),
            secs(1),
        )
        .session(RsRequest::valid(Dialect::Rfc7865), secs(2));
    w.run_recorder(p).await;
}

#[when(
    expr = "the platform sends bad sessions in the {string} dialect, each followed by a valid one"
)]
async fn bad_sessions(w: &mut CallWorld, dialect_name: String) {
    let d = dialect(&dialect_name);
    let mut p = plan(w, "bad input");
    for case in [
        RsCase::MalformedXml,
        RsCase::DanglingReference,
        RsCase::UnsupportedBody,
        RsCase::Oversized,
        RsCase::EntityExpansion,
    ] {
        p = p
            .session(RsRequest::of(case, d), secs(1))
            .session(RsRequest::valid(d), secs(1));
    }
    w.run_recorder(p).await;
}

#[then("the recorder's answers carry +sip.srs in their Contact")]
fn contact(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder's answers carry +sip.srs in their Contact",
    ));
}

#[then("the recorder answers each offered stream recvonly with its label and codec")]
fn answer(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder answers each offered stream recvonly with its label and codec",
    ));
}

#[then("the recorder sends no RTP")]
fn no_rtp(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recorder sends no RTP"));
}

#[then("the recorder answers every recording session within the answer time")]
fn answer_time(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder answers every recording session within the answer time",
    ));
}

#[then("the recorder takes the sessions of both dialects")]
fn both_dialects(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder takes the sessions of both dialects",
    ));
}

#[then("the recorder takes both metadata media type names")]
fn both_media_types(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder takes both metadata media type names",
    ));
}

#[then("the recorder takes every body style")]
fn body_styles(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recorder takes every body style"));
}

#[then("the recorder refuses the plain INVITE")]
fn refuses_plain(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recorder refuses the plain INVITE"));
}

#[then("the recorder answers bad input with the right error and keeps taking sessions")]
fn bad_input(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder answers bad input with the right error and keeps taking sessions",
    ));
}

#[then("the recorder keeps each party's audio in its own recording, attributed to that party")]
fn streams_apart(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder keeps each party's audio in its own recording, attributed to that party",
    ));
}

#[then("the recorder's snapshot requests are well formed")]
fn snapshot_request(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder's snapshot requests are well formed",
    ));
}

#[when(expr = "the platform opens {int} recording sessions at once for {int} seconds")]
async fn burst(w: &mut CallWorld, sessions: usize, seconds: u64) {
    let p = plan(w, "sessions at once").step(RsStep::Burst {
        sessions: sessions.min(64),
        talk: secs(seconds),
    });
    w.run_recorder(p).await;
}

#[then("the recorder takes each session or refuses it with 503, promptly")]
fn load(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder takes each session or refuses it with 503, promptly",
    ));
}

#[when(expr = "the recorder stops recording on its own {int} seconds into a {int} second call")]
async fn recorder_stops(w: &mut CallWorld, after: u64, seconds: u64) {
    let mut p = plan(w, "recorder stops on its own")
        .session(RsRequest::valid(Dialect::Rfc7865), secs(seconds));
    p.recorder_stops_after = Some(secs(after));
    w.run_recorder(p).await;
}

#[then("the recorder ends the session itself with BYE")]
fn ends_with_bye(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recorder ends the session itself with BYE"));
}

#[when("the platform opens a session that requires an unknown extension, then a valid one")]
async fn unknown_require_then_valid(w: &mut CallWorld) {
    let p = plan(w, "unknown extension")
        .session(
            RsRequest::of(RsCase::UnknownRequire, Dialect::Rfc7865),
            secs(1),
        )
        .session(RsRequest::valid(Dialect::Rfc7865), secs(2));
    w.run_recorder(p).await;
}

#[then("the recorder refuses the unknown extension with 420")]
fn refuses_unknown_extension(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder refuses the unknown extension with 420",
    ));
}

#[when(
    expr = "the platform records a call in the {string} dialect and updates its metadata partially, completely and in a re-INVITE"
)]
async fn metadata_updates(w: &mut CallWorld, dialect_name: String) {
    let p = plan(w, "metadata updates")
        .step(RsStep::Open(RsRequest::valid(dialect(&dialect_name))))
        .step(RsStep::Talk(secs(2)))
        .step(RsStep::PartialUpdate)
        .step(RsStep::Talk(secs(1)))
        .step(RsStep::UpdateMetadata)
        .step(RsStep::Talk(secs(1)))
        .step(RsStep::ReinviteWithMetadata)
        .step(RsStep::Talk(secs(2)))
        .step(RsStep::End);
    w.run_recorder(p).await;
}

#[then("the recorder takes every metadata update")]
fn takes_metadata_updates(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recorder takes every metadata update"));
}

#[then("the recorder answers the pause inactive and the resume recvonly")]
fn pause_answer(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder answers the pause inactive and the resume recvonly",
    ));
}
