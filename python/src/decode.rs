//! An Amber graph to Python objects: the walk behind `load` and `loads`.
//!
//! Before anything is built, [`type_names`] lists every type and global name reachable from the
//! root and the Python policy rejects the file if any is untrusted. The build itself runs on an
//! explicit stack (no recursion on the file's depth) in three steps per node, as pickle does:
//! - *visit*: the node's "pre" children (tuple items, constructor args) are built first;
//! - *create*: the object is made (mutable containers and instances empty) and memoized, so
//!   every later reference gets the same object and cycles through mutable values close;
//! - *fill*: list/dict/set items and instance state are put in. A fill whose children are still
//!   being built (a cycle through a tuple) is deferred until everything else exists.
//!
//! A cycle through immutable values only (a tuple containing itself) cannot be built and is
//! reported as InvalidGraph, as the spec recommends.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Mutex;

use amberfile::{ArrayId, ByteSource, DType, Graph, Node, NodeId, Order, Reader};
use numpy::PyArrayDescr;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyComplex, PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple};

use crate::ahead;
use crate::buffer::{new_array_filled, view_of, FileBuffer};
use crate::dtypes::NumpyDtypes;
use crate::errors::{allocation_failed, format_error, invalid_graph, limit_exceeded, state_error};
use crate::limits::{MAX_IMMUTABLE_DEPTH, MAX_KEYS_PER_HASH, MAX_RECURSIVE_FREE_DEPTH};
use crate::names::{BYTEARRAY, EXACT_ARRAY, NUMPY_DTYPE, RECONSTRUCTORS, REDUCE_STATE};
use crate::paths::path_to;

/// Arrays from this size up are copied or decoded with the GIL released.
const DETACH_BYTES: usize = 1 << 20;

/// Every type and global name reachable from `root`, sorted, without duplicates.
pub(crate) fn type_names(graph: &Graph, root: NodeId) -> Vec<String> {
    let mut names: Vec<String> = graph.type_names(root).into_iter().map(str::to_owned).collect();
    names.sort_unstable();
    names
}

/// Where loaded arrays get their memory.
pub(crate) enum ArrayMemory {
    /// Each array is copied (or decoded) into memory it owns: writable.
    Copy,
    /// Raw arrays are read-only views of the mapped file; compressed ones are decoded unless
    /// `require_zero_copy`, which makes them an error.
    Mapped {
        buffer: Py<FileBuffer>,
        require_zero_copy: bool,
    },
    /// Raw arrays are writable views of a private copy-on-write mapping.
    CopyOnWrite { buffer: Py<FileBuffer> },
}

/// A node's children at one step of the build, borrowed from the graph: a run of the node
/// table (items, entries) or an object's args and state. The build asks for them several
/// times per node, so they are never collected.
#[derive(Clone, Copy)]
struct Children<'r> {
    run: &'r [NodeId],
    pair: [Option<NodeId>; 2],
}

impl<'r> Children<'r> {
    const NONE: Children<'static> = Children {
        run: &[],
        pair: [None, None],
    };

    fn run(run: &'r [NodeId]) -> Self {
        Children {
            run,
            pair: [None, None],
        }
    }

    fn pair(first: Option<NodeId>, second: Option<NodeId>) -> Self {
        Children {
            run: &[],
            pair: [first, second],
        }
    }

    fn iter(self) -> impl DoubleEndedIterator<Item = NodeId> + 'r {
        self.run.iter().copied().chain(self.pair.into_iter().flatten())
    }

    fn is_empty(self) -> bool {
        self.run.is_empty() && self.pair.iter().all(Option::is_none)
    }
}

enum Step {
    Visit { id: NodeId, needed_now: bool },
    Create(NodeId),
    Fill(NodeId),
}

/// Builds the Python value of a validated file.
pub(crate) struct Loader<'py, 'r, S> {
    py: Python<'py>,
    reader: &'r Reader<S>,
    policy: Bound<'py, PyAny>,
    memory: &'r ArrayMemory,
    dtypes: NumpyDtypes<'py>,
    numpy: Bound<'py, PyModule>,
    memo: Vec<Option<Bound<'py, PyAny>>>,
    in_progress: Vec<bool>,
    /// Built, but its items or state are not filled in yet.
    fill_pending: Vec<bool>,
    /// Nesting depth of each built tuple or frozenset (0 for other nodes).
    immutable_depth: Vec<u32>,
    /// Per node, the longest chain below it of values freed recursively (see
    /// [`MAX_RECURSIVE_FREE_DEPTH`]).
    free_depth: Vec<u32>,
    own_strings: StrCache,
    /// Strings shared with other loads of the same file (a lazy file's entries).
    shared_strings: Option<&'r StrCache>,
    /// Whether each node has exactly one parent (so only that parent ever sees its value).
    single_use: Vec<bool>,
    /// The node being built, from which an error's graph path is worked out.
    root: NodeId,
}

impl<'py, 'r, S: ByteSource + Sync> Loader<'py, 'r, S> {
    pub(crate) fn new(
        py: Python<'py>,
        reader: &'r Reader<S>,
        policy: Bound<'py, PyAny>,
        memory: &'r ArrayMemory,
    ) -> PyResult<Self> {
        let count = reader.graph().len();
        Ok(Loader {
            py,
            reader,
            policy,
            memory,
            dtypes: NumpyDtypes::new(py),
            numpy: py.import("numpy")?,
            memo: vec![None; count],
            in_progress: vec![false; count],
            fill_pending: vec![false; count],
            immutable_depth: vec![0; count],
            free_depth: vec![0; count],
            own_strings: StrCache::default(),
            shared_strings: None,
            single_use: Vec::new(),
            root: reader.root(),
        })
    }

    /// Takes strs from `strings` and leaves the ones it builds there, for later loads.
    pub(crate) fn sharing_strings(mut self, strings: &'r StrCache) -> Self {
        self.shared_strings = Some(strings);
        self
    }

    /// Checks the names against the policy, then builds the root value.
    pub(crate) fn load(self) -> PyResult<Bound<'py, PyAny>> {
        let root = self.reader.root();
        self.load_node(root)
    }

    /// Checks the names reachable from `root` against the policy, then builds its value.
    pub(crate) fn load_node(mut self, root: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let graph = self.reader.graph();
        self.policy.call_method1("check", (type_names(graph, root),))?;
        self.root = root;
        // How many times a parent's create or fill uses each node: its references, since
        // `before_create` and `after_create` between them list exactly a node's children.
        let uses = graph.incoming_counts(root);
        self.single_use = uses.iter().map(|&n| n == 1).collect();
        let reader = self.reader;
        let check_ahead = match self.memory {
            ArrayMemory::Copy => ahead::arrays_to_check(reader, root),
            _ => Vec::new(),
        };
        let py = self.py;
        let tree_error = |tree: NodeId, cause: PyErr| state_error_at(py, graph, root, tree, cause);
        ahead::with_helper(reader, &check_ahead, tree_error, move || self.build(root, uses))
    }

    /// Builds the value of `root`, whose nodes' `uses` are their [`Graph::incoming_counts`].
    fn build(mut self, root: NodeId, mut uses: Vec<u32>) -> PyResult<Bound<'py, PyAny>> {
        let mut steps = vec![Step::Visit {
            id: root,
            needed_now: true,
        }];
        let mut deferred = Vec::new();
        while let Some(step) = steps.pop() {
            match step {
                Step::Visit { id, needed_now } => {
                    if self.memo[id.index()].is_some() {
                        continue;
                    }
                    if self.in_progress[id.index()] {
                        if needed_now {
                            return Err(invalid_graph(
                                self.py,
                                &format!("node {} is part of a cycle through immutable values", id.index()),
                            ));
                        }
                        continue; // The fill that wants it is deferred until it exists.
                    }
                    self.in_progress[id.index()] = true;
                    steps.push(Step::Create(id));
                    steps.extend(
                        self.before_create(id)
                            .iter()
                            .rev()
                            .map(|id| Step::Visit { id, needed_now: true }),
                    );
                }
                Step::Create(id) => {
                    let object = self.create(id)?;
                    self.memo[id.index()] = Some(object);
                    self.in_progress[id.index()] = false;
                    self.release(&mut uses, root, self.before_create(id));
                    let after = self.after_create(id);
                    if !after.is_empty() {
                        self.fill_pending[id.index()] = true;
                        steps.push(Step::Fill(id));
                        steps.extend(after.iter().rev().map(|id| Step::Visit {
                            id,
                            needed_now: false,
                        }));
                    }
                }
                Step::Fill(id) => {
                    if self
                        .after_create(id)
                        .iter()
                        .all(|c| self.memo[c.index()].is_some())
                    {
                        self.fill(id)?;
                        self.fill_pending[id.index()] = false;
                        self.release(&mut uses, root, self.after_create(id));
                    } else {
                        deferred.push(id);
                    }
                }
            }
        }
        for id in deferred {
            self.fill(id)?;
        }
        Ok(self.built(root))
    }

    /// Marks `children` as used once more; a child whose every parent has used it is dropped
    /// from the memo, so a transient value (a tree's node array, copied by the tree's own
    /// `__setstate__`) is freed at once and its memory reused, not held to the end.
    fn release(&mut self, uses: &mut [u32], root: NodeId, children: Children<'r>) {
        for child in children.iter() {
            let left = &mut uses[child.index()];
            *left = left.saturating_sub(1);
            // A node whose fill was deferred (a cycle through a tuple) is still needed by it.
            if *left == 0 && child != root && !self.fill_pending[child.index()] {
                self.memo[child.index()] = None;
            }
        }
    }

    fn graph(&self) -> &'r Graph {
        self.reader.graph()
    }

    fn built(&self, id: NodeId) -> Bound<'py, PyAny> {
        // Every child is built before its parent uses it; a miss would be a bug in the walk.
        self.memo[id.index()]
            .clone()
            .unwrap_or_else(|| self.py.None().into_bound(self.py))
    }

    fn built_checked(&self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        self.memo[id.index()].clone().ok_or_else(|| {
            invalid_graph(
                self.py,
                &format!("node {} is needed before it exists", id.index()),
            )
        })
    }

    /// Objects rebuilt from their parts in one go (no separate state step).
    fn is_built_from_parts(&self, type_name: &str, args: Option<NodeId>, state: Option<NodeId>) -> bool {
        matches!(type_name, NUMPY_DTYPE | BYTEARRAY | REDUCE_STATE | EXACT_ARRAY)
            || self.is_numpy_scalar(type_name, args, state)
    }

    fn is_numpy_scalar(&self, type_name: &str, args: Option<NodeId>, state: Option<NodeId>) -> bool {
        type_name.starts_with("numpy.")
            && args.is_none()
            && state.is_some_and(|s| match self.graph().node(s) {
                Node::Array(_) => true,
                // A record scalar whose fields are not all little-endian.
                Node::Object { type_name, .. } => type_name == EXACT_ARRAY,
                _ => false,
            })
    }

    /// The children built before node `id` is created (and held by it from the start).
    fn before_create(&self, id: NodeId) -> Children<'r> {
        match self.graph().node(id) {
            Node::Tuple(items) | Node::FrozenSet(items) => Children::run(items),
            Node::Object {
                type_name,
                args,
                state,
            } if self.is_built_from_parts(type_name, args, state) => Children::pair(args, state),
            Node::Object { args, .. } => Children::pair(args, None),
            _ => Children::NONE,
        }
    }

    /// The children put into node `id` after it is created (items, entries, state).
    fn after_create(&self, id: NodeId) -> Children<'r> {
        match self.graph().node(id) {
            Node::List(items) | Node::Set(items) => Children::run(items),
            Node::ObjectArray { items, .. } => Children::run(items),
            Node::Map(entries) => Children::run(entries.as_flattened()),
            Node::Object {
                type_name,
                args,
                state,
            } if !self.is_built_from_parts(type_name, args, state) => Children::pair(state, None),
            _ => Children::NONE,
        }
    }

    fn create(&mut self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        self.check_free_depth(id, self.before_create(id))?;
        if let Node::Tuple(items) | Node::FrozenSet(items) = self.graph().node(id) {
            let depth = 1 + items
                .iter()
                .map(|c| self.immutable_depth[c.index()])
                .max()
                .unwrap_or(0);
            if depth > MAX_IMMUTABLE_DEPTH {
                return Err(invalid_graph(
                    py,
                    &format!(
                        "tuples nested deeper than {MAX_IMMUTABLE_DEPTH} at node {}",
                        id.index()
                    ),
                ));
            }
            self.immutable_depth[id.index()] = depth;
        }
        Ok(match self.graph().node(id) {
            Node::None => py.None().into_bound(py),
            Node::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            Node::Int(i) => i.into_pyobject(py)?.into_any(),
            Node::BigInt(bytes) => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("signed", true)?;
                py.get_type::<pyo3::types::PyInt>().call_method(
                    "from_bytes",
                    (PyBytes::new(py, bytes), "little"),
                    Some(&kwargs),
                )?
            }
            Node::Float(f) => f.into_pyobject(py)?.into_any(),
            Node::Complex(re, im) => PyComplex::from_doubles(py, re, im).into_any(),
            Node::Str(s) => self
                .shared_strings
                .unwrap_or(&self.own_strings)
                .get(py, s)?
                .into_any(),
            Node::Bytes(b) => PyBytes::new_with(py, b.len(), |out| {
                out.copy_from_slice(b);
                Ok(())
            })
            .map_err(|e| allocation_failed(py, "a bytes value", e))?
            .into_any(),
            Node::List(_) => PyList::empty(py).into_any(),
            Node::Set(_) => PySet::empty(py)?.into_any(),
            Node::Map(_) => PyDict::new(py).into_any(),
            Node::Tuple(items) => PyTuple::new(py, items.iter().map(|&c| self.built(c)))?.into_any(),
            Node::FrozenSet(items) => {
                self.check_hash_spread(id, items.iter().copied())?;
                let built: Vec<_> = items.iter().map(|&c| self.built(c)).collect();
                let set = PyFrozenSet::new(py, &built).map_err(|e| self.unbuildable(id, e))?;
                if set.len() != items.len() {
                    return Err(invalid_graph(
                        py,
                        &format!("frozenset node {} has equal items", id.index()),
                    ));
                }
                set.into_any()
            }
            Node::Array(array) => self.array(array)?,
            Node::ObjectArray { order, shape, .. } => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("dtype", "object")?;
                kwargs.set_item("order", order_name(order))?;
                self.numpy
                    .getattr("empty")?
                    .call((PyTuple::new(py, shape)?,), Some(&kwargs))
                    .map_err(|e| allocation_failed(py, "an object array", e))?
            }
            Node::Object {
                type_name,
                args,
                state,
            } => self.create_object(id, type_name, args, state)?,
            Node::Global(name) => self.policy.call_method1("resolve", (name,))?,
        })
    }

    fn create_object(
        &mut self,
        id: NodeId,
        type_name: &str,
        args: Option<NodeId>,
        state: Option<NodeId>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let bad = |what: &str| invalid_graph(py, &format!("{type_name} node {}: {what}", id.index()));
        let is_scalar = self.is_numpy_scalar(type_name, args, state);
        let args = match args.map(|a| self.built(a)) {
            Some(a) => Some(
                a.cast_into::<PyTuple>()
                    .map_err(|_| bad("args are not a tuple"))?,
            ),
            None => None,
        };
        match type_name {
            NUMPY_DTYPE => match (args, state) {
                (Some(args), None) if args.len() == 1 && args.get_item(0)?.eq("object")? => {
                    self.numpy.getattr("dtype")?.call1(("O",))
                }
                (None, Some(state)) if matches!(self.graph().node(state), Node::Array(_)) => {
                    self.built(state).getattr("dtype")
                }
                // What the dtype table cannot say: byte orders, a sub-array shape, metadata.
                (None, Some(state)) if matches!(self.graph().node(state), Node::Tuple(_)) => self
                    .dtypes_helper("exact_dtype")?
                    .call1(self.built(state).cast_into::<PyTuple>()?)
                    .map_err(|cause| self.state_error(id, cause)),
                _ => Err(bad("expected an empty array, a tuple or ('object',)")),
            },
            EXACT_ARRAY => match (args, state) {
                (None, Some(state)) => self
                    .dtypes_helper("exact_array")?
                    .call1((self.built(state),))
                    .map_err(|cause| self.state_error(id, cause)),
                _ => Err(bad("expected a state and no args")),
            },
            BYTEARRAY => {
                let bytes = args
                    .filter(|a| a.len() == 1)
                    .and_then(|a| a.get_item(0).ok())
                    .and_then(|b| b.cast_into::<PyBytes>().ok())
                    .ok_or_else(|| bad("expected (bytes,)"))?;
                let copy = PyByteArray::new_with(py, bytes.as_bytes().len(), |out| {
                    out.copy_from_slice(bytes.as_bytes());
                    Ok(())
                });
                Ok(copy
                    .map_err(|e| allocation_failed(py, "a bytearray", e))?
                    .into_any())
            }
            REDUCE_STATE => {
                let parts = state
                    .map(|s| self.built(s))
                    .and_then(|s| s.cast_into::<PyTuple>().ok())
                    .filter(|t| t.len() == 3)
                    .ok_or_else(|| bad("expected a (state, list items, dict items) tuple"))?;
                Ok(parts.into_any())
            }
            _ if is_scalar => {
                let array = self.built(state.unwrap_or(id));
                let ndim: usize = array.getattr("ndim")?.extract()?;
                if ndim != 0 {
                    return Err(bad("a numpy scalar needs a 0-d array"));
                }
                let scalar = array.get_item(PyTuple::empty(py))?;
                let actual: String = py
                    .import("amberfile._names")?
                    .getattr("qualified_name")?
                    .call1((scalar.get_type(),))?
                    .extract()?;
                if actual != type_name {
                    return Err(bad(&format!("the array holds a {actual}")));
                }
                Ok(scalar)
            }
            _ => {
                if RECONSTRUCTORS.contains(&type_name) && !self.first_arg_is_global(id) {
                    return Err(bad("a reconstructor's first argument must be a global"));
                }
                let target = self.policy.call_method1("resolve", (type_name,));
                let has_state = state.is_some();
                target
                    .and_then(|target| {
                        self.policy
                            .call_method1("construct", (type_name, target, args, has_state))
                    })
                    .map_err(|cause| self.state_error(id, cause))
            }
        }
    }

    fn dtypes_helper(&self, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.py.import("amberfile._dtypes")?.getattr(name)
    }

    /// Whether object node `id`'s args are a tuple whose first item is a `global` node: the
    /// class a reconstructor makes an instance of must be a name the policy checked.
    fn first_arg_is_global(&self, id: NodeId) -> bool {
        let Node::Object { args: Some(args), .. } = self.graph().node(id) else {
            return false;
        };
        matches!(self.graph().node(args), Node::Tuple(items)
            if items.first().is_some_and(|&first| matches!(self.graph().node(first), Node::Global(_))))
    }

    fn fill(&mut self, id: NodeId) -> PyResult<()> {
        let py = self.py;
        let object = self.built_checked(id)?;
        self.check_free_depth(id, self.after_create(id))?;
        match self.graph().node(id) {
            Node::List(items) => {
                let list = object.cast::<PyList>()?;
                for &item in items {
                    list.append(self.built_checked(item)?)?;
                }
            }
            Node::Set(items) => {
                let set = object.cast::<PySet>()?;
                self.check_hash_spread(id, items.iter().copied())?;
                for &item in items {
                    set.add(self.built_checked(item)?)
                        .map_err(|e| self.unbuildable(id, e))?;
                }
                if set.len() != items.len() {
                    return Err(invalid_graph(
                        py,
                        &format!("set node {} has equal items", id.index()),
                    ));
                }
            }
            Node::Map(entries) => {
                let dict = object.cast::<PyDict>()?;
                self.check_hash_spread(id, entries.iter().map(|&[key, _]| key))?;
                for &[key, value] in entries {
                    dict.set_item(self.built_checked(key)?, self.built_checked(value)?)
                        .map_err(|e| self.unbuildable(id, e))?;
                }
                if dict.len() != entries.len() {
                    return Err(invalid_graph(
                        py,
                        &format!("map node {} has equal keys", id.index()),
                    ));
                }
            }
            Node::ObjectArray { order, items, .. } => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("order", order_name(order))?;
                let flat = object.call_method("reshape", (-1,), Some(&kwargs))?;
                for (i, &item) in items.iter().enumerate() {
                    flat.set_item(i, self.built_checked(item)?)?;
                }
            }
            Node::Object {
                state: Some(state), ..
            } => {
                let with_items = matches!(
                    self.graph().node(state),
                    Node::Object {
                        type_name: REDUCE_STATE,
                        ..
                    }
                );
                let state_value = self.built_checked(state)?;
                let arrays = self.arrays_only_in_state(state, &state_value);
                ahead::lend_state_arrays(id, arrays, || {
                    self.policy
                        .call_method1("set_state", (object, state_value, with_items))
                })
                .map_err(|cause| self.state_error(id, cause))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The arrays copied from the file that only the state dict `state` (built as `value`)
    /// holds, where nothing else refers to that dict either: until the instance's
    /// `__setstate__`, no code but the dict's own filling has touched them, so their bytes are
    /// still the file's. Empty unless the load has a helper thread.
    fn arrays_only_in_state(
        &self,
        state: NodeId,
        value: &Bound<'py, PyAny>,
    ) -> Vec<(Bound<'py, PyAny>, ArrayId)> {
        let Node::Map(entries) = self.graph().node(state) else {
            return Vec::new();
        };
        // Raw only: the helper checks the file's bytes in place.
        let copied_alone = |node: NodeId| match self.graph().node(node) {
            Node::Array(array)
                if self.single_use[node.index()]
                    && self.reader.array_info(array).is_ok_and(|info| info.is_raw()) =>
            {
                Some(array)
            }
            _ => None,
        };
        if !ahead::has_helper()
            || !self.single_use[state.index()]
            || !matches!(self.memory, ArrayMemory::Copy)
            || !entries.iter().any(|&[_, v]| copied_alone(v).is_some())
        {
            return Vec::new();
        }
        let Ok(dict) = value.cast::<PyDict>() else {
            return Vec::new();
        };
        // The dict was filled from `entries` in order, every key new (else the fill failed).
        entries
            .iter()
            .zip(dict.values())
            .filter_map(|(&[_, v], object)| copied_alone(v).map(|array| (object, array)))
            .collect()
    }

    /// Records how deep node `id` nests values freed recursively, given the `children` it is
    /// about to hold, and fails before it would nest them too deep.
    fn check_free_depth(&mut self, id: NodeId, children: Children<'r>) -> PyResult<()> {
        let own = u32::from(matches!(
            self.graph().node(id),
            Node::ObjectArray { .. } | Node::Object { .. }
        ));
        let below = children
            .iter()
            .map(|c| self.free_depth[c.index()])
            .max()
            .unwrap_or(0);
        let depth = (below + own).max(self.free_depth[id.index()]);
        if depth > MAX_RECURSIVE_FREE_DEPTH {
            return Err(limit_exceeded(
                self.py,
                &format!(
                    "object arrays or typed objects nested deeper than {MAX_RECURSIVE_FREE_DEPTH} at node {}",
                    id.index()
                ),
            ));
        }
        self.free_depth[id.index()] = depth;
        Ok(())
    }

    /// Fails if more than [`MAX_KEYS_PER_HASH`] of the built `keys` of node `id` share a hash,
    /// before any is inserted.
    fn check_hash_spread(&self, id: NodeId, keys: impl ExactSizeIterator<Item = NodeId>) -> PyResult<()> {
        if keys.len() <= MAX_KEYS_PER_HASH {
            return Ok(());
        }
        let mut per_hash: HashMap<isize, usize> = HashMap::new();
        for key in keys {
            let hash = self
                .built_checked(key)?
                .hash()
                .map_err(|e| self.unbuildable(id, e))?;
            let count = per_hash.entry(hash).or_default();
            *count += 1;
            if *count > MAX_KEYS_PER_HASH {
                return Err(limit_exceeded(
                    self.py,
                    &format!(
                        "node {} has more than {MAX_KEYS_PER_HASH} keys with one hash",
                        id.index()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The StateError for object node `id`, which `cause` stopped from being rebuilt.
    fn state_error(&self, id: NodeId, cause: PyErr) -> PyErr {
        state_error_at(self.py, self.graph(), self.root, id, cause)
    }

    fn unbuildable(&self, id: NodeId, cause: PyErr) -> PyErr {
        let err = invalid_graph(self.py, &format!("node {} cannot be built: {cause}", id.index()));
        err.set_cause(self.py, Some(cause));
        err
    }

    /// One array of the file as numpy: a view or a copy, as the loader's memory mode says.
    fn array(&mut self, array: amberfile::ArrayId) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let reader = self.reader;
        let fail = |e: amberfile::Error| format_error(py, &e);
        let info = reader.array_info(array).map_err(fail)?;
        let dtype = self.dtypes.get(info.dtype())?.cast_into::<PyArrayDescr>()?;
        let fortran = info.order() == Order::F;
        let view = |buffer: &Py<FileBuffer>, writable: bool| -> PyResult<Bound<'py, PyAny>> {
            let bytes = reader.zero_copy_bytes(array).map_err(fail)?;
            check_bools(info.dtype(), bytes).map_err(fail)?;
            // zero_copy_bytes succeeded, so the source holds the file in memory.
            let offset = offset_in(reader.source().in_memory().unwrap_or_default(), bytes);
            let view = view_of(buffer.bind(py), offset, &dtype, info.shape(), fortran, writable);
            Ok(view.map_err(|e| allocation_failed(py, "an array", e))?.into_any())
        };
        match self.memory {
            ArrayMemory::Mapped {
                buffer,
                require_zero_copy,
            } if info.is_raw() || *require_zero_copy => view(buffer, false),
            ArrayMemory::CopyOnWrite { buffer } if info.is_raw() => view(buffer, true),
            memory => {
                let read_only = matches!(memory, ArrayMemory::Mapped { .. });
                // R57 before numpy allocates: a small file must not declare a huge array.
                reader.materialized_len(array).map_err(fail)?;
                let copy = new_array_filled(&dtype, info.shape(), fortran, |out| {
                    // The array is not visible to Python yet, so other threads may run while a
                    // big one is copied or decoded.
                    let read = if out.len() >= DETACH_BYTES {
                        py.detach(|| reader.read_into(array, out))
                    } else {
                        reader.read_into(array, out)
                    };
                    read.map_err(fail)?;
                    check_bools(info.dtype(), out).map_err(fail)
                })
                .map_err(|e| allocation_failed(py, "an array", e))?;
                if read_only {
                    // A decoded array in a read-only load is read-only like its mapped siblings.
                    let flags = PyDict::new(py);
                    flags.set_item("write", false)?;
                    copy.call_method("setflags", (), Some(&flags))?;
                }
                Ok(copy.into_any())
            }
        }
    }
}

/// One Python str per string of the file's table: many str nodes may name one entry, and each
/// would otherwise get a copy of its own. Keyed by the entry's address in the table.
#[derive(Default)]
pub(crate) struct StrCache(Mutex<HashMap<(usize, usize), Py<PyString>>>);

impl StrCache {
    pub(crate) fn get<'py>(&self, py: Python<'py>, s: &str) -> PyResult<Bound<'py, PyString>> {
        // Held only while no Python code runs, so no other thread can wait on it with the GIL.
        let mut built = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = match built.entry((s.as_ptr() as usize, s.len())) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let string = PyString::from_bytes(py, s.as_bytes())
                    .map_err(|e| allocation_failed(py, "a str value", e))?;
                entry.insert(string.unbind())
            }
        };
        Ok(entry.bind(py).clone())
    }
}

/// The StateError for object node `id` of a load from `root`.
#[cold]
fn state_error_at(py: Python<'_>, graph: &Graph, root: NodeId, id: NodeId, cause: PyErr) -> PyErr {
    let type_name = match graph.node(id) {
        Node::Object { type_name, .. } => type_name,
        _ => "?",
    };
    let path = path_to(graph, root, id).unwrap_or_else(|| format!("<node {}>", id.index()));
    state_error(py, type_name, &path, cause)
}

fn order_name(order: Order) -> &'static str {
    match order {
        Order::C => "C",
        Order::F => "F",
    }
}

fn offset_in(file: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(file.as_ptr() as usize)
}

/// numpy assumes bool bytes are 0 or 1; a file may hold anything.
pub(crate) fn check_bools(dtype: &DType, bytes: &[u8]) -> amberfile::Result<()> {
    if *dtype == DType::Bool && bytes.iter().any(|&b| b > 1) {
        let detail = "a bool element is neither 0 nor 1";
        return Err(amberfile::Error::new(
            amberfile::ErrorKind::InvalidArray,
            None,
            detail,
        ));
    }
    Ok(())
}
