//! The crate's one error type.
//!
//! Every variant is an error class named by the spec (`spec/amber.md`, "Error classes"), so the
//! conformance suite, the CLI and the Python exceptions all speak the same words. Every variant
//! carries the byte offset in the file where the problem was found (0 when no offset applies,
//! e.g. for API misuse) and a short human-readable detail.

use std::borrow::Cow;

/// Short explanation attached to an error.
pub type Detail = Cow<'static, str>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading or writing an Amber file.
///
/// The variant name is the spec's error class ([`Error::class`]); [`Error::offset`] is the
/// absolute byte offset in the file where the violation was detected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The header or trailer magic is wrong: not an Amber file, truncated, or trailing bytes.
    #[error("BadMagic: {detail} (at offset {offset:#x})")]
    BadMagic { offset: u64, detail: Detail },
    /// The file or a structure inside it ends before its declared size.
    #[error("Truncated: {detail} (at offset {offset:#x})")]
    Truncated { offset: u64, detail: Detail },
    /// The major version is not one this reader implements.
    #[error("UnsupportedVersion: {detail} (at offset {offset:#x})")]
    UnsupportedVersion { offset: u64, detail: Detail },
    /// The file requires a feature this reader does not know.
    #[error("UnsupportedFeature: {detail} (at offset {offset:#x})")]
    UnsupportedFeature { offset: u64, detail: Detail },
    /// A header field has an invalid value (alignment, reserved bytes).
    #[error("InvalidHeader: {detail} (at offset {offset:#x})")]
    InvalidHeader { offset: u64, detail: Detail },
    /// A stored CRC-32 does not match the bytes it covers.
    #[error("ChecksumMismatch: {detail} (at offset {offset:#x})")]
    ChecksumMismatch { offset: u64, detail: Detail },
    /// An offset or length points outside its region, or overflows.
    #[error("OutOfBounds: {detail} (at offset {offset:#x})")]
    OutOfBounds { offset: u64, detail: Detail },
    /// Extents are misaligned, overlapping, unsorted or leave a gap; or sections do not abut.
    #[error("InvalidLayout: {detail} (at offset {offset:#x})")]
    InvalidLayout { offset: u64, detail: Detail },
    /// A padding byte is not zero.
    #[error("NonZeroPadding: {detail} (at offset {offset:#x})")]
    NonZeroPadding { offset: u64, detail: Detail },
    /// Bytes follow the last structure of the metadata section.
    #[error("TrailingBytes: {detail} (at offset {offset:#x})")]
    TrailingBytes { offset: u64, detail: Detail },
    /// A spec limit or a configured reader limit is exceeded.
    #[error("LimitExceeded: {detail} (at offset {offset:#x})")]
    LimitExceeded { offset: u64, detail: Detail },
    /// A node, string, dtype or array index is out of range.
    #[error("InvalidIndex: {detail} (at offset {offset:#x})")]
    InvalidIndex { offset: u64, detail: Detail },
    /// A string is not valid UTF-8.
    #[error("InvalidUtf8: {detail} (at offset {offset:#x})")]
    InvalidUtf8 { offset: u64, detail: Detail },
    /// A dtype code or record layout is invalid.
    #[error("InvalidDtype: {detail} (at offset {offset:#x})")]
    InvalidDtype { offset: u64, detail: Detail },
    /// An array entry has an invalid order, codec, filter or block size.
    #[error("InvalidArray: {detail} (at offset {offset:#x})")]
    InvalidArray { offset: u64, detail: Detail },
    /// A stored length disagrees with shape x itemsize, or the block count with the block size.
    #[error("LengthMismatch: {detail} (at offset {offset:#x})")]
    LengthMismatch { offset: u64, detail: Detail },
    /// A node has an unknown kind or an invalid payload.
    #[error("InvalidNode: {detail} (at offset {offset:#x})")]
    InvalidNode { offset: u64, detail: Detail },
    /// A compressed block does not decode to exactly its declared size.
    #[error("CorruptBlock: {detail} (at offset {offset:#x})")]
    CorruptBlock { offset: u64, detail: Detail },
    /// An I/O error from the underlying file or sink.
    #[error("Io: {source} (at offset {offset:#x})")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// A typed accessor was used on an array of another dtype.
    #[error("TypeMismatch: {detail} (at offset {offset:#x})")]
    TypeMismatch { offset: u64, detail: Detail },
    /// Zero-copy access was required but the array is compressed or misaligned in memory.
    #[error("NotZeroCopy: {detail} (at offset {offset:#x})")]
    NotZeroCopy { offset: u64, detail: Detail },
    /// A graph built through the API is not valid (dangling id, cycle where none is allowed).
    #[error("InvalidGraph: {detail} (at offset {offset:#x})")]
    InvalidGraph { offset: u64, detail: Detail },
}

macro_rules! constructors {
    ($($fn_name:ident => $variant:ident),* $(,)?) => {
        impl Error {
            $(
                #[cold]
                pub(crate) fn $fn_name(offset: u64, detail: impl Into<Detail>) -> Self {
                    Error::$variant { offset, detail: detail.into() }
                }
            )*
        }
    };
}

constructors! {
    bad_magic => BadMagic,
    truncated => Truncated,
    unsupported_version => UnsupportedVersion,
    unsupported_feature => UnsupportedFeature,
    invalid_header => InvalidHeader,
    checksum => ChecksumMismatch,
    out_of_bounds => OutOfBounds,
    invalid_layout => InvalidLayout,
    non_zero_padding => NonZeroPadding,
    trailing_bytes => TrailingBytes,
    limit => LimitExceeded,
    invalid_index => InvalidIndex,
    invalid_utf8 => InvalidUtf8,
    invalid_dtype => InvalidDtype,
    invalid_array => InvalidArray,
    length_mismatch => LengthMismatch,
    invalid_node => InvalidNode,
    corrupt_block => CorruptBlock,
    type_mismatch => TypeMismatch,
    not_zero_copy => NotZeroCopy,
    invalid_graph => InvalidGraph,
}

impl Error {
    #[cold]
    pub(crate) fn io(offset: u64, source: std::io::Error) -> Self {
        Error::Io { offset, source }
    }

    /// The spec's name for this error class, e.g. `"ChecksumMismatch"`.
    pub fn class(&self) -> &'static str {
        match self {
            Error::BadMagic { .. } => "BadMagic",
            Error::Truncated { .. } => "Truncated",
            Error::UnsupportedVersion { .. } => "UnsupportedVersion",
            Error::UnsupportedFeature { .. } => "UnsupportedFeature",
            Error::InvalidHeader { .. } => "InvalidHeader",
            Error::ChecksumMismatch { .. } => "ChecksumMismatch",
            Error::OutOfBounds { .. } => "OutOfBounds",
            Error::InvalidLayout { .. } => "InvalidLayout",
            Error::NonZeroPadding { .. } => "NonZeroPadding",
            Error::TrailingBytes { .. } => "TrailingBytes",
            Error::LimitExceeded { .. } => "LimitExceeded",
            Error::InvalidIndex { .. } => "InvalidIndex",
            Error::InvalidUtf8 { .. } => "InvalidUtf8",
            Error::InvalidDtype { .. } => "InvalidDtype",
            Error::InvalidArray { .. } => "InvalidArray",
            Error::LengthMismatch { .. } => "LengthMismatch",
            Error::InvalidNode { .. } => "InvalidNode",
            Error::CorruptBlock { .. } => "CorruptBlock",
            Error::Io { .. } => "Io",
            Error::TypeMismatch { .. } => "TypeMismatch",
            Error::NotZeroCopy { .. } => "NotZeroCopy",
            Error::InvalidGraph { .. } => "InvalidGraph",
        }
    }

    /// Absolute byte offset in the file where the problem was detected.
    pub fn offset(&self) -> u64 {
        match self {
            Error::BadMagic { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::UnsupportedVersion { offset, .. }
            | Error::UnsupportedFeature { offset, .. }
            | Error::InvalidHeader { offset, .. }
            | Error::ChecksumMismatch { offset, .. }
            | Error::OutOfBounds { offset, .. }
            | Error::InvalidLayout { offset, .. }
            | Error::NonZeroPadding { offset, .. }
            | Error::TrailingBytes { offset, .. }
            | Error::LimitExceeded { offset, .. }
            | Error::InvalidIndex { offset, .. }
            | Error::InvalidUtf8 { offset, .. }
            | Error::InvalidDtype { offset, .. }
            | Error::InvalidArray { offset, .. }
            | Error::LengthMismatch { offset, .. }
            | Error::InvalidNode { offset, .. }
            | Error::CorruptBlock { offset, .. }
            | Error::Io { offset, .. }
            | Error::TypeMismatch { offset, .. }
            | Error::NotZeroCopy { offset, .. }
            | Error::InvalidGraph { offset, .. } => *offset,
        }
    }

    /// True for errors that mean "this file is invalid" (CLI exit code 1), as opposed to I/O
    /// failures and API misuse.
    pub fn is_invalid_file(&self) -> bool {
        !matches!(
            self,
            Error::Io { .. }
                | Error::TypeMismatch { .. }
                | Error::NotZeroCopy { .. }
                | Error::InvalidGraph { .. }
        )
    }
}
