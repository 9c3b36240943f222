//! `amberfile._native`: the Rust core of the `amberfile` Python package.
//!
//! Python calls in through the functions below; everything else (argument normalisation, the
//! trust policy, exception classes) lives in the Python package `python/python/amberfile/`.
//! - [`encode`]: Python objects to a graph, arrays written straight from numpy memory;
//! - [`decode`]: a validated file to Python objects, under the policy's control;
//! - [`dtypes`]: numpy dtypes to Amber dtypes and back;
//! - [`buffer`]: memory shared with numpy (mappings, owned copies): the only unsafe code;
//! - [`checks`]: checks of scikit-learn state, too slow as numpy calls;
//! - [`ahead`]: the helper thread of a copying load (CRCs and tree checks on the other core);
//! - [`errors`]: crate errors as Python exceptions;
//! - [`lazy`]: a file whose root dict's entries are loaded one at a time;
//! - [`sink`]: a Python file object as the writer's sink.

mod ahead;
#[allow(unsafe_code)]
mod buffer;
mod checks;
mod decode;
mod dtypes;
mod encode;
mod errors;
mod lazy;
mod paths;
mod sink;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use amberfile::{Compression, Limits, ReadOptions, Reader, Verify, WriteOptions, Writer};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

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
    let compression = options.compression;
    let mut writer = Writer::new(Vec::new(), options).map_err(|e| format_error(py, &e))?;
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
    let compression = options.compression;
    let (sink, failure) = PyFileSink::new(file)?;
    let mut writer = Writer::new(sink, options).map_err(|e| format_error(py, &e))?;
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
    let compression = options.compression;
    let mut writer = Writer::create(&path, options).map_err(|e| format_error(py, &e))?;
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

/// Maps and validates the file at `path` for loading in `mode`: "copy", "r" (read-only views
/// of a shared mapping) or "c" (writable views of a private copy-on-write mapping).
/// Fails with OSError only if the file cannot be mapped. `populate` faults every page in up
/// front: worth it when every array will be read (copied or verified) anyway.
fn open_mapped(
    py: Python<'_>,
    (path, file): (&Path, &File),
    (mode, populate): (&str, bool),
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<(Reader<SharedMap>, ArrayMemory)> {
    let map = map_read_only(file, populate).map_err(|e| os_error(path, e))?;
    let options = read_options(verify_arrays, map.as_ref().len() as u64);
    let reader = Reader::from_storage(map.clone(), options).map_err(|e| format_error(py, &e))?;
    let memory = match mode {
        "copy" => ArrayMemory::Copy,
        "r" => ArrayMemory::Mapped {
            buffer: Py::new(py, FileBuffer::shared(map))?,
            require_zero_copy,
        },
        "c" => ArrayMemory::CopyOnWrite {
            buffer: Py::new(py, FileBuffer::copy_on_write(file)?)?,
        },
        other => return Err(PyValueError::new_err(format!("unknown mode {other:?}"))),
    };
    Ok((reader, memory))
}

/// Loads the file at `path` in `mode` (see [`open_mapped`]).
#[pyfunction]
fn load_path<'py>(
    py: Python<'py>,
    path: PathBuf,
    mode: &str,
    policy: Bound<'py, PyAny>,
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let file = File::open(&path).map_err(|e| os_error(&path, e))?;
    let len = file.metadata().map_err(|e| os_error(&path, e))?.len();
    if mode == "copy" && len <= SMALL_FILE_BYTES {
        // A small model is read whole: cheaper than setting up and tearing down a mapping.
        let reader =
            Reader::from_reader(&file, read_options(false, len)).map_err(|e| format_error(py, &e))?;
        return Loader::new(py, &reader, policy, &ArrayMemory::Copy)?.load();
    }
    let populate = verify_arrays || mode == "copy";
    match open_mapped(
        py,
        (&path, &file),
        (mode, populate),
        require_zero_copy,
        verify_arrays,
    ) {
        Ok((reader, memory)) => Loader::new(py, &reader, policy, &memory)?.load(),
        // Some file systems cannot map; copies can come from plain reads instead.
        Err(e) if mode == "copy" && e.is_instance_of::<PyOSError>(py) => {
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
    mode: &str,
    policy: Py<PyAny>,
    require_zero_copy: bool,
    verify_arrays: bool,
) -> PyResult<LazyFile> {
    let file = File::open(&path).map_err(|e| os_error(&path, e))?;
    // Lazy: pages are read only for the entries asked for.
    let (reader, memory) = open_mapped(
        py,
        (&path, &file),
        (mode, false),
        require_zero_copy,
        verify_arrays,
    )?;
    LazyFile::new(reader, memory, policy)
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
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(dump_path, m)?)?;
    m.add_function(wrap_pyfunction!(dump_file, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(load_path, m)?)?;
    m.add_function(wrap_pyfunction!(open_lazy, m)?)?;
    m.add_function(wrap_pyfunction!(verify_path, m)?)?;
    m.add_function(wrap_pyfunction!(type_names_path, m)?)?;
    m.add_function(wrap_pyfunction!(type_names_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_tree_nodes, m)?)?;
    m.add_function(wrap_pyfunction!(checks::tree_depth, m)?)?;
    Ok(())
}
