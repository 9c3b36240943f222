//! A remote object as a [`ByteSource`]: every request pinned to the version the first response
//! named, every response checked against its request, and what was fetched ahead kept for the
//! reads that follow.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};

use super::{bounded, store_error, RemoteConfig, SUFFIX_READ_BYTES};
use crate::error::{Error, Result};
use crate::format::trailer::{METADATA_LENGTH_OFFSET, METADATA_OFFSET_OFFSET, TRAILER_LEN};
use crate::format::HEADER_LEN;
use crate::limits::Limits;
use crate::read::ByteSource;

/// An object in an [`ObjectStore`], read by ranges. Its size and version are those of the first
/// response; every later request asks for that version (`if_match` on the ETag, and the version
/// id where the store has one), and a response for another size or ETag is
/// [`ObjectChanged`](crate::ErrorKind::ObjectChanged).
///
/// Reads the source's cache cannot serve are fetched on the spot when called from a thread
/// outside any async runtime (the blocking API); inside one (the [`AsyncReader`](super::AsyncReader))
/// every range is fetched ahead, and a read of anything else is an error.
pub struct RemoteSource {
    store: Arc<dyn ObjectStore>,
    path: Path,
    config: RemoteConfig,
    size: u64,
    e_tag: Option<String>,
    version: Option<String>,
    cache: Mutex<Cache>,
    next_id: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("store", &self.store.to_string())
            .field("path", &self.path.as_ref())
            .field("size", &self.size)
            .field("e_tag", &self.e_tag)
            .finish_non_exhaustive()
    }
}

/// Bytes `offset..offset + bytes.len()` of the object: one piece of a response, as it arrived
/// (kept without copying them into one buffer).
struct Chunk {
    id: u64,
    offset: u64,
    bytes: Bytes,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + self.bytes.len() as u64
    }
}

/// What the source holds: chunks sorted by offset (two fetches may overlap), and the longest
/// chunk's length, which bounds how far before an offset a chunk holding it can start.
#[derive(Default)]
struct Cache {
    chunks: Vec<Chunk>,
    longest: u64,
}

impl Cache {
    fn insert(&mut self, id: u64, offset: u64, pieces: Vec<Bytes>) {
        let mut at = offset;
        for bytes in pieces.into_iter().filter(|bytes| !bytes.is_empty()) {
            let len = bytes.len() as u64;
            self.longest = self.longest.max(len);
            self.chunks.push(Chunk {
                id,
                offset: at,
                bytes,
            });
            at += len;
        }
        self.chunks.sort_by_key(|chunk| chunk.offset);
    }

    /// A chunk holding byte `at`.
    fn holding(&self, at: u64) -> Option<&Chunk> {
        let after = self.chunks.partition_point(|chunk| chunk.offset <= at);
        self.chunks[..after]
            .iter()
            .rev()
            .take_while(|chunk| at - chunk.offset < self.longest)
            .find(|chunk| at < chunk.end())
    }

    fn remove(&mut self, ids: &[u64]) {
        self.chunks.retain(|chunk| !ids.contains(&chunk.id));
        if self.chunks.is_empty() {
            self.longest = 0;
        }
    }
}

/// Bytes fetched ahead for one access, kept by the source until this guard is dropped.
pub struct Fetched<'a> {
    source: &'a RemoteSource,
    ids: Vec<u64>,
    len: u64,
}

impl Fetched<'_> {
    /// How many bytes were fetched for this guard (none for ranges the source already held).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Fetched<'_> {
    fn drop(&mut self) {
        self.source.lock_cache().remove(&self.ids);
    }
}

/// Ranges farther apart than this are fetched by separate requests (sent together).
const COALESCE_GAP: u64 = 1 << 20;
/// A range longer than this is fetched as several concurrent requests.
const PART_BYTES: u64 = 64 << 20;
/// Requests in flight at once for one call.
const CONCURRENCY: usize = 8;

impl RemoteSource {
    /// Opens `path` in `store`: one suffix read of the last [`SUFFIX_READ_BYTES`] (or, for a
    /// store without suffix reads, a HEAD request and then a bounded read of the same bytes),
    /// which fixes the object's size and version and is kept for the reads that follow. The
    /// header is asked for at the same time, in the same round trip (spec 9.7, item 4).
    pub async fn open(store: Arc<dyn ObjectStore>, path: Path, config: RemoteConfig) -> Result<Self> {
        let header = GetOptions {
            range: Some(GetRange::Bounded(0..HEADER_LEN)),
            ..GetOptions::default()
        };
        let header_store = Arc::clone(&store);
        let header_path = path.clone();
        let timeout = config.timeout;
        let (source, header) = futures::future::join(
            Self::open_tail(store, path, config),
            bounded(timeout, Some(0), async move {
                header_store
                    .get_opts(&header_path, header)
                    .await
                    .map_err(|e| store_error(Some(0), e))
            }),
        )
        .await;
        let source = source?;
        source.count();
        // Not yet pinned when it was sent: kept only if it describes the object the suffix read
        // pinned and holds exactly the header. Otherwise (an object under 64 bytes, a replaced
        // object, a lying server) it is dropped, and the header is fetched again, pinned and
        // checked, with the rest of the metadata.
        if let Ok(header) = header {
            let expected = 0..HEADER_LEN.min(source.size);
            if source.check(&header.meta, 0).is_ok() && header.range == expected && !expected.is_empty() {
                if let Ok(bytes) = collect(header, expected).await {
                    source.keep(0, bytes);
                }
            }
        }
        Ok(source)
    }

    async fn open_tail(store: Arc<dyn ObjectStore>, path: Path, config: RemoteConfig) -> Result<Self> {
        let timeout = config.timeout;
        let mut source = RemoteSource {
            store,
            path,
            config,
            size: 0,
            e_tag: None,
            version: None,
            cache: Mutex::new(Cache::default()),
            next_id: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        };
        if source.config.suffix_reads {
            let options = GetOptions {
                range: Some(GetRange::Suffix(SUFFIX_READ_BYTES)),
                ..GetOptions::default()
            };
            let tail = bounded(timeout, None, async {
                let result = source.get(options, None).await?;
                source.pin(&result.meta);
                let range = result.range.clone();
                let expected = source.size.saturating_sub(SUFFIX_READ_BYTES)..source.size;
                if range != expected {
                    return Err(Error::bad_response(
                        None,
                        format!("asked for the last {SUFFIX_READ_BYTES} bytes of a {}-byte object, got bytes {range:?}", source.size),
                    ));
                }
                collect(result, range).await
            })
            .await?;
            source.keep(source.size.saturating_sub(SUFFIX_READ_BYTES), tail);
        } else {
            let meta = bounded(timeout, None, async {
                source.count();
                source
                    .store
                    .head(&source.path)
                    .await
                    .map_err(|e| store_error(None, e))
            })
            .await?;
            source.pin(&meta);
            let start = source.size.saturating_sub(SUFFIX_READ_BYTES);
            if start < source.size {
                let tail = source.fetch(start..source.size).await?;
                source.keep(start, tail);
            }
        }
        Ok(source)
    }

    /// Fetches what the open needs beyond the suffix read, all in one round trip: the header
    /// unless it came with the suffix read, and the part of the metadata section before the suffix, as the trailer (not yet
    /// validated: this is only a plan) places it. A trailer the reader will reject may plan
    /// nothing; a trailer it accepts always has its section planned (the bounds of R10 to R12).
    pub async fn fetch_metadata(&self, limits: &Limits) -> Result<()> {
        let tail_start = self.size.saturating_sub(SUFFIX_READ_BYTES);
        let mut ranges = Vec::new();
        let header = 0..HEADER_LEN.min(tail_start);
        if !header.is_empty() && !self.holds(header.clone()) {
            ranges.push(header);
        }
        if let Some(trailer_start) = self.size.checked_sub(TRAILER_LEN) {
            let mut field = [0u8; 8];
            let offset = self
                .cached(trailer_start + METADATA_OFFSET_OFFSET, &mut field)
                .then(|| u64::from_le_bytes(field));
            let length = self
                .cached(trailer_start + METADATA_LENGTH_OFFSET, &mut field)
                .then(|| u64::from_le_bytes(field));
            if let (Some(offset), Some(length)) = (offset, length) {
                let plausible = offset >= HEADER_LEN
                    && offset.checked_add(length) == Some(trailer_start)
                    && length <= limits.metadata_limit();
                if plausible && offset < tail_start {
                    ranges.push(offset.max(HEADER_LEN.min(tail_start))..tail_start);
                }
            }
        }
        ranges.retain(|r| !r.is_empty());
        if ranges.is_empty() {
            return Ok(());
        }
        for (start, pieces) in self.fetch_ranges(&ranges).await? {
            self.keep(start, pieces);
        }
        Ok(())
    }

    /// Fetches what the source does not hold of `ranges` (one round trip: the requests are
    /// sent together, ranges close together coalesced) and keeps it until the guard is dropped.
    pub async fn fetch_ahead(&self, ranges: &[Range<u64>]) -> Result<Fetched<'_>> {
        let missing: Vec<Range<u64>> = ranges
            .iter()
            .filter(|range| !range.is_empty() && !self.holds((*range).clone()))
            .flat_map(|range| split(range.clone()))
            .collect();
        let mut fetched = Fetched {
            source: self,
            ids: Vec::new(),
            len: 0,
        };
        for (start, pieces) in self.fetch_ranges(&missing).await? {
            fetched.len += pieces.iter().map(|piece| piece.len() as u64).sum::<u64>();
            fetched.ids.push(self.keep(start, pieces));
        }
        Ok(fetched)
    }

    /// The object's size, from the first response.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The object's ETag, from the first response, if the store gave one.
    pub fn e_tag(&self) -> Option<&str> {
        self.e_tag.as_deref()
    }

    /// Requests this source has sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(super) fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// The whole object, pinned, as a response whose range is checked (for a streaming verify).
    pub(super) async fn get_whole(&self) -> Result<GetResult> {
        let options = self.pinned(None);
        bounded(self.config.timeout, Some(0), async {
            let result = self.get(options, Some(0)).await?;
            self.check(&result.meta, 0)?;
            if result.range != (0..self.size) {
                return Err(Error::bad_response(
                    Some(0),
                    format!(
                        "asked for the whole {}-byte object, got bytes {:?}",
                        self.size, result.range
                    ),
                ));
            }
            Ok(result)
        })
        .await
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    async fn get(&self, options: GetOptions, offset: Option<u64>) -> Result<GetResult> {
        self.count();
        self.store
            .get_opts(&self.path, options)
            .await
            .map_err(|e| store_error(offset, e))
    }

    fn pin(&mut self, meta: &ObjectMeta) {
        self.size = meta.size;
        self.e_tag = meta.e_tag.clone();
        self.version = meta.version.clone();
    }

    fn pinned(&self, range: Option<GetRange>) -> GetOptions {
        GetOptions {
            range,
            if_match: self.e_tag.clone(),
            version: self.version.clone(),
            ..GetOptions::default()
        }
    }

    /// A later response must describe the object the first one did.
    fn check(&self, meta: &ObjectMeta, offset: u64) -> Result<()> {
        if meta.size != self.size {
            return Err(Error::object_changed(
                offset,
                format!("the object was {} bytes and is now {}", self.size, meta.size),
            ));
        }
        if self.e_tag.is_some() && meta.e_tag != self.e_tag {
            return Err(Error::object_changed(
                offset,
                format!(
                    "the object's ETag was {:?} and is now {:?}",
                    self.e_tag.as_deref().unwrap_or_default(),
                    meta.e_tag.as_deref().unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// One pinned request for exactly `range`, its answer checked.
    async fn fetch(&self, range: Range<u64>) -> Result<Vec<Bytes>> {
        let offset = range.start;
        bounded(self.config.timeout, Some(offset), async {
            let result = self
                .get(self.pinned(Some(GetRange::Bounded(range.clone()))), Some(offset))
                .await?;
            self.check(&result.meta, offset)?;
            if result.range != range {
                return Err(Error::bad_response(
                    offset,
                    format!("asked for bytes {range:?}, got bytes {:?}", result.range),
                ));
            }
            collect(result, range).await
        })
        .await
    }

    /// Fetches every range, coalescing those close together, all requests at once: the merged
    /// ranges' starts and bodies.
    async fn fetch_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<(u64, Vec<Bytes>)>> {
        for range in ranges {
            if range.start > range.end || range.end > self.size {
                return Err(past_the_end(range.clone(), self.size));
            }
        }
        let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
        sorted.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::new();
        for range in sorted {
            match merged.last_mut() {
                Some(last) if range.start <= last.end.saturating_add(COALESCE_GAP) => {
                    last.end = last.end.max(range.end)
                }
                _ => merged.push(range),
            }
        }
        let bodies: Vec<Vec<Bytes>> = futures::stream::iter(merged.iter().cloned().map(|r| self.fetch(r)))
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        Ok(merged.iter().map(|range| range.start).zip(bodies).collect())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `pieces`, the bytes from `offset` on, under a new id.
    fn keep(&self, offset: u64, pieces: Vec<Bytes>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock_cache().insert(id, offset, pieces);
        id
    }

    /// True if the cache holds every byte of `range`.
    fn holds(&self, range: Range<u64>) -> bool {
        self.copy_cached(range.start, None, range.end - range.start)
    }

    /// Fills `buf` from the cache if it holds all of it.
    fn cached(&self, offset: u64, buf: &mut [u8]) -> bool {
        let len = buf.len() as u64;
        self.copy_cached(offset, Some(buf), len)
    }

    /// Walks the cache over `offset..offset + len`, copying into `out` if given; false (and
    /// `out` partly written) if some byte is not there.
    fn copy_cached(&self, offset: u64, mut out: Option<&mut [u8]>, len: u64) -> bool {
        let cache = self.lock_cache();
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        let mut at = offset;
        while at < end {
            let Some(chunk) = cache.holding(at) else {
                return false;
            };
            let n = (chunk.end().min(end) - at) as usize;
            let from = (at - chunk.offset) as usize;
            if let Some(out) = out.as_deref_mut() {
                let to = (at - offset) as usize;
                out[to..to + n].copy_from_slice(&chunk.bytes[from..from + n]);
            }
            at += n as u64;
        }
        true
    }

    /// Fetches what the cache lacks of `ranges` (blocking), then fills them.
    fn read_blocking(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        let mut missing = Vec::new();
        for (index, (offset, buf)) in ranges.iter_mut().enumerate() {
            let end = offset.checked_add(buf.len() as u64);
            if end.is_none_or(|end| end > self.size) {
                return Err(past_the_end(
                    *offset..offset.saturating_add(buf.len() as u64),
                    self.size,
                ));
            }
            if !self.cached(*offset, buf) {
                missing.push((index, *offset..*offset + buf.len() as u64));
            }
        }
        let Some((_, first)) = missing.first() else {
            return Ok(());
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::io(
                first.start,
                std::io::Error::other("a range was read that the async reader did not fetch ahead"),
            ));
        }
        let wanted: Vec<Range<u64>> = missing.iter().map(|(_, range)| range.clone()).collect();
        let _fetched = super::block_on(self.fetch_ahead(&wanted))??;
        for (index, range) in missing {
            if !self.cached(range.start, ranges[index].1) {
                return Err(Error::io(
                    range.start,
                    std::io::Error::other("fetched bytes were not kept"),
                ));
            }
        }
        Ok(())
    }
}

impl ByteSource for RemoteSource {
    fn file_len(&self) -> Result<u64> {
        Ok(self.size)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.read_blocking(&mut [(offset, buf)])
    }

    fn read_ranges(&self, ranges: &mut [(u64, &mut [u8])]) -> Result<()> {
        self.read_blocking(ranges)
    }
}

/// `range` in parts of at most [`PART_BYTES`], fetched concurrently.
fn split(range: Range<u64>) -> Vec<Range<u64>> {
    let mut parts = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let end = at.saturating_add(PART_BYTES).min(range.end);
        parts.push(at..end);
        at = end;
    }
    parts
}

#[cold]
fn past_the_end(range: Range<u64>, size: u64) -> Error {
    Error::truncated(
        range.start,
        format!("bytes {range:?} run past the end of the {size}-byte object"),
    )
}

/// The body of `result`, which must be exactly `range`'s bytes, in the pieces it arrived in:
/// more is BadResponse as soon as it arrives (nothing past the range is kept), less is
/// BadResponse at the end.
pub(super) async fn collect(result: GetResult, range: Range<u64>) -> Result<Vec<Bytes>> {
    let offset = range.start;
    let expected = range.end - range.start;
    let mut stream = result.into_stream();
    let mut pieces = Vec::new();
    let mut received: u64 = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| store_error(Some(offset + received), e))?;
        received = received.saturating_add(piece.len() as u64);
        if received > expected {
            return Err(Error::bad_response(
                offset,
                format!("asked for {expected} bytes at {offset:#x}, the response holds more"),
            ));
        }
        pieces.push(piece);
    }
    if received < expected {
        return Err(Error::bad_response(
            offset,
            format!("asked for {expected} bytes at {offset:#x}, the response holds {received}"),
        ));
    }
    Ok(pieces)
}

/// `pieces` in one buffer of `len` bytes, or LimitExceeded if it cannot be allocated.
pub(super) fn concatenated(pieces: &[Bytes], len: u64, offset: u64) -> Result<Vec<u8>> {
    let refused = || Error::limit(offset, format!("cannot allocate {len} bytes"));
    let mut out = Vec::new();
    out.try_reserve_exact(usize::try_from(len).map_err(|_| refused())?)
        .map_err(|_| refused())?;
    for piece in pieces {
        out.extend_from_slice(piece);
    }
    Ok(out)
}
