//! Every cap in one place: the limits fixed by the spec, and the reader's configurable limits.
//!
//! A hostile file can declare any count or size. Every count is checked against these limits and
//! against the bytes that remain before anything is allocated, so the memory a reader uses is
//! bounded by the file's size times a small constant, plus [`Limits::max_decoded_bytes`] for one
//! decoded array.

/// Maximum number of dimensions of an array, object array or record sub-array (spec, fixed).
pub const MAX_NDIM: usize = 64;
/// Largest allowed uncompressed block size of a compressed array (spec, fixed): 1 GiB.
pub const MAX_BLOCK_SIZE: u64 = 1 << 30;
/// Largest Window_Size a zstd frame of a block may declare (spec 8.2): no block is larger.
pub const MAX_ZSTD_WINDOW: u64 = 1 << 30;
/// Smallest allowed data alignment (spec, fixed).
pub const MIN_ALIGNMENT: u32 = 64;
/// Largest allowed data alignment (spec, fixed): 16 MiB.
pub const MAX_ALIGNMENT: u32 = 1 << 24;
/// Largest itemsize of any dtype (spec, fixed).
pub const MAX_ITEMSIZE: u64 = (1 << 31) - 1;

/// Smallest output budget of the tools that print a file's content (`render`, `inspect --json`).
pub const MIN_OUTPUT_BUDGET: u64 = 256 << 20;
/// Output bytes allowed per file byte, above [`MIN_OUTPUT_BUDGET`].
pub const OUTPUT_BYTES_PER_FILE_BYTE: u64 = 64;

/// Most bytes `render` or `inspect --json` prints for a file of `file_len` bytes: a shared record
/// dtype or a long key is printed at every use, so output could otherwise grow far faster than
/// the file (and take time to match). Past it they refuse with LimitExceeded, printing nothing.
pub fn output_budget(file_len: u64) -> u64 {
    file_len
        .saturating_mul(OUTPUT_BYTES_PER_FILE_BYTE)
        .max(MIN_OUTPUT_BUDGET)
}

/// Limits a reader enforces before it allocates. The defaults are documented in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest metadata section accepted. Default 256 MiB; values past 4 GiB - 1 act as 4 GiB - 1
    /// (the graph keeps 32-bit offsets into its pools; spec 11.2 allows that cap).
    pub max_metadata_bytes: u64,
    /// Largest string table. Default 16,777,216.
    pub max_strings: u32,
    /// Largest dtype table. Default 65,536.
    pub max_dtypes: u32,
    /// Largest array table. Default 1,048,576.
    pub max_arrays: u32,
    /// Largest node table. Default 16,777,216.
    pub max_nodes: u32,
    /// Largest number of fields in one record dtype, counting nested fields through every
    /// reference to a shared sub-dtype. Default 65,536.
    pub max_record_fields: u64,
    /// Deepest nesting of record dtypes. Default 32.
    pub max_dtype_depth: u32,
    /// Longest big-int node, in bytes. Rendering a big int in decimal is quadratic in its
    /// length, so this keeps rendering linear in the file size. Default 1,024 (8,192 bits).
    pub max_bigint_bytes: u32,
    /// Largest single allocation for a decoded (decompressed) array or byte range. Default 4 GiB.
    pub max_decoded_bytes: u64,
    /// Deepest nesting when a graph is converted to a [`crate::Value`] tree. Default 256.
    pub max_value_depth: u32,
    /// Most nodes a [`crate::Value`] conversion may produce. Shared references are expanded,
    /// so this caps the exponential blow-up of a DAG. Default 1,048,576 (about 112 MiB of
    /// values).
    pub max_value_nodes: u64,
    /// Most payload bytes a [`crate::Value`] conversion may copy: strings, bytes, big ints,
    /// type and global names and object-array shapes, counted again at every shared
    /// reference. Default 268,435,456 (256 MiB).
    pub max_value_bytes: u64,
}

impl Limits {
    /// `max_metadata_bytes` as applied: at most 4 GiB - 1, the most a graph's 32-bit pool
    /// offsets can address (spec 11.2 lets a reader cap it there).
    pub(crate) fn metadata_limit(&self) -> u64 {
        self.max_metadata_bytes.min(u64::from(u32::MAX))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 256 << 20,
            max_strings: 1 << 24,
            max_dtypes: 1 << 16,
            max_arrays: 1 << 20,
            max_nodes: 1 << 24,
            max_record_fields: 1 << 16,
            max_dtype_depth: 32,
            max_bigint_bytes: 1024,
            max_decoded_bytes: 4 << 30,
            max_value_depth: 256,
            max_value_nodes: 1 << 20,
            max_value_bytes: 256 << 20,
        }
    }
}
