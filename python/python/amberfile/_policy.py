"""The loading policy: which names from a file may be rebuilt, and how.

Nothing named in a file is imported, resolved or called unless the name is trusted. Trusted
are a built-in default set (see ``is_trusted``) and the names the caller passes as
``trusted=[...]``.

The rule for the default set: a type is trusted by default only if everything in its state
that compiled code (Cython, C, C++) uses without bounds checks is validated before ``load``
returns (by ``_validate``), or if its state reaches only numpy and Python code, where bad state
gives an ordinary exception. ``docs/trusted-types.md`` is the inventory: each scikit-learn and
scipy type, what its compiled code assumes and the check that guarantees it, and the types left
out (which a caller may still name in ``trusted=``, at the risk the document describes). Names are compared exactly; a resolved object must carry exactly the name
the file gave (so ``sklearn.base.os.system`` is not ``os.system`` in disguise).

Rebuilding an ``object`` node (its name, ``args`` and ``state``; spec section 14.5.1):

- no args: the name is a class, and the value ``cls.__new__(cls)`` (a file of the previous
  writer names numpy's random generators this way: ``cls()``, since their ``__new__`` alone
  leaves them unusable);
- args (a tuple) and a class: ``cls(*args)``, the constructor of a trusted type (never for the
  builtin container, number and string types, ndarray, dtype or numpy scalars: their values have
  node kinds of their own, and a call like ``list(range(10**12))`` would exhaust memory);
- args and one of pickle's reconstructors ``copyreg.__newobj__``, ``copyreg.__newobj_ex__`` or
  ``copyreg._reconstructor``: ``cls.__new__(cls, *args, **kwargs)`` (or the base type's
  ``__new__`` and ``__init__``), where ``cls`` is the first argument, a ``global`` node the
  policy trusts (the same guards as a constructor call; trusted by default as protocol names);
- args and a trusted function (a factory): ``function(*args)``. Trusted by default are only the
  factories of ``_DEFAULT_FACTORIES`` and Cython's ``__pyx_unpickle_<Class>`` of a class
  trusted by default, each under its own rule for the arguments; ``trusted=[...]`` adds others;
- then the state: ``cls.__setstate__(obj, state)`` if the class defines it, else pickle's
  default (``obj.__dict__.update(state)``, and slot values for a ``(dict, slots)`` pair);
- around each step, the checks ``_validate`` has for the type (arguments, state, the finished
  object; an object built from arguments alone is checked as a finished one).
"""

from __future__ import annotations

import copyreg
import functools
import importlib
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _validate
from ._errors import UntrustedTypeError
from ._names import NEWOBJ, NEWOBJ_EX, RECONSTRUCTOR, qualified_name

_BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in (
        "bool", "bytes", "bytearray", "complex", "dict", "float", "frozenset", "int", "list",
        "object", "range", "set", "slice", "str", "tuple",
    )
)

# Singletons that reduce to their name: only ever named, as globals.
_BUILTIN_SINGLETONS = frozenset({"builtins.Ellipsis", "builtins.NotImplemented"})

# Named freely (as globals) but never called with arguments from a file: their values have node
# kinds of their own, and e.g. list(range(10**12)) would exhaust memory.
_NOT_CONSTRUCTED = (_BUILTIN_TYPES - {"builtins.slice", "builtins.range"}) | {"numpy.ndarray", "numpy.dtype"}

_NUMPY_RANDOM = frozenset(
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
    frozenset({"numpy.dtype", "numpy.ndarray", "numpy.ma.core.MaskedArray"})
    | frozenset(qualified_name(t) for t in set(np.sctypeDict.values()))
    | _NUMPY_RANDOM
)

# Names the package itself uses for its own typed objects, and pickle's reconstructors, which
# are only called on a class the policy trusts (see Policy.construct).
_PACKAGE_TYPES = frozenset({"amberfile.ReduceState", "amberfile.ExactArray", NEWOBJ, NEWOBJ_EX, RECONSTRUCTOR})

# Factory functions trusted by default, each called only with the arguments its rule accepts.
# numpy's random pickling helpers: a bit generator class or name, or a bit generator.
_NUMPY_RANDOM_FACTORIES = frozenset(
    f"numpy.random._pickle.__{kind}_ctor" for kind in ("bit_generator", "generator", "randomstate")
)
# scikit-learn's binary trees and distance metrics reduce to newObj(cls), i.e. cls.__new__(cls).
_BLANK_FACTORIES = frozenset(
    f"sklearn.{module}.newObj" for module in ("metrics._dist_metrics", "neighbors._kd_tree", "neighbors._ball_tree")
)
# numpy.matrix is written as numpy.asmatrix of its 2-d array.
_AS_MATRIX = "numpy.asmatrix"
_DEFAULT_FACTORIES = _NUMPY_RANDOM_FACTORIES | _BLANK_FACTORIES | {_AS_MATRIX}

#: Every name trusted without asking, besides the scikit-learn and scipy.sparse rules and the
#: Cython unpickling helpers of the classes they trust.
DEFAULT_TRUSTED: frozenset[str] = _BUILTIN_TYPES | _BUILTIN_SINGLETONS | _NUMPY_TYPES | _PACKAGE_TYPES | _DEFAULT_FACTORIES

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
    pyx_class = _pyx_unpickled_class(name)
    if pyx_class is not None:
        return _trusted_by_default(pyx_class)
    return _sklearn_object(name) is not None or _scipy_sparse_object(name) is not None


def _pyx_unpickled_class(name: str) -> str | None:
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


# Per class, the name rebuilding checks it by: a forest holds hundreds of instances of a few
# classes. Only classes the policy itself resolved from trusted names are ever looked up.
_CLASS_NAMES: dict[type, str] = {}


class Policy:
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

    def construct(self, name: str, target: Any, args: tuple[Any, ...] | None, has_state: bool = True) -> Any:
        """The value of an ``object`` node named ``name`` (resolved as ``target``) with ``args``,
        before its state (if ``has_state``) is set. Fails before any call for arguments the
        callable's rule refuses."""
        if args is None:
            return self.new_instance(target, None, has_state)
        if name == NEWOBJ:
            if not args:
                raise TypeError(f"{NEWOBJ} needs the class as its first argument")
            cls, rest = args[0], args[1:]
            return self._build(cls, rest, has_state, lambda: cls.__new__(cls, *rest))
        if name == NEWOBJ_EX:
            if len(args) != 3 or type(args[1]) is not tuple or type(args[2]) is not dict:
                raise TypeError(f"{NEWOBJ_EX} needs (class, args tuple, kwargs dict)")
            cls, positional, keywords = args
            if not all(type(key) is str for key in keywords):
                raise TypeError(f"{NEWOBJ_EX}'s keyword names must be str")
            return self._build(cls, positional, has_state, lambda: cls.__new__(cls, *positional, **keywords))
        if name == RECONSTRUCTOR:
            return self._reconstruct(args, has_state)
        if isinstance(target, type):
            return self.new_instance(target, args, has_state)
        return self._call_factory(name, target, args, has_state)

    def new_instance(self, cls: Any, args: tuple[Any, ...] | None, has_state: bool = True) -> Any:
        """An instance of the trusted class ``cls``, before its state (if ``has_state``) is set.

        A validated type built from arguments alone is checked here, as its state would be: a
        constructor like ``csr_matrix((data, indices, indptr))`` does not check indices."""
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
        if args is None:
            return cls() if self._name_of(cls) in _NUMPY_RANDOM else cls.__new__(cls)
        return self._build(cls, args, has_state, lambda: cls(*args))

    def _build(self, cls: Any, args: tuple[Any, ...], has_state: bool, build: Any) -> Any:
        """``build()``, a call that makes an instance of ``cls`` from ``args``, behind the guards
        and checks of constructing ``cls`` from a file."""
        if not isinstance(cls, type):
            raise TypeError(f"{cls!r} is not a class and cannot be instantiated from a file")
        name = self._name_of(cls)
        if name in _NOT_CONSTRUCTED or issubclass(cls, np.generic):
            raise TypeError(f"{name} is not constructed from arguments in a file")
        check_args, check_state, check_object = _validate.checks_for(name)
        if check_state is not None and not has_state:
            raise TypeError(f"{name} must be given its state, not only constructor arguments")
        if check_args is not None:
            check_args(args)
        obj = build()
        if check_object is not None and not has_state:
            check_object(obj)
        return obj

    def _reconstruct(self, args: tuple[Any, ...], has_state: bool) -> Any:
        """``copyreg._reconstructor(cls, base, base_state)``: protocol 0's rebuilding of a class
        derived from a builtin type. pickle writes ``base(obj)`` as the base state, so nothing
        else is accepted (no ``bytes.__new__(cls, 10**12)``)."""
        if len(args) != 3:
            raise TypeError(f"{RECONSTRUCTOR} needs (class, base class, base state)")
        cls, base, base_state = args
        if not (isinstance(cls, type) and isinstance(base, type) and issubclass(cls, base)):
            raise TypeError(f"{RECONSTRUCTOR} needs a class and a base class it derives from")
        if self._name_of(base) not in _BUILTIN_TYPES:
            raise TypeError(f"{RECONSTRUCTOR}'s base must be a builtin type, not {self._name_of(base)}")
        if base is not object and type(base_state) is not base:
            raise TypeError(f"{RECONSTRUCTOR}'s base state must be a {base.__name__}")
        if base is object and base_state is not None:
            raise TypeError(f"{RECONSTRUCTOR}'s base state must be None for object")
        return self._build(cls, (), has_state, lambda: copyreg._reconstructor(cls, base, base_state))

    def _call_factory(self, name: str, function: Any, args: tuple[Any, ...], has_state: bool) -> Any:
        """``function(*args)`` for a trusted factory; the default ones only with the arguments
        their rules accept, so that none becomes a way to call something else."""
        if name in self.extra:
            obj = function(*args)
        elif name in _NUMPY_RANDOM_FACTORIES:
            obj = function(*_numpy_random_args(name, args))
        elif name in _BLANK_FACTORIES:
            if len(args) != 1 or not isinstance(args[0], type):
                raise TypeError(f"{name} needs the class alone")
            return self.new_instance(args[0], None, has_state)
        elif name == _AS_MATRIX:
            if len(args) != 1 or type(args[0]) is not np.ndarray or args[0].ndim != 2:
                raise TypeError(f"{name} needs one 2-d array")
            obj = function(args[0])
        elif _pyx_unpickled_class(name) is not None:
            return self._pyx_unpickle(name, function, args, has_state)
        else:
            raise TypeError(f"{name} is trusted as a name, not to be called with arguments from a file")
        _, check_state, check_object = self._checks_of_result(obj)
        if not has_state:
            if check_state is not None:
                raise TypeError(f"{name} must be followed by its object's state")
            if check_object is not None:
                check_object(obj)
        return obj

    def _pyx_unpickle(self, name: str, function: Any, args: tuple[Any, ...], has_state: bool) -> Any:
        """Cython's ``__pyx_unpickle_C(C, checksum, state)``: a blank C with ``state`` set in C
        code. The state is applied through ``set_state`` instead, so the validators see it first."""
        if len(args) != 3 or args[0] is not self.resolve(_pyx_unpickled_class(name) or ""):
            raise TypeError(f"{name} needs (its own class, checksum, state)")
        cls, checksum, state = args
        if type(checksum) is not int:
            raise TypeError(f"{name}'s checksum must be an int")
        obj = function(cls, checksum, None)
        if state is not None:
            self.set_state(obj, state, False)
        elif not has_state and _validate.checks_for(self._name_of(cls))[1] is not None:
            raise TypeError(f"{name} must be given its object's state")
        return obj

    def _checks_of_result(self, obj: Any) -> tuple[Any, Any, Any]:
        """The checks of a factory's result's type (none for a type without a name)."""
        try:
            return _validate.checks_for(self._name_of(type(obj)))
        except TypeError:
            return _validate.checks_for("")

    def _name_of(self, cls: type) -> str:
        name = _CLASS_NAMES.get(cls)
        if name is None:
            name = _CLASS_NAMES[cls] = qualified_name(cls)
        return name

    def set_state(self, obj: Any, state: Any, with_items: bool) -> None:
        """Applies a reduce state (and list/dict items) to a new instance, as pickle does."""
        if with_items:
            state, list_items, dict_items = state
            for item in list_items:
                obj.append(item)
            for key, value in dict_items.items():
                obj[key] = value
            if state is None:
                return
        _, check_state, check_object = _validate.checks_for(self._name_of(type(obj)))
        if check_state is not None:
            check_state(obj, state)
        setstate = getattr(type(obj), "__setstate__", None)
        if setstate is not None:
            setstate(obj, state)
        else:
            _default_set_state(obj, state)
        if check_object is not None:
            check_object(obj)


def _numpy_random_args(name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The one argument numpy's random pickling helpers take here: a bit generator name, a bit
    generator class (for ``__bit_generator_ctor``) or instance (for the others). Their second,
    a callable, is never taken from a file."""
    from numpy.random.bit_generator import BitGenerator

    accepted = type if name.endswith("__bit_generator_ctor") else BitGenerator
    if len(args) == 1 and (type(args[0]) is str or isinstance(args[0], accepted)):
        if not isinstance(args[0], type) or issubclass(args[0], BitGenerator):
            return args
    raise TypeError(f"{name} takes one bit generator name, class or instance")


def _default_set_state(obj: Any, state: Any) -> None:
    """pickle's default: a dict of attributes, or a (dict, slot values) pair."""
    slot_state = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slot_state = state
    if state:
        obj.__dict__.update(state)
    if slot_state:
        for key, value in slot_state.items():
            setattr(obj, key, value)
