"""The check from above on the n = 8 acceptance network (issue 9): K₁ at the 50 lags and
K₂ at the 55 pairs of ``bench_galerkin_equal_accuracy.py --task acceptance`` at degrees 3
and 4 with ``check="above"`` (the Gaussian reference; degrees 4–6 and 5–7 compared),
against the same kernels at degree 7 (``check_galerkin_degree7.py``'s stored values, its own
estimate beside them) — how far the estimate is above the change to degree 7, where the
default (degree 5 checked from below) was 51× (K₁) and 14× (K₂).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_above_n8.py

(about 5 minutes on one core; writes ``benchmarks/results/galerkin_check_above_n8.json``.)
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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DEGREES = (3, 4)


def main() -> None:
    ref = json.loads((RESULTS / "galerkin_degree7_n8_acceptance_gaussian.json").read_text())
    k1_lags, pairs = np.array(ref["k1_lags"]), np.array(ref["k2_lags"])
    model = network(8, *NETWORKS[8])
    H = ResponseHierarchy(model, "h1", 2)
    out: dict = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                 "load": os.getloadavg(), "machine": _timing.machine_info()}
    for d in DEGREES:
        t0 = time.perf_counter()
        opts = {"method": "galerkin", "degree": d, "check": "above", "time_budget": 3000}
        row = {}
        for key, k in (("k1", H.kernel((0,)).evaluate(k1_lags[:, None], **opts)),
                       ("k2", H.kernel((0, 0)).evaluate(pairs, **opts))):
            facts = k.details["route"]
            assert facts["check"] == "above" and facts["measure"] == "gaussian"
            v7 = np.array(ref["degree_7"][key]["values"])
            change = float(np.max(np.abs(np.ravel(k.values) - v7)))
            est = float(np.max(k.error))
            row[key] = {"estimate": est, "change_to_7": change,
                        "error_7": ref["degree_7"][key]["error"],
                        "estimate_over_change_to_7": est / change,
                        "changes": {str(c): v for c, v in facts["changes"].items()}}
        row["seconds"] = time.perf_counter() - t0
        out[f"degree_{d}"] = row
        print(f"degree {d} ({row['seconds']:.0f} s): " + "; ".join(
            f"{key} ± {row[key]['estimate']:.3g}, change to degree 7 "
            f"{row[key]['change_to_7']:.3g} ({row[key]['estimate_over_change_to_7']:.1f}×; "
            f"degree 7's own estimate {row[key]['error_7']:.2g})" for key in ("k1", "k2")),
            flush=True)
    path = RESULTS / "galerkin_check_above_n8.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
