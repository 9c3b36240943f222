//! The node table (spec 6.6): each node of the graph as its kind byte and payload.

use crate::error::Result;
use crate::format::{node_kind, NO_NODE};
use crate::graph::{Graph, Node, NodeId};
use crate::write::encode::{put_len, put_u32};

pub(super) fn encode_node_table(out: &mut Vec<u8>, graph: &Graph) -> Result<()> {
    for (id, node) in graph.iter() {
        encode_node(out, graph, id, node)?;
    }
    Ok(())
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
