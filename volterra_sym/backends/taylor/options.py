"""Options, limits and request checks of the ``taylor`` route."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ...arrays import check_int, positive_number
from ...budget import check_count
from ...errors import InvalidInputError, UnsupportedOrderError
from ...model import SRNN
from ...operators.packed import LOWER_COST
from ...operators.powers import unsupported_reason
from .. import BackendError

__all__ = ["TaylorAccuracyWarning", "TaylorOptions", "MAX_ORDER", "DEFAULT_DEGREE",
           "MAX_DEGREE", "MAX_COEFFICIENTS", "DENSITY_ROUTES", "SAMPLING_KEYS",
           "applies", "check_request", "check_coefficient_count"]

#: Largest kernel order the backend accepts (coefficients grow like C(d+N, N) m^N).
MAX_ORDER = 6
#: Default total Taylor degree ``|p| ≤ degree``.
DEFAULT_DEGREE = 8
MAX_DEGREE = 40
#: Most coefficients ``c_{k,p}`` of one kernel (``C(degree + N, N)``).
MAX_COEFFICIENTS = 200_000
DENSITY_ROUTES = ("auto", "gaussian", "quadrature", "grid", "sampling")
SAMPLING_KEYS = ("paths", "snapshots", "batches", "dt", "burn_in", "spacing", "seed")


class TaylorAccuracyWarning(UserWarning):
    """Lags beyond the valid range were evaluated with ``on_radius="warn"``."""


@dataclass
class TaylorOptions:
    """Options of ``method="taylor"``: ``degree`` (default 8), ``tol``, ``max_degree``
    (default 16), ``density`` (``"auto"`` or a route of :data:`DENSITY_ROUTES`),
    ``on_radius`` (``"raise"``/``"warn"``) and the sampling keys :data:`SAMPLING_KEYS`."""

    degree: int = DEFAULT_DEGREE
    tol: float | None = None
    max_degree: int = 16
    density: str = "auto"
    on_radius: str = "raise"
    sampling: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, options: dict) -> TaylorOptions:
        allowed = {"degree", "tol", "max_degree", "density", "on_radius", *SAMPLING_KEYS}
        unknown = set(options) - allowed
        if unknown:
            raise InvalidInputError(f"method 'taylor' got unknown options {sorted(unknown)}; "
                                    f"allowed: {sorted(allowed)}", param="options")
        o = cls()
        o.degree = check_int(options.get("degree", DEFAULT_DEGREE), "degree", lo=1,
                             hi=MAX_DEGREE)
        o.max_degree = check_int(options.get("max_degree", max(16, o.degree)), "max_degree",
                                 lo=o.degree, hi=MAX_DEGREE)
        tol = options.get("tol")
        o.tol = None if tol is None else positive_number(tol, "tol")
        o.density = options.get("density", "auto")
        if o.density not in DENSITY_ROUTES:
            raise InvalidInputError(f"density={o.density!r} is not a route; choose one of "
                                    f"{list(DENSITY_ROUTES)}", param="density")
        o.on_radius = options.get("on_radius", "raise")
        if o.on_radius not in ("raise", "warn"):
            raise InvalidInputError(f"on_radius must be 'raise' or 'warn', got "
                                    f"{o.on_radius!r}", param="on_radius")
        o.sampling = {k: options[k] for k in SAMPLING_KEYS if k in options}
        return o

    @property
    def sampling_key(self) -> tuple:
        """The sampling options as a hashable key (for caches)."""
        return tuple(sorted(self.sampling.items()))


def applies(model: SRNN, f) -> str | None:
    """Why ``method="taylor"`` does not apply to ``(model, f)`` (``None`` if it does)."""
    reason = unsupported_reason(model)
    if reason is not None:
        return reason
    g = sp.sympify(f)
    if g.free_symbols - set(model.h):
        return (f"the observable {g} has symbols other than the state "
                f"{[str(h) for h in model.h]}")
    if not g.is_polynomial(*model.h):
        return f"the observable {g} is not a polynomial in the state"
    return None


def check_request(model: SRNN, f, channels) -> tuple:
    """Validate a kernel request: the route applies, ``1 ≤ N ≤ MAX_ORDER``
    (:class:`~volterra_sym.errors.UnsupportedOrderError` otherwise) and every channel is in
    ``0..m-1``. Returns the channel tuple; a request of kicks (docs/theory.md §10: a tuple
    of tuples, ``((0, 1), (0,))``) keeps its kicks (order ``N = Σ_i j_i``, one gap per
    kick)."""
    reason = applies(model, f)
    if reason is not None:
        raise BackendError(f"method 'taylor' does not apply: {reason}")
    k = (channels,) if isinstance(channels, (int, np.integer)) else tuple(channels)
    kicks = any(isinstance(c, (tuple, list)) for c in k)
    flat = [c for kick in k for c in (kick if isinstance(kick, (tuple, list)) else (kick,))]
    N = len(flat)
    if not 1 <= N <= MAX_ORDER or (kicks and any(isinstance(c, (tuple, list)) and not c
                                                 for c in k)):
        raise UnsupportedOrderError(
            f"kernel order N={N} is beyond what method 'taylor' supports (1 ≤ N ≤ "
            f"{MAX_ORDER}: the number of coefficients grows like C(degree+N, N) per channel "
            "tuple); use method='exact' or 'spectral'")
    for c in flat:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < model.m:
            raise InvalidInputError(f"channel k={c!r} is out of range: the model has "
                                    f"m={model.m} input channel(s), indexed 0..{model.m - 1}",
                                    param="channels")
    if kicks:
        return tuple(tuple(int(x) for x in (c if isinstance(c, (tuple, list)) else (c,)))
                     for c in k)
    return tuple(int(c) for c in k)


def check_coefficient_count(degree: int, N: int) -> int:
    """``C(degree + N, N)`` coefficients per kernel; refuses more than
    :data:`MAX_COEFFICIENTS` (:class:`~volterra_sym.errors.ResourceLimitError`)."""
    n_coef = math.comb(degree + N, N)
    check_count(n_coef, MAX_COEFFICIENTS, f"the Taylor series of degree {degree} at order {N}",
                "coefficients", LOWER_COST)
    return n_coef
