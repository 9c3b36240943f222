//! Flat Amber graphs: the shape `.npz` and `.safetensors` can hold (string keys to arrays).

use std::path::Path;

use amberfile::graph::{KeyProblem, StrEntry};
use amberfile::{ArrayId, Node, NodeId, Reader};

use crate::failure::{with_article, Failure};

/// The arrays a flat Amber graph holds, by name: a map of string keys to arrays, or (named
/// `default_name`) a single array. Entries for which `skip` says true are left out; anything
/// else that is not an array is named in the error.
pub fn flat_arrays<S: amberfile::ByteSource>(
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
    let entries = match (graph.get(root), default_name) {
        (Some(Node::Array(id)), Some(name)) => return Ok(vec![(name.to_owned(), id)]),
        (node, _) => graph.str_keyed_map(root).ok_or_else(|| {
            let kind = node.map_or("nothing", |n| n.kind_name());
            cannot(format!("the graph's root is {}", with_article(kind)))
        })?,
    };
    let mut out: Vec<(String, ArrayId)> = Vec::new();
    for entry in entries {
        let StrEntry { name, value, .. } = entry.map_err(|problem| match problem {
            KeyProblem::NotStr(key) => {
                let kind = graph.get(key).map_or("missing", |n| n.kind_name());
                cannot(format!("the root map has {} key", with_article(kind)))
            }
            KeyProblem::Repeated(name) => cannot(format!("the key '{name}' appears twice")),
        })?;
        if skip(name, value)? {
            continue;
        }
        match graph.get(value) {
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
