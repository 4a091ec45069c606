"""Benchmark: the grid/spectral backend (``method="spectral"``).

Problems (targets from issue 3):

1. 1-D tanh network, ``K_1`` and ``K_2`` at 50 lag points each, ``tol=1e-7``; time after
   setup (grids and eigen-decompositions cached by the first call); target < 1 s.
2. the same network, series ``T_0..T_3`` on 10⁴ time points (two sinusoidal channels on
   [0, 20]), default ``tol`` (1e-8); target < 5 s.
3. 2-D (non-gradient) tanh network, ``K_1`` at 50 lags, ``tol=1e-5``; target < 30 s
   (first call, including the simulation that locates p0 and all eigen-decompositions).

Each timing is the median of ``--repeats`` runs (first-call times reported separately).
The accuracy actually reached is measured against a finer grid (tighter tol, smaller
``cut``), relative to the largest value.

Run: ``python benchmarks/bench_spectral.py``; writes ``benchmarks/results/spectral.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Dense LAPACK on a small shared machine: a multi-threaded BLAS only adds contention;
# _timing pins it to one thread before numpy is imported (and measures this checkout).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402, I001

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from volterra_sym import SRNN  # noqa: E402
from volterra_sym.backends import spectral  # noqa: E402
from volterra_sym.hierarchy import ResponseHierarchy  # noqa: E402


def model_1d() -> SRNN:
    return SRNN(1.0, 2.0, [[1.0, 0.5]], 0.8, 0.3, "tanh", name="tanh1d")


def model_2d() -> SRNN:
    return SRNN(np.eye(2), [[0.5, -1.0], [0.8, 0.3]], [[1.0, 0.0], [0.5, 1.0]], 0.7,
                [0.2, -0.1], "tanh", name="tanh2d")


def u2(t: float) -> np.ndarray:
    return np.array([np.sin(1.3 * t), 0.5 * np.cos(0.7 * t)])


def timed(fn: Callable, repeats: int) -> tuple[float, float, object]:
    """(first-call seconds, median of ``repeats`` further calls, last result)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs), out


def relerr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def bench_kernels_1d(repeats: int) -> dict:
    model = model_1d()
    hier = ResponseHierarchy(model, "h1**3 + h1", order=2)
    lags1 = np.linspace(0.0, 6.0, 50)
    lags2 = np.random.default_rng(0).uniform(0.0, 4.0, (50, 2))
    out = {}
    for name, chans, lags in (("K_1", (0,), lags1), ("K_2", (0, 1), lags2)):
        K = hier.kernel(chans)
        first, med, (val, err) = timed(
            lambda K=K, lags=lags: K.evaluate(lags, method="spectral", tol=1e-7,
                                              return_error=True), repeats)
        ref = K.evaluate(lags, method="spectral", tol=1e-11, cut=1e-26)
        out[name] = {"lags": len(lags), "tol": 1e-7, "first_call_s": first, "median_s": med,
                     "target_s": 1.0, "estimated_rel_error": float(err.max() / np.abs(val).max()),
                     "rel_error_vs_finer_grid": relerr(val, ref)}
    return out


def bench_series_1d(repeats: int, n_times: int) -> dict:
    model = model_1d()
    hier = ResponseHierarchy(model, "h1**3 + h1", order=3)
    times = np.linspace(0.0, 20.0, n_times)
    first, med, res = timed(lambda: spectral.series_terms(model, hier.f, 3, u2, times),
                            repeats)
    ref = spectral.series_terms(model, hier.f, 3, u2, times, tol=1e-11)
    errs = [relerr(res.terms[N], ref.terms[N]) for N in range(4)]
    est = [float(res.error[N].max() / np.abs(res.terms[N]).max()) for N in range(4)]
    return {"order": 3, "times": n_times, "tol": spectral.DEFAULT_TOL[1], "first_call_s": first,
            "median_s": med, "target_s": 5.0, "resolution": res.resolution, "steps": res.steps,
            "rel_error_vs_finer_by_order": errs, "estimated_rel_error_by_order": est}


def bench_kernel_2d(repeats: int) -> dict:
    lags = np.linspace(0.0, 6.0, 50)

    def run():
        model = model_2d()  # a fresh model: the timing includes every setup step
        K = ResponseHierarchy(model, "h1 + 0.5*h2**2", order=1).kernel(0)
        return K, K.evaluate(lags, method="spectral", tol=1e-5, return_error=True)

    first, med, (K, (val, err)) = timed(run, repeats)
    cached = timed(lambda: K.evaluate(lags, method="spectral", tol=1e-5), repeats)[1]
    ref = K.evaluate(lags, method="spectral", resolution=41, cut=1e-20)
    return {"lags": len(lags), "tol": 1e-5, "first_call_s": first,
            "median_s_including_setup": med, "median_s_after_setup": cached, "target_s": 30.0,
            "estimated_rel_error": float(err.max() / np.abs(val).max()),
            "rel_error_vs_finer_grid": relerr(val, ref)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-times", type=int, default=10_000)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "spectral.json")
    args = ap.parse_args()
    results = {
        "kernels_1d_tanh": bench_kernels_1d(args.repeats),
        "series_1d_tanh": bench_series_1d(max(1, args.repeats // 2), args.n_times),
        "kernel_2d_tanh": bench_kernel_2d(max(1, args.repeats // 2)),
        "machine": _timing.machine_info(),
    }
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
