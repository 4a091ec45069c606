"""Ensembles of SRNN paths, vectorised over paths and chunked over paths (docs/theory.md §7, §12).

    dh_t = [ -Γ h_t + a(W h_t + b) + ε C u(t) ] dt + σ dB_t ,   h_0 ~ p0 ,   t_i = i·dt

Conventions
-----------
* ``u(t)`` returns an array of shape ``(m,)``; it is evaluated once on the time grid (in
  the calling process) and frozen on each step at its left end point ``u(t_i)``.
* Reproducibility (docs/theory.md §12): paths are grouped in fixed blocks of :data:`SEED_BLOCK`
  paths. Block ``j`` of a run with seed ``s`` draws its initial states from the keyed
  stream ``SeedSequence(s, spawn_key=(0, j))`` (PCG64) and its noise from
  ``SeedSequence(s, spawn_key=(1, j))`` (SFC64) — the same streams as
  ``SeedSequence(s).spawn(2)[c].spawn(n_blocks)[j]``, built directly so that no list of
  streams is ever allocated. Within a block the normals are consumed in the order (time
  step, noise coordinate, path) — time-major — so the numbers depend neither on
  ``chunk_size`` (a chunk is a run of consecutive blocks) nor on how many steps of noise
  are generated at once, nor on which process integrated the chunk.
* A *chunk* is the unit of work: :meth:`PathJob.run_chunk` is a pure function of the chunk
  index; :func:`volterra_sym.montecarlo.distributed.map_chunks` runs the chunks in-process
  or on a Dask cluster and hands their results back in chunk order.
* Variants: several input amplitudes ``ε_v`` can be simulated in lockstep with *common
  random numbers* (same initial states, same noise).
* Companion (control variates): a second model (the linearised network) integrated with
  the same standard normals (hence the same Brownian increments) and its own initial
  states (stream ``(2, j)``); hooks then see ``2V`` variants, the companion's last.
* Two-level runs (``coupled=True``): the same Brownian paths are integrated with ``dt``
  and ``dt/2`` (coarse noise = sum of two fine increments, resp. the exact OU combination
  ``e^{-L dt/2} ξ₁ + ξ₂``), so the time-step bias ``v(dt) - v(dt/2)`` is measured with a
  small variance. ``levels=3`` adds ``dt/4`` on the same paths (noise coarsened twice), so
  that the O(dt²) remainder of the two-level Richardson extrapolation is measured too.
* Only requested states are handed to *hooks* (estimators); full paths are never stored.
  Memory per chunk is bounded by the chunk size: states ``O(V n P)`` and a noise buffer of
  at most :data:`NOISE_BUFFER_BYTES` (the number of steps drawn at once adapts to it).
* Divergence (a non-finite state or ``max |h| > max_norm``) is checked after every block of
  steps; the block is then replayed step by step from a saved state to report the first
  bad step, its time and path (:class:`DivergenceError`).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..arrays import check_flag, check_int, positive_number, real_array, state_points
from ..budget import check_count, check_memory
from ..density.sampling import SAMPLING_METHODS
from ..density.tails import average_diverges
from ..errors import DivergentAverageError, InvalidInputError, SimulationError, VolterraSymError
from ..model import SRNN, check_model
from ..model.noise import FEATURE_STATE_NOISE
from .distributed import check_client, map_chunks
from .integrators import Integrator, check_time_step, model_arrays
from .sampling import stationary_sampler

__all__ = ["SEED_BLOCK", "TIME_BLOCK", "DivergenceError", "Ensemble", "simulate",
           "compile_observable", "input_table", "time_indices", "run_paths", "Hook",
           "PathJob", "Companion", "block_seed", "block_sizes", "block_generators",
           "block_initial", "block_normals", "MAX_PATH_STEPS", "MAX_STEPS",
           "check_amplitude"]

#: paths per random-number stream (fixed: changing it changes the numbers)
SEED_BLOCK = 256
#: at most this many fine steps of noise are generated at once (does not change the numbers)
TIME_BLOCK = 32
#: target size of one noise buffer (two are used: one filled while the other is consumed)
NOISE_BUFFER_BYTES = 16 * 2**20
#: target size of one state array ``(V, n, P)`` of a chunk (sets the default chunk size)
CHUNK_STATE_BYTES = 4 * 2**20
#: largest default chunk (paths)
DEFAULT_CHUNK = 16384
#: how the ensemble engine names itself when it refuses the input inside the activation
ADDITIVE_ENGINE = ("the ensemble engine (it adds εCu(t) to the drift; "
                   "volterra_sym.montecarlo.crn_responses simulates these models on an "
                   "engine of their own)")
#: refuse runs of more path-steps than this (about 10 days of one core at 100 ns each)
MAX_PATH_STEPS = 1e13
#: refuse time grids of more steps than this
MAX_STEPS = 1e9

#: stream keys below the run's seed: initial states, noise, companion initial states
INIT_STREAM, NOISE_STREAM, COMPANION_STREAM = 0, 1, 2


class DivergenceError(SimulationError):
    """A path left every bound; ``step``, ``time``, ``path`` say where it happened first."""

    def __init__(self, message: str, *, step: int, time: float, path: int, dt: float):
        super().__init__(message)
        self.step, self.time, self.path, self.dt = step, time, path, dt

    def __reduce__(self):  # picklable (raised on Dask workers, re-raised by the client)
        return (_rebuild_divergence, (str(self), self.step, self.time, self.path, self.dt))


def _rebuild_divergence(message, step, time, path, dt):
    return DivergenceError(message, step=step, time=time, path=path, dt=dt)


# ---------------------------------------------------------------------- inputs, observables
def compile_observable(model: SRNN, observable=None) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised observable ``f``: array ``(..., n)`` -> ``(...)``.

    ``observable`` is ``None`` (the model's default), a string or SymPy expression in
    ``h1..hn`` (lambdified), or a numpy callable taking ``(..., n)`` and returning ``(...)``.
    The compiled expression refuses states that are not real points ``(..., n)``
    (:func:`~volterra_sym.arrays.state_points`, ``param="x"``); an observable that is NaN
    or infinite at a finite state (e.g. ``sqrt(-1 - h1**2)``, or a callable returning NaN)
    is an :class:`~volterra_sym.errors.InvalidInputError` naming ``observable`` (it made the
    estimates NaN silently, or a kick run report a divergence), and so is one without an
    average (:class:`~volterra_sym.errors.DivergentAverageError`, e.g. ``exp(exp(h1))``:
    :func:`~volterra_sym.density.tails.average_diverges`).
    """
    check_model(model)
    if callable(observable) and not isinstance(observable, sp.Basic):
        return _CallableObservable(observable)
    expr = model.observable(observable)     # SymPy input too: the whitelist of the parser
    by_name = {hi.name: hi for hi in model.h}
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols
                          if s.name in by_name and s not in model.h})
    extra = expr.free_symbols - set(model.h)
    if extra:
        raise InvalidInputError(f"observable {expr} has free symbols "
                                f"{sorted(map(str, extra))} besides the state "
                                f"{', '.join(map(str, model.h))}", param="observable")
    diverges = average_diverges(model, expr)
    if diverges is not None:
        raise DivergentAverageError(f"observable: {diverges} (nor does E f(h_t) at any t > 0: "
                                    "sample means of it only grow with the paths)",
                                    param="observable")
    lam = sp.lambdify(model.h, expr, "numpy")
    n = model.n

    def f_expr(x: np.ndarray) -> np.ndarray:
        x = state_points(x, n)
        val = lam(*(x[..., i] for i in range(n)))
        return _defined(np.broadcast_to(np.asarray(val, dtype=float), x.shape[:-1]), x, expr)
    f_expr.expr = expr
    return f_expr


class _CallableObservable:
    """A user's numpy observable with its output shape checked."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.expr = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = real_array(self.fn(x), "observable", objects=True, finite=False,
                         what="real values, one per state")
        if out.shape != x.shape[:-1]:
            raise InvalidInputError(f"observable returned shape {out.shape} for states of "
                                    f"shape {x.shape}; expected {x.shape[:-1]}",
                                    param="observable")
        return _defined(out, x, self.fn)


def _defined(out: np.ndarray, x: np.ndarray, what) -> np.ndarray:
    """``out`` unless the observable is NaN/inf at a finite state (then
    :class:`~volterra_sym.errors.InvalidInputError` naming ``observable``); non-finite
    states are left to the divergence checks of the run."""
    bad = ~np.isfinite(out)
    if bad.any():
        states = np.asarray(x)[bad]
        ok = np.all(np.isfinite(states), axis=-1)
        if ok.any():
            h = states[ok][0]
            raise InvalidInputError(f"observable {getattr(what, '__name__', what)} is not "
                                    f"finite at the state h = {h}: it must be defined "
                                    "(finite) on the whole state space", param="observable")
    return out


def require_input(u, m: int) -> None:
    """A response needs an input: ``u`` callable, else
    :class:`~volterra_sym.errors.InvalidInputError` (``param="u"``) — ``None`` means "no
    input" only to :func:`simulate` (the unperturbed paths); a response to it would be the
    zeros of ``ε·0``."""
    if not callable(u):
        raise InvalidInputError(f"u must be a callable u(t) -> array of shape ({m},), got "
                                f"{type(u).__name__}", param="u")


def input_table(u: Callable, times: np.ndarray, m: int) -> np.ndarray:
    """``u(t_i)`` for every grid time, shape ``(len(times), m)``; checks ``u``'s output.

    ``u`` raising, returning ``None``, a non-numeric value, the wrong shape, NaN or an
    infinite value is an :class:`~volterra_sym.errors.InvalidInputError` (``param="u"``,
    chained to the function's own exception where it raised): an infinite input used to
    surface later as "a path diverged", without naming ``u``.
    """
    require_input(u, m)
    out = np.empty((len(times), m))
    for i, t in enumerate(times):
        try:
            raw = u(float(t))
        except VolterraSymError:
            raise
        except Exception as exc:                 # noqa: BLE001 - the user's function
            raise InvalidInputError(f"u({t:g}) raised {type(exc).__name__}: {exc}"[:300],
                                    param="u") from exc
        if raw is None:
            raise InvalidInputError(f"u({t:g}) returned None; u must return an array of "
                                    f"shape ({m},) (did the function forget to return?)",
                                    param="u")
        try:
            val = real_array(raw, "u", objects=True, finite=False,
                             what=f"a real array of shape ({m},) (nothing is cut to its "
                                  "real part)")
        except InvalidInputError as exc:
            raise InvalidInputError(f"u({t:g}): {exc}", param="u") from None
        if val.shape != (m,) and not (m == 1 and val.ndim == 0):
            raise InvalidInputError(f"u({t:g}) returned shape {val.shape}; u must return an "
                                    f"array of shape ({m},) (one entry per input channel, "
                                    f"m = {m})", param="u")
        if np.any(np.isnan(val)):
            raise InvalidInputError(f"u({t:g}) returned NaN", param="u")
        if not np.all(np.isfinite(val)):
            raise InvalidInputError(f"u({t:g}) returned an infinite value; the input must be "
                                    "finite", param="u")
        out[i] = val
    return out


def time_indices(times, dt: float, what: str = "times") -> np.ndarray:
    """Step indices ``t / dt`` of non-negative times that are multiples of ``dt``.

    Refuses (``ResourceLimitError``) grids needing more than :data:`MAX_STEPS` steps —
    ``dt`` too small for the times asked.
    """
    dt = positive_number(dt, "dt")
    t = np.atleast_1d(real_array(times, what, objects=True, finite=False,
                                 what="a 1-d sequence of numbers"))
    if t.ndim != 1 or t.size == 0:
        raise InvalidInputError(f"{what} must be a non-empty 1-d sequence of times", param=what)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InvalidInputError(f"{what} must be finite and ≥ 0, got {t}", param=what)
    with np.errstate(over="ignore"):
        ratio = t / float(dt)
    top = float(np.max(ratio))
    if not np.isfinite(top) or top > MAX_STEPS:
        check_count(top if np.isfinite(top) else float("inf"), MAX_STEPS,
                    f"dt = {dt:g} is too small: {what} up to {float(np.max(t)):g}",
                    "steps", f"raise dt or lower the {what}")
    k = np.rint(ratio)
    off = np.abs(k * dt - t) > 1e-9 * np.maximum(1.0, np.abs(t))
    if np.any(off):
        raise InvalidInputError(f"{what} must be multiples of dt = {dt:g}; {t[off][0]:g} is "
                                "not", param=what)
    return k.astype(np.int64)


def _seed_root(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                      pool_size=seed.pool_size)
    if seed is not None:
        seed = check_int(seed, "seed", lo=0, what="or a SeedSequence or None")
    return np.random.SeedSequence(seed)


def block_seed(root: np.random.SeedSequence, stream: int, j: int) -> np.random.SeedSequence:
    """The keyed stream of seed block ``j``: ``SeedSequence(s, spawn_key=key + (stream, j))``
    (equal to ``root.spawn(stream + 1)[stream].spawn(j + 1)[j]``)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (stream, j),
                                  pool_size=root.pool_size)


def block_sizes(blocks, n_paths: int) -> list[int]:
    """Paths in each of the seed blocks ``blocks`` (the last one of a run may be short)."""
    return [min(SEED_BLOCK, n_paths - j * SEED_BLOCK) for j in blocks]


def block_generators(root: np.random.SeedSequence, stream: int,
                     blocks) -> list[np.random.Generator]:
    """One PCG64 generator per seed block (:func:`block_seed`): draws made block by block do
    not depend on how the blocks are grouped into chunks."""
    return [np.random.Generator(np.random.PCG64(block_seed(root, stream, j))) for j in blocks]


def block_initial(sampler, rngs: list[np.random.Generator], sizes: list[int],
                  n: int) -> np.ndarray:
    """Initial states ``(P, n)`` of the seed blocks, each from its own generator (a sampler
    with ``sample_blocks`` draws the chunk's blocks at once); a sampler returning another
    shape is an :class:`~volterra_sym.errors.InvalidInputError` (``param="initial"``)."""
    if hasattr(sampler, "sample_blocks"):   # vectorised over the chunk's blocks
        h0 = np.asarray(sampler.sample_blocks(rngs, sizes), dtype=float)
        if h0.shape != (sum(sizes), n):
            raise InvalidInputError(f"initial sampler returned shape {h0.shape}, "
                                    f"expected {(sum(sizes), n)}", param="initial")
        return h0
    parts = []
    for rng, size in zip(rngs, sizes, strict=True):
        x = np.asarray(sampler(rng, size), dtype=float)
        if x.shape != (size, n):
            raise InvalidInputError(f"initial sampler returned shape {x.shape}, "
                                    f"expected {(size, n)}", param="initial")
        parts.append(x)
    return np.concatenate(parts)


def block_normals(rngs: list[np.random.Generator], sizes: list[int], r: int) -> np.ndarray:
    """Standard normals ``(P, r)``, each seed block's rows from its own generator."""
    return np.concatenate([g.standard_normal((k, r)) for g, k in zip(rngs, sizes,
                                                                      strict=True)])


def check_amplitude(eps, name: str = "eps") -> float:
    """``eps`` as a finite real amplitude (a 0-d numeric array too); strings, booleans,
    complex numbers, sequences, NaN and inf are an
    :class:`~volterra_sym.errors.InvalidInputError` naming ``name`` (a string was converted
    by ``float()``, outside the whitelist parser)."""
    if isinstance(eps, np.ndarray) and eps.ndim == 0 and eps.dtype.kind in "iuf":
        eps = eps.item()
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer,
                                                                   np.floating)):
        raise InvalidInputError(f"{name} must be a finite real number, got {eps!r}"[:300],
                                param=name)
    if not np.isfinite(eps):
        raise InvalidInputError(f"{name} must be finite, got {eps}", param=name)
    return float(eps)


def _check_n_paths(n_paths) -> int:
    return check_int(n_paths, "n_paths", lo=2,
                     what="standard errors need at least two paths")


def _resolve_initial(model: SRNN, initial, n_paths: int):
    """``(sampler, fixed)``: a sampler, or a fixed array ``(n_paths, n)``."""
    if initial is None or (isinstance(initial, str) and initial == "stationary"):
        return stationary_sampler(model), None
    if isinstance(initial, str):
        if initial not in SAMPLING_METHODS:
            raise InvalidInputError(f"initial must be a sampler, an array of states, "
                                    f"'stationary' or a sampling method of p0 "
                                    f"({', '.join(SAMPLING_METHODS)}), got {initial!r}",
                                    param="initial")
        return stationary_sampler(model, initial), None
    if callable(initial):
        return initial, None
    arr = real_array(initial, "initial", finite=False,
                     what="a sampler, 'stationary' or an array of real numbers")
    if arr.shape == (model.n,):
        arr = np.broadcast_to(arr, (n_paths, model.n))
    if arr.shape != (n_paths, model.n):
        raise InvalidInputError(f"initial must be a sampler, 'stationary', an array "
                                f"({model.n},) or ({n_paths}, {model.n}); got shape "
                                f"{arr.shape}", param="initial")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("initial states must be finite", param="initial")
    return None, arr


def default_chunk_size(n: int, variants: int = 1) -> int:
    """Paths per chunk: one state array ``(V, n, P)`` of about :data:`CHUNK_STATE_BYTES`,
    between one seed block and :data:`DEFAULT_CHUNK`, a multiple of :data:`SEED_BLOCK`."""
    P = CHUNK_STATE_BYTES // (8 * max(1, n) * max(1, variants))
    P = min(DEFAULT_CHUNK, max(SEED_BLOCK, P))
    return int(P // SEED_BLOCK * SEED_BLOCK)


# ---------------------------------------------------------------------- the engine
class Hook:
    """What an estimator sees of a run (all methods optional to override).

    Levels: level ``l`` is the run at ``dt_l = dt/2^l`` (``l = 0`` always; 1 and 2 in
    coupled runs of two and three levels). State index ``i`` of level ``l`` is the state
    at time ``i·dt_l``. States are arrays
    ``(V, P, n)`` (variants × paths of the chunk × state; with a companion, ``2V``).

    The engine works on a shallow copy of the hook per chunk: ``start_chunk`` must
    (re)create every per-chunk attribute, and what ``end_chunk`` returns is the chunk's
    result, handed to ``on_chunk(i, result)`` in chunk order in the calling process (on a
    Dask cluster the hook runs on a worker: results must be returned, not accumulated).
    """

    def interest(self, level: int, n_steps: int) -> np.ndarray:
        """Boolean array of length ``n_steps + 1``: state indices passed to ``on_state``."""
        return np.zeros(n_steps + 1, dtype=bool)

    def start_chunk(self, offset: int, size: int) -> None: ...

    def on_xi(self, level: int, k0: int, xi: np.ndarray) -> None:
        """``xi[k] = (B_cᵀ ΔB_{k0+k})_c`` for the increments ``k0 .. k0+len(xi)-1``."""

    def on_state(self, level: int, i: int, h: np.ndarray) -> None: ...

    def end_chunk(self):
        return None


@dataclass
class RunInfo:
    dt: float
    n_steps: int
    n_paths: int
    scheme: str
    entropy: int
    coupled: bool
    levels: int = 1
    n_chunks: int = 0
    chunk_size: int = 0


@dataclass
class Companion:
    """A second model integrated with the same normals (docs/theory.md §7, control variates):
    ``model`` (linear: its exponential step is exact) and its initial-state ``sampler``."""

    model: SRNN
    sampler: Callable


class PathJob:
    """A validated run plan; :meth:`run_chunk` integrates one chunk (a pure function of
    the chunk index) and returns the hook's result. Picklable (shipped to Dask workers)."""

    def __init__(self, model: SRNN, *, n_paths: int, dt: float, n_steps: int,
                 scheme: str = "euler", hook: Hook | None = None,
                 eps: Sequence[float] = (0.0,), u: Callable | None = None, initial=None,
                 seed=None, coupled: bool = False, B: np.ndarray | None = None,
                 chunk_size: int | None = None, max_norm: float = 1e8,
                 prefetch_noise: bool = True, companion: Companion | None = None,
                 input_delay: int = 0, levels: int | None = None):
        n_paths = _check_n_paths(n_paths)
        p = model_arrays(model)
        check_time_step(model, p, dt, scheme)
        check_int(n_steps, "n_steps", lo=0)
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size", lo=1)
        if not (isinstance(max_norm, (int, float, np.floating)) and max_norm > 0):
            raise InvalidInputError(f"max_norm must be positive, got {max_norm!r}",
                                    param="max_norm")
        eps = np.atleast_1d(real_array(eps, "eps", objects=True, finite=False))
        if eps.ndim != 1 or eps.size == 0 or not np.all(np.isfinite(eps)):
            raise InvalidInputError(f"eps must be a non-empty 1-d sequence of finite numbers, "
                                    f"got {eps}", param="eps")
        coupled = check_flag(coupled, "coupled")
        levels = check_levels(levels, coupled)
        coupled = levels > 1
        prefetch_noise = check_flag(prefetch_noise, "prefetch_noise")
        check_int(input_delay, "input_delay", lo=0, what="steps of dt")
        if hook is not None and not all(callable(getattr(hook, name, None)) for name in
                                        ("interest", "start_chunk", "on_xi", "on_state",
                                         "end_chunk")):
            raise InvalidInputError(f"hook must be a Hook (a subclass of "
                                    f"volterra_sym.montecarlo.simulate.Hook) or None, got "
                                    f"{type(hook).__name__}", param="hook")
        if companion is not None and not isinstance(companion, Companion):
            raise InvalidInputError(f"companion must be a Companion(model, sampler) or None, "
                                    f"got {type(companion).__name__}", param="companion")
        if B is not None:
            B = real_array(B, "B", ndim=2, what="a finite matrix (r, m_B) with C = σB")
            if B.shape[0] != model.r:
                raise InvalidInputError(f"B must have {model.r} rows (one per noise source, "
                                        f"C = σB), got shape {B.shape}", param="B")
        self.n_paths, self.n_steps, self.scheme = n_paths, int(n_steps), scheme
        self.coupled, self.max_norm = coupled, float(max_norm)
        self.prefetch_noise = prefetch_noise
        self.hook = hook or Hook()
        self.V, self.n, self.eps = eps.size, model.n, eps
        self.root = _seed_root(seed)
        self.n_levels = levels
        self.n_fine = self.n_steps * 2 ** (levels - 1)
        self.steps = [self.n_steps * 2 ** li for li in range(levels)]
        self.ratio = [2 ** (levels - 1 - li) for li in range(levels)]   # fine steps per step
        groups = [(model, p)]
        if companion is not None:
            pc = model_arrays(companion.model)
            check_time_step(companion.model, pc, dt, scheme)
            if companion.model.n != model.n or companion.model.m != model.m:
                raise InvalidInputError("the companion model must have the same n and m",
                                        param="companion")
            groups.append((companion.model, pc))
        self.n_groups = len(groups)
        # integrators per group and level
        self.levels: list[list[Integrator]] = []
        for gm, gp in groups:
            self.levels.append([Integrator(gm, gp, scheme, dt / 2.0 ** li, B)
                                for li in range(levels)])
        dims = {lv[-1].noise_dim for lv in self.levels}
        if len(dims) != 1:
            raise InvalidInputError("the companion needs the same noise dimension",
                                    param="companion")
        self.noise_dim = dims.pop()
        self.m_xi = None if B is None else int(B.shape[1])
        # path-step budget (refused before anything is allocated)
        check_count(float(n_paths) * (self.n_fine + 1) * self.n_groups, MAX_PATH_STEPS,
                    f"{n_paths:.3g} paths × {self.n_fine + 1} steps", "path-steps",
                    "lower n_paths (or split the run over several seeds)")
        # inputs ε_v·(in_map u(t_i)) per group and level, shape (V, steps_l, n)
        self.inputs: list[list[np.ndarray | None]] = [[None] * len(self.steps)
                                                      for _ in groups]
        if u is not None and np.any(eps != 0.0):
            for gm, _ in groups:     # (σ(h) is refused by the integrators' numpy_params)
                gm.require_features((FEATURE_STATE_NOISE,), ADDITIVE_ENGINE)
        if u is not None:
            fine_dt = self.levels[0][-1].dt
            lag = int(input_delay) * self.ratio[0]        # fine steps before the input starts
            U = np.zeros((self.n_fine, model.m))
            if self.n_fine > lag:
                U[lag:] = input_table(u, np.arange(self.n_fine - lag) * fine_dt, model.m)
            for g, lv in enumerate(self.levels):
                for li, integ in enumerate(lv):
                    Ul = U[::self.ratio[li]]
                    self.inputs[g][li] = eps[:, None, None] * (Ul @ integ.in_map.T)[None]
        self.has_input = u is not None
        self.active = np.flatnonzero(eps != 0.0)
        self.sampler, self.fixed = _resolve_initial(model, initial, n_paths)
        self.companion_sampler = None if companion is None else companion.sampler
        self.n_blocks = -(-n_paths // SEED_BLOCK)
        V_tot = self.V * self.n_groups
        cs = default_chunk_size(self.n, V_tot) if chunk_size is None else int(chunk_size)
        self.per_chunk = max(1, -(-cs // SEED_BLOCK))
        self.chunk_size = self.per_chunk * SEED_BLOCK
        self.n_chunks = -(-self.n_blocks // self.per_chunk)
        self.interest = [np.asarray(self.hook.interest(li, self.steps[li]), dtype=bool)
                         for li in range(len(self.steps))]
        for li, mask in enumerate(self.interest):
            if mask.shape != (self.steps[li] + 1,):
                raise InvalidInputError("hook.interest returned a mask of the wrong length",
                                        param="hook")
        # steps of noise drawn at once: a buffer (K, n, P) of at most NOISE_BUFFER_BYTES
        P = min(self.chunk_size, n_paths)
        per_step = 8 * P * (self.n * self.n_groups + (self.m_xi or 0))
        q = max(2, self.ratio[0])           # a block holds whole coarse steps
        K = int(min(TIME_BLOCK, max(q, NOISE_BUFFER_BYTES // max(per_step, 1))))
        self.K = K - (K % q)
        self.dt = float(dt)

    # ------------------------------------------------------------------ layout
    def chunk_layout(self, i: int) -> tuple[int, list[int], list[int]]:
        """``(offset, sizes, blocks)`` of chunk ``i``: first path, block sizes, block ids."""
        if not 0 <= i < self.n_chunks:
            raise InvalidInputError(f"chunk index {i} outside 0..{self.n_chunks - 1}",
                                    param="chunk")
        blocks = list(range(i * self.per_chunk, min((i + 1) * self.per_chunk, self.n_blocks)))
        sizes = block_sizes(blocks, self.n_paths)
        return blocks[0] * SEED_BLOCK, sizes, blocks

    def _sample(self, sampler, stream: int, blocks: list[int], sizes: list[int]) -> np.ndarray:
        return block_initial(sampler, block_generators(self.root, stream, blocks), sizes,
                             self.n)

    def initial_states(self, blocks: list[int], sizes: list[int], group: int = 0
                       ) -> np.ndarray:
        """Initial states ``(P, n)`` of the given seed blocks (group 1: the companion)."""
        if group == 1:
            return self._sample(self.companion_sampler, COMPANION_STREAM, blocks, sizes)
        if self.fixed is not None:
            a = blocks[0] * SEED_BLOCK
            return np.array(self.fixed[a:a + sum(sizes)], dtype=float)
        return self._sample(self.sampler, INIT_STREAM, blocks, sizes)

    # ------------------------------------------------------------------ one chunk
    def run_chunk(self, i: int, watch: Callable[[float], None] | None = None):
        """Integrate chunk ``i`` and return ``hook.end_chunk()`` (of a fresh hook copy);
        ``watch(done)`` (a :class:`~.distributed.PilotWatch`) sees the loop's progress."""
        hook = copy.copy(self.hook)
        offset, sizes, blocks = self.chunk_layout(i)
        P, n, V, K, d = sum(sizes), self.n, self.V, self.K, self.noise_dim
        G, nlev = self.n_groups, len(self.steps)
        h0s = [self.initial_states(blocks, sizes, g) for g in range(G)]
        gens = [np.random.Generator(np.random.SFC64(block_seed(self.root, NOISE_STREAM, j)))
                for j in blocks]
        # internal layout (V, n, P): paths on the contiguous axis; hooks get (V, P, n) views
        states = [[np.array(np.broadcast_to(h0s[g].T, (V, n, P)), dtype=float)
                   for _ in range(nlev)] for g in range(G)]
        nexts = [[np.empty((V, n, P)) for _ in range(nlev)] for g in range(G)]
        for g in range(G):
            for integ in self.levels[g]:
                integ.allocate((V, n, P))
        scratch = np.empty(K * SEED_BLOCK * d)
        m_xi = self.m_xi
        buffers = [([np.empty((K, n, P)) for _ in range(G)],
                    None if m_xi is None else np.empty((K, m_xi, P))) for _ in range(2)]
        finest = [lv[-1] for lv in self.levels]
        n_fine = self.n_fine

        def draw(k0: int, buf):
            """Noise of fine steps k0.. for every seed block of the chunk (time-major)."""
            Kb = min(K, n_fine - k0)
            ebs = [b[:Kb] for b in buf[0]]
            xb = None if buf[1] is None else buf[1][:Kb]
            pos = 0
            for gen, size in zip(gens, sizes, strict=True):
                z = scratch[:Kb * size * d].reshape(Kb, d, size)
                gen.standard_normal(out=z)
                for g in range(G):
                    finest[g].noise(z, ebs[g][:, :, pos:pos + size],
                                    None if (xb is None or g > 0) else xb[:, :, pos:pos + size])
                pos += size
            return ebs, xb

        def view(li: int) -> np.ndarray:
            if G == 1:
                return states[0][li].transpose(0, 2, 1)
            return np.concatenate([states[g][li] for g in range(G)]).transpose(0, 2, 1)

        hook.start_chunk(offset, P)
        for li in range(nlev):
            if self.interest[li][0]:
                hook.on_state(li, 0, view(li))
        starts = list(range(0, n_fine, K))
        pool = ThreadPoolExecutor(max_workers=1) if (self.prefetch_noise and len(starts) > 1) \
            else None
        try:
            pending = None
            if starts:
                pending = pool.submit(draw, 0, buffers[0]) if pool else draw(0, buffers[0])
            if watch is not None:
                watch(0.0)
            for bi, k0 in enumerate(starts):
                if watch is not None and bi:
                    watch(bi / len(starts))
                ebs, xb = pending.result() if pool else pending
                if bi + 1 < len(starts):
                    nxt_buf = buffers[(bi + 1) % 2]
                    pending = pool.submit(draw, starts[bi + 1], nxt_buf) if pool else \
                        draw(starts[bi + 1], nxt_buf)
                Kb = ebs[0].shape[0]
                # every level's noise from the finest (coarsened before any is modified)
                noise = [[None] * nlev for _ in range(G)]
                for g in range(G):
                    noise[g][-1] = ebs[g]
                    for li in range(nlev - 2, -1, -1):
                        noise[g][li] = self.levels[g][li + 1].coarsen(noise[g][li + 1])
                for li in range(nlev):
                    s0 = k0 // self.ratio[li]
                    nb = Kb // self.ratio[li]
                    etas, per_steps = [], []
                    for g in range(G):
                        integ = self.levels[g][li]
                        eta = noise[g][li]
                        if np.any(integ.const):
                            eta += integ.const[:, None]
                        inp = self.inputs[g][li]
                        per_step = inp is not None and V > 1
                        if inp is not None and V == 1 and self.active.size:
                            eta += inp[0, s0:s0 + nb, :, None]
                        etas.append(eta)
                        per_steps.append(per_step)
                    if xb is not None:
                        xi = xb
                        for _ in range(nlev - 1 - li):
                            xi = xi[0::2] + xi[1::2]
                        hook.on_xi(li, s0, xi.transpose(0, 2, 1))
                    saved = [states[g][li].copy() for g in range(G)]
                    mask = self.interest[li]
                    for kk in range(nb):
                        for g in range(G):
                            h, nxt = states[g][li], nexts[g][li]
                            self.levels[g][li].step(h, nxt)
                            nxt += etas[g][kk]
                            if per_steps[g]:
                                inp = self.inputs[g][li]
                                for v in self.active:
                                    nxt[v] += inp[v, s0 + kk, :, None]
                            states[g][li], nexts[g][li] = nxt, h
                        if mask[s0 + kk + 1]:
                            hook.on_state(li, s0 + kk + 1, view(li))
                    for g in range(G):
                        h = states[g][li]
                        hi, lo = h.max(), h.min()
                        # (an infinite state passed `inf <= max_norm` with max_norm = inf)
                        if not (np.isfinite(hi) and np.isfinite(lo)
                                and hi <= self.max_norm and lo >= -self.max_norm):
                            _locate_divergence(self.levels[g][li], saved[g], etas[g],
                                               self.inputs[g][li] if per_steps[g] else None,
                                               self.active, s0, nb, self.max_norm, offset,
                                               self.has_input, g == 1)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return hook.end_chunk()

    def info(self) -> RunInfo:
        return RunInfo(dt=self.dt, n_steps=self.n_steps, n_paths=self.n_paths,
                       scheme=self.scheme, entropy=self.root.entropy, coupled=self.coupled,
                       levels=self.n_levels,
                       n_chunks=self.n_chunks, chunk_size=self.chunk_size)


def check_levels(levels, coupled: bool = False) -> int:
    """The number of coupled time-step levels: ``levels`` (1, 2 or 3), or for ``None`` 2
    with ``coupled`` and 1 without. Anything else, or ``coupled`` with ``levels = 1``, is an
    :class:`~volterra_sym.errors.InvalidInputError` naming ``levels``."""
    if levels is None:
        return 2 if coupled else 1
    levels = check_int(levels, "levels", lo=1, what="the number of time-step levels")
    if levels > 3 or (coupled and levels < 2):
        raise InvalidInputError(f"levels must be 1, 2 or 3 (at least 2 with coupled=True), "
                                f"got {levels}", param="levels")
    return levels


def _auto_progress(progress, work: float, threshold: float = 5e7) -> bool:
    """``progress``, or for ``None`` a bar when stderr is a terminal and ``work`` exceeds
    ``threshold`` (path-steps, or the caller's own unit). Anything but ``True``, ``False``
    or ``None`` is an :class:`~volterra_sym.errors.InvalidInputError` naming ``progress``."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)()) and work > threshold
    return check_flag(progress, "progress")


def run_paths(model: SRNN, *, n_paths: int, dt: float, n_steps: int, scheme: str = "euler",
              hook: Hook | None = None, eps: Sequence[float] = (0.0,), u: Callable | None = None,
              initial=None, seed=None, coupled: bool = False, B: np.ndarray | None = None,
              chunk_size: int | None = None, progress: bool | None = None,
              max_norm: float = 1e8, prefetch_noise: bool = True,
              companion: Companion | None = None, client=None,
              on_chunk: Callable[[int, object], None] | None = None,
              input_delay: int = 0, levels: int | None = None) -> RunInfo:
    """Integrate ``n_paths`` paths for ``n_steps`` steps of ``dt`` and feed ``hook``.

    ``eps``: input amplitudes of the variants run with common random numbers. ``B``: if
    given (``C = σB``), the hook's ``on_xi`` receives ``B_kᵀΔB`` per step and channel.
    ``client``: a ``dask.distributed.Client`` to run the chunks on (default in-process);
    ``on_chunk(i, result)`` receives every chunk's ``hook.end_chunk()`` in chunk order.
    ``progress``: a progress bar counting chunks (default: on a terminal, for long runs).
    ``companion``: a second model integrated with the same noise (control variates).
    ``input_delay``: steps of ``dt`` before the input starts (``u`` is evaluated at
    ``t - input_delay·dt``). ``levels``: time steps ``dt/2^l``, ``l < levels``, integrated
    on the same Brownian paths (1, 2 or 3; default 2 with ``coupled``, else 1).
    """
    client = check_client(client)
    job = PathJob(model, n_paths=n_paths, dt=dt, n_steps=n_steps, scheme=scheme, hook=hook,
                  eps=eps, u=u, initial=initial, seed=seed, coupled=coupled, B=B,
                  chunk_size=chunk_size, max_norm=max_norm, prefetch_noise=prefetch_noise,
                  companion=companion, input_delay=input_delay, levels=levels)
    map_chunks(job, job.n_chunks, client=client, on_result=on_chunk,
               progress=_auto_progress(progress, job.n_paths * max(job.n_fine, 1)),
               desc=f"{scheme} dt={dt:g}")
    return job.info()
def _locate_divergence(integ: Integrator, h: np.ndarray, eta: np.ndarray, inp, active,
                       s0: int, nb: int, max_norm: float, offset: int, has_input: bool,
                       companion: bool = False) -> None:
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
            if companion:
                hint += " in the linearised companion (control variate)"
            raise DivergenceError(
                f"simulation diverged at step {step} (t = {step * integ.dt:g}, dt = "
                f"{integ.dt:g}): path {path} reached {kind}{hint}",
                step=step, time=step * integ.dt, path=path, dt=integ.dt)
    raise DivergenceError(f"simulation diverged in steps {s0 + 1}..{s0 + nb} (t ≤ "
                          f"{(s0 + nb) * integ.dt:g})", step=s0 + nb,
                          time=(s0 + nb) * integ.dt, path=offset, dt=integ.dt)


# ---------------------------------------------------------------------- simulate()


# ---------------------------------------------------------------------- simulate()
@dataclass(frozen=True)
class Ensemble:
    """States (or observable values) of ``n_paths`` paths at the requested ``times``.

    ``states`` has shape ``(T, n_paths, n)`` (``None`` if not kept); ``values`` has shape
    ``(T, n_paths)`` when an observable was given. ``seed`` is the entropy that reproduces
    the run. Frozen: the fields cannot be reassigned and the arrays are read-only (flagged
    in place, not copied: an ensemble can fill most of the memory budget).
    """

    times: np.ndarray
    states: np.ndarray | None
    values: np.ndarray | None
    dt: float
    n_paths: int
    scheme: str
    eps: float
    seed: int

    def __post_init__(self):
        for arr in (self.times, self.states, self.values):
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)


class _Recorder(Hook):
    """Returns, per chunk, the states and/or observable values at the requested indices."""

    def __init__(self, idx: np.ndarray, n: int, f, keep_states: bool):
        self.idx, self.f, self.n, self.keep = idx, f, n, keep_states
        self.where: dict[int, list[int]] = {}
        for j, i in enumerate(idx):
            self.where.setdefault(int(i), []).append(j)

    def interest(self, level, n_steps):
        mask = np.zeros(n_steps + 1, dtype=bool)
        mask[self.idx] = True
        return mask

    def start_chunk(self, offset, size):
        T = len(self.idx)
        self.states = np.empty((T, size, self.n)) if self.keep else None
        self.values = np.empty((T, size)) if self.f is not None else None

    def on_state(self, level, i, h):
        for j in self.where[i]:
            if self.states is not None:
                self.states[j] = h[0]
            if self.values is not None:
                self.values[j] = self.f(h[0])

    def end_chunk(self):
        return self.states, self.values


def simulate(model: SRNN, times, *, n_paths: int, dt: float, scheme: str = "euler",
             u: Callable | None = None, eps: float = 1.0, observable=None, initial=None,
             seed=None, keep_states: bool = True, chunk_size: int | None = None,
             progress: bool | None = None, max_norm: float = 1e8,
             prefetch_noise: bool = True, client=None) -> Ensemble:
    """Simulate ``n_paths`` paths and return their states at ``times`` (multiples of dt).

    ``u``: input ``u(t) -> (m,)`` (scaled by ``eps``), ``None`` for the unperturbed
    dynamics. ``initial``: ``None``/"stationary" (draws from ``p0``), a sampler, a state
    ``(n,)`` or an array ``(n_paths, n)``. ``observable``: also record ``f(h_t)``.
    ``client``: a ``dask.distributed.Client`` (chunks run on its workers; the numbers are
    bitwise those of the in-process run). The returned arrays hold every path: their size
    ``T·n_paths·(n+1)·8`` bytes is checked against the memory budget before the run.
    """
    check_model(model)
    idx = time_indices(times, dt)
    n_paths = _check_n_paths(n_paths)
    eps = check_amplitude(eps)
    keep_states = check_flag(keep_states, "keep_states")
    f = compile_observable(model, observable) if observable is not None else None
    T = idx.size
    check_memory(8.0 * T * n_paths * ((model.n if keep_states else 0) + (f is not None)),
                 "the ensemble's recorded states", "lower n_paths or the number of times, "
                 "or use keep_states=False with an observable")
    rec = _Recorder(idx, model.n, f, keep_states)
    states = np.empty((T, n_paths, model.n)) if keep_states else None
    values = np.empty((T, n_paths)) if f is not None else None
    job_box: list[PathJob] = []

    def store(i, result):
        st, va = result
        offset, sizes, _ = job_box[0].chunk_layout(i)
        sl = slice(offset, offset + sum(sizes))
        if states is not None:
            states[:, sl] = st
        if values is not None:
            values[:, sl] = va

    client = check_client(client)
    job = PathJob(model, n_paths=n_paths, dt=dt, n_steps=int(idx.max()), scheme=scheme,
                  hook=rec, eps=(eps,), u=u, initial=initial, seed=seed,
                  chunk_size=chunk_size, max_norm=max_norm, prefetch_noise=prefetch_noise)
    job_box.append(job)
    map_chunks(job, job.n_chunks, client=client, on_result=store,
               progress=_auto_progress(progress, n_paths * max(job.n_fine, 1)),
               desc=f"{scheme} dt={dt:g}")
    return Ensemble(times=idx * float(dt), states=states, values=values, dt=float(dt),
                    n_paths=n_paths, scheme=scheme, eps=eps, seed=job.root.entropy)
