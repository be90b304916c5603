//! A sans-IO SIP user agent core: transactions plus dialogs, driven by the harness roles
//! (caller UA, callee UA, SRS emulator, the reference platform acting as SRC).
//!
//! # What this owns
//!
//! [`Endpoint`] owns one [`Transactions`] table, the calls and their [`Dialog`]s, the
//! TU-level timers of RFC 3261 (2xx retransmission until ACK, §13.3.1.4; the CANCEL
//! give-up of §9.1) and a seeded RNG for branches, tags and Call-IDs. It parses bytes
//! (through [`crate::message`]), builds every request and response it sends, ACKs 2xx
//! responses (unless [`EndpointConfig::auto_ack_2xx`] is off) and retransmits its own
//! 2xx. It never decides how to answer a request: every incoming request, including a
//! BYE, a CANCEL or a request for an unknown dialog, is reported as
//! [`EndpointEvent::IncomingRequest`] with a [`RequestCheck`] saying what the RFC
//! expects, and waits for [`Endpoint::answer`]. That is what lets the SRS emulator
//! answer 200, 415 or 488 as its profile says, and a fault profile answer wrongly.
//!
//! It must not touch sockets, clocks or threads, and it does not judge the peer: it
//! reports, the checks judge.
//!
//! # Driving it (the single-mutation rule)
//!
//! Make one change (a `handle_*` input or a command), then drain
//! [`poll_transmit`](Endpoint::poll_transmit) and [`poll_event`](Endpoint::poll_event)
//! until both return `None`, then read [`poll_timeout`](Endpoint::poll_timeout) and
//! sleep until then (or until a datagram arrives). On wake-up call
//! [`handle_timeout`](Endpoint::handle_timeout) with the current time; an early or
//! spurious call does nothing. Transmits must be sent in the order returned.
//!
//! **Observation.** Nothing is sent except through `poll_transmit`, and nothing is read
//! except what the driver passes to `handle_datagram`, so a driver that logs both sees
//! every message on the wire, retransmissions and automatic ACKs included. Bytes that do
//! not parse are also reported as [`EndpointEvent::Malformed`].
//!
//! ```
//! use recproof_sip::endpoint::{Endpoint, EndpointConfig, EndpointEvent, Extra};
//! use recproof_sip::time::Time;
//! use recproof_sip::transaction::{PeerAddr, Transport};
//!
//! let mut src = Endpoint::new(EndpointConfig::new(
//!     "192.0.2.1:5060".parse().unwrap(), "sip:src@192.0.2.1:5060", 7));
//! let srs = PeerAddr::new("192.0.2.9:5060".parse().unwrap(), Transport::Udp);
//! let call = src.invite(Time::ZERO, "sip:srs@192.0.2.9", srs, Extra::new()).unwrap();
//! let first = src.poll_transmit().unwrap();
//! assert!(first.bytes.starts_with(b"INVITE sip:srs@192.0.2.9 SIP/2.0\r\n"));
//! // Nobody answers: the driver sleeps until poll_timeout and retransmits...
//! let mut sends = 1;
//! while let Some(at) = src.poll_timeout() {
//!     src.handle_timeout(at);
//!     while src.poll_transmit().is_some() { sends += 1; }
//! }
//! assert_eq!(sends, 7); // Timer A: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
//! let events: Vec<_> = std::iter::from_fn(|| src.poll_event()).collect();
//! assert!(events.iter().any(|e| matches!(e,
//!     EndpointEvent::DialogTerminated { call: c, .. } if *c == call)));
//! ```
//!
//! # Deviations and choices (RFC text first)
//!
//! - §13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds without
//!   receiving an ACK, the dialog is confirmed, but the session SHOULD be terminated.
//!   This is accomplished with a BYE". We report [`EndpointEvent::AckTimeout`] and leave
//!   the BYE to the TU, so a profile can choose.
//! - §8.1.2 sends a request to the first Route or the remote target, resolved per RFC
//!   3263. We resolve only IP literals (no DNS in a sans-IO core); a host name falls back
//!   to the address the call was set up with. [`NextHop::Flow`] always uses that address.
//! - §13.2.2.4: a 2xx from a second fork (another To tag) after the dialog is confirmed
//!   is ACKed and then ended with a BYE; we keep one dialog per call.
//! - Not done: PRACK/100rel (RFC 3262), session timers (RFC 4028), authentication
//!   (§22), merged-request detection (§8.2.2.2, 482), Require/Supported negotiation
//!   (§8.2.2.3, 420), offer/answer state (the SDP module's job).

use crate::dialog::{Dialog, DialogError, DialogId, DialogState, RequestCheck};
use crate::message::{LengthIssue, MessageBuilder, Method, ParseError, SipMessage};
use crate::time::Time;
use crate::transaction::timer::Deadlines;
use crate::transaction::{
    PeerAddr, Routed, Timer, TransactionConfig, Transactions, Transmit, Transport, TxError,
    TxEvent, TxKey, TxState, cancel_for,
};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How in-dialog requests find their destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextHop {
    /// §8.1.2: the first Route URI or the remote target, when it is an IP literal;
    /// otherwise the address the call was set up with.
    #[default]
    Uri,
    /// Always the address the call was set up with (what a UA behind NAT needs).
    Flow,
}

/// Settings for an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Our address: the sent-by of our Via headers.
    pub local_addr: SocketAddr,
    /// The full Contact header value we send, e.g. `<sip:src@192.0.2.1:5060>;+sip.src`.
    pub contact: String,
    /// The URI in the From header of calls we start (the address of record).
    pub from_uri: String,
    /// User-Agent (requests) and Server (responses) header value, if any.
    pub user_agent: Option<String>,
    /// Seed for branches, tags and Call-IDs: the same seed and inputs give the same
    /// bytes.
    pub seed: u64,
    /// Send the ACK for every 2xx to our INVITEs (§13.2.2.4). Off for fault profiles
    /// that withhold or delay the ACK ([`Endpoint::send_ack`] sends it by hand).
    pub auto_ack_2xx: bool,
    /// Retransmit our 2xx to INVITEs until ACK (§13.3.1.4). Off for fault profiles.
    pub retransmit_2xx: bool,
    /// Where in-dialog requests go.
    pub next_hop: NextHop,
    /// Transaction timers and the automatic 100 Trying.
    pub transactions: TransactionConfig,
    /// Most calls one peer address may have open at once: a new INVITE beyond it is
    /// refused ([`RequestCheck::TooManyCalls`], 503), so a peer opening dialogs it never
    /// ends costs bounded memory.
    pub max_calls_per_peer: usize,
}

/// Default of [`EndpointConfig::max_calls_per_peer`]: far above any load a harness role
/// takes from one address (the embedded recorder at load: about a thousand).
pub const MAX_CALLS_PER_PEER: usize = 10_000;

impl EndpointConfig {
    /// Defaults around a local address and a contact URI (`sip:user@host:port`, without
    /// angle brackets); From uses the same URI.
    pub fn new(local_addr: SocketAddr, contact_uri: &str, seed: u64) -> Self {
        Self {
            local_addr,
            contact: format!("<{contact_uri}>"),
            from_uri: contact_uri.to_owned(),
            user_agent: Some("recproof".to_owned()),
            seed,
            auto_ack_2xx: true,
            retransmit_2xx: true,
            next_hop: NextHop::default(),
            transactions: TransactionConfig::default(),
            max_calls_per_peer: MAX_CALLS_PER_PEER,
        }
    }
}

/// An endpoint-local handle for one call: the INVITE we sent or received and the dialog
/// it made. Not the SIP Call-ID (see [`Dialog::id`] for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(u64);

impl CallKey {
    /// The number behind the key, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// A message body with its Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Content-Type value, e.g. `application/sdp` or `multipart/mixed;boundary=x`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

/// What the caller adds to a message the endpoint builds: extra headers (appended after
/// the standard ones), standard headers to leave out (for fault profiles), and a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// Header lines appended in order.
    pub headers: Vec<(String, String)>,
    /// Names (case-insensitive) of headers the endpoint would add that must be left out,
    /// e.g. `Contact` or `Max-Forwards`. Replace a header by omitting it and adding it.
    pub omit: Vec<String>,
    /// The body, if any.
    pub body: Option<Body>,
}

impl Extra {
    /// Nothing extra.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves out a header the endpoint would add.
    pub fn omit(mut self, name: &str) -> Self {
        self.omit.push(name.to_owned());
        self
    }

    /// Sets the body.
    pub fn body(mut self, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        self.body = Some(Body {
            content_type: content_type.to_owned(),
            bytes: bytes.into(),
        });
        self
    }
}

/// Where an incoming request stands relative to our calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestContext {
    /// An INVITE without To tag: a new call was created for it.
    NewCall,
    /// A request with a To tag: in a dialog (known or not, see the check).
    InDialog,
    /// A non-INVITE request without To tag (OPTIONS, MESSAGE...).
    OutOfDialog,
    /// A CANCEL (§9.2) for server INVITE transaction `invite`, if any matched.
    Cancel {
        /// The INVITE transaction to answer 487 on.
        invite: Option<TxKey>,
        /// True while that INVITE has no final response yet. When false the CANCEL
        /// "has no effect" on it (§9.2) and still gets its 200.
        invite_pending: bool,
    },
}

/// How a UAS answers a request outside any dialog ([`RequestContext::OutOfDialog`]) that
/// it does not take itself (every role answers OPTIONS on its own): `None` for an ACK
/// (never answered); 481 for a method that only exists inside a dialog (BYE, UPDATE,
/// INFO, PRACK, NOTIFY, REFER: with no To tag it matches no dialog, RFC 3261 §12.2.2, as
/// a network-based SRC's BYE without To tag does); 405 for anything else.
pub fn out_of_dialog_status(method: Option<&Method>) -> Option<u16> {
    match method {
        Some(Method::Ack) => None,
        Some(
            Method::Bye
            | Method::Update
            | Method::Info
            | Method::Prack
            | Method::Notify
            | Method::Refer,
        ) => Some(481),
        _ => Some(405),
    }
}

/// The rule a request outside any dialog broke when it gets `status` from
/// [`out_of_dialog_status`] (481 only: a 405 is no fault of the peer's).
pub fn out_of_dialog_reason(request: &SipMessage, status: u16) -> Option<String> {
    (status == 481).then(|| {
        format!(
            "a {} without a To tag matches no dialog: 481 (RFC 3261 §12.2.2)",
            request.method().map_or("request", |m| m.as_str())
        )
    })
}

/// What a UAS owes an incoming request before its own handling, when the RFC decides it
/// ([`prescribed_refusal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status to answer (`None`: an ACK, never answered).
    pub status: Option<u16>,
    /// The rule the peer broke, when the refusal is a fault of the peer's (a 405 for a
    /// method we do not take is not).
    pub reason: Option<String>,
}

/// The refusal an incoming request gets whoever the UAS is: the status the dialog layer
/// prescribes for a violation (481/500/491/503, [`RequestCheck::suggested_status`]), or,
/// outside any dialog, the answer to anything but OPTIONS ([`out_of_dialog_status`]).
/// `None` when the request is the role's to handle.
pub fn prescribed_refusal(
    request: &SipMessage,
    context: &RequestContext,
    check: &RequestCheck,
) -> Option<Refusal> {
    if let Some(code) = check.suggested_status() {
        return Some(Refusal {
            status: Some(code),
            reason: check.reason(),
        });
    }
    if *context != RequestContext::OutOfDialog || request.method() == Some(&Method::Options) {
        return None;
    }
    let status = out_of_dialog_status(request.method());
    Some(Refusal {
        status,
        reason: status.and_then(|code| out_of_dialog_reason(request, code)),
    })
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// Our INVITE got this 300-699 (487 after our CANCEL).
    RejectedByPeer(u16),
    /// We answered the INVITE with this 300-699.
    RejectedLocally(u16),
    /// We sent BYE and it completed (any final response, §15.1.1).
    ByeSent,
    /// We answered the peer's BYE with a 2xx.
    ByeReceived,
    /// An INVITE or in-dialog request timed out (Timer B or F; §12.2.1.2).
    TimedOut(Timer),
    /// An in-dialog request got 481 or 408 (§12.2.1.2).
    DialogGone(u16),
    /// The driver reported a transport error.
    TransportError,
    /// 64*T1 after our CANCEL the INVITE still had no final response (§9.1).
    CancelTimeout,
    /// The 2xx to our INVITE could not make a dialog (no Contact, no From tag...).
    Invalid2xx(DialogError),
}

/// The short words the observation log uses for a call end (`bye`, `rejected 486`,
/// `cancelled`, `timeout`...).
impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RejectedByPeer(487) | Self::RejectedLocally(487) => f.write_str("cancelled"),
            Self::RejectedByPeer(c) | Self::RejectedLocally(c) => write!(f, "rejected {c}"),
            Self::ByeSent | Self::ByeReceived => f.write_str("bye"),
            Self::TimedOut(_) => f.write_str("timeout"),
            Self::DialogGone(c) => write!(f, "dialog gone {c}"),
            Self::TransportError => f.write_str("transport error"),
            Self::CancelTimeout => f.write_str("cancel timeout"),
            Self::Invalid2xx(e) => write!(f, "invalid 2xx: {e}"),
        }
    }
}

/// What happened, for the harness role driving the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// Bytes that are not a SIP message.
    Malformed {
        /// Source.
        from: PeerAddr,
        /// What arrived.
        bytes: Bytes,
        /// Why it does not parse.
        error: ParseError,
    },
    /// A message that parsed but cannot be routed to a transaction (no Via, no CSeq...).
    Unroutable {
        /// Source.
        from: PeerAddr,
        /// The message.
        message: SipMessage,
        /// What was missing.
        error: TxError,
    },
    /// A request that needs an answer via [`Endpoint::answer`] on `tx`.
    IncomingRequest {
        /// The call it belongs to (a new one for a new INVITE).
        call: Option<CallKey>,
        /// The server transaction to answer on.
        tx: TxKey,
        /// Source.
        from: PeerAddr,
        /// The request.
        request: SipMessage,
        /// New call, in dialog, out of dialog or CANCEL.
        context: RequestContext,
        /// What the RFC expects (`suggested_status()` gives 481/500/491 for violations).
        check: RequestCheck,
    },
    /// A response to a request we sent (each 1xx; the first final; not retransmissions).
    Response {
        /// The call, if the request belonged to one.
        call: Option<CallKey>,
        /// Our client transaction.
        tx: TxKey,
        /// The response.
        response: SipMessage,
    },
    /// A dialog was confirmed: 2xx received (UAC) or sent (UAS).
    DialogEstablished {
        /// The call.
        call: CallKey,
        /// Its dialog id.
        id: DialogId,
    },
    /// An ACK for one of our 2xx arrived (any ACK that matches a dialog).
    AckReceived {
        /// The call.
        call: CallKey,
        /// The ACK.
        ack: SipMessage,
        /// True when it stopped our 2xx retransmissions (its CSeq matched).
        stopped_retransmission: bool,
    },
    /// No ACK came for our 2xx within 64*T1 (§13.3.1.4). The TU should send BYE.
    AckTimeout {
        /// The call.
        call: CallKey,
    },
    /// A 2xx to our INVITE waits for [`Endpoint::send_ack`] (auto ACK is off).
    AckDue {
        /// The call.
        call: CallKey,
        /// CSeq number of the INVITE.
        invite_seq: u32,
    },
    /// A transaction timed out (Timer B, F or H).
    TimedOut {
        /// The call, if any.
        call: Option<CallKey>,
        /// The transaction.
        tx: TxKey,
        /// Which timer.
        timer: Timer,
    },
    /// A transport error on transaction `tx`.
    TransportError {
        /// The call, if any.
        call: Option<CallKey>,
        /// The transaction.
        tx: TxKey,
    },
    /// The call is over (and its dialog, if it had one).
    DialogTerminated {
        /// The call; its key is no longer valid for commands.
        call: CallKey,
        /// Why.
        reason: EndReason,
    },
    /// A message that belongs to nothing we know (a response to no transaction, an ACK
    /// for no dialog).
    Stray {
        /// Source.
        from: PeerAddr,
        /// The message.
        message: SipMessage,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No such call (never existed or ended).
    #[error("no call {0} (ended or never created)")]
    UnknownCall(CallKey),
    /// No incoming request with that transaction is waiting for an answer.
    #[error("no incoming request on {0} (answered and terminated, or not ours)")]
    UnknownTransaction(TxKey),
    /// The call has no dialog yet (or none any more).
    #[error("{0} has no dialog to send in-dialog requests on")]
    NoDialog(CallKey),
    /// §14.1: no new INVITE while one is in progress in either direction.
    #[error("{0} already has an INVITE in progress (RFC 3261 §14.1)")]
    InviteInProgress(CallKey),
    /// CANCEL after a final response, or on a call we did not start.
    #[error("{0} cannot be cancelled: no INVITE of ours is pending")]
    NotCancellable(CallKey),
    /// ACK and CANCEL have their own commands.
    #[error("use {0} instead of a generic request")]
    UseDedicatedCommand(&'static str),
    /// [`Endpoint::send_ack`] without an unacknowledged 2xx.
    #[error("{0} has no 2xx waiting for an ACK")]
    NothingToAck(CallKey),
    /// Status code outside 100..=699.
    #[error("status code {0} is outside 100..=699")]
    InvalidStatus(u16),
    /// The message built from the caller's extras does not parse.
    #[error("the message built from the given headers does not parse")]
    Build(#[source] ParseError),
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] TxError),
}

/// The usual reason phrase for a status code.
pub fn default_reason(code: u16) -> &'static str {
    let known = match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "",
    };
    if !known.is_empty() {
        return known;
    }
    match code / 100 {
        1 => "Provisional",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        5 => "Server Error",
        _ => "Global Failure",
    }
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallPhase {
    /// We sent the INVITE; no final response yet.
    Outgoing,
    /// We received the INVITE; not answered with a final response yet.
    Incoming,
    /// The dialog is confirmed.
    Established,
    /// We sent BYE; waiting for its response.
    Terminating,
}

/// Why we sent a client transaction, to interpret its responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    ReInvite,
    Update,
    Bye,
    Cancel,
    InDialog,
    OutOfDialog,
    /// BYE ending a second fork (§13.2.2.4).
    ForkBye,
}

#[derive(Debug, Clone)]
struct Owned {
    call: Option<CallKey>,
    purpose: Purpose,
    final_seen: bool,
}

#[derive(Debug, Clone)]
struct IncomingTx {
    call: Option<CallKey>,
    request: SipMessage,
    context: RequestContext,
    /// To tag for responses to requests that have none (new calls, out of dialog).
    local_tag: Option<String>,
}

/// UAC CANCEL progress (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    None,
    /// Asked for before any provisional response: sent when one arrives.
    Pending,
    Sent,
}

/// Our unacknowledged 2xx (§13.3.1.4).
#[derive(Debug, Clone)]
struct Pending2xx {
    invite_seq: u32,
    bytes: Bytes,
    to: PeerAddr,
    interval: Duration,
    give_up: Time,
}

/// The ACK we sent for the 2xx to INVITE `invite_seq`, re-sent for its retransmissions.
#[derive(Debug, Clone)]
struct SentAck {
    invite_seq: u32,
    bytes: Bytes,
    to: PeerAddr,
}

#[derive(Debug, Clone)]
struct Call {
    phase: CallPhase,
    /// Where the call was set up with (target for UAC, source for UAS).
    peer: PeerAddr,
    /// The initial INVITE (ours or theirs).
    invite: SipMessage,
    /// Its transaction while no final response has been sent/received.
    invite_tx: Option<TxKey>,
    local_tag: String,
    dialog: Option<Dialog>,
    cancel: Cancel,
    /// Our re-INVITE in progress.
    our_invite: Option<TxKey>,
    /// The peer's INVITE/re-INVITE we have not answered finally.
    their_invite: Option<TxKey>,
    pending_2xx: Option<Pending2xx>,
    sent_ack: Option<SentAck>,
    /// A 2xx we have not ACKed because auto ACK is off: the INVITE's CSeq.
    ack_due: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum CallTimer {
    Retransmit2xx,
    CancelGuard,
}

/// A sans-IO SIP user agent. See the [module docs](self).
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    txs: Transactions,
    rng: SmallRng,
    next_call: u64,
    calls: BTreeMap<CallKey, Call>,
    /// Open calls per peer address (bounded by [`EndpointConfig::max_calls_per_peer`]).
    calls_per_peer: HashMap<SocketAddr, usize>,
    dialogs: HashMap<DialogId, CallKey>,
    owned: HashMap<TxKey, Owned>,
    incoming: HashMap<TxKey, IncomingTx>,
    deadlines: Deadlines<(CallKey, CallTimer)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
}

impl Endpoint {
    /// A new endpoint with no calls.
    pub fn new(config: EndpointConfig) -> Self {
        Self {
            txs: Transactions::new(config.transactions),
            rng: SmallRng::seed_from_u64(config.seed),
            config,
            next_call: 0,
            calls: BTreeMap::new(),
            calls_per_peer: HashMap::new(),
            dialogs: HashMap::new(),
            owned: HashMap::new(),
            incoming: HashMap::new(),
            deadlines: Deadlines::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ---- getters -------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// The dialog of `call`, early or confirmed.
    pub fn dialog(&self, call: CallKey) -> Option<&Dialog> {
        self.calls.get(&call).and_then(|c| c.dialog.as_ref())
    }

    /// The Call-ID of `call` (from its INVITE), while the call exists: known from the
    /// moment the INVITE is built, before any dialog.
    pub fn call_id(&self, call: CallKey) -> Option<&str> {
        self.calls.get(&call).and_then(|c| c.invite.call_id().ok())
    }

    /// Where `call` is, or `None` once it ended.
    pub fn phase(&self, call: CallKey) -> Option<CallPhase> {
        self.calls.get(&call).map(|c| c.phase)
    }

    /// The transaction table, for inspection.
    pub fn transactions(&self) -> &Transactions {
        &self.txs
    }

    // ---- output --------------------------------------------------------------------

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Time> {
        match (self.txs.poll_timeout(), self.deadlines.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- input ---------------------------------------------------------------------

    /// One datagram, or one framed message from a stream (see [`crate::framing`]),
    /// from `from` over `transport`. Never panics; unparseable bytes become
    /// [`EndpointEvent::Malformed`].
    pub fn handle_datagram(
        &mut self,
        now: Time,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        let peer = PeerAddr::new(from, transport);
        let msg = match SipMessage::parse(Bytes::copy_from_slice(bytes)) {
            Ok(m) => m,
            Err(error) => {
                self.events.push_back(EndpointEvent::Malformed {
                    from: peer,
                    bytes: Bytes::copy_from_slice(bytes),
                    error,
                });
                return;
            }
        };
        // RFC 3261 §18.3: over a datagram transport, a body shorter than Content-Length
        // (or a Content-Length that is no number) is an error: a request gets 400, a
        // response is discarded. Either way the peer's bytes are reported.
        let bad_length = match msg.length_issue() {
            Some(LengthIssue::Truncated { declared, actual }) if transport == Transport::Udp => {
                Some(format!(
                    "{declared} announces more than the {actual} body bytes that arrived"
                ))
            }
            Some(LengthIssue::Unparseable) => Some("is not a number".to_owned()),
            _ => None,
        };
        if let Some(why) = bad_length {
            if msg.is_request()
                && msg.method() != Some(&Method::Ack)
                && let Ok(bad) = MessageBuilder::response_to(&msg, 400, "Bad Request", None)
                    .header("Warning", &format!("399 recproof \"Content-Length {why}\""))
                    .build()
            {
                self.push_direct(peer, bad.raw().clone());
            }
            self.events.push_back(EndpointEvent::Malformed {
                from: peer,
                bytes: Bytes::copy_from_slice(bytes),
                error: ParseError::ContentLength(why),
            });
            return;
        }
        match self.txs.handle(now, peer, msg) {
            Routed::ToClient(_) | Routed::ToServer(_) => {}
            Routed::NewServer { key, request } => self.on_new_request(peer, key, request),
            Routed::Cancel {
                key,
                request,
                invite,
            } => self.on_cancel(peer, key, request, invite),
            Routed::Ack(ack) => self.on_ack(now, peer, ack),
            Routed::StrayResponse(response) => self.on_stray_response(peer, response),
            Routed::Invalid { message, error } => {
                // Over the per-peer transaction bound: 503 (RFC 3261 §21.5.4), statelessly,
                // since no transaction was kept for it.
                if matches!(error, TxError::TooManyTransactions { .. })
                    && let Ok(busy) =
                        MessageBuilder::response_to(&message, 503, "Service Unavailable", None)
                            .header("Retry-After", "5")
                            .build()
                {
                    self.push_direct(peer, busy.raw().clone());
                }
                self.events.push_back(EndpointEvent::Unroutable {
                    from: peer,
                    message,
                    error,
                });
            }
        }
        self.pump(now);
    }

    /// Fires due transaction and endpoint timers. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Time) {
        self.txs.handle_timeout(now);
        self.pump(now);
        while let Some((call, timer)) = self.deadlines.pop_expired(now) {
            match timer {
                CallTimer::Retransmit2xx => self.on_retransmit_2xx(now, call),
                CallTimer::CancelGuard => self.on_cancel_guard(now, call),
            }
            self.pump(now);
        }
    }

    /// The driver could not deliver a transmit of transaction `tx`.
    pub fn handle_transport_error(&mut self, now: Time, tx: TxKey) {
        self.txs.handle_transport_error(now, tx);
        self.pump(now);
    }

    // ---- commands ------------------------------------------------------------------

    /// Starts a call: sends an INVITE to `to_uri` via `target`, with a new Call-ID,
    /// From tag and branch.
    pub fn invite(
        &mut self,
        now: Time,
        to_uri: &str,
        target: PeerAddr,
        extra: Extra,
    ) -> Result<CallKey, EndpointError> {
        let local_tag = self.random_hex(8);
        let call_id = format!("{}@{}", self.random_hex(16), self.config.local_addr.ip());
        let msg = self.out_of_dialog_request(
            &Method::Invite,
            to_uri,
            target,
            &local_tag,
            &call_id,
            1,
            extra,
        )?;
        let tx = self.txs.send_request(now, target, msg.clone())?;
        let call = self.new_call_key();
        // Counted like incoming calls, so `end_call` can uncount every call alike (only
        // incoming INVITEs are bounded).
        *self.calls_per_peer.entry(target.addr).or_default() += 1;
        self.calls.insert(
            call,
            Call {
                phase: CallPhase::Outgoing,
                peer: target,
                invite: msg,
                invite_tx: Some(tx),
                local_tag,
                dialog: None,
                cancel: Cancel::None,
                our_invite: None,
                their_invite: None,
                pending_2xx: None,
                sent_ack: None,
                ack_due: None,
            },
        );
        self.own(tx, Some(call), Purpose::Invite);
        self.pump(now);
        Ok(call)
    }

    /// Sends a request outside any dialog (OPTIONS, MESSAGE...); responses arrive as
    /// [`EndpointEvent::Response`] with no call.
    pub fn send_out_of_dialog(
        &mut self,
        now: Time,
        method: &Method,
        to_uri: &str,
        target: PeerAddr,
        extra: Extra,
    ) -> Result<TxKey, EndpointError> {
        if matches!(method, Method::Invite | Method::Ack | Method::Cancel) {
            return Err(EndpointError::UseDedicatedCommand(
                "invite(), send_ack() or cancel()",
            ));
        }
        let tag = self.random_hex(8);
        let call_id = format!("{}@{}", self.random_hex(16), self.config.local_addr.ip());
        let msg = self.out_of_dialog_request(method, to_uri, target, &tag, &call_id, 1, extra)?;
        let tx = self.txs.send_request(now, target, msg)?;
        self.own(tx, None, Purpose::OutOfDialog);
        self.pump(now);
        Ok(tx)
    }

    /// Sends a re-INVITE in the dialog of `call` (a target refresh, §14.1).
    pub fn reinvite(
        &mut self,
        now: Time,
        call: CallKey,
        extra: Extra,
    ) -> Result<TxKey, EndpointError> {
        self.request(now, call, &Method::Invite, extra)
    }

    /// Sends an UPDATE (RFC 3311; a target refresh) in the dialog of `call`.
    pub fn update(
        &mut self,
        now: Time,
        call: CallKey,
        extra: Extra,
    ) -> Result<TxKey, EndpointError> {
        self.request(now, call, &Method::Update, extra)
    }

    /// Sends an INFO (RFC 6086) in the dialog of `call`.
    pub fn info(&mut self, now: Time, call: CallKey, extra: Extra) -> Result<TxKey, EndpointError> {
        self.request(now, call, &Method::Info, extra)
    }

    /// Sends a BYE in the dialog of `call` (§15.1.1); the call ends when it completes.
    ///
    /// Allowed on an early dialog too, although §15 says the caller "MUST NOT" send
    /// one there (it should CANCEL): a fault profile may want exactly that.
    pub fn bye(&mut self, now: Time, call: CallKey, extra: Extra) -> Result<TxKey, EndpointError> {
        self.request(now, call, &Method::Bye, extra)
    }

    /// Sends any request in the dialog of `call` (§12.2.1.1) with the next CSeq, a new
    /// branch, Route and Request-URI from the dialog, and Contact for INVITE and UPDATE.
    pub fn request(
        &mut self,
        now: Time,
        call: CallKey,
        method: &Method,
        extra: Extra,
    ) -> Result<TxKey, EndpointError> {
        let purpose = match method {
            Method::Ack => return Err(EndpointError::UseDedicatedCommand("send_ack()")),
            Method::Cancel => return Err(EndpointError::UseDedicatedCommand("cancel()")),
            Method::Invite => Purpose::ReInvite,
            Method::Update => Purpose::Update,
            Method::Bye => Purpose::Bye,
            _ => Purpose::InDialog,
        };
        let branch = self.new_branch();
        let c = self
            .calls
            .get(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        if purpose == Purpose::ReInvite
            && (c.our_invite.is_some() || c.their_invite.is_some() || c.invite_tx.is_some())
        {
            return Err(EndpointError::InviteInProgress(call));
        }
        let target = self.next_hop(c).ok_or(EndpointError::NoDialog(call))?;
        let via = self.via(target.transport, &branch);
        let contact = matches!(purpose, Purpose::ReInvite | Purpose::Update)
            .then(|| self.config.contact.clone());
        let ua = self.config.user_agent.clone();
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        let dialog = c.dialog.as_mut().ok_or(EndpointError::NoDialog(call))?;
        let mut builder = dialog.request(method, &via, contact.as_deref());
        if let Some(ua) = &ua {
            builder = builder.header("User-Agent", ua);
        }
        let msg = finish(builder, &extra)?;
        let tx = self.txs.send_request(now, target, msg)?;
        if let Some(c) = self.calls.get_mut(&call) {
            match purpose {
                Purpose::ReInvite => c.our_invite = Some(tx),
                Purpose::Bye => {
                    c.phase = CallPhase::Terminating;
                    c.pending_2xx = None;
                    self.deadlines.clear((call, CallTimer::Retransmit2xx));
                }
                _ => {}
            }
        }
        self.own(tx, Some(call), purpose);
        self.pump(now);
        Ok(tx)
    }

    /// Cancels our pending INVITE (§9.1). Before any provisional response the CANCEL is
    /// held and sent when one arrives; after a final response it is refused.
    pub fn cancel(&mut self, now: Time, call: CallKey) -> Result<(), EndpointError> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        let Some(invite_tx) = c.invite_tx.filter(|_| c.phase == CallPhase::Outgoing) else {
            return Err(EndpointError::NotCancellable(call));
        };
        if c.cancel != Cancel::None {
            return Ok(());
        }
        if self.txs.state(invite_tx) == Some(TxState::Proceeding) {
            self.send_cancel(now, call)?;
        } else if let Some(c) = self.calls.get_mut(&call) {
            c.cancel = Cancel::Pending;
        }
        self.pump(now);
        Ok(())
    }

    /// Sends the ACK for the 2xx to our INVITE that is waiting for one (when
    /// [`EndpointConfig::auto_ack_2xx`] is off), with optional extras such as an SDP
    /// answer.
    pub fn send_ack(
        &mut self,
        now: Time,
        call: CallKey,
        extra: Extra,
    ) -> Result<(), EndpointError> {
        let c = self
            .calls
            .get(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        let seq = c.ack_due.ok_or(EndpointError::NothingToAck(call))?;
        self.ack_2xx(call, seq, &extra)?;
        self.pump(now);
        Ok(())
    }

    /// Answers the incoming request on server transaction `tx` with `code`.
    ///
    /// Adds what the RFC requires and the caller should not have to think of: the To tag
    /// on responses that create or belong to a dialog, Contact on 1xx/2xx to INVITE and
    /// 2xx to UPDATE, Record-Route copied on dialog-creating responses (§12.1.1). The
    /// effects follow: a 2xx to an INVITE confirms the dialog and starts retransmitting
    /// until ACK; a 2xx to BYE ends the call; a 300-699 to the initial INVITE ends it.
    pub fn answer(
        &mut self,
        now: Time,
        tx: TxKey,
        code: u16,
        extra: Extra,
    ) -> Result<(), EndpointError> {
        if !(100..=699).contains(&code) {
            return Err(EndpointError::InvalidStatus(code));
        }
        let inc = self
            .incoming
            .get(&tx)
            .ok_or(EndpointError::UnknownTransaction(tx))?
            .clone();
        let method = inc
            .request
            .method()
            .cloned()
            .unwrap_or(Method::Other(String::new()));
        let to_tag = if code == 100 {
            None
        } else {
            match &inc.context {
                RequestContext::NewCall | RequestContext::Cancel { .. } => inc
                    .call
                    .and_then(|c| self.calls.get(&c))
                    .map(|c| c.local_tag.clone())
                    .or_else(|| inc.local_tag.clone()),
                RequestContext::OutOfDialog => inc.local_tag.clone(),
                RequestContext::InDialog => None,
            }
        };
        let mut b = MessageBuilder::response_to(
            &inc.request,
            code,
            default_reason(code),
            to_tag.as_deref(),
        );
        let creates_dialog = inc.context == RequestContext::NewCall && (101..=299).contains(&code);
        if creates_dialog {
            for rr in inc.request.headers_named("Record-Route") {
                b = add(b, &extra, "Record-Route", &rr.value);
            }
        }
        let with_contact = match method {
            Method::Invite => (101..=299).contains(&code),
            Method::Update => (200..=299).contains(&code),
            _ => false,
        };
        if with_contact {
            b = add(b, &extra, "Contact", &self.config.contact);
        }
        if let Some(ua) = &self.config.user_agent {
            b = add(b, &extra, "Server", ua);
        }
        let msg = finish(b, &extra)?;
        self.txs.respond(now, tx, msg.clone())?;
        self.after_answer(now, tx, &inc, &method, code, msg);
        self.pump(now);
        Ok(())
    }

    /// Queues bytes as they are, outside any transaction: for fault profiles that send
    /// what no well-behaved UA would.
    pub fn send_raw(&mut self, to: PeerAddr, bytes: impl Into<Bytes>) {
        self.push_direct(to, bytes.into());
    }

    // ---- internals: incoming ---------------------------------------------------------

    fn on_new_request(&mut self, from: PeerAddr, tx: TxKey, request: SipMessage) {
        let method = request.method().cloned();
        let has_to_tag = request.to_header().ok().is_some_and(|t| t.tag().is_some());
        let (call, context, check, local_tag) = if has_to_tag {
            let found = DialogId::of_incoming_request(&request)
                .and_then(|id| self.dialogs.get(&id).copied());
            match found.and_then(|k| self.calls.get_mut(&k).map(|c| (k, c))) {
                Some((k, c)) => {
                    let mut check = c
                        .dialog
                        .as_ref()
                        .map_or(RequestCheck::UnknownDialog, |d| d.check_request(&request));
                    if check == RequestCheck::Accept && method == Some(Method::Invite) {
                        if c.their_invite.is_some() {
                            check = RequestCheck::InviteInProgress;
                        } else if c.our_invite.is_some() {
                            check = RequestCheck::Glare;
                        }
                    }
                    if check == RequestCheck::Accept {
                        if let Some(d) = c.dialog.as_mut() {
                            d.accept_request(&request);
                        }
                        if method == Some(Method::Invite) {
                            c.their_invite = Some(tx);
                        }
                    }
                    (Some(k), RequestContext::InDialog, check, None)
                }
                None => (
                    None,
                    RequestContext::InDialog,
                    RequestCheck::UnknownDialog,
                    None,
                ),
            }
        } else if method == Some(Method::Invite)
            && self.calls_per_peer.get(&from.addr).copied().unwrap_or(0)
                >= self.config.max_calls_per_peer
        {
            (
                None,
                RequestContext::NewCall,
                RequestCheck::TooManyCalls {
                    open: self.config.max_calls_per_peer,
                },
                None,
            )
        } else if method == Some(Method::Invite) {
            *self.calls_per_peer.entry(from.addr).or_default() += 1;
            let local_tag = self.random_hex(8);
            let k = self.new_call_key();
            self.calls.insert(
                k,
                Call {
                    phase: CallPhase::Incoming,
                    peer: from,
                    invite: request.clone(),
                    invite_tx: Some(tx),
                    local_tag,
                    dialog: None,
                    cancel: Cancel::None,
                    our_invite: None,
                    their_invite: Some(tx),
                    pending_2xx: None,
                    sent_ack: None,
                    ack_due: None,
                },
            );
            (Some(k), RequestContext::NewCall, RequestCheck::Accept, None)
        } else {
            let tag = self.random_hex(8);
            (
                None,
                RequestContext::OutOfDialog,
                RequestCheck::Accept,
                Some(tag),
            )
        };
        self.incoming.insert(
            tx,
            IncomingTx {
                call,
                request: request.clone(),
                context: context.clone(),
                local_tag,
            },
        );
        self.events.push_back(EndpointEvent::IncomingRequest {
            call,
            tx,
            from,
            request,
            context,
            check,
        });
    }

    fn on_cancel(&mut self, from: PeerAddr, tx: TxKey, request: SipMessage, invite: Option<TxKey>) {
        let call = invite
            .and_then(|i| self.incoming.get(&i))
            .and_then(|i| i.call);
        let check = if invite.is_some() {
            RequestCheck::Accept
        } else {
            RequestCheck::NoMatchingInvite
        };
        let invite_pending = invite.and_then(|i| self.txs.state(i)) == Some(TxState::Proceeding);
        let context = RequestContext::Cancel {
            invite,
            invite_pending,
        };
        let local_tag = Some(self.random_hex(8));
        self.incoming.insert(
            tx,
            IncomingTx {
                call,
                request: request.clone(),
                context: context.clone(),
                local_tag,
            },
        );
        self.events.push_back(EndpointEvent::IncomingRequest {
            call,
            tx,
            from,
            request,
            context,
            check,
        });
    }

    fn on_ack(&mut self, _now: Time, from: PeerAddr, ack: SipMessage) {
        let found =
            DialogId::of_incoming_request(&ack).and_then(|id| self.dialogs.get(&id).copied());
        let Some(call) = found else {
            self.events
                .push_back(EndpointEvent::Stray { from, message: ack });
            return;
        };
        let seq = ack.cseq().ok().map(|c| c.seq);
        let mut stopped = false;
        if let Some(c) = self.calls.get_mut(&call)
            && c.pending_2xx
                .as_ref()
                .is_some_and(|p| Some(p.invite_seq) == seq)
        {
            c.pending_2xx = None;
            stopped = true;
            self.deadlines.clear((call, CallTimer::Retransmit2xx));
        }
        self.events.push_back(EndpointEvent::AckReceived {
            call,
            ack,
            stopped_retransmission: stopped,
        });
    }

    fn on_stray_response(&mut self, from: PeerAddr, response: SipMessage) {
        // A 2xx retransmission after the client transaction is gone: ACK it again
        // (§13.2.2.4), if it is for a dialog and INVITE we ACKed.
        let is_invite_2xx = response.status().is_some_and(|c| (200..300).contains(&c))
            && response.cseq().is_ok_and(|c| c.method == Method::Invite);
        if is_invite_2xx {
            let seq = response.cseq().ok().map(|c| c.seq);
            let found = DialogId::of_incoming_response(&response)
                .and_then(|id| self.dialogs.get(&id).copied());
            let ack = found
                .and_then(|k| self.calls.get(&k))
                .and_then(|c| c.sent_ack.clone())
                .filter(|a| Some(a.invite_seq) == seq);
            if let Some(ack) = ack {
                self.push_direct(ack.to, ack.bytes);
                return;
            }
        }
        self.events.push_back(EndpointEvent::Stray {
            from,
            message: response,
        });
    }

    // ---- internals: transaction events --------------------------------------------

    /// Moves transaction output into ours and reacts to transaction events, until both
    /// are drained (reactions may start transactions).
    fn pump(&mut self, now: Time) {
        loop {
            self.drain_tx_transmits();
            match self.txs.poll_event() {
                Some(e) => self.on_tx_event(now, e),
                None => break,
            }
        }
    }

    fn drain_tx_transmits(&mut self) {
        while let Some(t) = self.txs.poll_transmit() {
            self.transmits.push_back(t);
        }
    }

    fn on_tx_event(&mut self, now: Time, event: TxEvent) {
        match event {
            TxEvent::Provisional { key, response } => self.on_provisional(now, key, response),
            TxEvent::Final { key, response } => self.on_final(now, key, response),
            TxEvent::Acked { .. } => {}
            TxEvent::TimedOut { key, timer } => {
                let call = self.call_of_tx(key);
                self.events.push_back(EndpointEvent::TimedOut {
                    call,
                    tx: key,
                    timer,
                });
                self.on_failure(key, EndReason::TimedOut(timer));
            }
            TxEvent::TransportError { key } => {
                let call = self.call_of_tx(key);
                self.events
                    .push_back(EndpointEvent::TransportError { call, tx: key });
                self.on_failure(key, EndReason::TransportError);
            }
            TxEvent::Terminated { key } => {
                self.owned.remove(&key);
                self.incoming.remove(&key);
            }
        }
    }

    fn call_of_tx(&self, tx: TxKey) -> Option<CallKey> {
        self.owned
            .get(&tx)
            .and_then(|o| o.call)
            .or_else(|| self.incoming.get(&tx).and_then(|i| i.call))
    }

    fn on_provisional(&mut self, now: Time, tx: TxKey, response: SipMessage) {
        let Some(owned) = self.owned.get(&tx).cloned() else {
            return;
        };
        if let (Some(call), Purpose::Invite) = (owned.call, owned.purpose) {
            let mut send_cancel = false;
            let mut early = None;
            if let Some(c) = self.calls.get_mut(&call) {
                let code = response.status().unwrap_or(100);
                if code > 100 && c.dialog.is_none() {
                    // §12.1.2: a 1xx with a To tag creates an early dialog.
                    if let Ok(d) = Dialog::uac(&c.invite, &response) {
                        early = Some(d.id().clone());
                        c.dialog = Some(d);
                    }
                }
                send_cancel = c.cancel == Cancel::Pending;
            }
            if let Some(id) = early {
                self.dialogs.insert(id, call);
            }
            if send_cancel {
                // The CANCEL was asked for before any provisional (§9.1: "MUST NOT send
                // a CANCEL ... until it has received a provisional response").
                let _ = self.send_cancel(now, call);
            }
        }
        self.events.push_back(EndpointEvent::Response {
            call: owned.call,
            tx,
            response,
        });
    }

    fn on_final(&mut self, now: Time, tx: TxKey, response: SipMessage) {
        let Some(owned) = self.owned.get_mut(&tx) else {
            return;
        };
        let first = !owned.final_seen;
        owned.final_seen = true;
        let owned = owned.clone();
        let code = response.status().unwrap_or(500);
        let success = (200..300).contains(&code);
        let Some(call) = owned.call else {
            if first {
                self.events.push_back(EndpointEvent::Response {
                    call: None,
                    tx,
                    response,
                });
            }
            return;
        };
        match owned.purpose {
            Purpose::Invite if success => self.on_invite_2xx(now, call, tx, first, response),
            Purpose::ReInvite if success => {
                if first {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.our_invite = None;
                        if let Some(d) = c.dialog.as_mut() {
                            let _ = d.refresh_target(&response);
                        }
                    }
                    self.events.push_back(EndpointEvent::Response {
                        call: Some(call),
                        tx,
                        response: response.clone(),
                    });
                }
                self.ack_received_2xx(call, &response, first);
            }
            _ if !first => {}
            Purpose::Invite => {
                self.events.push_back(EndpointEvent::Response {
                    call: Some(call),
                    tx,
                    response,
                });
                self.end_call(call, EndReason::RejectedByPeer(code));
            }
            Purpose::ReInvite | Purpose::Update | Purpose::InDialog => {
                if let Some(c) = self.calls.get_mut(&call) {
                    if owned.purpose == Purpose::ReInvite {
                        c.our_invite = None;
                    }
                    if owned.purpose == Purpose::Update
                        && success
                        && let Some(d) = c.dialog.as_mut()
                    {
                        let _ = d.refresh_target(&response);
                    }
                }
                self.events.push_back(EndpointEvent::Response {
                    call: Some(call),
                    tx,
                    response,
                });
                if matches!(code, 481 | 408) {
                    self.end_call(call, EndReason::DialogGone(code));
                }
            }
            Purpose::Bye => {
                self.events.push_back(EndpointEvent::Response {
                    call: Some(call),
                    tx,
                    response,
                });
                self.end_call(call, EndReason::ByeSent);
            }
            Purpose::Cancel | Purpose::ForkBye | Purpose::OutOfDialog => {
                self.events.push_back(EndpointEvent::Response {
                    call: Some(call),
                    tx,
                    response,
                });
            }
        }
    }

    fn on_invite_2xx(
        &mut self,
        now: Time,
        call: CallKey,
        tx: TxKey,
        first: bool,
        response: SipMessage,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let id = DialogId::of_incoming_response(&response);
        let confirmed = c
            .dialog
            .as_ref()
            .filter(|d| d.state() == DialogState::Confirmed);
        if let Some(d) = confirmed {
            if id.as_ref() == Some(d.id()) {
                // A retransmission of the 2xx we already have: ACK again.
                self.ack_received_2xx(call, &response, false);
            } else if first || id.is_some() {
                self.end_fork(now, call, tx, &response);
            }
            return;
        }
        let dialog = match c.dialog.take() {
            Some(mut early) if id.as_ref() == Some(early.id()) => {
                early.confirm(&response).map(|()| early)
            }
            Some(early) => {
                self.dialogs.remove(early.id());
                Dialog::uac(&c.invite, &response)
            }
            None => Dialog::uac(&c.invite, &response),
        };
        self.events.push_back(EndpointEvent::Response {
            call: Some(call),
            tx,
            response: response.clone(),
        });
        let dialog = match dialog {
            Ok(d) => d,
            Err(e) => {
                self.end_call(call, EndReason::Invalid2xx(e));
                return;
            }
        };
        let id = dialog.id().clone();
        if let Some(c) = self.calls.get_mut(&call) {
            c.dialog = Some(dialog);
            c.phase = CallPhase::Established;
            c.invite_tx = None;
            c.cancel = Cancel::None;
        }
        self.deadlines.clear((call, CallTimer::CancelGuard));
        self.dialogs.insert(id.clone(), call);
        self.ack_received_2xx(call, &response, true);
        self.events
            .push_back(EndpointEvent::DialogEstablished { call, id });
    }

    /// ACKs a 2xx to one of our INVITEs: a new ACK for the first, the same bytes for
    /// retransmissions (§13.2.2.4), or an [`EndpointEvent::AckDue`] when auto ACK is off.
    fn ack_received_2xx(&mut self, call: CallKey, response: &SipMessage, first: bool) {
        let Ok(seq) = response.cseq().map(|c| c.seq) else {
            return;
        };
        if !self.config.auto_ack_2xx {
            if first {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.ack_due = Some(seq);
                }
                self.events.push_back(EndpointEvent::AckDue {
                    call,
                    invite_seq: seq,
                });
            }
            return;
        }
        let resend = self
            .calls
            .get(&call)
            .and_then(|c| c.sent_ack.clone())
            .filter(|a| a.invite_seq == seq);
        match resend {
            Some(ack) => self.push_direct(ack.to, ack.bytes),
            None => {
                let _ = self.ack_2xx(call, seq, &Extra::new());
            }
        }
    }

    /// Builds and sends the ACK for the 2xx to INVITE `seq` and remembers it.
    fn ack_2xx(&mut self, call: CallKey, seq: u32, extra: &Extra) -> Result<(), EndpointError> {
        let branch = self.new_branch();
        let c = self
            .calls
            .get(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        let target = self.next_hop(c).ok_or(EndpointError::NoDialog(call))?;
        let via = self.via(target.transport, &branch);
        let dialog = c.dialog.as_ref().ok_or(EndpointError::NoDialog(call))?;
        let msg = finish(dialog.ack(seq, &via), extra)?;
        let bytes = msg.raw().clone();
        if let Some(c) = self.calls.get_mut(&call) {
            c.sent_ack = Some(SentAck {
                invite_seq: seq,
                bytes: bytes.clone(),
                to: target,
            });
            if c.ack_due == Some(seq) {
                c.ack_due = None;
            }
        }
        self.push_direct(target, bytes);
        Ok(())
    }

    /// §13.2.2.4: a 2xx from another fork once we have a dialog: ACK it, then BYE it.
    fn end_fork(&mut self, now: Time, call: CallKey, tx: TxKey, response: &SipMessage) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Ok(mut fork) = Dialog::uac(&c.invite, response) else {
            return;
        };
        let target = c.peer;
        let seq = response.cseq().map(|s| s.seq).unwrap_or(1);
        self.events.push_back(EndpointEvent::Response {
            call: Some(call),
            tx,
            response: response.clone(),
        });
        let branch = self.new_branch();
        let via = self.via(target.transport, &branch);
        if let Ok(ack) = fork.ack(seq, &via).build() {
            self.push_direct(target, ack.raw().clone());
        }
        let branch = self.new_branch();
        let via = self.via(target.transport, &branch);
        if let Ok(bye) = fork.request(&Method::Bye, &via, None).build()
            && let Ok(bye_tx) = self.txs.send_request(now, target, bye)
        {
            self.own(bye_tx, Some(call), Purpose::ForkBye);
        }
    }

    /// A client transaction timed out or hit a transport error.
    fn on_failure(&mut self, tx: TxKey, reason: EndReason) {
        let Some(owned) = self.owned.get(&tx).cloned() else {
            return;
        };
        let Some(call) = owned.call else { return };
        match owned.purpose {
            Purpose::Invite
            | Purpose::Bye
            | Purpose::ReInvite
            | Purpose::Update
            | Purpose::InDialog => {
                // §12.2.1.2: no response to an in-dialog request → terminate the dialog.
                self.end_call(call, reason);
            }
            Purpose::Cancel | Purpose::ForkBye | Purpose::OutOfDialog => {}
        }
    }

    fn after_answer(
        &mut self,
        now: Time,
        tx: TxKey,
        inc: &IncomingTx,
        method: &Method,
        code: u16,
        msg: SipMessage,
    ) {
        let Some(call) = inc.call else { return };
        let success = (200..300).contains(&code);
        let final_ = code >= 200;
        match (&inc.context, method) {
            (RequestContext::NewCall, Method::Invite) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                if (101..300).contains(&code) {
                    let state = if success {
                        DialogState::Confirmed
                    } else {
                        DialogState::Early
                    };
                    match c.dialog.as_mut() {
                        Some(d) if success => d.confirm_uas(),
                        Some(_) => {}
                        None => {
                            if let Ok(d) = Dialog::uas(&inc.request, &c.local_tag, state) {
                                let id = d.id().clone();
                                c.dialog = Some(d);
                                self.dialogs.insert(id, call);
                            }
                        }
                    }
                }
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                if success {
                    if c.phase == CallPhase::Established {
                        // The TU sent the 2xx again by hand; our retransmissions run.
                        return;
                    }
                    c.phase = CallPhase::Established;
                    c.invite_tx = None;
                    c.their_invite = None;
                    let id = c.dialog.as_ref().map(|d| d.id().clone());
                    self.start_2xx_retransmission(now, call, &inc.request, msg);
                    if let Some(id) = id {
                        self.events
                            .push_back(EndpointEvent::DialogEstablished { call, id });
                    }
                } else if final_ {
                    self.end_call(call, EndReason::RejectedLocally(code));
                }
            }
            (RequestContext::InDialog, Method::Invite) if final_ => {
                if let Some(c) = self.calls.get_mut(&call) {
                    if c.their_invite == Some(tx) {
                        c.their_invite = None;
                    }
                    if success && let Some(d) = c.dialog.as_mut() {
                        let _ = d.refresh_target(&inc.request);
                    }
                }
                if success {
                    self.start_2xx_retransmission(now, call, &inc.request, msg);
                }
            }
            (RequestContext::InDialog, Method::Update) if success => {
                if let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
                    let _ = d.refresh_target(&inc.request);
                }
            }
            (RequestContext::InDialog, Method::Bye) if success => {
                self.end_call(call, EndReason::ByeReceived);
            }
            _ => {}
        }
    }

    // ---- internals: TU timers ------------------------------------------------------

    /// §13.3.1.4: retransmit the 2xx at T1, doubling up to T2, until ACK or 64*T1.
    fn start_2xx_retransmission(
        &mut self,
        now: Time,
        call: CallKey,
        invite: &SipMessage,
        response: SipMessage,
    ) {
        if !self.config.retransmit_2xx {
            return;
        }
        let timers = self.config.transactions.timers;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Ok(cseq) = invite.cseq() else { return };
        c.pending_2xx = Some(Pending2xx {
            invite_seq: cseq.seq,
            bytes: response.raw().clone(),
            to: c.peer,
            interval: timers.t1,
            give_up: now + timers.t1_x64(),
        });
        self.deadlines.set(
            (call, CallTimer::Retransmit2xx),
            now + timers.t1.max(Duration::from_micros(1)),
        );
    }

    fn on_retransmit_2xx(&mut self, now: Time, call: CallKey) {
        let t2 = self.config.transactions.timers.t2;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(p) = c.pending_2xx.as_mut() else {
            return;
        };
        if now >= p.give_up {
            c.pending_2xx = None;
            self.events.push_back(EndpointEvent::AckTimeout { call });
            return;
        }
        let (to, bytes) = (p.to, p.bytes.clone());
        p.interval = p.interval.saturating_mul(2).min(t2);
        let next = (now + p.interval.max(Duration::from_micros(1))).min(p.give_up);
        self.deadlines.set((call, CallTimer::Retransmit2xx), next);
        self.push_direct(to, bytes);
    }

    fn send_cancel(&mut self, now: Time, call: CallKey) -> Result<(), EndpointError> {
        let c = self
            .calls
            .get(&call)
            .ok_or(EndpointError::UnknownCall(call))?;
        let msg = cancel_for(&c.invite)?
            .build()
            .map_err(EndpointError::Build)?;
        let tx = self.txs.send_request(now, c.peer, msg)?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.cancel = Cancel::Sent;
        }
        self.own(tx, Some(call), Purpose::Cancel);
        let guard = now + self.config.transactions.timers.t1_x64();
        self.deadlines.set((call, CallTimer::CancelGuard), guard);
        Ok(())
    }

    /// §9.1: "If no final response has been received after 64*T1 seconds, the client
    /// SHOULD then consider the original transaction cancelled and SHOULD destroy the
    /// client transaction handling the original request."
    fn on_cancel_guard(&mut self, now: Time, call: CallKey) {
        let Some(invite_tx) = self.calls.get(&call).and_then(|c| c.invite_tx) else {
            return;
        };
        self.end_call(call, EndReason::CancelTimeout);
        self.txs.terminate(now, invite_tx);
    }

    fn end_call(&mut self, call: CallKey, reason: EndReason) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        if let Some(n) = self.calls_per_peer.get_mut(&c.peer.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.calls_per_peer.remove(&c.peer.addr);
            }
        }
        if let Some(d) = &c.dialog {
            self.dialogs.remove(d.id());
        }
        self.deadlines.clear((call, CallTimer::Retransmit2xx));
        self.deadlines.clear((call, CallTimer::CancelGuard));
        self.events
            .push_back(EndpointEvent::DialogTerminated { call, reason });
    }

    // ---- internals: building -------------------------------------------------------

    fn new_call_key(&mut self) -> CallKey {
        self.next_call += 1;
        CallKey(self.next_call)
    }

    fn own(&mut self, tx: TxKey, call: Option<CallKey>, purpose: Purpose) {
        self.owned.insert(
            tx,
            Owned {
                call,
                purpose,
                final_seen: false,
            },
        );
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let b: u8 = self.rng.random();
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    fn new_branch(&mut self) -> String {
        format!("{}{}", crate::transaction::MAGIC_COOKIE, self.random_hex(8))
    }

    fn via(&self, transport: Transport, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch}",
            transport.via_token(),
            self.config.local_addr
        )
    }

    fn push_direct(&mut self, to: PeerAddr, bytes: Bytes) {
        // Keep wire order: whatever the transactions queued first goes first.
        self.drain_tx_transmits();
        self.transmits.push_back(Transmit {
            to: to.addr,
            transport: to.transport,
            bytes,
            tx: None,
        });
    }

    /// Where an in-dialog request of call `c` goes (see [`NextHop`]); `None` without a
    /// dialog.
    fn next_hop(&self, c: &Call) -> Option<PeerAddr> {
        let d = c.dialog.as_ref()?;
        if self.config.next_hop == NextHop::Flow {
            return Some(c.peer);
        }
        let uri = d.next_hop();
        let transport = match uri.transport().as_deref() {
            Some("tcp") => Transport::Tcp,
            Some("udp") => Transport::Udp,
            _ => c.peer.transport,
        };
        Some(match uri.host.parse::<IpAddr>() {
            Ok(ip) => PeerAddr::new(SocketAddr::new(ip, uri.port.unwrap_or(5060)), transport),
            Err(_) => c.peer,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn out_of_dialog_request(
        &mut self,
        method: &Method,
        to_uri: &str,
        target: PeerAddr,
        local_tag: &str,
        call_id: &str,
        seq: u32,
        extra: Extra,
    ) -> Result<SipMessage, EndpointError> {
        let branch = self.new_branch();
        let via = self.via(target.transport, &branch);
        let mut b = MessageBuilder::request(method, to_uri);
        b = add(b, &extra, "Via", &via);
        b = add(b, &extra, "Max-Forwards", "70");
        b = add(
            b,
            &extra,
            "From",
            &format!("<{}>;tag={local_tag}", self.config.from_uri),
        );
        b = add(b, &extra, "To", &format!("<{to_uri}>"));
        b = add(b, &extra, "Call-ID", call_id);
        b = add(b, &extra, "CSeq", &format!("{seq} {method}"));
        if *method == Method::Invite {
            b = add(b, &extra, "Contact", &self.config.contact);
        }
        if let Some(ua) = &self.config.user_agent {
            b = add(b, &extra, "User-Agent", ua);
        }
        finish(b, &extra)
    }
}

/// Adds a standard header unless the caller omitted it.
fn add(b: MessageBuilder, extra: &Extra, name: &str, value: &str) -> MessageBuilder {
    if extra.omit.iter().any(|o| o.eq_ignore_ascii_case(name)) {
        b
    } else {
        b.header(name, value)
    }
}

/// Appends the caller's headers and body and parses the result.
fn finish(mut b: MessageBuilder, extra: &Extra) -> Result<SipMessage, EndpointError> {
    for (n, v) in &extra.headers {
        b = b.header(n, v);
    }
    if let Some(body) = &extra.body {
        b = b.body(&body.content_type, body.bytes.to_vec());
    }
    b.build().map_err(EndpointError::Build)
}
