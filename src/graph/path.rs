//! Graph paths: how a tool addresses one node of a file (the CLI's `extract`, the Python
//! package's Dask reader), so every front end reads a path the same way.
//!
//! A path is segments separated by `/`, walked from the root (a leading `/` is optional, and
//! the empty path is the root itself):
//!
//! - at a map, a segment is a key: the first entry whose key is that string, or, failing that,
//!   the first entry whose key is an integer written that way (`0`, `-3`);
//! - at a list, tuple, set or frozenset, a segment is an index from 0;
//! - at an object array (numpy `dtype=object`), a segment is an index into its items in
//!   storage order;
//! - an object (an instance of a named type) is transparent: a segment applies to its state,
//!   or to its constructor arguments when it has no state. `@state` and `@args` select either
//!   one explicitly;
//! - in a key, `~1` stands for `/` and `~0` for `~` (as in JSON Pointer, RFC 6901).
//!
//! So `estimators_/3/tree_/nodes` is the node array of the fourth tree of a random forest.
//! A path that names nothing is the caller's mistake, not a fault of the file: it comes back as
//! a message for the user, never as an [`Error`](crate::Error).

use super::{Graph, Node, NodeId};

/// How many objects a step (or [`Graph::look_through`]) sees through at most: an object whose
/// state is an object, and so on.
const MAX_OBJECT_HOPS: u32 = 8;

impl Graph {
    /// Follows `path` from `root` (see the [module docs](self)). The message says which segment
    /// failed and what was there.
    pub fn resolve_path(&self, root: NodeId, path: &str) -> Result<NodeId, String> {
        let mut current = root;
        let mut walked = String::new();
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        if trimmed.is_empty() {
            return Ok(root);
        }
        for raw in trimmed.split('/') {
            let segment = unescape_segment(raw);
            current = step(self, current, &segment).map_err(|problem| {
                let at = if walked.is_empty() {
                    "the root".to_string()
                } else {
                    format!("'{walked}'")
                };
                format!("path '{path}': at {at}, segment '{raw}': {problem}")
            })?;
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(raw);
        }
        Ok(current)
    }

    /// What an object holds (its state, else its arguments), looking through a few levels, for
    /// a path that ends on an object whose state is an array; any other node is itself.
    pub fn look_through(&self, mut node: NodeId) -> NodeId {
        for _ in 0..MAX_OBJECT_HOPS {
            match self.get(node) {
                Some(Node::Object { state, args, .. }) => match state.or(args) {
                    Some(inner) => node = inner,
                    None => break,
                },
                _ => break,
            }
        }
        node
    }
}

/// A map key as a path segment: `~` and `/` escaped.
pub fn escape_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// One step of a path from `node`, looking through objects.
fn step(graph: &Graph, node: NodeId, segment: &str) -> Result<NodeId, String> {
    let node_value = graph.get(node).ok_or("dangling node")?;
    if let Node::Object {
        args,
        state,
        type_name,
    } = node_value
    {
        return match segment {
            "@state" => state.ok_or_else(|| format!("the {type_name} object has no state")),
            "@args" => args.ok_or_else(|| format!("the {type_name} object has no constructor arguments")),
            _ => {
                let inner = state
                    .or(args)
                    .ok_or_else(|| format!("the {type_name} object is empty"))?;
                step_through(graph, inner, segment, 1)
            }
        };
    }
    step_through(graph, node, segment, 0)
}

fn step_through(graph: &Graph, node: NodeId, segment: &str, hops: u32) -> Result<NodeId, String> {
    let value = graph.get(node).ok_or("dangling node")?;
    match value {
        Node::Map(entries) => {
            let by_str = entries
                .iter()
                .find(|[k, _]| graph.get(*k).and_then(|n| n.as_str()) == Some(segment));
            let by_int = || {
                let wanted: i64 = segment.parse().ok()?;
                entries
                    .iter()
                    .find(|[k, _]| graph.get(*k).and_then(|n| n.as_int()) == Some(wanted))
            };
            by_str.or_else(by_int).map(|[_, v]| *v).ok_or_else(|| {
                let keys: Vec<String> = entries
                    .iter()
                    .take(12)
                    .map(|[k, _]| key_label(graph, *k))
                    .collect();
                let more = if entries.len() > 12 { ", ..." } else { "" };
                format!("no such key in this map (keys: {}{more})", keys.join(", "))
            })
        }
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            index(items, segment, value.kind_name())
        }
        Node::ObjectArray { items, .. } => index(items, segment, "object array"),
        Node::Object { state, args, .. } if hops < MAX_OBJECT_HOPS => {
            let inner = state.or(args).ok_or("the object is empty")?;
            step_through(graph, inner, segment, hops + 1)
        }
        Node::Array(_) => Err("an array has no children".into()),
        other => Err(format!("{} has no children", article_before(other.kind_name()))),
    }
}

fn index(items: &[NodeId], segment: &str, kind: &str) -> Result<NodeId, String> {
    let i: usize = segment
        .parse()
        .map_err(|_| format!("{} is indexed by a number from 0", article_before(kind)))?;
    items.get(i).copied().ok_or_else(|| {
        format!(
            "index {i} is past the end of {} of {} items",
            article_before(kind),
            items.len()
        )
    })
}

/// A map key as a path segment: strings escaped, integers in decimal, other keys described.
pub fn key_label(graph: &Graph, key: NodeId) -> String {
    match graph.get(key) {
        Some(Node::Str(s)) => escape_segment(s),
        Some(Node::Int(i)) => i.to_string(),
        Some(other) => format!("<{} key>", other.kind_name()),
        None => "<dangling>".into(),
    }
}

/// `kind` with "a" or "an" before it.
pub fn article_before(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}
