//! URLs (`s3://`, `gs://`, `az://`, `http(s)://`, `file://`): the package's functions over the
//! crate's remote reader and upload (spec 9.7), with `storage_options` passed to `object_store`.
//!
//! A remote reader is a partial reader: it validates the header, trailer and metadata before
//! anything is built, and checks each array's CRC and the padding before it as it fetches them.
//! A load fetches the arrays it builds in few batched requests ([`Prefetched`]); a lazy file
//! fetches the arrays of one entry at a time.

use amberfile::remote::{self, RemoteReader};
use amberfile::{ErrorKind, NodeId, Reader};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::decode::{type_names, ArrayMemory, Loader};
use crate::encode::Encoder;
use crate::errors::format_error;
use crate::prefetch::Prefetched;
use crate::{read_options, write_options};

/// `storage_options` as `object_store` configuration pairs.
pub(crate) type StorageOptions = Vec<(String, String)>;

/// The Python exception for an error of a remote read or write: network and store failures as
/// the OSError a local file would raise, file problems as for a local file.
pub(crate) fn remote_error(py: Python<'_>, url: &str, error: &amberfile::Error) -> PyErr {
    match error.kind() {
        ErrorKind::Io => {}
        // A misspelt option or a URL object_store cannot parse is the caller's mistake.
        ErrorKind::InvalidOptions => return PyValueError::new_err(format!("{url}: {error}")),
        _ => return format_error(py, error),
    }
    let message = format!("{url}: {error}");
    match error.io_error().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::NotFound) => PyFileNotFoundError::new_err(message),
        Some(std::io::ErrorKind::PermissionDenied) => PyPermissionError::new_err(message),
        Some(std::io::ErrorKind::TimedOut) => PyTimeoutError::new_err(message),
        _ => PyOSError::new_err(message),
    }
}

/// Opens `url`: the header, trailer and metadata, validated. The limits are the defaults: the
/// object's size is the server's word, so it cannot raise them as a local file's size does
/// until a load has fetched its arrays ([`load_prefetched`]).
pub(crate) fn open_url(py: Python<'_>, url: &str, options: StorageOptions) -> PyResult<RemoteReader> {
    let read = read_options(false, 0);
    py.detach(|| remote::open_url(url, options, read))
        .map_err(|e| remote_error(py, url, &e))
}

/// Builds `node` (the root if None) of `reader`, whose arrays come in batched fetches of up to
/// 64 MiB, in the order the load builds them ([`Prefetched`]).
pub(crate) fn load_prefetched<'py>(
    py: Python<'py>,
    url: &str,
    reader: &RemoteReader,
    node: Option<NodeId>,
    policy: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let node = node.unwrap_or(reader.root());
    // The trust check comes first: nothing is fetched for a file that will be refused.
    policy.call_method1("check", (type_names(reader.graph(), node),))?;
    let arrays = reader.graph().arrays_reachable(node);
    let fetched = py
        .detach(|| {
            let prefetched = Prefetched::plan(reader, &arrays)?;
            // A model under one run (most) is fetched whole here, before anything is built.
            prefetched.fetch_first_run()?;
            // Arrays as large as the object's may be built, as a local file's may.
            let options = read_options(false, prefetched.largest_array());
            Reader::from_metadata(prefetched, reader.metadata().clone(), options)
        })
        .map_err(|e| remote_error(py, url, &e))?;
    Loader::new(py, &fetched, policy, &ArrayMemory::Copy)?.load_node(node)
}

/// `load(url)`: every array a copy, its CRC checked.
#[pyfunction]
pub(crate) fn load_url<'py>(
    py: Python<'py>,
    url: &str,
    options: StorageOptions,
    policy: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let reader = open_url(py, url, options)?;
    load_prefetched(py, url, &reader, None, policy)
}

/// `lazy_load(url)`: the metadata now, each entry's arrays when the entry is built.
#[pyfunction]
pub(crate) fn open_lazy_url(
    py: Python<'_>,
    url: &str,
    options: StorageOptions,
    policy: Py<PyAny>,
    dask_options: Py<PyDict>,
) -> PyResult<crate::lazy::LazyFile> {
    let reader = open_url(py, url, options)?;
    crate::lazy::LazyFile::remote(url.to_owned(), reader, policy, dask_options)
}

/// `verify(url)`: every rule and every CRC, streaming the whole object once.
#[pyfunction]
pub(crate) fn verify_url(py: Python<'_>, url: &str, options: StorageOptions) -> PyResult<()> {
    let reader = open_url(py, url, options)?;
    py.detach(|| reader.verify())
        .map_err(|e| remote_error(py, url, &e))
}

/// Every type and global name in the graph of the object at `url`, from its metadata alone.
#[pyfunction]
pub(crate) fn type_names_url(py: Python<'_>, url: &str, options: StorageOptions) -> PyResult<Vec<String>> {
    let reader = open_url(py, url, options)?;
    Ok(type_names(reader.graph(), reader.root()))
}

/// `dump(obj, url)`: streamed to a multipart upload that becomes the object only once the
/// whole file is written; on any failure the upload is aborted and no object appears.
#[pyfunction]
pub(crate) fn dump_url(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    url: &str,
    options: StorageOptions,
    settings: (i32, bool, u32),
) -> PyResult<()> {
    let (compress, shuffle, alignment) = settings;
    let write = write_options(compress, shuffle, alignment)?;
    let compression = write.compression;
    let upload = py
        .detach(|| remote::create_url(url, options))
        .map_err(|e| remote_error(py, url, &e))?;
    let mut writer = amberfile::Writer::new(upload, write).map_err(|e| remote_error(py, url, &e))?;
    // Dropping the writer (and the upload in it) on an error aborts the upload.
    let graph = Encoder::new(py, &mut writer, compression, false)?.encode(obj)?;
    let upload = writer.finish(&graph).map_err(|e| remote_error(py, url, &e))?;
    py.detach(|| upload.finish())
        .map_err(|e| remote_error(py, url, &e))
}

/// True if `target` is a URL rather than a local path.
#[pyfunction]
pub(crate) fn is_url(target: &str) -> bool {
    remote::is_url(target)
}
