"""Rules for the Galerkin route's truncation part, measured on one corpus (issue 9: "the
estimate is within 100× of the actual error").

The route compares a value at basis degree ``d`` with the same quantity at lower degrees and
reports the changes it saw (``details["route"]["changes"]`` for kernels,
``details["changes"]`` per term for series). Here every value is also compared with an
independent reference, and rules that turn the changes ``Δ_j = max|v_d − v_{d−j}|`` into an
estimate are scored by ``estimate / actual error`` (≥ 1: it covers; ≤ 100: the acceptance's
bound):

* ``route`` — the reported truncation part (the rule in use: ``s · max_j Δ_j`` over the window
  of :func:`~volterra_sym.backends.galerkin.truncation.lower_degrees`, ``s`` = 3 on the
  ``galerkin_density`` measure);
* ``window s=…`` — the same window with another factor; ``d-1, d-2 s=…`` — the two latest
  changes only;
* ``discount q=… s=…`` — older changes discounted, ``s · max_j Δ_j q^{j−1}`` (an older change
  reflects an older degree's error);
* ``contraction s=…`` — the discount taken from the changes themselves,
  ``q = max_j Δ_j / Δ_{j+1}`` (1 where they do not contract), with three changes at least.

Corpus (scored where the route averages over the ``galerkin_density`` measure of 3 ≤ n ≤ 5;
beyond its size limit — n = 5 from degree 6 — it samples ``p0``, whose rows are kept in the
results but not scored): networks of independent tanh
units (``check_galerkin_independent_units.case``; reference: the sum of the units' 1-D
spectral values) and coupled tanh networks (``bench_galerkin_mc.network(n, gain, seed)``;
reference: the same route at a higher degree, its own reported error kept beside each row).
Quantities: K₁ at 5 lags, K₂ at 9 lag pairs, K₃ at 4 triples (0.1–3 relaxation times) and
``T_1 … T_4`` for ``sin 2t`` on ``t ∈ [0, 4]``. A row counts where its actual error is
resolved: above 4× the reference's own error (1e-7 for the spectral sums). The rules are
scored on all rows and apart where the Gaussian reference of the linearised network fits
``p0`` (:func:`~volterra_sym.backends.galerkin.ridge.reference_fits`) and where it does not.

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_truncation_rules.py [--quick] \
        [--check above]

(``--check above``: the route's check from above, the values compared with ``d + 1 …
d + 3``; the rules then read those changes, ``route`` is the estimate it reports;
results in ``galerkin_truncation_rules_above.json``.)

(about 35 minutes on one core, most of it the n = 4 networks; ``--quick``: the first
independent and coupled cases, 4 minutes.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_mc import network  # noqa: E402
from check_galerkin_independent_units import LAGS, TIMES, spectral_reference, u  # noqa: E402
from check_galerkin_independent_units import case as independent  # noqa: E402

from volterra_sym import ResponseHierarchy, VolterraSymError  # noqa: E402
from volterra_sym.backends.galerkin.ridge import reference_fits  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_truncation_rules.json"
ORDER = 4
SPECTRAL_FLOOR = 1e-7
#: (n, gain, lowest degree, highest degree) of the independent units
INDEPENDENT = [(3, 1.0, 4, 15), (3, 1.2, 5, 15), (4, 1.0, 4, 12), (5, 1.0, 4, 8)]
#: (n, gain, seed, lowest degree, highest degree, reference degree) of the coupled networks
COUPLED = [(3, g, s, 4, 12, 14) for g in (1.0, 1.2, 1.5) for s in range(4)] \
    + [(4, 1.2, 0, 4, 9, 11), (5, 1.2, 0, 4, 7, 9)]


def values(model, f, degree, check="below"):
    """``{quantity: (values, largest reported error, changes {j: Δ_j}, truncation part,
    measure)}``."""
    out = {}
    for N in (1, 2, 3):
        try:
            k = ResponseHierarchy(model, f, N).kernel((0,) * N).evaluate(
                LAGS[N], method="galerkin", degree=degree, check=check)
        except VolterraSymError:
            continue
        facts = k.details["route"]
        out[f"K{N}"] = (np.asarray(k), float(np.max(k.error)),
                        {abs(degree - int(dl)): float(c) for dl, c in facts["changes"].items()},
                        float(facts["truncation"]), facts["measure"])
    try:
        s = ResponseHierarchy(model, f, ORDER).series_terms(u, TIMES, method="galerkin",
                                                            degree=degree, check=check)
    except VolterraSymError:
        return out
    for N in range(1, ORDER + 1):
        out[f"T{N}"] = (np.asarray(s)[N], float(np.max(np.asarray(s.error)[N])),
                        {abs(degree - int(dl)): float(c[N - 1])
                         for dl, c in s.details["changes"].items() if c[N - 1] is not None},
                        float(s.details["truncation"][N - 1]), s.details["measure"])
    return out


def collect(name, model, f, degrees, ref, ref_err, check):
    rows = []
    t0 = time.perf_counter()
    fits = reference_fits(model)
    for d in degrees:
        for q, (v, err, changes, trunc, measure) in values(model, f, d, check).items():
            if q not in ref or not changes:
                continue
            rows.append({"case": name, "fits": fits, "measure": measure, "quantity": q,
                         "degree": d,
                         "actual": float(np.max(np.abs(v - ref[q]))), "ref_error": ref_err[q],
                         "reported": err, "truncation": trunc,
                         "changes": {str(j): c for j, c in sorted(changes.items())}})
    print(f"{name}: {len(rows)} rows, the Gaussian reference {'fits' if fits else 'does not fit'}"
          f" p0 ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rows


def independent_rows(check, n, gain, dmin, dmax):
    model, f, units = independent(n, gain)
    ref = spectral_reference(units, ORDER)
    return collect(f"independent n={n} gain={gain}", model, f, range(dmin, dmax + 1), ref,
                   {q: SPECTRAL_FLOOR / 4 for q in ref}, check)


def coupled_rows(check, n, gain, seed, dmin, dmax, dref):
    model = network(n, gain, seed).replace(name=f"rules{n}_{int(10 * gain)}_{seed}")
    top = values(model, "h1", dref)
    return collect(f"coupled n={n} gain={gain} seed={seed}", model, "h1",
                   range(dmin, dmax + 1), {q: v[0] for q, v in top.items()},
                   {q: v[1] for q, v in top.items()}, check)


def _ordered(row):
    """The changes ``[Δ_1, Δ_2, …]`` by age (``j = d − d_l``)."""
    return [c for _, c in sorted((int(j), c) for j, c in row["changes"].items())]


def rules():
    def window(s):
        return lambda r: s * max(_ordered(r))

    def discount(q, s):
        return lambda r: s * max(c * q ** i for i, c in enumerate(_ordered(r)))

    def contraction(s):
        def est(r):
            ch = _ordered(r)
            if len(ch) < 3 or min(ch) <= 0.0:
                return s * max(ch)
            q = min(1.0, max(ch[i] / ch[i + 1] for i in range(len(ch) - 1)))
            return s * max(c * q ** i for i, c in enumerate(ch))
        return est
    def narrow(s):
        return lambda r: s * max(_ordered(r)[:2])
    out = {"route": lambda r: r["truncation"]}
    out.update({f"window s={s}": window(s) for s in (2, 3, 5)})
    out.update({f"d-1, d-2 s={s}": narrow(s) for s in (2, 3)})
    out.update({f"discount q={q} s={s}": discount(q, s) for q in (0.5, 0.3) for s in (3, 5)})
    out.update({f"contraction s={s}": contraction(s) for s in (3, 4)})
    return out


def score(rows, label="all"):
    """Each rule's ``estimate / actual`` over the resolved rows of the ``galerkin_density``
    measure (the sampled measure beyond its size limit adds a statistical part, which its
    changes also carry: not scored)."""
    kept = [r for r in rows if r["actual"] > 4 * r["ref_error"]
            and r["measure"] == "galerkin_density"]
    if not kept:
        return {}
    print(f"-- {label}", flush=True)
    return {name: summary(name, kept, [rule(r) for r in kept])
            for name, rule in rules().items()}


def score_checks(rows, checks) -> dict:
    """:func:`summary` of the reported estimates per truncation check (``row["check"]`` in
    ``checks``), over the rows whose actual error is resolved (above 4× the reference's)."""
    table = {}
    for check in checks:
        kept = [r for r in rows if r["check"] == check and r["actual"] > 4 * r["ref_error"]]
        if kept:
            table[check] = summary(f"check={check}", kept, [r["reported"] for r in kept])
    return table


def write_scored(rows, checks, out: Path) -> None:
    """:func:`score_checks` over all ``rows`` and per case, printed and written to ``out``
    with the rows and the machine."""
    table = {"all": score_checks(rows, checks)}
    for name in dict.fromkeys(r["case"] for r in rows):
        print(f"-- {name}")
        table[name] = score_checks([r for r in rows if r["case"] == name], checks)
    out.write_text(json.dumps({"checks": table, "rows": rows,
                               "machine": _timing.machine_info()}, indent=1))
    print(f"wrote {out}")


def check_arguments(doc: str, out: Path, *, quick: bool = False,
                    extra: tuple = ()) -> argparse.Namespace:
    """The command line of the ``check_galerkin_*`` studies (described by the first line
    of ``doc``): ``--quick`` where it has one, the ``extra`` ``(flag, keywords)`` options,
    ``--out`` (default ``out``); warnings silenced for the run."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if quick:
        ap.add_argument("--quick", action="store_true")
    for flag, keywords in extra:
        ap.add_argument(flag, **keywords)
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    return args


def summary(name, kept, estimates) -> dict:
    """``estimate / actual`` of the rows ``kept`` (with their ``estimates``): its range,
    median, the count above 100 and the rows below 1; printed on one line."""
    ratio = np.array([e / r["actual"] for r, e in zip(kept, estimates, strict=True)])
    under = [f"{r['case']} {r['quantity']} d={r['degree']} ({x:.2f})"
             for r, x in zip(kept, ratio, strict=True) if x < 1.0]
    out = {"rows": len(kept), "min": float(ratio.min()), "median": float(np.median(ratio)),
           "max": float(ratio.max()), "over_100": int(np.sum(ratio > 100)),
           "under_1": len(under), "under": under[:12]}
    print(f"{name:22s} rows {len(kept)}: estimate/actual {ratio.min():.2f} … "
          f"{ratio.max():.3g} (median {np.median(ratio):.3g}); above 100: "
          f"{out['over_100']}, below 1: {len(under)}"
          + (f" — {', '.join(under[:4])}" if under else ""), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--check", choices=["below", "above"], default="below",
                    help="the route's truncation check (above: the changes against "
                         "d + 1 … d + 3, and the rules on them)")
    args = ap.parse_args()
    if args.out is None:
        args.out = OUT if args.check == "below" else OUT.with_name(
            "galerkin_truncation_rules_above.json")
    warnings.simplefilter("ignore")
    rows = []
    for c in INDEPENDENT[:1] if args.quick else INDEPENDENT:
        rows += independent_rows(args.check, *c)
    for c in COUPLED[:1] if args.quick else COUPLED:
        rows += coupled_rows(args.check, *c)
    table = {"all": score(rows),
             "reference fits": score([r for r in rows if r["fits"]],
                                     "where the Gaussian reference fits p0"),
             "reference does not fit": score([r for r in rows if not r["fits"]],
                                             "where it does not")}
    args.out.write_text(json.dumps({"rules": table, "rows": rows,
                                    "machine": _timing.machine_info()}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
