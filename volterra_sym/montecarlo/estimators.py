"""Monte Carlo estimators of responses and response kernels (docs/theory.md §4, §7).

Every estimate carries its standard error (over independent paths) and, unless
``estimate_bias=False``, a measured time-step bias: the same Brownian paths are integrated
with ``dt`` and ``dt/2`` and, for a weak first-order scheme,

    bias ≈ 2 [ v(dt) - v(dt/2) ]      (so ``value - bias`` is the Richardson extrapolation).

``bias_stderr`` is the standard error of that paired difference. An honest comparison with
an exact value ``x`` is ``|value - x| ≤ 4·stderr + |bias| + 4·bias_stderr + rel·max|bias|``
(the last term, the maximum over the times or lags, bounds the O(dt²) error of the bias
estimate itself; ``rel = max(0.05, rate·dt)``, unknown beyond ``rate·dt = 0.5``): the
estimate's ``error`` (:mod:`.error_bounds`).

Kernels (lags ``σ_j = t - s_j``, ``σ_1`` the most recent kick, channels ``k_j``)::

    K_{k_1…k_N}(σ_1..σ_N) = < p0, L_{k_N} P_{σ_N-σ_{N-1}} ⋯ L_{k_1} P_{σ_1} f >

Estimators along stationary unperturbed trajectories, with origins ``o`` (``h_o ~ p0``,
``n_origins`` origins ``origin_stride`` apart on every path) and ``t = o + span``:

* first order, ``"fdt"`` (fluctuation–dissipation):
  ``K_k(σ) = E_0[ v_k(h_o) (f(h_{o+σ}) - c) ]``, ``v_k = -C_k·∇log p0``.
* first order, ``"girsanov"`` (needs ``C = σB``): a rectangular kick of unit area on the
  window ``[t-σ-δ, t-σ]`` changes the law of the path by the Girsanov weight
  ``exp(a B_k·ΔB_W/δ - a²|B_k|²/(2δ))``; its derivative in ``a`` at 0 gives
  ``K̄_k(σ) = E_0[ (f(h_t) - c) B_k·ΔB_W ] / δ`` with ``K̄_k(σ) = δ⁻¹∫_σ^{σ+δ} K_k``.
* second order, ``"fdt"`` (mixed FDT–Girsanov, needs ``v`` and ``C = σB``): for
  ``σ_2 - σ_1 ≥ δ`` the first kick (channel ``k_2``, lag ``σ_2``) is moved onto ``p0`` by
  the FDT and the second (channel ``k_1``) is a Girsanov window::

      K̄_{k1k2}(σ1,σ2) = E_0[ v_{k2}(h_o) · B_{k1}·ΔB_W / δ · (f(h_{o+σ2}) - c) ],
      W = [o+σ2-σ1-δ, o+σ2-σ1]   (kick window of lag [σ1, σ1+δ]),

  averaging ``K_{k1k2}(s, σ2)`` over ``s ∈ [σ1, σ1+δ]``. On the diagonal ``σ1 = σ2 = σ``
  both kicks act at once: ``K_{k1k2}(σ,σ) = <p0, L_{k2}L_{k1}P_σ f> = E_0[w_{k1k2}(h_o)
  (f(h_{o+σ}) - c)]`` with the second conjugate variable
  ``w_{k1k2} = v_{k1}v_{k2} - C_{k1}·∇v_{k2}`` (exact, no window).
* second order, ``"girsanov"`` (needs only ``C = σB``): the ε²-term of the Girsanov weight
  is the second Hermite (Wick) product of the window integrals ``X_j = B_{kj}·ΔB_{Wj}``::

      K̄_{k1k2}(σ1,σ2) = E_0[ (f(h_t) - c) (X_1 X_2 - δ B_{k1}·B_{k2} [W1 = W2]) ] / δ²

  for identical or disjoint windows (``σ1 = σ2`` or ``|σ2 - σ1| ≥ δ``); it averages the
  symmetrised kernel over the window square. Derivation: kicks of areas ``a_j`` give
  ``E^a f(h_t) = E_0[f(h_t) exp(Σ_j a_j X_j/δ - |Σ_j a_j B_{kj} 1_{Wj}|²-term/2)]`` and,
  by docs/theory.md §4, ``∂²/∂a_1∂a_2 |_0 = δ⁻²∫_{W1}∫_{W2} K_sym``; differentiating the weight
  gives the Hermite product above. The mixed FDT–Girsanov form follows from the same
  derivative for the recent kick and ``<p0, L_{k2} G> = E_0[v_{k2} G]`` for the earlier one
  (Markov property at the origin: ``G = P_{σ2-σ1} L_{k1} P_{σ1} f``).

``c`` is a constant (the mean of ``f`` over the initial states of the first seed block);
subtracting it does not change the expectation (``E v = E w = E ΔB = 0``) but removes the
large ``<f>·noise`` part of the variance. Time discretisation: the Euler scheme adds the
kick of step ``i`` at ``t_{i+1}``; the exponential scheme integrates it exactly over the step.

Distribution and reproducibility (docs/theory.md §12): every estimator accepts ``client=`` (a
``dask.distributed.Client``); chunks return per-seed-block statistics (count, mean, sum
of squared deviations — two-pass within the block) which are merged in block order with
Chan's formula, so the numbers are bitwise identical in-process, on one worker and on many.

Control variates (``control_variate=True``, first-order kernels and responses; see
:mod:`.control`): the linearised network runs alongside with the same noise and
``value = exact linear value + mean(X - Y)``; ``variance_reduction = Var X / Var(X - Y)``
and ``details`` say what was done (or why it could not help: linear observables of CRN
responses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..arrays import check_flag, check_int, real_array, real_number
from ..budget import check_count, check_memory
from ..density.conjugate import check_conjugate
from ..errors import InvalidInputError, NotApplicableError, UnsupportedOrderError
from ..model import SRNN, check_model
from ..model.noise import FEATURE_STATE_NOISE
from ..results import freeze, short_numbers
from .control import (
    check_linearisation,
    is_affine,
    linear_kernel_exact,
    linear_response_exact,
    linearised_model,
    observable_expr,
    sync_steps,
)
from .distributed import check_client, map_chunks
from .error_bounds import (
    RICHARDSON_REL,
    input_rate,
    richardson_rel,
    rounding_floor,
    time_step_error,
)
from .integrators import model_arrays
from .sampling import conjugate_variables, second_conjugate_variables, stationary_sampler
from .simulate import (
    MAX_STEPS,
    SEED_BLOCK,
    TIME_BLOCK,
    Companion,
    Hook,
    PathJob,
    _auto_progress,
    _check_n_paths,
    _resolve_initial,
    _seed_root,
    check_amplitude,
    compile_observable,
    require_input,
    time_indices,
)

__all__ = ["ResponseEstimate", "KernelEstimate", "FrozenResult", "Moments", "response",
           "first_order_kernel", "second_order_kernel", "girsanov_matrix"]


# ---------------------------------------------------------------------- statistics
BlockStats = tuple[int, np.ndarray, np.ndarray]


class Moments:
    """Mean and sum of squared deviations over paths, merged block by block.

    A block's statistics are ``(n_b, mean_b, M2_b)`` with ``M2_b = Σ (x - mean_b)²``
    (two passes over the block); blocks are merged with Chan et al.'s formula
    ``mean ← mean + δ n_b/n``, ``M2 ← M2 + M2_b + δ² n n_b / (n + n_b)``, ``δ = mean_b - mean``.
    Merging the same blocks in the same order is the same sequence of floating-point
    operations, so the result does not depend on where the blocks were computed. The paths
    lie on ``axis`` of every added array.
    """

    def __init__(self, axis: int = 0):
        self.n, self.mean, self.m2 = 0, None, None
        self.axis = axis

    @staticmethod
    def block(x: np.ndarray, axis: int = 0) -> BlockStats:
        """``(n_b, mean_b, M2_b)`` of one block of paths on ``axis``."""
        nb = x.shape[axis]
        mb = x.mean(axis=axis)
        m2b = ((x - np.expand_dims(mb, axis)) ** 2).sum(axis=axis)
        return nb, mb, m2b

    @staticmethod
    def block_stats(x: np.ndarray) -> list[BlockStats]:
        """Statistics of every seed block of ``x`` (paths on axis 0; chunk offsets are
        multiples of ``SEED_BLOCK``), computed where the chunk ran."""
        return [Moments.block(x[a:a + SEED_BLOCK]) for a in range(0, x.shape[0], SEED_BLOCK)]

    def merge(self, nb: int, mb: np.ndarray, m2b: np.ndarray) -> None:
        """Merge one block's statistics."""
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta ** 2 * (self.n * nb / n)
        self.n = n

    def merge_all(self, stats: list[BlockStats]) -> None:
        for st in stats:
            self.merge(*st)

    def add(self, x: np.ndarray) -> None:
        """Add a block of paths (on ``self.axis``)."""
        self.merge(*Moments.block(x, self.axis))

    def add_blocks(self, x: np.ndarray) -> None:
        """Add per seed block (paths on axis 0)."""
        self.merge_all(Moments.block_stats(x))

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(self.m2 / (self.n - 1) / self.n)

    @property
    def variance(self) -> np.ndarray:
        return self.m2 / (self.n - 1)


def merge_chunk_stats(moments: dict[str, Moments]) -> Callable[[int, dict], None]:
    """``on_chunk`` that merges a chunk's ``{name: [block stats]}`` in chunk order."""
    def on_chunk(i: int, result: dict) -> None:
        for name, stats in result.items():
            moments.setdefault(name, Moments()).merge_all(stats)
    return on_chunk


class FrozenResult:
    """Base of the frozen Monte Carlo results (``@dataclass(frozen=True)`` subclasses):
    ``__post_init__`` makes every array field a read-only copy and ``details`` a read-only
    mapping (:func:`volterra_sym.results.freeze`), so an estimate cannot be changed in
    place; :func:`dataclasses.replace` gives a modified copy."""

    def __post_init__(self):
        for f in fields(self):          # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, (np.ndarray, dict)):
                object.__setattr__(self, f.name, freeze(value))

    def __reduce__(self) -> tuple:
        # pickle, copy and deepcopy rebuild through __init__, which freezes again (pickle
        # restores arrays writable and would skip __post_init__)
        return type(self), tuple(getattr(self, f.name) for f in fields(self))

    def __repr__(self) -> str:
        # arrays summarised with significant digits (beyond 6 numbers: numpy's ellipsis),
        # details by their keys: the dataclass repr printed every array in full
        def show(v) -> str:
            if isinstance(v, np.ndarray):
                text = (short_numbers(v, ".6g") if v.dtype.kind in "fc"
                        else np.array2string(v, threshold=6, separator=" "))
                return " ".join(text.split())      # one line
            if isinstance(v, Mapping):
                return "{" + ", ".join(map(str, v)) + "}"
            return repr(v)
        parts = ", ".join(f"{f.name}={show(getattr(self, f.name))}" for f in fields(self))
        return f"{type(self).__name__}({parts})"


def _estimate_html(title: str, facts: str, coord: str, coords: np.ndarray, value: np.ndarray,
                   stderr: np.ndarray, bias: np.ndarray | None, error: np.ndarray | None,
                   rows: int = 20) -> str:
    """An HTML table (Jupyter) of a Monte Carlo estimate: one row per time or lag (at most
    ``rows``, spread evenly), every channel entry with its error bound (``error``; "unknown"
    where ``None``), its standard error and, where measured, its time-step bias."""
    n = value.shape[0] if value.ndim else 1
    picks = np.arange(n) if n <= rows else np.unique(np.linspace(0, n - 1, rows).round()
                                                     .astype(int))
    flat = lambda a, j: np.ravel(np.asarray(a)[j]) if np.ndim(a) else np.ravel(a)  # noqa: E731
    nan = np.full(np.shape(value), np.nan)
    body = []
    for j in picks:
        c = ", ".join(f"{x:g}" for x in np.ravel(coords[j]))
        cells = [f"{v:.6g} ± {'unknown' if error is None else format(r, '.2g')} "
                 f"(se {e:.2g}" + ("" if bias is None else f", bias {b:.2g}") + ")"
                 for v, r, e, b in zip(flat(value, j), flat(nan if error is None else error, j),
                                       flat(stderr, j), flat(nan if bias is None else bias, j),
                                       strict=True)]
        body.append(f"<tr><td>{c}</td><td>{'; '.join(cells)}</td></tr>")
    more = (f"<tr><td colspan=2>{picks.size} of {n} rows, evenly spread</td></tr>"
            if picks.size < n else "")
    return (f"<b>{title}</b> ({facts})<table><tr><th>{coord}</th><th>value ± error (standard "
            f"error, time-step bias)</th></tr>{''.join(body)}{more}</table>")


def _as_array(values: np.ndarray, dtype=None, copy=None) -> np.ndarray:
    """``np.asarray(result)``: its values (a copy with ``copy=True``)."""
    out = values if dtype is None else values.astype(dtype, copy=False)
    return np.array(out, copy=True) if copy else out


class BiasedEstimate:
    """The typed-result view (``values``, ``error``, ``method``, ``details``) of an estimate
    at ``dt`` with a measured time-step bias (fields ``value``, ``stderr``, ``bias``,
    ``bias_stderr``); ``np.asarray(estimate)`` is ``values``."""

    def __array__(self, dtype=None, copy=None):
        return _as_array(self.values, dtype, copy)

    @property
    def values(self) -> np.ndarray:
        """The estimate at ``dt`` (the field ``value``)."""
        return self.value

    @property
    def error(self) -> np.ndarray | None:
        """``ERROR_Z·se + |bias| + ERROR_Z·se_bias + rel·max|bias|`` (the maximum over the
        times or lags; ``rel`` the field ``richardson_rel``,
        :func:`.error_bounds.richardson_rel`;
        :func:`time_step_error`): a bound on the distance of ``values`` from the
        continuous-time quantity (for windowed Girsanov entries: from the window average);
        ``None`` (unknown) where the time-step bias was not measured
        (``estimate_bias=False``) or ``dt`` is too coarse for the bound
        (``richardson_rel`` is ``None``)."""
        if self.bias is None or self.bias_stderr is None:
            return None
        err = time_step_error(self.stderr, self.bias, self.bias_stderr,
                              rel=self.richardson_rel)
        return None if err is None else freeze(err + rounding_floor(self.value))


@dataclass(frozen=True, repr=False)
class ResponseEstimate(BiasedEstimate, FrozenResult):
    """``value[j] ≈ E f(h^ε_{t_j}) - E f(h^0_{t_j})`` (``stderr`` its standard error).

    ``baseline`` is ``E f(h^0_t)``; ``bias`` the measured time-step bias of ``value``
    (``None`` if not estimated); ``crn`` says whether common random numbers were used.
    With a control variate ``value = linear exact + mean(X - Y)`` and
    ``variance_reduction = Var X / Var(X - Y)`` per time (``None`` without one);
    ``details`` records what was done (``details["control_variate"]``). Frozen
    (:class:`FrozenResult`).
    """

    times: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    dt: float
    n_paths: int
    eps: float
    crn: bool
    scheme: str
    baseline: np.ndarray
    baseline_stderr: np.ndarray
    bias: np.ndarray | None = None
    bias_stderr: np.ndarray | None = None
    seed: int | None = None
    variance_reduction: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)
    richardson_rel: float | None = RICHARDSON_REL

    @property
    def method(self) -> str:
        """``"crn"`` (common random numbers) or ``"independent"`` (separate noise)."""
        return "crn" if self.crn else "independent"

    def _repr_html_(self) -> str:
        return _estimate_html(
            "ResponseEstimate", f"ε = {self.eps:g}, {self.n_paths:,} paths, dt {self.dt:g}, "
            f"{self.scheme}{', CRN' if self.crn else ''}, seed {self.seed}", "t",
            self.times, self.value, self.stderr, self.bias, self.error)


@dataclass(frozen=True, repr=False)
class KernelEstimate(BiasedEstimate, FrozenResult):
    """Estimated kernel values (frozen: :class:`FrozenResult`).

    First order: ``lags (J,)``, ``value[j, k] ≈ K_k(σ_j)``. Second order: ``lags (J, 2)``,
    ``value[j, k1, k2] ≈ K_{k1k2}(σ_{j,1}, σ_{j,2})`` (symmetric extension for unsorted
    lags). ``window`` is ``δ`` for windowed (Girsanov) entries, ``None`` for point (FDT)
    estimates; ``windowed[j]`` says which entries are window averages.
    ``variance_reduction``: ``Var X / Var(X - Y)`` with a control variate, else ``None``.
    """

    order: int
    lags: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    dt: float
    n_paths: int
    n_origins: int
    method: str
    scheme: str
    window: float | None
    windowed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    bias: np.ndarray | None = None
    bias_stderr: np.ndarray | None = None
    seed: int | None = None
    variance_reduction: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)
    richardson_rel: float | None = RICHARDSON_REL

    def _repr_html_(self) -> str:
        return _estimate_html(
            f"KernelEstimate (order {self.order}, {self.method})", f"{self.n_paths:,} paths, "
            f"dt {self.dt:g}, {self.scheme}, seed {self.seed}", "lag" + "s" * (self.order > 1),
            self.lags, self.value, self.stderr, self.bias, self.error)


def girsanov_matrix(model: SRNN, tol: float = 1e-9) -> np.ndarray:
    """``B`` with ``C = σ B`` (least squares); refuses ``C`` outside the range of ``σ``
    (:class:`~volterra_sym.errors.NotApplicableError`: the Girsanov route does not apply).
    ``tol`` (relative, of ``max|C|``) must be a finite number ≥ 0."""
    p = model_arrays(model)
    if real_number(tol, "tol", what="a finite number ≥ 0") < 0:
        raise InvalidInputError(f"tol must be ≥ 0, got {tol!r}", param="tol")
    B, *_ = np.linalg.lstsq(p["sigma"], p["C"], rcond=None)
    resid = float(np.max(np.abs(p["sigma"] @ B - p["C"]))) if B.size else 0.0
    if resid > tol * (1.0 + float(np.max(np.abs(p["C"])))):
        raise NotApplicableError(
            f"C is not in the range of sigma (C = σB has no solution, residual {resid:.3g}): "
            "the Girsanov estimators need the input to enter through the noise; use "
            "method='fdt' (first order) or CRN responses")
    return B


# ---------------------------------------------------------------------- control variates
@dataclass
class _CV:
    """The linearised companion of a control-variate run."""

    companion: Companion
    lin: SRNN
    f_expr: Any
    alpha: np.ndarray
    beta: np.ndarray
    kind: str
    sync: int            # synchronisation steps of dt before the estimator's origin

    def details(self, dt: float) -> dict[str, Any]:
        return {"control_variate": "linearised network (exact linear value + mean of the "
                                   "nonlinear − linear difference)",
                "linearization": self.kind, "slopes": self.beta.tolist(),
                "intercepts": self.alpha.tolist(), "sync_time": self.sync * dt,
                "sync_steps": self.sync}


def _resolve_sampler(model: SRNN, initial):
    """Build the stationary sampler once (``None``/strings); other values unchanged."""
    if initial is None or isinstance(initial, str):
        return _resolve_initial(model, initial, 2)[0]
    return initial


def _first_block_states(model: SRNN, initial, seed, n_paths: int, dt: float,
                        scheme: str) -> np.ndarray:
    """The initial states of seed block 0 (exactly those of the run)."""
    job = PathJob(model, n_paths=n_paths, dt=dt, n_steps=0, scheme=scheme,
                  initial=initial, seed=seed)
    size = min(SEED_BLOCK, n_paths)
    return job.initial_states([0], [size])


def _make_cv(model: SRNN, observable, dt: float, scheme: str, *, initial, seed,
             n_paths: int, linearize_at, sync, linearization: str) -> _CV:
    f_expr = observable_expr(model, observable)
    if model.is_linear:
        raise NotApplicableError("the model is linear: its kernels and responses are exact "
                                 "(method='exact'); a control variate has nothing to remove")
    states = (_first_block_states(model, initial, seed, n_paths, dt, scheme)
              if linearize_at is None else linearize_at)
    lin, alpha, beta = linearised_model(model, states, linearization)
    if sync is None:
        k = sync_steps(lin, dt)
    else:
        k = int(time_indices([sync], dt, "sync")[0])
    companion = Companion(lin, stationary_sampler(lin))
    return _CV(companion, lin, f_expr, alpha, beta, linearization, k)


def _check_cv_options(model: SRNN, dt: float, linearization, linearize_at, sync) -> None:
    """The control variate's options, checked where none is run (an affine observable):
    a misspelt ``linearization`` or a negative ``sync`` ran silently."""
    check_linearisation(model, linearize_at, linearization)
    if sync is not None:
        time_indices([sync], dt, "sync")


COEFFICIENTS = ("unit", "optimal")


def _check_coefficient(coefficient: str) -> None:
    if coefficient not in COEFFICIENTS:
        raise InvalidInputError(f"control_coefficient must be one of {COEFFICIENTS}, got "
                                f"{coefficient!r}", param="control_coefficient")


def _combine_cv(mom: dict[str, Moments], exact: np.ndarray, n_levels: int,
                coefficient: str):
    """Control-variate estimate from the statistics of ``X`` (plain), ``Y`` (linear copy)
    and ``D = X - Y`` over the same paths.

    ``"unit"``: ``value = E_exact Y + mean D``, variance ``Var D / N`` (unbiased).
    ``"optimal"``: ``value = mean X - β (mean Y - E_exact Y)`` with the regression
    coefficient ``β = Cov(X, Y) / Var Y`` estimated from the same paths
    (``Cov = (Var X + Var Y - Var D) / 2``), variance ``(Var X - Cov²/Var Y) / N``
    (bias O(1/N), below the standard error). Returns
    ``(value, stderr, bias, bias_stderr, variance_reduction, details)``.
    """
    X, Y, D = mom["plain"], mom["linear"], mom["value"]
    N = X.n
    vx, vy, vd = X.variance, Y.variance, D.variance
    cov = 0.5 * (vx + vy - vd)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(vy > 0, cov / np.where(vy > 0, vy, 1.0), 0.0)
        rho = np.where((vx > 0) & (vy > 0), cov / np.sqrt(vx * np.where(vy > 0, vy, 1.0)), 0.0)
    details: dict[str, Any] = {"linear_exact": exact, "linear_mean": Y.mean,
                               "plain_value": X.mean, "plain_stderr": X.stderr,
                               "correlation": rho, "control_coefficient": coefficient}
    b = bse = None
    if coefficient == "unit":
        value, var = exact + D.mean, vd
        if n_levels == 2:
            b, bse = mom["bias"].mean, mom["bias"].stderr
        details["coefficient"] = np.ones_like(beta)
    else:
        value = X.mean - beta * (Y.mean - exact)
        var = np.maximum(vx - beta * cov, 0.0)
        if n_levels == 2:
            bx, by, bd = mom["bias_plain"], mom["bias_linear"], mom["bias"]
            bcov = 0.5 * (bx.variance + by.variance - bd.variance)
            b = bx.mean - beta * by.mean
            bvar = np.maximum(bx.variance + beta ** 2 * by.variance - 2 * beta * bcov, 0.0)
            bse = np.sqrt(bvar / N)
        details["coefficient"] = beta
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0/0 (t = 0: nothing to reduce) is undefined, not an infinite reduction
        vr = np.where(var > 0, vx / np.where(var > 0, var, 1.0),
                      np.where(vx > 0, np.inf, np.nan))
        details["variance_reduction_unit"] = vx / vd
        details["variance_reduction_optimal"] = 1.0 / np.maximum(1.0 - rho ** 2, 1e-300)
    return value, np.sqrt(var / N), b, bse, vr, details


# ---------------------------------------------------------------------- response
class _ResponseHook(Hook):
    """Records ``f`` at the observation indices for every variant and level and returns
    the per-block statistics of the CRN difference (and of the control-variate
    difference) per chunk."""

    def __init__(self, f, idx: np.ndarray, n_levels: int, crn: bool, cv: bool):
        self.f, self.idx, self.n_levels, self.crn, self.cv = f, idx, n_levels, crn, cv
        self.where: dict[int, list[int]] = {}
        for j, i in enumerate(idx):
            self.where.setdefault(int(i), []).append(j)

    def interest(self, level, n_steps):
        mask = np.zeros(n_steps + 1, dtype=bool)
        mask[self.idx * (2 if level == 1 else 1)] = True
        return mask

    def start_chunk(self, offset, size):
        self.vals = [None] * self.n_levels

    def on_state(self, level, i, h):
        i0 = i // 2 if level == 1 else i
        fv = self.f(h)                              # (V, P)
        if self.vals[level] is None:
            self.vals[level] = np.empty((len(self.idx),) + fv.shape)
        for j in self.where[i0]:
            self.vals[level][j] = fv

    def end_chunk(self):
        st = Moments.block_stats
        out: dict[str, list] = {}
        v0 = self.vals[0]
        if not self.crn:
            out["value"] = st(v0[:, 0].T)
            if self.n_levels == 2:
                out["bias"] = st(2.0 * (v0[:, 0] - self.vals[1][:, 0]).T)
            return out
        x0 = v0[:, 0] - v0[:, 1]                     # (T, P)
        d0 = x0 - (v0[:, 2] - v0[:, 3]) if self.cv else x0
        out["value"] = st(d0.T)
        out["base"] = st(v0[:, 1].T)
        if self.cv:
            out["plain"] = st(x0.T)
            out["linear"] = st((v0[:, 2] - v0[:, 3]).T)
        if self.n_levels == 2:
            v1 = self.vals[1]
            x1 = v1[:, 0] - v1[:, 1]
            d1 = x1 - (v1[:, 2] - v1[:, 3]) if self.cv else x1
            out["bias"] = st(2.0 * (d0 - d1).T)
            if self.cv:
                out["bias_plain"] = st(2.0 * (x0 - x1).T)
                out["bias_linear"] = st(2.0 * ((x0 - d0) - (x1 - d1)).T)
        return out


def response(model: SRNN, u: Callable, eps: float, times, *, observable=None,
             n_paths: int, dt: float, scheme: str = "exponential", crn: bool = True,
             estimate_bias: bool = True, initial=None, seed=None,
             chunk_size: int | None = None, progress: bool | None = None,
             max_norm: float = 1e8, client=None, control_variate: bool = False,
             linearization: str = "statistical", linearize_at=None,
             sync: float | None = None, control_coefficient: str = "unit"
             ) -> ResponseEstimate:
    """``E f(h^ε_t) - E f(h^0_t)`` at ``times`` for the input ``ε C u(t)`` on ``[0, t]``.

    ``crn=True``: perturbed and unperturbed paths share initial states and Brownian
    increments and the estimator is the path average of ``f(h^ε_t) - f(h^0_t)``; its
    variance is O(ε²). ``crn=False``: two independent ensembles of ``n_paths`` each
    (variance O(1): for comparison). ``client``: a ``dask.distributed.Client``.

    ``control_variate=True`` (with ``crn``): the linearised network (:mod:`.control`)
    runs alongside with the same noise after a common synchronisation time ``sync``
    (default from its relaxation), and ``value = linear exact + mean(X - Y)``. For an
    affine observable the linear copy's CRN difference is deterministic: no linear copy is
    run and ``details["control_variate"]`` says so (``variance_reduction`` is ``None``).
    """
    eps = check_amplitude(eps)
    crn = check_flag(crn, "crn")
    estimate_bias = check_flag(estimate_bias, "estimate_bias")
    control_variate = check_flag(control_variate, "control_variate")
    n_paths = _check_n_paths(n_paths)
    idx = time_indices(times, dt)
    f = compile_observable(model, observable)
    require_input(u, model.m)
    client = check_client(client)
    n_levels = 2 if estimate_bias else 1
    root = _seed_root(seed)
    T = len(idx)
    details: dict[str, Any] = {}
    cv = None
    if control_variate:
        _check_coefficient(control_coefficient)
        if not crn:
            raise InvalidInputError("control_variate=True needs crn=True (the control "
                                    "variate is a CRN difference)", param="control_variate")
        f_expr = observable_expr(model, observable)
        if is_affine(model, f_expr):
            _check_cv_options(model, dt, linearization, linearize_at, sync)
            details["control_variate"] = (
                "not used: for an affine observable the linearised network's CRN difference "
                "ε wᵀ∫e^{-A_L(t-s)}Cu(s)ds is deterministic (no noise, no initial-state "
                "dependence), so it cannot reduce the variance")
        else:
            initial = _resolve_sampler(model, initial)
            cv = _make_cv(model, observable, dt, scheme, initial=initial, seed=root,
                          n_paths=n_paths, linearize_at=linearize_at, sync=sync,
                          linearization=linearization)
            details.update(cv.details(float(dt)))
    shift = cv.sync if cv is not None else 0
    kw = dict(n_paths=n_paths, dt=dt, n_steps=int(idx.max()) + shift, scheme=scheme, u=u,
              initial=initial, coupled=estimate_bias, chunk_size=chunk_size,
              max_norm=max_norm)
    mom: dict[str, Moments] = {}

    def run(hook, eps_v, seed_v, moments, companion=None):
        job = PathJob(model, hook=hook, eps=eps_v, seed=seed_v, companion=companion,
                      input_delay=shift, **kw)
        map_chunks(job, job.n_chunks, client=client, on_result=merge_chunk_stats(moments),
                   progress=_auto_progress(progress, n_paths * max(job.n_fine, 1)),
                   desc=f"response dt={dt:g}")

    b = bse = vr = None
    if crn:
        hook = _ResponseHook(f, idx + shift, n_levels, True, cv is not None)
        run(hook, (eps, 0.0), root, mom, None if cv is None else cv.companion)
        value, stderr = mom["value"].mean, mom["value"].stderr
        if n_levels == 2:
            b, bse = mom["bias"].mean, mom["bias"].stderr
        base_m, base_se = mom["base"].mean, mom["base"].stderr
        if cv is not None:
            lin_exact = linear_response_exact(cv.lin, cv.f_expr, u, eps, idx * float(dt))
            value, stderr, b, bse, vr, extra = _combine_cv(mom, lin_exact, n_levels,
                                                           control_coefficient)
            details.update(extra)
    else:
        streams = root.spawn(2)
        runs = [{}, {}]
        for r, (e, ss) in enumerate(zip((eps, 0.0), streams, strict=True)):
            run(_ResponseHook(f, idx, n_levels, False, False), (e,), ss, runs[r])
        value = runs[0]["value"].mean - runs[1]["value"].mean
        stderr = np.hypot(runs[0]["value"].stderr, runs[1]["value"].stderr)
        base_m, base_se = runs[1]["value"].mean, runs[1]["value"].stderr
        if n_levels == 2:
            b = runs[0]["bias"].mean - runs[1]["bias"].mean
            bse = np.hypot(runs[0]["bias"].stderr, runs[1]["bias"].stderr)
    return ResponseEstimate(times=idx * float(dt), value=np.reshape(value, T),
                            stderr=np.reshape(stderr, T), dt=float(dt), n_paths=n_paths,
                            eps=eps, crn=crn, scheme=scheme, baseline=np.reshape(base_m, T),
                            baseline_stderr=np.reshape(base_se, T), bias=b, bias_stderr=bse,
                            seed=root.entropy, variance_reduction=vr, details=details,
                            richardson_rel=richardson_rel(
                                model, dt, input_rate(u, model.m, float(dt), int(idx.max()))))


# ---------------------------------------------------------------------- kernels
@dataclass
class _Term:
    kind: str        # fdt1 | gir1 | mix2 | diag2 | gir2
    j: int           # output row
    l1: int          # lag (steps) of the most recent kick
    l2: int          # lag (steps) of the earlier kick (second order; = l1 otherwise)
    span: int        # t - o in steps


class _KernelHook(Hook):
    """Accumulates the per-path averages of every term over the origins (see module doc)
    and returns their per-block statistics per chunk. With a control variate the states
    carry two variants (nonlinear, linearised) and the linear copy's terms are
    accumulated alike (its own conjugate variable ``vL``)."""

    def __init__(self, terms: list[_Term], J: int, order: int, m: int, n_origins: int,
                 stride: int, w: int, delta: float, f, v, w2, BtB, n_levels: int,
                 c: float, origin0: int = 0, vL=None, cv: bool = False):
        self.terms, self.J, self.order, self.m = terms, J, order, m
        self.n_origins, self.stride, self.w, self.delta = n_origins, stride, w, delta
        self.f, self.v, self.w2, self.BtB = f, v, w2, BtB
        self.vL, self.cv = vL, cv
        self.n_levels, self.c, self.origin0 = n_levels, float(c), int(origin0)
        self.max_span = max(t.span for t in terms)
        self.need_v = any(t.kind in ("fdt1", "mix2") for t in terms)
        self.need_w2 = any(t.kind == "diag2" for t in terms)
        self.need_xi = any(t.kind in ("gir1", "mix2", "gir2") for t in terms)
        self.G = 2 if cv else 1
        # completion schedule: the terms of span s complete for origin q at the state
        # (origin0 + q·stride + s)·fac — found by arithmetic, never listed per origin (a
        # list of terms × origins entries took minutes and gigabytes for 10⁶ origins)
        self.by_span: dict[int, list[_Term]] = {}
        for t in terms:
            self.by_span.setdefault(t.span, []).append(t)
        check_count(self.n_steps, MAX_STEPS, f"{n_origins:,} origins {stride:,} steps apart "
                    f"and a largest span of {self.max_span:,} steps", "steps",
                    "lower n_origins (--origins) or origin_stride, or raise dt")
        # boolean masks of the states of interest at dt and dt/2, and the origins' indices
        check_memory(3.0 * (self.n_steps + 1) + 16.0 * n_origins,
                     f"the step masks of {n_origins:,} origins ({self.n_steps:,} steps)",
                     "lower n_origins (--origins) or origin_stride")

    @property
    def n_steps(self) -> int:
        return self.origin0 + (self.n_origins - 1) * self.stride + self.max_span

    def interest(self, level, n_steps):
        fac = 2 if level == 1 else 1
        mask = np.zeros(n_steps + 1, dtype=bool)
        starts = self.origin0 + np.arange(self.n_origins) * self.stride
        mask[starts * fac] = True
        for span in self.by_span:
            mask[(starts + span) * fac] = True
        return mask

    def _completed(self, level: int, i: int) -> list[tuple[_Term, int]]:
        """``(term, origin q)`` of the terms completed at state ``i`` of ``level``."""
        fac = 2 if level == 1 else 1
        out = []
        for span, ts in self.by_span.items():
            rel = i - (self.origin0 + span) * fac
            q, r = divmod(rel, self.stride * fac)
            if rel >= 0 and r == 0 and q < self.n_origins:
                out += [(t, q) for t in ts]
        return out

    def start_chunk(self, offset, size):
        P, m, G = size, self.m, self.G
        shape = (self.J, P, m) if self.order == 1 else (self.J, P, m, m)
        self.acc = [[np.zeros(shape) for _ in range(G)] for _ in range(self.n_levels)]
        # an origin's v (w) is read until its last term completes, max_span later: slots
        # for the origins alive at once, never more than there are origins
        self.R_o = min(self.n_origins, self.max_span // self.stride + 2)
        per_slot = (self.need_v * G * m + self.need_w2 * m * m) * self.n_levels
        check_memory(8.0 * self.R_o * P * per_slot,
                     f"the conjugate-variable ring ({self.R_o:,} origins alive at once × "
                     f"{P:,} paths × {per_slot} values)",
                     "lower the largest lag or raise origin_stride, or lower chunk_size")
        self.vring = [[np.empty((self.R_o, P, m)) if self.need_v else None for _ in range(G)]
                      for _ in range(self.n_levels)]
        self.wring = [np.empty((self.R_o, P, m, m)) if self.need_w2 else None
                      for _ in range(self.n_levels)]
        self.xring = []
        if self.need_xi:           # refused before the rings are allocated
            rows = sum((self.max_span + self.w) * (2 if lv == 1 else 1) + TIME_BLOCK + 2
                       for lv in range(self.n_levels))
            check_memory(8.0 * rows * P * m, f"the noise ring of the window integrals "
                         f"({rows:,} steps × {P:,} paths × {m} channels)",
                         "lower the window (--window) or the largest lag")
        for lv in range(self.n_levels):
            fac = 2 if lv == 1 else 1
            R = (self.max_span + self.w) * fac + TIME_BLOCK + 2
            ring = np.zeros((R, P, m)) if self.need_xi else None
            self.xring.append(ring)

    def on_xi(self, level, k0, xi):
        ring = self.xring[level]
        if ring is None:
            return
        R = ring.shape[0]
        if xi.shape[0] > R - 2:
            raise InvalidInputError("internal: noise block longer than the window ring",
                                    param="TIME_BLOCK")
        cum = np.cumsum(xi, axis=0)
        cum += ring[k0 % R]
        ring[(k0 + 1 + np.arange(xi.shape[0])) % R] = cum

    def _window(self, level: int, end: int) -> np.ndarray:
        """``B_kᵀ(B_{t_end} - B_{t_end - δ})`` for every channel, shape (P, m)."""
        ring = self.xring[level]
        R = ring.shape[0]
        w = self.w * (2 if level == 1 else 1)
        return ring[end % R] - ring[(end - w) % R]

    def on_state(self, level, i, h3):
        fac = 2 if level == 1 else 1
        stride, o0 = self.stride * fac, self.origin0 * fac
        rel = i - o0
        if rel >= 0 and rel % stride == 0 and rel // stride < self.n_origins:
            q = rel // stride
            if self.need_v:
                self.vring[level][0][q % self.R_o] = self.v(h3[0])
                if self.cv:
                    self.vring[level][1][q % self.R_o] = self.vL(h3[1])
            if self.need_w2:
                self.wring[level][q % self.R_o] = self.w2(h3[0])
        todo = self._completed(level, i)
        if not todo:
            return
        d = self.delta
        for g in range(self.G):
            fc = self.f(h3[g]) - self.c
            acc = self.acc[level][g]
            vring = self.vring[level][g]
            for t, q in todo:
                slot = q % self.R_o
                if t.kind == "fdt1":
                    acc[t.j] += vring[slot] * fc[:, None]
                elif t.kind == "gir1":
                    acc[t.j] += self._window(level, i - t.l1 * fac) * (fc / d)[:, None]
                elif t.kind == "diag2":
                    acc[t.j] += self.wring[level][slot] * fc[:, None, None]
                elif t.kind == "mix2":
                    X1 = self._window(level, i - t.l1 * fac) * (fc / d)[:, None]
                    acc[t.j] += X1[:, :, None] * vring[slot][:, None, :]
                else:  # gir2
                    X1 = self._window(level, i - t.l1 * fac)
                    X2 = self._window(level, i - t.l2 * fac)
                    prod = X1[:, :, None] * X2[:, None, :]
                    if t.l1 == t.l2:
                        prod -= d * self.BtB
                    acc[t.j] += prod * (fc / d ** 2)[:, None, None]

    def end_chunk(self):
        st = Moments.block_stats
        avg = [[a / self.n_origins for a in lv] for lv in self.acc]     # [level][group]
        x0 = avg[0][0]
        d0 = x0 - avg[0][1] if self.cv else x0
        out = {"value": st(np.moveaxis(d0, 1, 0))}
        if self.cv:
            out["plain"] = st(np.moveaxis(x0, 1, 0))
            out["linear"] = st(np.moveaxis(avg[0][1], 1, 0))
        if self.n_levels == 2:
            x1 = avg[1][0]
            d1 = x1 - avg[1][1] if self.cv else x1
            out["bias"] = st(np.moveaxis(2.0 * (d0 - d1), 1, 0))
            if self.cv:
                out["bias_plain"] = st(np.moveaxis(2.0 * (x0 - x1), 1, 0))
                out["bias_linear"] = st(np.moveaxis(2.0 * (avg[0][1] - avg[1][1]), 1, 0))
        return out


def _kernel_run(model: SRNN, terms: list[_Term], J: int, order: int, *, observable, n_paths,
                dt, scheme, n_origins, stride_steps, w, B, v, w2, estimate_bias, initial,
                seed, chunk_size, progress, max_norm, client=None, cv: _CV | None = None,
                vL=None):
    n_paths = _check_n_paths(n_paths)
    f = compile_observable(model, observable)
    client = check_client(client)
    n_levels = 2 if estimate_bias else 1
    BtB = None if B is None else B.T @ B
    root = _seed_root(seed)
    initial = _resolve_sampler(model, initial)
    c = float(np.mean(f(_first_block_states(model, initial, root, n_paths, dt, scheme))))
    hook = _KernelHook(terms, J, order, model.m, n_origins, stride_steps, w, w * dt, f, v, w2,
                       BtB, n_levels, c, origin0=0 if cv is None else cv.sync, vL=vL,
                       cv=cv is not None)
    need_xi = hook.need_xi
    job = PathJob(model, n_paths=n_paths, dt=dt, n_steps=hook.n_steps, scheme=scheme,
                  hook=hook, initial=initial, seed=root, coupled=estimate_bias,
                  B=B if need_xi else None, chunk_size=chunk_size, max_norm=max_norm,
                  companion=None if cv is None else cv.companion)
    mom: dict[str, Moments] = {}
    map_chunks(job, job.n_chunks, client=client, on_result=merge_chunk_stats(mom),
               progress=_auto_progress(progress, n_paths * max(job.n_fine, 1)),
               desc=f"kernel dt={dt:g}")
    out = (mom["value"].mean, mom["value"].stderr)
    b = (mom["bias"].mean, mom["bias"].stderr) if n_levels == 2 else (None, None)
    return out, b, root.entropy, mom


def _origins(n_origins, origin_stride, dt) -> tuple[int, int]:
    n_origins = check_int(n_origins, "n_origins", lo=1)
    if origin_stride is None:
        return int(n_origins), 1
    s = int(time_indices([origin_stride], dt, "origin_stride")[0])
    if s < 1:
        raise InvalidInputError(f"origin_stride must be ≥ dt, got {origin_stride}",
                                param="origin_stride")
    return int(n_origins), s


def _window_steps(window, dt) -> int:
    if window is None:
        return 1
    w = int(time_indices([window], dt, "window")[0])
    if w < 1:
        raise InvalidInputError(f"window must be a positive multiple of dt, got {window}",
                                param="window")
    return w


def _check_method(method) -> None:
    if method not in ("fdt", "girsanov"):
        raise InvalidInputError(f"method must be 'fdt' or 'girsanov', got {method!r}",
                                param="method")


def _require_additive_input(model: SRNN, what: str) -> None:
    """The estimators' weights (the conjugate ``v = −p0⁻¹∇·(C p0)``, the Girsanov matrix)
    are those of the additive input ``εCu``; with the input inside a nonlinear activation
    the kick is ``a'(z)C·∇`` (docs/theory.md §10) and they would estimate another kernel
    (``σ(h)`` is refused where the numeric parameters are read)."""
    check_model(model).require_features(
        (FEATURE_STATE_NOISE,), f"the {what} (its weights belong to the additive input εCu; "
        "pass conjugate= for the first-order FDT with v = −p0⁻¹∇·(a'(z)C p0), or use "
        "crn_responses for the responses)")


def first_order_kernel(model: SRNN, lags, *, observable=None, method: str = "fdt",
                       n_paths: int, dt: float, scheme: str = "exponential",
                       n_origins: int = 1, origin_stride: float | None = None,
                       window: float | None = None, conjugate: Callable | None = None,
                       estimate_bias: bool = True, initial=None, seed=None,
                       chunk_size: int | None = None, progress: bool | None = None,
                       max_norm: float = 1e8, client=None, control_variate: bool = False,
                       linearization: str = "statistical", linearize_at=None,
                       sync: float | None = None, control_coefficient: str = "unit"
                       ) -> KernelEstimate:
    """First-order kernels ``K_k(σ_j)`` for all channels ``k`` (docs/theory.md §4, §7).

    ``method="fdt"``: ``E_0[v_k(h_o)(f(h_{o+σ}) - c)]`` (point values; ``conjugate``,
    a callable ``(..., n) -> (..., m)`` returning finite values, overrides ``v``).
    ``method="girsanov"``: ``E_0[(f(h_t) - c) B_k·ΔB_W]/δ`` over the kick window
    ``[t-σ-δ, t-σ]``, ``δ = window`` (default ``dt``): the window average
    ``δ⁻¹∫_σ^{σ+δ} K_k``. Lags and window are multiples of ``dt``. ``client``: a
    ``dask.distributed.Client`` (bitwise the same numbers).

    ``control_variate=True``: the linearised network runs alongside (same noise, its own
    exact stationary start, a synchronisation time ``sync`` before the first origin) and
    ``value = K_L exact + mean(X - Y)`` with ``K_L`` the exact (window-averaged for
    Girsanov) kernel of the linearised network; ``variance_reduction = Var X / Var(X-Y)``.
    Needs a polynomial observable given as an expression.
    """
    _check_method(method)
    estimate_bias = check_flag(estimate_bias, "estimate_bias")
    control_variate = check_flag(control_variate, "control_variate")
    if not (method == "fdt" and conjugate is not None):
        _require_additive_input(model, f"first-order {method} kernel estimator")
    L = time_indices(lags, dt, "lags")
    n_origins, stride = _origins(n_origins, origin_stride, dt)
    w = _window_steps(window, dt)
    n_paths = _check_n_paths(n_paths)
    root = _seed_root(seed)
    cv = None
    if control_variate:
        _check_coefficient(control_coefficient)
        initial = _resolve_sampler(model, initial)
        cv = _make_cv(model, observable, dt, scheme, initial=initial, seed=root,
                      n_paths=n_paths, linearize_at=linearize_at, sync=sync,
                          linearization=linearization)
    vL = None
    if method == "fdt":
        v = check_conjugate(conjugate, model.m) if conjugate is not None \
            else conjugate_variables(model)
        if cv is not None:
            vL = conjugate_variables(cv.lin)
        terms = [_Term("fdt1", j, int(lj), int(lj), int(lj)) for j, lj in enumerate(L)]
        B = None
    else:
        v = None
        B = girsanov_matrix(model)
        terms = [_Term("gir1", j, int(lj), int(lj), int(lj) + w) for j, lj in enumerate(L)]
    (mean, se), (b, bse), ent, mom = _kernel_run(
        model, terms, len(L), 1, observable=observable, n_paths=n_paths, dt=dt, scheme=scheme,
        n_origins=n_origins, stride_steps=stride, w=w, B=B, v=v, w2=None,
        estimate_bias=estimate_bias, initial=initial, seed=root, chunk_size=chunk_size,
        progress=progress, max_norm=max_norm, client=client, cv=cv, vL=vL)
    details: dict[str, Any] = {}
    vr = None
    if cv is not None:
        K_L = linear_kernel_exact(cv.lin, cv.f_expr, L * float(dt),
                                  None if method == "fdt" else w * float(dt))
        mean, se, b, bse, vr, extra = _combine_cv(mom, K_L, 2 if estimate_bias else 1,
                                                  control_coefficient)
        details.update(cv.details(float(dt)), **extra)
    return KernelEstimate(order=1, lags=L * float(dt), value=mean, stderr=se, dt=float(dt),
                          n_paths=int(n_paths), n_origins=n_origins, method=method,
                          scheme=scheme, window=None if method == "fdt" else w * float(dt),
                          windowed=np.full(len(L), method == "girsanov"), bias=b,
                          bias_stderr=bse, seed=ent, variance_reduction=vr, details=details,
                          richardson_rel=richardson_rel(model, dt))


def second_order_kernel(model: SRNN, lags, *, observable=None, method: str = "fdt",
                        n_paths: int, dt: float, scheme: str = "exponential",
                        n_origins: int = 1, origin_stride: float | None = None,
                        window: float | None = None, conjugate: Callable | None = None,
                        estimate_bias: bool = True, initial=None, seed=None,
                        chunk_size: int | None = None, progress: bool | None = None,
                        max_norm: float = 1e8, client=None,
                        control_variate: bool = False) -> KernelEstimate:
    """Second-order kernels ``K_{k1k2}(σ1, σ2)`` for all channel pairs (module docstring).

    ``lags``: array ``(J, 2)`` of lag pairs, multiples of ``dt``; each pair needs
    ``σ1 = σ2`` or ``|σ2 - σ1| ≥ window`` (default ``window = dt``). ``method="fdt"``
    (mixed FDT–Girsanov off the diagonal, second conjugate variable on it) or
    ``"girsanov"`` (Hermite product of two window integrals). ``client``: a
    ``dask.distributed.Client``. Control variates are not implemented at second order.
    """
    _check_method(method)
    estimate_bias = check_flag(estimate_bias, "estimate_bias")
    _require_additive_input(model, f"second-order {method} kernel estimator")
    if check_flag(control_variate, "control_variate"):
        raise UnsupportedOrderError("control variates are implemented for first-order "
                                    "kernels and CRN responses, not at second order")
    lags = real_array(lags, "lags", objects=True, finite=False,
                      what="an array of lag pairs")
    if lags.ndim == 1 and lags.size == 2:
        lags = lags[None]
    if lags.ndim != 2 or lags.shape[1] != 2:
        raise InvalidInputError(f"lags must be an array of lag pairs, shape (J, 2); got "
                                f"{lags.shape}", param="lags")
    L = time_indices(lags.ravel(), dt, "lags").reshape(lags.shape)
    n_origins, stride = _origins(n_origins, origin_stride, dt)
    w = _window_steps(window, dt)
    swap = L[:, 0] > L[:, 1]
    Ls = np.sort(L, axis=1)
    gap = Ls[:, 1] - Ls[:, 0]
    bad = (gap > 0) & (gap < w)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        pair = ", ".join(f"{float(x):g}" for x in lags[j])
        raise InvalidInputError(f"lags ({pair}): the two lags must be equal or at "
                                f"least window = {w * dt:g} apart (kick windows must "
                                "coincide or be disjoint)", param="lags")
    v = w2 = B = None
    terms = []
    if method == "fdt":
        v = check_conjugate(conjugate, model.m) if conjugate is not None \
            else conjugate_variables(model)
        if np.any(gap == 0):
            w2 = second_conjugate_variables(model, v)
        if np.any(gap > 0):
            B = girsanov_matrix(model)
        for j, (l1, l2) in enumerate(Ls):
            kind = "diag2" if l1 == l2 else "mix2"
            terms.append(_Term(kind, j, int(l1), int(l2), int(l2)))
    else:
        B = girsanov_matrix(model)
        for j, (l1, l2) in enumerate(Ls):
            terms.append(_Term("gir2", j, int(l1), int(l2), int(l2) + w))
    (mean, se), (b, bse), ent, _ = _kernel_run(
        model, terms, len(L), 2, observable=observable, n_paths=n_paths, dt=dt, scheme=scheme,
        n_origins=n_origins, stride_steps=stride, w=w, B=B, v=v, w2=w2,
        estimate_bias=estimate_bias, initial=initial, seed=seed, chunk_size=chunk_size,
        progress=progress, max_norm=max_norm, client=client)

    def unswap(x):
        if x is None:
            return None
        x = x.copy()
        x[swap] = np.swapaxes(x[swap], -1, -2)
        return x
    windowed = (gap > 0) if method == "fdt" else np.ones(len(L), bool)
    return KernelEstimate(order=2, lags=L * float(dt), value=unswap(mean), stderr=unswap(se),
                          dt=float(dt), n_paths=int(n_paths), n_origins=n_origins,
                          method=method, scheme=scheme,
                          window=w * float(dt) if windowed.any() else None, windowed=windowed,
                          bias=unswap(b), bias_stderr=unswap(bse), seed=ent,
                          richardson_rel=richardson_rel(model, dt))
