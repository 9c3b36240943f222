"""numpy arrays, scalars and dtypes: every dtype the format has, every layout, every load mode."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import amberfile as af
from conftest import placeholder_class

RECORD = np.dtype(
    {
        "names": ["feature", "threshold", "flags", "pos"],
        "formats": ["<i8", "<f8", "?", ("<f4", (2,))],
        "offsets": [0, 8, 16, 20],
        "itemsize": 32,
    }
)
NESTED = np.dtype([("id", "<u2"), ("inner", [("a", "<i4"), ("b", "S3")]), ("when", "<M8[s]")])

DTYPES = [
    "?", "i1", "<i2", "<i4", "<i8", "u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16",
    "S5", "<U3", "V4", "<M8[ns]", "<M8[D]", "<M8", "<m8[3s]", "<m8[us]", RECORD, NESTED,
]


def sample(dtype, shape=(3, 4)) -> np.ndarray:
    dtype = np.dtype(dtype)
    raw = np.random.default_rng(7).integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    array = raw.view(dtype).reshape(shape) if dtype.kind not in "bUM" else None
    if dtype.kind == "b":
        array = (raw[: int(np.prod(shape))] % 2).astype(bool).reshape(shape)
    elif dtype.kind == "U":
        array = np.array([chr(0x41 + i % 26) * (i % 4) + "✓" for i in range(int(np.prod(shape)))], dtype).reshape(shape)
    elif dtype.kind == "M":
        array = (np.arange(int(np.prod(shape)), dtype=np.int64) * 86_400).view(dtype).reshape(shape)
    if dtype.fields and "pos" in dtype.fields:
        array["flags"] = array["flags"].view(np.uint8) % 2  # bool fields must hold 0 or 1
    if dtype.kind == "f" or dtype.kind == "c":
        array = np.nan_to_num(array)  # compare by value below; NaN payloads are checked by bytes
    return array


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("compress", [0, 3])
def test_every_dtype_round_trips(dtype, compress):
    array = sample(dtype)
    back = af.loads(af.dumps({"a": array}, compress=compress))["a"]
    same(array, back)
    assert back.flags.writeable


def test_big_endian_arrays_come_back_as_unpickling_gives_them():
    # numpy makes a plain big-endian array native when unpickling, but keeps a record's fields.
    array = np.arange(12, dtype=">f8").reshape(3, 4)
    record = np.zeros(3, dtype=[("x", ">i4"), ("y", "<f2")])
    record["x"] = [1, -2, 3]
    back = af.loads(af.dumps([array, record]))
    assert back[0].dtype == np.dtype("<f8") and np.array_equal(back[0], array)
    assert back[1].dtype == np.dtype([("x", ">i4"), ("y", "<f2")]) and list(back[1]["x"]) == [1, -2, 3]
    assert [a.dtype for a in pickle.loads(pickle.dumps([array, record]))] == [a.dtype for a in back]


def test_layouts_fortran_strided_zero_d_and_empty():
    base = np.arange(60, dtype=np.int32).reshape(6, 10)
    arrays = {
        "fortran": np.asfortranarray(base),
        "strided": base[::2, 1::3],
        "transposed": base.T,
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3)),
    }
    back = af.loads(af.dumps(arrays))
    for name, array in arrays.items():
        assert np.array_equal(back[name], array), name
        assert back[name].shape == array.shape
    assert back["fortran"].flags.f_contiguous


def test_object_arrays_go_through_the_graph():
    shared = [1, 2]
    array = np.empty((2, 2), dtype=object)
    array[0, 0] = shared
    array[0, 1] = shared
    array[1, 0] = np.arange(3)
    array[1, 1] = "text"
    back = af.loads(af.dumps(array))
    assert back.dtype == object and back.shape == (2, 2)
    assert back[0, 0] is back[0, 1] and back[0, 0] == [1, 2]
    assert np.array_equal(back[1, 0], np.arange(3)) and back[1, 1] == "text"


def test_numpy_scalars_keep_their_type():
    values = [
        np.float64(1.5), np.float32(-2.0), np.float16(0.5), np.int8(-3), np.uint64(2**64 - 1),
        np.bool_(True), np.complex64(1 + 2j), np.str_("hé"), np.bytes_(b"xy"), np.datetime64("2024-01-02", "D"),
        np.timedelta64(5, "ms"), np.longlong(7), np.zeros(1, RECORD)[0],
    ]
    back = af.loads(af.dumps(values))
    for value, got in zip(values, back):
        # np.longlong shares int64's layout; numpy's canonical type for it is np.int64.
        expected = np.int64 if type(value) is np.longlong else type(np.asarray(value)[()])
        assert type(got) is expected
        assert np.asarray(got).tobytes() == np.asarray(value).tobytes()


def test_dtype_objects_round_trip():
    dtypes = [np.dtype("f8"), np.dtype(">i4").newbyteorder("<"), np.dtype("O"), RECORD, NESTED, np.dtype("<M8[ms]")]
    back = af.loads(af.dumps(dtypes))
    assert back == dtypes


def test_mmap_read_only_views_are_zero_copy(tmp_path):
    path = tmp_path / "arrays.amber"
    array = np.arange(1000, dtype=np.float64).reshape(10, 100)
    af.dump({"x": array, "y": array[:, :3]}, path)
    loaded = af.load(path, mmap_mode="r")
    assert np.array_equal(loaded["x"], array)
    assert not loaded["x"].flags.writeable
    with pytest.raises(ValueError):
        loaded["x"][0, 0] = 1.0
    owner = loaded["x"]
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert type(owner).__name__ == "FileBuffer"
    assert len(owner) == path.stat().st_size
    view = loaded["x"]
    del loaded, owner
    assert view.sum() == array.sum()  # the mapping outlives the loaded dict


def test_mmap_copy_on_write_never_touches_the_file(tmp_path):
    path = tmp_path / "arrays.amber"
    af.dump(np.zeros(16), path)
    before = path.read_bytes()
    loaded = af.load(path, mmap_mode="c")
    loaded[:] = 7.0
    assert loaded.sum() == 112.0
    assert path.read_bytes() == before
    assert af.load(path).sum() == 0.0


def test_compressed_arrays_are_decoded_or_refused_when_zero_copy_is_required(tmp_path):
    path = tmp_path / "packed.amber"
    array = np.arange(10_000, dtype=np.int64)
    af.dump(array, path, compress=5)
    assert path.stat().st_size < array.nbytes / 4
    assert np.array_equal(af.load(path, mmap_mode="r"), array)
    with pytest.raises(af.FormatError) as info:
        af.load(path, mmap_mode="r", require_zero_copy=True)
    assert info.value.error_class == "NotZeroCopy"


def test_replacing_a_mapped_file_leaves_existing_views_intact(tmp_path):
    path = tmp_path / "model.amber"
    af.dump(np.ones(1000), path)
    view = af.load(path, mmap_mode="r")
    af.dump(np.zeros(1000), path)
    assert view.sum() == 1000.0
    assert af.load(path).sum() == 0.0


def test_unsupported_dtypes_are_refused_on_dump():
    with pytest.raises(TypeError):
        af.dumps(np.zeros(3, dtype=np.longdouble))


def test_shuffle_is_optional_and_helps_numeric_data():
    # Smooth float64 data: shuffling groups the exponent bytes, which zstd compresses better.
    array = np.linspace(0.0, 1.0, 100_000)
    shuffled = af.dumps(array, compress=3)
    plain = af.dumps(array, compress=3, shuffle=False)
    assert shuffled != plain
    assert len(shuffled) < len(plain)
    np.testing.assert_array_equal(af.loads(plain), array)
    np.testing.assert_array_equal(af.loads(shuffled), array)


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("compress", [0, 3])
def test_extended_floats_round_trip_through_ml_dtypes(name, compress, tmp_path):
    import ml_dtypes

    dtype = np.dtype(getattr(ml_dtypes, name))
    array = np.linspace(-4, 4, 24, dtype=np.float32).astype(dtype).reshape(4, 6)
    back = af.loads(af.dumps({"w": array}, compress=compress))["w"]
    assert back.dtype == dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    path = tmp_path / "w.amber"
    af.dump(array, path, compress=compress)
    mapped = af.load(path, mmap_mode="r")
    assert mapped.dtype == dtype and mapped.tobytes() == array.tobytes()


def test_a_numpy_float_is_not_confused_with_an_extension_float():
    # float128 (long double) has kind "f" but no Amber equivalent: refused, never mislabelled.
    with pytest.raises(TypeError):
        af.dumps(np.zeros(2, dtype=np.longdouble))


@pytest.mark.parametrize("compress", [0, 3])
def test_copies_are_ordinary_numpy_arrays_that_own_their_memory(compress):
    arrays = [np.arange(24, dtype="<f8").reshape(4, 6), np.asfortranarray(np.arange(24, dtype="<i4").reshape(4, 6))]
    for array, loaded in zip(arrays, af.loads(af.dumps(arrays, compress))):
        same(array, loaded)
        assert loaded.base is None and loaded.flags.owndata
        assert loaded.flags.writeable and loaded.flags.aligned
        assert loaded.flags.f_contiguous == array.flags.f_contiguous
        loaded[0, 0] = 99  # writable like any array numpy made


def test_lazy_load_lists_names_and_builds_only_the_entry_asked_for(tmp_path):
    path = tmp_path / "weights.amber"
    weights = {f"layer.{i}.weight": np.full((2, 3), i, dtype="<f4") for i in range(50)}
    hostile = placeholder_class("zz.NotTrusted")()
    af.dump({**weights, "meta": {"epochs": 3}, "odd": hostile}, path)

    for mode in (None, "r", "c"):
        f = af.lazy_load(path, mmap_mode=mode)
        assert f.keys() == [*weights, "meta", "odd"]
        assert len(f) == 52 and "layer.7.weight" in f and "nope" not in f and 7 not in f
        same(f["layer.7.weight"], weights["layer.7.weight"])
        assert f["layer.7.weight"].flags.writeable == (mode != "r")
        assert f["meta"] == {"epochs": 3}
        with pytest.raises(KeyError):
            f["nope"]
        # The untrusted type is refused when its entry, or the whole value, is built.
        with pytest.raises(af.UntrustedTypeError):
            f["odd"]
        with pytest.raises(af.UntrustedTypeError):
            f.load()
    view = af.lazy_load(path, mmap_mode="r")["layer.1.weight"]
    owner = view.base
    assert type(owner).__name__ == "FileBuffer" and len(owner) == path.stat().st_size


def test_lazy_load_needs_a_dict_with_str_keys_and_checks_copied_arrays(tmp_path):
    for value in ([1, 2], {1: "a"}):
        af.dump(value, tmp_path / "other.amber")
        f = af.lazy_load(tmp_path / "other.amber")
        assert f.load() == value
        for use in (f.keys, len, lambda: f["a"], lambda: "a" in f):
            with pytest.raises(TypeError):
                use()
    array = np.arange(1000, dtype=np.int64) * 3
    data = bytearray(af.dumps({"a": array, "b": -array}))
    data[bytes(data).find(array[500:501].tobytes())] ^= 0xFF  # inside "a" only
    path = tmp_path / "flipped.amber"
    path.write_bytes(bytes(data))
    f = af.lazy_load(path)
    assert f["b"][500] == -1500
    with pytest.raises(af.ChecksumError):
        f["a"]
    assert af.lazy_load(path, mmap_mode="r")["a"][500] != 1500  # mapped: unchecked by default
    with pytest.raises(af.ChecksumError):
        af.lazy_load(path, mmap_mode="r", verify=True)["a"]


def test_mapped_and_lazy_opens_check_the_padding_when_the_array_after_it_is_read(tmp_path):
    # Spec 9.6: a partial open reads the header, trailer and metadata only; the padding before
    # an array is checked when that array is handed out, and by verify.
    arrays = {"a": np.full(8, 0x5A, dtype=np.uint8), "b": np.full(8, 0xA5, dtype=np.uint8)}
    data = bytearray(af.dumps(arrays))
    # "first" and "second" in file order, which the writer chooses.
    first, second = sorted(arrays, key=lambda name: data.find(arrays[name].tobytes()))
    padding = data.find(arrays[first].tobytes()) + 8 + 20
    assert data[padding] == 0 and data.find(arrays[second].tobytes()) > padding
    data[padding] = 0xAA
    path = tmp_path / "hidden.amber"
    path.write_bytes(bytes(data))

    def padding_fault(build):
        with pytest.raises(af.FormatError) as caught:
            build()
        assert caught.value.error_class == "NonZeroPadding"
        assert caught.value.offset == padding

    for mode in (None, "r", "c"):
        f = af.lazy_load(path, mmap_mode=mode)
        assert f.keys() == ["a", "b"]
        same(f[first], arrays[first])
        padding_fault(lambda: f[second])
        padding_fault(lambda: f[second])  # and again: a failed check is not remembered as passed
        padding_fault(f.load)
    for mode in ("r", "c"):
        padding_fault(lambda: af.load(path, mmap_mode=mode))  # load builds every array
    padding_fault(lambda: af.load(path))  # a copying load is a whole-file reader: at open
    padding_fault(lambda: af.verify(path))


def test_big_arrays_are_copied_and_verified_with_the_gil_released(tmp_path):
    import sys
    import threading
    import time

    big, small = tmp_path / "big.amber", tmp_path / "small.amber"
    af.dump(np.arange(8 * 2**20, dtype=np.int64), big)  # 64 MiB
    af.dump(np.arange(1000, dtype=np.int64), small)
    ticks, stop = [0], threading.Event()

    def spin():  # runs only while the main thread has released the GIL
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(100)  # the main thread never yields the GIL on its own
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.01)

        def ticks_during(work):
            before = ticks[0]
            for _ in range(3):
                work()
            return ticks[0] - before

        import gc

        gc.collect()  # finalizers of earlier tests' objects (a file's close) may release the GIL
        # The probe: without a release, next to none (0 here; a handful at most on a loaded
        # machine). With one, the spinner shares the cores with the thread pool and still gets
        # hundreds of ticks on a quiet 2-core machine, tens on a busy one.
        assert ticks_during(lambda: af.load(small)) <= 5
        assert ticks_during(lambda: af.load(big)) >= 20
        assert ticks_during(lambda: af.verify(big)) >= 20
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        spinner.join()
