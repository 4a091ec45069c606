"""Figures (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..arrays import real_array, real_number
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
                title: str = "", error: np.ndarray | None = None,
                terms: np.ndarray | None = None, terms_error: np.ndarray | None = None,
                eps: float | None = None) -> Path:
    """Plot ``<f>_0`` and each partial sum ``S_N(t) = Σ_{j≤N} ε^j T_j(t)`` against ``t``,
    each in a band ``± error`` where the error is known; with ``terms`` and ``eps`` a
    second panel shows the size of each order's contribution ``|ε^N T_N(t)|`` (log scale)
    beside its error ``|ε|^N err(T_N)`` (dashed): an order whose contribution lies under
    its dashed line is not resolved by the route.

    Parameters
    ----------
    times : the observation times, shape ``(T,)``.
    partial_sums : ``[S_0(t), …, S_N(t)]``, shape ``(N+1, T)``: a
        :class:`~volterra_sym.results.PartialSums` of one ε (``hier.series(u, times, eps)``;
        its ``error`` is the band unless ``error`` is given) or an array; for an array of ε
        plot each, ``partial_sums[i]``.
    path : the image file; its suffix chooses the format (``.png``, ``.pdf``, ``.svg``...).
    title : the figure's title.
    error : the error of each partial sum, shape ``(N+1, T)`` (``Σ_{j≤N} |ε|^j err(T_j)``);
        ``None``: the band of a ``PartialSums``, else none (said in the legend).
    terms, terms_error : ``T_0 … T_N`` and their errors, shape ``(N+1, T)`` (the second
        panel; ``terms_error`` may be ``None``: unknown); with ``eps`` the amplitude.

    Returns the path written. Raises :class:`~volterra_sym.errors.InvalidInputError`
    (naming the parameter) for shapes that do not match or a format matplotlib cannot
    write.
    """
    if error is None and getattr(partial_sums, "error", None) is not None:
        error = partial_sums.error
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
    error = _same_shape(error, sums.shape, "error")
    if (terms is None) != (eps is None):
        raise InvalidInputError("terms and eps go together (the second panel plots "
                                "|eps^N T_N|)", param="eps" if eps is None else "terms")
    terms = _same_shape(terms, sums.shape, "terms")
    terms_error = _same_shape(terms_error, sums.shape, "terms_error")
    eps = None if eps is None else real_number(eps, "eps", what="a finite real number")
    path = Path(path)
    plt = _pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise InvalidInputError(f"path {str(path)!r}: the suffix must name an image format "
                                f"({', '.join(sorted(formats))})", param="path")
    panels = 2 if terms is not None and sums.shape[0] > 1 else 1
    fig, axes = plt.subplots(panels, 1, figsize=(7, 4.2 if panels == 1 else 7.0),
                             constrained_layout=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2][:panels]})
    ax = axes[0, 0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    band = " (bands: ± the error of each S_N)" if error is not None else " (errors unknown)"
    if error is not None:
        for N in range(1, sums.shape[0]):
            c = colours[(N - 1) % len(colours)]
            ax.fill_between(times, sums[N] - error[N], sums[N] + error[N], lw=0,
                            color=blend(c, 0.25))
    ax.plot(times, sums[0], "k--", lw=1.2, label=r"$\langle f\rangle_0$")
    for N in range(1, sums.shape[0]):
        c = colours[(N - 1) % len(colours)]
        ax.plot(times, sums[N], lw=1.4, color=c,
                label=rf"$S_{N}(t)$ (order $\leq {N}$)")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\mathbb{E} f(h_t)$")
    ax.set_title(title + band, fontsize=9)
    ax.legend(fontsize=8, framealpha=1.0)
    ax.grid(**GRID)
    if panels == 2:
        _orders_panel(axes[1, 0], times, terms, terms_error, float(eps), colours)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _same_shape(a, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    """``a`` as a finite float array of ``shape`` (None stays None), else the project's
    error naming ``name``."""
    if a is None:
        return None
    arr = real_array(a, name)
    if arr.shape != shape:
        raise InvalidInputError(f"{name} must have the shape of partial_sums {shape}, got "
                                f"{arr.shape}", param=name)
    return arr


def _orders_panel(ax, times: np.ndarray, terms: np.ndarray, terms_error: np.ndarray | None,
                  eps: float, colours: list) -> None:
    """``|ε^N T_N(t)|`` (solid) and ``|ε|^N err(T_N)`` (dashed) for ``N ≥ 1``, log scale;
    zeros are left out (a log axis has no 0)."""
    top = 0.0
    for N in range(1, terms.shape[0]):
        c = colours[(N - 1) % len(colours)]
        size = np.abs(eps) ** N * np.abs(terms[N])
        top = max(top, float(size.max()),
                  0.0 if terms_error is None else float(np.abs(eps) ** N * terms_error[N].max()))
        ax.plot(times, np.where(size > 0, size, np.nan), lw=1.3, color=c,
                label=rf"$|\varepsilon^{N} T_{N}(t)|$")
        if terms_error is not None:
            err = np.abs(eps) ** N * terms_error[N]
            ax.plot(times, np.where(err > 0, err, np.nan), "--", lw=1.0, color=c,
                    label="its error" if N == 1 else None)
    ax.set_yscale("log")
    if top > 0:                 # six decades: the start of the higher orders at t → 0
        ax.set_ylim(1e-6 * top, 2.0 * top)
    ax.set_xlabel("t")
    ax.set_ylabel("contribution of order N")
    ax.set_title("each order against its error" + ("" if terms_error is not None
                                                    else " (errors unknown)"), fontsize=9)
    ax.legend(fontsize=8, framealpha=1.0, ncol=2)
    ax.grid(**GRID)
