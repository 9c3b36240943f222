//! The graph path of a node, in the CLI's syntax (`amber extract`'s paths: map keys by their
//! string or integer, indices from 0, objects transparent, `@args` for constructor arguments
//! beside a state), so an error can say where in the file the bad object is.
//!
//! Only worked out when a load fails: a breadth-first walk from the root gives each node the
//! parent it is first reached from (so the path is a shortest one), then the steps are read
//! back from the target.

use std::collections::VecDeque;

use amberfile::graph::path::escape_segment;
use amberfile::{Graph, Node, NodeId};

/// The path from `root` to `target`, or `None` if `target` is not reachable from `root`.
/// The root itself is the empty path.
pub(crate) fn path_to(graph: &Graph, root: NodeId, target: NodeId) -> Option<String> {
    let mut parent: Vec<Option<NodeId>> = vec![None; graph.len()];
    let mut seen = vec![false; graph.len()];
    seen[root.index()] = true;
    let mut queue = VecDeque::from([root]);
    while let Some(id) = queue.pop_front() {
        if id == target {
            break;
        }
        for child in graph.children(id) {
            if !std::mem::replace(&mut seen[child.index()], true) {
                parent[child.index()] = Some(id);
                queue.push_back(child);
            }
        }
    }
    if !seen[target.index()] {
        return None;
    }
    let mut segments = Vec::new();
    let mut at = target;
    while let Some(up) = parent[at.index()] {
        segments.extend(segment(graph, up, at));
        at = up;
    }
    segments.reverse();
    Some(segments.join("/"))
}

/// The segment that leads from `parent` to its child `child` (none through an object).
fn segment(graph: &Graph, parent: NodeId, child: NodeId) -> Option<String> {
    let position = |items: &[NodeId]| items.iter().position(|&c| c == child).map(|i| i.to_string());
    match graph.node(parent) {
        Node::Map(entries) => entries.iter().find_map(|&[key, value]| {
            if value == child {
                Some(key_segment(graph, key))
            } else {
                (key == child).then(|| format!("<key {}>", key_segment(graph, key)))
            }
        }),
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => position(items),
        Node::ObjectArray { items, .. } => position(items),
        Node::Object { args, state, .. } => {
            (args == Some(child) && state.is_some() && state != args).then(|| "@args".to_string())
        }
        _ => None,
    }
}

/// A map key as a segment: strings escaped as the CLI reads them, integers in decimal.
fn key_segment(graph: &Graph, key: NodeId) -> String {
    match graph.node(key) {
        Node::Str(s) => escape_segment(s),
        Node::Int(i) => i.to_string(),
        other => format!("<{} key>", other.kind_name()),
    }
}
