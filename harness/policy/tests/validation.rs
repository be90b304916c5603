//! One failing input per validation rule: the rule, the message and the line:column of
//! the offending value.

use recproof_policy::{PolicyErrors, Problem, Rule, load, parse};

fn errors(text: &str) -> PolicyErrors {
    match parse(text, "t.yaml") {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => e,
    }
}

/// The single problem in `text`, which must break `rule`.
fn only(text: &str, rule: Rule) -> Problem {
    let e = errors(text);
    assert_eq!(e.problems.len(), 1, "expected one problem, got:\n{e}");
    let p = e.problems.into_iter().next().expect("one problem");
    assert_eq!(p.rule, rule, "{p}");
    p
}

fn at(p: &Problem) -> (u64, u64) {
    (p.at.line, p.at.column)
}

fn assert_contains(p: &Problem, needle: &str) {
    assert!(p.message.contains(needle), "`{needle}` not in: {p}");
}

/// A valid policy; tests append to it or replace parts of it.
const BASE: &str = "\
organization:
  name: Acme
  region: US
providers:
  Dubber: { srs: \"sip:r@127.0.0.1:5080\" }
locations:
  - id: hq
people:
  - extension: \"1001\"
    location: hq
";

fn with_person_recording(lines: &str) -> String {
    format!("{BASE}    callRecording:\n{lines}")
}

#[test]
fn base_is_valid() {
    parse(BASE, "t.yaml").expect("BASE must be valid");
}

// ---- repeat interval (POL-06) ----

#[test]
fn repeat_interval_below_range() {
    let text = with_person_recording("      repeat:\n        enabled: true\n        interval: 5\n");
    let p = only(&text, Rule::RepeatInterval);
    assert_eq!(at(&p), (14, 19));
    assert_eq!(
        p.to_string(),
        "t.yaml:14:19: person `1001`: callRecording.repeat.interval is 5 s; the profile allows \
         10-90 s (seed default 20) — set it within the range or change limits.repeatIntervalMin"
    );
}

#[test]
fn repeat_interval_above_range_names_the_max_limit() {
    let text = with_person_recording("      repeat: { enabled: true, interval: 95 }\n");
    let p = only(&text, Rule::RepeatInterval);
    assert_eq!(at(&p), (12, 42));
    assert_contains(&p, "is 95 s; the profile allows 10-90 s");
    assert_contains(&p, "limits.repeatIntervalMax");
}

#[test]
fn repeat_interval_is_checked_even_when_the_tone_is_off() {
    // The Webex API rejects an out-of-range interval whatever `enabled` says.
    let text = with_person_recording("      repeat: { enabled: false, interval: -3 }\n");
    let p = only(&text, Rule::RepeatInterval);
    assert_contains(&p, "is -3 s");
}

#[test]
fn repeat_range_is_a_profile_setting() {
    let text = format!(
        "{}limits: {{ repeatIntervalMin: 10, repeatIntervalMax: 1800 }}\n",
        with_person_recording("      repeat: { enabled: true, interval: 600 }\n")
    );
    let p = parse(&text, "t.yaml").expect("600 s is fine with the API's range");
    assert_eq!(p.people[0].call_recording.repeat.interval, 600);
}

#[test]
fn default_interval_outside_a_narrow_profile_is_reported_at_the_repeat_block() {
    let text = format!(
        "{}limits: {{ repeatIntervalMin: 30, repeatIntervalMax: 90 }}\n",
        with_person_recording("      repeat:\n        enabled: true\n")
    );
    let p = only(&text, Rule::RepeatInterval);
    assert_eq!(at(&p), (13, 9));
    assert_contains(&p, "default 20 s is outside the profile's 30-90 s");
}

#[test]
fn impossible_limits() {
    let text = format!("{BASE}limits:\n  repeatIntervalMin: 60\n  repeatIntervalMax: 30\n");
    let p = only(&text, Rule::Limits);
    assert_eq!(at(&p), (12, 22));
    assert_contains(&p, "is above limits.repeatIntervalMax (30)");

    let text = format!("{BASE}limits: {{ repeatIntervalMin: 0 }}\n");
    let p = only(&text, Rule::Limits);
    assert_contains(&p, "limits.repeatIntervalMin is 0");
}

// ---- vendors and providers (POL-11, POL-12, seed) ----

#[test]
fn callcabinet_needs_a_us_organisation() {
    let text = BASE
        .replace(
            "region: US",
            "region: EU\n  callRecording:\n    vendor: CallCabinet",
        )
        .replace("Dubber: {", "CallCabinet: {");
    let p = only(&text, Rule::RegionRestricted);
    assert_eq!(at(&p), (5, 13));
    assert_contains(
        &p,
        "vendor `CallCabinet` is offered only to organisations hosted in the US",
    );
    assert_contains(&p, "organization.region is `EU`");
}

#[test]
fn callcabinet_without_a_region_says_so() {
    let text = BASE
        .replace(
            "  region: US\n",
            "  callRecording: { vendor: CallCabinet }\n",
        )
        .replace("Dubber: {", "CallCabinet: {");
    let p = only(&text, Rule::RegionRestricted);
    assert_eq!(at(&p), (3, 28));
    assert_contains(&p, "organization.region is not set");
}

#[test]
fn callcabinet_location_override_in_a_non_us_organisation() {
    let text = BASE
        .replace("region: US", "region: EU")
        .replace(
            "providers:\n",
            "providers:\n  CallCabinet: { srs: \"sip:c@127.0.0.1\" }\n",
        )
        .replace(
            "  - id: hq\n",
            "  - id: hq\n    callRecording: { orgDefaultEnabled: false, vendor: CallCabinet }\n",
        );
    let p = only(&text, Rule::RegionRestricted);
    assert_eq!(at(&p), (9, 56));
}

#[test]
fn unknown_vendor_name() {
    let text = BASE.replace(
        "region: US",
        "region: US\n  callRecording:\n    vendor: Dubbr",
    );
    let p = only(&text, Rule::UnknownProvider);
    assert_eq!(at(&p), (5, 13));
    assert_contains(&p, "organization.callRecording.vendor is `Dubbr`");
    assert_contains(&p, "`Dubber`, `Imagicle`, `CallCabinet`, `Webex`, `None`");
    assert_contains(&p, "did you mean `Dubber`?");
}

#[test]
fn unknown_provider_key() {
    let text = BASE.replace(
        "providers:\n",
        "providers:\n  Verint: { srs: \"sip:v@127.0.0.1\" }\n",
    );
    let p = only(&text, Rule::UnknownProvider);
    assert_eq!(at(&p), (5, 3));
    assert_contains(&p, "a `providers` key is `Verint`");
}

#[test]
fn none_is_not_a_provider() {
    let text = BASE.replace(
        "providers:\n",
        "providers:\n  None: { srs: \"sip:n@127.0.0.1\" }\n",
    );
    let p = only(&text, Rule::UnknownProvider);
    assert_contains(&p, "`None` means no recording");
}

#[test]
fn organisation_vendor_without_provider_entry() {
    let text = BASE.replace(
        "region: US",
        "region: US\n  callRecording: { vendor: Imagicle }",
    );
    let p = only(&text, Rule::MissingProvider);
    assert_eq!(at(&p), (4, 28));
    assert_contains(&p, "vendor `Imagicle` has no entry under `providers`");
    assert_contains(&p, "a harness setting, not a Webex field");
}

#[test]
fn implied_default_vendor_needs_a_provider_too() {
    let text = BASE.replace("  Dubber: { srs: \"sip:r@127.0.0.1:5080\" }\n", "");
    let p = only(&text, Rule::MissingProvider);
    // No vendor written: the position is the `organization` mapping.
    assert_eq!(at(&p), (2, 3));
    assert_contains(&p, "vendor `Dubber`");
}

#[test]
fn disabled_organisation_needs_no_provider() {
    let text = BASE
        .replace("  Dubber: { srs: \"sip:r@127.0.0.1:5080\" }\n", "")
        .replace(
            "region: US",
            "region: US\n  callRecording: { enabled: false }",
        );
    parse(&text, "t.yaml").expect("nothing is recorded, so no SRS is needed");
}

#[test]
fn location_override_without_provider_entry() {
    let text = BASE.replace(
        "  - id: hq\n",
        "  - id: hq\n    callRecording: { orgDefaultEnabled: false, vendor: Imagicle }\n",
    );
    let p = only(&text, Rule::MissingProvider);
    assert_eq!(at(&p), (8, 56));
}

#[test]
fn location_none_needs_no_provider() {
    let text = BASE.replace(
        "  - id: hq\n",
        "  - id: hq\n    callRecording: { orgDefaultEnabled: false, vendor: None }\n",
    );
    parse(&text, "t.yaml").expect("None has no recorder");
}

#[test]
fn srs_must_be_a_sip_uri_and_transport_known() {
    let text = BASE.replace(
        "Dubber: { srs: \"sip:r@127.0.0.1:5080\" }",
        "Dubber: { srs: \"http://r\", transport: tls }",
    );
    let e = errors(&text);
    assert_eq!(e.problems.len(), 2, "{e}");
    assert_eq!(e.problems[0].rule, Rule::InvalidValue);
    assert_eq!(at(&e.problems[0]), (5, 18));
    assert_contains(
        &e.problems[0],
        "providers.Dubber.srs is `http://r`, which is not a SIP URI",
    );
    assert_eq!(e.problems[1].rule, Rule::UnknownValue);
    assert_contains(&e.problems[1], "providers.Dubber.transport is `tls`");
}

// ---- locations (POL-11, POL-13) ----

#[test]
fn override_vendor_ignored_while_inheriting() {
    let text = BASE.replace(
        "  - id: hq\n",
        "  - id: hq\n    callRecording:\n      vendor: Dubber\n",
    );
    let p = only(&text, Rule::Inconsistent);
    assert_eq!(at(&p), (9, 15));
    assert_contains(&p, "orgDefaultEnabled is true (the default)");
}

#[test]
fn override_flag_without_vendor() {
    let text = BASE.replace(
        "  - id: hq\n",
        "  - id: hq\n    callRecording:\n      orgDefaultEnabled: false\n",
    );
    let p = only(&text, Rule::Inconsistent);
    assert_eq!(at(&p), (9, 26));
    assert_contains(&p, "orgDefaultEnabled is false but no vendor is given");
}

#[test]
fn failure_behaviour_override_flag_without_value() {
    let text = BASE.replace(
        "  - id: hq\n",
        "  - id: hq\n    callRecording:\n      orgFailureBehaviorEnabled: false\n",
    );
    let p = only(&text, Rule::Inconsistent);
    assert_contains(
        &p,
        "orgFailureBehaviorEnabled is false but no failureBehavior is given",
    );
}

#[test]
fn unknown_failure_behaviour() {
    let text = BASE.replace(
        "region: US",
        "region: US\n  callRecording: { failureBehavior: PROCEED }",
    );
    let p = only(&text, Rule::UnknownValue);
    assert_contains(&p, "PROCEED_WITH_CALL_NO_ANNOUNCEMENT");
}

#[test]
fn duplicate_location_id() {
    let text = BASE.replace("  - id: hq\n", "  - id: hq\n  - id: hq\n");
    let p = only(&text, Rule::Duplicate);
    assert_eq!(at(&p), (8, 9));
    assert_contains(
        &p,
        "location id `hq` is defined twice (first at line 7, column 9)",
    );
}

// ---- people ----

#[test]
fn unknown_location() {
    let text = BASE.replace("location: hq", "location: hqq");
    let p = only(&text, Rule::UnknownLocation);
    assert_eq!(at(&p), (10, 15));
    assert_contains(&p, "location `hqq` is not defined (known location ids: hq)");
    assert_contains(&p, "did you mean `hq`?");
}

#[test]
fn duplicate_extension() {
    let text = format!("{BASE}  - extension: \"1001\"\n    location: hq\n");
    let p = only(&text, Rule::Duplicate);
    assert_eq!(at(&p), (11, 16));
    assert_contains(
        &p,
        "extension `1001` is used twice (first at line 9, column 16)",
    );
}

#[test]
fn duplicate_person_id() {
    let text = format!("{BASE}    id: P1\n  - extension: \"1002\"\n    location: hq\n    id: P1\n");
    let p = only(&text, Rule::Duplicate);
    assert_eq!(at(&p), (14, 9));
}

#[test]
fn extension_must_be_digits() {
    let text = BASE.replace("\"1001\"", "\"10a1\"");
    let p = only(&text, Rule::InvalidValue);
    assert_eq!(at(&p), (9, 16));
}

#[test]
fn unknown_record_mode_suggests_the_exact_spelling() {
    let text = with_person_recording("      record: always with pause/resume\n");
    let p = only(&text, Rule::UnknownValue);
    assert_eq!(at(&p), (12, 15));
    assert_contains(&p, "did you mean `Always with Pause/Resume`?");
}

#[test]
fn unknown_notification_type() {
    let text = with_person_recording("      notification: { enabled: true, type: Announcement }\n");
    let p = only(&text, Rule::UnknownValue);
    assert_contains(&p, "callRecording.notification.type is `Announcement`");
    assert_contains(&p, "`None`, `Beep`, `Play Announcement`");
}

// ---- licence (POL-14) ----

#[test]
fn standard_licence_needs_the_webex_vendor() {
    let text = format!("{BASE}    licenseType: Standard\n    callRecording: {{ enabled: true }}\n");
    let p = only(&text, Rule::Licence);
    assert_eq!(at(&p), (11, 18));
    assert_contains(&p, "Standard licence");
    assert_contains(&p, "the vendor at location `hq` is `Dubber`");
}

#[test]
fn standard_licence_is_fine_with_webex_or_recording_off() {
    let webex = format!(
        "{}    licenseType: Standard\n    callRecording: {{ enabled: true }}\n",
        BASE.replace(
            "region: US",
            "region: US\n  callRecording: { vendor: Webex }"
        )
        .replace("Dubber: {", "Webex: {")
    );
    parse(&webex, "t.yaml").expect("Standard + Webex is allowed");
    let off = format!("{BASE}    licenseType: Standard\n    callRecording: {{ enabled: false }}\n");
    parse(&off, "t.yaml").expect("no recording, no licence problem");
}

#[test]
fn unknown_licence_type() {
    let text = format!("{BASE}    licenseType: Basic\n");
    let p = only(&text, Rule::UnknownValue);
    assert_contains(&p, "`Professional`, `Standard`");
}

// ---- feature codes (POL-02) ----

#[test]
fn feature_code_must_be_dtmf() {
    let text = format!("{BASE}featureCodes:\n  stop: \"*4a\"\n");
    let p = only(&text, Rule::FeatureCode);
    assert_eq!(at(&p), (12, 9));
    assert_contains(
        &p,
        "featureCodes.stop is `*4a`; a feature code is 1-16 DTMF symbols",
    );
}

#[test]
fn feature_codes_must_differ_including_from_defaults() {
    let text = format!("{BASE}featureCodes:\n  pause: \"*44\"\n");
    let p = only(&text, Rule::FeatureCode);
    assert_eq!(at(&p), (12, 10));
    assert_contains(&p, "the same as featureCodes.start");
}

#[test]
fn hash_code_written_bare_is_a_comment_and_is_caught() {
    let text = format!("{BASE}featureCodes:\n  start: #44\n");
    let p = only(&text, Rule::FeatureCode);
    assert_eq!(at(&p), (12, 8));
    assert_contains(&p, "is empty; a `#` after a space starts a YAML comment");
}

#[test]
fn star_code_written_bare_is_an_alias_and_the_hint_says_quote_it() {
    let text = format!("{BASE}featureCodes:\n  start: *44\n");
    let p = only(&text, Rule::Syntax);
    assert_eq!(at(&p), (12, 10));
    assert_contains(&p, "quote feature codes");
}

// ---- the format itself ----

#[test]
fn unknown_field_lists_known_fields_and_suggests() {
    let text = with_person_recording("      recordVoicemail: true\n");
    let p = only(&text, Rule::UnknownField);
    assert_eq!(at(&p), (12, 7));
    assert_contains(&p, "unknown field `recordVoicemail`");
    assert_contains(&p, "did you mean `recordVoicemailEnabled`?");
    assert_contains(&p, "startStopAnnouncement");
}

#[test]
fn unknown_dialect() {
    let text = format!("{BASE}dialect: strict\n");
    let p = only(&text, Rule::UnknownValue);
    assert_eq!(at(&p), (11, 10));
    assert_contains(&p, "`broadworks-compat`, `rfc-strict`");
}

#[test]
fn negative_compliance_delay() {
    let text = BASE.replace(
        "region: US",
        "region: US\n  complianceAnnouncement: { delayInSeconds: -1 }",
    );
    let p = only(&text, Rule::InvalidValue);
    assert_contains(&p, "delayInSeconds is -1");
}

#[test]
fn wrong_type_is_a_syntax_problem_with_position() {
    let text = BASE.replace("extension: \"1001\"", "extension: [1001]");
    let p = only(&text, Rule::Syntax);
    assert_eq!(at(&p), (9, 16));
}

#[test]
fn missing_required_field() {
    let text = BASE.replace("    location: hq\n", "");
    let p = only(&text, Rule::Syntax);
    assert_contains(&p, "missing field `location`");
}

#[test]
fn duplicate_yaml_key() {
    let text = BASE.replace("  name: Acme\n", "  name: Acme\n  name: Other\n");
    let p = only(&text, Rule::Duplicate);
    assert_eq!(at(&p), (3, 3));
}

#[test]
fn empty_file_and_several_documents() {
    let p = only("", Rule::Syntax);
    assert_contains(&p, "needs at least an `organization:` section");
    let p = only(&format!("{BASE}---\n{BASE}"), Rule::Syntax);
    assert_contains(&p, "more than one YAML document");
}

// ---- all problems at once ----

#[test]
fn every_semantic_problem_is_reported_in_file_order() {
    let text = "\
organization:
  region: EU
  callRecording: { vendor: CallCabinet }
providers:
  CallCabinet: { srs: \"sip:c@127.0.0.1\" }
locations:
  - id: hq
people:
  - extension: \"1001\"
    location: nowhere
    callRecording:
      record: Sometimes
      repeat: { interval: 5 }
  - extension: \"1001\"
    location: hq
featureCodes:
  stop: \"*44\"
";
    let e = errors(text);
    let got: Vec<(Rule, u64, u64)> = e
        .problems
        .iter()
        .map(|p| (p.rule, p.at.line, p.at.column))
        .collect();
    assert_eq!(
        got,
        vec![
            (Rule::RegionRestricted, 3, 28),
            (Rule::UnknownLocation, 10, 15),
            (Rule::UnknownValue, 12, 15),
            (Rule::RepeatInterval, 13, 27),
            (Rule::Duplicate, 14, 16),
            (Rule::FeatureCode, 17, 9),
        ]
    );
    // One line per problem, each starting with file:line:column.
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), 6);
    assert!(shown.lines().all(|l| l.starts_with("t.yaml:")));
}

#[test]
fn values_shared_through_an_alias_are_reported_per_use_with_the_anchor() {
    let text = format!(
        "{}    callRecording: &shared\n      repeat: {{ interval: 5 }}\n  - extension: \
         \"1002\"\n    location: hq\n    callRecording: *shared\n",
        BASE
    );
    let e = errors(&text);
    assert_eq!(e.problems.len(), 2, "{e}");
    assert_eq!(at(&e.problems[0]), (12, 27));
    assert_eq!(at(&e.problems[1]), (15, 20));
    assert_contains(&e.problems[1], "person `1002`");
    assert_contains(
        &e.problems[1],
        "(the value comes from the YAML anchor at line 12, column 27)",
    );
}

#[test]
fn unreadable_file() {
    let e = load("/nonexistent/policy.yaml").expect_err("no such file");
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].rule, Rule::Read);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/policy.yaml: cannot read the policy file"),
        "{e}"
    );
}
