//! The dtype model: what one array element is, its itemsize, and its code in the dtype table.
//!
//! Dtypes mirror numpy's legacy dtypes plus bfloat16 and the two float8 kinds. All multi-byte
//! values are little-endian on disk. Record dtypes nest through [`Arc`], so the dtype table's
//! sharing (many fields or arrays using one sub-dtype) costs no copies in memory.

use std::fmt;
use std::sync::Arc;

use num_complex::Complex;

use crate::error::{Error, Result};
use crate::limits::{Limits, MAX_ITEMSIZE, MAX_NDIM};

/// Unit of a datetime64 or timedelta64 dtype, numpy's set.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// No unit (numpy's generic `M8`, written without brackets); its count is 1.
    Generic = 0,
    /// Calendar years (`Y`).
    Year = 1,
    /// Calendar months (`M`).
    Month = 2,
    /// Weeks of 7 days (`W`).
    Week = 3,
    /// Days (`D`).
    Day = 4,
    /// Hours (`h`).
    Hour = 5,
    /// Minutes (`m`).
    Minute = 6,
    /// Seconds (`s`).
    Second = 7,
    /// 10^-3 s (`ms`).
    Millisecond = 8,
    /// 10^-6 s (`us`).
    Microsecond = 9,
    /// 10^-9 s (`ns`).
    Nanosecond = 10,
    /// 10^-12 s (`ps`).
    Picosecond = 11,
    /// 10^-15 s (`fs`).
    Femtosecond = 12,
    /// 10^-18 s (`as`).
    Attosecond = 13,
}

impl TimeUnit {
    const ALL: [TimeUnit; 14] = [
        TimeUnit::Generic,
        TimeUnit::Year,
        TimeUnit::Month,
        TimeUnit::Week,
        TimeUnit::Day,
        TimeUnit::Hour,
        TimeUnit::Minute,
        TimeUnit::Second,
        TimeUnit::Millisecond,
        TimeUnit::Microsecond,
        TimeUnit::Nanosecond,
        TimeUnit::Picosecond,
        TimeUnit::Femtosecond,
        TimeUnit::Attosecond,
    ];

    /// The unit with this registry code.
    pub fn from_code(code: u8) -> Option<TimeUnit> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// numpy's spelling: `"s"`, `"ms"`, ..., and `"generic"` for the unitless form.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Generic => "generic",
            TimeUnit::Year => "Y",
            TimeUnit::Month => "M",
            TimeUnit::Week => "W",
            TimeUnit::Day => "D",
            TimeUnit::Hour => "h",
            TimeUnit::Minute => "m",
            TimeUnit::Second => "s",
            TimeUnit::Millisecond => "ms",
            TimeUnit::Microsecond => "us",
            TimeUnit::Nanosecond => "ns",
            TimeUnit::Picosecond => "ps",
            TimeUnit::Femtosecond => "fs",
            TimeUnit::Attosecond => "as",
        }
    }

    /// Parses numpy's spelling, the inverse of [`TimeUnit::as_str`].
    pub fn parse(s: &str) -> Option<TimeUnit> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// One named field of a record dtype.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Shared, so records that repeat one long name (a DAG of records) hold it once.
    pub name: Arc<str>,
    /// Byte offset of the field inside the record.
    pub offset: u32,
    /// The type of each element of the field (of each sub-array item when `shape` is set).
    pub dtype: DType,
    /// Sub-array shape; empty for a scalar field.
    pub shape: Vec<u64>,
}

/// A structured (record) dtype: named fields at explicit offsets, and an itemsize that may
/// include padding. scikit-learn's tree node array is one: 8 fields, itemsize 64.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordType {
    /// Bytes of one record, padding included; at least the end of its last field.
    pub itemsize: u32,
    /// Fields in the order the file lists them (not necessarily by offset); may be empty.
    pub fields: Vec<Field>,
}

/// The element type of an array.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// One byte, 0 (false) or 1 (true).
    Bool,
    /// Signed integer, 1 byte.
    Int8,
    /// Signed integer, 2 bytes.
    Int16,
    /// Signed integer, 4 bytes.
    Int32,
    /// Signed integer, 8 bytes.
    Int64,
    /// Unsigned integer, 1 byte.
    UInt8,
    /// Unsigned integer, 2 bytes.
    UInt16,
    /// Unsigned integer, 4 bytes.
    UInt32,
    /// Unsigned integer, 8 bytes.
    UInt64,
    /// IEEE 754 binary16.
    Float16,
    /// bfloat16: the top 16 bits of a binary32 (ml_dtypes `bfloat16`).
    BFloat16,
    /// IEEE 754 binary32.
    Float32,
    /// IEEE 754 binary64.
    Float64,
    /// Two binary32: real part, then imaginary part.
    Complex64,
    /// Two binary64: real part, then imaginary part.
    Complex128,
    /// 8-bit float, 4 exponent and 3 mantissa bits, no infinities (ml_dtypes `float8_e4m3fn`).
    Float8E4M3FN,
    /// 8-bit float, 5 exponent and 2 mantissa bits (ml_dtypes `float8_e5m2`).
    Float8E5M2,
    /// Fixed-width byte string of this many bytes (numpy `S<n>`).
    Bytes(u32),
    /// Fixed-width string of this many UCS-4 code points (numpy `U<n>`); itemsize is 4n.
    Unicode(u32),
    /// Opaque bytes of this itemsize (numpy `V<n>`).
    Void(u32),
    /// An i64 count of `count x unit` since 1970-01-01T00:00 (numpy `M8[<count><unit>]`);
    /// i64::MIN is NaT.
    Datetime64 {
        /// The unit of one tick.
        unit: TimeUnit,
        /// Units per tick (the 25 in `M8[25s]`); at least 1.
        count: u32,
    },
    /// An i64 duration in ticks of `count x unit` (numpy `m8[<count><unit>]`); i64::MIN is NaT.
    Timedelta64 {
        /// The unit of one tick.
        unit: TimeUnit,
        /// Units per tick; at least 1.
        count: u32,
    },
    /// A structured element of named fields (numpy structured dtypes).
    Record(Arc<RecordType>),
}

/// Registry codes of the dtype table.
pub(crate) mod code {
    pub const BOOL: u8 = 1;
    pub const INT8: u8 = 2;
    pub const INT16: u8 = 3;
    pub const INT32: u8 = 4;
    pub const INT64: u8 = 5;
    pub const UINT8: u8 = 6;
    pub const UINT16: u8 = 7;
    pub const UINT32: u8 = 8;
    pub const UINT64: u8 = 9;
    pub const FLOAT16: u8 = 10;
    pub const BFLOAT16: u8 = 11;
    pub const FLOAT32: u8 = 12;
    pub const FLOAT64: u8 = 13;
    pub const COMPLEX64: u8 = 14;
    pub const COMPLEX128: u8 = 15;
    pub const FLOAT8_E4M3FN: u8 = 16;
    pub const FLOAT8_E5M2: u8 = 17;
    pub const BYTES: u8 = 32;
    pub const UNICODE: u8 = 33;
    pub const VOID: u8 = 34;
    pub const DATETIME64: u8 = 35;
    pub const TIMEDELTA64: u8 = 36;
    pub const RECORD: u8 = 48;
}

/// The fixed-size dtypes, in code order, with their code, itemsize and canonical name.
static SCALARS: [(DType, u8, u32, &str); 17] = [
    (DType::Bool, code::BOOL, 1, "bool"),
    (DType::Int8, code::INT8, 1, "int8"),
    (DType::Int16, code::INT16, 2, "int16"),
    (DType::Int32, code::INT32, 4, "int32"),
    (DType::Int64, code::INT64, 8, "int64"),
    (DType::UInt8, code::UINT8, 1, "uint8"),
    (DType::UInt16, code::UINT16, 2, "uint16"),
    (DType::UInt32, code::UINT32, 4, "uint32"),
    (DType::UInt64, code::UINT64, 8, "uint64"),
    (DType::Float16, code::FLOAT16, 2, "float16"),
    (DType::BFloat16, code::BFLOAT16, 2, "bfloat16"),
    (DType::Float32, code::FLOAT32, 4, "float32"),
    (DType::Float64, code::FLOAT64, 8, "float64"),
    (DType::Complex64, code::COMPLEX64, 8, "complex64"),
    (DType::Complex128, code::COMPLEX128, 16, "complex128"),
    (DType::Float8E4M3FN, code::FLOAT8_E4M3FN, 1, "float8_e4m3fn"),
    (DType::Float8E5M2, code::FLOAT8_E5M2, 1, "float8_e5m2"),
];

impl DType {
    /// The fixed-size dtype with this code, if the code names one.
    pub(crate) fn scalar_from_code(code: u8) -> Option<DType> {
        SCALARS.iter().find(|s| s.1 == code).map(|s| s.0.clone())
    }

    /// The fixed-size dtype with this canonical name, e.g. `"float32"`.
    pub fn scalar_from_name(name: &str) -> Option<DType> {
        SCALARS.iter().find(|s| s.3 == name).map(|s| s.0.clone())
    }

    fn scalar_entry(&self) -> Option<&'static (DType, u8, u32, &'static str)> {
        SCALARS.iter().find(|s| &s.0 == self)
    }

    /// The registry code of this dtype.
    pub fn code(&self) -> u8 {
        match self {
            DType::Bytes(_) => code::BYTES,
            DType::Unicode(_) => code::UNICODE,
            DType::Void(_) => code::VOID,
            DType::Datetime64 { .. } => code::DATETIME64,
            DType::Timedelta64 { .. } => code::TIMEDELTA64,
            DType::Record(_) => code::RECORD,
            scalar => scalar.scalar_entry().map_or(0, |s| s.1),
        }
    }

    /// Canonical name of a fixed-size dtype, e.g. `"bfloat16"`; `None` for parameterised ones.
    pub fn scalar_name(&self) -> Option<&'static str> {
        self.scalar_entry().map(|s| s.3)
    }

    /// Bytes per element. Saturates at `u64::MAX` for a (never valid) oversized unicode length.
    pub fn itemsize(&self) -> u64 {
        match self {
            DType::Bytes(n) | DType::Void(n) => u64::from(*n),
            DType::Unicode(n) => u64::from(*n) * 4,
            DType::Datetime64 { .. } | DType::Timedelta64 { .. } => 8,
            DType::Record(r) => u64::from(r.itemsize),
            scalar => scalar.scalar_entry().map_or(0, |s| u64::from(s.2)),
        }
    }

    /// Builds a record dtype.
    pub fn record(itemsize: u32, fields: Vec<Field>) -> DType {
        DType::Record(Arc::new(RecordType { itemsize, fields }))
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::Bytes(n) => write!(f, "S{n}"),
            DType::Unicode(n) => write!(f, "U{n}"),
            DType::Void(n) => write!(f, "V{n}"),
            DType::Datetime64 { unit, count } => write!(f, "datetime64[{}]", unit_str(*unit, *count)),
            DType::Timedelta64 { unit, count } => {
                write!(f, "timedelta64[{}]", unit_str(*unit, *count))
            }
            DType::Record(r) => write!(f, "record[{} fields, itemsize {}]", r.fields.len(), r.itemsize),
            scalar => f.write_str(scalar.scalar_name().unwrap_or("?")),
        }
    }
}

fn unit_str(unit: TimeUnit, count: u32) -> String {
    if count == 1 {
        unit.as_str().to_owned()
    } else {
        format!("{count}{}", unit.as_str())
    }
}

/// A Rust type that can be viewed directly on an array's little-endian bytes.
///
/// Implemented for `bool`, the integer and float primitives, [`half::f16`], [`half::bf16`] and
/// [`Complex`] of `f32`/`f64`. Other dtypes (strings, datetimes, float8, records) are read as raw
/// bytes together with their [`DType`].
pub trait Element: Copy + Default + Send + Sync + 'static {
    /// The dtype whose elements are exactly this type.
    fn dtype() -> DType;
    /// Reinterprets bytes as elements; `None` if the length or alignment does not fit, or (for
    /// `bool`) a byte is neither 0 nor 1.
    fn cast_slice(bytes: &[u8]) -> Option<&[Self]>;
    /// Reinterprets elements as bytes, for writing.
    fn as_bytes(items: &[Self]) -> &[u8];
    /// Reinterprets elements as writable bytes, for decoding straight into them; `None` for
    /// types with invalid bit patterns (`bool`).
    fn cast_slice_mut(items: &mut [Self]) -> Option<&mut [u8]>;
}

macro_rules! pod_element {
    ($($t:ty => $d:expr),* $(,)?) => {
        $(
            impl Element for $t {
                fn dtype() -> DType {
                    $d
                }
                fn cast_slice(bytes: &[u8]) -> Option<&[Self]> {
                    bytemuck::try_cast_slice(bytes).ok()
                }
                fn as_bytes(items: &[Self]) -> &[u8] {
                    bytemuck::cast_slice(items)
                }
                fn cast_slice_mut(items: &mut [Self]) -> Option<&mut [u8]> {
                    Some(bytemuck::cast_slice_mut(items))
                }
            }
        )*
    };
}

pod_element! {
    i8 => DType::Int8,
    i16 => DType::Int16,
    i32 => DType::Int32,
    i64 => DType::Int64,
    u8 => DType::UInt8,
    u16 => DType::UInt16,
    u32 => DType::UInt32,
    u64 => DType::UInt64,
    half::f16 => DType::Float16,
    half::bf16 => DType::BFloat16,
    f32 => DType::Float32,
    f64 => DType::Float64,
    Complex<f32> => DType::Complex64,
    Complex<f64> => DType::Complex128,
}

impl Element for bool {
    fn dtype() -> DType {
        DType::Bool
    }
    fn cast_slice(bytes: &[u8]) -> Option<&[Self]> {
        bytemuck::checked::try_cast_slice(bytes).ok()
    }
    fn as_bytes(items: &[Self]) -> &[u8] {
        bytemuck::cast_slice(items)
    }
    fn cast_slice_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
}

/// What the spec's dtype limits are measured on: nesting depth and expanded field count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DTypeShape {
    pub depth: u32,
    pub expanded_fields: u64,
}

/// Rules R22 to R24 (spec 9.4): parameters of bytes, unicode, void, datetime and timedelta.
pub(crate) fn check_parameters(dtype: &DType, offset: Option<u64>) -> Result<()> {
    let invalid = |detail: String| Err(Error::invalid_dtype(offset, detail));
    match dtype {
        DType::Bytes(0) | DType::Unicode(0) | DType::Void(0) => invalid(format!("{dtype} has itemsize 0")),
        DType::Bytes(_) | DType::Unicode(_) | DType::Void(_) if dtype.itemsize() > MAX_ITEMSIZE => {
            invalid(format!("itemsize {} exceeds 2^31-1", dtype.itemsize()))
        }
        DType::Datetime64 { count: 0, .. } | DType::Timedelta64 { count: 0, .. } => {
            invalid("datetime/timedelta unit count is 0".into())
        }
        DType::Datetime64 {
            unit: TimeUnit::Generic,
            count,
        }
        | DType::Timedelta64 {
            unit: TimeUnit::Generic,
            count,
        } if *count != 1 => invalid("a generic datetime/timedelta unit must have count 1".into()),
        _ => Ok(()),
    }
}

/// Rules R25 to R35 (spec 9.4) for one record, applied field by field in the spec's order. The
/// reader interleaves these calls with its index checks; the writer calls them on its own tree.
///
/// Names are compared by `K`: the reader passes a string-table identity, so a long name repeated
/// by many records is hashed once, not once per field.
pub(crate) struct RecordCheck<'l, K> {
    limits: &'l Limits,
    itemsize: u64,
    names: std::collections::HashSet<K>,
    extents: Vec<(u64, u64)>,
    shape: DTypeShape,
}

impl<'l, K: std::hash::Hash + Eq> RecordCheck<'l, K> {
    /// R25 and R26.
    pub(crate) fn start(
        itemsize: u32,
        field_count: u32,
        limits: &'l Limits,
        offset: Option<u64>,
    ) -> Result<Self> {
        if itemsize == 0 || u64::from(itemsize) > MAX_ITEMSIZE {
            return Err(Error::invalid_dtype(
                offset,
                format!("record itemsize {itemsize} is not in 1..=2^31-1"),
            ));
        }
        if u64::from(field_count) > limits.max_record_fields {
            return Err(Error::limit(
                offset,
                format!(
                    "{field_count} record fields; the limit is {}",
                    limits.max_record_fields
                ),
            ));
        }
        Ok(RecordCheck {
            limits,
            itemsize: u64::from(itemsize),
            names: std::collections::HashSet::new(),
            extents: Vec::new(),
            shape: DTypeShape {
                depth: 1,
                expanded_fields: 0,
            },
        })
    }

    /// R29: names are unique by their bytes; `key` identifies `name`'s bytes.
    pub(crate) fn name(&mut self, key: K, name: &str, offset: Option<u64>) -> Result<()> {
        if !self.names.insert(key) {
            return Err(Error::invalid_dtype(
                offset,
                format!("duplicate record field name {name:?}"),
            ));
        }
        Ok(())
    }

    /// R31 and R32, given the shape of the field's dtype.
    pub(crate) fn nesting(&mut self, inner: DTypeShape, offset: Option<u64>) -> Result<()> {
        self.shape.depth = self.shape.depth.max(inner.depth.saturating_add(1));
        if self.shape.depth > self.limits.max_dtype_depth {
            return Err(Error::limit(
                offset,
                format!("record nesting deeper than {}", self.limits.max_dtype_depth),
            ));
        }
        self.shape.expanded_fields = self
            .shape
            .expanded_fields
            .saturating_add(1)
            .saturating_add(inner.expanded_fields);
        if self.shape.expanded_fields > self.limits.max_record_fields {
            return Err(Error::limit(
                offset,
                format!(
                    "record has more than {} fields in all",
                    self.limits.max_record_fields
                ),
            ));
        }
        Ok(())
    }

    /// R34: the field lies inside the record. Its size is computed as an array's nbytes is
    /// (spec 6.5), so where a zero dimension stands does not change the answer.
    pub(crate) fn extent(
        &mut self,
        field_offset: u32,
        field_itemsize: u64,
        dims: &[u64],
        offset: Option<u64>,
    ) -> Result<()> {
        let size = checked_nbytes(field_itemsize, dims);
        let end = size.and_then(|size| u64::from(field_offset).checked_add(size));
        match (size, end) {
            (Some(_), Some(end)) if end <= self.itemsize => {
                // Zero-size fields take part too: R35 rejects one strictly inside another field.
                self.extents.push((u64::from(field_offset), end));
                Ok(())
            }
            _ => Err(Error::invalid_dtype(
                offset,
                format!("a field extends past the record itemsize {}", self.itemsize),
            )),
        }
    }

    /// R35: no two fields overlap.
    pub(crate) fn finish(mut self, offset: Option<u64>) -> Result<DTypeShape> {
        self.extents.sort_unstable();
        if self.extents.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(Error::invalid_dtype(offset, "record fields overlap"));
        }
        Ok(self.shape)
    }
}

/// R33.
pub(crate) fn check_field_ndim(ndim: usize, offset: Option<u64>) -> Result<()> {
    if ndim > MAX_NDIM {
        return Err(Error::limit(
            offset,
            format!("field sub-array has {ndim} dimensions; at most 64"),
        ));
    }
    Ok(())
}

/// Checks a dtype tree built through the API with the same rules the reader applies.
pub(crate) fn check_dtype_tree(dtype: &DType, limits: &Limits) -> Result<DTypeShape> {
    check_parameters(dtype, None)?;
    let DType::Record(record) = dtype else {
        return Ok(DTypeShape::default());
    };
    let field_count = u32::try_from(record.fields.len()).unwrap_or(u32::MAX);
    let mut check = RecordCheck::start(record.itemsize, field_count, limits, None)?;
    for field in &record.fields {
        check.name(&*field.name, &field.name, None)?;
        // Depth is bounded before recursing, so a hostile tree cannot exhaust the stack.
        let inner = match &field.dtype {
            DType::Record(_) if limits.max_dtype_depth <= 1 => {
                return Err(Error::limit(
                    None,
                    format!("record nesting deeper than {}", limits.max_dtype_depth),
                ));
            }
            DType::Record(_) => {
                let nested = Limits {
                    max_dtype_depth: limits.max_dtype_depth - 1,
                    ..limits.clone()
                };
                check_dtype_tree(&field.dtype, &nested)?
            }
            other => check_dtype_tree(other, limits)?,
        };
        check.nesting(inner, None)?;
        check_field_ndim(field.shape.len(), None)?;
        check.extent(field.offset, field.dtype.itemsize(), &field.shape, None)?;
    }
    check.finish(None)
}

/// Bytes of an array of `itemsize` with these dimensions, or `None` if itemsize times the
/// product of the non-zero dimensions overflows u64 (spec 6.5: the check ignores zeros, so the
/// result does not depend on where a zero dimension stands). The one size rule of the format:
/// an array's nbytes (R42), a record field's size (R34), an object array's element count.
pub fn checked_nbytes(itemsize: u64, dims: &[u64]) -> Option<u64> {
    let product = dims
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(itemsize, |acc, &d| acc.checked_mul(d))?;
    Some(if dims.contains(&0) { 0 } else { product })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_itemsizes_follow_the_registry() {
        assert_eq!(DType::Float32.code(), 12);
        assert_eq!(DType::Complex128.itemsize(), 16);
        assert_eq!(DType::Unicode(3).itemsize(), 12);
        assert_eq!(DType::scalar_from_code(11), Some(DType::BFloat16));
        assert_eq!(DType::scalar_from_code(18), None);
        assert_eq!(DType::scalar_from_name("float8_e5m2"), Some(DType::Float8E5M2));
        assert_eq!(TimeUnit::parse("us"), Some(TimeUnit::Microsecond));
    }

    #[test]
    fn sizes_ignore_where_a_zero_dimension_stands() {
        // The five record-field rows of issue 14, and the array rule they now share.
        assert_eq!(checked_nbytes(4, &[1 << 63, 0]), None);
        assert_eq!(checked_nbytes(4, &[1 << 62, 0]), None);
        assert_eq!(checked_nbytes(4, &[0, 1 << 63]), None);
        assert_eq!(checked_nbytes(1, &[1 << 63, 0]), Some(0));
        assert_eq!(checked_nbytes(1, &[1 << 62, 8, 0]), None);
        assert_eq!(checked_nbytes(1, &[1 << 40, 1 << 40, 0]), None);
        assert_eq!(checked_nbytes(1, &[0, 1 << 40, 1 << 40]), None);
        // Exactly at the limit, a shape without dimensions, and an empty one.
        assert_eq!(checked_nbytes(1, &[u64::MAX]), Some(u64::MAX));
        assert_eq!(checked_nbytes(u64::MAX, &[1, 0]), Some(0));
        assert_eq!(checked_nbytes(8, &[]), Some(8));
        assert_eq!(checked_nbytes(3, &[2, 5]), Some(30));
    }

    #[test]
    fn a_record_field_is_sized_as_an_array_is() {
        let limits = Limits::default();
        let field_fits = |itemsize: u64, dims: &[u64]| {
            let mut check = RecordCheck::<u32>::start(8, 1, &limits, None).expect("valid record");
            check.extent(0, itemsize, dims, None).is_ok()
        };
        assert!(!field_fits(4, &[1 << 63, 0]));
        assert!(!field_fits(4, &[1 << 62, 0]));
        assert!(!field_fits(4, &[0, 1 << 63]));
        assert!(field_fits(1, &[1 << 63, 0]));
        assert!(!field_fits(1, &[1 << 62, 8, 0]));
        assert!(field_fits(4, &[2]));
        assert!(field_fits(4, &[2, 1]));
        assert!(!field_fits(4, &[3]));
    }

    #[test]
    fn bool_views_reject_bytes_other_than_zero_and_one() {
        assert_eq!(bool::cast_slice(&[0, 1, 1]), Some(&[false, true, true][..]));
        assert_eq!(bool::cast_slice(&[0, 2]), None);
    }
}
