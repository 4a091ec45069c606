"""
Kernels of a Noisy RNN: the Galerkin route against kicked Monte Carlo paths
===========================================================================

The built-in ``noisy_rnn4`` is a Noisy RNN in the sense of Lim, Erichson, Hodgkinson &
Mahoney (NeurIPS 2021): four tanh units, two input channels *inside* the activation,
``a(Wh + b + εCu)``, and state-dependent noise ``σ(h) = 0.3 + 0.1 diag(h)``
(docs/theory.md §10–§11). A kick of the input then moves the state along the field
``a'(Wh + b) ⊙ C_k`` (first-order kernels ``K₁``), and two channels kicked at the same instant
along ``a''(Wh + b)/2 ⊙ C_k1 ⊙ C_k2`` (the contact kernels ``K^(2)``, which vanish for an
additive input).

Curves: the Galerkin route (default degree, 40,000 samples of ``p0``) with its error
estimate as a band. Points: the kick estimator (common-noise copies of each path kicked
along those fields, central differences, Richardson in the amplitude), extrapolated in the
time step (``value − bias``, the bias ``2[K(dt) − K(dt/2)]`` measured on the same paths),
± two standard errors; the table checks ``|Galerkin − (value − bias)| ≤ 4·se + 4·se_bias +
0.05·|bias| + err`` (the last-but-one term bounds the Richardson remainder, as ``verify``
charges it).

    python examples/noisy_rnn_kernels.py [--out PNG] [--paths N]

(default ``examples/out/noisy_rnn_kernels.png``; ``VOLTERRA_EXAMPLES_OUT`` changes the
folder). About 10 s with the default 4,000 paths (measured 2026-12-06).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from volterra_sym import ResponseHierarchy, load_model  # noqa: E402
from volterra_sym.montecarlo import kick_kernel  # noqa: E402
from volterra_sym.verify.settings import RICHARDSON_REL  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Kernels of a Noisy RNN: Galerkin against "
                                             "the kick estimator.")
    ap.add_argument("--out", help="PNG path (default: examples/out/noisy_rnn_kernels.png)",
                    default=str(Path(os.environ.get("VOLTERRA_EXAMPLES_OUT", "examples/out"))
                                / "noisy_rnn_kernels.png"))
    ap.add_argument("--paths", type=int, default=4000, help="Monte Carlo paths (default 4000)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    model = load_model("noisy_rnn4")
    hier = ResponseHierarchy(model, "h1", order=2)
    m = model.m
    grid = np.linspace(0.0, 2.5, 26)
    lags = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.5])
    singles = [(k,) for k in range(m)]
    contacts = [((k1, k2),) for k1 in range(m) for k2 in range(k1, m)]
    # one walk of the hierarchy for every kernel (shared prefixes computed once)
    res = hier.evaluate_kernels({k: grid[:, None] for k in singles + contacts},
                                method="galerkin")
    at_lags = hier.evaluate_kernels({k: lags[:, None] for k in singles + contacts},
                                    method="galerkin")
    mc1 = kick_kernel(model, lags, n_paths=args.paths, dt=0.05, seed=1)
    mc2 = kick_kernel(model, lags, n_paths=args.paths, dt=0.05, seed=2, contact=True)

    def mc_entry(key):
        est, idx = (mc1, (slice(None), key[0])) if len(key) == 1 and isinstance(key[0], int) \
            else (mc2, (slice(None),) + key[0])
        return est.value[idx], est.stderr[idx], est.bias[idx], est.bias_stderr[idx]

    print("kernel          max |Galerkin - (MC - bias)| / (4 se + 4 se_bias + "
          "0.05 |bias| + err)")
    worst = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, keys, title in ((axes[0], singles, "first order K₁(σ)"),
                            (axes[1], contacts, "contact kernels K^(2)(σ): one kick, "
                                                "two channels")):
        for i, key in enumerate(keys):
            c = colors[i % len(colors)]
            name = (f"K_{key[0] + 1}" if len(key) == 1 and isinstance(key[0], int)
                    else "K^(2)_" + "".join(str(k + 1) for k in key[0]))
            v, e = np.asarray(res[key]), np.asarray(res[key].error)
            ax.plot(grid, v, color=c, lw=1.4, label=f"{name} (Galerkin)")
            ax.fill_between(grid, v - e, v + e, color=c, alpha=0.2, lw=0)
            val, se, bias, bse = mc_entry(key)
            ax.errorbar(lags, val - bias, yerr=2 * se, fmt="o", color=c, ms=4, capsize=2)
            ref, ref_err = np.asarray(at_lags[key]), np.asarray(at_lags[key].error)
            tol = 4 * se + 4 * bse + RICHARDSON_REL * np.abs(bias) + ref_err
            worst[name] = float(np.max(np.abs(val - bias - ref) / tol))
            print(f"{name:14s}  {worst[name]:.2f}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("lag σ")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"noisy_rnn4, f = h1: Galerkin (band: its error) and the kick estimator "
                 f"(points: extrapolated in dt, ± 2 s.e.; {args.paths:,} paths, dt = 0.05)",
                 fontsize=10)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"plot: {out}   total {time.perf_counter() - t_start:.1f} s")
    return {"worst": worst}


if __name__ == "__main__":
    main()
