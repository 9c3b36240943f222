//! The read layers against each other: a partial reader gives the same answers as the whole-file
//! readers except for when it applies R55 (spec 9.6), layer 1 reads no data byte, a partial open
//! reads nothing else, and rule order holds across the split of the layout walk.

use std::sync::Mutex;

use super::*;
use crate::format::tables::extent_record_offset;
use crate::format::trailer::{self as trailer_fields, METADATA_CRC_OFFSET};
use crate::format::{crc32, TRAILER_LEN};
use crate::{ArraySpec, Compression, Node, WriteOptions, Writer};

/// A file behind positional reads only (no [`ByteSource::in_memory`]), recording every read.
struct Recording {
    bytes: Vec<u8>,
    reads: Mutex<Vec<(u64, usize)>>,
    prefetches: Mutex<Vec<Prefetch>>,
}

/// A [`ByteSource::prefetch`] call: how many reads preceded it, and its ranges.
type Prefetch = (usize, Vec<(u64, u64)>);

impl Recording {
    fn new(bytes: &[u8]) -> Self {
        Recording {
            bytes: bytes.to_vec(),
            reads: Mutex::new(Vec::new()),
            prefetches: Mutex::new(Vec::new()),
        }
    }

    fn reads(&self) -> Vec<(u64, usize)> {
        self.reads.lock().unwrap().clone()
    }
}

impl ByteSource for Recording {
    fn file_len(&self) -> Result<u64> {
        Ok(self.bytes.len() as u64)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.reads.lock().unwrap().push((offset, buf.len()));
        self.bytes.as_slice().read_exact_at(offset, buf)
    }

    fn prefetch(&self, ranges: &[(u64, u64)]) {
        let reads = self.reads.lock().unwrap().len();
        self.prefetches.lock().unwrap().push((reads, ranges.to_vec()));
    }
}

/// Three raw u8 arrays of 8 bytes at alignment 64 (extents at 64, 128, 192, padding 72..128 and
/// 136..192), then (outside Miri) one zstd array.
pub(super) fn sample() -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    let mut ids: Vec<_> = (1..=3u8)
        .map(|i| {
            writer
                .write_array(&ArraySpec::c(DType::UInt8, &[8]), &[i; 8])
                .unwrap()
        })
        .collect();
    // zstd is C code, which Miri cannot run.
    if !cfg!(miri) {
        let values: Vec<u8> = (0..200u8).collect();
        ids.push(
            writer
                .write_array_with(
                    &ArraySpec::c(DType::UInt8, &[200]),
                    &values,
                    Compression::Zstd {
                        level: 1,
                        shuffle: false,
                    },
                )
                .unwrap(),
        );
    }
    let mut graph = Graph::new();
    let nodes: Vec<_> = ids.into_iter().map(|id| graph.add(Node::Array(id))).collect();
    let root = graph.add(Node::List(&nodes));
    graph.set_root(root);
    writer.finish(&graph).unwrap()
}

/// What one step gave: its bytes, or its error as (class, offset).
type Outcome = std::result::Result<Vec<u8>, (&'static str, Option<u64>)>;

/// The outcome of opening and then of reading everything.
fn outcomes<S: ByteSource>(opened: Result<Reader<S>>) -> Vec<Outcome> {
    let as_pair = |e: Error| (e.class(), e.offset());
    let reader = match opened {
        Ok(reader) => reader,
        Err(e) => return vec![Err(as_pair(e))],
    };
    let mut all = vec![reader.verify().map(|()| Vec::new()).map_err(as_pair)];
    for info in reader.arrays() {
        all.push(
            reader
                .read_bytes(info.id())
                .map(|b| b.into_owned())
                .map_err(as_pair),
        );
        let half = info.nbytes() / 2;
        all.push(
            reader
                .read_byte_range(info.id(), half..info.nbytes())
                .map(|b| b.into_owned())
                .map_err(as_pair),
        );
    }
    all
}

#[test]
fn metadata_reads_the_trailer_the_header_and_the_metadata_section_and_nothing_else() {
    let bytes = sample();
    let source = Recording::new(&bytes);
    let metadata = Metadata::from_source(&source, &Limits::default()).unwrap();
    let len = bytes.len() as u64;
    let trailer = metadata.trailer();
    assert_eq!(
        source.reads(),
        [
            (len - TRAILER_LEN, TRAILER_LEN as usize),
            (0, crate::format::HEADER_LEN as usize),
            (trailer.metadata_offset, trailer.metadata_length as usize),
        ]
    );
    let in_memory = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    assert_eq!(metadata.extents(), in_memory.metadata().extents());
    assert_eq!(metadata.array_count(), in_memory.array_count());
}

#[test]
fn a_positional_source_opens_reading_only_the_metadata_and_then_copies() {
    let bytes = sample();
    let options = ReadOptions {
        verify: Verify::Explicit,
        ..ReadOptions::default()
    };
    let reader = Reader::from_source(Recording::new(&bytes), options).unwrap();
    let len = bytes.len() as u64;
    let trailer = *reader.trailer();
    assert_eq!(
        reader.source().reads(),
        [
            (len - TRAILER_LEN, TRAILER_LEN as usize),
            (0, crate::format::HEADER_LEN as usize),
            (trailer.metadata_offset, trailer.metadata_length as usize),
        ],
        "a partial open reads the trailer, the header and the metadata section, nothing else"
    );
    let second = reader.arrays().nth(1).unwrap().id();
    reader.read_bytes(second).unwrap();
    assert_eq!(
        reader.source().reads()[3..],
        [(72, 56), (128, 8)],
        "the first read of an array checks the padding before it, then copies the extent"
    );
    reader.read_bytes(second).unwrap();
    assert_eq!(
        reader.source().reads()[5..],
        [(128, 8)],
        "the padding is checked once per array"
    );
    let raw = reader.arrays().next().unwrap().id();
    assert_eq!(reader.view::<u8>(raw).unwrap_err().class(), "NotZeroCopy");
    assert_eq!(reader.zero_copy_bytes(raw).unwrap_err().class(), "NotZeroCopy");
    assert_eq!(
        reader
            .read::<u8>(raw)
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [1; 8]
    );
    assert!(
        reader.is_verified(raw),
        "a copy is checked, so the array is verified"
    );
    assert_eq!(
        outcomes(Ok(reader)),
        outcomes(Reader::from_bytes(&bytes, ReadOptions::default()))
    );
}

/// Spec 9.6: the outcomes of a partial reader equal a whole-file reader's, except that a file the
/// whole-file reader rejects for its padding either opens and then fails `verify` with the same
/// error, or (when a later rule fails too) is rejected at open for that later rule.
fn assert_partial_agrees(partial: &[Outcome], whole: &[Outcome], file: &std::path::Path) {
    match whole {
        [Err(padding @ ("NonZeroPadding", _))] => match partial {
            [Err((class, _))] => assert_ne!(*class, "NonZeroPadding", "{}", file.display()),
            [_, ..] => assert_eq!(partial[0], Err(*padding), "{}", file.display()),
            [] => unreachable!("outcomes are never empty"),
        },
        _ => assert_eq!(partial, whole, "{}", file.display()),
    }
}

#[test]
#[cfg_attr(miri, ignore = "decodes zstd blocks (C code) in 200 files")]
fn every_conformance_file_reads_alike_from_memory_and_from_positional_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let mut seen = 0;
    for dir in ["valid", "invalid", "either"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let expected = outcomes(Reader::from_bytes(&bytes, ReadOptions::default()));
            let positional = outcomes(Reader::from_source(
                Recording::new(&bytes),
                ReadOptions::default(),
            ));
            assert_partial_agrees(&positional, &expected, &path);
            let file = outcomes(Reader::from_source(
                FileSource::open(&path).unwrap(),
                ReadOptions::default(),
            ));
            assert_eq!(file, positional, "{}", path.display());
            seen += 1;
        }
    }
    let manifest = std::fs::read_to_string(root.join("manifest.json")).unwrap();
    assert_eq!(
        seen,
        manifest.matches("\"file\":").count(),
        "every case in the manifest"
    );
}

/// Extent `index` (file order) of a [`sample`] moved to `offset`, with the metadata CRC
/// recomputed.
pub(super) fn move_extent(file: &mut [u8], index: usize, offset: u64) {
    let pristine = sample();
    let reader = Reader::from_bytes(&pristine, ReadOptions::default()).unwrap();
    let entry = reader.metadata().arrays[index].entry_offset;
    let record = extent_record_offset(entry, 1, 0) as usize;
    let trailer = *reader.trailer();
    file[record..record + 8].copy_from_slice(&offset.to_le_bytes());
    let section =
        trailer.metadata_offset as usize..(trailer.metadata_offset + trailer.metadata_length) as usize;
    let crc = crc32(&file[section]);
    let start = file.len() - TRAILER_LEN as usize;
    let at = start + METADATA_CRC_OFFSET as usize;
    file[at..at + 4].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32(&file[start..][trailer_fields::CRC_COVERS]);
    let at = start + trailer_fields::CRC_OFFSET as usize;
    file[at..at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The error of every whole-file opener and of both positional sources (partial readers) on the
/// same bytes: each kind agrees within itself. (`open_mmap` reads its metadata through a
/// [`FileSource`], so the `FileSource` row stands for it here; `mmap.rs` tests the mapping.)
fn open_every_way(file: &[u8]) -> (Fault, Fault) {
    let pair = |e: Error| (e.class(), e.offset());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-faults.amber");
    std::fs::write(&path, file).unwrap();
    let whole = [
        Reader::from_bytes(file, ReadOptions::default()).map(drop),
        Reader::from_storage(AlignedBytes::copy_from(file), ReadOptions::default()).map(drop),
        Reader::from_reader(file, ReadOptions::default()).map(drop),
        Reader::open(&path, ReadOptions::default()).map(drop),
    ];
    let partial = [
        Reader::from_source(Recording::new(file), ReadOptions::default()).map(drop),
        Reader::from_source(FileSource::open(&path).unwrap(), ReadOptions::default()).map(drop),
        Reader::from_source(file, ReadOptions::default()).map(drop),
    ];
    let agreed = |results: &mut dyn Iterator<Item = Result<()>>| {
        let errors: Vec<_> = results.map(|r| pair(r.unwrap_err())).collect();
        assert!(errors.windows(2).all(|w| w[0] == w[1]), "{errors:?}");
        errors[0]
    };
    (agreed(&mut whole.into_iter()), agreed(&mut partial.into_iter()))
}

/// An error as (class, offset).
type Fault = (&'static str, Option<u64>);

#[test]
fn a_padding_fault_before_a_layout_fault_is_reported_first_by_whole_file_readers_only() {
    let mut file = sample();
    file[100] = 1; // padding before extent 1
    move_extent(&mut file, 2, 256); // extent 2 leaves a gap
    let (whole, partial) = open_every_way(&file);
    assert_eq!(whole, ("NonZeroPadding", Some(100)));
    // Spec 9.6: a partial reader applies R55 after the whole structural walk, so the later
    // layout fault wins there, exactly as layer 1 alone sees it.
    assert_eq!(partial.0, "InvalidLayout");
    let error = Metadata::from_source(file.as_slice(), &Limits::default()).unwrap_err();
    assert_eq!((error.class(), error.offset()), partial);
}

#[test]
fn a_layout_fault_before_a_padding_fault_is_reported_first() {
    let mut file = sample();
    move_extent(&mut file, 1, 192); // extent 1 leaves a gap
    file[150] = 1; // padding before extent 2
    let (whole, partial) = open_every_way(&file);
    assert_eq!((whole.0, partial.0), ("InvalidLayout", "InvalidLayout"));
}

#[test]
fn the_padding_of_a_misplaced_extent_is_not_checked_before_its_place() {
    let mut file = sample();
    file[150] = 1; // padding before extent 2
    move_extent(&mut file, 2, 256); // and extent 2 itself misplaced: R53 comes before R55
    let (whole, partial) = open_every_way(&file);
    assert_eq!((whole.0, partial.0), ("InvalidLayout", "InvalidLayout"));
}

/// A [`sample`] whose padding before extent 1 (bytes 72..128) holds a non-zero byte at 100.
pub(super) fn sample_with_bad_padding() -> Vec<u8> {
    let mut file = sample();
    file[100] = 0xAA;
    file
}

/// Spec 9.6 for a partial reader over [`sample_with_bad_padding`]: it opened; the array before
/// the bad padding reads; the array after it fails with NonZeroPadding at every access, as
/// `verify` does; the array after the next, zero, padding reads.
pub(super) fn assert_bad_padding_is_found_on_access<S: ByteSource>(reader: &Reader<S>) {
    let ids: Vec<_> = reader.arrays().map(|info| info.id()).collect();
    let fault = |r: Result<()>| {
        let e = r.unwrap_err();
        (e.class(), e.offset())
    };
    let expected = ("NonZeroPadding", Some(100));
    assert_eq!(&*reader.read_bytes(ids[0]).unwrap(), [1; 8]);
    assert_eq!(fault(reader.read_bytes(ids[1]).map(drop)), expected);
    assert_eq!(
        fault(reader.read_bytes(ids[1]).map(drop)),
        expected,
        "it keeps failing"
    );
    assert_eq!(fault(reader.verify_array(ids[1])), expected);
    assert_eq!(fault(reader.read_byte_range(ids[1], 0..1).map(drop)), expected);
    assert_eq!(fault(reader.for_each_chunk(ids[1], |_| Ok(()))), expected);
    assert_eq!(fault(reader.read::<u8>(ids[1]).map(drop)), expected);
    assert_eq!(fault(reader.read_into(ids[1], &mut [0; 8])), expected);
    assert!(!reader.is_verified(ids[1]));
    if reader.source().in_memory().is_some() {
        assert_eq!(fault(reader.view::<u8>(ids[1]).map(drop)), expected);
        assert_eq!(fault(reader.zero_copy_bytes(ids[1]).map(drop)), expected);
    }
    assert_eq!(fault(reader.verify()), expected);
    assert_eq!(&*reader.read_bytes(ids[2]).unwrap(), [3; 8]);
}

#[test]
fn a_partial_reader_opens_a_file_with_bad_padding_and_fails_on_the_array_after_it() {
    let file = sample_with_bad_padding();
    let whole = Reader::from_bytes(&file, ReadOptions::default()).unwrap_err();
    assert_eq!(whole.class(), "NonZeroPadding");
    assert_bad_padding_is_found_on_access(
        &Reader::from_source(Recording::new(&file), ReadOptions::default()).unwrap(),
    );
    let mut on_disk = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut on_disk, &file).unwrap();
    let source = FileSource::open(on_disk.path()).unwrap();
    assert_bad_padding_is_found_on_access(&Reader::from_source(source, ReadOptions::default()).unwrap());
    // A partial reader over bytes in memory: the constructor decides, not the source.
    assert_bad_padding_is_found_on_access(
        &Reader::from_source(file.as_slice(), ReadOptions::default()).unwrap(),
    );
}

#[test]
fn a_partial_reader_asked_to_verify_on_open_checks_the_padding_at_open() {
    let file = sample_with_bad_padding();
    let options = ReadOptions {
        verify: Verify::OnOpen,
        ..ReadOptions::default()
    };
    let error = Reader::from_source(Recording::new(&file), options).unwrap_err();
    assert_eq!((error.class(), error.offset()), ("NonZeroPadding", Some(100)));
}

#[test]
fn padding_checked_from_another_handle_stays_checked_and_reads_nothing_from_the_source() {
    let file = sample();
    let reader = Reader::from_source(Recording::new(&file), ReadOptions::default()).unwrap();
    let opened = reader.source().reads().len();
    reader.verify_padding_from(file.as_slice()).unwrap();
    assert_eq!(
        reader.source().reads().len(),
        opened,
        "the padding came from the other handle"
    );
    // The second array's extent starts at 128 after the padding 72..128: reading it now fetches
    // nothing before its extent.
    let second = reader.arrays().nth(1).unwrap().id();
    assert_eq!(&*reader.read_bytes(second).unwrap(), [2; 8]);
    let reads = reader.source().reads();
    assert!(reads.len() > opened);
    assert!(
        reads[opened..].iter().all(|&(offset, _)| offset >= 128),
        "{reads:?}"
    );
    let longer = [file.as_slice(), &[0]].concat();
    let error = reader.verify_padding_from(longer.as_slice()).unwrap_err();
    assert_eq!(error.class(), "LengthMismatch");
}

#[test]
fn a_full_padding_check_asks_for_all_the_padding_before_reading_it() {
    let reader = Reader::from_source(Recording::new(&sample()), ReadOptions::default()).unwrap();
    let opened = reader.source().reads().len();
    assert!(reader.source().prefetches.lock().unwrap().is_empty());
    reader.verify_padding().unwrap();
    let padding = vec![(72, 56), (136, 56)];
    assert_eq!(*reader.source().prefetches.lock().unwrap(), [(opened, padding)]);
    assert_eq!(reader.source().reads()[opened..], [(72, 56), (136, 56)]);
    reader.verify_padding().unwrap();
    assert_eq!(reader.source().reads().len(), opened + 2, "checked once");
    assert_eq!(
        reader.source().prefetches.lock().unwrap().len(),
        1,
        "nothing left to ask for"
    );
}

#[test]
fn bad_padding_found_from_another_handle_fails_as_it_does_on_access() {
    let file = sample_with_bad_padding();
    let reader = Reader::from_source(Recording::new(&file), ReadOptions::default()).unwrap();
    let error = reader.verify_padding_from(file.as_slice()).unwrap_err();
    assert_eq!((error.class(), error.offset()), ("NonZeroPadding", Some(100)));
    assert_bad_padding_is_found_on_access(&reader);
}

#[test]
fn from_metadata_refuses_a_source_of_another_length() {
    let bytes = sample();
    let metadata = Metadata::from_source(bytes.as_slice(), &Limits::default()).unwrap();
    assert_eq!(metadata.file_len(), bytes.len() as u64);
    let longer = [bytes.as_slice(), &[0]].concat();
    let error = Reader::from_metadata(longer.as_slice(), metadata, ReadOptions::default()).unwrap_err();
    assert_eq!(error.class(), "LengthMismatch");
}

#[test]
fn a_file_source_reads_exactly_or_fails_with_the_offset() {
    let bytes = sample();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    let source = FileSource::open(file.path()).unwrap();
    assert_eq!(source.file_len().unwrap(), bytes.len() as u64);
    let mut buf = [0u8; 8];
    source.read_exact_at(64, &mut buf).unwrap();
    assert_eq!(buf, [1; 8]);
    let past = source
        .read_exact_at(bytes.len() as u64 - 4, &mut buf)
        .unwrap_err();
    assert_eq!(
        (past.class(), past.offset()),
        ("Truncated", Some(bytes.len() as u64 - 4))
    );
    let error = bytes.as_slice().read_exact_at(u64::MAX, &mut buf).unwrap_err();
    assert_eq!((error.class(), error.offset()), ("Truncated", Some(u64::MAX)));
}
