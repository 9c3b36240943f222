//! The dtype table (spec 6.4): each distinct dtype once (spec 13.4), a record's field dtypes
//! before the record, so that every field refers to an earlier entry (R30).

use std::collections::HashMap;

use super::strings::Strings;
use crate::dtype::DType;
use crate::error::Result;
use crate::write::encode::{put_len, put_u32};

/// The dtypes of the arrays written so far, in table order, and each one's index.
#[derive(Default)]
pub(in crate::write) struct DTypeTable {
    dtypes: Vec<DType>,
    index: HashMap<DType, u32>,
}

impl DTypeTable {
    /// Adds `dtype` (and first, its field dtypes) to the table once; returns its index.
    pub(in crate::write) fn intern(&mut self, dtype: &DType) -> u32 {
        if let Some(&index) = self.index.get(dtype) {
            return index;
        }
        if let DType::Record(record) = dtype {
            for field in &record.fields {
                self.intern(&field.dtype);
            }
        }
        let index = self.dtypes.len() as u32;
        self.dtypes.push(dtype.clone());
        self.index.insert(dtype.clone(), index);
        index
    }

    pub(super) fn len(&self) -> usize {
        self.dtypes.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &DType> {
        self.dtypes.iter()
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>, strings: &Strings<'_>) -> Result<()> {
        for dtype in &self.dtypes {
            out.push(dtype.code());
            match dtype {
                DType::Bytes(n) | DType::Unicode(n) | DType::Void(n) => put_u32(out, *n),
                DType::Datetime64 { unit, count } | DType::Timedelta64 { unit, count } => {
                    out.push(*unit as u8);
                    put_u32(out, *count);
                }
                DType::Record(record) => {
                    put_u32(out, record.itemsize);
                    put_len(out, record.fields.len())?;
                    for field in &record.fields {
                        put_u32(out, strings.index_of(&field.name));
                        put_u32(out, field.offset);
                        put_u32(out, self.index[&field.dtype]);
                        out.push(field.shape.len() as u8);
                        field
                            .shape
                            .iter()
                            .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
