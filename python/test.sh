#!/usr/bin/env bash
# Builds the amberfile Python package into the repository's .venv (created if missing), then
# runs its tests. Needs python3 (3.11+) and cargo; fetches Python dependencies with pip.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(dirname "$here")/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet maturin numpy scikit-learn scipy pytest
"$venv/bin/python" -m pip install --quiet "$here"
cd "$here"
"$venv/bin/python" -m pytest -q tests "$@"
