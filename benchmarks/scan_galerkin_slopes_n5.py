"""Which 5-unit tanh networks could pass the M = 3 residual-slope check on the whole residual
(docs/theory.md §9, "The whole residual at n = 5"; issue 9)?

The scan: ``bench_galerkin_mc.network(5, gain, seed)`` for gains 1.2, 1.5, 1.0 and seeds
0–39, each with two draws of biases ``b ~ N(0, s²)``, ``s`` = 0.4 and 0.8 (seeded by
``1000 + seed``). A network is kept where the exact Gaussian reference fits ``p0``
(:func:`~volterra_sym.backends.galerkin.ridge.reference_fits`, so that its high-degree terms
are deterministic) and its K₁ is more than 5 % off the linearised network's. For those, the
terms ``T_0 … T_5`` of ``u = sin 2t`` at degree 7 give the check's prospects at the best time
of 0.5–3: the asymptotic range ``ε ≤ min(1, 0.15|T_4/T_5|)`` and the CRN paths for a
residual ``ε⁴T_4`` four standard errors above the noise there (``se ≈ 0.042 ε/√P``, as
``bench_galerkin_slopes.paths_needed``).

    OPENBLAS_NUM_THREADS=1 python benchmarks/scan_galerkin_slopes_n5.py

(about 10 minutes on one core) writes ``benchmarks/results/galerkin_slopes_n5_scan.json``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402,F401  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_mc import network  # noqa: E402
from bench_galerkin_slopes import input_for, network_nonlinearity  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.backends.galerkin import ridge  # noqa: E402
from volterra_sym.errors import VolterraSymError  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "galerkin_slopes_n5_scan.json"
TIMES = np.round(np.arange(0.5, 3.001, 0.25), 10)
#: CRN noise per unit ε and path (measured on tanh3, bench_galerkin_slopes.paths_needed)
NOISE = 0.042


def prospects(model) -> dict | None:
    """The check's prospects for ``model`` (module docstring), or None where it is not kept."""
    if not ridge.reference_fits(model):
        return None
    nl = network_nonlinearity(model)
    if nl < 0.05:
        return None
    T = ResponseHierarchy(model, "h1", 5).series_terms(input_for(model, None), TIMES,
                                                      method="galerkin", degree=7)
    Tv, Te = np.asarray(T), np.asarray(T.error)
    eps = np.minimum(0.15 * np.abs(Tv[4]) / np.maximum(np.abs(Tv[5]), 1e-300), 1.0)
    snr = eps ** 3 * np.abs(Tv[4]) / NOISE
    j = int(np.argmax(snr))
    return {"nonlinearity": nl, "time": float(TIMES[j]), "eps_max": float(eps[j]),
            "T4": float(Tv[4, j]), "T5": float(Tv[5, j]), "error_T1_T3": float(Te[1:4].max()),
            "measure": T.details.get("measure"), "paths": float((4 / snr[j]) ** 2)}


def main() -> None:
    warnings.simplefilter("ignore")
    kept, scanned = [], 0
    for gain in (1.2, 1.5, 1.0):
        for seed in range(40):
            base = network(5, gain, seed)
            rng = np.random.default_rng(1000 + seed)
            for scale in (0.4, 0.8):
                b = [float(x) for x in np.round(scale * rng.standard_normal(5), 3)]
                model = base.replace(b=b, name=f"s{seed}-g{int(gain * 10)}-b{int(scale * 10)}")
                scanned += 1
                try:
                    row = prospects(model)
                except VolterraSymError as exc:
                    print(f"{model.name}: {type(exc).__name__}", flush=True)
                    continue
                if row is not None:
                    row = {"gain": gain, "seed": seed, "bias": b} | row
                    kept.append(row)
                    print(json.dumps(row), flush=True)
    OUT.write_text(json.dumps({"scanned": scanned, "kept": kept}, indent=1))
    print(f"{len(kept)} of {scanned} kept; wrote {OUT}")


if __name__ == "__main__":
    main()
