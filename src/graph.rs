//! The object graph: a flat arena of nodes addressed by [`NodeId`].
//!
//! A [`Graph`] is what the metadata section's node table holds: dicts, lists, numbers, strings,
//! array references and typed objects. Children are referenced by index, so a node used twice is
//! a shared reference and cycles are possible; nothing here recurses over a graph from a file.
//!
//! Read nodes with [`Graph::node`], which returns a borrowed [`Node`]. Build graphs by hand with
//! [`Graph::add`] (and [`Graph::reserve`] + [`Graph::set`] for cycles), or convert an acyclic
//! owned [`Value`] tree with [`Graph::from_value`] and back with [`Graph::to_value`].
//!
//! ```
//! use amberfile::{Graph, Node};
//! let mut g = Graph::new();
//! let key = g.add(Node::Str("n_estimators"));
//! let val = g.add(Node::Int(100));
//! let params = g.add(Node::Map(&[[key, val]]));
//! g.set_root(params);
//! assert!(matches!(g.node(params), Node::Map(entries) if entries.len() == 1));
//! assert_eq!(g.map_get(params, "n_estimators").map(|v| g.node(v).as_int()), Some(Some(100)));
//! ```

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::format::Order;
use crate::limits::Limits;

/// Index of a node in a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// Position in the node table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of an entry in a file's array table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArrayId(pub(crate) u32);

impl ArrayId {
    /// Position in the array table.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the array at `index` in a file's array table.
    pub fn from_index(index: u32) -> ArrayId {
        ArrayId(index)
    }
}

/// The four sequence kinds, which share one layout in the node table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqKind {
    /// Python `list`.
    List,
    /// Python `tuple`.
    Tuple,
    /// Python `set`; items in the order stored (the writer chooses it).
    Set,
    /// Python `frozenset`; items in the order stored.
    FrozenSet,
}

/// One node, borrowed from its graph. Also the argument of [`Graph::add`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'g> {
    /// Python `None`.
    None,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// An integer outside i64, as minimal two's-complement little-endian bytes.
    BigInt(&'g [u8]),
    /// A binary64 float, any bit pattern (NaN payloads and signed zeros kept).
    Float(f64),
    /// A complex number: real part, imaginary part.
    Complex(f64, f64),
    /// A UTF-8 string from the string table.
    Str(&'g str),
    /// A byte string.
    Bytes(&'g [u8]),
    /// Python `list` of these nodes.
    List(&'g [NodeId]),
    /// Python `tuple` of these nodes.
    Tuple(&'g [NodeId]),
    /// Python `set` of these nodes, in stored order.
    Set(&'g [NodeId]),
    /// Python `frozenset` of these nodes, in stored order.
    FrozenSet(&'g [NodeId]),
    /// Ordered key/value pairs; a key may be any node.
    Map(&'g [[NodeId; 2]]),
    /// An entry of the array table.
    Array(ArrayId),
    /// An n-d array of nodes (numpy `dtype=object`), items in `order`.
    ObjectArray {
        /// How `items` are laid out over `shape`.
        order: Order,
        /// Dimensions; their product is `items.len()`.
        shape: &'g [u64],
        /// One node per element.
        items: &'g [NodeId],
    },
    /// An instance of a named type, e.g. `sklearn.tree._tree.Tree`: optional constructor
    /// arguments and an optional state. Whether the type may be rebuilt is the reader's policy.
    Object {
        /// Qualified name of the type (`module.Class`).
        type_name: &'g str,
        /// Constructor arguments (usually a tuple), if any.
        args: Option<NodeId>,
        /// State for `__setstate__`, if any.
        state: Option<NodeId>,
    },
    /// A class or function, by qualified name only.
    Global(&'g str),
}

impl<'g> Node<'g> {
    /// The string, if this is a `Str` node.
    pub fn as_str(&self) -> Option<&'g str> {
        match *self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `Int` node.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Node::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The float, if this is a `Float` node.
    pub fn as_float(&self) -> Option<f64> {
        match *self {
            Node::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The bool, if this is a `Bool` node.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Node::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The array, if this is an `Array` node.
    pub fn as_array(&self) -> Option<ArrayId> {
        match *self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The items of a list, tuple, set or frozenset.
    pub fn as_seq(&self) -> Option<&'g [NodeId]> {
        match *self {
            Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a map.
    pub fn as_map(&self) -> Option<&'g [[NodeId; 2]]> {
        match *self {
            Node::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The kind's name as the canonical rendering spells it, e.g. `"frozenset"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Node::None => "none",
            Node::Bool(_) => "bool",
            Node::Int(_) => "int",
            Node::BigInt(_) => "bigint",
            Node::Float(_) => "float",
            Node::Complex(..) => "complex",
            Node::Str(_) => "str",
            Node::Bytes(_) => "bytes",
            Node::List(_) => "list",
            Node::Tuple(_) => "tuple",
            Node::Set(_) => "set",
            Node::FrozenSet(_) => "frozenset",
            Node::Map(_) => "map",
            Node::Array(_) => "array",
            Node::ObjectArray { .. } => "object_array",
            Node::Object { .. } => "object",
            Node::Global(_) => "global",
        }
    }
}

impl Graph {
    /// The value stored under the string key `key` in map node `map` (the first match, as maps
    /// keep their order); `None` if `map` is not a map or has no such key.
    pub fn map_get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        let entries = self.get(map)?.as_map()?;
        entries
            .iter()
            .find(|[k, _]| self.get(*k).and_then(|n| n.as_str()) == Some(key))
            .map(|[_, v]| *v)
    }
}

/// A range in one of the graph's pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// Compact storage of one node; slices live in the graph's pools.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Slot {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Span),
    Float(f64),
    Complex(f64, f64),
    Str(u32),
    Bytes(Span),
    Seq(SeqKind, Span),
    /// The span covers 2 x count ids: key, value, key, value, ...
    Map(Span),
    Array(ArrayId),
    ObjectArray {
        order: Order,
        shape: Span,
        items: Span,
    },
    Object {
        type_name: u32,
        args: Option<NodeId>,
        state: Option<NodeId>,
    },
    Global(u32),
}

/// The string table: every distinct string once, all text in one allocation.
#[derive(Debug, Clone, Default)]
pub(crate) struct StringTable {
    text: String,
    spans: Vec<Span>,
    /// Built on the first insertion, so graphs read from a file pay nothing for it.
    lookup: Option<HashMap<Box<str>, u32>>,
}

impl StringTable {
    /// A table over `text` whose strings are the given byte ranges (already checked to lie on
    /// character boundaries).
    pub(crate) fn from_text(text: String, spans: impl Iterator<Item = std::ops::Range<usize>>) -> Self {
        let spans = spans
            .map(|r| Span {
                start: r.start as u32,
                len: (r.end - r.start) as u32,
            })
            .collect();
        StringTable {
            text,
            spans,
            lookup: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn get(&self, index: u32) -> &str {
        let span = self.spans[index as usize];
        &self.text[span.range()]
    }

    /// Appends without deduplication (the reader keeps the file's table as it is).
    pub(crate) fn push(&mut self, s: &str) -> u32 {
        let index = self.spans.len() as u32;
        self.spans.push(Span {
            start: self.text.len() as u32,
            len: s.len() as u32,
        });
        self.text.push_str(s);
        index
    }

    fn intern(&mut self, s: &str) -> u32 {
        if self.lookup.is_none() {
            let mut lookup = HashMap::with_capacity(self.spans.len());
            for (i, span) in self.spans.iter().enumerate() {
                lookup.entry(self.text[span.range()].into()).or_insert(i as u32);
            }
            self.lookup = Some(lookup);
        }
        if let Some(&index) = self.lookup.as_ref().and_then(|l| l.get(s)) {
            return index;
        }
        let index = self.push(s);
        if let Some(lookup) = self.lookup.as_mut() {
            lookup.insert(s.into(), index);
        }
        index
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|span| &self.text[span.range()])
    }
}

/// An arena of nodes with a root. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    slots: Vec<Slot>,
    pub(crate) strings: StringTable,
    blobs: Vec<u8>,
    ids: Vec<NodeId>,
    dims: Vec<u64>,
    root: Option<NodeId>,
}

impl Graph {
    /// An empty graph. Add nodes, then [`Graph::set_root`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The root node, once set.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// Makes `id` the root.
    pub fn set_root(&mut self, id: NodeId) {
        self.root = Some(id);
    }

    /// The node `id`, or `None` if `id` is not in this graph.
    pub fn get(&self, id: NodeId) -> Option<Node<'_>> {
        self.slots.get(id.index()).map(|slot| self.view(slot))
    }

    /// The node `id`.
    ///
    /// # Panics
    /// If `id` does not belong to this graph. Ids from the graph itself (children, the root,
    /// [`Graph::iter`]) are always valid; use [`Graph::get`] for ids of unknown origin.
    pub fn node(&self, id: NodeId) -> Node<'_> {
        self.view(&self.slots[id.index()])
    }

    /// Every node with its id, in table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (NodeId, Node<'_>)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, slot)| (NodeId(i as u32), self.view(slot)))
    }

    /// The nodes `id` refers to, in table order of its payload (map keys and values alternate;
    /// an object's args come before its state). Arrays are not nodes and are not listed.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let (slice, extra): (&[NodeId], [Option<NodeId>; 2]) = match self.slots.get(id.index()) {
            Some(Slot::Seq(_, span)) | Some(Slot::Map(span)) => (&self.ids[span.range()], [None; 2]),
            Some(Slot::ObjectArray { items, .. }) => (&self.ids[items.range()], [None; 2]),
            Some(Slot::Object { args, state, .. }) => (&[], [*args, *state]),
            _ => (&[], [None; 2]),
        };
        slice.iter().copied().chain(extra.into_iter().flatten())
    }

    /// The string-table index a str, object or global node refers to (for the writer, which
    /// keeps the graph's own table).
    pub(crate) fn string_index(&self, id: NodeId) -> Option<u32> {
        match self.slots.get(id.index())? {
            Slot::Str(s) | Slot::Global(s) => Some(*s),
            Slot::Object { type_name, .. } => Some(*type_name),
            _ => None,
        }
    }

    fn view(&self, slot: &Slot) -> Node<'_> {
        match *slot {
            Slot::None => Node::None,
            Slot::Bool(b) => Node::Bool(b),
            Slot::Int(i) => Node::Int(i),
            Slot::BigInt(span) => Node::BigInt(&self.blobs[span.range()]),
            Slot::Float(f) => Node::Float(f),
            Slot::Complex(re, im) => Node::Complex(re, im),
            Slot::Str(s) => Node::Str(self.strings.get(s)),
            Slot::Bytes(span) => Node::Bytes(&self.blobs[span.range()]),
            Slot::Seq(kind, span) => {
                let items = &self.ids[span.range()];
                match kind {
                    SeqKind::List => Node::List(items),
                    SeqKind::Tuple => Node::Tuple(items),
                    SeqKind::Set => Node::Set(items),
                    SeqKind::FrozenSet => Node::FrozenSet(items),
                }
            }
            Slot::Map(span) => Node::Map(self.ids[span.range()].as_chunks::<2>().0),
            Slot::Array(a) => Node::Array(a),
            Slot::ObjectArray { order, shape, items } => Node::ObjectArray {
                order,
                shape: &self.dims[shape.range()],
                items: &self.ids[items.range()],
            },
            Slot::Object {
                type_name,
                args,
                state,
            } => Node::Object {
                type_name: self.strings.get(type_name),
                args,
                state,
            },
            Slot::Global(name) => Node::Global(self.strings.get(name)),
        }
    }

    /// Adds a node and returns its id. Strings are interned: each distinct string is stored
    /// once. Child ids are checked when the graph is written ([`Graph::validate`]).
    pub fn add(&mut self, node: Node<'_>) -> NodeId {
        let id = NodeId(self.slots.len() as u32);
        let slot = self.store(node);
        self.slots.push(slot);
        id
    }

    /// Adds a placeholder (`None`) node to be replaced with [`Graph::set`]: the way to build
    /// cycles, since a node can then refer to itself or to an ancestor.
    pub fn reserve(&mut self) -> NodeId {
        self.add(Node::None)
    }

    /// Replaces node `id`.
    ///
    /// # Panics
    /// If `id` does not belong to this graph.
    pub fn set(&mut self, id: NodeId, node: Node<'_>) {
        let slot = self.store(node);
        self.slots[id.index()] = slot;
    }

    fn store(&mut self, node: Node<'_>) -> Slot {
        match node {
            Node::None => Slot::None,
            Node::Bool(b) => Slot::Bool(b),
            Node::Int(i) => Slot::Int(i),
            Node::BigInt(bytes) => Slot::BigInt(push_span(&mut self.blobs, bytes)),
            Node::Float(f) => Slot::Float(f),
            Node::Complex(re, im) => Slot::Complex(re, im),
            Node::Str(s) => Slot::Str(self.strings.intern(s)),
            Node::Bytes(bytes) => Slot::Bytes(push_span(&mut self.blobs, bytes)),
            Node::List(items) => Slot::Seq(SeqKind::List, push_span(&mut self.ids, items)),
            Node::Tuple(items) => Slot::Seq(SeqKind::Tuple, push_span(&mut self.ids, items)),
            Node::Set(items) => Slot::Seq(SeqKind::Set, push_span(&mut self.ids, items)),
            Node::FrozenSet(items) => Slot::Seq(SeqKind::FrozenSet, push_span(&mut self.ids, items)),
            Node::Map(entries) => Slot::Map(push_span(&mut self.ids, entries.as_flattened())),
            Node::Array(a) => Slot::Array(a),
            Node::ObjectArray { order, shape, items } => Slot::ObjectArray {
                order,
                shape: push_span(&mut self.dims, shape),
                items: push_span(&mut self.ids, items),
            },
            Node::Object {
                type_name,
                args,
                state,
            } => Slot::Object {
                type_name: self.strings.intern(type_name),
                args,
                state,
            },
            Node::Global(name) => Slot::Global(self.strings.intern(name)),
        }
    }

    /// Checks what the writer needs: a root, child ids inside the graph, array ids below
    /// `array_count`, object-array item counts matching their shapes, and pools that fit the
    /// format's 32-bit counts.
    pub fn validate(&self, array_count: usize) -> Result<()> {
        let bad = |detail: String| Err(Error::invalid_graph(None, detail));
        let Some(root) = self.root else {
            return bad("the graph has no root".into());
        };
        let n = self.slots.len();
        if n > u32::MAX as usize || self.blobs.len() > u32::MAX as usize {
            return bad("the graph is too large for the format's 32-bit counts".into());
        }
        if root.index() >= n {
            return bad(format!("root {} is not a node of this graph", root.0));
        }
        for (i, slot) in self.slots.iter().enumerate() {
            let id = NodeId(i as u32);
            if let Some(child) = self.children(id).find(|c| c.index() >= n) {
                return bad(format!("node {i} refers to missing node {}", child.0));
            }
            match *slot {
                Slot::Array(a) if a.index() >= array_count => {
                    return bad(format!("node {i} refers to missing array {}", a.0));
                }
                Slot::ObjectArray { shape, items, .. } => {
                    let dims = &self.dims[shape.range()];
                    let count = crate::dtype::checked_nbytes(1, dims);
                    if dims.len() > crate::limits::MAX_NDIM || count != Some(u64::from(items.len)) {
                        return bad(format!("object array node {i}: shape does not match items"));
                    }
                }
                Slot::BigInt(span) if !is_canonical_big_int(&self.blobs[span.range()]) => {
                    return bad(format!(
                        "big int node {i} is not minimal two's complement outside i64"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Builds a graph from raw parts; used by the reader, which has validated every index.
    pub(crate) fn from_parts(parts: GraphParts) -> Graph {
        Graph {
            slots: parts.slots,
            strings: parts.strings,
            blobs: parts.blobs,
            ids: parts.ids,
            dims: parts.dims,
            root: Some(parts.root),
        }
    }
}

fn push_span<T: Copy>(pool: &mut Vec<T>, items: &[T]) -> Span {
    let span = Span {
        start: pool.len() as u32,
        len: items.len() as u32,
    };
    pool.extend_from_slice(items);
    span
}

/// True if `bytes` is the minimal two's-complement encoding of an integer outside i64, the only
/// form the spec allows for big ints.
pub(crate) fn is_canonical_big_int(bytes: &[u8]) -> bool {
    let [.., second_last, last] = bytes else {
        return false;
    };
    // Minimal: the top byte is not pure sign extension of the byte below it.
    let redundant = (*last == 0x00 && second_last & 0x80 == 0) || (*last == 0xff && second_last & 0x80 != 0);
    bytes.len() > 8 && !redundant
}

/// Raw parts the metadata parser fills in; it has range-checked every index it stores.
#[derive(Default)]
pub(crate) struct GraphParts {
    pub(crate) slots: Vec<Slot>,
    pub(crate) strings: StringTable,
    blobs: Vec<u8>,
    ids: Vec<NodeId>,
    dims: Vec<u64>,
    pub(crate) root: NodeId,
}

impl GraphParts {
    pub(crate) fn with_capacity(nodes: usize) -> Self {
        GraphParts {
            slots: Vec::with_capacity(nodes),
            ..Default::default()
        }
    }

    pub(crate) fn blob(&mut self, bytes: &[u8]) -> Span {
        push_span(&mut self.blobs, bytes)
    }

    /// Stores little-endian u32 node ids.
    pub(crate) fn ids_le(&mut self, raw: &[u8]) -> Span {
        let start = self.ids.len() as u32;
        self.ids.extend(raw.chunks_exact(4).map(|c| NodeId(le_u32(c))));
        Span {
            start,
            len: self.ids.len() as u32 - start,
        }
    }

    /// Stores little-endian u64 dimensions.
    pub(crate) fn dims_le(&mut self, raw: &[u8]) -> Span {
        let start = self.dims.len() as u32;
        self.dims.extend(raw.chunks_exact(8).map(le_u64));
        Span {
            start,
            len: self.dims.len() as u32 - start,
        }
    }
}

pub(crate) fn le_u32(bytes: &[u8]) -> u32 {
    bytes.first_chunk().map_or(0, |b| u32::from_le_bytes(*b))
}

pub(crate) fn le_u64(bytes: &[u8]) -> u64 {
    bytes.first_chunk().map_or(0, |b| u64::from_le_bytes(*b))
}

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
        match i64::try_from(v) {
            Ok(small) => Value::Int(small),
            Err(_) => {
                let mut bytes = v.to_le_bytes().to_vec();
                while bytes.len() > 9 {
                    let last = bytes[bytes.len() - 1];
                    let below = bytes[bytes.len() - 2];
                    let redundant = (last == 0 && below & 0x80 == 0) || (last == 0xff && below & 0x80 != 0);
                    if !redundant {
                        break;
                    }
                    bytes.pop();
                }
                Value::BigInt(bytes)
            }
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
            on_path: vec![false; self.slots.len()],
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
            Value::List(items) => {
                let ids = self.add_values(items);
                self.add(Node::List(&ids))
            }
            Value::Tuple(items) => {
                let ids = self.add_values(items);
                self.add(Node::Tuple(&ids))
            }
            Value::Set(items) => {
                let ids = self.add_values(items);
                self.add(Node::Set(&ids))
            }
            Value::FrozenSet(items) => {
                let ids = self.add_values(items);
                self.add(Node::FrozenSet(&ids))
            }
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
    fn strings_are_interned_once() {
        let mut g = Graph::new();
        let a = g.add(Node::Str("coef_"));
        let b = g.add(Node::Str("coef_"));
        assert_ne!(a, b);
        assert_eq!(g.strings.len(), 1);
        assert_eq!(g.node(b), Node::Str("coef_"));
    }

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

    #[test]
    fn big_ints_must_be_minimal_and_outside_i64() {
        assert!(!is_canonical_big_int(&[1, 0, 0, 0, 0, 0, 0, 0]));
        assert!(is_canonical_big_int(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0]));
        assert!(!is_canonical_big_int(&[0, 0, 0, 0, 0, 0, 0, 0x10, 0]));
        assert_eq!(
            Value::from_i128(-(1 << 64)),
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 0xff])
        );
    }
}
