"""Operators of the SRNN (docs/theory.md §2): generator, Fokker–Planck, perturbations, semigroup."""

from .generator import (
    check_channel,
    fokker_planck,
    generator,
    perturbation,
    perturbation_adjoint,
)
from .unevaluated import (
    Generator,
    ModelRef,
    OperatorExpr,
    Perturbation,
    Semigroup,
    StationaryAverage,
    model_ref,
)

__all__ = ["generator", "fokker_planck", "perturbation", "perturbation_adjoint",
           "check_channel", "Generator", "Semigroup", "Perturbation", "StationaryAverage",
           "OperatorExpr", "ModelRef", "model_ref"]
