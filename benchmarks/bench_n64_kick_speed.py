"""n = 64 tanh network, K₁ at 20 lags to 1 % of its peak including the time-step error: the
library's kick estimator (:func:`volterra_sym.montecarlo.kick_kernel`) against the
Girsanov estimator with the control variate (``bench_n64_k1.py``: 72 s for 8,192 paths).

The target is the one ``bench_n64_k1.py`` set itself: the window averages
``δ⁻¹∫_σ^{σ+δ} K₁`` (δ = 0.05) at σ = 0, 0.2, …, 3.8, with a total error bound
``2·se + |R(dt) − R(dt/2)|`` below 1 % of the peak, where ``R`` is the Richardson value
(``value − bias``) at one step and its half. The kick estimator gives point values; the
window average is the trapezoid rule over the grid points of the window (dt = 0.05: its two
ends; dt = 0.025: Simpson over three points), an O(δ²K'') ≈ 1e-4 approximation. The runs
at dt = 0.05 and 0.025 are independent (seeds 1 and 2). Comparisons: the stored Girsanov
Richardson values (dt = 0.05) and the stored 20,000-path kick reference of
``bench_n64_kick.py`` (its own implementation, window-averaged on the step grid).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_n64_kick_speed.py [--paths 256 1024]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _timing  # noqa: E402,F401  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_montecarlo_dask import tanh_net  # noqa: E402

from volterra_sym.montecarlo import kick_kernel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GIRSANOV = ROOT / "benchmarks" / "results" / "montecarlo_n64_k1.json"
REFERENCE = ROOT / "benchmarks" / "results" / "montecarlo_n64_kick.json"
OUT = ROOT / "benchmarks" / "results" / "montecarlo_n64_kick_speed.json"
WINDOW = 0.05


def windowed(model, lags: np.ndarray, dt: float, paths: int, seed: int) -> dict:
    """Window averages of the Richardson values ``value − bias`` and their standard errors
    (the value's and the bias's, combined as independent: a bound, they are correlated)."""
    k = int(round(WINDOW / dt))
    w = (np.array([0.5, 0.5]) if k == 1 else np.array([1.0, 4.0, 1.0]) / 6.0)
    if k not in (1, 2):
        raise ValueError("dt must be the window or half of it")
    grid = np.round(lags[:, None] + dt * np.arange(k + 1)[None, :], 10)
    t0 = time.perf_counter()
    est = kick_kernel(model, grid.ravel(), n_paths=paths, dt=dt, seed=seed)
    secs = time.perf_counter() - t0
    rich = (est.value[:, 0] - est.bias[:, 0]).reshape(grid.shape) @ w
    se = np.sqrt((est.stderr[:, 0] ** 2 + est.bias_stderr[:, 0] ** 2).reshape(grid.shape)
                 @ (w ** 2))
    return {"dt": dt, "paths": paths, "seconds": secs, "richardson": rich.tolist(),
            "stderr": se.tolist(), "max_abs_bias": float(np.abs(est.bias).max())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, nargs="+", default=[256, 1024])
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    gir = json.loads(GIRSANOV.read_text())
    ref = json.loads(REFERENCE.read_text())
    lags = np.asarray(gir["runs"][0]["lags"])
    g = np.asarray(gir["runs"][0]["richardson"])
    r = np.asarray(ref["richardson"])
    peak = float(gir["peak"])
    model = tanh_net(64, 0.5, seed=2)
    kick_kernel(model, [0.0], n_paths=2, dt=0.05)          # warm the model's caches
    rows = []
    for P in args.paths:
        a = windowed(model, lags, 0.05, P, seed=1)
        b = windowed(model, lags, 0.025, P, seed=2)
        ra, rb = np.asarray(a["richardson"]), np.asarray(b["richardson"])
        bound = 2 * np.asarray(a["stderr"]) + np.abs(ra - rb)
        row = {"paths": P, "seconds_dt0.05": a["seconds"], "seconds_dt0.025": b["seconds"],
               "max_total_error_bound_over_peak": float(bound.max() / peak),
               "max_se_over_peak": float(np.max(a["stderr"]) / peak),
               "max_dt_change_over_peak": float(np.abs(ra - rb).max() / peak),
               "max_abs_diff_vs_girsanov_over_peak": float(np.abs(ra - g).max() / peak),
               "max_abs_diff_vs_kick_reference_over_peak": float(np.abs(ra - r).max() / peak),
               "runs": [a, b]}
        rows.append(row)
        print(f"{P} paths: dt = 0.05 in {a['seconds']:.1f} s, dt = 0.025 in "
              f"{b['seconds']:.1f} s; bound 2se + |ΔR| = "
              f"{row['max_total_error_bound_over_peak']:.2%} of the peak (se "
              f"{row['max_se_over_peak']:.2%}, dt change {row['max_dt_change_over_peak']:.2%});"
              f" vs Girsanov {row['max_abs_diff_vs_girsanov_over_peak']:.2%}, vs the "
              f"20,000-path reference {row['max_abs_diff_vs_kick_reference_over_peak']:.2%}",
              flush=True)
    environment = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                   "load": os.getloadavg()}
    OUT.write_text(json.dumps({
        "model": "bench_montecarlo_dask.tanh_net(64, 0.5, seed=2)", "lags": lags.tolist(),
        "window": WINDOW, "peak": peak, "girsanov_cv_seconds_dt0.05": gir.get("seconds_dt0.05"),
        "rows": rows, **environment}, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
