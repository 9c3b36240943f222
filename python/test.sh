#!/usr/bin/env bash
# Builds the amberfile Python package into the repository's .venv (created if missing), then
# runs its tests. Needs python3 (3.11+) and cargo; fetches Python dependencies with pip.
# tests/test_scaling.py starts a dask.distributed LocalCluster on 127.0.0.1.
# tests/test_cli_interop.py also needs the `amber` CLI: built here unless AMBER_BIN names one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet maturin numpy scikit-learn scipy pandas safetensors ml_dtypes pytest \
    joblib 'moto[server]' "dask[array,dataframe]" distributed
# `--setup`: only the venv and its packages (scripts/test-all.sh needs moto before any test).
if [ "${1:-}" = "--setup" ]; then
    exit 0
fi
"$venv/bin/python" -m pip install --quiet "$here"
if [ -z "${AMBER_BIN:-}" ]; then
    (cd "$root" && cargo build --quiet --release -p amber-cli --bin amber)
fi
cd "$here"
"$venv/bin/python" -m pytest -q tests "$@"
