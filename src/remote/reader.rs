//! The remote partial reader: [`AsyncReader`] plans and fetches, then the crate's one
//! [`Reader`] applies every rule to the fetched bytes; [`RemoteReader`] drives the same futures
//! for blocking callers.

use std::ops::{Deref, Range};
use std::sync::Arc;

use object_store::path::Path;
use object_store::ObjectStore;

use super::source::{Fetched, RemoteSource};
use super::{block_on, stream, RemoteConfig};
use crate::error::Result;
use crate::format::HEADER_LEN;
use crate::graph::ArrayId;
use crate::limits::Limits;
use crate::read::{Metadata, ReadOptions, Reader, Verify};

/// A compressed array is streamed in runs of blocks that decode to at most this many bytes (or
/// one block, if larger): one round trip a run, and memory bounded by a run.
const STREAM_RUN_BYTES: u64 = 64 << 20;

/// A partial reader (spec 9.6) of a remote Amber file for async callers: the fetch plan of spec
/// 9.7, the rules applied by [`Reader`] (which [`AsyncReader::reader`] gives for everything
/// that needs no data: the graph, the array table).
#[derive(Debug)]
pub struct AsyncReader {
    reader: Reader<RemoteSource>,
}

impl AsyncReader {
    /// Opens `path` in `store`: the suffix read and the header together, then any rest of the
    /// metadata in one more round trip, then rules R1 to R54 and R56 on those bytes. With
    /// [`Verify::OnOpen`] the whole object is then streamed and verified (one more request).
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        config: RemoteConfig,
        read: ReadOptions,
    ) -> Result<Self> {
        let source = RemoteSource::open(store, path, config).await?;
        source.fetch_metadata(&read.limits).await?;
        let verify_now = read.verify == Verify::OnOpen;
        let options = ReadOptions {
            verify: if verify_now {
                Verify::OnFirstAccess
            } else {
                read.verify
            },
            ..read
        };
        let reader = AsyncReader {
            reader: Reader::from_source(source, options)?,
        };
        if verify_now {
            reader.verify().await?;
        }
        Ok(reader)
    }

    /// Opens the Amber file at `url`: see [`super::parse_url`] for the options.
    pub async fn open_url<I, K, V>(url: &str, options: I, read: ReadOptions) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let (store, path, config) = super::parse_url(url, options)?;
        AsyncReader::open(store, path, config, read).await
    }

    /// The validated metadata alone, with the requests of an open.
    pub async fn read_metadata(
        store: Arc<dyn ObjectStore>,
        path: Path,
        config: RemoteConfig,
        limits: &Limits,
    ) -> Result<Metadata> {
        let source = RemoteSource::open(store, path, config).await?;
        source.fetch_metadata(limits).await?;
        Metadata::from_source(&source, limits)
    }

    /// The reader over the fetched bytes: graph, array table, and (for data) only what was
    /// fetched ahead; use this type's methods for data.
    pub fn reader(&self) -> &Reader<RemoteSource> {
        &self.reader
    }

    /// The validated metadata.
    pub fn metadata(&self) -> &Metadata {
        self.reader.metadata()
    }

    /// The object's size in bytes.
    pub fn size(&self) -> u64 {
        self.reader.source().size()
    }

    /// Fetches, in one round trip, the padding before array `id`'s extents and the stored bytes
    /// of its extents `blocks` (all of them when `None`), after rule R57 allowed the array.
    async fn fetch_array(&self, id: ArrayId, blocks: Option<Range<u64>>) -> Result<Fetched<'_>> {
        let range = self.array_range(id, blocks)?;
        self.reader.source().fetch_ahead(&[range]).await
    }

    /// Fetches, in one round trip, the padding and extents of every array of `ids`, and keeps
    /// them until the guard is dropped: a load of many arrays then reads no more.
    pub async fn fetch_arrays(&self, ids: &[ArrayId]) -> Result<Fetched<'_>> {
        let ranges = ids
            .iter()
            .map(|&id| self.array_range(id, None))
            .collect::<Result<Vec<_>>>()?;
        self.reader.source().fetch_ahead(&ranges).await
    }

    /// How many of `ids`, from the first, fit together in one fetch of at most `max_stored`
    /// stored bytes: 0 if the first alone is larger. For callers that fetch many arrays in runs
    /// ([`Self::fetch_arrays`] on each), bounding what a run holds.
    pub fn run_len(&self, ids: &[ArrayId], max_stored: u64) -> Result<usize> {
        let mut total = 0u64;
        for (n, &id) in ids.iter().enumerate() {
            match total.checked_add(self.reader.array_info(id)?.stored_bytes()) {
                Some(more) if more <= max_stored => total = more,
                _ => return Ok(n),
            }
        }
        Ok(ids.len())
    }

    /// The file range covering what reading `id` (or its blocks `blocks`) touches.
    fn array_range(&self, id: ArrayId, blocks: Option<Range<u64>>) -> Result<Range<u64>> {
        let info = self.reader.array_info(id)?;
        self.reader.materialized_len(id)?;
        let extents = info.extents();
        let Some(first) = extents.first() else {
            return Ok(0..0);
        };
        // The padding runs from the end of the extent before, in file order (spec 4.2).
        let all = self.reader.metadata().extents();
        let index = all.partition_point(|e| e.offset < first.offset);
        let padding_start = match index.checked_sub(1) {
            Some(previous) => all[previous].offset + all[previous].stored_length,
            None => HEADER_LEN,
        };
        let (from, to) = match blocks {
            Some(blocks) => (blocks.start as usize, blocks.end as usize),
            None => (0, extents.len()),
        };
        let last = &extents[to.clamp(1, extents.len()) - 1];
        let start = match from {
            0 => padding_start.min(first.offset),
            _ => extents[from.min(extents.len() - 1)].offset,
        };
        Ok(start..last.offset + last.stored_length)
    }

    /// Copies (or decodes) array `id` into `out`, exactly [`ArrayInfo::nbytes`](crate::ArrayInfo::nbytes)
    /// long, checking its padding and CRCs: one round trip.
    pub async fn read_into(&self, id: ArrayId, out: &mut [u8]) -> Result<()> {
        let _fetched = self.fetch_array(id, None).await?;
        self.reader.read_into(id, out)
    }

    /// Array `id`'s logical bytes: one round trip.
    pub async fn read_bytes(&self, id: ArrayId) -> Result<Vec<u8>> {
        let _fetched = self.fetch_array(id, None).await?;
        self.reader.read_bytes(id).map(|bytes| bytes.into_owned())
    }

    /// Bytes `range` of array `id`'s logical bytes: a compressed array fetches only the blocks
    /// the range touches; a raw one its whole extent (its one CRC covers no less).
    pub async fn read_byte_range(&self, id: ArrayId, range: Range<u64>) -> Result<Vec<u8>> {
        let blocks = self.touched_blocks(id, &range)?;
        let _fetched = self.fetch_array(id, blocks).await?;
        self.reader
            .read_byte_range(id, range)
            .map(|bytes| bytes.into_owned())
    }

    /// Streams array `id`'s logical bytes to `sink`, in order, as [`Reader::for_each_chunk`]
    /// does: a raw array in one piece after one round trip, a compressed one in runs of blocks
    /// of at most 64 MiB, one round trip a run.
    pub async fn for_each_chunk(&self, id: ArrayId, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        for run in self.stream_runs(id)? {
            let _fetched = self.fetch_array(id, run.blocks).await?;
            sink(&self.reader.read_byte_range(id, run.bytes)?)?;
        }
        Ok(())
    }

    /// The runs in which array `id` is streamed.
    fn stream_runs(&self, id: ArrayId) -> Result<Vec<Run>> {
        let info = self.reader.array_info(id)?;
        let nbytes = info.nbytes();
        if info.is_raw() {
            return Ok(vec![Run {
                blocks: None,
                bytes: 0..nbytes,
            }]);
        }
        let block_size = info.block_size();
        let per_run = STREAM_RUN_BYTES.checked_div(block_size).unwrap_or(1).max(1);
        let blocks = info.extents().len() as u64;
        let byte = |block: u64| block.saturating_mul(block_size).min(nbytes);
        // No more runs than the extents the metadata already holds.
        Ok((0..blocks)
            .step_by(per_run as usize)
            .map(|first| {
                let last = first.saturating_add(per_run).min(blocks);
                Run {
                    blocks: Some(first..last),
                    bytes: byte(first)..byte(last),
                }
            })
            .collect())
    }

    fn touched_blocks(&self, id: ArrayId, range: &Range<u64>) -> Result<Option<Range<u64>>> {
        let info = self.reader.array_info(id)?;
        if info.is_raw() || range.start > range.end || range.end > info.nbytes() {
            // Raw, or a range the reader rejects before it reads anything.
            return Ok(None);
        }
        let first = range.start / info.block_size();
        let last = range.end.div_ceil(info.block_size()).max(first + 1);
        Ok(Some(first..last))
    }

    /// Verifies the whole object as [`Reader::verify`] does (every padding region, every CRC,
    /// every compressed block; the same error class), streaming it once through one pinned
    /// request in bounded memory.
    pub async fn verify(&self) -> Result<()> {
        stream::verify_whole(&self.reader).await
    }
}

/// A part of an array streamed after one round trip: its blocks (`None`: the whole raw extent)
/// and the logical bytes they hold.
struct Run {
    blocks: Option<Range<u64>>,
    bytes: Range<u64>,
}

/// [`AsyncReader`] for blocking callers (the CLI, Python): each method runs the async one on this
/// module's runtime, and the reader derefs to [`Reader<RemoteSource>`] for everything else (a
/// [`Reader`] accessor not listed here fetches what it needs as it goes, in more requests).
/// Must not be called from inside an async runtime.
#[derive(Debug)]
pub struct RemoteReader {
    inner: AsyncReader,
}

impl RemoteReader {
    /// Opens `path` in `store`: see [`AsyncReader::open`].
    pub fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        config: RemoteConfig,
        read: ReadOptions,
    ) -> Result<Self> {
        let inner = block_on(AsyncReader::open(store, path, config, read))??;
        Ok(RemoteReader { inner })
    }

    /// The async reader underneath.
    pub fn as_async(&self) -> &AsyncReader {
        &self.inner
    }

    /// The reader over the fetched bytes.
    pub fn reader(&self) -> &Reader<RemoteSource> {
        &self.inner.reader
    }

    /// The object's size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size()
    }

    /// Fetches array `id` (its padding and extents) in one round trip and keeps it until the
    /// guard is dropped, so that any [`Reader`] accessor of that array then reads no more, e.g.
    /// [`Reader::for_each_chunk`] to stream it out.
    pub fn fetch_ahead(&self, id: ArrayId) -> Result<Fetched<'_>> {
        block_on(self.inner.fetch_array(id, None))?
    }

    /// See [`AsyncReader::fetch_arrays`].
    pub fn fetch_arrays(&self, ids: &[ArrayId]) -> Result<Fetched<'_>> {
        block_on(self.inner.fetch_arrays(ids))?
    }

    /// See [`AsyncReader::run_len`].
    pub fn run_len(&self, ids: &[ArrayId], max_stored: u64) -> Result<usize> {
        self.inner.run_len(ids, max_stored)
    }

    /// See [`AsyncReader::read_into`]; the copy or decode runs on the caller's thread.
    pub fn read_into(&self, id: ArrayId, out: &mut [u8]) -> Result<()> {
        let _fetched = block_on(self.inner.fetch_array(id, None))??;
        self.inner.reader.read_into(id, out)
    }

    /// See [`AsyncReader::read_bytes`].
    pub fn read_bytes(&self, id: ArrayId) -> Result<Vec<u8>> {
        let _fetched = block_on(self.inner.fetch_array(id, None))??;
        self.inner.reader.read_bytes(id).map(|bytes| bytes.into_owned())
    }

    /// See [`AsyncReader::read_byte_range`].
    pub fn read_byte_range(&self, id: ArrayId, range: Range<u64>) -> Result<Vec<u8>> {
        let blocks = self.inner.touched_blocks(id, &range)?;
        let _fetched = block_on(self.inner.fetch_array(id, blocks))??;
        self.inner
            .reader
            .read_byte_range(id, range)
            .map(|bytes| bytes.into_owned())
    }

    /// See [`AsyncReader::for_each_chunk`]; `sink` runs on the caller's thread.
    pub fn for_each_chunk(&self, id: ArrayId, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        for run in self.inner.stream_runs(id)? {
            let _fetched = block_on(self.inner.fetch_array(id, run.blocks))??;
            sink(&self.inner.reader.read_byte_range(id, run.bytes)?)?;
        }
        Ok(())
    }

    /// See [`AsyncReader::verify`].
    pub fn verify(&self) -> Result<()> {
        block_on(self.inner.verify())?
    }
}

impl Deref for RemoteReader {
    type Target = Reader<RemoteSource>;

    fn deref(&self) -> &Reader<RemoteSource> {
        &self.inner.reader
    }
}
