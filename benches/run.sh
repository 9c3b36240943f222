#!/usr/bin/env bash
# Runs every benchmark on this machine, in one go, and writes the cross-format report:
#   bash benches/run.sh [RUNS]          (default 5 runs per figure; medians are reported)
# 1. the crate's own I/O against std::fs on the same bytes: cargo bench --bench io
# 2. Amber against pickle, joblib, numpy, safetensors and skops from Python (W1-W4):
#    benches/compare.py, whose markdown report goes to docs/benchmarks.md
# Sets up the repository's git-ignored .venv itself (the package built by maturin, plus the
# formats it is compared with). Quote the figures as ratios: the machine may be shared.
set -euo pipefail
runs="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet maturin numpy scikit-learn scipy safetensors joblib lz4 skops
"$venv/bin/python" -m pip install --quiet "$root/python"

cd "$root"
cargo bench --bench io
"$venv/bin/python" benches/compare.py --runs "$runs" --out docs/benchmarks.md
