//! recproof's announcement element (POL-05): build, send in either dialect, read back,
//! and judge malformed ones.

use recproof_siprec::findings::{Profile, Severity};
use recproof_siprec::metadata::announcement::{
    ANNOUNCEMENT_NS, Announcement, AnnouncementError, AnnouncementEvent, AnnouncementTarget,
    announcement_update, find_announcements,
};
use recproof_siprec::metadata::{self, Dialect, Recording, XmlElement};

fn start_announcement() -> Announcement {
    Announcement {
        event: AnnouncementEvent::Start,
        played_at: "2025-01-15T10:00:02Z".parse().expect("timestamp"),
        target: AnnouncementTarget::Both,
        prompt: Some("recording-start".into()),
        session_id: Some("sDW5yJFaTRWlfKpxlFxbCA==".into()),
    }
}

#[test]
fn rfc_update_is_a_partial_document_with_only_the_element() {
    let update = announcement_update(
        Dialect::Rfc7865,
        &Recording::default(),
        &start_announcement(),
        "unused",
    );
    let xml = metadata::to_xml(&update, Dialect::Rfc7865);
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\n  \
         <datamode>partial</datamode>\n  \
         <announcement xmlns=\"urn:recproof:params:xml:ns:announcement:1\" event=\"start\" played-at=\"2025-01-15T10:00:02Z\" target=\"both\" prompt=\"recording-start\" session_id=\"sDW5yJFaTRWlfKpxlFxbCA==\"/>\n\
         </recording>\n"
    );
    let doc = metadata::parse(xml.as_bytes()).expect("parses");
    let found = find_announcements(doc.recording().expect("recording"));
    assert_eq!(found, vec![Ok(start_announcement())]);
    let findings = metadata::check_document(&doc, Profile::RfcStrict, None);
    assert!(
        !findings.iter().any(|f| f.requirement == "POL-05"),
        "{findings:#?}"
    );
    // The element is a foreign-namespace extension: recorded under MD-14, nothing worse.
    assert!(
        findings.iter().all(|f| f.severity == Severity::Info),
        "{findings:#?}"
    );
}

#[test]
fn broadworks_update_adds_an_extensiondata_to_the_snapshot() {
    let path = format!(
        "{}/tests/data/metadata/webex_inbound.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let base = metadata::parse(&std::fs::read(&path).expect("read")).expect("parses");
    let current = base.recording().expect("recording");
    let mut a = start_announcement();
    a.event = AnnouncementEvent::Pause;
    a.target = AnnouncementTarget::Callee;
    a.session_id = None;
    let ext_id = metadata::ids::IdGenerator::new(5).next_broadworks_id();
    let update = announcement_update(Dialect::BroadWorks, current, &a, &ext_id);
    let xml = metadata::to_xml(&update, Dialect::BroadWorks);
    let doc = metadata::parse(xml.as_bytes()).expect("parses");
    let rec = doc.recording().expect("recording");
    assert_eq!(rec, &update);
    let ext = rec
        .broadworks
        .as_ref()
        .expect("broadworks")
        .extension_data
        .last()
        .expect("added");
    assert_eq!(ext.id.as_deref(), Some(ext_id.as_str()));
    assert_eq!(
        ext.parent.as_deref(),
        Some("urn:uuid:9e8d7c6b-5a49-4382-a716-05f4e3d2c1b0")
    );
    assert_eq!(find_announcements(rec), vec![Ok(a)]);
    // Everything the original snapshot said is still there.
    assert_eq!(rec.stream_labels(), ["1", "2"]);
    let findings = metadata::check_document(&doc, Profile::BroadworksCompat, None);
    assert!(
        !findings
            .iter()
            .any(|f| f.requirement == "POL-05" || f.requirement == "MD-12"),
        "{findings:#?}"
    );
}

fn element(attrs: &[(&str, &str)]) -> XmlElement {
    attrs.iter().fold(
        XmlElement::new(Some(ANNOUNCEMENT_NS), "announcement"),
        |e, (k, v)| e.with_attribute(k, v),
    )
}

#[test]
fn reading_is_strict_about_required_values_and_lenient_about_extras() {
    let minimal = element(&[
        ("event", "resume"),
        ("played-at", "2025-01-15T10:03:00+02:00"),
    ]);
    let a = Announcement::from_element(&minimal).expect("valid");
    assert_eq!(a.event, AnnouncementEvent::Resume);
    assert_eq!(a.target, AnnouncementTarget::Both);
    assert_eq!(
        a.played_at,
        "2025-01-15T08:03:00Z"
            .parse::<jiff::Timestamp>()
            .expect("ts")
    );
    let extra = element(&[
        ("event", "stop"),
        ("played-at", "2025-01-15T10:03:00Z"),
        ("future", "x"),
    ]);
    assert!(Announcement::from_element(&extra).is_ok());

    let cases = [
        (
            element(&[("played-at", "2025-01-15T10:03:00Z")]),
            AnnouncementError::MissingAttribute { attribute: "event" },
        ),
        (
            element(&[("event", "start")]),
            AnnouncementError::MissingAttribute {
                attribute: "played-at",
            },
        ),
        (
            element(&[("event", "begin"), ("played-at", "2025-01-15T10:03:00Z")]),
            AnnouncementError::BadEvent {
                value: "begin".into(),
            },
        ),
        (
            element(&[("event", "start"), ("played-at", "2025-01-15T10:03:00")]),
            AnnouncementError::BadTime {
                value: "2025-01-15T10:03:00".into(),
            },
        ),
        (
            element(&[
                ("event", "start"),
                ("played-at", "2025-01-15T10:03:00Z"),
                ("target", "agent"),
            ]),
            AnnouncementError::BadTarget {
                value: "agent".into(),
            },
        ),
        (
            XmlElement::new(Some("urn:other"), "announcement"),
            AnnouncementError::NotAnnouncement {
                name: "announcement".into(),
            },
        ),
    ];
    for (el, expected) in cases {
        assert_eq!(Announcement::from_element(&el), Err(expected));
    }
}

#[test]
fn malformed_announcements_are_pol05_failures() {
    let bad = format!(
        "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><datamode>partial</datamode>\
         <announcement xmlns=\"{ANNOUNCEMENT_NS}\" event=\"begin\" played-at=\"2025-01-15T10:00:02Z\"/>\
         <beep xmlns=\"{ANNOUNCEMENT_NS}\"/></recording>"
    );
    let doc = metadata::parse(bad.as_bytes()).expect("parses");
    let findings = metadata::check_document(&doc, Profile::BroadworksCompat, None);
    let pol05: Vec<_> = findings
        .iter()
        .filter(|f| f.requirement == "POL-05")
        .collect();
    assert_eq!(pol05.len(), 2, "{findings:#?}");
    assert!(pol05.iter().all(|f| f.severity == Severity::Fail));
    assert_eq!(
        pol05[0].message,
        "malformed announcement report: announcement event `begin` is not start, stop, pause or resume"
    );
    assert!(pol05[1].message.contains("<beep>"), "{}", pol05[1].message);
}
