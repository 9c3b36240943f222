//! Target 2: the structured round trip. The fuzzer's bytes become a [`FileModel`] (through
//! `arbitrary`, using the `Arbitrary` derives the crate's `arbitrary` feature puts on its dtypes,
//! orders and compression), which is written, read back and compared node by node and byte by
//! byte.

use amberfile::render::canonical_json;
use amberfile::{
    ArrayId, ArraySpec, Compression, DType, Graph, Node, NodeId, Order, ReadOptions, Reader, Verify,
    WriteOptions, Writer,
};
use arbitrary::{Arbitrary, Unstructured};

use crate::SeededRng;

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
#[derive(Debug, Arbitrary)]
enum NodeModel {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Vec<u8>),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<u16>),
    Tuple(Vec<u16>),
    Set(Vec<u16>),
    FrozenSet(Vec<u16>),
    Map(Vec<(u16, u16)>),
    Array(u16),
    ObjectArray {
        order: Order,
        shape: Vec<u8>,
        first_item: u16,
    },
    Object {
        type_name: String,
        args: Option<u16>,
        state: Option<u16>,
    },
    Global(String),
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
    let mut graph = Graph::new();
    if model.nodes.is_empty() {
        let root = graph.add(Node::None);
        graph.set_root(root);
        return graph;
    }
    let ids: Vec<NodeId> = model.nodes.iter().map(|_| graph.reserve()).collect();
    let node = |i: &u16| ids[usize::from(*i) % ids.len()];
    for (id, model_node) in ids.iter().zip(&model.nodes) {
        let children: Vec<NodeId>;
        let pairs: Vec<[NodeId; 2]>;
        let big: Vec<u8>;
        let dims: Vec<u64>;
        let built = match model_node {
            NodeModel::None => Node::None,
            NodeModel::Bool(b) => Node::Bool(*b),
            NodeModel::Int(i) => Node::Int(*i),
            NodeModel::BigInt(bytes) => {
                big = canonical_big_int(bytes);
                Node::BigInt(&big)
            }
            NodeModel::Float(f) => Node::Float(*f),
            NodeModel::Complex(re, im) => Node::Complex(*re, *im),
            NodeModel::Str(s) => Node::Str(s),
            NodeModel::Bytes(b) => Node::Bytes(b),
            NodeModel::List(items)
            | NodeModel::Tuple(items)
            | NodeModel::Set(items)
            | NodeModel::FrozenSet(items) => {
                children = items.iter().map(node).collect();
                match model_node {
                    NodeModel::List(_) => Node::List(&children),
                    NodeModel::Tuple(_) => Node::Tuple(&children),
                    NodeModel::Set(_) => Node::Set(&children),
                    _ => Node::FrozenSet(&children),
                }
            }
            NodeModel::Map(entries) => {
                pairs = entries.iter().map(|(k, v)| [node(k), node(v)]).collect();
                Node::Map(&pairs)
            }
            NodeModel::Array(a) if arrays.is_empty() => Node::Int(i64::from(*a)),
            NodeModel::Array(a) => Node::Array(arrays[usize::from(*a) % arrays.len()]),
            NodeModel::ObjectArray {
                order,
                shape,
                first_item,
            } => {
                dims = shape
                    .iter()
                    .take(MAX_MODEL_NDIM)
                    .map(|d| u64::from(d % 4))
                    .collect();
                let count = dims.iter().product::<u64>() as u16;
                children = (0..count).map(|k| node(&first_item.wrapping_add(k))).collect();
                Node::ObjectArray {
                    order: *order,
                    shape: &dims,
                    items: &children,
                }
            }
            NodeModel::Object {
                type_name,
                args,
                state,
            } => Node::Object {
                type_name,
                args: args.as_ref().map(node),
                state: state.as_ref().map(node),
            },
            NodeModel::Global(name) => Node::Global(name),
        };
        graph.set(*id, built);
    }
    graph.set_root(node(&model.root));
    graph
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

/// Node equality with floats compared by bits, so NaN payloads and -0.0 must survive too.
fn same_node(a: Node<'_>, b: Node<'_>) -> bool {
    match (a, b) {
        (Node::Float(x), Node::Float(y)) => x.to_bits() == y.to_bits(),
        (Node::Complex(xr, xi), Node::Complex(yr, yi)) => {
            xr.to_bits() == yr.to_bits() && xi.to_bits() == yi.to_bits()
        }
        _ => a == b,
    }
}
