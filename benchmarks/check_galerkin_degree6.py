"""Is the degree-5 truncation estimate of an 8-unit network honest? K₁ at degrees 5 and 6 on
the same 80,000 samples of ``p0`` (issue 9; docs/theory.md §9).

Network ``bench_galerkin_mc.network(8, 1.2, 0)`` (the one of ``bench_galerkin_kick.py``),
K₁ of ``h1`` at the kick comparison's lags. Degree 6 (3,003 functions) is above the default
time limit: it runs with ``time_budget=1000`` (about 7 minutes and 10 GB on one core). The
change from degree 5 to 6 is compared with degree 5's truncation estimate (its change
against degrees 4 and 3).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_degree6.py

writes ``benchmarks/results/galerkin_degree6_n8.json``.
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
from bench_galerkin_mc import network  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LAGS = (0.4, 0.8, 1.64, 3.24, 4.88)      # 0.25–3 relaxation times (τ = 1.63)


def main() -> None:
    model = network(8, 1.2, 0)
    H = ResponseHierarchy(model, "h1", 1)
    out = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "lags": list(LAGS), "paths": 80_000}
    for d in (5, 6):
        t0 = time.perf_counter()
        k = H.kernel((0,)).evaluate(np.array(LAGS)[:, None], method="galerkin", degree=d,
                                    paths=80_000, time_budget=1000)
        out[f"degree_{d}"] = {"values": np.asarray(k.values).tolist(),
                              "error": np.asarray(k.error).tolist(),
                              "route": {a: float(v) if isinstance(v, (float, np.floating))
                                        else v for a, v in k.details["route"].items()},
                              "seconds": time.perf_counter() - t0}
        print(f"degree {d}: {out[f'degree_{d}']['seconds']:.0f} s, K1 "
              f"{np.round(k.values, 6)} ± {np.max(k.error):.2g}", flush=True)
    change = np.abs(np.subtract(out["degree_6"]["values"], out["degree_5"]["values"]))
    out["change_5_to_6"] = change.tolist()
    out["truncation_estimate_5"] = out["degree_5"]["route"]["truncation"]
    print(f"largest change from degree 5 to 6: {change.max():.2g}; degree 5's truncation "
          f"estimate {out['truncation_estimate_5']:.2g}")
    path = ROOT / "benchmarks" / "results" / "galerkin_degree6_n8.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
