"""Re-apply the equal-accuracy analysis of ``bench_galerkin_equal_accuracy.py`` to a stored
result when only the Galerkin route's *reported errors* changed, not its values or its
time (e.g. the statistical multiplier, ``route.stat_z``):

    OPENBLAS_NUM_THREADS=1 python benchmarks/reanalyse_equal_accuracy.py \
        benchmarks/results/galerkin_equal_accuracy_n8_acceptance_160k.json [--write]

The round-0 Galerkin case (its seed, degree and samples, in a fresh process) is run once
with the present code for its per-lag errors; the values must equal the stored ones (else
the route changed more than its errors and the benchmark must be re-run). The Monte
Carlo side is the stored run's: per-path standard deviations, Richardson remainder bounds
and per-round seconds per path; the route's per-round times are the stored ones too. So
the ratios keep the stored run's interleaved timings, and only the paths the Monte Carlo
needs change (``P = max_j (z·s_j/room_j)²``). ``--write`` keeps the stored analysis in
``equal_accuracy_before`` / ``galerkin_error_before`` and says so in ``reanalysed``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_equal_accuracy import child, paths_needed  # noqa: E402

from volterra_sym.backends.coverage import STAT_Z  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    path = Path(args.result)
    rep = json.loads(path.read_text())
    seed = rep["kernels"]["k1"]["galerkin_route"]["seed"]
    dt0 = min(float(d) for d in rep["mc"]) * 2          # the benchmark's --dt
    bench = SimpleNamespace(dt=dt0, degree=rep["degree"], samples=rep["samples"],
                            task=rep["task"]["name"])
    gal = child("galerkin", seed, bench, dt0, 0)
    err = {}
    for key in ("k1", "k2"):
        old = np.array(rep["kernels"][key]["galerkin"])
        new = np.array(gal[key]["value"])
        if not np.allclose(new, old, rtol=1e-9, atol=1e-12):
            raise SystemExit(f"{key}: the route's values changed (max |Δ| = "
                             f"{np.max(np.abs(new - old)):.2e}): re-run the benchmark")
        err[key] = np.array(gal[key]["error"])
        print(f"{key.upper()}: reported error {np.min(rep['kernels'][key]['galerkin_error']):.2e}"
              f"–{np.max(rep['kernels'][key]['galerkin_error']):.2e} → "
              f"{err[key].min():.2e}–{err[key].max():.2e}", flush=True)
    t_gal = rep["galerkin_s"]["runs_s"]
    zs = {"z=1": (1.0, False), f"z={STAT_Z:g}": (STAT_Z, False),
          f"z={STAT_Z:g}+remainder": (STAT_Z, True)}
    out = {}
    for z_key, (z, with_rem) in zs.items():
        t_eq, per_kernel = np.zeros(len(t_gal)), {}
        for key in ("k1", "k2"):
            by_dt = {}
            for dt, rows in rep["mc"].items():
                k = rows["kernels"][key]
                room = err[key] - (np.array(k["richardson_remainder_bound"]) if with_rem
                                   else 0.0)
                by_dt[dt] = (paths_needed(np.array(k["mc_per_path_sd"]), room, z),
                             k["seconds_per_path"]["runs_s"])
            dt = min(by_dt, key=lambda d: by_dt[d][0] * statistics.median(by_dt[d][1]))
            P, t_path = by_dt[dt]
            per_kernel[key] = {"dt": float(dt), "paths": P if math.isfinite(P) else None}
            if math.isfinite(P):
                t_k = np.array([P * t for t in t_path])
                per_kernel[key]["mc_s"] = float(np.median(t_k))
                t_eq = t_eq + t_k
        if not all(v["paths"] for v in per_kernel.values()):
            out[z_key] = {"reachable": False, "kernels": per_kernel}
            print(f"{z_key}: not reachable")
            continue
        r = _timing.ratio(list(t_eq), t_gal)
        out[z_key] = {"mc_s": float(np.median(t_eq)), "ratio": r, "kernels": per_kernel}
        before = rep["equal_accuracy"].get(z_key, {}).get("ratio", {}).get("median")
        print(f"{z_key}: {_timing.fmt_ratio(r)} (stored analysis: "
              f"{before if before is None else f'{before:.3g}×'})")
    if args.write:
        rep.setdefault("equal_accuracy_before", rep["equal_accuracy"])
        for key in ("k1", "k2"):
            rep["kernels"][key].setdefault("galerkin_error_before",
                                           rep["kernels"][key]["galerkin_error"])
            rep["kernels"][key]["galerkin_error"] = err[key].tolist()
            rep["kernels"][key]["galerkin_route_reanalysed"] = gal[key]["route"]
        rep["equal_accuracy"] = out
        rep["reanalysed"] = {
            "date": datetime.date.today().isoformat(),
            "why": "the route's statistical part became z_B = 4.53 jackknife standard "
                   "errors (Student t, 7 degrees of freedom, the coverage of 3 normal ones) "
                   "instead of 3; values and times unchanged",
            "machine": _timing.machine_info(), "galerkin_rerun_s": gal["seconds"]}
        path.write_text(json.dumps(rep, indent=1))
        print("wrote", path)


if __name__ == "__main__":
    main()
