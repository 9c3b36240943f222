//! Memory mapping and page-cache hints: the crate's one corner of `unsafe` code.
//!
//! A mapping hands out `&[u8]` over the file's pages. Rust assumes those bytes never change while
//! borrowed, but the operating system does not enforce it: another process (or this one) can
//! write to or truncate the file. Writing changes the bytes under live references, which is
//! undefined behaviour; truncating makes later accesses fault with SIGBUS. memmap2 therefore marks
//! mapping `unsafe`, and so does [`Reader::open_mmap`]: only the caller can promise the file is not
//! modified while it is mapped. The safe constructors ([`Reader::open`], [`Reader::from_bytes`])
//! never map.
//!
//! Writers in this crate never modify a file in place: [`crate::Writer::create`] writes a new
//! file and renames it over the old name, so a reader that mapped the old file keeps the old,
//! intact inode.
//!
//! A mapped reader is a partial reader (spec 9.6): opening touches no data page. The header,
//! trailer and metadata are read with positional reads before the file is mapped, since a first
//! touch of a mapped page at either end of the file can fault in a whole readahead window; no
//! advice is given and nothing is populated, so the kernel's default per-fault readahead is all
//! that runs, and only for the pages an array access touches. Checking every padding region
//! through the mapping would touch a page beside every extent, each fault pulling in a whole
//! readahead window: a cold read of nearly the whole file. [`Reader::verify_padding_from`] with
//! a [`FileSource`] on the same file checks it with positional reads instead, which fetch only
//! the pages asked for, after a hint ([`advise_will_need`]) that asks for all of them at once.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::{FileSource, Metadata, ReadOptions, Reader};
use crate::error::{Error, Result};

impl Reader<Mmap> {
    /// Maps `path` into memory as a partial reader (spec 9.6): rules R1 to R54 and R56 at open,
    /// from the header, trailer and metadata alone; the padding before an array's extents when
    /// that array is first read, all of it in [`Reader::verify`]. Arrays stored raw are then
    /// zero-copy views of the file's pages.
    ///
    /// # Safety
    ///
    /// This inherits memmap2's contract. The caller must ensure that, for as long as the returned
    /// reader or any view borrowed from it is alive, the file is not modified or truncated, by
    /// this process or any other. A modification while mapped is undefined behaviour; a
    /// truncation makes accesses past the new end raise SIGBUS, killing the process. File
    /// permissions, locks, or a private copy are the usual ways to guarantee it; replacing the
    /// file by rename (as this crate's writer does) is safe for existing mappings.
    pub unsafe fn open_mmap(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self> {
        let positional = FileSource::new(File::open(path.as_ref()).map_err(|e| Error::io(None, e))?)?;
        let metadata = Metadata::from_source(&positional, &options.limits)?;
        let file = positional.into_file();
        // SAFETY: the caller guarantees, per this function's contract, that the file is neither
        // modified nor truncated while the mapping (owned by the returned reader) is alive.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(None, e))?;
        Reader::from_metadata(map, metadata, options)
    }
}

/// Asks the kernel to start reading bytes `offset..offset + len` of `file` into the page cache
/// and returns at once (`POSIX_FADV_WILLNEED`): the later reads of that range then find it there.
/// Only a hint, so a failure is ignored; a no-op where the call does not exist, and under Miri.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) fn advise_will_need(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: posix_fadvise touches no memory of this process: it takes a descriptor, which the
    // borrowed `file` keeps open for the call, and two integers, which the kernel validates
    // (failing with an error code, ignored here, for a bad range).
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
}

#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) fn advise_will_need(_file: &File, _offset: u64, _len: u64) {}

/// A mapping is one more byte storage behind [`Reader::from_storage`], so the zero-copy path it
/// takes is tested here over in-memory storages too: those tests run under Miri, which cannot map
/// files (`scripts/miri.sh`); the test that maps a real file is skipped there.
#[cfg(test)]
mod tests {
    use super::super::tests as read_tests;
    use crate::{
        AlignedBytes, ArraySpec, DType, FileSource, Graph, Node, Order, ReadOptions, Reader, WriteOptions,
        Writer,
    };

    const VALUES: [f64; 6] = [1.5, -2.0, 3.25, f64::MAX, -0.0, 6.0];

    /// A file with a raw C-order f64 matrix, a raw F-order u16 matrix and a bool vector.
    fn raw_file() -> Vec<u8> {
        let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        let matrix = writer
            .write_array(
                &ArraySpec::c(DType::Float64, &[2, 3]),
                bytemuck::cast_slice(&VALUES),
            )
            .unwrap();
        let fortran = ArraySpec {
            dtype: DType::UInt16,
            shape: vec![2, 2],
            order: Order::F,
        };
        let counts = writer
            .write_array(&fortran, bytemuck::cast_slice(&[1u16, 2, 3, 4]))
            .unwrap();
        let flags = writer
            .write_array(&ArraySpec::c(DType::Bool, &[2]), &[1, 0])
            .unwrap();
        let mut graph = Graph::new();
        let ids = [matrix, counts, flags].map(|a| graph.add(Node::Array(a)));
        let root = graph.add(Node::List(&ids));
        graph.set_root(root);
        writer.finish(&graph).unwrap()
    }

    fn array(reader: &Reader<impl AsRef<[u8]>>, index: usize) -> crate::ArrayId {
        reader.arrays().nth(index).unwrap().id()
    }

    #[test]
    fn views_borrow_aligned_bytes_inside_the_storage() {
        let reader =
            Reader::from_storage(AlignedBytes::copy_from(&raw_file()), ReadOptions::default()).unwrap();
        let file = reader.bytes().as_ptr_range();
        let matrix = reader.view::<f64>(array(&reader, 0)).unwrap();
        let items = matrix.as_slice().unwrap().as_ptr_range();
        assert!(file.start <= items.start.cast() && items.end.cast() <= file.end);
        assert_eq!(items.start as usize % std::mem::align_of::<f64>(), 0);
        assert_eq!(matrix[[1, 0]].to_bits(), VALUES[3].to_bits());
        let counts = reader.view::<u16>(array(&reader, 1)).unwrap();
        assert_eq!(
            counts[[0, 1]],
            3,
            "F order: element (0, 1) is the third in memory"
        );
        let flags = reader.view::<bool>(array(&reader, 2)).unwrap();
        assert_eq!(flags.iter().copied().collect::<Vec<_>>(), [true, false]);
    }

    /// File bytes one byte past an 8-aligned address, as a mapping at an odd offset would be.
    struct Misaligned {
        words: Vec<u64>,
        len: usize,
    }

    impl Misaligned {
        fn new(file: &[u8]) -> Self {
            let mut words = vec![0u64; (file.len() + 1).div_ceil(8)];
            bytemuck::cast_slice_mut::<u64, u8>(&mut words)[1..=file.len()].copy_from_slice(file);
            Misaligned {
                words,
                len: file.len(),
            }
        }
    }

    impl AsRef<[u8]> for Misaligned {
        fn as_ref(&self) -> &[u8] {
            &bytemuck::cast_slice(&self.words)[1..=self.len]
        }
    }

    #[test]
    fn misaligned_storage_is_copied_never_viewed() {
        let storage = Misaligned::new(&raw_file());
        let reader = Reader::from_storage(storage, ReadOptions::default()).unwrap();
        let error = reader.view::<f64>(array(&reader, 0)).unwrap_err();
        assert_eq!(error.class(), "NotZeroCopy");
        let copied = reader.read::<f64>(array(&reader, 0)).unwrap();
        assert!(!copied.is_view());
        assert_eq!(copied.as_slice().unwrap(), &VALUES[..]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot map files")]
    fn a_mapping_reads_like_the_bytes_it_maps() {
        let bytes = raw_file();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        // SAFETY: the temporary file is private to this test; nothing modifies or truncates it
        // while the mapping is alive.
        let mapped = unsafe { Reader::open_mmap(file.path(), ReadOptions::default()) }.unwrap();
        let in_memory = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
        assert_eq!(mapped.bytes(), in_memory.bytes());
        let view = mapped.view::<f64>(array(&mapped, 0)).unwrap();
        assert_eq!(view.as_slice().unwrap(), &VALUES[..]);
        mapped.verify().unwrap();
    }

    /// `bytes` in a temporary file, opened with `open_mmap`.
    fn mapped(bytes: &[u8]) -> (tempfile::NamedTempFile, crate::Result<Reader<memmap2::Mmap>>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        // SAFETY: the temporary file is private to this test; nothing modifies or truncates it
        // while the mapping is alive.
        let reader = unsafe { Reader::open_mmap(file.path(), ReadOptions::default()) };
        (file, reader)
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot map files")]
    fn a_mapping_opens_a_file_with_bad_padding_and_fails_on_the_array_after_it() {
        let (_file, reader) = mapped(&read_tests::sample_with_bad_padding());
        read_tests::assert_bad_padding_is_found_on_access(&reader.unwrap());
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot map files")]
    fn a_mapping_checks_its_padding_with_positional_reads_of_the_same_file() {
        let (file, reader) = mapped(&read_tests::sample_with_bad_padding());
        let reader = reader.unwrap();
        let positional = FileSource::open(file.path()).unwrap();
        let error = reader.verify_padding_from(&positional).unwrap_err();
        assert_eq!((error.class(), error.offset()), ("NonZeroPadding", Some(100)));
        read_tests::assert_bad_padding_is_found_on_access(&reader);
        let (file, reader) = mapped(&read_tests::sample());
        let reader = reader.unwrap();
        reader
            .verify_padding_from(&FileSource::open(file.path()).unwrap())
            .unwrap();
        reader.verify().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot map files")]
    fn a_mapping_reports_a_layout_fault_after_a_padding_fault_at_open() {
        let mut bytes = read_tests::sample_with_bad_padding();
        read_tests::move_extent(&mut bytes, 2, 256);
        let (_file, reader) = mapped(&bytes);
        assert_eq!(reader.unwrap_err().class(), "InvalidLayout");
        let whole = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap_err();
        assert_eq!(whole.class(), "NonZeroPadding");
    }
}
