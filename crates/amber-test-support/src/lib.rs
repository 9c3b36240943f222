//! What the tests of `amberfile` share: the integration tests (`tests/`), the CLI's tests, the
//! fuzz harness (`fuzz/`) and the examples depend on this crate instead of copying helpers or
//! including each other's files by path.
//!
//! - [`samples`]: a representative set of small valid files, and those plus the conformance
//!   suite's golden files;
//! - [`surgery`]: editing finished files (metadata bytes, extent CRCs, a new metadata section)
//!   and resealing every checksum, to build hostile files that pass the CRCs;
//! - [`fixtures`]: building a file from a few arrays, and reaching its arrays again;
//! - [`SeededRng`]: a seeded generator for reproducible random inputs;
//! - [`sketch`]: a graph described node by node, with sharing and cycles, for generated tests;
//! - below: comparisons and values more than one suite needs.
//!
//! Only the public API of `amberfile` is used, so a test that needs this crate tests what a user
//! can do.

pub mod fixtures;
#[cfg(feature = "remote")]
pub mod remote;
pub mod rng;
pub mod samples;
pub mod sketch;
pub mod surgery;

use amberfile::{DType, Field, Node};

pub use rng::SeededRng;

/// The spec error class of a result that must be an error.
pub fn error_class<T>(result: amberfile::Result<T>) -> &'static str {
    match result {
        Ok(_) => panic!("expected an error, got a value"),
        Err(e) => e.class(),
    }
}

/// Nodes are equal, floats compared by their bits (so NaN payloads and signed zeros count).
pub fn same_node(a: Node<'_>, b: Node<'_>) -> bool {
    match (a, b) {
        (Node::Float(x), Node::Float(y)) => x.to_bits() == y.to_bits(),
        (Node::Complex(xr, xi), Node::Complex(yr, yi)) => {
            xr.to_bits() == yr.to_bits() && xi.to_bits() == yi.to_bits()
        }
        _ => a == b,
    }
}

/// scikit-learn's `NODE_DTYPE` for `sklearn.tree._tree.Tree.nodes`: 8 fields, itemsize 64 with
/// 7 bytes of trailing padding.
pub fn sklearn_node_dtype() -> DType {
    let field = |name: &str, offset: u32, dtype: DType| Field {
        name: name.into(),
        offset,
        dtype,
        shape: Vec::new(),
    };
    DType::record(
        64,
        vec![
            field("left_child", 0, DType::Int64),
            field("right_child", 8, DType::Int64),
            field("feature", 16, DType::Int64),
            field("threshold", 24, DType::Float64),
            field("impurity", 32, DType::Float64),
            field("n_node_samples", 40, DType::Int64),
            field("weighted_n_node_samples", 48, DType::Float64),
            field("missing_go_to_left", 56, DType::UInt8),
        ],
    )
}

/// Proptest cases per property: `PROPTEST_CASES` if set (for deeper runs), else `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
