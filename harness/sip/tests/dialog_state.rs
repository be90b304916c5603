//! Dialogs (RFC 3261 §12): creation on both sides, route sets (loose and strict), CSeq
//! rules, admission of incoming requests, target refresh and early dialogs.

use recproof_sip::dialog::{Dialog, DialogError, DialogId, DialogState, RequestCheck, Role};
use recproof_sip::message::{HeaderError, MessageBuilder, Method, SipMessage};

const VIA: &str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnext";

fn invite() -> SipMessage {
    MessageBuilder::request(&Method::Invite, "sip:srs@recorder.example.net")
        .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv")
        .header("Max-Forwards", "70")
        .header("From", "\"SRC\" <sip:src@platform.example.com>;tag=L1")
        .header("To", "<sip:srs@recorder.example.net>")
        .header("Call-ID", "dlg-1@192.0.2.1")
        .header("CSeq", "10 INVITE")
        .header("Contact", "<sip:src@192.0.2.1:5060>;+sip.src")
        .build()
        .expect("builds")
}

/// A response from the UAS, with the Record-Route values as the proxies left them.
fn response(
    code: u16,
    tag: Option<&str>,
    record_route: &[&str],
    contact: Option<&str>,
) -> SipMessage {
    let mut b = MessageBuilder::response_to(&invite(), code, "Reason", tag);
    for rr in record_route {
        b = b.header("Record-Route", rr);
    }
    if let Some(c) = contact {
        b = b.header("Contact", c);
    }
    b.build().expect("builds")
}

fn ok_via_two_proxies() -> SipMessage {
    response(
        200,
        Some("R1"),
        &["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr>"],
        Some("<sip:srs@192.0.2.9:5080>"),
    )
}

fn routes(msg: &SipMessage) -> Vec<String> {
    msg.header_list("Route")
}

#[test]
fn uac_dialog_reverses_the_record_route_and_loose_routes() {
    let inv = invite();
    let mut d = Dialog::uac(&inv, &ok_via_two_proxies()).expect("dialog");
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        d.id(),
        &DialogId {
            call_id: "dlg-1@192.0.2.1".into(),
            local_tag: "L1".into(),
            remote_tag: "R1".into(),
        }
    );
    let texts: Vec<&str> = d.route_set().iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    assert!(d.route_set().iter().all(|r| r.is_loose()));
    assert_eq!(d.next_hop().host, "p1.example.net");
    assert_eq!((d.local_seq(), d.remote_seq()), (Some(10), None));

    let bye = d.request(&Method::Bye, VIA, None).build().expect("BYE");
    assert_eq!(bye.request_uri(), Some("sip:srs@192.0.2.9:5080"));
    assert_eq!(
        routes(&bye),
        ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    assert_eq!(bye.header_value("CSeq"), Some("11 BYE"));
    assert_eq!(
        bye.header_value("From"),
        Some("\"SRC\" <sip:src@platform.example.com>;tag=L1")
    );
    assert_eq!(bye.to_header().expect("to").tag(), Some("R1"));
    assert_eq!(bye.call_id(), Ok("dlg-1@192.0.2.1"));
    assert_eq!(bye.header_value("Via"), Some(VIA));
    assert_eq!(bye.header("Contact"), None, "BYE is not a target refresh");
}

#[test]
fn uas_dialog_keeps_the_record_route_order_and_starts_its_own_cseq() {
    let inv = MessageBuilder::request(&Method::Invite, "sip:srs@192.0.2.9")
        .header("Via", "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp1")
        .header("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKu1")
        .header(
            "Record-Route",
            "<sip:p1.example.net;lr>, <sip:p2.example.net;lr>",
        )
        .header("From", "<sip:src@platform.example.com>;tag=peer")
        .header("To", "<sip:srs@192.0.2.9>")
        .header("Call-ID", "dlg-2")
        .header("CSeq", "4711 INVITE")
        .header("Contact", "<sip:src@192.0.2.1:5070;transport=tcp>")
        .build()
        .expect("builds");
    let mut d = Dialog::uas(&inv, "mine", DialogState::Confirmed).expect("dialog");
    assert_eq!(d.role(), Role::Uas);
    assert_eq!(d.id().local_tag, "mine");
    assert_eq!(d.id().remote_tag, "peer");
    assert_eq!((d.local_seq(), d.remote_seq()), (None, Some(4711)));
    assert_eq!(
        d.remote_target().text,
        "sip:src@192.0.2.1:5070;transport=tcp"
    );
    let bye = d.request(&Method::Bye, VIA, None).build().expect("BYE");
    assert_eq!(
        routes(&bye),
        ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    assert_eq!(
        bye.header_value("From"),
        Some("<sip:srs@192.0.2.9>;tag=mine")
    );
    assert_eq!(
        bye.header_value("To"),
        Some("<sip:src@platform.example.com>;tag=peer")
    );
    assert_eq!(bye.header_value("CSeq"), Some("1 BYE"));
    assert_eq!(d.local_seq(), Some(1));
}

#[test]
fn strict_first_hop_becomes_the_request_uri() {
    let ok = response(
        200,
        Some("R1"),
        &["<sip:p2.example.net;lr>", "<sip:strict.example.net>"],
        Some("<sip:srs@192.0.2.9:5080>"),
    );
    let mut d = Dialog::uac(&invite(), &ok).expect("dialog");
    assert!(!d.route_set()[0].is_loose());
    // §12.2.1.1: Request-URI = first route URI; Route = the rest, then the remote target.
    let info = d.request(&Method::Info, VIA, None).build().expect("INFO");
    assert_eq!(info.request_uri(), Some("sip:strict.example.net"));
    assert_eq!(
        routes(&info),
        ["<sip:p2.example.net;lr>", "<sip:srs@192.0.2.9:5080>"]
    );
}

#[test]
fn no_route_set_sends_straight_to_the_remote_target() {
    let ok = response(200, Some("R1"), &[], Some("<sip:srs@192.0.2.9:5080>"));
    let mut d = Dialog::uac(&invite(), &ok).expect("dialog");
    let upd = d
        .request(&Method::Update, VIA, Some("<sip:src@192.0.2.1:5060>"))
        .build()
        .expect("UPDATE");
    assert_eq!(upd.request_uri(), Some("sip:srs@192.0.2.9:5080"));
    assert!(routes(&upd).is_empty());
    assert_eq!(
        upd.header_value("Contact"),
        Some("<sip:src@192.0.2.1:5060>")
    );
    assert_eq!(d.next_hop().port, Some(5080));
}

#[test]
fn cseq_advances_by_one_except_for_ack_and_cancel() {
    let mut d = Dialog::uac(&invite(), &ok_via_two_proxies()).expect("dialog");
    let seqs: Vec<String> = [
        Method::Invite,
        Method::Ack,
        Method::Update,
        Method::Cancel,
        Method::Info,
        Method::Bye,
    ]
    .iter()
    .map(|m| {
        d.request(m, VIA, None)
            .build()
            .expect("builds")
            .header_value("CSeq")
            .expect("cseq")
            .to_owned()
    })
    .collect();
    assert_eq!(
        seqs,
        [
            "11 INVITE",
            "11 ACK",
            "12 UPDATE",
            "12 CANCEL",
            "13 INFO",
            "14 BYE"
        ]
    );
    // The ACK for a 2xx carries the INVITE's number (§13.2.2.4) and changes nothing.
    let ack = d.ack(10, VIA).build().expect("ACK");
    assert_eq!(ack.header_value("CSeq"), Some("10 ACK"));
    assert_eq!(ack.request_uri(), Some("sip:srs@192.0.2.9:5080"));
    assert_eq!(routes(&ack).len(), 2);
    assert_eq!(d.local_seq(), Some(14));
}

/// A request from the UAS side of the UAC dialog above (From = their tag, To = ours).
fn from_peer(method: &Method, seq: u32, to_tag: &str) -> SipMessage {
    MessageBuilder::request(method, "sip:src@192.0.2.1:5060")
        .header("Via", "SIP/2.0/UDP 192.0.2.9:5080;branch=z9hG4bKpeer")
        .header("From", "<sip:srs@recorder.example.net>;tag=R1")
        .header(
            "To",
            &format!("\"SRC\" <sip:src@platform.example.com>;tag={to_tag}"),
        )
        .header("Call-ID", "dlg-1@192.0.2.1")
        .header("CSeq", &format!("{seq} {method}"))
        .header("Contact", "<sip:srs@192.0.2.99:5090>")
        .build()
        .expect("builds")
}

#[test]
fn incoming_requests_are_judged_by_dialog_id_and_cseq() {
    let mut d = Dialog::uac(&invite(), &ok_via_two_proxies()).expect("dialog");
    // Unknown dialog → 481 (§12.2.2).
    let stranger = from_peer(&Method::Bye, 5, "nope");
    assert_eq!(d.accept_request(&stranger), RequestCheck::UnknownDialog);
    assert_eq!(RequestCheck::UnknownDialog.suggested_status(), Some(481));
    // First request sets the remote sequence number, whatever it is.
    assert_eq!(
        d.accept_request(&from_peer(&Method::Info, 5, "L1")),
        RequestCheck::Accept
    );
    assert_eq!(d.remote_seq(), Some(5));
    // Lower → 500; equal is not "lower" and is accepted; higher advances.
    let low = d.accept_request(&from_peer(&Method::Info, 4, "L1"));
    assert_eq!(
        low,
        RequestCheck::CSeqOutOfOrder {
            received: 4,
            remote: 5
        }
    );
    assert_eq!(low.suggested_status(), Some(500));
    assert_eq!(
        d.remote_seq(),
        Some(5),
        "a rejected request changes nothing"
    );
    assert_eq!(
        d.accept_request(&from_peer(&Method::Info, 5, "L1")),
        RequestCheck::Accept
    );
    assert_eq!(
        d.accept_request(&from_peer(&Method::Update, 9, "L1")),
        RequestCheck::Accept
    );
    assert_eq!(d.remote_seq(), Some(9));
    // ACK reuses an old number and is not sequence-checked.
    assert_eq!(
        d.accept_request(&from_peer(&Method::Ack, 2, "L1")),
        RequestCheck::Accept
    );
    assert_eq!(d.remote_seq(), Some(9));
    assert_eq!(RequestCheck::Glare.suggested_status(), Some(491));
    assert_eq!(RequestCheck::InviteInProgress.suggested_status(), Some(500));
    assert_eq!(RequestCheck::Accept.suggested_status(), None);
}

#[test]
fn target_refresh_replaces_the_remote_target_only_when_contact_is_present() {
    let mut d = Dialog::uac(&invite(), &ok_via_two_proxies()).expect("dialog");
    let reinvite = from_peer(&Method::Invite, 6, "L1");
    assert_eq!(d.refresh_target(&reinvite), Ok(true));
    assert_eq!(d.remote_target().text, "sip:srs@192.0.2.99:5090");
    assert_eq!(
        d.refresh_target(&reinvite),
        Ok(false),
        "same Contact: no change"
    );
    let no_contact = response(200, Some("R1"), &[], None);
    assert_eq!(d.refresh_target(&no_contact), Ok(false));
    let bye = d.request(&Method::Bye, VIA, None).build().expect("BYE");
    assert_eq!(bye.request_uri(), Some("sip:srs@192.0.2.99:5090"));
    assert_eq!(
        routes(&bye).len(),
        2,
        "the route set never changes mid-dialog"
    );
}

#[test]
fn early_dialog_from_a_tagged_1xx_is_confirmed_by_the_2xx() {
    let inv = invite();
    let ringing = response(
        180,
        Some("R1"),
        &["<sip:p1.example.net;lr>"],
        Some("<sip:srs@192.0.2.9:5080>"),
    );
    let mut d = Dialog::uac(&inv, &ringing).expect("early dialog");
    assert_eq!(d.state(), DialogState::Early);
    assert_eq!(d.route_set().len(), 1);
    // §13.2.2.4: the route set is recomputed from the 2xx.
    d.confirm(&ok_via_two_proxies()).expect("confirmed");
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.route_set().len(), 2);
    let other_fork = response(200, Some("R2"), &[], Some("<sip:other@192.0.2.10>"));
    assert!(matches!(
        d.confirm(&other_fork),
        Err(DialogError::OtherDialog { .. })
    ));

    assert_eq!(
        Dialog::uac(&inv, &response(180, None, &[], Some("<sip:srs@192.0.2.9>"))),
        Err(DialogError::NoToTagOnProvisional)
    );
    assert_eq!(
        Dialog::uac(&inv, &response(486, Some("R1"), &[], None)),
        Err(DialogError::NotDialogCreating(486))
    );
    assert_eq!(
        Dialog::uac(&inv, &response(100, None, &[], None)),
        Err(DialogError::NotDialogCreating(100))
    );
}

#[test]
fn a_2xx_without_contact_cannot_make_a_dialog() {
    assert_eq!(
        Dialog::uac(&invite(), &response(200, Some("R1"), &[], None)),
        Err(DialogError::Header(HeaderError::Missing("Contact")))
    );
}

#[test]
fn rfc_2543_2xx_without_to_tag_gives_an_empty_remote_tag() {
    let d = Dialog::uac(
        &invite(),
        &response(200, None, &[], Some("<sip:srs@192.0.2.9>")),
    )
    .expect("dialog");
    assert_eq!(d.id().remote_tag, "");
}

#[test]
fn sips_request_uri_marks_the_dialog_secure() {
    let inv = SipMessage::parse(
        String::from_utf8_lossy(invite().raw())
            .replace("INVITE sip:srs@", "INVITE sips:srs@")
            .into_bytes(),
    )
    .expect("parses");
    let d = Dialog::uac(&inv, &ok_via_two_proxies()).expect("dialog");
    assert!(d.secure());
    // A multi-byte character where the scheme would end must not panic.
    let odd = SipMessage::parse(
        String::from_utf8_lossy(invite().raw())
            .replace("INVITE sip:srs@", "INVITE sipé:srs@")
            .into_bytes(),
    )
    .expect("parses");
    assert!(
        !Dialog::uac(&odd, &ok_via_two_proxies())
            .expect("dialog")
            .secure()
    );
    assert!(
        !Dialog::uac(&invite(), &ok_via_two_proxies())
            .expect("dialog")
            .secure()
    );
}

#[test]
fn dialog_ids_are_read_from_each_side() {
    let ok = ok_via_two_proxies();
    let id = DialogId::of_incoming_response(&ok).expect("id");
    assert_eq!(
        (id.local_tag.as_str(), id.remote_tag.as_str()),
        ("L1", "R1")
    );
    let req = from_peer(&Method::Bye, 1, "L1");
    assert_eq!(DialogId::of_incoming_request(&req), Some(id));
    assert_eq!(
        DialogId::of_incoming_request(&invite()),
        None,
        "no To tag, no dialog"
    );
}
