//! Memory shared with numpy: the extension's one corner of `unsafe` code.
//!
//! Arrays loaded with `mmap_mode` are numpy views ([`view_of`]) on a [`FileBuffer`], which also
//! exports its bytes through the buffer protocol and is kept alive by every array made from it
//! (numpy holds it as the array's base). A buffer is one of:
//! - a read-only shared mapping of the file (`mmap_mode="r"`), also the storage of the `Reader`
//!   that validated it;
//! - a private copy-on-write mapping (`mmap_mode="c"`): writes stay in this process's memory;
//! - the memory of an `np.memmap` of the file (both modes, when the path still names the file
//!   that was opened): numpy's own mapping, which the buffer exposes as its `base`, so that
//!   joblib's memmapping reducer finds an `np.memmap` (file name, offset, mode) in each array's
//!   base chain and hands the array to worker processes by file name instead of copying it.
//!
//! Copied and decoded arrays are ordinary numpy arrays that own their memory, which the reader
//! writes in place before Python sees them ([`new_array_filled`]); those of record dtypes view a
//! buffer of heap memory instead, since numpy's own allocation costs time per field. Rust never touches an array's
//! memory after handing it to Python, so numpy's writes do not alias any Rust reference.
//! Dumping reads numpy's memory in place through [`array_bytes`].

use std::ffi::{c_int, c_void};
use std::fs::File;
use std::ptr::NonNull;
use std::sync::Arc;

use amberfile::dtype::checked_nbytes;
use memmap2::{Mmap, MmapMut, MmapOptions};
use numpy::npyffi::{
    npy_intp, NpyTypes, PyArray_Descr, NPY_ARRAY_F_CONTIGUOUS, NPY_ARRAY_WRITEABLE, PY_ARRAY_API,
};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyBufferError, PyMemoryError, PyValueError};
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

/// What owns the exported memory: held only to keep it alive, never read.
#[allow(dead_code)]
enum Owner {
    Shared(SharedMap),
    CopyOnWrite(MmapMut),
    Heap(Vec<u64>),
    /// An `np.memmap` and a buffer export of the Python `mmap` under it: while the export is
    /// held, `mmap.close()` raises BufferError instead of unmapping the memory.
    NumpyMap {
        memmap: Py<PyAny>,
        export: PyBuffer<u8>,
    },
}

/// Bytes exported to numpy through the buffer protocol. See the [module docs](self).
#[pyclass(frozen, module = "amberfile._native")]
pub struct FileBuffer {
    memory: ExportedMemory,
    #[allow(dead_code)]
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
}

impl FileBuffer {
    /// The memory of `memmap`, an `np.memmap` of a whole file (dtype uint8, offset 0) whose
    /// `base` is the Python `mmap` object it maps; writable if that mapping is.
    pub(crate) fn over_memmap(memmap: &Bound<'_, PyAny>) -> PyResult<Self> {
        let export = PyBuffer::<u8>::get(&memmap.getattr("base")?)?;
        let memory = ExportedMemory {
            data: NonNull::new(export.buf_ptr().cast::<u8>()).unwrap_or(NonNull::dangling()),
            len: export.len_bytes(),
            writable: !export.readonly(),
        };
        Ok(FileBuffer {
            memory,
            owner: Owner::NumpyMap {
                memmap: memmap.clone().unbind(),
                export,
            },
        })
    }

    /// Number of bytes exported.
    pub(crate) fn len(&self) -> usize {
        self.memory.len
    }

    /// `len` bytes of writable heap memory, written by `fill` before Python can see them.
    fn filled(len: usize, fill: impl FnOnce(&mut [u8]) -> PyResult<()>) -> PyResult<Self> {
        let mut words = Vec::new();
        words
            .try_reserve_exact(len.div_ceil(8))
            .map_err(|_| PyMemoryError::new_err(format!("cannot allocate {len} bytes")))?;
        words.resize(len.div_ceil(8), 0u64);
        // SAFETY: `words` holds at least `len` initialised bytes, and u8 has no alignment needs.
        let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) };
        fill(bytes)?;
        Ok(FileBuffer {
            memory: ExportedMemory {
                data: NonNull::new(words.as_mut_ptr().cast::<u8>()).unwrap_or(NonNull::dangling()),
                len,
                writable: true,
            },
            // Moving the Vec keeps its heap allocation where `data` points.
            owner: Owner::Heap(words),
        })
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

    /// The `np.memmap` whose memory this is, else None: numpy's `base` chain, which joblib
    /// follows (`array.base` is this buffer, `array.base.base` the memmap).
    #[getter]
    fn base(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        match &self.owner {
            Owner::NumpyMap { memmap, .. } => Some(memmap.clone_ref(py)),
            _ => None,
        }
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

/// numpy's dimensions for `shape`, refusing ones it cannot hold.
fn numpy_dims(shape: &[u64]) -> PyResult<(c_int, Vec<npy_intp>)> {
    let dims = shape
        .iter()
        .map(|&d| npy_intp::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PyValueError::new_err("array dimension too large for numpy"))?;
    let nd = c_int::try_from(dims.len()).map_err(|_| PyValueError::new_err("too many dimensions"))?;
    Ok((nd, dims))
}

/// Takes ownership of an array pointer returned by numpy (null: numpy raised).
fn owned_array<'py>(py: Python<'py>, raw: *mut ffi::PyObject) -> PyResult<Bound<'py, PyUntypedArray>> {
    // SAFETY: `raw` is a new reference returned by a numpy constructor, or null with an error set.
    let object = unsafe { Bound::from_owned_ptr_or_err(py, raw) }?;
    Ok(object.cast_into::<PyUntypedArray>()?)
}

/// A new array of `dtype` and `shape` (Fortran order if `fortran`) that owns its memory,
/// written in full by `fill` before anything else can see it. The memory starts zeroed
/// (calloc: large arrays cost no memset), so `fill` never sees uninitialised bytes. `dtype`
/// never holds Python objects (see `dtypes`), so any bytes are valid elements.
pub(crate) fn new_array_filled<'py>(
    dtype: &Bound<'py, PyArrayDescr>,
    shape: &[u64],
    fortran: bool,
    fill: impl FnOnce(&mut [u8]) -> PyResult<()>,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = dtype.py();
    if dtype.has_fields() {
        // numpy sets up a fill loop per field for each array it allocates (11 ms for 65,535
        // fields, however few elements): a view of memory allocated here costs nothing per field.
        let len = checked_nbytes(dtype.itemsize() as u64, shape)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| PyValueError::new_err("array too large"))?;
        let buffer = Bound::new(py, FileBuffer::filled(len, fill)?)?;
        return view_of(&buffer, 0, dtype, shape, fortran, true);
    }
    let (nd, mut dims) = numpy_dims(shape)?;
    // SAFETY: `dims` holds `nd` valid dimensions; PyArray_Zeros steals the dtype reference
    // handed over by `into_ptr`.
    let raw = unsafe {
        PY_ARRAY_API.PyArray_Zeros(
            py,
            nd,
            dims.as_mut_ptr(),
            dtype.clone().into_ptr().cast::<PyArray_Descr>(),
            c_int::from(fortran),
        )
    };
    let array = owned_array(py, raw)?;
    // From the array's own dtype: numpy folds a subarray dtype into the shape.
    let len = array
        .len()
        .checked_mul(array.dtype().itemsize())
        .ok_or_else(|| PyValueError::new_err("array too large"))?;
    if len > 0 {
        // SAFETY: the array was just created, contiguous and owning `len` initialised (zeroed)
        // bytes at `data`; no other reference to it exists until this function returns it.
        let bytes = unsafe { std::slice::from_raw_parts_mut((*array.as_array_ptr()).data.cast::<u8>(), len) };
        fill(bytes)?;
    }
    Ok(array)
}

/// An array of `dtype` and `shape` viewing `buffer`'s bytes from `offset`, without a copy; the
/// array holds a reference to `buffer`, which keeps the memory alive. Writable only if the
/// buffer is and `writable` asks for it.
pub(crate) fn view_of<'py>(
    buffer: &Bound<'py, FileBuffer>,
    offset: usize,
    dtype: &Bound<'py, PyArrayDescr>,
    shape: &[u64],
    fortran: bool,
    writable: bool,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = buffer.py();
    let memory = &buffer.get().memory;
    let (nd, mut dims) = numpy_dims(shape)?;
    let len = checked_nbytes(dtype.itemsize() as u64, shape).and_then(|n| usize::try_from(n).ok());
    let end = len.and_then(|len| offset.checked_add(len));
    if end.is_none_or(|end| end > memory.len) {
        return Err(PyBufferError::new_err("array view outside its buffer"));
    }
    let mut flags = if fortran { NPY_ARRAY_F_CONTIGUOUS } else { 0 };
    if writable && memory.writable {
        flags |= NPY_ARRAY_WRITEABLE;
    }
    // SAFETY: checked above: `offset` plus the array's bytes lies inside the exported memory,
    // which stays alive as long as `buffer`, and the array holds `buffer` as its base (below).
    // `dims` holds `nd` valid dimensions; null strides make numpy compute contiguous ones.
    // NewFromDescr steals the dtype reference handed over by `into_ptr`.
    let raw = unsafe {
        PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            PY_ARRAY_API.get_type_object(py, NpyTypes::PyArray_Type),
            dtype.clone().into_ptr().cast::<PyArray_Descr>(),
            nd,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            memory.data.as_ptr().add(offset).cast::<c_void>(),
            flags,
            std::ptr::null_mut(),
        )
    };
    let array = owned_array(py, raw)?;
    // SAFETY: `array` is a fresh ndarray without a base; SetBaseObject steals the new reference
    // to `buffer` made by `into_ptr`, even when it fails.
    let status = unsafe {
        PY_ARRAY_API.PyArray_SetBaseObject(py, array.as_array_ptr(), buffer.clone().into_any().into_ptr())
    };
    if status != 0 {
        return Err(PyErr::fetch(py));
    }
    Ok(array)
}
