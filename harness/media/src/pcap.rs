//! pcap evidence: write SIP and RTP as real UDP packets (and SIP over TCP as TCP
//! segments); read UDP datagrams back.
//!
//! Owns: the writer ([`PcapWriter::write_udp`]: timestamp, source, destination, UDP
//! payload; etherparse builds Ethernet/IPv4-or-IPv6/UDP with correct lengths and
//! checksums, pcap-file frames the records; [`PcapWriter::write_tcp`]: a message on a TCP
//! flow as PSH/ACK segments with running sequence numbers, so Wireshark reassembles it),
//! and the reader ([`read_datagrams`]: pcap or
//! pcapng bytes in, UDP datagrams and TCP segments out; IPv4/IPv6 fragments
//! reassembled). TCP segments come out as captured: putting a byte stream back together
//! is the reader of the stream's job (`recproof-import` does it for SIP over TCP).
//!
//! Must not touch: SIP or RTP semantics. The reader is bytes-in and never panics on
//! malformed input (proptest in `tests/robustness.rs`); a capture cut short mid-record
//! yields what came before it, flagged `truncated`.
//!
//! Link types read: Ethernet (1), raw IP (101, 228, 229), BSD loopback (0, 108), Linux
//! cooked v1 (113) and v2 (276). pcapng timestamps honour each interface's `if_tsresol`.
//! Deviation from pcap-file: its `PcapPacket` rejects records whose original length
//! exceeds the snap length (normal for captures taken with `-s 96`), so records are read
//! raw and their timestamps converted here.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{EtherType, NetSlice, PacketBuilder, SlicedPacket, TransportSlice, UdpSlice};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapParser};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, TsResolution};
use serde::{Deserialize, Serialize};

/// Why a capture could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcapError {
    /// The bytes are neither pcap nor pcapng.
    #[error("not a pcap or pcapng capture (unknown magic number)")]
    NotACapture,
    /// A link-layer type this reader does not decode.
    #[error("unsupported link type {0} (supported: Ethernet, raw IP, loopback, Linux cooked)")]
    UnsupportedLinkType(u32),
    /// The file header or a block is malformed.
    #[error("malformed capture: {0}")]
    Malformed(String),
    /// Source and destination are of different address families.
    #[error("source {src} and destination {dst} are not both IPv4 or both IPv6")]
    MixedFamilies {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
    },
    /// The UDP payload does not fit one IP packet.
    #[error("UDP payload of {0} bytes does not fit an IP packet")]
    TooLarge(usize),
    /// Writing failed.
    #[error("writing the capture failed: {0}")]
    Write(String),
}

/// One UDP datagram from a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// Capture timestamp (since the Unix epoch, as recorded).
    pub ts: Duration,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: Vec<u8>,
}

/// One TCP segment from a capture, as captured (not reassembled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSegment {
    /// Capture timestamp (since the Unix epoch, as recorded).
    pub ts: Duration,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (of the SYN itself when `syn`).
    pub seq: u32,
    /// SYN flag: the flow starts; its first payload byte is `seq + 1`.
    pub syn: bool,
    /// FIN flag: the sender has no more bytes.
    pub fin: bool,
    /// RST flag: the connection was reset.
    pub rst: bool,
    /// TCP payload (possibly cut short by the capture's snap length).
    pub payload: Vec<u8>,
}

/// What [`read_datagrams`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// UDP datagrams in capture order.
    pub datagrams: Vec<Datagram>,
    /// TCP segments in capture order (payload-less ones only when they carry SYN, FIN or
    /// RST).
    #[serde(default)]
    pub segments: Vec<TcpSegment>,
    /// Records that were neither UDP nor TCP over IP (ARP, ICMP, ...), or not decodable.
    pub skipped: u64,
    /// The capture ended in the middle of a record.
    pub truncated: bool,
}

/// Writes UDP datagrams (SIP, RTP, anything) as Ethernet frames into a pcap file that
/// Wireshark and tshark read. Microsecond timestamps, Ethernet link type.
pub struct PcapWriter<W: Write> {
    inner: pcap_file::pcap::PcapWriter<W>,
    buf: Vec<u8>,
    /// Next sequence number of each TCP flow (source, destination) written.
    tcp_seq: std::collections::HashMap<(SocketAddr, SocketAddr), u32>,
}

/// Payload bytes per TCP segment [`PcapWriter::write_tcp`] writes: a message larger than
/// this (a 1 MB INVITE) becomes several segments, each within one IP packet.
const TCP_SEGMENT: usize = 32 * 1024;

impl<W: Write> std::fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter").finish_non_exhaustive()
    }
}

/// A locally administered MAC address derived from an IP address, so each host keeps
/// one address across the capture.
fn mac_for(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[12..].to_vec(),
    };
    let g = |i: usize| o.get(i).copied().unwrap_or(0);
    [0x02, 0x00, g(0), g(1), g(2), g(3)]
}

impl<W: Write> PcapWriter<W> {
    /// Start a capture (writes the file header).
    pub fn new(w: W) -> Result<Self, PcapError> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            snaplen: 65_535,
            ..PcapHeader::default()
        };
        let inner = pcap_file::pcap::PcapWriter::with_header(w, header)
            .map_err(|e| PcapError::Write(e.to_string()))?;
        Ok(Self {
            inner,
            buf: Vec::with_capacity(1600),
            tcp_seq: std::collections::HashMap::new(),
        })
    }

    /// Append one message sent at `ts` over the TCP flow from `src` to `dst`: PSH/ACK
    /// segments of at most 32 KB, their sequence numbers running on from the flow's last
    /// message and acknowledging what the other direction sent, so a reader reassembles
    /// the stream (no handshake is written: the capture starts mid-connection, which
    /// Wireshark handles).
    pub fn write_tcp(
        &mut self,
        ts: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        // Initial sequence numbers from the addresses, so each flow has its own.
        let isn = |a: SocketAddr, b: SocketAddr| {
            let text = format!("{a}{b}");
            text.bytes().fold(0x811C_9DC5u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            })
        };
        for chunk in payload.chunks(TCP_SEGMENT) {
            let seq = *self
                .tcp_seq
                .entry((src, dst))
                .or_insert_with(|| isn(src, dst));
            let ack = *self
                .tcp_seq
                .entry((dst, src))
                .or_insert_with(|| isn(dst, src));
            let eth = PacketBuilder::ethernet2(mac_for(src.ip()), mac_for(dst.ip()));
            self.buf.clear();
            let res = match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => eth
                    .ipv4(s.octets(), d.octets(), 64)
                    .tcp(src.port(), dst.port(), seq, 65_535)
                    .ack(ack)
                    .psh()
                    .write(&mut self.buf, chunk),
                (IpAddr::V6(s), IpAddr::V6(d)) => eth
                    .ipv6(s.octets(), d.octets(), 64)
                    .tcp(src.port(), dst.port(), seq, 65_535)
                    .ack(ack)
                    .psh()
                    .write(&mut self.buf, chunk),
                _ => return Err(PcapError::MixedFamilies { src, dst }),
            };
            res.map_err(|e| PcapError::Write(e.to_string()))?;
            self.write_frame(ts, payload.len())?;
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            self.tcp_seq.insert((src, dst), seq.wrapping_add(n));
        }
        Ok(())
    }

    /// Append one UDP datagram sent at `ts` (since the Unix epoch, or any epoch the run
    /// uses) from `src` to `dst`.
    pub fn write_udp(
        &mut self,
        ts: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        let eth = PacketBuilder::ethernet2(mac_for(src.ip()), mac_for(dst.ip()));
        self.buf.clear();
        let res = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                if payload.len() > 65_507 {
                    return Err(PcapError::TooLarge(payload.len()));
                }
                eth.ipv4(s.octets(), d.octets(), 64)
                    .udp(src.port(), dst.port())
                    .write(&mut self.buf, payload)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                if payload.len() > 65_527 {
                    return Err(PcapError::TooLarge(payload.len()));
                }
                eth.ipv6(s.octets(), d.octets(), 64)
                    .udp(src.port(), dst.port())
                    .write(&mut self.buf, payload)
            }
            _ => return Err(PcapError::MixedFamilies { src, dst }),
        };
        res.map_err(|e| PcapError::Write(e.to_string()))?;
        self.write_frame(ts, payload.len())
    }

    /// Writes the frame built in `buf` as one record stamped `ts` (`payload_len` for the
    /// error when it is too large for a record).
    fn write_frame(&mut self, ts: Duration, payload_len: usize) -> Result<(), PcapError> {
        let len = u32::try_from(self.buf.len()).map_err(|_| PcapError::TooLarge(payload_len))?;
        if len > 65_535 {
            return Err(PcapError::TooLarge(payload_len));
        }
        let pkt = PcapPacket::new(ts, len, &self.buf);
        self.inner
            .write_packet(&pkt)
            .map(|_| ())
            .map_err(|e| PcapError::Write(e.to_string()))
    }

    /// Finish and return the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner.into_writer()
    }
}

/// Read every UDP datagram and TCP segment of a pcap or pcapng capture held in memory.
pub fn read_datagrams(bytes: &[u8]) -> Result<Capture, PcapError> {
    match bytes.get(0..4) {
        Some([0x0A, 0x0D, 0x0D, 0x0A]) => read_pcapng(bytes),
        Some(_) if bytes.len() >= 24 => read_pcap(bytes),
        _ => Err(PcapError::NotACapture),
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Capture, PcapError> {
    let (mut rest, parser) = PcapParser::new(bytes).map_err(|e| match e {
        pcap_file::PcapError::InvalidField(_) => PcapError::NotACapture,
        other => PcapError::Malformed(other.to_string()),
    })?;
    let header = parser.header();
    let link = u32::from(header.datalink);
    check_link(link)?;
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    let mut cap = Capture::default();
    let mut defrag = Defrag::default();
    while !rest.is_empty() {
        match parser.next_raw_packet(rest) {
            Ok((r, raw)) => {
                rest = r;
                let frac = if nanos {
                    u64::from(raw.ts_frac)
                } else {
                    u64::from(raw.ts_frac).saturating_mul(1000)
                };
                let ts = Duration::from_secs(u64::from(raw.ts_sec))
                    .saturating_add(Duration::from_nanos(frac));
                defrag.frame(&mut cap, link, ts, &raw.data);
            }
            Err(_) => {
                cap.truncated = true;
                break;
            }
        }
    }
    Ok(cap)
}

fn read_pcapng(bytes: &[u8]) -> Result<Capture, PcapError> {
    let (mut rest, mut parser) =
        PcapNgParser::new(bytes).map_err(|e| PcapError::Malformed(e.to_string()))?;
    let mut cap = Capture::default();
    let mut defrag = Defrag::default();
    // (link type, ticks per second) per interface of the current section.
    let mut ifaces: Vec<(u32, u64)> = Vec::new();
    while !rest.is_empty() {
        let (r, block) = match parser.next_block(rest) {
            Ok(x) => x,
            Err(_) => {
                cap.truncated = true;
                break;
            }
        };
        rest = r;
        match block {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => {
                let mut per_sec = 1_000_000u64;
                for opt in &idb.options {
                    if let pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption::IfTsResol(r) = opt {
                        per_sec = tsresol(*r);
                    }
                }
                ifaces.push((u32::from(idb.linktype), per_sec));
            }
            Block::EnhancedPacket(epb) => {
                let Some(&(link, per_sec)) = ifaces.get(epb.interface_id as usize) else {
                    cap.skipped += 1;
                    continue;
                };
                if check_link(link).is_err() {
                    cap.skipped += 1;
                    continue;
                }
                // pcap-file stores the raw tick count in a nanosecond Duration.
                let ticks = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                let ts = ticks_to_duration(ticks, per_sec);
                defrag.frame(&mut cap, link, ts, &epb.data);
            }
            Block::SimplePacket(spb) => {
                let Some(&(link, _)) = ifaces.first() else {
                    cap.skipped += 1;
                    continue;
                };
                defrag.frame(&mut cap, link, Duration::ZERO, &spb.data);
            }
            _ => {}
        }
    }
    Ok(cap)
}

/// Ticks per second for a pcapng `if_tsresol` value (capped to avoid overflow).
fn tsresol(r: u8) -> u64 {
    let exp = u32::from(r & 0x7F).min(18);
    if r & 0x80 != 0 {
        1u64 << exp.min(63)
    } else {
        10u64.pow(exp)
    }
}

fn ticks_to_duration(ticks: u64, per_sec: u64) -> Duration {
    let per_sec = per_sec.max(1);
    let secs = ticks / per_sec;
    let rem = ticks % per_sec;
    let nanos = (u128::from(rem) * 1_000_000_000 / u128::from(per_sec)) as u32;
    Duration::new(secs, nanos.min(999_999_999))
}

const LINK_NULL: u32 = 0;
const LINK_ETHERNET: u32 = 1;
const LINK_RAW: u32 = 101;
const LINK_LOOP: u32 = 108;
const LINK_SLL: u32 = 113;
const LINK_IPV4: u32 = 228;
const LINK_IPV6: u32 = 229;
const LINK_SLL2: u32 = 276;

fn check_link(link: u32) -> Result<(), PcapError> {
    match link {
        LINK_NULL | LINK_ETHERNET | LINK_RAW | LINK_LOOP | LINK_SLL | LINK_IPV4 | LINK_IPV6
        | LINK_SLL2 => Ok(()),
        other => Err(PcapError::UnsupportedLinkType(other)),
    }
}

fn slice(link: u32, data: &[u8]) -> Option<SlicedPacket<'_>> {
    match link {
        LINK_ETHERNET => SlicedPacket::from_ethernet(data).ok(),
        LINK_RAW | LINK_IPV4 | LINK_IPV6 => SlicedPacket::from_ip(data).ok(),
        LINK_NULL | LINK_LOOP => SlicedPacket::from_ip(data.get(4..)?).ok(),
        // etherparse's `from_linux_sll` takes only Ethernet-like ARPHRD types, and
        // `dumpcap -i any` labels loopback packets ARPHRD_LOOPBACK (772): read the
        // 16-byte header's protocol field (bytes 14-15) ourselves, as for v2.
        LINK_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?).ok()
        }
        LINK_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?).ok()
        }
        _ => None,
    }
}

fn addrs(net: &NetSlice<'_>) -> Option<(IpAddr, IpAddr)> {
    match net {
        NetSlice::Ipv4(v4) => Some((
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        )),
        NetSlice::Ipv6(v6) => Some((
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        )),
        NetSlice::Arp(_) => None,
    }
}

/// Most fragment trains kept open at once (bounds memory on hostile captures).
const MAX_OPEN_FRAGMENTS: usize = 1024;

#[derive(Default)]
struct Defrag {
    pool: etherparse::defrag::IpDefragPool<(), ()>,
    open: usize,
}

impl Defrag {
    fn frame(&mut self, cap: &mut Capture, link: u32, ts: Duration, data: &[u8]) {
        let Some(sliced) = slice(link, data) else {
            cap.skipped += 1;
            return;
        };
        let Some((src_ip, dst_ip)) = sliced.net.as_ref().and_then(addrs) else {
            cap.skipped += 1;
            return;
        };
        if let Some(TransportSlice::Udp(udp)) = &sliced.transport {
            cap.datagrams.push(Datagram {
                ts,
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload: udp.payload().to_vec(),
            });
            return;
        }
        if let Some(TransportSlice::Tcp(tcp)) = &sliced.transport {
            let (syn, fin, rst) = (tcp.syn(), tcp.fin(), tcp.rst());
            if tcp.payload().is_empty() && !syn && !fin && !rst {
                // A bare ACK carries nothing a SIP reader needs.
                return;
            }
            cap.segments.push(TcpSegment {
                ts,
                src: SocketAddr::new(src_ip, tcp.source_port()),
                dst: SocketAddr::new(dst_ip, tcp.destination_port()),
                seq: tcp.sequence_number(),
                syn,
                fin,
                rst,
                payload: tcp.payload().to_vec(),
            });
            return;
        }
        let fragmented = match &sliced.net {
            Some(NetSlice::Ipv4(v4)) => v4.is_payload_fragmented(),
            Some(NetSlice::Ipv6(v6)) => v6.is_payload_fragmented(),
            _ => false,
        };
        if !fragmented {
            cap.skipped += 1;
            return;
        }
        if self.open >= MAX_OPEN_FRAGMENTS {
            self.pool = etherparse::defrag::IpDefragPool::new();
            self.open = 0;
        }
        match self.pool.process_sliced_packet(&sliced, (), ()) {
            Ok(Some(done)) => {
                self.open = self.open.saturating_sub(1);
                if done.ip_number != etherparse::IpNumber::UDP {
                    cap.skipped += 1;
                    return;
                }
                match UdpSlice::from_slice(&done.payload) {
                    Ok(udp) => cap.datagrams.push(Datagram {
                        ts,
                        src: SocketAddr::new(src_ip, udp.source_port()),
                        dst: SocketAddr::new(dst_ip, udp.destination_port()),
                        payload: udp.payload().to_vec(),
                    }),
                    Err(_) => cap.skipped += 1,
                }
            }
            Ok(None) => self.open += 1,
            Err(_) => cap.skipped += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    /// `dumpcap -i any` writes Linux cooked v1 with ARPHRD_LOOPBACK (772) for packets on
    /// lo, which etherparse's own SLL reader refuses: every record used to be skipped.
    #[test]
    fn linux_cooked_loopback_records_are_read() {
        let mut ip = Vec::new();
        PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .udp(5060, 5062)
            .write(&mut ip, b"OPTIONS sip:a SIP/2.0\r\n\r\n")
            .expect("build");
        let mut record = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        record.extend_from_slice(&ip);
        let header = PcapHeader {
            datalink: DataLink::LINUX_SLL,
            ..PcapHeader::default()
        };
        let mut w = pcap_file::pcap::PcapWriter::with_header(Vec::new(), header).expect("w");
        w.write_packet(&PcapPacket::new(
            Duration::from_secs(1),
            record.len() as u32,
            &record,
        ))
        .expect("record");
        let cap = read_datagrams(&w.into_writer()).expect("read");
        assert_eq!(cap.skipped, 0);
        assert_eq!(cap.datagrams.len(), 1);
        assert_eq!(cap.datagrams[0].dst, addr("127.0.0.2:5062"));
    }

    #[test]
    fn tcp_segments_are_read_back_with_running_sequence_numbers() {
        let mut w = PcapWriter::new(Vec::new()).expect("writer");
        let (a, b) = (addr("10.0.0.1:5060"), addr("[::1]:5061"));
        let (c, d) = (addr("10.0.0.2:40000"), addr("[::2]:5062"));
        let big = vec![b'x'; TCP_SEGMENT + 10];
        w.write_tcp(Duration::from_secs(1), a, c, &big)
            .expect("tcp");
        w.write_tcp(Duration::from_secs(2), b, d, b"v6")
            .expect("tcp");
        w.write_udp(Duration::from_secs(3), a, c, b"udp")
            .expect("udp");
        let cap = read_datagrams(&w.into_inner()).expect("read");
        assert_eq!(cap.datagrams.len(), 1);
        assert_eq!(cap.skipped, 0);
        let segs = &cap.segments;
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0].payload.len(), TCP_SEGMENT);
        assert_eq!(
            segs[1].seq,
            segs[0].seq.wrapping_add(TCP_SEGMENT as u32),
            "the second segment follows the first"
        );
        assert_eq!((segs[2].src, segs[2].dst), (b, d));
        assert_eq!(segs[2].payload, b"v6");
    }

    #[test]
    fn write_then_read_back() {
        let mut w = PcapWriter::new(Vec::new()).expect("writer");
        let a = addr("10.0.0.1:5060");
        let b = addr("10.0.0.2:5060");
        let c = addr("[2001:db8::1]:40000");
        let d = addr("[2001:db8::2]:40002");
        w.write_udp(Duration::new(1_700_000_000, 123_456_000), a, b, b"INVITE")
            .expect("v4");
        w.write_udp(Duration::new(1_700_000_001, 0), c, d, &[0x80; 172])
            .expect("v6");
        assert!(matches!(
            w.write_udp(Duration::ZERO, a, d, b"x"),
            Err(PcapError::MixedFamilies { .. })
        ));
        let bytes = w.into_inner();
        let cap = read_datagrams(&bytes).expect("read");
        assert_eq!(cap.datagrams.len(), 2);
        assert_eq!(cap.datagrams[0].src, a);
        assert_eq!(cap.datagrams[0].payload, b"INVITE");
        assert_eq!(
            cap.datagrams[0].ts,
            Duration::new(1_700_000_000, 123_456_000)
        );
        assert_eq!(cap.datagrams[1].dst, d);
        assert_eq!(cap.datagrams[1].payload.len(), 172);
        assert!(!cap.truncated);
        // Cut the file mid-record: what came before is kept.
        let cut = read_datagrams(&bytes[..bytes.len() - 10]).expect("read");
        assert_eq!(cut.datagrams.len(), 1);
        assert!(cut.truncated);
    }

    #[test]
    fn rejects_non_captures() {
        assert!(matches!(read_datagrams(b""), Err(PcapError::NotACapture)));
        assert!(matches!(
            read_datagrams(&[0u8; 64]),
            Err(PcapError::NotACapture)
        ));
    }

    #[test]
    fn pcapng_timestamp_resolution() {
        assert_eq!(tsresol(6), 1_000_000);
        assert_eq!(tsresol(9), 1_000_000_000);
        assert_eq!(tsresol(0x8A), 1024);
        assert_eq!(
            ticks_to_duration(1_500_000, 1_000_000),
            Duration::from_millis(1500)
        );
    }
}
