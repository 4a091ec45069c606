"""Figures (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_series"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_series(times: np.ndarray, partial_sums: np.ndarray, path: str | Path, *,
                title: str = "") -> Path:
    """Plot ``<f>_0`` and each partial sum ``S_N(t) = Σ_{j≤N} ε^j T_j(t)`` against ``t``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    ax.plot(times, partial_sums[0], "k--", lw=1.2, label=r"$\langle f\rangle_0$")
    for N in range(1, partial_sums.shape[0]):
        ax.plot(times, partial_sums[N], lw=1.4, label=rf"$S_{N}(t)$ (order $\leq {N}$)")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\mathbb{E} f(h_t)$")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
