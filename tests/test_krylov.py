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


@pytest.mark.parametrize("opts", [dict(degree=4, measure="samples", paths=8000, seed=2),
                                  dict(degree=5)])
def test_galerkin_kernels_through_krylov_equal_the_modal_system(monkeypatch, opts):
    """The same kernels (3 units; the sampled measure with its jackknife replicates and
    the stationary functional, and the default measure) through Krylov systems and
    through modal systems: values within 1e-9 of the largest and within both routes'
    rounding parts; the same truncation and statistical parts."""
    model = _tanh_net(3)
    modal = _kernels(model, monkeypatch, 10 ** 9, **opts)
    kryl = _kernels(model, monkeypatch, 1, **opts)
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
