"""Benchmark: Monte Carlo on Dask, control variates and large networks (issue 10).

Three measurements, each written to ``benchmarks/results/montecarlo_dask.json``:

* ``scaling`` — one Girsanov K₁ estimate (8-unit tanh network) in-process and on a
  2-worker ``LocalCluster`` (processes, loopback) on this machine; scaling efficiency
  ``T_in-process / (2 · T_2 workers)``; the numbers are checked bitwise equal.
* ``n64`` — an n = 64 tanh network (``Γ = I``, ``W = g J/√n``, ``g = 0.5``, ``σ = 0.5 I``,
  one channel with ``C = σB``), Girsanov K₁ at 20 lags to 1 % of its peak (the largest
  standard error ≤ 1 % of ``max |K₁|``): a pilot run measures the standard errors with and
  without the control variate on the same paths; the run is then repeated with the number
  of paths the control-variate estimate needs, and its wall time is the result. The plain
  estimator's time is projected from its measured standard error (cost ∝ paths).
* ``n256`` — an n = 256 tanh network, ``--paths`` paths × ``--steps`` Euler steps streamed
  through :func:`simulate` (``keep_states=False``, one observable) against an in-place
  numpy loop (states ``(n, paths)``, ``standard_normal(out=...)``, float64) in the same
  run; peak resident memory of the engine run (``ru_maxrss``, measured before the numpy
  loop allocates its full-size arrays) and the throughput ratio.

Run: ``OPENBLAS_NUM_THREADS=1 python -m benchmarks.bench_montecarlo_dask [--quick]
[--only scaling,n64,n256]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from volterra_sym.model import SRNN
from volterra_sym.montecarlo import burn_in_sampler, first_order_kernel, simulate

OUT = Path(__file__).parent / "results" / "montecarlo_dask.json"


def tanh_net(n: int, gain: float, seed: int = 0) -> SRNN:
    rng = np.random.default_rng(seed)
    W = gain * rng.normal(size=(n, n)) / np.sqrt(n)
    C = 0.5 * rng.normal(size=(n, 1))
    b = 0.1 * rng.normal(size=n)
    return SRNN(np.eye(n), W, C, 0.5, b=b, activation="tanh", name=f"tanh{n}")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------- scaling
def bench_scaling(quick: bool) -> dict:
    from distributed import Client, LocalCluster

    model = tanh_net(8, 0.5, seed=1)
    sampler = burn_in_sampler(model, t_burn=10.0, dt=0.05)
    kw = dict(method="girsanov", n_paths=4096 if quick else 32768, dt=0.05, chunk_size=1024,
              n_origins=10, origin_stride=1.0, seed=3, initial=sampler, progress=False)
    lags = np.arange(0, 20) * 0.2
    t0 = time.perf_counter()
    ref = first_order_kernel(model, lags, **kw)
    t_in = time.perf_counter() - t0
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    try:
        first_order_kernel(model, lags[:2], client=client, **dict(kw, n_paths=2048))  # warm
        t0 = time.perf_counter()
        two = first_order_kernel(model, lags, client=client, **kw)
        t_two = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    same = bool(np.array_equal(ref.value, two.value) and np.array_equal(ref.stderr, two.stderr))
    eff = t_in / (2 * t_two)
    print(f"scaling: in-process {t_in:.1f} s, 2 workers {t_two:.1f} s, efficiency {eff:.2f}, "
          f"bitwise equal {same}")
    return {"n_paths": kw["n_paths"], "chunk_size": kw["chunk_size"], "in_process_s": t_in,
            "two_workers_s": t_two, "speedup": t_in / t_two, "efficiency": eff,
            "bitwise_equal": same}


# ---------------------------------------------------------------------- n = 64
def bench_n64(quick: bool) -> dict:
    model = tanh_net(64, 0.5, seed=2)
    dt = 0.05
    lags = np.round(np.linspace(0.0, 3.8, 20) / dt) * dt
    t0 = time.perf_counter()
    sampler = burn_in_sampler(model, t_burn=10.0, dt=dt)
    kw = dict(method="girsanov", dt=dt, n_origins=20, origin_stride=1.0, initial=sampler,
              progress=False, control_variate=True, observable="h1", chunk_size=2048)
    pilot_n = 1024 if quick else 4096
    t0 = time.perf_counter()
    pilot = first_order_kernel(model, lags, n_paths=pilot_n, seed=1, **kw)
    t_pilot = time.perf_counter() - t0
    peak = float(np.max(np.abs(pilot.value)))
    se_cv = float(np.max(pilot.stderr))
    se_plain = float(np.max(pilot.details["plain_stderr"]))
    need_cv = int(np.ceil(pilot_n * (se_cv / (0.01 * peak)) ** 2))
    need_plain = int(np.ceil(pilot_n * (se_plain / (0.01 * peak)) ** 2))
    print(f"n64 pilot: {pilot_n} paths in {t_pilot:.1f} s; peak {peak:.4g}; max se cv "
          f"{se_cv:.3g}, plain {se_plain:.3g}; paths needed cv {need_cv}, plain {need_plain}")
    out = {"pilot_paths": pilot_n, "pilot_s": t_pilot, "peak": peak, "pilot_max_se_cv": se_cv,
           "pilot_max_se_plain": se_plain, "paths_needed_cv": need_cv,
           "paths_needed_plain": need_plain,
           "variance_reduction": np.asarray(pilot.variance_reduction).ravel().tolist(),
           "plain_projected_s": t_pilot * need_plain / pilot_n}
    if not quick:
        n_run = max(need_cv, 2)
        t0 = time.perf_counter()
        final = first_order_kernel(model, lags, n_paths=n_run, seed=2, **kw)
        t_run = time.perf_counter() - t0
        peak2 = float(np.max(np.abs(final.value)))
        rel = float(np.max(final.stderr)) / peak2
        print(f"n64 run: {n_run} paths in {t_run:.1f} s; max se / peak = {rel:.4f}; "
              f"speed-up vs the 4,000 s estimate {4000.0 / t_run:.1f}x")
        out.update(run_paths=n_run, run_s=t_run, run_max_se_over_peak=rel,
                   speedup_vs_4000s=4000.0 / t_run,
                   bias_max=float(np.max(np.abs(final.bias))),
                   values=final.value.ravel().tolist(), stderr=final.stderr.ravel().tolist())
    return out


# ---------------------------------------------------------------------- n = 256
def numpy_loop(p: dict, n_paths: int, n_steps: int, dt: float, seed: int) -> np.ndarray:
    """In-place Euler–Maruyama, states (n, paths), float64, preallocated buffers, with the
    same shortcuts as the engine for this model (diagonal Γ, scalar σ): per step one
    matmul ``W h``, one ``tanh``, one ``standard_normal(out=...)`` and in-place updates."""
    rng = np.random.default_rng(seed)
    G, W, b, sig = p["Gamma"], p["W"], p["b"], p["sigma"]
    n = G.shape[0]
    assert np.allclose(G, np.diag(np.diag(G))) and np.allclose(sig, sig[0, 0] * np.eye(n))
    h = np.zeros((n, n_paths))
    pre = np.empty_like(h)
    z = np.empty((n, n_paths))
    bc, m = b[:, None].copy(), (1.0 - dt * np.diag(G))[:, None].copy()
    s = float(np.sqrt(dt) * sig[0, 0])
    for _ in range(n_steps):
        np.matmul(W, h, out=pre)
        pre += bc
        np.tanh(pre, out=pre)
        pre *= dt
        h *= m
        h += pre
        rng.standard_normal(out=z)
        z *= s
        h += z
    return h


def bench_n256(paths: int, steps: int) -> dict:
    t0 = time.perf_counter()
    model = tanh_net(256, 0.5, seed=4)
    t_model = time.perf_counter() - t0
    dt = 0.01
    t0 = time.perf_counter()   # one-time per model: sympy -> float parameters, cached
    simulate(model, [dt], n_paths=2, dt=dt, scheme="euler", initial=np.zeros(256),
             keep_states=False, observable="h1", seed=0, progress=False)
    t_setup = time.perf_counter() - t0
    p = model.numpy_params()
    print(f"n256 setup: SRNN construction {t_model:.1f} s, first simulate (parameter "
          f"conversion, cached) {t_setup:.1f} s")
    rss0 = rss_mib()
    t0 = time.perf_counter()
    ens = simulate(model, [steps * dt], n_paths=paths, dt=dt, scheme="euler",
                   initial=np.zeros(256), keep_states=False, observable="h1", seed=1,
                   progress=False)
    t_eng = time.perf_counter() - t0
    rss_eng = rss_mib()
    t0 = time.perf_counter()
    final = numpy_loop(p, paths, steps, dt, 2)
    t_np = time.perf_counter() - t0
    rss_np = rss_mib()
    work = paths * steps
    se = np.sqrt(ens.values[0].var() / paths + final[0].var() / paths)
    agree = bool(abs(ens.values[0].mean() - final[0].mean()) <= 5 * se)
    print(f"n256: {paths} paths x {steps} steps: engine {t_eng:.1f} s "
          f"({work / t_eng / 1e6:.2f} M path-steps/s), numpy loop {t_np:.1f} s; ratio "
          f"{t_np / t_eng:.3f}; peak RSS before {rss0:.0f} MiB, after engine {rss_eng:.0f} "
          f"MiB, after numpy loop {rss_np:.0f} MiB; means agree {agree}")
    return {"paths": paths, "steps": steps, "model_construction_s": t_model,
            "first_call_setup_s": t_setup, "engine_s": t_eng, "numpy_loop_s": t_np,
            "throughput_ratio_engine_over_numpy": t_np / t_eng,
            "peak_rss_mib_before": rss0, "peak_rss_mib_after_engine": rss_eng,
            "peak_rss_mib_after_numpy_loop": rss_np, "means_agree_5se": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="scaling,n64,n256")
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    parts = set(args.only.split(","))
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "n256" in parts:   # first: the peak-RSS reading must not include the other parts
        res["n256"] = bench_n256(args.paths if not args.quick else 4096,
                                 args.steps if not args.quick else 50)
    if "scaling" in parts:
        res["scaling"] = bench_scaling(args.quick)
    if "n64" in parts:
        res["n64"] = bench_n64(args.quick)
    res["machine"] = {"python": platform.python_version(), "numpy": np.__version__,
                      "cpus": os.cpu_count(), "load_average_1_5_15min": list(os.getloadavg()),
                      "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
