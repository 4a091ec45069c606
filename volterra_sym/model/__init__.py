"""The SRNN model layer: parameters, activations, drift (docs/theory.md §1), the
catalogue of built-in models, and the one cache of data derived from a (frozen) model."""

from .activations import Activation, Z, get_activation
from .catalogue import builtin_models, load_model
from .srnn import SRNN, FrozenModelError, ModelError, check_model, state_symbols

__all__ = ["SRNN", "Activation", "FrozenModelError", "ModelError", "Z", "builtin_models",
           "check_model", "get_activation", "load_model", "state_symbols"]
