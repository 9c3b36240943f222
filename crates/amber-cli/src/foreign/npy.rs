//! .npy files: a header (parsed and written by `amberfile::npy`), then exactly the array's
//! bytes to the end of the file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use amberfile::npy::{self, NpyHeader};
use amberfile::write::AtomicFile;
use amberfile::{ArrayId, Reader};

use super::ArraySink;
use crate::failure::Failure;
use crate::files;

/// Streams the one array of the .npy file `input` into `sink`, unnamed.
pub fn read_into(input: &Path, sink: &mut impl ArraySink) -> Result<(), Failure> {
    let file = File::open(input).map_err(|e| Failure::io(input, e))?;
    let file_len = file.metadata().map_err(|e| Failure::io(input, e))?.len();
    let mut source = io::BufReader::with_capacity(1 << 20, file);
    let (header, header_len) =
        npy::read_header(&mut source).map_err(|why| Failure::invalid_input(input, why.to_string()))?;
    let nbytes = header
        .nbytes()
        .ok_or_else(|| Failure::invalid_input(input, "the array's size overflows 64 bits"))?;
    let data_len = file_len.saturating_sub(header_len);
    if data_len != nbytes {
        let relation = if data_len < nbytes {
            "is truncated"
        } else {
            "has trailing bytes"
        };
        return Err(Failure::invalid_input(
            input,
            format!(
                "the file {relation}: the header declares {nbytes} bytes of data, the file holds {data_len}"
            ),
        ));
    }
    sink.expect_bytes(nbytes);
    sink.add_array(None, &header.spec(), source.take(nbytes))
}

/// Writes array `id` as a complete .npy file to `output`'s temporary file.
pub fn write<S: amberfile::ByteSource>(
    reader: &Reader<S>,
    fetcher: files::Fetcher,
    id: ArrayId,
    source: &Path,
    output: &AtomicFile,
    what: &str,
) -> Result<(), Failure> {
    let mut sink = BufWriter::with_capacity(1 << 20, output.as_file());
    write_to(reader, fetcher, id, &mut sink, what, (source, output.target()))?;
    sink.flush().map_err(|e| Failure::io(output.target(), e))
}

/// Writes the header and the array's logical bytes to `sink`, in bounded memory. `files` are
/// the Amber file (named in errors about its content) and the output (named in I/O errors).
pub fn write_to<S: amberfile::ByteSource>(
    reader: &Reader<S>,
    fetcher: files::Fetcher,
    id: ArrayId,
    sink: &mut impl Write,
    what: &str,
    (source, target): (&Path, &Path),
) -> Result<(), Failure> {
    let info = reader.array_info(id).map_err(|e| Failure::amber(source, e))?;
    let header = NpyHeader {
        dtype: info.dtype().clone(),
        shape: info.shape().to_vec(),
        order: info.order(),
    };
    npy::check_header_len(&header)
        .map_err(|why| Failure::OverLimit(format!("{what} cannot be written to .npy: {why}")))?;
    let encoded = npy::encode_header(&header)
        .map_err(|why| Failure::Unrepresentable(format!("{what} cannot be written to .npy: {why}")))?;
    sink.write_all(&encoded).map_err(|e| Failure::io(target, e))?;
    let bar = files::progress(info.nbytes(), "extract");
    let streamed = fetcher.stream_array(reader, id, sink, &bar, (source, target));
    bar.finish_and_clear();
    streamed
}
