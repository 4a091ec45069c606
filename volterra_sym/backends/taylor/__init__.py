"""Taylor (short-lag) backend ``method="taylor"``: kernels as truncated Taylor series in
the gaps (docs/theory.md §5).

For sorted lags ``σ_1 ≤ … ≤ σ_N`` with gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}``::

    K_k(σ) ≈ Σ_{|p| ≤ d} c_{k,p} Π_j τ_j^{p_j} / p_j! ,
    c_{k,p} = < p0, L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f > .

Rooms (one module per responsibility):

* :mod:`.expansion` — the integrands on the nodes ``("g", k)`` of the hierarchy DAG
  (``C_j[p] = L_{k_j} L0^{p_j} C_{j-1}[p']``, memoised per node in the model's derived-data
  cache; the graph is only read) and their averages ``c_{k,p}``;
* :mod:`.averages` — stationary averages ``<p0, Q>`` of chain polynomials (Gaussian
  moments, 1-D quadrature, the spectral grid, stationary samples), computed on the
  monomials that occur only, with the rounding estimate of the shadow chains;
* :mod:`.series` — :class:`TaylorSeries`: shell norms, ratio model, radius, truncation
  error, evaluation;
* :mod:`.options` — options, limits and request checks; :mod:`.backend` — the route
  object and the public functions.

The polynomial algebra of the chains (packed monomials, ``L0`` and ``L_k`` in the chain
variables ``x = (h, a(z)[, sigmoid(z)])``) is :mod:`volterra_sym.operators.packed` and
:mod:`volterra_sym.operators.powers`.

Input inside the activation and ``σ(h)`` (docs/theory.md §10–§11): a kernel is named by its
kicks ``κ = ((k..), …)`` (one gap and one Taylor power per kick) and

    c_{κ,p} = < p0, L^{(j_r)}_{κ_r} L0^{p_r} ⋯ L^{(j_1)}_{κ_1} L0^{p_1} f > ,
    L^{(j)}_κ = Σ_i a^{(j)}(z_i) C_{iκ_1}⋯C_{iκ_j}/j! ∂_i ,

with ``a^{(j)}`` a polynomial in the chain variables and ``L0`` carrying the polynomial
``½ Σ D_ij(h) ∂_i∂_j``. The averages: quadrature against the tabulated 1-D density with
``D(h)`` (its error ``|<p0_q, L0 Q>|`` added, as on the grid route) or samples of the
Euler–Maruyama burn-in with ``σ(h)``.

Error estimates and valid range
-------------------------------
*Coefficients.* The chains suffer massive cancellation (``<p0, L0 g> = 0``): the relative
floating-point error of ``c_{k,p}`` grows roughly tenfold per power. It is estimated by
Monte Carlo arithmetic (3 shadow computations, :mod:`.averages`); the grid route adds
``|<p0_grid, L0 Q>|``; the sampling route gives batch standard errors.

*Radius and truncation* (:mod:`.series`): shell majorants ``m_q = Σ_{|p|=q} |c_p|/p!``,
their ratios extrapolated linearly; the radius at degree ``d`` in the largest gap is
``1/ρ_{d+1}``. Lags beyond it are refused (:class:`~volterra_sym.backends.BackendError`, a
:class:`~volterra_sym.errors.NotApplicableError` naming the radius; ``on_radius="warn"``: a
:class:`TaylorAccuracyWarning` and an infinite error). For linear models the series is
entire and the estimate grows with ``d``; for nonlinear activations the ratios usually keep
growing (the series can be asymptotic), so the estimate is the valid range *at this
degree*. ``return_error`` reports truncation + statistical (``z_B`` batch standard
errors, the coverage of three normal ones: :mod:`volterra_sym.backends.coverage`) +
rounding. With
``tol=`` the degree is raised by 2 (from at least 3: below it there is no truncation
estimate, :data:`~.series.MIN_LAST_SHELL`) up to ``max_degree`` until the estimate is below
``tol``; otherwise :class:`~volterra_sym.errors.AccuracyNotReachedError` (``best``,
``error``, ``tol``).

Limits: kernel order ``N ≤ MAX_ORDER`` (else
:class:`~volterra_sym.errors.UnsupportedOrderError`), at most ``MAX_COEFFICIENTS``
coefficients per kernel, and every chain operation, moment table and sample matrix is
estimated against the memory budget first
(:class:`~volterra_sym.errors.ResourceLimitError`).

Options of ``kernel``: ``degree`` (default 8), ``tol``, ``max_degree`` (default 16),
``density`` (``"auto"`` or a route of :data:`DENSITY_ROUTES`), ``on_radius``
(``"raise"``/``"warn"``) and for sampling ``paths, snapshots, batches, dt, burn_in,
spacing, seed``.
"""

from .averages import GaussianMoments, PointAverages, make_averager, stationary_samples
from .backend import BACKEND, taylor_coefficients, taylor_hierarchy, taylor_radius, taylor_series
from .expansion import TaylorChains, TaylorExpansion, taylor_chains, taylor_expansion
from .options import (
    DEFAULT_DEGREE,
    DENSITY_ROUTES,
    MAX_COEFFICIENTS,
    MAX_DEGREE,
    MAX_ORDER,
    TaylorAccuracyWarning,
    TaylorOptions,
)
from .series import TaylorSeries

__all__ = ["BACKEND", "TaylorSeries", "TaylorExpansion", "TaylorChains", "TaylorOptions",
           "TaylorAccuracyWarning", "taylor_series", "taylor_radius", "taylor_coefficients",
           "taylor_hierarchy", "taylor_chains", "taylor_expansion", "stationary_samples",
           "make_averager", "GaussianMoments", "PointAverages", "MAX_ORDER",
           "DEFAULT_DEGREE", "MAX_DEGREE", "MAX_COEFFICIENTS", "DENSITY_ROUTES"]
