#!/usr/bin/env bash
# Runs the crate's unit tests under Miri, the undefined-behaviour checker:
#   scripts/miri.sh
# That covers the tests of the one unsafe module (src/read/mmap.rs): the zero-copy view path a
# mapping takes, over aligned and deliberately misaligned in-memory storages, plus every other
# unit test (graph, dtypes, filters, rendering). What Miri cannot execute is skipped with
# `cfg_attr(miri, ignore)` and a reason: mapping a real file (Miri has no file-backed mmap), and
# the tests that are correct but take hours under Miri: the graph test that expands a million
# Value nodes, the in-place unshuffle test over blocks past its 16 MiB scratch, and the two
# streaming-read tests over a 20 MiB file (one compresses with zstd, which is C).
# The remote module's tests that build HTTP clients are skipped too: loading TLS roots and ring's
# C code would take hours. A 150 KB unit test keeps the streaming read's buffer growth under Miri.
# The compressed paths (zstd) are covered by the stable tests and the fuzzers instead.
# Prints a notice and exits 0 when nightly or Miri is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "scripts/miri.sh: NOTICE: nightly Miri is not installed (rustup +nightly component add miri); skipping."
    exit 0
fi

# Isolation off: some unit tests read and write temporary files, which Miri supports (mmap it
# does not). -Zmiri-strict-provenance checks the pointer casts.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-strict-provenance}"
cargo +nightly miri setup
# A bound, so that a test too slow for Miri fails this step instead of stalling CI (the suite
# takes under a minute once built; such a test wants `cfg_attr(miri, ignore = "why")`).
limit="${MIRI_TIMEOUT_SECONDS:-900}"
status=0
timeout "$limit" cargo +nightly miri test --lib || status=$?
if [ "$status" -eq 124 ]; then
    echo "scripts/miri.sh: Miri did not finish within ${limit}s: a unit test is too slow for Miri." >&2
fi
exit "$status"
