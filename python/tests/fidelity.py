"""The fidelity suite: ``dump`` never writes what ``load`` cannot rebuild exactly (issue 12).

A seeded generator builds object graphs from a catalogue of value kinds (``KINDS``: the
standard library's, numpy's, scipy.sparse's and pandas'), nested in each other, with shared
references and cycles through mutable containers. For each graph ``g`` there are two
acceptable outcomes and no third:

- ``dump(g, path)`` raises ``amberfile.DumpError``, pickle cannot write ``g`` either (or ``g``
  holds a kind listed in ``MAY_REFUSE``), and nothing was written in the target directory;
- ``load(path, trusted=get_untrusted_types(path))`` returns ``h`` equal to
  ``pickle.loads(pickle.dumps(g, 4))`` by ``Comparer``: the same type at every node, equal
  values (floats by bit pattern), arrays equal in dtype, shape, bytes, masks and the contiguity
  pickle keeps, and one bijection between the object ids of the two graphs (shared stays
  shared, distinct stays distinct, cycles line up).

Each kind is first tried alone (``single:<kind>`` cases), then ``--graphs`` random graphs. A
graph is rebuilt from ``(seed, index)`` alone, so a failure can be replayed::

    python python/tests/fidelity.py --graphs 500 --seed 3
    python python/tests/fidelity.py --seed 3 --case 41      # one graph, traceback shown
    python python/tests/fidelity.py --kind pd.Index:2        # a single-kind case (or all four)
    python python/tests/fidelity.py --kinds                  # the catalogue
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copyreg
import datetime as dt
import decimal
import fractions
import math
import os
import pathlib
import pickle
import random
import re
import struct
import sys
import tempfile
import traceback
import types
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandas.testing as pdt
import scipy.sparse as sp

import amberfile
import fidelity_types as ft

# Until amberfile exports DumpError, no exception counts as the clear refusal.
DumpError = getattr(amberfile, "DumpError", type("MissingDumpError", (Exception,), {}))

# Kinds that dump may refuse even though pickle writes them: what the format does not claim
# to represent (a reduce value with a state setter, a compiled pattern, x87 long doubles, a
# str that is not UTF-8).
MAY_REFUSE = {"state-setter", "re.Pattern", "long-double", "str-lone-surrogate"}


# --- the catalogue ----------------------------------------------------------------------------


@dataclass
class Kind:
    name: str
    make: Callable  # (Builder) -> value
    container: bool = False  # holds values built by Builder.child()
    hashable: bool = False  # usable as a dict key or set element (never NaN)
    weight: float = 1.0  # how often the random graphs pick it


KINDS: dict[str, Kind] = {}


def kind(name: str, container: bool = False, hashable: bool = False, weight: float = 1.0):
    def register(make):
        KINDS[name] = Kind(name, make, container, hashable, weight)
        return make

    return register


def nan_with_payload(payload: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0000 | payload))[0]


# Kinds that make the whole graph unwritable (pickle fails, or MAY_REFUSE) are picked this much
# less often, so that most random graphs get written and compared.
RARE = 0.03

SPECIAL_FLOATS = [math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]

kind("None", hashable=True)(lambda b: None)
kind("bool", hashable=True)(lambda b: b.rng.random() < 0.5)
kind("int", hashable=True)(lambda b: b.rng.randint(-(2**63), 2**63 - 1))
kind("bigint", hashable=True)(lambda b: b.rng.choice([1, -1]) * b.rng.randint(2**63, 2**200))
kind("float", hashable=True)(lambda b: b.rng.uniform(-1e6, 1e6))
kind("float-special")(lambda b: b.rng.choice(SPECIAL_FLOATS + [nan_with_payload(b.rng.randint(1, 2**51 - 1))]))
kind("complex")(lambda b: complex(b.rng.choice(SPECIAL_FLOATS), b.rng.uniform(-1, 1)))
kind("str", hashable=True)(lambda b: b.rng.choice(["", "plain", "héllo ✓ 𝄞", "x" * 300, "nul\x00in"]))
kind("str-lone-surrogate", hashable=True, weight=RARE)(lambda b: "half \ud800 pair")
kind("bytes", hashable=True)(lambda b: bytes(b.rng.randrange(256) for _ in range(b.rng.randint(0, 40))))
kind("bytearray")(lambda b: bytearray(b"\x00\xffmutable"))
kind("range", hashable=True)(lambda b: range(b.rng.randint(-5, 5), b.rng.randint(5, 50), b.rng.choice([1, 3, -2])))
kind("slice")(lambda b: slice(b.rng.randint(0, 5), None, b.rng.choice([None, 2, -1])))
kind("Ellipsis", hashable=True)(lambda b: ...)
kind("builtin-type", hashable=True)(lambda b: b.rng.choice([int, dict, np.ndarray, pd.Series]))
kind("function", hashable=True)(lambda b: b.rng.choice([ft.rebuild_scaled, math.sqrt, np.add, len]))

# datetime family
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TIMEZONES = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30), "IST"), dt.timezone(-dt.timedelta(hours=3))]
kind("datetime", hashable=True)(lambda b: dt.datetime(2024, 2, 29, 23, 59, 59, b.rng.randint(0, 999_999)))
kind("datetime-tz", hashable=True)(lambda b: dt.datetime(1999, 12, 31, 12, tzinfo=b.rng.choice(TIMEZONES)))
kind("datetime-zoneinfo-fold", hashable=True)(lambda b: dt.datetime(2023, 10, 29, 2, 30, fold=1, tzinfo=PARIS))
kind("date", hashable=True)(lambda b: dt.date(b.rng.randint(1, 9999), 1, 31))
kind("time", hashable=True)(lambda b: dt.time(13, 5, 7, 123, tzinfo=b.rng.choice([None, *TIMEZONES])))
kind("timedelta", hashable=True)(lambda b: dt.timedelta(days=b.rng.randint(-999_999, 999_999), microseconds=7))
kind("timezone", hashable=True)(lambda b: b.rng.choice(TIMEZONES))

DECIMALS = ["NaN", "-NaN", "sNaN", "-0", "0E-1000", "1E+999999", "-Infinity", "3.14159265358979323846264338327950288"]
kind("Decimal")(lambda b: decimal.Decimal(b.rng.choice(DECIMALS)))
kind("Decimal-finite", hashable=True)(lambda b: decimal.Decimal(b.rng.choice(DECIMALS[3:6] + DECIMALS[7:])))
kind("Fraction", hashable=True)(lambda b: fractions.Fraction(b.rng.randint(-(2**70), 2**70), b.rng.randint(1, 999)))
kind("UUID", hashable=True)(lambda b: uuid.UUID(int=b.rng.getrandbits(128)))
kind("pathlib", hashable=True)(
    lambda b: b.rng.choice([pathlib.Path("/tmp/x.amber"), pathlib.PurePosixPath("a/b"), pathlib.PureWindowsPath(r"C:\m\w.amber")])
)
kind("enum", hashable=True)(lambda b: b.rng.choice([*ft.Color, *ft.Level, ft.Permission.READ | ft.Permission.EXECUTE]))
kind("singleton-by-name", hashable=True)(lambda b: ft.SINGLETON)
kind("re.Pattern", hashable=True, weight=RARE)(lambda b: re.compile(r"a+(?P<tail>b)?", re.IGNORECASE))
kind("state-setter", weight=RARE)(lambda b: ft.StateSetter(b.rng.randint(0, 9)))
kind("reduce-raises", weight=RARE)(lambda b: ft.RefusesReduce())
kind("local-class", weight=RARE)(lambda b: ft.local_instance())


# Containers: each fills itself with b.child() values (cycles need the container open first).
@kind("list", container=True)
def make_list(b):
    items = []
    with b.opened(items):
        items.extend(b.children())
    return items


kind("tuple", container=True)(lambda b: tuple(b.children()))
kind("tuple-hashable", hashable=True)(lambda b: tuple(b.key() for _ in range(b.rng.randint(0, 3))))
kind("frozenset", hashable=True)(lambda b: frozenset(b.key() for _ in range(b.rng.randint(0, 4))))
kind("set", container=True)(lambda b: {b.key() for _ in range(b.rng.randint(0, 4))})


def fill_mapping(b, mapping):
    with b.opened(mapping):
        for _ in range(b.rng.randint(0, 4)):
            mapping[b.key()] = b.child()
    return mapping


kind("dict", container=True)(lambda b: fill_mapping(b, {}))
kind("OrderedDict", container=True)(lambda b: fill_mapping(b, collections.OrderedDict()))
kind("defaultdict", container=True)(lambda b: fill_mapping(b, collections.defaultdict(list)))
kind("Counter", container=True)(lambda b: collections.Counter({b.key(): b.rng.randint(-3, 9) for _ in range(3)}))
kind("ChainMap", container=True)(lambda b: collections.ChainMap(fill_mapping(b, {}), {"k": b.child()}))


@kind("deque", container=True)
def make_deque(b):
    items = collections.deque(maxlen=b.rng.choice([None, 2, 10]))
    with b.opened(items):
        items.extend(b.children())
    return items


kind("namedtuple", container=True)(lambda b: ft.Pair(b.child(), b.child()))
kind("namedtuple-hashable", hashable=True)(lambda b: ft.Pair(b.key(), b.key()))


@kind("dataclass", container=True)
def make_point(b):
    point = ft.Point(None)
    with b.opened(point):
        point.x, point.y, point.tags = b.child(), b.child(), b.children()
    return point


kind("dataclass-frozen", container=True)(lambda b: ft.FrozenPoint(b.child(), b.child()))
kind("dataclass-frozen-hashable", hashable=True)(lambda b: ft.FrozenPoint(b.key(), b.key()))
kind("dataclass-slots", container=True)(lambda b: ft.SlotPoint(b.child(), b.child()))
kind("dataclass-frozen-slots", container=True)(lambda b: ft.FrozenSlotPoint(b.child(), b.child()))


@kind("dict-subclass", container=True)
def make_attr_dict(b):
    mapping = ft.AttrDict()
    with b.opened(mapping):
        fill_mapping(b, mapping)
        mapping.note = b.child()
    return mapping


@kind("list-subclass", container=True)
def make_attr_list(b):
    items = ft.AttrList()
    with b.opened(items):
        items.extend(b.children())
        items.note = b.child()
    return items


def with_note(obj, note):
    obj.note = note
    return obj


kind("tuple-subclass", container=True)(lambda b: with_note(ft.AttrTuple(b.children()), b.child()))
kind("int-subclass", container=True)(lambda b: with_note(ft.AttrInt(b.rng.randint(-(2**80), 2**80)), b.child()))


@kind("slots", container=True)
def make_slotted(b):
    return ft.Slotted(b.child(), b.child(), set_b=b.rng.random() < 0.5)


@kind("slots-and-dict", container=True)
def make_slotted_with_dict(b):
    obj = ft.SlottedWithDict(b.child(), b.child(), set_b=b.rng.random() < 0.5)
    with b.opened(obj):
        obj.extra = b.child()
    return obj


kind("getstate-setstate", container=True)(lambda b: ft.WithState(b.child()))
kind("reduce-to-factory")(lambda b: ft.Scaled(b.rng.randint(-50, 50)))
kind("reduce_ex-per-protocol", container=True)(lambda b: ft.ProtocolSpecific(b.child()))
kind("copyreg-reconstructor", container=True)(lambda b: ft.OldStyleReduce(b.child()))
kind("getnewargs", container=True)(lambda b: ft.NewArgs(b.key()))
# Cycles that only pickle's memo trick closes: the object sits inside its own arguments.
kind("namedtuple-in-own-args")(lambda b: cycle_through_args(ft.Pair([], b.child())))
kind("getnewargs-in-own-args")(lambda b: cycle_through_args(ft.NewArgs([])))


def cycle_through_args(obj):
    (obj.left if isinstance(obj, ft.Pair) else obj.key).append(obj)
    return obj


kind("getnewargs_ex-kwargs", container=True)(lambda b: ft.NewArgsEx(b.key(), scale=b.child()))


# --- numpy -----------------------------------------------------------------------------------

NUMERIC_DTYPES = [
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
]
# Where long double is wider than double (x87's 80 bits in 16 bytes); the format may lack it.
LONG_DOUBLES = ["g", "G"] if np.dtype("g").itemsize > 8 else []
TIME_DTYPES = [f"{kind}8[{unit}]" for kind in "Mm" for unit in ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "as")]
NESTED = np.dtype([("id", "<u2"), ("pos", [("x", "<f4"), ("y", ">f8")]), ("name", "U3"), ("raw", "V3")])
WITH_OFFSETS = np.dtype({"names": ["a", "b"], "formats": ["<i4", ">f8"], "offsets": [8, 0], "itemsize": 24})
TEXT_DTYPES = ["U5", "S4", "V6"]
STRUCTURED_DTYPES = ["(2,3)i2", NESTED, WITH_OFFSETS, np.dtype("i4", metadata={"unit": "m"})]


def random_array(rng: random.Random, dtype, shape=None) -> np.ndarray:
    dtype = np.dtype(dtype)
    shape = shape or rng.choice([(), (0,), (3,), (2, 3), (0, 4), (2, 1, 3)])
    array = np.zeros(shape, dtype)
    raw = array.reshape(-1).view(np.uint8)
    raw[:] = np.random.default_rng(rng.getrandbits(32)).integers(0, 256, raw.size, dtype=np.uint8)
    for name in dtype.names or ():
        if dtype[name].kind == "U":  # random bits are mostly not code points
            array[name] = "ab"
    if dtype.kind in "fc":  # random bits give NaNs with payloads; add the named specials
        specials = [complex(math.nan, -0.0), complex(math.inf, 1)] if dtype.kind == "c" else [math.nan, -0.0]
        array.reshape(-1)[:2] = specials[: min(2, array.size)]
    if dtype.kind in "US":
        texts = ["", "ab", "hé✓", "xyz"] if dtype.kind == "U" else [b"", b"ab", b"\x00\xff", b"xyz"]
        array = np.array(texts * 6, dtype=dtype)[: math.prod(shape)].reshape(shape)
    if dtype.kind == "b":
        array = raw.reshape(shape) > 127
    return array


def layout(rng: random.Random, array: np.ndarray) -> np.ndarray:
    """The same values in another memory layout: Fortran order, a reversed or strided view,
    or the other byte order."""
    choice = rng.randrange(5)
    if choice == 1 and array.ndim >= 2:
        return np.asfortranarray(array)
    if choice == 2 and array.ndim >= 1:
        return array[::-1]
    if choice == 3 and array.ndim >= 1:
        return np.repeat(array, 2, axis=-1)[..., ::2]
    if choice == 4 and array.dtype.kind not in "OV" and array.dtype.fields is None:
        return array.astype(array.dtype.newbyteorder())
    return array


kind("ndarray-numeric")(lambda b: layout(b.rng, random_array(b.rng, b.rng.choice(NUMERIC_DTYPES))))
kind("ndarray-datetime")(lambda b: layout(b.rng, random_array(b.rng, b.rng.choice(TIME_DTYPES))))
kind("ndarray-str-bytes-void")(lambda b: layout(b.rng, random_array(b.rng, b.rng.choice(TEXT_DTYPES))))
kind("ndarray-structured")(lambda b: layout(b.rng, random_array(b.rng, b.rng.choice(STRUCTURED_DTYPES))))
kind("numpy-scalar")(lambda b: random_array(b.rng, b.rng.choice(NUMERIC_DTYPES + TIME_DTYPES + TEXT_DTYPES + [NESTED]), (1,))[0])
kind("numpy-dtype", hashable=True)(lambda b: np.dtype(b.rng.choice(NUMERIC_DTYPES + TIME_DTYPES + TEXT_DTYPES + ["O", ">i4"])))
kind("numpy-dtype-structured", hashable=True)(lambda b: np.dtype(b.rng.choice(STRUCTURED_DTYPES)))


@kind("ndarray-object", container=True)
def make_object_array(b):
    array = np.empty(b.rng.choice([0, 1, 3]), dtype=object)
    with b.opened(array):
        for i in range(len(array)):
            array[i] = b.child()
    return array.reshape(-1, 1) if len(array) == 3 and b.rng.random() < 0.3 else array


@kind("masked-array")
def make_masked(b):
    data = random_array(b.rng, b.rng.choice(["i4", "f8", "U3", "M8[s]"]))
    mask = np.random.default_rng(b.rng.getrandbits(32)).random(data.shape) < 0.5
    fill = {"i": 7, "f": -1.5, "U": "zz", "M": None}[data.dtype.kind]
    return np.ma.masked_array(data, mask=mask if b.rng.random() < 0.8 else np.ma.nomask, fill_value=fill)


if LONG_DOUBLES:
    kind("long-double", weight=RARE)(lambda b: b.rng.choice([
        lambda: layout(b.rng, random_array(b.rng, b.rng.choice(LONG_DOUBLES))),
        lambda: random_array(b.rng, b.rng.choice(LONG_DOUBLES), (1,))[0],
        lambda: np.dtype(b.rng.choice(LONG_DOUBLES)),
    ])())
kind("np.matrix")(lambda b: np.matrix(layout(b.rng, random_array(b.rng, b.rng.choice(NUMERIC_DTYPES), (2, 3)))))
kind("np.random.Generator")(
    lambda b: np.random.Generator(b.rng.choice([np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64])(b.rng.getrandbits(64)))
)
kind("np.random.RandomState")(lambda b: np.random.RandomState(b.rng.getrandbits(32)))

# --- scipy.sparse ----------------------------------------------------------------------------

SPARSE_FORMATS = ["csr", "csc", "coo", "bsr", "dia", "lil", "dok"]


def make_sparse(b, container: str):
    matrix = sp.random(4, 6, density=0.4, format="coo", dtype=b.rng.choice(["f8", "f4", "i8", "c16"]), random_state=b.rng.getrandbits(32))
    if container == "array":
        matrix = sp.coo_array(matrix)
    fmt = b.rng.choice(SPARSE_FORMATS)
    return matrix.tobsr(blocksize=(2, 2)) if fmt == "bsr" else matrix.asformat(fmt)


kind("sparse-matrix")(lambda b: make_sparse(b, "matrix"))
kind("sparse-array")(lambda b: make_sparse(b, "array"))

# --- pandas ----------------------------------------------------------------------------------

SERIES = [
    lambda: pd.Series([1, -2, 3], name="ints"),
    lambda: pd.Series([1.5, math.nan, -0.0], index=["a", "b", "c"]),
    lambda: pd.Series(["x", None, "z"], dtype=object),
    lambda: pd.Series(pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True)),
    lambda: pd.Series(pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Paris")),
    lambda: pd.Series([1, None, 3], dtype="Int64"),
    lambda: pd.Series([True, None, False], dtype="boolean"),
    lambda: pd.Series(["a", None, "c"], dtype="string"),
    lambda: pd.Series([dt.timedelta(seconds=1), None], dtype="timedelta64[ns]"),
]
INDEXES = [
    lambda: pd.RangeIndex(2, 20, 3, name="r"),
    lambda: pd.Index([3, 1, 2], dtype="int32"),
    lambda: pd.Index(["a", "b"], name="letters"),
    lambda: pd.DatetimeIndex(["2024-01-01", "2024-06-01"], tz="UTC", name="when"),
    lambda: pd.date_range("2024-01-01", periods=4, freq="h"),
    lambda: pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"]),
    lambda: pd.CategoricalIndex(["x", "y", "x"], categories=["y", "x"]),
    lambda: pd.IntervalIndex.from_breaks([0, 1.5, 3], closed="left"),
    lambda: pd.period_range("2024-01", periods=3, freq="M"),
    lambda: pd.timedelta_range("1 day", periods=2),
]
FRAMES = [
    lambda: pd.DataFrame({"i": [1, 2], "f": [0.5, math.nan], "s": ["a", "b"], "c": pd.Categorical(["u", "v"]), "n": pd.array([1, None], dtype="Int64")}),
    lambda: pd.DataFrame(np.arange(6.0).reshape(2, 3), columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)]), index=pd.Index(["r1", "r2"], name="row")),
    lambda: pd.DataFrame({"t": pd.date_range("2020-01-01", periods=2, tz="UTC"), "b": [True, False]}),
]
SCALARS = [
    lambda: pd.Timestamp("2024-02-29 12:00:00.000000001", tz="Asia/Tokyo"),
    lambda: pd.Timestamp("1970-01-01"),
    lambda: pd.Timedelta(days=-1, nanoseconds=5),
    lambda: pd.NaT,
    lambda: pd.Period("2024Q1", freq="Q"),
    lambda: pd.Interval(0, 5, closed="both"),
]
kind("pd.Series")(lambda b: b.rng.choice(SERIES)())
kind("pd.Index")(lambda b: b.rng.choice(INDEXES)())
kind("pd.DataFrame")(lambda b: b.rng.choice(FRAMES)())
kind("pd.Categorical")(lambda b: pd.Categorical(["b", "a", None, "b"], categories=["b", "a"], ordered=b.rng.random() < 0.5))
kind("pd.scalar")(lambda b: b.rng.choice(SCALARS)())


# --- the generator ---------------------------------------------------------------------------


class Builder:
    """Builds one graph from a seeded ``random.Random``, noting the kinds it used and a short
    description (``list#3[int, shared#0, dict#2[...]]``) to name a failing graph.

    ``children`` restricts the kinds of nested values (the single-kind cases nest only plain
    ones, so that a failure names its kind)."""

    def __init__(self, rng: random.Random, max_depth: int = 3, children: list[str] | None = None):
        self.rng = rng
        self.max_depth = max_depth
        self.child_kinds = children
        self.depth = 0
        self.pool: list = []  # finished values a later child may share
        self.open: list = []  # mutable containers being filled: a child may point back (cycle)
        self.used: collections.Counter = collections.Counter()
        self.type_names: set[str] = set()  # of every value built: a DumpError must name one
        self.description: list[str] = []  # descriptions of the children of the node being built

    def pick(self, kinds) -> str:
        kinds = list(kinds)
        return self.rng.choices([k.name for k in kinds], [k.weight for k in kinds])[0]

    def build(self, name: str):
        parent, self.description = self.description, []
        self.depth += 1
        try:
            value = KINDS[name].make(self)
        finally:
            self.depth -= 1
            inner, self.description = self.description, parent
        self.used[name] += 1
        self.type_names.add(type_name(value))
        label = "" if is_atom(value) else f"#{len(self.pool)}"
        parent.append(f"{name}{label}" + (f"[{', '.join(inner)}]" if inner else ""))
        if label:
            self.pool.append(value)
        return value

    def child(self):
        if self.child_kinds is not None:
            return self.build(self.rng.choice(self.child_kinds))
        roll = self.rng.random()
        if roll < 0.12 and self.pool:
            index = self.rng.randrange(len(self.pool))
            self.description.append(f"shared#{index}")
            return self.pool[index]
        if roll < 0.2 and self.open:
            target = self.rng.choice(self.open)
            self.description.append(f"cycle->{type(target).__name__}")
            return target
        deep = self.depth >= self.max_depth
        return self.build(self.pick(k for k in KINDS.values() if not (deep and k.container)))

    def children(self):
        return [self.child() for _ in range(self.rng.randint(0, 3))]

    def key(self):
        """A hashable, NaN-free value, for dict keys and set elements."""
        if self.child_kinds is not None or self.depth > self.max_depth + 1:
            return self.build("int")
        return self.build(self.pick(k for k in KINDS.values() if k.hashable))

    @contextlib.contextmanager
    def opened(self, container):
        self.open.append(container)
        try:
            yield
        finally:
            self.open.pop()  # containers close in the order opposite to their opening


PLAIN_KINDS = ["int", "str", "float", "None", "bytes", "tuple-hashable"]


# How many single-kind graphs each kind gets: kinds pick among variants (dtypes, subclasses).
SINGLE_VARIANTS = 4


def single_case(name: str, variant: int):
    """A graph holding one value of kind ``name`` (twice, so that sharing is checked too)."""
    builder = Builder(random.Random(f"single:{name}:{variant}"), children=PLAIN_KINDS)
    value = builder.build(name)
    return [value, value], builder


def random_case(seed: int, index: int):
    builder = Builder(random.Random(f"{seed}:{index}"))
    return builder.build(builder.pick(k for k in KINDS.values() if k.container)), builder


# --- the comparer ----------------------------------------------------------------------------


ATOM_TYPES = (type(None), bool, int, float, complex, str, bytes, type(...), range)


def is_atom(value) -> bool:
    """Immutable values whose identity pickle does not keep (it memoizes neither ints nor
    floats; numpy hands out shared dtype instances), so only their value is compared."""
    return type(value) in ATOM_TYPES or isinstance(value, np.dtype)


class Mismatch(AssertionError):
    def __init__(self, path: str, message: str):
        super().__init__(f"at {path or '<root>'}: {message}")
        self.path = path


def float_bits(value: float) -> bytes:
    return struct.pack("<d", value)


class Comparer:
    """Strict deep equality of two graphs: ``compare(expected, actual)`` raises ``Mismatch``
    naming the first difference by its path."""

    def __init__(self):
        self.forward: dict[int, int] = {}
        self.backward: dict[int, int] = {}
        self.keep: list = []  # values made during the walk (reduce tuples) stay alive: ids stay unique

    def compare(self, a, b, path: str = "") -> None:
        if type(a) is not type(b):
            raise Mismatch(path, f"type {type_name(a)} != {type_name(b)}")
        if is_atom(a):
            return self.compare_atoms(a, b, path)
        if id(a) in self.forward or id(b) in self.backward:
            if self.forward.get(id(a)) != id(b) or self.backward.get(id(b)) != id(a):
                raise Mismatch(path, f"identity: this {type_name(a)} is shared differently in the two graphs")
            return
        self.forward[id(a)], self.backward[id(b)] = id(b), id(a)
        self.keep += [a, b]
        if a is b:
            return  # a global both graphs resolve to (a class, a function, an enum member)
        if isinstance(a, (type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)):
            raise Mismatch(path, f"{a!r} and {b!r} are different objects")
        if isinstance(a, (list, tuple)) and type(a).__reduce_ex__ in (list.__reduce_ex__, tuple.__reduce_ex__):
            return self.compare_sequences(a, b, path)
        if type(a) is dict:
            return self.compare_sequences(list(a.items()), list(b.items()), path, items=True)
        if type(a) in (set, frozenset):
            return self.compare_sets(a, b, path)
        if isinstance(a, np.ma.MaskedArray):
            return self.compare_masked(a, b, path)
        if isinstance(a, np.ndarray):
            return self.compare_arrays(a, b, path)
        if isinstance(a, np.generic):
            return self.compare_arrays(np.asarray(a), np.asarray(b), path + "<scalar>")
        if type(a).__module__.startswith("pandas"):
            return self.compare_pandas(a, b, path)
        return self.compare_reduced(a, b, path)

    def compare_atoms(self, a, b, path):
        if type(a) is float:
            same = float_bits(a) == float_bits(b)
        elif type(a) is complex:
            same = float_bits(a.real) + float_bits(a.imag) == float_bits(b.real) + float_bits(b.imag)
        elif isinstance(a, np.dtype):
            a, b = dtype_signature(a), dtype_signature(b)
            same = a == b
        else:
            same = a == b
        if not same:
            raise Mismatch(path, f"{a!r} != {b!r}")

    def compare_sequences(self, a, b, path, items=False):
        if len(a) != len(b):
            raise Mismatch(path, f"length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            if items:
                self.compare(x[0], y[0], f"{path}/<key {i}>")
                self.compare(x[1], y[1], f"{path}/{x[0]!r}")
            else:
                self.compare(x, y, f"{path}/{i}")

    def compare_sets(self, a, b, path):
        # Elements are hashable and NaN-free, so each finds its counterpart by equality.
        counterparts = {y: y for y in b}
        if len(a) != len(b):
            raise Mismatch(path, f"set size {len(a)} != {len(b)}")
        for x in a:
            if x not in counterparts:
                raise Mismatch(path, f"{x!r} missing")
            self.compare(x, counterparts[x], f"{path}/{{{x!r}}}")

    def compare_arrays(self, a: np.ndarray, b: np.ndarray, path):
        if dtype_signature(a.dtype) != dtype_signature(b.dtype):
            raise Mismatch(path, f"dtype {dtype_signature(a.dtype)} != {dtype_signature(b.dtype)}")
        if a.shape != b.shape:
            raise Mismatch(path, f"shape {a.shape} != {b.shape}")
        for flag in ("C_CONTIGUOUS", "F_CONTIGUOUS", "WRITEABLE"):
            if a.flags[flag] != b.flags[flag]:
                raise Mismatch(path, f"flag {flag}: {a.flags[flag]} != {b.flags[flag]}")
        if a.dtype.kind == "O":
            for index in np.ndindex(a.shape):
                self.compare(a[index], b[index], f"{path}/{list(index)}")
        elif a.dtype.fields is not None:
            for name in a.dtype.names:
                self.compare_arrays(np.ascontiguousarray(a[name]), np.ascontiguousarray(b[name]), f"{path}[{name!r}]")
        elif value_bytes(a) != value_bytes(b):
            raise Mismatch(path, f"values differ: {a!r} != {b!r}")

    def compare_masked(self, a, b, path):
        self.compare_arrays(a.data, b.data, path + "<data>")
        self.compare_arrays(np.ma.getmaskarray(a), np.ma.getmaskarray(b), path + "<mask>")
        self.compare_arrays(np.asarray(a.fill_value), np.asarray(b.fill_value), path + "<fill_value>")
        if a.hardmask != b.hardmask:
            raise Mismatch(path, "hardmask differs")

    def compare_pandas(self, a, b, path):
        try:
            if isinstance(a, pd.DataFrame):
                pdt.assert_frame_equal(a, b, check_exact=True, check_index_type=True, check_column_type=True,
                                       check_frame_type=True, check_freq=True, check_flags=True)
            elif isinstance(a, pd.Series):
                pdt.assert_series_equal(a, b, check_exact=True, check_index_type=True, check_series_type=True,
                                        check_freq=True, check_flags=True)
            elif isinstance(a, pd.Index):
                pdt.assert_index_equal(a, b, exact=True, check_exact=True, check_categorical=True)
                if getattr(a, "freq", None) != getattr(b, "freq", None):
                    raise AssertionError(f"freq {a.freq} != {b.freq}")
            elif isinstance(a, pd.Categorical):
                pdt.assert_extension_array_equal(a, b, check_exact=True)
                pdt.assert_index_equal(a.categories, b.categories, exact=True)
                if a.ordered != b.ordered:
                    raise AssertionError("ordered differs")
            elif repr(a) != repr(b) or getattr(a, "unit", None) != getattr(b, "unit", None):
                raise AssertionError(f"{a!r} != {b!r}")
        except AssertionError as error:
            raise Mismatch(path, f"pandas: {error}") from None
        for attribute in ("attrs", "name", "names"):
            if hasattr(a, attribute):
                self.compare(getattr(a, attribute), getattr(b, attribute), f"{path}<{attribute}>")

    def compare_reduced(self, a, b, path):
        """Any other object: its pickle state, ``__reduce_ex__(4)`` (iterators made lists)."""
        reduced_a, reduced_b = reduce_value(a), reduce_value(b)
        self.keep += [reduced_a, reduced_b]
        if isinstance(reduced_a, str) or isinstance(reduced_b, str):
            if reduced_a != reduced_b:
                raise Mismatch(path, f"reduces to {reduced_a!r} and {reduced_b!r}")
            return
        labels = ("@callable", "@args", "@state", "@listitems", "@dictitems", "@setter")
        if len(reduced_a) != len(reduced_b):
            raise Mismatch(path, f"reduce lengths {len(reduced_a)} != {len(reduced_b)}")
        for label, x, y in zip(labels, reduced_a, reduced_b):
            self.compare(x, y, f"{path}{label}")


def dtype_signature(dtype: np.dtype):
    """Everything that tells two dtypes apart: byte order, field offsets, sub-arrays, metadata."""
    fields = None
    if dtype.fields is not None:
        fields = [(name, dtype_signature(dtype.fields[name][0]), dtype.fields[name][1]) for name in dtype.names]
    sub = dtype.subdtype and (dtype_signature(dtype.subdtype[0]), dtype.subdtype[1])
    return (dtype.str, dtype.itemsize, dtype.isalignedstruct, fields, sub, dtype.metadata)


def reduce_value(obj):
    """What pickle writes for ``obj``: a reducer registered with copyreg comes first."""
    reducer = copyreg.dispatch_table.get(type(obj))
    value = reducer(obj) if reducer else obj.__reduce_ex__(4)
    if isinstance(value, str):
        return value
    return tuple(list(part) if isinstance(part, collections.abc.Iterator) else part for part in value)


def value_bytes(array: np.ndarray) -> bytes:
    """The bytes that hold the values: x87 long doubles carry padding bytes that mean nothing."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind in "fc" and array.dtype.itemsize in (16, 32) and np.finfo(np.longdouble).nmant == 63:
        width = array.dtype.itemsize // (2 if array.dtype.kind == "c" else 1)
        raw = array.view(np.uint8).reshape(-1, width)[:, :10]
        return raw.tobytes()
    return array.tobytes()


def type_name(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


# --- running cases ---------------------------------------------------------------------------


@dataclass
class Outcome:
    case: str
    kinds: set
    result: str  # "equal", "refused" or "failure"
    detail: str = ""
    description: str = ""


def pickle_round_trip(graph):
    try:
        return pickle.loads(pickle.dumps(graph, protocol=4)), None
    except Exception as error:  # pickle's refusal, whatever its type
        return None, error


def run_case(case: str, graph, builder: Builder, directory: str, verbose: bool = False) -> Outcome:
    outcome = Outcome(case, set(builder.used), "failure", description=", ".join(builder.description))
    path = os.path.join(directory, "graph.amber")
    before = set(os.listdir(directory))
    reference, pickle_error = pickle_round_trip(graph)
    try:
        try:
            amberfile.dump(graph, path)
        except DumpError as error:
            written = set(os.listdir(directory)) - before
            allowed = outcome.kinds & MAY_REFUSE
            if written:
                outcome.detail = f"DumpError ({error}) but {sorted(written)} was written"
            elif error.type_name not in builder.type_names or not isinstance(error.path, str):
                outcome.detail = f"DumpError names a type not in the graph ({error.type_name!r}) or no path: {error!r}"
            elif pickle_error is None and not allowed:
                outcome.detail = f"DumpError although pickle writes it: {error} (type {error.type_name!r}, path {error.path!r})"
            else:
                outcome.result = "refused"
                outcome.detail = str(error)
            return outcome
        if pickle_error is not None:
            outcome.detail = f"dump wrote a graph pickle cannot write ({pickle_error!r})"
            return outcome
        loaded = amberfile.load(path, trusted=amberfile.get_untrusted_types(path))
        Comparer().compare(reference, loaded)
        outcome.result = "equal"
    except Exception as error:
        outcome.detail = f"{type(error).__name__}: {error}"
        if verbose:
            traceback.print_exc()
    finally:
        if os.path.exists(path):
            os.remove(path)
    return outcome


def run(graphs: int, seed: int, directory: str, verbose: bool = False):
    for name in KINDS:
        for variant in range(SINGLE_VARIANTS):
            graph, builder = single_case(name, variant)
            yield run_case(f"single:{name}:{variant}", graph, builder, directory, verbose)
    for index in range(graphs):
        graph, builder = random_case(seed, index)
        yield run_case(f"seed={seed} case={index}", graph, builder, directory, verbose)


def summary(outcomes: list[Outcome]) -> str:
    counts = collections.Counter(o.result for o in outcomes)
    kinds = set().union(*(o.kinds for o in outcomes))
    return (
        f"{len(outcomes)} graphs, {len(kinds)} of {len(KINDS)} value kinds: {counts['equal']} equal after a round trip, "
        f"{counts['refused']} refused with DumpError, {counts['failure']} failures"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", type=int, help="replay one random graph, with its traceback")
    parser.add_argument("--kind", help="replay the single cases of one kind (NAME or NAME:VARIANT), with tracebacks")
    parser.add_argument("--kinds", action="store_true", help="list the catalogue")
    args = parser.parse_args(argv)
    if args.kinds:
        print("\n".join(KINDS))
        return 0
    with tempfile.TemporaryDirectory() as directory:
        if args.case is not None or args.kind:
            if args.kind is None:
                cases = [(f"case={args.case}", *random_case(args.seed, args.case))]
            else:
                name, _, variant = args.kind.partition(":")
                variants = [int(variant)] if variant else range(SINGLE_VARIANTS)
                cases = [(f"{name}:{v}", *single_case(name, v)) for v in variants]
            outcomes = [run_case(case, graph, builder, directory, verbose=True) for case, graph, builder in cases]
            for outcome in outcomes:
                print(f"{outcome.case} {outcome.result}: {outcome.detail}\n  graph: {outcome.description}")
            return any(o.result == "failure" for o in outcomes)
        outcomes = []
        for outcome in run(args.graphs, args.seed, directory):
            outcomes.append(outcome)
            if outcome.result == "failure":
                print(f"FAIL {outcome.case}: {outcome.detail}\n  graph: {outcome.description[:400]}")
        print(summary(outcomes))
        return any(o.result == "failure" for o in outcomes)


if __name__ == "__main__":
    sys.exit(main())
