//! A load's arrays from one batched fetch.
//!
//! A remote reader fetches an array in one request; a model of hundreds of arrays would then
//! take hundreds of round trips. Before a load, [`Prefetched::fetch`] has the remote source
//! fetch every array the load will read (the padding before each, which rule R55 reads, and its
//! extents) in one round trip, and keep the bytes until the load is done. The load then reads
//! through this source, which is the remote one under another owner: a reader of its own can be
//! built over it with limits that follow what was fetched.

use amberfile::remote::{Fetched, RemoteReader, RemoteSource};
use amberfile::{ArrayId, ByteSource, Result};

pub(crate) struct Prefetched<'s> {
    source: &'s RemoteSource,
    fetched: Fetched<'s>,
}

impl<'s> Prefetched<'s> {
    /// Fetches the arrays `arrays` of `reader` and keeps them while this lives.
    pub(crate) fn fetch(reader: &'s RemoteReader, arrays: &[ArrayId]) -> Result<Self> {
        Ok(Prefetched {
            source: reader.source(),
            fetched: reader.fetch_arrays(arrays)?,
        })
    }

    /// How many bytes were fetched.
    pub(crate) fn fetched_len(&self) -> u64 {
        self.fetched.len()
    }
}

impl ByteSource for Prefetched<'_> {
    fn file_len(&self) -> Result<u64> {
        self.source.file_len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.source.read_exact_at(offset, buf)
    }

    fn read_ranges(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        self.source.read_ranges(ranges)
    }
}
