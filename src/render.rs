//! The canonical JSON rendering of a file's content (spec, "Canonical rendering").
//!
//! The rendering is the file's logical content: the node table, and for each array its dtype,
//! shape, order and the SHA-256 of its logical bytes. Storage choices (alignment, codec, filter,
//! block size) do not appear, so the same content stored two ways renders the same. Floats are
//! rendered as the hex of their IEEE-754 bits, so NaN payloads and -0.0 survive; integers are
//! exact JSON numbers of any size.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::dtype::{DType, RecordType};
use crate::error::{Error, Result};
use crate::graph::{Node, NodeId};
use crate::limits::output_budget;
use crate::read::Reader;

/// Renders the whole file as a [`Json`] value. Prefer [`write_canonical_json`] for files that
/// are not small: a value tree takes many times the file's size.
pub fn canonical_json<S: AsRef<[u8]>>(reader: &Reader<S>) -> Result<Json> {
    let text = canonical_json_string(reader)?;
    serde_json::from_str(&text).map_err(|e| Error::io(None, e.into()))
}

/// [`canonical_json`] as compact text with sorted keys, one line.
pub fn canonical_json_string<S: AsRef<[u8]>>(reader: &Reader<S>) -> Result<String> {
    let mut text = Vec::new();
    write_canonical_json(reader, &mut text)?;
    String::from_utf8(text).map_err(|e| Error::io(None, std::io::Error::other(e)))
}

/// Writes the rendering (compact, sorted keys, no newline) to `out` as it walks the file, so
/// memory stays bounded by one block and one node whatever the size of the output. Every array
/// is read and hashed before the first byte is written: an invalid file writes nothing.
///
/// Fails with LimitExceeded, before reading any array, if the dtypes alone would print more than
/// [`output_budget`] of the file's size.
pub fn write_canonical_json<S: AsRef<[u8]>>(reader: &Reader<S>, out: impl Write) -> Result<()> {
    check_dtypes_fit_budget(reader)?;
    let digests = array_digests(reader)?;
    write_document(reader, &digests, out).map_err(|e| Error::io(None, e))
}

/// Refuses a file whose array dtypes, printed once each, would exceed the output budget: record
/// dtypes expand their shared sub-records at every use.
pub fn check_dtypes_fit_budget<S: crate::ByteSource>(reader: &Reader<S>) -> Result<()> {
    let budget = output_budget(reader.metadata().file_len());
    let mut memo = HashMap::new();
    let printed = reader.arrays().fold(0u64, |total, info| {
        total.saturating_add(dtype_len_bound(info.dtype(), &mut memo))
    });
    if printed > budget {
        return Err(Error::limit(
            None,
            format!(
                "the array dtypes alone would print about {printed} bytes; the output budget is {budget}"
            ),
        ));
    }
    Ok(())
}

/// About a dtype's length as [`write_dtype`] prints it (names exactly as escaped, punctuation
/// and digits rounded up), memoized per shared record so the bound costs time linear in the
/// dtype table.
fn dtype_len_bound(dtype: &DType, memo: &mut HashMap<*const RecordType, u64>) -> u64 {
    let DType::Record(record) = dtype else {
        return 64;
    };
    if let Some(&known) = memo.get(&Arc::as_ptr(record)) {
        return known;
    }
    let len = record.fields.iter().fold(64u64, |total, field| {
        let own = json_string_len(&field.name).saturating_add(48 + field.shape.len() as u64 * 21);
        total
            .saturating_add(own)
            .saturating_add(dtype_len_bound(&field.dtype, memo))
    });
    memo.insert(Arc::as_ptr(record), len);
    len
}

/// Length of `s` as a JSON string literal, quotes included.
fn json_string_len(s: &str) -> u64 {
    s.bytes().fold(2, |total, b| {
        total
            + match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                0..0x20 => 6,
                _ => 1,
            }
    })
}

/// The SHA-256 of every array's logical bytes, in table order.
fn array_digests<S: AsRef<[u8]>>(reader: &Reader<S>) -> Result<Vec<[u8; 32]>> {
    let max = reader.options().limits.max_decoded_bytes;
    let mut digests = Vec::with_capacity(reader.array_count());
    for info in reader.arrays() {
        // R57: rendering materializes every array, raw or compressed.
        if info.nbytes() > max {
            return Err(Error::limit(
                info.extents().first().map(|e| e.offset),
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
        digests.push(hasher.finalize().into());
    }
    Ok(digests)
}

fn write_document<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    digests: &[[u8; 32]],
    out: impl Write,
) -> io::Result<()> {
    let mut w = BufWriter::new(out);
    w.write_all(b"{\"arrays\":[")?;
    for (i, (info, digest)) in reader.arrays().zip(digests).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"{\"dtype\":")?;
        write_dtype(&mut w, info.dtype())?;
        w.write_all(b",\"order\":")?;
        write_str(&mut w, info.order().as_str())?;
        write!(w, ",\"sha256\":\"{}\",\"shape\":", hex::encode(digest))?;
        write_ids(&mut w, info.shape().iter())?;
        w.write_all(b"}")?;
    }
    w.write_all(b"],\"nodes\":[")?;
    for (i, (_, node)) in reader.graph().iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write_node(&mut w, node)?;
    }
    write!(w, "],\"root\":{}}}", reader.root().index())?;
    w.flush()
}

fn float_bits(f: f64) -> String {
    format!("{:016x}", f.to_bits())
}

fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(w, s).map_err(io::Error::from)
}

/// A JSON array of numbers: node ids, dimensions.
fn write_ids<T: std::fmt::Display>(w: &mut impl Write, items: impl Iterator<Item = T>) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{item}")?;
    }
    w.write_all(b"]")
}

fn write_optional(w: &mut impl Write, id: Option<NodeId>) -> io::Result<()> {
    match id {
        Some(id) => write!(w, "{}", id.index()),
        None => w.write_all(b"null"),
    }
}

/// One node with its keys in sorted order (spec 15.2).
fn write_node(w: &mut impl Write, node: Node<'_>) -> io::Result<()> {
    fn ids(items: &[NodeId]) -> impl Iterator<Item = usize> + '_ {
        items.iter().map(|i| i.index())
    }
    match node {
        Node::None => w.write_all(b"{\"kind\":\"none\"}"),
        Node::Bool(b) => write!(w, "{{\"kind\":\"bool\",\"value\":{b}}}"),
        Node::Int(i) => write!(w, "{{\"kind\":\"int\",\"value\":{i}}}"),
        Node::BigInt(bytes) => write!(w, "{{\"kind\":\"bigint\",\"value\":{}}}", big_int_decimal(bytes)),
        Node::Float(f) => write!(w, "{{\"bits\":\"{}\",\"kind\":\"float\"}}", float_bits(f)),
        Node::Complex(re, im) => write!(
            w,
            "{{\"imag\":\"{}\",\"kind\":\"complex\",\"real\":\"{}\"}}",
            float_bits(im),
            float_bits(re)
        ),
        Node::Str(s) => {
            w.write_all(b"{\"kind\":\"str\",\"value\":")?;
            write_str(w, s)?;
            w.write_all(b"}")
        }
        Node::Bytes(b) => write!(w, "{{\"hex\":\"{}\",\"kind\":\"bytes\"}}", hex::encode(b)),
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            w.write_all(b"{\"items\":")?;
            write_ids(w, ids(items))?;
            write!(w, ",\"kind\":\"{}\"}}", node.kind_name())
        }
        Node::Map(entries) => {
            w.write_all(b"{\"entries\":[")?;
            for (i, [k, v]) in entries.iter().enumerate() {
                let comma = if i > 0 { "," } else { "" };
                write!(w, "{comma}[{},{}]", k.index(), v.index())?;
            }
            w.write_all(b"],\"kind\":\"map\"}")
        }
        Node::Array(a) => write!(w, "{{\"array\":{},\"kind\":\"array\"}}", a.index()),
        Node::ObjectArray { order, shape, items } => {
            w.write_all(b"{\"items\":")?;
            write_ids(w, ids(items))?;
            write!(
                w,
                ",\"kind\":\"object_array\",\"order\":\"{}\",\"shape\":",
                order.as_str()
            )?;
            write_ids(w, shape.iter())?;
            w.write_all(b"}")
        }
        Node::Object {
            type_name,
            args,
            state,
        } => {
            w.write_all(b"{\"args\":")?;
            write_optional(w, args)?;
            w.write_all(b",\"kind\":\"object\",\"state\":")?;
            write_optional(w, state)?;
            w.write_all(b",\"type\":")?;
            write_str(w, type_name)?;
            w.write_all(b"}")
        }
        Node::Global(name) => {
            w.write_all(b"{\"kind\":\"global\",\"name\":")?;
            write_str(w, name)?;
            w.write_all(b"}")
        }
    }
}

/// [`render_dtype`] written as it goes: a record dtype expands its shared sub-records at every
/// use, which can be far larger than the file.
fn write_dtype(w: &mut impl Write, dtype: &DType) -> io::Result<()> {
    let DType::Record(record) = dtype else {
        return serde_json::to_writer(w, &render_dtype(dtype)).map_err(io::Error::from);
    };
    w.write_all(b"{\"fields\":[")?;
    for (i, field) in record.fields.iter().enumerate() {
        w.write_all(if i > 0 { b",{\"dtype\":" } else { b"{\"dtype\":" })?;
        write_dtype(w, &field.dtype)?;
        w.write_all(b",\"name\":")?;
        write_str(w, &field.name)?;
        write!(w, ",\"offset\":{},\"shape\":", field.offset)?;
        write_ids(w, field.shape.iter())?;
        w.write_all(b"}")?;
    }
    write!(w, "],\"itemsize\":{},\"kind\":\"record\"}}", record.itemsize)
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
                    field.insert("name".into(), json!(&*f.name));
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

/// Decimal digits of a two's-complement little-endian integer.
///
/// Divides by 10^9 on 32-bit limbs, so a 1,024-byte integer takes about 70,000 word divisions
/// rather than millions of byte steps.
pub fn big_int_decimal(bytes: &[u8]) -> String {
    const CHUNK: u64 = 1_000_000_000;
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
    let mut limbs: Vec<u32> = magnitude
        .chunks(4)
        .map(|c| c.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        .collect();
    // Base-10^9 digits, least significant first.
    let mut chunks = Vec::with_capacity(limbs.len() * 32 / 29 + 1);
    while let Some(&top) = limbs.last() {
        if top == 0 {
            limbs.pop();
            continue;
        }
        let mut remainder = 0u64;
        for limb in limbs.iter_mut().rev() {
            let v = (remainder << 32) | u64::from(*limb);
            *limb = (v / CHUNK) as u32;
            remainder = v % CHUNK;
        }
        chunks.push(remainder as u32);
    }
    let mut digits = String::with_capacity(chunks.len() * 9 + 1);
    if negative {
        digits.push('-');
    }
    match chunks.split_last() {
        None => digits.push('0'),
        Some((most, rest)) => {
            digits.push_str(&most.to_string());
            for chunk in rest.iter().rev() {
                digits.push_str(&format!("{chunk:09}"));
            }
        }
    }
    digits
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
        // Zero limbs inside the number keep their nine digits: 10^27 = 2^27 * 5^27.
        let ten_pow_27 = 10u128.pow(27).to_le_bytes();
        assert_eq!(big_int_decimal(&ten_pow_27[..12]), format!("1{}", "0".repeat(27)));
        let maximal = [[0xff; 1023].as_slice(), &[0x7f]].concat();
        let decimal = big_int_decimal(&maximal);
        assert_eq!(decimal.len(), 2466, "2^8191 - 1 has 2,466 digits");
        assert!(
            decimal.starts_with("5453") && decimal.ends_with("6447"),
            "{decimal}"
        );
    }
}
