"""Models on object storage and behind HTTP, through real servers on 127.0.0.1: moto's S3
server and nginx (which honours ``Range``), started by scripts/test-all.sh, or by the
``services`` fixture (conftest.py) when pytest runs alone. The S3 objects are set up and
inspected with boto3, the client most users have, so what the package writes is checked by
another reader.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

import amberfile
from conftest import placeholder_class

ROOT = Path(__file__).resolve().parents[2]
AMBER = Path(os.environ.get("AMBER_BIN", ROOT / "target" / "release" / "amber"))
TRAILER_LEN = 32


@pytest.fixture(scope="module")
def options(s3_options: dict[str, object]) -> dict[str, object]:
    return s3_options


@pytest.fixture(scope="module")
def s3(services: dict[str, str]):
    import boto3  # installed with moto[server] by the test command

    return boto3.client("s3", endpoint_url=services["AMBER_TEST_S3_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def url(services: dict[str, str], request: pytest.FixtureRequest) -> str:
    return f"s3://{services['AMBER_TEST_S3_BUCKET']}/{request.node.name}.amber"


@pytest.fixture(scope="module")
def forest():
    x, y = make_classification(n_samples=400, n_features=12, random_state=0)
    return RandomForestClassifier(n_estimators=12, max_depth=6, random_state=0).fit(x, y), x


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "embedding": rng.standard_normal((300, 64), dtype=np.float32),
        "fortran": np.asfortranarray(rng.integers(0, 1000, (40, 30))),
        "records": np.array([(1, 2.5), (3, -1.0)], dtype=[("id", "<i4"), ("score", "<f8")]),
        "empty": np.zeros((0, 3)),
    }


def assert_same_arrays(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name, array in expected.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        assert got[name].tobytes(order="A") == array.tobytes(order="A"), name


def test_a_forest_written_to_s3_predicts_as_before_and_is_the_local_file_byte_for_byte(forest, url, options, s3):
    model, x = forest
    amberfile.dump(model, url, storage_options=options)
    loaded = amberfile.load(url, storage_options=options)
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    bucket, key = url.removeprefix("s3://").split("/", 1)
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == amberfile.dumps(model)  # the writer is deterministic, wherever it writes
    amberfile.verify(url, storage_options=options)
    assert amberfile.get_untrusted_types(url, storage_options=options) == []


def test_compressed_arrays_round_trip_and_a_lazy_file_lists_then_builds_one_entry(url, options):
    expected = weights()
    amberfile.dump(expected, url, compress=3, storage_options=options)
    assert_same_arrays(amberfile.load(url, storage_options=options), expected)
    lazy = amberfile.lazy_load(url, storage_options=options)
    assert lazy.keys() == list(expected)
    assert "records" in lazy and len(lazy) == 4
    assert lazy["fortran"].flags.f_contiguous
    assert_same_arrays({"fortran": lazy["fortran"]}, {"fortran": expected["fortran"]})


def test_an_untrusted_type_is_listed_from_the_metadata_and_refused_before_any_array(url, options):
    cls = placeholder_class("remote_tests_module.Custom")
    obj = cls()
    obj.__dict__["weights"] = np.arange(10.0)
    amberfile.dump(obj, url, storage_options=options)
    assert amberfile.get_untrusted_types(url, storage_options=options) == ["remote_tests_module.Custom"]
    with pytest.raises(amberfile.UntrustedTypeError):
        amberfile.load(url, storage_options=options)
    with pytest.raises(amberfile.UntrustedTypeError):
        amberfile.lazy_load(url, storage_options=options).load()
    assert isinstance(amberfile.load(url, trusted=["remote_tests_module.Custom"], storage_options=options), cls)


def corruptions(data: bytes) -> dict[str, bytes]:
    """The same damage the local tests do: a metadata byte, an array byte, a cut-off end."""
    metadata_offset = int.from_bytes(data[-TRAILER_LEN:][:8], "little")
    in_metadata = bytearray(data)
    in_metadata[metadata_offset + 5] ^= 0x40
    in_array = bytearray(data)
    in_array[data.index(weights()["embedding"][:2].tobytes()) + 8] ^= 0x01
    return {"metadata": bytes(in_metadata), "array": bytes(in_array), "truncated": data[:-7]}


def error_class(call) -> str:
    with pytest.raises(amberfile.AmberError) as caught:
        call()
    return caught.value.error_class


@pytest.mark.parametrize("damage", ["metadata", "array", "truncated"])
def test_a_damaged_object_fails_with_the_class_the_local_file_fails_with(damage, url, options, s3, tmp_path):
    data = corruptions(amberfile.dumps(weights()))[damage]
    local = tmp_path / "damaged.amber"
    local.write_bytes(data)
    bucket, key = url.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    expected = error_class(lambda: amberfile.load(local))
    assert error_class(lambda: amberfile.load(url, storage_options=options)) == expected
    assert error_class(lambda: amberfile.verify(url, storage_options=options)) == error_class(
        lambda: amberfile.verify(local))
    if damage == "array":
        assert expected == "ChecksumMismatch"
        lazy = amberfile.lazy_load(url, storage_options=options)  # the metadata is intact
        with pytest.raises(amberfile.ChecksumError):
            lazy["embedding"]
        assert lazy["records"].shape == (2,)


def test_bytes_hidden_in_the_padding_before_an_array_fail_its_load_as_locally(url, options, s3, tmp_path):
    # The writer lays a dict's arrays out last entry first: a, b, then 128 KiB of tail, which
    # keeps a and b out of the first request's last 64 KiB (a remote reader also checks any
    # padding that request happens to bring).
    arrays = {"tail": np.zeros(1 << 17, np.int8), "b": np.full(5, 9, np.int8), "a": np.full(3, 7, np.int8)}
    data = bytearray(amberfile.dumps(arrays))
    hidden = data.index(bytes([7, 7, 7])) + 3 + 4  # inside the padding between a and b
    assert hidden < data.index(bytes([9] * 5))
    assert data[hidden] == 0
    data[hidden] = 0x5A
    local = tmp_path / "hidden.amber"
    local.write_bytes(data)
    bucket, key = url.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    assert error_class(lambda: amberfile.load(local)) == "NonZeroPadding"
    assert error_class(lambda: amberfile.load(url, storage_options=options)) == "NonZeroPadding"
    assert error_class(lambda: amberfile.verify(url, storage_options=options)) == "NonZeroPadding"
    lazy = amberfile.lazy_load(url, storage_options=options)
    assert list(lazy["a"]) == [7, 7, 7]  # the padding before a is clean
    assert error_class(lambda: lazy["b"]) == "NonZeroPadding"


def test_a_dump_that_fails_leaves_no_object(url, options, s3):
    bucket, key = url.removeprefix("s3://").split("/", 1)
    with pytest.raises(amberfile.DumpError):
        amberfile.dump({"weights": np.arange(1 << 20), "f": lambda: None}, url, storage_options=options)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert listed.get("KeyCount", 0) == 0


def test_missing_objects_bad_options_and_mmap_mode_are_the_usual_python_errors(url, options, tmp_path):
    with pytest.raises(FileNotFoundError):
        amberfile.load(url + ".missing", storage_options=options)
    with pytest.raises(ValueError, match="amber_no_such_option"):
        amberfile.load(url, storage_options={**options, "amber_no_such_option": "1"})
    with pytest.raises(ValueError, match="mmap_mode"):
        amberfile.load(url, mmap_mode="r", storage_options=options)
    with pytest.raises(ValueError, match="mmap_mode"):
        amberfile.lazy_load(url, mmap_mode="c", storage_options=options)
    with pytest.raises(ValueError, match="storage_options"):
        amberfile.load(tmp_path / "local.amber", storage_options=options)


def http_requests(services: dict[str, str]) -> int:
    log = Path(services["AMBER_TEST_HTTP_ROOT"]).parent / "nginx-access.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def http_requests_since(services: dict[str, str], before: int, expected: int) -> int:
    """nginx logs a request after it has sent the answer, so the client can be done before the
    line is written: wait (up to 10 s) for `expected` lines, then a moment for any extra one."""
    deadline = time.monotonic() + 10
    while http_requests(services) - before < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    return http_requests(services) - before


def test_over_http_a_listing_takes_two_requests_and_an_entry_one_more(services, tmp_path):
    """nginx's access log counts the requests: the header and the last 64 KiB (which hold a small
    file's metadata) are asked for together, and an entry's arrays with one batched fetch."""
    expected = weights(1)
    name = "listed.amber"
    amberfile.dump(expected, Path(services["AMBER_TEST_HTTP_ROOT"]) / name)
    url = f"{services['AMBER_TEST_HTTP_URL']}/{name}"
    plain_http = {"allow_http": True}  # object_store refuses http:// unless told
    before = http_requests(services)
    lazy = amberfile.lazy_load(url, storage_options=plain_http)
    assert lazy.keys() == list(expected)
    assert http_requests_since(services, before, 2) == 2
    embedding = lazy["embedding"]
    assert http_requests_since(services, before, 3) == 3
    assert embedding.tobytes() == expected["embedding"].tobytes()
    assert_same_arrays(amberfile.load(url, storage_options=plain_http), expected)
    amberfile.verify(url, storage_options=plain_http)


PEAK_OF_A_LOAD = """
import sys
import amberfile, sklearn.preprocessing  # imported first: the peak is the load's own
def peak_kib():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
before = peak_kib()
model = amberfile.load(sys.argv[1], storage_options={"allow_http": True}, trusted=["sklearn"])
print((peak_kib() - before) * 1024)
"""


def test_a_nested_model_loads_over_http_in_runs_in_the_order_it_is_built(services):
    """A small nested model (40 MiB in lists, tuples and a fitted estimator, written in another
    order than the load builds them) comes in one fetch after the open's two requests. One of
    180 MiB comes in runs of at most 64 MiB, one request each, and is never held twice: the
    load's peak memory stays well under the 2x of fetching it all, then building it."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    scaler = StandardScaler().fit(rng.random((1000, 4096)))
    for mib, runs in ((8, 1), (15, 3)):
        block = lambda: rng.random(mib << 17)  # noqa: E731  `mib` MiB of float64
        parts = [block() for _ in range(12 if runs > 1 else 5)]
        model = {"layers": [parts[0], tuple(parts[1:3])], "scaler": scaler, "head": {"rest": parts[3:]}}
        name = f"nested-{mib}.amber"
        amberfile.dump(model, Path(services["AMBER_TEST_HTTP_ROOT"]) / name)
        url = f"{services['AMBER_TEST_HTTP_URL']}/{name}"
        before = http_requests(services)
        loaded = amberfile.load(url, storage_options={"allow_http": True}, trusted=["sklearn"])
        assert http_requests_since(services, before, 2 + runs) == 2 + runs
        assert np.array_equal(loaded["layers"][1][1], parts[2])
        assert all(np.array_equal(a, b) for a, b in zip(loaded["head"]["rest"], parts[3:]))
        assert np.array_equal(loaded["scaler"].scale_, scaler.scale_)
    nbytes = sum(p.nbytes for p in parts)
    out = subprocess.run([sys.executable, "-c", PEAK_OF_A_LOAD, url], capture_output=True, text=True, check=True)
    assert int(out.stdout) < 1.75 * nbytes, f"peak {int(out.stdout) >> 20} MiB for {nbytes >> 20} MiB"


def test_file_urls_read_and_write_like_paths(tmp_path, forest):
    model, x = forest
    url = (tmp_path / "model.amber").as_uri()
    amberfile.dump(model, url)
    assert (tmp_path / "model.amber").read_bytes() == amberfile.dumps(model)
    assert np.array_equal(amberfile.load(url).predict(x), model.predict(x))
    amberfile.verify(url)


def amber_cli(*args: object, expect: int = 0) -> subprocess.CompletedProcess:
    if not AMBER.exists():
        pytest.fail(f"{AMBER} is missing: run `cargo build --release -p amber-cli --bin amber`")
    process = subprocess.run([str(AMBER), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert process.returncode == expect, (process.returncode, process.stdout, process.stderr)
    assert "panicked" not in process.stderr
    return process


def test_the_cli_reads_what_python_wrote_to_s3_and_python_reads_what_the_cli_wrote(url, options, tmp_path):
    store = [arg for key, value in options.items() for arg in ("--store-option", f"{key}={str(value).lower() if value is True else value}")]
    expected = weights(2)
    amberfile.dump(expected, url, compress=3, storage_options=options)
    amber_cli("verify", url, *store)
    listing = amber_cli("inspect", url, *store).stdout
    assert all(name in listing for name in expected)
    amber_cli("extract", url, "embedding", "-o", tmp_path / "embedding.npy", *store)
    assert np.load(tmp_path / "embedding.npy").tobytes() == expected["embedding"].tobytes()
    # Local to remote and back: the CLI's upload, read by Python, and the CLI's ranged reads.
    np.savez(tmp_path / "weights.npz", **expected)
    copied = url.replace(".amber", "-copy.amber")
    amber_cli("convert", tmp_path / "weights.npz", copied, *store)
    assert_same_arrays(amberfile.load(copied, storage_options=options), expected)
    amber_cli("convert", copied, tmp_path / "back.npz", *store)
    with np.load(tmp_path / "back.npz") as back:
        assert_same_arrays(dict(back), expected)
    amber_cli("verify", copied + ".missing", *store, expect=2)  # an I/O error, as for a missing path
