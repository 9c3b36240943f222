//! The canonical JSON rendering of a file's content (spec, "Canonical rendering").
//!
//! The rendering is the file's logical content: the node table, and for each array its dtype,
//! shape, order and the SHA-256 of its logical bytes. Storage choices (alignment, codec, filter,
//! block size) do not appear, so the same content stored two ways renders the same. Floats are
//! rendered as the hex of their IEEE-754 bits, so NaN payloads and -0.0 survive; integers are
//! exact JSON numbers of any size.

use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::read::Reader;

/// Renders the whole file. Arrays are decoded block by block for hashing, so memory stays
/// bounded by one block.
pub fn canonical_json<S: AsRef<[u8]>>(reader: &Reader<S>) -> Result<Json> {
    let graph = reader.graph();
    let nodes: Vec<Json> = graph.iter().map(|(_, node)| render_node(node)).collect();
    let mut arrays = Vec::with_capacity(reader.array_count());
    let max = reader.options().limits.max_decoded_bytes;
    for info in reader.arrays() {
        // R57: rendering materializes every array, raw or compressed.
        if info.nbytes() > max {
            return Err(Error::limit(
                info.extents().first().map_or(0, |e| e.offset),
                format!(
                    "array {} has {} bytes; max_decoded_bytes is {max}",
                    info.id().index(),
                    info.nbytes()
                ),
            ));
        }
        let mut hasher = Sha256::new();
        reader.for_each_chunk(info.id(), |chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
        arrays.push(json!({
            "dtype": render_dtype(info.dtype()),
            "shape": info.shape(),
            "order": info.order().as_str(),
            "sha256": hex::encode(hasher.finalize()),
        }));
    }
    Ok(json!({
        "root": reader.root().index(),
        "nodes": nodes,
        "arrays": arrays,
    }))
}

/// [`canonical_json`] as compact text with sorted keys, one line.
pub fn canonical_json_string<S: AsRef<[u8]>>(reader: &Reader<S>) -> Result<String> {
    Ok(canonical_json(reader)?.to_string())
}

fn float_bits(f: f64) -> String {
    format!("{:016x}", f.to_bits())
}

fn render_node(node: Node<'_>) -> Json {
    let ids = |items: &[crate::graph::NodeId]| items.iter().map(|i| i.index()).collect::<Vec<_>>();
    let optional = |n: Option<crate::graph::NodeId>| n.map(|n| n.index());
    match node {
        Node::None => json!({"kind": "none"}),
        Node::Bool(b) => json!({"kind": "bool", "value": b}),
        Node::Int(i) => json!({"kind": "int", "value": i}),
        Node::BigInt(bytes) => json!({"kind": "bigint", "value": big_int_number(bytes)}),
        Node::Float(f) => json!({"kind": "float", "bits": float_bits(f)}),
        Node::Complex(re, im) => json!({"kind": "complex", "real": float_bits(re), "imag": float_bits(im)}),
        Node::Str(s) => json!({"kind": "str", "value": s}),
        Node::Bytes(b) => json!({"kind": "bytes", "hex": hex::encode(b)}),
        Node::List(items) => json!({"kind": "list", "items": ids(items)}),
        Node::Tuple(items) => json!({"kind": "tuple", "items": ids(items)}),
        Node::Set(items) => json!({"kind": "set", "items": ids(items)}),
        Node::FrozenSet(items) => json!({"kind": "frozenset", "items": ids(items)}),
        Node::Map(entries) => json!({
            "kind": "map",
            "entries": entries.iter().map(|[k, v]| [k.index(), v.index()]).collect::<Vec<_>>(),
        }),
        Node::Array(a) => json!({"kind": "array", "array": a.index()}),
        Node::ObjectArray { order, shape, items } => json!({
            "kind": "object_array", "order": order.as_str(), "shape": shape, "items": ids(items),
        }),
        Node::Object {
            type_name,
            args,
            state,
        } => json!({
            "kind": "object", "type": type_name, "args": optional(args), "state": optional(state),
        }),
        Node::Global(name) => json!({"kind": "global", "name": name}),
    }
}

/// Renders a dtype: a string for fixed-size dtypes, an object for parameterised ones.
pub fn render_dtype(dtype: &DType) -> Json {
    match dtype {
        DType::Bytes(n) => json!({"kind": "bytes", "length": n}),
        DType::Unicode(n) => json!({"kind": "unicode", "length": n}),
        DType::Void(n) => json!({"kind": "void", "itemsize": n}),
        DType::Datetime64 { unit, count } => {
            json!({"kind": "datetime64", "unit": unit.as_str(), "count": count})
        }
        DType::Timedelta64 { unit, count } => {
            json!({"kind": "timedelta64", "unit": unit.as_str(), "count": count})
        }
        DType::Record(record) => {
            let fields: Vec<Json> = record
                .fields
                .iter()
                .map(|f| {
                    let mut field = Map::new();
                    field.insert("name".into(), json!(f.name));
                    field.insert("offset".into(), json!(f.offset));
                    field.insert("dtype".into(), render_dtype(&f.dtype));
                    field.insert("shape".into(), json!(f.shape));
                    Json::Object(field)
                })
                .collect();
            json!({"kind": "record", "itemsize": record.itemsize, "fields": fields})
        }
        scalar => json!(scalar.scalar_name().unwrap_or("?")),
    }
}

/// A two's-complement little-endian integer as an exact JSON number (arbitrary precision).
fn big_int_number(bytes: &[u8]) -> Json {
    let digits = big_int_decimal(bytes);
    // serde_json's arbitrary_precision is off, so parse through a number literal in text.
    serde_json::from_str(&digits).unwrap_or(Json::String(digits))
}

/// Decimal digits of a two's-complement little-endian integer.
pub fn big_int_decimal(bytes: &[u8]) -> String {
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    // Magnitude as little-endian bytes: negate if negative.
    let mut magnitude: Vec<u8> = bytes.to_vec();
    if negative {
        let mut carry = 1u16;
        for byte in magnitude.iter_mut() {
            let v = u16::from(!*byte) + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
    }
    // Repeated division by 10 on big-endian limbs.
    let mut limbs: Vec<u8> = magnitude.into_iter().rev().collect();
    let mut digits = Vec::new();
    while limbs.iter().any(|&b| b != 0) {
        let mut remainder = 0u16;
        for limb in limbs.iter_mut() {
            let v = (remainder << 8) | u16::from(*limb);
            *limb = (v / 10) as u8;
            remainder = v % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_ints_render_in_decimal() {
        let two_pow_64 = [0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(big_int_decimal(&two_pow_64), "18446744073709551616");
        let minus_two_pow_64 = [0, 0, 0, 0, 0, 0, 0, 0, 0xff];
        assert_eq!(big_int_decimal(&minus_two_pow_64), "-18446744073709551616");
    }
}
