"""The time budget of the modal forward form (spectral and Galerkin series): every run of
the doubling ladder is checked between its steps, and a doubled run whose predicted time
(twice the last run's) ends past the budget is refused before it starts
(:func:`volterra_sym.backends.modal.converged_forward`, :meth:`Deadline.expect`)."""

import time
from dataclasses import dataclass, field

import numpy as np
import pytest

import volterra_sym as vs
from volterra_sym.backends.modal import (
    InputSampler,
    converged_forward,
    forward_grid,
    propagate_forward,
)
from volterra_sym.budget import TIME_UNIT, Deadline
from volterra_sym.cli import main
from volterra_sym.errors import ResourceLimitError


def _u(m, w=5.0):
    return lambda t: np.sin(w * t) * np.ones(m)


def test_spectral_series_over_its_budget_is_refused_early():
    """tanh2d, u = sin 5t up to t = 2000: 103 s without a budget (measured, 15,904 steps);
    with time_budget=2 it is refused within seconds, the estimate above the budget."""
    H = vs.ResponseHierarchy(vs.load_model("tanh2d"), order=2)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        H.series_terms(_u(2), np.linspace(0, 2000, 50), method="spectral", time_budget=2)
    assert time.perf_counter() - t0 < 3 * 2 + 2
    assert info.value.unit in (TIME_UNIT, "seconds") and info.value.budget == 2
    assert info.value.estimate > 2


def test_galerkin_series_over_its_budget_is_refused_early():
    """tanh3 up to t = 2000: 21 s without a budget; time_budget=2 refuses it within seconds
    — the integration, not the degree (t = 5 runs under the same budget)."""
    H = vs.ResponseHierarchy(vs.load_model("tanh3"), order=2)
    H.series_terms(_u(1), np.linspace(0, 5, 50), method="galerkin", degree=5, time_budget=2)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        H.series_terms(_u(1), np.linspace(0, 2000, 50), method="galerkin", degree=5,
                       time_budget=2)
    assert time.perf_counter() - t0 < 3 * 2 + 2
    assert info.value.unit in (TIME_UNIT, "seconds") and info.value.estimate > 2


def test_cli_series_time_budget_reaches_the_spectral_route(capsys):
    t0 = time.perf_counter()
    code = main(["series", "tanh2d", "--method", "spectral", "--input", "sin(5*t)",
                 "--input", "sin(5*t)", "--t-max", "2000", "--n-times", "50",
                 "--time-budget", "2"])
    assert code == 1 and time.perf_counter() - t0 < 10
    assert "time_budget" in capsys.readouterr().err     # the option to change is named


@dataclass
class _Diagonal:
    """A small modal system: ``Λ = diag(lam)``, one channel with a random ``B``."""

    lam: np.ndarray
    B: np.ndarray
    pairing: np.ndarray
    M: int = field(init=False)

    def __post_init__(self):
        self.M = self.lam.size

    @property
    def dtype(self):
        return np.dtype(float)

    def p_times_B(self, k):
        return self.pairing @ self.B

    def times_B(self, k, X):
        return X @ self.B

    def times_Bt(self, k, X):
        return X @ self.B.T


def test_a_deadline_does_not_change_the_numbers():
    rng = np.random.default_rng(3)
    M = 12
    dz = _Diagonal(np.concatenate([[0.0], -rng.uniform(0.5, 5, M - 1)]),
                   rng.standard_normal((M, M)) / M, np.eye(M)[0])
    a0 = rng.standard_normal(M)
    theta, Lc = forward_grid(7)
    sampler = InputSampler(_u(1, 3.0), 1, 20.0, 7)
    runs = [converged_forward(dz, a0, 3, 20.0, sampler, theta, Lc, tol=1e-9,
                              memory_budget=1e8, noise_unit=1e-15, max_steps=1 << 12,
                              what="test", deadline=d)
            for d in (None, Deadline(1000, "test", "lower"))]
    assert runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][0].endpoint_terms(a0), runs[1][0].endpoint_terms(a0))
    # a deadline already past stops a run between its steps
    late = Deadline(1e-9, "test", "lower")
    time.sleep(0.01)
    with pytest.raises(ResourceLimitError):
        propagate_forward(dz, 2, 4096, 20.0, InputSampler(_u(1), 1, 20.0, 7)(4096), Lc, theta,
                          deadline=late)


def test_a_refusal_shows_its_estimate_and_limit_apart():
    """Estimate and limit rounded alike ("needs about 1e+13 … more than the limit 1e+13",
    found by the adversarial pass) get as many digits as tell them apart; 3 otherwise."""
    from volterra_sym.budget import check_count, check_memory
    from volterra_sym.errors import ResourceLimitError, apart

    with pytest.raises(ResourceLimitError) as exc:
        check_count(1.0004e13, 1e13, "a walk", "steps", "lower it")
    assert "about 1.0004e+13 steps, more than the limit 1e+13" in str(exc.value)
    with pytest.raises(ResourceLimitError) as exc:
        check_memory(1.0001 * 2**30, "a matrix", "lower it", 2**30)
    assert "about 1.0001 GiB, more than the memory budget 1 GiB" in str(exc.value)
    assert apart(2e13, 1e13) == ("2e+13", "1e+13")
