//! Graph paths: how `extract` addresses an array and how `inspect` names what it shows. The
//! syntax is the crate's (`amberfile::graph::path`), shared with the Python package; this
//! module adds the CLI's help text and the checks `inspect` needs.

use amberfile::{Graph, Node, NodeId};

pub const PATH_SYNTAX_HELP: &str = "\
Path syntax:
  Segments separated by '/', walked from the root; a leading '/' is optional and the empty
  path is the root.
  - At a map, a segment is a key: the first entry whose key is that string, or else the first
    whose key is an integer written that way.
  - At a list, tuple, set or frozenset, a segment is an index from 0.
  - At an object array, a segment is an index into its items in storage order.
  - An object (instance of a named type) is transparent: the segment applies to its state, or
    to its constructor arguments when it has no state; '@state' and '@args' select either.
  - In keys, '~1' stands for '/' and '~0' for '~' (as in JSON Pointer).
  Example: estimators_/3/tree_/nodes. `amber inspect --json FILE` lists the paths of every array.";

/// Follows `path` from the root. The error says which segment failed and what was there.
pub fn resolve(graph: &Graph, root: NodeId, path: &str) -> Result<NodeId, String> {
    graph.resolve_path(root, path)
}

/// Looks through objects to what they hold (for a path that ends on an object whose state is
/// an array).
pub fn look_through(graph: &Graph, node: NodeId) -> NodeId {
    graph.look_through(node)
}

pub use amberfile::graph::path::key_label;

/// A key as a path segment can be written back by [`resolve`].
pub fn is_addressable_key(graph: &Graph, key: NodeId) -> bool {
    matches!(graph.get(key), Some(Node::Str(_)) | Some(Node::Int(_)))
}
