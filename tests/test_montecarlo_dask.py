"""Monte Carlo on a Dask cluster (THEORY §12) and control variates (THEORY §7).

* A 2-worker ``distributed.LocalCluster`` (processes, loopback) is started here: responses,
  FDT, Girsanov and kick kernel estimates, three-level CRN responses and ensembles are
  compared BITWISE in-process, on two workers and on one; a worker is killed mid-run and
  the result must not change.
* Control variates from the linearised network: the closed forms used for its exact
  kernels/responses are checked against the exact backend; on a weakly nonlinear 8-unit
  tanh network (gain 0.5) the variance falls ≥ 10× (K₁ by FDT and Girsanov, the CRN
  response of a quadratic observable after two relaxation times), ≥ 2× at gain 1, and the
  estimates agree with independent plain estimates within 4 combined standard errors.

The 8-unit network is a gradient system (``W`` diagonal, ``Γ`` symmetric, ``σ = sI``), so
its conjugate variable is known in closed form (written here, independently of the
density module): ``p0 ∝ exp(2U/s²)``, ``∇U = φ``, hence
``v = -C·∇log p0 = (2/s²) Cᵀ(Γh - tanh(Wh + b))``.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import volterra_sym
from volterra_sym.errors import InvalidInputError, NotApplicableError, UnsupportedOrderError
from volterra_sym.hierarchy import ResponseHierarchy
from volterra_sym.model import SRNN
from volterra_sym.montecarlo import (
    burn_in_sampler,
    crn_responses,
    first_order_kernel,
    kick_kernel,
    parity_matrix,
    response,
    second_order_kernel,
    simulate,
)
from volterra_sym.montecarlo.control import linear_kernel_exact, linear_response_exact

distributed = pytest.importorskip("distributed")


# ---------------------------------------------------------------------- models
def gradient_tanh(n: int, gain: float, seed: int = 0, s: float = 0.5, coupling: float = 0.12):
    """``Γ = I + MMᵀ`` (eigenvalues ≥ 1), ``W = gain·I``, ``σ = sI``, one input channel."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n)) * coupling
    G = np.eye(n) + M @ M.T
    W = gain * np.eye(n)
    C = rng.normal(size=(n, 1)) * 0.5
    b = 0.2 * rng.normal(size=n)
    model = SRNN(G, W, C, s, b=b, activation="tanh", observable="h1 + 0.5*h2")

    def conj(h):
        return (h @ G.T - np.tanh(h @ W.T + b)) @ C * (2.0 / s**2)
    return model, conj


def u_sin(t):
    return np.array([np.sin(2.0 * t)])


# ---------------------------------------------------------------------- the cluster
@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    cl = distributed.Client(cluster)
    try:
        paths = set(cl.run(lambda: __import__("volterra_sym").__file__).values())
        assert paths == {volterra_sym.__file__}, \
            f"workers import another volterra_sym: {paths} (run pytest with python -m)"
        yield cl
    finally:
        cl.close()
        cluster.close()


@pytest.fixture(scope="module")
def small():
    model, conj = gradient_tanh(2, 0.5, seed=3, coupling=0.3)
    sampler = burn_in_sampler(model, t_burn=5.0, dt=0.05)
    return model, conj, sampler


def _runs(small, **extra):
    """A response (with and without control variate), FDT and Girsanov K₁, an ensemble."""
    model, conj, sampler = small
    kw = dict(n_paths=768, dt=0.05, chunk_size=256, seed=11, initial=sampler, **extra)
    out = {}
    r = response(model, u_sin, 0.5, [0.5, 1.0], observable="h1**2 + h2", **kw)
    out["response"] = (r.value, r.stderr, r.bias, r.bias_stderr, r.baseline)
    r = response(model, u_sin, 0.5, [1.0], observable="h1**2 + h2", control_variate=True,
                 sync=1.0, **kw)
    out["response_cv"] = (r.value, r.stderr, r.bias, r.variance_reduction)
    k = first_order_kernel(model, [0.0, 0.5], method="fdt", conjugate=conj, n_origins=3,
                           origin_stride=0.25, **kw)
    out["fdt"] = (k.value, k.stderr, k.bias, k.bias_stderr)
    k = first_order_kernel(model, [0.0, 0.5], method="girsanov", window=0.1, n_origins=3,
                           origin_stride=0.25, **kw)
    out["girsanov"] = (k.value, k.stderr, k.bias, k.bias_stderr)
    e = simulate(model, [0.25, 0.5], observable="h1**2", **kw)
    out["simulate"] = (e.states, e.values)
    k = kick_kernel(model, [[0.0, 0.5], [0.25, 0.25]], observable="h1**2 + h2",
                    n_paths=768, dt=0.05, chunk_size=256, seed=11,
                    client=extra.get("client"))
    out["kick"] = (k.value, k.stderr, k.bias, k.bias_stderr)
    c = crn_responses(model, u_sin, [0.3, -0.3], [0.5, 1.0], observable="h1**2 + h2",
                      n_paths=768, dt=0.05, chunk_size=256, seed=11, levels=3,
                      combine=parity_matrix(1), client=extra.get("client"))
    out["crn"] = (c.value, c.stderr, c.bias, c.remainder, c.remainder_stderr)
    return out


def _assert_bitwise(a: dict, b: dict, label: str) -> None:
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name], strict=True):
            assert np.array_equal(np.asarray(x), np.asarray(y)), f"{label}: {name} differs"


def test_bitwise_in_process_two_workers_one_worker(client, small):
    ref = _runs(small)
    two = _runs(small, client=client)
    _assert_bitwise(ref, two, "2 workers")
    # one worker: scale the cluster down (then back to two for the next test)
    client.cluster.scale(1)
    deadline = time.time() + 60
    while len(client.scheduler_info()["workers"]) != 1 and time.time() < deadline:
        time.sleep(0.1)
    n_now = len(client.scheduler_info()["workers"])
    one = _runs(small, client=client) if n_now == 1 else None
    client.cluster.scale(2)
    client.wait_for_workers(2, timeout=120)
    assert n_now == 1, "could not scale the cluster to one worker"
    _assert_bitwise(ref, one, "1 worker")


def test_a_killed_worker_does_not_change_the_result(client, small):
    model, conj, sampler = small
    kw = dict(n_paths=256 * 16, dt=0.05, chunk_size=256, seed=5, initial=sampler,
              method="girsanov", window=0.1, n_origins=8, origin_stride=0.5)
    ref = first_order_kernel(model, [0.0, 0.5, 1.0], **kw)
    sched = client.cluster.scheduler
    box: dict = {}

    def run():
        try:
            box["result"] = first_order_kernel(model, [0.0, 0.5, 1.0], client=client, **kw)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    async def die():  # a coroutine: client.run(..., wait=False) needs one
        os._exit(1)

    th = threading.Thread(target=run)
    th.start()
    killed = None
    seen: set = set()
    deadline = time.time() + 120
    while killed is None and th.is_alive() and time.time() < deadline:
        chunks = {key: ts for key, ts in list(sched.tasks.items())
                  if str(key).startswith("volterra-chunk")}
        seen |= set(chunks)
        done = len(seen - set(chunks)) + sum(ts.state == "memory" for ts in chunks.values())
        running = [ts for ts in chunks.values()
                   if ts.state == "processing" and ts.processing_on is not None]
        if done >= 2 and running:
            killed = running[0].processing_on.address
            client.run(die, workers=[killed], wait=False)
        time.sleep(0.01)
    th.join(timeout=300)
    assert "error" not in box, box.get("error")
    assert killed is not None, "the run finished before a worker could be killed"
    np.testing.assert_array_equal(box["result"].value, ref.value)
    np.testing.assert_array_equal(box["result"].stderr, ref.stderr)
    np.testing.assert_array_equal(box["result"].bias, ref.bias)
    client.wait_for_workers(2, timeout=120)
    assert killed not in client.scheduler_info()["workers"]


def test_client_argument_is_checked(small):
    model, _, sampler = small
    with pytest.raises(InvalidInputError, match="client") as exc:
        simulate(model, [0.1], n_paths=10, dt=0.05, initial=sampler, client="tcp://x:1")
    assert exc.value.param == "client"


# ---------------------------------------------------------------------- control variates
def test_linear_closed_forms_match_the_exact_backend():
    m = SRNN([[1.2, 0.2, 0], [-0.3, 1.5, 0.1], [0, 0.2, 1.0]],
             [[0, 0.3, 0], [0.2, 0, 0.1], [0.1, 0, 0]], [[1, 0], [0.5, 1], [0, -0.5]],
             [[0.7, 0, 0], [0, 0.6, 0], [0, 0, 0.8]], b=[0.3, -0.2, 0.1])
    f = m.observable("h1**2 + 0.4*h1*h3 - h2 + 0.5*h3**2 + 2")
    H = ResponseHierarchy(m, f, 2)
    lags = np.array([0.0, 0.3, 1.1])
    ref = np.stack([np.asarray(H.kernel(k).evaluate(lags[:, None], method="exact"))
                    for k in range(2)], axis=1)
    np.testing.assert_allclose(linear_kernel_exact(m, f, lags, None), ref, atol=1e-13)
    x, w = np.polynomial.legendre.leggauss(16)
    pts = lags[:, None] + 0.1 * (x + 1)
    refw = np.stack([np.asarray(H.kernel(k).evaluate(pts.reshape(-1, 1), method="exact"))
                     .reshape(pts.shape) @ (0.5 * w) for k in range(2)], axis=1)
    np.testing.assert_allclose(linear_kernel_exact(m, f, lags, 0.2), refw, atol=1e-13)
    u = lambda t: np.array([np.sin(2 * t), 0.5 * np.cos(t)])  # noqa: E731
    times = np.array([0.5, 1.0, 3.0])
    T = np.asarray(H.series_terms(u, times, method="exact"))
    np.testing.assert_allclose(linear_response_exact(m, f, u, 0.7, times),
                               0.7 * T[1] + 0.49 * T[2], atol=1e-11)


@pytest.fixture(scope="module")
def nets():
    out = {}
    for gain in (0.5, 1.0):
        model, conj = gradient_tanh(8, gain)
        out[gain] = (model, conj, burn_in_sampler(model, t_burn=10.0, dt=0.1))
    return out


def _agree(a_val, a_se, b_val, b_se, k=4.0, bias=0.0):
    """Within k combined standard errors (plus measured time-step biases, if given)."""
    err = np.abs(np.asarray(a_val) - np.asarray(b_val))
    tol = k * np.hypot(a_se, b_se) + bias
    assert np.all(err <= tol), f"\n{a_val}\n{b_val}\nerr {err}\ntol {tol}"


@pytest.mark.parametrize("method", ["fdt", "girsanov"])
@pytest.mark.parametrize("gain,factor", [(0.5, 10.0), (1.0, 2.0)])
def test_control_variate_kernel(nets, method, gain, factor):
    model, conj, sampler = nets[gain]
    kw = dict(method=method, n_origins=2, origin_stride=1.0, dt=0.1, initial=sampler,
              estimate_bias=False, conjugate=conj if method == "fdt" else None,
              window=None if method == "fdt" else 0.1)
    lags = [0.0, 1.0, 2.0]
    cv = first_order_kernel(model, lags, n_paths=1024, seed=1, control_variate=True, **kw)
    assert np.all(cv.variance_reduction >= factor), cv.variance_reduction
    assert np.all(cv.details["variance_reduction_unit"] == cv.variance_reduction)
    plain = first_order_kernel(model, lags, n_paths=1024, seed=2, **kw)
    assert plain.variance_reduction is None
    _agree(cv.value, cv.stderr, plain.value, plain.stderr)
    assert np.all(cv.stderr < plain.stderr)


@pytest.mark.parametrize("gain,factor,t0", [(0.5, 10.0, 4.0), (1.0, 2.0, 8.0)])
def test_control_variate_response_of_a_quadratic_observable(nets, gain, factor, t0):
    """Over one period of the driven response, from t0 ≥ 2 relaxation times of the
    linearised network (τ = 1/min Re λ(A_L)) on.

    The factor is the pooled one, ``Σ_t Var X_t / Σ_t Var(X_t - Y_t)``: where the response
    crosses zero, the linear part of the CRN difference (∝ δ(t)) vanishes and so does most
    of the plain variance; there the per-time factor falls to ~1-2 (measured: 1.07 at
    gain 1, t = 8.5) while both standard errors are at their smallest.
    The comparison with the plain estimator allows the measured time-step biases:
    freezing u = sin(2t) on steps of 0.1 biases the plain estimate by ~1e-2, which the
    control variate mostly removes (its linear part is exact in continuous time)."""
    model, _, sampler = nets[gain]
    times = t0 + np.arange(7) * (np.pi / 6)
    times = np.round(times, 1)
    kw = dict(observable="h1**2 + h2*h3 + h4", dt=0.1, initial=sampler)
    cv = response(model, u_sin, 0.5, times, n_paths=1024, seed=1, control_variate=True, **kw)
    lin = cv.details
    assert lin["linearization"] == "statistical"
    beta = np.asarray(lin["slopes"])
    A_L = np.asarray(model.numpy_params()["Gamma"]) - gain * np.diag(beta)
    tau = 1.0 / np.min(np.linalg.eigvals(A_L).real)
    assert t0 >= 2 * tau, tau
    pooled = np.sum(lin["plain_stderr"] ** 2) / np.sum(cv.stderr ** 2)
    assert pooled >= factor, (pooled, cv.variance_reduction)
    plain = response(model, u_sin, 0.5, times, n_paths=1024, seed=2, **kw)
    _agree(cv.value, cv.stderr, plain.value, plain.stderr,
           bias=np.abs(cv.bias) + np.abs(plain.bias)
           + 4 * np.hypot(cv.bias_stderr, plain.bias_stderr))


def test_control_variate_optimal_coefficient_is_never_worse(nets):
    model, conj, sampler = nets[1.0]
    kw = dict(method="fdt", conjugate=conj, n_origins=2, origin_stride=1.0, dt=0.1,
              initial=sampler, n_paths=1024, seed=1, control_variate=True)
    unit = first_order_kernel(model, [0.0, 1.0], **kw)
    opt = first_order_kernel(model, [0.0, 1.0], control_coefficient="optimal", **kw)
    assert np.all(opt.stderr <= unit.stderr * (1 + 1e-12))
    assert np.all(opt.variance_reduction >= unit.variance_reduction * (1 - 1e-12))
    _agree(opt.value, opt.stderr, unit.value, unit.stderr)
    assert opt.bias is not None and unit.bias is not None


def test_control_variate_not_used_for_a_linear_observable_response(nets):
    model, _, sampler = nets[0.5]
    r = response(model, u_sin, 0.5, [1.0], observable="h1 + 0.5*h2", n_paths=512, dt=0.1,
                 initial=sampler, seed=1, control_variate=True, estimate_bias=False)
    assert r.variance_reduction is None
    assert "deterministic" in r.details["control_variate"]
    assert "not used" in r.details["control_variate"]


def test_control_variate_refusals(nets):
    model, conj, sampler = nets[0.5]
    lin = SRNN(np.eye(2), 0.2 * np.eye(2), [[1.0], [0.0]], 0.5)
    with pytest.raises(NotApplicableError, match="linear"):
        first_order_kernel(lin, [0.0], n_paths=10, dt=0.1, control_variate=True)
    with pytest.raises(NotApplicableError, match="callable"):
        first_order_kernel(model, [0.0], n_paths=10, dt=0.1, control_variate=True,
                           conjugate=conj, initial=sampler, observable=lambda h: h[..., 0])
    with pytest.raises(NotApplicableError, match="polynomial"):
        first_order_kernel(model, [0.0], n_paths=10, dt=0.1, control_variate=True,
                           method="girsanov", initial=sampler, observable="tanh(h1)")
    with pytest.raises(UnsupportedOrderError):
        second_order_kernel(model, [[0.0, 0.0]], n_paths=10, dt=0.1, control_variate=True)
    with pytest.raises(InvalidInputError, match="control_coefficient"):
        first_order_kernel(model, [0.0], n_paths=10, dt=0.1, control_variate=True,
                           method="girsanov", initial=sampler, control_coefficient="best")
    with pytest.raises(InvalidInputError, match="crn"):
        response(model, u_sin, 0.5, [1.0], n_paths=10, dt=0.1, crn=False,
                 control_variate=True, observable="h1**2")


def test_a_run_over_the_time_budget_on_a_cluster_is_refused_after_its_first_chunk(
        client, small, monkeypatch):
    """On a Dask client no pilot was taken: a run of hours started. The first chunk back,
    times the rounds of chunks the worker threads need, is compared with
    VOLTERRA_TIME_BUDGET; the rest of the chunks are cancelled."""
    from volterra_sym.errors import ResourceLimitError

    model, conj, sampler = small
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "0.5")
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="chunks on 2 worker threads took"):
        first_order_kernel(model, [0.0, 0.5], n_paths=256 * 400, dt=0.05, chunk_size=256,
                           seed=5, initial=sampler, method="girsanov", window=0.1,
                           n_origins=8, origin_stride=0.5, client=client)
    assert time.perf_counter() - t0 < 20
    monkeypatch.delenv("VOLTERRA_TIME_BUDGET")
    # the cluster is still usable, and a run within the budget is not refused
    first_order_kernel(model, [0.0], n_paths=256 * 4, dt=0.05, chunk_size=256, seed=5,
                       initial=sampler, method="girsanov", client=client)
