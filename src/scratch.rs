//! Scratch buffers sized by file values, shared by the read and write sides: allocation fails as
//! an error (never an abort), and a buffer grown past the usual size is not kept for good.

use crate::error::{Error, Result};

/// A zeroed buffer of `len` bytes, or LimitExceeded when the allocator refuses (the size comes
/// from the file, so it must fail as an error, never abort).
pub(crate) fn try_zeroed(len: usize, offset: u64) -> Result<Vec<u8>> {
    // A probe reservation, then `vec!`: its zeroed allocation takes untouched pages from the
    // kernel, where resizing a reserved Vec would write every byte.
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(len)
        .map_err(|_| Error::limit(offset, format!("cannot allocate {len} bytes to decode into")))?;
    drop(probe);
    Ok(vec![0; len])
}

/// Resizes `buf` to `len` zeroed bytes, failing as LimitExceeded when memory is refused.
pub(crate) fn try_resize(buf: &mut Vec<u8>, len: usize, offset: u64) -> Result<()> {
    if let Some(more) = len.checked_sub(buf.len()) {
        buf.try_reserve_exact(more)
            .map_err(|_| Error::limit(offset, format!("cannot allocate {len} bytes to decode into")))?;
    }
    buf.resize(len, 0);
    Ok(())
}

/// Scratch kept between blocks: enough for the default 1 MiB blocks; a buffer grown past it by
/// an unusual block size is freed rather than held by the thread for good.
const KEPT_SCRATCH_BYTES: usize = 4 << 20;

/// Frees `scratch` if it has grown past [`KEPT_SCRATCH_BYTES`].
pub(crate) fn release_if_large(scratch: &mut Vec<u8>) {
    if scratch.capacity() > KEPT_SCRATCH_BYTES {
        *scratch = Vec::new();
    }
}
