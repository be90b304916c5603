//! The file's shape as serde sees it: every value wrapped in `Spanned` so later checks
//! can point at it.
//!
//! Owns the YAML field names (Webex camelCase) and nothing else: no defaults, no rules.
//! Closed value sets (`record`, `vendor`, …) are read as text here and checked in
//! `validate`, so that one run reports every bad value instead of stopping at the
//! first, and so their messages can list the choices and name the field.
//!
//! Why `Spanned` and not a second pass over a node tree or a text search: serde-saphyr's
//! `Spanned<T>` records the line and column of each value as it is deserialized (and,
//! through an alias, both the use site and the anchor), which is exactly what semantic
//! checks need. It loses positions only under `#[serde(flatten)]` and untagged enums,
//! which this module does not use.

use std::collections::HashMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub(crate) organization: S<RawOrganization>,
    /// `Option` so that a key with nothing under it (`providers:`) means "none".
    #[serde(default)]
    pub(crate) providers: Option<HashMap<S<String>, S<RawProvider>>>,
    #[serde(default)]
    pub(crate) locations: Option<Vec<S<RawLocation>>>,
    #[serde(default)]
    pub(crate) people: Option<Vec<S<RawPerson>>>,
    #[serde(default)]
    pub(crate) feature_codes: Option<S<RawFeatureCodes>>,
    #[serde(default)]
    pub(crate) limits: Option<S<RawLimits>>,
    #[serde(default)]
    pub(crate) dialect: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawOrganization {
    #[serde(default)]
    pub(crate) id: Option<S<String>>,
    #[serde(default)]
    pub(crate) name: Option<S<String>>,
    #[serde(default)]
    pub(crate) region: Option<S<String>>,
    #[serde(default)]
    pub(crate) call_recording: Option<S<RawOrgRecording>>,
    #[serde(default)]
    pub(crate) compliance_announcement: Option<S<RawCompliance>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawOrgRecording {
    #[serde(default)]
    pub(crate) enabled: Option<S<bool>>,
    /// `vendorName` is what `GET /telephony/config/callRecording` returns.
    #[serde(default, alias = "vendorName")]
    pub(crate) vendor: Option<S<String>>,
    #[serde(default)]
    pub(crate) storage_region: Option<S<String>>,
    #[serde(default)]
    pub(crate) failure_behavior: Option<S<String>>,
}

/// The organisation's compliance announcement; the API spells `PSTN` in capitals.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompliance {
    #[serde(default, rename = "inboundPSTNCallsEnabled")]
    pub(crate) inbound: Option<S<bool>>,
    #[serde(default, rename = "outboundPSTNCallsEnabled")]
    pub(crate) outbound: Option<S<bool>>,
    #[serde(default, rename = "outboundPSTNCallsDelayEnabled")]
    pub(crate) outbound_delay: Option<S<bool>>,
    #[serde(default, rename = "delayInSeconds")]
    pub(crate) delay_in_seconds: Option<S<i64>>,
}

/// A location's compliance announcement: the organisation's fields plus
/// `useOrgSettingsEnabled` (not `#[serde(flatten)]`, which would lose positions and
/// unknown-field checks).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLocationCompliance {
    #[serde(default, rename = "useOrgSettingsEnabled")]
    pub(crate) use_org_settings_enabled: Option<S<bool>>,
    #[serde(default, rename = "inboundPSTNCallsEnabled")]
    pub(crate) inbound: Option<S<bool>>,
    #[serde(default, rename = "outboundPSTNCallsEnabled")]
    pub(crate) outbound: Option<S<bool>>,
    #[serde(default, rename = "outboundPSTNCallsDelayEnabled")]
    pub(crate) outbound_delay: Option<S<bool>>,
    #[serde(default, rename = "delayInSeconds")]
    pub(crate) delay_in_seconds: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawProvider {
    pub(crate) srs: S<String>,
    #[serde(default)]
    pub(crate) transport: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawLocation {
    pub(crate) id: S<String>,
    #[serde(default)]
    pub(crate) name: Option<S<String>>,
    #[serde(default)]
    pub(crate) call_recording: Option<S<RawLocationRecording>>,
    #[serde(default)]
    pub(crate) compliance_announcement: Option<S<RawLocationCompliance>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawLocationRecording {
    #[serde(default)]
    pub(crate) org_default_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) vendor: Option<S<String>>,
    #[serde(default)]
    pub(crate) storage_region: Option<S<String>>,
    #[serde(default)]
    pub(crate) org_storage_region_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) failure_behavior: Option<S<String>>,
    #[serde(default)]
    pub(crate) org_failure_behavior_enabled: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawPerson {
    #[serde(default)]
    pub(crate) id: Option<S<String>>,
    pub(crate) extension: S<String>,
    #[serde(default)]
    pub(crate) display_name: Option<S<String>>,
    pub(crate) location: S<String>,
    #[serde(default)]
    pub(crate) license_type: Option<S<String>>,
    #[serde(default)]
    pub(crate) call_recording: Option<S<RawPersonRecording>>,
}

/// `GET /people/{personId}/features/callRecording`, field for field.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawPersonRecording {
    #[serde(default)]
    pub(crate) enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) record: Option<S<String>>,
    #[serde(default)]
    pub(crate) record_voicemail_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) start_stop_announcement_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) start_stop_announcement: Option<S<RawStartStop>>,
    #[serde(default)]
    pub(crate) notification: Option<S<RawNotification>>,
    #[serde(default)]
    pub(crate) repeat: Option<S<RawRepeat>>,
    #[serde(default)]
    pub(crate) service_provider: Option<S<String>>,
    #[serde(default)]
    pub(crate) external_group: Option<S<String>>,
    #[serde(default)]
    pub(crate) external_identifier: Option<S<String>>,
    #[serde(default)]
    pub(crate) selective_call_recording_settings: Option<S<RawSelective>>,
    #[serde(default)]
    pub(crate) call_recording_access_settings: Option<S<RawAccess>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawStartStop {
    #[serde(default)]
    pub(crate) internal_calls_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) pstn_calls_enabled: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawNotification {
    #[serde(default)]
    pub(crate) enabled: Option<S<bool>>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawRepeat {
    #[serde(default)]
    pub(crate) enabled: Option<S<bool>>,
    /// Signed so that a negative interval is a range error with the profile's limits in
    /// the message, not a bare "invalid u32".
    #[serde(default)]
    pub(crate) interval: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawSelective {
    #[serde(default)]
    pub(crate) record_inbound_internal_calls_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) record_inbound_external_calls_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) record_outbound_internal_calls_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) record_outbound_external_calls_enabled: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawAccess {
    #[serde(default)]
    pub(crate) view_and_play_recordings_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) download_recordings_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) delete_recordings_enabled: Option<S<bool>>,
    #[serde(default)]
    pub(crate) share_recordings_enabled: Option<S<bool>>,
}

/// Feature codes keep an explicit null apart from a missing key: `start: #44` is a YAML
/// comment, so the value is null, and silently falling back to the default would hide
/// the mistake.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawFeatureCodes {
    #[serde(default, deserialize_with = "present")]
    pub(crate) start: Option<S<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) stop: Option<S<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) pause: Option<S<Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) resume: Option<S<Option<String>>>,
}

/// Called only when the key is present, so `Some(Spanned { value: None, .. })` means the
/// key was there with a null value (and `Spanned` says where).
fn present<'de, D>(d: D) -> Result<Option<S<Option<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    S::<Option<String>>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawLimits {
    #[serde(default)]
    pub(crate) repeat_interval_min: Option<S<i64>>,
    #[serde(default)]
    pub(crate) repeat_interval_max: Option<S<i64>>,
}
