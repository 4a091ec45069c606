"""Timings of the response functional and the kernel machine (single-threaded BLAS, see
``benchmarks/_timing.py``; single timings, no ratios).

    python benchmarks/bench_kernel_machine.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402, F401, I001  (single-threaded BLAS before numpy is imported)

import numpy as np  # noqa: E402

from volterra_sym import SRNN, ResponseHierarchy  # noqa: E402
from volterra_sym.features import (  # noqa: E402
    feature_kernel,
    fit_kernel_ridge,
    fit_ridge,
    hidden_unit_functionals,
    response_functional,
    response_kernel_matrix,
    signature_batch,
    srnn_features,
)


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:60s} {time.perf_counter() - t0:8.3f} s")
    return out


def main() -> None:
    tanh1 = SRNN(1.0, 0.8, 1.0, 0.8, b=0.2, activation="tanh")
    tanh2 = SRNN([[0.5, 0.0], [0.0, 0.6]], [[0.4, -0.3], [0.3, 0.25]], [[1.0], [0.5]],
                 [[0.4, 0.0], [0.0, 0.4]], b=[0.1, -0.2], activation="tanh")
    F = timed("functional, 1-D tanh, order 3, degree 10 (incl. c_{k,p})",
              lambda: response_functional(ResponseHierarchy(tanh1, None, 3), 10))
    funcs = timed("functionals of 2 hidden units, 2-D tanh, order 3, degree 10",
                  lambda: hidden_unit_functionals(tanh2, 3, 10))
    rng = np.random.default_rng(0)
    times = np.linspace(0.0, 0.5, 1001)
    U = np.sin(np.outer(rng.uniform(1, 4, 64), times) + rng.uniform(0, 6, (64, 1)))[..., None]
    timed("T_0..T_3 at 1001 times for 64 inputs (reduce on the fly)",
          lambda: F.terms(U, times))
    times2k = np.linspace(0.0, 0.5, 2000)
    U16 = np.sin(np.outer(np.arange(1, 17), times2k))[..., None]
    t0 = time.perf_counter()
    timed("T_0..T_3 at 2000 times for 16 inputs (target < 5 s)", lambda: F.terms(U16, times2k))
    print(f"{'  target < 5 s met':60s} {time.perf_counter() - t0 < 5.0}")
    timed("same with Richardson extrapolation", lambda: F.terms(U, times, extrapolate=True))
    S, _ = timed("signatures at one time, 1000 inputs (depth 3, degree 10)",
                 lambda: signature_batch(np.repeat(U, 16, axis=0)[:1000, ::10], times[::10],
                                         0.5, 3, 10))
    Phi = srnn_features(funcs, S, 0.5, 0.5)
    y = rng.normal(size=S.shape[0])
    M = timed("M = Σ ℓ_i ℓ_iᵀ", lambda: response_kernel_matrix(funcs, 0.5, 0.5))
    K = timed("K = S M Sᵀ (1000 x 1000)", lambda: feature_kernel(S, S, M))
    timed("ridge readout fit", lambda: fit_ridge(Phi, y, 1e-3))
    timed("kernel ridge fit (1000 x 1000)", lambda: fit_kernel_ridge(K, y, 1e-3))


if __name__ == "__main__":
    main()
