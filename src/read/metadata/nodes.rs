//! The node table (rules R49 to R51): each node's kind and payload, every index range-checked.

use super::super::cursor::ByteCursor;
use super::registry_code;
use crate::dtype::checked_nbytes;
use crate::error::{Error, Result};
use crate::format::tables::{
    DIM_LEN, NODE_ENTRY_MIN_LEN, NODE_INDEX_LEN, NODE_PAYLOAD_OFFSET, OBJECT_ARRAY_NDIM_OFFSET,
    OBJECT_ARRAY_SHAPE_OFFSET,
};
use crate::format::{node_kind, MetadataHeader, Order, NO_NODE};
use crate::graph::{is_canonical_big_int, ArrayId, GraphBuilder, NodeId, SeqKind, Slot};
use crate::limits::MAX_NDIM;
use crate::read::cursor::{le_u32, le_u64};

pub(super) fn parse_nodes(
    r: &mut ByteCursor<'_>,
    header: &MetadataHeader,
    parts: &mut GraphBuilder,
    max_bigint_bytes: u32,
) -> Result<()> {
    let node_count = header.node_count;
    r.ensure_backed(u64::from(node_count), NODE_ENTRY_MIN_LEN, "nodes")?;
    parts.reserve_nodes(node_count as usize);
    let string_count = parts.strings().len() as u64;
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
                other => {
                    return Err(Error::invalid_node(
                        offset + NODE_PAYLOAD_OFFSET,
                        format!("bool byte {other}"),
                    ))
                }
            },
            node_kind::INT => Slot::Int(r.u64("int")? as i64),
            node_kind::BIG_INT | node_kind::BYTES => {
                let len = r.u32("length")?;
                let bytes = r.take(len as usize, "bytes")?;
                if kind == node_kind::BIG_INT {
                    if len > max_bigint_bytes {
                        return Err(Error::limit(
                            offset + NODE_PAYLOAD_OFFSET,
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
                let order = registry_code(r, "order", Order::from_code, |code| {
                    Error::invalid_node(offset + NODE_PAYLOAD_OFFSET, format!("unknown order code {code}"))
                })?;
                let ndim = r.u8("ndim")?;
                if usize::from(ndim) > MAX_NDIM {
                    return Err(Error::limit(
                        offset + OBJECT_ARRAY_NDIM_OFFSET,
                        format!("object array has {ndim} dimensions"),
                    ));
                }
                let dims = r.take_items(u64::from(ndim), DIM_LEN, "object array shape")?;
                let dim_values: Vec<u64> = dims.chunks_exact(DIM_LEN as usize).map(le_u64).collect();
                let count = checked_nbytes(1, &dim_values).ok_or_else(|| {
                    Error::limit(
                        offset + OBJECT_ARRAY_SHAPE_OFFSET,
                        "object array element count overflows u64",
                    )
                })?;
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
        parts.push_node(slot);
    }
    Ok(())
}

/// Takes `count` little-endian u32 node indices and checks each is below `node_count`.
fn node_ids<'a>(r: &mut ByteCursor<'a>, count: u64, node_count: u32) -> Result<&'a [u8]> {
    let start = r.offset();
    let raw = r.take_items(count, NODE_INDEX_LEN, "node indices")?;
    if let Some(i) = raw
        .chunks_exact(NODE_INDEX_LEN as usize)
        .position(|c| le_u32(c) >= node_count)
    {
        let bad = le_u32(&raw[i * NODE_INDEX_LEN as usize..]);
        return Err(Error::invalid_index(
            start + i as u64 * NODE_INDEX_LEN,
            format!("refers to missing node {bad}"),
        ));
    }
    Ok(raw)
}
