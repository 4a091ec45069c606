"""How every benchmark here measures a ratio (import this module BEFORE numpy).

The machines are small and shared, so a ratio of two timings taken minutes apart mostly
measures the neighbours. Every comparison therefore runs

* with single-threaded BLAS on both sides: ``OPENBLAS_NUM_THREADS = OMP_NUM_THREADS =
  MKL_NUM_THREADS = 1`` is set here, before numpy is imported, and passed on to every
  subprocess a benchmark starts (:func:`subprocess_env`);
* interleaved in one run: round ``r`` times case A, then case B, then ... (A, B, A, B, …), so
  that a burst of load hits both sides of a round alike;
* as the median of ``≥ 3`` rounds, with the ratio of each round kept, so the reported
  ratio is ``median [min–max over rounds]``;
* on the ``volterra_sym`` of this checkout (the repository root goes first on ``sys.path``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
os.environ.update(BLAS_ENV)

#: the checkout these scripts belong to: its ``volterra_sym`` is the one measured, not
#: whichever copy happens to be installed
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

__all__ = ["BLAS_ENV", "subprocess_env", "interleaved", "ratio", "summary", "fmt_ratio",
           "machine_info"]


def subprocess_env() -> dict[str, str]:
    """The environment for a reference run in a subprocess: same single-threaded BLAS."""
    env = dict(os.environ)
    env.update(BLAS_ENV)
    return env


def interleaved(cases: dict[str, Callable[[], object]], rounds: int, *,
                warmup: bool = True, scale: dict[str, float] | None = None,
                ) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Time every case once per round, cases in the given order, ``rounds`` rounds.

    Returns ``(times, results)``: ``times[name]`` is the list of per-round seconds
    (multiplied by ``scale[name]`` where given, e.g. to scale a subset of paths to the full
    count) and ``results[name]`` the last return value. ``warmup`` runs each case once
    untimed first (caches, first touch of memory, lazy imports).
    """
    if rounds < 3:
        raise ValueError(f"rounds must be ≥ 3 for a median with a range, got {rounds}")
    scale = scale or {}
    results: dict[str, object] = {}
    if warmup:
        for name, fn in cases.items():
            results[name] = fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append((time.perf_counter() - t0) * scale.get(name, 1.0))
    return times, results


def ratio(slow: list[float], fast: list[float]) -> dict[str, float | list[float]]:
    """Per-round ratios ``slow[r] / fast[r]`` with their median and range."""
    if len(slow) != len(fast):
        raise ValueError("ratio needs timings from the same rounds")
    per_round = [s / f for s, f in zip(slow, fast, strict=True)]
    return {"median": statistics.median(per_round), "min": min(per_round),
            "max": max(per_round), "per_round": per_round}


def summary(runs: list[float]) -> dict[str, float | list[float]]:
    """Median and range of one case's per-round times."""
    return {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs),
            "runs_s": runs}


def fmt_ratio(r: dict) -> str:
    """``'12.3× [10.1–14.0]'``."""
    return f"{r['median']:.3g}× [{r['min']:.3g}–{r['max']:.3g}]"


def machine_info() -> dict[str, object]:
    """Where and how it was measured: CPUs, load, BLAS threads actually in use."""
    info: dict[str, object] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_1_5_15min": list(os.getloadavg()),
        "env": {k: os.environ.get(k) for k in BLAS_ENV},
        "method": "interleaved rounds (A, B, A, B, ...), single-threaded BLAS on both "
                  "sides; ratios are median [min-max] of the per-round ratios",
    }
    try:
        import numpy as np
        from threadpoolctl import threadpool_info

        info["numpy"] = np.__version__
        info["volterra_sym"] = str(Path(sys.modules["volterra_sym"].__file__).parent) \
            if "volterra_sym" in sys.modules else None
        info["blas_threads_in_use"] = sorted({d.get("num_threads") for d in threadpool_info()
                                              if d.get("user_api") == "blas"})
    except ImportError:
        pass
    return info
