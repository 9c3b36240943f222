//! Flat Amber graphs: the shape `.npz` and `.safetensors` can hold (string keys to arrays).

use std::collections::HashSet;
use std::path::Path;

use amberfile::{ArrayId, Node, NodeId, Reader};

use crate::failure::{with_article, Failure};

/// The arrays a flat Amber graph holds, by name: a map of string keys to arrays, or (named
/// `default_name`) a single array. Entries for which `skip` says true are left out; anything
/// else that is not an array is named in the error.
pub fn flat_arrays<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    input: &Path,
    format: &str,
    default_name: Option<&str>,
    mut skip: impl FnMut(&str, NodeId) -> Result<bool, Failure>,
) -> Result<Vec<(String, ArrayId)>, Failure> {
    let graph = reader.graph();
    let cannot = |what: String| {
        Failure::Unrepresentable(format!(
            "{}: {format} holds only a flat map of string keys to arrays; {what}",
            input.display()
        ))
    };
    let root = reader.root();
    match (graph.get(root), default_name) {
        (Some(Node::Array(id)), Some(name)) => return Ok(vec![(name.to_owned(), id)]),
        (Some(Node::Map(_)), _) => {}
        (node, _) => {
            let kind = node.map_or("nothing", |n| n.kind_name());
            return Err(cannot(format!("the graph's root is {}", with_article(kind))));
        }
    }
    let entries = graph.get(root).and_then(|n| n.as_map()).unwrap_or_default();
    let mut out: Vec<(String, ArrayId)> = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for [k, v] in entries {
        let Some(Node::Str(name)) = graph.get(*k) else {
            let kind = graph.get(*k).map_or("missing", |n| n.kind_name());
            return Err(cannot(format!("the root map has {} key", with_article(kind))));
        };
        if !seen.insert(name) {
            return Err(cannot(format!("the key '{name}' appears twice")));
        }
        if skip(name, *v)? {
            continue;
        }
        match graph.get(*v) {
            Some(Node::Array(id)) => out.push((name.to_owned(), id)),
            other => {
                let kind = other.map_or("missing", |n| n.kind_name());
                return Err(cannot(format!(
                    "'{name}' is {}, not an array",
                    with_article(kind)
                )));
            }
        }
    }
    Ok(out)
}
