//! Every registry of the format in one place (spec section 7): versions, feature bits, order
//! codes, codecs, filters and node kinds. Dtype codes and time units stay in
//! [`crate::dtype`] beside the dtype model they encode.

/// Major version written and read by this crate.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version written by this crate; newer minors are still read.
pub const VERSION_MINOR: u16 = 0;

/// True if `minor` is newer than the minor version this crate implements. A reader still reads
/// such a file, ignoring the reserved header bytes and any bytes after the node table.
pub fn is_newer_minor(minor: u16) -> bool {
    minor > VERSION_MINOR
}

/// Required feature bits this reader implements (v1.0 defines none).
pub const KNOWN_REQUIRED_FEATURES: u64 = 0;

/// Defines a registry enum whose discriminants are its on-disk codes, with `from_code` to map
/// a code back (`None` for a code the registry does not define).
macro_rules! code_registry {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $($(#[$variant_attr:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$attr])*
        pub enum $name {
            $($(#[$variant_attr])* $variant = $code,)+
        }

        impl $name {
            pub(crate) fn from_code(code: u8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

code_registry! {
    /// Memory order of an array's elements.
    #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Order {
        /// Row-major (C) order: the last index varies fastest.
        #[default]
        C = 0,
        /// Column-major (Fortran) order: the first index varies fastest.
        F = 1,
    }
}

impl Order {
    /// `"C"` or `"F"`, as in the canonical rendering.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::C => "C",
            Order::F => "F",
        }
    }
}

code_registry! {
    /// How an array's bytes are stored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Codec {
        /// One contiguous, aligned extent: mappable zero-copy.
        None = 0,
        /// Independently compressed zstd blocks.
        Zstd = 1,
    }
}

code_registry! {
    /// A reversible transform applied to each block before compression.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Filter {
        /// Blocks are compressed as they are.
        None = 0,
        /// Groups bytes of equal significance across the elements of a block (as Blosc does).
        Shuffle = 1,
    }
}

/// Node kind codes of the node table.
pub mod node_kind {
    /// Python `None`; no payload.
    pub const NONE: u8 = 0;
    /// `u8` 0 or 1.
    pub const BOOL: u8 = 1;
    /// `i64`.
    pub const INT: u8 = 2;
    /// `u32 len` and the minimal two's-complement bytes of an integer outside i64.
    pub const BIG_INT: u8 = 3;
    /// `f64`, any bit pattern.
    pub const FLOAT: u8 = 4;
    /// `f64` real, then `f64` imaginary part.
    pub const COMPLEX: u8 = 5;
    /// `u32` string index.
    pub const STR: u8 = 6;
    /// `u32 len`, then the bytes.
    pub const BYTES: u8 = 7;
    /// `u32 count`, then `count` node indices.
    pub const LIST: u8 = 8;
    /// As [`LIST`].
    pub const TUPLE: u8 = 9;
    /// As [`LIST`].
    pub const SET: u8 = 10;
    /// As [`LIST`].
    pub const FROZEN_SET: u8 = 11;
    /// `u32 count`, then `count` (key, value) node index pairs, order kept.
    pub const MAP: u8 = 12;
    /// `u32` array index.
    pub const ARRAY: u8 = 13;
    /// `u8 order`, `u8 ndim`, `u64[ndim]` shape, then one node index per element.
    pub const OBJECT_ARRAY: u8 = 14;
    /// `u32` type-name string, `u32` args node, `u32` state node ([`NO_NODE`](crate::format::NO_NODE) when absent).
    pub const OBJECT: u8 = 15;
    /// `u32` string index of a qualified name (`module.attr`).
    pub const GLOBAL: u8 = 16;
}
