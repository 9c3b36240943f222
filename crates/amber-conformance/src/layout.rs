//! A valid file taken apart, so a corruption can change one field and put the file back together.
//!
//! [`Parts`] holds the header, data region, metadata section and trailer separately. A
//! corruption edits them (using [`MetadataMap`], the offsets of every structure of a valid
//! metadata section); [`Parts::assemble`] then recomputes every CRC and trailer field, so the
//! intended rule is the first one the file breaks. Cases that break a CRC on purpose do so after
//! assembly.

use amberfile::format::crc32;

pub const HEADER_LEN: usize = 64;
pub const TRAILER_LEN: usize = 32;

/// Where each structure of a metadata section starts, relative to the section.
#[derive(Debug, Clone, Default)]
pub struct MetadataMap {
    /// Offset of each string's length field.
    pub strings: Vec<usize>,
    /// Offset of each dtype entry's code byte.
    pub dtypes: Vec<usize>,
    pub arrays: Vec<ArrayMap>,
    /// Offset of each node's kind byte.
    pub nodes: Vec<usize>,
    /// Offsets of the tables' starts and the end of the node table.
    pub dtype_table: usize,
    pub array_table: usize,
    pub node_table: usize,
    pub end: usize,
}

/// Where the fields of one array-table entry are.
#[derive(Debug, Clone, Default)]
pub struct ArrayMap {
    pub entry: usize,
    pub shape: usize,
    pub block_size: usize,
    pub extent_count: usize,
    /// Offset of each extent record.
    pub extents: Vec<usize>,
}

impl ArrayMap {
    pub fn order(&self) -> usize {
        self.entry + 4
    }
    pub fn codec(&self) -> usize {
        self.entry + 5
    }
    pub fn filter(&self) -> usize {
        self.entry + 6
    }
    pub fn ndim_field(&self) -> usize {
        self.entry + 7
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Maps a metadata section that is known to be valid (the generator's own output).
pub fn map_metadata(m: &[u8]) -> MetadataMap {
    let count = |i: usize| u32_at(m, 4 * i) as usize;
    let (string_count, dtype_count, array_count, node_count) = (count(0), count(1), count(2), count(3));
    let mut map = MetadataMap::default();
    let mut at = 20;
    for _ in 0..string_count {
        map.strings.push(at);
        at += 4 + u32_at(m, at) as usize;
    }
    map.dtype_table = at;
    for _ in 0..dtype_count {
        map.dtypes.push(at);
        at += match m[at] {
            32..=34 => 5,
            35 | 36 => 6,
            48 => {
                let fields = u32_at(m, at + 5) as usize;
                let mut field = at + 9;
                for _ in 0..fields {
                    field += 13 + 8 * usize::from(m[field + 12]);
                }
                field - at
            }
            _ => 1,
        };
    }
    map.array_table = at;
    for _ in 0..array_count {
        let ndim = m[at + 7];
        let shape = at + 8;
        let block_size = shape + 8 * usize::from(ndim);
        let extent_count = block_size + 8;
        let extents = (0..u32_at(m, extent_count) as usize)
            .map(|i| extent_count + 4 + 20 * i)
            .collect::<Vec<_>>();
        let next = extent_count + 4 + 20 * extents.len();
        map.arrays.push(ArrayMap {
            entry: at,
            shape,
            block_size,
            extent_count,
            extents,
        });
        at = next;
    }
    map.node_table = at;
    for _ in 0..node_count {
        map.nodes.push(at);
        at += match m[at] {
            0 => 1,
            1 => 2,
            2 | 4 => 9,
            5 => 17,
            3 | 7 => 5 + u32_at(m, at + 1) as usize,
            6 | 13 | 16 => 5,
            8..=11 => 5 + 4 * u32_at(m, at + 1) as usize,
            12 => 5 + 8 * u32_at(m, at + 1) as usize,
            14 => {
                let ndim = usize::from(m[at + 2]);
                let n: u64 = (0..ndim).map(|d| u64_at(m, at + 3 + 8 * d)).product();
                3 + 8 * ndim + 4 * n as usize
            }
            15 => 13,
            kind => panic!("unknown node kind {kind} in a generated file"),
        };
    }
    map.end = at;
    map
}

/// A file taken apart. See the module docs.
#[derive(Debug, Clone)]
pub struct Parts {
    pub header: Vec<u8>,
    pub data: Vec<u8>,
    pub metadata: Vec<u8>,
    /// Overrides for the trailer's metadata_offset and metadata_length (else derived).
    pub metadata_offset: Option<u64>,
    pub metadata_length: Option<u64>,
}

impl Parts {
    pub fn split(file: &[u8]) -> Parts {
        let trailer = &file[file.len() - TRAILER_LEN..];
        let metadata_offset = u64_at(trailer, 0) as usize;
        Parts {
            header: file[..HEADER_LEN].to_vec(),
            data: file[HEADER_LEN..metadata_offset].to_vec(),
            metadata: file[metadata_offset..file.len() - TRAILER_LEN].to_vec(),
            metadata_offset: None,
            metadata_length: None,
        }
    }

    pub fn map(&self) -> MetadataMap {
        map_metadata(&self.metadata)
    }

    pub fn set_u8(&mut self, at: usize, value: u8) {
        self.metadata[at] = value;
    }

    pub fn set_u32(&mut self, at: usize, value: u32) {
        self.metadata[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_u64(&mut self, at: usize, value: u64) {
        self.metadata[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    pub fn get_u32(&self, at: usize) -> u32 {
        u32_at(&self.metadata, at)
    }

    pub fn get_u64(&self, at: usize) -> u64 {
        u64_at(&self.metadata, at)
    }

    pub fn set_header_u16(&mut self, at: usize, value: u16) {
        self.header[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_header_u32(&mut self, at: usize, value: u32) {
        self.header[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_header_u64(&mut self, at: usize, value: u64) {
        self.header[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Every extent record: (record offset in the metadata, absolute offset, stored length).
    pub fn extent_records(&self) -> Vec<(usize, u64, u64)> {
        self.map()
            .arrays
            .iter()
            .flat_map(|a| a.extents.clone())
            .map(|record| (record, self.get_u64(record), self.get_u64(record + 8)))
            .collect()
    }

    /// Inserts bytes into the data region at absolute offset `at`, moving every extent that
    /// starts at or after it (the metadata moves with the data region's end).
    pub fn insert_data(&mut self, at: u64, bytes: &[u8]) {
        for (record, offset, _) in self.extent_records() {
            if offset >= at {
                self.set_u64(record, offset + bytes.len() as u64);
            }
        }
        let index = at as usize - HEADER_LEN;
        self.data.splice(index..index, bytes.iter().copied());
    }

    /// Replaces the stored bytes of the last extent in the data region (it must end the region)
    /// and updates its record's stored length.
    pub fn replace_last_extent(&mut self, stored: &[u8]) {
        let (record, offset, length) = *self.extent_records().last().expect("the file has an extent");
        assert_eq!(offset + length, (HEADER_LEN + self.data.len()) as u64);
        self.data.truncate(offset as usize - HEADER_LEN);
        self.data.extend_from_slice(stored);
        self.set_u64(record + 8, stored.len() as u64);
        self.set_u32(record + 16, crc32(stored));
    }

    /// The file, with the header, metadata and trailer CRCs and the trailer's fields recomputed
    /// (except overridden trailer fields). Cases that break a CRC do so after assembly.
    pub fn assemble(mut self) -> Vec<u8> {
        let crc = crc32(&self.header[..60]);
        self.header[60..64].copy_from_slice(&crc.to_le_bytes());
        let mut file = self.header.clone();
        file.extend_from_slice(&self.data);
        let derived_offset = file.len() as u64;
        file.extend_from_slice(&self.metadata);
        let mut trailer = Vec::with_capacity(TRAILER_LEN);
        trailer.extend_from_slice(&self.metadata_offset.unwrap_or(derived_offset).to_le_bytes());
        trailer.extend_from_slice(
            &self
                .metadata_length
                .unwrap_or(self.metadata.len() as u64)
                .to_le_bytes(),
        );
        trailer.extend_from_slice(&crc32(&self.metadata).to_le_bytes());
        let trailer_crc = crc32(&trailer);
        trailer.extend_from_slice(&trailer_crc.to_le_bytes());
        trailer.extend_from_slice(&amberfile::format::MAGIC);
        file.extend_from_slice(&trailer);
        file
    }

    /// Recomputes the CRC of every extent that lies inside the data region, for corruptions that
    /// move extents: the CRC then matches the bytes the record now points at.
    pub fn fix_extent_crcs(&mut self) {
        let data_end = (HEADER_LEN + self.data.len()) as u64;
        for (record, offset, length) in self.extent_records() {
            let end = offset.checked_add(length);
            if offset >= HEADER_LEN as u64 && end.is_some_and(|end| end <= data_end) {
                let start = offset as usize - HEADER_LEN;
                let crc = crc32(&self.data[start..start + length as usize]);
                self.set_u32(record + 16, crc);
            }
        }
    }
}
