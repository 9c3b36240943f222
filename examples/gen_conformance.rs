//! Generates the conformance suite in `conformance/`: golden files, hostile files, manifest and
//! README, all from the case descriptions of the `amber-conformance` crate
//! (`crates/amber-conformance/`).
//!
//! ```text
//! cargo run --example gen-conformance            # write conformance/
//! cargo run --example gen-conformance -- --check # fail if conformance/ differs by one byte
//! ```
//!
//! Check mode is what the tests run: a change to the writer that alters any byte fails until
//! the goldens (and, if the format changed, the spec) are regenerated on purpose.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: gen-conformance [--check]");
            return ExitCode::from(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let files = amber_conformance::output_files();
    if check {
        let problems = amber_conformance::check_tree(&root, &files);
        for problem in &problems {
            eprintln!("{problem}");
        }
        if problems.is_empty() {
            println!("conformance/ matches the generator ({} files)", files.len());
            ExitCode::SUCCESS
        } else {
            eprintln!("conformance/ is out of date: run `cargo run --example gen-conformance`");
            ExitCode::FAILURE
        }
    } else {
        match amber_conformance::write_tree(&root, &files) {
            Ok(removed) => {
                println!(
                    "wrote {} files to {}; removed {removed} stale case files",
                    files.len(),
                    root.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gen-conformance: {e}");
                ExitCode::from(2)
            }
        }
    }
}
