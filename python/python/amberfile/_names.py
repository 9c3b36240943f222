"""Qualified names of classes and functions, the way the file records them."""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np

_GLOBAL_TYPES = (type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)


def is_global(obj: Any) -> bool:
    """True for objects recorded by name: classes, module-level functions, ufuncs."""
    if not isinstance(obj, _GLOBAL_TYPES):
        return False
    if isinstance(obj, types.BuiltinFunctionType):
        # Builtin methods bound to an instance are not module-level names.
        return isinstance(getattr(obj, "__self__", None), types.ModuleType) or obj.__self__ is None
    return True


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a class or function, checked to name ``obj`` itself."""
    if isinstance(obj, np.ufunc):
        name = f"numpy.{obj.__name__}"
        if getattr(np, obj.__name__, None) is not obj:
            raise TypeError(f"cannot record ufunc {obj!r}: it is not numpy.{obj.__name__}")
        return name
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"cannot record {obj!r} by name: it has no module and qualified name")
    if "<" in qualname:
        raise TypeError(f"cannot record {module}.{qualname}: local objects and lambdas have no importable name")
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not obj:
        raise TypeError(f"cannot record {obj!r} by name: {module}.{qualname} does not refer to it")
    return f"{module}.{qualname}"


MASKED_ARRAY = "numpy.ma.core.MaskedArray"


def masked_array_args(array: np.ma.MaskedArray) -> tuple[Any, ...]:
    """Constructor arguments rebuilding a masked array:
    ``MaskedArray(data, mask, dtype=None, copy=False, subok=True, ndmin=0, fill_value)``."""
    if type(array) is not np.ma.MaskedArray:
        raise TypeError(f"cannot dump the masked array subclass {type(array).__name__}")
    return (np.asarray(array.data), np.ma.getmaskarray(array), None, False, True, 0, array.fill_value)
