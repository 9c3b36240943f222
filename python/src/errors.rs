//! Crate errors as Python exceptions.
//!
//! The exception classes live in `amberfile._errors` (plain Python, so they pickle and subclass
//! normally); this module only instantiates them. `ChecksumMismatch` becomes `ChecksumError`,
//! every other error class `FormatError`; both carry `.error_class` and `.offset`. An object
//! whose type is trusted but whose rebuilding fails becomes `StateError` (a `FormatError`),
//! naming the type and its graph path, with the library's exception as its `__cause__`. An
//! object `dump` cannot write exactly becomes `DumpError` (a `TypeError`), named the same way.

use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyValueError};
use pyo3::prelude::*;

/// The Python exception for a crate error.
pub(crate) fn format_error(py: Python<'_>, error: &amberfile::Error) -> PyErr {
    let class_name = match error.kind() {
        amberfile::ErrorKind::ChecksumMismatch => "ChecksumError",
        _ => "FormatError",
    };
    // `.offset` is 0 when no offset applies: `FormatError`'s documented default.
    raise(
        py,
        class_name,
        &error.to_string(),
        error.class(),
        error.offset().unwrap_or(0),
    )
}

/// A `FormatError` for a graph this package cannot rebuild (the spec's InvalidGraph class).
pub(crate) fn invalid_graph(py: Python<'_>, detail: &str) -> PyErr {
    graph_error(py, "InvalidGraph", detail)
}

/// A `FormatError` for a graph beyond one of this package's own bounds (LimitExceeded).
pub(crate) fn limit_exceeded(py: Python<'_>, detail: &str) -> PyErr {
    graph_error(py, "LimitExceeded", detail)
}

/// A typed error for an allocation the file asked for that Python or numpy refused
/// (`MemoryError`, numpy's "array is too big" `ValueError`), with theirs as the cause.
/// Errors of this package pass through unchanged.
pub(crate) fn allocation_failed(py: Python<'_>, what: &str, cause: PyErr) -> PyErr {
    let ours = py
        .import("amberfile._errors")
        .and_then(|module| module.getattr("AmberError"))
        .is_ok_and(|class| cause.is_instance(py, &class));
    let refused = cause.is_instance_of::<PyMemoryError>(py)
        || cause.is_instance_of::<PyValueError>(py)
        || cause.is_instance_of::<PyOverflowError>(py);
    if ours || !refused {
        return cause;
    }
    let err = limit_exceeded(py, &format!("{what} cannot be allocated: {cause}"));
    err.set_cause(py, Some(cause));
    err
}

fn graph_error(py: Python<'_>, error_class: &str, detail: &str) -> PyErr {
    raise(
        py,
        "FormatError",
        &format!("{error_class}: {detail}"),
        error_class,
        0,
    )
}

/// A `StateError` for the `type_name` object at `path` that could not be rebuilt because of
/// `cause`; an `UntrustedTypeError` is not a state problem and is returned as it is.
#[cold]
pub(crate) fn state_error(py: Python<'_>, type_name: &str, path: &str, cause: PyErr) -> PyErr {
    let errors = match py.import("amberfile._errors") {
        Ok(module) => module,
        Err(err) => return err,
    };
    let untrusted = errors.getattr("UntrustedTypeError");
    if untrusted.is_ok_and(|class| cause.value(py).is_instance(&class).unwrap_or(false)) {
        return cause;
    }
    let message = format!(
        "InvalidGraph: the {type_name} object at {} cannot be rebuilt: {cause}",
        describe_path(path)
    );
    located_error(py, "StateError", (message, type_name, path), cause)
}

/// A `DumpError` for the `type_name` object at `path` that `dump` cannot write because of
/// `cause`.
#[cold]
pub(crate) fn dump_error(py: Python<'_>, type_name: &str, path: &str, cause: PyErr) -> PyErr {
    let message = format!(
        "cannot dump the {type_name} object at {}: {cause}",
        describe_path(path)
    );
    located_error(py, "DumpError", (message, type_name, path), cause)
}

/// An instance of the `amberfile._errors` class `class_name` built from (message, type name,
/// path), with `cause` as its `__cause__`.
fn located_error(py: Python<'_>, class_name: &str, args: (String, &str, &str), cause: PyErr) -> PyErr {
    let built = py
        .import("amberfile._errors")
        .and_then(|module| module.getattr(class_name))
        .and_then(|class| class.call1(args));
    match built {
        Ok(instance) => {
            let err = PyErr::from_value(instance);
            err.set_cause(py, Some(cause));
            err
        }
        Err(err) => err,
    }
}

fn describe_path(path: &str) -> String {
    if path.is_empty() {
        "the root".to_string()
    } else {
        format!("'{path}'")
    }
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
