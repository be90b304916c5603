//! Legal variants: the reference platform making other choices that the RFCs and the
//! Webex behaviour allow, the way platforms nobody here wrote do.
//!
//! Every check must be true on a SUT that labels its streams differently, writes its
//! times with offsets, sends recording sessions from another port, pauses another way,
//! or offers no start/stop announcement. Each variant is such a choice (several of them
//! seen on real SIPREC clients: OpenSIPS's `siprec` module labels its streams `1` and
//! `0`, and writes `+00:00`-style offsets); the suite's self-test requires every scenario
//! that runs against a variant to pass.
//!
//! This module owns the catalogue (names, descriptions); what a variant changes is data
//! in [`crate::behaviour::Behaviour`].

/// One legal way of doing things differently. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// Stream labels `1` (the caller) and `0` (the callee).
    LabelsOneZero,
    /// Stream labels `a` (the caller) and `b` (the callee).
    LabelsAB,
    /// Metadata times with a `+00:00` offset instead of `Z`.
    OffsetTimes,
    /// The SRC user agent on a second SIP port (the next one up), so recording sessions
    /// come from another address than the calls.
    SeparateSrcPort,
    /// Pause by stopping RTP, with no re-INVITE.
    PauseByStoppingRtp,
    /// Pause by re-INVITE with `c=IN IP4 0.0.0.0` (BroadWorks' sample).
    PauseByHold0000,
    /// No start/stop announcement is offered at all (the policy setting is ignored, as
    /// on a platform without the feature).
    NoStartStopAnnouncement,
}

impl Variant {
    /// Every variant, in catalogue order.
    pub const ALL: &'static [Variant] = &[
        Self::LabelsOneZero,
        Self::LabelsAB,
        Self::OffsetTimes,
        Self::SeparateSrcPort,
        Self::PauseByStoppingRtp,
        Self::PauseByHold0000,
        Self::NoStartStopAnnouncement,
    ];

    /// The CLI name (`--variant NAME`), kebab-case.
    pub fn name(self) -> &'static str {
        match self {
            Self::LabelsOneZero => "labels-1-0",
            Self::LabelsAB => "labels-a-b",
            Self::OffsetTimes => "offset-times",
            Self::SeparateSrcPort => "separate-src-port",
            Self::PauseByStoppingRtp => "pause-by-stopping-rtp",
            Self::PauseByHold0000 => "pause-by-hold-0000",
            Self::NoStartStopAnnouncement => "no-start-stop-announcement",
        }
    }

    /// One line saying what changes.
    pub fn description(self) -> &'static str {
        match self {
            Self::LabelsOneZero => "stream labels 1 (caller) and 0 (callee), as OpenSIPS sends",
            Self::LabelsAB => "stream labels a (caller) and b (callee)",
            Self::OffsetTimes => "metadata times written with a +00:00 offset instead of Z",
            Self::SeparateSrcPort => "recording sessions sent from a second SIP port",
            Self::PauseByStoppingRtp => "pause stops RTP without a re-INVITE",
            Self::PauseByHold0000 => "pause by re-INVITE with c=0.0.0.0",
            Self::NoStartStopAnnouncement => "no start/stop announcement offered",
        }
    }

    /// The variant with this CLI name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
