"""The Galerkin route's Krylov kernels and reduced series against its modal systems
(docs/theory.md §9, "Kernels without an eigendecomposition" and "Series of order ≤ 2 on a
reduced system"): the same values, and the time each takes.

The issue's task on ``network(8, 1.2, 0)`` at degree 5 (1,287 functions) — K₁ at 50 lags,
K₂ at 55 pairs, the order-2 series of ``sin t`` on 10⁴ times in [0, 10] — with the route
as it is (``krylov``: Krylov systems for the kernels, the reduced system for the series)
and with every system diagonalised (``modal``: ``KRYLOV_FROM`` set beyond the basis size).
Each case runs in a fresh process, one BLAS thread, interleaved (krylov, modal, modal,
krylov, …) over ``--rounds`` rounds; medians. ``--measure samples`` averages over 40,000
samples of ``p0`` (the jackknife replicates go the same way).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_krylov.py [--rounds 3]
        [--measure auto|samples] [--out FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench!r})
warnings.simplefilter("ignore")
from bench_galerkin_equal_accuracy import NETWORKS, task_lags
from bench_galerkin_mc import network
from volterra_sym import ResponseHierarchy
from volterra_sym.backends.galerkin import route
from volterra_sym.density.linearisation import linearisation
if {mode!r} == "modal":
    route.KRYLOV_FROM = 10 ** 9
model = network(8, *NETWORKS[8])
tau = 1.0 / linearisation(model).rate
k1_lags, pairs = task_lags("acceptance", tau, 0.04)
opts = {{"degree": 5, "measure": {measure!r}, "time_budget": 600.0}}
if {measure!r} == "samples":
    opts.update(paths=40000, seed=0)
H = ResponseHierarchy(model, "h1", 2)
t0 = time.perf_counter()
k1 = H.kernel((0,)).evaluate(k1_lags[:, None], method="galerkin", **opts)
k2 = H.kernel((0, 0)).evaluate(pairs, method="galerkin", **opts)
t1 = time.perf_counter()
T = H.series_terms(lambda t: np.sin(t), np.linspace(0.0, 10.0, 10_000), method="galerkin",
                   **opts)
t2 = time.perf_counter()
print(json.dumps({{"kernels_s": t1 - t0, "series_s": t2 - t1, "total_s": t2 - t0,
                  "k1": np.ravel(k1.values).tolist(), "k2": np.ravel(k2.values).tolist(),
                  "k1_error": float(np.max(k1.error)), "k2_error": float(np.max(k2.error)),
                  "series": np.asarray(T).tolist(),
                  "series_error": np.asarray(T.error).max(axis=1).tolist(),
                  "propagator": k1.details["route"]["propagator"],
                  "reduced_to": T.details.get("reduced_to")}}))
'''


def child(mode: str, measure: str) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), mode=mode, measure=measure)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_timing.subprocess_env(), timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--measure", choices=("auto", "samples"), default="auto")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.rounds < 3:
        raise SystemExit("--rounds must be at least 3 (medians of three or more)")
    runs: dict[str, list[dict]] = {"krylov": [], "modal": []}
    for r in range(args.rounds):
        for mode in (("krylov", "modal") if r % 2 == 0 else ("modal", "krylov")):
            res = child(mode, args.measure)
            runs[mode].append(res)
            print(f"round {r + 1}: {mode:6s} kernels {res['kernels_s']:.2f} s, series "
                  f"{res['series_s']:.2f} s", flush=True)
    a, b = runs["krylov"][0], runs["modal"][0]
    dev = {key: float(np.max(np.abs(np.asarray(a[key]) - np.asarray(b[key]))))
           for key in ("k1", "k2", "series")}
    med = {mode: {key: statistics.median(x[key] for x in rs)
                  for key in ("kernels_s", "series_s", "total_s")}
           for mode, rs in runs.items()}
    out = {"measure": args.measure, "rounds": args.rounds, "machine": _timing.machine_info(),
           "median_s": med, "max_deviation": dev,
           "errors": {mode: {k: rs[0][k] for k in ("k1_error", "k2_error", "series_error")}
                      for mode, rs in runs.items()},
           "propagator": a["propagator"], "reduced_to": a["reduced_to"],
           "runs_s": {mode: [{k: x[k] for k in ("kernels_s", "series_s", "total_s")}
                             for x in rs] for mode, rs in runs.items()}}
    for mode in ("krylov", "modal"):
        m = med[mode]
        print(f"{mode:6s}: kernels {m['kernels_s']:.2f} s, series {m['series_s']:.2f} s, "
              f"total {m['total_s']:.2f} s (medians)")
    print(f"largest deviation krylov − modal: K1 {dev['k1']:.2g}, K2 {dev['k2']:.2g}, "
          f"series {dev['series']:.2g}; reduced series system: {a['reduced_to']} functions")
    path = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        f"galerkin_krylov_{args.measure}.json")
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
