//! Writer validation and determinism: bytes that do not match the shape, bool bytes other than
//! 0 and 1 (whole or streamed), bad options, and the same bytes from any thread.

use amber_test_support::{
    error_class,
    fixtures::{array_id, f32_bytes, file_with, graph_of, read_options, ZSTD},
};
use amberfile::{ArraySpec, Compression, DType, ReadOptions, Reader, Verify, WriteOptions, Writer};

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
