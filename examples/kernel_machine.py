"""
An SRNN readout is a kernel machine
===================================

Reproduce another SRNN's output (docs/theory.md §5).

Task: for random smooth inputs ``u`` (seeded random Fourier series of low frequency) predict
the output mean ``E y_t[u]`` of a *teacher* SRNN (1-D tanh, readout ``h1``) at the horizon
``t``, computed independently by the spectral series backend (orders 1..3 in ε).

(a)  A *student* SRNN (2-D tanh, different weights) with fixed hidden weights and a trained
     linear readout: ridge on its features ``E h^i_t[u] = <ℓ_i, S(X^u)>`` from the response
     functional (Taylor coefficients → linear functional of the signature), i.e. kernel
     ridge with the rank-2 kernel ``<S, M S>``, ``M = Σ_i ℓ_i ℓ_iᵀ``. Also the per-order
     variant (features ``ε^N T_N^{(i)}``, rank 6).
(b)  Kernel ridge with the generic truncated signature kernel ``<S(X^u), S(X^u')>`` of the
     same feature path, at several signature depths and monomial degrees.

By docs/theory.md §5 the teacher's output is itself (up to its Taylor truncation) a linear
functional of the depth-3 signature of the same feature path, so the generic kernel at depth ≥ 3 can
learn it exactly given enough data and monomial degree, while the student's rank-2 kernel
carries a fixed bias (it is a different network); the per-order student sits in between.

Regularisation by exact leave-one-out on the training set. Prints a table, checks that
kernel ridge with ``<S, M S>`` reproduces the ridge readout, checks the student's features
against the spectral series, and plots test error against depth and degree.

    python examples/kernel_machine.py [--quick] [--out examples/out/kernel_machine.png]

``--quick`` (60 training / 100 test inputs, Taylor degree 8, depths ≤ 3, degrees ≤ 3; about
10 s) is also chosen by the environment variable ``VOLTERRA_EXAMPLES_QUICK=1``,
which the documentation gallery sets; the full run uses 200 / 300 inputs, degree 9, depths
≤ 4, degrees ≤ 5 (about 30 s; measured 2026-12-05 on 2 shared cores: 8.4 s
and 29.7 s; at Taylor degree 10 the student's functionals need 2.01·10⁷ raw
terms, just over the Taylor route's limit of 2·10⁷, and are refused).
``VOLTERRA_EXAMPLES_OUT`` changes the default output folder.
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

from volterra_sym import SRNN  # noqa: E402
from volterra_sym.features.kernel_machine import (  # noqa: E402
    feature_kernel,
    fit_kernel_ridge,
    fit_ridge,
    hidden_unit_functionals,
    response_kernel_matrix,
    select_lambda,
    series_features,
    signature_batch,
    signature_kernel,
    srnn_features,
)


class FourierInput:
    """``u(s) = c_0 + Σ_{j=1}^{J} (a_j cos(j ω s) + b_j sin(j ω s))``, vectorised in ``s``."""

    def __init__(self, coeffs: np.ndarray, omega: float) -> None:
        self.c = np.asarray(coeffs, dtype=float)  # (J + 1, 2); c[0, 0] the constant
        self.omega = float(omega)

    def __call__(self, s: float | np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        arg = np.multiply.outer(s, self.omega * np.arange(1, self.c.shape[0]))
        return self.c[0, 0] + (self.c[1:, 0] * np.cos(arg) + self.c[1:, 1] * np.sin(arg)).sum(-1)


def random_inputs(rng: np.random.Generator, count: int, horizon: float,
                  harmonics: int = 6) -> list[FourierInput]:
    """Low-frequency inputs: fundamental period ``2·horizon``, amplitudes ``∝ 1/j``."""
    scale = 0.8 / np.arange(1, harmonics + 2)[:, None]
    return [FourierInput(rng.normal(size=(harmonics + 1, 2)) * scale, np.pi / horizon)
            for _ in range(count)]


def rel_rmse(pred: np.ndarray, y: np.ndarray) -> float:
    """Root-mean-square error relative to the standard deviation of the targets."""
    return float(np.sqrt(np.mean((pred - y) ** 2)) / np.std(y))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="An SRNN readout is a kernel machine.")
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("VOLTERRA_EXAMPLES_QUICK") == "1",
                    help="fewer inputs, lower degree (about 10 s; default when "
                         "VOLTERRA_EXAMPLES_QUICK=1)")
    ap.add_argument("--out", help="PNG path (default: examples/out/kernel_machine.png)",
                    default=str(Path(os.environ.get("VOLTERRA_EXAMPLES_OUT", "examples/out"))
                                / "kernel_machine.png"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    horizon, eps, order = 1.5, 0.5, 3
    n_train, n_test = (60, 100) if args.quick else (200, 300)
    taylor_degree = 8 if args.quick else 9
    depths = [1, 2, 3] if args.quick else [1, 2, 3, 4]
    degrees = [0, 1, 2, 3] if args.quick else [0, 1, 2, 3, 4, 5]

    student = SRNN([[0.5, 0.0], [0.0, 0.6]], [[0.4, -0.3], [0.3, 0.25]], [[1.0], [0.5]],
                   [[0.4, 0.0], [0.0, 0.4]], b=[0.1, -0.2], activation="tanh", name="student")
    teacher = SRNN(0.7, 1.1, 1.2, 0.6, b=-0.1, activation="tanh", name="teacher")

    rng = np.random.default_rng(args.seed)
    inputs = random_inputs(rng, n_train + n_test, horizon)
    times = np.linspace(0.0, horizon, 61)
    samples = np.stack([u(times) for u in inputs])[..., None]  # (B, T, 1)

    # ---------------------------------------------------------------- targets (teacher)
    t0 = time.perf_counter()
    y = series_features(teacher, inputs, horizon, eps, order, method="spectral",
                        observables=["h1"])[:, 0]
    t_target = time.perf_counter() - t0
    tr, te = slice(0, n_train), slice(n_train, None)

    # ---------------------------------------------------------------- (a) student SRNN
    t0 = time.perf_counter()
    funcs = hidden_unit_functionals(student, order, taylor_degree)
    t_func = time.perf_counter() - t0
    t0 = time.perf_counter()
    S_st, lay_st = signature_batch(samples, times, horizon, order, taylor_degree)
    results: dict = {"student": {}, "signature": {}}
    for label, per_order in (("SRNN readout (rank 2)", False), ("per-order (rank 6)", True)):
        Phi = srnn_features(funcs, S_st, horizon, eps, per_order=per_order)
        K = Phi[tr] @ Phi[tr].T
        lam, _, _ = select_lambda(K, y[tr])
        ridge = fit_ridge(Phi[tr], y[tr], lam)
        pred = ridge.predict(Phi[te])
        results["student"][label] = (rel_rmse(pred, y[te]), lam)
        if not per_order:  # the same predictions from kernel ridge with <S, M S>
            M = response_kernel_matrix(funcs, horizon, eps)
            kr = fit_kernel_ridge(feature_kernel(S_st[tr], S_st[tr], M), y[tr], lam)
            pk = kr.predict(feature_kernel(S_st[te], S_st[tr], M))
            results["kernel_identity"] = float(np.max(np.abs(pk - pred)) / np.max(np.abs(pred)))
            phi_student = Phi
    t_student = time.perf_counter() - t0

    # features of the student vs the (independent) spectral series of its hidden units
    n_chk = 1 if args.quick else 3
    ref = np.array([[
        float(eps ** np.arange(order + 1) @ _spectral_terms(student, f"h{i + 1}", order, u,
                                                           horizon))
        for i in range(student.n)] for u in inputs[:n_chk]])
    results["feature_check"] = float(np.max(np.abs(phi_student[:n_chk] - ref)))

    # ---------------------------------------------------------------- (b) signature kernel
    t0 = time.perf_counter()
    S_gen, lay_gen = signature_batch(samples, times, horizon, max(depths), max(degrees))
    err = np.full((len(depths), len(degrees)), np.nan)
    for a, depth in enumerate(depths):
        for b, deg in enumerate(degrees):
            K = signature_kernel(S_gen, S_gen, layout=lay_gen, depth=depth, degree=deg)
            lam, _, _ = select_lambda(K[tr, tr], y[tr])
            kr = fit_kernel_ridge(K[tr, tr], y[tr], lam)
            err[a, b] = rel_rmse(kr.predict(K[te, tr]), y[te])
            results["signature"][(depth, deg)] = err[a, b]
    t_sig = time.perf_counter() - t0

    # ---------------------------------------------------------------- report
    print(f"teacher targets (spectral, orders ≤ {order}, ε = {eps}, t = {horizon}): "
          f"{n_train} train / {n_test} test inputs, {t_target:.1f} s")
    print(f"student functionals (Taylor degree {taylor_degree}, order {order}, signature "
          f"size {lay_st.size}): {t_func:.1f} s; features + fits {t_student:.1f} s")
    print(f"student features vs spectral series (max abs diff, {n_chk} inputs): "
          f"{results['feature_check']:.2e}")
    print(f"kernel ridge with <S, M S> vs ridge readout (max rel diff): "
          f"{results['kernel_identity']:.2e}")
    print("\ntest error (RMSE / std of targets)")
    for label, (e, lam) in results["student"].items():
        print(f"  {label:28s} {e:10.2e}   (λ = {lam:.2e})")
    print(f"\n  generic signature kernel (size at depth {max(depths)}, degree {max(degrees)}: "
          f"{lay_gen.size}; {t_sig:.1f} s)")
    print("  depth \\ degree " + "".join(f"{d:>10d}" for d in degrees))
    for a, depth in enumerate(depths):
        print(f"  {depth:14d} " + "".join(f"{err[a, b]:10.2e}" for b in range(len(degrees))))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for b, deg in enumerate(degrees):
        axes[0].semilogy(depths, err[:, b], "o-", label=f"degree {deg}")
    for a, depth in enumerate(depths):
        axes[1].semilogy(degrees, err[a, :], "s-", label=f"depth {depth}")
    for ax in axes:
        for (label, (e, _)), ls in zip(results["student"].items(), ("--", ":"), strict=True):
            ax.axhline(e, color="k", ls=ls, label=f"student: {label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_xticks(depths)
    axes[1].set_xticks(degrees)
    axes[0].set_xlabel("signature depth")
    axes[1].set_xlabel("monomial degree of the feature path")
    axes[0].set_ylabel("test RMSE / std(y)")
    fig.suptitle(f"Reproducing a teacher SRNN's E y_t (t = {horizon}, ε = {eps}): "
                 f"{n_train} training inputs")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"\nplot: {out}   total {time.perf_counter() - t_start:.1f} s")
    return results


def _spectral_terms(model: SRNN, f: str, order: int, u: FourierInput,
                    t: float) -> np.ndarray:
    """``T_0..T_order`` at ``t`` by the spectral backend with a loose tolerance (n = 2)."""
    from volterra_sym.backends import spectral

    res = spectral.series_terms(model, f, order, lambda s: np.atleast_1d(u(s)), [0.0, t],
                                tol=1e-5)
    return res.terms[:, -1]


if __name__ == "__main__":
    main()
