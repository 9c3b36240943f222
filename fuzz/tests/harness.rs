//! Runs every fuzz target on stable: over the seed corpus, the kept regression inputs, and
//! thousands of seeded random inputs (random bytes, and random mutations of the seeds).

use amber_test_support::SeededRng;
use amberfile::{ReadOptions, Reader};
use amberfile_fuzz::{regression_files, seed_files, TARGETS};

/// Random inputs per target; each is a fresh buffer or a mutated seed.
const RANDOM_CASES: usize = 3000;

fn target(name: &str) -> amberfile_fuzz::Target {
    TARGETS.iter().find(|(n, _)| *n == name).expect("known target").1
}

#[test]
fn seeds_are_valid_files() {
    let seeds = seed_files();
    assert!(seeds.len() >= 7);
    for (name, bytes) in seeds {
        Reader::from_bytes(&bytes, ReadOptions::default())
            .and_then(|r| r.verify())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_target_replays_the_seed_corpus_and_regressions() {
    for (name, run) in TARGETS {
        for (_, bytes) in seed_files() {
            run(&bytes);
        }
        for (path, bytes) in regression_files(name) {
            eprintln!("replaying {path}");
            run(&bytes);
        }
    }
}

/// A random input: pure random bytes, or a seed file truncated, flipped or overwritten.
fn random_input(rng: &mut SeededRng, seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    if rng.below(2) == 0 {
        let len = rng.below(600);
        return rng.bytes(len);
    }
    let mut bytes = seeds[rng.below(seeds.len())].1.clone();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = rng.next_u64() as u8,
            2 => bytes[at] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)],
            _ => bytes.truncate(at.max(1)),
        }
    }
    bytes
}

fn run_random(name: &str, seed: u64) {
    let run = target(name);
    let seeds = seed_files();
    let mut rng = SeededRng(seed);
    for _ in 0..RANDOM_CASES {
        run(&random_input(&mut rng, &seeds));
    }
}

#[test]
fn parse_render_survives_random_inputs() {
    run_random("parse_render", 1);
}

#[test]
fn roundtrip_holds_for_random_models() {
    run_random("roundtrip", 2);
}

#[test]
fn views_hold_for_random_inputs() {
    run_random("views", 3);
}

#[test]
fn compressed_blocks_hold_for_random_inputs() {
    run_random("compressed_block", 4);
}

#[test]
fn views_hold_on_a_real_mapping() {
    for (name, bytes) in seed_files() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, &bytes).expect("write temp file");
        // SAFETY: the temporary file is private to this test and nothing modifies or truncates
        // it while the reader is alive.
        #[allow(unsafe_code)]
        let reader = unsafe { Reader::open_mmap(file.path(), ReadOptions::default()) }
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        amberfile_fuzz::check_views(&reader);
        amberfile_fuzz::exercise(&reader);
    }
}
