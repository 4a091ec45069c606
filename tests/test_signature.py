"""Tests of volterra_sym.features.signature (expanding-window signatures, response features).

Reference values are computed independently here: dense cumulative-trapezoid iterated
integrals, closed-form path integrals, roughpy, and a tensor product written in the test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from volterra_sym.features import (
    FeatureLayout,
    expanding_signature,
    feature_layout,
    iter_response_features,
    response_features,
    signature_levels,
    signature_size,
    signature_words,
    tensor_exp,
)
from volterra_sym.features.signature import _expanding_from_increments

# ----------------------------------------------------------------------------- helpers


def cumtrapz0(f: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid along axis 0, starting at 0."""
    h = np.diff(s).reshape((-1,) + (1,) * (f.ndim - 1))
    out = np.zeros_like(f)
    out[1:] = np.cumsum(0.5 * (f[1:] + f[:-1]) * h, axis=0)
    return out


def iterated_integrals(s: np.ndarray, dx: np.ndarray) -> list[np.ndarray]:
    """Levels 1..3 of ∫_{r1<r2<r3<t} dX^i dX^j dX^k from the derivative dx (M, d) on s."""
    s1 = cumtrapz0(dx, s)
    s2 = cumtrapz0(s1[:, :, None] * dx[:, None, :], s)
    s3 = cumtrapz0(s2[:, :, :, None] * dx[:, None, None, :], s)
    return [s1, s2, s3]


def tensor_product(a: np.ndarray, b: np.ndarray, d: int, depth: int) -> np.ndarray:
    """Truncated product of two flat signatures (written independently of the module)."""
    offs = np.cumsum([0] + [d**n for n in range(depth + 1)])
    lev = lambda v, n: v[offs[n] : offs[n + 1]]  # noqa: E731
    res = []
    for n in range(depth + 1):
        acc = np.zeros(d**n)
        for i in range(n + 1):
            acc += np.multiply.outer(lev(a, i), lev(b, n - i)).ravel()
        res.append(acc)
    return np.concatenate(res)


def random_path(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.cumsum(rng.normal(scale=0.3, size=shape), axis=-2)


# ----------------------------------------------------------------------------- layout


def test_words_and_size() -> None:
    assert signature_words(2, 2) == [(), (0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
    assert signature_size(10, 3) == 1111
    assert len(signature_words(3, 4)) == signature_size(3, 4)
    lay = feature_layout(2, 4, 3)
    assert lay.d == 10 and lay.size == 1111
    assert lay.letters[7] == (1, 2) and lay.letter_index(1, 2) == 7
    w = ((1, 2), (0, 0), (0, 4))
    i = lay.word_index(w)
    assert lay.describe(i) == w and lay.words[i] == (7, 0, 4)
    assert lay.word_index([7, 0, 4]) == i
    assert lay.level_slice(2) == slice(11, 111)


# ----------------------------------------------------------------------------- correctness


def test_against_independent_iterated_integrals() -> None:
    """X(s) = (sin s, s^2): all levels <= 3 at many times vs dense trapezoid iterated
    integrals; the piecewise-linear (chord) error must shrink like h^2."""
    s = np.linspace(0.0, 2.0, 200_001)
    ref = iterated_integrals(s, np.stack([np.cos(s), 2 * s], axis=1))
    errs = []
    for n in (2001, 20001):
        sc = np.linspace(0.0, 2.0, n)
        levels = signature_levels(np.stack([np.sin(sc), sc**2], axis=1), 3)
        k = (n - 1) // 10
        np.testing.assert_allclose(levels[0], 1.0)
        err = max(np.max(np.abs(levels[m][::k] - ref[m - 1][::20000])) for m in (1, 2, 3))
        errs.append(err)
    assert errs[0] < 5e-6  # h = 1e-3, values O(10)
    assert 50 < errs[0] / errs[1] < 200  # O(h^2) convergence of the chord approximation


@pytest.mark.parametrize("kind", ["callable", "samples"])
def test_response_features_iterated_integrals(kind: str) -> None:
    """u = cos (m=1, degree 1): X = (sin s, s sin s + cos s - 1); levels 1..3 vs the
    independent iterated integrals, for callable and sampled input."""
    s = np.linspace(0.0, 2.0, 200_001)
    ref = iterated_integrals(s, np.stack([np.cos(s), s * np.cos(s)], axis=1))
    t = np.linspace(0.0, 2.0, 201)
    u = np.cos if kind == "callable" else np.cos(t)
    f = response_features(u, t, 3, 1, refine=16)
    assert f.values.shape == (201, signature_size(2, 3))
    for m, tol in ((1, 2e-9), (2, 1e-7), (3, 1e-7)):
        np.testing.assert_allclose(f.level(m)[::20], ref[m - 1][::20000], rtol=0, atol=tol)
    # word convention: first letter earliest. S^{(0,1),(0,0)} = ∫_{r1<r2} r1 cos r1 cos r2.
    np.testing.assert_allclose(
        f.coefficient([(0, 1), (0, 0)])[::20], ref[1][::20000, 1, 0], atol=1e-7
    )


def test_roughpy_last_window() -> None:
    rp = pytest.importorskip("roughpy")
    rng = np.random.default_rng(1)
    d, depth, n = 3, 4, 60
    xb = random_path(rng, (3, n + 1, d))
    ours = expanding_signature(xb, depth)
    ctx = rp.get_context(width=d, depth=depth, coeffs=rp.DPReal)
    for b in range(3):
        for stop in (n, 25):  # last window and an intermediate one
            inc = np.diff(xb[b, : stop + 1], axis=0)
            stream = rp.LieIncrementStream.from_increments(
                inc, indices=np.arange(stop) / stop, ctx=ctx
            )
            theirs = np.array(stream.signature(rp.RealInterval(0, 1)))
            offs = np.cumsum([0] + [d**k for k in range(depth + 1)])
            for k in range(depth + 1):  # level by level (same lexicographic layout)
                sl = slice(offs[k], offs[k + 1])
                np.testing.assert_allclose(ours[b, stop, sl], theirs[sl], rtol=1e-10, atol=1e-10)


def test_roughpy_response_features() -> None:
    """Last window of a batched sampled input (m=2, degree 2, depth 3) vs roughpy fed
    with the same fine path increments."""
    rp = pytest.importorskip("roughpy")
    from volterra_sym.features import feature_path_increments

    t = np.linspace(0.0, 1.5, 40)
    u = np.stack([np.sin(3 * t), np.exp(-t)], axis=-1)
    u = np.stack([u, 2 * u[..., ::-1]])  # (2, T, 2)
    f = response_features(u, t, 3, 2, refine=2)
    dx, _, pos, m = feature_path_increments(u, t, 2, refine=2)
    assert m == 2 and dx.shape == (2, 78, 6) and pos[-1] == 78
    ctx = rp.get_context(width=6, depth=3, coeffs=rp.DPReal)
    for b in range(2):
        stream = rp.LieIncrementStream.from_increments(
            np.ascontiguousarray(dx[b]),
            indices=np.arange(78) / 78,
            ctx=ctx,  # roughpy ignores strides
        )
        theirs = np.array(stream.signature(rp.RealInterval(0, 1)))
        np.testing.assert_allclose(f.values[b, -1], theirs, rtol=1e-10, atol=1e-13)


def test_chen_identity_and_low_levels() -> None:
    rng = np.random.default_rng(2)
    d, depth = 3, 4
    a = random_path(rng, (15, d))
    b = random_path(rng, (12, d))
    b += a[-1] - b[0]  # continues from the end of a
    both = np.concatenate([a, b[1:]])
    s_a = expanding_signature(a, depth)[-1]
    s_b = expanding_signature(b, depth)[-1]
    s_ab = expanding_signature(both, depth)
    np.testing.assert_allclose(s_ab[-1], tensor_product(s_a, s_b, d, depth), atol=1e-12)
    # the expanding window at the junction is the signature of a
    np.testing.assert_allclose(s_ab[len(a) - 1], s_a, atol=1e-13)
    # a single segment is the tensor exponential
    np.testing.assert_allclose(
        expanding_signature(a[:2], depth)[-1], tensor_exp(a[1] - a[0], depth), atol=1e-15
    )
    # level 1 = increment, symmetric part of level 2 = (1/2) increment ⊗ increment
    lv = signature_levels(both, 2)
    inc = both - both[0]
    np.testing.assert_allclose(lv[1], inc, atol=1e-12)
    sym = 0.5 * (lv[2] + np.swapaxes(lv[2], -1, -2))
    np.testing.assert_allclose(sym, 0.5 * inc[:, :, None] * inc[:, None, :], atol=1e-12)


def test_sparse_and_dense_engines_agree() -> None:
    rng = np.random.default_rng(3)
    x = random_path(rng, (4, 51, 3))
    full = expanding_signature(x, 3)
    dx = np.diff(x, axis=1)
    for dense in (True, False):
        for block in (None, 1, 7, 50):
            for idx in ([0, 17, 50], [50, 3, 3, 0, 49], list(range(51))):
                out = np.empty((4, len(idx), full.shape[-1]))
                _expanding_from_increments(dx, 3, np.array(idx), out, block=block, dense=dense)
                np.testing.assert_allclose(out, full[:, idx], atol=1e-12)
    np.testing.assert_allclose(expanding_signature(x, 3, out_index=[-1, 5]), full[:, [50, 5]])


# ----------------------------------------------------------------------------- quadrature


def test_path_quadrature_closed_form() -> None:
    """u(t) = sin(2t): X^{(0,q)}(t) = ∫_0^t r^q sin(2r) dr, q = 0..4, to ~1e-12."""
    t = np.linspace(0.0, 5.0, 51)

    def closed(q: int, x: np.ndarray) -> np.ndarray:
        # repeated integration by parts: ∫ r^q sin(2r) = I_q, I_q = -r^q cos/2 + q/2 ∫ r^{q-1} cos
        c, s = np.cos(2 * x), np.sin(2 * x)
        forms = {
            0: (1 - c) / 2,
            1: -x * c / 2 + s / 4,
            2: -(x**2) * c / 2 + x * s / 2 + c / 4 - 1 / 4,
            3: -(x**3) * c / 2 + 3 * x**2 * s / 4 + 3 * x * c / 4 - 3 * s / 8,
            4: -(x**4) * c / 2 + x**3 * s + 3 * x**2 * c / 2 - 3 * x * s / 2 - 3 * c / 4 + 3 / 4,
        }
        return forms[q]

    f = response_features(lambda r: np.sin(2 * r), t, 1, 4)
    for q in range(5):
        np.testing.assert_allclose(f.coefficient([(0, q)]), closed(q, t), rtol=1e-12, atol=1e-12)
    # sampled input: cubic local interpolation, global error O(h^4)
    errs = []
    for n in (101, 201):
        ts = np.linspace(0.0, 5.0, n)
        fs = response_features(np.sin(2 * ts), ts, 1, 4, refine=1)
        errs.append(
            max(
                np.max(np.abs(fs.coefficient([(0, q)]) - closed(q, ts))) / np.max(closed(q, ts))
                for q in range(5)
            )
        )
    assert errs[0] < 1e-5 and 12 < errs[0] / errs[1] < 20


def test_callable_forms_agree_and_start_after_zero() -> None:
    t = np.linspace(0.5, 2.0, 16)  # times[0] > 0: the segment [0, 0.5] is included
    ref = response_features(lambda r: np.array([np.sin(r), r**2]), t, 2, 1)
    forms = [
        lambda r: [math.sin(r), r * r],  # pointwise only (math.sin fails on arrays)
        lambda r: np.stack([np.sin(r), np.asarray(r) ** 2], axis=-1),  # (N, m)
        lambda r: np.stack([np.sin(r), np.asarray(r) ** 2]),  # (m, N)
    ]
    for g in forms:
        np.testing.assert_allclose(response_features(g, t, 2, 1).values, ref.values, atol=1e-14)
    np.testing.assert_allclose(ref.coefficient([(0, 0)]), 1 - np.cos(t), atol=1e-13)
    np.testing.assert_allclose(ref.coefficient([(1, 0)]), t**3 / 3, atol=1e-13)
    assert abs(ref.values[0, ref.layout.word_index([(0, 0), (1, 0)])]) > 1e-3
    scal = response_features(math.cos, t, 2, 0)  # scalar-returning, m = 1
    vec = response_features(np.cos, t, 2, 0)  # vectorised (N,)
    assert scal.layout.m == 1
    np.testing.assert_allclose(scal.values, vec.values, atol=1e-14)


def test_batch_chunks_times_out() -> None:
    rng = np.random.default_rng(4)
    t = np.linspace(0.0, 1.0, 30)
    u = rng.normal(size=(5, 30, 2))
    full = response_features(u, t, 3, 1, chunk_size=2)
    assert full.values.shape == (5, 30, signature_size(4, 3))
    np.testing.assert_allclose(full.values[3], response_features(u[3], t, 3, 1).values)
    sub = response_features(u, t, 3, 1, times_out=t[[29, 0, 10]])
    np.testing.assert_allclose(sub.values, full.values[:, [29, 0, 10]], atol=1e-13)
    np.testing.assert_allclose(sub.times, t[[29, 0, 10]])
    chunks = list(iter_response_features(u, t, 3, 1, chunk_size=2, times_out=t[-1:]))
    assert [sl.start for sl, _ in chunks] == [0, 2, 4]
    np.testing.assert_allclose(
        np.concatenate([c.values for _, c in chunks]), full.values[:, -1:], atol=1e-13
    )
    assert np.asarray(sub).shape == (5, 3, 85)
    assert isinstance(sub.layout, FeatureLayout)


def test_reduce_callback() -> None:
    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 2.0, 150)
    u = rng.normal(size=(3, 150, 1))
    w = rng.normal(size=(signature_size(3, 3), 4))
    full = response_features(u, t, 3, 2)
    for times_out in (None, t[[0, 149, 70]], t[:0]):
        red = response_features(u, t, 3, 2, times_out=times_out, reduce=lambda v: v @ w)
        sel = full.values if times_out is None else full.values[:, np.searchsorted(t, times_out)]
        assert red.reduced and red.values.shape == sel.shape[:2] + (4,)
        np.testing.assert_allclose(red.values, sel @ w, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="reduced"):
        red.level(1)
    with pytest.raises(ValueError, match="reduce must map"):
        response_features(u, t, 3, 2, reduce=lambda v: v.sum(-1))
    with pytest.raises(ValueError, match="reduce must be callable"):
        response_features(u, t, 3, 2, reduce=3)


def test_edge_cases() -> None:
    ident = np.zeros(7)
    ident[0] = 1.0
    for u in (math.sin, np.sin, np.ones(1)):  # a single time at 0: the identity
        np.testing.assert_allclose(response_features(u, [0.0], 2, 1).values, [ident])
    single = response_features(np.sin, [0.7], 2, 0).values  # only the segment [0, 0.7]
    np.testing.assert_allclose(single[0, 1], 1 - math.cos(0.7), atol=1e-14)
    quad = response_features(np.array([0.0, 1.0, 4.0]), [0.0, 1.0, 2.0], 1, 0)  # u = t^2
    np.testing.assert_allclose(quad.values[:, 1], [0.0, 1 / 3, 8 / 3], atol=1e-14)
    assert response_features(np.cos, np.linspace(0, 1, 5), 2, 0, times_out=[]).values.shape == (
        0,
        3,
    )
    with_const = response_features(lambda r: np.array([1.0, 2.0]), [0.0, 1.0], 1, 0)
    np.testing.assert_allclose(with_const.values[-1], [1.0, 1.0, 2.0], atol=1e-14)


def test_quadrature_warning() -> None:
    with pytest.warns(RuntimeWarning, match="did not reach rtol"):
        response_features(lambda r: np.sqrt(np.abs(r - 0.3)), [0.0, 1.0], 1, 0, refine=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response_features(np.sin, [0.0, 1.0], 1, 0, quad_points=3)  # fixed rule: no check


# ----------------------------------------------------------------------------- bad input

T5 = np.linspace(0.0, 1.0, 5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: response_features(np.ones((6, 2)), T5, 2, 1), "shape"),
        (lambda: response_features(np.ones((2, 5, 2, 1)), T5, 2, 1), "shape"),
        (lambda: response_features(np.ones((0, 5, 2)), T5, 2, 1), "shape"),
        (lambda: expanding_signature(np.ones(5), 2), "X must have shape"),
        (lambda: expanding_signature(np.ones((1, 2, 3, 4)), 2), "X must have shape"),
        (lambda: response_features(lambda r: np.ones((2, 2)), T5, 2, 1), "u\\(t\\)"),
        (lambda: response_features(np.full((5, 1), np.nan), T5, 2, 1), "u contains NaN"),
        (lambda: response_features(np.array([0, 1, np.inf, 0, 0]), T5, 2, 1), "u contains"),
        (lambda: expanding_signature([[0.0], [np.inf]], 2), "X contains NaN"),
        (
            lambda: response_features(lambda r: np.where(r > 0.5, np.nan, r), T5, 2, 1),
            "u returned NaN",
        ),
        (lambda: response_features(np.sin, T5, 0, 1), "depth must be a positive integer"),
        (lambda: response_features(np.sin, T5, -2, 1), "depth must be a positive integer"),
        (lambda: response_features(np.sin, T5, 1.5, 1), "depth must be a positive integer"),
        (lambda: response_features(np.sin, T5, True, 1), "depth must be a positive integer"),
        (lambda: expanding_signature(np.ones((3, 2)), 0), "depth must be a positive integer"),
        (lambda: response_features(np.sin, T5, 2, -1), "degree must be an integer ≥ 0"),
        (lambda: response_features(np.sin, T5, 2, 0.5), "degree must be an integer ≥ 0"),
        (lambda: response_features(np.sin, [0.0, 0.5, 0.5, 1.0], 2, 1), "strictly increasing"),
        (lambda: response_features(np.sin, [0.0, 1.0, 0.5], 2, 1), "strictly increasing"),
        (lambda: response_features(np.sin, [-0.1, 0.5], 2, 1), "times must be non-negative"),
        (lambda: response_features(np.sin, [0.0, np.nan], 2, 1), "times contains NaN"),
        (lambda: response_features(np.sin, np.ones((2, 2)), 2, 1), "times must be"),
        (lambda: response_features(np.sin, T5, 2, 1, refine=0),
         "refine must be a positive integer"),
        (lambda: response_features(np.sin, T5, 2, 1, times_out=[0.3]), "times_out"),
        (lambda: response_features(np.sin, T5, 2, 1, rtol=-1.0), "rtol"),
        (lambda: response_features(np.ones(5), T5 + 1, 2, 1), "times\\[0\\] == 0"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
