//! Corruption sweeps: every truncation, every single-bit flip and thousands of seeded random
//! byte and bit changes of valid files. The reader must return the same content or a typed error
//! that points inside the file; it never panics, and with verification on it catches every
//! single-bit flip (spec: every byte of a file is covered by a CRC, a magic or a zero rule); files
//! over 16 KiB get their edges swept bit by bit and the rest sampled.
//!
//! The files are the writer-built samples of `amber_test_support::samples` plus, when present,
//! the conformance suite's `conformance/valid/*.amber`.

use amber_test_support::samples::{sample_files, valid_files};
use amber_test_support::SeededRng;
use amberfile::render::canonical_json_string;
use amberfile::{Error, ReadOptions, Reader, Verify};

/// Opens, verifies and renders `bytes` with the default (lazy) verification policy.
fn content(bytes: &[u8]) -> Result<String, Error> {
    let reader = Reader::from_bytes(bytes, ReadOptions::default())?;
    reader.verify()?;
    canonical_json_string(&reader)
}

/// Opens with `Verify::OnOpen` and runs the full verification: the strict path.
fn verified(bytes: &[u8]) -> Result<(), Error> {
    let options = ReadOptions {
        verify: Verify::OnOpen,
        ..ReadOptions::default()
    };
    Reader::from_bytes(bytes, options)?.verify()
}

/// Touches everything a caller can reach without verification (`Verify::Explicit`), where
/// corrupted array bytes are handed out as they are: it must still never panic.
fn explore_unverified(bytes: &[u8]) {
    let options = ReadOptions {
        verify: Verify::Explicit,
        ..ReadOptions::default()
    };
    let Ok(reader) = Reader::from_bytes(bytes, options) else {
        return;
    };
    let _ = canonical_json_string(&reader);
    let _ = reader.graph().to_value(reader.root(), &reader.options().limits);
    for info in reader.arrays() {
        let _ = reader.read_bytes(info.id());
        let _ = reader.read_byte_range(info.id(), 0..info.nbytes() / 2);
    }
}

/// The sweep's one rule: the same content, or a typed invalid-file error inside the file.
fn assert_same_or_typed_error(name: &str, what: &str, corrupted: &[u8], expected: &str) {
    match content(corrupted) {
        Ok(rendered) => assert_eq!(rendered, expected, "{name}: {what} changed the content silently"),
        Err(error) => {
            assert!(
                error.is_invalid_file(),
                "{name}: {what} gave a non-file error {error}"
            );
            assert!(
                error.offset().is_some_and(|at| at <= corrupted.len() as u64),
                "{name}: {what} gave no offset or one outside the file: {error}"
            );
        }
    }
}

#[test]
fn the_sweep_covers_writer_samples_and_they_are_valid() {
    let files = valid_files();
    assert!(files.len() >= sample_files().len());
    for (name, bytes) in &files {
        verified(bytes).unwrap_or_else(|e| panic!("{name} is not valid: {e}"));
    }
}

#[test]
fn every_truncation_is_rejected_with_a_typed_error() {
    for (name, bytes) in valid_files() {
        for len in 0..bytes.len() {
            let error = content(&bytes[..len]).expect_err("a strict prefix of a valid file is not valid");
            assert!(
                matches!(error.class(), "Truncated" | "BadMagic" | "OutOfBounds"),
                "{name} truncated to {len} bytes: unexpected {error}"
            );
            explore_unverified(&bytes[..len]);
        }
    }
}

/// Files up to this size get every bit flipped; larger ones every bit of their first and last
/// 4 KiB (header, metadata, trailer) and a seeded sample of the rest, to keep the sweep fast.
const EXHAUSTIVE_FLIP_LIMIT: usize = 16 << 10;

#[test]
fn every_single_bit_flip_is_detected_with_verification_on() {
    let mut rng = SeededRng(0xb17);
    for (name, bytes) in valid_files() {
        let bits = bytes.len() * 8;
        let flips: Vec<usize> = if bytes.len() <= EXHAUSTIVE_FLIP_LIMIT {
            (0..bits).collect()
        } else {
            let edges = (0..4096 * 8).chain(bits - 4096 * 8..bits);
            edges.chain((0..4096).map(|_| rng.below(bits))).collect()
        };
        let mut corrupted = bytes.clone();
        for bit in flips {
            corrupted[bit / 8] ^= 1 << (bit % 8);
            let result = verified(&corrupted);
            assert!(
                result.is_err(),
                "{name}: flipping bit {} of byte {} went undetected",
                bit % 8,
                bit / 8
            );
            corrupted[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn random_byte_and_bit_corruption_keeps_content_or_fails_typed() {
    const CASES_PER_FILE: usize = 2000;
    let mut rng = SeededRng(0x00a4_b3e2);
    for (name, bytes) in valid_files() {
        let expected = content(&bytes).unwrap_or_else(|e| panic!("{name} is not valid: {e}"));
        for case in 0..CASES_PER_FILE {
            let mut corrupted = bytes.clone();
            let changes = 1 + rng.below(4);
            for _ in 0..changes {
                let at = rng.below(corrupted.len());
                if case % 2 == 0 {
                    corrupted[at] = rng.next_u64() as u8;
                } else {
                    corrupted[at] ^= 1 << rng.below(8);
                }
            }
            let what = format!("case {case} ({changes} changes)");
            assert_same_or_typed_error(&name, &what, &corrupted, &expected);
            if case % 8 == 0 {
                explore_unverified(&corrupted);
            }
        }
    }
}

#[test]
fn verification_off_still_never_panics_on_flipped_data() {
    // With Verify::Explicit nothing checks array CRCs, so flipped array bytes reach the caller;
    // everything structural is still checked, and nothing may panic.
    let mut rng = SeededRng(0x5eed);
    for (_, bytes) in valid_files() {
        for _ in 0..500 {
            let mut corrupted = bytes.clone();
            let at = rng.below(corrupted.len());
            corrupted[at] ^= 1 << rng.below(8);
            explore_unverified(&corrupted);
        }
    }
}
