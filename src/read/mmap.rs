//! Memory mapping: the crate's one corner of `unsafe` code.
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

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::{ReadOptions, Reader};
use crate::error::{Error, Result};

impl Reader<Mmap> {
    /// Maps `path` into memory and validates it. Arrays stored raw are then zero-copy views of
    /// the file's pages.
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
        let file = File::open(path.as_ref()).map_err(|e| Error::io(None, e))?;
        // SAFETY: the caller guarantees, per this function's contract, that the file is neither
        // modified nor truncated while the mapping (owned by the returned reader) is alive.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(None, e))?;
        Reader::from_storage(map, options)
    }
}

/// A mapping is one more byte storage behind [`Reader::from_storage`], so the zero-copy path it
/// takes is tested here over in-memory storages too: those tests run under Miri, which cannot map
/// files (`scripts/miri.sh`); the test that maps a real file is skipped there.
#[cfg(test)]
mod tests {
    use crate::{
        AlignedBytes, ArraySpec, DType, Graph, Node, Order, ReadOptions, Reader, WriteOptions, Writer,
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
}
