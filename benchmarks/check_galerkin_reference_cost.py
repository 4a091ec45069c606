"""The Galerkin route's cost model on the exact Gaussian reference against measured times
(issue 9: "estimate cost before work starts"; ``volterra_sym/backends/galerkin/cost.py``).

Each case — ``bench_galerkin_mc.network(n, gain, seed)`` at an explicit degree, K₁ of
``f = h1`` at 50 lags within 3 relaxation times — runs in a fresh process (the route's
caches are keyed on the frozen model) with one BLAS thread; the script records the route's
own :func:`~volterra_sym.backends.galerkin.cost.estimated_seconds` (margin included) beside
the measured wall time, and their ratio. The refusal at the time budget is only useful if
this ratio is near the margin (1.5): before 2026-12-07 it was 3.4–4.8 (16 units at degree 4
estimated at 376 s for 90 s, refused at the default 120 s budget).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_reference_cost.py

writes ``benchmarks/results/galerkin_reference_cost.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_reference_cost.json"
#: (n, gain, seed, degree): networks whose Gaussian reference fits p0
CASES = [(8, 1.2, 0, 4), (8, 1.2, 0, 5), (8, 1.2, 0, 6), (12, 0.6, 0, 4), (16, 0.9, 1, 3),
         (16, 0.9, 1, 4), (20, 0.6, 0, 3), (24, 0.6, 0, 3)]

CHILD = r'''
import json, sys, time
sys.path.insert(0, {bench!r})
import _timing
import numpy as np
from bench_galerkin_mc import network
from volterra_sym import ResponseHierarchy
from volterra_sym.backends.galerkin import measure
from volterra_sym.backends.galerkin.cost import estimated_seconds
from volterra_sym.backends.galerkin.options import parse_options
from volterra_sym.density.linearisation import linearisation
n, gain, seed, d = {n}, {gain}, {seed}, {d}
model = network(n, gain, seed)
opts = parse_options(model, {{"time_budget": 5000}}, model.h[0])
kind = measure.kind_for(model, d, opts.paths, opts.gaussian)[0]
est = estimated_seconds(model, d, opts)
lags = np.linspace(0.06, 3.0, 50) / linearisation(model).rate
t0 = time.perf_counter()
ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(lags[:, None], method="galerkin",
                                                        degree=d, time_budget=5000)
print(json.dumps({{"measure": kind, "estimated_s": est, "seconds": time.perf_counter() - t0}}))
'''


def main() -> None:
    rows = []
    for n, gain, seed, d in CASES:
        code = CHILD.format(bench=str(ROOT / "benchmarks"), n=n, gain=gain, seed=seed, d=d)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=_timing.subprocess_env(), timeout=3600)
        if proc.returncode != 0:
            raise SystemExit(f"n = {n}, degree {d} failed:\n{proc.stderr[-2000:]}")
        row = {"n": n, "gain": gain, "seed": seed, "degree": d,
               **json.loads(proc.stdout.strip().splitlines()[-1])}
        row["ratio"] = row["estimated_s"] / row["seconds"]
        rows.append(row)
        print(f"n = {n:2d}, degree {d}: {row['measure']}, measured {row['seconds']:6.1f} s, "
              f"estimated {row['estimated_s']:6.1f} s ({row['ratio']:.2f}×)", flush=True)
    ratios = [r["ratio"] for r in rows if r["measure"] == "gaussian"]
    print(f"estimate / measured on the reference: {min(ratios):.2f}–{max(ratios):.2f} "
          f"(median {statistics.median(ratios):.2f})")
    OUT.write_text(json.dumps({"machine": _timing.machine_info(), "cases": rows,
                               "load": os.getloadavg()}, indent=1))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
