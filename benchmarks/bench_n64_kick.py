"""n = 64 tanh network: an independent check of the Girsanov K₁ of ``bench_n64_k1.py``
(issue 10: "n = 64 tanh, K₁ at 20 lags to 1 % of its peak").

The Girsanov estimator weights unperturbed paths by the noise increments of a kick window.
This script gets the same kernel by a route that shares none of that: the first-order
kernel is the derivative of the mean response to a kick of the initial state,

    K_k(σ) = <L_k P_σ f>_0 = E_{x~p0}[ C_k·∇_x E f(h_σ | h_0 = x) ]
           = ∂_a E f(h_σ | h_0 = x + a C_k) at a = 0,

(``L_k = C_k·∇`` generates translations along ``C_k``), estimated by central differences of
paths started at ``x ± a C_k`` with common noise (``x`` from the Euler–Maruyama burn-in
chain at the same step), Richardson-extrapolated in the amplitude (``a → a/2``: the
central difference is ``O(a²)``) and in the time step (``dt → dt/2``, two independent runs),
and averaged over the window ``[σ, σ + δ]`` as the Girsanov estimate is (trapezoid rule on
the step grid). The comparison: at every lag, the difference of the two Richardson values
against their combined standard error.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_n64_kick.py [--paths 20000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import _timing  # noqa: E402,F401  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_montecarlo_dask import tanh_net  # noqa: E402

from volterra_sym.montecarlo import burn_in_sampler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GIRSANOV = ROOT / "benchmarks" / "results" / "montecarlo_n64_k1.json"
OUT = ROOT / "benchmarks" / "results" / "montecarlo_n64_kick.json"
WINDOW = 0.05


def kick_run(model, lags: np.ndarray, dt: float, paths: int, amps: tuple[float, float],
             seed: int, chunk: int = 2000) -> dict:
    """Window-averaged central-difference K₁ at ``lags`` (per-path values, then Richardson
    in the amplitude) for one time step ``dt``."""
    p = model.numpy_params()
    G, W, b, S, C = p["Gamma"], p["W"], p["b"], p["sigma"], p["C"][:, 0]
    n = G.shape[0]
    n_steps = int(round((lags.max() + WINDOW) / dt))
    win = int(round(WINDOW / dt))
    starts = np.round(lags / dt).astype(int)
    sampler = burn_in_sampler(model, t_burn=10.0, dt=dt)
    rng = np.random.default_rng(seed)
    a1, a2 = amps
    sums, sq, count = np.zeros(lags.size), np.zeros(lags.size), 0
    done = 0
    while done < paths:
        P = min(chunk, paths - done)
        x = sampler(rng, P)                                        # (P, n)
        shifts = np.array([a1, -a1, a2, -a2])
        h = (x[None, :, :] + shifts[:, None, None] * C[None, None, :]).reshape(4 * P, n)
        f = np.empty((n_steps + 1, 4 * P))
        f[0] = h[:, 0]
        for i in range(n_steps):
            z = rng.standard_normal((P, S.shape[1]))
            noise = np.tile(z @ S.T, (4, 1)) * np.sqrt(dt)
            h = h + dt * (-h @ G.T + np.tanh(h @ W.T + b)) + noise
            f[i + 1] = h[:, 0]
        f = f.reshape(n_steps + 1, 4, P)
        d1 = (f[:, 0] - f[:, 1]) / (2 * a1)
        d2 = (f[:, 2] - f[:, 3]) / (2 * a2)
        k = (4 * d2 - d1) / 3                                       # O(a⁴) per path
        # window average δ⁻¹∫_σ^{σ+δ} by the trapezoid rule on the step grid
        wavg = np.stack([(k[s:s + win + 1].sum(0) - 0.5 * (k[s] + k[s + win])) / win
                         for s in starts])                          # (lags, P)
        sums += wavg.sum(1)
        sq += (wavg ** 2).sum(1)
        count += P
        done += P
    mean = sums / count
    se = np.sqrt(np.maximum(sq / count - mean ** 2, 0.0) / (count - 1))
    return {"dt": dt, "paths": count, "amplitudes": list(amps), "value": mean.tolist(),
            "stderr": se.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--dt", type=float, default=0.025)
    ap.add_argument("--amplitude", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    gir = json.loads(GIRSANOV.read_text())
    model = tanh_net(64, 0.5, seed=2)
    run0 = gir["runs"][0]
    lags = np.asarray(run0["lags"])
    amps = (args.amplitude, args.amplitude / 2)
    t0 = time.perf_counter()
    a = kick_run(model, lags, args.dt, args.paths, amps, args.seed)
    b = kick_run(model, lags, args.dt / 2, args.paths, amps, args.seed + 1)
    secs = time.perf_counter() - t0
    va, vb = np.asarray(a["value"]), np.asarray(b["value"])
    sa, sb = np.asarray(a["stderr"]), np.asarray(b["stderr"])
    kick = 2 * vb - va                                              # Richardson in dt
    kick_se = np.hypot(2 * sb, sa)
    peak = float(np.max(np.abs(kick)))
    print(f"kick-difference K1, {args.paths} paths at dt = {args.dt:g} and {args.dt / 2:g} "
          f"({secs:.0f} s); peak {peak:.4f}")
    rows = []
    for r in gir["runs"]:
        g, gse = np.asarray(r["richardson"]), np.asarray(r["stderr_richardson"])
        z = np.abs(g - kick) / np.hypot(gse, kick_se)
        rows.append({"girsanov_dt": r["dt"], "max_abs_diff": float(np.abs(g - kick).max()),
                     "max_abs_diff_over_peak": float(np.abs(g - kick).max() / peak),
                     "max_z": float(z.max()), "z": z.tolist()})
        print(f"  Girsanov (dt = {r['dt']:g}, Richardson) vs kick: max |diff| = "
              f"{np.abs(g - kick).max():.2e} ({np.abs(g - kick).max() / peak:.2%} of the "
              f"peak), max |diff|/combined se = {z.max():.2f}")
    out = {"model": "bench_montecarlo_dask.tanh_net(64, 0.5, seed=2)", "lags": lags.tolist(),
           "window": WINDOW, "runs": [a, b], "richardson": kick.tolist(),
           "stderr_richardson": kick_se.tolist(), "peak": peak,
           "max_se_over_peak": float(kick_se.max() / peak),
           "dt_change_over_peak": float(np.abs(vb - va).max() / peak),
           "seconds": secs, "vs_girsanov": rows,
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg()}
    OUT.write_text(json.dumps(out, indent=1))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
