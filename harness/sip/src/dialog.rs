//! RFC 3261 §12 dialogs: identity, sequence numbers, route set, remote target, and the
//! construction and admission of in-dialog requests.
//!
//! A [`Dialog`] is plain state plus pure functions. It is created from the INVITE and
//! its response (UAC, §12.1.2) or from the INVITE when the UAS answers (§12.1.1); it
//! builds in-dialog requests ([`Dialog::request`], [`Dialog::ack`]) with the right
//! Request-URI, Route set, From/To tags and CSeq (§12.2.1.1), and judges incoming ones
//! ([`Dialog::accept_request`], §12.2.2). It decides what a violation *means*
//! ([`RequestCheck::suggested_status`]) but sends nothing: the TU (normally
//! [`crate::endpoint::Endpoint`]) decides whether to answer 481/500 or, in a fault
//! profile, something else. It knows nothing of transports, branches or timers: the
//! caller passes the Via value to use.
//!
//! From and To are kept as the header values that were exchanged (display name, URI
//! parameters and tag as the peer wrote them), so requests quote the peer exactly.
//!
//! Deviations (RFC text first):
//! - §12.2.2: "When a UAS receives a target refresh request, it MUST replace the
//!   dialog's remote target URI with the URI from the Contact header field in that
//!   request". We follow RFC 6141 §3.3 instead: the target changes only when the
//!   re-INVITE/UPDATE succeeds (the caller calls [`Dialog::refresh_target`] then).
//! - The `secure` flag follows the `sips:` scheme of the Request-URI only; we have no
//!   TLS transport to check.

use crate::message::{HeaderError, MessageBuilder, Method, SipMessage, Uri};
use std::fmt;

/// Which side created the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the INVITE.
    Uac,
    /// We received the INVITE.
    Uas,
}

/// Early (from a 1xx with a To tag) or confirmed (from a 2xx), §12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional response; may still fail.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// The dialog identifier (§12): Call-ID plus local and remote tag, from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (empty for an RFC 2543 peer that sent none).
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an incoming request claims to belong to: local tag from To, remote
    /// tag from From (§12.2.2). `None` when there is no To tag (not in a dialog) or the
    /// headers are unreadable.
    pub fn of_incoming_request(request: &SipMessage) -> Option<Self> {
        let local_tag = request.to_header().ok()?.tag()?.to_owned();
        let remote_tag = request
            .from_header()
            .ok()?
            .tag()
            .unwrap_or_default()
            .to_owned();
        Some(Self {
            call_id: request.call_id().ok()?.to_owned(),
            local_tag,
            remote_tag,
        })
    }

    /// The dialog an incoming response belongs to (UAC side): local tag from From,
    /// remote tag from To. `None` when the response has no To tag.
    pub fn of_incoming_response(response: &SipMessage) -> Option<Self> {
        let remote_tag = response.to_header().ok()?.tag()?.to_owned();
        let local_tag = response.from_header().ok()?.tag()?.to_owned();
        Some(Self {
            call_id: response.call_id().ok()?.to_owned(),
            local_tag,
            remote_tag,
        })
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local-tag={};remote-tag={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}

/// One entry of the route set, kept as the peer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// The Record-Route value as received (`<sip:p1.example.net;lr>`), used verbatim as
    /// a Route value.
    pub text: String,
    /// Its URI.
    pub uri: Uri,
}

impl RouteEntry {
    /// True for a loose router (`;lr`, §16.12.1.1), false for a strict (RFC 2543) one.
    pub fn is_loose(&self) -> bool {
        self.uri.has_param("lr")
    }
}

/// What the TU should do with an incoming request that claims a dialog, or with a
/// CANCEL (§9.2, §12.2.2, §14.2). The dialog layer and the endpoint decide; the TU
/// sends the response (or, in a fault profile, does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestCheck {
    /// The request is acceptable; the remote CSeq was updated.
    Accept,
    /// No dialog matches the Call-ID and tags: 481 (§12.2.2).
    UnknownDialog,
    /// CSeq lower than the remote sequence number: 500 (§12.2.2).
    CSeqOutOfOrder {
        /// The CSeq number in the request.
        received: u32,
        /// The dialog's remote sequence number.
        remote: u32,
    },
    /// A re-INVITE while the previous INVITE from the peer is unanswered: 500 with
    /// Retry-After (§14.2).
    InviteInProgress,
    /// A re-INVITE while our own re-INVITE is pending (glare): 491 (§14.2).
    Glare,
    /// A CANCEL that matches no INVITE transaction: 481 (§9.2).
    NoMatchingInvite,
    /// A new INVITE from a peer that already has this many calls open: 503 (§21.5.4), a
    /// resource bound ([`crate::endpoint::EndpointConfig::max_calls_per_peer`]).
    TooManyCalls {
        /// The peer's open calls.
        open: usize,
    },
}

impl RequestCheck {
    /// What the peer did wrong, in words with the rule, or `None` for
    /// [`RequestCheck::Accept`].
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Accept => None,
            Self::UnknownDialog => Some(
                "the request matches no dialog (Call-ID and tags): 481 (RFC 3261 §12.2.2)"
                    .to_owned(),
            ),
            Self::CSeqOutOfOrder { received, remote } => Some(format!(
                "CSeq {received} is lower than the dialog's remote CSeq {remote}: 500 (RFC 3261 §12.2.2)"
            )),
            Self::InviteInProgress => Some(
                "a re-INVITE arrived while the peer's previous INVITE is unanswered: 500 (RFC 3261 §14.2)"
                    .to_owned(),
            ),
            Self::Glare => Some(
                "a re-INVITE arrived while ours is pending (glare): 491 (RFC 3261 §14.2)"
                    .to_owned(),
            ),
            Self::NoMatchingInvite => Some(
                "a CANCEL matches no INVITE transaction: 481 (RFC 3261 §9.2)".to_owned(),
            ),
            Self::TooManyCalls { open } => Some(format!(
                "a new INVITE from a peer that already has {open} calls open (the bound per peer): 503"
            )),
        }
    }

    /// The response the RFC prescribes, or `None` for [`RequestCheck::Accept`].
    pub fn suggested_status(&self) -> Option<u16> {
        match self {
            Self::Accept => None,
            Self::UnknownDialog | Self::NoMatchingInvite => Some(481),
            Self::CSeqOutOfOrder { .. } | Self::InviteInProgress => Some(500),
            Self::Glare => Some(491),
            Self::TooManyCalls { .. } => Some(503),
        }
    }
}

/// Why a dialog could not be created or refreshed from a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header needed for the dialog is missing or malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The response cannot create a dialog (100, or 300-699).
    #[error("a {0} response does not create a dialog (RFC 3261 §12.1)")]
    NotDialogCreating(u16),
    /// A provisional response without a To tag creates no early dialog (§12.1).
    #[error("provisional response has no To tag, so it creates no early dialog")]
    NoToTagOnProvisional,
    /// Our own request has no From tag (§8.1.1.3 says it MUST).
    #[error("request has no From tag (RFC 3261 §8.1.1.3)")]
    NoFromTag,
    /// The message is not the kind expected.
    #[error("expected a {0}")]
    WrongMessage(&'static str),
    /// The response belongs to another dialog (different Call-ID or tags).
    #[error("response belongs to dialog {got}, not {expected}")]
    OtherDialog {
        /// This dialog.
        expected: Box<DialogId>,
        /// The response's.
        got: Box<DialogId>,
    },
}

/// An RFC 3261 dialog (§12), from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    state: DialogState,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    /// From value for our requests (local URI with our tag).
    local_party: String,
    /// To value for our requests (remote URI with the peer's tag).
    remote_party: String,
    remote_target: Uri,
    route_set: Vec<RouteEntry>,
    secure: bool,
}

fn route_set_of(msg: &SipMessage) -> Result<Vec<RouteEntry>, DialogError> {
    let uris = msg.record_route()?;
    let texts = msg.header_list("Record-Route");
    Ok(texts
        .into_iter()
        .zip(uris)
        .map(|(text, na)| RouteEntry { text, uri: na.uri })
        .collect())
}

fn first_value(msg: &SipMessage, name: &'static str) -> Result<String, DialogError> {
    Ok(msg
        .header_value(name)
        .ok_or(HeaderError::Missing(name))?
        .to_owned())
}

fn is_sips(msg: &SipMessage) -> bool {
    // `get` rather than slicing: a peer's URI may have a multi-byte character there.
    msg.request_uri()
        .and_then(|u| u.get(..5))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("sips:"))
}

impl Dialog {
    /// UAC side (§12.1.2): the dialog created by `response` (101-199 with a To tag →
    /// early; 2xx → confirmed) to our `request`. Route set = Record-Route of the
    /// response, reversed; remote target = its Contact; local CSeq = the request's.
    pub fn uac(request: &SipMessage, response: &SipMessage) -> Result<Self, DialogError> {
        let code = response
            .status()
            .ok_or(DialogError::WrongMessage("response"))?;
        let state = match code {
            101..=199 => DialogState::Early,
            200..=299 => DialogState::Confirmed,
            other => return Err(DialogError::NotDialogCreating(other)),
        };
        let to = response.to_header()?;
        let remote_tag = match (to.tag(), state) {
            (Some(t), _) => t.to_owned(),
            (None, DialogState::Early) => return Err(DialogError::NoToTagOnProvisional),
            // §12.1.2: an RFC 2543 peer may omit it; the remote tag is then null.
            (None, DialogState::Confirmed) => String::new(),
        };
        let local_tag = request
            .from_header()?
            .tag()
            .ok_or(DialogError::NoFromTag)?
            .to_owned();
        let mut route_set = route_set_of(response)?;
        route_set.reverse();
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag,
                remote_tag,
            },
            role: Role::Uac,
            state,
            local_seq: Some(request.cseq()?.seq),
            remote_seq: None,
            local_party: first_value(request, "From")?,
            remote_party: first_value(response, "To")?,
            remote_target: response.contact()?.uri,
            route_set,
            secure: is_sips(request),
        })
    }

    /// UAS side (§12.1.1): the dialog we create by answering `request` with a 2xx
    /// (`state` Confirmed) or a 101-199 (Early) carrying `local_tag`. Route set =
    /// Record-Route of the request, in order; remote target = its Contact; remote CSeq =
    /// its CSeq; local CSeq empty.
    pub fn uas(
        request: &SipMessage,
        local_tag: &str,
        state: DialogState,
    ) -> Result<Self, DialogError> {
        if !request.is_request() {
            return Err(DialogError::WrongMessage("request"));
        }
        let from = request.from_header()?;
        let to_value = first_value(request, "To")?;
        let local_party = match request.to_header()?.tag() {
            Some(_) => to_value,
            None => format!("{to_value};tag={local_tag}"),
        };
        Ok(Self {
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: from.tag().unwrap_or_default().to_owned(),
            },
            role: Role::Uas,
            state,
            local_seq: None,
            remote_seq: Some(request.cseq()?.seq),
            local_party,
            remote_party: first_value(request, "From")?,
            remote_target: request.contact()?.uri,
            route_set: route_set_of(request)?,
            secure: is_sips(request),
        })
    }

    /// UAC: an early dialog becomes confirmed by a 2xx with the same tags; the route
    /// set and remote target are recomputed from it (§13.2.2.4).
    pub fn confirm(&mut self, response: &SipMessage) -> Result<(), DialogError> {
        let got = DialogId::of_incoming_response(response)
            .ok_or(DialogError::WrongMessage("response with To and From tags"))?;
        if got != self.id {
            return Err(DialogError::OtherDialog {
                expected: Box::new(self.id.clone()),
                got: Box::new(got),
            });
        }
        if !response.status().is_some_and(|c| (200..300).contains(&c)) {
            return Err(DialogError::WrongMessage("2xx response"));
        }
        let mut route_set = route_set_of(response)?;
        route_set.reverse();
        self.remote_target = response.contact()?.uri;
        self.route_set = route_set;
        self.remote_party = first_value(response, "To")?;
        self.state = DialogState::Confirmed;
        Ok(())
    }

    /// UAS: the 2xx for an early dialog was sent.
    pub fn confirm_uas(&mut self) {
        self.state = DialogState::Confirmed;
    }

    /// Target refresh (§12.2, RFC 6141): replaces the remote target with the Contact of
    /// `msg` (the 2xx to our re-INVITE/UPDATE, or the peer's re-INVITE/UPDATE we
    /// accepted). Returns whether it changed; a message without Contact leaves it as is.
    pub fn refresh_target(&mut self, msg: &SipMessage) -> Result<bool, DialogError> {
        if msg.header("Contact").is_none() {
            return Ok(false);
        }
        let uri = msg.contact()?.uri;
        let changed = uri != self.remote_target;
        self.remote_target = uri;
        Ok(changed)
    }

    /// Builds the next in-dialog request (§12.2.1.1): Request-URI and Route from the
    /// remote target and route set (loose or strict routing), To/From with tags,
    /// Call-ID, `via` as the single Via, Max-Forwards 70, and the next local CSeq
    /// (ACK and CANCEL reuse the current one and do not advance it). `contact` is
    /// added when given: §12.2.1.1 says target refresh requests (re-INVITE, UPDATE)
    /// SHOULD carry it.
    pub fn request(&mut self, method: &Method, via: &str, contact: Option<&str>) -> MessageBuilder {
        let seq = match method {
            Method::Ack | Method::Cancel => self.local_seq.unwrap_or(1),
            _ => self.next_local_seq(),
        };
        self.build(method, seq, via, contact)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): built like any
    /// in-dialog request, with the INVITE's sequence number and method ACK.
    pub fn ack(&self, invite_seq: u32, via: &str) -> MessageBuilder {
        self.build(&Method::Ack, invite_seq, via, None)
    }

    fn next_local_seq(&mut self) -> u32 {
        // §12.2.1.1: increment by one; a UAS that has sent nothing yet starts anywhere
        // (we start at 1 so runs are reproducible). CSeq must stay below 2^31 (§8.1.1.5).
        let next = self
            .local_seq
            .map_or(1, |s| s.saturating_add(1).min((1 << 31) - 1));
        self.local_seq = Some(next);
        next
    }

    fn build(&self, method: &Method, seq: u32, via: &str, contact: Option<&str>) -> MessageBuilder {
        let (request_uri, routes) = self.request_uri_and_routes();
        let mut b = MessageBuilder::request(method, &request_uri).header("Via", via);
        for r in &routes {
            b = b.header("Route", r);
        }
        b = b
            .header("Max-Forwards", "70")
            .header("From", &self.local_party)
            .header("To", &self.remote_party)
            .header("Call-ID", &self.id.call_id)
            .header("CSeq", &format!("{seq} {method}"));
        if let Some(c) = contact {
            b = b.header("Contact", c);
        }
        b
    }

    /// The Request-URI and Route values for the next request (§12.2.1.1): no route set →
    /// remote target, no Route; loose first hop → remote target, Route = route set;
    /// strict first hop → its URI as Request-URI, Route = the rest plus the remote target.
    pub fn request_uri_and_routes(&self) -> (String, Vec<String>) {
        match self.route_set.split_first() {
            None => (self.remote_target.text.clone(), Vec::new()),
            Some((first, _)) if first.is_loose() => (
                self.remote_target.text.clone(),
                self.route_set.iter().map(|r| r.text.clone()).collect(),
            ),
            Some((first, rest)) => {
                let mut routes: Vec<String> = rest.iter().map(|r| r.text.clone()).collect();
                routes.push(format!("<{}>", self.remote_target.text));
                (first.uri.text.clone(), routes)
            }
        }
    }

    /// Where the next request goes first (§8.1.2): the first route's URI, or the remote
    /// target when the route set is empty.
    pub fn next_hop(&self) -> &Uri {
        self.route_set
            .first()
            .map_or(&self.remote_target, |r| &r.uri)
    }

    /// True when `request` carries this dialog's Call-ID and tags (§12.2.2).
    pub fn matches_request(&self, request: &SipMessage) -> bool {
        DialogId::of_incoming_request(request).as_ref() == Some(&self.id)
    }

    /// Judges an incoming in-dialog request without changing anything (§12.2.2):
    /// unknown dialog → 481, CSeq lower than the remote sequence number → 500.
    /// ACK and CANCEL are not sequence-checked (they reuse an earlier CSeq).
    pub fn check_request(&self, request: &SipMessage) -> RequestCheck {
        if !self.matches_request(request) {
            return RequestCheck::UnknownDialog;
        }
        let method = request.method();
        if matches!(method, Some(Method::Ack | Method::Cancel)) {
            return RequestCheck::Accept;
        }
        match (request.cseq(), self.remote_seq) {
            (Ok(c), Some(remote)) if c.seq < remote => RequestCheck::CSeqOutOfOrder {
                received: c.seq,
                remote,
            },
            _ => RequestCheck::Accept,
        }
    }

    /// [`check_request`](Self::check_request), then, when accepted, records the
    /// request's CSeq as the remote sequence number (§12.2.2).
    pub fn accept_request(&mut self, request: &SipMessage) -> RequestCheck {
        let check = self.check_request(request);
        if check == RequestCheck::Accept
            && !matches!(request.method(), Some(Method::Ack | Method::Cancel))
            && let Ok(c) = request.cseq()
        {
            self.remote_seq = Some(c.seq);
        }
        check
    }

    /// The dialog identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Who created it.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The last CSeq number we used, if any.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The last CSeq number the peer used, if any.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// The From value of our requests (local URI and tag).
    pub fn local_party(&self) -> &str {
        &self.local_party
    }

    /// The To value of our requests (remote URI and tag).
    pub fn remote_party(&self) -> &str {
        &self.remote_party
    }

    /// The remote target (the peer's Contact URI).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set, in the order requests traverse it.
    pub fn route_set(&self) -> &[RouteEntry] {
        &self.route_set
    }

    /// Whether the dialog was set up over `sips:`.
    pub fn secure(&self) -> bool {
        self.secure
    }
}
