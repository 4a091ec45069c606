"""Benchmark (issue 9): Galerkin kernels of coupled tanh networks (n = 3, 5, 8) against the
Monte Carlo kernel estimators, with timings.

For each n: a tanh network with non-symmetric coupling ``W = g·N(0,1)/√n`` (seeded), ``Γ = I``,
``σ = 0.6 I``, one input channel ``C = 1``; observable ``h1``. Reported per lag:

* galerkin K₁ (default degree; its error estimate) and the linearised network's K₁ (exact
  backend on the tangent model), to show the network is nonlinear enough (> 5 % apart);
* the Girsanov Monte Carlo estimate (window δ = dt, linearised-network control variate) with
  its standard error and time-step bias (dt vs dt/2);
* ``z = |galerkin - MC| / (se + |bias| + err_galerkin)`` (pass: ≤ 4) and the ratio of the
  reported Galerkin error to the actual deviation from Monte Carlo;
* the wall time of each route (``OPENBLAS_NUM_THREADS=1`` recommended), and the speed at
  equal accuracy: Monte Carlo cost grows as ``1/se²``, so the estimator reaches Galerkin's
  reported error (its largest over the lags) in ``t_MC · (se_max / err_galerkin)²``; the
  ratio of that to Galerkin's time, for the control-variate estimator and for the plain
  Girsanov estimator (run with ``--plain-paths`` paths, 0 to skip).

Run: ``python benchmarks/bench_galerkin_mc.py [--n 3 5 8] [--paths 20000]``; prints and
writes ``benchmarks/results/galerkin_mc.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.density.linearisation import linearisation
from volterra_sym.errors import ResourceLimitError
from volterra_sym.montecarlo import estimators
from volterra_sym.montecarlo.control import linearised_model

ROOT = Path(__file__).resolve().parent.parent


def network(n: int, gain: float, seed: int = 0) -> SRNN:
    rng = np.random.default_rng(seed)
    W = gain * rng.standard_normal((n, n)) / np.sqrt(n)
    b = 0.2 * rng.standard_normal(n)
    return SRNN(np.eye(n), np.round(W, 4), np.ones((n, 1)), 0.6 * np.eye(n),
                b=np.round(b, 4), activation="tanh", name=f"tanh{n}_bench")


def run(n: int, paths: int, gain: float, plain_paths: int = 0) -> dict:
    model = network(n, gain)
    tau = 1.0 / linearisation(model).rate
    lags = np.round(np.array([0.25, 0.5, 1.0, 2.0, 3.0]) * tau / 0.01) * 0.01
    H = ResponseHierarchy(model, "h1", 2)
    refused = None
    t0 = time.perf_counter()
    try:
        g = H.kernel((0,)).evaluate(lags[:, None], method="galerkin")
    except ResourceLimitError as exc:       # n = 16: the default degree 3 is over budget
        refused = f"default degree: {exc}"
        print(f"n={n}: {refused}; degree 2 instead", flush=True)
        t0 = time.perf_counter()
        g = H.kernel((0,)).evaluate(lags[:, None], method="galerkin", degree=2)
    t_gal = time.perf_counter() - t0
    lin, _, _ = linearised_model(model, linearisation(model).center, "tangent")
    k_lin = np.asarray(ResponseHierarchy(lin, "h1", 1).kernel((0,)).evaluate(
        lags[:, None], method="exact"))
    t0 = time.perf_counter()
    est = estimators.first_order_kernel(model, lags, observable="h1", method="girsanov",
                                        n_paths=paths, dt=0.01, n_origins=10,
                                        origin_stride=1.0, window=0.01, seed=1,
                                        control_variate=True)
    t_mc = time.perf_counter() - t0
    plain = {}
    if plain_paths:
        t0 = time.perf_counter()
        pe = estimators.first_order_kernel(model, lags, observable="h1", method="girsanov",
                                           n_paths=plain_paths, dt=0.01, n_origins=10,
                                           origin_stride=1.0, window=0.01, seed=2)
        plain = {"plain_paths": plain_paths, "plain_s": time.perf_counter() - t0,
                 "plain": pe.value[:, 0].tolist(), "plain_se": pe.stderr[:, 0].tolist()}
    mc, se = est.value[:, 0], est.stderr[:, 0]
    bias = np.zeros_like(mc) if est.bias is None else np.abs(est.bias[:, 0])
    val, err = np.asarray(g), np.asarray(g.error)
    dev = np.abs(val - mc)
    z = dev / (se + bias + err)
    target = float(np.max(err))
    speed = {"cv_s_at_galerkin_error": t_mc * (float(se.max()) / target) ** 2}
    speed["cv_speedup"] = speed["cv_s_at_galerkin_error"] / t_gal
    if plain:
        speed["plain_s_at_galerkin_error"] = plain["plain_s"] * (
            max(plain["plain_se"]) / target) ** 2
        speed["plain_speedup"] = speed["plain_s_at_galerkin_error"] / t_gal
        pz = np.abs(val - np.asarray(plain["plain"])) / (np.asarray(plain["plain_se"])
                                                         + bias + err)
        plain["plain_max_z"] = float(pz.max())
    return {**plain, **speed, "galerkin_details": {
                k: (float(v) if isinstance(v, (int, float, np.floating)) else v)
                for k, v in g.details.get("route", {}).items()},
            "n": n, "gain": gain, "default_refused": refused, "relaxation_time": tau,
            "lags": lags.tolist(),
            "linearised_exact": k_lin.tolist(),
            "nonlinearity": float(np.max(np.abs(val - k_lin)) / np.max(np.abs(val))),
            "galerkin": val.tolist(), "galerkin_error": err.tolist(), "galerkin_s": t_gal,
            "mc": mc.tolist(), "mc_se": se.tolist(), "mc_bias": bias.tolist(),
            "mc_paths": paths, "mc_s": t_mc, "z": z.tolist(), "max_z": float(z.max()),
            "error_over_deviation": (err / np.maximum(dev, 1e-300)).tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[3, 5, 8])
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--gain", type=float, default=1.2)
    ap.add_argument("--plain-paths", type=int, default=4000)
    args = ap.parse_args()
    out = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "runs": []}
    for n in args.n:
        r = run(n, args.paths, args.gain, args.plain_paths)
        print(json.dumps(r), flush=True)
        out["runs"].append(r)
    path = ROOT / "benchmarks" / "results" / "galerkin_mc.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
