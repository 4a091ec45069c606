"""The stochastic recurrent neural network (docs/theory.md §1, §10, §11).

    dh_t = [ -Γ h_t + a(W h_t + b) + ε C u(t) ] dt + σ dB_t ,   y_t = f(h_t)

(``input="activation"``: ``a(W h_t + b + ε C u(t))`` instead; ``σ`` may depend on the state,
``σ(h)``, with ``D(h) = σ(h)σ(h)ᵀ``: docs/theory.md §10–§11, :mod:`.noise`.)

``Γ, W`` are n×n, ``b`` has n entries, ``C`` is n×m (column ``C_k`` feeds input channel
``k``), ``σ`` is n×r and ``D = σ σᵀ``. The drift of the unperturbed dynamics is
``φ(h) = -Γ h + a(W h + b)``. Every entry may be a number, a symbol name or a simple
expression in symbols (``"-omega"``, ``"2*gamma"``), parsed through the safe parser.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp

from ..arrays import check_unmasked, real_array
from ..errors import (
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    VolterraSymError,
    format_bytes,
)
from ..parsing import ExpressionError, as_expression, distinct_nodes, parse_expression
from .activations import Activation, Z, get_activation
from .cache import derived, shared_store
from .noise import (
    FEATURE_ACTIVATION_INPUT,
    FEATURE_STATE_NOISE,
    box_points,
    check_diffusion_positive,
    check_input_mode,
    noisy_rnn_A,
    noisy_rnn_sigma,
    support_1d,
)

__all__ = ["SRNN", "ModelError", "FrozenModelError", "check_hurwitz", "check_model",
           "state_symbols"]

#: names used by the engine itself: states h1..hn, lags sigma_j, gaps tau_j
_STATE_NAME = re.compile(r"^(h\d+|sigma_\d+|tau_\d+)$")
_RESERVED = {"z", "t", "eps", "epsilon"}
_NON_FINITE = (sp.nan, sp.zoo, sp.oo, -sp.oo)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\- ]{0,79}$")


class ModelError(InvalidInputError):
    """An SRNN specification is invalid (shape, value, stability or smoothness)."""


class FrozenModelError(VolterraSymError, AttributeError):
    """An attempt to change an :class:`SRNN` in place (models are immutable)."""


#: what :meth:`SRNN.replace` may change
REPLACEABLE = ("Gamma", "W", "b", "C", "sigma", "activation", "name", "observable", "input")


def state_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The state symbols ``h1..hn`` (real)."""
    return tuple(sp.Symbol(f"h{i + 1}", real=True) for i in range(n))


def exact_number(x: float) -> sp.Expr:
    """A float as the exact rational of its shortest decimal form (0.3 -> 3/10), so that
    symbolic identities such as ``L0* p0 = 0`` verify exactly."""
    return sp.Rational(repr(float(x)))


def _entry(value: Any, param: str, index: tuple[int, ...], params: dict,
           states: dict | None = None) -> sp.Expr:
    """One matrix entry: a finite number or a safely parsed expression in parameters
    (``states``: the state symbols ``h1..hn`` a noise entry may use, with the parameters
    ``params`` of the other matrices; docs/theory.md §11)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return sp.Integer(int(value))                      # fast path: plain numbers
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return exact_number(float(value))
    where = f"{param}{list(index)}" if index else param
    if isinstance(value, (sp.Basic, str)):
        # SymPy entries are held to the grammar of string entries (no unknown functions,
        # Integral, nan/zoo, I, Dummy symbols ...), as observables are
        try:
            expr = parse_expression(value, params, allow_free_symbols=True, what=where)
        except ExpressionError as exc:
            raise ModelError(str(exc), param=param) from None
    elif isinstance(value, (bool, np.bool_)) or value is None:
        raise ModelError(f"{where} must be a number or an expression, got {value!r}", param=param)
    elif isinstance(value, (int, np.integer)):
        expr = sp.Integer(int(value))
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ModelError(f"{where} must be finite, got {value}", param=param)
        expr = exact_number(float(value))
    elif isinstance(value, complex):
        raise ModelError(f"{where} must be real, got {value}", param=param)
    else:
        raise ModelError(f"{where} must be a number or an expression, got "
                         f"{type(value).__name__}", param=param)
    if states is not None:
        _check_noise_symbols(expr, where, params, states)
    for s in expr.free_symbols:
        if states is not None and s.name in states:
            continue
        if _STATE_NAME.match(s.name) or s.name in _RESERVED:
            raise ModelError(f"{where}: parameter name {s.name!r} is reserved "
                             "(state variables h1..hn, lags sigma_j, tau_j, z, t, eps)",
                             param=param)
    if expr.is_number and (expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not expr.is_finite):
        raise ModelError(f"{where} must be finite, got {expr}", param=param)
    if expr.has(sp.I) or (expr.is_number and expr.is_real is False):
        raise ModelError(f"{where} must be real, got {expr}", param=param)
    return expr


def _check_noise_symbols(expr: sp.Expr, where: str, params: dict, states: dict) -> None:
    """A noise entry may use ``h1..hn``; one that does may use besides only the parameters
    of ``Γ, W, b, C`` (an unknown name in a state-dependent noise is refused, not made a new
    parameter)."""
    names = {s.name for s in expr.free_symbols}
    for name in sorted(names):
        if re.fullmatch(r"h\d+", name) and name not in states:
            raise ModelError(f"{where}: unknown state variable {name!r}: the model has "
                             f"{', '.join(states)}", param="sigma")
    if names & set(states):
        unknown = sorted(names - set(states) - set(params))
        if unknown:
            raise ModelError(f"{where}: unknown variable {unknown[0]!r} in a state-dependent "
                             f"noise expression; allowed: {', '.join(states)} and the "
                             f"parameters of Gamma, W, b, C ({sorted(params) or 'none'})",
                             param="sigma")


def _matrix(value: Any, param: str, shape: tuple[int | None, int | None], params: dict,
            *, scalar_to_identity: bool = False, states: dict | None = None
            ) -> sp.ImmutableMatrix:
    """Convert ``value`` to an immutable SymPy matrix of ``shape`` (None = free), naming
    ``param``."""
    if isinstance(value, sp.MatrixBase):
        rows = value.tolist()
    elif isinstance(value, (list, tuple, np.ndarray)):
        try:
            value = check_unmasked(value, param)
        except InvalidInputError as exc:
            raise ModelError(str(exc), param=param) from None
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 1 and param == "Gamma" and arr.shape[0] > 1:
            # Γ as a vector of n leak rates: diag(γ_1, …, γ_n) (a square matrix is required)
            rows = [[x if i == j else 0 for j, _ in enumerate(arr)]
                    for i, x in enumerate(arr.tolist())]
        elif arr.ndim == 1:
            # a vector is a column, except a row of a 1-row matrix (n = 1, several channels)
            as_row = shape[0] == 1 and arr.shape[0] != 1
            rows = [arr.tolist()] if as_row else [[x] for x in arr.tolist()]
        elif arr.ndim == 2:
            rows = arr.tolist()
        elif arr.ndim == 0:
            rows = [[arr.item()]]
        else:
            raise ModelError(f"{param} must be a matrix (2-d), got {arr.ndim} dimensions",
                             param=param)
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise ModelError(f"{param} is ragged: rows of lengths {sorted(lengths)}", param=param)
    else:  # scalar
        n0 = shape[0]
        if scalar_to_identity and n0 is not None and n0 > 1:
            e = _entry(value, param, (), params, states)
            return sp.ImmutableMatrix(sp.eye(n0) * e)
        rows = [[value]]
    vector = param == "b"              # b is a vector: its entries are b[i], its length n
    mat = sp.ImmutableMatrix([[_entry(v, param, (i,) if vector and len(row) == 1 else (i, j),
                                      params, states)
                               for j, v in enumerate(row)]
                     for i, row in enumerate(rows)])
    want_r, want_c = shape
    entries = mat.rows * mat.cols
    # a column, or (n = 1) a row, of the wrong length
    if vector and want_r is not None and entries != want_r \
            and (mat.cols == 1 or (mat.rows == 1 and want_r == 1)):
        raise ModelError(f"b has {entries} entries, expected {want_r} (n = {want_r} "
                         f"unit{'s' if want_r != 1 else ''}, from Gamma and W)", param=param)
    if param in ("Gamma", "W") and mat.rows != mat.cols:
        raise ModelError(f"{param} must be square (n×n), got shape {mat.rows}×{mat.cols}",
                         param=param)
    if (want_r is not None and mat.rows != want_r) or (want_c is not None and mat.cols != want_c):
        want = "×".join("any" if w is None else str(w) for w in shape)
        why = f" (n = {want_r} units, from Gamma, W and b)" if param in ("C", "sigma", "b") \
            and want_r is not None else ""
        raise ModelError(f"{param} has shape {mat.rows}×{mat.cols}, expected {want}{why}",
                         param=param)
    return mat


#: why a numerical route does not apply to a model with symbolic parameters, and the way
#: out from the command line and from Python
SYMBOLIC_PARAMETERS = ("the parameters are symbolic (write numbers in the model file, or "
                       "substitute them with model.subs(...) in Python)")


class SRNN:
    """A continuous-time stochastic RNN ``dh = [-Γh + a(Wh+b) + εCu] dt + σ dB``.

    A model is an immutable value: its matrices are ``sympy.ImmutableMatrix``, setting or
    deleting an attribute raises :class:`FrozenModelError`, and :meth:`replace` (or
    :meth:`subs`) returns a new, validated model. Equal parameters, activation, name and
    observable make equal models (same hash); data derived from a model is cached through
    :func:`volterra_sym.model.cache.derived` and shared between equal models.

    Parameters
    ----------
    Gamma : n×n leak matrix (a scalar means γ·I when the size is known from W or b; a
        vector of n leak rates means diag(γ_1, …, γ_n)).
    W : n×n recurrent weights.
    C : n×m input matrix (a vector of n entries means m = 1).
    sigma : n×r noise matrix (a scalar means s·I_n); entries may be expressions in the states
        ``h1..hn`` (state-dependent noise ``σ(h)``, docs/theory.md §11), which may use besides
        only the parameters of ``Γ, W, b, C``.
    b : bias, n entries (default 0).
    activation : ``"linear"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"`` or a smooth
        expression in ``z`` (one equal to ``z``, such as ``"1*z"``, is ``"linear"``).
    name : a label for reports.
    observable : default observable ``f`` (expression in ``h1..hn``), default ``h1``.
    check : run the stability checks of numeric models (default True).
    input : ``"additive"`` (default: ``+ εCu`` in the drift) or ``"activation"``
        (``a(Wh + b + εCu)``, docs/theory.md §10).
    """

    __slots__ = ("Gamma", "W", "b", "C", "sigma", "activation", "name", "n", "m", "r", "h",
                 "parameters", "default_observable", "_observable_spec", "is_numeric", "input",
                 "_key", "_hash", "_derived_store", "__weakref__")

    Gamma: sp.ImmutableMatrix
    W: sp.ImmutableMatrix
    b: sp.ImmutableMatrix
    C: sp.ImmutableMatrix
    sigma: sp.ImmutableMatrix
    activation: Activation
    name: str
    n: int
    m: int
    r: int
    h: tuple[sp.Symbol, ...]
    parameters: Mapping[str, sp.Symbol]
    default_observable: sp.Expr
    is_numeric: bool
    input: str

    def __init__(self, Gamma, W, C, sigma, b=None, activation="linear", *, name: str = "srnn",
                 observable: str | sp.Expr | None = None, check: bool = True,
                 input: str = "additive"):  # noqa: A002 - the model's documented key
        if hasattr(self, "_key"):
            raise FrozenModelError("SRNN is immutable; __init__ cannot run twice on a model "
                                   "(use model.replace(sigma=...) for a changed copy)")
        put = object.__setattr__
        params: dict[str, sp.Symbol] = {}
        n = _infer_n(Gamma, W, b)
        if n < 1:
            raise ModelError(f"the network needs n ≥ 1 units: Gamma, W and b give n = {n} "
                             "(empty matrices)", param="W")
        check_model_size(n, Gamma, W, C, sigma)
        put(self, "Gamma", _matrix(Gamma, "Gamma", (n, n), params, scalar_to_identity=True))
        put(self, "W", _matrix(W, "W", (n, n), params))
        put(self, "b", sp.ImmutableMatrix(sp.zeros(n, 1)) if b is None
            else _matrix(b, "b", (n, 1), params))
        put(self, "C", _matrix(C, "C", (n, None), params))
        known = {s.name: s for M in (self.Gamma, self.W, self.b, self.C) for s in M.free_symbols}
        states = {s.name: s for s in state_symbols(n)}
        put(self, "sigma", _matrix(sigma, "sigma", (n, None), known, scalar_to_identity=True,
                                   states=states))
        put(self, "input", check_input_mode(input))
        try:
            put(self, "activation", get_activation(activation))
        except ValueError as exc:
            raise ModelError(str(exc), param="activation") from None
        if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
            raise ModelError(f"name must be a short plain label (letters, digits, '_', '-', "
                             f"spaces; no '__'), got {name!r}", param="name")
        put(self, "name", name)
        put(self, "n", n)
        if self.C.cols == 0:
            raise ModelError("C must have at least one column (one per input channel), got "
                             f"shape {self.C.rows}×0", param="C")
        put(self, "m", self.C.cols)
        put(self, "r", self.sigma.cols)
        put(self, "h", state_symbols(n))
        mats = (self.Gamma, self.W, self.b, self.C, self.sigma)
        hset = set(self.h)
        parameters = {s.name: s for M in mats for s in M.free_symbols if s not in hset}
        parameters.update({s.name: s for s in self.activation.expr.free_symbols
                           if s.name != "z"})
        put(self, "parameters", MappingProxyType(parameters))
        put(self, "is_numeric", not parameters and all(
            e.is_number for M in mats[:-1] for e in M.values()) and all(
            e.free_symbols <= hset for e in self.sigma.values()))
        put(self, "_observable_spec", "h1" if observable is None else observable)
        put(self, "default_observable", self.observable(self._observable_spec))
        key = _ValueKey((*mats, self.activation, self.name, self.default_observable,
                         self.input))
        put(self, "_key", key)
        put(self, "_hash", key.hash)
        put(self, "_derived_store", shared_store(key))
        if self.is_numeric and check:
            self.check_stability()

    # ------------------------------------------------------------------ immutability
    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenModelError(_frozen_message(name, "set"))

    def __delattr__(self, name: str) -> None:
        raise FrozenModelError(_frozen_message(name, "delete"))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, SRNN):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        return (_rebuild, (self.Gamma, self.W, self.C, self.sigma, self.b, self.activation,
                           self.name, self.default_observable, self.input))

    def replace(self, *, check: bool = True, **changes: Any) -> SRNN:
        """A new model with some parameters changed.

        Any of ``Gamma, W, b, C, sigma, activation, name, observable, input`` may change; the
        result is validated like a new model, the others are as in ``self``::

            model.replace(sigma=1.0)              # s·I noise
            model.replace(W=[[0, 1], [-1, 0]], activation="tanh")
        """
        unknown = set(changes) - set(REPLACEABLE)
        if unknown:
            raise ModelError(f"replace(): cannot change {sorted(unknown)}; allowed keys: "
                             f"{', '.join(REPLACEABLE)}", param=sorted(unknown)[0])
        spec = {"Gamma": self.Gamma, "W": self.W, "b": self.b, "C": self.C,
                "sigma": self.sigma, "activation": self.activation, "name": self.name,
                "observable": self._observable_spec, "input": self.input}
        spec.update(changes)
        return SRNN(spec["Gamma"], spec["W"], spec["C"], spec["sigma"], spec["b"],
                    spec["activation"], name=spec["name"], observable=spec["observable"],
                    check=check, input=spec["input"])

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **kwargs) -> SRNN:
        """Build from a mapping with keys ``Gamma, W, b, C, sigma, activation``
        (optional ``name``, ``observable``, ``input``).

        The Noisy RNN parametrisation (:meth:`noisy_rnn`) has its own keys: the noise
        ``σ(h) = σ_1 I + σ_2 diag(h)`` as ``sigma1``, ``sigma2`` instead of ``sigma``, and
        the leak ``Γ = −A``, ``A = β(B − Bᵀ) + (1 − β)(B + Bᵀ) − γI``, as ``B`` (with
        optional ``beta`` = 0.5, ``gamma`` = 1) instead of ``Gamma``; with ``B`` the input
        enters the activation unless ``input`` says otherwise."""
        if not isinstance(d, Mapping):
            raise ModelError(f"model description must be a mapping, got {type(d).__name__}",
                             param="model")
        allowed = {"Gamma", "W", "b", "C", "sigma", "activation", "name", "observable",
                   "input", "sigma1", "sigma2", "B", "beta", "gamma"}
        unknown = set(d) - allowed
        if unknown:
            raise ModelError(f"unknown model keys {sorted(unknown)}; allowed: {sorted(allowed)}",
                             param="model")
        d = dict(d)
        if "B" in d:
            if "Gamma" in d:
                raise ModelError("give either Gamma or the Noisy RNN key B (Γ = −A(B, beta, "
                                 "gamma)), not both", param="Gamma")
            for key, default in (("beta", 0.5), ("gamma", 1.0)):
                d[key] = _entry(d.get(key, default), key, (), {})
                if not d[key].is_number:
                    raise ModelError(f"{key} must be a number, got {d[key]}", param=key)
            B = _matrix(d.pop("B"), "B", (None, None), {})
            try:
                d["Gamma"] = -noisy_rnn_A(B, d.pop("beta"), d.pop("gamma"))
            except InvalidInputError as exc:
                raise ModelError(str(exc), param="B") from None
            d.setdefault("input", "activation")
        elif "beta" in d or "gamma" in d:
            key = "beta" if "beta" in d else "gamma"
            raise ModelError(f"{key} is a parameter of the Noisy RNN leak A(B, beta, gamma) "
                             "and needs the key B", param=key)
        if "sigma1" in d or "sigma2" in d:
            if "sigma" in d:
                raise ModelError("give either sigma or the Noisy RNN keys sigma1, sigma2, not "
                                 "both", param="sigma")
            n = _infer_n(d.get("Gamma"), d.get("W"), d.get("b"))
            s1 = _entry(d.get("sigma1", 0), "sigma1", (), {})
            s2 = _entry(d.get("sigma2", 0), "sigma2", (), {})
            d["sigma"] = noisy_rnn_sigma(state_symbols(n), s1, s2)
        missing = {"Gamma", "W", "C", "sigma"} - set(d)
        if missing:
            raise ModelError(f"model description lacks required keys {sorted(missing)}",
                             param="model")
        return cls(d["Gamma"], d["W"], d["C"], d["sigma"], d.get("b"),
                   d.get("activation", "linear"), name=d.get("name", "srnn"),
                   observable=d.get("observable"), input=d.get("input", "additive"), **kwargs)

    @classmethod
    def noisy_rnn(cls, B, W, C, *, beta: float = 0.5, gamma: float = 1.0, b=None,
                  sigma1: float = 0.1, sigma2: float = 0.0, activation="tanh",
                  name: str = "noisy_rnn", **kwargs) -> SRNN:
        """The Noisy RNN of Lim, Erichson, Hodgkinson & Mahoney (NeurIPS 2021),

            dh = [ A h + a(W h + b + ε C u(t)) ] dt + (σ_1 I + σ_2 diag(h)) dB ,
            A = β(B − Bᵀ) + (1 − β)(B + Bᵀ) − γI ,

        i.e. this SRNN with ``Γ = −A``, ``input="activation"`` and ``σ(h) = σ_1 I +
        σ_2 diag(h)`` (docs/theory.md §11)."""
        A = noisy_rnn_A(_matrix(B, "B", (None, None), {}), _entry(beta, "beta", (), {}),
                        _entry(gamma, "gamma", (), {}))
        n = A.rows
        h = state_symbols(n)
        s1 = _entry(sigma1, "sigma1", (), {})
        s2 = _entry(sigma2, "sigma2", (), {})
        return cls(-A, W, C, noisy_rnn_sigma(h, s1, s2), b, activation, name=name,
                   input=kwargs.pop("input", "activation"), **kwargs)

    #: Largest model file :meth:`load` reads (bytes). tomllib parses ~0.3 MiB/s, so 1 MiB
    #: (a dense n ≈ 300 model) parses in a few seconds; pass ``max_bytes`` to raise it.
    MAX_FILE_BYTES: int = 2**20
    #: Most parts a dotted TOML key may have (tomllib is quadratic in it: 20,000 parts
    #: take 26 s; a model file needs none).
    MAX_KEY_PARTS: int = 32

    @classmethod
    def load(cls, path: str | Path, *, max_bytes: int | None = None, **kwargs) -> SRNN:
        """Load a TOML model file (keys as in :meth:`from_dict`).

        ``weights = "net.npz"`` adds the arrays of that NumPy archive (path relative to the
        model file, inside its folder; no pickles) as keys, e.g. ``W`` and ``C`` trained
        elsewhere (:mod:`volterra_sym.model.weights`).

        The file must be UTF-8 text without a byte-order mark, at most ``max_bytes``
        (default :attr:`MAX_FILE_BYTES`) long; at most that many bytes are read (an endless
        device such as ``/dev/zero`` is refused, not exhausted). Everything wrong with the
        file (missing, a directory, unreadable, a path too long, not UTF-8, binary, not
        TOML, nested too deeply) raises :class:`ModelError` naming the file and the
        condition. Without a ``name`` key the model is named after the file's stem,
        sanitised to a valid label (``my.model.toml`` -> ``my_model``).
        """
        import errno

        limit = cls.MAX_FILE_BYTES if max_bytes is None else max_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ModelError(f"max_bytes must be a positive integer, got {limit!r}",
                             param="max_bytes")
        given = path
        try:
            path = Path(path)
            shown = cls._shown_path(path)
            if path.exists() and not (path.is_file() or path.is_dir()):
                # a FIFO, socket or device: reading it may block forever or never end
                raise ModelError(f"model file {shown} is not a regular file (a pipe, socket "
                                 "or device)", param="path")
            with path.open("rb") as fh:
                raw = fh.read(limit + 1)
        except ModelError:
            raise
        except (TypeError, ValueError) as exc:  # not a path, or an embedded NUL byte
            raise ModelError(f"model file path {given!r} is not a valid path: {exc}",
                             param="path") from None
        except FileNotFoundError:
            raise ModelError(f"model file {shown} does not exist", param="path") from None
        except IsADirectoryError:
            raise ModelError(f"model file {shown} is a directory, not a TOML file",
                             param="path") from None
        except PermissionError:
            raise ModelError(f"model file {shown} cannot be read (permission denied)",
                             param="path") from None
        except OSError as exc:
            why = ("its path is too long for the file system" if exc.errno == errno.ENAMETOOLONG
                   else exc.strerror or type(exc).__name__)
            raise ModelError(f"model file {shown} cannot be read: {why}",
                             param="path") from None
        except MemoryError:
            raise ModelError(f"model file {shown} cannot be read: out of memory",
                             param="path") from None
        if len(raw) > limit:
            raise ModelError(f"model file {shown} is larger than {format_bytes(limit)}; to "
                             "load it, pass max_bytes to SRNN.load (Python API: the command "
                             "line keeps the limit)", param="path")
        return cls._from_bytes(raw, shown, path.parent, cls._default_name(path), **kwargs)

    @classmethod
    def from_toml(cls, data: bytes | str, *, name: str = "model",
                  folder: str | Path = ".", **kwargs) -> SRNN:
        """A model from the text of a TOML model file (``bytes`` as UTF-8; the same checks
        and keys as :meth:`load`, at most :attr:`MAX_FILE_BYTES`): e.g. read from standard
        input (``volterra-sym kernel - ...``). ``name`` is used where the text has no
        ``name`` key; a ``weights`` archive is looked up in ``folder``."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        if not isinstance(data, (bytes, bytearray)):
            raise ModelError(f"data must be the TOML text (str or bytes), got "
                             f"{type(data).__name__}", param="data")
        shown = repr(str(name))
        if len(data) > cls.MAX_FILE_BYTES:
            raise ModelError(f"model text {shown} is larger than "
                             f"{format_bytes(cls.MAX_FILE_BYTES)}", param="data")
        return cls._from_bytes(bytes(data), shown, Path(folder),
                               cls._default_name(Path(str(name))), **kwargs)

    @classmethod
    def _from_bytes(cls, raw: bytes, shown: str, folder: Path, default_name: str,
                    **kwargs) -> SRNN:
        """The body of :meth:`load` once the bytes are read: decode, parse, merge a
        ``weights`` archive from ``folder``, build."""
        text = cls._decode_model_text(raw, shown)
        if cls._has_long_dotted_key(text, cls.MAX_KEY_PARTS):
            raise ModelError(f"model file {shown} has a dotted key or table header of more "
                             f"than {cls.MAX_KEY_PARTS} parts (a model file needs only plain "
                             "keys Gamma, W, b, C, sigma, ...)", param="path")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelError(f"model file {shown} is not valid TOML: {exc}",
                             param="path") from None
        except (RecursionError, MemoryError):
            raise ModelError(f"model file {shown} is nested too deeply to parse (arrays or "
                             "tables inside each other)", param="path") from None
        if "name" not in data:
            data["name"] = default_name
        origin = ""
        if "weights" in data:  # arrays from an .npz beside the file (model/weights.py)
            from .weights import merge_weights

            ref, keys = data["weights"], set(data)
            try:
                data = merge_weights(data, folder)
            except ModelError as exc:
                raise ModelError(f"model file {shown}: {exc}", param=exc.param) from None
            origin = (f" (keys {sorted(set(data) - keys)} came from the weights file "
                      f"{cls._shown_path(Path(ref))})")
        try:
            return cls.from_dict(data, **kwargs)
        except ModelError as exc:
            raise ModelError(f"model file {shown}: {exc}{origin}", param=exc.param) from None

    @staticmethod
    def _shown_path(path: Path, limit: int = 120) -> str:
        """The path quoted for a message, shortened in the middle beyond ``limit``."""
        text = repr(str(path))
        return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"

    @staticmethod
    def _decode_model_text(raw: bytes, shown: str) -> str:
        """Strict UTF-8 (no BOM, no NUL bytes) -> text, or a ModelError saying why not."""
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ModelError(f"model file {shown} is UTF-16 encoded; save it as UTF-8",
                             param="path")
        if raw.startswith(b"\xef\xbb\xbf"):
            raise ModelError(f"model file {shown} starts with a UTF-8 byte-order mark, which "
                             "TOML does not allow; save it as UTF-8 without BOM", param="path")
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise ModelError(f"model file {shown} contains binary data (a NUL byte at offset "
                             f"{nul}); a model file is UTF-8 TOML text", param="path")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(f"model file {shown} is not UTF-8 text (byte "
                             f"0x{raw[exc.start]:02x} at offset {exc.start})",
                             param="path") from None

    @staticmethod
    def _has_long_dotted_key(text: str, parts: int) -> bool:
        """Whether ``text`` has a dotted run (``a.b."c".d``) of more than ``parts`` parts
        outside strings and comments; linear time, in the regex engine: strings and comments
        become ``s`` (an unterminated one ends at its line's end), blanks around dots
        vanish, then a run is matched from its first part only. A float or a date is a run
        of 2; a model file's strings (expressions, names) never hold such a run."""
        blank = re.sub(r'''"(?:[^"\\\n]|\\[^\n]?)*+(?:"|(?=\n)|\Z)'''
                       r"|'[^'\n]*+(?:'|(?=\n)|\Z)|#[^\n]*+", "s", text)
        blank = re.sub(r"[ \t]*+\.[ \t]*+", ".", blank)
        run = rf"(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]++(?:\.[A-Za-z0-9_-]++){{{parts}}}"
        return re.search(run, blank) is not None

    @staticmethod
    def _default_name(path: Path) -> str:
        """A valid model name from the file's stem: characters outside ``[A-Za-z0-9_ -]``
        become ``_``, runs of ``_`` collapse, at most 80 characters; ``"model"`` if
        nothing is left (``my.model.toml`` -> ``my_model``)."""
        stem = re.sub(r"[^A-Za-z0-9_\- ]", "_", path.stem)
        stem = re.sub(r"_{2,}", "_", stem).strip("_- ")[:80].strip("_- ")
        return stem if stem and _NAME.match(stem) else "model"

    @classmethod
    def symbolic(cls, n: int, m: int, activation="linear", r: int | None = None,
                 **kwargs) -> SRNN:
        """A fully symbolic model: entries ``Gamma_ij, W_ij, b_i, C_ik`` and ``s_il`` for σ
        (``sigma_j`` names the lags)."""
        if not (isinstance(n, int) and n >= 1 and isinstance(m, int) and m >= 1):
            raise ModelError(f"n and m must be positive integers, got n={n!r}, m={m!r}",
                             param="n" if not (isinstance(n, int) and n >= 1) else "m")
        r = n if r is None else r

        def mat(name, rows, cols):
            return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}",
                                                               real=True))
        b = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
        return cls(mat("Gamma", n, n), mat("W", n, n), mat("C", n, m), mat("s", n, r), b,
                   activation, name=kwargs.pop("name", f"symbolic_{n}x{m}"), **kwargs)

    # ------------------------------------------------------------------ derived objects
    @property
    def state_dependent_noise(self) -> bool:
        """``σ`` depends on ``h`` (docs/theory.md §11)."""
        hset = set(self.h)
        return any(e.free_symbols & hset for e in self.sigma.values())

    @property
    def features(self) -> frozenset[str]:
        """The features of docs/theory.md §10–§11 this model has beyond the additive,
        constant-noise SRNN: ``"input inside the activation"`` (unless the activation is
        linear: then it *is* the additive model) and ``"state-dependent noise"``. A route
        that cannot treat one refuses the model naming it."""
        out = set()
        if self.input == "activation" and not self.is_linear:
            out.add(FEATURE_ACTIVATION_INPUT)
        if self.state_dependent_noise:
            out.add(FEATURE_STATE_NOISE)
        return frozenset(out)

    def require_features(self, supported, route: str) -> None:
        """Raise :class:`NotApplicableError` naming every feature of this model that
        ``route`` (supporting ``supported``) cannot treat."""
        missing = sorted(self.features - set(supported))
        if missing:
            raise NotApplicableError(f"{route} does not support {' and '.join(missing)} "
                                     "(docs/theory.md §10–§11)")

    def input_operators(self, j: int) -> sp.ImmutableMatrix:
        """``a^{(j)}(z_i)/j!`` as an n×1 matrix (``z = W h + b``): the coefficients of
        ``ε^j (Cu)_i^j`` in the drift (docs/theory.md §10). Additive input: ``1`` for
        ``j = 1`` and ``0`` beyond."""
        def build() -> sp.ImmutableMatrix:
            if self.input == "additive" or self.is_linear:
                val = sp.Integer(1) if j == 1 else sp.Integer(0)
                return sp.ImmutableMatrix([val] * self.n)
            d = self.activation.derivative(j)
            return sp.ImmutableMatrix([d.subs(Z, zi) / sp.factorial(j)
                                       for zi in self.preactivation])
        return derived(self, ("model", "input_operators", int(j)), build)

    def input_operators_numpy(self, j: int):
        """Vectorised :meth:`input_operators`: ``h (..., n) -> a^{(j)}(W h + b)/j! (..., n)``
        (additive input or a linear activation: ``1`` for ``j = 1``, ``0`` beyond). The
        derivative is the activation's stable one
        (:meth:`~.activations.Activation.numpy_derivative`): the Galerkin matrices of the
        kicks and the kick Monte Carlo estimator's fields (docs/theory.md §10) evaluate
        ``L^{(j)}``'s coefficients with this one function."""
        j = int(j)
        if self.input == "additive" or self.is_linear:
            const = 1.0 if j == 1 else 0.0
            return lambda x: np.full(np.shape(x), const)
        p = self.numpy_params(state_noise=True)
        W, b = p["W"], p["b"]
        da, scale = self.activation.numpy_derivative(j), 1.0 / math.factorial(j)

        def gain(x: np.ndarray) -> np.ndarray:
            x = real_array(x, "x", finite=False)     # dtype/shape only: hot loops
            return scale * da(x @ W.T + b)
        return gain

    def noise_numpy(self):
        """Vectorised ``σ(h)``: array ``(..., n)`` -> ``(..., n, r)``."""
        def build():
            n, r = self.n, self.r
            entries = [[(i, j, sp.lambdify([self.h], self.sigma[i, j], "numpy"))
                        for j in range(r)] for i in range(n)]

            def sig(x: np.ndarray) -> np.ndarray:
                x = real_array(x, "x", finite=False)     # dtype/shape only: hot loops
                cols = tuple(np.moveaxis(x, -1, 0))
                out = np.empty(x.shape[:-1] + (n, r))
                for row in entries:
                    for i, j, fn in row:
                        out[..., i, j] = fn(cols)
                return out
            return sig
        return derived(self, ("model", "noise_numpy"), build)

    @property
    def D(self) -> sp.ImmutableMatrix:
        """Diffusion matrix ``D = σ σᵀ`` (a function of ``h`` for state-dependent noise)."""
        return derived(self, ("model", "D"),
                       lambda: sp.ImmutableMatrix(self.sigma * self.sigma.T))

    @property
    def drift(self) -> sp.ImmutableMatrix:
        """``φ(h) = -Γ h + a(W h + b)`` as an n×1 SymPy matrix."""
        def build() -> sp.ImmutableMatrix:
            hv = sp.Matrix(self.h)
            a = sp.Matrix([self.activation(zi) for zi in self.preactivation])
            return sp.ImmutableMatrix(-self.Gamma * hv + a)
        return derived(self, ("model", "drift"), build)

    @property
    def preactivation(self) -> sp.ImmutableMatrix:
        """``z = W h + b``."""
        return derived(self, ("model", "preactivation"),
                       lambda: sp.ImmutableMatrix(self.W * sp.Matrix(self.h) + self.b))

    @property
    def is_linear(self) -> bool:
        """Linear activation ``a(z) ≡ z``: ``φ(h) = -A h + b`` with ``A = Γ - W``."""
        return self.activation.is_linear

    @property
    def A(self) -> sp.ImmutableMatrix:
        """``A = Γ - W`` (the drift matrix of a linear model)."""
        return derived(self, ("model", "A"), lambda: sp.ImmutableMatrix(self.Gamma - self.W))

    def numpy_params(self, *, state_noise: bool = False) -> dict[str, np.ndarray]:
        """Numeric parameters as float arrays: Gamma, W, b (n,), C, sigma and
        ``D = σσᵀ`` (multiplied in floats, symmetrised): fresh copies of arrays converted
        once per model. A state-dependent ``σ(h)`` has no constant ``sigma`` and ``D``: then
        :class:`NotApplicableError` (callers that use :meth:`noise_numpy` pass
        ``state_noise=True`` and get the other arrays)."""
        self._require_numeric("numpy_params")
        if self.state_dependent_noise and not state_noise:
            raise NotApplicableError(f"{FEATURE_STATE_NOISE}: this computation needs a "
                                     "constant noise matrix σ (docs/theory.md §11)")

        def convert() -> dict[str, np.ndarray]:
            f = lambda M: np.array(M.tolist(), dtype=float)  # noqa: E731
            out = {"Gamma": f(self.Gamma), "W": f(self.W), "b": f(self.b).ravel(),
                   "C": f(self.C)}
            if not self.state_dependent_noise:
                sigma = f(self.sigma)
                with np.errstate(over="ignore", invalid="ignore"):   # refused by check_stability
                    D = sigma @ sigma.T
                    out.update(sigma=sigma, D=0.5 * (D + D.T))
            return out
        return {k: v.copy() for k, v in derived(self, ("model", "numpy_params"),
                                                convert).items()}

    def drift_numpy(self):
        """Vectorised drift ``φ``: array ``(..., n)`` -> ``(..., n)`` (any noise: the drift
        does not involve ``σ``)."""
        p = self.numpy_params(state_noise=True)
        a = self.activation.numpy()
        G, W, b = p["Gamma"], p["W"], p["b"]

        def phi(x: np.ndarray) -> np.ndarray:
            x = real_array(x, "x", finite=False)     # dtype/shape only: hot loops
            return -x @ G.T + a(x @ W.T + b)
        return phi

    def subs(self, values: Mapping[str, float] | None = None, **kw) -> SRNN:
        """A new model with parameter symbols replaced by values."""
        vals = dict(values or {}, **kw)
        unknown = set(vals) - set(self.parameters)
        if unknown:
            raise ModelError(f"unknown parameters {sorted(unknown)}; model has "
                             f"{sorted(self.parameters)}", param="values")
        # every value through the constructor's entry check (a string is parsed, never
        # sympified: sympify of a string is eval)
        rep = {self.parameters[k]: _entry(v, k, (), self.parameters) for k, v in vals.items()}
        sub = lambda M: M.subs(rep)  # noqa: E731
        return SRNN(sub(self.Gamma), sub(self.W), sub(self.C), sub(self.sigma), sub(self.b),
                    self.activation, name=self.name,
                    observable=self.default_observable.subs(rep), input=self.input)

    def polynomial_degree(self, f: sp.Expr) -> int | None:
        """Total degree of ``f`` in the state ``h1..hn`` (other symbols are coefficients),
        or ``None`` if ``f`` is not a polynomial in the state."""
        f = self.expression(f, "f")
        if not f.is_polynomial(*self.h):
            return None
        return int(sp.Poly(f, *self.h).total_degree()) if f.free_symbols & set(self.h) else 0

    def expression(self, spec: Any, what: str = "expression") -> sp.Basic:
        """``spec`` as a SymPy expression: a string or number parsed safely
        (:func:`~volterra_sym.parsing.as_expression`; ``h1..hn`` and the parameters are the
        model's symbols), a SymPy object checked (:meth:`_checked_sympy`: no ``nan``, ``oo``,
        ``zoo``, ``I``, no ``h<k>`` beyond the model's states). For the operators'
        arguments, which may hold symbols beyond the model's (lags, test functions)."""
        if isinstance(spec, sp.Basic):
            return self._checked_sympy(spec, what)
        allowed = {s.name: s for s in self.h}
        allowed.update(self.parameters)
        return self._checked_sympy(as_expression(spec, allowed, what=what), what)

    def _checked_sympy(self, expr: sp.Basic, what: str) -> sp.Expr:
        """The SymPy form of an argument of :meth:`expression`: an ``Expr`` (not a relation, a
        boolean or a matrix) without ``nan``, ``oo``, ``zoo`` or ``I``, whose symbols named
        ``h<k>`` are states of this model (a ``Symbol("h1")`` without ``real=True`` becomes
        the model's ``h1``; ``h3`` in a 2-unit model is refused, the operators would treat it
        as a constant). Unknown functions, derivatives and other symbols (lags, test
        functions, parameters) pass: the operators act on them symbolically.

        Nodes whose class sets ``operand_checked`` (the operators' unevaluated expressions,
        whose operands were checked when they were built) are not walked into, so nesting
        them costs no re-walk."""
        if getattr(expr, "operand_checked", False):
            return expr
        if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixExpr):
            raise ModelError(f"{what}: expected a SymPy expression, got "
                             f"{type(expr).__name__} {str(expr)[:60]!r}", param=what)
        if expr.is_Symbol and (expr.name[:1] != "h" or expr in self.h):
            return expr                   # a state, a lag, a test function's name...
        states = None
        swap, alien = {}, set()

        def children(node):
            return () if node.is_Atom or getattr(node, "operand_checked", False) else node.args

        for node in distinct_nodes(expr, children):
            if node.is_Atom:
                if node.is_Symbol:
                    name = node.name
                    if name[:1] != "h":
                        continue
                    if states is None:
                        states = {s.name: s for s in self.h}
                    if name in states:
                        if node is not states[name] and node != states[name]:
                            swap[node] = states[name]
                    elif name[1:].isdigit():
                        alien.add(name)
                elif node in _NON_FINITE:
                    raise ModelError(f"{what}: the constant {node} is not a finite number "
                                     f"(in {str(expr)[:60]})", param=what)
                elif node is sp.I:
                    raise ModelError(f"{what}: the constant I = sqrt(-1) is not real (complex "
                                     f"constants are refused; in {str(expr)[:60]})", param=what)
        if alien:
            raise ModelError(f"{what}: {', '.join(sorted(alien))} is not a state of this "
                             f"{self.n}-unit model (its states are h1..h{self.n})", param=what)
        return expr.xreplace(swap) if swap else expr

    def observable(self, spec: str | sp.Expr | None = None) -> sp.Expr:
        """Parse an observable ``f(h1..hn)`` safely (model parameters may appear)."""
        if spec is None:
            return self.default_observable
        allowed = {s.name: s for s in self.h}
        allowed.update(self.parameters)
        try:
            expr = parse_expression(spec, allowed, what="observable")
        except ExpressionError as exc:
            raise ModelError(str(exc), param="observable") from None
        return expr

    # ------------------------------------------------------------------ checks
    def _require_numeric(self, what: str) -> None:
        if not self.is_numeric:
            raise ModelError(f"{what} needs numeric parameters; substitute values for "
                             f"{sorted(self.parameters)} with model.subs(...)",
                             param="model")

    def check_stability(self) -> None:
        """Refuse models without a stationary density (numeric models only).

        Linear: ``A = Γ - W`` must be Hurwitz-stable (all eigenvalues with positive real
        part). Bounded activations: ``Γ`` must be. Unbounded activations with limiting
        slopes ``s_±``: ``Γ - W diag(s)`` for every choice of ``s_i ∈ {s_-, s_+}``.
        The noise must not vanish: ``D = σσᵀ ≠ 0``. A state-dependent ``D(h)`` must be
        positive where the process lives (:meth:`check_noise`).
        """
        p = self.numpy_params(state_noise=True)
        for key in ("Gamma", "W", "b", "C", "sigma", "D"):
            if key in p and not np.all(np.isfinite(p[key])):
                what = "D = σσᵀ overflows" if key == "D" else f"{key} has entries"
                raise ModelError(f"{what} beyond the float range (|x| ≤ 1.8e308): the "
                                 "model's numbers cannot be computed with; rescale it",
                                 param="sigma" if key == "D" else key)
        if self.state_dependent_noise:
            self.check_noise()
        elif not np.any(p["D"]):
            what = ("sigma is zero" if not np.any(p["sigma"]) else
                    f"D = σσᵀ underflows to zero (largest |σ| = {np.abs(p['sigma']).max():.3g}; "
                    "|σ| below about 1.5e-154 squares to 0 in floating point)")
            raise ModelError(f"{what}: the dynamics is deterministic and has no stationary "
                             "density", param="sigma")
        if self.is_linear:
            check_hurwitz(p["Gamma"] - p["W"], "A = Γ - W", "W")
            return
        if self.activation.bounded:
            check_hurwitz(p["Gamma"], "Γ (leak of a bounded activation)", "Gamma")
            return
        lo, hi = self.activation.slopes_at_infinity
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ModelError(f"activation {self.activation.source!r} grows faster than "
                             "linearly: no stationary density can be guaranteed",
                             param="activation")
        choices = itertools.product(sorted({lo, hi}), repeat=self.n) if self.n <= 10 \
            else [(lo,) * self.n, (hi,) * self.n]
        for s in choices:
            check_hurwitz(p["Gamma"] - p["W"] * np.asarray(s)[None, :],
                          f"Γ - W·diag(a'(±∞)) with slopes {tuple(float(x) for x in s)}", "W")

    def check_noise(self) -> tuple[float, float] | None:
        """A state-dependent ``D(h) = σ(h)σ(h)ᵀ`` must be positive where the process lives.
        n = 1: the support ``(lo, hi)`` bounded by zeros of ``D`` at which the drift points
        inwards (returned); a zero the process can reach is refused, naming it. n > 1:
        ``D(h)`` positive definite on test points (:func:`.noise.box_points`) of the box
        ``|h_i| ≤ R`` that the deterministic flow cannot leave for a bounded activation
        (``R = sup|a| ‖Γ⁻¹‖_∞``) or, otherwise, ``R = 1``."""
        if self.n == 1:
            return support_1d(self.D[0, 0], self.drift[0], self.h[0])
        p = self.numpy_params(state_noise=True)
        R = 1.0
        if self.activation.bounded:
            zs = np.linspace(-30, 30, 601)
            amax = float(np.abs(np.asarray(self.activation.numpy()(zs), dtype=float)).max())
            R = amax * float(np.abs(np.linalg.inv(p["Gamma"])).sum(1).max())
        check_diffusion_positive(self.noise_numpy(), box_points(self.n, R),
                                 f"inside the box |h_i| ≤ {R:.4g} the network reaches")
        return None

    def __repr__(self) -> str:
        extra = "" if self.input == "additive" else f", input={self.input!r}"
        if self.state_dependent_noise:
            extra += ", sigma=σ(h)"
        return (f"SRNN(name={self.name!r}, n={self.n}, m={self.m}, r={self.r}, "
                f"activation={self.activation.name!r}{extra})")

    def latex_sde(self) -> str:
        """The SDE in LaTeX."""
        sig = r"\sigma(h_t)" if self.state_dependent_noise else r"\sigma"
        if self.input == "activation":
            drift = r"-\Gamma h_t + a(W h_t + b + \varepsilon C u(t))"
        else:
            drift = r"-\Gamma h_t + a(W h_t + b) + \varepsilon C u(t)"
        return (r"dh_t = \left[" + drift + r"\right]dt + " + sig
                + r"\, dB_t,\qquad a(z) = " + self.activation.latex())

    def plain_sde(self) -> str:
        """The SDE in plain text (:meth:`latex_sde`'s twin): the input inside the activation
        and ``σ(h)`` where the model has them."""
        sig = "σ(h) dB" if self.state_dependent_noise else "σ dB"
        if self.input == "activation":
            return f"dh = [-Γ h + a(W h + b + ε C u(t))] dt + {sig}"
        return f"dh = [-Γ h + a(W h + b) + ε C u(t)] dt + {sig}"

    def __str__(self) -> str:
        """A readable summary: sizes, activation, the SDE and the parameters."""
        def show(M: sp.Matrix, vector: bool = False) -> str:
            if all(e.is_number for e in M.values()):
                arr = np.array(M.evalf(), dtype=float)
                arr = arr.ravel() if vector else arr
                text = np.array2string(arr, threshold=64,
                                       formatter={"float_kind": lambda x: f"{x:.6g}"})
            else:           # symbols or σ(h): one row per line, entries as SymPy prints them
                rows = [M.row(i) for i in range(M.rows)]
                text = (str(list(M)) if vector else "[" + ",\n ".join(
                    "[" + ", ".join(str(e) for e in r) + "]" for r in rows) + "]")
            return text.replace("\n", "\n      ")
        lines = [f"SRNN {self.name!r}: n = {self.n} unit{'s' * (self.n != 1)}, m = {self.m} "
                 "input channel"
                 f"{'s' * (self.m != 1)}, r = {self.r} noise source{'s' * (self.r != 1)}, "
                 f"activation {self.activation.name}",
                 f"  {self.plain_sde()},  a(z) = {self.activation.expr}",
                 f"  f(h) = {self.default_observable}"]
        if self.parameters:
            lines.append(f"  parameters: {', '.join(sorted(self.parameters))}")
        for label, M in (("Γ", self.Gamma), ("W", self.W), ("b", self.b), ("C", self.C),
                         ("σ", self.sigma)):
            lines.append(f"  {label} = {show(M, vector=label == 'b')}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        """Jupyter: the SDE with this model's parameters (decimals as decimals)."""
        def show(M: sp.Matrix) -> str:
            dec = {r: sp.Float(r, 15) for r in M.atoms(sp.Rational)
                   if not r.is_Integer and _terminating(r)}
            return sp.latex(M.xreplace(dec), mat_delim="(")
        rows = [self.latex_sde() + r",\qquad y_t = " + sp.latex(self.default_observable)]
        rows.append(r"\Gamma = " + show(self.Gamma) + r",\quad W = " + show(self.W)
                    + r",\quad b = " + show(self.b))
        rows.append(r"C = " + show(self.C) + r",\quad \sigma = " + show(self.sigma))
        head = rf"\text{{SRNN {self.name}: }} n = {self.n},\ m = {self.m},\ r = {self.r}"
        return ("$\\displaystyle \\begin{gathered}" + head + r" \\ "
                + r" \\ ".join(rows) + r"\end{gathered}$")


class _ValueKey:
    """The value of a model (its matrices, activation, name and observable) with its hash
    computed once: hashing the key, or the model, never revisits the matrices."""

    __slots__ = ("value", "hash")

    def __init__(self, value: tuple):
        self.value = value
        self.hash = hash(("SRNN", value))

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _ValueKey) and self.hash == other.hash
                and self.value == other.value)


def _terminating(r: sp.Rational, places: int = 6) -> bool:
    """``r`` is a decimal of at most ``places`` digits (its denominator is ``2^a 5^b``)."""
    q = int(r.q)
    return q > 0 and (10 ** places) % q == 0


def _frozen_message(name: str, verb: str) -> str:
    hint = f"{name}=..." if name in REPLACEABLE else "sigma=..."
    return (f"SRNN is immutable; cannot {verb} attribute {name!r}: use model.replace({hint}) "
            f"for a changed copy (changeable: {', '.join(REPLACEABLE)})")


def _rebuild(Gamma, W, C, sigma, b, activation, name, observable, input="additive") -> SRNN:  # noqa: A002
    """Unpickle/copy an :class:`SRNN` (its stability was checked when it was made)."""
    return SRNN(Gamma, W, C, sigma, b, activation, name=name, observable=observable,
                check=False, input=input)


#: the least real part of a stable matrix's eigenvalues: slower relaxation (times above
#: 1e12) is refused as not stable (rounding cannot tell it from 0)
HURWITZ_MARGIN = 1e-12


def check_hurwitz(M: np.ndarray, label: str, param: str | None = None) -> None:
    """Refuse (``ModelError``, naming ``param`` if given) a matrix with an eigenvalue of
    real part ≤ :data:`HURWITZ_MARGIN`."""
    eig = np.linalg.eigvals(M)
    bad = eig[eig.real <= HURWITZ_MARGIN]
    if bad.size:
        ev = bad[np.argmin(bad.real)]
        part = "non-positive real part" if ev.real <= 0 else \
            f"real part at most {HURWITZ_MARGIN:g} (relaxation slower than 1e12)"
        raise ModelError(f"{label} is not stable: eigenvalue {ev.real:.4g}{ev.imag:+.4g}j "
                         f"has {part} (all eigenvalues need Re > {HURWITZ_MARGIN:g} for a "
                         "stationary density)", param=param)


#: matrix entries a model may hold; each is an exact SymPy number (about 20 µs to build)
MAX_MODEL_ENTRIES = 1_200_000
SECONDS_PER_ENTRY = 2e-5


def _entries(value: Any) -> int:
    """Entries of a matrix argument (1 for a scalar), read off its shape without copying."""
    if isinstance(value, sp.MatrixBase):
        return value.rows * value.cols
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        first = value[0] if value else None
        return len(value) * (len(first) if isinstance(first, (list, tuple, np.ndarray)) else 1)
    return 1


def check_model(model: Any, param: str = "model") -> SRNN:
    """``model`` if it is an :class:`SRNN`, else :class:`InvalidInputError` naming ``param``
    (a model name or ``None`` reached attribute lookups and raised ``AttributeError``)."""
    if not isinstance(model, SRNN):
        raise InvalidInputError(f"{param} must be an SRNN (volterra_sym.load_model(name) or "
                                f"volterra_sym.SRNN(...)), got {type(model).__name__} "
                                f"{model!r:.60}", param=param)
    return model


def check_model_size(n: int, *matrices: Any) -> None:
    """Refuse, before any entry is built, a model whose exact matrices would take minutes
    (``ResourceLimitError`` with the estimated time; the option is fewer units)."""
    entries = sum(_entries(M) for M in matrices)
    if entries > MAX_MODEL_ENTRIES:
        secs = entries * SECONDS_PER_ENTRY
        option = "use fewer units (n ≈ 600 with full Γ, W and σ fits)"
        raise ResourceLimitError(
            f"a model with n = {n} units has {entries:,} matrix entries, each held as an "
            f"exact number (about {secs:.0f} s to build); the limit is "
            f"{MAX_MODEL_ENTRIES:,} entries; {option}", estimate=float(entries),
            budget=float(MAX_MODEL_ENTRIES), unit="entries", option=option)


def _infer_n(Gamma, W, b) -> int:
    for v in (Gamma, W):
        if isinstance(v, sp.MatrixBase):
            return v.rows
        if isinstance(v, np.ndarray) and v.ndim >= 1:
            return v.shape[0]
        if isinstance(v, (list, tuple, np.ndarray)):
            arr = np.asarray(v, dtype=object)
            if arr.ndim >= 1:
                return arr.shape[0]
    if isinstance(b, (list, tuple, np.ndarray, sp.MatrixBase)):
        return len(b)
    return 1

