//! The main job, end to end: build a model-like object graph (a small random forest with
//! scikit-learn's record-typed tree node arrays, shared references and a compressed weight
//! matrix), write it atomically, memory-map it back, verify every checksum, and print what it
//! holds.
//!
//! Run with: `cargo run --release --example model [-- PATH]` (default `model.amber` in the
//! system temp directory).

use amber_test_support::fixtures::object_with_state;
use amber_test_support::sklearn_node_dtype;
use amberfile::{
    ArrayId, ArraySpec, Compression, DType, Graph, Node, NodeId, ReadOptions, Reader, Verify, WriteOptions,
    Writer,
};

/// One complete binary tree of `depth` levels, as sklearn lays out its node records.
fn tree_nodes(depth: u32, seed: u64) -> (Vec<u8>, u64) {
    let count = (1u64 << (depth + 1)) - 1;
    let mut bytes = vec![0u8; count as usize * 64];
    for (i, node) in bytes.chunks_exact_mut(64).enumerate() {
        let i = i as i64;
        let leaf = 2 * i + 1 >= count as i64;
        let (left, right, feature) = if leaf {
            (-1, -1, -2)
        } else {
            (2 * i + 1, 2 * i + 2, (i + seed as i64) % 20)
        };
        node[0..8].copy_from_slice(&left.to_le_bytes());
        node[8..16].copy_from_slice(&right.to_le_bytes());
        node[16..24].copy_from_slice(&feature.to_le_bytes());
        node[24..32].copy_from_slice(&(0.5 + i as f64 * 0.01).to_le_bytes());
        node[32..40].copy_from_slice(&0.25f64.to_le_bytes());
        node[40..48].copy_from_slice(&(1000i64 >> (64 - (i as u64).leading_zeros()).min(10)).to_le_bytes());
        node[48..56].copy_from_slice(&1000.0f64.to_le_bytes());
        node[56] = u8::from(!leaf);
    }
    (bytes, count)
}

fn build(path: &std::path::Path) -> amberfile::Result<()> {
    let options = WriteOptions {
        alignment: 64,
        ..WriteOptions::default()
    };
    let mut writer = Writer::create(path, options)?;
    let mut graph = Graph::new();
    let str_node = |g: &mut Graph, s: &str| g.add(Node::Str(s));

    // One classes_ array, referenced by the forest and by every tree: a shared reference.
    let classes = writer.write_ndarray(&ndarray::arr1(&[0i64, 1, 2]))?;
    let classes_node = graph.add(Node::Array(classes));

    let node_dtype = sklearn_node_dtype();
    let mut trees = Vec::new();
    for t in 0..8u64 {
        let (nodes, count) = tree_nodes(6, t);
        let nodes_id = writer.write_array(&ArraySpec::c(node_dtype.clone(), &[count]), &nodes)?;
        let values: Vec<f64> = (0..count * 3).map(|v| (v % 7) as f64 / 7.0).collect();
        let values_id = writer
            .write_ndarray(&ndarray::Array3::from_shape_vec((count as usize, 1, 3), values).unwrap())?;
        let keys = ["max_depth", "node_count", "nodes", "values", "classes"];
        let key_ids: Vec<NodeId> = keys.iter().map(|k| str_node(&mut graph, k)).collect();
        let vals = [
            graph.add(Node::Int(6)),
            graph.add(Node::Int(count as i64)),
            graph.add(Node::Array(nodes_id)),
            graph.add(Node::Array(values_id)),
            classes_node,
        ];
        let entries: Vec<[NodeId; 2]> = key_ids.into_iter().zip(vals).map(|(k, v)| [k, v]).collect();
        let state = graph.add(Node::Map(&entries));
        let n_features = graph.add(Node::Int(20));
        let n_classes = graph.add(Node::Int(3));
        let args = graph.add(Node::Tuple(&[n_features, n_classes]));
        trees.push(graph.add(Node::Object {
            type_name: "sklearn.tree._tree.Tree",
            args: Some(args),
            state: Some(state),
        }));
    }
    let trees_node = graph.add(Node::List(&trees));

    // A dense weight matrix, zstd-compressed with the byte-shuffle filter, on all cores.
    let weights: Vec<f32> = (0..256 * 1024)
        .map(|i| ((i % 1024) as f32 * 0.001).sin())
        .collect();
    let weights_id = writer.write_array_with(
        &ArraySpec::c(DType::Float32, &[256, 1024]),
        bytemuck::cast_slice(&weights),
        Compression::Zstd {
            level: 3,
            shuffle: true,
        },
    )?;

    let entries = [
        ("n_estimators", graph.add(Node::Int(8))),
        ("classes_", classes_node),
        ("estimators_", trees_node),
        ("embedding_", graph.add(Node::Array(weights_id))),
        ("feature_names_in_", {
            let names: Vec<NodeId> = (0..20)
                .map(|i| graph.add(Node::Str(&format!("feature_{i}"))))
                .collect();
            graph.add(Node::ObjectArray {
                order: amberfile::Order::C,
                shape: &[20],
                items: &names,
            })
        }),
    ];
    let root = object_with_state(
        &mut graph,
        "sklearn.ensemble._forest.RandomForestClassifier",
        &entries,
    );
    graph.set_root(root);
    writer.commit(&graph)
}

/// Prints the graph under `id` as an indented tree; shared nodes are printed once and then
/// marked `(shared #n)`.
fn print_tree<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: NodeId,
    label: &str,
    depth: usize,
    seen: &mut Vec<bool>,
) {
    let indent = "  ".repeat(depth);
    if seen[id.index()] {
        println!("{indent}{label}(shared #{})", id.index());
        return;
    }
    seen[id.index()] = true;
    let graph = reader.graph();
    let describe_array = |a: ArrayId| {
        let info = reader
            .array_info(a)
            .expect("array ids in a validated graph are in range");
        format!(
            "array {} {:?} {} order, {} bytes, {}",
            info.dtype(),
            info.shape(),
            info.order().as_str(),
            info.nbytes(),
            if info.is_raw() {
                "raw (zero-copy)".to_owned()
            } else {
                format!("zstd, {} blocks", info.extents().len())
            }
        )
    };
    match graph.node(id) {
        Node::Map(entries) => {
            println!("{indent}{label}map ({} entries)", entries.len());
            for &[k, v] in entries.iter() {
                let key = match graph.node(k) {
                    Node::Str(s) => format!("{s}: "),
                    _ => format!("#{}: ", k.index()),
                };
                print_tree(reader, v, &key, depth + 1, seen);
            }
        }
        Node::List(items) if items.len() > 3 => {
            println!("{indent}{label}list ({} items; first shown)", items.len());
            print_tree(reader, items[0], "[0] ", depth + 1, seen);
            items[1..].iter().for_each(|i| mark_seen(graph, *i, seen));
        }
        Node::List(items) | Node::Tuple(items) => {
            println!("{indent}{label}sequence ({} items)", items.len());
            for (i, item) in items.iter().enumerate() {
                print_tree(reader, *item, &format!("[{i}] "), depth + 1, seen);
            }
        }
        Node::Object {
            type_name,
            args,
            state,
        } => {
            println!("{indent}{label}object {type_name}");
            if let Some(args) = args {
                print_tree(reader, args, "args: ", depth + 1, seen);
            }
            if let Some(state) = state {
                print_tree(reader, state, "state: ", depth + 1, seen);
            }
        }
        Node::Array(a) => println!("{indent}{label}{}", describe_array(a)),
        Node::ObjectArray { shape, .. } => println!("{indent}{label}object array {shape:?}"),
        Node::Int(i) => println!("{indent}{label}{i}"),
        Node::Str(s) => println!("{indent}{label}{s:?}"),
        other => println!("{indent}{label}{other:?}"),
    }
}

fn mark_seen(graph: &Graph, id: NodeId, seen: &mut [bool]) {
    let mut stack = vec![id];
    while let Some(id) = stack.pop() {
        if !std::mem::replace(&mut seen[id.index()], true) {
            stack.extend(graph.children(id));
        }
    }
}

fn main() -> amberfile::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("model.amber"));
    build(&path)?;
    let file_len = std::fs::metadata(&path).map_err(amberfile::Error::from)?.len();
    println!("wrote {} ({file_len} bytes)", path.display());

    // SAFETY: nothing modifies or truncates this freshly written file while it is mapped here.
    #[allow(unsafe_code)]
    let reader = unsafe {
        Reader::open_mmap(
            &path,
            ReadOptions {
                verify: Verify::Explicit,
                ..Default::default()
            },
        )
    }?;
    reader.verify()?;
    let header = reader.header();
    println!(
        "mapped and verified: Amber {}.{}, alignment {}, {} nodes, {} arrays, every CRC checked",
        header.version_major,
        header.version_minor,
        header.alignment,
        reader.graph().len(),
        reader.array_count()
    );

    let mut seen = vec![false; reader.graph().len()];
    print_tree(&reader, reader.root(), "", 0, &mut seen);

    let raw: u64 = reader.arrays().map(|a| a.nbytes()).sum();
    let stored: u64 = reader.arrays().map(|a| a.stored_bytes()).sum();
    println!(
        "totals: {} arrays, {raw} logical bytes, {stored} stored bytes, compression ratio {:.2}",
        reader.array_count(),
        raw as f64 / stored as f64
    );

    // Typed access: a zero-copy view into the mapping, and a decoded compressed array.
    let classes = reader.view::<i64>(ArrayId::from_index(0))?;
    println!("classes_ (zero-copy view of the mapped file): {classes}");
    let embedding = reader.arrays().find(|a| !a.is_raw()).map(|a| a.id());
    if let Some(id) = embedding {
        let decoded = reader.read::<f32>(id)?;
        println!(
            "embedding_ decoded from zstd: shape {:?}, [1, 1] = {}",
            decoded.shape(),
            decoded[[1, 1]]
        );
    }
    Ok(())
}
