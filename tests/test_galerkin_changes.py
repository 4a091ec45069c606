"""The truncation check's changes in the Galerkin route's details (docs/theory.md §9): each
is the largest difference between the value and the same quantity computed separately at
that lower degree, and the truncation part is the measure's safety factor times the
largest of them."""

from __future__ import annotations

import numpy as np
import pytest

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.backends.galerkin import truncation


def _coupled3(name: str) -> SRNN:
    """``bench_galerkin_mc.network(3, 1.2)``: the ``galerkin_density`` measure."""
    W = [[0.0871, -0.0915, 0.4437], [0.0727, -0.3711, 0.2505],
         [0.9034, 0.6562, -0.4876]]
    return SRNN(np.eye(3), W, np.ones((3, 1)), 0.6 * np.eye(3), b=[-0.2531, -0.1247, 0.0083],
                activation="tanh", name=name)


def test_kernel_changes_are_the_differences_to_the_lower_degrees():
    model = _coupled3("changes_k")
    lags = np.array([[0.2], [1.0], [3.0]])
    k = ResponseHierarchy(model, "h1", 1).kernel((0,))
    res = k.evaluate(lags, method="galerkin", degree=7, check="below")
    facts = res.details["route"]
    assert facts["measure"] == "galerkin_density"
    assert sorted(facts["changes"]) == [4, 5, 6]      # the window d-1 ... d-3
    for dl, change in facts["changes"].items():
        low = k.evaluate(lags, method="galerkin", degree=dl, check="below")
        assert change == pytest.approx(np.abs(res.values - low.values).max(), rel=1e-9)
    assert facts["truncation"] == pytest.approx(
        truncation.DENSITY_SAFETY * max(facts["changes"].values()), rel=1e-12)


def test_series_changes_are_per_term_and_scale_with_the_observable():
    """Per term ``T_N``; ``None`` where a lower degree is not compared (``T_2`` never with
    degree 1). An observable with a coefficient beyond 1e30 is evaluated as ``f/s`` and
    scaled back: its changes and truncation parts scale with it (the truncation parts of a
    series were left in the route's units)."""
    model = _coupled3("changes_s")
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    times = np.linspace(0.0, 3.0, 7)
    H = ResponseHierarchy(model, "h1", 2)
    res = H.series_terms(u, times, method="galerkin", degree=5, check="below")
    ch = res.details["changes"]
    assert sorted(ch) == [2, 3, 4]
    low = H.series_terms(u, times, method="galerkin", degree=4,   # 3 and 2 are refused
                         check="below")
    for N in (1, 2):
        assert ch[4][N - 1] == pytest.approx(
            np.abs(np.asarray(res)[N] - np.asarray(low)[N]).max(), rel=1e-6)
    assert all(c is not None for cs in ch.values() for c in cs)
    for N in (1, 2):
        used = [c[N - 1] for c in ch.values() if c[N - 1] is not None]
        assert res.details["truncation"][N - 1] == pytest.approx(
            truncation.DENSITY_SAFETY * max(used), rel=1e-12)
    big = ResponseHierarchy(model, "1e40*h1", 2).series_terms(u, times, method="galerkin",
                                                             degree=5, check="below")
    s = big.details["observable_scale"]
    assert s != 1.0
    np.testing.assert_allclose(np.asarray(big), 1e40 * np.asarray(res), rtol=1e-9)
    np.testing.assert_allclose(big.details["truncation"],
                               1e40 * np.asarray(res.details["truncation"]), rtol=1e-9)
    for dl in ch:
        np.testing.assert_allclose(big.details["changes"][dl],
                                   1e40 * np.asarray(ch[dl], dtype=float), rtol=1e-9)


def test_the_cli_shows_the_changes(capsys):
    """``kernel`` prints the changes on a line of their own and ``--json`` keeps them; they
    are the ones the API returns."""
    import json

    from volterra_sym import load_model
    from volterra_sym.cli import main

    for check, degrees in (("below", [6, 5, 4]), ("above", [8, 9, 10])):
        args = ["kernel", "tanh3", "--lags", "2", "--method", "galerkin", "--degree", "7",
                "--check", check]
        assert main(args) == 0
        text = capsys.readouterr().out
        line = next(x for x in text.splitlines() if x.startswith("# truncation check"))
        assert ("from above" in line) == (check == "above")
        assert [int(w) for w in line.split(":")[1].replace(",", " ").split()[::2]] == degrees
        assert main(args + ["--json"]) == 0
        shown = json.loads(capsys.readouterr().out)["details"]
        api = ResponseHierarchy(load_model("tanh3"), "h1", 1).kernel((0,)).evaluate(
            [[2.0]], method="galerkin", degree=7, check=check).details["route"]
        assert shown["check"] == api["check"] == check
        assert {int(k): v for k, v in shown["changes"].items()} == pytest.approx(
            api["changes"], rel=1e-12)


def test_the_cli_series_json_keeps_the_changes_per_term(capsys):
    import json

    from volterra_sym.cli import main

    assert main(["series", "tanh3", "--input", "sin(t)", "--t-max", "2", "--order", "2",
                 "--method", "galerkin", "--degree", "5", "--check", "below", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)["details"]["changes"]
    assert sorted(changes) == ["2", "3", "4"]
    assert all(len(c) == 2 and all(x > 0 for x in c) for c in changes.values())
