"""The state fuzzer (``state_fuzz.py``) in the test command: trusted types whose state is
mutated must be refused at load with an ``AmberError``, or work (or raise ``ValueError``)
when used; never crash, hang, or raise an untyped error. The module docstring of
``state_fuzz.py`` defines the rules; failures name a case to replay.

The fuzzer runs once, in a fresh interpreter (it forks a child per case, which must not
inherit pytest's threads), bounded by ``AMBER_STATE_FUZZ_SECONDS`` (default 120) in total.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZER = Path(__file__).with_name("state_fuzz.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    output = tmp_path_factory.mktemp("state-fuzz") / "report.json"
    seconds = os.environ.get("AMBER_STATE_FUZZ_SECONDS", "120")
    seed = os.environ.get("AMBER_STATE_FUZZ_SEED", "0")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, str(FUZZER), "--seconds", seconds, "--seed", seed, "--json", str(output)],
        env=env, capture_output=True, text=True, timeout=float(seconds) + 600,
    )
    print(completed.stdout)  # the counts per type, shown with -s or on failure
    assert output.exists(), f"the fuzzer did not finish:\n{completed.stdout}\n{completed.stderr}"
    return json.loads(output.read_text())


def _listing(failures: list[dict]) -> str:
    return "\n".join(
        f"{f['subject']} seed={f['seed']} {f['description']}: {f['outcome']} at {f['phase']}"
        + (f"\n    {f['detail']}" if f["detail"] else "")
        for f in failures
    )


def _failures(report: dict, part: str) -> list[dict]:
    return [failure for failure in report["failures"] if failure["part"] == part]


def test_every_subject_was_exercised(report):
    counts = report["counts"]
    assert len(counts) + len(report["skipped"]) >= 50, sorted(counts)
    for name, count in counts.items():
        assert count.get("smoke cases", 0) >= 2, f"{name}: no smoke mutation applies"
        assert count.get("fuzz cases", 0) >= 1, f"{name}: the time budget left no fuzz case"


def test_known_bad_states_are_refused_or_harmless(report):
    """Baselines (unmutated models must round-trip) and the known-bad mutations of each type."""
    failures = _failures(report, "smoke")
    if failures:
        pytest.fail(f"{len(failures)} smoke cases failed:\n{_listing(failures)}", pytrace=False)


def test_random_state_mutations_are_refused_or_harmless(report):
    failures = _failures(report, "fuzz")
    if failures:
        pytest.fail(f"{len(failures)} fuzz cases failed (seed {report['seed']}):\n{_listing(failures)}", pytrace=False)
