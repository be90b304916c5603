//! Hostile and broken input: DTDs and entity bombs are refused without expansion,
//! resource limits hold, and every kind of non-well-formed XML is a typed error with an
//! offset, never a panic.

use recproof_siprec::metadata::{self, Limits, MetadataError};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/metadata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn err(xml: &[u8]) -> MetadataError {
    match metadata::parse(xml) {
        Ok(doc) => panic!("expected an error, parsed {doc:?}"),
        Err(e) => e,
    }
}

const RECORDING: &str = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">";

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    // Nothing is expanded: the reader stops at `<!DOCTYPE`, so this is as fast as reading
    // 1 KB. (Expanding it would need about 3 GB.)
    let bomb = data("billion_laughs.xml");
    let e = err(&bomb);
    assert_eq!(e, MetadataError::DtdRefused { offset: 22 });
    assert!(bomb[22..].starts_with(b"<!DOCTYPE"));
}

#[test]
fn entity_references_without_a_dtd_are_undefined() {
    // The bomb's body alone: &lol9; names an entity no DTD declares.
    let xml = format!("{RECORDING}<datamode>&lol9;</datamode></recording>");
    let e = err(xml.as_bytes());
    assert_eq!(
        e,
        MetadataError::UndefinedEntity {
            name: "lol9".into(),
            offset: xml.find("&lol9;").expect("present"),
        }
    );
    let in_attr = format!("{RECORDING}<group group_id=\"&lol9;\"/></recording>");
    assert!(
        matches!(err(in_attr.as_bytes()), MetadataError::UndefinedEntity { name, .. } if name == "lol9")
    );
}

#[test]
fn external_entities_are_refused() {
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE recording [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>&xxe;</datamode></recording>"#;
    assert!(matches!(err(xxe), MetadataError::DtdRefused { offset: 22 }));
    let external_dtd =
        br#"<!DOCTYPE recording SYSTEM "http://attacker.example/x.dtd"><recording/>"#;
    assert!(matches!(
        err(external_dtd),
        MetadataError::DtdRefused { offset: 0 }
    ));
}

#[test]
fn predefined_entities_and_character_references_work() {
    let xml = format!(
        "{RECORDING}<session session_id=\"a&amp;b&#x3D;\"><sipSessionID>&lt;&gt;&amp;&apos;&quot;&#65;&#x1F600;</sipSessionID></session></recording>"
    );
    let doc = metadata::parse(xml.as_bytes()).expect("parses");
    let s = &doc.recording().expect("recording").sessions[0];
    assert_eq!(s.id.as_deref(), Some("a&b="));
    assert_eq!(s.sip_session_ids[0], "<>&'\"A\u{1F600}");
}

#[test]
fn nesting_depth_is_bounded() {
    let depth = 10_000;
    let xml = format!(
        "{RECORDING}{}{}</recording>",
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );
    match err(xml.as_bytes()) {
        MetadataError::TooDeep { max, offset } => {
            assert_eq!(max, Limits::DEFAULT_MAX_DEPTH);
            // Root is depth 1, so the 64th <x> is depth 65.
            assert_eq!(
                offset,
                RECORDING.len() + 3 * (Limits::DEFAULT_MAX_DEPTH - 1)
            );
        }
        other => panic!("{other:?}"),
    }
    // At the limit it still parses.
    let ok = format!(
        "{RECORDING}{}{}</recording>",
        "<x>".repeat(Limits::DEFAULT_MAX_DEPTH - 1),
        "</x>".repeat(Limits::DEFAULT_MAX_DEPTH - 1)
    );
    assert!(metadata::parse(ok.as_bytes()).is_ok());
}

#[test]
fn element_count_is_bounded() {
    let n = Limits::DEFAULT_MAX_ELEMENTS;
    let xml = format!("{RECORDING}{}</recording>", "<x/>".repeat(n));
    assert!(matches!(
        err(xml.as_bytes()),
        MetadataError::TooManyElements { max, .. } if max == n
    ));
    let fits = format!("{RECORDING}{}</recording>", "<x/>".repeat(n - 1));
    let doc = metadata::parse(fits.as_bytes()).expect("one under the limit parses");
    assert_eq!(doc.recording().expect("recording").extensions.len(), n - 1);
    let small = Limits {
        max_elements: 3,
        ..Limits::default()
    };
    let four = format!("{RECORDING}<x/><x/><x/></recording>");
    assert!(matches!(
        metadata::parse_with_limits(four.as_bytes(), small),
        Err(MetadataError::TooManyElements { max: 3, .. })
    ));
}

#[test]
fn input_size_is_bounded() {
    let big = vec![b' '; Limits::DEFAULT_MAX_BYTES + 1];
    assert_eq!(
        err(&big),
        MetadataError::TooLarge {
            len: Limits::DEFAULT_MAX_BYTES + 1,
            max: Limits::DEFAULT_MAX_BYTES
        }
    );
}

#[test]
fn encodings_other_than_utf8_are_refused() {
    let latin1 = b"<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><datamode>compl\xe9te</datamode></recording>";
    let e9 = latin1.iter().position(|b| *b == 0xe9).expect("present");
    assert_eq!(err(latin1), MetadataError::NotUtf8 { offset: e9 });
    let utf16 = b"\xff\xfe<\x00r\x00/\x00>\x00";
    assert_eq!(err(utf16), MetadataError::NotUtf8 { offset: 0 });
    // A UTF-8 byte-order mark is fine, and offsets still point into the input.
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(format!("{RECORDING}<x></y></recording>").as_bytes());
    match err(&bom) {
        MetadataError::NotWellFormed { offset, .. } => assert!(bom[offset..].starts_with(b"</y>")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_well_formed_documents() {
    let cases: &[(&str, &str)] = &[
        ("", "no root element"),
        ("   ", "no root element"),
        ("<!-- only a comment -->", "no root element"),
        ("<recording>", "never closed"),
        ("<recording><a></recording>", "</recording>"),
        ("<a/><b/>", "second root"),
        ("text<a/>", "text outside"),
        ("<a/>text", "text outside"),
        ("<a/><![CDATA[x]]>", "CDATA"),
        ("<a/>&amp;", "reference outside"),
        ("<a x=\"<\"/>", "contains `<`"),
        ("<a x=\"1\" x=\"2\"/>", ""),
        ("<p:a/>", "prefix `p`"),
        ("<a p:x=\"1\"/>", "prefix `p`"),
        ("<a>&#0;</a>", "character reference"),
        ("<a>&#1;</a>", "U+0001"),
        ("<a x=\"&#1;\"/>", "U+0001"),
        ("<a>\u{1}</a>", "U+0001"),
        ("<a>&#xZZ;</a>", "character reference"),
        ("<a><?xml version=\"1.0\"?></a>", "XML declaration"),
        ("<?xml version=\"2.0\"?><a/>", "unknown XML version"),
        ("<a>& b</a>", ""),
        ("<a><b></a>", ""),
        ("<a", ""),
        ("</a>", ""),
        ("<a b=c/>", ""),
    ];
    for (xml, reason_part) in cases {
        match metadata::parse(xml.as_bytes()) {
            Err(MetadataError::NotWellFormed { offset, reason }) => {
                assert!(offset <= xml.len(), "{xml:?}: offset {offset}");
                assert!(reason.contains(reason_part), "{xml:?}: {reason}");
            }
            other => panic!("{xml:?}: expected NotWellFormed, got {other:?}"),
        }
    }
}

#[test]
fn errors_read_as_lowercase_sentences() {
    for e in [
        err(b"<a>"),
        err(&data("billion_laughs.xml")),
        err(b"<a>&x;</a>"),
        err(b"\xff"),
    ] {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn large_documents_are_handled_in_linear_time() {
    // Shapes that would be quadratic with naive lookups: many participants/streams and
    // references (MD-04/10/11/12), many distinct unknown siblings (path indices), one
    // element with many attributes. No timing assertion: a quadratic regression makes
    // this test take minutes instead of well under a second.
    let n = 3_000;
    let mut xml = String::from(RECORDING);
    for i in 0..n {
        let id = metadata::ids::rfc_id_from_u128(i);
        xml.push_str(&format!(
            "<participant participant_id=\"p{id}\"><nameID aor=\"sip:{i}@x\"/></participant>"
        ));
    }
    for i in 0..n {
        let id = metadata::ids::rfc_id_from_u128(i);
        xml.push_str(&format!(
            "<stream stream_id=\"s{id}\" session_id=\"none\"><label>{i}</label></stream>"
        ));
    }
    for i in 0..n {
        let id = metadata::ids::rfc_id_from_u128(i);
        xml.push_str(&format!("<participantstreamassoc participant_id=\"p{id}\"><send>s{id}</send></participantstreamassoc>"));
    }
    xml.push_str("</recording>");
    let doc = metadata::parse(xml.as_bytes()).expect("parses");
    let findings = metadata::check_document(&doc, recproof_siprec::Profile::RfcStrict, None);
    // Every stream names the undefined session "none"; every ID is not base64 of 16 bytes.
    let dangling = findings.iter().filter(|f| f.requirement == "MD-12").count();
    assert_eq!(dangling, n as usize);
    let rec = doc.recording().expect("recording");
    for dialect in [metadata::Dialect::Rfc7865, metadata::Dialect::BroadWorks] {
        let out = metadata::to_xml(rec, dialect);
        // Indented output is larger than the input, so lift the size limit.
        let roomy = Limits {
            max_bytes: 8 << 20,
            ..Limits::default()
        };
        let again = metadata::parse_with_limits(out.as_bytes(), roomy).expect("reparses");
        assert_eq!(
            again.recording().map(|r| r.participants.len()),
            Some(n as usize)
        );
    }

    let siblings: String = (0..50_000).map(|i| format!("<u{i}/>")).collect();
    let doc =
        metadata::parse(format!("{RECORDING}{siblings}</recording>").as_bytes()).expect("parses");
    assert_eq!(doc.observations.len(), 50_000);
    assert_eq!(doc.observations[49_999].path, "recording/u49999[1]");

    let attrs: String = (0..50_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let wide = format!("{RECORDING}<x:e xmlns:x=\"urn:x\"{attrs}/></recording>");
    let doc = metadata::parse(wide.as_bytes()).expect("parses");
    let rec = doc.recording().expect("recording");
    assert_eq!(rec.extensions[0].attributes.len(), 50_000);
    let out = metadata::to_xml(rec, metadata::Dialect::Rfc7865);
    assert!(out.contains(" a49999=\"49999\""));
    let dup = format!("{RECORDING}<x:e xmlns:x=\"urn:x\"{attrs} a7=\"again\"/></recording>");
    assert!(matches!(
        metadata::parse(dup.as_bytes()),
        Err(MetadataError::NotWellFormed { .. })
    ));
}
