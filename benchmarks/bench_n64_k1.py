"""n = 64 tanh network: Girsanov K₁ at 20 lags to 1 % of its peak *including* the time-step
error (issue 10 acceptance; the earlier figure, ``bench_montecarlo_dask.py --only n64``,
counted the standard error only, while the first-order time-step bias at dt = 0.05 was
2.7 % of the peak).

The network of ``bench_montecarlo_dask.tanh_net(64, 0.5, seed=2)``; control variate from the
linearised network; window ``δ = 0.05`` (the kernel is the window average, the same at both
steps); every estimate is Richardson-extrapolated in dt (``value − bias``). Two runs, at
``dt = 0.05`` and ``dt = 0.025``: their Richardson values differ by the remaining O(dt²)
error (≈ 3/4 of the error at 0.05 if it is second order), which is reported together with
the standard errors — the total error of the dt = 0.05 estimate is bounded by
``2 se + |Δ_Richardson|``.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_n64_k1.py [--paths 512]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_montecarlo_dask import tanh_net  # noqa: E402

from volterra_sym.montecarlo import burn_in_sampler, first_order_kernel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(model, dt: float, paths: int, seed: int) -> dict:
    lags = np.round(np.linspace(0.0, 3.8, 20) / 0.05) * 0.05
    t0 = time.perf_counter()
    sampler = burn_in_sampler(model, t_burn=10.0, dt=dt)
    est = first_order_kernel(model, lags, method="girsanov", dt=dt, window=0.05,
                             n_origins=20, origin_stride=1.0, initial=sampler,
                             progress=False, control_variate=True, observable="h1",
                             chunk_size=2048, n_paths=paths, seed=seed)
    secs = time.perf_counter() - t0
    val, bias = est.value.ravel(), est.bias.ravel()
    se = np.hypot(est.stderr.ravel(), est.bias_stderr.ravel())
    return {"dt": dt, "paths": paths, "seconds": secs, "lags": lags.tolist(),
            "value": val.tolist(), "bias": bias.tolist(), "richardson": (val - bias).tolist(),
            "stderr_richardson": se.tolist(), "stderr": est.stderr.ravel().tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=512)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    model = tanh_net(64, 0.5, seed=2)
    a = run(model, 0.05, args.paths, args.seed)
    b = run(model, 0.025, args.paths, args.seed + 1)
    ra, rb = np.asarray(a["richardson"]), np.asarray(b["richardson"])
    peak = float(np.max(np.abs(rb)))
    delta = np.abs(ra - rb)
    se_a, se_b = np.asarray(a["stderr_richardson"]), np.asarray(b["stderr_richardson"])
    total = 2 * se_a + delta
    out = {"model": "tanh_net(64, 0.5, seed=2)", "runs": [a, b], "peak": peak,
           "max_bias_dt0.05_over_peak": float(np.max(np.abs(a["bias"]))) / peak,
           "max_richardson_change_over_peak": float(delta.max()) / peak,
           "max_combined_se_over_peak": float(np.max(np.hypot(se_a, se_b))) / peak,
           "max_total_error_dt0.05_over_peak": float(total.max()) / peak,
           "seconds_dt0.05": a["seconds"], "speedup_vs_4000s": 4000.0 / a["seconds"],
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg()}
    print(f"dt = 0.05: {a['seconds']:.0f} s ({args.paths} paths), first-order bias up to "
          f"{out['max_bias_dt0.05_over_peak']:.2%} of the peak {peak:.4g}; Richardson "
          f"values at dt 0.05 and 0.025 differ by up to "
          f"{out['max_richardson_change_over_peak']:.2%} (combined se "
          f"{out['max_combined_se_over_peak']:.2%}); total error bound of the dt = 0.05 "
          f"estimate 2se + |Δ| ≤ {out['max_total_error_dt0.05_over_peak']:.2%} of the peak; "
          f"dt = 0.025 run {b['seconds']:.0f} s")
    path = ROOT / "benchmarks" / "results" / "montecarlo_n64_k1.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
