//! `amber render`: the canonical JSON rendering (spec 15), the conformance suite's protocol.

use std::io::Write;
use std::path::Path;

use amberfile::{render, ReadOptions, Reader};

use crate::failure::Failure;

/// Reads FILE into memory (a URL in one request), validates it with the default limits (R1 to
/// R56), and renders it; rendering reads every array in table order (R57 to R60).
pub fn run(path: &Path, store: &crate::files::StoreArgs) -> Result<(), Failure> {
    let bytes = match crate::files::url_of(path) {
        Some(url) => amberfile::remote::read_url(url, store.pairs()?).map_err(|e| Failure::amber(path, e))?,
        None => std::fs::read(path).map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?,
    };
    // The default verification policy checks each extent's CRC when its array is first read,
    // which is the order the spec prescribes for rendering (R57 before R58, array by array).
    let reader =
        Reader::from_bytes(&bytes, ReadOptions::default()).map_err(|error| Failure::amber(path, error))?;
    let mut stdout = std::io::stdout().lock();
    // Streams the rendering; every array is read and checked before the first byte is written.
    render::write_canonical_json(&reader, &mut stdout).map_err(|error| match error.into_io_error() {
        Ok(source) => Failure::stdout(source),
        Err(error) => Failure::amber(path, error),
    })?;
    writeln!(stdout)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Io(format!("writing the rendering: {e}")))
}
