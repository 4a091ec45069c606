"""Monte Carlo from the command line: ``kernel --method montecarlo`` and ``simulate``.

* Values against independent routes: the exact kernels of the linear ``linear2d`` (orders
  1 and 2, FDT and Girsanov), the spectral kernel of ``tanh1d`` averaged over the Girsanov
  window (6-point Gauss–Legendre), and the exact truncated series of ``linear2d`` (which
  terminates at order 2 for its quadratic observable) for the CRN responses; every
  comparison is ``|MC - x| ≤ 4·se + |bias| + 4·se_bias``.
* The same seed gives bitwise the same output in-process, with ``--workers 2`` (a
  LocalCluster started by the command) and with ``--scheduler`` (a running cluster).
* Bad ``--workers``/``--scheduler`` values: one line, exit 2 (invalid) or 1 (unreachable),
  measured as real processes in < 30 s.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from volterra_sym.cli import build_parser, main
from volterra_sym.hierarchy import ResponseHierarchy
from volterra_sym.model import load_model
from volterra_sym.verify.settings import RICHARDSON_REL

ROOT = Path(__file__).resolve().parents[1]
Z = 4.0
_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)
_GL_X, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def within(doc, exact, what, remainder: float = 0.0):
    """``|value − exact| ≤ 4·se + (1 + remainder)·|bias| + 4·se_bias`` (``remainder``: the
    bound on the Richardson remainder relative to the bias, as ``verify`` uses it)."""
    v, se = np.array(doc["values"], float), np.array(doc["stderr"], float)
    b, bse = np.array(doc["bias"], float), np.array(doc["bias_stderr"], float)
    tol = Z * se + (1.0 + remainder) * np.abs(b) + Z * bse
    assert np.all(se > 0), (what, se)
    assert np.all(np.abs(v - exact) <= tol), (what, v, exact, tol)


# ---------------------------------------------------------------------- kernels
def test_kernel_fdt_order1_matches_exact(capsys):
    doc = run_json(capsys, "kernel", "linear2d", "--method", "montecarlo", "--lags", "0",
                   "0.5", "1.5", "--paths", "4000", "--seed", "3")
    assert doc["method"] == "montecarlo" and doc["estimator"] == "fdt"
    assert doc["options"]["seed"] == 3 and doc["options"]["paths"] == 4000
    K = ResponseHierarchy(load_model("linear2d"), None, 1).kernel((0,))
    exact = K.evaluate(np.array([[0.0], [0.5], [1.5]]), method="exact").values
    within(doc, exact, "K1 fdt")
    # the error bar is informative: a few percent, not a blanket
    assert np.max(np.array(doc["stderr"]) / np.abs(exact)) < 0.1


def test_kernel_kick_estimator_matches_spectral_order_one_and_two(capsys):
    """``--estimator kick`` (central differences of kicked common-noise paths): point values
    of K₁ and K₂ of the nonlinear 1-D model within the honest budget of the spectral ones
    (plus the Richardson remainder bound ``verify`` uses)."""
    H = ResponseHierarchy(load_model("tanh1d"), None, 2)
    doc = run_json(capsys, "kernel", "tanh1d", "--method", "montecarlo", "--estimator",
                   "kick", "--lags", "0.2", "1", "--paths", "6000", "--dt", "0.02")
    assert doc["estimator"] == "kick" and doc["values_are"] == "point values"
    ref = H.kernel((0,)).evaluate(np.array([[0.2], [1.0]]), method="spectral")
    within(doc, np.asarray(ref), "K1 kick", remainder=RICHARDSON_REL)
    doc = run_json(capsys, "kernel", "tanh1d", "--order", "2", "--method", "montecarlo",
                   "--estimator", "kick", "--lags", "0.2,0.6", "0.4,0.4", "--paths", "6000",
                   "--dt", "0.02")
    ref = H.kernel((0, 0)).evaluate(np.array([[0.2, 0.6], [0.4, 0.4]]), method="spectral")
    within(doc, np.asarray(ref), "K2 kick", remainder=RICHARDSON_REL)
    # the input inside the activation: kicks along a'(z)C (the test below checks values)
    doc = run_json(capsys, "kernel", "tanh1d_inside", "--method", "montecarlo",
                   "--estimator", "kick", "--lags", "0.5", "--paths", "600")
    assert doc["estimator"] == "kick"
    # state-dependent noise σ(h): the kick estimator is the one that applies (auto)
    doc = run_json(capsys, "kernel", "noisy_tanh1d", "--method", "montecarlo", "--lags",
                   "0.5", "--paths", "600", "--dt", "0.02")
    assert doc["estimator"] == "kick"
    # auto: a coupled network without a conjugate variable gets kicks at order 2
    doc = run_json(capsys, "kernel", "tanh3", "--order", "2", "--method", "montecarlo",
                   "--lags", "0.2,0.4", "--paths", "600", "--dt", "0.02")
    assert doc["estimator"] == "kick"


def test_kernel_order2_both_estimators_match_exact(capsys):
    lags = ["0.3,0.3", "0.2,0.7", "0.8,0.2"]
    pts = np.array([[0.3, 0.3], [0.2, 0.7], [0.8, 0.2]])
    K = ResponseHierarchy(load_model("linear2d"), None, 2).kernel((0, 0))
    for est in ("fdt", "girsanov"):
        doc = run_json(capsys, "kernel", "linear2d", "--method", "montecarlo", "--order", "2",
                       "--lags", *lags, "--paths", "4000", "--estimator", est,
                       "--window", "0.1")
        assert doc["estimator"] == est
        # exact values averaged as the estimator averages (docs/theory.md §7)
        exact = []
        for (s1, s2), windowed in zip(pts, doc["windowed"], strict=True):
            if not windowed:
                exact.append(float(K.evaluate(np.array([[s1, s2]]), method="exact").values[0]))
                continue
            lo, hi = min(s1, s2), max(s1, s2)
            a = lo + 0.1 * _GL_X
            if est == "fdt":     # recent kick averaged over [σ1, σ1+δ], earlier at σ2
                p = np.stack([a, np.full_like(a, hi)], 1)
                w = _GL_W
            else:                # both kicks averaged over their windows
                b = hi + 0.1 * _GL_X
                A, B = np.meshgrid(a, b, indexing="ij")
                p = np.stack([A.ravel(), B.ravel()], 1)
                w = np.outer(_GL_W, _GL_W).ravel()
            exact.append(float(w @ K.evaluate(p, method="exact").values))
        within(doc, np.array(exact), f"K11 {est}")


def test_kernel_girsanov_nonlinear_matches_spectral_window_average(capsys):
    doc = run_json(capsys, "kernel", "tanh1d", "--method", "montecarlo", "--lags", "0.2",
                   "1", "--paths", "3000", "--estimator", "girsanov", "--window", "0.1")
    assert doc["window"] == pytest.approx(0.1) and all(doc["windowed"])
    K = ResponseHierarchy(load_model("tanh1d"), None, 1).kernel((0,))
    exact = [float(_GL_W @ K.evaluate((s + 0.1 * _GL_X)[:, None], method="spectral").values)
             for s in (0.2, 1.0)]
    within(doc, np.array(exact), "K1 girsanov tanh1d")
    # a nonlinear model under the exponential scheme: the bias is measured, not zero
    assert np.all(np.abs(doc["bias"]) > 0)


def test_kernel_reports_the_burn_in_diagnostic(capsys):
    """A burn-in chain (nonlinear, n ≥ 2) comes with its convergence diagnostic; exact
    samplers (linear: Gaussian p0) have none."""
    doc = run_json(capsys, "kernel", "tanh2d", "--method", "montecarlo", "--lags", "0.5",
                   "--paths", "512")
    burn = doc["burn_in"]
    assert burn["converged"] and burn["t_burn"] > 0
    assert max(burn["max_z_mean"], burn["max_z_var"]) <= burn["level"]
    code, out, _ = run(capsys, "kernel", "tanh2d", "--method", "montecarlo", "--lags",
                       "0.5", "--paths", "512")
    assert code == 0 and "# initial states: burn-in of" in out
    doc = run_json(capsys, "kernel", "linear2d", "--method", "montecarlo", "--lags", "0.5",
                   "--paths", "512")
    assert doc["burn_in"] is None


def test_kernel_table_shows_se_and_bias(capsys):
    code, out, err = run(capsys, "kernel", "tanh1d", "--method", "montecarlo", "--lags", "0.5",
                         "--paths", "500", "--origins", "2")
    assert code == 0, err
    assert "se" in out and "bias" in out and "4·se + |bias| + 4·se_bias" in out
    assert "estimator fdt" in out and "500 paths" in out



@pytest.mark.parametrize("model, extra, label", [
    ("tanh2d", ["--order", "2", "--channels", "1", "0", "--lags", "0.5,1"],
     "K[2, 1](sigma_1, sigma_2)"),
    ("tanh1d_inside", ["--order", "2", "--channels", "0+0", "--lags", "0.5"],
     "K^(2)[11](sigma_1)"),
])
def test_engine_and_monte_carlo_headers_name_the_kernel_alike(capsys, model, extra, label):
    """One label for the kernel in every route's header (channels 1-based as in printed
    formulas); the Monte Carlo header said ``K_21`` where the engine's said
    ``K[2, 1](sigma_1, sigma_2)``."""
    heads = []
    for method in (["--method", "auto"], ["--method", "montecarlo", "--paths", "400"]):
        code, out, err = run(capsys, "kernel", model, *extra, *method)
        assert code == 0, err
        heads.append(out.splitlines()[0])
    assert all(h.startswith(f"# {label} of f = h1 for {model} (method: ") for h in heads), heads

# ---------------------------------------------------------------------- simulate
def test_simulate_matches_exact_series(capsys, tmp_path):
    """linear2d, f quadratic: E f(h^ε_t) - <f>_0 = ε T_1(t) + ε² T_2(t) exactly."""
    times = [0.5, 1.0, 2.0]
    out_json = tmp_path / "r.json"
    code, out, err = run(capsys, "simulate", "linear2d", "--input", "sin(2*t)", "--eps", "0.3",
                         "1.0", "--times", *times, "--paths", "4000",
                         "--out", out_json, "--plot", tmp_path / "r.png")
    assert code == 0, err
    assert "wrote" in err and "eps=0.3" in out
    doc = json.loads(out_json.read_text())
    assert doc["times"] == pytest.approx(times) and doc["eps"] == [0.3, 1.0]
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hier = ResponseHierarchy(load_model("linear2d"), None, 2)
    terms = np.asarray(hier.series_terms(lambda t: np.array([np.sin(2 * t)]), np.array(times),
                                         method="exact"))
    for e, eps in enumerate(doc["eps"]):
        exact = eps * terms[1] + eps ** 2 * terms[2]
        row = {k: doc[k][e] for k in ("values", "stderr", "bias", "bias_stderr")}
        within(row, exact, f"response eps={eps}")
    # CRN: the standard error is small compared with the response
    assert np.max(np.array(doc["stderr"][1]) / np.abs(doc["values"][1])) < 0.05


WEAK = """name = "tanh1d_weak"
activation = "tanh"
Gamma = [[1]]
W = [[0.5]]
b = [0.2]
C = [[1]]
sigma = [[0.5]]
observable = "h1**2"
"""


def test_simulate_control_variate_reduces_variance(capsys, tmp_path):
    """A weakly nonlinear 1-D tanh network (gain 0.5) with a quadratic observable: the
    linearised network as control variate cuts the variance ≥ 10×, and the estimate agrees
    with the plain one."""
    (tmp_path / "weak.toml").write_text(WEAK)
    kw = ["simulate", tmp_path / "weak.toml", "--input", "sin(2*t)", "--eps", "0.2",
          "--times", "1", "2", "--paths", "2000"]
    plain = run_json(capsys, *kw)
    cv = run_json(capsys, *kw, "--control-variate")
    assert cv["options"]["control_variate"] is True
    vr = np.array(cv["variance_reduction"][0], float)
    assert np.all(vr > 10), vr
    a, b = np.array(plain["values"][0]), np.array(cv["values"][0])
    sa, sb = np.array(plain["stderr"][0]), np.array(cv["stderr"][0])
    assert np.all(sb < sa)
    assert np.all(np.abs(a - b) <= Z * np.hypot(sa, sb)
                  + np.abs(plain["bias"][0]) + np.abs(cv["bias"][0]))


# ---------------------------------------------------------------------- distributed
def test_workers_give_bitwise_the_same_numbers(capsys):
    """``--workers 2`` (a LocalCluster on 127.0.0.1 started by the command) and in-process."""
    kw = ["kernel", "tanh1d", "--method", "montecarlo", "--lags", "0.1", "0.5", "--paths",
          "3000", "--origins", "3", "--seed", "11"]
    ref = run_json(capsys, *kw)
    dist = run_json(capsys, *kw, "--workers", "2")
    assert "LocalCluster of 2" in dist["cluster"] and ref["cluster"] == "in-process"
    for key in ("values", "stderr", "bias", "bias_stderr"):
        assert dist[key] == ref[key], key


def test_scheduler_gives_bitwise_the_same_numbers(capsys):
    distributed = pytest.importorskip("distributed")
    kw = ["simulate", "tanh1d", "--input", "cos(t)", "--eps", "0.2", "0.4", "--times", "0.5",
          "1.5", "--paths", "3000", "--seed", "5"]
    ref = run_json(capsys, *kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        dist = run_json(capsys, *kw, "--scheduler", cluster.scheduler_address)
    assert dist["cluster"].startswith("Dask scheduler tcp://127.0.0.1:")
    for key in ("values", "stderr", "bias", "bias_stderr", "baseline"):
        assert dist[key] == ref[key], key


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extra, code, words", [
    (["--workers", "0"], 2, ["--workers", "between 1 and"]),
    (["--workers", "-2"], 2, ["--workers"]),
    (["--scheduler", "not an address"], 2, ["--scheduler", "HOST:PORT"]),
    (["--scheduler", "tcp://127.0.0.1:99999"], 2, ["--scheduler", "PORT 1..65535"]),
    (["--scheduler", "tcp://127.0.0.1:{closed}"], 1, ["--scheduler", "connection refused"]),
    (["--scheduler", "no-such-host.invalid:8786"], 1, ["--scheduler", "not found"]),
])
def test_bad_cluster_options_fail_fast_with_one_line(extra, code, words):
    extra = [e.format(closed=_closed_port()) for e in extra]
    argv = [sys.executable, "-m", "volterra_sym.cli", "kernel", "linear2d", "--method",
            "montecarlo", "--lags", "0.5", "--paths", "100", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    elapsed = time.monotonic() - t0
    assert proc.returncode == code, proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("error: ") and all(w in line for w in words), line
    assert proc.stdout == ""
    assert elapsed < 30, f"{extra}: {elapsed:.1f} s"


def test_silent_server_is_not_a_scheduler(capsys):
    """A port that accepts connections but never greets like Dask: exit 1 within the
    timeout (an HTTP proxy behaves so; Dask's client would otherwise hang or allocate)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        t0 = time.monotonic()
        code, out, err = run(capsys, "kernel", "linear2d", "--method", "montecarlo", "--lags",
                             "0.5", "--paths", "100", "--scheduler",
                             f"127.0.0.1:{srv.getsockname()[1]}")
        elapsed = time.monotonic() - t0
    finally:
        srv.close()
    assert code == 1 and "not a Dask scheduler" in one_line(err)
    assert elapsed < 30


# ---------------------------------------------------------------------- refusals, help
@pytest.mark.parametrize("argv, param", [
    (["kernel", "linear2d", "--lags", "0.5", "--paths", "100"], "--paths"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "exact", "--workers", "2"],
     "--workers"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "montecarlo", "--tol", "1e-3"],
     "--tol"),
    (["kernel", "linear2d", "--lags", "0.505", "--method", "montecarlo"], "--lags"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "montecarlo", "--paths", "1"],
     "--paths"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "montecarlo", "--dt", "0"], "--dt"),
    (["kernel", "linear2d", "--order", "3", "--lags", "0.1,0.2,0.3", "--method",
      "montecarlo"], "order"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "montecarlo",
      "--control-variate"], "linear"),
    (["kernel", "linear2d", "--order", "2", "--lags", "0.2,0.25", "--method", "montecarlo",
      "--window", "0.1"], "window"),
    (["simulate", "linear2d", "--input", "sin(t)", "--eps", "0.1", "--times", "0.333"],
     "--times"),
    (["simulate", "linear2d", "--input", "1/t", "--eps", "0.1"], "--input"),
    (["simulate", "linear2d", "--input", "sin(t)", "--eps", "0.1", "0.1"], "--eps"),
    (["simulate", "linear2d", "--input", "sin(t)", "--eps",
      *[str(0.01 * k) for k in range(1, 66)]], "--eps"),
    (["simulate", "linear2d", "--input", "sin(t)", "--eps", "0.1", "--t-max", "0"],
     "--t-max"),
    (["kernel", "linear2d", "--lags", "0.5", "--method", "montecarlo", "--scheduler",
      "a" * 300 + ":8786"], "--scheduler"),
])
def test_invalid_requests_exit_2_naming_the_option(capsys, argv, param):
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert param in one_line(err)


def test_taylor_refusal_names_routes_that_apply(capsys):
    """Beyond the Taylor radius of a nonlinear 1-D model: spectral, galerkin and Monte
    Carlo apply, exact does not and is not suggested."""
    code, _, err = run(capsys, "kernel", "tanh1d", "--method", "taylor", "--lags", "3")
    line = one_line(err)
    assert code == 2 and "radius" in line
    assert "'spectral'" in line and "'galerkin'" in line and "--method montecarlo" in line
    assert "exact" not in line
    # n = 10: only galerkin and Monte Carlo apply
    from volterra_sym.backends.taylor.backend import other_routes

    tanh10 = load_model(str(ROOT / "tests" / "data" / "tanh10.toml"))
    text = other_routes(tanh10, tanh10.observable(None))
    assert "'galerkin'" in text and "montecarlo" in text
    assert "spectral" not in text and "exact" not in text


def test_help_and_defaults(capsys):
    parser = build_parser()
    subs = next(a for a in parser._actions if a.dest == "command").choices
    assert "montecarlo" in next(a for a in subs["kernel"]._actions
                                if a.dest == "method").choices
    for cmd in ("simulate", "kernel"):
        for action in subs[cmd]._actions:
            if action.dest != "help":
                assert action.help, (cmd, action.dest)
                if action.option_strings:
                    text = subs[cmd].formatter_class(cmd)._get_help_string(action)
                    assert "default" in text or action.required, (cmd, action.dest)
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0 and "exit status:" in out and "--workers" in out


def test_out_and_plot_may_not_be_one_file(capsys, tmp_path):
    """The figure used to overwrite the JSON results silently."""
    from volterra_sym.cli import main

    same = tmp_path / "same.png"
    code = main(["simulate", "tanh1d", "--input", "sin(t)", "--paths", "100", "--eps", "0.1",
                 "--out", str(same), "--plot", str(same)])
    assert code == 2 and "name the same file" in capsys.readouterr().err
    assert not same.exists()


def test_options_an_estimator_does_not_use(capsys):
    """--window and --origins were dropped without a word by estimators that do not use
    them, and the default window was checked against --dt even there."""
    from volterra_sym.cli import main

    code = main(["kernel", "tanh1d", "--method", "montecarlo", "--paths", "2000", "--order",
                 "2", "--lags", "0.5,1", "--estimator", "kick", "--origins", "50"])
    assert code == 2 and "--origins not used by the kick estimator" in capsys.readouterr().err
    code = main(["kernel", "tanh1d", "--method", "montecarlo", "--paths", "200", "--lags",
                 "0.5", "--window", "0.3"])
    assert code == 2 and "--window not used by the fdt estimator" in capsys.readouterr().err
    code = main(["kernel", "tanh1d", "--method", "montecarlo", "--paths", "200", "--lags",
                 "0.5", "--dt", "0.25"])
    assert code == 0, capsys.readouterr().err


def test_times_and_t_max_together_are_refused(capsys):
    """--times used to win silently over --t-max."""
    from volterra_sym.cli import main

    code = main(["simulate", "tanh1d", "--input", "sin(t)", "--paths", "100", "--eps", "0.1",
                 "--times", "0.5", "--t-max", "100"])
    assert code == 2 and "not both" in capsys.readouterr().err


def test_kernel_montecarlo_with_input_inside_the_activation_kicks_along_the_field(capsys):
    """The input inside the activation used to be refused by ``--method montecarlo``; the
    kick estimator now follows ``L_k``'s field ``a'(W h + b) C_k`` (docs/theory.md §10) and
    meets the spectral route; the fdt and girsanov weights (of the additive input) are
    refused by name with the estimator that applies."""
    doc = run_json(capsys, "kernel", "tanh1d_inside", "--method", "montecarlo", "--lags",
                   "0.5", "1.0", "--paths", "8000", "--seed", "3")
    assert doc["estimator"] == "kick"
    hier = ResponseHierarchy(load_model("tanh1d_inside"), None, 1)
    ref = hier.kernel((0,)).evaluate(np.array([[0.5], [1.0]]), method="spectral")
    v, se = np.array(doc["values"]), np.array(doc["stderr"])
    bias, bse = np.array(doc["bias"]), np.array(doc["bias_stderr"])
    tol = Z * se + (1 + RICHARDSON_REL) * np.abs(bias) + Z * bse + np.asarray(ref.error)
    assert np.all(np.abs(v - np.asarray(ref)) <= tol), (v, np.asarray(ref), tol)
    assert np.all(np.abs(np.asarray(ref)) > 30 * se)
    for est in ("fdt", "girsanov"):
        code, _, err = run(capsys, "kernel", "tanh1d_inside", "--method", "montecarlo",
                           "--lags", "0.5", "--paths", "100", "--estimator", est)
        msg = one_line(err)
        assert code == 2 and "inside the activation" in msg and "--estimator kick" in msg
        assert "conjugate=" not in msg


def test_contact_kernels_from_the_command_line(capsys):
    """``--channels 0+0`` is one kick carrying two channels (docs/theory.md §10): the
    contact kernel ``K^(2)_11(σ)`` of ``tanh1d_inside`` from the spectral route and from the
    kick estimator agree within the honest budget; malformed kicks and a lag count that
    does not match the kicks are refused naming the flag; the additive model's contact
    kernels are 0 (engine) and refused by Monte Carlo with the reason."""
    lags = ["0", "0.5", "1"]
    eng = run_json(capsys, "kernel", "tanh1d_inside", "--order", "2", "--channels", "0+0",
                   "--lags", *lags, "--method", "spectral")
    assert eng["channels"] == [[0, 0]]
    mc = run_json(capsys, "kernel", "tanh1d_inside", "--order", "2", "--channels", "0+0",
                  "--lags", *lags, "--method", "montecarlo", "--paths", "8000", "--seed", "5")
    assert mc["estimator"] == "kick" and mc["channels"] == [[0, 0]]
    v, ref = np.array(mc["values"]), np.array(eng["values"])
    se, bias, bse = (np.array(mc[k]) for k in ("stderr", "bias", "bias_stderr"))
    tol = Z * se + (1 + RICHARDSON_REL) * np.abs(bias) + Z * bse + np.array(eng["errors"])
    assert np.all(np.abs(v - ref) <= tol), (v, ref, tol)
    assert np.all(np.abs(ref) > 10 * se)
    for argv, flag in ((["--channels", "0+", "--lags", "0.5"], "--channels"),
                       (["--channels", "0+0", "--lags", "0.5,1"], "--lags"),
                       (["--channels", "0+0+0", "--lags", "0.5"], "--channels")):
        code, _, err = run(capsys, "kernel", "tanh1d_inside", "--order", "2", *argv)
        assert code == 2 and flag in one_line(err), (argv, err)
    code, _, err = run(capsys, "kernel", "tanh1d_inside", "--order", "2", "--channels", "0+0",
                       "--lags", "0.5", "--method", "montecarlo", "--estimator", "fdt")
    assert code == 2 and "--estimator kick" in one_line(err)
    add = run_json(capsys, "kernel", "tanh1d", "--order", "2", "--channels", "0+0", "--lags",
                   "0.5")
    assert add["values"] == [0.0]
    code, _, err = run(capsys, "kernel", "tanh1d", "--order", "2", "--channels", "0+0",
                       "--lags", "0.5", "--method", "montecarlo", "--paths", "100")
    assert code == 2 and "inside" in one_line(err)


def test_simulate_runs_models_with_input_inside_the_activation(capsys):
    """``simulate`` refused the models of docs/theory.md §10–§11 ("the ensemble engine ...
    does not support input inside the activation"); they now run on the state-noise engine
    (every ε on the same paths, Richardson in dt) and meet the spectral series: within the
    JSON's ``errors`` (the same key as ``kernel``'s: 4·se + the Richardson remainder bound)
    + 2|ε⁵T₅|, while the first order alone is far outside."""
    times = [1.0, 2.0]
    doc = run_json(capsys, "simulate", "tanh1d_inside", "--input", "sin(t)", "--eps", "0.3",
                   "-0.3", "--times", *times, "--paths", "20000", "--seed", "7")
    assert doc["method"].startswith("montecarlo (CRN response, Richardson")
    hier = ResponseHierarchy(load_model("tanh1d_inside"), None, 5)
    res = hier.series_terms(lambda t: np.array([np.sin(t)]), np.array(times),
                            method="spectral")
    T, err = np.asarray(res), np.asarray(res.error)
    for e, eps in enumerate(doc["eps"]):
        v, se = np.array(doc["values"][e]), np.array(doc["stderr"][e])
        bound = np.array(doc["errors"][e])
        assert np.all(se > 0) and np.all(bound >= Z * se)
        S4 = sum(eps ** N * T[N] for N in range(1, 5))
        tol = bound + 2 * np.abs(eps ** 5 * T[5]) + np.abs(err[1:5]).sum(0)
        assert np.all(np.abs(v - S4) <= tol), (eps, v, S4, tol)
        assert np.abs(v - eps * T[1])[1] > tol[1]       # the check has power
    code, _, err_text = run(capsys, "simulate", "tanh1d_inside", "--input", "sin(t)", "--eps",
                            "0.3", "--times", "1", "--paths", "100", "--workers", "2")
    assert code == 2 and "--workers" in one_line(err_text)


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux ``/proc``)."""
    from pathlib import Path as _P
    out = []
    for stat in _P("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_during_a_workers_run_is_one_line():
    """Ctrl-C reaches the terminal's whole process group: the CLI prints ``interrupted``
    and exits 130, and the local cluster's worker processes (which inherit an ignored
    SIGINT) print nothing — each printed 60–100 lines of KeyboardInterrupt and
    CancelledError tracebacks before. One SIGINT once the two workers run (a Ctrl-C
    during the cluster's start is dropped), another every 10 s if the run goes on."""
    import os
    import signal

    cmd = [sys.executable, "-m", "volterra_sym", "kernel", "tanh1d", "--method",
           "montecarlo", "--lags", "0.5", "--paths", "4000000", "--workers", "2",
           "--no-progress"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while p.poll() is None and len(_children(p.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3.0)                               # the workers register
        while p.poll() is None and time.monotonic() < deadline:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                pass
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, (p.returncode, err[-800:])
    assert err.strip() == "interrupted", err[-1500:]


def test_ctrl_c_in_an_ignored_callback_is_sent_again():
    """A Ctrl-C that lands in a gc callback (the in-process scheduler's GC diagnosis) or a
    ``__del__`` would be printed as "Exception ignored" and lost: the handler sees such
    frames, and only those."""
    import gc
    import sys as _sys

    from volterra_sym.cli_montecarlo import _in_ignored_callback

    seen = {}

    def callback(phase, info):
        seen.setdefault(phase, _in_ignored_callback(_sys._getframe()))

    class Finalised:
        def __del__(self):
            seen["del"] = _in_ignored_callback(_sys._getframe())

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    Finalised()
    assert seen == {"start": True, "stop": True, "del": True}
    assert not _in_ignored_callback(_sys._getframe())


def test_unknown_montecarlo_error_says_why(capsys):
    """At ``dt`` too coarse for the time-step bound the error is unknown (null): the JSON
    says why in ``error_unknown`` and the table in a header line — the JSON's text said
    "null where the time-step bias was not measured" although the bias was measured."""
    base = ["kernel", "tanh1d", "--method", "montecarlo", "--lags", "1", "2", "--paths",
            "2000", "--dt", "0.5"]
    assert main(base + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] is None and data["bias"] is not None
    assert "dt = 0.5 is too coarse" in data["error_unknown"]
    assert main(base) == 0
    assert "# error unknown: dt = 0.5 is too coarse" in capsys.readouterr().out
    assert main(base[:-2] + ["--json"]) == 0            # default dt: known, and null reason
    assert json.loads(capsys.readouterr().out)["error_unknown"] is None


def test_workers_with_port_8787_taken_print_nothing_on_stderr():
    """Another Dask cluster holds 8787 (the scheduler's default HTTP port): the local
    cluster of ``--workers`` takes a free loopback port instead, and stderr stays empty —
    it printed "Port 8787 is already in use" and an unclosed-socket warning (the Ctrl-C
    test failed on them beside the suite's own Dask tests)."""
    holder = socket.socket()
    try:
        try:
            holder.bind(("0.0.0.0", 8787))
        except OSError:
            pass                      # already taken: the condition under test holds too
        else:
            holder.listen()
        p = subprocess.run([sys.executable, "-m", "volterra_sym", "kernel", "tanh1d",
                            "--method", "montecarlo", "--lags", "0.5", "--paths", "3000",
                            "--workers", "2", "--no-progress"],
                           capture_output=True, text=True, timeout=300)
    finally:
        holder.close()
    assert p.returncode == 0, p.stderr[-800:]
    assert p.stderr == "", p.stderr[-800:]
