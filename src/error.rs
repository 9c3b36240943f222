//! The crate's one error type.
//!
//! An [`Error`] is an [`ErrorKind`], the byte offset in the file where the problem was found
//! (`None` when no offset applies: API misuse, a graph built in memory, a failed `open`) and a
//! short human-readable detail. Its `Display` is `"Class: detail (at offset 0x...)"`.
//!
//! Every kind but [`ErrorKind::InvalidOptions`] is an error class named by the spec
//! (`spec/amber.md`, section 9.1), so the conformance suite, the CLI and the Python exceptions
//! all speak the same words. The table in this file lists each kind once; everything that
//! varies by kind (class name, "is this an invalid file", the CLI's explanation, the crate's
//! constructors) is generated from it.
//!
//! The payload is boxed so that an [`Error`] is one pointer and `Result<T>` stays small on the
//! hot paths that never fail.

use std::borrow::Cow;
use std::fmt;

/// Short explanation attached to an error.
pub type Detail = Cow<'static, str>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a kind of error comes from, which decides how tools report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The spec's first table: the bytes of the file break a rule.
    File,
    /// The spec's second table: classes that arise only from API use.
    Api,
    /// Not a spec class: a mistake in the options this crate was given.
    Crate,
}

macro_rules! error_table {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident $(=> $constructor:ident)?, $origin:ident, $explanation:literal;
    )*) => {
        /// What went wrong: the spec's error class, or [`ErrorKind::InvalidOptions`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in the spec's order; [`ErrorKind::InvalidOptions`] last.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// The spec's name for this error class, e.g. `"ChecksumMismatch"`.
            pub fn class(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => stringify!($kind),)*
                }
            }

            /// One plain-language sentence for people who do not know the spec (the CLI prints
            /// it under the error).
            pub fn explanation(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $explanation,)*
                }
            }

            fn origin(self) -> Origin {
                match self {
                    $(ErrorKind::$kind => Origin::$origin,)*
                }
            }
        }

        impl Error {
            $($(
                #[cold]
                #[cfg_attr(
                    not(feature = "remote"),
                    allow(dead_code, reason = "the remote errors' constructors serve only that feature")
                )]
                pub(crate) fn $constructor(offset: impl Into<Option<u64>>, detail: impl Into<Detail>) -> Self {
                    Error::new(ErrorKind::$kind, offset, detail)
                }
            )?)*
        }
    };
}

error_table! {
    /// The header or trailer magic is wrong: not an Amber file, truncated, or trailing bytes.
    BadMagic => bad_magic, File,
        "this is not an Amber file, or it was cut short or has bytes appended at the end";
    /// The file or a structure inside it ends before its declared size.
    Truncated => truncated, File,
        "the file ends before a structure it declares; it was probably cut short";
    /// The major version is not one this reader implements.
    UnsupportedVersion => unsupported_version, File,
        "the file was written for a major version of the format this tool does not read";
    /// The file requires a feature this reader does not know.
    UnsupportedFeature => unsupported_feature, File,
        "the file requires a format feature this tool does not implement";
    /// A header field has an invalid value (alignment, reserved bytes).
    InvalidHeader => invalid_header, File,
        "a field of the 64-byte file header has an impossible value";
    /// A stored CRC-32 does not match the bytes it covers.
    ChecksumMismatch => checksum, File,
        "stored bytes do not match their CRC-32: the file was damaged in storage or in transfer";
    /// An offset or length points outside its region, or overflows.
    OutOfBounds => out_of_bounds, File,
        "an offset or length points outside the region it must lie in";
    /// Extents are misaligned, overlapping, unsorted or leave a gap; or sections do not abut.
    InvalidLayout => invalid_layout, File,
        "array data is misaligned, overlapping, out of order, or leaves gaps";
    /// A padding byte is not zero.
    NonZeroPadding => non_zero_padding, File,
        "a padding byte that must be zero is not";
    /// Bytes follow the last structure of the metadata section.
    TrailingBytes => trailing_bytes, File,
        "the metadata section has bytes after its last structure";
    /// A spec limit or a configured reader limit is exceeded.
    LimitExceeded => limit, File,
        "a count or size exceeds a limit of the format or of this reader";
    /// A node, string, dtype or array index is out of range.
    InvalidIndex => invalid_index, File,
        "the metadata refers to a string, dtype, array or node that does not exist";
    /// A string is not valid UTF-8.
    InvalidUtf8 => invalid_utf8, File,
        "a string in the metadata is not valid UTF-8";
    /// A dtype code or record layout is invalid.
    InvalidDtype => invalid_dtype, File,
        "an element type (dtype) is malformed";
    /// An array entry has an invalid order, codec, filter or block size.
    InvalidArray => invalid_array, File,
        "an array entry has an invalid order, codec, filter, block size or element";
    /// A stored length disagrees with shape x itemsize, or the block count with the block size.
    LengthMismatch => length_mismatch, File,
        "a stored length disagrees with the array's shape and element size";
    /// A node has an unknown kind or an invalid payload.
    InvalidNode => invalid_node, File,
        "a node of the object graph is malformed";
    /// A compressed block does not decode to exactly its declared size.
    CorruptBlock => corrupt_block, File,
        "a compressed block does not decompress to its declared size";
    /// An I/O error from the underlying file or sink ([`Error::io_error`] has it).
    Io, Api,
        "the operating system failed to read or write";
    /// A typed accessor was used on an array of another dtype.
    TypeMismatch => type_mismatch, Api,
        "an array or value was requested as a type it does not have";
    /// Zero-copy access was required but the array is compressed or misaligned in memory.
    NotZeroCopy => not_zero_copy, Api,
        "a zero-copy view was requested of data that is compressed or misaligned in memory";
    /// A graph built through the API is not valid (dangling id, cycle where none is allowed),
    /// or a valid graph cannot be converted to the requested representation.
    InvalidGraph => invalid_graph, Api,
        "the object graph cannot be converted to the requested representation";
    /// A remote object was replaced, or changed size, between two requests of one reader.
    ObjectChanged => object_changed, Api,
        "the remote object changed while it was being read; read it again";
    /// A server answered a request with other bytes than those asked for (a short or oversized
    /// range, a wrong Content-Range, the whole object for a range request).
    BadResponse => bad_response, Api,
        "the server sent other bytes than the ones requested";
    /// Not a spec class: a [`WriteOptions`](crate::WriteOptions) value is out of range (an
    /// alignment that is not a power of two in 64..=2^24, a block size outside 1..=2^30).
    InvalidOptions => invalid_options, Crate,
        "an option given to the writer is out of range";
}

impl ErrorKind {
    /// True for the classes that mean "this file is invalid" (the CLI's exit status 1), as
    /// opposed to I/O failures, API misuse and option mistakes.
    pub fn is_invalid_file(self) -> bool {
        self.origin() == Origin::File
    }

    /// True for the spec's classes (section 9.1); false for [`ErrorKind::InvalidOptions`].
    pub fn is_spec_class(self) -> bool {
        self.origin() != Origin::Crate
    }
}

/// Everything that can go wrong while reading or writing an Amber file.
///
/// [`Error::kind`] says what (the spec's error class); [`Error::offset`] is the absolute byte
/// offset in the file where the violation was detected.
pub struct Error(Box<Payload>);

#[derive(Debug)]
struct Payload {
    kind: ErrorKind,
    offset: Option<u64>,
    detail: Detail,
    source: Option<std::io::Error>,
}

impl Error {
    /// An error of `kind` found at `offset` (a `u64`, or `None` when no offset applies).
    #[cold]
    pub fn new(kind: ErrorKind, offset: impl Into<Option<u64>>, detail: impl Into<Detail>) -> Self {
        Error(Box::new(Payload {
            kind,
            offset: offset.into(),
            detail: detail.into(),
            source: None,
        }))
    }

    /// An [`ErrorKind::Io`] error from `source`, while at `offset` of the file when known.
    #[cold]
    pub fn io(offset: impl Into<Option<u64>>, source: std::io::Error) -> Self {
        Error(Box::new(Payload {
            kind: ErrorKind::Io,
            offset: offset.into(),
            detail: Cow::Borrowed(""),
            source: Some(source),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The spec's name for this error class, e.g. `"ChecksumMismatch"`.
    pub fn class(&self) -> &'static str {
        self.0.kind.class()
    }

    /// Absolute byte offset in the file where the problem was detected, if one applies
    /// (0 is the header magic's offset, not "unknown").
    pub fn offset(&self) -> Option<u64> {
        self.0.offset
    }

    /// The short explanation of this particular error (empty for [`ErrorKind::Io`]).
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The operating system's error, for [`ErrorKind::Io`].
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.0.source.as_ref()
    }

    /// The operating system's error by value, or this error back if it has none.
    pub fn into_io_error(self) -> std::result::Result<std::io::Error, Error> {
        let mut payload = self.0;
        match payload.source.take() {
            Some(source) => Ok(source),
            None => Err(Error(payload)),
        }
    }

    /// True for errors that mean "this file is invalid" (CLI exit code 1), as opposed to I/O
    /// failures, API misuse and option mistakes.
    pub fn is_invalid_file(&self) -> bool {
        self.0.kind.is_invalid_file()
    }
}

impl From<std::io::Error> for Error {
    /// An [`ErrorKind::Io`] error with no file offset.
    fn from(source: std::io::Error) -> Self {
        Error::io(None, source)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.class())?;
        match &self.0.source {
            Some(source) => write!(f, "{source}")?,
            None => f.write_str(&self.0.detail)?,
        }
        match self.0.offset {
            Some(offset) => write!(f, " (at offset {offset:#x})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_pointer_so_results_stay_small() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(std::mem::size_of::<Result<()>>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Result<u64>>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn the_table_names_the_spec_classes_and_one_crate_kind() {
        let spec: Vec<&str> = ErrorKind::ALL
            .iter()
            .filter(|k| k.is_spec_class())
            .map(|k| k.class())
            .collect();
        assert_eq!(spec.len(), 24);
        assert_eq!(ErrorKind::ALL.iter().filter(|k| k.is_invalid_file()).count(), 18);
        assert!(!ErrorKind::InvalidOptions.is_spec_class());
        // The spec's section 9.1 lists the same names, in the same order.
        let text = include_str!("../spec/amber.md");
        let section = &text[text.find("### 9.1").unwrap()..text.find("### 9.2").unwrap()];
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|line| line.strip_prefix("| ")?.split(' ').next())
            .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && *name != "Class")
            .collect();
        assert_eq!(spec, listed);
    }

    #[test]
    fn display_shows_the_offset_only_when_there_is_one() {
        let at_magic = Error::bad_magic(0, "not an Amber file (header magic)");
        assert_eq!(
            at_magic.to_string(),
            "BadMagic: not an Amber file (header magic) (at offset 0x0)"
        );
        assert_eq!(at_magic.offset(), Some(0));
        let unplaced = Error::invalid_graph(None, "the graph has no root");
        assert_eq!(unplaced.to_string(), "InvalidGraph: the graph has no root");
        assert_eq!(unplaced.offset(), None);
        let io = Error::from(std::io::Error::other("disk on fire"));
        assert_eq!(
            (io.kind(), io.to_string().as_str()),
            (ErrorKind::Io, "Io: disk on fire")
        );
        assert!(io.into_io_error().is_ok());
    }
}
