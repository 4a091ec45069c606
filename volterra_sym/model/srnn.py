"""The stochastic recurrent neural network (docs/theory.md §1).

    dh_t = [ -Γ h_t + a(W h_t + b) + ε C u(t) ] dt + σ dB_t ,   y_t = f(h_t)

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

from ..errors import InvalidInputError, VolterraSymError, format_bytes
from ..parsing import ExpressionError, parse_expression
from .activations import Activation, get_activation
from .cache import derived, shared_store

__all__ = ["SRNN", "ModelError", "FrozenModelError", "state_symbols"]

#: names used by the engine itself: states h1..hn, lags sigma_j, gaps tau_j
_STATE_NAME = re.compile(r"^(h\d+|sigma_\d+|tau_\d+)$")
_RESERVED = {"z", "t", "eps", "epsilon"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\- ]{0,79}$")


class ModelError(InvalidInputError):
    """An SRNN specification is invalid (shape, value, stability or smoothness)."""


class FrozenModelError(VolterraSymError, AttributeError):
    """An attempt to change an :class:`SRNN` in place (models are immutable)."""


#: what :meth:`SRNN.replace` may change
REPLACEABLE = ("Gamma", "W", "b", "C", "sigma", "activation", "name", "observable")


def state_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The state symbols ``h1..hn`` (real)."""
    return tuple(sp.Symbol(f"h{i + 1}", real=True) for i in range(n))


def exact_number(x: float) -> sp.Expr:
    """A float as the exact rational of its shortest decimal form (0.3 -> 3/10), so that
    symbolic identities such as ``L0* p0 = 0`` verify exactly."""
    return sp.Rational(repr(float(x)))


def _entry(value: Any, param: str, index: tuple[int, ...], params: dict) -> sp.Expr:
    """One matrix entry: a finite number or a safely parsed expression in parameters."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return sp.Integer(int(value))                      # fast path: plain numbers
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return exact_number(float(value))
    where = f"{param}{list(index)}" if index else param
    if isinstance(value, sp.Basic):
        expr = value
    elif isinstance(value, str):
        try:
            expr = parse_expression(value, params, allow_free_symbols=True, what=where)
        except ExpressionError as exc:
            raise ModelError(str(exc)) from None
    elif isinstance(value, (bool, np.bool_)) or value is None:
        raise ModelError(f"{where} must be a number or an expression, got {value!r}")
    elif isinstance(value, (int, np.integer)):
        expr = sp.Integer(int(value))
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ModelError(f"{where} must be finite, got {value}")
        expr = exact_number(float(value))
    elif isinstance(value, complex):
        raise ModelError(f"{where} must be real, got {value}")
    else:
        raise ModelError(f"{where} must be a number or an expression, got {type(value).__name__}")
    for s in expr.free_symbols:
        if _STATE_NAME.match(s.name) or s.name in _RESERVED:
            raise ModelError(f"{where}: parameter name {s.name!r} is reserved "
                             "(state variables h1..hn, lags sigma_j, tau_j, z, t, eps)")
    if expr.is_number and (expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not expr.is_finite):
        raise ModelError(f"{where} must be finite, got {expr}")
    return expr


def _matrix(value: Any, param: str, shape: tuple[int | None, int | None], params: dict,
            *, scalar_to_identity: bool = False) -> sp.ImmutableMatrix:
    """Convert ``value`` to an immutable SymPy matrix of ``shape`` (None = free), naming
    ``param``."""
    if isinstance(value, sp.MatrixBase):
        rows = value.tolist()
    elif isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 1:
            # a vector is a column, except a row of a 1-row matrix (n = 1, several channels)
            as_row = shape[0] == 1 and arr.shape[0] != 1
            rows = [arr.tolist()] if as_row else [[x] for x in arr.tolist()]
        elif arr.ndim == 2:
            rows = arr.tolist()
        elif arr.ndim == 0:
            rows = [[arr.item()]]
        else:
            raise ModelError(f"{param} must be a matrix (2-d), got {arr.ndim} dimensions")
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise ModelError(f"{param} is ragged: rows of lengths {sorted(lengths)}")
    else:  # scalar
        n0 = shape[0]
        if scalar_to_identity and n0 is not None and n0 > 1:
            e = _entry(value, param, (), params)
            return sp.ImmutableMatrix(sp.eye(n0) * e)
        rows = [[value]]
    mat = sp.ImmutableMatrix([[_entry(v, param, (i, j), params) for j, v in enumerate(row)]
                     for i, row in enumerate(rows)])
    want_r, want_c = shape
    if param in ("Gamma", "W") and mat.rows != mat.cols:
        raise ModelError(f"{param} must be square (n×n), got shape {mat.rows}×{mat.cols}")
    if (want_r is not None and mat.rows != want_r) or (want_c is not None and mat.cols != want_c):
        want = "×".join("any" if w is None else str(w) for w in shape)
        raise ModelError(f"{param} has shape {mat.rows}×{mat.cols}, expected {want}")
    return mat


class SRNN:
    """A continuous-time stochastic RNN ``dh = [-Γh + a(Wh+b) + εCu] dt + σ dB``.

    A model is an immutable value: its matrices are ``sympy.ImmutableMatrix``, setting or
    deleting an attribute raises :class:`FrozenModelError`, and :meth:`replace` (or
    :meth:`subs`) returns a new, validated model. Equal parameters, activation, name and
    observable make equal models (same hash); data derived from a model is cached through
    :func:`volterra_sym.model.cache.derived` and shared between equal models.

    Parameters
    ----------
    Gamma : n×n leak matrix (a scalar means γ·I when the size is known from W or b).
    W : n×n recurrent weights.
    C : n×m input matrix (a vector of n entries means m = 1).
    sigma : n×r noise matrix (a scalar means s·I_n).
    b : bias, n entries (default 0).
    activation : ``"linear"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"`` or a smooth
        expression in ``z`` (one equal to ``z``, such as ``"1*z"``, is ``"linear"``).
    name : a label for reports.
    observable : default observable ``f`` (expression in ``h1..hn``), default ``h1``.
    check : run the stability checks of numeric models (default True).
    """

    __slots__ = ("Gamma", "W", "b", "C", "sigma", "activation", "name", "n", "m", "r", "h",
                 "parameters", "default_observable", "_observable_spec", "is_numeric",
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

    def __init__(self, Gamma, W, C, sigma, b=None, activation="linear", *, name: str = "srnn",
                 observable: str | sp.Expr | None = None, check: bool = True):
        if hasattr(self, "_key"):
            raise FrozenModelError("SRNN is immutable; __init__ cannot run twice on a model "
                                   "(use model.replace(sigma=...) for a changed copy)")
        put = object.__setattr__
        params: dict[str, sp.Symbol] = {}
        n = _infer_n(Gamma, W, b)
        put(self, "Gamma", _matrix(Gamma, "Gamma", (n, n), params, scalar_to_identity=True))
        put(self, "W", _matrix(W, "W", (n, n), params))
        put(self, "b", sp.ImmutableMatrix(sp.zeros(n, 1)) if b is None
            else _matrix(b, "b", (n, 1), params))
        put(self, "C", _matrix(C, "C", (n, None), params))
        put(self, "sigma", _matrix(sigma, "sigma", (n, None), params, scalar_to_identity=True))
        try:
            put(self, "activation", get_activation(activation))
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
            raise ModelError(f"name must be a short plain label (letters, digits, '_', '-', "
                             f"spaces; no '__'), got {name!r}")
        put(self, "name", name)
        put(self, "n", n)
        put(self, "m", self.C.cols)
        put(self, "r", self.sigma.cols)
        put(self, "h", state_symbols(n))
        mats = (self.Gamma, self.W, self.b, self.C, self.sigma)
        parameters = {s.name: s for M in mats for s in M.free_symbols}
        parameters.update({s.name: s for s in self.activation.expr.free_symbols
                           if s.name != "z"})
        put(self, "parameters", MappingProxyType(parameters))
        put(self, "is_numeric", not parameters and all(e.is_number for M in mats
                                                        for e in M.values()))
        put(self, "_observable_spec", "h1" if observable is None else observable)
        put(self, "default_observable", self.observable(self._observable_spec))
        key = _ValueKey((*mats, self.activation, self.name, self.default_observable))
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
                           self.name, self.default_observable))

    def replace(self, *, check: bool = True, **changes: Any) -> SRNN:
        """A new model with some parameters changed.

        Any of ``Gamma, W, b, C, sigma, activation, name, observable`` may change; the
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
                "observable": self._observable_spec}
        spec.update(changes)
        return SRNN(spec["Gamma"], spec["W"], spec["C"], spec["sigma"], spec["b"],
                    spec["activation"], name=spec["name"], observable=spec["observable"],
                    check=check)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **kwargs) -> SRNN:
        """Build from a mapping with keys ``Gamma, W, b, C, sigma, activation``
        (optional ``name``, ``observable``)."""
        if not isinstance(d, Mapping):
            raise ModelError(f"model description must be a mapping, got {type(d).__name__}")
        allowed = {"Gamma", "W", "b", "C", "sigma", "activation", "name", "observable"}
        unknown = set(d) - allowed
        if unknown:
            raise ModelError(f"unknown model keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        missing = {"Gamma", "W", "C", "sigma"} - set(d)
        if missing:
            raise ModelError(f"model description lacks required keys {sorted(missing)}")
        return cls(d["Gamma"], d["W"], d["C"], d["sigma"], d.get("b"),
                   d.get("activation", "linear"), name=d.get("name", "srnn"),
                   observable=d.get("observable"), **kwargs)

    #: Largest model file :meth:`load` reads (bytes). tomllib parses ~0.3 MiB/s, so 1 MiB
    #: (a dense n ≈ 300 model) parses in a few seconds; pass ``max_bytes`` to raise it.
    MAX_FILE_BYTES: int = 2**20
    #: Most parts a dotted TOML key may have (tomllib is quadratic in it: 20,000 parts
    #: take 26 s; a model file needs none).
    MAX_KEY_PARTS: int = 32

    @classmethod
    def load(cls, path: str | Path, *, max_bytes: int | None = None, **kwargs) -> SRNN:
        """Load a TOML model file (keys as in :meth:`from_dict`).

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
            with path.open("rb") as fh:
                raw = fh.read(limit + 1)
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
            raise ModelError(f"model file {shown} is larger than {format_bytes(limit)} "
                             "(or an endless device); raise max_bytes to load it",
                             param="path")
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
            data["name"] = cls._default_name(path)
        try:
            return cls.from_dict(data, **kwargs)
        except ModelError as exc:
            raise ModelError(f"model file {shown}: {exc}", param=exc.param) from None

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
            raise ModelError(f"n and m must be positive integers, got n={n!r}, m={m!r}")
        r = n if r is None else r

        def mat(name, rows, cols):
            return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}",
                                                               real=True))
        b = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
        return cls(mat("Gamma", n, n), mat("W", n, n), mat("C", n, m), mat("s", n, r), b,
                   activation, name=kwargs.pop("name", f"symbolic_{n}x{m}"), **kwargs)

    # ------------------------------------------------------------------ derived objects
    @property
    def D(self) -> sp.ImmutableMatrix:
        """Diffusion matrix ``D = σ σᵀ``."""
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

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Numeric parameters as float arrays: Gamma, W, b (n,), C, sigma and
        ``D = σσᵀ`` (multiplied in floats, symmetrised): fresh copies of arrays converted
        once per model."""
        self._require_numeric("numpy_params")

        def convert() -> dict[str, np.ndarray]:
            f = lambda M: np.array(M.tolist(), dtype=float)  # noqa: E731
            sigma = f(self.sigma)
            D = sigma @ sigma.T
            return {"Gamma": f(self.Gamma), "W": f(self.W), "b": f(self.b).ravel(),
                    "C": f(self.C), "sigma": sigma, "D": 0.5 * (D + D.T)}
        return {k: v.copy() for k, v in derived(self, ("model", "numpy_params"),
                                                convert).items()}

    def drift_numpy(self):
        """Vectorised drift ``φ``: array ``(..., n)`` -> ``(..., n)``."""
        p = self.numpy_params()
        a = self.activation.numpy()
        G, W, b = p["Gamma"], p["W"], p["b"]

        def phi(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            return -x @ G.T + a(x @ W.T + b)
        return phi

    def subs(self, values: Mapping[str, float] | None = None, **kw) -> SRNN:
        """A new model with parameter symbols replaced by values."""
        vals = dict(values or {}, **kw)
        unknown = set(vals) - set(self.parameters)
        if unknown:
            raise ModelError(f"unknown parameters {sorted(unknown)}; model has "
                             f"{sorted(self.parameters)}")
        rep = {self.parameters[k]: exact_number(v) if isinstance(v, float) else v
               for k, v in vals.items()}
        sub = lambda M: M.subs(rep)  # noqa: E731
        return SRNN(sub(self.Gamma), sub(self.W), sub(self.C), sub(self.sigma), sub(self.b),
                    self.activation, name=self.name,
                    observable=self.default_observable.subs(rep))

    def observable(self, spec: str | sp.Expr | None = None) -> sp.Expr:
        """Parse an observable ``f(h1..hn)`` safely (model parameters may appear)."""
        if spec is None:
            return self.default_observable
        allowed = {s.name: s for s in self.h}
        allowed.update(self.parameters)
        try:
            expr = parse_expression(spec, allowed, what="observable")
        except ExpressionError as exc:
            raise ModelError(str(exc)) from None
        return expr

    # ------------------------------------------------------------------ checks
    def _require_numeric(self, what: str) -> None:
        if not self.is_numeric:
            raise ModelError(f"{what} needs numeric parameters; substitute values for "
                             f"{sorted(self.parameters)} with model.subs(...)")

    def check_stability(self) -> None:
        """Refuse models without a stationary density (numeric models only).

        Linear: ``A = Γ - W`` must be Hurwitz-stable (all eigenvalues with positive real
        part). Bounded activations: ``Γ`` must be. Unbounded activations with limiting
        slopes ``s_±``: ``Γ - W diag(s)`` for every choice of ``s_i ∈ {s_-, s_+}``.
        The noise must not vanish: ``D = σσᵀ ≠ 0``.
        """
        p = self.numpy_params()
        if not np.any(p["D"]):
            raise ModelError("sigma is zero: the dynamics is deterministic and has no "
                             "stationary density")
        if self.is_linear:
            _hurwitz(p["Gamma"] - p["W"], "A = Γ - W")
            return
        if self.activation.bounded:
            _hurwitz(p["Gamma"], "Γ (leak of a bounded activation)")
            return
        lo, hi = self.activation.slopes_at_infinity
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ModelError(f"activation {self.activation.source!r} grows faster than "
                             "linearly: no stationary density can be guaranteed")
        choices = itertools.product(sorted({lo, hi}), repeat=self.n) if self.n <= 10 \
            else [(lo,) * self.n, (hi,) * self.n]
        for s in choices:
            _hurwitz(p["Gamma"] - p["W"] * np.asarray(s)[None, :],
                     f"Γ - W·diag(a'(±∞)) with slopes {tuple(float(x) for x in s)}")

    def __repr__(self) -> str:
        return (f"SRNN(name={self.name!r}, n={self.n}, m={self.m}, r={self.r}, "
                f"activation={self.activation.name!r})")

    def latex_sde(self) -> str:
        """The SDE in LaTeX."""
        return (r"dh_t = \left[-\Gamma h_t + a(W h_t + b) + \varepsilon C u(t)\right]dt"
                r" + \sigma\, dB_t,\qquad a(z) = " + self.activation.latex())

    def __str__(self) -> str:
        """A readable summary: sizes, activation, the SDE and the parameters."""
        def show(M: sp.Matrix) -> str:
            if all(e.is_number for e in M.values()):
                arr = np.array(M.evalf(), dtype=float)
                text = np.array2string(arr, threshold=64,
                                       formatter={"float_kind": lambda x: f"{x:.6g}"})
            else:
                text = str(M.tolist())
            return text.replace("\n", "\n      ")
        lines = [f"SRNN {self.name!r}: n = {self.n} unit{'s' * (self.n != 1)}, m = {self.m} "
                 "input channel"
                 f"{'s' * (self.m != 1)}, r = {self.r} noise source{'s' * (self.r != 1)}, "
                 f"activation {self.activation.name}",
                 "  dh = [-Γ h + a(W h + b) + ε C u(t)] dt + σ dB,  a(z) = "
                 f"{self.activation.expr}",
                 f"  f(h) = {self.default_observable}"]
        if self.parameters:
            lines.append(f"  parameters: {', '.join(sorted(self.parameters))}")
        for label, M in (("Γ", self.Gamma), ("W", self.W), ("b", self.b.T), ("C", self.C),
                         ("σ", self.sigma)):
            lines.append(f"  {label} = {show(M)}")
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


def _rebuild(Gamma, W, C, sigma, b, activation, name, observable) -> SRNN:
    """Unpickle/copy an :class:`SRNN` (its stability was checked when it was made)."""
    return SRNN(Gamma, W, C, sigma, b, activation, name=name, observable=observable,
                check=False)


def _hurwitz(M: np.ndarray, label: str) -> None:
    eig = np.linalg.eigvals(M)
    bad = eig[eig.real <= 1e-12]
    if bad.size:
        ev = bad[np.argmin(bad.real)]
        raise ModelError(f"{label} is not stable: eigenvalue {ev.real:.4g}{ev.imag:+.4g}j "
                         "has non-positive real part (all eigenvalues need Re > 0 for a "
                         "stationary density)")


def _infer_n(Gamma, W, b) -> int:
    for v in (Gamma, W):
        if isinstance(v, sp.MatrixBase):
            return v.rows
        if isinstance(v, (list, tuple, np.ndarray)):
            arr = np.asarray(v, dtype=object)
            if arr.ndim >= 1:
                return arr.shape[0]
    if isinstance(b, (list, tuple, np.ndarray, sp.MatrixBase)):
        return len(b)
    return 1

