//! Layer 1: [`Metadata`], the validated description of a file, built from its header, its
//! trailer and its metadata section alone.
//!
//! One pass in spec order, no recursion: the header (R1 to R7), the trailer (R8 to R13), then the
//! string, dtype, array and node tables (R14 to R52, one file per table), then the structural
//! part of the layout walk (R53, R54, R56). Every count is checked against the reader's limits
//! and against the bytes that remain before anything is allocated; every index is range-checked.
//! No byte of the data region is read: the rules that need those (R55 and up) belong to the
//! [`Reader`](super::Reader).

mod arrays;
mod dtypes;
mod nodes;
mod strings;

pub use arrays::ArrayEntry;

use std::borrow::Cow;

use super::cursor::ByteCursor;
use super::source::{fetch, ByteSource, Window};
use super::{header, layout, trailer, ArrayInfo};
use crate::error::{Error, Result};
use crate::format::tables::METADATA_ROOT_OFFSET;
use crate::format::{
    is_newer_minor, Header, MetadataHeader, StoredExtent, Trailer, HEADER_LEN, METADATA_HEADER_LEN,
    TRAILER_LEN,
};
use crate::graph::{ArrayId, Graph, GraphBuilder, NodeId};
use crate::limits::Limits;

/// A file's header, trailer, object graph and array table, validated: rules R1 to R54 and R56
/// hold. Owned, so it outlives the bytes it was read from; a [`Reader`](super::Reader) pairs one
/// with the source of the data.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub(super) header: Header,
    pub(super) trailer: Trailer,
    pub(super) graph: Graph,
    pub(super) arrays: Vec<ArrayEntry>,
    /// Every array's dimensions, end to end: one allocation instead of one per array.
    pub(super) dims: Vec<u64>,
    /// Every array's extents, in table order, which the layout walk makes file order.
    pub(super) extents: Vec<StoredExtent>,
}

/// Metadata whose sections are parsed (R1 to R52) but whose layout is not yet walked: only
/// [`layout`] turns it into a [`Metadata`].
pub(super) struct Unwalked(pub(super) Metadata);

impl Unwalked {
    /// The extents the walk will check, for readers that stream the data region meanwhile.
    pub(super) fn extents(&self) -> &[StoredExtent] {
        &self.0.extents
    }
}

impl Metadata {
    /// Validates the file behind `source`, reading exactly its trailer, its header and its
    /// metadata section (in that order; the first two in one
    /// [`read_ranges`](ByteSource::read_ranges) call) and no byte of the data region.
    pub fn from_source<S: ByteSource + ?Sized>(source: &S, limits: &Limits) -> Result<Metadata> {
        layout::check_structure(parse(source, limits)?)
    }

    /// The file header (validated: magic, version, features, alignment, CRC).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The trailer: where the metadata section lies, and its CRC.
    pub fn trailer(&self) -> &Trailer {
        &self.trailer
    }

    /// The length of the file described: R11 makes the metadata section end where the trailer
    /// starts, so this cannot overflow.
    pub fn file_len(&self) -> u64 {
        self.trailer.metadata_offset + self.trailer.metadata_length + TRAILER_LEN
    }

    /// The object graph (every index in range).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The root node of the graph.
    pub fn root(&self) -> NodeId {
        self.graph.root().unwrap_or_default()
    }

    /// Entries in the array table.
    pub fn array_count(&self) -> usize {
        self.arrays.len()
    }

    /// Every array's table entry, in table (and file) order.
    pub fn arrays(&self) -> impl ExactSizeIterator<Item = ArrayInfo<'_>> + '_ {
        (0..self.arrays.len()).map(|i| self.info_unchecked(i))
    }

    /// The table entry of array `id`.
    pub fn array_info(&self, id: ArrayId) -> Result<ArrayInfo<'_>> {
        if id.index() >= self.arrays.len() {
            return Err(Error::invalid_index(
                None,
                format!("array {} is not in this file", id.0),
            ));
        }
        Ok(self.info_unchecked(id.index()))
    }

    /// Every stored extent of every array, in file order.
    pub fn extents(&self) -> &[StoredExtent] {
        &self.extents
    }

    fn info_unchecked(&self, index: usize) -> ArrayInfo<'_> {
        let entry = &self.arrays[index];
        ArrayInfo {
            id: ArrayId(index as u32),
            entry,
            shape: &self.dims[entry.shape.clone()],
            extents: &self.extents[entry.extents.clone()],
        }
    }
}

/// Rules R1 to R52, fetching from `source` the trailer and the header (one request), then the
/// metadata section: nothing else.
pub(super) fn parse<S: ByteSource + ?Sized>(source: &S, limits: &Limits) -> Result<Unwalked> {
    let len = source.file_len()?;
    header::check_file_len(len)?;
    let trailer_start = len - TRAILER_LEN;
    let mut fixed = [0u8; (HEADER_LEN + TRAILER_LEN) as usize];
    let (header_bytes, trailer_bytes): (&[u8], &[u8]) = match source.in_memory() {
        Some(file) => {
            let file = Window::whole_file(file);
            (
                file.range(0, HEADER_LEN)?,
                file.range(trailer_start, TRAILER_LEN)?,
            )
        }
        None => {
            let (head, tail) = fixed.split_at_mut(HEADER_LEN as usize);
            source.read_ranges(&mut [(trailer_start, &mut *tail), (0, &mut *head)])?;
            (head, tail)
        }
    };
    let header = header::check_header(header_bytes)?;
    let trailer = trailer::check_trailer(trailer_bytes, len, limits)?;
    let section: Cow<'_, [u8]> = fetch(source, trailer.metadata_offset, trailer.metadata_length)?;
    trailer::check_metadata_crc(&trailer, &section)?;
    let tables = parse_tables(&section, trailer.metadata_offset, header.version_minor, limits)?;
    Ok(Unwalked(Metadata {
        header,
        trailer,
        graph: tables.graph,
        arrays: tables.arrays,
        dims: tables.dims,
        extents: tables.extents,
    }))
}

/// What the metadata section's tables hold.
struct Tables {
    graph: Graph,
    arrays: Vec<ArrayEntry>,
    dims: Vec<u64>,
    extents: Vec<StoredExtent>,
}

/// Reads a one-byte registry code and looks it up; a code the registry does not define is
/// `unknown(code)`, after the byte itself was read (a missing byte is Truncated first).
fn registry_code<T>(
    r: &mut ByteCursor<'_>,
    what: &str,
    lookup: impl FnOnce(u8) -> Option<T>,
    unknown: impl FnOnce(u8) -> Error,
) -> Result<T> {
    let code = r.u8(what)?;
    lookup(code).ok_or_else(|| unknown(code))
}

/// Rules R14 to R52 over the metadata section's `bytes`, which start at file offset `base`.
fn parse_tables(bytes: &[u8], base: u64, minor: u16, limits: &Limits) -> Result<Tables> {
    let mut r = ByteCursor::new(bytes, base);
    let header: MetadataHeader = r.structure(METADATA_HEADER_LEN, "metadata header")?;
    let limit = |count: u32, max: u32, what: &str| {
        if count > max {
            Err(Error::limit(base, format!("{count} {what}; the limit is {max}")))
        } else {
            Ok(())
        }
    };
    limit(header.string_count, limits.max_strings, "strings")?;
    limit(header.dtype_count, limits.max_dtypes, "dtypes")?;
    limit(header.array_count, limits.max_arrays, "arrays")?;
    limit(header.node_count, limits.max_nodes, "nodes")?;
    if header.root >= header.node_count {
        return Err(Error::invalid_index(
            base + METADATA_ROOT_OFFSET,
            format!("root {} but {} nodes", header.root, header.node_count),
        ));
    }

    let mut parts = GraphBuilder::default();
    strings::parse_strings(&mut r, header.string_count, &mut parts)?;
    let dtypes = dtypes::parse_dtypes(&mut r, header.dtype_count, &parts, limits)?;
    let (arrays, dims, extents) = arrays::parse_arrays(&mut r, header.array_count, &dtypes)?;
    nodes::parse_nodes(&mut r, &header, &mut parts, limits.max_bigint_bytes)?;
    if r.remaining() > 0 && !is_newer_minor(minor) {
        return Err(Error::trailing_bytes(
            r.offset(),
            format!("{} bytes after the node table", r.remaining()),
        ));
    }
    Ok(Tables {
        graph: parts.finish(NodeId(header.root)),
        arrays,
        dims,
        extents,
    })
}
