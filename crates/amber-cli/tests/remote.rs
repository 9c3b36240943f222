//! The `amber` binary with URLs where it takes paths: file:// URLs (object_store's local file
//! system) and http:// URLs of a test server on 127.0.0.1, compared with the same commands on
//! the local path; `--store-option` passing; a corrupted remote file named by its class.

use std::path::Path;

use amber_test_support::fixtures::{f32_bytes, file_with, ZSTD};
use amber_test_support::remote::{Lie, LyingServer};
use amberfile::{ArraySpec, Compression, DType, Graph, Node, WriteOptions, Writer};
use assert_cmd::Command;

fn amber() -> Command {
    Command::cargo_bin("amber").expect("the amber binary of this package")
}

/// A flat file of two arrays (`0` raw, `1` compressed): the graph is a list of them.
fn sample() -> Vec<u8> {
    let raw = f32_bytes((0..30_000).map(|i| i as f32));
    let packed = f32_bytes((0..40_000).map(|i| (i % 91) as f32));
    file_with(
        WriteOptions {
            block_size: 8192,
            ..WriteOptions::default()
        },
        &[
            (ArraySpec::c(DType::Float32, &[30_000]), raw, Compression::None),
            (ArraySpec::c(DType::Float32, &[40_000]), packed, ZSTD),
        ],
    )
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn output(command: &mut Command) -> (Option<i32>, String) {
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn inspect_verify_render_and_extract_take_urls() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("model.amber");
    std::fs::write(&local, sample()).unwrap();
    let server = LyingServer::start(sample(), Lie::None);
    let http = server.url("model.amber");
    let http_args = ["--store-option", "allow_http=true"];
    for command in [vec!["inspect", "--json"], vec!["render"]] {
        let (status, expected) = output(amber().args(&command).arg(&local));
        assert_eq!(status, Some(0));
        let (status, from_file_url) = output(amber().args(&command).arg(file_url(&local)));
        assert_eq!(status, Some(0), "{command:?}");
        let (status, from_http) = output(amber().args(&command).arg(&http).args(http_args));
        assert_eq!(status, Some(0), "{command:?}");
        // inspect's JSON names the file it read; the rest is the same.
        let unnamed = |text: &str| {
            let mut json: serde_json::Value = serde_json::from_str(text).unwrap();
            json.as_object_mut().unwrap().remove("file");
            json
        };
        assert_eq!(unnamed(&from_file_url), unnamed(&expected), "{command:?}");
        assert_eq!(unnamed(&from_http), unnamed(&expected), "{command:?}");
    }
    amber()
        .arg("verify")
        .arg(&http)
        .args(http_args)
        .assert()
        .success();
    amber().arg("verify").arg(file_url(&local)).assert().success();
    for array in ["0", "1"] {
        let from_local = dir.path().join(format!("local{array}.npy"));
        let from_http = dir.path().join(format!("http{array}.npy"));
        amber()
            .args(["extract"])
            .arg(&local)
            .arg(array)
            .arg("-o")
            .arg(&from_local)
            .assert()
            .success();
        amber()
            .args(["extract"])
            .arg(&http)
            .arg(array)
            .arg("-o")
            .arg(&from_http)
            .args(http_args)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&from_http).unwrap(),
            std::fs::read(&from_local).unwrap()
        );
    }
}

#[test]
fn convert_writes_to_and_reads_from_urls() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("model.amber");
    std::fs::write(&local, sample()).unwrap();
    let npy = dir.path().join("raw.npy");
    amber()
        .args(["extract"])
        .arg(&local)
        .arg("0")
        .arg("-o")
        .arg(&npy)
        .assert()
        .success();
    // .npy -> remote .amber (an upload), then remote .amber -> .npy: the same bytes.
    let uploaded = dir.path().join("up.amber");
    amber()
        .arg("convert")
        .arg(&npy)
        .arg(file_url(&uploaded))
        .assert()
        .success();
    let expected = dir.path().join("expected.amber");
    amber().arg("convert").arg(&npy).arg(&expected).assert().success();
    assert_eq!(
        std::fs::read(&uploaded).unwrap(),
        std::fs::read(&expected).unwrap()
    );
    let back = dir.path().join("back.npy");
    amber()
        .arg("convert")
        .arg(file_url(&uploaded))
        .arg(&back)
        .assert()
        .success();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&npy).unwrap());
}

#[test]
fn a_corrupted_remote_file_is_named_by_its_class_and_bad_options_are_usage_errors() {
    let mut bytes = sample();
    // A byte of the first (raw) array's data: its CRC fails in verify.
    bytes[200] ^= 1;
    let server = LyingServer::start(bytes, Lie::None);
    let out = amber()
        .arg("verify")
        .arg(server.url("m.amber"))
        .args(["--store-option", "allow_http=true"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (out.status.code(), stdout.trim()),
        (Some(1), "ChecksumMismatch"),
        "{stderr}"
    );
    let assert = amber()
        .arg("inspect")
        .arg(server.url("m.amber"))
        .args(["--store-option", "allow_http"])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("KEY=VALUE"));
    amber()
        .arg("inspect")
        .arg(server.url("m.amber"))
        .args(["--store-option", "no_such_option=1"])
        .assert()
        .code(2);
}

#[test]
fn converting_a_remote_file_fetches_its_arrays_in_runs_not_one_by_one() {
    // 60 raw and 60 compressed arrays of 20 blocks each: 1,260 extents, about 4 MiB.
    let options = WriteOptions {
        block_size: 8192,
        ..WriteOptions::default()
    };
    let arrays: Vec<_> = (0..120)
        .map(|a| match a % 2 {
            0 => {
                let values = (0..10_000).map(|i| (a * 7 + i) as f32);
                (
                    ArraySpec::c(DType::Float32, &[10_000]),
                    f32_bytes(values),
                    Compression::None,
                )
            }
            _ => {
                let values = (0..40_960).map(|i| ((a + i) % 113) as f32);
                (ArraySpec::c(DType::Float32, &[40_960]), f32_bytes(values), ZSTD)
            }
        })
        .collect();
    // A map of names to the arrays, as .npz and .safetensors hold them.
    let mut writer = Writer::new(Vec::new(), options).unwrap();
    let mut graph = Graph::new();
    let mut entries = Vec::new();
    for (a, (spec, data, compression)) in arrays.iter().enumerate() {
        let id = writer.write_array_with(spec, data, *compression).unwrap();
        let value = graph.add(Node::Array(id));
        entries.push([graph.add(Node::Str(&format!("w{a}"))), value]);
    }
    let root = graph.add(Node::Map(&entries));
    graph.set_root(root);
    let bytes = writer.finish(&graph).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("model.amber");
    std::fs::write(&local, &bytes).unwrap();
    for format in ["npz", "safetensors"] {
        let expected = dir.path().join(format!("local.{format}"));
        amber()
            .arg("convert")
            .arg(&local)
            .arg(&expected)
            .assert()
            .success();
        let server = LyingServer::start(bytes.clone(), Lie::None);
        let converted = dir.path().join(format!("remote.{format}"));
        amber()
            .arg("convert")
            .arg(server.url("model.amber"))
            .arg(&converted)
            .args(["--store-option", "allow_http=true"])
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&converted).unwrap(),
            std::fs::read(&expected).unwrap()
        );
        // The open's requests, then one run of every array in parts fetched together.
        assert!(server.requests() <= 8, "{format}: {} requests", server.requests());
    }
}
