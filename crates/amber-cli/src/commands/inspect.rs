//! `amber inspect FILE`: the header, the object graph as a tree, the arrays, the totals.
//!
//! The tree walk uses an explicit stack (graphs from files may be deep or cyclic); a node
//! reached a second time is printed as a reference to its first path, never expanded again.
//! In text output, runs of similar siblings (same kind, type and dtype) collapse to the first
//! one and a count, and `--depth` stops the walk; `--json` gives every visited node as a flat
//! list of entries with their paths, for scripts, where a string, bytes or big int node reached
//! again is also a reference.
//!
//! Both outputs are written as the walk goes, and paths are kept as links to their parent's
//! path, so memory stays bounded by the file whatever the output's size. Text output shortens
//! long strings, keys and names; a big int's decimal form is computed once per node.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use std::borrow::Cow;

use amberfile::{ArrayInfo, Codec, Filter, Graph, Node, NodeId, Reader};
use clap::Args;
use serde_json::{json, Value as Json};

use crate::failure::Failure;
use crate::files;
use crate::path;
use crate::units::human_bytes;

#[derive(Args)]
pub struct InspectArgs {
    /// The Amber file: a path, or a URL (s3://, gs://, az://, http(s)://, file://); a remote
    /// file's metadata is fetched, none of its array data.
    file: PathBuf,
    /// Machine-readable output: one JSON document (header, entries with paths, arrays, totals).
    /// A document larger than max(256 MiB, 64 x the file's size) is refused with LimitExceeded
    /// before anything is printed (long keys and shared record dtypes repeat at every use).
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

pub fn run(args: &InspectArgs, store: &files::StoreArgs) -> Result<(), Failure> {
    let input = files::open_input(&args.file, store)?;
    files::with_reader!(&input, |reader| report(reader, args))
}

/// The report of an open file: it reads the metadata only.
fn report<S: amberfile::ByteSource>(reader: &Reader<S>, args: &InspectArgs) -> Result<(), Failure> {
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    if args.json {
        // The dry run's decimal conversions are kept for the real one, which then costs only its
        // output.
        let mut leaves = LeafCache::default();
        check_json_fits_budget(reader, args, &mut leaves)?;
        json_report(reader, args, &mut leaves, &mut out)?;
    } else {
        text_report(reader, args, &mut out)?;
    }
    out.flush().map_err(Failure::stdout)
}

/// Refuses, before printing, a JSON report larger than the output budget: the dtypes are bounded
/// cheaply first (so no huge dtype is built in memory), then the report is written to a counter that
/// stops at the budget, so the refusal costs at most the budget's worth of work.
fn check_json_fits_budget<S: amberfile::ByteSource>(
    reader: &Reader<S>,
    args: &InspectArgs,
    leaves: &mut LeafCache,
) -> Result<(), Failure> {
    amberfile::render::check_dtypes_fit_budget(reader).map_err(|e| Failure::amber(&args.file, e))?;
    let budget = amberfile::limits::output_budget(reader.metadata().file_len());
    let mut counter = BudgetCounter { left: budget };
    match json_report(reader, args, leaves, &mut counter) {
        Err(_) if counter.left == 0 => Err(Failure::OverLimit(format!(
            "{}: the JSON report would exceed the output budget of {budget} bytes",
            args.file.display()
        ))),
        other => other,
    }
}

/// A sink that counts down and fails once more than its budget has been written.
struct BudgetCounter {
    left: u64,
}

impl Write for BudgetCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.left.checked_sub(buf.len() as u64) {
            Some(left) => {
                self.left = left;
                Ok(buf.len())
            }
            None => {
                self.left = 0;
                Err(std::io::Error::other("output budget exceeded"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a child sits in its parent: how its label and its path segment are spelled.
#[derive(Clone, Copy)]
enum Segment {
    Key(NodeId),
    Index(usize),
    Args,
    State,
}

/// A path from the root, as a link in [`Paths`]; `None` is the root itself.
type PathId = Option<u32>;

/// Every path the walk has named, each stored as its parent's path plus one segment, so a long
/// key shared by many entries is held once (in the graph) however many paths pass through it.
#[derive(Default)]
struct Paths {
    links: Vec<(PathId, Segment)>,
}

impl Paths {
    fn join(&mut self, parent: PathId, segment: Segment) -> PathId {
        self.links.push((parent, segment));
        Some(self.links.len() as u32 - 1)
    }

    /// The path as `extract` takes it; with `shorten`, long keys are cut for reading.
    fn render(&self, graph: &Graph, mut path: PathId, shorten: bool) -> String {
        let mut segments = Vec::new();
        while let Some(link) = path {
            let (parent, segment) = self.links[link as usize];
            segments.push(segment);
            path = parent;
        }
        let mut text = String::new();
        for (i, segment) in segments.iter().rev().enumerate() {
            if i > 0 {
                text.push('/');
            }
            match *segment {
                Segment::Key(key) => {
                    let label = path::key_label(graph, key);
                    text.push_str(
                        if shorten {
                            shortened(&label)
                        } else {
                            Cow::Borrowed(label.as_str())
                        }
                        .as_ref(),
                    );
                }
                Segment::Index(i) => text.push_str(&i.to_string()),
                Segment::Args => text.push_str("@args"),
                Segment::State => text.push_str("@state"),
            }
        }
        text
    }
}

/// The first [`MAX_SHOWN_STR`] characters of `s`, if it is longer than that.
fn head(s: &str) -> Option<&str> {
    s.char_indices().nth(MAX_SHOWN_STR).map(|(end, _)| &s[..end])
}

/// `s` cut to [`MAX_SHOWN_STR`] characters, with an ellipsis when something was cut.
fn shortened(s: &str) -> Cow<'_, str> {
    match head(s) {
        Some(head) => Cow::Owned(format!("{head}…")),
        None => Cow::Borrowed(s),
    }
}

/// One step of the walk, handed to the printer.
struct Visit<'a> {
    depth: usize,
    /// Whether this is the last child of its parent (for tree glyphs).
    last: bool,
    /// How the parent holds it; `None` for the root and for collapsed runs.
    segment: Option<Segment>,
    /// `None` when a map key cannot be written as a path segment.
    path: Option<PathId>,
    kind: VisitKind<'a>,
}

enum VisitKind<'a> {
    Node(ShownNode<'a>),
    /// A node shown before, at this path (`None` if that path was not addressable).
    Repeat {
        id: NodeId,
        first_path: Option<PathId>,
    },
    /// `count` more siblings like the previous one.
    Collapsed {
        count: usize,
        first: usize,
        last: usize,
        like: String,
    },
}

/// A node shown in full at this step.
struct ShownNode<'a> {
    id: NodeId,
    node: Node<'a>,
    /// Reached from more than one place: the first visit is expanded and marked.
    shared: bool,
    /// Children exist but lie below the depth limit.
    truncated: bool,
}

/// A pending item of the walk.
struct Pending {
    id: NodeId,
    depth: usize,
    last: bool,
    segment: Option<Segment>,
    path: Option<PathId>,
    collapsed: Option<(usize, usize, usize, String)>,
}

/// Walks the graph depth-first from the root, calling `visit` for each line of the tree.
/// `paths` names every path the walk hands out; `repeat_payloads` refers to a string, bytes or
/// big int node seen before instead of showing it again.
fn walk<'g, S: amberfile::ByteSource>(
    reader: &'g Reader<S>,
    max_depth: usize,
    collapse: bool,
    repeat_payloads: bool,
    paths: &mut Paths,
    mut visit: impl FnMut(&Paths, Visit<'g>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (graph, root) = (reader.graph(), reader.root());
    let incoming = graph.table_incoming_counts();
    let mut first_paths: HashMap<NodeId, Option<PathId>> = HashMap::new();
    let mut stack = vec![Pending {
        id: root,
        depth: 0,
        last: true,
        segment: None,
        path: Some(None),
        collapsed: None,
    }];
    while let Some(item) = stack.pop() {
        if let Some((count, first, last, like)) = item.collapsed {
            let kind = VisitKind::Collapsed {
                count,
                first,
                last,
                like,
            };
            let (depth, last) = (item.depth, item.last);
            visit(
                paths,
                Visit {
                    depth,
                    last,
                    segment: None,
                    path: None,
                    kind,
                },
            )?;
            continue;
        }
        let Some(node) = graph.get(item.id) else { continue };
        // Leaves (scalars, strings, arrays) are shown wherever they occur; only containers and
        // objects are expanded once and referred to afterwards, which also ends cycles. With
        // `repeat_payloads`, so are strings, bytes and big ints: a 1 MiB string used 20,000
        // times is printed once.
        let container = graph.children(item.id).next().is_some();
        let payload = matches!(node, Node::Str(_) | Node::Bytes(_) | Node::BigInt(_));
        let shared = (container || (repeat_payloads && payload))
            && (incoming.get(item.id.index()).is_some_and(|&n| n > 1) || item.id == root);
        if shared {
            if let Some(&first_path) = first_paths.get(&item.id) {
                let kind = VisitKind::Repeat {
                    id: item.id,
                    first_path,
                };
                let (depth, last, segment, path) = (item.depth, item.last, item.segment, item.path);
                visit(
                    paths,
                    Visit {
                        depth,
                        last,
                        segment,
                        path,
                        kind,
                    },
                )?;
                continue;
            }
            first_paths.insert(item.id, item.path);
        }
        let children = child_items(graph, item.id, node, item.path, paths);
        let truncated = item.depth >= max_depth && !children.is_empty();
        visit(
            paths,
            Visit {
                depth: item.depth,
                last: item.last,
                segment: item.segment,
                path: item.path,
                kind: VisitKind::Node(ShownNode {
                    id: item.id,
                    node,
                    shared: shared && incoming.get(item.id.index()).is_some_and(|&n| n > 1),
                    truncated,
                }),
            },
        )?;
        if truncated {
            continue;
        }
        // Map entries are never collapsed: their keys are the information.
        let indexed = !matches!(node, Node::Map(_) | Node::Object { .. });
        let groups = if collapse && indexed {
            collapse_runs(reader, children)
        } else {
            children.into_iter().map(Group::One).collect()
        };
        let count = groups.len();
        for (i, group) in groups.into_iter().enumerate().rev() {
            let last = i + 1 == count;
            let pending = match group {
                Group::One(child) => Pending {
                    id: child.id,
                    depth: item.depth + 1,
                    last,
                    segment: Some(child.segment),
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
                    segment: None,
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
    segment: Segment,
    path: Option<PathId>,
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
fn child_items(
    graph: &Graph,
    id: NodeId,
    node: Node<'_>,
    parent: Option<PathId>,
    paths: &mut Paths,
) -> Vec<Child> {
    let mut child = |child: NodeId, segment: Segment, addressable: bool, position: usize| Child {
        id: child,
        segment,
        path: parent.filter(|_| addressable).map(|p| paths.join(p, segment)),
        position,
    };
    match node {
        Node::Map(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, [k, v])| child(*v, Segment::Key(*k), path::is_addressable_key(graph, *k), i))
            .collect(),
        Node::List(items)
        | Node::Tuple(items)
        | Node::Set(items)
        | Node::FrozenSet(items)
        | Node::ObjectArray { items, .. } => items
            .iter()
            .enumerate()
            .map(|(i, item)| child(*item, Segment::Index(i), true, i))
            .collect(),
        Node::Object { args, state, .. } => {
            let mut out = Vec::new();
            if let Some(args) = args {
                out.push(child(args, Segment::Args, true, 0));
            }
            if let Some(state) = state {
                let inline = matches!(
                    graph.get(state),
                    Some(Node::Map(_)) | Some(Node::List(_)) | Some(Node::Tuple(_))
                ) && state != id;
                match graph.get(state) {
                    // A map state shows its entries right under the object: `obj/key` paths.
                    Some(inner) if inline && args.is_none() => {
                        return child_items(graph, state, inner, parent, paths)
                    }
                    _ => out.push(child(state, Segment::State, true, 1)),
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Keeps the first of each run of similar siblings and summarises the rest.
fn collapse_runs<S: amberfile::ByteSource>(reader: &Reader<S>, children: Vec<Child>) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut children = children.into_iter().peekable();
    while let Some(first) = children.next() {
        let like = signature(reader, first.id);
        let mut run = 1;
        let mut last_position = first.position;
        let mut rest = Vec::new();
        while let Some(next) = children.next_if(|c| signature(reader, c.id) == like) {
            run += 1;
            last_position = next.position;
            if rest.len() + 1 < COLLAPSE_RUN {
                rest.push(next);
            }
        }
        let first_position = first.position;
        groups.push(Group::One(first));
        if run >= COLLAPSE_RUN {
            groups.push(Group::Run {
                count: run - 1,
                first: first_position + 1,
                last: last_position,
                like: like.to_string(),
            });
        } else {
            groups.extend(rest.into_iter().map(Group::One));
        }
    }
    groups
}

/// What makes siblings "similar": kind, type name, and an array's dtype and rank.
#[derive(PartialEq)]
enum Signature<'g> {
    Object(SameStr<'g>),
    Array(String),
    Kind(&'static str),
}

impl std::fmt::Display for Signature<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Object(name) => write!(f, "object {}", shortened(name.0)),
            Signature::Array(like) => f.write_str(like),
            Signature::Kind(kind) => f.write_str(kind),
        }
    }
}

/// A string from the graph's table, equal at once when it is the same table entry: siblings
/// that share a long type name compare in constant time.
struct SameStr<'g>(&'g str);

impl PartialEq for SameStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

fn signature<S: amberfile::ByteSource>(reader: &Reader<S>, id: NodeId) -> Signature<'_> {
    match reader.graph().get(id) {
        Some(Node::Object { type_name, .. }) => Signature::Object(SameStr(type_name)),
        Some(Node::Array(array)) => Signature::Array(match reader.array_info(array) {
            Ok(info) => format!("{}-d {} array", info.shape().len(), info.dtype()),
            Err(_) => "array".into(),
        }),
        Some(other) => Signature::Kind(other.kind_name()),
        None => Signature::Kind("dangling"),
    }
}

fn text_report<S: amberfile::ByteSource>(
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
            reader.metadata().file_len()
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
    let mut leaves = LeafCache::default();
    let graph = reader.graph();
    walk(
        reader,
        args.depth,
        !args.all,
        false,
        &mut Paths::default(),
        |paths, visit| {
            open.truncate(visit.depth);
            let mut line = String::new();
            for &more in open.iter().skip(1) {
                line.push_str(if more { "│  " } else { "   " });
            }
            if visit.depth > 0 {
                line.push_str(if visit.last { "└─ " } else { "├─ " });
            }
            open.push(!visit.last);
            line.push_str(&label(graph, visit.segment));
            match visit.kind {
                VisitKind::Node(shown) => {
                    line.push_str(&describe_node(reader, shown.id, shown.node, &mut leaves));
                    if shown.shared {
                        line.push_str(&format!("  (shared: node #{})", shown.id.index()));
                    }
                    if shown.truncated {
                        line.push_str("  … (deeper than --depth)");
                    }
                }
                VisitKind::Repeat { id, first_path } => {
                    let shown = match first_path {
                        Some(path) => shown_path(&paths.render(graph, path, true)),
                        None => "'?'".into(),
                    };
                    line.push_str(&format!("→ node #{}, shown above at {shown}", id.index()));
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
        },
    )?;
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

/// How a child is introduced in text output: `"key": `, `[3]: `, or nothing for the root.
fn label(graph: &Graph, segment: Option<Segment>) -> String {
    match segment {
        None => String::new(),
        Some(Segment::Key(key)) => match graph.get(key) {
            Some(Node::Str(s)) => match head(s) {
                Some(head) => format!("{head:?}…: "),
                None => format!("{s:?}: "),
            },
            _ => format!("{}: ", path::key_label(graph, key)),
        },
        Some(Segment::Index(i)) => format!("[{i}]: "),
        Some(Segment::Args) => "@args: ".into(),
        Some(Segment::State) => "@state: ".into(),
    }
}

/// What a leaf shown many times costs once: a big int's decimal form, a string's length.
#[derive(Default)]
struct LeafCache {
    decimals: HashMap<NodeId, String>,
    char_counts: HashMap<NodeId, usize>,
}

impl LeafCache {
    fn decimal(&mut self, id: NodeId, bytes: &[u8]) -> &str {
        self.decimals
            .entry(id)
            .or_insert_with(|| amberfile::render::big_int_decimal(bytes))
    }

    fn char_count(&mut self, id: NodeId, s: &str) -> usize {
        *self.char_counts.entry(id).or_insert_with(|| s.chars().count())
    }
}

/// One line about a node: its kind and the essentials.
fn describe_node<S: amberfile::ByteSource>(
    reader: &Reader<S>,
    id: NodeId,
    node: Node<'_>,
    leaves: &mut LeafCache,
) -> String {
    match node {
        Node::None => "None".into(),
        Node::Bool(b) => format!("bool {}", if b { "True" } else { "False" }),
        Node::Int(i) => format!("int {i}"),
        Node::BigInt(bytes) => format!("bigint {}", leaves.decimal(id, bytes)),
        Node::Float(f) => format!("float {f:?}"),
        Node::Complex(re, im) => format!("complex ({re:?}{im:+?}j)"),
        Node::Str(s) => match head(s) {
            Some(head) => format!("str {head:?}… ({} chars)", leaves.char_count(id, s)),
            None => format!("str {s:?}"),
        },
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
        Node::Object { type_name, .. } => format!("object {}", shortened(type_name)),
        Node::Global(name) => format!("global {}", shortened(name)),
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
    fn of<S: amberfile::ByteSource>(reader: &Reader<S>) -> Self {
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

/// Writes the JSON report as the walk goes: the header fields, then each entry, then the
/// arrays with the paths that lead to them, then the totals.
fn json_report<S: amberfile::ByteSource>(
    reader: &Reader<S>,
    args: &InspectArgs,
    leaves: &mut LeafCache,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let graph = reader.graph();
    let header = reader.header();
    let put = |out: &mut dyn Write, text: &str| out.write_all(text.as_bytes()).map_err(Failure::stdout);
    let put_json = |out: &mut dyn Write, value: &Json| {
        serde_json::to_writer(out, value).map_err(|e| Failure::stdout(e.into()))
    };
    put(out, "{")?;
    for (key, value) in [
        ("file", json!(args.file.display().to_string())),
        ("file_bytes", json!(reader.metadata().file_len())),
        (
            "version",
            json!(format!("{}.{}", header.version_major, header.version_minor)),
        ),
        ("alignment", json!(header.alignment)),
        ("required_features", json!(header.required_features)),
        ("optional_features", json!(header.optional_features)),
        ("nodes", json!(graph.len())),
        ("root", json!(reader.root().index())),
    ] {
        put(out, &format!("{}:", json!(key)))?;
        put_json(out, &value)?;
        put(out, ",")?;
    }
    put(out, "\"entries\":[")?;
    let mut array_paths: HashMap<usize, Vec<PathId>> = HashMap::new();
    let mut written = 0usize;
    let mut paths = Paths::default();
    walk(reader, args.depth, false, true, &mut paths, |paths, visit| {
        let mut entry = serde_json::Map::new();
        let path = visit.path.map(|p| paths.render(graph, p, false));
        entry.insert("path".into(), json!(path));
        entry.insert("depth".into(), json!(visit.depth));
        match visit.kind {
            VisitKind::Node(shown) => {
                entry.insert("node".into(), json!(shown.id.index()));
                entry.insert("kind".into(), json!(shown.node.kind_name()));
                add_node_details(&mut entry, shown.id, shown.node, leaves);
                if let (Node::Array(a), Some(path)) = (shown.node, visit.path) {
                    array_paths.entry(a.index()).or_default().push(path);
                }
                entry.insert("shared".into(), json!(shown.shared));
                if shown.truncated {
                    entry.insert("truncated".into(), json!(true));
                }
            }
            VisitKind::Repeat { id, first_path } => {
                entry.insert("node".into(), json!(id.index()));
                entry.insert("kind".into(), json!("reference"));
                let first = first_path.map_or_else(|| "?".into(), |p| paths.render(graph, p, false));
                entry.insert("same_as".into(), json!(first));
            }
            VisitKind::Collapsed { .. } => return Ok(()),
        }
        if written > 0 {
            put(out, ",")?;
        }
        written += 1;
        put_json(out, &Json::Object(entry))
    })?;
    put(out, "],\"arrays\":[")?;
    for (i, info) in reader.arrays().enumerate() {
        let array_paths: Vec<String> = array_paths
            .remove(&info.id().index())
            .unwrap_or_default()
            .into_iter()
            .map(|p| paths.render(graph, p, false))
            .collect();
        if i > 0 {
            put(out, ",")?;
        }
        put_json(
            out,
            &json!({
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
                "paths": array_paths,
            }),
        )?;
    }
    let totals = Totals::of(reader);
    put(out, "],\"totals\":")?;
    put_json(
        out,
        &json!({
            "arrays": totals.arrays,
            "raw_bytes": totals.raw,
            "stored_bytes": totals.stored,
            "ratio": totals.ratio(),
        }),
    )?;
    put(out, "}\n")
}

fn add_node_details(
    entry: &mut serde_json::Map<String, Json>,
    id: NodeId,
    node: Node<'_>,
    leaves: &mut LeafCache,
) {
    let mut put = |key: &str, value: Json| {
        entry.insert(key.into(), value);
    };
    match node {
        Node::Bool(b) => put("value", json!(b)),
        Node::Int(i) => put("value", json!(i)),
        Node::BigInt(bytes) => put("value", json!(leaves.decimal(id, bytes))),
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
