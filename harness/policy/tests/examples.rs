//! Every policy example in `scenarios/` loads, and says what its comments claim.

use std::path::PathBuf;

use recproof_policy::{NotRecorded, NotificationType, Recording, Vendor, load};

fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

const EXAMPLES: &[&str] = &[
    "org-dubber-default.yaml",
    "location-override.yaml",
    "on-demand.yaml",
    "org-none.yaml",
    "webex-vendor-standard-licence.yaml",
];

#[test]
fn named_examples_load() {
    for name in EXAMPLES {
        let path = scenarios().join(name);
        if let Err(e) = load(&path) {
            panic!("{name} does not load:\n{e}");
        }
    }
}

/// Any YAML in scenarios/ with a top-level `organization:` key is a policy file and must
/// load (other scenario kinds, such as SUT or load profiles, are skipped).
#[test]
fn every_policy_file_in_scenarios_loads() {
    let mut seen = 0;
    for entry in std::fs::read_dir(scenarios()).expect("scenarios/ exists") {
        let path = entry.expect("readable dir entry").path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !is_yaml {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable scenario file");
        if !text.lines().any(|l| l.starts_with("organization:")) {
            continue;
        }
        seen += 1;
        if let Err(e) = load(&path) {
            panic!("{} does not load:\n{e}", path.display());
        }
    }
    assert!(seen >= EXAMPLES.len(), "found only {seen} policy files");
}

#[test]
fn examples_mean_what_their_comments_say() {
    let p = load(scenarios().join("org-dubber-default.yaml")).expect("loads");
    assert!(p.resolve("1001").expect("1001").active().is_some());
    assert_eq!(
        p.resolve("1003").expect("1003").recording,
        Recording::Off(NotRecorded::ModeNever)
    );
    assert_eq!(
        p.resolve("1004").expect("1004").recording,
        Recording::Off(NotRecorded::PersonDisabled)
    );

    let p = load(scenarios().join("location-override.yaml")).expect("loads");
    assert_eq!(p.resolve("2001").expect("2001").vendor, Vendor::Dubber);
    assert_eq!(p.resolve("2101").expect("2101").vendor, Vendor::Imagicle);
    assert_eq!(
        p.resolve("2201").expect("2201").recording,
        Recording::Off(NotRecorded::LocationVendorNone)
    );
    assert_eq!(p.resolve("2301").expect("2301").vendor, Vendor::CallCabinet);

    let p = load(scenarios().join("on-demand.yaml")).expect("loads");
    let frank = p.resolve("3002").expect("3002");
    assert_eq!(
        frank.active().expect("recorded").notification,
        Some(NotificationType::Beep)
    );

    let p = load(scenarios().join("org-none.yaml")).expect("loads");
    assert_eq!(
        p.resolve("4001").expect("4001").recording,
        Recording::Off(NotRecorded::OrganizationVendorNone)
    );
}

/// The "Layout" block in scenarios/README.md is a complete, valid policy.
#[test]
fn readme_layout_block_is_valid() {
    let readme = std::fs::read_to_string(scenarios().join("README.md")).expect("README");
    let start = readme.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let len = readme[start..].find("```").expect("closed block");
    let block = &readme[start..start + len];
    let p = recproof_policy::parse(block, "scenarios/README.md")
        .unwrap_or_else(|e| panic!("README layout block:\n{e}"));
    let alice = p.resolve("1001").expect("alice");
    assert_eq!(alice.vendor, Vendor::Imagicle);
}
