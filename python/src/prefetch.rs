//! A load's arrays from one batched fetch.
//!
//! A remote reader fetches an array in one request; a model of hundreds of arrays would then
//! take hundreds of round trips. Before a load, [`Prefetched::fetch`] has the remote source
//! fetch every array the load will read (the padding before each, which rule R55 reads, and its
//! extents) in one round trip, and keep the bytes until the load is done. The load then reads
//! through this source, which is the remote one under another owner: a reader of its own can be
//! built over it with limits that follow what was fetched.

use std::sync::atomic::{AtomicU64, Ordering};

use amberfile::remote::{Fetched, RemoteReader, RemoteSource};
use amberfile::{ArrayId, ByteSource, Result};

/// Fetched bytes are released once reads have moved this far past the last release.
const RELEASE_STEP: u64 = 16 << 20;

pub(crate) struct Prefetched<'s> {
    source: &'s RemoteSource,
    fetched: Fetched<'s>,
    /// Where the fetched bytes were last released up to: a load reads in file order, so what
    /// lies before its reads is done with and goes, and the load never holds the model twice.
    released: AtomicU64,
}

impl<'s> Prefetched<'s> {
    /// Fetches the arrays `arrays` of `reader` and keeps them while this lives.
    pub(crate) fn fetch(reader: &'s RemoteReader, arrays: &[ArrayId]) -> Result<Self> {
        Ok(Prefetched {
            source: reader.source(),
            fetched: reader.fetch_arrays(arrays)?,
            released: AtomicU64::new(0),
        })
    }

    /// How many bytes were fetched.
    pub(crate) fn fetched_len(&self) -> u64 {
        self.fetched.len()
    }

    /// Releases the fetched bytes before `end`, once reads have passed the last release by
    /// [`RELEASE_STEP`]: the arrays there are built already. Bytes read again are fetched again.
    fn read_up_to(&self, end: u64) {
        let released = self.released.load(Ordering::Relaxed);
        if end >= released.saturating_add(RELEASE_STEP) {
            self.released.store(end, Ordering::Relaxed);
            self.fetched.release_through(end);
        }
    }
}

impl ByteSource for Prefetched<'_> {
    fn file_len(&self) -> Result<u64> {
        self.source.file_len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.source.read_exact_at(offset, buf)?;
        self.read_up_to(offset + buf.len() as u64);
        Ok(())
    }

    fn read_ranges(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        self.source.read_ranges(ranges)?;
        let end = ranges.iter().map(|(offset, buf)| offset + buf.len() as u64).max();
        self.read_up_to(end.unwrap_or(0));
        Ok(())
    }
}
