"""Benchmark (issue 9): the Galerkin route's cost on n = 8 and n = 20 tanh networks.

n = 8 at the default degree (3) and at degrees 4 and 5 (``W = 1.2·N(0,1)/√n``, seeded,
``Γ = I``, ``σ = 0.6 I``, one channel; 40,000 samples of ``p0``, and 160,000 at degree 5 —
the setting of the equal-accuracy benchmark's ``--samples 160000``): setup plus K₁
and K₂ at 50 lags each plus the order-2 series on 10⁴ times (target: under 60 s and 4 GB on
2 cores); n = 20 at degree 3: a result or a clean refusal (target: within 30 s). Each case
runs in a fresh process under ``/usr/bin/time`` (wall time and peak memory).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_speed.py``; writes
``benchmarks/results/galerkin_speed.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASE = r'''
import json, sys, time, numpy as np
sys.path.insert(0, {root!r})
from bench_galerkin_mc import network
from volterra_sym import ResponseHierarchy
n, degree, paths = {n}, {degree}, {paths}
t0 = time.perf_counter()
model = network(n, 1.2)
H = ResponseHierarchy(model, "h1", 2)
opts = {{}} if degree is None else {{"degree": degree}}
if paths is not None:
    opts["paths"] = paths
out = {{"n": n, "degree": degree, "samples": paths}}
try:
    lags = np.linspace(0.0, 5.0, 50)
    k1 = H.kernel((0,)).evaluate(lags[:, None], method="galerkin", **opts)
    out["K1_s"] = time.perf_counter() - t0
    L2 = np.stack([lags, lags[::-1]], 1)
    k2 = H.kernel((0, 0)).evaluate(L2, method="galerkin", **opts)
    out["K2_s"] = time.perf_counter() - t0
    times = np.linspace(0.0, 10.0, 10_000)
    T = H.series_terms(lambda t: np.sin(t), times, method="galerkin", **opts)
    out["series_s"] = time.perf_counter() - t0
    out.update(K1_max_error=float(np.max(k1.error)), K2_max_error=float(np.max(k2.error)),
               K1_scale=float(np.max(np.abs(k1.values))),
               series_max_error=[float(np.max(e)) for e in np.asarray(T.error)])
except Exception as exc:
    out["refused"] = f"{{type(exc).__name__}}: {{str(exc)[:300]}}"
out["total_s"] = time.perf_counter() - t0
print(json.dumps(out))
'''


def main() -> None:
    res = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "cases": []}
    for n, degree, paths, limit in ((8, None, None, 300), (8, 4, None, 300),
                                    (8, 5, None, 600), (8, 5, 160_000, 600),
                                    (20, 3, None, 120)):
        code = CASE.format(root=str(ROOT / "benchmarks"), n=n, degree=degree, paths=paths)
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=limit + 60)
        wall, peak = proc.stderr.strip().splitlines()[-1].split()
        row = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
        row.update(wall_s=float(wall), peak_GB=int(peak) / 2**20, exit=proc.returncode)
        print(json.dumps(row), flush=True)
        res["cases"].append(row)
    path = ROOT / "benchmarks" / "results" / "galerkin_speed.json"
    path.write_text(json.dumps(res, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
