"""The loading policy: which names from a file may be rebuilt, and how.

Nothing named in a file is imported, resolved or called unless the name is trusted. Trusted
are a built-in default set (see ``is_trusted``) and the names the caller passes as
``trusted=[...]``. Names are compared exactly; a resolved object must carry exactly the name
the file gave (so ``sklearn.base.os.system`` is not ``os.system`` in disguise).

Rebuilding a trusted class (the file's ``args`` and ``state``):

- no args: ``cls.__new__(cls)`` (numpy's random generators: ``cls()``, since their ``__new__``
  alone leaves them unusable);
- args (a tuple): ``cls(*args)``, the constructor of a trusted type;
- then the state: ``cls.__setstate__(obj, state)`` if the class defines it, else pickle's
  default (``obj.__dict__.update(state)``, and slot values for a ``(dict, slots)`` pair).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._errors import UntrustedTypeError
from ._names import qualified_name

_BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in (
        "bool", "bytes", "bytearray", "complex", "dict", "float", "frozenset", "int", "list",
        "range", "set", "slice", "str", "tuple",
    )
)

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
    frozenset({"numpy.dtype", "numpy.ndarray"})
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


def _sklearn_object(name: str) -> Any:
    cls = _class_in_package(name, "sklearn")
    if cls is None:
        return None
    from sklearn.base import BaseEstimator

    if issubclass(cls, BaseEstimator) or name.startswith(_SKLEARN_INTERNAL_PREFIXES):
        return cls
    return None


def _scipy_sparse_object(name: str) -> Any:
    if not name.startswith("scipy.sparse."):
        return None
    cls = _class_in_package(name, "scipy")
    if cls is None:
        return None
    from scipy.sparse._base import _spbase

    return cls if issubclass(cls, _spbase) else None


class Policy:
    """The default trust set plus the caller's ``trusted`` names."""

    def __init__(self, trusted: Iterable[str] | None = None) -> None:
        if isinstance(trusted, str):
            raise TypeError("trusted must be a list of names, not a string")
        self.extra = frozenset(trusted or ())
        self._resolved: dict[str, Any] = {}

    def is_trusted(self, name: str) -> bool:
        """True if ``name`` may be rebuilt. May import scikit-learn or scipy modules."""
        if name in DEFAULT_TRUSTED or name in self.extra:
            return True
        return _sklearn_object(name) is not None or _scipy_sparse_object(name) is not None

    def check(self, names: Iterable[str]) -> None:
        """Raises UntrustedTypeError naming every untrusted name."""
        untrusted = [name for name in names if not self.is_trusted(name)]
        if untrusted:
            raise UntrustedTypeError(untrusted)

    def resolve(self, name: str) -> Any:
        """The trusted class or function ``name`` denotes. Never calls it."""
        if name in self._resolved:
            return self._resolved[name]
        if not self.is_trusted(name):
            raise UntrustedTypeError([name])
        obj = _sklearn_object(name) or _scipy_sparse_object(name)
        if obj is None:
            # A default or caller-trusted name: look it up in its own top-level package.
            obj = _lookup(name, name.partition(".")[0])
        if obj is None:
            raise UntrustedTypeError([name])
        self._resolved[name] = obj
        return obj

    def new_instance(self, cls: Any, args: tuple[Any, ...] | None) -> Any:
        """An instance of the trusted class ``cls``, before its state is set."""
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
        if args is not None:
            return cls(*args)
        if qualified_name(cls) in _NUMPY_RANDOM:
            return cls()
        return cls.__new__(cls)

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
        setstate = getattr(type(obj), "__setstate__", None)
        if setstate is not None:
            setstate(obj, state)
            return
        slot_state = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slot_state = state
        if state:
            obj.__dict__.update(state)
        if slot_state:
            for key, value in slot_state.items():
                setattr(obj, key, value)
