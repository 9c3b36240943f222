"""Amber files built from the spec's byte tables (sections 3, 5 and 6), for graphs that Python
cannot build safely or quickly: 300,000 nested object arrays crash the process that frees
them, and 60,000 colliding dict keys take a quarter of a minute to insert.

Arrays are empty (no extents), so the data region is empty and the metadata follows the header.
"""

from __future__ import annotations

import struct
import zlib

MAGIC = b"\x89AMB\r\n\x1a\n"
NONE = 0xFFFFFFFF
# CPython hashes an int as its value modulo this prime.
HASH_MODULUS = 2**61 - 1


def _header() -> bytes:
    head = MAGIC + struct.pack("<HHIQQ", 1, 0, 64, 0, 0) + bytes(28)
    return head + struct.pack("<I", zlib.crc32(head))


class Graph:
    """A string table and a node table, appended to in order; ``file`` makes the bytes."""

    def __init__(self) -> None:
        self.strings: list[bytes] = []
        self.dtypes: list[bytes] = []
        self.arrays: list[bytes] = []
        self.nodes: list[bytes] = []

    def string(self, text: str) -> int:
        self.strings.append(text.encode())
        return len(self.strings) - 1

    def uint8(self) -> int:
        self.dtypes.append(bytes([6]))
        return len(self.dtypes) - 1

    def record(self, itemsize: int, fields: list[tuple[int, int, int]]) -> int:
        """A record of ``(name string, offset, dtype)`` fields, none a subarray."""
        entry = struct.pack("<BII", 48, itemsize, len(fields))
        entry += b"".join(struct.pack("<IIIB", *field, 0) for field in fields)
        self.dtypes.append(entry)
        return len(self.dtypes) - 1

    def empty_array(self, dtype: int) -> int:
        """An array node of shape (0,): raw, no extent."""
        self.arrays.append(struct.pack("<IBBBBQQI", dtype, 0, 0, 0, 1, 0, 0, 0))
        return self._node(13, struct.pack("<I", len(self.arrays) - 1))

    def _node(self, kind: int, payload: bytes = b"") -> int:
        self.nodes.append(bytes([kind]) + payload)
        return len(self.nodes) - 1

    def none(self) -> int:
        return self._node(0)

    def int_(self, value: int) -> int:
        if -(2**63) <= value < 2**63:
            return self._node(2, struct.pack("<q", value))
        length = (value.bit_length() + 8) // 8
        return self._node(3, struct.pack("<I", length) + value.to_bytes(length, "little", signed=True))

    def str_(self, string_index: int) -> int:
        return self._node(6, struct.pack("<I", string_index))

    def seq(self, kind: str, items: list[int]) -> int:
        code = {"list": 8, "tuple": 9, "set": 10, "frozenset": 11}[kind]
        return self._node(code, struct.pack(f"<I{len(items)}I", len(items), *items))

    def map_(self, pairs: list[tuple[int, int]]) -> int:
        flat = [i for pair in pairs for i in pair]
        return self._node(12, struct.pack(f"<I{len(flat)}I", len(pairs), *flat))

    def object_array(self, shape: tuple[int, ...], items: list[int]) -> int:
        payload = struct.pack(f"<BB{len(shape)}Q{len(items)}I", 0, len(shape), *shape, *items)
        return self._node(14, payload)

    def object_(self, type_index: int, args: int = NONE, state: int = NONE) -> int:
        return self._node(15, struct.pack("<III", type_index, args, state))

    def file(self, root: int) -> bytes:
        metadata = b"".join(
            [struct.pack("<5I", len(self.strings), len(self.dtypes), len(self.arrays), len(self.nodes), root)]
            + [struct.pack("<I", len(s)) + s for s in self.strings]
            + self.dtypes
            + self.arrays
            + self.nodes
        )
        trailer = struct.pack("<QQI", 64, len(metadata), zlib.crc32(metadata))
        trailer += struct.pack("<I", zlib.crc32(trailer)) + MAGIC
        return _header() + metadata + trailer


def nested_object_arrays(depth: int) -> bytes:
    """``depth`` one-element object arrays, each holding the next; the innermost holds None."""
    g = Graph()
    inner = g.none()
    for _ in range(depth):
        inner = g.object_array((1,), [inner])
    return g.file(inner)


def nested_sequences(kind: str, depth: int) -> bytes:
    """``depth`` one-item lists or tuples (``kind``), each holding the next."""
    g = Graph()
    inner = g.none()
    for _ in range(depth):
        inner = g.seq(kind, [inner])
    return g.file(inner)


def nested_objects(type_name: str, depth: int) -> bytes:
    """``T(T(...T(None)))``, ``depth`` deep, each a typed object with args: ``slice`` and
    scikit-learn's ``PyFuncDistance64`` (a Cython class) are freed without the trashcan."""
    g = Graph()
    type_index = g.string(type_name)
    inner = g.none()
    for _ in range(depth):
        inner = g.object_(type_index, args=g.seq("tuple", [inner]))
    return g.file(inner)


def nested_slices(depth: int) -> bytes:
    return nested_objects("builtins.slice", depth)


def nested_distance_metrics(depth: int) -> bytes:
    return nested_objects("sklearn.metrics._dist_metrics.PyFuncDistance64", depth)


def colliding_ints(count: int) -> list[int]:
    """``count`` distinct big ints (beyond i64) that CPython hashes to one value."""
    base = (2**300 // HASH_MODULUS) * HASH_MODULUS + 7
    return [base + i * HASH_MODULUS for i in range(count)]


def colliding_keys(count: int, container: str) -> bytes:
    """A dict (``container="dict"``, values None) or a set of ``count`` colliding big ints."""
    g = Graph()
    keys = [g.int_(k) for k in colliding_ints(count)]
    if container == "dict":
        value = g.none()
        return g.file(g.map_([(k, value) for k in keys]))
    return g.file(g.seq(container, keys))


def shared_string(length: int, uses: int, *, one_node: bool) -> bytes:
    """A list of ``uses`` references to one string of ``length`` characters: all to one str
    node, or (``one_node=False``) each through a str node of its own naming the same entry."""
    g = Graph()
    text = g.string("s" * length)
    node = g.str_(text)
    items = [node if one_node else g.str_(text) for _ in range(uses)]
    return g.file(g.seq("list", items))


def shared_key_entries(key_length: int, entries: int) -> bytes:
    """A root dict of ``entries`` entries ``"e<i>": {key: i}``, one long key for all."""
    g = Graph()
    key = g.str_(g.string("k" * key_length))
    pairs = []
    for i in range(entries):
        name = g.str_(g.string(f"e{i}"))
        pairs.append((name, g.map_([(key, g.int_(i))])))
    return g.file(g.map_(pairs))


def shared_type_name(length: int, uses: int) -> bytes:
    """``uses`` objects of one untrusted type whose name is ``length`` bytes long."""
    g = Graph()
    name = g.string("x" * (length - 2) + ".T")
    return g.file(g.seq("list", [g.object_(name) for _ in range(uses)]))


def arrays_of_wide_dtype(field_count: int, arrays: int) -> bytes:
    """A list of ``arrays`` empty arrays sharing one record dtype of ``field_count`` one-byte
    fields."""
    g = Graph()
    byte = g.uint8()
    wide = g.record(field_count, [(g.string(f"f{i}"), i, byte) for i in range(field_count)])
    return g.file(g.seq("list", [g.empty_array(wide) for _ in range(arrays)]))


def long_name_dtype_dag(name_length: int, levels: int, arrays: int) -> bytes:
    """``arrays`` empty arrays of a record DAG ``levels`` deep (at most 14: the expanded field
    limit), each level two fields of the level below; the bottom record's one field has a name
    of ``name_length`` bytes, so the expansion repeats it ``2**levels`` times."""
    g = Graph()
    a, b = g.string("a"), g.string("b")
    dtype = g.record(1, [(g.string("n" * name_length), 0, g.uint8())])
    for level in range(levels):
        dtype = g.record(2 << level, [(a, 0, dtype), (b, 1 << level, dtype)])
    return g.file(g.seq("list", [g.empty_array(dtype) for _ in range(arrays)]))
