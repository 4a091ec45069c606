"""How far is the default's estimate above the actual error on the n = 5 acceptance network
(issue 9)? ``bench_galerkin_mc.network(5, *bench_galerkin_kick.NETWORKS[5])``, ``f = h1``:
K₁ at 50 lags and K₂ at 15 lag pairs (up to 3 relaxation times of the linearised network)
by the route's default (degree 4, checked from below: the density measure ends at degree 5,
so ``d + 3`` leaves it) and at degree 7 on the ``galerkin_density`` measure, whose tensor
rule (14⁵ = 537,824 points) is above the route's limit (200,000) — raised here for the
check, as ``check_galerkin_degree7.py`` raised the moment table's.

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_n5_degree7.py

(about 5 minutes on one core; writes ``benchmarks/results/galerkin_n5_degree7.json``.)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402,F401  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_kick import NETWORKS  # noqa: E402
from bench_galerkin_mc import network  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.backends.galerkin import measure  # noqa: E402
from volterra_sym.density.linearisation import linearisation  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_n5_degree7.json"


def main() -> None:
    model = network(5, *NETWORKS[5])
    tau = 1.0 / linearisation(model).rate
    k1_lags = np.linspace(0.06, 3.0, 50) * tau
    grid = np.array([0.25, 0.5, 1.0, 2.0, 3.0]) * tau
    pairs = np.array([[a, b] for i, a in enumerate(grid) for b in grid[i:]])
    H = ResponseHierarchy(model, "h1", 2)
    out: dict = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                 "machine": _timing.machine_info(), "tau": tau}
    runs = {}
    for label, opts in (("default", {}), ("degree_7", {"degree": 7, "time_budget": 3000})):
        if label == "degree_7":
            measure.MAX_DENSITY_POINTS = 600_000
        t0 = time.perf_counter()
        k1 = H.kernel((0,)).evaluate(k1_lags[:, None], method="galerkin", **opts)
        k2 = H.kernel((0, 0)).evaluate(pairs, method="galerkin", **opts)
        assert k1.details["route"]["measure"] == "galerkin_density"
        runs[label] = {"seconds": time.perf_counter() - t0,
                       "degree": k1.details["route"]["degree"],
                       "check": k1.details["route"]["check"],
                       **{key: {"values": np.ravel(k.values).tolist(),
                                "error": float(np.max(k.error))}
                          for key, k in (("k1", k1), ("k2", k2))}}
        print(f"{label}: degree {runs[label]['degree']} ({runs[label]['check']}), "
              f"{runs[label]['seconds']:.0f} s", flush=True)
    out.update(runs)
    for key in ("k1", "k2"):
        change = float(np.max(np.abs(np.array(runs["default"][key]["values"])
                                     - np.array(runs["degree_7"][key]["values"]))))
        est = runs["default"][key]["error"]
        out[f"{key}_analysis"] = {"estimate": est, "change_to_7": change,
                                  "error_7": runs["degree_7"][key]["error"],
                                  "estimate_over_change_to_7": est / change}
        print(f"{key}: default ± {est:.3g}, change to degree 7 {change:.3g} "
              f"({est / change:.1f}×; degree 7's own estimate "
              f"{runs['degree_7'][key]['error']:.2g})", flush=True)
    OUT.write_text(json.dumps(out, indent=1))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
