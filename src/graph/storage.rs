//! How a [`Graph`] keeps its nodes: one compact [`Slot`] per node, with every variable-length
//! payload (strings, bytes, child ids, dimensions) in a few shared pools.
//!
//! Nothing outside `graph/` sees the pools. The public side borrows nodes as [`Node`]s; the
//! metadata reader fills a [`GraphBuilder`] and the writer reads [`Graph::strings`].

use std::collections::HashMap;
use std::ops::Range;

use super::{ArrayId, Graph, Node, NodeId, SeqKind};
use crate::format::Order;

/// A range in one of the graph's pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> Range<usize> {
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
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn get(&self, index: u32) -> &str {
        let span = self.spans[index as usize];
        &self.text[span.range()]
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.spans.iter().map(|span| &self.text[span.range()])
    }

    /// Appends without deduplication.
    fn push(&mut self, s: &str) -> u32 {
        let index = self.spans.len() as u32;
        self.spans.push(Span {
            start: self.text.len() as u32,
            len: s.len() as u32,
        });
        self.text.push_str(s);
        index
    }

    /// The index of `s`, appended if the table does not hold it yet.
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
}

/// The children of one node, in payload order: a run of the id pool, then an object's args
/// and state.
pub(super) type ChildIds<'g> = std::iter::Chain<
    std::iter::Copied<std::slice::Iter<'g, NodeId>>,
    std::iter::Flatten<std::array::IntoIter<Option<NodeId>, 2>>,
>;

/// The slots and the pools their spans point into.
#[derive(Debug, Clone, Default)]
pub(super) struct Storage {
    slots: Vec<Slot>,
    strings: StringTable,
    blobs: Vec<u8>,
    ids: Vec<NodeId>,
    dims: Vec<u64>,
}

impl Storage {
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The longest pool: spans hold 32-bit offsets, so past `u32::MAX` one may have wrapped.
    /// Pools only grow, so a graph whose longest pool fits has no wrapped span.
    pub(super) fn longest_pool(&self) -> usize {
        let pools = [
            self.slots.len(),
            self.strings.spans.len(),
            self.strings.text.len(),
            self.blobs.len(),
            self.ids.len(),
            self.dims.len(),
        ];
        pools.into_iter().max().unwrap_or(0)
    }

    pub(super) fn strings(&self) -> &StringTable {
        &self.strings
    }

    pub(super) fn get(&self, index: usize) -> Option<Node<'_>> {
        self.slots.get(index).map(|slot| self.view(slot))
    }

    /// # Panics
    /// If `index` is not below [`Storage::len`].
    pub(super) fn node(&self, index: usize) -> Node<'_> {
        self.view(&self.slots[index])
    }

    pub(super) fn nodes(&self) -> impl ExactSizeIterator<Item = Node<'_>> + '_ {
        self.slots.iter().map(|slot| self.view(slot))
    }

    /// The children of node `index`; none if there is no such node.
    pub(super) fn child_ids(&self, index: usize) -> ChildIds<'_> {
        let (run, pair): (&[NodeId], [Option<NodeId>; 2]) = match self.slots.get(index) {
            Some(Slot::Seq(_, span)) | Some(Slot::Map(span)) => (&self.ids[span.range()], [None; 2]),
            Some(Slot::ObjectArray { items, .. }) => (&self.ids[items.range()], [None; 2]),
            Some(Slot::Object { args, state, .. }) => (&[], [*args, *state]),
            _ => (&[], [None; 2]),
        };
        run.iter().copied().chain(pair.into_iter().flatten())
    }

    /// The string-table index a str, object or global node refers to.
    pub(super) fn string_index(&self, index: usize) -> Option<u32> {
        match self.slots.get(index)? {
            Slot::Str(s) | Slot::Global(s) => Some(*s),
            Slot::Object { type_name, .. } => Some(*type_name),
            _ => None,
        }
    }

    pub(super) fn push(&mut self, node: Node<'_>) {
        let slot = self.store(node);
        self.slots.push(slot);
    }

    /// # Panics
    /// If `index` is not below [`Storage::len`].
    pub(super) fn replace(&mut self, index: usize, node: Node<'_>) {
        let slot = self.store(node);
        self.slots[index] = slot;
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
            Slot::Seq(kind, span) => Node::seq(kind, &self.ids[span.range()]),
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
}

fn push_span<T: Copy>(pool: &mut Vec<T>, items: &[T]) -> Span {
    let span = Span {
        start: pool.len() as u32,
        len: items.len() as u32,
    };
    pool.extend_from_slice(items);
    span
}

/// Extends `pool` with what `items` yields and returns the span it took.
fn extend_span<T>(pool: &mut Vec<T>, items: impl Iterator<Item = T>) -> Span {
    let start = pool.len() as u32;
    pool.extend(items);
    Span {
        start,
        len: pool.len() as u32 - start,
    }
}

/// The graph as the metadata reader fills it, table by table. The reader has range-checked
/// every index it stores, so [`GraphBuilder::finish`] checks nothing.
#[derive(Default)]
pub(crate) struct GraphBuilder {
    storage: Storage,
}

impl GraphBuilder {
    /// Takes the file's string table as it is (no deduplication): `text` with the strings at
    /// the given byte ranges, already checked to lie on character boundaries.
    pub(crate) fn set_strings(&mut self, text: String, spans: impl Iterator<Item = Range<usize>>) {
        let spans = spans
            .map(|r| Span {
                start: r.start as u32,
                len: (r.end - r.start) as u32,
            })
            .collect();
        self.storage.strings = StringTable {
            text,
            spans,
            lookup: None,
        };
    }

    pub(crate) fn strings(&self) -> &StringTable {
        &self.storage.strings
    }

    /// Makes room for `count` nodes (a count the remaining bytes have been checked to back).
    pub(crate) fn reserve_nodes(&mut self, count: usize) {
        self.storage.slots.reserve_exact(count);
    }

    pub(crate) fn push_node(&mut self, slot: Slot) {
        self.storage.slots.push(slot);
    }

    /// Stores the payload of a big int or byte string.
    pub(crate) fn blob(&mut self, bytes: &[u8]) -> Span {
        push_span(&mut self.storage.blobs, bytes)
    }

    /// Stores little-endian u32 node ids.
    pub(crate) fn ids_le(&mut self, raw: &[u8]) -> Span {
        let ids = raw.as_chunks::<4>().0.iter();
        extend_span(
            &mut self.storage.ids,
            ids.map(|id| NodeId(u32::from_le_bytes(*id))),
        )
    }

    /// Stores little-endian u64 dimensions.
    pub(crate) fn dims_le(&mut self, raw: &[u8]) -> Span {
        let dims = raw.as_chunks::<8>().0.iter();
        extend_span(&mut self.storage.dims, dims.map(|dim| u64::from_le_bytes(*dim)))
    }

    /// The finished graph with its root.
    pub(crate) fn finish(self, root: NodeId) -> Graph {
        Graph {
            storage: self.storage,
            root: Some(root),
        }
    }
}
