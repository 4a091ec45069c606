"""The SRNN model layer: parameters, activations, drift (docs/theory.md §1)."""

from .activations import Activation, Z, get_activation
from .srnn import SRNN, ModelError, state_symbols

__all__ = ["SRNN", "Activation", "ModelError", "Z", "get_activation", "state_symbols"]
