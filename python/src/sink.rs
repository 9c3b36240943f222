//! `dump` to a Python file object: the encoded file goes to the object's `write` method in
//! pieces of at most 1 MiB as it is produced, so a big model never sits in memory twice.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Largest piece handed to one `write` call.
pub(crate) const PIECE_BYTES: usize = 1 << 20;

/// A Python binary file object as a Rust sink. A failing `write` is kept in `failure`, so the
/// caller can raise the file object's own exception rather than a translated one.
pub(crate) struct PyFileSink<'py> {
    file: Bound<'py, PyAny>,
    failure: Rc<RefCell<Option<PyErr>>>,
}

impl<'py> PyFileSink<'py> {
    pub(crate) fn new(file: Bound<'py, PyAny>) -> (Self, Rc<RefCell<Option<PyErr>>>) {
        let failure = Rc::new(RefCell::new(None));
        (
            PyFileSink {
                file,
                failure: failure.clone(),
            },
            failure,
        )
    }
}

impl Write for PyFileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let piece = &buf[..buf.len().min(PIECE_BYTES)];
        let written = self
            .file
            .call_method1("write", (PyBytes::new(self.file.py(), piece),))
            // Buffered files return the count; some file-likes return None for "all of it".
            .and_then(|n| {
                if n.is_none() {
                    Ok(piece.len())
                } else {
                    n.extract::<usize>()
                }
            });
        match written {
            Ok(n) => Ok(n.min(piece.len())),
            Err(err) => {
                *self.failure.borrow_mut() = Some(err);
                Err(io::Error::other("the file object's write failed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
