"""Monte Carlo estimators of responses and response kernels (docs/theory.md §4, §7).

Every estimate carries its standard error (over independent paths) and, unless
``estimate_bias=False``, a measured time-step bias: the same Brownian paths are integrated
with ``dt`` and ``dt/2`` and, for a weak first-order scheme,

    bias ≈ 2 [ v(dt) - v(dt/2) ]      (so ``value - bias`` is the Richardson extrapolation).

``bias_stderr`` is the standard error of that paired difference. An honest comparison with
an exact value ``x`` is ``|value - x| ≤ 4·stderr + |bias| + 4·bias_stderr``.

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..model import SRNN
from .integrators import EstimatorNotApplicableError, SimulationError, model_arrays
from .sampling import conjugate_variables, second_conjugate_variables
from .simulate import (
    DEFAULT_CHUNK,
    SEED_BLOCK,
    TIME_BLOCK,
    Hook,
    _check_n_paths,
    _seed_root,
    compile_observable,
    run_paths,
    time_indices,
)

__all__ = ["ResponseEstimate", "KernelEstimate", "response", "first_order_kernel",
           "second_order_kernel", "girsanov_matrix"]


# ---------------------------------------------------------------------- statistics
class Moments:
    """Streaming mean / sum of squared deviations over paths (Chan's pairwise merge);
    the paths lie on ``axis`` of every added array."""

    def __init__(self, axis: int = 0):
        self.n, self.mean, self.m2 = 0, None, None
        self.axis = axis

    def add(self, x: np.ndarray) -> None:
        """Add a block of paths (on ``self.axis``)."""
        nb = x.shape[self.axis]
        mb = x.mean(axis=self.axis)
        m2b = ((x - np.expand_dims(mb, self.axis)) ** 2).sum(axis=self.axis)
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta ** 2 * (self.n * nb / n)
        self.n = n

    def add_blocks(self, x: np.ndarray) -> None:
        """Add per seed block (chunk offsets are multiples of ``SEED_BLOCK``), so that the
        floating-point result does not depend on the chunk size."""
        for a in range(0, x.shape[0], SEED_BLOCK):
            self.add(x[a:a + SEED_BLOCK])

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(self.m2 / (self.n - 1) / self.n)


@dataclass
class ResponseEstimate:
    """``value[j] ≈ E f(h^ε_{t_j}) - E f(h^0_{t_j})`` (``stderr`` its standard error).

    ``baseline`` is ``E f(h^0_t)``; ``bias`` the measured time-step bias of ``value``
    (``None`` if not estimated); ``crn`` says whether common random numbers were used.
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


@dataclass
class KernelEstimate:
    """Estimated kernel values.

    First order: ``lags (J,)``, ``value[j, k] ≈ K_k(σ_j)``. Second order: ``lags (J, 2)``,
    ``value[j, k1, k2] ≈ K_{k1k2}(σ_{j,1}, σ_{j,2})`` (symmetric extension for unsorted
    lags). ``window`` is ``δ`` for windowed (Girsanov) entries, ``None`` for point (FDT)
    estimates; ``windowed[j]`` says which entries are window averages.
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


def girsanov_matrix(model: SRNN, tol: float = 1e-9) -> np.ndarray:
    """``B`` with ``C = σ B`` (least squares); refuses ``C`` outside the range of ``σ``."""
    p = model_arrays(model)
    B, *_ = np.linalg.lstsq(p["sigma"], p["C"], rcond=None)
    resid = float(np.max(np.abs(p["sigma"] @ B - p["C"]))) if B.size else 0.0
    if resid > tol * (1.0 + float(np.max(np.abs(p["C"])))):
        raise EstimatorNotApplicableError(
            f"C is not in the range of sigma (C = σB has no solution, residual {resid:.3g}): "
            "the Girsanov estimators need the input to enter through the noise; use "
            "method='fdt' (first order) or CRN responses")
    return B


# ---------------------------------------------------------------------- response
class _ResponseHook(Hook):
    """Records ``f`` at the observation indices for every variant and level."""

    def __init__(self, f, idx: np.ndarray, n_levels: int, on_chunk):
        self.f, self.idx, self.on_chunk = f, idx, on_chunk
        self.where: dict[int, list[int]] = {}
        for j, i in enumerate(idx):
            self.where.setdefault(int(i), []).append(j)
        self.n_levels = n_levels

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
        self.on_chunk(self.vals)


def response(model: SRNN, u: Callable, eps: float, times, *, observable=None,
             n_paths: int, dt: float, scheme: str = "exponential", crn: bool = True,
             estimate_bias: bool = True, initial=None, seed=None,
             chunk_size: int = DEFAULT_CHUNK, progress: bool | None = None,
             max_norm: float = 1e8) -> ResponseEstimate:
    """``E f(h^ε_t) - E f(h^0_t)`` at ``times`` for the input ``ε C u(t)`` on ``[0, t]``.

    ``crn=True``: perturbed and unperturbed paths share initial states and Brownian
    increments and the estimator is the path average of ``f(h^ε_t) - f(h^0_t)``; its
    variance is O(ε²). ``crn=False``: two independent ensembles of ``n_paths`` each
    (variance O(1): for comparison).
    """
    eps = float(eps)
    if not np.isfinite(eps):
        raise SimulationError(f"eps must be finite, got {eps}")
    n_paths = _check_n_paths(n_paths)
    idx = time_indices(times, dt)
    f = compile_observable(model, observable)
    n_levels = 2 if estimate_bias else 1
    kw = dict(n_paths=n_paths, dt=dt, n_steps=int(idx.max()), scheme=scheme, u=u,
              initial=initial, coupled=estimate_bias, chunk_size=chunk_size,
              progress=progress, max_norm=max_norm)
    root = _seed_root(seed)
    T = len(idx)
    if crn:
        diff, base, bias = Moments(), Moments(), Moments()

        def collect(vals):
            d0 = vals[0][:, 0] - vals[0][:, 1]          # (T, P)
            diff.add_blocks(d0.T)
            base.add_blocks(vals[0][:, 1].T)
            if n_levels == 2:
                d1 = vals[1][:, 0] - vals[1][:, 1]
                bias.add_blocks(2.0 * (d0 - d1).T)
        run_paths(model, hook=_ResponseHook(f, idx, n_levels, collect), eps=(eps, 0.0),
                  seed=root, **kw)
        value, stderr = diff.mean, diff.stderr
        b, bse = (bias.mean, bias.stderr) if n_levels == 2 else (None, None)
        base_m, base_se = base.mean, base.stderr
    else:
        streams = root.spawn(2)
        mom = [[Moments(), Moments()] for _ in range(2)]  # [run][value, coarse-fine]
        for r, (e, ss) in enumerate(zip((eps, 0.0), streams, strict=True)):
            def collect(vals, r=r):
                v0 = vals[0][:, 0]
                mom[r][0].add_blocks(v0.T)
                if n_levels == 2:
                    mom[r][1].add_blocks(2.0 * (v0 - vals[1][:, 0]).T)
            run_paths(model, hook=_ResponseHook(f, idx, n_levels, collect), eps=(e,), seed=ss,
                      **kw)
        value = mom[0][0].mean - mom[1][0].mean
        stderr = np.hypot(mom[0][0].stderr, mom[1][0].stderr)
        base_m, base_se = mom[1][0].mean, mom[1][0].stderr
        if n_levels == 2:
            b = mom[0][1].mean - mom[1][1].mean
            bse = np.hypot(mom[0][1].stderr, mom[1][1].stderr)
        else:
            b = bse = None
    return ResponseEstimate(times=idx * float(dt), value=np.reshape(value, T),
                            stderr=np.reshape(stderr, T), dt=float(dt), n_paths=n_paths,
                            eps=eps, crn=crn, scheme=scheme, baseline=np.reshape(base_m, T),
                            baseline_stderr=np.reshape(base_se, T), bias=b, bias_stderr=bse,
                            seed=root.entropy)


# ---------------------------------------------------------------------- kernels
@dataclass
class _Term:
    kind: str        # fdt1 | gir1 | mix2 | diag2 | gir2
    j: int           # output row
    l1: int          # lag (steps) of the most recent kick
    l2: int          # lag (steps) of the earlier kick (second order; = l1 otherwise)
    span: int        # t - o in steps


class _KernelHook(Hook):
    """Accumulates the per-path averages of every term over the origins (see module doc)."""

    def __init__(self, terms: list[_Term], J: int, order: int, m: int, n_origins: int,
                 stride: int, w: int, delta: float, f, v, w2, BtB, n_levels: int, on_chunk):
        self.terms, self.J, self.order, self.m = terms, J, order, m
        self.n_origins, self.stride, self.w, self.delta = n_origins, stride, w, delta
        self.f, self.v, self.w2, self.BtB = f, v, w2, BtB
        self.n_levels, self.on_chunk = n_levels, on_chunk
        self.max_span = max(t.span for t in terms)
        self.need_v = any(t.kind in ("fdt1", "mix2") for t in terms)
        self.need_w2 = any(t.kind == "diag2" for t in terms)
        self.need_xi = any(t.kind in ("gir1", "mix2", "gir2") for t in terms)
        self.c: float | None = None
        # completion schedule per level: state index -> [(term, origin q)]
        self.sched: list[dict[int, list[tuple[_Term, int]]]] = []
        for lv in range(n_levels):
            fac = 2 if lv == 1 else 1
            s: dict[int, list[tuple[_Term, int]]] = {}
            for t in terms:
                for q in range(n_origins):
                    s.setdefault((q * stride + t.span) * fac, []).append((t, q))
            self.sched.append(s)

    def interest(self, level, n_steps):
        fac = 2 if level == 1 else 1
        mask = np.zeros(n_steps + 1, dtype=bool)
        mask[np.arange(self.n_origins) * self.stride * fac] = True
        mask[np.fromiter(self.sched[level].keys(), dtype=np.int64)] = True
        mask[0] = True
        return mask

    def start_chunk(self, offset, size):
        self.first = offset == 0
        P, m = size, self.m
        shape = (self.J, P, m) if self.order == 1 else (self.J, P, m, m)
        self.acc = [np.zeros(shape) for _ in range(self.n_levels)]
        self.R_o = self.max_span // self.stride + 2
        self.vring = [np.empty((self.R_o, P, m)) if self.need_v else None
                      for _ in range(self.n_levels)]
        self.wring = [np.empty((self.R_o, P, m, m)) if self.need_w2 else None
                      for _ in range(self.n_levels)]
        self.xring = []
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
        h = h3[0]
        fac = 2 if level == 1 else 1
        if self.c is None:
            if not self.first:
                raise SimulationError("internal: centering constant unset")
            self.c = float(np.mean(self.f(h[:SEED_BLOCK])))
        stride = self.stride * fac
        if i % stride == 0 and i // stride < self.n_origins:
            q = i // stride
            if self.need_v:
                self.vring[level][q % self.R_o] = self.v(h)
            if self.need_w2:
                self.wring[level][q % self.R_o] = self.w2(h)
        todo = self.sched[level].get(i)
        if not todo:
            return
        fc = self.f(h) - self.c
        acc = self.acc[level]
        d = self.delta
        for t, q in todo:
            slot = q % self.R_o
            if t.kind == "fdt1":
                acc[t.j] += self.vring[level][slot] * fc[:, None]
            elif t.kind == "gir1":
                acc[t.j] += self._window(level, i - t.l1 * fac) * (fc / d)[:, None]
            elif t.kind == "diag2":
                acc[t.j] += self.wring[level][slot] * fc[:, None, None]
            elif t.kind == "mix2":
                X1 = self._window(level, i - t.l1 * fac) * (fc / d)[:, None]
                acc[t.j] += X1[:, :, None] * self.vring[level][slot][:, None, :]
            else:  # gir2
                X1 = self._window(level, i - t.l1 * fac)
                X2 = self._window(level, i - t.l2 * fac)
                prod = X1[:, :, None] * X2[:, None, :]
                if t.l1 == t.l2:
                    prod -= d * self.BtB
                acc[t.j] += prod * (fc / d ** 2)[:, None, None]

    def end_chunk(self):
        self.on_chunk([a / self.n_origins for a in self.acc])


def _kernel_run(model: SRNN, terms: list[_Term], J: int, order: int, *, observable, n_paths,
                dt, scheme, n_origins, stride_steps, w, B, v, w2, estimate_bias, initial,
                seed, chunk_size, progress, max_norm):
    n_paths = _check_n_paths(n_paths)
    f = compile_observable(model, observable)
    n_levels = 2 if estimate_bias else 1
    BtB = None if B is None else B.T @ B
    val, bias = Moments(), Moments()

    def collect(avgs):
        val.add_blocks(np.moveaxis(avgs[0], 1, 0))
        if n_levels == 2:
            bias.add_blocks(np.moveaxis(2.0 * (avgs[0] - avgs[1]), 1, 0))

    hook = _KernelHook(terms, J, order, model.m, n_origins, stride_steps, w, w * dt, f, v, w2,
                       BtB, n_levels, collect)
    n_steps = (n_origins - 1) * stride_steps + hook.max_span
    root = _seed_root(seed)
    run_paths(model, n_paths=n_paths, dt=dt, n_steps=n_steps, scheme=scheme, hook=hook,
              initial=initial, seed=root, coupled=estimate_bias,
              B=B if hook.need_xi else None, chunk_size=chunk_size, progress=progress,
              max_norm=max_norm)
    out = (val.mean, val.stderr)
    b = (bias.mean, bias.stderr) if n_levels == 2 else (None, None)
    return out, b, root.entropy


def _origins(n_origins, origin_stride, dt) -> tuple[int, int]:
    if not (isinstance(n_origins, (int, np.integer)) and n_origins >= 1):
        raise SimulationError(f"n_origins must be a positive integer, got {n_origins!r}")
    if origin_stride is None:
        return int(n_origins), 1
    s = int(time_indices([origin_stride], dt, "origin_stride")[0])
    if s < 1:
        raise SimulationError(f"origin_stride must be ≥ dt, got {origin_stride}")
    return int(n_origins), s


def _window_steps(window, dt) -> int:
    if window is None:
        return 1
    w = int(time_indices([window], dt, "window")[0])
    if w < 1:
        raise SimulationError(f"window must be a positive multiple of dt, got {window}")
    return w


def first_order_kernel(model: SRNN, lags, *, observable=None, method: str = "fdt",
                       n_paths: int, dt: float, scheme: str = "exponential",
                       n_origins: int = 1, origin_stride: float | None = None,
                       window: float | None = None, conjugate: Callable | None = None,
                       estimate_bias: bool = True, initial=None, seed=None,
                       chunk_size: int = DEFAULT_CHUNK, progress: bool | None = None,
                       max_norm: float = 1e8) -> KernelEstimate:
    """First-order kernels ``K_k(σ_j)`` for all channels ``k`` (docs/theory.md §4, §7).

    ``method="fdt"``: ``E_0[v_k(h_o)(f(h_{o+σ}) - c)]`` (point values; ``conjugate``
    overrides ``v``). ``method="girsanov"``: ``E_0[(f(h_t) - c) B_k·ΔB_W]/δ`` over the kick
    window ``[t-σ-δ, t-σ]``, ``δ = window`` (default ``dt``): the window average
    ``δ⁻¹∫_σ^{σ+δ} K_k``. Lags and window are multiples of ``dt``.
    """
    if method not in ("fdt", "girsanov"):
        raise SimulationError(f"method must be 'fdt' or 'girsanov', got {method!r}")
    L = time_indices(lags, dt, "lags")
    n_origins, stride = _origins(n_origins, origin_stride, dt)
    w = _window_steps(window, dt)
    if method == "fdt":
        v = conjugate if conjugate is not None else conjugate_variables(model)
        terms = [_Term("fdt1", j, int(lj), int(lj), int(lj)) for j, lj in enumerate(L)]
        B = None
    else:
        v = None
        B = girsanov_matrix(model)
        terms = [_Term("gir1", j, int(lj), int(lj), int(lj) + w) for j, lj in enumerate(L)]
    (mean, se), (b, bse), ent = _kernel_run(
        model, terms, len(L), 1, observable=observable, n_paths=n_paths, dt=dt, scheme=scheme,
        n_origins=n_origins, stride_steps=stride, w=w, B=B, v=v, w2=None,
        estimate_bias=estimate_bias, initial=initial, seed=seed, chunk_size=chunk_size,
        progress=progress, max_norm=max_norm)
    return KernelEstimate(order=1, lags=L * float(dt), value=mean, stderr=se, dt=float(dt),
                          n_paths=int(n_paths), n_origins=n_origins, method=method,
                          scheme=scheme, window=None if method == "fdt" else w * float(dt),
                          windowed=np.full(len(L), method == "girsanov"), bias=b,
                          bias_stderr=bse, seed=ent)


def second_order_kernel(model: SRNN, lags, *, observable=None, method: str = "fdt",
                        n_paths: int, dt: float, scheme: str = "exponential",
                        n_origins: int = 1, origin_stride: float | None = None,
                        window: float | None = None, conjugate: Callable | None = None,
                        estimate_bias: bool = True, initial=None, seed=None,
                        chunk_size: int = DEFAULT_CHUNK, progress: bool | None = None,
                        max_norm: float = 1e8) -> KernelEstimate:
    """Second-order kernels ``K_{k1k2}(σ1, σ2)`` for all channel pairs (module docstring).

    ``lags``: array ``(J, 2)`` of lag pairs, multiples of ``dt``; each pair needs
    ``σ1 = σ2`` or ``|σ2 - σ1| ≥ window`` (default ``window = dt``). ``method="fdt"``
    (mixed FDT–Girsanov off the diagonal, second conjugate variable on it) or
    ``"girsanov"`` (Hermite product of two window integrals).
    """
    if method not in ("fdt", "girsanov"):
        raise SimulationError(f"method must be 'fdt' or 'girsanov', got {method!r}")
    lags = np.asarray(lags, dtype=float)
    if lags.ndim == 1 and lags.size == 2:
        lags = lags[None]
    if lags.ndim != 2 or lags.shape[1] != 2:
        raise SimulationError(f"lags must be an array of lag pairs, shape (J, 2); got "
                              f"{lags.shape}")
    L = time_indices(lags.ravel(), dt, "lags").reshape(lags.shape)
    n_origins, stride = _origins(n_origins, origin_stride, dt)
    w = _window_steps(window, dt)
    swap = L[:, 0] > L[:, 1]
    Ls = np.sort(L, axis=1)
    gap = Ls[:, 1] - Ls[:, 0]
    bad = (gap > 0) & (gap < w)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise SimulationError(f"lags {tuple(lags[j])}: the two lags must be equal or at least "
                              f"window = {w * dt:g} apart (kick windows must coincide or be "
                              "disjoint)")
    v = w2 = B = None
    terms = []
    if method == "fdt":
        v = conjugate if conjugate is not None else conjugate_variables(model)
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
    (mean, se), (b, bse), ent = _kernel_run(
        model, terms, len(L), 2, observable=observable, n_paths=n_paths, dt=dt, scheme=scheme,
        n_origins=n_origins, stride_steps=stride, w=w, B=B, v=v, w2=w2,
        estimate_bias=estimate_bias, initial=initial, seed=seed, chunk_size=chunk_size,
        progress=progress, max_norm=max_norm)

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
                          bias=unswap(b), bias_stderr=unswap(bse), seed=ent)
