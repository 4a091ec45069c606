"""The Krylov propagator (``e^{τΛ}`` by Arnoldi, volterra_sym/backends/krylov.py) against
an independent algorithm (SciPy's ``expm_multiply``, Al-Mohy & Higham's truncated Taylor
series) and, through the Galerkin route, against the modal system (an eigendecomposition)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.sparse.linalg import expm_multiply

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.backends import krylov
from volterra_sym.backends.galerkin import route
from volterra_sym.backends.krylov import KrylovRepresentation, KrylovStats, expm_rows
from volterra_sym.errors import AccuracyNotReachedError


@dataclass
class _System:
    Lam: np.ndarray
    norm: float
    M: int


def _system(M: int = 240, seed: int = 0, growing: float | None = None) -> _System:
    """A stable, strongly non-normal generator: ``S diag(λ) S⁻¹`` with ``κ(S)`` ≈ 1e3,
    ``Re λ ∈ [−9, −0.3]`` (one ``λ = growing`` where given) and complex pairs."""
    rng = np.random.default_rng(seed)
    D = np.diag(-np.geomspace(0.3, 9.0, M))
    for j in range(1, M // 2, 2):                 # pairs a ± ib as real 2 × 2 blocks
        w = rng.uniform(0.5, 3.0)
        D[j, j + 1], D[j + 1, j], D[j + 1, j + 1] = w, -w, D[j, j]
    if growing is not None:
        D[-1, -1] = growing
    S = rng.standard_normal((M, M)) @ np.diag(np.geomspace(1.0, 1e-3, M)) \
        @ np.linalg.qr(rng.standard_normal((M, M)))[0] + np.eye(M)
    A = S @ D @ np.linalg.inv(S)
    return _System(A, float(np.abs(A).sum(0).max()), M)


def _reference(A, b, taus):
    return np.array([expm_multiply(A * t, b) for t in taus])


@pytest.mark.parametrize("max_dim", [krylov.KRYLOV_MAX_DIM, 12])
def test_arnoldi_matches_expm_multiply(monkeypatch, max_dim):
    """Three start vectors, gaps 0 … 6 (‖Λ‖₁τ up to ~150): within 1e-11 of the largest
    value of SciPy's ``expm_multiply``; with a basis of at most 12 vectors the gaps are
    covered in steps, to the same accuracy."""
    monkeypatch.setattr(krylov, "KRYLOV_MAX_DIM", max_dim)
    sysm = _system()
    rng = np.random.default_rng(1)
    B = rng.standard_normal((3, sysm.M))
    gaps = [np.array([0.0, 1e-3, 0.4, 2.0, 6.0]), np.array([3.0]), np.array([0.0, 0.0])]
    stats = KrylovStats()
    out = expm_rows(sysm, B, gaps, stats)
    for r in range(3):
        ref = _reference(sysm.Lam, B[r], gaps[r])
        assert np.max(np.abs(out[r] - ref)) <= 1e-11 * np.max(np.abs(ref))
    assert (stats.steps > 0) == (max_dim == 12)
    assert stats.estimate <= krylov.KRYLOV_TOL


def test_a_zero_start_vector_stays_zero():
    sysm = _system(60)
    out = expm_rows(sysm, np.zeros((1, 60)), [np.array([0.5, 2.0])])
    assert np.array_equal(out[0], np.zeros((2, 60)))


def test_a_growing_mode_is_refused():
    """A mode with ``Re λ = +0.4`` (the Galerkin generator of too noisy averages) is found
    among the converged Ritz values and refused, not propagated."""
    sysm = _system(120, growing=0.4)
    with pytest.raises(AccuracyNotReachedError, match="growing mode"):
        expm_rows(sysm, np.random.default_rng(2).standard_normal((1, 120)),
                  [np.array([1.0, 5.0])])


def test_representation_propagates_repeated_and_broadcast_rows():
    """A state of one row against four gaps (two equal), and a block with repeated rows:
    each row is ``e^{τΛ}`` of its start (the distinct rows are propagated once)."""
    sysm = _system(80, seed=3)
    rng = np.random.default_rng(4)

    @dataclass
    class _Full(_System):
        pairing: np.ndarray = None
        a0: np.ndarray = None

    full = _Full(sysm.Lam, sysm.norm, sysm.M, rng.standard_normal(80),
                 rng.standard_normal(80))
    rep = KrylovRepresentation(full, horizon=3.0)
    gaps = np.array([1.0, 0.5, 1.0, 3.0])
    moved = rep.propagate(rep.encode(), gaps)
    np.testing.assert_allclose(moved, _reference(sysm.Lam, full.a0, gaps), rtol=0,
                               atol=1e-11 * np.abs(moved).max())
    rows = np.stack([full.a0, full.pairing, full.a0])
    moved = rep.propagate(rows, np.array([2.0, 2.0, 0.7]))
    ref = np.array([_reference(sysm.Lam, r, [g])[0]
                    for r, g in zip(rows, [2.0, 2.0, 0.7], strict=True)])
    np.testing.assert_allclose(moved, ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    assert rep.stats.bases == 3                      # a0 once, then a0 and π


def _tanh_net(n: int, seed: int = 0) -> SRNN:
    rng = np.random.default_rng(seed)
    return SRNN(np.eye(n), np.round(1.2 * rng.standard_normal((n, n)) / np.sqrt(n), 4),
                np.ones((n, 1)), 0.6 * np.eye(n),
                b=np.round(0.2 * rng.standard_normal(n), 4), activation="tanh")


def _kernels(model, monkeypatch, krylov_from, **opts):
    monkeypatch.setattr(route, "KRYLOV_FROM", krylov_from)
    H = ResponseHierarchy(model, "h1", 2)           # a fresh hierarchy, the model's caches
    k1 = H.kernel((0,)).evaluate([[0.1], [1.0], [3.0]], method="galerkin", **opts)
    k2 = H.kernel((0, 0)).evaluate([[0.5, 0.5], [2.0, 0.7]], method="galerkin", **opts)
    return k1, k2


_SAMPLED = dict(degree=4, measure="samples", paths=8000, seed=2)


@pytest.mark.parametrize("n, opts", [(6, _SAMPLED), (3, dict(degree=5))])
def test_galerkin_kernels_through_krylov_equal_the_modal_system(monkeypatch, n, opts):
    """The same kernels (6 units on the sampled measure, with its jackknife replicates
    and the stationary functional; 3 units on their default measure) through Krylov
    systems and through modal systems: values within 1e-9 of the largest and within both
    routes' rounding parts; the same truncation and statistical parts."""
    model = _tanh_net(n, seed=1)
    modal = _kernels(model, monkeypatch, 10 ** 9, **opts)
    kryl = _kernels(model, monkeypatch, 1, **opts)
    assert (kryl[0].details["route"]["measure"] == "samples") == (n == 6)
    for a, b in zip(modal, kryl, strict=True):
        ra, rb = a.details["route"], b.details["route"]
        assert (ra["propagator"], rb["propagator"]) == ("modal", "krylov")
        assert "cond_V" not in rb
        scale = float(np.max(np.abs(a.values)))
        dev = float(np.max(np.abs(a.values - b.values)))
        assert dev <= min(1e-9 * scale, ra["rounding"] + rb["rounding"])
        for part in ("truncation", "statistical"):
            assert abs(ra[part] - rb[part]) <= 1e-9 * scale + 1e-6 * ra[part]


def test_eight_units_at_degree_five_go_through_krylov(monkeypatch):
    """8 units at degree 5 (1,287 functions, κ(V) ≈ 1e6): the kernels take the Krylov
    system by default and agree with the modal system within its rounding part (on the
    Gaussian reference, which fits this network's p0)."""
    model = _tanh_net(8, seed=0)
    kryl = _kernels(model, monkeypatch, route.KRYLOV_FROM, degree=5)
    modal = _kernels(model, monkeypatch, 10 ** 9, degree=5)
    for a, b in zip(modal, kryl, strict=True):
        assert b.details["route"]["propagator"] == "krylov"
        assert b.details["route"]["basis"] == 1287
        assert b.details["route"]["measure"] == "gaussian"
        dev = float(np.max(np.abs(a.values - b.values)))
        assert dev <= a.details["route"]["rounding"] + b.details["route"]["rounding"]


def _series(model, monkeypatch, krylov_from, order=2, m=1, steps=None, **opts):
    """The series on [0, 6]; with ``steps`` the forward forms take that many steps (the
    full basis's step count is chosen by its own convergence, whose noise unit, ``κ(V)``,
    differs between the full and the reduced system; the lower degrees and replicates are
    run at that count, so their integration errors differ with it: 17 % in one time's
    jackknife part at 16 steps against 32 and more, where the two agree to 4e-7)."""
    monkeypatch.setattr(route, "KRYLOV_FROM", krylov_from)
    if steps is not None:
        forward = route.converged_forward

        def fixed(*args, **kwargs):
            return forward(*args, **{**kwargs, "K": kwargs.get("K") or steps})
        monkeypatch.setattr(route, "converged_forward", fixed)
    u = (lambda t: np.array([np.sin(t)])) if m == 1 else \
        (lambda t: np.array([np.sin(t), 0.5 * np.cos(2 * t)]))
    return ResponseHierarchy(model, "h1", order).series_terms(
        u, np.linspace(0.0, 6.0, 121), method="galerkin", **opts)


def _same_series(full, red, reduced: bool):
    assert ("reduced_to" in red.details) == reduced
    assert "reduced_to" not in full.details
    assert red.details["basis"] == full.details["basis"]
    dev = np.abs(np.asarray(full) - np.asarray(red)).max(axis=1)
    assert np.all(dev <= np.asarray(full.error).min(axis=1))
    assert np.all(dev <= 1e-9 * np.abs(np.asarray(full)).max())
    # the errors: the same but for the rounding part, 64 ε κ(V) per unit of size, where the
    # full system's κ(V) (8e5 for 8 units at degree 5: 1.2e-8) exceeds the reduced one's
    size = float(np.abs(np.asarray(full)).max()) + 1.0
    np.testing.assert_allclose(np.asarray(red.error), np.asarray(full.error), rtol=1e-5,
                               atol=2e-8 * size)


def test_order_two_series_of_eight_units_go_through_the_reduced_system(monkeypatch):
    """8 units at degree 5 (1,287 functions): the order-2 series on [0, 6] runs on the
    Krylov spaces of its trajectories (reduced to far fewer functions) and equals the
    full eigendecomposition's within 1e-9 of its largest value and below its errors."""
    model = _tanh_net(8, seed=0)
    red = _series(model, monkeypatch, route.KRYLOV_FROM, degree=5, steps=32)
    full = _series(model, monkeypatch, 10 ** 9, degree=5, steps=32)
    assert red.details["reduced_to"] < 400
    _same_series(full, red, True)


def test_reduced_series_with_two_channels_and_replicates(monkeypatch):
    """6 units, two input channels (two kicked start vectors on the pairing's side), on
    the sampled measure at degree 4 (210 functions; each jackknife replicate reduced, to
    about 120): the reduced series equals the full one, statistical part included."""
    model = _tanh_net(6, seed=1)
    model = SRNN(model.Gamma, model.W, np.c_[np.ones(6), np.linspace(-1.0, 1.0, 6)],
                 model.sigma, model.b, "tanh")
    red = _series(model, monkeypatch, 1, m=2, steps=32, **_SAMPLED)
    full = _series(model, monkeypatch, 10 ** 9, m=2, steps=32, **_SAMPLED)
    assert red.details["measure"] == "samples"
    _same_series(full, red, True)



def test_what_cannot_be_reduced_takes_the_full_system(monkeypatch):
    """Order 3 (its middle trajectories leave the spaces) and a horizon beyond
    ``REDUCTION_MAX_NORM_TIME`` are not reduced: the same values as the full system."""
    from volterra_sym.backends.galerkin import reduction

    model = _tanh_net(3)
    full = _series(model, monkeypatch, 10 ** 9, order=3, degree=6)
    third = _series(model, monkeypatch, 1, order=3, degree=6)
    np.testing.assert_array_equal(np.asarray(third), np.asarray(full))
    assert "reduced_to" not in third.details
    monkeypatch.setattr(reduction, "REDUCTION_MAX_NORM_TIME", 1.0)
    full = _series(model, monkeypatch, 10 ** 9, degree=5)
    long = _series(model, monkeypatch, 1, degree=5)
    assert "reduced_to" not in long.details
    np.testing.assert_array_equal(np.asarray(long), np.asarray(full))


def test_compared_degrees_through_krylov_check_from_above(monkeypatch):
    """A check from above (3 units, degree 5 against 6–8 on their density measure) with the
    compared degrees as Krylov systems and the full basis modal (the compared degrees
    are the larger): the same values and truncation parts as with modal systems
    throughout."""
    model = _tanh_net(3, seed=1)
    opts = dict(degree=5, check="above")
    modal = _kernels(model, monkeypatch, 10 ** 9, **opts)
    mixed = _kernels(model, monkeypatch, 80, **opts)        # 56 | 84, 120, 165 functions
    for a, b in zip(modal, mixed, strict=True):
        assert b.details["route"]["check"] == "above"
        assert b.details["route"]["propagator"] == "modal"
        assert np.max(np.abs(a.values - b.values)) == 0.0
        assert b.details["route"]["truncation"] == pytest.approx(
            a.details["route"]["truncation"], rel=1e-8, abs=1e-12)


def test_a_growing_mode_of_a_compared_degree_refuses_like_its_system(monkeypatch):
    """A growing mode found by the Krylov propagation of a compared degree is the
    TruncationCheckError its modal system would have raised (naming that degree)."""
    from volterra_sym.errors import TruncationCheckError

    monkeypatch.setattr(krylov, "growing_ritz", lambda H, m, scale: 0.5)
    with pytest.raises(TruncationCheckError, match="compares with degree 6") as info:
        _kernels(_tanh_net(3, seed=1), monkeypatch, 80, degree=5, check="above")
    assert info.value.degree == 6


def test_a_propagation_that_would_take_too_many_steps_is_refused(monkeypatch):
    """Lags far beyond what a small basis reaches in the allowed steps: refused with the
    project's error, not a hang."""
    monkeypatch.setattr(krylov, "KRYLOV_MAX_DIM", 4)
    monkeypatch.setattr(krylov, "KRYLOV_MAX_STEPS", 3)
    sysm = _system(60)
    with pytest.raises(AccuracyNotReachedError, match="within 3 steps"):
        expm_rows(sysm, np.ones((1, 60)), [np.array([50.0])])
