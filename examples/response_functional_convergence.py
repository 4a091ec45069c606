"""
Accuracy of the response functional against the Taylor degree
==============================================================

The error of ``<ℓ_N(t), S(X)>`` against the Taylor degree.

1-D tanh SRNN (``Γ = 1``, ``W = 0.8``, ``b = 0.2``, ``σ = 0.8``; relaxation time ``1/Γ = 1``),
input ``u(s) = 0.5 + sin(3 s)``, orders ``N = 1..3``, at ``t = 0.25`` and ``0.5``. The
reference is the spectral series backend (``T_N`` by the forward hierarchy, tolerance 1e-10,
independent of the Taylor coefficients); the signatures are Richardson-extrapolated
(``extrapolate=True``) on a fine grid so that their own error is negligible. The estimated
bound ``E_N(t) U(t)^N/N!`` (:meth:`ResponseFunctional.error_bound`) is drawn dashed.

    python examples/response_functional_convergence.py [--out PNG]

(default ``examples/out/functional_convergence.png``; ``VOLTERRA_EXAMPLES_OUT`` changes the
folder). It takes a few seconds (2.6 s, measured 2026-12-05) and has no quick mode.
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

from volterra_sym import SRNN, ResponseHierarchy  # noqa: E402
from volterra_sym.backends import spectral  # noqa: E402
from volterra_sym.features.functional import response_functional  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Accuracy of the response functional "
                                             "against the Taylor degree.")
    ap.add_argument("--out", help="PNG path (default: examples/out/functional_convergence.png)",
                    default=str(Path(os.environ.get("VOLTERRA_EXAMPLES_OUT", "examples/out"))
                                / "functional_convergence.png"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    model = SRNN(1.0, 0.8, 1.0, 0.8, b=0.2, activation="tanh", name="tanh1")
    order, t_list, degrees = 3, (0.25, 0.5), list(range(2, 15, 2))
    times = np.linspace(0.0, 0.5, 51)

    def u(s: float | np.ndarray) -> np.ndarray:
        return 0.5 + np.sin(3 * np.asarray(s, dtype=float))

    ref = spectral.series_terms(model, model.h[0], order, lambda s: np.atleast_1d(u(s)),
                                times, tol=1e-10)
    idx = [int(np.argmin(np.abs(times - t))) for t in t_list]
    hier = ResponseHierarchy(model, None, order)
    rel = np.zeros((len(degrees), len(t_list), order))
    bound = np.zeros_like(rel)
    for a, deg in enumerate(degrees):
        F = response_functional(hier, deg)
        T = F.terms(u, times, extrapolate=True)
        B = F.error_bound(u, times)
        for b, i in enumerate(idx):
            scale = np.abs(ref.terms[1:, i])
            rel[a, b] = np.abs(T[1:, i] - ref.terms[1:, i]) / scale
            bound[a, b] = B[1:, i] / scale
    print("relative error of <ℓ_N(t), S> vs spectral T_N (estimated bound in brackets)")
    print("degree " + "".join(f"  t={t:<4} N={N}           " for t in t_list
                              for N in range(1, order + 1)))
    for a, deg in enumerate(degrees):
        print(f"{deg:6d} " + "".join(f"  {rel[a, b, N]:.1e} ({bound[a, b, N]:.0e})     "
                                      for b in range(len(t_list)) for N in range(order)))
    fig, axes = plt.subplots(1, len(t_list), figsize=(10, 4), sharey=True)
    for b, t in enumerate(t_list):
        for N in range(order):
            line, = axes[b].semilogy(degrees, rel[:, b, N], "o-", label=f"N = {N + 1}")
            axes[b].semilogy(degrees, bound[:, b, N], "--", color=line.get_color(), lw=0.8)
        axes[b].set_title(f"t = {t} (relaxation times)")
        axes[b].set_xlabel("Taylor degree = monomial degree")
        axes[b].grid(True, which="both", alpha=0.3)
        axes[b].legend()
    axes[0].set_ylabel("|<ℓ_N, S> - T_N| / |T_N|   (dashed: bound)")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"plot: {out}   total {time.perf_counter() - t_start:.1f} s")
    return {"degrees": degrees, "rel": rel, "bound": bound}


if __name__ == "__main__":
    main()
