"""The Galerkin route against the kick Monte Carlo estimator at equal accuracy, n = 8
(issue 9, speed item: "at least 100× faster than Monte Carlo at the same accuracy"; ``--n 3``
or ``5``: the networks of that size of ``bench_galerkin_kick.py``; ``--n 16``:
``network(16, 0.9, 1)``, :data:`NETWORKS`, with ``--task k1``).

Both sides are timed in this one run, interleaved (Galerkin, Monte Carlo, Monte Carlo,
Galerkin, ...), each case in a fresh process (the route's caches are keyed on the frozen
model), single-threaded BLAS on both sides, ``--rounds`` rounds (≥ 3), medians:

* **Galerkin**: the ``--task``'s kernels of ``network(8, 1.2, 0)`` within 3 relaxation
  times (``subset``: K₁ at 5 lags and K₂ at 5 lag pairs, those of
  ``bench_galerkin_kick.py``; ``acceptance``: the issue's task, K₁ at 50 lags and K₂ at 55
  lag pairs plus the order-2 series on 10⁴ times, :data:`TASKS`), at ``--degree`` with
  ``--samples`` samples of ``p0``, from the model to the values (setup included); its
  reported errors ``err_j`` (truncation + ``z_B`` jackknife standard errors + rounding,
  ``z_B = 4.53`` for the route's 8 batches: the coverage of ``STAT_Z`` = 3 normal standard
  deviations, :func:`~volterra_sym.backends.coverage.stat_z`) per lag.
* **Monte Carlo**: :func:`volterra_sym.montecarlo.kick_kernel` on the same lags, ``--paths``
  paths per round, coupled Euler chains at ``dt`` and ``dt/2`` (so its time-step bias is
  estimated and removed, as in ``verify``). Its standard error falls as ``s_j/√P``; ``s_j``
  is measured from all rounds' paths pooled; its time per path from the rounds' medians.

Monte Carlo "at the same accuracy" needs ``P = max_j (z·s_j/room_j)²`` paths per kernel, so
that at every lag ``z`` standard errors fit into the Galerkin route's reported error
``err_j`` (less what the Monte Carlo must also leave for its own time-step remainder). K₁ and
K₂ are separate Monte Carlo runs, timed separately, and each kernel is charged its own paths
at its own cheaper time step: the Monte Carlo time is ``Σ_kernels P_k·t_k`` (``t_k`` its
seconds per path). (Until 2026-12-04 both kernels were charged the larger of the two path
counts — K₁'s, 19× K₂'s on the subset — which over-stated the ratios by 3–5×.) Three
conventions are printed, and all go into the result file:

* ``z = 1``, no remainder: one Monte Carlo standard error equal to the Galerkin route's
  reported error (the convention of ``bench_galerkin_kick.py``). The two numbers then do not
  say the same thing: the route's error is a bound (its statistical part alone has the
  coverage of ``STAT_Z`` = 3 standard deviations), the Monte Carlo's is one standard
  deviation.
* ``z = STAT_Z``, no remainder: equal confidence, the Monte Carlo's error bar at the
  coverage the route gives its own sampling error (the Monte Carlo's standard error rests
  on thousands of paths: its multiplier is the normal one); the Monte Carlo's Richardson
  remainder is taken as zero, which favours it.
* ``z = STAT_Z`` with the remainder: each route vouches for the same error by its own error
  model. ``verify`` bounds the Monte Carlo's Richardson remainder by ``RICHARDSON_REL·|bias|``
  (``bias`` the measured O(dt) bias, which halves with ``dt``), so ``room_j = err_j −
  RICHARDSON_REL·|bias_j|``; the Monte Carlo is also run at ``dt/2`` (half the paths per
  round) and the cheaper of the two time steps is taken (a time step whose remainder bound
  alone exceeds the route's error cannot reach it with any number of paths).

The kick estimator's cost per path grows with the distinct gaps ``σ₂ − σ₁`` of the K₂ pairs
(8 kicked copies each, every copy run to the largest lag); the Galerkin route's hardly grows
with the lags (its setup dominates), so the ratio depends on the task — both are measured.

At n = 16 the Gaussian reference (exact sums, deterministic) fits ``p0`` only for a weakly
nonlinear network: of gains 0.6–1.2 and seeds 0–3 the stationary mean stays within 0.3
reference standard deviations up to gain 0.9 for seed 1, whose K₁ differs from the
linearised network's by 2 % of its largest value (0.018 against 0.004 at two relaxation
times). There K₂ is not resolved — at degree 4 (4,845 functions, 90 s) its error is 1.8× its
largest value; degree 5 has 20,349 functions — so the n = 16 task is K₁ alone (``k1``).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_equal_accuracy.py \
        [--rounds 3] [--task subset|acceptance|k1] [--n 3|5|8|16]
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
from bench_galerkin_kick import NETWORKS as KICK_NETWORKS  # noqa: E402

from volterra_sym.backends.coverage import STAT_Z  # noqa: E402
from volterra_sym.verify.settings import RICHARDSON_REL  # noqa: E402

#: ``network(n, gain, seed)`` of ``bench_galerkin_mc.py`` per ``--n``: those of
#: ``bench_galerkin_kick.py`` and, at n = 16, the one whose Gaussian reference fits ``p0``
NETWORKS = {**KICK_NETWORKS, 16: (0.9, 1)}
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "galerkin_equal_accuracy_n8.json"

#: one case in a fresh process; prints one JSON line
CHILD = r'''
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench!r})
warnings.simplefilter("ignore")
from bench_galerkin_equal_accuracy import NETWORKS, TASK_KERNELS, task_lags
from bench_galerkin_mc import network
from volterra_sym import ResponseHierarchy
from volterra_sym.density.linearisation import linearisation
from volterra_sym.montecarlo import kick_kernel
n, what, seed, dt, step, task = {n}, {what!r}, {seed}, {dt}, {grid}, {task!r}
model = network(n, *NETWORKS[n])
tau = 1.0 / linearisation(model).rate
k1_lags, pairs = task_lags(task, tau, step)
out = {{"k1_lags": k1_lags.tolist(), "k2_lags": pairs.tolist()}}
t0 = time.perf_counter()
kernels = TASK_KERNELS[task]
if what == "galerkin":
    opts = {{"degree": {degree} or None, "measure": {measure!r}, "time_budget": {budget}}}
    if {measure!r} == "samples":
        opts.update(paths={samples}, seed=seed)
    H = ResponseHierarchy(model, "h1", len(kernels))
    k1 = H.kernel((0,)).evaluate(k1_lags[:, None], method="galerkin", **opts)
    k2 = H.kernel((0, 0)).evaluate(pairs, method="galerkin", **opts) if "k2" in kernels \
        else None
    if task == "acceptance":     # the order-2 series on 10⁴ times (Galerkin side only)
        T = H.series_terms(lambda t: np.sin(t), np.linspace(0.0, 10.0, 10_000),
                           method="galerkin", **opts)
        out["series_max_error"] = [float(np.max(e)) for e in np.asarray(T.error)]
    out["seconds"] = time.perf_counter() - t0
    for key, k in (("k1", k1), ("k2", k2))[:len(kernels)]:
        out[key] = {{"value": np.ravel(k.values).tolist(), "error": np.ravel(k.error).tolist(),
                    "route": {{a: b for a, b in k.details["route"].items()
                              if isinstance(b, (int, float, str))}}}}
else:
    k1 = kick_kernel(model, k1_lags, n_paths={paths}, dt=dt, seed=seed)
    out["k1_seconds"] = time.perf_counter() - t0
    k2 = kick_kernel(model, pairs, n_paths={paths}, dt=dt, seed=seed + 1) \
        if "k2" in kernels else None
    out["seconds"] = time.perf_counter() - t0
    out["k2_seconds"] = out["seconds"] - out["k1_seconds"]
    for key, k in (("k1", k1), ("k2", k2))[:len(kernels)]:
        out[key] = {{"value": np.ravel(k.value).tolist(), "se": np.ravel(k.stderr).tolist(),
                    "bias": np.ravel(k.bias).tolist(),
                    "bias_se": np.ravel(k.bias_stderr).tolist()}}
print(json.dumps(out))
'''


def task_lags(task: str, tau: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The lags of ``task`` (in relaxation times ``tau``, rounded to multiples of ``step``):
    K₁ lags ``(J,)`` and K₂ lag pairs ``(J₂, 2)`` (see :data:`TASKS`)."""
    grid = lambda x: np.round(np.asarray(x, dtype=float) * tau / step) * step  # noqa: E731
    if task == "subset":
        from bench_galerkin_kick import K1_LAGS, K2_PAIRS
        plan = {float(grid(s)): grid(t2) for s, t2 in K2_PAIRS.items()}
        pairs = np.array([(s + t, t) for s, ts in plan.items() for t in ts])
        return grid(K1_LAGS), np.round(pairs, 10)
    if task == "k1":
        return grid(np.linspace(0.06, 3.0, 50)), np.zeros((0, 2))
    if task == "acceptance":
        lags2 = grid(np.linspace(0.3, 3.0, 10))
        pairs = np.array([(a, b) for i, a in enumerate(lags2) for b in lags2[i:]])
        return grid(np.linspace(0.06, 3.0, 50)), np.round(pairs, 10)
    raise SystemExit(f"--task must be one of {sorted(TASKS)}, got {task!r}")


#: the lag sets compared (both within 3 relaxation times of ``network(8, 1.2, 0)``)
TASKS = {
    "subset": "K₁ at 5 lags, K₂ at 5 pairs with 2 distinct gaps (bench_galerkin_kick.py)",
    "acceptance": "the issue's task: K₁ at 50 lags (0.06–3 τ), K₂ at the 55 pairs σ₁ ≤ σ₂ "
                  "of 10 lags (0.3–3 τ; 10 distinct gaps), and on the Galerkin side also "
                  "the order-2 series on 10⁴ times (the Monte Carlo side does no series)",
    "k1": "K₁ at the acceptance task's 50 lags (0.06–3 τ) alone (n = 16, where K₂ is not "
          "resolved)",
}
#: the kernels each task compares
TASK_KERNELS = {"subset": ("k1", "k2"), "acceptance": ("k1", "k2"), "k1": ("k1",)}


def child(what: str, seed: int, args, dt: float, paths: int) -> dict:
    # the lags on one grid for every case: multiples of 2·--dt, so of both time steps
    code = CHILD.format(bench=str(ROOT / "benchmarks"), n=args.n, what=what, seed=seed, dt=dt,
                        grid=2 * args.dt, degree=args.degree, samples=args.samples,
                        measure=args.measure, budget=args.time_budget,
                        paths=paths, task=args.task)
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
    ap.add_argument("--n", type=int, choices=sorted(NETWORKS), default=8,
                    help="units: the network of bench_galerkin_kick.py of that size")
    ap.add_argument("--degree", type=int, default=5,
                    help="the Galerkin route's basis degree (0: the route's default)")
    ap.add_argument("--samples", type=int, default=80_000,
                    help="samples of p0 of the Galerkin route's measure")
    ap.add_argument("--measure", choices=("auto", "samples"), default="auto",
                    help="the Galerkin route's measure: auto (n = 8: the exact Gaussian "
                         "reference, deterministic; --samples unused) or samples of p0")
    ap.add_argument("--paths", type=int, default=20_000,
                    help="Monte Carlo paths per round at --dt (half of them at --dt/2)")
    ap.add_argument("--dt", type=float, default=0.02)
    ap.add_argument("--time-budget", type=float, default=120.0,
                    help="the Galerkin route's time_budget (its default: 120 s)")
    ap.add_argument("--task", choices=sorted(TASKS), default="subset",
                    help="; ".join(f"{k}: {v}" for k, v in TASKS.items()))
    ap.add_argument("--out", default=None,
                    help=f"result file (default {OUT.name}, with _acceptance for that task)")
    args = ap.parse_args()
    if args.out is None:
        base = OUT.with_name(OUT.name.replace("_n8", f"_n{args.n}"))
        args.out = str(base if args.task == "subset"
                       else base.with_name(base.stem + f"_{args.task}.json"))
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
                    "measure": args.measure, "time_budget": args.time_budget,
                    "network": {"n": args.n, "gain": NETWORKS[args.n][0],
                                "seed": NETWORKS[args.n][1]},
                    "task": {"name": args.task, "what": TASKS[args.task],
                             "k1_lags": gal[0]["k1_lags"], "k2_lags": gal[0]["k2_lags"]},
                    "galerkin_series_max_error": gal[0].get("series_max_error"),
                    "machine": _timing.machine_info(), "galerkin_s": _timing.summary(t_gal),
                    "mc": {}, "kernels": {}, "equal_accuracy": {}}
    lines = []
    kernels = TASK_KERNELS[args.task]
    err = {k: np.array(gal[0][k]["error"]) for k in kernels}
    for key in kernels:
        vals = np.array([g[key]["value"] for g in gal])
        report["kernels"][key] = {
            "galerkin": vals[0].tolist(), "galerkin_error": err[key].tolist(),
            "galerkin_seed_spread": vals.std(0, ddof=1).tolist(),
            "galerkin_route": gal[0][key]["route"]}
        lines.append(f"{key.upper()}: Galerkin error {err[key].min():.2e}–"
                     f"{err[key].max():.2e} (sd over the rounds' seeds ≤ "
                     f"{vals.std(0, ddof=1).max():.1e})")
    # per kernel and time step: the needed paths under each convention, and the per-round
    # seconds per path (the two kernels are separate runs: each gets the paths it needs)
    zs = {"z=1": (1.0, False), f"z={STAT_Z:g}": (STAT_Z, False),
          f"z={STAT_Z:g}+remainder": (STAT_Z, True)}
    need: dict[str, dict[str, dict[float, float]]] = {z: {k: {} for k in kernels} for z in zs}
    t_path: dict[str, dict[float, list[float]]] = {k: {} for k in kernels}
    for dt, P in steps.items():
        mc = runs[f"mc {dt:g}"]
        P_total = P * args.rounds
        rows = {"paths_per_round": P, "mc_s": _timing.summary([m["seconds"] for m in mc]),
                "kernels": {}}
        for key in kernels:
            t_path[key][dt] = [m[f"{key}_seconds"] / P for m in mc]
            m = pooled(mc, key)
            sd = m["se"] * np.sqrt(P_total)                     # per-path sd
            rem = RICHARDSON_REL * np.abs(m["bias"])
            rich = m["value"] - m["bias"]
            diff = np.abs(np.array(gal[0][key]["value"]) - rich)
            budget = 4 * np.hypot(m["se"], m["bias_se"]) + rem + err[key]
            for z_key, (z, with_rem) in zs.items():
                need[z_key][key][dt] = paths_needed(sd, err[key] - rem if with_rem
                                                    else err[key], z)
            rows["kernels"][key] = {
                "seconds_per_path": _timing.summary(t_path[key][dt]),
                "mc_richardson": rich.tolist(), "mc_se": m["se"].tolist(),
                "mc_bias": m["bias"].tolist(), "mc_per_path_sd": sd.tolist(),
                "richardson_remainder_bound": rem.tolist(), "abs_diff": diff.tolist(),
                "diff_over_budget": (diff / budget).tolist()}
            ms = statistics.median(t_path[key][dt]) * 1e3
            lines.append(f"  dt {dt:g}, {key.upper()}: {ms:.2f} ms per path; MC se at "
                         f"{P_total:,} paths ≤ "
                         f"{m['se'].max():.1e}, |Galerkin − MC| ≤ {diff.max():.1e} = "
                         f"{np.max(diff / budget):.2f} of 4·se + {RICHARDSON_REL}|bias| + err;"
                         f" remainder bound ≤ {rem.max():.1e}")
        report["mc"][f"{dt:g}"] = rows
    for z_key in zs:
        per_kernel, t_eq = {}, np.zeros(args.rounds)
        for key in kernels:
            by_dt = need[z_key][key]
            dt = min(by_dt, key=lambda d: by_dt[d] * statistics.median(t_path[key][d]))
            P = by_dt[dt]
            per_kernel[key] = {"dt": dt, "paths": P if math.isfinite(P) else None,
                               "paths_by_dt": {f"{d:g}": v if math.isfinite(v) else None
                                               for d, v in by_dt.items()}}
            if math.isfinite(P):
                t_k = np.array([P * t for t in t_path[key][dt]])   # per round
                per_kernel[key]["mc_s"] = float(np.median(t_k))
                t_eq = t_eq + t_k
        if not all(v["paths"] for v in per_kernel.values()):
            report["equal_accuracy"][z_key] = {"reachable": False, "kernels": per_kernel}
            lines.append(f"{z_key}: not reachable at the measured time steps")
            continue
        r = _timing.ratio(list(t_eq), t_gal)
        report["equal_accuracy"][z_key] = {"mc_s": float(np.median(t_eq)), "ratio": r,
                                           "kernels": per_kernel}
        lines.append(f"{z_key}: Monte Carlo needs " + ", ".join(
            f"{k.upper()} {v['paths']:,.0f} paths at dt {v['dt']:g} ({v['mc_s']:,.0f} s)"
            for k, v in per_kernel.items()) + f": {np.median(t_eq):,.0f} s, "
            f"{_timing.fmt_ratio(r)} the Galerkin route's {statistics.median(t_gal):.1f} s")
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps(report, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
