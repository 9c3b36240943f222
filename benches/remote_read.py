#!/usr/bin/env python3
"""Reading part of a remote file (issue #15): time and requests over HTTP with latency.

    .venv/bin/python benches/remote_read.py [--mib 1024] [--rounds 5] [--latency-ms 25] [--dir DIR]

Needs nginx (Debian's) and, in the venv, zarr, fsspec, aiohttp and obstore besides the test
packages (`pip install zarr fsspec aiohttp obstore`).

One file of about `--mib` MiB of 4 MiB float32 arrays is written in four formats (Amber raw,
safetensors, Zarr v3 with consolidated metadata and one uncompressed chunk per array, and a
joblib pickle of the same dict) into a folder that nginx serves on 127.0.0.1. Every client
reaches nginx through a proxy in another process that holds each request `--latency-ms` before
passing it on (a far object store's round trip) and counts them. Rows:

- open + list the arrays' names: Amber `lazy_load(url).keys()`; the safetensors recipe as
  huggingface_hub runs it (one speculative GET of the first 100,000 bytes, a second only if
  the header is longer); Zarr v3 `open_consolidated` over fsspec's HTTP store; joblib over
  fsspec, which must read the whole pickle;
- open + read one 4 MiB array: Amber `lazy_load(url)[key]`; the safetensors recipe plus one
  ranged GET of the tensor; Zarr `group[key][:]`; joblib as above;
- whole-object throughput: Amber `verify(url)` (every rule and CRC, streaming) against a plain
  GET of the same object through the same Rust store (`obstore`, object_store's Python
  bindings), no latency.

Candidates alternate within each round (A B C D, then D C B A, ...), each call in the bench
process after a warm-up; medians of `--rounds` rounds, with the requests each call made and
the ratio to Amber's time. The machine is shared: read the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import services  # noqa: E402  (scripts/services.py: nginx on a free port)

ARRAY_ELEMENTS = 1 << 20  # float32: 4 MiB
SPECULATIVE_BYTES = 100_000  # huggingface_hub's first read of a safetensors header


def proxy_main(listen_port: int, upstream_port: int, latency: float, counter) -> None:
    """Forwards 127.0.0.1:listen_port to upstream_port; each chunk a client sends that starts a
    request waits `latency` seconds first and is counted."""

    async def pipe(reader, writer, delay: bool) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                if delay and chunk[:4] in (b"GET ", b"HEAD", b"PUT ", b"POST"):
                    with counter.get_lock():
                        counter.value += 1
                    await asyncio.sleep(latency)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pipe(client_reader, upstream_writer, True), pipe(upstream_reader, client_writer, False))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def write_files(folder: Path, mib: int) -> dict[str, np.ndarray]:
    import joblib
    import zarr
    from safetensors.numpy import save_file

    import amberfile

    count = max(2, mib // 4)
    rng = np.random.default_rng(0)
    arrays = {f"layer.{i}.weight": rng.standard_normal(ARRAY_ELEMENTS, dtype=np.float32) for i in range(count)}
    if not (folder / "model.amber").exists():
        amberfile.dump(arrays, folder / "model.amber")
        save_file(arrays, str(folder / "model.safetensors"))
        joblib.dump(arrays, folder / "model.joblib")
        group = zarr.open_group(str(folder / "model.zarr"), mode="w", zarr_format=3)
        for name, array in arrays.items():
            stored = group.create_array(name, shape=array.shape, dtype=array.dtype, chunks=array.shape,
                                        compressors=None)
            stored[:] = array
        zarr.consolidate_metadata(str(folder / "model.zarr"))
    return arrays


class SafetensorsRecipe:
    """Reading a safetensors file by ranges the way huggingface_hub's
    `parse_safetensors_file_metadata` does: a speculative read of the first 100,000 bytes,
    a second request only if the header is longer; then a tensor is one ranged GET."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        self.path = path
        first = self.get(0, SPECULATIVE_BYTES - 1)
        (length,) = struct.unpack("<Q", first[:8])
        header = first[8:8 + length]
        if len(header) < length:
            header += self.get(len(first), 8 + length - 1)
        self.header = json.loads(header)
        self.header.pop("__metadata__", None)
        self.data_start = 8 + length

    def get(self, first: int, last: int) -> bytes:
        self.connection.request("GET", self.path, headers={"Range": f"bytes={first}-{last}"})
        response = self.connection.getresponse()
        body = response.read()
        assert response.status == 206, response.status
        return body

    def keys(self) -> list[str]:
        return list(self.header)

    def tensor(self, key: str) -> np.ndarray:
        entry = self.header[key]
        begin, end = entry["data_offsets"]
        data = self.get(self.data_start + begin, self.data_start + end - 1)
        return np.frombuffer(data, dtype=np.float32).reshape(entry["shape"])


def candidates(base: str, port: int, key: str) -> dict[str, dict[str, object]]:
    import fsspec
    import joblib
    import zarr

    import amberfile

    plain_http = {"allow_http": True}

    def zarr_group():
        store = zarr.storage.FsspecStore.from_url(f"{base}/model.zarr", read_only=True)
        return zarr.open_consolidated(store, zarr_format=3, mode="r")

    def joblib_remote():
        with fsspec.open(f"{base}/model.joblib", "rb") as file:
            return joblib.load(file)

    return {
        "list": {
            "Amber lazy_load(url).keys()": lambda: len(amberfile.lazy_load(f"{base}/model.amber", storage_options=plain_http).keys()),
            "safetensors recipe (huggingface_hub)": lambda: len(SafetensorsRecipe(port, "/model.safetensors").keys()),
            "Zarr v3 open_consolidated, array_keys": lambda: len(list(zarr_group().array_keys())),
            "joblib.load over fsspec": lambda: len(joblib_remote()),
        },
        "one_array": {
            "Amber lazy_load(url)[key]": lambda: float(amberfile.lazy_load(f"{base}/model.amber", storage_options=plain_http)[key][-1]),
            "safetensors recipe + one ranged GET": lambda: float(SafetensorsRecipe(port, "/model.safetensors").tensor(key)[-1]),
            "Zarr v3 group[key][:]": lambda: float(zarr_group()[key][:][-1]),
            "joblib.load over fsspec": lambda: float(joblib_remote()[key][-1]),
        },
    }


def throughput_candidates(base: str, size: int) -> dict[str, object]:
    import obstore
    from obstore.store import HTTPStore

    import amberfile

    store = HTTPStore.from_url(base, client_options={"allow_http": True})

    def plain_get() -> int:
        got = obstore.get(store, "model.amber").bytes()
        assert len(got) == size
        return len(got)

    return {
        "Amber verify(url)": lambda: amberfile.verify(f"{base}/model.amber", storage_options={"allow_http": True}),
        "plain GET through object_store (obstore)": plain_get,
    }


def measure(named: dict[str, object], rounds: int, counter) -> dict[str, dict[str, float]]:
    names = list(named)
    times: dict[str, list[float]] = {name: [] for name in names}
    requests: dict[str, list[int]] = {name: [] for name in names}
    for name in names:  # warm-up: imports, connections, the server's page cache
        named[name]()
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            before = counter.value
            start = time.perf_counter()
            named[name]()
            times[name].append(time.perf_counter() - start)
            requests[name].append(counter.value - before)
    return {name: {"ms": 1e3 * statistics.median(times[name]), "requests": statistics.median(requests[name]),
                   "min_ms": 1e3 * min(times[name]), "max_ms": 1e3 * max(times[name])} for name in names}


def report(title: str, results: dict[str, dict[str, float]]) -> None:
    baseline = next(iter(results.values()))["ms"]
    print(f"\n{title}")
    print(f"  {'candidate':44} {'median ms':>10} {'range ms':>17} {'requests':>9} {'x Amber':>8}")
    for name, row in results.items():
        spread = f"{row['min_ms']:.0f}-{row['max_ms']:.0f}"
        print(f"  {name:44} {row['ms']:10.1f} {spread:>17} {row['requests']:9.0f} {row['ms'] / baseline:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--dir", type=Path, default=None, help="where the files are written (reused)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args()
    folder = options.dir or Path(tempfile.gettempdir()) / f"amber-remote-bench-{options.mib}"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = write_files(folder, options.mib)
    key = list(arrays)[len(arrays) // 2]
    state = Path(tempfile.mkdtemp(prefix="amber-remote-bench-nginx-"))
    state.mkdir(exist_ok=True)
    nginx_port = services.start_nginx(state, folder)
    counter = multiprocessing.Value("q", 0)
    results: dict[str, object] = {"mib": options.mib, "latency_ms": options.latency_ms, "loadavg": os.getloadavg()}
    try:
        proxy_port = services.free_port()
        proxy = multiprocessing.Process(target=proxy_main, args=(proxy_port, nginx_port, options.latency_ms / 1e3, counter),
                                        daemon=True)
        proxy.start()
        time.sleep(0.5)
        base = f"http://127.0.0.1:{proxy_port}"
        print(f"{len(arrays)} arrays of 4 MiB ({options.mib} MiB), {options.latency_ms:.0f} ms per request, "
              f"{options.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
        for row, named in candidates(base, proxy_port, key).items():
            results[row] = measure(named, options.rounds, counter)
            report(f"open + {'list' if row == 'list' else 'read one 4 MiB array'}", results[row])
        direct = f"http://127.0.0.1:{nginx_port}"
        size = (folder / "model.amber").stat().st_size
        results["throughput"] = measure(throughput_candidates(direct, size), options.rounds, counter)
        report(f"whole object ({size / 2**20:.0f} MiB), no added latency", results["throughput"])
        for name, row in results["throughput"].items():
            print(f"  {name}: {size / 2**20 / (row['ms'] / 1e3):.0f} MiB/s")
        proxy.terminate()
    finally:
        services.stop(state)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
