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
from ..model import SRNN, FrozenModelError, ModelError
from ..model.cache import derived
from .gradient import is_gradient
from .linearisation import arrays, check_hurwitz, is_numeric

__all__ = ["density_kind", "KINDS", "NoClosedFormError", "ReadOnly"]


class ReadOnly:
    """Attributes set once in ``__init__`` (through :meth:`_init`) and never again: a
    density is cached per model and shared by every equal model, so changing one in place
    would change the results of all of them. ``cached_property`` values are still filled
    in on first use (they write the instance dictionary directly)."""

    def _init(self, **attributes) -> None:
        for name, value in attributes.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise FrozenModelError(f"{type(self).__name__} is read-only (cached per model and "
                               f"shared by equal models): cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenModelError(f"{type(self).__name__} is read-only (cached per model and "
                               f"shared by equal models): cannot delete {name!r}")


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
