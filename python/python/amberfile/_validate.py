"""Checks of the state of trusted types whose compiled code (Cython, C, C++) uses it unchecked.

The policy (``_policy``) decides which names may be rebuilt; this module makes sure that what is
rebuilt cannot make compiled code read or write out of bounds. Each check is listed under the
qualified name of the type it guards (``checks_for``), in one of three tables:

- ``ARGS``: the constructor arguments, before the constructor runs (a ``Tree`` allocates what
  its arguments ask for);
- ``BEFORE_STATE``: the state, before ``__setstate__`` copies it into C structures;
- ``AFTER_STATE``: the finished object, for Python-level objects whose attributes compiled code
  reads later (an estimator's trees, a sparse matrix's index arrays). Children are built before
  their parent's state is set, so an ensemble checks its trees' invariants against its own.

Numbers are checked by value (``operator.index``), whatever their Python or numpy type. Every
check raises ``ValueError`` or ``TypeError``; the loader turns it into ``StateError``.
``docs/trusted-types.md`` lists what each check guarantees and why. Names that have a check
are trusted by default (``is_validated``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _native
from ._names import qualified_name

# Beyond any real model, and small enough that products of two stay far from int64 overflow.
MAX_COUNT = 2**31 - 1


def count(value: Any, what: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """``value`` as an int in ``low..=high``, whatever its integer type; bools are refused."""
    if type(value) is int and low <= value <= high:  # the common case, checked in one step
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None
    if not low <= number <= high:
        raise ValueError(f"{what} is {number}, outside {low}..{high}")
    return number


def array(value: Any, what: str, kinds: str, ndim: int | None = None) -> np.ndarray:
    """``value`` checked to be an ndarray of one of the dtype ``kinds`` (numpy's kind letters)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds or value.dtype.names:
        raise TypeError(f"{what} must be an array of kind {kinds!r}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimensions, not {value.ndim}")
    return value


def indices_below(values: np.ndarray, bound: int, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= bound):
        raise ValueError(f"{what} must lie in 0..{bound}")


def _state_dict(state: Any, owner: str) -> dict:
    if not isinstance(state, dict):
        raise TypeError(f"a {owner} state must be a dict")
    return state


def _attributes(obj: Any) -> dict:
    return getattr(obj, "__dict__", {})


def _fitted(attributes: dict) -> bool:
    """scikit-learn's own rule (``check_is_fitted``): a fitted estimator has an attribute
    ending in an underscore. An unfitted one raises NotFittedError when used."""
    return "n_features_in_" in attributes or any(key[-1:] == "_" and key[:2] != "__" for key in attributes)


def _require(attributes: dict, owner: str, names: tuple[str, ...]) -> None:
    """A fitted estimator's methods read these without checking that they exist."""
    missing = [name for name in names if name not in attributes]
    if missing:
        raise ValueError(f"a fitted {owner} lacks {', '.join(missing)}")


@functools.lru_cache(maxsize=256)
def _required_keys(cls: type, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(names + tuple(cls._get_param_names()))


def _require_fitted(estimator: Any, attributes: dict, owner: str, names: tuple[str, ...]) -> None:
    """The fitted attributes ``names`` and every constructor parameter (read by predict, as a
    forest reads its trees' ``splitter``) must be there. One set comparison per object: a
    forest has hundreds of trees."""
    required = _required_keys(type(estimator), names)
    if not required <= attributes.keys():
        raise ValueError(f"a fitted {owner} lacks {', '.join(sorted(required - attributes.keys()))}")


def _fitted_model(model: Any, names: tuple[str, ...], classifier_names: tuple[str, ...]) -> tuple[dict, str, bool] | None:
    """A fitted model's attributes, type name and whether it is a classifier, once it has the
    fitted attributes ``names`` (and ``classifier_names`` if a classifier) and its constructor
    parameters; None for an unfitted model, which scikit-learn refuses to use."""
    attributes = _attributes(model)
    if not _fitted(attributes):
        return None
    owner = type(model).__name__
    classifier = isinstance(model, _sklearn().ClassifierMixin)
    _require_fitted(model, attributes, owner, names + (classifier_names if classifier else ()))
    return attributes, owner, classifier


def number(value: Any, what: str) -> float:
    """``value`` checked to be a real number (not a bool, string or array)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    return float(value)


@functools.cache
def _sklearn() -> Any:
    """The scikit-learn classes the checks compare against, imported once."""
    from types import SimpleNamespace

    from sklearn._loss.loss import BaseLoss
    from sklearn.base import ClassifierMixin, OutlierMixin
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.metrics import DistanceMetric
    from sklearn.tree import DecisionTreeRegressor
    from sklearn.tree._tree import Tree

    return SimpleNamespace(
        BaseLoss=BaseLoss, ClassifierMixin=ClassifierMixin, OutlierMixin=OutlierMixin, BinMapper=_BinMapper, PREDICTOR_RECORD_DTYPE=PREDICTOR_RECORD_DTYPE,
        TreePredictor=TreePredictor, DistanceMetric=DistanceMetric,
        DecisionTreeRegressor=DecisionTreeRegressor, Tree=Tree,
    )


# --- sklearn.tree._tree.Tree ------------------------------------------------------------------


def _tree_args(args: tuple) -> None:
    """``Tree(n_features, n_classes, n_outputs)`` allocates per output and per class: bounded
    here by the ``n_classes`` array, which the file must back with its own bytes."""
    if len(args) != 3:
        raise TypeError("Tree takes (n_features, n_classes, n_outputs)")
    n_features, n_classes, n_outputs = args
    count(n_features, "a Tree's n_features", 1)
    n_classes = array(n_classes, "a Tree's n_classes", "iu", ndim=1)
    n_outputs = count(n_outputs, "a Tree's n_outputs", 1)
    if n_classes.shape[0] != n_outputs:
        raise ValueError("a Tree's n_classes must have one entry per output")
    counts = n_classes.tolist()  # one entry per output: Python's min and max beat numpy's here
    if min(counts) < 1 or n_outputs * max(counts) > MAX_COUNT:
        raise ValueError("a Tree's class counts are out of range")


def _tree_state(tree: Any, state: Any) -> None:
    state = _state_dict(state, "Tree")
    nodes = state.get("nodes")
    if not isinstance(nodes, np.ndarray):
        raise ValueError("a Tree state needs a record array 'nodes'")
    # Links, split features and the record layout, natively (a forest has hundreds of trees).
    _native.check_tree_nodes(nodes, tree.n_features)
    node_count = count(state.get("node_count"), "a Tree's node_count", 1)
    if node_count != nodes.shape[0]:
        raise ValueError("a Tree's node_count must equal the number of nodes")
    # decision_path sizes its output by max_depth and writes one entry per level.
    if count(state.get("max_depth"), "a Tree's max_depth") < _native.tree_depth(nodes):
        raise ValueError("a Tree's max_depth is less than the depth of its nodes")
    values = array(state.get("values"), "a Tree's values", "f", ndim=3)
    expected = (node_count, tree.n_outputs, tree.max_n_classes)
    if values.shape != expected or values.dtype != np.float64:
        raise ValueError(f"a Tree's values must be float64 of shape {expected}")


# --- tree estimators and ensembles -----------------------------------------------------------


def _width(attributes: dict, owner: str) -> int:
    return count(attributes.get("n_features_in_"), f"a fitted {owner}'s n_features_in_", 1)


def _class_counts(attributes: dict, owner: str, n_outputs: int) -> list[int]:
    """A classifier's classes_ (an array, or one per output) and n_classes_ (an integer, or an
    integer array per output): predict indexes classes_ by the argmax over n_classes_ columns."""
    classes, n_classes = attributes["classes_"], attributes["n_classes_"]
    if n_outputs == 1:
        classes, n_classes = [classes], [n_classes]
    elif not isinstance(classes, list) or len(classes) != n_outputs:
        raise ValueError(f"a {owner} needs one classes_ array per output")
    else:
        n_classes = array(n_classes, f"a {owner}'s n_classes_", "iu", ndim=1)
    if len(n_classes) != n_outputs:
        raise ValueError(f"a {owner} needs one class count per output")
    counts = [count(n, f"a {owner}'s n_classes_", 1) for n in n_classes]
    for labels, size in zip(classes, counts):
        if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.shape[0] != size:
            raise ValueError(f"a {owner}'s classes_ do not match n_classes_")
    return counts


def _tree_estimator(estimator: Any) -> None:
    """A DecisionTree/ExtraTree: its Tree indexes input columns up to its own n_features,
    while the estimator checks input width against n_features_in_ (and ensembles skip even
    that). Output and class counts must be the tree's too."""
    fitted = _fitted_model(estimator, ("tree_", "n_features_in_", "n_outputs_"), ("classes_", "n_classes_"))
    if fitted is None:
        return
    attributes, owner, classifier = fitted
    sk = _sklearn()
    tree = attributes["tree_"]
    if type(tree) is not sk.Tree:
        raise TypeError("a decision tree's tree_ must be a Tree")
    if tree.n_features != _width(attributes, owner):
        raise ValueError(f"a {owner}'s n_features_in_ does not match its tree")
    if count(attributes["n_outputs_"], f"a {owner}'s n_outputs_", 1) != tree.n_outputs:
        raise ValueError(f"a {owner}'s n_outputs_ does not match its tree")
    if classifier and _class_counts(attributes, owner, tree.n_outputs) != tree.n_classes.tolist():
        raise ValueError(f"a {owner}'s class counts do not match its tree")
    elif not classifier and tree.max_n_classes != 1:
        raise ValueError(f"a {owner}'s tree is a classification tree")


def _same_width(members: Any, width: int, owner: str) -> None:
    for member in members:
        tree = _attributes(member).get("tree_")
        if tree is None or _attributes(member).get("n_features_in_") != width or tree.n_features != width:
            raise ValueError(f"a {owner} member is unfitted or does not have {width} features")


def _path_lengths(forest: Any, attributes: dict, members: list) -> None:
    """IsolationForest's score_samples indexes, per tree, both arrays by the tree's leaf ids."""
    owner = type(forest).__name__
    _require(attributes, owner, ("_average_path_length_per_tree", "_decision_path_lengths", "_max_samples", "offset_"))
    for key in ("_average_path_length_per_tree", "_decision_path_lengths"):
        per_tree = attributes[key]
        if not isinstance(per_tree, (tuple, list)) or len(per_tree) != len(members):
            raise ValueError(f"an {owner}'s {key} must have one array per tree")
        for lengths, member in zip(per_tree, members):
            lengths = array(lengths, f"an {owner}'s {key}", "iuf", ndim=1)
            if lengths.shape[0] != member.tree_.node_count:
                raise ValueError(f"an {owner}'s {key} must have one entry per tree node")
    count(attributes["_max_samples"], f"an {owner}'s _max_samples", 1)
    number(attributes["offset_"], f"an {owner}'s offset_")


def _forest(forest: Any, bagging: bool = False) -> list | None:
    """Forests predict with ``check_input=False``: each tree must be exactly as wide as the
    forest, or, with feature subsets (IsolationForest, bagging), as its subset; a classifier
    adds its trees' probabilities into arrays of its own class counts."""
    # estimator: the template whose tags predict asks for.
    fitted = _fitted_model(forest, ("estimators_", "n_features_in_", "estimator") + (() if bagging else ("n_outputs_",)),
                           ("classes_", "n_classes_"))
    if fitted is None:
        return
    attributes, owner, classifier = fitted
    forest._validate_params()  # n_jobs, verbose... by scikit-learn's own constraints
    members = attributes["estimators_"]
    if not isinstance(members, list) or not members:
        raise TypeError(f"a {owner}'s estimators_ must be a non-empty list")
    width = _width(attributes, owner)
    features = attributes.get("estimators_features_")
    if features is None:
        _same_width(members, width, owner)
    else:
        if not isinstance(features, list) or len(features) != len(members):
            raise ValueError(f"a {owner} needs one feature subset per member")
        for member, subset in zip(members, features):
            indices_below(array(subset, "a feature subset", "iu", ndim=1), width, "a feature subset")
            _same_width([member], subset.shape[0], owner)
    outputs = count(attributes.get("n_outputs_", 1), f"a {owner}'s n_outputs_", 1)
    if any(m.tree_.n_outputs != outputs for m in members):
        raise ValueError(f"a {owner}'s trees do not all have its n_outputs_")
    if classifier:
        counts = _class_counts(attributes, owner, outputs)
        if any(m.tree_.n_classes.tolist() != counts for m in members):
            raise ValueError(f"a {owner}'s trees do not all have its class counts")
    return members


def _isolation_forest(forest: Any) -> None:
    members = _forest(forest, bagging=True)
    if members is not None:
        attributes = _attributes(forest)
        # predict and score_samples read these besides the members themselves.
        _require(attributes, type(forest).__name__, ("_max_features", "max_samples_", "estimators_features_"))
        _path_lengths(forest, attributes, members)


def _gradient_boosting(model: Any) -> None:
    """``predict_stages`` (Cython) walks ``estimators_[i, k].tree_`` over input rows of the
    first tree's width and adds into column k of an array with n_trees_per_iteration_
    columns."""
    fitted = _fitted_model(model, ("estimators_", "n_features_in_", "init_", "_loss"), ("classes_", "n_classes_"))
    if fitted is None:
        return
    attributes, owner, _ = fitted
    if not isinstance(attributes["_loss"], _sklearn().BaseLoss):
        raise TypeError(f"a {owner}'s _loss must be a scikit-learn loss")
    stages = attributes["estimators_"]
    if not isinstance(stages, np.ndarray) or stages.dtype != object or stages.ndim != 2 or stages.size == 0:
        raise ValueError(f"a {owner}'s estimators_ must be a non-empty 2-d object array")
    from sklearn.tree import DecisionTreeRegressor

    if not all(type(stage) is DecisionTreeRegressor for stage in stages.flat):
        raise TypeError(f"a {owner}'s stages must be DecisionTreeRegressor")
    _same_width(stages.flat, _width(attributes, owner), owner)
    if any(stage.tree_.n_outputs != 1 or stage.tree_.max_n_classes != 1 for stage in stages.flat):
        raise ValueError(f"a {owner}'s stage trees must have one output")
    per_iteration = 1
    if "classes_" in attributes:
        n_classes = count(attributes.get("n_classes_"), f"a {owner}'s n_classes_", 1)
        if len(attributes["classes_"]) != n_classes:
            raise ValueError(f"a {owner}'s classes_ does not match n_classes_")
        per_iteration = 1 if n_classes <= 2 else n_classes
        init = attributes.get("init_")
        if init != "zero" and len(getattr(init, "classes_", ())) != n_classes:
            raise ValueError(f"a {owner}'s init_ does not predict its classes")
    if stages.shape[1] != per_iteration or attributes.get("n_trees_per_iteration_", 1) != per_iteration:
        raise ValueError(f"a {owner} must have {per_iteration} trees per stage")


# --- histogram gradient boosting -------------------------------------------------------------


def _predictor_state(predictor: Any, state: Any) -> None:
    """A TreePredictor's nodes are walked in Cython: children after their node and inside the
    array, categorical nodes on an existing bitset row."""
    state = _state_dict(state, "TreePredictor")
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = state.get("nodes")
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1:
        raise ValueError("a TreePredictor's nodes must be a 1-d array of predictor records")
    if nodes.shape[0] == 0:
        raise ValueError("a TreePredictor needs at least one node")
    internal = nodes["is_leaf"] == 0
    index = np.arange(nodes.shape[0])
    for child in (nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)):
        if np.any((child[internal] <= index[internal]) | (child[internal] >= nodes.shape[0])):
            raise ValueError("a TreePredictor node's child is out of range or not after its parent")
    if np.any(nodes["feature_idx"][internal].astype(np.int64) < 0):
        raise ValueError("a TreePredictor node splits on a negative feature")
    categorical = internal & (nodes["is_categorical"] != 0)
    for key in ("binned_left_cat_bitsets", "raw_left_cat_bitsets"):
        bitsets = state.get(key)
        if not isinstance(bitsets, np.ndarray) or bitsets.ndim != 2 or bitsets.shape[1] != 8:
            raise ValueError(f"a TreePredictor's {key} must be an (n, 8) array")
        if np.any(nodes["bitset_idx"][categorical].astype(np.int64) >= bitsets.shape[0]):
            raise ValueError("a TreePredictor node refers to a missing category bitset")


def _bin_mapper(mapper: Any) -> None:
    """``_map_to_bins`` (Cython) reads is_categorical_ for every column it maps."""
    attributes = _attributes(mapper)
    if "bin_thresholds_" not in attributes:
        return
    n_bins = array(attributes.get("n_bins_non_missing_"), "a binner's n_bins_non_missing_", "iu", ndim=1)
    flags = array(attributes.get("is_categorical_"), "a binner's is_categorical_", "bu", ndim=1)
    thresholds = attributes["bin_thresholds_"]
    if not isinstance(thresholds, list) or not len(thresholds) == flags.shape[0] == n_bins.shape[0]:
        raise ValueError("a binner's per-feature arrays must all have one entry per feature")
    for threshold in thresholds:
        array(threshold, "a bin threshold array", "f", ndim=1)


_HIST_FITTED = ("_predictors", "_bin_mapper", "n_features_in_", "n_trees_per_iteration_", "_baseline_prediction",
                "_loss", "_preprocessor", "is_categorical_", "_n_features")


def _hist_gradient_boosting(model: Any) -> None:
    """Predictors split on input columns (the model checks input width against
    n_features_in_) and look categories up by feature in the binner's categorical flags."""
    fitted = _fitted_model(model, _HIST_FITTED, ("classes_",))
    if fitted is None:
        return
    attributes, owner, classifier = fitted
    sk = _sklearn()
    rounds = attributes["_predictors"]
    if not isinstance(rounds, list):
        raise TypeError(f"a {owner}'s _predictors must be a list")
    width = _width(attributes, owner)
    TreePredictor = sk.TreePredictor
    mapper = attributes["_bin_mapper"]
    # An unfitted binner is not checked (see _bin_mapper), so a fitted model needs a fitted one.
    if type(mapper) is not sk.BinMapper or "bin_thresholds_" not in _attributes(mapper) \
            or mapper.is_categorical_.shape[0] != width:
        raise ValueError(f"a {owner}'s binner does not have its {width} features")
    per_iteration = count(attributes["n_trees_per_iteration_"], f"a {owner}'s n_trees_per_iteration_", 1)
    if classifier:
        classes = attributes["classes_"]
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or classes.shape[0] < 2:
            raise ValueError(f"a {owner}'s classes_ must be a 1-d array of two or more classes")
        if per_iteration != (1 if classes.shape[0] == 2 else classes.shape[0]):
            raise ValueError(f"a {owner}'s classes_ does not match its trees per iteration")
    baseline = array(attributes["_baseline_prediction"], f"a {owner}'s _baseline_prediction", "f", ndim=2)
    if baseline.shape != (1, per_iteration):
        raise ValueError(f"a {owner}'s _baseline_prediction must be 1 x {per_iteration}")
    if not isinstance(attributes["_loss"], sk.BaseLoss):
        raise TypeError(f"a {owner}'s _loss must be a scikit-learn loss")
    for predictors in rounds:
        if not isinstance(predictors, list) or len(predictors) != per_iteration:
            raise ValueError(f"a {owner} must have {per_iteration} predictors per iteration")
        for predictor in predictors:
            if type(predictor) is not TreePredictor:
                raise TypeError(f"a {owner}'s predictors must be TreePredictor")
            nodes = predictor.nodes
            internal = nodes["is_leaf"] == 0
            features = nodes["feature_idx"][internal].astype(np.int64)
            indices_below(features, width, f"a {owner} tree's split feature")
            on_categories = features[nodes["is_categorical"][internal] != 0]
            if not np.all(mapper.is_categorical_[on_categories]):
                raise ValueError(f"a {owner} tree splits categories of a feature that has none")


# --- neighbors -------------------------------------------------------------------------------

# How each distance metric's vec and mat are sized by the data dimension d, for the metrics
# whose dist() reads them (or a work buffer sized from them) for every dimension: Mahalanobis'
# buffer and matrix come from mat, SEuclidean's variances and Minkowski's weights are vec.
_METRIC_SIZES = {
    "MahalanobisDistance": (None, "mat = d"),
    "SEuclideanDistance": ("vec = d", None),
    "MinkowskiDistance": ("vec = 0 or d", None),
}


def _metric_kind(metric: Any) -> str:
    return type(metric).__name__.removesuffix("64").removesuffix("32")


def _distance_metric_state(metric: Any, state: Any) -> None:
    if not isinstance(state, tuple) or len(state) != 3:
        raise TypeError("a DistanceMetric state must be (p, vec, mat)")
    p, vec, mat = state
    if not isinstance(p, (float, int, np.floating, np.integer)) or not p > 0:
        raise ValueError("a DistanceMetric's p must be a positive number")
    vec = array(vec, "a DistanceMetric's vec", "f", ndim=1)
    mat = array(mat, "a DistanceMetric's mat", "f", ndim=2)
    if _metric_kind(metric) == "MahalanobisDistance" and mat.shape[0] != mat.shape[1]:
        raise ValueError("a Mahalanobis metric's matrix must be square")


def check_metric_dimension(metric: Any, dimension: int) -> None:
    """A metric whose vec or mat is sized by the data dimension must have exactly that size:
    its dist() loops over the data's dimension."""
    sizes = _METRIC_SIZES.get(_metric_kind(metric))
    if sizes is None:
        return
    p, vec, mat = metric.__getstate__()
    if sizes[0] is not None and vec.shape[0] != dimension and not (sizes[0] == "vec = 0 or d" and vec.shape[0] == 0):
        raise ValueError(f"a distance metric's vector does not have the data's {dimension} entries")
    if sizes[1] is not None and mat.shape != (dimension, dimension):
        raise ValueError(f"a distance metric's matrix is not {dimension} x {dimension}")


def _binary_tree_state(tree: Any, state: Any) -> None:
    """KDTree and BallTree queries walk node_data (a heap: node i's children are 2i+1 and
    2i+2), read idx_array[idx_start:idx_end] and then those rows of data, and node_bounds."""
    if not isinstance(state, tuple) or len(state) != 13:
        raise TypeError("a KDTree/BallTree state must be a 13-tuple")
    data, idx_array, node_data, node_bounds, *numbers, metric, sample_weight = state
    data = array(data, "a neighbors tree's data", "f", ndim=2)
    n_samples, dimension = data.shape
    if n_samples == 0 or dimension == 0:
        raise ValueError("a neighbors tree needs data")
    idx_array = array(idx_array, "a neighbors tree's idx_array", "i", ndim=1)
    if idx_array.shape[0] != n_samples:
        raise ValueError("a neighbors tree's idx_array must index every sample")
    indices_below(idx_array, n_samples, "a neighbors tree's sample index")
    leaf_size, n_levels, n_nodes, *counters = (count(n, "a neighbors tree count") for n in numbers)
    if leaf_size < 1:  # breadth-first queries divide by it
        raise ValueError("a neighbors tree's leaf_size must be at least 1")
    fields = ("idx_start", "idx_end", "is_leaf", "radius")
    if not isinstance(node_data, np.ndarray) or node_data.ndim != 1 or node_data.dtype.names != fields:
        raise ValueError("a neighbors tree's node_data must be a 1-d array of node records")
    if n_levels < 1 or n_levels > 62 or n_nodes != 2**n_levels - 1 or node_data.shape[0] != n_nodes:
        raise ValueError("a neighbors tree's node count does not match its levels")
    start, end = node_data["idx_start"], node_data["idx_end"]
    if np.any((start < 0) | (start > end) | (end > n_samples)):
        raise ValueError("a neighbors tree node's index range is outside its samples")
    internal = np.flatnonzero(node_data["is_leaf"] == 0)
    if internal.size and 2 * int(internal.max()) + 2 >= n_nodes:
        raise ValueError("a neighbors tree node's children are outside the tree")
    bounds_rows = 2 if type(tree).__name__ == "KDTree" else 1
    node_bounds = array(node_bounds, "a neighbors tree's node_bounds", "f", ndim=3)
    if node_bounds.shape != (bounds_rows, n_nodes, dimension):
        raise ValueError(f"a neighbors tree's node_bounds must be {(bounds_rows, n_nodes, dimension)}")
    from sklearn.metrics import DistanceMetric

    if not isinstance(metric, DistanceMetric) or _metric_kind(metric) == "PyFuncDistance":
        raise TypeError("a neighbors tree's metric must be a built-in DistanceMetric")
    check_metric_dimension(metric, dimension)
    if sample_weight is not None:
        weights = array(sample_weight, "a neighbors tree's sample_weight", "f", ndim=1)
        if weights.shape[0] != n_samples:
            raise ValueError("a neighbors tree needs one sample weight per sample")


_NEIGHBORS_FITTED = ("_fit_X", "n_samples_fit_", "_fit_method", "n_features_in_", "effective_metric_",
                     "effective_metric_params_")


def _neighbors_estimator(estimator: Any) -> None:
    """Brute-force searches run Cython over the query and ``_fit_X`` rows with the query's
    width, and search sizes are checked against n_samples_fit_; classifiers' Cython class
    modes count neighbors' ``_y`` labels into ``len(classes_)`` slots."""
    attributes = _attributes(estimator)
    if not _fitted(attributes):
        return
    owner = type(estimator).__name__
    _require_fitted(estimator, attributes, owner, _NEIGHBORS_FITTED)
    # Hyperparameters by scikit-learn's own constraints (n_neighbors an int, weights known...).
    estimator._validate_params()
    if not owner.startswith("Radius") and attributes.get("n_neighbors", 0) is None:
        # The constraint allows None for the radius searches' sake; a k-search compares it.
        raise TypeError(f"a {owner}'s n_neighbors must be an integer, not None")
    fitted = attributes["_fit_X"]
    width = _width(attributes, owner)
    from scipy.sparse import issparse

    if not issparse(fitted):
        fitted = array(fitted, f"a {owner}'s _fit_X", "f", ndim=2)
    if fitted.ndim != 2 or fitted.shape[1] != width and attributes.get("effective_metric_") != "precomputed":
        raise ValueError(f"a {owner}'s _fit_X does not have its {width} features")
    if count(attributes.get("n_samples_fit_"), f"a {owner}'s n_samples_fit_", 1) != fitted.shape[0]:
        raise ValueError(f"a {owner}'s n_samples_fit_ does not match _fit_X")
    method = attributes.get("_fit_method")
    tree = attributes.get("_tree")
    if method not in ("brute", "kd_tree", "ball_tree"):
        raise ValueError(f"a {owner}'s _fit_method is not one scikit-learn knows")
    if method != "brute" and (tree is None or tree.data.shape != fitted.shape):
        raise ValueError(f"a {owner}'s tree does not hold its _fit_X")
    params = attributes.get("effective_metric_params_") or {}
    if not isinstance(params, dict):
        raise TypeError(f"a {owner}'s metric parameters must be a dict")
    for key, value in params.items():
        if isinstance(value, np.ndarray) and any(size != width for size in value.shape):
            raise ValueError(f"a {owner}'s metric parameter {key!r} does not have its {width} features")
    # LocalOutlierFactor predicts without targets: it is fitted on X alone and has no _y.
    supervised = hasattr(type(estimator), "predict") and not isinstance(estimator, _sklearn().OutlierMixin)
    if "_y" in attributes or supervised:
        _neighbors_targets(estimator, attributes, owner, fitted.shape[0])


def _neighbors_targets(estimator: Any, attributes: dict, owner: str, n_samples: int) -> None:
    """``_y`` holds one target row per fitted sample; a classifier's are class indices, one
    column per output when ``outputs_2d_``, into ``classes_`` (one array per output)."""
    _require(attributes, owner, ("_y",))
    targets = array(attributes["_y"], f"a {owner}'s _y", "iuf")
    if targets.ndim not in (1, 2) or targets.shape[0] != n_samples:
        raise ValueError(f"a {owner}'s _y must have one row per fitted sample")
    if not isinstance(estimator, _sklearn().ClassifierMixin):
        return
    _require(attributes, owner, ("classes_", "outputs_2d_"))
    two_d = attributes["outputs_2d_"]
    if not isinstance(two_d, (bool, np.bool_)) or bool(two_d) != (targets.ndim == 2):
        raise ValueError(f"a {owner}'s outputs_2d_ does not match its _y")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"a {owner}'s _y must hold integer class indices")
    classes = attributes["classes_"] if two_d else [attributes["classes_"]]
    columns = targets.reshape(n_samples, -1).T
    if not isinstance(classes, list) or len(classes) != columns.shape[0]:
        raise ValueError(f"a {owner} needs one classes_ array per output")
    for labels, column in zip(classes, columns):
        if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.shape[0] == 0:
            raise ValueError(f"a {owner}'s classes_ must be non-empty 1-d arrays")
        indices_below(column, labels.shape[0], f"a {owner}'s class index")
    if type(estimator).__name__ == "RadiusNeighborsClassifier":
        _require(attributes, owner, ("outlier_label_",))  # predict reads it
    outliers = attributes.get("outlier_label_")
    if outliers is not None and (not isinstance(outliers, list) or len(outliers) != len(classes)):
        raise ValueError(f"a {owner}'s outlier_label_ must have one label per output")


def _centers(name: str) -> Callable[[Any], None]:
    """Estimators whose predict runs Cython (k-means' Lloyd step, ArgKmin) over input rows and
    the rows of ``name``, with the input's width."""

    def check(estimator: Any) -> None:
        attributes = _attributes(estimator)
        if not _fitted(attributes):
            return
        owner = type(estimator).__name__
        _require_fitted(estimator, attributes, owner, (name, "n_features_in_"))
        from scipy.sparse import issparse

        centers = attributes[name]
        if owner == "AffinityPropagation" and issparse(centers):
            # Fitted on a sparse matrix, its centers are rows of it (ArgKmin reads them as CSR,
            # whose structure scipy.sparse's own checks validated when it was rebuilt).
            if centers.dtype.kind != "f" or centers.ndim != 2:
                raise TypeError(f"a {owner}'s sparse {name} must be a 2-d float matrix")
        else:
            centers = array(centers, f"a {owner}'s {name}", "f", ndim=2)
        if centers.shape[1] != _width(attributes, owner) or centers.shape[0] == 0:
            raise ValueError(f"a {owner}'s {name} does not have its input's width")
        if "_n_threads" in attributes or name == "cluster_centers_" and "labels_" in attributes:
            # Threads are the machine's business, not the file's (k-means reads _n_threads).
            from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

            count(attributes.get("_n_threads", 1), f"a {owner}'s _n_threads", 1)
            estimator._n_threads = _openmp_effective_n_threads()

    return check


# --- libsvm -----------------------------------------------------------------------------------

_KERNELS = ("linear", "poly", "rbf", "sigmoid", "precomputed")


_LIBSVM_FITTED = ("support_", "support_vectors_", "_n_support", "_dual_coef_", "_intercept_", "_probA", "_probB",
                  "_gamma", "_sparse", "shape_fit_", "n_features_in_", "fit_status_", "_effective_probability")


def _libsvm(model: Any) -> None:
    """libsvm's predict (C) builds its model from these arrays with their lengths implied:
    n_class = len(_n_support) classes, n_class*(n_class-1)/2 intercepts (and probA/probB),
    n_class-1 rows of dual coefficients for l support vectors, whose count per class sums to
    l; a precomputed kernel reads input column support_[i]."""
    attributes = _attributes(model)
    if not _fitted(attributes):
        return
    owner = type(model).__name__
    classifier = isinstance(model, _sklearn().ClassifierMixin)
    outlier = isinstance(model, _sklearn().OutlierMixin)
    _require_fitted(model, attributes, owner, _LIBSVM_FITTED + (("classes_", "class_weight_") if classifier else ())
                    + (("offset_",) if outlier else ()))
    offset = attributes.get("offset_")
    if outlier and not (isinstance(offset, np.ndarray) and offset.dtype.kind == "f" and offset.shape == (1,)):
        number(offset, f"a {owner}'s offset_")  # libsvm's models hold it as a 1-element array
    if not isinstance(attributes["_effective_probability"], (bool, np.bool_)):
        raise TypeError(f"a {owner}'s _effective_probability must be a bool")
    from scipy.sparse import issparse
    impl = type(model)._impl
    if attributes.get("_impl", impl) != impl:
        raise ValueError(f"a {owner}'s _impl is not its own")
    kernel = attributes.get("kernel")
    if not callable(kernel) and kernel not in _KERNELS:
        raise ValueError(f"a {owner}'s kernel is not one libsvm knows")
    n_support = array(attributes.get("_n_support"), f"a {owner}'s _n_support", "i", ndim=1)
    n_class = n_support.shape[0]
    support = array(attributes.get("support_"), f"a {owner}'s support_", "i", ndim=1)
    vectors = attributes.get("support_vectors_")
    vectors = vectors if issparse(vectors) else array(vectors, f"a {owner}'s support_vectors_", "f", ndim=2)
    n_vectors = support.shape[0]
    width = _width(attributes, owner)
    shape_fit = attributes.get("shape_fit_")
    if not isinstance(shape_fit, tuple) or len(shape_fit) != 2:
        raise ValueError(f"a {owner}'s shape_fit_ must be a pair")
    n_train, fit_width = (count(size, f"a {owner}'s shape_fit_") for size in shape_fit)
    indices_below(support, n_train, f"a {owner}'s support index")
    if attributes.get("_sparse") is not issparse(vectors):
        raise ValueError(f"a {owner}'s _sparse does not match its support vectors")
    if kernel == "precomputed":
        if width != n_train:
            raise ValueError(f"a precomputed {owner} must take {n_train} columns")
    elif fit_width != width or vectors.shape != (n_vectors, width):
        raise ValueError(f"a {owner}'s support vectors are not {n_vectors} x {width}")
    if n_class < 2 or (impl in ("c_svc", "nu_svc") and n_support.min() < 0):
        raise ValueError(f"a {owner} needs two or more classes")
    if impl in ("c_svc", "nu_svc") and n_support.sum() != n_vectors:
        raise ValueError(f"a {owner}'s support counts do not add up to its support vectors")
    if classifier:  # predict takes classes_[label] for libsvm's labels 0..n_class-1
        classes = attributes["classes_"]
        if not isinstance(classes, np.ndarray) or classes.shape != (n_class,):
            raise ValueError(f"a {owner}'s classes_ must have its {n_class} classes")
    pairs = n_class * (n_class - 1) // 2
    dual = attributes.get("_dual_coef_")
    # Sparse models pass the CSR's data, read as a dense (n_class-1, l) block.
    values = dual.data if issparse(dual) else array(dual, f"a {owner}'s _dual_coef_", "f", ndim=2)
    if dual.shape != (n_class - 1, n_vectors) or values.size != (n_class - 1) * n_vectors:
        raise ValueError(f"a {owner}'s dual coefficients must be {n_class - 1} x {n_vectors}")
    if values.dtype != np.float64 or not values.flags.c_contiguous:
        raise ValueError(f"a {owner}'s dual coefficients must be contiguous float64")
    if array(attributes.get("_intercept_"), f"a {owner}'s _intercept_", "f", ndim=1).shape[0] != pairs:
        raise ValueError(f"a {owner} needs {pairs} intercepts")
    for key in ("_probA", "_probB"):
        if array(attributes.get(key), f"a {owner}'s {key}", "f", ndim=1).shape[0] not in (0, pairs):
            raise ValueError(f"a {owner}'s {key} must be empty or have {pairs} entries")
    count(attributes.get("degree"), f"a {owner}'s degree")
    for key in ("_gamma", "coef0", "cache_size"):
        if not isinstance(attributes.get(key), (float, int, np.floating, np.integer)):
            raise TypeError(f"a {owner}'s {key} must be a number")


# --- loss objects -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _fresh_loss(cls: type) -> dict:
    return vars(cls())


def _loss(loss: Any) -> None:
    """A loss calls its compiled ``closs`` (a Cython class per loss, taking arrays the caller
    sized) and its link: both must be the ones the loss class itself makes, and every other
    attribute of the type a fresh instance has."""
    owner = type(loss).__name__
    attributes = _attributes(loss)
    for key, default in _fresh_loss(type(loss)).items():
        if key not in attributes:
            raise ValueError(f"a {owner} lacks {key}")
        value = attributes[key]
        if key == "n_classes" and value is not None:
            count(value, f"a {owner}'s n_classes", 1)
        elif default is None:
            if value is not None and key in ("xp", "device"):
                raise TypeError(f"a {owner}'s {key} must be None")
        elif type(value) is not type(default):
            raise TypeError(f"a {owner}'s {key} must be a {type(default).__name__}")


# --- text and dict vectorizers ---------------------------------------------------------------


def _vocabulary(vectorizer: Any) -> None:
    """The vectorizers build CSR matrices with ``vocabulary_`` values as column indices and its
    length as the width, unchecked by scipy until a C++ kernel writes there."""
    attributes = _attributes(vectorizer)
    vocabulary = attributes.get("vocabulary_")
    if vocabulary is None:
        return
    if not isinstance(vocabulary, dict):
        raise TypeError("a vectorizer's vocabulary_ must be a dict")
    size = len(vocabulary)
    for column in vocabulary.values():
        count(column, "a vocabulary column", 0, size - 1)
    names = attributes.get("feature_names_")
    if names is not None and (not isinstance(names, list) or len(names) != size):
        raise ValueError("a DictVectorizer's feature_names_ must name every column")


def _hasher(hasher: Any) -> None:
    """Hashing (Cython) takes each hash modulo n_features, the output's width."""
    count(_attributes(hasher).get("n_features"), "a hasher's n_features", 1)


# --- scipy.sparse ----------------------------------------------------------------------------

# Flags that let scipy skip sorting or deduplicating: forgotten while checking, then given
# back (see _restore_flags). CSR/CSC/BSR compute theirs on demand; COO's is a plain attribute.
_SPARSE_FLAGS = ("_has_sorted_indices", "_has_canonical_format", "has_canonical_format")


def _claimed_flags(matrix: Any) -> dict[str, Any]:
    attributes = _attributes(matrix)
    return {name: value for name, value in attributes.items() if name in _SPARSE_FLAGS}  # in their order


def _restore_flags(matrix: Any, claimed: dict[str, Any], truth: Callable[[str], bool]) -> None:
    """Gives back the flags the file's state had, as True only where the checked data bears it
    out (``truth(flag)``): a False only makes scipy sort or deduplicate again."""
    for flag, value in claimed.items():
        setattr(matrix, flag, value is True and truth(flag))


def _compressed_truth(matrix: Any) -> Callable[[str], bool]:
    from scipy.sparse import _sparsetools

    def truth(flag: str) -> bool:
        test = _sparsetools.csr_has_sorted_indices if flag == "_has_sorted_indices" else _sparsetools.csr_has_canonical_format
        return bool(test(len(matrix.indptr) - 1, matrix.indptr, matrix.indices))

    return truth


def _in_canonical_order(coords: tuple[np.ndarray, ...]) -> bool:
    """True if the coordinates increase strictly in row-major order (sorted, no duplicates)."""
    greater = np.zeros(max(coords[0].shape[0] - 1, 0), dtype=bool)
    equal = ~greater
    for axis in coords:
        greater |= equal & (axis[1:] > axis[:-1])
        equal &= axis[1:] == axis[:-1]
    return bool(greater.all())


def _sparse_common(matrix: Any) -> tuple[int, ...]:
    attributes = _attributes(matrix)
    for flag in _SPARSE_FLAGS:
        attributes.pop(flag, None)
    if matrix.format == "coo":
        matrix.has_canonical_format = False
    shape = attributes.get("_shape")
    if not isinstance(shape, tuple) or not 1 <= len(shape) <= 2:
        raise ValueError("a sparse matrix's shape must be a tuple of one or two sizes")
    shape = tuple(count(size, "a sparse matrix dimension", 0, 2**62) for size in shape)
    matrix._shape = shape
    return shape


def _sparse_data(values: Any, ndim: int) -> np.ndarray:
    return array(values, "a sparse matrix's data", "biufc", ndim=ndim)


def _compressed(matrix: Any) -> None:
    """CSR, CSC and BSR kernels (C++) index by indptr and indices without checks;
    ``check_format(full_check=True)`` verifies every one against the shape."""
    claimed = _claimed_flags(matrix)
    shape = _sparse_common(matrix)
    data = _sparse_data(matrix.data, 3 if matrix.format == "bsr" else 1)
    # BSR kernels walk whole blocks: a shape that is not a multiple of the block size makes
    # them write past the end of the output (check_format does not look).
    if matrix.format == "bsr" and (len(shape) != 2 or 0 in data.shape[1:]
                                   or shape[0] % data.shape[1] or shape[1] % data.shape[2]):
        raise ValueError("a BSR matrix's shape must be a multiple of its block size")
    indices = array(matrix.indices, "a sparse matrix's indices", "iu", ndim=1)
    indptr = array(matrix.indptr, "a sparse matrix's indptr", "iu", ndim=1)
    # check_format's own full check misses an indptr whose differences overflow (a last
    # entry of -2**63 passes it): the pointers are checked here by comparison, not by diff.
    major, minor = shape if matrix.format != "csc" else shape[::-1]
    if matrix.format == "bsr":
        major, minor = major // data.shape[1], minor // data.shape[2]
    if indptr.shape[0] != major + 1 or indptr[0] != 0 or not 0 <= indptr[-1] <= min(indices.shape[0], data.shape[0]):
        raise ValueError("a sparse matrix's indptr does not span its indices")
    if np.any(indptr[1:] < indptr[:-1]):
        raise ValueError("a sparse matrix's indptr must not decrease")
    indices_below(indices[: int(indptr[-1])], minor, "a sparse matrix's index")
    matrix.check_format(full_check=True)
    _restore_flags(matrix, claimed, _compressed_truth(matrix))


def _coordinates(matrix: Any) -> None:
    """COO's todense and products (C++) write at every (row, column) pair."""
    claimed = _claimed_flags(matrix)
    shape = _sparse_common(matrix)
    _sparse_data(matrix.data, 1)
    coords = matrix.coords
    if not isinstance(coords, tuple) or len(coords) != len(shape):
        raise ValueError("a COO matrix needs one coordinate array per dimension")
    for axis, coordinate in zip(shape, coords):
        coordinate = array(coordinate, "a COO coordinate", "iu", ndim=1)
        if coordinate.shape[0] != matrix.data.shape[0]:
            raise ValueError("a COO matrix needs one coordinate per value")
        indices_below(coordinate, axis, "a COO coordinate")
    matrix._check()
    _restore_flags(matrix, claimed, lambda flag: _in_canonical_order(matrix.coords))


def _diagonals(matrix: Any) -> None:
    """DIA's matvec (C++) walks data row k as diagonal offsets[k], clipped to the shape."""
    _sparse_common(matrix)
    data = _sparse_data(matrix.data, 2)
    offsets = array(matrix.offsets, "a DIA matrix's offsets", "iu", ndim=1)
    if offsets.shape[0] != data.shape[0]:
        raise ValueError("a DIA matrix needs one offset per diagonal")
    # Its kernels add offsets to the shape and to each other in the offsets' integer type (an
    # offset near 2^31 overflows there and writes out of bounds), so every diagonal must touch
    # the matrix and the sums must fit.
    rows, columns = matrix._shape
    if offsets.size and (int(offsets.min()) < -rows or int(offsets.max()) > columns):
        raise ValueError("a DIA matrix's diagonal lies outside the matrix")
    if rows + columns + data.shape[1] > np.iinfo(offsets.dtype).max:
        raise ValueError("a DIA matrix's shape does not fit its offsets' integer type")


def _rows_of_lists(matrix: Any) -> None:
    """LIL's tocsr flattens its row lists (Cython) into a CSR matrix whose column indices are
    not checked again."""
    rows_count, columns = _sparse_common(matrix)
    rows, data = matrix.rows, matrix.data
    for part in (rows, data):
        if not isinstance(part, np.ndarray) or part.dtype != object or part.shape != (rows_count,):
            raise ValueError("a LIL matrix needs one list per row")
    dtype = _attributes(matrix).get("dtype")
    fits = _scalar_fits(dtype) if isinstance(dtype, np.dtype) else None
    for row, values in zip(rows, data):
        if not isinstance(row, list) or not isinstance(values, list) or len(row) != len(values):
            raise ValueError("a LIL row must be two lists of one length")
        for column in row:
            count(column, "a LIL column", 0, columns - 1)
        if fits is not None and not all(map(fits, values)):
            raise TypeError(f"a LIL matrix's values must be numbers that fit {dtype}")


def _scalar_fits(dtype: np.dtype) -> Callable[[Any], bool]:
    """Whether a LIL value converts to ``dtype`` in tocsr's Cython (Python ints by range,
    Python complex only to complex; numpy scalars are cast)."""
    low, high = (np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype.kind in "iu" else (-(2**63), 2**63 - 1)

    def fits(value: Any) -> bool:
        kind = type(value)
        if kind is float or kind is bool:
            return True
        if kind is int:
            return low <= value <= high
        if kind is complex:
            return dtype.kind == "c"
        return isinstance(value, np.generic) and value.dtype.kind in "biufc"

    return fits


def _dictionary_of_keys(matrix: Any) -> None:
    """DOK converts its keys to COO coordinates, then to C++ kernels."""
    shape = _sparse_common(matrix)
    entries = _attributes(matrix).get("_dict")
    if not isinstance(entries, dict):
        raise TypeError("a DOK matrix's entries must be a dict")
    for key in entries:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) != len(shape):
            raise ValueError("a DOK key must have one index per dimension")
        for index, size in zip(key, shape):
            count(index, "a DOK index", 0, size - 1)
    # Products and sums add the values as numpy scalars of the matrix's dtype.
    dtype = _attributes(matrix).get("dtype")
    if isinstance(dtype, np.dtype) and not all(type(value) is dtype.type for value in entries.values()):
        raise TypeError(f"a DOK matrix's values must be {dtype} scalars")


def _dtype_attribute(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """LIL and DOK keep their dtype as a plain attribute, used to allocate their outputs."""

    def checked(matrix: Any) -> None:
        check(matrix)
        dtype = _attributes(matrix).get("dtype")
        if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
            raise TypeError("a sparse matrix's dtype must be numeric")

    return checked


_SPARSE_FORMATS = {
    "csr": _compressed,
    "csc": _compressed,
    "bsr": _compressed,
    "coo": _coordinates,
    "dia": _diagonals,
    "lil": _dtype_attribute(_rows_of_lists),
    "dok": _dtype_attribute(_dictionary_of_keys),
}


# --- the tables ------------------------------------------------------------------------------


def _classes(*public: str) -> list[type]:
    """The classes named by their public paths (``module.Name``) in the installed packages."""
    import importlib

    found = []
    for name in public:
        module, _, attribute = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attribute, None)
        if cls is not None:
            found.append(cls)
    return found


TREE_ESTIMATORS = (
    "sklearn.tree.DecisionTreeClassifier",
    "sklearn.tree.DecisionTreeRegressor",
    "sklearn.tree.ExtraTreeClassifier",
    "sklearn.tree.ExtraTreeRegressor",
)
FORESTS = (
    "sklearn.ensemble.RandomForestClassifier",
    "sklearn.ensemble.RandomForestRegressor",
    "sklearn.ensemble.ExtraTreesClassifier",
    "sklearn.ensemble.ExtraTreesRegressor",
    "sklearn.ensemble.RandomTreesEmbedding",
)
GRADIENT_BOOSTING = ("sklearn.ensemble.GradientBoostingClassifier", "sklearn.ensemble.GradientBoostingRegressor")
HIST_GRADIENT_BOOSTING = (
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.ensemble.HistGradientBoostingRegressor",
)
NEIGHBORS_ESTIMATORS = (
    "sklearn.neighbors.KNeighborsClassifier",
    "sklearn.neighbors.KNeighborsRegressor",
    "sklearn.neighbors.KNeighborsTransformer",
    "sklearn.neighbors.RadiusNeighborsClassifier",
    "sklearn.neighbors.RadiusNeighborsRegressor",
    "sklearn.neighbors.RadiusNeighborsTransformer",
    "sklearn.neighbors.NearestNeighbors",
    "sklearn.neighbors.LocalOutlierFactor",
)
CENTERS = {
    "sklearn.cluster.KMeans": "cluster_centers_",
    "sklearn.cluster.MiniBatchKMeans": "cluster_centers_",
    "sklearn.cluster.MeanShift": "cluster_centers_",
    "sklearn.cluster.AffinityPropagation": "cluster_centers_",
    "sklearn.neighbors.NearestCentroid": "centroids_",
    "sklearn.cluster.Birch": "subcluster_centers_",
}
LIBSVM = ("sklearn.svm.SVC", "sklearn.svm.NuSVC", "sklearn.svm.SVR", "sklearn.svm.NuSVR", "sklearn.svm.OneClassSVM")
VOCABULARIES = (
    "sklearn.feature_extraction.DictVectorizer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
)
HASHERS = ("sklearn.feature_extraction.FeatureHasher", "sklearn.feature_extraction.text.HashingVectorizer")
NEIGHBORS_TREES = ("sklearn.neighbors.KDTree", "sklearn.neighbors.BallTree")


_NO_CHECKS: tuple[None, None, None] = (None, None, None)


@functools.lru_cache(maxsize=4096)
def checks_for(name: str) -> tuple[Callable | None, Callable | None, Callable | None]:
    """The (args, before-state, after-state) checks of the type ``name``; only scikit-learn
    and scipy.sparse types have any, so nothing else imports those packages."""
    if not name.startswith(("sklearn.", "scipy.sparse.")):
        return _NO_CHECKS
    return tuple(table.get(name) for table in _tables())  # type: ignore[return-value]


def is_validated(name: str) -> bool:
    return checks_for(name) != _NO_CHECKS


@functools.cache
def _tables() -> tuple[dict[str, Callable], dict[str, Callable], dict[str, Callable]]:
    """``(ARGS, BEFORE_STATE, AFTER_STATE)``, keyed by qualified name."""
    import scipy.sparse  # noqa: F401  (the formats below are looked up in it)
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.metrics import DistanceMetric, _dist_metrics
    from sklearn.tree._tree import Tree

    def named(classes: list[type], check: Callable) -> dict[str, Callable]:
        return {qualified_name(cls): check for cls in classes}

    metrics = _builtin_metrics(_dist_metrics, DistanceMetric)
    args = named([Tree], _tree_args)
    before = {
        **named([Tree], _tree_state),
        **named([TreePredictor], _predictor_state),
        **named(_classes(*NEIGHBORS_TREES), _binary_tree_state),
        **named(metrics, _distance_metric_state),
    }
    after = {
        **named(_classes(*TREE_ESTIMATORS), _tree_estimator),
        **named(_classes(*FORESTS), _forest),
        **named(_classes("sklearn.ensemble.IsolationForest"), _isolation_forest),
        **named(_classes(*GRADIENT_BOOSTING), _gradient_boosting),
        **named(_classes(*HIST_GRADIENT_BOOSTING), _hist_gradient_boosting),
        **named([_BinMapper], _bin_mapper),
        **named(_classes(*NEIGHBORS_ESTIMATORS), _neighbors_estimator),
        **named(_classes(*LIBSVM), _libsvm),
        **named(_classes(*VOCABULARIES), _vocabulary),
        **named(_classes(*HASHERS), _hasher),
    }
    after.update(named(_losses(), _loss))
    for name, attribute in CENTERS.items():
        after.update(named(_classes(name), _centers(attribute)))
    for fmt, check in _SPARSE_FORMATS.items():
        after.update(named(_classes(f"scipy.sparse.{fmt}_matrix", f"scipy.sparse.{fmt}_array"), check))
    return args, before, after


def _losses() -> list[type]:
    """The loss classes of ``sklearn._loss.loss`` that build their own closs and link."""
    from sklearn._loss import loss

    found = []
    for cls in vars(loss).values():
        if isinstance(cls, type) and issubclass(cls, loss.BaseLoss) and cls is not loss.BaseLoss:
            try:
                _fresh_loss(cls)
            except Exception:  # needs constructor arguments: left to the helper-module rule
                continue
            found.append(cls)
    return found


def _builtin_metrics(module: Any, base: type) -> list[type]:
    """The DistanceMetric classes of ``module`` but the one that calls a Python function."""
    return [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, base) and c is not base
        and not c.__name__.startswith("PyFuncDistance")
    ]
