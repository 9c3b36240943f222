"""dump follows pickle's reduce protocol exactly (spec section 14.5.1): the callable by its own
name, its arguments, the state, list and dict items; load calls only what the policy trusts.
What cannot be written exactly raises DumpError with the object's type and graph path, and
nothing is written under the target name.
"""

from __future__ import annotations

import copyreg
import inspect
import io
import os
import pathlib
import re
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import amberfile
from amberfile import DumpError, StateError, UntrustedTypeError
import fidelity_types as ft
from hostile_graphs import Graph

REPO = pathlib.Path(__file__).resolve().parents[2]
AMBER = pathlib.Path(os.environ.get("AMBER_BIN", REPO / "target" / "release" / "amber"))

THIS = __name__


def round_trip(obj, extra_trust=()):
    data = amberfile.dumps(obj)
    return amberfile.loads(data, trusted=[*amberfile.get_untrusted_types(data), *extra_trust])


def write_module(tmp_path, monkeypatch, name, source):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return __import__(name)


# fidelity_types.Scaled and its factory, written into a module of the test's own so that their
# qualified names are that module's.
SCALED = inspect.getsource(ft.Scaled) + "\n\n" + inspect.getsource(ft.rebuild_scaled)


def test_factory_is_recorded_by_its_own_name(tmp_path, monkeypatch):
    mymod = write_module(tmp_path, monkeypatch, "mymod", SCALED)
    path = tmp_path / "p.amber"
    amberfile.dump(mymod.Scaled(5), path)
    assert amberfile.get_untrusted_types(path) == ["mymod.rebuild_scaled"]
    back = amberfile.load(path, trusted=amberfile.get_untrusted_types(path))
    assert type(back) is mymod.Scaled
    assert back.v == 10
    if not AMBER.exists():
        pytest.fail(f"{AMBER} is missing: run `cargo build --release --features cli --bin amber`")
    shown = subprocess.run([str(AMBER), "inspect", str(path)], capture_output=True, text=True, check=True).stdout
    assert "mymod.rebuild_scaled" in shown
    assert "mymod.Scaled" not in shown


FACTORY_WITH_COUNTER = """
    CALLS = []

    class Made:
        def __reduce__(self):
            return (make, (1,))

    def make(v):
        CALLS.append(v)
        return Made()
"""


def test_untrusted_factory_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    counted = write_module(tmp_path, monkeypatch, "counted", FACTORY_WITH_COUNTER)
    data = amberfile.dumps({"first": Offset(3), "made": counted.Made()})
    with pytest.raises(UntrustedTypeError) as refused:
        amberfile.loads(data, trusted=[f"{THIS}.Offset"])
    assert refused.value.types == ["counted.make"]
    assert counted.CALLS == []
    assert type(amberfile.loads(data, trusted=[f"{THIS}.Offset", "counted.make"])["made"]) is counted.Made
    assert counted.CALLS == [1]


class Offset:
    """``__new__`` takes the value; ``__init__`` would add 100 to it."""

    def __new__(cls, base):
        obj = super().__new__(cls)
        obj.base = base
        return obj

    def __init__(self, base):
        self.base = base + 100

    def __getnewargs__(self):
        return (self.base,)

    def __getstate__(self):
        return None


class Keyed:
    def __new__(cls, *, scale):
        obj = super().__new__(cls)
        obj.scale = scale
        return obj

    def __getnewargs_ex__(self):
        return (), {"scale": self.scale}

    def __getstate__(self):
        return None


def test_newobj_with_arguments_calls_new_not_init():
    data = amberfile.dumps(Offset.__new__(Offset, 7))
    assert amberfile.get_untrusted_types(data) == [f"{THIS}.Offset"]
    back = amberfile.loads(data, trusted=[f"{THIS}.Offset"])
    assert type(back) is Offset and back.base == 7


def test_newobj_ex_passes_keyword_arguments():
    back = round_trip(Keyed(scale=2.5))
    assert type(back) is Keyed and back.scale == 2.5


class LegacyList(list):
    """Reduces protocol-0 style whatever protocol is asked: copyreg._reconstructor."""

    def __reduce_ex__(self, protocol):
        return copyreg._reduce_ex(self, 0)


class LegacyObject:
    def __reduce_ex__(self, protocol):
        return copyreg._reduce_ex(self, 0)


def test_reconstructor_rebuilds_protocol_0_values():
    items = LegacyList([1, 2, 3])
    items.tag = "t"
    plain = LegacyObject()
    plain.x = [4]
    assert items.__reduce_ex__(4)[0] is copyreg._reconstructor
    back_items, back_plain = round_trip((items, plain))
    assert type(back_items) is LegacyList and back_items == [1, 2, 3] and back_items.tag == "t"
    assert type(back_plain) is LegacyObject and back_plain.x == [4]
    assert "copyreg._reconstructor" not in amberfile.get_untrusted_types(amberfile.dumps(items))


class TaggedDict(dict):
    pass


class TaggedList(list):
    pass


class Slotted:
    __slots__ = ("a", "b")


class SlottedWithDict:
    __slots__ = ("a", "__dict__")


def test_container_subclasses_and_slots_keep_items_and_attributes():
    d = TaggedDict(k=1)
    d.note = "n"
    items = TaggedList([1, d])
    items.owner = items  # a cycle through the state
    slotted = Slotted()
    slotted.a, slotted.b = 1, [2]
    mixed = SlottedWithDict()
    mixed.a, mixed.extra = 3, 4
    back_items, back_slotted, back_mixed = round_trip((items, slotted, mixed))
    assert type(back_items) is TaggedList and back_items.owner is back_items
    back_d = back_items[1]
    assert type(back_d) is TaggedDict and back_d == {"k": 1} and back_d.note == "n"
    assert (back_slotted.a, back_slotted.b) == (1, [2])
    assert (back_mixed.a, back_mixed.extra) == (3, 4)


def test_regex_pattern_needs_re_compile_trusted():
    pattern = re.compile(r"a+\d", re.IGNORECASE)
    data = amberfile.dumps(pattern)
    assert amberfile.get_untrusted_types(data) == ["re._compile"]
    with pytest.raises(UntrustedTypeError):
        amberfile.loads(data)
    back = amberfile.loads(data, trusted=["re._compile"])
    assert type(back) is re.Pattern and back == pattern and back.match("AA1")


def assert_same_pandas(original, back):
    assert type(back) is type(original)
    if isinstance(original, pd.Series):
        pd.testing.assert_series_equal(back, original)
    elif isinstance(original, pd.DataFrame):
        pd.testing.assert_frame_equal(back, original)
    elif isinstance(original, pd.Index):
        pd.testing.assert_index_equal(back, original, exact=True)
    else:
        pd.testing.assert_extension_array_equal(back, original)


PANDAS_VALUES = {
    "series": pd.Series([1.5, 2.0, np.nan], index=["a", "b", "c"], name="s"),
    "range_index": pd.RangeIndex(2, 20, 3, name="r"),
    "str_index": pd.Index(["x", "y", "z"]),
    "datetime_index_tz": pd.date_range("2020-01-01", periods=3, tz="Europe/Paris", name="when"),
    "multi_index": pd.MultiIndex.from_product([[1, 2], ["a", "b"]], names=["n", "l"]),
    "categorical_index": pd.CategoricalIndex(["a", "b", "a"], name="c"),
    "data_frame": pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 1.5],
            "s": ["a", "b", None],
            "b": [True, False, True],
            "t": pd.to_datetime(["2020-01-01", "2021-01-01", None]),
            "c": pd.Categorical(["u", "v", "u"]),
        },
        index=pd.Index([10, 20, 30], name="id"),
    ),
    "categorical": pd.Categorical(["x", "y", "x"], categories=["y", "x"], ordered=True),
}


@pytest.mark.parametrize("name", sorted(PANDAS_VALUES))
def test_pandas_values_round_trip(tmp_path, name):
    original = PANDAS_VALUES[name]
    path = tmp_path / f"{name}.amber"
    amberfile.dump(original, path)
    assert_same_pandas(original, amberfile.load(path, trusted=amberfile.get_untrusted_types(path)))


def test_pandas_is_not_trusted_by_default():
    untrusted = amberfile.get_untrusted_types(amberfile.dumps(PANDAS_VALUES["series"]))
    assert "pandas.Series" in untrusted


def test_default_trusted_factories_need_no_trust():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(5)
    X = rng.random((30, 3))
    model = KNeighborsClassifier(algorithm="kd_tree").fit(X, X[:, 0] > 0.5)
    data = amberfile.dumps({"model": model, "rng": rng, "legacy": np.random.RandomState(3)})
    assert amberfile.get_untrusted_types(data) == []
    back = amberfile.loads(data)
    np.testing.assert_array_equal(back["model"].predict(X), model.predict(X))
    assert back["rng"].random() == rng.random()
    assert back["legacy"].randint(1000) == np.random.RandomState(3).randint(1000)


def test_files_of_the_previous_writer_still_load():
    """data/previous_writer.amber was written by the writer before the reduce convention, from
    {"rng": default_rng(7), "legacy": RandomState(3), "mt": MT19937(11), "X": rng.random((30, 3)),
    "model": KNeighborsClassifier(algorithm="kd_tree").fit(X, X[:, 0] > 0.5)} with rng =
    default_rng(5): it names the random generators and the tree by their classes, no args."""
    back = amberfile.load(pathlib.Path(__file__).parent / "data" / "previous_writer.amber")
    assert back["rng"].random() == np.random.default_rng(7).random()
    assert back["legacy"].randint(1000) == np.random.RandomState(3).randint(1000)
    assert back["mt"].random_raw() == np.random.MT19937(11).random_raw()
    X = back["X"]
    np.testing.assert_array_equal(back["model"].predict(X), X[:, 0] > 0.5)


def _global(g, name):
    return g._node(16, struct.pack("<I", g.string(name)))


def test_reconstructor_needs_a_global_class():
    g = Graph()
    args = g.seq("tuple", [g.str_(g.string("sklearn.tree._tree.Tree"))])
    data = g.file(g.object_(g.string("copyreg.__newobj__"), args=args))
    with pytest.raises(amberfile.FormatError, match="global"):
        amberfile.loads(data)


def test_newobj_of_a_validated_class_keeps_its_checks():
    """Tree.__new__ runs Tree's C constructor with the args: they are checked first."""
    g = Graph()
    args = g.seq("tuple", [_global(g, "sklearn.tree._tree.Tree"), g.int_(-5), g.none(), g.int_(1)])
    data = g.file(g.object_(g.string("copyreg.__newobj__"), args=args))
    with pytest.raises(StateError) as failed:
        amberfile.loads(data)
    assert failed.value.type_name == "copyreg.__newobj__"


def test_newobj_refuses_builtin_containers():
    g = Graph()
    args = g.seq("tuple", [_global(g, "builtins.bytes"), g.int_(10**12)])
    data = g.file(g.object_(g.string("copyreg.__newobj__"), args=args))
    with pytest.raises(StateError, match="not constructed from arguments"):
        amberfile.loads(data)


def test_default_trusted_name_is_not_called_unless_it_is_a_factory():
    g = Graph()
    args = g.seq("tuple", [g.int_(1)])
    data = g.file(g.object_(g.string("numpy.log1p"), args=args))
    with pytest.raises(StateError, match="not to be called"):
        amberfile.loads(data)


def test_numpy_random_factory_takes_no_callable_from_the_file():
    g = Graph()
    args = g.seq("tuple", [g.str_(g.string("MT19937")), _global(g, "numpy.random._pickle.__bit_generator_ctor")])
    data = g.file(g.object_(g.string("numpy.random._pickle.__generator_ctor"), args=args))
    with pytest.raises(StateError, match="one bit generator"):
        amberfile.loads(data)


# DumpError: the type and the graph path of what cannot be written, nothing written.


def local_class_instance():
    class Local:
        pass

    return Local()


class WithSetter:
    def __reduce__(self):
        return (WithSetter, (), {"a": 1}, None, None, _set_state)


def _set_state(obj, state):
    obj.__dict__.update(state)


class FailingReduce:
    def __reduce__(self):
        raise RuntimeError("no")


def shadowed_function():
    pass


def test_dump_error_names_type_and_path():
    with pytest.raises(DumpError) as failed:
        amberfile.dumps({"models": [1, 2, {"fn": lambda x: x}]})
    assert (failed.value.type_name, failed.value.path) == ("builtins.function", "models/2/fn")
    assert isinstance(failed.value, TypeError) and isinstance(failed.value.__cause__, TypeError)


@pytest.mark.parametrize(
    "value, type_name, path, cause",
    [
        (local_class_instance(), f"{THIS}.local_class_instance.<locals>.Local", "", TypeError),
        ([WithSetter()], f"{THIS}.WithSetter", "0", TypeError),
        ({"a": (1, FailingReduce())}, f"{THIS}.FailingReduce", "a/1", RuntimeError),
        ({"big": 1 << 10_000}, "builtins.int", "big", ValueError),
    ],
)
def test_dump_errors(value, type_name, path, cause):
    with pytest.raises(DumpError) as failed:
        amberfile.dumps(value)
    assert (failed.value.type_name, failed.value.path) == (type_name, path)
    assert isinstance(failed.value.__cause__, cause)


def test_a_name_that_finds_another_object_is_refused(monkeypatch):
    original = shadowed_function
    monkeypatch.setitem(globals(), "shadowed_function", lambda: None)
    with pytest.raises(DumpError, match="does not refer to it") as failed:
        amberfile.dumps({"f": original})
    assert failed.value.path == "f"


def big_then_bad():
    return {"weights": np.ones(3 << 20), "fn": lambda: None}


def test_failed_dump_writes_nothing_to_a_path(tmp_path):
    target = tmp_path / "model.amber"
    with pytest.raises(DumpError):
        amberfile.dump(big_then_bad(), target)
    assert list(tmp_path.iterdir()) == []
    amberfile.dump([1], target)
    with pytest.raises(DumpError):
        amberfile.dump(big_then_bad(), target)
    assert amberfile.load(target) == [1]
    assert list(tmp_path.iterdir()) == [target]


def test_failed_dump_writes_nothing_to_a_file_object():
    sink = io.BytesIO()
    with pytest.raises(DumpError):
        amberfile.dump(big_then_bad(), sink)
    assert sink.getvalue() == b""
