//! `amberfile._native`: the Rust core of the `amberfile` Python package.
//!
//! Python calls in through the functions below; everything else (argument normalisation, the
//! trust policy, exception classes) lives in the Python package `python/python/amberfile/`.
//! - [`encode`]: Python objects to a graph, arrays written straight from numpy memory;
//! - [`decode`]: a validated file to Python objects, under the policy's control;
//! - [`dtypes`]: numpy dtypes to Amber dtypes and back;
//! - [`buffer`]: memory shared with numpy (mappings, owned copies): the only unsafe code;
//! - [`checks`]: checks of scikit-learn state, too slow as numpy calls;
//! - [`ahead`]: the helper thread of a copying load, which runs the CRCs and the checks others
//!   submit (such as [`checks`]' tree checks) on the other core, knowing nothing of trees;
//! - [`errors`]: crate errors as Python exceptions;
//! - [`lazy`]: a file whose root dict's entries are loaded one at a time;
//! - [`remote`]: the same functions over URLs (object storage, HTTP), with [`prefetch`]
//!   batching a load's array fetches;
//! - [`chunks`]: one array of a file read in chunks, for `amberfile.dask`;
//! - [`sink`]: a Python file object as the writer's sink;
//! - [`names`], [`limits`]: the package's own type names and bounds, also read by Python.

mod ahead;
#[allow(unsafe_code)]
mod buffer;
mod checks;
mod chunks;
mod decode;
mod dtypes;
mod encode;
mod errors;
mod lazy;
mod limits;
mod names;
mod paths;
mod prefetch;
mod remote;
mod sink;

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use amberfile::{
    ByteSource, Compression, ErrorKind, FileSource, Limits, Metadata, ReadOptions, Reader, Verify,
    WriteOptions, Writer,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use buffer::{map_read_only, FileBuffer, SharedMap};
use decode::{type_names, ArrayMemory, Loader};
use encode::Encoder;
use errors::format_error;
use lazy::LazyFile;
use sink::PyFileSink;

fn write_options(compress: i32, shuffle: bool, alignment: u32) -> PyResult<WriteOptions> {
    let compression = match compress {
        0 => Compression::None,
        1..=22 => Compression::Zstd {
            level: compress,
            shuffle,
        },
        _ => {
            return Err(PyValueError::new_err(format!(
                "compress must be 0..=22, not {compress}"
            )))
        }
    };
    Ok(WriteOptions {
        alignment,
        compression,
        ..WriteOptions::default()
    })
}

/// The writer `create` makes with `options`, and the compression the encoder gives arrays (a
/// writer does not hand its options back).
fn new_writer<W: Write>(
    py: Python<'_>,
    options: WriteOptions,
    create: impl FnOnce(WriteOptions) -> amberfile::Result<Writer<W>>,
) -> PyResult<(Writer<W>, Compression)> {
    let compression = options.compression;
    let writer = create(options).map_err(|e| format_error(py, &e))?;
    Ok((writer, compression))
}

/// Encodes `obj` through `writer`. Rust sinks write numpy's memory in place, with the GIL
/// held throughout.
fn encode_into<W: Write>(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    writer: &mut Writer<W>,
    compression: Compression,
) -> PyResult<amberfile::Graph> {
    Encoder::new(py, writer, compression, false)?.encode(obj)
}

/// Header, trailer and metadata CRCs are always checked, and so are the CRCs of arrays copied or
/// decoded into memory (spec section 10). `verify_arrays` decides for mapped views: checked when
/// first made, or not at all (the structure is validated either way).
///
/// One array may take as much memory as the whole file (`file_len`), or the default limit
/// (4 GiB) if that is more: a big raw array loads, while a small file still cannot make the
/// loader allocate more than the default (rule R57).
fn read_options(verify_arrays: bool, file_len: u64) -> ReadOptions {
    let defaults = ReadOptions::default();
    ReadOptions {
        verify: if verify_arrays {
            Verify::OnFirstAccess
        } else {
            Verify::Explicit
        },
        limits: Limits {
            max_decoded_bytes: defaults.limits.max_decoded_bytes.max(file_len),
            ..defaults.limits
        },
    }
}

fn os_error(path: &std::path::Path, error: std::io::Error) -> PyErr {
    PyOSError::new_err(format!("{}: {error}", path.display()))
}

/// Encodes `obj` as the bytes of an Amber file.
#[pyfunction]
fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    compress: i32,
    shuffle: bool,
    alignment: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let options = write_options(compress, shuffle, alignment)?;
    let (mut writer, compression) = new_writer(py, options, |options| Writer::new(Vec::new(), options))?;
    let graph = encode_into(py, obj, &mut writer, compression)?;
    let bytes = writer.finish(&graph).map_err(|e| format_error(py, &e))?;
    Ok(PyBytes::new(py, &bytes))
}

/// Writes `obj` to the binary file object `file` as it is encoded (see [`sink`]).
#[pyfunction]
fn dump_file(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    file: Bound<'_, PyAny>,
    compress: i32,
    shuffle: bool,
    alignment: u32,
) -> PyResult<()> {
    let options = write_options(compress, shuffle, alignment)?;
    let (sink, failure) = PyFileSink::new(file)?;
    let (mut writer, compression) = new_writer(py, options, |options| Writer::new(sink, options))?;
    // `finish` flushes what the sink still buffers into the file object.
    let written = Encoder::new(py, &mut writer, compression, true)
        .and_then(|encoder| encoder.encode(obj))
        .and_then(|graph| writer.finish(&graph).map(drop).map_err(|e| format_error(py, &e)));
    // The file object's own exception, if its `write` is what failed: after that the sink
    // never calls Python again, so nothing later can replace it.
    written.map_err(|err| failure.borrow_mut().take().unwrap_or(err))
}

/// Writes `obj` to `path` atomically (temporary file, then rename).
#[pyfunction]
fn dump_path(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    path: PathBuf,
    compress: i32,
    shuffle: bool,
    alignment: u32,
) -> PyResult<()> {
    let options = write_options(compress, shuffle, alignment)?;
    let (mut writer, compression) = new_writer(py, options, |options| Writer::create(&path, options))?;
    let graph = encode_into(py, obj, &mut writer, compression)?;
    writer.commit(&graph).map_err(|e| format_error(py, &e))
}

/// Loads the value held by `data` (the bytes of a file); arrays are copies, CRCs checked.
#[pyfunction]
fn load_bytes<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    policy: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let bytes = data.as_bytes();
    let reader = Reader::from_bytes(bytes, read_options(false, bytes.len() as u64))
        .map_err(|e| format_error(py, &e))?;
    Loader::new(py, &reader, policy, &ArrayMemory::Copy)?.load()
}

/// Files up to this size are read rather than mapped for a copying load.
const SMALL_FILE_BYTES: u64 = 1 << 20;

/// Where a load's arrays come from, parsed once from `load`'s `mmap_mode` argument.
#[pyclass(eq, frozen, from_py_object, module = "amberfile._native")]
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoadMode {
    /// `None`: every array is copied (or decoded) into memory of its own.
    Copy,
    /// `"r"`: raw arrays are read-only views of a shared mapping.
    ReadOnly,
    /// `"c"`: raw arrays are writable views of a private copy-on-write mapping.
    CopyOnWrite,
}

#[pymethods]
impl LoadMode {
    /// The mode `mmap_mode` names: `None`, `"r"` or `"c"`, else ValueError.
    #[staticmethod]
    fn from_mmap_mode(mmap_mode: &Bound<'_, PyAny>) -> PyResult<Self> {
        if mmap_mode.is_none() {
            Ok(LoadMode::Copy)
        } else if mmap_mode.eq("r")? {
            Ok(LoadMode::ReadOnly)
        } else if mmap_mode.eq("c")? {
            Ok(LoadMode::CopyOnWrite)
        } else {
            Err(PyValueError::new_err(format!(
                "mmap_mode must be None, \"r\" or \"c\", not {}",
                mmap_mode.repr()?
            )))
        }
    }
}

/// How `open_mapped` validates a file (spec 9.6).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Every rule at open, the padding included, over a mapping `populate`d (faulted in up
    /// front) when every array will be read (copied or verified) anyway: a copying `load`.
    WholeFile { populate: bool },
    /// A partial reader: the header, trailer and metadata with positional reads, nothing
    /// populated, the padding before an array checked when the array is first handed out, or
    /// all of it at open with positional reads when `every_array` will be handed out (a mapped
    /// load): through the mapping, each padding check would fault in a readahead window.
    Partial { every_array: bool },
}

/// Maps and validates the file at `path` for loading in `mode`. Fails with OSError only if the
/// file cannot be read or mapped.
fn open_mapped(
    py: Python<'_>,
    (path, file): (&Path, &File),
    (mode, open): (LoadMode, Open),
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<(Reader<SharedMap>, ArrayMemory)> {
    let reader = match open {
        Open::WholeFile { populate } => {
            let map = map_read_only(file, populate).map_err(|e| os_error(path, e))?;
            let options = read_options(verify_arrays, map.as_ref().len() as u64);
            Reader::from_storage(map, options).map_err(|e| format_error(py, &e))?
        }
        Open::Partial { every_array } => {
            // The file cannot be read: OSError, as when it cannot be mapped.
            let unreadable = |e: amberfile::Error| match e.kind() {
                ErrorKind::Io => PyOSError::new_err(format!("{}: {e}", path.display())),
                _ => format_error(py, &e),
            };
            let handle = file.try_clone().map_err(|e| os_error(path, e))?;
            let positional = FileSource::new(handle).map_err(unreadable)?;
            let len = positional.file_len().map_err(unreadable)?;
            let options = read_options(verify_arrays, len);
            // Read before mapping: the first touch of a mapped page at either end of the file
            // can fault in a whole readahead window.
            let metadata = Metadata::from_source(&positional, &options.limits).map_err(unreadable)?;
            let map = map_read_only(file, false).map_err(|e| os_error(path, e))?;
            let reader = Reader::from_metadata(map, metadata, options).map_err(|e| format_error(py, &e))?;
            if every_array {
                // In file order, before any array is handed out (spec 9.6 allows it earlier).
                reader.verify_padding_from(&positional).map_err(unreadable)?;
            }
            reader
        }
    };
    let file_len = reader.bytes().len();
    let memory = match mode {
        LoadMode::Copy => ArrayMemory::Copy,
        LoadMode::ReadOnly => {
            let buffer = match numpy_map(py, (path, file), "r", file_len)? {
                Some(buffer) => buffer,
                None => FileBuffer::shared(reader.source().clone()),
            };
            ArrayMemory::Mapped {
                buffer: Py::new(py, buffer)?,
                require_zero_copy,
            }
        }
        LoadMode::CopyOnWrite => {
            let buffer = match numpy_map(py, (path, file), "c", file_len)? {
                Some(buffer) => buffer,
                None => FileBuffer::copy_on_write(file)?,
            };
            ArrayMemory::CopyOnWrite {
                buffer: Py::new(py, buffer)?,
            }
        }
    };
    Ok((reader, memory))
}

/// The memory of an `np.memmap` of `file` in `mode` ("r" or "c"), made from `file`'s own
/// descriptor so it maps the file just validated, or None if `path` no longer names that file
/// or the mapping is not `file_len` long (see `amberfile._memmap`). Arrays viewing it are passed
/// to joblib's workers by file name.
fn numpy_map(
    py: Python<'_>,
    (path, file): (&Path, &File),
    mode: &str,
    file_len: usize,
) -> PyResult<Option<FileBuffer>> {
    let memmap = py
        .import("amberfile._memmap")?
        .call_method1("memmap_of", (file.as_raw_fd(), path, mode))?;
    if memmap.is_none() {
        return Ok(None);
    }
    let buffer = FileBuffer::over_memmap(&memmap)?;
    Ok((buffer.len() == file_len).then_some(buffer))
}

/// Opens the file at `path` for reading entries one at a time: [`open_mapped`] with only its
/// header, trailer and metadata read at open, so pages are read only for the entries asked for.
fn open_partial(
    py: Python<'_>,
    path: &Path,
    mode: LoadMode,
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<(Reader<SharedMap>, ArrayMemory)> {
    let file = File::open(path).map_err(|e| os_error(path, e))?;
    let open = Open::Partial { every_array: false };
    open_mapped(py, (path, &file), (mode, open), require_zero_copy, verify_arrays)
}

/// Loads the file at `path` in `mode` (see [`open_mapped`]).
#[pyfunction]
fn load_path<'py>(
    py: Python<'py>,
    path: PathBuf,
    mode: LoadMode,
    policy: Bound<'py, PyAny>,
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let file = File::open(&path).map_err(|e| os_error(&path, e))?;
    let len = file.metadata().map_err(|e| os_error(&path, e))?.len();
    if mode == LoadMode::Copy && len <= SMALL_FILE_BYTES {
        // A small model is read whole: cheaper than setting up and tearing down a mapping.
        let reader =
            Reader::from_reader(&file, read_options(false, len)).map_err(|e| format_error(py, &e))?;
        return Loader::new(py, &reader, policy, &ArrayMemory::Copy)?.load();
    }
    // A copying load reads every byte, so it is a whole-file reader; a mapped one hands out
    // views and reads only what they touch, so it opens partially.
    let open = match mode {
        LoadMode::Copy => Open::WholeFile { populate: true },
        LoadMode::ReadOnly | LoadMode::CopyOnWrite => Open::Partial { every_array: true },
    };
    match open_mapped(py, (&path, &file), (mode, open), require_zero_copy, verify_arrays) {
        Ok((reader, memory)) => Loader::new(py, &reader, policy, &memory)?.load(),
        // Some file systems cannot map; copies can come from plain reads instead.
        Err(e) if mode == LoadMode::Copy && e.is_instance_of::<PyOSError>(py) => {
            let reader = Reader::open(&path, read_options(false, len)).map_err(|e| format_error(py, &e))?;
            Loader::new(py, &reader, policy, &ArrayMemory::Copy)?.load()
        }
        Err(e) => Err(e),
    }
}

/// Opens the file at `path` for loading entries one at a time (see [`LazyFile`]).
#[pyfunction]
fn open_lazy(
    py: Python<'_>,
    path: PathBuf,
    mode: LoadMode,
    policy: Py<PyAny>,
    require_zero_copy: bool,
    verify_arrays: bool,
    origin: (String, Py<PyDict>),
) -> PyResult<LazyFile> {
    let opened = open_partial(py, &path, mode, require_zero_copy, verify_arrays)?;
    LazyFile::new(opened, policy, origin)
}

/// Applies every validation rule to the file at `path` and checks every CRC, decoding every
/// compressed block; builds nothing.
#[pyfunction]
fn verify_path(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    let file = File::open(&path).map_err(|e| os_error(&path, e))?;
    let options = ReadOptions {
        verify: Verify::Explicit,
        ..ReadOptions::default()
    };
    // Only Rust work from here: other Python threads run meanwhile.
    let checked = py.detach(|| match map_read_only(&file, true) {
        Ok(map) => Reader::from_storage(map, options).and_then(|reader| reader.verify()),
        // Some file systems cannot map: plain reads check every CRC while reading.
        Err(_) => Reader::open(&path, options).and_then(|reader| reader.verify()),
    });
    checked.map_err(|e| format_error(py, &e))
}

/// Every type and global name in the graph of the file at `path`.
#[pyfunction]
fn type_names_path(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    let file = File::open(&path).map_err(|e| os_error(&path, e))?;
    let map = map_read_only(&file, false).map_err(|e| os_error(&path, e))?;
    let reader = Reader::from_storage(map, ReadOptions::default()).map_err(|e| format_error(py, &e))?;
    Ok(type_names(reader.graph(), reader.root()))
}

/// Every type and global name in the graph of a file held in `data`.
#[pyfunction]
fn type_names_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<Vec<String>> {
    let reader =
        Reader::from_bytes(data.as_bytes(), ReadOptions::default()).map_err(|e| format_error(py, &e))?;
    Ok(type_names(reader.graph(), reader.root()))
}

#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FileBuffer>()?;
    m.add_class::<LazyFile>()?;
    m.add_class::<chunks::ArrayChunks>()?;
    m.add_class::<LoadMode>()?;
    names::export(m)?;
    limits::export(m)?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(dump_path, m)?)?;
    m.add_function(wrap_pyfunction!(dump_file, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(load_path, m)?)?;
    m.add_function(wrap_pyfunction!(open_lazy, m)?)?;
    m.add_function(wrap_pyfunction!(chunks::open_array, m)?)?;
    m.add_function(wrap_pyfunction!(verify_path, m)?)?;
    m.add_function(wrap_pyfunction!(type_names_path, m)?)?;
    m.add_function(wrap_pyfunction!(type_names_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(remote::is_url, m)?)?;
    m.add_function(wrap_pyfunction!(chunks::open_array_url, m)?)?;
    m.add_function(wrap_pyfunction!(remote::dump_url, m)?)?;
    m.add_function(wrap_pyfunction!(remote::load_url, m)?)?;
    m.add_function(wrap_pyfunction!(remote::open_lazy_url, m)?)?;
    m.add_function(wrap_pyfunction!(remote::verify_url, m)?)?;
    m.add_function(wrap_pyfunction!(remote::type_names_url, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_tree_nodes, m)?)?;
    m.add_function(wrap_pyfunction!(checks::tree_depth, m)?)?;
    Ok(())
}
