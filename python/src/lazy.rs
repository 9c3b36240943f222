//! `amberfile.lazy_load`: a file whose root dict's entries are loaded one at a time.
//!
//! Opening maps the file and validates its structure and metadata, as `load` does, but builds
//! nothing: a file of 10,000 named arrays lists its names without making 10,000 arrays. Each
//! entry is built on request, under the same policy check as a whole load, from the part of
//! the graph it reaches. Entries are built independently, so an object shared by two entries
//! comes back as two objects (load the whole value to keep such sharing). Strings are the
//! exception: each string of the file becomes one Python str, shared by the keys and every
//! entry, so a long key used by many entries takes its size once.
//!
//! A lazy file of a URL holds the remote reader's validated metadata; building an entry fetches
//! that entry's arrays in one batched request (see [`crate::remote`]).

use std::collections::HashMap;

use amberfile::graph::{KeyProblem, StrEntry};
use amberfile::remote::RemoteReader;
use amberfile::{Graph, Node, NodeId, Reader};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::buffer::SharedMap;
use crate::decode::{ArrayMemory, Loader, StrCache};
use crate::remote::load_prefetched;

/// Where a lazy file's entries (or an [`ArrayChunks`](crate::chunks::ArrayChunks)'s chunks)
/// come from.
pub(crate) enum Opened {
    /// A mapped local file, and how its arrays are handed out.
    Local {
        reader: Reader<SharedMap>,
        memory: ArrayMemory,
    },
    /// An object at a URL: each entry's arrays fetched when it is built, copied.
    Remote { url: String, reader: RemoteReader },
}

/// A mapped, validated file; see the [module docs](self).
#[pyclass(frozen, module = "amberfile._native")]
pub(crate) struct LazyFile {
    opened: Opened,
    policy: Py<PyAny>,
    /// The root dict's key nodes (strs) in file order, or why the root is not a dict with str
    /// keys.
    keys: Result<Vec<NodeId>, String>,
    /// Key -> value node.
    values: HashMap<String, NodeId>,
    strings: StrCache,
    /// What `amberfile.dask.from_amber` needs to open the file again: its absolute path or URL,
    /// and the keyword arguments (`verify`, `storage_options`) it was opened with.
    origin: (String, Py<PyDict>),
}

impl LazyFile {
    pub(crate) fn new(
        (reader, memory): (Reader<SharedMap>, ArrayMemory),
        policy: Py<PyAny>,
        origin: (String, Py<PyDict>),
    ) -> PyResult<Self> {
        Self::opened(Opened::Local { reader, memory }, policy, origin)
    }

    pub(crate) fn remote(
        url: String,
        reader: RemoteReader,
        policy: Py<PyAny>,
        options: Py<PyDict>,
    ) -> PyResult<Self> {
        let origin = (url.clone(), options);
        Self::opened(Opened::Remote { url, reader }, policy, origin)
    }

    fn opened(opened: Opened, policy: Py<PyAny>, origin: (String, Py<PyDict>)) -> PyResult<Self> {
        let graph = opened.graph();
        let root = opened.root();
        let (keys, values) = match graph.str_keyed_map(root) {
            Some(entries) => {
                let count = entries.size_hint().1.unwrap_or(0);
                let mut keys = Vec::with_capacity(count);
                let mut values = HashMap::with_capacity(count);
                let mut problem = None;
                // The entries end at the first problem: each key is copied once, and only while
                // distinct.
                for entry in entries {
                    match entry {
                        Ok(StrEntry { key, name, value }) => {
                            values.insert(name.to_owned(), value);
                            keys.push(key);
                        }
                        Err(KeyProblem::Repeated(name)) => {
                            problem = Some(format!("the root dict has the key {name:?} twice"));
                        }
                        Err(KeyProblem::NotStr(key)) => {
                            problem = Some(format!(
                                "the root dict has a key that is {}, not a str",
                                graph.node(key).kind_name()
                            ))
                        }
                    }
                }
                (problem.map_or(Ok(keys), Err), values)
            }
            None => (
                Err(format!(
                    "the root is {}, not a dict",
                    graph.node(root).kind_name()
                )),
                HashMap::new(),
            ),
        };
        Ok(LazyFile {
            opened,
            policy,
            keys,
            values,
            strings: StrCache::default(),
            origin,
        })
    }

    /// Builds `node`, or the whole value if None.
    fn build<'py>(&self, py: Python<'py>, node: Option<NodeId>) -> PyResult<Bound<'py, PyAny>> {
        let policy = self.policy.bind(py).clone();
        match &self.opened {
            Opened::Local { reader, memory } => {
                let loader = Loader::new(py, reader, policy, memory)?.sharing_strings(&self.strings);
                match node {
                    Some(node) => loader.load_node(node),
                    None => loader.load(),
                }
            }
            Opened::Remote { url, reader } => load_prefetched(py, url, reader, node, policy),
        }
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
        let graph = self.opened.graph();
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
        self.build(py, Some(node))
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
        self.build(py, None)
    }

    /// One array of this file as a `dask.array.Array`: `amberfile.dask.from_amber` over the
    /// same file (its absolute path or URL, the same `verify` and storage options), where
    /// `key_or_path` is an entry's key or a CLI path such as `estimators_/3/tree_/nodes`.
    #[pyo3(signature = (key_or_path, chunks = None))]
    fn to_dask<'py>(
        &self,
        py: Python<'py>,
        key_or_path: &str,
        chunks: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (location, options) = &self.origin;
        let kwargs = options.bind(py).copy()?;
        kwargs.set_item("chunks", chunks)?;
        py.import("amberfile.dask")?
            .getattr("from_amber")?
            .call((location, key_or_path), Some(&kwargs))
    }
}

impl Opened {
    pub(crate) fn graph(&self) -> &Graph {
        match self {
            Opened::Local { reader, .. } => reader.graph(),
            Opened::Remote { reader, .. } => reader.graph(),
        }
    }

    pub(crate) fn root(&self) -> NodeId {
        match self {
            Opened::Local { reader, .. } => reader.root(),
            Opened::Remote { reader, .. } => reader.root(),
        }
    }
}
