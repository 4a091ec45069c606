"""Ensembles of SRNN paths, vectorised over paths and chunked over paths (docs/theory.md §7).

    dh_t = [ -Γ h_t + a(W h_t + b) + ε C u(t) ] dt + σ dB_t ,   h_0 ~ p0 ,   t_i = i·dt

Conventions
-----------
* ``u(t)`` returns an array of shape ``(m,)``; it is evaluated once on the time grid and
  frozen on each step at its left end point ``u(t_i)``.
* Reproducibility: paths are grouped in fixed blocks of :data:`SEED_BLOCK` paths; block
  ``j`` draws its initial states and its noise from its own generator, spawned from
  ``np.random.SeedSequence(seed)`` (SFC64 for the noise). Within a block the normals are
  consumed in the order (time step, noise coordinate, path) — time-major — so
  the numbers do not depend on ``chunk_size`` (rounded up to a multiple of the block) nor on
  how many steps of noise are generated at once (:data:`TIME_BLOCK`).
* Variants: several input amplitudes ``ε_v`` can be simulated in lockstep with *common
  random numbers* (same initial states, same noise).
* Two-level runs (``coupled=True``): the same Brownian paths are integrated with ``dt``
  and ``dt/2`` (coarse noise = sum of two fine increments, resp. the exact OU combination
  ``e^{-L dt/2} ξ₁ + ξ₂``), so the time-step bias ``v(dt) - v(dt/2)`` is measured with a
  small variance.
* Only requested states are handed to *hooks* (estimators); full paths are never stored.
* Divergence (a non-finite state or ``max |h| > max_norm``) is checked after every block of
  :data:`TIME_BLOCK` steps; the block is then replayed step by step from a saved state to
  report the first bad step, its time and path (:class:`DivergenceError`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..model import SRNN
from .integrators import Integrator, SimulationError, check_time_step, model_arrays
from .sampling import stationary_sampler

__all__ = ["SEED_BLOCK", "TIME_BLOCK", "DivergenceError", "Ensemble", "simulate",
           "compile_observable", "input_table", "time_indices", "run_paths", "Hook"]

#: paths per random-number stream (fixed: changing it changes the numbers)
SEED_BLOCK = 256
#: fine steps of noise generated at once (even; does not change the numbers)
TIME_BLOCK = 32
DEFAULT_CHUNK = 16384


class DivergenceError(SimulationError):
    """A path left every bound; ``step``, ``time``, ``path`` say where it happened first."""

    def __init__(self, message: str, *, step: int, time: float, path: int, dt: float):
        super().__init__(message)
        self.step, self.time, self.path, self.dt = step, time, path, dt


# ---------------------------------------------------------------------- inputs, observables
def compile_observable(model: SRNN, observable=None) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised observable ``f``: array ``(..., n)`` -> ``(...)``.

    ``observable`` is ``None`` (the model's default), a string or SymPy expression in
    ``h1..hn`` (lambdified), or a numpy callable taking ``(..., n)`` and returning ``(...)``.
    """
    if callable(observable) and not isinstance(observable, sp.Basic):
        fn = observable

        def f_call(x: np.ndarray) -> np.ndarray:
            out = np.asarray(fn(x), dtype=float)
            if out.shape != x.shape[:-1]:
                raise SimulationError(f"observable returned shape {out.shape} for states of "
                                      f"shape {x.shape}; expected {x.shape[:-1]}")
            return out
        return f_call
    expr = model.observable(observable) if not isinstance(observable, sp.Basic) \
        else sp.sympify(observable)
    by_name = {hi.name: hi for hi in model.h}
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols
                          if s.name in by_name and s not in model.h})
    extra = expr.free_symbols - set(model.h)
    if extra:
        raise SimulationError(f"observable {expr} has free symbols {sorted(map(str, extra))} "
                              f"besides the state {', '.join(map(str, model.h))}")
    lam = sp.lambdify(model.h, expr, "numpy")
    n = model.n

    def f_expr(x: np.ndarray) -> np.ndarray:
        val = lam(*(x[..., i] for i in range(n)))
        return np.broadcast_to(np.asarray(val, dtype=float), x.shape[:-1])
    return f_expr


def input_table(u: Callable, times: np.ndarray, m: int) -> np.ndarray:
    """``u(t_i)`` for every grid time, shape ``(len(times), m)``; checks ``u``'s output."""
    if not callable(u):
        raise SimulationError(f"u must be a callable u(t) -> array of shape ({m},), got "
                              f"{type(u).__name__}")
    out = np.empty((len(times), m))
    for i, t in enumerate(times):
        try:
            val = np.asarray(u(float(t)), dtype=float)
        except (TypeError, ValueError) as exc:
            raise SimulationError(f"u({t:g}) must return a real array of shape ({m},): "
                                  f"{exc}") from None
        if val.shape != (m,) and not (m == 1 and val.ndim == 0):
            raise SimulationError(f"u({t:g}) returned shape {val.shape}; u must return an "
                                  f"array of shape ({m},) (one entry per input channel, "
                                  f"m = {m})")
        out[i] = val
    return out


def time_indices(times, dt: float, what: str = "times") -> np.ndarray:
    """Step indices ``t / dt`` of non-negative times that are multiples of ``dt``."""
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise SimulationError(f"{what} must be a non-empty 1-d sequence of times")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise SimulationError(f"{what} must be finite and ≥ 0, got {t}")
    k = np.rint(t / dt)
    if np.any(np.abs(k * dt - t) > 1e-9 * np.maximum(1.0, np.abs(t))):
        bad = t[np.abs(k * dt - t) > 1e-9 * np.maximum(1.0, np.abs(t))][0]
        raise SimulationError(f"{what} must be multiples of dt = {dt:g}; {bad:g} is not")
    return k.astype(np.int64)


def _seed_root(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                      pool_size=seed.pool_size)
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise SimulationError(f"seed must be an int, a SeedSequence or None, got {seed!r}")
    return np.random.SeedSequence(seed)


def _check_n_paths(n_paths) -> int:
    if not isinstance(n_paths, (int, np.integer)) or isinstance(n_paths, bool) or n_paths < 2:
        raise SimulationError(f"n_paths must be an integer ≥ 2 (standard errors need at least "
                              f"two paths), got {n_paths!r}")
    return int(n_paths)


def _resolve_initial(model: SRNN, initial, n_paths: int):
    """``(sampler, fixed)``: a sampler, or a fixed array ``(n_paths, n)``."""
    if initial is None or (isinstance(initial, str) and initial == "stationary"):
        return stationary_sampler(model), None
    if isinstance(initial, str):
        return stationary_sampler(model, initial), None
    if callable(initial):
        return initial, None
    arr = np.asarray(initial, dtype=float)
    if arr.shape == (model.n,):
        arr = np.broadcast_to(arr, (n_paths, model.n))
    if arr.shape != (n_paths, model.n):
        raise SimulationError(f"initial must be a sampler, 'stationary', an array ({model.n},) "
                              f"or ({n_paths}, {model.n}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SimulationError("initial states must be finite")
    return None, arr


# ---------------------------------------------------------------------- the engine
class Hook:
    """What an estimator sees of a run (all methods optional to override).

    Levels: 0 is the run at ``dt``; 1 (two-level runs only) the run at ``dt/2``. State
    index ``i`` of level ``l`` is the state at time ``i·dt_l``. States are arrays
    ``(V, P, n)`` (variants × paths of the chunk × state).
    """

    def interest(self, level: int, n_steps: int) -> np.ndarray:
        """Boolean array of length ``n_steps + 1``: state indices passed to ``on_state``."""
        return np.zeros(n_steps + 1, dtype=bool)

    def start_chunk(self, offset: int, size: int) -> None: ...

    def on_xi(self, level: int, k0: int, xi: np.ndarray) -> None:
        """``xi[k] = (B_cᵀ ΔB_{k0+k})_c`` for the increments ``k0 .. k0+len(xi)-1``."""

    def on_state(self, level: int, i: int, h: np.ndarray) -> None: ...

    def end_chunk(self) -> None: ...


@dataclass
class RunInfo:
    dt: float
    n_steps: int
    n_paths: int
    scheme: str
    entropy: int
    coupled: bool


def run_paths(model: SRNN, *, n_paths: int, dt: float, n_steps: int, scheme: str = "euler",
              hook: Hook | None = None, eps: Sequence[float] = (0.0,), u: Callable | None = None,
              initial=None, seed=None, coupled: bool = False, B: np.ndarray | None = None,
              chunk_size: int = DEFAULT_CHUNK, progress: bool | None = None,
              max_norm: float = 1e8, prefetch_noise: bool = True) -> RunInfo:
    """Integrate ``n_paths`` paths for ``n_steps`` steps of ``dt`` and feed ``hook``.

    ``eps``: input amplitudes of the variants run with common random numbers. ``B``: if
    given (``C = σB``), the hook's ``on_xi`` receives ``B_kᵀΔB`` per step and channel.
    """
    n_paths = _check_n_paths(n_paths)
    p = model_arrays(model)
    check_time_step(model, p, dt, scheme)
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise SimulationError(f"n_steps must be an integer ≥ 0, got {n_steps!r}")
    if not (isinstance(chunk_size, (int, np.integer)) and chunk_size >= 1):
        raise SimulationError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not (max_norm > 0):
        raise SimulationError(f"max_norm must be positive, got {max_norm!r}")
    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    if eps.ndim != 1 or not np.all(np.isfinite(eps)):
        raise SimulationError(f"eps must be finite numbers, got {eps}")
    hook = hook or Hook()
    V, n = eps.size, model.n
    root = _seed_root(seed)
    init_ss, noise_ss = root.spawn(2)

    levels = [Integrator(model, p, scheme, dt, B)]
    if coupled:
        levels.append(Integrator(model, p, scheme, dt / 2.0, B))
    finest = levels[-1]
    n_fine = n_steps * (2 if coupled else 1)
    steps = [n_steps] + ([n_fine] if coupled else [])
    ratio = [2 if coupled else 1, 1][:len(levels)]   # fine steps per step of each level

    # inputs ε_v·(in_map u(t_i)) and constants, per level, shape (V, steps_l, n)
    inputs: list[np.ndarray | None] = [None] * len(levels)
    if u is not None:
        U = input_table(u, np.arange(n_fine) * finest.dt, model.m) if n_fine else \
            np.zeros((0, model.m))
        for li, integ in enumerate(levels):
            Ul = U[::ratio[li]]
            inputs[li] = eps[:, None, None] * (Ul @ integ.in_map.T)[None]
    active = [np.flatnonzero(eps != 0.0) for _ in levels]

    sampler, fixed = _resolve_initial(model, initial, n_paths)
    blocks = [(s, min(SEED_BLOCK, n_paths - s)) for s in range(0, n_paths, SEED_BLOCK)]
    init_children = init_ss.spawn(len(blocks))
    noise_children = noise_ss.spawn(len(blocks))
    per_chunk = max(1, -(-int(chunk_size) // SEED_BLOCK))
    chunks = [list(range(j, min(j + per_chunk, len(blocks))))
              for j in range(0, len(blocks), per_chunk)]
    interest = [np.asarray(hook.interest(li, steps[li]), dtype=bool) for li in range(len(levels))]
    for li, mask in enumerate(interest):
        if mask.shape != (steps[li] + 1,):
            raise SimulationError("hook.interest returned a mask of the wrong length")

    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)()) and \
            n_paths * n_fine > 5e7
    from tqdm.auto import tqdm
    bar = tqdm(total=len(chunks) * n_fine, unit="step", disable=not progress,
               desc=f"{scheme} dt={dt:g}", leave=False)
    K = TIME_BLOCK
    d = finest.noise_dim
    m_xi = None if B is None else B.shape[1]
    pool = ThreadPoolExecutor(max_workers=1) if prefetch_noise else None
    try:
        for chunk in chunks:
            offset = blocks[chunk[0]][0]
            sizes = [blocks[j][1] for j in chunk]
            P = sum(sizes)
            gens = [np.random.Generator(np.random.SFC64(noise_children[j])) for j in chunk]
            if fixed is not None:
                h0 = np.array(fixed[offset:offset + P], dtype=float)
            elif hasattr(sampler, "sample_blocks"):   # vectorised over the chunk's blocks
                rngs = [np.random.Generator(np.random.PCG64(init_children[j])) for j in chunk]
                h0 = np.asarray(sampler.sample_blocks(rngs, sizes), dtype=float)
                if h0.shape != (P, n):
                    raise SimulationError(f"initial sampler returned shape {h0.shape}, "
                                          f"expected {(P, n)}")
            else:
                parts = []
                for j, size in zip(chunk, sizes, strict=True):
                    rng = np.random.Generator(np.random.PCG64(init_children[j]))
                    x = np.asarray(sampler(rng, size), dtype=float)
                    if x.shape != (size, n):
                        raise SimulationError(f"initial sampler returned shape {x.shape}, "
                                              f"expected {(size, n)}")
                    parts.append(x)
                h0 = np.concatenate(parts)
            # internal layout (V, n, P): paths on the contiguous axis; hooks get (V, P, n) views
            states, nexts = [], []
            for integ in levels:
                states.append(np.array(np.broadcast_to(h0.T, (V, n, P)), dtype=float))
                nexts.append(np.empty((V, n, P)))
                integ.allocate((V, n, P))
            scratch = np.empty(K * SEED_BLOCK * d)
            buffers = [(np.empty((K, n, P)), None if m_xi is None else np.empty((K, m_xi, P)))
                       for _ in range(2)]

            def draw(k0: int, buf, gens=gens, sizes=sizes, scratch=scratch):
                """Noise of fine steps k0.. for every seed block of the chunk (time-major)."""
                Kb = min(K, n_fine - k0)
                eb = buf[0][:Kb]
                xb = None if buf[1] is None else buf[1][:Kb]
                pos = 0
                for g, size in zip(gens, sizes, strict=True):
                    z = scratch[:Kb * size * d].reshape(Kb, d, size)
                    g.standard_normal(out=z)
                    finest.noise(z, eb[:, :, pos:pos + size],
                                 None if xb is None else xb[:, :, pos:pos + size])
                    pos += size
                return eb, xb

            hook.start_chunk(offset, P)
            for li in range(len(levels)):
                if interest[li][0]:
                    hook.on_state(li, 0, states[li].transpose(0, 2, 1))
            starts = list(range(0, n_fine, K))
            pending = None
            if starts:
                pending = pool.submit(draw, 0, buffers[0]) if pool else draw(0, buffers[0])
            for bi, k0 in enumerate(starts):
                eb, xb = pending.result() if pool else pending
                if bi + 1 < len(starts):
                    nxt_buf = buffers[(bi + 1) % 2]
                    pending = pool.submit(draw, starts[bi + 1], nxt_buf) if pool else \
                        draw(starts[bi + 1], nxt_buf)
                Kb = eb.shape[0]
                for li, integ in enumerate(levels):
                    if li == 0 and coupled:
                        eta = finest.coarsen(eb)
                        xi = None if xb is None else xb[0::2] + xb[1::2]
                    else:
                        eta, xi = eb, xb
                    s0 = k0 // ratio[li]
                    nb = Kb // ratio[li]
                    if xi is not None:
                        hook.on_xi(li, s0, xi.transpose(0, 2, 1))
                    if np.any(integ.const):
                        eta += integ.const[:, None]
                    inp = inputs[li]
                    per_step = inp is not None and V > 1
                    if inp is not None and V == 1 and active[li].size:
                        eta += inp[0, s0:s0 + nb, :, None]
                    saved = states[li].copy()
                    h, nxt = states[li], nexts[li]
                    mask = interest[li]
                    for kk in range(nb):
                        integ.step(h, nxt)
                        nxt += eta[kk]
                        if per_step:
                            for v in active[li]:
                                nxt[v] += inp[v, s0 + kk, :, None]
                        h, nxt = nxt, h
                        if mask[s0 + kk + 1]:
                            hook.on_state(li, s0 + kk + 1, h.transpose(0, 2, 1))
                    states[li], nexts[li] = h, nxt
                    hi, lo = h.max(), h.min()
                    if not (hi <= max_norm and lo >= -max_norm):
                        _locate_divergence(integ, saved, eta, inp if per_step else None,
                                           active[li], s0, nb, max_norm, offset, u is not None)
                bar.update(Kb)
            hook.end_chunk()
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return RunInfo(dt=float(dt), n_steps=int(n_steps), n_paths=n_paths, scheme=scheme,
                   entropy=root.entropy, coupled=coupled)


def _locate_divergence(integ: Integrator, h: np.ndarray, eta: np.ndarray, inp, active,
                       s0: int, nb: int, max_norm: float, offset: int, has_input: bool) -> None:
    """Replay a block step by step from its saved start and raise at the first bad step."""
    nxt = np.empty_like(h)
    for kk in range(nb):
        integ.step(h, nxt)
        nxt += eta[kk]
        if inp is not None:
            for v in active:
                nxt[v] += inp[v, s0 + kk, :, None]
        h, nxt = nxt, h
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(h) | (np.abs(h) > max_norm)
        if bad.any():
            step = s0 + kk + 1
            path = offset + int(np.argwhere(bad.any(axis=-2))[0][-1])
            kind = "a non-finite value" if not np.all(np.isfinite(h)) else \
                f"|h| > max_norm = {max_norm:g}"
            hint = " (check the input u and eps)" if has_input else ""
            raise DivergenceError(
                f"simulation diverged at step {step} (t = {step * integ.dt:g}, dt = "
                f"{integ.dt:g}): path {path} reached {kind}{hint}",
                step=step, time=step * integ.dt, path=path, dt=integ.dt)
    raise DivergenceError(f"simulation diverged in steps {s0 + 1}..{s0 + nb} (t ≤ "
                          f"{(s0 + nb) * integ.dt:g})", step=s0 + nb,
                          time=(s0 + nb) * integ.dt, path=offset, dt=integ.dt)


# ---------------------------------------------------------------------- simulate()
@dataclass
class Ensemble:
    """States (or observable values) of ``n_paths`` paths at the requested ``times``.

    ``states`` has shape ``(T, n_paths, n)`` (``None`` if not kept); ``values`` has shape
    ``(T, n_paths)`` when an observable was given. ``seed`` is the entropy that reproduces
    the run.
    """

    times: np.ndarray
    states: np.ndarray | None
    values: np.ndarray | None
    dt: float
    n_paths: int
    scheme: str
    eps: float
    seed: int


class _Recorder(Hook):
    def __init__(self, idx: np.ndarray, T: int, n_paths: int, n: int, f, keep_states: bool):
        self.idx, self.f = idx, f
        self.where: dict[int, list[int]] = {}
        for j, i in enumerate(idx):
            self.where.setdefault(int(i), []).append(j)
        self.states = np.empty((T, n_paths, n)) if keep_states else None
        self.values = np.empty((T, n_paths)) if f is not None else None

    def interest(self, level, n_steps):
        mask = np.zeros(n_steps + 1, dtype=bool)
        mask[self.idx] = True
        return mask

    def start_chunk(self, offset, size):
        self.sl = slice(offset, offset + size)

    def on_state(self, level, i, h):
        for j in self.where[i]:
            if self.states is not None:
                self.states[j, self.sl] = h[0]
            if self.values is not None:
                self.values[j, self.sl] = self.f(h[0])


def simulate(model: SRNN, times, *, n_paths: int, dt: float, scheme: str = "euler",
             u: Callable | None = None, eps: float = 1.0, observable=None, initial=None,
             seed=None, keep_states: bool = True, chunk_size: int = DEFAULT_CHUNK,
             progress: bool | None = None, max_norm: float = 1e8,
             prefetch_noise: bool = True) -> Ensemble:
    """Simulate ``n_paths`` paths and return their states at ``times`` (multiples of dt).

    ``u``: input ``u(t) -> (m,)`` (scaled by ``eps``), ``None`` for the unperturbed
    dynamics. ``initial``: ``None``/"stationary" (draws from ``p0``), a sampler, a state
    ``(n,)`` or an array ``(n_paths, n)``. ``observable``: also record ``f(h_t)``.
    """
    idx = time_indices(times, dt)
    n_paths = _check_n_paths(n_paths)
    f = compile_observable(model, observable) if observable is not None else None
    rec = _Recorder(idx, idx.size, n_paths, model.n, f, keep_states)
    info = run_paths(model, n_paths=n_paths, dt=dt, n_steps=int(idx.max()), scheme=scheme,
                     hook=rec, eps=(eps,), u=u, initial=initial, seed=seed,
                     chunk_size=chunk_size, progress=progress, max_norm=max_norm,
                     prefetch_noise=prefetch_noise)
    return Ensemble(times=idx * float(dt), states=rec.states, values=rec.values, dt=float(dt),
                    n_paths=n_paths, scheme=scheme, eps=float(eps), seed=info.entropy)
