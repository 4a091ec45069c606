"""Benchmark: Monte Carlo throughput (paths × steps per second) of the SRNN engine.

Problem: a 4-dimensional tanh SRNN, 10,000 paths, 1,000 Euler–Maruyama steps, dt = 0.01,
all paths started at h = 0 (no initial-state sampling in the timed region).

Measured in one run, interleaved: each of ``--repeat`` (≥ 3) rounds times every case
below once, in this order (so load bursts hit all cases of a round alike); BLAS is
single-threaded on all sides (``benchmarks/_timing.py``, set before numpy is imported).
Ratios are the median and range of the per-round ratios:

* ``engine`` — :func:`volterra_sym.montecarlo.simulate` (Euler–Maruyama), default settings
  (noise generated in blocks on a helper thread while the main thread integrates: two
  threads, so compare it with the one-thread loops only with that in mind);
* ``engine, 1 thread`` — the same with ``prefetch_noise=False`` (strictly single-threaded);
* ``engine, exponential`` — the exponential integrator;
* ``numpy loop (paths × n)`` — a plain in-place numpy Euler–Maruyama loop written here
  (preallocated buffers, ``out=``, one ``standard_normal`` call per step), states stored
  as ``(paths, n)``;
* ``numpy loop (n × paths)`` — the same loop with the transposed, structure-of-arrays layout
  the engine uses internally (a fairer baseline: per-coordinate constants broadcast cheaply);
* ``sdeint.itoEuler`` — one call per path; only a subset of paths is timed (default 100)
  and the time is **scaled linearly** to the full number of paths. Skipped (and said so)
  when ``sdeint`` is not installed (``pip install -e ".[bench]"``).

Run: ``python benchmarks/bench_montecarlo.py [--quick]``; writes
``benchmarks/results/montecarlo.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import _timing  # noqa: E402  (sets single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402

from volterra_sym.model import SRNN  # noqa: E402
from volterra_sym.montecarlo import simulate  # noqa: E402

N_DIM = 4


def make_model(seed: int = 0) -> SRNN:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(N_DIM, N_DIM)) / np.sqrt(N_DIM)
    b = 0.1 * rng.normal(size=N_DIM)
    C = rng.normal(size=(N_DIM, 1))
    return SRNN(np.eye(N_DIM), W, C, 0.5 * np.eye(N_DIM), b=b, activation="tanh",
                name="bench_tanh4")


def numpy_loop_rows(p: dict, n_paths: int, n_steps: int, dt: float, seed: int) -> np.ndarray:
    """Plain in-place Euler–Maruyama, states (paths, n)."""
    rng = np.random.default_rng(seed)
    G, W, b, sig = p["Gamma"], p["W"], p["b"], p["sigma"]
    h = np.zeros((n_paths, N_DIM))
    pre, tmp = np.empty_like(h), np.empty_like(h)
    z = np.empty((n_paths, sig.shape[1]))
    Wt, Gt, St = W.T.copy(), G.T.copy(), (np.sqrt(dt) * sig).T.copy()
    for _ in range(n_steps):
        np.matmul(h, Wt, out=pre)
        pre += b
        np.tanh(pre, out=pre)
        np.matmul(h, Gt, out=tmp)
        pre -= tmp
        pre *= dt
        h += pre
        rng.standard_normal(out=z)
        np.matmul(z, St, out=tmp)
        h += tmp
    return h


def numpy_loop_cols(p: dict, n_paths: int, n_steps: int, dt: float, seed: int) -> np.ndarray:
    """The same loop with states (n, paths) (contiguous along paths)."""
    rng = np.random.default_rng(seed)
    G, W, b, sig = p["Gamma"], p["W"], p["b"], p["sigma"]
    h = np.zeros((N_DIM, n_paths))
    pre, tmp = np.empty_like(h), np.empty_like(h)
    z = np.empty((sig.shape[1], n_paths))
    bc, S = b[:, None].copy(), np.sqrt(dt) * sig
    for _ in range(n_steps):
        np.matmul(W, h, out=pre)
        pre += bc
        np.tanh(pre, out=pre)
        np.matmul(G, h, out=tmp)
        pre -= tmp
        pre *= dt
        h += pre
        rng.standard_normal(out=z)
        np.matmul(S, z, out=tmp)
        h += tmp
    return h.T


def sdeint_paths(model: SRNN, n_paths: int, n_steps: int, dt: float, seed: int) -> np.ndarray:
    import sdeint
    phi = model.drift_numpy()
    sig = model.numpy_params()["sigma"]
    tspan = np.linspace(0.0, n_steps * dt, n_steps + 1)
    rng = np.random.default_rng(seed)
    out = np.empty((n_paths, N_DIM))
    for i in range(n_paths):
        y = sdeint.itoEuler(lambda y, t: phi(y), lambda y, t: sig, np.zeros(N_DIM), tspan,
                            generator=rng)
        out[i] = y[-1]
    return out


def sdeint_available() -> str | None:
    try:
        import sdeint  # noqa: F401
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small problem (smoke test)")
    ap.add_argument("--paths", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--sdeint-paths", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=None, help="interleaved rounds (≥ 3)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "montecarlo.json"))
    args = ap.parse_args()
    n_paths = args.paths or (2000 if args.quick else 10000)
    n_steps = args.steps or (200 if args.quick else 1000)
    n_sde = args.sdeint_paths or (10 if args.quick else 100)
    repeat = args.repeat or (3 if args.quick else 5)
    dt = args.dt
    model = make_model()
    p = model.numpy_params()
    work = n_paths * n_steps
    T = n_steps * dt

    cases = {
        "engine (euler)": lambda: simulate(model, [T], n_paths=n_paths, dt=dt, scheme="euler",
                                           initial=np.zeros(N_DIM), seed=1,
                                           progress=False).states[0],
        "engine (euler, 1 thread)": lambda: simulate(
            model, [T], n_paths=n_paths, dt=dt, scheme="euler", initial=np.zeros(N_DIM),
            seed=1, progress=False, prefetch_noise=False).states[0],
        "engine (exponential)": lambda: simulate(
            model, [T], n_paths=n_paths, dt=dt, scheme="exponential", initial=np.zeros(N_DIM),
            seed=1, progress=False).states[0],
        "numpy loop (paths x n)": lambda: numpy_loop_rows(p, n_paths, n_steps, dt, 2),
        "numpy loop (n x paths)": lambda: numpy_loop_cols(p, n_paths, n_steps, dt, 3),
    }
    scale = {}
    no_sdeint = sdeint_available()
    if no_sdeint is None:
        cases["sdeint.itoEuler (scaled)"] = lambda: sdeint_paths(model, n_sde, n_steps, dt, 4)
        scale["sdeint.itoEuler (scaled)"] = n_paths / n_sde
    else:
        print(f"sdeint not installed ({no_sdeint}): no sdeint comparison")
    times, finals = _timing.interleaved(cases, repeat, scale=scale)
    results = {}
    for name, runs in times.items():
        s = _timing.summary(runs)
        results[name] = {**s, "paths_steps_per_s": work / s["median_s"], "timed_paths":
                         n_sde if name in scale else n_paths}
        if name in scale:
            results[name]["note"] = (f"{n_sde} paths timed, scaled linearly to {n_paths} "
                                     "paths")
        print(f"{name:28s} {s['median_s']:8.3f} s [{s['min_s']:.3f}-{s['max_s']:.3f}]   "
              f"{work / s['median_s'] / 1e6:8.2f} M path-steps/s")

    # sanity: every method samples the same law at time T (means within 5 standard errors)
    ref = finals["numpy loop (paths x n)"]
    agree = {}
    for name, x in finals.items():
        se = np.sqrt(ref.var(0) / len(ref) + x.var(0) / len(x))
        agree[name] = bool(np.all(np.abs(x.mean(0) - ref.mean(0)) <= 5 * se))
    eng, eng1 = times["engine (euler)"], times["engine (euler, 1 thread)"]
    rows, cols = times["numpy loop (paths x n)"], times["numpy loop (n x paths)"]
    best = [min(a, b) for a, b in zip(rows, cols, strict=True)]
    ratios = {
        "engine_vs_numpy_rows": _timing.ratio(rows, eng),
        "engine_vs_numpy_cols": _timing.ratio(cols, eng),
        "engine_vs_best_numpy": _timing.ratio(best, eng),
        "engine_1thread_vs_best_numpy": _timing.ratio(best, eng1),
        "exponential_vs_euler_engine": _timing.ratio(times["engine (exponential)"], eng),
    }
    if no_sdeint is None:
        sde = times["sdeint.itoEuler (scaled)"]
        ratios["engine_vs_sdeint"] = _timing.ratio(sde, eng)
        ratios["engine_1thread_vs_sdeint"] = _timing.ratio(sde, eng1)
    print("\nspeed-up (time of the other / time of the engine; > 1 means the engine is "
          "faster), median [min-max] over interleaved rounds")
    for k, v in ratios.items():
        print(f"  {k:32s} {_timing.fmt_ratio(v)}")
    print("final-state means agree (5 se):", agree)
    print("load average (1, 5, 15 min):", os.getloadavg(), f"on {os.cpu_count()} CPUs")
    out = {
        "problem": {"model": "4-dim tanh SRNN, Γ = I, σ = 0.5 I", "n_paths": n_paths,
                    "n_steps": n_steps, "dt": dt, "rounds": repeat, "quick": args.quick},
        "results": results,
        "ratios": ratios,
        "sdeint_unavailable": no_sdeint,
        "means_agree": agree,
        "machine": _timing.machine_info(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
