"""Qualified names of classes and functions, and the reduce values of objects, the way the file
records them (the README's mapping table; spec section 14.5.1)."""

from __future__ import annotations

import copyreg
import importlib
import pickle
import sys
import types
from typing import Any

import numpy as np

from ._native import NEWOBJ, NEWOBJ_EX, RECONSTRUCTOR

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
    owner = getattr(obj, "__self__", None)
    if module is None and isinstance(owner, type):
        module = owner.__module__  # a C class's class method (zoneinfo.ZoneInfo._unpickle)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"cannot record {obj!r} by name: it has no module and qualified name")
    return global_name(obj, module, qualname)


def global_name(obj: Any, module: str, qualname: str) -> str:
    """``module.qualname``, checked to find ``obj`` again when the module is imported."""
    if "<" in qualname:
        raise TypeError(f"cannot record {module}.{qualname}: local objects and lambdas have no importable name")
    try:
        found: Any = sys.modules.get(module) or importlib.import_module(module)
    except ImportError as err:
        raise TypeError(f"cannot record {obj!r} by name: module {module} cannot be imported") from err
    for part in qualname.split("."):
        found = getattr(found, part, None)
    # A class method is bound anew by each lookup: equal (same class, same function) is the same.
    if found is not obj and not (isinstance(getattr(obj, "__self__", None), type) and found == obj):
        raise TypeError(f"cannot record {obj!r} by name: {module}.{qualname} does not refer to it")
    return f"{module}.{qualname}"


def type_name(obj: Any) -> str:
    """The name of ``obj``'s type for messages: ``module.qualname``."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# (callable name, args or None, state or None, list items or None, dict item pairs or None)
Reduced = tuple[str, "tuple[Any, ...] | None", Any, "list[Any] | None", "list[tuple[Any, Any]] | None"]


def reduce_value(obj: Any) -> str | Reduced:
    """What pickle (protocol 4) would save for ``obj``: a global name, or the callable's name,
    its arguments, the state and the list and dict items. ``copyreg.__newobj__`` with the class
    alone becomes the class with no arguments (the same call). Raises TypeError for what the
    file cannot say exactly."""
    reducer = copyreg.dispatch_table.get(type(obj))
    value = reducer(obj) if reducer is not None else obj.__reduce_ex__(4)
    if isinstance(value, str):
        # pickle's own search for the module: Ellipsis has no __module__ and is builtins'.
        return global_name(obj, pickle.whichmodule(obj, value), value)
    if not isinstance(value, tuple) or not 2 <= len(value) <= 6:
        raise TypeError("its reduce value is neither a string nor a tuple of 2 to 6 items")
    function, args, state, list_items, dict_items, setter = value + (None,) * (6 - len(value))
    if setter is not None:
        raise TypeError("its reduce value has a state setter (the sixth item), which a file cannot record")
    if not isinstance(args, tuple):
        raise TypeError("the arguments in its reduce value are not a tuple")
    if function is copyreg.__newobj__:
        name = NEWOBJ
        _require_class(args)
        if len(args) == 1:
            return qualified_name(args[0]), None, state, _items(list_items), _pairs(dict_items)
    elif function is copyreg.__newobj_ex__:
        name = NEWOBJ_EX
        if len(args) != 3 or not isinstance(args[1], tuple) or type(args[2]) is not dict:
            raise TypeError(f"{NEWOBJ_EX} needs (class, args tuple, kwargs dict)")
        _require_class(args)
        if not all(type(key) is str for key in args[2]):
            raise TypeError("keyword arguments to __new__ must have str names")
    elif function is copyreg._reconstructor:
        name = RECONSTRUCTOR
        if len(args) != 3 or not all(isinstance(c, type) for c in args[:2]) or not issubclass(args[0], args[1]):
            raise TypeError(f"{RECONSTRUCTOR} needs (class, base class, base state)")
    else:
        name = qualified_name(function)
    return name, args, state, _items(list_items), _pairs(dict_items)


def _require_class(args: tuple[Any, ...]) -> None:
    # pickle also insists on the object's own class; the file says which class is made, so
    # another (a hostile file's stand-in in the tests) is recorded as exactly as any.
    if not args or not isinstance(args[0], type):
        raise TypeError(f"{NEWOBJ}'s first argument is not a class")


def _items(items: Any) -> list[Any] | None:
    return None if items is None else list(items)


def _pairs(items: Any) -> list[tuple[Any, Any]] | None:
    if items is None:
        return None
    pairs = list(items)
    if not all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs):
        raise TypeError("the dict items of its reduce value are not (key, value) pairs")
    return pairs


def masked_array_args(array: np.ma.MaskedArray) -> tuple[Any, ...]:
    """Constructor arguments rebuilding a masked array:
    ``MaskedArray(data, mask, dtype=None, copy=False, subok=True, ndmin=0, fill_value)``."""
    if type(array) is not np.ma.MaskedArray:
        raise TypeError(f"cannot dump the masked array subclass {type(array).__name__}")
    return (np.asarray(array.data), np.ma.getmaskarray(array), None, False, True, 0, array.fill_value)
