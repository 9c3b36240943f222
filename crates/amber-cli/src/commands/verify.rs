//! `amber verify FILE`: every validation rule, every CRC, every compressed block. A remote file
//! is streamed once, in one request, and checked as it arrives.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::failure::Failure;
use crate::files;
use crate::units::human_bytes;

#[derive(Args)]
pub struct VerifyArgs {
    /// The Amber file: a path, or a URL (s3://, gs://, az://, http(s)://, file://).
    file: PathBuf,
}

pub fn run(args: &VerifyArgs, store: &files::StoreArgs) -> Result<(), Failure> {
    let path = &args.file;
    match files::open_input(path, store)? {
        files::Input::Local(reader) => verify_local(&reader, path),
        files::Input::Remote(remote) => {
            remote.verify().map_err(|e| Failure::amber(path, e))?;
            summary(remote.reader(), path)
        }
    }
}

fn verify_local(reader: &amberfile::Reader<memmap2::Mmap>, path: &std::path::Path) -> Result<(), Failure> {
    let raw: u64 = reader.arrays().map(|a| a.nbytes()).sum();
    let bar = files::progress(raw, "verify");
    let checked = if bar.is_hidden() {
        reader.verify()
    } else {
        // The same checks as Reader::verify, array by array so the bar can move: reading an
        // array checks its CRCs first, and every compressed block is decoded.
        reader.arrays().try_for_each(|info| {
            reader.for_each_chunk(info.id(), |chunk| {
                bar.inc(chunk.len() as u64);
                Ok(())
            })
        })
    };
    bar.finish_and_clear();
    checked.map_err(|e| Failure::amber(path, e))?;
    summary(reader, path)
}

fn summary<S: amberfile::ByteSource>(
    reader: &amberfile::Reader<S>,
    path: &std::path::Path,
) -> Result<(), Failure> {
    let raw: u64 = reader.arrays().map(|a| a.nbytes()).sum();
    let stored: u64 = reader.arrays().map(|a| a.stored_bytes()).sum();
    writeln!(
        std::io::stdout(),
        "{}: OK: {} nodes, {} arrays, {} of array data ({} stored); every rule, CRC and block checked",
        path.display(),
        reader.graph().len(),
        reader.array_count(),
        human_bytes(raw),
        human_bytes(stored),
    )
    .map_err(Failure::stdout)
}
