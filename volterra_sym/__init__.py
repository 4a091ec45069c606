"""volterra_sym: symbolic-numeric response theory of stochastic recurrent neural networks.

Layers (each its own sub-package):

* ``model``, ``operators``, ``density`` — the SRNN, its generator/perturbation operators
  and stationary density (THEORY §1–3);
* ``hierarchy`` — the response-kernel hierarchy as a networkx DAG (THEORY §4);
* ``backends`` — lowering kernels and truncated series to numbers (THEORY §6);
* ``reports`` — LaTeX derivations and the ``volterra-sym`` command line.
"""

from . import backends as _backends  # noqa: F401  (registers the numerical routes)
from .density import NoClosedFormError, StationaryDensity, stationary_density
from .errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    SimulationError,
    UnsupportedOrderError,
    VolterraSymError,
)
from .hierarchy import ResponseHierarchy, ResponseKernel
from .model import SRNN, Activation, ModelError
from .operators import (
    Generator,
    Perturbation,
    Semigroup,
    StationaryAverage,
    fokker_planck,
    generator,
    perturbation,
    perturbation_adjoint,
)
from .parsing import ExpressionError, parse_expression
from .results import Estimate, KernelValues, SeriesTerms

__version__ = "0.1.0"

__all__ = ["VolterraSymError", "InvalidInputError", "NotApplicableError",
           "UnsupportedOrderError", "AccuracyNotReachedError", "ResourceLimitError",
           "SimulationError", "Estimate", "KernelValues", "SeriesTerms",
           "SRNN", "Activation", "ModelError", "ExpressionError", "parse_expression",
           "ResponseHierarchy", "ResponseKernel", "StationaryDensity", "stationary_density",
           "NoClosedFormError", "generator", "fokker_planck", "perturbation",
           "perturbation_adjoint", "Generator", "Semigroup", "Perturbation",
           "StationaryAverage"]
