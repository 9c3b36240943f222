//! .safetensors files: an 8-byte header length, a JSON header, then the tensors' bytes.
//!
//! The header is parsed with a size cap and every tensor's offsets are checked against its
//! dtype and shape and against the data section, which the tensors must cover exactly (as the
//! safetensors library requires). Writing reproduces the library's layout: `__metadata__`
//! first, then tensors in data order, compact JSON padded with spaces to 8 bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use amberfile::dtype::checked_nbytes;
use amberfile::{ArraySpec, DType, Order};
use serde_json::Value as Json;

use super::flat::flat_arrays;
use super::ArraySink;
use crate::failure::Failure;
use crate::files;

/// The reserved header key for string metadata, kept as a map of strings in Amber.
const METADATA_KEY: &str = "__metadata__";
/// Largest header accepted (the safetensors library's own limit is 100 MB).
const MAX_HEADER_LEN: u64 = 100_000_000;

/// safetensors dtype names and their Amber dtypes.
const DTYPES: [(&str, DType); 16] = [
    ("BOOL", DType::Bool),
    ("U8", DType::UInt8),
    ("I8", DType::Int8),
    ("F8_E5M2", DType::Float8E5M2),
    ("F8_E4M3", DType::Float8E4M3FN),
    ("I16", DType::Int16),
    ("U16", DType::UInt16),
    ("F16", DType::Float16),
    ("BF16", DType::BFloat16),
    ("I32", DType::Int32),
    ("U32", DType::UInt32),
    ("F32", DType::Float32),
    ("C64", DType::Complex64),
    ("F64", DType::Float64),
    ("I64", DType::Int64),
    ("U64", DType::UInt64),
];

struct TensorEntry {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
    begin: u64,
    end: u64,
}

/// Streams every tensor, in data order, into `sink`, after the `__metadata__` map if any.
pub fn read_into(input: &Path, sink: &mut impl ArraySink) -> Result<(), Failure> {
    let bad = |why: String| Failure::invalid_input(input, why);
    let file = File::open(input).map_err(|e| Failure::io(input, e))?;
    let file_len = file.metadata().map_err(|e| Failure::io(input, e))?.len();
    let mut source = BufReader::with_capacity(1 << 20, file);
    let mut length = [0u8; 8];
    source
        .read_exact(&mut length)
        .map_err(|_| bad("shorter than the 8-byte header length".into()))?;
    let header_len = u64::from_le_bytes(length);
    if header_len > MAX_HEADER_LEN || header_len > file_len - 8 {
        return Err(bad(format!(
            "the header length {header_len} is larger than the file or the {MAX_HEADER_LEN}-byte limit"
        )));
    }
    let mut text = vec![0u8; header_len as usize];
    source.read_exact(&mut text).map_err(|e| Failure::io(input, e))?;
    let header: Json =
        serde_json::from_slice(&text).map_err(|e| bad(format!("the header is not valid JSON: {e}")))?;
    let Json::Object(fields) = header else {
        return Err(bad("the header is not a JSON object".into()));
    };
    let data_start = 8 + header_len;
    let data_len = file_len - data_start;
    let mut tensors = Vec::with_capacity(fields.len());
    for (name, value) in &fields {
        if name == METADATA_KEY {
            let strings =
                metadata_strings(value).ok_or_else(|| bad("__metadata__ is not a map of strings".into()))?;
            sink.add_strings(METADATA_KEY, strings);
            continue;
        }
        tensors.push(tensor_entry(name, value).map_err(|why| bad(format!("tensor '{name}': {why}")))?);
    }
    tensors.sort_by_key(|t| (t.begin, t.end));
    let mut expected = 0u64;
    for t in &tensors {
        if t.begin != expected {
            return Err(bad(format!(
                "tensor '{}' starts at data offset {} where {expected} was expected (gap or overlap)",
                t.name, t.begin
            )));
        }
        expected = t.end;
    }
    if expected != data_len {
        return Err(bad(format!(
            "the tensors cover {expected} bytes but the data section holds {data_len}"
        )));
    }
    sink.expect_bytes(data_len);
    for t in tensors {
        source
            .seek(SeekFrom::Start(data_start + t.begin))
            .map_err(|e| Failure::io(input, e))?;
        let spec = ArraySpec {
            dtype: t.dtype,
            shape: t.shape,
            order: Order::C,
        };
        sink.add_array(Some(&t.name), &spec, (&mut source).take(t.end - t.begin))?;
    }
    Ok(())
}

fn metadata_strings(value: &Json) -> Option<Vec<(String, String)>> {
    value
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

fn tensor_entry(name: &str, value: &Json) -> Result<TensorEntry, String> {
    let dtype_name = value["dtype"].as_str().ok_or("no dtype string")?;
    let dtype = DTYPES
        .iter()
        .find(|(n, _)| *n == dtype_name)
        .map(|(_, d)| d.clone())
        .ok_or_else(|| format!("dtype {dtype_name} has no Amber equivalent"))?;
    let shape: Vec<u64> = value["shape"]
        .as_array()
        .ok_or("no shape list")?
        .iter()
        .map(|d| d.as_u64().ok_or("a dimension is not a non-negative integer"))
        .collect::<Result<_, _>>()?;
    if shape.len() > amberfile::limits::MAX_NDIM {
        return Err(format!("{} dimensions; Amber allows 64", shape.len()));
    }
    let offsets = value["data_offsets"].as_array().ok_or("no data_offsets")?;
    let [begin, end] = offsets.as_slice() else {
        return Err("data_offsets is not [begin, end]".into());
    };
    let (begin, end) = (
        begin.as_u64().ok_or("a data offset is not an integer")?,
        end.as_u64().ok_or("a data offset is not an integer")?,
    );
    let nbytes = checked_nbytes(dtype.itemsize(), &shape).ok_or("the size overflows 64 bits")?;
    if end < begin || end - begin != nbytes {
        return Err(format!(
            "data_offsets [{begin}, {end}] do not span the {nbytes} bytes its dtype and shape need"
        ));
    }
    Ok(TensorEntry {
        name: name.to_owned(),
        dtype,
        shape,
        begin,
        end,
    })
}

/// Writes a flat Amber graph (string keys to arrays, plus an optional `__metadata__` map of
/// strings) as a .safetensors file, tensors in the map's order.
pub fn write_from<S: amberfile::ByteSource>(
    reader: &amberfile::Reader<S>,
    fetcher: files::Fetcher,
    (input, output): (&Path, &Path),
) -> Result<(), Failure> {
    let graph = reader.graph();
    let mut metadata = None;
    let cannot = |why: String| Failure::Unrepresentable(format!("{}: {why}", input.display()));
    let arrays = flat_arrays(reader, input, ".safetensors", None, |name, value| {
        if name != METADATA_KEY {
            return Ok(false);
        }
        let strings = graph
            .get(value)
            .and_then(|n| n.as_map())
            .and_then(|entries| {
                entries
                    .iter()
                    .map(|[k, v]| Some((graph.get(*k)?.as_str()?, graph.get(*v)?.as_str()?)))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| cannot("'__metadata__' must be a map of strings to strings".into()))?;
        metadata = Some(strings);
        Ok(true)
    })?;
    let mut header = String::from("{");
    if let Some(strings) = &metadata {
        header.push_str(&format!("{}:{{", json_str(METADATA_KEY)));
        let pairs: Vec<String> = strings
            .iter()
            .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
            .collect();
        header.push_str(&pairs.join(","));
        header.push('}');
    }
    let mut offset = 0u64;
    for (i, (name, id)) in arrays.iter().enumerate() {
        let info = reader.array_info(*id).map_err(|e| Failure::amber(input, e))?;
        let dtype_name = DTYPES
            .iter()
            .find(|(_, d)| d == info.dtype())
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                cannot(format!(
                    "array '{name}' has dtype {}, which safetensors has no type for",
                    info.dtype()
                ))
            })?;
        // Fortran order is only representable when it lays the bytes out as C order would.
        if info.order() == Order::F && info.shape().iter().filter(|&&d| d > 1).count() > 1 {
            return Err(cannot(format!(
                "array '{name}' is in Fortran order; safetensors stores C order only"
            )));
        }
        let shape: Vec<String> = info.shape().iter().map(u64::to_string).collect();
        if i > 0 || metadata.is_some() {
            header.push(',');
        }
        header.push_str(&format!(
            "{}:{{\"dtype\":\"{dtype_name}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            json_str(name),
            shape.join(","),
            offset + info.nbytes()
        ));
        offset += info.nbytes();
    }
    header.push('}');
    header.push_str(&" ".repeat((8 - header.len() % 8) % 8));

    let out = files::create_output(output)?;
    let mut sink = BufWriter::with_capacity(1 << 20, out.as_file());
    let io = |e| Failure::io(output, e);
    sink.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    sink.write_all(header.as_bytes()).map_err(io)?;
    let bar = files::progress(offset, "convert");
    let ids: Vec<_> = arrays.iter().map(|(_, id)| *id).collect();
    fetcher.in_runs(&ids, input, |i| {
        fetcher.stream_array(reader, ids[i], &mut sink, &bar, (input, output))
    })?;
    bar.finish_and_clear();
    sink.flush().map_err(io)?;
    drop(sink);
    files::commit_output(out)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}
