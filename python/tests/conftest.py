"""Helpers shared by the tests: editing names inside valid files to make hostile ones, and the
real S3 and HTTP servers the remote tests read from."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import types
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

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


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The servers' addresses: the test command's, or ones started here and stopped after."""
    names = ("AMBER_TEST_S3_ENDPOINT", "AMBER_TEST_S3_BUCKET", "AMBER_TEST_HTTP_URL", "AMBER_TEST_HTTP_ROOT")
    if all(name in os.environ for name in names):
        yield {name: os.environ[name] for name in names}
        return
    state = tmp_path_factory.mktemp("services")
    script = str(ROOT / "scripts" / "services.py")
    started = subprocess.run([sys.executable, script, "start", str(state)], capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())
        os.environ.update({key: value.strip("'") for key, value in exports.items() if key.startswith("AWS_")})
        yield {name: exports[name].strip("'") for name in names}
    finally:
        subprocess.run([sys.executable, script, "stop", str(state)], check=False)


@pytest.fixture(scope="session")
def s3_options(services: dict[str, str]) -> dict[str, object]:
    return {"aws_endpoint": services["AMBER_TEST_S3_ENDPOINT"], "aws_allow_http": True,
            "aws_region": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
