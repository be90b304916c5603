//! RFC 3261 §17 transactions, sans-IO: client and server, INVITE and non-INVITE, with
//! timers A-M and UDP retransmissions.
//!
//! # What this owns
//!
//! [`Transactions`] is the endpoint-wide transaction table (quinn-proto's `Endpoint`
//! shape). It matches every incoming message to a transaction (§17.1.3, §17.2.3),
//! creates server transactions for new requests, runs the four state machines, and keeps
//! one timer index for all of them. It does not parse bytes (the caller hands it
//! [`SipMessage`]s), does not know dialogs ([`crate::dialog`]) and never decides a
//! response code: the transaction user (TU, e.g. [`crate::endpoint::Endpoint`]) does.
//!
//! # Driving it
//!
//! Methods come in four kinds, as in quinn-proto's `Connection`:
//! - input: [`handle`](Transactions::handle) (one parsed message and where it came
//!   from), [`handle_timeout`](Transactions::handle_timeout),
//!   [`handle_transport_error`](Transactions::handle_transport_error);
//! - commands from the TU: [`send_request`](Transactions::send_request),
//!   [`respond`](Transactions::respond), [`terminate`](Transactions::terminate);
//! - output: [`poll_transmit`](Transactions::poll_transmit),
//!   [`poll_event`](Transactions::poll_event), [`poll_timeout`](Transactions::poll_timeout);
//! - getters: [`state`](Transactions::state), [`request`](Transactions::request)...
//!
//! After each input or command, drain `poll_transmit` and `poll_event` until `None`,
//! then sleep until `poll_timeout` and call `handle_timeout` with the time you woke up.
//! A spurious or early `handle_timeout` is a no-op. Every method that depends on time
//! takes `now`; nothing reads a clock.
//!
//! ```
//! use recproof_sip::message::{MessageBuilder, Method};
//! use recproof_sip::time::Time;
//! use recproof_sip::transaction::{PeerAddr, Transactions, Transport, TxEvent, Timer};
//!
//! let mut txs = Transactions::default();
//! let invite = MessageBuilder::request(&Method::Invite, "sip:srs@192.0.2.9")
//!     .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKdoc1")
//!     .header("From", "<sip:src@192.0.2.1>;tag=a")
//!     .header("To", "<sip:srs@192.0.2.9>")
//!     .header("Call-ID", "doc@192.0.2.1")
//!     .header("CSeq", "1 INVITE")
//!     .build()
//!     .unwrap();
//! let peer = PeerAddr::new("192.0.2.9:5060".parse().unwrap(), Transport::Udp);
//! let key = txs.send_request(Time::ZERO, peer, invite).unwrap();
//! let mut sent = 0;
//! while let Some(at) = txs.poll_timeout() {
//!     txs.handle_timeout(at);
//!     while txs.poll_transmit().is_some() { sent += 1; }
//! }
//! // The first transmit was queued by send_request and drained with the first timeout.
//! assert_eq!(sent, 7);
//! assert_eq!(txs.poll_event(), Some(TxEvent::TimedOut { key, timer: Timer::B }));
//! ```
//!
//! # Deviations and choices (RFC text first)
//!
//! - RFC 6026 replaces "the client transaction MUST transition to Terminated" on a 2xx
//!   (§17.1.1.2) and the server equivalent (§17.2.1) with an Accepted state (Timers L and
//!   M). We implement RFC 6026: 2xx retransmissions still reach the TU, and INVITE
//!   retransmissions after a 2xx are absorbed instead of creating a new transaction.
//! - §18.2.2: "the response MUST be sent to the address indicated by the received
//!   parameter" (and the sent-by port). We send every response to the source address and
//!   port of the request instead (symmetric response routing, as RFC 3581 `rport` does).
//!   This reaches a SUT behind NAT and is what every SIPREC SUT we target does.
//! - §17.2.3 matching for requests without the `z9hG4bK` cookie (RFC 2543 peers) uses
//!   Request-URI, From tag, Call-ID, CSeq number and the top Via; it does not compare the
//!   To tag of an ACK with the tag of the response ("We ignore this, for now").
//! - Responses to client transactions are matched by branch and CSeq method only; we do
//!   not check the top Via's sent-by against our own (§18.1.2 says the transport layer
//!   should discard mismatches).

mod client;
mod server;
pub mod timer;

pub use client::ack_for_non_2xx;
pub use timer::{
    T1, T2, T4, TIMER_A, TIMER_B, TIMER_D, TIMER_E, TIMER_F, TIMER_G, TIMER_H, TIMER_I, TIMER_J,
    TIMER_K, TIMER_L, TIMER_M, TRYING_DELAY, Timer, TimerValues,
};

use crate::message::{HeaderError, MessageBuilder, Method, SipMessage};
use crate::time::Time;
use bytes::Bytes;
use client::{ClientInvite, ClientNonInvite};
use server::{ServerInvite, ServerNonInvite};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use timer::{Deadlines, TimerTable};

/// The RFC 3261 branch prefix ("magic cookie", §8.1.1.7) that marks a branch as unique
/// and usable as a transaction id.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// The transport a message travels on; decides whether retransmission timers run
/// (§17.1.1.2: "reliable transports" get none, and timers D, I, J, K are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// Unreliable: retransmissions and linger timers run.
    Udp,
    /// Reliable: no retransmissions; D, I, J, K are zero.
    Tcp,
}

impl Transport {
    /// True for stream transports.
    pub fn is_reliable(self) -> bool {
        matches!(self, Self::Tcp)
    }

    /// The token used in a Via header (`SIP/2.0/UDP`).
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Where a message came from or goes to: socket address plus transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerAddr {
    /// IP address and port.
    pub addr: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
}

impl PeerAddr {
    /// A peer at `addr` over `transport`.
    pub fn new(addr: SocketAddr, transport: Transport) -> Self {
        Self { addr, transport }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.transport)
    }
}

/// Identifies one transaction in a [`Transactions`] table. Keys are handed out in
/// increasing order and never reused, so runs with the same inputs get the same keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey(u64);

impl TxKey {
    /// The number behind the key, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx#{}", self.0)
    }
}

/// Bytes to put on the wire. The driver sends them and records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub to: SocketAddr,
    /// Transport to send on.
    pub transport: Transport,
    /// The message bytes, exactly as they must be sent.
    pub bytes: Bytes,
    /// The transaction that sent them, if any (ACKs for 2xx and TU retransmissions of
    /// 2xx are sent outside transactions). A driver that fails to send reports it with
    /// [`Transactions::handle_transport_error`].
    pub tx: Option<TxKey>,
}

impl Transmit {
    /// Destination as a [`PeerAddr`].
    pub fn peer(&self) -> PeerAddr {
        PeerAddr::new(self.to, self.transport)
    }
}

/// What a transaction tells its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A 1xx for client transaction `key` (each one is passed up, §17.1.1.2, §17.1.2.2).
    Provisional {
        /// The transaction.
        key: TxKey,
        /// The response.
        response: SipMessage,
    },
    /// A final response for client transaction `key`. For INVITE, every 2xx is passed up
    /// (including retransmissions, so the TU can ACK each one, §13.2.2.4); a non-2xx is
    /// passed up once and already ACKed by the transaction (§17.1.1.3).
    Final {
        /// The transaction.
        key: TxKey,
        /// The response.
        response: SipMessage,
    },
    /// Server INVITE transaction `key` received the ACK for its non-2xx final response.
    Acked {
        /// The transaction.
        key: TxKey,
    },
    /// Timer B, F (client: no final response) or H (server: no ACK) fired.
    TimedOut {
        /// The transaction.
        key: TxKey,
        /// Which timer.
        timer: Timer,
    },
    /// The driver reported that sending failed (§17.1.4, §17.2.4).
    TransportError {
        /// The transaction.
        key: TxKey,
    },
    /// The transaction reached Terminated and was removed; `key` is no longer valid.
    Terminated {
        /// The transaction.
        key: TxKey,
    },
}

/// Where an incoming message went; returned by [`Transactions::handle`], like quinn's
/// `DatagramEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A response for client transaction `key`; its meaning arrives via `poll_event`.
    ToClient(TxKey),
    /// A retransmitted request, or an ACK for a non-2xx, absorbed by server transaction
    /// `key` (any resulting retransmission is in `poll_transmit`).
    ToServer(TxKey),
    /// A new request; server transaction `key` was created and waits for the TU's
    /// response via [`Transactions::respond`].
    NewServer {
        /// The new server transaction.
        key: TxKey,
        /// The request.
        request: SipMessage,
    },
    /// A new CANCEL (§9.2). Server transaction `key` was created for it; `invite` is the
    /// server INVITE transaction it targets, if one matches. The TU answers both
    /// (200 to the CANCEL and 487 to the INVITE, or 481 when `invite` is `None`).
    Cancel {
        /// The CANCEL's own server transaction.
        key: TxKey,
        /// The CANCEL.
        request: SipMessage,
        /// The server INVITE transaction with the same branch, sent-by and Request-URI.
        invite: Option<TxKey>,
    },
    /// An ACK that matches no transaction: the ACK for a 2xx, which belongs to the TU
    /// (§17.2.3, §13.3.1.4). Also an ACK matching a server INVITE in Accepted.
    Ack(SipMessage),
    /// A response matching no client transaction (§18.1.2: pass to the core, which may
    /// ACK a retransmitted 2xx).
    StrayResponse(SipMessage),
    /// The message lacks what transaction matching needs (top Via, CSeq...). The TU may
    /// answer a request with 400 statelessly if it can.
    Invalid {
        /// The message.
        message: SipMessage,
        /// What was missing.
        error: TxError,
    },
}

/// The four transaction kinds (§17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// Client INVITE (§17.1.1).
    ClientInvite,
    /// Client non-INVITE (§17.1.2).
    ClientNonInvite,
    /// Server INVITE (§17.2.1).
    ServerInvite,
    /// Server non-INVITE (§17.2.2).
    ServerNonInvite,
}

/// Every transaction state, as the RFC names them (for getters and logs; the state
/// machines keep richer private enums).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxState {
    /// Client INVITE, request sent.
    Calling,
    /// Non-INVITE, request sent or received.
    Trying,
    /// A provisional response seen or sent (or server INVITE waiting for the TU).
    Proceeding,
    /// A final response seen or sent; absorbing retransmissions.
    Completed,
    /// Server INVITE, ACK received.
    Confirmed,
    /// INVITE, 2xx seen or sent (RFC 6026).
    Accepted,
    /// Finished.
    Terminated,
}

/// Why the table refused a command or could not route a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// A client transaction needs a request, `respond` needs a response.
    #[error("expected a {expected}, got `{got}`")]
    WrongMessageKind {
        /// "request" or "response".
        expected: &'static str,
        /// The start line.
        got: String,
    },
    /// The top Via is missing or unreadable.
    #[error("no usable top Via")]
    Via(#[source] HeaderError),
    /// The top Via has no branch (required for requests we send, §8.1.1.7).
    #[error("top Via has no branch parameter (RFC 3261 §8.1.1.7)")]
    NoBranch,
    /// A branch we send must start with the magic cookie.
    #[error("branch `{0}` does not start with `z9hG4bK` (RFC 3261 §8.1.1.7)")]
    NotRfc3261Branch(String),
    /// CSeq missing or unreadable.
    #[error("no usable CSeq")]
    CSeq(#[source] HeaderError),
    /// CSeq method differs from the request method (§8.1.1.5).
    #[error("CSeq method `{cseq}` differs from request method `{method}` (RFC 3261 §8.1.1.5)")]
    CSeqMethodMismatch {
        /// Method in the request line.
        method: String,
        /// Method in CSeq.
        cseq: String,
    },
    /// A new request from a peer that already has
    /// [`TransactionConfig::max_server_per_peer`] server transactions open.
    #[error(
        "refused with 503: {open} transactions from this peer are still open, the most the harness keeps per peer"
    )]
    TooManyTransactions {
        /// Server transactions open for the peer.
        open: usize,
    },
    /// Call-ID missing (needed to match RFC 2543 requests).
    #[error("no Call-ID")]
    NoCallId,
    /// ACK is not a transaction of its own (§17.1.1.3 for non-2xx, §13.2.2.4 for 2xx).
    #[error(
        "ACK is not sent in a client transaction (RFC 3261 §17.1.1.3, §13.2.2.4); transmit it directly"
    )]
    AckIsNotATransaction,
    /// A client transaction with this branch and method exists already.
    #[error("a client transaction with branch `{branch}` and method `{method}` already exists")]
    Duplicate {
        /// Branch.
        branch: String,
        /// Method.
        method: String,
    },
    /// No such transaction (never existed or already terminated).
    #[error("no transaction {0} (terminated or never created)")]
    Unknown(TxKey),
    /// `respond` on a client transaction.
    #[error("{0} is a client transaction; only server transactions take responses")]
    NotServer(TxKey),
    /// The state does not accept a response with that code.
    #[error("{key} is {state:?} and cannot send a {code} response")]
    WrongState {
        /// The transaction.
        key: TxKey,
        /// Its state.
        state: TxState,
        /// The refused status code.
        code: u16,
    },
}

/// Settings for a [`Transactions`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// T1, T2, T4 and the values derived from them.
    pub timers: TimerValues,
    /// Send 100 Trying when the TU has not answered an INVITE within
    /// [`TimerValues::trying_delay`] (§17.2.1). A fault profile may turn it off.
    pub auto_trying: bool,
    /// Server transactions kept open for one peer address at once; a new request beyond
    /// it is refused (the endpoint answers 503 statelessly and reports the bytes), so a
    /// peer sending new requests faster than they end (a non-INVITE lingers 32 s over
    /// UDP) cannot make the table grow without limit.
    pub max_server_per_peer: usize,
}

/// Default of [`TransactionConfig::max_server_per_peer`]: a load generator or platform
/// placing 750 calls a second from one address (an INVITE and a BYE each, both kept 32 s
/// over UDP) fits; a flood beyond it is refused, and the table stays near 150 MB at most
/// per peer.
pub const MAX_SERVER_TRANSACTIONS_PER_PEER: usize = 50_000;

impl Default for TransactionConfig {
    fn default() -> Self {
        Self {
            timers: TimerValues::default(),
            auto_trying: true,
            max_server_per_peer: MAX_SERVER_TRANSACTIONS_PER_PEER,
        }
    }
}

/// Output queues shared by the state machines.
#[derive(Debug, Default)]
pub(crate) struct Out {
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

impl Out {
    pub(crate) fn transmit(&mut self, to: PeerAddr, bytes: Bytes, tx: Option<TxKey>) {
        self.transmits.push_back(Transmit {
            to: to.addr,
            transport: to.transport,
            bytes,
            tx,
        });
    }

    pub(crate) fn event(&mut self, e: TxEvent) {
        self.events.push_back(e);
    }
}

/// Repeating timers never get a zero interval, so a misconfigured T1 of zero cannot make
/// `handle_timeout` spin.
pub(crate) fn at_least_tick(d: Duration) -> Duration {
    d.max(Duration::from_micros(1))
}

/// The first Via value as text (a field may hold several, comma-separated).
pub(crate) fn top_via_text(msg: &SipMessage) -> Option<String> {
    msg.header_list("Via").into_iter().next()
}

// The variant names are the RFC's names for the four kinds.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone)]
enum Tx {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

macro_rules! each_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            Tx::ClientInvite($t) => $body,
            Tx::ClientNonInvite($t) => $body,
            Tx::ServerInvite($t) => $body,
            Tx::ServerNonInvite($t) => $body,
        }
    };
}

impl Tx {
    fn timers(&self) -> TimerTable {
        each_tx!(self, t => t.timers())
    }
    fn state(&self) -> TxState {
        each_tx!(self, t => t.state())
    }
    fn request(&self) -> &SipMessage {
        each_tx!(self, t => t.request())
    }
    fn peer(&self) -> PeerAddr {
        each_tx!(self, t => t.peer())
    }
    fn terminate(&mut self) {
        each_tx!(self, t => t.terminate())
    }
    fn kind(&self) -> TxKind {
        match self {
            Self::ClientInvite(_) => TxKind::ClientInvite,
            Self::ClientNonInvite(_) => TxKind::ClientNonInvite,
            Self::ServerInvite(_) => TxKind::ServerInvite,
            Self::ServerNonInvite(_) => TxKind::ServerNonInvite,
        }
    }
    fn on_timeout(&mut self, now: Time, cfg: &TimerValues, out: &mut Out) {
        match self {
            Self::ClientInvite(t) => t.on_timeout(now, cfg, out),
            Self::ClientNonInvite(t) => t.on_timeout(now, cfg, out),
            Self::ServerInvite(t) => t.on_timeout(now, cfg, out),
            Self::ServerNonInvite(t) => t.on_timeout(now),
        }
    }
}

/// Client matching key (§17.1.3): branch of the top Via and CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientMatch {
    branch: String,
    method: String,
}

/// Server matching key (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerMatch {
    /// RFC 3261 branch: branch, sent-by and method (ACK counts as INVITE).
    Branch {
        branch: String,
        host: String,
        port: u16,
        method: String,
    },
    /// RFC 2543 peer: no magic cookie.
    Legacy {
        request_uri: String,
        from_tag: Option<String>,
        call_id: String,
        cseq: u32,
        via: String,
        method: String,
    },
}

#[derive(Debug, Clone)]
enum IndexKey {
    Client(ClientMatch),
    Server(ServerMatch),
}

#[derive(Debug, Clone)]
struct Entry {
    tx: Tx,
    index: IndexKey,
    /// The peer of a server transaction (counted in `server_per_peer`).
    peer: Option<std::net::SocketAddr>,
}

fn default_port(via_transport: &str) -> u16 {
    if via_transport.eq_ignore_ascii_case("TLS") {
        5061
    } else {
        5060
    }
}

/// Computes the server key of `request` as if its method were `method`.
fn server_match(request: &SipMessage, method: &Method) -> Result<ServerMatch, TxError> {
    let via = request.top_via().map_err(TxError::Via)?;
    let cseq = request.cseq().map_err(TxError::CSeq)?;
    match via.branch {
        Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(ServerMatch::Branch {
            host: via.host.to_ascii_lowercase(),
            port: via.port.unwrap_or_else(|| default_port(&via.transport)),
            branch,
            method: method.as_str().to_owned(),
        }),
        _ => Ok(ServerMatch::Legacy {
            request_uri: request.request_uri().unwrap_or_default().to_owned(),
            from_tag: request
                .from_header()
                .ok()
                .and_then(|f| f.tag().map(str::to_owned)),
            call_id: request.call_id().map_err(|_| TxError::NoCallId)?.to_owned(),
            cseq: cseq.seq,
            via: top_via_text(request).unwrap_or_default(),
            method: method.as_str().to_owned(),
        }),
    }
}

/// Checks that the CSeq method equals the request method (ACK and CANCEL included).
fn check_cseq_method(request: &SipMessage, method: &Method) -> Result<(), TxError> {
    let cseq = request.cseq().map_err(TxError::CSeq)?;
    if &cseq.method != method {
        return Err(TxError::CSeqMethodMismatch {
            method: method.as_str().to_owned(),
            cseq: cseq.method.as_str().to_owned(),
        });
    }
    Ok(())
}

fn start_line(msg: &SipMessage) -> String {
    msg.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The endpoint-wide transaction table. See the [module docs](self) for the driving
/// contract.
#[derive(Debug, Default)]
pub struct Transactions {
    config: TransactionConfig,
    next_key: u64,
    txs: BTreeMap<TxKey, Entry>,
    client_index: HashMap<ClientMatch, TxKey>,
    server_index: HashMap<ServerMatch, TxKey>,
    /// Open server transactions per peer address.
    server_per_peer: HashMap<std::net::SocketAddr, usize>,
    deadlines: Deadlines<(TxKey, Timer)>,
    out: Out,
}

impl Transactions {
    /// An empty table.
    pub fn new(config: TransactionConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    // ---- input ---------------------------------------------------------------------

    /// Routes one incoming message (§17.1.3 for responses, §17.2.3 for requests) and
    /// runs the matched transaction. Never fails: what cannot be routed comes back as
    /// [`Routed::Invalid`] or a stray.
    pub fn handle(&mut self, now: Time, from: PeerAddr, msg: SipMessage) -> Routed {
        if msg.is_request() {
            self.handle_request(now, from, msg)
        } else {
            self.handle_response(now, msg)
        }
    }

    fn handle_request(&mut self, now: Time, from: PeerAddr, msg: SipMessage) -> Routed {
        let Some(method) = msg.method().cloned() else {
            return Routed::StrayResponse(msg);
        };
        if let Err(error) = check_cseq_method(&msg, &method) {
            return Routed::Invalid {
                message: msg,
                error,
            };
        }
        let is_ack = method == Method::Ack;
        let key_method = if is_ack {
            Method::Invite
        } else {
            method.clone()
        };
        let matcher = match server_match(&msg, &key_method) {
            Ok(m) => m,
            Err(error) => {
                return Routed::Invalid {
                    message: msg,
                    error,
                };
            }
        };
        if let Some(&key) = self.server_index.get(&matcher) {
            let accepted = matches!(
                self.txs.get(&key),
                Some(Entry { tx: Tx::ServerInvite(t), .. }) if t.is_accepted()
            );
            if is_ack && accepted {
                return Routed::Ack(msg);
            }
            self.drive(key, |tx, out, cfg| match tx {
                Tx::ServerInvite(t) => t.on_request(now, is_ack, &cfg.timers, out),
                Tx::ServerNonInvite(t) => t.on_request(out),
                Tx::ClientInvite(_) | Tx::ClientNonInvite(_) => {}
            });
            return Routed::ToServer(key);
        }
        if is_ack {
            return Routed::Ack(msg);
        }
        let open = self.server_per_peer.get(&from.addr).copied().unwrap_or(0);
        if open >= self.config.max_server_per_peer {
            return Routed::Invalid {
                message: msg,
                error: TxError::TooManyTransactions { open },
            };
        }
        let key = self.new_key();
        let timers = self.config.timers;
        let tx = if method == Method::Invite {
            Tx::ServerInvite(ServerInvite::start(
                now,
                key,
                from,
                msg.clone(),
                &timers,
                self.config.auto_trying,
            ))
        } else {
            Tx::ServerNonInvite(ServerNonInvite::start(key, from, msg.clone()))
        };
        self.insert_server(key, tx, matcher, from.addr);
        if method == Method::Cancel {
            let invite = server_match(&msg, &Method::Invite)
                .ok()
                .and_then(|m| self.server_index.get(&m).copied());
            return Routed::Cancel {
                key,
                request: msg,
                invite,
            };
        }
        Routed::NewServer { key, request: msg }
    }

    fn handle_response(&mut self, now: Time, msg: SipMessage) -> Routed {
        let Some(code) = msg.status() else {
            return Routed::StrayResponse(msg);
        };
        let branch = match msg.top_via() {
            Ok(v) => v.branch.unwrap_or_default(),
            Err(e) => {
                return Routed::Invalid {
                    message: msg,
                    error: TxError::Via(e),
                };
            }
        };
        let cseq = match msg.cseq() {
            Ok(c) => c,
            Err(e) => {
                return Routed::Invalid {
                    message: msg,
                    error: TxError::CSeq(e),
                };
            }
        };
        let matcher = ClientMatch {
            branch,
            method: cseq.method.as_str().to_owned(),
        };
        let Some(&key) = self.client_index.get(&matcher) else {
            return Routed::StrayResponse(msg);
        };
        self.drive(key, |tx, out, cfg| match tx {
            Tx::ClientInvite(t) => t.on_response(now, msg, code, &cfg.timers, out),
            Tx::ClientNonInvite(t) => t.on_response(now, msg, code, &cfg.timers, out),
            Tx::ServerInvite(_) | Tx::ServerNonInvite(_) => {}
        });
        Routed::ToClient(key)
    }

    /// Fires every timer due at or before `now`. Calling it early, twice, or with no
    /// timer due does nothing.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some((key, _timer)) = self.deadlines.pop_expired(now) {
            self.drive(key, |tx, out, cfg| tx.on_timeout(now, &cfg.timers, out));
        }
    }

    /// The driver could not send for transaction `key` (connection refused, ICMP error):
    /// the transaction reports [`TxEvent::TransportError`] and terminates (§17.1.4,
    /// §17.2.4). Unknown keys are ignored.
    pub fn handle_transport_error(&mut self, _now: Time, key: TxKey) {
        self.drive(key, |tx, out, _| {
            out.event(TxEvent::TransportError { key });
            tx.terminate();
        });
    }

    // ---- commands ------------------------------------------------------------------

    /// Starts a client transaction for `request` towards `to` and sends it.
    ///
    /// The request must carry a top Via whose branch starts with [`MAGIC_COOKIE`] and a
    /// CSeq whose method matches; ACK is refused (it is not a transaction). A CANCEL is
    /// its own non-INVITE transaction with the INVITE's branch (§9.1).
    pub fn send_request(
        &mut self,
        now: Time,
        to: PeerAddr,
        request: SipMessage,
    ) -> Result<TxKey, TxError> {
        let Some(method) = request.method().cloned() else {
            return Err(TxError::WrongMessageKind {
                expected: "request",
                got: start_line(&request),
            });
        };
        if method == Method::Ack {
            return Err(TxError::AckIsNotATransaction);
        }
        check_cseq_method(&request, &method)?;
        let branch = request
            .top_via()
            .map_err(TxError::Via)?
            .branch
            .ok_or(TxError::NoBranch)?;
        if !branch.starts_with(MAGIC_COOKIE) {
            return Err(TxError::NotRfc3261Branch(branch));
        }
        let matcher = ClientMatch {
            branch,
            method: method.as_str().to_owned(),
        };
        if self.client_index.contains_key(&matcher) {
            return Err(TxError::Duplicate {
                branch: matcher.branch,
                method: matcher.method,
            });
        }
        let key = self.new_key();
        let timers = self.config.timers;
        let tx = if method == Method::Invite {
            Tx::ClientInvite(ClientInvite::start(
                now,
                key,
                to,
                request,
                &timers,
                &mut self.out,
            ))
        } else {
            Tx::ClientNonInvite(ClientNonInvite::start(
                now,
                key,
                to,
                request,
                &timers,
                &mut self.out,
            ))
        };
        self.insert(key, tx, IndexKey::Client(matcher));
        Ok(key)
    }

    /// Sends `response` in server transaction `key` (§17.2.1, §17.2.2). Refused when
    /// the state does not allow it (a second final response, for example).
    pub fn respond(&mut self, now: Time, key: TxKey, response: SipMessage) -> Result<(), TxError> {
        let Some(code) = response.status() else {
            return Err(TxError::WrongMessageKind {
                expected: "response",
                got: start_line(&response),
            });
        };
        self.drive(key, |tx, out, cfg| match tx {
            Tx::ServerInvite(t) => t.respond(now, &response, code, &cfg.timers, out),
            Tx::ServerNonInvite(t) => t.respond(now, &response, code, &cfg.timers, out),
            Tx::ClientInvite(_) | Tx::ClientNonInvite(_) => Err(TxError::NotServer(key)),
        })
        .unwrap_or(Err(TxError::Unknown(key)))
    }

    /// Ends transaction `key` now, silently except for [`TxEvent::Terminated`]. For the
    /// TU's own give-up rules, such as §9.1's "destroy the client transaction" 64*T1
    /// after a CANCEL that got no final response to the INVITE.
    pub fn terminate(&mut self, _now: Time, key: TxKey) {
        self.drive(key, |tx, _, _| tx.terminate());
    }

    // ---- output --------------------------------------------------------------------

    /// The next message to send, in the order they were produced.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.out.events.pop_front()
    }

    /// The earliest timer deadline, if any transaction has one.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.deadlines.next()
    }

    // ---- getters -------------------------------------------------------------------

    /// The state of transaction `key`, or `None` once it is gone.
    pub fn state(&self, key: TxKey) -> Option<TxState> {
        self.txs.get(&key).map(|e| e.tx.state())
    }

    /// The kind of transaction `key`.
    pub fn kind(&self, key: TxKey) -> Option<TxKind> {
        self.txs.get(&key).map(|e| e.tx.kind())
    }

    /// The request that created transaction `key`.
    pub fn request(&self, key: TxKey) -> Option<&SipMessage> {
        self.txs.get(&key).map(|e| e.tx.request())
    }

    /// The peer of transaction `key` (destination for client, source for server).
    pub fn peer(&self, key: TxKey) -> Option<PeerAddr> {
        self.txs.get(&key).map(|e| e.tx.peer())
    }

    /// When timer `timer` of transaction `key` fires, if it is running.
    pub fn timer(&self, key: TxKey, timer: Timer) -> Option<Time> {
        self.txs.get(&key).and_then(|e| e.tx.timers().get(timer))
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    // ---- internals -----------------------------------------------------------------

    fn new_key(&mut self) -> TxKey {
        self.next_key += 1;
        TxKey(self.next_key)
    }

    fn insert_server(
        &mut self,
        key: TxKey,
        tx: Tx,
        matcher: ServerMatch,
        peer: std::net::SocketAddr,
    ) {
        *self.server_per_peer.entry(peer).or_default() += 1;
        self.insert_entry(key, tx, IndexKey::Server(matcher), Some(peer));
    }

    fn insert(&mut self, key: TxKey, tx: Tx, index: IndexKey) {
        self.insert_entry(key, tx, index, None);
    }

    fn insert_entry(
        &mut self,
        key: TxKey,
        tx: Tx,
        index: IndexKey,
        peer: Option<std::net::SocketAddr>,
    ) {
        match &index {
            IndexKey::Client(m) => self.client_index.insert(m.clone(), key),
            IndexKey::Server(m) => self.server_index.insert(m.clone(), key),
        };
        let timers = tx.timers();
        self.txs.insert(key, Entry { tx, index, peer });
        self.sync_timers(key, &timers);
        // A reliable-transport transaction may already be Terminated (never, today,
        // at creation; kept for safety).
        self.reap(key);
    }

    /// Runs `f` on transaction `key`, then brings the timer index in line with the
    /// transaction's table and removes it if it terminated.
    fn drive<R>(
        &mut self,
        key: TxKey,
        f: impl FnOnce(&mut Tx, &mut Out, &TransactionConfig) -> R,
    ) -> Option<R> {
        let entry = self.txs.get_mut(&key)?;
        let r = f(&mut entry.tx, &mut self.out, &self.config);
        let timers = entry.tx.timers();
        self.sync_timers(key, &timers);
        self.reap(key);
        Some(r)
    }

    fn sync_timers(&mut self, key: TxKey, timers: &TimerTable) {
        for t in Timer::ALL {
            self.deadlines.put((key, t), timers.get(t));
        }
    }

    fn reap(&mut self, key: TxKey) {
        let terminated = self
            .txs
            .get(&key)
            .is_some_and(|e| e.tx.state() == TxState::Terminated);
        if !terminated {
            return;
        }
        if let Some(entry) = self.txs.remove(&key) {
            match entry.index {
                IndexKey::Client(m) => {
                    self.client_index.remove(&m);
                }
                IndexKey::Server(m) => {
                    self.server_index.remove(&m);
                }
            }
            if let Some(peer) = entry.peer
                && let Some(n) = self.server_per_peer.get_mut(&peer)
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.server_per_peer.remove(&peer);
                }
            }
        }
        for t in Timer::ALL {
            self.deadlines.clear((key, t));
        }
        self.out.event(TxEvent::Terminated { key });
    }
}

/// Builds the CANCEL for `invite` (§9.1): same Request-URI, Call-ID, From, To (without
/// a tag the INVITE did not have), CSeq number and Route headers, method CANCEL, and a
/// single Via equal to the INVITE's top Via so it shares its branch.
pub fn cancel_for(invite: &SipMessage) -> Result<MessageBuilder, TxError> {
    if invite.method() != Some(&Method::Invite) {
        return Err(TxError::WrongMessageKind {
            expected: "INVITE request",
            got: start_line(invite),
        });
    }
    let cseq = invite.cseq().map_err(TxError::CSeq)?;
    let via = top_via_text(invite).ok_or(TxError::Via(HeaderError::Missing("Via")))?;
    let mut b = MessageBuilder::request(&Method::Cancel, invite.request_uri().unwrap_or_default())
        .header("Via", &via)
        .header("Max-Forwards", "70");
    for name in ["From", "To", "Call-ID"] {
        if let Some(v) = invite.header_value(name) {
            b = b.header(name, v);
        }
    }
    b = b.header("CSeq", &format!("{} CANCEL", cseq.seq));
    for route in invite.headers_named("Route") {
        b = b.header("Route", &route.value);
    }
    Ok(b)
}
