r"""An SRNN with fixed hidden weights and a trained linear readout is a kernel machine
(docs/theory.md §5).

Setting
-------
Readout ``y_t = f(h_t) = V h_t + c``. With the hidden weights fixed, the features of an input
``u`` are the hidden means at a fixed time ``t``

    φ_i(u) = E h^i_t[u] = Σ_{N ≤ order} ε^N T_N^{(i)}(t) ,   i = 1..n ,

(the series of the observable ``f = h_i``), and by the response functional
(:mod:`volterra_sym.features.functional`) each is a fixed linear map of the signature of the
feature path ``X^u`` (``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr``):

    φ_i(u) ≈ <ℓ_i, S(X^u)_{0,t}> ,   ℓ_i = Σ_N ε^N ℓ_{i,N}(t) .

So the readout is a linear model on the signature with the kernel

    k(u, u') = Σ_i φ_i(u) φ_i(u') = <S(X^u), M S(X^{u'})> ,   M = Σ_i ℓ_i ℓ_iᵀ  (rank ≤ n),

a low-rank weighting of the generic truncated signature kernel
``k_sig(u, u') = <S(X^u), S(X^{u'})>`` (:func:`signature_kernel`). With ``per_order=True``
each order is its own feature, ``φ_{i,N} = ε^N <ℓ_{i,N}, S>`` and ``M = Σ_{i,N} ℓ_{i,N}
ℓ_{i,N}ᵀ`` (rank ≤ n·order; a richer readout that the ε-summed SRNN cannot express).

Ridge readout with intercept (closed form)
------------------------------------------
``min_{V, c} Σ_j (y_j - c - Vᵀφ_j)² + λ |V|²`` with the intercept ``c`` *not* penalised.
Centring ``Φ_c = Φ - 1 φ̄ᵀ``, ``y_c = y - ȳ`` eliminates ``c``:

    V = (Φ_cᵀ Φ_c + λ I)⁻¹ Φ_cᵀ y_c ,   c = ȳ - φ̄ᵀ V ,   ŷ(u) = ȳ + (φ(u) - φ̄)ᵀ V .

Kernel ridge with the same intercept handling uses the centred kernel
``K_c = H K H`` (``H = I - 11ᵀ/n``) and, for a test input, ``k_c(u)_j = k(u, u_j) -
mean_l k(u, u_l) - mean_l k(u_l, u_j) + mean_{l,l'} k(u_l, u_l')``:

    α = (K_c + λ I)⁻¹ y_c ,   ŷ(u) = ȳ + k_c(u)ᵀ α .

Since ``K_c = Φ_c Φ_cᵀ`` and ``Φ_cᵀ (Φ_c Φ_cᵀ + λ I)⁻¹ = (Φ_cᵀ Φ_c + λ I)⁻¹ Φ_cᵀ``, the two
predictions are identical for ``k = <S, M S>`` whenever ``φ = <ℓ, S>`` — the SRNN readout
*is* kernel ridge regression with the response kernel. ``λ = 0`` gives the minimum-norm
least-squares solutions (pseudo-inverses), for which the identity also holds.

Regularisation is chosen by exact leave-one-out error (:func:`loo_errors`): the fit is a
linear smoother with hat matrix ``S_λ = 11ᵀ/n + K_c (K_c + λ I)⁻¹``, so the LOO residuals are
``(y_j - ŷ_j)/(1 - (S_λ)_{jj})`` — exact for the intercept-unpenalised ridge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg

from ..arrays import check_flag, check_int, real_array, real_number
from ..errors import InvalidInputError
from ..model import check_model
from ..results import freeze
from .functional import ResponseFunctional, response_functional
from .signature import (
    FeatureLayout,
    FrozenResult,
    _check_channels,
    _check_times,
    _n_fine,
    _point_value,
    augment_input,
    check_signature_time,
    feature_layout,
    response_features,
    signature_seconds,
)

if TYPE_CHECKING:
    from ..model import SRNN

__all__ = [
    "KernelRidge",
    "RidgeReadout",
    "feature_kernel",
    "fit_kernel_ridge",
    "fit_ridge",
    "hidden_unit_functionals",
    "loo_errors",
    "response_kernel_matrix",
    "restrict_index",
    "select_lambda",
    "series_features",
    "signature_batch",
    "signature_kernel",
    "srnn_features",
    "unit_vectors",
]

Inputs = np.ndarray | Sequence[Callable[..., object]]


# --------------------------------------------------------------------------- functionals
def hidden_unit_functionals(model: SRNN, order: int, degree: int,
                            **taylor_opts: object) -> list[ResponseFunctional]:
    """One :class:`ResponseFunctional` per hidden unit: observable ``f = h_i``, ``i = 1..n``
    (Taylor backend, orders ``1..order``, Taylor degree ``degree``)."""
    from ..hierarchy.dag import ResponseHierarchy

    return [response_functional(ResponseHierarchy(model, f"h{i + 1}", order), degree,
                                **taylor_opts) for i in range(check_model(model).n)]


# --------------------------------------------------------------------------- signatures
def signature_batch(
    inputs: Inputs,
    times: np.ndarray,
    t: float,
    depth: int,
    degree: int,
    *,
    refine: int | None = None,
    extrapolate: bool = False,
    quad_points: int | None = None,
    channels: Sequence[tuple[int, ...]] | None = None,
    time_budget: float | None = None,
) -> tuple[np.ndarray, FeatureLayout]:
    """Signatures ``S(X^u)_{0,t}`` of a set of inputs at one time ``t``: ``(B, size)``.

    ``inputs``: samples ``(B, T, m)`` (or ``(T, m)``/``(T,)`` for one input) at ``times``
    (``times[0] = 0``), or a sequence of callables ``u(s)``. ``t`` must be one of
    ``times``. With ``extrapolate`` the chord error ``O(h²)`` of the signature (levels ≥ 2)
    is Richardson-extrapolated away from ``refine`` and ``2·refine`` sub-steps
    (``(4 S_{2r} - S_r)/3``; the result is linear in the signatures, no longer group-like).
    ``channels``: the signature of the augmented input ``(Π_{c∈κ} u_c)_κ`` instead (the
    :attr:`ResponseFunctional.channels` of a model with the input inside a nonlinear
    activation, docs/theory.md §10).

    The time of the whole batch (both refinements with ``extrapolate``) is estimated first
    (:func:`~volterra_sym.features.signature.signature_seconds`, about ``1.5e-9·B·N·size
    + 3e-6·N·depth`` per chunk of inputs, ``N`` fine steps) and refused
    (:class:`~volterra_sym.errors.ResourceLimitError`) over ``time_budget`` seconds
    (default 120).
    """
    r = 4 if refine is None else check_int(refine, "refine", lo=1)
    if channels is not None:
        channels = _check_channels(channels)
    check_flag(extrapolate, "extrapolate")
    if not isinstance(inputs, np.ndarray) and not isinstance(inputs, (str, bytes)):
        try:
            inputs = list(inputs)  # a generator is read once, not once per refine
        except TypeError:
            pass
    _check_batch_time(inputs, times, check_int(depth, "depth", lo=1),
                      check_int(degree, "degree", lo=0), r, bool(extrapolate), channels,
                      time_budget)
    layouts: list[FeatureLayout] = []

    def one(u: object, rr: int) -> np.ndarray:
        if channels is not None:
            u = augment_input(u, channels)
        feats = response_features(u, times, depth, degree, times_out=[t], refine=rr,
                                  quad_points=quad_points, time_budget=time_budget)
        layouts.append(feats.layout)
        return feats.values[..., 0, :]

    def run(rr: int) -> np.ndarray:
        if isinstance(inputs, np.ndarray) or not _is_callable_seq(inputs):
            vals = one(real_array(inputs, "inputs", finite=False), rr)
            return vals if vals.ndim == 2 else vals[None]
        rows = [one(u, rr) for u in inputs]
        if any(lay != layouts[0] for lay in layouts):
            raise InvalidInputError("inputs have different numbers of channels", param="inputs")
        return np.stack(rows)

    S = run(r)
    if extrapolate:
        S = (4 * run(2 * r) - S) / 3
    if any(lay != layouts[0] for lay in layouts):
        raise InvalidInputError("inputs have different numbers of channels", param="inputs")
    return S, layouts[0]


def _check_batch_time(inputs: object, times: object, depth: int, degree: int, refine: int,
                      extrapolate: bool, channels: object, budget: object) -> None:
    """Refuse a :func:`signature_batch` whose estimated seconds exceed ``budget``."""
    t = _check_times(times)
    if isinstance(inputs, np.ndarray) or not _is_callable_seq(inputs):
        arr = real_array(inputs, "inputs", finite=False)
        n_in, chunk = (arr.shape[0] if arr.ndim == 3 else 1), 32
        m = arr.shape[-1] if arr.ndim >= 2 else 1
    else:
        n_in, chunk = len(inputs), 1  # type: ignore[arg-type]
        m = None if channels is None else len(channels)  # type: ignore[arg-type]
        if m is None:
            m = _point_value(inputs[0], float(t[-1])).size  # type: ignore[index]
    if channels is not None:
        m = len(channels)  # type: ignore[arg-type]
    d = m * (degree + 1)
    seconds = sum(signature_seconds(n_in, chunk, _n_fine(t, rr), d, depth, 1)
                  for rr in ((refine, 2 * refine) if extrapolate else (refine,)))
    check_signature_time(seconds, budget, f"the signatures of {n_in} input(s) (depth {depth}, "
                                          f"{d} letters, {_n_fine(t, refine)} fine steps"
                                          f"{', twice with extrapolate' if extrapolate else ''})")


def _is_callable_seq(inputs: object) -> bool:
    if callable(inputs):
        raise InvalidInputError("inputs must be a sequence of callables or an array of samples; "
                                "wrap a single callable in a list", param="inputs")
    try:
        seq = list(inputs)  # type: ignore[arg-type]
    except TypeError:
        return False
    if not seq:
        raise InvalidInputError("inputs is empty", param="inputs")
    flags = [callable(u) for u in seq]
    if any(flags) and not all(flags):
        raise InvalidInputError("inputs mixes callables and arrays", param="inputs")
    return all(flags)


def _check_layout(layout: object) -> None:
    if not isinstance(layout, FeatureLayout):
        raise InvalidInputError(f"layout must be a FeatureLayout (feature_layout(m, degree, "
                                f"depth)), got {type(layout).__name__}", param="layout")


def restrict_index(layout: FeatureLayout, depth: int | None = None,
                   degree: int | None = None) -> np.ndarray:
    """Flat indices (in ``layout``) of the words of length ``≤ depth`` whose letters all have
    monomial power ``q ≤ degree``, in the order of ``feature_layout(m, degree, depth)``.

    The signature of the sub-path ``(X^{(k,q)})_{q ≤ degree}`` truncated at ``depth`` is
    exactly this restriction of the full signature."""
    _check_layout(layout)
    depth = layout.depth if depth is None else check_int(depth, "depth", lo=1)
    degree = layout.degree if degree is None else check_int(degree, "degree", lo=0)
    if not 1 <= depth <= layout.depth or not 0 <= degree <= layout.degree:
        raise InvalidInputError(f"depth must be in 1..{layout.depth} and degree in "
                                f"0..{layout.degree}, got depth={depth}, degree={degree}",
                                param="depth" if not 1 <= depth <= layout.depth else "degree")
    sub = feature_layout(layout.m, degree, depth)
    return np.array([layout.word_index([sub.letters[a] for a in w]) for w in sub.words],
                    dtype=np.int64)


def signature_kernel(
    SA: np.ndarray,
    SB: np.ndarray | None = None,
    *,
    layout: FeatureLayout | None = None,
    depth: int | None = None,
    degree: int | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Generic truncated signature kernel ``k(u, u') = Σ_{|w| ≤ depth} λ^{2|w|} S^w(X^u)
    S^w(X^{u'})`` (``λ = scale``; the signature kernel of the dilated paths ``λ X``).

    ``SA (A, size)``, ``SB (B, size)`` (default ``SA``) signatures in ``layout``; ``depth`` /
    ``degree`` restrict to a sub-signature (needs ``layout``). Returns ``(A, B)``.
    """
    SA = real_array(SA, "SA")
    SB = SA if SB is None else real_array(SB, "SB")
    if SA.ndim != 2 or SB.ndim != 2 or SA.shape[1] != SB.shape[1]:
        raise InvalidInputError(f"SA and SB must be (A, size) and (B, size), got {SA.shape}, "
                                f"{SB.shape}", param="SB")
    if layout is None:
        if depth is not None or degree is not None or scale != 1.0:
            raise InvalidInputError("layout is required for depth/degree/scale", param="layout")
        return SA @ SB.T
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) \
            or not np.isfinite(scale):
        raise InvalidInputError(f"scale must be a finite real number, got {scale!r}",
                                param="scale")
    _check_layout(layout)
    if layout.size != SA.shape[1]:
        raise InvalidInputError(f"signatures have size {SA.shape[1]}, layout.size={layout.size}",
                                param="SA")
    idx = restrict_index(layout, depth, degree)
    lev = np.array([len(layout.words[i]) for i in idx])
    w = float(scale) ** (2 * lev)
    return (SA[:, idx] * w) @ SB[:, idx].T


# --------------------------------------------------------------------------- SRNN features
def unit_vectors(functionals: Sequence[ResponseFunctional], t: float, eps: float,
                 layout: FeatureLayout | None = None, per_order: bool = False) -> np.ndarray:
    """Rows ``ℓ_i = Σ_N ε^N ℓ_{i,N}(t)`` (``(n, size)``), or with ``per_order`` the rows
    ``ε^N ℓ_{i,N}(t)``, ``N = 1..order`` (``(n·order, size)``, unit-major), in ``layout``
    (default the functionals' own). Level 0 (``<h_i>_0``) is included in ``ℓ_i`` only.
    ``t`` (≥ 0) and ``eps`` are finite real numbers; a bad argument is an
    :class:`~volterra_sym.errors.InvalidInputError` naming it."""
    functionals = _check_functionals(functionals)
    t, eps = _check_time_amplitude(t, eps)
    if layout is not None and not isinstance(layout, FeatureLayout):
        raise InvalidInputError(f"layout must be a FeatureLayout or None, got "
                                f"{type(layout).__name__}", param="layout")
    check_flag(per_order, "per_order")
    lay = functionals[0].layout if layout is None else layout
    rows = []
    for F in functionals:
        if per_order:
            L = F.at(t, None, lay)  # (order+1, size)
            rows.extend(float(eps) ** N * L[N] for N in range(1, F.order + 1))
        else:
            rows.append(F.at(t, eps, lay))
    return np.stack(rows)


def _check_time_amplitude(t: object, eps: object) -> tuple[float, float]:
    """``(t, eps)`` as floats: ``t`` a finite time ≥ 0, ``eps`` a finite real amplitude,
    else :class:`~volterra_sym.errors.InvalidInputError` naming it."""
    t = real_number(t, "t", what="a finite time ≥ 0")
    if t < 0:
        raise InvalidInputError(f"t must be ≥ 0 (the time of the response), got {t}",
                                param="t")
    return t, real_number(eps, "eps", what="a finite real amplitude")


def _check_functionals(functionals: object) -> list[ResponseFunctional]:
    """A non-empty sequence of :class:`ResponseFunctional`, else
    :class:`~volterra_sym.errors.InvalidInputError` naming ``functionals``."""
    if isinstance(functionals, (str, bytes)):
        functionals = [functionals]
    try:
        funcs = list(functionals)  # type: ignore[call-overload]
    except TypeError:
        funcs = [functionals]
    if not funcs:
        raise InvalidInputError("functionals is empty", param="functionals")
    bad = [type(f).__name__ for f in funcs if not isinstance(f, ResponseFunctional)]
    if bad:
        raise InvalidInputError(f"functionals must be ResponseFunctional objects "
                                f"(hidden_unit_functionals, response_functional), got "
                                f"{bad[0]}", param="functionals")
    return funcs


def srnn_features(functionals: Sequence[ResponseFunctional], S: np.ndarray, t: float,
                  eps: float, layout: FeatureLayout | None = None,
                  per_order: bool = False) -> np.ndarray:
    """``Φ = S Lᵀ``: features ``E h^i_t[u] ≈ <ℓ_i, S(X^u)_{0,t}>`` of signatures ``S (B, size)``
    (at time ``t``, in ``layout``, default the functionals' layout). ``(B, n)`` or, with
    ``per_order``, ``(B, n·order)``."""
    L = unit_vectors(functionals, t, eps, layout, per_order)
    S = real_array(S, "S")
    if S.ndim != 2 or S.shape[1] != L.shape[1]:
        chans = functionals[0].channels
        hint = "" if chans is None else (
            f"; these functionals read the augmented input u_κ = Π_(c∈κ) u_c, κ in {chans} "
            "(contact terms of the input inside the activation, docs/theory.md §10): "
            "compute S from functionals[0].feature_input(u)")
        raise InvalidInputError(f"S must have shape (B, {L.shape[1]}), got {S.shape}{hint}",
                                param="S")
    return S @ L.T


def response_kernel_matrix(functionals: Sequence[ResponseFunctional], t: float, eps: float,
                           layout: FeatureLayout | None = None,
                           per_order: bool = False) -> np.ndarray:
    """``M = Σ_i ℓ_i ℓ_iᵀ = Lᵀ L`` (``(size, size)``, rank ≤ n) so that
    ``k(u, u') = <S(X^u), M S(X^{u'})>`` (see the module docstring)."""
    L = unit_vectors(functionals, t, eps, layout, per_order)
    return L.T @ L


def feature_kernel(SA: np.ndarray, SB: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``K[a, b] = <S_a, M S_b>`` for signatures ``SA (A, size)``, ``SB (B, size)``."""
    SA, SB, M = real_array(SA, "SA"), real_array(SB, "SB"), real_array(M, "M")
    if SA.ndim != 2 or SB.ndim != 2 or M.shape != (SA.shape[1], SB.shape[1]):
        raise InvalidInputError(f"SA (A, size), SB (B, size) and M (size, size) must agree, got "
                                f"{SA.shape}, {SB.shape}, {M.shape}", param="M")
    return SA @ M @ SB.T


def series_features(model: SRNN, inputs: Sequence[Callable[..., object]], t: float,
                    eps: float, order: int, method: str = "auto",
                    observables: Sequence[str] | None = None) -> np.ndarray:
    """``E f_i(h_t)[u] ≈ Σ_{N ≤ order} ε^N T_N(t)`` by a series backend
    (``ResponseHierarchy(model, f_i, order).series_terms(u, [t], method)``; ``exact`` for
    linear models, ``spectral`` for n ≤ 2), for callables ``u(s) -> (m,)``. Default
    observables ``h1..hn``. Returns ``(B, len(observables))``. Independent of the Taylor
    coefficients and of the signatures. ``t`` (≥ 0) and ``eps`` are finite real numbers,
    ``inputs`` a sequence of callables and ``observables`` a sequence (else
    :class:`~volterra_sym.errors.InvalidInputError` naming it)."""
    from ..hierarchy.dag import ResponseHierarchy

    check_model(model)
    t, eps = _check_time_amplitude(t, eps)
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence) \
            or not all(callable(u) for u in inputs):
        raise InvalidInputError(f"inputs must be a sequence of callables u(s) -> (m,), got "
                                f"{inputs!r:.60}", param="inputs")
    if observables is not None and (isinstance(observables, (str, bytes))
                                    or not isinstance(observables, Sequence)):
        raise InvalidInputError(f"observables must be a sequence of observables (e.g. "
                                f"['h1']) or None, got {observables!r:.60}",
                                param="observables")
    obs = [f"h{i + 1}" for i in range(model.n)] if observables is None else list(observables)
    hiers = [ResponseHierarchy(model, f, order) for f in obs]
    e = float(eps) ** np.arange(order + 1)
    out = np.empty((len(inputs), len(obs)))
    for b, u in enumerate(inputs):
        for i, h in enumerate(hiers):
            out[b, i] = float(e @ h.series_terms(u, [0.0, float(t)] if t > 0 else [0.0],
                                                 method=method)[:, -1])
    return out


# --------------------------------------------------------------------------- ridge
def _check_xy(X: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    X = real_array(X, name, finite=False)
    y = real_array(y, "y", finite=False)
    if X.ndim != 2 or y.ndim not in (1, 2) or y.shape[0] != X.shape[0] or X.shape[0] < 2:
        raise InvalidInputError(f"{name} must be 2-D with as many rows as y (>= 2), got "
                                f"{X.shape} and y {y.shape}", param=name)
    return real_array(X, name), real_array(y, "y")


def _check_lam(lam: float) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(lam) and lam >= 0):
        raise InvalidInputError(f"lam must be a finite number >= 0, got {lam!r}", param="lam")
    return float(lam)


#: eigenvalues of a PSD kernel below this fraction of the largest are treated as zero
#: by the ridgeless (λ = 0) fits: they are rounding, not signal
PINV_RCUT = 1e-12


def _kept_spectrum(s: np.ndarray) -> np.ndarray:
    """Mask of the eigenvalues a truncated pseudo-inverse keeps (``s > PINV_RCUT·max s``)."""
    return s > PINV_RCUT * max(float(s.max(initial=0.0)), 1e-300)


def _solve_psd(A: np.ndarray, B: np.ndarray, lam: float) -> np.ndarray:
    """``(A + λ I)⁻¹ B`` for symmetric PSD ``A``; λ > 0: Cholesky; λ = 0: the truncated
    pseudo-inverse of :func:`_pinv_solve`."""
    if lam > 0:
        try:
            return scipy.linalg.solve(A + lam * np.eye(A.shape[0]), B, assume_a="pos")
        except np.linalg.LinAlgError:
            return scipy.linalg.lstsq(A + lam * np.eye(A.shape[0]), B)[0]
    s, U = np.linalg.eigh(0.5 * (A + A.T))
    return _pinv_solve(s, U, B)


def _pinv_solve(s: np.ndarray, U: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``U diag(1/s, s > PINV_RCUT·s_max) Uᵀ B``: the min-norm solution with rounding-level
    eigenvalues dropped, as in :func:`loo_errors`."""
    keep = _kept_spectrum(s)
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    UB = U.T @ B
    return U @ ((inv[:, None] if UB.ndim == 2 else inv) * UB)


#: a kernel matrix is refused when ``max|K − Kᵀ|`` or a negative eigenvalue of ``K_c``
#: exceeds this fraction of its scale (``max(max|K|, s_max)``): more than rounding
KERNEL_RTOL = 1e-8
#: the ridgeless fit (λ = 0) refuses a kept eigenvalue of ``K_c`` below this multiple of the
#: rounding level (``n·eps·scale``, or the largest ``|negative eigenvalue|`` if larger): its
#: ``1/s`` would carry a relative error above ``1/RIDGELESS_MARGIN``
RIDGELESS_MARGIN = 1e3


def _kernel_spectrum(K: np.ndarray, Kc: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(s, U, floor)``: ``K_c = U diag(s) Uᵀ`` (``s`` clipped at 0) of a kernel matrix that
    is symmetric and whose centred form is PSD up to :data:`KERNEL_RTOL`, else
    :class:`InvalidInputError` naming ``K`` (an indefinite ``K_c`` has no ridge solution:
    ``K_c + λI`` is singular at ``λ = −s_min``, and the ridgeless fit would drop the negative
    directions silently). ``floor = max(n·eps·scale, −min(s, 0))`` is the rounding level
    of the eigenvalues."""
    scale = float(np.abs(K).max(initial=0.0))
    if scale > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            asym = float(np.abs(K / scale - K.T / scale).max())
        if not asym <= KERNEL_RTOL:
            raise InvalidInputError(
                f"K must be symmetric (a Gram matrix k(u_i, u_j)), but max|K - K^T| is "
                f"{asym:.3g} of max|K| (tolerance {KERNEL_RTOL:g})", param="K")
    s, U = np.linalg.eigh(Kc)
    top = max(float(s.max(initial=0.0)), scale)
    low = float(s.min(initial=0.0))
    if low < -KERNEL_RTOL * top:
        raise InvalidInputError(
            f"K is not positive semi-definite: its centred form K_c = HKH has the eigenvalue "
            f"{low:.3g} (largest {s.max():.3g}, rounding tolerance {KERNEL_RTOL * top:.3g}); "
            f"a kernel must be a Gram matrix <φ(u_i), φ(u_j)>", param="K")
    floor = max(K.shape[0] * np.finfo(float).eps * top, -low)
    return np.maximum(s, 0.0), U, floor


def _check_ridgeless(s: np.ndarray, floor: float) -> None:
    """Refuse λ = 0 (naming ``lam``) when the pseudo-inverse keeps an eigenvalue of ``K_c``
    within :data:`RIDGELESS_MARGIN` times its rounding level ``floor``."""
    keep = _kept_spectrum(s)
    if not keep.any():
        return
    low = float(s[keep].min())
    if low < RIDGELESS_MARGIN * floor:
        raise InvalidInputError(
            f"lam=0 on a numerically singular kernel: K_c has the eigenvalue {low:.3g} "
            f"(largest {s.max():.3g}), kept by the pseudo-inverse but within "
            f"{RIDGELESS_MARGIN:g} times the rounding level {floor:.3g} of its eigenvalues, so "
            f"the coefficients (~|y|/{low:.3g}) would be dominated by rounding; pass lam > 0 "
            f"(e.g. lam >= {RIDGELESS_MARGIN * floor:.3g}, or select_lambda(K, y))",
            param="lam")


def _freeze_fields(obj: object, *names: str) -> None:
    """Array fields of a frozen dataclass as read-only arrays that cannot be made writable."""
    for name in names:
        val = getattr(obj, name)
        if isinstance(val, np.ndarray):
            object.__setattr__(obj, name, freeze(val))


@dataclass(frozen=True, repr=False)
class RidgeReadout(FrozenResult):
    """Linear readout ``ŷ = c + Φ V`` fitted by ridge with an unpenalised intercept."""

    weights: np.ndarray
    intercept: np.ndarray | float
    lam: float

    def __post_init__(self) -> None:
        _freeze_fields(self, "weights", "intercept")

    def __repr__(self) -> str:
        W = np.asarray(self.weights)
        outs = 1 if W.ndim == 1 else W.shape[1]
        return f"RidgeReadout(features={W.shape[0]}, outputs={outs}, lam={self.lam:.3g})"

    def predict(self, Phi: np.ndarray) -> np.ndarray:
        """Predictions for features ``Phi (B, p)``."""
        Phi = real_array(Phi, "Phi")
        if Phi.ndim != 2 or Phi.shape[1] != self.weights.shape[0]:
            raise InvalidInputError(f"Phi must be (B, {self.weights.shape[0]}), got {Phi.shape}",
                                    param="Phi")
        with np.errstate(over="ignore", invalid="ignore"):
            out = Phi @ self.weights + self.intercept
        _check_range(out, "Phi")
        return out


def fit_ridge(Phi: np.ndarray, y: np.ndarray, lam: float) -> RidgeReadout:
    """``V = (Φ_cᵀ Φ_c + λ I)⁻¹ Φ_cᵀ y_c``, ``c = ȳ - φ̄ᵀ V`` (module docstring)."""
    Phi, y = _check_xy(Phi, y, "Phi")
    lam = _check_lam(lam)
    mu, ym = Phi.mean(axis=0), y.mean(axis=0)
    Pc = Phi - mu
    with np.errstate(over="ignore", invalid="ignore"):
        if lam == 0:
            # the minimum-norm least-squares readout: singular values of Φ_c below the
            # rounding level r = max(B, F)·eps·s_max are dropped; a kept one within
            # RIDGELESS_MARGIN·r carries its rounding into V ~ |y|/s_min (refused, as for K)
            rnd = max(Pc.shape) * np.finfo(float).eps
            V, _, _, sv = scipy.linalg.lstsq(Pc, y - ym, cond=rnd)
            _check_ridgeless_features(sv, rnd)
        else:
            gram = Pc.T @ Pc
            _check_range(gram, "Phi")
            V = _solve_psd(gram, Pc.T @ (y - ym), lam)
        c = ym - mu @ V
    _check_range(V, "Phi")
    _check_range(c, "Phi")
    return RidgeReadout(V, c, lam)


def _check_ridgeless_features(sv: np.ndarray, rnd: float) -> None:
    """Refuse λ = 0 (naming ``lam``) when the pseudo-inverse keeps a singular value of
    ``Φ_c`` within :data:`RIDGELESS_MARGIN` times its rounding level ``rnd·s_max``."""
    top = float(sv.max(initial=0.0))
    if not np.isfinite(top) or top == 0.0:
        return
    floor = rnd * top
    kept = sv[sv > floor]
    if kept.size and float(kept.min()) < RIDGELESS_MARGIN * floor:
        low = float(kept.min())
        raise InvalidInputError(
            f"lam=0 on numerically collinear features: the centred Phi has the singular value "
            f"{low:.3g} (largest {top:.3g}), kept by the pseudo-inverse but within "
            f"{RIDGELESS_MARGIN:g} times its rounding level {floor:.3g}, so the readout "
            f"(~|y|/{low:.3g}) would be dominated by rounding; pass lam > 0 (e.g. lam >= "
            f"{(RIDGELESS_MARGIN * floor) ** 2:.3g}, the square of that level: λ adds to s²)",
            param="lam")


def _check_range(arr: np.ndarray, name: str) -> None:
    """Products that left the float range (finite but huge data) are refused naming ``name``."""
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} is too large: its products overflow the float range; "
                                "scale it down", param=name)


@dataclass(frozen=True, repr=False)
class KernelRidge(FrozenResult):
    """Kernel ridge regression with an unpenalised intercept (centred kernel).

    ``predict(K_test)`` takes ``K_test[a, j] = k(u_a, u_j)`` against the training inputs."""

    alpha: np.ndarray
    y_mean: np.ndarray | float
    col_mean: np.ndarray
    all_mean: float
    lam: float

    def __post_init__(self) -> None:
        _freeze_fields(self, "alpha", "y_mean", "col_mean")

    def __repr__(self) -> str:
        a = np.asarray(self.alpha)
        outs = 1 if a.ndim == 1 else a.shape[1]
        return f"KernelRidge(training_samples={a.shape[0]}, outputs={outs}, lam={self.lam:.3g})"

    def predict(self, K_test: np.ndarray) -> np.ndarray:
        """``ŷ(u) = ȳ + k_c(u)ᵀ α`` with the centred test kernel."""
        K = real_array(K_test, "K_test")
        if K.ndim != 2 or K.shape[1] != self.col_mean.size:
            raise InvalidInputError(f"K_test must be (A, {self.col_mean.size}), got {K.shape}",
                                    param="K_test")
        with np.errstate(over="ignore", invalid="ignore"):
            Kc = K - K.mean(axis=1, keepdims=True) - self.col_mean[None, :] + self.all_mean
            out = Kc @ self.alpha + self.y_mean
        _check_range(out, "K_test")
        return out


def _center(K: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    with np.errstate(over="ignore", invalid="ignore"):
        K = 0.5 * (K + K.T)
        col = K.mean(axis=0)
        row = K.mean(axis=1)
        tot = float(K.mean())
        Kc = K - row[:, None] - col[None, :] + tot
    _check_range(Kc, "K")
    return Kc, col, tot


def fit_kernel_ridge(K: np.ndarray, y: np.ndarray, lam: float) -> KernelRidge:
    """``α = (K_c + λ I)⁻¹ y_c`` on the training kernel ``K (n, n)`` (module docstring).

    ``K`` must be symmetric with ``K_c`` positive semi-definite up to rounding
    (:data:`KERNEL_RTOL`), else :class:`InvalidInputError` naming ``K``. ``λ = 0`` is the
    truncated pseudo-inverse (eigenvalues ``≤ PINV_RCUT·s_max`` dropped); it is refused
    (naming ``lam``) when a kept eigenvalue ``s`` lies within :data:`RIDGELESS_MARGIN` times
    the rounding level of the spectrum (``n·eps·max(max|K|, s_max)``, or the largest
    ``|negative eigenvalue|``): ``α ~ |y|/s`` would be dominated by rounding — pass
    ``λ > 0`` (:func:`select_lambda`)."""
    K, y = _check_xy(K, y, "K")
    if K.shape[0] != K.shape[1]:
        raise InvalidInputError(f"K must be square, got {K.shape}", param="K")
    lam = _check_lam(lam)
    Kc, col, tot = _center(K)
    s, U, floor = _kernel_spectrum(K, Kc)
    ym = y.mean(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        if lam > 0:
            alpha = _solve_psd(Kc, y - ym, lam)
        else:
            _check_ridgeless(s, floor)
            alpha = _pinv_solve(s, U, y - ym)
    _check_range(alpha, "K")
    return KernelRidge(alpha, ym, col, tot, lam)


def loo_errors(K: np.ndarray, y: np.ndarray, lams: Sequence[float]) -> np.ndarray:
    """Exact leave-one-out mean squared errors of :func:`fit_kernel_ridge` for each ``λ``
    (eigen-decomposition of ``K_c``; hat matrix ``11ᵀ/n + K_c (K_c + λ I)⁻¹``). For ridge on
    features pass ``K = Φ Φᵀ``. ``K`` is checked as in :func:`fit_kernel_ridge` (symmetric,
    ``K_c`` PSD up to rounding)."""
    K, y = _check_xy(K, y, "K")
    if K.shape[0] != K.shape[1]:
        raise InvalidInputError(f"K must be square, got {K.shape}", param="K")
    Kc, _, _ = _center(K)
    s, U, _ = _kernel_spectrum(K, Kc)
    n = K.shape[0]
    yc = y - y.mean(axis=0)
    Uy = U.T @ yc
    if isinstance(lams, (str, bytes)) or np.ndim(lams) != 1:
        raise InvalidInputError(f"lams must be a 1-D sequence of numbers >= 0, got {lams!r}",
                                param="lams")
    grid = real_array(lams, "lams", what="a 1-D sequence of finite numbers >= 0")
    if np.any(grid < 0):
        raise InvalidInputError(f"lams must be >= 0, got {float(grid.min()):g}", param="lams")
    out = []
    for lam in lams:
        lam = _check_lam(lam)
        if lam > 0:
            g = s / (s + lam)
        else:
            g = _kept_spectrum(s).astype(float)
        gg = g[:, None] if y.ndim == 2 else g
        resid = yc - U @ (gg * Uy)
        diag = 1.0 / n + (U**2) @ g
        lev = 1.0 - np.minimum(diag, 1.0 - 1e-12)
        with np.errstate(over="ignore", invalid="ignore"):
            e = resid / (lev[:, None] if y.ndim == 2 else lev)
            out.append(float(np.mean(e**2)))
    _check_range(np.array(out), "y")
    return np.array(out)


def select_lambda(K: np.ndarray, y: np.ndarray, lams: Sequence[float] | None = None,
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """``(best λ, λ grid, LOO errors)``; default grid ``10^{-12..2} · tr(K_c)/n``."""
    K, y = _check_xy(K, y, "K")
    if K.shape[0] != K.shape[1]:
        raise InvalidInputError(f"K must be square, got {K.shape}", param="K")
    if lams is None:
        Kc, _, _ = _center(K)
        scale = float(np.trace(Kc)) / K.shape[0]
        if not scale > 16 * np.finfo(float).eps * float(np.abs(K).max(initial=0.0)):
            # the default grid is relative to tr(K_c)/n, here zero up to the rounding of
            # the centring: nothing to scale it by (it was 1e-300·10^{-12}, a subnormal λ)
            raise InvalidInputError(
                f"K is constant after centring (tr K_c / n = {scale:.3g}): the samples' "
                "features do not differ, every λ predicts the mean of y; check the "
                "features (or pass lams)", param="K")
        lams = scale * np.logspace(-12, 2, 29)
    lams = real_array(lams, "lams", finite=False)
    if lams.ndim != 1 or lams.size == 0:
        raise InvalidInputError(f"lams must be a non-empty sequence of numbers >= 0, got shape "
                                f"{lams.shape}", param="lams")
    err = loo_errors(K, y, lams)
    return float(lams[int(np.argmin(err))]), lams, err

