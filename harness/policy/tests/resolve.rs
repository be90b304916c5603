//! Resolution: organisation → location → person precedence (POL-11, POL-12, POL-13) and
//! per-call announcement decisions (POL-03, POL-08).

use recproof_policy::{
    CallType, Direction, FailureBehavior, Level, NotRecorded, NotificationType, Policy, RecordMode,
    Recording, Transport, Vendor, parse,
};

const MATRIX: &str = "\
organization:
  name: Matrix
  region: US
  callRecording:
    vendor: Dubber
    failureBehavior: PROCEED_CALL_WITH_ANNOUNCEMENT
  complianceAnnouncement:
    inboundPSTNCallsEnabled: true
    outboundPSTNCallsEnabled: true
    outboundPSTNCallsDelayEnabled: true
    delayInSeconds: 7
providers:
  Dubber:   { srs: \"sip:dubber@127.0.0.1:5080\" }
  Imagicle: { srs: \"sip:imagicle@127.0.0.1:5082\", transport: tcp }
locations:
  - id: inherit
  - id: override
    callRecording:
      orgDefaultEnabled: false
      vendor: Imagicle
      orgFailureBehaviorEnabled: false
      failureBehavior: END_CALL_WITH_ANNOUNCEMENT
    complianceAnnouncement:
      useOrgSettingsEnabled: false
      inboundPSTNCallsEnabled: false
  - id: silent
    callRecording: { orgDefaultEnabled: false, vendor: None }
  - id: ignored-failure-override
    callRecording:
      orgFailureBehaviorEnabled: true
      failureBehavior: END_CALL_WITH_ANNOUNCEMENT
people:
  - extension: \"100\"
    location: inherit
    callRecording: &on
      enabled: true
      record: Always
      recordVoicemailEnabled: true
      startStopAnnouncement: { internalCallsEnabled: true, pstnCallsEnabled: false }
      notification: { enabled: true, type: Play Announcement }
      repeat: { enabled: true, interval: 45 }
      serviceProvider: SP1
      externalGroup: G1
      externalIdentifier: ext100@example
  - extension: \"200\"
    location: override
    callRecording: *on
  - extension: \"300\"
    location: silent
    callRecording: *on
  - extension: \"400\"
    location: inherit
    callRecording: { enabled: false, record: Always }
  - extension: \"500\"
    location: inherit
    callRecording: { enabled: true, record: Never }
  - extension: \"600\"
    location: ignored-failure-override
    callRecording:
      enabled: true
      record: On Demand with User Initiated Start
      startStopAnnouncement: { internalCallsEnabled: true, pstnCallsEnabled: true }
      notification: { enabled: true, type: None }
      selectiveCallRecordingSettings:
        recordInboundExternalCallsEnabled: false
";

fn matrix() -> Policy {
    parse(MATRIX, "matrix.yaml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn organisation_default_vendor() {
    let u = matrix().resolve("100").expect("100");
    assert_eq!(
        (u.vendor, u.vendor_from),
        (Vendor::Dubber, Level::Organization)
    );
    let a = u.active().expect("recorded");
    assert_eq!(a.srs.srs, "sip:dubber@127.0.0.1:5080");
    assert_eq!(a.srs.transport, Transport::Udp);
    assert_eq!(a.mode, RecordMode::Always);
    assert_eq!(
        (a.failure_behavior, a.failure_behavior_from),
        (
            FailureBehavior::ProceedCallWithAnnouncement,
            Level::Organization
        )
    );
    assert_eq!(a.notification, Some(NotificationType::PlayAnnouncement));
    assert_eq!(a.repeat_interval, Some(45));
    assert!(a.record_voicemail);
    assert_eq!(u.identity.service_provider.as_deref(), Some("SP1"));
    assert_eq!(u.identity.external_group.as_deref(), Some("G1"));
    assert_eq!(
        u.identity.external_identifier.as_deref(),
        Some("ext100@example")
    );
}

#[test]
fn location_override_to_another_vendor() {
    // POL-11: users at the overriding location go to that vendor's SRS.
    let u = matrix().resolve("200").expect("200");
    assert_eq!(
        (u.vendor, u.vendor_from),
        (Vendor::Imagicle, Level::Location)
    );
    let a = u.active().expect("recorded");
    assert_eq!(a.srs.srs, "sip:imagicle@127.0.0.1:5082");
    assert_eq!(a.srs.transport, Transport::Tcp);
    // POL-13: the location's failure behaviour, as orgFailureBehaviorEnabled is false.
    assert_eq!(
        (a.failure_behavior, a.failure_behavior_from),
        (FailureBehavior::EndCallWithAnnouncement, Level::Location)
    );
    // The location's own compliance announcement settings.
    assert!(!a.compliance_announcement.inbound_pstn_calls_enabled);
}

#[test]
fn location_none_is_not_recorded_even_when_always() {
    // POL-12.
    let u = matrix().resolve("300").expect("300");
    assert_eq!(u.vendor, Vendor::None);
    assert_eq!(u.recording, Recording::Off(NotRecorded::LocationVendorNone));
    assert!(!u.records(CallType::internal(Direction::Outbound)));
}

#[test]
fn organisation_none_wins_over_everything() {
    // POL-12 / seed: None at organisation level removes recording for every user, here
    // even at a location that names its own vendor.
    let text = MATRIX.replace("    vendor: Dubber\n", "    vendor: None\n");
    let p = parse(&text, "none.yaml").unwrap_or_else(|e| panic!("{e}"));
    for ext in ["100", "200", "300", "600"] {
        let u = p.resolve(ext).expect("defined");
        assert_eq!(
            u.recording,
            Recording::Off(NotRecorded::OrganizationVendorNone),
            "{ext}"
        );
    }
}

#[test]
fn organisation_disabled() {
    let text = MATRIX.replace(
        "    vendor: Dubber\n",
        "    vendor: Dubber\n    enabled: false\n",
    );
    let p = parse(&text, "off.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.resolve("100").expect("100").recording,
        Recording::Off(NotRecorded::OrganizationDisabled)
    );
}

#[test]
fn person_disabled_and_record_never() {
    let p = matrix();
    assert_eq!(
        p.resolve("400").expect("400").recording,
        Recording::Off(NotRecorded::PersonDisabled)
    );
    assert_eq!(
        p.resolve("500").expect("500").recording,
        Recording::Off(NotRecorded::ModeNever)
    );
}

#[test]
fn failure_behaviour_override_needs_the_flag_off() {
    // Webex's own example sends failureBehavior with orgFailureBehaviorEnabled: true; the
    // organisation's value is then in force.
    let a = matrix().resolve("600").expect("600");
    let a = a.active().expect("recorded");
    assert_eq!(a.failure_behavior_from, Level::Organization);
    assert_eq!(
        a.failure_behavior,
        FailureBehavior::ProceedCallWithAnnouncement
    );
}

#[test]
fn notification_type_none_means_no_notification_and_repeat_off_means_no_tone() {
    let u = matrix().resolve("600").expect("600");
    let a = u.active().expect("recorded");
    assert_eq!(a.notification, None);
    assert_eq!(a.repeat_interval, None);
    assert!(a.mode.user_can_start_stop());
}

#[test]
fn start_stop_announcement_per_call_type() {
    // POL-03: person 100 announces on internal calls only. POL-08: on PSTN calls the
    // compliance announcement plays instead (inbound at once, outbound after 7 s).
    let u = matrix().resolve("100").expect("100");
    let internal = u.announcements(CallType::internal(Direction::Inbound));
    assert!(internal.start_stop);
    assert_eq!(internal.compliance_delay, None);

    let pstn_in = u.announcements(CallType::pstn(Direction::Inbound));
    assert!(!pstn_in.start_stop);
    assert_eq!(pstn_in.compliance_delay, Some(0));

    let pstn_out = u.announcements(CallType::pstn(Direction::Outbound));
    assert_eq!(pstn_out.compliance_delay, Some(7));
}

#[test]
fn compliance_announcement_suppresses_start_stop_on_pstn() {
    // Person 200 has pstnCallsEnabled false; person 600 has it true but the organisation
    // plays the compliance announcement on outbound PSTN calls, so start/stop is
    // suppressed there (POL-08).
    let p = matrix();
    let u = p.resolve("600").expect("600");
    let out = u.announcements(CallType::pstn(Direction::Outbound));
    assert!(!out.start_stop);
    assert_eq!(out.compliance_delay, Some(7));

    // Location `override` turns the inbound compliance announcement off: its person with
    // pstnCallsEnabled false hears nothing on inbound PSTN calls.
    let u = p.resolve("200").expect("200");
    let inbound = u.announcements(CallType::pstn(Direction::Inbound));
    assert_eq!(inbound.compliance_delay, None);
    assert!(!inbound.start_stop);
}

#[test]
fn selective_settings_exclude_a_call_type() {
    let u = matrix().resolve("600").expect("600");
    assert!(!u.records(CallType::pstn(Direction::Inbound)));
    assert!(u.records(CallType::pstn(Direction::Outbound)));
    // Nothing is announced on a call that is not recorded.
    let plan = u.announcements(CallType::pstn(Direction::Inbound));
    assert!(!plan.start_stop && plan.compliance_delay.is_none());
}

#[test]
fn unrecorded_users_hear_no_announcements() {
    let u = matrix().resolve("400").expect("400");
    let plan = u.announcements(CallType::internal(Direction::Outbound));
    assert!(!plan.start_stop && plan.compliance_delay.is_none());
}

#[test]
fn unknown_people() {
    let p = matrix();
    assert!(p.resolve("999").is_none());
    assert!(p.person_by_extension("999").is_none());
    let e = p.require_person("1000").expect_err("not defined");
    let msg = e.to_string();
    assert!(
        msg.contains("no person with extension `1000` in policy `matrix.yaml`"),
        "{msg}"
    );
    assert!(
        msg.contains("known extensions: 100, 200, 300, 400, 500, 600"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `100`?"), "{msg}");
    assert_eq!(
        p.require_person("200").expect("defined").location,
        "override"
    );
}

#[test]
fn record_mode_capabilities() {
    assert!(RecordMode::Always.starts_automatically());
    assert!(!RecordMode::Always.user_can_pause());
    assert!(RecordMode::AlwaysWithPauseResume.user_can_pause());
    assert!(!RecordMode::AlwaysWithPauseResume.user_can_start_stop());
    assert!(!RecordMode::OnDemandWithUserInitiatedStart.starts_automatically());
    assert!(RecordMode::OnDemandWithUserInitiatedStart.user_can_pause());
    assert!(!RecordMode::Never.starts_automatically());
}
