//! Traversals of a graph: what a root reaches, how often each node is referred to, and the
//! shapes callers look for (arrays, type names, a map keyed by strings).
//!
//! Graphs from files may be cyclic, shared and deep, so nothing here recurses: every walk is
//! [`Graph::reachable`], which keeps one seen-flag per node and a stack no deeper than the node
//! count. Ids that are not nodes of the graph (possible only in a hand-built graph that
//! [`Graph::validate`] would reject) are passed over.

use std::collections::HashSet;

use super::storage::ChildIds;
use super::{ArrayId, Graph, Node, NodeId};

/// The nodes a root reaches, each once, depth-first in preorder: a node, then everything its
/// first child reaches, then its second child, and so on. See [`Graph::reachable`].
pub struct Reachable<'g> {
    graph: &'g Graph,
    seen: Vec<bool>,
    /// The root, until it is yielded.
    start: Option<NodeId>,
    /// The children still to try of each node on the current path.
    path: Vec<ChildIds<'g>>,
}

impl Iterator for Reachable<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if let Some(root) = self.start.take() {
            self.path.push(self.graph.storage.child_ids(root.index()));
            return Some(root);
        }
        while let Some(children) = self.path.last_mut() {
            let Some(child) = children.next() else {
                self.path.pop();
                continue;
            };
            if let Some(seen @ false) = self.seen.get_mut(child.index()) {
                *seen = true;
                self.path.push(self.graph.storage.child_ids(child.index()));
                return Some(child);
            }
        }
        None
    }
}

/// One entry of a map whose keys are strings; see [`Graph::str_keyed_map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrEntry<'g> {
    /// The key's node.
    pub key: NodeId,
    /// The key's text.
    pub name: &'g str,
    /// The value's node.
    pub value: NodeId,
}

/// Why a map entry ends a [`StrKeyedEntries`] walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem<'g> {
    /// The key at this node is not a string (or, in an unvalidated graph, not a node at all).
    NotStr(NodeId),
    /// The key repeats the text of an earlier key.
    Repeated(&'g str),
}

/// The entries of a map as [`StrEntry`]s, in stored order, until the first key that is not a
/// string or repeats an earlier one: that entry yields its [`KeyProblem`] and ends the walk.
pub struct StrKeyedEntries<'g> {
    graph: &'g Graph,
    entries: std::slice::Iter<'g, [NodeId; 2]>,
    names: HashSet<&'g str>,
}

impl<'g> Iterator for StrKeyedEntries<'g> {
    type Item = Result<StrEntry<'g>, KeyProblem<'g>>;

    fn next(&mut self) -> Option<Self::Item> {
        let &[key, value] = self.entries.next()?;
        let problem = match self.graph.get(key) {
            Some(Node::Str(name)) if self.names.insert(name) => {
                return Some(Ok(StrEntry { key, name, value }))
            }
            Some(Node::Str(name)) => KeyProblem::Repeated(name),
            _ => KeyProblem::NotStr(key),
        };
        self.entries = [].iter();
        Some(Err(problem))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.entries.len()))
    }
}

impl Graph {
    /// Every node `root` reaches, itself first, each once (shared nodes and cycles included),
    /// depth-first in preorder. Nothing if `root` is not a node of this graph.
    pub fn reachable(&self, root: NodeId) -> Reachable<'_> {
        let mut seen = vec![false; self.len()];
        let start = seen.get_mut(root.index()).map(|seen| {
            *seen = true;
            root
        });
        Reachable {
            graph: self,
            seen,
            start,
            path: Vec::new(),
        }
    }

    /// For each node (indexed by [`NodeId::index`]), how many references it gets from the
    /// nodes `root` reaches: a child listed twice by one parent counts twice, and `root` counts
    /// only the references it gets back. Counts saturate at `u32::MAX`.
    pub fn incoming_counts(&self, root: NodeId) -> Vec<u32> {
        self.count_references(self.reachable(root))
    }

    /// Like [`Graph::incoming_counts`], but counting the references from every node of the
    /// table, including nodes no root reaches.
    pub fn table_incoming_counts(&self) -> Vec<u32> {
        self.count_references((0..self.len()).map(|i| NodeId(i as u32)))
    }

    fn count_references(&self, parents: impl Iterator<Item = NodeId>) -> Vec<u32> {
        let mut counts = vec![0u32; self.len()];
        for parent in parents {
            for child in self.children(parent) {
                if let Some(count) = counts.get_mut(child.index()) {
                    *count = count.saturating_add(1);
                }
            }
        }
        counts
    }

    /// The arrays that the nodes `root` reaches refer to, each once, in the order
    /// [`Graph::reachable`] first meets them.
    pub fn arrays_reachable(&self, root: NodeId) -> Vec<ArrayId> {
        let mut seen = HashSet::new();
        self.reachable(root)
            .filter_map(|id| self.node(id).as_array())
            .filter(|&array| seen.insert(array))
            .collect()
    }

    /// The distinct type names of the object and global nodes `root` reaches, in the order
    /// [`Graph::reachable`] first meets them.
    pub fn type_names(&self, root: NodeId) -> Vec<&str> {
        // Many nodes name one entry of the string table: each entry's text is compared once.
        let mut entry_seen = vec![false; self.storage.strings().len()];
        let mut names = Vec::new();
        let mut distinct = HashSet::new();
        for id in self.reachable(root) {
            let name = match self.node(id) {
                Node::Object { type_name, .. } => type_name,
                Node::Global(name) => name,
                _ => continue,
            };
            // Object and global nodes always name an entry of the table.
            let Some(entry) = self.storage.string_index(id.index()) else {
                continue;
            };
            if !std::mem::replace(&mut entry_seen[entry as usize], true) && distinct.insert(name) {
                names.push(name);
            }
        }
        names
    }

    /// The entries of map node `id` as a map keyed by strings, or `None` if `id` is not a map.
    /// A key that is not a string, or repeats an earlier key, ends the entries with the problem.
    pub fn str_keyed_map(&self, id: NodeId) -> Option<StrKeyedEntries<'_>> {
        let entries = self.get(id)?.as_map()?;
        Some(StrKeyedEntries {
            graph: self,
            entries: entries.iter(),
            names: HashSet::with_capacity(entries.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// root -> [a, shared, shared], a -> [shared], shared -> [root] (a cycle back).
    fn shared_cycle() -> (Graph, [NodeId; 3]) {
        let mut g = Graph::new();
        let root = g.reserve();
        let shared = g.add(Node::Tuple(&[root]));
        let a = g.add(Node::List(&[shared]));
        g.set(root, Node::List(&[a, shared, shared]));
        g.set_root(root);
        (g, [root, a, shared])
    }

    /// A list chain of `n` nodes, each holding the next: deeper than any call stack allows.
    fn chain(n: u32) -> Graph {
        let mut g = Graph::new();
        let mut next = g.add(Node::None);
        for _ in 1..n {
            next = g.add(Node::List(&[next]));
        }
        g.set_root(next);
        g
    }

    #[test]
    fn reachable_visits_each_node_once_in_preorder() {
        let (g, [root, a, shared]) = shared_cycle();
        assert_eq!(g.reachable(root).collect::<Vec<_>>(), vec![root, a, shared]);
        assert_eq!(g.reachable(shared).collect::<Vec<_>>(), vec![shared, root, a]);
    }

    #[test]
    fn reachable_goes_into_the_first_child_before_the_second() {
        // root -> [a, b, c], a -> [c]: c is met through a, before b.
        let mut g = Graph::new();
        let c = g.add(Node::Int(3));
        let b = g.add(Node::Int(2));
        let a = g.add(Node::Object {
            type_name: "m.A",
            args: None,
            state: Some(c),
        });
        let root = g.add(Node::Tuple(&[a, b, c]));
        assert_eq!(g.reachable(root).collect::<Vec<_>>(), vec![root, a, c, b]);
    }

    #[test]
    fn reachable_skips_what_the_root_does_not_reach_and_ids_outside_the_graph() {
        let mut g = Graph::new();
        let orphan = g.add(Node::Int(1));
        let root = g.add(Node::List(&[NodeId(99)]));
        assert_eq!(g.reachable(root).collect::<Vec<_>>(), vec![root]);
        assert_eq!(g.reachable(NodeId(99)).count(), 0);
        assert_eq!(g.reachable(orphan).collect::<Vec<_>>(), vec![orphan]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "100,000 nodes: minutes under Miri")]
    fn deep_chains_are_walked_without_recursion() {
        let g = chain(100_000);
        let root = g.root().unwrap();
        assert_eq!(g.reachable(root).count(), 100_000);
        let counts = g.incoming_counts(root);
        assert_eq!(counts[root.index()], 0);
        assert!(counts.iter().filter(|&&n| n == 1).count() == 99_999);
        assert!(g.arrays_reachable(root).is_empty());
        assert!(g.type_names(root).is_empty());
    }

    #[test]
    fn incoming_counts_count_each_reference_from_what_the_root_reaches() {
        let (mut g, [root, a, shared]) = shared_cycle();
        let orphan = g.add(Node::List(&[a, a]));
        let counts = g.incoming_counts(root);
        assert_eq!(counts[root.index()], 1);
        assert_eq!(counts[a.index()], 1);
        assert_eq!(counts[shared.index()], 3);
        assert_eq!(counts[orphan.index()], 0);
        let table = g.table_incoming_counts();
        assert_eq!(table[a.index()], 3);
        assert_eq!(table.len(), g.len());
    }

    #[test]
    fn arrays_reachable_are_distinct_in_first_visit_order() {
        let mut g = Graph::new();
        let late = g.add(Node::Array(ArrayId(0)));
        let early = g.add(Node::Array(ArrayId(7)));
        let again = g.add(Node::Array(ArrayId(7)));
        let unreached = g.add(Node::Array(ArrayId(3)));
        let root = g.add(Node::List(&[early, late, again, early]));
        assert_eq!(g.arrays_reachable(root), vec![ArrayId(7), ArrayId(0)]);
        assert_eq!(g.arrays_reachable(unreached), vec![ArrayId(3)]);
    }

    #[test]
    fn type_names_are_distinct_in_first_visit_order() {
        let mut g = Graph::new();
        let f64_type = g.add(Node::Global("numpy.float64"));
        let tree = g.add(Node::Object {
            type_name: "sklearn.tree._tree.Tree",
            args: Some(f64_type),
            state: None,
        });
        let tree_class = g.add(Node::Global("sklearn.tree._tree.Tree"));
        let key = g.add(Node::Str("not.a.Type"));
        let state = g.add(Node::Map(&[[key, tree]]));
        let root = g.add(Node::Object {
            type_name: "sklearn.tree.DecisionTreeClassifier",
            args: Some(tree_class),
            state: Some(state),
        });
        g.add(Node::Global("unreached.Global"));
        assert_eq!(
            g.type_names(root),
            vec![
                "sklearn.tree.DecisionTreeClassifier",
                "sklearn.tree._tree.Tree",
                "numpy.float64"
            ]
        );
    }

    #[test]
    fn type_names_compare_text_when_a_file_stores_a_string_twice() {
        use crate::graph::storage::{GraphBuilder, Slot};
        let mut builder = GraphBuilder::default();
        builder.set_strings("m.Am.A".into(), [0..3, 3..6].into_iter());
        builder.push_node(Slot::Global(0));
        builder.push_node(Slot::Global(1));
        let items = builder.ids_le(&[0, 0, 0, 0, 1, 0, 0, 0]);
        builder.push_node(Slot::Seq(crate::SeqKind::Tuple, items));
        let g = builder.finish(NodeId(2));
        assert_eq!(g.strings().len(), 2);
        assert_eq!(g.type_names(NodeId(2)), vec!["m.A"]);
    }

    #[test]
    fn str_keyed_maps_end_at_the_first_problem() {
        let mut g = Graph::new();
        let (a, b, one) = (g.add(Node::Str("a")), g.add(Node::Str("b")), g.add(Node::Int(1)));
        let a_again = g.add(Node::Str("a"));
        let entry = |key, name| {
            Ok(StrEntry {
                key,
                name,
                value: one,
            })
        };

        let good = g.add(Node::Map(&[[a, one], [b, one]]));
        let entries: Vec<_> = g.str_keyed_map(good).unwrap().collect();
        assert_eq!(entries, vec![entry(a, "a"), entry(b, "b")]);

        let repeated = g.add(Node::Map(&[[a, one], [a_again, one], [one, one]]));
        let entries: Vec<_> = g.str_keyed_map(repeated).unwrap().collect();
        assert_eq!(entries, vec![entry(a, "a"), Err(KeyProblem::Repeated("a"))]);

        let int_key = g.add(Node::Map(&[[b, one], [one, one], [a, one]]));
        let entries: Vec<_> = g.str_keyed_map(int_key).unwrap().collect();
        assert_eq!(entries, vec![entry(b, "b"), Err(KeyProblem::NotStr(one))]);

        assert!(g.str_keyed_map(one).is_none());
        assert!(g.str_keyed_map(NodeId(1000)).is_none());
    }
}
