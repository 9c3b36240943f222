//! Checks of scikit-learn state that a trusted type would otherwise take on faith, in Rust
//! because a forest holds hundreds of trees and numpy's per-call overhead dominates there.

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::buffer::array_bytes;

/// Byte offset of the little-endian int64 field `name` in the records of `nodes`.
fn int64_field(nodes: &Bound<'_, PyUntypedArray>, name: &str) -> PyResult<usize> {
    let field = nodes.getattr("dtype")?.getattr("fields")?.get_item(name)?;
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
#[pyfunction]
pub(crate) fn check_tree_nodes(nodes: &Bound<'_, PyAny>, n_features: i64) -> PyResult<()> {
    let nodes = nodes.cast::<PyUntypedArray>()?;
    if nodes.ndim() != 1 || !nodes.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "a Tree's nodes must be a contiguous 1-d array",
        ));
    }
    let [left, right, feature] =
        ["left_child", "right_child", "feature"].map(|name| int64_field(nodes, name));
    let (left, right, feature) = (left?, right?, feature?);
    let itemsize = nodes.dtype().itemsize();
    if [left, right, feature].iter().any(|&offset| offset + 8 > itemsize) {
        return Err(PyValueError::new_err("a Tree node field lies outside its record"));
    }
    let count = i64::try_from(nodes.len()).map_err(|_| PyValueError::new_err("too many nodes"))?;
    let bytes = array_bytes(nodes)?;
    for (index, record) in (0..count).zip(bytes.chunks_exact(itemsize)) {
        let (left, right) = (int64_at(record, left), int64_at(record, right));
        if left == -1 {
            if right != -1 {
                return Err(PyValueError::new_err("a Tree leaf has a right child"));
            }
            continue;
        }
        if [left, right]
            .iter()
            .any(|&child| child <= index || child >= count)
        {
            return Err(PyValueError::new_err(
                "a Tree node's child is out of range or not after its parent",
            ));
        }
        if !(0..n_features).contains(&int64_at(record, feature)) {
            return Err(PyValueError::new_err(
                "a Tree node splits on a feature the tree does not have",
            ));
        }
    }
    Ok(())
}
