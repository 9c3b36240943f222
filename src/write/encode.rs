//! Little-endian encoding shared by the header, trailer and metadata encoders: the writer's
//! counterpart of the reader's byte cursor.

use binrw::BinWrite;

use crate::error::{Error, Result};

/// The bytes of one of `format`'s fixed-size structures.
pub(super) fn encode<T>(value: &T) -> Vec<u8>
where
    T: for<'a> BinWrite<Args<'a> = ()> + binrw::meta::WriteEndian,
{
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = value.write(&mut binrw::io::NoSeek::new(&mut out));
    out
}

pub(super) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A u32 length prefix, or LimitExceeded for a length the format cannot state.
pub(super) fn put_len(out: &mut Vec<u8>, len: usize) -> Result<()> {
    let len = u32::try_from(len)
        .map_err(|_| Error::limit(None, "a string, list or byte string is longer than 2^32-1"))?;
    put_u32(out, len);
    Ok(())
}
