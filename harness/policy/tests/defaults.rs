//! Defaults, each with its source (see the doc comments in `model`).

use recproof_policy::{
    Dialect, FailureBehavior, LicenseType, NotificationType, RecordMode, Transport, Vendor, parse,
};

const MINIMAL: &str = "\
organization:
  name: Minimal
providers:
  Dubber: { srs: \"sip:r@127.0.0.1:5080\" }
locations:
  - id: hq
people:
  - extension: \"1001\"
    location: hq
";

#[test]
fn minimal_file_gets_documented_defaults() {
    let p = parse(MINIMAL, "minimal.yaml").expect("valid");
    let org = &p.organization;
    assert!(org.call_recording.enabled, "A: a file means to record");
    assert_eq!(
        org.call_recording.vendor,
        Vendor::Dubber,
        "seed: Dubber default"
    );
    assert_eq!(
        org.call_recording.failure_behavior,
        FailureBehavior::ProceedWithCallNoAnnouncement
    );
    assert_eq!(org.region, None);
    let ca = org.compliance_announcement;
    assert!(!ca.inbound_pstn_calls_enabled && !ca.outbound_pstn_calls_enabled);
    assert!(!ca.outbound_pstn_calls_delay_enabled);
    assert_eq!(ca.delay_in_seconds, 10);

    assert_eq!(p.providers[&Vendor::Dubber].transport, Transport::Udp);
    assert_eq!(p.dialect, Dialect::BroadworksCompat);
    assert_eq!(p.limits.repeat_interval_min, 10, "seed");
    assert_eq!(p.limits.repeat_interval_max, 90, "seed");
    let fc = &p.feature_codes;
    assert_eq!(
        (
            fc.start.as_str(),
            fc.stop.as_str(),
            fc.pause.as_str(),
            fc.resume.as_str()
        ),
        ("*44", "*45", "*48", "*49")
    );

    let loc = &p.locations[0];
    assert_eq!(loc.name, "hq");
    assert!(loc.call_recording.org_default_enabled);
    assert!(loc.call_recording.org_failure_behavior_enabled);
    assert!(loc.call_recording.org_storage_region_enabled);
    assert!(loc.compliance_announcement.use_org_settings_enabled);

    let person = &p.people[0];
    assert_eq!(person.display_name, "1001");
    assert_eq!(person.license_type, LicenseType::Professional);
    let cr = &person.call_recording;
    assert!(!cr.enabled, "A: Webex users start with recording off");
    assert_eq!(cr.record, RecordMode::Never, "seed: Never is the default");
    assert!(!cr.record_voicemail_enabled);
    assert!(!cr.start_stop_announcement_enabled);
    assert!(!cr.start_stop_announcement.internal_calls_enabled);
    assert!(!cr.start_stop_announcement.pstn_calls_enabled);
    assert!(!cr.notification.enabled);
    assert!(!cr.repeat.enabled);
    assert_eq!(cr.repeat.interval, 20, "seed: a tone every 20 s by default");
    let s = cr.selective_call_recording_settings;
    assert!(
        s.record_inbound_internal_calls_enabled
            && s.record_inbound_external_calls_enabled
            && s.record_outbound_internal_calls_enabled
            && s.record_outbound_external_calls_enabled
    );
    assert_eq!(cr.call_recording_access_settings, None);
}

fn person_with(call_recording: &str) -> String {
    format!("{MINIMAL}    callRecording:\n{call_recording}")
}

#[test]
fn notification_enabled_without_type_is_beep() {
    // POL-07: "if enabled with no type, it defaults to Beep".
    let p = parse(
        &person_with("      notification:\n        enabled: true\n"),
        "n.yaml",
    )
    .expect("valid");
    let n = p.people[0].call_recording.notification;
    assert!(n.enabled);
    assert_eq!(n.kind, NotificationType::Beep);
}

#[test]
fn repeat_enabled_without_interval_is_twenty_seconds() {
    let p = parse(&person_with("      repeat: { enabled: true }\n"), "r.yaml").expect("valid");
    assert_eq!(p.people[0].call_recording.repeat.interval, 20);
}

#[test]
fn legacy_start_stop_flag_covers_both_call_types() {
    let p = parse(
        &person_with("      startStopAnnouncementEnabled: true\n"),
        "s.yaml",
    )
    .expect("valid");
    let s = p.people[0].call_recording.start_stop_announcement;
    assert!(s.internal_calls_enabled && s.pstn_calls_enabled);
}

#[test]
fn per_call_type_start_stop_object_wins_over_legacy_flag() {
    let p = parse(
        &person_with(
            "      startStopAnnouncementEnabled: true\n      startStopAnnouncement:\n        \
             internalCallsEnabled: false\n        pstnCallsEnabled: true\n",
        ),
        "s.yaml",
    )
    .expect("valid");
    let s = p.people[0].call_recording.start_stop_announcement;
    assert!(!s.internal_calls_enabled);
    assert!(s.pstn_calls_enabled);
}

#[test]
fn org_vendor_accepts_the_get_response_name_vendor_name() {
    let text = MINIMAL.replace(
        "  name: Minimal\n",
        "  name: Minimal\n  callRecording:\n    vendorName: Dubber\n",
    );
    let p = parse(&text, "v.yaml").expect("valid");
    assert_eq!(p.organization.call_recording.vendor, Vendor::Dubber);
}

#[test]
fn unquoted_numeric_extension_is_kept_as_text() {
    let text = MINIMAL.replace("extension: \"1001\"", "extension: 0101");
    let p = parse(&text, "e.yaml").expect("valid");
    assert_eq!(p.people[0].extension, "0101");
}
