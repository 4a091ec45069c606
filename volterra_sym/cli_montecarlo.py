"""Monte Carlo from the command line (docs/theory.md §7, §12); registered by :mod:`.cli`.

    volterra-sym kernel MODEL --method montecarlo --lags 0.5 1 2 [--order 1|2]
                        [--paths N] [--estimator auto|fdt|girsanov] [--control-variate]
                        [--dt DT] [--window W] [--origins K] [--seed S]
                        [--workers N | --scheduler ADDRESS] [--json]
    volterra-sym simulate MODEL --input EXPR --eps E [E ...] [--paths N] [--t-max T]
                        [--times T ...] [--control-variate] [--out F.json] [--plot F.png]

Kernels: :func:`~volterra_sym.montecarlo.first_order_kernel` /
:func:`~volterra_sym.montecarlo.second_order_kernel` (fluctuation–dissipation or Girsanov
correlations along stationary paths). Responses: ``Δ_ε(t) = E f(h^ε_t) - E f(h^0_t)`` by
:func:`~volterra_sym.montecarlo.response` with common random numbers; every amplitude is
run with the same seed, hence the same initial states and Brownian paths. Every value has
its standard error ``se`` and the measured time-step bias ``bias ≈ 2[v(dt) - v(dt/2)]``
(the same paths at ``dt`` and ``dt/2``) with its standard error; an honest comparison with
an exact ``x`` is ``|value - x| ≤ 4·se + |bias| + 4·se_bias + rel·max|bias|`` (the maximum over
the lags or times bounds the O(dt²) error of the bias estimate; ``rel = max(0.05, rate·dt)``,
unknown beyond ``rate·dt = 0.5``), printed as ``error``.

``--workers N`` runs the chunks on a ``distributed.LocalCluster`` of ``N`` one-thread
worker processes on the loopback interface, started and closed by the command;
``--scheduler ADDRESS`` uses a running Dask scheduler (connection timeout
:data:`SCHEDULER_TIMEOUT` s). The numbers are bitwise the same in-process and on any
number of workers (chunks merged in chunk order, docs/theory.md §12).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .budget import SAMPLE_COUNTS, check_memory
from .cli import (
    EXIT_OK,
    MODEL_HELP,
    _check_channels,
    _check_order,
    _finite,
    _kernel_label,
    _load,
    _output_path,
    _parse_lags,
    _positive_int,
    parse_input,
)
from .errors import InvalidInputError, NotApplicableError, SimulationError
from .reports.atomic import atomic_path, write_text_atomic
from .reports.progress import StageProgress

__all__ = ["add_kernel_arguments", "add_simulate_parser", "cmd_kernel_montecarlo",
           "cmd_simulate", "dask_client", "check_scheduler_address", "refuse_mc_options"]

#: seconds to wait for a Dask scheduler given by ``--scheduler``
SCHEDULER_TIMEOUT = 5.0
#: seconds to wait for the workers of ``--workers N`` to start
CLUSTER_START_TIMEOUT = 60.0
#: default time step (lags and observation times must be multiples of it)
DEFAULT_DT = 0.01
#: default paths of kernel estimates and of responses
DEFAULT_KERNEL_PATHS = 10_000
DEFAULT_RESPONSE_PATHS = 10_000
#: most paths the command line accepts (the engine refuses larger path-step counts anyway)
MAX_PATHS = 10**9
#: most amplitudes and observation times of ``simulate`` (each amplitude is one run)
MAX_EPS = 64
MAX_TIMES = 10_000
#: paths per chunk of the in-process engine of the models of docs/theory.md §10–§11
STATE_NOISE_CHUNK = 20_000
#: the Monte Carlo options of ``kernel`` (refused with another ``--method``)
KERNEL_MC_OPTIONS = ("paths", "estimator", "control_variate", "dt", "window", "origins",
                     "origin_stride", "seed", "workers", "scheduler")
_SCHEDULER_RE = re.compile(r"^(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


# ---------------------------------------------------------------------- the cluster
def max_workers() -> int:
    """Largest ``--workers``: four per CPU (more only adds scheduling overhead)."""
    return 4 * (os.cpu_count() or 1)


def check_scheduler_address(address: str) -> str:
    """``[tcp://|tls://]HOST:PORT`` with ``1 ≤ PORT ≤ 65535``, else
    :class:`~volterra_sym.errors.InvalidInputError` (``param="--scheduler"``)."""
    m = _SCHEDULER_RE.match(address.strip()) if isinstance(address, str) else None
    if m is None or not 1 <= int(m.group(3)) <= 65535 or len(m.group(2)) > 253:
        raise InvalidInputError(f"--scheduler: {address!r} is not a Dask scheduler address "
                                "of the form [tcp://]HOST:PORT (PORT 1..65535), e.g. "
                                "tcp://127.0.0.1:8786", param="--scheduler")
    return f"{m.group(1) or 'tcp'}://{m.group(2)}:{m.group(3)}"


def _why_unknown(est) -> str | None:
    """Why a Monte Carlo estimate's ``error`` is unknown (``None`` when it is known): its
    time-step bias was not measured, or ``dt`` is too coarse for the bound of the
    Richardson remainder (``rate·dt > RICHARDSON_RATE_MAX``)."""
    from .montecarlo.error_bounds import RICHARDSON_RATE_MAX

    if est.error is not None:
        return None
    if est.bias is None or est.bias_stderr is None:
        return "the time-step bias was not measured"
    return (f"dt = {est.dt:g} is too coarse for the bound of the time-step error (the "
            f"drift's fastest rate times dt exceeds {RICHARDSON_RATE_MAX:g}); lower --dt")


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the block runs (main thread only): the worker processes a
    ``LocalCluster`` spawns meanwhile inherit the ignored disposition, which Python and
    asyncio keep at start-up, so a Ctrl-C to the terminal's process group reaches only this
    process — which closes them — and not each worker (each printed 70–100 lines of
    KeyboardInterrupt and CancelledError tracebacks). A Ctrl-C during the block itself
    (the cluster's start, a few seconds, or its shutdown) is dropped. Blocking SIGINT
    instead was tried: the spawned workers do not inherit the mask."""
    with _sigint(signal.SIG_IGN):
        yield


@contextlib.contextmanager
def _sigint(handler) -> Iterator[None]:
    """``handler`` for SIGINT while the block runs (main thread only: elsewhere
    ``signal.signal`` is not allowed), the previous one after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


#: seconds after which a Ctrl-C that landed in a callback whose exceptions Python ignores
#: is delivered again (:func:`_sigint_outside_callbacks`)
SIGINT_RETRY = 0.05


def _in_ignored_callback(frame) -> bool:
    """Whether ``frame`` runs inside a gc callback or a ``__del__`` finaliser, where
    Python prints an exception as "Exception ignored in ..." and goes on."""
    import gc

    codes = {getattr(getattr(cb, "__func__", cb), "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def _sigint_outside_callbacks() -> Iterator[None]:
    """While the block runs (main thread only), a Ctrl-C raises ``KeyboardInterrupt`` as
    usual unless it lands in a callback whose exceptions Python ignores — the local
    cluster's scheduler runs in this process and registers a gc callback (its GC
    diagnosis), and a Ctrl-C there printed a 10-line "Exception ignored" traceback and was
    lost until the next one — in which case the signal is sent again after
    :data:`SIGINT_RETRY` s."""
    def handler(signum, frame):
        if _in_ignored_callback(frame):
            threading.Timer(SIGINT_RETRY, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        raise KeyboardInterrupt
    with _sigint(handler):
        yield


def _close(client, cluster) -> None:
    """Close the client (if any) and the local cluster."""
    try:
        if client is not None:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[object]:
    """``None`` (in-process), a client of a fresh ``LocalCluster`` of ``workers`` one-thread
    processes on 127.0.0.1 (closed on exit), or a client of the scheduler at ``scheduler``.

    ``--workers`` outside ``1..4·CPUs`` and malformed addresses are invalid input; a
    scheduler that cannot be reached within :data:`SCHEDULER_TIMEOUT` s is a
    :class:`~volterra_sym.errors.SimulationError` (exit status 1)."""
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None:
        _positive_int("--workers", workers, max_workers())
    else:
        address = check_scheduler_address(scheduler)
    import distributed

    if workers is not None:
        with _sigint_ignored():
            try:
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1",
                    # the scheduler's HTTP server on a free loopback port: with None it
                    # still took 8787 and, that port taken (another cluster), warned twice
                    # (port in use, an unclosed socket) on this command's stderr
                    dashboard_address="127.0.0.1:0",
                    # the workers' own logs stay quiet: a failing chunk reaches this
                    # process as its exception; at ERROR, a Ctrl-C under load printed a
                    # worker's "failed to communicate with scheduler during heartbeat"
                    # traceback as the cluster closed
                    silence_logs=logging.CRITICAL)
            except (OSError, TimeoutError) as exc:
                raise SimulationError(f"--workers {workers}: the local Dask cluster did "
                                      f"not start ({type(exc).__name__}: {exc})") from None
            client = None
            try:
                client = distributed.Client(cluster)
                client.wait_for_workers(workers, timeout=CLUSTER_START_TIMEOUT)
            except (OSError, TimeoutError) as exc:      # TimeoutError is an OSError
                _close(client, cluster)
                raise SimulationError(f"--workers {workers}: the workers did not start "
                                      f"within {CLUSTER_START_TIMEOUT:g} s "
                                      f"({type(exc).__name__}: {exc})") from None
        try:
            with _sigint_outside_callbacks():
                yield client
        finally:
            with _sigint_ignored():            # a second Ctrl-C does not cut the shutdown
                _close(client, cluster)
        return
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    _probe(address)
    t0 = time.monotonic()
    try:
        client = distributed.Client(address, timeout=SCHEDULER_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - whatever the client raised: one line, exit 1
        raise SimulationError(f"--scheduler {address}: no Dask scheduler reachable within "
                              f"{SCHEDULER_TIMEOUT:g} s (gave up after "
                              f"{time.monotonic() - t0:.1f} s: {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:160]})") from None
    try:
        if not client.scheduler_info().get("workers"):
            raise SimulationError(f"--scheduler {address}: the scheduler has no workers")
        yield client
    finally:
        client.close()


def _probe(address: str) -> None:
    """Fail fast, before Dask's client, on a host that does not resolve, a port that
    refuses the connection, or (``tcp://``) a server that is not Dask: a Dask scheduler
    greets every new connection with a framed handshake whose first 8 bytes are a small
    little-endian length. A server that stays silent (an HTTP proxy waits for a request)
    or greets with text (``HTTP/1.1 400`` read as a length is absurd; Dask's client would
    try to allocate it) is refused."""
    import socket

    scheme, rest = address.split("://", 1)
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=SCHEDULER_TIMEOUT) as sock:
            sock.settimeout(SCHEDULER_TIMEOUT)
            head = b""
            with contextlib.suppress(TimeoutError, OSError):
                while len(head) < 8:
                    chunk = sock.recv(8 - len(head))
                    if not chunk:
                        break
                    head += chunk
    except socket.gaierror as exc:
        raise SimulationError(f"--scheduler {address}: host {host!r} not found "
                              f"({exc.strerror or exc})") from None
    except (OSError, TimeoutError) as exc:
        why = ("connection refused (no scheduler listens there)"
               if isinstance(exc, ConnectionRefusedError) else
               f"no answer within {SCHEDULER_TIMEOUT:g} s" if isinstance(exc, TimeoutError)
               else (exc.strerror or str(exc)))
        raise SimulationError(f"--scheduler {address}: cannot reach a Dask scheduler: "
                              f"{why}") from None
    if scheme == "tcp" and (len(head) < 8 or int.from_bytes(head, "little") > 2**26):
        said = f"it greeted with {head!r}" if head else \
            f"it sent no Dask handshake within {SCHEDULER_TIMEOUT:g} s"
        raise SimulationError(f"--scheduler {address}: the server there is not a Dask "
                              f"scheduler ({said})")


def _cluster_label(args) -> str:
    if args.workers is not None:
        return f"LocalCluster of {args.workers} worker process(es)"
    if args.scheduler is not None:
        return f"Dask scheduler {args.scheduler}"
    return "in-process"


# ---------------------------------------------------------------------- arguments
def _cluster_arguments(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, metavar="N",
                   help="run the Monte Carlo chunks on a local Dask cluster of N one-thread "
                        "worker processes (loopback only), started and closed by the "
                        "command; the numbers are bitwise those of an in-process run "
                        "(default: in-process)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the chunks on a running Dask scheduler, [tcp://]HOST:PORT "
                        f"(connection timeout {SCHEDULER_TIMEOUT:g} s; default: in-process)")


#: ``kernel``: the galerkin route's sampled measure takes ``--paths`` and ``--seed`` too
GALERKIN_SHARED = ("; galerkin: samples of p0 averaging its matrices where they are sampled "
                   f"(n ≥ 3 beyond the tensor rule), {SAMPLE_COUNTS[0]:,}..{SAMPLE_COUNTS[1]:,}, "
                   f"default {SAMPLE_COUNTS[2]:,}")


def _mc_common(p, paths_default: int, shared: bool = False) -> None:
    p.add_argument("--paths", type=int, metavar="N",
                   help=f"Monte Carlo paths, ≥ 2 (default: {paths_default:,})"
                        + (GALERKIN_SHARED if shared else ""))
    p.add_argument("--dt", type=float, metavar="DT",
                   help="Monte Carlo time step; lags and times must be multiples of it; the "
                        "time-step bias is measured by a second run at DT/2 on the same "
                        f"Brownian paths (default: {DEFAULT_DT:g})")
    p.add_argument("--seed", type=int, metavar="S",
                   help="random seed, ≥ 0 (default: 12345; the output records it)"
                        + ("; galerkin: the seed of its samples, default 0" if shared else ""))
    p.add_argument("--control-variate", action="store_true", default=None,
                   help="use the linearised network, run with the same noise, as a control "
                        "variate (nonlinear models; first-order kernels and responses) "
                        "(default: off)")
    _cluster_arguments(p)


def add_kernel_arguments(p) -> None:
    """The Monte Carlo options of ``kernel`` (used with ``--method montecarlo``)."""
    g = p.add_argument_group("Monte Carlo (--method montecarlo)")
    g.add_argument("--estimator", choices=["auto", "fdt", "girsanov", "kick"],
                   help="fdt: fluctuation–dissipation correlation E0[v_k(h_0) f(h_σ)] (needs "
                        "the conjugate variable v = -C·∇log p0; order 2 also needs C = σB "
                        "off the diagonal); girsanov: correlation with the Brownian "
                        "increments of a kick window (needs C = σB); kick: central "
                        "differences of paths whose state is kicked along the field of L_k "
                        "(C_k, or a'(Wh+b)⊙C_k with the input inside the activation), with "
                        "common noise (point values; any model; its variance does not grow "
                        "with the order); auto: fdt where it applies, else kick at order 2 "
                        "and girsanov at order 1; kick for the input inside the activation "
                        "or σ(h) (default: auto)")
    g.add_argument("--window", type=float, metavar="W",
                   help="Girsanov kick window δ (a multiple of --dt): those estimates are "
                        "averages of K over [σ, σ+δ] (default: 0.1)")
    g.add_argument("--origins", type=int, metavar="K",
                   help="time origins per path, --origin-stride apart (default: 10)")
    g.add_argument("--origin-stride", type=float, metavar="S",
                   help="time between origins on a path, a multiple of --dt (default: 0.5)")
    _mc_common(g, DEFAULT_KERNEL_PATHS, shared=True)


def refuse_mc_options(args, keep: tuple[str, ...] = ()) -> None:
    """With a method other than ``montecarlo``, a Monte Carlo option is refused by name
    (except those in ``keep``: another route uses them too)."""
    for name in KERNEL_MC_OPTIONS:
        if name not in keep and getattr(args, name, None) is not None:
            raise InvalidInputError(f"--{name.replace('_', '-')} is used only by --method "
                                    f"montecarlo (got --method {args.method})",
                                    param=f"--{name.replace('_', '-')}")


def add_simulate_parser(sub, common, **kw) -> None:
    """Register ``simulate`` (``common`` adds the shared ``--progress`` option)."""
    p = sub.add_parser("simulate", help="Monte Carlo responses to an input (CRN)",
                       description="Monte Carlo responses Δ(t) = E f(h^ε_t) - E f(h^0_t) "
                                   "to the input ε·u(t) switched on at t = 0, for every ε, "
                                   "from paths with common random numbers (the same initial "
                                   "states from p0 and the same noise for every ε), with "
                                   "standard errors and the measured time-step bias.", **kw)
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--input", action="append", required=True, metavar="EXPR",
                   help="input u_k(t), one expression in t per channel (repeat; required)")
    p.add_argument("--eps", type=float, nargs="+", required=True, metavar="E",
                   help="input amplitudes ε (required)")
    p.add_argument("--t-max", type=float, default=None,
                   help="last observation time, dt ≤ T ≤ 1e4 (51 times in [0, T] on the "
                        "--dt grid; default 5)")
    p.add_argument("--times", type=float, nargs="+", metavar="T",
                   help="observation times, multiples of --dt, instead of --t-max "
                        "(default: none)")
    p.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    _mc_common(p, DEFAULT_RESPONSE_PATHS)
    p.add_argument("--out", metavar="FILE",
                   help="write the results as JSON to FILE (default: none)")
    p.add_argument("--plot", metavar="FILE",
                   help="write a figure of Δ(t) ± 2 se for every ε; .png is appended unless "
                        "FILE ends in an image format (default: none)")
    p.add_argument("--json", action="store_true",
                   help="print JSON with every time (default: a table of about 20 of the "
                        "times; --out also writes every one)")
    common(p)
    p.set_defaults(func=cmd_simulate)


# ---------------------------------------------------------------------- shared checks
def _mc_settings(args, paths_default: int) -> dict:
    dt = DEFAULT_DT if args.dt is None else _finite("--dt", args.dt)
    if not 0 < dt <= 1:
        raise InvalidInputError(f"--dt must be a number with 0 < dt ≤ 1, got {args.dt!r}",
                                param="--dt")
    paths = paths_default if args.paths is None else _positive_int("--paths", args.paths,
                                                                    MAX_PATHS, lo=2)
    seed = 12345 if args.seed is None else _positive_int("--seed", args.seed, lo=0)
    if args.workers is not None:
        _positive_int("--workers", args.workers, max_workers())
    if args.scheduler is not None:
        check_scheduler_address(args.scheduler)
    return {"paths": paths, "dt": dt, "seed": seed,
            "control_variate": bool(args.control_variate)}


def _on_grid(name: str, values: np.ndarray, dt: float) -> None:
    k = np.rint(values / dt)
    bad = np.abs(k * dt - values) > 1e-9 * np.maximum(1.0, np.abs(values))
    if np.any(bad):
        raise InvalidInputError(f"{name}: {values[bad][0]:g} is not a multiple of --dt = "
                                f"{dt:g}; choose values on the time grid or a smaller --dt",
                                param=name)


def _numeric(model) -> None:
    if not model.is_numeric:
        raise NotApplicableError("Monte Carlo needs numeric parameters (the model has "
                                 f"symbols {sorted(map(str, model.parameters))})")


def _nullable(x):
    """A float array as nested JSON lists with non-finite entries as ``null``."""
    if x is None:
        return None
    a = np.asarray(x, dtype=float)
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


# ---------------------------------------------------------------------- kernel
def _choose_estimator(model, order: int, requested: str, lags: np.ndarray) -> str:
    """``fdt``, ``girsanov`` or ``kick`` (``auto``: fdt where it applies, else at order 2
    kick — the Girsanov K₂ of a 10-unit network had standard errors 0.19–0.27 for values
    of 1e-3, the kick estimator 6e-6 — else girsanov, else kick; the models of
    docs/theory.md §10–§11: kick); a requested estimator that does not apply is refused
    with the reason."""
    from .verify.mc_kernels import estimators

    if model.features:
        # docs/theory.md §10–§11: the fdt weight needs v_k, the girsanov one the additive
        # input through constant noise; the kick estimator follows L_k's field b_k(h)
        if requested in ("fdt", "girsanov"):
            raise NotApplicableError(
                f"--estimator {requested} does not apply to a model with "
                f"{' and '.join(sorted(model.features))} (docs/theory.md §10–§11: its "
                "weight belongs to the additive input εCu through constant noise); use "
                "--estimator kick")
        return "kick"
    has_v, has_B, why_v, why_B = estimators(model)
    need_B_for_fdt = order == 2 and bool(np.any(lags[:, 0] != lags[:, -1]))
    fdt_ok = has_v and (has_B or not need_B_for_fdt)
    if requested == "fdt" and not fdt_ok:
        why = why_v if not has_v else (f"off-diagonal second-order lags need C = σB: {why_B}")
        raise NotApplicableError(f"--estimator fdt does not apply: {why}")
    if requested == "girsanov" and not has_B:
        raise NotApplicableError(f"--estimator girsanov does not apply: {why_B}")
    if requested in ("fdt", "girsanov", "kick"):
        return requested
    if fdt_ok:
        return "fdt"
    if order == 2 or not has_B:
        return "kick"
    return "girsanov"


def cmd_kernel_montecarlo(args) -> int:
    """``kernel --method montecarlo``: values ± standard errors and the time-step bias."""
    from .montecarlo import first_order_kernel, kick_kernel, second_order_kernel

    for opt in ("tol", "degree", "time_budget", "measure"):
        if getattr(args, opt, None) is not None:
            flag = "--" + opt.replace("_", "-")
            raise InvalidInputError(f"{flag} is not used by method 'montecarlo' (its "
                                    "accuracy is set by --paths and --dt)", param=flag)
    st = _mc_settings(args, DEFAULT_KERNEL_PATHS)
    dt = st["dt"]
    window = 0.1 if args.window is None else _finite("--window", args.window)
    stride = 0.5 if args.origin_stride is None else _finite("--origin-stride",
                                                            args.origin_stride)
    origins = 10 if args.origins is None else _positive_int("--origins", args.origins, 10**6)
    with StageProgress(2, "kernel", enabled=args.progress) as bar:
        with bar.stage("load model"):
            model = _load(args.model)
            _numeric(model)
            order = _check_order(args.order, model)
            if order > 2:
                raise NotApplicableError(f"--method montecarlo estimates kernels of order 1 "
                                         f"and 2, not {order}")
            channels = _check_channels(args.channels, order, model.m)
            contact = isinstance(channels[0], tuple)     # one kick carrying k1 and k2
            lags = _parse_lags(args.lags, len(channels))
            f = model.observable(args.observable)
            _on_grid("--lags", lags.ravel(), dt)
            if contact:
                if (args.estimator or "auto") not in ("auto", "kick"):
                    raise NotApplicableError(f"--estimator {args.estimator} does not "
                                             "estimate contact kernels (one kick carrying "
                                             "two channels); use --estimator kick")
                estimator = "kick"
            else:
                estimator = _choose_estimator(model, order, args.estimator or "auto", lags)
            if estimator == "kick" and st["control_variate"]:
                raise NotApplicableError("--control-variate is implemented for the fdt and "
                                         "girsanov estimators, not for --estimator kick")
            uses_window = estimator == "girsanov" or (estimator == "fdt" and order == 2
                                                      and np.any(lags[:, 0] != lags[:, -1]))
            unused = [flag for flag, given, used in (
                ("--window", args.window, uses_window),
                ("--origins", args.origins, estimator != "kick"),
                ("--origin-stride", args.origin_stride, estimator != "kick"))
                if given is not None and not used]
            if unused:
                raise InvalidInputError(f"{', '.join(unused)} not used by the {estimator} "
                                        f"estimator at order {order} (its values are point "
                                        "values" + (", one origin per path" if estimator ==
                                                    "kick" else "") + ")", param=unused[0])
            if not uses_window:
                window = dt          # not used; any multiple of dt passes the API's check
            else:
                if not window > 0:
                    raise InvalidInputError(f"--window must be > 0, got {window:g}",
                                            param="--window")
                _on_grid("--window", np.array([window]), dt)
            if estimator == "kick":
                stride = dt          # one origin per path: not used
            if not stride > 0:
                raise InvalidInputError(f"--origin-stride must be > 0, got {stride:g}",
                                        param="--origin-stride")
            _on_grid("--origin-stride", np.array([stride]), dt)
            burn = _burn_in_diagnostic(model, st["seed"])
        kw = dict(observable=f, method=estimator, n_paths=st["paths"], dt=dt,
                  n_origins=origins, origin_stride=stride, window=window, seed=st["seed"],
                  progress=args.progress, control_variate=st["control_variate"])
        with bar.stage(f"Monte Carlo ({estimator}, {st['paths']:,} paths, "
                       f"{_cluster_label(args)})"):
            t0 = time.time()
            with dask_client(args.workers, args.scheduler) as client:
                if estimator == "kick":
                    est = kick_kernel(model, lags[:, 0] if lags.shape[1] == 1 else lags,
                                      observable=f, n_paths=st["paths"], dt=dt,
                                      seed=st["seed"], progress=args.progress, client=client,
                                      contact=contact)
                elif order == 1:
                    est = first_order_kernel(model, lags[:, 0], client=client, **kw)
                else:
                    if st["control_variate"]:
                        raise NotApplicableError("--control-variate is implemented for "
                                                 "first-order kernels, not order 2")
                    kw.pop("control_variate")
                    est = second_order_kernel(model, lags, client=client, **kw)
            seconds = time.time() - t0
    unknown = _why_unknown(est)
    sel = (slice(None),) + (channels[0] if contact else tuple(channels))
    vals, se = est.values[sel], est.stderr[sel]
    err = None if est.error is None else est.error[sel]
    bias = None if est.bias is None else est.bias[sel]
    bse = None if est.bias_stderr is None else est.bias_stderr[sel]
    vr = None if est.variance_reduction is None else est.variance_reduction[sel]
    kname = _kernel_label(channels)
    what = ("point values" if estimator == "kick" or (estimator == "fdt" and order == 1) else
            "window averages over [σ, σ+δ]" if order == 1 else
            "averages over both lags' windows [σ, σ+δ]" if estimator == "girsanov" else
            "point values on the diagonal; off it averages of the smaller lag over [σ, σ+δ]")
    if args.json:
        print(json.dumps({
            "model": model.name, "observable": str(f),
            "channels": [list(c) for c in channels] if contact else list(channels),
            "method": "montecarlo", "estimator": estimator,
            "options": {"paths": est.n_paths, "dt": est.dt, "scheme": est.scheme,
                        "seed": est.seed, "origins": est.n_origins, "origin_stride": stride,
                        "window": est.window, "control_variate": st["control_variate"]},
            "lags": lags.tolist(), "values": _nullable(vals),
            "errors": _nullable(err),
            "error_kind": "4 stderr + |bias| + 4 bias_stderr + rel max|bias|, rel = max(0.05, "
                          "rate dt) (a bound, as the engine's errors; null where it is "
                          "unknown: error_unknown says why)",
            "error_unknown": unknown,
            "stderr": _nullable(se), "bias": _nullable(bias), "bias_stderr": _nullable(bse),
            "windowed": np.asarray(est.windowed, bool).tolist(), "window": est.window,
            "variance_reduction": _nullable(vr), "values_are": what,
            "burn_in": None if burn is None else {
                "converged": burn.converged, "t_burn": burn.t_burn,
                "max_z_mean": burn.max_z_mean, "max_z_var": burn.max_z_var,
                "level": burn.level, "message": burn.message},
            "cluster": _cluster_label(args), "seconds": seconds}, indent=2))
        return EXIT_OK
    print(f"# {kname} of f = {f} for {model.name} (method: montecarlo, estimator {estimator}: "
          f"{what}{f', δ = {est.window:g}' if est.window else ''}); {est.n_paths:,} paths × "
          f"{est.n_origins} origins, dt = {est.dt:g} ({est.scheme}), seed {est.seed}, "
          f"{_cluster_label(args)}, {seconds:.1f} s")
    print("# error = 4·se + |bias| + 4·se_bias + rel·max|bias| (rel = max(0.05, rate·dt)); "
          "bias: time-step bias 2[K(dt) - K(dt/2)] measured on the same Brownian paths")
    if unknown:
        print(f"# error unknown: {unknown}")
    if burn is not None:
        print(f"# initial states: {burn.message}")
        if not burn.converged:
            print(f"warning: {burn.message}", file=sys.stderr)
    print(f"# {'lags':>14s} {'K':>14s} {'error':>10s} {'se':>10s} {'bias':>11s} "
          f"{'se_bias':>10s}" + (f" {'var.red.':>9s}" if vr is not None else ""))
    for j, lag in enumerate(lags):
        line = (f"{','.join(f'{x:g}' for x in lag):>16s} {vals[j]:14.6g} "
                f"{_bound(err[j]) if err is not None else 'unknown':>10s} {se[j]:10.3g} "
                f"{bias[j] if bias is not None else math.nan:11.3g} "
                f"{bse[j] if bse is not None else math.nan:10.3g}")
        if vr is not None:
            line += f" {vr[j]:9.3g}"
        print(line)
    return EXIT_OK


def _burn_in_diagnostic(model, seed: int):
    """:meth:`~volterra_sym.density.BurnInSampler.diagnose` of the default sampler of
    ``p0`` when it is a burn-in chain (nonlinear, n ≥ 2), on its own generator (the
    estimator's numbers do not change); ``None`` for exact samplers."""
    from .density import BurnInSampler, stationary_sampler

    sampler = stationary_sampler(model)
    if not isinstance(sampler, BurnInSampler):
        return None
    return sampler.diagnose(np.random.default_rng([seed, 0xB0]))


# ---------------------------------------------------------------------- simulate
def _response_times(args, dt: float) -> np.ndarray:
    if args.times and args.t_max is not None:
        raise InvalidInputError("give --times or --t-max, not both (--times lists the "
                                "observation times, --t-max spaces 51 up to T)",
                                param="--t-max")
    if args.times:
        t = np.array([_finite("--times", x) for x in args.times], dtype=float)
        if np.any(t < 0):
            raise InvalidInputError("--times must be ≥ 0", param="--times")
        _on_grid("--times", t, dt)
        return np.rint(t / dt) * dt
    t_max = 5.0 if args.t_max is None else _finite("--t-max", args.t_max)
    if not dt <= t_max <= 1e4:
        raise InvalidInputError(f"--t-max must be a number with dt ≤ T ≤ 1e4, got "
                                f"{args.t_max!r}", param="--t-max")
    idx = np.unique(np.rint(np.linspace(0.0, t_max / dt, 51)))
    return idx * dt


def _plot_responses(path, times, eps, value, error, stderr, title: str) -> None:
    """The responses with their error bands: ``± error`` (the bound of the table and the
    JSON), ``± 2 se`` where that is unknown (said in the axis label)."""
    from .reports.plots import GRID, _pyplot, blend

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    known = bool(np.all(np.isfinite(error)))
    band = error if known else 2 * np.asarray(stderr)
    for e, v, s in zip(eps, value, band, strict=True):
        line, = ax.plot(times, v, lw=1.4, label=f"ε = {e:g}", zorder=3)
        # opaque bands under the lines: PostScript has no transparency (an .eps drew them
        # opaque over the curves)
        ax.fill_between(times, v - s, v + s, color=blend(line.get_color(), 0.25),
                        lw=0, zorder=1)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\mathbb{E} f(h^\varepsilon_t) - \mathbb{E} f(h^0_t)$"
                  + ("  (± error)" if known else "  (± 2 se; error unknown)"))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, framealpha=1.0)
    ax.grid(**GRID)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _simulate_state_noise(args, model, f, u, parsed, eps, times, st, out, plot, bar) -> int:
    """``simulate`` for the models of docs/theory.md §10–§11 (input inside the activation,
    state-dependent noise): :func:`~volterra_sym.montecarlo.crn_responses` on its engine for
    them, every ε on the same paths, Richardson-extrapolated in ``dt``."""
    from .montecarlo import crn_responses

    for flag, given in (("--workers", args.workers), ("--scheduler", args.scheduler),
                        ("--control-variate", args.control_variate or None)):
        if given is not None:
            raise InvalidInputError(
                f"{flag} is not used for a model with {' and '.join(sorted(model.features))} "
                "(its Monte Carlo engine runs in-process without a control variate)",
                param=flag)
    with bar.stage(f"Monte Carlo, every ε on the same {st['paths']:,} paths (in-process)"):
        res = crn_responses(model, u, eps, times, observable=f, n_paths=st["paths"],
                            dt=st["dt"], scheme="euler", seed=st["seed"],
                            chunk_size=STATE_NOISE_CHUNK)
    dt = st["dt"]
    rel = "unknown" if res.richardson_rel is None else f"{res.richardson_rel:.3g}"
    doc = {"model": model.name, "observable": str(f),
           "input": [str(p) for p in parsed],
           "method": "montecarlo (CRN response, Richardson-extrapolated in dt)",
           "options": {"paths": st["paths"], "dt": dt, "scheme": "euler",
                       "seed": st["seed"], "control_variate": False},
           "eps": eps, "times": times.tolist(), "values": _nullable(res.values),
           "errors": _nullable(res.error), "stderr": _nullable(res.stderr),
           "bias": _nullable(res.bias), "bias_stderr": None,
           "baseline": _nullable(res.baseline), "baseline_stderr": None,
           "values_are": "2 R(dt/2) - R(dt), R = E f(h^eps_t) - E f(h^0_t) on common random "
                         "numbers (the first-order time-step bias removed); bias = "
                         "R(dt) - values, the removed O(dt) bias; errors = 4 stderr + "
                         f"rel max_t |bias| (the Richardson remainder; rel = {rel}, "
                         "max(0.05, rate dt); null: unknown)",
           "cluster": "in-process", "seconds": res.seconds}
    return _emit_responses(
        args, doc, out, plot, bar, times, eps,
        (res.values, np.full(res.values.shape, np.nan) if res.error is None else res.error,
         res.stderr, res.bias),
        f"{model.name}: f = {f}, u = {', '.join(map(str, parsed))}, {st['paths']:,} CRN "
        f"paths, dt = {dt:g} (Richardson)",
        f"# {model.name}: response of f = {f} to eps·u, u = {', '.join(map(str, parsed))}; "
        f"{st['paths']:,} CRN paths, dt = {dt:g} and dt/2 (euler, Richardson), seed "
        f"{res.seed}, in-process, {res.seconds:.1f} s",
        f"error = 4·se + {rel}·max_t|bias|, the bound of the extrapolation's "
        "remainder; bias = R(dt) − value, the removed O(dt) bias")


def _bound(x: float) -> str:
    """An error bound for a table: ``unknown`` where it is (NaN)."""
    return format(x, ".2g") if math.isfinite(x) else "unknown"


def _emit_responses(args, doc: dict, out, plot, bar, times, eps, arrays, title: str,
                    header: str, bias_label: str) -> int:
    """Write ``doc`` (``--out``) and the figure (``--plot``), then print the JSON
    (``--json``) or the table ``value ± se [bias]`` per ε (about 20 rows). The figure is
    drawn into its temporary file first and renamed onto ``--plot`` after ``--out`` is
    written: a figure that cannot be drawn leaves neither file (the results were written
    first and stayed behind alone)."""
    value, error, stderr, bias = arrays
    text = json.dumps(doc, indent=1)
    with contextlib.ExitStack() as files:
        if plot is not None:
            tmp = files.enter_context(atomic_path(plot))
            with bar.stage("plot"):
                _plot_responses(tmp, times, eps, value, error, stderr, title)
        if out is not None:
            write_text_atomic(out, text + "\n")
    bar.close()
    if out is not None:
        print(f"wrote {out}", file=sys.stderr)
    if plot is not None:
        print(f"wrote {plot}", file=sys.stderr)
    if args.json:
        print(text)
        return EXIT_OK
    print(header)
    print(f"# value ± error (se) [bias] per eps; {bias_label}")
    print(f"# {'t':>8s}" + "".join(f"{'eps=' + format(e, 'g'):>47s}" for e in eps))
    step = max(1, len(times) // 20)
    for i in range(0, len(times), step):
        print(f"{times[i]:10.4g}" + "".join(
            f"{value[e, i]:13.5g} ±{_bound(error[e, i]):>9s} ({stderr[e, i]:8.2g}) "
            f"[{bias[e, i]:9.2g}]" for e in range(len(eps))))
    return EXIT_OK


def cmd_simulate(args) -> int:
    """``simulate``: CRN responses at every ``--eps`` (module docstring)."""
    from .montecarlo import response
    from .montecarlo.simulate import DEFAULT_CHUNK

    st = _mc_settings(args, DEFAULT_RESPONSE_PATHS)
    dt = st["dt"]
    eps = [_finite("--eps", e) for e in args.eps]
    if len(eps) > MAX_EPS:
        raise InvalidInputError(f"--eps: at most {MAX_EPS} amplitudes (each is one Monte "
                                f"Carlo run), got {len(eps)}", param="--eps")
    if len(set(eps)) != len(eps):
        raise InvalidInputError("--eps: the amplitudes must be distinct", param="--eps")
    times = _response_times(args, dt)
    if times.size > MAX_TIMES:
        raise InvalidInputError(f"--times: at most {MAX_TIMES:,} observation times, got "
                                f"{times.size:,}", param="--times")
    # the response hook keeps f at every time for 4 variants × 2 levels × a chunk of paths
    check_memory(8.0 * times.size * 4 * 2 * DEFAULT_CHUNK, f"{times.size:,} observation "
                 "times per chunk of paths", "use fewer --times")
    out = None if args.out is None else _output_path(args.out)
    plot = None if args.plot is None else _output_path(args.plot, "--plot", image=True)
    if out is not None and plot is not None and Path(out).resolve() == Path(plot).resolve():
        raise InvalidInputError(f"--out and --plot name the same file {str(out)!r}: the "
                                "figure would overwrite the results", param="--plot")
    with StageProgress(len(eps) + 1 + bool(plot), "simulate", enabled=args.progress) as bar:
        with bar.stage("load model"):
            model = _load(args.model)
            _numeric(model)
            f = model.observable(args.observable)
            u, parsed = parse_input(args.input, model.m, float(times.max()))
            u(0.0)                                      # refuse a bad input before the run
        if model.features:
            return _simulate_state_noise(args, model, f, u, parsed, eps, times, st, out,
                                         plot, bar)
        results = []
        t0 = time.time()
        with dask_client(args.workers, args.scheduler) as client:
            for e in eps:
                with bar.stage(f"Monte Carlo ε = {e:g} ({st['paths']:,} paths, "
                               f"{_cluster_label(args)})"):
                    results.append(response(model, u, e, times, observable=f,
                                            n_paths=st["paths"], dt=dt, seed=st["seed"],
                                            client=client, progress=args.progress,
                                            control_variate=st["control_variate"]))
        seconds = time.time() - t0
        value = np.array([r.values for r in results])
        error = np.array([np.full(r.value.shape, np.nan) if r.error is None else r.error
                          for r in results])
        stderr = np.array([r.stderr for r in results])
        bias = np.array([r.bias for r in results])
        bse = np.array([r.bias_stderr for r in results])
        r0 = results[0]
        vr = [None if r.variance_reduction is None else _nullable(r.variance_reduction)
              for r in results]
        cv_note = [r.details.get("control_variate") for r in results]
        doc = {"model": model.name, "observable": str(f),
               "input": [str(p) for p in parsed], "method": "montecarlo (CRN response)",
               "options": {"paths": r0.n_paths, "dt": r0.dt, "scheme": r0.scheme,
                           "seed": r0.seed, "control_variate": st["control_variate"]},
               "eps": eps, "times": r0.times.tolist(), "values": _nullable(value),
               "errors": _nullable(error), "stderr": _nullable(stderr),
               "bias": _nullable(bias), "bias_stderr": _nullable(bse),
               "baseline": _nullable(r0.baseline),
               "baseline_stderr": _nullable(r0.baseline_stderr),
               "variance_reduction": vr, "control_variate_details": cv_note,
               "values_are": "E f(h^eps_t) - E f(h^0_t) at dt (common random numbers); "
                             "bias = 2[v(dt) - v(dt/2)] on the same Brownian paths; "
                             "errors = 4 stderr + |bias| + 4 bias_stderr + rel max_t|bias|, rel = "
                             "max(0.05, rate dt) (null: unknown)",
               "cluster": _cluster_label(args), "seconds": seconds}
        return _emit_responses(
            args, doc, out, plot, bar, r0.times, eps, (value, error, stderr, bias),
            f"{model.name}: f = {f}, u = {', '.join(map(str, parsed))}, {r0.n_paths:,} CRN "
            f"paths, dt = {dt:g}",
            f"# {model.name}: response of f = {f} to eps·u, u = "
            f"{', '.join(map(str, parsed))}; {r0.n_paths:,} CRN paths, dt = {dt:g} "
            f"({r0.scheme}), seed {r0.seed}, {_cluster_label(args)}, {seconds:.1f} s",
            "error = 4·se + |bias| + 4·se_bias + rel·max_t|bias| (rel = max(0.05, rate·dt)); "
            "bias = 2(v(dt) − v(dt/2)), the time-step bias")
