//! Verification policies: when a corrupted extent is caught under `Verify::OnOpen`,
//! `OnFirstAccess` and `Explicit`, that the plain-read paths check every CRC whatever the
//! policy, and that a failed check is never remembered as passed.

use amber_test_support::{
    error_class,
    fixtures::{array_id, f32_bytes, file_with, read_options},
};
use amberfile::{ArrayId, ArraySpec, Compression, DType, ReadOptions, Reader, Verify, WriteOptions};

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
