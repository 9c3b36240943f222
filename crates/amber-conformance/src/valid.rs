//! The golden files: each built with the crate's writer from a source description, each with its
//! expected rendering derived from that description.

use amberfile::dtype::{Field, TimeUnit};
use amberfile::{ArraySpec, Compression, DType, Graph, Node, NodeId, Order, WriteOptions};
use serde_json::Value as Json;

use super::expected::{array_json, Build};
use super::layout::Parts;
use super::{Case, Expect};

const RAW: Compression = Compression::None;
const ZSTD: Compression = Compression::Zstd {
    level: 3,
    shuffle: false,
};
const ZSTD_SHUFFLE: Compression = Compression::Zstd {
    level: 3,
    shuffle: true,
};

/// SHA-256 of the file of spec Appendix A, which an independent writer produced.
const APPENDIX_A_SHA256: &str = "2a9ab6650ede88908faf05ce3c120a355e4157b5936de6ddc264bff7d85c0c8f";

fn case(name: &str, section: &'static str, description: &str, (bytes, rendering): (Vec<u8>, Json)) -> Case {
    Case {
        name: format!("y_{name}.amber"),
        description: description.into(),
        section,
        rule: None,
        expect: Expect::Accept(rendering),
        derived_from: None,
        corruption: None,
        bytes,
        zero_run: None,
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "minimal_none_root",
            "2",
            "The smallest valid file: 117 bytes, no arrays, one none node",
            minimal(),
        ),
        case(
            "appendix_a_example",
            "Appendix A",
            "The annotated example of Appendix A, byte for byte (a map from \"weights\" to a float32 array)",
            appendix_a(),
        ),
    ];
    for (dtype, bytes, what) in scalar_dtypes() {
        let name = dtype.scalar_name().expect("a scalar dtype");
        cases.push(case(
            &format!("dtype_{name}"),
            "7.1",
            &format!("A raw {name} array: {what}"),
            one_array(&dtype, &bytes),
        ));
    }
    cases.extend([
        case("dtype_bytes_S5", "7.1", "Fixed-width bytes S5: a full value, a short value padded with 0x00, an embedded NUL", strings_s5()),
        case("dtype_unicode_U3", "7.1", "Fixed-width unicode U3 (itemsize 12): BMP, non-BMP and short values", unicode_u3()),
        case("dtype_void_V3", "7.1", "Opaque void V3 elements", one_array(&DType::Void(3), &[1, 2, 3, 0xfd, 0xfe, 0xff])),
        case("dtype_datetime64_every_unit", "7.2", "One datetime64 array per unit code 0 to 13 (generic, Y ... as), plus count 10 (10ms); values include NaT", time_units(true)),
        case("dtype_timedelta64_every_unit", "7.2", "One timedelta64 array per unit code 0 to 13, plus count 25 (25us); values include NaT", time_units(false)),
        case("dtype_record_with_padding", "6.4", "A record like scikit-learn's tree node: 8 fields, gaps between them, itemsize 64; uncovered bytes are hashed as data", record_with_padding()),
        case("dtype_record_nested_shared_subarray", "6.4", "A record with a nested record used by two fields and a float32 [2, 3] subarray field", record_nested()),
        case("dtype_record_zero_size_fields", "6.4", "Zero-size fields (subarray shape [0]) at the start and at the end of another field, which rule R35 allows", record_zero_size()),
        case("dtype_record_depth_32", "11.2", "Records nested 32 deep: exactly max_dtype_depth", record_depth(32)),
        case("dtype_record_expanded_fields_at_limit", "11.2", "A record whose expanded field count is exactly max_record_fields (65,536) through a shared sub-record; no array uses it (the empty array was pointed at dtype 0, uint8), so it is validated but not rendered", record_expanded_at_limit()),
        case("shape_0d", "4.6", "A 0-dimensional float64 array (shape [], one element)", arrays_file(WriteOptions::default(), &[(ArraySpec::c(DType::Float64, &[]), 2.5f64.to_le_bytes().to_vec(), RAW)])),
        case("shape_empty", "4.5", "Arrays with a zero dimension, raw and zstd, with no extents; SHA-256 of the empty string", empty_arrays()),
        case("shape_64_dims", "6.5", "A 64-dimensional array, the most dimensions allowed", high_rank()),
        case("order_c_and_f", "7.3", "The same 2 x 3 int32 matrix stored in C order and in Fortran order", orders()),
        case("codec_zstd_single_block", "8.2", "A zstd array of one block (uint8, 64 bytes)", zstd_single_block()),
        case("codec_zstd_many_blocks_short_final", "6.5", "A zstd int32 array of 1000 bytes in 64-byte blocks: 16 blocks, the last 40 bytes", zstd_many_blocks()),
        case("codec_zstd_shuffle_float32", "8.3", "zstd with the byte-shuffle filter, float32, several blocks and a short final block", zstd_shuffle_float32()),
        case("codec_zstd_shuffle_wide_items", "8.3", "Byte-shuffle with wide items: a 12-byte record and unicode U2 (itemsize 8), short final blocks", zstd_shuffle_wide()),
        case("zstd_frame_without_content_size", "8.2", "A block whose zstd frame does not declare Frame_Content_Size (allowed; writers SHOULD declare it)", zstd_frame_variant(false, false)),
        case("zstd_frame_with_checksum", "8.2", "A block whose zstd frame carries a content checksum (which matches)", zstd_frame_variant(true, true)),
        case("zstd_window_2p30", "8.2", "A block whose zstd frame declares Window_Size 2^30, which readers MUST accept", zstd_window(0xA0)),
        case("alignment_64_padding", "4.4", "Alignment 64: a 3-byte raw array, 61 zero padding bytes, then a float64 array at offset 128", aligned(64)),
        case("alignment_256", "4.3", "Alignment 256 with two raw arrays and padding", aligned(256)),
        case("alignment_4096", "4.3", "Alignment 4096 (page size) with two raw arrays and padding", aligned(4096)),
        case("alignment_2p24_without_raw_arrays", "4.3", "The largest alignment, 2^24, in a small file: only compressed and empty arrays, which need no padding", alignment_max()),
        case("node_scalars", "6.6", "none, bools, int extremes, floats (NaN payload, -0.0, infinities, subnormal) and complex", node_scalars()),
        case("node_str_and_bytes", "6.6", "Strings and byte strings: empty, with U+0000, with every byte value", node_str_bytes()),
        case("node_containers", "6.6", "list, tuple, set, frozenset and map, empty and not", node_containers()),
        case("node_object_and_global", "14.5", "object nodes with args and state, with NONE for both, and global nodes", node_objects()),
        case("node_python_reduce_convention", "14.5.1", "Python reduce convention: a class with NONE args, copyreg.__newobj__ and __newobj_ex__ with a global class first, copyreg._reconstructor, a factory function with args, and an amberfile.ReduceState with list and dict items", node_reduce_convention()),
        case("node_object_array", "14.4", "object_array nodes: 2 x 3 in C and Fortran order, 0-d, empty, holding arrays and itself", node_object_arrays()),
        case("node_shared_references", "14.3", "Shared references: one node referenced from several containers and twice in one list; a DAG that expands to 2^20 leaves", node_shared()),
        case("node_cycles", "14.3", "Cycles: a list containing itself, a map containing itself, an object whose state refers back to it, a tuple containing itself", node_cycles()),
        case("node_deep_nesting", "14.6", "Lists nested 10,000 deep: valid; rendering needs no recursion", node_deep()),
        case("node_unicode", "6.3", "Unicode map keys and strings: CJK, emoji (non-BMP), combining marks, right-to-left text, U+FFFF and U+10FFFF", node_unicode()),
        case("node_bigints", "6.6", "bigint nodes: just outside i64 on both sides, 2^64, large negative, and 1,024 bytes (max_bigint_bytes)", node_bigints()),
        case("node_map_non_string_keys", "14.4", "Map keys of every kind (int, float, None, tuple, bytes, bigint, list), and equal keys twice", node_map_keys()),
        case("node_unreferenced_and_root_first", "14.1", "The root is node 0 and refers forward; two nodes are unreachable", node_unreferenced()),
        case("array_unreferenced_and_shared", "13", "An array referenced by no node, and an array referenced by two array nodes", arrays_shared()),
        case("node_all_kinds", "7.6", "One node of each of the 17 kinds, in kind order, in a list that is the root", node_all_kinds()),
    ]);
    let all_kinds = cases.last().expect("just added").clone();
    let minimal = cases[0].clone();
    cases.extend([
        optional_feature(&minimal),
        newer_minor(&all_kinds),
        bool_elements(),
    ]);
    cases.extend([
        case("dtype_record_zero_dim_fields", "6.4", "Zero-size record fields whose other dimensions are huge, sized as nbytes is (R34): int32 [2^61, 0] and uint8 [2^61, 4, 0] (itemsize x the non-zero dimensions is 2^63), and uint8 [2^63, 0] (issue 14, row 4: accepted)", record_zero_dim_fields()),
        case("zstd_frame_walk_without_content_size", "8.2", "A hand-built frame the walk of spec 8.2 covers: no content size, a 1 KiB window, a 1-byte Dictionary_ID of 0, an RLE, a raw and a compressed block (each at most the window, the compressed one exactly 1 KiB), and a content checksum", zstd_frame_walk()),
        case("zstd_rle_block_of_128kib", "8.2", "A frame with a 256 KiB window whose first block regenerates exactly 128 KiB, the largest block RFC 8878 allows, then a last block of 72 KiB", zstd_block_maximum()),
    ]);
    cases
}

fn build() -> Build {
    Build::new(WriteOptions::default())
}

fn with_root(mut b: Build, root: NodeId) -> (Vec<u8>, Json) {
    b.graph.set_root(root);
    b.finish()
}

fn minimal() -> (Vec<u8>, Json) {
    let mut b = build();
    let root = b.graph.add(Node::None);
    let built = with_root(b, root);
    assert_eq!(
        built.0.len(),
        117,
        "spec section 2: the smallest file is 117 bytes"
    );
    built
}

fn appendix_a() -> (Vec<u8>, Json) {
    let mut b = build();
    let key = b.graph.add(Node::Str("weights"));
    let values: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let array = b.array_node(&ArraySpec::c(DType::Float32, &[2]), &values, RAW);
    let root = b.graph.add(Node::Map(&[[key, array]]));
    let built = with_root(b, root);
    assert_eq!(
        super::sha256_hex(&built.0),
        APPENDIX_A_SHA256,
        "the writer must reproduce Appendix A"
    );
    built
}

/// A root list holding one array node per given array.
fn arrays_file(options: WriteOptions, arrays: &[(ArraySpec, Vec<u8>, Compression)]) -> (Vec<u8>, Json) {
    let mut b = Build::new(options);
    let nodes: Vec<NodeId> = arrays
        .iter()
        .map(|(spec, bytes, c)| b.array_node(spec, bytes, *c))
        .collect();
    let root = b.graph.add(Node::List(&nodes));
    with_root(b, root)
}

/// One raw 1-d array of `dtype` holding `bytes`.
fn one_array(dtype: &DType, bytes: &[u8]) -> (Vec<u8>, Json) {
    let count = bytes.len() as u64 / dtype.itemsize();
    arrays_file(
        WriteOptions::default(),
        &[(ArraySpec::c(dtype.clone(), &[count]), bytes.to_vec(), RAW)],
    )
}

fn le<T: Copy, const N: usize>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

/// A signed integer dtype with elements min, -1, 0, 1, max.
macro_rules! signed_edges {
    ($dtype:ident, $int:ty) => {
        (
            DType::$dtype,
            le(&[<$int>::MIN, -1, 0, 1, <$int>::MAX], <$int>::to_le_bytes),
            "min, -1, 0, 1, max",
        )
    };
}

/// An unsigned integer dtype with elements 0, 1, its top bit alone, max.
macro_rules! unsigned_edges {
    ($dtype:ident, $int:ty, $description:literal) => {
        (
            DType::$dtype,
            le(&[0, 1, 1 << (<$int>::BITS - 1), <$int>::MAX], <$int>::to_le_bytes),
            $description,
        )
    };
}

/// Each scalar dtype with element bytes chosen to hit its edges.
fn scalar_dtypes() -> Vec<(DType, Vec<u8>, &'static str)> {
    vec![
        (DType::Bool, vec![0, 1, 1, 0], "false, true, true, false"),
        signed_edges!(Int8, i8),
        signed_edges!(Int16, i16),
        signed_edges!(Int32, i32),
        signed_edges!(Int64, i64),
        (DType::UInt8, vec![0, 1, 0x7f, 0x80, 0xff], "0, 1, 127, 128, max"),
        unsigned_edges!(UInt16, u16, "0, 1, 2^15, max"),
        unsigned_edges!(UInt32, u32, "0, 1, 2^31, max"),
        unsigned_edges!(UInt64, u64, "0, 1, 2^63, max"),
        (
            DType::Float16,
            le(
                &[0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x0001],
                u16::to_le_bytes,
            ),
            "0, -0, 1, inf, -inf, NaN, smallest subnormal",
        ),
        (
            DType::BFloat16,
            le(
                &[0x3f80, 0xbf80, 0x7f80, 0x7fc1, 0x0001, 0x4049],
                u16::to_le_bytes,
            ),
            "1, -1, inf, NaN with payload, subnormal, 3.140625",
        ),
        (
            DType::Float32,
            le(
                &[0x3fc0_0000, 0x8000_0000, 0x7f80_0000, 0x7fc0_0001, 0x0000_0001],
                u32::to_le_bytes,
            ),
            "1.5, -0, inf, NaN with payload, smallest subnormal",
        ),
        (
            DType::Float64,
            le(
                &[
                    0x3ff8_0000_0000_0000u64,
                    0x8000_0000_0000_0000,
                    0xfff0_0000_0000_0000,
                    0x7ff8_0000_0000_0abc,
                    1,
                ],
                u64::to_le_bytes,
            ),
            "1.5, -0, -inf, NaN with payload, smallest subnormal",
        ),
        (
            DType::Complex64,
            le(&[1.0f32, -2.0, f32::INFINITY, -0.0], f32::to_le_bytes),
            "1-2j, inf-0j",
        ),
        (
            DType::Complex128,
            le(&[0.5f64, 0.25, f64::NEG_INFINITY, 1e300], f64::to_le_bytes),
            "0.5+0.25j, -inf+1e300j",
        ),
        (
            DType::Float8E4M3FN,
            vec![0x00, 0x80, 0x38, 0x7e, 0xfe, 0x7f, 0xff, 0x01],
            "0, -0, 1, 448 (max), -448, NaN, -NaN, smallest subnormal",
        ),
        (
            DType::Float8E5M2,
            vec![0x00, 0x3c, 0x7b, 0x7c, 0xfc, 0x7d, 0x7f, 0x01],
            "0, 1, 57344 (max), inf, -inf, NaN, NaN, smallest subnormal",
        ),
    ]
}

fn strings_s5() -> (Vec<u8>, Json) {
    one_array(&DType::Bytes(5), b"hello\x61b\0\0\0x\0y\0\0")
}

fn unicode_u3() -> (Vec<u8>, Json) {
    let units: Vec<u32> = ['a', 'b', 'c', '\u{e9}', '\u{1F600}', '\0', 'z', '\0', '\0']
        .iter()
        .map(|&c| c as u32)
        .collect();
    one_array(&DType::Unicode(3), &le(&units, u32::to_le_bytes))
}

fn time_units(datetime: bool) -> (Vec<u8>, Json) {
    let make = |unit, count| match datetime {
        true => DType::Datetime64 { unit, count },
        false => DType::Timedelta64 { unit, count },
    };
    let values = le(&[0i64, 1, -1, 1_700_000_000, i64::MIN], i64::to_le_bytes);
    let mut arrays: Vec<(ArraySpec, Vec<u8>, Compression)> = (0..=13u8)
        .map(|code| {
            let unit = TimeUnit::from_code(code).expect("unit codes 0 to 13 exist");
            (ArraySpec::c(make(unit, 1), &[5]), values.clone(), RAW)
        })
        .collect();
    let (unit, count) = if datetime {
        (TimeUnit::Millisecond, 10)
    } else {
        (TimeUnit::Microsecond, 25)
    };
    arrays.push((ArraySpec::c(make(unit, count), &[5]), values, RAW));
    arrays_file(WriteOptions::default(), &arrays)
}

fn field(name: &str, offset: u32, dtype: DType, shape: &[u64]) -> Field {
    Field {
        name: name.into(),
        offset,
        dtype,
        shape: shape.to_vec(),
    }
}

/// Deterministic pseudo-random bytes (xorshift), so data is not all zeros.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn record_with_padding() -> (Vec<u8>, Json) {
    let node = amber_test_support::sklearn_node_dtype();
    one_array(&node, &noise(3 * 64, 1))
}

pub fn nested_record() -> DType {
    let inner = DType::record(
        8,
        vec![
            field("a", 0, DType::Int32, &[]),
            field("b", 4, DType::UInt16, &[]),
        ],
    );
    DType::record(
        40,
        vec![
            field("p", 0, inner.clone(), &[]),
            field("q", 8, inner, &[]),
            field("m", 16, DType::Float32, &[2, 3]),
        ],
    )
}

fn record_nested() -> (Vec<u8>, Json) {
    one_array(&nested_record(), &noise(2 * 40, 2))
}

fn record_zero_size() -> (Vec<u8>, Json) {
    let record = DType::record(
        8,
        vec![
            field("a", 0, DType::Int64, &[]),
            field("empty_at_end", 8, DType::Float32, &[0]),
            field("empty_at_start", 0, DType::UInt8, &[0]),
        ],
    );
    one_array(&record, &noise(16, 3))
}

fn record_depth(depth: usize) -> (Vec<u8>, Json) {
    let mut dtype = DType::record(1, vec![field("x", 0, DType::UInt8, &[])]);
    for _ in 1..depth {
        dtype = DType::record(1, vec![field("x", 0, dtype, &[])]);
    }
    one_array(&dtype, &[7, 9])
}

/// 255 fields of a 256-field record plus one uint8 field: 255 x 257 + 1 = 65,536 fields.
/// The dtype table is [uint8, the 256-field record, the outer record].
pub fn record_expanded_at_limit() -> (Vec<u8>, Json) {
    let names: Vec<String> = (0..256).map(|i| format!("f{i}")).collect();
    let leaf = DType::record(
        256,
        (0..256)
            .map(|i| field(&names[i], i as u32, DType::UInt8, &[]))
            .collect(),
    );
    let mut fields: Vec<Field> = (0..255)
        .map(|i| field(&names[i], 256 * i as u32, leaf.clone(), &[]))
        .collect();
    fields.push(field(&names[255], 255 * 256, DType::UInt8, &[]));
    let outer = DType::record(65_536, fields);
    let (file, mut rendering) = arrays_file(
        WriteOptions::default(),
        &[(ArraySpec::c(outer, &[0]), Vec::new(), RAW)],
    );
    // Point the array at dtype 0 (uint8): the record stays in the table and is validated, but
    // is not rendered (inline, its 65,536 fields would make a 3.6 MB rendering).
    let mut parts = Parts::split(&file);
    let entry = parts.map().arrays[0].entry;
    parts.set_u32(entry, 0);
    rendering["arrays"][0] = array_json(&ArraySpec::c(DType::UInt8, &[0]), &[]);
    (parts.assemble(), rendering)
}

fn empty_arrays() -> (Vec<u8>, Json) {
    arrays_file(
        WriteOptions::default(),
        &[
            (ArraySpec::c(DType::Float32, &[3, 0, 2]), Vec::new(), RAW),
            (ArraySpec::c(DType::Int64, &[0]), Vec::new(), ZSTD),
            (ArraySpec::c(DType::UInt8, &[0, 5]), Vec::new(), ZSTD_SHUFFLE),
        ],
    )
}

fn high_rank() -> (Vec<u8>, Json) {
    let mut shape = vec![1u64; 64];
    shape[0] = 2;
    shape[31] = 3;
    shape[63] = 2;
    arrays_file(
        WriteOptions::default(),
        &[(ArraySpec::c(DType::Int16, &shape), noise(24, 4), RAW)],
    )
}

pub fn orders() -> (Vec<u8>, Json) {
    let c = le(&[1i32, 2, 3, 4, 5, 6], i32::to_le_bytes);
    let f = le(&[1i32, 4, 2, 5, 3, 6], i32::to_le_bytes);
    let fortran = ArraySpec {
        order: Order::F,
        ..ArraySpec::c(DType::Int32, &[2, 3])
    };
    arrays_file(
        WriteOptions::default(),
        &[(ArraySpec::c(DType::Int32, &[2, 3]), c, RAW), (fortran, f, RAW)],
    )
}

pub fn zstd_single_block() -> (Vec<u8>, Json) {
    let bytes: Vec<u8> = (0..64).collect();
    arrays_file(
        WriteOptions::default(),
        &[(ArraySpec::c(DType::UInt8, &[64]), bytes, ZSTD)],
    )
}

fn small_blocks(block_size: u64) -> WriteOptions {
    WriteOptions {
        block_size,
        ..WriteOptions::default()
    }
}

fn zstd_many_blocks() -> (Vec<u8>, Json) {
    let values: Vec<i32> = (0..250).map(|i| (i * i) % 1000).collect();
    arrays_file(
        small_blocks(64),
        &[(
            ArraySpec::c(DType::Int32, &[250]),
            le(&values, i32::to_le_bytes),
            ZSTD,
        )],
    )
}

fn zstd_shuffle_float32() -> (Vec<u8>, Json) {
    let values: Vec<f32> = (0..100).map(|i| 1.0 + i as f32 / 64.0).collect();
    arrays_file(
        small_blocks(96),
        &[(
            ArraySpec::c(DType::Float32, &[10, 10]),
            le(&values, f32::to_le_bytes),
            ZSTD_SHUFFLE,
        )],
    )
}

fn zstd_shuffle_wide() -> (Vec<u8>, Json) {
    let record = DType::record(
        12,
        vec![
            field("id", 0, DType::UInt32, &[]),
            field("score", 4, DType::Float64, &[]),
        ],
    );
    let units: Vec<u32> = "abcdefghijklmnopqrstuvwxyz0123"
        .chars()
        .map(|c| c as u32)
        .collect();
    arrays_file(
        small_blocks(40),
        &[
            (ArraySpec::c(record, &[7]), noise(84, 5), ZSTD_SHUFFLE),
            (
                ArraySpec::c(DType::Unicode(2), &[15]),
                le(&units, u32::to_le_bytes),
                ZSTD_SHUFFLE,
            ),
        ],
    )
}

/// The single-block file with its frame recompressed with other frame parameters.
fn zstd_frame_variant(content_size: bool, checksum: bool) -> (Vec<u8>, Json) {
    let (file, rendering) = zstd_single_block();
    let block: Vec<u8> = (0..64).collect();
    let frame = libzstd_frame(&block, 3, content_size, checksum);
    let mut parts = Parts::split(&file);
    parts.replace_last_extent(&frame);
    (parts.assemble(), rendering)
}

/// A hand-built frame: no content size, the given Window_Descriptor, one raw block of 64 bytes.
pub fn raw_block_frame(window_descriptor: u8, content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, window_descriptor];
    let block_header = 1 | ((content.len() as u32) << 3); // last block, raw, its size
    frame.extend_from_slice(&block_header.to_le_bytes()[..3]);
    frame.extend_from_slice(content);
    frame
}

pub fn zstd_window(window_descriptor: u8) -> (Vec<u8>, Json) {
    let (file, rendering) = zstd_single_block();
    let block: Vec<u8> = (0..64).collect();
    let mut parts = Parts::split(&file);
    parts.replace_last_extent(&raw_block_frame(window_descriptor, &block));
    (parts.assemble(), rendering)
}

fn aligned(alignment: u32) -> (Vec<u8>, Json) {
    let options = WriteOptions {
        alignment,
        ..WriteOptions::default()
    };
    arrays_file(
        options,
        &[
            (ArraySpec::c(DType::UInt8, &[3]), vec![7, 8, 9], RAW),
            (
                ArraySpec::c(DType::Float64, &[4]),
                le(&[0.5f64, 1.5, 2.5, 3.5], f64::to_le_bytes),
                RAW,
            ),
        ],
    )
}

fn alignment_max() -> (Vec<u8>, Json) {
    let options = WriteOptions {
        alignment: 1 << 24,
        ..WriteOptions::default()
    };
    arrays_file(
        options,
        &[
            (ArraySpec::c(DType::UInt16, &[40]), noise(80, 6), ZSTD),
            (ArraySpec::c(DType::Float32, &[0]), Vec::new(), RAW),
        ],
    )
}

fn graph_file(make: impl FnOnce(&mut Graph) -> NodeId) -> (Vec<u8>, Json) {
    let mut b = build();
    let root = make(&mut b.graph);
    with_root(b, root)
}

fn node_scalars() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let items = [
            g.add(Node::None),
            g.add(Node::Bool(false)),
            g.add(Node::Bool(true)),
            g.add(Node::Int(0)),
            g.add(Node::Int(-5)),
            g.add(Node::Int(i64::MIN)),
            g.add(Node::Int(i64::MAX)),
            g.add(Node::Float(1.5)),
            g.add(Node::Float(-0.0)),
            g.add(Node::Float(f64::INFINITY)),
            g.add(Node::Float(f64::NEG_INFINITY)),
            g.add(Node::Float(f64::from_bits(0x7ff8_dead_beef_0001))),
            g.add(Node::Float(f64::from_bits(0xfff0_0000_0000_0001))),
            g.add(Node::Float(f64::from_bits(1))),
            g.add(Node::Complex(1.0, -2.0)),
            g.add(Node::Complex(-0.0, f64::NAN)),
        ];
        g.add(Node::Tuple(&items))
    })
}

fn node_str_bytes() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let every_byte: Vec<u8> = (0..=255).collect();
        let items = [
            g.add(Node::Str("")),
            g.add(Node::Str("plain ASCII")),
            g.add(Node::Str("nul\u{0}inside")),
            g.add(Node::Str("quote \" backslash \\ newline \n tab \t")),
            g.add(Node::Bytes(b"")),
            g.add(Node::Bytes(&every_byte)),
        ];
        g.add(Node::List(&items))
    })
}

fn node_containers() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let one = g.add(Node::Int(1));
        let two = g.add(Node::Int(2));
        let name = g.add(Node::Str("name"));
        let items = [
            g.add(Node::List(&[])),
            g.add(Node::List(&[one, two])),
            g.add(Node::Tuple(&[])),
            g.add(Node::Tuple(&[two, one])),
            g.add(Node::Set(&[])),
            g.add(Node::Set(&[one, two])),
            g.add(Node::FrozenSet(&[])),
            g.add(Node::FrozenSet(&[two])),
            g.add(Node::Map(&[])),
            g.add(Node::Map(&[[name, one], [one, two]])),
        ];
        g.add(Node::List(&items))
    })
}

fn node_objects() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let depth = g.add(Node::Int(3));
        let key = g.add(Node::Str("max_depth"));
        let args = g.add(Node::Tuple(&[depth]));
        let state = g.add(Node::Map(&[[key, depth]]));
        let items = [
            g.add(Node::Object {
                type_name: "sklearn.tree._classes.DecisionTreeClassifier",
                args: Some(args),
                state: Some(state),
            }),
            g.add(Node::Object {
                type_name: "collections.OrderedDict",
                args: None,
                state: None,
            }),
            g.add(Node::Object {
                type_name: "numpy.dtype",
                args: None,
                state: Some(state),
            }),
            g.add(Node::Global("builtins.len")),
            g.add(Node::Global("")),
        ];
        g.add(Node::List(&items))
    })
}

/// The shapes of Section 14.5.1, as the Python writer makes them.
fn node_reduce_convention() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let none = g.add(Node::None);
        let point = g.add(Node::Global("geometry.Point"));
        let (one, two) = (g.add(Node::Int(1)), g.add(Node::Int(2)));
        let newobj_args = g.add(Node::Tuple(&[point, one, two]));
        let scale = g.add(Node::Str("scale"));
        let positional = g.add(Node::Tuple(&[]));
        let keywords = g.add(Node::Map(&[[scale, two]]));
        let newobj_ex_args = g.add(Node::Tuple(&[point, positional, keywords]));
        let base = g.add(Node::Global("builtins.list"));
        let base_state = g.add(Node::List(&[one, two]));
        let legacy = g.add(Node::Global("legacy.Items"));
        let reconstructor_args = g.add(Node::Tuple(&[legacy, base, base_state]));
        let factory_args = g.add(Node::Tuple(&[one]));
        let attributes = g.add(Node::Map(&[[scale, one]]));
        let items_state = g.add(Node::Tuple(&[none, base_state, keywords]));
        let reduce_state = g.add(Node::Object {
            type_name: "amberfile.ReduceState",
            args: None,
            state: Some(items_state),
        });
        let objects = [
            ("geometry.Point", None, Some(attributes)),
            ("copyreg.__newobj__", Some(newobj_args), None),
            ("copyreg.__newobj_ex__", Some(newobj_ex_args), Some(attributes)),
            (
                "copyreg._reconstructor",
                Some(reconstructor_args),
                Some(attributes),
            ),
            ("mymod.rebuild_scaled", Some(factory_args), None),
            ("collections.OrderedDict", Some(positional), Some(reduce_state)),
        ];
        let items: Vec<NodeId> = objects
            .into_iter()
            .map(|(type_name, args, state)| {
                g.add(Node::Object {
                    type_name,
                    args,
                    state,
                })
            })
            .collect();
        g.add(Node::List(&items))
    })
}

fn node_object_arrays() -> (Vec<u8>, Json) {
    let mut b = build();
    let array = b.array_node(&ArraySpec::c(DType::Int8, &[2]), &[1, 2], RAW);
    let g = &mut b.graph;
    let cells: Vec<NodeId> = (0..6).map(|i| g.add(Node::Int(i))).collect();
    let own = g.reserve();
    g.set(
        own,
        Node::ObjectArray {
            order: Order::C,
            shape: &[2],
            items: &[own, array],
        },
    );
    let items = [
        g.add(Node::ObjectArray {
            order: Order::C,
            shape: &[2, 3],
            items: &cells,
        }),
        g.add(Node::ObjectArray {
            order: Order::F,
            shape: &[2, 3],
            items: &[cells[0], cells[3], cells[1], cells[4], cells[2], cells[5]],
        }),
        g.add(Node::ObjectArray {
            order: Order::C,
            shape: &[],
            items: &[cells[5]],
        }),
        g.add(Node::ObjectArray {
            order: Order::F,
            shape: &[4, 0],
            items: &[],
        }),
        own,
    ];
    let root = g.add(Node::List(&items));
    with_root(b, root)
}

fn node_shared() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let shared = g.add(Node::Str("shared"));
        let a = g.add(Node::List(&[shared, shared]));
        let b = g.add(Node::Map(&[[shared, a]]));
        // Each level holds the level below twice: tree conversion would make 2^20 leaves.
        let mut level = g.add(Node::Int(0));
        for _ in 0..20 {
            level = g.add(Node::List(&[level, level]));
        }
        g.add(Node::Tuple(&[a, b, shared, level]))
    })
}

fn node_cycles() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let list = g.reserve();
        g.set(list, Node::List(&[list]));
        let map = g.reserve();
        let key = g.add(Node::Str("self"));
        g.set(map, Node::Map(&[[key, map]]));
        let object = g.reserve();
        let state = g.add(Node::Map(&[[key, object]]));
        g.set(
            object,
            Node::Object {
                type_name: "app.Node",
                args: None,
                state: Some(state),
            },
        );
        let tuple = g.reserve();
        g.set(tuple, Node::Tuple(&[tuple]));
        g.add(Node::List(&[list, map, object, tuple]))
    })
}

fn node_deep() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let mut node = g.add(Node::Str("bottom"));
        for _ in 0..10_000 {
            node = g.add(Node::List(&[node]));
        }
        node
    })
}

fn node_unicode() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let pairs = [
            ("\u{5B66}\u{7FD2}\u{7387}", "\u{65E5}\u{672C}\u{8A9E}"),
            ("\u{1F600}\u{1F9E0}", "emoji \u{1F680} rocket"),
            ("e\u{301}", "combining acute: e\u{301} vs \u{e9}"),
            ("\u{5E9}\u{5DC}\u{5D5}\u{5DD}", "\u{202E}right-to-left override"),
            ("\u{FFFF}", "\u{10FFFF}"),
        ];
        let entries: Vec<[NodeId; 2]> = pairs
            .iter()
            .map(|(k, v)| [g.add(Node::Str(k)), g.add(Node::Str(v))])
            .collect();
        g.add(Node::Map(&entries))
    })
}

fn node_bigints() -> (Vec<u8>, Json) {
    let mut at_limit = vec![0u8; 1024];
    at_limit[1023] = 0x40; // 2^8190
    let values: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0], // 2^63 = i64::MAX + 1
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff], // -2^63 - 1
        vec![0, 0, 0, 0, 0, 0, 0, 0, 1],    // 2^64
        vec![0x2e, 0xfd, 0x1f, 0x57, 0xc6, 0x3a, 0x0e, 0x92, 0x81, 0xb5, 0xfe], // large negative
        at_limit,
    ];
    graph_file(|g| {
        let items: Vec<NodeId> = values.iter().map(|v| g.add(Node::BigInt(v))).collect();
        g.add(Node::List(&items))
    })
}

fn node_map_keys() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let value = g.add(Node::Str("v"));
        let one = g.add(Node::Int(1));
        let keys = [
            one,
            g.add(Node::Float(2.5)),
            g.add(Node::None),
            g.add(Node::Tuple(&[one, one])),
            g.add(Node::Bytes(b"\x00key")),
            g.add(Node::BigInt(&[0, 0, 0, 0, 0, 0, 0, 0, 1])),
            g.add(Node::List(&[])),
            g.add(Node::Int(1)),
        ];
        let entries: Vec<[NodeId; 2]> = keys.iter().map(|&k| [k, value]).collect();
        g.add(Node::Map(&entries))
    })
}

fn node_unreferenced() -> (Vec<u8>, Json) {
    graph_file(|g| {
        let root = g.reserve();
        let child = g.add(Node::Str("child"));
        g.add(Node::Str("unreachable"));
        g.add(Node::Int(42));
        g.set(root, Node::List(&[child]));
        root
    })
}

fn arrays_shared() -> (Vec<u8>, Json) {
    let mut b = build();
    b.array(&ArraySpec::c(DType::UInt8, &[2]), &[5, 6], RAW);
    let shared = b.array(&ArraySpec::c(DType::Int16, &[1]), &[1, 2], RAW);
    let g = &mut b.graph;
    let first = g.add(Node::Array(shared));
    let second = g.add(Node::Array(shared));
    let root = g.add(Node::List(&[first, second, first]));
    with_root(b, root)
}

/// Node indices of the kinds in `node_all_kinds`: node k has kind k.
pub fn node_all_kinds() -> (Vec<u8>, Json) {
    let mut b = build();
    let array = b.array(
        &ArraySpec::c(DType::Int16, &[3]),
        &le(&[-1i16, 0, 1], i16::to_le_bytes),
        RAW,
    );
    let g = &mut b.graph;
    let ids: Vec<NodeId> = (0..17).map(|_| g.reserve()).collect();
    let n = |k: usize| ids[k];
    g.set(n(1), Node::Bool(true));
    g.set(n(2), Node::Int(-7));
    g.set(n(3), Node::BigInt(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1])); // 2^72
    g.set(n(4), Node::Float(0.1));
    g.set(n(5), Node::Complex(1.0, 1.0));
    g.set(n(6), Node::Str("pkg.Type"));
    g.set(n(7), Node::Bytes(b"raw"));
    g.set(n(9), Node::Tuple(&[n(2), n(4)]));
    g.set(n(10), Node::Set(&[n(2)]));
    g.set(n(11), Node::FrozenSet(&[n(6)]));
    g.set(n(12), Node::Map(&[[n(6), n(2)]]));
    g.set(n(13), Node::Array(array));
    g.set(
        n(14),
        Node::ObjectArray {
            order: Order::C,
            shape: &[2],
            items: &[n(0), n(1)],
        },
    );
    g.set(
        n(15),
        Node::Object {
            type_name: "pkg.Type",
            args: Some(n(9)),
            state: Some(n(12)),
        },
    );
    g.set(n(16), Node::Global("builtins.len"));
    let all = ids.clone();
    g.set(n(8), Node::List(&all));
    with_root(b, n(8))
}

/// Sets `optional_features` bit 0 in the minimal file: readers MUST ignore unknown optional bits.
fn optional_feature(minimal: &Case) -> Case {
    let mut parts = Parts::split(&minimal.bytes);
    parts.set_header_u64(24, 1);
    derived_valid(
        minimal,
        "feature_unknown_optional_bit",
        "7.7",
        "An unknown optional feature bit (bit 0 of optional_features): a reader MUST ignore it",
        "optional_features (offset 24) set to 1",
        parts.assemble(),
    )
}

/// Version 1.1 with non-zero reserved bytes and extension bytes after the node table.
fn newer_minor(base: &Case) -> Case {
    let mut parts = Parts::split(&base.bytes);
    parts.set_header_u16(10, 1);
    parts.header[32..60].copy_from_slice(b"future 1.1 header extension.");
    parts.metadata.extend_from_slice(b"future 1.1 metadata extension");
    derived_valid(
        base,
        "version_newer_minor",
        "12.1",
        "Version 1.1: a 1.0 reader MUST read it, ignoring the non-zero reserved header bytes and the bytes after the node table",
        "version_minor (offset 10) set to 1; reserved header bytes 32..60 filled with text; 29 bytes appended to the metadata section",
        parts.assemble(),
    )
}

fn derived_valid(
    base: &Case,
    name: &str,
    section: &'static str,
    description: &str,
    change: &str,
    bytes: Vec<u8>,
) -> Case {
    Case {
        name: format!("y_{name}.amber"),
        description: description.into(),
        section,
        rule: None,
        expect: base.expect.clone(),
        derived_from: Some(base.path()),
        corruption: Some(change.into()),
        bytes,
        zero_run: None,
    }
}

/// A bool array whose bytes are 2 and 255: element values are not validated (spec 7.1).
fn bool_elements() -> Case {
    let (file, mut rendering) = one_array(&DType::Bool, &[0, 1, 1, 0]);
    let mut parts = Parts::split(&file);
    parts.data[0] = 2;
    parts.data[3] = 255;
    parts.fix_extent_crcs();
    rendering["arrays"][0] = array_json(&ArraySpec::c(DType::Bool, &[4]), &[2, 1, 1, 255]);
    Case {
        name: "y_bool_elements_not_0_or_1.amber".into(),
        description:
            "A bool array holding bytes 2 and 255: element values are not validated, a reader MUST accept it"
                .into(),
        section: "7.1",
        rule: None,
        expect: Expect::Accept(rendering),
        derived_from: Some("valid/y_dtype_bool.amber".into()),
        corruption: Some("data bytes 0 and 3 of the array set to 2 and 255; extent CRC recomputed".into()),
        bytes: parts.assemble(),
        zero_run: None,
    }
}

/// The bytes of the minimal file, for cases built from scratch.
pub fn minimal_file() -> Vec<u8> {
    minimal().0
}

/// Record fields of size 0 next to a 4-byte field, each with a dimension that only the zero
/// keeps from overflowing; dtype 2 of the file is the record (after int32 and uint8).
pub fn record_zero_dim_fields() -> (Vec<u8>, Json) {
    let record = DType::record(
        4,
        vec![
            field("x", 0, DType::Int32, &[]),
            field("int32_2p61_by_0", 4, DType::Int32, &[1 << 61, 0]),
            field("uint8_2p63_by_0", 4, DType::UInt8, &[1 << 63, 0]),
            field("uint8_2p61_by_4_by_0", 4, DType::UInt8, &[1 << 61, 4, 0]),
        ],
    );
    one_array(&record, &noise(8, 14))
}

/// The logical bytes of the frame-walk case: 512 bytes of 'a', 512 of text, 1 KiB of
/// repeated text that zstd compresses.
pub fn frame_walk_content() -> Vec<u8> {
    let text: Vec<u8> = b"Amber reads the frame and block headers itself. "
        .iter()
        .copied()
        .cycle()
        .take(1536)
        .collect();
    [vec![b'a'; 512], text].concat()
}

/// One array of `content` as uint8 in a single zstd block of its own length.
pub fn one_block(content: &[u8]) -> (Vec<u8>, Json) {
    arrays_file(
        small_blocks(content.len() as u64),
        &[(
            ArraySpec::c(DType::UInt8, &[content.len() as u64]),
            content.to_vec(),
            ZSTD,
        )],
    )
}

/// The frame libzstd makes of `content` at `level`, with or without the optional
/// Frame_Content_Size and content checksum fields.
pub fn libzstd_frame(content: &[u8], level: i32, content_size: bool, checksum: bool) -> Vec<u8> {
    use zstd::zstd_safe::CParameter;
    let mut compressor = zstd::bulk::Compressor::new(level).expect("zstd context");
    for parameter in [
        CParameter::ContentSizeFlag(content_size),
        CParameter::ChecksumFlag(checksum),
    ] {
        compressor.set_parameter(parameter).expect("zstd parameter");
    }
    compressor.compress(content).expect("zstd compresses")
}

/// The first block of the frame libzstd makes of `content`, with its 3-byte header.
pub fn libzstd_block(content: &[u8], checksum: bool) -> (Vec<u8>, Vec<u8>) {
    let frame = libzstd_frame(content, 19, true, checksum);
    // libzstd writes a single-segment header here: magic, descriptor, content size.
    let descriptor = frame[4];
    assert_eq!(descriptor & 0x20, 0x20, "a single-segment frame");
    let content_size_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let block = &frame[5 + content_size_len..frame.len() - if checksum { 4 } else { 0 }];
    let tail = frame[frame.len() - if checksum { 4 } else { 0 }..].to_vec();
    (block.to_vec(), tail)
}

fn block_header(last: bool, block_type: u32, size: usize) -> [u8; 3] {
    let header = u32::from(last) | (block_type << 1) | ((size as u32) << 3);
    header.to_le_bytes()[..3].try_into().expect("3 bytes")
}

/// The frame of the frame-walk case: a window descriptor (1 KiB), a 1-byte Dictionary_ID of
/// 0, an RLE block, a raw block (of Block_Type `raw_type`, 0 when valid), a compressed block and
/// the content checksum. `descriptor` is 0x05 when valid.
pub fn frame_walk_frame(descriptor: u8, raw_type: u32) -> Vec<u8> {
    let content = frame_walk_content();
    let (compressed, _) = libzstd_block(&content[1024..], false);
    assert_eq!(
        (compressed[0] >> 1) & 3,
        2,
        "libzstd compresses the repeated text"
    );
    // The checksum covers the whole content: take it from libzstd's frame of all of it.
    let (_, checksum) = libzstd_block(&content, true);
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, descriptor, 0x00, 0x00];
    frame.extend_from_slice(&block_header(false, 1, 512));
    frame.push(b'a');
    frame.extend_from_slice(&block_header(false, raw_type, 512));
    frame.extend_from_slice(&content[512..1024]);
    // libzstd's block is marked last, and it is the last one here too.
    frame.extend_from_slice(&compressed);
    frame.extend_from_slice(&checksum);
    frame
}

fn zstd_frame_walk() -> (Vec<u8>, Json) {
    let (file, rendering) = one_block(&frame_walk_content());
    let mut parts = Parts::split(&file);
    parts.replace_last_extent(&frame_walk_frame(0x05, 0));
    (parts.assemble(), rendering)
}

/// 200 KiB of 0x5A: the content of the 128 KiB block-maximum cases.
pub const BLOCK_MAXIMUM_CONTENT: (u8, usize) = (0x5A, 200 << 10);

fn zstd_block_maximum() -> (Vec<u8>, Json) {
    let (byte, len) = BLOCK_MAXIMUM_CONTENT;
    let (file, rendering) = one_block(&vec![byte; len]);
    // Window descriptor 0x40: 2^18 = 256 KiB, so 128 KiB is the binding limit.
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x40];
    frame.extend_from_slice(&block_header(false, 1, 128 << 10));
    frame.push(byte);
    frame.extend_from_slice(&block_header(true, 1, len - (128 << 10)));
    frame.push(byte);
    let mut parts = Parts::split(&file);
    parts.replace_last_extent(&frame);
    (parts.assemble(), rendering)
}
