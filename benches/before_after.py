#!/usr/bin/env python3
"""Before against after: the same benchmarks on two commits, interleaved in one run.

    .venv/bin/python benches/before_after.py [--before REV] [--rounds N] [--skip-python]

Builds `cargo bench --bench io` and the Python package at REV (default: `git merge-base main
HEAD`, or HEAD~1 when that is HEAD itself) in the git-ignored worktree `bench-before/`, and at
the checkout as it is. Then runs both, alternating A B B A A B ...,
N rounds (default 4), and reports each figure's median before and after, their ratio, and
the spread of the before runs themselves (max/min), which is the noise a ratio must beat.

The io bench prints GiB/s and ms; `benches/compare.py --json` writes Amber's own times for W1 to
W3. Everything runs on this machine in the page cache; quote ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IO_ROWS = {
    "raw write with CRC": "GiB/s",
    "raw read into memory, all CRCs checked": "GiB/s",
    "zstd-3 + shuffle write, all cores": "GiB/s",
    "zstd read + decode": "GiB/s",
    "mmap open, 10,000 arrays": "ms",
}


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, text=True, **kw)


def io_bench_binary(checkout: Path) -> Path:
    out = run(
        ["cargo", "bench", "--bench", "io", "--no-run", "--message-format=json"],
        cwd=checkout,
        stdout=subprocess.PIPE,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "io" and msg.get("executable"):
            return Path(msg["executable"])
    raise SystemExit(f"no io bench binary in {checkout}")


def io_figures(binary: Path, mib: int, runs: int) -> dict[str, float]:
    env = dict(os.environ, AMBER_BENCH_MIB=str(mib), AMBER_BENCH_RUNS=str(runs), AMBER_BENCH_DIR=str(ROOT))
    text = run([binary, "--bench"], env=env, stdout=subprocess.PIPE).stdout
    figures = {}
    for row, unit in IO_ROWS.items():
        line = next(l for l in text.splitlines() if l.startswith(f"| {row} |"))
        amber_cell = line.split("|")[3]
        figures[f"io: {row} ({unit})"] = float(re.search(r"[\d.]+", amber_cell).group())
    return figures


def python_figures(python: Path, runs: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run([python, ROOT / "benches/compare.py", "--only", "W1,W2,W3", "--runs", str(runs), "--json", out.name],
            stdout=subprocess.DEVNULL)
        figures = json.loads(Path(out.name).read_text())
        return {f"py {k} ({'bytes' if 'size' in k else 's'})": v for k, v in figures.items() if v is not None}


def venv_with_package(venv: Path, package: Path, template: Path) -> Path:
    if not (venv / "bin/python").exists():
        run([sys.executable, "-m", "venv", venv])
        freeze = run([template, "-m", "pip", "freeze", "--exclude", "amberfile"], stdout=subprocess.PIPE).stdout
        reqs = venv / "requirements.txt"
        reqs.write_text(freeze)
        run([venv / "bin/python", "-m", "pip", "install", "--quiet", "-r", reqs])
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", package])
    return venv / "bin/python"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="the commit to compare against (default: merge-base with main)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--mib", type=int, default=512, help="io bench array size")
    parser.add_argument("--io-runs", type=int, default=3, help="repetitions inside one io bench run")
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args()

    before = args.before or run(["git", "merge-base", "main", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE).stdout.strip()
    head = run(["git", "rev-parse", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE).stdout.strip()
    if before == head:
        before = run(["git", "rev-parse", "HEAD~1"], cwd=ROOT, stdout=subprocess.PIPE).stdout.strip()
    work = ROOT / "bench-before"
    if not work.exists():
        run(["git", "worktree", "add", "--detach", work, before], cwd=ROOT)
    else:
        run(["git", "checkout", "--detach", "--quiet", before], cwd=work)

    binaries = {"before": io_bench_binary(work), "after": io_bench_binary(ROOT)}
    pythons = {}
    if not args.skip_python:
        template = ROOT / ".venv/bin/python"
        pythons = {
            "before": venv_with_package(ROOT / "bench-venv-before", work / "python", template),
            "after": venv_with_package(ROOT / "bench-venv-after", ROOT / "python", template),
        }

    samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    # A B, B A, A B, ...: each side runs first as often as second.
    for round_ in range(args.rounds):
        for side in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
            figures = io_figures(binaries[side], args.mib, args.io_runs)
            if pythons:
                figures |= python_figures(pythons[side], 1)
            for name, value in figures.items():
                samples[side].setdefault(name, []).append(value)

    print(f"\nbefore {before[:10]}, after {head[:10]} (+ uncommitted changes); {args.rounds} rounds, alternating\n")
    print("| figure | before (median) | after (median) | after / before | before spread (max/min) |")
    print("|---|---|---|---|---|")
    for name in samples["before"]:
        b, a = samples["before"][name], samples["after"].get(name, [])
        if not a:
            continue
        mb, ma = statistics.median(b), statistics.median(a)
        spread = max(b) / min(b) if min(b) > 0 else float("nan")
        print(f"| {name} | {mb:.4g} | {ma:.4g} | {ma / mb:.3f} | {spread:.3f} |")
    print("\nGiB/s rows: higher is better; ms and s rows: lower is better.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
