"""Typed results (``KernelValues``, ``SeriesTerms``): the repr never shows a non-zero
error as 0, results pickle and deep-copy, and they are frozen all the way down (values,
errors and nested details cannot be changed in place), while reading them (``np.asarray``,
arithmetic, ``details[...]``, ``.get``, JSON) works as before."""

import re

import numpy as np

from volterra_sym.results import KernelValues, SeriesTerms


# ----------------------------------------------------------------------------- repr
def _numbers(text: str, field: str) -> list[str]:
    m = re.search(field + r"=\[?([^\]=]*?)\]?(, \w+=|\)$)", text)
    assert m, text
    return m[1].split()


def test_repr_never_shows_a_nonzero_error_as_zero():
    r = KernelValues([0.953725, 0.804493, 0.671041], [2.694e-4] * 3, "galerkin")
    text = repr(r)
    errs = _numbers(text, "error")
    assert len(errs) == 3 and all(float(e) != 0.0 for e in errs), text
    assert all(abs(float(e) - 2.694e-4) <= 0.05 * 2.694e-4 for e in errs), text
    for err in (1.76e-4, 4.99e-4, 1e-12, 3e-300, 5e-324):
        shown = _numbers(repr(KernelValues(0.5, err, "taylor")), "error")
        assert len(shown) == 1 and float(shown[0]) != 0.0, (err, shown)


def test_repr_never_shows_a_nonzero_value_as_zero_and_zero_as_zero():
    r = KernelValues([1e-9, -3e-7, 0.0, 12345.678], [0.0, 0.0, 0.0, 1.0], "exact")
    vals = [float(v) for v in _numbers(repr(r), "values")]
    assert vals[0] != 0 and vals[1] != 0 and vals[2] == 0
    assert abs(vals[3] - 12345.678) < 0.5
    errs = [float(e) for e in _numbers(repr(r), "error")]
    assert errs == [0.0, 0.0, 0.0, 1.0]


def test_repr_special_values_and_unknown_error():
    r = KernelValues([0.5, np.nan], [np.inf, np.nan], "taylor")
    assert "inf" in repr(r) and "nan" in repr(r)
    assert "error=unknown" in repr(SeriesTerms(np.ones((2, 3)), None, "spectral"))


def test_repr_is_short_for_large_arrays():
    r = SeriesTerms(np.random.default_rng(0).normal(size=(4, 10_000)),
                    np.full((4, 10_000), 3e-4), "spectral")
    text = repr(r)
    assert "..." in text and len(text) < 1000, text
    assert "0." not in re.findall(r"[\d.e+-]+", text.split("error=")[1])
