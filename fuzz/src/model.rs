//! Target 2: the structured round trip. The fuzzer's bytes become a [`FileModel`] (through
//! `arbitrary`, using the `Arbitrary` derives the crate's `arbitrary` feature puts on its dtypes,
//! orders and compression), which is written, read back and compared node by node and byte by
//! byte.

use std::borrow::Borrow;

use amberfile::render::canonical_json;
use amberfile::{
    ArrayId, ArraySpec, Compression, DType, Graph, Node, Order, ReadOptions, Reader, SeqKind, Value,
    Verify, WriteOptions, Writer,
};
use arbitrary::{Arbitrary, Unstructured};

use amber_test_support::sketch::{self, NodeSketch};
use amber_test_support::{same_node, SeededRng};

/// Largest array the model writes, to keep each run fast.
const MAX_ARRAY_BYTES: u64 = 1 << 14;
/// Most dimensions the model gives an array or object array.
const MAX_MODEL_NDIM: usize = 4;

#[derive(Debug, Arbitrary)]
struct FileModel {
    /// log2(alignment) - 6, taken modulo 7: alignments 64..=4096.
    alignment_shift: u8,
    block_size: u16,
    arrays: Vec<ArrayModel>,
    nodes: Vec<NodeModel>,
    root: u16,
}

#[derive(Debug, Arbitrary)]
struct ArrayModel {
    spec: ArraySpec,
    compression: Compression,
    data_seed: u64,
}

/// A node whose children are indices into the model's node list (taken modulo its length), so
/// sharing and cycles come naturally.
#[derive(Debug)]
struct NodeModel(NodeSketch<u16>);

impl Borrow<NodeSketch<u16>> for NodeModel {
    fn borrow(&self) -> &NodeSketch<u16> {
        &self.0
    }
}

/// How many kinds of node the input picks among.
const NODE_KINDS: u64 = 17;

impl<'a> Arbitrary<'a> for NodeModel {
    /// The grammar a derived enum of the 17 kinds had (a `u32` picks the kind, then its fields
    /// in order), kept so the seed corpus and the kept regressions still mean the same models.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let kind = (u64::from(u32::arbitrary(u)?) * NODE_KINDS) >> 32;
        let leaf = NodeSketch::Leaf;
        Ok(NodeModel(match kind {
            0 => leaf(Value::None),
            1 => leaf(Value::Bool(u.arbitrary()?)),
            2 => leaf(Value::Int(u.arbitrary()?)),
            3 => leaf(Value::BigInt(canonical_big_int(&Vec::<u8>::arbitrary(u)?))),
            4 => leaf(Value::Float(u.arbitrary()?)),
            5 => leaf(Value::Complex(u.arbitrary()?, u.arbitrary()?)),
            6 => leaf(Value::Str(u.arbitrary()?)),
            7 => leaf(Value::Bytes(u.arbitrary()?)),
            8 => NodeSketch::Seq(SeqKind::List, u.arbitrary()?),
            9 => NodeSketch::Seq(SeqKind::Tuple, u.arbitrary()?),
            10 => NodeSketch::Seq(SeqKind::Set, u.arbitrary()?),
            11 => NodeSketch::Seq(SeqKind::FrozenSet, u.arbitrary()?),
            12 => NodeSketch::Map(u.arbitrary()?),
            13 => NodeSketch::Array(u.arbitrary()?),
            14 => object_array(u.arbitrary()?, &Vec::<u8>::arbitrary(u)?, u.arbitrary()?),
            15 => NodeSketch::Object {
                type_name: u.arbitrary()?,
                args: u.arbitrary()?,
                state: u.arbitrary()?,
            },
            _ => leaf(Value::Global(u.arbitrary()?)),
        }))
    }
}

/// An object array of small dimensions whose items are consecutive nodes from `first_item`.
fn object_array(order: Order, shape: &[u8], first_item: u16) -> NodeSketch<u16> {
    let shape: Vec<u64> = shape
        .iter()
        .take(MAX_MODEL_NDIM)
        .map(|d| u64::from(d % 4))
        .collect();
    let count = shape.iter().product::<u64>() as u16;
    NodeSketch::ObjectArray {
        order,
        shape,
        items: (0..count).map(|k| first_item.wrapping_add(k)).collect(),
    }
}

/// Writes the file an arbitrary model describes, reads it back and checks it is the same.
pub fn roundtrip(data: &[u8]) {
    let Ok(model) = FileModel::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let options = WriteOptions {
        alignment: 64 << (model.alignment_shift % 7),
        block_size: u64::from(model.block_size.max(1)),
        ..WriteOptions::default()
    };
    let Some(file) = write_model(&model, &options) else {
        return;
    };
    let again = write_model(&model, &options).expect("the same model writes twice");
    assert!(
        file.bytes == again.bytes,
        "writing the same model twice gave different bytes"
    );
    check_read_back(&file);
}

/// A written model: the bytes, and what they must read back as.
struct WrittenFile {
    bytes: Vec<u8>,
    arrays: Vec<(ArraySpec, Vec<u8>)>,
    graph: Graph,
}

/// Writes the model; `None` when the writer rightly refuses it (an invalid dtype, say).
fn write_model(model: &FileModel, options: &WriteOptions) -> Option<WrittenFile> {
    let mut writer = Writer::new(Vec::new(), options.clone()).expect("model options are valid");
    let mut arrays = Vec::new();
    let mut ids = Vec::new();
    for array in &model.arrays {
        let spec = bounded_spec(&array.spec);
        let Some(nbytes) = spec.nbytes().ok().filter(|&n| n <= MAX_ARRAY_BYTES) else {
            continue;
        };
        let bytes = array_bytes(&spec.dtype, nbytes as usize, array.data_seed);
        let compression = match array.compression {
            Compression::None => Compression::None,
            Compression::Zstd { level, shuffle } => Compression::Zstd {
                level: level.rem_euclid(4) + 1,
                shuffle,
            },
        };
        match writer.write_array_with(&spec, &bytes, compression) {
            Ok(id) => {
                ids.push(id);
                arrays.push((spec, bytes));
            }
            // Arbitrary record dtypes are mostly invalid; the writer must say so, not panic.
            Err(error) => assert!(
                matches!(error.class(), "InvalidDtype" | "LimitExceeded"),
                "unexpected writer error {error}"
            ),
        }
    }
    let graph = build_graph(model, &ids);
    match writer.finish(&graph) {
        Ok(bytes) => Some(WrittenFile { bytes, arrays, graph }),
        Err(error) => {
            assert_eq!(error.class(), "InvalidGraph", "unexpected writer error {error}");
            None
        }
    }
}

/// The spec with small dimensions, and small sizes for the parameterised top-level dtypes, so
/// most models fit [`MAX_ARRAY_BYTES`].
fn bounded_spec(spec: &ArraySpec) -> ArraySpec {
    let dtype = match &spec.dtype {
        DType::Bytes(n) => DType::Bytes(n % 9),
        DType::Unicode(n) => DType::Unicode(n % 5),
        DType::Void(n) => DType::Void(n % 9),
        other => other.clone(),
    };
    ArraySpec {
        dtype,
        shape: spec.shape.iter().take(MAX_MODEL_NDIM).map(|d| d % 9).collect(),
        order: spec.order,
    }
}

/// Seeded array contents; bools get only valid bytes (0 or 1).
fn array_bytes(dtype: &DType, len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = SeededRng(seed).bytes(len);
    if *dtype == DType::Bool {
        bytes.iter_mut().for_each(|b| *b &= 1);
    }
    bytes
}

fn build_graph(model: &FileModel, arrays: &[ArrayId]) -> Graph {
    if model.nodes.is_empty() {
        let mut graph = Graph::new();
        let root = graph.add(Node::None);
        graph.set_root(root);
        return graph;
    }
    sketch::build_graph(
        &model.nodes,
        &model.root,
        arrays,
        |&i, len| usize::from(i) % len,
        // An array node in a file without arrays stays a node, and its index a number.
        |&a| Value::Int(i64::from(a)),
    )
}

/// Minimal two's-complement bytes of an integer outside i64, built from any bytes: at least 9
/// bytes, and a top byte that is not mere sign extension.
fn canonical_big_int(bytes: &[u8]) -> Vec<u8> {
    let mut big: Vec<u8> = bytes.iter().copied().take(32).collect();
    big.resize(big.len().max(9), 0x55);
    let len = big.len();
    let below_negative = big[len - 2] & 0x80 != 0;
    match big[len - 1] {
        0x00 if !below_negative => big[len - 1] = 0x01,
        0xff if below_negative => big[len - 1] = 0xfe,
        _ => {}
    }
    big
}

fn check_read_back(file: &WrittenFile) {
    let options = ReadOptions {
        verify: Verify::OnOpen,
        ..ReadOptions::default()
    };
    let reader = Reader::from_bytes(&file.bytes, options).expect("a written file opens");
    reader.verify().expect("a written file verifies");
    canonical_json(&reader).expect("a written file renders");
    assert_eq!(
        reader.root(),
        file.graph.root().expect("the model graph has a root")
    );
    assert_eq!(reader.graph().len(), file.graph.len(), "node count");
    for ((id, read), (_, written)) in reader.graph().iter().zip(file.graph.iter()) {
        assert!(
            same_node(read, written),
            "node {id:?}: read {read:?}, wrote {written:?}"
        );
    }
    assert_eq!(reader.array_count(), file.arrays.len(), "array count");
    for (info, (spec, bytes)) in reader.arrays().zip(&file.arrays) {
        assert_eq!(info.dtype(), &spec.dtype, "dtype");
        assert_eq!(info.shape(), &spec.shape[..], "shape");
        assert_eq!(info.order(), spec.order, "order");
        let read = reader.read_bytes(info.id()).expect("a written array reads");
        assert!(*read == bytes[..], "array {:?} bytes differ", info.id());
    }
    crate::check_views(&reader);
}
