//! The `amber` command-line tool (built with `--features cli`).
//!
//! Exit status: 0 on success; 1 when the file is not a valid Amber file (the spec's error class
//! alone on the first line of standard output, an explanation with the byte offset on standard
//! error); 2 for usage and I/O errors. Each subcommand is one variant of [`Command`] and one
//! function returning [`Outcome`], so adding a subcommand touches nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use amberfile::{render, Error, ReadOptions, Reader};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "amber",
    version,
    about = "Inspect and check Amber files (spec/amber.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the canonical JSON rendering of FILE (spec section 15), as the conformance suite
    /// expects: the object graph, and for each array its dtype, shape, order and the SHA-256
    /// of its logical bytes. Every array is decoded and every CRC checked.
    Render {
        /// The Amber file to render.
        file: PathBuf,
    },
}

/// How a subcommand ended.
enum Outcome {
    Done,
    /// The file broke a rule of the spec.
    InvalidFile(PathBuf, Error),
    /// The operating system or the output failed.
    Failed(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Render { file } => render_file(&file),
    };
    match outcome {
        Outcome::Done => ExitCode::SUCCESS,
        Outcome::InvalidFile(path, error) => {
            // The class alone on stdout's first line is the conformance protocol (spec 15.4).
            let _ = writeln!(std::io::stdout(), "{}", error.class());
            eprintln!("amber: {}: {error}", path.display());
            ExitCode::from(1)
        }
        Outcome::Failed(message) => {
            eprintln!("amber: {message}");
            ExitCode::from(2)
        }
    }
}

/// Reads FILE into memory, validates it with the default limits (R1 to R56), and renders it;
/// rendering reads every array in table order (R57 to R60).
fn render_file(path: &Path) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Failed(format!("{}: {e}", path.display())),
    };
    // The default verification policy checks each extent's CRC when its array is first read,
    // which is the order the spec prescribes for rendering (R57 before R58, array by array).
    let rendered = Reader::from_bytes(&bytes, ReadOptions::default())
        .and_then(|reader| render::canonical_json_string(&reader));
    match rendered {
        Ok(json) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{json}").and_then(|()| stdout.flush()) {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Failed(format!("writing the rendering: {e}")),
            }
        }
        Err(error) if error.is_invalid_file() => Outcome::InvalidFile(path.to_path_buf(), error),
        Err(error) => Outcome::Failed(format!("{}: {error}", path.display())),
    }
}
