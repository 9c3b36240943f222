//! Writes the seed corpus for cargo-fuzz: `seed_corpus DIR` fills `DIR/<target>/` with the
//! writer-built samples and the conformance files (for the byte-level targets) and the kept
//! regression inputs (for every target). The structured targets start from libFuzzer's own
//! inputs; whole files mean nothing to them.

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seed_corpus DIR");
        std::process::exit(2);
    };
    for (target, _) in amberfile_fuzz::TARGETS {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir).expect("corpus directory");
        let mut files = amberfile_fuzz::regression_files(target);
        if matches!(target, "parse_render" | "views") {
            files.extend(amberfile_fuzz::seed_files());
        }
        for (index, (_, bytes)) in files.iter().enumerate() {
            std::fs::write(target_dir.join(format!("seed-{index:03}")), bytes).expect("corpus file");
        }
        println!("{}: {} seeds", target_dir.display(), files.len());
    }
}
