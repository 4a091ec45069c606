"""The scikit-learn examples: the pipeline example on a small synthetic set, and the real-data
example (UCR data bundled with sktime) on a subset, with its 1-NN baselines reproduced
against the published error rates and its DTW against a plain per-pair recursion."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_pipeline_example_runs_and_level_two_sees_the_chirp_direction(capsys):
    out = _example("sklearn_pipeline").main(["--n-train", "80", "--n-test", "120"])
    assert set(out) == {"signature depth 1 (integrals)", "signature depth 2",
                        "SRNN features (tanh1d, 8 times)", "SRNN kernel eps=1 + SVC",
                        "SRNN kernel eps=100 + SVC"}
    assert out["signature depth 2"] > out["signature depth 1 (integrals)"] + 0.2
    assert out["SRNN features (tanh1d, 8 times)"] > 0.75
    assert out["SRNN kernel eps=100 + SVC"] > out["SRNN kernel eps=1 + SVC"] + 0.1
    assert "test accuracy" in capsys.readouterr().out


def _dtw_reference(a: np.ndarray, b: np.ndarray) -> float:
    T = a.size
    D = np.full((T + 1, T + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, T + 1):
        for j in range(1, T + 1):
            D[i, j] = (a[i - 1] - b[j - 1]) ** 2 + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return float(np.sqrt(D[T, T]))


def test_vectorised_dtw_matches_the_plain_recursion():
    ex = _example("real_data_classification")
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(3, 17)), rng.normal(size=(4, 17))
    ref = np.array([[_dtw_reference(a, b) for b in B] for a in A])
    np.testing.assert_allclose(ex.dtw_distances(A, B), ref, rtol=1e-12)
    assert np.all(ex.dtw_distances(A, A).diagonal() == 0)


def test_real_data_example_on_a_subset_and_the_published_baselines():
    pytest.importorskip("sktime")
    ex = _example("real_data_classification")
    out = ex.main(["--datasets", "ItalyPowerDemand", "--max-test", "200", "--check", "1"])
    r = out["ItalyPowerDemand"]
    assert r["n_train"] == 67 and r["n_test"] == 200 and r["length"] == 24
    assert r["srnn_ridge"] >= 0.9
    fc = r["feature_check"]
    assert fc["max_abs_diff"] <= fc["max_taylor_bound"] + 1e-5
    # the 1-NN baselines on the full test set reproduce the archive's published error rates
    Xtr, ytr, Xte, yte = ex.load("ItalyPowerDemand")
    assert Xte.shape == (1029, 24)
    ed = np.sqrt(((Xte[:, None, :] - Xtr[None, :, :]) ** 2).sum(-1))
    pub = ex.PUBLISHED["ItalyPowerDemand"]
    assert abs(ex.one_nn_accuracy(ed, ytr, yte) - (1 - pub["ED"])) < 1 / 1029
    dtw = ex.one_nn_accuracy(ex.dtw_distances(Xte, Xtr), ytr, yte)
    assert abs(dtw - (1 - pub["DTW_full"])) < 1 / 1029
