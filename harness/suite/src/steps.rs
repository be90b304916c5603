//! The step definitions: thin sentences over library code.
//!
//! `Given` steps state settings ([`crate::stated::Stated`]: only what the sentence says)
//! and shape the [`CallPlan`]; the `When` step runs the call; each `Then` step names the
//! check ids it asserts and passes only as [`CallWorld::assert_checks`] says: PASS of
//! every named check, no failed precondition, and, on the last `Then` step, no FAIL
//! anywhere in the call. A step whose parameter the scenario's settings contradict fails
//! as a feature-file mistake.
//!
//! Which check judges which requirement is in `recproof requirements` (generated
//! `docs/requirements.md`); the table [`STEP_CHECKS`] is the steps' half of it.

use crate::world::CallWorld;
use checks::{PauseNotice, RecordMode};
use cucumber::{given, then, when};
use drive::plan::{Answer, Keypress, Party};
use drive::settings::Reminder;
use std::time::Duration;

/// Every `Then` sentence with the check ids it asserts (preconditions apart: every
/// `Then` step asserts those). The requirement registry reads this table; a test keeps
/// it equal to what the step functions pass to [`CallWorld::assert_checks`].
pub const STEP_CHECKS: &[(&str, &[&str])] = &[
    ("the call is recorded from answer", &["record_mode"]),
    ("the recording session ends with the call", &["rs_end"]),
    // Judged by whichever rule keeps the call unrecorded: mode Never (POL-01) or provider
    // None (POL-12); the step asserts the one that applies.
    (
        "the call is not recorded",
        &["record_mode", "provider.none"],
    ),
    (
        "no party audio reaches the recorder before recording was started",
        &["record_mode"],
    ),
    (
        "the call is recorded from the moment recording was started",
        &["feature_code.start"],
    ),
    (
        "the pause and resume codes take effect at the recorder",
        &["feature_code.pause", "feature_code.resume"],
    ),
    (
        "the recording session goes to the {string} recorder",
        &["provider.srs"],
    ),
    (
        "both parties hear the start announcement when recording starts",
        &["announcement.start"],
    ),
    (
        "both parties hear the stop announcement when recording stops",
        &["announcement.stop"],
    ),
    (
        "neither party hears a start announcement",
        &["announcement.disabled"],
    ),
    (
        "no announcement is found in either recorded stream",
        &["announcement.not_recorded"],
    ),
    (
        "each announcement is reported to the recorder in the metadata",
        &["announcement.metadata"],
    ),
    (
        "both parties hear the reminder tone every {int} seconds",
        &["reminder.interval"],
    ),
    (
        "neither party hears a reminder tone",
        &["reminder.interval"],
    ),
    (
        "no party audio reaches the recorder while recording is paused",
        &["paused.silent"],
    ),
    (
        "party audio reaches the recorder again after resume",
        &["paused.resumed"],
    ),
    (
        "both parties hear the {string} pause and resume notice",
        &["pause_notice"],
    ),
    (
        "the recorder receives two streams whose labels match the metadata",
        &["streams.count", "streams.labels"],
    ),
    (
        "each recorded stream carries only its own party's audio",
        &["streams.one_party"],
    ),
    (
        "every recording session request passes the {string} checks",
        &["message.validate"],
    ),
    ("the voicemail deposit is recorded", &["voicemail"]),
    ("the voicemail deposit is not recorded", &["voicemail"]),
    (
        "the call proceeds as the failure behaviour says",
        &["failure_behaviour"],
    ),
    (
        "the media latency is within the profile's thresholds",
        &[
            "latency.answer_to_media",
            "latency.mouth_to_ear",
            "latency.party_to_recorder",
        ],
    ),
    (
        "the start of the recording is not clipped beyond the profile's threshold",
        &["recording.front_clip"],
    ),
];

/// The checks a `Then` sentence asserts, from [`STEP_CHECKS`].
fn checks_of(sentence: &str) -> &'static [&'static str] {
    STEP_CHECKS
        .iter()
        .find(|(s, _)| *s == sentence)
        .map_or(&[], |(_, c)| *c)
}

/// The checks a `Then` step of a feature file asserts: its text matched against the
/// [`STEP_CHECKS`] patterns (`{string}` a quoted text, `{int}` digits). Empty for a text
/// no pattern matches. Lets the suite know what a scenario claims before its steps run
/// (a failed step stops the rest).
pub fn checks_for_step(text: &str) -> &'static [&'static str] {
    STEP_CHECKS
        .iter()
        .find(|(pattern, _)| matches_pattern(pattern, text))
        .map_or(&[], |(_, c)| *c)
}

/// A cucumber expression with `{string}` and `{int}` placeholders against a text.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    fn go(pattern: &str, text: &str) -> bool {
        let next = ["{string}", "{int}"]
            .iter()
            .filter_map(|p| pattern.find(p).map(|at| (at, *p)))
            .min();
        let Some((at, placeholder)) = next else {
            return pattern == text;
        };
        let Some(rest) = text.strip_prefix(&pattern[..at]) else {
            return false;
        };
        let after = &pattern[at + placeholder.len()..];
        let taken = if placeholder == "{int}" {
            rest.bytes().take_while(u8::is_ascii_digit).count()
        } else {
            match rest.strip_prefix('"').and_then(|r| r.find('"')) {
                Some(close) => close + 2,
                None => 0,
            }
        };
        taken > 0 && go(after, &rest[taken..])
    }
    go(pattern, text)
}

fn party(name: &str) -> Party {
    if name == "caller" {
        Party::Caller
    } else {
        Party::Callee
    }
}

#[given(expr = "the organisation records with provider {string}")]
fn org_provider(w: &mut CallWorld, provider: String) {
    w.stated.org_provider = Some(provider);
}

#[given(expr = "the callee's location overrides the provider with {string}")]
fn location_override(w: &mut CallWorld, provider: String) {
    w.stated.location_override = Some(provider);
}

#[given(expr = "the callee's recording mode is {string}")]
fn recording_mode(w: &mut CallWorld, value: String) {
    w.stated.mode = Some(value);
}

#[given(regex = r"^the callee's start/stop announcement is (enabled|disabled)$")]
fn announcement(w: &mut CallWorld, state: String) {
    w.stated.start_stop_announcement = Some(state == "enabled");
}

#[given(expr = "the callee's reminder tone repeats every {int} seconds")]
fn reminder_every(w: &mut CallWorld, seconds: u32) {
    w.stated.reminder = Some(Reminder::Every(seconds));
}

#[given("the callee's reminder tone is on with the default interval")]
fn reminder_default(w: &mut CallWorld) {
    w.stated.reminder = Some(Reminder::DefaultInterval);
}

#[given("the callee's reminder tone is off")]
fn reminder_off(w: &mut CallWorld) {
    w.stated.reminder = Some(Reminder::Off);
}

#[given(regex = r#"^the callee's pause/resume notification is "(Beep|Play Announcement|None)"$"#)]
fn notification(w: &mut CallWorld, kind: String) {
    w.stated.notification = Some((kind != "None").then_some(kind));
}

#[given(regex = r"^the callee's voicemail recording is (enabled|disabled)$")]
fn voicemail(w: &mut CallWorld, state: String) {
    w.stated.record_voicemail = Some(state == "enabled");
}

#[given(expr = "the failure behaviour is {string}")]
fn failure_behaviour(w: &mut CallWorld, behaviour: String) {
    w.stated.failure_behavior = Some(behaviour);
}

#[given(expr = "the recorder rejects recording sessions with {int}")]
fn recorder_rejects(w: &mut CallWorld, code: u16) {
    w.recorder = drive::embedded::RecorderMode::Reject(code);
}

#[given("the recorder does not answer recording sessions")]
fn recorder_silent(w: &mut CallWorld) {
    w.recorder = drive::embedded::RecorderMode::Silent;
}

#[given(expr = "the metadata dialect is {string}")]
fn metadata_dialect(w: &mut CallWorld, value: String) {
    w.stated.dialect = Some(value);
}

#[given(regex = r#"^the (caller|callee) presses "([0-9*#A-D]+)" (\d+) seconds after answer$"#)]
fn presses(w: &mut CallWorld, who: String, digits: String, seconds: u64) {
    w.plan.keypresses.push(Keypress {
        party: party(&who),
        after_answer: Duration::from_secs(seconds),
        digits,
    });
}

#[when(expr = "the caller calls the callee and they talk for {int} seconds")]
async fn call_and_talk(w: &mut CallWorld, seconds: u64) {
    w.plan.answer = Answer::After(Duration::from_secs(1));
    w.plan.talk = Duration::from_secs(seconds);
    w.run().await;
}

#[when(
    expr = "the caller calls the callee, who does not answer, and leaves a {int} second message"
)]
async fn voicemail_deposit(w: &mut CallWorld, seconds: u64) {
    w.plan.answer = Answer::Never;
    w.plan.talk = Duration::from_secs(seconds);
    w.run().await;
}

#[then("the call is recorded from answer")]
fn recorded_from_answer(w: &mut CallWorld) {
    w.assert_checks(checks_of("the call is recorded from answer"));
}

#[then("the call is not recorded")]
fn not_recorded(w: &mut CallWorld) {
    // The claim is judged by whichever rule of the policy keeps the call unrecorded:
    // provider None (POL-12) or mode Never (POL-01).
    let Some(e) = w.expectation.clone() else {
        return w.assert_checks(&[]);
    };
    let mut checks: Vec<&str> = Vec::new();
    if e.srs.is_none() {
        checks.push("provider.none");
    }
    if e.mode == RecordMode::Never {
        checks.push("record_mode");
    }
    w.consistent(!checks.is_empty(), || {
        format!(
            "it says the call is not recorded, but it is recorded `{}` with provider {}",
            w.settings.mode,
            w.settings.effective_provider().unwrap_or("None")
        )
    });
    w.assert_checks(&checks);
}

#[then("the recording session ends with the call")]
fn rs_ends(w: &mut CallWorld) {
    w.assert_checks(checks_of("the recording session ends with the call"));
}

#[then("no party audio reaches the recorder before recording was started")]
fn nothing_before_start(w: &mut CallWorld) {
    let on_demand = w
        .expectation
        .as_ref()
        .is_none_or(|e| e.mode == RecordMode::OnDemand);
    w.consistent(on_demand, || "the mode is not On Demand".into());
    w.assert_checks(checks_of(
        "no party audio reaches the recorder before recording was started",
    ));
}

#[then("the call is recorded from the moment recording was started")]
fn recorded_from_start(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the call is recorded from the moment recording was started",
    ));
}

#[then("the pause and resume codes take effect at the recorder")]
fn pause_resume_codes(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the pause and resume codes take effect at the recorder",
    ));
}

#[then(expr = "the recording session goes to the {string} recorder")]
fn goes_to(w: &mut CallWorld, provider: String) {
    let effective = w.settings.effective_provider().map(str::to_owned);
    w.consistent(effective.as_deref() == Some(&provider), || {
        format!(
            "it names the `{provider}` recorder, but its settings send recordings to {}",
            effective
                .as_deref()
                .unwrap_or("no recorder (provider None)")
        )
    });
    w.assert_checks(checks_of(
        "the recording session goes to the {string} recorder",
    ));
}

#[then("both parties hear the start announcement when recording starts")]
fn hear_start(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "both parties hear the start announcement when recording starts",
    ));
}

#[then("both parties hear the stop announcement when recording stops")]
fn hear_stop(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "both parties hear the stop announcement when recording stops",
    ));
}

#[then("neither party hears a start announcement")]
fn hear_no_start(w: &mut CallWorld) {
    let off = w
        .expectation
        .as_ref()
        .is_none_or(|e| !e.announcements.enabled);
    w.consistent(off, || "the start/stop announcement is enabled".into());
    w.assert_checks(checks_of("neither party hears a start announcement"));
}

#[then("no announcement is found in either recorded stream")]
fn no_announcement_recorded(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "no announcement is found in either recorded stream",
    ));
}

#[then("each announcement is reported to the recorder in the metadata")]
fn announcement_metadata(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "each announcement is reported to the recorder in the metadata",
    ));
}

#[then(expr = "both parties hear the reminder tone every {int} seconds")]
fn reminder_heard(w: &mut CallWorld, seconds: u32) {
    let configured = w.expectation.as_ref().and_then(|e| e.reminder_interval_s);
    w.consistent(configured == Some(f64::from(seconds)), || {
        format!("it says every {seconds} s, but the reminder interval in force is {configured:?} s")
    });
    w.assert_checks(checks_of(
        "both parties hear the reminder tone every {int} seconds",
    ));
}

#[then("neither party hears a reminder tone")]
fn reminder_not_heard(w: &mut CallWorld) {
    let off = w
        .expectation
        .as_ref()
        .is_none_or(|e| e.reminder_interval_s.is_none());
    w.consistent(off, || "the reminder tone is on".into());
    w.assert_checks(checks_of("neither party hears a reminder tone"));
}

#[then("no party audio reaches the recorder while recording is paused")]
fn silent_while_paused(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "no party audio reaches the recorder while recording is paused",
    ));
}

#[then("party audio reaches the recorder again after resume")]
fn audio_after_resume(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "party audio reaches the recorder again after resume",
    ));
}

#[then(
    regex = r#"^both parties hear the "(Beep|Play Announcement|None)" pause and resume notice$"#
)]
fn pause_notice(w: &mut CallWorld, kind: String) {
    let configured = w.expectation.as_ref().map(|e| e.pause_notice);
    w.consistent(
        configured.map(PauseNotice::webex_name) == Some(kind.as_str()),
        || {
            format!(
                "it names the \"{kind}\" notice, but the notification in force is {}",
                configured.map_or("unknown", PauseNotice::webex_name)
            )
        },
    );
    w.assert_checks(checks_of(
        "both parties hear the {string} pause and resume notice",
    ));
}

#[then("the recorder receives two streams whose labels match the metadata")]
fn two_streams(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the recorder receives two streams whose labels match the metadata",
    ));
}

#[then("each recorded stream carries only its own party's audio")]
fn one_party_per_stream(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "each recorded stream carries only its own party's audio",
    ));
}

#[then(expr = "every recording session request passes the {string} checks")]
fn rs_requests_valid(w: &mut CallWorld, dialect: String) {
    let in_force = w.expectation.as_ref().map(|e| e.dialect.name());
    w.consistent(in_force == Some(dialect.as_str()), || {
        format!(
            "it names the {dialect} rules, but the dialect in force is {}",
            in_force.unwrap_or("unknown")
        )
    });
    w.assert_checks(checks_of(
        "every recording session request passes the {string} checks",
    ));
}

#[then("the voicemail deposit is recorded")]
fn voicemail_recorded(w: &mut CallWorld) {
    let on = w
        .expectation
        .as_ref()
        .is_none_or(|e| e.voicemail.is_some_and(|v| v.recorded));
    w.consistent(on, || "voicemail recording is not enabled".into());
    w.assert_checks(checks_of("the voicemail deposit is recorded"));
}

#[then("the voicemail deposit is not recorded")]
fn voicemail_not_recorded(w: &mut CallWorld) {
    let off = w
        .expectation
        .as_ref()
        .is_none_or(|e| e.voicemail.is_some_and(|v| !v.recorded));
    w.consistent(off, || "voicemail recording is enabled".into());
    w.assert_checks(checks_of("the voicemail deposit is not recorded"));
}

#[then("the call proceeds as the failure behaviour says")]
fn failure_behaviour_followed(w: &mut CallWorld) {
    w.assert_checks(checks_of("the call proceeds as the failure behaviour says"));
}

#[then("the media latency is within the profile's thresholds")]
fn latency(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the media latency is within the profile's thresholds",
    ));
}

#[then("the start of the recording is not clipped beyond the profile's threshold")]
fn front_clip(w: &mut CallWorld) {
    w.assert_checks(checks_of(
        "the start of the recording is not clipped beyond the profile's threshold",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_texts_map_to_their_checks() {
        assert_eq!(
            checks_for_step("both parties hear the reminder tone every 90 seconds"),
            &["reminder.interval"]
        );
        assert_eq!(
            checks_for_step(r#"both parties hear the "Play Announcement" pause and resume notice"#),
            &["pause_notice"]
        );
        assert_eq!(
            checks_for_step(r#"the recording session goes to the "Dubber" recorder"#),
            &["provider.srs"]
        );
        assert!(checks_for_step("both parties hear the reminder tone every  seconds").is_empty());
        assert!(checks_for_step("something else").is_empty());
    }
}
