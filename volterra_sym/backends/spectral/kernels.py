"""Kernels, ``<f>_0`` and ``p0`` on the grid: the spectral representation of the
propagation core (``P_τ a = e^{Λτ} a``, ``L_k a = B_k a``, ``<p0, g> = a_{j0}``)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ...density.linearisation import regular_noise
from ...errors import (
    InvalidInputError,
    NotApplicableError,
    UnsupportedOrderError,
)
from ...hierarchy.propagation import prefix_graph, walk_kernels
from ...model import SRNN
from ...model.srnn import SYMBOLIC_PARAMETERS
from ..modal import ModalRepresentation
from .collocation import (
    Discretisation,
    observable_reason,
)
from .options import MAX_KERNEL_ORDER, _blas_limited, _options
from .refinement import _fscale, _fvals, _refine, _rounding, discretisation


# ---------------------------------------------------------------------- kernels
def applies(model: SRNN, f: sp.Expr) -> str | None:
    """``None`` if the spectral route applies to ``(model, f)``, else the reason."""
    if model.n > 2:
        return f"spectral supports n ≤ 2; this model has n = {model.n}"
    if not model.is_numeric:
        return SYMBOLIC_PARAMETERS
    if model.n == 2:
        if not regular_noise(model):
            return ("spectral needs a non-singular diffusion matrix D = σσᵀ for n = 2 "
                    "(the noise must reach both coordinates); this D is singular")
    return observable_reason(model, f)


def SpectralRepresentation(dz: Discretisation, a0: np.ndarray) -> ModalRepresentation:
    """The grid's eigen-coordinates as a propagation-core representation: states are rows
    ``a = V⁻¹ ĝ``; ``P_τ a = e^{Λτ} a``, ``L_k a = B_k a``, ``<p0, g> = a_{j0}``, and the last
    ``<p0, L_k ·>`` is the fused row ``B_k[j0]`` (``O(M)`` per lag instead of ``O(M²)``);
    where ``L̂0`` is symmetric (orthonormal modes) a value's rounding level follows its
    whole chain (:meth:`~volterra_sym.backends.modal.ModalRepresentation.size`)."""
    return ModalRepresentation(dz, a0, "spectral", chain=dz.symmetric)


def _check_requests(model: SRNN, requests) -> dict[tuple[int, ...], np.ndarray]:
    out = {}
    for channels, sorted_lags in requests.items():
        channels = tuple(int(k) for k in channels)
        N = len(channels)
        if N > MAX_KERNEL_ORDER:
            raise UnsupportedOrderError(f"spectral evaluates kernels of order ≤ "
                                        f"{MAX_KERNEL_ORDER}; got order {N} (channels "
                                        f"{channels})")
        if N < 1:
            raise InvalidInputError("channels must name at least one input channel",
                                    param="channels")
        lags = np.asarray(sorted_lags, dtype=float)
        if lags.ndim != 2 or lags.shape[1] != N:
            raise InvalidInputError(f"sorted_lags must have shape (P, {N}), got {lags.shape}",
                                    param="lags")
        if not np.all(np.isfinite(lags)):
            raise InvalidInputError("lags must be finite (found NaN or inf)", param="lags")
        if np.any(lags < 0):
            raise InvalidInputError(f"lags must be ≥ 0, got {lags[lags < 0].min()}",
                                    param="lags")
        if N > 1 and np.any(np.diff(lags, axis=1) < 0):
            raise InvalidInputError("sorted_lags must be sorted along the last axis "
                                    "(σ_1 ≤ … ≤ σ_N)", param="lags")
        for k in channels:
            if not 0 <= k < model.m:
                raise InvalidInputError(f"channel k={k} is out of range 0..{model.m - 1}",
                                        param="channels")
        out[channels] = lags
    return out


@_blas_limited
def kernels(model: SRNN, f: sp.Expr, graph, requests, **options):
    """``{channels: (values, error)}`` for ``requests = {channels: sorted lags (P, N)}``
    (N ≤ 3): one walk of ``graph`` per grid of the refinement ladder; the error is the
    largest difference to the coarser grid over the batch (a uniform bound: pointwise
    differences can vanish by accident) plus the rounding level."""
    reqs = _check_requests(model, requests)
    f = sp.sympify(f)
    opts = _options(model, options)
    keys = list(reqs)
    sizes = [reqs[k].shape[0] for k in keys]
    if sum(sizes) == 0:
        return {k: (np.zeros(0), np.zeros(0)) for k in keys}
    cuts = np.cumsum([0] + sizes)
    noises: dict[int, np.ndarray] = {}

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        _, a0 = _fvals(model, f, dz)
        res = walk_kernels(graph, SpectralRepresentation(dz, a0), reqs)
        vals = np.concatenate([res[k][0] for k in keys])
        noises[Nres] = np.array([_rounding(dz, float(res[k][1].max(initial=0.0)))
                                 for k in keys])
        # each kernel is refined against its own scale
        scale = np.concatenate([np.full(s, max(float(np.abs(res[k][0]).max(initial=0.0)),
                                                1e-300)) for k, s in zip(keys, sizes,
                                                                         strict=True)])
        noise = np.repeat(noises[Nres], sizes)
        return vals, scale, noise

    what = f"kernels {keys}" if len(keys) > 1 else f"kernel {keys[0]}"
    val, diff, Nf = _refine(model, opts, evaluate, what)
    out = {}
    for i, k in enumerate(keys):
        d = diff[cuts[i]:cuts[i + 1]]
        bound = float(d.max(initial=0.0)) + float(noises.get(Nf, np.zeros(len(keys)))[i])
        out[k] = (val[cuts[i]:cuts[i + 1]], np.full(sizes[i], bound))
    return out


def kernel(model: SRNN, f: sp.Expr, channels, sorted_lags, *, return_error: bool = False,
           **options):
    """``K_{k_1…k_N}`` (N ≤ 3) at sorted lags ``(P, N)``; see :func:`kernels`."""
    channels = tuple(int(k) for k in channels)
    graph = prefix_graph([channels])
    val, err = kernels(model, f, graph, {channels: sorted_lags}, **options)[channels]
    return (val, err) if return_error else val


# ---------------------------------------------------------------------- p0 and <f>_0
@_blas_limited
def grid_density(model: SRNN, **options) -> Discretisation:
    """The converged grid solution of ``L0* p0 = 0`` (first and second moments agree
    between two resolutions to ``tol``): a
    :class:`~volterra_sym.backends.spectral.collocation.Discretisation` with points
    ``.x`` ``(M, n)``, values ``.p0``, cell volume ``.vol`` (``Σ p0 vol = 1``),
    ``.boundary_ratio()`` and ``.fokker_planck_residual()``."""
    reason = applies(model, model.h[0])
    if reason is not None:
        raise NotApplicableError(f"method 'spectral' does not apply: {reason}")
    opts = _options(model, options)

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        w = dz.p0 * dz.vol
        m1 = w @ dz.x
        m2 = (dz.x * w[:, None]).T @ dz.x
        vals = np.concatenate([m1, m2.ravel()])
        scale = max(float(np.abs(vals).max()), 1e-300)
        return vals, scale, _rounding(dz, scale)

    _, _, Nf = _refine(model, opts, evaluate, "p0")
    return discretisation(model, Nf, opts.cut)


@_blas_limited
def mean0(model: SRNN, f: sp.Expr, **options) -> tuple[float, float]:
    """``(<f>_0, error estimate)`` on the grid."""
    opts = _options(model, options)

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        fv, _ = _fvals(model, f, dz)
        mean, fsc = dz.mean(fv), _fscale(dz, fv)
        return np.array([mean]), max(abs(mean), fsc), _rounding(dz, fsc)

    val, diff, _ = _refine(model, opts, evaluate, "<f>_0")
    return float(val[0]), float(diff[0])


