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
    /// The library refused a request of this tool (API misuse or a bad writer option: a bug
    /// here, not a fault of the file; exit 2).
    Refused { path: PathBuf, error: amberfile::Error },
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
    /// exit 1; I/O, API misuse and option mistakes exit 2.
    pub fn amber(path: &Path, error: amberfile::Error) -> Self {
        let path = path.to_path_buf();
        if error.is_invalid_file() {
            Failure::InvalidAmber { path, error }
        } else if error.kind() == amberfile::ErrorKind::Io {
            Failure::Io(format!("{}: {error}", path.display()))
        } else {
            Failure::Refused { path, error }
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
                eprintln!("amber: {}", error.kind().explanation());
                ExitCode::from(1)
            }
            Failure::Refused { path, error } => {
                eprintln!("amber: {}: {error}", path.display());
                eprintln!("amber: {}", error.kind().explanation());
                ExitCode::from(2)
            }
            Failure::InvalidInput { path, message } => {
                eprintln!("amber: {}: {message}", path.display());
                ExitCode::from(1)
            }
            Failure::OverLimit(message) => {
                let _ = writeln!(std::io::stdout(), "LimitExceeded");
                eprintln!("amber: {message}");
                eprintln!("amber: {}", amberfile::ErrorKind::LimitExceeded.explanation());
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
pub use amberfile::graph::path::article_before as with_article;

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
