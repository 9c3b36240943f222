//! The remote reader and writer against real servers started by `scripts/test-all.sh`: an
//! S3-compatible server (moto) and nginx serving files with Range support, both on 127.0.0.1.
//!
//! - `AMBER_TEST_S3_ENDPOINT`: e.g. `http://127.0.0.1:PORT`, bucket `amber-test` created,
//!   credentials in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, region us-east-1;
//! - `AMBER_TEST_HTTP_URL`: the base URL of nginx serving the directory `AMBER_TEST_HTTP_ROOT`.
//!
//! Without them a test prints a notice and returns, unless `AMBER_REQUIRE_SERVICES=1`, where
//! it fails.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use amber_test_support::fixtures::{f32_bytes, file_with, graph_of, ZSTD};
use amberfile::remote::object_store::ObjectStoreExt;
use amberfile::remote::{self, RemoteReader};
use amberfile::{
    ArrayId, ArraySpec, Compression, DType, ErrorKind, ReadOptions, Reader, WriteOptions, Writer,
};

/// The variable's value, or `None` with a notice (a failure when services are required).
fn service(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            let required = std::env::var("AMBER_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(!required, "AMBER_REQUIRE_SERVICES=1 but {variable} is not set");
            eprintln!("notice: {variable} is not set; this test needs the servers of scripts/test-all.sh");
            None
        }
    }
}

/// A fresh object name per call, so reruns against one server never see each other's files.
fn unique(stem: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{stem}-{}-{}.amber",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn s3_options(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("aws_endpoint".into(), endpoint.into()),
        ("aws_allow_http".into(), "true".into()),
        ("aws_region".into(), "us-east-1".into()),
        ("amber_part_size".into(), (5u32 << 20).to_string()),
        ("amber_timeout".into(), "60".into()),
    ]
}

/// 6 MiB raw and a compressed array: a multipart upload of two parts.
fn model_arrays() -> Vec<(ArraySpec, Vec<u8>, Compression)> {
    let raw = f32_bytes((0..(3 << 19)).map(|i| i as f32));
    let packed = f32_bytes((0..200_000).map(|i| (i % 113) as f32));
    vec![
        (ArraySpec::c(DType::Float32, &[3 << 19]), raw, Compression::None),
        (ArraySpec::c(DType::Float32, &[200_000]), packed, ZSTD),
    ]
}

fn write_model(url: &str, options: Vec<(String, String)>, arrays: &[(ArraySpec, Vec<u8>, Compression)]) {
    let mut writer = Writer::new(remote::create_url(url, options).unwrap(), WriteOptions::default()).unwrap();
    let ids: Vec<ArrayId> = arrays
        .iter()
        .map(|(spec, bytes, compression)| writer.write_array_with(spec, bytes, *compression).unwrap())
        .collect();
    writer.finish(&graph_of(&ids)).unwrap().finish().unwrap();
}

fn assert_reads_back(reader: &RemoteReader, arrays: &[(ArraySpec, Vec<u8>, Compression)]) {
    let ids: Vec<ArrayId> = reader.arrays().map(|a| a.id()).collect();
    assert_eq!(ids.len(), arrays.len());
    for (id, (_, bytes, _)) in ids.iter().zip(arrays) {
        assert_eq!(&reader.read_bytes(*id).unwrap(), bytes);
    }
    let part = reader.read_byte_range(ids[1], 4000..4100).unwrap();
    assert_eq!(part, arrays[1].1[4000..4100]);
    reader.verify().unwrap();
}

/// The class the local partial reader gives for `bytes` (open, then verify).
fn local_class(bytes: &[u8]) -> Option<ErrorKind> {
    Reader::from_source(bytes, ReadOptions::default())
        .and_then(|reader| reader.verify())
        .err()
        .map(|e| e.kind())
}

fn remote_class(reader: amberfile::Result<RemoteReader>) -> Option<ErrorKind> {
    reader.and_then(|reader| reader.verify()).err().map(|e| e.kind())
}

/// A flipped metadata byte, a flipped extent byte and a truncation of `file`.
fn corruptions(file: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let metadata = amber_test_support::surgery::metadata_range(file);
    let mut in_metadata = file.to_vec();
    in_metadata[metadata.start + 3] ^= 0x40;
    let mut in_extent = file.to_vec();
    in_extent[1000] ^= 0x01;
    vec![
        ("metadata byte", in_metadata),
        ("extent byte", in_extent),
        ("truncation", file[..file.len() - 100].to_vec()),
    ]
}

#[test]
fn s3_round_trip_abort_and_corruptions() {
    let Some(endpoint) = service("AMBER_TEST_S3_ENDPOINT") else {
        return;
    };
    let arrays = model_arrays();
    let url = format!("s3://amber-test/{}", unique("model"));
    write_model(&url, s3_options(&endpoint), &arrays);
    let reader = remote::open_url(&url, s3_options(&endpoint), ReadOptions::default()).unwrap();
    assert_reads_back(&reader, &arrays);
    let (store, _, _) = remote::parse_url(&url, s3_options(&endpoint)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // An upload dropped before it finished leaves no object.
    let abandoned = format!("s3://amber-test/{}", unique("abandoned"));
    let mut writer = Writer::new(
        remote::create_url(&abandoned, s3_options(&endpoint)).unwrap(),
        WriteOptions::default(),
    )
    .unwrap();
    writer
        .write_array_with(&arrays[0].0, &arrays[0].1, Compression::None)
        .unwrap();
    drop(writer);
    let (_, abandoned_path, _) = remote::parse_url(&abandoned, s3_options(&endpoint)).unwrap();
    assert!(runtime.block_on(store.head(&abandoned_path)).is_err());

    // Each corruption gets the local reader's class.
    let file = file_with(WriteOptions::default(), &arrays);
    for (what, bytes) in corruptions(&file) {
        let url = format!("s3://amber-test/{}", unique("corrupt"));
        let (_, path, _) = remote::parse_url(&url, s3_options(&endpoint)).unwrap();
        runtime.block_on(store.put(&path, bytes.clone().into())).unwrap();
        let local = local_class(&bytes);
        assert!(local.is_some(), "{what}");
        assert_eq!(
            remote_class(remote::open_url(
                &url,
                s3_options(&endpoint),
                ReadOptions::default()
            )),
            local,
            "{what}"
        );
    }
}

fn http_options() -> Vec<(String, String)> {
    vec![
        ("allow_http".into(), "true".into()),
        ("amber_timeout".into(), "60".into()),
    ]
}

#[test]
fn http_round_trip_replacement_and_corruptions() {
    let (Some(base), Some(root)) = (service("AMBER_TEST_HTTP_URL"), service("AMBER_TEST_HTTP_ROOT")) else {
        return;
    };
    let root = PathBuf::from(root);
    let arrays = model_arrays();
    let file = file_with(WriteOptions::default(), &arrays);
    let name = unique("model");
    std::fs::write(root.join(&name), &file).unwrap();
    let url = format!("{}/{name}", base.trim_end_matches('/'));
    let reader = remote::open_url(&url, http_options(), ReadOptions::default()).unwrap();
    assert_reads_back(&reader, &arrays);

    // Replaced under an open reader: ObjectChanged, never a mix of two files.
    let other = file_with(WriteOptions::default(), &model_arrays()[..1]);
    std::fs::write(root.join(&name), other).unwrap();
    let err = reader
        .read_bytes(reader.arrays().next().unwrap().id())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectChanged, "{err}");

    for (what, bytes) in corruptions(&file) {
        let name = unique("corrupt");
        std::fs::write(root.join(&name), &bytes).unwrap();
        let url = format!("{}/{name}", base.trim_end_matches('/'));
        let local = local_class(&bytes);
        assert!(local.is_some(), "{what}");
        assert_eq!(
            remote_class(remote::open_url(&url, http_options(), ReadOptions::default())),
            local,
            "{what}"
        );
    }
}
