//! CRC-32 as the spec defines it (the zlib polynomial), and the helpers every check goes through.

/// CRC-32 of one byte slice.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// CRC-32 of a large slice, computed on all cores in chunks and combined.
pub fn crc32_parallel(bytes: &[u8]) -> u32 {
    use rayon::prelude::*;
    const CHUNK: usize = 4 << 20;
    if bytes.len() as u64 <= PARALLEL_MIN_BYTES {
        return crc32(bytes);
    }
    bytes
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(chunk);
            hasher
        })
        .collect::<Vec<_>>()
        .into_iter()
        .reduce(|mut acc, next| {
            acc.combine(&next);
            acc
        })
        .map_or(0, |hasher| hasher.finalize())
}

/// Checksum work below this many bytes stays on the calling thread: handing it to the thread
/// pool (waking workers, blocking the caller until they finish) costs more than it saves.
pub(crate) const PARALLEL_MIN_BYTES: u64 = 8 << 20;

/// Whether a stored checksum matches. Under `cfg(fuzzing)` every checksum passes, so the fuzzer
/// reaches the structures behind them (as image-png does); the CRC path is tested separately.
pub(crate) fn checksum_matches(stored: u32, computed: u32) -> bool {
    cfg!(fuzzing) || stored == computed
}

/// Copies a raw extent's stored bytes into `out` (the same length) and returns their CRC-32.
/// Large extents go in 1 MiB pieces on all cores, each piece hashed while it is still in cache,
/// so the check costs little beyond the copy.
pub(crate) fn copy_with_crc32(stored: &[u8], out: &mut [u8]) -> u32 {
    use rayon::prelude::*;
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
