"""Hostile files against the native loader: values that crash CPython when freed, hash
flooding, dtypes and strings whose every use would redo the work or copy the bytes.

Each file is built from the spec's byte tables (``hostile_graphs``) and read in a fresh
interpreter capped at 2 GiB of address space and 10 s (counted after the imports: a file naming
scikit-learn types has it imported first, which takes seconds on a busy machine), which must exit cleanly: a crash
while freeing what was loaded shows as a signal, not as a Python exception.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import hostile_graphs as hg

MEMORY_CAP = 2 << 30
TIMEOUT_S = 10
# Only against a hang the alarm cannot interrupt.
IMPORTS_AND_TIMEOUT_S = 120

# Every way to read a whole file, each printing "ok" or the error's class and error class.
EVERY_READ = """
import gc
for name, read in [
    ("load", lambda: af.load(path, trusted=trusted)),
    ("load-r", lambda: af.load(path, mmap_mode="r", trusted=trusted)),
    ("loads", lambda: af.loads(open(path, "rb").read(), trusted=trusted)),
    ("lazy", lambda: af.lazy_load(path, trusted=trusted).load()),
]:
    try:
        value = read()
        print(name, "ok")
        del value
    except Exception as e:
        print(name, type(e).__name__, getattr(e, "error_class", ""))
    gc.collect()
"""


RECURSIVELY_FREED = [hg.nested_object_arrays, hg.nested_slices, hg.nested_distance_metrics]
RECURSIVELY_FREED_IDS = ["object-arrays", "slices", "cython-objects"]


def run_capped(code: str, data: bytes, tmp_path) -> str:
    """Runs ``code`` with ``af`` imported and ``path`` naming a file of ``data``, in a fresh
    interpreter under the memory cap and the timeout; returns what it printed. A non-zero
    exit (a signal while freeing, the timeout's SIGALRM, an uncaught error) fails the test."""
    path = tmp_path / "hostile.amber"
    path.write_bytes(data)
    prelude = textwrap.dedent(f"""
        import resource, signal, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))
        import amberfile as af
        {"import sklearn.metrics" if b"sklearn" in data else ""}
        path = sys.argv[1]
        # The bounds hold even for a caller who trusts every name the file gives.
        trusted = af.get_untrusted_types(path)
        signal.alarm({TIMEOUT_S})
    """)
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), str(path)],
        capture_output=True,
        text=True,
        timeout=IMPORTS_AND_TIMEOUT_S,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    return result.stdout


def assert_every_read(output: str, expected: str) -> None:
    lines = output.splitlines()
    assert len(lines) == 4, output
    for line in lines:
        assert line.split(" ", 1)[1].strip() == expected, output


@pytest.mark.parametrize("build", RECURSIVELY_FREED, ids=RECURSIVELY_FREED_IDS)
def test_values_nested_too_deep_to_free_are_refused(build, tmp_path):
    assert_every_read(run_capped(EVERY_READ, build(300_000), tmp_path), "FormatError LimitExceeded")


@pytest.mark.parametrize("build", RECURSIVELY_FREED, ids=RECURSIVELY_FREED_IDS)
def test_values_nested_to_the_bound_load_and_free(build, tmp_path):
    assert_every_read(run_capped(EVERY_READ, build(1_000), tmp_path), "ok")
    assert_every_read(run_capped(EVERY_READ, build(1_001), tmp_path), "FormatError LimitExceeded")


DEEP_CALLS = """
import copy, pickle
value = af.load(path)
for name, call in [("repr", repr), ("eq", lambda v: v == v), ("deepcopy", copy.deepcopy), ("pickle", pickle.dumps)]:
    try:
        call(value)
        print(name, "ok")
    except RecursionError:
        print(name, "RecursionError")
"""


@pytest.mark.parametrize(
    "data",
    [hg.nested_object_arrays(1_000), hg.nested_slices(1_000), hg.nested_sequences("tuple", 10_000), hg.nested_sequences("list", 300_000)],
    ids=["object-arrays", "slices", "tuples", "lists"],
)
def test_common_calls_on_deep_legal_values_raise_at_most_recursion_error(data, tmp_path):
    output = run_capped(DEEP_CALLS, data, tmp_path)
    assert [line.split()[0] for line in output.splitlines()] == ["repr", "eq", "deepcopy", "pickle"]


@pytest.mark.parametrize("container", ["dict", "set", "frozenset"])
def test_keys_flooding_one_hash_are_refused_before_insertion(container, tmp_path):
    # 60,000 such keys took 14 s to insert before the bound; now the check comes first.
    output = run_capped(EVERY_READ, hg.colliding_keys(60_000, container), tmp_path)
    assert_every_read(output, "FormatError LimitExceeded")


@pytest.mark.parametrize("container", ["dict", "set", "frozenset"])
def test_keys_sharing_a_hash_up_to_the_bound_load(container, tmp_path):
    output = run_capped(
        f"""
        value = af.load(path)
        keys = sorted(value)
        assert len(keys) == 64 and len({{hash(k) for k in keys}}) == 1
        assert keys == {hg.colliding_ints(64)!r}
        print(type(value).__name__)
        """,
        hg.colliding_keys(64, container),
        tmp_path,
    )
    assert output.split() == [container]


def test_many_arrays_of_one_wide_record_dtype_load_in_linear_time(tmp_path):
    # 255 s before the dtype cache was keyed by table entry and record arrays got their
    # memory without numpy's per-field setup.
    output = run_capped(
        """
        value = af.load(path)
        assert len(value) == 100_000 and len({id(a.dtype) for a in value}) == 1
        print(len(value[0].dtype.names), value[-1].shape, value[-1].flags.writeable)
        """,
        hg.arrays_of_wide_dtype(65_535, 100_000),
        tmp_path,
    )
    assert output.split() == ["65535", "(0,)", "True"]


def test_a_record_dag_repeating_a_long_field_name_loads_once(tmp_path):
    output = run_capped(
        """
        for value in (af.load(path), af.load(path, mmap_mode="r"), af.loads(open(path, "rb").read())):
            dtype = value[0].dtype
            print(dtype.names, dtype.itemsize, len(value))
        """,
        hg.long_name_dtype_dag(2 << 20, 14, 200),
        tmp_path,
    )
    assert output.splitlines() == ["('a', 'b') 16384 200"] * 3


def test_a_long_key_shared_by_every_lazy_entry_is_built_once(tmp_path):
    # Each entry copied the 4 MiB key before: 1,000 entries kept took 4 GiB.
    output = run_capped(
        """
        f = af.lazy_load(path)
        keys = f.keys()
        assert keys is not f.keys() and all(a is b for a, b in zip(keys, f.keys()))
        entries = [f[k] for k in keys]
        (key,) = entries[0]
        assert all(next(iter(e)) is key and e[key] == i for i, e in enumerate(entries))
        print(len(entries), len(key))
        """,
        hg.shared_key_entries(4 << 20, 1_000),
        tmp_path,
    )
    assert output.split() == ["1000", str(4 << 20)]


@pytest.mark.parametrize("one_node", [True, False], ids=["one-node", "one-string"])
def test_a_long_string_used_many_times_is_built_once(one_node, tmp_path):
    output = run_capped(
        EVERY_READ.replace('print(name, "ok")', 'assert all(s is value[0] for s in value); print(name, "ok")'),
        hg.shared_string(1 << 20, 20_000, one_node=one_node),
        tmp_path,
    )
    assert_every_read(output, "ok")


def test_a_long_type_name_used_many_times_is_reported_once(tmp_path):
    output = run_capped(
        """
        names = af.get_untrusted_types(path)
        try:
            af.load(path)
        except af.UntrustedTypeError as e:
            assert e.types == names
        print(len(names), len(names[0]))
        """,
        hg.shared_type_name(1 << 20, 20_000),
        tmp_path,
    )
    assert output.split() == ["1", str(1 << 20)]


def test_an_object_array_numpy_cannot_shape_is_a_format_error(tmp_path):
    g = hg.Graph()
    data = g.file(g.object_array((0, 2**63), []))
    assert_every_read(run_capped(EVERY_READ, data, tmp_path), "FormatError LimitExceeded")
