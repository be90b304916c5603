//! A small builder of synthetic observation logs for the check tests: the SIP the
//! parties and the recorder would log (real message text, adapted from
//! `harness/siprec/tests/data/validate/*.sip`), and the media observations their
//! detectors would write.

#![allow(dead_code, unreachable_pub)]

use observe::{Actor, Direction, Event, LatencySummary, Observation, Payload, Source};

/// Seconds to µs.
pub fn s(secs: f64) -> u64 {
    (secs * 1e6).round() as u64
}

pub const CALL: &str = "call-0001";
pub const SRS_ADDR: &str = "10.0.1.1:5060";
pub const SRS_URI: &str = "sip:dubber@10.0.1.1:5060";
pub const RS_CALL_ID: &str = "BW091507113020326-1209941352@10.0.0.1";
pub const CS_CALL_ID: &str = "cs-7f3a@10.0.0.9";

/// Which metadata/SIP style the synthetic SRC uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    BroadWorks,
    Rfc,
}

/// How the RS streams are offered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Active,
    Inactive,
    ZeroAddress,
}

pub struct LogBuilder {
    pub obs: Vec<Observation>,
    pub call: String,
    pub style: Style,
    pub sdp_labels: Vec<String>,
    pub md_labels: Vec<String>,
    pub cseq: u32,
}

fn with_length(head: &str, body: &str) -> String {
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len())
}

impl LogBuilder {
    pub fn new() -> Self {
        Self {
            obs: Vec::new(),
            call: CALL.into(),
            style: Style::BroadWorks,
            sdp_labels: vec!["1".into(), "2".into()],
            md_labels: vec!["1".into(), "2".into()],
            cseq: 482113,
        }
    }

    pub fn push(&mut self, t: u64, actor: Actor, event: Event) -> &mut Self {
        self.obs.push(Observation {
            t_us: t,
            call: Some(self.call.clone()),
            actor,
            event,
        });
        self
    }

    pub fn build(&self) -> Vec<Observation> {
        let mut v = self.obs.clone();
        v.sort_by_key(|o| o.t_us);
        v
    }

    fn sip(&mut self, t: u64, actor: Actor, sent: bool, local: &str, remote: &str, text: &str) {
        let message = Payload::from_bytes(text.as_bytes());
        let event = if sent {
            Event::SipSent {
                transport: "udp".into(),
                local: local.into(),
                remote: remote.into(),
                message,
            }
        } else {
            Event::SipReceived {
                transport: "udp".into(),
                local: local.into(),
                remote: remote.into(),
                message,
            }
        };
        self.push(t, actor, event);
    }

    // ---- communication session -------------------------------------------------

    pub fn call_started(&mut self, t: u64) -> &mut Self {
        self.push(
            t,
            Actor::Caller,
            Event::CallStarted {
                caller: "+4722000001".into(),
                callee: "2001".into(),
                scenario: "test".into(),
            },
        )
    }

    fn cs_request(method: &str, cseq: u32, to_tag: bool) -> String {
        let to = if to_tag {
            "<sip:2001@10.0.0.9>;tag=callee-1"
        } else {
            "<sip:2001@10.0.0.9>"
        };
        with_length(
            &format!(
                "{method} sip:2001@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-{method}-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:+4722000001@10.0.0.2>;tag=caller-1\r\nTo: {to}\r\nCall-ID: {CS_CALL_ID}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@10.0.0.2:5060>\r\n"
            ),
            "",
        )
    }

    fn cs_ok(method: &str, cseq: u32) -> String {
        with_length(
            &format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-{method}-{cseq}\r\nFrom: <sip:+4722000001@10.0.0.2>;tag=caller-1\r\nTo: <sip:2001@10.0.0.9>;tag=callee-1\r\nCall-ID: {CS_CALL_ID}\r\nCSeq: {cseq} {method}\r\nContact: <sip:callee@10.0.0.3:5060>\r\n"
            ),
            "",
        )
    }

    /// The caller dials at `t - 1 s`; the callee answers; the caller sees 200 OK at `t`.
    pub fn answered(&mut self, t: u64) -> &mut Self {
        let inv = Self::cs_request("INVITE", 1, false);
        let ok = Self::cs_ok("INVITE", 1);
        self.sip(
            t - s(1.0),
            Actor::Caller,
            true,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &inv,
        );
        self.sip(
            t - s(0.99),
            Actor::Callee,
            false,
            "10.0.0.3:5060",
            "10.0.0.9:5060",
            &inv,
        );
        self.sip(
            t - s(0.01),
            Actor::Callee,
            true,
            "10.0.0.3:5060",
            "10.0.0.9:5060",
            &ok,
        );
        self.sip(
            t,
            Actor::Caller,
            false,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &ok,
        );
        self
    }

    /// Voicemail answers the caller at `t` (the callee never does).
    pub fn answered_by_voicemail(&mut self, t: u64) -> &mut Self {
        let inv = Self::cs_request("INVITE", 1, false);
        let ok = Self::cs_ok("INVITE", 1);
        self.sip(
            t - s(20.0),
            Actor::Caller,
            true,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &inv,
        );
        self.sip(
            t,
            Actor::Caller,
            false,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &ok,
        );
        self
    }

    /// The caller hangs up at `t`.
    pub fn caller_hangs_up(&mut self, t: u64) -> &mut Self {
        let bye = Self::cs_request("BYE", 2, true);
        self.sip(
            t,
            Actor::Caller,
            true,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &bye,
        );
        self.sip(
            t + 2_000,
            Actor::Callee,
            false,
            "10.0.0.3:5060",
            "10.0.0.9:5060",
            &bye,
        );
        self.push(
            t + 5_000,
            Actor::Caller,
            Event::CallEnded {
                reason: "bye".into(),
            },
        )
    }

    /// The platform releases both parties at `t`.
    pub fn platform_hangs_up(&mut self, t: u64) -> &mut Self {
        let bye = Self::cs_request("BYE", 2, true);
        self.sip(
            t,
            Actor::Caller,
            false,
            "10.0.0.2:5060",
            "10.0.0.9:5060",
            &bye,
        );
        self.sip(
            t,
            Actor::Callee,
            false,
            "10.0.0.3:5060",
            "10.0.0.9:5060",
            &bye,
        );
        self.push(
            t + 5_000,
            Actor::Caller,
            Event::CallEnded {
                reason: "bye".into(),
            },
        )
    }

    // ---- recording session -----------------------------------------------------

    fn sdp(&self, media: Media) -> String {
        let addr = if media == Media::ZeroAddress {
            "0.0.0.0"
        } else {
            "10.0.0.1"
        };
        let dir = if media == Media::Inactive {
            "inactive"
        } else {
            "sendonly"
        };
        let mut sdp = format!(
            "v=0\r\no=BroadWorks 482113 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n"
        );
        for (i, l) in self.sdp_labels.iter().enumerate() {
            sdp.push_str(&format!(
                "m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na={dir}\r\na=label:{l}\r\n",
                21000 + 2 * i
            ));
        }
        sdp
    }

    /// The current metadata snapshot, optionally with an announcement element.
    pub fn metadata_xml(&self, announcement: Option<(&str, &str)>) -> String {
        let l1 = self.md_labels.first().cloned().unwrap_or_default();
        let l2 = self.md_labels.get(1).cloned().unwrap_or_default();
        match self.style {
            Style::BroadWorks => {
                let ann = announcement.map_or(String::new(), |(event, at)| format!(
                    "  <extensiondata id=\"urn:uuid:9c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e99\" parent=\"urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e\">\n    <announcement xmlns=\"urn:recproof:params:xml:ns:announcement:1\" event=\"{event}\" played-at=\"{at}\" target=\"both\" prompt=\"recording-{event}\"/>\n  </extensiondata>\n"
                ));
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">
  <dataMode>complete</dataMode>
  <recording id="urn:uuid:5f1c2a10-7b3e-4c55-9a8e-1e2f3a4b5c6d">
    <requestor>SRC</requestor>
    <type>selective</type>
  </recording>
  <group id="urn:uuid:8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d" recording="urn:uuid:5f1c2a10-7b3e-4c55-9a8e-1e2f3a4b5c6d">
    <initiator>sip:callee@recproof.invalid</initiator>
  </group>
  <session id="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e" group="urn:uuid:8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d">
    <start-time>2026-03-02T09:15:07+00:00</start-time>
  </session>
  <participant id="urn:uuid:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" session="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e">
    <aor>sip:+4722000001@10.0.0.2</aor>
    <send>
      <id>urn:uuid:aa11bb22-cc33-4d44-8e55-ff6677889900</id>
    </send>
  </participant>
  <participant id="urn:uuid:2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e" session="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e">
    <aor>sip:2001@10.0.0.9</aor>
    <send>
      <id>urn:uuid:bb22cc33-dd44-4e55-9f66-007788990011</id>
    </send>
  </participant>
  <stream id="urn:uuid:aa11bb22-cc33-4d44-8e55-ff6677889900" session="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e">
    <label>{l1}</label>
    <mode>separate</mode>
  </stream>
  <stream id="urn:uuid:bb22cc33-dd44-4e55-9f66-007788990011" session="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e">
    <label>{l2}</label>
    <mode>separate</mode>
  </stream>
  <extensiondata id="urn:uuid:3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f" parent="urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e">
    <broadWorksRecordingMetadata xmlns="http://schema.broadsoft.com/broadworksCallRecording" version="3.0">
      <extTrackingID>7d0e9a51-3c2b-4f8e-a1d6-5b4c3a2f1e0d</extTrackingID>
      <serviceProviderID>RECPROOFSP</serviceProviderID>
      <groupID>RECPROOFGRP</groupID>
      <userID>callee@recproof.invalid</userID>
      <callID>callhalf-48120377:0</callID>
      <callType>
        <termCall>
          <callingPartyNumber>sip:+4722000001@10.0.0.2</callingPartyNumber>
          <calledPartyNumber>sip:2001@10.0.0.9</calledPartyNumber>
        </termCall>
      </callType>
      <recordingType>on</recordingType>
    </broadWorksRecordingMetadata>
  </extensiondata>
{ann}</recording_metadata>
"#
                )
            }
            Style::Rfc => {
                if let Some((event, at)) = announcement {
                    return format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\n  <datamode>partial</datamode>\n  <announcement xmlns=\"urn:recproof:params:xml:ns:announcement:1\" event=\"{event}\" played-at=\"{at}\" target=\"both\"/>\n</recording>\n"
                    );
                }
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>complete</datamode>
  <session session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <sipSessionID>ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000</sipSessionID>
    <start-time>2025-01-15T10:00:00Z</start-time>
  </session>
  <participant participant_id="2gKL6KqKTDGjaeIQrDr9aQ==">
    <nameID aor="sip:+4722000001@10.0.0.2"/>
  </participant>
  <participant participant_id="nI23N6C0QJmGetdo4fpzVA==">
    <nameID aor="sip:2001@10.0.0.9"/>
  </participant>
  <stream stream_id="oUF8CQ3HSMeZGmDMCltQFQ==" session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <label>{l1}</label>
  </stream>
  <stream stream_id="SAr7DOrMStqOM/yHxZHo5Q==" session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <label>{l2}</label>
  </stream>
  <sessionrecordingassoc session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <associate-time>2025-01-15T10:00:00Z</associate-time>
  </sessionrecordingassoc>
  <participantsessionassoc participant_id="2gKL6KqKTDGjaeIQrDr9aQ==" session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <associate-time>2025-01-15T10:00:00Z</associate-time>
  </participantsessionassoc>
  <participantsessionassoc participant_id="nI23N6C0QJmGetdo4fpzVA==" session_id="sDW5yJFaTRWlfKpxlFxbCA==">
    <associate-time>2025-01-15T10:00:00Z</associate-time>
  </participantsessionassoc>
  <participantstreamassoc participant_id="2gKL6KqKTDGjaeIQrDr9aQ==">
    <send>oUF8CQ3HSMeZGmDMCltQFQ==</send>
    <recv>SAr7DOrMStqOM/yHxZHo5Q==</recv>
  </participantstreamassoc>
  <participantstreamassoc participant_id="nI23N6C0QJmGetdo4fpzVA==">
    <send>SAr7DOrMStqOM/yHxZHo5Q==</send>
    <recv>oUF8CQ3HSMeZGmDMCltQFQ==</recv>
  </participantstreamassoc>
</recording>
"#
                )
            }
        }
    }

    fn rs_head(&mut self, method: &str, uri: &str, to_tag: bool, ct: &str) -> String {
        self.cseq += 1;
        let cseq = self.cseq;
        let to = if to_tag {
            format!("<{SRS_URI}>;tag=srs-77c1")
        } else {
            format!("<{SRS_URI}>")
        };
        match self.style {
            Style::BroadWorks => format!(
                "{method} {uri} SIP/2.0\r\nAccept: application/media_control+xml,application/sdp,application/x-broadworks-call-center+xml\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKBroadWorks.{cseq}\r\nContact: <sip:10.0.0.1:5060;src>\r\nFrom: \"Callee\"<sip:2001@10.0.0.1;user=phone>;tag=482113077-1772442907113-\r\nTo: {to}\r\nSession-ID: 6a8e2f0c1b7d4e3a9c5b0d2e4f6a8c1e;remote=00000000000000000000000000000000\r\nContent-Type: {ct}\r\nMIME-Version: 1.0\r\nCall-ID: {RS_CALL_ID}\r\nCSeq: {cseq} {method}\r\nSupported: \r\nMax-Forwards: 69\r\nX-BroadWorks-Correlation-Info: 7d0e9a51-3c2b-4f8e-a1d6-5b4c3a2f1e0d\r\n"
            ),
            Style::Rfc => format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-rfc-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:src@10.0.0.1>;tag=9fxced76sl\r\nTo: {to}\r\nCall-ID: {RS_CALL_ID}\r\nCSeq: {cseq} {method}\r\nSession-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000\r\nRequire: siprec\r\nContact: <sip:src@10.0.0.1:5060>;+sip.src\r\nAccept: application/sdp, application/rs-metadata+xml, application/rs-metadata-request\r\nContent-Type: {ct}\r\n"
            ),
        }
    }

    fn multipart(&self, media: Media, xml: &str) -> String {
        let (md_ct, sep) = match self.style {
            Style::BroadWorks => (
                "Content-Type:application/rs-metadata+xml\r\nContent-Disposition:recording-session",
                "Content-Type:application/sdp",
            ),
            Style::Rfc => (
                "Content-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session",
                "Content-Type: application/sdp",
            ),
        };
        format!(
            "--RecproofBoundary\r\n{sep}\r\n\r\n{}\r\n--RecproofBoundary\r\n{md_ct}\r\n\r\n{xml}\r\n--RecproofBoundary--\r\n",
            self.sdp(media)
        )
    }

    fn srs_received(&mut self, t: u64, text: &str) {
        self.sip(t, Actor::Srs, false, SRS_ADDR, "10.0.0.1:5060", text);
    }

    fn srs_ok(&mut self, t: u64, request: &str) {
        // 200 OK echoing the request's CSeq.
        let cseq_line = request
            .lines()
            .find(|l| l.starts_with("CSeq:"))
            .unwrap_or("CSeq: 1 INVITE")
            .to_owned();
        let ok = with_length(
            &format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:2001@10.0.0.1>;tag=482113077-1772442907113-\r\nTo: <{SRS_URI}>;tag=srs-77c1\r\nCall-ID: {RS_CALL_ID}\r\n{cseq_line}\r\nContact: <sip:srs@{SRS_ADDR}>;+sip.srs\r\n"
            ),
            "",
        );
        self.sip(t, Actor::Srs, true, SRS_ADDR, "10.0.0.1:5060", &ok);
    }

    fn metadata_event(&mut self, t: u64, method: &str, xml: &str) {
        self.push(
            t,
            Actor::Srs,
            Event::Metadata {
                rs_call_id: RS_CALL_ID.into(),
                method: method.into(),
                content_type: "application/rs-metadata+xml".into(),
                xml: xml.into(),
            },
        );
    }

    /// The recorder receives the initial RS INVITE at `t` (to `uri`) and answers 200.
    pub fn rs_invite_to(&mut self, t: u64, uri: &str, local: &str, media: Media) -> &mut Self {
        let xml = self.metadata_xml(None);
        let body = self.multipart(media, &xml);
        let head = self.rs_head(
            "INVITE",
            uri,
            false,
            "multipart/mixed;boundary=RecproofBoundary",
        );
        let text = with_length(&head, &body);
        self.sip(t, Actor::Srs, false, local, "10.0.0.1:5060", &text);
        self.metadata_event(t, "INVITE", &xml);
        let ok = with_length(
            &format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:2001@10.0.0.1>;tag=482113077-1772442907113-\r\nTo: <{SRS_URI}>;tag=srs-77c1\r\nCall-ID: {RS_CALL_ID}\r\nCSeq: {} INVITE\r\nContact: <sip:srs@{local}>;+sip.srs\r\n",
                self.cseq
            ),
            "",
        );
        self.sip(t + 5_000, Actor::Srs, true, local, "10.0.0.1:5060", &ok);
        self
    }

    /// The recorder receives the initial RS INVITE at `t` and answers 200.
    pub fn rs_invite(&mut self, t: u64) -> &mut Self {
        self.rs_invite_to(t, SRS_URI, SRS_ADDR, Media::Active)
    }

    /// The recorder rejects the RS INVITE with `code`.
    pub fn rs_invite_rejected(&mut self, t: u64, code: u16) -> &mut Self {
        let xml = self.metadata_xml(None);
        let body = self.multipart(Media::Active, &xml);
        let head = self.rs_head(
            "INVITE",
            SRS_URI,
            false,
            "multipart/mixed;boundary=RecproofBoundary",
        );
        let text = with_length(&head, &body);
        self.srs_received(t, &text);
        let resp = with_length(
            &format!(
                "SIP/2.0 {code} Service Unavailable\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:2001@10.0.0.1>;tag=482113077-1772442907113-\r\nTo: <{SRS_URI}>;tag=srs-77c1\r\nCall-ID: {RS_CALL_ID}\r\nCSeq: {} INVITE\r\n",
                self.cseq
            ),
            "",
        );
        self.sip(
            t + 5_000,
            Actor::Srs,
            true,
            SRS_ADDR,
            "10.0.0.1:5060",
            &resp,
        );
        self
    }

    /// A re-INVITE changing the streams' state (pause/resume by signalling).
    pub fn rs_reinvite(&mut self, t: u64, media: Media) -> &mut Self {
        let xml = self.metadata_xml(None);
        let body = self.multipart(media, &xml);
        let head = self.rs_head(
            "INVITE",
            "sip:10.0.1.1:5060",
            true,
            "multipart/mixed;boundary=RecproofBoundary",
        );
        let text = with_length(&head, &body);
        self.srs_received(t, &text);
        self.metadata_event(t, "INVITE", &xml);
        self.srs_ok(t + 3_000, &text);
        self
    }

    /// An UPDATE carrying the announcement element for `event`.
    pub fn rs_announcement(&mut self, t: u64, event: &str) -> &mut Self {
        let xml = self.metadata_xml(Some((event, "2026-03-02T09:15:08Z")));
        let head = self.rs_head(
            "UPDATE",
            "sip:10.0.1.1:5060",
            true,
            "application/rs-metadata+xml",
        );
        let head = format!("{head}Content-Disposition: recording-session\r\n");
        let text = with_length(&head, &xml);
        self.srs_received(t, &text);
        self.metadata_event(t, "UPDATE", &xml);
        self.srs_ok(t + 3_000, &text);
        self
    }

    /// The SRC ends the RS with BYE at `t`.
    pub fn rs_bye(&mut self, t: u64) -> &mut Self {
        let head = self.rs_head("BYE", "sip:10.0.1.1:5060", true, "application/sdp");
        let text = with_length(&head, "");
        self.srs_received(t, &text);
        self.srs_ok(t + 2_000, &text);
        self
    }

    // ---- media ---------------------------------------------------------------

    fn actor_of(stream: &str) -> Actor {
        match stream.split('.').next() {
            Some("caller") => Actor::Caller,
            Some("callee") => Actor::Callee,
            _ => Actor::Srs,
        }
    }

    /// First RTP packet on a stream.
    pub fn rtp(&mut self, stream: &str, t: u64) -> &mut Self {
        self.push(
            t,
            Self::actor_of(stream),
            Event::RtpStream {
                stream: stream.into(),
                direction: Direction::Received,
                local: "10.0.0.5:4000".into(),
                remote: "10.0.0.1:21000".into(),
                ssrc: 7,
                payload_type: 0,
            },
        )
    }

    /// A span of `party`'s audio on `stream` from `a` to `b` (frames numbered from
    /// `first_frame`, one per 20 ms).
    pub fn audio(
        &mut self,
        stream: &str,
        party: &str,
        a: u64,
        b: u64,
        first_frame: u64,
    ) -> &mut Self {
        let frames = (b - a) / 20_000;
        self.push(
            b,
            Self::actor_of(stream),
            Event::MediaSegment {
                stream: stream.into(),
                source: Source::Party {
                    party: party.into(),
                    first_frame,
                    last_frame: first_frame + frames.saturating_sub(1),
                },
                start_us: a,
                end_us: b,
                frames,
                latency: Some(lat(20, 30)),
            },
        )
    }

    /// The end-of-stream frame report of `party` on `stream`.
    pub fn frames(
        &mut self,
        t: u64,
        stream: &str,
        party: &str,
        frames: u64,
        front_clip_ms: f64,
        p95_ms: u64,
    ) -> &mut Self {
        self.push(
            t,
            Self::actor_of(stream),
            Event::PartyFrames {
                stream: stream.into(),
                party: party.into(),
                party_id: if party == "caller" { 1 } else { 2 },
                frames,
                first_frame: (front_clip_ms / 20.0) as u64,
                last_frame: (front_clip_ms / 20.0) as u64 + frames,
                lost: 0,
                duplicates: 0,
                reordered: 0,
                front_clip_ms,
                latency: Some(lat(p95_ms.min(20), p95_ms)),
            },
        )
    }

    /// A clip heard on a stream.
    pub fn clip(&mut self, stream: &str, clip: &str, a: u64, b: u64) -> &mut Self {
        self.push(
            b,
            Self::actor_of(stream),
            Event::ClipMatch {
                stream: stream.into(),
                clip: clip.into(),
                start_us: a,
                end_us: b,
                score: 0.93,
            },
        )
    }

    /// The same clip heard by both parties (the callee 10 ms later).
    pub fn clip_both(&mut self, clip: &str, a: u64, len: u64) -> &mut Self {
        self.clip("caller.heard", clip, a, a + len);
        self.clip("callee.heard", clip, a + 10_000, a + 10_000 + len)
    }

    /// A tone burst on a stream.
    pub fn tone(&mut self, stream: &str, freq: f64, a: u64, len: u64) -> &mut Self {
        self.push(
            a + len,
            Self::actor_of(stream),
            Event::ToneBurst {
                stream: stream.into(),
                freq_hz: freq,
                start_us: a,
                end_us: a + len,
            },
        )
    }

    /// A tone heard by both parties.
    pub fn tone_both(&mut self, freq: f64, a: u64, len: u64) -> &mut Self {
        self.tone("caller.heard", freq, a, len);
        self.tone("callee.heard", freq, a + 5_000, len)
    }

    /// `party` keys `digits` starting at `t` (100 ms tones, 200 ms apart). Returns the
    /// end of the last digit.
    pub fn keys(&mut self, party: &str, digits: &str, t: u64) -> u64 {
        let actor = if party == "caller" {
            Actor::Caller
        } else {
            Actor::Callee
        };
        let mut at = t;
        for d in digits.chars() {
            self.push(
                at,
                actor,
                Event::Dtmf {
                    stream: format!("{party}.sent"),
                    digit: d,
                    direction: Direction::Sent,
                    duration_us: 100_000,
                },
            );
            at += 200_000;
        }
        at - 100_000
    }

    /// Removes every observation `f` matches.
    pub fn remove(&mut self, f: impl Fn(&Observation) -> bool) -> &mut Self {
        self.obs.retain(|o| !f(o));
        self
    }
}

pub fn lat(p50_ms: u64, p95_ms: u64) -> LatencySummary {
    LatencySummary {
        min_us: p50_ms * 800,
        p50_us: p50_ms * 1000,
        p95_us: p95_ms * 1000,
        max_us: p95_ms * 1100,
    }
}

/// A clean Always-mode call: answer at 1 s, RS at 1.02 s, start announcement heard at
/// 1.05 s and reported at 1.06 s, reminder every 10 s, both parties talk until the
/// caller hangs up at 31 s.
pub fn clean_always() -> LogBuilder {
    let mut b = LogBuilder::new();
    b.call_started(0);
    b.answered(s(1.0));
    b.rs_invite(s(1.02));
    b.clip_both("announcement-start", s(1.05), s(2.0));
    b.rs_announcement(s(1.06), "start");
    b.rtp("caller.heard", s(1.04)).rtp("callee.heard", s(1.05));
    b.rtp("srs.1", s(1.06)).rtp("srs.2", s(1.06));
    b.audio("caller.heard", "callee", s(1.04), s(31.0), 0);
    b.audio("callee.heard", "caller", s(1.05), s(31.0), 0);
    b.audio("srs.1", "caller", s(1.08), s(31.0), 2);
    b.audio("srs.2", "callee", s(1.06), s(31.0), 1);
    for t in [11.03, 21.03] {
        b.tone_both(1400.0, s(t), s(0.5));
    }
    b.caller_hangs_up(s(31.0));
    b.rs_bye(s(31.01));
    b.frames(s(31.1), "srs.1", "caller", 1496, 40.0, 30);
    b.frames(s(31.1), "srs.2", "callee", 1497, 20.0, 30);
    b.frames(s(31.1), "caller.heard", "callee", 1498, 0.0, 40);
    b.frames(s(31.1), "callee.heard", "caller", 1497, 0.0, 40);
    b
}
