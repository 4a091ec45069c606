"""One validator family for user-supplied numeric arrays (the bottom of the import layers:
it imports only :mod:`volterra_sym.errors` and NumPy).

* :func:`check_unmasked` — a NumPy masked array with a masked entry is refused
  (``np.asarray`` drops the mask and would read the hidden data); a fully unmasked one
  stands for its data.
* :func:`real_array` — ``value`` as a float ndarray of real numbers: masked entries,
  complex values, text, objects, booleans and ragged nesting are refused, and (by default)
  NaN/inf, a wrong ``ndim`` or a wrong last-axis size; every refusal is an
  :class:`~volterra_sym.errors.InvalidInputError` whose ``param`` is ``name``.
  ``finite=False`` is the O(1) mode for ndarrays (dtype and shape only) for hot loops.
* :func:`real_number` — one finite real number (Python or NumPy int/float, not bool).
* :func:`relative_tol` — a relative tolerance, ``0 < tol < 1``.
* :func:`check_flag` — ``True`` or ``False`` (Python or NumPy bool), nothing taken by its
  truth value.
* :func:`check_int` — a Python or NumPy integer (not bool, not an integral float) within
  optional bounds ``[lo, hi]``.
* :func:`state_points` — points ``(..., n)`` of an ``n``-dimensional state space (dtype and
  shape only, O(1)).
"""
from __future__ import annotations

import numpy as np

from .errors import InvalidInputError

__all__ = ["check_flag", "check_int", "check_unmasked", "real_array", "real_number",
           "relative_tol", "state_points"]

_REAL_KINDS = "iuf"


def check_unmasked(value, param: str):
    """A NumPy masked array with a masked entry is refused (:class:`InvalidInputError` naming
    ``param``): its masked entries would be read as data (``np.asarray`` drops the mask). A
    fully unmasked one stands for its data; anything else is returned as it is."""
    if not isinstance(value, np.ma.MaskedArray):
        return value
    mask = np.ma.getmask(value)
    if mask is not np.ma.nomask and mask.any():
        mask = np.ma.getmaskarray(value)
        where = tuple(int(i) for i in np.argwhere(mask)[0])
        raise InvalidInputError(f"{param} is a masked array with {int(mask.sum())} masked "
                                f"entr{'y' if mask.sum() == 1 else 'ies'} (first at index "
                                f"{list(where)}): masked entries are not data; pass the "
                                "values to use (e.g. value.filled(x)) or drop them",
                                param=param)
    return np.ma.getdata(value)


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _cast_objects(raw: np.ndarray, value, name: str, what: str) -> np.ndarray:
    """An object array of numbers as floats (see :func:`real_array`, ``objects=True``)."""
    flat = raw.ravel()
    if any(v is None for v in flat):
        raise InvalidInputError(f"{name} must be {what}, got None in {_describe(value)}",
                                param=name)
    if any(isinstance(v, (complex, np.complexfloating)) for v in flat):
        raise InvalidInputError(f"{name} must be real, got complex values", param=name)
    if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in flat):
        raise InvalidInputError(f"{name} must be {what}, got {_describe(value)}", param=name)
    try:
        return raw.astype(float)
    except OverflowError:
        raise InvalidInputError(f"{name} must lie in the float range (|x| ≤ 1.8e308)",
                                param=name) from None
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be {what}, got {_describe(value)}",
                                param=name) from None


def real_array(value, name: str, *, ndim: int | tuple[int, ...] | None = None,
               finite: bool = True, last: int | None = None, objects: bool = False,
               copy: bool = False, what: str = "an array of real numbers") -> np.ndarray:
    """``value`` as a float ndarray, else :class:`InvalidInputError` with ``param=name``.

    Refused: ``None``; a masked array with a masked entry; complex values (a cast to float
    would drop the imaginary part); text, booleans, objects and ragged nesting (anything whose
    dtype kind is not integer or float — with ``objects`` an object array of numbers, such
    as SymPy numbers or Python ints, is cast instead, its ``None``, text, booleans and
    numbers outside the float range refused); with ``finite`` NaN or inf; a number of dimensions
    not ``ndim`` (an int or a tuple of allowed ints); a last axis not of size ``last``.
    Nothing is cut or promoted. The result shares memory with a float ``value`` unless
    ``copy``. With ``finite=False`` the check of an ndarray is O(1)
    (dtype and shape only; a masked array is an O(1) isinstance check unless it has a mask).
    """
    value = check_unmasked(value, name)
    if value is None:
        raise InvalidInputError(f"{name} must be {what}, got None", param=name)
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, OverflowError):     # ragged nesting, odd objects
        raise InvalidInputError(f"{name} must be {what} (not ragged or mixed), got "
                                f"{_describe(value)}", param=name) from None
    kind = raw.dtype.kind
    if kind == "c":
        raise InvalidInputError(f"{name} must be real, got complex values", param=name)
    if kind == "O" and objects:
        raw = _cast_objects(raw, value, name, what)
        kind = raw.dtype.kind
    if kind not in _REAL_KINDS:
        raise InvalidInputError(f"{name} must be {what}, got {_describe(value)} (dtype "
                                f"{raw.dtype})", param=name)
    arr = raw.astype(float, copy=copy)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise InvalidInputError(f"{name} must be {want}-dimensional, got shape "
                                    f"{arr.shape}", param=name)
    if last is not None and (arr.ndim == 0 or arr.shape[-1] != last):
        raise InvalidInputError(f"{name} must have shape (..., {last}), got {arr.shape}",
                                param=name)
    if finite and not np.all(np.isfinite(arr)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
        raise InvalidInputError(f"{name} contains NaN or inf (first at index {where}): "
                                "it must be finite", param=name)
    return arr


def _finite_scalar(value) -> bool:
    """A finite Python or NumPy integer or float (not ``bool``, an array, text or complex)."""
    return not isinstance(value, (bool, np.bool_)) \
        and isinstance(value, (int, float, np.integer, np.floating)) and bool(np.isfinite(value))


def real_number(value, name: str, *, what: str = "finite real numbers") -> float:
    """``value`` as a float: a finite Python or NumPy integer or float (``bool``, arrays,
    text and complex are refused), else :class:`InvalidInputError` with ``param=name``."""
    if not _finite_scalar(value):
        raise InvalidInputError(f"{name} must hold {what}, got {value!r}", param=name)
    return float(value)


def positive_number(value, name: str, *, what: str = "a positive finite number",
                    allow_zero: bool = False) -> float:
    """``value`` as a float ``> 0`` (``≥ 0`` with ``allow_zero``): a finite Python or NumPy
    integer or float (``bool``, arrays, text and complex are refused), else
    :class:`InvalidInputError` with ``param=name`` saying it must be ``what``."""
    if not (_finite_scalar(value) and (value > 0 or (allow_zero and value == 0))):
        raise InvalidInputError(f"{name} must be {what}, got {value!r}"[:300], param=name)
    return float(value)


def relative_tol(value, name: str = "tol") -> float:
    """``value`` as a float with ``0 < value < 1`` (a relative tolerance): a finite Python
    or NumPy number (``bool``, arrays and text are refused), else :class:`InvalidInputError`
    with ``param=name``."""
    if not (_finite_scalar(value) and 0 < value < 1):
        raise InvalidInputError(f"{name} must be a number with 0 < {name} < 1, got "
                                f"{value!r}"[:300], param=name)
    return float(value)


def check_flag(value, name: str) -> bool:
    """``value`` as a bool; anything but ``True``/``False`` (a string such as ``"no"``, a
    number, ``None``) is an :class:`InvalidInputError` naming ``name`` (it was taken by its
    truth value: ``estimate_bias="no"`` estimated the bias)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}"[:300],
                                param=name)
    return bool(value)


def check_int(value, name: str, *, lo: int | None = None, hi: int | None = None,
              what: str | None = None) -> int:
    """``value`` as an int: a Python or NumPy integer with ``lo ≤ value ≤ hi`` (each bound
    only when given). Booleans, floats (even integral ones), text and ``None`` are refused:
    :class:`InvalidInputError` with ``param=name``, whose message states the bound and, when
    given, ``what`` (the meaning of the value or a hint, shown in parentheses)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            rule = f"an integer in [{lo:,}, {hi:,}]"
        elif lo == 1:
            rule = "a positive integer"
        elif lo is not None:
            rule = f"an integer ≥ {lo:,}"
        elif hi is not None:
            rule = f"an integer ≤ {hi:,}"
        else:
            rule = "an integer"
        note = f" ({what})" if what else ""
        try:
            shown = repr(value)
        except ValueError:                  # an int beyond Python's digit limit for str()
            shown = f"an int of {value.bit_length()} bits"
        raise InvalidInputError(f"{name} must be {rule}{note}, got {shown}"[:300],
                                param=name)
    return int(value)


def state_points(x, n: int, param: str = "x") -> np.ndarray:
    """``x`` as real points ``(..., n)`` of the state space (a scalar or ``(...)`` for
    ``n = 1`` gets the last axis), else :class:`InvalidInputError` naming ``param`` — a
    check of dtype and shape only (O(1) for ndarrays): the callables it guards run in hot
    loops."""
    arr = real_array(x, param, finite=False,
                     what=f"real numbers (states h of shape (..., {n}))")
    if n == 1 and (arr.ndim == 0 or arr.shape[-1] != 1):
        arr = arr[..., None]
    if arr.ndim == 0 or arr.shape[-1] != n:
        raise InvalidInputError(f"{param} must have shape (..., {n}) (one state of the "
                                f"{n}-unit model per row), got {arr.shape}", param=param)
    return arr
