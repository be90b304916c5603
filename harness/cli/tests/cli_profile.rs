//! `recproof profile init` writes a template that `recproof profile check` accepts as a
//! profile; the check probes the SUT with an OPTIONS (over UDP and TCP) and says what to
//! fix: nothing listening (exit 1), a harness address already in use (exit 1), a broken
//! field (exit 2, naming it); against `recproof platform` running there it is ready
//! (exit 0).

mod common;

fn recproof_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    common::run_in(
        std::path::Path::new(env!("CARGO_BIN_EXE_recproof")),
        dir,
        args,
    )
}

#[test]
fn a_fresh_template_is_checked_against_nothing_a_busy_port_and_a_live_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = recproof_in(dir.path(), &["profile", "init", "p.yaml"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = recproof_in(dir.path(), &["profile", "init", "p.yaml"]);
    assert_eq!(code, 2, "never overwrites unasked");
    assert!(err.contains("--force"), "{err}");

    // Point it at free loopback ports.
    let (sut, caller, callee, srs) = (
        common::free_udp_port(),
        common::free_udp_port(),
        common::free_udp_port(),
        common::free_udp_port(),
    );
    let (caller_rtp, callee_rtp, srs_rtp) = (
        common::free_port_range(2),
        common::free_port_range(2),
        common::free_port_range(32),
    );
    let path = dir.path().join("p.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("template")
        .replace("127.0.0.1:5060", &format!("127.0.0.1:{sut}"))
        .replace("127.0.0.1:5070", &format!("127.0.0.1:{caller}"))
        .replace("127.0.0.1:30000", &format!("127.0.0.1:{caller_rtp}"))
        .replace("127.0.0.1:5072", &format!("127.0.0.1:{callee}"))
        .replace("127.0.0.1:30010", &format!("127.0.0.1:{callee_rtp}"))
        .replace("127.0.0.1:5080", &format!("127.0.0.1:{srs}"))
        .replace("41000", &srs_rtp.to_string());
    std::fs::write(&path, &text).expect("edit");

    // Nothing listens at the SUT's address.
    let (code, out, _) = recproof_in(dir.path(), &["profile", "check", "p.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FIX  OPTIONS to"), "{out}");
    assert!(out.contains("is the SUT running"), "{out}");

    // A harness address in use.
    let held = std::net::UdpSocket::bind(("127.0.0.1", callee)).expect("hold the callee port");
    let (code, out, _) = recproof_in(dir.path(), &["profile", "check", "p.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FIX  harness callee: cannot bind"), "{out}");
    drop(held);

    // The reference platform there: ready, over UDP and over TCP.
    let rtp = common::free_port_range(128);
    let _platform = common::Platform::start(
        &[
            "platform".into(),
            "--config".into(),
            format!(
                "{}/../../scenarios/org-dubber-default.yaml",
                env!("CARGO_MANIFEST_DIR")
            ),
            "--listen".into(),
            format!("127.0.0.1:{sut}"),
            "--rtp-port-base".into(),
            rtp.to_string(),
            "--rtp-port-count".into(),
            "64".into(),
            "--duration".into(),
            "30".into(),
        ],
        sut,
    );
    let (code, out, err) = recproof_in(dir.path(), &["profile", "check", "p.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("over UDP: answered 200"), "{out}");
    std::fs::write(&path, text.replacen("transport: udp", "transport: tcp", 1)).expect("tcp");
    let (code, out, err) = recproof_in(dir.path(), &["profile", "check", "p.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("over TCP: answered 200"), "{out}");

    // A broken field: named, exit 2, nothing probed.
    std::fs::write(&path, text.replace("mode: Always", "mode: Sometimes")).expect("break");
    let (code, _, err) = recproof_in(dir.path(), &["profile", "check", "p.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Sometimes"), "{err}");
}

#[test]
fn a_recorder_template_is_checked_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = recproof_in(dir.path(), &["profile", "init", "--recorder", "r.yaml"]);
    assert_eq!(code, 0, "{err}");
    let (recorder, src) = (common::free_udp_port(), common::free_udp_port());
    let src_rtp = common::free_port_range(4);
    let path = dir.path().join("r.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("template")
        .replace("127.0.0.1:5080", &format!("127.0.0.1:{recorder}"))
        .replace("127.0.0.1:5090", &format!("127.0.0.1:{src}"))
        .replace("31000", &src_rtp.to_string());
    std::fs::write(&path, text).expect("edit");
    let (code, out, _) = recproof_in(dir.path(), &["profile", "check", "r.yaml"]);
    assert_eq!(code, 1, "nothing listens yet: {out}");
    let rtp = common::free_port_range(16);
    let files = dir.path().join("files");
    let _srs = common::start_strict_srs(recorder, rtp, 8, &files, None);
    let (code, out, err) = recproof_in(dir.path(), &["profile", "check", "r.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("recorder profile `my-recorder` is valid"),
        "{out}"
    );
}
