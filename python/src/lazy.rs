//! `amberfile.lazy_load`: a file whose root dict's entries are loaded one at a time.
//!
//! Opening maps the file and validates its structure and metadata, as `load` does, but builds
//! nothing: a file of 10,000 named arrays lists its names without making 10,000 arrays. Each
//! entry is built on request, under the same policy check as a whole load, from the part of
//! the graph it reaches. Entries are built independently, so an object shared by two entries
//! comes back as two objects (load the whole value to keep such sharing). Strings are the
//! exception: each string of the file becomes one Python str, shared by the keys and every
//! entry, so a long key used by many entries takes its size once.

use std::collections::HashMap;

use amberfile::{Node, NodeId, Reader};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::buffer::SharedMap;
use crate::decode::{ArrayMemory, Loader, StrCache};

/// A mapped, validated file; see the [module docs](self).
#[pyclass(frozen, module = "amberfile._native")]
pub(crate) struct LazyFile {
    reader: Reader<SharedMap>,
    memory: ArrayMemory,
    policy: Py<PyAny>,
    /// The root dict's key nodes (strs) in file order, or why the root is not a dict with str
    /// keys.
    keys: Result<Vec<NodeId>, String>,
    /// Key -> value node.
    values: HashMap<String, NodeId>,
    strings: StrCache,
}

impl LazyFile {
    pub(crate) fn new(reader: Reader<SharedMap>, memory: ArrayMemory, policy: Py<PyAny>) -> PyResult<Self> {
        let graph = reader.graph();
        let (keys, values) = match graph.node(reader.root()) {
            Node::Map(entries) => {
                let mut keys = Vec::with_capacity(entries.len());
                let mut values = HashMap::with_capacity(entries.len());
                let mut problem = None;
                // Stops at the first problem: each key is copied once, and only while distinct.
                for &[key, value] in entries {
                    match graph.node(key) {
                        Node::Str(name) if values.contains_key(name) => {
                            problem = Some(format!("the root dict has the key {name:?} twice"));
                        }
                        Node::Str(name) => {
                            values.insert(name.to_owned(), value);
                            keys.push(key);
                            continue;
                        }
                        other => {
                            problem = Some(format!(
                                "the root dict has a key that is {}, not a str",
                                other.kind_name()
                            ))
                        }
                    }
                    break;
                }
                (problem.map_or(Ok(keys), Err), values)
            }
            other => (
                Err(format!("the root is {}, not a dict", other.kind_name())),
                HashMap::new(),
            ),
        };
        Ok(LazyFile {
            reader,
            memory,
            policy,
            keys,
            values,
            strings: StrCache::default(),
        })
    }

    fn loader<'py>(&self, py: Python<'py>) -> PyResult<Loader<'py, '_, SharedMap>> {
        Ok(
            Loader::new(py, &self.reader, self.policy.bind(py).clone(), &self.memory)?
                .sharing_strings(&self.strings),
        )
    }

    fn keys_or_error(&self) -> PyResult<&[NodeId]> {
        self.keys
            .as_deref()
            .map_err(|why| PyTypeError::new_err(why.clone()))
    }
}

#[pymethods]
impl LazyFile {
    /// The root dict's str keys, in file order; TypeError if the root is anything else.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let keys = self.keys_or_error()?;
        let graph = self.reader.graph();
        // Every key node was checked to be a str when the file was opened.
        let names = keys.iter().filter_map(|&key| match graph.node(key) {
            Node::Str(name) => Some(self.strings.get(py, name)),
            _ => None,
        });
        PyList::new(py, names.collect::<PyResult<Vec<_>>>()?)
    }

    /// The value of the root dict's entry `key`, built alone.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.keys_or_error()?;
        let &node = self
            .values
            .get(key)
            .ok_or_else(|| PyKeyError::new_err(key.to_owned()))?;
        self.loader(py)?.load_node(node)
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.keys_or_error()?;
        // Like a dict: a key of another type is simply not there.
        Ok(key
            .cast::<PyString>()
            .is_ok_and(|key| key.to_str().is_ok_and(|key| self.values.contains_key(key))))
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.keys_or_error()?.len())
    }

    /// The whole value, as `load` builds it (shared references kept).
    fn load<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.loader(py)?.load()
    }
}
