//! Memory layouts and partial reads: C, Fortran and strided arrays written and viewed, byte
//! ranges that decode only the blocks they touch, and reads into a caller's buffer.

use amber_test_support::{
    error_class,
    fixtures::{array_id, borrows_from_file, f32_bytes, file_with, graph_of, read_options, ZSTD},
};
use amberfile::{
    ArraySpec, Compression, DType, Limits, Order, ReadOptions, Reader, Verify, WriteOptions, Writer,
};
use ndarray::{s, Array, ArrayD, ShapeBuilder};

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
