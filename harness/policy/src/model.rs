//! The validated recording policy: what the reference platform and the checks read.
//!
//! Owns the public, typed model ([`Policy`] and everything in it) and the closed value
//! sets ([`Vendor`], [`RecordMode`], …) with their exact Webex API spellings. Every value
//! here has already been defaulted and checked by `validate`; nothing in this module
//! reads YAML or reports positions. Types are `#[non_exhaustive]` so that a `Policy` can
//! only come from [`crate::parse`] / [`crate::load`] and keeps its invariants (every
//! person's location exists, every vendor in use has a provider entry, …).
//!
//! Defaults are documented on each field with their source: **Webex API** (the public
//! schema or its examples), **seed** (the article on Webex call recording this project started from),
//! **checklist** (recproof's requirement catalogue, `docs/requirements.md`) or **A** (our assumption).

use std::collections::BTreeMap;

/// Declares a closed set of values read from text, with the exact spelling of each.
macro_rules! choice_enum {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident : $what:literal {
            $( $(#[$vm:meta])* $var:ident => $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name { $( $(#[$vm])* $var ),+ }

        impl $name {
            /// Every value with its spelling in the policy file (the Webex API string
            /// where the field is a Webex field), in the order the docs list them.
            pub const ALL: &'static [(&'static str, Self)] = &[ $( ($s, Self::$var) ),+ ];

            /// The spelling of this value in the policy file.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$var => $s ),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl crate::validate::Choice for $name {
            const WHAT: &'static str = $what;
            fn all() -> &'static [(&'static str, Self)] { Self::ALL }
        }
    };
}

choice_enum! {
    /// A call-recording vendor (the "provider" that receives the recording).
    ///
    /// Webex API: `vendorName` / vendor `name`. The seed lists Dubber (default), Imagicle,
    /// CallCabinet and None. `Webex` is not in the seed (the article predates it) but the
    /// Webex API and POL-14/POL-15 know it as a vendor, so it is accepted here.
    pub enum Vendor: "vendor" {
        /// Dubber: the organisation default; the free "Dubber Go" tier comes with every
        /// Webex Calling licence (seed).
        Dubber => "Dubber",
        /// Imagicle (needs manual provisioning, seed).
        Imagicle => "Imagicle",
        /// CallCabinet: offered only to organisations hosted in the US region (seed).
        CallCabinet => "CallCabinet",
        /// Webex itself as the recorder (Webex API "Converged Recordings"; POL-14/15). The
        /// only vendor a Standard licence may record with.
        Webex => "Webex",
        /// No recording: at organisation level nobody is recorded, at location level
        /// nobody at that location is (seed, POL-12).
        None => "None",
    }
}

choice_enum! {
    /// When a person's calls are recorded. Webex API `record`.
    pub enum RecordMode: "record mode" {
        /// Every inbound and outbound call; no user control (POL-01).
        Always => "Always",
        /// Not recorded. The Webex default for `record` (seed: "Never (the default)").
        Never => "Never",
        /// Always recorded; the user may pause and resume; stop is not supported (POL-01).
        AlwaysWithPauseResume => "Always with Pause/Resume",
        /// Only the part after the user starts recording (`*44`); pause, resume and stop
        /// supported (POL-01).
        OnDemandWithUserInitiatedStart => "On Demand with User Initiated Start",
    }
}

impl RecordMode {
    /// Whether recording starts by itself when the call is answered (else the user starts
    /// it with the start feature code, or it never starts).
    #[must_use]
    pub fn starts_automatically(self) -> bool {
        matches!(self, Self::Always | Self::AlwaysWithPauseResume)
    }

    /// Whether the user may pause and resume (POL-01).
    #[must_use]
    pub fn user_can_pause(self) -> bool {
        matches!(
            self,
            Self::AlwaysWithPauseResume | Self::OnDemandWithUserInitiatedStart
        )
    }

    /// Whether the user may stop (and, on demand, start) recording (POL-01).
    #[must_use]
    pub fn user_can_start_stop(self) -> bool {
        matches!(self, Self::OnDemandWithUserInitiatedStart)
    }
}

choice_enum! {
    /// What the parties hear when recording is paused or resumed. Webex API
    /// `notification.type` (POL-07).
    pub enum NotificationType: "notification type" {
        /// Nothing is played. Only seen on read (GET); PUT accepts Beep or Play Announcement.
        None => "None",
        /// A beep. The default when `notification.enabled` is true and no type is given
        /// (Webex API PUT rule, POL-07).
        Beep => "Beep",
        /// A spoken "recording paused" / "recording resumed".
        PlayAnnouncement => "Play Announcement",
    }
}

choice_enum! {
    /// What happens to the call when the recorder cannot be reached. Webex API
    /// `failureBehavior` (POL-13).
    pub enum FailureBehavior: "failure behaviour" {
        /// The call goes on, unrecorded, with no announcement. Default (A: the first value
        /// of the Webex enum and the value of its organisation example).
        ProceedWithCallNoAnnouncement => "PROCEED_WITH_CALL_NO_ANNOUNCEMENT",
        /// The call goes on and the parties hear that recording failed.
        ProceedCallWithAnnouncement => "PROCEED_CALL_WITH_ANNOUNCEMENT",
        /// The call is ended after an announcement.
        EndCallWithAnnouncement => "END_CALL_WITH_ANNOUNCEMENT",
    }
}

choice_enum! {
    /// Transport towards a vendor's recorder. A harness setting, not a Webex field.
    pub enum Transport: "transport" {
        /// SIP over UDP (default, A: what the captured BroadWorks INVITEs use).
        Udp => "udp",
        /// SIP over TCP.
        Tcp => "tcp",
    }
}

choice_enum! {
    /// Which SIPREC metadata dialect the platform sends (the two dialects of `docs/requirements.md`). A harness
    /// setting.
    pub enum Dialect: "dialect" {
        /// The BroadWorks/Webex observed profile (draft schema, `;src`, no
        /// `Require: siprec`). Default: it is what the platform under study sends.
        BroadworksCompat => "broadworks-compat",
        /// RFC 7866 / RFC 7865 / RFC 9806 strictly.
        RfcStrict => "rfc-strict",
    }
}

choice_enum! {
    /// The person's Webex Calling licence, as far as recording cares (POL-14). A harness
    /// setting: the Webex API holds licences elsewhere (People API `licenses`).
    pub enum LicenseType: "licence type" {
        /// Webex Calling Professional: recording with any vendor. Default (A).
        Professional => "Professional",
        /// Webex Calling Standard: recording only when the vendor is Webex (POL-14).
        Standard => "Standard",
    }
}

/// The whole recording policy of one organisation, validated.
///
/// Built only by [`crate::parse`] or [`crate::load`]. Ask it about a person with
/// [`Policy::resolve`] (everything the platform needs to record their calls) or
/// [`Policy::person_by_extension`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// The name the file was loaded under (for messages and reports).
    pub origin: String,
    /// Organisation-level settings.
    pub organization: Organization,
    /// Where each vendor's recorder (SRS) listens. A harness setting, not a Webex field:
    /// Webex knows the vendor's recorder itself, the harness must be told.
    pub providers: BTreeMap<Vendor, SrsEndpoint>,
    /// The locations, in file order.
    pub locations: Vec<Location>,
    /// The people, in file order.
    pub people: Vec<Person>,
    /// Feature access codes the users dial.
    pub feature_codes: FeatureCodes,
    /// Ranges this platform profile allows.
    pub limits: Limits,
    /// The SIPREC metadata dialect the platform sends.
    pub dialect: Dialect,
}

/// Organisation-level settings (`organization:`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Organization {
    /// Display name. Webex API `organization.name`. Default: empty.
    pub name: String,
    /// Webex organisation id, if pasted. Not used by the harness.
    pub id: Option<String>,
    /// The region the organisation is hosted in (`US`, `EU`, `UK`, …). Not a field of the
    /// call-recording API; it gates CallCabinet (seed: US only). Default: not set.
    pub region: Option<String>,
    /// Recording vendor and its defaults. Webex `/telephony/config/callRecording` and
    /// `/vendor`.
    pub call_recording: OrgCallRecording,
    /// Compliance announcement to PSTN parties (POL-08). Webex
    /// `/callRecording/complianceAnnouncement`.
    pub compliance_announcement: ComplianceAnnouncement,
}

/// `organization.callRecording`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgCallRecording {
    /// Whether call recording is on for the organisation. Webex `enabled`. Default true
    /// (A: a file that names a vendor means to record; set false to switch it off).
    pub enabled: bool,
    /// The default vendor for every location that does not override it. Webex
    /// `vendorName` (also accepted under that name). Default Dubber (seed).
    pub vendor: Vendor,
    /// Where recordings are stored; applies only to the Webex vendor (Webex API).
    pub storage_region: Option<String>,
    /// What happens when the recorder fails (POL-13). Default
    /// `PROCEED_WITH_CALL_NO_ANNOUNCEMENT` (A).
    pub failure_behavior: FailureBehavior,
}

/// Compliance announcement settings (POL-08). Webex field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComplianceAnnouncement {
    /// Play it to inbound PSTN callers. Default false (A: Webex example).
    pub inbound_pstn_calls_enabled: bool,
    /// Play it to outbound PSTN callees. Default false (A: Webex example).
    pub outbound_pstn_calls_enabled: bool,
    /// On outbound PSTN calls, wait `delay_in_seconds` first. Default false.
    pub outbound_pstn_calls_delay_enabled: bool,
    /// The delay for outbound PSTN calls. Default 10 (Webex API example value).
    pub delay_in_seconds: u32,
}

impl Default for ComplianceAnnouncement {
    fn default() -> Self {
        Self {
            inbound_pstn_calls_enabled: false,
            outbound_pstn_calls_enabled: false,
            outbound_pstn_calls_delay_enabled: false,
            delay_in_seconds: 10,
        }
    }
}

/// A vendor's recorder as the harness reaches it (`providers.<Vendor>`). Not Webex data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SrsEndpoint {
    /// SIP URI the platform sends recording sessions to, e.g.
    /// `sip:recorder@127.0.0.1:5080`.
    pub srs: String,
    /// Transport to use. Default udp.
    pub transport: Transport,
}

/// A location (`locations[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The id people refer to in `person.location`. Any unique text (a Webex location id
    /// pasted, or a short name).
    pub id: String,
    /// Display name. Default: the id.
    pub name: String,
    /// Vendor settings. Webex `/telephony/config/locations/{id}/callRecording/vendor`.
    pub call_recording: LocationCallRecording,
    /// Compliance announcement. Webex `/locations/{id}/…/complianceAnnouncement`.
    pub compliance_announcement: LocationComplianceAnnouncement,
}

/// `locations[].callRecording` (POL-11, POL-13).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocationCallRecording {
    /// Inherit the organisation's vendor. Webex `orgDefaultEnabled`. Default true.
    pub org_default_enabled: bool,
    /// The overriding vendor, present exactly when `org_default_enabled` is false. Webex
    /// takes a vendor `id` here; the file takes the vendor's name.
    pub vendor: Option<Vendor>,
    /// Storage region override (Webex vendor only). Webex `storageRegion`.
    pub storage_region: Option<String>,
    /// Inherit the organisation's storage region. Webex `orgStorageRegionEnabled`. Default
    /// true.
    pub org_storage_region_enabled: bool,
    /// Failure behaviour override, used only when `org_failure_behavior_enabled` is false.
    /// Webex `failureBehavior`.
    pub failure_behavior: Option<FailureBehavior>,
    /// Inherit the organisation's failure behaviour. Webex `orgFailureBehaviorEnabled`.
    /// Default true.
    pub org_failure_behavior_enabled: bool,
}

/// `locations[].complianceAnnouncement`: the organisation's, or the location's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocationComplianceAnnouncement {
    /// Use the organisation's settings. Webex `useOrgSettingsEnabled`. Default true.
    pub use_org_settings_enabled: bool,
    /// The location's own settings, used when `use_org_settings_enabled` is false.
    pub settings: ComplianceAnnouncement,
}

/// A person (or workspace / virtual line) whose calls the harness places (`people[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Person {
    /// Webex person id, if pasted. Unique when given.
    pub id: Option<String>,
    /// The extension the harness dials and matches on. Digits only, unique.
    pub extension: String,
    /// Display name (used in From/To and metadata). Default: the extension.
    pub display_name: String,
    /// The `id` of the person's location.
    pub location: String,
    /// Licence (POL-14). Default Professional (A).
    pub license_type: LicenseType,
    /// Webex `/people/{id}/features/callRecording`, field for field.
    pub call_recording: PersonCallRecording,
}

/// A person's recording settings: the Webex person call-recording object with defaults
/// applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersonCallRecording {
    /// Recording on for this person. Webex `enabled`. Default false (A: Webex creates
    /// users with recording off; the admin turns it on).
    pub enabled: bool,
    /// When calls are recorded. Webex `record`. Default Never (seed).
    pub record: RecordMode,
    /// Voicemail messages recorded too (POL-10). Webex `recordVoicemailEnabled`. Default
    /// false.
    pub record_voicemail_enabled: bool,
    /// Webex `startStopAnnouncementEnabled` as written (default false). It applies to both
    /// call types only when `startStopAnnouncement` is absent; see
    /// [`Self::start_stop_announcement`].
    pub start_stop_announcement_enabled: bool,
    /// Start/stop announcement per call type (POL-03), after defaulting: Webex
    /// `startStopAnnouncement` if given, else both flags equal to
    /// `startStopAnnouncementEnabled` (A: the per-type object is the newer API and wins).
    pub start_stop_announcement: StartStopAnnouncement,
    /// Pause/resume notification (POL-07). Webex `notification`.
    pub notification: Notification,
    /// Periodic reminder tone (POL-06). Webex `repeat`.
    pub repeat: Repeat,
    /// BroadWorks service provider the vendor sees. Webex `serviceProvider` (read-only in
    /// Webex).
    pub service_provider: Option<String>,
    /// BroadWorks group the vendor sees. Webex `externalGroup` (read-only in Webex).
    pub external_group: Option<String>,
    /// The person's id at the vendor. Webex `externalIdentifier` (read-only in Webex).
    pub external_identifier: Option<String>,
    /// Which call directions/types are recorded. Webex `selectiveCallRecordingSettings`.
    /// Default: all (A).
    pub selective_call_recording_settings: SelectiveCallRecording,
    /// Portal access to recordings. Webex `callRecordingAccessSettings`. Accepted so a
    /// pasted GET response loads; the harness does not use it.
    pub call_recording_access_settings: Option<CallRecordingAccess>,
}

/// Webex `startStopAnnouncement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StartStopAnnouncement {
    /// Announce start and stop on internal calls. Webex `internalCallsEnabled`.
    pub internal_calls_enabled: bool,
    /// Announce start and stop on PSTN calls. Webex `pstnCallsEnabled`.
    pub pstn_calls_enabled: bool,
}

/// Webex `notification`, with the PUT default applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// Notification on. Webex `enabled`. Default false.
    pub enabled: bool,
    /// Webex `type`. Default Beep (Webex PUT rule: enabled without a type means Beep;
    /// POL-07).
    pub kind: NotificationType,
}

/// Webex `repeat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Repeat {
    /// Reminder tone on. Webex `enabled`. Default false.
    pub enabled: bool,
    /// Seconds between tones. Webex `interval`. Default 20 (seed: "by default a tone every
    /// 20 seconds"; the API's example shows 15).
    pub interval: u32,
}

/// Webex `selectiveCallRecordingSettings`: which calls are recorded by direction and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectiveCallRecording {
    /// Webex `recordInboundInternalCallsEnabled`. Default true.
    pub record_inbound_internal_calls_enabled: bool,
    /// Webex `recordInboundExternalCallsEnabled`. Default true.
    pub record_inbound_external_calls_enabled: bool,
    /// Webex `recordOutboundInternalCallsEnabled`. Default true.
    pub record_outbound_internal_calls_enabled: bool,
    /// Webex `recordOutboundExternalCallsEnabled`. Default true.
    pub record_outbound_external_calls_enabled: bool,
}

impl Default for SelectiveCallRecording {
    fn default() -> Self {
        Self {
            record_inbound_internal_calls_enabled: true,
            record_inbound_external_calls_enabled: true,
            record_outbound_internal_calls_enabled: true,
            record_outbound_external_calls_enabled: true,
        }
    }
}

/// Webex `callRecordingAccessSettings` (kept, not used by the harness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CallRecordingAccess {
    /// Webex `viewAndPlayRecordingsEnabled`. Default false.
    pub view_and_play_recordings_enabled: bool,
    /// Webex `downloadRecordingsEnabled`. Default false.
    pub download_recordings_enabled: bool,
    /// Webex `deleteRecordingsEnabled`. Default false.
    pub delete_recordings_enabled: bool,
    /// Webex `shareRecordingsEnabled`. Default false.
    pub share_recordings_enabled: bool,
}

/// Feature access codes (`featureCodes:`), dialled as DTMF (POL-02).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureCodes {
    /// Start recording. Default `*44` (Webex schema text: "recording start (`*44`)").
    pub start: String,
    /// Stop recording. Default `*45` (A: BroadWorks default, checklist POL-02).
    pub stop: String,
    /// Pause recording. Default `*48` (A: BroadWorks default).
    pub pause: String,
    /// Resume recording. Default `*49` (A: BroadWorks default).
    pub resume: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        Self {
            start: "*44".to_owned(),
            stop: "*45".to_owned(),
            pause: "*48".to_owned(),
            resume: "*49".to_owned(),
        }
    }
}

/// Ranges the platform profile allows (`limits:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Shortest `repeat.interval`, seconds. Default 10 (seed).
    pub repeat_interval_min: u32,
    /// Longest `repeat.interval`, seconds. Default 90 (seed; the newer Webex API allows up
    /// to 1800, so raise it for a profile that follows the API).
    pub repeat_interval_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            repeat_interval_min: DEFAULT_REPEAT_MIN,
            repeat_interval_max: DEFAULT_REPEAT_MAX,
        }
    }
}

/// Seed: "the interval can be set from 10 …".
pub(crate) const DEFAULT_REPEAT_MIN: u32 = 10;
/// Seed: "… to 90 seconds".
pub(crate) const DEFAULT_REPEAT_MAX: u32 = 90;
/// Seed: "by default a tone every 20 seconds".
pub(crate) const DEFAULT_REPEAT_INTERVAL: u32 = 20;
