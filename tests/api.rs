//! The crate's API as a user meets it: typed and zero-copy access, layouts, partial reads,
//! verification policies, the path readers and the atomic path writer, graphs and values.

mod common;

use std::path::Path;

use amberfile::{
    ArrayId, ArraySpec, Compression, DType, Graph, Limits, Node, Order, ReadOptions, Reader, Value, Verify,
    WriteOptions, Writer,
};
use common::error_class;
use ndarray::{s, Array, ArrayD, IxDyn, ShapeBuilder};

const ZSTD: Compression = Compression::Zstd {
    level: 3,
    shuffle: true,
};

/// A graph whose root lists one array node per id, in order.
fn graph_of(ids: &[ArrayId]) -> Graph {
    let mut graph = Graph::new();
    let nodes: Vec<_> = ids.iter().map(|&id| graph.add(Node::Array(id))).collect();
    let root = graph.add(Node::List(&nodes));
    graph.set_root(root);
    graph
}

/// One file holding `arrays` (spec, bytes, storage) in order.
fn file_with(options: WriteOptions, arrays: &[(ArraySpec, Vec<u8>, Compression)]) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), options).unwrap();
    let ids: Vec<ArrayId> = arrays
        .iter()
        .map(|(spec, bytes, compression)| writer.write_array_with(spec, bytes, *compression).unwrap())
        .collect();
    writer.finish(&graph_of(&ids)).unwrap()
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn array_id(reader: &Reader<impl AsRef<[u8]>>, index: usize) -> ArrayId {
    reader.arrays().nth(index).expect("array in file").id()
}

/// True if `ptr` points into the reader's file bytes, i.e. nothing was copied.
fn borrows_from_file<T>(reader: &Reader<impl AsRef<[u8]>>, ptr: *const T) -> bool {
    reader.bytes().as_ptr_range().contains(&ptr.cast())
}

fn read_options(verify: Verify) -> ReadOptions {
    ReadOptions {
        verify,
        ..ReadOptions::default()
    }
}

#[test]
fn typed_accessors_fail_with_type_mismatch_on_another_dtype() {
    let bytes = file_with(
        WriteOptions::default(),
        &[
            (ArraySpec::c(DType::Float64, &[2]), vec![0; 16], Compression::None),
            (ArraySpec::c(DType::Float32, &[2]), vec![0; 8], ZSTD),
            (ArraySpec::c(DType::Bool, &[2]), vec![0, 1], Compression::None),
        ],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let (f64s, f32s, bools) = (array_id(&reader, 0), array_id(&reader, 1), array_id(&reader, 2));
    assert_eq!(error_class(reader.view::<f32>(f64s)), "TypeMismatch");
    assert_eq!(error_class(reader.read::<i64>(f64s)), "TypeMismatch");
    assert_eq!(error_class(reader.read::<u64>(f64s)), "TypeMismatch");
    // The type is checked before storage: a compressed array reports the mismatch, not NotZeroCopy.
    assert_eq!(error_class(reader.view::<f64>(f32s)), "TypeMismatch");
    assert_eq!(error_class(reader.read::<f64>(f32s)), "TypeMismatch");
    assert_eq!(error_class(reader.view::<u8>(bools)), "TypeMismatch");
    assert_eq!(reader.read::<f64>(f64s).unwrap().len(), 2);
}

#[test]
fn compressed_arrays_decode_on_read_but_refuse_zero_copy() {
    let values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
    let bytes = file_with(
        WriteOptions::default(),
        &[(
            ArraySpec::c(DType::Float32, &[10, 100]),
            f32_bytes(values.clone()),
            ZSTD,
        )],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let id = array_id(&reader, 0);
    assert_eq!(error_class(reader.view::<f32>(id)), "NotZeroCopy");
    assert_eq!(error_class(reader.zero_copy_bytes(id)), "NotZeroCopy");
    let array = reader.read::<f32>(id).unwrap();
    assert!(
        !array.is_view(),
        "a compressed array is decoded into an owned array"
    );
    assert_eq!(array.shape(), &[10, 100]);
    assert_eq!(array.iter().copied().collect::<Vec<f32>>(), values);
}

#[test]
fn raw_arrays_are_read_without_copying() {
    let bytes = file_with(
        WriteOptions::default(),
        &[(
            ArraySpec::c(DType::Float32, &[3, 4]),
            f32_bytes((0..12).map(|i| i as f32)),
            Compression::None,
        )],
    );
    let aligned = amberfile::AlignedBytes::copy_from(&bytes);
    let reader = Reader::from_bytes(aligned.as_ref(), ReadOptions::default()).unwrap();
    let id = array_id(&reader, 0);
    let array = reader.read::<f32>(id).unwrap();
    assert!(array.is_view());
    assert!(borrows_from_file(&reader, array.as_ptr()));
    assert_eq!(array[[2, 3]], 11.0);
    let view = reader.view::<f32>(id).unwrap();
    assert!(borrows_from_file(&reader, view.as_ptr()));
}

#[test]
fn fortran_ordered_arrays_map_zero_copy_with_column_major_strides() {
    let data: Vec<f64> = (0..24).map(f64::from).collect();
    let fortran = Array::from_shape_vec((2, 3, 4).f(), data).unwrap();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let id = writer.write_ndarray(&fortran).unwrap();
    let bytes = writer.finish(&graph_of(&[id])).unwrap();

    let aligned = amberfile::AlignedBytes::copy_from(&bytes);
    let reader = Reader::from_bytes(aligned.as_ref(), ReadOptions::default()).unwrap();
    assert_eq!(reader.array_info(id).unwrap().order(), Order::F);
    let view = reader.view::<f64>(id).unwrap();
    assert!(borrows_from_file(&reader, view.as_ptr()));
    assert_eq!(view.shape(), &[2, 3, 4]);
    assert_eq!(view.strides(), &[1, 2, 6]);
    assert_eq!(view, fortran.into_dyn());
}

#[test]
fn write_ndarray_accepts_c_fortran_and_strided_layouts() {
    let c_order = Array::from_shape_fn((4, 6), |(i, j)| (i * 10 + j) as i32);
    let fortran = c_order.t(); // F-contiguous view of the same memory
    let sliced = c_order.slice(s![1..4, ..;2]);
    let permuted =
        Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as i32).permuted_axes([2, 0, 1]);
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let ids = [
        writer.write_ndarray(&c_order).unwrap(),
        writer.write_ndarray(&fortran).unwrap(),
        writer.write_ndarray(&sliced).unwrap(),
        writer.write_ndarray(&permuted).unwrap(),
    ];
    let bytes = writer.finish(&graph_of(&ids)).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let expected: [(ArrayD<i32>, Order); 4] = [
        (c_order.clone().into_dyn(), Order::C),
        (fortran.to_owned().into_dyn(), Order::F),
        (sliced.to_owned().into_dyn(), Order::C),
        (permuted.clone().into_dyn(), Order::C),
    ];
    for (id, (want, order)) in ids.into_iter().zip(expected) {
        assert_eq!(reader.array_info(id).unwrap().order(), order);
        assert_eq!(reader.read::<i32>(id).unwrap(), want);
    }
}

/// Interesting byte offsets of a 4000-byte array in 64-byte blocks: ends, block boundaries and
/// their neighbours, and the short last block.
const RANGE_POINTS: [u64; 14] = [0, 1, 3, 63, 64, 65, 127, 128, 640, 641, 1999, 3968, 3999, 4000];

#[test]
fn read_byte_range_equals_the_slice_of_the_full_bytes() {
    let logical = f32_bytes((0..1000).map(|i| (i as f32).sin()));
    let options = WriteOptions {
        block_size: 64,
        ..WriteOptions::default()
    };
    let spec = ArraySpec::c(DType::Float32, &[1000]);
    let bytes = file_with(
        options,
        &[
            (spec.clone(), logical.clone(), ZSTD),
            (spec, logical.clone(), Compression::None),
        ],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let compressed = reader.array_info(array_id(&reader, 0)).unwrap();
    assert_eq!(
        compressed.extents().len(),
        63,
        "62 full blocks and a short last one"
    );
    for id in [array_id(&reader, 0), array_id(&reader, 1)] {
        for &start in &RANGE_POINTS {
            for &end in RANGE_POINTS.iter().filter(|&&end| end >= start) {
                let got = reader.read_byte_range(id, start..end).unwrap();
                assert_eq!(
                    &*got,
                    &logical[start as usize..end as usize],
                    "range {start}..{end}"
                );
            }
        }
        assert_eq!(error_class(reader.read_byte_range(id, 0..4001)), "OutOfBounds");
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = reader.read_byte_range(id, 10..5);
        assert_eq!(error_class(backwards), "OutOfBounds");
    }
}

#[test]
fn read_byte_range_decodes_only_the_blocks_it_touches() {
    let logical = f32_bytes((0..1000).map(|i| i as f32));
    let options = WriteOptions {
        block_size: 64,
        ..WriteOptions::default()
    };
    let mut bytes = file_with(
        options,
        &[(ArraySpec::c(DType::Float32, &[1000]), logical.clone(), ZSTD)],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let block = reader.array_info(array_id(&reader, 0)).unwrap().extents()[10];
    drop(reader);
    // Corrupt block 10 (logical bytes 640..704): only reads that touch it may fail.
    bytes[block.offset as usize] ^= 0xff;
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let id = array_id(&reader, 0);
    for range in [0..640, 704..4000, 100..200, 704..705, 639..640] {
        let got = reader.read_byte_range(id, range.clone()).unwrap();
        assert_eq!(&*got, &logical[range.start as usize..range.end as usize]);
    }
    for range in [639..641, 640..704, 703..704, 0..4000] {
        let err = reader.read_byte_range(id, range).unwrap_err();
        assert_eq!(
            (err.class(), err.offset()),
            ("ChecksumMismatch", Some(block.offset))
        );
    }
    assert_eq!(error_class(reader.read_bytes(id)), "ChecksumMismatch");
}

/// A file with two raw arrays whose first array's stored bytes were corrupted on disk, and the
/// offset of that extent.
fn file_with_corrupted_first_array() -> (Vec<u8>, u64) {
    let spec = ArraySpec::c(DType::Float32, &[16]);
    let mut bytes = file_with(
        WriteOptions::default(),
        &[
            (
                spec.clone(),
                f32_bytes((0..16).map(|i| i as f32)),
                Compression::None,
            ),
            (spec, f32_bytes((0..16).map(|i| -(i as f32))), Compression::None),
        ],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let offset = reader.arrays().next().unwrap().extents()[0].offset;
    drop(reader);
    bytes[offset as usize + 5] ^= 0x40;
    (bytes, offset)
}

#[test]
fn verify_on_open_rejects_a_corrupted_raw_extent_at_open() {
    let (bytes, offset) = file_with_corrupted_first_array();
    let err = Reader::from_bytes(&bytes, read_options(Verify::OnOpen)).unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(offset)));
}

#[test]
fn verify_on_first_access_opens_then_fails_when_the_array_is_touched() {
    let (bytes, offset) = file_with_corrupted_first_array();
    let reader = Reader::from_bytes(&bytes, read_options(Verify::OnFirstAccess)).unwrap();
    let (corrupt, intact) = (array_id(&reader, 0), array_id(&reader, 1));
    assert_eq!(reader.view::<f32>(intact).unwrap()[3], -3.0);
    let err = reader.view::<f32>(corrupt).unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(offset)));
    // A failed check is not remembered as a success.
    assert_eq!(error_class(reader.zero_copy_bytes(corrupt)), "ChecksumMismatch");
    assert_eq!(error_class(reader.read::<f32>(corrupt)), "ChecksumMismatch");
    assert_eq!(
        error_class(reader.read_byte_range(corrupt, 60..64)),
        "ChecksumMismatch"
    );
    assert_eq!(error_class(reader.verify()), "ChecksumMismatch");
}

#[test]
fn verify_explicit_hands_out_data_and_verify_catches_the_corruption() {
    let (bytes, offset) = file_with_corrupted_first_array();
    let reader = Reader::from_bytes(&bytes, read_options(Verify::Explicit)).unwrap();
    let corrupt = array_id(&reader, 0);
    let handed_out = reader.zero_copy_bytes(corrupt).unwrap();
    assert_eq!(handed_out, &bytes[offset as usize..offset as usize + 64]);
    assert!(reader.view::<f32>(corrupt).is_ok());
    let err = reader.verify().unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(offset)));
    assert_eq!(error_class(reader.verify_checksums()), "ChecksumMismatch");
}

#[test]
fn plain_reads_check_every_checksum_whatever_the_policy() {
    let (bytes, offset) = file_with_corrupted_first_array();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.amber");
    std::fs::write(&path, &bytes).unwrap();
    let err = Reader::open(&path, read_options(Verify::Explicit)).unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(offset)));
    let err = Reader::from_reader(bytes.as_slice(), read_options(Verify::Explicit)).unwrap_err();
    assert_eq!(err.class(), "ChecksumMismatch");
}

#[test]
fn read_into_copies_raw_and_decodes_compressed_arrays_checking_their_crcs() {
    // 5 MiB raw (copied in pieces on all cores) and the same bytes compressed in 1 MiB blocks.
    let values = f32_bytes((0..5 << 18).map(|i| (i % 1000) as f32));
    let spec = ArraySpec::c(DType::Float32, &[5 << 18]);
    let bytes = file_with(
        WriteOptions::default(),
        &[
            (spec.clone(), values.clone(), Compression::None),
            (spec, values.clone(), ZSTD),
        ],
    );
    let reader = Reader::from_bytes(&bytes, read_options(Verify::Explicit)).unwrap();
    for index in 0..2 {
        let mut out = vec![0u8; values.len()];
        reader.read_into(array_id(&reader, index), &mut out).unwrap();
        assert!(out == values, "array {index} read back different bytes");
        let err = reader
            .read_into(array_id(&reader, index), &mut out[1..])
            .unwrap_err();
        assert_eq!(err.class(), "LengthMismatch");
    }

    // R57: neither a raw copy nor a decode may allocate past the reader's limit.
    let limits = Limits {
        max_decoded_bytes: values.len() as u64 - 1,
        ..Limits::default()
    };
    let small = Reader::from_bytes(
        &bytes,
        ReadOptions {
            limits,
            ..read_options(Verify::Explicit)
        },
    )
    .unwrap();
    for index in 0..2 {
        let id = array_id(&small, index);
        assert_eq!(error_class(small.materialized_len(id)), "LimitExceeded");
        let mut out = vec![0u8; values.len()];
        assert_eq!(error_class(small.read_into(id, &mut out)), "LimitExceeded");
        assert_eq!(reader.materialized_len(id).unwrap(), values.len());
    }

    // A flipped byte deep inside the raw extent is caught even under Verify::Explicit.
    let raw = reader.arrays().next().unwrap().extents()[0].offset;
    let mut corrupt = bytes.clone();
    corrupt[raw as usize + (3 << 20) + 7] ^= 0x01;
    let reader = Reader::from_bytes(&corrupt, read_options(Verify::Explicit)).unwrap();
    let mut out = vec![0u8; values.len()];
    let err = reader.read_into(array_id(&reader, 0), &mut out).unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(raw)));
}

#[test]
fn compressed_arrays_are_written_alike_from_any_thread_and_inside_a_one_thread_pool() {
    // Many blocks: outside a pool they are compressed in order while the writer waits; inside a
    // pool's own thread (here the only one) the writer must not wait on itself.
    let values = f32_bytes((0..3 << 18).map(|i| (i % 777) as f32));
    let write = || {
        file_with(
            WriteOptions {
                block_size: 64 << 10,
                ..WriteOptions::default()
            },
            &[(ArraySpec::c(DType::Float32, &[3 << 18]), values.clone(), ZSTD)],
        )
    };
    let outside = write();
    let one_core = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let inside = one_core.install(write);
    assert!(
        outside == inside,
        "the writer is not deterministic across threads"
    );
    let reader = Reader::from_bytes(&outside, read_options(Verify::OnOpen)).unwrap();
    let id = array_id(&reader, 0);
    assert_eq!(reader.array_info(id).unwrap().extents().len(), 48);
    let mut out = vec![0u8; values.len()];
    reader.read_into(id, &mut out).unwrap();
    assert!(out == values);
}

#[test]
fn verify_array_checks_one_array_on_any_thread_and_read_into_then_only_copies() {
    let (bytes, offset) = file_with_corrupted_first_array();
    let reader = Reader::from_bytes(&bytes, read_options(Verify::Explicit)).unwrap();
    let corrupt = array_id(&reader, 0);
    // Whatever the policy, the check is made, refused, and not remembered as passed.
    let err = std::thread::scope(|s| s.spawn(|| reader.verify_array(corrupt)).join().unwrap()).unwrap_err();
    assert_eq!((err.class(), err.offset()), ("ChecksumMismatch", Some(offset)));
    assert!(!reader.is_verified(corrupt));
    let mut out = vec![0u8; reader.array_info(corrupt).unwrap().nbytes() as usize];
    assert_eq!(
        error_class(reader.read_into(corrupt, &mut out)),
        "ChecksumMismatch"
    );

    let values = f32_bytes((0..1000).map(|i| i as f32));
    let bytes = file_with(
        WriteOptions::default(),
        &[(
            ArraySpec::c(DType::Float32, &[1000]),
            values.clone(),
            Compression::None,
        )],
    );
    let reader = Reader::from_bytes(&bytes, read_options(Verify::Explicit)).unwrap();
    let id = array_id(&reader, 0);
    assert!(!reader.is_verified(id));
    std::thread::scope(|s| s.spawn(|| reader.verify_array(id)).join().unwrap()).unwrap();
    assert!(reader.is_verified(id));
    let mut out = vec![0u8; values.len()];
    reader.read_into(id, &mut out).unwrap();
    assert!(out == values);
    assert_eq!(
        error_class(reader.verify_array(ArrayId::from_index(7))),
        "InvalidIndex"
    );
    assert!(!reader.is_verified(ArrayId::from_index(7)));
}

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

fn sample_value() -> Value {
    Value::Map(vec![
        (Value::Str("coef_".into()), Value::Array(first_array_id())),
        (
            Value::Int(7),
            Value::Object {
                type_name: "sklearn.tree._tree.Tree".into(),
                args: Some(Box::new(Value::Tuple(vec![
                    Value::Int(4),
                    Value::from_i128(1 << 80),
                ]))),
                state: Some(Box::new(Value::Map(vec![
                    (Value::Str("max_depth".into()), Value::None),
                    (Value::Bool(true), Value::Float(-0.25)),
                    (Value::Complex(1.0, -2.0), Value::Bytes(vec![0, 255])),
                ]))),
            },
        ),
        (
            Value::Tuple(vec![Value::Str("ключ".into()), Value::Int(-1)]),
            Value::List(vec![
                Value::Set(vec![Value::Int(1)]),
                Value::FrozenSet(vec![]),
                Value::Global("numpy.float64".into()),
                Value::ObjectArray {
                    order: Order::F,
                    shape: vec![2, 1],
                    items: vec![Value::None, Value::Str("🦀".into())],
                },
                Value::from_i128(-(1 << 70)),
            ]),
        ),
    ])
}

/// The id of the first array of a file, obtained the only way users can: from a writer.
fn first_array_id() -> ArrayId {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    writer.write_ndarray(&ndarray::arr1(&[0u8])).unwrap()
}

#[test]
fn values_round_trip_through_a_file() {
    let value = sample_value();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    writer.write_ndarray(&ndarray::arr1(&[1.0f32, 2.0])).unwrap();
    let bytes = writer.finish(&Graph::from_value(&value)).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let back = reader
        .graph()
        .to_value(reader.root(), &Limits::default())
        .unwrap();
    assert_eq!(back, value);
}

#[test]
fn to_value_rejects_cycles_and_respects_the_depth_limit() {
    let mut graph = Graph::new();
    let list = graph.reserve();
    let map_key = graph.add(Node::Str("self"));
    let map = graph.add(Node::Map(&[[map_key, list]]));
    graph.set(list, Node::List(&[map]));
    assert_eq!(
        error_class(graph.to_value(list, &Limits::default())),
        "InvalidGraph"
    );

    // 300 nested lists: deeper than the default limit of 256.
    let mut value = Value::None;
    for _ in 0..299 {
        value = Value::List(vec![value]);
    }
    let graph = Graph::from_value(&value);
    let root = graph.root().unwrap();
    assert_eq!(
        error_class(graph.to_value(root, &Limits::default())),
        "LimitExceeded"
    );
    let deep_enough = Limits {
        max_value_depth: 300,
        ..Limits::default()
    };
    assert_eq!(graph.to_value(root, &deep_enough).unwrap(), value);
}

/// A node id that exists in a larger graph but not in the one it is used in.
fn dangling_node_id() -> amberfile::NodeId {
    let mut other = Graph::new();
    for _ in 0..10 {
        other.add(Node::None);
    }
    other.add(Node::None)
}

#[test]
fn invalid_graphs_are_refused_with_invalid_graph() {
    let finish = |graph: &Graph| {
        let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        writer.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
        writer.finish(graph).map(drop)
    };

    let mut dangling = Graph::new();
    let root = dangling.add(Node::Tuple(&[dangling_node_id()]));
    dangling.set_root(root);

    let mut missing_array = Graph::new();
    let mut two_arrays = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    two_arrays.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
    let second = two_arrays.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
    let root = missing_array.add(Node::Array(second));
    missing_array.set_root(root);

    let mut no_root = Graph::new();
    no_root.add(Node::None);

    let mut bad_object_array = Graph::new();
    let item = bad_object_array.add(Node::None);
    let root = bad_object_array.add(Node::ObjectArray {
        order: Order::C,
        shape: &[2, 2],
        items: &[item, item, item],
    });
    bad_object_array.set_root(root);

    let mut bad_big_int = Graph::new();
    let root = bad_big_int.add(Node::BigInt(&[5, 0, 0, 0, 0, 0, 0, 0, 0]));
    bad_big_int.set_root(root);

    for graph in [dangling, missing_array, no_root, bad_object_array, bad_big_int] {
        assert_eq!(error_class(graph.validate(1)), "InvalidGraph");
        assert_eq!(error_class(finish(&graph)), "InvalidGraph");
    }
}

#[test]
fn write_array_refuses_bytes_that_do_not_match_the_shape() {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let spec = ArraySpec::c(DType::Int32, &[2, 3]);
    for len in [0, 23, 25] {
        let err = writer.write_array(&spec, &vec![0; len]).unwrap_err();
        assert_eq!(err.class(), "LengthMismatch", "{len} bytes");
        let err = writer.write_array_with(&spec, &vec![0; len], ZSTD).unwrap_err();
        assert_eq!(err.class(), "LengthMismatch", "{len} bytes, compressed");
    }
    assert!(writer.write_array(&spec, &[0; 24]).is_ok());
}

#[test]
fn bool_views_reject_bytes_other_than_zero_and_one() {
    let mut bytes = file_with(
        WriteOptions::default(),
        &[(
            ArraySpec::c(DType::Bool, &[4]),
            vec![0, 1, 1, 0],
            Compression::None,
        )],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let id = array_id(&reader, 0);
    assert_eq!(
        reader.view::<bool>(id).unwrap().as_slice(),
        Some(&[false, true, true, false][..])
    );
    let extent = reader.array_info(id).unwrap().extents()[0];
    drop(reader);

    // A hostile file: a bool byte of 2, with every CRC recomputed so only the value is wrong.
    bytes[extent.offset as usize + 2] = 2;
    common::recompute_extent_crc(&mut bytes, &extent);
    let reader = Reader::from_bytes(&bytes, read_options(Verify::OnOpen)).unwrap();
    assert_eq!(error_class(reader.view::<bool>(id)), "InvalidArray");
    assert_eq!(error_class(reader.read::<bool>(id)), "InvalidArray");
    assert_eq!(
        &*reader.read_bytes(id).unwrap(),
        &[0, 1, 2, 0],
        "the raw bytes stay readable"
    );
}

#[test]
fn the_streaming_writer_refuses_bool_bytes_other_than_zero_and_one() {
    // 20 MiB: the bad byte near the end arrives after earlier pieces reached the sink.
    let len = 20 << 20;
    let spec = ArraySpec::c(DType::Bool, &[len as u64]);
    let mut bytes = vec![1u8; len];
    bytes[len - 10] = 2;
    for compression in [Compression::None, ZSTD] {
        let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        let good = writer
            .write_array_from_reader(
                &ArraySpec::c(DType::Bool, &[3]),
                [0u8, 1, 1].as_slice(),
                compression,
            )
            .unwrap();
        let err = writer
            .write_array_from_reader(&spec, bytes.as_slice(), compression)
            .unwrap_err();
        assert_eq!(err.class(), "InvalidArray", "{compression:?}");
        // Part of the array is in the sink: the file has a hole, so it cannot be finished.
        assert_eq!(
            error_class(writer.write_array(&ArraySpec::c(DType::Bool, &[1]), &[1])),
            "InvalidLayout"
        );
        assert_eq!(error_class(writer.finish(&graph_of(&[good]))), "InvalidLayout");
    }
}

#[test]
fn a_writer_whose_array_failed_before_writing_anything_still_finishes() {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let spec = ArraySpec::c(DType::Float32, &[4]);
    assert_eq!(
        error_class(writer.write_array(&spec, &[0u8; 15])),
        "LengthMismatch"
    );
    let id = writer
        .write_array(&spec, &f32_bytes([1.0, 2.0, 3.0, 4.0]))
        .unwrap();
    let bytes = writer.finish(&graph_of(&[id])).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(
        reader.view::<f32>(id).unwrap().as_slice().unwrap(),
        &[1.0, 2.0, 3.0, 4.0]
    );
}

#[test]
fn the_writer_stores_bool_elements_as_zero_or_one_only() {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let spec = ArraySpec::c(DType::Bool, &[3]);
    for compression in [Compression::None, ZSTD] {
        let err = writer
            .write_array_with(&spec, &[0, 1, 2], compression)
            .unwrap_err();
        assert_eq!(err.class(), "InvalidArray");
    }
    assert!(writer.write_array(&spec, &[0, 1, 1]).is_ok());
}

#[test]
fn writer_options_are_validated() {
    for alignment in [0, 32, 96, 1 << 25] {
        let options = WriteOptions {
            alignment,
            ..WriteOptions::default()
        };
        assert_eq!(error_class(Writer::new(Vec::new(), options)), "InvalidOptions");
    }
    for block_size in [0, (1 << 30) + 1] {
        let options = WriteOptions {
            block_size,
            ..WriteOptions::default()
        };
        assert_eq!(error_class(Writer::new(Vec::new(), options)), "InvalidOptions");
    }
}

#[test]
fn zero_dimensional_and_empty_arrays_read_back() {
    let bytes = file_with(
        WriteOptions::default(),
        &[
            (
                ArraySpec::c(DType::Int64, &[]),
                42i64.to_le_bytes().to_vec(),
                Compression::None,
            ),
            (ArraySpec::c(DType::Int64, &[3, 0]), Vec::new(), ZSTD),
        ],
    );
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let scalar = reader.view::<i64>(array_id(&reader, 0)).unwrap();
    assert_eq!(scalar.shape(), &[] as &[usize]);
    assert_eq!(scalar[IxDyn(&[])], 42);
    let empty = reader.read::<i64>(array_id(&reader, 1)).unwrap();
    assert_eq!(empty.shape(), &[3, 0]);
}
