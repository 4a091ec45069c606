"""Kernels as derivatives of kicked paths (docs/theory.md §7, §10).

``L_k = b_k(h)·∇`` is a vector field: ``b_k = C_k`` with the input beside the activation,
``b_k(h) = a'(W h + b) ⊙ C_k`` with the input inside it (docs/theory.md §10). Moving the
state to ``x + a b_k(x)`` changes ``u(x) = E[f(h_σ) | h_0 = x]`` by ``a (L_k u)(x) + O(a²)``,
so (lags as in :mod:`.estimators`: ``σ_1 ≤ σ_2``, the kick of lag ``σ_2`` acts first)

    K_k(σ)            = ∂_a E f(h_σ) ,        h_0 = x + a b_k(x) ,      x ~ p0 ,
    K_{k1k2}(σ1, σ2)  = ∂_a ∂_b E f(h_{σ2}) ,  h_0 = x + a b_{k2}(x) ,  h_s ← h_s + b b_{k1}(h_s) ,

with ``s = σ2 − σ1`` (both kicks at once when ``σ1 = σ2``: the second at the state the first
left, which is ``<p0, L_{k2} L_{k1} P_σ f>``, the kernel's sorted form with the tie in the
order given). Per path: central differences
over copies ``(±a)`` resp. ``(±a, ±b)`` that share every increment (common random numbers:
the differences are O(1) per path, so the variance does not grow as ``a → 0``, unlike a
Girsanov weight's ``1/δ``), O(a²), Richardson-extrapolated in the amplitude
(``a → a/2``). The copies run on two coupled Euler–Maruyama chains, ``dt`` and ``dt/2`` (the
coarse increment the sum of two fine ones), started from one draw of the stationary sampler
and burnt in together for ``burn_in`` relaxation times, so that each chain's own stationary
law (``O(dt)`` off p0) is part of the time-step bias. As for every estimator of
:mod:`.estimators`, ``value`` is the estimate at ``dt`` and ``bias ≈ 2 [v(dt) − v(dt/2)]``
(per path, with its standard error): ``value − bias`` is the Richardson extrapolation and
``|value − x| ≤ 4·stderr + |bias| + 4·bias_stderr + rel·max|bias|`` an honest comparison
(the estimate's ``error``).

Applies to every model of docs/theory.md §10–§11: the input beside or inside the
activation, constant noise or a state-dependent ``σ(h)`` (the chains are Euler–Maruyama with
``σ(h)``; the perturbation does not touch the noise). The kernels are those of one channel
per kick (``K^{(1…1)}``) and, with ``contact=True``, the contact kernels ``K^{(2)}`` of one
kick carrying two channels (a kick along the field of ``L^{(2)}_{k1k2}``). Chunks of paths
run in-process or
on a Dask cluster (``client=``, docs/theory.md §12); each chunk returns the
:class:`~.estimators.Moments` block statistics of its seed blocks, merged in block order, and
each block of 256 paths draws from its own generator, so the numbers are bitwise identical
either way and for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..arrays import check_flag, check_int, positive_number, real_array
from ..budget import check_count, check_memory
from ..density.linearisation import linearisation
from ..density.sampling import StateNoiseBurnIn, state_noise_burn_in
from ..errors import InvalidInputError, NotApplicableError, SimulationError
from ..model import SRNN, check_model
from ..model.euler_maruyama import NoiseMap, euler_maruyama_step
from ..model.noise import FEATURE_ACTIVATION_INPUT
from .distributed import check_client, map_chunks
from .error_bounds import richardson_rel
from .estimators import KernelEstimate, Moments
from .integrators import check_time_step, model_arrays
from .sampling import stationary_sampler
from .simulate import (
    MAX_PATH_STEPS,
    SEED_BLOCK,
    _auto_progress,
    _check_n_paths,
    _seed_root,
    block_generators,
    block_initial,
    block_normals,
    block_sizes,
    compile_observable,
    time_indices,
)

__all__ = ["kick_kernel", "KICK_STREAM"]

#: seed stream of the kick estimator's chunks (initial states and increments)
KICK_STREAM = 7
#: arrays of the states' size alive during an Euler step or a kick (memory estimate; the
#: measured peaks were 3.6–3.8)
STATE_COPIES = 5
#: bytes of one chunk's arrays (both chains, every copy, the Euler step's temporaries): the
#: default chunk holds 48 MB of states
CHUNK_BYTES = STATE_COPIES * 48e6
#: an observed value beyond this counts as a diverged path
MAX_NORM = 1e8


@dataclass(frozen=True)
class _Plan:
    """Copies and observations. Copy ``i`` is kicked by ``amp1[i]·u_{k1[i]}`` at step 0 and
    by ``amp2[i]·u_{k2[i]}`` (``amp2 = 0``: not at all) at its group's gap, ``u_k`` the
    ``k``-th kick field scaled to unit ``C`` columns (:class:`KickField`); ``groups``:
    ``(gap, rows, obs)`` — the copies kicked a second time after ``gap`` coarse steps
    (``rows``) and their observation steps."""

    amp1: np.ndarray
    k1: np.ndarray
    amp2: np.ndarray
    k2: np.ndarray
    groups: tuple
    n_steps: int

    @property
    def copies(self) -> int:
        return len(self.amp1)


def _plan(m: int, order: int, steps: np.ndarray, size: float) -> tuple[_Plan, list]:
    """The copies for lags ``steps`` (coarse step indices; order 2: sorted pairs), kicks of
    amplitude ``size`` along each of the ``m`` kick fields, and the recipe to turn their
    observations into kernel values: a list of ``(out_index, group, obs_column, weights
    over the group's rows)``. Observation steps are counted from the first kick."""
    a = size
    first, second, groups, recipe = [], [], [], []     # (amplitude, channel) per copy
    amps = [(a, 1.0), (a / 2, 4.0)]                 # Richardson: (4 D(a/2) − D(a)) / 3
    if order == 1:
        obs = np.unique(steps)
        for k in range(m):
            base = len(first)
            for amp, _ in amps:
                first += [(amp, k), (-amp, k)]
                second += [(0.0, 0), (0.0, 0)]
            w = np.zeros(4)
            for i, (amp, c) in enumerate(amps):
                w[2 * i:2 * i + 2] = np.array([1.0, -1.0]) * (c if i else -1.0) / (2 * amp) / 3
            groups.append((0, np.arange(base, base + 4), obs))
            for j, s in enumerate(steps):
                recipe.append(((j, k), len(groups) - 1, int(np.searchsorted(obs, s)), w))
        n_steps = int(obs.max())
    else:
        gaps = {}
        for j, (lo, hi) in enumerate(steps):
            gaps.setdefault(int(hi - lo), []).append((j, int(hi)))
        for gap, items in gaps.items():
            obs = np.unique([hi for _, hi in items])
            for k1 in range(m):                         # the later kick (lag σ1)
                for k2 in range(m):                     # the earlier kick (lag σ2)
                    base = len(first)
                    w = np.zeros(8)
                    for i, (amp, c) in enumerate(amps):
                        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                            first.append((sa * amp, k2))
                            second.append((sb * amp, k1))
                        w[4 * i:4 * i + 4] = (np.array([1.0, -1.0, -1.0, 1.0])
                                              * (c if i else -1.0) / (4 * amp * amp) / 3)
                    groups.append((gap, np.arange(base, base + 8), obs))
                    for j, hi in items:
                        recipe.append(((j, k1, k2), len(groups) - 1,
                                       int(np.searchsorted(obs, hi)), w))
        n_steps = max(int(g[2].max()) for g in groups)
    amp1, k1 = (np.array(c) for c in zip(*first, strict=True))
    amp2, k2 = (np.array(c) for c in zip(*second, strict=True))
    return _Plan(amp1.astype(float), k1.astype(int), amp2.astype(float), k2.astype(int),
                 tuple(groups), n_steps), recipe


class KickField:
    """The kick fields of ``kicks`` (multisets of channels, all of one size ``j``):
    ``u_κ(h) = b_κ(h)/Π_{c∈κ}|C_c|`` of ``L^{(j)}_κ = b_κ·∇`` (docs/theory.md §10) —
    ``C_k/|C_k|`` with the input beside the activation (``j = 1``),
    ``a^{(j)}(W h + b)/j! ⊙ Π_{c∈κ} C_c/|C_c|`` with the input inside it. Picklable
    (shipped to Dask workers with the job)."""

    def __init__(self, model: SRNN, p: dict, kicks: list[tuple[int, ...]]):
        C = np.asarray(p["C"], dtype=float)
        U = C / np.linalg.norm(C, axis=0)[None, :]                # (n, m)
        j = len(kicks[0])
        self.V = np.stack([np.prod(U[:, list(k)], axis=1) for k in kicks])    # (F, n)
        inside = FEATURE_ACTIVATION_INPUT in model.features
        self.gain = model.input_operators_numpy(j) if inside else None

    def __call__(self, h: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``u_{κ[k[r]]}`` at states ``h (..., R or 1, P, n)`` for field indices ``k (R,)``,
        broadcastable against ``(..., R, P, n)`` (constant fields: ``(R, 1, n)``)."""
        u = self.V[k][:, None, :]                                 # (R, 1, n)
        if self.gain is None:
            return u
        return self.gain(h) * u


class _KickJob:
    """One validated run; :meth:`run_chunk` is a pure function of the chunk index
    (picklable: shipped to Dask workers)."""

    def __init__(self, model: SRNN, plan: _Plan, recipe: list, f, dt: float, burn: int,
                 n_paths: int, blocks_per_chunk: int, root: np.random.SeedSequence,
                 sampler, field: KickField):
        self.r, self.n = model.r, model.n
        self.field = field
        self.noise = NoiseMap(model)
        self.drift = model.drift_numpy()
        self.plan, self.recipe, self.f = plan, recipe, f
        self.dt, self.burn, self.n_paths = dt, burn, n_paths
        self.root = root
        self.sampler = sampler
        self.per_chunk = blocks_per_chunk
        self.n_blocks = -(-n_paths // SEED_BLOCK)
        self.n_chunks = -(-self.n_blocks // blocks_per_chunk)
        self.Q = len(recipe)
        #: step -> rows kicked a second time then; step -> groups observed then
        self.kick_at, self.obs_at = {}, {}
        for g, (gap, rows, obs) in enumerate(plan.groups):
            if np.any(plan.amp2[rows]):
                self.kick_at.setdefault(gap, []).append(rows)
            for s in obs:
                self.obs_at.setdefault(int(s), []).append(g)

    def _step(self, h: np.ndarray, dt: float, dB: np.ndarray) -> np.ndarray:
        """Euler–Maruyama for states ``(..., P, n)``: the copies share ``dB (P, r)``."""
        return euler_maruyama_step(h, self.drift(h), dt, dB, self.noise)

    def run_chunk(self, i: int, watch: Callable[[float], None] | None = None
                  ) -> tuple[list, list]:
        """Per seed block of the chunk, the :class:`~.estimators.Moments` block statistics
        of the values at ``dt`` and of the biases ``2[v(dt) − v(dt/2)]`` (paths × ``Q``).
        Block ``j`` draws its initial states and increments from its own generator, so the
        numbers do not depend on the chunk size."""
        blocks = range(i * self.per_chunk, min((i + 1) * self.per_chunk, self.n_blocks))
        sizes = block_sizes(blocks, self.n_paths)
        rngs = block_generators(self.root, KICK_STREAM, blocks)
        P = sum(sizes)
        x = block_initial(self.sampler, rngs, sizes, self.n)
        r, hdt = self.r, 0.5 * self.dt
        sq = math.sqrt(hdt)

        def increments() -> np.ndarray:
            """Brownian increments ``ΔB`` over ``dt/2`` of every path, ``(P, r)``."""
            return block_normals(rngs, sizes, r) * sq

        fine, coarse = x.copy(), x.copy()
        total = self.burn + self.plan.n_steps
        if watch is not None:
            watch(0.0)
        for b in range(self.burn):                  # coupled burn-in
            if watch is not None and b % 64 == 63:
                watch(b / total)
            z1 = increments()
            z2 = increments()
            fine = self._step(self._step(fine, hdt, z1), hdt, z2)
            coarse = self._step(coarse, self.dt, z1 + z2)
        plan = self.plan
        base = np.stack([fine, coarse])[:, None]                          # (2, 1, P, n)
        h = base + plan.amp1[:, None, None] * self.field(base, plan.k1)    # (2, R, P, n)
        # observations per group: (2, len(obs), rows, P)
        rec = [np.empty((2, len(obs), len(rows), P)) for _, rows, obs in plan.groups]
        for step in range(plan.n_steps + 1):
            for rows in self.kick_at.get(step, ()):
                h[:, rows] += plan.amp2[rows, None, None] * self.field(h[:, rows],
                                                                       plan.k2[rows])
            for g in self.obs_at.get(step, ()):
                _, rows, obs = plan.groups[g]
                col = int(np.searchsorted(obs, step))
                rec[g][:, col] = self.f(h[:, rows])
            if step == plan.n_steps:
                break
            if watch is not None and step % 64 == 63:
                watch((self.burn + step) / total)
            z1 = increments()
            z2 = increments()
            h[0] = self._step(self._step(h[0], hdt, z1), hdt, z2)
            h[1] = self._step(h[1], self.dt, z1 + z2)
        if not all(np.all(np.isfinite(v)) and np.abs(v).max(initial=0.0) < MAX_NORM
                   for v in rec):
            raise SimulationError(f"kick estimator: paths diverged in chunk {i} (dt = "
                                  f"{self.dt:g}); lower dt")
        value, bias = np.empty((P, self.Q)), np.empty((P, self.Q))
        for q, (_, g, col, w) in enumerate(self.recipe):
            value[:, q] = np.tensordot(w, rec[g][1, col], axes=(0, 0))
            bias[:, q] = 2.0 * (value[:, q] - np.tensordot(w, rec[g][0, col], axes=(0, 0)))
        return Moments.block_stats(value), Moments.block_stats(bias)


def kick_kernel(model: SRNN, lags, *, observable=None, n_paths: int, dt: float,
                amplitude: float = 0.2, burn_in: float = 3.0, seed=None,
                chunk_size: int | None = None, progress: bool | None = None,
                client=None, contact: bool = False) -> KernelEstimate:
    """First- (``lags`` ``(J,)``) or second-order (``lags`` ``(J, 2)``) kernels for all
    channels (tuples) from kicked copies of common-noise paths (module docstring):
    ``K_k(σ) = ∂_a E f(h_σ | h_0 = x + a b_k(x))``, ``K_{k1k2}(σ1, σ2) = ∂_a∂_b E f`` with
    the kick ``b b_{k1}(h)`` after ``σ2 − σ1``; symmetric extension for ``σ1 > σ2``
    (``b_k = C_k``, or ``a'(W h + b) ⊙ C_k`` with the input inside the activation).
    ``contact=True`` (the input inside a nonlinear activation, ``lags (J,)``): the contact
    kernels ``K^{(2)}_{k1k2}(σ) = <p0, L^{(2)}_{k1k2} P_σ f>`` of one kick carrying two
    channels, ``b_{k1k2} = a''(W h + b)/2 ⊙ C_{k1} ⊙ C_{k2}`` (``value[j, k1, k2]``,
    symmetric in the channels; ``details["contact"]``).

    ``amplitude``: the length ``|a C_k|`` of the kicks (Richardson with half of it);
    ``burn_in``: relaxation times of the coupled burn-in; lags must be multiples of ``dt``.
    Returns a :class:`~volterra_sym.montecarlo.KernelEstimate` with ``method="kick"``
    (point values, ``window=None``) and ``value[j, k]`` resp. ``value[j, k1, k2]``;
    its ``seed`` is the entropy of the run (drawn when ``seed=None``): passing it back
    reproduces the numbers.
    """
    check_model(model)
    n_paths = _check_n_paths(n_paths)
    client = check_client(client)
    dt = positive_number(dt, "dt")
    if isinstance(amplitude, bool) or not (isinstance(amplitude, (int, float, np.floating))
                                           and 0 < amplitude < 1e3):
        raise InvalidInputError(f"amplitude must be a positive number below 1e3, got "
                                f"{amplitude!r}", param="amplitude")
    if isinstance(burn_in, bool) or not (isinstance(burn_in, (int, float, np.floating))
                                         and 0 <= burn_in <= 1e3):
        raise InvalidInputError(f"burn_in must be between 0 and 1e3 relaxation times, got "
                                f"{burn_in!r}", param="burn_in")
    lags = real_array(lags, "lags", objects=True, finite=False,
                      what="numbers or pairs of numbers")
    if lags.ndim == 0:
        lags = lags[None]
    if lags.ndim == 1:
        order = 1
    elif lags.ndim == 2 and lags.shape[1] == 2:
        order = 2
    else:
        raise InvalidInputError(f"lags must have shape (J,) or (J, 2), got {lags.shape}",
                                param="lags")
    if lags.size == 0:
        raise InvalidInputError("lags is empty", param="lags")
    contact = check_flag(contact, "contact")
    m = model.m
    if contact:
        if order != 1:
            raise InvalidInputError("contact=True: one kick carries both channels, so one lag "
                                    f"per point (lags of shape (J,)), got {lags.shape}",
                                    param="lags")
        if FEATURE_ACTIVATION_INPUT not in model.features:
            raise NotApplicableError(
                "the contact kernels K^(2) (one kick carrying two channels) vanish unless "
                "the input is inside a nonlinear activation (L^(2) = a''(z)/2 C_k1 C_k2·∇; "
                "docs/theory.md §10)")
        kicks = [(k1, k2) for k1 in range(m) for k2 in range(k1, m)]
    else:
        kicks = [(k,) for k in range(m)]
    # the drift's stability bound (σ(h) does not enter the mean map)
    p = model_arrays(model, state_noise=True)
    check_time_step(model, p, dt, "euler")
    steps = time_indices(lags.ravel(), dt, "lags").reshape(lags.shape)
    swap = None
    if order == 2:
        swap = steps[:, 0] > steps[:, 1]
        steps = np.sort(steps, axis=1)
    C = np.asarray(p["C"], dtype=float)
    norms = np.linalg.norm(C, axis=0)
    if np.any(norms == 0):
        raise InvalidInputError("C has a zero column: that channel has no kick",
                                param="C")
    plan, recipe = _plan(len(kicks), order, steps, float(amplitude))
    f = compile_observable(model, observable)
    sampler = stationary_sampler(model)
    if isinstance(sampler, StateNoiseBurnIn):    # σ(h), n > 1: the burn-in knows it
        tau = float(sampler.relaxation_time)
    elif model.state_dependent_noise:            # σ(h), n = 1: a closed-form sampler
        tau = float(state_noise_burn_in(model).relaxation_time)
    else:
        tau = float(linearisation(model).relaxation_time)
    burn = int(math.ceil(burn_in * tau / dt))
    R = plan.copies
    n = model.n
    work = float(n_paths) * 1.5 * (2 * burn + R * (plan.n_steps + 1))
    check_count(work, MAX_PATH_STEPS, f"{n_paths:.3g} paths × {R} kicked copies × "
                f"{plan.n_steps + 1} steps (plus burn-in)", "path-steps",
                "lower n_paths or the largest lag, or raise dt")
    # both chains' states, STATE_COPIES times: an Euler step (and a kick along
    # a^(j)(Wh + b) ⊙ u) holds the state, its drift, the noise term and the new state —
    # measured peaks were 3.6–3.8× the states alone on tanh2d, tanh3 and noisy_rnn4 (4,096
    # paths, 16–64 copies; the estimate counted the states once until 2026-12-06)
    per_path = 16.0 * R * n * STATE_COPIES + 16.0 * sum(len(rows) * len(obs)
                                                        for _, rows, obs in plan.groups)
    if chunk_size is None:
        chunk = int(max(SEED_BLOCK, min(n_paths, CHUNK_BYTES // per_path)))
    else:
        chunk = check_int(chunk_size, "chunk_size", lo=1)
    per_chunk = max(1, -(-chunk // SEED_BLOCK))       # whole seed blocks
    chunk = per_chunk * SEED_BLOCK
    check_memory(per_path * chunk,
                 f"the kick estimator's chunk of {chunk} paths × {R} copies",
                 "lower chunk_size")
    root = _seed_root(seed)
    job = _KickJob(model, plan, recipe, f, float(dt), burn, n_paths, per_chunk, root,
                   sampler, KickField(model, p, kicks))
    mom_value, mom_bias = Moments(), Moments()

    def merge(i: int, res) -> None:          # block by block, in block order
        mom_value.merge_all(res[0])
        mom_bias.merge_all(res[1])

    # auto: a bar for long runs (work × n above 5e8), only on a terminal
    progress = _auto_progress(progress, work * n, threshold=5e8)
    map_chunks(job, job.n_chunks, client=client, on_result=merge, progress=progress,
               desc="kick estimator")
    N = mom_value.n
    value, se = mom_value.mean, mom_value.stderr
    bias, bse = mom_bias.mean, mom_bias.stderr
    J = lags.shape[0]
    shape = (J, m) if order == 1 and not contact else (J, m, m)
    out = [np.zeros(shape) for _ in range(4)]
    for q, (idx, *_rest) in enumerate(recipe):
        # the plan kicks along fields scaled to unit C_k: K for C is Π |C_c| times that
        if contact:
            k1, k2 = kicks[idx[1]]
            targets = [(idx[0], k1, k2), (idx[0], k2, k1)]
            unit = float(norms[k1] * norms[k2])
        else:
            targets = [idx]
            unit = float(np.prod(norms[list(idx[1:])]))
        for arr, v in zip(out, (value, se, bias, bse), strict=True):
            for t in targets:
                arr[t] = v[q] * unit
    if order == 2:
        for arr in out:
            arr[swap] = np.swapaxes(arr[swap], 1, 2)
    return KernelEstimate(order=2 if contact else order, lags=lags, value=out[0],
                          stderr=out[1], dt=float(dt), n_paths=N, n_origins=1,
                          method="kick", scheme="euler",
                          window=None, windowed=np.zeros(J, bool), bias=out[2],
                          bias_stderr=out[3], seed=root.entropy,
                          richardson_rel=richardson_rel(model, dt),
                          details={"amplitude": float(amplitude), "copies": R,
                                   "burn_in_steps": burn, "relaxation_time": tau,
                                   "chunks": job.n_chunks, "chunk_size": chunk,
                                   "chunk_bytes": per_path * chunk,
                                   "contact": bool(contact)})
