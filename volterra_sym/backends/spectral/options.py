"""Options, defaults and the ladder of grid resolutions of the spectral route."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ...arrays import check_int, relative_tol
from ...errors import (
    InvalidInputError,
)
from ...model import SRNN
from .collocation import (
    blas_threads,
)

DEFAULT_TOL = {1: 1e-8, 2: 1e-6}
#: Default memory budget (bytes) for the dense arrays of the two finest grids.
DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3
#: Highest kernel order evaluated by this backend.
MAX_KERNEL_ORDER = 3
#: Highest series order (the forward hierarchy is linear in the order).
MAX_SERIES_ORDER = 12
_OPTIONS = ("tol", "resolution", "memory_budget", "cut")
_LOBATTO_Q = 7
_MAX_STEPS = 1 << 15
_CACHE_SIZE = 12
_CACHE_BYTES = 1 << 30


def _blas_limited(fn):
    """Run ``fn`` with :data:`~volterra_sym.budget.BLAS_THREADS`
    BLAS threads."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return fn(*args, **kwargs)
    return wrapper


# ---------------------------------------------------------------------- options
@dataclass(frozen=True)
class Options:
    tol: float
    resolution: int | None
    memory_budget: float
    cut: float


def _options(model: SRNN, options: dict) -> Options:
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise InvalidInputError(f"method 'spectral' got unknown options {sorted(unknown)}; "
                                f"allowed: {list(_OPTIONS)}", param="options")
    tol = options.get("tol")
    tol = DEFAULT_TOL[model.n] if tol is None else relative_tol(tol)
    res = options.get("resolution")
    if res is not None:
        res = check_int(res, "resolution", lo=5, what="grid points per axis") | 1  # odd
    budget = options.get("memory_budget")
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if isinstance(budget, bool) \
            or not isinstance(budget, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(budget) and budget > 0):
        raise InvalidInputError(f"memory_budget must be a finite positive number of bytes, "
                                f"got {budget!r}", param="memory_budget")
    cut = options.get("cut")
    if cut is None:
        cut = float(np.clip(1e-4 * tol * tol, 1e-24, 1e-12))
    elif isinstance(cut, bool) or not isinstance(cut, (int, float, np.floating)) \
            or not 1e-300 < cut < 1e-3:
        raise InvalidInputError(f"cut must be a number in (0, 1e-3) (relative density at the "
                                f"box edge), got {cut!r}", param="cut")
    return Options(float(tol), res, float(budget), float(cut))


def levels(n: int) -> list[int]:
    """The ladder of resolutions (odd points per axis): ratio ≈ 1.33 (n = 1), ≈ 1.2 (n = 2)."""
    if n == 1:
        start, ratio, top = 17, 1.33, 8000
    else:
        start, ratio, top = 11, 1.2, 400
    out, x = [], float(start)
    while x < top:
        N = int(round(x)) | 1
        if not out or N > out[-1]:
            out.append(N)
        x *= ratio
    return out


def _coarser(n: int, N: int) -> int:
    """The resolution just below ``N`` on the ladder (or ≈ 0.75 N)."""
    below = [L for L in levels(n) if L < N]
    cand = below[-1] if below else max(5, int(0.75 * N) | 1)
    return min(cand, N - 2)


