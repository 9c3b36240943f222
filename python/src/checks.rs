//! Checks of scikit-learn state that a trusted type would otherwise take on faith, in Rust
//! because a forest holds hundreds of trees and numpy's per-call overhead dominates there.

use std::cell::RefCell;

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::ahead;
use crate::buffer::array_bytes;

/// Where a Tree node record keeps the fields the check reads.
#[derive(Debug, Clone, Copy)]
struct NodeLayout {
    itemsize: usize,
    left: usize,
    right: usize,
    feature: usize,
}

impl NodeLayout {
    /// The layout of `nodes`' records; refuses fields that are missing, not little-endian int64
    /// or not inside the record. A forest's trees share one dtype, so the last is remembered.
    fn of(nodes: &Bound<'_, PyUntypedArray>) -> PyResult<Self> {
        let dtype = nodes.dtype().into_any();
        let cached = LAST_LAYOUT.with_borrow(|last| {
            last.as_ref()
                .filter(|(seen, _)| seen.is(&dtype))
                .map(|&(_, layout)| layout)
        });
        if let Some(layout) = cached {
            return Ok(layout);
        }
        let fields = dtype.getattr("fields")?;
        if fields.is_none() {
            return Err(PyValueError::new_err("a Tree's nodes must be records"));
        }
        let [left, right, feature] =
            ["left_child", "right_child", "feature"].map(|name| int64_field(&fields, name));
        let layout = NodeLayout {
            itemsize: nodes.dtype().itemsize(),
            left: left?,
            right: right?,
            feature: feature?,
        };
        if [layout.left, layout.right, layout.feature]
            .iter()
            .any(|&offset| offset + 8 > layout.itemsize)
        {
            return Err(PyValueError::new_err("a Tree node field lies outside its record"));
        }
        LAST_LAYOUT.with_borrow_mut(|last| *last = Some((dtype.unbind(), layout)));
        Ok(layout)
    }
}

thread_local! {
    /// The last dtype whose layout was worked out (held, so its address is not reused).
    static LAST_LAYOUT: RefCell<Option<(Py<PyAny>, NodeLayout)>> = const { RefCell::new(None) };
}

/// Byte offset of the little-endian int64 field `name` in records with these `fields`.
fn int64_field(fields: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let field = fields
        .get_item(name)
        .map_err(|_| PyValueError::new_err(format!("a Tree's nodes lack the field {name}")))?;
    if field.get_item(0)?.getattr("str")?.extract::<String>()? != "<i8" {
        return Err(PyValueError::new_err(format!(
            "a Tree node's {name} must be int64"
        )));
    }
    field.get_item(1)?.extract()
}

fn int64_at(record: &[u8], offset: usize) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&record[offset..offset + 8]);
    i64::from_le_bytes(bytes)
}

/// The links of a `sklearn.tree._tree.Tree`'s node records, which its prediction loops follow
/// unchecked: a leaf (left child -1) has no right child; an internal node's children lie after
/// it and inside the array (trees are built that way, so no loop or out-of-bounds read is
/// possible), and it splits on a feature in `0..n_features`.
///
/// During a copying load the check may run on the loader's helper thread instead, over the
/// file's bytes of the same array ([`ahead::defer_array_check`]); the load then fails at its
/// end with the same error. That is safe because no trusted type walks a tree's nodes while
/// the file is being loaded; only prediction does.
#[pyfunction]
pub(crate) fn check_tree_nodes(nodes: &Bound<'_, PyAny>, n_features: i64) -> PyResult<()> {
    let nodes = nodes.cast::<PyUntypedArray>()?;
    if nodes.ndim() != 1 || !nodes.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "a Tree's nodes must be a contiguous 1-d array",
        ));
    }
    let layout = NodeLayout::of(nodes)?;
    let check: ahead::ArrayCheck =
        Box::new(move |bytes| tree_nodes_error(bytes, layout, n_features).map_or(Ok(()), Err));
    match ahead::defer_array_check(nodes.as_any(), check) {
        None => Ok(()),
        Some(check) => check(array_bytes(nodes)?).map_err(PyValueError::new_err),
    }
}

/// Why the node records in `bytes` are not a valid tree (see [`check_tree_nodes`]), or `None`.
fn tree_nodes_error(bytes: &[u8], layout: NodeLayout, n_features: i64) -> Option<String> {
    let records = bytes.chunks_exact(layout.itemsize.max(1));
    let count = records.len() as i64;
    let records = || (0..count).zip(bytes.chunks_exact(layout.itemsize.max(1)));
    // Branch-free over all nodes (leaves and internal nodes alternate unpredictably); the
    // message is worked out only for a tree that fails.
    let valid = |index: i64, record: &[u8]| {
        let (left, right) = (int64_at(record, layout.left), int64_at(record, layout.right));
        let leaf = (left == -1) & (right == -1);
        let children = (left > index) & (left < count) & (right > index) & (right < count);
        let split = (0..n_features).contains(&int64_at(record, layout.feature));
        leaf | ((left != -1) & children & split)
    };
    if records().fold(true, |all, (index, record)| all & valid(index, record)) {
        return None;
    }
    let (index, record) = records().find(|&(index, record)| !valid(index, record))?;
    let (left, right) = (int64_at(record, layout.left), int64_at(record, layout.right));
    Some(if left == -1 {
        format!("Tree node {index}: a leaf has a right child")
    } else if [left, right]
        .iter()
        .any(|&child| child <= index || child >= count)
    {
        format!("Tree node {index}: a child is out of range or not after its parent")
    } else {
        format!("Tree node {index} splits on a feature the tree does not have")
    })
}

/// The depth of the deepest leaf of a Tree's node records (the root alone is depth 0), which
/// `decision_path` trusts `max_depth` to bound when it sizes its output. Links that break
/// [`check_tree_nodes`]'s rules are skipped here: that check refuses them.
#[pyfunction]
pub(crate) fn tree_depth(nodes: &Bound<'_, PyAny>) -> PyResult<i64> {
    let nodes = nodes.cast::<PyUntypedArray>()?;
    if nodes.ndim() != 1 || !nodes.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "a Tree's nodes must be a contiguous 1-d array",
        ));
    }
    let layout = NodeLayout::of(nodes)?;
    let records = array_bytes(nodes)?.chunks_exact(layout.itemsize.max(1));
    let mut depth = vec![0i64; records.len()];
    for (index, record) in records.enumerate() {
        if int64_at(record, layout.left) == -1 {
            continue; // a leaf
        }
        for offset in [layout.left, layout.right] {
            let child = int64_at(record, offset);
            if child > index as i64 && child < depth.len() as i64 {
                depth[child as usize] = depth[index] + 1;
            }
        }
    }
    Ok(depth.into_iter().max().unwrap_or(0))
}
