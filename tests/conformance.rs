//! The conformance suite against the reference implementation.
//!
//! 1. The generator's check mode: every file under `conformance/` is exactly what the generator
//!    produces, so a change to the writer that alters a byte fails here until the goldens are
//!    regenerated on purpose.
//! 2. Every case of `conformance/manifest.json`, read with the library as `amber render` does:
//!    valid files render exactly as the manifest says, invalid ones fail with exactly the
//!    manifest's error class.

use std::path::{Path, PathBuf};

use amberfile::{render, ReadOptions, Reader};
use serde_json::Value as Json;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

#[test]
fn goldens_match_the_generator_byte_for_byte() {
    let files = amber_conformance::output_files();
    let problems = amber_conformance::check_tree(&conformance_dir(), &files);
    assert!(
        problems.is_empty(),
        "conformance/ differs from `cargo run --example gen-conformance`:\n{}",
        problems.join("\n")
    );
}

/// What the library makes of a file: its rendering, or its error class.
fn render_bytes(bytes: &[u8]) -> Result<Json, &'static str> {
    Reader::from_bytes(bytes, ReadOptions::default())
        .and_then(|reader| render::canonical_json(&reader))
        .map_err(|e| e.class())
}

#[test]
fn every_case_gets_the_manifests_result() {
    let manifest_text = std::fs::read_to_string(conformance_dir().join("manifest.json")).expect("manifest");
    let manifest: Json = serde_json::from_str(&manifest_text).expect("manifest is JSON");
    let cases = manifest["cases"].as_array().expect("a list of cases");
    assert!(cases.iter().filter(|c| c["expect"] == "accept").count() >= 40);
    assert!(cases.iter().filter(|c| c["expect"] == "reject").count() >= 40);
    let mut failures = Vec::new();
    for case in cases {
        let file = case["file"].as_str().expect("file");
        let stored = std::fs::read(conformance_dir().join(file)).expect("case file");
        let zero_run = case.get("zero_run").map(|run| amber_conformance::ZeroRun {
            offset: run["offset"].as_u64().expect("offset"),
            zeros: run["zeros"].as_u64().expect("zeros"),
        });
        let result = render_bytes(&amber_conformance::materialize(&stored, zero_run));
        let rendering_ok = |actual: &Json| case.get("rendering") == Some(actual);
        let error_ok = |class: &str| case["error"].as_str() == Some(class);
        let ok = match (case["expect"].as_str(), &result) {
            (Some("accept"), Ok(actual)) => rendering_ok(actual),
            (Some("reject"), Err(class)) => error_ok(class),
            (Some("either"), Ok(actual)) => rendering_ok(actual),
            (Some("either"), Err(class)) => error_ok(class),
            _ => false,
        };
        if !ok {
            let got = match &result {
                Ok(json) => format!(
                    "rendering {}",
                    json.to_string().chars().take(200).collect::<String>()
                ),
                Err(class) => format!("error {class}"),
            };
            failures.push(format!("{file}: expected {}, got {got}", case["expect"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
