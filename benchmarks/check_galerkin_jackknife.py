"""Is the Galerkin route's statistical error calibrated? K₁ of the 8-unit network of
``bench_galerkin_kick.py`` at its 5 lags, at ``--degree`` with ``--samples`` samples of
``p0``, once per ``--seeds`` seed: the spread of the values over the seeds (what a user
would see on re-running) against the jackknife standard error the route reports
(``details["route"]["statistical"] / stat_z(8)``, the largest over the lags; the route's
default 8 batches).

    OPENBLAS_NUM_THREADS=1 python benchmarks/check_galerkin_jackknife.py \
        [--degree 5] [--samples 80000] [--seeds 11 13 15 100 101 ... 112]

Writes ``benchmarks/results/galerkin_jackknife_n8.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _timing  # noqa: E402  (single-threaded BLAS before numpy is imported)
import numpy as np  # noqa: E402
from bench_galerkin_kick import K1_LAGS, NETWORKS  # noqa: E402
from bench_galerkin_mc import network  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.backends.coverage import stat_z  # noqa: E402
from volterra_sym.density.linearisation import linearisation  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "galerkin_jackknife_n8.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--degree", type=int, default=5)
    ap.add_argument("--samples", type=int, default=80_000)
    ap.add_argument("--seeds", type=int, nargs="+",
                    default=[11, 13, 15, *range(100, 113)])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if len(args.seeds) < 3 or len(set(args.seeds)) != len(args.seeds):
        raise SystemExit("--seeds: at least 3 distinct seeds")
    warnings.simplefilter("ignore")
    model = network(8, *NETWORKS[8])
    tau = 1.0 / linearisation(model).rate
    lags = np.round(np.array(K1_LAGS) * tau / 0.04) * 0.04      # bench_galerkin_kick's grid
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        k = ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(
            lags[:, None], method="galerkin", degree=args.degree, paths=args.samples,
            seed=seed)
        route = k.details["route"]
        rows.append({"seed": seed, "value": np.ravel(k.values).tolist(),
                     "error": np.ravel(k.error).tolist(),
                     "statistical": route["statistical"], "truncation": route["truncation"],
                     "seconds": time.perf_counter() - t0})
        print(f"seed {seed}: {np.round(np.ravel(k.values), 6)} jackknife se "
              f"{route['statistical'] / stat_z(8):.2e} ({rows[-1]['seconds']:.0f} s)", flush=True)
    vals = np.array([r["value"] for r in rows])
    sd = vals.std(0, ddof=1)
    jk = np.median([r["statistical"] for r in rows]) / stat_z(8)
    dev = np.abs(vals - vals.mean(0)) / jk
    res = {"degree": args.degree, "samples": args.samples, "lags": lags.tolist(),
           "machine": _timing.machine_info(), "runs": rows,
           "seed_sd": sd.tolist(), "jackknife_se_median": float(jk),
           "seed_sd_over_jackknife_se": float(sd.max() / jk),
           "largest_deviation_in_jackknife_se": float(dev.max())}
    print(f"sd over {len(rows)} seeds per lag {np.array2string(sd, precision=2)}; median "
          f"jackknife se {jk:.2e}; ratio (largest lag) {sd.max() / jk:.2f}; largest "
          f"deviation from the seeds' mean {dev.max():.1f} jackknife se")
    Path(args.out).write_text(json.dumps(res, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
