//! Where each extent goes: the layout walk of spec 4.2 run forward. The writer's position is the
//! walk's cursor; a raw extent starts at the next multiple of the alignment after zero padding,
//! and a compressed block right where the previous extent ended (mirrors `read/layout.rs`).

use std::io::Write;

use super::Writer;
use crate::error::{Error, Result};
use crate::format::align_up;

impl<W: Write> Writer<W> {
    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Appends `bytes` at the cursor.
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let position = self.position;
        self.sink.write_all(bytes).map_err(|e| Error::io(position, e))?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Zero padding up to where the next raw extent must start (R53, R55).
    pub(super) fn pad_to_alignment(&mut self) -> Result<()> {
        const ZEROS: [u8; 4096] = [0; 4096];
        let target = align_up(self.position, u64::from(self.options.alignment))
            .ok_or_else(|| Error::limit(self.position, "file too large"))?;
        let mut remaining = target - self.position;
        while remaining > 0 {
            let n = remaining.min(ZEROS.len() as u64) as usize;
            self.put(&ZEROS[..n])?;
            remaining -= n as u64;
        }
        Ok(())
    }
}
