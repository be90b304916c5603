//! SIP transports on tokio: UDP datagrams and TCP streams framed by Content-Length.
//!
//! This module owns sockets and nothing else. It turns what arrives into
//! [`Inbound`] items (a whole message's bytes, who sent it, over which transport, and
//! when) and sends bytes it is given. It never parses beyond framing and never decides
//! anything about SIP: the sans-IO cores in `recproof-sip` do that.
//!
//! A SIPREC INVITE is usually over 1,300 bytes, which is where RFC 3261 §18.1.1 wants
//! TCP, so both transports are first-class. On TCP, a peer that sends something that
//! cannot be framed (no Content-Length, an endless header section) produces an
//! [`Inbound`] with [`InboundKind::Unframeable`] carrying the bytes, and the connection is
//! closed: the harness records the evidence and carries on.

use bytes::{Buf, BytesMut};
use sip::framing::{Frame, frame};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

pub use sip::transaction::Transport;

/// What a transport received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The remote address.
    pub from: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// When it arrived (tokio's clock, so paused/simulated time applies).
    pub at: Instant,
    /// What it is.
    pub kind: InboundKind,
}

/// The content of an [`Inbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundKind {
    /// One message's bytes (a datagram, or one framed TCP message).
    Message(Vec<u8>),
    /// TCP bytes that could not be framed; the connection was closed.
    Unframeable {
        /// The buffered bytes (capped at what framing examined).
        bytes: Vec<u8>,
        /// Why framing failed.
        reason: String,
    },
    /// A TCP connection closed.
    Closed,
}

/// Errors setting up or using a transport. Peer misbehaviour is never one of these.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Binding a socket failed.
    #[error(
        "cannot bind {transport:?} socket on {addr} (is the port in use? pick another with --listen)"
    )]
    Bind {
        /// Transport being bound.
        transport: Transport,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Sending failed.
    #[error("cannot send to {to} over {transport:?}")]
    Send {
        /// Transport used.
        transport: Transport,
        /// Destination.
        to: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Largest UDP datagram read (IPv4 maximum payload).
pub const MAX_DATAGRAM: usize = 65_507;

type Connections = Arc<Mutex<HashMap<SocketAddr, OwnedWriteHalf>>>;

/// A UDP socket and a TCP listener on the same address, delivering everything that
/// arrives on one channel.
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    tcp_local: SocketAddr,
    connections: Connections,
    inbound_tx: mpsc::Sender<Inbound>,
    inbound: mpsc::Receiver<Inbound>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SipTransport {
    /// Binds UDP and TCP on `addr` (port 0 picks a free port; TCP then takes the same
    /// port number as UDP when it is free, else its own).
    pub async fn bind(addr: SocketAddr) -> Result<Self, TransportError> {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| TransportError::Bind {
                transport: Transport::Udp,
                addr,
                source,
            })?;
        let local = udp.local_addr().map_err(|source| TransportError::Bind {
            transport: Transport::Udp,
            addr,
            source,
        })?;
        let listener = match TcpListener::bind(local).await {
            Ok(l) => l,
            Err(_) if addr.port() == 0 => TcpListener::bind(SocketAddr::new(addr.ip(), 0))
                .await
                .map_err(|source| TransportError::Bind {
                    transport: Transport::Tcp,
                    addr,
                    source,
                })?,
            Err(source) => {
                return Err(TransportError::Bind {
                    transport: Transport::Tcp,
                    addr: local,
                    source,
                });
            }
        };
        let tcp_local = listener
            .local_addr()
            .map_err(|source| TransportError::Bind {
                transport: Transport::Tcp,
                addr,
                source,
            })?;
        let udp = Arc::new(udp);
        let (inbound_tx, inbound) = mpsc::channel(4096);
        let connections: Connections = Arc::default();
        let tasks = vec![
            tokio::spawn(udp_reader(udp.clone(), inbound_tx.clone())),
            tokio::spawn(tcp_acceptor(
                listener,
                connections.clone(),
                inbound_tx.clone(),
            )),
        ];
        Ok(Self {
            udp,
            local,
            tcp_local,
            connections,
            inbound_tx,
            inbound,
            tasks,
        })
    }

    /// The UDP address (what goes in Via and Contact for UDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The TCP listening address.
    pub fn tcp_local_addr(&self) -> SocketAddr {
        self.tcp_local
    }

    /// Waits for the next inbound item. `None` only after the transport is shut down.
    pub async fn recv(&mut self) -> Option<Inbound> {
        self.inbound.recv().await
    }

    /// Sends one message. For TCP, reuses a connection to `to` (either direction) or opens
    /// one, as RFC 3261 §18.1.1 and §18.2.2 describe.
    pub async fn send(
        &self,
        transport: Transport,
        to: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), TransportError> {
        let err = |source| TransportError::Send {
            transport,
            to,
            source,
        };
        match transport {
            Transport::Udp => self.udp.send_to(bytes, to).await.map(|_| ()).map_err(err),
            Transport::Tcp => {
                let mut conns = self.connections.lock().await;
                if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(to) {
                    let stream = TcpStream::connect(to).await.map_err(err)?;
                    let (read, write) = stream.into_split();
                    slot.insert(write);
                    tokio::spawn(tcp_reader(
                        read,
                        to,
                        self.connections.clone(),
                        self.inbound_tx.clone(),
                    ));
                }
                let Some(write) = conns.get_mut(&to) else {
                    return Err(err(std::io::Error::other("connection vanished")));
                };
                if let Err(e) = write.write_all(bytes).await {
                    conns.remove(&to);
                    return Err(err(e));
                }
                Ok(())
            }
        }
    }
}

impl Drop for SipTransport {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn udp_reader(udp: Arc<UdpSocket>, tx: mpsc::Sender<Inbound>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf).await else {
            // ICMP port-unreachable surfaces as an error on some systems; keep reading.
            continue;
        };
        let item = Inbound {
            from,
            transport: Transport::Udp,
            at: Instant::now(),
            kind: InboundKind::Message(buf[..n].to_vec()),
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, conns: Connections, tx: mpsc::Sender<Inbound>) {
    while let Ok((stream, peer)) = listener.accept().await {
        let (read, write) = stream.into_split();
        conns.lock().await.insert(peer, write);
        tokio::spawn(tcp_reader(read, peer, conns.clone(), tx.clone()));
    }
}

async fn tcp_reader(
    mut read: tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    conns: Connections,
    tx: mpsc::Sender<Inbound>,
) {
    let mut buf = BytesMut::with_capacity(8192);
    let inbound = |kind| Inbound {
        from: peer,
        transport: Transport::Tcp,
        at: Instant::now(),
        kind,
    };
    'conn: loop {
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frame(&buf) {
                Ok(Frame::KeepAlive(n)) => buf.advance(n),
                Ok(Frame::Complete { len }) => {
                    let msg = buf.split_to(len).to_vec();
                    if tx.send(inbound(InboundKind::Message(msg))).await.is_err() {
                        break 'conn;
                    }
                }
                Ok(Frame::Incomplete) => break,
                Err(e) => {
                    let bytes = buf.split().to_vec();
                    let _ = tx
                        .send(inbound(InboundKind::Unframeable {
                            bytes,
                            reason: e.to_string(),
                        }))
                        .await;
                    break 'conn;
                }
            }
        }
    }
    conns.lock().await.remove(&peer);
    let _ = tx.send(inbound(InboundKind::Closed)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OPTIONS: &[u8] =
        b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody";

    async fn pair() -> (SipTransport, SipTransport) {
        let lo: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        (
            SipTransport::bind(lo).await.expect("bind a"),
            SipTransport::bind(lo).await.expect("bind b"),
        )
    }

    async fn next(t: &mut SipTransport) -> Inbound {
        tokio::time::timeout(Duration::from_secs(5), t.recv())
            .await
            .expect("no timeout")
            .expect("open")
    }

    #[tokio::test]
    async fn udp_and_tcp_deliver_whole_messages() {
        let (a, mut b) = pair().await;
        a.send(Transport::Udp, b.local_addr(), OPTIONS)
            .await
            .expect("udp send");
        let got = next(&mut b).await;
        assert_eq!(
            (got.transport, got.kind),
            (Transport::Udp, InboundKind::Message(OPTIONS.to_vec()))
        );

        // Two messages in one write, then one split across writes: framing recovers both.
        let mut two = OPTIONS.to_vec();
        two.extend_from_slice(OPTIONS);
        a.send(Transport::Tcp, b.tcp_local_addr(), &two)
            .await
            .expect("tcp send");
        a.send(Transport::Tcp, b.tcp_local_addr(), &OPTIONS[..10])
            .await
            .expect("tcp send");
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.send(Transport::Tcp, b.tcp_local_addr(), &OPTIONS[10..])
            .await
            .expect("tcp send");
        let mut peer = None;
        for _ in 0..3 {
            let got = next(&mut b).await;
            assert_eq!(
                (got.transport, &got.kind),
                (Transport::Tcp, &InboundKind::Message(OPTIONS.to_vec()))
            );
            peer = Some(got.from);
        }
        // b answers over the connection a opened (RFC 3261 §18.2.2), and a receives it.
        let mut a = a;
        b.send(Transport::Tcp, peer.expect("peer"), OPTIONS)
            .await
            .expect("reply");
        let got = next(&mut a).await;
        assert_eq!(
            (got.transport, got.from),
            (Transport::Tcp, b.tcp_local_addr())
        );
    }

    #[tokio::test]
    async fn unframeable_tcp_input_is_reported_and_closed() {
        let (a, mut b) = pair().await;
        a.send(
            Transport::Tcp,
            b.tcp_local_addr(),
            b"BYE sip:x SIP/2.0\r\nCall-ID: y\r\n\r\n",
        )
        .await
        .expect("send");
        let got = next(&mut b).await;
        match got.kind {
            InboundKind::Unframeable { bytes, reason } => {
                assert!(bytes.starts_with(b"BYE"));
                assert!(reason.contains("Content-Length"), "{reason}");
            }
            other => panic!("expected unframeable, got {other:?}"),
        }
        assert_eq!(next(&mut b).await.kind, InboundKind::Closed);
    }
}
