//! `amber verify FILE`: every validation rule, every CRC, every compressed block.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::failure::Failure;
use crate::files;
use crate::units::human_bytes;

#[derive(Args)]
pub struct VerifyArgs {
    /// The Amber file.
    file: PathBuf,
}

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let path = &args.file;
    let reader = files::open_amber(path)?;
    let raw: u64 = reader.arrays().map(|a| a.nbytes()).sum();
    let stored: u64 = reader.arrays().map(|a| a.stored_bytes()).sum();
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
