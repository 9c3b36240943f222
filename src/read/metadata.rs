//! Parsing and validation of the metadata section: string, dtype, array and node tables.
//!
//! One pass, no recursion. Every count is checked against the reader's limits and against the
//! bytes that remain before anything is allocated; every index is range-checked.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::cursor::ByteCursor;
use crate::dtype::{
    check_field_ndim, check_parameters, checked_nbytes, code, DType, DTypeShape, Field, RecordCheck,
    RecordType, TimeUnit,
};
use crate::error::{Error, Result};
use crate::format::{
    is_newer_minor, node_kind, ArrayEntryPrefix, Codec, Filter, MetadataHeader, Order, StoredExtent,
    EXTENT_RECORD_LEN, METADATA_HEADER_LEN, NO_NODE,
};
use crate::graph::{
    is_canonical_big_int, le_u32, le_u64, ArrayId, Graph, GraphParts, NodeId, SeqKind, Slot, StringTable,
};
use crate::limits::{Limits, MAX_BLOCK_SIZE, MAX_NDIM};

/// One validated array-table entry.
#[derive(Debug, Clone)]
pub struct ArrayEntry {
    pub(crate) dtype: DType,
    pub(crate) order: Order,
    pub(crate) codec: Codec,
    pub(crate) filter: Filter,
    /// Range of this array's dimensions in [`Metadata::dims`].
    pub(crate) shape: Range<usize>,
    pub(crate) block_size: u64,
    pub(crate) nbytes: u64,
    pub(crate) extents: Range<usize>,
    /// File offset of this entry in the array table, for error messages.
    pub(crate) entry_offset: u64,
}

pub(crate) struct Metadata {
    pub graph: Graph,
    pub arrays: Vec<ArrayEntry>,
    /// Every array's dimensions, end to end: one allocation instead of one per array.
    pub dims: Vec<u64>,
    pub extents: Vec<StoredExtent>,
}

/// Smallest encodings, used to check that a count can be backed by the remaining bytes.
const MIN_STRING_LEN: u64 = 4;
const MIN_DTYPE_LEN: u64 = 1;
const MIN_ARRAY_LEN: u64 = 8 + 8 + 4;
const MIN_NODE_LEN: u64 = 1;
const MIN_FIELD_LEN: u64 = 13;

pub(crate) fn parse(bytes: &[u8], base: u64, minor: u16, limits: &Limits) -> Result<Metadata> {
    let mut r = ByteCursor::new(bytes, base);
    let header: MetadataHeader = r.structure(METADATA_HEADER_LEN, "metadata header")?;
    let limit = |count: u32, max: u32, what: &str| {
        if count > max {
            Err(Error::limit(base, format!("{count} {what}; the limit is {max}")))
        } else {
            Ok(())
        }
    };
    limit(header.string_count, limits.max_strings, "strings")?;
    limit(header.dtype_count, limits.max_dtypes, "dtypes")?;
    limit(header.array_count, limits.max_arrays, "arrays")?;
    limit(header.node_count, limits.max_nodes, "nodes")?;
    if header.root >= header.node_count {
        return Err(Error::invalid_index(
            base + 16,
            format!("root {} but {} nodes", header.root, header.node_count),
        ));
    }

    let mut parts = GraphParts::with_capacity(0);
    parse_strings(&mut r, header.string_count, &mut parts)?;
    let dtypes = parse_dtypes(&mut r, header.dtype_count, &parts, limits)?;
    let (arrays, dims, extents) = parse_arrays(&mut r, header.array_count, &dtypes)?;
    parse_nodes(&mut r, &header, &mut parts, limits.max_bigint_bytes)?;
    if r.remaining() > 0 && !is_newer_minor(minor) {
        return Err(Error::trailing_bytes(
            r.offset(),
            format!("{} bytes after the node table", r.remaining()),
        ));
    }
    parts.root = NodeId(header.root);
    Ok(Metadata {
        graph: Graph::from_parts(parts),
        arrays,
        dims,
        extents,
    })
}

fn parse_strings(r: &mut ByteCursor<'_>, count: u32, parts: &mut GraphParts) -> Result<()> {
    r.ensure_backed(u64::from(count), MIN_STRING_LEN, "strings")?;
    // Strings are gathered first and validated as one buffer: the table is valid exactly when the
    // concatenation is valid UTF-8 and every string starts and ends on a character boundary.
    let mut text: Vec<u8> = Vec::new();
    let mut spans: Vec<(u64, Range<usize>)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let read = r.u32("string length").and_then(|len| {
            let offset = r.offset();
            Ok((offset, r.take(len as usize, "string")?))
        });
        let (offset, bytes) = match read {
            Ok(read) => read,
            // Rules apply string by string: a bad string before the truncation is reported first.
            Err(truncated) => {
                return Err(first_invalid_string(&text, &spans).unwrap_or(truncated));
            }
        };
        let start = text.len();
        text.extend_from_slice(bytes);
        spans.push((offset, start..text.len()));
    }
    let text = match String::from_utf8(text) {
        Ok(text)
            if spans
                .iter()
                .all(|(_, span)| text.is_char_boundary(span.start) && text.is_char_boundary(span.end)) =>
        {
            text
        }
        Ok(text) => {
            return Err(first_invalid_string(text.as_bytes(), &spans)
                .unwrap_or_else(|| Error::invalid_utf8(0, "invalid UTF-8")))
        }
        Err(e) => {
            return Err(first_invalid_string(e.as_bytes(), &spans)
                .unwrap_or_else(|| Error::invalid_utf8(0, "invalid UTF-8")))
        }
    };
    parts.strings = crate::graph::StringTable::from_text(text, spans.into_iter().map(|(_, span)| span));
    Ok(())
}

/// The error for the first string (in table order) that is not valid UTF-8 on its own.
fn first_invalid_string(text: &[u8], spans: &[(u64, Range<usize>)]) -> Option<Error> {
    spans.iter().find_map(|(offset, span)| {
        std::str::from_utf8(&text[span.clone()])
            .err()
            .map(|e| Error::invalid_utf8(offset + e.valid_up_to() as u64, "a string is not valid UTF-8"))
    })
}

fn parse_dtypes(
    r: &mut ByteCursor<'_>,
    count: u32,
    parts: &GraphParts,
    limits: &Limits,
) -> Result<Vec<DType>> {
    r.ensure_backed(u64::from(count), MIN_DTYPE_LEN, "dtypes")?;
    let mut dtypes: Vec<DType> = Vec::with_capacity(count as usize);
    // Depth and expanded field count of every entry, for the record rules R31 and R32.
    let mut shapes: Vec<DTypeShape> = Vec::with_capacity(count as usize);
    let mut names = FieldNames::new(&parts.strings);
    for index in 0..count {
        let offset = r.offset();
        let code = r.u8("dtype code")?;
        let (dtype, shape) = match code {
            code::BYTES => (DType::Bytes(r.u32("bytes length")?), DTypeShape::default()),
            code::UNICODE => (DType::Unicode(r.u32("unicode length")?), DTypeShape::default()),
            code::VOID => (DType::Void(r.u32("void itemsize")?), DTypeShape::default()),
            code::DATETIME64 | code::TIMEDELTA64 => {
                let unit_code = r.u8("time unit")?;
                let unit = TimeUnit::from_code(unit_code).ok_or_else(|| {
                    Error::invalid_dtype(offset + 1, format!("unknown time unit {unit_code}"))
                })?;
                let count = r.u32("time unit count")?;
                let dtype = if code == code::DATETIME64 {
                    DType::Datetime64 { unit, count }
                } else {
                    DType::Timedelta64 { unit, count }
                };
                (dtype, DTypeShape::default())
            }
            code::RECORD => parse_record(r, index, &dtypes, &shapes, &mut names, limits)?,
            other => (
                DType::scalar_from_code(other)
                    .ok_or_else(|| Error::invalid_dtype(offset, format!("unknown dtype code {other}")))?,
                DTypeShape::default(),
            ),
        };
        check_parameters(&dtype, Some(offset))?;
        dtypes.push(dtype);
        shapes.push(shape);
    }
    Ok(dtypes)
}

/// A record entry, checked field by field in the order of rules R25 to R35.
fn parse_record(
    r: &mut ByteCursor<'_>,
    own_index: u32,
    earlier: &[DType],
    earlier_shapes: &[DTypeShape],
    names: &mut FieldNames<'_>,
    limits: &Limits,
) -> Result<(DType, DTypeShape)> {
    let start = r.offset() - 1;
    let itemsize = r.u32("record itemsize")?;
    let field_count = r.u32("record field count")?;
    let mut check = RecordCheck::start(itemsize, field_count, limits, Some(start + 1))?;
    r.ensure_backed(u64::from(field_count), MIN_FIELD_LEN, "record fields")?;
    let mut fields = Vec::with_capacity(field_count as usize);
    for _ in 0..field_count {
        let offset = r.offset();
        let name = r.u32("field name")?;
        let (identity, name) = names.get(name).ok_or_else(|| {
            Error::invalid_index(offset, format!("field name refers to missing string {name}"))
        })?;
        check.name(identity, &name, Some(offset))?;
        let field_offset = r.u32("field offset")?;
        let dtype = r.u32("field dtype")?;
        if dtype >= own_index {
            return Err(Error::invalid_dtype(
                offset + 8,
                format!("field dtype {dtype} is not an earlier entry than {own_index}"),
            ));
        }
        check.nesting(earlier_shapes[dtype as usize], Some(offset + 8))?;
        let ndim = r.u8("field ndim")?;
        check_field_ndim(usize::from(ndim), Some(offset + 12))?;
        let dims = r.take_items(u64::from(ndim), 8, "field shape")?;
        let shape: Vec<u64> = dims.chunks_exact(8).map(le_u64).collect();
        let dtype = earlier[dtype as usize].clone();
        check.extent(field_offset, dtype.itemsize(), &shape, Some(offset + 4))?;
        fields.push(Field {
            name,
            offset: field_offset,
            dtype,
            shape,
        });
    }
    let shape = check.finish(Some(start))?;
    Ok((DType::Record(Arc::new(RecordType { itemsize, fields })), shape))
}

/// Field names by string-table index: each index is copied and hashed once, however many records
/// name it, and equal strings at different indices share one identity (R29 compares bytes).
struct FieldNames<'s> {
    strings: &'s StringTable,
    by_index: Vec<Option<(u32, Arc<str>)>>,
    identity_of_text: HashMap<&'s str, u32>,
}

impl<'s> FieldNames<'s> {
    fn new(strings: &'s StringTable) -> Self {
        FieldNames {
            strings,
            by_index: Vec::new(),
            identity_of_text: HashMap::new(),
        }
    }

    /// The identity and shared text of string `index`, or `None` if there is no such string.
    fn get(&mut self, index: u32) -> Option<(u32, Arc<str>)> {
        let slot = index as usize;
        if slot >= self.strings.len() {
            return None;
        }
        if self.by_index.len() <= slot {
            self.by_index.resize(slot + 1, None);
        }
        let strings = self.strings;
        let identities = &mut self.identity_of_text;
        let entry = self.by_index[slot].get_or_insert_with(|| {
            let text = strings.get(index);
            (*identities.entry(text).or_insert(index), Arc::from(text))
        });
        Some(entry.clone())
    }
}

fn parse_arrays(
    r: &mut ByteCursor<'_>,
    count: u32,
    dtypes: &[DType],
) -> Result<(Vec<ArrayEntry>, Vec<u64>, Vec<StoredExtent>)> {
    r.ensure_backed(u64::from(count), MIN_ARRAY_LEN, "arrays")?;
    let mut arrays = Vec::with_capacity(count as usize);
    let mut all_dims = Vec::with_capacity(count as usize);
    let mut extents = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let entry_offset = r.offset();
        let prefix = ArrayEntryPrefix {
            dtype: r.u32("array dtype")?,
            order: r.u8("array order")?,
            codec: r.u8("array codec")?,
            filter: r.u8("array filter")?,
            ndim: r.u8("array ndim")?,
        };
        let at = |delta: u64| entry_offset + delta;
        let dtype = dtypes
            .get(prefix.dtype as usize)
            .ok_or_else(|| {
                Error::invalid_index(at(0), format!("array refers to missing dtype {}", prefix.dtype))
            })?
            .clone();
        let order = Order::from_code(prefix.order)
            .ok_or_else(|| Error::invalid_array(at(4), format!("unknown order code {}", prefix.order)))?;
        let codec = Codec::from_code(prefix.codec)
            .ok_or_else(|| Error::invalid_array(at(5), format!("unknown codec {}", prefix.codec)))?;
        let filter = Filter::from_code(prefix.filter)
            .filter(|&f| codec == Codec::Zstd || f == Filter::None)
            .ok_or_else(|| {
                Error::invalid_array(at(6), format!("filter {} is not allowed here", prefix.filter))
            })?;
        if usize::from(prefix.ndim) > MAX_NDIM {
            return Err(Error::limit(
                at(7),
                format!("array has {} dimensions; at most 64", prefix.ndim),
            ));
        }
        let dims = r.take_items(u64::from(prefix.ndim), 8, "array shape")?;
        let shape_start = all_dims.len();
        all_dims.extend(dims.chunks_exact(8).map(le_u64));
        let shape = shape_start..all_dims.len();
        let itemsize = dtype.itemsize();
        let nbytes = checked_nbytes(itemsize, &all_dims[shape.clone()])
            .ok_or_else(|| Error::limit(at(8), "shape x itemsize overflows u64"))?;
        let block_size_offset = r.offset();
        let block_size = r.u64("block size")?;
        let expected_extents = match codec {
            Codec::None if block_size != 0 => {
                return Err(Error::invalid_array(
                    block_size_offset,
                    "a raw array must have block size 0",
                ));
            }
            Codec::None => u64::from(nbytes > 0),
            Codec::Zstd if block_size == 0 || block_size > MAX_BLOCK_SIZE => {
                return Err(Error::limit(
                    block_size_offset,
                    format!("block size {block_size} is not in 1..=2^30"),
                ));
            }
            Codec::Zstd if block_size % itemsize != 0 => {
                return Err(Error::invalid_array(
                    block_size_offset,
                    format!("block size {block_size} is not a multiple of itemsize {itemsize}"),
                ));
            }
            Codec::Zstd => nbytes.div_ceil(block_size),
        };
        let extent_count = r.u32("extent count")?;
        if u64::from(extent_count) != expected_extents {
            return Err(Error::length_mismatch(
                block_size_offset + 8,
                format!("{extent_count} extents but {nbytes} bytes need {expected_extents}"),
            ));
        }
        let records = r.take_items(u64::from(extent_count), EXTENT_RECORD_LEN, "extents")?;
        let first = extents.len();
        for (i, record) in records.chunks_exact(EXTENT_RECORD_LEN as usize).enumerate() {
            let extent = StoredExtent {
                offset: le_u64(record),
                stored_length: le_u64(&record[8..]),
                crc32: le_u32(&record[16..]),
            };
            let length_offset = block_size_offset + 12 + i as u64 * EXTENT_RECORD_LEN + 8;
            match codec {
                Codec::None if extent.stored_length != nbytes => {
                    return Err(Error::length_mismatch(
                        length_offset,
                        format!(
                            "stored length {} but shape x itemsize is {nbytes}",
                            extent.stored_length
                        ),
                    ));
                }
                Codec::Zstd if extent.stored_length == 0 => {
                    return Err(Error::length_mismatch(
                        length_offset,
                        "a compressed block of 0 bytes",
                    ));
                }
                _ => {}
            }
            extents.push(extent);
        }
        arrays.push(ArrayEntry {
            dtype,
            order,
            codec,
            filter,
            shape,
            block_size,
            nbytes,
            extents: first..extents.len(),
            entry_offset,
        });
    }
    Ok((arrays, all_dims, extents))
}

fn parse_nodes(
    r: &mut ByteCursor<'_>,
    header: &MetadataHeader,
    parts: &mut GraphParts,
    max_bigint_bytes: u32,
) -> Result<()> {
    let node_count = header.node_count;
    r.ensure_backed(u64::from(node_count), MIN_NODE_LEN, "nodes")?;
    parts.slots = Vec::with_capacity(node_count as usize);
    let string_count = parts.strings.len() as u64;
    for _ in 0..node_count {
        let offset = r.offset();
        let kind = r.u8("node kind")?;
        let string = |r: &mut ByteCursor<'_>| -> Result<u32> {
            let at = r.offset();
            let s = r.u32("string index")?;
            if u64::from(s) >= string_count {
                return Err(Error::invalid_index(
                    at,
                    format!("node refers to missing string {s}"),
                ));
            }
            Ok(s)
        };
        let slot = match kind {
            node_kind::NONE => Slot::None,
            node_kind::BOOL => match r.u8("bool")? {
                0 => Slot::Bool(false),
                1 => Slot::Bool(true),
                other => return Err(Error::invalid_node(offset + 1, format!("bool byte {other}"))),
            },
            node_kind::INT => Slot::Int(r.u64("int")? as i64),
            node_kind::BIG_INT | node_kind::BYTES => {
                let len = r.u32("length")?;
                let bytes = r.take(len as usize, "bytes")?;
                if kind == node_kind::BIG_INT {
                    if len > max_bigint_bytes {
                        return Err(Error::limit(
                            offset + 1,
                            format!("big int of {len} bytes; the limit is {max_bigint_bytes}"),
                        ));
                    }
                    if !is_canonical_big_int(bytes) {
                        return Err(Error::invalid_node(
                            offset,
                            "big int is not minimal two's complement, or fits in i64",
                        ));
                    }
                    Slot::BigInt(parts.blob(bytes))
                } else {
                    Slot::Bytes(parts.blob(bytes))
                }
            }
            node_kind::FLOAT => Slot::Float(f64::from_bits(r.u64("float")?)),
            node_kind::COMPLEX => {
                Slot::Complex(f64::from_bits(r.u64("real")?), f64::from_bits(r.u64("imag")?))
            }
            node_kind::STR => Slot::Str(string(r)?),
            node_kind::GLOBAL => Slot::Global(string(r)?),
            node_kind::LIST | node_kind::TUPLE | node_kind::SET | node_kind::FROZEN_SET => {
                let count = r.u32("item count")?;
                let raw = node_ids(r, u64::from(count), node_count)?;
                let seq = match kind {
                    node_kind::LIST => SeqKind::List,
                    node_kind::TUPLE => SeqKind::Tuple,
                    node_kind::SET => SeqKind::Set,
                    _ => SeqKind::FrozenSet,
                };
                Slot::Seq(seq, parts.ids_le(raw))
            }
            node_kind::MAP => {
                let count = r.u32("entry count")?;
                let raw = node_ids(r, u64::from(count) * 2, node_count)?;
                Slot::Map(parts.ids_le(raw))
            }
            node_kind::ARRAY => {
                let at = r.offset();
                let a = r.u32("array index")?;
                if a >= header.array_count {
                    return Err(Error::invalid_index(
                        at,
                        format!("node refers to missing array {a}"),
                    ));
                }
                Slot::Array(ArrayId(a))
            }
            node_kind::OBJECT_ARRAY => {
                let order_code = r.u8("order")?;
                let order = Order::from_code(order_code).ok_or_else(|| {
                    Error::invalid_node(offset + 1, format!("unknown order code {order_code}"))
                })?;
                let ndim = r.u8("ndim")?;
                if usize::from(ndim) > MAX_NDIM {
                    return Err(Error::limit(
                        offset + 2,
                        format!("object array has {ndim} dimensions"),
                    ));
                }
                let dims = r.take_items(u64::from(ndim), 8, "object array shape")?;
                let dim_values: Vec<u64> = dims.chunks_exact(8).map(le_u64).collect();
                let count = checked_nbytes(1, &dim_values)
                    .ok_or_else(|| Error::limit(offset + 3, "object array element count overflows u64"))?;
                let raw = node_ids(r, count, node_count)?;
                Slot::ObjectArray {
                    order,
                    shape: parts.dims_le(dims),
                    items: parts.ids_le(raw),
                }
            }
            node_kind::OBJECT => {
                let type_name = string(r)?;
                let mut optional = |what: &str| -> Result<Option<NodeId>> {
                    let at = r.offset();
                    match r.u32(what)? {
                        NO_NODE => Ok(None),
                        n if n < node_count => Ok(Some(NodeId(n))),
                        n => Err(Error::invalid_index(
                            at,
                            format!("{what} refers to missing node {n}"),
                        )),
                    }
                };
                let args = optional("object args")?;
                let state = optional("object state")?;
                Slot::Object {
                    type_name,
                    args,
                    state,
                }
            }
            other => return Err(Error::invalid_node(offset, format!("unknown node kind {other}"))),
        };
        parts.slots.push(slot);
    }
    Ok(())
}

/// Takes `count` little-endian u32 node indices and checks each is below `node_count`.
fn node_ids<'a>(r: &mut ByteCursor<'a>, count: u64, node_count: u32) -> Result<&'a [u8]> {
    let start = r.offset();
    let raw = r.take_items(count, 4, "node indices")?;
    if let Some(i) = raw.chunks_exact(4).position(|c| le_u32(c) >= node_count) {
        let bad = le_u32(&raw[i * 4..]);
        return Err(Error::invalid_index(
            start + i as u64 * 4,
            format!("refers to missing node {bad}"),
        ));
    }
    Ok(raw)
}
