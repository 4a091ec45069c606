"""The Galerkin route's truncation check from above (``check="above"``) on the measures of
n ≥ 6 — the Gaussian reference of the linearised network and the sampled ``p0`` — against
the check from below (the default there), with the 1-D spectral route as an independent
reference (issue 9: "the estimate is within 100× of the actual error").

Networks of ``n`` independent tanh units (``check_galerkin_independent_units.case``: every
kernel and series term of ``h1 + … + hn`` is the sum of the units' own 1-D spectral
values): 6 units at gains 0.6 (Gaussian reference) and 1.0 (sampled measure: the
reference does not fit ``p0``), 7 units at 0.6 and 8 units at 0.6 (Gaussian reference) and
1.0 (sampled). Quantities: K₁ at 5 lags, K₂ at 9 lag pairs, K₃ at 4 triples (0.1–3
relaxation times) and ``T_0 … T_4`` for ``sin 2t`` on ``t ∈ [0, 4]`` (``T_0 = <f>_0``), at
each degree with both checks. A value is scored (``estimate / actual error``, its largest
error against its largest deviation over the lags or times) where its actual error is
above 4× the spectral sums' own (:data:`SPECTRAL_FLOOR` per unit).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_above_high_n.py [--quick]

(about 20 minutes on one core, most of it the 8-unit networks at degree 4, whose check
assembles degree 7 — 6,435 functions; ``--quick``: the 6-unit networks at degree 3.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import json  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from check_galerkin_independent_units import LAGS, TIMES, case, spectral_reference  # noqa: E402
from check_galerkin_truncation_rules import check_arguments, write_scored  # noqa: E402

from volterra_sym import ResponseHierarchy, VolterraSymError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_check_above_high_n.json"
ORDER = 4
CHECKS = ("below", "above")
#: the 1-D spectral route's error per unit (its values agree to ~1e-7 across resolutions)
SPECTRAL_FLOOR = 1e-7
#: (n, gain, degrees)
CASES = [(6, 0.6, (3, 4, 5)), (6, 1.0, (3, 4, 5)), (7, 0.6, (3, 4)), (8, 0.6, (3, 4)),
         (8, 1.0, (3,))]


def inp(m: int):
    """``sin 2t`` into the first of ``m`` channels."""
    def u(t):
        return np.array([np.sin(2 * t)] + [0.0] * (m - 1))
    return u


def evaluate(model, f, degree, check, seed=0):
    """``{quantity: (values, largest error, measure) or the error raised}`` by galerkin at
    ``degree`` with ``check`` (and ``seed``, of the sampled measure): K₁–K₃ at
    :data:`LAGS`, ``T_0 … T_4`` at :data:`TIMES`."""
    opts = {"method": "galerkin", "degree": degree, "check": check, "time_budget": 3000,
            "seed": seed}
    out = {}
    for N in (1, 2, 3):
        try:
            k = ResponseHierarchy(model, f, N).kernel((0,) * N).evaluate(LAGS[N], **opts)
            out[f"K{N}"] = (np.asarray(k), float(np.max(k.error)),
                            k.details["route"]["measure"])
        except VolterraSymError as exc:
            out[f"K{N}"] = exc
    try:
        s = ResponseHierarchy(model, f, ORDER).series_terms(inp(model.m), TIMES, **opts)
        for N in range(ORDER + 1):
            out[f"T{N}"] = (np.asarray(s)[N], float(np.max(np.asarray(s.error)[N])),
                            s.details.get("measure", ""))
    except VolterraSymError as exc:
        for N in range(ORDER + 1):
            out[f"T{N}"] = exc
    return out


def rows_of(n, gain, degrees):
    model, f, units = case(n, gain)
    name = f"{n} units, gain {gain}"
    t0 = time.perf_counter()
    ref = spectral_reference(units, ORDER)
    rows = []
    for check in CHECKS:
        for d in degrees:
            t1 = time.perf_counter()
            for q, got in evaluate(model, f, d, check).items():
                if isinstance(got, Exception):
                    print(f"   {q} d={d} {check}: {type(got).__name__}: {str(got)[:140]}",
                          flush=True)
                    continue
                v, err, kind = got
                rows.append({"case": name, "check": check, "quantity": q, "degree": d,
                             "measure": kind, "actual": float(np.max(np.abs(v - ref[q]))),
                             "ref_error": SPECTRAL_FLOOR * n, "reported": err})
            print(f"{name} d={d} {check}: {time.perf_counter() - t1:.0f} s", flush=True)
    print(f"{name}: {len(rows)} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rows


def main() -> None:
    args = check_arguments(__doc__, OUT, quick=True)
    cases = [(n, g, d[:1]) for n, g, d in CASES[:2]] if args.quick else CASES
    rows = []
    for n, gain, degrees in cases:
        rows += rows_of(n, gain, degrees)
        args.out.write_text(json.dumps({"rows": rows, "machine": _timing.machine_info()},
                                       indent=1))
    write_scored(rows, CHECKS, args.out)


if __name__ == "__main__":
    main()
