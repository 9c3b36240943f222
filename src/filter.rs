//! The byte-shuffle filter, shared by the writer (shuffle) and the reader (unshuffle).
//!
//! Within one block of `m` elements of `itemsize` bytes, byte `j` of element `i` moves to
//! position `j * m + i`: all first bytes, then all second bytes, and so on. Bytes of equal
//! significance then sit together, which zstd compresses far better for numeric data.

/// Shuffles `input` (whole elements of `itemsize` bytes) into `output` of the same length.
pub fn shuffle(input: &[u8], output: &mut [u8], itemsize: usize) {
    let Some(count) = plane_len_or_copy(input, output, itemsize) else {
        return;
    };
    for (j, plane) in output.chunks_exact_mut(count.max(1)).take(itemsize).enumerate() {
        for (i, byte) in plane.iter_mut().enumerate() {
            *byte = input[i * itemsize + j];
        }
    }
}

/// Inverts [`shuffle`].
pub fn unshuffle(input: &[u8], output: &mut [u8], itemsize: usize) {
    let Some(count) = plane_len_or_copy(input, output, itemsize) else {
        return;
    };
    for (j, plane) in input.chunks_exact(count.max(1)).take(itemsize).enumerate() {
        for (i, &byte) in plane.iter().enumerate() {
            output[i * itemsize + j] = byte;
        }
    }
}

/// The length of each byte plane (the element count), or `None` when elements of at most one
/// byte leave nothing to move: `output` then receives `input` as it is.
fn plane_len_or_copy(input: &[u8], output: &mut [u8], itemsize: usize) -> Option<usize> {
    debug_assert_eq!(input.len(), output.len());
    if itemsize <= 1 {
        output.copy_from_slice(input);
        return None;
    }
    Some(input.len() / itemsize)
}

/// Largest scratch buffer [`unshuffle_in_place`] uses: a constant, whatever the block size.
pub const IN_PLACE_SCRATCH_BYTES: usize = 16 << 20;

/// Inverts [`shuffle`] within `buf` itself, with at most [`IN_PLACE_SCRATCH_BYTES`] of
/// `scratch`, so a block of any size decodes in its own length plus a constant (spec 8.2).
///
/// The shuffled block is an `itemsize x count` matrix of bytes, and unshuffling transposes it.
/// Halving the count splits the transposition into two of half the size once each row's two
/// halves are gathered (by rotations); below the scratch size it is done by copy. Time is
/// `O(n log n)` moves, so the plain [`unshuffle`] stays the choice when a second buffer is fine.
pub fn unshuffle_in_place(buf: &mut [u8], itemsize: usize, scratch: &mut Vec<u8>) {
    if itemsize <= 1 {
        return;
    }
    let count = buf.len() / itemsize;
    transpose(&mut buf[..count * itemsize], itemsize, count, scratch);
}

/// Most blocks [`transpose_by_parts`] permutes; its bitmap of visited blocks is this many bits.
const MAX_PERMUTED_BLOCKS: usize = 1 << 16;

/// `buf` holds `rows` rows of `cols` bytes; afterwards it holds `cols` rows of `rows` bytes.
fn transpose(buf: &mut [u8], rows: usize, cols: usize, scratch: &mut Vec<u8>) {
    if rows <= 1 || cols <= 1 {
        return;
    }
    if buf.len() <= IN_PLACE_SCRATCH_BYTES {
        scratch.clear();
        scratch.reserve_exact(buf.len());
        scratch.extend_from_slice(buf);
        unshuffle(scratch, buf, rows);
        return;
    }
    let parts = buf.len().div_ceil(IN_PLACE_SCRATCH_BYTES);
    if rows.saturating_mul(parts) <= MAX_PERMUTED_BLOCKS {
        // The common case (few rows: an element's bytes): about two passes over the block.
        let main = parts * (cols / parts);
        gather_halves(buf, rows, main, cols - main, scratch);
        let (first, rest) = buf.split_at_mut(rows * main);
        transpose_by_parts(first, rows, main / parts, parts, scratch);
        transpose(rest, rows, cols - main, scratch);
        return;
    }
    let left = cols / 2;
    gather_halves(buf, rows, left, cols - left, scratch);
    let (first, second) = buf.split_at_mut(rows * left);
    transpose(first, rows, left, scratch);
    transpose(second, rows, cols - left, scratch);
}

/// [`transpose`] of `rows` rows of `parts` parts of `width` bytes each: the `rows x parts`
/// matrix of parts is transposed by following its cycles (each part moves once, through
/// `scratch`), then each part's column band, now contiguous, is transposed by copy.
fn transpose_by_parts(buf: &mut [u8], rows: usize, width: usize, parts: usize, scratch: &mut Vec<u8>) {
    let blocks = rows * parts;
    // Block `i` (row i / parts, part i % parts) belongs at (i % parts) * rows + i / parts.
    let destination = |i: usize| (i % parts) * rows + i / parts;
    let mut visited = vec![false; blocks];
    scratch.clear();
    scratch.resize(width, 0);
    for start in 0..blocks {
        if visited[start] || destination(start) == start {
            continue;
        }
        // Walk the cycle backwards: fill each hole from the block that belongs there.
        let source_of = |d: usize| (d % rows) * parts + d / rows;
        scratch.copy_from_slice(&buf[start * width..][..width]);
        let mut hole = start;
        loop {
            visited[hole] = true;
            let from = source_of(hole);
            if from == start {
                buf[hole * width..][..width].copy_from_slice(scratch);
                break;
            }
            buf.copy_within(from * width..(from + 1) * width, hole * width);
            hole = from;
        }
    }
    for band in buf.chunks_exact_mut(rows * width) {
        transpose(band, rows, width, scratch);
    }
}

/// `buf` holds `rows` rows, each `left` then `right` bytes; afterwards it holds every row's
/// left part, then every row's right part.
fn gather_halves(buf: &mut [u8], rows: usize, left: usize, right: usize, scratch: &mut Vec<u8>) {
    let width = left + right;
    if rows <= 1 || left == 0 || right == 0 {
        return;
    }
    if buf.len() <= IN_PLACE_SCRATCH_BYTES {
        scratch.clear();
        scratch.reserve_exact(buf.len());
        scratch.extend(buf.chunks_exact(width).flat_map(|row| &row[..left]));
        scratch.extend(buf.chunks_exact(width).flat_map(|row| &row[left..]));
        buf.copy_from_slice(scratch);
        return;
    }
    let top = rows / 2;
    let (upper, lower) = buf.split_at_mut(top * width);
    gather_halves(upper, top, left, right, scratch);
    gather_halves(lower, rows - top, left, right, scratch);
    // upper-left, upper-right, lower-left, lower-right: swap the middle two.
    let middle = top * left..top * width + (rows - top) * left;
    buf[middle].rotate_left(top * right);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "unshuffles 4 x 32 MiB: hours under Miri (no unsafe)")]
    fn in_place_unshuffle_matches_the_two_buffer_one() {
        // Past the scratch size, with odd counts and odd itemsizes; 40,000 rows take the rotations.
        for itemsize in [2usize, 3, 8, 40_000] {
            let count = (IN_PLACE_SCRATCH_BYTES * 2 / itemsize) | 1;
            let raw: Vec<u8> = (0..count * itemsize).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut shuffled = vec![0; raw.len()];
            shuffle(&raw, &mut shuffled, itemsize);
            let mut scratch = Vec::new();
            unshuffle_in_place(&mut shuffled, itemsize, &mut scratch);
            assert!(shuffled == raw, "itemsize {itemsize}");
            assert!(scratch.capacity() <= IN_PLACE_SCRATCH_BYTES);
        }
    }

    #[test]
    fn shuffle_groups_bytes_of_equal_significance() {
        let raw = [1u8, 2, 3, 4, 5, 6]; // three 2-byte elements
        let mut shuffled = [0u8; 6];
        shuffle(&raw, &mut shuffled, 2);
        assert_eq!(shuffled, [1, 3, 5, 2, 4, 6]);
        let mut back = [0u8; 6];
        unshuffle(&shuffled, &mut back, 2);
        assert_eq!(back, raw);
    }
}
