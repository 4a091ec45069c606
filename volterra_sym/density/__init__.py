"""Stationary densities of the unperturbed SRNN and their samplers (docs/theory.md §3, §4).

* :mod:`.stationary` — ``p0`` in closed form where it exists (symbolic objects, verified
  ``L0* p0 = 0``); :mod:`.classify` which closed form applies; :mod:`.gradient` the
  gradient test; :mod:`.linearisation` the numerical Lyapunov/linearisation layer;
* :mod:`.semigroup` — closed-form semigroup/kernel rules (linear models);
* :mod:`.bracket` — the one 1-D bracketing of ``p0``;
* :mod:`.conjugate` — the conjugate variables ``v_k = -C_k·∇ log p0`` (numerically);
* :mod:`.sampling` — the one set of ``p0`` samplers (exact Gaussian, inverse CDF, burn-in).
"""

from ..operators.rules import register_rule
from .bracket import Bracket1D, bracket_1d
from .classify import NoClosedFormError, density_kind
from .conjugate import conjugate_variables, second_conjugate_variables
from .gradient import is_gradient
from .linearisation import Linearisation, gaussian_moments, linearisation, lyapunov
from .multiplicative import MultiplicativeDensity1D, multiplicative_density
from .sampling import (
    BurnInDiagnostic,
    BurnInSampler,
    Sampler,
    burn_in_sampler,
    gaussian_sampler,
    inverse_cdf_sampler,
    one_dim_density,
    stationary_sampler,
)
from .semigroup import (
    average_rule,
    closed_form_is_cheap,
    closed_form_seconds,
    kernel_closed_form,
    kernel_rule,
    semigroup_closed_form,
    semigroup_rule,
    supports,
)
from .stationary import (
    StationaryDensity,
    Verification,
    VerificationError,
    gaussian_expectation,
    gaussian_moment,
    stationary_density,
)

# the density layer answers Semigroup/StationaryAverage/ResponseKernel.doit()
register_rule("semigroup", semigroup_rule)
register_rule("average", average_rule)
register_rule("kernel", kernel_rule)

__all__ = ["semigroup_closed_form", "kernel_closed_form", "closed_form_is_cheap",
           "closed_form_seconds", "supports",
           "StationaryDensity", "stationary_density", "NoClosedFormError", "Verification",
           "VerificationError", "gaussian_expectation", "gaussian_moment", "density_kind",
           "is_gradient", "gaussian_moments", "lyapunov", "Linearisation", "linearisation",
           "Bracket1D", "bracket_1d", "conjugate_variables", "second_conjugate_variables",
           "Sampler", "BurnInDiagnostic", "BurnInSampler", "burn_in_sampler", "gaussian_sampler",
           "inverse_cdf_sampler", "one_dim_density", "stationary_sampler",
           "MultiplicativeDensity1D", "multiplicative_density"]
