//! The report of a real `recproof check` run: written by `check`, rendered again by
//! `recproof report`, loaded in headless Chromium (no console errors, every plot image
//! decodes, the audio players are there; screenshots saved), and `recproof judge`
//! re-running the checks on the saved log gives the run's own verdicts, and different
//! ones when the recorded expectation is changed.

mod common;

use common::{features, recproof};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A one-call run of the POL-01 smoke scenario.
fn run(out: &Path, extra: &[&str]) -> i32 {
    let (feature, rest) = match extra.split_first() {
        Some((f, rest)) => (features(f), rest),
        None => (features("recording_modes.feature"), &[][..]),
    };
    let mut args = vec![
        "check",
        &feature,
        "--tags",
        "@smoke",
        "--out",
        out.to_str().expect("utf8"),
    ];
    args.extend(rest);
    let (code, stdout, stderr) = recproof(&args);
    assert!(code == 0 || code == 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("report:"),
        "check renders the report: {stdout}"
    );
    code
}

fn chromium() -> Option<&'static str> {
    testkit::tool("chromium", "--version").then_some("chromium")
}

const CHROMIUM_FLAGS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--enable-logging=stderr",
];

/// Loads `page` (relative to `dir`) in an iframe of a checker page and returns what the
/// checker found: `{images, broken, audio, title}`, plus the console lines Chromium
/// logged. Pages have no scripts; the checker's script reads the loaded DOM.
fn inspect(browser: &str, dir: &Path, page: &str) -> (Value, Vec<String>) {
    let checker = dir.join(format!("_check-{}.html", page.replace('/', "_")));
    std::fs::write(
        &checker,
        format!(
            r#"<!doctype html><html><body><pre id="out">pending</pre>
<iframe id="f" src="{page}" style="width:1400px;height:40000px"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var d = this.contentDocument;
  var imgs = Array.from(d.images);
  var r = {{images: imgs.length,
    broken: imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }})
               .map(function (i) {{ return i.getAttribute('src'); }}),
    audio: d.querySelectorAll('audio').length,
    title: d.title}};
  document.getElementById('out').textContent = 'RESULT' + JSON.stringify(r) + 'END';
}});
</script></body></html>"#
        ),
    )
    .expect("checker page");
    let out = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .args([
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", checker.display()))
        .output()
        .expect("chromium");
    let _ = std::fs::remove_file(&checker);
    let dom = String::from_utf8_lossy(&out.stdout);
    let console: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let json = dom
        .split("RESULT")
        .nth(1)
        .and_then(|s| s.split("END").next())
        .unwrap_or("null");
    let value = serde_json::from_str(&json.replace("&quot;", "\"")).unwrap_or(Value::Null);
    (value, console)
}

fn screenshot(browser: &str, page: &Path, png: &Path, height: u32) {
    let out = Command::new(browser)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--window-size=1400,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium");
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_report_of_a_real_run_loads_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    assert_eq!(run(&out, &[]), 0);
    for f in [
        "index.html",
        "compliance.html",
        "junit.xml",
        "cucumber-junit.xml",
        "results.json",
        "observations.jsonl",
        "calls/call-0001.html",
        "calls/call-0001/timeline.svg",
        "calls/call-0001/ladder.svg",
        "calls/call-0001/latency.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert!(junit.contains(r#"<testsuite name="scenarios""#), "{junit}");
    assert!(
        junit.contains(r#"<testsuite name="requirements""#),
        "{junit}"
    );
    assert!(junit.contains(r#"<testcase name="POL-01""#), "{junit}");

    // Rendered again from the run directory alone.
    std::fs::remove_file(out.join("index.html")).expect("rm");
    let (code, stdout, stderr) = recproof(&["report", out.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(out.join("index.html").is_file());
    let (code, _, stderr) = recproof(&["report", dir.path().to_str().expect("utf8")]);
    assert_eq!(code, 2, "a directory without results.json: {stderr}");

    let Some(browser) = chromium() else { return };
    for (page, min_images, audio) in [
        ("index.html", 1, 0),
        ("compliance.html", 0, 4),
        ("calls/call-0001.html", 3, 4),
    ] {
        let (r, console) = inspect(browser, &out, page);
        assert!(
            r.is_object(),
            "{page}: the checker page did not report: {r}"
        );
        assert!(console.is_empty(), "{page}: console output {console:?}");
        assert_eq!(r["broken"], serde_json::json!([]), "{page}: {r}");
        assert!(
            r["images"].as_u64().unwrap_or(0) >= min_images,
            "{page}: plots missing: {r}"
        );
        assert!(
            r["audio"].as_u64().unwrap_or(0) >= audio,
            "{page}: audio players missing: {r}"
        );
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    screenshot(
        browser,
        &out.join("index.html"),
        &shots.join("index.png"),
        1600,
    );
    screenshot(
        browser,
        &out.join("calls/call-0001.html"),
        &shots.join("call-0001.png"),
        4000,
    );
    screenshot(
        browser,
        &out.join("compliance.html"),
        &shots.join("compliance.png"),
        1600,
    );
    eprintln!("screenshots in {}", shots.display());
}

/// (requirement, check, status) of every verdict, in order.
fn triples(verdicts: &Value) -> Vec<(String, String, String)> {
    verdicts
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| {
            (
                v["requirement"].as_str().unwrap_or_default().to_owned(),
                v["check"].as_str().unwrap_or_default().to_owned(),
                v["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn judge_gives_the_runs_verdicts_and_follows_the_recorded_expectation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    // A run with a failure: the reminder drifts.
    assert_eq!(
        run(
            &out,
            &["reminder_tone.feature", "--fault", "reminder-drift"]
        ),
        1
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results"))
            .expect("json");
    let log = out.join("observations.jsonl");
    let (code, stdout, stderr) =
        recproof(&["judge", log.to_str().expect("utf8"), "--format", "json"]);
    assert_eq!(code, 1, "the drift FAILs offline too: {stderr}");
    let judged: Value = serde_json::from_str(&stdout).expect("judge json");
    let calls = judged["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{judged}");
    assert_eq!(calls[0]["expectation_from"], "log");
    assert_eq!(
        triples(&calls[0]["verdicts"]),
        triples(&results["scenarios"][0]["verdicts"]),
        "offline verdicts equal the run's"
    );
    assert!(
        triples(&calls[0]["verdicts"])
            .iter()
            .any(|(r, _, s)| r == "POL-06" && s == "fail")
    );

    // The same log judged against an expectation with the reminder off: POL-06 now fails
    // differently (tones heard that were not configured), so the expectation is used.
    let text = std::fs::read_to_string(&log).expect("log");
    let mut changed = String::new();
    let mut edits = 0;
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).expect("line");
        if v["event"] == "expectation" {
            v["expectation"]["reminder_interval_s"] = Value::Null;
            edits += 1;
        }
        changed.push_str(&v.to_string());
        changed.push('\n');
    }
    assert_eq!(edits, 1, "the run wrote one expectation");
    let edited = dir.path().join("edited.jsonl");
    std::fs::write(&edited, &changed).expect("write");
    let (_, stdout, _) = recproof(&["judge", edited.to_str().expect("utf8"), "--format", "json"]);
    let judged: Value = serde_json::from_str(&stdout).expect("judge json");
    let pol06 = |verdicts: &Value| -> Vec<String> {
        verdicts
            .as_array()
            .expect("verdicts")
            .iter()
            .filter(|v| v["requirement"] == "POL-06")
            .map(|v| v["summary"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let before = pol06(&results["scenarios"][0]["verdicts"]);
    let after = pol06(&judged["calls"][0]["verdicts"]);
    assert!(!after.is_empty());
    assert_ne!(
        before, after,
        "the edited expectation changes the POL-06 verdict"
    );

    // A run directory works as well as its log.
    let (code, _, stderr) = recproof(&["judge", out.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{stderr}");

    // Without expectations and without a profile nothing can be judged: exit 2.
    let stripped: String = text
        .lines()
        .filter(|l| !l.contains("\"event\":\"expectation\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let bare = dir.path().join("bare.jsonl");
    std::fs::write(&bare, stripped).expect("write");
    let (code, _, stderr) = recproof(&["judge", bare.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--sut"),
        "tells the user what to do: {stderr}"
    );
}

#[test]
fn a_run_killed_before_its_results_is_rendered_from_its_log_and_marked_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    assert_eq!(
        run(
            &out,
            &["reminder_tone.feature", "--fault", "reminder-drift"]
        ),
        1
    );
    // What SIGKILL leaves: no results.json, and the last log line cut half way.
    std::fs::remove_file(out.join("results.json")).expect("remove results.json");
    std::fs::remove_file(out.join("index.html")).expect("remove index.html");
    let log = out.join("observations.jsonl");
    let mut text = std::fs::read_to_string(&log).expect("log");
    let cut = text.len() - text.lines().last().map_or(0, |l| l.len() / 2 + 1);
    text.truncate(cut);
    std::fs::write(&log, text).expect("write");
    let (code, stdout, stderr) = recproof(&["report", out.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("no results.json") && stderr.contains("observation log alone"),
        "says so: {stderr}"
    );
    assert!(
        stderr.contains("1 unreadable line"),
        "the cut line: {stderr}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(index.contains("incomplete"), "marked incomplete");
    assert!(index.contains("POL-06"), "the drift's failure is there");
    assert!(
        !out.join("results.json").exists(),
        "no results.json is made up for the run"
    );
}
