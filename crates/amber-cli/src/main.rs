//! The `amber` command-line tool (built with `--features cli`).
//!
//! Each subcommand is one variant of [`Command`] and one module with a `run` function returning
//! `Result<(), Failure>`; `main` turns a [`Failure`] into a message and an exit status. Modules:
//! `inspect`, `verify`, `render`, `extract` (with `path`, the graph path syntax), `convert` (with
//! `npy`, `npz` and `safetensors`, the foreign formats), `files` (opening Amber files, atomic
//! output files, progress bars) and `failure` (exit statuses and messages).

mod convert;
mod extract;
mod failure;
mod files;
mod inspect;
mod npy;
mod npz;
mod path;
mod render;
mod safetensors;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  an input file is invalid (for an Amber file, its error class is printed alone on the first
     line of standard output and explained on standard error), or its content cannot be
     represented in the requested output format
  2  usage error (bad arguments, unknown graph path) or I/O error";

#[derive(Parser)]
#[command(
    name = "amber",
    version,
    about = "Inspect, check and convert Amber files (spec/amber.md)",
    after_help = EXIT_STATUS_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the header, the object graph as a tree, every array's dtype, shape, size and codec,
    /// and the totals.
    #[command(after_help = EXIT_STATUS_HELP)]
    Inspect(inspect::InspectArgs),
    /// Check every validation rule and every CRC, and decode every compressed block.
    ///
    /// Files with more than 100 MiB of array data show a progress bar on standard error when
    /// it is a terminal.
    #[command(after_help = EXIT_STATUS_HELP)]
    Verify(verify::VerifyArgs),
    /// Print the canonical JSON rendering of FILE (spec section 15).
    ///
    /// The rendering is what the conformance suite compares: the object graph, and for each
    /// array its dtype, shape, order and the SHA-256 of its logical bytes. Every array is
    /// decoded and every CRC checked. A file whose record dtypes would print more than
    /// max(256 MiB, 64 x the file's size) is refused with LimitExceeded before any output.
    #[command(after_help = EXIT_STATUS_HELP)]
    Render(FileArg),
    /// Write one array of an Amber file to a .npy file that numpy reads.
    Extract(extract::ExtractArgs),
    /// Convert between Amber and .npy, .npz or .safetensors, streaming array bytes unchanged.
    #[command(after_help = convert::CONVERT_HELP)]
    Convert(convert::ConvertArgs),
}

#[derive(Args)]
struct FileArg {
    /// The Amber file.
    file: PathBuf,
}

fn main() -> ExitCode {
    failure::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Render(FileArg { file }) => render::run(&file),
        Command::Extract(args) => extract::run(&args),
        Command::Convert(args) => convert::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
