//! How a subcommand fails: the exit status, and the message that says what and where.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a subcommand stopped.
#[derive(Debug)]
pub enum Failure {
    /// An Amber file broke a rule of the spec (exit 1; the class goes to stdout first).
    InvalidAmber { path: PathBuf, error: amberfile::Error },
    /// A foreign input file (.npy, .npz, .safetensors) is malformed (exit 1).
    InvalidInput { path: PathBuf, message: String },
    /// The content exists but the requested output format cannot hold it (exit 1).
    Unrepresentable(String),
    /// The output would exceed a limit of this tool (exit 1; `LimitExceeded` goes to stdout
    /// first, as for an invalid file, so scripts see one convention).
    OverLimit(String),
    /// The arguments ask for something that does not exist or makes no sense (exit 2).
    Usage(String),
    /// The operating system or an output stream failed (exit 2).
    Io(String),
    /// Standard output was closed by its reader (`amber inspect f | head`): stop quietly.
    ClosedOutput,
}

impl Failure {
    pub fn invalid_input(path: &Path, message: impl Into<String>) -> Self {
        Failure::InvalidInput {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// An error from the library about the Amber file at `path`: invalid-file classes give
    /// exit 1, the rest (I/O) exit 2.
    pub fn amber(path: &Path, error: amberfile::Error) -> Self {
        if error.is_invalid_file() {
            Failure::InvalidAmber {
                path: path.to_path_buf(),
                error,
            }
        } else {
            Failure::Io(format!("{}: {error}", path.display()))
        }
    }

    /// An I/O error while working on `path`.
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::ClosedOutput;
        }
        Failure::Io(format!("{}: {error}", path.display()))
    }

    /// An error writing standard output.
    pub fn stdout(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::ClosedOutput;
        }
        Failure::Io(format!("writing standard output: {error}"))
    }

    /// Prints the message and returns the exit status.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::InvalidAmber { path, error } => {
                // The class alone on stdout's first line is the conformance protocol (spec 15.4).
                let _ = writeln!(std::io::stdout(), "{}", error.class());
                eprintln!("amber: {}: {error}", path.display());
                eprintln!("amber: {}", explain(error.class()));
                ExitCode::from(1)
            }
            Failure::InvalidInput { path, message } => {
                eprintln!("amber: {}: {message}", path.display());
                ExitCode::from(1)
            }
            Failure::OverLimit(message) => {
                let _ = writeln!(std::io::stdout(), "LimitExceeded");
                eprintln!("amber: {message}");
                eprintln!("amber: {}", explain("LimitExceeded"));
                ExitCode::from(1)
            }
            Failure::Unrepresentable(message) => {
                eprintln!("amber: {message}");
                ExitCode::from(1)
            }
            Failure::Usage(message) | Failure::Io(message) => {
                eprintln!("amber: {message}");
                ExitCode::from(2)
            }
            Failure::ClosedOutput => ExitCode::SUCCESS,
        }
    }
}

/// `a list`, `an object`: a kind name with its article, for messages.
pub fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// A plain-language explanation of an error class (spec 9.1), for people who do not know it.
pub fn explain(class: &str) -> &'static str {
    match class {
        "BadMagic" => "this is not an Amber file, or it was cut short or has bytes appended at the end",
        "Truncated" => "the file ends before a structure it declares; it was probably cut short",
        "UnsupportedVersion" => {
            "the file was written for a major version of the format this tool does not read"
        }
        "UnsupportedFeature" => "the file requires a format feature this tool does not implement",
        "InvalidHeader" => "a field of the 64-byte file header has an impossible value",
        "ChecksumMismatch" => {
            "stored bytes do not match their CRC-32: the file was damaged in storage or in transfer"
        }
        "OutOfBounds" => "an offset or length points outside the region it must lie in",
        "InvalidLayout" => "array data is misaligned, overlapping, out of order, or leaves gaps",
        "NonZeroPadding" => "a padding byte that must be zero is not",
        "TrailingBytes" => "the metadata section has bytes after its last structure",
        "LimitExceeded" => "a count or size exceeds a limit of the format or of this reader",
        "InvalidIndex" => "the metadata refers to a string, dtype, array or node that does not exist",
        "InvalidUtf8" => "a string in the metadata is not valid UTF-8",
        "InvalidDtype" => "an element type (dtype) is malformed",
        "InvalidArray" => "an array entry has an invalid order, codec, filter, block size or element",
        "LengthMismatch" => "a stored length disagrees with the array's shape and element size",
        "InvalidNode" => "a node of the object graph is malformed",
        "CorruptBlock" => "a compressed block does not decompress to its declared size",
        _ => "the file does not follow the Amber specification",
    }
}

/// Makes any panic (a bug) print one line and exit 2, never a Rust backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("amber: internal error{location}; please report it");
        std::process::exit(2);
    }));
}
