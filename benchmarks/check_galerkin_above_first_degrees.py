"""The check from above at a quantity's first degrees (issue 9: "the estimate is within
100× of the actual error"): the degrees the check from below refuses — it needs two
informative lower degrees (K₂ and ``T_2`` from degree 4, K₁ and ``T_1`` from 3) and, on
the Gaussian reference, ``N + 1`` for a quantity with ``N`` kicks — compared with the three
degrees above them instead, against independent references.

Models: 1-D tanh, sigmoid and softplus units with one stable fixed point and the built-in
``tanh2d`` (the spectral route), three independent tanh units (``galerkin_density``), six
independent tanh units at gains 0.6 (Gaussian reference) and 1.0 (sampled measure) — the
sums of the units' 1-D spectral values. Quantities: K₁ at 5 lags, K₂ at 9 lag pairs, K₃ at
4 triples (0.1–3 relaxation times) and ``T_0 … T_4`` for ``sin 2t`` on ``t ∈ [0, 4]``, at
each degree of a range with ``check="above"``; a row is *new* where ``check="below"``
refuses that degree. Scored (``estimate / actual``, largest over the lags or times) where
the actual error is above 4× the reference's own (1e-7 per unit).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_above_first_degrees.py

(about 3 minutes on one core.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import json  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from check_galerkin_above_high_n import evaluate, inp  # noqa: E402
from check_galerkin_independent_units import LAGS, TIMES, case  # noqa: E402
from check_galerkin_truncation_rules import check_arguments, summary  # noqa: E402

from volterra_sym import SRNN, ResponseHierarchy, load_model  # noqa: E402
from volterra_sym.errors import InvalidInputError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_check_above_first_degrees.json"
ORDER = 4
FLOOR = 1e-7


def spectral_reference(units) -> dict:
    """``{quantity: values}`` of ``h1 + … + hn`` for independent ``units`` (one unit: its
    own values): the sums of the units' spectral K₁–K₃ and ``T_0 … T_4``."""
    ref = {f"K{N}": sum(np.asarray(ResponseHierarchy(m, "h1", N).kernel((0,) * N).evaluate(
        LAGS[N], method="spectral")) for m in units) for N in (1, 2, 3)}
    S = sum(np.asarray(ResponseHierarchy(m, "h1", ORDER).series_terms(
        inp(m.m), TIMES, method="spectral")) for m in units)
    ref.update({f"T{N}": S[N] for N in range(ORDER + 1)})
    return ref


def models():
    """``(name, model, observable, reference values, degrees)``."""
    def one(w, s, act, b):
        return SRNN([[1.0]], [[w]], [[1.0]], [[s]], [b], act, name=f"first_{act}")
    out = []
    for name, m in (("tanh w=0.8", one(0.8, 0.6, "tanh", 0.2)),
                    ("sigmoid w=2", one(2.0, 0.5, "sigmoid", -1.0)),
                    ("softplus w=0.5", one(0.5, 0.5, "softplus", -0.5)),
                    ("tanh2d (built-in)", load_model("tanh2d"))):
        out.append((name, m, "h1", spectral_reference([m]), (1, 2, 3), 1))
    for n, gain, degrees in ((3, 1.0, (1, 2, 3)), (6, 0.6, (3, 4)), (6, 1.0, (3, 4))):
        model, f, units = case(n, gain)
        out.append((f"{n} independent units, gain {gain}", model, f,
                    spectral_reference(units), degrees, n))
    return out


def refused_degree(value) -> bool:
    return isinstance(value, InvalidInputError) and value.param == "degree"


def main() -> None:
    args = check_arguments(__doc__, OUT)
    rows = []
    for name, model, f, ref, degrees, units in models():
        t0 = time.perf_counter()
        for d in degrees:
            above, below = evaluate(model, f, d, "above"), evaluate(model, f, d, "below")
            for q, v in above.items():
                if isinstance(v, Exception):
                    print(f"   {name} {q} d={d}: {type(v).__name__}: {str(v)[:100]}")
                    continue
                rows.append({"case": name, "quantity": q, "degree": d, "measure": v[2],
                             "new": refused_degree(below[q]),
                             "actual": float(np.max(np.abs(v[0] - ref[q]))),
                             "ref_error": FLOOR * units, "reported": v[1]})
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = {}
    for label, keep in (("all", lambda r: True), ("new", lambda r: r["new"])):
        kept = [r for r in rows if keep(r) and r["actual"] > 4 * r["ref_error"]]
        table[label] = summary(label, kept, [r["reported"] for r in kept])
    args.out.write_text(json.dumps({"checks": table, "rows": rows,
                                    "machine": _timing.machine_info()}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
