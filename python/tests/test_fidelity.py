"""The fidelity suite (``fidelity.py``) in the test command: every generated graph is either
refused by ``dump`` with ``DumpError`` (and pickle cannot write it either, or it holds a kind
the format may refuse) or comes back from ``load`` equal to its pickle round trip in value,
type and identity structure. Bounded by ``AMBER_FIDELITY_GRAPHS`` random graphs (default
1500, about 15 s here) after one graph per value kind; ``AMBER_FIDELITY_SEED`` picks them.

The comparer is tested too, on planted differences, so that it cannot pass vacuously.
"""

from __future__ import annotations

import collections
import math
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import fidelity
import fidelity_types as ft
from fidelity import Comparer, Mismatch, nan_with_payload

GRAPHS = int(os.environ.get("AMBER_FIDELITY_GRAPHS", "1500"))
SEED = int(os.environ.get("AMBER_FIDELITY_SEED", "0"))


def test_every_graph_round_trips_exactly_or_is_refused(tmp_path):
    outcomes = list(fidelity.run(GRAPHS, SEED, str(tmp_path)))
    line = fidelity.summary(outcomes)
    print(line)
    failures = [o for o in outcomes if o.result == "failure"]
    listing = "\n".join(f"{o.case}: {o.detail}\n    graph: {o.description[:300]}" for o in failures[:40])
    assert not failures, f"{line}\n{listing}"
    covered = set().union(*(o.kinds for o in outcomes))
    assert covered == set(fidelity.KINDS), f"{line}; never built: {sorted(set(fidelity.KINDS) - covered)}"
    equal = sum(o.result == "equal" for o in outcomes)
    assert equal >= 0.8 * len(outcomes), f"{line}: too few graphs were written and compared"


@pytest.mark.parametrize("index", range(60))
def test_the_comparer_accepts_two_pickle_round_trips(index):
    """Whatever the comparer reports against amberfile is a difference, not its own noise."""
    graph, _ = fidelity.random_case(SEED + 1, index)
    try:
        data = pickle.dumps(graph, protocol=4)
    except Exception:  # a graph holding a kind pickle refuses
        return
    Comparer().compare(pickle.loads(data), pickle.loads(data))


def refuted(a, b) -> str:
    with pytest.raises(Mismatch) as caught:
        Comparer().compare(a, b)
    return str(caught.value)


def test_the_comparer_fails_on_a_changed_type():
    assert "type" in refuted([1, [2]], [1, (2,)])
    assert "type" in refuted({"p": ft.Point(1)}, {"p": ft.FrozenPoint(1)})
    assert "type" in refuted(collections.OrderedDict(a=1), {"a": 1})
    assert "dtype" in refuted(np.zeros(3, "<f8"), np.zeros(3, ">f8"))
    assert "type" in refuted(np.float32(1), np.float64(1))
    assert "type" in refuted(sp.csr_matrix(np.eye(2)), sp.csr_array(np.eye(2)))
    assert "type" in refuted(pd.Index([1, 2]), pd.RangeIndex(1, 3))


def test_the_comparer_fails_when_sharing_changes():
    shared = [1]
    assert "identity" in refuted([shared, shared], [[1], [1]])
    assert "identity" in refuted([[1], [1]], [shared, shared])
    array = np.arange(3)
    assert "identity" in refuted((array, array), (np.arange(3), np.arange(3)))
    point = ft.Point(1)
    assert "identity" in refuted({"a": point, "b": point}, {"a": ft.Point(1), "b": ft.Point(1)})


def test_the_comparer_fails_when_a_cycle_moves():
    looped = []
    looped.append(looped)
    inner = []
    inner.append(inner)
    assert "identity" in refuted(looped, [inner])


def test_the_comparer_fails_on_a_changed_nan_payload_or_zero_sign():
    assert refuted(nan_with_payload(1), nan_with_payload(2))
    assert refuted([0.0], [-0.0])
    assert refuted(complex(math.nan, 0), complex(nan_with_payload(3), 0))
    assert "values" in refuted(np.array([nan_with_payload(1)]), np.array([nan_with_payload(2)]))
    assert refuted(np.ma.masked_array([1, 2], mask=[0, 1]), np.ma.masked_array([1, 2], mask=[1, 0]))


def test_the_comparer_fails_on_changed_object_state_and_layout():
    assert "@args" in refuted(ft.Scaled(5), ft.Scaled(10))
    assert "@state" in refuted(ft.WithState(1), ft.WithState(2))
    assert "CONTIGUOUS" in refuted(np.zeros((2, 3), order="F"), np.zeros((2, 3)))
    assert "pandas" in refuted(pd.Series([1, 2]), pd.Series([1, 3]))


def refusal(message="refused", type_name="builtins.list", path=""):
    error = fidelity.DumpError(message)
    error.type_name, error.path = type_name, path
    return error


def test_a_refusal_counts_only_when_it_is_clear_and_leaves_nothing(tmp_path, monkeypatch):
    """run_case's rules for DumpError, on a dump that misbehaves on purpose."""
    graph, builder = fidelity.single_case("list", 0)

    def refuse(obj, path):
        raise refusal()

    monkeypatch.setattr(fidelity.amberfile, "dump", refuse)
    assert "although pickle writes it" in fidelity.run_case("plain", graph, builder, str(tmp_path)).detail

    def refuse_after_writing(obj, path):
        (tmp_path / "graph.amber.tmp").write_bytes(b"partial")
        raise refusal()

    monkeypatch.setattr(fidelity.amberfile, "dump", refuse_after_writing)
    local, local_builder = fidelity.single_case("local-class", 0)
    assert "was written" in fidelity.run_case("partial", local, local_builder, str(tmp_path)).detail
    (tmp_path / "graph.amber.tmp").unlink()

    def refuse_naming_nothing(obj, path):
        raise refusal(type_name="no.such.Type")

    monkeypatch.setattr(fidelity.amberfile, "dump", refuse_naming_nothing)
    assert "not in the graph" in fidelity.run_case("vague", local, local_builder, str(tmp_path)).detail

    def refuse_clearly(obj, path):
        raise refusal(type_name=fidelity.type_name(local[0]), path="0")

    monkeypatch.setattr(fidelity.amberfile, "dump", refuse_clearly)
    assert fidelity.run_case("clear", local, local_builder, str(tmp_path)).result == "refused"
