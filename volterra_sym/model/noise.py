"""State-dependent noise ``σ(h)`` and the input position (docs/theory.md §10–§11).

    dh = [ -Γh + a(Wh + b + ε C u(t)) ] dt + σ(h) dB      (``input = "activation"``)
    dh = [ -Γh + a(Wh + b) + ε C u(t) ] dt + σ(h) dB      (``input = "additive"``)

``D(h) = σ(h) σ(h)ᵀ``. Noise expressions are parsed by the whitelist parser; they may use the
state variables ``h1..hn`` and the parameters of ``Γ, W, b, C``, nothing else. The Noisy RNN
of Lim, Erichson, Hodgkinson & Mahoney (NeurIPS 2021) has ``σ(h) = σ_1 I + σ_2 diag(h)``
(:func:`noisy_rnn_sigma`) and ``A = β(B − Bᵀ) + (1 − β)(B + Bᵀ) − γI`` (:func:`noisy_rnn_A`),
whose drift ``A h`` is ``-Γ h`` with ``Γ = -A``.

Positivity: where ``D(h)`` must be invertible (the 1-D density ``p0 ∝ D⁻¹ exp(∫2φ/D)``),
:func:`check_diffusion_positive` refuses a model whose ``D`` vanishes inside the region the
process reaches, naming the point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import sympy as sp

from ..arrays import check_unmasked
from ..errors import InvalidInputError
from ..parsing import as_expression

__all__ = ["INPUT_MODES", "FEATURE_ACTIVATION_INPUT", "FEATURE_STATE_NOISE", "noisy_rnn_A",
           "noisy_rnn_sigma", "check_input_mode", "check_diffusion_positive", "support_1d",
           "box_points", "check_unmasked"]

#: where the input enters: added to the drift, or inside the activation
INPUT_MODES = ("additive", "activation")
#: feature names (what a route that cannot treat them says it lacks)
FEATURE_ACTIVATION_INPUT = "input inside the activation"
FEATURE_STATE_NOISE = "state-dependent noise"


def check_input_mode(mode) -> str:
    """``"additive"`` or ``"activation"``, else :class:`InvalidInputError` (``param="input"``)."""
    if not isinstance(mode, str) or mode not in INPUT_MODES:
        raise InvalidInputError(f"input must be one of {INPUT_MODES} (where ε C u(t) enters the "
                                f"drift), got {mode!r}", param="input")
    return mode


def noisy_rnn_A(B, beta, gamma) -> np.ndarray | sp.Matrix:
    """``A = β(B − Bᵀ) + (1 − β)(B + Bᵀ) − γI`` (Lim et al. 2021): the antisymmetric part of
    ``B`` weighted by ``β``, the symmetric part by ``1 − β``, shifted by ``−γ``. The SRNN's
    leak is ``Γ = −A``."""
    B = check_unmasked(B, "B")
    rows = B.tolist() if isinstance(B, sp.MatrixBase) else np.asarray(B, dtype=object).tolist()
    if not (isinstance(rows, list) and rows and all(isinstance(r, list) for r in rows)):
        raise InvalidInputError(f"B must be a square matrix, got {B!r}", param="B")
    M = sp.Matrix([[as_expression(e, what="B") for e in r] for r in rows]).applyfunc(
        lambda e: sp.Rational(repr(float(e))) if isinstance(e, sp.Float) else e)
    if M.rows != M.cols:
        raise InvalidInputError(f"B must be square, got {M.rows}×{M.cols}", param="B")
    beta, gamma = (sp.Rational(repr(float(x))) if isinstance(x, float)
                   else as_expression(x, what=name)
                   for x, name in ((beta, "beta"), (gamma, "gamma")))
    return beta * (M - M.T) + (1 - beta) * (M + M.T) - gamma * sp.eye(M.rows)


def noisy_rnn_sigma(h: tuple[sp.Symbol, ...], sigma1, sigma2) -> sp.Matrix:
    """``σ(h) = σ_1 I + σ_2 diag(h)`` (n×n)."""
    s1, s2 = as_expression(sigma1, what="sigma1"), as_expression(sigma2, what="sigma2")
    return sp.diag(*[s1 + s2 * hi for hi in h])


def support_1d(D: sp.Expr, phi: sp.Expr, h: sp.Symbol) -> tuple[float, float]:
    """The interval ``(lo, hi)`` of a 1-D model on which ``D(h) > 0`` and which the process
    cannot leave: bounded by real zeros of ``D`` at which the drift points inwards
    (``φ(lo) > 0``, ``φ(hi) < 0``; an entrance boundary), else unbounded. Refuses (naming the
    point) a zero of ``D`` the drift pushes the process through, and a ``D`` negative in the
    bulk."""
    Dn = sp.lambdify(h, D, "math")
    fn = sp.lambdify(h, phi, "math")
    zeros = _real_zeros(D, h)
    # the bulk: where the deterministic flow settles (a stable zero of φ)
    x = 0.0
    for _ in range(20000):
        x = x + 0.01 * fn(x)
    lo, hi = -math.inf, math.inf
    for z in zeros:
        if z < x:
            lo = max(lo, z)
        elif z > x:
            hi = min(hi, z)
        else:
            raise InvalidInputError(f"D(h) = σ(h)² vanishes at h1 = {z:.6g}, the stable point "
                                    "of the drift: no stationary density", param="sigma")
    if lo > -math.inf and not fn(lo) > 0:
        raise InvalidInputError(f"D(h) = σ(h)² vanishes at h1 = {lo:.6g} and the drift "
                                f"φ({lo:.6g}) = {fn(lo):.4g} does not point into the region "
                                "D > 0: the process reaches D = 0 (D must be positive on the "
                                "support)", param="sigma")
    if hi < math.inf and not fn(hi) < 0:
        raise InvalidInputError(f"D(h) = σ(h)² vanishes at h1 = {hi:.6g} and the drift "
                                f"φ({hi:.6g}) = {fn(hi):.4g} does not point into the region "
                                "D > 0: the process reaches D = 0 (D must be positive on the "
                                "support)", param="sigma")
    if not Dn(x) > 0:
        raise InvalidInputError(f"D(h) = {D} is not positive at h1 = {x:.6g} (the bulk of the "
                                "dynamics)", param="sigma")
    return lo, hi


def _real_zeros(D: sp.Expr, h: sp.Symbol) -> list[float]:
    """Real zeros of ``D`` (polynomial: exact roots; otherwise sign changes and minima on a
    grid of ``[-50, 50]``, refined)."""
    if D.is_polynomial(h):
        poly = sp.Poly(sp.nsimplify(sp.expand(D), rational=True), h)
        return sorted({float(r) for r in sp.real_roots(poly)})
    Dn = np.vectorize(sp.lambdify(h, D, "math"), otypes=[float])
    xs = np.linspace(-50, 50, 200001)
    vals = Dn(xs)
    idx = np.flatnonzero(vals[:-1] * vals[1:] <= 0) if np.any(vals <= 0) else []
    return sorted({float(xs[i]) for i in idx})


def check_diffusion_positive(sigma_fn, points: np.ndarray, where: str) -> None:
    """``D(h) = σ(h)σ(h)ᵀ`` positive definite at every row of ``points`` ``(P, n)``
    (``sigma_fn``: vectorised ``σ``); else :class:`InvalidInputError` naming the first
    failing point."""
    x = np.asarray(points, dtype=float)
    S = sigma_fn(x)
    n, r = S.shape[-2], S.shape[-1]
    if r < n:
        diag = "[" + ", ".join("[" + ", ".join(f"s{i + 1}" if j == i else "0" for j in range(n))
                               + "]" for i in range(n)) + "]"
        raise InvalidInputError(f"σ(h) has r = {r} column(s) (Brownian motions) for n = {n} "
                                f"units: D(h) = σ(h)σ(h)ᵀ has rank ≤ {r} and is never "
                                "positive definite, which state-dependent noise needs; give "
                                f"σ as an n×n matrix, e.g. diagonal {diag} (a flat list is "
                                "one column: a single Brownian motion shared by all units)",
                                param="sigma")
    D = S @ np.swapaxes(S, -1, -2)
    lam = np.linalg.eigvalsh(0.5 * (D + np.swapaxes(D, -1, -2)))[:, 0]
    scale = max(float(np.abs(D).max()), 1e-300)
    bad = np.flatnonzero(~(lam > 1e-12 * scale))
    if bad.size:
        p = x[bad[np.argmin(lam[bad])]]
        at = ", ".join(f"h{i + 1} = {v:.4g}" for i, v in enumerate(p))
        raise InvalidInputError(f"D(h) = σ(h)σ(h)ᵀ is not positive definite at ({at}) "
                                f"(smallest eigenvalue {lam[bad].min():.4g}), {where}",
                                param="sigma")


def box_points(n: int, R: float, seed: int = 0) -> np.ndarray:
    """Test points of the box ``|h_i| ≤ R``: a grid of 41 points per axis (n ≤ 2), else the
    axes' grid lines through 0 and the corners plus 4,000 seeded uniform points."""
    t = np.linspace(-R, R, 41)
    if n <= 2:
        return np.stack([g.ravel() for g in np.meshgrid(*([t] * n), indexing="ij")], -1)
    lines = [np.zeros((t.size, n)) for _ in range(n)]
    for i, L in enumerate(lines):
        L[:, i] = t
    corners = np.array([[R if (c >> i) & 1 else -R for i in range(n)]
                        for c in range(min(2**n, 4096))])
    rng = np.random.default_rng(seed)
    return np.vstack([*lines, corners, rng.uniform(-R, R, size=(4000, n))])


def noise_names(params: Mapping[str, sp.Symbol], h: tuple[sp.Symbol, ...]) -> dict:
    """Names a noise expression may use: the states and the parameters so far."""
    out = {s.name: s for s in h}
    out.update(params)
    return out
