"""Grid/spectral backend ``method="spectral"`` for n ≤ 2 (docs/theory.md §2–§4, §6).

Discretisation (see :mod:`volterra_sym.backends.spectral.collocation`): periodic Fourier
collocation of the generator in symmetrising variables ``ĝ = w g``, ``ψ = ρ / w`` (``w ≈
√p0``) on a box covering ``p0 > cut · max p0``, and a dense eigen-decomposition ``L̂0 = V Λ
V⁻¹`` whose stationary mode ``j0`` gives the numerical solution of ``L0* p0 = 0`` (no closed
form is used; where one exists the tests compare against it). In mode coordinates ``a = V⁻¹
ĝ`` the semigroup is diagonal, ``P_τ a = e^{Λτ} a``, and ``L_k`` is the matrix ``B_k = V⁻¹
L̂_k V``.

**Kernels** (orders 1–3; sorted lags ``σ_1 ≤ … ≤ σ_N``, gaps ``τ_j = σ_j - σ_{j-1}``):

    a_0 = V⁻¹(w f) ,   a_j = B_{k_j} e^{Λ τ_j} a_{j-1} ,   K_k(σ) = (a_N)_{j0} = <p0, g_N> ,

i.e. ``g_0 = f``, ``g_j = L_{k_j} P_{τ_j} g_{j-1}``, ``K = <p0, g_N>``; each lag costs
``O(M)`` for N = 1 and ``O(M²)`` for N = 2, 3 (``M`` grid points), batched over lags.

**Series** (docs/theory.md §6, forward hierarchy): with ``c_N = h^n Vᵀ ψ_N`` (so that
``<ρ_N, g> = c_Nᵀ a``) the hierarchy ``∂_t ρ_N = L0* ρ_N + Σ_k u_k(t) L_k* ρ_{N-1}``,
``ρ_0 = p0``, ``ρ_N(0) = 0`` reads

    c_0 = e_{j0} ,   c_N' = Λ c_N + Σ_k u_k(t) B_kᵀ c_{N-1} ,   T_N(t) = c_N(t)ᵀ a_0 .

It is integrated exactly in the diagonal part (exponential integrator) with the forcing
interpolated by a degree ``q-1`` polynomial through ``q = 7`` Chebyshev–Lobatto nodes of
each of ``K`` uniform steps on ``[0, max(times)]`` (φ-function weights); the input is
sampled at those nodes only, and ``T_N`` at the requested times comes from the same
interpolant, so the cost is linear in ``len(times)`` and in ``K``. ``K`` is doubled until two
runs agree to ``tol/4`` at the common step ends. Orders up to 12 (cost linear in the order).

**Accuracy control.** ``tol`` (default ``1e-8`` for n = 1, ``1e-6`` for n = 2) is relative to
the largest value over the requested lags / times (with a tiny absolute floor for values that
vanish by symmetry). Grids are refined along a fixed ladder of resolutions (always from its
bottom, so results do not depend on earlier calls; eigen-decompositions are cached) until two
consecutive ones agree within ``tol``; the finer result is returned. The kernel error estimate
is the largest difference to the coarser grid over the batch (a uniform bound: pointwise
differences can vanish by accident) plus a rounding floor ``64 ε √κ₁(V)``; the series error
is the spatial difference plus the time-step difference, per order. The box is fixed by
``cut`` (default ``clip(1e-4 tol², 1e-24, 1e-12)``; truncation errors scale like ``cut^0.7``).
Refinement stops with :class:`~volterra_sym.backends.BackendError` when the next grid would
exceed ``memory_budget`` (default 2 GiB for the dense ``M×M`` arrays of the two finest grids)
or when the estimate stagnates (rounding floor), so nothing runs away.

Options (``kernel.evaluate(..., method="spectral", **options)`` and the functions here):
``tol``, ``resolution`` (odd number of points per axis; no refinement, the estimate uses the
next coarser ladder rung), ``memory_budget`` (bytes), ``cut``. ``BACKEND.series_terms`` and
``BACKEND.mean0`` use the defaults; call :func:`series_terms` / :func:`mean0` for options and
error estimates. Refused (``applies``): n ≥ 3, symbolic parameters, observables with free
parameters, a singular ``D`` for n = 2. Dense LAPACK runs with
:data:`~volterra_sym.budget.BLAS_THREADS` (1) BLAS threads.
"""

from .backend import BACKEND
from .kernels import SpectralRepresentation, grid_density, kernel, kernels, mean0
from .options import (
    DEFAULT_MEMORY_BUDGET,
    DEFAULT_TOL,
    MAX_KERNEL_ORDER,
    MAX_SERIES_ORDER,
    Options,
    levels,
)
from .refinement import discretisation
from .series import SeriesResult, series_terms

__all__ = ["BACKEND", "DEFAULT_TOL", "DEFAULT_MEMORY_BUDGET", "MAX_KERNEL_ORDER",
           "MAX_SERIES_ORDER", "Options", "levels", "discretisation", "grid_density", "kernel",
           "kernels", "series_terms", "mean0", "SeriesResult", "SpectralRepresentation"]
