"""Every scikit-learn estimator round-trips: equal outputs of every prediction and transform
method after dump and load (issue 12). The cases live in ``estimator_sweep.py``."""

from __future__ import annotations

import numpy as np
import pytest

import amberfile as af
from estimator_sweep import CASES, ESTIMATORS, SKIPPED, assert_same_outputs, fitted, outputs, round_trip

pytestmark = pytest.mark.filterwarnings("ignore")  # convergence and deprecation noise from tiny fits


@pytest.mark.parametrize("case", sorted(case for case, (name, _) in CASES.items() if name not in SKIPPED))
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
