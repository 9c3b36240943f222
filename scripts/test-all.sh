#!/usr/bin/env bash
# Sets up and runs every test of the project on a fresh machine:
#   0. the git-ignored .venv with the Python packages, nginx (Debian's) if missing, and the
#      real servers the remote tests read from (scripts/services.py: moto's S3 server and
#      nginx, on 127.0.0.1 and free ports), stopped on exit, also on failure
#   1. clippy over the workspace with warnings denied, then cargo tests of the workspace: the
#      reference crate and the CLI crate (unit, integration, proptest, corruption sweeps,
#      conformance through the library, CLI tests) and doc tests
#   2. the conformance suite, run against the `amber render` binary
#   3. the fuzz harnesses on stable (corpus, regressions, seeded random inputs), then every
#      cargo-fuzz target for FUZZ_SECONDS (default 60) each when a nightly toolchain is present
#   4. Miri over the crate's unit tests, including the unsafe module, when nightly is present
#   5. the Python package, built with maturin into a git-ignored .venv and tested with pytest
#      against real numpy, scikit-learn and safetensors (and the CLI on their files)
#   6. the hostile suite (tests/hostile/): generated hostile files through every reader path
#      (CLI, crate API probe, Python), each under a 2 GiB memory cap and a 10 s timeout
# Stops at the first failing step. Steps that need nightly print a notice and are skipped when
# nightly is absent; the tools they need (cargo-fuzz, the Miri component) are installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==== %s (at %ds) ====\n' "$*" "$((SECONDS - started))"; }
# The CLI binary the conformance runner and the Python CLI tests use.
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export AMBER_BIN="$target_dir/release/amber"

step "set-up: the Python venv, nginx, and the test servers on 127.0.0.1"
bash python/test.sh --setup
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt-get install -y -qq nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nginx; }
fi
services_dir="$(mktemp -d)"
trap '.venv/bin/python scripts/services.py stop "$services_dir"; rm -rf "$services_dir"' EXIT
.venv/bin/python scripts/services.py start "$services_dir" > "$services_dir/env"
# shellcheck disable=SC1091
. "$services_dir/env"
# The remote tests fail instead of skipping when the servers are missing.
export AMBER_REQUIRE_SERVICES=1

step "cargo tests (stable)"
cargo clippy --workspace --all-targets -- -D warnings
# The crate alone, without `remote`: what a user who does not ask for it builds.
cargo clippy -p amberfile --lib -- -D warnings
cargo test --workspace --all-targets
cargo test --doc

step "conformance suite against amber render"
cargo build --release -p amber-cli --bin amber
python3 conformance/run -- "$AMBER_BIN"

step "fuzz harnesses on stable"
cargo test --manifest-path fuzz/Cargo.toml

have_nightly=false
if cargo +nightly --version >/dev/null 2>&1; then
    have_nightly=true
else
    echo "NOTICE: no nightly toolchain: the cargo-fuzz runs and Miri are skipped."
fi

step "cargo-fuzz targets (nightly)"
if $have_nightly && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
bash fuzz/run.sh "${FUZZ_SECONDS:-60}"

step "miri over the unsafe code (nightly)"
if $have_nightly && ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup component add --toolchain nightly miri rust-src ||
        echo "NOTICE: could not install the Miri component."
fi
bash scripts/miri.sh

step "python package (numpy, scikit-learn, safetensors, the amber CLI)"
bash python/test.sh

step "hostile suite (CLI, crate API, Python; 2 GiB and 10 s per case)"
cargo build --release --example probe
AMBER_PROBE="$target_dir/release/examples/probe" .venv/bin/python tests/hostile/run.py

printf '\nall test steps passed in %ds\n' "$((SECONDS - started))"
