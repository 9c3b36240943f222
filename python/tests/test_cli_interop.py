"""The `amber` command-line tool against files numpy and safetensors wrote themselves.

Build the binary first: `cargo build --release -p amber-cli --bin amber`. The tests find it
through the environment variable AMBER_BIN, else at target/release/amber under the repository
root. Round trips (npy -> amber -> npy, safetensors -> amber -> safetensors) must give back
the same bytes; extracted arrays must load in numpy with the right dtype; damaged files must
exit 1 with the right error class.
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest

safetensors_numpy = pytest.importorskip("safetensors.numpy")

REPO = pathlib.Path(__file__).resolve().parents[2]
AMBER = pathlib.Path(os.environ.get("AMBER_BIN", REPO / "target" / "release" / "amber"))

# scikit-learn's tree node record (sklearn/tree/_tree.pyx NODE_DTYPE): 8 fields, 64 bytes.
NODE_DTYPE = np.dtype(
    {
        "names": [
            "left_child",
            "right_child",
            "feature",
            "threshold",
            "impurity",
            "n_node_samples",
            "weighted_n_node_samples",
            "missing_go_to_left",
        ],
        "formats": [np.intp, np.intp, np.intp, np.float64, np.float64, np.intp, np.float64, np.uint8],
        "offsets": [0, 8, 16, 24, 32, 40, 48, 56],
        "itemsize": 64,
    }
)


def amber(*args, expect=0):
    if not AMBER.exists():
        pytest.fail(f"{AMBER} is missing: run `cargo build --release -p amber-cli --bin amber`")
    process = subprocess.run([str(AMBER), *map(str, args)], capture_output=True, text=True)
    assert process.returncode == expect, (process.returncode, process.stdout, process.stderr)
    assert "panicked" not in process.stderr and "RUST_BACKTRACE" not in process.stderr
    return process


def tree_nodes():
    nodes = np.zeros(7, dtype=NODE_DTYPE)
    nodes["left_child"] = [1, 3, 5, -1, -1, -1, -1]
    nodes["right_child"] = [2, 4, 6, -1, -1, -1, -1]
    nodes["feature"] = [0, 1, 2, -2, -2, -2, -2]
    nodes["threshold"] = [0.5, 1.5, -2.25, -2, -2, -2, -2]
    nodes["impurity"] = np.linspace(0.5, 0.0, 7)
    nodes["n_node_samples"] = [100, 60, 40, 30, 30, 20, 20]
    nodes["weighted_n_node_samples"] = nodes["n_node_samples"] * 1.0
    nodes["missing_go_to_left"] = [1, 0, 1, 0, 0, 0, 0]
    return nodes


NPY_ARRAYS = {
    "float64_matrix": np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
    "fortran_int32": np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
    "tree_nodes": tree_nodes(),
    "bool": np.array([True, False, True]),
    "unicode": np.array(["alpha", "β", ""]),
    "bytes": np.array([b"ab", b"cde"]),
    "datetime": np.array(["2020-01-01T00:00", "2024-02-29T12:30"], dtype="datetime64[ns]"),
    "timedelta": np.array([1, 2, 3], dtype="timedelta64[10s]"),
    "complex64": np.array([1 + 2j, -3.5j], dtype=np.complex64),
    "float16": np.array([0.5, -1.0, 65504.0], dtype=np.float16),
    "scalar": np.array(3.25),
    "empty": np.zeros((0, 5), dtype=np.uint16),
    "nested_record": np.zeros(2, dtype=[("pos", "<f4", (3,)), ("inner", [("id", "<i8"), ("tag", "S3")])]),
}


@pytest.mark.parametrize("name", sorted(NPY_ARRAYS))
@pytest.mark.parametrize("options", [[], ["--compress", "3", "--shuffle"], ["--alignment", "4096"]])
def test_npy_to_amber_to_npy_is_byte_identical(tmp_path, name, options):
    original = tmp_path / f"{name}.npy"
    np.save(original, NPY_ARRAYS[name])
    amber("convert", original, tmp_path / "a.amber", *options)
    amber("verify", tmp_path / "a.amber")
    amber("convert", tmp_path / "a.amber", tmp_path / "back.npy")
    assert (tmp_path / "back.npy").read_bytes() == original.read_bytes()
    # And `extract` of the root gives the same file.
    amber("extract", tmp_path / "a.amber", "", "-o", tmp_path / "extracted.npy")
    assert (tmp_path / "extracted.npy").read_bytes() == original.read_bytes()


def test_safetensors_to_amber_to_safetensors_is_byte_identical(tmp_path):
    tensors = {
        "embed.weight": np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32),
        "layer.0.bias": np.arange(8, dtype=np.float16),
        "layer.0.mask": np.array([True, False, True]),
        "step": np.array(7, dtype=np.int64),
        "codes": np.arange(10, dtype=np.uint8),
        "zero": np.zeros((0, 4), dtype=np.int32),
    }
    original = tmp_path / "model.safetensors"
    safetensors_numpy.save_file(tensors, original, metadata={"format": "np"})
    for options in ([], ["--compress", "19", "--shuffle"]):
        amber("convert", original, tmp_path / "m.amber", *options)
        amber("convert", tmp_path / "m.amber", tmp_path / "back.safetensors")
        assert (tmp_path / "back.safetensors").read_bytes() == original.read_bytes()
    loaded = safetensors_numpy.load_file(tmp_path / "back.safetensors")
    for key, value in tensors.items():
        np.testing.assert_array_equal(loaded[key], value)


def test_bfloat16_safetensors_keep_their_bytes_but_refuse_npy(tmp_path):
    # bfloat16 written by the safetensors library itself, from raw 16-bit patterns (numpy has
    # no bfloat16). safetensors 0.8 takes TensorSpec objects, older versions plain dicts.
    import safetensors

    bits = np.array([0x3F80, 0xC000, 0x7F80], dtype="<u2")
    original = tmp_path / "bf16.safetensors"
    if hasattr(safetensors, "TensorSpec"):
        spec = safetensors.TensorSpec(dtype="bfloat16", shape=[3], data_ptr=bits.ctypes.data, data_len=bits.nbytes)
        safetensors.serialize_file({"w": spec}, str(original))
    else:
        tensor = {"dtype": "bfloat16", "shape": [3], "data": bits.tobytes()}
        safetensors.serialize_file({"w": tensor}, str(original))
    amber("convert", original, tmp_path / "b.amber")
    amber("convert", tmp_path / "b.amber", tmp_path / "back.safetensors")
    assert (tmp_path / "back.safetensors").read_bytes() == original.read_bytes()
    refused = amber("extract", tmp_path / "b.amber", "w", "-o", tmp_path / "w.npy", expect=1)
    assert "bfloat16 has no numpy equivalent" in refused.stderr


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_from_numpy_converts_and_loads_back(tmp_path, save):
    arrays = {
        "coef": np.linspace(0, 1, 50).reshape(5, 10),
        "nodes": tree_nodes(),
        "labels": np.array(["a", "bb"]),
        "fortran": np.asfortranarray(np.ones((3, 2), dtype=np.int8)),
    }
    save(tmp_path / "in.npz", **arrays)
    amber("convert", tmp_path / "in.npz", tmp_path / "z.amber", "--compress", "3")
    amber("convert", tmp_path / "z.amber", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as loaded:
        assert sorted(loaded.files) == sorted(arrays)
        for key, value in arrays.items():
            assert loaded[key].dtype == value.dtype
            np.testing.assert_array_equal(loaded[key], value)
        assert loaded["fortran"].flags.f_contiguous
    # Each member is exactly what np.save writes for that array.
    import zipfile

    with zipfile.ZipFile(tmp_path / "out.npz") as archive:
        for key, value in arrays.items():
            np.save(tmp_path / "ref.npy", value)
            assert archive.read(f"{key}.npy") == (tmp_path / "ref.npy").read_bytes()


def test_extracted_tree_nodes_load_with_sklearns_structured_dtype(tmp_path):
    np.savez(tmp_path / "forest.npz", nodes=tree_nodes(), values=np.ones((7, 1, 2)))
    amber("convert", tmp_path / "forest.npz", tmp_path / "forest.amber", "--compress", "5", "--shuffle")
    amber("extract", tmp_path / "forest.amber", "nodes", "-o", tmp_path / "nodes.npy")
    nodes = np.load(tmp_path / "nodes.npy")
    assert nodes.dtype == NODE_DTYPE
    assert nodes.dtype.itemsize == 64
    assert nodes.dtype.fields["missing_go_to_left"][1] == 56
    np.testing.assert_array_equal(nodes, tree_nodes())
    inspected = amber("inspect", "--json", tmp_path / "forest.amber")
    import json

    report = json.loads(inspected.stdout)
    assert [a["paths"] for a in report["arrays"]] == [["nodes"], ["values"]]


def corrupt(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_corrupted_files_exit_1_with_the_right_class(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(1000, dtype=np.float64))
    amber("convert", tmp_path / "a.npy", tmp_path / "raw.amber")
    amber("convert", tmp_path / "a.npy", tmp_path / "packed.amber", "--compress", "3")

    corrupt(tmp_path / "raw.amber", 64 + 10)  # array data: the first aligned offset is 64
    failed = amber("verify", tmp_path / "raw.amber", expect=1)
    assert failed.stdout.splitlines()[0] == "ChecksumMismatch"
    assert "offset 0x40" in failed.stderr

    corrupt(tmp_path / "packed.amber", 3)  # header magic
    failed = amber("verify", tmp_path / "packed.amber", expect=1)
    assert failed.stdout.splitlines()[0] == "BadMagic"

    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.amber").write_bytes(b"")
    failed = amber("inspect", tmp_path / "cut.amber", expect=1)
    assert failed.stdout.splitlines()[0] == "Truncated"

    # A truncated .npy is an invalid input (exit 1), named as such.
    (tmp_path / "cut.npy").write_bytes(data[:-8])
    failed = amber("convert", tmp_path / "cut.npy", tmp_path / "x.amber", expect=1)
    assert "truncated" in failed.stderr
    assert not (tmp_path / "x.amber").exists()


def test_unrepresentable_content_is_named(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    failed = amber("convert", tmp_path / "obj.npy", tmp_path / "o.amber", expect=1)
    assert "Python objects" in failed.stderr
    np.save(tmp_path / "big.npy", np.arange(3, dtype=">i4"))
    failed = amber("convert", tmp_path / "big.npy", tmp_path / "b.amber", expect=1)
    assert "big-endian" in failed.stderr
