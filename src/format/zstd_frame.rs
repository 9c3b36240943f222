//! The header walk of one zstd frame (RFC 8878 section 3.1.1), as spec 8.2 gives it in
//! pseudo-code. It runs before a block reaches libzstd: it checks every frame condition that the
//! frame and block headers show, and finds where the frame ends without decoding anything, so
//! the reference does not depend on what one zstd API happens to tolerate (libzstd's one-shot
//! decoder accepts an oversized raw block that its streaming decoder rejects).
//!
//! What only decoding can tell (the contents of compressed blocks, the content checksum) is left
//! to the decoder.

use crate::error::{Error, Result};
use crate::limits::MAX_ZSTD_WINDOW;

/// The magic number of an RFC 8878 frame. Skippable frames and the legacy formats of zstd
/// v0.1 to v0.7 have other magics, and are rejected by it.
const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// RFC 8878 3.1.1.2.3: no zstd block holds more than 128 KiB, whatever the window.
const ZSTD_BLOCK_MAXIMUM: u64 = 128 << 10;

const BLOCK_RAW: u32 = 0;
const BLOCK_RLE: u32 = 1;
const BLOCK_RESERVED: u32 = 3;

/// Walks `frame`, the stored bytes of one block whose uncompressed length is `block_len`.
/// Fails with CorruptBlock at `extent_offset` (the extent's file offset) where a condition of
/// spec 8.2 that the headers show does not hold, including a frame cut short or followed by
/// anything.
pub(crate) fn check_frame(frame: &[u8], block_len: u64, extent_offset: u64) -> Result<()> {
    let corrupt = |detail: String| Error::corrupt_block(extent_offset, detail);
    let mut rest = FrameBytes { rest: frame };
    let magic = rest.uint(4, "magic number").map_err(corrupt)?;
    if magic != u64::from(FRAME_MAGIC) {
        return Err(corrupt(format!(
            "magic {magic:#010x} is not that of an RFC 8878 zstd frame"
        )));
    }
    let descriptor = rest.uint(1, "frame header descriptor").map_err(corrupt)? as u8;
    let content_size_flag = descriptor >> 6;
    let single_segment = descriptor & 0x20 != 0;
    // Bit 4 is unused: RFC 8878 says a decoder does not interpret it.
    if descriptor & 0x08 != 0 {
        return Err(corrupt("the frame header's reserved bit is set".into()));
    }
    let has_checksum = descriptor & 0x04 != 0;
    let window_size = if single_segment {
        None
    } else {
        let window_descriptor = rest.uint(1, "window descriptor").map_err(corrupt)?;
        let base = 1u64 << (10 + (window_descriptor >> 3));
        Some(base + (base / 8) * (window_descriptor & 7))
    };
    let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    if rest.uint(dictionary_id_len, "dictionary id").map_err(corrupt)? != 0 {
        return Err(corrupt("the frame declares a dictionary".into()));
    }
    let content_size_len = match (content_size_flag, single_segment) {
        (0, false) => 0,
        (0, true) => 1,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    let content_size = match rest.uint(content_size_len, "content size").map_err(corrupt)? {
        _ if content_size_len == 0 => None,
        two_bytes if content_size_len == 2 => Some(two_bytes + 256),
        declared => Some(declared),
    };
    if let Some(declared) = content_size {
        if declared != block_len {
            return Err(corrupt(format!(
                "the frame declares {declared} bytes of content; the block has {block_len}"
            )));
        }
    }
    // A single-segment frame has no window descriptor: its window is its content size.
    let window_size = window_size.or(content_size).unwrap_or(0);
    if window_size > MAX_ZSTD_WINDOW {
        return Err(corrupt(format!("Window_Size {window_size} exceeds 2^30")));
    }
    let block_maximum = window_size.min(ZSTD_BLOCK_MAXIMUM);
    // Raw and RLE blocks say how much they produce; more than the block's length is a bomb.
    let mut known_output = 0u64;
    loop {
        let header = rest.uint(3, "block header").map_err(corrupt)? as u32;
        let block_type = (header >> 1) & 3;
        let size = u64::from(header >> 3);
        if block_type == BLOCK_RESERVED {
            return Err(corrupt("a block has the reserved type 3".into()));
        }
        if size > block_maximum {
            return Err(corrupt(format!(
                "a block of {size} bytes exceeds Block_Maximum_Size {block_maximum}"
            )));
        }
        let stored = if block_type == BLOCK_RLE { 1 } else { size };
        rest.skip(stored, "block content").map_err(corrupt)?;
        if block_type == BLOCK_RAW || block_type == BLOCK_RLE {
            known_output += size;
            if known_output > block_len {
                return Err(corrupt(format!(
                    "the frame produces more than the block's {block_len} bytes"
                )));
            }
        }
        if header & 1 != 0 {
            break;
        }
    }
    if has_checksum {
        rest.skip(4, "content checksum").map_err(corrupt)?;
    }
    if !rest.rest.is_empty() {
        return Err(corrupt(format!(
            "bytes follow the zstd frame ({} of them)",
            rest.rest.len()
        )));
    }
    Ok(())
}

/// The unread tail of a frame; every read says what it wanted when the frame ends first.
struct FrameBytes<'f> {
    rest: &'f [u8],
}

impl FrameBytes<'_> {
    fn take(&mut self, len: u64, what: &str) -> std::result::Result<&[u8], String> {
        match usize::try_from(len).ok().filter(|&len| len <= self.rest.len()) {
            Some(len) => {
                let (taken, rest) = self.rest.split_at(len);
                self.rest = rest;
                Ok(taken)
            }
            None => Err(format!("the zstd frame ends inside its {what}")),
        }
    }

    fn skip(&mut self, len: u64, what: &str) -> std::result::Result<(), String> {
        self.take(len, what).map(|_| ())
    }

    /// A little-endian unsigned field of `len` bytes (at most 8).
    fn uint(&mut self, len: u64, what: &str) -> std::result::Result<u64, String> {
        let bytes = self.take(len, what)?;
        Ok(bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const AT: u64 = 4096;

    /// A frame from its header fields and `(last, type, size, content)` blocks.
    fn frame(descriptor: u8, fields: &[u8], blocks: &[(bool, u32, u32, &[u8])], tail: &[u8]) -> Vec<u8> {
        let mut out = vec![0x28, 0xB5, 0x2F, 0xFD, descriptor];
        out.extend_from_slice(fields);
        for &(last, block_type, size, content) in blocks {
            let header = u32::from(last) | (block_type << 1) | (size << 3);
            out.extend_from_slice(&header.to_le_bytes()[..3]);
            out.extend_from_slice(content);
        }
        out.extend_from_slice(tail);
        out
    }

    fn raw(content: &[u8]) -> (bool, u32, u32, &[u8]) {
        (true, BLOCK_RAW, content.len() as u32, content)
    }

    fn accepts(frame: &[u8], block_len: u64) -> bool {
        match check_frame(frame, block_len, AT) {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::CorruptBlock, "{e}");
                assert_eq!(e.offset(), Some(AT), "the extent's offset: {e}");
                false
            }
        }
    }

    #[test]
    fn every_content_size_field_width_is_read() {
        let content = [7u8; 300];
        // Single segment, 1-byte size; then 2 bytes (value + 256), 4 and 8 bytes.
        assert!(accepts(&frame(0x20, &[64], &[raw(&content[..64])], &[]), 64));
        assert!(!accepts(&frame(0x20, &[63], &[raw(&content[..64])], &[]), 64));
        assert!(accepts(&frame(0x60, &[44, 0], &[raw(&content)], &[]), 300));
        assert!(!accepts(&frame(0x60, &[45, 0], &[raw(&content)], &[]), 300));
        assert!(accepts(
            &frame(0xA0, &300u32.to_le_bytes(), &[raw(&content)], &[]),
            300
        ));
        assert!(accepts(
            &frame(0xE0, &300u64.to_le_bytes(), &[raw(&content)], &[]),
            300
        ));
        assert!(!accepts(
            &frame(0xE0, &301u64.to_le_bytes(), &[raw(&content)], &[]),
            300
        ));
        // Not single segment: flag 0 means no size (then a window descriptor, 1 KiB).
        assert!(accepts(&frame(0x00, &[0x00], &[raw(&content)], &[]), 300));
        assert!(accepts(&frame(0x40, &[0x00, 44, 0], &[raw(&content)], &[]), 300));
    }

    #[test]
    fn every_dictionary_id_width_is_read_and_only_zero_passes() {
        let content = [1u8; 16];
        for (flag, width) in [(1u8, 1usize), (2, 2), (3, 4)] {
            let mut fields = vec![0u8; width];
            fields.push(16);
            assert!(accepts(&frame(0x20 | flag, &fields, &[raw(&content)], &[]), 16));
            fields[0] = 1;
            assert!(!accepts(&frame(0x20 | flag, &fields, &[raw(&content)], &[]), 16));
        }
    }

    #[test]
    fn the_window_bounds_every_block() {
        let content = vec![3u8; (128 << 10) + 1];
        let big = 128 << 10;
        // (window descriptor, block length, passes)
        let cases = [
            // Window descriptor 0: 1 KiB. A block of exactly the window passes, one byte more fails.
            (0x00, 1024, true),
            (0x00, 2048, false),
            // Mantissa: 0x01 is 1 KiB + 128.
            (0x01, 1152, true),
            (0x01, 1153, false),
            // A 1 MiB window still caps blocks at 128 KiB.
            (0x50, big, true),
            (0x50, big + 1, false),
        ];
        for (descriptor, len, passes) in cases {
            let framed = frame(0x00, &[descriptor], &[raw(&content[..len])], &[]);
            assert_eq!(
                accepts(&framed, len as u64),
                passes,
                "descriptor {descriptor:#04x}, {len} bytes"
            );
        }
        // Single segment: the window is the content size.
        let rle = (true, BLOCK_RLE, 200, &[9u8][..]);
        assert!(accepts(&frame(0x20, &[200], &[rle], &[]), 200));
        let over = (true, BLOCK_RLE, 201, &[9u8][..]);
        assert!(!accepts(&frame(0x20, &[200], &[over], &[]), 200));
    }

    #[test]
    fn windows_up_to_2p30_pass_and_larger_ones_fail() {
        let content = [5u8; 64];
        assert!(accepts(&frame(0x00, &[0xA0], &[raw(&content)], &[]), 64));
        assert!(!accepts(&frame(0x00, &[0xA1], &[raw(&content)], &[]), 64));
        assert!(!accepts(&frame(0x00, &[0xA8], &[raw(&content)], &[]), 64));
        assert!(!accepts(&frame(0x00, &[0xFF], &[raw(&content)], &[]), 64));
    }

    #[test]
    fn header_bits_and_block_types() {
        let content = [2u8; 8];
        assert!(
            !accepts(&frame(0x28, &[8], &[raw(&content)], &[]), 8),
            "reserved bit"
        );
        assert!(
            accepts(&frame(0x30, &[8], &[raw(&content)], &[]), 8),
            "unused bit ignored"
        );
        let reserved = (true, BLOCK_RESERVED, 8, &content[..]);
        assert!(!accepts(&frame(0x20, &[8], &[reserved], &[]), 8), "block type 3");
        // RLE: one stored byte, `size` produced.
        assert!(accepts(&frame(0x20, &[8], &[(true, BLOCK_RLE, 8, &[2])], &[]), 8));
        // Raw and RLE output past the block's length fails before decoding.
        assert!(!accepts(&frame(0x00, &[0x00], &[raw(&content)], &[]), 7));
        let two = [
            (false, BLOCK_RLE, 8, &[2u8][..]),
            (true, BLOCK_RLE, 8, &[2u8][..]),
        ];
        assert!(!accepts(&frame(0x00, &[0x00], &two, &[]), 15));
        assert!(accepts(&frame(0x00, &[0x00], &two, &[]), 16));
    }

    #[test]
    fn the_frame_ends_after_its_last_block_and_checksum() {
        let content = [4u8; 8];
        let first = (false, BLOCK_RAW, 4, &content[..4]);
        let last = (true, BLOCK_RAW, 4, &content[4..]);
        assert!(accepts(&frame(0x20, &[8], &[first, last], &[]), 8));
        // No last block: the walk runs off the end.
        assert!(!accepts(&frame(0x20, &[8], &[first], &[]), 8));
        // A checksum is 4 bytes after the last block; missing or followed by more, it fails.
        assert!(accepts(&frame(0x24, &[8], &[raw(&content)], &[1, 2, 3, 4]), 8));
        assert!(!accepts(&frame(0x24, &[8], &[raw(&content)], &[1, 2, 3]), 8));
        assert!(!accepts(
            &frame(0x24, &[8], &[raw(&content)], &[1, 2, 3, 4, 5]),
            8
        ));
        assert!(
            !accepts(&frame(0x20, &[8], &[raw(&content)], &[0]), 8),
            "a byte after the frame"
        );
        let second = frame(0x20, &[8], &[raw(&content)], &[]);
        assert!(!accepts(&[second.clone(), second].concat(), 8), "two frames");
    }

    #[test]
    fn other_magics_fail() {
        let good = frame(0x20, &[8], &[raw(&[0; 8])], &[]);
        for magic in [0xFD2F_B527u32, 0x184D_2A50, 0xFD2F_B51E, 0] {
            let mut other = good.clone();
            other[..4].copy_from_slice(&magic.to_le_bytes());
            assert!(!accepts(&other, 8), "{magic:#x}");
        }
    }

    #[test]
    fn a_frame_cut_at_any_byte_fails_without_panicking() {
        let content = [6u8; 300];
        // Every header field: window descriptor (1 KiB), 1-byte dictionary id 0, 2-byte
        // content size (300 - 256), an empty block, two raw blocks, a checksum.
        let full = frame(
            0x45,
            &[0x00, 0, 44, 0],
            &[
                (false, BLOCK_RLE, 0, &[1][..]),
                (false, BLOCK_RAW, 150, &content[..150]),
                (true, BLOCK_RAW, 150, &content[150..]),
            ],
            &[9, 9, 9, 9],
        );
        assert!(accepts(&full, 300));
        for cut in 0..full.len() {
            assert!(!accepts(&full[..cut], 300), "cut at {cut}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "compresses with libzstd, C code Miri cannot run")]
    fn frames_the_writer_makes_pass() {
        use zstd::zstd_safe::CParameter;
        let data: Vec<u8> = (0..(1u32 << 20))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 % 7)
            .collect();
        for (content_size, checksum) in [(true, false), (false, false), (true, true), (false, true)] {
            let mut compressor = zstd::bulk::Compressor::new(3).expect("zstd context");
            compressor
                .set_parameter(CParameter::ContentSizeFlag(content_size))
                .expect("parameter");
            compressor
                .set_parameter(CParameter::ChecksumFlag(checksum))
                .expect("parameter");
            for len in [1, 64, 131_072, 131_073, data.len()] {
                let compressed = compressor.compress(&data[..len]).expect("compresses");
                assert!(
                    accepts(&compressed, len as u64),
                    "{len} bytes, {content_size} {checksum}"
                );
            }
        }
    }
}
