"""The Galerkin route against the kick Monte Carlo estimator at equal accuracy, n = 8
(issue 9, speed item: "at least 100× faster than Monte Carlo at the same accuracy").

Both sides are timed in this one run, interleaved (Galerkin, Monte Carlo, Monte Carlo,
Galerkin, ...), each case in a fresh process (the route's caches are keyed on the frozen
model), single-threaded BLAS on both sides, ``--rounds`` rounds (≥ 3), medians:

* **Galerkin**: K₁ at 5 lags and K₂ at 5 lag pairs up to 3 relaxation times of
  ``network(8, 1.2, 0)`` (the lags of ``bench_galerkin_kick.py``), at ``--degree`` with
  ``--samples`` samples of ``p0``, from the model to the values (setup included); its
  reported errors ``err_j`` (truncation + ``STAT_Z`` jackknife standard errors + rounding)
  per lag.
* **Monte Carlo**: :func:`volterra_sym.montecarlo.kick_kernel` on the same lags, ``--paths``
  paths per round, coupled Euler chains at ``dt`` and ``dt/2`` (so its time-step bias is
  estimated and removed, as in ``verify``). Its standard error falls as ``s_j/√P``; ``s_j``
  is measured from all rounds' paths pooled; its time per path from the rounds' medians.

Monte Carlo "at the same accuracy" needs ``P = max_j (z·s_j/room_j)²`` paths, so that at
every lag ``z`` standard errors fit into the Galerkin route's reported error ``err_j`` (less
what the Monte Carlo must also leave for its own time-step remainder). Three conventions are
printed, and all go into the result file:

* ``z = 1``, no remainder: one Monte Carlo standard error equal to the Galerkin route's
  reported error (the convention of ``bench_galerkin_kick.py``). The two numbers then do not
  say the same thing: the route's error is a bound (its statistical part alone is
  ``STAT_Z`` = 3 standard errors), the Monte Carlo's is one standard deviation.
* ``z = STAT_Z``, no remainder: equal confidence, the Monte Carlo's error bar at the
  multiplier the route uses for its own sampling error; the Monte Carlo's Richardson
  remainder is taken as zero, which favours it.
* ``z = STAT_Z`` with the remainder: each route vouches for the same error by its own error
  model. ``verify`` bounds the Monte Carlo's Richardson remainder by ``RICHARDSON_REL·|bias|``
  (``bias`` the measured O(dt) bias, which halves with ``dt``), so ``room_j = err_j −
  RICHARDSON_REL·|bias_j|``; the Monte Carlo is also run at ``dt/2`` (half the paths per
  round) and the cheaper of the two time steps is taken (a time step whose remainder bound
  alone exceeds the route's error cannot reach it with any number of paths).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_equal_accuracy.py [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402

from volterra_sym.backends.galerkin.route import STAT_Z  # noqa: E402
from volterra_sym.verify.settings import RICHARDSON_REL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_equal_accuracy_n8.json"

#: one case in a fresh process; prints one JSON line
CHILD = r'''
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench!r})
warnings.simplefilter("ignore")
from bench_galerkin_kick import K1_LAGS, K2_PAIRS, NETWORKS
from bench_galerkin_mc import network
from volterra_sym import ResponseHierarchy
from volterra_sym.density.linearisation import linearisation
from volterra_sym.montecarlo import kick_kernel
n, what, seed, dt, step = {n}, {what!r}, {seed}, {dt}, {grid}
model = network(n, *NETWORKS[n])
tau = 1.0 / linearisation(model).rate
k1_lags = np.round(np.array(K1_LAGS) * tau / step) * step
plan = {{float(np.round(s * tau / step) * step): np.round(np.array(t2) * tau / step) * step
        for s, t2 in K2_PAIRS.items()}}
pairs = np.round(np.array([(s + t, t) for s, ts in plan.items() for t in ts]), 10)
out = {{"k1_lags": k1_lags.tolist(), "k2_lags": pairs.tolist()}}
t0 = time.perf_counter()
if what == "galerkin":
    opts = {{"degree": {degree}, "paths": {samples}, "seed": seed}}
    H = ResponseHierarchy(model, "h1", 2)
    k1 = H.kernel((0,)).evaluate(k1_lags[:, None], method="galerkin", **opts)
    k2 = H.kernel((0, 0)).evaluate(pairs, method="galerkin", **opts)
    out["seconds"] = time.perf_counter() - t0
    for key, k in (("k1", k1), ("k2", k2)):
        out[key] = {{"value": np.ravel(k.values).tolist(), "error": np.ravel(k.error).tolist(),
                    "route": {{a: b for a, b in k.details["route"].items()
                              if isinstance(b, (int, float, str))}}}}
else:
    k1 = kick_kernel(model, k1_lags, n_paths={paths}, dt=dt, seed=seed)
    k2 = kick_kernel(model, pairs, n_paths={paths}, dt=dt, seed=seed + 1)
    out["seconds"] = time.perf_counter() - t0
    for key, k in (("k1", k1), ("k2", k2)):
        out[key] = {{"value": np.ravel(k.value).tolist(), "se": np.ravel(k.stderr).tolist(),
                    "bias": np.ravel(k.bias).tolist(),
                    "bias_se": np.ravel(k.bias_stderr).tolist()}}
print(json.dumps(out))
'''


def child(what: str, seed: int, args, dt: float, paths: int) -> dict:
    # the lags on one grid for every case: multiples of 2·--dt, so of both time steps
    code = CHILD.format(bench=str(ROOT / "benchmarks"), n=8, what=what, seed=seed, dt=dt,
                        grid=2 * args.dt, degree=args.degree, samples=args.samples,
                        paths=paths)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_timing.subprocess_env(), timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{what} (seed {seed}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pooled(runs: list[dict], key: str) -> dict:
    """Equal-size Monte Carlo runs pooled: mean values, ``se/√R``, mean bias."""
    R = len(runs)
    get = lambda f: np.array([r[key][f] for r in runs])  # noqa: E731
    return {"value": get("value").mean(0), "se": np.sqrt((get("se") ** 2).sum(0)) / R,
            "bias": get("bias").mean(0),
            "bias_se": np.sqrt((get("bias_se") ** 2).sum(0)) / R}


def paths_needed(sd: np.ndarray, room: np.ndarray, z: float) -> float:
    """``max_j (z·sd_j/room_j)²``; infinite where the room is gone."""
    if np.any(room <= 0):
        return math.inf
    return float(np.max((z * sd / room) ** 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--degree", type=int, default=5)
    ap.add_argument("--samples", type=int, default=80_000,
                    help="samples of p0 of the Galerkin route's measure")
    ap.add_argument("--paths", type=int, default=20_000,
                    help="Monte Carlo paths per round at --dt (half of them at --dt/2)")
    ap.add_argument("--dt", type=float, default=0.02)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if args.rounds < 3:
        raise SystemExit("--rounds must be ≥ 3 (medians with a range)")
    steps = {args.dt: args.paths, args.dt / 2: args.paths // 2}
    cases = ["galerkin"] + [f"mc {dt:g}" for dt in steps]
    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for r in range(args.rounds):
        for case in (cases if r % 2 == 0 else cases[::-1]):
            dt = float(case.split()[1]) if case != "galerkin" else args.dt
            res = child(case.split()[0], 11 + 2 * r, args, dt, steps.get(dt, 0))
            if runs["galerkin"] and res["k1_lags"] != runs["galerkin"][0]["k1_lags"]:
                raise SystemExit(f"{case}: lags differ from the Galerkin case's")
            runs[case].append(res)
            print(f"round {r + 1}: {case:10s} {res['seconds']:7.1f} s", flush=True)
    t_gal = [g["seconds"] for g in runs["galerkin"]]
    gal = runs["galerkin"]
    report: dict = {"rounds": args.rounds, "degree": args.degree, "samples": args.samples,
                    "machine": _timing.machine_info(), "galerkin_s": _timing.summary(t_gal),
                    "mc": {}, "kernels": {}, "equal_accuracy": {}}
    lines = []
    err = {k: np.array(gal[0][k]["error"]) for k in ("k1", "k2")}
    for key in ("k1", "k2"):
        vals = np.array([g[key]["value"] for g in gal])
        report["kernels"][key] = {
            "galerkin": vals[0].tolist(), "galerkin_error": err[key].tolist(),
            "galerkin_seed_spread": vals.std(0, ddof=1).tolist(),
            "galerkin_route": gal[0][key]["route"]}
        lines.append(f"{key.upper()}: Galerkin error {err[key].min():.2e}–"
                     f"{err[key].max():.2e} (sd over the rounds' seeds ≤ "
                     f"{vals.std(0, ddof=1).max():.1e})")
    # per time step: the needed paths under each convention, and the per-round times
    need: dict[str, dict[float, float]] = {"z=1": {}, f"z={STAT_Z:g}": {},
                                           f"z={STAT_Z:g}+remainder": {}}
    t_steps: dict[float, list[float]] = {}
    for dt, P in steps.items():
        mc = runs[f"mc {dt:g}"]
        t_steps[dt] = [m["seconds"] / P for m in mc]            # seconds per path
        P_total = P * args.rounds
        rows = {"paths_per_round": P, "mc_s": _timing.summary([m["seconds"] for m in mc]),
                "kernels": {}}
        for z_key in need:
            need[z_key][dt] = 0.0
        for key in ("k1", "k2"):
            m = pooled(mc, key)
            sd = m["se"] * np.sqrt(P_total)                     # per-path sd
            rem = RICHARDSON_REL * np.abs(m["bias"])
            rich = m["value"] - m["bias"]
            diff = np.abs(np.array(gal[0][key]["value"]) - rich)
            budget = 4 * np.hypot(m["se"], m["bias_se"]) + rem + err[key]
            need["z=1"][dt] = max(need["z=1"][dt], paths_needed(sd, err[key], 1.0))
            need[f"z={STAT_Z:g}"][dt] = max(need[f"z={STAT_Z:g}"][dt],
                                            paths_needed(sd, err[key], STAT_Z))
            need[f"z={STAT_Z:g}+remainder"][dt] = max(
                need[f"z={STAT_Z:g}+remainder"][dt], paths_needed(sd, err[key] - rem, STAT_Z))
            rows["kernels"][key] = {
                "mc_richardson": rich.tolist(), "mc_se": m["se"].tolist(),
                "mc_bias": m["bias"].tolist(), "mc_per_path_sd": sd.tolist(),
                "richardson_remainder_bound": rem.tolist(), "abs_diff": diff.tolist(),
                "diff_over_budget": (diff / budget).tolist()}
            lines.append(f"  dt {dt:g}, {key.upper()}: MC se at {P_total:,} paths ≤ "
                         f"{m['se'].max():.1e}, |Galerkin − MC| ≤ {diff.max():.1e} = "
                         f"{np.max(diff / budget):.2f} of 4·se + {RICHARDSON_REL}|bias| + err;"
                         f" remainder bound ≤ {rem.max():.1e}")
        report["mc"][f"{dt:g}"] = rows
    for z_key, by_dt in need.items():
        dt = min(by_dt, key=lambda d: by_dt[d] * statistics.median(t_steps[d]))
        P = by_dt[dt]
        if not math.isfinite(P):
            report["equal_accuracy"][z_key] = {"reachable": False}
            lines.append(f"{z_key}: not reachable at the measured time steps")
            continue
        t_eq = [P * t for t in t_steps[dt]]                     # per round
        r = _timing.ratio(t_eq, t_gal)
        report["equal_accuracy"][z_key] = {
            "dt": dt, "paths": P, "mc_s": statistics.median(t_eq), "ratio": r,
            "paths_by_dt": {f"{d:g}": by_dt[d] if math.isfinite(by_dt[d]) else None
                            for d in by_dt}}
        lines.append(f"{z_key}: Monte Carlo at dt {dt:g} needs {P:,.0f} paths, "
                     f"{statistics.median(t_eq):,.0f} s: {_timing.fmt_ratio(r)} the Galerkin "
                     f"route's {statistics.median(t_gal):.1f} s")
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps(report, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
