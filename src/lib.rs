//! `amberfile`: the reference implementation of Amber, a versioned binary container for
//! machine-learning models and any object graph that holds large n-d arrays.
//!
//! An Amber file is a fixed header, aligned array data (raw, or zstd-compressed in blocks),
//! a metadata section holding the object graph and the array table, and a trailer that points
//! at the metadata. Everything is little-endian and covered by CRC-32. The normative
//! specification is `spec/amber.md`; this crate follows it and nothing else.
//!
//! # Layers
//!
//! - [`format`]: the on-disk structures and registries, exactly as the spec draws them.
//! - [`dtype`]: element types, their codes and itemsizes.
//! - [`graph`]: the object graph (an arena of nodes), the owned [`Value`] tree, and walks over a graph.
//! - [`read`]: bytes to a validated [`Reader`]; views, decoding, verification; mmap.
//! - [`write`]: the streaming [`Writer`], compression, atomic path writes.
//! - [`limits`]: every cap, named. [`error`]: the one [`Error`] type, one variant per error class.
//! - [`render`]: the spec's canonical JSON rendering, used by the conformance suite.
//! - `remote` (feature `remote`): reading and writing through `object_store` (S3, GCS, Azure,
//!   HTTP, local files), one byte range at a time.
//! - [`npy`]: numpy's `.npy` headers and dtype descrs, for tools that convert to and from numpy.
//!
//! # Example
//!
//! ```
//! use amberfile::{ArraySpec, DType, Graph, Node, ReadOptions, Reader, WriteOptions, Writer};
//!
//! let mut writer = Writer::new(Vec::new(), WriteOptions::default())?;
//! let coef = writer.write_ndarray(&ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0]]))?;
//! let mut graph = Graph::new();
//! let key = graph.add(Node::Str("coef_"));
//! let value = graph.add(Node::Array(coef));
//! let root = graph.add(Node::Map(&[[key, value]]));
//! graph.set_root(root);
//! let bytes = writer.finish(&graph)?;
//!
//! let reader = Reader::from_bytes(&bytes, ReadOptions::default())?;
//! let Node::Map(entries) = reader.graph().node(reader.root()) else { unreachable!() };
//! let Node::Array(id) = reader.graph().node(entries[0][1]) else { unreachable!() };
//! let view = reader.view::<f64>(id)?; // zero-copy
//! assert_eq!(view[[1, 0]], 3.0);
//! # Ok::<(), amberfile::Error>(())
//! ```

#![deny(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!("amberfile supports little-endian targets only: it hands out the file's little-endian bytes as typed views");

pub mod dtype;
pub mod error;
pub mod filter;
pub mod format;
pub mod graph;
pub mod limits;
pub mod npy;
pub mod read;
#[cfg(feature = "remote")]
pub mod remote;
pub mod render;
mod scratch;
pub mod write;

pub use dtype::{DType, Element, Field, RecordType, TimeUnit};
pub use error::{Error, ErrorKind, Result};
pub use format::{Codec, Filter, Order};
pub use graph::{ArrayId, Graph, Node, NodeId, SeqKind, Value};
pub use limits::Limits;
pub use read::{AlignedBytes, ArrayInfo, ByteSource, FileSource, Metadata, ReadOptions, Reader, Verify};
pub use write::{ArraySpec, Compression, PendingFile, WriteOptions, Writer};
