//! The .npy format (numpy's `numpy/lib/format.py`): headers, and dtypes as numpy descrs.
//!
//! This is not part of the Amber format; it lives in the library so that every tool that
//! meets numpy (the `amber` CLI's `.npy` and `.npz` conversions, the Python package's dtype
//! tables) shares one parser and one descr mapping. It reads and writes headers only; the
//! array bytes that follow are the caller's to stream.
//!
//! A header is a Python dict literal such as `{'descr': '<f8', 'fortran_order': False,
//! 'shape': (3, 4), }`. Reading parses only the literal subset numpy writes, with bounded
//! length and nesting, so a hostile header cannot exhaust memory or the stack. Writing
//! reproduces numpy's own layout byte for byte (sorted keys, spare space for a growing axis,
//! padding to 64 bytes), so `.npy -> .amber -> .npy` returns the file numpy wrote.
//!
//! Amber dtypes without a numpy descr (bfloat16, float8) are refused with a clear error rather
//! than written as opaque void bytes: a `|V2` array would load in numpy but silently mean
//! nothing. Use `.safetensors` for those.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use crate::dtype::checked_nbytes;
use crate::{ArraySpec, DType, Field, Order, RecordType, TimeUnit};

/// The six magic bytes of every .npy file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy aligns the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// numpy leaves room for the growing axis to reach this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Longest header accepted. numpy's own reader stops at 10,000 bytes by default; this leaves
/// room for records with thousands of fields while keeping hostile headers cheap.
const MAX_HEADER_LEN: usize = 1 << 20;
/// Deepest nesting of the header literal (records inside records).
const MAX_LITERAL_DEPTH: usize = 40;

/// What a .npy header says about its array.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The element type (`descr`).
    pub dtype: DType,
    /// The dimensions (`shape`); empty for a scalar.
    pub shape: Vec<u64>,
    /// `fortran_order`: [`Order::F`] when True.
    pub order: Order,
}

impl NpyHeader {
    /// What an Amber writer needs to know about the array.
    pub fn spec(&self) -> ArraySpec {
        ArraySpec {
            dtype: self.dtype.clone(),
            shape: self.shape.clone(),
            order: self.order,
        }
    }

    /// Bytes of array data that follow the header; `None` when Amber's size rule (spec R42,
    /// [`checked_nbytes`]) refuses the shape, so `.npy` and Amber agree wherever a zero
    /// dimension stands.
    pub fn nbytes(&self) -> Option<u64> {
        checked_nbytes(self.dtype.itemsize(), &self.shape)
    }
}

/// Why a .npy header cannot be read, or an Amber dtype cannot be written as one: a plain
/// sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyError(String);

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NpyError {}

/// Reads a header from `source`, leaving it at the first data byte. Returns the header and its
/// length in bytes.
pub fn read_header(source: &mut impl Read) -> Result<(NpyHeader, u64), NpyError> {
    read_header_text(source).map_err(NpyError)
}

fn read_header_text(source: &mut impl Read) -> Result<(NpyHeader, u64), String> {
    let mut prefix = [0u8; 8];
    read_exact(source, &mut prefix, "the magic and version")?;
    if &prefix[..6] != MAGIC {
        return Err("not a .npy file (the magic bytes \\x93NUMPY are missing)".into());
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (length, utf8) = match major {
        1 => {
            let mut len = [0u8; 2];
            read_exact(source, &mut len, "the header length")?;
            (usize::from(u16::from_le_bytes(len)), false)
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            read_exact(source, &mut len, "the header length")?;
            let len = u32::from_le_bytes(len) as usize;
            (len, major == 3)
        }
        _ => {
            return Err(format!(
                ".npy format version {major}.{minor} is not one of 1.0, 2.0, 3.0"
            ))
        }
    };
    if length > MAX_HEADER_LEN {
        return Err(format!(
            "the header is {length} bytes; at most {MAX_HEADER_LEN} are accepted"
        ));
    }
    let mut text = vec![0u8; length];
    read_exact(source, &mut text, "the header")?;
    let text = if utf8 {
        String::from_utf8(text).map_err(|_| "the version 3 header is not valid UTF-8".to_string())?
    } else {
        text.iter().map(|&b| char::from(b)).collect()
    };
    let prefix_len = if major == 1 { 10 } else { 12 };
    let header = parse_header_text(&text)?;
    Ok((header, (prefix_len + length) as u64))
}

fn read_exact(source: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), String> {
    source.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => format!("the file ends inside {what}"),
        _ => format!("reading {what}: {e}"),
    })
}

fn parse_header_text(text: &str) -> Result<NpyHeader, String> {
    let literal = Parser::new(text).parse_all()?;
    let Literal::Dict(entries) = literal else {
        return Err("the header is not a dict".into());
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, Literal::Str(s) if s == key))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the header has no '{key}' key"))
    };
    let dtype = descr_to_dtype(get("descr")?, 0)?;
    let order = match get("fortran_order")? {
        Literal::Bool(true) => Order::F,
        Literal::Bool(false) => Order::C,
        _ => return Err("'fortran_order' is not True or False".into()),
    };
    let shape = shape_of(get("shape")?).ok_or("'shape' is not a tuple of non-negative integers")?;
    if shape.len() > crate::limits::MAX_NDIM {
        return Err(format!(
            "the array has {} dimensions; Amber allows 64",
            shape.len()
        ));
    }
    if entries.len() != 3 {
        return Err("the header has keys other than 'descr', 'fortran_order' and 'shape'".into());
    }
    Ok(NpyHeader { dtype, shape, order })
}

fn shape_of(literal: &Literal) -> Option<Vec<u64>> {
    match literal {
        Literal::Tuple(items) => items
            .iter()
            .map(|i| match i {
                Literal::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            })
            .collect(),
        Literal::Int(n) => u64::try_from(*n).ok().map(|n| vec![n]),
        _ => None,
    }
}

/// A numpy descr (a type string, or a list of fields) as an Amber dtype.
fn descr_to_dtype(descr: &Literal, depth: usize) -> Result<DType, String> {
    match descr {
        Literal::Str(s) => type_string_to_dtype(s),
        Literal::List(fields) => record_from_fields(fields, depth),
        _ => Err("'descr' is neither a type string nor a list of fields".into()),
    }
}

fn record_from_fields(fields: &[Literal], depth: usize) -> Result<DType, String> {
    if depth > MAX_LITERAL_DEPTH {
        return Err("record dtypes are nested too deeply".into());
    }
    let mut offset: u64 = 0;
    let mut out = Vec::new();
    for field in fields {
        let Literal::Tuple(parts) = field else {
            return Err("a record field is not a tuple".into());
        };
        let (name, descr, shape) = match parts.as_slice() {
            [name, descr] => (name, descr, Vec::new()),
            [name, descr, shape] => (
                name,
                descr,
                shape_of(shape).ok_or("a field's sub-array shape is not a tuple of integers")?,
            ),
            _ => return Err("a record field is not a (name, descr[, shape]) tuple".into()),
        };
        let Literal::Str(name) = name else {
            return Err("a record field has a title or a non-string name, which Amber cannot hold".into());
        };
        let dtype = descr_to_dtype(descr, depth + 1)?;
        let size = checked_nbytes(dtype.itemsize(), &shape).ok_or("a record field's size overflows")?;
        // numpy writes padding as unnamed void fields; they become gaps between Amber fields.
        let is_padding = name.is_empty() && matches!(dtype, DType::Void(_)) && shape.is_empty();
        if !is_padding {
            let field_offset = u32::try_from(offset).map_err(|_| "a record is larger than 2^31 bytes")?;
            out.push(Field {
                name: name.as_str().into(),
                offset: field_offset,
                dtype,
                shape,
            });
        }
        offset = offset.checked_add(size).ok_or("a record's size overflows")?;
    }
    let itemsize = u32::try_from(offset).map_err(|_| "a record is larger than 2^31 bytes")?;
    Ok(DType::record(itemsize, out))
}

/// The Amber dtype of a numpy type string such as `<f8`, `|S3` or `<M8[10s]` (not a record).
/// Big-endian multi-byte types are refused: Amber stores little-endian bytes.
pub fn dtype_from_type_string(s: &str) -> Result<DType, NpyError> {
    type_string_to_dtype(s).map_err(NpyError)
}

fn type_string_to_dtype(s: &str) -> Result<DType, String> {
    let unsupported = || format!("numpy dtype '{s}' has no Amber equivalent");
    let (order, body) = match s.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &s[1..]),
        _ => ('|', s),
    };
    let mut chars = body.chars();
    let kind = chars.next().ok_or_else(unsupported)?;
    let rest = chars.as_str();
    let dtype = match kind {
        'b' if rest == "1" => DType::Bool,
        'i' | 'u' | 'f' | 'c' => {
            // In bits, as Amber's scalar names count them; a hostile size cannot overflow.
            let bits = rest.parse::<u64>().map_err(|_| unsupported())?.saturating_mul(8);
            let name = match kind {
                'i' => format!("int{bits}"),
                'u' => format!("uint{bits}"),
                'f' => format!("float{bits}"),
                _ => format!("complex{bits}"),
            };
            DType::scalar_from_name(&name)
                .filter(|d| !matches!(d, DType::BFloat16))
                .ok_or_else(unsupported)?
        }
        'S' | 'U' | 'V' => {
            let n: u32 = rest.parse().map_err(|_| unsupported())?;
            match kind {
                'S' => DType::Bytes(n),
                'U' => DType::Unicode(n),
                _ => DType::Void(n),
            }
        }
        'M' | 'm' => {
            let unit_part = rest.strip_prefix('8').ok_or_else(unsupported)?;
            let (unit, count) = if unit_part.is_empty() {
                (TimeUnit::Generic, 1)
            } else {
                let inner = unit_part
                    .strip_prefix('[')
                    .and_then(|u| u.strip_suffix(']'))
                    .ok_or_else(unsupported)?;
                let digits = inner.chars().take_while(char::is_ascii_digit).count();
                let count = if digits == 0 {
                    1
                } else {
                    inner[..digits].parse().map_err(|_| unsupported())?
                };
                let unit = TimeUnit::parse(&inner[digits..]).ok_or_else(unsupported)?;
                (unit, count)
            };
            if kind == 'M' {
                DType::Datetime64 { unit, count }
            } else {
                DType::Timedelta64 { unit, count }
            }
        }
        'O' => return Err("the array holds Python objects (dtype 'O'), which only pickle can read".into()),
        _ => return Err(unsupported()),
    };
    if order == '>' && byte_order_matters(&dtype) {
        return Err(format!(
            "numpy dtype '{s}' is big-endian; Amber stores little-endian bytes (convert with \
             arr.astype(arr.dtype.newbyteorder('<')) first)"
        ));
    }
    Ok(dtype)
}

fn byte_order_matters(dtype: &DType) -> bool {
    !matches!(dtype, DType::Bytes(_) | DType::Void(_)) && dtype.itemsize() > 1
}

/// numpy's descr for an Amber dtype, as the Python literal numpy writes (e.g. `'<f8'`, or a
/// list of fields with unnamed `|V` padding), or why there is none.
pub fn dtype_to_descr(dtype: &DType) -> Result<String, NpyError> {
    descr_literal(dtype).map_err(NpyError)
}

fn descr_literal(dtype: &DType) -> Result<String, String> {
    Ok(match dtype {
        DType::Record(record) => record_descr(record)?,
        other => py_str(&type_string_of(other)?),
    })
}

/// numpy's type string for a dtype that is not a record (`<f8`, `|b1`, `<U7`, `<M8[10s]`), or
/// why numpy has none (bfloat16, float8, records).
pub fn type_string(dtype: &DType) -> Result<String, NpyError> {
    type_string_of(dtype).map_err(NpyError)
}

fn type_string_of(dtype: &DType) -> Result<String, String> {
    Ok(match dtype {
        DType::Bool => "|b1".into(),
        DType::Int8 => "|i1".into(),
        DType::UInt8 => "|u1".into(),
        DType::Int16 | DType::Int32 | DType::Int64 => format!("<i{}", dtype.itemsize()),
        DType::UInt16 | DType::UInt32 | DType::UInt64 => format!("<u{}", dtype.itemsize()),
        DType::Float16 | DType::Float32 | DType::Float64 => format!("<f{}", dtype.itemsize()),
        DType::Complex64 | DType::Complex128 => format!("<c{}", dtype.itemsize()),
        DType::Bytes(n) => format!("|S{n}"),
        DType::Unicode(n) => format!("<U{n}"),
        DType::Void(n) => format!("|V{n}"),
        DType::Datetime64 { unit, count } => format!("<M8{}", unit_suffix(*unit, *count)),
        DType::Timedelta64 { unit, count } => format!("<m8{}", unit_suffix(*unit, *count)),
        DType::Record(_) => return Err("a record dtype has a descr list, not a type string".into()),
        other => {
            return Err(format!(
                "dtype {other} has no numpy equivalent (numpy has no {other} type; \
                 convert to .safetensors, or read it with the Amber Python package and ml_dtypes)"
            ))
        }
    })
}

fn unit_suffix(unit: TimeUnit, count: u32) -> String {
    match (unit, count) {
        (TimeUnit::Generic, _) => String::new(),
        (unit, 1) => format!("[{}]", unit.as_str()),
        (unit, n) => format!("[{n}{}]", unit.as_str()),
    }
}

/// numpy's `dtype.descr` for a record: fields in offset order, gaps as `('', '|V<n>')`.
fn record_descr(record: &Arc<RecordType>) -> Result<String, String> {
    let mut parts = Vec::with_capacity(record.fields.len() + 1);
    let mut offset: u64 = 0;
    for field in &record.fields {
        let start = u64::from(field.offset);
        if start < offset {
            return Err(format!(
                "record field '{}' is out of offset order; numpy's .npy descr cannot express that",
                field.name
            ));
        }
        if start > offset {
            parts.push(format!("('', '|V{}')", start - offset));
        }
        let descr = descr_literal(&field.dtype)?;
        parts.push(if field.shape.is_empty() {
            format!("({}, {descr})", py_str(&field.name))
        } else {
            format!("({}, {descr}, {})", py_str(&field.name), py_tuple(&field.shape))
        });
        let size = checked_nbytes(field.dtype.itemsize(), &field.shape)
            .ok_or_else(|| format!("record field '{}' is larger than 2^64 bytes", field.name))?;
        offset = start.saturating_add(size);
    }
    if u64::from(record.itemsize) > offset {
        parts.push(format!("('', '|V{}')", u64::from(record.itemsize) - offset));
    }
    Ok(format!("[{}]", parts.join(", ")))
}

/// Python's `repr` of a tuple of ints: `()`, `(3,)`, `(3, 4)`.
fn py_tuple(items: &[u64]) -> String {
    match items {
        [] => "()".into(),
        [one] => format!("({one},)"),
        many => format!(
            "({})",
            many.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Python's `repr` of a str: single quotes unless the text holds a single quote and no double.
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An upper bound on the length of [`dtype_to_descr`]'s text: field names may quadruple when
/// escaped, and every field and dimension costs a bounded amount of punctuation and digits.
/// Shared sub-records count at every use, as the text repeats them; the reader's
/// `max_record_fields` keeps this walk short.
fn descr_len_bound(dtype: &DType) -> u64 {
    let DType::Record(record) = dtype else {
        return 64;
    };
    record.fields.iter().fold(64, |total: u64, field| {
        let own = (field.name.len() as u64 * 4).saturating_add(64 + field.shape.len() as u64 * 22);
        total
            .saturating_add(own)
            .saturating_add(descr_len_bound(&field.dtype))
    })
}

/// Refuses a header longer than this tool writes, before it is built: a record dtype that shares
/// sub-records, or has long field names, can spell out far more than the Amber file holds.
pub fn check_header_len(header: &NpyHeader) -> Result<(), NpyError> {
    header_len_fits(header).map_err(NpyError)
}

fn header_len_fits(header: &NpyHeader) -> Result<(), String> {
    let bound = descr_len_bound(&header.dtype).saturating_add(header.shape.len() as u64 * 22);
    if bound > MAX_HEADER_LEN as u64 {
        return Err(format!(
            "its .npy header would take up to {bound} bytes, more than the {MAX_HEADER_LEN} this tool \
             writes (numpy itself reads at most 10,000 unless given max_header_size)"
        ));
    }
    Ok(())
}

/// The complete header numpy's `np.save` writes for this array (magic, version, length, dict,
/// padding, newline), or why the dtype has no numpy form.
pub fn encode_header(header: &NpyHeader) -> Result<Vec<u8>, NpyError> {
    encode_header_bytes(header).map_err(NpyError)
}

fn encode_header_bytes(header: &NpyHeader) -> Result<Vec<u8>, String> {
    header_len_fits(header)?;
    let fortran = header.order == Order::F;
    let mut dict = format!(
        "{{'descr': {}, 'fortran_order': {}, 'shape': {}, }}",
        descr_literal(&header.dtype)?,
        if fortran { "True" } else { "False" },
        py_tuple(&header.shape)
    );
    // numpy leaves spare room after the dict so the growing axis can be rewritten in place.
    let growth_axis = if fortran {
        header.shape.last()
    } else {
        header.shape.first()
    };
    if let Some(axis) = growth_axis {
        let digits = axis.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // Version 1.0 when the header fits a u16 length and is Latin-1, else 2.0, else 3.0 (UTF-8).
    let latin1 = dict.chars().all(|c| (c as u32) < 256);
    let text: Vec<u8> = if latin1 {
        dict.chars().map(|c| c as u8).collect()
    } else {
        dict.into_bytes()
    };
    for (major, length_bytes) in [(1u8, 2usize), (2, 4), (3, 4)] {
        if (major < 3) != latin1 {
            continue;
        }
        let unpadded = MAGIC.len() + 2 + length_bytes + text.len() + 1;
        let padding = ARRAY_ALIGN - unpadded % ARRAY_ALIGN;
        let length = text.len() + padding + 1;
        if length_bytes == 2 && length > usize::from(u16::MAX) {
            continue;
        }
        let mut out = Vec::with_capacity(unpadded + padding);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if length_bytes == 2 {
            out.extend_from_slice(&(length as u16).to_le_bytes());
        } else {
            out.extend_from_slice(
                &u32::try_from(length)
                    .map_err(|_| "header too long")?
                    .to_le_bytes(),
            );
        }
        out.extend_from_slice(&text);
        out.extend(std::iter::repeat_n(b' ', padding));
        out.push(b'\n');
        return Ok(out);
    }
    Err("the .npy header would be longer than 4 GiB".into())
}

/// The subset of Python literals numpy writes in headers.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

/// A recursive-descent parser with a depth limit (headers are at most 1 MiB, so 40 levels of
/// recursion is the only stack a hostile header can ask for).
struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser { text, pos: 0 }
    }

    fn parse_all(mut self) -> Result<Literal, String> {
        let value = self.value(0)?;
        self.skip_space();
        if self.pos != self.text.len() {
            return Err(format!(
                "unexpected text after the header dict at byte {}",
                self.pos
            ));
        }
        Ok(value)
    }

    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error(&self, what: &str) -> String {
        format!("malformed header: {what} at byte {}", self.pos)
    }

    fn eat(&mut self, token: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > MAX_LITERAL_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_space();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err(self.error("unexpected end"));
        };
        match first {
            '{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                while !self.eat('}') {
                    let key = self.value(depth + 1)?;
                    if !self.eat(':') {
                        return Err(self.error("expected ':'"));
                    }
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                    if !self.eat(',') {
                        if self.eat('}') {
                            break;
                        }
                        return Err(self.error("expected ',' or '}'"));
                    }
                }
                Ok(Literal::Dict(entries))
            }
            '(' | '[' => {
                self.pos += 1;
                let close = if first == '(' { ')' } else { ']' };
                let mut items = Vec::new();
                let mut trailing_comma = false;
                while !self.eat(close) {
                    items.push(self.value(depth + 1)?);
                    trailing_comma = self.eat(',');
                    if !trailing_comma {
                        if self.eat(close) {
                            break;
                        }
                        return Err(self.error("expected ',' or a closing bracket"));
                    }
                }
                Ok(match first {
                    // `(x)` without a comma is just x in parentheses.
                    '(' if items.len() == 1 && !trailing_comma => items.remove(0),
                    '(' => Literal::Tuple(items),
                    _ => Literal::List(items),
                })
            }
            '\'' | '"' => self.string(first),
            c if c.is_ascii_digit() || c == '-' => {
                let digits = rest
                    .char_indices()
                    .skip(1)
                    .find(|(_, c)| !c.is_ascii_digit())
                    .map_or(rest.len(), |(i, _)| i);
                let n = rest[..digits].parse().map_err(|_| self.error("bad integer"))?;
                self.pos += digits;
                // Python 2 wrote long integers as `3L`.
                if self.rest().starts_with('L') {
                    self.pos += 1;
                }
                Ok(Literal::Int(n))
            }
            _ => {
                for (word, value) in [
                    ("True", Literal::Bool(true)),
                    ("False", Literal::Bool(false)),
                    ("None", Literal::None),
                ] {
                    if rest.starts_with(word) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error("unexpected character"))
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<Literal, String> {
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(Literal::Str(out));
                }
                '\\' => {
                    let Some((_, escaped)) = chars.next() else { break };
                    match escaped {
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'x' | 'u' | 'U' => {
                            let len = match escaped {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = chars.by_ref().take(len).map(|(_, c)| c).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == len)
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("bad escape in a string"))?;
                            out.push(code);
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error("unterminated string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(dtype: DType, shape: &[u64], order: Order) -> NpyHeader {
        NpyHeader {
            dtype,
            shape: shape.to_vec(),
            order,
        }
    }

    #[test]
    fn headers_match_numpys_bytes() {
        // np.save of np.zeros((3, 4)) with numpy 2.x.
        let bytes = encode_header(&header(DType::Float64, &[3, 4], Order::C)).unwrap();
        let text = String::from_utf8(bytes[10..].to_vec()).unwrap();
        assert_eq!(bytes.len(), 128);
        assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
        assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"));
        assert!(text.ends_with(" \n"));
    }

    #[test]
    fn headers_round_trip_through_the_parser() {
        let node = DType::record(
            64,
            vec![
                Field {
                    name: "left_child".into(),
                    offset: 0,
                    dtype: DType::Int64,
                    shape: vec![],
                },
                Field {
                    name: "threshold".into(),
                    offset: 8,
                    dtype: DType::Float64,
                    shape: vec![],
                },
                Field {
                    name: "pair".into(),
                    offset: 16,
                    dtype: DType::Int32,
                    shape: vec![2],
                },
                Field {
                    name: "flag".into(),
                    offset: 56,
                    dtype: DType::UInt8,
                    shape: vec![],
                },
            ],
        );
        for dtype in [
            node,
            DType::Bool,
            DType::Unicode(7),
            DType::Datetime64 {
                unit: TimeUnit::Nanosecond,
                count: 1,
            },
            DType::Timedelta64 {
                unit: TimeUnit::Second,
                count: 10,
            },
            DType::Datetime64 {
                unit: TimeUnit::Generic,
                count: 1,
            },
            DType::Complex128,
        ] {
            for order in [Order::C, Order::F] {
                let original = header(dtype.clone(), &[5, 0, 2], order);
                let bytes = encode_header(&original).unwrap();
                assert_eq!(bytes.len() % 64, 0);
                let (parsed, len) = read_header(&mut bytes.as_slice()).unwrap();
                assert_eq!(len as usize, bytes.len());
                assert_eq!(parsed, original);
            }
        }
    }

    #[test]
    fn sizes_follow_r42_wherever_a_zero_dimension_stands() {
        let big = 1u64 << 40;
        // 8 x 2^80 overflows: refused in every order, as the Amber reader and writer refuse it.
        for shape in [[0, big, big], [big, 0, big], [big, big, 0]] {
            let npy = header(DType::Float64, &shape, Order::C);
            assert_eq!(npy.nbytes(), None, "{shape:?}");
            assert!(npy.spec().nbytes().is_err(), "{shape:?}");
        }
        assert_eq!(header(DType::Float64, &[0, big, 3], Order::C).nbytes(), Some(0));
        assert_eq!(header(DType::Float64, &[2, 3], Order::C).nbytes(), Some(48));
    }

    #[test]
    fn hostile_headers_are_errors() {
        let deep = format!(
            "{{'descr': {}'<f8'{}, 'fortran_order': False, 'shape': (1,)}}",
            "[".repeat(500),
            "]".repeat(500)
        );
        for text in [
            deep.as_str(),
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'fortran_order': 'no', 'shape': (1,)}",
            "{'descr': 'bad",
            "",
        ] {
            assert!(parse_header_text(text).is_err(), "{text}");
        }
        let mut huge = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
        huge.extend_from_slice(b"{}");
        assert!(read_header(&mut huge.as_slice())
            .unwrap_err()
            .0
            .contains("at most"));
        assert!(type_string_to_dtype("<f2").is_ok());
        // A size whose bit count overflows u32 is an unknown type, not an overflow.
        assert!(type_string_to_dtype("<i600000000").is_err());
        assert!(type_string_to_dtype("<i99999999999999999999").is_err());
        assert!(dtype_to_descr(&DType::BFloat16)
            .unwrap_err()
            .0
            .contains("bfloat16"));
    }
}
