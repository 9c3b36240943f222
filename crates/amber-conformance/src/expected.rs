//! Expected renderings (spec section 15), derived from what a case writes.
//!
//! Deliberately independent of `src/render.rs`: the suite must catch a renderer that drifts from
//! the spec, so it computes renderings from the source description with its own code.

use amberfile::{ArrayId, ArraySpec, Compression, DType, Graph, Node, NodeId, Order, WriteOptions, Writer};
use serde_json::{json, Value as Json};

use super::sha256_hex;

/// A file being built from a source description, with its expected rendering kept alongside.
pub struct Build {
    writer: Writer<Vec<u8>>,
    arrays: Vec<Json>,
    pub graph: Graph,
}

impl Build {
    pub fn new(options: WriteOptions) -> Self {
        Build {
            writer: Writer::new(Vec::new(), options).expect("valid write options"),
            arrays: Vec::new(),
            graph: Graph::new(),
        }
    }

    /// Writes an array and records its expected rendering.
    pub fn array(&mut self, spec: &ArraySpec, bytes: &[u8], compression: Compression) -> ArrayId {
        let id = self
            .writer
            .write_array_with(spec, bytes, compression)
            .expect("the case's array is valid");
        self.arrays.push(array_json(spec, bytes));
        id
    }

    /// Writes an array and adds an `array` node for it.
    pub fn array_node(&mut self, spec: &ArraySpec, bytes: &[u8], compression: Compression) -> NodeId {
        let id = self.array(spec, bytes, compression);
        self.graph.add(Node::Array(id))
    }

    /// Finishes the file with the graph's root; returns the bytes and the expected rendering.
    pub fn finish(self) -> (Vec<u8>, Json) {
        let root = self.graph.root().expect("every case sets a root");
        let rendering = json!({
            "root": root.index(),
            "nodes": self.graph.iter().map(|(_, node)| node_json(node)).collect::<Vec<_>>(),
            "arrays": self.arrays,
        });
        let bytes = self
            .writer
            .finish(&self.graph)
            .expect("the case's graph is valid");
        (bytes, rendering)
    }
}

pub fn array_json(spec: &ArraySpec, logical_bytes: &[u8]) -> Json {
    json!({
        "dtype": dtype_json(&spec.dtype),
        "shape": spec.shape,
        "order": match spec.order { Order::C => "C", Order::F => "F" },
        "sha256": sha256_hex(logical_bytes),
    })
}

fn float_bits(value: f64) -> String {
    format!("{:016x}", value.to_bits())
}

pub fn node_json(node: Node<'_>) -> Json {
    let ids = |items: &[NodeId]| items.iter().map(|i| i.index()).collect::<Vec<_>>();
    let sequence = |kind: &str, items: &[NodeId]| json!({"kind": kind, "items": ids(items)});
    match node {
        Node::None => json!({"kind": "none"}),
        Node::Bool(value) => json!({"kind": "bool", "value": value}),
        Node::Int(value) => json!({"kind": "int", "value": value}),
        Node::BigInt(bytes) => json!({"kind": "bigint", "value": exact_integer(&signed_decimal(bytes))}),
        Node::Float(value) => json!({"kind": "float", "bits": float_bits(value)}),
        Node::Complex(re, im) => json!({"kind": "complex", "real": float_bits(re), "imag": float_bits(im)}),
        Node::Str(text) => json!({"kind": "str", "value": text}),
        Node::Bytes(bytes) => json!({"kind": "bytes", "hex": hex::encode(bytes)}),
        Node::List(items) => sequence("list", items),
        Node::Tuple(items) => sequence("tuple", items),
        Node::Set(items) => sequence("set", items),
        Node::FrozenSet(items) => sequence("frozenset", items),
        Node::Map(entries) => json!({
            "kind": "map",
            "entries": entries.iter().map(|[k, v]| vec![k.index(), v.index()]).collect::<Vec<_>>(),
        }),
        Node::Array(id) => json!({"kind": "array", "array": id.index()}),
        Node::ObjectArray { order, shape, items } => json!({
            "kind": "object_array",
            "order": if order == Order::C { "C" } else { "F" },
            "shape": shape,
            "items": ids(items),
        }),
        Node::Object {
            type_name,
            args,
            state,
        } => json!({
            "kind": "object",
            "type": type_name,
            "args": args.map(NodeId::index),
            "state": state.map(NodeId::index),
        }),
        Node::Global(name) => json!({"kind": "global", "name": name}),
    }
}

pub fn dtype_json(dtype: &DType) -> Json {
    let time = |kind: &str, unit: amberfile::TimeUnit, count: u32| json!({"kind": kind, "unit": unit.as_str(), "count": count});
    match dtype {
        DType::Bool => json!("bool"),
        DType::Int8 => json!("int8"),
        DType::Int16 => json!("int16"),
        DType::Int32 => json!("int32"),
        DType::Int64 => json!("int64"),
        DType::UInt8 => json!("uint8"),
        DType::UInt16 => json!("uint16"),
        DType::UInt32 => json!("uint32"),
        DType::UInt64 => json!("uint64"),
        DType::Float16 => json!("float16"),
        DType::BFloat16 => json!("bfloat16"),
        DType::Float32 => json!("float32"),
        DType::Float64 => json!("float64"),
        DType::Complex64 => json!("complex64"),
        DType::Complex128 => json!("complex128"),
        DType::Float8E4M3FN => json!("float8_e4m3fn"),
        DType::Float8E5M2 => json!("float8_e5m2"),
        DType::Bytes(n) => json!({"kind": "bytes", "length": n}),
        DType::Unicode(n) => json!({"kind": "unicode", "length": n}),
        DType::Void(n) => json!({"kind": "void", "itemsize": n}),
        DType::Datetime64 { unit, count } => time("datetime64", *unit, *count),
        DType::Timedelta64 { unit, count } => time("timedelta64", *unit, *count),
        DType::Record(record) => json!({
            "kind": "record",
            "itemsize": record.itemsize,
            "fields": record.fields.iter().map(|f| json!({
                "name": &*f.name,
                "offset": f.offset,
                "dtype": dtype_json(&f.dtype),
                "shape": f.shape,
            })).collect::<Vec<_>>(),
        }),
        other => panic!("the suite has no expected rendering for {other}"),
    }
}

/// A decimal integer literal as an exact JSON number.
pub fn exact_integer(decimal: &str) -> Json {
    serde_json::from_str(decimal).expect("a decimal integer literal")
}

/// Decimal form of a little-endian two's-complement integer, by long division on u32 limbs.
pub fn signed_decimal(bytes: &[u8]) -> String {
    let negative = bytes.last().is_some_and(|&b| b >= 0x80);
    // Magnitude: for a negative number, the two's complement of the bytes.
    let mut magnitude = bytes.to_vec();
    if negative {
        let mut carry = true;
        for byte in &mut magnitude {
            *byte = !*byte;
            if carry {
                let (sum, overflow) = byte.overflowing_add(1);
                *byte = sum;
                carry = overflow;
            }
        }
    }
    // Most significant limb first.
    let mut limbs: Vec<u32> = magnitude
        .chunks(4)
        .rev()
        .map(|chunk| chunk.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        .collect();
    let mut groups = Vec::new(); // base 10^9 digits, least significant first
    while limbs.iter().any(|&l| l != 0) {
        let mut remainder = 0u64;
        for limb in &mut limbs {
            let value = (remainder << 32) | u64::from(*limb);
            *limb = (value / 1_000_000_000) as u32;
            remainder = value % 1_000_000_000;
        }
        groups.push(remainder);
    }
    let mut text = String::from(if negative { "-" } else { "" });
    match groups.split_last() {
        None => text.push('0'),
        Some((most, rest)) => {
            text.push_str(&most.to_string());
            for group in rest.iter().rev() {
                text.push_str(&format!("{group:09}"));
            }
        }
    }
    text
}
