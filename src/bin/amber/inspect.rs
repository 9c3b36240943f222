//! `amber inspect FILE`: the header, the object graph as a tree, the arrays, the totals.
//!
//! The tree walk uses an explicit stack (graphs from files may be deep or cyclic); a node
//! reached a second time is printed as a reference to its first path, never expanded again.
//! In text output, runs of similar siblings (same kind, type and dtype) collapse to the first
//! one and a count, and `--depth` stops the walk; `--json` gives every visited node as a flat
//! list of entries with their paths, for scripts.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use amberfile::{ArrayInfo, Codec, Filter, Graph, Node, NodeId, Reader};
use clap::Args;
use serde_json::{json, Value as Json};

use crate::failure::Failure;
use crate::files;
use crate::path;

#[derive(Args)]
pub struct InspectArgs {
    /// The Amber file.
    file: PathBuf,
    /// Machine-readable output: one JSON document (header, entries with paths, arrays, totals).
    #[arg(long)]
    json: bool,
    /// Show the graph down to this many levels below the root.
    #[arg(long, value_name = "N", default_value_t = 24)]
    depth: usize,
    /// Show every sibling instead of collapsing runs of similar ones.
    #[arg(long)]
    all: bool,
}

/// Runs of at least this many similar siblings collapse in text output.
const COLLAPSE_RUN: usize = 4;
/// Longest string value shown in full in text output.
const MAX_SHOWN_STR: usize = 60;

pub fn run(args: &InspectArgs) -> Result<(), Failure> {
    let reader = files::open_amber(&args.file)?;
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    if args.json {
        let document = json_report(&reader, args)?;
        writeln!(out, "{document}").map_err(Failure::stdout)?;
    } else {
        text_report(&reader, args, &mut out)?;
    }
    out.flush().map_err(Failure::stdout)
}

/// One step of the walk, handed to the printer.
struct Visit<'a> {
    depth: usize,
    /// Whether this is the last child of its parent (for tree glyphs).
    last: bool,
    /// `"key": ` or `[3]: ` or empty for the root.
    label: String,
    path: Option<String>,
    kind: VisitKind<'a>,
}

enum VisitKind<'a> {
    Node {
        id: NodeId,
        node: Node<'a>,
        /// Reached from more than one place: the first visit is expanded and marked.
        shared: bool,
        /// Children exist but lie below the depth limit.
        truncated: bool,
    },
    /// A node shown before, at this path.
    Repeat { id: NodeId, first_path: String },
    /// `count` more siblings like the previous one.
    Collapsed {
        count: usize,
        first: usize,
        last: usize,
        like: String,
    },
}

/// A pending item of the walk.
struct Pending {
    id: NodeId,
    depth: usize,
    last: bool,
    label: String,
    path: Option<String>,
    collapsed: Option<(usize, usize, usize, String)>,
}

/// Walks the graph depth-first from the root, calling `visit` for each line of the tree.
fn walk<'g, S: AsRef<[u8]>>(
    reader: &'g Reader<S>,
    max_depth: usize,
    collapse: bool,
    mut visit: impl FnMut(Visit<'g>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (graph, root) = (reader.graph(), reader.root());
    let mut incoming = vec![0u32; graph.len()];
    for (id, _) in graph.iter() {
        for child in graph.children(id) {
            if let Some(count) = incoming.get_mut(child.index()) {
                *count = count.saturating_add(1);
            }
        }
    }
    let mut first_paths: HashMap<NodeId, String> = HashMap::new();
    let mut stack = vec![Pending {
        id: root,
        depth: 0,
        last: true,
        label: String::new(),
        path: Some(String::new()),
        collapsed: None,
    }];
    while let Some(item) = stack.pop() {
        if let Some((count, first, last, like)) = item.collapsed {
            visit(Visit {
                depth: item.depth,
                last: item.last,
                label: String::new(),
                path: None,
                kind: VisitKind::Collapsed {
                    count,
                    first,
                    last,
                    like,
                },
            })?;
            continue;
        }
        let Some(node) = graph.get(item.id) else { continue };
        // Leaves (scalars, strings, arrays) are shown wherever they occur; only containers and
        // objects are expanded once and referred to afterwards, which also ends cycles.
        let container = graph.children(item.id).next().is_some();
        let shared = container && (incoming.get(item.id.index()).is_some_and(|&n| n > 1) || item.id == root);
        if shared {
            if let Some(first_path) = first_paths.get(&item.id) {
                visit(Visit {
                    depth: item.depth,
                    last: item.last,
                    label: item.label,
                    path: item.path,
                    kind: VisitKind::Repeat {
                        id: item.id,
                        first_path: first_path.clone(),
                    },
                })?;
                continue;
            }
            first_paths.insert(item.id, item.path.clone().unwrap_or_else(|| "?".into()));
        }
        let children = child_items(graph, item.id, node, item.path.as_deref());
        let truncated = item.depth >= max_depth && !children.is_empty();
        visit(Visit {
            depth: item.depth,
            last: item.last,
            label: item.label,
            path: item.path,
            kind: VisitKind::Node {
                id: item.id,
                node,
                shared: shared && incoming.get(item.id.index()).is_some_and(|&n| n > 1),
                truncated,
            },
        })?;
        if truncated {
            continue;
        }
        // Map entries are never collapsed: their keys are the information.
        let indexed = !matches!(node, Node::Map(_) | Node::Object { .. });
        let groups = if collapse && indexed {
            collapse_runs(reader, &children)
        } else {
            ungrouped(&children)
        };
        let count = groups.len();
        for (i, group) in groups.into_iter().enumerate().rev() {
            let last = i + 1 == count;
            let pending = match group {
                Group::One(child) => Pending {
                    id: child.id,
                    depth: item.depth + 1,
                    last,
                    label: child.label,
                    path: child.path,
                    collapsed: None,
                },
                Group::Run {
                    count,
                    first,
                    last: end,
                    like,
                } => Pending {
                    id: item.id,
                    depth: item.depth + 1,
                    last,
                    label: String::new(),
                    path: None,
                    collapsed: Some((count, first, end, like)),
                },
            };
            stack.push(pending);
        }
    }
    Ok(())
}

struct Child {
    id: NodeId,
    label: String,
    path: Option<String>,
    /// Position among its siblings, for collapsed ranges.
    position: usize,
}

enum Group {
    One(Child),
    Run {
        count: usize,
        first: usize,
        last: usize,
        like: String,
    },
}

/// The children of a node as the tree shows them: map entries by key, sequence items by index,
/// an object's constructor arguments and state (a map or sequence state is shown inline, as
/// paths look through objects).
fn child_items(graph: &Graph, id: NodeId, node: Node<'_>, parent: Option<&str>) -> Vec<Child> {
    let sub = |segment: &str| parent.map(|p| path::join(p, segment));
    match node {
        Node::Map(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, [k, v])| {
                let segment = path::key_label(graph, *k);
                let addressable = path::is_addressable_key(graph, *k);
                Child {
                    id: *v,
                    label: match graph.get(*k) {
                        Some(Node::Str(s)) => format!("{s:?}: "),
                        _ => format!("{segment}: "),
                    },
                    path: if addressable { sub(&segment) } else { None },
                    position: i,
                }
            })
            .collect(),
        Node::List(items)
        | Node::Tuple(items)
        | Node::Set(items)
        | Node::FrozenSet(items)
        | Node::ObjectArray { items, .. } => items
            .iter()
            .enumerate()
            .map(|(i, child)| Child {
                id: *child,
                label: format!("[{i}]: "),
                path: sub(&i.to_string()),
                position: i,
            })
            .collect(),
        Node::Object { args, state, .. } => {
            let mut out = Vec::new();
            if let Some(args) = args {
                out.push(Child {
                    id: args,
                    label: "@args: ".into(),
                    path: sub("@args"),
                    position: 0,
                });
            }
            if let Some(state) = state {
                let inline = matches!(
                    graph.get(state),
                    Some(Node::Map(_)) | Some(Node::List(_)) | Some(Node::Tuple(_))
                ) && state != id;
                match graph.get(state) {
                    // A map state shows its entries right under the object: `obj/key` paths.
                    Some(inner) if inline && args.is_none() => {
                        return child_items(graph, state, inner, parent)
                    }
                    _ => out.push(Child {
                        id: state,
                        label: "@state: ".into(),
                        path: sub("@state"),
                        position: 1,
                    }),
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn ungrouped(children: &[Child]) -> Vec<Group> {
    children
        .iter()
        .map(|c| {
            Group::One(Child {
                id: c.id,
                label: c.label.clone(),
                path: c.path.clone(),
                position: c.position,
            })
        })
        .collect()
}

/// Keeps the first of each run of similar siblings and summarises the rest.
fn collapse_runs<S: AsRef<[u8]>>(reader: &Reader<S>, children: &[Child]) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < children.len() {
        let like = signature(reader, children[start].id);
        let mut end = start + 1;
        while end < children.len() && signature(reader, children[end].id) == like {
            end += 1;
        }
        let run = end - start;
        let shown = if run >= COLLAPSE_RUN { 1 } else { run };
        groups.extend(ungrouped(&children[start..start + shown]));
        if run >= COLLAPSE_RUN {
            groups.push(Group::Run {
                count: run - 1,
                first: children[start + 1].position,
                last: children[end - 1].position,
                like,
            });
        }
        start = end;
    }
    groups
}

/// What makes siblings "similar": kind, type name, and an array's dtype and rank.
fn signature<S: AsRef<[u8]>>(reader: &Reader<S>, id: NodeId) -> String {
    match reader.graph().get(id) {
        Some(Node::Object { type_name, .. }) => format!("object {type_name}"),
        Some(Node::Array(array)) => match reader.array_info(array) {
            Ok(info) => format!("{}-d {} array", info.shape().len(), info.dtype()),
            Err(_) => "array".into(),
        },
        Some(other) => other.kind_name().into(),
        None => "dangling".into(),
    }
}

fn text_report<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    args: &InspectArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let header = reader.header();
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(Failure::stdout);
    w(out, format!("{}", args.file.display()))?;
    w(
        out,
        format!(
            "  Amber {}.{}, alignment {}, required features {:#x}, optional features {:#x}, {} bytes",
            header.version_major,
            header.version_minor,
            header.alignment,
            header.required_features,
            header.optional_features,
            reader.bytes().len()
        ),
    )?;
    w(
        out,
        format!(
            "  {} nodes, {} arrays",
            reader.graph().len(),
            reader.array_count()
        ),
    )?;
    w(out, String::new())?;
    let mut open: Vec<bool> = Vec::new();
    walk(reader, args.depth, !args.all, |visit| {
        open.truncate(visit.depth);
        let mut line = String::new();
        for &more in open.iter().skip(1) {
            line.push_str(if more { "│  " } else { "   " });
        }
        if visit.depth > 0 {
            line.push_str(if visit.last { "└─ " } else { "├─ " });
        }
        open.push(!visit.last);
        line.push_str(&visit.label);
        match visit.kind {
            VisitKind::Node {
                id,
                node,
                shared,
                truncated,
            } => {
                line.push_str(&describe_node(reader, node));
                if shared {
                    line.push_str(&format!("  (shared: node #{})", id.index()));
                }
                if truncated {
                    line.push_str("  … (deeper than --depth)");
                }
            }
            VisitKind::Repeat { id, first_path } => {
                line.push_str(&format!(
                    "→ node #{}, shown above at {}",
                    id.index(),
                    shown_path(&first_path)
                ));
            }
            VisitKind::Collapsed {
                count,
                first,
                last,
                like,
            } => {
                line.push_str(&format!(
                    "… {count} more {like} ([{first}..{last}]; --all shows them)"
                ));
            }
        }
        w(out, line)
    })?;
    let totals = Totals::of(reader);
    w(out, String::new())?;
    w(
        out,
        format!(
            "Totals: {} arrays, {} raw, {} stored, ratio {:.2}",
            totals.arrays,
            human_bytes(totals.raw),
            human_bytes(totals.stored),
            totals.ratio()
        ),
    )
}

/// A path as users type it, with the root shown as `/`.
fn shown_path(path: &str) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        format!("'{path}'")
    }
}

/// One line about a node: its kind and the essentials.
fn describe_node<S: AsRef<[u8]>>(reader: &Reader<S>, node: Node<'_>) -> String {
    match node {
        Node::None => "None".into(),
        Node::Bool(b) => format!("bool {}", if b { "True" } else { "False" }),
        Node::Int(i) => format!("int {i}"),
        Node::BigInt(bytes) => format!("bigint {}", amberfile::render::big_int_decimal(bytes)),
        Node::Float(f) => format!("float {f:?}"),
        Node::Complex(re, im) => format!("complex ({re:?}{im:+?}j)"),
        Node::Str(s) if s.chars().count() > MAX_SHOWN_STR => {
            let head: String = s.chars().take(MAX_SHOWN_STR).collect();
            format!("str {head:?}… ({} chars)", s.chars().count())
        }
        Node::Str(s) => format!("str {s:?}"),
        Node::Bytes(b) => format!("bytes ({} bytes)", b.len()),
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            format!("{} ({} items)", node.kind_name(), items.len())
        }
        Node::Map(entries) => format!("map ({} entries)", entries.len()),
        Node::Array(id) => match reader.array_info(id) {
            Ok(info) => describe_array(&info),
            Err(_) => format!("array #{} (missing)", id.index()),
        },
        Node::ObjectArray { shape, items, order } => {
            format!(
                "object_array shape {shape:?} order {} ({} items)",
                order.as_str(),
                items.len()
            )
        }
        Node::Object { type_name, .. } => format!("object {type_name}"),
        Node::Global(name) => format!("global {name}"),
    }
}

fn describe_array(info: &ArrayInfo<'_>) -> String {
    let storage = codec_name(info);
    let sizes = if info.is_raw() {
        human_bytes(info.nbytes())
    } else {
        format!(
            "{} → {}",
            human_bytes(info.nbytes()),
            human_bytes(info.stored_bytes())
        )
    };
    format!(
        "array #{} {} shape {:?} order {} {storage} {sizes}",
        info.id().index(),
        info.dtype(),
        info.shape(),
        info.order().as_str(),
    )
}

fn codec_name(info: &ArrayInfo<'_>) -> &'static str {
    match (info.codec(), info.filter()) {
        (Codec::Zstd, Filter::Shuffle) => "zstd+shuffle",
        (Codec::Zstd, _) => "zstd",
        _ => "raw",
    }
}

struct Totals {
    arrays: usize,
    raw: u64,
    stored: u64,
}

impl Totals {
    fn of<S: AsRef<[u8]>>(reader: &Reader<S>) -> Self {
        Totals {
            arrays: reader.array_count(),
            raw: reader.arrays().map(|a| a.nbytes()).sum(),
            stored: reader.arrays().map(|a| a.stored_bytes()).sum(),
        }
    }

    /// Raw bytes per stored byte (1 for an empty file).
    fn ratio(&self) -> f64 {
        if self.stored == 0 {
            1.0
        } else {
            self.raw as f64 / self.stored as f64
        }
    }
}

fn json_report<S: AsRef<[u8]>>(reader: &Reader<S>, args: &InspectArgs) -> Result<Json, Failure> {
    let graph = reader.graph();
    let mut entries = Vec::new();
    let mut array_paths: HashMap<usize, Vec<String>> = HashMap::new();
    walk(reader, args.depth, false, |visit| {
        let mut entry = serde_json::Map::new();
        entry.insert("path".into(), json!(visit.path));
        entry.insert("depth".into(), json!(visit.depth));
        match visit.kind {
            VisitKind::Node {
                id,
                node,
                shared,
                truncated,
            } => {
                entry.insert("node".into(), json!(id.index()));
                entry.insert("kind".into(), json!(node.kind_name()));
                add_node_details(&mut entry, node);
                if let (Node::Array(a), Some(path)) = (node, &visit.path) {
                    array_paths.entry(a.index()).or_default().push(path.clone());
                }
                entry.insert("shared".into(), json!(shared));
                if truncated {
                    entry.insert("truncated".into(), json!(true));
                }
            }
            VisitKind::Repeat { id, first_path } => {
                entry.insert("node".into(), json!(id.index()));
                entry.insert("kind".into(), json!("reference"));
                entry.insert("same_as".into(), json!(first_path));
            }
            VisitKind::Collapsed { .. } => return Ok(()),
        }
        entries.push(Json::Object(entry));
        Ok(())
    })?;
    let arrays: Vec<Json> = reader
        .arrays()
        .map(|info| {
            json!({
                "index": info.id().index(),
                "dtype": amberfile::render::render_dtype(info.dtype()),
                "dtype_name": info.dtype().to_string(),
                "shape": info.shape(),
                "order": info.order().as_str(),
                "codec": codec_name(&info),
                "block_size": info.block_size(),
                "blocks": if info.is_raw() { 0 } else { info.extents().len() },
                "raw_bytes": info.nbytes(),
                "stored_bytes": info.stored_bytes(),
                "paths": array_paths.remove(&info.id().index()).unwrap_or_default(),
            })
        })
        .collect();
    let header = reader.header();
    let totals = Totals::of(reader);
    Ok(json!({
        "file": args.file.display().to_string(),
        "file_bytes": reader.bytes().len(),
        "version": format!("{}.{}", header.version_major, header.version_minor),
        "alignment": header.alignment,
        "required_features": header.required_features,
        "optional_features": header.optional_features,
        "nodes": graph.len(),
        "root": reader.root().index(),
        "entries": entries,
        "arrays": arrays,
        "totals": {
            "arrays": totals.arrays,
            "raw_bytes": totals.raw,
            "stored_bytes": totals.stored,
            "ratio": totals.ratio(),
        },
    }))
}

fn add_node_details(entry: &mut serde_json::Map<String, Json>, node: Node<'_>) {
    let mut put = |key: &str, value: Json| {
        entry.insert(key.into(), value);
    };
    match node {
        Node::Bool(b) => put("value", json!(b)),
        Node::Int(i) => put("value", json!(i)),
        Node::BigInt(bytes) => put("value", json!(amberfile::render::big_int_decimal(bytes))),
        Node::Float(f) if f.is_finite() => put("value", json!(f)),
        Node::Float(f) => put("value", json!(f.to_string())),
        Node::Str(s) => put("value", json!(s)),
        Node::Bytes(b) => put("len", json!(b.len())),
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            put("len", json!(items.len()))
        }
        Node::Map(entries) => put("len", json!(entries.len())),
        Node::Array(id) => put("array", json!(id.index())),
        Node::ObjectArray { shape, .. } => put("shape", json!(shape)),
        Node::Object { type_name, .. } => put("type", json!(type_name)),
        Node::Global(name) => put("name", json!(name)),
        Node::None | Node::Complex(..) => {}
    }
}

/// Bytes in binary units, e.g. `1.50 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}
