"""Classes for the fidelity suite (``fidelity.py``), each exercising one corner of pickle's
reduce protocol. They live in an importable module so that their qualified names resolve at
load time, as a user's own classes would."""

from __future__ import annotations

import copyreg
import enum
from collections import namedtuple
from dataclasses import dataclass, field


@dataclass
class Point:
    x: object
    y: object = None
    tags: list = field(default_factory=list)


@dataclass(frozen=True)
class FrozenPoint:
    x: object
    y: object = None


@dataclass(slots=True)
class SlotPoint:
    x: object
    y: object = None


@dataclass(frozen=True, slots=True)
class FrozenSlotPoint:
    x: object
    y: object = None


Pair = namedtuple("Pair", "left right")


class Color(enum.Enum):
    RED = 1
    GREEN = "green"
    BLUE = (3, "b")


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 10


class Permission(enum.Flag):
    READ = 1
    WRITE = 2
    EXECUTE = 4


class AttrDict(dict):
    """A dict subclass with an instance attribute: pickle keeps both the items and the
    ``__dict__``."""


class AttrList(list):
    """A list subclass with an instance attribute."""


class AttrTuple(tuple):
    """A tuple subclass with an instance attribute (rebuilt through ``__new__`` arguments)."""


class AttrInt(int):
    """An int subclass with an instance attribute."""


class Slotted:
    """Only ``__slots__``: the default state is ``(None, {slot: value})``, unset slots left out."""

    __slots__ = ("a", "b")

    def __init__(self, a, b=None, set_b=True):
        self.a = a
        if set_b:
            self.b = b


class SlottedWithDict(Slotted):
    """Slots from the base and a ``__dict__`` from this class: the state is a (dict, slots) pair."""


class WithState:
    """``__getstate__``/``__setstate__`` that transform the state, so applying it with
    ``__dict__.update`` instead of ``__setstate__`` gives a different object."""

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return ("v1", self.value)

    def __setstate__(self, state):
        version, self.value = state
        self.restored_from = version


class Scaled:
    """Issue 12's first case: the constructor doubles, the factory does not."""

    def __init__(self, v):
        self.v = v * 2

    def __reduce__(self):
        return (rebuild_scaled, (self.v,))


def rebuild_scaled(v):
    scaled = Scaled.__new__(Scaled)
    scaled.v = v
    return scaled


class ProtocolSpecific:
    """``__reduce_ex__`` whose result depends on the protocol: at protocol 2 and above it goes
    through a factory that records the protocol."""

    def __init__(self, payload):
        self.payload = payload
        self.protocol = None

    def __reduce_ex__(self, protocol):
        if protocol < 2:
            return (ProtocolSpecific, (self.payload,))
        return (rebuild_protocol_specific, (self.payload, protocol))


def rebuild_protocol_specific(payload, protocol):
    obj = ProtocolSpecific(payload)
    obj.protocol = protocol
    return obj


class OldStyleReduce:
    """Reduces as protocols 0 and 1 do, through ``copyreg._reconstructor``."""

    def __init__(self, payload):
        self.payload = payload

    def __reduce_ex__(self, protocol):
        return copyreg._reconstructor, (OldStyleReduce, object, None), self.__dict__


class NewArgs:
    """``__new__`` needs its argument: pickle passes ``__getnewargs__``'s result to it."""

    def __new__(cls, key):
        obj = super().__new__(cls)
        obj.key = key
        obj.made_by_new = True
        return obj

    def __getnewargs__(self):
        return (self.key,)


class NewArgsEx:
    """``__new__`` with a keyword-only argument, passed by ``__getnewargs_ex__``."""

    def __new__(cls, key, *, scale):
        obj = super().__new__(cls)
        obj.key = key
        obj.scale = scale
        return obj

    def __getnewargs_ex__(self):
        return (self.key,), {"scale": self.scale}


class Singleton:
    """``__reduce__`` returns a string: the object is the module global of that name."""

    def __reduce__(self):
        return "SINGLETON"


SINGLETON = Singleton()


class StateSetter:
    """A reduce value with a sixth item (a state setter), which pickle honours since 3.8."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return (StateSetter, (None,), {"value": self.value}, None, None, set_state_setter_state)


def set_state_setter_state(obj, state):
    obj.value = state["value"]


class RefusesReduce:
    """Its reduce fails: neither pickle nor amberfile can write it."""

    def __reduce_ex__(self, protocol):
        raise TypeError("RefusesReduce cannot be pickled")


def local_instance():
    """An instance of a class that cannot be found again by its qualified name."""

    class Local:
        pass

    return Local()
