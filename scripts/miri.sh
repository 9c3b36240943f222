#!/usr/bin/env bash
# Runs the crate's unit tests under Miri, the undefined-behaviour checker:
#   scripts/miri.sh
# That covers the tests of the one unsafe module (src/read/mmap.rs): the zero-copy view path a
# mapping takes, over aligned and deliberately misaligned in-memory storages, plus every other
# unit test (graph, dtypes, filters, rendering). What Miri cannot execute is skipped with
# `cfg_attr(miri, ignore)` and a reason: mapping a real file (Miri has no file-backed mmap), and
# the graph test that expands a million Value nodes and the streaming-open test that compresses
# 10 MiB with zstd (correct, but hours under Miri, and zstd is C).
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
cargo +nightly miri test --lib
