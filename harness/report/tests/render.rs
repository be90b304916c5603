//! The report rendered from hand-built run directories: every page and plot is written,
//! every local link resolves, hostile SIP text is escaped everywhere, the SVGs and
//! junit.xml are well-formed XML with the right test cases, and a 500-call run is split
//! into per-call pages and paged compliance summaries rather than one giant page.

mod common;

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;
use std::fs;
use std::path::{Path, PathBuf};

fn well_formed(path: &Path) {
    let text = fs::read_to_string(path).expect("read");
    let mut reader = Reader::from_str(&text);
    let mut depth = 0i64;
    loop {
        match reader.read_event() {
            Ok(XmlEvent::Eof) => break,
            Ok(XmlEvent::Start(_)) => depth += 1,
            Ok(XmlEvent::End(_)) => depth -= 1,
            Ok(_) => {}
            Err(e) => panic!("{} is not well-formed XML: {e}", path.display()),
        }
    }
    assert_eq!(depth, 0, "{}: unbalanced elements", path.display());
}

/// `href="..."` and `src="..."` values of a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("closing quote");
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

/// Percent-decoding of the few characters the report encodes in file names.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_links_resolve(page: &Path) {
    let html = fs::read_to_string(page).expect("page");
    let base = page.parent().expect("dir");
    let found = links(&html);
    assert!(
        found.len() >= 2,
        "{}: too few links {found:?}",
        page.display()
    );
    for link in found {
        if link.starts_with('#') || link.starts_with("http") {
            assert!(
                !link.starts_with("http"),
                "{}: the report must work offline, found {link}",
                page.display()
            );
            continue;
        }
        let path = link.split('#').next().unwrap_or("");
        let target: PathBuf = base.join(decode(path));
        assert!(
            target.exists(),
            "{}: link {link} points to a missing {}",
            page.display(),
            target.display()
        );
    }
}

#[test]
fn a_small_run_renders_every_page_with_resolving_links_and_escaped_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::small_run(dir.path());
    let s = recproof_report::render(dir.path()).expect("render");

    assert_eq!(s.scenarios, 3);
    assert_eq!(s.calls, 2, "{s:?}");
    assert_eq!(s.call_pages.len(), 2);
    assert!(s.skipped_log_lines >= 1, "the broken log lines are counted");
    assert_eq!(s.plot_failures, 0);
    assert!(s.requirements_failed >= 1, "POL-06 failed on call-0002");
    for f in s.files() {
        assert!(f.is_file(), "{} missing", f.display());
        let text = fs::read_to_string(f).expect("utf-8 page");
        assert!(
            !text.contains(common::HOSTILE),
            "{} carries unescaped SUT text",
            f.display()
        );
    }
    for svg in &s.svgs {
        well_formed(svg);
    }
    well_formed(&s.junit);
    for page in std::iter::once(&s.index)
        .chain(&s.compliance)
        .chain(&s.call_pages)
    {
        assert_links_resolve(page);
    }

    let call1 = fs::read_to_string(dir.path().join("calls/call-0001.html")).expect("call page");
    assert_eq!(call1.matches("<audio").count(), 4, "four WAV players");
    assert!(call1.contains("call.pcap"));
    for figure in ["timeline.svg", "ladder.svg"] {
        assert!(call1.contains(figure), "call page shows {figure}");
    }
    let call2 = fs::read_to_string(dir.path().join("calls/call-0002.html")).expect("call page");
    assert!(
        call2.contains("no capture for this call"),
        "evidence error shown"
    );
    assert!(call2.contains("&lt;script&gt;") || call2.contains("&#60;script&#62;"));

    let index = fs::read_to_string(&s.index).expect("index");
    assert!(index.contains("POL-06"));
    assert!(index.contains("calls/call-0002.html"));
    let compliance = fs::read_to_string(&s.compliance[0]).expect("compliance");
    assert!(compliance.contains("call-0001") && compliance.contains("call-0002"));
    assert!(compliance.to_lowercase().contains("reminder"));
}

#[test]
fn junit_has_a_case_per_scenario_and_per_requirement() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::small_run(dir.path());
    let s = recproof_report::render(dir.path()).expect("render");
    let xml = fs::read_to_string(&s.junit).expect("junit");
    let mut reader = Reader::from_str(&xml);
    let mut suite = String::new();
    let mut cases: Vec<(String, String, String)> = Vec::new(); // suite, name, outcome
    let mut current: Option<(String, String)> = None;
    loop {
        match reader.read_event().expect("xml") {
            XmlEvent::Eof => break,
            XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                let attr = |k: &str| {
                    e.attributes()
                        .filter_map(Result::ok)
                        .find(|a| a.key.into_inner() == k)
                        .map(|a| a.value.to_string())
                        .unwrap_or_default()
                };
                match e.name().into_inner() {
                    "testsuite" => suite = attr("name"),
                    "testcase" => {
                        if let Some((n, o)) = current.take() {
                            cases.push((suite.clone(), n, o));
                        }
                        current = Some((attr("name"), "pass".into()));
                    }
                    "failure" => {
                        if let Some(c) = current.as_mut() {
                            c.1 = "fail".into();
                        }
                    }
                    "skipped" => {
                        if let Some(c) = current.as_mut() {
                            c.1 = "skip".into();
                        }
                    }
                    _ => {}
                }
            }
            XmlEvent::End(e) if e.name().into_inner() == "testcase" => {
                if let Some((n, o)) = current.take() {
                    cases.push((suite.clone(), n, o));
                }
            }
            _ => {}
        }
    }
    if let Some((n, o)) = current.take() {
        cases.push((suite.clone(), n, o));
    }
    let scenarios: Vec<_> = cases.iter().filter(|c| c.0 == "scenarios").collect();
    assert_eq!(scenarios.len(), 3, "{cases:?}");
    assert_eq!(scenarios.iter().filter(|c| c.2 == "fail").count(), 1);
    assert_eq!(scenarios.iter().filter(|c| c.2 == "skip").count(), 1);
    let pol06 = cases
        .iter()
        .find(|c| c.0 == "requirements" && c.1 == "POL-06")
        .expect("POL-06 case");
    assert_eq!(pol06.2, "fail");
    assert!(
        cases.iter().any(|c| c.0 == "requirements" && c.2 == "pass"),
        "{cases:?}"
    );
}

#[test]
fn a_500_call_run_is_paged_not_one_giant_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::large_run(dir.path(), 500);
    let s = recproof_report::render(dir.path()).expect("render");
    assert_eq!(s.call_pages.len(), 500);
    assert_eq!(
        s.compliance.len(),
        500usize.div_ceil(recproof_report::COMPLIANCE_CALLS_PER_PAGE)
    );
    let index_bytes = fs::metadata(&s.index).expect("index").len();
    // The index lists scenarios and requirement summaries, not the calls' details.
    assert!(
        index_bytes < 1_000_000,
        "index.html is {index_bytes} bytes for 500 calls"
    );
    for page in &s.compliance {
        let bytes = fs::metadata(page).expect("page").len();
        assert!(bytes < 2_000_000, "{} is {bytes} bytes", page.display());
    }
    let index = fs::read_to_string(&s.index).expect("index");
    assert!(index.contains("compliance.html"));
    let first = fs::read_to_string(&s.compliance[0]).expect("compliance");
    assert!(first.contains("compliance-2.html"), "pages link each other");
}

#[test]
fn rendering_again_gives_the_same_pages_apart_from_the_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::small_run(dir.path());
    let a = recproof_report::render(dir.path()).expect("render");
    let first = fs::read_to_string(&a.call_pages[0]).expect("page");
    let b = recproof_report::render(dir.path()).expect("render again");
    let second = fs::read_to_string(&b.call_pages[0]).expect("page");
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("Generated by"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&first), strip(&second));
    assert_eq!(a.svgs.len(), b.svgs.len());
}

#[test]
fn a_directory_without_results_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = recproof_report::render(dir.path()).expect_err("no results.json");
    assert!(err.to_string().contains("results.json"), "{err}");
    fs::write(dir.path().join("results.json"), "{not json").expect("write");
    let err = recproof_report::render(dir.path()).expect_err("bad results.json");
    assert!(err.to_string().contains("results document"), "{err}");
}

#[test]
fn a_results_document_of_another_schema_or_with_an_unknown_status_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::small_run(dir.path());
    let path = dir.path().join("results.json");
    let text = fs::read_to_string(&path).expect("results");
    // A status this reader does not know never reads as a pass: the document is refused.
    fs::write(&path, text.replacen("\"pass\"", "\"exploded\"", 1)).expect("write");
    let err = recproof_report::render(dir.path()).expect_err("unknown status");
    assert!(err.to_string().contains("results.json"), "{err}");
    // An older schema says so and what to do.
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["schema"] = 1.into();
    fs::write(&path, v.to_string()).expect("write");
    let err = recproof_report::render(dir.path()).expect_err("old schema");
    assert!(err.to_string().contains("re-run the suite"), "{err}");
}
