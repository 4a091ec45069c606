"""Benchmark: the time-step bias of the state-noise integrators (docs/theory.md §11).

CRN responses ``E f(h^ε_t) − E f(h^0_t)`` of ``noisy_tanh1d`` (σ(h) = 0.4 + 0.2 h, additive
input ``ε sin(2t)``, ε = 0.3, f = h1, 100,000 paths from the inverse-CDF sampler of p0, seed
7) with Euler–Maruyama and Milstein at ``dt = 0.04`` and ``0.02``: per scheme and step the
measured first-order bias ``|R(dt/2) − R(dt)|``, the Richardson-extrapolated response
``2R(dt/2) − R(dt)`` and its standard error
(:func:`volterra_sym.montecarlo.crn_responses` on its engine for σ(h)).

Run: ``python benchmarks/bench_noisy.py`` (writes ``benchmarks/results/noisy.json``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from volterra_sym.model import load_model
from volterra_sym.montecarlo import crn_responses


def main() -> None:
    m = load_model("noisy_tanh1d")
    times = np.array([0.4, 0.8, 1.2, 1.6, 2.0])
    out = {"model": "noisy_tanh1d", "eps": 0.3, "input": "sin(2t)", "paths": 100_000,
           "seed": 7, "times": times.tolist(), "runs": {}}
    for scheme in ("euler", "milstein"):
        for dt in (0.04, 0.02):
            t0 = time.time()
            res = crn_responses(m, lambda t: np.array([np.sin(2 * t)]), [0.3], times,
                                n_paths=100_000, dt=dt, seed=7, scheme=scheme,
                                chunk_size=20_000)
            # |R(dt/2) − R(dt)|: half the O(dt) bias of R(dt), what this file always stored
            mean, se, bias = res.values, res.stderr, np.abs(res.bias) / 2
            out["runs"][f"{scheme}_dt{dt:g}"] = {
                "scheme": scheme, "dt": dt, "bias_dt_vs_half": bias[0].tolist(),
                "richardson": mean[0].tolist(), "stderr": se[0].tolist(),
                "seconds": round(time.time() - t0, 2)}
            print(f"{scheme:8s} dt={dt:g}: max bias {bias.max():.3g}, "
                  f"Richardson {np.round(mean[0], 5)} ± {se.max():.2g}")
    path = Path(__file__).parent / "results" / "noisy.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
