"""Figures of ``volterra-sym verify``: kernels against Monte Carlo, residuals against ε."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import GRID, _pyplot, blend

__all__ = ["plot_kernels", "plot_residuals"]

#: line styles of the order-2 curves, cycled with the colours (coinciding curves stay visible)
DASHES = ("-", "--", "-.", ":")


def _save(fig, plt, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9,
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _engine_curve(ctx, channels, pts):
    """The primary route's kernel at ``pts`` (NaN where it cannot be computed: the checks
    report the reason; the figure leaves the curve out)."""
    try:
        return np.asarray(ctx.kernel(ctx.primary, tuple(channels), pts).values)
    except Exception:  # noqa: BLE001 - a curve that cannot be drawn is left out
        return np.full(len(pts), np.nan)


def _one_lag_panel(ax, ctx, d: dict, entries: list, title: str, colors: list, *,
                   mc_label: bool = False) -> None:
    """Kernels of one lag against it: per entry ``(kernel spec, index of the MC arrays,
    name)`` the primary route's curve and the Monte Carlo points ±2 s.e. (open squares:
    the engine averaged over a Girsanov kick window, where the estimates are windowed)."""
    lags = np.asarray(d["lags"], float)
    grid = np.linspace(0.0, lags.max() + 0.1, 120)[:, None]
    windowed = any(kd != "point" for kd in d.get("kinds", ()))
    for i, (spec, idx, name) in enumerate(entries):
        c = colors[i % len(colors)]
        sel = (slice(None),) + idx
        ax.plot(grid[:, 0], _engine_curve(ctx, spec, grid), color=c, lw=1.3,
                label=f"{name} ({ctx.primary})")
        ax.errorbar(lags, d["mc"][sel], yerr=2 * d["stderr"][sel], fmt="o", color=c, ms=4,
                    capsize=2,
                    label=f"MC {d['estimator']} ±2 s.e." if mc_label and i == 0 else None)
        if windowed:
            ax.plot(lags, d["engine"][sel], "s", mfc="none", color=c, ms=6,
                    label=f"{ctx.primary} over the MC window" if i == 0 else None)
    ax.set_xlabel("lag σ")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, framealpha=1.0)
    ax.grid(**GRID)


def plot_kernels(ctx, plots: dict, path) -> Path:
    """Engine kernels (primary method) against the lag, with the MC estimates (±2 s.e.;
    open squares: the engine averaged over the MC kick window); with the input inside the
    activation also the contact kernels ``K^{(2)}_{k1k2}(σ)``."""
    plt = _pyplot()
    have = [N for N in (1, 2) if f"kernel{N}" in plots]
    contact = plots.get("contact2")
    ncols = max(1, (1 in have) + 2 * (2 in have) + (contact is not None))
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.0), constrained_layout=True,
                             squeeze=False)
    axes = axes[0]
    if not have and contact is None:
        _empty(axes[0], "no Monte Carlo kernel estimate (see verify.json)")
        return _save(fig, plt, path)
    m = ctx.model.m
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    col = 0
    if 1 in have:
        d = plots["kernel1"]
        _one_lag_panel(axes[col], ctx, d, [((k,), (k,), f"K{k + 1}") for k in range(m)],
                       f"order 1, {d['n_paths']} paths × {d['n_origins']} origins, "
                       f"dt={d['dt']:g}", colors, mc_label=True)
        col += 1
    if 2 in have:
        d = plots["kernel2"]
        lags = np.asarray(d["lags"], float)
        diag = lags[:, 0] == lags[:, 1]
        first = lags[~diag, 0]
        if first.size:
            vals, counts = np.unique(first, return_counts=True)
            s1 = float(vals[np.argmax(counts)])
        else:
            s1 = 0.0
        slices = [("diagonal K(σ, σ)", diag, lambda s: np.stack([s, s], 1), lags[:, 0]),
                  (f"K({s1:g}, σ)", (lags[:, 0] == s1) & ~diag,
                   lambda s: np.stack([np.full_like(s, s1), s], 1), lags[:, 1])]
        for title, sel, mk, x in slices:
            ax = axes[col]
            col += 1
            if not sel.any():
                _empty(ax, f"{title}: no MC lags")
                continue
            lo = 0.0 if sel is diag else s1
            grid = np.linspace(lo, x[sel].max() + 0.1, 80)
            for i, ch in enumerate(np.ndindex(*(m, m))):
                c = colors[i % len(colors)]
                # dashes cycle too: K12 and K21 coincide on the diagonal
                ax.plot(grid, _engine_curve(ctx, ch, mk(grid)), color=c, lw=1.3,
                        ls=DASHES[i % len(DASHES)],
                        label=f"K{ch[0] + 1}{ch[1] + 1} ({ctx.primary})")
                ax.errorbar(x[sel], d["mc"][sel][:, ch[0], ch[1]],
                            yerr=2 * d["stderr"][sel][:, ch[0], ch[1]], fmt="o", color=c,
                            ms=4, capsize=2)
                win = np.array([kd != "point" for kd in d["kinds"]])[sel]
                if win.any():
                    ax.plot(x[sel][win], d["engine"][sel][win][:, ch[0], ch[1]], "s",
                            mfc="none", color=c, ms=6,
                            label=f"{ctx.primary} over the MC window" if i == 0 else None)
            ax.set_xlabel("lag σ")
            ax.set_title(f"order 2, {title}; MC {d['estimator']} ±2 s.e.", fontsize=9)
            ax.legend(fontsize=7, framealpha=1.0)
            ax.grid(**GRID)
    if contact is not None:
        _one_lag_panel(axes[col], ctx, contact,
                       [(((k1, k2),), (k1, k2), f"K^(2)_{k1 + 1}{k2 + 1}")
                        for k1 in range(m) for k2 in range(k1, m)],
                       f"contact kernels (one kick, two channels); MC "
                       f"{contact['estimator']} ±2 s.e.", colors)
    fig.suptitle(f"{ctx.model.name}: f = {ctx.f}", fontsize=10)
    return _save(fig, plt, path)


def plot_residuals(series: dict | None, path, *, title: str = "") -> Path:
    """``|R_M(ε)|`` (MC response minus the series truncated at M) on log–log axes with
    ±1 s.e. bars, the noise floor (3 s.e., dotted) and reference slopes ``ε^{M+1}`` (dashed).
    Filled markers: points used in the slope fit."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6), constrained_layout=True)
    if not series:
        _empty(ax, "series check skipped (see verify.json)")
        return _save(fig, plt, path)
    mc = series["mc"]
    eps = np.asarray(mc.eps)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, res in enumerate(series["results"]):
        c = colors[i % len(colors)]
        M = res["M"]
        if res["kind"] == "exact":
            R = np.abs(res["residual"])
            j = int(np.argmax(np.max(R / res["stderr"], axis=0)))
            ax.errorbar(eps, R[:, j], yerr=res["stderr"][:, j], fmt="D", color=c, ms=4,
                        capsize=2, label=f"M={M}: exact truncation, t={mc.times[j]:g}")
            ax.plot(eps, 4 * res["stderr"][:, j], ":", color=c, lw=1, label=f"M={M}: 4 s.e.")
            continue
        r, s, used = np.abs(res["residual_t"]), res["stderr_t"], res["used"]
        ax.errorbar(eps[used], r[used], yerr=s[used], fmt="o", color=c, ms=5, capsize=2,
                    label=f"M={M}, t={res['time']:g}: slope "
                          + (f"{res['slope']:.2f}" if res["slope"] is not None else "n/a"))
        if (~used).any():
            ax.errorbar(eps[~used], r[~used], yerr=s[~used], fmt="o", mfc="none", color=c,
                        ms=5, capsize=2)
        ax.plot(eps, 3 * s, ":", color=c, lw=1)
        p = res["expected"]
        anchor = int(np.argmax(eps * used)) if used.any() else len(eps) - 1
        ref = r[anchor] * (eps / eps[anchor]) ** p
        ax.plot(eps, ref, "--", color=blend(c, 0.8), lw=1,
                label=rf"reference $\varepsilon^{{{p}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε")
    ax.set_ylabel(r"$|\,$MC $- \sum_{N\leq M} \varepsilon^N T_N\,|$")
    ax.set_title(f"{title}\n{mc.n_paths} CRN paths, dt={mc.dt:g} (Richardson), "
                 f"{series['method']}; dotted: 3 s.e.", fontsize=9)
    ax.legend(fontsize=7, framealpha=1.0)
    ax.grid(which="both", **GRID)
    return _save(fig, plt, path)
