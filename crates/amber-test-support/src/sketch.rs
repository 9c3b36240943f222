//! A graph described node by node, for generated tests (the property tests, the fuzz model).
//!
//! A child is a reference `R` (a proptest `Index`, a fuzzer's `u16`) that picks one of the
//! nodes once they all exist, so shared references, self references and cycles come freely.
//! A node without children is the library's own [`Value`] of it, built by `Graph::from_value`.

use std::borrow::Borrow;

use amberfile::{ArrayId, Graph, Node, NodeId, Order, SeqKind, Value};

/// One node to build; its children are references into the sketch's node list.
#[derive(Debug, Clone)]
pub enum NodeSketch<R> {
    /// A node without children: `None`, a number, a string, bytes or a global.
    Leaf(Value),
    Seq(SeqKind, Vec<R>),
    Map(Vec<(R, R)>),
    /// A reference into the file's arrays rather than its nodes.
    Array(R),
    ObjectArray {
        order: Order,
        shape: Vec<u64>,
        items: Vec<R>,
    },
    Object {
        type_name: String,
        args: Option<R>,
        state: Option<R>,
    },
}

/// Builds the graph of `nodes` (at least one) with `Graph::reserve` + `Graph::set`, so node `i`
/// of the sketch is node `i` of the graph and any node may refer to any other.
///
/// `pick(r, len)` is the index among `len` nodes (or arrays) that `r` picks;
/// `without_arrays(r)` is the leaf an `Array(r)` becomes when `arrays` is empty.
pub fn build_graph<R>(
    nodes: &[impl Borrow<NodeSketch<R>>],
    root: &R,
    arrays: &[ArrayId],
    pick: impl Fn(&R, usize) -> usize,
    without_arrays: impl Fn(&R) -> Value,
) -> Graph {
    let mut graph = Graph::new();
    let ids: Vec<NodeId> = nodes.iter().map(|_| graph.reserve()).collect();
    let id = |r: &R| ids[pick(r, ids.len())];
    let ids_of = |items: &[R]| items.iter().map(id).collect::<Vec<_>>();
    for (&slot, sketch) in ids.iter().zip(nodes) {
        match sketch.borrow() {
            NodeSketch::Leaf(value) => set_leaf(&mut graph, slot, value),
            NodeSketch::Array(r) if arrays.is_empty() => set_leaf(&mut graph, slot, &without_arrays(r)),
            NodeSketch::Array(r) => graph.set(slot, Node::Array(arrays[pick(r, arrays.len())])),
            NodeSketch::Seq(kind, items) => {
                let items = ids_of(items);
                let node = match kind {
                    SeqKind::List => Node::List(&items),
                    SeqKind::Tuple => Node::Tuple(&items),
                    SeqKind::Set => Node::Set(&items),
                    SeqKind::FrozenSet => Node::FrozenSet(&items),
                };
                graph.set(slot, node);
            }
            NodeSketch::Map(entries) => {
                let pairs: Vec<[NodeId; 2]> = entries.iter().map(|(k, v)| [id(k), id(v)]).collect();
                graph.set(slot, Node::Map(&pairs));
            }
            NodeSketch::ObjectArray { order, shape, items } => {
                let items = ids_of(items);
                let node = Node::ObjectArray {
                    order: *order,
                    shape,
                    items: &items,
                };
                graph.set(slot, node);
            }
            NodeSketch::Object {
                type_name,
                args,
                state,
            } => {
                let node = Node::Object {
                    type_name,
                    args: args.as_ref().map(id),
                    state: state.as_ref().map(id),
                };
                graph.set(slot, node);
            }
        }
    }
    graph.set_root(id(root));
    graph
}

/// Sets `slot` to the node of a childless `value`, converted by the library.
fn set_leaf(graph: &mut Graph, slot: NodeId, value: &Value) {
    let leaf = Graph::from_value(value);
    assert_eq!(leaf.len(), 1, "a sketch leaf has no children: {value:?}");
    let root = leaf.root().and_then(|root| leaf.get(root));
    graph.set(slot, root.expect("from_value sets its root"));
}
