"""Fitted scikit-learn estimators survive a round trip, with the default trust policy only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import amberfile as af

X, Y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0)
XR, YR = make_regression(n_samples=300, n_features=8, random_state=0)
CATEGORIES = np.random.default_rng(0).integers(0, 5, size=(300, 2))
MIXED = np.hstack([X[:, :4], CATEGORIES]).astype(object)


def column_transformer():
    return Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("scale", StandardScaler(), [0, 1, 2, 3]), ("onehot", OneHotEncoder(), [4, 5])]
                ),
            ),
            ("model", LogisticRegression(max_iter=500)),
        ]
    )


# (estimator factory, training data, targets, output method)
CASES = {
    "LogisticRegression": (lambda: LogisticRegression(max_iter=500), X, Y, "predict_proba"),
    "LinearRegression": (LinearRegression, XR, YR, "predict"),
    "Ridge": (Ridge, XR, YR, "predict"),
    "SVC": (lambda: SVC(random_state=0), X, Y, "decision_function"),
    "DecisionTreeClassifier": (lambda: DecisionTreeClassifier(random_state=0), X, Y, "predict_proba"),
    "DecisionTreeRegressor": (lambda: DecisionTreeRegressor(random_state=0), XR, YR, "predict"),
    "RandomForestClassifier": (lambda: RandomForestClassifier(n_estimators=10, random_state=0), X, Y, "predict_proba"),
    "RandomForestRegressor": (lambda: RandomForestRegressor(n_estimators=10, random_state=0), XR, YR, "predict"),
    "ExtraTreesClassifier": (lambda: ExtraTreesClassifier(n_estimators=10, random_state=0), X, Y, "predict_proba"),
    "GradientBoostingClassifier": (
        lambda: GradientBoostingClassifier(n_estimators=10, random_state=0), X, Y, "predict_proba"
    ),
    "GradientBoostingRegressor": (
        lambda: GradientBoostingRegressor(n_estimators=10, random_state=0), XR, YR, "predict"
    ),
    "HistGradientBoostingClassifier": (
        lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0), X, Y, "predict_proba"
    ),
    "HistGradientBoostingRegressor": (
        lambda: HistGradientBoostingRegressor(max_iter=10, random_state=0), XR, YR, "predict"
    ),
    "SGDClassifier": (lambda: SGDClassifier(random_state=0), X, Y, "decision_function"),
    "KNeighborsClassifier": (KNeighborsClassifier, X, Y, "predict_proba"),
    "MLPClassifier": (lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0), X, Y, "predict_proba"),
    "CalibratedClassifierCV": (lambda: CalibratedClassifierCV(LogisticRegression(), cv=2), X, Y, "predict_proba"),
    "FunctionTransformer": (lambda: FunctionTransformer(np.log1p), np.abs(X), None, "transform"),
    "KMeans": (lambda: KMeans(n_clusters=3, n_init=2, random_state=0), X, None, "transform"),
    "PCA": (lambda: PCA(n_components=3), X, None, "transform"),
    "StandardScaler": (StandardScaler, X, None, "transform"),
    "OneHotEncoder": (OneHotEncoder, CATEGORIES, None, "transform"),
    "Pipeline": (
        lambda: Pipeline([("scale", StandardScaler()), ("pca", PCA(3)), ("model", LogisticRegression())]),
        X,
        Y,
        "predict_proba",
    ),
    "ColumnTransformer": (column_transformer, MIXED, Y, "predict_proba"),
    "GridSearchCV": (
        lambda: GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [2, 4]}, cv=3),
        X,
        Y,
        "predict_proba",
    ),
}


def dense(output):
    return output.toarray() if hasattr(output, "toarray") else np.asarray(output)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("mode", ["bytes", "file", "mmap", "compressed"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fitted_estimators_round_trip(name, mode, tmp_path):
    factory, data, targets, method = CASES[name]
    model = factory().fit(data, targets) if targets is not None else factory().fit(data)
    expected = dense(getattr(model, method)(data))
    path = tmp_path / "model.amber"
    if mode == "bytes":
        blob = af.dumps(model)
        assert af.get_untrusted_types(blob) == []
        loaded = af.loads(blob)
    else:
        af.dump(model, path, compress=3 if mode == "compressed" else 0)
        assert af.get_untrusted_types(path) == []
        loaded = af.load(path, mmap_mode="r" if mode == "mmap" else None)
    assert type(loaded) is type(model)
    assert loaded.get_params().keys() == model.get_params().keys()
    np.testing.assert_array_equal(dense(getattr(loaded, method)(data)), expected)
    if hasattr(model, "predict"):
        np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_a_loaded_model_can_be_refitted_and_dumped_again():
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    loaded = af.loads(af.dumps(model))
    again = af.loads(af.dumps(loaded))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    loaded.fit(X[:100], Y[:100])
    assert loaded.predict(X).shape == (300,)


def test_dumping_the_same_model_twice_gives_the_same_bytes():
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, Y)
    assert af.dumps(model) == af.dumps(model)


def test_scipy_sparse_matrices_and_arrays_round_trip():
    import scipy.sparse as sp

    matrix = sp.random(50, 40, density=0.1, format="csr", random_state=0)
    values = {"csr": matrix, "csc": matrix.tocsc(), "coo_array": sp.coo_array(matrix), "dok": matrix.todok()}
    back = af.loads(af.dumps(values))
    for name, value in values.items():
        assert type(back[name]) is type(value), name
        np.testing.assert_array_equal(back[name].toarray(), value.toarray())


def test_a_model_trained_on_sparse_input():
    import scipy.sparse as sp

    sparse_x = sp.csr_matrix(X)
    model = LogisticRegression(max_iter=500).fit(sparse_x, Y)
    np.testing.assert_array_equal(af.loads(af.dumps(model)).predict(sparse_x), model.predict(sparse_x))
