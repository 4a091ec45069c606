"""Typed results (``KernelValues``, ``SeriesTerms``): the repr never shows a non-zero
error as 0, results pickle and deep-copy, and they are frozen all the way down (values,
errors and nested details cannot be changed in place), while reading them (``np.asarray``,
arithmetic, ``details[...]``, ``.get``, JSON) works as before."""

import copy
import json
import pickle
import re

import numpy as np
import pytest

import volterra_sym as vs
from volterra_sym.results import Estimate, KernelValues, SeriesTerms


def _nested():
    return KernelValues([0.5, 1.0], [2.694e-4, 1e-3], "galerkin",
                        {"channels": (0,), "options": {"tol": 1e-6, "paths": [1, 2]},
                         "route": {"degree": 5, "truncation": [1e-4, 2e-4],
                                   "grid": np.arange(3.0), "inner": {"x": [[1, 2], [3]]}}})


@pytest.fixture(scope="module")
def exact():
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1", order=1)
    return hier.kernel(0).evaluate([0.5, 1.0])


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


# ----------------------------------------------------------------------- pickling
@pytest.mark.parametrize("copier", [lambda r: pickle.loads(pickle.dumps(r)),
                                    lambda r: pickle.loads(pickle.dumps(r, protocol=0)),
                                    copy.deepcopy, copy.copy])
def test_results_pickle_and_copy(copier):
    for r in (_nested(), SeriesTerms(np.ones((2, 3)), None, "spectral", {"order": 1}),
              KernelValues(0.25, 1e-3, "exact"),
              KernelValues(np.zeros((0, 2)), np.zeros((0, 2)), "exact")):
        s = copier(r)
        assert type(s) is type(r) and s.method == r.method
        assert np.array_equal(s.values, r.values) and s.values.shape == r.values.shape
        assert (s.error is None) == (r.error is None)
        if r.error is not None:
            assert np.array_equal(s.error, r.error)
        assert s.details.keys() == r.details.keys()
        _assert_frozen(s)
    thawed = copier(dict(_nested().details))
    assert thawed["route"]["degree"] == 5 and thawed["options"]["paths"] == (1, 2)
    a, b = _nested(), copier(_nested())
    assert b.details["options"] == a.details["options"] == {"tol": 1e-6, "paths": (1, 2)}
    route = b.details["route"]
    assert route["truncation"] == (1e-4, 2e-4) and route["inner"] == {"x": ((1, 2), (3,))}
    assert np.array_equal(route["grid"], np.arange(3.0))


def test_a_real_result_pickles(exact):
    s = pickle.loads(pickle.dumps(exact))
    assert np.array_equal(s.values, exact.values) and np.array_equal(s.error, exact.error)
    assert s.method == exact.method and s.details == exact.details
    _assert_frozen(s)
    d = copy.deepcopy(exact)
    assert d.details == exact.details and np.array_equal(d, exact)


def test_pickled_broadcast_error():
    r = KernelValues(np.ones(4), 1e-3, "exact")          # a scalar error, broadcast
    assert r.error.shape == (4,)
    s = pickle.loads(pickle.dumps(r))
    assert s.error.shape == (4,) and np.all(s.error == 1e-3)
    _assert_frozen(s)


# ------------------------------------------------------------------------- frozen
def _assert_frozen(r):
    for arr in (r.values, r.error):
        if arr is None:
            continue
        assert not arr.flags.writeable and not arr.flags.owndata
        with pytest.raises(ValueError):
            arr.setflags(write=True)
        with pytest.raises(ValueError):
            arr[...] = 42.0
    _assert_frozen_mapping(r.details)


def _assert_frozen_mapping(m):
    with pytest.raises(TypeError):
        m["new"] = 1
    for op in (lambda: m.clear(), lambda: m.update(a=1), lambda: m.setdefault("a", 1),
               lambda: m.pop(next(iter(m), "a")), lambda: m.popitem()):
        with pytest.raises(TypeError):
            op()
    for k in list(m):
        with pytest.raises(TypeError):
            del m[k]
        _assert_frozen_value(m[k])


def _assert_frozen_value(v):
    assert not isinstance(v, (list, set, bytearray))
    if isinstance(v, dict):
        _assert_frozen_mapping(v)
    elif isinstance(v, tuple):
        for x in v:
            _assert_frozen_value(x)
    elif isinstance(v, np.ndarray):
        assert not v.flags.writeable
        with pytest.raises(ValueError):
            v.setflags(write=True)


def test_values_and_errors_cannot_be_made_writable(exact):
    before = np.array(exact.values)
    with pytest.raises(ValueError):
        exact.values.setflags(write=True)
    with pytest.raises(ValueError):
        exact.error.setflags(write=True)
    with pytest.raises(ValueError):
        exact.values[0] = 42.0
    # nor through the array's base (it is an immutable buffer, not an ndarray)
    base = exact.values
    while isinstance(base, np.ndarray):
        assert not base.flags.writeable
        base = base.base
    assert memoryview(base).readonly
    assert np.array_equal(exact.values, before)


def test_nested_details_are_frozen(exact):
    with pytest.raises(TypeError):
        exact.details["options"]["tol"] = 1e-3
    assert "tol" not in exact.details["options"]
    _assert_frozen(exact)
    r = _nested()
    _assert_frozen(r)
    with pytest.raises(TypeError):
        r.details["options"]["tol"] = 1e-3
    with pytest.raises(AttributeError):
        r.details["options"]["paths"].append(3)
    with pytest.raises(ValueError):
        r.details["route"]["grid"][0] = 1.0
    with pytest.raises(ValueError):
        r.details["route"]["grid"].setflags(write=True)
    with pytest.raises(TypeError):
        r.details["route"]["inner"]["y"] = 0
    with pytest.raises(AttributeError):                # frozen dataclass
        r.details = {}
    assert r.details["options"]["tol"] == 1e-6


def test_inputs_are_not_aliased():
    vals, err = np.array([1.0, 2.0]), np.array([0.1, 0.2])
    opts = {"tol": 1e-6, "list": [1, 2]}
    grid = np.arange(3.0)
    r = KernelValues(vals, err, "exact", {"options": opts, "grid": grid})
    vals[0], err[0], opts["tol"], grid[0] = 9.0, 9.0, 9.0, 9.0
    opts["list"].append(3)
    assert r.values[0] == 1.0 and r.error[0] == 0.1
    assert r.details["options"] == {"tol": 1e-6, "list": (1, 2)}
    assert r.details["grid"][0] == 0.0
    assert vals.flags.writeable and grid.flags.writeable  # the caller's arrays untouched


def test_frozen_details_still_read_like_dicts():
    r = _nested()
    d = r.details
    assert d["route"]["degree"] == 5 and d.get("missing", 7) == 7
    assert d.get("route", {}).get("degree") == 5
    assert dict(d)["channels"] == (0,) and {**d, "kicks": 1}["kicks"] == 1
    assert isinstance(d, dict) and r.route_facts["degree"] == 5
    assert "degree 5" in r._repr_html_()
    # JSON (what the CLI prints): nested mappings and tuples serialise
    facts = dict(d["route"])
    facts.pop("grid")
    assert json.loads(json.dumps({"details": facts}))["details"] == {
        "degree": 5, "truncation": [1e-4, 2e-4], "inner": {"x": [[1, 2], [3]]}}
    assert json.loads(json.dumps(dict(d["options"]))) == {"tol": 1e-6, "paths": [1, 2]}
    # a result made from another's details (as dag/composite/verify do)
    again = SeriesTerms(np.ones(2), None, "x", r.details)
    assert again.details["route"]["degree"] == 5
    plus = KernelValues(1.0, 0.0, "x", {**r.details, "kicks": ((0,),)})
    assert plus.details["kicks"] == ((0,),) and plus.details["options"]["tol"] == 1e-6
    # a plain, mutable (shallow) copy on request
    m = d.copy()
    m["x"] = 1
    assert type(m) is dict and "x" not in d


def test_cli_series_json_reads_frozen_route_facts():
    from volterra_sym.cli import _jsonable

    r = SeriesTerms(np.ones((2, 2)), np.zeros((2, 2)), "galerkin",
                    {"degree": 4, "truncation": [1e-3, 2e-3], "measure": "samples"})
    assert _jsonable(dict(r.route_facts)) == {"degree": 4, "truncation": [1e-3, 2e-3],
                                              "measure": "samples"}


def test_array_behaviour_as_documented(exact):
    ref = np.array([0.1, 0.2])
    assert type(np.asarray(exact)) is np.ndarray
    assert np.array_equal(np.asarray(exact), exact.values)
    diff = exact - ref
    assert type(diff) is np.ndarray and np.allclose(diff, exact.values - ref)
    assert type(ref - exact) is np.ndarray
    assert np.allclose(np.exp(exact), np.exp(exact.values))
    c = np.array(exact)
    c[0] = 1.0                                        # np.array gives a writable copy
    assert exact.values[0] != 1.0 or c is not exact.values
    assert float(KernelValues(0.5, 0.0, "exact")) == 0.5
    assert len(exact) == 2 and exact.shape == (2,) and list(exact) == list(exact.values)
    assert isinstance(exact, Estimate)
