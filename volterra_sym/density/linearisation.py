"""Numerical linear algebra of ``p0``: the Lyapunov equation, the linearisation of the
drift at its fixed point, relaxation times and the exact one-step law of a linear SDE
(docs/theory.md §3, §7). Numeric models only; everything is cached per model with
:func:`volterra_sym.model.cache.derived`.

* Ornstein–Uhlenbeck (linear activation, ``φ(h) = -A h + b``, ``A = Γ - W`` Hurwitz):
  ``p0 = N(μ, S)``, ``μ = A⁻¹ b``, ``A S + S Aᵀ = D`` (:func:`gaussian_moments`).
* Linearisation (any activation): ``h*`` with ``φ(h*) = 0`` (Newton from the linear
  guess), ``J = ∇φ(h*) = -Γ + diag(a'(z*)) W``, ``z* = W h* + b``; the *linearised*
  density ``N(h*, S_lin)`` with ``(-J) S_lin + S_lin (-J)ᵀ = D`` (a start for burn-in),
  and the relaxation rate ``κ = min(min Re λ(-J), κ_tail)``, with ``κ_tail`` the slowest
  rate of the tail drifts (``Γ`` for bounded activations, ``Γ - W diag(s)`` for the
  limiting slopes ``s`` otherwise) (:func:`linearisation`).
* One step of ``dh = (-L h + c) dt + σ dB`` (Van Loan): ``E = e^{-L dt}``,
  ``Φ₁ = ∫_0^dt e^{-Ls} ds``, ``Q = ∫_0^dt e^{-Ls} D e^{-Lᵀs} ds``
  (:func:`linear_step`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..arrays import real_array
from ..errors import InvalidInputError, NotApplicableError
from ..model import SRNN, ModelError
from ..model.cache import derived
from ..model.srnn import check_hurwitz

__all__ = ["arrays", "is_numeric", "drift", "check_hurwitz", "lyapunov", "gaussian_moments",
           "Linearisation", "linearisation", "activation_derivative", "activation_lipschitz",
           "tail_matrices", "linear_step", "psd_sqrt", "regular_noise"]


def is_numeric(model: SRNN) -> bool:
    """``model.is_numeric``, cached (it visits every matrix entry: seconds at n = 128);
    found by converting the parameters once (:func:`arrays`)."""
    def build():
        try:
            arrays(model)
        except ModelError:
            return False
        except NotApplicableError:      # state-dependent noise: no constant D
            return model.is_numeric
        return True
    return derived(model, ("density", "is_numeric"), build)


def arrays(model: SRNN) -> dict[str, np.ndarray]:
    """``arrays(model)`` (Gamma, W, b, C, sigma, D as read-only floats), cached."""
    def build():
        p = model.numpy_params()
        for v in p.values():
            v.flags.writeable = False
        return p
    return derived(model, ("density", "arrays"), build)


def drift(model: SRNN):
    """Vectorised drift ``φ(h) = -Γh + a(Wh + b)``: ``(..., n) -> (..., n)`` (cached)."""
    def build():
        p = arrays(model)
        a = model.activation.numpy()
        G, W, b = p["Gamma"], p["W"], p["b"]

        def phi(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            return -x @ G.T + a(x @ W.T + b)
        return phi
    return derived(model, ("density", "drift"), build)


def lyapunov(A: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Symmetric ``S`` solving ``A S + S Aᵀ = D`` (``A`` Hurwitz: eigenvalues with
    positive real part), by Bartels–Stewart (``scipy.linalg.solve_continuous_lyapunov``).
    ``A`` and ``D`` must be finite real square matrices of one shape and ``A`` Hurwitz —
    else the solution is no covariance (``-I`` gave ``S = -I/2``) and
    :class:`InvalidInputError` names ``A`` or ``D``."""
    mats = {}
    for name, M in (("A", A), ("D", D)):
        raw = real_array(M, name, finite=False, copy=True,
                         what="a non-empty square matrix of real numbers")
        if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or raw.shape[0] == 0:
            raise InvalidInputError(f"{name} must be a non-empty square matrix of real "
                                    f"numbers, got {type(M).__name__} of shape "
                                    f"{raw.shape}", param=name)
        mats[name] = real_array(raw, name)                 # finite
    A, D = mats["A"], mats["D"]
    if A.shape != D.shape:
        raise InvalidInputError(f"D has shape {D.shape}, A has {A.shape}: they must match",
                                param="D")
    try:
        check_hurwitz(A, "A")
    except InvalidInputError as exc:
        exc.param = "A"
        raise
    S = scipy.linalg.solve_continuous_lyapunov(A, D)
    return 0.5 * (S + S.T)


def regular_noise(model: SRNN) -> bool:
    """``D = σσᵀ`` (constant noise) of full rank: the noise reaches every coordinate."""
    D = np.asarray(arrays(model)["D"], dtype=float)
    return np.linalg.matrix_rank(D, tol=1e-12 * max(float(np.abs(D).max()), 1e-300)) == model.n


def _check_pd(S: np.ndarray) -> None:
    w = np.linalg.eigvalsh(S)
    if w.max() <= 0 or w.min() <= 1e-14 * w.max():      # relative: a narrow p0 is fine
        raise ModelError(f"the stationary covariance S (A S + S Aᵀ = D) is singular "
                         f"(smallest eigenvalue {w.min():.3g}): the noise does not reach "
                         "every direction, so p0 has no density")


def gaussian_moments(model: SRNN) -> tuple[np.ndarray, np.ndarray]:
    """``(μ, S)`` of a numeric linear model: ``μ = A⁻¹ b``, ``A S + S Aᵀ = D`` (cached).

    Refuses (``ModelError``) an unstable ``A`` and a singular ``S`` (degenerate noise)."""
    if not model.is_linear:
        raise ModelError(f"the Gaussian moments need a linear activation, the activation "
                         f"is {model.activation.name!r}")

    def build():
        p = arrays(model)
        A = p["Gamma"] - p["W"]
        check_hurwitz(A, "A = Γ - W")
        mu = np.linalg.solve(A, p["b"])
        S = lyapunov(A, p["D"])
        _check_pd(S)
        for M in (mu, S):
            M.flags.writeable = False
        return mu, S
    return derived(model, ("density", "gaussian_moments"), build)


# ---------------------------------------------------------------------- activations
def activation_derivative(model: SRNN):
    """Vectorised ``a'(z)``: :meth:`Activation.numpy_derivative` (cancellation-free closed
    forms for the built-ins, lambdified otherwise)."""
    return model.activation.numpy_derivative(1)


def activation_lipschitz(model: SRNN) -> float:
    """``sup |a'(z)|``: :attr:`Activation.lipschitz`."""
    return float(model.activation.lipschitz)


def tail_matrices(model: SRNN) -> list[np.ndarray]:
    """Linear drift matrices governing the tails: ``Γ`` for bounded activations,
    ``Γ - W`` for linear ones, else ``Γ - W diag(s)`` for the limiting slopes
    ``s_i ∈ {a'(-∞), a'(+∞)}`` (all ``2^n`` choices for ``n ≤ 10``, the two uniform ones
    beyond, as in :meth:`SRNN.check_stability`)."""
    p = arrays(model)
    G, W = p["Gamma"], p["W"]
    if model.is_linear:
        return [G - W]
    act = model.activation
    if act.bounded:
        return [G]
    lo, hi = act.slopes_at_infinity
    slopes = sorted({float(lo), float(hi)})
    choices = itertools.product(slopes, repeat=model.n) if model.n <= 10 and len(slopes) > 1 \
        else [(s,) * model.n for s in slopes]
    return [G - W * np.asarray(s)[None, :] for s in choices]


# ---------------------------------------------------------------------- linearisation
@dataclass(frozen=True)
class Linearisation:
    """The drift linearised at its stable fixed point (see module docstring).

    ``center``: ``h*`` (the stable fixed point reached by the deterministic flow from the
    origin; the origin itself if none was found); ``jacobian``: ``∇φ(h*)``; ``cov``:
    ``S_lin`` (``None`` without a stable fixed point); ``rate``: the relaxation rate
    ``κ > 0``; ``fast``: ``ρ(Γ) + Lip(a)‖W‖₂``, a bound on the drift's Lipschitz constant;
    ``fixed_points``: how many distinct stable fixed points the flow reached from 9
    starts (``> 1``: metastable, the linearisation does not give the relaxation time).
    """

    center: np.ndarray
    jacobian: np.ndarray
    cov: np.ndarray | None
    rate: float
    fast: float
    fixed_points: int

    @property
    def metastable(self) -> bool:
        """More than one stable fixed point (or none): relaxation by barrier crossing."""
        return self.fixed_points != 1

    @property
    def relaxation_time(self) -> float:
        """``1/κ``."""
        return 1.0 / self.rate


def _jacobian_at(model: SRNN, p: dict, h: np.ndarray) -> np.ndarray:
    z = p["W"] @ h + p["b"]
    return -p["Gamma"] + activation_derivative(model)(z)[:, None] * p["W"]


def _newton(model: SRNN, p: dict, h: np.ndarray) -> tuple[np.ndarray, bool]:
    """Damped Newton for ``φ(h) = 0`` from ``h`` (≤ 50 iterations)."""
    phi = drift(model)
    scale = (1.0 + float(np.abs(p["b"]).max(initial=0.0))) * np.sqrt(model.n)
    for _ in range(50):
        f = phi(h)
        if not np.all(np.isfinite(f)):
            return h, False
        if np.linalg.norm(f) <= 1e-13 * scale:
            return h, True
        try:
            step = np.linalg.solve(_jacobian_at(model, p, h), -f)
        except np.linalg.LinAlgError:
            return h, False
        t = 1.0
        for _ in range(30):  # backtracking on ‖φ‖
            trial = h + t * step
            ft = phi(trial)
            if np.all(np.isfinite(ft)) and np.linalg.norm(ft) < np.linalg.norm(f):
                break
            t *= 0.5
        h = trial
    f = phi(h)
    return h, bool(np.all(np.isfinite(f)) and np.linalg.norm(f) <= 1e-8 * scale)


def _stable_fixed_points(model: SRNN, p: dict, rate_tail: float, fast: float,
                         starts: int = 8) -> list[np.ndarray]:
    """Stable fixed points reached by the deterministic flow ``ḣ = φ(h)`` from the origin
    and ``starts`` seeded points on the noise scale (explicit Euler, step ``0.5/fast``,
    time ``30/κ_tail``), each polished by Newton; distinct points only."""
    n = model.n
    phi = drift(model)
    rng = np.random.default_rng(977)
    spread = 3.0 * np.sqrt(np.abs(np.diag(p["D"])).max() / (2.0 * rate_tail)) \
        + float(np.abs(p["b"]).max(initial=0.0))
    x = np.vstack([np.zeros(n), spread * rng.standard_normal((starts, n))])
    dt = 0.5 / fast
    steps = int(min(np.ceil(30.0 / (rate_tail * dt)), 20000))
    with np.errstate(all="ignore"):
        for _ in range(steps):
            x = x + dt * phi(x)
    found: list[np.ndarray] = []
    tol = 1e-6 * (1.0 + spread)
    for x0 in x:
        if not np.all(np.isfinite(x0)):
            continue
        h, ok = _newton(model, p, x0)
        if not ok or _min_rate(-_jacobian_at(model, p, h)) <= 0:
            continue
        if all(np.abs(h - g).max() > tol for g in found):
            found.append(h)
    return found


def _min_rate(M: np.ndarray) -> float:
    return float(np.min(np.linalg.eigvals(M).real))


def linearisation(model: SRNN) -> Linearisation:
    """The (cached) :class:`Linearisation` of a numeric model."""
    def build():
        p = arrays(model)
        rate_tail = min(_min_rate(M) for M in tail_matrices(model))
        if rate_tail <= 0:
            raise ModelError(f"the tail drift is not stable (slowest rate {rate_tail:.3g}): "
                             "no relaxation time")
        if model.is_linear:
            fast = float(np.max(np.abs(np.linalg.eigvals(p["Gamma"] - p["W"]))))
            points = [np.linalg.solve(p["Gamma"] - p["W"], p["b"])]
        else:
            fast = float(np.max(np.abs(np.linalg.eigvals(p["Gamma"])))) \
                + activation_lipschitz(model) * float(np.linalg.norm(p["W"], 2))
            points = _stable_fixed_points(model, p, rate_tail, max(fast, rate_tail))
        center = points[0] if points else np.zeros(model.n)
        J = _jacobian_at(model, p, center)
        cov = None
        if points:
            try:
                cov = lyapunov(-J, p["D"])
                if not np.all(np.isfinite(cov)) or np.linalg.eigvalsh(cov).min() < 0:
                    cov = None
            except (np.linalg.LinAlgError, ValueError):
                cov = None
        rate = min(_min_rate(-J), rate_tail) if cov is not None else rate_tail
        for arr in (center, J) + (() if cov is None else (cov,)):
            arr.flags.writeable = False
        return Linearisation(center, J, cov, float(rate), max(fast, float(rate)),
                             len(points))
    return derived(model, ("density", "linearisation"), build)


# ---------------------------------------------------------------------- one exact step
def linear_step(L: np.ndarray, D: np.ndarray, dt: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(E, Φ₁, Q)`` for ``dh = -L h dt + σ dB``, ``D = σσᵀ``, over one step ``dt``:
    ``E = e^{-L dt}``, ``Φ₁ = ∫_0^dt e^{-L s} ds``, ``Q = ∫_0^dt e^{-Ls} D e^{-Lᵀs} ds``
    (block-matrix exponentials of Van Loan)."""
    n = L.shape[0]
    Zm = np.zeros((n, n))
    F = scipy.linalg.expm(np.block([[-L, np.eye(n)], [Zm, Zm]]) * dt)
    E, Phi1 = F[:n, :n], F[:n, n:]
    G = scipy.linalg.expm(np.block([[L, D], [Zm, -L.T]]) * dt)
    Q = E @ G[:n, n:]
    return E, Phi1, 0.5 * (Q + Q.T)


def psd_sqrt(M: np.ndarray, what: str = "covariance") -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (tiny negatives clipped)."""
    M = 0.5 * (M + M.T)
    lam, V = np.linalg.eigh(M)
    top = max(float(lam.max()), 0.0)
    if lam.min() < -1e-9 * max(top, 1e-300):
        raise ModelError(f"{what} is not positive semi-definite (eigenvalue {lam.min():g})")
    return (V * np.sqrt(np.clip(lam, 0.0, None))) @ V.T
