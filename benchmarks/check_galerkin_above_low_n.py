"""The Galerkin route's truncation check from above (``check="above"``) against the check
from below (the default) on the measures of n ≤ 2, where the spectral route is an
independent reference (issue 9: "the estimate is within 100× of the actual error").

Models: 1-D networks with one stable fixed point (tanh, sigmoid, softplus; the acceptance's
1-D cases), two bistable 1-D tanh networks (w = 1.55, σ = 0.6 — the slow case of the
acceptance — and the built-in ``tanh1d``, w = 1.5, σ = 0.8) and the built-in ``tanh2d``.
Quantities: K₁ at 5 lags, K₂ at 9 lag pairs, K₃ at 4 triples (0.1–3 relaxation times) and
``T_1 … T_4`` for ``sin 2t`` on ``t ∈ [0, 4]``, at every degree of a range, with both
checks. A value is scored (``estimate / actual error``) where its actual error is above
4× the spectral route's own error estimate.

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_above_low_n.py [--quick]

(about 10 minutes on one core; ``--quick``: the first two models.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import time  # noqa: E402

import numpy as np  # noqa: E402
from check_galerkin_independent_units import LAGS, TIMES  # noqa: E402
from check_galerkin_truncation_rules import check_arguments, write_scored  # noqa: E402

from volterra_sym import SRNN, ResponseHierarchy, VolterraSymError, load_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_check_above_low_n.json"
ORDER = 4
CHECKS = ("below", "above")


def models():
    """``(name, model, degrees)``."""
    def one(w, s, act, b=0.0):
        return SRNN([[1.0]], [[w]], [[1.0]], [[s]], [b], act)
    return [
        ("tanh w=0.8", one(0.8, 0.6, "tanh", 0.2), range(4, 25, 2)),
        ("sigmoid w=2", one(2.0, 0.5, "sigmoid", -1.0), range(4, 25, 2)),
        ("softplus w=0.5", one(0.5, 0.5, "softplus", -0.5), range(4, 25, 2)),
        ("tanh w=1.55 (bistable)", one(1.55, 0.6, "tanh"), range(6, 31, 2)),
        ("tanh1d (built-in, bistable)", load_model("tanh1d"), range(6, 31, 2)),
        ("tanh2d (built-in)", load_model("tanh2d"), range(4, 13)),
    ]


def evaluate(model, degree=None, check=None):
    """``{quantity: (values, largest error)}`` by the spectral route (``degree`` None) or
    galerkin at ``degree`` with ``check``."""
    opts = {"method": "spectral"} if degree is None else \
        {"method": "galerkin", "degree": degree, "check": check}
    out = {}
    for N in (1, 2, 3):
        try:
            k = ResponseHierarchy(model, "h1", N).kernel((0,) * N).evaluate(LAGS[N], **opts)
        except VolterraSymError as exc:
            print(f"   K{N} {opts}: {type(exc).__name__}: {str(exc)[:120]}", flush=True)
            continue
        out[f"K{N}"] = (np.asarray(k), float(np.max(k.error)))
    def u(t):                           # sin 2t into the first channel
        return np.array([np.sin(2 * t)] + [0.0] * (model.m - 1))
    try:
        s = ResponseHierarchy(model, "h1", ORDER).series_terms(u, TIMES, **opts)
    except VolterraSymError as exc:
        print(f"   series {opts}: {type(exc).__name__}: {str(exc)[:120]}", flush=True)
        return out
    for N in range(1, ORDER + 1):
        out[f"T{N}"] = (np.asarray(s)[N], float(np.max(np.asarray(s.error)[N])))
    return out


def rows_of(name, model, degrees):
    t0 = time.perf_counter()
    ref = evaluate(model)
    rows = []
    for check in CHECKS:
        for d in degrees:
            for q, (v, err) in evaluate(model, d, check).items():
                if q not in ref:
                    continue
                rows.append({"case": name, "check": check, "quantity": q, "degree": d,
                             "actual": float(np.max(np.abs(v - ref[q][0]))),
                             "ref_error": ref[q][1], "reported": err})
    print(f"{name}: {len(rows)} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rows


def main() -> None:
    args = check_arguments(__doc__, OUT, quick=True)
    rows = []
    for name, model, degrees in models()[:2] if args.quick else models():
        rows += rows_of(name, model, degrees)
    write_scored(rows, CHECKS, args.out)


if __name__ == "__main__":
    main()
