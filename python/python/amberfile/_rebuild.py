"""Rebuilding: how a trusted name from a file becomes an object (spec section 14.5.1).

What is trusted at all is ``_trust``'s; the state checks that run around each step are
``_validate``'s. Rebuilding an ``object`` node (its name, ``args`` and ``state``):

- no args: the name is a class, and the value ``cls.__new__(cls)`` (a file of the previous
  writer names numpy's random generators this way: ``cls()``, since their ``__new__`` alone
  leaves them unusable);
- args (a tuple) and a class: ``cls(*args)``, the constructor of a trusted type (never for the
  builtin container, number and string types, ndarray, dtype or numpy scalars: their values have
  node kinds of their own, and a call like ``list(range(10**12))`` would exhaust memory);
- args and one of pickle's reconstructors ``copyreg.__newobj__``, ``copyreg.__newobj_ex__`` or
  ``copyreg._reconstructor``: ``cls.__new__(cls, *args, **kwargs)`` (or the base type's
  ``__new__`` and ``__init__``), where ``cls`` is the first argument, a ``global`` node the
  policy trusts (the same guards as a constructor call; trusted by default as protocol names);
- args and a trusted function (a factory): ``function(*args)``. Trusted by default are only the
  factories of ``_trust._DEFAULT_FACTORIES`` and Cython's ``__pyx_unpickle_<Class>`` of a class
  trusted by default, each under its own rule for the arguments; ``trusted=[...]`` adds others;
- then the state: ``cls.__setstate__(obj, state)`` if the class defines it, else pickle's
  default (``obj.__dict__.update(state)``, and slot values for a ``(dict, slots)`` pair);
- around each step, the checks ``_validate`` has for the type (arguments, state, the finished
  object; an object built from arguments alone is checked as a finished one).
"""

from __future__ import annotations

import copyreg
from typing import Any

import numpy as np

from . import _validate
from ._names import qualified_name
from ._native import AS_MATRIX, NEWOBJ, NEWOBJ_EX, NUMPY_DTYPE, RECONSTRUCTOR
from ._trust import (
    BLANK_FACTORIES,
    BUILTIN_TYPES,
    NUMPY_RANDOM,
    NUMPY_RANDOM_FACTORIES,
    Trust,
    pyx_unpickled_class,
)

# Named freely (as globals) but never called with arguments from a file: their values have node
# kinds of their own, and e.g. list(range(10**12)) would exhaust memory.
_NOT_CONSTRUCTED = (BUILTIN_TYPES - {"builtins.slice", "builtins.range"}) | {"numpy.ndarray", NUMPY_DTYPE}

# Per class, the name rebuilding checks it by: a forest holds hundreds of instances of a few
# classes. Only classes the policy itself resolved from trusted names are ever looked up.
_CLASS_NAMES: dict[type, str] = {}


def construct(trust: Trust, name: str, target: Any, args: tuple[Any, ...] | None, has_state: bool = True) -> Any:
    """The value of an ``object`` node named ``name`` (resolved as ``target``) with ``args``,
    before its state (if ``has_state``) is set. Fails before any call for arguments the
    callable's rule refuses."""
    if args is None:
        return new_instance(target, None, has_state)
    if name == NEWOBJ:
        if not args:
            raise TypeError(f"{NEWOBJ} needs the class as its first argument")
        cls, rest = args[0], args[1:]
        return _build(cls, rest, has_state, lambda: cls.__new__(cls, *rest))
    if name == NEWOBJ_EX:
        if len(args) != 3 or type(args[1]) is not tuple or type(args[2]) is not dict:
            raise TypeError(f"{NEWOBJ_EX} needs (class, args tuple, kwargs dict)")
        cls, positional, keywords = args
        if not all(type(key) is str for key in keywords):
            raise TypeError(f"{NEWOBJ_EX}'s keyword names must be str")
        return _build(cls, positional, has_state, lambda: cls.__new__(cls, *positional, **keywords))
    if name == RECONSTRUCTOR:
        return _reconstruct(args, has_state)
    if isinstance(target, type):
        return new_instance(target, args, has_state)
    return _call_factory(trust, name, target, args, has_state)


def new_instance(cls: Any, args: tuple[Any, ...] | None, has_state: bool = True) -> Any:
    """An instance of the trusted class ``cls``, before its state (if ``has_state``) is set.

    A validated type built from arguments alone is checked here, as its state would be: a
    constructor like ``csr_matrix((data, indices, indptr))`` does not check indices."""
    if not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
    if args is None:
        return cls() if _name_of(cls) in NUMPY_RANDOM else cls.__new__(cls)
    return _build(cls, args, has_state, lambda: cls(*args))


def _build(cls: Any, args: tuple[Any, ...], has_state: bool, build: Any) -> Any:
    """``build()``, a call that makes an instance of ``cls`` from ``args``, behind the guards
    and checks of constructing ``cls`` from a file."""
    if not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
    name = _name_of(cls)
    if name in _NOT_CONSTRUCTED or issubclass(cls, np.generic):
        raise TypeError(f"{name} is not constructed from arguments in a file")
    check_args, check_state, check_object = _validate.checks_for(name)
    if check_state is not None and not has_state:
        raise TypeError(f"{name} must be given its state, not only constructor arguments")
    if check_args is not None:
        check_args(args)
    obj = build()
    if check_object is not None and not has_state:
        check_object(obj)
    return obj


def _reconstruct(args: tuple[Any, ...], has_state: bool) -> Any:
    """``copyreg._reconstructor(cls, base, base_state)``: protocol 0's rebuilding of a class
    derived from a builtin type. pickle writes ``base(obj)`` as the base state, so nothing
    else is accepted (no ``bytes.__new__(cls, 10**12)``)."""
    if len(args) != 3:
        raise TypeError(f"{RECONSTRUCTOR} needs (class, base class, base state)")
    cls, base, base_state = args
    if not (isinstance(cls, type) and isinstance(base, type) and issubclass(cls, base)):
        raise TypeError(f"{RECONSTRUCTOR} needs a class and a base class it derives from")
    if _name_of(base) not in BUILTIN_TYPES:
        raise TypeError(f"{RECONSTRUCTOR}'s base must be a builtin type, not {_name_of(base)}")
    if base is not object and type(base_state) is not base:
        raise TypeError(f"{RECONSTRUCTOR}'s base state must be a {base.__name__}")
    if base is object and base_state is not None:
        raise TypeError(f"{RECONSTRUCTOR}'s base state must be None for object")
    return _build(cls, (), has_state, lambda: copyreg._reconstructor(cls, base, base_state))


def _call_factory(trust: Trust, name: str, function: Any, args: tuple[Any, ...], has_state: bool) -> Any:
    """``function(*args)`` for a trusted factory; the default ones only with the arguments
    their rules accept, so that none becomes a way to call something else."""
    if name in trust.extra:
        obj = function(*args)
    elif name in NUMPY_RANDOM_FACTORIES:
        obj = function(*_numpy_random_args(name, args))
    elif name in BLANK_FACTORIES:
        if len(args) != 1 or not isinstance(args[0], type):
            raise TypeError(f"{name} needs the class alone")
        return new_instance(args[0], None, has_state)
    elif name == AS_MATRIX:
        if len(args) != 1 or type(args[0]) is not np.ndarray or args[0].ndim != 2:
            raise TypeError(f"{name} needs one 2-d array")
        obj = function(args[0])
    elif pyx_unpickled_class(name) is not None:
        return _pyx_unpickle(trust, name, function, args, has_state)
    else:
        raise TypeError(f"{name} is trusted as a name, not to be called with arguments from a file")
    _, check_state, check_object = _checks_of_result(obj)
    if not has_state:
        if check_state is not None:
            raise TypeError(f"{name} must be followed by its object's state")
        if check_object is not None:
            check_object(obj)
    return obj


def _pyx_unpickle(trust: Trust, name: str, function: Any, args: tuple[Any, ...], has_state: bool) -> Any:
    """Cython's ``__pyx_unpickle_C(C, checksum, state)``: a blank C with ``state`` set in C
    code. The state is applied through ``set_state`` instead, so the validators see it first."""
    if len(args) != 3 or args[0] is not trust.resolve(pyx_unpickled_class(name) or ""):
        raise TypeError(f"{name} needs (its own class, checksum, state)")
    cls, checksum, state = args
    if type(checksum) is not int:
        raise TypeError(f"{name}'s checksum must be an int")
    obj = function(cls, checksum, None)
    if state is not None:
        set_state(obj, state, False)
    elif not has_state and _validate.checks_for(_name_of(cls))[1] is not None:
        raise TypeError(f"{name} must be given its object's state")
    return obj


def _checks_of_result(obj: Any) -> tuple[Any, Any, Any]:
    """The checks of a factory's result's type (none for a type without a name)."""
    try:
        return _validate.checks_for(_name_of(type(obj)))
    except TypeError:
        return _validate.checks_for("")


def _name_of(cls: type) -> str:
    name = _CLASS_NAMES.get(cls)
    if name is None:
        name = _CLASS_NAMES[cls] = qualified_name(cls)
    return name


def set_state(obj: Any, state: Any, with_items: bool) -> None:
    """Applies a reduce state (and list/dict items) to a new instance, as pickle does."""
    if with_items:
        state, list_items, dict_items = state
        for item in list_items:
            obj.append(item)
        for key, value in dict_items.items():
            obj[key] = value
        if state is None:
            return
    _, check_state, check_object = _validate.checks_for(_name_of(type(obj)))
    if check_state is not None:
        check_state(obj, state)
    setstate = getattr(type(obj), "__setstate__", None)
    if setstate is not None:
        setstate(obj, state)
    else:
        _default_set_state(obj, state)
    if check_object is not None:
        check_object(obj)


def _numpy_random_args(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The one argument numpy's random pickling helpers take here: a bit generator name, a bit
    generator class (for ``__bit_generator_ctor``) or instance (for the others). Their second,
    a callable, is never taken from a file."""
    from numpy.random.bit_generator import BitGenerator

    accepted = type if name.endswith("__bit_generator_ctor") else BitGenerator
    if len(args) == 1 and (type(args[0]) is str or isinstance(args[0], accepted)):
        if not isinstance(args[0], type) or issubclass(args[0], BitGenerator):
            return args
    raise TypeError(f"{name} takes one bit generator name, class or instance")


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
