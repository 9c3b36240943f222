#!/usr/bin/env python3
"""Amber against pickle, joblib, numpy, safetensors and skops, on one machine, in one run.

    .venv/bin/python benches/compare.py [--quick] [--runs N] [--out docs/benchmarks.md]

(`bash benches/run.sh` sets up the .venv and runs this together with `cargo bench --bench io`.)

Every workload runs side by side in this process, the candidates interleaved round by round;
each figure is the median of N runs (default 5) and every Amber time is also given as a ratio
to its anchor (Amber / anchor: below 1.0 is faster). Files live in a temporary directory on the same disk as the checkout and are
in the page cache, as they are when a model is saved and loaded again on one machine.

Workloads (issue 7):
  W1  one 512 MiB float32 array: dump, load, mmap open, mmap open + full scan, size;
  W2  10,000 float32 arrays of 4 KiB in a dict: dump, open + list names, load one, load all;
  W3  scikit-learn models (a 200-tree random forest on 20,000 x 40, and a Pipeline): dump,
      load, size, against pickle, joblib and skops;
  W4  compression of realistic data (the forest's node records, trained float weights):
      ratio and MB/s of Amber zstd with and without shuffle at several levels, against joblib
      compress=3 (zlib) and compress="lz4".
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import safetensors.numpy as st
from safetensors import safe_open

import amberfile

try:
    import skops.io as sio
except ImportError:  # pragma: no cover - reported in the table
    sio = None


def timed(fn, runs, setup=None):
    """A measurement for `interleaved`: `fn` timed `runs` times, `setup` untimed before each."""
    return fn, runs, setup


def interleaved(measurements):
    """Medians of several measurements taken in rounds, one run of each per round, so that the
    machine's drift (page-cache writeback, other load) falls on every candidate alike. Each
    round starts one candidate later than the last: on this machine the first big write after
    the previous round's files are deleted was measured up to twice as slow as the others, and a
    fixed order put that on one candidate every time."""
    samples = {name: [] for name in measurements}
    names = list(measurements)
    for round_ in range(max(runs for _, runs, _ in measurements.values())):
        start = round_ % len(names)
        for name in names[start:] + names[:start]:
            fn, runs, setup = measurements[name]
            if round_ < runs:
                samples[name].append(median_time(fn, 1, setup))
    return {name: statistics.median(times) for name, times in samples.items()}


def median_time(fn, runs, setup=None):
    samples = []
    for _ in range(runs):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_size(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def pickle_file(obj, path: Path):
    """The pickle candidate: a dump of `obj` to `path` (protocol 5) and a load of it back."""

    def dump():
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=5)

    def load():
        with open(path, "rb") as f:
            return pickle.load(f)

    return dump, load


class Table:
    def __init__(self, title, anchor_note):
        self.title = title
        self.anchor_note = anchor_note
        self.rows = []

    def add(self, measure, amber, anchor_name, anchor, target=None, others=None):
        ratio = amber / anchor if (amber is not None and anchor) else None
        self.rows.append((measure, amber, anchor_name, anchor, ratio, target, others or {}))

    def markdown(self):
        lines = [f"### {self.title}", "", self.anchor_note, ""]
        lines.append("| measure | Amber | anchor | anchor time | Amber / anchor | target | others |")
        lines.append("|---|---|---|---|---|---|---|")
        for measure, amber, anchor_name, anchor, ratio, target, others in self.rows:
            size_row = measure.startswith("size")
            show = fmt_size if size_row else fmt_time
            other_text = ", ".join(f"{k} {show(v) if v is not None else 'n/a'}" for k, v in others.items())
            lines.append(
                f"| {measure} | {show(amber)} | {anchor_name} | {show(anchor)} | "
                f"{'n/a' if ratio is None else f'{ratio:.2f}'} | {target or ''} | {other_text} |"
            )
        return "\n".join(lines) + "\n"


def w1(tmp: Path, runs: int, mib: int) -> Table:
    a = np.random.default_rng(0).standard_normal(mib * 2**18, dtype=np.float32)
    paths = {name: tmp / f"w1.{name}" for name in ["npy", "amber", "pkl", "joblib", "safetensors"]}

    def rm(p):
        # Each dump starts with the previous run's file gone and its dirty pages written back,
        # so no candidate pays for another's writeback.
        def setup():
            p.unlink(missing_ok=True)
            os.sync()

        return setup

    pickle_dump, pickle_load = pickle_file(a, paths["pkl"])
    # Big writes meet the disk's writeback, the noisiest part of a shared machine: more runs.
    writes = max(runs, 15)
    dump = interleaved({
        "np.save": timed(lambda: np.save(paths["npy"], a), writes, rm(paths["npy"])),
        "amber": timed(lambda: amberfile.dump(a, paths["amber"]), writes, rm(paths["amber"])),
        "pickle5": timed(pickle_dump, writes, rm(paths["pkl"])),
        "joblib": timed(lambda: joblib.dump(a, paths["joblib"]), writes, rm(paths["joblib"])),
        "safetensors": timed(
            lambda: st.save_file({"a": a}, paths["safetensors"]), writes, rm(paths["safetensors"])
        ),
    })
    load = interleaved({
        "np.load": timed(lambda: np.load(paths["npy"]), runs),
        "amber": timed(lambda: amberfile.load(paths["amber"]), runs),
        "pickle5": timed(pickle_load, runs),
        "joblib": timed(lambda: joblib.load(paths["joblib"]), runs),
        "safetensors": timed(lambda: st.load_file(paths["safetensors"]), runs),
    })
    many = max(runs, 21)
    mmap_open = interleaved({
        "np.load(mmap)": timed(lambda: np.load(paths["npy"], mmap_mode="r"), many),
        "amber": timed(lambda: amberfile.load(paths["amber"], mmap_mode="r"), many),
        "joblib(mmap)": timed(lambda: joblib.load(paths["joblib"], mmap_mode="r"), many),
        "safetensors(safe_open)": timed(
            lambda: safe_open(paths["safetensors"], framework="np").get_tensor("a"), runs
        ),
    })
    scan = interleaved({
        "np.load(mmap)": timed(lambda: float(np.load(paths["npy"], mmap_mode="r").sum()), runs),
        "amber": timed(lambda: float(amberfile.load(paths["amber"], mmap_mode="r").sum()), runs),
        "joblib(mmap)": timed(lambda: float(joblib.load(paths["joblib"], mmap_mode="r").sum()), runs),
    })
    size = {name: os.path.getsize(p) for name, p in paths.items()}

    t = Table(
        f"W1: one {mib} MiB float32 array",
        "Anchors: `np.save` / `np.load`; checksums on (Amber verifies every CRC on a plain load).",
    )
    t.add("dump", dump["amber"], "np.save", dump["np.save"], "≤ 1.1", {k: v for k, v in dump.items() if k not in ("amber", "np.save")})
    t.add("load", load["amber"], "np.load", load["np.load"], "≤ 1.1", {k: v for k, v in load.items() if k not in ("amber", "np.load")})
    t.add(
        "mmap open",
        mmap_open["amber"],
        "np.load(mmap)",
        mmap_open["np.load(mmap)"],
        "≤ 1 ms",
        {k: v for k, v in mmap_open.items() if k not in ("amber", "np.load(mmap)")},
    )
    t.add("mmap open + full scan", scan["amber"], "np.load(mmap)", scan["np.load(mmap)"], None, {"joblib(mmap)": scan["joblib(mmap)"]})
    t.add("size", size["amber"], ".npy", size["npy"], None, {k: size[k] for k in ("pkl", "joblib", "safetensors")})
    return t


def w2(tmp: Path, runs: int, count: int) -> Table:
    rng = np.random.default_rng(1)
    arrays = {f"layer.{i}.weight": rng.standard_normal(1024, dtype=np.float32) for i in range(count)}
    key = f"layer.{count // 2}.weight"
    p = {name: tmp / f"w2.{name}" for name in ["amber", "safetensors", "npz", "pkl", "joblib"]}

    pickle_dump, pickle_load = pickle_file(arrays, p["pkl"])
    dump = interleaved({
        "amber": timed(lambda: amberfile.dump(arrays, p["amber"]), runs),
        "safetensors": timed(lambda: st.save_file(arrays, p["safetensors"]), runs),
        "npz": timed(lambda: np.savez(p["npz"], **arrays), runs),
        "pickle5": timed(pickle_dump, runs),
        "joblib": timed(lambda: joblib.dump(arrays, p["joblib"]), runs),
    })
    open_list = interleaved({
        "amber": timed(lambda: amberfile.lazy_load(p["amber"]).keys(), runs),
        "safetensors": timed(lambda: list(safe_open(p["safetensors"], framework="np").keys()), runs),
        "npz": timed(lambda: list(np.load(p["npz"]).files), runs),
        "pickle5": timed(lambda: list(pickle_load()), runs),
        "joblib": timed(lambda: list(joblib.load(p["joblib"])), runs),
    })
    load_one = interleaved({
        "amber": timed(lambda: amberfile.lazy_load(p["amber"])[key], runs),
        "safetensors": timed(lambda: safe_open(p["safetensors"], framework="np").get_tensor(key), runs),
        "npz": timed(lambda: np.load(p["npz"])[key], runs),
        "pickle5": timed(lambda: pickle_load()[key], runs),
        "joblib": timed(lambda: joblib.load(p["joblib"])[key], runs),
    })
    load_all = interleaved({
        "amber": timed(lambda: amberfile.load(p["amber"]), runs),
        "safetensors": timed(lambda: st.load_file(p["safetensors"]), runs),
        "npz": timed(lambda: dict(np.load(p["npz"])), runs),
        "pickle5": timed(pickle_load, runs),
        "joblib": timed(lambda: joblib.load(p["joblib"]), runs),
    })
    t = Table(
        f"W2: {count:,} float32 arrays of 4 KiB in a dict",
        "Anchors: safetensors for open + list, pickle (protocol 5) for load all.",
    )
    others = lambda d, skip: {k: v for k, v in d.items() if k not in skip}  # noqa: E731
    t.add("dump", dump["amber"], "safetensors", dump["safetensors"], None, others(dump, ("amber", "safetensors")))
    t.add("open + list names", open_list["amber"], "safetensors", open_list["safetensors"], "≤ 0.5", others(open_list, ("amber", "safetensors")))
    t.add("load one array", load_one["amber"], "safetensors", load_one["safetensors"], None, others(load_one, ("amber", "safetensors")))
    t.add("load all", load_all["amber"], "pickle5", load_all["pickle5"], "≤ 1.0", others(load_all, ("amber", "pickle5")))
    return t


def trained_models(quick: bool):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    n, trees = (4000, 20) if quick else (20000, 200)
    X, y = make_classification(n_samples=n, n_features=40, n_informative=20, random_state=0)
    forest = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=-1).fit(X, y)
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    return X, forest, pipeline, trees, n


def w3(tmp: Path, runs: int, models) -> Table:
    X, forest, pipeline, trees, n = models
    t = Table(
        f"W3: scikit-learn models ({trees}-tree RandomForestClassifier on {n:,} x 40, and a Pipeline)",
        "Anchor: pickle (protocol 5). Amber loads only allowlisted types; skops is the other safe format.",
    )
    for name, model in [("forest", forest), ("pipeline", pipeline)]:
        p = {fmt: tmp / f"w3-{name}.{fmt}" for fmt in ["amber", "pkl", "joblib", "skops"]}

        pickle_dump, pickle_load = pickle_file(model, p["pkl"])
        dump = interleaved({
            "amber": timed(lambda: amberfile.dump(model, p["amber"]), runs),
            "pickle5": timed(pickle_dump, runs),
            "joblib": timed(lambda: joblib.dump(model, p["joblib"]), runs),
        })
        load = interleaved({
            "amber": timed(lambda: amberfile.load(p["amber"]), runs),
            "pickle5": timed(pickle_load, runs),
            "joblib": timed(lambda: joblib.load(p["joblib"]), runs),
        })
        if sio is not None:
            dump["skops"] = median_time(lambda: sio.dump(model, p["skops"]), max(1, runs // 2))
            untrusted = sio.get_untrusted_types(file=p["skops"])
            load["skops"] = median_time(lambda: sio.load(p["skops"], trusted=untrusted), max(1, runs // 2))
        restored = amberfile.load(p["amber"])
        assert (restored.predict(X) == model.predict(X)).all(), "Amber round trip changed predictions"
        size = {fmt: os.path.getsize(path) for fmt, path in p.items() if path.exists()}
        skops_ratio = lambda d: (d["skops"] / d["amber"]) if "skops" in d else None  # noqa: E731
        t.add(f"{name}: dump", dump["amber"], "pickle5", dump["pickle5"], "≤ 1.0; ≥ 10x faster than skops", {k: v for k, v in dump.items() if k not in ("amber", "pickle5")})
        t.add(f"{name}: load", load["amber"], "pickle5", load["pickle5"], "≤ 1.0; ≥ 10x faster than skops", {k: v for k, v in load.items() if k not in ("amber", "pickle5")})
        t.add(f"size: {name}", size["amber"], "pickle5", size["pkl"], None, {k: v for k, v in size.items() if k not in ("amber", "pkl")})
        t.speedups = getattr(t, "speedups", []) + [
            (name, skops_ratio(dump), skops_ratio(load)),
        ]
    return t


def w4(runs: int, models) -> str:
    _, forest, _, _, _ = models
    nodes = np.concatenate([est.tree_.__getstate__()["nodes"] for est in forest.estimators_])
    from sklearn.neural_network import MLPClassifier

    X, y = models[0], forest.predict(models[0])
    mlp = MLPClassifier(hidden_layer_sizes=(512, 256), max_iter=20, random_state=0).fit(X[:4000], y[:4000])
    weights = np.concatenate([w.ravel() for w in mlp.coefs_]).astype(np.float32)
    lines = [
        "### W4: compression of realistic data",
        "",
        "Ratio is raw bytes / compressed bytes; MB/s is raw MB (10^6 bytes) compressed per second, median.",
        "",
        "| data | codec | ratio | compress MB/s | decompress MB/s |",
        "|---|---|---|---|---|",
    ]
    for label, data in [(f"forest node records ({fmt_size(nodes.nbytes)})", nodes), (f"MLP float32 weights ({fmt_size(weights.nbytes)})", weights)]:
        raw = data.nbytes

        codecs = {}  # name: (dumps, loads)
        for level in (1, 3, 9):
            for shuffle in (True, False):
                codecs[f"Amber zstd-{level}{' + shuffle' if shuffle else ''}"] = (
                    lambda level=level, shuffle=shuffle: amberfile.dumps(data, compress=level, shuffle=shuffle),
                    amberfile.loads,
                )
        for compress, codec in [(3, "joblib zlib-3"), ("lz4", "joblib lz4")]:

            def jdump(compress=compress):
                buf = io.BytesIO()
                joblib.dump(data, buf, compress=compress)
                return buf.getvalue()

            codecs[codec] = (jdump, lambda blob: joblib.load(io.BytesIO(blob)))
        blobs, failed = {}, {}
        for codec, (dumps, _) in codecs.items():
            try:
                blobs[codec] = dumps()
            except Exception as e:  # lz4 missing
                failed[codec] = type(e).__name__
        # Interleaved, like the other workloads: the speed ratios compare runs of the same rounds.
        compress_runs = max(runs, 9)
        t_c = interleaved({c: timed(codecs[c][0], compress_runs) for c in blobs})
        t_d = interleaved({c: timed(lambda c=c: codecs[c][1](blobs[c]), compress_runs) for c in blobs})
        for codec in codecs:
            if codec in failed:
                lines.append(f"| {label} | {codec} | n/a ({failed[codec]}) | | |")
                continue
            blob = blobs[codec]
            lines.append(
                f"| {label} | {codec} | {raw / len(blob):.2f} | {raw / t_c[codec] / 1e6:.0f} | {raw / t_d[codec] / 1e6:.0f} |"
            )
    return "\n".join(lines) + "\n"


GENERATED = "<!-- Below: written by benches/compare.py; edit above this line only. -->"


def machine_line():
    cores = os.cpu_count()
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return (
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {cores} cores, {mem} memory, "
        f"Python {platform.python_version()}, numpy {np.__version__}, joblib {joblib.__version__}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the report here (markdown)")
    parser.add_argument("--json", type=Path, help="also write Amber's own figures here, for benches/before_after.py")
    parser.add_argument(
        "--only", default="W1,W2,W3,W4", help="comma-separated workloads to run, e.g. W3,W4 (no report is written)"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    only = {w.strip().upper() for w in args.only.split(",")}
    if only != {"W1", "W2", "W3", "W4"}:
        args.out = None  # a partial run must not replace the full report

    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as d:
        tmp = Path(d)
        parts = []
        tables = []
        if "W1" in only:
            tables.append(w1(tmp, runs, 8 if args.quick else 512))
            parts.append(tables[-1].markdown())
            print(parts[-1], flush=True)
        if "W2" in only:
            tables.append(w2(tmp, runs, 500 if args.quick else 10_000))
            parts.append(tables[-1].markdown())
            print(parts[-1], flush=True)
        models = trained_models(args.quick) if only & {"W3", "W4"} else None
        if "W3" in only:
            t3 = w3(tmp, runs, models)
            tables.append(t3)
            text = t3.markdown()
            for name, d_ratio, l_ratio in getattr(t3, "speedups", []):
                if d_ratio is not None:
                    text += f"\n{name}: Amber is {d_ratio:.0f}x faster than skops to dump and {l_ratio:.0f}x faster to load.\n"
            parts.append(text)
            print(parts[-1], flush=True)
        if "W4" in only:
            parts.append(w4(runs, models))
            print(parts[-1], flush=True)

    if args.json:
        figures = {f"{t.title.split()[0]} {row[0]}": row[1] for t in tables for row in t.rows}
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True))
    command = "python benches/compare.py --quick" if args.quick else f"bash benches/run.sh {runs}"
    report = (
        f"Measured {machine_line()}; medians of {runs} runs; reproduce with `{command}`.\n\n" + "\n".join(parts)
    )
    if args.out:
        # Everything above the marker is written by hand (the analysis) and kept.
        kept = "# Benchmarks\n\n"
        if args.out.exists() and GENERATED in args.out.read_text():
            kept = args.out.read_text().split(GENERATED)[0]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(kept + GENERATED + "\n\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
