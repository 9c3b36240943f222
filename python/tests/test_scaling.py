"""Scaling out on real engines: joblib's loky workers, scikit-learn's n_jobs, and a real
dask.distributed LocalCluster of two worker processes (bound to 127.0.0.1, started here)."""

from __future__ import annotations

import os
import pickle
import re
import signal
import time

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed
from sklearn.ensemble import RandomForestClassifier

import amberfile as af
import amberfile.dask as ad

import dask.array as da
import dask.dataframe as ddf
from distributed import Client, LocalCluster

MiB = 1 << 20


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    with Client(cluster) as c:
        c.wait_for_workers(2)
        yield c
    cluster.close()


def _backing(array: np.ndarray) -> tuple[str, str, int] | None:
    """What a worker received: the np.memmap in its base chain (file, mode, offset)."""
    owner = array
    while owner is not None and not isinstance(owner, np.memmap):
        owner = getattr(owner, "base", None)
    return None if owner is None else (owner.filename, owner.mode, owner.offset)


def _temp_bytes(folder) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_joblib_workers_map_the_same_file_and_nothing_is_copied(tmp_path):
    weights = np.resize(np.arange(1000, dtype=np.float32), (256 * MiB) // 4)
    quarter = len(weights) // 4
    want = [float(weights[i * quarter : (i + 1) * quarter].sum(dtype=np.float64)) for i in range(4)]
    path = tmp_path / "model.amber"
    af.dump({"weights": weights, "bias": np.float32(0.5)}, path)
    del weights
    loaded = af.load(path, mmap_mode="r")
    assert not loaded["weights"].flags.writeable
    assert loaded["weights"].ctypes.data % 64 == 0
    temp = tmp_path / "joblib"

    def part_sum(w, i):
        # Self-contained (pickled by value), so the workers need not import this module.
        # Each touches only its quarter of the pages.
        owner = w
        while owner is not None and not isinstance(owner, np.memmap):
            owner = getattr(owner, "base", None)
        backing = None if owner is None else (owner.filename, owner.mode, owner.offset)
        return backing, float(w[i * quarter : (i + 1) * quarter].sum(dtype=np.float64))

    with Parallel(n_jobs=2, backend="loky", temp_folder=str(temp)) as parallel:
        results = parallel(delayed(part_sum)(loaded["weights"], i) for i in range(4))
        for i, (backing, total) in enumerate(results):
            assert backing is not None, "the worker got a copy, not a memory map"
            filename, mode, offset = backing
            assert os.path.samefile(filename, path) and mode == "r"
            assert offset % 64 == 0
            assert total == want[i]
        # No copy of the array in joblib's temporary folder (joblib writes one for arrays
        # over 1 MB that it cannot pass by name).
        assert not temp.exists() or _temp_bytes(temp) == 0
        # "c" mode: copy-on-write views, shared by name too; writes stay in this process.
        private = af.load(path, mmap_mode="c")
        private["weights"][0] = 7.0
        backing, total = parallel(delayed(part_sum)(private["weights"], 3) for _ in range(1))[0]
        assert backing is not None and backing[1] == "c" and total == want[3]
        assert not temp.exists() or _temp_bytes(temp) == 0
    assert af.load(path, mmap_mode="r")["weights"][0] == 0.0


def test_a_file_replaced_after_validation_is_not_shared_by_name(tmp_path):
    """The name joblib hands out must name the validated file; after a replacement by
    rename, a load maps what it opened and the arrays stay correct."""
    path = tmp_path / "m.amber"
    af.dump({"w": np.arange(10.0)}, path)
    loaded = af.load(path, mmap_mode="r")
    backing = _backing(loaded["w"])
    assert backing is not None and os.path.samefile(backing[0], path)
    af.dump({"w": np.arange(10.0) + 1}, path)  # replaced by rename: the old mapping lives on
    assert np.array_equal(loaded["w"], np.arange(10.0))


def test_forest_with_n_jobs_loaded_mapped_predicts_exactly(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 8))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    forest = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0, n_jobs=2).fit(X, y)
    path = tmp_path / "forest.amber"
    af.dump(forest, path)
    loaded = af.load(path, mmap_mode="r")
    assert loaded.n_jobs == 2
    assert np.array_equal(loaded.predict(X), forest.predict(X))
    # Threads add the trees up in any order: the sums agree to rounding, run to run alike.
    assert np.allclose(loaded.predict_proba(X), forest.predict_proba(X), rtol=0, atol=1e-12)


def _arrays():
    rng = np.random.default_rng(2)
    records = np.zeros(5000, dtype=[("id", "<i8"), ("score", "<f4"), ("tag", "S3")])
    records["id"] = np.arange(5000)
    records["score"] = rng.random(5000, dtype=np.float32)
    records["tag"] = b"abc"
    return {
        "matrix": rng.standard_normal((4096, 64)).astype(np.float32),  # 1 MiB
        "fortran": np.asfortranarray(rng.standard_normal((96, 4096))),  # 3 MiB, F order
        "ints": np.arange(3 * MiB // 8, dtype=np.int64).reshape(-1, 16),
        "records": records,
        "flags": rng.random(10000) > 0.5,
        "complex": (rng.standard_normal(3000) + 1j).astype(np.complex64).reshape(1000, 3),
        "times": np.arange(5000).astype("datetime64[ns]"),
        "half": rng.standard_normal((2000, 5)).astype(np.float16),
        "scalar": np.array(3.5),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    arrays = _arrays()
    raw, packed = folder / "raw.amber", folder / "zstd.amber"
    af.dump(arrays, raw)
    af.dump(arrays, packed, compress=3)
    return arrays, raw, packed


def _equal(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and bool(np.all(got == want))


def _worker_reads(client, location, name) -> list[int]:
    stats = client.run(ad.read_statistics)
    return [s.get((str(location), name), 0) for s in stats.values()]


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "zstd"])
def test_from_amber_on_the_cluster_equals_numpy_and_each_worker_reads_its_own_chunks(client, files, compressed):
    arrays, raw, packed = files
    path = packed if compressed else raw
    for name, want in arrays.items():
        # Small chunks: many tasks, spread over both workers.
        chunk_bytes = 256 * 1024
        axis = want.ndim - 1 if want.flags.f_contiguous and want.ndim > 1 else 0
        slab = want.nbytes // want.shape[axis] if want.ndim else want.nbytes
        chunks = tuple(max(1, chunk_bytes // slab) if i == axis else -1 for i in range(want.ndim)) or None
        x = ad.from_amber(path, name, chunks=chunks)
        before = _worker_reads(client, path, name)
        got = client.compute(x).result()
        assert _equal(got, want), name
        numeric = want.dtype.kind in "iuf" and want.ndim > 0
        if numeric:
            assert np.isclose(client.compute(x.sum(dtype=np.float64)).result(), want.sum(dtype=np.float64), rtol=1e-6)
            if want.ndim == 2:
                v = np.arange(want.shape[1], dtype=np.float64)
                assert np.allclose(client.compute(x @ v).result(), want @ v)
        after = _worker_reads(client, path, name)
        per_worker = [b - a for a, b in zip(before, after)]
        # One compute of the whole array, and sum and matvec each read it again.
        computes = (3 if want.ndim == 2 else 2) if numeric else 1
        if not compressed:
            # Raw chunks are views: the bytes handed out add up to the array, once per compute.
            assert sum(per_worker) == computes * want.nbytes, name
            continue
        # Compressed: every block decoded exactly once per compute, across the workers.
        local_before = ad.read_statistics().get((str(path), name), 0)
        ad.from_amber(path, name, chunks=chunks).compute(scheduler="sync")
        stored = ad.read_statistics()[(str(path), name)] - local_before
        assert sum(per_worker) == computes * stored, name


def test_raw_chunks_are_views_counted_once(client, files):
    arrays, raw, _ = files
    x = ad.from_amber(raw, "matrix", chunks=(512, 64))
    assert x.chunks[0] == (512,) * 8
    before = _worker_reads(client, raw, "matrix")
    client.compute(x.sum()).result()
    after = _worker_reads(client, raw, "matrix")
    per_worker = [b - a for a, b in zip(before, after)]
    assert sum(per_worker) == arrays["matrix"].nbytes
    assert all(0 < n < arrays["matrix"].nbytes for n in per_worker), per_worker
    # The task graph holds handles and ranges only.
    assert len(pickle.dumps(dict(x.__dask_graph__()))) < 8 * 1024


def test_default_and_rounded_chunks_follow_the_blocks(files):
    arrays, raw, packed = files
    # zstd, 1 MiB blocks; a matrix row is 256 bytes, so a block is 4096 rows.
    big = np.zeros((20000, 64), np.float32)
    path = packed.parent / "big.amber"
    af.dump({"big": big}, path, compress=1)
    x = ad.from_amber(path, "big")
    assert all(c % 4096 == 0 for c in x.chunks[0][:-1])
    y = ad.from_amber(path, "big", chunks=(5000, 64))
    assert y.chunks[0] == (4096, 4096, 8192, 3616)  # edges 5000, 10000, 15000 moved
    assert _equal(y.compute(scheduler="sync"), big)
    # Raw: edges stay where asked.
    z = ad.from_amber(raw, "matrix", chunks=(1000, 64))
    assert z.chunks[0] == (1000, 1000, 1000, 1000, 96)
    with pytest.raises(ValueError, match="no such key"):
        ad.from_amber(raw, "nope")
    with pytest.raises(ValueError, match="not an array"):
        af.dump({"d": {"a": 1}}, path)
        ad.from_amber(path, "d")


def _corrupt_one_block(path, name) -> None:
    data = bytearray(path.read_bytes())
    # The arrays lie between the 64-byte header and the metadata: flip a byte in the middle
    # of the single array's stored blocks.
    data[64 + (len(data) - 64) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_chunk_raises_checksum_error_naming_array_and_block(client, tmp_path):
    values = np.random.default_rng(3).standard_normal((64, 8192))  # 4 MiB: 4 blocks
    path = tmp_path / "bad.amber"
    af.dump({"values": values}, path, compress=1)
    _corrupt_one_block(path, "values")
    x = ad.from_amber(path, "values")  # metadata is intact: opening succeeds
    with pytest.raises(af.ChecksumError, match=r"array 'values', block \d+ of \d+"):
        client.compute(x.sum()).result()
    # A raw array's one CRC covers it whole: checked by each worker with verify=True.
    raw = tmp_path / "bad_raw.amber"
    af.dump({"values": values}, raw)
    _corrupt_one_block(raw, "values")
    assert client.compute(ad.from_amber(raw, "values").sum()).result() != values.sum()
    with pytest.raises(af.ChecksumError, match=r"array 'values'"):
        client.compute(ad.from_amber(raw, "values", verify=True).sum()).result()


@pytest.fixture(scope="module")
def forest_file(tmp_path_factory):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4000, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    folder = tmp_path_factory.mktemp("models")
    small = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    big = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    af.dump(small, folder / "small.amber")
    af.dump(big, folder / "big.amber")
    return X, small, big, folder


def test_model_ref_predictions_equal_the_model_and_the_graph_stays_small(client, forest_file):
    X, small, big, folder = forest_file
    x = da.from_array(X, chunks=(500, 6))
    sizes = []
    for model, name in [(small, "small"), (big, "big")]:
        ref = ad.ModelRef(folder / f"{name}.amber")
        y = ad.predict_blocks(ref, x)
        assert np.array_equal(client.compute(y).result(), model.predict(X))
        proba = ad.predict_blocks(ref, x, method="predict_proba")
        assert np.array_equal(client.compute(proba).result(), model.predict_proba(X))
        # The prediction layer's tasks (the input's own layer holds X).
        sizes.append(len(pickle.dumps(dict(y.dask.layers[y.name]))))
    assert len(pickle.dumps(big)) > 50 * sizes[1]
    assert sizes[1] < 16 * 1024 and abs(sizes[0] - sizes[1]) < 256
    # Loaded once per worker process, however many blocks it scored.
    loads = client.run(lambda: sum(1 for key in ad._models if key[0].endswith("big.amber")))
    assert set(loads.values()) <= {1}
    # DataFrame partitions keep their index.
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)], index=np.arange(len(X)) * 3)
    parts = ddf.from_pandas(frame, npartitions=4)
    out = client.compute(ad.predict_blocks(ad.ModelRef(folder / "small.amber"), parts)).result()
    assert out.index.equals(frame.index)
    assert np.array_equal(out.to_numpy(), small.predict(frame))
    assert pickle.loads(pickle.dumps(ref)) == ref


def test_a_killed_worker_is_retried_and_the_result_is_right(client, files):
    arrays, raw, _ = files
    want = arrays["ints"]
    # Raw: the chunk edges stay where asked (a compressed array's move to its 3 blocks).
    x = ad.from_amber(raw, "ints", chunks=(want.shape[0] // 48, 16))
    assert len(x.chunks[0]) == 48

    def slowly(block):
        time.sleep(0.1)
        return block

    total = x.map_blocks(slowly).sum()
    pids = client.run(os.getpid)
    future = client.compute(total)
    time.sleep(0.3)
    assert not future.done()  # 48 tasks of 100 ms on two workers: mid-computation
    os.kill(next(iter(pids.values())), signal.SIGKILL)  # the worker process, not its nanny
    assert future.result(timeout=60) == want.sum()
    victim = next(iter(pids.values()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the nanny restarts the killed worker
        client.wait_for_workers(2, timeout=30)
        alive = set(client.run(os.getpid).values())
        if len(alive) == 2 and victim not in alive:
            break
        time.sleep(0.2)
    assert len(alive) == 2 and victim not in alive


def test_from_amber_reads_an_s3_object_on_the_cluster_each_worker_fetching_its_own_blocks(
        client, files, services, s3_options):
    """The S3 test server of the remote tests (moto, on 127.0.0.1): workers open the URL
    themselves with the options in the handle, and a compressed chunk fetches only its blocks."""
    arrays, _, _ = files
    url = f"s3://{services['AMBER_TEST_S3_BUCKET']}/dask-zstd.amber"
    af.dump(arrays, url, compress=3, storage_options=s3_options)
    for name in ("matrix", "fortran", "records", "half"):
        want = arrays[name]
        axis = want.ndim - 1 if want.flags.f_contiguous and want.ndim > 1 else 0
        slab = want.nbytes // want.shape[axis]
        chunks = tuple(max(1, 256 * 1024 // slab) if i == axis else -1 for i in range(want.ndim))
        x = ad.from_amber(url, name, chunks=chunks, storage_options=s3_options)
        before = _worker_reads(client, url, name)
        assert _equal(client.compute(x).result(), want), name
        per_worker = [b - a for a, b in zip(before, _worker_reads(client, url, name))]
        local_before = ad.read_statistics().get((url, name), 0)
        ad.from_amber(url, name, chunks=chunks, storage_options=s3_options).compute(scheduler="sync")
        stored = ad.read_statistics()[(url, name)] - local_before
        assert sum(per_worker) == stored, name  # every block fetched once, by one worker
    graph = pickle.dumps(dict(ad.from_amber(url, "matrix", storage_options=s3_options).__dask_graph__()))
    assert len(graph) < 8 * 1024
    raw_url = f"s3://{services['AMBER_TEST_S3_BUCKET']}/dask-raw.amber"
    af.dump(arrays, raw_url, storage_options=s3_options)
    x = ad.from_amber(raw_url, "matrix", chunks=(512, 64), storage_options=s3_options)
    assert np.array_equal(client.compute(x).result(), arrays["matrix"])


def test_a_model_ref_to_an_s3_object_predicts_as_the_model(client, forest_file, services, s3_options):
    x, _, model, _ = forest_file
    url = f"s3://{services['AMBER_TEST_S3_BUCKET']}/dask-forest.amber"
    af.dump(model, url, storage_options=s3_options)
    ref = ad.ModelRef(url, storage_options=s3_options)
    assert ref.mmap_mode is None and "s3://" in repr(ref)
    got = ad.predict_blocks(ref, da.from_array(x, chunks=(len(x) // 4, -1)))
    assert np.array_equal(client.compute(got).result(), model.predict(x))



def test_a_lazy_files_to_dask_is_from_amber_over_the_same_file(client, files, services, s3_options, tmp_path,
                                                                monkeypatch):
    """`lazy_load(...).to_dask(key)` reopens the file by its absolute path (a relative one is
    resolved at open, so a later chdir changes nothing) or by its URL with the same options."""
    arrays, _, packed = files
    monkeypatch.chdir(packed.parent)
    lazy = af.lazy_load(packed.name)
    monkeypatch.chdir(tmp_path)
    x = lazy.to_dask("fortran", chunks=(-1, 1000))
    assert x.chunks == ad.from_amber(packed, "fortran", chunks=(-1, 1000)).chunks
    assert _equal(client.compute(x).result(), arrays["fortran"])
    assert _equal(lazy.to_dask("records").compute(scheduler="sync"), arrays["records"])
    url = f"s3://{services['AMBER_TEST_S3_BUCKET']}/lazy-to-dask.amber"
    af.dump(arrays, url, compress=3, storage_options=s3_options)
    remote = af.lazy_load(url, storage_options=s3_options)
    assert _equal(client.compute(remote.to_dask("matrix")).result(), arrays["matrix"])
    with pytest.raises(ValueError, match="no such key"):  # as from_amber says it
        lazy.to_dask("no such entry")
