"""Operators of the SRNN (docs/theory.md §2): generator, Fokker–Planck, perturbations,
semigroup; the same generator on packed polynomials for the short-lag chains
(docs/theory.md §5)."""

from .generator import (
    check_channel,
    check_composite,
    check_time,
    fokker_planck,
    generator,
    kick_conjugate,
    perturbation,
    perturbation_adjoint,
    perturbation_j,
    perturbation_j_adjoint,
    perturbation_j_coefficients,
)
from .packed import ChainError, ChainPoly, PackedAlgebra
from .powers import (
    SUPPORTED_ACTIVATIONS,
    ChainSpace,
    lambdify_chain,
    multi_indices,
    unsupported_reason,
)
from .unevaluated import (
    Generator,
    KickPerturbation,
    ModelRef,
    OperatorExpr,
    Perturbation,
    Semigroup,
    StationaryAverage,
    model_ref,
)

__all__ = ["generator", "fokker_planck", "perturbation", "perturbation_adjoint",
           "check_channel", "check_time", "Generator", "Semigroup", "Perturbation",
           "StationaryAverage",
           "OperatorExpr", "ModelRef", "model_ref", "ChainPoly", "ChainSpace", "ChainError",
           "PackedAlgebra", "SUPPORTED_ACTIVATIONS", "lambdify_chain", "multi_indices",
           "unsupported_reason", "perturbation_j", "perturbation_j_adjoint",
           "perturbation_j_coefficients", "kick_conjugate", "check_composite",
           "KickPerturbation"]
