"""volterra_sym: symbolic-numeric response theory of stochastic recurrent neural networks.

Layers, lowest first (each imports only the ones below it; ``lint-imports`` checks it):
``errors``/``results``/``budget`` → ``parsing`` → ``model`` → ``operators`` → ``density`` →
``hierarchy`` → ``backends`` → ``montecarlo`` → ``features`` → ``reports`` → ``verify`` →
``cli``. The theory and conventions are in ``docs/theory.md``.

The names below are loaded on first use (PEP 562), so ``import volterra_sym.operators``
loads the operators and what they stand on, nothing above them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "VolterraSymError": "errors", "InvalidInputError": "errors",
    "NotApplicableError": "errors", "UnsupportedOrderError": "errors",
    "AccuracyNotReachedError": "errors", "ResourceLimitError": "errors",
    "TruncationCheckError": "errors", "DivergentAverageError": "errors",
    "SimulationError": "errors", "UnresolvedWarning": "errors",
    "Estimate": "results", "KernelValues": "results", "SeriesTerms": "results",
    "PartialSums": "results",
    "ExpressionError": "parsing", "parse_expression": "parsing",
    "SRNN": "model", "Activation": "model", "ModelError": "model",
    "FrozenModelError": "model", "builtin_models": "model", "load_model": "model",
    "generator": "operators", "fokker_planck": "operators", "perturbation": "operators",
    "perturbation_adjoint": "operators", "Generator": "operators", "Semigroup": "operators",
    "Perturbation": "operators", "StationaryAverage": "operators",
    "StationaryDensity": "density", "stationary_density": "density",
    "NoClosedFormError": "density",
    "ResponseHierarchy": "hierarchy", "ResponseKernel": "hierarchy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        try:                                  # sub-packages: volterra_sym.backends, ...
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'volterra_sym' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
