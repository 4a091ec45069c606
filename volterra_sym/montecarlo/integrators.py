"""One-step maps of the SRNN SDE (docs/theory.md §1, §7) and their stability limits.

    dh_t = [ -Γ h_t + a(W h_t + b) + ε C u(t) ] dt + σ dB_t

The drift is split as ``φ(h) = -L h + N(h)`` with ``L = A = Γ - W`` and ``N(h) = b`` for a
linear activation, and ``L = Γ``, ``N(h) = a(W h + b)`` otherwise. The input is frozen on
each step at its left end point, ``u_i = u(t_i)``, ``t_i = i·dt``.

* ``"euler"`` (Euler–Maruyama, weak order 1)::

      h_{i+1} = h_i + dt [φ(h_i) + ε C u_i] + σ ΔB_i ,      ΔB_i ~ N(0, dt I_r)

* ``"exponential"`` (exponential Euler: the linear part and its noise are integrated
  exactly, ``N`` and ``u`` frozen on the step)::

      h_{i+1} = e^{-L dt} h_i + Φ₁ [N(h_i) + ε C u_i] + ξ_i ,
      Φ₁ = ∫_0^dt e^{-L s} ds ,   ξ_i = ∫_{t_i}^{t_{i+1}} e^{-L (t_{i+1}-s)} σ dB_s ,
      Cov ξ_i = Q = ∫_0^dt e^{-L s} D e^{-Lᵀ s} ds      (Van Loan).

  For a linear model this is the exact transition of the OU process (no time-step bias
  except from freezing ``u``). When Brownian increments are needed as well (Girsanov
  estimators), ``(ΔB_i, ξ_i)`` are drawn jointly: ``Cov(ξ_i, ΔB_i) = Φ₁ σ``.

Every step consumes ``noise_dim`` standard normals per path: ``r`` for Euler–Maruyama,
``n`` (or ``r + n`` with Brownian increments) for the exponential scheme.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg

from ..arrays import positive_number, real_array
from ..density.linearisation import psd_sqrt as _psd_sqrt
from ..errors import InvalidInputError, NotApplicableError, SimulationError
from ..model import SRNN, ModelError, check_model
from ..model.cache import derived
from ..model.euler_maruyama import NoiseMap, euler_maruyama_step

__all__ = ["SCHEMES", "SimulationError", "Integrator", "activation_lipschitz",
           "check_time_step", "fastest_rate", "model_arrays", "psd_sqrt"]

__all__ += ["EstimatorNotApplicableError"]

SCHEMES = ("euler", "exponential")

#: activations of the form ``a(x) = c0 + c1/(1 + e^{k x})``: ``name -> (k, c1, c0)``
#: (``tanh x = 2/(1 + e^{-2x}) - 1``, ``σ(x) = 1/(1 + e^{-x})``); overflow of the exp
#: gives ``c1/inf = 0``, the correct limit
_LOGISTIC = {"tanh": (-2.0, 2.0, -1.0), "sigmoid": (-1.0, 1.0, 0.0)}

#: a step that changes no state by more than this relative amount is below resolution
MIN_STEP_RESOLUTION = 1e-12


class EstimatorNotApplicableError(SimulationError, NotApplicableError):
    """A Monte Carlo estimator does not apply to this model (no conjugate variable, or
    ``C`` outside the range of ``σ``); still a :class:`SimulationError` for old callers."""


def model_arrays(model: SRNN, *, state_noise: bool = False) -> dict[str, np.ndarray]:
    """Numeric parameters of a numeric, stable model (refuses unstable models).

    The model constructor already refuses unstable numeric models; this re-checks
    (models built with ``check=False``) and names the failed condition. ``state_noise``:
    as :meth:`~volterra_sym.model.SRNN.numpy_params` (a σ(h) model has no ``sigma``, ``D``;
    without it such a model is refused).
    """
    check_model(model)
    return dict(derived(model, ("montecarlo", "arrays", bool(state_noise)),
                        lambda: _checked_arrays(model, bool(state_noise))))


def _checked_arrays(model: SRNN, state_noise: bool) -> dict[str, np.ndarray]:
    """Computed once per model (``numpy_params`` of a 256-unit model takes tens of
    seconds: sympy → float entry by entry); the arrays are made read-only."""
    p = model.numpy_params(state_noise=state_noise)  # ModelError for symbolic models
    try:
        model.check_stability()
    except ModelError as exc:
        raise InvalidInputError(f"model refused: {exc}", param="model") from None
    for a in p.values():
        a.setflags(write=False)
    return p


def activation_lipschitz(activation) -> float:
    """``Lip(a) = sup |a'(z)|`` (:attr:`Activation.lipschitz`)."""
    return float(activation.lipschitz)


def inplace_activation(activation) -> Callable[[np.ndarray], None] | None:
    """``x ← a(x)`` in place (``None`` for the identity); :meth:`Activation.numpy_inplace`."""
    return activation.numpy_inplace()


def fastest_rate(model: SRNN, p: dict[str, np.ndarray]) -> float:
    """``max(ρ(L), Lip(a)‖W‖₂)`` with ``L = Γ − W`` (linear) or ``Γ``: a bound on the rates of
    the drift's Jacobian (``p``: :func:`model_arrays` or ``numpy_params(state_noise=True)``)."""
    G, W = p["Gamma"], p["W"]
    return max(float(np.max(np.abs(np.linalg.eigvals(G - W if model.is_linear else G)))),
               activation_lipschitz(model.activation) * float(np.linalg.norm(W, 2)))


def check_time_step(model: SRNN, p: dict[str, np.ndarray], dt: float, scheme: str) -> None:
    """Refuse a time step beyond the (linear) stability bound of the scheme.

    * Euler–Maruyama, linear model: the mean map ``I - dt A`` must contract:
      ``|1 - dt λ| < 1`` for every eigenvalue ``λ`` of ``A = Γ - W``.
    * Euler–Maruyama, nonlinear: ``|1 - dt λ| < 1`` for the eigenvalues of ``Γ`` and
      ``dt · Λ ≤ 2`` with ``Λ = ρ(Γ) + Lip(a) ‖W‖₂`` (a bound on the Jacobian's spectrum).
    * Exponential: exact (unconditionally stable) for linear models; for nonlinear models
      the explicit part must satisfy ``dt · Lip(a) ‖W‖₂ ≤ 2``.

    A step below floating-point resolution (``dt · max(ρ(L), Lip(a)‖W‖₂) < 1e-12``: the
    update ``h + dt φ(h)`` would round to ``h``) is refused as too small.
    All refusals are :class:`~volterra_sym.errors.InvalidInputError` naming ``dt`` or
    ``scheme`` (or ``p``, when it is not the dict of :func:`model_arrays`).
    """
    if not (isinstance(p, dict) and {"Gamma", "W"} <= p.keys()):
        raise InvalidInputError(f"p must be the parameter arrays model_arrays(model) (a dict "
                                f"with 'Gamma' and 'W'), got {type(p).__name__}", param="p")
    dt = positive_number(dt, "dt")
    if scheme not in SCHEMES:
        raise InvalidInputError(f"scheme must be one of {SCHEMES}, got {scheme!r}",
                                param="scheme")
    G, W = p["Gamma"], p["W"]
    rate = fastest_rate(model, p)
    if dt * rate < MIN_STEP_RESOLUTION:
        raise InvalidInputError(
            f"dt = {dt:g} is too small: dt·(fastest rate {rate:.3g}) = {dt * rate:.3g} is "
            f"below floating-point resolution ({MIN_STEP_RESOLUTION:g}), and the run would "
            f"need about {1.0 / max(dt * rate, 1e-300):.3g} steps per relaxation time; "
            "use a larger dt", param="dt")
    lip = activation_lipschitz(model.activation)
    w_norm = float(np.linalg.norm(W, 2))
    if scheme == "exponential":
        if not model.is_linear and dt * lip * w_norm > 2.0:
            raise InvalidInputError(
                f"dt = {dt:g} is too large for the exponential integrator: "
                f"dt·Lip(a)·‖W‖₂ = {dt * lip * w_norm:.3g} > 2 (explicit nonlinear part); "
                f"use dt < {2.0 / (lip * w_norm):.3g}", param="dt")
        return
    L = G - W if model.is_linear else G
    lam = np.linalg.eigvals(L)
    amp = np.abs(1.0 - dt * lam)
    j = int(np.argmax(amp))
    if amp[j] >= 1.0:
        lim = float(np.min(2 * lam.real / np.abs(lam) ** 2))
        which = "A = Γ - W" if model.is_linear else "Γ"
        raise InvalidInputError(
            f"dt = {dt:g} is too large for Euler–Maruyama: |1 - dt·λ| = {amp[j]:.3g} ≥ 1 "
            f"for the eigenvalue λ = {lam[j].real:.4g}{lam[j].imag:+.4g}j of {which}; "
            f"stability needs dt < {lim:.3g} (or use scheme='exponential')", param="dt")
    if not model.is_linear:
        big = float(np.max(np.abs(np.linalg.eigvals(G)))) + lip * w_norm
        if dt * big > 2.0:
            raise InvalidInputError(
                f"dt = {dt:g} is too large for Euler–Maruyama: dt·(ρ(Γ) + Lip(a)·‖W‖₂) = "
                f"{dt * big:.3g} > 2; use dt < {2.0 / big:.3g}", param="dt")


def psd_sqrt(M: np.ndarray, what: str = "covariance") -> np.ndarray:
    """:func:`volterra_sym.density.linearisation.psd_sqrt` (symmetric square root of a
    positive semi-definite matrix), refusing with :class:`SimulationError` as the engine's
    callers expect."""
    try:
        return _psd_sqrt(M, what)
    except ModelError as exc:
        raise SimulationError(str(exc)) from None


def _is_diagonal(M: np.ndarray, rtol: float = 1e-14) -> bool:
    """Off-diagonal entries negligible (relative to the largest entry)."""
    off = M - np.diag(np.diag(M))
    return bool(np.max(np.abs(off), initial=0.0) <= rtol * np.max(np.abs(M), initial=0.0))


def _van_loan(L: np.ndarray, D: np.ndarray, dt: float) -> tuple[np.ndarray, ...]:
    """``E = e^{-L dt}``, ``Φ₁ = ∫_0^dt e^{-Ls} ds``, ``Q = ∫_0^dt e^{-Ls} D e^{-Lᵀs} ds``."""
    n = L.shape[0]
    Z = np.zeros((n, n))
    F = scipy.linalg.expm(np.block([[-L, np.eye(n)], [Z, Z]]) * dt)
    E, Phi1 = F[:n, :n], F[:n, n:]
    G = scipy.linalg.expm(np.block([[L, D], [Z, -L.T]]) * dt)
    Q = E @ G[:n, n:]
    return E, Phi1, 0.5 * (Q + Q.T)


class Integrator:
    """The one-step map of one scheme at one time step ``dt`` (see module docstring).

    States are stored as arrays ``(..., n, P)`` (paths last). ``step(h, out)`` writes the
    deterministic part ``M h + (dt or Φ₁) N(h)`` of ``h_{i+1}``; the caller adds the noise
    term (``σΔB_i`` resp. ``ξ_i``), ``const`` and the input ``in_map · ε u_i``.
    ``noise(z, eta, xi)`` maps standard normals to the noise term and, if ``B`` was given,
    to ``B_kᵀ ΔB_i`` per channel.
    """

    def __init__(self, model: SRNN, p: dict[str, np.ndarray], scheme: str, dt: float,
                 B: np.ndarray | None = None):
        self.scheme, self.dt = scheme, float(dt)
        self.n, self.m, self.r = model.n, model.m, model.r
        G, W, b, C, sig, D = (p[k] for k in ("Gamma", "W", "b", "C", "sigma", "D"))
        self.linear = model.is_linear
        L = G - W if self.linear else G
        self.act = inplace_activation(model.activation)
        self.b = b.copy()
        self.has_b = bool(np.any(b))
        n, r = self.n, self.r
        sq = np.sqrt(dt)
        self.with_xi = B is not None
        if scheme == "euler":
            self.M = np.eye(n) - dt * L
            self.Phi1 = None                    # N enters as dt·N(h)
            self.in_map = dt * C                # n×m
            self.const = dt * b if self.linear else np.zeros(n)
            self.noise_dim = r
            self.S_eta = sq * sig.T             # (r, n): eta = z @ S_eta = σ ΔB
            self.S_xi = None if B is None else sq * B
            self.E = None
        else:
            E, Phi1, Q = _van_loan(L, D, dt)
            self.E = E
            self.M = E
            self.Phi1 = np.ascontiguousarray(Phi1)
            self.in_map = Phi1 @ C
            self.const = Phi1 @ b if self.linear else np.zeros(n)
            if B is None:
                self.noise_dim = n
                self.S_eta = psd_sqrt(Q, "the exact noise covariance Q")
                self.S_xi = None
            else:  # joint (ΔB, ξ): ΔB = √dt z1, ξ = Φ₁σ z1/√dt + R z2
                R = psd_sqrt(Q - Phi1 @ D @ Phi1.T / dt, "the conditional noise covariance")
                self.noise_dim = r + n
                self.S_eta = np.vstack([(Phi1 @ sig).T / sq, R])
                self.S_xi = np.vstack([sq * B, np.zeros((n, B.shape[1]))])
        # diagonal / scalar matrices (σ = s·I, Γ diagonal): elementwise products, no matmul
        d = self.S_eta
        self.eta_scalar: float | None = None
        if d.shape[0] == d.shape[1] and _is_diagonal(d) and np.allclose(
                np.diag(d), d[0, 0], rtol=1e-13, atol=0.0):
            self.eta_scalar = float(d[0, 0])
        self.M = np.ascontiguousarray(self.M)
        self.M_diag = np.diag(self.M)[:, None].copy() if _is_diagonal(self.M) else None
        self.Phi1_diag = (np.diag(self.Phi1)[:, None].copy()
                          if self.Phi1 is not None and _is_diagonal(self.Phi1) else None)
        self.Wm = np.ascontiguousarray(W)
        self.b_col = b[:, None].copy()
        # tanh and sigmoid through one exp (numpy's exp is SIMD-vectorised, its tanh is
        # not: ~1.6× faster at n = 256): a(x) = c0 + c1/(1 + e^{k x}), so the drift term
        # scale·a(Wh + b) = (c1·scale)/(1 + e^{(kW)h + kb}) + c0·scale with k folded into
        # W and b and the constant c0·scale added with the noise (``const``).
        self.logistic = None
        form = _LOGISTIC.get(model.activation.name)
        if form is not None and not self.linear and (self.Phi1 is None
                                                     or self.Phi1_diag is not None):
            k, c1, c0 = form
            scale = self.dt if self.Phi1 is None else self.Phi1_diag     # float or (n, 1)
            self.logistic = (np.ascontiguousarray(k * W), (k * b)[:, None].copy(),
                             c1 * scale)
            self.const = self.const + c0 * np.broadcast_to(np.ravel(scale), (n,))

    # -------------------------------------------------------------- noise
    # Internal layout: states are stored "structure of arrays", shape (..., n, P) with the
    # paths on the last (contiguous) axis, so that per-coordinate constants broadcast cheaply.
    def noise(self, z: np.ndarray, eta_out: np.ndarray, xi_out: np.ndarray | None) -> None:
        """From normals ``z (K, d, P)``: ``eta_out (K, n, P) ← noise term``,
        ``xi_out (K, m, P) ← B_kᵀΔB`` (only with ``B``)."""
        if self.eta_scalar is not None:
            np.multiply(z, self.eta_scalar, out=eta_out)
        else:
            np.matmul(self.S_eta.T, z, out=eta_out)
        if xi_out is not None:
            np.matmul(self.S_xi.T, z, out=xi_out)

    def coarsen(self, eta_f: np.ndarray) -> np.ndarray:
        """Noise of two consecutive fine steps (this integrator has step ``dt/2``) as one
        coarse-step noise: ``σΔB₁ + σΔB₂`` (Euler) or ``e^{-L dt/2} ξ₁ + ξ₂`` (exact).
        ``eta_f`` has shape ``(K, n, P)``."""
        if self.E is None:
            return eta_f[0::2] + eta_f[1::2]
        out = np.matmul(self.E, eta_f[0::2])
        out += eta_f[1::2]
        return out

    # -------------------------------------------------------------- buffers and step
    def allocate(self, shape: tuple[int, ...]) -> None:
        """Scratch buffers for states of shape ``(..., n, P)``."""
        self._pre = np.empty(shape)
        self._tmp = np.empty(shape) if self.Phi1 is not None else None

    def step(self, h: np.ndarray, out: np.ndarray) -> None:
        """``out ← M h + (dt or Φ₁)·N(h) - const`` for ``h (..., n, P)``: the caller adds
        the noise, ``const`` (which holds the constant part of the drift: ``dt·b`` for
        linear models, ``-dt`` resp. ``-Φ₁·1`` for tanh) and the inputs."""
        if self.M_diag is not None:
            np.multiply(h, self.M_diag, out=out)
        else:
            np.matmul(self.M, h, out=out)
        if self.linear:
            return
        pre = self._pre
        if self.logistic is not None:
            kW, kb, num = self.logistic
            np.matmul(kW, h, out=pre)
            if self.has_b:
                pre += kb
            with np.errstate(over="ignore"):        # e^{large} = inf: a(x) at its limit
                np.exp(pre, out=pre)
            pre += 1.0
            np.divide(num, pre, out=pre)
            out += pre
            return
        np.matmul(self.Wm, h, out=pre)
        if self.has_b:
            pre += self.b_col
        self.act(pre)
        if self.Phi1 is None:
            pre *= self.dt
        elif self.Phi1_diag is not None:
            pre *= self.Phi1_diag
        else:
            np.matmul(self.Phi1, pre, out=self._tmp)
            pre = self._tmp
        out += pre


# ---------------------------------------------------------------------- docs/theory.md §10–§11
class StateNoiseStep:
    """One step of ``dh = [-Γh + a(Wh + b + v) ] dt + σ(h) dB`` (``input="activation"``) or
    ``[-Γh + a(Wh + b) + v] dt + σ(h) dB`` (additive), ``v = εCu(t_i)`` frozen on the step:

    * ``"euler"`` (Euler–Maruyama, weak order 1): ``h + dt·drift(h, v) + σ(h) ΔB``;
    * ``"milstein"`` (diagonal noise ``σ = diag(s_i(h_i))`` only): plus
      ``½ s_i ∂_i s_i (ΔB_i² − dt)``.

    States are ``(P, n)``; ``ΔB`` is ``(P, r)``."""

    def __init__(self, model: SRNN, dt: float, scheme: str = "euler"):
        if scheme not in ("euler", "milstein"):
            raise InvalidInputError(f"scheme must be 'euler' or 'milstein' for state-dependent "
                                    f"noise, got {scheme!r}", param="scheme")
        dt = positive_number(dt, "dt")
        p = model.numpy_params(state_noise=True)
        self.model, self.dt, self.scheme = model, dt, scheme
        self.G, self.W, self.b, self.C = p["Gamma"], p["W"], p["b"], p["C"]
        self.a = model.activation.numpy()
        self.inside = model.input == "activation"
        self.noise = NoiseMap(model)
        self.r = model.r
        self.ds = None
        if scheme == "milstein":
            import sympy as sp
            S = model.sigma
            if self.noise.diagonal is None:
                raise NotApplicableError("the Milstein scheme needs diagonal noise "
                                         "σ = diag(s_i(h_i)); use scheme='euler'")
            fns = [sp.lambdify(model.h[i], sp.diff(S[i, i], model.h[i]), "numpy")
                   for i in range(model.n)]
            self.ds = lambda h: np.stack([np.asarray(fn(h[:, i]), float) * np.ones(h.shape[0])
                                          for i, fn in enumerate(fns)], -1)

    def drift(self, h: np.ndarray, v: np.ndarray) -> np.ndarray:
        z = h @ self.W.T + self.b
        if self.inside:
            return -h @ self.G.T + self.a(z + v)
        return -h @ self.G.T + self.a(z) + v

    def step(self, h: np.ndarray, v: np.ndarray, dB: np.ndarray) -> np.ndarray:
        out = euler_maruyama_step(h, self.drift(h, v), self.dt, dB, self.noise)
        if self.ds is not None:
            out += 0.5 * self.noise.diagonal(h) * self.ds(h) * (dB * dB - self.dt)
        return out


def check_combine(combine, n_eps: int) -> np.ndarray | None:
    """``combine`` of the CRN responses (:func:`~volterra_sym.montecarlo.crn.crn_responses`)
    as a float matrix ``(K, n_eps)`` (one column per ε), or None; anything else is refused
    naming ``combine``."""
    if combine is None:
        return None
    combine = real_array(combine, "combine", objects=True, finite=False,
                         what=f"a finite (K, {n_eps}) matrix (one column per ε)")
    if combine.ndim != 2 or combine.shape[1] != n_eps or combine.shape[0] == 0 \
            or not np.all(np.isfinite(combine)):
        raise InvalidInputError(f"combine must be a finite (K, {n_eps}) matrix, K ≥ 1 (one "
                                f"column per ε), got shape {combine.shape}", param="combine")
    return combine
