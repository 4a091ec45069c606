"""The model catalogue: the built-in example models and loading a model by name or path.

``load_model(spec)`` accepts a TOML model file (``*.toml``, or any existing path) or the
name of a built-in example (``builtin_models()``: the files in ``volterra_sym/data/models``).
"""

from __future__ import annotations

from importlib import resources
from os import PathLike
from pathlib import Path

from .srnn import SRNN, ModelError

__all__ = ["builtin_models", "load_model"]


def builtin_models() -> dict[str, Path]:
    """Built-in example models: name -> TOML path."""
    root = resources.files("volterra_sym") / "data" / "models"
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml")}


def load_model(spec: str | Path) -> SRNN:
    """Load a model from a TOML path or a built-in example name (a ``str`` or
    ``os.PathLike``; anything else is refused naming ``model``)."""
    if not isinstance(spec, (str, PathLike)):
        raise ModelError(f"model must be a built-in example name or the path of a TOML model "
                         f"file, got {type(spec).__name__} {spec!r:.60}", param="model")
    if not str(spec).strip():
        raise ModelError("model must be a built-in example name or the path of a TOML model "
                         "file, got an empty name", param="model")
    path = Path(spec)
    try:
        exists = path.exists()
    except (OSError, ValueError):    # a name too long for a path, a NUL byte
        exists = False
    if path.suffix == ".toml" or exists:
        return SRNN.load(path)
    models = builtin_models()
    if str(spec) in models:
        return SRNN.load(models[str(spec)])
    # a long name is shortened, so that the built-ins' list stays in a one-line message
    raise ModelError(f"model {SRNN._shown_path(spec)}: no such file, and not a built-in example "
                     f"(built-ins: {', '.join(sorted(models))})", param="model")
