"""Helpers shared by the tests: editing names inside valid files to make hostile ones."""

from __future__ import annotations

import struct
import sys
import types
import zlib

TRAILER_LEN = 32


def retarget(data: bytes, old: str, new: str) -> bytes:
    """Replaces the string ``old`` in the file's metadata by ``new`` (same length) and fixes
    the metadata and trailer CRCs, as an attacker controlling every byte would."""
    assert len(old) == len(new), "names must have the same length"
    trailer = data[-TRAILER_LEN:]
    offset, length = struct.unpack_from("<QQ", trailer)
    metadata = data[offset : offset + length]
    assert metadata.count(old.encode()) == 1, f"{old!r} must appear once in the metadata"
    metadata = metadata.replace(old.encode(), new.encode())
    head = struct.pack("<QQI", offset, length, zlib.crc32(metadata))
    new_trailer = head + struct.pack("<I", zlib.crc32(head)) + trailer[24:]
    return data[:offset] + metadata + new_trailer


def placeholder_module(name: str) -> types.ModuleType:
    """A module registered in sys.modules, to give test classes a name of a chosen length."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


def placeholder_class(qualified: str, reduce_value=None) -> type:
    """A class importable as ``qualified`` (``module.Name``), optionally with a custom reduce."""
    module_name, _, class_name = qualified.rpartition(".")
    module = sys.modules.get(module_name) or placeholder_module(module_name)
    namespace: dict = {"__module__": module_name, "__qualname__": class_name}
    if reduce_value is not None:
        namespace["__reduce__"] = lambda self: reduce_value(self)
        namespace["__reduce_ex__"] = lambda self, protocol: reduce_value(self)
    cls = type(class_name, (), namespace)
    setattr(module, class_name, cls)
    return cls


def placeholder_function(qualified: str):
    """A function importable as ``qualified``."""
    module_name, _, function_name = qualified.rpartition(".")
    module = sys.modules.get(module_name) or placeholder_module(module_name)

    def function():
        raise AssertionError("a function from a file was called")

    function.__module__ = module_name
    function.__qualname__ = function_name
    function.__name__ = function_name
    setattr(module, function_name, function)
    return function
