//! Writing: a streaming [`Writer`] to any `io::Write`, and atomic path writes.
//!
//! The writer makes one pass: the header first, then each array as it is given (raw and aligned,
//! or compressed in blocks on all cores), then the metadata section and the trailer. It never
//! seeks, so the sink may be a pipe or an upload, and it never holds more than one array (or, for
//! [`Writer::write_array_from_reader`], a window of blocks) in memory. The same calls give the
//! same bytes.
//!
//! ```
//! use amberfile::{ArraySpec, DType, Graph, Node, Writer, WriteOptions};
//! let mut writer = Writer::new(Vec::new(), WriteOptions::default())?;
//! let weights = writer.write_array(&ArraySpec::c(DType::Float32, &[2]), bytemuck::cast_slice(&[1.0f32, 2.0]))?;
//! let mut graph = Graph::new();
//! let key = graph.add(Node::Str("weights"));
//! let value = graph.add(Node::Array(weights));
//! let root = graph.add(Node::Map(&[[key, value]]));
//! graph.set_root(root);
//! let bytes = writer.finish(&graph)?;
//! assert_eq!(bytes.len(), 207);
//! # Ok::<(), amberfile::Error>(())
//! ```

mod blocks;
mod metadata;

use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use binrw::BinWrite;

use crate::dtype::{check_dtype_tree, checked_nbytes, DType, Element};
use crate::error::{Error, Result};
use crate::format::{
    align_up, crc32, Codec, Filter, Header, Order, StoredExtent, Trailer, HEADER_LEN, MAGIC, VERSION_MAJOR,
    VERSION_MINOR,
};
use crate::graph::{ArrayId, Graph};
use crate::limits::{Limits, MAX_ALIGNMENT, MAX_BLOCK_SIZE, MAX_NDIM, MIN_ALIGNMENT};

/// How arrays are stored.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Raw and aligned: memory-mappable zero-copy.
    None,
    /// zstd at `level` (1..=22; 3 is zstd's default), optionally byte-shuffled first.
    Zstd {
        /// zstd's compression level, 1..=22.
        level: i32,
        /// Byte-shuffle each block before compressing (helps numeric data).
        shuffle: bool,
    },
}

/// Writer settings. The defaults: alignment 64, no compression, 1 MiB blocks, no fsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Alignment of every raw array: a power of two from 64 to 2^24, e.g. 4096 for pages
    /// (else [`Writer::new`] fails with `InvalidOptions`).
    pub alignment: u32,
    /// Default storage for [`Writer::write_array`].
    pub compression: Compression,
    /// Uncompressed bytes per compressed block, rounded down to whole elements: 1..=2^30
    /// (else `InvalidOptions`). Default 1 MiB.
    pub block_size: u64,
    /// For [`Writer::create`]: fsync the file and its directory before the rename.
    pub fsync: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            alignment: 64,
            compression: Compression::None,
            block_size: 1 << 20,
            fsync: false,
        }
    }
}

/// What an array is: its dtype, shape and memory order. The bytes come separately.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArraySpec {
    /// The element type.
    pub dtype: DType,
    /// Dimensions, outermost first; at most 64.
    pub shape: Vec<u64>,
    /// The order the bytes are given in, and stored in.
    pub order: Order,
}

impl ArraySpec {
    /// A C-ordered (row-major) array.
    pub fn c(dtype: DType, shape: &[u64]) -> Self {
        ArraySpec {
            dtype,
            shape: shape.to_vec(),
            order: Order::C,
        }
    }

    /// Total bytes: elements x itemsize, checked as the spec's rule R42 says.
    pub fn nbytes(&self) -> Result<u64> {
        checked_nbytes(self.dtype.itemsize(), &self.shape)
            .ok_or_else(|| Error::limit(None, "array size overflows u64"))
    }
}

/// One array as the metadata section will describe it.
#[derive(Debug, Clone)]
pub(crate) struct WrittenArray {
    pub dtype: u32,
    pub order: Order,
    pub codec: Codec,
    pub filter: Filter,
    pub shape: Vec<u64>,
    pub block_size: u64,
    pub extents: Vec<StoredExtent>,
}

/// Where an array's bytes come from: memory (written straight from the caller's slice) or a
/// reader (copied through a bounded buffer).
pub(crate) enum Source<'a, R> {
    Slice(&'a [u8]),
    Reader(R),
}

/// A streaming writer. See the [module docs](self).
pub struct Writer<W: Write> {
    sink: W,
    position: u64,
    options: WriteOptions,
    dtypes: Vec<DType>,
    dtype_index: HashMap<DType, u32>,
    arrays: Vec<WrittenArray>,
    /// Where an array failed after some of its bytes reached the sink: the file has a hole
    /// there, so nothing more may be written to it.
    broken_at: Option<u64>,
}

impl<W: Write> Writer<W> {
    /// Starts a file: validates the options and writes the header.
    pub fn new(sink: W, options: WriteOptions) -> Result<Self> {
        let a = options.alignment;
        if !a.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&a) {
            return Err(Error::invalid_options(
                None,
                format!("alignment {a} is not a power of two in 64..=2^24"),
            ));
        }
        if options.block_size == 0 || options.block_size > MAX_BLOCK_SIZE {
            return Err(Error::invalid_options(None, "block size must be in 1..=2^30"));
        }
        let mut writer = Writer {
            sink,
            position: 0,
            options,
            dtypes: Vec::new(),
            dtype_index: HashMap::new(),
            arrays: Vec::new(),
            broken_at: None,
        };
        let header = encode_header(a);
        writer.put(&header)?;
        Ok(writer)
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Writes one array stored as [`WriteOptions::compression`] says. `bytes` are the elements
    /// in `spec.order`, little-endian, exactly `spec.nbytes()` long.
    pub fn write_array(&mut self, spec: &ArraySpec, bytes: &[u8]) -> Result<ArrayId> {
        self.write_array_with(spec, bytes, self.options.compression)
    }

    /// Writes one array with an explicit storage choice.
    pub fn write_array_with(
        &mut self,
        spec: &ArraySpec,
        bytes: &[u8],
        compression: Compression,
    ) -> Result<ArrayId> {
        let nbytes = self.check_spec(spec)?;
        if nbytes != bytes.len() as u64 {
            return Err(Error::length_mismatch(
                None,
                format!(
                    "shape x itemsize is {nbytes} bytes but {} bytes were given",
                    bytes.len()
                ),
            ));
        }
        // Spec 13.6: writers store bool elements as 0 or 1 only.
        if spec.dtype == DType::Bool && bytes.iter().any(|&b| b > 1) {
            return Err(Error::invalid_array(None, "a bool element is neither 0 nor 1"));
        }
        self.write_array_from_source(spec, Source::<&[u8]>::Slice(bytes), compression)
    }

    /// Writes one array whose bytes come from `source`, in bounded memory: raw arrays are copied
    /// through in 8 MiB pieces, compressed ones a window of blocks at a time.
    pub fn write_array_from_reader(
        &mut self,
        spec: &ArraySpec,
        source: impl Read,
        compression: Compression,
    ) -> Result<ArrayId> {
        if spec.dtype == DType::Bool {
            // Spec 13.6, as for `write_array_with`: checked piece by piece as the bytes arrive.
            return self.write_array_from_source(spec, Source::Reader(BoolBytes(source)), compression);
        }
        self.write_array_from_source(spec, Source::Reader(source), compression)
    }

    fn write_array_from_source<R: Read>(
        &mut self,
        spec: &ArraySpec,
        source: Source<'_, R>,
        compression: Compression,
    ) -> Result<ArrayId> {
        self.check_not_broken()?;
        let start = self.position;
        let written = self.write_array_bytes(spec, source, compression);
        if written.is_err() && self.position != start {
            self.broken_at = Some(start);
        }
        written
    }

    fn check_not_broken(&self) -> Result<()> {
        match self.broken_at {
            Some(at) => Err(Error::invalid_layout(
                at,
                "an earlier array failed part-way through; this file cannot be finished",
            )),
            None => Ok(()),
        }
    }

    fn write_array_bytes<R: Read>(
        &mut self,
        spec: &ArraySpec,
        mut source: Source<'_, R>,
        compression: Compression,
    ) -> Result<ArrayId> {
        let nbytes = self.check_spec(spec)?;
        let dtype = self.intern_dtype(&spec.dtype);
        let itemsize = spec.dtype.itemsize();
        let (codec, filter, block_size, extents) = match compression {
            _ if nbytes == 0 => (codec_of(compression), filter_of(compression), 0, Vec::new()),
            Compression::None => {
                self.pad_to(u64::from(self.options.alignment))?;
                let extent = match &mut source {
                    Source::Slice(bytes) => {
                        let offset = self.position;
                        let mut hasher = crc32fast::Hasher::new();
                        self.write_hashed(bytes, &mut hasher)?;
                        StoredExtent {
                            offset,
                            stored_length: nbytes,
                            crc32: hasher.finalize(),
                        }
                    }
                    Source::Reader(reader) => self.copy_raw(reader, nbytes)?,
                };
                (Codec::None, Filter::None, 0, vec![extent])
            }
            Compression::Zstd { level, shuffle } => {
                let block_size = (self.options.block_size / itemsize).max(1) * itemsize;
                if block_size > MAX_BLOCK_SIZE {
                    return Err(Error::limit(None, "one element is larger than the largest block"));
                }
                let filter = if shuffle { Filter::Shuffle } else { Filter::None };
                let extents =
                    blocks::write_compressed(self, &mut source, nbytes, block_size, level, filter, itemsize)?;
                (Codec::Zstd, filter, block_size, extents)
            }
        };
        // A zero-length compressed array still records its codec, with a valid block size.
        let block_size = match codec {
            Codec::Zstd if block_size == 0 => (self.options.block_size / itemsize).max(1) * itemsize,
            _ => block_size,
        };
        if block_size > MAX_BLOCK_SIZE {
            // Only an empty array gets here: a larger element admits no valid block size.
            return Err(Error::limit(None, "one element is larger than the largest block"));
        }
        let id =
            ArrayId(u32::try_from(self.arrays.len()).map_err(|_| Error::limit(None, "too many arrays"))?);
        self.arrays.push(WrittenArray {
            dtype,
            order: spec.order,
            codec,
            filter,
            shape: spec.shape.clone(),
            block_size,
            extents,
        });
        Ok(id)
    }

    /// Writes an ndarray. Standard (C) and Fortran layouts are written straight from the
    /// array's memory; any other layout is copied into C order first.
    pub fn write_ndarray<A, S, D>(&mut self, array: &ndarray::ArrayBase<S, D>) -> Result<ArrayId>
    where
        A: Element,
        S: ndarray::Data<Elem = A>,
        D: ndarray::Dimension,
    {
        let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
        let spec = |order| ArraySpec {
            dtype: A::dtype(),
            shape: shape.clone(),
            order,
        };
        if let Some(items) = array.as_slice() {
            return self.write_array(&spec(Order::C), A::as_bytes(items));
        }
        if let Some(items) = array.as_slice_memory_order() {
            if array.t().is_standard_layout() {
                return self.write_array(&spec(Order::F), A::as_bytes(items));
            }
        }
        let items: Vec<A> = array.iter().copied().collect();
        self.write_array(&spec(Order::C), A::as_bytes(&items))
    }

    /// Writes the metadata section for `graph` and the trailer, flushes, and returns the sink.
    pub fn finish(mut self, graph: &Graph) -> Result<W> {
        self.check_not_broken()?;
        graph.validate(self.arrays.len())?;
        let metadata = metadata::encode_metadata(graph, &self.dtypes, &self.arrays)?;
        let metadata_offset = self.position;
        let mut trailer = Trailer {
            metadata_offset,
            metadata_length: metadata.len() as u64,
            metadata_crc32: crc32(&metadata),
            trailer_crc32: 0,
            magic: MAGIC,
        };
        let mut encoded = encode(&trailer);
        trailer.trailer_crc32 = crc32(&encoded[..20]);
        encoded = encode(&trailer);
        self.put(&metadata)?;
        self.put(&encoded)?;
        let position = self.position;
        self.sink.flush().map_err(|e| Error::io(position, e))?;
        Ok(self.sink)
    }

    fn check_spec(&self, spec: &ArraySpec) -> Result<u64> {
        if spec.shape.len() > MAX_NDIM {
            return Err(Error::limit(
                None,
                format!("{} dimensions; at most 64 are allowed", spec.shape.len()),
            ));
        }
        check_dtype_tree(&spec.dtype, &Limits::default())?;
        spec.nbytes()
    }

    /// Adds `dtype` (and first, its field dtypes) to the dtype table once.
    fn intern_dtype(&mut self, dtype: &DType) -> u32 {
        if let Some(&index) = self.dtype_index.get(dtype) {
            return index;
        }
        if let DType::Record(record) = dtype {
            for field in &record.fields {
                self.intern_dtype(&field.dtype);
            }
        }
        let index = self.dtypes.len() as u32;
        self.dtypes.push(dtype.clone());
        self.dtype_index.insert(dtype.clone(), index);
        index
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let position = self.position;
        self.sink.write_all(bytes).map_err(|e| Error::io(position, e))?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, alignment: u64) -> Result<()> {
        const ZEROS: [u8; 4096] = [0; 4096];
        let target = align_up(self.position, alignment)
            .ok_or_else(|| Error::limit(self.position, "file too large"))?;
        let mut remaining = target - self.position;
        while remaining > 0 {
            let n = remaining.min(ZEROS.len() as u64) as usize;
            self.put(&ZEROS[..n])?;
            remaining -= n as u64;
        }
        Ok(())
    }

    /// Copies exactly `nbytes` from `source`, computing the CRC alongside.
    fn copy_raw(&mut self, source: &mut impl Read, nbytes: u64) -> Result<StoredExtent> {
        const PIECE: usize = 8 << 20;
        let offset = self.position;
        let mut hasher = crc32fast::Hasher::new();
        let mut buffer = vec![0u8; PIECE.min(nbytes as usize)];
        let mut remaining = nbytes;
        while remaining > 0 {
            let n = remaining.min(buffer.len() as u64) as usize;
            read_exactly(source, &mut buffer[..n], self.position)?;
            self.write_hashed(&buffer[..n], &mut hasher)?;
            remaining -= n as u64;
        }
        Ok(StoredExtent {
            offset,
            stored_length: nbytes,
            crc32: hasher.finalize(),
        })
    }

    /// Writes `bytes` and folds them into `hasher`. Large arrays go in pieces, each hashed on
    /// another thread just before this one writes it: the write finds the piece in cache
    /// instead of reading it from memory a second time, and the CRC costs no wall time.
    fn write_hashed(&mut self, bytes: &[u8], hasher: &mut crc32fast::Hasher) -> Result<()> {
        /// Small enough to stay in the shared cache between the hash and the write.
        const PIECE: usize = 4 << 20;
        if bytes.len() < (1 << 20) {
            hasher.update(bytes);
            return self.put(bytes);
        }
        std::thread::scope(|scope| {
            // At most one hashed piece waits: the hasher stays just ahead of the writer.
            let (hashed, pieces) = std::sync::mpsc::sync_channel::<u32>(1);
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                for piece in bytes.chunks(PIECE) {
                    if hashed.send(crc32(piece)).is_err() {
                        break; // the writer failed and stopped listening
                    }
                }
            });
            for piece in bytes.chunks(PIECE) {
                // Without the hashing thread (none could be started), hash here.
                let crc = match &spawned {
                    Ok(_) => pieces.recv().unwrap_or_else(|_| crc32(piece)),
                    Err(_) => crc32(piece),
                };
                hasher.combine(&crc32fast::Hasher::new_with_initial_len(crc, piece.len() as u64));
                self.put(piece)?;
            }
            Ok(())
        })
    }
}

fn codec_of(compression: Compression) -> Codec {
    match compression {
        Compression::None => Codec::None,
        Compression::Zstd { .. } => Codec::Zstd,
    }
}

fn filter_of(compression: Compression) -> Filter {
    match compression {
        Compression::Zstd { shuffle: true, .. } => Filter::Shuffle,
        _ => Filter::None,
    }
}

pub(crate) fn read_exactly(source: &mut impl Read, buffer: &mut [u8], position: u64) -> Result<()> {
    source.read_exact(buffer).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::length_mismatch(position, "the source ended before the array's declared size")
        } else if e.get_ref().is_some_and(|inner| inner.is::<NotBool>()) {
            Error::invalid_array(position, NotBool.to_string())
        } else {
            Error::io(position, e)
        }
    })
}

/// A source of bool elements that fails on a byte other than 0 or 1.
struct BoolBytes<R>(R);

#[derive(Debug, thiserror::Error)]
#[error("a bool element is neither 0 nor 1")]
struct NotBool;

impl<R: Read> Read for BoolBytes<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        if buf[..n].iter().any(|&b| b > 1) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, NotBool));
        }
        Ok(n)
    }
}

pub(crate) fn encode<T>(value: &T) -> Vec<u8>
where
    T: for<'a> BinWrite<Args<'a> = ()> + binrw::meta::WriteEndian,
{
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = value.write(&mut binrw::io::NoSeek::new(&mut out));
    out
}

fn encode_header(alignment: u32) -> Vec<u8> {
    let mut header = Header {
        magic: MAGIC,
        version_major: VERSION_MAJOR,
        version_minor: VERSION_MINOR,
        alignment,
        required_features: 0,
        optional_features: 0,
        reserved: [0; 28],
        header_crc32: 0,
    };
    header.header_crc32 = crc32(&encode(&header)[..60]);
    let bytes = encode(&header);
    debug_assert_eq!(bytes.len() as u64, HEADER_LEN);
    bytes
}

/// Below this size, freeing a replaced file costs less than starting a thread to do it.
#[cfg(unix)]
const RELEASE_IN_BACKGROUND_BYTES: u64 = 8 << 20;

/// The big regular file a commit is about to replace, held open so that the rename does not
/// drop its last reference. Anything else (no file, a small one, a FIFO, no permission) is left
/// alone; the open never blocks, even if a FIFO took the file's place after the check.
#[cfg(unix)]
fn open_replaced_file(target: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let metadata = std::fs::symlink_metadata(target).ok()?;
    if !metadata.is_file() || metadata.len() < RELEASE_IN_BACKGROUND_BYTES {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(target)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Elsewhere a file held open may refuse to be replaced: the rename frees it in place.
#[cfg(not(unix))]
fn open_replaced_file(_target: &Path) -> Option<std::fs::File> {
    None
}

/// A file being written under a temporary name next to its target; [`Writer::commit`] renames
/// it into place, so a crash never leaves half a file under the target name. Dropped without a
/// commit, the temporary file is deleted.
pub struct PendingFile {
    file: BufWriter<tempfile::NamedTempFile>,
    target: PathBuf,
    fsync: bool,
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Writer<PendingFile> {
    /// Starts writing `path` atomically (temporary file + rename).
    pub fn create(path: impl AsRef<Path>, options: WriteOptions) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".amber-").suffix(".tmp");
        // The finished file gets a new file's usual mode (0666 less the umask), not 0600.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(&dir).map_err(|e| Error::io(None, e))?;
        let fsync = options.fsync;
        let pending = PendingFile {
            file: BufWriter::with_capacity(64 << 10, temp),
            target,
            fsync,
        };
        Writer::new(pending, options)
    }

    /// Finishes the file and moves it to its target name. A file it replaces is released on a
    /// background thread, so freeing a big old model does not delay the caller.
    pub fn commit(self, graph: &Graph) -> Result<()> {
        let position = self.position;
        let pending = self.finish(graph)?;
        let temp = pending
            .file
            .into_inner()
            .map_err(|e| Error::io(position, e.into_error()))?;
        if pending.fsync {
            temp.as_file().sync_all().map_err(|e| Error::io(position, e))?;
        }
        let replaced = open_replaced_file(&pending.target);
        temp.persist(&pending.target)
            .map_err(|e| Error::io(position, e.error))?;
        if let Some(replaced) = replaced {
            // The replaced file's last reference: freeing its pages and blocks (milliseconds
            // for a big model) happens on another thread instead of delaying the caller. If no
            // thread can be started, it is freed here.
            let _ = std::thread::Builder::new().spawn(move || drop(replaced));
        }
        if pending.fsync {
            if let Some(dir) = pending.target.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| Error::io(position, e))?;
            }
        }
        Ok(())
    }
}
