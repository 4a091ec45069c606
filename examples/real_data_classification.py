"""
Classifying real time series with the response features of a fixed SRNN
=======================================================================

Three univariate problems of the UCR archive that ship inside the ``sktime`` wheel
(ItalyPowerDemand, GunPoint, ArrowHead; nothing is downloaded at run time) are classified
by a ridge readout on the response features of one fixed stochastic RNN, and compared with

* a generic truncated-signature baseline: the signature of the ``(time, x)`` path to the same
  depth (our own Chen-identity code), at the final time and at the same output times;
* 1-nearest-neighbour with the Euclidean distance and with dynamic time warping (full
  window), measured here on the same split, and the 1-NN DTW error rates published with the
  archive (Dau et al., "The UCR Time Series Archive", IEEE/CAA J. Autom. Sinica 6(6),
  1293-1305, 2019; table of https://www.cs.ucr.edu/~eamonn/time_series_data_2018/).

The SRNN is the built-in ``tanh1d`` (1 unit, tanh, ``Γ = 1``). Its features are the Volterra
terms ``ε^N T_N(t_j)``, ``N = 1..3``, of its hidden mean at 8 equally spaced times
``t_j ≤ t_max = 0.25`` (``SRNNFeatures(per_order=True)``), each the response functional
``<ℓ_N(t_j), S(X^u)_{0,t_j}>`` of the signature of ``X^{(q)}(s) = ∫_0^s r^q u(r) dr``
(docs/theory.md §5). ``t_max`` is kept inside the radius of the kernels' short-lag Taylor
series (0.29 at order 3) so that the features are the network's response, not just
polynomial functionals of the signature; the script checks them against the independent
spectral series backend on a few training series. One configuration for all data sets;
the ridge penalty is chosen by leave-one-out on the training set (``RidgeClassifierCV``).

    pip install -e ".[examples]"
    python examples/real_data_classification.py [--datasets GunPoint] [--max-train 20]

With ``VOLTERRA_EXAMPLES_QUICK=1`` (the documentation gallery) only ItalyPowerDemand runs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from volterra_sym import load_model
from volterra_sym.features import hidden_unit_functionals
from volterra_sym.features.signature import expanding_signature
from volterra_sym.features.sklearn import SRNNFeatures

#: published 1-NN test error rates (UCR archive 2018 summary table, Dau et al. 2019):
#: Euclidean, DTW with the learned warping window (its width in % of the length), DTW with
#: the full window
PUBLISHED = {
    "ItalyPowerDemand": {"ED": 0.0447, "DTW_learned": 0.0447, "w": 0, "DTW_full": 0.0496},
    "GunPoint": {"ED": 0.0867, "DTW_learned": 0.0867, "w": 0, "DTW_full": 0.0933},
    "ArrowHead": {"ED": 0.2000, "DTW_learned": 0.2000, "w": 0, "DTW_full": 0.2971},
}
LOADERS = {"ItalyPowerDemand": "load_italy_power_demand", "GunPoint": "load_gunpoint",
           "ArrowHead": "load_arrow_head"}

ORDER, TAYLOR_DEGREE, T_MAX, N_OUT = 3, 8, 0.25, 8
ALPHAS = np.logspace(-3, 3, 13)


def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_test, y_test)`` from the copy bundled with sktime."""
    try:
        import sktime.datasets as sd
    except ImportError:
        raise SystemExit("this example needs sktime (bundled UCR data): "
                         "pip install -e '.[examples]'") from None
    loader = getattr(sd, LOADERS[name])
    Xtr, ytr = loader(split="train", return_type="numpy3D")
    Xte, yte = loader(split="test", return_type="numpy3D")
    return Xtr[:, 0], np.asarray(ytr), Xte[:, 0], np.asarray(yte)


def output_steps(T: int) -> list[int]:
    """``N_OUT`` equally spaced step indices ending at the last sample."""
    return [int(i) for i in np.round(np.linspace(0, T - 1, N_OUT + 1)[1:])]


def srnn_pipeline(T: int):
    """Response features of the fixed SRNN -> standardise -> ridge classifier."""
    feats = SRNNFeatures("tanh1d", order=ORDER, taylor_degree=TAYLOR_DEGREE, t_max=T_MAX,
                         output_steps=output_steps(T), per_order=True)
    return make_pipeline(feats, StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))


def time_path_signature(X: np.ndarray, depth: int, steps: list[int]) -> np.ndarray:
    """Signature (levels 1..depth) of the path ``(s, x(s))``, ``s ∈ [0, 1]``, at ``steps``."""
    s = np.broadcast_to(np.linspace(0.0, 1.0, X.shape[1]), X.shape)
    sig = expanding_signature(np.stack([s, X], axis=-1), depth, out_index=steps)
    return sig[..., 1:].reshape(X.shape[0], -1)


def ridge_accuracy(Ftr: np.ndarray, ytr: np.ndarray, Fte: np.ndarray, yte: np.ndarray) -> float:
    clf = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS)).fit(Ftr, ytr)
    return float(clf.score(Fte, yte))


def dtw_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Full-window DTW distances ``(len(A), len(B))`` with squared point costs (the UCR
    convention), vectorised over all pairs: ``D[i,j] = c[i,j] + min(D[i-1,j], D[i-1,j-1],
    D[i,j-1])``, ``D[0,j] = Σ_{l≤j} c[0,l]``."""
    T = A.shape[1]
    a, b = A[:, None, :], B[None, :, :]
    prev = np.cumsum((a[..., 0, None] - b) ** 2, axis=-1)  # row i = 0
    for i in range(1, T):
        cost = (a[..., i, None] - b) ** 2
        best = prev.copy()
        best[..., 1:] = np.minimum(prev[..., 1:], prev[..., :-1])  # up, diagonal
        cur = np.empty_like(prev)
        acc = np.full(prev.shape[:2], np.inf)
        for j in range(T):
            acc = cost[..., j] + np.minimum(best[..., j], acc)  # ... and left
            cur[..., j] = acc
        prev = cur
    return np.sqrt(prev[..., -1])


def one_nn_accuracy(D: np.ndarray, ytr: np.ndarray, yte: np.ndarray) -> float:
    return float(np.mean(ytr[np.argmin(D, axis=1)] == yte))


def piecewise_cubic(times: np.ndarray, x: np.ndarray):
    """The input the sampled-signature code integrates: on ``[t_i, t_{i+1}]`` the cubic
    through the samples ``i-1..i+2`` (stencil shifted inside at the ends)."""
    T = times.size

    def u(s: float) -> np.ndarray:
        i = int(np.clip(np.searchsorted(times, s, side="right") - 1, 0, T - 2))
        st = int(np.clip(i - 1, 0, T - 4))
        tt, xx = times[st:st + 4], x[st:st + 4]
        val = sum(xx[k] * np.prod([(s - tt[l]) / (tt[k] - tt[l]) for l in range(4) if l != k])
                  for k in range(4))
        return np.atleast_1d(float(val))

    return u


def feature_check(Xtr: np.ndarray, count: int) -> dict:
    """SRNN features at ``t_max`` against the spectral series backend (independent route)
    and the functional's own error bound: max |difference| and max bound."""
    from volterra_sym.backends import spectral

    model = load_model("tanh1d")
    T = Xtr.shape[1]
    times = np.linspace(0.0, T_MAX, T)
    est = SRNNFeatures(model, order=ORDER, taylor_degree=TAYLOR_DEGREE, t_max=T_MAX,
                       per_order=True).fit(Xtr[:count])
    phi = est.transform(Xtr[:count])
    F = hidden_unit_functionals(model, ORDER, TAYLOR_DEGREE)[0]
    diff, bound = 0.0, 0.0
    for b in range(count):
        u = piecewise_cubic(times, Xtr[b])
        ref = spectral.series_terms(model, "h1", ORDER, u, [0.0, T_MAX], tol=1e-5)
        diff = max(diff, float(np.max(np.abs(phi[b] - ref.terms[1:, -1]))))
        bound = max(bound, float(np.max(F.error_bound(Xtr[b], times)[1:, -1])))
    return {"series": count, "max_abs_diff": diff, "max_taylor_bound": bound}


def run(name: str, max_train: int | None, max_test: int | None, check: int) -> dict:
    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = load(name)
    Xtr, ytr = Xtr[:max_train], ytr[:max_train]
    Xte, yte = Xte[:max_test], yte[:max_test]
    T = Xtr.shape[1]
    steps = output_steps(T)
    res: dict = {"n_train": len(ytr), "n_test": len(yte), "length": T,
                 "classes": int(np.unique(ytr).size)}
    t = time.perf_counter()
    res["srnn_ridge"] = float(srnn_pipeline(T).fit(Xtr, ytr).score(Xte, yte))
    res["time_srnn_s"] = time.perf_counter() - t
    for label, st in (("sig_tx_final", [T - 1]), ("sig_tx_steps", steps)):
        res[label] = ridge_accuracy(time_path_signature(Xtr, ORDER, st), ytr,
                                    time_path_signature(Xte, ORDER, st), yte)
    ed = np.sqrt(((Xte[:, None, :] - Xtr[None, :, :]) ** 2).sum(-1))
    res["1nn_ed"] = one_nn_accuracy(ed, ytr, yte)
    t = time.perf_counter()
    res["1nn_dtw"] = one_nn_accuracy(dtw_distances(Xte, Xtr), ytr, yte)
    res["time_dtw_s"] = time.perf_counter() - t
    pub = PUBLISHED[name]
    res["published_1nn_ed"] = 1 - pub["ED"]
    res["published_1nn_dtw_full"] = 1 - pub["DTW_full"]
    res["published_1nn_dtw_learned"] = 1 - pub["DTW_learned"]
    if check:
        res["feature_check"] = feature_check(Xtr, check)
    res["time_s"] = time.perf_counter() - t0
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Classifying real time series with the "
                                 "response features of a fixed SRNN")
    quick = os.environ.get("VOLTERRA_EXAMPLES_QUICK") == "1"
    ap.add_argument("--datasets", default="ItalyPowerDemand" if quick else ",".join(LOADERS),
                    help=f"comma-separated subset of {', '.join(LOADERS)}")
    ap.add_argument("--max-train", type=int, default=None, help="first N training series")
    ap.add_argument("--max-test", type=int, default=None, help="first N test series")
    ap.add_argument("--check", type=int, default=2,
                    help="training series checked against the spectral backend (0: none)")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.datasets.split(",") if s.strip()]
    unknown = sorted(set(names) - set(LOADERS))
    if unknown:
        ap.error(f"unknown data sets {unknown}; choose from {sorted(LOADERS)}")
    t0 = time.perf_counter()
    out = {name: run(name, args.max_train, args.max_test, args.check) for name in names}
    total = time.perf_counter() - t0
    cols = [("srnn_ridge", "SRNN+ridge"), ("sig_tx_final", "sig(t,x) end"),
            ("sig_tx_steps", "sig(t,x) 8t"), ("1nn_ed", "1NN-ED"), ("1nn_dtw", "1NN-DTW"),
            ("published_1nn_dtw_full", "DTW publ."), ("published_1nn_dtw_learned", "DTW-w publ.")]
    print(f"{'data set':18s}" + "".join(f"{c[1]:>13s}" for c in cols) + f"{'time':>8s}")
    for name, r in out.items():
        print(f"{name:18s}" + "".join(f"{r[c[0]]:13.4f}" for c in cols) + f"{r['time_s']:7.1f}s")
        if "feature_check" in r:
            fc = r["feature_check"]
            print(f"{'':18s}SRNN features vs spectral series ({fc['series']} series): max |diff| "
                  f"{fc['max_abs_diff']:.2e}, Taylor bound {fc['max_taylor_bound']:.2e}")
    print(f"total {total:.1f} s")
    out["total_time_s"] = total
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
