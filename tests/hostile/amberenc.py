"""An independent Amber encoder, written from the byte tables of spec/amber.md alone.

It shares no code with the reference crate or the Python package, so a bug in their writer
cannot hide the same bug in their reader. Every table entry is built from `struct` fields here;
hostile files are made by passing raw entries, tampering with extents, or editing the finished
bytes and re-sealing the CRCs (`reseal`).
"""

from __future__ import annotations

import hashlib
import struct
import zlib

MAGIC = b"\x89AMB\r\n\x1a\n"
NONE = 0xFFFFFFFF

# Section 7.1: scalar dtype codes and itemsizes.
SCALARS = {
    "bool": (1, 1), "int8": (2, 1), "int16": (3, 2), "int32": (4, 4), "int64": (5, 8),
    "uint8": (6, 1), "uint16": (7, 2), "uint32": (8, 4), "uint64": (9, 8), "float16": (10, 2),
    "bfloat16": (11, 2), "float32": (12, 4), "float64": (13, 8), "complex64": (14, 8),
    "complex128": (15, 16), "float8_e4m3fn": (16, 1), "float8_e5m2": (17, 1),
}
UNITS = ["generic", "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]
KINDS = {
    "none": 0, "bool": 1, "int": 2, "bigint": 3, "float": 4, "complex": 5, "str": 6, "bytes": 7,
    "list": 8, "tuple": 9, "set": 10, "frozenset": 11, "map": 12, "array": 13,
    "object_array": 14, "object": 15, "global": 16,
}


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def i64(v): return struct.pack("<q", v)
def crc(b): return zlib.crc32(b) & 0xFFFFFFFF


def bigint_bytes(value: int) -> bytes:
    """Minimal two's-complement little-endian encoding (section 6.6)."""
    magnitude = value if value >= 0 else ~value
    length = (magnitude.bit_length() + 8) // 8  # room for the sign bit
    return value.to_bytes(length, "little", signed=True)


# -- zstd frames, hand-built (RFC 8878): raw and RLE blocks need no entropy coder -------------

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_BLOCK = 128 * 1024


def _fcs(size: int) -> tuple[int, bytes]:
    """Frame_Content_Size flag and field for a single-segment frame."""
    if size < 256:
        return 0, u8(size)
    if size < 65536 + 256:
        return 1, u16(size - 256)
    if size < 2**32:
        return 2, u32(size)
    return 3, u64(size)


def zstd_frame(data: bytes, *, rle_of: tuple[int, int] | None = None, dict_id: int | None = None,
               declared: int | None = None, checksum: bytes | None = None) -> bytes:
    """One zstd frame of raw blocks holding `data` (or RLE blocks of `rle_of = (byte, count)`).

    `declared` overrides Frame_Content_Size; `dict_id` adds a Dictionary_ID; `checksum` appends
    those 4 bytes as Content_Checksum (not computed: callers use it to make a wrong one)."""
    size = rle_of[1] if rle_of else len(data)
    flag, field = _fcs(size if declared is None else declared)
    descriptor = (flag << 6) | (1 << 5) | ((1 << 2) if checksum else 0) | (3 if dict_id else 0)
    out = bytearray(ZSTD_MAGIC + u8(descriptor) + (u32(dict_id) if dict_id else b"") + field)
    if rle_of:
        byte, count = rle_of
        while True:
            n = min(count, MAX_BLOCK)
            count -= n
            out += (((n << 3) | (1 << 1) | (count == 0))).to_bytes(3, "little") + u8(byte)
            if count == 0:
                break
    else:
        pos = 0
        while True:
            chunk = data[pos:pos + MAX_BLOCK]
            pos += len(chunk)
            last = pos >= len(data)
            out += ((len(chunk) << 3) | last).to_bytes(3, "little") + chunk
            if last:
                break
    if checksum:
        out += checksum
    return bytes(out)


def legacy_frame(data: bytes, version: int) -> bytes:
    """A pre-RFC zstd frame (v0.5 or v0.7) holding `data` (< 256 bytes) in one raw block.

    Both versions use 3-byte block headers with the type in the top two bits (raw = 1, end =
    3). v0.5's frame header is one byte (window log - 11); v0.7's a descriptor (single
    segment, 1-byte content size) and the size."""
    assert len(data) < 256
    if version == 5:
        header = b"\x25\xb5\x2f\xfd" + u8(0)
    else:
        header = b"\x27\xb5\x2f\xfd" + u8(0x20) + u8(len(data))
    n = len(data)
    return header + bytes([(1 << 6) | (n >> 16), (n >> 8) & 0xFF, n & 0xFF]) + data + b"\xc0\x00\x00"


def shuffle(block: bytes, itemsize: int) -> bytes:
    """Section 8.3: byte j of every element together."""
    m = len(block) // itemsize
    return bytes(block[i * itemsize + j] for j in range(itemsize) for i in range(m))


# -- the file ----------------------------------------------------------------------------------

class Array:
    """One array-table entry and its stored bytes."""

    def __init__(self, dtype, itemsize, shape, logical=b"", *, order=0, codec=0, filter=0,
                 block_size=0, frames=None):
        self.dtype, self.itemsize, self.shape = dtype, itemsize, list(shape)
        self.order, self.codec, self.filter, self.block_size = order, codec, filter, block_size
        self.logical = logical
        if frames is None and codec == 1:
            frames = []
            for start in range(0, len(logical), block_size):
                block = logical[start:start + block_size]
                frames.append(zstd_frame(shuffle(block, itemsize) if filter else block))
        self.chunks = frames if codec == 1 else ([logical] if logical else [])
        # Hooks for hostile entries: change what the table says after the walk placed the data.
        self.extent_hook = None
        self.entry_overrides = {}


class AmberFile:
    """Builds a file table by table; `build()` runs the layout walk and seals every CRC."""

    def __init__(self, alignment=64):
        self.alignment = alignment
        self.strings: list[bytes] = []
        self._string_index: dict[bytes, int] = {}
        self.dtypes: list[bytes] = []
        self.itemsizes: list[int] = []
        self.dtype_render: list = []
        self.arrays: list[Array] = []
        self.nodes: list[bytes | None] = []
        self.node_render: list = []
        self.root = 0
        # Header fields a hostile file may change.
        self.version = (1, 0)
        self.required_features = 0
        self.optional_features = 0
        self.reserved = bytes(28)
        self.extension = b""  # bytes after the node table
        self.padding_byte = 0

    # strings
    def string(self, text: str | bytes, dedup=True) -> int:
        raw = text.encode() if isinstance(text, str) else text
        if dedup and raw in self._string_index:
            return self._string_index[raw]
        self._string_index.setdefault(raw, len(self.strings))
        self.strings.append(raw)
        return len(self.strings) - 1

    # dtypes
    def _add_dtype(self, entry: bytes, itemsize: int, render) -> int:
        if entry in self.dtypes:
            return self.dtypes.index(entry)
        self.dtypes.append(entry)
        self.itemsizes.append(itemsize)
        self.dtype_render.append(render)
        return len(self.dtypes) - 1

    def scalar(self, name: str) -> int:
        code, size = SCALARS[name]
        return self._add_dtype(u8(code), size, name)

    def sized(self, kind: str, n: int) -> int:
        code = {"bytes": 32, "unicode": 33, "void": 34}[kind]
        render = {"kind": kind, ("itemsize" if kind == "void" else "length"): n}
        return self._add_dtype(u8(code) + u32(n), 4 * n if kind == "unicode" else n, render)

    def time(self, kind: str, unit: int, count=1) -> int:
        code = {"datetime64": 35, "timedelta64": 36}[kind]
        render = {"kind": kind, "unit": UNITS[unit] if unit < len(UNITS) else unit, "count": count}
        return self._add_dtype(u8(code) + u8(unit) + u32(count), 8, render)

    def record(self, itemsize: int, fields: list[tuple]) -> int:
        """fields: (name, offset, dtype index, subarray shape)."""
        entry = bytearray(u8(48) + u32(itemsize) + u32(len(fields)))
        rendered = []
        for name, offset, dtype, shape in fields:
            entry += u32(self.string(name)) + u32(offset) + u32(dtype) + u8(len(shape))
            entry += b"".join(u64(d) for d in shape)
            rendered.append({"name": name, "offset": offset, "dtype": dtype, "shape": list(shape)})
        render = {"kind": "record", "itemsize": itemsize, "fields": rendered}
        return self._add_dtype(bytes(entry), itemsize, render)

    def raw_dtype(self, entry: bytes, itemsize=1) -> int:
        self.dtypes.append(entry)
        self.itemsizes.append(itemsize)
        self.dtype_render.append(None)
        return len(self.dtypes) - 1

    # arrays
    def array(self, dtype: int, shape, logical=b"", **kw) -> int:
        self.arrays.append(Array(dtype, self.itemsizes[dtype] if dtype < len(self.itemsizes) else 1,
                                 shape, logical, **kw))
        return len(self.arrays) - 1

    # nodes
    def reserve(self) -> int:
        self.nodes.append(None)
        self.node_render.append(None)
        return len(self.nodes) - 1

    def put(self, index: int, kind: str, payload: bytes, render) -> int:
        self.nodes[index] = u8(KINDS[kind]) + payload
        self.node_render[index] = dict(render, kind=kind)
        return index

    def node(self, kind: str, payload: bytes, render) -> int:
        return self.put(self.reserve(), kind, payload, render)

    def none(self): return self.node("none", b"", {})
    def boolean(self, v): return self.node("bool", u8(v), {"value": bool(v)})
    def float_(self, v):
        bits = struct.pack("<d", v)
        return self.node("float", bits, {"bits": bits[::-1].hex()})

    def integer(self, v: int) -> int:
        if -2**63 <= v < 2**63:
            return self.node("int", i64(v), {"value": v})
        raw = bigint_bytes(v)
        return self.node("bigint", u32(len(raw)) + raw, {"value": v})

    def text(self, s: str | bytes) -> int:
        index = self.string(s)
        value = s if isinstance(s, str) else s.decode("utf-8", "replace")
        return self.node("str", u32(index), {"value": value})

    def blob(self, b: bytes) -> int:
        return self.node("bytes", u32(len(b)) + b, {"hex": b.hex()})

    def seq(self, kind: str, items, at: int | None = None) -> int:
        items = list(items)
        payload = u32(len(items)) + b"".join(u32(i) for i in items)
        render = {"items": items}
        render_kind = kind
        index = self.reserve() if at is None else at
        self.put(index, kind, payload, render)
        self.node_render[index]["kind"] = render_kind
        return index

    def mapping(self, entries, at: int | None = None) -> int:
        entries = [list(e) for e in entries]
        payload = u32(len(entries)) + b"".join(u32(k) + u32(v) for k, v in entries)
        index = self.reserve() if at is None else at
        return self.put(index, "map", payload, {"entries": entries})

    def array_node(self, array: int) -> int:
        return self.node("array", u32(array), {"array": array})

    def object_array(self, shape, items, order=0, at: int | None = None) -> int:
        payload = u8(order) + u8(len(shape)) + b"".join(u64(d) for d in shape)
        payload += b"".join(u32(i) for i in items)
        index = self.reserve() if at is None else at
        return self.put(index, "object_array", payload,
                        {"order": "CF"[order], "shape": list(shape), "items": list(items)})

    def obj(self, type_name: str, args: int | None, state: int | None, at: int | None = None) -> int:
        payload = u32(self.string(type_name)) + u32(NONE if args is None else args)
        payload += u32(NONE if state is None else state)
        index = self.reserve() if at is None else at
        return self.put(index, "object", payload, {"type": type_name, "args": args, "state": state})

    def global_(self, name: str) -> int:
        return self.node("global", u32(self.string(name)), {"name": name})

    # the whole file
    def metadata(self) -> bytes:
        """The metadata section; extents must already be placed (see `build`)."""
        out = bytearray(u32(len(self.strings)) + u32(len(self.dtypes)) + u32(len(self.arrays))
                        + u32(len(self.nodes)) + u32(self.root))
        for s in self.strings:
            out += u32(len(s)) + s
        for d in self.dtypes:
            out += d
        for a in self.arrays:
            f = dict(dtype=a.dtype, order=a.order, codec=a.codec, filter=a.filter,
                     shape=a.shape, block_size=a.block_size, extents=a.extents)
            f.update(a.entry_overrides)
            out += u32(f["dtype"]) + u8(f["order"]) + u8(f["codec"]) + u8(f["filter"])
            out += u8(len(f["shape"])) + b"".join(u64(d) for d in f["shape"]) + u64(f["block_size"])
            out += u32(f.get("extent_count", len(f["extents"])))
            out += b"".join(u64(o) + u64(n) + u32(c) for o, n, c in f["extents"])
        for n in self.nodes:
            out += n
        return bytes(out + self.extension)

    def build(self) -> bytes:
        data = bytearray()
        cursor = 64
        for a in self.arrays:
            a.extents = []
            for chunk in a.chunks:
                if a.codec == 0:
                    pad = -cursor % self.alignment
                    data += bytes([self.padding_byte]) * pad
                    cursor += pad
                a.extents.append((cursor, len(chunk), crc(chunk)))
                data += chunk
                cursor += len(chunk)
            if a.extent_hook:
                a.extents = a.extent_hook(a.extents)
        header = MAGIC + u16(self.version[0]) + u16(self.version[1]) + u32(self.alignment)
        header += u64(self.required_features) + u64(self.optional_features) + self.reserved
        header += u32(crc(header))
        meta = self.metadata()
        return seal(header + bytes(data) + meta, 64 + len(data), len(meta))

    def rendering(self) -> dict:
        """The canonical rendering (section 15) this file must produce."""
        arrays = []
        for a in self.arrays:
            arrays.append({"dtype": self._render_dtype(a.dtype), "shape": a.shape,
                           "order": "CF"[a.order], "sha256": hashlib.sha256(a.logical).hexdigest()})
        return {"root": self.root, "nodes": self.node_render, "arrays": arrays}

    def _render_dtype(self, index):
        render = self.dtype_render[index]
        if isinstance(render, dict) and render.get("kind") == "record":
            return dict(render, fields=[dict(f, dtype=self._render_dtype(f["dtype"]))
                                        for f in render["fields"]])
        return render


def seal(body: bytes, metadata_offset: int, metadata_length: int) -> bytes:
    """Appends the trailer to header + data + metadata."""
    meta = body[metadata_offset:metadata_offset + metadata_length]
    trailer = u64(metadata_offset) + u64(metadata_length) + u32(crc(meta))
    return body + trailer + u32(crc(trailer)) + MAGIC


def reseal(file: bytes, *, header=True, metadata=True) -> bytes:
    """Recomputes the header CRC and the trailer after an edit (which must keep the layout)."""
    out = bytearray(file)
    if header:
        out[60:64] = u32(crc(bytes(out[:60])))
    offset, length = struct.unpack_from("<QQ", out, len(out) - 32)
    if metadata:
        out[-16:-12] = u32(crc(bytes(out[offset:offset + length])))
        out[-12:-8] = u32(crc(bytes(out[-32:-12])))
    return bytes(out)


# -- Python values, as the package's README maps them ----------------------------------------

class Reduced:
    """An object node given directly: type name, args (a tuple or None) and state."""

    def __init__(self, type_name, args=None, state=None):
        self.type_name, self.args, self.state = type_name, args, state


def numpy_dtype_of(f: AmberFile, dt) -> int:
    """The Amber dtype index of a (little-endian, non-object) numpy dtype."""
    if dt.fields is not None:
        fields = []
        for name in dt.names:
            sub, offset = dt.fields[name][:2]
            base, shape = (sub.base, sub.shape) if sub.shape else (sub, ())
            fields.append((name, offset, numpy_dtype_of(f, base), shape))
        return f.record(dt.itemsize, fields)
    if dt.kind == "S":
        return f.sized("bytes", dt.itemsize)
    if dt.kind == "U":
        return f.sized("unicode", dt.itemsize // 4)
    if dt.kind == "V":
        return f.sized("void", dt.itemsize)
    if dt.kind in "Mm":
        import numpy as np
        unit, count = np.datetime_data(dt)
        return f.time("datetime64" if dt.kind == "M" else "timedelta64", UNITS.index(unit), count)
    return f.scalar({"b": "bool"}.get(dt.kind, dt.name))


def encode_value(f: AmberFile, value, memo=None) -> int:
    """The node of a Python value; shared objects get one node (memo by id), as pickle does."""
    import copyreg
    import numpy as np
    memo = {} if memo is None else memo
    if id(value) in memo:
        return memo[id(value)][0]

    def remember(index):
        memo[id(value)] = (index, value)  # keep value alive so its id stays unique
        return index

    enc = lambda v: encode_value(f, v, memo)  # noqa: E731
    if value is None:
        return f.none()
    if isinstance(value, bool):
        return f.boolean(value)
    if isinstance(value, int):
        return f.integer(value)
    if isinstance(value, float):
        return f.float_(value)
    if isinstance(value, str):
        return f.text(value)
    if isinstance(value, bytes):
        return f.blob(value)
    if isinstance(value, Reduced):
        at = remember(f.reserve())
        args = None if value.args is None else enc(tuple(value.args))
        state = None if value.state is None else enc(value.state)
        return f.obj(value.type_name, args, state, at=at)
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}[type(value)]
        at = remember(f.reserve())
        return f.seq(kind, [enc(v) for v in value], at=at)
    if isinstance(value, dict):
        at = remember(f.reserve())
        return f.mapping([(enc(k), enc(v)) for k, v in value.items()], at=at)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            at = remember(f.reserve())
            return f.object_array(value.shape, [enc(v) for v in value.ravel()], at=at)
        data = value.astype(value.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d
        dtype = numpy_dtype_of(f, data.dtype)
        return remember(f.array_node(f.array(dtype, data.shape, data.tobytes())))
    if isinstance(value, np.generic):
        return remember(enc(Reduced(f"numpy.{type(value).__name__}", None, np.asarray(value))))
    if isinstance(value, np.dtype):
        if value == object:
            return remember(enc(Reduced("numpy.dtype", ("object",), None)))
        return remember(enc(Reduced("numpy.dtype", None, np.zeros(0, value))))
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f.global_(f"{value.__module__}.{value.__qualname__}")
    reduced = value.__reduce_ex__(4)
    callable_, args, state = (list(reduced) + [None, None])[:3]
    if callable_ is copyreg.__newobj__:
        name, ctor = _qualname(args[0]), tuple(args[1:]) or None
    elif isinstance(callable_, type):
        name, ctor = _qualname(callable_), tuple(args)
    else:  # a factory function: recorded by the object's own type
        own = type(value)
        name, ctor = _qualname(own), (None if args and args[0] is own else tuple(args))
    return remember(enc(Reduced(name, ctor, state)))


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
