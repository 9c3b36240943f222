//! The dtype table (rules R20 to R35): scalar, sized and time dtypes, and records field by field.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::cursor::ByteCursor;
use super::registry_code;
use crate::dtype::{
    check_field_ndim, check_parameters, code, DType, DTypeShape, Field, RecordCheck, RecordType, TimeUnit,
};
use crate::error::{Error, Result};
use crate::format::tables::{
    DIM_LEN, DTYPE_ENTRY_MIN_LEN, DTYPE_PAYLOAD_OFFSET, FIELD_DTYPE_OFFSET, FIELD_MIN_LEN, FIELD_NDIM_OFFSET,
    FIELD_OFFSET_OFFSET,
};
use crate::graph::{GraphBuilder, StringTable};
use crate::limits::Limits;
use crate::read::cursor::le_u64;

pub(super) fn parse_dtypes(
    r: &mut ByteCursor<'_>,
    count: u32,
    parts: &GraphBuilder,
    limits: &Limits,
) -> Result<Vec<DType>> {
    r.ensure_backed(u64::from(count), DTYPE_ENTRY_MIN_LEN, "dtypes")?;
    let mut dtypes: Vec<DType> = Vec::with_capacity(count as usize);
    // Depth and expanded field count of every entry, for the record rules R31 and R32.
    let mut shapes: Vec<DTypeShape> = Vec::with_capacity(count as usize);
    let mut names = FieldNames::new(parts.strings());
    for index in 0..count {
        let offset = r.offset();
        let code = r.u8("dtype code")?;
        let (dtype, shape) = match code {
            code::BYTES => (DType::Bytes(r.u32("bytes length")?), DTypeShape::default()),
            code::UNICODE => (DType::Unicode(r.u32("unicode length")?), DTypeShape::default()),
            code::VOID => (DType::Void(r.u32("void itemsize")?), DTypeShape::default()),
            code::DATETIME64 | code::TIMEDELTA64 => {
                let unit = registry_code(r, "time unit", TimeUnit::from_code, |code| {
                    Error::invalid_dtype(offset + DTYPE_PAYLOAD_OFFSET, format!("unknown time unit {code}"))
                })?;
                let count = r.u32("time unit count")?;
                let dtype = if code == code::DATETIME64 {
                    DType::Datetime64 { unit, count }
                } else {
                    DType::Timedelta64 { unit, count }
                };
                (dtype, DTypeShape::default())
            }
            code::RECORD => parse_record(r, index, &dtypes, &shapes, &mut names, limits)?,
            other => (
                DType::scalar_from_code(other)
                    .ok_or_else(|| Error::invalid_dtype(offset, format!("unknown dtype code {other}")))?,
                DTypeShape::default(),
            ),
        };
        check_parameters(&dtype, Some(offset))?;
        dtypes.push(dtype);
        shapes.push(shape);
    }
    Ok(dtypes)
}

/// A record entry, checked field by field in the order of rules R25 to R35.
fn parse_record(
    r: &mut ByteCursor<'_>,
    own_index: u32,
    earlier: &[DType],
    earlier_shapes: &[DTypeShape],
    names: &mut FieldNames<'_>,
    limits: &Limits,
) -> Result<(DType, DTypeShape)> {
    let start = r.offset() - DTYPE_PAYLOAD_OFFSET;
    let itemsize = r.u32("record itemsize")?;
    let field_count = r.u32("record field count")?;
    let mut check = RecordCheck::start(itemsize, field_count, limits, Some(start + DTYPE_PAYLOAD_OFFSET))?;
    r.ensure_backed(u64::from(field_count), FIELD_MIN_LEN, "record fields")?;
    let mut fields = Vec::with_capacity(field_count as usize);
    for _ in 0..field_count {
        let offset = r.offset();
        let name = r.u32("field name")?;
        let (identity, name) = names.get(name).ok_or_else(|| {
            Error::invalid_index(offset, format!("field name refers to missing string {name}"))
        })?;
        check.name(identity, &name, Some(offset))?;
        let field_offset = r.u32("field offset")?;
        let dtype = r.u32("field dtype")?;
        if dtype >= own_index {
            return Err(Error::invalid_dtype(
                offset + FIELD_DTYPE_OFFSET,
                format!("field dtype {dtype} is not an earlier entry than {own_index}"),
            ));
        }
        check.nesting(earlier_shapes[dtype as usize], Some(offset + FIELD_DTYPE_OFFSET))?;
        let ndim = r.u8("field ndim")?;
        check_field_ndim(usize::from(ndim), Some(offset + FIELD_NDIM_OFFSET))?;
        let dims = r.take_items(u64::from(ndim), DIM_LEN, "field shape")?;
        let shape: Vec<u64> = dims.chunks_exact(DIM_LEN as usize).map(le_u64).collect();
        let dtype = earlier[dtype as usize].clone();
        check.extent(
            field_offset,
            dtype.itemsize(),
            &shape,
            Some(offset + FIELD_OFFSET_OFFSET),
        )?;
        fields.push(Field {
            name,
            offset: field_offset,
            dtype,
            shape,
        });
    }
    let shape = check.finish(Some(start))?;
    Ok((DType::Record(Arc::new(RecordType { itemsize, fields })), shape))
}

/// Field names by string-table index: each index is copied and hashed once, however many records
/// name it, and equal strings at different indices share one identity (R29 compares bytes).
struct FieldNames<'s> {
    strings: &'s StringTable,
    by_index: Vec<Option<(u32, Arc<str>)>>,
    identity_of_text: HashMap<&'s str, u32>,
}

impl<'s> FieldNames<'s> {
    fn new(strings: &'s StringTable) -> Self {
        FieldNames {
            strings,
            by_index: Vec::new(),
            identity_of_text: HashMap::new(),
        }
    }

    /// The identity and shared text of string `index`, or `None` if there is no such string.
    fn get(&mut self, index: u32) -> Option<(u32, Arc<str>)> {
        let slot = index as usize;
        if slot >= self.strings.len() {
            return None;
        }
        if self.by_index.len() <= slot {
            self.by_index.resize(slot + 1, None);
        }
        let strings = self.strings;
        let identities = &mut self.identity_of_text;
        let entry = self.by_index[slot].get_or_insert_with(|| {
            let text = strings.get(index);
            (*identities.entry(text).or_insert(index), Arc::from(text))
        });
        Some(entry.clone())
    }
}
