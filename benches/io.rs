//! Throughput of the reference crate against plain file I/O, measured in the same run.
//!
//! `cargo bench --bench io` (set `AMBER_BENCH_MIB` to change the 512 MiB array size, and
//! `AMBER_BENCH_RUNS` for the number of repetitions; medians are reported).
//!
//! Workloads (issue 2's targets):
//! - one float32 array written raw with CRC, against `std::fs::write` of the same bytes;
//! - the file read into memory with every CRC checked, against `std::fs::read`;
//! - the same array zstd-compressed (level 3, shuffle) on all cores and on one core, and decoded;
//! - a memory-mapped open of a file holding 10,000 arrays.

use std::path::Path;
use std::time::{Duration, Instant};

use amberfile::{
    ArraySpec, Compression, DType, Graph, Node, NodeId, ReadOptions, Reader, Verify, WriteOptions, Writer,
};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `f` `runs` times after `setup` each time, and returns the median duration of `f`.
fn measure(runs: usize, mut setup: impl FnMut(), mut f: impl FnMut()) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            setup();
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    median(samples)
}

fn gib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / (1u64 << 30) as f64
}

fn write_amber(path: &Path, bytes: &[u8], compression: Compression) {
    let mut writer = Writer::create(path, WriteOptions::default()).unwrap();
    let n = (bytes.len() / 4) as u64;
    let id = writer
        .write_array_with(&ArraySpec::c(DType::Float32, &[n]), bytes, compression)
        .unwrap();
    let mut graph = Graph::new();
    let root = graph.add(Node::Array(id));
    graph.set_root(root);
    writer.commit(&graph).unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this once as a smoke test.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mib = if benchmarking {
        env("AMBER_BENCH_MIB", 512)
    } else {
        2
    };
    let runs = if benchmarking {
        env("AMBER_BENCH_RUNS", 5)
    } else {
        1
    };
    let dir = tempfile::tempdir_in(std::env::var("AMBER_BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let plain = dir.path().join("plain.bin");
    let amber = dir.path().join("array.amber");

    // Smooth values with a little noise: compressible the way trained weights are, not trivially.
    let values: Vec<f32> = (0..mib * (1 << 18))
        .map(|i| ((i as f32) * 1e-3).sin() + ((i.wrapping_mul(2654435761) >> 16) & 0xff) as f32 * 1e-4)
        .collect();
    let bytes: &[u8] = bytemuck::cast_slice(&values);
    let n = bytes.len();
    println!(
        "# amberfile I/O benchmark: {mib} MiB float32, median of {runs} runs, {} threads",
        rayon::current_num_threads()
    );

    let remove = |p: &Path| {
        let _ = std::fs::remove_file(p);
    };
    let fs_write = measure(runs, || remove(&plain), || std::fs::write(&plain, bytes).unwrap());
    let raw_write = measure(
        runs,
        || remove(&amber),
        || write_amber(&amber, bytes, Compression::None),
    );
    let fs_read = measure(
        runs,
        || (),
        || drop(std::hint::black_box(std::fs::read(&plain).unwrap())),
    );
    let raw_read = measure(
        runs,
        || (),
        || {
            drop(std::hint::black_box(
                Reader::open(&amber, ReadOptions::default()).unwrap(),
            ))
        },
    );

    let zstd = Compression::Zstd {
        level: 3,
        shuffle: true,
    };
    let zstd_write = measure(runs, || remove(&amber), || write_amber(&amber, bytes, zstd));
    let stored = std::fs::metadata(&amber).unwrap().len();
    let one_core = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let zstd_write_1 = measure(
        runs.min(3),
        || remove(&amber),
        || one_core.install(|| write_amber(&amber, bytes, zstd)),
    );
    let zstd_read = measure(
        runs,
        || (),
        || {
            let reader = Reader::open(&amber, ReadOptions::default()).unwrap();
            let id = amberfile::ArrayId::from_index(0);
            drop(std::hint::black_box(reader.read::<f32>(id).unwrap()));
        },
    );

    // 10,000 arrays of 4 KiB in a dict, opened with mmap.
    let many = dir.path().join("many.amber");
    {
        let mut writer = Writer::create(&many, WriteOptions::default()).unwrap();
        let mut graph = Graph::new();
        let block = vec![0u8; 4096];
        let entries: Vec<[NodeId; 2]> = (0..10_000)
            .map(|i| {
                let id = writer
                    .write_array(&ArraySpec::c(DType::Float32, &[1024]), &block)
                    .unwrap();
                [
                    graph.add(Node::Str(&format!("layer.{i}.weight"))),
                    graph.add(Node::Array(id)),
                ]
            })
            .collect();
        let root = graph.add(Node::Map(&entries));
        graph.set_root(root);
        writer.commit(&graph).unwrap();
    }
    let open_options = ReadOptions {
        verify: Verify::OnFirstAccess,
        ..Default::default()
    };
    // SAFETY: the benchmark's own temporary file is not modified while mapped.
    #[allow(unsafe_code)]
    let mmap_open = measure(
        if benchmarking { runs.max(21) } else { 1 },
        || (),
        || drop(unsafe { Reader::open_mmap(&many, open_options.clone()) }.unwrap()),
    );

    let ratio = |base: Duration, ours: Duration| base.as_secs_f64() / ours.as_secs_f64();
    println!();
    println!("| workload | baseline | amber | throughput ratio (amber / baseline) | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| raw write with CRC | fs::write {:.2} GiB/s | {:.2} GiB/s | {:.2} | >= 0.8 |",
        gib_per_s(n, fs_write),
        gib_per_s(n, raw_write),
        ratio(fs_write, raw_write)
    );
    println!(
        "| raw read into memory, all CRCs checked | fs::read {:.2} GiB/s | {:.2} GiB/s | {:.2} | >= 0.8 |",
        gib_per_s(n, fs_read),
        gib_per_s(n, raw_read),
        ratio(fs_read, raw_read)
    );
    println!(
        "| zstd-3 + shuffle write, all cores | fs::write {:.2} GiB/s | {:.2} GiB/s (1 core: {:.2} GiB/s, speed-up {:.2}x) | {:.2} | spread over all cores |",
        gib_per_s(n, fs_write),
        gib_per_s(n, zstd_write),
        gib_per_s(n, zstd_write_1),
        zstd_write_1.as_secs_f64() / zstd_write.as_secs_f64(),
        ratio(fs_write, zstd_write)
    );
    println!(
        "| zstd read + decode | fs::read {:.2} GiB/s | {:.2} GiB/s | {:.2} | - |",
        gib_per_s(n, fs_read),
        gib_per_s(n, zstd_read),
        ratio(fs_read, zstd_read)
    );
    println!(
        "| mmap open, 10,000 arrays | - | {:.3} ms | - | < 2 ms |",
        mmap_open.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "zstd-3 + shuffle: {n} -> {stored} bytes, ratio {:.2}",
        n as f64 / stored as f64
    );
}
