"""Stationary densities of the unperturbed SRNN (docs/theory.md §3)."""

from ..operators.rules import register_rule
from .semigroup import (
    average_rule,
    closed_form_is_cheap,
    kernel_closed_form,
    kernel_rule,
    semigroup_closed_form,
    semigroup_rule,
    supports,
)
from .stationary import (
    NoClosedFormError,
    StationaryDensity,
    Verification,
    gaussian_expectation,
    gaussian_moment,
    stationary_density,
)

# the density layer answers Semigroup/StationaryAverage/ResponseKernel.doit()
register_rule("semigroup", semigroup_rule)
register_rule("average", average_rule)
register_rule("kernel", kernel_rule)

__all__ = ["semigroup_closed_form", "kernel_closed_form", "closed_form_is_cheap", "supports",
           "StationaryDensity", "stationary_density", "NoClosedFormError", "Verification",
           "gaussian_expectation", "gaussian_moment"]
