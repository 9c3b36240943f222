//! A load's arrays from a few batched fetches, in the order the load reads them.
//!
//! A remote reader fetches an array in one request; a model of hundreds of arrays would then
//! take hundreds of round trips. [`Prefetched`] knows the arrays a load will build, in the order
//! it builds them, and when the load first reads an array's bytes (the padding before it, which
//! rule R55 reads, or its extents) it fetches that array and the ones after it, up to
//! [`RUN_BYTES`] stored bytes, in one round trip, dropping the run before. A model under that
//! size takes one fetch; a larger one is never held twice (the fetched run, then all arrays).
//! The load reads through this source, which is the remote one under another owner: a reader
//! of its own can be built over it with limits that follow the planned arrays.

use std::ops::Range;
use std::sync::{Mutex, MutexGuard};

use amberfile::remote::{Fetched, RemoteReader, RemoteSource};
use amberfile::{ArrayId, ByteSource, Result};
use pyo3::prelude::*;

/// The most stored bytes one run of arrays fetches (a larger array is a run of its own).
const RUN_BYTES: u64 = 64 << 20;

pub(crate) struct Prefetched<'s> {
    reader: &'s RemoteReader,
    /// The arrays in the order the load builds them.
    plan: Vec<ArrayId>,
    /// The stored size of the largest of them.
    largest: u64,
    /// Every extent of the planned arrays, sorted by offset, with its array's place in `plan`.
    extents: Vec<(Range<u64>, usize)>,
    /// The run fetched last: its places in `plan`, and the guard that keeps its bytes.
    run: Mutex<Option<(Range<usize>, Fetched<'s>)>>,
}

impl<'s> Prefetched<'s> {
    /// Plans a load of `arrays` of `reader`, in this order; fetches nothing yet.
    pub(crate) fn plan(reader: &'s RemoteReader, arrays: &[ArrayId]) -> Result<Self> {
        let (mut extents, mut largest) = (Vec::new(), 0);
        for (place, &id) in arrays.iter().enumerate() {
            let info = reader.array_info(id)?;
            largest = largest.max(info.stored_bytes());
            extents.extend(
                info.extents()
                    .iter()
                    .map(|e| (e.offset..e.offset + e.stored_length, place)),
            );
        }
        extents.sort_by_key(|(range, _)| range.start);
        Ok(Prefetched {
            reader,
            plan: arrays.to_vec(),
            largest,
            extents,
            run: Mutex::new(None),
        })
    }

    /// Fetches the first run, for a caller that would rather wait for it without holding the
    /// GIL; later runs are fetched as the load reaches them.
    pub(crate) fn fetch_first_run(&self) -> Result<()> {
        match self.plan.is_empty() {
            true => Ok(()),
            false => self.fetch_run_for(0),
        }
    }

    /// The stored size of the largest planned array: what a reader over this source must be
    /// allowed to materialize at once.
    pub(crate) fn largest_array(&self) -> u64 {
        self.largest
    }

    /// The planned array a read at `offset` is for: the one whose extent holds it, else the
    /// one whose first extent comes next (the read is of the padding before it).
    fn place_of(&self, offset: u64) -> Option<usize> {
        let after = self.extents.partition_point(|(range, _)| range.start <= offset);
        match after.checked_sub(1).map(|i| &self.extents[i]) {
            Some((range, place)) if offset < range.end => Some(*place),
            _ => self.extents.get(after).map(|&(_, place)| place),
        }
    }

    fn lock_run(&self) -> MutexGuard<'_, Option<(Range<usize>, Fetched<'s>)>> {
        self.run.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True if the run fetched last holds the array at `place`.
    fn holds_run_for(&self, place: usize) -> bool {
        self.lock_run()
            .as_ref()
            .is_some_and(|(places, _)| places.contains(&place))
    }

    /// Fetches the run that starts with the array at `place` (at least that array), dropping
    /// the run before first, so that at most one run is held.
    fn fetch_run_for(&self, place: usize) -> Result<()> {
        let mut run = self.lock_run();
        *run = None;
        let end = place + self.reader.run_len(&self.plan[place..], RUN_BYTES)?.max(1);
        *run = Some((place..end, self.reader.fetch_arrays(&self.plan[place..end])?));
        Ok(())
    }

    fn source(&self) -> &RemoteSource {
        self.reader.source()
    }
}

impl ByteSource for Prefetched<'_> {
    fn file_len(&self) -> Result<u64> {
        self.source().file_len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if let Some(place) = self.place_of(offset).filter(|&place| !self.holds_run_for(place)) {
            // The load holds the GIL; other Python threads run while a run is on its way.
            Python::attach(|py| py.detach(|| self.fetch_run_for(place)))?;
        }
        self.source().read_exact_at(offset, buf)
    }

    fn read_ranges(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        for (offset, buf) in ranges.iter_mut() {
            self.read_exact_at(*offset, buf)?;
        }
        Ok(())
    }
}
