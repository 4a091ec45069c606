"""Which closed form ``p0`` has (docs/theory.md §3), decided without symbolic simplification for
numeric models.

* ``"gaussian"`` — linear activation (``A = Γ - W`` must be Hurwitz);
* ``"one_dim"`` — ``n = 1`` (``p0 ∝ exp(2U/D)``, ``U' = φ``);
* ``"gradient"`` — ``φ = ∇U`` and ``D = s² I`` (:func:`.gradient.is_gradient`);
* ``"numerical"`` — none of these: no closed form;
* ``"one_dim_noisy"`` — ``n = 1`` with state-dependent ``D(h)`` (:mod:`.multiplicative`).
"""

from __future__ import annotations

from ..errors import NotApplicableError
from ..model import SRNN, ModelError
from ..model.cache import derived
from .gradient import is_gradient
from .linearisation import arrays, check_hurwitz, is_numeric

__all__ = ["density_kind", "KINDS", "NoClosedFormError"]


class NoClosedFormError(NotApplicableError, NotImplementedError):
    """The stationary density of this model has no closed form; use a numerical route."""

KINDS = ("gaussian", "one_dim", "gradient", "numerical", "one_dim_noisy")


def _classify(model: SRNN) -> str:
    if model.state_dependent_noise:     # docs/theory.md §11: no Gaussian/gradient form
        return "one_dim_noisy" if model.n == 1 else "numerical"
    if model.is_linear and is_numeric(model):
        p = arrays(model)
        check_hurwitz(p["Gamma"] - p["W"], "A = Γ - W")
    if model.is_linear:
        return "gaussian"
    if model.n == 1:
        if model.D[0, 0] == 0:
            raise ModelError("D = σσᵀ is zero: no stationary density without noise")
        return "one_dim"
    if is_gradient(model):
        return "gradient"
    return "numerical"


def density_kind(model: SRNN) -> str:
    """The kind of ``p0`` (one of :data:`KINDS`; cached)."""
    return derived(model, ("density", "kind"), lambda: _classify(model))
