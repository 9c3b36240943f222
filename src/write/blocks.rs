//! Compressed arrays: blocks of a fixed uncompressed size, each shuffled (optionally) and
//! compressed to one zstd frame on all cores, then written in order with its CRC.

use std::cell::RefCell;
use std::io::{Read, Write};

use rayon::prelude::*;

use super::arrays::{read_exactly, Source};
use super::Writer;
use crate::error::{Error, Result};
use crate::filter::shuffle;
use crate::format::{crc32, Filter, StoredExtent};
use crate::scratch::release_if_large;

/// How an array's blocks are compressed.
#[derive(Debug, Clone, Copy)]
struct BlockCodec {
    block_size: u64,
    level: i32,
    filter: Filter,
    itemsize: usize,
}

impl BlockCodec {
    fn compress(&self, block: &[u8]) -> std::io::Result<Vec<u8>> {
        compress_block(block, self.level, self.filter, self.itemsize)
    }
}

/// Blocks compressed per parallel round: enough to keep every core busy, few enough that the
/// window (blocks x block size) stays small.
fn blocks_per_window() -> usize {
    (rayon::current_num_threads() * 4).max(4)
}

pub(super) fn write_compressed<W: Write, R: Read>(
    writer: &mut Writer<W>,
    source: &mut Source<'_, R>,
    nbytes: u64,
    block_size: u64,
    level: i32,
    filter: Filter,
    itemsize: u64,
) -> Result<Vec<StoredExtent>> {
    let block_count = nbytes.div_ceil(block_size);
    let mut out = BlockWriter {
        writer,
        codec: BlockCodec {
            block_size,
            level,
            filter,
            itemsize: itemsize as usize,
        },
        extents: Vec::with_capacity(usize::try_from(block_count).unwrap_or(0).min(1 << 20)),
    };
    let window_bytes = (block_size * blocks_per_window() as u64).min(nbytes) as usize;
    match source {
        // The in-order pipeline blocks this thread while the pool compresses: never on a
        // thread of the pool itself (a one-thread pool would wait for itself forever).
        Source::Slice(bytes)
            if bytes.len() as u64 > block_size && rayon::current_thread_index().is_none() =>
        {
            out.compress_in_order(bytes)?;
        }
        Source::Slice(bytes) => {
            for window in bytes.chunks(window_bytes.max(1)) {
                out.compress_window(window)?;
            }
        }
        Source::Reader(reader) => {
            let mut window = vec![0u8; window_bytes];
            let mut remaining = nbytes;
            while remaining > 0 {
                let n = remaining.min(window.len() as u64) as usize;
                read_exactly(reader, &mut window[..n], out.writer.position())?;
                out.compress_window(&window[..n])?;
                remaining -= n as u64;
            }
        }
    }
    Ok(out.extents)
}

/// Where an array's compressed blocks go: the file, and the extent list that records them.
struct BlockWriter<'w, W: Write> {
    writer: &'w mut Writer<W>,
    codec: BlockCodec,
    extents: Vec<StoredExtent>,
}

impl<W: Write> BlockWriter<'_, W> {
    /// Compresses the blocks of an array in memory on the thread pool while this thread writes
    /// the finished ones in order: no core waits for a round of blocks to finish, and at most
    /// [`blocks_per_window`] compressed blocks are held at a time.
    fn compress_in_order(&mut self, bytes: &[u8]) -> Result<()> {
        let codec = self.codec;
        let blocks: Vec<&[u8]> = bytes.chunks(codec.block_size as usize).collect();
        let in_flight = blocks_per_window();
        let (done, finished) = std::sync::mpsc::channel::<(usize, std::io::Result<Vec<u8>>)>();
        rayon::in_place_scope(|scope| {
            let spawn = |index: usize| {
                let (block, done) = (blocks[index], done.clone());
                scope.spawn(move |_| {
                    // Every job answers, even one that panics, so the writer never waits forever.
                    let frame = std::panic::catch_unwind(|| codec.compress(block))
                        .unwrap_or_else(|_| Err(std::io::Error::other("block compression panicked")));
                    // The receiver outlives the scope, so this send cannot fail.
                    let _ = done.send((index, frame));
                });
            };
            (0..in_flight.min(blocks.len())).for_each(spawn);
            let mut ready: std::collections::BTreeMap<usize, std::io::Result<Vec<u8>>> = Default::default();
            for next in 0..blocks.len() {
                let frame = loop {
                    if let Some(frame) = ready.remove(&next) {
                        break frame;
                    }
                    let (index, frame) = finished.recv().map_err(|_| {
                        Error::io(
                            self.writer.position(),
                            std::io::Error::other("a compression job vanished"),
                        )
                    })?;
                    ready.insert(index, frame);
                };
                let frame = frame.map_err(|e| Error::io(self.writer.position(), e))?;
                if next + in_flight < blocks.len() {
                    spawn(next + in_flight);
                }
                self.write_frame(&frame)?;
            }
            Ok(())
        })
    }

    /// Appends one compressed block and its extent (offset, length, CRC).
    fn write_frame(&mut self, frame: &[u8]) -> Result<()> {
        self.extents.push(StoredExtent {
            offset: self.writer.position(),
            stored_length: frame.len() as u64,
            crc32: crc32(frame),
        });
        self.writer.put(frame)
    }

    /// Compresses the blocks of one window in parallel, then writes them in order.
    fn compress_window(&mut self, window: &[u8]) -> Result<()> {
        let codec = self.codec;
        let size = codec.block_size as usize;
        let compressed: std::io::Result<Vec<Vec<u8>>> = if window.len() <= size {
            // One block: the thread pool would only add a hand-off.
            window.chunks(size).map(|block| codec.compress(block)).collect()
        } else {
            window
                .par_chunks(size)
                .map(|block| codec.compress(block))
                .collect()
        };
        let compressed = compressed.map_err(|e| Error::io(self.writer.position(), e))?;
        for frame in compressed {
            self.write_frame(&frame)?;
        }
        Ok(())
    }
}

/// Per-thread state reused from block to block: a zstd context, whose tables take longer to
/// set up than a small block takes to compress, and buffers that would otherwise be fresh
/// (page-faulting) allocations every time.
struct BlockCompressor {
    level: i32,
    zstd: zstd::bulk::Compressor<'static>,
    shuffled: Vec<u8>,
    frame: Vec<u8>,
}

thread_local! {
    static COMPRESSOR: RefCell<Option<BlockCompressor>> = const { RefCell::new(None) };
}

fn compress_block(block: &[u8], level: i32, filter: Filter, itemsize: usize) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let state = match slot {
            Some(state) if state.level == level => state,
            _ => slot.insert(BlockCompressor {
                level,
                zstd: zstd::bulk::Compressor::new(level)?,
                shuffled: Vec::new(),
                frame: Vec::new(),
            }),
        };
        let input = match filter {
            Filter::None => block,
            Filter::Shuffle => {
                state.shuffled.resize(block.len(), 0);
                shuffle(block, &mut state.shuffled, itemsize);
                &state.shuffled
            }
        };
        state.frame.clear();
        state.frame.reserve(zstd::zstd_safe::compress_bound(input.len()));
        let result = state.zstd.compress_to_buffer(input, &mut state.frame);
        let frame = state.frame.clone();
        release_if_large(&mut state.shuffled);
        release_if_large(&mut state.frame);
        result.map(|_| frame)
    })
}
