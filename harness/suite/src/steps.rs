//! The step definitions: thin sentences over library code.
//!
//! `Given` steps change the scenario's [`Settings`] and [`CallPlan`]; the `When` step
//! runs the call (embedded: simulated world on a blocking thread); `Then` steps ask the
//! checks for the verdicts of the requirement they state and fail on any FAIL (or on no
//! verdict at all: a requirement nobody judged is not a pass).

use crate::world::CallWorld;
use cucumber::{given, then, when};
use drive::plan::{Answer, Keypress, Party};
use drive::settings::Reminder;
use std::time::Duration;

fn party(name: &str) -> Party {
    if name == "caller" {
        Party::Caller
    } else {
        Party::Callee
    }
}

#[given(expr = "the organisation records with provider {string}")]
fn org_provider(w: &mut CallWorld, provider: String) {
    w.settings.org_provider = provider;
}

#[given(expr = "the callee's location overrides the provider with {string}")]
fn location_override(w: &mut CallWorld, provider: String) {
    w.settings.location_override = Some(provider);
}

#[given(expr = "the callee's recording mode is {string}")]
fn recording_mode(w: &mut CallWorld, value: String) {
    w.settings.mode = value;
}

#[given(regex = r"^the callee's start/stop announcement is (enabled|disabled)$")]
fn announcement(w: &mut CallWorld, state: String) {
    w.settings.start_stop_announcement = state == "enabled";
}

#[given(expr = "the callee's reminder tone repeats every {int} seconds")]
fn reminder_every(w: &mut CallWorld, seconds: u32) {
    w.settings.reminder = Reminder::Every(seconds);
}

#[given("the callee's reminder tone is on with the default interval")]
fn reminder_default(w: &mut CallWorld) {
    w.settings.reminder = Reminder::DefaultInterval;
}

#[given("the callee's reminder tone is off")]
fn reminder_off(w: &mut CallWorld) {
    w.settings.reminder = Reminder::Off;
}

#[given(regex = r#"^the callee's pause/resume notification is "(Beep|Play Announcement|None)"$"#)]
fn notification(w: &mut CallWorld, kind: String) {
    w.settings.notification = Some(kind);
}

#[given(regex = r"^the callee's voicemail recording is (enabled|disabled)$")]
fn voicemail(w: &mut CallWorld, state: String) {
    w.settings.record_voicemail = state == "enabled";
}

#[given(expr = "the failure behaviour is {string}")]
fn failure_behaviour(w: &mut CallWorld, behaviour: String) {
    w.settings.failure_behavior = Some(behaviour);
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
    w.settings.dialect = value;
    w.dialect_stated = true;
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
    w.expects_voicemail = true;
    w.run().await;
}

#[then("the call is recorded from answer")]
fn recorded_from_answer(w: &mut CallWorld) {
    w.require(&["POL-01"]);
}

#[then("the call is not recorded")]
fn not_recorded(w: &mut CallWorld) {
    w.require(&["POL-01"]);
}

#[then("the recording session ends with the call")]
fn rs_ends(w: &mut CallWorld) {
    w.require(&["SRC-20"]);
}

#[then("no party audio reaches the recorder before recording was started")]
fn nothing_before_start(w: &mut CallWorld) {
    w.require(&["POL-01"]);
}

#[then("the call is recorded from the moment recording was started")]
fn recorded_from_start(w: &mut CallWorld) {
    w.require(&["POL-02"]);
}

#[then(expr = "the recording session goes to the {string} recorder")]
fn goes_to(w: &mut CallWorld, provider: String) {
    w.require_provider(&provider);
    w.require(&["POL-11"]);
}

#[then("both parties hear the start announcement when recording starts")]
fn hear_start(w: &mut CallWorld) {
    w.require(&["POL-03"]);
}

#[then("both parties hear the stop announcement when recording stops")]
fn hear_stop(w: &mut CallWorld) {
    w.require(&["POL-03"]);
}

#[then("neither party hears a start announcement")]
fn hear_no_start(w: &mut CallWorld) {
    w.require(&["POL-03"]);
}

#[then("no announcement is found in either recorded stream")]
fn no_announcement_recorded(w: &mut CallWorld) {
    w.require(&["POL-04"]);
}

#[then("each announcement is reported to the recorder in the metadata")]
fn announcement_metadata(w: &mut CallWorld) {
    w.require(&["POL-05"]);
}

#[then(expr = "both parties hear the reminder tone every {int} seconds")]
fn reminder_heard(w: &mut CallWorld, _seconds: u32) {
    w.require(&["POL-06"]);
}

#[then("neither party hears a reminder tone")]
fn reminder_not_heard(w: &mut CallWorld) {
    w.require(&["POL-06"]);
}

#[then("no party audio reaches the recorder while recording is paused")]
fn silent_while_paused(w: &mut CallWorld) {
    w.require(&["SRC-17"]);
}

#[then("party audio reaches the recorder again after resume")]
fn audio_after_resume(w: &mut CallWorld) {
    w.require(&["SRC-17"]);
}

#[then(
    regex = r#"^both parties hear the "(Beep|Play Announcement|None)" pause and resume notice$"#
)]
fn pause_notice(w: &mut CallWorld, _kind: String) {
    w.require(&["POL-07"]);
}

#[then("the recorder receives two streams whose labels match the metadata")]
fn two_streams(w: &mut CallWorld) {
    w.require(&["SRC-10", "SRC-11"]);
}

#[then("each recorded stream carries only its own party's audio")]
fn one_party_per_stream(w: &mut CallWorld) {
    w.require(&["POL-09"]);
}

#[then(expr = "every recording session request passes the {string} checks")]
fn rs_requests_valid(w: &mut CallWorld, _dialect: String) {
    w.require_single_message_rules();
}

#[then("the voicemail deposit is recorded")]
fn voicemail_recorded(w: &mut CallWorld) {
    w.require(&["POL-10"]);
}

#[then("the voicemail deposit is not recorded")]
fn voicemail_not_recorded(w: &mut CallWorld) {
    w.require(&["POL-10"]);
}

#[then("the call proceeds as the failure behaviour says")]
fn failure_behaviour_followed(w: &mut CallWorld) {
    w.require(&["POL-13"]);
}

#[then("the media latency is within the profile's thresholds")]
fn latency(w: &mut CallWorld) {
    w.require_latency();
}
