"""Core engine benchmarks (issue 2), ratios measured interleaved in one run.

1. Building the order-3 hierarchy in operator form, n = 4, m = 2, tanh (target < 1 s),
   against building every kernel's operator tree separately (no sharing).
2. Exact-backend evaluation of a second-order kernel at 10^5 lag points, n = 8 linear
   model, quadratic observable (target < 1 s), against a per-point loop with
   ``scipy.linalg.expm`` and the closed form K_{k1k2} = 2 (e^{-Aσ1}C_{k1})ᵀ Q (e^{-Aσ2}C_{k2})
   (timed on 2,000 points and scaled), also checking agreement.

Every comparison follows ``benchmarks/_timing.py``: single-threaded BLAS on both sides,
rounds interleaved (ours, reference, ours, reference, ...), the median and the range of the
per-round ratios over ``--repeat`` (≥ 3) rounds.

Run: ``python benchmarks/bench_core.py`` (writes ``benchmarks/results/core.json``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402  (sets single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import sympy as sp  # noqa: E402

from volterra_sym import SRNN, ResponseHierarchy  # noqa: E402
from volterra_sym.operators import Perturbation, Semigroup, StationaryAverage  # noqa: E402


def bench_hierarchy(repeat):
    rng = np.random.default_rng(0)
    model = SRNN(Gamma=np.eye(4), W=np.round(0.5 * rng.standard_normal((4, 4)), 3),
                 C=np.round(rng.standard_normal((4, 2)), 3), sigma=0.5, activation="tanh",
                 b=np.round(0.1 * rng.standard_normal(4), 3))
    hier = ResponseHierarchy(model, "h1*h2", 3)

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
    times, _ = _timing.interleaved(
        {"build": lambda: ResponseHierarchy(model, "h1*h2", 3), "unshared": unshared}, repeat)
    return {"n": 4, "m": 2, "order": 3, "activation": "tanh",
            "recursion_nodes": len(hier.recursion_nodes),
            "graph_nodes": hier.graph.number_of_nodes(),
            "build": _timing.summary(times["build"]), "target_s": 1.0,
            "unshared_trees": _timing.summary(times["unshared"]),
            "build_over_unshared": _timing.ratio(times["build"], times["unshared"])}


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
    times, res = _timing.interleaved(
        {"exact": lambda: K.evaluate(lags, method="exact"), "expm_loop": naive}, repeat,
        scale={"expm_loop": n_points / n_ref})
    vals, ref = np.asarray(res["exact"]), res["expm_loop"]
    err = float(np.max(np.abs(vals[:n_ref] - ref)) / np.max(np.abs(ref)))
    return {"n": n, "points": n_points, "setup_s": t_setup,
            "exact": _timing.summary(times["exact"]), "target_s": 1.0,
            "expm_loop_scaled": _timing.summary(times["expm_loop"]),
            "expm_loop_points_timed": n_ref,
            "speedup_vs_expm_loop": _timing.ratio(times["expm_loop"], times["exact"]),
            "max_rel_diff_vs_expm_loop": err}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (≥ 3)")
    args = ap.parse_args()
    res = {"hierarchy": bench_hierarchy(args.repeat), "exact_kernel": bench_exact(args.repeat)}
    h, e = res["hierarchy"], res["exact_kernel"]
    print(f"hierarchy n=4 m=2 tanh order 3: {h['recursion_nodes']} recursion nodes, "
          f"build {1e3 * h['build']['median_s']:.2f} ms (target < 1 s; unshared trees "
          f"{1e3 * h['unshared_trees']['median_s']:.2f} ms)")
    print(f"exact K_2 at {e['points']} lags, n=8: {e['exact']['median_s']:.3f} s "
          f"[{e['exact']['min_s']:.3f}-{e['exact']['max_s']:.3f}] (target < 1 s), "
          f"setup {e['setup_s']:.2f} s; per-point expm loop (scaled) "
          f"{e['expm_loop_scaled']['median_s']:.1f} s -> speed-up "
          f"{_timing.fmt_ratio(e['speedup_vs_expm_loop'])}; "
          f"max rel diff {e['max_rel_diff_vs_expm_loop']:.1e}")
    res["machine"] = _timing.machine_info()
    out = Path(__file__).parent / "results" / "core.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
