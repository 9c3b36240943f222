//! `amberfile.dask`'s native half: one array of a mapped file, read in chunks.
//!
//! [`ArrayChunks`] is what a Dask worker process opens once per (file, array) and keeps: the
//! file mapped and its header, trailer and metadata validated as any partial reader does
//! (spec 9.6), the array found by the CLI's path syntax. A raw array is handed out once as a
//! read-only view of the file's `np.memmap` (its padding checked first, R55; its one CRC-32,
//! which covers the whole extent, checked then if `verify`), and Python slices its chunks
//! from it. A compressed array is read by element ranges: each range decodes exactly the
//! blocks it touches, each checked against its CRC-32 first, and an error names the array
//! and the block. Each read says how many stored bytes it took, so a process can count what
//! it read (tests check that each worker read only its own chunks).
//!
//! An array at a URL is read through the remote reader (spec 9.7): a compressed array's range
//! fetches only the blocks it touches, in one request; a raw array is fetched whole, once per
//! process, since its one CRC-32 covers no less (compress arrays meant for remote chunked reads).

use std::path::PathBuf;

use amberfile::{ArrayId, Node, NodeId, Order};
use numpy::{PyArrayDescr, PyUntypedArray};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::buffer::new_array_filled;
use crate::decode::{check_bools, Loader};
use crate::dtypes::NumpyDtypes;
use crate::errors::{allocation_failed, format_error};
use crate::lazy::Opened;
use crate::remote::{load_prefetched, open_url, remote_error, StorageOptions};
use crate::{open_partial, LoadMode};

/// One array of a mapped, validated file; see the [module docs](self).
#[pyclass(frozen, module = "amberfile._native")]
pub(crate) struct ArrayChunks {
    opened: Opened,
    node: NodeId,
    array: ArrayId,
    /// The array's path in the file, for messages.
    label: String,
}

/// Opens `path` and finds the array at `array_path` (the CLI's syntax; see
/// `amberfile::graph::path`). `verify` checks a raw array's CRC-32 when its view is first made.
#[pyfunction]
pub(crate) fn open_array(
    py: Python<'_>,
    path: PathBuf,
    array_path: &str,
    verify: bool,
) -> PyResult<ArrayChunks> {
    let (reader, memory) = open_partial(py, &path, LoadMode::ReadOnly, false, verify)?;
    ArrayChunks::found(Opened::Local { reader, memory }, array_path)
}

/// [`open_array`] for an object at `url`, read by ranges with `options` for its store.
#[pyfunction]
pub(crate) fn open_array_url(
    py: Python<'_>,
    url: String,
    array_path: &str,
    options: StorageOptions,
) -> PyResult<ArrayChunks> {
    let reader = open_url(py, &url, options)?;
    ArrayChunks::found(Opened::Remote { url, reader }, array_path)
}

impl ArrayChunks {
    /// The array at `array_path` of `opened`.
    fn found(opened: Opened, array_path: &str) -> PyResult<Self> {
        let graph = opened.graph();
        let found = graph
            .resolve_path(opened.root(), array_path)
            .map_err(PyValueError::new_err)?;
        let node = graph.look_through(found);
        let Node::Array(array) = graph.node(node) else {
            return Err(PyValueError::new_err(format!(
                "path '{array_path}' names {}, not an array",
                amberfile::graph::path::article_before(graph.node(node).kind_name())
            )));
        };
        Ok(ArrayChunks {
            opened,
            node,
            array,
            label: array_path.to_owned(),
        })
    }

    fn info(&self) -> amberfile::ArrayInfo<'_> {
        // The id came from this reader's own graph, which the reader validated.
        match &self.opened {
            Opened::Local { reader, .. } => reader.array_info(self.array),
            Opened::Remote { reader, .. } => reader.array_info(self.array),
        }
        .expect("an array id of the reader's own graph")
    }

    /// `error` with the array (and the block, if one) named, same class and offset.
    fn named(&self, error: &amberfile::Error, block: Option<(u64, usize)>) -> amberfile::Error {
        let detail = match error.detail() {
            "" => error.to_string(),
            detail => detail.to_owned(),
        };
        let place = match block {
            Some((index, count)) => format!("array '{}', block {index} of {count}", self.label),
            None => format!("array '{}'", self.label),
        };
        amberfile::Error::new(error.kind(), error.offset(), format!("{place}: {detail}"))
    }
}

impl ArrayChunks {
    /// [`read_items`](ArrayChunks::read_items) for a remote array: `items_len` items, logical
    /// bytes `bytes`, from the blocks they touch, fetched in one request and each checked
    /// against its CRC-32 by the reader.
    fn remote_items<'py>(
        &self,
        py: Python<'py>,
        (url, reader): (&str, &amberfile::remote::RemoteReader),
        dtype: &Bound<'py, PyArrayDescr>,
        (items_len, bytes): (u64, std::ops::Range<u64>),
    ) -> PyResult<(Bound<'py, PyUntypedArray>, u64)> {
        let info = self.info();
        let block_size = info.block_size();
        let first = bytes.start / block_size;
        let end = bytes.end.div_ceil(block_size).max(first + 1);
        let span = first * block_size..(end * block_size).min(info.nbytes());
        let decoded = py
            .detach(|| reader.read_byte_range(self.array, span.clone()))
            .map_err(|e| remote_error(py, url, &self.named(&e, None)))?;
        let blocks = info
            .extents()
            .get(first as usize..end as usize)
            .unwrap_or_default();
        let stored_read = blocks.iter().map(|extent| extent.stored_length).sum();
        let part = &decoded[(bytes.start - span.start) as usize..(bytes.end - span.start) as usize];
        let items = new_array_filled(dtype, &[items_len], false, |out| {
            out.copy_from_slice(part);
            check_bools(info.dtype(), out).map_err(|e| format_error(py, &self.named(&e, None)))
        })
        .map_err(|e| allocation_failed(py, "a chunk", e))?;
        Ok((items, stored_read))
    }
}

#[pymethods]
impl ArrayChunks {
    /// The array's numpy dtype (record dtypes as structured dtypes).
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        NumpyDtypes::new(py).get(self.info().dtype())
    }

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.info().shape())
    }

    /// True if the elements are stored in Fortran (column-major) order.
    #[getter]
    fn fortran(&self) -> bool {
        self.info().order() == Order::F
    }

    /// True if the array is stored raw (one extent, mappable), False if in compressed blocks.
    #[getter]
    fn raw(&self) -> bool {
        self.info().is_raw()
    }

    /// Logical bytes per compressed block (the whole array for a raw one).
    #[getter]
    fn block_size(&self) -> u64 {
        let info = self.info();
        if info.is_raw() {
            info.nbytes()
        } else {
            info.block_size()
        }
    }

    #[getter]
    fn nbytes(&self) -> u64 {
        self.info().nbytes()
    }

    /// The whole raw array as a read-only view of the mapped file (no copy).
    fn view<'py>(&self, py: Python<'py>, policy: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if !self.info().is_raw() {
            return Err(PyValueError::new_err(format!(
                "array '{}' is compressed: read it with read_items",
                self.label
            )));
        }
        match &self.opened {
            Opened::Local { reader, memory } => {
                // Checks the padding before the array (and its CRC-32 if `verify`), naming it.
                reader
                    .zero_copy_bytes(self.array)
                    .map_err(|e| format_error(py, &self.named(&e, None)))?;
                Loader::new(py, reader, policy, memory)?.load_node(self.node)
            }
            // Fetched whole, CRC-checked: the copy this process slices its chunks from.
            Opened::Remote { url, reader } => load_prefetched(py, url, reader, Some(self.node), policy),
        }
    }

    /// Elements `start..stop` (in storage order) of a compressed array, as a new 1-D array, and
    /// the stored bytes read for them: only the blocks they touch are read, each checked
    /// against its CRC-32 before decoding.
    fn read_items<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        stop: u64,
    ) -> PyResult<(Bound<'py, PyUntypedArray>, u64)> {
        let info = self.info();
        let itemsize = info.dtype().itemsize();
        let len = info.len();
        if start > stop || stop > len {
            return Err(PyIndexError::new_err(format!(
                "elements {start}..{stop} outside array '{}' of {len}",
                self.label
            )));
        }
        if info.is_raw() {
            return Err(PyValueError::new_err(format!(
                "array '{}' is raw: slice its view",
                self.label
            )));
        }
        let dtype = NumpyDtypes::new(py)
            .get(info.dtype())?
            .cast_into::<PyArrayDescr>()?;
        // Both ends fit: stop <= len, and len * itemsize = nbytes, a u64.
        let (from, to) = (start * itemsize, stop * itemsize);
        let block_size = info.block_size();
        let count = info.extents().len();
        let fail = |e: amberfile::Error| format_error(py, &e);
        let mut stored_read = 0;
        let reader = match &self.opened {
            Opened::Local { reader, .. } => reader,
            Opened::Remote { url, reader } => {
                return self.remote_items(py, (url, reader), &dtype, (stop - start, from..to));
            }
        };
        let items = new_array_filled(&dtype, &[stop - start], false, |out| {
            let mut block = from / block_size;
            while block * block_size < to {
                let block_start = block * block_size;
                let block_end = (block_start + block_size).min(info.nbytes());
                let decoded = reader
                    .read_byte_range(self.array, block_start..block_end)
                    .map_err(|e| fail(self.named(&e, Some((block, count)))))?;
                let extent = usize::try_from(block).ok().and_then(|i| info.extents().get(i));
                let stored = extent.map_or(0, |extent| extent.stored_length);
                stored_read += stored;
                let (lo, hi) = (from.max(block_start), to.min(block_end));
                let part = &decoded[(lo - block_start) as usize..(hi - block_start) as usize];
                out[(lo - from) as usize..(hi - from) as usize].copy_from_slice(part);
                block += 1;
            }
            check_bools(info.dtype(), out).map_err(|e| fail(self.named(&e, None)))
        })
        .map_err(|e| allocation_failed(py, "a chunk", e))?;
        Ok((items, stored_read))
    }
}
