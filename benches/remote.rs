//! Remote reads over a store that adds about 25 ms to every request (`object_store`'s
//! `ThrottledStore` around `InMemory`), counted by `amber-test-support`'s `CountingStore`:
//!
//! - Amber: open and list (the 9.7 fetch plan), then read one 4 MiB array;
//! - the safetensors recipe through the same store, as huggingface_hub reads a remote header:
//!   a speculative read of the first 100 kB, a second read if the header is longer, then one
//!   ranged read of the tensor;
//! - a whole-object `verify` against a plain `get` of the same bytes.
//!
//! `cargo bench --features remote --bench remote` (`AMBER_BENCH_ARRAYS` 4 MiB arrays, default
//! 64 = 256 MiB; `AMBER_BENCH_RUNS`, default 7). Runs alternate A B B A; medians and ratios are
//! printed. The machine is shared and noisy: compare ratios, not absolute times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amber_test_support::remote::CountingStore;
use amberfile::remote::object_store::memory::InMemory;
use amberfile::remote::object_store::path::Path;
use amberfile::remote::object_store::throttle::{ThrottleConfig, ThrottledStore};
use amberfile::remote::object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};
use amberfile::remote::{RemoteConfig, RemoteReader};
use amberfile::{ArrayId, ArraySpec, Compression, DType, Graph, Node, ReadOptions, WriteOptions, Writer};

const ARRAY_BYTES: usize = 4 << 20;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The same arrays as an Amber file (a map name -> array) and a safetensors file.
fn files(count: usize) -> (Vec<u8>, Vec<u8>) {
    let data: Vec<Vec<u8>> = (0..count)
        .map(|a| {
            (0..ARRAY_BYTES / 4)
                .flat_map(|i| ((a * 7 + i) as f32).to_le_bytes())
                .collect()
        })
        .collect();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let spec = ArraySpec::c(DType::Float32, &[(ARRAY_BYTES / 4) as u64]);
    let ids: Vec<ArrayId> = data
        .iter()
        .map(|bytes| writer.write_array_with(&spec, bytes, Compression::None).unwrap())
        .collect();
    let names: Vec<String> = (0..count).map(|a| format!("layers.{a}.weight")).collect();
    let mut graph = Graph::new();
    let entries: Vec<_> = names
        .iter()
        .zip(&ids)
        .map(|(name, id)| [graph.add(Node::Str(name)), graph.add(Node::Array(*id))])
        .collect();
    let root = graph.add(Node::Map(&entries));
    graph.set_root(root);
    let amber = writer.finish(&graph).unwrap();

    let mut header = serde_json::Map::new();
    for (a, name) in names.iter().enumerate() {
        let start = a * ARRAY_BYTES;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": [ARRAY_BYTES / 4], "data_offsets": [start, start + ARRAY_BYTES]}),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut safetensors = (header.len() as u64).to_le_bytes().to_vec();
    safetensors.extend_from_slice(&header);
    for bytes in &data {
        safetensors.extend_from_slice(bytes);
    }
    (amber, safetensors)
}

/// Amber: open, list every name, read the array `name` of the root map.
fn amber_one_array(store: Arc<dyn ObjectStore>, path: &Path, index: usize) -> Vec<u8> {
    let reader = RemoteReader::open(
        store,
        path.clone(),
        RemoteConfig::default(),
        ReadOptions::default(),
    )
    .unwrap();
    let graph = reader.graph();
    let entries = graph.node(reader.root()).as_map().unwrap();
    let id = graph.node(entries[index][1]).as_array().unwrap();
    let mut out = vec![0u8; ARRAY_BYTES];
    reader.read_into(id, &mut out).unwrap();
    out
}

/// The safetensors recipe: 100 kB speculatively, the rest of the header if longer, the tensor.
fn safetensors_one_array(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    rt: &tokio::runtime::Runtime,
    index: usize,
) -> Vec<u8> {
    rt.block_on(async {
        let first = store.get_range(path, 0..100_000).await.unwrap();
        let len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        let header = if 8 + len <= first.len() {
            first.slice(8..8 + len)
        } else {
            store.get_range(path, 8..(8 + len) as u64).await.unwrap()
        };
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        let offsets = &header[format!("layers.{index}.weight")]["data_offsets"];
        let (start, end) = (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap());
        let base = 8 + len as u64;
        store
            .get_range(path, base + start..base + end)
            .await
            .unwrap()
            .to_vec()
    })
}

fn main() {
    let count = env("AMBER_BENCH_ARRAYS", 64);
    let runs = env("AMBER_BENCH_RUNS", 7);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (amber, safetensors) = files(count);
    let inner = Arc::new(InMemory::new());
    let (amber_path, st_path) = (Path::from("m.amber"), Path::from("m.safetensors"));
    rt.block_on(inner.put(&amber_path, PutPayload::from(amber.clone())))
        .unwrap();
    rt.block_on(inner.put(&st_path, PutPayload::from(safetensors)))
        .unwrap();
    let config = ThrottleConfig {
        wait_get_per_call: Duration::from_millis(25),
        ..ThrottleConfig::default()
    };
    let counting = CountingStore::new(Arc::new(ThrottledStore::new(inner, config)));
    let store: Arc<dyn ObjectStore> = counting.clone();
    let index = count / 2;
    println!(
        "{} arrays of 4 MiB ({} MiB file), 25 ms per request, {runs} runs alternating A B B A, medians",
        count,
        amber.len() >> 20
    );

    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut a_requests, mut b_requests) = (0, 0);
    for run in 0..runs * 2 {
        let amber_turn = matches!(run % 4, 0 | 3);
        counting.reset();
        let start = Instant::now();
        let bytes = if amber_turn {
            amber_one_array(store.clone(), &amber_path, index)
        } else {
            safetensors_one_array(&store, &st_path, &rt, index)
        };
        let elapsed = start.elapsed();
        assert_eq!(bytes.len(), ARRAY_BYTES);
        if amber_turn {
            a.push(elapsed);
            a_requests = counting.gets();
        } else {
            b.push(elapsed);
            b_requests = counting.gets();
        }
    }
    let (a, b) = (median(a), median(b));
    println!("open + list + one 4 MiB array: amber {a:?} in {a_requests} requests, safetensors recipe {b:?} in {b_requests} requests; amber / safetensors = {:.2}", a.as_secs_f64() / b.as_secs_f64());

    let reader = RemoteReader::open(
        store.clone(),
        amber_path.clone(),
        RemoteConfig::default(),
        ReadOptions::default(),
    )
    .unwrap();
    let (mut v, mut g) = (Vec::new(), Vec::new());
    for run in 0..runs * 2 {
        let start = Instant::now();
        if matches!(run % 4, 0 | 3) {
            reader.verify().unwrap();
            v.push(start.elapsed());
        } else {
            let got = rt.block_on(async {
                store
                    .get_opts(&amber_path, GetOptions::default())
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            });
            assert_eq!(got.len(), amber.len());
            g.push(start.elapsed());
        }
    }
    let (v, g) = (median(v), median(g));
    println!(
        "whole object: verify {v:?}, plain get {g:?}; verify throughput = {:.2} x get",
        g.as_secs_f64() / v.as_secs_f64()
    );
}
