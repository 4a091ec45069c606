"""The Galerkin route (docs/theory.md §9): a polynomial basis in whitened coordinates of
the linearised network, Galerkin matrices of ``L0`` and ``L_k`` from the exact generator,
stationary averages by the best available measure; kernels of every order at any lags
through the propagation core, series through the modal forward form."""

from .basis import MonomialBasis, basis_size
from .route import BACKEND, galerkin_kernels, galerkin_series

__all__ = ["BACKEND", "MonomialBasis", "basis_size", "galerkin_kernels", "galerkin_series"]
