//! A bounds-checked cursor over one section of the file (rustls-style): every read either fits
//! in what remains or fails with `Truncated` at the absolute file offset, so a hostile count can
//! never make the parser read past its section or allocate more than the section can back.

use binrw::BinRead;

use crate::error::{Error, Result};

pub(crate) struct ByteCursor<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Absolute file offset of `bytes[0]`, for error messages.
    base: u64,
}

impl<'a> ByteCursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Self {
        ByteCursor {
            bytes,
            position: 0,
            base,
        }
    }

    /// Absolute file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.position as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub(crate) fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::truncated(
                self.offset(),
                format!("{what} needs {len} bytes but {} remain", self.remaining()),
            ));
        };
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    /// Takes `count` items of `item_size` bytes, after checking the remaining bytes back them.
    pub(crate) fn take_items(&mut self, count: u64, item_size: u64, what: &str) -> Result<&'a [u8]> {
        match count.checked_mul(item_size).and_then(|n| usize::try_from(n).ok()) {
            Some(len) => self.take(len, what),
            None => Err(Error::truncated(
                self.offset(),
                format!("{what}: {count} items cannot fit"),
            )),
        }
    }

    /// Fails unless `count` entries of at least `min_size` bytes each could fit in what remains;
    /// called before any allocation sized by `count`.
    pub(crate) fn ensure_backed(&self, count: u64, min_size: u64, what: &str) -> Result<()> {
        if count.saturating_mul(min_size) > self.remaining() as u64 {
            return Err(Error::truncated(
                self.offset(),
                format!(
                    "{count} {what} cannot fit in the {} bytes that remain",
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().unwrap_or([0; N]))
    }

    /// Reads one fixed-size binrw structure.
    pub(crate) fn structure<T>(&mut self, size: u64, what: &str) -> Result<T>
    where
        T: for<'b> BinRead<Args<'b> = ()> + binrw::meta::ReadEndian,
    {
        let offset = self.offset();
        let bytes = self.take(size as usize, what)?;
        T::read(&mut binrw::io::Cursor::new(bytes))
            .map_err(|e| Error::truncated(offset, format!("{what}: {e}")))
    }
}

/// The little-endian u32 at the start of `bytes`, which callers take as whole items (0 if
/// fewer than 4 bytes).
pub(crate) fn le_u32(bytes: &[u8]) -> u32 {
    bytes.first_chunk().map_or(0, |b| u32::from_le_bytes(*b))
}

/// The little-endian u64 at the start of `bytes`, which callers take as whole items (0 if
/// fewer than 8 bytes).
pub(crate) fn le_u64(bytes: &[u8]) -> u64 {
    bytes.first_chunk().map_or(0, |b| u64::from_le_bytes(*b))
}
