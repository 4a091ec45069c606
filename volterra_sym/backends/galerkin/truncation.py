"""The truncation part of the Galerkin route's error estimate (docs/theory.md §9), and
the degrees at which a quantity has one.

A value at basis degree ``d`` is compared with the same quantity at lower degrees
(:func:`lower_degrees`); the truncation part is the largest change times a safety factor
by measure and model (:func:`safety`), or, where the basis converges slowly, the geometric
tail of the latest changes (:func:`slow_convergence_factor`)::

    trunc = max( s · max_l |v_d − v_{d_l}| ,  c(ρ) · max(Δ_{d−1}, Δ_{d−2}) ),
    c(ρ) = 3ρ/(1−ρ) above ρ = 1/4,   ρ = max|v_d − v_{d−2}| / max|v_{d−2} − v_{d−4}| .

The lower degrees are ``d - 1`` and ``d - 2`` (``d - 2`` as well because parity can leave
``d - 1`` unchanged); for models with the features of docs/theory.md §10–§11 (from
``d ≥ 6``) and on the ``galerkin_density`` measure ``d - 1 … d - max(3, ⌈d/3⌉)``, not
below degree 2 from ``d ≥ 4`` (plateaus over several degrees), with the change doubled
(:data:`FEATURE_SAFETY`) or tripled (:data:`DENSITY_SAFETY`: non-monotone convergence
measured at n = 3 and 5); on the 1-D quadrature and 2-D grid measures doubled
(:data:`GRID_SAFETY`: non-monotone convergence measured on tanh2d); from ``d ≥ 6`` on
those, where larger, the geometric tail (two wells make the basis converge slowly). A
quantity with ``N ≥ 2`` kicks is not compared with degree 1, where it is identically zero
(:func:`informative_from`); with no lower degree left the estimate is the value itself.

A quantity with ``N`` kicks has an estimate only from the degree that gives it two
informative lower degrees (:func:`estimable_degree`) and is resolved only from the degree
parity allows (:func:`least_degree`); an explicit degree below either is refused
(:func:`check_resolved`). The route (:mod:`.route`) computes the values; this module holds
the rules that turn their changes into an error.
"""

from __future__ import annotations

import numpy as np

from ...density.linearisation import linearisation
from ...errors import InvalidInputError
from ...model import SRNN
from ...model.cache import derived

__all__ = ["ABOVE_MEASURES", "ABOVE_SAFETY", "ABOVE_WIDTH", "ASKED_ABOVE_MEASURES", "CHECKS",
           "DENSITY_SAFETY", "FEATURE_SAFETY", "GAUSSIAN_SAFETY", "GRID_SAFETY", "RATE_MAX",
           "RATE_START", "REFERENCE_KICK_MARGIN", "SLOW_SAFETY", "WINDOW_MAX", "check_resolved",
           "coincident_kicks", "degree_hint", "estimable_degree", "higher_degrees",
           "informative_from", "kernel_informative_from", "kernels_need", "least_degree",
           "lower_allowed", "lower_degrees", "most_kicks", "needed_degree", "reference_degree",
           "reflection_symmetric", "safety", "slow_convergence_factor",
           "truncation_above", "truncation_part"]


#: the geometric tail of the truncation changes is multiplied by this
#: (:func:`slow_convergence_factor`)
SLOW_SAFETY = 3.0
#: two-degree contraction of the truncation changes above which the estimate is inflated,
#: and the largest one used (beyond it the factor stays at its value there)
RATE_START, RATE_MAX = 1.0 / (1.0 + SLOW_SAFETY), 0.9


def slow_convergence_factor(now: float, before: float) -> float:
    """Factor on the truncation change where the basis converges slowly.

    With the two-degree contraction ``ρ = max|v_d − v_{d−2}| / max|v_{d−2} − v_{d−4}|``
    (maxima over the lags or times): ``3ρ/(1−ρ)`` above ``ρ = 1/4``, 1 below; ``ρ`` is
    capped at 0.9 (factor 27, also when the changes are not shrinking). The caller takes
    the larger of this and :data:`GRID_SAFETY`. The geometric tail of the two-degree
    changes is ``ρ/(1−ρ)`` of the last one; :data:`SLOW_SAFETY` triples it because the
    convergence slows down and the maxima over the lags contract less clearly than one lag
    does. Measured on the bistable tanh1d's K₃ at degrees 15–19: the contraction was
    0.46–0.51 per two degrees at a fixed lag, 0.35 in the maxima, the error went 1.3e-4 …
    3.4e-5, and the change over two degrees alone fell 1.01–1.47× below the actual error at
    degrees 18 and 19; where the contraction is near 1 (two deep wells), doubling the
    change would not be enough.
    """
    rho = RATE_MAX if not before > 0.0 else min(now / before, RATE_MAX)
    if now == 0.0:
        return 1.0
    return max(1.0, SLOW_SAFETY * rho / (1.0 - rho)) if rho > RATE_START else 1.0


def lower_degrees(model: SRNN, degree: int, measure_kind: str = "") -> tuple[int, ...]:
    """Degrees of the truncation check: ``d - 1`` and ``d - 2`` (parity can hide ``d - 1``
    changes); ``d - 1 … d - w``, ``w = max(3, ⌈d/3⌉)``, with the features of docs/theory.md
    §10–§11 (from ``d ≥ 6``: a basis of degree ≤ 2 does not resolve the dynamics and its
    change says nothing about the truncation at ``d``) and on the ``galerkin_density``
    measure (any ``d``), at most :data:`WINDOW_MAX` degrees wide. Both converge in plateaus
    over several degrees, the longer the higher the degree. With σ(h) (the coefficients
    ``a^{(j)}(z)`` and skewed densities): measured on noisy_tanh1d, K₁'s actual error stays
    at 1.1–1.6e-3 from degree 10 to 13, where ``d - 1 … d - 3`` under-estimated it 1.4-fold.
    With the density truncated at the basis degree: measured on a 3-unit tanh network of
    independent units against the 1-D spectral route, K₃ at degree 14 was 3.8× and ``T_5``
    at degree 11 2.4× its estimate from ``d - 1, d - 2`` (doubled); over the window
    (tripled, :data:`DENSITY_SAFETY`) every K₁–K₃ and ``T_0 … T_6`` at degrees 4–15 was
    within 0.94 of its estimate (n = 3 at two gains, n = 4, 5) but ``T_2`` and K₂ at degrees
    6 and 5, 1.03 and 1.01 (benchmarks/check_galerkin_independent_units.py). The window
    stops at degree 2 from ``d ≥ 4`` (only ``d = 4`` reaches below it): the degree-1
    density, the Gaussian reference times a linear function, resolves none of the
    nonlinearity, and its change measures the whole of it rather than the truncation at
    ``d`` — on four independent tanh units at half gain (against the 1-D spectral route) it
    put ``<f>_0`` at degree 4 at 506× and K₁ at 149× their actual errors, 22× and 51×
    without it; at n = 3, 5 and gains 0.6, 0.7 ``<f>_0`` went from 62–142× to 3–10×, every
    estimate still above its error (tests/test_galerkin.py). Quantities with two or more
    kicks never compared with degree 1 (:func:`informative_from`)."""
    if (model.features and degree >= 6) or measure_kind == "galerkin_density":
        width = min(max(3, -(-degree // 3)), WINDOW_MAX)
        window = (degree - j for j in range(1, width + 1))
        return tuple(d for d in window if degree < 4 or d >= 2)
    return (degree - 1, degree - 2)


#: the widest window of :func:`lower_degrees` (from degree 19 on): the plateaus of the
#: 1-D σ(h) and input-inside models, measured to degree 39 on their orthonormal basis
#: (noisy_tanh1d, tanh1d_inside, K₁ and K₂ against the spectral route), last at most six
#: degrees — the largest change over six lower degrees was ≥ 1.1× the actual error
#: (≥ 2.8× from degree 16 on tanh1d_inside, ≥ 3.6× for noisy_tanh1d's K₁); ⌈d/3⌉ = 12 at
#: degree 35 had put noisy_tanh1d's K₂ at 629× its actual error
WINDOW_MAX = 6


#: factor on the truncation change for models with the features of docs/theory.md §10–§11:
#: the polynomial basis converges slowly for their skewed, heavy-tailed p0 (σ(h)) and the
#: change over three degrees under-estimated the error by up to 1.42× (noisy_tanh1d, K1 at
#: lag 2 against the spectral route, degree 9)
FEATURE_SAFETY = 2.0
#: the same factor for the ``galerkin_density`` measure (3 ≤ n ≤ 5): the density is truncated
#: at the same degree as the dynamics, and the values need not approach their limit
#: monotonically — K₂ of a 5-unit tanh network whose linearised K₁ is 39 % off
#: (``bench_galerkin_mc.network(5, 1.2, 6)``) went 0.1707, 0.1770, 0.1801 at degrees 3–5
#: against 0.1664 ± 0.0018 from the kick estimator, and the change over two degrees,
#: 1.12e-2, fell below the actual error at degree 5, 1.38e-2; tripled since the window of
#: lower degrees (:func:`lower_degrees`): on 3-unit networks of independent tanh units
#: (benchmarks/check_galerkin_independent_units.py) the doubled change over the window
#: still left K₂ at degree 5 1.51×, ``T_2`` at degree 6 1.54× and ``T_1`` at degree 9
#: (gains ×1.2) 1.24× below their actual errors (n = 4, 5: within 0.92, 0.66)
DENSITY_SAFETY = 3.0
#: the same factor for the measures of n ≤ 2 that are ``p0`` itself (1-D quadrature, 2-D
#: grid): the values need not approach their limit monotonically either — tanh2d's K₃ at
#: lags (0.5, 0.5, 0.5) was 3.3e-6, 3.1e-6, 5.6e-6 off the spectral route at degrees 7–9,
#: and at degree 9 the change, 4.8e-6, fell below the actual error (``verify tanh2d
#: --order 3`` failed its spectral-vs-galerkin check)
GRID_SAFETY = 2.0


#: the same factor on the Gaussian reference (``gaussian``, :mod:`.ridge`): deterministic, no
#: statistical part to widen the error; with the change alone the actual error came within
#: 1.3× of the estimate (six independent tanh units of gains 0.54–0.72 against the 1-D
#: spectral route, ``T_2`` at degree 6) and exceeded it where the reference was re-centred
#: on the stationary moments (gains 0.77–1.02: K₁ at degree 4, 5.5e-2 against 4.3e-2)
GAUSSIAN_SAFETY = 2.0


#: the option ``check``: ``"below"`` compares the value at degree ``d`` with lower degrees
#: (:func:`lower_degrees`) — the value is the most accurate the degrees give, its estimate
#: the change over the window, which stays above the error but exceeds it by the
#: convergence over the window (up to 37,659× where the basis converges fast:
#: benchmarks/check_galerkin_truncation_rules.py); ``"above"`` compares it with higher
#: degrees (:func:`higher_degrees`) — the value of degree ``d`` with an estimate close to
#: its own error, at the cost of the basis of degree ``d + 3``; ``"auto"``: above where it
#: applies (module :mod:`.above`), else below
CHECKS = ("auto", "below", "above")
#: the check from above compares with ``d + 1 … d + ABOVE_WIDTH``
ABOVE_WIDTH = 3
#: its factor on the largest change ``max_k |v_d − v_{d+k}|``: with ``d + 1, d + 2``
#: alone, tripled, or ``d + 1 … d + 3`` doubled, 7 values of independent tanh units, which
#: converge in plateaus, exceeded the estimate (down to 0.59 and 0.69); over
#: ``d + 1 … d + 3``, tripled, every one of 279 values on the ``galerkin_density`` measure
#: (K₁–K₃, ``T_1 … T_4``, degrees 4–15, n = 3 and 4; 12 networks) was 1.03–66.5× below its
#: estimate, 2.8–10× where the basis converges fast
#: (benchmarks/check_galerkin_truncation_rules.py ``--check above``), and 313 on the 1-D
#: quadrature and the 2-D grid 2.1–72× (with :func:`truncation_above`'s tail,
#: benchmarks/check_galerkin_above_low_n.py; docs/theory.md §9)
ABOVE_SAFETY = 3.0
#: the measures the check from above is measured on (deterministic, no features of
#: docs/theory.md §10–§11): Gauss–Hermite rules of linear networks, the 1-D quadrature, the
#: 2-D grid, the ``galerkin_density`` measure of 3 ≤ n ≤ 5
ABOVE_MEASURES = ("gh", "q1d", "grid", "density")
#: the measures of n ≥ 6 where the check from above is measured but used only when asked
#: for (``check="above"``): the Gaussian reference and the sampled measure, whose basis of
#: degree ``d + 3`` costs far more than degree ``d`` (its modal systems grow as ``M³``:
#: 8 units at degree 6 have 3,003 functions; 8 independent units of gain 1.0 at degree 3
#: took 4 s checked from below, 90 s from above). Measured against the sums of the units'
#: 1-D spectral values (6, 7 and 8 independent tanh units, gains 0.6 and 1.0, degrees 3–5;
#: benchmarks/check_galerkin_above_high_n.py): 34 values at 2.8–69× their actual error
#: (median 3.7; on the Gaussian reference 2.8–4.2×), where the check from below gave
#: 1.14–226× — on the sampled measure one draw's error: against its root mean square over
#: 8 seeds the check from below is 3.4–23× (benchmarks/check_galerkin_sampled_seeds.py)
ASKED_ABOVE_MEASURES = ("gaussian", "samples")


def higher_degrees(degree: int) -> tuple[int, ...]:
    """Degrees of the truncation check from above (option ``check="above"``):
    ``d + 1 … d +`` :data:`ABOVE_WIDTH`."""
    return tuple(degree + j for j in range(1, ABOVE_WIDTH + 1))


def safety(model: SRNN, measure_kind: str) -> float:
    """Factor on the largest change against the lower degrees (the truncation part)."""
    if model.features:
        return FEATURE_SAFETY
    if measure_kind == "galerkin_density":
        return DENSITY_SAFETY
    if measure_kind == "gaussian":
        return GAUSSIAN_SAFETY
    return GRID_SAFETY if measure_kind in ("quadrature_1d", "grid_2d") else 1.0


def truncation_part(model: SRNN, measure_kind: str, degree: int, value: np.ndarray,
                    changes: dict[int, float],
                    contraction: tuple[np.ndarray, np.ndarray] | None) -> float:
    """The truncation part of ``value`` at ``degree`` from its largest changes ``changes``
    ``{d_l: max|v_d − v_{d_l}|}`` against the informative lower degrees:

        max( s · max_l Δ_l ,  c · max(Δ_{d−1}, Δ_{d−2}) ) ,

    ``s`` = :func:`safety` and ``c`` = :func:`slow_convergence_factor` of the two-degree
    contraction, where the same quantity at degrees ``d − 2`` and ``d − 4`` is given
    (``contraction``, both informative), else 1. The geometric tail ``c`` extrapolates
    the latest changes, not the window's older ones: with the features of docs/theory.md
    §10–§11 the window reaches back ``⌈d/3⌉`` degrees, and multiplying its largest change
    (from degree ``d − 5``) by the tail factor of the last two counted the slow
    convergence twice (noisy_tanh1d, K₂ at degree 13: 0.63 reported against an actual
    6.4e-3; 0.20 now). Where the window is ``d − 1, d − 2`` this is ``max(s, c)·max_l Δ_l``.
    With no informative lower degree, the value itself.

    One figure over the lags or times, not one per lag: per lag (each value its own
    change) was tried on 2026-12-06 and under-estimated — the changes are smallest where
    the error is largest (long lags, whose slow modes the lower degrees resolve alike).
    Eight independent tanh units at gain 0.6 on the Gaussian reference: K₂ at degree 4
    was 3.2× its per-lag estimate at the longest lag pair (0.88 of the one figure); with
    ``d − 1, d − 2`` doubled per lag, 3–6 units on the ``galerkin_density`` and sampled
    measures were up to 52×, 27×, 6.9×, 6.3× and 3.5× above it (n = 3 at gains 1.0 and
    1.2, n = 4, 5, 6; benchmarks/check_galerkin_independent_units.py, ``rule_P``).
    From above (``check="above"``) see :func:`truncation_above`."""
    if not changes:
        return float(np.max(np.abs(value), initial=0.0))
    window = safety(model, measure_kind) * max(changes.values())
    if contraction is None:
        return window
    mid, far = contraction
    tail = slow_convergence_factor(float(np.max(np.abs(value - mid), initial=0.0)),
                                   float(np.max(np.abs(mid - far), initial=0.0)))
    latest = max((changes[d] for d in (degree - 1, degree - 2) if d in changes), default=0.0)
    return max(window, tail * latest)


def truncation_above(measure_kind: str, value: np.ndarray, highs: list[np.ndarray]
                     ) -> tuple[float, dict[int, float]]:
    """The truncation part of ``value`` at degree ``d`` from the same quantity at the
    higher degrees ``highs`` = ``[v_{d+1}, …, v_{d+w}]`` (option ``check="above"``,
    :func:`higher_degrees`), and the changes ``{k: max|v_d − v_{d+k}|}``::

        max( s · max_k Δ_k ,  max_k Δ_k + c(ρ) · max|v_{d+3} − v_{d+1}| ),
        ρ = max|v_{d+3} − v_{d+1}| / max|v_{d+2} − v_d| ,

    ``s`` = :data:`ABOVE_SAFETY`: the higher degrees are closer to the limit than ``v_d``,
    so their changes measure ``v_d``'s own error (within 2.8–10× of it where the basis
    converges fast, against 15–37,659× for the check from below). On the 1-D quadrature
    and the 2-D grid the geometric tail ``c(ρ)`` (:func:`slow_convergence_factor`) of the
    two-degree changes beyond ``d + 3`` as well: two wells make the basis converge slowly,
    and without it the bistable ``tanh1d``'s K₃ at degree 20 was 1.08× its estimate, its K₂
    at degrees 20–30 fell from 2.9× to 1.2× its error (benchmarks/check_galerkin_above_low_n.py).
    Not on the ``galerkin_density`` measure, whose values approach their limit
    non-monotonically: there the tail put one of 92 values at 142× its error (without it
    1.03–66×)."""
    changes = {k + 1: float(np.max(np.abs(value - h), initial=0.0))
               for k, h in enumerate(highs)}
    if not changes:
        return float(np.max(np.abs(value), initial=0.0)), changes
    part = ABOVE_SAFETY * max(changes.values())
    if measure_kind in ("quadrature_1d", "grid_2d") and len(highs) >= 3:
        now = float(np.max(np.abs(highs[2] - highs[0]), initial=0.0))
        tail = slow_convergence_factor(now, changes[2])
        part = max(part, max(changes.values()) + tail * now)
    return part, changes


def reflection_symmetric(model: SRNN) -> bool:
    """Whether the drift is odd about the linearisation centre ``μ``,
    ``φ(μ + y) = −φ(μ − y)`` (checked at seeded points; always for a linear activation,
    for an odd one with ``b = 0``). Then every quantity splits into parts living on
    degrees of one parity, and a quantity can be identically 0 below a degree
    (:func:`least_degree`). Models with the features of docs/theory.md §10–§11 count
    as symmetric (no claim is made for them)."""
    if model.features:
        return True

    def build() -> bool:
        mu = np.asarray(linearisation(model).center, dtype=float).ravel()
        y = np.random.default_rng(0).standard_normal((16, model.n)) * np.sqrt(
            np.max(np.diag(np.asarray(model.numpy_params()["D"]))) + 1e-300)
        drift = model.drift_numpy()
        a, b = drift(mu + y), drift(mu - y)
        scale = 1e-10 * (1.0 + np.abs(a).max() + np.abs(b).max())
        return bool(np.all(np.abs(a + b) <= scale))
    return derived(model, ("galerkin", "reflection_symmetric"), build)


def informative_from(model: SRNN, kicks: int) -> int:
    """The lowest degree whose value of a quantity with ``kicks`` operators ``L_k`` (a
    kernel with that many lags, the series term ``T_N`` with ``N = kicks``) is compared with
    in the truncation check. With the input beside the activation ``L_k = C_k·∇`` maps the
    degree-1 span ``{1, y}`` to the constants, which ``Λ`` keeps and the next ``L_k``
    annihilates: every quantity with two or more kicks is identically 0 at degree 1, and
    comparing with it only returns the value itself (measured: K₂ of an 8-unit tanh network
    at degree 3, actual error 4.3e-4 against Monte Carlo, was reported ± 1.9e-2 from the
    degree-1 comparison — more than its largest value; ± 4.9e-3 from degree 2). The input
    inside the activation (docs/theory.md §10): ``L^{(j)}`` does not lower the degree, every
    lower degree is kept."""
    if model.input == "activation" or kicks < 2:
        return 1
    return 2


def least_degree(model: SRNN, kicks: int) -> int:
    """The lowest degree at which a quantity with ``kicks`` operators ``L_k`` is resolved:
    ``kicks`` for a reflection-symmetric drift with the input beside the activation (each
    ``L_k`` flips the parity about ``μ`` and ``Λ`` keeps it, so below that degree parity can
    leave the quantity identically 0 while it is not — e.g. ``T_3`` of a 3-unit tanh
    network with ``b = 0`` at degree 2 came out 0 with an error estimate of 0), else 1.
    A linear network with constant noise is exempt: ``Λ`` keeps the polynomial degree, so a
    quantity that vanishes there vanishes exactly."""
    if model.is_linear and not model.state_dependent_noise:
        return 1
    if model.input != "activation" and kicks > 1 and reflection_symmetric(model):
        return kicks
    return 1


def estimable_degree(model: SRNN, kicks: int) -> int:
    """The lowest degree at which a quantity with ``kicks`` operators ``L_k`` has an error
    estimate: two informative lower degrees to compare with, :func:`informative_from`
    ``+ 2`` (3 for K₁ and ``T_1``, 4 for K₂, ``T_2`` and beyond with the input beside the
    activation); 1 for a linear network with constant noise (exact). With one comparison
    only, the change under-estimated the actual error: K₁ at degree 2 (against degree 1)
    up to 3.8× on 8-unit tanh networks (reported 1.4–2× below the actual error with
    640,000–1,280,000 samples, ``network(8, 1.2, 0/9)`` against degree 5), K₂ at degree 3
    (against degree 2) 2.4× on ``network(8, 1.3, 2)``: 1.04e-2 off the kick estimator
    (± 2.5e-4) with ± 6.6e-3 reported. With two, the same K₁ at degree 3 and K₂ at degree 4
    were reported at 6–50× their actual errors."""
    if model.is_linear and not model.state_dependent_noise:
        return 1
    return informative_from(model, kicks) + 2


def most_kicks(kick_counts) -> int:
    """The largest of ``kick_counts`` (0 for none: ``<f>_0``). :func:`least_degree` and
    :func:`estimable_degree` do not decrease with the kicks, so it decides both."""
    return max((int(c) for c in kick_counts), default=0)


def needed_degree(model: SRNN, kick_counts) -> int:
    """The larger of :func:`least_degree` and :func:`estimable_degree` for the quantity
    with the most of ``kick_counts`` kicks (``<f>_0``, no kicks: as one)."""
    c = most_kicks(kick_counts)
    return max(least_degree(model, c), estimable_degree(model, max(c, 1)))


def coincident_kicks(lags: np.ndarray) -> int:
    """The most kicks at one time in any row of ``lags`` ``(J, N)``: the longest run of equal
    lags (1 when all differ)."""
    lags = np.asarray(lags, dtype=float)
    if lags.size == 0 or lags.ndim < 2 or lags.shape[-1] < 2:
        return 1
    lags = np.sort(lags.reshape(-1, lags.shape[-1]), axis=1)
    same = np.diff(lags, axis=1) <= 1e-12 * (1.0 + np.abs(lags[:, 1:]))
    run = best = np.ones(lags.shape[0], dtype=int)      # the run ending at each column
    for col in same.T:                                  # N - 1 vector steps over the rows
        run = np.where(col, run + 1, 1)
        best = np.maximum(best, run)
    return int(best.max())


def kernel_informative_from(model: SRNN, key, lags: np.ndarray) -> int:
    """:func:`informative_from` for a kernel at ``lags``, and at least the most kicks at one
    time (:func:`coincident_kicks`) with the input beside the activation: ``r`` kicks with no
    propagation between them are ``r`` derivatives ``C_k·∇`` in a row, which annihilate every
    polynomial of degree below ``r`` — the value *and* the lower degrees it is compared with
    are exactly 0 there (``tanh3``'s K₇ at seven equal lags came out −2.7e-15 ± 3.9e-14 at
    degree 6; its value is about 0.017). A linear network with constant noise is exact."""
    base = informative_from(model, len(key))
    if model.input == "activation" or (model.is_linear and not model.state_dependent_noise):
        return base
    return max(base, coincident_kicks(lags))


def kernels_need(model: SRNN, reqs, above: bool = False) -> int:
    """The least degree with an error estimate for every requested kernel: :func:`needed_degree`
    and two informative lower degrees below it (:func:`kernel_informative_from` ``+ 2``);
    checked from above (``above``) the least degree that resolves them
    (:func:`least_degree`, :func:`kernel_informative_from`), compared with the three above."""
    if above:
        return max([least_degree(model, most_kicks(len(k) for k in reqs))]
                   + [kernel_informative_from(model, k, v) for k, v in reqs.items()])
    need = needed_degree(model, (len(k) for k in reqs))
    if model.is_linear and not model.state_dependent_noise:
        return need
    return max([need] + [kernel_informative_from(model, k, v) + 2 for k, v in reqs.items()])


def lower_allowed(model: SRNN, degree: int, floor: int = 0) -> bool:
    """Whether ``degree - 1`` still gives K₁ an error estimate (:func:`estimable_degree`) and
    is at least ``floor``, the least degree the request allows (:func:`needed_degree` of its
    quantities): a K₂ refused at degree 4 for its cost was told to lower the degree, and
    degree 3 is refused for K₂."""
    return degree - 1 >= max(estimable_degree(model, 1), floor)


def degree_hint(model: SRNN, degree: int, floor: int = 0, sampled: bool = True) -> str:
    """How to lower the memory of ``degree`` (each option by its Python and its
    command-line name): the degree only where :func:`lower_allowed`, the samples only on a
    ``sampled`` measure (the Gaussian reference and the tensor rules have none), else Monte
    Carlo."""
    ways = (["lower degree (--degree)"] if lower_allowed(model, degree, floor) else []) \
        + (["lower paths (--paths)"] if sampled else [])
    return " or ".join(ways) or "use method='montecarlo' (--method montecarlo)"


#: on the Gaussian reference (``gaussian``, :mod:`.ridge`) a quantity with ``N`` kicks has an
#: error estimate from degree ``N +`` this on (:func:`reference_degree`): six and eight
#: independent tanh units (gains 0.51–0.72, against the 1-D spectral route,
#: benchmarks/check_galerkin_independent_units.py) left ``T_6`` at degree 4 3.4× and 7.8×,
#: ``T_6`` at degree 5 1.6× and 2.4×, ``T_5`` at degree 5 1.1× above the estimate; every
#: ``T_N`` and K_N with ``d ≥ N + 1`` (degrees 3–6 and the defaults) was within 0.88 of it
REFERENCE_KICK_MARGIN = 1


def reference_degree(kicks: int) -> int:
    """The least degree with an error estimate for a quantity with ``kicks`` kicks on the
    Gaussian reference: ``kicks +`` :data:`REFERENCE_KICK_MARGIN`."""
    return kicks + REFERENCE_KICK_MARGIN


def check_resolved(model: SRNN, degree: int, kick_counts, what: str, unit: str,
                   reference: bool = False, above: bool = False) -> None:
    """Refuse a degree below :func:`least_degree` (parity) or :func:`estimable_degree`, and
    on the Gaussian reference (``reference``) below :func:`reference_degree` — only an
    explicit ``degree`` gets here: the ladders start at or above them. Checked from above
    (``above``) only parity: the other two are about the lower degrees of the check from
    below, and from above a quantity's first resolved degree is compared with the three
    above it (K₂ and ``T_2`` at degree 2, K₃ at 3; measured in
    benchmarks/check_galerkin_above_first_degrees.py)."""
    c = most_kicks(kick_counts)
    parity = least_degree(model, c)
    if degree < parity:
        raise InvalidInputError(
            f"degree={degree}: the drift of this network is odd about its centre, so a "
            f"{what} {parity}{' ' + unit if unit else ''} is identically 0 in a basis below "
            f"degree {parity} whatever its value (parity); use degree >= {parity}",
            param="degree")
    if above:
        return
    need = estimable_degree(model, max(c, 1))
    if degree < need:
        raise InvalidInputError(
            f"degree={degree}: a {what} {max(c, 1)}{' ' + unit if unit else ''} has an "
            f"error estimate from degree {need} on (its truncation part compares two lower "
            f"degrees from {need - 2}; with one, the change under-estimated the error up to "
            f"3.8x on 8-unit tanh networks); use degree >= {need} (or method='montecarlo', "
            f"--method montecarlo)",
            param="degree")
    need = reference_degree(c)
    if reference and degree < need:
        raise InvalidInputError(
            f"degree={degree}: on the Gaussian reference a {what} {c} has an error "
            f"estimate from degree {need} on (below it the change against lower degrees "
            f"under-estimated the error up to 7.8x, independent tanh units); use degree >= "
            f"{need}, or measure='samples' (--measure samples)", param="degree")
