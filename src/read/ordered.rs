//! A full verification (spec 10, 9.6 item 3) fed the file's bytes once, front to back, in
//! pieces of any size: for a source that is cheapest read as one stream (a remote object). It
//! reports what [`Reader::verify`] reports for the same file: the first padding fault in file
//! order, else the first CRC mismatch in file order, else the first block that fails to decode
//! in array order; memory stays bounded by one compressed block.

use super::blocks::decode_block;
use super::source::ByteSource;
use super::Reader;
use crate::error::{Error, Result};
use crate::format::HEADER_LEN;
use crate::graph::ArrayId;
use crate::scratch::try_resize;

/// The state of one in-order verification of `reader`'s file.
pub(crate) struct InOrderVerify<'r, S> {
    reader: &'r Reader<S>,
    /// File offset of the next byte fed.
    pos: u64,
    /// Index (file order) of the extent at or after `pos`.
    extent: usize,
    /// The array that extent belongs to.
    array: usize,
    hasher: crc32fast::Hasher,
    /// A compressed block's stored bytes, gathered until it is whole.
    block: Vec<u8>,
    scratch: Vec<u8>,
    first_mismatch: Option<u64>,
    first_block_fault: Option<Error>,
}

impl<'r, S: ByteSource> InOrderVerify<'r, S> {
    pub(crate) fn new(reader: &'r Reader<S>) -> Self {
        InOrderVerify {
            reader,
            pos: 0,
            extent: 0,
            array: 0,
            hasher: crc32fast::Hasher::new(),
            block: Vec::new(),
            scratch: Vec::new(),
            first_mismatch: None,
            first_block_fault: None,
        }
    }

    /// The next `data.len()` bytes of the file. A padding fault is returned at once (nothing
    /// can precede it); other faults are kept for [`finish`](Self::finish).
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<()> {
        let extents = &self.reader.metadata.extents;
        while !data.is_empty() {
            self.settle()?;
            let take = if self.pos < HEADER_LEN {
                (HEADER_LEN - self.pos).min(data.len() as u64) as usize
            } else if let Some(extent) = extents.get(self.extent) {
                if self.pos < extent.offset {
                    let n = (extent.offset - self.pos).min(data.len() as u64) as usize;
                    if let Some(i) = data[..n].iter().position(|&b| b != 0) {
                        return Err(Error::non_zero_padding(
                            self.pos + i as u64,
                            "a padding byte is not zero",
                        ));
                    }
                    n
                } else {
                    let end = extent.offset + extent.stored_length;
                    let n = (end - self.pos).min(data.len() as u64) as usize;
                    self.hasher.update(&data[..n]);
                    if !self.raw() {
                        self.block.extend_from_slice(&data[..n]);
                    }
                    n
                }
            } else {
                // The metadata section and the trailer, checked at open.
                data.len()
            };
            data = &data[take..];
            self.pos += take as u64;
        }
        self.settle()
    }

    fn raw(&self) -> bool {
        self.reader.metadata.arrays[self.array].codec == crate::format::Codec::None
    }

    /// Closes every extent that ends at `pos` (zero-length ones included), and readies the
    /// block buffer for the next one.
    fn settle(&mut self) -> Result<()> {
        let metadata = &self.reader.metadata;
        while let Some(extent) = metadata.extents.get(self.extent) {
            while metadata.arrays[self.array].extents.end <= self.extent {
                self.array += 1;
            }
            if self.pos < extent.offset {
                return Ok(());
            }
            let end = extent.offset + extent.stored_length;
            if self.pos < end {
                if !self.raw() && self.block.capacity() < extent.stored_length as usize {
                    let len = usize::try_from(extent.stored_length)
                        .map_err(|_| Error::limit(extent.offset, "a block larger than memory"))?;
                    self.block
                        .try_reserve_exact(len - self.block.len())
                        .map_err(|_| Error::limit(extent.offset, "cannot allocate a block"))?;
                }
                return Ok(());
            }
            let computed = std::mem::take(&mut self.hasher).finalize();
            let matches = crate::format::checksum_matches(extent.crc32, computed);
            if !matches {
                self.first_mismatch.get_or_insert(extent.offset);
            } else if !self.raw() && self.first_block_fault.is_none() {
                if let Err(fault) = self.decode(self.extent) {
                    self.first_block_fault = Some(fault);
                }
            }
            self.block.clear();
            self.extent += 1;
        }
        Ok(())
    }

    /// Decodes the gathered block, extent `index` of the file, as `for_each_chunk` would.
    fn decode(&mut self, index: usize) -> Result<()> {
        let id = ArrayId(self.array as u32);
        let info = self.reader.array_info(id)?;
        let k = (index - self.reader.metadata.arrays[self.array].extents.start) as u64;
        let start = k * info.block_size();
        let len = self
            .reader
            .allocate_check(&info, info.block_size().min(info.nbytes() - start))?;
        let extent = &self.reader.metadata.extents[index];
        try_resize(&mut self.scratch, len, extent.offset)?;
        decode_block(
            &self.block,
            extent,
            &mut self.scratch,
            info.filter(),
            info.dtype().itemsize() as usize,
        )
    }

    /// After the whole file was fed: the first fault found, in the order of [`Reader::verify`].
    /// On success every array counts as checked, its padding and its CRCs.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.settle()?;
        if self.extent < self.reader.metadata.extents.len() {
            return Err(Error::truncated(
                self.pos,
                "the object ended before its last array",
            ));
        }
        if let Some(offset) = self.first_mismatch {
            return Err(Error::checksum(offset, "array data CRC-32 does not match"));
        }
        if let Some(fault) = self.first_block_fault {
            return Err(fault);
        }
        let arrays = self.reader.array_count();
        self.reader.padding_checked.check_and_mark(0..arrays, || Ok(()))?;
        self.reader.verified.check_and_mark(0..arrays, || Ok(()))
    }
}
