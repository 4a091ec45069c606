r"""scikit-learn estimators for response features (docs/theory.md §5).

Input convention (all three estimators)
---------------------------------------
A data set of ``B`` input sequences ``u : [0, t_max] -> R^m`` sampled at ``T`` equally
spaced times ``t_i = i · t_max / (T - 1)`` (``t_0 = 0``; ``T ≥ 2``: a path needs two
samples) is a 2-D array ``X`` of shape ``(B, T·m)``, **time-major**:

    X[b, i·m + k] = u_k(t_i) ,   i.e.   u = X.reshape(B, T, m) ,

so a univariate series is just its row of samples and the standard scikit-learn checks
apply (``m = n_channels``; ``T·m`` must be a multiple of ``m``). The time grid is rebuilt
from ``t_max`` and the number of columns seen in ``fit``.

Estimators
----------
:class:`ResponseFeatures`
    ``X -> S(X^u)_{0,t}`` at the chosen output steps: the truncated signature (levels
    ``1..depth``; the constant level 0 is left out) of the response-feature path
    ``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr`` (``q = 0..degree``), computed by
    :func:`~volterra_sym.features.signature.response_features`. Feature names spell the
    words, e.g. ``"S[u0,s*u0]@t=1"`` is ``∫_{0<r_1<r_2<1} u_0(r_1) r_2 u_0(r_2) dr``
    (first letter earliest).
:class:`SRNNFeatures`
    ``X -> φ_i(u; t) = E h^i_t[u] ≈ Σ_{N ≤ order} ε^N <ℓ_{i,N}(t), S(X^u)_{0,t}>``: the hidden
    means of a fixed SRNN at the output steps, from its response functional (Taylor
    coefficients of the kernels, :func:`~volterra_sym.features.functional.response_functional`);
    with ``per_order=True`` each order ``ε^N T_N^{(i)}(t)`` is its own feature.
:class:`SRNNKernel`
    ``fit(X_fit)``, ``transform(X) = K(X, X_fit)`` with ``K(u, u') = Σ φ(u)·φ(u')`` (the
    kernel of an SRNN readout, ``<S(X^u), M S(X^{u'})>``, :mod:`.kernel_machine`), usable as
    a precomputed kernel (``SVC(kernel="precomputed")``, ``KernelRidge(kernel="precomputed")``)
    in a :class:`~sklearn.pipeline.Pipeline`.

Errors: invalid parameters or data raise :class:`~volterra_sym.errors.InvalidInputError`
(a ``ValueError``) naming the parameter — data that is not numeric (strings, ``None``)
included; data of a type scikit-learn refuses outright (e.g. a sparse matrix)
:class:`InvalidInputTypeError` (also a ``TypeError``); ``transform`` before ``fit``
:class:`NotFittedError` (also scikit-learn's ``NotFittedError``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from ..arrays import check_flag, check_int, real_array
from ..backends.taylor import TaylorAccuracyWarning
from ..backends.taylor.series import MIN_LAST_SHELL
from ..budget import check_memory, time_budget
from ..errors import InvalidInputError, ResourceLimitError
from ..hierarchy.convergence import ConvergenceWarning, parity_radii
from ..model import SRNN, load_model
from ..operators.packed import LOWER_COST
from .kernel_machine import hidden_unit_functionals
from .signature import (
    FeatureLayout,
    augment_input,
    feature_layout,
    response_features,
)

__all__ = ["InvalidInputTypeError", "NotFittedError", "ResponseFeatures", "SRNNFeatures",
           "SRNNKernel", "reshape_sequences"]


class InvalidInputTypeError(InvalidInputError, TypeError):
    """Data of a type that cannot be read as real numbers (also a ``TypeError``)."""


class NotFittedError(InvalidInputError, _SklearnNotFittedError):
    """``transform`` / ``get_feature_names_out`` called before ``fit``."""


# --------------------------------------------------------------------------- validation
def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}", param=name)
    return float(value)


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite real number, got {value!r}",
                                param=name)
    return float(value)


def _validate(est: BaseEstimator, X: object, reset: bool) -> np.ndarray:
    """scikit-learn's ``validate_data`` (2-D, finite, float, ≥ 1 sample and feature) with its
    errors re-raised as the project's typed errors (same messages)."""
    try:
        return validate_data(est, X, reset=reset, dtype=np.float64, ensure_min_samples=1)
    except TypeError as exc:
        raise InvalidInputTypeError(str(exc), param="X") from None
    except ValueError as exc:
        raise InvalidInputError(str(exc), param="X") from None


@contextmanager
def _own_names(est: BaseEstimator, **names: str):
    """Re-raise an :class:`InvalidInputError` of an inner routine whose ``param`` is a key of
    ``names`` as the same error naming the estimator's own parameter (``degree`` ->
    ``taylor_degree``, the sequences ``u`` -> the data ``X``)."""
    try:
        yield
    except ResourceLimitError as exc:
        text, option = str(exc), exc.option or ""
        if option.startswith(LOWER_COST) and text.endswith(option) and "degree" in names:
            # the Taylor chains of the functionals: the estimator's own knobs, not the
            # kernel API's (degree=, --degree, method='galerkin': features need the
            # short-lag functional)
            own = [names[k] for k in ("degree", "order") if k in names]
            remedy = "lower " + " or ".join(f"{p} (now {getattr(est, p)!r})" for p in own)
            raise ResourceLimitError(f"{type(est).__name__}: {text[:-len(option)]}{remedy}",
                                     estimate=exc.estimate, budget=exc.budget, unit=exc.unit,
                                     option=remedy) from None
        # the inner option names the routine's parameters: say which are the estimator's
        inner = [k for k in ("depth", "degree") if k in names and k in option]
        if not inner:
            raise
        note = " (" + ", ".join(f"{k} = {names[k]}" for k in inner) + " here)"
        raise ResourceLimitError(f"{type(est).__name__}: {exc}{note}", estimate=exc.estimate,
                                 budget=exc.budget, unit=exc.unit,
                                 option=f"{exc.option}{note}") from None
    except InvalidInputError as exc:
        own = names.get(exc.param or "")
        if own is None:
            raise
        what = ("X (the sequences u = X.reshape(B, T, m))" if own == "X" else
                f"{own}={getattr(est, own)!r}")
        raise type(exc)(f"{type(est).__name__}: {what} is refused: {exc}", param=own) from None


def _finite_out(est: BaseEstimator, out: np.ndarray) -> np.ndarray:
    """Features or kernel values that left the float range (finite but huge ``X``) are an
    :class:`InvalidInputError` naming ``X``, never returned as inf/NaN."""
    if not np.all(np.isfinite(out)):
        raise InvalidInputError(f"{type(est).__name__}: X is too large: its features overflow "
                                "the float range; scale X down (or lower t_max or eps)",
                                param="X")
    return out


def _require_fitted(est: BaseEstimator) -> None:
    try:
        check_is_fitted(est)
    except _SklearnNotFittedError as exc:
        raise NotFittedError(str(exc), param="fit") from None


def reshape_sequences(X: np.ndarray, n_channels: int) -> np.ndarray:
    """``(B, T·m) -> (B, T, m)``: ``X[b, i·m + k] = u_k(t_i)`` (the module's convention)."""
    X = real_array(X, "X", finite=False)
    m = check_int(n_channels, "n_channels", lo=1)
    if X.ndim != 2 or X.shape[1] % m:
        raise InvalidInputError(
            f"X must be 2-D with a multiple of n_channels={m} columns (time-major, "
            f"X[b, i*m + k] = u_k(t_i)), got shape {X.shape}", param="X")
    return X.reshape(X.shape[0], X.shape[1] // m, m)


def _output_steps(steps: object, n_steps: int, n_features: int) -> np.ndarray:
    """Validated step indices (negative counts from the end), strictly increasing."""
    if steps is None:
        return np.array([n_steps - 1])
    try:
        raw = list(steps)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidInputError(f"output_steps must be None or a sequence of integers, got "
                                f"{steps!r}", param="output_steps") from None
    if not raw:
        raise InvalidInputError("output_steps is empty", param="output_steps")
    idx = []
    for s in raw:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise InvalidInputError(f"output_steps must hold integers, got {s!r}",
                                    param="output_steps")
        if not -n_steps <= s < n_steps:
            raise InvalidInputError(f"output step {s} outside the {n_steps} time steps of X "
                                    f"(n_features={n_features})", param="output_steps")
        idx.append(int(s) % n_steps)
    out = np.array(idx)
    if np.any(np.diff(out) <= 0):
        raise InvalidInputError(f"output_steps must be strictly increasing after wrapping "
                                f"negative steps, got {raw} for the {n_steps} time steps of X "
                                f"(n_features={n_features})", param="output_steps")
    return out


def _time_labels(times) -> list[str]:
    """The output times as names: 6 significant digits, more where that would make two
    of them equal (``1.23457e+06`` twice for 1234567 and 1234568)."""
    times = [float(t) for t in times]
    for digits in range(6, 18):
        labels = [f"{t:.{digits}g}" for t in times]
        if len(set(labels)) == len(set(times)):
            return labels
    return [repr(t) for t in times]


def _letter_name(k: int, q: int) -> str:
    """Channel ``X^{(k,q)}`` as ``s^q*u_k`` (``u0``, ``s*u0``, ``s^2*u1``)."""
    return f"u{k}" if q == 0 else (f"s*u{k}" if q == 1 else f"s^{q}*u{k}")


def _check_input_features(est: BaseEstimator, input_features: object) -> None:
    """Validate ``input_features`` as scikit-learn does (length, equal to ``feature_names_in_``)."""
    if input_features is None:
        return
    names = np.asarray(input_features, dtype=object)
    if names.ndim != 1 or names.size != est.n_features_in_:
        raise InvalidInputError(
            f"input_features should have length equal to number of features "
            f"({est.n_features_in_}), got {names.size}", param="input_features")
    known = getattr(est, "feature_names_in_", None)
    if known is not None and not np.array_equal(known, names):
        raise InvalidInputError("input_features is not equal to feature_names_in_",
                                param="input_features")


class _SequenceTransformer(TransformerMixin, BaseEstimator):
    """Shared grid handling: ``t_max``, ``output_steps``, ``refine``, the reshape."""

    def _fit_grid(self, X: np.ndarray, m: int) -> None:
        t_max = _positive(self.t_max, "t_max")
        check_int(self.refine, "refine", lo=1)
        if self.time_budget is not None:
            time_budget(self.time_budget)
        if X.shape[1] % m:
            raise InvalidInputError(
                f"X has n_features={X.shape[1]} columns, not a multiple of n_channels={m} "
                f"(time-major layout X[b, i*m + k] = u_k(t_i))", param="X")
        n_steps = X.shape[1] // m
        if n_steps < 2:
            # one sample u(0) spans no time: every feature (an integral over [0, 0]) is 0
            raise InvalidInputError(
                f"X has n_features={X.shape[1]}, {n_steps} time step(s) of n_channels={m}: "
                f"the input path needs at least 2 (times t_i = i·t_max/(T-1), layout "
                f"X[b, i*m + k] = u_k(t_i))",
                param="X")
        self.n_timesteps_ = n_steps
        self.times_ = np.linspace(0.0, t_max, n_steps)
        self.output_steps_ = _output_steps(self.output_steps, n_steps, X.shape[1])
        self.output_times_ = self.times_[self.output_steps_]

    def _sequences(self, X: np.ndarray, m: int) -> np.ndarray:
        return X.reshape(X.shape[0], self.n_timesteps_, m)


# --------------------------------------------------------------------------- signatures
class ResponseFeatures(_SequenceTransformer):
    r"""Signature features of the response-feature path at chosen output steps.

    ``transform(X)[b]`` concatenates, for each output step ``j`` (in order), the signature
    ``S(X^{u_b})_{0, t_j}`` at levels ``1..depth`` in the flat word order of
    :func:`~volterra_sym.features.signature.signature_words` (letter ``(k, q)`` at index
    ``k (degree + 1) + q``): ``len(output_steps) · (Σ_{n=1}^{depth} d^n)`` columns,
    ``d = n_channels (degree + 1)``.

    Parameters
    ----------
    n_channels : int, default 1
        Input channels ``m`` (``X`` has ``T·m`` columns, module docstring).
    depth : int, default 2
        Signature truncation level.
    degree : int, default 1
        Highest monomial power ``q`` of the feature path (0: the plain path ``∫u``).
    t_max : float, default 1.0
        Time of the last sample (``t_i = i·t_max/(T-1)``).
    output_steps : sequence of int, optional
        Time-step indices at which to report the signature (negative from the end);
        default the last step only.
    refine : int, default 4
        Sub-steps per sampling interval of the piecewise-linear feature path.
    time_budget : float, optional
        Seconds a ``transform`` may take (default 120, at most 86400): its time is estimated
        first (about ``1.5e-9·B·N·size + 3e-6·⌈B/32⌉·N·depth`` s for ``B`` sequences of ``N``
        fine steps, :func:`~volterra_sym.features.signature.signature_seconds`) and refused
        (:class:`~volterra_sym.errors.ResourceLimitError`) over the budget.

    Attributes
    ----------
    layout_ : FeatureLayout
    n_timesteps_, times_, output_steps_, output_times_ : the grid seen in ``fit``.
    """

    def __init__(self, n_channels: int = 1, depth: int = 2, degree: int = 1,
                 t_max: float = 1.0, output_steps: Sequence[int] | None = None,
                 refine: int = 4, time_budget: float | None = None) -> None:
        self.n_channels = n_channels
        self.depth = depth
        self.degree = degree
        self.t_max = t_max
        self.output_steps = output_steps
        self.refine = refine
        self.time_budget = time_budget

    def fit(self, X: object, y: object = None) -> ResponseFeatures:
        """Validate the parameters and record the time grid of ``X`` (``(B, T·m)``)."""
        X = _validate(self, X, reset=True)
        m = check_int(self.n_channels, "n_channels", lo=1)
        self.layout_ = feature_layout(m, check_int(self.degree, "degree", lo=0),
                                      check_int(self.depth, "depth", lo=1))
        self._fit_grid(X, m)
        return self

    def transform(self, X: object) -> np.ndarray:
        """``(B, len(output_steps) · (layout_.size - 1))`` signature features."""
        _require_fitted(self)
        X = _validate(self, X, reset=False)
        lay = self.layout_
        with _own_names(self, u="X"):
            feats = response_features(self._sequences(X, lay.m), self.times_, lay.depth,
                                      lay.degree, times_out=self.output_times_,
                                      refine=self.refine, time_budget=self.time_budget)
        vals = np.asarray(feats.values).reshape(X.shape[0], self.output_steps_.size, lay.size)
        return vals[..., 1:].reshape(X.shape[0], -1)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``"S[w_1,…,w_n]@t=…"`` per column; letters ``u{k}``, ``s*u{k}``, ``s^q*u{k}``
        (``X^{(k,q)}``), first letter earliest."""
        _require_fitted(self)
        _check_input_features(self, input_features)
        lay = self.layout_
        words = [",".join(_letter_name(*lay.letters[a]) for a in w) for w in lay.words[1:]]
        return np.array([f"S[{w}]@t={t}" for t in _time_labels(self.output_times_)
                         for w in words], dtype=object)


# --------------------------------------------------------------------------- SRNN features
def _resolve_model(model: object) -> SRNN:
    if isinstance(model, SRNN):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    raise InvalidInputError(f"model must be an SRNN, a built-in model name or a TOML path, "
                            f"got {type(model).__name__}", param="model")


class _SRNNBase(_SequenceTransformer):
    """Fitting of the response functionals of a fixed SRNN and the feature map ``φ``."""

    def __init__(self, model: SRNN | str = "tanh1d", order: int = 2, taylor_degree: int = 6,
                 eps: float = 1.0, t_max: float = 0.25,
                 output_steps: Sequence[int] | None = None, per_order: bool = False,
                 refine: int = 4, time_budget: float | None = None) -> None:
        self.model = model
        self.order = order
        self.taylor_degree = taylor_degree
        self.eps = eps
        self.t_max = t_max
        self.output_steps = output_steps
        self.per_order = per_order
        self.refine = refine
        self.time_budget = time_budget

    def _fit_functionals(self, X: np.ndarray) -> None:
        model = _resolve_model(self.model)
        if not model.is_numeric:
            raise InvalidInputError(f"model {model.name!r} has free parameters "
                                    f"{sorted(model.parameters)}; substitute numbers first",
                                    param="model")
        order = check_int(self.order, "order", lo=1)
        degree = check_int(self.taylor_degree, "taylor_degree", lo=0)
        _real(self.eps, "eps")
        check_flag(self.per_order, "per_order")
        self._fit_grid(X, model.m)
        with _own_names(self, degree="taylor_degree", order="order"):
            funcs = hidden_unit_functionals(model, order, degree)
        #: estimated radius (in the largest gap) of the kernels' short-lag Taylor series
        self.taylor_radius_ = min(min(F.info["radius"].values()) for F in funcs)
        if self.taylor_radius_ == 0 and degree < MIN_LAST_SHELL:
            warnings.warn(
                f"{type(self).__name__}: at taylor_degree={degree} the short-lag Taylor "
                f"series of {model.name!r} has no radius or error estimate (its first shells' "
                f"ratios are not yet the tail's); use taylor_degree ≥ {MIN_LAST_SHELL} to "
                "know where the features mean something", TaylorAccuracyWarning,
                stacklevel=3)
        elif self.output_times_[-1] >= self.taylor_radius_:
            warnings.warn(
                f"{type(self).__name__}: output time {self.output_times_[-1]:g} (t_max, "
                f"output_steps) is beyond the estimated radius {self.taylor_radius_:.3g} of "
                f"the short-lag Taylor series of {model.name!r} at taylor_degree={degree}; the "
                "features are meaningless there: lower t_max (or the output_steps)",
                TaylorAccuracyWarning, stacklevel=3)
        lay: FeatureLayout = funcs[0].layout
        self.layout_ = lay
        #: channel multisets of the augmented input (contact terms, docs/theory.md §10), or
        #: ``None``: the feature path is that of ``u`` itself
        self.input_channels_ = funcs[0].channels
        #: ``coef_[i, N, a]``: vector of ``t^a`` in ``ℓ_{i,N}(t)`` (flat signature index)
        self.coef_ = np.stack([F.coefficients for F in funcs])
        self.n_units_ = model.n
        self.n_channels_ = model.m
        self.model_name_ = model.name

    def _terms(self, X: np.ndarray) -> np.ndarray:
        """``T_N^{(i)}(t_j)``: ``(B, T_out, n, order + 1)``. The signatures are reduced on
        the fly by all coefficient vectors at once, then contracted with ``t_j^a``."""
        lay, coef = self.layout_, self.coef_
        n, n1, d1, size = coef.shape
        lf = coef.reshape(-1, size).T.copy()
        seq = self._sequences(X, self.n_channels_)
        if self.input_channels_ is not None:
            seq = augment_input(seq, self.input_channels_)
        with _own_names(self, u="X", depth="order", degree="taylor_degree"), \
                np.errstate(over="ignore", invalid="ignore"):
            feats = response_features(seq, self.times_, lay.depth,
                                      lay.degree, times_out=self.output_times_,
                                      refine=self.refine, reduce=lambda v: v @ lf,
                                      time_budget=self.time_budget)
        red = np.asarray(feats.values).reshape(X.shape[0], -1, n, n1, d1)
        powers = self.output_times_[:, None] ** np.arange(d1)
        return np.einsum("btiNa,ta->btiN", red, powers)

    def _features(self, X: np.ndarray) -> np.ndarray:
        terms = self._terms(X)
        with np.errstate(over="ignore", invalid="ignore"):
            e = float(self.eps) ** np.arange(terms.shape[-1])
            if not np.all(np.isfinite(e)):
                raise InvalidInputError(f"eps**order = {self.eps!r}**{e.size - 1} overflows "
                                        "the float range; lower eps", param="eps")
            out = terms[..., 1:] * e[1:] if self.per_order else terms @ e
        _warn_convergence(terms, float(self.eps))
        return _finite_out(self, out.reshape(X.shape[0], -1))

    def _feature_names(self) -> list[str]:
        names = []
        for t in _time_labels(self.output_times_):
            for i in range(self.n_units_):
                if self.per_order:
                    names.extend(f"h{i + 1}[N={N}]@t={t}"
                                 for N in range(1, self.coef_.shape[1]))
                else:
                    names.append(f"h{i + 1}@t={t}")
        return names


def _warn_convergence(terms: np.ndarray, eps: float) -> None:
    """:class:`~volterra_sym.hierarchy.convergence.ConvergenceWarning` when ``eps`` is beyond
    the ratio-test radius (docs/theory.md §8, :func:`~volterra_sym.hierarchy.convergence.\
parity_radii`) of the series of some input and unit, ``terms`` ``(B, T_out, n, order+1)``
    (the sizes are the largest over the output times); a ``UserWarning`` for ``eps = 0``
    (every feature is then ``<h_i>_0``, or 0 with ``per_order``, whatever the input)."""
    if eps == 0.0:
        warnings.warn("eps = 0: every feature is the stationary mean <h_i>_0 (0 with "
                      "per_order), the same for every input; use eps > 0", UserWarning,
                      stacklevel=4)
        return
    order = terms.shape[-1] - 1
    if order < 2 or terms.shape[0] == 0:
        return
    a = np.max(np.abs(terms[..., 1:]), axis=1)                       # (B, n, order)
    radius = parity_radii(a)
    bad = abs(eps) >= radius
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        warnings.warn(
            f"eps = {eps:g} is at or beyond the estimated radius of convergence of the "
            f"Volterra series for {rows.size} of {terms.shape[0]} inputs (smallest radius "
            f"{float(radius.min()):.3g}, input {int(rows[0])}; ratio test within each parity "
            f"class of the orders 1..{order}, docs/theory.md §8): their features, partial "
            "sums of a diverging series, are not meaningful; lower eps or scale the inputs "
            "down", ConvergenceWarning, stacklevel=4)


class SRNNFeatures(_SRNNBase):
    r"""Hidden means of a fixed SRNN as features: ``φ_i(u; t) = E h^i_t[u]``.

    ``φ_i(u; t) ≈ Σ_{N=0}^{order} ε^N <ℓ_{i,N}(t), S(X^u)_{0,t}>`` (docs/theory.md §5): the
    Volterra series of ``f = h_i`` to ``order``, its kernels replaced by their short-lag
    Taylor series of degree ``taylor_degree`` (accurate for ``t_max`` inside the Taylor
    radius, see :meth:`ResponseFunctional.error_bound`; ``fit`` warns
    (:class:`~volterra_sym.backends.taylor.TaylorAccuracyWarning`) when an output time is
    beyond the estimated radius ``taylor_radius_``: the features are meaningless there;
    ``transform`` warns (:class:`~volterra_sym.hierarchy.convergence.ConvergenceWarning`)
    when ``eps`` is beyond the ratio-test radius of the ε-series of some input — inputs too
    large for the series — and for ``eps = 0``, where no feature depends on the input).
    Columns: for each output step, for each unit ``i``: ``φ_i`` (including ``<h_i>_0``), or
    with ``per_order=True`` the ``order`` terms ``ε^N T_N^{(i)}(t)``, ``N = 1..order``.

    Parameters
    ----------
    model : SRNN or str, default ``"tanh1d"``
        The network (numeric parameters): an :class:`~volterra_sym.model.SRNN`, a built-in
        name or a TOML path. ``n_channels`` is ``model.m``.
    order : int, default 2
        Volterra order (= signature depth).
    taylor_degree : int, default 6
        Degree of the short-lag Taylor series (= monomial degree of the feature path).
    eps : float, default 1.0
        Input strength ``ε`` (the SDE has ``ε C u(t)``).
    t_max : float, default 0.25
        Time of the last sample; the default lies inside the Taylor radius of the default
        model (``tanh1d`` at ``taylor_degree=6``: radius 0.61).
    output_steps, refine, time_budget
        As in :class:`ResponseFeatures`.
    per_order : bool, default False
        One feature per order instead of their ε-weighted sum.

    Attributes
    ----------
    coef_ : array ``(n, order + 1, taylor_degree + 1, layout_.size)``
        ``ℓ_{i,N}(t) = Σ_a t^a coef_[i, N, a]``.
    taylor_radius_ : float
        Estimated radius (in the largest gap) of the kernels' short-lag Taylor series.
    input_channels_ : tuple or None
        With the input inside a nonlinear activation (docs/theory.md §10) the channel
        multisets of the augmented input ``Π_{c∈κ} u_c`` the functionals read (contact
        terms, :mod:`volterra_sym.features.functional`); ``None`` otherwise.
    layout_, n_units_, n_channels_, model_name_ and the grid attributes of
    :class:`ResponseFeatures`.
    """

    def fit(self, X: object, y: object = None) -> SRNNFeatures:
        """Compute the response functionals of the units ``h_1..h_n`` (cached per model)
        and record the time grid of ``X``."""
        X = _validate(self, X, reset=True)
        self._fit_functionals(X)
        return self

    def transform(self, X: object) -> np.ndarray:
        """``(B, len(output_steps) · n)`` (``· order`` with ``per_order``) features."""
        _require_fitted(self)
        return self._features(_validate(self, X, reset=False))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``"h{i}@t=…"`` (or ``"h{i}[N=…]@t=…"`` with ``per_order``)."""
        _require_fitted(self)
        _check_input_features(self, input_features)
        return np.array(self._feature_names(), dtype=object)


class SRNNKernel(ClassNamePrefixFeaturesOutMixin, _SRNNBase):
    r"""The kernel of a fixed SRNN's readout as a precomputed-kernel transformer.

    ``fit(X_fit)`` stores ``Φ_fit = φ(X_fit)`` (:class:`SRNNFeatures`, same parameters);
    ``transform(X)`` returns ``K(X, X_fit) = φ(X) Φ_fitᵀ``, shape ``(B, B_fit)``, so
    ``fit_transform(X_train)`` is the training Gram matrix and ``transform(X_test)`` the
    test-versus-train kernel that ``SVC(kernel="precomputed")`` or
    ``KernelRidge(kernel="precomputed")`` expect after it in a ``Pipeline``. Equivalently
    ``K(u, u') = <S(X^u), M S(X^{u'})>`` with ``M = Σ ℓ ℓᵀ`` (rank ≤ number of features).

    Attributes
    ----------
    features_fit_ : array ``(B_fit, p)``
        ``φ(X_fit)``.
    and those of :class:`SRNNFeatures`.
    """

    def fit(self, X: object, y: object = None) -> SRNNKernel:
        """Compute the functionals and the features ``Φ_fit`` of the fit inputs."""
        X = _validate(self, X, reset=True)
        self._fit_functionals(X)
        self.features_fit_ = self._features(X)
        # every kernel value is finite if the diagonal is (|K_ij|² ≤ K_ii K_jj): the rows'
        # squared norms, not the (B_fit, B_fit) matrix (6.7 GiB at B_fit = 30,000)
        with np.errstate(over="ignore", invalid="ignore"):
            _finite_out(self, np.einsum("ij,ij->i", self.features_fit_, self.features_fit_))
        self._n_features_out = X.shape[0]
        return self

    def transform(self, X: object) -> np.ndarray:
        """``K(X, X_fit) = φ(X) φ(X_fit)ᵀ``: ``(B, B_fit)`` (its memory checked first)."""
        _require_fitted(self)
        X = _validate(self, X, reset=False)
        B, B_fit = X.shape[0], self.features_fit_.shape[0]
        check_memory(8.0 * B * B_fit, f"{type(self).__name__}: the kernel matrix of {B:,} "
                     f"inputs against {B_fit:,} fit inputs", "transform fewer rows at a time "
                     "(or fit on fewer)")
        with np.errstate(over="ignore", invalid="ignore"):
            K = self._features(X) @ self.features_fit_.T
        return _finite_out(self, K)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``srnnkernel0 … srnnkernel{B_fit-1}`` (one column per fit input)."""
        _require_fitted(self)
        _check_input_features(self, input_features)
        return super().get_feature_names_out(input_features)
