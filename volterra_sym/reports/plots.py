"""Figures (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInputError

__all__ = ["plot_series", "blend", "GRID"]

#: grid lines: a solid light grey (no transparency — nor in legends, framealpha=1 —, which
#: PostScript cannot draw: an
#: ``.eps`` figure printed "The PostScript backend does not support transparency" on stderr
#: and rendered translucent artists opaque)
GRID = {"color": "0.88", "lw": 0.6}


def blend(color, alpha: float) -> tuple[float, float, float]:
    """``color`` at opacity ``alpha`` over white, as an opaque colour
    (``1 − α(1 − rgb)``): the same look in every format, ``.eps`` included."""
    from matplotlib.colors import to_rgb

    return tuple(1.0 - alpha * (1.0 - c) for c in to_rgb(color))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_series(times: np.ndarray, partial_sums: np.ndarray, path: str | Path, *,
                title: str = "") -> Path:
    """Plot ``<f>_0`` and each partial sum ``S_N(t) = Σ_{j≤N} ε^j T_j(t)`` against ``t``.

    Parameters
    ----------
    times : the observation times, shape ``(T,)``.
    partial_sums : ``[S_0(t), …, S_N(t)]``, shape ``(N+1, T)``: a
        :class:`~volterra_sym.results.PartialSums` of one ε (``hier.series(u, times, eps)``)
        or an array; for an array of ε plot each, ``partial_sums[i]``.
    path : the image file; its suffix chooses the format (``.png``, ``.pdf``, ``.svg``...).
    title : the figure's title.

    Returns the path written. Raises :class:`~volterra_sym.errors.InvalidInputError`
    (naming the parameter) for shapes that do not match or a format matplotlib cannot
    write.
    """
    try:
        times = np.asarray(times, dtype=float)
        sums = np.asarray(partial_sums, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"times and partial_sums must be arrays of real numbers "
                                f"({exc})", param="partial_sums") from None
    if times.ndim != 1 or times.size == 0:
        raise InvalidInputError(f"times must be a non-empty 1-D array, got shape {times.shape}",
                                param="times")
    if sums.ndim != 2 or sums.shape[1] != times.size:
        raise InvalidInputError(f"partial_sums must have shape (N+1, len(times)) = (N+1, "
                                f"{times.size}), got shape {sums.shape} (for several ε "
                                "plot each partial_sums[i])", param="partial_sums")
    path = Path(path)
    plt = _pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise InvalidInputError(f"path {str(path)!r}: the suffix must name an image format "
                                f"({', '.join(sorted(formats))})", param="path")
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    ax.plot(times, sums[0], "k--", lw=1.2, label=r"$\langle f\rangle_0$")
    for N in range(1, sums.shape[0]):
        ax.plot(times, sums[N], lw=1.4, label=rf"$S_{N}(t)$ (order $\leq {N}$)")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\mathbb{E} f(h_t)$")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, framealpha=1.0)
    ax.grid(**GRID)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
