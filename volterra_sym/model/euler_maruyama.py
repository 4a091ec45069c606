"""One Euler–Maruyama step of the SRNN's Itô SDE (docs/theory.md §1, §11)

    h_{i+1} = h_i + dt·φ(h_i) + σ(h_i) ΔB_i ,     ΔB_i ~ N(0, dt·I_r) ,

written once for every sampler and estimator that steps paths (the burn-in sampler of
``p0`` with ``σ(h)``, the state-noise CRN integrator, the kick estimator).

:class:`NoiseMap` evaluates ``σ(h) ΔB`` for states ``(..., P, n)`` and increments
``(P, r)``; leading dimensions of the states (copies of the same paths) share the
increments, i.e. common random numbers:

* constant ``σ``: ``ΔB σᵀ``, shape ``(P, n)`` (it broadcasts against the states);
* diagonal ``σ = diag(s_i(h_i))``: ``s(h) ⊙ ΔB`` (no ``(n, r)`` matrix per path);
* otherwise ``σ(h) ΔB`` contracted per path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

__all__ = ["NoiseMap", "euler_maruyama_step"]


class NoiseMap:
    """``(h, ΔB) ↦ σ(h) ΔB`` of a numeric model (module docstring). ``diagonal`` is
    ``h ↦ (s_i(h_i))_i`` (states ``(..., n)``) when ``σ = diag(s_i(h_i))``, constant or
    not, else ``None``; ``constant`` is the ``(n, r)`` matrix when ``σ`` does not depend on
    ``h``, else ``None``."""

    def __init__(self, model):
        S = model.sigma
        self.constant: np.ndarray | None = None
        self.diagonal: Callable[[np.ndarray], np.ndarray] | None = None
        if not model.state_dependent_noise:
            self.constant = np.asarray(model.numpy_params()["sigma"], dtype=float)
        if S.rows == S.cols and all(S[i, j] == 0 for i in range(S.rows)
                                      for j in range(S.cols) if i != j) \
                and not any(S[i, i].free_symbols - {model.h[i]} for i in range(S.rows)):
            fns = [sp.lambdify(model.h[i], S[i, i], "numpy") for i in range(S.rows)]

            def diagonal(h: np.ndarray) -> np.ndarray:
                out = np.empty_like(h)
                for i, fn in enumerate(fns):
                    out[..., i] = fn(h[..., i])         # a constant entry broadcasts
                return out
            self.diagonal = diagonal
        self._sig = model.noise_numpy() if model.state_dependent_noise else None

    def __call__(self, h: np.ndarray, dB: np.ndarray) -> np.ndarray:
        if self.constant is not None:
            return dB @ self.constant.T
        if self.diagonal is not None:
            return self.diagonal(h) * dB
        return np.einsum("...pij,pj->...pi", self._sig(h), dB)


def euler_maruyama_step(h: np.ndarray, drift: np.ndarray, dt: float, dB: np.ndarray,
                        noise: NoiseMap) -> np.ndarray:
    """``h + dt·drift + σ(h) ΔB`` (``drift`` already evaluated at ``h``)."""
    return h + dt * drift + noise(h, dB)
