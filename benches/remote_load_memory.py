#!/usr/bin/env python3
"""Peak memory of `load(url)` against the model's size (issue #15).

    .venv/bin/python benches/remote_load_memory.py [--mib 512] [--arrays 64] [--rounds 3]

Needs nginx (Debian's). A dict of `--arrays` float32 arrays, `--mib` MiB in all, is dumped once
and served by nginx on 127.0.0.1. Each case runs in a fresh process, which reports how far its
peak resident set (VmHWM) rose during the call, after numpy and amberfile were imported:

- `load(path)`: a copying load of the local file, for reference: its peak also counts the
  file's mapped pages (page cache, which the kernel can reclaim), so it shows 2x;
- `load(url)`: the same file over HTTP; all of its peak is the process's own memory. Arrays
  are fetched in runs of up to 64 MiB as the load reaches them, so it holds the model and
  about one run; fetching all of it first, then building, peaked at 2.03x.

Cases alternate (A B, then B A, ...); medians of `--rounds`. Peaks are in MiB and as a multiple
of the model's size; resident memory is deterministic enough that the spread is small.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import services  # noqa: E402  (scripts/services.py: nginx on a free port)

# VmHWM, not ru_maxrss: after fork and exec, ru_maxrss still counts the parent's pages.
MEASURE = """
import sys
import numpy, amberfile
def peak_kib():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
before = peak_kib()
options = {"allow_http": True} if sys.argv[1].startswith("http://") else None
model = amberfile.load(sys.argv[1], storage_options=options)
after = peak_kib()
assert sum(a.nbytes for a in model.values()) == int(sys.argv[2])
print((after - before) / 1024)
"""


def peak_mib(target: str, nbytes: int) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, target, str(nbytes)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{target}: {out.stderr}")
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--arrays", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    import amberfile

    folder = Path(tempfile.mkdtemp(prefix="amber-load-memory-"))
    elements = (options.mib << 20) // 4 // options.arrays
    rng = np.random.default_rng(0)
    model = {f"w{i}": rng.random(elements, dtype=np.float32) for i in range(options.arrays)}
    nbytes = sum(a.nbytes for a in model.values())
    amberfile.dump(model, folder / "model.amber")
    del model
    state = folder / "nginx"
    state.mkdir()
    port = services.start_nginx(state, folder)
    cases = {"load(path)": str(folder / "model.amber"), "load(url)": f"http://127.0.0.1:{port}/model.amber"}
    peaks: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for round_ in range(options.rounds):
            order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
            for name in order:
                peaks[name].append(peak_mib(cases[name], nbytes))
    finally:
        services.stop(state)
    size = nbytes / 2**20
    print(f"{options.arrays} arrays, {size:.0f} MiB; peak resident growth during the call, "
          f"median of {options.rounds}:")
    for name, values in peaks.items():
        median = statistics.median(values)
        print(f"  {name:11} {median:7.0f} MiB  {median / size:.2f}x the model")


if __name__ == "__main__":
    main()
