"""The cost model of the Galerkin route on the ``galerkin_density`` measure (3 ≤ n ≤ 5)
against measured time: does :func:`volterra_sym.backends.galerkin.cost.estimated_seconds`
(and ``above_seconds``) bound what an evaluation takes?

Networks of independent tanh units of gain 1.0 (``check_galerkin_independent_units.case``;
their Gaussian reference does not fit ``p0``, so every degree stays on the density
measure), K₁ at two lags in one process, each run on a fresh model (nothing cached), one
BLAS thread: n = 3 at degrees 9 and 12, n = 4 at 4–10, n = 5 at 2 and 4, checked from
above and from below. Prints and writes ``measured / estimated`` per run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_density_cost.py

(about 3 minutes; run it alone on the machine.) Measured 2026-12-07 before the model
counted the density's own construction (three re-centring passes of the generator's sums
over the tensor rule, each with an SVD) and, from below, the lower degrees' own
densities: 1.6–3.1× over two runs; with them (``cost._DENSITY_PASSES``): 0.61–0.97× and,
in a second run, 0.65–1.09× (``galerkin_density_cost.json``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import json  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from check_galerkin_independent_units import case  # noqa: E402
from check_galerkin_truncation_rules import check_arguments  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.backends.galerkin.cost import above_seconds, estimated_seconds  # noqa: E402
from volterra_sym.backends.galerkin.options import parse_options  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "galerkin_density_cost.json"
#: (units, degree, check)
RUNS = [(3, 9, "above"), (3, 12, "above"), (3, 12, "below"), (4, 4, "above"),
        (4, 6, "above"), (4, 8, "below"), (4, 10, "below"), (5, 2, "above"), (5, 4, "below")]


def main() -> None:
    args = check_arguments(__doc__, OUT)
    rows = []
    for n, d, check in RUNS:
        model, f, _ = case(n, 1.0)
        model = model.replace(name=f"cost{n}d{d}{check}")
        opts = parse_options(model, {"check": check}, sp.sympify(f))
        est = (above_seconds if check == "above" else estimated_seconds)(
            model, d, opts, sampling=False)
        t0 = time.perf_counter()
        res = ResponseHierarchy(model, f, 1).kernel((0,)).evaluate(
            np.array([[0.5], [1.0]]), method="galerkin", degree=d, check=check,
            time_budget=3000)
        took = time.perf_counter() - t0
        facts = res.details["route"]
        rows.append({"n": n, "degree": d, "check": facts["check"],
                     "measure": facts["measure"], "estimated": est, "measured": took,
                     "ratio": took / est})
        print(f"n={n} d={d} {facts['check']:5s} {facts['measure']}: estimated {est:.2f} s, "
              f"measured {took:.2f} s ({took / est:.2f}x)", flush=True)
    ratios = [r["ratio"] for r in rows]
    print(f"measured / estimated: {min(ratios):.2f} … {max(ratios):.2f}")
    args.out.write_text(json.dumps({"rows": rows, "machine": _timing.machine_info()},
                                   indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
