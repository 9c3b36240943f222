#!/usr/bin/env python3
"""Cold-cache opens: what a first open after a reboot or a deploy costs (issue #17).

    .venv/bin/python benches/cold_open.py [--mib 1024] [--rounds 3] [--dir DIR] [--before PYTHON]

Every measurement runs in a fresh child process that imports its libraries, drops the page cache
(`sync; echo 3 > /proc/sys/vm/drop_caches`), then times one call and reads `read_bytes` (bytes
fetched from the disk) from `/proc/self/io` before and after it. Candidates alternate within
each round and the medians of `--rounds` rounds are reported. Where dropping the cache is not
permitted (not root, a read-only /proc/sys) the bench prints a notice and exits 0.

Rows (files of about `--mib` MiB each, written once into `--dir` and reused):
- open + list: 2,000 float32 arrays of 2^17 + 3 elements (zero padding between extents), Amber
  `lazy_load(..., mmap_mode="r").keys()` and `lazy_load(...).keys()` against safetensors'
  `safe_open(...).keys()`; and, for the record, `load(mmap_mode="r")`, which builds every array;
- open + first read of one 4 MiB array (the sum of all its elements) from a file of 4 MiB arrays:
  Amber `lazy_load(..., mmap_mode="r")[key]` against safetensors `get_tensor` and
  `joblib.load(mmap_mode="r")[key]`;
- copying load of the whole 2,000-array file: Amber `load` against `np.load` of an `.npz`
  holding the same arrays.

`--before PYTHON` runs every Amber candidate with that interpreter too (a venv holding the
package built at an older commit), interleaved with this one, so one run gives before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

LIST_ARRAYS, LIST_ELEMENTS = 2000, 2**17 + 3
READ_ELEMENTS = 2**20  # float32: 4 MiB

# Each snippet runs in a child after the imports and the cache drop; `path` is its file and
# `key` the array it reads. It must touch what a user would touch.
CANDIDATES = {
    "list": {
        "Amber lazy_load(mmap_mode='r').keys()": ("amber", "len(af.lazy_load(path, mmap_mode='r').keys())"),
        "Amber lazy_load().keys()": ("amber", "len(af.lazy_load(path).keys())"),
        "safetensors safe_open().keys()": (
            "safetensors", "len(safe_open(path, framework='np').keys())"),
        "Amber load(mmap_mode='r') (builds every array)": ("amber", "len(af.load(path, mmap_mode='r'))"),
    },
    "first_read": {
        "Amber lazy_load(mmap_mode='r')[key].sum()": (
            "amber", "float(af.lazy_load(path, mmap_mode='r')[key].sum())"),
        "safetensors safe_open().get_tensor(key).sum()": (
            "safetensors", "float(safe_open(path, framework='np').get_tensor(key).sum())"),
        "joblib.load(mmap_mode='r')[key].sum()": ("joblib", "float(joblib.load(path, mmap_mode='r')[key].sum())"),
    },
    "copy": {
        "Amber load() (copies, every CRC checked)": ("amber", "len(af.load(path))"),
        "np.load(.npz), every array": ("npz", "(lambda z: sum(z[k].nbytes for k in z.files))(np.load(path))"),
    },
}

CHILD = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    import amberfile as af
    import joblib
    from safetensors import safe_open
    path, key = sys.argv[1], sys.argv[2]

    def read_bytes():
        with open("/proc/self/io") as io:
            return next(int(line.split()[1]) for line in io if line.startswith("read_bytes"))

    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as drop:
        drop.write("3\\n")
    before, start = read_bytes(), time.perf_counter()
    result = {code}
    seconds = time.perf_counter() - start
    print(json.dumps({{"ms": seconds * 1e3, "mib": (read_bytes() - before) / 2**20}}))
""")


def can_drop_caches() -> bool:
    try:
        with open("/proc/sys/vm/drop_caches", "w") as drop:
            drop.write("3\n")
        return True
    except OSError:
        return False


def make_files(directory: Path, mib: int, python: str) -> dict[str, Path]:
    """The bench files, written by a child (only once for a given size)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "amber_list": directory / f"list-{mib}.amber",
        "safetensors_list": directory / f"list-{mib}.safetensors",
        "npz_list": directory / f"list-{mib}.npz",
        "amber_read": directory / f"read-{mib}.amber",
        "safetensors_read": directory / f"read-{mib}.safetensors",
        "joblib_read": directory / f"read-{mib}.joblib",
    }
    if all(path.exists() for path in files.values()):
        return files
    scale = mib / 1024
    code = textwrap.dedent(f"""
        import numpy as np, amberfile as af, joblib
        from safetensors.numpy import save_file
        files = {json.dumps({k: str(v) for k, v in files.items()})}
        rng = np.random.default_rng(17)
        many = {{f"w{{i}}": rng.standard_normal({LIST_ELEMENTS}, dtype=np.float32)
                 for i in range(max(1, int({LIST_ARRAYS} * {scale})))}}
        af.dump(many, files["amber_list"], compress=0)
        save_file(many, files["safetensors_list"])
        np.savez(files["npz_list"], **many)
        del many
        big = {{f"w{{i}}": rng.standard_normal({READ_ELEMENTS}, dtype=np.float32)
                for i in range(max(1, int(256 * {scale})))}}
        af.dump(big, files["amber_read"], compress=0)
        save_file(big, files["safetensors_read"])
        joblib.dump(big, files["joblib_read"])
    """)
    print(f"writing the bench files into {directory} (once) ...", file=sys.stderr, flush=True)
    subprocess.run([python, "-c", code], check=True)
    return files


def measure(python: str, snippet: str, path: Path, key: str) -> dict[str, float]:
    out = subprocess.run(
        [python, "-c", CHILD.format(code=snippet), str(path), key],
        check=True, text=True, stdout=subprocess.PIPE,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of each bench file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "amber-cold-bench")
    parser.add_argument("--before", help="a Python whose amberfile is the older build")
    parser.add_argument("--only", help="comma-separated rows to run (list, first_read, copy)")
    args = parser.parse_args()
    if not can_drop_caches():
        print("cold_open.py: NOTICE: cannot drop the page cache here (needs root and a writable "
              "/proc/sys/vm/drop_caches); skipping.")
        return 0
    files = make_files(args.dir, args.mib, sys.executable)
    middle = max(1, int(256 * args.mib / 1024)) // 2
    targets = {
        "list": ({"amber": files["amber_list"], "safetensors": files["safetensors_list"]}, "w0"),
        "first_read": ({"amber": files["amber_read"], "safetensors": files["safetensors_read"],
                        "joblib": files["joblib_read"]}, f"w{middle}"),
        "copy": ({"amber": files["amber_list"], "npz": files["npz_list"]}, "w0"),
    }
    pythons = {"": sys.executable} | ({" [before]": args.before} if args.before else {})
    jobs = []
    rows = args.only.split(",") if args.only else list(CANDIDATES)
    for row, candidates in CANDIDATES.items():
        if row not in rows:
            continue
        paths, key = targets[row]
        for name, (kind, snippet) in candidates.items():
            for label, python in pythons.items() if kind == "amber" else [("", sys.executable)]:
                jobs.append((row, name + label, python, snippet, paths[kind], key))
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_index in range(args.rounds):
        # Alternate: each round starts one candidate later, and every other round runs backwards.
        order = jobs[round_index % len(jobs):] + jobs[:round_index % len(jobs)]
        if round_index % 2:
            order.reverse()
        for row, name, python, snippet, path, key in order:
            results.setdefault((row, name), []).append(measure(python, snippet, path, key))
    print(f"cold cache, {args.rounds} rounds, medians; files of about {args.mib} MiB in {args.dir}")
    print(f"{'row':11} {'candidate':58} {'ms':>9} {'(min-max)':>15} {'MiB read':>9}")
    for (row, name), runs in results.items():
        times = sorted(r["ms"] for r in runs)
        mib = statistics.median(r["mib"] for r in runs)
        spread = f"({times[0]:.0f}-{times[-1]:.0f})"
        print(f"{row:11} {name:58} {statistics.median(times):9.1f} {spread:>15} {mib:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
