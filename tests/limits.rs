//! Hostile files cannot make the reader allocate beyond its budget or work beyond linear time.
//!
//! Each file is crafted by writing a valid file and patching its metadata (or replacing it with
//! hand-built bytes), with the metadata and trailer CRCs recomputed, so the reader's structural
//! checks are what stop it. A counting global allocator records the peak of live heap bytes while
//! the reader works; every test holds one lock for its whole body so the peak is its own.
//!
//! No test measures time: linear-time behaviour is asserted through work that would be
//! exponential or enormous otherwise (2^40 values, 2^60 elements, 2^32 items).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use amber_test_support::error_class;
use amber_test_support::surgery::{metadata, patch_metadata, replace_metadata};
use amberfile::{
    ArraySpec, Compression, DType, Graph, Limits, Node, NodeId, ReadOptions, Reader, WriteOptions, Writer,
};

// ---------------------------------------------------------------------------------------------
// A global allocator that counts live bytes and their peak.

struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn allocated(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn freed(size: usize) {
    LIVE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters only observe.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            allocated(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (hence by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which we pass on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Count the new block before releasing the old one: a moving realloc holds both.
            allocated(new_size);
            freed(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Serializes the tests of this binary, so no other test allocates while one measures.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `work` and returns its result with the peak of heap bytes allocated during it, above
/// what was live when it started.
fn peak_allocation<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = work();
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

const MIB: usize = 1 << 20;
/// What a reader may allocate for any hostile file of this suite (the million-node graph is
/// the largest honest one: about 24 bytes per node).
const BUDGET: usize = 64 * MIB;
/// What a reader may allocate for a file of a few hundred bytes.
const TINY_BUDGET: usize = 256 << 10;

/// Opens `file` with `options` and returns the error class, asserting the peak allocation
/// stayed below `budget`.
fn open_fails(file: &[u8], options: ReadOptions, budget: usize) -> &'static str {
    let (result, peak) = peak_allocation(|| Reader::from_bytes(file, options).map(drop));
    assert!(peak < budget, "opening allocated {peak} bytes");
    error_class(result)
}

/// [`open_fails`] for a tiny hostile file with the default options.
fn open_tiny_fails(file: &[u8]) -> &'static str {
    open_fails(file, ReadOptions::default(), TINY_BUDGET)
}

// ---------------------------------------------------------------------------------------------
// Files to patch. Offsets are relative to the metadata section (spec section 6): a 20-byte
// header (string, dtype, array and node counts, root), then the tables.

/// Metadata header fields.
const STRING_COUNT: usize = 0;
const DTYPE_COUNT: usize = 4;
const ARRAY_COUNT: usize = 8;
const NODE_COUNT: usize = 12;

/// In a file with no strings, one scalar dtype (1 byte at 20) and one 1-d array (entry at 21):
/// the array's dimension and block size.
const ARRAY_DIM: usize = 21 + 8;
const ARRAY_BLOCK_SIZE: usize = ARRAY_DIM + 8;

/// A file holding one 1-d float64 array of `len` elements and a graph of one array node.
fn one_array_file(len: u64, compression: Compression, block_size: u64) -> Vec<u8> {
    let options = WriteOptions {
        block_size,
        ..WriteOptions::default()
    };
    let mut writer = Writer::new(Vec::new(), options).unwrap();
    let values: Vec<u8> = (0..len).flat_map(|i| (i as f64).to_le_bytes()).collect();
    let id = writer
        .write_array_with(&ArraySpec::c(DType::Float64, &[len]), &values, compression)
        .unwrap();
    let mut graph = Graph::new();
    let root = graph.add(Node::Array(id));
    graph.set_root(root);
    let file = writer.finish(&graph).unwrap();
    assert_eq!(metadata(&file)[ARRAY_DIM..ARRAY_DIM + 8], len.to_le_bytes());
    file
}

const ZSTD: Compression = Compression::Zstd {
    level: 1,
    shuffle: false,
};

/// A file whose graph is `graph` and which holds no arrays.
fn graph_file(graph: &Graph) -> Vec<u8> {
    let writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    writer.finish(graph).unwrap()
}

/// Reads `file` and converts its root to a `Value` under `limits`, which must stop the conversion
/// with LimitExceeded; returns the reader and the conversion's peak allocation.
fn convert_past_limit<'f>(file: &'f [u8], limits: &Limits) -> (Reader<&'f [u8]>, usize) {
    let reader = Reader::from_bytes(file, ReadOptions::default()).unwrap();
    let (result, peak) = peak_allocation(|| reader.graph().to_value(reader.root(), limits).map(drop));
    assert_eq!(error_class(result), "LimitExceeded");
    (reader, peak)
}

/// Hand-built metadata: a header with these counts and root 0, then `tables`.
fn metadata_with(counts: [u32; 4], tables: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = counts.iter().flat_map(|c| c.to_le_bytes()).collect();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(tables);
    out
}

fn u32le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn u64le(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

// ---------------------------------------------------------------------------------------------
// Arrays

#[test]
fn a_tiny_file_declaring_2_pow_60_elements_is_a_length_mismatch() {
    let _serial = serial();
    for compression in [Compression::None, ZSTD] {
        let mut file = one_array_file(8, compression, 1 << 20);
        patch_metadata(&mut file, ARRAY_DIM, &u64le(1 << 60));
        assert!(file.len() < 1024, "{} bytes", file.len());
        // Raw: the one extent stores 64 bytes, not 2^63. Compressed: one extent, not 2^43.
        assert_eq!(open_tiny_fails(&file), "LengthMismatch");
    }
}

#[test]
fn a_block_declared_one_tebibyte_is_over_the_limit() {
    let _serial = serial();
    let mut file = one_array_file(8, ZSTD, 1 << 20);
    patch_metadata(&mut file, ARRAY_BLOCK_SIZE, &u64le(1 << 40));
    assert_eq!(open_tiny_fails(&file), "LimitExceeded");
}

/// 1024 genuine one-element blocks, relabelled as 1024 blocks of 2^30 bytes: a valid layout
/// for an array that claims 1 TiB.
fn one_tebibyte_claim() -> Vec<u8> {
    let mut file = one_array_file(1024, ZSTD, 8);
    patch_metadata(&mut file, ARRAY_DIM, &u64le(1 << 37));
    patch_metadata(&mut file, ARRAY_BLOCK_SIZE, &u64le(1 << 30));
    file
}

#[test]
fn decoding_a_huge_declared_array_fails_before_allocating() {
    let _serial = serial();
    let file = one_tebibyte_claim();
    let small = ReadOptions {
        limits: Limits {
            max_decoded_bytes: 16 * MIB as u64,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    for options in [ReadOptions::default(), small.clone()] {
        let reader = Reader::from_bytes(&file, options).expect("the layout is valid");
        let id = reader.arrays().next().unwrap().id();
        assert_eq!(reader.array_info(id).unwrap().nbytes(), 1 << 40);
        let (classes, peak) = peak_allocation(|| {
            [
                error_class(reader.read_bytes(id)),
                error_class(reader.read::<f64>(id)),
                error_class(reader.read_byte_range(id, 0..1 << 40)),
            ]
        });
        assert_eq!(classes, ["LimitExceeded"; 3]);
        assert!(peak < TINY_BUDGET, "decoding allocated {peak} bytes");
    }
    // Under the lowered limit even one declared block (2^30 bytes) is over budget.
    let reader = Reader::from_bytes(&file, small).unwrap();
    let id = reader.arrays().next().unwrap().id();
    let (classes, peak) = peak_allocation(|| {
        [
            error_class(reader.read_byte_range(id, 0..8)),
            error_class(reader.for_each_chunk(id, |_| Ok(()))),
            error_class(reader.verify()),
        ]
    });
    assert_eq!(classes, ["LimitExceeded"; 3]);
    assert!(peak < TINY_BUDGET, "decoding allocated {peak} bytes");
}

#[test]
fn a_compressed_array_over_max_decoded_bytes_is_refused_but_streams() {
    let _serial = serial();
    let file = one_array_file(1 << 14, ZSTD, 4096); // 128 KiB in 32 blocks
    let options = ReadOptions {
        limits: Limits {
            max_decoded_bytes: 64 << 10,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let reader = Reader::from_bytes(&file, options).unwrap();
    let id = reader.arrays().next().unwrap().id();
    let (result, peak) = peak_allocation(|| reader.read_bytes(id).map(drop));
    assert_eq!(error_class(result), "LimitExceeded");
    assert!(peak < 64 << 10, "allocated {peak} bytes before refusing");
    assert_eq!(error_class(reader.read::<f64>(id)), "LimitExceeded");
    // Within the limit: a range, and the whole array block by block.
    let range = reader.read_byte_range(id, 4096..8192).unwrap();
    assert_eq!(&range[..8], &512f64.to_le_bytes());
    let mut total = 0;
    reader
        .for_each_chunk(id, |chunk| {
            total += chunk.len();
            Ok(())
        })
        .unwrap();
    assert_eq!(total, 128 << 10);
}

#[test]
fn an_extent_count_beyond_the_remaining_bytes_is_truncated() {
    let _serial = serial();
    // 2^32 - 1 one-byte elements in one-byte blocks: the count is the expected one, but its
    // 20-byte extent records cannot fit.
    let mut file = one_array_file(1, ZSTD, 8);
    patch_metadata(&mut file, ARRAY_DIM, &u64le(u64::from(u32::MAX)));
    patch_metadata(&mut file, ARRAY_BLOCK_SIZE, &u64le(8));
    patch_metadata(&mut file, ARRAY_BLOCK_SIZE + 8, &u32le(u32::MAX));
    assert_eq!(open_tiny_fails(&file), "Truncated");
}

// ---------------------------------------------------------------------------------------------
// Counts in the metadata

/// A file whose only node is `None` (metadata: 20-byte header, then the node at 20).
fn none_file() -> Vec<u8> {
    let mut graph = Graph::new();
    let root = graph.add(Node::None);
    graph.set_root(root);
    graph_file(&graph)
}

#[test]
fn table_counts_beyond_the_remaining_bytes_never_allocate() {
    let _serial = serial();
    let limits = Limits::default();
    let counts = [
        (STRING_COUNT, limits.max_strings),
        (DTYPE_COUNT, limits.max_dtypes),
        (ARRAY_COUNT, limits.max_arrays),
        (NODE_COUNT, limits.max_nodes),
    ];
    for (field, count) in counts {
        let mut file = none_file();
        patch_metadata(&mut file, field, &u32le(count));
        assert_eq!(open_tiny_fails(&file), "Truncated", "count at {field}");
        patch_metadata(&mut file, field, &u32le(count + 1));
        assert_eq!(open_tiny_fails(&file), "LimitExceeded", "count at {field}");
    }
}

#[test]
fn a_list_claiming_2_pow_32_items_in_a_tiny_file_is_truncated() {
    let _serial = serial();
    let mut graph = Graph::new();
    let root = graph.add(Node::List(&[]));
    graph.set_root(root);
    let mut file = graph_file(&graph);
    assert_eq!(metadata(&file)[20], 8, "the list node is at 20");
    patch_metadata(&mut file, 21, &u32le(u32::MAX));
    assert_eq!(open_tiny_fails(&file), "Truncated");
}

#[test]
fn lengths_and_item_counts_beyond_the_remaining_bytes_never_allocate() {
    let _serial = serial();
    let none = [0u8]; // a `none` node
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "string length",
            metadata_with([1, 0, 0, 1], &[&u32le(u32::MAX)[..], &none].concat()),
        ),
        (
            "record field count",
            metadata_with(
                [0, 1, 0, 1],
                &[&[48][..], &u32le(8), &u32le(1 << 16), &none].concat(),
            ),
        ),
        (
            "bytes length",
            metadata_with([0, 0, 0, 1], &[&[7][..], &u32le(u32::MAX)].concat()),
        ),
        (
            "bigint length",
            metadata_with([0, 0, 0, 1], &[&[3][..], &u32le(1000)].concat()),
        ),
        (
            "map count",
            metadata_with([0, 0, 0, 1], &[&[12][..], &u32le(u32::MAX)].concat()),
        ),
        (
            "object array items",
            metadata_with(
                [0, 0, 0, 1],
                &[&[14, 0, 2][..], &u64le(1 << 32), &u64le(1 << 31)].concat(),
            ),
        ),
    ];
    let base = none_file();
    for (what, metadata) in cases {
        let file = replace_metadata(&base, &metadata);
        assert_eq!(open_tiny_fails(&file), "Truncated", "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Large and deep graphs

#[test]
fn a_million_nodes_parse_within_budget_and_max_nodes_is_enforced() {
    let _serial = serial();
    const NODES: usize = 1_000_000;
    let mut graph = Graph::new();
    for _ in 1..NODES {
        graph.add(Node::None);
    }
    let root = graph.add(Node::Int(7));
    graph.set_root(root);
    let file = graph_file(&graph);
    drop(graph);
    assert!(file.len() < 2 * MIB, "{} bytes", file.len());

    let (reader, peak) = peak_allocation(|| Reader::from_bytes(&file, ReadOptions::default()).unwrap());
    assert_eq!(reader.graph().len(), NODES);
    assert_eq!(reader.graph().node(reader.root()), Node::Int(7));
    assert!(peak < BUDGET, "parsing allocated {peak} bytes");
    drop(reader);

    let fewer = ReadOptions {
        limits: Limits {
            max_nodes: NODES as u32 - 1,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    assert_eq!(open_fails(&file, fewer, TINY_BUDGET), "LimitExceeded");
}

/// A graph of `depth` nested single-item lists around a `None`; the returned ids are the
/// chain from the innermost node outwards.
fn nested_lists(depth: usize) -> (Graph, Vec<NodeId>) {
    let mut graph = Graph::new();
    let mut chain = vec![graph.add(Node::None)];
    for _ in 1..depth {
        let inner = *chain.last().unwrap();
        chain.push(graph.add(Node::List(&[inner])));
    }
    graph.set_root(*chain.last().unwrap());
    (graph, chain)
}

#[test]
fn deep_nesting_parses_without_recursion_and_converts_only_within_max_value_depth() {
    let _serial = serial();
    let (graph, chain) = nested_lists(100_000);
    let file = graph_file(&graph);
    let (reader, peak) = peak_allocation(|| Reader::from_bytes(&file, ReadOptions::default()).unwrap());
    assert!(peak < BUDGET, "parsing allocated {peak} bytes");
    let read = reader.graph();
    let limits = Limits::default();
    let max = limits.max_value_depth as usize;
    // chain[k] holds k + 1 nested levels.
    assert!(read.to_value(chain[max - 1], &limits).is_ok());
    assert_eq!(error_class(read.to_value(chain[max], &limits)), "LimitExceeded");
    assert_eq!(
        error_class(read.to_value(reader.root(), &limits)),
        "LimitExceeded"
    );
    let deeper = Limits {
        max_value_depth: 1000,
        ..Limits::default()
    };
    assert!(read.to_value(chain[999], &deeper).is_ok());
    assert_eq!(error_class(read.to_value(chain[1000], &deeper)), "LimitExceeded");
}

#[test]
fn a_dag_expanding_to_2_pow_40_values_exceeds_the_value_budget() {
    let _serial = serial();
    // 41 nodes: each list holds the one below twice, so the tree has 2^41 - 1 values.
    let mut graph = Graph::new();
    let mut top = graph.add(Node::None);
    for _ in 0..40 {
        top = graph.add(Node::List(&[top, top]));
    }
    graph.set_root(top);
    let file = graph_file(&graph);
    assert!(file.len() < 1024, "{} bytes", file.len());
    let limits = Limits {
        max_value_nodes: 1 << 16,
        ..Limits::default()
    };
    let (reader, peak) = convert_past_limit(&file, &limits);
    // The partial tree is bounded by the budget: a few hundred bytes per value at most.
    assert!(peak < (1 << 16) * 256, "conversion allocated {peak} bytes");
    // The graph itself stays 41 nodes: graph-preserving traversal is linear.
    let reachable: usize = reader
        .graph()
        .iter()
        .map(|(id, _)| reader.graph().children(id).count())
        .sum();
    assert_eq!(reachable, 80);
}

#[test]
fn value_conversion_budgets_the_bytes_it_copies_at_every_reference() {
    let _serial = serial();
    // A 1 MiB string referenced 20,000 times: 1 MiB on disk, 20 GiB if each use were copied.
    let mut graph = Graph::new();
    let text = graph.add(Node::Str(&"s".repeat(1 << 20)));
    let list = graph.add(Node::List(&vec![text; 20_000]));
    graph.set_root(list);
    let file = graph_file(&graph);
    let limits = Limits {
        max_value_bytes: 16 << 20,
        ..Limits::default()
    };
    let (_, peak) = convert_past_limit(&file, &limits);
    // Stopped at the byte budget, with 20,000 values well under the node budget.
    assert!(
        peak <= (16 << 20) + (2 << 20),
        "conversion allocated {peak} bytes"
    );
    // The same string used 200 times fits.
    let mut graph = Graph::new();
    let text = graph.add(Node::Str(&"s".repeat(1 << 20)));
    let list = graph.add(Node::List(&vec![text; 200]));
    let value = graph.to_value(list, &Limits::default()).unwrap();
    assert!(matches!(value, amberfile::Value::List(items) if items.len() == 200));
}

#[test]
fn records_naming_one_long_string_share_it_instead_of_copying_it_per_record() {
    // 200 distinct one-field records (their itemsizes differ) all named by one 1 MiB string:
    // a copy per record would take 200 MiB; the reader holds the name once.
    let name: std::sync::Arc<str> = "n".repeat(1 << 20).into();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let mut graph = Graph::new();
    let items: Vec<NodeId> = (0..200u32)
        .map(|i| {
            let field = amberfile::Field {
                name: name.clone(),
                offset: i,
                dtype: DType::UInt8,
                shape: vec![],
            };
            let dtype = DType::record(i + 1, vec![field]);
            let array = writer.write_array(&ArraySpec::c(dtype, &[0]), &[]).unwrap();
            graph.add(Node::Array(array))
        })
        .collect();
    let root = graph.add(Node::List(&items));
    graph.set_root(root);
    let file = writer.finish(&graph).unwrap();
    let _guard = serial();
    let (reader, peak) = peak_allocation(|| Reader::from_bytes(&file, ReadOptions::default()).unwrap());
    assert_eq!(reader.array_count(), 200);
    assert!(peak < 8 << 20, "peak {peak} bytes for a {} byte file", file.len());
}
