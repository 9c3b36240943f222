//! numpy dtypes to Amber dtypes and back.
//!
//! Both directions go through numpy's Python-level dtype API (`str`, `fields`, `np.dtype(...)`),
//! once per distinct dtype, so no numpy C structures are read by hand. Plain types travel as
//! numpy type strings (`<f8`, `<M8[10s]`) through `amberfile::npy`, the mapping the `amber` CLI
//! uses for `.npy` files; records are built field by field. Nothing here ever produces an object
//! dtype: arrays rebuilt from file bytes can only hold plain data.

use std::collections::HashMap;
use std::sync::Arc;

use amberfile::{npy, DType, Field, RecordType};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::limits::max_record_depth;

/// The extended float types numpy itself lacks, provided by the `ml_dtypes` package.
const ML_DTYPES: [(&str, DType); 3] = [
    ("bfloat16", DType::BFloat16),
    ("float8_e4m3fn", DType::Float8E4M3FN),
    ("float8_e5m2", DType::Float8E5M2),
];

/// The Amber dtype of a numpy dtype. Byte order is ignored here: callers convert big-endian
/// data to little-endian first (see [`little_endian`]).
pub(crate) fn to_amber(descr: &Bound<'_, PyAny>) -> PyResult<DType> {
    to_amber_at_depth(descr, 0)
}

fn to_amber_at_depth(descr: &Bound<'_, PyAny>, depth: u32) -> PyResult<DType> {
    let fields = descr.getattr("fields")?;
    if !fields.is_none() {
        if depth >= max_record_depth() {
            return Err(PyValueError::new_err("record dtype nested too deeply"));
        }
        let names = descr.getattr("names")?.cast_into::<PyTuple>()?;
        let mut out = Vec::with_capacity(names.len());
        for name in names.iter() {
            let entry = fields.get_item(&name)?;
            let field_dtype = entry.get_item(0)?;
            let offset: u32 = entry.get_item(1)?.extract()?;
            let subdtype = field_dtype.getattr("subdtype")?;
            let (base, shape) = if subdtype.is_none() {
                (field_dtype, Vec::new())
            } else {
                let shape: Vec<u64> = subdtype.get_item(1)?.extract()?;
                (subdtype.get_item(0)?, shape)
            };
            out.push(Field {
                name: name.extract::<String>()?.into(),
                offset,
                dtype: to_amber_at_depth(&base, depth + 1)?,
                shape,
            });
        }
        let itemsize: u64 = descr.getattr("itemsize")?.extract()?;
        let itemsize =
            u32::try_from(itemsize).map_err(|_| PyValueError::new_err("record itemsize too large"))?;
        return Ok(DType::record(itemsize, out));
    }
    let name: String = descr.getattr("name")?.extract()?;
    let unsupported = || PyTypeError::new_err(format!("numpy dtype {name} has no Amber equivalent"));
    // ml_dtypes reports its types with kinds of its own choosing (float8_e5m2 says "f"), so
    // they are recognised by name first, and a numpy float must carry numpy's own name.
    if let Some((_, dtype)) = ML_DTYPES.iter().find(|(ml_name, _)| *ml_name == name) {
        return Ok(dtype.clone());
    }
    let type_string: String = descr.getattr("str")?.extract()?;
    // Byte order is ignored (see above): a big-endian type maps to its little-endian twin.
    let little = match type_string.strip_prefix('>') {
        Some(rest) => format!("<{rest}"),
        None => type_string,
    };
    let dtype = npy::dtype_from_type_string(&little).map_err(|_| unsupported())?;
    let is_float = matches!(dtype, DType::Float16 | DType::Float32 | DType::Float64);
    if is_float && dtype.scalar_name() != Some(name.as_str()) {
        return Err(unsupported());
    }
    Ok(dtype)
}

/// `descr` with every field little-endian, or `None` if it already is.
pub(crate) fn little_endian<'py>(descr: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let little = descr.call_method1("newbyteorder", ("<",))?;
    Ok(if little.eq(descr)? { None } else { Some(little) })
}

/// Builds numpy dtypes for Amber dtypes, each distinct dtype once.
///
/// Records are cached by identity, not content: the reader shares one `Arc` per entry of the
/// file's dtype table (fields included), and hashing a record would walk its whole expansion,
/// up to 65,536 fields with names of any length, on every array.
pub(crate) struct NumpyDtypes<'py> {
    py: Python<'py>,
    plain: HashMap<DType, Bound<'py, PyAny>>,
    /// Keyed by address; the `Arc` held keeps that address from being reused.
    records: HashMap<*const RecordType, (Arc<RecordType>, Bound<'py, PyAny>)>,
}

impl<'py> NumpyDtypes<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        NumpyDtypes {
            py,
            plain: HashMap::new(),
            records: HashMap::new(),
        }
    }

    /// The numpy dtype for `dtype`. Record nesting is bounded by the reader's dtype depth limit,
    /// so the recursion here is too.
    pub(crate) fn get(&mut self, dtype: &DType) -> PyResult<Bound<'py, PyAny>> {
        let found = match dtype {
            DType::Record(record) => self.records.get(&Arc::as_ptr(record)).map(|(_, built)| built),
            plain => self.plain.get(plain),
        };
        if let Some(found) = found {
            return Ok(found.clone());
        }
        let np_dtype = self.py.import("numpy")?.getattr("dtype")?;
        let built = match dtype {
            DType::Record(record) => {
                let names = PyList::empty(self.py);
                let formats = PyList::empty(self.py);
                let offsets = PyList::empty(self.py);
                for field in &record.fields {
                    names.append(&*field.name)?;
                    let inner = self.get(&field.dtype)?;
                    if field.shape.is_empty() {
                        formats.append(inner)?;
                    } else {
                        formats.append((inner, PyTuple::new(self.py, &field.shape)?))?;
                    }
                    offsets.append(field.offset)?;
                }
                let spec = PyDict::new(self.py);
                spec.set_item("names", names)?;
                spec.set_item("formats", formats)?;
                spec.set_item("offsets", offsets)?;
                spec.set_item("itemsize", record.itemsize)?;
                np_dtype.call1((spec,))?
            }
            plain => match npy::type_string(plain) {
                Ok(type_string) => np_dtype.call1((type_string,))?,
                // bfloat16 and float8 have no numpy type string; ml_dtypes provides them.
                Err(_) => {
                    let name = plain
                        .scalar_name()
                        .filter(|name| ML_DTYPES.iter().any(|(ml_name, _)| ml_name == name))
                        .ok_or_else(|| {
                            PyTypeError::new_err(format!("dtype {plain} has no numpy equivalent"))
                        })?;
                    let ml = self.py.import("ml_dtypes").map_err(|_| {
                        PyTypeError::new_err(format!("reading {name} arrays needs the ml_dtypes package"))
                    })?;
                    np_dtype.call1((ml.getattr(name)?,))?
                }
            },
        };
        match dtype {
            DType::Record(record) => {
                self.records
                    .insert(Arc::as_ptr(record), (record.clone(), built.clone()));
            }
            plain => {
                self.plain.insert(plain.clone(), built.clone());
            }
        }
        Ok(built)
    }
}
