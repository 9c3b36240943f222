//! Crate errors as Python exceptions.
//!
//! The exception classes live in `amberfile._errors` (plain Python, so they pickle and subclass
//! normally); this module only instantiates them. `ChecksumMismatch` becomes `ChecksumError`,
//! every other error class `FormatError`; both carry `.error_class` and `.offset`. An object
//! whose type is trusted but whose rebuilding fails becomes `StateError` (a `FormatError`),
//! naming the type and its graph path, with the library's exception as its `__cause__`.

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
    let at = if path.is_empty() {
        "the root".to_string()
    } else {
        format!("'{path}'")
    };
    let message = format!("InvalidGraph: the {type_name} object at {at} cannot be rebuilt: {cause}");
    let built = errors
        .getattr("StateError")
        .and_then(|class| class.call1((message, type_name, path)));
    match built {
        Ok(instance) => {
            let err = PyErr::from_value(instance);
            err.set_cause(py, Some(cause));
            err
        }
        Err(err) => err,
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
