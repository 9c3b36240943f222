//! Crate errors as Python exceptions.
//!
//! The exception classes live in `amberfile._errors` (plain Python, so they pickle and subclass
//! normally); this module only instantiates them. `ChecksumMismatch` becomes `ChecksumError`,
//! every other error class `FormatError`; both carry `.error_class` and `.offset`.

use pyo3::prelude::*;

/// The Python exception for a crate error.
pub(crate) fn format_error(py: Python<'_>, error: &amberfile::Error) -> PyErr {
    let class_name = match error {
        amberfile::Error::ChecksumMismatch { .. } => "ChecksumError",
        _ => "FormatError",
    };
    raise(py, class_name, &error.to_string(), error.class(), error.offset())
}

/// A `FormatError` for a graph this package cannot rebuild (the spec's InvalidGraph class).
pub(crate) fn invalid_graph(py: Python<'_>, detail: &str) -> PyErr {
    raise(
        py,
        "FormatError",
        &format!("InvalidGraph: {detail}"),
        "InvalidGraph",
        0,
    )
}

fn raise(py: Python<'_>, class_name: &str, message: &str, error_class: &str, offset: u64) -> PyErr {
    let built = py
        .import("amberfile._errors")
        .and_then(|module| module.getattr(class_name))
        .and_then(|class| class.call1((message, error_class, offset)));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}
