"""Re-run the residual-slope analysis (docs/theory.md §8) on stored slope results.

The Monte Carlo responses and engine terms of ``bench_inside_slopes.py`` and
``bench_galerkin_slopes.py`` results are kept in their JSON files, so a change of the
check's criteria can be applied to them without re-simulating:

    python benchmarks/reanalyse_slopes.py benchmarks/results/inside_slopes_*.json [--write]

``--write`` replaces ``results`` (keeping the run's own analysis in ``results_before``) and
says so in ``reanalysed``. ``--recompute-terms`` recomputes the Galerkin terms of the
``bench_galerkin_slopes.py`` runs with the present code, at the run's own degree and
number of samples (the stored ones are kept in ``terms_before``), before the analysis;
``--degree D --galerkin-paths P`` recompute them at another degree and number of samples
(the run's ``degree`` and ``galerkin_paths`` are updated), ``--out F`` writes the result
to ``F`` instead of the input file (one input file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_galerkin_slopes import (  # noqa: E402
    galerkin_terms,
    input_for,
    model_for,
    result_rows,
    series_agreement,
)

from volterra_sym.model.catalogue import load_model
from volterra_sym.montecarlo.crn import CRNResponses
from volterra_sym.verify import series_residuals

NOTE = ("re-analysed from the stored responses by benchmarks/reanalyse_slopes.py with the "
        "current criteria: asymptotic where the higher orders together are <= 0.15 of the "
        "leading (was: the next order alone), and the radius from a ratio test within each "
        "parity class over every computed order (was: neighbouring orders among those of the "
        "check); a slope off M+1 FAILs only over the ε where the higher orders with the "
        "engine's errors are <= 0.15 of the leading one less its error (refitted there, else "
        "SKIP); results_before holds the run's own analysis")


def _expr(run: dict) -> str | None:
    """The run's input expression (runs before 2026-12-05 have none: ``sin 2t``)."""
    return run.get("input")


def analyse(model, run: dict, parts: list, order: int, dt: float) -> list[dict]:
    eps, times = np.array(run["eps"]), np.array(run["times"])
    T = np.array(run["terms"])
    Te = None if run.get("terms_error") is None else np.array(run["terms_error"])
    rows = []
    u = input_for(model, _expr(run))
    for parity, p in parts:
        y, se, b = (np.array(p[k]) for k in ("mc_value", "mc_stderr", "mc_bias"))
        rem = {} if "mc_remainder" not in p else {
            "levels": 3, "remainder": np.array(p["mc_remainder"]),
            "remainder_stderr": np.array(p["mc_remainder_stderr"])}
        mc = CRNResponses(eps, times, y, se, y, se, b, np.full(times.size, np.nan),
                          run["paths"], dt, "stored", None, 0.0, **rem)
        out = series_residuals(model, "h1", order, eps=eps, times=times,
                               n_paths=run["paths"], engine_terms=T, engine_terms_error=Te,
                               mc=mc, parity=parity, u=u)
        for r in result_rows(out):
            r["parity"] = parity
            rows.append(r)
            print(f"  M={r['M']} ({parity or 'whole'}): {r['status']} {r['message']}")
    return rows


def recompute_terms(model, run: dict, order: int, degree: int | None = None,
                    galerkin_paths: int | None = None,
                    time_budget: float | None = None) -> None:
    """The run's Galerkin terms ``T_0..T_{order+2}`` again (``T_{order+4}`` for a run with
    even and odd parts, as ``bench_galerkin_slopes.py --parity`` computes them), with the
    present code (at ``degree`` and ``galerkin_paths`` when given)."""
    import time
    import warnings

    if degree is not None:
        run["degree"] = degree
    if galerkin_paths is not None:
        run["galerkin_paths"] = galerkin_paths
    opts = {"degree": run.get("degree"), "galerkin_paths": run.get("galerkin_paths")}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = galerkin_terms(model, order + (2 if run.get("parts") else 0), run["times"],
                             time_budget=time_budget, u=input_for(model, _expr(run)),
                             **opts)
    run.setdefault("terms_before", {"terms": run["terms"],
                                    "terms_error": run["terms_error"]})
    run["terms"], run["terms_error"] = np.asarray(res).tolist(), np.asarray(res.error).tolist()
    run["terms_seconds"] = time.perf_counter() - t0
    err = np.max(np.asarray(res.error), axis=1)
    print(f"  terms recomputed ({opts}, {run['terms_seconds']:.0f} s): largest error per "
          f"order {np.array2string(err, formatter={'float_kind': '{:.2e}'.format})}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--recompute-terms", action="store_true")
    ap.add_argument("--degree", type=int, default=None,
                    help="with --recompute-terms: the Galerkin degree (default: the run's)")
    ap.add_argument("--galerkin-paths", type=int, default=None,
                    help="with --recompute-terms: samples of the sampled measure")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="with --recompute-terms: the Galerkin route's cost limit (s)")
    ap.add_argument("--out", type=Path, default=None,
                    help="write here instead of the input file (one input file, --write)")
    args = ap.parse_args()
    if (args.degree or args.galerkin_paths) and not args.recompute_terms:
        ap.error("--degree and --galerkin-paths need --recompute-terms")
    if args.out is not None and (len(args.files) != 1 or not args.write):
        ap.error("--out needs exactly one input file and --write")
    for path in args.files:
        d = json.loads(path.read_text())
        print(path.name)
        runs = d["runs"] if "runs" in d else [d]
        for run in runs:
            if "times" not in run or "mc_value" not in run:
                print("  (no stored responses: skipped)")
                continue
            if "runs" in d:
                model, order = (model_for(run["n"], run.get("bias"), run.get("gain", 1.2),
                                          run.get("net_seed", 0)),
                                run["order"])
            else:
                model, order = load_model(run["model"]), 3
            if args.recompute_terms and "runs" in d and run.get("method") == "galerkin":
                recompute_terms(model, run, order, args.degree, args.galerkin_paths,
                                args.time_budget)
            parts = [(None, run)] + list((run.get("parts") or {}).items())
            rows = analyse(model, run, parts, order, 0.01)
            if "runs" in d:      # bench_galerkin_slopes.py's agreement (its own definition)
                dmax, ratio = series_agreement(run["terms"], run["terms_error"], run["eps"],
                                               run["mc_value"], run["mc_stderr"],
                                               run["mc_bias"], run.get("mc_remainder"),
                                               run.get("mc_remainder_stderr"))
                print(f"  series to order {len(run['terms']) - 1} vs CRN: max |Δ| {dmax:.3g}, "
                      f"max |Δ|/(4se + Σε^N err_N + remainder) = {ratio:.3g}")
                if args.write:
                    run["series_vs_mc_max_abs"], run["series_vs_mc_max_ratio"] = dmax, ratio
            if args.write:
                run.setdefault("results_before", run["results"])
                run["results"], run["reanalysed"] = rows, NOTE + (
                    "; the Galerkin terms recomputed with the present code (terms_before "
                    "holds the run's own)" if "terms_before" in run else "")
        if args.write:
            (args.out or path).write_text(json.dumps(d, indent=1))


if __name__ == "__main__":
    main()
