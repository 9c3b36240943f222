//! The byte-shuffle filter, shared by the writer (shuffle) and the reader (unshuffle).
//!
//! Within one block of `m` elements of `itemsize` bytes, byte `j` of element `i` moves to
//! position `j * m + i`: all first bytes, then all second bytes, and so on. Bytes of equal
//! significance then sit together, which zstd compresses far better for numeric data.

/// Shuffles `input` (whole elements of `itemsize` bytes) into `output` of the same length.
pub fn shuffle(input: &[u8], output: &mut [u8], itemsize: usize) {
    debug_assert_eq!(input.len(), output.len());
    if itemsize <= 1 {
        output.copy_from_slice(input);
        return;
    }
    let count = input.len() / itemsize;
    for (j, plane) in output.chunks_exact_mut(count.max(1)).take(itemsize).enumerate() {
        for (i, byte) in plane.iter_mut().enumerate() {
            *byte = input[i * itemsize + j];
        }
    }
}

/// Inverts [`shuffle`].
pub fn unshuffle(input: &[u8], output: &mut [u8], itemsize: usize) {
    debug_assert_eq!(input.len(), output.len());
    if itemsize <= 1 {
        output.copy_from_slice(input);
        return;
    }
    let count = input.len() / itemsize;
    for (j, plane) in input.chunks_exact(count.max(1)).take(itemsize).enumerate() {
        for (i, &byte) in plane.iter().enumerate() {
            output[i * itemsize + j] = byte;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
