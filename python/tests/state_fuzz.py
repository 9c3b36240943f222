"""A state fuzzer for the types amberfile trusts by default.

It fits small instances of every trusted type whose methods reach compiled code (trees,
forests, boosting, histogram boosting, neighbors trees and distance metrics, loss objects, SGD,
linear models, SVMs, k-means, pipelines, every scipy.sparse format), mutates one to three
numbers, arrays or attributes of their state, writes the result with ``amberfile.dump``, and
loads and uses it in a forked child process, the way a stranger's model file would be used.

How a mutated object is written: the fitted object is "exploded" once into an editable graph in
which every object is a ``Reduced`` shim holding its class, constructor arguments and state.
A shim's ``__reduce_ex__`` returns ``(copyreg.__newobj__, (RealClass,), state)`` (or
``(RealClass, args, state)``), so amberfile records the real class and the file is exactly
what an attacker could write by hand. Mutations edit the graph along a path, written in the
CLI's graph path syntax (``estimators_/1/tree_/nodes``; ``@args`` for constructor arguments;
objects are transparent).

Each case runs in a child forked from a parent that has imported everything and fitted
every subject once. The child caps its address space (``RLIMIT_AS``: 2 GiB, or 512 MiB
above what it already maps if that is more) and arms a 10 s timeout, then: applies the
mutations, dumps, loads (``load``, ``load(mmap_mode="r")``, ``loads`` or ``lazy_load``, chosen
by the case), makes the calls users make (``predict``, ``predict_proba``, ``decision_function``,
``transform``, ``kneighbors``, ``query``, ``toarray``, products, slicing, ``sum``, and
``partial_fit`` unless the arrays are mapped read-only), and finally frees the result. The
inputs of those calls sit between two inaccessible pages, in the dtype each estimator reads
without copying, so compiled code that reads past an input (a tree splitting on a column the
input lacks) faults instead of silently reading the heap.

What counts as a failure, and why:

- the child dies from a signal (SIGSEGV, SIGBUS, SIGABRT, SIGFPE...), exits without reporting,
  or does not finish within the timeout: memory corruption, an abort or a hang is exactly what
  a file must never cause;
- ``load`` raises anything that is not an ``amberfile.AmberError``: a bad state must be
  refused by the package's validation with its typed error (issue 11, item 3), not by
  whatever a library happens to raise (including plain ``ValueError`` and ``MemoryError``);
- after a successful load, what a call may raise depends on why the policy trusts the
  subject's type (``amberfile._trust.validated_type``):

  - a validated type (trees, forests, boosting, neighbors, SVMs, k-means, sparse formats,
    losses, distance metrics): anything but a ``ValueError`` (which covers scikit-learn's own
    input and shape checks, ``NotFittedError``, numpy's ``LinAlgError``) fails. ``IndexError``,
    ``TypeError``, ``AttributeError``, ``KeyError``... mean the loaded object holds a state
    its own code cannot handle, which validation should have caught;
  - a numpy-only type (linear models, SGD, pipelines...): its state reaches only bounds-checked
    Python and numpy code, so any ordinary ``Exception`` is the documented outcome of a bad
    state (counted as ``python-error``), but ``MemoryError``, ``SystemError`` and
    ``RecursionError`` still fail.

  The rule follows the outermost subject type, the one whose methods the user calls: a
  numpy-only wrapper such as a pipeline may fail in its own Python code before or around a
  validated member, while a member's compiled code is still guarded by the signal rule.
  Conversely, a validated type may hold a numpy-only part (histogram boosting's categorical
  preprocessor, a ColumnTransformer): an ordinary exception raised in a method of such a part
  (the innermost scikit-learn or scipy object on the traceback) is that part's documented
  outcome, not a gap in the outer type's validation.
  The one exception to both: numpy refusing an array allocation (its ``_ArrayMemoryError``,
  "Unable to allocate ...") during a call is accepted and counted as ``alloc-refused``, since a
  valid file may describe, say, a huge sparse matrix whose ``toarray`` cannot fit, and numpy
  refusing cleanly is the right outcome;
- an unmutated subject (the baseline case) must load and give the same results as the
  original (or be refused with ``UntrustedTypeError`` if the type is no longer trusted by
  default, in which case the type is not fuzzed): a validator that refuses valid models, or a
  harness that does not write what it means to, fails too.

A mutation that cannot be written (amberfile refuses to dump the value, or an earlier edit
of the same case removed what it edits) is counted as ``unwritable`` and is not a failure.

Each failure is reported with the subject, the case id, the seed, the mutations, the load
mode, the phase (``load``, ``call predict``, ``free``...) and the outcome, and can be replayed
in-process (traceback shown, ``--save`` keeps the file)::

    python python/tests/state_fuzz.py --seconds 600 --seed 7            # long run
    python python/tests/state_fuzz.py --types BallTree --seconds 60     # some types only
    python python/tests/state_fuzz.py --replay --types 'BallTree[mahalanobis]' --case fuzz:17 --seed 7
    python python/tests/state_fuzz.py --list                            # subject names

``python/tests/test_state_fuzz.py`` runs it in the test command, bounded by
``AMBER_STATE_FUZZ_SECONDS`` (default 120).
"""

from __future__ import annotations

import os

# One thread per library, set before numpy and scikit-learn load their thread pools: forked
# children must not inherit an OpenMP or OpenBLAS pool whose threads do not exist in them.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import copy
import copyreg
import ctypes
import faulthandler
import gc
import json
import mmap
import random
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import amberfile

CASE_TIMEOUT_SECONDS = 10
ADDRESS_SPACE_CAP = 2 << 30
ADDRESS_SPACE_HEADROOM = 512 << 20
DEFAULT_SECONDS = 120

# ---------------------------------------------------------------------------------------------
# The editable object graph


class Reduced:
    """An object as its reduce value, editable, and dumped as that value under its real class."""

    __slots__ = ("cls", "args", "state", "list_items", "dict_items")

    def __init__(self, cls: type, args: Any, state: Any, list_items: Any, dict_items: Any) -> None:
        self.cls, self.args, self.state = cls, args, state
        self.list_items, self.dict_items = list_items, dict_items

    def __reduce_ex__(self, protocol: int) -> tuple:
        head = (copyreg.__newobj__, (self.cls,)) if self.args is None else (self.cls, self.args)
        dict_items = None if self.dict_items is None else list(self.dict_items.items())
        return (*head, self.state, self.list_items, dict_items)

    def __repr__(self) -> str:
        return f"Reduced({self.cls.__qualname__})"


_LEAVES = (type(None), bool, int, float, complex, str, bytes, np.generic, np.dtype, type,
           types.FunctionType, types.BuiltinFunctionType, np.ufunc, set, frozenset, range, slice)


def explode(obj: Any, memo: dict[int, tuple[Any, Any]] | None = None) -> Any:
    """``obj`` with every object replaced by a ``Reduced`` shim; shared parts stay shared.

    ``memo`` maps ``id(original)`` to ``(original, result)``: holding the original keeps its id
    from being reused by the next temporary (each ``__reduce_ex__`` makes a fresh state)."""
    memo = {} if memo is None else memo
    if isinstance(obj, _LEAVES) or (type(obj) is np.ndarray and obj.dtype != object):
        return obj
    if id(obj) in memo:
        return memo[id(obj)][1]
    out: Any
    if type(obj) is list:
        out = []
        memo[id(obj)] = (obj, out)
        out.extend(explode(item, memo) for item in obj)
    elif type(obj) is dict:
        out = {}
        memo[id(obj)] = (obj, out)
        for key, value in obj.items():
            out[key] = explode(value, memo)
    elif type(obj) is tuple:
        out = tuple(explode(item, memo) for item in obj)
    elif type(obj) is np.ndarray:
        out = np.empty(obj.shape, dtype=object)
        memo[id(obj)] = (obj, out)
        for index, item in enumerate(obj.reshape(-1)):
            out.reshape(-1)[index] = explode(item, memo)
    else:
        out = _explode_object(obj, memo)
    memo[id(obj)] = (obj, out)
    return out


def _explode_object(obj: Any, memo: dict[int, tuple[Any, Any]]) -> Any:
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception:
        return obj
    if isinstance(reduced, str):
        return obj
    callable_, args, state, list_items, dict_items = (*reduced, None, None, None)[:5]
    if callable_ is copyreg.__newobj__:
        cls, ctor_args = args[0], (args[1:] or None)
    elif isinstance(callable_, type):
        cls, ctor_args = callable_, args
    elif args and args[0] is type(obj):
        cls, ctor_args = type(obj), None  # a factory making a blank instance (Cython pickling)
    else:
        return obj  # a factory with arguments of its own (numpy's random generators): kept whole
    shim = Reduced(cls, None, None, None, None)
    memo[id(obj)] = (obj, shim)
    memo[id(reduced)] = (reduced, None)  # keeps the state's parts alive, and their ids unique
    shim.args = explode(ctor_args, memo)
    shim.state = explode(state, memo)
    shim.list_items = None if list_items is None else [explode(item, memo) for item in list_items]
    shim.dict_items = None if dict_items is None else {k: explode(v, memo) for k, v in dict_items}
    return shim


# A path is a tuple of steps: ("attr", "state" | "args") into a shim, ("key", k) into a dict,
# ("index", i) into a list, tuple or object array (flat, in storage order).
Step = tuple[str, Any]
Path = tuple[Step, ...]


def path_text(path: Path) -> str:
    """The path in the CLI's syntax: objects are transparent, ``@args`` marks constructor args."""
    segments = []
    for kind, where in path:
        if kind == "attr":
            if where == "args":
                segments.append("@args")
        else:
            segments.append(str(where).replace("~", "~0").replace("/", "~1"))
    if path and path[-1] == ("attr", "state"):
        segments.append("@state")
    return "/".join(segments)


# Names of the positions in Cython objects' tuple states, for readable failure reports.
_BINARY_TREE_STATE = ("data", "idx_array", "node_data", "node_bounds", "leaf_size", "n_levels", "n_nodes",
                      "n_trims", "n_leaves", "n_splits", "n_calls", "dist_metric", "sample_weight")
_TUPLE_STATE_NAMES = {"KDTree": _BINARY_TREE_STATE, "BallTree": _BINARY_TREE_STATE}
_METRIC_STATE = ("p", "vec", "mat")


def tuple_field_names(root: Any, path: Path) -> str:
    """The names of the tuple-state positions ``path`` goes through (``dist_metric/vec``)."""
    names, node, owner = [], root, None
    try:
        for step in path:
            if step[0] == "index" and isinstance(node, tuple) and isinstance(owner, Reduced):
                known = _TUPLE_STATE_NAMES.get(owner.cls.__name__)
                known = _METRIC_STATE if owner.cls.__name__.endswith(("Distance64", "Distance32")) else known
                if known and step[1] < len(known):
                    names.append(known[step[1]])
            owner = node
            node = value_at(node, (step,))
    except Exception:  # an earlier mutation changed the structure: no names
        pass
    return "/".join(names)


DELETE = object()


def replace_at(node: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """``node`` with the value at ``path`` replaced by ``change(value)`` (``DELETE`` removes it).

    Dicts, lists, object arrays and shims change in place; tuples are rebuilt."""
    if not path:
        return change(node)
    (kind, where), rest = path[0], path[1:]
    if kind == "attr":
        child = replace_at(getattr(node, where), rest, change)
        setattr(node, where, None if child is DELETE else child)
        return node
    if isinstance(node, tuple):
        items = list(node)
        child = replace_at(items[where], rest, change)
        if child is DELETE:
            del items[where]
        else:
            items[where] = child
        return tuple(items)
    if isinstance(node, np.ndarray):
        flat = node.reshape(-1)
        child = replace_at(flat[where], rest, change)
        if child is DELETE:
            return np.delete(flat, where)
        flat[where] = child
        return node
    child = replace_at(node[where], rest, change)
    if child is DELETE:
        del node[where]
    else:
        node[where] = child
    return node


def value_at(node: Any, path: Path) -> Any:
    for kind, where in path:
        node = getattr(node, where) if kind == "attr" else (
            node.reshape(-1)[where] if isinstance(node, np.ndarray) else node[where]
        )
    return node


@dataclass
class Site:
    """A place in a graph a mutation can edit."""

    kind: str  # "array", "number", "attribute", "sequence", "object", "map"
    path: Path
    value: Any
    owner: str  # the class name of the nearest enclosing object
    fitted: bool  # fitted state rather than a constructor parameter: mutated more often

    @property
    def last_key(self) -> Any:
        return self.path[-1][1] if self.path else None


def _is_numeric_array(value: Any) -> bool:
    if type(value) is not np.ndarray:
        return False
    if value.dtype.names:
        return all(value.dtype[name].kind in "biuf" for name in value.dtype.names)
    return value.dtype.kind in "biuf"


def collect_sites(root: Any) -> list[Site]:
    """Every editable place under ``root``, each shared part once, in a deterministic order."""
    sites: list[Site] = []
    seen: set[int] = set()

    def walk(node: Any, path: Path, owner: str, fitted: bool, in_state: bool) -> None:
        if isinstance(node, (bool, int, float, np.number, np.bool_)):
            sites.append(Site("number", path, node, owner, fitted))
            return
        if _is_numeric_array(node):
            sites.append(Site("array", path, node, owner, fitted))
            return
        if isinstance(node, _LEAVES) or (type(node) is np.ndarray and node.dtype != object):
            return
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, Reduced):
            name = node.cls.__qualname__
            if path:
                sites.append(Site("object", path, node, owner, True))
            if node.args is not None:
                walk(node.args, path + (("attr", "args"),), name, True, False)
            if node.state is not None:
                walk(node.state, path + (("attr", "state"),), name, True, True)
        elif isinstance(node, dict):
            if any(isinstance(key, tuple) for key in node):
                sites.append(Site("map", path, node, owner, fitted))
            for key, value in node.items():
                # Fitted attributes end in "_" or start with one; the rest are parameters.
                is_fitted = not in_state or not isinstance(key, str) or key.endswith("_") or key.startswith("_")
                if in_state:
                    sites.append(Site("attribute", path + (("key", key),), value, owner, is_fitted))
                walk(value, path + (("key", key),), owner, is_fitted, False)
        elif isinstance(node, (list, tuple, np.ndarray)):
            items = node.reshape(-1) if isinstance(node, np.ndarray) else node
            if path:
                sites.append(Site("sequence", path, node, owner, fitted))
            for index, item in enumerate(items):
                walk(item, path + (("index", index),), owner, fitted, False)

    walk(root, (), type(root).__qualname__, True, False)
    return sites


# ---------------------------------------------------------------------------------------------
# Mutations

INT_EXTREMES = (-1, -2, 2**31 - 1, 2**31, -(2**31), 2**32, 2**40, 2**62, 2**63 - 1, -(2**63))
FLOAT_EXTREMES = (float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e308, -1e308, 5e-324, 1e15)
OTHER_DTYPES = ("<f4", "<f8", "<i1", "<i2", "<i4", "<i8", "<u1", "<u4", "<u8", "?", "<c16", "<U3", "O")


@dataclass
class Mutation:
    """One edit: ``op`` with ``args`` applied to the value at ``path``."""

    path: Path
    op: str
    args: tuple = ()

    def describe(self, root: Any) -> str:
        shown = ", ".join(_show(arg) for arg in self.args)
        names = tuple_field_names(root, self.path)
        return f"{path_text(self.path)}{f' ({names})' if names else ''}: {self.op}({shown})"

    def apply(self, root: Any, pool: Pool) -> Any:
        """``root`` with this edit made (changed in place where possible)."""
        if self.op == "swap":
            (other,) = self.args
            mine, theirs = value_at(root, self.path), value_at(root, other)
            root = replace_at(root, self.path, lambda _: theirs)
            return replace_at(root, other, lambda _: mine)
        return replace_at(root, self.path, lambda value: _OPS[self.op](value, pool, *self.args))


def _show(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return path_text(value)  # a path
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], tuple):
        return f"{value[0]}:{path_text(value[1])}"  # a graph and a path in it
    if isinstance(value, float) and value != value:
        return "nan"
    return repr(value)


def _wrapped(value: Any, dtype: np.dtype) -> Any:
    """``value`` as ``dtype``, wrapping integers that do not fit (as bytes in a file would)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(value).astype(dtype)


def _set(array: np.ndarray, pool: Pool, field: str | None, index: int, value: Any) -> np.ndarray:
    array = array.copy()
    target = array[field] if field else array.reshape(-1)
    target.reshape(-1)[index] = _wrapped(value, target.dtype)
    return array


def _fill(array: np.ndarray, pool: Pool, field: str | None, value: Any) -> np.ndarray:
    array = array.copy()
    target = array[field] if field else array
    target[...] = _wrapped(value, target.dtype)
    return array


def _astype(array: np.ndarray, pool: Pool, field: str | None, dtype: str) -> np.ndarray:
    if not field:
        return _wrapped(array, np.dtype(dtype))
    names = array.dtype.names
    new_dtype = [(name, dtype if name == field else array.dtype[name]) for name in names]
    out = np.zeros(array.shape, dtype=new_dtype)
    for name in names:
        out[name] = _wrapped(array[name], out.dtype[name])
    return out


def _drop_field(array: np.ndarray, pool: Pool, field: str) -> np.ndarray:
    kept = [name for name in array.dtype.names if name != field]
    out = np.zeros(array.shape, dtype=[(name, array.dtype[name]) for name in kept])
    for name in kept:
        out[name] = array[name]
    return out


def _truncate(value: Any, pool: Pool, length: int) -> Any:
    if isinstance(value, dict):
        return dict(list(value.items())[:length])
    return value[:length].copy() if isinstance(value, np.ndarray) else value[:length]


def _extend(value: Any, pool: Pool, extra: int) -> Any:
    if isinstance(value, np.ndarray):
        last = value[-1:] if len(value) else np.zeros((1, *value.shape[1:]), value.dtype)
        return np.concatenate([value, np.repeat(last, extra, axis=0)])
    last = value[-1] if len(value) else 0
    return type(value)([*value, *([last] * extra)])


def _reshape(array: np.ndarray, pool: Pool, how: str) -> np.ndarray:
    if how == "ravel":
        return array.reshape(-1).copy()
    if how == "add_axis":
        return array[np.newaxis].copy()
    if how == "zero_d":
        return array.reshape(-1)[:1].reshape(()).copy()
    if how == "transpose":
        return array.T.copy() if array.ndim >= 2 else array.reshape(-1, 1).copy()
    if how == "fortran":
        return np.asfortranarray(array)
    raise ValueError(how)


def _reverse(value: Any, pool: Pool) -> Any:
    return value[::-1].copy() if isinstance(value, np.ndarray) else type(value)(reversed(value))


def _add_entry(mapping: dict, pool: Pool, key: Any, value: Any) -> dict:
    return {**mapping, key: value}


def _transplant(value: Any, pool: Pool, donor: tuple[str, Path]) -> Any:
    return pool.value(*donor)


_OPS: dict[str, Callable[..., Any]] = {
    "set": _set,
    "fill": _fill,
    "astype": _astype,
    "drop_field": _drop_field,
    "truncate": _truncate,
    "extend": _extend,
    "reshape": _reshape,
    "reverse": _reverse,
    "add_entry": _add_entry,
    "replace": lambda value, pool, new: new,
    "delete": lambda value, pool: DELETE,
    "transplant": _transplant,
}


class Pool:
    """Every subject's and donor's graph, to draw transplants from (a wider tree, another
    model's node array)."""

    def __init__(self) -> None:
        self.graphs: dict[str, Any] = {}
        self.sites: dict[str, list[Site]] = {}

    def add(self, name: str, graph: Any) -> None:
        self.graphs[name] = graph
        self.sites[name] = collect_sites(graph)

    def value(self, name: str, path: Path) -> Any:
        return value_at(self.graphs[name], path)

    def donors(self, accept: Callable[[Site], bool], exclude: Any) -> list[tuple[str, Site]]:
        return [(name, site) for name, sites in self.sites.items() for site in sites
                if accept(site) and site.value is not exclude]


def _number_replacements(value: Any) -> list[Any]:
    as_int = int(value) if not (isinstance(value, float) and not np.isfinite(value)) else 0
    numpy_forms = [np.int64(as_int), np.int32(as_int % 2**31), np.uint64(abs(as_int) % 2**63),
                   np.float64(as_int), np.bool_(bool(as_int))]
    if isinstance(value, (float, np.floating)):
        return [*FLOAT_EXTREMES, np.float32(value), as_int, None, "1"]
    return [*INT_EXTREMES, 0, as_int + 1, 2**64, *numpy_forms, float(as_int), None, "1", [as_int]]


def _array_mutation(rng: random.Random, site: Site) -> Mutation:
    array: np.ndarray = site.value
    field = rng.choice(array.dtype.names) if array.dtype.names else None
    kind = (array.dtype[field] if field else array.dtype).kind
    size = array.shape[0] if array.ndim and field else array.size
    extremes = FLOAT_EXTREMES if kind == "f" else INT_EXTREMES + (size, size + 1, 2, 255)
    op = rng.choices(
        ["set", "fill", "truncate", "extend", "astype", "reshape", "replace", "reverse", "drop_field"],
        weights=[40, 6, 12, 8, 10, 8, 4, 4, 4 if field else 0],
    )[0]
    path = site.path
    if op == "set" and size:
        return Mutation(path, "set", (field, rng.randrange(size), rng.choice(extremes)))
    if op in ("set", "fill"):
        return Mutation(path, "fill", (field, rng.choice(extremes)))
    if op == "truncate" and array.ndim:
        length = len(array)
        return Mutation(path, "truncate", (rng.choice([0, 1, max(length - 1, 0), length // 2]),))
    if op in ("truncate", "extend") and array.ndim:
        return Mutation(path, "extend", (rng.choice([1, 2, max(len(array), 1), 1000]),))
    if op == "astype":
        return Mutation(path, "astype", (field, rng.choice(OTHER_DTYPES)))
    if op == "replace":
        return Mutation(path, "replace", (rng.choice([None, 0, -1, 2**40, 1.5, [], "x"]),))
    if op == "reverse" and array.ndim:
        return Mutation(path, "reverse")
    if op == "drop_field":
        return Mutation(path, "drop_field", (field,))
    return Mutation(path, "reshape", (rng.choice(["ravel", "add_axis", "zero_d", "transpose", "fortran"]),))


def random_mutation(rng: random.Random, sites: list[Site], pool: Pool) -> Mutation:
    """One mutation of a site chosen at random, fitted state weighted over parameters."""
    weights = {"array": 8, "number": 3, "attribute": 2, "sequence": 2, "object": 1, "map": 1}
    chosen = rng.choices(sites, weights=[weights[s.kind] * (4 if s.fitted else 1) for s in sites])[0]
    path = chosen.path
    if chosen.kind == "array":
        if rng.random() < 0.12:
            return _swap_or_transplant(rng, chosen, sites, pool)
        return _array_mutation(rng, chosen)
    if chosen.kind == "number":
        return Mutation(path, "replace", (rng.choice(_number_replacements(chosen.value)),))
    if chosen.kind == "attribute":
        return Mutation(path, "delete")
    if chosen.kind == "sequence":
        op = rng.choice(["truncate", "extend", "reverse", "truncate0"])
        length = len(chosen.value)
        if op == "truncate":
            return Mutation(path, "truncate", (rng.randrange(length) if length else 0,))
        if op == "extend":
            return Mutation(path, "extend", (rng.choice([1, 3]),))
        return Mutation(path, "reverse") if op == "reverse" else Mutation(path, "truncate", (0,))
    if chosen.kind == "map":
        key = tuple(rng.choice([-1, 10**6, 2**31, 2**40]) for _ in range(2))
        return Mutation(path, "add_entry", (key, 1.0))
    return _swap_or_transplant(rng, chosen, sites, pool)


def _swap_or_transplant(rng: random.Random, chosen: Site, sites: list[Site], pool: Pool) -> Mutation:
    """Swaps with a same-named site of this graph (two trees' arrays), or takes the value of a
    same-class object or same-named array from another graph (a wider tree, another model)."""
    if chosen.kind == "array":
        def same_role(site: Site) -> bool:
            return site.kind == "array" and site.last_key == chosen.last_key
    else:
        def same_role(site: Site) -> bool:
            return site.kind == "object" and site.value.cls is chosen.value.cls

    local = [site for site in sites if same_role(site) and site.value is not chosen.value]
    if local and rng.random() < 0.5:
        return Mutation(chosen.path, "swap", (rng.choice(local).path,))
    donors = pool.donors(same_role, chosen.value)
    if not donors:
        return Mutation(chosen.path, "delete")
    name, donor = rng.choice(donors)
    return Mutation(chosen.path, "transplant", ((name, donor.path),))


# ---------------------------------------------------------------------------------------------
# The smoke set: known-bad mutations, each applied where it matches (at its first site)


def _first(sites: list[Site], accept: Callable[[Site], bool]) -> Site | None:
    return next((site for site in sites if accept(site)), None)


def _record_with(*fields: str) -> Callable[[Site], str | None]:
    def field_of(site: Site) -> str | None:
        names = site.value.dtype.names or () if site.kind == "array" else ()
        return next((name for name in fields if name in names), None)
    return field_of


def _int_arrays(sites: list[Site]) -> list[Site]:
    return [s for s in sites if s.kind == "array" and not s.value.dtype.names and s.value.dtype.kind in "iu"
            and s.value.size]


def _smoke_field_set(fields: tuple[str, ...], value: int) -> Callable[[list[Site], Pool], list[Mutation]]:
    field_of = _record_with(*fields)

    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        site = _first(sites, lambda s: field_of(s) is not None and s.value.size > 0)
        return [Mutation(site.path, "set", (field_of(site), 0, value))] if site else []
    return build


def _smoke_int_array(position: int, value: int) -> Callable[[list[Site], Pool], list[Mutation]]:
    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        return [Mutation(s.path, "set", (None, position % s.value.size, value)) for s in _int_arrays(sites)[:1]]
    return build


def _smoke_second_int_array(sites: list[Site], pool: Pool) -> list[Mutation]:
    arrays = _int_arrays(sites)[1:2]
    return [Mutation(s.path, "set", (None, 0, 10**6)) for s in arrays]


def _smoke_node_count_zero(sites: list[Site], pool: Pool) -> list[Mutation]:
    count = _first(sites, lambda s: s.kind == "number" and s.last_key == "node_count")
    if count is None:
        return []
    parent = count.path[:-1]
    return [Mutation(count.path, "replace", (0,)), Mutation(parent + (("key", "nodes"),), "truncate", (0,)),
            Mutation(parent + (("key", "values"),), "truncate", (0,))]


def _smoke_wide(class_name: str, width_edit: Callable[[Site], list[Mutation]] | None = None
                ) -> Callable[[list[Site], Pool], list[Mutation]]:
    """The first ``class_name`` object (a tree, a histogram predictor, a neighbors tree)
    replaced by one fitted on more features than the estimator claims, with
    ``n_features_in_`` edited as the attack needs it (missing, or a numpy integer)."""
    def of_class(site: Site) -> bool:
        return site.kind == "object" and site.value.cls.__name__ == class_name

    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        target = _first(sites, of_class)
        donor = next(((name, site.path) for name, site in pool.donors(of_class, None)
                      if name.startswith("donor:")), None)
        if target is None or donor is None:
            return []
        mutations = [Mutation(target.path, "transplant", (donor,))]
        if width_edit is not None:
            # Every estimator enclosing the target (a forest and its tree's estimator).
            widths = [s for s in sites if s.kind == "attribute" and s.last_key == "n_features_in_"
                      and target.path[: len(s.path) - 1] == s.path[:-1]]
            if not widths:
                return []
            for width in widths:
                mutations += width_edit(width)
        return mutations
    return build


def _smoke_tree_outputs(sites: list[Site], pool: Pool) -> list[Mutation]:
    tree = _first(sites, lambda s: s.kind == "object" and s.value.cls.__name__ == "Tree")
    return [Mutation(tree.path + (("attr", "args"), ("index", 2)), "replace", (2**40,))] if tree else []


def _smoke_metric_vectors(sites: list[Site], pool: Pool) -> list[Mutation]:
    """A distance metric's work vector (and matrix) shorter than the data's dimension."""
    inside = [s for s in sites if s.kind == "array" and s.owner.endswith("Distance64") and s.value.size > 1]
    return [Mutation(s.path, "truncate", (1,)) for s in inside]


def _smoke_reverse_key(key: str) -> Callable[[list[Site], Pool], list[Mutation]]:
    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        site = _first(sites, lambda s: s.kind == "array" and s.last_key == key)
        return [Mutation(site.path, "reverse")] if site else []
    return build


def _smoke_first_float(op: str, *args: Any) -> Callable[[list[Site], Pool], list[Mutation]]:
    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        site = _first(sites, lambda s: s.kind == "array" and s.fitted and s.value.dtype.kind == "f"
                      and s.value.ndim == (2 if op == "reshape" else 1) and s.value.size > 1)
        return [Mutation(site.path, op, args)] if site else []
    return build


def _smoke_class_count(sites: list[Site], pool: Pool) -> list[Mutation]:
    site = _first(sites, lambda s: s.kind == "number" and s.last_key in ("n_classes", "n_classes_"))
    return [Mutation(site.path, "replace", (2**31,))] if site else []


def _smoke_shape(sites: list[Site], pool: Pool) -> list[Mutation]:
    site = _first(sites, lambda s: s.kind == "attribute" and s.last_key == "_shape")
    return [Mutation(site.path, "replace", ((2, 2),))] if site else []


def _smoke_map_entry(sites: list[Site], pool: Pool) -> list[Mutation]:
    site = _first(sites, lambda s: s.kind == "map")
    return [Mutation(site.path, "add_entry", ((10**6, 10**6), 1.0))] if site else []


def _smoke_python_int_in_lists(sites: list[Site], pool: Pool) -> list[Mutation]:
    site = _first(sites, lambda s: s.kind == "number" and any(key == "rows" for _, key in s.path))
    return [Mutation(site.path, "replace", (10**6,))] if site else []


def _smoke_hyperparameter_none(name: str) -> Callable[[list[Site], Pool], list[Mutation]]:
    def build(sites: list[Site], pool: Pool) -> list[Mutation]:
        site = _first(sites, lambda s: s.kind == "number" and s.last_key == name)
        return [Mutation(site.path, "replace", (None,))] if site else []
    return build


def _as_numpy_int(site: Site) -> list[Mutation]:
    return [Mutation(site.path, "replace", (np.int64(site.value),))]


SMOKE: list[tuple[str, Callable[[list[Site], Pool], list[Mutation]]]] = [
    ("split feature 2**40", _smoke_field_set(("feature", "feature_idx"), 2**40)),
    ("child index 2**31-1", _smoke_field_set(("left_child", "left"), 2**31 - 1)),
    ("category bitset index huge", _smoke_field_set(("bitset_idx",), 2**31 - 1)),
    ("neighbors node index range", _smoke_field_set(("idx_end",), 10**6)),
    ("node_count 0", _smoke_node_count_zero),
    ("wide tree, n_features_in_ missing", _smoke_wide("Tree", lambda w: [Mutation(w.path, "delete")])),
    ("wide tree, n_features_in_ a numpy int", _smoke_wide("Tree", _as_numpy_int)),
    ("wide histogram predictor, n_features_in_ a numpy int", _smoke_wide("TreePredictor", _as_numpy_int)),
    ("wide neighbors tree", _smoke_wide("BallTree")),
    ("tree with 2**40 outputs", _smoke_tree_outputs),
    ("first index array [0] = 10**6", _smoke_int_array(0, 10**6)),
    ("first index array [-1] = -1", _smoke_int_array(-1, -1)),
    ("second index array [0] = 10**6", _smoke_second_int_array),
    ("metric work vector shorter", _smoke_metric_vectors),
    ("indptr reversed", _smoke_reverse_key("indptr")),
    ("class count 2**31", _smoke_class_count),
    ("sparse shape smaller than indices", _smoke_shape),
    ("dok entry outside the shape", _smoke_map_entry),
    ("lil column index 10**6", _smoke_python_int_in_lists),
    ("first 2-d float array transposed", _smoke_first_float("reshape", "transpose")),
    ("first 1-d float array shorter", _smoke_first_float("truncate", 1)),
    # scikit-learn's constraint allows None (radius searches); a k-search compares it.
    ("n_neighbors None", _smoke_hyperparameter_none("n_neighbors")),
]


# ---------------------------------------------------------------------------------------------
# Subjects: fitted instances and the calls users make on them

Call = tuple[str, Callable[[Any], Any]]


@dataclass
class Subject:
    name: str
    obj: Any
    calls: list[Call]
    trusted: tuple[str, ...] = ()  # names the user must trust to load it at all
    graph: Any = None
    sites: list[Site] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)


ESTIMATOR_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
                     "score_samples", "apply", "decision_path", "kneighbors", "radius_neighbors")


# Calls that write into the model's arrays: not made on read-only mapped loads, where even a
# valid model segfaults (SGD's partial_fit writes coef_ through a raw pointer).
TRAINING_CALLS = ("partial_fit",)


def estimator_calls(X: np.ndarray, y: np.ndarray, online: bool = False) -> list[Call]:
    def method(name: str) -> Call:
        return name, lambda model: getattr(model, name)(X)

    calls = [method(name) for name in ESTIMATOR_METHODS]
    calls.append(("kneighbors_graph", lambda model: model.kneighbors_graph(X)))
    calls.append(("staged_predict", lambda model: list(model.staged_predict(X))))
    calls.append(("score", lambda model: model.score(X, y)))
    if online:  # changes the model: last
        calls.append(("partial_fit", lambda model: model.partial_fit(X, y).coef_))
    return calls


def tree_calls(X: np.ndarray) -> list[Call]:
    radii = np.array([0.1, 0.3, 0.8])
    return [
        ("query", lambda t: t.query(X, k=3)),
        ("query dualtree", lambda t: t.query(X, k=2, dualtree=True)),
        ("query breadth_first", lambda t: t.query(X, k=2, breadth_first=True)),
        ("query_radius", lambda t: t.query_radius(X, r=0.4)),
        ("query_radius count_only", lambda t: t.query_radius(X, r=0.4, count_only=True)),
        ("kernel_density", lambda t: t.kernel_density(X, h=0.3)),
        ("two_point_correlation", lambda t: t.two_point_correlation(X, radii)),
        ("get_arrays", lambda t: t.get_arrays()),
    ]


def metric_calls(X: np.ndarray) -> list[Call]:
    return [("pairwise", lambda m: m.pairwise(X)), ("pairwise two", lambda m: m.pairwise(X, X[:3]))]


def loss_calls(y: np.ndarray, raw: np.ndarray) -> list[Call]:
    return [
        ("loss", lambda loss: loss.loss(y, raw)),
        ("gradient", lambda loss: loss.gradient(y, raw)),
        ("gradient_hessian", lambda loss: loss.gradient_hessian(y, raw)),
        ("predict_proba", lambda loss: loss.predict_proba(raw)),
        ("call", lambda loss: loss(y, raw)),
    ]


def sparse_calls(n_rows: int, n_columns: int) -> list[Call]:
    right, left = guarded(np.arange(1.0, n_columns + 1)), guarded(np.arange(1.0, n_rows + 1))
    return [
        ("toarray", lambda m: m.toarray()),
        ("tocsr", lambda m: m.tocsr().toarray()),
        ("tocsc", lambda m: m.tocsc().toarray()),
        ("tocoo", lambda m: m.tocoo().toarray()),
        ("matrix @ vector", lambda m: m @ right),
        ("matrix.T @ vector", lambda m: m.T @ left),
        ("matrix @ matrix.T", lambda m: (m @ m.T).toarray()),
        ("sum", lambda m: m.sum()),
        ("sum axis 0", lambda m: m.sum(axis=0)),
        ("sum axis 1", lambda m: m.sum(axis=1)),
        ("row slice", lambda m: m[1:3].toarray()),
        ("column slice", lambda m: m[:, 1:3].toarray()),
        ("element", lambda m: m[1, 2]),
        ("diagonal", lambda m: m.diagonal()),
        ("add", lambda m: (m + m).toarray()),
        ("scale", lambda m: (m * 2.0).toarray()),
        ("max", lambda m: m.max()),
        ("nonzero", lambda m: m.nonzero()),
        ("count_nonzero", lambda m: m.count_nonzero()),
    ]


_GUARDS: list[mmap.mmap] = []  # the mappings behind guarded arrays, kept for the process


def guarded(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``array`` between two inaccessible pages, ending exactly at the
    second: compiled code reading past either end of an input (a tree splitting on a column
    the input does not have) faults at once instead of reading the heap silently."""
    page = mmap.PAGESIZE
    data_pages = -(-array.nbytes // page) or 1
    mapping = mmap.mmap(-1, (data_pages + 2) * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    for guard in (base, base + (data_pages + 1) * page):
        if libc.mprotect(guard, page, 0) != 0:  # PROT_NONE
            raise OSError(ctypes.get_errno(), "mprotect failed")
    _GUARDS.append(mapping)
    start = (data_pages + 1) * page - array.nbytes
    out = np.frombuffer(mapping, dtype=array.dtype, count=array.size, offset=start).reshape(array.shape)
    out[...] = array
    return out


def build_subjects() -> tuple[list[Subject], dict[str, Any]]:
    """Every subject, fitted on small data (deterministic), and the donors of transplants."""
    from scipy import sparse
    from sklearn import cluster, ensemble, linear_model, neighbors, pipeline, preprocessing, svm, tree
    from sklearn._loss import loss
    from sklearn.metrics import DistanceMetric

    rng = np.random.RandomState(0)
    X = rng.rand(60, 4)
    y2 = (X[:, 0] + X[:, 1] > 1).astype(np.int64)
    y3 = np.digitize(X[:, 0], [0.33, 0.66]).astype(np.int64)
    yr = X @ np.array([1.0, -2.0, 0.5, 3.0])
    y_multi = np.column_stack([y2, y3])
    X_cat = X.copy()
    X_cat[:, 3] = rng.randint(0, 4, 60)
    X_wide = rng.rand(60, 9)
    # Trees read float32 inputs, other estimators float64: given those, none copies them, so
    # reads out of bounds hit the guard pages.
    X_test, X_test32, X_cat_test = guarded(X[:12]), guarded(X[:12].astype(np.float32)), guarded(X_cat[:12])
    y3_test, yr_test = y3[:12], yr[:12]
    X_geo = np.column_stack([rng.uniform(-1.5, 1.5, 40), rng.uniform(-3, 3, 40)])
    covariance_inverse = np.linalg.inv(np.cov(X.T))
    variances = X.var(axis=0)
    weights = np.array([1.0, 2.0, 0.5, 1.5])

    classify = estimator_calls(X_test, y3_test)
    regress = estimator_calls(X_test, yr_test)
    classify32, regress32 = estimator_calls(X_test32, y3_test), estimator_calls(X_test32, yr_test)
    estimators: list[tuple[str, Any, Any, Any, list[Call]]] = [
        ("DecisionTreeClassifier", tree.DecisionTreeClassifier(random_state=0), X, y3, classify32),
        ("DecisionTreeClassifier[multi-output]", tree.DecisionTreeClassifier(random_state=0), X, y_multi,
         estimator_calls(X_test32, y_multi[:12])),
        ("DecisionTreeRegressor", tree.DecisionTreeRegressor(random_state=0), X, yr, regress32),
        ("ExtraTreeClassifier", tree.ExtraTreeClassifier(random_state=0), X, y3, classify32),
        ("ExtraTreeRegressor", tree.ExtraTreeRegressor(random_state=0), X, yr, regress32),
        ("RandomForestClassifier", ensemble.RandomForestClassifier(3, random_state=0), X, y3, classify32),
        ("RandomForestRegressor", ensemble.RandomForestRegressor(3, random_state=0), X, yr, regress32),
        ("ExtraTreesClassifier", ensemble.ExtraTreesClassifier(3, random_state=0), X, y3, classify32),
        ("ExtraTreesRegressor", ensemble.ExtraTreesRegressor(3, random_state=0), X, yr, regress32),
        ("GradientBoostingClassifier", ensemble.GradientBoostingClassifier(n_estimators=3, random_state=0),
         X, y3, classify32),
        ("GradientBoostingRegressor", ensemble.GradientBoostingRegressor(n_estimators=3, random_state=0),
         X, yr, regress32),
        ("HistGradientBoostingClassifier", ensemble.HistGradientBoostingClassifier(max_iter=3, random_state=0),
         X, y3, classify),
        ("HistGradientBoostingRegressor", ensemble.HistGradientBoostingRegressor(max_iter=3, random_state=0),
         X, yr, regress),
        ("IsolationForest", ensemble.IsolationForest(n_estimators=3, random_state=0), X, None, classify32),
        ("KNeighborsClassifier[kd_tree]", neighbors.KNeighborsClassifier(3, algorithm="kd_tree"), X, y3, classify),
        ("KNeighborsRegressor[ball_tree minkowski p=3]", neighbors.KNeighborsRegressor(
            3, algorithm="ball_tree", p=3), X, yr, regress),
        ("KNeighborsClassifier[brute]", neighbors.KNeighborsClassifier(3, algorithm="brute"), X, y3, classify),
        ("NearestNeighbors[ball_tree mahalanobis]", neighbors.NearestNeighbors(
            n_neighbors=3, algorithm="ball_tree", metric="mahalanobis", metric_params={"VI": covariance_inverse}),
         X, None, classify),
        ("RadiusNeighborsClassifier[ball_tree seuclidean]", neighbors.RadiusNeighborsClassifier(
            radius=2.0, algorithm="ball_tree", metric="seuclidean", metric_params={"V": variances},
            outlier_label="most_frequent"), X, y3, classify),
        ("RadiusNeighborsRegressor[kd_tree]", neighbors.RadiusNeighborsRegressor(radius=0.5, algorithm="kd_tree"),
         X, yr, regress),
        ("LogisticRegression", linear_model.LogisticRegression(max_iter=200), X, y3, classify),
        ("SGDClassifier", linear_model.SGDClassifier(random_state=0), X, y3,
         estimator_calls(X_test, y3_test, online=True)),
        ("SGDRegressor", linear_model.SGDRegressor(random_state=0), X, yr,
         estimator_calls(X_test, yr_test, online=True)),
        ("LinearSVC", svm.LinearSVC(random_state=0), X, y3, classify),
        ("SVC", svm.SVC(probability=True, random_state=0), X, y3, classify),
        ("SVC[sparse input]", svm.SVC(), sparse.csr_matrix(X), y3,
         estimator_calls(sparse.csr_matrix(X_test), y3_test)),
        ("SVR", svm.SVR(), X, yr, regress),
        ("OneClassSVM", svm.OneClassSVM(), X, None, classify),
        ("KMeans", cluster.KMeans(3, n_init=1, random_state=0), X, None, classify),
        ("Pipeline[StandardScaler, LogisticRegression]", pipeline.make_pipeline(
            preprocessing.StandardScaler(), linear_model.LogisticRegression()), X, y3, classify),
    ]
    subjects = [Subject(name, model.fit(data, target), calls) for name, model, data, target, calls in estimators]
    # Categorical splits (bitsets) need a preprocessor holding functions the user must trust.
    categorical = ensemble.HistGradientBoostingClassifier(max_iter=3, categorical_features=[3], random_state=0)
    subjects.append(Subject("HistGradientBoostingClassifier[categorical]", categorical.fit(X_cat, y3),
                            estimator_calls(X_cat_test, y3_test),
                            trusted=("functools.partial", "sklearn.utils.validation.check_array")))

    for metric, params in [("euclidean", {}), ("minkowski p=3", {"metric": "minkowski", "p": 3}),
                           ("chebyshev", {"metric": "chebyshev"})]:
        subjects.append(Subject(f"KDTree[{metric}]", neighbors.KDTree(X, leaf_size=5, **params), tree_calls(X_test)))
    for metric, params in [("mahalanobis", {"metric": "mahalanobis", "VI": covariance_inverse}),
                           ("seuclidean", {"metric": "seuclidean", "V": variances}),
                           ("minkowski p=1.5 w", {"metric": "minkowski", "p": 1.5, "w": weights}),
                           ("euclidean", {})]:
        subjects.append(Subject(f"BallTree[{metric}]", neighbors.BallTree(X, leaf_size=5, **params),
                                tree_calls(X_test)))
    subjects.append(Subject("BallTree[haversine]", neighbors.BallTree(X_geo, leaf_size=5, metric="haversine"),
                            tree_calls(guarded(X_geo[:8]))))
    for metric, params in [("mahalanobis", {"VI": covariance_inverse}), ("seuclidean", {"V": variances}),
                           ("minkowski", {"p": 3, "w": weights})]:
        subjects.append(Subject(f"DistanceMetric[{metric}]", DistanceMetric.get_metric(metric, **params),
                                metric_calls(X_test)))
    raw3 = np.linspace(-1, 1, 36).reshape(12, 3)
    subjects.append(Subject("HalfBinomialLoss", loss.HalfBinomialLoss(),
                            loss_calls(guarded(y2[:12] * 1.0), guarded(raw3[:, 0]))))
    subjects.append(Subject("HalfMultinomialLoss", loss.HalfMultinomialLoss(n_classes=3),
                            loss_calls(guarded(y3_test * 1.0), guarded(raw3))))

    dense = sparse.random(6, 4, density=0.5, random_state=0, format="csr").toarray()
    for kind, make in [("matrix", sparse.csr_matrix), ("array", sparse.csr_array)]:
        for layout in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
            base = make(dense)
            value = base.tobsr(blocksize=(2, 2)) if layout == "bsr" else base.asformat(layout)
            subjects.append(Subject(f"{layout}_{kind}", value, sparse_calls(*dense.shape)))

    donors = {
        "donor:DecisionTreeClassifier[9 features]": tree.DecisionTreeClassifier(random_state=0).fit(
            X_wide, (X_wide[:, 8] > 0.5).astype(np.int64)),
        "donor:HistGradientBoostingRegressor[9 features]": ensemble.HistGradientBoostingRegressor(
            max_iter=2, random_state=0).fit(X_wide, X_wide[:, 8]),
        "donor:BallTree[9 features]": neighbors.BallTree(X_wide, leaf_size=5),
    }
    return subjects, donors


def _comparable(value: Any) -> Any:
    """A call's result in a form two runs can be compared by (sparse to dense, generators...)."""
    if hasattr(value, "toarray"):
        return value.toarray()
    if isinstance(value, (list, tuple)):
        return [_comparable(item) for item in value]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_comparable(item) for item in value.reshape(-1)]
    return np.asarray(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a.shape == b.shape and (np.array_equal(a, b, equal_nan=a.dtype.kind in "fc") if a.size else True)


def prepare(subjects: list[Subject], donors: dict[str, Any]) -> Pool:
    """Keeps the calls each subject supports (those its original answers), records their
    results, and explodes every graph into the pool."""
    pool = Pool()
    for subject in subjects:
        model = copy.deepcopy(subject.obj)
        supported = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, call in subject.calls:
                try:
                    subject.expected[name] = _comparable(call(model))
                except Exception:
                    continue
                supported.append((name, call))
        subject.calls = supported
        subject.graph = explode(subject.obj)
        pool.add(subject.name, subject.graph)
        subject.sites = pool.sites[subject.name]
    for name, donor in donors.items():
        pool.add(name, explode(donor))
    return pool


# ---------------------------------------------------------------------------------------------
# Cases and their outcomes

LOAD_MODES = ("load", "load mmap", "loads", "lazy_load")


@dataclass
class Case:
    subject: str
    case_id: str  # "baseline", "smoke:N" or "fuzz:N"
    mutations: list[Mutation]
    load_mode: str
    note: str = ""

    def describe(self, root: Any) -> str:
        edits = "; ".join(m.describe(root) for m in self.mutations) or "none"
        note = f" [{self.note}]" if self.note else ""
        return f"{self.case_id}{note} mutations: {edits} (via {self.load_mode})"


def smoke_cases(subject: Subject, pool: Pool) -> list[Case]:
    cases = [Case(subject.name, "baseline", [], "load")]
    for index, (name, build) in enumerate(SMOKE):
        mutations = build(subject.sites, pool)
        if mutations:
            cases.append(Case(subject.name, f"smoke:{index}", mutations, LOAD_MODES[index % 4], name))
    return cases


def fuzz_case(subject: Subject, pool: Pool, seed: int, index: int) -> Case:
    rng = random.Random(f"{seed}/{subject.name}/{index}")
    count = rng.choices([1, 2, 3], weights=[65, 25, 10])[0]
    mutations = [random_mutation(rng, subject.sites, pool) for _ in range(count)]
    return Case(subject.name, f"fuzz:{index}", mutations, rng.choices(LOAD_MODES, weights=[5, 3, 1, 1])[0])


def case_by_id(subject: Subject, pool: Pool, seed: int, case_id: str) -> Case:
    if case_id.startswith("fuzz:"):
        return fuzz_case(subject, pool, seed, int(case_id.split(":")[1]))
    for case in smoke_cases(subject, pool):
        if case.case_id == case_id:
            return case
    raise SystemExit(f"{subject.name} has no case {case_id}")


# Outcomes. A case is "unwritable", "rejected" (typed load error), "untrusted" (a baseline refused
# as untrusted), or loaded and then "ok", "value-error", "python-error" (numpy-only types) or
# "alloc-refused" by its calls' worst result; anything else is a failure (see the module docs).
NOT_FAILURES = ("unwritable", "rejected", "untrusted", "ok", "value-error", "python-error", "alloc-refused")
_CALL_OUTCOME_RANK = {"ok": 0, "value-error": 1, "python-error": 2, "alloc-refused": 3}
# What a numpy-only type's call may not raise even so: the interpreter itself in trouble.
_NEVER_ORDINARY = (MemoryError, SystemError, RecursionError)


def is_validated_subject(subject: Subject) -> bool:
    """Whether the policy trusts the subject's (outermost) type through validation."""
    from amberfile._names import qualified_name
    from amberfile._trust import validated_type

    return validated_type(qualified_name(type(subject.obj)))


def _raising_object_type(error: BaseException) -> type | None:
    """The type of the innermost scikit-learn or scipy object whose method is on the traceback."""
    owner = None
    frame = error.__traceback__
    while frame is not None:
        candidate = type(frame.tb_frame.f_locals.get("self"))
        if candidate.__module__.startswith(("sklearn.", "scipy.sparse.")):
            owner = candidate
        frame = frame.tb_next
    return owner


def _call_outcome(error: BaseException, validated: bool) -> str | None:
    """The accepted outcome of a call that raised ``error``, or None if it is a failure."""
    if _is_numpy_allocation_refusal(error):
        return "alloc-refused"
    if isinstance(error, ValueError):
        return "value-error"
    if not isinstance(error, Exception) or isinstance(error, _NEVER_ORDINARY):
        return None
    if validated:
        from amberfile._names import qualified_name
        from amberfile._trust import validated_type

        owner = _raising_object_type(error)
        validated = owner is None or validated_type(qualified_name(owner))
    return None if validated else "python-error"


def _exception_text(error: BaseException) -> str:
    message = str(error).replace("\n", " ")
    return f"{type(error).__module__}.{type(error).__qualname__}: {message[:240]}"


def _is_numpy_allocation_refusal(error: BaseException) -> bool:
    return type(error).__qualname__ == "_ArrayMemoryError"  # displayed as MemoryError


def execute(case: Case, subject: Subject, pool: Pool, directory: str, phase: Callable[[str], None]) -> dict:
    """Runs a case in this process. Returns {"outcome", "phase", "detail"}."""
    phase("mutate")
    root = subject.graph
    try:
        for mutation in case.mutations:
            root = mutation.apply(root, pool)
    except Exception as error:  # an earlier edit removed or replaced what a later one edits
        return {"outcome": "unwritable", "phase": "mutate", "detail": _exception_text(error)}
    path = os.path.join(directory, f"case-{os.getpid()}.amber")
    phase("dump")
    try:
        amberfile.dump({"model": root} if case.load_mode == "lazy_load" else root, path)
    except Exception as error:
        return {"outcome": "unwritable", "phase": "dump", "detail": _exception_text(error)}
    phase("load")
    try:
        model = _load(path, case.load_mode, subject.trusted)
    except amberfile.UntrustedTypeError as error:
        outcome = "untrusted" if not case.mutations else "rejected"
        return {"outcome": outcome, "phase": "load", "detail": _exception_text(error)}
    except amberfile.AmberError as error:
        return {"outcome": "rejected", "phase": "load", "detail": _exception_text(error)}
    except BaseException as error:
        return {"outcome": "load:" + type(error).__name__, "phase": "load", "detail": _exception_text(error)}
    worst = {"outcome": "ok", "phase": "calls", "detail": ""}
    validated = is_validated_subject(subject)
    for name, call in subject.calls:
        if name in TRAINING_CALLS and case.load_mode == "load mmap":
            continue  # arrays mapped read-only are not trained in place (compiled code would fault)
        phase(f"call {name}")
        try:
            result = call(model)
        except BaseException as error:
            outcome = _call_outcome(error, validated)
            if outcome is None:
                return {"outcome": "call:" + type(error).__name__, "phase": f"call {name}",
                        "detail": _exception_text(error)}
            if _CALL_OUTCOME_RANK[outcome] > _CALL_OUTCOME_RANK[worst["outcome"]]:
                worst = {"outcome": outcome, "phase": f"call {name}", "detail": _exception_text(error)}
            continue
        if not case.mutations and not _same(_comparable(result), subject.expected[name]):
            return {"outcome": "baseline-differs", "phase": f"call {name}",
                    "detail": "the unmutated model's result differs from the original's"}
    phase("free")
    del model
    gc.collect()
    return worst


def _load(path: str, mode: str, trusted: tuple[str, ...]) -> Any:
    if mode == "load":
        return amberfile.load(path, trusted=trusted)
    if mode == "load mmap":
        return amberfile.load(path, mmap_mode="r", trusted=trusted)
    if mode == "loads":
        with open(path, "rb") as file:
            return amberfile.loads(file.read(), trusted=trusted)
    return amberfile.lazy_load(path, trusted=trusted)["model"]


def _address_space_in_use() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def run_forked(case: Case, subject: Subject, pool: Pool, directory: str) -> dict:
    """Runs a case in a forked child under a memory cap and a timeout."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            channel = os.fdopen(write_end, "w", buffering=1)
            faulthandler.enable(file=channel)  # a crash's Python stack goes to the parent
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.dup2(write_end, 2)  # what C code prints before it aborts ("free(): invalid ...")
            cap = max(ADDRESS_SPACE_CAP, _address_space_in_use() + ADDRESS_SPACE_HEADROOM)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            # A hang prints its stack and exits; the alarm (default action: end) is the backstop.
            faulthandler.dump_traceback_later(CASE_TIMEOUT_SECONDS, exit=True, file=channel)
            signal.alarm(CASE_TIMEOUT_SECONDS + 2)
            warnings.simplefilter("ignore")
            result = execute(case, subject, pool, directory, lambda p: channel.write(f"phase {p}\n"))
            channel.write("result " + json.dumps(result) + "\n")
        except BaseException:
            channel.write("harness " + json.dumps(traceback.format_exc()) + "\n")
        finally:
            channel.flush()
            os._exit(0)
    os.close(write_end)
    lines, crash_text, timed_out = _read_child(read_end, pid)
    _, status = os.waitpid(pid, 0)
    try:
        os.unlink(os.path.join(directory, f"case-{pid}.amber"))
    except FileNotFoundError:
        pass
    phase = next((line[6:] for line in reversed(lines) if line.startswith("phase ")), "start")
    for line in lines:
        if line.startswith("result "):
            return json.loads(line[7:])
        if line.startswith("harness "):
            stack = json.loads(line[8:]).strip().splitlines()
            return {"outcome": "harness-error", "phase": phase, "detail": "\n".join(stack[-1:] + stack[-6:-1])}
    if timed_out or "Timeout (" in crash_text or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM):
        outcome = "timeout"
    elif os.WIFSIGNALED(status):
        outcome = signal.Signals(os.WTERMSIG(status)).name
    else:
        outcome = f"exit {os.WEXITSTATUS(status)}"
    return {"outcome": outcome, "phase": phase, "detail": _crash_summary(crash_text)}


def _crash_summary(text: str) -> str:
    """What the child printed before it died, shortened: messages (glibc's, faulthandler's
    first line) and the innermost Python frames outside this file."""
    lines = [line.strip() for line in text.splitlines()]
    skipped = ("File ", "Current thread", "Thread 0x", "Extension modules", "Stack (most recent")
    head = [line for line in lines if line and not line.startswith(skipped)][:2]
    frames = [line.replace('File "', "").replace('", line ', ":") for line in lines
              if line.startswith("File ") and __file__ not in line]
    return " | ".join(head + frames[:4])


def _read_child(fd: int, pid: int) -> tuple[list[str], str, bool]:
    """The child's protocol lines, anything else it wrote (a faulthandler stack), and whether
    it had to be killed for running past the timeout."""
    deadline = time.monotonic() + CASE_TIMEOUT_SECONDS + 5
    chunks = []
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(fd)
    text = b"".join(chunks).decode("utf-8", "replace")
    lines, other = [], []
    for line in text.splitlines():
        (lines if line.startswith(("phase ", "result ", "harness ")) else other).append(line)
    return lines, "\n".join(other), timed_out


# ---------------------------------------------------------------------------------------------
# Campaigns


@dataclass
class Report:
    seed: int
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, case: Case, result: dict, part: str, root: Any) -> None:
        outcome = result["outcome"]
        counts = self.counts[case.subject]
        counts[f"{part} cases"] += 1
        counts[outcome if outcome in NOT_FAILURES else "failures"] += 1
        if outcome not in NOT_FAILURES:
            self.failures.append({"subject": case.subject, "case": case.case_id, "seed": self.seed,
                                  "part": part, "description": case.describe(root), **result})

    def table(self) -> str:
        columns = ["smoke cases", "fuzz cases", "unwritable", "rejected", "ok", "value-error",
                   "python-error", "alloc-refused", "failures"]
        width = max([len(name) for name in self.counts] + [7])
        rows = [f"{'subject':<{width}} " + " ".join(f"{c:>13}" for c in columns)]
        total: Counter = Counter()
        for name in sorted(self.counts):
            total.update(self.counts[name])
            rows.append(f"{name:<{width}} " + " ".join(f"{self.counts[name][c]:>13}" for c in columns))
        rows.append(f"{'total':<{width}} " + " ".join(f"{total[c]:>13}" for c in columns))
        return "\n".join(rows)

    def failure_lines(self) -> list[str]:
        lines = []
        for failure in self.failures:
            lines.append(f"{failure['subject']} seed={failure['seed']} {failure['description']}: "
                         f"{failure['outcome']} at {failure['phase']}"
                         + (f" ({failure['detail'].splitlines()[0][:200]})" if failure["detail"] else ""))
        return lines

    def to_json(self) -> dict:
        return {"seed": self.seed, "seconds": round(self.seconds, 1), "skipped": self.skipped,
                "counts": {name: dict(counts) for name, counts in self.counts.items()},
                "failures": self.failures}


def select_subjects(subjects: list[Subject], wanted: list[str]) -> list[Subject]:
    """Subjects whose name contains one of ``wanted`` (case-insensitive); all if none given."""
    if not wanted:
        return subjects
    chosen = [s for s in subjects if any(w.lower() in s.name.lower() for w in wanted)]
    if not chosen:
        raise SystemExit(f"no subject matches {wanted}; see --list")
    return chosen


def campaign(subjects: list[Subject], pool: Pool, seed: int, deadline: float, smoke: bool, fuzz: bool,
             progress: Callable[[str], None]) -> Report:
    report = Report(seed)
    started = time.monotonic()
    # Children then leave the parent's objects alone when they collect: far fewer pages copied.
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="amber-state-fuzz-", dir=_scratch()) as directory:
        live = []
        for subject in subjects:
            cases = smoke_cases(subject, pool) if smoke else [Case(subject.name, "baseline", [], "load")]
            for case in cases:
                result = run_forked(case, subject, pool, directory)
                if result["outcome"] == "untrusted":
                    report.skipped.append(subject.name)
                    break
                report.record(case, result, "smoke", subject.graph)
            else:
                live.append(subject)
        progress(f"smoke: {sum(c['smoke cases'] for c in report.counts.values())} cases, "
                 f"{len(report.failures)} failures, {time.monotonic() - started:.0f} s")
        index = 0
        while fuzz and live and time.monotonic() < deadline:
            for subject in live:
                if time.monotonic() >= deadline:
                    break
                case = fuzz_case(subject, pool, seed, index)
                report.record(case, run_forked(case, subject, pool, directory), "fuzz", subject.graph)
            index += 1
    report.seconds = time.monotonic() - started
    return report


def _scratch() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def replay(subject: Subject, pool: Pool, seed: int, case_id: str, save: str | None) -> int:
    """Runs one case in this process, so that its traceback (or crash stack) shows."""
    case = case_by_id(subject, pool, seed, case_id)
    print(f"{subject.name} seed={seed} {case.describe(subject.graph)}")
    faulthandler.enable()
    directory = save or tempfile.mkdtemp(prefix="amber-state-replay-", dir=_scratch())
    root = subject.graph
    for mutation in case.mutations:
        root = mutation.apply(root, pool)
    path = os.path.join(directory, f"{_file_name(subject.name)}-{case_id.replace(':', '-')}.amber")
    amberfile.dump({"model": root} if case.load_mode == "lazy_load" else root, path)
    print(f"file: {path}")
    model = _load(path, case.load_mode, subject.trusted)
    print(f"loaded: {type(model).__qualname__}")
    validated = is_validated_subject(subject)
    for name, call in subject.calls:
        print(f"call {name}: ", end="", flush=True)
        try:
            call(model)
            print("ok")
        except BaseException as error:
            if _call_outcome(error, validated) is None:
                raise
            print(_exception_text(error))
    return 0


def _file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("AMBER_STATE_FUZZ_SECONDS", DEFAULT_SECONDS)),
                        help="total time budget, fitting included (smoke always runs in full)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--types", action="append", default=[],
                        help="subjects whose name contains this (repeatable, or comma-separated)")
    parser.add_argument("--no-smoke", action="store_true", help="skip the known-bad mutations")
    parser.add_argument("--no-fuzz", action="store_true", help="only the baseline and smoke cases")
    parser.add_argument("--json", help="write the report (counts and every failure) here")
    parser.add_argument("--list", action="store_true", help="list the subjects and exit")
    parser.add_argument("--replay", action="store_true", help="run --case of --types in this process")
    parser.add_argument("--case", help="a case id (baseline, smoke:N, fuzz:N) for --replay")
    parser.add_argument("--save", help="with --replay: the directory to keep the case's file in")
    options = parser.parse_args(argv)
    started = time.monotonic()
    wanted = [name for entry in options.types for name in entry.split(",") if name]

    warnings.simplefilter("ignore")
    subjects, donors = build_subjects()
    if options.list:
        print("\n".join(subject.name for subject in subjects))
        return 0
    pool = prepare(subjects, donors)
    chosen = select_subjects(subjects, wanted)
    if options.replay:
        exact = [s for s in chosen if s.name in wanted] or chosen
        if len(exact) != 1 or not options.case:
            raise SystemExit("--replay needs --case and one subject in --types")
        return replay(exact[0], pool, options.seed, options.case, options.save)
    print(f"fitted {len(subjects)} subjects in {time.monotonic() - started:.1f} s", flush=True)
    report = campaign(chosen, pool, options.seed, started + options.seconds, not options.no_smoke,
                      not options.no_fuzz, lambda line: print(line, flush=True))
    print(report.table())
    if report.skipped:
        print("not trusted by default, so not fuzzed: " + ", ".join(report.skipped))
    print(f"{len(report.failures)} failures in {report.seconds:.0f} s (seed {options.seed})")
    for line in report.failure_lines():
        print("  " + line)
    if options.json:
        with open(options.json, "w") as file:
            json.dump(report.to_json(), file, indent=1, default=repr)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
