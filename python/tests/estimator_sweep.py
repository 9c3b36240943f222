"""Every estimator scikit-learn's ``all_estimators()`` yields, fitted on a small dataset, dumped
and loaded: the cases of ``test_estimator_sweep.py``.

Estimators are built by scikit-learn's own instance generator (its ``INIT_PARAMS``: small base
estimators for meta-estimators, few iterations) with ``random_state=0``, and fitted on data
shaped by their tags, as scikit-learn's ``check_estimator`` does. The model is dumped before any
method is called, so an estimator that draws from a stored random generator makes the same draws
after loading. No estimator here gives different outputs on two calls of the original (run
single-threaded), so every output is compared exactly with the original's; the one exception
is memory layout, which no serializer keeps (see ``_round_trip``). Run as a script for the
report: how many round-trip, which need extra trust::

    .venv/bin/python python/tests/estimator_sweep.py
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from sklearn.experimental import enable_halving_search_cv, enable_iterative_imputer  # noqa: F401
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import all_estimators
from sklearn.utils._tags import get_tags
from sklearn.utils._test_common.instance_generator import INIT_PARAMS
from sklearn.utils._testing import set_random_state
from sklearn.utils.estimator_checks import _enforce_estimator_tags_X, _enforce_estimator_tags_y

import amberfile as af

METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "score_samples",
    "inverse_transform",
    "kneighbors",  # neighbors searches (NearestNeighbors has no other method)
    "mahalanobis",  # covariance estimators
)

# Estimators left out, each with a reason a reader can check. (Empty: every estimator fits.)
SKIPPED: dict[str, str] = {}

# Names of every estimator in the sweep (the experimental ones enabled above included).
ESTIMATORS = {name: cls for name, cls in all_estimators()}

N_SAMPLES = 60
_rng = np.random.default_rng(0)
X_BASE = _rng.normal(size=(N_SAMPLES, 5))
Y_CLASSES = (X_BASE[:, 0] + X_BASE[:, 1] > 0).astype(int) + (X_BASE[:, 2] > 0.5)
Y_CONTINUOUS = X_BASE @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + 0.1 * _rng.normal(size=N_SAMPLES)
WORDS = "amber resin fossil insect tree pine gold light honey stone".split()
TEXTS = [" ".join(_rng.choice(WORDS, size=6)) for _ in range(N_SAMPLES)]
RECORDS = [{w: float(c) for w, c in zip(_rng.choice(WORDS, size=3), _rng.integers(1, 5, 3))} for _ in range(N_SAMPLES)]
IMAGES = _rng.random(size=(4, 20, 20))  # PatchExtractor's default patches: a tenth of a side
LABEL_SETS = [set(_rng.choice(WORDS[:4], size=2).tolist()) for _ in range(N_SAMPLES)]
_LABEL_TRANSFORMERS = {"LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer"}


# Parameters on top of the generator's that keep the sweep fast: the hashers' 2**20 columns
# (compared as dense arrays) and TSNE's 1000 iterations took most of the run.
_FASTER = {
    "FeatureHasher": {"n_features": 2**8},
    "HashingVectorizer": {"n_features": 2**8},
    "TSNE": {"max_iter": 250},
}


@dataclasses.dataclass
class Case:
    """A fitted estimator and the input each of its methods is called with."""

    estimator: Any
    inputs: Any  # what predict, transform, ... take (X, or y for label transformers)


@dataclasses.dataclass
class Outcome:
    """What a round trip showed: the names loading needed beyond the default trust, the
    methods and fitted attributes compared, and what they were compared with."""

    untrusted: list[str]
    compared: list[str]
    reference: str  # "original", or "pickle" where the outputs depend on memory layout


def _parameter_sets(cls: type) -> list[dict]:
    params = INIT_PARAMS.get(cls, {})
    return params if isinstance(params, list) else [params]


def _unfitted(cls: type, params: dict) -> Any:
    if cls is FrozenEstimator:  # the generator skips it: it wraps an already fitted estimator
        return FrozenEstimator(LogisticRegression().fit(X_BASE, Y_CLASSES))
    return cls(**params)


def _accepts_sparse(estimator: Any, params: dict) -> bool:
    """Whether the estimator's tags say it fits on a sparse matrix in place of plain 2-d numbers
    (not text, records, images, labels, a precomputed kernel or data with missing values)."""
    inputs = get_tags(estimator).input_tags
    plain = inputs.two_d_array and not (inputs.string or inputs.dict or inputs.pairwise or inputs.one_d_array)
    precomputed = "precomputed" in (params.get("metric"), params.get("kernel"))
    imputer = type(estimator).__module__.startswith("sklearn.impute")
    return inputs.sparse and plain and not precomputed and not imputer


def _outputs_frames(estimator: Any) -> bool:
    """Whether the estimator is a transformer fitted on a DataFrame that can output DataFrames
    (RandomTreesEmbedding's one-hot leaves are sparse, which pandas output refuses)."""
    inputs = get_tags(estimator).input_tags
    frame_in = inputs.two_d_array and not (inputs.string or inputs.dict or inputs.pairwise)
    return frame_in and hasattr(estimator, "set_output") and type(estimator).__name__ != "RandomTreesEmbedding"


def _cases() -> dict[str, tuple[str, dict, str]]:
    """A case per parameter set of the generator: the estimator's name for the first, then
    "SVC-1" (a precomputed kernel), "GridSearchCV-3" (a pipeline searched), ...; the same
    fitted on a CSR matrix, "SVC-sparse", where the estimator accepts one; and transformers
    fitted on a DataFrame with pandas output, "PCA-pandas"."""
    cases = {}
    for name, cls in ESTIMATORS.items():
        for index, params in enumerate(_parameter_sets(cls)):
            case_id = name if index == 0 else f"{name}-{index}"
            cases[case_id] = (name, params, "array")
            estimator = _unfitted(cls, params)
            if _accepts_sparse(estimator, params):
                cases[f"{case_id}-sparse"] = (name, params, "sparse")
            if _outputs_frames(estimator):
                cases[f"{case_id}-pandas"] = (name, params, "pandas")
    return cases


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    CASES = _cases()


def round_trip_cases() -> list[str]:
    """The cases expected to round-trip: all but those skipped or refused at dump."""
    return [case for case, (name, _, _) in sorted(CASES.items()) if name not in SKIPPED]


def construct(case_id: str) -> Any:
    """The estimator as scikit-learn's own tests build it, with ``random_state=0``."""
    name, params, _ = CASES[case_id]
    estimator = _unfitted(ESTIMATORS[name], params)
    if isinstance(estimator, FrozenEstimator):  # set_params would reach the frozen estimator
        return estimator
    set_random_state(estimator)
    return estimator.set_params(**_FASTER.get(name, {}))


def fitted(case_id: str) -> Case:
    """The estimator fitted on a small dataset suited to its tags."""
    name, _, data_kind = CASES[case_id]
    estimator = construct(case_id)
    tags = get_tags(estimator)
    if name == "MultiLabelBinarizer":
        return Case(estimator.fit(LABEL_SETS), LABEL_SETS)
    if name in _LABEL_TRANSFORMERS:
        return Case(estimator.fit(Y_CLASSES), Y_CLASSES)
    if tags.input_tags.string and not tags.input_tags.two_d_array:
        X = TEXTS
    elif tags.input_tags.dict:
        X = RECORDS
    elif tags.input_tags.three_d_array:
        X = IMAGES
    else:
        X = _enforce_estimator_tags_X(estimator, X_BASE.copy())
        if name == "SparseCoder":  # its generator parameters fix a dictionary of 3 features
            X = X[:, : estimator.dictionary.shape[1]]
        if type(estimator).__module__.startswith("sklearn.impute"):
            X = X.copy()
            X[::7, 1] = np.nan  # imputers need something to impute
        if data_kind == "sparse":  # non-negative (QuantileTransformer, the biclusterings), half zeros, none empty
            checkerboard = np.indices(X.shape).sum(axis=0) % 2
            X = sp.csr_matrix(np.abs(X) * checkerboard)
        if data_kind == "pandas":
            X = pd.DataFrame(X, columns=[f"x{column}" for column in range(X.shape[1])])
            estimator.set_output(transform="pandas")
    y = Y_CONTINUOUS.copy() if tags.estimator_type == "regressor" else Y_CLASSES.copy()
    y = _enforce_estimator_tags_y(estimator, y)
    if tags.target_tags.multi_output and not tags.target_tags.single_output:
        if tags.estimator_type == "classifier":  # binary columns: ClassifierChain's probabilities need them
            y = np.column_stack([Y_CLASSES > 0, Y_CLASSES < 2]).astype(int)
        else:
            y = np.column_stack([y.ravel(), y.ravel()[::-1]])
    if tags.input_tags.three_d_array or tags.estimator_type in ("clusterer", "outlier_detector"):
        estimator.fit(X)
    else:
        estimator.fit(X, y)
    return Case(estimator, X)


def comparable(value: Any) -> Any:
    """The value in a form ``assert_same`` compares exactly: sparse matrices as their type and
    dense values, sequences element by element."""
    if sp.issparse(value):
        return (type(value).__name__, value.toarray())
    if isinstance(value, pd.DataFrame):
        return ("DataFrame", list(value.columns), value.index.to_numpy(), list(value.dtypes), value.to_numpy())
    if isinstance(value, (list, tuple)):
        return type(value)([comparable(item) for item in value])
    return value


def assert_same(actual: Any, expected: Any, where: str) -> None:
    """Exact equality, NaN equal to NaN, with types, dtypes and shapes."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} is not {type(expected)}"
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{index}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        np.testing.assert_array_equal(actual, expected, err_msg=where, strict=True)
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(actual), where
    else:
        assert actual == expected, where


def outputs(estimator: Any, inputs: Any) -> dict[str, Any]:
    """What each method among ``METHODS`` returns (inverse_transform given transform's output),
    or the type and message of the exception it raises."""
    results: dict[str, Any] = {}
    for method in METHODS:
        if not hasattr(estimator, method):
            continue
        # A fresh copy each time: an estimator may store its training input itself (KernelRidge's
        # X_fit_), and pairwise kernels take another path for `X is Y`, not bit-identical.
        argument = copy.deepcopy(inputs)
        if method == "inverse_transform":
            if "transform" not in results or isinstance(results["transform"], Exception):
                continue
            argument = estimator.transform(argument)
        try:
            results[method] = comparable(getattr(estimator, method)(argument))
        except Exception as error:  # the loaded estimator must fail the same way
            results[method] = error
    return results


def fitted_arrays(estimator: Any) -> dict[str, Any]:
    """The fitted attributes (``name_``) that hold numbers or arrays of them (object arrays of
    fitted trees or bin edges are left to the methods that use them)."""
    return {
        key: value
        for key, value in sorted(vars(estimator).items())
        if key.endswith("_")
        and not key.startswith("_")
        and isinstance(value, (np.ndarray, np.generic, int, float))
        and getattr(value, "dtype", np.dtype(float)).kind != "O"
    }


def assert_same_outputs(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual.keys() == expected.keys()
    for method, value in expected.items():
        if isinstance(value, Exception):
            got = actual[method]
            assert isinstance(got, Exception), f"{method}: the original raised {value!r}"
            assert (type(got), str(got)) == (type(value), str(value)), method
        else:
            assert_same(actual[method], value, method)


def round_trip(case_id: str, directory: Path) -> Outcome:
    """Fits, dumps, loads with the trust the file needs (copied, and memory-mapped), and
    compares every method's output.

    Also checks the default trust alone: loading succeeds if the file names nothing untrusted,
    and otherwise raises ``UntrustedTypeError``."""
    # One thread: OpenMP teams (HistGradientBoosting, TSNE) crawl on a shared 2-core machine.
    with threadpool_limits(1):
        return _round_trip(case_id, directory)


def _round_trip(case_id: str, directory: Path) -> Outcome:
    case = fitted(case_id)
    path = directory / f"{case_id}.amber"
    af.dump(case.estimator, path)
    af.verify(path)  # every rule of the spec and every checksum
    pickled = pickle.dumps(case.estimator)  # before any call: methods may draw random numbers
    untrusted = af.get_untrusted_types(path)
    loaded = af.load(path, trusted=untrusted)
    if untrusted:
        try:
            af.load(path)
        except af.UntrustedTypeError:
            pass
        else:
            raise AssertionError(f"loaded with the default trust although {untrusted} are untrusted")
    assert type(loaded) is type(case.estimator)
    assert loaded.get_params().keys() == case.estimator.get_params().keys()
    expected = outputs(case.estimator, case.inputs)
    actual = outputs(loaded, case.inputs)
    reference = "original"
    try:
        assert_same_outputs(actual, expected)
    except AssertionError:
        # Some outputs depend on memory layout, which no serializer keeps (PCA's components_
        # is a reversed view; a sparse product over it rounds differently): then a pickle
        # round trip, the reference of the fidelity suite, must give exactly the same.
        reference = "pickle"
        assert_same_outputs(actual, outputs(pickle.loads(pickled), case.inputs))
    # Memory-mapped, arrays are read-only views of the file: methods must not write to them.
    mapped = af.load(path, mmap_mode="r", trusted=untrusted)
    assert_same_outputs(outputs(mapped, case.inputs), actual)
    attributes = fitted_arrays(case.estimator)
    assert_same_outputs(fitted_arrays(loaded), attributes)
    compared = sorted(expected) + sorted(attributes)
    assert compared, f"{case_id} has neither methods nor fitted arrays to compare"
    return Outcome(untrusted, compared, reference)


def main() -> None:
    import tempfile

    warnings.simplefilter("ignore")
    needs_trust: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    layout_dependent: list[str] = []
    cases = round_trip_cases()
    with tempfile.TemporaryDirectory() as directory:
        for case_id in cases:
            try:
                outcome = round_trip(case_id, Path(directory))
            except Exception as error:
                failures[case_id] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
                continue
            if outcome.untrusted:
                needs_trust[case_id] = outcome.untrusted
            if outcome.reference != "original":
                layout_dependent.append(case_id)
    failed_estimators = {CASES[case_id][0] for case_id in failures}
    trusting_estimators = {CASES[case_id][0] for case_id in needs_trust}
    passing = set(ESTIMATORS) - set(SKIPPED) - failed_estimators
    print(f"{len(ESTIMATORS)} estimators in {len(CASES)} cases; {len(SKIPPED)} skipped")
    print(f"round-trip in every case: {len(passing)} estimators; cases that round-trip: {len(cases) - len(failures)}")
    print(f"of which with the default trust alone in every case: {len(passing - trusting_estimators)} estimators; "
          f"cases: {len(cases) - len(failures) - len(needs_trust)}")
    for case_id, names in needs_trust.items():
        print(f"  needs trust: {case_id}: {', '.join(names)}")
    print(f"  equal to a pickle round trip, not to the original (memory layout): {', '.join(layout_dependent)}")
    for name, reason in SKIPPED.items():
        print(f"  skipped: {name}: {reason}")
    for case_id, reason in failures.items():
        print(f"  FAILED: {case_id}: {reason}")


if __name__ == "__main__":
    main()
