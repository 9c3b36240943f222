//! Writes the time and memory bombs of issue 11 into a directory, to measure the CLI on them:
//!
//! ```text
//! cargo run --release --example bombs -- DIR [--huge]
//! time amber inspect DIR/bigint_refs.amber > /dev/null
//! ```
//!
//! - `bigint_refs`: a list of 20,000 references to one 1,024-byte big int;
//! - `bigint_distinct`: a list of 20,000 distinct maximal (1,024-byte) big ints;
//! - `long_key`: a map of 1,000 entries, all keyed by one 4 MiB string node;
//! - `long_str_refs`: a list of 20,000 references to one 1 MiB string;
//! - `many_nodes`: 1,000,000 small strings, ints and floats in lists (rendering vs file size);
//! - with `--huge`, `shuffled_1g`: one float32 array stored as a single 1 GiB zstd+shuffle block.

use std::path::Path;

use amberfile::{ArraySpec, Compression, DType, Graph, Node, WriteOptions, Writer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: bombs DIR [--huge]");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).expect("create the output directory");

    let mut g = Graph::new();
    let big = g.add(Node::BigInt(&maximal_big_int(0)));
    let root = g.add(Node::List(&vec![big; 20_000]));
    write(dir, "bigint_refs", &g, root);

    let mut g = Graph::new();
    let ids: Vec<_> = (0..20_000)
        .map(|i| g.add(Node::BigInt(&maximal_big_int(i))))
        .collect();
    let root = g.add(Node::List(&ids));
    write(dir, "bigint_distinct", &g, root);

    let mut g = Graph::new();
    let key = g.add(Node::Str(&"k".repeat(4 << 20)));
    let entries: Vec<_> = (0..1_000).map(|i| [key, g.add(Node::Int(i))]).collect();
    let root = g.add(Node::Map(&entries));
    write(dir, "long_key", &g, root);

    let mut g = Graph::new();
    let text = g.add(Node::Str(&"s".repeat(1 << 20)));
    let root = g.add(Node::List(&vec![text; 20_000]));
    write(dir, "long_str_refs", &g, root);

    let mut g = Graph::new();
    let lists: Vec<_> = (0..1_000)
        .map(|i| {
            let items: Vec<_> = (0..1_000)
                .map(|j| match j % 3 {
                    0 => g.add(Node::Str(&format!("s{i}.{j}"))),
                    1 => g.add(Node::Int(i * j)),
                    _ => g.add(Node::Float(j as f64 / 7.0)),
                })
                .collect();
            g.add(Node::List(&items))
        })
        .collect();
    let root = g.add(Node::List(&lists));
    write(dir, "many_nodes", &g, root);

    if args.iter().any(|a| a == "--huge") {
        let options = WriteOptions {
            compression: Compression::Zstd {
                level: 1,
                shuffle: true,
            },
            block_size: 1 << 30,
            ..WriteOptions::default()
        };
        let values: Vec<u8> = (0..(1u32 << 28)).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let mut writer = Writer::create(dir.join("shuffled_1g.amber"), options).expect("create");
        let spec = ArraySpec::c(DType::Float32, &[1 << 28]);
        let array = writer.write_array(&spec, &values).expect("write the array");
        let mut g = Graph::new();
        let root = g.add(Node::Array(array));
        g.set_root(root);
        writer.commit(&g).expect("commit");
    }
}

/// 2^8191 - 1 - `i`: a positive big int of the longest length the default limits allow.
fn maximal_big_int(i: u32) -> Vec<u8> {
    let mut bytes = vec![0xff; 1024];
    bytes[1023] = 0x7f;
    bytes[..4].copy_from_slice(&(u32::MAX - i).to_le_bytes());
    bytes
}

fn write(dir: &Path, name: &str, graph: &Graph, root: amberfile::NodeId) {
    let mut graph = graph.clone();
    graph.set_root(root);
    let writer = Writer::create(dir.join(format!("{name}.amber")), WriteOptions::default()).expect("create");
    writer.commit(&graph).expect("commit");
}
