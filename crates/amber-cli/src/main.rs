//! The `amber` command-line tool (the `amber-cli` package of the workspace).
//!
//! Each subcommand is one variant of [`Command`] and one module of `commands` with a `run`
//! function returning `Result<(), Failure>`; `main` turns a [`Failure`] into a message and an
//! exit status. Dependencies run one way: `commands` -> `foreign` (.npy, .npz, .safetensors)
//! -> `amberfile`, and both use the small shared modules: `files` (opening Amber files, the
//! one unsafe block; atomic output files; progress bars), `path` (the graph path syntax),
//! `units` (sizes for people) and `failure` (exit statuses and messages).

// The one unsafe block, mapping an input file, is `files::open_amber`, allowed there alone.
#![deny(unsafe_code)]

mod commands;
mod failure;
// Maps input files (`Reader::open_mmap`): the CLI's one unsafe call.
#[allow(unsafe_code)]
mod files;
mod foreign;
mod path;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use commands::{convert, extract, inspect, render, verify, EXIT_STATUS_HELP};

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
    #[command(flatten)]
    store: files::StoreArgs,
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
    /// The Amber file: a path, or a URL (s3://, gs://, az://, http(s)://, file://).
    file: PathBuf,
}

fn main() -> ExitCode {
    failure::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args, &cli.store),
        Command::Verify(args) => verify::run(&args, &cli.store),
        Command::Render(FileArg { file }) => render::run(&file, &cli.store),
        Command::Extract(args) => extract::run(&args, &cli.store),
        Command::Convert(args) => convert::run(&args, &cli.store),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
