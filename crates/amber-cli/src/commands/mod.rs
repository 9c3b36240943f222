//! One module per subcommand, each with its clap arguments and a `run` returning
//! `Result<(), Failure>`.

pub mod convert;
pub mod extract;
pub mod inspect;
pub mod render;
pub mod verify;

/// The exit statuses every subcommand shares, shown in `--help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  an input file is invalid (for an Amber file, its error class is printed alone on the first
     line of standard output and explained on standard error), or its content cannot be
     represented in the requested output format
  2  usage error (bad arguments, unknown graph path) or I/O error";
