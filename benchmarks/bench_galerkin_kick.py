"""Galerkin K₁ and K₂ of coupled tanh networks (n = 3, 5, 8) against a Monte Carlo estimator
that shares nothing with them: central differences of kicked states (issue 9, acceptance 3:
"K₁ and K₂ at lags up to 3 relaxation times agree with the Monte Carlo estimators within
4 standard errors plus time-step bias", for networks whose linearised kernels differ by more
than 5 %).

The Monte Carlo route is :func:`volterra_sym.montecarlo.kick_kernel`: ``L_k = C_k·∇``
generates translations along ``C_k``, so ``K_k(σ) = ∂_a E f(h_σ | h_0 = x + a C_k)`` and
``K₂`` is the mixed derivative in two kicks, by central differences of common-noise copies
(Richardson in the amplitude), on coupled Euler chains at ``dt`` and ``dt/2`` (the bias
``2[v(dt) − v(dt/2)]`` per path). The comparison is the estimators' honest one plus the
Galerkin route's reported error and the Richardson remainder bound of ``verify``:
``|value − K_galerkin| ≤ 4·se + 1.05·|bias| + 4·se_bias + err_galerkin``.

Before the networks, the convention is checked on the 1-D ``tanh1d`` model against the
spectral route (where no polynomial basis is involved).

Networks: ``bench_galerkin_mc.network(n, g, seed)`` (``Γ = I``, ``σ = 0.6 I``, ``C = 1``,
``W = g·N(0,1)/√n``, ``b = 0.2·N(0,1)``) with ``(g, seed)`` = (2.0, 0), (1.2, 2), (1.2, 0)
for n = 3, 5, 8: networks whose linearised network's K₁ differs from the Galerkin K₁ by
more than 5 % of its peak (printed as ``nonlinearity``; at n = 3, g = 1.2 gives 1.3 %; at
n = 5 seed 0 has a relaxation time of 5.7 and a K₁ peak of 0.095 at ``h1``, seed 2 is
used).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_kick.py [--n 1 3 5 8] [--paths 40000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _timing  # noqa: E402,F401  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_mc import network  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.density.linearisation import linearisation  # noqa: E402
from volterra_sym.model.catalogue import load_model  # noqa: E402
from volterra_sym.montecarlo import kick_kernel  # noqa: E402
from volterra_sym.montecarlo.control import linearised_model  # noqa: E402
from volterra_sym.verify.settings import RICHARDSON_REL, Z  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_kick.json"
#: (gain, seed) of ``network(n, gain, seed)`` per n
NETWORKS = {3: (2.0, 0), 5: (1.2, 2), 8: (1.2, 0)}
#: lags in relaxation times: K₁ at σ; K₂ as (gap s, time after the second kick τ₂)
K1_LAGS = (0.25, 0.5, 1.0, 2.0, 3.0)
K2_PAIRS = {0.5: (0.25, 1.0, 2.0), 1.5: (0.25, 1.5)}


def kernel_seconds(res: dict) -> tuple[dict, bool]:
    """The kick estimator's seconds of the K₁ and of the K₂ run: measured (``mc_k1_s``,
    ``mc_k2_s``) or, for results stored before they were timed apart, ``mc_s`` split in
    proportion to each run's path-steps ``2·burn + copies·(steps + 1)`` (the work count of
    :func:`~volterra_sym.montecarlo.kick_kernel`; on the n = 8 subset of
    ``bench_galerkin_equal_accuracy.py`` it gives K₁ 25 % of the time, measured 21 %).
    Returns ``({"k1": s, "k2": s}, measured)``."""
    if "mc_k1_s" in res:
        return {"k1": res["mc_k1_s"], "k2": res["mc_k2_s"]}, True
    work = {}
    for key, det in zip(("k1", "k2"), res["kick_details"], strict=True):
        lags = np.asarray(res[f"{key}_lags"], dtype=float)
        steps = int(np.round(lags.max() / res["dt"]))
        work[key] = 2 * det["burn_in_steps"] + det["copies"] * (steps + 1)
    total = sum(work.values())
    return {k: res["mc_s"] * w / total for k, w in work.items()}, False


def equal_accuracy(res: dict) -> dict:
    """Monte Carlo cost grows as ``1/se²``: each kernel's kick run (K₁ and K₂ are separate
    runs) scaled to standard errors equal to the deterministic route's reported errors
    (the largest over the lags), summed, over the deterministic route's time. (Until
    2026-12-04 both runs were scaled by the larger kernel's factor, which charged the
    K₂ run — 3/4 of the time — for the paths only K₁ needed.)"""
    seconds, measured = kernel_seconds(res)
    factor = {k: (max(res[k]["mc_se"]) / max(res[k]["deterministic_error"])) ** 2
              for k in ("k1", "k2")}
    t_mc = sum(seconds[k] * factor[k] for k in ("k1", "k2"))
    return {"mc_s_at_deterministic_accuracy": t_mc,
            "mc_over_deterministic": t_mc / res["deterministic_s"],
            "mc_kernel_seconds": seconds, "mc_kernel_seconds_measured": measured,
            "mc_paths_factor": factor}


def compare(res: dict, key: str, g, mc, se, bias, bse) -> None:
    """``res[key]``: the deterministic values ``g`` (with their errors) against the kick
    estimates (value at dt, se, bias, se of the bias), and a printed table."""
    gv, ge = np.asarray(g), np.asarray(g.error)
    mc, se, bias, bse = (np.asarray(x, dtype=float) for x in (mc, se, bias, bse))
    dev = np.abs(gv - mc)
    budget = Z * se + (1 + RICHARDSON_REL) * np.abs(bias) + Z * bse + ge
    rich = mc - bias
    res[key] = {"deterministic": gv.tolist(), "deterministic_error": ge.tolist(),
                "mc": mc.tolist(), "mc_se": se.tolist(), "mc_bias": bias.tolist(),
                "mc_bias_se": bse.tolist(), "mc_richardson": rich.tolist(),
                "abs_diff": dev.tolist(), "over_budget": (dev / budget).tolist(),
                "richardson_abs_diff": np.abs(gv - rich).tolist(),
                "max_over_budget": float((dev / budget).max()),
                "peak": float(np.abs(gv).max()),
                "max_se_over_peak": float(se.max() / np.abs(gv).max())}
    print(f"  {key.upper()}: max |Δ|/(4se + 1.05|bias| + 4se_bias + err) = "
          f"{(dev / budget).max():.2f}; max |Δ| {dev.max():.2e}, after Richardson "
          f"{np.abs(gv - rich).max():.2e}; se ≤ {se.max():.1e}, |bias| ≤ "
          f"{np.abs(bias).max():.1e}, "
          f"err ≤ {ge.max():.1e}, peak {np.abs(gv).max():.3f}", flush=True)
    for j in range(len(gv)):
        print(f"    {'lag' if key == 'k1' else 'lags'} "
              f"{np.round(res[key + '_lags'][j], 3)}: {gv[j]: .5f} ± {ge[j]:.1e}  "
              f"MC {mc[j]: .5f} ± {se[j]:.1e} (bias {bias[j]:.1e}; value − bias "
              f"{rich[j]: .5f})", flush=True)


def deterministic(model, k1_lags, pairs, method: str, **options):
    """K₁ and K₂ by ``method`` (its default degree ladder, or ``options``) and the time
    taken."""
    H = ResponseHierarchy(model, "h1", 2)
    t0 = time.perf_counter()
    g1 = H.kernel((0,)).evaluate(np.asarray(k1_lags)[:, None], method=method, **options)
    g2 = H.kernel((0, 0)).evaluate(np.asarray(pairs), method=method, **options)
    return g1, g2, time.perf_counter() - t0


def nonlinearity(model, k1, lags) -> float:
    """``max |K₁ − K₁^lin| / max |K₁|`` over ``lags``: ``k1`` the network's K₁ there, ``K₁^lin``
    the exact K₁ of the network linearised at its fixed point (tangent)."""
    lin, _, _ = linearised_model(model, linearisation(model).center, "tangent")
    k_lin = np.asarray(ResponseHierarchy(lin, "h1", 1).kernel((0,)).evaluate(
        np.asarray(lags, dtype=float)[:, None], method="exact"))
    return float(np.abs(np.asarray(k1) - k_lin).max() / np.abs(np.asarray(k1)).max())


def run(n: int, paths: int, dt: float, amplitude: float, seed: int,
        net_seed: int | None = None) -> dict:
    warnings.simplefilter("ignore")
    spec = NETWORKS.get(n) if net_seed is None else (NETWORKS[n][0], net_seed)
    model = load_model("tanh1d") if n == 1 else network(n, *spec)
    tau = 1.0 / linearisation(model).rate
    step = 2 * dt                                # lags on the grid of both time steps
    k1_lags = np.round(np.array(K1_LAGS) * tau / step) * step
    plan_lags = {float(np.round(s * tau / step) * step):
                 np.round(np.array(t2) * tau / step) * step for s, t2 in K2_PAIRS.items()}
    pairs = np.round(np.array([(s + t, t) for s, ts in plan_lags.items() for t in ts]), 10)
    method = "spectral" if n == 1 else "galerkin"
    g1, g2, t_det = deterministic(model, k1_lags, pairs, method)
    nonlin = nonlinearity(model, g1, k1_lags)
    print(f"n={n}: tau {tau:.2f}, {method} K1/K2 in {t_det:.1f} s "
          f"({g1.details.get('route', {}).get('degree', '-')} / "
          f"{g2.details.get('route', {}).get('degree', '-')}), nonlinearity {nonlin:.3f}",
          flush=True)
    t0 = time.perf_counter()
    k1 = kick_kernel(model, k1_lags, n_paths=paths, dt=dt, amplitude=amplitude, seed=seed)
    t_k1 = time.perf_counter() - t0
    k2 = kick_kernel(model, pairs, n_paths=paths, dt=dt, amplitude=amplitude, seed=seed + 1)
    t_mc = time.perf_counter() - t0
    print(f"  kick estimator (dt = {dt:g} and {dt / 2:g}, coupled): {t_mc:.0f} s", flush=True)

    def combine(key):
        est = k1 if key == "k1" else k2
        J = len(est.value)
        return (est.value.reshape(J), est.stderr.reshape(J), est.bias.reshape(J),
                est.bias_stderr.reshape(J))

    res = {"n": n, "model": model.name, "network": spec, "relaxation_time": tau,
           "nonlinearity": nonlin, "method": method, "deterministic_s": t_det,
           "mc_s": t_mc, "mc_k1_s": t_k1, "mc_k2_s": t_mc - t_k1, "paths": paths, "dt": dt,
           "amplitude": amplitude,
           "k1_lags": k1_lags.tolist(), "k2_lags": pairs.tolist(),
           "kick_details": [k1.details, k2.details],
           "route_k1": g1.details.get("route"), "route_k2": g2.details.get("route")}
    for key, g in (("k1", g1), ("k2", g2)):
        compare(res, key, g, *combine(key))
    if method == "galerkin":
        res.update(equal_accuracy(res))
        print(f"  Monte Carlo at the Galerkin route's accuracy: "
              f"{res['mc_s_at_deterministic_accuracy']:.2g} s, "
              f"{res['mc_over_deterministic']:.2g}× its {t_det:.1f} s", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1, 3, 5, 8])
    ap.add_argument("--paths", type=int, default=40_000)
    ap.add_argument("--dt", type=float, default=0.02)
    ap.add_argument("--amplitude", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--tag", default="", help="suffix of the result file")
    ap.add_argument("--net-seed", type=int, default=None,
                    help="seed of the networks' weights instead of NETWORKS'")
    ap.add_argument("--reanalyse", metavar="JSON", default=None,
                    help="recompute the deterministic side (values, errors, time) of a "
                         "stored result with the present code, keep its Monte Carlo "
                         "estimates, and exit")
    ap.add_argument("--degree", type=int, default=None,
                    help="with --reanalyse: the Galerkin degree (default: its ladder)")
    ap.add_argument("--galerkin-paths", type=int, default=None,
                    help="with --reanalyse: samples of the Galerkin route's sampled measure")
    ap.add_argument("--out", default=None,
                    help="with --reanalyse: write here instead of over the input")
    ap.add_argument("--recharge", metavar="JSON", nargs="+", default=None,
                    help="recompute only the equal-accuracy ratio of stored results (each "
                         "kernel charged its own paths, equal_accuracy), keeping the old "
                         "one under 'before_recharge', and exit")
    args = ap.parse_args()
    if args.recharge:
        for name in args.recharge:
            path = Path(name)
            out = json.loads(path.read_text())
            for res in out["runs"]:
                if res.get("method") != "galerkin":
                    continue
                res.setdefault("before_recharge", {
                    k: res[k] for k in ("mc_s_at_deterministic_accuracy",
                                        "mc_over_deterministic") if k in res})
                res.update(equal_accuracy(res))
                before = res["before_recharge"].get("mc_over_deterministic", float("nan"))
                print(f"{path.name}, n={res['n']}: {before:.3g}× -> "
                      f"{res['mc_over_deterministic']:.3g}× (kernel seconds "
                      f"{'measured' if res['mc_kernel_seconds_measured'] else 'apportioned'})")
            path.write_text(json.dumps(out, indent=1))
        return
    if args.reanalyse:
        path = Path(args.reanalyse)
        out = json.loads(path.read_text())
        options = {k: v for k, v in (("degree", args.degree), ("paths", args.galerkin_paths))
                   if v is not None}
        if options:
            out["galerkin_options"] = options
        for res in out["runs"]:
            warnings.simplefilter("ignore")
            model = (load_model("tanh1d") if res["n"] == 1
                     else network(res["n"], *res["network"]))
            g1, g2, t_det = deterministic(model, res["k1_lags"], res["k2_lags"],
                                          res["method"],
                                          **(options if res["method"] == "galerkin" else {}))
            res.setdefault("before_reanalysis", {k: res[k] for k in ("k1", "k2")}
                           | {"deterministic_s": res["deterministic_s"]})
            res["deterministic_s"] = t_det
            res["route_k1"], res["route_k2"] = (g1.details.get("route"),
                                                g2.details.get("route"))
            print(f"n={res['n']}:")
            for key, g in (("k1", g1), ("k2", g2)):
                r = res[key]
                compare(res, key, g, r["mc"], r["mc_se"], r["mc_bias"], r["mc_bias_se"])
            if res["method"] == "galerkin":
                res.update(equal_accuracy(res))
                print(f"n={res['n']}: Monte Carlo at the Galerkin route's accuracy "
                      f"{res['mc_s_at_deterministic_accuracy']:.2g} s = "
                      f"{res['mc_over_deterministic']:.2g}× its {res['deterministic_s']:.1f} s")
        (Path(args.out) if args.out else path).write_text(json.dumps(out, indent=1))
        return
    out = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "runs": []}
    for n in args.n:
        out["runs"].append(run(n, args.paths, args.dt, args.amplitude, args.seed,
                               args.net_seed))
    path = OUT.with_name(f"{OUT.stem}{args.tag}.json")
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
