//! Writing: a streaming [`Writer`] to any `io::Write`, and atomic path writes.
//!
//! # API structure
//!
//! Start with a [`Writer`]. There are two ways to get one:
//! - [`Writer::new`] over any `io::Write` sink: a `Vec<u8>`, a file, a pipe or an upload;
//! - [`Writer::create`] for a path: the file is written under a temporary name (a
//!   [`PendingFile`]) and [`Writer::commit`] renames it into place, so a crash never leaves half
//!   a file under the target name.
//!
//! Then hand it the arrays as they come, each stored as [`WriteOptions::compression`] says or as
//! the call chooses. Each call returns the [`ArrayId`](crate::ArrayId) that an array node of the
//! graph refers to:
//! - [`Writer::write_array`] / [`Writer::write_array_with`]: an [`ArraySpec`] and its bytes;
//! - [`Writer::write_array_from_reader`]: the bytes from an `io::Read`, in bounded memory;
//! - [`Writer::write_ndarray`]: an `ndarray` array of a Rust element type.
//!
//! End with [`Writer::finish`], which writes the metadata section for the graph and the trailer
//! and returns the sink (or [`Writer::commit`] for a path). Other tools that replace a file the
//! same way use [`AtomicFile`].
//!
//! The writer makes one pass, in the order of spec section 13: the header first, then each array
//! (raw and aligned, or compressed in blocks on all cores), then the metadata section and the
//! trailer. It never seeks, so the sink may be a pipe or an upload, and it never holds more than
//! one array (or, for [`Writer::write_array_from_reader`], a window of blocks) in memory. The same
//! calls give the same bytes.
//!
//! The files mirror `read/`: `header`, `arrays` (the data streamed in), `layout` (where each
//! extent goes), `blocks` (zstd), `metadata/` (one file per table), `trailer`, `atomic`.
//!
//! ```
//! use amberfile::{ArraySpec, DType, Graph, Node, Writer, WriteOptions};
//! let mut writer = Writer::new(Vec::new(), WriteOptions::default())?;
//! let weights = writer.write_array(&ArraySpec::c(DType::Float32, &[2]), bytemuck::cast_slice(&[1.0f32, 2.0]))?;
//! let mut graph = Graph::new();
//! let key = graph.add(Node::Str("weights"));
//! let value = graph.add(Node::Array(weights));
//! let root = graph.add(Node::Map(&[[key, value]]));
//! graph.set_root(root);
//! let bytes = writer.finish(&graph)?;
//! assert_eq!(bytes.len(), 207);
//! # Ok::<(), amberfile::Error>(())
//! ```

mod arrays;
mod atomic;
mod blocks;
mod encode;
mod header;
mod layout;
mod metadata;
mod trailer;

use std::io::Write;

use crate::dtype::{checked_nbytes, DType};
use crate::error::{Error, Result};
use crate::format::Order;
use metadata::{DTypeTable, WrittenArray};

pub use atomic::{AtomicFile, PendingFile};

/// How arrays are stored.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Raw and aligned: memory-mappable zero-copy.
    None,
    /// zstd at `level` (1..=22; 3 is zstd's default), optionally byte-shuffled first.
    Zstd {
        /// zstd's compression level, 1..=22.
        level: i32,
        /// Byte-shuffle each block before compressing (helps numeric data).
        shuffle: bool,
    },
}

/// Writer settings. The defaults: alignment 64, no compression, 1 MiB blocks, no fsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Alignment of every raw array: a power of two from 64 to 2^24, e.g. 4096 for pages
    /// (else [`Writer::new`] fails with `InvalidOptions`).
    pub alignment: u32,
    /// Default storage for [`Writer::write_array`].
    pub compression: Compression,
    /// Uncompressed bytes per compressed block, rounded down to whole elements: 1..=2^30
    /// (else `InvalidOptions`). Default 1 MiB.
    pub block_size: u64,
    /// For [`Writer::create`]: fsync the file and its directory before the rename.
    pub fsync: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            alignment: 64,
            compression: Compression::None,
            block_size: 1 << 20,
            fsync: false,
        }
    }
}

/// What an array is: its dtype, shape and memory order. The bytes come separately.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArraySpec {
    /// The element type.
    pub dtype: DType,
    /// Dimensions, outermost first; at most 64.
    pub shape: Vec<u64>,
    /// The order the bytes are given in, and stored in.
    pub order: Order,
}

impl ArraySpec {
    /// A C-ordered (row-major) array.
    pub fn c(dtype: DType, shape: &[u64]) -> Self {
        ArraySpec {
            dtype,
            shape: shape.to_vec(),
            order: Order::C,
        }
    }

    /// Total bytes: elements x itemsize, checked as the spec's rule R42 says.
    pub fn nbytes(&self) -> Result<u64> {
        checked_nbytes(self.dtype.itemsize(), &self.shape)
            .ok_or_else(|| Error::limit(None, "array size overflows u64"))
    }
}

/// A streaming writer. See the [module docs](self).
pub struct Writer<W: Write> {
    sink: W,
    /// Bytes written so far: the layout walk's cursor, run forward.
    position: u64,
    options: WriteOptions,
    dtypes: DTypeTable,
    arrays: Vec<WrittenArray>,
    /// Where an array failed after some of its bytes reached the sink: the file has a hole
    /// there, so nothing more may be written to it.
    broken_at: Option<u64>,
}
