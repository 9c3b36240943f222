#!/usr/bin/env python3
"""Scaling out: Amber under Dask and joblib, against the formats those users reach for.

    .venv/bin/python benches/scaling.py [--gib 2] [--rows 1000000] [--trees 200] [--runs 3]
                                        [--joblib-mib 256] [--only dask,model,joblib]

1. dask: `sum()` and a matrix-vector product over a float32 array of --gib GiB, on a
   LocalCluster of 2 worker processes (1 thread each): Amber raw, Amber zstd-1 + shuffle, and
   Zarr v3 (zstd-1 after a byte shuffle), all chunked alike (Zarr's chunk = the Dask chunk
   amberfile.dask picks for the raw array). Files in the page cache.
2. model: scoring --rows rows with a --trees tree forest across the 2 workers, the model
   shipped as amberfile.dask.ModelRef against the fitted estimator pickled into the graph:
   time to the first block's result and total time; the workers' model cache is emptied
   before each ModelRef run, so each run loads the model again.
3. joblib: joblib.Parallel(n_jobs=2) over a model with a --joblib-mib MiB array, loaded with
   amberfile.load(mmap_mode="r") against joblib.load(mmap_mode="r") (the anchor): time of
   load + one Parallel call of 4 tasks, and the bytes in joblib's temporary folder seen by
   the tasks.

Candidates run interleaved (A B B A ...), medians of --runs; ratios are Amber / anchor
(below 1.0 is faster). The machine is shared and noisy: quote the ratios.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import fmt_size, fmt_time, interleaved, timed  # noqa: E402

import amberfile  # noqa: E402
import amberfile.dask as ad  # noqa: E402

MiB = 1 << 20


def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    return cluster, Client(cluster)


def make_matrix(gib: float, cols: int = 256) -> np.ndarray:
    """Smooth data plus a little noise, rounded: compressible as real measurements are."""
    rows = int(gib * (1 << 30)) // (4 * cols)
    base = np.linspace(0, 100, cols, dtype=np.float32)
    out = np.empty((rows, cols), np.float32)
    rng = np.random.default_rng(0)
    step = 65536
    for start in range(0, rows, step):
        n = min(step, rows - start)
        noise = rng.integers(0, 64, size=(n, cols)).astype(np.float32) / 16
        np.add(base, noise, out=out[start : start + n])
    return out


def write_zarr(path: Path, data: np.ndarray, chunk_rows: int) -> tuple[object, str]:
    import zarr
    from zarr.codecs import ZstdCodec

    try:
        from zarr.codecs.numcodecs import Shuffle

        compressors = [Shuffle(elementsize=4), ZstdCodec(level=1)]
        note = "zstd-1 after numcodecs' Shuffle"
    except ImportError:  # pragma: no cover
        from zarr.codecs import BloscCodec

        compressors = [BloscCodec(cname="zstd", clevel=1, shuffle="shuffle", typesize=4)]
        note = "blosc zstd-1 + shuffle"
    array = zarr.create_array(
        store=str(path), shape=data.shape, chunks=(chunk_rows, data.shape[1]), dtype=data.dtype,
        compressors=compressors, zarr_format=3,
    )
    array[:] = data
    return array, note


def bench_dask(tmp: Path, gib: float, runs: int) -> list[str]:
    import dask.array as da

    data = make_matrix(gib)
    raw, packed, zpath = tmp / "raw.amber", tmp / "zstd.amber", tmp / "data.zarr"
    amberfile.dump({"x": data}, raw)
    amberfile.dump({"x": data}, packed, compress=1, shuffle=True)
    chunk_rows = ad.from_amber(raw, "x").chunks[0][0]
    _, note = write_zarr(zpath, data, chunk_rows)
    vector = np.linspace(-1, 1, data.shape[1]).astype(np.float32)
    want_sum = float(data.sum(dtype=np.float64))
    del data
    sizes = {"raw": raw.stat().st_size, "zstd": packed.stat().st_size,
             "zarr": sum(f.stat().st_size for f in zpath.rglob("*") if f.is_file())}
    cluster, client = cluster_client()
    try:
        arrays = {
            "amber raw": ad.from_amber(raw, "x"),
            "amber zstd": ad.from_amber(packed, "x"),
            "zarr v3": da.from_zarr(str(zpath)),
        }
        for name, x in arrays.items():
            got = client.compute(x.sum(dtype=np.float64)).result()
            assert abs(got - want_sum) <= 1e-9 * abs(want_sum), (name, got, want_sum)
        lines = [f"dask over {gib:g} GiB float32 {arrays['amber raw'].shape}, chunks of {chunk_rows} rows; "
                 f"sizes raw {fmt_size(sizes['raw'])}, zstd {fmt_size(sizes['zstd'])}, zarr {fmt_size(sizes['zarr'])} ({note})"]
        for op, build in [("sum", lambda x: x.sum(dtype=np.float64)), ("matvec", lambda x: x @ vector)]:
            medians = interleaved({
                name: timed(lambda x=x: client.compute(build(x)).result(), runs) for name, x in arrays.items()
            })
            anchor = medians["zarr v3"]
            lines.append(f"  {op}: " + ", ".join(
                f"{name} {fmt_time(t)} ({t / anchor:.2f} x zarr)" for name, t in medians.items()))
        return lines
    finally:
        client.close()
        cluster.close()


def _predict_with(block, model):
    return model.predict(block)


def _first_and_total(client, y) -> tuple[float, float]:
    from distributed import wait

    start = time.perf_counter()
    futures = client.compute(y.to_delayed().ravel().tolist())
    first = None
    from distributed import as_completed

    for _ in as_completed(futures):
        if first is None:
            first = time.perf_counter() - start
    wait(futures)
    return first, time.perf_counter() - start


def bench_model(tmp: Path, rows: int, trees: int, runs: int) -> list[str]:
    import dask.array as da
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(1)
    X_fit = rng.standard_normal((20000, 16)).astype(np.float32)
    y_fit = (X_fit[:, 0] * X_fit[:, 1] + X_fit[:, 2] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=trees, max_depth=14, random_state=0, n_jobs=2).fit(X_fit, y_fit)
    forest.n_jobs = 1
    path = tmp / "forest.amber"
    amberfile.dump(forest, path)
    X = rng.standard_normal((rows, 16)).astype(np.float32)
    x = da.from_array(X, chunks=(max(1, rows // 16), 16))
    ref = ad.ModelRef(path)
    cluster, client = cluster_client()
    try:
        x = client.persist(x)
        by_ref = ad.predict_blocks(ref, x)
        pickled = x.map_blocks(_predict_with, forest, drop_axis=1, dtype=np.int64)
        want = forest.predict(X[:1000])
        assert np.array_equal(client.compute(by_ref).result()[:1000], want)
        assert np.array_equal(client.compute(pickled).result()[:1000], want)
        firsts: dict[str, list[float]] = {"ModelRef": [], "pickled estimator": []}
        totals: dict[str, list[float]] = {"ModelRef": [], "pickled estimator": []}
        order = ["ModelRef", "pickled estimator"]
        for round_ in range(runs):
            for name in (order if round_ % 2 == 0 else order[::-1]):
                if name == "ModelRef":
                    client.run(ad._models.clear)
                first, total = _first_and_total(client, by_ref if name == "ModelRef" else pickled)
                firsts[name].append(first)
                totals[name].append(total)
        med = {k: (float(np.median(firsts[k])), float(np.median(totals[k]))) for k in order}
        ref_first, ref_total = med["ModelRef"]
        pk_first, pk_total = med["pickled estimator"]
        return [
            f"forest of {trees} trees (depth <= 14, {fmt_size(path.stat().st_size)} as Amber, "
            f"{fmt_size(len(pickle.dumps(forest)))} pickled) scoring {rows} rows in 16 blocks on 2 workers",
            f"  first result: ModelRef {fmt_time(ref_first)}, pickled {fmt_time(pk_first)} ({ref_first / pk_first:.2f} x)",
            f"  total: ModelRef {fmt_time(ref_total)}, pickled {fmt_time(pk_total)} ({ref_total / pk_total:.2f} x)",
        ]
    finally:
        client.close()
        cluster.close()


def bench_joblib(tmp: Path, mib: int, runs: int) -> list[str]:
    import joblib
    from joblib import Parallel, delayed

    weights = np.resize(np.arange(1000, dtype=np.float32), mib * MiB // 4)
    model = {"weights": weights, "bias": np.float32(0.5)}
    apath, jpath = tmp / "model.amber", tmp / "model.joblib"
    amberfile.dump(model, apath)
    joblib.dump(model, jpath)
    del weights, model
    temp = tmp / "joblib-temp"
    temp.mkdir()
    quarter = mib * MiB // 16
    seen: dict[str, int] = {"amber": 0, "joblib": 0}

    def part(w, i, folder):
        in_temp = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
        return in_temp, float(w[i * quarter : (i + 1) * quarter].sum(dtype=np.float64))

    def run(name, load):
        loaded = load()
        with Parallel(n_jobs=2, backend="loky", temp_folder=str(temp)) as parallel:
            out = parallel(delayed(part)(loaded["weights"], i, str(temp)) for i in range(4))
        seen[name] = max(seen[name], max(b for b, _ in out))

    medians = interleaved({
        "amber": timed(lambda: run("amber", lambda: amberfile.load(apath, mmap_mode="r")), runs),
        "joblib": timed(lambda: run("joblib", lambda: joblib.load(jpath, mmap_mode="r")), runs),
    })
    return [
        f"joblib.Parallel(n_jobs=2) over a mapped {mib} MiB model, 4 tasks",
        f"  time: amber {fmt_time(medians['amber'])}, joblib.load {fmt_time(medians['joblib'])} "
        f"({medians['amber'] / medians['joblib']:.2f} x)",
        f"  bytes in joblib's temp folder: amber {seen['amber']}, joblib.load {seen['joblib']}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--joblib-mib", type=int, default=256)
    parser.add_argument("--only", default="dask,model,joblib")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(dir=os.environ.get("AMBER_BENCH_DIR")) as folder:
        tmp = Path(folder)
        if "joblib" in parts:
            print("\n".join(bench_joblib(tmp, args.joblib_mib, args.runs)), flush=True)
        if "dask" in parts:
            print("\n".join(bench_dask(tmp, args.gib, args.runs)), flush=True)
        if "model" in parts:
            print("\n".join(bench_model(tmp, args.rows, args.trees, args.runs)), flush=True)


if __name__ == "__main__":
    main()
