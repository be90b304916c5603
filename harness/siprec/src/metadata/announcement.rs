#![doc = include_str!("ANNOUNCEMENT.md")]

use super::model::{DataMode, ExtensionData, Recording};
use super::time::{TimeValue, XsDateTime};
use super::xml::XmlElement;
use super::{BroadWorksRecording, Dialect};
use serde::Serialize;

/// Namespace of recproof's announcement element.
pub const ANNOUNCEMENT_NS: &str = "urn:recproof:params:xml:ns:announcement:1";
/// Local name of the element.
pub const ANNOUNCEMENT_ELEMENT: &str = "announcement";

/// The recording event an announcement was played for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncementEvent {
    /// Recording started.
    Start,
    /// Recording stopped.
    Stop,
    /// Recording paused.
    Pause,
    /// Recording resumed.
    Resume,
}

impl AnnouncementEvent {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            _ => return None,
        })
    }
}

/// Who heard an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncementTarget {
    /// Every party.
    #[default]
    Both,
    /// The calling party only.
    Caller,
    /// The called party only.
    Callee,
}

impl AnnouncementTarget {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::Caller => "caller",
            Self::Callee => "callee",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "both" => Self::Both,
            "caller" => Self::Caller,
            "callee" => Self::Callee,
            _ => return None,
        })
    }
}

/// One announcement report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// `event`.
    pub event: AnnouncementEvent,
    /// `played-at`.
    #[serde(serialize_with = "serialize_timestamp")]
    pub played_at: jiff::Timestamp,
    /// `target`.
    pub target: AnnouncementTarget,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `session_id`.
    pub session_id: Option<String>,
}

fn serialize_timestamp<S: serde::Serializer>(
    ts: &jiff::Timestamp,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(ts)
}

/// Why an element is not a valid announcement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnouncementError {
    /// Not `announcement` in [`ANNOUNCEMENT_NS`].
    #[error("element `{name}` is not `announcement` in namespace {ANNOUNCEMENT_NS}")]
    NotAnnouncement {
        /// The element's local name.
        name: String,
    },
    /// A required attribute is absent.
    #[error("announcement has no `{attribute}` attribute")]
    MissingAttribute {
        /// Its name.
        attribute: &'static str,
    },
    /// `event` is not one of the four values.
    #[error("announcement event `{value}` is not start, stop, pause or resume")]
    BadEvent {
        /// The value found.
        value: String,
    },
    /// `target` is not one of the three values.
    #[error("announcement target `{value}` is not both, caller or callee")]
    BadTarget {
        /// The value found.
        value: String,
    },
    /// `played-at` is not an RFC 3339 date-time with a time zone.
    #[error("announcement played-at `{value}` is not an RFC 3339 date-time with a time zone")]
    BadTime {
        /// The value found.
        value: String,
    },
}

impl Announcement {
    /// The element, ready to go into [`Recording::extensions`] or an
    /// [`ExtensionData::extensions`].
    pub fn to_element(&self) -> XmlElement {
        let mut el = XmlElement::new(Some(ANNOUNCEMENT_NS), ANNOUNCEMENT_ELEMENT)
            .with_attribute("event", self.event.as_str())
            .with_attribute("played-at", &self.played_at.to_string())
            .with_attribute("target", self.target.as_str());
        if let Some(p) = &self.prompt {
            el = el.with_attribute("prompt", p);
        }
        if let Some(s) = &self.session_id {
            el = el.with_attribute("session_id", s);
        }
        el
    }

    /// Reads the element. Unknown attributes and content are ignored (see the spec).
    pub fn from_element(el: &XmlElement) -> Result<Self, AnnouncementError> {
        if !el.is(ANNOUNCEMENT_NS, ANNOUNCEMENT_ELEMENT) {
            return Err(AnnouncementError::NotAnnouncement {
                name: el.name.clone(),
            });
        }
        let event_text = el
            .attribute("event")
            .ok_or(AnnouncementError::MissingAttribute { attribute: "event" })?;
        let event = AnnouncementEvent::parse(event_text.trim()).ok_or_else(|| {
            AnnouncementError::BadEvent {
                value: event_text.to_owned(),
            }
        })?;
        let time_text = el
            .attribute("played-at")
            .ok_or(AnnouncementError::MissingAttribute {
                attribute: "played-at",
            })?;
        let played_at = match XsDateTime::new(time_text.trim()).value() {
            Ok(TimeValue::Instant(ts)) => ts,
            _ => {
                return Err(AnnouncementError::BadTime {
                    value: time_text.to_owned(),
                });
            }
        };
        let target = match el.attribute("target") {
            None => AnnouncementTarget::Both,
            Some(t) => {
                AnnouncementTarget::parse(t.trim()).ok_or_else(|| AnnouncementError::BadTarget {
                    value: t.to_owned(),
                })?
            }
        };
        Ok(Self {
            event,
            played_at,
            target,
            prompt: el.attribute("prompt").map(str::to_owned),
            session_id: el.attribute("session_id").map(str::to_owned),
        })
    }
}

/// Every element in [`ANNOUNCEMENT_NS`] the document carries where the spec puts them
/// (children of the root; BroadWorks: children of `extensiondata`), read.
pub fn find_announcements(recording: &Recording) -> Vec<Result<Announcement, AnnouncementError>> {
    let bw = recording
        .broadworks
        .iter()
        .flat_map(|b| b.extension_data.iter())
        .flat_map(|e| e.extensions.iter());
    recording
        .extensions
        .iter()
        .chain(bw)
        .filter(|e| e.namespace.as_deref() == Some(ANNOUNCEMENT_NS))
        .map(Announcement::from_element)
        .collect()
}

/// The metadata update that reports `announcement` (see the spec above).
///
/// RFC 7865: a `partial` document holding only the element (`current` is not used).
/// BroadWorks: `current` plus an `extensiondata` with ID `extension_id`, whose parent is
/// the announcement's `session_id` or else the first session's ID.
pub fn announcement_update(
    dialect: Dialect,
    current: &Recording,
    announcement: &Announcement,
    extension_id: &str,
) -> Recording {
    match dialect {
        Dialect::Rfc7865 => Recording {
            datamode: Some(DataMode::Partial),
            extensions: vec![announcement.to_element()],
            ..Recording::default()
        },
        Dialect::BroadWorks => {
            let mut update = current.clone();
            let parent = announcement
                .session_id
                .clone()
                .or_else(|| current.sessions.first().and_then(|s| s.id.clone()));
            update
                .broadworks
                .get_or_insert_with(BroadWorksRecording::default)
                .extension_data
                .push(ExtensionData {
                    id: Some(extension_id.to_owned()),
                    parent,
                    call: None,
                    extensions: vec![announcement.to_element()],
                });
            update
        }
    }
}
