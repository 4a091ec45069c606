"""Do the stored residual-slope passes rest on the Monte Carlo's time-step remainder?

The slope check of docs/theory.md §8 counts an ε where the residual ``R_M`` is above
``3·se`` plus the engine's error of the subtracted terms; the O(dt²) remainder of the
Richardson-extrapolated responses is not in that floor (the exact checks of linear models
bound it by ``0.05·max_t|bias|``, ``RICHARDSON_REL``). For every PASS in the stored results
of ``bench_galerkin_slopes.py`` (with their responses) this measures, at the ε the fit used,

* ``d = y − Σ_{N≥1} ε^N T_N`` — the responses against the whole computed series (to order
  M + 2, or M + 4 with even and odd parts): whatever the remainder is, ``|d|`` bounds it
  together with the noise and the engine's error of the higher terms;
* ``max |d|/|R_M|``: how much of the residual that fit could be systematic;
* ``max |d| / (0.05·max_t|bias|)``: the measured discrepancy against the bound.

And, where the remainder can be measured outright: on the *linearised* network of the
n = 5 runs (``bench_galerkin_slopes.py --n 5 --bias 0.3 0.8 0.6 -0.5 -0.4``; the drift's
Jacobian at its fixed point, the same noise and input) the CRN difference is free of noise,
so the responses minus the exact ``εT_1`` are the remainder itself, against ``max_t|bias|``.

    python benchmarks/check_slope_remainder.py   # writes results/slope_remainder.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from volterra_sym.verify.settings import RICHARDSON_REL

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "slope_remainder.json"


def passes(run: dict) -> list[dict]:
    """One row per PASS slope of ``run`` (whole residual and parts)."""
    eps = np.array(run["eps"])
    T, Te = np.array(run["terms"]), np.array(run["terms_error"])
    parts = {None: run, **(run.get("parts") or {})}
    rows = []
    for res in run["results"]:
        if res.get("status") != "PASS" or res.get("kind") != "slope":
            continue
        part = parts[res.get("parity")]
        j = run["times"].index(res["time"])
        used = np.array(res["used"], dtype=bool)
        y = np.array(part["mc_value"])[:, j]
        odd = {None: range(1, T.shape[0]), "even": range(2, T.shape[0], 2),
               "odd": range(1, T.shape[0], 2)}[res.get("parity")]
        d = y - sum(eps ** N * T[N, j] for N in odd)
        eng = sum(eps ** N * Te[N, j] for N in odd)
        se = np.array(part["mc_stderr"])[:, j]
        bound = RICHARDSON_REL * np.max(np.abs(np.array(part["mc_bias"])), axis=1)
        R = np.abs(np.array(res["residual_t"]))
        rows.append({"parity": res.get("parity"), "M": res["M"], "time": res["time"],
                     "slope": res.get("slope"), "eps_used": eps[used].tolist(),
                     "d_over_R": float(np.max(np.abs(d[used]) / R[used])),
                     "d_over_bound": float(np.max(np.abs(d[used]) / bound[used])),
                     "d_within_noise_and_engine": bool(np.all(
                         np.abs(d[used]) <= 3 * se[used] + eng[used])),
                     "R_over_bound_min": float(np.min(R[used] / bound[used]))})
    return rows


def linearised_remainder() -> dict:
    """The Richardson remainder of the CRN responses on the linearised n = 5 network (module
    docstring), at dt = 0.01 and ε = 0.4, 0.68, 0.95, times 0.5–3."""
    import sys
    import warnings

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_galerkin_slopes import model_for

    from volterra_sym import SRNN, ResponseHierarchy
    from volterra_sym.density.linearisation import linearisation
    from volterra_sym.montecarlo import crn_responses

    model = model_for(5, [0.3, 0.8, 0.6, -0.5, -0.4], 1.2, 0)
    lin, p = linearisation(model), model.numpy_params()
    J, G = np.asarray(lin.jacobian), np.asarray(p["Gamma"])
    # drift −Γh + (J + Γ)h − J h*: the Jacobian J at the fixed point h*
    linear = SRNN(G, J + G, np.asarray(p["C"]), np.asarray(p["sigma"]),
                  b=-(J @ np.asarray(lin.center).ravel()), activation="linear",
                  name="linearised5")
    times = np.round(np.arange(0.5, 3.001, 0.25), 10)
    eps = np.array([0.4, 0.68, 0.95])

    def u(t):
        return np.array([np.sin(2 * t)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = crn_responses(linear, u, eps, times, n_paths=2000, dt=0.01, seed=3)
        T1 = np.asarray(ResponseHierarchy(linear, "h1", 1).series_terms(u, times,
                                                                         method="exact"))[1]
    rem = np.abs(mc.value - eps[:, None] * T1[None, :])
    bias = np.abs(mc.bias)
    return {"eps": eps.tolist(), "times": times.tolist(), "remainder": rem.tolist(),
            "bias": bias.tolist(), "stderr_max": float(mc.stderr.max()),
            "remainder_over_max_bias": (rem.max(1) / bias.max(1)).tolist()}


def main() -> None:
    out = {}
    for path in sorted(RESULTS.glob("galerkin_slopes_*.json")):
        d = json.loads(path.read_text())
        for i, run in enumerate(d.get("runs", [])):
            if "mc_value" not in run or not run.get("results"):
                continue
            rows = passes(run)
            if rows:
                out[f"{path.name}#{i}"] = rows
    worst = max((r["d_over_R"] for rows in out.values() for r in rows), default=0.0)
    inside = sum(r["R_over_bound_min"] < 1 for rows in out.values() for r in rows)
    total = sum(len(rows) for rows in out.values())
    for name, rows in out.items():
        for r in rows:
            print(f"{name} {r['parity'] or 'whole'} M={r['M']}: |d|/|R| ≤ {r['d_over_R']:.2f}, "
                  f"|d|/bound ≤ {r['d_over_bound']:.2f}, min |R|/bound "
                  f"{r['R_over_bound_min']:.2f}, |d| within 3se + engine: "
                  f"{r['d_within_noise_and_engine']}")
    print(f"{total} passes: largest |d|/|R| {worst:.2f}; {inside} use an ε whose residual is "
          f"below the {RICHARDSON_REL:g}·max|bias| bound")
    lin = linearised_remainder()
    print(f"linearised n = 5 network: remainder / max_t|bias| = "
          f"{max(lin['remainder_over_max_bias']):.2g} (noise {lin['stderr_max']:.1g})")
    OUT.write_text(json.dumps({"richardson_rel": RICHARDSON_REL, "passes": out,
                               "linearised_n5": lin}, indent=1))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
