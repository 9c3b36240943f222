//! `dump` to a Python file object: the encoded file goes to the object's `write` method in
//! pieces of at most 1 MiB as it is produced, so a big model never sits in memory twice.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Largest piece handed to one `write` call, and the most the sink buffers.
const PIECE_BYTES: usize = 1 << 20;

/// A Python binary file object as a Rust sink, buffering small writes itself. Unflushed bytes
/// are simply dropped with it (no write from a destructor). After a failed `write` it never
/// calls Python again and keeps the exception in `failure`, so the caller raises the file
/// object's own error.
pub(crate) struct PyFileSink<'py> {
    file: Bound<'py, PyAny>,
    /// A raw stream's `write` may return None for "nothing written" (non-blocking).
    raw: bool,
    buffer: Vec<u8>,
    failure: Rc<RefCell<Option<PyErr>>>,
}

impl<'py> PyFileSink<'py> {
    pub(crate) fn new(file: Bound<'py, PyAny>) -> PyResult<(Self, Rc<RefCell<Option<PyErr>>>)> {
        let raw_base = file.py().import("io")?.getattr("RawIOBase")?;
        let failure = Rc::new(RefCell::new(None));
        let sink = PyFileSink {
            raw: file.is_instance(&raw_base)?,
            file,
            buffer: Vec::new(),
            failure: failure.clone(),
        };
        Ok((sink, failure))
    }

    /// One `write` call; returns how many bytes the file took.
    fn write_to_file(&self, piece: &[u8]) -> io::Result<usize> {
        if self.failure.borrow().is_some() {
            return Err(io::Error::other("the file object's write failed earlier"));
        }
        let taken = self
            .file
            .call_method1("write", (PyBytes::new(self.file.py(), piece),))
            .and_then(|n| match (n.is_none(), self.raw) {
                // Buffered files and most file-likes take everything; pickle assumes so too.
                (true, false) => Ok(piece.len()),
                (true, true) => Err(pyo3::exceptions::PyBlockingIOError::new_err(
                    "the raw stream took no bytes (non-blocking?)",
                )),
                (false, _) => n.extract::<usize>(),
            });
        match taken {
            Ok(0) if !piece.is_empty() => Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => Ok(n.min(piece.len())),
            Err(err) => {
                *self.failure.borrow_mut() = Some(err);
                Err(io::Error::other("the file object's write failed"))
            }
        }
    }

    fn drain_buffer(&mut self) -> io::Result<()> {
        let mut done = 0;
        let mut result = Ok(());
        while done < self.buffer.len() {
            match self.write_to_file(&self.buffer[done..]) {
                Ok(n) => done += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.buffer.drain(..done);
        result
    }
}

impl Write for PyFileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + buf.len() > PIECE_BYTES {
            self.drain_buffer()?;
        }
        if buf.len() >= PIECE_BYTES {
            return self.write_to_file(&buf[..PIECE_BYTES]);
        }
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain_buffer()
    }
}
