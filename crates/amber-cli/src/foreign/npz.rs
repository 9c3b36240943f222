//! .npz archives (numpy's `np.savez`): a zip of `.npy` members, one per named array.
//!
//! Reading accepts stored and deflated members (`np.savez` and `np.savez_compressed`) and
//! streams each member's data into the Amber writer. Writing stores members uncompressed, as
//! `np.savez` does, so arrays can be memory-mapped out of the archive.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use amberfile::npy as npy_header;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::flat::flat_arrays;
use super::{npy, ArraySink};
use crate::failure::Failure;
use crate::files;

/// The archive's members in order, each streamed into `sink` as a named array.
pub fn read_into(input: &Path, sink: &mut impl ArraySink) -> Result<(), Failure> {
    let file = File::open(input).map_err(|e| Failure::io(input, e))?;
    let mut archive = ZipArchive::new(BufReader::new(file))
        .map_err(|e| Failure::invalid_input(input, format!("not a readable .npz (zip) archive: {e}")))?;
    let mut total = 0u64;
    for i in 0..archive.len() {
        let member = archive.by_index_raw(i).map_err(|e| zip_failure(input, e))?;
        total = total.saturating_add(member.size());
    }
    sink.expect_bytes(total);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| zip_failure(input, e))?;
        let member_name = member.name().to_owned();
        let Some(key) = member_name.strip_suffix(".npy") else {
            return Err(Failure::invalid_input(
                input,
                format!("member '{member_name}' is not a .npy array"),
            ));
        };
        let bad = |why: String| Failure::invalid_input(input, format!("member '{member_name}': {why}"));
        let (header, header_len) =
            npy_header::read_header(&mut member).map_err(|why| bad(why.to_string()))?;
        let nbytes = header
            .nbytes()
            .ok_or_else(|| bad("the array's size overflows 64 bits".into()))?;
        if member.size() != header_len.saturating_add(nbytes) {
            return Err(bad(format!(
                "the header declares {nbytes} bytes of data but the member holds {}",
                member.size().saturating_sub(header_len)
            )));
        }
        sink.add_array(Some(key), &header.spec(), (&mut member).take(nbytes))?;
        // Reading to the end makes the zip reader check the member's CRC-32.
        let mut rest = [0u8; 1];
        match member.read(&mut rest) {
            Ok(0) => {}
            Ok(_) => return Err(bad("bytes follow the array data".into())),
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    Ok(())
}

fn zip_failure(input: &Path, error: zip::result::ZipError) -> Failure {
    match error {
        zip::result::ZipError::Io(e) => Failure::io(input, e),
        other => Failure::invalid_input(input, format!("damaged .npz archive: {other}")),
    }
}

/// Writes a flat Amber graph as an .npz: one stored `name.npy` member per array.
pub fn write_from<S: amberfile::ByteSource>(
    reader: &amberfile::Reader<S>,
    fetcher: files::Fetcher,
    (input, output): (&Path, &Path),
) -> Result<(), Failure> {
    let arrays = flat_arrays(reader, input, ".npz", Some("arr_0"), |_, _| Ok(false))?;
    // Check every dtype before writing anything.
    for (name, id) in &arrays {
        let info = reader.array_info(*id).map_err(|e| Failure::amber(input, e))?;
        npy_header::dtype_to_descr(info.dtype()).map_err(|why| {
            Failure::Unrepresentable(format!(
                "{}: array '{name}' cannot be written to .npz: {why}",
                input.display()
            ))
        })?;
    }
    let out = files::create_output(output)?;
    let io = |e: zip::result::ZipError| Failure::Io(format!("{}: {e}", output.display()));
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, out.as_file()));
    let ids: Vec<_> = arrays.iter().map(|(_, id)| *id).collect();
    fetcher.in_runs(&ids, input, |i| {
        let (name, id) = &arrays[i];
        let info = reader.array_info(*id).map_err(|e| Failure::amber(input, e))?;
        // Zip64 sizes for members that may pass 4 GiB (numpy always asks for them).
        let large = info.nbytes() >= u64::from(u32::MAX) - (1 << 20);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(large);
        zip.start_file(format!("{name}.npy"), options).map_err(io)?;
        let what = format!("array '{name}'");
        npy::write_to(reader, fetcher, *id, &mut zip, &what, (input, output))
    })?;
    let mut buffered = zip.finish().map_err(io)?;
    buffered.flush().map_err(|e| Failure::io(output, e))?;
    drop(buffered);
    files::commit_output(out)
}
