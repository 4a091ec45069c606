"""The confidence of the statistical part of a route's reported error (docs/theory.md §9).

A sampled average split into ``B`` independent batches has its standard error estimated
from ``B`` numbers (``B − 1`` degrees of freedom), so the multiple of it with the coverage
of ``±STAT_Z`` normal standard deviations is the Student-t quantile

    z_B = t_{B−1}^{-1}(Φ(STAT_Z))      (4.53 at B = 8, 3.59 at 16, → 3 as B → ∞).

With ``z = 3`` and 8 batches a reported error was too small ``P(|t₇| > 3)`` = 2 % of the time
(measured: 1.7 % of the Galerkin K₂ values of the 2-unit σ(h) network ``noisy2`` over 120
seeds); the Taylor route's sampled moments reported one standard error.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

__all__ = ["STAT_Z", "stat_z", "batch_error"]

#: the confidence of a statistical error part in normal standard deviations: its coverage
#: is that of ``±STAT_Z σ``, 99.73 %
STAT_Z = 3.0


def stat_z(batches: int) -> float:
    """``z_B = t_{B−1}^{-1}(Φ(STAT_Z))``: the multiple of a standard error estimated from
    ``B ≥ 2`` batches with the coverage of ``±STAT_Z`` normal standard deviations."""
    B = int(batches)
    if B < 2:
        raise ValueError(f"stat_z needs at least 2 batches, got {B}")
    return float(scipy.stats.t.ppf(scipy.stats.norm.cdf(STAT_Z), B - 1))


def batch_error(per: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z_B·sd/√B`` of the batch values ``per`` along ``axis`` (``B`` of them): the
    statistical error of their mean."""
    per = np.asarray(per, dtype=float)
    B = per.shape[axis]
    return stat_z(B) * per.std(axis=axis, ddof=1) / math.sqrt(B)
