//! Real files: the path readers (`open`, `open_mmap`) and the atomic path writer (a temporary
//! file, renamed over the target on commit, removed on failure or drop).

use std::path::Path;

use amber_test_support::{
    error_class,
    fixtures::{array_id, borrows_from_file, dangling_node_id, graph_of},
};
use amberfile::{Graph, Node, ReadOptions, Reader, WriteOptions, Writer};

fn write_f32_file(path: &Path, values: &[f32], alignment: u32) {
    let mut writer = Writer::create(
        path,
        WriteOptions {
            alignment,
            fsync: true,
            ..WriteOptions::default()
        },
    )
    .unwrap();
    let id = writer.write_ndarray(&ndarray::aview1(values)).unwrap();
    writer.commit(&graph_of(&[id])).unwrap();
}

fn f32_values<S: AsRef<[u8]>>(reader: &Reader<S>) -> Vec<f32> {
    reader
        .view::<f32>(array_id(reader, 0))
        .unwrap()
        .iter()
        .copied()
        .collect()
}

#[test]
fn open_and_open_mmap_read_real_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.amber");
    let values: Vec<f32> = (0..5000).map(|i| i as f32 / 7.0).collect();
    write_f32_file(&path, &values, 4096);

    let opened = Reader::open(&path, ReadOptions::default()).unwrap();
    assert_eq!(opened.header().alignment, 4096);
    assert_eq!(f32_values(&opened), values);

    // SAFETY: the file is in this test's private directory and nothing modifies it while mapped.
    #[allow(unsafe_code)]
    let mapped = unsafe { Reader::open_mmap(&path, ReadOptions::default()) }.unwrap();
    let view = mapped.view::<f32>(array_id(&mapped, 0)).unwrap();
    assert_eq!(
        view.as_ptr() as usize % 4096,
        0,
        "mapped raw arrays are page aligned"
    );
    assert!(borrows_from_file(&mapped, view.as_ptr()));
    assert_eq!(view.iter().copied().collect::<Vec<f32>>(), values);
    mapped.verify().unwrap();

    assert_eq!(
        error_class(Reader::open(dir.path().join("missing"), ReadOptions::default())),
        "Io"
    );
}

/// Entries of `dir`, by name.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_path_writer_shows_the_target_only_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("model.amber");
    let mut writer = Writer::create(&target, WriteOptions::default()).unwrap();
    let id = writer.write_ndarray(&ndarray::arr1(&[1u16, 2, 3])).unwrap();
    assert!(!target.exists());
    let pending = entries(dir.path());
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0].starts_with(".amber-") && pending[0].ends_with(".tmp"));
    writer.commit(&graph_of(&[id])).unwrap();
    assert_eq!(entries(dir.path()), ["model.amber"]);

    let mut in_memory = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let id = in_memory.write_ndarray(&ndarray::arr1(&[1u16, 2, 3])).unwrap();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        in_memory.finish(&graph_of(&[id])).unwrap()
    );
}

#[test]
fn a_dropped_path_writer_leaves_neither_target_nor_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("model.amber");
    let mut writer = Writer::create(&target, WriteOptions::default()).unwrap();
    writer.write_ndarray(&ndarray::arr1(&[1.5f64; 1000])).unwrap();
    drop(writer);
    assert!(entries(dir.path()).is_empty());

    // A failed commit (the graph refers to a missing node) also cleans up.
    let mut writer = Writer::create(&target, WriteOptions::default()).unwrap();
    let mut graph = Graph::new();
    let dangling = dangling_node_id();
    let root = graph.add(Node::List(&[dangling]));
    graph.set_root(root);
    writer.write_ndarray(&ndarray::arr1(&[1u8])).unwrap();
    assert_eq!(error_class(writer.commit(&graph)), "InvalidGraph");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn rewriting_a_mapped_file_leaves_the_old_mapping_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.amber");
    let old: Vec<f32> = vec![1.0; 4096];
    write_f32_file(&path, &old, 64);
    // SAFETY: this process only replaces the file by rename (Writer::create + commit), which the
    // contract allows; nothing modifies or truncates the mapped inode.
    #[allow(unsafe_code)]
    let old_reader = unsafe { Reader::open_mmap(&path, ReadOptions::default()) }.unwrap();
    assert_eq!(f32_values(&old_reader), old);

    let new: Vec<f32> = vec![2.0; 100];
    write_f32_file(&path, &new, 64);
    assert_eq!(
        f32_values(&old_reader),
        old,
        "the old mapping still sees the old file"
    );
    old_reader.verify().unwrap();
    let new_reader = Reader::open(&path, ReadOptions::default()).unwrap();
    assert_eq!(f32_values(&new_reader), new);
}

#[test]
fn committing_replaces_files_and_never_blocks_on_what_the_target_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.amber");
    for round in 0..3 {
        let values = vec![round as f32; 1000 * (round + 1)];
        write_f32_file(&path, &values, 64);
        assert_eq!(
            f32_values(&Reader::open(&path, ReadOptions::default()).unwrap()),
            values
        );
    }
    // A FIFO at the target: the writer must not open it for reading (that would block until
    // a writer appears); the rename simply replaces it.
    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo.amber");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        write_f32_file(&fifo, &[5.0; 10], 64);
        assert_eq!(
            f32_values(&Reader::open(&fifo, ReadOptions::default()).unwrap()),
            vec![5.0; 10]
        );
    }
}
