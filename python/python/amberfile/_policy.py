"""The loading policy: which names from a file may be rebuilt, and how.

Nothing named in a file is imported, resolved or called unless the name is trusted. Trusted
are a built-in default set (see ``is_trusted``) and the names the caller passes as
``trusted=[...]``. Names are compared exactly; a resolved object must carry exactly the name
the file gave (so ``sklearn.base.os.system`` is not ``os.system`` in disguise).

Rebuilding a trusted class (the file's ``args`` and ``state``):

- no args: ``cls.__new__(cls)`` (numpy's random generators: ``cls()``, since their ``__new__``
  alone leaves them unusable);
- args (a tuple): ``cls(*args)``, the constructor of a trusted type (never for the builtin
  container, number and string types, ndarray, dtype or numpy scalars: their values have node
  kinds of their own, and a call like ``list(range(10**12))`` would exhaust memory);
- then the state: ``cls.__setstate__(obj, state)`` if the class defines it, else pickle's
  default (``obj.__dict__.update(state)``, and slot values for a ``(dict, slots)`` pair).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _native
from ._errors import UntrustedTypeError
from ._names import qualified_name

_BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in (
        "bool", "bytes", "bytearray", "complex", "dict", "float", "frozenset", "int", "list",
        "range", "set", "slice", "str", "tuple",
    )
)

# Named freely (as globals) but never called with arguments from a file: their values have node
# kinds of their own, and e.g. list(range(10**12)) would exhaust memory.
_NOT_CONSTRUCTED = (_BUILTIN_TYPES - {"builtins.slice", "builtins.range"}) | {"numpy.ndarray", "numpy.dtype"}

_NUMPY_RANDOM = frozenset(
    {
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
    }
)

_NUMPY_TYPES = (
    frozenset({"numpy.dtype", "numpy.ndarray", "numpy.ma.core.MaskedArray"})
    | frozenset(qualified_name(t) for t in set(np.sctypeDict.values()))
    | _NUMPY_RANDOM
)

# Names the package itself uses for its own typed objects.
_PACKAGE_TYPES = frozenset({"amberfile.ReduceState"})

#: Every name trusted without asking, besides the scikit-learn and scipy.sparse rules.
DEFAULT_TRUSTED: frozenset[str] = _BUILTIN_TYPES | _NUMPY_TYPES | _PACKAGE_TYPES

# scikit-learn types fitted estimators hold that are not estimators themselves.
_SKLEARN_INTERNAL_PREFIXES = (
    "sklearn._loss.",
    "sklearn.tree._tree.",
    "sklearn.ensemble._hist_gradient_boosting.",
    "sklearn.neighbors._",
    "sklearn.utils._bunch.",
    "sklearn.metrics._scorer.",
    "sklearn.model_selection._split.",
    "sklearn.metrics._dist_metrics.",
    "sklearn.neural_network._stochastic_optimizers.",
    "sklearn.linear_model._sgd_fast.",
    "sklearn.calibration._CalibratedClassifier",
)


def _lookup(name: str, package: str) -> Any:
    """Imports the longest module prefix of ``name`` inside ``package`` and walks the rest.

    Only called for names under a trusted package, whose modules are trusted code."""
    parts = name.split(".")
    if parts[0] != package or not all(part.isidentifier() for part in parts):
        return None
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        return found
    return None


def _names_itself(obj: Any, name: str) -> bool:
    try:
        return qualified_name(obj) == name
    except TypeError:
        return False


def _class_in_package(name: str, package: str) -> type | None:
    """The class ``name`` denotes inside ``package``, if it carries exactly that name."""
    if not name.startswith(package + "."):
        return None
    obj = _lookup(name, package)
    return obj if isinstance(obj, type) and _names_itself(obj, name) else None


# Whether a name denotes an estimator or a sparse matrix class depends only on the installed
# packages, so each name is looked up once per process (loading a pipeline asks for a dozen).
@functools.lru_cache(maxsize=4096)
def _sklearn_object(name: str) -> Any:
    cls = _class_in_package(name, "sklearn")
    if cls is None:
        return None
    from sklearn.base import BaseEstimator

    if issubclass(cls, BaseEstimator) or name.startswith(_SKLEARN_INTERNAL_PREFIXES):
        return cls
    return None


@functools.lru_cache(maxsize=4096)
def _scipy_sparse_object(name: str) -> Any:
    if not name.startswith("scipy.sparse."):
        return None
    cls = _class_in_package(name, "scipy")
    if cls is None:
        return None
    from scipy.sparse._base import _spbase

    return cls if issubclass(cls, _spbase) else None


def _is_numpy_ufunc(name: str) -> bool:
    """numpy's ufuncs (``numpy.log1p``, as FunctionTransformer holds) are pure element-wise math."""
    module, _, attribute = name.partition(".")
    return module == "numpy" and attribute.isidentifier() and isinstance(getattr(np, attribute, None), np.ufunc)


# Trust by default depends only on the name and the installed packages, so it is decided once
# per name and process (a forest names the same few types hundreds of times).
@functools.lru_cache(maxsize=4096)
def _trusted_by_default(name: str) -> bool:
    if name in DEFAULT_TRUSTED or _is_numpy_ufunc(name):
        return True
    return _sklearn_object(name) is not None or _scipy_sparse_object(name) is not None


@functools.lru_cache(maxsize=4096)
def _resolve_trusted(name: str) -> Any:
    """What a name trusted by default denotes (None if nothing): looked up once per process."""
    obj = _sklearn_object(name) or _scipy_sparse_object(name)
    # Otherwise look it up in its own top-level package.
    return obj if obj is not None else _lookup(name, name.partition(".")[0])


# Per class, the name rebuilding checks it by: a forest holds hundreds of instances of a few
# classes. Only classes the policy itself resolved from trusted names are ever looked up.
_CLASS_NAMES: dict[type, str] = {}


class Policy:
    """The default trust set plus the caller's ``trusted`` names."""

    def __init__(self, trusted: Iterable[str] | None = None) -> None:
        if isinstance(trusted, str):
            raise TypeError("trusted must be a list of names, not a string")
        self.extra = frozenset(trusted or ())
        self._resolved: dict[str, Any] = {}

    def is_trusted(self, name: str) -> bool:
        """True if ``name`` may be rebuilt. May import scikit-learn or scipy modules."""
        return name in self.extra or _trusted_by_default(name)

    def check(self, names: Iterable[str]) -> None:
        """Raises UntrustedTypeError naming every untrusted name."""
        untrusted = [name for name in names if not self.is_trusted(name)]
        if untrusted:
            raise UntrustedTypeError(untrusted)

    def resolve(self, name: str) -> Any:
        """The trusted class or function ``name`` denotes. Never calls it."""
        if _trusted_by_default(name):
            obj = _resolve_trusted(name)
        elif name in self.extra:
            obj = self._resolved.get(name)
            if obj is None:
                obj = self._resolved[name] = _lookup(name, name.partition(".")[0])
        else:
            raise UntrustedTypeError([name])
        if obj is None:
            raise UntrustedTypeError([name])
        return obj

    def new_instance(self, cls: Any, args: tuple[Any, ...] | None) -> Any:
        """An instance of the trusted class ``cls``, before its state is set."""
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
        name = self._name_of(cls)
        if args is not None:
            if name in _NOT_CONSTRUCTED or issubclass(cls, np.generic):
                raise TypeError(f"{name} is not constructed from arguments in a file")
            return cls(*args)
        if name in _NUMPY_RANDOM:
            return cls()
        return cls.__new__(cls)

    def _name_of(self, cls: type) -> str:
        name = _CLASS_NAMES.get(cls)
        if name is None:
            name = _CLASS_NAMES[cls] = qualified_name(cls)
        return name

    def set_state(self, obj: Any, state: Any, with_items: bool) -> None:
        """Applies a reduce state (and list/dict items) to a new instance, as pickle does."""
        if with_items:
            state, list_items, dict_items = state
            for item in list_items:
                obj.append(item)
            for key, value in dict_items.items():
                obj[key] = value
            if state is None:
                return
        validate = _STATE_VALIDATORS.get(self._name_of(type(obj)))
        if validate is not None:
            validate(obj, state)
        setstate = getattr(type(obj), "__setstate__", None)
        if setstate is not None:
            setstate(obj, state)
        else:
            _default_set_state(obj, state)
        _check_width(obj)


def _default_set_state(obj: Any, state: Any) -> None:
    """pickle's default: a dict of attributes, or a (dict, slot values) pair."""
    slot_state = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slot_state = state
    if state:
        obj.__dict__.update(state)
    if slot_state:
        for key, value in slot_state.items():
            setattr(obj, key, value)


def _record_field(state: Any, key: str, fields: tuple[str, ...], owner: str) -> np.ndarray:
    """``state[key]``, checked to be a 1-d record array with ``fields``."""
    if not isinstance(state, dict):
        raise TypeError(f"a {owner} state must be a dict")
    nodes = state.get(key)
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or nodes.ndim != 1:
        raise ValueError(f"a {owner} state needs a 1-d record array {key!r}")
    missing = [field for field in fields if field not in nodes.dtype.names]
    if missing:
        raise ValueError(f"a {owner}'s nodes lack the fields {missing}")
    return nodes


def _check_children(left: np.ndarray, right: np.ndarray, internal: np.ndarray, owner: str) -> None:
    """scikit-learn's prediction loops trust child indices: one out of range reads out of
    bounds, one pointing backwards loops forever. Trees are built with every child after its
    parent, so children must lie strictly after their node and inside the array."""
    count = left.shape[0]
    index = np.arange(count)
    for child in (left.astype(np.int64), right.astype(np.int64)):
        if np.any((child[internal] <= index[internal]) | (child[internal] >= count)):
            raise ValueError(f"a {owner} node's child is out of range or not after its parent")


def _check_tree_state(tree: Any, state: Any) -> None:
    if not isinstance(state, dict):
        raise TypeError("a Tree state must be a dict")
    nodes = state.get("nodes")
    if not isinstance(nodes, np.ndarray):
        raise ValueError("a Tree state needs a record array 'nodes'")
    # The same rules as _check_children, over the records in place (a forest has hundreds of
    # trees, and numpy's per-call cost made this check dominate loading); it also checks the
    # array's shape and fields.
    _native.check_tree_nodes(nodes, tree.n_features)
    if state.get("node_count") != nodes.shape[0]:
        raise ValueError("a Tree's node_count must equal the number of nodes")


def _check_predictor_state(predictor: Any, state: Any) -> None:
    fields = ("left", "right", "is_leaf", "feature_idx", "is_categorical", "bitset_idx")
    nodes = _record_field(state, "nodes", fields, "TreePredictor")
    internal = nodes["is_leaf"] == 0
    _check_children(nodes["left"], nodes["right"], internal, "TreePredictor")
    if np.any(nodes["feature_idx"][internal].astype(np.int64) < 0):
        raise ValueError("a TreePredictor node splits on a negative feature")
    categorical = internal & (nodes["is_categorical"] != 0)
    for key in ("binned_left_cat_bitsets", "raw_left_cat_bitsets"):
        bitsets = state.get(key)
        if not isinstance(bitsets, np.ndarray) or bitsets.ndim != 2 or bitsets.shape[1] != 8:
            raise ValueError(f"a TreePredictor's {key} must be an (n, 8) array")
        if np.any(nodes["bitset_idx"][categorical].astype(np.int64) >= bitsets.shape[0]):
            raise ValueError("a TreePredictor node refers to a missing category bitset")


_STATE_VALIDATORS = {
    "sklearn.tree._tree.Tree": _check_tree_state,
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": _check_predictor_state,
}


def _check_width(obj: Any) -> None:
    """Estimators check their input width against n_features_in_, while their trees index
    columns by their own features: the two must agree."""
    attributes = getattr(obj, "__dict__", {})
    n_features_in = attributes.get("n_features_in_")
    if not isinstance(n_features_in, int):
        return
    tree = attributes.get("tree_")
    if tree is not None and getattr(tree, "n_features", n_features_in) != n_features_in:
        raise ValueError("a decision tree's n_features_in_ does not match its tree")
    if not attributes.get("_predictors"):
        return
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    for round_predictors in attributes["_predictors"]:
        for predictor in round_predictors:
            if isinstance(predictor, TreePredictor):
                internal = predictor.nodes["is_leaf"] == 0
                if np.any(predictor.nodes["feature_idx"][internal] >= n_features_in):
                    raise ValueError("a gradient boosting tree splits on a feature the model does not have")


