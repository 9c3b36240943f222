//! Runs one of the crate's reader paths over a file, for the hostile suite (`tests/hostile/`).
//!
//! ```text
//! cargo run --release --example probe -- (from-bytes | open | open-mmap) FILE
//! ```
//!
//! Opens FILE the chosen way with the default options, verifies and reads every array, then
//! converts the graph with `to_value` under the default limits. Prints `ok`, or
//! `error <Class> <offset>` for the first typed error, and exits 0 either way: any panic or
//! signal is the suite's failure, never the file's.

use std::process::ExitCode;

use amberfile::{ArrayId, ReadOptions, Reader, Result};

fn exercise<S: AsRef<[u8]>>(reader: Result<Reader<S>>) -> Result<()> {
    let reader = reader?;
    let ids: Vec<ArrayId> = reader.arrays().map(|info| info.id()).collect();
    for &id in &ids {
        reader.verify_array(id)?;
    }
    for &id in &ids {
        reader.read_bytes(id)?;
    }
    reader.graph().to_value(reader.root(), &reader.options().limits)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, path] = &args[..] else {
        eprintln!("usage: probe (from-bytes | open | open-mmap) FILE");
        return ExitCode::from(2);
    };
    let options = ReadOptions::default();
    let outcome = match mode.as_str() {
        "from-bytes" => match std::fs::read(path) {
            Ok(bytes) => exercise(Reader::from_bytes(&bytes, options)),
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::from(2);
            }
        },
        "open" => exercise(Reader::open(path, options)),
        // SAFETY: the suite's files are private to its run and never modified while mapped.
        #[allow(unsafe_code)]
        "open-mmap" => exercise(unsafe { Reader::open_mmap(path, options) }),
        _ => {
            eprintln!("unknown mode {mode}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => println!("ok"),
        Err(e) => match e.offset() {
            Some(offset) => println!("error {} {offset}", e.class()),
            None => println!("error {}", e.class()),
        },
    }
    ExitCode::SUCCESS
}
