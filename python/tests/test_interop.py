"""Files cross the language boundary: Python writes, the Rust crate reads, and the reverse.

The Rust side is the small program in ``tests/rust_interop`` (built here with cargo), which
uses only the ``amberfile`` crate: it renders files to the spec's canonical JSON and writes
files, including hostile graphs the Python encoder never produces.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import amberfile as af

HERE = Path(__file__).parent
CRATE = HERE / "rust_interop"
TARGET = HERE.parent / "target" / "interop"


@pytest.fixture(scope="session")
def interop() -> Path:
    subprocess.run(
        ["cargo", "build", "--quiet", "--manifest-path", str(CRATE / "Cargo.toml")],
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)},
    )
    return TARGET / "debug" / "amberfile-python-interop"


def render(interop: Path, path: Path) -> dict:
    result = subprocess.run([str(interop), "render", str(path)], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def resolve(rendered: dict, index: int):
    """The node at ``index`` as a plain value (enough for the values written below)."""
    node = rendered["nodes"][index]
    kind = node["kind"]
    if kind == "map":
        return {resolve(rendered, k): resolve(rendered, v) for k, v in node["entries"]}
    if kind in ("list", "tuple"):
        return [resolve(rendered, i) for i in node["items"]]
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(node["bits"]))[0]
    if kind == "array":
        return rendered["arrays"][node["array"]]
    if kind == "none":
        return None
    return node["value"]


@pytest.mark.parametrize("compress", [0, 3])
def test_rust_reads_what_python_writes(interop, tmp_path, compress):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    fortran = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    value = {"matrix": matrix, "fortran": fortran, "text": "héllo", "big": -(2**80), "items": [1, 2.5, None, True]}
    path = tmp_path / "from_python.amber"
    af.dump(value, path, compress=compress)
    rendered = render(interop, path)
    tree = resolve(rendered, rendered["root"])
    assert tree["text"] == "héllo" and tree["big"] == -(2**80) and tree["items"] == [1, 2.5, None, True]
    assert tree["matrix"] == {
        "dtype": "float32",
        "order": "C",
        "shape": [3, 4],
        "sha256": hashlib.sha256(matrix.tobytes()).hexdigest(),
    }
    assert tree["fortran"]["order"] == "F" and tree["fortran"]["shape"] == [2, 3]
    assert tree["fortran"]["sha256"] == hashlib.sha256(fortran.tobytes(order="F")).hexdigest()


def test_rust_reads_a_python_model_file(interop, tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(np.eye(5), [0, 1, 2, 0, 1])
    path = tmp_path / "model.amber"
    af.dump(model, path, compress=3)
    rendered = render(interop, path)
    names = {node.get("type") for node in rendered["nodes"] if node["kind"] == "object"}
    assert "sklearn.tree._classes.DecisionTreeClassifier" in names
    assert "sklearn.tree._tree.Tree" in names
    record = [a for a in rendered["arrays"] if isinstance(a["dtype"], dict)]
    assert record, "the tree's node array is a record dtype"


def test_python_reads_what_rust_writes(interop, tmp_path):
    path = tmp_path / "from_rust.amber"
    subprocess.run([str(interop), "write", str(path)], check=True)
    value = af.load(path)
    np.testing.assert_array_equal(value["matrix"], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert value["matrix"].dtype == np.float64
    np.testing.assert_array_equal(value["fortran"], [[1, 3, 5], [2, 4, 6]])
    assert value["fortran"].flags.f_contiguous
    assert value["name"] == "written by rust" and value["big"] == 2**70
    assert value["items"] == [1, 2.5, None, True]
    mapped = af.load(path, mmap_mode="r")
    assert not mapped["matrix"].flags.writeable
    np.testing.assert_array_equal(mapped["fortran"], value["fortran"])


@pytest.mark.parametrize(
    "kind",
    ["tuple-cycle", "duplicate-keys", "unhashable-set", "scalar-not-0d", "scalar-wrong-type", "dtype-from-string", "args-not-a-tuple"],
)
def test_graphs_python_cannot_rebuild_are_invalid_graph_errors(interop, tmp_path, kind):
    path = tmp_path / f"{kind}.amber"
    subprocess.run([str(interop), "hostile", kind, str(path)], check=True)
    with pytest.raises(af.FormatError) as info:
        af.load(path)
    assert info.value.error_class == "InvalidGraph"


def test_a_dag_with_exponentially_many_paths_loads_in_linear_time(interop, tmp_path):
    path = tmp_path / "dag.amber"
    subprocess.run([str(interop), "hostile", "wide-dag", str(path)], check=True)
    value = af.load(path)
    for _ in range(64):
        assert value[0] is value[1]
        value = value[0]
    assert value is None


def test_an_object_array_containing_itself(interop, tmp_path):
    path = tmp_path / "cycle.amber"
    subprocess.run([str(interop), "hostile", "object-array-cycle", str(path)], check=True)
    value = af.load(path)
    assert value.dtype == object and value[0] == 1 and value[1] is value
