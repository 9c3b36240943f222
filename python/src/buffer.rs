//! Memory shared with numpy: the extension's one corner of `unsafe` code.
//!
//! Loaded arrays are numpy views (`np.frombuffer`) on a [`FileBuffer`], which exports its bytes
//! through the buffer protocol and is kept alive by every array made from it (numpy holds it as
//! the array's base). A buffer is one of:
//! - a read-only shared mapping of the file (`mmap_mode="r"`), also the storage of the `Reader`
//!   that validated it;
//! - a private copy-on-write mapping (`mmap_mode="c"`): writes stay in this process's memory;
//! - bytes owned by the buffer (an array copied or decoded out of the file): writable.
//!
//! Rust never reads a writable buffer after handing it to Python, so numpy's writes do not alias
//! any Rust reference. Dumping reads numpy's memory in place through [`array_bytes`].

use std::ffi::{c_int, c_void};
use std::fs::File;
use std::ptr::NonNull;
use std::sync::Arc;

use memmap2::{Mmap, MmapMut, MmapOptions};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A read-only mapping shared by a `Reader` and the [`FileBuffer`] that arrays view.
#[derive(Clone)]
pub(crate) struct SharedMap(Arc<Mmap>);

impl AsRef<[u8]> for SharedMap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Maps `file` read-only.
///
/// The mapping carries memmap2's contract, which `load`'s documentation hands on to the user: the
/// file must not be modified or truncated while any array loaded with `mmap_mode` is alive.
/// `dump` itself replaces files by rename, which leaves existing mappings intact.
///
/// `populate` faults every page in up front: when the CRC check or a copy reads every array
/// page anyway, one bulk fault is far cheaper than one per page.
pub(crate) fn map_read_only(file: &File, populate: bool) -> std::io::Result<SharedMap> {
    let mut options = MmapOptions::new();
    if populate {
        options.populate();
    }
    // SAFETY: the caller of `load` promises (per its documented contract) that the file is not
    // modified while mapped; Amber's own writers only ever replace files by rename.
    let map = unsafe { options.map(file) }?;
    Ok(SharedMap(Arc::new(map)))
}

/// Raw memory exported to Python. Never dereferenced by Rust after construction.
struct ExportedMemory {
    data: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the pointer is only passed to Python's buffer protocol; Rust never reads or writes
// through it, so moving or sharing the handle between threads cannot race on the bytes.
unsafe impl Send for ExportedMemory {}
// SAFETY: as above; shared access never dereferences the pointer in Rust.
unsafe impl Sync for ExportedMemory {}

/// What owns the exported memory.
#[allow(dead_code)] // The maps are held only to keep the memory alive.
enum Owner {
    Shared(SharedMap),
    CopyOnWrite(MmapMut),
    /// A leaked `Box<[u8]>`, freed in `Drop`.
    Owned,
}

/// Bytes exported to numpy through the buffer protocol. See the [module docs](self).
#[pyclass(frozen, module = "amberfile._native")]
pub struct FileBuffer {
    memory: ExportedMemory,
    owner: Owner,
}

impl FileBuffer {
    /// A read-only view of the whole mapped file.
    pub(crate) fn shared(map: SharedMap) -> Self {
        let bytes: &[u8] = map.as_ref();
        FileBuffer {
            memory: ExportedMemory {
                data: NonNull::new(bytes.as_ptr().cast_mut()).unwrap_or(NonNull::dangling()),
                len: bytes.len(),
                writable: false,
            },
            owner: Owner::Shared(map),
        }
    }

    /// A private, writable copy-on-write mapping of `file`.
    pub(crate) fn copy_on_write(file: &File) -> std::io::Result<Self> {
        // SAFETY: same contract as `map_read_only`; in addition this mapping is private, so
        // numpy's writes never reach the file.
        let mut map = unsafe { MmapOptions::new().map_copy(file) }?;
        let memory = ExportedMemory {
            data: NonNull::new(map.as_mut_ptr()).unwrap_or(NonNull::dangling()),
            len: map.len(),
            writable: true,
        };
        Ok(FileBuffer {
            memory,
            owner: Owner::CopyOnWrite(map),
        })
    }

    /// Writable bytes owned by the buffer.
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        let raw = Box::into_raw(bytes.into_boxed_slice());
        FileBuffer {
            memory: ExportedMemory {
                data: NonNull::new(raw.cast::<u8>()).unwrap_or(NonNull::dangling()),
                len,
                writable: true,
            },
            owner: Owner::Owned,
        }
    }
}

impl Drop for FileBuffer {
    fn drop(&mut self) {
        if let Owner::Owned = self.owner {
            let slice = std::ptr::slice_from_raw_parts_mut(self.memory.data.as_ptr(), self.memory.len);
            // SAFETY: `data`/`len` came from `Box::into_raw` in `owned` and are freed only here;
            // Python holds no export any more, since the buffer object is being destroyed.
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

#[pymethods]
impl FileBuffer {
    /// Exports the bytes (read-only unless the buffer is writable).
    ///
    /// # Safety
    /// Called by CPython with a valid `Py_buffer` to fill.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let memory = &slf.get().memory;
        if view.is_null() {
            return Err(PyBufferError::new_err("no buffer view to fill"));
        }
        let len =
            ffi::Py_ssize_t::try_from(memory.len).map_err(|_| PyBufferError::new_err("buffer too large"))?;
        // SAFETY: `view` is non-null and provided by CPython; the memory stays valid for as long
        // as the exporter (`slf`, which FillInfo stores in the view with a new reference) lives.
        let status = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                memory.data.as_ptr().cast::<c_void>(),
                len,
                c_int::from(!memory.writable),
                flags,
            )
        };
        if status != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    /// Number of bytes the buffer holds.
    fn __len__(&self) -> usize {
        self.memory.len
    }
}

/// The bytes of a C- or F-contiguous numpy array, borrowed in place.
///
/// The caller must not run Python code that could resize or free the array's memory while the
/// slice is alive (the dumper holds the GIL and only calls into its own sink meanwhile).
pub(crate) fn array_bytes<'a>(array: &'a Bound<'_, PyUntypedArray>) -> PyResult<&'a [u8]> {
    if !(array.is_c_contiguous() || array.is_fortran_contiguous()) {
        return Err(PyBufferError::new_err("array is not contiguous"));
    }
    let itemsize = array.dtype().itemsize();
    let len = array
        .len()
        .checked_mul(itemsize)
        .ok_or_else(|| PyBufferError::new_err("array too large"))?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: `as_array_ptr` points at the live PyArrayObject behind `array`. A contiguous array
    // with `len` bytes of elements has `data` valid for `len` bytes; the borrow of `array` keeps
    // the object (and so its memory) alive for 'a.
    let data = unsafe { (*array.as_array_ptr()).data };
    // SAFETY: see above; `data` is non-null for a non-empty array and u8 has no alignment needs.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}
