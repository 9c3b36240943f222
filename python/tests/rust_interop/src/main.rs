//! Cross-language check for the Python package, driven by `tests/test_interop.py`.
//!
//! - `render <path>`: validates a file (every CRC, every block) and prints its canonical JSON,
//!   which the Python test compares with what it wrote.
//! - `write <path>`: writes a file with the Rust writer for the Python test to load: a map with
//!   a C-order float64 matrix, an F-order int32 matrix (zstd), a string, a big int and a list.
//! - `hostile <kind> <path>`: writes a valid file whose graph the Python encoder never makes
//!   (a tuple containing itself, equal dict keys, ...), to test how the loader refuses it.

use std::process::ExitCode;

use amberfile::{Compression, Graph, Node, ReadOptions, Reader, Value, Verify, WriteOptions, Writer};

fn render(path: &str) -> amberfile::Result<String> {
    let options = ReadOptions {
        verify: Verify::OnOpen,
        ..ReadOptions::default()
    };
    let reader = Reader::open(path, options)?;
    reader.verify()?;
    amberfile::render::canonical_json_string(&reader)
}

fn write(path: &str) -> amberfile::Result<()> {
    let mut writer = Writer::create(path, WriteOptions::default())?;
    let matrix = writer.write_ndarray(&ndarray::arr2(&[[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]]))?;
    let fortran = ndarray::arr2(&[[1i32, 2], [3, 4], [5, 6]]).reversed_axes();
    let spec = amberfile::ArraySpec {
        dtype: amberfile::DType::Int32,
        shape: vec![2, 3],
        order: amberfile::Order::F,
    };
    let fortran_bytes: Vec<u8> = fortran.t().iter().flat_map(|v| v.to_le_bytes()).collect();
    let compressed = writer.write_array_with(
        &spec,
        &fortran_bytes,
        Compression::Zstd {
            level: 3,
            shuffle: true,
        },
    )?;
    let mut graph = Graph::new();
    let entries = [
        ("matrix", Value::Array(matrix)),
        ("fortran", Value::Array(compressed)),
        ("name", Value::Str("written by rust".into())),
        ("big", Value::from_i128(1 << 70)),
        (
            "items",
            Value::List(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::None,
                Value::Bool(true),
            ]),
        ),
    ];
    let pairs: Vec<_> = entries
        .iter()
        .map(|(key, value)| [graph.add(Node::Str(key)), graph.add_value(value)])
        .collect();
    let root = graph.add(Node::Map(&pairs));
    graph.set_root(root);
    writer.commit(&graph)
}

/// Graphs a hostile writer can make: valid files that Python cannot or must not rebuild.
fn hostile(kind: &str, path: &str) -> amberfile::Result<()> {
    let mut writer = Writer::create(path, WriteOptions::default())?;
    let mut graph = Graph::new();
    let root = match kind {
        "tuple-cycle" => {
            let tuple = graph.reserve();
            graph.set(tuple, Node::Tuple(&[tuple]));
            tuple
        }
        "duplicate-keys" => {
            let (a, b) = (graph.add(Node::Str("k")), graph.add(Node::Str("k")));
            let one = graph.add(Node::Int(1));
            graph.add(Node::Map(&[[a, one], [b, one]]))
        }
        "unhashable-set" => {
            let list = graph.add(Node::List(&[]));
            graph.add(Node::Set(&[list]))
        }
        "scalar-not-0d" | "scalar-wrong-type" => {
            let array = writer.write_ndarray(&ndarray::arr1(&[1.5f64, 2.5]))?;
            let array = if kind == "scalar-not-0d" {
                array
            } else {
                writer.write_ndarray(&ndarray::arr0(1.5f64))?
            };
            let state = graph.add(Node::Array(array));
            let type_name = if kind == "scalar-not-0d" {
                "numpy.float64"
            } else {
                "numpy.int8"
            };
            graph.add(Node::Object {
                type_name,
                args: None,
                state: Some(state),
            })
        }
        "dtype-from-string" => {
            let name = graph.add(Node::Str("<f8"));
            let args = graph.add(Node::Tuple(&[name]));
            graph.add(Node::Object {
                type_name: "numpy.dtype",
                args: Some(args),
                state: None,
            })
        }
        "args-not-a-tuple" => {
            let args = graph.add(Node::Str("12"));
            graph.add(Node::Object {
                type_name: "builtins.int",
                args: Some(args),
                state: None,
            })
        }
        "wide-dag" => {
            // 64 levels, each list holding the next twice: 2^64 paths, 65 nodes.
            let mut below = graph.add(Node::None);
            for _ in 0..64 {
                below = graph.add(Node::List(&[below, below]));
            }
            below
        }
        "object-array-cycle" => {
            let array = graph.reserve();
            let one = graph.add(Node::Int(1));
            graph.set(
                array,
                Node::ObjectArray {
                    order: amberfile::Order::C,
                    shape: &[2],
                    items: &[one, array],
                },
            );
            array
        }
        other => {
            eprintln!("unknown hostile kind {other}");
            std::process::exit(2);
        }
    };
    graph.set_root(root);
    writer.commit(&graph)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("render"), Some(path)) => render(path).map(|json| println!("{json}")),
        (Some("write"), Some(path)) => write(path),
        (Some("hostile"), Some(kind)) if args.len() == 4 => hostile(kind, &args[3]),
        _ => {
            eprintln!("usage: amberfile-python-interop render|write <path> | hostile <kind> <path>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
