"""Trust: which names from a file may be imported, resolved or called at all.

Nothing named in a file is imported, resolved or called unless the name is trusted. Trusted
are a built-in default set (see ``Trust.is_trusted``) and the names the caller passes as
``trusted=[...]``.

The rule for the default set: a type is trusted by default only if everything in its state
that compiled code (Cython, C, C++) uses without bounds checks is validated before ``load``
returns (by ``_validate``), or if its state reaches only numpy and Python code, where bad state
gives an ordinary exception. ``docs/trusted-types.md`` is the inventory: each scikit-learn and
scipy type, what its compiled code assumes and the check that guarantees it, and the types left
out (which a caller may still name in ``trusted=``, at the risk the document describes). Names are compared exactly; a resolved object must carry exactly the name
the file gave (so ``sklearn.base.os.system`` is not ``os.system`` in disguise).

How a trusted name is then rebuilt, and under which rule for its arguments, is ``_rebuild``'s.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _validate
from ._errors import UntrustedTypeError
from ._names import qualified_name
from ._native import (
    AS_MATRIX,
    EXACT_ARRAY,
    MASKED_ARRAY,
    NEWOBJ,
    NEWOBJ_EX,
    NUMPY_DTYPE,
    RECONSTRUCTOR,
    REDUCE_STATE,
)

BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in (
        "bool", "bytes", "bytearray", "complex", "dict", "float", "frozenset", "int", "list",
        "object", "range", "set", "slice", "str", "tuple",
    )
)

# Singletons that reduce to their name: only ever named, as globals.
_BUILTIN_SINGLETONS = frozenset({"builtins.Ellipsis", "builtins.NotImplemented"})

NUMPY_RANDOM = frozenset(
    {
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
    }
)

_NUMPY_TYPES = (
    frozenset({NUMPY_DTYPE, "numpy.ndarray", MASKED_ARRAY})
    | frozenset(qualified_name(t) for t in set(np.sctypeDict.values()))
    | NUMPY_RANDOM
)

# Names the package itself uses for its own typed objects, and pickle's reconstructors, which
# are only called on a class the policy trusts (see _rebuild.construct).
_PACKAGE_TYPES = frozenset({REDUCE_STATE, EXACT_ARRAY, NEWOBJ, NEWOBJ_EX, RECONSTRUCTOR})

# Factory functions trusted by default, each called only with the arguments its rule accepts.
# numpy's random pickling helpers: a bit generator class or name, or a bit generator.
NUMPY_RANDOM_FACTORIES = frozenset(
    f"numpy.random._pickle.__{kind}_ctor" for kind in ("bit_generator", "generator", "randomstate")
)
# scikit-learn's binary trees and distance metrics reduce to newObj(cls), i.e. cls.__new__(cls).
BLANK_FACTORIES = frozenset(
    f"sklearn.{module}.newObj" for module in ("metrics._dist_metrics", "neighbors._kd_tree", "neighbors._ball_tree")
)
# numpy.matrix is written as numpy.asmatrix of its 2-d array.
_DEFAULT_FACTORIES = NUMPY_RANDOM_FACTORIES | BLANK_FACTORIES | {AS_MATRIX}

#: Every name trusted without asking, besides the scikit-learn and scipy.sparse rules and the
#: Cython unpickling helpers of the classes they trust.
DEFAULT_TRUSTED: frozenset[str] = BUILTIN_TYPES | _BUILTIN_SINGLETONS | _NUMPY_TYPES | _PACKAGE_TYPES | _DEFAULT_FACTORIES

# Cython's auto-pickling helper of class ``module.Class``: ``module.__pyx_unpickle_Class``.
_PYX_UNPICKLE = re.compile(r"(?P<module>.+)\.__pyx_unpickle_(?P<cls>\w+)")

# scikit-learn estimators, by public name, whose fitted state reaches only numpy, scipy's Python
# code and other trusted types (their compiled calls take only arrays sized from the input);
# the estimators whose state compiled code reads are trusted through _validate's tables.
# Reviewed against scikit-learn 1.9's `all_estimators()`; see docs/trusted-types.md.
_SKLEARN_NUMPY_ONLY = {
    "calibration": "CalibratedClassifierCV",
    "cluster": "AgglomerativeClustering DBSCAN FeatureAgglomeration OPTICS SpectralBiclustering "
    "SpectralClustering SpectralCoclustering",
    "compose": "ColumnTransformer TransformedTargetRegressor",
    "covariance": "EllipticEnvelope EmpiricalCovariance GraphicalLasso GraphicalLassoCV LedoitWolf "
    "MinCovDet OAS ShrunkCovariance",
    "cross_decomposition": "CCA PLSCanonical PLSRegression PLSSVD",
    "decomposition": "DictionaryLearning FactorAnalysis FastICA IncrementalPCA KernelPCA "
    "MiniBatchDictionaryLearning MiniBatchNMF MiniBatchSparsePCA NMF PCA SparseCoder SparsePCA "
    "TruncatedSVD",
    "discriminant_analysis": "LinearDiscriminantAnalysis QuadraticDiscriminantAnalysis",
    "dummy": "DummyClassifier DummyRegressor",
    "ensemble": "AdaBoostClassifier AdaBoostRegressor BaggingClassifier BaggingRegressor "
    "StackingClassifier StackingRegressor "
    "VotingClassifier VotingRegressor",
    "feature_extraction.image": "PatchExtractor",
    "feature_extraction.text": "TfidfTransformer",
    "feature_selection": "GenericUnivariateSelect RFE RFECV SelectFdr SelectFpr SelectFromModel "
    "SelectFwe SelectKBest SelectPercentile SequentialFeatureSelector VarianceThreshold",
    "frozen": "FrozenEstimator",
    "gaussian_process": "GaussianProcessClassifier GaussianProcessRegressor",
    "impute": "KNNImputer MissingIndicator SimpleImputer",
    "isotonic": "IsotonicRegression",
    "kernel_approximation": "AdditiveChi2Sampler Nystroem PolynomialCountSketch RBFSampler "
    "SkewedChi2Sampler",
    "kernel_ridge": "KernelRidge",
    "linear_model": "ARDRegression BayesianRidge ElasticNet ElasticNetCV GammaRegressor "
    "HuberRegressor Lars LarsCV Lasso LassoCV LassoLars LassoLarsCV LassoLarsIC LinearRegression "
    "LogisticRegression LogisticRegressionCV MultiTaskElasticNet MultiTaskElasticNetCV "
    "MultiTaskLasso MultiTaskLassoCV OrthogonalMatchingPursuit OrthogonalMatchingPursuitCV "
    "PassiveAggressiveClassifier PassiveAggressiveRegressor Perceptron PoissonRegressor "
    "QuantileRegressor RANSACRegressor Ridge RidgeCV RidgeClassifier RidgeClassifierCV "
    "SGDClassifier SGDOneClassSVM SGDRegressor TheilSenRegressor TweedieRegressor",
    "manifold": "ClassicalMDS Isomap LocallyLinearEmbedding MDS SpectralEmbedding TSNE",
    "mixture": "BayesianGaussianMixture GaussianMixture",
    "model_selection": "FixedThresholdClassifier GridSearchCV RandomizedSearchCV "
    "TunedThresholdClassifierCV",
    "multiclass": "OneVsOneClassifier OneVsRestClassifier OutputCodeClassifier _ConstantPredictor",
    "multioutput": "ClassifierChain MultiOutputClassifier MultiOutputRegressor RegressorChain",
    "naive_bayes": "BernoulliNB CategoricalNB ComplementNB GaussianNB MultinomialNB",
    "neighbors": "KernelDensity NeighborhoodComponentsAnalysis",
    "neural_network": "BernoulliRBM MLPClassifier MLPRegressor",
    "pipeline": "FeatureUnion Pipeline",
    "preprocessing": "Binarizer FunctionTransformer KBinsDiscretizer KernelCenterer LabelBinarizer "
    "LabelEncoder MaxAbsScaler MinMaxScaler MultiLabelBinarizer Normalizer OneHotEncoder "
    "OrdinalEncoder PolynomialFeatures PowerTransformer QuantileTransformer RobustScaler "
    "StandardScaler TargetEncoder",
    "random_projection": "GaussianRandomProjection SparseRandomProjection",
    "semi_supervised": "LabelPropagation LabelSpreading SelfTrainingClassifier",
    "svm": "LinearSVC LinearSVR",
    "calibration._CalibratedClassifier": "",
    "calibration._SigmoidCalibration": "",
    "gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace": "",
    "utils._bunch.Bunch": "",
}

# Modules of helper objects fitted estimators hold whose state is scalars or Python values:
# losses and links (their Cython methods take arrays the caller sizes), SGD's loss functions,
# scorers, splitters, optimizers and Gaussian-process kernels.
_SKLEARN_HELPER_MODULES = (
    "sklearn._loss.loss.",
    "sklearn._loss.link.",
    "sklearn._loss._loss.",
    "sklearn.linear_model._sgd_fast.",
    "sklearn.metrics._scorer.",
    "sklearn.model_selection._split.",
    "sklearn.neural_network._stochastic_optimizers.",
    "sklearn.gaussian_process.kernels.",
)


@functools.cache
def _sklearn_default_classes() -> frozenset[type]:
    """The classes of _SKLEARN_NUMPY_ONLY and of every validated scikit-learn type."""
    found: set[type] = set()
    for module, names in _SKLEARN_NUMPY_ONLY.items():
        if not names:  # a private class named by its module path
            module, _, names = module.rpartition(".")
        package = importlib.import_module(f"sklearn.{module}")
        found.update(cls for cls in (getattr(package, name, None) for name in names.split()) if cls is not None)
    return frozenset(found)


def _lookup(name: str, package: str) -> Any:
    """Imports the longest module prefix of ``name`` inside ``package`` and walks the rest.

    Only called for names under a trusted package, whose modules are trusted code."""
    parts = name.split(".")
    if parts[0] != package or not all(part.isidentifier() for part in parts):
        return None
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        return found
    return None


def _names_itself(obj: Any, name: str) -> bool:
    try:
        return qualified_name(obj) == name
    except TypeError:
        return False


def _class_in_package(name: str, package: str) -> type | None:
    """The class ``name`` denotes inside ``package``, if it carries exactly that name."""
    if not name.startswith(package + "."):
        return None
    obj = _lookup(name, package)
    return obj if isinstance(obj, type) and _names_itself(obj, name) else None


# Whether a name denotes an estimator or a sparse matrix class depends only on the installed
# packages, so each name is looked up once per process (loading a pipeline asks for a dozen).
@functools.lru_cache(maxsize=4096)
def _sklearn_object(name: str) -> Any:
    cls = _class_in_package(name, "sklearn")
    if cls is None:
        return None
    if cls in _sklearn_default_classes() or _validate.is_validated(name):
        return cls
    if name.startswith(_SKLEARN_HELPER_MODULES) and not name.startswith("sklearn.linear_model._sgd_fast._"):
        return cls
    return None


@functools.lru_cache(maxsize=4096)
def _scipy_sparse_object(name: str) -> Any:
    if not name.startswith("scipy.sparse."):
        return None
    cls = _class_in_package(name, "scipy")
    if cls is None:
        return None
    return cls if _validate.is_validated(name) else None


def _is_numpy_ufunc(name: str) -> bool:
    """numpy's ufuncs (``numpy.log1p``, as FunctionTransformer holds) are pure element-wise math."""
    module, _, attribute = name.partition(".")
    return module == "numpy" and attribute.isidentifier() and isinstance(getattr(np, attribute, None), np.ufunc)


# Trust by default depends only on the name and the installed packages, so it is decided once
# per name and process (a forest names the same few types hundreds of times).
@functools.lru_cache(maxsize=4096)
def _trusted_by_default(name: str) -> bool:
    if name in DEFAULT_TRUSTED or _is_numpy_ufunc(name):
        return True
    pyx_class = pyx_unpickled_class(name)
    if pyx_class is not None:
        return _trusted_by_default(pyx_class)
    return _sklearn_object(name) is not None or _scipy_sparse_object(name) is not None


def pyx_unpickled_class(name: str) -> str | None:
    """The class name whose Cython unpickling helper ``name`` is, if it is one."""
    match = _PYX_UNPICKLE.fullmatch(name)
    return f"{match['module']}.{match['cls']}" if match else None


def validated_type(name: str) -> bool:
    """True if ``name`` is trusted by default because ``_validate`` checks its state (its
    methods may reach compiled code); False for the numpy-only types (whose bad state can only
    give ordinary Python exceptions) and for names not trusted by default."""
    return _trusted_by_default(name) and _validate.is_validated(name)


@functools.lru_cache(maxsize=4096)
def _resolve_trusted(name: str) -> Any:
    """What a name trusted by default denotes (None if nothing): looked up once per process."""
    obj = _sklearn_object(name) or _scipy_sparse_object(name)
    # Otherwise look it up in its own top-level package.
    return obj if obj is not None else _lookup(name, name.partition(".")[0])


class Trust:
    """The default trust set plus the caller's ``trusted`` names."""

    def __init__(self, trusted: Iterable[str] | None = None) -> None:
        if isinstance(trusted, str):
            raise TypeError("trusted must be a list of names, not a string")
        self.extra = frozenset(trusted or ())
        self._resolved: dict[str, Any] = {}

    def is_trusted(self, name: str) -> bool:
        """True if ``name`` may be rebuilt. May import scikit-learn or scipy modules."""
        return name in self.extra or _trusted_by_default(name)

    def check(self, names: Iterable[str]) -> None:
        """Raises UntrustedTypeError naming every untrusted name."""
        untrusted = [name for name in names if not self.is_trusted(name)]
        if untrusted:
            raise UntrustedTypeError(untrusted)

    def resolve(self, name: str) -> Any:
        """The trusted class or function ``name`` denotes. Never calls it."""
        if _trusted_by_default(name):
            obj = _resolve_trusted(name)
        elif name in self.extra:
            obj = self._resolved.get(name)
            if obj is None:
                obj = self._resolved[name] = _lookup(name, name.partition(".")[0])
        else:
            raise UntrustedTypeError([name])
        if obj is None:
            raise UntrustedTypeError([name])
        return obj
