//! Ending a file: the metadata section, then the 32-byte trailer that points at it (spec
//! section 5, mirrors `read/trailer.rs`).

use std::io::Write;

use super::encode::encode;
use super::{metadata, Writer};
use crate::error::{Error, Result};
use crate::format::{crc32, trailer, Trailer, MAGIC};
use crate::graph::Graph;

impl<W: Write> Writer<W> {
    /// Writes the metadata section for `graph` and the trailer, flushes, and returns the sink.
    pub fn finish(mut self, graph: &Graph) -> Result<W> {
        self.check_not_broken()?;
        graph.validate(self.arrays.len())?;
        let metadata = metadata::encode_metadata(graph, &self.dtypes, &self.arrays)?;
        let trailer = encode_trailer(self.position, &metadata);
        self.put(&metadata)?;
        self.put(&trailer)?;
        let position = self.position;
        self.sink.flush().map_err(|e| Error::io(position, e))?;
        Ok(self.sink)
    }
}

/// The trailer for `metadata` written at `metadata_offset`, with both of its CRCs.
fn encode_trailer(metadata_offset: u64, metadata: &[u8]) -> Vec<u8> {
    let mut trailer = Trailer {
        metadata_offset,
        metadata_length: metadata.len() as u64,
        metadata_crc32: crc32(metadata),
        trailer_crc32: 0,
        magic: MAGIC,
    };
    trailer.trailer_crc32 = crc32(&encode(&trailer)[trailer::CRC_COVERS]);
    encode(&trailer)
}
