//! The fuzz harness for `amberfile`, as a library.
//!
//! Each target is a plain `fn(&[u8])` that panics when it finds a bug. cargo-fuzz calls them
//! from `fuzz_targets/` under libFuzzer (nightly, `cfg(fuzzing)`, where the crate skips CRC
//! comparisons so mutations reach the structures behind them); the tests in `tests/` replay the
//! seed corpus, the kept regression files and thousands of seeded random inputs on stable.
//!
//! Targets:
//! - [`parse_render`]: any bytes through open, verify, render, `to_value` and every array read;
//! - [`roundtrip`]: an arbitrary graph (with sharing and cycles) and arrays, written, read back,
//!   compared equal;
//! - [`views`]: every view and borrowed slice lies inside the buffer, is aligned for its element
//!   type, and holds exactly the decoded bytes;
//! - [`compressed_block`]: arbitrary block bytes under arbitrary declared sizes and budgets
//!   never decode past the declared size, and agree with zstd itself.

mod blocks;
mod model;
mod views;

use std::path::Path;

use amberfile::render::canonical_json;
use amberfile::{ArrayId, DType, Limits, ReadOptions, Reader, Verify};

pub use blocks::compressed_block;
pub use model::roundtrip;
pub use views::{check_views, views};

/// A fuzz target: panics when it finds a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name cargo-fuzz knows it by.
pub const TARGETS: [(&str, Target); 4] = [
    ("parse_render", parse_render),
    ("roundtrip", roundtrip),
    ("views", views),
    ("compressed_block", compressed_block),
];

/// Limits for fuzzing: small budgets, so a hostile input that is rejected by a budget is
/// rejected fast, and one that is not is caught as an OOM or a timeout.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_decoded_bytes: 16 << 20,
        max_value_nodes: 1 << 16,
        ..Limits::default()
    }
}

/// Reader options for fuzzing: the small limits, and no array CRC checks unless asked, so
/// corrupted array bytes reach every accessor.
pub fn fuzz_options() -> ReadOptions {
    ReadOptions {
        limits: fuzz_limits(),
        verify: Verify::Explicit,
    }
}

/// Target 1: open any bytes, then exercise everything a caller can reach. No panic, abort,
/// OOM or hang; errors are fine.
pub fn parse_render(data: &[u8]) {
    let Ok(reader) = Reader::from_bytes(data, fuzz_options()) else {
        return;
    };
    exercise(&reader);
}

/// Runs every read path of an opened file, checking what holds for any file: reported sizes
/// match what is handed out, and errors point inside the file.
pub fn exercise<S: AsRef<[u8]>>(reader: &Reader<S>) {
    let file_len = reader.bytes().len() as u64;
    let check_error = |error: amberfile::Error| {
        // Errors found in the bytes point inside the file; those of API-level steps (the graph
        // as a `Value`: a cycle, a value limit) have no offset.
        assert!(
            error.offset().is_none_or(|at| at <= file_len),
            "error offset outside the file: {error}"
        );
    };
    reader.verify().err().map(check_error);
    canonical_json(reader).err().map(check_error);
    reader
        .graph()
        .to_value(reader.root(), &reader.options().limits)
        .err()
        .map(check_error);
    for info in reader.arrays() {
        let id = info.id();
        match reader.read_bytes(id) {
            Ok(bytes) => {
                assert_eq!(bytes.len() as u64, info.nbytes(), "read_bytes length");
                let half = info.nbytes() / 2;
                if let Ok(part) = reader.read_byte_range(id, half / 2..half) {
                    assert_eq!(&*part, &bytes[(half / 2) as usize..half as usize], "byte range");
                }
            }
            Err(error) => check_error(error),
        }
        typed_reads(reader, id, info.dtype());
    }
}

/// Calls `$f::<T>(args)` with `T` the Rust element type of `dtype`, if it has one.
macro_rules! with_element_type {
    ($dtype:expr, $f:ident ( $($arg:expr),* )) => {
        match $dtype {
            amberfile::DType::Bool => $f::<bool, _>($($arg),*),
            amberfile::DType::Int8 => $f::<i8, _>($($arg),*),
            amberfile::DType::Int16 => $f::<i16, _>($($arg),*),
            amberfile::DType::Int32 => $f::<i32, _>($($arg),*),
            amberfile::DType::Int64 => $f::<i64, _>($($arg),*),
            amberfile::DType::UInt8 => $f::<u8, _>($($arg),*),
            amberfile::DType::UInt16 => $f::<u16, _>($($arg),*),
            amberfile::DType::UInt32 => $f::<u32, _>($($arg),*),
            amberfile::DType::UInt64 => $f::<u64, _>($($arg),*),
            amberfile::DType::Float16 => $f::<half::f16, _>($($arg),*),
            amberfile::DType::BFloat16 => $f::<half::bf16, _>($($arg),*),
            amberfile::DType::Float32 => $f::<f32, _>($($arg),*),
            amberfile::DType::Float64 => $f::<f64, _>($($arg),*),
            amberfile::DType::Complex64 => $f::<num_complex::Complex<f32>, _>($($arg),*),
            amberfile::DType::Complex128 => $f::<num_complex::Complex<f64>, _>($($arg),*),
            _ => {}
        }
    };
}
pub(crate) use with_element_type;

fn typed_reads(reader: &Reader<impl AsRef<[u8]>>, id: ArrayId, dtype: &DType) {
    with_element_type!(dtype, typed_read(reader, id));
}

fn typed_read<T: amberfile::Element, S: AsRef<[u8]>>(reader: &Reader<S>, id: ArrayId) {
    let _ = reader.view::<T>(id);
    let _ = reader.read::<T>(id);
}

/// The seed corpus: the writer-built samples, plus the conformance suite's valid files when
/// the repository has them.
pub use amber_test_support::samples::valid_files as seed_files;

/// The kept regression inputs (minimized crashers) of `target`.
pub fn regression_files(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    amber_test_support::samples::files_in(&dir, None)
}

/// The body of a target's binary in `fuzz_targets/`: libFuzzer's entry point under
/// `cfg(fuzzing)` (the binary is then `no_main`), else a `main` that replays the files named on
/// the command line, to reproduce a crash on stable.
#[macro_export]
macro_rules! fuzz_target_main {
    ($target:path) => {
        #[cfg(fuzzing)]
        libfuzzer_sys::fuzz_target!(|data: &[u8]| $target(data));

        #[cfg(not(fuzzing))]
        fn main() {
            $crate::replay_args($target);
        }
    };
}

/// For the targets' stable `main`: runs `target` on every file named on the command line.
pub fn replay_args(target: Target) {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: <target> FILE...   (replays inputs; build with cargo fuzz to fuzz)");
        std::process::exit(2);
    }
    for path in paths {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        target(&bytes);
        println!("{path}: ok");
    }
}
