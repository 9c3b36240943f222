"""Round trips of plain Python values: scalars, containers, sharing, cycles, names."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys

import pytest

import amberfile as af
from conftest import placeholder_class


def roundtrip(obj, **kwargs):
    return af.loads(af.dumps(obj), **kwargs)


@pytest.mark.parametrize(
    "value",
    [
        None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**70, -(2**200) + 12345,
        1.5, -0.0, float("inf"), 1e-310, 3 + 4j, "", "héllo wörld ✓", b"", b"\x00\xff", "a" * 100_000,
    ],
)
def test_scalars_round_trip_exactly(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    assert back == value
    if isinstance(value, float):
        assert struct.pack("<d", back) == struct.pack("<d", value)


def test_nan_keeps_its_bits():
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    assert struct.pack("<d", roundtrip(nan)) == struct.pack("<d", nan)


def test_bytearray_comes_back_as_bytearray():
    back = roundtrip(bytearray(b"abc"))
    assert type(back) is bytearray and back == b"abc"


def test_containers_keep_kinds_order_and_keys():
    value = {
        "list": [1, [2, 3], ()],
        "tuple": (1, (2,), "x"),
        "set": {1, "a", (2, 3)},
        "frozenset": frozenset({"x", "y"}),
        (1, 2): "tuple key",
        3: "int key",
        frozenset({1}): "frozenset key",
        None: "none key",
    }
    back = roundtrip(value)
    assert back == value
    assert list(back) == list(value)
    assert type(back["tuple"]) is tuple and type(back["frozenset"]) is frozenset


def test_shared_references_stay_shared():
    inner = [1, 2]
    text = "shared" * 10
    value = {"a": inner, "b": inner, "c": (inner, inner), "s1": text, "s2": text}
    back = roundtrip(value)
    assert back["a"] is back["b"] is back["c"][0] is back["c"][1]
    assert back["s1"] is back["s2"]
    back["a"].append(3)
    assert back["c"][1] == [1, 2, 3]


def test_cycles_through_lists_dicts_and_tuples():
    lst = [1]
    lst.append(lst)
    dct = {"name": "d"}
    dct["self"] = dct
    through_tuple = ([],)
    through_tuple[0].append(through_tuple)
    back = roundtrip({"list": lst, "dict": dct, "tuple": through_tuple})
    assert back["list"][1] is back["list"]
    assert back["dict"]["self"] is back["dict"]
    assert back["tuple"][0][0] is back["tuple"]


class Node:
    def __init__(self, name):
        self.name = name
        self.children = []
        self.parent = None


def test_instances_with_cycles_and_trust():
    root = Node("root")
    child = Node("child")
    child.parent = root
    root.children.append(child)
    data = af.dumps(root)
    name = f"{__name__}.Node"
    assert af.get_untrusted_types(data) == [name]
    with pytest.raises(af.UntrustedTypeError) as info:
        af.loads(data)
    assert info.value.types == [name]
    back = af.loads(data, trusted=[name])
    assert type(back) is Node and back.name == "root"
    assert back.children[0].parent is back


def test_functions_and_classes_are_recorded_by_name():
    value = [math.sqrt, os.path.join, Node, int]
    data = af.dumps(value)
    assert set(af.get_untrusted_types(data)) == {"math.sqrt", "posixpath.join", f"{__name__}.Node"}
    back = af.loads(data, trusted=["math.sqrt", "posixpath.join", f"{__name__}.Node"])
    assert back == value


def test_lambdas_and_local_classes_cannot_be_dumped():
    class Local:
        pass

    with pytest.raises(TypeError):
        af.dumps(lambda x: x)
    with pytest.raises(TypeError):
        af.dumps(Local())


def test_list_and_dict_subclasses_keep_their_items():
    from collections import OrderedDict, defaultdict

    value = {"od": OrderedDict([("b", 1), ("a", 2)]), "dd": defaultdict(list, {"k": [1]})}
    back = roundtrip(value, trusted=["collections.OrderedDict", "collections.defaultdict"])
    assert back["od"] == value["od"] and list(back["od"]) == ["b", "a"]
    assert type(back["dd"]) is defaultdict and back["dd"]["k"] == [1]
    assert back["dd"]["missing"] == []


def test_deep_nesting_neither_crashes_nor_recurses():
    deep: list = []
    current = deep
    for _ in range(200_000):
        nxt: list = []
        current.append(nxt)
        current = nxt
    back = roundtrip(deep)
    depth = 0
    while back:
        back = back[0]
        depth += 1
    assert depth == 200_000


def test_sets_of_strings_encode_identically_under_any_hash_seed():
    code = (
        "import sys, amberfile; "
        "sys.stdout.buffer.write(amberfile.dumps({'s': {'alpha', 'beta', 'gamma', 'delta', (1, 'x')}}))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            check=True,
            capture_output=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1


def test_objects_whose_reduce_uses_the_class_are_rebuilt_with_their_args():
    cls = placeholder_class("amber_test_mod.Point", lambda self: (type(self), (self.x, self.y)))

    def init(self, x, y):
        self.x, self.y = x, y

    cls.__init__ = init
    back = roundtrip(cls(1, 2), trusted=["amber_test_mod.Point"])
    assert (back.x, back.y) == (1, 2)


def test_dump_accepts_paths_and_file_objects(tmp_path):
    value = {"a": [1, 2, 3]}
    path = tmp_path / "value.amber"
    af.dump(value, path)
    af.dump(value, str(path) + "2", compress=3)
    with open(tmp_path / "stream.amber", "wb") as stream:
        af.dump(value, stream)
    assert af.load(path) == value
    assert af.load(str(path) + "2") == value
    with open(tmp_path / "stream.amber", "rb") as stream:
        assert af.load(stream) == value
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".amber-")], "no temporary file left"


def nested_tuple(depth: int) -> tuple:
    nested: tuple = ()
    for _ in range(depth):
        nested = (nested,)
    return nested


def test_a_set_holding_a_deeply_nested_tuple():
    back = roundtrip({nested_tuple(5_000), "x"})
    assert len(back) == 2 and "x" in back


def test_tuples_nested_deeper_than_python_can_hash_are_refused():
    # Python hashes nested tuples recursively in C, with no depth guard: the loader refuses to
    # build them (Python itself crashes hashing this one, so it is dumped inside a list).
    data = af.dumps([nested_tuple(200_000), "x"])
    with pytest.raises(af.FormatError) as info:
        af.loads(data)
    assert info.value.error_class == "InvalidGraph"


def test_ndarray_subclasses_other_than_memmap_and_masked_arrays_are_refused(tmp_path):
    import numpy as np

    class Tagged(np.ndarray):
        pass

    with pytest.raises(TypeError):
        af.dumps(np.zeros(2).view(Tagged))
    mapped = np.memmap(tmp_path / "raw.bin", dtype=np.float32, mode="w+", shape=(4,))
    mapped[:] = 2.0
    back = roundtrip(mapped)
    assert type(back) is np.ndarray and back.tolist() == [2.0] * 4


def test_masked_arrays_keep_data_mask_and_fill_value():
    import numpy as np

    values = [
        np.ma.masked_array([1.5, 2.5, 3.5], mask=[0, 1, 0], fill_value=-1.0),
        np.ma.masked_array(np.array(["a", {"k": 1}], dtype=object), mask=[True, False]),
        np.ma.masked_array(np.arange(4).reshape(2, 2)),
    ]
    for value, back in zip(values, roundtrip(values)):
        assert type(back) is np.ma.MaskedArray
        assert back.dtype == value.dtype and back.fill_value == value.fill_value
        np.testing.assert_array_equal(np.ma.getmaskarray(back), np.ma.getmaskarray(value))
        assert back.compressed().tolist() == value.compressed().tolist()


class CopiesItsState:
    """Like scikit-learn's Tree: ``__setstate__`` copies the arrays it is given."""

    def __setstate__(self, state):
        self.data = state["data"].copy()


def test_values_only_a_finished_parent_needed_are_freed_during_the_load():
    import numpy as np
    import tracemalloc

    name = f"{__name__}.CopiesItsState"
    holders = []
    for i in range(40):
        holder = CopiesItsState.__new__(CopiesItsState)
        holder.data = np.full(2**17, i, dtype=np.float64)  # 1 MiB
        holders.append(holder)
    shared = np.arange(10)
    data = af.dumps({"holders": holders, "a": [shared], "b": (shared, [shared])})

    tracemalloc.start()
    back = af.loads(data, trusted=[name])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [int(h.data[0]) for h in back["holders"]] == list(range(40))
    # Each 1 MiB state array is freed once its holder has copied it: the load peaks near the
    # 40 MiB it keeps, not at twice that.
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    # Identity survives: a value is dropped from the memo only after every parent used it.
    assert back["a"][0] is back["b"][0] is back["b"][1][0]


def test_dump_to_a_file_object_streams_in_bounded_pieces_and_keeps_its_errors():
    import io

    import numpy as np

    class Recorder(io.RawIOBase):
        """A raw file that takes at most 700,000 bytes per write, as raw files may."""

        def __init__(self):
            self.data, self.sizes = bytearray(), []

        def writable(self):
            return True

        def write(self, piece):
            taken = bytes(piece[:700_000])
            self.sizes.append(len(piece))
            self.data += taken
            return len(taken)

    value = {"weights": np.arange(3 * 2**20, dtype=np.float32), "name": "model"}  # 12 MiB
    recorder = Recorder()
    af.dump(value, recorder, compress=0)
    assert bytes(recorder.data) == af.dumps(value)  # same bytes as in memory, partial writes or not
    assert max(recorder.sizes) <= 2**20 and len(recorder.sizes) > 12

    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, piece):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        af.dump(value, Full())

    # An encoding error is found before any array is written: nothing reaches the file.
    recorder = Recorder()
    with pytest.raises(af.DumpError):
        af.dump({"weights": value["weights"], "bad": lambda: None}, recorder)
    assert recorder.sizes == []

    class NonBlocking(io.RawIOBase):
        def writable(self):
            return True

        def write(self, piece):
            return None  # a raw stream's "would block": nothing was written

    with pytest.raises(BlockingIOError):
        af.dump(value, NonBlocking())
