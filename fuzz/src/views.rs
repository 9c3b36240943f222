//! Target 3: zero-copy views. Whatever the file says, every slice or view the reader hands
//! out must lie inside the buffer it was opened over, be aligned for its element type, and hold
//! exactly the array's decoded bytes.

use std::ops::Range;

use amberfile::{AlignedBytes, ArrayId, Element, Reader};

use crate::{fuzz_options, with_element_type};

/// Opens `data` three ways (8-aligned owned copy, borrowed slice, and a storage deliberately
/// one byte off alignment) and checks every view of every array.
pub fn views(data: &[u8]) {
    if let Ok(reader) = Reader::from_storage(AlignedBytes::copy_from(data), fuzz_options()) {
        check_views(&reader);
    }
    let shifted = Shifted::new(data);
    if let Ok(reader) = Reader::from_storage(shifted, fuzz_options()) {
        check_views(&reader);
    }
}

/// File bytes stored at an odd address, so no multi-byte element can be viewed in place.
struct Shifted(Vec<u8>);

impl Shifted {
    fn new(data: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(data.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(data);
        Shifted(bytes)
    }
}

impl AsRef<[u8]> for Shifted {
    fn as_ref(&self) -> &[u8] {
        &self.0[1..]
    }
}

/// Checks the view contract on every array of `reader`, whatever its storage.
pub fn check_views<S: AsRef<[u8]>>(reader: &Reader<S>) {
    let file = reader.bytes().as_ptr_range();
    let file = file.start as usize..file.end as usize;
    for info in reader.arrays() {
        let id = info.id();
        let decoded = reader.read_bytes(id);
        if let Ok(bytes) = reader.zero_copy_bytes(id) {
            assert!(info.is_raw(), "zero-copy bytes of a compressed array");
            assert_eq!(bytes.len() as u64, info.nbytes(), "zero-copy length");
            if !bytes.is_empty() {
                assert_inside(&file, bytes.as_ptr_range(), "zero-copy bytes");
            }
        }
        if let Ok(decoded) = &decoded {
            let mut streamed = Vec::new();
            let chunks = reader.for_each_chunk(id, |chunk| {
                streamed.extend_from_slice(chunk);
                Ok(())
            });
            if chunks.is_ok() {
                assert_eq!(&streamed, &**decoded, "for_each_chunk disagrees with read_bytes");
            }
        }
        let decoded = decoded.ok();
        with_element_type!(info.dtype(), check_typed(reader, id, &file, decoded.as_deref()));
    }
}

fn check_typed<T: Element, S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: ArrayId,
    file: &Range<usize>,
    decoded: Option<&[u8]>,
) {
    let expected_len = reader.array_info(id).map(|i| i.len()).unwrap_or(0);
    if let Ok(view) = reader.view::<T>(id) {
        assert_eq!(view.len() as u64, expected_len, "view element count");
        let items = view
            .as_slice_memory_order()
            .expect("a view of an array is contiguous");
        check_items(items, file, decoded, "view");
    }
    if let Ok(array) = reader.read::<T>(id) {
        assert_eq!(array.len() as u64, expected_len, "read element count");
        let items = array.as_slice_memory_order().expect("a read array is contiguous");
        if array.is_view() {
            check_items(items, file, decoded, "borrowed read");
        } else {
            assert_eq!(Some(T::as_bytes(items)), decoded, "decoded read bytes");
        }
    }
}

/// A borrowed run of elements: inside the file, aligned, equal to the decoded bytes.
fn check_items<T: Element>(items: &[T], file: &Range<usize>, decoded: Option<&[u8]>, what: &str) {
    if items.is_empty() {
        return;
    }
    let range = items.as_ptr_range();
    assert_eq!(
        range.start as usize % std::mem::align_of::<T>(),
        0,
        "{what} is misaligned"
    );
    let bytes = T::as_bytes(items);
    assert_inside(file, bytes.as_ptr_range(), what);
    assert_eq!(Some(bytes), decoded, "{what} bytes differ from the decoded array");
}

fn assert_inside(file: &Range<usize>, part: Range<*const u8>, what: &str) {
    let (start, end) = (part.start as usize, part.end as usize);
    assert!(
        start >= file.start && end <= file.end,
        "{what} {start:#x}..{end:#x} outside the buffer {:#x}..{:#x}",
        file.start,
        file.end
    );
}
