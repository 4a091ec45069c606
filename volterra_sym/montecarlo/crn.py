"""Responses at several input amplitudes from one common-random-number ensemble.

For an input ``ε u(t)`` switched on at ``t = 0`` the response is
``Δ_ε(t) = E f(h^ε_t) - E f(h^0_t)`` (docs/theory.md §7). All amplitudes ``ε_e`` and ``ε = 0`` are
integrated in lockstep from the same initial states (drawn from ``p0``) with the same noise,
so that the O(1) noise of ``f`` cancels in the per-path difference, and each path is run at
``dt`` and ``dt/2`` on the same Brownian path; the estimate per path is Richardson's
``2·Δ(dt/2) - Δ(dt)``, which removes the O(dt) time-step bias (including the bias from
freezing ``u`` over a step). ``bias = raw - value`` is the measured O(dt) bias of the plain
``dt`` estimate.

With ``levels=3`` the paths also run at ``dt/4`` and the estimate is the second Richardson
step ``R₂ = (8·Δ(dt/4) - 6·Δ(dt/2) + Δ(dt))/3``, which also removes the O(dt²) term of a
weak error expansion ``c₁dt + c₂dt² + O(dt³)``. ``remainder = R₁ - R₂`` (with
``R₁ = 2·Δ(dt/2) - Δ(dt)``) is then the measured O(dt²) remainder of the two-level
estimate: a pathwise combination ``-(4/3)(2Δ(dt/4) - 3Δ(dt/2) + Δ(dt))`` of strongly coupled
levels, so its standard error is far below the response's.

Models of docs/theory.md §10–§11 (the input inside the activation, a state-dependent
``σ(h)``) run on their own in-process engine (:class:`.integrators.StateNoiseStep`,
Euler–Maruyama or Milstein): the same two coupled levels and the same result, two levels
only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..arrays import check_int
from ..budget import check_count, check_memory
from ..density.sampling import stationary_sampler
from ..errors import InvalidInputError, NotApplicableError, SimulationError
from ..model import SRNN
from ..results import freeze
from .distributed import Pilot, check_client
from .error_bounds import (
    ERROR_Z,
    RICHARDSON_REL,
    input_rate,
    richardson_rel,
    rounding_floor,
    table_rate,
)
from .estimators import (
    FrozenResult,
    Moments,
    _as_array,
    _estimate_html,
    merge_chunk_stats,
)
from .integrators import StateNoiseStep, check_combine, check_time_step
from .simulate import (
    MAX_PATH_STEPS,
    SEED_BLOCK,
    Hook,
    _check_n_paths,
    _seed_root,
    block_generators,
    block_initial,
    block_normals,
    block_sizes,
    check_levels,
    compile_observable,
    input_table,
    require_input,
    run_paths,
    time_indices,
)

__all__ = ["CRNResponses", "crn_responses", "parity_matrix", "parity_parts",
           "check_amplitudes"]


def check_amplitudes(eps, param: str = "eps") -> np.ndarray:
    """``eps`` as a non-empty 1-d float array of finite real amplitudes; anything else
    (strings, booleans, complex numbers, nested or empty sequences, NaN/inf) is an
    :class:`~volterra_sym.errors.InvalidInputError` naming ``param``."""
    values = np.atleast_1d(np.asarray(eps, dtype=object))
    ok = values.ndim == 1 and values.size > 0 and all(
        isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
        for x in values)
    out = values.astype(float) if ok else None
    if out is None or not np.all(np.isfinite(out)):
        raise InvalidInputError(f"{param} must be a non-empty 1-d sequence of finite real "
                                f"numbers, got {eps!r}"[:300], param=param)
    return out


@dataclass(frozen=True, repr=False)
class CRNResponses(FrozenResult):
    """``value[e, j]`` ≈ ``E f(h^{ε_e}_{t_j}) - E f(h^0_{t_j})`` (Richardson-extrapolated in
    ``dt`` per path; ``stderr`` includes the bias estimate's noise); ``raw``/``raw_stderr``
    are the plain ``dt`` estimates, ``bias = raw - value``; ``baseline[j]`` ≈
    ``E f(h^0_{t_j})`` at ``dt``. ``levels = 3``: ``value`` is the second Richardson step
    and ``remainder``/``remainder_stderr`` the measured O(dt²) remainder ``R₁ - R₂`` of the
    two-level estimate (module docstring; ``None`` for two levels). Frozen: arrays are
    read-only (:func:`dataclasses.replace` gives a modified copy)."""

    eps: np.ndarray
    times: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    raw: np.ndarray
    raw_stderr: np.ndarray
    bias: np.ndarray
    baseline: np.ndarray
    n_paths: int
    dt: float
    scheme: str
    seed: int | None
    seconds: float
    levels: int = 2
    remainder: np.ndarray | None = None
    remainder_stderr: np.ndarray | None = None
    richardson_rel: float | None = RICHARDSON_REL

    def _repr_html_(self) -> str:
        rem = "" if self.remainder is None else \
            f", 3 levels: max |R₁ − R₂| {np.max(np.abs(self.remainder)):.2g}"
        eps = ", ".join(f"{e:g}" for e in self.eps[:8]) + (" …" if self.eps.size > 8 else "")
        return _estimate_html(
            f"CRNResponses (ε = {eps})", f"{self.n_paths:,} paths, dt {self.dt:g}, "
            f"{self.scheme}, seed {self.seed}{rem}", "t", self.times, self.value.T,
            self.stderr.T, self.bias.T, self.error.T)

    @property
    def values(self) -> np.ndarray:
        """The Richardson-extrapolated responses (the field ``value``), ``(len(eps), T)``."""
        return self.value

    @property
    def method(self) -> str:
        return "crn"

    @property
    def details(self) -> dict[str, Any]:
        """The run's facts as in the other results' ``details``."""
        return freeze({"paths": self.n_paths, "dt": self.dt, "scheme": self.scheme,
                       "seed": self.seed, "levels": self.levels,
                       "richardson_rel": self.richardson_rel, "seconds": self.seconds})

    def __array__(self, dtype=None, copy=None):
        return _as_array(self.values, dtype, copy)

    @property
    def error(self) -> np.ndarray | None:
        """``ERROR_Z·se + r_e`` per ε and time, ``r_e`` :meth:`richardson_bound` — a bound
        on the distance of ``values`` from the continuous-time responses; ``None``
        (unknown) where ``dt`` is too coarse for that bound."""
        rem = self.richardson_bound(ERROR_Z)
        if rem is None:
            return None
        return freeze(ERROR_Z * self.stderr + rem[:, None]
                      + rounding_floor(self.value, axis=-1))

    def richardson_bound(self, z: float = ERROR_Z) -> np.ndarray | None:
        """Per amplitude, a bound on the time-step remainder of the extrapolated responses:
        :meth:`remainder_bound` where a third level measured it, else
        ``richardson_rel·max_t|bias|`` (:func:`.error_bounds.richardson_rel`: ``max(0.05,
        rate·dt)``), ``None`` where that is unknown (``rate·dt > 0.5``)."""
        measured = self.remainder_bound(z)
        if measured is not None:
            return measured
        if self.richardson_rel is None:
            return None
        return self.richardson_rel * np.max(np.abs(self.bias), axis=-1)

    def remainder_bound(self, z: float = 3.0) -> np.ndarray | None:
        """Per amplitude, ``max_t (|remainder| + z·remainder_stderr)`` — a bound on the
        O(dt²) remainder of ``R₁`` and, since the next term of the expansion is O(dt³), on
        the remainder of ``R₂`` too; ``None`` without a third level."""
        if self.remainder is None:
            return None
        return np.max(np.abs(self.remainder) + z * self.remainder_stderr, axis=-1)


class _CRNHook(Hook):
    """Collects ``f`` at the observation times for every variant on every level and
    returns, per chunk, the statistics of each seed block of the per-path differences
    (``{"val", "raw", "base"[, "rem"]: [block stats]}``), merged in chunk order where the
    run was started — so the result does not depend on the chunking nor on where the
    chunks ran (a Dask cluster)."""

    def __init__(self, f: Callable, idx: np.ndarray, combine: np.ndarray | None = None,
                 levels: int = 2):
        self.f, self.idx, self.combine, self.levels = f, idx, combine, levels
        self.pos: dict[int, list[int]] = {}
        for j, i in enumerate(idx):
            self.pos.setdefault(int(i), []).append(j)

    def interest(self, level, n_steps):
        mask = np.zeros(n_steps + 1, dtype=bool)
        mask[self.idx * 2 ** level] = True
        return mask

    def start_chunk(self, offset, size):
        self.v = [None] * self.levels

    def on_state(self, level, i, h):
        i0 = i // 2 ** level
        fv = self.f(h)                                      # (V, P)
        if self.v[level] is None:
            self.v[level] = np.empty((len(self.idx),) + fv.shape)
        for j in self.pos[i0]:
            self.v[level][j] = fv

    def end_chunk(self):
        d = []                                              # (T, E, P): Δ at dt/2^l
        for v in self.v:
            dl = v[:, :-1] - v[:, -1:]
            if self.combine is not None:                    # (T, K, P): Σ_e c_ke Δ_e
                dl = np.einsum("ke,tep->tkp", self.combine, dl)
            d.append(dl)
        r1 = 2.0 * d[1] - d[0]
        out = {"raw": d[0], "base": self.v[0][:, -1]}
        if self.levels == 3:
            r2 = (8.0 * d[2] - 6.0 * d[1] + d[0]) / 3.0
            out.update(val=r2, rem=r1 - r2)
        else:
            out["val"] = r1
        return {k: Moments.block_stats(np.moveaxis(x, -1, 0)) for k, x in out.items()}


def crn_responses(model: SRNN, u: Callable, eps: Sequence[float], times, *, observable=None,
                  n_paths: int, dt: float, scheme: str = "exponential", seed=None,
                  chunk_size: int = 16384, progress: bool | None = None,
                  combine=None, levels: int = 2, client=None) -> CRNResponses:
    """Responses at every ``ε`` from one ensemble with common random numbers (module
    docstring): per path ``2·Δ(dt/2) - Δ(dt)`` with ``Δ = f(h^ε_t) - f(h^0_t)``.

    ``times`` must be multiples of ``dt``; ``u(t) -> (m,)`` is the input shape (the
    amplitudes multiply it). Errors of the simulation (divergence, a bad step) raise
    :class:`~volterra_sym.errors.SimulationError`.

    ``combine`` (a finite ``(K, len(eps))`` matrix ``c``): the rows of ``value``, ``raw``
    and ``bias`` are then the pathwise combinations ``Σ_e c_ke Δ_e`` (``eps`` stays the
    simulated amplitudes), with standard errors that keep the covariance common random
    numbers induce between the ``ε``. With ``eps = (ε, −ε)`` the rows ``(½, ½)`` and
    ``(½, −½)`` are the even and odd parts in ε (docs/theory.md §8), in which the pathwise
    first-order (even part) or second-order (odd part) fluctuation cancels exactly.

    ``levels`` (2 or 3): with 3 the paths also run at ``dt/4``, ``value`` is the second
    Richardson step and ``remainder`` the measured O(dt²) remainder of the first (module
    docstring); a path costs 7/3 of a two-level one. ``client``: a
    ``dask.distributed.Client`` to run the chunks on (the numbers are the same bit for bit).

    A model with the input inside the activation or a state-dependent ``σ(h)``
    (docs/theory.md §10–§11) runs on its own in-process engine (``scheme`` ``"euler"`` or
    ``"milstein"``, the default meaning Euler; two levels; no ``client``; ``progress`` not
    shown), with the same result type.
    """
    eps = check_amplitudes(eps)
    combine = check_combine(combine, eps.size)
    if check_levels(levels) < 2:
        raise InvalidInputError(f"levels must be 2 or 3 (the responses are Richardson-"
                                f"extrapolated), got {levels}", param="levels")
    idx = time_indices(times, dt)
    f = compile_observable(model, observable)
    require_input(u, model.m)
    if model.features:
        return _state_noise_responses(model, u, eps, idx, f, n_paths=n_paths, dt=dt,
                                      scheme=scheme, seed=seed, chunk_size=chunk_size,
                                      combine=combine, levels=levels, client=client)
    mom: dict[str, Moments] = {}
    t0 = time.time()
    info = run_paths(model, n_paths=n_paths, dt=dt, n_steps=int(idx.max()), scheme=scheme,
                     hook=_CRNHook(f, idx, combine, levels), eps=tuple(eps) + (0.0,), u=u,
                     seed=seed, levels=levels, chunk_size=chunk_size, progress=progress,
                     client=client, on_chunk=merge_chunk_stats(mom))
    val, raw, base, rem = mom["val"], mom["raw"], mom["base"], mom.get("rem")
    return CRNResponses(eps=eps, times=idx * float(dt), value=val.mean.T, stderr=val.stderr.T,
                        raw=raw.mean.T, raw_stderr=raw.stderr.T, bias=(raw.mean - val.mean).T,
                        baseline=base.mean, n_paths=int(n_paths), dt=float(dt), scheme=scheme,
                        seed=info.entropy, seconds=time.time() - t0, levels=int(levels),
                        remainder=None if rem is None else rem.mean.T,
                        remainder_stderr=None if rem is None else rem.stderr.T,
                        richardson_rel=richardson_rel(
                            model, dt, input_rate(u, model.m, float(dt), int(idx.max()))))


#: the state-noise engine refuses a path beyond this norm (a divergence)
STATE_NOISE_MAX_NORM = 1e6
#: seed stream of the state-noise engine's blocks (initial states and increments)
STATE_NOISE_STREAM = 8


def _state_noise_responses(model: SRNN, u: Callable, eps: np.ndarray, idx: np.ndarray,
                           f: Callable, *, n_paths: int, dt: float, scheme: str, seed,
                           chunk_size: int, combine, levels: int, client) -> CRNResponses:
    """:func:`crn_responses` for the models of docs/theory.md §10–§11: every ε and ε = 0 on
    one Brownian path at ``dt`` and ``dt/2`` (coarse increments the sums of two fine ones,
    :class:`.integrators.StateNoiseStep`, ``u`` frozen on each step), from one draw of
    the stationary sampler; per path ``R = 2Δ(dt/2) − Δ(dt)``. ``scheme`` ``"euler"`` or
    ``"milstein"`` (the default ``"exponential"`` of the additive engine means Euler here).
    In-process, two levels; the first chunk is timed against ``VOLTERRA_TIME_BUDGET``."""
    feats = " and ".join(sorted(model.features))
    if int(levels) != 2:
        raise NotApplicableError(f"levels = 3 needs a model with the input outside the "
                                 f"activation and constant noise (the engine of a model with "
                                 f"{feats} runs two levels)")
    if check_client(client) is not None:
        raise NotApplicableError(f"client: the engine of a model with {feats} runs "
                                 "in-process (no Dask)")
    if scheme == "exponential":
        scheme = "euler"
    n_paths = _check_n_paths(n_paths)
    chunk = min(check_int(chunk_size, "chunk_size", lo=1, what="paths per chunk"), n_paths)
    check_time_step(model, model.numpy_params(state_noise=True), dt, "euler")
    root = _seed_root(seed)
    coarse, fine = StateNoiseStep(model, dt, scheme), StateNoiseStep(model, dt / 2, scheme)
    E, T, steps = eps.size, idx.size, int(idx.max())
    check_count(float(n_paths) * 3 * (E + 1) * max(steps, 1), MAX_PATH_STEPS,
                f"{n_paths:,} paths × {E + 1} amplitudes × 3 steps per dt × {steps:,} steps",
                "path-steps", "lower n_paths or the times")
    n_blocks = -(-n_paths // SEED_BLOCK)
    per_chunk = max(1, -(-chunk // SEED_BLOCK))          # whole seed blocks
    chunk = min(per_chunk * SEED_BLOCK, n_paths)
    check_memory(8.0 * (E + 1) * chunk * (2 * T + 4 * model.n) + 8.0 * steps * model.m * 2,
                 f"{T:,} observation times × {E + 1} amplitudes per chunk of {chunk:,} paths",
                 "lower chunk_size or the number of times")
    halves = input_table(u, np.arange(2 * steps + 1) * (dt / 2), model.m)
    u_start, u_mid = halves[0:2 * steps:2], halves[1:2 * steps:2]
    initial = stationary_sampler(model)
    epsv = np.concatenate([[0.0], eps])
    mom = {k: Moments() for k in ("val", "raw", "base")}
    t0 = time.time()
    n_chunks = -(-n_blocks // per_chunk)
    pilot = Pilot(n_chunks)
    sq = np.sqrt(dt / 2)
    for ci in range(n_chunks):
        watch = pilot.watch(ci)
        # block j draws its initial states and increments from its own generator: the
        # numbers do not depend on the chunk size
        blocks = range(ci * per_chunk, min((ci + 1) * per_chunk, n_blocks))
        sizes = block_sizes(blocks, n_paths)
        rngs = block_generators(root, STATE_NOISE_STREAM, blocks)
        P = sum(sizes)
        h0 = block_initial(initial, rngs, sizes, model.n)

        def increments(rngs=rngs, sizes=sizes) -> np.ndarray:
            return block_normals(rngs, sizes, coarse.r) * sq
        hc = [h0.copy() for _ in range(E + 1)]        # variant 0: ε = 0
        hf = [h0.copy() for _ in range(E + 1)]
        out_c, out_f = np.zeros((E + 1, T, P)), np.zeros((E + 1, T, P))
        out_c[:, idx == 0] = out_f[:, idx == 0] = f(h0)
        if watch is not None:
            watch(0.0)
        for i in range(steps):
            if watch is not None and i % 32 == 31:
                watch(i / steps)
            dB1, dB2 = increments(), increments()
            uc, um = coarse.C @ u_start[i], coarse.C @ u_mid[i]
            for e in range(E + 1):
                hc[e] = coarse.step(hc[e], epsv[e] * uc, dB1 + dB2)
                hf[e] = fine.step(fine.step(hf[e], epsv[e] * uc, dB1), epsv[e] * um, dB2)
            hit = np.flatnonzero(idx == i + 1)
            if hit.size:
                for e in range(E + 1):
                    if not (np.all(np.isfinite(hc[e]))
                            and np.abs(hc[e]).max() < STATE_NOISE_MAX_NORM):
                        raise SimulationError(f"a path diverged at t = {(i + 1) * dt:g} "
                                              f"(chunk {ci})")
                    out_c[e, hit], out_f[e, hit] = f(hc[e]), f(hf[e])
        dc, df = out_c[1:] - out_c[:1], out_f[1:] - out_f[:1]          # (E, T, P)
        if combine is not None:
            dc = np.einsum("ke,etp->ktp", combine, dc)
            df = np.einsum("ke,etp->ktp", combine, df)
        # per seed block, merged in block order (paths on axis 0)
        mom["val"].merge_all(Moments.block_stats(np.moveaxis(2 * df - dc, -1, 0)))
        mom["raw"].merge_all(Moments.block_stats(np.moveaxis(dc, -1, 0)))
        mom["base"].merge_all(Moments.block_stats(out_c[0].T))
        pilot.chunk_done(ci)
    val, raw = mom["val"], mom["raw"]
    return CRNResponses(eps=eps, times=idx * float(dt), value=val.mean, stderr=val.stderr,
                        raw=raw.mean, raw_stderr=raw.stderr, bias=raw.mean - val.mean,
                        baseline=mom["base"].mean,
                        n_paths=int(n_paths), dt=float(dt), scheme=scheme,
                        seed=root.entropy, seconds=time.time() - t0, levels=2,
                        richardson_rel=richardson_rel(model, dt,
                                                      table_rate(halves, dt / 2)))


def parity_matrix(n_eps: int) -> np.ndarray:
    """The ``combine`` matrix ``(3E, 2E)`` over the amplitudes ``(ε_1..ε_E, −ε_1..−ε_E)``:
    rows ``Δ(ε_e)``, then the even parts ``(Δ(ε_e) + Δ(−ε_e))/2``, then the odd parts
    ``(Δ(ε_e) − Δ(−ε_e))/2`` (docs/theory.md §8). ``n_eps`` must be an integer ≥ 1
    (else :class:`~volterra_sym.errors.InvalidInputError`) whose matrix fits the memory
    budget (else :class:`~volterra_sym.errors.ResourceLimitError`)."""
    n_eps = check_int(n_eps, "n_eps", lo=1, what="the number of positive amplitudes")
    check_memory(8.0 * 6 * float(n_eps) ** 2, f"the ({3 * n_eps}, {2 * n_eps}) parity matrix",
                 "use fewer amplitudes")
    I = np.eye(int(n_eps))
    Z = np.zeros_like(I)
    return np.vstack([np.hstack([I, Z]), np.hstack([I, I]) / 2, np.hstack([I, -I]) / 2])


def parity_parts(mc: CRNResponses, eps) -> dict[str | None, CRNResponses]:
    """Responses computed with ``combine=parity_matrix(len(eps))`` split into
    ``{None: whole, "even": …, "odd": …}``, each over the positive ``eps``. ``mc`` not a
    :class:`CRNResponses` or ``eps`` not finite real numbers is an
    :class:`~volterra_sym.errors.InvalidInputError` naming it."""
    if not isinstance(mc, CRNResponses):
        raise InvalidInputError(f"mc must be the CRNResponses of crn_responses(..., "
                                f"combine=parity_matrix(len(eps))), got {type(mc).__name__}",
                                param="mc")
    eps = check_amplitudes(eps)
    E = eps.size
    if mc.value.shape[0] != 3 * E:
        raise InvalidInputError(f"mc: {mc.value.shape[0]} rows, expected 3·{E} (whole, even "
                                "and odd parts, from combine=parity_matrix)", param="mc")
    if not np.array_equal(mc.eps, np.concatenate([eps, -eps])):
        raise InvalidInputError(f"eps {eps.tolist()} are not the amplitudes the responses ran "
                                f"with: mc.eps = {mc.eps.tolist()}, expected (ε…, −ε…) "
                                "of these", param="eps")
    out = {}
    for k, part in enumerate((None, "even", "odd")):
        rows = slice(k * E, (k + 1) * E)
        out[part] = replace(mc, eps=eps, value=mc.value[rows], stderr=mc.stderr[rows],
                            raw=mc.raw[rows], raw_stderr=mc.raw_stderr[rows],
                            bias=mc.bias[rows],
                            remainder=None if mc.remainder is None else mc.remainder[rows],
                            remainder_stderr=None if mc.remainder is None
                            else mc.remainder_stderr[rows])
    return out
