//! The data region, array by array: the checks on what the caller hands in, raw arrays copied
//! through with their CRC, and the bool rule of spec 13.6. Compressed arrays go on to
//! `blocks.rs`; what each array becomes in the array table is `metadata/arrays.rs`.

use std::io::{self, Read, Write};

use super::metadata::{array_block_size, check_spec, WrittenArray};
use super::{blocks, ArraySpec, Compression, Writer};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::format::{crc32, Codec, Filter, Order, StoredExtent};
use crate::graph::ArrayId;

/// Where an array's bytes come from: memory (written straight from the caller's slice) or a
/// reader (copied through a bounded buffer).
pub(super) enum Source<'a, R> {
    Slice(&'a [u8]),
    Reader(R),
}

impl<W: Write> Writer<W> {
    /// Writes one array stored as [`WriteOptions::compression`](super::WriteOptions::compression)
    /// says. `bytes` are the elements in `spec.order`, little-endian, exactly `spec.nbytes()` long.
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
        let nbytes = check_spec(spec)?;
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

    pub(super) fn check_not_broken(&self) -> Result<()> {
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
        let nbytes = check_spec(spec)?;
        let dtype = self.dtypes.intern(&spec.dtype);
        let itemsize = spec.dtype.itemsize();
        // An empty array has no extent (spec 4.5) but still records its codec and filter.
        let (codec, filter, block_size, extents) = match compression {
            Compression::None if nbytes == 0 => (Codec::None, Filter::None, 0, Vec::new()),
            Compression::None => {
                let extent = self.write_raw_extent(&mut source, nbytes)?;
                (Codec::None, Filter::None, 0, vec![extent])
            }
            Compression::Zstd { level, shuffle } => {
                let block_size = array_block_size(self.options.block_size, itemsize)?;
                let filter = if shuffle { Filter::Shuffle } else { Filter::None };
                let extents = match nbytes {
                    0 => Vec::new(),
                    _ => blocks::write_compressed(
                        self,
                        &mut source,
                        nbytes,
                        block_size,
                        level,
                        filter,
                        itemsize,
                    )?,
                };
                (Codec::Zstd, filter, block_size, extents)
            }
        };
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

    /// A raw array's one extent: aligned, its stored bytes exactly its logical bytes.
    fn write_raw_extent<R: Read>(&mut self, source: &mut Source<'_, R>, nbytes: u64) -> Result<StoredExtent> {
        self.pad_to_alignment()?;
        match source {
            Source::Slice(bytes) => {
                let offset = self.position;
                let mut hasher = crc32fast::Hasher::new();
                self.write_hashed(bytes, &mut hasher)?;
                Ok(StoredExtent {
                    offset,
                    stored_length: nbytes,
                    crc32: hasher.finalize(),
                })
            }
            Source::Reader(reader) => self.copy_raw(reader, nbytes),
        }
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

/// Fills `buffer` from `source`: a source that ends early is LengthMismatch, a bool byte other
/// than 0 or 1 is InvalidArray, anything else an I/O error at `position`.
pub(super) fn read_exactly(source: &mut impl Read, buffer: &mut [u8], position: u64) -> Result<()> {
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
