//! The `amber` binary, run for real (assert_cmd) on files the crate writes: inspect, verify,
//! render, extract, convert, and the exit statuses users script against (0 ok, 1 invalid
//! file, 2 usage or I/O error). Interop with numpy's and safetensors' own writers lives in
//! `python/tests/test_cli_interop.py`.

use std::path::{Path, PathBuf};

use amber_test_support::fixtures::object_with_state;
use amber_test_support::sklearn_node_dtype;
use amberfile::{
    render, ArrayId, ArraySpec, Compression, DType, Field, Graph, Node, Order, ReadOptions, Reader,
    WriteOptions, Writer,
};
use assert_cmd::Command;
use serde_json::Value as Json;

fn amber() -> Command {
    Command::cargo_bin("amber").expect("the amber binary of this package")
}

/// `amber extract FILE PATH -o OUT`.
fn extract(file: &Path, path: &str, out: &Path) -> Command {
    let mut command = amber();
    command.arg("extract").arg(file).arg(path).arg("-o").arg(out);
    command
}

/// `amber convert FROM TO`.
fn convert(from: &Path, to: &Path) -> Command {
    let mut command = amber();
    command.arg("convert").arg(from).arg(to);
    command
}

const NODE_DESCR: &str = "[('left_child', '<i8'), ('right_child', '<i8'), ('feature', '<i8'), \
('threshold', '<f8'), ('impurity', '<f8'), ('n_node_samples', '<i8'), \
('weighted_n_node_samples', '<f8'), ('missing_go_to_left', '|u1'), ('', '|V7')]";

/// The bytes of each test array, in the order they are written.
struct Sample {
    raw: Vec<u8>,
    packed: Vec<u8>,
    nodes: Vec<u8>,
    fortran: Vec<u8>,
}

fn sample_bytes() -> Sample {
    let floats: Vec<f64> = (0..600).map(|i| f64::from(i) * 0.25).collect();
    let ints: Vec<i32> = (0..4000).map(|i| i % 97).collect();
    let nodes: Vec<u8> = (0..3 * 64).map(|i| (i * 7 % 251) as u8).collect();
    let fortran: Vec<u16> = (1..=6).collect();
    Sample {
        raw: bytemuck::cast_slice(&floats).to_vec(),
        packed: bytemuck::cast_slice(&ints).to_vec(),
        nodes,
        fortran: bytemuck::cast_slice(&fortran).to_vec(),
    }
}

/// A forest-like file: an object whose state holds a list of trees (each an object with a
/// record `nodes` array, all sharing one compressed array), plus a raw matrix and a Fortran
/// matrix. Returns the arrays' ids in order raw, packed, nodes, fortran.
fn write_model(path: &Path) -> [ArrayId; 4] {
    let s = sample_bytes();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let raw = writer
        .write_array(&ArraySpec::c(DType::Float64, &[20, 30]), &s.raw)
        .unwrap();
    let packed = writer
        .write_array_with(
            &ArraySpec::c(DType::Int32, &[4000]),
            &s.packed,
            Compression::Zstd {
                level: 3,
                shuffle: true,
            },
        )
        .unwrap();
    let nodes = writer
        .write_array(&ArraySpec::c(sklearn_node_dtype(), &[3]), &s.nodes)
        .unwrap();
    let fortran_spec = ArraySpec {
        dtype: DType::UInt16,
        shape: vec![2, 3],
        order: Order::F,
    };
    let fortran = writer.write_array(&fortran_spec, &s.fortran).unwrap();

    let mut g = Graph::new();
    let nodes_key = g.add(Node::Str("nodes"));
    let nodes_node = g.add(Node::Array(nodes));
    let counts_key = g.add(Node::Str("counts"));
    let counts_node = g.add(Node::Array(packed));
    let tree_state = g.add(Node::Map(&[[nodes_key, nodes_node], [counts_key, counts_node]]));
    let tree = g.add(Node::Object {
        type_name: "sklearn.tree._tree.Tree",
        args: None,
        state: Some(tree_state),
    });
    let tree_key = g.add(Node::Str("tree_"));
    let mut estimators = Vec::new();
    for _ in 0..5 {
        let state = g.add(Node::Map(&[[tree_key, tree]]));
        estimators.push(g.add(Node::Object {
            type_name: "sklearn.tree.DecisionTreeClassifier",
            args: None,
            state: Some(state),
        }));
    }
    let list = g.add(Node::List(&estimators));
    let pairs = [
        ("estimators_", list),
        ("coef_", g.add(Node::Array(raw))),
        ("fortran", g.add(Node::Array(fortran))),
        ("n_estimators", g.add(Node::Int(5))),
    ];
    let root = object_with_state(&mut g, "sklearn.ensemble.RandomForestClassifier", &pairs);
    g.set_root(root);
    std::fs::write(path, writer.finish(&g).unwrap()).unwrap();
    [raw, packed, nodes, fortran]
}

/// A flat map of names to arrays (what .npz and .safetensors hold).
fn write_flat(path: &Path, compression: Compression) {
    let s = sample_bytes();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let specs = [
        ("weights", ArraySpec::c(DType::Float64, &[20, 30]), &s.raw),
        ("counts", ArraySpec::c(DType::Int32, &[4000]), &s.packed),
        ("mask", ArraySpec::c(DType::Bool, &[4]), &vec![1, 0, 0, 1]),
    ];
    let mut g = Graph::new();
    let mut entries = Vec::new();
    for (name, spec, bytes) in specs {
        let id = writer.write_array_with(&spec, bytes, compression).unwrap();
        entries.push([g.add(Node::Str(name)), g.add(Node::Array(id))]);
    }
    let root = g.add(Node::Map(&entries));
    g.set_root(root);
    std::fs::write(path, writer.finish(&g).unwrap()).unwrap();
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A temporary folder holding [`write_model`]'s file as `forest.amber`, and that file's path.
fn model_in_temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir();
    let file = dir.path().join("forest.amber");
    write_model(&file);
    (dir, file)
}

/// The header dict text and the data of a .npy file.
fn split_npy(bytes: &[u8]) -> (String, &[u8]) {
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "numpy aligns the data to 64 bytes");
    (
        String::from_utf8(bytes[10..10 + len].to_vec()).unwrap(),
        &bytes[10 + len..],
    )
}

/// Asserts that `text` contains each of `needles`, showing the whole text when one is missing.
fn assert_contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

#[test]
fn inspect_shows_header_tree_collapsed_siblings_and_totals() {
    let (_dir, file) = model_in_temp_dir();
    let assert = amber().arg("inspect").arg(&file).assert().success();
    let text = stdout_of(&assert);
    assert_contains_all(
        &text,
        &[
            "Amber 1.0, alignment 64",
            "object sklearn.ensemble.RandomForestClassifier",
            "\"estimators_\": list (5 items)",
            "record[8 fields, itemsize 64] shape [3] order C raw 192 B",
            "int32 shape [4000] order C zstd+shuffle 15.62 KiB →",
            "uint16 shape [2, 3] order F raw",
            // The first tree is shown, the other four collapse into one line.
            "… 4 more object sklearn.tree.DecisionTreeClassifier ([1..4]",
            "(shared: node #",
            "Totals: 4 arrays",
        ],
    );
    // --all expands every sibling; each later tree refers back to the first one's Tree.
    let all = stdout_of(&amber().args(["inspect", "--all"]).arg(&file).assert().success());
    assert_eq!(
        all.matches("shown above at 'estimators_/0/tree_'").count(),
        4,
        "{all}"
    );
    // --depth 1 stops under the root's entries.
    let shallow = stdout_of(
        &amber()
            .args(["inspect", "--depth", "1"])
            .arg(&file)
            .assert()
            .success(),
    );
    assert!(
        shallow.contains("(deeper than --depth)") && !shallow.contains("\"tree_\""),
        "{shallow}"
    );
}

#[test]
fn inspect_json_is_machine_readable() {
    let (_dir, file) = model_in_temp_dir();
    let assert = amber().args(["inspect", "--json"]).arg(&file).assert().success();
    let doc: Json = serde_json::from_str(&stdout_of(&assert)).expect("inspect --json prints JSON");
    assert_eq!(doc["version"], "1.0");
    assert_eq!(doc["alignment"], 64);
    assert_eq!(doc["totals"]["arrays"], 4);
    assert_eq!(doc["totals"]["raw_bytes"], 4800 + 16000 + 192 + 12);
    let arrays = doc["arrays"].as_array().unwrap();
    assert_eq!(arrays[2]["dtype_name"], "record[8 fields, itemsize 64]");
    assert_eq!(arrays[1]["codec"], "zstd+shuffle");
    assert_eq!(arrays[3]["order"], "F");
    assert_eq!(arrays[2]["paths"][0], "estimators_/0/tree_/nodes");
    assert_eq!(arrays[0]["paths"][0], "coef_");
    let entries = doc["entries"].as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["kind"] == "reference" && e["same_as"] == "estimators_/0/tree_"));
}

#[test]
fn verify_accepts_a_good_file_and_names_the_class_of_a_corrupted_one() {
    let (dir, file) = model_in_temp_dir();
    let ok = amber().arg("verify").arg(&file).assert().code(0);
    assert!(stdout_of(&ok).contains("OK: "));

    // One flipped bit inside the raw matrix's data (at the first aligned offset, 64).
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[64 + 100] ^= 0x10;
    let bad = dir.path().join("bad.amber");
    std::fs::write(&bad, &bytes).unwrap();
    let failed = amber().arg("verify").arg(&bad).assert().code(1);
    assert_eq!(stdout_of(&failed).lines().next(), Some("ChecksumMismatch"));
    let message = stderr_of(&failed);
    assert!(message.contains("at offset 0x40"), "{message}");
    assert!(message.contains("damaged in storage or in transfer"), "{message}");

    // A file cut short is Truncated or BadMagic, never a crash.
    let cut = dir.path().join("cut.amber");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let failed = amber().arg("verify").arg(&cut).assert().code(1);
    assert_eq!(stdout_of(&failed).lines().next(), Some("BadMagic"));
}

#[test]
fn render_is_the_librarys_canonical_json() {
    let (_dir, file) = model_in_temp_dir();
    let bytes = std::fs::read(&file).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let expected = render::canonical_json_string(&reader).unwrap();
    let assert = amber().arg("render").arg(&file).assert().success();
    assert_eq!(stdout_of(&assert), format!("{expected}\n"));
    let conformance =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/invalid/n_R13_metadata_crc.amber");
    let failed = amber().arg("render").arg(conformance).assert().code(1);
    assert_eq!(stdout_of(&failed), "ChecksumMismatch\n");
}

#[test]
fn extract_writes_npy_for_raw_compressed_record_and_fortran_arrays() {
    let (dir, file) = model_in_temp_dir();
    let s = sample_bytes();
    let cases: [(&str, String, &[u8]); 4] = [
        (
            "coef_",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (20, 30), }".into(),
            &s.raw,
        ),
        (
            "estimators_/2/tree_/counts",
            "{'descr': '<i4', 'fortran_order': False, 'shape': (4000,), }".into(),
            &s.packed,
        ),
        (
            "estimators_/3/tree_/nodes",
            format!("{{'descr': {NODE_DESCR}, 'fortran_order': False, 'shape': (3,), }}"),
            &s.nodes,
        ),
        (
            "/fortran",
            "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3), }".into(),
            &s.fortran,
        ),
    ];
    for (path, dict, data) in cases {
        let out = dir.path().join("out.npy");
        extract(&file, path, &out).assert().success();
        let written = std::fs::read(&out).unwrap();
        let (header, body) = split_npy(&written);
        assert!(header.starts_with(&dict), "{path}: {header}");
        assert!(header.ends_with('\n'));
        assert_eq!(body, data, "{path}");
    }
}

#[test]
fn extract_explains_bad_paths_and_unrepresentable_dtypes() {
    let (dir, file) = model_in_temp_dir();
    let out = dir.path().join("out.npy");
    let run = |path: &str| extract(&file, path, &out).assert();
    let missing = run("estimators_/9/tree_/nodes").code(2);
    assert!(stderr_of(&missing).contains("index 9 is past the end of a list of 5 items"));
    let no_key = run("estimators_/0/tree_/leaves").code(2);
    assert!(
        stderr_of(&no_key).contains("keys: nodes, counts"),
        "{}",
        stderr_of(&no_key)
    );
    let not_array = run("estimators_").code(2);
    assert!(stderr_of(&not_array).contains("leads to a list, not an array"));

    // Outputs get a new file's usual permissions, not a temporary file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        run("coef_").success();
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&out), mode(&reference));
        std::fs::remove_file(&out).unwrap();
    }
    assert!(!out.exists(), "no output file is left behind after a failure");

    let bf16 = dir.path().join("bf16.amber");
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let id = writer
        .write_array(&ArraySpec::c(DType::BFloat16, &[2]), &[0, 0x3f, 0, 0x40])
        .unwrap();
    let mut g = Graph::new();
    let root = g.add(Node::Array(id));
    g.set_root(root);
    std::fs::write(&bf16, writer.finish(&g).unwrap()).unwrap();
    let refused = extract(&bf16, "", &out).assert().code(1);
    assert!(stderr_of(&refused).contains("bfloat16 has no numpy equivalent"));
}

#[test]
fn usage_errors_exit_2_and_every_subcommand_has_help() {
    amber().assert().code(2);
    amber().arg("frobnicate").assert().code(2);
    amber().args(["extract", "x.amber"]).assert().code(2);
    amber()
        .args(["convert", "a.npy", "b.amber", "--shuffle"])
        .assert()
        .code(2);
    amber()
        .args(["convert", "a.npy", "b.amber", "--alignment", "100"])
        .assert()
        .code(2);
    amber().args(["convert", "a.txt", "b.amber"]).assert().code(2);
    amber()
        .args(["verify", "/nonexistent/file.amber"])
        .assert()
        .code(2);
    for sub in ["inspect", "verify", "render", "extract", "convert"] {
        let help = amber().args([sub, "--help"]).assert().success();
        assert!(
            stdout_of(&help).contains("Exit status"),
            "{sub} --help documents exit codes"
        );
    }
    let help = stdout_of(&amber().args(["extract", "--help"]).assert().success());
    assert!(help.contains("estimators_/3/tree_/nodes") && help.contains("'~1' stands for '/'"));
}

/// What a conversion must keep of one named array.
#[derive(Debug, PartialEq)]
struct NamedArray {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
    order: Order,
    bytes: Vec<u8>,
}

/// Every named array of a flat Amber file.
fn flat_contents(path: &Path) -> Vec<NamedArray> {
    let bytes = std::fs::read(path).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let g = reader.graph();
    let entries = g.node(reader.root()).as_map().unwrap();
    entries
        .iter()
        .map(|[k, v]| {
            let id = g.node(*v).as_array().unwrap();
            let info = reader.array_info(id).unwrap();
            NamedArray {
                name: g.node(*k).as_str().unwrap().to_owned(),
                dtype: info.dtype().clone(),
                shape: info.shape().to_vec(),
                order: info.order(),
                bytes: reader.read_bytes(id).unwrap().into_owned(),
            }
        })
        .collect()
}

#[test]
fn convert_round_trips_through_npz_and_safetensors() {
    let dir = temp_dir();
    for compression in [
        Compression::None,
        Compression::Zstd {
            level: 3,
            shuffle: true,
        },
    ] {
        let original = dir.path().join("flat.amber");
        write_flat(&original, compression);
        for (middle, options) in [
            ("flat.npz", vec![]),
            ("flat.safetensors", vec!["--compress", "5", "--shuffle"]),
        ] {
            let middle: PathBuf = dir.path().join(middle);
            let back = dir.path().join("back.amber");
            convert(&original, &middle).assert().success();
            convert(&middle, &back)
                .args(&options)
                .args(["--alignment", "4096"])
                .assert()
                .success();
            assert_eq!(
                flat_contents(&back),
                flat_contents(&original),
                "{}",
                middle.display()
            );
            // And back out again: the same bytes as the first conversion.
            let again = dir
                .path()
                .join(format!("again.{}", middle.extension().unwrap().to_str().unwrap()));
            convert(&back, &again).assert().success();
            assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&middle).unwrap());
        }
    }
}

#[test]
fn convert_names_what_cannot_be_represented() {
    let (dir, file) = model_in_temp_dir();
    let out = dir.path().join("out.npz");
    let refused = convert(&file, &out).assert().code(1);
    assert!(
        stderr_of(&refused).contains("the graph's root is an object"),
        "{}",
        stderr_of(&refused)
    );
    assert!(!out.exists());

    // A Fortran-ordered matrix cannot go to safetensors (C order only).
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let spec = ArraySpec {
        dtype: DType::UInt16,
        shape: vec![2, 3],
        order: Order::F,
    };
    let id = writer.write_array(&spec, &[0; 12]).unwrap();
    let mut g = Graph::new();
    let entry = [g.add(Node::Str("m")), g.add(Node::Array(id))];
    let root = g.add(Node::Map(&[entry]));
    g.set_root(root);
    let fortran = dir.path().join("fortran.amber");
    std::fs::write(&fortran, writer.finish(&g).unwrap()).unwrap();
    let refused = convert(&fortran, &dir.path().join("m.safetensors"))
        .assert()
        .code(1);
    assert!(stderr_of(&refused).contains("array 'm' is in Fortran order"));

    // A hostile .npy header is an invalid input, not a crash.
    let hostile = dir.path().join("hostile.npy");
    let mut bytes = b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'shape': (-1,)".to_vec();
    bytes.resize(42, b' ');
    std::fs::write(&hostile, bytes).unwrap();
    let refused = convert(&hostile, &dir.path().join("h.amber")).assert().code(1);
    assert!(stderr_of(&refused).contains("hostile.npy"));
}

#[test]
fn inspect_converts_a_shared_big_int_once_and_json_refers_to_it() {
    let dir = temp_dir();
    let file = dir.path().join("bigints.amber");
    // 2^8191 - 1, the longest big int the default limits allow, referenced 20,000 times.
    let mut maximal = vec![0xff; 1024];
    maximal[1023] = 0x7f;
    let mut graph = Graph::new();
    let big = graph.add(Node::BigInt(&maximal));
    let root = graph.add(Node::List(&vec![big; 20_000]));
    graph.set_root(root);
    Writer::create(&file, WriteOptions::default())
        .unwrap()
        .commit(&graph)
        .unwrap();
    let decimal = render::big_int_decimal(&maximal);
    assert!(decimal.len() == 2466 && decimal.starts_with("5453"), "{decimal}");

    let text = stdout_of(&amber().arg("inspect").arg(&file).assert().success());
    assert!(text.contains(&format!("[0]: bigint {decimal}")), "{text}");
    assert!(text.contains("… 19999 more bigint ([1..19999]"), "{text}");

    // JSON: the first use carries the value, the other 19,999 refer to its path.
    let assert = amber().args(["inspect", "--json"]).arg(&file).assert().success();
    let doc: Json = serde_json::from_str(&stdout_of(&assert)).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 20_001);
    assert_eq!(entries[1]["value"], decimal.as_str());
    assert_eq!(entries[1]["shared"], true);
    let references = entries
        .iter()
        .filter(|e| e["kind"] == "reference" && e["same_as"] == "0")
        .count();
    assert_eq!(references, 19_999);
}

#[test]
fn inspect_text_shortens_a_long_key_shared_by_many_entries() {
    let dir = temp_dir();
    let file = dir.path().join("long_key.amber");
    let mut graph = Graph::new();
    let key = graph.add(Node::Str(&"k".repeat(1 << 20)));
    let entries: Vec<_> = (0..100).map(|i| [key, graph.add(Node::Int(i))]).collect();
    let root = graph.add(Node::Map(&entries));
    graph.set_root(root);
    Writer::create(&file, WriteOptions::default())
        .unwrap()
        .commit(&graph)
        .unwrap();
    let text = stdout_of(&amber().arg("inspect").arg(&file).assert().success());
    assert_eq!(
        text.matches(&format!("\"{}\"…: int ", "k".repeat(60))).count(),
        100,
        "{text}"
    );
    assert!(text.len() < 100 * 200, "{} bytes of text", text.len());
}

#[test]
fn extract_refuses_a_huge_npy_header_and_leaves_no_temporary_file() {
    let dir = temp_dir();
    let file = dir.path().join("wide.amber");
    // Four one-byte fields with 300 KiB names: the .npy header would exceed 1 MiB.
    let fields = (0..4)
        .map(|i| Field {
            name: format!("{i}{}", "n".repeat(300 << 10)).into(),
            offset: i,
            dtype: DType::UInt8,
            shape: vec![],
        })
        .collect();
    let mut writer = Writer::create(&file, WriteOptions::default()).unwrap();
    let array = writer
        .write_array(&ArraySpec::c(DType::record(4, fields), &[2]), &[0; 8])
        .unwrap();
    let mut graph = Graph::new();
    let root = graph.add(Node::Array(array));
    graph.set_root(root);
    writer.commit(&graph).unwrap();

    let out = dir.path().join("wide.npy");
    let failed = extract(&file, "", &out).assert().code(1);
    assert_eq!(stdout_of(&failed).lines().next(), Some("LimitExceeded"));
    assert!(
        stderr_of(&failed).contains(".npy header would take"),
        "{}",
        stderr_of(&failed)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("wide.amber")]);
}

/// A file of about 1 MiB whose output repeats a 1 MiB string 300 times, for `render` (a record
/// dtype naming it, shared by 300 arrays) or `inspect --json` (a key naming 300 entries' paths).
fn write_repeating_name(path: &Path, in_dtype: bool) {
    let long: std::sync::Arc<str> = "n".repeat(1 << 20).into();
    let mut writer = Writer::create(path, WriteOptions::default()).unwrap();
    let mut graph = Graph::new();
    let items: Vec<_> = if in_dtype {
        let field = Field {
            name: long.clone(),
            offset: 0,
            dtype: DType::UInt8,
            shape: vec![],
        };
        let dtype = DType::record(1, vec![field]);
        (0..300)
            .map(|_| {
                let array = writer
                    .write_array(&ArraySpec::c(dtype.clone(), &[0]), &[])
                    .unwrap();
                graph.add(Node::Array(array))
            })
            .collect()
    } else {
        let key = graph.add(Node::Str(&long));
        (0..300)
            .map(|i| {
                let value = graph.add(Node::Int(i));
                graph.add(Node::Map(&[[key, value]]))
            })
            .collect()
    };
    let root = graph.add(Node::List(&items));
    graph.set_root(root);
    writer.commit(&graph).unwrap();
}

#[test]
fn render_and_inspect_json_refuse_output_far_larger_than_the_file_before_printing() {
    let dir = temp_dir();
    for (name, in_dtype, command) in [
        ("dtype.amber", true, &["render"][..]),
        ("dtype.amber", true, &["inspect", "--json"][..]),
        ("key.amber", false, &["inspect", "--json"][..]),
    ] {
        let file = dir.path().join(name);
        if !file.exists() {
            write_repeating_name(&file, in_dtype);
        }
        let failed = amber().args(command).arg(&file).assert().code(1);
        assert_eq!(stdout_of(&failed), "LimitExceeded\n", "{command:?} {name}");
        assert!(stderr_of(&failed).contains("budget"), "{}", stderr_of(&failed));
    }
}
