//! Decoding compressed blocks: CRC first, then zstd into a buffer of exactly the declared size,
//! then unshuffle. A block can never inflate past what its array declared.

use std::cell::RefCell;

use rayon::prelude::*;

use super::source::Window;
use crate::error::{Error, Result};
use crate::filter::{unshuffle, unshuffle_in_place, IN_PLACE_SCRATCH_BYTES};
use crate::format::zstd_frame::check_frame;
use crate::format::{checksum_matches, crc32, Filter, StoredExtent};
use crate::scratch::release_if_large;

/// Decodes one stored block into `out`, whose length is the block's declared uncompressed size.
pub(crate) fn decode_block(
    stored: &[u8],
    extent: &StoredExtent,
    out: &mut [u8],
    filter: Filter,
    itemsize: usize,
) -> Result<()> {
    let offset = extent.offset;
    if !checksum_matches(extent.crc32, crc32(stored)) {
        return Err(Error::checksum(offset, "compressed block CRC-32 does not match"));
    }
    // The frame's headers first (spec 8.2), so what libzstd tolerates does not decide.
    check_frame(stored, out.len() as u64, offset)?;
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let state = match slot {
            Some(state) => state,
            None => slot.insert(BlockDecompressor {
                zstd: zstd::bulk::Decompressor::new()
                    .map_err(|e| Error::corrupt_block(offset, format!("zstd: {e}")))?,
                shuffled: Vec::new(),
            }),
        };
        match filter {
            Filter::None => decompress_exact(&mut state.zstd, stored, out, offset),
            // A big block is unshuffled where it was decoded: memory stays its length plus a
            // constant (spec 8.2); a small one goes through the scratch buffer, which is faster.
            Filter::Shuffle if out.len() > IN_PLACE_SCRATCH_BYTES => {
                let result = decompress_exact(&mut state.zstd, stored, out, offset);
                if result.is_ok() {
                    unshuffle_in_place(out, itemsize, &mut state.shuffled);
                }
                release_if_large(&mut state.shuffled);
                result
            }
            Filter::Shuffle => {
                state.shuffled.resize(out.len(), 0);
                let result = decompress_exact(&mut state.zstd, stored, &mut state.shuffled, offset);
                if result.is_ok() {
                    unshuffle(&state.shuffled, out, itemsize);
                }
                release_if_large(&mut state.shuffled);
                result
            }
        }
    })
}

/// Per-thread state reused from block to block: a zstd context and the unshuffle buffer, which
/// would otherwise be set up or freshly allocated for every block.
struct BlockDecompressor {
    zstd: zstd::bulk::Decompressor<'static>,
    shuffled: Vec<u8>,
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<BlockDecompressor>> = const { RefCell::new(None) };
}

fn decompress_exact(
    zstd: &mut zstd::bulk::Decompressor<'static>,
    stored: &[u8],
    out: &mut [u8],
    offset: u64,
) -> Result<()> {
    let written = zstd.decompress_to_buffer(stored, out).map_err(|e| {
        Error::corrupt_block(
            offset,
            format!("zstd: {e} (or it inflates past the declared size)"),
        )
    })?;
    if written != out.len() {
        return Err(Error::corrupt_block(
            offset,
            format!("block decodes to {written} bytes but declares {}", out.len()),
        ));
    }
    Ok(())
}

/// Decodes consecutive blocks of one array into `out` on all cores: `out` covers exactly the
/// uncompressed bytes of `blocks`, each `block_size` long except possibly the last, and `stored`
/// holds their stored bytes.
pub(crate) fn decode_blocks(
    stored: Window<'_>,
    blocks: &[StoredExtent],
    block_size: usize,
    out: &mut [u8],
    filter: Filter,
    itemsize: usize,
) -> Result<()> {
    let decode = |(chunk, extent): (&mut [u8], &StoredExtent)| {
        decode_block(stored.extent(extent)?, extent, chunk, filter, itemsize)
    };
    if blocks.len() <= 1 {
        // One block: the thread pool would only add a hand-off.
        return out.chunks_mut(block_size.max(1)).zip(blocks).try_for_each(decode);
    }
    let parallel = out
        .par_chunks_mut(block_size)
        .zip(blocks.par_iter())
        .try_for_each(decode);
    if parallel.is_err() {
        // Threads finish in any order, but the first bad block decides the class (spec 9.5).
        return out.chunks_mut(block_size).zip(blocks).try_for_each(decode);
    }
    parallel
}
