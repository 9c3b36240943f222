//! A representative set of small valid Amber files, built with the crate's own writer.
//!
//! The corruption sweeps (`tests/corruption.rs`) and the fuzz harness (`fuzz/`) start from the
//! same files: every node kind, raw and compressed (plain and shuffled, several blocks) arrays,
//! C and F order, records, strings, empty arrays, a shared reference and a cycle, and a large
//! alignment. The files stay small so a sweep over every bit of them is cheap.

use std::path::{Path, PathBuf};

use amberfile::{ArraySpec, Compression, DType, Field, Graph, Node, Order, TimeUnit, WriteOptions, Writer};

/// `(name, bytes)` of every sample file.
pub fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty_graph", empty_graph()),
        ("scalars", scalars()),
        ("raw_arrays", raw_arrays()),
        ("compressed_arrays", compressed_arrays()),
        ("records_and_strings", records_and_strings()),
        ("shared_and_cyclic", shared_and_cyclic()),
        ("page_aligned", page_aligned()),
    ]
}

/// The sample files, then the conformance suite's golden files (`conformance/valid/*.amber`,
/// sorted) when the repository has them: every valid file a sweep or a fuzz corpus starts from.
pub fn valid_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = sample_files()
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect();
    files.extend(files_in(&repository().join("conformance/valid"), Some("amber")));
    files
}

/// The repository's top folder.
pub fn repository() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    path.canonicalize().unwrap_or(path)
}

/// `(path, bytes)` of the files in `dir` (with `extension`, if given), sorted; none if absent.
pub fn files_in(dir: &Path, extension: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| extension.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect()
}

fn finish(writer: Writer<Vec<u8>>, graph: &Graph) -> Vec<u8> {
    writer.finish(graph).expect("sample graphs are valid")
}

fn writer(options: WriteOptions) -> Writer<Vec<u8>> {
    Writer::new(Vec::new(), options).expect("sample options are valid")
}

fn empty_graph() -> Vec<u8> {
    let mut graph = Graph::new();
    let root = graph.add(Node::None);
    graph.set_root(root);
    finish(writer(WriteOptions::default()), &graph)
}

fn scalars() -> Vec<u8> {
    let mut graph = Graph::new();
    let big = [0u8, 0, 0, 0, 0, 0, 0, 0, 1];
    let items = [
        graph.add(Node::Bool(true)),
        graph.add(Node::Int(-7)),
        graph.add(Node::BigInt(&big)),
        graph.add(Node::Float(f64::from_bits(0x7ff8_0000_0000_0001))),
        graph.add(Node::Complex(-0.0, 2.5)),
        graph.add(Node::Str("héllo")),
        graph.add(Node::Bytes(b"\x00\xff")),
        graph.add(Node::Global("sklearn.tree._tree.Tree")),
    ];
    let tuple = graph.add(Node::Tuple(&items[..3]));
    let set = graph.add(Node::Set(&items[3..5]));
    let frozen = graph.add(Node::FrozenSet(&items[5..]));
    let object = graph.add(Node::Object {
        type_name: "collections.OrderedDict",
        args: Some(tuple),
        state: None,
    });
    let object_array = graph.add(Node::ObjectArray {
        order: Order::F,
        shape: &[2, 1],
        items: &[set, frozen],
    });
    let root = graph.add(Node::List(&[object, object_array, items[7]]));
    graph.set_root(root);
    finish(writer(WriteOptions::default()), &graph)
}

fn raw_arrays() -> Vec<u8> {
    let mut writer = writer(WriteOptions::default());
    let matrix = writer
        .write_ndarray(&ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0]]))
        .unwrap();
    let fortran = writer
        .write_array(
            &ArraySpec {
                dtype: DType::Int32,
                shape: vec![2, 3],
                order: Order::F,
            },
            bytemuck::cast_slice(&[1i32, -2, 3, -4, 5, -6]),
        )
        .unwrap();
    let flags = writer
        .write_array(&ArraySpec::c(DType::Bool, &[3]), &[1, 0, 1])
        .unwrap();
    let halves = writer
        .write_ndarray(&ndarray::arr1(&[half::f16::from_f32(0.5), half::f16::NAN]))
        .unwrap();
    let empty = writer
        .write_array(&ArraySpec::c(DType::UInt8, &[0, 4]), &[])
        .unwrap();
    let mut graph = Graph::new();
    let ids: Vec<_> = [matrix, fortran, flags, halves, empty]
        .into_iter()
        .map(|a| graph.add(Node::Array(a)))
        .collect();
    let root = graph.add(Node::List(&ids));
    graph.set_root(root);
    finish(writer, &graph)
}

fn compressed_arrays() -> Vec<u8> {
    let options = WriteOptions {
        block_size: 64,
        ..WriteOptions::default()
    };
    let mut writer = writer(options);
    let ramp: Vec<f32> = (0..40).map(|i| i as f32 * 0.25).collect();
    let shuffled = writer
        .write_array_with(
            &ArraySpec::c(DType::Float32, &[40]),
            bytemuck::cast_slice(&ramp),
            Compression::Zstd {
                level: 3,
                shuffle: true,
            },
        )
        .unwrap();
    let counts: Vec<u16> = (0..50).map(|i| (i * 37) as u16).collect();
    let plain = writer
        .write_array_with(
            &ArraySpec::c(DType::UInt16, &[5, 10]),
            bytemuck::cast_slice(&counts),
            Compression::Zstd {
                level: 1,
                shuffle: false,
            },
        )
        .unwrap();
    let empty = writer
        .write_array_with(
            &ArraySpec::c(DType::Int64, &[0]),
            &[],
            Compression::Zstd {
                level: 3,
                shuffle: true,
            },
        )
        .unwrap();
    let raw = writer
        .write_array(&ArraySpec::c(DType::Int8, &[3]), &[1, 2, 3])
        .unwrap();
    let mut graph = Graph::new();
    let keys = [
        graph.add(Node::Str("shuffled")),
        graph.add(Node::Str("plain")),
        graph.add(Node::Str("empty")),
        graph.add(Node::Str("raw")),
    ];
    let values = [shuffled, plain, empty, raw].map(|a| graph.add(Node::Array(a)));
    let entries: Vec<[_; 2]> = keys.into_iter().zip(values).map(|(k, v)| [k, v]).collect();
    let root = graph.add(Node::Map(&entries));
    graph.set_root(root);
    finish(writer, &graph)
}

fn records_and_strings() -> Vec<u8> {
    let mut writer = writer(WriteOptions::default());
    let point = DType::record(
        16,
        vec![
            Field {
                name: "x".into(),
                offset: 0,
                dtype: DType::Float32,
                shape: vec![],
            },
            Field {
                name: "tag".into(),
                offset: 4,
                dtype: DType::Bytes(3),
                shape: vec![2],
            },
        ],
    );
    let points = writer
        .write_array(&ArraySpec::c(point, &[2]), &[7u8; 32])
        .unwrap();
    let words = writer
        .write_array(
            &ArraySpec::c(DType::Unicode(2), &[2]),
            &[b'a', 0, 0, 0, b'b', 0, 0, 0, 0x41, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    let times = writer
        .write_array(
            &ArraySpec::c(
                DType::Datetime64 {
                    unit: TimeUnit::Second,
                    count: 1,
                },
                &[1],
            ),
            &1_700_000_000i64.to_le_bytes(),
        )
        .unwrap();
    let mut graph = Graph::new();
    let ids = [points, words, times].map(|a| graph.add(Node::Array(a)));
    let root = graph.add(Node::Tuple(&ids));
    graph.set_root(root);
    finish(writer, &graph)
}

fn shared_and_cyclic() -> Vec<u8> {
    let mut graph = Graph::new();
    let shared = graph.add(Node::Str("shared"));
    let cycle = graph.reserve();
    graph.set(cycle, Node::List(&[shared, cycle, shared]));
    let root = graph.add(Node::Map(&[[shared, cycle]]));
    graph.set_root(root);
    finish(writer(WriteOptions::default()), &graph)
}

fn page_aligned() -> Vec<u8> {
    let options = WriteOptions {
        alignment: 4096,
        ..WriteOptions::default()
    };
    let mut writer = writer(options);
    let a = writer.write_ndarray(&ndarray::arr1(&[1u64, 2, 3])).unwrap();
    let b = writer
        .write_ndarray(&ndarray::arr1(&[num_complex::Complex::new(1.0f32, -1.0)]))
        .unwrap();
    let mut graph = Graph::new();
    let ids = [a, b].map(|a| graph.add(Node::Array(a)));
    let root = graph.add(Node::List(&ids));
    graph.set_root(root);
    finish(writer, &graph)
}
