//! Decoding compressed blocks: CRC first, then zstd into a buffer of exactly the declared size,
//! then unshuffle. A block can never inflate past what its array declared.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::{unshuffle, unshuffle_in_place, IN_PLACE_SCRATCH_BYTES};
use crate::format::{checksum_matches, crc32, Filter, StoredExtent};

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
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(stored)
        .map_err(|_| Error::corrupt_block(offset, "not a zstd frame"))?;
    if frame_len != stored.len() {
        return Err(Error::corrupt_block(
            offset,
            "bytes follow the block's zstd frame",
        ));
    }
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

/// A zeroed buffer of `len` bytes, or LimitExceeded when the allocator refuses (the size comes
/// from the file, so it must fail as an error, never abort).
pub(crate) fn try_zeroed(len: usize, offset: u64) -> Result<Vec<u8>> {
    // A probe reservation, then `vec!`: its zeroed allocation takes untouched pages from the
    // kernel, where resizing a reserved Vec would write every byte.
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(len)
        .map_err(|_| Error::limit(offset, format!("cannot allocate {len} bytes to decode into")))?;
    drop(probe);
    Ok(vec![0; len])
}

/// Resizes `buf` to `len` zeroed bytes, failing as LimitExceeded when memory is refused.
pub(crate) fn try_resize(buf: &mut Vec<u8>, len: usize, offset: u64) -> Result<()> {
    if let Some(more) = len.checked_sub(buf.len()) {
        buf.try_reserve_exact(more)
            .map_err(|_| Error::limit(offset, format!("cannot allocate {len} bytes to decode into")))?;
    }
    buf.resize(len, 0);
    Ok(())
}

/// Scratch kept between blocks: enough for the default 1 MiB blocks; a buffer grown past it by
/// an unusual block size is freed rather than held by the thread for good.
const KEPT_SCRATCH_BYTES: usize = 4 << 20;

pub(crate) fn release_if_large(scratch: &mut Vec<u8>) {
    if scratch.capacity() > KEPT_SCRATCH_BYTES {
        *scratch = Vec::new();
    }
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
/// uncompressed bytes of `blocks`, each `block_size` long except possibly the last.
pub(crate) fn decode_blocks(
    file: &[u8],
    blocks: &[StoredExtent],
    block_size: usize,
    out: &mut [u8],
    filter: Filter,
    itemsize: usize,
) -> Result<()> {
    let decode = |(chunk, extent): (&mut [u8], &StoredExtent)| {
        decode_block(stored_bytes(file, extent)?, extent, chunk, filter, itemsize)
    };
    if blocks.len() <= 1 {
        // One block: the thread pool would only add a hand-off.
        return out.chunks_mut(block_size.max(1)).zip(blocks).try_for_each(decode);
    }
    out.par_chunks_mut(block_size)
        .zip(blocks.par_iter())
        .try_for_each(decode)
}

/// The bytes of a validated extent. The layout walk has already bounded it by the file.
pub(crate) fn stored_bytes<'f>(file: &'f [u8], extent: &StoredExtent) -> Result<&'f [u8]> {
    let start = usize::try_from(extent.offset).ok();
    let end = start.and_then(|s| s.checked_add(usize::try_from(extent.stored_length).ok()?));
    match (start, end) {
        (Some(start), Some(end)) if end <= file.len() => Ok(&file[start..end]),
        _ => Err(Error::out_of_bounds(extent.offset, "extent outside the file")),
    }
}

/// Copies a raw extent's stored bytes into `out` (the same length) and returns their CRC-32.
/// Large extents go in 1 MiB pieces on all cores, each piece hashed while it is still in cache,
/// so the check costs little beyond the copy.
pub(crate) fn copy_with_crc32(stored: &[u8], out: &mut [u8]) -> u32 {
    const PIECE: usize = 1 << 20;
    let copy_piece = |(dst, src): (&mut [u8], &[u8])| {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(src);
        dst.copy_from_slice(src);
        hasher
    };
    let hashers: Vec<crc32fast::Hasher> = if stored.len() <= 2 * PIECE {
        vec![copy_piece((out, stored))]
    } else {
        out.par_chunks_mut(PIECE)
            .zip(stored.par_chunks(PIECE))
            .map(copy_piece)
            .collect()
    };
    hashers
        .into_iter()
        .reduce(|mut acc, next| {
            acc.combine(&next);
            acc
        })
        .map_or(0, |hasher| hasher.finalize())
}
