"""Every scikit-learn estimator round-trips: equal outputs of every prediction and transform
method after dump and load (issue 12). The cases live in ``estimator_sweep.py``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import amberfile as af
from estimator_sweep import (
    CASES,
    ESTIMATORS,
    SKIPPED,
    assert_same_outputs,
    fitted,
    outputs,
    round_trip,
    round_trip_cases,
)

pytestmark = pytest.mark.filterwarnings("ignore")  # convergence and deprecation noise from tiny fits


@pytest.mark.parametrize("case", round_trip_cases())
def test_estimator_round_trips_with_equal_outputs(case, tmp_path):
    outcome = round_trip(case, tmp_path)
    assert outcome.compared


def test_the_sweep_covers_every_estimator_including_the_experimental_ones():
    # all_estimators() is the whole population; a shrinking list would hide estimators.
    assert len(ESTIMATORS) >= 200
    assert {"IterativeImputer", "HalvingGridSearchCV", "FrozenEstimator"} <= set(ESTIMATORS)


def test_the_skip_list_names_only_estimators_that_exist():
    assert set(SKIPPED) <= set(ESTIMATORS)
    assert all(reason.strip() for reason in SKIPPED.values())


def test_a_mismatch_is_detected():
    # The comparison must be able to fail: a refitted scaler transforms differently.
    case = fitted("StandardScaler")
    other = af.loads(af.dumps(case.estimator)).fit(case.inputs * 2)
    with pytest.raises(AssertionError):
        assert_same_outputs(outputs(other, case.inputs), outputs(case.estimator, case.inputs))


@pytest.mark.parametrize("novelty", [False, True])
def test_a_local_outlier_factor_loads_with_the_default_trust(novelty):
    # Regression: the neighbors validator required _y of every estimator with a predict
    # method, and LocalOutlierFactor (fitted on X alone) has none.
    from sklearn.neighbors import LocalOutlierFactor

    case = fitted("StandardScaler")
    model = LocalOutlierFactor(n_neighbors=5, novelty=novelty).fit(case.inputs)
    loaded = af.loads(af.dumps(model))
    assert_same_outputs(outputs(loaded, case.inputs), outputs(model, case.inputs))
    np.testing.assert_array_equal(loaded.negative_outlier_factor_, model.negative_outlier_factor_)


def test_an_affinity_propagation_fitted_on_a_sparse_matrix_loads_with_the_default_trust():
    # Regression: the centers validator required a dense array; fitted on sparse input,
    # AffinityPropagation keeps its centers as sparse rows of that input.
    from sklearn.cluster import AffinityPropagation

    data = sp.csr_matrix(np.eye(6) + np.eye(6, k=1))
    model = AffinityPropagation(random_state=0).fit(data)
    assert sp.issparse(model.cluster_centers_)
    loaded = af.loads(af.dumps(model))
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    np.testing.assert_array_equal(loaded.cluster_centers_.toarray(), model.cluster_centers_.toarray())


def test_a_sparse_center_of_another_estimator_is_still_refused():
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=2, n_init=1, random_state=0).fit(np.eye(4))
    model.cluster_centers_ = sp.csr_matrix(model.cluster_centers_)
    with pytest.raises(af.StateError):
        af.loads(af.dumps(model))


def test_a_bisecting_kmeans_fitted_on_a_sparse_matrix_round_trips_with_its_matrix_center():
    # Regression: its tree's root center is the np.matrix a sparse X.mean(axis=0) returns,
    # which dump refused as an ndarray subclass.
    from sklearn.cluster import BisectingKMeans

    data = sp.csr_matrix(np.abs(np.random.default_rng(0).normal(size=(20, 4))))
    model = BisectingKMeans(n_clusters=3, random_state=0).fit(data)
    assert type(model._bisecting_tree.center) is np.matrix
    data_file = af.dumps(model)
    loaded = af.loads(data_file, trusted=af.get_untrusted_types(data_file))
    assert type(loaded._bisecting_tree.center) is np.matrix
    np.testing.assert_array_equal(loaded._bisecting_tree.center, model._bisecting_tree.center)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
