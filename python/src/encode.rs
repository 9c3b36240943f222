//! Python objects to an Amber graph: the walk behind `dump` and `dumps`.
//!
//! The walk uses an explicit work list, so deep structures cannot overflow the stack. Every
//! object gets its node the first time it is met (memo by `id()`, as pickle does), so shared
//! references and cycles come out as reused node ids. Arrays are written to the `Writer` once the
//! whole graph is walked, straight from numpy's memory, so a walk that fails has written nothing
//! (a file object's `write` is never called).
//!
//! Any other object is written the way pickle's reduce protocol describes it: the callable by its
//! own qualified name, its arguments, the state, list and dict items (`_names.reduce_value`).
//! An object that cannot be written exactly fails the walk with `DumpError`, naming its type and
//! its path in the graph walked so far.
//!
//! The mapping of Python values to nodes is documented in `python/README.md`.

use std::collections::HashMap;
use std::io::Write;

use amberfile::{ArraySpec, Compression, DType, Graph, Node, NodeId, Order, Writer};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyComplex, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString,
    PyTuple,
};

use crate::buffer::array_bytes;
use crate::dtypes::{little_endian, to_amber};
use crate::errors::{dump_error, format_error};
use crate::limits::max_bigint_bytes;
use crate::names::{AS_MATRIX, BYTEARRAY, EXACT_ARRAY, MASKED_ARRAY, NUMPY_DTYPE, REDUCE_STATE};
use crate::paths::path_to;

/// Declares [`Helpers`] from one list: each field with the module and attribute path it is
/// looked up at.
macro_rules! helpers {
    ($($field:ident: $module:literal $(. $attr:ident)+,)+) => {
        /// Python-side helpers the walk needs, looked up once.
        struct Helpers<'py> {
            $($field: Bound<'py, PyAny>,)+
        }

        impl<'py> Helpers<'py> {
            fn new(py: Python<'py>) -> PyResult<Self> {
                Ok(Helpers {
                    $($field: py.import($module)? $(.getattr(stringify!($attr))?)+,)+
                })
            }
        }
    };
}

helpers! {
    ndarray: "numpy".ndarray,
    memmap: "numpy".memmap,
    masked_array: "numpy".ma.MaskedArray,
    masked_array_args: "amberfile._names".masked_array_args,
    matrix: "numpy".matrix,
    generic: "numpy".generic,
    np_dtype: "numpy".dtype,
    ascontiguousarray: "numpy".ascontiguousarray,
    asarray: "numpy".asarray,
    reduce_value: "amberfile._names".reduce_value,
    type_name: "amberfile._names".type_name,
    qualified_name: "amberfile._names".qualified_name,
    is_global: "amberfile._names".is_global,
    dtype_state: "amberfile._dtypes".dtype_state,
    exact_array_state: "amberfile._dtypes".exact_array_state,
}

/// Builds the graph of one object, writing its arrays as it goes.
pub(crate) struct Encoder<'py, 'w, W: Write> {
    py: Python<'py>,
    writer: &'w mut Writer<W>,
    compression: Compression,
    /// Write each array from a private copy (see [`Encoder::new`]).
    snapshot_arrays: bool,
    graph: Graph,
    memo: HashMap<usize, NodeId>,
    /// Every memoized object, so no id() is reused while the walk runs.
    keep_alive: Vec<Bound<'py, PyAny>>,
    pending: Vec<(Bound<'py, PyAny>, NodeId)>,
    /// Arrays met by the walk, written once it has succeeded: node, data to write, layout.
    arrays: Vec<(NodeId, Bound<'py, PyAny>, ArraySpec)>,
    helpers: Helpers<'py>,
    /// numpy dtype -> index in `dtypes`: a model's arrays share a few dtypes, and converting
    /// one takes several Python-level calls.
    dtype_index: Bound<'py, PyDict>,
    /// Each distinct numpy dtype's Amber dtype, and its little-endian twin if it is not one.
    dtypes: Vec<(DType, Option<Bound<'py, PyAny>>)>,
}

impl<'py, 'w, W: Write> Encoder<'py, 'w, W> {
    /// `snapshot_arrays` is for sinks that run Python code (a file object's `write`): that code
    /// may release the GIL while an array is being written, and another thread could then
    /// change or free numpy's memory under the writer, so each array is copied first.
    pub(crate) fn new(
        py: Python<'py>,
        writer: &'w mut Writer<W>,
        compression: Compression,
        snapshot_arrays: bool,
    ) -> PyResult<Self> {
        Ok(Encoder {
            py,
            writer,
            compression,
            snapshot_arrays,
            graph: Graph::new(),
            memo: HashMap::new(),
            keep_alive: Vec::new(),
            pending: Vec::new(),
            arrays: Vec::new(),
            helpers: Helpers::new(py)?,
            dtype_index: PyDict::new(py),
            dtypes: Vec::new(),
        })
    }

    /// Encodes `root` and everything it reaches, then writes the arrays; returns the finished
    /// graph.
    pub(crate) fn encode(mut self, root: &Bound<'py, PyAny>) -> PyResult<Graph> {
        let root_id = self.node_for(root);
        while let Some((obj, id)) = self.pending.pop() {
            if let Err(cause) = self.encode_object(&obj, id) {
                return Err(self.dump_error(root_id, &obj, id, cause));
            }
        }
        for (id, data, spec) in std::mem::take(&mut self.arrays) {
            self.write_array(id, &data, &spec)?;
        }
        self.graph.set_root(root_id);
        Ok(self.graph)
    }

    /// The DumpError for `obj` (node `id`): its path is read from the graph built so far, in
    /// which every node on the way from the root is already set.
    #[cold]
    fn dump_error(&self, root: NodeId, obj: &Bound<'py, PyAny>, id: NodeId, cause: PyErr) -> PyErr {
        let type_name = self
            .helpers
            .type_name
            .call1((obj,))
            .and_then(|name| name.extract::<String>())
            .unwrap_or_else(|_| "?".to_string());
        let path = path_to(&self.graph, root, id).unwrap_or_default();
        dump_error(self.py, &type_name, &path, cause)
    }

    /// The node of `obj`: the memoized one, or a new placeholder queued for encoding.
    fn node_for(&mut self, obj: &Bound<'py, PyAny>) -> NodeId {
        let key = obj.as_ptr() as usize;
        if let Some(&id) = self.memo.get(&key) {
            return id;
        }
        let id = self.graph.reserve();
        self.memo.insert(key, id);
        self.keep_alive.push(obj.clone());
        if !self.set_simple_key(obj, id) {
            self.pending.push((obj.clone(), id));
        }
        id
    }

    /// Sets the node of a str or small int at once: map keys are, and a DumpError's path must
    /// be able to name them before the walk gets to them. Anything else waits its turn.
    fn set_simple_key(&mut self, obj: &Bound<'py, PyAny>, id: NodeId) -> bool {
        if let Ok(s) = obj.cast_exact::<PyString>() {
            if let Ok(text) = s.to_str() {
                self.graph.set(id, Node::Str(text));
                return true;
            }
        } else if obj.is_exact_instance_of::<PyInt>() {
            if let Ok(small) = obj.extract::<i64>() {
                self.graph.set(id, Node::Int(small));
                return true;
            }
        }
        false
    }

    fn nodes_for(&mut self, items: impl IntoIterator<Item = Bound<'py, PyAny>>) -> Vec<NodeId> {
        items.into_iter().map(|item| self.node_for(&item)).collect()
    }

    fn encode_object(&mut self, obj: &Bound<'py, PyAny>, id: NodeId) -> PyResult<()> {
        if obj.is_none() {
            return Ok(()); // The placeholder already is a None node.
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            self.graph.set(id, Node::Bool(b.is_true()));
        } else if obj.is_exact_instance_of::<PyInt>() {
            match obj.extract::<i64>() {
                Ok(small) => self.graph.set(id, Node::Int(small)),
                Err(_) => {
                    let bytes = big_int_bytes(obj)?;
                    self.graph.set(id, Node::BigInt(&bytes));
                }
            }
        } else if obj.is_exact_instance_of::<PyFloat>() {
            self.graph.set(id, Node::Float(obj.extract()?));
        } else if let Ok(c) = obj.cast_exact::<PyComplex>() {
            self.graph.set(id, Node::Complex(c.real(), c.imag()));
        } else if let Ok(s) = obj.cast_exact::<PyString>() {
            self.graph.set(id, Node::Str(s.to_str()?));
        } else if let Ok(b) = obj.cast_exact::<PyBytes>() {
            self.graph.set(id, Node::Bytes(b.as_bytes()));
        } else if let Ok(b) = obj.cast_exact::<PyByteArray>() {
            let bytes = self.graph.add(Node::Bytes(&b.to_vec()));
            let args = self.graph.add(Node::Tuple(&[bytes]));
            self.graph.set(
                id,
                Node::Object {
                    type_name: BYTEARRAY,
                    args: Some(args),
                    state: None,
                },
            );
        } else if let Ok(list) = obj.cast_exact::<PyList>() {
            let items = self.nodes_for(list.iter());
            self.graph.set(id, Node::List(&items));
        } else if let Ok(tuple) = obj.cast_exact::<PyTuple>() {
            let items = self.nodes_for(tuple.iter());
            self.graph.set(id, Node::Tuple(&items));
        } else if let Ok(dict) = obj.cast_exact::<PyDict>() {
            let entries: Vec<[NodeId; 2]> = dict
                .iter()
                .map(|(k, v)| [self.node_for(&k), self.node_for(&v)])
                .collect();
            self.graph.set(id, Node::Map(&entries));
        } else if let Ok(set) = obj.cast_exact::<PySet>() {
            let items = deterministic_order(set.iter().collect())?;
            let items = self.nodes_for(items);
            self.graph.set(id, Node::Set(&items));
        } else if let Ok(set) = obj.cast_exact::<PyFrozenSet>() {
            let items = deterministic_order(set.iter().collect())?;
            let items = self.nodes_for(items);
            self.graph.set(id, Node::FrozenSet(&items));
        } else if obj.is_exact_instance(&self.helpers.ndarray) || obj.is_instance(&self.helpers.memmap)? {
            // A plain dtype without metadata is stored exactly (its byte order aside, which
            // unpickling drops too): only records and metadata need `_dtypes`' closer look.
            let dtype = obj.getattr("dtype")?;
            let plain = dtype.getattr("names")?.is_none() && dtype.getattr("metadata")?.is_none();
            let exact = if plain {
                None
            } else {
                Some(self.helpers.exact_array_state.call1((obj,))?).filter(|state| !state.is_none())
            };
            match exact {
                None => self.encode_array(obj, id)?,
                Some(state) => {
                    let state = self.node_for(&state);
                    self.set_object(id, EXACT_ARRAY, None, Some(state));
                }
            }
        } else if obj.is_instance(&self.helpers.masked_array)? {
            let args = self.helpers.masked_array_args.call1((obj,))?;
            let args = self.node_for(&args);
            self.set_object(id, MASKED_ARRAY, Some(args), None);
        } else if obj.is_exact_instance(&self.helpers.matrix) {
            let array = self.helpers.asarray.call1((obj,))?;
            let args = self.node_for(PyTuple::new(self.py, [array])?.as_any());
            self.set_object(id, AS_MATRIX, Some(args), None);
        } else if obj.is_instance(&self.helpers.ndarray)? {
            // Any other subclass would silently lose what makes it one.
            return Err(PyTypeError::new_err(format!(
                "cannot dump the ndarray subclass {}; convert it with numpy.asarray first",
                obj.get_type().name()?
            )));
        } else if obj.is_instance(&self.helpers.generic)? {
            // A numpy scalar: its type by name, its value as a 0-d array.
            // Named after the type numpy gives back for the array's dtype (np.longlong and
            // np.int64 share one dtype), so the loader can check the two agree.
            let mut array = self.helpers.asarray.call1((obj,))?;
            let dtype = array.getattr("dtype")?;
            if "iu".contains(dtype.getattr("kind")?.extract::<char>()?) {
                array = array.call_method1("astype", (dtype.getattr("str")?,))?;
            }
            // Checked here, so that a DumpError names the scalar rather than its array.
            self.amber_dtype(&dtype)?;
            let canonical = array.get_item(PyTuple::empty(self.py))?;
            let type_name = self.qualified_name(&canonical.get_type().into_any())?;
            let state = self.node_for(&array);
            self.set_object(id, &type_name, None, Some(state));
        } else if obj.is_instance(&self.helpers.np_dtype)? {
            self.encode_dtype(obj, id)?;
        } else if self.helpers.is_global.call1((obj,))?.is_truthy()? {
            let name = self.qualified_name(obj)?;
            self.graph.set(id, Node::Global(&name));
        } else {
            self.encode_reduced(obj, id)?;
        }
        Ok(())
    }

    fn qualified_name(&self, obj: &Bound<'py, PyAny>) -> PyResult<String> {
        self.helpers.qualified_name.call1((obj,))?.extract()
    }

    fn set_object(&mut self, id: NodeId, type_name: &str, args: Option<NodeId>, state: Option<NodeId>) {
        self.graph.set(
            id,
            Node::Object {
                type_name,
                args,
                state,
            },
        );
    }

    /// np.dtype objects: an empty array of that dtype carries it, with what the format's dtype
    /// table cannot say (`_dtypes.dtype_state`). The object dtype, which no array in the table
    /// may have, is spelled as the string "object".
    fn encode_dtype(&mut self, obj: &Bound<'py, PyAny>, id: NodeId) -> PyResult<()> {
        let kind: String = obj.getattr("kind")?.extract()?;
        if kind == "O" {
            let name = self.graph.add(Node::Str("object"));
            let args = self.graph.add(Node::Tuple(&[name]));
            self.set_object(id, NUMPY_DTYPE, Some(args), None);
            return Ok(());
        }
        // Checked here, so that a DumpError names the dtype rather than the array carrying it.
        let subdtype = obj.getattr("subdtype")?;
        let base = if subdtype.is_none() {
            obj.clone()
        } else {
            subdtype.get_item(0)?
        };
        self.amber_dtype(&base)?;
        let state = self.helpers.dtype_state.call1((obj,))?;
        let state = self.node_for(&state);
        self.set_object(id, NUMPY_DTYPE, None, Some(state));
        Ok(())
    }

    fn encode_array(&mut self, obj: &Bound<'py, PyAny>, id: NodeId) -> PyResult<()> {
        let array = obj.cast::<PyUntypedArray>()?;
        let descr = obj.getattr("dtype")?;
        let kind: String = descr.getattr("kind")?.extract()?;
        let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
        if kind == "O" {
            let flat = obj.call_method1("reshape", (-1,))?;
            let items: Vec<Bound<'py, PyAny>> = flat.try_iter()?.collect::<PyResult<_>>()?;
            let items = self.nodes_for(items);
            self.graph.set(
                id,
                Node::ObjectArray {
                    order: Order::C,
                    shape: &shape,
                    items: &items,
                },
            );
            return Ok(());
        }
        // Big-endian data is converted once; so is any layout that is neither C nor F.
        let (dtype, little) = self.amber_dtype(&descr)?;
        let mut data = obj.clone();
        if let Some(little) = little {
            data = data.call_method1("astype", (little,))?;
        }
        let as_array = data.cast::<PyUntypedArray>()?;
        if !(as_array.is_c_contiguous() || as_array.is_fortran_contiguous()) {
            data = self.helpers.ascontiguousarray.call1((&data,))?;
        }
        let as_array = data.cast::<PyUntypedArray>()?;
        let order = if as_array.is_c_contiguous() {
            Order::C
        } else {
            Order::F
        };
        self.arrays.push((id, data, ArraySpec { dtype, shape, order }));
        Ok(())
    }

    fn write_array(&mut self, id: NodeId, data: &Bound<'py, PyAny>, spec: &ArraySpec) -> PyResult<()> {
        let bytes = array_bytes(data.cast::<PyUntypedArray>()?)?;
        let snapshot;
        let bytes = if self.snapshot_arrays {
            snapshot = bytes.to_vec();
            &snapshot[..]
        } else {
            bytes
        };
        let array_id = self
            .writer
            .write_array_with(spec, bytes, self.compression)
            .map_err(|e| format_error(self.py, &e))?;
        self.graph.set(id, Node::Array(array_id));
        Ok(())
    }

    /// The Amber dtype of numpy dtype `descr` (byte order aside), and the little-endian dtype
    /// to convert to first if `descr` is not little-endian.
    fn amber_dtype(&mut self, descr: &Bound<'py, PyAny>) -> PyResult<(DType, Option<Bound<'py, PyAny>>)> {
        if let Some(index) = self.dtype_index.get_item(descr)? {
            return Ok(self.dtypes[index.extract::<usize>()?].clone());
        }
        let converted = (to_amber(descr)?, little_endian(descr)?);
        self.dtype_index.set_item(descr, self.dtypes.len())?;
        self.dtypes.push(converted.clone());
        Ok(converted)
    }

    /// Any other object, as pickle reduces it (see `_names.reduce_value`).
    fn encode_reduced(&mut self, obj: &Bound<'py, PyAny>, id: NodeId) -> PyResult<()> {
        let reduced = self.helpers.reduce_value.call1((obj,))?;
        if let Ok(name) = reduced.cast::<PyString>() {
            // A module-level singleton.
            self.graph.set(id, Node::Global(name.to_str()?));
            return Ok(());
        }
        type Parts<'py> = (
            String,
            Option<Bound<'py, PyTuple>>,
            Option<Bound<'py, PyAny>>,
            Option<Vec<Bound<'py, PyAny>>>,
            Option<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
        );
        let (type_name, args, state, list_items, dict_items): Parts<'py> = reduced.extract()?;
        let args_id = args.map(|tuple| self.node_for(tuple.as_any()));
        let state_id = if list_items.is_some() || dict_items.is_some() {
            let inner = state.map(|s| self.node_for(&s));
            let inner = inner.unwrap_or_else(|| self.graph.add(Node::None));
            let items = self.nodes_for(list_items.unwrap_or_default());
            let list = self.graph.add(Node::List(&items));
            let mut entries = Vec::new();
            for (key, value) in dict_items.unwrap_or_default() {
                entries.push([self.node_for(&key), self.node_for(&value)]);
            }
            let map = self.graph.add(Node::Map(&entries));
            let tuple = self.graph.add(Node::Tuple(&[inner, list, map]));
            Some(self.graph.add(Node::Object {
                type_name: REDUCE_STATE,
                args: None,
                state: Some(tuple),
            }))
        } else {
            state.map(|s| self.node_for(&s))
        };
        self.set_object(id, &type_name, args_id, state_id);
        Ok(())
    }
}

/// Minimal two's-complement little-endian bytes of an int outside i64.
fn big_int_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let negative = value.lt(0)?;
    let magnitude = if negative {
        value.call_method0("__invert__")?
    } else {
        value.clone()
    };
    let bits: usize = magnitude.call_method0("bit_length")?.extract()?;
    let len = bits / 8 + 1;
    let max_len = max_bigint_bytes();
    if len > max_len {
        return Err(PyValueError::new_err(format!(
            "int of {bits} bits is larger than the format's {max_len}-byte limit"
        )));
    }
    let kwargs = PyDict::new(value.py());
    kwargs.set_item("signed", true)?;
    let bytes = value.call_method("to_bytes", (len, "little"), Some(&kwargs))?;
    Ok(bytes.cast_into::<PyBytes>()?.as_bytes().to_vec())
}

/// Set items in an order that does not depend on hash randomization: sorted by type name and
/// `repr` when every item is a plain value (whose repr is deterministic), else as iterated.
fn deterministic_order(items: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<Bound<'_, PyAny>>> {
    if !items.iter().all(is_plain_value) {
        return Ok(items);
    }
    let mut keyed = items
        .into_iter()
        .map(|item| {
            let type_name = item.get_type().name()?.to_string();
            let repr = item.repr()?.to_string();
            Ok(((type_name, repr), item))
        })
        .collect::<PyResult<Vec<_>>>()?;
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, item)| item).collect())
}

/// Nesting of tuples inside a set item beyond which its order is left as iterated.
const MAX_PLAIN_DEPTH: u32 = 16;

fn is_plain_value(item: &Bound<'_, PyAny>) -> bool {
    is_plain_at_depth(item, 0)
}

fn is_plain_at_depth(item: &Bound<'_, PyAny>, depth: u32) -> bool {
    item.is_none()
        || item.is_exact_instance_of::<PyBool>()
        || item.is_exact_instance_of::<PyInt>()
        || item.is_exact_instance_of::<PyFloat>()
        || item.is_exact_instance_of::<PyComplex>()
        || item.is_exact_instance_of::<PyString>()
        || item.is_exact_instance_of::<PyBytes>()
        || item
            .cast_exact::<PyTuple>()
            .is_ok_and(|t| all_plain(t.iter(), depth))
        || item
            .cast_exact::<PyFrozenSet>()
            .is_ok_and(|s| all_plain(s.iter(), depth))
}

fn all_plain<'py>(mut items: impl Iterator<Item = Bound<'py, PyAny>>, depth: u32) -> bool {
    depth < MAX_PLAIN_DEPTH && items.all(|i| is_plain_at_depth(&i, depth + 1))
}
