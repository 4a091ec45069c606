"""Core engine benchmarks (issue 2), as ratios measured in one run.

1. Building the order-3 hierarchy in operator form, n = 4, m = 2, tanh (target < 1 s),
   against building every kernel's operator tree separately (no sharing).
2. Exact-backend evaluation of a second-order kernel at 10^5 lag points, n = 8 linear
   model, quadratic observable (target < 1 s), against a per-point loop with
   ``scipy.linalg.expm`` and the closed form K_{k1k2} = 2 (e^{-Aσ1}C_{k1})ᵀ Q (e^{-Aσ2}C_{k2})
   (timed on 2,000 points and scaled), also checking agreement.

Run: ``python benchmarks/bench_core.py`` (writes ``benchmarks/results/core.json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import sympy as sp

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.operators import Perturbation, Semigroup, StationaryAverage


def timed(fn, repeat=5):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_hierarchy(repeat):
    rng = np.random.default_rng(0)
    model = SRNN(Gamma=np.eye(4), W=np.round(0.5 * rng.standard_normal((4, 4)), 3),
                 C=np.round(rng.standard_normal((4, 2)), 3), sigma=0.5, activation="tanh",
                 b=np.round(0.1 * rng.standard_normal(4), 3))
    t_build, hier = timed(lambda: ResponseHierarchy(model, "h1*h2", 3), repeat)

    def unshared():  # every kernel's tree built from scratch
        ref, f = hier.ref, hier.f
        trees = []
        for N in range(1, 4):
            for k in itertools.product(range(2), repeat=N):
                g = f
                for j, kj in enumerate(k):
                    g = Perturbation(kj, Semigroup(hier.tau[j], g, ref), ref)
                trees.append(StationaryAverage(g, ref))
        return trees
    t_unshared, _ = timed(unshared, repeat)
    return {"n": 4, "m": 2, "order": 3, "activation": "tanh",
            "recursion_nodes": len(hier.recursion_nodes),
            "graph_nodes": hier.graph.number_of_nodes(),
            "build_median_s": t_build, "target_s": 1.0,
            "unshared_trees_median_s": t_unshared}


def bench_exact(repeat, n_points=100_000, n_ref=2_000):
    rng = np.random.default_rng(1)
    n = 8
    A0 = np.eye(n) * 1.5 + 0.3 * rng.standard_normal((n, n))
    model = SRNN(Gamma=np.round(A0, 3), W=np.zeros((n, n)),
                 C=np.round(rng.standard_normal((n, 2)), 3), sigma=0.5,
                 b=np.round(0.2 * rng.standard_normal(n), 3))
    Q = np.round(rng.standard_normal((n, n)), 2)
    Q = (Q + Q.T) / 2
    h = sp.Matrix(model.h)
    f = sp.expand((h.T * sp.Matrix(Q).applyfunc(sp.nsimplify) * h)[0])
    t0 = time.perf_counter()
    hier = ResponseHierarchy(model, f, 2)
    K = hier.kernel((0, 1))
    lags = rng.uniform(0, 3, (n_points, 2))
    K.evaluate(lags[:10], method="exact")  # setup: density, tensors, eigen-decomposition
    t_setup = time.perf_counter() - t0
    t_eval, vals = timed(lambda: K.evaluate(lags, method="exact"), repeat)

    p = model.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]

    def naive():
        out = np.empty(n_ref)
        for i, (s1, s2) in enumerate(lags[:n_ref]):
            ka, kb, lo, hi = (0, 1, s1, s2) if s1 <= s2 else (1, 0, s2, s1)
            a = scipy.linalg.expm(-A * lo) @ C[:, ka]
            b = scipy.linalg.expm(-A * hi) @ C[:, kb]
            out[i] = 2 * a @ Q @ b
        return out
    t_naive, ref = timed(naive, 1)
    err = float(np.max(np.abs(vals[:n_ref] - ref)) / np.max(np.abs(ref)))
    return {"n": n, "points": n_points, "setup_s": t_setup, "eval_median_s": t_eval,
            "target_s": 1.0, "naive_expm_loop_s_scaled": t_naive * n_points / n_ref,
            "speedup_vs_naive": t_naive * n_points / n_ref / t_eval,
            "max_rel_diff_vs_naive": err}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    res = {"hierarchy": bench_hierarchy(args.repeat), "exact_kernel": bench_exact(args.repeat)}
    h, e = res["hierarchy"], res["exact_kernel"]
    print(f"hierarchy n=4 m=2 tanh order 3: {h['recursion_nodes']} recursion nodes, "
          f"build {h['build_median_s']:.4f} s (target < 1 s; unshared trees "
          f"{h['unshared_trees_median_s']:.4f} s)")
    print(f"exact K_2 at {e['points']} lags, n=8: {e['eval_median_s']:.3f} s (target < 1 s), "
          f"setup {e['setup_s']:.2f} s; naive expm loop (scaled) "
          f"{e['naive_expm_loop_s_scaled']:.1f} s -> speed-up {e['speedup_vs_naive']:.0f}x; "
          f"max rel diff {e['max_rel_diff_vs_naive']:.1e}")
    out = Path(__file__).parent / "results" / "core.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
