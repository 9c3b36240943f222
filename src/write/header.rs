//! Starting a file: the writer's options checked as the reader will check the header (R6) and
//! the array table (R44), then the 64-byte header (spec section 3, mirrors `read/header.rs`).

use std::io::Write;

use super::encode::encode;
use super::{metadata, WriteOptions, Writer};
use crate::error::{Error, Result};
use crate::format::{crc32, header, Header, HEADER_LEN, MAGIC, VERSION_MAJOR, VERSION_MINOR};
use crate::limits::{MAX_ALIGNMENT, MIN_ALIGNMENT};

impl<W: Write> Writer<W> {
    /// Starts a file: validates the options and writes the header.
    pub fn new(sink: W, options: WriteOptions) -> Result<Self> {
        check_alignment(options.alignment)?;
        metadata::check_block_size_option(options.block_size)?;
        let header = encode_header(options.alignment);
        let mut writer = Writer {
            sink,
            position: 0,
            options,
            dtypes: Default::default(),
            arrays: Vec::new(),
            broken_at: None,
        };
        writer.put(&header)?;
        Ok(writer)
    }
}

/// The reader's rule R6 on the header's alignment, applied to the option it comes from.
fn check_alignment(alignment: u32) -> Result<()> {
    if !alignment.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&alignment) {
        return Err(Error::invalid_options(
            None,
            format!("alignment {alignment} is not a power of two in 64..=2^24"),
        ));
    }
    Ok(())
}

/// Version 1.0, no feature bits, zero reserved bytes (spec 13.1), and the header's own CRC.
fn encode_header(alignment: u32) -> Vec<u8> {
    let mut header = Header {
        magic: MAGIC,
        version_major: VERSION_MAJOR,
        version_minor: VERSION_MINOR,
        alignment,
        required_features: 0,
        optional_features: 0,
        reserved: Default::default(),
        header_crc32: 0,
    };
    header.header_crc32 = crc32(&encode(&header)[header::CRC_COVERS]);
    let bytes = encode(&header);
    debug_assert_eq!(bytes.len() as u64, HEADER_LEN);
    bytes
}
