"""Stationary densities of the unperturbed SRNN (THEORY §3)."""

from .stationary import (
    NoClosedFormError,
    StationaryDensity,
    Verification,
    gaussian_expectation,
    gaussian_moment,
    stationary_density,
)

__all__ = ["StationaryDensity", "stationary_density", "NoClosedFormError", "Verification",
           "gaussian_expectation", "gaussian_moment"]
