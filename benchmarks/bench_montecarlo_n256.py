"""Benchmark: streaming an n = 256 tanh network (issue 10: "n = 256, 10^5 paths × 10^3
steps streams in under 2 GB with throughput ≥ 0.9× the in-place numpy loop").

Model: ``Γ = I``, ``W = 0.5·J/√n`` (J standard normal), ``b ~ 0.1·N(0, 1)``, ``σ = 0.5 I``,
Euler–Maruyama, ``dt = 0.01``, every path started at ``h = 0``.

* Memory: a fresh subprocess runs :func:`volterra_sym.montecarlo.simulate` on
  ``--paths`` paths (default 10^5) with ``keep_states=False`` and one observable, and
  reports its peak resident set (``ru_maxrss``). The engine streams the paths in chunks,
  so the peak does not depend on the number of steps: it is measured with
  ``--mem-steps`` steps (default 20) and holds for 10^3.
* Throughput, interleaved in one run (``benchmarks/_timing.py``: single-threaded BLAS on
  every side, rounds A, B, C, D, A, B, …, median and range of the per-round ratios over
  ``--rounds`` ≥ 3), ``--paths`` paths × ``--steps`` steps (default 20: 10^3 steps of the
  four cases would take hours on the shared 2-core machine; the per-step work does not
  change with the step count, and the time for 10^3 steps is projected linearly and
  labelled so):

  - ``engine``: ``simulate(..., keep_states=False, observable="h1")`` with its defaults
    (noise drawn on a helper thread while the main thread integrates);
  - ``engine, 1 thread``: the same with ``prefetch_noise=False``;
  - ``numpy loop``: the in-place loop of the issue (states ``(n, paths)``, one matmul, one
    ``np.tanh``, one ``standard_normal(out=...)`` per step, preallocated buffers) — the
    acceptance baseline;
  - ``numpy loop, exp-tanh``: the same loop with ``tanh`` evaluated as the engine does
    (``dt·tanh x = 2dt/(1 + e^{-2x}) - dt``): it separates the engine's overhead from its
    faster activation.

  The final ``h1`` of every case must agree in mean (5 standard errors).

Run: ``python benchmarks/bench_montecarlo_n256.py [--paths P] [--steps S] [--rounds R]``;
writes ``benchmarks/results/montecarlo_n256.json``. The issue's full-length measurement
(about 50 min here): ``--mem-paths 100000 --mem-steps 1000 --paths 10000 --steps 1000
--cases engine "numpy loop" --no-warmup`` — one engine run of 10^5 paths × 10^3 steps
(peak RSS and wall time) and three interleaved rounds of 10^4 paths × 10^3 steps per side.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402

from volterra_sym.model import SRNN  # noqa: E402
from volterra_sym.montecarlo import simulate  # noqa: E402

N = 256
DT = 0.01
OUT = Path(__file__).parent / "results" / "montecarlo_n256.json"


NOTE_PROJECTED = ("throughput timed at steps_timed steps; the 1000-step times are linear "
                  "projections, not measurements")
NOTE_FULL = ("every case timed at the full 1000 steps (no projection); the memory run is "
             "one engine run of memory_run, timed as well")
CASES = ("engine", "engine, 1 thread", "numpy loop", "numpy loop, exp-tanh")


def tanh_net(n: int = N, gain: float = 0.5, seed: int = 4) -> SRNN:
    rng = np.random.default_rng(seed)
    W = gain * rng.normal(size=(n, n)) / np.sqrt(n)
    C = 0.5 * rng.normal(size=(n, 1))
    b = 0.1 * rng.normal(size=n)
    return SRNN(np.eye(n), W, C, 0.5, b=b, activation="tanh", name=f"tanh{n}")


def numpy_loop(p: dict, n_paths: int, n_steps: int, dt: float, seed: int,
               exp_tanh: bool = False) -> np.ndarray:
    """In-place Euler–Maruyama, states ``(n, paths)``, float64, preallocated buffers; per
    step one matmul, one activation, one ``standard_normal(out=...)``. Returns ``h1``."""
    rng = np.random.default_rng(seed)
    G, W, b, sig = p["Gamma"], p["W"], p["b"], p["sigma"]
    n = G.shape[0]
    assert np.allclose(G, np.diag(np.diag(G))) and np.allclose(sig, sig[0, 0] * np.eye(n))
    h = np.zeros((n, n_paths))
    pre = np.empty_like(h)
    z = np.empty((n, n_paths))
    m = (1.0 - dt * np.diag(G))[:, None].copy()
    s = float(np.sqrt(dt) * sig[0, 0])
    if exp_tanh:
        W, bc = -2.0 * W, -2.0 * b[:, None]
    else:
        bc = b[:, None].copy()
    for _ in range(n_steps):
        np.matmul(W, h, out=pre)
        pre += bc
        if exp_tanh:
            np.exp(pre, out=pre)
            pre += 1.0
            np.divide(2.0 * dt, pre, out=pre)
            pre -= dt
        else:
            np.tanh(pre, out=pre)
            pre *= dt
        h *= m
        h += pre
        rng.standard_normal(out=z)
        z *= s
        h += z
    return h[0].copy()


def engine(model: SRNN, n_paths: int, n_steps: int, seed: int, prefetch: bool = True
           ) -> np.ndarray:
    ens = simulate(model, [n_steps * DT], n_paths=n_paths, dt=DT, scheme="euler",
                   initial=np.zeros(model.n), keep_states=False, observable="h1", seed=seed,
                   progress=False, prefetch_noise=prefetch)
    return ens.values[0]


def rss_child(paths: int, steps: int) -> None:
    """Subprocess body: one engine run, then its peak RSS as JSON on stdout."""
    model = tanh_net()
    t0 = time.perf_counter()
    engine(model, 2, 1, 0)            # parameter conversion (cached on the model)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    engine(model, paths, steps, 1)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"paths": paths, "steps": steps, "peak_rss_mib": peak,
                      "rss_before_run_mib": before, "seconds": secs}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--mem-steps", type=int, default=20)
    ap.add_argument("--mem-paths", type=int, default=None,
                    help="paths of the memory run (default: --paths); with --mem-steps 1000 "
                         "it is the full-length run of the issue, timed too")
    ap.add_argument("--cases", nargs="+", default=None, choices=list(CASES),
                    help="the interleaved cases (default: all four)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up run of each case (long runs; the model's "
                         "parameters are converted before the rounds anyway)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.mem_paths or args.paths, args.mem_steps)
        return
    if args.rounds < 3:
        ap.error("--rounds must be ≥ 3")
    mem_paths = args.mem_paths or args.paths
    proc = subprocess.run([sys.executable, __file__, "--rss-child", "--paths",
                           str(mem_paths), "--mem-steps", str(args.mem_steps)],
                          capture_output=True, text=True, env=_timing.subprocess_env(),
                          check=True)
    mem = json.loads(proc.stdout.strip().splitlines()[-1])
    mem["path_steps_per_s"] = mem["paths"] * mem["steps"] / mem["seconds"]
    print(f"memory: {mem['paths']:,} paths x {mem['steps']} steps, peak RSS "
          f"{mem['peak_rss_mib']:.0f} MiB (before the run {mem['rss_before_run_mib']:.0f} "
          f"MiB), {mem['seconds']:.0f} s", flush=True)

    model = tanh_net()
    engine(model, 2, 1, 0)
    p = model.numpy_params()
    P, S = args.paths, args.steps
    cases = {
        "engine": lambda: engine(model, P, S, 1),
        "engine, 1 thread": lambda: engine(model, P, S, 1, prefetch=False),
        "numpy loop": lambda: numpy_loop(p, P, S, DT, 2),
        "numpy loop, exp-tanh": lambda: numpy_loop(p, P, S, DT, 3, exp_tanh=True),
    }
    chosen = args.cases or list(CASES)
    if "engine" not in chosen or "numpy loop" not in chosen:
        ap.error("--cases must include 'engine' and 'numpy loop' (the acceptance ratio)")
    cases = {k: v for k, v in cases.items() if k in chosen}
    times, finals = _timing.interleaved(cases, args.rounds, warmup=not args.no_warmup)
    work = P * S
    results = {}
    for name, runs in times.items():
        s = _timing.summary(runs)
        results[name] = {**s, "path_steps_per_s": work / s["median_s"],
                         "projected_s_for_1000_steps": s["median_s"] * 1000 / S}
        print(f"{name:24s} {s['median_s']:8.2f} s [{s['min_s']:.2f}-{s['max_s']:.2f}]  "
              f"{work / s['median_s'] / 1e6:6.3f} M path-steps/s")
    ref = finals["numpy loop"]
    agree = {k: bool(abs(v.mean() - ref.mean())
                     <= 5 * np.sqrt(v.var() / v.size + ref.var() / ref.size))
             for k, v in finals.items()}
    pairs = {"engine_vs_numpy_loop": ("numpy loop", "engine"),
             "engine_1thread_vs_numpy_loop": ("numpy loop", "engine, 1 thread"),
             "engine_vs_numpy_loop_exp_tanh": ("numpy loop, exp-tanh", "engine"),
             "engine_1thread_vs_numpy_loop_exp_tanh": ("numpy loop, exp-tanh",
                                                       "engine, 1 thread")}
    ratios = {k: _timing.ratio(times[a], times[b]) for k, (a, b) in pairs.items()
              if a in times and b in times}
    # the memory run's own throughput against the numpy loop's in the rounds (not
    # interleaved: one run, so a ratio without a range)
    mem["throughput_vs_numpy_loop_rounds"] = (
        mem["path_steps_per_s"] / results["numpy loop"]["path_steps_per_s"])
    print(f"memory run: {mem['path_steps_per_s'] / 1e6:.4f} M path-steps/s = "
          f"{mem['throughput_vs_numpy_loop_rounds']:.3f}x the numpy loop's median in the rounds")
    print("throughput ratio (numpy loop time / engine time; ≥ 0.9 is the acceptance), "
          "median [min-max] over interleaved rounds")
    for k, v in ratios.items():
        print(f"  {k:40s} {_timing.fmt_ratio(v)}")
    print("final h1 means agree (5 se):", agree)
    out = {"problem": {"model": "256-dim tanh SRNN, Γ = I, W = 0.5 J/√n, σ = 0.5 I",
                       "scheme": "euler", "dt": DT, "paths": P, "steps_timed": S,
                       "rounds": args.rounds, "cases": list(cases),
                       "memory_run": f"{mem['paths']} paths x {mem['steps']} steps",
                       "note": NOTE_FULL if S >= 1000 else NOTE_PROJECTED},
           "memory": {**mem, "budget_mib": 2048, "within_budget":
                      mem["peak_rss_mib"] < 2048},
           "results": results, "ratios": ratios, "means_agree": agree,
           "acceptance_ratio_0.9": ratios["engine_vs_numpy_loop"]["median"] >= 0.9,
           "machine": _timing.machine_info(), "load_average_end": list(os.getloadavg())}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
