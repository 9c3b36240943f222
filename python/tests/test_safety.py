"""Hostile files: nothing named in a file runs, and every failure is a Python exception.

Hostile files are made the way an attacker would: a valid file whose names are edited in
place, with the CRCs recomputed (see ``conftest.retarget``).
"""

from __future__ import annotations

import io
import os
import random
import struct

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import amberfile as af
from conftest import placeholder_class, placeholder_function, retarget

CALLS: list[str] = []


class Recorder:
    """A type the tests trust, which records every rebuild step."""

    def __init__(self, *args):
        CALLS.append("init")

    def __setstate__(self, state):
        CALLS.append("setstate")
        self.__dict__.update(state)


RECORDER = f"{__name__}.Recorder"


@pytest.fixture(autouse=True)
def no_calls():
    CALLS.clear()
    yield


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "subprocess.Popen", "posix.system"])
def test_a_global_naming_a_dangerous_function_is_refused(target):
    placeholder = "z" * (len(target) - 2) + ".f"
    function = placeholder_function(placeholder)
    data = retarget(af.dumps({"hook": function, "x": [1, 2]}), placeholder, target)
    assert af.get_untrusted_types(data) == [target]
    with pytest.raises(af.UntrustedTypeError) as info:
        af.loads(data)
    assert info.value.types == [target]


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_an_object_of_a_dangerous_callable_with_arguments_is_refused(target, tmp_path):
    placeholder = "y" * (len(target) - 2) + ".C"
    marker = tmp_path / "pwned"
    cls = placeholder_class(placeholder, lambda self: (type(self), (f"touch {marker}",)))
    data = retarget(af.dumps(cls()), placeholder, target)
    assert af.get_untrusted_types(data) == [target]
    with pytest.raises(af.UntrustedTypeError):
        af.loads(data)
    with pytest.raises(af.UntrustedTypeError):
        af.loads(data, trusted=[RECORDER])
    assert not marker.exists()


def test_every_untrusted_name_is_reported_before_anything_is_built():
    one = placeholder_function("aa.one")
    other = placeholder_class("bb.Other")
    value = {"first": Recorder(), "bad": [one, other()], "last": Recorder()}
    CALLS.clear()
    data = af.dumps(value)
    with pytest.raises(af.UntrustedTypeError) as info:
        af.loads(data, trusted=[RECORDER])
    assert info.value.types == ["aa.one", "bb.Other"]
    assert CALLS == [], "no trusted object was built before the check"


def test_names_are_compared_exactly_and_must_name_the_object_itself():
    # A trusted prefix does not make an alias trusted, and module attributes do not count.
    for name in ["sklearn.base.os.system", "sklearn.utils.validation.np.load", "numpy.load", "numpy.dtype.x"]:
        placeholder = "q" * (len(name) - 2) + ".f"
        function = placeholder_function(placeholder)
        data = retarget(af.dumps(function), placeholder, name)
        assert af.get_untrusted_types(data) == [name]
        with pytest.raises(af.UntrustedTypeError):
            af.loads(data)


def test_a_function_is_resolved_but_never_called():
    function = placeholder_function("cc.never")
    back = af.loads(af.dumps([function]), trusted=["cc.never"])
    assert back == [function]


def test_trusted_constructor_given_bad_arguments_raises_a_python_exception():
    from sklearn.tree._tree import Tree

    for args in [("three", None, -1), (3,), (), (None, np.array([2]), 1)]:
        holder = placeholder_class("dd.BadTree", lambda self, args=args: (Tree, args))
        with pytest.raises((TypeError, ValueError, OverflowError, MemoryError)):
            af.loads(af.dumps(holder()))


def test_trusted_tree_given_a_bad_state_raises_a_python_exception():
    model = DecisionTreeClassifier(random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    tree = model.tree_
    state = tree.__getstate__()
    bad_states = [
        {**state, "nodes": np.zeros(3, dtype=np.float64)},
        {**state, "nodes": state["nodes"][:1], "node_count": 50},
        {**state, "values": np.zeros((1, 1), dtype=np.float32)},
        "not a dict",
    ]
    for bad in bad_states:
        args = tree.__reduce__()[1]
        holder = placeholder_class("ee.BadState", lambda self, bad=bad, args=args: (type(tree), args, bad))
        with pytest.raises(Exception):
            af.loads(af.dumps(holder()))


def test_structural_errors_carry_class_and_offset(tmp_path):
    data = af.dumps({"a": np.arange(100)})
    with pytest.raises(af.FormatError) as info:
        af.loads(data[:-1])
    assert info.value.error_class == "BadMagic"
    with pytest.raises(af.FormatError) as info:
        af.loads(data[:20])
    assert info.value.error_class == "Truncated"
    with pytest.raises(af.FormatError) as info:
        af.loads(b"PK\x03\x04" + data[4:])
    assert info.value.error_class == "BadMagic" and info.value.offset == 0


def test_a_flipped_array_byte_is_a_checksum_error(tmp_path):
    array = np.arange(1000, dtype=np.int64)
    data = bytearray(af.dumps(array))
    position = bytes(data).find(array[500:501].tobytes())
    data[position] ^= 0xFF
    for load in (
        lambda: af.loads(bytes(data)),
        lambda: af.load(write(tmp_path / "a.amber", data)),
        lambda: af.load(write(tmp_path / "b.amber", data), mmap_mode="r", verify=True),
        lambda: af.verify(write(tmp_path / "c.amber", data)),
    ):
        with pytest.raises(af.ChecksumError) as info:
            load()
        assert info.value.error_class == "ChecksumMismatch"
        assert isinstance(info.value, af.FormatError)


def write(path, data) -> str:
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("mode", ["bytes", "copy", "r", "c"])
def test_random_corruption_never_crashes(mode, tmp_path):
    """Metadata bytes flipped with CRCs recomputed reach the parser and the graph builder."""
    model = DecisionTreeClassifier(random_state=0, max_depth=3).fit(np.eye(6), [0, 1, 2, 0, 1, 2])
    data = af.dumps({"model": model, "items": [1, "two", (3.0,), {4}], "raw": b"bytes"})
    offset, length = struct.unpack_from("<QQ", data[-32:])
    rng = random.Random(1234)
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(600 if mode == "bytes" else 150):
        metadata = bytearray(data[offset : offset + length])
        for _ in range(rng.randint(1, 4)):
            metadata[rng.randrange(len(metadata))] = rng.randrange(256)
        mutated = retarget_bytes(data, bytes(metadata))
        try:
            if mode == "bytes":
                af.loads(mutated)
            else:
                path = write(tmp_path / "mutated.amber", mutated)
                af.load(path, mmap_mode=None if mode == "copy" else mode)
            outcomes["ok"] += 1
        except (af.AmberError, TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError):
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0


def retarget_bytes(data: bytes, metadata: bytes) -> bytes:
    import zlib

    offset, length = struct.unpack_from("<QQ", data[-32:])
    head = struct.pack("<QQI", offset, length, zlib.crc32(metadata))
    return data[:offset] + metadata + head + struct.pack("<I", zlib.crc32(head)) + data[-8:]


def test_bool_arrays_must_hold_zero_or_one():
    array = np.array([True, False, True] * 30)
    data = bytearray(af.dumps(array))
    position = bytes(data).find(array.view(np.uint8).tobytes())
    data[position] = 7
    # Fix the array's CRC so the bool check itself is reached: CRC sits in the array table.
    import zlib

    old_crc = struct.pack("<I", zlib.crc32(array.view(np.uint8).tobytes()))
    new_bytes = bytes(data[position : position + array.size])
    assert bytes(data).count(old_crc) == 1
    patched = bytes(data).replace(old_crc, struct.pack("<I", zlib.crc32(new_bytes)))
    offset, length = struct.unpack_from("<QQ", patched[-32:])
    patched = retarget_bytes(patched, patched[offset : offset + length])
    with pytest.raises(af.FormatError) as info:
        af.loads(patched)
    assert info.value.error_class == "InvalidArray"


def test_a_tree_whose_nodes_point_outside_or_backwards_is_refused(tmp_path):
    model = DecisionTreeClassifier(random_state=0).fit(np.random.default_rng(0).random((40, 3)), [0, 1] * 20)
    tree = model.tree_
    args = tree.__reduce__()[1]
    assert af.loads(af.dumps(model)).predict(np.zeros((1, 3))).shape == (1,)
    leaf = int(np.flatnonzero(tree.children_left == -1)[0])
    edits = [  # (node, field, value, the refusal's message)
        (0, "left_child", 10**6, "child is out of range"),
        (0, "right_child", 0, "not after its parent"),
        (0, "feature", -7, "splits on a feature"),
        (0, "feature", 3, "splits on a feature"),
        (leaf, "right_child", leaf + 1, "leaf has a right child"),
    ]
    for node, field, value, message in edits:
        state = tree.__getstate__()
        nodes = state["nodes"].copy()
        nodes[field][node] = value
        state = {**state, "nodes": nodes}
        holder = placeholder_class("ff.HostileTree", lambda self, state=state: (type(tree), args, state))
        with pytest.raises(ValueError, match=message):
            af.loads(af.dumps(holder()))
        # Beside a megabyte of other arrays, a load checks trees on its helper thread, over the
        # file's bytes, and refuses the file at the end: the same refusal, by either route.
        with pytest.raises(ValueError, match=message):
            af.loads(af.dumps([*BALLAST, holder()]))
        path = tmp_path / "hostile.amber"
        af.dump([*BALLAST, holder()], path)
        with pytest.raises(ValueError, match=message):
            af.load(path)


def test_a_load_nested_in_another_checks_its_own_trees():
    # The outer load has a helper thread; a trusted class's __setstate__ loads another file
    # meanwhile, which has none: it must check its tree itself, not hand it to the outer helper.
    model = DecisionTreeClassifier(random_state=0).fit(np.random.default_rng(0).random((40, 3)), [0, 1] * 20)
    tree = model.tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**6
    hostile = {**state, "nodes": nodes}
    holder = placeholder_class("ff.NestedHostileTree", lambda self: (type(tree), tree.__reduce__()[1], hostile))
    inner = af.dumps(holder())
    with pytest.raises(ValueError, match="child is out of range"):
        af.loads(inner)

    loader = placeholder_class("ff.LoadsInSetstate", lambda self: (type(self), (), {"blob": inner}))
    loader.__setstate__ = lambda self, state: setattr(self, "inner", af.loads(state["blob"]))
    outer = af.dumps([*BALLAST, loader()])
    with pytest.raises(ValueError, match="child is out of range"):
        af.loads(outer, trusted=["ff.LoadsInSetstate"])
    # And a valid inner file loads the same way.
    loader_ok = placeholder_class("ff.LoadsValidInSetstate", lambda self: (type(self), (), {"blob": af.dumps(model)}))
    loader_ok.__setstate__ = lambda self, state: setattr(self, "inner", af.loads(state["blob"]))
    *_, rebuilt = af.loads(af.dumps([*BALLAST, loader_ok()]), trusted=["ff.LoadsValidInSetstate"])
    assert (rebuilt.inner.predict(np.zeros((2, 3))) == model.predict(np.zeros((2, 3)))).all()


# Two arrays of 560 kB: enough small arrays for a copying load to start its helper thread.
BALLAST = [np.arange(70_000, dtype=np.float64), np.arange(70_000, dtype=np.float64) + 1]


def test_forests_load_alike_with_and_without_the_helper_thread(tmp_path):
    X = np.random.default_rng(0).random((400, 6))
    y = (X[:, 0] > 0.5).astype(int)
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    small = af.loads(af.dumps(forest))  # under a megabyte: no helper
    path = tmp_path / "forest.amber"
    af.dump([*BALLAST, forest], path)
    *ballast, big = af.load(path)  # with the helper: CRCs and tree checks on the other core
    for a, b in zip(ballast, BALLAST):
        np.testing.assert_array_equal(a, b)
    for model in (small, big):
        np.testing.assert_array_equal(model.predict_proba(X), forest.predict_proba(X))


def test_a_tree_wider_than_its_estimator_is_refused():
    model = DecisionTreeClassifier(random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    model.n_features_in_ = 2
    with pytest.raises(ValueError):
        af.loads(af.dumps(model))


def test_a_hist_gradient_boosting_predictor_with_bad_nodes_is_refused():
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = np.random.default_rng(0).random((200, 3))
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(data, data[:, 0] > 0.5)
    predictor = model._predictors[0][0]
    edits = [("left", 10**6), ("right", 0), ("feature_idx", -1)]
    for field, value in edits:
        state = predictor.__reduce_ex__(4)[2]
        nodes = state["nodes"].copy()
        nodes[field][0] = value
        holder = placeholder_class(
            "gg.HostilePredictor",
            lambda self, state={**state, "nodes": nodes}: (type(predictor), (state["nodes"], None, None), state),
        )
        with pytest.raises(ValueError):
            af.loads(af.dumps(holder()))
    model._predictors[0][0].nodes["feature_idx"][0] = 5
    with pytest.raises(ValueError):
        af.loads(af.dumps(model))


def test_builtin_containers_are_never_constructed_from_file_arguments():
    huge = placeholder_class("hh.Huge", lambda self: (list, (range(10**12),)))
    data = af.dumps(huge())
    assert af.get_untrusted_types(data) == []
    with pytest.raises(af.StateError) as info:
        af.loads(data)
    assert isinstance(info.value.__cause__, TypeError)
    for cls, args in [(bytes, (10**12,)), (np.ndarray, ((10**6, 10**6),)), (np.float64, ("1.5",))]:
        holder = placeholder_class("hh.Holder", lambda self, cls=cls, args=args: (cls, args))
        with pytest.raises(af.StateError) as info:
            af.loads(af.dumps(holder()))
        assert isinstance(info.value.__cause__, TypeError)


def test_slices_and_ranges_are_rebuilt():
    assert af.loads(af.dumps([slice(1, 10, 2), range(3, 9)])) == [slice(1, 10, 2), range(3, 9)]


def test_copies_always_check_array_crcs_and_mappings_when_asked(tmp_path):
    array = np.arange(1000, dtype=np.int64)
    data = bytearray(af.dumps(array))
    position = bytes(data).find(array[500:501].tobytes())
    data[position] ^= 0xFF
    path = write(tmp_path / "flipped.amber", data)
    # Mapping is lazy by default; copies, verify=True and verify() check the array CRCs.
    assert af.load(path, mmap_mode="r")[500] != 500
    assert af.load(path, mmap_mode="c", verify=False)[500] != 500
    checked = [
        lambda: af.loads(bytes(data)),
        lambda: af.load(path),
        lambda: af.load(io.BytesIO(bytes(data))),
        lambda: af.load(path, mmap_mode="r", verify=True),
        lambda: af.load(path, mmap_mode="c", verify=True),
    ]
    for load in checked:
        with pytest.raises(af.ChecksumError):
            load()
    with pytest.raises(af.ChecksumError) as info:
        af.verify(path)
    assert info.value.error_class == "ChecksumMismatch"
    af.verify(write(tmp_path / "intact.amber", af.dumps(array)))
    data[-40] ^= 0xFF  # inside the metadata: always checked
    with pytest.raises(af.ChecksumError):
        af.load(write(tmp_path / "metadata.amber", data), mmap_mode="r")
