//! Property tests: arbitrary files (every dtype, shape, order, codec, alignment, and arbitrary
//! object graphs with sharing and cycles) written and read back through every reader.
//!
//! Each case is written twice to memory and once through the atomic path writer; all three must
//! give the same bytes. It is then read back with `Reader::from_bytes`, `Reader::open` and
//! `Reader::open_mmap`, and each reader must return the same graph node for node, the same array
//! entries and logical bytes, and zero-copy views aligned to the file's alignment.
//!
//! `PROPTEST_CASES=<n>` raises the case count for a deeper run.

use std::io::Write;
use std::mem::align_of;

use amber_test_support::sketch::{build_graph, NodeSketch};
use amber_test_support::{proptest_cases, same_node};
use amberfile::{
    ArrayId, ArraySpec, Codec, Compression, DType, Element, Field, Filter, Graph, Order, ReadOptions, Reader,
    SeqKind, TimeUnit, Value, WriteOptions, Writer,
};
use num_complex::Complex;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ---------------------------------------------------------------------------------------------
// Strategies: dtypes and arrays

const SCALARS: [DType; 17] = [
    DType::Bool,
    DType::Int8,
    DType::Int16,
    DType::Int32,
    DType::Int64,
    DType::UInt8,
    DType::UInt16,
    DType::UInt32,
    DType::UInt64,
    DType::Float16,
    DType::BFloat16,
    DType::Float32,
    DType::Float64,
    DType::Complex64,
    DType::Complex128,
    DType::Float8E4M3FN,
    DType::Float8E5M2,
];

/// datetime64 / timedelta64 with any unit; a generic unit only with count 1, as the spec requires.
fn time_dtype() -> impl Strategy<Value = DType> {
    (0u8..=13, 1u32..=1000, any::<bool>()).prop_map(|(code, count, is_datetime)| {
        let unit = TimeUnit::from_code(code).expect("codes 0..=13 are units");
        let count = if unit == TimeUnit::Generic { 1 } else { count };
        if is_datetime {
            DType::Datetime64 { unit, count }
        } else {
            DType::Timedelta64 { unit, count }
        }
    })
}

fn leaf_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![
        4 => select(SCALARS.to_vec()),
        1 => (1u32..=9).prop_map(DType::Bytes),
        1 => (1u32..=4).prop_map(DType::Unicode),
        1 => (1u32..=9).prop_map(DType::Void),
        1 => time_dtype(),
    ]
}

/// A record laid out field after field with random gaps (padding), trailing padding, sub-array
/// shapes (including zero-size ones) and, sometimes, fields declared in reverse offset order.
fn record_dtype(field_dtype: BoxedStrategy<DType>) -> impl Strategy<Value = DType> {
    let field = (field_dtype, vec(0u64..=2, 0..=2), 0u32..=5);
    (vec(field, 0..=4), 0u32..=7, any::<bool>()).prop_map(|(specs, tail, reverse)| {
        let mut cursor = 0u32;
        let mut fields = Vec::with_capacity(specs.len());
        for (i, (dtype, shape, gap)) in specs.into_iter().enumerate() {
            let offset = cursor + gap;
            let size = dtype.itemsize() * shape.iter().product::<u64>();
            let prefix = ["f", "λ", "名前_"][i % 3];
            fields.push(Field {
                name: format!("{prefix}{i}").into(),
                offset,
                dtype,
                shape,
            });
            cursor = offset + u32::try_from(size).expect("small test records");
        }
        if reverse {
            fields.reverse();
        }
        DType::record((cursor + tail).max(1), fields)
    })
}

/// Mostly leaf dtypes; records of leaves and records nesting records of leaves.
fn dtype() -> impl Strategy<Value = DType> {
    let leaf = leaf_dtype().boxed();
    let field = prop_oneof![3 => leaf.clone(), 1 => record_dtype(leaf.clone())].boxed();
    prop_oneof![4 => leaf, 1 => record_dtype(field)]
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        (1i32..=3, any::<bool>()).prop_map(|(level, shuffle)| Compression::Zstd { level, shuffle }),
    ]
}

/// One array to write: what it is, its logical bytes, and how to store it.
#[derive(Debug, Clone)]
struct ArrayCase {
    spec: ArraySpec,
    bytes: Vec<u8>,
    compression: Compression,
}

fn array_case() -> impl Strategy<Value = ArrayCase> {
    (dtype(), any::<bool>(), compression())
        .prop_flat_map(|(dtype, fortran, compression)| {
            // Wide dtypes get small shapes so a case stays within tens of KiB.
            let (max_dim, max_ndim) = match dtype.itemsize() {
                0..=16 => (12u64, 3usize),
                17..=256 => (6, 3),
                _ => (2, 2),
            };
            let order = if fortran { Order::F } else { Order::C };
            let dim = prop_oneof![1 => Just(0u64), 8 => 1u64..=max_dim];
            let spec = vec(dim, 0..=max_ndim).prop_map(move |shape| ArraySpec {
                dtype: dtype.clone(),
                shape,
                order,
            });
            (spec, Just(compression))
        })
        .prop_flat_map(|(spec, compression)| {
            let nbytes = spec.nbytes().expect("small shapes") as usize;
            let is_bool = spec.dtype == DType::Bool;
            let bytes = vec(any::<u8>(), nbytes).prop_map(move |mut bytes| {
                // Writers must store bool elements as 0 or 1 (spec 7.1).
                if is_bool {
                    bytes.iter_mut().for_each(|b| *b &= 1);
                }
                bytes
            });
            (Just(spec), bytes, Just(compression))
        })
        .prop_map(|(spec, bytes, compression)| ArrayCase {
            spec,
            bytes,
            compression,
        })
}

// ---------------------------------------------------------------------------------------------
// Strategies: object graphs

/// One node to build; child references are indices resolved against the final node count, so
/// they produce shared references, self references and cycles freely.
type NodeCase = NodeSketch<Index>;

/// Minimal two's-complement bytes of an integer outside i64 (the only form the spec allows).
fn canonical_big_int() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 9..=24).prop_map(|mut bytes| {
        let n = bytes.len();
        let sign_extension = if bytes[n - 2] & 0x80 == 0 { 0x00 } else { 0xff };
        if bytes[n - 1] == sign_extension {
            bytes[n - 1] ^= 0x01;
        }
        bytes
    })
}

fn text() -> impl Strategy<Value = String> {
    // Any code points, including newlines, NUL and astral-plane characters.
    "(?s).{0,12}"
}

fn seq_kind() -> impl Strategy<Value = SeqKind> {
    select(vec![
        SeqKind::List,
        SeqKind::Tuple,
        SeqKind::Set,
        SeqKind::FrozenSet,
    ])
}

fn object_array() -> impl Strategy<Value = NodeCase> {
    (any::<bool>(), vec(0u64..=3, 0..=3)).prop_flat_map(|(fortran, shape)| {
        let count = shape.iter().product::<u64>() as usize;
        let order = if fortran { Order::F } else { Order::C };
        vec(any::<Index>(), count).prop_map(move |items| NodeCase::ObjectArray {
            order,
            shape: shape.clone(),
            items,
        })
    })
}

fn leaf(value: Value) -> NodeCase {
    NodeCase::Leaf(value)
}

fn node_case() -> impl Strategy<Value = NodeCase> {
    prop_oneof![
        1 => Just(leaf(Value::None)),
        1 => any::<bool>().prop_map(|b| leaf(Value::Bool(b))),
        1 => any::<i64>().prop_map(|i| leaf(Value::Int(i))),
        1 => canonical_big_int().prop_map(|bytes| leaf(Value::BigInt(bytes))),
        1 => any::<u64>().prop_map(|bits| leaf(Value::Float(f64::from_bits(bits)))),
        1 => (any::<u64>(), any::<u64>())
            .prop_map(|(re, im)| leaf(Value::Complex(f64::from_bits(re), f64::from_bits(im)))),
        3 => text().prop_map(|s| leaf(Value::Str(s))),
        1 => vec(any::<u8>(), 0..=16).prop_map(|bytes| leaf(Value::Bytes(bytes))),
        3 => (seq_kind(), vec(any::<Index>(), 0..=5)).prop_map(|(kind, items)| NodeCase::Seq(kind, items)),
        3 => vec((any::<Index>(), any::<Index>()), 0..=4).prop_map(NodeCase::Map),
        1 => any::<Index>().prop_map(NodeCase::Array),
        1 => object_array(),
        1 => (
            prop_oneof![Just("sklearn.tree._tree.Tree".to_owned()), text()],
            proptest::option::of(any::<Index>()),
            proptest::option::of(any::<Index>()),
        )
            .prop_map(|(type_name, args, state)| NodeCase::Object {
                type_name,
                args,
                state
            }),
        1 => text().prop_map(|name| leaf(Value::Global(name))),
    ]
}

#[derive(Debug, Clone)]
struct GraphCase {
    nodes: Vec<NodeCase>,
    root: Index,
}

fn graph_case(max_nodes: usize) -> impl Strategy<Value = GraphCase> {
    (vec(node_case(), 1..=max_nodes), any::<Index>()).prop_map(|(nodes, root)| GraphCase { nodes, root })
}

impl GraphCase {
    /// Builds the graph node for node; array nodes become `None` when the file has no arrays.
    fn build(&self, arrays: &[ArrayId]) -> Graph {
        build_graph(
            &self.nodes,
            &self.root,
            arrays,
            |index, len| index.index(len),
            |_| Value::None,
        )
    }
}

#[derive(Debug, Clone)]
struct FileCase {
    alignment: u32,
    /// Small, so compressed arrays span many blocks and usually end with a short one.
    block_size: u64,
    arrays: Vec<ArrayCase>,
    graph: GraphCase,
}

fn file_case(max_arrays: usize, max_nodes: usize) -> impl Strategy<Value = FileCase> {
    (
        (6u32..=12).prop_map(|log2| 1 << log2),
        prop_oneof![1u64..=64, 65u64..=4096],
        vec(array_case(), 0..=max_arrays),
        graph_case(max_nodes),
    )
        .prop_map(|(alignment, block_size, arrays, graph)| FileCase {
            alignment,
            block_size,
            arrays,
            graph,
        })
}

// ---------------------------------------------------------------------------------------------
// Writing and checking

impl FileCase {
    fn options(&self) -> WriteOptions {
        WriteOptions {
            alignment: self.alignment,
            block_size: self.block_size,
            ..WriteOptions::default()
        }
    }

    fn write_arrays<W: Write>(&self, writer: &mut Writer<W>) -> Vec<ArrayId> {
        self.arrays
            .iter()
            .map(|a| {
                writer
                    .write_array_with(&a.spec, &a.bytes, a.compression)
                    .expect("write array")
            })
            .collect()
    }

    fn write_to_vec(&self) -> (Vec<u8>, Vec<ArrayId>, Graph) {
        let mut writer = Writer::new(Vec::new(), self.options()).expect("writer");
        let ids = self.write_arrays(&mut writer);
        let graph = self.graph.build(&ids);
        (writer.finish(&graph).expect("finish"), ids, graph)
    }

    fn write_to_path(&self, path: &std::path::Path) {
        let mut writer = Writer::create(path, self.options()).expect("create");
        let ids = self.write_arrays(&mut writer);
        writer.commit(&self.graph.build(&ids)).expect("commit");
    }
}

fn check_graph(read: &Graph, written: &Graph) -> Result<(), TestCaseError> {
    prop_assert_eq!(read.len(), written.len());
    prop_assert_eq!(read.root(), written.root());
    for ((id, got), (_, want)) in read.iter().zip(written.iter()) {
        prop_assert!(
            same_node(got, want),
            "node {:?}: read {:?}, wrote {:?}",
            id,
            got,
            want
        );
    }
    Ok(())
}

/// Checks one array through its Rust element type: the decoded or borrowed `CowArray` has the
/// logical bytes in memory order with C or Fortran strides, and raw arrays are views aligned
/// for `T`.
fn check_typed<T: Element, S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: ArrayId,
    case: &ArrayCase,
) -> Result<(), TestCaseError> {
    let array = reader.read::<T>(id).expect("typed read");
    let shape: Vec<usize> = case.spec.shape.iter().map(|&d| d as usize).collect();
    prop_assert_eq!(array.shape(), shape.as_slice());
    let memory = array.as_slice_memory_order().expect("contiguous");
    prop_assert_eq!(T::as_bytes(memory), case.bytes.as_slice());
    match case.spec.order {
        Order::C => prop_assert!(array.is_standard_layout()),
        Order::F => prop_assert!(array.t().is_standard_layout()),
    }
    let view = reader.view::<T>(id);
    if case.compression == Compression::None {
        prop_assert!(array.is_view(), "a raw array is read without copying");
        let view = view.expect("raw arrays have zero-copy views");
        prop_assert_eq!(view.as_ptr() as usize % align_of::<T>(), 0);
        prop_assert_eq!(
            T::as_bytes(view.as_slice_memory_order().expect("contiguous")),
            case.bytes.as_slice()
        );
    } else {
        prop_assert_eq!(view.err().map(|e| e.class()), Some("NotZeroCopy"));
    }
    Ok(())
}

fn check_element_type<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: ArrayId,
    case: &ArrayCase,
) -> Result<(), TestCaseError> {
    match case.spec.dtype {
        DType::Bool => check_typed::<bool, S>(reader, id, case),
        DType::Int8 => check_typed::<i8, S>(reader, id, case),
        DType::Int16 => check_typed::<i16, S>(reader, id, case),
        DType::Int32 => check_typed::<i32, S>(reader, id, case),
        DType::Int64 => check_typed::<i64, S>(reader, id, case),
        DType::UInt8 => check_typed::<u8, S>(reader, id, case),
        DType::UInt16 => check_typed::<u16, S>(reader, id, case),
        DType::UInt32 => check_typed::<u32, S>(reader, id, case),
        DType::UInt64 => check_typed::<u64, S>(reader, id, case),
        DType::Float16 => check_typed::<half::f16, S>(reader, id, case),
        DType::BFloat16 => check_typed::<half::bf16, S>(reader, id, case),
        DType::Float32 => check_typed::<f32, S>(reader, id, case),
        DType::Float64 => check_typed::<f64, S>(reader, id, case),
        DType::Complex64 => check_typed::<Complex<f32>, S>(reader, id, case),
        DType::Complex128 => check_typed::<Complex<f64>, S>(reader, id, case),
        // float8, strings, datetimes and records have no Rust element type: bytes + dtype.
        _ => Ok(()),
    }
}

/// `base_alignment`: the alignment of the reader's buffer start in memory (8 for copies into
/// `AlignedBytes`, the page size for a mapping).
fn check_reader<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    case: &FileCase,
    ids: &[ArrayId],
    graph: &Graph,
    base_alignment: usize,
) -> Result<(), TestCaseError> {
    check_graph(reader.graph(), graph)?;
    prop_assert_eq!(reader.header().alignment, case.alignment);
    prop_assert_eq!(reader.array_count(), case.arrays.len());
    let base = reader.bytes().as_ptr() as usize;
    for (&id, array) in ids.iter().zip(&case.arrays) {
        let info = reader.array_info(id).expect("array info");
        prop_assert_eq!(info.dtype(), &array.spec.dtype);
        prop_assert_eq!(info.shape(), array.spec.shape.as_slice());
        prop_assert_eq!(info.order(), array.spec.order);
        prop_assert_eq!(info.nbytes(), array.bytes.len() as u64);
        prop_assert_eq!(
            &*reader.read_bytes(id).expect("read bytes"),
            array.bytes.as_slice()
        );
        match array.compression {
            Compression::None => {
                prop_assert_eq!(info.codec(), Codec::None);
                let bytes = reader.zero_copy_bytes(id).expect("raw arrays are zero-copy");
                prop_assert_eq!(bytes, array.bytes.as_slice());
                if !bytes.is_empty() {
                    let address = bytes.as_ptr() as usize;
                    let alignment = case.alignment as usize;
                    prop_assert_eq!(
                        (address - base) % alignment,
                        0,
                        "aligned relative to the file start"
                    );
                    prop_assert_eq!(address % alignment.min(base_alignment), 0, "aligned in memory");
                }
            }
            Compression::Zstd { shuffle, .. } => {
                prop_assert_eq!(info.codec(), Codec::Zstd);
                let filter = if shuffle { Filter::Shuffle } else { Filter::None };
                prop_assert_eq!(info.filter(), filter);
                let itemsize = array.spec.dtype.itemsize();
                let block_size = (case.block_size / itemsize).max(1) * itemsize;
                prop_assert_eq!(info.block_size(), block_size);
                let blocks = info.nbytes().div_ceil(block_size);
                prop_assert_eq!(info.extents().len() as u64, blocks);
                prop_assert_eq!(
                    reader.zero_copy_bytes(id).expect_err("compressed").class(),
                    "NotZeroCopy"
                );
            }
        }
        check_element_type(reader, id, array)?;
    }
    reader.verify().expect("verify");
    Ok(())
}

fn round_trip(case: &FileCase) -> Result<(), TestCaseError> {
    let (bytes, ids, graph) = case.write_to_vec();
    let (again, _, _) = case.write_to_vec();
    prop_assert!(bytes == again, "the same input gives the same bytes");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("case.amber");
    case.write_to_path(&path);
    prop_assert!(
        std::fs::read(&path).expect("read file") == bytes,
        "the path writer writes the same bytes"
    );

    let aligned = amberfile::AlignedBytes::copy_from(&bytes);
    let from_bytes = Reader::from_bytes(aligned.as_ref(), ReadOptions::default()).expect("from_bytes");
    check_reader(&from_bytes, case, &ids, &graph, align_of::<u64>())?;

    let opened = Reader::open(&path, ReadOptions::default()).expect("open");
    check_reader(&opened, case, &ids, &graph, align_of::<u64>())?;

    // SAFETY: the file lives in this test's private temporary directory; nothing modifies or
    // truncates it while the mapping is alive.
    #[allow(unsafe_code)]
    let mapped = unsafe { Reader::open_mmap(&path, ReadOptions::default()) }.expect("open_mmap");
    check_reader(&mapped, case, &ids, &graph, 4096)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    /// Arrays of every dtype, shape, order and codec in files of every alignment.
    #[test]
    fn arrays_round_trip(case in file_case(5, 8)) {
        round_trip(&case)?;
    }

    /// Arbitrary graphs: every node kind, shared references, cycles, non-string map keys.
    #[test]
    fn graphs_round_trip(case in file_case(1, 64)) {
        round_trip(&case)?;
    }
}
