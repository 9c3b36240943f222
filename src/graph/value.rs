//! The owned [`Value`] tree and its conversions to and from a [`Graph`].

use super::rules::canonical_big_int;
use super::{ArrayId, Graph, Node, NodeId, SeqKind};
use crate::error::{Error, Result};
use crate::format::Order;
use crate::limits::Limits;

/// An owned tree of values: the convenient form of an acyclic graph.
///
/// Shared references become copies, so converting a graph with sharing can take more nodes than
/// the graph has; [`Limits::max_value_nodes`] and [`Limits::max_value_bytes`] bound that.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None`.
    None,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// Minimal two's-complement little-endian bytes of an integer outside i64.
    BigInt(Vec<u8>),
    /// A binary64 float, any bit pattern.
    Float(f64),
    /// A complex number: real part, imaginary part.
    Complex(f64, f64),
    /// A string.
    Str(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// Python `list`.
    List(Vec<Value>),
    /// Python `tuple`.
    Tuple(Vec<Value>),
    /// Python `set`, in stored order.
    Set(Vec<Value>),
    /// Python `frozenset`, in stored order.
    FrozenSet(Vec<Value>),
    /// Ordered key/value pairs; keys may be any value.
    Map(Vec<(Value, Value)>),
    /// An entry of the array table; its data stays in the file.
    Array(ArrayId),
    /// An n-d array of values (numpy `dtype=object`).
    ObjectArray {
        /// How `items` are laid out over `shape`.
        order: Order,
        /// Dimensions; their product is `items.len()`.
        shape: Vec<u64>,
        /// One value per element.
        items: Vec<Value>,
    },
    /// An instance of a named type: see [`Node::Object`].
    Object {
        /// Qualified name of the type (`module.Class`).
        type_name: String,
        /// Constructor arguments, if any.
        args: Option<Box<Value>>,
        /// State for `__setstate__`, if any.
        state: Option<Box<Value>>,
    },
    /// A class or function, by qualified name only.
    Global(String),
}

impl Value {
    /// An integer of any size: `Int` when it fits in i64, otherwise a canonical `BigInt`.
    pub fn from_i128(v: i128) -> Value {
        match canonical_big_int(v) {
            Some(bytes) => Value::BigInt(bytes),
            None => Value::Int(v as i64),
        }
    }
}

impl Graph {
    /// Converts the subgraph under `id` to an owned tree.
    ///
    /// Fails with `InvalidGraph` on a cycle, and with `LimitExceeded` when the tree would be
    /// deeper than [`Limits::max_value_depth`], larger than [`Limits::max_value_nodes`], or
    /// would copy more than [`Limits::max_value_bytes`] of payload.
    pub fn to_value(&self, id: NodeId, limits: &Limits) -> Result<Value> {
        let mut state = ToValue {
            graph: self,
            limits,
            produced: 0,
            copied_bytes: 0,
            on_path: vec![false; self.len()],
        };
        state.convert(id, 0)
    }

    /// Builds a graph whose root is the conversion of `value`. Each distinct string is stored
    /// once; no other sharing is introduced.
    pub fn from_value(value: &Value) -> Graph {
        let mut graph = Graph::new();
        let root = graph.add_value(value);
        graph.set_root(root);
        graph
    }

    /// Adds `value` and everything under it; returns the id of its top node.
    pub fn add_value(&mut self, value: &Value) -> NodeId {
        match value {
            Value::None => self.add(Node::None),
            Value::Bool(b) => self.add(Node::Bool(*b)),
            Value::Int(i) => self.add(Node::Int(*i)),
            Value::BigInt(bytes) => self.add(Node::BigInt(bytes)),
            Value::Float(f) => self.add(Node::Float(*f)),
            Value::Complex(re, im) => self.add(Node::Complex(*re, *im)),
            Value::Str(s) => self.add(Node::Str(s)),
            Value::Bytes(b) => self.add(Node::Bytes(b)),
            Value::List(items) => self.add_seq(SeqKind::List, items),
            Value::Tuple(items) => self.add_seq(SeqKind::Tuple, items),
            Value::Set(items) => self.add_seq(SeqKind::Set, items),
            Value::FrozenSet(items) => self.add_seq(SeqKind::FrozenSet, items),
            Value::Map(entries) => {
                let pairs: Vec<[NodeId; 2]> = entries
                    .iter()
                    .map(|(k, v)| [self.add_value(k), self.add_value(v)])
                    .collect();
                self.add(Node::Map(&pairs))
            }
            Value::Array(a) => self.add(Node::Array(*a)),
            Value::ObjectArray { order, shape, items } => {
                let ids = self.add_values(items);
                self.add(Node::ObjectArray {
                    order: *order,
                    shape,
                    items: &ids,
                })
            }
            Value::Object {
                type_name,
                args,
                state,
            } => {
                let args = args.as_deref().map(|v| self.add_value(v));
                let state = state.as_deref().map(|v| self.add_value(v));
                self.add(Node::Object {
                    type_name,
                    args,
                    state,
                })
            }
            Value::Global(name) => self.add(Node::Global(name)),
        }
    }

    fn add_values(&mut self, items: &[Value]) -> Vec<NodeId> {
        items.iter().map(|v| self.add_value(v)).collect()
    }

    fn add_seq(&mut self, kind: SeqKind, items: &[Value]) -> NodeId {
        let ids = self.add_values(items);
        self.add(Node::seq(kind, &ids))
    }
}

struct ToValue<'g> {
    graph: &'g Graph,
    limits: &'g Limits,
    produced: u64,
    copied_bytes: u64,
    on_path: Vec<bool>,
}

impl ToValue<'_> {
    fn convert(&mut self, id: NodeId, depth: u32) -> Result<Value> {
        let node = self
            .graph
            .get(id)
            .ok_or_else(|| Error::invalid_graph(None, format!("node {} is not in the graph", id.0)))?;
        if self.on_path[id.index()] {
            return Err(Error::invalid_graph(
                None,
                format!("node {} is part of a cycle", id.0),
            ));
        }
        if depth >= self.limits.max_value_depth {
            return Err(Error::limit(
                None,
                format!("value tree deeper than {}", self.limits.max_value_depth),
            ));
        }
        self.produced += 1;
        if self.produced > self.limits.max_value_nodes {
            return Err(Error::limit(
                None,
                format!("value tree larger than {} nodes", self.limits.max_value_nodes),
            ));
        }
        self.copy_budget(payload_bytes(node))?;
        self.on_path[id.index()] = true;
        let seq = |this: &mut Self, items: &[NodeId]| -> Result<Vec<Value>> {
            items.iter().map(|&c| this.convert(c, depth + 1)).collect()
        };
        let value = match node {
            Node::None => Value::None,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Int(i),
            Node::BigInt(b) => Value::BigInt(b.to_vec()),
            Node::Float(f) => Value::Float(f),
            Node::Complex(re, im) => Value::Complex(re, im),
            Node::Str(s) => Value::Str(s.to_owned()),
            Node::Bytes(b) => Value::Bytes(b.to_vec()),
            Node::List(items) => Value::List(seq(self, items)?),
            Node::Tuple(items) => Value::Tuple(seq(self, items)?),
            Node::Set(items) => Value::Set(seq(self, items)?),
            Node::FrozenSet(items) => Value::FrozenSet(seq(self, items)?),
            Node::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|&[k, v]| Ok((self.convert(k, depth + 1)?, self.convert(v, depth + 1)?)))
                    .collect::<Result<_>>()?,
            ),
            Node::Array(a) => Value::Array(a),
            Node::ObjectArray { order, shape, items } => Value::ObjectArray {
                order,
                shape: shape.to_vec(),
                items: seq(self, items)?,
            },
            Node::Object {
                type_name,
                args,
                state,
            } => Value::Object {
                type_name: type_name.to_owned(),
                args: args
                    .map(|a| self.convert(a, depth + 1).map(Box::new))
                    .transpose()?,
                state: state
                    .map(|s| self.convert(s, depth + 1).map(Box::new))
                    .transpose()?,
            },
            Node::Global(name) => Value::Global(name.to_owned()),
        };
        self.on_path[id.index()] = false;
        Ok(value)
    }

    fn copy_budget(&mut self, bytes: usize) -> Result<()> {
        self.copied_bytes = self.copied_bytes.saturating_add(bytes as u64);
        if self.copied_bytes > self.limits.max_value_bytes {
            return Err(Error::limit(
                None,
                format!(
                    "value tree copies more than {} bytes of strings, bytes and big ints",
                    self.limits.max_value_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// The bytes a node's value copies out of the graph (its own payload, not its children's).
fn payload_bytes(node: Node<'_>) -> usize {
    match node {
        Node::Str(s) | Node::Global(s) | Node::Object { type_name: s, .. } => s.len(),
        Node::BigInt(b) | Node::Bytes(b) => b.len(),
        Node::ObjectArray { shape, .. } => shape.len() * 8,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_built_with_reserve_and_rejected_by_to_value() {
        let mut g = Graph::new();
        let list = g.reserve();
        g.set(list, Node::List(&[list]));
        g.set_root(list);
        assert_eq!(g.children(list).collect::<Vec<_>>(), vec![list]);
        let err = g.to_value(list, &Limits::default()).unwrap_err();
        assert_eq!(err.class(), "InvalidGraph");
    }

    #[test]
    #[cfg_attr(miri, ignore = "expands a million Value nodes: hours under Miri")]
    fn shared_references_expand_within_the_value_budget() {
        // A chain where each node refers to the next twice: 2^40 tree nodes from 41 graph nodes.
        let mut g = Graph::new();
        let mut prev = g.add(Node::None);
        for _ in 0..40 {
            prev = g.add(Node::List(&[prev, prev]));
        }
        let err = g.to_value(prev, &Limits::default()).unwrap_err();
        assert_eq!(err.class(), "LimitExceeded");
    }

    #[test]
    fn value_round_trips_through_a_graph() {
        let value = Value::Map(vec![
            (
                Value::Str("a".into()),
                Value::List(vec![Value::Int(1), Value::from_i128(1 << 70)]),
            ),
            (
                Value::Int(7),
                Value::Object {
                    type_name: "sklearn.linear_model.LinearRegression".into(),
                    args: None,
                    state: Some(Box::new(Value::Global("numpy.float64".into()))),
                },
            ),
        ]);
        let g = Graph::from_value(&value);
        g.validate(0).unwrap();
        assert_eq!(g.to_value(g.root().unwrap(), &Limits::default()).unwrap(), value);
    }
}
