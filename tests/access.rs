//! Typed and zero-copy access: element types are checked before storage, raw arrays are
//! borrowed from the file, compressed ones decoded, and bool bytes other than 0 and 1 refused.

use amber_test_support::{
    error_class,
    fixtures::{array_id, borrows_from_file, f32_bytes, file_with, read_options, ZSTD},
    surgery,
};
use amberfile::{ArraySpec, Compression, DType, ReadOptions, Reader, Verify, WriteOptions};
use ndarray::IxDyn;

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
    surgery::recompute_extent_crc(&mut bytes, &extent);
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
