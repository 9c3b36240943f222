//! Foreign formats: `.npy`, `.npz` and `.safetensors`, read into an [`ArraySink`] and written
//! from an Amber [`Reader`].
//!
//! Dependencies run one way: the `convert` and `extract` commands call this layer, and this
//! layer calls `amberfile` (the `.npy` header parser and descr mapping are
//! `amberfile::npy`). Nothing here writes Amber files or knows how a command names things:
//! a reader hands its arrays and string maps to the sink, which decides what they become.

mod flat;
pub mod npy;
pub mod npz;
pub mod safetensors;

use std::io::Read;

use amberfile::ArraySpec;

use crate::failure::Failure;

/// Where a foreign reader puts what it finds, in file order.
pub trait ArraySink {
    /// Announces `total` bytes of array data to come (for progress).
    fn expect_bytes(&mut self, total: u64);

    /// Streams one array of `spec` from `source` (exactly `spec.nbytes()` bytes). `name` is
    /// the array's name in its file, or `None` when the array is the whole file.
    fn add_array(&mut self, name: Option<&str>, spec: &ArraySpec, source: impl Read) -> Result<(), Failure>;

    /// A named map of strings that travels with the arrays (safetensors' `__metadata__`).
    fn add_strings(&mut self, name: &str, strings: Vec<(String, String)>);
}
