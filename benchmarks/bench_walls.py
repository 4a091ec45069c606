"""Benchmark: the walls of issue 8, item 6 (no wall before n = 128 on the numeric paths).

Timed, each in a fresh process (``OPENBLAS_NUM_THREADS=1`` recommended):

* ``exact_K2_n128`` — a linear model with n = 128 (``Γ = diag(1 + U[0, 0.5])``,
  ``W = 0.2·N(0,1)/√n``, ``σ = 0.5 I``, one channel): wall time of
  ``ResponseHierarchy(model, "h1*h2", 2).kernel((0, 0)).evaluate([[0.1, 0.5]])``
  including every setup (model construction reported separately), and the part spent in
  ``model.numpy_params()`` (model layer).
* ``stationary_density`` — classification + Gaussian of numeric models (tanh n = 10, 16,
  64; linear n = 32, 128): no symbolic simplification.
* ``mc_sampler_start_n64`` — a 64-unit tanh network (``Γ = I``, ``W = N(0,1)/√n``,
  ``σ = 0.5 I``): ``stationary_sampler(model)`` setup plus the first block of 256 stationary
  samples, and a 4,096-path batch.
* ``burn_in_tanh2d`` — the coupled 2-D model ``tanh2d``: 40,000 burnt-in samples.
* ``burn_in_vs_estimator_n16`` — a 16-unit tanh network: burn-in steps and time for 4,096
  paths against 1,060 Euler–Maruyama steps of the Monte Carlo engine for the same paths.
* ``cli_tanh10`` — ``volterra-sym kernel tests/data/tanh10.toml --lags 0.5`` and
  ``volterra-sym verify tests/data/tanh10.toml --quick`` under ``/usr/bin/time -v`` with a
  timeout (default 60 s): exit code, wall time, peak memory.

Run: ``python benchmarks/bench_walls.py [--only NAME ...] [--timeout S]``; prints JSON and
writes ``benchmarks/results/walls.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "walls.json"

_EXACT = r'''
import time, numpy as np
from volterra_sym import SRNN, ResponseHierarchy
n = 128
rng = np.random.default_rng(0)
G = np.diag(1 + 0.5 * rng.random(n)); W = 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)
C = rng.standard_normal((n, 1))
t = time.perf_counter(); m = SRNN(G, W, C, 0.5); t_model = time.perf_counter() - t
import volterra_sym.model.srnn as srnn
calls = []
orig = srnn.SRNN.numpy_params
def timed(self):
    t0 = time.perf_counter(); out = orig(self); calls.append(time.perf_counter() - t0); return out
srnn.SRNN.numpy_params = timed
t = time.perf_counter()
v = ResponseHierarchy(m, "h1*h2", 2).kernel((0, 0)).evaluate([[0.1, 0.5]])
total = time.perf_counter() - t
print(json.dumps({"model_construction_s": t_model, "K2_total_s": total,
                  "in_model_numpy_params_s": sum(calls), "numpy_params_calls": len(calls),
                  "value": float(np.asarray(v).ravel()[0]), "method": getattr(v, "method", None)}))
'''

_DENSITY = r'''
import time, numpy as np
from volterra_sym import SRNN
from volterra_sym.density import stationary_density
out = {}
for act, n in (("tanh", 10), ("tanh", 16), ("tanh", 64), ("linear", 32), ("linear", 128)):
    rng = np.random.default_rng(n)
    W = (0.8 if act == "tanh" else 0.2) * rng.standard_normal((n, n)) / np.sqrt(n)
    m = SRNN(np.eye(n) * (1.0 if act == "tanh" else 1.5), W, np.ones((n, 1)), 0.5,
             activation=act)
    t = time.perf_counter(); d = stationary_density(m)
    if d.kind == "gaussian":
        d.cov_numpy
    out[f"{act}{n}"] = {"seconds": time.perf_counter() - t, "kind": d.kind}
print(json.dumps(out))
'''

_MC64 = r'''
import time, numpy as np
from volterra_sym import SRNN
from volterra_sym.montecarlo import stationary_sampler
n = 64
rng = np.random.default_rng(64)
m = SRNN(np.eye(n), rng.standard_normal((n, n)) / np.sqrt(n), np.ones((n, 1)), 0.5,
         b=0.1 * rng.standard_normal(n), activation="tanh")
t = time.perf_counter(); s = stationary_sampler(m); t_setup = time.perf_counter() - t
t = time.perf_counter(); x = s(np.random.default_rng(1), 256); t_block = time.perf_counter() - t
t = time.perf_counter(); x = s(np.random.default_rng(2), 4096); t_4096 = time.perf_counter() - t
print(json.dumps({"setup_s": t_setup, "first_block_256_s": t_block,
                  "setup_plus_first_block_s": t_setup + t_block, "batch_4096_s": t_4096,
                  "steps": s.n_steps, "dt": s.dt, "relaxation_time": s.relaxation_time,
                  "split": s.split}))
'''

_TANH2D = r'''
import time, numpy as np
from volterra_sym import SRNN
from volterra_sym.montecarlo import stationary_sampler
m = SRNN.load("volterra_sym/data/models/tanh2d.toml")
t = time.perf_counter(); s = stationary_sampler(m); x = s(np.random.default_rng(1), 40000)
print(json.dumps({"seconds_40000_paths": time.perf_counter() - t, "steps": s.n_steps,
                  "dt": s.dt}))
'''

_N16 = r'''
import time, numpy as np
from volterra_sym import SRNN
from volterra_sym.montecarlo import simulate, stationary_sampler
n, P = 16, 4096
rng = np.random.default_rng(16)
m = SRNN(np.eye(n), rng.standard_normal((n, n)) / np.sqrt(n), np.ones((n, 1)), 0.5,
         b=0.1 * rng.standard_normal(n), activation="tanh")
t = time.perf_counter(); s = stationary_sampler(m); x = s(np.random.default_rng(1), P)
t_burn = time.perf_counter() - t
t = time.perf_counter()
simulate(m, [10.6], n_paths=P, dt=0.01, initial=x, seed=3, keep_states=False)
t_est = time.perf_counter() - t
print(json.dumps({"burn_in_s": t_burn, "burn_in_steps": s.n_steps, "dt": s.dt,
                  "estimator_steps": 1060, "engine_1060_steps_s": t_est,
                  "burn_in_share": t_burn / (t_burn + t_est)}))
'''


def _python(code: str, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    t = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-c", "import json\n" + code], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:g} s"}
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1:], "wall_s": time.perf_counter() - t}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cli(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    cmd = ["/usr/bin/time", "-v", "timeout", str(timeout), sys.executable, "-m",
           "volterra_sym.cli", *args]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", res.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr)
    parts = [float(p) for p in wall.group(1).split(":")] if wall else []
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts))) if parts else None
    err = [ln for ln in res.stderr.splitlines() if ln and not ln.startswith("\t")
           and not ln.startswith("Command")]
    return {"command": "volterra-sym " + " ".join(args), "exit": res.returncode,
            "timed_out": res.returncode == 124, "wall_s": secs,
            "peak_rss_GB": int(rss.group(1)) / 1024**2 if rss else None,
            "stderr_last": err[-2:], "stdout_last": res.stdout.strip().splitlines()[-3:]}


BENCHES = {
    "exact_K2_n128": lambda to: _python(_EXACT, to),
    "stationary_density": lambda to: _python(_DENSITY, to),
    "mc_sampler_start_n64": lambda to: _python(_MC64, to),
    "burn_in_tanh2d": lambda to: _python(_TANH2D, to),
    "burn_in_vs_estimator_n16": lambda to: _python(_N16, to),
    "cli_kernel_tanh10": lambda to: _cli(["kernel", "tests/data/tanh10.toml", "--lags", "0.5"],
                                         to),
    "cli_verify_tanh10": lambda to: _cli(["verify", "tests/data/tanh10.toml", "--quick"], to),
}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="benchmarks to run")
    ap.add_argument("--timeout", type=float, default=60.0, help="per CLI command (seconds)")
    args = ap.parse_args(argv)
    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "load": os.getloadavg()}}
    for name in args.only or list(BENCHES):
        timeout = args.timeout if name.startswith("cli") else 900.0
        out[name] = BENCHES[name](timeout)
        print(name, json.dumps(out[name]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
