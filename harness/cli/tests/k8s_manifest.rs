//! The Kubernetes manifests in `deploy/k8s/` (no cluster is available here, so what is
//! checked is what a cluster would run): the load is an Indexed Job whose completions,
//! parallelism and `--shards` agree, every pod gets its address and the shared volume,
//! the merge Job reads the directory the shards write; and the index mapping itself:
//! `--shards N` with `JOB_COMPLETION_INDEX=i` runs shard `i/N` into `shard-i-of-N/`, and
//! `recproof load merge` of the parent directory adds the shards up to the whole run.

use std::path::Path;
use std::process::Command;

fn manifest(name: &str) -> serde_json::Value {
    let path = format!("{}/../../deploy/k8s/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("manifest");
    serde_saphyr::from_str(&text).expect("valid YAML")
}

fn args(container: &serde_json::Value) -> Vec<String> {
    container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect()
}

fn after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} missing from {args:?}"));
    &args[i + 1]
}

#[test]
fn the_load_is_an_indexed_job_whose_shards_the_merge_job_adds_up() {
    let job = manifest("load-job.yaml");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let container = &spec["template"]["spec"]["containers"][0];
    let a = args(container);
    assert_eq!(a[0], "load");
    let shards: u64 = after(&a, "--shards").parse().expect("a count");
    assert_eq!(spec["completions"], shards, "one pod per shard");
    assert_eq!(
        spec["parallelism"], shards,
        "every shard at once (they share the clock)"
    );
    assert_eq!(after(&a, "--bind-ip"), "$(POD_IP)");
    let env = container["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "POD_IP"
                && e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"),
        "{env:?}"
    );
    let out = after(&a, "--out");
    let config = after(&a, "--sut");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    for path in [out, config] {
        assert!(
            mounts
                .iter()
                .any(|m| path.starts_with(m["mountPath"].as_str().expect("path"))),
            "{path} is on a mounted volume"
        );
    }
    let merge = manifest("merge-job.yaml");
    let m = args(&merge["spec"]["template"]["spec"]["containers"][0]);
    assert_eq!(
        m[..3],
        ["load", "merge", out],
        "the merge reads what the shards wrote"
    );
    let config_map = manifest("config.yaml");
    assert_eq!(config_map["kind"], "ConfigMap");
    for key in ["profile.yaml", "mix.yaml"] {
        assert!(config_map["data"][key].is_string(), "{key}");
        assert!(config.starts_with("/config/"));
    }
    assert_eq!(
        manifest("results-pvc.yaml")["kind"],
        "PersistentVolumeClaim"
    );
}

fn shard(out: &Path, index: u32, sip: u16) -> std::process::Output {
    let caller = format!("127.0.0.1:{sip}");
    let callee = format!("127.0.0.1:{}", sip + 2);
    Command::new(env!("CARGO_BIN_EXE_recproof"))
        .env("JOB_COMPLETION_INDEX", index.to_string())
        .args([
            "load",
            "--direct",
            "--shards",
            "2",
            "-r",
            "20",
            "-m",
            "5",
            "--hold",
            "1",
            "--threads",
            "1",
            "--caller-sip",
            &caller,
            "--callee-sip",
            &callee,
            "--rtp-ports",
            "43000-44000",
            "--interval",
            "0.5",
            "--out",
        ])
        .arg(out)
        .output()
        .expect("run a shard")
}

#[test]
fn the_completion_index_picks_the_shard_and_the_parent_directory_merges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    for (i, sip) in [(0u32, 25_210u16), (1, 25_220)] {
        let o = shard(&run, i, sip);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(
            &std::fs::read(run.join(format!("shard-{i}-of-2/results.json"))).expect("results"),
        )
        .expect("json");
        assert_eq!(r["plan"]["shards"], serde_json::json!([format!("{i}/2")]));
    }
    let merged = run.join("merged");
    let o = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .args(["load", "merge"])
        .arg(&run)
        .arg("--out")
        .arg(&merged)
        .output()
        .expect("merge");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("results.json")).expect("merged"))
            .expect("json");
    assert_eq!(r["totals"]["started"], 5, "{r}");
    assert_eq!(r["plan"]["shards"], serde_json::json!(["0/2", "1/2"]));
    assert!(merged.join("index.html").is_file());
    // Without the variable, --shards says what is missing.
    let o = Command::new(env!("CARGO_BIN_EXE_recproof"))
        .env_remove("JOB_COMPLETION_INDEX")
        .args(["load", "--direct", "--shards", "2", "-m", "1"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("JOB_COMPLETION_INDEX"));
}
