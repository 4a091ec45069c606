"""Initial states from ``p0`` and the conjugate variables of the fluctuation–dissipation
relation for the Monte Carlo engine (docs/theory.md §3, §4, §7).

The samplers, the 1-D density, the Gaussian moments and the conjugate variables live in
the density layer (:mod:`volterra_sym.density.sampling`, :mod:`.conjugate`,
:mod:`.linearisation`); this module re-exports them under their Monte Carlo names and
turns their refusals into :class:`~.integrators.SimulationError` where the engine's
callers expect one.

A *sampler* is a callable ``sampler(rng, size) -> array (size, n)``; the engine calls it
once per fixed block of paths with that block's own generator (``sample_blocks`` runs
several blocks at once), so initial states do not depend on how paths are chunked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..density import (
    BurnInSampler,
    NoClosedFormError,
    Sampler,
    burn_in_sampler,
    gaussian_moments,
    gaussian_sampler,
    inverse_cdf_sampler,
    stationary_sampler,
)
from ..density import conjugate_variables as _conjugate_variables
from ..density import one_dim_density as _one_dim_density
from ..density import second_conjugate_variables as _second_conjugate_variables
from ..errors import NotApplicableError
from ..model import SRNN, ModelError, check_model
from .integrators import EstimatorNotApplicableError, SimulationError, model_arrays

__all__ = ["Sampler", "BurnInSampler", "gaussian_sampler", "inverse_cdf_sampler",
           "burn_in_sampler", "stationary_sampler", "ou_stationary", "one_dim_density",
           "conjugate_variables", "second_conjugate_variables"]


def ou_stationary(model: SRNN) -> tuple[np.ndarray, np.ndarray]:
    """``(μ, S)`` of a linear model: ``μ = A⁻¹ b``, ``A S + S Aᵀ = D``, ``A = Γ - W``
    (:func:`volterra_sym.density.gaussian_moments`)."""
    if not check_model(model).is_linear:
        raise SimulationError("ou_stationary needs a linear activation")
    model_arrays(model)
    return gaussian_moments(model)


def one_dim_density(model: SRNN) -> tuple[Callable, float, float]:
    """Normalised ``p0`` of a one-dimensional model and a range ``[lo, hi]`` holding its
    mass (:func:`volterra_sym.density.one_dim_density`)."""
    if check_model(model).n != 1:
        raise SimulationError(f"one_dim_density needs n = 1, the model has n = {model.n}")
    return _one_dim_density(model)


def conjugate_variables(model: SRNN) -> Callable[[np.ndarray], np.ndarray]:
    """``v(h)``: array ``(..., n)`` -> ``(..., m)``, ``v_k = -C_k·∇ log p0`` (docs/theory.md §4):
    Gaussian ``(h - μ) S⁻¹ C``, 1-D and gradient cases ``-(2/s²) φ(h)ᵀ C``
    (:func:`volterra_sym.density.conjugate_variables`)."""
    model_arrays(model)
    try:
        return _conjugate_variables(model)
    except (NoClosedFormError, NotApplicableError) as exc:
        raise EstimatorNotApplicableError(
            f"{exc}; use method='girsanov' (CLI: --estimator girsanov; needs C = σB)") from None
    except ModelError as exc:
        raise EstimatorNotApplicableError(f"no conjugate variable: {exc}; use "
                                          "method='girsanov' (CLI: --estimator girsanov)") from None


def second_conjugate_variables(model: SRNN, v: Callable | None = None
                               ) -> Callable[[np.ndarray], np.ndarray]:
    """``w(h)``: ``(..., n)`` -> ``(..., m, m)``, ``w_{k1k2} = v_{k1} v_{k2} - C_{k1}·∇v_{k2}``
    so that ``<p0, L_{k2} L_{k1} g> = E_0[w_{k1k2}(h) g(h)]``
    (:func:`volterra_sym.density.second_conjugate_variables`)."""
    model_arrays(model)
    try:
        return _second_conjugate_variables(model, v)
    except (NoClosedFormError, NotApplicableError) as exc:
        raise EstimatorNotApplicableError(
            f"{exc}; use method='girsanov' (CLI: --estimator girsanov; needs C = σB)") from None
