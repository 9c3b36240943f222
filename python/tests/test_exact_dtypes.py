"""numpy values the dtype table cannot say alone come back exact: byte orders, sub-array dtypes,
metadata, np.matrix; and a file that abuses their representation is refused with a typed error."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import amberfile as af
from amberfile import _dtypes

NESTED = np.dtype([("id", "<u2"), ("pos", [("x", "<f4"), ("y", ">f8")]), ("raw", "V3")])


def round_trip(value):
    return af.loads(af.dumps(value))


def signature(dtype: np.dtype):
    fields = dtype.fields and [(name, signature(dtype.fields[name][0]), dtype.fields[name][1]) for name in dtype.names]
    sub = dtype.subdtype and (signature(dtype.subdtype[0]), dtype.subdtype[1])
    return dtype.str, fields, sub, dtype.metadata


@pytest.mark.parametrize(
    "dtype",
    [">i4", ">M8[10s]", "(2,3)i2", "(2,)>f8", NESTED, np.dtype("i4", metadata={"unit": "m"})],
    ids=str,
)
def test_a_dtype_comes_back_exactly(dtype):
    dtype = np.dtype(dtype)
    assert signature(round_trip(dtype)) == signature(dtype)


def test_arrays_come_back_with_the_dtype_pickle_gives_back():
    values = [
        np.arange(6, dtype=">i8").reshape(2, 3),  # numpy makes a plain one native
        np.asfortranarray(np.ones((2, 3), NESTED)),  # but keeps a record's byte orders
        np.arange(3, dtype=np.dtype(">i4", metadata={"unit": "m"})),
        NESTED.type(np.ones((), NESTED)),  # a record scalar
    ]
    for value, loaded in zip(values, round_trip(values)):
        expected = pickle.loads(pickle.dumps(value, protocol=4))
        assert type(loaded) is type(expected)
        assert signature(loaded.dtype) == signature(expected.dtype)
        assert loaded.tobytes() == expected.tobytes()
    assert round_trip(values)[1].flags.f_contiguous


def test_little_endian_arrays_are_still_mapped_without_a_copy(tmp_path):
    path = tmp_path / "a.amber"
    af.dump({"a": np.arange(1000.0)}, path)
    assert not af.load(path, mmap_mode="r")["a"].flags.owndata


def test_metadata_on_a_records_fields_is_refused_with_a_dump_error(tmp_path):
    field = np.dtype("i4", metadata={"unit": "m"})
    with pytest.raises(af.DumpError) as refused:
        af.dump({"x": np.dtype([("a", field)])}, tmp_path / "d.amber")
    assert (refused.value.type_name, refused.value.path) == ("numpy.dtypes.VoidDType", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_long_double_scalar_is_refused_under_its_own_type_name():
    if np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(af.DumpError) as refused:
        af.dumps([np.longdouble(1)])
    assert refused.value.type_name == f"numpy.{np.longdouble.__name__}"


def test_a_matrix_comes_back_a_matrix():
    matrix = np.asmatrix(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    loaded = round_trip(matrix)
    assert type(loaded) is np.matrix
    np.testing.assert_array_equal(loaded, matrix)


def test_ellipsis_and_not_implemented_come_back_themselves():
    assert round_trip([..., NotImplemented]) == [..., NotImplemented]
    assert round_trip(...) is ...


def test_a_sparse_matrix_keeps_its_flags_but_only_true_ones(monkeypatch):
    matrix = sp.csr_matrix(np.eye(3))
    matrix.has_sorted_indices  # computes and caches the flag, as scipy does in use
    assert round_trip(matrix).__dict__.keys() == matrix.__dict__.keys()
    unsorted = sp.csr_matrix((np.ones(2), np.array([1, 0]), np.array([0, 2, 2])), shape=(2, 2))
    unsorted._has_sorted_indices = True  # a lie a hostile file could tell
    assert round_trip(unsorted)._has_sorted_indices is False


# Hostile files: the writer's helpers are replaced so that dump records a state no honest
# writer would; load must refuse it with a typed error, never crash or build something else.
HOSTILE_DTYPE_STATES = {
    "orders of a record for a plain dtype": (np.empty(0, "<i4"), ["<"], None, None),
    "an unknown byte order": (np.empty(0, "<i4"), "?", None, None),
    "too few field orders": (np.empty(0, NESTED.newbyteorder("<")), ["<"], None, None),
    "a negative sub-array size": (np.empty(0, "<i4"), "<", (-1,), None),
    "a huge sub-array": (np.empty(0, "<i4"), "<", (2**20, 2**20), None),
    "a size that is not an int": (np.empty(0, "<i4"), "<", (2.0,), None),
    "metadata that is not pairs": (np.empty(0, "<i4"), "<", None, ({"a": 1},)),
}


@pytest.mark.parametrize("state", HOSTILE_DTYPE_STATES.values(), ids=HOSTILE_DTYPE_STATES.keys())
def test_a_hostile_dtype_state_is_a_state_error(monkeypatch, state):
    monkeypatch.setattr(_dtypes, "dtype_state", lambda dtype: state)
    data = af.dumps(np.dtype(">i4"))
    monkeypatch.undo()
    with pytest.raises(af.StateError):
        af.loads(data)


@pytest.mark.parametrize(
    "state",
    [(np.zeros(3, "<i4"), np.dtype(">f8")), (np.zeros(3, "<i4"), np.dtype("O")), (np.zeros(3, "<i4"),)],
    ids=["another layout", "the object dtype", "no dtype"],
)
def test_a_hostile_exact_array_is_a_state_error(monkeypatch, state):
    monkeypatch.setattr(_dtypes, "exact_array_state", lambda array: state if array.dtype.metadata else None)
    data = af.dumps(np.arange(3, dtype=">i4").astype(np.dtype(">i4", metadata={"a": 1})))
    monkeypatch.undo()
    with pytest.raises(af.StateError):
        af.loads(data)
