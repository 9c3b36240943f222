//! Encoding of the metadata section: string, dtype, array and node tables.

use std::collections::HashMap;

use super::{encode, WrittenArray};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::{node_kind, ArrayEntryPrefix, MetadataHeader, NO_NODE};
use crate::graph::{Graph, Node, NodeId};

pub(super) fn encode_metadata(graph: &Graph, dtypes: &[DType], arrays: &[WrittenArray]) -> Result<Vec<u8>> {
    // The graph's string table as it is, plus record field names it lacks.
    let mut strings: Vec<&str> = graph.strings.iter().collect();
    let mut string_index: HashMap<&str, u32> = HashMap::with_capacity(strings.len());
    for (i, s) in strings.iter().enumerate() {
        string_index.entry(s).or_insert(i as u32);
    }
    for dtype in dtypes {
        if let DType::Record(record) = dtype {
            for field in &record.fields {
                if !string_index.contains_key(&*field.name) {
                    string_index.insert(&field.name, strings.len() as u32);
                    strings.push(&field.name);
                }
            }
        }
    }
    let count = |n: usize, what: &str| {
        u32::try_from(n).map_err(|_| Error::limit(None, format!("too many {what} for the format")))
    };
    let root = graph
        .root()
        .ok_or_else(|| Error::invalid_graph(None, "the graph has no root"))?;
    let header = MetadataHeader {
        string_count: count(strings.len(), "strings")?,
        dtype_count: count(dtypes.len(), "dtypes")?,
        array_count: count(arrays.len(), "arrays")?,
        node_count: count(graph.len(), "nodes")?,
        root: root.0,
    };
    let mut out = encode(&header);

    for s in &strings {
        put_len(&mut out, s.len())?;
        out.extend_from_slice(s.as_bytes());
    }

    let dtype_index: HashMap<&DType, u32> = dtypes.iter().enumerate().map(|(i, d)| (d, i as u32)).collect();
    for dtype in dtypes {
        out.push(dtype.code());
        match dtype {
            DType::Bytes(n) | DType::Unicode(n) | DType::Void(n) => put_u32(&mut out, *n),
            DType::Datetime64 { unit, count } | DType::Timedelta64 { unit, count } => {
                out.push(*unit as u8);
                put_u32(&mut out, *count);
            }
            DType::Record(record) => {
                put_u32(&mut out, record.itemsize);
                put_len(&mut out, record.fields.len())?;
                for field in &record.fields {
                    put_u32(&mut out, string_index[&*field.name]);
                    put_u32(&mut out, field.offset);
                    put_u32(&mut out, dtype_index[&field.dtype]);
                    out.push(field.shape.len() as u8);
                    field
                        .shape
                        .iter()
                        .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
                }
            }
            _ => {}
        }
    }

    for array in arrays {
        out.extend(encode(&ArrayEntryPrefix {
            dtype: array.dtype,
            order: array.order as u8,
            codec: array.codec as u8,
            filter: array.filter as u8,
            ndim: array.shape.len() as u8,
        }));
        array
            .shape
            .iter()
            .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
        out.extend_from_slice(&array.block_size.to_le_bytes());
        put_len(&mut out, array.extents.len())?;
        for extent in &array.extents {
            out.extend(encode(extent));
        }
    }

    for (id, node) in graph.iter() {
        encode_node(&mut out, graph, id, node)?;
    }
    Ok(out)
}

fn encode_node(out: &mut Vec<u8>, graph: &Graph, id: NodeId, node: Node<'_>) -> Result<()> {
    let string = || graph.string_index(id).unwrap_or(0);
    let ids = |out: &mut Vec<u8>, items: &[NodeId]| items.iter().for_each(|c| put_u32(out, c.0));
    let optional = |n: Option<NodeId>| n.map_or(NO_NODE, |n| n.0);
    match node {
        Node::None => out.push(node_kind::NONE),
        Node::Bool(b) => out.extend([node_kind::BOOL, u8::from(b)]),
        Node::Int(i) => {
            out.push(node_kind::INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Node::BigInt(bytes) | Node::Bytes(bytes) => {
            out.push(if matches!(node, Node::BigInt(_)) {
                node_kind::BIG_INT
            } else {
                node_kind::BYTES
            });
            put_len(out, bytes.len())?;
            out.extend_from_slice(bytes);
        }
        Node::Float(f) => {
            out.push(node_kind::FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Node::Complex(re, im) => {
            out.push(node_kind::COMPLEX);
            out.extend_from_slice(&re.to_bits().to_le_bytes());
            out.extend_from_slice(&im.to_bits().to_le_bytes());
        }
        Node::Str(_) => {
            out.push(node_kind::STR);
            put_u32(out, string());
        }
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            out.push(match node {
                Node::List(_) => node_kind::LIST,
                Node::Tuple(_) => node_kind::TUPLE,
                Node::Set(_) => node_kind::SET,
                _ => node_kind::FROZEN_SET,
            });
            put_len(out, items.len())?;
            ids(out, items);
        }
        Node::Map(entries) => {
            out.push(node_kind::MAP);
            put_len(out, entries.len())?;
            ids(out, entries.as_flattened());
        }
        Node::Array(a) => {
            out.push(node_kind::ARRAY);
            put_u32(out, a.0);
        }
        Node::ObjectArray { order, shape, items } => {
            out.extend([node_kind::OBJECT_ARRAY, order as u8, shape.len() as u8]);
            shape.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            ids(out, items);
        }
        Node::Object { args, state, .. } => {
            out.push(node_kind::OBJECT);
            put_u32(out, string());
            put_u32(out, optional(args));
            put_u32(out, optional(state));
        }
        Node::Global(_) => {
            out.push(node_kind::GLOBAL);
            put_u32(out, string());
        }
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<()> {
    let len = u32::try_from(len)
        .map_err(|_| Error::limit(None, "a string, list or byte string is longer than 2^32-1"))?;
    put_u32(out, len);
    Ok(())
}
