"""Benchmark: response features (expanding-window depth-3 signatures) of many inputs.

Default problem: 1000 sampled inputs × 1000 time points on [0, 10], m = 2 channels,
degree 4 (d = 10 letters), depth 3 (1111 features). All signatures at all times would take
1000 × 1000 × 1111 × 8 B = 8.9 GB, so inputs are processed in chunks and either only
selected output times are kept (``times_out``) or every time is reduced on the fly by a
``reduce`` callback applied per time block (here a linear readout ``S_t · W``, W of shape
(1111, 8): the kernel-machine feature map of docs/theory.md §5).

Reference: roughpy computing only the final signature of the same fine-grid increments
(on a subset of inputs, scaled to the full count), with a check of agreement. The ratio
is measured as every ratio here (``benchmarks/_timing.py``): single-threaded BLAS on both
sides, interleaved rounds (ours, roughpy, ours, ...), median and range of the per-round
ratios.

Run: ``python benchmarks/bench_features.py [--n-inputs 1000 --n-times 1000 ...]``.
Writes ``benchmarks/results/features.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The kernels are elementwise numpy plus small matrix products; a multi-threaded BLAS on a
# small, shared machine only adds contention (observed 10-100x outliers): _timing pins BLAS
# to one thread before numpy is imported.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402, I001

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from volterra_sym.features import (  # noqa: E402
    DEFAULT_REFINE,
    feature_path_increments,
    iter_response_features,
    response_features,
    signature_size,
)

M, DEGREE, DEPTH = 2, 4, 3


def make_inputs(n_inputs: int, n_times: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random inputs: sums of 5 random sinusoids per channel, shape (B, T, m)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, n_times)
    freq = rng.uniform(0.2, 2.0, size=(n_inputs, 1, M, 5))
    phase = rng.uniform(0, 2 * np.pi, size=(n_inputs, 1, M, 5))
    amp = rng.normal(size=(n_inputs, 1, M, 5)) / 5
    u = (amp * np.sin(freq * t[None, :, None, None] + phase)).sum(-1)
    return u, t


def run_selected(u, t, times_out, refine, chunk) -> np.ndarray:
    """Keep signatures at ``times_out`` only: returns (B, len(times_out), 1111)."""
    parts = [
        f.values
        for _, f in iter_response_features(
            u, t, DEPTH, DEGREE, times_out=times_out, refine=refine, chunk_size=chunk
        )
    ]
    return np.concatenate(parts)


def run_reduced(u, t, readout, refine, chunk) -> np.ndarray:
    """Every time point, reduced on the fly by ``reduce`` (linear readout): (B, T, k)."""
    return response_features(
        u, t, DEPTH, DEGREE, refine=refine, chunk_size=chunk, reduce=lambda v: v @ readout
    ).values


def traced_peak(fn: Callable[[], object]) -> float:
    """Peak Python/numpy heap allocation (MB) during one call, via tracemalloc."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def roughpy_case(u, t, n_sub: int, refine: int) -> Callable[[], np.ndarray] | None:
    """A callable computing roughpy's final signatures of the first ``n_sub`` inputs
    (``None`` when roughpy is not installed)."""
    try:
        import roughpy as rp
    except ImportError:
        return None
    dx, _, _, _ = feature_path_increments(u[:n_sub], t, DEGREE, refine=refine)
    dx = np.ascontiguousarray(dx)  # roughpy ignores array strides
    n = dx.shape[1]
    ctx = rp.get_context(width=M * (DEGREE + 1), depth=DEPTH, coeffs=rp.DPReal)
    idx = np.arange(n) / n  # indices normalised to [0, 1): much faster in roughpy

    def run() -> np.ndarray:
        sigs = []
        for b in range(n_sub):
            stream = rp.LieIncrementStream.from_increments(dx[b], indices=idx, ctx=ctx)
            sigs.append(np.array(stream.signature(rp.RealInterval(0, 1))))
        return np.array(sigs)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-inputs", type=int, default=1000)
    ap.add_argument("--n-times", type=int, default=1000)
    ap.add_argument("--n-out", type=int, default=11, help="selected output times (sparse mode)")
    ap.add_argument("--chunk", type=int, default=32, help="inputs per chunk")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds (≥ 3)")
    ap.add_argument("--roughpy-subset", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "features.json")
    args = ap.parse_args()

    u, t = make_inputs(args.n_inputs, args.n_times)
    b, n_t = u.shape[0], t.size
    size = signature_size(M * (DEGREE + 1), DEPTH)
    times_out = t[np.linspace(0, n_t - 1, args.n_out).round().astype(int)]
    readout = np.random.default_rng(1).normal(size=(size, 8))

    cases = {
        "selected times, refine=1": lambda: run_selected(u, t, times_out, 1, args.chunk),
        f"selected times, refine={DEFAULT_REFINE} (default)": lambda: run_selected(
            u, t, times_out, None, args.chunk
        ),
        "all times -> reduce (readout), refine=1": lambda: run_reduced(
            u, t, readout, 1, args.chunk
        ),
    }
    n_sub = min(args.roughpy_subset, b)
    rough_fn = roughpy_case(u, t, n_sub, refine=1)
    scale = {}
    if rough_fn is not None:
        cases["roughpy, final signature only, refine=1"] = rough_fn
        scale["roughpy, final signature only, refine=1"] = b / n_sub
    times, results = _timing.interleaved(cases, args.repeats, scale=scale)
    rows = []
    for name in cases:
        if name in scale:
            continue
        summ = _timing.summary(times[name])
        rows.append({"case": name, **summ, "per_input_ms": 1e3 * summ["median_s"] / b,
                     "peak_traced_MB": traced_peak(cases[name])})

    rough = None
    if rough_fn is not None:
        key = "roughpy, final signature only, refine=1"
        sigs = results[key]
        ours = results["selected times, refine=1"][: sigs.shape[0], -1]
        rough = {
            "subset": sigs.shape[0],
            "scaled_to_all": _timing.summary(times[key]),
            "max_rel_diff_vs_ours": float(np.max(np.abs(ours - sigs)) / np.max(np.abs(sigs))),
            "ratio_roughpy_over_ours": _timing.ratio(times[key],
                                                     times["selected times, refine=1"]),
        }

    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"response features: {b} inputs x {n_t} times, m={M}, degree={DEGREE}, "
        f"depth={DEPTH}, d={M * (DEGREE + 1)}, size={size}, chunk={args.chunk}, "
        f"median of {args.repeats} interleaved rounds"
    )
    print(f"{'case':48s} {'median [s]':>10s} {'ms/input':>9s} {'peak MB':>8s}")
    for r in rows:
        print(
            f"{r['case']:48s} {r['median_s']:10.3f} {r['per_input_ms']:9.3f} "
            f"{r['peak_traced_MB']:8.1f}"
        )
    if rough is not None:
        print(
            f"{'roughpy, final signature only, refine=1':48s} "
            f"{rough['scaled_to_all']['median_s']:10.3f} "
            f"{1e3 * rough['scaled_to_all']['median_s'] / b:9.3f} {'-':>8s}   "
            f"(timed on {rough['subset']} inputs, scaled)"
        )
        print(
            "roughpy / ours (selected, refine=1): "
            f"{_timing.fmt_ratio(rough['ratio_roughpy_over_ours'])}; "
            f"final signatures agree to {rough['max_rel_diff_vs_ours']:.1e} "
            f"(max |diff| / max |value|)"
        )
    print(f"process max RSS: {maxrss_mb:.0f} MB (includes inputs and all kept results)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "problem": {
            "n_inputs": b,
            "n_times": n_t,
            "m": M,
            "degree": DEGREE,
            "depth": DEPTH,
            "d": M * (DEGREE + 1),
            "size": size,
            "n_selected_times": int(times_out.size),
            "chunk": args.chunk,
            "repeats": args.repeats,
        },
        "cases": rows,
        "roughpy": rough,
        "process_max_rss_MB": maxrss_mb,
        "machine": _timing.machine_info(),
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
