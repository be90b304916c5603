//! Answering "what happens when this extension calls or is called": the effective
//! settings for one person, with organisation → location → person precedence applied.
//!
//! Owns the precedence rules (POL-11 vendor, POL-12 None, POL-13 failure behaviour,
//! POL-08 compliance announcement) and the per-call decisions (is this call recorded,
//! which announcements play). It reads a validated [`Policy`] and never fails on one;
//! it must not re-validate or report positions.

use crate::error::UnknownPerson;
use crate::model::{
    ComplianceAnnouncement, FailureBehavior, Location, NotificationType, Person, Policy,
    RecordMode, SelectiveCallRecording, SrsEndpoint, StartStopAnnouncement, Vendor,
};
use crate::validate::{closest, effective_vendor};

/// Which way a call goes, seen from the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The person is called.
    Inbound,
    /// The person calls.
    Outbound,
}

/// Who is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Another user of the same organisation ("internal" in the Webex fields).
    Internal,
    /// The public network ("PSTN" / "external" in the Webex fields; the harness treats
    /// the two words as the same thing).
    Pstn,
}

/// A call as the policy cares about it: direction and reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallType {
    /// Inbound or outbound, from the person's side.
    pub direction: Direction,
    /// Internal or PSTN.
    pub reach: Reach,
}

impl CallType {
    /// An internal call in `direction`.
    #[must_use]
    pub fn internal(direction: Direction) -> Self {
        Self {
            direction,
            reach: Reach::Internal,
        }
    }

    /// A PSTN call in `direction`.
    #[must_use]
    pub fn pstn(direction: Direction) -> Self {
        Self {
            direction,
            reach: Reach::Pstn,
        }
    }
}

/// Where a setting came from, for evidence in reports ("recorded by Imagicle because
/// location `oslo` overrides the organisation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The organisation's setting.
    Organization,
    /// The location's override.
    Location,
}

/// Why a person's calls are not recorded, most general reason first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotRecorded {
    /// `organization.callRecording.enabled` is false.
    OrganizationDisabled,
    /// The organisation's vendor is None. The seed says this removes recording "for every
    /// user", so it wins even over a location that names a vendor (POL-12).
    OrganizationVendorNone,
    /// The person's location overrides the vendor with None (POL-12).
    LocationVendorNone,
    /// The person's `callRecording.enabled` is false.
    PersonDisabled,
    /// The person's `record` is Never.
    ModeNever,
    /// The vendor has no `providers` entry. Cannot happen for a policy from
    /// [`crate::parse`] or [`crate::load`], which reject that; kept so that resolution
    /// never panics.
    NoRecorderConfigured,
}

/// The recording settings in force for a recorded person.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveRecording {
    /// Where the recording sessions go: the effective vendor's recorder.
    pub srs: SrsEndpoint,
    /// When recording happens and what the user controls (never `Never`).
    pub mode: RecordMode,
    /// Start/stop announcement per call type (POL-03).
    pub start_stop_announcement: StartStopAnnouncement,
    /// What plays at pause and resume, if anything (POL-07): `None` when the notification
    /// is disabled or its type is None.
    pub notification: Option<NotificationType>,
    /// Seconds between reminder tones, if the tone is on (POL-06).
    pub repeat_interval: Option<u32>,
    /// Voicemail messages recorded too (POL-10).
    pub record_voicemail: bool,
    /// What happens if the recorder fails (POL-13).
    pub failure_behavior: FailureBehavior,
    /// Whether `failure_behavior` is the organisation's or the location's.
    pub failure_behavior_from: Level,
    /// The compliance announcement in force (the location's or the organisation's,
    /// POL-08).
    pub compliance_announcement: ComplianceAnnouncement,
    /// Which call directions and types are recorded.
    pub selective: SelectiveCallRecording,
    /// Effective storage region (meaningful for the Webex vendor only).
    pub storage_region: Option<String>,
}

/// Whether a person is recorded, and with what settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// Recorded (subject to [`ResolvedUser::records`] per call).
    On(Box<ActiveRecording>),
    /// Never recorded, and why.
    Off(NotRecorded),
}

/// The platform identity the vendor sees for a person (copied into the vendor's portal;
/// external type "BroadWorks", seed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PlatformIdentity {
    /// Webex `serviceProvider`.
    pub service_provider: Option<String>,
    /// Webex `externalGroup`.
    pub external_group: Option<String>,
    /// Webex `externalIdentifier`.
    pub external_identifier: Option<String>,
}

/// Everything the platform and the checks need to know about one person's recording.
///
/// Returned by [`Policy::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedUser {
    /// The person's extension.
    pub extension: String,
    /// The person's display name.
    pub display_name: String,
    /// The person's location id.
    pub location: String,
    /// The effective vendor (location override, else organisation default, POL-11). May
    /// be [`Vendor::None`].
    pub vendor: Vendor,
    /// Whether `vendor` comes from the organisation or the location.
    pub vendor_from: Level,
    /// Platform identity for metadata and the vendor's portal.
    pub identity: PlatformIdentity,
    /// Recorded or not, with the settings in force.
    pub recording: Recording,
}

/// What the parties hear about recording on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AnnouncementPlan {
    /// The start/stop announcement plays (POL-03), when recording starts and stops.
    pub start_stop: bool,
    /// The compliance announcement plays to the PSTN party (POL-08); the value is the
    /// delay before it in seconds (0 = at once).
    pub compliance_delay: Option<u32>,
}

impl ResolvedUser {
    /// The active settings, if the person is recorded at all.
    #[must_use]
    pub fn active(&self) -> Option<&ActiveRecording> {
        match &self.recording {
            Recording::On(a) => Some(a),
            Recording::Off(_) => None,
        }
    }

    /// Whether calls of this type may be recorded: the person is recorded and
    /// `selectiveCallRecordingSettings` allows this direction and reach. For On Demand
    /// users "may" means "once they start it".
    #[must_use]
    pub fn records(&self, call: CallType) -> bool {
        let Some(a) = self.active() else { return false };
        let s = &a.selective;
        match (call.direction, call.reach) {
            (Direction::Inbound, Reach::Internal) => s.record_inbound_internal_calls_enabled,
            (Direction::Inbound, Reach::Pstn) => s.record_inbound_external_calls_enabled,
            (Direction::Outbound, Reach::Internal) => s.record_outbound_internal_calls_enabled,
            (Direction::Outbound, Reach::Pstn) => s.record_outbound_external_calls_enabled,
        }
    }

    /// Which announcements apply to a call of this type.
    ///
    /// Nothing plays on an unrecorded call. On a PSTN call the compliance announcement
    /// plays when enabled for that direction (outbound with its delay if the delay is
    /// on), and then the start/stop announcement is suppressed (POL-08). Otherwise the
    /// start/stop announcement follows the person's internal or PSTN flag (POL-03).
    #[must_use]
    pub fn announcements(&self, call: CallType) -> AnnouncementPlan {
        let Some(a) = self.active() else {
            return AnnouncementPlan::default();
        };
        if !self.records(call) {
            return AnnouncementPlan::default();
        }
        let c = &a.compliance_announcement;
        let compliance_delay = match (call.reach, call.direction) {
            (Reach::Internal, _) => None,
            (Reach::Pstn, Direction::Inbound) => c.inbound_pstn_calls_enabled.then_some(0),
            (Reach::Pstn, Direction::Outbound) => {
                c.outbound_pstn_calls_enabled
                    .then_some(if c.outbound_pstn_calls_delay_enabled {
                        c.delay_in_seconds
                    } else {
                        0
                    })
            }
        };
        let start_stop = compliance_delay.is_none()
            && match call.reach {
                Reach::Internal => a.start_stop_announcement.internal_calls_enabled,
                Reach::Pstn => a.start_stop_announcement.pstn_calls_enabled,
            };
        AnnouncementPlan {
            start_stop,
            compliance_delay,
        }
    }
}

impl Policy {
    /// The person with this extension, if any.
    #[must_use]
    pub fn person_by_extension(&self, extension: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.extension == extension)
    }

    /// The person with this extension, or an error that lists the known extensions: for
    /// scenarios and call plans that name people.
    ///
    /// # Errors
    /// [`UnknownPerson`] when no person has this extension.
    pub fn require_person(&self, extension: &str) -> Result<&Person, UnknownPerson> {
        self.person_by_extension(extension).ok_or_else(|| {
            let known: Vec<String> = self.people.iter().map(|p| p.extension.clone()).collect();
            UnknownPerson {
                extension: extension.to_owned(),
                origin: self.origin.clone(),
                suggestion: closest(extension, known.iter().map(String::as_str)).map(str::to_owned),
                known,
            }
        })
    }

    /// The location with this id, if any.
    #[must_use]
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// Everything about one person's recording, with precedence applied; `None` if no
    /// person has this extension.
    #[must_use]
    pub fn resolve(&self, extension: &str) -> Option<ResolvedUser> {
        let person = self.person_by_extension(extension)?;
        let location = self.location(&person.location)?;
        let org = &self.organization;
        let lcr = &location.call_recording;

        let vendor = effective_vendor(org, location);
        let vendor_from = if !lcr.org_default_enabled && lcr.vendor.is_some() {
            Level::Location
        } else {
            Level::Organization
        };
        let pcr = &person.call_recording;
        let off = if !org.call_recording.enabled {
            Some(NotRecorded::OrganizationDisabled)
        } else if org.call_recording.vendor == Vendor::None {
            Some(NotRecorded::OrganizationVendorNone)
        } else if vendor == Vendor::None {
            Some(NotRecorded::LocationVendorNone)
        } else if !pcr.enabled {
            Some(NotRecorded::PersonDisabled)
        } else if pcr.record == RecordMode::Never {
            Some(NotRecorded::ModeNever)
        } else {
            None
        };

        let recording = match (off, self.providers.get(&vendor)) {
            (Some(reason), _) => Recording::Off(reason),
            (None, None) => Recording::Off(NotRecorded::NoRecorderConfigured),
            (None, Some(srs)) => {
                let (failure_behavior, failure_behavior_from) =
                    match (lcr.org_failure_behavior_enabled, lcr.failure_behavior) {
                        (false, Some(f)) => (f, Level::Location),
                        _ => (org.call_recording.failure_behavior, Level::Organization),
                    };
                let lca = &location.compliance_announcement;
                let compliance_announcement = if lca.use_org_settings_enabled {
                    org.compliance_announcement
                } else {
                    lca.settings
                };
                let storage_region = if !lcr.org_storage_region_enabled {
                    lcr.storage_region.clone()
                } else {
                    org.call_recording.storage_region.clone()
                };
                let n = &pcr.notification;
                Recording::On(Box::new(ActiveRecording {
                    srs: srs.clone(),
                    mode: pcr.record,
                    start_stop_announcement: pcr.start_stop_announcement,
                    notification: (n.enabled && n.kind != NotificationType::None).then_some(n.kind),
                    repeat_interval: pcr.repeat.enabled.then_some(pcr.repeat.interval),
                    record_voicemail: pcr.record_voicemail_enabled,
                    failure_behavior,
                    failure_behavior_from,
                    compliance_announcement,
                    selective: pcr.selective_call_recording_settings,
                    storage_region,
                }))
            }
        };

        Some(ResolvedUser {
            extension: person.extension.clone(),
            display_name: person.display_name.clone(),
            location: location.id.clone(),
            vendor,
            vendor_from,
            identity: PlatformIdentity {
                service_provider: pcr.service_provider.clone(),
                external_group: pcr.external_group.clone(),
                external_identifier: pcr.external_identifier.clone(),
            },
            recording,
        })
    }
}
