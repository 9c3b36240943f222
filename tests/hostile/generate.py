"""Writes the hostile suite's files and their manifest.

    python tests/hostile/generate.py OUT_DIR [--family NAME]

Every file is built from the spec's byte tables by `amberenc` (never from the conformance
goldens), deterministically. Each manifest case says what every reader path must do with it:

- expect "accept": a valid file. The CLI must render it (to `rendering` when given) and the
  Python paths must load it (to `py_repr` when given), unless `python` says otherwise;
- expect "reject": an invalid file; every path reports `error` (the spec's class). With
  `stage` "data" the fault is in array data, so paths that read no data may succeed;
- expect "bounded": a valid file that is a time or memory bomb; each path must finish within
  the suite's limits with a correct result or a typed error;
- python "state" (scikit-learn and scipy objects with bad state): `load` raises AmberError, or
  loads and the calls in `calls` work or raise ValueError.
"""

from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amberenc import (  # noqa: E402
    MAGIC, NONE, AmberFile, Reduced, bigint_bytes, crc, encode_value, legacy_frame, reseal, seal, u8,
    u32, u64, zstd_frame,
)

CASES: list[dict] = []
FAMILIES: dict[str, str] = {}


def family(name: str, doc: str):
    def register(fn):
        FAMILIES[name] = doc
        fn.family = name
        return fn
    return register


def emit(fam, name, data: bytes, expect, **meta):
    CASES.append(dict(file=f"{fam}/{name}.amber", family=fam, expect=expect, data=data, **meta))


def accept(fam, name, f: AmberFile, *, py_repr=None, render=True, **meta):
    data = f.build()
    if render:
        meta["rendering"] = f.rendering()
    if py_repr is not None:
        meta["py_repr"] = py_repr
    emit(fam, name, data, "accept", **meta)


def reject(fam, name, data: bytes, error: str, stage="open", **meta):
    emit(fam, name, data, "reject", error=error, stage=stage, **meta)


def bounded(fam, name, data: bytes, **meta):
    emit(fam, name, data, "bounded", **meta)


def tiny(value=7) -> AmberFile:
    f = AmberFile()
    f.root = f.integer(value)
    return f


def model() -> AmberFile:
    """A map holding one raw array, one shuffled zstd array and a few plain values."""
    f = AmberFile()
    weights = np.arange(24, dtype="<f4").reshape(4, 6)
    bias = np.linspace(0, 1, 40, dtype="<f8")
    w = f.array_node(f.array(f.scalar("float32"), weights.shape, weights.tobytes()))
    b = f.array_node(f.array(f.scalar("float64"), bias.shape, bias.tobytes(), codec=1, filter=1,
                             block_size=128))
    f.root = f.mapping([(f.text("weights"), w), (f.text("bias"), b),
                        (f.text("name"), f.text("model")), (f.text("epochs"), f.integer(3))])
    return f


MODEL_PATHS = ["weights", "bias"]


def with_metadata(data: bytes, edit) -> bytes:
    """Rewrites the metadata section with `edit(bytearray)` and re-seals the trailer."""
    offset, length = struct.unpack_from("<QQ", data, len(data) - 32)
    meta = bytearray(data[offset:offset + length])
    edit(meta)
    return seal(data[:offset] + bytes(meta), offset, len(meta))


def patch(data: bytes, at: int, raw: bytes, **reseal_kw) -> bytes:
    out = bytearray(data)
    out[at:at + len(raw)] = raw
    return reseal(bytes(out), **reseal_kw)


# -- valid files ------------------------------------------------------------------------------

@family("valid", "Valid files covering every node kind, dtype family, codec and shape edge; "
        "each must render exactly and load to the expected Python value.")
def valid():
    fam = "valid"
    f = AmberFile()
    f.root = f.none()
    accept(fam, "none_root", f, py_repr="None")
    for name, v in (("zero", 0), ("i64_min", -2**63), ("i64_max", 2**63 - 1), ("big_2_63", 2**63),
                    ("big_below_i64", -2**63 - 1), ("big_1024_bytes", 2**8191 - 1),
                    ("big_1024_bytes_negative", -2**8191)):
        accept(fam, f"int_{name}", tiny(v), py_repr=repr(v))
    f = AmberFile()
    f.root = f.seq("list", [f.float_(float("nan")), f.float_(-0.0), f.float_(float("inf")),
                            f.text("a\x00b\u00e9\U0010ffff"), f.blob(b"\x00\xff"), f.boolean(1)])
    accept(fam, "scalars", f, py_repr=repr([float("nan"), -0.0, float("inf"), "a\x00b\u00e9\U0010ffff",
                                            b"\x00\xff", True]))
    f = AmberFile()
    one, two = f.integer(1), f.text("two")
    f.root = f.seq("tuple", [f.seq("set", [one, two]), f.seq("frozenset", [one]),
                             f.mapping([(one, two), (f.seq("tuple", []), f.none())])])
    accept(fam, "containers", f, py_repr=repr(({1, "two"}, frozenset({1}), {1: "two", (): None})))
    f = AmberFile()
    f.root = f.reserve()
    f.seq("list", [f.root, f.integer(5)], at=f.root)
    accept(fam, "list_contains_itself", f, py_repr="[[...], 5]", to_value="InvalidGraph")
    for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float16", "float32", "float64", "complex64", "complex128"):
        arr = (np.arange(6) % 2 if name == "bool" else np.arange(6)).astype(name).reshape(2, 3)
        f = AmberFile()
        f.root = f.array_node(f.array(f.scalar(name), arr.shape, arr.tobytes()))
        accept(fam, f"array_{name}", f, py_repr=repr(arr), arrays=[""], convert=["npz"])
    for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):  # .npy cannot hold these: no extract
        f = AmberFile()
        d = f.scalar(name)
        x = f.array_node(f.array(d, [4], bytes([0x00, 0x3C, 0x40, 0x80] * f.itemsizes[d])))
        f.root = f.mapping([(f.text("x"), x)])  # safetensors wants a map of arrays
        accept(fam, f"array_{name}", f, convert=["safetensors"])
    arr = np.asfortranarray(np.arange(12, dtype="<i2").reshape(3, 4))
    f = AmberFile()
    f.root = f.array_node(f.array(f.scalar("int16"), [3, 4], arr.tobytes(order="F"), order=1))
    accept(fam, "fortran_order", f, py_repr=repr(arr), arrays=[""])
    for label, shape in (("scalar", []), ("0", [0]), ("3x0", [3, 0]), ("0x2_61", [0, 2**61])):
        data = b"" if 0 in shape else struct.pack("<i", 42)
        f = AmberFile()
        f.root = f.array_node(f.array(f.scalar("int32"), shape, data))
        # numpy sizes an array as if its zero dimensions were not there, so it cannot hold
        # [0, 2^61] int32: the package refuses it as LimitExceeded, with numpy's error as cause.
        limit = {"py_limit": "LimitExceeded"} if label == "0x2_61" else {}
        accept(fam, f"shape_{label}", f, arrays=[""], **limit)
    for unit in range(14):
        f = AmberFile()
        kind = "datetime64" if unit % 2 else "timedelta64"
        f.root = f.array_node(f.array(f.time(kind, unit, 1 if unit == 0 else 10), [2],
                                      struct.pack("<qq", 5, -2**63)))
        accept(fam, f"time_unit_{unit}", f, arrays=[""])
    f = AmberFile()
    byte = f.scalar("uint8")
    point = f.record(16, [("x", 0, f.scalar("float32"), ()), ("tag", 4, f.sized("bytes", 3), ()),
                          ("u", 8, f.sized("unicode", 1), ()), ("m", 12, byte, (2, 2)),
                          ("empty", 16, byte, (0,))])
    f.root = f.array_node(f.array(point, [2], bytes(range(32))))
    accept(fam, "record_subarray", f, arrays=[""])
    f = AmberFile()
    f.root = f.array_node(f.array(f.scalar("bool"), [4], bytes([0, 1, 2, 255])))
    accept(fam, "bool_bytes_not_0_1", f, arrays=[""], python="any")  # Python may refuse them
    data = np.arange(1000, dtype="<u4").tobytes()
    f = AmberFile()
    f.root = f.array_node(f.array(f.scalar("uint32"), [1000], data, codec=1, filter=1, block_size=1024))
    accept(fam, "zstd_shuffled_4_blocks", f, py_repr=repr(np.arange(1000, dtype="<u4")), arrays=[""])
    f = AmberFile()
    frame = zstd_frame(b"", rle_of=(7, 300_000))
    f.root = f.array_node(f.array(f.scalar("uint8"), [300_000], bytes([7]) * 300_000, codec=1,
                                  block_size=300_000, frames=[frame]))
    accept(fam, "zstd_rle_frame", f, arrays=[""])
    f = model()
    accept(fam, "model_map", f, arrays=MODEL_PATHS)
    f = AmberFile()
    f.root = f.mapping([(f.text("w"), f.array_node(f.array(f.scalar("float32"), [3], bytes(12)))),
                        (f.text("b"), f.array_node(f.array(f.scalar("int64"), [2], bytes(16), codec=1,
                                                           block_size=8)))])
    accept(fam, "flat_map_of_arrays", f, arrays=["w", "b"], convert=["npz", "safetensors"])
    f = model()
    f.alignment = 4096
    accept(fam, "alignment_4096", f, arrays=MODEL_PATHS)
    f = tiny()
    f.optional_features = 2**63 | 1
    accept(fam, "unknown_optional_features", f, py_repr="7")
    f = tiny()
    f.version = (1, 3)
    f.reserved = b"\x01" * 28
    f.extension = b"future metadata"
    accept(fam, "newer_minor_version", f, py_repr="7")
    f = AmberFile()
    f.root = f.seq("list", [f.global_("builtins.int"), f.obj("builtins.bytearray",
                                                             f.seq("tuple", [f.blob(b"hi")]), None)])
    accept(fam, "trusted_global_and_bytearray", f, py_repr="[<class 'int'>, bytearray(b'hi')]")


# -- header and trailer -----------------------------------------------------------------------

@family("header", "Header and trailer fields: magic, versions, alignment, feature bits, "
        "reserved bytes, every CRC, metadata offset and length (R1-R13).")
def header():
    fam = "header"
    good = model().build()
    reject(fam, "bad_magic", patch(good, 0, b"\x89AMC"), "BadMagic")
    reject(fam, "major_version_2", patch(good, 8, struct.pack("<H", 2)), "UnsupportedVersion")
    reject(fam, "major_version_0_bad_crc", patch(good, 8, b"\0\0", header=False), "UnsupportedVersion")
    reject(fam, "header_crc", patch(good, 60, b"\0\0\0\0", header=False), "ChecksumMismatch")
    for bit in (0, 17, 63):
        reject(fam, f"required_feature_bit_{bit}", patch(good, 16, u64(1 << bit)), "UnsupportedFeature")
    for align in (0, 32, 100, 2**25, 2**31):
        reject(fam, f"alignment_{align}", patch(good, 12, u32(align)), "InvalidHeader")
    reject(fam, "reserved_nonzero", patch(good, 59, b"\x01"), "InvalidHeader")
    reject(fam, "trailer_magic", good[:-1] + b"\x0b", "BadMagic")
    reject(fam, "appended_byte", good + b"\0", "BadMagic")
    out = bytearray(good)
    out[-12] ^= 1
    reject(fam, "trailer_crc", bytes(out), "ChecksumMismatch")
    out = bytearray(good)
    out[-16] ^= 1
    reject(fam, "metadata_crc", reseal_trailer(out), "ChecksumMismatch")
    offset, length = struct.unpack_from("<QQ", good, len(good) - 32)
    for name, (o, n), err in (("offset_below_64", (10, length), "OutOfBounds"),
                              ("length_overflow", (offset, 2**64 - offset), "OutOfBounds"),
                              ("length_past_trailer", (offset, length + 1), "OutOfBounds"),
                              ("offset_max", (2**64 - 1, 1), "OutOfBounds"),
                              ("metadata_short_of_trailer", (offset - 1, length), "InvalidLayout"),
                              ("metadata_length_19", (len(good) - 32 - 19, 19), "Truncated")):
        out = bytearray(good)
        out[-32:-16] = u64(o) + u64(n)
        out[-16:-12] = u32(crc(bytes(out[o:o + n]))) if o + n <= len(out) else b"\0\0\0\0"
        reject(fam, name, reseal_trailer(out), err)


def reseal_trailer(data) -> bytes:
    out = bytearray(data)
    out[-12:-8] = u32(crc(bytes(out[-32:-12])))
    return bytes(out)


@family("truncate", "The model file cut at every structure boundary (header, data, metadata "
        "tables, trailer): Truncated below 96 bytes, BadMagic (trailer magic) above.")
def truncate():
    good = model().build()
    offset, length = struct.unpack_from("<QQ", good, len(good) - 32)
    cuts = sorted({0, 1, 8, 12, 60, 64, 95, 96, 116, 200, offset, offset + 20, offset + length // 2,
                   len(good) - 33, len(good) - 32, len(good) - 8, len(good) - 1})
    for cut in cuts:
        reject("truncate", f"cut_at_{cut}", good[:cut], "Truncated" if cut < 96 else "BadMagic")


# -- metadata counts and lengths --------------------------------------------------------------

@family("lying-count", "Counts and lengths backed by nothing: table counts, string, bytes and "
        "bigint lengths, record field, extent, list, map and object-array counts larger than "
        "the bytes that remain (R17-R51, Truncated), and counts above the limits (R15).")
def lying_counts():
    fam = "lying-count"
    good = model().build()

    def at(pos, raw, name, err="Truncated"):
        def edit(meta):
            meta[pos:pos + len(raw)] = raw
        reject(fam, name, with_metadata(good, edit), err)

    at(0, u32(2**24), "string_count_max_strings")  # equals the limit: the bytes then run out
    at(0, u32(2**24 + 1), "string_count_over_limit", "LimitExceeded")
    at(4, u32(65537), "dtype_count_over_limit", "LimitExceeded")
    at(8, u32(2**20 + 1), "array_count_over_limit", "LimitExceeded")
    at(12, u32(2**24 + 1), "node_count_over_limit", "LimitExceeded")
    at(16, u32(0xFFFFFFFF), "root_out_of_range", "InvalidIndex")
    at(20, u32(0xFFFFFFFF), "string_length_lies")

    def bare(nodes_payload: bytes, dtypes=b"", arrays=b"", strings=(), narrays=0, ndtypes=0):
        meta = u32(len(strings)) + u32(ndtypes) + u32(narrays) + u32(1) + u32(0)
        meta += b"".join(u32(len(s)) + s for s in strings) + dtypes + arrays + nodes_payload
        return raw_file(meta)

    for kind, name in ((7, "bytes"), (3, "bigint")):
        reject(fam, f"{name}_length_lies", bare(u8(kind) + u32(0xFFFFFFFF)), "Truncated")
    for kind, name in ((8, "list"), (9, "tuple"), (10, "set"), (11, "frozenset"), (12, "map")):
        reject(fam, f"{name}_count_lies", bare(u8(kind) + u32(0x40000000)), "Truncated")
    reject(fam, "object_array_items_lie",
           bare(u8(14) + u8(0) + u8(2) + u64(2**32) + u64(2**31)), "Truncated")
    reject(fam, "record_field_count_lies",
           bare(u8(0), dtypes=u8(1) + u8(48) + u32(4) + u32(60000), ndtypes=2), "Truncated")
    reject(fam, "record_field_count_over_limit",
           bare(u8(0), dtypes=u8(48) + u32(4) + u32(65537), ndtypes=1), "LimitExceeded")
    reject(fam, "dtype_count_lies", raw_file(u32(0) + u32(60000) + u32(0) + u32(1) + u32(0) + u8(0)),
           "Truncated")
    reject(fam, "array_count_lies", raw_file(u32(0) + u32(1) + u32(5000) + u32(1) + u32(0) + u8(6) + u8(0)),
           "Truncated")
    reject(fam, "node_count_lies", raw_file(u32(0) + u32(0) + u32(0) + u32(5000) + u32(0) + u8(0)),
           "Truncated")
    # extent count equal to what the shape asks (2^30 blocks) but not backed by bytes.
    entry = u32(0) + u8(0) + u8(1) + u8(0) + u8(1) + u64(2**30) + u64(1) + u32(2**30)
    reject(fam, "extent_count_lies", raw_file(u32(0) + u32(1) + u32(1) + u32(1) + u32(0) + u8(6)
                                              + entry + u8(0)), "Truncated")


def u16v(v):
    return struct.pack("<H", v)


def raw_file(meta: bytes, alignment=64, data=b"") -> bytes:
    """A file around a hand-written metadata section."""
    head = MAGIC + u16v(1) + u16v(0) + u32(alignment) + bytes(44)
    head += u32(crc(head))
    return seal(head + data + meta, 64 + len(data), len(meta))


# -- layout and extents -----------------------------------------------------------------------

@family("layout", "The layout walk (R53-R56) and extent checks: misaligned, overlapping, "
        "out-of-order and gapped extents, lying stored lengths, non-zero padding, bytes before "
        "the metadata, bad extent CRCs (raw and compressed).")
def layout():
    fam = "layout"

    def two_raw():
        f = AmberFile()
        a = f.array_node(f.array(f.scalar("uint8"), [10], bytes(range(10))))
        b = f.array_node(f.array(f.scalar("uint8"), [10], bytes(range(10, 20))))
        f.root = f.seq("list", [a, b])
        return f

    def hooked(name, array, hook, err, stage="open"):
        f = two_raw()
        f.arrays[array].extent_hook = hook
        reject(fam, name, f.build(), err, stage=stage, arrays=["0", "1"])

    def hooked_block(name, hook, err, **meta):
        """One array of a single zstd block, its extent record rewritten by `hook`."""
        f = AmberFile()
        f.root = f.array_node(f.array(f.scalar("uint8"), [100], bytes(100), codec=1, block_size=100))
        f.arrays[0].extent_hook = hook
        reject(fam, name, f.build(), err, **meta)

    hooked("misaligned", 0, lambda e: [(e[0][0] + 1, e[0][1], e[0][2])], "InvalidLayout")
    hooked("overlap", 1, lambda e: [(64, e[0][1], e[0][2])], "InvalidLayout")
    hooked("offset_max", 1, lambda e: [(2**64 - 1, e[0][1], e[0][2])], "InvalidLayout")
    hooked("stored_length_lies", 0, lambda e: [(e[0][0], 11, e[0][2])], "LengthMismatch")
    hooked("raw_crc", 1, lambda e: [(e[0][0], e[0][1], e[0][2] ^ 1)], "ChecksumMismatch", "data")
    f2 = two_raw()
    f2.arrays[0].extent_hook = lambda e: [(128, 10, e[0][2])]
    f2.arrays[1].extent_hook = lambda e: [(64, 10, e[0][2])]
    reject(fam, "out_of_order", f2.build(), "InvalidLayout")
    f = AmberFile()
    a = f.array_node(f.array(f.scalar("uint8"), [10], bytes(range(10))))
    b = f.array_node(f.array(f.scalar("uint8"), [10], bytes(range(10, 20))))
    f.root = f.mapping([(f.text("a"), a), (f.text("b"), b)])
    f.padding_byte = 0xAA
    # Spec 9.6: a partial reader (the CLI's mapped open, open_mmap, mmap_mode, lazy_load)
    # checks the padding before array "b" only when "b" is read: listing the file, and
    # extracting "a" (no padding before it), succeed; everything that reads "b" fails. The
    # root is a flat map so that the conversions read the arrays.
    reject(fam, "nonzero_padding", f.build(), "NonZeroPadding", arrays=["a", "b"],
           may_pass=["cli:inspect", "cli:inspect-json", "cli:extract[a]"])
    good = two_raw().build()
    offset, length = struct.unpack_from("<QQ", good, len(good) - 32)
    meta = good[offset:offset + length]
    reject(fam, "gap_before_metadata", seal(good[:offset] + b"\0" + meta, offset + 1, length),
           "InvalidLayout")
    hooked_block("compressed_length_overflow", lambda e: [(e[0][0], 2**64 - e[0][0], e[0][2])], "OutOfBounds")
    hooked_block("compressed_crc", lambda e: [(e[0][0], e[0][1], e[0][2] ^ 1)], "ChecksumMismatch",
                 stage="data", arrays=[""])
    hooked_block("compressed_length_zero", lambda e: [(e[0][0], 0, e[0][2])], "LengthMismatch")


# -- dtypes -----------------------------------------------------------------------------------

@family("dtype", "Dtype table entries: unknown codes and units, sizes, record fields (names, "
        "forward references, overlaps, extents, subarray rank and overflow, depth and "
        "expanded-count limits), invalid UTF-8 in field names (R20-R35).")
def dtypes():
    fam = "dtype"

    def one(entry: bytes, name, err, strings=()):
        f = AmberFile()
        for s in strings:
            f.string(s, dedup=False)
        f.raw_dtype(entry)
        f.root = f.none()
        reject(fam, name, f.build(), err)

    for code in (0, 18, 31, 37, 47, 49, 255):
        one(u8(code), f"unknown_code_{code}", "InvalidDtype")
    one(u8(32) + u32(0), "bytes_n_0", "InvalidDtype")
    one(u8(33) + u32(2**29), "unicode_itemsize_2_31", "InvalidDtype")
    one(u8(34) + u32(2**31), "void_itemsize_2_31", "InvalidDtype")
    one(u8(35) + u8(14) + u32(1), "datetime_unit_14", "InvalidDtype")
    one(u8(36) + u8(0) + u32(2), "timedelta_generic_count_2", "InvalidDtype")
    one(u8(35) + u8(7) + u32(0), "datetime_count_0", "InvalidDtype")
    one(u8(48) + u32(0) + u32(0), "record_itemsize_0", "InvalidDtype")
    one(u8(48) + u32(2**31) + u32(0), "record_itemsize_2_31", "InvalidDtype")
    one(u8(48) + u32(4) + u32(1) + u32(5) + u32(0) + u32(0) + u8(0), "field_name_index", "InvalidIndex")
    one(u8(48) + u32(4) + u32(1) + u32(0) + u32(0) + u32(0) + u8(0), "field_self_reference",
        "InvalidDtype", strings=["x"])

    def rec(fields_raw: bytes, count, name, err, itemsize=16, strings=("a", "b")):
        f = AmberFile()
        for s in strings:
            f.string(s, dedup=False)
        f.raw_dtype(u8(6))  # uint8
        f.raw_dtype(u8(48) + u32(itemsize) + u32(count) + fields_raw)
        f.root = f.none()
        reject(fam, name, f.build(), err)

    def field(name_idx, offset, dtype=0, shape=()):
        return u32(name_idx) + u32(offset) + u32(dtype) + u8(len(shape)) + b"".join(u64(d) for d in shape)

    rec(field(0, 0) + field(0, 1), 2, "duplicate_field_names", "InvalidDtype")
    rec(field(0, 0, dtype=2), 1, "field_forward_reference", "InvalidDtype")
    rec(field(0, 0, shape=[1] * 65), 1, "field_ndim_65", "LimitExceeded")
    rec(field(0, 10, shape=[7]), 1, "field_past_itemsize", "InvalidDtype")
    rec(field(0, 0, shape=[2**32, 2**32]), 1, "field_shape_overflow", "InvalidDtype")
    rec(field(0, 0, shape=[4]) + field(1, 2), 2, "fields_overlap", "InvalidDtype")
    rec(field(0, 0, shape=[0]) + field(1, 0), 2, "zero_size_field_at_start", "accept")
    CASES[-1].update(expect="accept", error=None, stage=None)
    rec(field(0, 4, shape=[4]) + field(1, 6, shape=[0]), 2, "zero_size_field_inside", "InvalidDtype")
    f = AmberFile()
    f.string(b"\xc0\x80", dedup=False)
    f.raw_dtype(u8(6))
    f.raw_dtype(u8(48) + u32(1) + u32(1) + field(0, 0))
    f.root = f.none()
    reject(fam, "field_name_overlong_utf8", f.build(), "InvalidUtf8")
    # 33 nested records: depth 33 > max_dtype_depth.
    f = AmberFile()
    prev = f.scalar("uint8")
    for _ in range(33):
        prev = f.raw_dtype(u8(48) + u32(1) + u32(1) + field(f.string("f"), 0, prev), 1)
    f.root = f.none()
    reject(fam, "depth_33", f.build(), "LimitExceeded")
    # Expanded field count: a doubling DAG past 65,536.
    f = AmberFile()
    prev = f.scalar("uint8")
    a, b = f.string("a"), f.string("b")
    size = 1
    for _ in range(16):
        prev = f.raw_dtype(u8(48) + u32(2 * size) + u32(2) + field(a, 0, prev) + field(b, size, prev),
                           2 * size)
        size *= 2
    f.root = f.none()
    reject(fam, "expanded_fields_over_limit", f.build(), "LimitExceeded")


# -- array entries ----------------------------------------------------------------------------

@family("array", "Array table entries: dtype index, order, codec, filter, rank, overflowing "
        "shapes, block sizes, extent counts, and a declared size above max_decoded_bytes "
        "(R37-R48, R57).")
def arrays():
    fam = "array"

    def entry(name, err, shape=(10,), stage="open", logical=None, element="uint8", **over):
        f = AmberFile()
        d = f.scalar(element)
        nbytes = int(np.prod(shape)) * f.itemsizes[d] if all(s < 2**20 for s in shape) else 0
        f.root = f.array_node(f.array(d, list(shape), bytes(nbytes) if logical is None else logical))
        f.arrays[0].entry_overrides = over
        reject(fam, name, f.build(), err, stage=stage, arrays=[""])

    entry("dtype_index", "InvalidIndex", dtype=5)
    entry("order_2", "InvalidArray", order=2)
    entry("codec_2", "InvalidArray", codec=2)
    entry("filter_2", "InvalidArray", filter=2)
    entry("shuffle_without_codec", "InvalidArray", filter=1)
    entry("ndim_65", "LimitExceeded", shape=[1] * 65)
    entry("shape_overflow", "LimitExceeded", shape=[2**40, 2**40], logical=b"")
    entry("shape_overflow_then_zero", "LimitExceeded", shape=[2**40, 2**40, 0], logical=b"")
    entry("shape_zero_then_overflow", "LimitExceeded", shape=[0, 2**40, 2**40], logical=b"")
    entry("shape_itemsize_overflow", "LimitExceeded", shape=[2**62], logical=b"", element="int64")
    entry("raw_block_size_1", "InvalidArray", block_size=1)
    entry("extent_count_0", "LengthMismatch", extent_count=0, extents=[])
    entry("extent_count_2", "LengthMismatch", extent_count=2)

    def zentry(name, err, **over):
        f = AmberFile()
        f.root = f.array_node(f.array(f.scalar("uint32"), [10], bytes(40), codec=1, block_size=40))
        f.arrays[0].entry_overrides = over
        reject(fam, name, f.build(), err, arrays=[""])

    zentry("block_size_0", "LimitExceeded", block_size=0)
    zentry("block_size_2_30_plus_1", "LimitExceeded", block_size=2**30 + 1)
    zentry("block_size_not_itemsize_multiple", "InvalidArray", block_size=6)
    zentry("block_count_mismatch", "LengthMismatch", block_size=20)
    # 8 GiB declared in 8 RLE blocks of 1 GiB (tiny frames): above max_decoded_bytes.
    f = AmberFile()
    frames = [zstd_frame(b"", rle_of=(0, 2**30)) for _ in range(8)]
    f.root = f.array_node(f.array(f.scalar("uint8"), [2**33], b"", codec=1, block_size=2**30,
                                  frames=frames))
    # verify streams block by block and allocates nothing of the array's size: it may pass
    # (R57 is about materializing); extract and convert would stream 8 GiB, so are skipped.
    reject(fam, "decoded_size_over_limit", f.build(), "LimitExceeded", stage="data",
           may_pass=["cli:verify", "py:verify"], skip=["cli:extract", "cli:convert"])


# -- zstd frames ------------------------------------------------------------------------------

@family("zstd", "Compressed blocks that are not exactly one RFC 8878 frame of the block's "
        "length: garbage, skippable and concatenated frames, trailing bytes, dictionaries, "
        "wrong content size, short and long output, bad content checksum, legacy v0.5/v0.7 "
        "frames (CorruptBlock, R59); a 1 GiB shuffled block (bounded).")
def zstd():
    fam = "zstd"
    block = bytes(range(64))

    def frame_case(name, frame, err="CorruptBlock", length=64):
        f = AmberFile()
        f.root = f.array_node(f.array(f.scalar("uint8"), [length], block[:length], codec=1,
                                      block_size=length, frames=[frame]))
        reject(fam, name, f.build(), err, stage="data", arrays=[""])

    good = zstd_frame(block)
    frame_case("garbage", b"\x00" * 20)
    frame_case("skippable_frame", b"\x50\x2a\x4d\x18" + u32(4) + b"abcd")
    frame_case("skippable_then_frame", b"\x50\x2a\x4d\x18" + u32(0) + good)
    frame_case("two_frames", zstd_frame(block[:32]) + zstd_frame(block[32:]))
    frame_case("trailing_byte", good + b"\0")
    frame_case("dictionary_id", zstd_frame(block, dict_id=7))
    frame_case("content_size_larger", zstd_frame(block, declared=65))
    frame_case("content_size_smaller", zstd_frame(block, declared=63))
    frame_case("output_short", zstd_frame(block[:60]))
    frame_case("output_long", zstd_frame(block + b"xx"))
    frame_case("bad_checksum", zstd_frame(block, checksum=b"\xde\xad\xbe\xef"))
    frame_case("truncated_frame", good[:-5])
    frame_case("legacy_v05", legacy_frame(block, 5))
    frame_case("legacy_v07", legacy_frame(block, 7))
    # A 1 GiB shuffled block of float64: decoding must stay near the block's size.
    f = AmberFile()
    frame = zstd_frame(b"", rle_of=(0x3F, 2**30))
    f.root = f.array_node(f.array(f.scalar("float64"), [2**27], b"", codec=1, filter=1,
                                  block_size=2**30, frames=[frame]))
    bounded(fam, "shuffled_1gib_block", f.build(), arrays=[""], heavy=True)


# -- nodes ------------------------------------------------------------------------------------

@family("node", "Node table entries: unknown kinds, bool bytes, non-minimal and oversized "
        "bigints, every index field out of range, object-array order, rank and overflow, and "
        "invalid UTF-8 (overlong, surrogate, above U+10FFFF) in strings and type names.")
def nodes():
    fam = "node"

    def one(payload: bytes, name, err, strings=(), extra_nodes=0):
        meta = u32(len(strings)) + u32(0) + u32(0) + u32(1 + extra_nodes) + u32(0)
        meta += b"".join(u32(len(s)) + s for s in strings) + payload + u8(0) * extra_nodes
        reject(fam, name, raw_file(meta), err)

    for kind in (17, 100, 255):
        one(u8(kind), f"unknown_kind_{kind}", "InvalidNode")
    one(u8(1) + u8(2), "bool_2", "InvalidNode")
    one(u8(3) + u32(9) + (5).to_bytes(9, "little"), "bigint_fits_i64", "InvalidNode")
    one(u8(3) + u32(8) + bytes(8), "bigint_8_bytes", "InvalidNode")
    one(u8(3) + u32(10) + bigint_bytes(2**64) + b"\0", "bigint_not_minimal", "InvalidNode")
    one(u8(3) + u32(10) + bigint_bytes(-2**64) + b"\xff", "bigint_not_minimal_negative", "InvalidNode")
    big = bigint_bytes(2**(1025 * 8 - 1) - 1)
    one(u8(3) + u32(len(big)) + big, "bigint_1025_bytes", "LimitExceeded")
    one(u8(6) + u32(0), "str_index", "InvalidIndex")
    one(u8(16) + u32(1), "global_index", "InvalidIndex", strings=[b"x"])
    one(u8(8) + u32(1) + u32(1), "list_item_index", "InvalidIndex")
    one(u8(12) + u32(1) + u32(0) + u32(9), "map_value_index", "InvalidIndex")
    one(u8(13) + u32(0), "array_index", "InvalidIndex")
    one(u8(14) + u8(2) + u8(1) + u64(1) + u32(0), "object_array_order_2", "InvalidNode")
    one(u8(14) + u8(0) + u8(65) + u64(1) * 65 + u32(0), "object_array_ndim_65", "LimitExceeded")
    one(u8(14) + u8(0) + u8(2) + u64(2**33) + u64(2**33), "object_array_shape_overflow", "LimitExceeded")
    one(u8(15) + u32(3) + u32(NONE) + u32(NONE), "object_type_index", "InvalidIndex", strings=[b"x"])
    one(u8(15) + u32(0) + u32(5) + u32(NONE), "object_args_index", "InvalidIndex", strings=[b"x"])
    one(u8(15) + u32(0) + u32(NONE) + u32(NONE - 1), "object_state_index", "InvalidIndex", strings=[b"x"])
    reject(fam, "node_count_0", raw_file(u32(0) * 5), "InvalidIndex")
    one(u8(0), "trailing_bytes_after_nodes", "TrailingBytes", extra_nodes=0)
    CASES[-1]["data"] = raw_file(u32(0) * 3 + u32(1) + u32(0) + u8(0) + b"\0")
    for name, raw in (("overlong", b"\xc1\xbf"), ("surrogate", b"\xed\xa0\x80"),
                      ("above_10ffff", b"\xf4\x90\x80\x80"), ("lone_continuation", b"a\x80"),
                      ("truncated_sequence", b"\xe2\x82")):
        one(u8(6) + u32(0), f"str_utf8_{name}", "InvalidUtf8", strings=[raw])
    one(u8(15) + u32(0) + u32(NONE) + u32(NONE), "type_name_utf8", "InvalidUtf8",
        strings=[b"sklearn.\xff"])


# -- graph semantics --------------------------------------------------------------------------

@family("graph", "Valid graphs Python cannot build or must refuse: cycles through immutable "
        "values, unhashable and duplicate keys and set items, untrusted names; each must be a "
        "typed error in Python and render in the CLI.")
def graph():
    fam = "graph"

    def case(name, f, python, **meta):
        accept(fam, name, f, python=python, **meta)

    f = AmberFile()
    f.root = f.reserve()
    f.seq("tuple", [f.root], at=f.root)
    case("tuple_contains_itself", f, "error", to_value="InvalidGraph")
    f = AmberFile()
    f.root = f.reserve()
    inner = f.seq("tuple", [f.root])
    f.seq("frozenset", [inner], at=f.root)
    case("frozenset_tuple_cycle", f, "error", to_value="InvalidGraph")
    f = AmberFile()
    f.root = f.reserve()
    f.obj("builtins.slice", f.seq("tuple", [f.root, f.none(), f.none()]), None, at=f.root)
    case("slice_contains_itself", f, "error", to_value="InvalidGraph")
    f = AmberFile()
    f.root = f.mapping([(f.seq("list", []), f.none())])
    case("list_as_dict_key", f, "error")
    f = AmberFile()
    one = f.integer(1)
    f.root = f.mapping([(one, f.none()), (f.integer(1), f.none())])
    case("duplicate_dict_keys", f, "error")
    f = AmberFile()
    f.root = f.seq("set", [f.integer(1), f.float_(1.0)])
    case("duplicate_set_items", f, "error")
    f = AmberFile()
    f.root = f.obj("os.system", f.seq("tuple", [f.text("echo pwned")]), None)
    case("untrusted_os_system", f, "untrusted", untrusted=["os.system"])
    f = AmberFile()
    f.root = f.global_("builtins.eval")
    case("untrusted_global_eval", f, "untrusted", untrusted=["builtins.eval"])
    f = AmberFile()
    f.root = f.obj("sklearn.base.os.system", f.seq("tuple", [f.text("echo")]), None)
    case("untrusted_alias_name", f, "untrusted", untrusted=["sklearn.base.os.system"])
    f = AmberFile()
    f.root = f.obj("builtins.list", f.seq("tuple", [f.obj("builtins.range", f.seq(
        "tuple", [f.integer(10**12)]), None)]), None)
    case("list_of_huge_range", f, "error")


# -- time and memory bombs --------------------------------------------------------------------

@family("bomb", "Valid files that are time or memory bombs for a naive reader (issue 11): "
        "hash-flooded keys and set items, repeated big ints and strings, a record DAG with a "
        "2 MiB name, many arrays sharing a huge record, deep nesting of lists, dicts, object "
        "arrays and slices, and a giant .npy header for extract.")
def bombs():
    fam = "bomb"
    modulus = 2**61 - 1  # CPython hashes ints modulo this Mersenne prime
    keys = [2**64 + i * modulus for i in range(100_000)]
    f = AmberFile()
    f.root = f.mapping([(f.integer(k), f.none()) for k in keys])
    bounded(fam, "hash_flood_dict_100k", f.build())
    f = AmberFile()
    f.root = f.seq("set", [f.integer(k) for k in keys])
    bounded(fam, "hash_flood_set_100k", f.build())

    f = AmberFile()
    name = f.string("n" * (2 * 2**20))
    prev = f.record(1, [(f.strings[name].decode(), 0, f.scalar("uint8"), ())])
    size = 1
    for _ in range(10):  # 1,024 copies of the 2 MiB name in the expanded tree
        prev = f.record(2 * size, [("a", 0, prev, ()), ("b", size, prev, ())])
        size *= 2
    f.root = f.seq("list", [f.array_node(f.array(prev, [0])) for _ in range(1000)])
    bounded(fam, "record_dag_2mib_name", f.build(), arrays=["0"])

    f = AmberFile()
    u = f.scalar("uint8")
    wide = f.record(65535, [(f"f{i}", i, u, ()) for i in range(65535)])
    f.root = f.seq("list", [f.array_node(f.array(wide, [0])) for _ in range(100_000)])
    bounded(fam, "100k_empty_arrays_65535_fields", f.build(), arrays=["0"])

    f = AmberFile()
    big = f.integer(2**(1024 * 8 - 1) - 1)
    f.root = f.seq("list", [big] * 20_000)
    accept(fam, "20k_refs_one_bigint", f, render=False)
    f = AmberFile()
    f.root = f.seq("list", [f.integer(2**(1024 * 8 - 1) - 1 - i) for i in range(20_000)])
    accept(fam, "20k_distinct_max_bigints", f, render=False)
    f = AmberFile()
    key = f.text("k" * (4 * 2**20))
    f.root = f.seq("list", [f.mapping([(key, f.integer(i))]) for i in range(1000)])
    # Each of the 1,000 paths spells the key: 4 GB of `inspect --json`, past its output budget.
    accept(fam, "4mib_key_1000_entries", f, render=False, to_value="any",
           may_refuse=["cli:inspect-json"])
    f = AmberFile()
    s = f.text("s" * 2**20)
    f.root = f.seq("list", [s] * 20_000)
    accept(fam, "1mib_string_20k_refs", f, render=False, to_value="any")

    for kind in ("list", "tuple", "map", "object_array", "slice"):
        bounded(fam, f"nested_{kind}_300k", nested(kind, 300_000))

    # extract: a record DAG whose .npy descr expands a 64 KiB name 8,192 times (512 MiB).
    f = AmberFile()
    prev = f.record(1, [("x" * 65536, 0, f.scalar("uint8"), ())])
    size = 1
    for _ in range(13):
        prev = f.record(2 * size, [("a", 0, prev, ()), ("b", size, prev, ())])
        size *= 2
    f.root = f.array_node(f.array(prev, [1], bytes(size)))
    bounded(fam, "extract_giant_npy_header", f.build(), arrays=[""])


def nested(kind: str, depth: int) -> bytes:
    """`depth` containers, each holding the next (node i holds node i - 1; node 0 is None).

    Built straight from node bytes: a million-node graph through the general API is slow."""
    f = AmberFile()
    none, zero = f.none(), f.integer(0)  # nodes 0 and 1
    pack = struct.Struct("<I").pack
    if kind == "slice":
        slice_name, none_pack = f.string("builtins.slice"), pack(none)
        # node 2k: the slice object; node 2k + 1: its args tuple (previous slice, None, None).
        entries = []
        for level in range(depth):
            inner = none if level == 0 else 2 + 2 * (level - 1)
            entries.append(u8(15) + u32(slice_name) + pack(3 + 2 * level) + u32(NONE))
            entries.append(u8(9) + u32(3) + pack(inner) + none_pack + none_pack)
        root = 2 + 2 * (depth - 1)
    else:
        head = {"list": u8(8) + u32(1), "tuple": u8(9) + u32(1), "map": u8(12) + u32(1) + pack(zero),
                "object_array": u8(14) + u8(0) + u8(1) + u64(1)}[kind]
        entries = [head + pack(none if level == 0 else 1 + level) for level in range(depth)]
        root = 1 + depth
    f.nodes.extend(entries)
    f.node_render.extend([None] * len(entries))
    f.root = root
    return f.build()


# -- scikit-learn and scipy state -------------------------------------------------------------

def reduced(obj, state=None, args=None) -> Reduced:
    """`obj` as an object node, its reduce value's state and args replaced where given."""
    import copyreg
    fn, ctor, real_state = (list(obj.__reduce_ex__(4)) + [None])[:3]
    if fn is copyreg.__newobj__:
        name, ctor = f"{ctor[0].__module__}.{ctor[0].__qualname__}", tuple(ctor[1:]) or None
    elif isinstance(fn, type):
        name = f"{fn.__module__}.{fn.__qualname__}"
    else:
        own = type(obj)
        name, ctor = f"{own.__module__}.{own.__qualname__}", None if ctor and ctor[0] is own else ctor
    return Reduced(name, ctor if args is None else args, real_state if state is None else state)


def edit_nodes(nodes, **fields):
    nodes = nodes.copy()
    for name, (index, value) in fields.items():
        nodes[name][index] = value
    return nodes


@family("sklearn-state", "Default-trusted scikit-learn and scipy objects whose state breaks "
        "what their compiled code assumes (issue 11): tree children and features out of range, "
        "child cycles, node_count 0, numpy-int or missing n_features_in_, a forest stage wider "
        "than the forest, 2^40 tree outputs, histogram-boosting predictor nodes, KDTree and "
        "BallTree index arrays and node data, a distance metric's short work vector, sparse "
        "indices and index pointers outside the shape. Load must raise AmberError, or the first "
        "calls must work or raise ValueError.")
def sklearn_state():
    import warnings
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree import DecisionTreeClassifier
    import scipy.sparse as sp

    warnings.simplefilter("ignore")
    fam = "sklearn-state"
    rng = np.random.RandomState(0)
    X = rng.rand(80, 4)
    y = (X[:, 0] > 0.5).astype(int) + (X[:, 1] > 0.5)
    est_calls = ["predict", "predict_proba", "apply", "decision_path"]

    def state_case(name, value, calls, n_features=4):
        f = AmberFile()
        f.root = encode_value(f, value)
        emit(fam, name, f.build(), "accept", python="state", calls=calls, n_features=n_features)

    clf = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    tree_fn, tree_args, tree_state = clf.tree_.__reduce__()

    def tree(state_edit=None, args=None, **est_edit):
        state = dict(tree_state)
        state.update(state_edit or {})
        est = dict(clf.__getstate__(), tree_=reduced(clf.tree_, state=state, args=args))
        for key, value in est_edit.items():
            if value is None:
                est.pop(key)
            else:
                est[key] = value
        return reduced(clf, state=est)

    nodes = tree_state["nodes"]
    state_case("tree_child_out_of_range", tree({"nodes": edit_nodes(nodes, left_child=(0, 10**6))}),
               est_calls)
    state_case("tree_child_negative", tree({"nodes": edit_nodes(nodes, right_child=(0, -7))}), est_calls)
    state_case("tree_child_cycle", tree({"nodes": edit_nodes(nodes, left_child=(0, 0), right_child=(0, 0))}),
               est_calls)
    state_case("tree_feature_out_of_range", tree({"nodes": edit_nodes(nodes, feature=(0, 10**6))}), est_calls)
    wide = edit_nodes(nodes, feature=(0, 999))
    state_case("tree_wider_n_features_numpy_int", tree({"nodes": wide}, args=(1000,) + tree_args[1:],
                                                      n_features_in_=np.int64(4)), est_calls)
    state_case("tree_wider_n_features_missing", tree({"nodes": wide}, args=(1000,) + tree_args[1:],
                                                    n_features_in_=None), est_calls)
    state_case("tree_node_count_0", tree({"node_count": 0, "nodes": nodes[:0],
                                          "values": tree_state["values"][:0]}), est_calls)
    state_case("tree_node_count_larger", tree({"node_count": 10**6}), est_calls)
    state_case("tree_values_short", tree({"values": tree_state["values"][:1]}), est_calls)
    state_case("tree_node_count_numpy_int", tree({"node_count": np.int64(10**6)}), est_calls)
    state_case("tree_2_40_outputs", tree(args=(4, np.array([3]), 2**40)), est_calls)

    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    stage = forest.estimators_[1]
    fn, args, st = stage.tree_.__reduce__()
    bad_tree = reduced(stage.tree_, args=(60,) + args[1:],
                       state=dict(st, nodes=edit_nodes(st["nodes"], feature=(0, 59))))
    bad_stage = reduced(stage, state=dict(stage.__getstate__(), tree_=bad_tree, n_features_in_=60))
    estimators = [reduced(e) if e is not stage else bad_stage for e in forest.estimators_]
    state_case("forest_stage_wider", reduced(forest, state=dict(forest.__getstate__(), estimators_=estimators)),
               ["predict", "predict_proba", "apply"])

    hgb = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    predictor = hgb._predictors[0][0]
    for name, edit in (("left", (0, 10**6)), ("feature_idx", (0, 10**6)), ("bitset_idx", (0, 10**6))):
        pnodes = edit_nodes(predictor.nodes, **{name: edit})
        if name == "bitset_idx":
            pnodes["is_categorical"][0] = 1
        bad = reduced(predictor, state=dict(predictor.__dict__, nodes=pnodes))
        preds = [[bad if p is predictor else reduced(p) for p in row] for row in hgb._predictors]
        state_case(f"hgb_predictor_{name}", reduced(hgb, state=dict(hgb.__getstate__(), _predictors=preds)),
                   ["predict", "predict_proba"])

    for cls in (KDTree, BallTree):
        t = cls(X, leaf_size=5)
        fn, args, st = t.__reduce__()
        data, idx, node_data, bounds = t.get_arrays()
        slot = {id(v): i for i, v in enumerate(st) if isinstance(v, np.ndarray)}

        def with_state(**changes):
            new = list(st)
            for key, value in changes.items():
                new[{"idx": 1, "node_data": 2, "n_nodes": 6}[key]] = value
            return reduced(t, state=tuple(new))

        assert slot.get(id(idx), 1) == 1
        label = cls.__name__.lower()
        state_case(f"{label}_idx_out_of_range", with_state(idx=np.full_like(idx, 10**6)), ["query", "query_radius"])
        state_case(f"{label}_idx_short", with_state(idx=idx[:3]), ["query", "query_radius"])
        nd = node_data.copy()
        nd["idx_end"][0] = 10**6
        state_case(f"{label}_node_idx_end", with_state(node_data=nd), ["query", "query_radius"])
        state_case(f"{label}_n_nodes_larger", with_state(n_nodes=10**6), ["query", "query_radius"])

    X64 = rng.rand(40, 64)
    ball = BallTree(X64, metric="mahalanobis", VI=np.eye(64))
    fn, args, st = ball.__reduce__()
    metric = st[11]
    m_fn, m_args, m_state = metric.__reduce__()
    short = reduced(metric, state=(m_state[0], np.zeros(1), np.eye(64)))
    state_case("balltree_metric_work_vector_short", reduced(ball, state=st[:11] + (short,) + st[12:]),
               ["query", "query_radius"], n_features=64)

    dense = np.array([[1.0, 0, 2], [0, 0, 3], [4, 5, 0]])
    sparse_calls = ["toarray", "matvec", "getrow", "sum", "tocsr", "transpose_toarray"]
    coo_calls = [c for c in sparse_calls if c != "getrow"]  # coo_matrix is not subscriptable
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        m = cls(dense)
        label = cls.__name__
        for name, key, value in (("indices_out_of_range", "indices", lambda a: np.full_like(a, 10**6)),
                                 ("indices_negative", "indices", lambda a: np.full_like(a, -4)),
                                 ("indptr_past_data", "indptr", lambda a: a * 1000),
                                 ("indptr_decreasing", "indptr", lambda a: a[::-1].copy()),
                                 ("indptr_short", "indptr", lambda a: a[:2].copy())):
            st = dict(m.__dict__)
            st[key] = value(st[key])
            state_case(f"{label}_{name}", reduced(m, state=st), sparse_calls, n_features=3)
    coo = sp.coo_matrix(dense)
    for name, coords in (("row_out_of_range", (np.full_like(coo.row, 10**6), coo.col)),
                         ("col_negative", (coo.row, np.full_like(coo.col, -9))),
                         ("coords_short", (coo.row[:2], coo.col))):
        state_case(f"coo_matrix_{name}", reduced(coo, state=dict(coo.__dict__, coords=coords)),
                   coo_calls, n_features=3)
    masked = np.ma.MaskedArray([1, 2, 3], mask=[0, 1, 0])
    state_case("masked_array_mask_shape", Reduced("numpy.ma.core.MaskedArray",
                                                  (np.arange(3), np.zeros(5, bool), None, False, True, 0, 999)),
               ["repr", "sum"])
    del masked


# -- main -------------------------------------------------------------------------------------

def generate(out_dir: str, only: str | None = None) -> list[dict]:
    CASES.clear()
    for fn in (valid, header, truncate, lying_counts, layout, dtypes, arrays, zstd, nodes, graph,
               bombs, sklearn_state):
        if only is None or fn.family == only:
            fn()
    manifest = []
    for case in CASES:
        path = os.path.join(out_dir, case["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(case.pop("data"))
        manifest.append({k: v for k, v in case.items() if v is not None})
    with open(os.path.join(out_dir, "manifest.json"), "w") as out:
        json.dump({"families": FAMILIES, "cases": manifest}, out, indent=0)
    return manifest


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--family")
    opts = parser.parse_args()
    cases = generate(opts.out_dir, opts.family)
    print(f"{len(cases)} files in {len({c['family'] for c in cases})} families -> {opts.out_dir}")
