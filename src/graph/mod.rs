//! The object graph: a flat arena of nodes addressed by [`NodeId`].
//!
//! A [`Graph`] is what the metadata section's node table holds: dicts, lists, numbers, strings,
//! array references and typed objects. Children are referenced by index, so a node used twice is
//! a shared reference and cycles are possible; nothing here recurses over a graph from a file.
//!
//! Read nodes with [`Graph::node`], which returns a borrowed [`Node`]. Build graphs by hand with
//! [`Graph::add`] (and [`Graph::reserve`] + [`Graph::set`] for cycles), or convert an acyclic
//! owned [`Value`] tree with [`Graph::from_value`] and back with [`Graph::to_value`]. To look
//! at everything a root reaches, use the walks ([`Graph::reachable`], [`Graph::incoming_counts`],
//! [`Graph::arrays_reachable`], [`Graph::type_names`], [`Graph::str_keyed_map`]) rather than
//! a recursion of your own: they are cycle-safe and need no call stack.
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
//! assert_eq!(g.reachable(params).count(), 3);
//! ```
//!
//! # Where things live
//!
//! - this file: the public arena ([`Graph`], [`Node`], [`NodeId`], [`ArrayId`], [`SeqKind`]);
//! - `storage.rs`: how nodes are kept (compact slots, pools, the string table) and the
//!   builder the metadata reader fills; nothing outside `graph/` sees the pools;
//! - `value.rs`: the owned [`Value`] tree and its conversions;
//! - `rules.rs`: what a graph must satisfy to be written ([`Graph::validate`]) and the big-int
//!   rule the reader shares;
//! - `walk.rs`: traversals from a root;
//! - `path.rs`: the path syntax that names one node (`estimators_/3/tree_/nodes`).

pub mod path;
mod rules;
mod storage;
mod value;
mod walk;

pub(crate) use rules::is_canonical_big_int;
pub(crate) use storage::{GraphBuilder, Slot, StringTable};
pub use value::Value;
pub use walk::{KeyProblem, Reachable, StrEntry, StrKeyedEntries};

use crate::format::Order;
use storage::Storage;

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
    /// The sequence node of `kind` over `items`.
    pub(crate) fn seq(kind: SeqKind, items: &'g [NodeId]) -> Node<'g> {
        match kind {
            SeqKind::List => Node::List(items),
            SeqKind::Tuple => Node::Tuple(items),
            SeqKind::Set => Node::Set(items),
            SeqKind::FrozenSet => Node::FrozenSet(items),
        }
    }

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

/// An arena of nodes with a root. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    storage: Storage,
    root: Option<NodeId>,
}

impl Graph {
    /// An empty graph. Add nodes, then [`Graph::set_root`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.storage.len()
    }

    /// True if the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        self.storage.get(id.index())
    }

    /// The node `id`.
    ///
    /// # Panics
    /// If `id` does not belong to this graph. Ids from the graph itself (children, the root,
    /// [`Graph::iter`]) are always valid; use [`Graph::get`] for ids of unknown origin.
    pub fn node(&self, id: NodeId) -> Node<'_> {
        self.storage.node(id.index())
    }

    /// Every node with its id, in table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (NodeId, Node<'_>)> + '_ {
        self.storage
            .nodes()
            .enumerate()
            .map(|(i, node)| (NodeId(i as u32), node))
    }

    /// The nodes `id` refers to, in table order of its payload (map keys and values alternate;
    /// an object's args come before its state). Arrays are not nodes and are not listed.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.storage.child_ids(id.index())
    }

    /// The string-table index a str, object or global node refers to (for the writer, which
    /// keeps the graph's own table).
    pub(crate) fn string_index(&self, id: NodeId) -> Option<u32> {
        self.storage.string_index(id.index())
    }

    /// The string table in index order, as the writer stores it.
    pub(crate) fn strings(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.storage.strings().iter()
    }

    /// Adds a node and returns its id. Strings are interned: each distinct string is stored
    /// once. Child ids are checked when the graph is written ([`Graph::validate`]).
    pub fn add(&mut self, node: Node<'_>) -> NodeId {
        let id = NodeId(self.len() as u32);
        self.storage.push(node);
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
        self.storage.replace(id.index(), node);
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
        assert_eq!(g.strings().len(), 1);
        assert_eq!(g.node(b), Node::Str("coef_"));
    }
}
