"""Pool independent CRN runs of ``bench_galerkin_slopes.py`` into one result (two cores: two
runs of the same network, ε and times with different ``--seed``, side by side).

The runs are independent ensembles of ``P_r`` paths each, so the pooled response is the
path-weighted mean ``ȳ = Σ_r P_r y_r / Σ_r P_r`` with standard error
``(Σ_r P_r² se_r²)^{1/2} / Σ_r P_r`` (whole residual and, with ``--parity``, its even and
odd parts alike); the time-step bias is pooled the same way. ``--terms-from F`` takes the
Galerkin terms (and their degree, samples and errors) from the first run of ``F``, which
must be of the same network at the same times — e.g. terms recomputed at a higher degree by
``reanalyse_slopes.py --recompute-terms``. The pooled file holds no analysis
(``results`` is empty); run ``reanalyse_slopes.py OUT --write`` on it::

    python benchmarks/merge_slopes.py A.json B.json --out C.json [--terms-from T.json]
    python benchmarks/reanalyse_slopes.py C.json --write

``--remainder-from R1.json [R2.json …]``: runs of the same network, ε and times with a
third level (``bench_galerkin_slopes.py --levels 3``), independent of the pooled ones. Their
measured O(dt²) remainder ``R₁ − R₂`` of the two-level Richardson estimate is pooled (path-
weighted) and subtracted from the pooled two-level responses, which become second-step
estimates ``R₂`` (standard errors in quadrature); the remainder is kept with the result, so
that the analysis carries it in its floor (``verify.series_residuals``). One pooled run is
enough with ``--remainder-from``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from volterra_sym.verify.settings import DEFAULT_INPUT

#: what must agree between pooled runs
SAME = ("n", "model", "gain", "net_seed", "bias", "order", "eps", "times", "input")
#: ... and between them and ``--terms-from``'s run (the network, the input and the times)
SAME_TERMS = ("n", "model", "gain", "net_seed", "bias", "times", "input")
#: the Galerkin side of a run, taken over by ``--terms-from``
TERMS = ("terms", "terms_error", "degree", "galerkin_paths", "galerkin_measure")


def _pool(parts: list[dict], paths: np.ndarray) -> dict:
    """Path-weighted mean of ``mc_value`` and ``mc_bias``; standard errors in quadrature."""
    w = paths / paths.sum()
    value = sum(wi * np.asarray(p["mc_value"]) for wi, p in zip(w, parts, strict=True))
    bias = sum(wi * np.asarray(p["mc_bias"]) for wi, p in zip(w, parts, strict=True))
    se = np.sqrt(sum((wi * np.asarray(p["mc_stderr"])) ** 2
                     for wi, p in zip(w, parts, strict=True)))
    return {"mc_value": value.tolist(), "mc_stderr": se.tolist(), "mc_bias": bias.tolist()}


def _pool_remainder(parts: list[dict], paths: np.ndarray) -> dict:
    """Path-weighted mean of ``mc_remainder``; standard errors in quadrature."""
    w = paths / paths.sum()
    rem = sum(wi * np.asarray(p["mc_remainder"]) for wi, p in zip(w, parts, strict=True))
    se = np.sqrt(sum((wi * np.asarray(p["mc_remainder_stderr"])) ** 2
                     for wi, p in zip(w, parts, strict=True)))
    return {"mc_remainder": rem, "mc_remainder_stderr": se}


def _second_step(pooled: dict, rem: dict) -> dict:
    """Two-level responses less the measured remainder: ``R₂ = R₁ − (R₁ − R₂)``."""
    value = np.asarray(pooled["mc_value"]) - rem["mc_remainder"]
    se = np.hypot(np.asarray(pooled["mc_stderr"]), rem["mc_remainder_stderr"])
    return pooled | {"mc_value": value.tolist(), "mc_stderr": se.tolist(),
                     "mc_remainder": rem["mc_remainder"].tolist(),
                     "mc_remainder_stderr": rem["mc_remainder_stderr"].tolist()}


def merge(runs: list[dict], terms_from: dict | None = None,
          names: list[str] | None = None, terms_name: str | None = None,
          remainder_from: list[dict] | None = None,
          remainder_names: list[str] | None = None) -> dict:
    """One run from ``runs`` (independent ensembles of one network, see the module
    docstring); ``ValueError`` naming the field where they differ."""
    def same(r: dict, key: str):
        # older runs stored no input, gain or network seed: theirs are the defaults
        value = r.get(key)
        return {"input": DEFAULT_INPUT, "gain": 1.2, "net_seed": 0}.get(key, value) \
            if value is None else value

    first = runs[0]
    checks = [(r, SAME) for r in runs[1:]] + (
        [] if terms_from is None else [(terms_from, SAME_TERMS)])
    for r, keys in checks:
        for key in keys:
            if same(r, key) != same(first, key):
                raise ValueError(f"the runs differ in {key!r}: {same(first, key)!r} against "
                                 f"{same(r, key)!r}")
    for r in remainder_from or []:
        for key in SAME:
            if same(r, key) != same(first, key):
                raise ValueError(f"--remainder-from differs in {key!r}: {same(first, key)!r} "
                                 f"against {same(r, key)!r}")
        if r.get("levels") != 3 or "mc_remainder" not in r:
            raise ValueError("--remainder-from takes runs with --levels 3")
    if any(r.get("levels", 2) != 2 for r in runs):
        raise ValueError("pool two-level runs (three-level ones go to --remainder-from)")
    if any(bool(r.get("parts")) != bool(first.get("parts"))
           for r in runs + (remainder_from or [])):
        raise ValueError("pool runs with --parity only with runs with --parity")
    paths = np.array([float(r["paths"]) for r in runs])
    out = {k: first[k] for k in first if k not in ("results", "results_before", "reanalysed")}
    out.update(_pool(runs, paths))
    if first.get("parts"):
        out["parts"] = {p: _pool([r["parts"][p] for r in runs], paths)
                        for p in first["parts"]}
    if remainder_from:
        rp = np.array([float(r["paths"]) for r in remainder_from])
        out.update(_second_step(out, _pool_remainder(remainder_from, rp)))
        for p in out.get("parts") or {}:
            out["parts"][p] = _second_step(out["parts"][p], _pool_remainder(
                [r["parts"][p] for r in remainder_from], rp))
        out.update(levels=3, remainder_from={
            "files": remainder_names, "seeds": [r.get("seed") for r in remainder_from],
            "paths": rp.astype(int).tolist(),
            "seconds": float(sum(r["seconds"] for r in remainder_from))})
    out.update(paths=int(paths.sum()), seconds=float(sum(r["seconds"] for r in runs)),
               pooled={"files": names, "seeds": [r.get("seed") for r in runs],
                       "paths": paths.astype(int).tolist()},
               results=[])
    if terms_from is not None:
        if len(terms_from["terms"]) < len(first["terms"]):
            raise ValueError(f"--terms-from has terms to order {len(terms_from['terms']) - 1}, "
                             f"the runs need {len(first['terms']) - 1}")
        out.update({k: terms_from[k] for k in TERMS})
        out["terms_from"] = {"file": terms_name, "degree": terms_from["degree"],
                             "galerkin_paths": terms_from["galerkin_paths"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--terms-from", type=Path, default=None)
    ap.add_argument("--remainder-from", type=Path, nargs="+", default=None)
    args = ap.parse_args()
    if len(args.files) < 2 and not args.remainder_from:
        ap.error("pool at least two runs (or one with --remainder-from)")
    runs = [json.loads(p.read_text())["runs"][0] for p in args.files]
    terms = None if args.terms_from is None else \
        json.loads(args.terms_from.read_text())["runs"][0]
    rems = None if not args.remainder_from else \
        [json.loads(p.read_text())["runs"][0] for p in args.remainder_from]
    try:
        run = merge(runs, terms, [p.name for p in args.files],
                    None if args.terms_from is None else args.terms_from.name, rems,
                    None if rems is None else [p.name for p in args.remainder_from])
    except ValueError as exc:
        ap.error(str(exc))
    head = json.loads(args.files[0].read_text())
    args.out.write_text(json.dumps({k: v for k, v in head.items() if k != "runs"}
                                   | {"runs": [run]}, indent=1))
    print(f"wrote {args.out}: {run['paths']} paths from {len(runs)} runs")


if __name__ == "__main__":
    main()
