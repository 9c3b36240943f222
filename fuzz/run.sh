#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer for SECONDS each (default 60):
#   fuzz/run.sh [SECONDS]
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Without
# them it prints a notice and exits 0: stable `cargo test --manifest-path fuzz/Cargo.toml`
# still runs the same harness over the corpus and seeded random inputs.
# Crashes are left in fuzz/artifacts/<target>/; minimize one with `cargo +nightly fuzz tmin`,
# then keep it in fuzz/regressions/<target>/ so `cargo test` replays it.
set -euo pipefail

seconds="${1:-60}"
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: NOTICE: no nightly toolchain; skipping libFuzzer runs (stable harness tests still apply)."
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: NOTICE: cargo-fuzz is not installed (cargo install cargo-fuzz --locked); skipping libFuzzer runs."
    exit 0
fi

# Seeds: writer-built samples, conformance files and kept regressions (built on stable).
cargo run --quiet --bin seed_corpus -- corpus

targets=(parse_render roundtrip views compressed_block)
cargo +nightly fuzz build
for target in "${targets[@]}"; do
    echo "== fuzz/run.sh: $target for ${seconds}s"
    # -rss_limit_mb bounds memory: the harness's decode budget is 16 MiB, so a run that needs
    # more than this has found an unbounded allocation.
    cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
done
echo "fuzz/run.sh: all targets ran ${seconds}s each without a finding."
