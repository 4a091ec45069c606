"""The ``volterra-sym`` command line::

    volterra-sym models                                   # list the built-in example models
    volterra-sym derive MODEL --order N [--observable EXPR] --out FILE.tex [--pdf]
                        [--features DEGREE]
    volterra-sym kernel MODEL --order N --lags 0.1 0.5 ... [--channels 0 1] [--method M]
                        [--tol TOL] [--degree D] [--json]
    volterra-sym series MODEL --input "sin(2*t)" --eps 0.1 --order 3 --t-max 5
                        [--plot FILE.png] [--json] [--method M] [--tol TOL] [--degree D]
    volterra-sym verify MODEL [--order N] [--observable EXPR] [--out DIR] [--quick]
                        [--paths P] [--kernel-paths P] [--seed S] [--strict] [--parity]
                        [--levels 3] [--input EXPR]
    volterra-sym kernel MODEL --method montecarlo ...     # and: volterra-sym simulate MODEL
                        (Monte Carlo, :mod:`volterra_sym.cli_montecarlo`)

``MODEL`` is a TOML model file or the name of a built-in example (``volterra-sym models``).
Every user expression (observable, input) goes through the safe whitelist parser.

Errors: :func:`main` turns every error into one line on stderr and an exit status
(:data:`EXIT_STATUS_HELP`): 0 success; 2 invalid input or a request that cannot be served
as stated (:class:`~volterra_sym.errors.InvalidInputError`,
:class:`~volterra_sym.errors.NotApplicableError`, a file that cannot be read or written);
1 a computation that failed or was refused for its cost (the other
:class:`~volterra_sym.errors.VolterraSymError`), a failed verify check, out of memory, or
an internal error (traceback only with ``VOLTERRA_DEBUG=1``); 130 interrupted.

Output files are written atomically (:mod:`volterra_sym.reports.atomic`).
"""

from __future__ import annotations

import argparse
import cmath
import contextlib
import errno
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from pathlib import Path

import numpy as np
import sympy as sp

from . import __version__
from .budget import (
    DEFAULT_TIME_BUDGET,
    MAX_TIME_BUDGET,
    SAMPLE_COUNTS,
    blas_threads,
    check_memory,
    memory_budget,
    montecarlo_seconds,
    time_budget,
)
from .errors import (
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    UnusedOptionsWarning,
    VolterraSymError,
)
from .hierarchy.dag import MAX_TIME
from .model import SRNN, builtin_models, load_model
from .model.domain import input_singularity
from .parsing import ExpressionError, parse_expression
from .reports.atomic import atomic_path, write_text_atomic
from .reports.progress import StageProgress

__all__ = ["main", "load_model", "builtin_models", "parse_input", "build_parser",
           "EXIT_OK", "EXIT_FAILED", "EXIT_INVALID", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
#: highest kernel/series order the command line accepts (a cost budget checked first)
MAX_ORDER = 16
#: largest time horizon of ``series`` (a cost budget: the routes integrate up to it)
MAX_T_MAX = MAX_TIME
#: most observation times of ``series``
MAX_N_TIMES = 10_000_000
#: times of ``[0, T]`` at which an input is evaluated before a run (finite and real there)
INPUT_PROBES = 257
#: numpy's floating-point notes (RuntimeWarning messages), not shown on the command line
_FP_NOTES = r"(divide by zero|invalid value|overflow|underflow) encountered"

#: which backend options each route uses: kernels, series
GALERKIN_OPTIONS = ("tol", "degree", "paths", "seed", "time_budget", "measure", "check")
KERNEL_OPTIONS = {"exact": (), "spectral": ("tol",), "galerkin": GALERKIN_OPTIONS,
                  "taylor": ("tol", "degree")}
SERIES_OPTIONS = {"exact": ("time_budget",), "spectral": ("tol", "time_budget"),
                  "galerkin": GALERKIN_OPTIONS,
                  "taylor": ("degree",)}

EXIT_STATUS_HELP = """\
exit status:
  0    success (verify: no check failed; WEAK and SKIP lines do not fail it
       unless --strict)
  1    the computation failed or was refused for its cost (accuracy not reached,
       resource limit, Monte Carlo failure), a verify check failed (with --strict
       also: a check WEAK or skipped other than as not applicable), out of memory,
       or an internal error
  2    invalid input, or a request that cannot be served as stated (unknown model
       or method, a method that does not apply, an unreadable model file or an
       unwritable output path)
  130  interrupted (Ctrl-C)
Every error is one line on stderr ("error: ..."); VOLTERRA_DEBUG=1 adds the
traceback of internal errors.

environment:
  VOLTERRA_PROGRESS=1/0     force progress bars on/off (default: when stderr is a
                            terminal)
  VOLTERRA_MEMORY_BUDGET    memory budget such as 4G (default: half of the
                            available memory)
  VOLTERRA_TIME_BUDGET      seconds a Monte Carlo run may take (default 3600): the
                            first chunk of paths (or the first second of a single
                            long chunk) is timed and a longer run refused
  VOLTERRA_BLAS_THREADS     BLAS threads of the deterministic routes (default 1:
                            a multi-threaded BLAS on a busy machine spins; 0
                            leaves BLAS alone)
  VOLTERRA_DEBUG=1          print the traceback of internal errors

output files are written atomically (a temporary file in the same directory,
then renamed), so an interrupted run never leaves a partial file. An output
path that is a symbolic link to a regular file writes that file; a dangling
link, a directory or a device is refused.

theory and conventions: docs/theory.md in the repository."""


#: the MODEL argument's help, shared by every sub-command
MODEL_HELP = ("TOML model file, built-in example name (volterra-sym models), or - for the "
              "TOML text on standard input")


def _load(spec: str) -> SRNN:
    """:func:`load_model`, or for ``-`` the TOML text on standard input
    (:meth:`SRNN.from_toml`, named ``stdin`` unless it has a ``name``); a file that is not
    UTF-8 text refused by name."""
    if spec == "-":
        if sys.stdin is None or sys.stdin.isatty():
            state = "closed" if sys.stdin is None else "a terminal"
            raise InvalidInputError("MODEL '-' reads the TOML model from standard input, "
                                    f"which is {state} (pipe or redirect a file into it)",
                                    param="MODEL")
        raw = sys.stdin.buffer.read(SRNN.MAX_FILE_BYTES + 1)
        return SRNN.from_toml(raw, name="stdin")
    try:
        return load_model(spec)
    except UnicodeError as exc:
        raise InvalidInputError(f"model file {spec!r} is not UTF-8 text ({exc})",
                                param="MODEL") from None


# ---------------------------------------------------------------------- validation
class _UsageError(Exception):
    """argparse refused the command line (exit status 2)."""


def _positive_int(name: str, value: int, hi: int | None = None, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo \
            or (hi is not None and value > hi):
        bound = f"between {lo} and {hi:,}" if hi is not None else f"≥ {lo}"
        raise InvalidInputError(f"{name} must be an integer {bound}, got {value!r}",
                                param=name)
    return int(value)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}", param=name)
    return float(value)


def _check_order(order: int, model: SRNN) -> int:
    """``1 ≤ order ≤ MAX_ORDER`` and the hierarchy's node count within its limit."""
    from .hierarchy.dag import MAX_RECURSION_NODES, recursion_node_count

    order = _positive_int("--order", order, MAX_ORDER)
    nodes = recursion_node_count(model.m, order, model.input == "activation")
    if nodes > MAX_RECURSION_NODES:       # a cost refusal (exit 1), as the hierarchy's own
        raise ResourceLimitError(f"--order {order} with m = {model.m} input channels needs "
                                 f"{nodes:,} recursion nodes, more than the limit "
                                 f"{MAX_RECURSION_NODES:,}; lower --order",
                                 estimate=float(nodes), budget=float(MAX_RECURSION_NODES),
                                 unit="nodes", option="--order")
    return order


def _check_tol(tol: float | None) -> float | None:
    if tol is None:
        return None
    if not (math.isfinite(tol) and 0 < tol < 1):
        raise InvalidInputError(f"--tol must be a number with 0 < tol < 1, got {tol!r}",
                                param="--tol")
    return float(tol)


@contextlib.contextmanager
def _as_flags(opts: dict):
    """A backend's refusal of one of ``opts`` (``param="degree"``) re-raised under the
    command-line flag the user typed (``--degree``): the option names of the Python API are
    not the user's words here."""
    try:
        yield
    except InvalidInputError as exc:
        name = exc.param
        if name not in opts:
            raise
        flag = "--" + name.replace("_", "-")
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?= *[<>=]=? *\d)", flag, str(exc))
        if text.startswith(name + " "):
            text = flag + text[len(name):]
        elif not text.startswith(flag):
            text = f"{flag}: {text}"
        raise InvalidInputError(text, param=flag) from exc


def _route_options(args, route: str, table: dict[str, tuple[str, ...]],
                   also: dict[str, str] | None = None) -> tuple[dict, list]:
    """The backend options (``--tol``, ``--degree``; galerkin: ``--paths``, ``--seed``,
    ``--time-budget`` of its sampled measure) the chosen route uses; with an explicit
    ``--method`` an option the route does not use is refused, with ``auto`` it is ignored
    (returned in the second list). ``also`` names other users of an option (for the
    refusal's text: ``--paths`` of ``kernel`` is also Monte Carlo's)."""
    given = {"tol": _check_tol(args.tol),
             "degree": None if args.degree is None else _positive_int("--degree", args.degree),
             "paths": None, "seed": None, "time_budget": None,
             "measure": getattr(args, "measure", None), "check": getattr(args, "check", None)}
    if getattr(args, "paths", None) is not None:
        lo, hi, _ = SAMPLE_COUNTS
        if isinstance(args.paths, int) and not lo <= args.paths <= hi:
            # outside --method montecarlo, --paths counts the galerkin route's samples
            # (a user who forgot --method montecarlo was told only "between 1000 and 1e8")
            mc = (" outside --method montecarlo", "; Monte Carlo paths (≥ 2) need --method "
                  "montecarlo") if (also or {}).get("paths") else ("", "")
            raise InvalidInputError(f"--paths must be an integer between {lo:,} and {hi:,}"
                                    f"{mc[0]}, got {args.paths}: it counts the samples of p0 "
                                    f"averaging the galerkin route's matrices{mc[1]}",
                                    param="--paths")
        given["paths"] = _positive_int("--paths", args.paths, hi, lo=lo)
    if getattr(args, "seed", None) is not None:
        given["seed"] = _positive_int("--seed", args.seed, 2**63 - 1, lo=0)
    if getattr(args, "time_budget", None) is not None:
        given["time_budget"] = time_budget(args.time_budget, "--time-budget")
    opts, ignored = {}, []
    for name, value in given.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if name in table.get(route, ()):
            opts[name] = value
        elif args.method != "auto":
            users = [r for r, names in table.items() if name in names]
            other = (also or {}).get(name)
            users += [other] if other else []
            raise InvalidInputError(f"{flag} is not used by method {route!r} (only by "
                                    f"{', '.join(users)})", param=flag)
        else:
            ignored.append(flag)
    return opts, ignored


def _parse_lags(items: list[str], order: int) -> np.ndarray:
    """``--lags`` items, each ``order`` (one per kick) comma-separated finite numbers ≥ 0."""
    rows = []
    for it in items:
        try:
            row = [float(x) for x in it.split(",")]
        except ValueError:
            raise InvalidInputError(f"--lags: {it!r} is not a comma-separated list of "
                                    "numbers", param="--lags") from None
        if len(row) != order:
            raise InvalidInputError(f"--lags: {it!r} has {len(row)} value(s); the kernel "
                                    f"needs {order} per lag point (one per kick, "
                                    "comma-separated)", param="--lags")
        if not all(math.isfinite(x) for x in row):
            raise InvalidInputError(f"--lags: {it!r}: lags must be finite numbers",
                                    param="--lags")
        if any(x < 0 for x in row):
            raise InvalidInputError(f"--lags: {it!r}: lags must be ≥ 0 (a lag is the time "
                                    "since a kick)", param="--lags")
        rows.append(row)
    return np.asarray(rows, dtype=float)


def _check_channels(items: list[str] | None, order: int, m: int) -> tuple:
    """``--channels`` as ``order`` 0-based channel numbers < m, given as separate words
    (``0 1``) or comma-separated (``0,1``, the form of ``--lags``). A word ``k1+k2`` is one
    kick carrying both channels (the input inside the activation, docs/theory.md §10):
    ``0+1`` is the contact kernel ``K^(2)_12``, ``0+1 0`` is ``K^(2,1)_12,1``; its channels
    count towards the order, the lags are one per kick, and the result is the kicks
    ``((0, 1), (0,))`` instead of a channel tuple."""
    if not items:
        return (0,) * order
    words = [w for it in items for w in str(it).replace(",", " ").split()]
    try:
        kicks = [tuple(int(c) for c in w.split("+")) for w in words]
    except ValueError:
        raise InvalidInputError(f"--channels: {' '.join(map(str, items))!r} is not a list "
                                "of integers (0-based channel numbers; k1+k2 for one kick "
                                "carrying both)", param="--channels") from None
    total = sum(len(k) for k in kicks)
    if total != order:
        raise InvalidInputError(f"--channels: give {order} channel(s) for order {order} (a "
                                f"kick k1+k2 counts 2), got {total}", param="--channels")
    bad = sorted({k for kick in kicks for k in kick if not 0 <= k < m})
    if bad:
        raise InvalidInputError(f"--channels: channels are 0-based and the model has m = {m} "
                                f"input channel(s) (0..{m - 1}); got {bad}",
                                param="--channels")
    if all(len(k) == 1 for k in kicks):
        return tuple(k[0] for k in kicks)
    return tuple(kicks)


def parse_input(exprs: list[str], m: int, t_max: float | None = None):
    """Input ``u(t)`` from one safe expression in ``t`` per channel -> ``(u, parsed)``.

    ``u(t)`` returns a float array ``(m,)`` and raises
    :class:`~volterra_sym.errors.InvalidInputError` (naming the channel and ``t``) where an
    expression is not a finite real number (``1/t`` at ``t = 0``, ``sqrt(t - 1)``...).
    With ``t_max``, an expression singular on ``[0, t_max]`` (a pole, a log of a number
    ≤ 0...) is refused up front (:func:`~volterra_sym.model.domain.input_singularity`), and
    so is one that is not a finite real number at one of :data:`INPUT_PROBES` evenly
    spaced times of ``[0, t_max]`` (``exp(t)`` overflows beyond t ≈ 709.8).
    """
    if len(exprs) != m:
        example = " ".join(f"--input {e!r}" for e in ("sin(t)", "cos(2*t)", "1", "t")[:m]) \
            + (" ..." if m > 4 else "")
        raise InvalidInputError(f"--input: the model has m={m} input channel(s); give one "
                                f"--input expression per channel, repeating the flag "
                                f"({example}), got {len(exprs)}", param="--input")
    t = sp.Symbol("t", real=True)
    parsed = [parse_expression(e, {"t": t}, what=f"--input channel {k}")
              for k, e in enumerate(exprs)]
    if t_max is not None:
        for k, e in enumerate(parsed):
            why = input_singularity(e, t, t_max)
            if why is not None:
                raise InvalidInputError(f"--input channel {k} ({e}) is singular on "
                                        f"[0, {t_max:g}]: {why}", param="--input")
    # SymPy's cmath printer knows pi but not E (KeyError 'Exp1' from lambdify) and recurses
    # on a Float: constants go in as the exact rationals of their doubles
    fns = [sp.lambdify(t, e.xreplace({c: sp.Rational(float(c))
                                      for c in e.atoms(sp.NumberSymbol)}), "cmath")
           for e in parsed]

    def value(k: int, tt: float) -> float:
        try:
            v = complex(fns[k](float(tt)))
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise InvalidInputError(f"--input channel {k} ({parsed[k]}) cannot be evaluated "
                                    f"at t = {tt:g}: {exc}", param="--input") from None
        if v.imag != 0 and abs(v.imag) > 1e-12 * max(abs(v.real), 1.0):
            raise InvalidInputError(f"--input channel {k} ({parsed[k]}) is not real at "
                                    f"t = {tt:g} (value {v})", param="--input")
        if not cmath.isfinite(v) or not math.isfinite(v.real):
            raise InvalidInputError(f"--input channel {k} ({parsed[k]}) is not finite at "
                                    f"t = {tt:g}", param="--input")
        return v.real

    def u(tt):
        return np.array([value(k, tt) for k in range(m)])

    if t_max is not None:
        for tt in np.linspace(0.0, t_max, INPUT_PROBES):
            u(tt)
    return u, parsed


def _ignore_sigint() -> None:
    """Ignore SIGINT from now on (main thread only; the process is exiting)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _plot_path(spec: str) -> Path:
    """The file ``--plot`` writes: ``spec`` if its suffix is an image format matplotlib
    writes, else ``spec`` + ``.png``."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(spec)
    if path.name not in ("", ".", "..") and path.suffix.lower().lstrip(".") not in \
            FigureCanvasBase.get_supported_filetypes():
        path = path.with_name(path.name + ".png")
    return path


def _output_path(spec: str | Path, flag: str = "--out", *, image: bool = False) -> Path:
    """Where the output file of option ``flag`` goes (``image``: through :func:`_plot_path`);
    refused before any work (:class:`InvalidInputError` naming ``flag`` and the path) when
    it is empty, ends in '/', or is a directory, a dangling symbolic link, not a regular
    file or in a directory that refuses new files. A link to a regular file is followed
    (the target is replaced atomically, the link stays)."""
    text = str(spec)
    if not text.strip():
        raise InvalidInputError(f"{flag} must name a file, got an empty path", param=flag)
    if text.endswith(("/", os.sep)):
        raise InvalidInputError(f"{flag} {text!r} ends in '/': it names a directory, not a "
                                "file", param=flag)
    path = _plot_path(text) if image else Path(text)
    if image and path != Path(text):
        print(f"note: {flag} {text!r} has no image suffix matplotlib writes: the figure goes "
              f"to {str(path)!r}", file=sys.stderr)
    if image and path.suffix.lower() == ".pgf":
        import matplotlib

        tex = matplotlib.rcParams["pgf.texsystem"]
        if shutil.which(tex) is None:
            raise InvalidInputError(f"{flag} {str(path)!r}: a .pgf figure needs {tex}, which "
                                    "is not installed; choose another format (.png, .pdf, "
                                    ".svg)", param=flag)
    try:
        return _checked_output(path)
    except OSError as exc:
        raise InvalidInputError(f"{flag} {_os_error_line(exc)}", param=flag) from None


def _checked_output(path: Path) -> Path:
    """:func:`_output_path`'s checks of the file system (an ``OSError`` naming the path)."""
    spec = path
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            raise FileNotFoundError(errno.ENOENT, "is a dangling symbolic link (to "
                                    f"{os.readlink(path)}); refusing to create its target",
                                    str(path))
        path = target
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(spec))
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "is not a regular file (device, pipe or socket)",
                      str(spec))
    if path.name in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, "names a directory, not a file", str(spec))
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "its parent is not a directory", str(spec))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "directory not writable", str(spec))
    if path.parent.is_dir():
        # access() says yes to root everywhere (and /proc refuses new files anyway): try
        # what the atomic write will do, a temporary file beside the target
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe",
                                         dir=path.parent)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot create files in {str(path.parent)!r} "
                          f"({exc.strerror})", str(spec)) from None
        os.close(fd)
        os.unlink(probe)
    return path


# ---------------------------------------------------------------------- commands
def cmd_models(args) -> int:
    """List the built-ins, or print one's TOML file (``volterra-sym models tanh3 > my.toml``:
    a starting point to edit)."""
    if args.name is not None:
        models = builtin_models()
        if args.name not in models:
            raise InvalidInputError(f"models: {SRNN._shown_path(args.name)} is not a "
                                    f"built-in example (built-ins: {', '.join(sorted(models))})",
                                    param="NAME")
        sys.stdout.write(models[args.name].read_text(encoding="utf-8"))
        return EXIT_OK
    models = sorted(builtin_models().items())
    width = max((len(name) for name, _ in models), default=0)
    for name, path in models:
        m = SRNN.load(path)
        extra = "".join(f" [{feat}]" for feat in sorted(m.features))
        print(f"{name:{width}s}  n={m.n} m={m.m} activation={m.activation.name:8s} "
              f"observable={m.default_observable}{extra}")
    return EXIT_OK


def cmd_derive(args) -> int:
    from .reports import compile_pdf, derivation_document

    out = _output_path(args.out)
    if args.pdf and out.resolve().suffix == ".pdf":
        raise InvalidInputError(f"--out {str(args.out)!r}: --pdf writes the PDF beside the "
                                "LaTeX file with the suffix .pdf, which would replace the "
                                "LaTeX file itself; name it .tex", param="--out")
    if args.features is not None:
        _positive_int("--features", args.features, 40, lo=1)    # the Taylor degree
    with StageProgress(2 + bool(args.pdf), "derive", enabled=args.progress) as bar:
        with bar.stage("load model"):
            model = _load(args.model)
            order = _check_order(args.order, model)
            model.observable(args.observable)          # refuse a bad observable first
        cmd = f"volterra-sym derive {shlex.quote(str(args.model))} --order {order}"
        if args.observable:
            cmd += f" --observable {json.dumps(args.observable)}"
        if args.features is not None:
            cmd += f" --features {args.features}"
        cmd += f" --out {shlex.quote(str(args.out))}"      # the whole command, re-runnable
        with bar.stage("derivation (symbolic)"):
            doc = derivation_document(model, order, args.observable, command=cmd,
                                      features=args.features)
            write_text_atomic(out, doc)
        print(f"wrote {out} ({len(doc.splitlines())} lines)")
        if args.pdf:
            with bar.stage("pdflatex"):
                pdf = compile_pdf(out)
            # named the way the user named --out (compile_pdf returns an absolute path)
            shown = Path(out).with_suffix(".pdf")
            print(f"wrote {shown if shown.resolve() == Path(pdf).resolve() else pdf}")
    return EXIT_OK


def cmd_kernel(args) -> int:
    from .backends import select_route, with_fallback
    from .cli_montecarlo import cmd_kernel_montecarlo, refuse_mc_options
    from .hierarchy import ResponseHierarchy

    if args.method == "montecarlo":
        return cmd_kernel_montecarlo(args)
    refuse_mc_options(args, keep=("paths", "seed"))       # also the galerkin route's

    with StageProgress(2, "kernel", enabled=args.progress) as bar:
        with bar.stage("load model, build hierarchy"):
            model = _load(args.model)
            order = _check_order(args.order, model)
            channels = _check_channels(args.channels, order, model.m)
            lags = _parse_lags(args.lags, len(channels))
            hier = ResponseHierarchy(model, args.observable, order)
            K = hier.kernel(channels)
            chosen = select_route(model, hier.f, args.method, f"kernel {K}")
            route = chosen.name
        with bar.stage(f"evaluate ({route})"):
            def run(r):
                opts, ignored = _route_options(args, r.name, KERNEL_OPTIONS,
                                               {"paths": "montecarlo", "seed": "montecarlo"})
                with _as_flags(opts):
                    return K.evaluate(lags, method=r.name, **opts), opts, ignored
            with _unused_options() as unused:
                _, (res, opts, ignored) = with_fallback(chosen, model, hier.f,
                                                        args.method, run)
    ignored += unused
    vals, errs, used = res.values, res.error_or_nan, res.method
    facts = dict(res.details.get("route", {}))
    if args.json:
        print(json.dumps({"model": model.name, "observable": str(hier.f),
                          "channels": [list(c) if isinstance(c, tuple) else c
                                       for c in channels],
                          "method": used, "options": opts,
                          "lags": lags.tolist(), "values": vals.tolist(),
                          "errors": [e if math.isfinite(e) else None for e in errs.tolist()],
                          **({"details": _jsonable(facts)} if facts else {})}, indent=2))
    else:
        note = f"; {', '.join(ignored)} not used by {used}" if ignored else ""
        if "measure" in facts:
            note = _galerkin_note(facts) + note
        elif "degree" in facts:
            note = f", degree {facts['degree']}" + note
        print(f"# {_kernel_label(channels)} of f = {hier.f} for {model.name} "
              f"(method: {used}{note})")
        parts = [(k, facts[k]) for k in ("truncation", "statistical", "rounding")
                 if isinstance(facts.get(k), (int, float))]
        if parts:
            print("# largest error parts: " + ", ".join(f"{k} {v:.3g}" for k, v in parts)
                  + _advice(dict(parts), used))
        if facts.get("changes"):
            above = facts.get("check") == "above"
            print(f"# truncation check{' from above' if above else ''}, largest change "
                  "against degree: " + ", ".join(
                      f"{dl} {c:.3g}" for dl, c in sorted(facts["changes"].items(),
                                                          reverse=not above)))
            print(_above_hint(facts, args.check), end="")
        print(f"# {'lags':>24s} {'K':>22s} {'error estimate':>16s}")
        for lag, v, e in zip(lags, vals, errs, strict=True):
            print(f"{','.join(f'{x:g}' for x in lag):>26s} {v:22.15g} {e:16.3g}")
    return EXIT_OK


def _above_hint(facts: dict, asked: str | None) -> str:
    """A comment line offering ``--check above`` where ``auto`` checked a galerkin value from
    below only for its cost (the Gaussian reference and the sampled measure: n ≥ 6, and
    n = 5 beyond the degrees it checks there from above; docs/theory.md §9), else ``""``."""
    d = facts.get("degree")
    if asked or facts.get("check") != "below" or facts.get("measure") not in (
            "gaussian", "samples") or not isinstance(d, int):
        return ""
    return (f"# (--check above compares degree {d} with {d + 1}–{d + 3} instead: an "
            f"estimate of its own error, at the cost of degree {d + 3})\n")


def _jsonable(facts: dict) -> dict:
    """The route's facts that are numbers, strings, short lists or per-lag arrays (as lists,
    a non-finite entry as ``null``), for ``--json``."""
    def plain(x):
        x = x.item() if isinstance(x, (np.integer, np.floating)) else x
        return None if isinstance(x, float) and not math.isfinite(x) else x
    out = {}
    for k, v in facts.items():
        v = plain(v)
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
            out[k] = [plain(x) for x in v.ravel().tolist()]
        elif isinstance(v, (list, tuple)) and len(v) <= 64:
            out[k] = [plain(x) for x in v]
        elif isinstance(v, dict) and len(v) <= 64:   # {lower degree: change or [per term]}
            out[k] = {str(a): [plain(x) for x in b] if isinstance(b, (list, tuple))
                      else plain(b) for a, b in v.items()
                      if isinstance(b, (list, tuple, int, float)) or b is None}
    return out


@contextlib.contextmanager
def _unused_options():
    """The options the route reported unused (:class:`UnusedOptionsWarning`), as flags for
    the output's header ("--paths not used by galerkin") instead of a second message on
    stderr; every other warning is shown as usual."""
    flags: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # recording replaces main's filters: numpy's floating-point notes stay silent here
        warnings.filterwarnings("ignore", category=RuntimeWarning, message=_FP_NOTES)
        yield flags
    for w in caught:
        if isinstance(w.message, UnusedOptionsWarning):
            flags += [f"--{o.replace('_', '-')}" for o in w.message.options
                      if f"--{o.replace('_', '-')}" not in flags]
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _kernel_label(kicks) -> str:
    """``K[1, 1](sigma_1, sigma_2)`` for the kicks ``((0,), (0,))``; a kernel whose kicks
    carry several channels (the input inside the activation, docs/theory.md §10)
    ``K^(2,1)[12, 1](sigma_1, sigma_2)``. One label for every route's header (the engine's
    and the Monte Carlo's); channels 1-based, as in printed formulas."""
    kicks = [tuple(c) if isinstance(c, (tuple, list)) else (c,) for c in kicks]
    lags = ", ".join(f"sigma_{j + 1}" for j in range(len(kicks)))
    glue = "" if max(max(c) for c in kicks) < 9 else "+"
    sub = ", ".join(glue.join(str(k + 1) for k in c) for c in kicks)
    if all(len(c) == 1 for c in kicks):
        return f"K[{sub}]({lags})"
    return f"K^({','.join(str(len(c)) for c in kicks)})[{sub}]({lags})"


def _advice(parts: dict, route: str = "galerkin") -> str:
    """Which option lowers the larger part of a Galerkin or Taylor error."""
    t, st = parts.get("truncation", 0.0), parts.get("statistical", 0.0)
    if st > t:
        if route == "taylor":
            return (" (statistical leads: the sampled moments of p0; the Python API's "
                    "paths= lowers it as 1/√paths, or use --method galerkin)")
        return (" (statistical leads: more --paths lower it, about as 1/√paths; an 8-batch "
                "estimate of it scatters by about 30 % from seed to seed)")
    if t > 0 and "statistical" in parts:
        if route == "taylor":
            return " (truncation leads: shorter lags or a higher --degree can lower it)"
        return (" (truncation leads: the change against other degrees; a higher --degree "
                "can lower it)")
    return ""


def _galerkin_note(facts: dict) -> str:
    """``, degree d, <measure> measure[ of N samples (seed S)][, stationary pairing]``."""
    sampled = (f" of {facts['samples']:,} samples (seed {facts['seed']})"
               if "samples" in facts else "")
    return (f", degree {facts['degree']}, {facts['measure']} measure{sampled}"
            + (", stationary pairing" if facts.get("pairing") == "stationary" else ""))


def cmd_series(args) -> int:
    from .backends import select_route, with_fallback
    from .hierarchy import ResponseHierarchy, diagnose_series

    eps = _finite("--eps", args.eps)
    t_max = _finite("--t-max", args.t_max)
    if not 0 < t_max <= MAX_T_MAX:
        raise InvalidInputError(f"--t-max must be a number with 0 < t-max ≤ {MAX_T_MAX:g}, "
                                f"got {args.t_max!r}", param="--t-max")
    n_times = _positive_int("--n-times", args.n_times, MAX_N_TIMES, lo=2)
    plot = None if args.plot is None else _output_path(args.plot, "--plot", image=True)
    with StageProgress(2 + bool(plot), "series", enabled=args.progress) as bar:
        with bar.stage("load model, build hierarchy"):
            model = _load(args.model)
            order = _check_order(args.order, model)
            with np.errstate(over="ignore"):
                if not np.isfinite(np.float64(abs(eps)) ** order):
                    raise InvalidInputError(f"--eps: |eps|^order = {abs(eps):g}^{order} "
                                            "overflows", param="--eps")
            # terms, errors, partial sums and their text: about 6 arrays (order+1, T)
            check_memory(6 * 8 * (order + 1) * n_times * (4 if args.json else 1),
                         f"series of order {order} at {n_times:,} times", "lower --n-times")
            hier = ResponseHierarchy(model, args.observable, order)
            u, parsed = parse_input(args.input, model.m, t_max)
            chosen = select_route(model, hier.f, args.method, f"the series of {hier.f}")
            route = chosen.name
            times = np.linspace(0.0, t_max, n_times)
        with bar.stage(f"series terms ({route})"):
            def run(r):
                opts, ignored = _route_options(args, r.name, SERIES_OPTIONS)
                with _as_flags(opts):
                    return (hier.series_terms(u, times, method=r.name, **opts), opts,
                            ignored)
            with _unused_options() as unused:
                _, (res, opts, ignored) = with_fallback(chosen, model, hier.f,
                                                        args.method, run)
        ignored += unused
        terms, used = np.asarray(res), res.method
        facts = dict(res.route_facts)
        partial = np.cumsum(eps ** np.arange(order + 1)[:, None] * terms, axis=0)
        diag = diagnose_series(terms, eps, terminates_at=hier.terminates_at)
        err = None if res.error is None else np.asarray(res.error)
        # the error of the partial sum S_M = Σ_N ε^N T_N: Σ_N |ε|^N err_N (the terms'
        # errors are bounds, added), and of every S_N, N ≤ order: the cumulative sums
        bounds = None if err is None else np.cumsum(
            abs(eps) ** np.arange(order + 1)[:, None] * err, axis=0)
        if plot:
            from .reports.plots import plot_series

            with bar.stage("plot"), atomic_path(plot) as tmp:
                plot_series(times, partial, tmp, title=f"{model.name}: f = {hier.f}, "
                            f"u = {', '.join(map(str, parsed))}, ε = {eps:g} ({used})",
                            error=bounds, terms=terms, terms_error=err, eps=eps)
    if not diag.meaningful:
        print(f"warning: {diag.message}", file=sys.stderr)
    if plot:
        print(f"wrote {plot}", file=sys.stderr)
    bound = None if bounds is None else bounds[-1]
    if args.json:
        print(json.dumps({"model": model.name, "observable": str(hier.f), "method": used,
                          "options": opts, "input": [str(p) for p in parsed], "eps": eps,
                          "times": times.tolist(), "terms": terms.tolist(),
                          "terms_error": None if err is None else err.tolist(),
                          "partial_sums": partial.tolist(),
                          "partial_sum_error": None if bound is None else bound.tolist(),
                          "partial_sums_error": None if bounds is None else bounds.tolist(),
                          "radius_estimate": diag.radius if np.isfinite(diag.radius)
                          else None, "meaningful": diag.meaningful,
                          "diagnostic": diag.message,
                          **({"details": _jsonable(facts)} if facts else {})}, indent=1))
    else:
        note = f"; {', '.join(ignored)} not used by {used}" if ignored else ""
        if "degree" in facts and "measure" in facts:
            note = _galerkin_note(facts) + note
        print(f"# {model.name}: f = {hier.f}, method {used}{note}, eps = {eps:g}; "
              f"{diag.message}")
        if bounds is not None:
            print("# ± error of S_N: Σ_{j≤N} |eps|^j × the error of T_j (the route's "
                  "estimate); the remainder of the series beyond N is not in it")
            head = "".join(f"{'S_' + str(N):>16s}{'±':>9s}" for N in range(order + 1))
        else:
            print("# the route gives no error estimate for these terms: unknown")
            head = "".join(f"{'S_' + str(N):>16s}" for N in range(order + 1))
        print(f"# {'t':>10s}{head}")
        step = max(1, len(times) // 20)
        for i in range(0, len(times), step):
            cells = (f"{partial[N, i]:16.9g}"
                     + (f"{bounds[N, i]:9.2g}" if bounds is not None else "")
                     for N in range(order + 1))
            print(f"{times[i]:12.5g}" + "".join(cells))
    return EXIT_OK


def cmd_verify(args) -> int:
    import dataclasses

    from .verify import (
        FAIL,
        MIN_PATHS,
        VerificationFailedError,
        VerificationIncompleteError,
        blocking,
        settings_for,
        verify_model,
    )

    model = _load(args.model)
    order = _check_order(args.order, model)
    if not model.is_numeric:
        raise NotApplicableError("verify needs numeric parameters (the model has symbols "
                                 f"{sorted(map(str, model.parameters))})")
    model.observable(args.observable)                 # parse now: bad input is exit 2
    seed = _positive_int("--seed", args.seed, lo=0)
    if not str(args.out).strip():
        raise InvalidInputError("--out must name a directory, got an empty path",
                                param="--out")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a directory", str(out))
    settings = settings_for(bool(args.quick), seed, model.n)
    overrides = {}
    for name, field_name in (("paths", "series_paths"), ("kernel_paths", "kernel_paths")):
        value = getattr(args, name)
        if value is not None:
            overrides[field_name] = _positive_int(f"--{name.replace('_', '-')}", value,
                                                  10**9, lo=MIN_PATHS)
    if args.parity:
        overrides["parity"] = True
    if args.levels is not None:
        overrides["levels"] = args.levels
    if args.input is not None:
        overrides["input"] = args.input
    try:
        settings = dataclasses.replace(settings, **overrides)
    except InvalidInputError as exc:
        if exc.param != "input":
            raise
        raise InvalidInputError(f"--input: {exc}", param="--input") from None
    code, checks = verify_model(model, args.observable, order, out=out, settings=settings,
                                progress=args.progress, strict=bool(args.strict))
    failed = [c.name for c in checks if c.status == FAIL]
    if code != 0 and failed:
        raise VerificationFailedError(
            f"verify: {len(failed)} check(s) failed: {'; '.join(failed[:5])}"
            + (f" (+{len(failed) - 5} more)" if len(failed) > 5 else "")
            + f"; see {out / 'verify.json'}")
    if code != 0:                       # --strict: weak or refused checks
        held = [f"{c.name} [{c.cause or c.status}]" for c in checks if blocking(c)]
        raise VerificationIncompleteError(
            f"verify --strict: no check failed, but {len(held)} check(s) are weak or were "
            f"skipped other than as not applicable: {'; '.join(held[:5])}"
            + (f" (+{len(held) - 5} more)" if len(held) > 5 else "")
            + f"; see {out / 'verify.json'}")
    return EXIT_OK


# ---------------------------------------------------------------------- parser
class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Raw epilog; ``(default: ...)`` appended to every option whose help does not state
    its default and whose default is a value (not None/False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or "%(default)" in text or action.default in (
                None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line (raised, turned into exit 2)."""

    def error(self, message):
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: when stderr is a terminal, or "
                        "VOLTERRA_PROGRESS=1)")


def _route_args(p: argparse.ArgumentParser, extra: tuple[str, ...] = ()) -> None:
    p.add_argument("--method", default="auto",
                   choices=["auto", "exact", "spectral", "galerkin", "taylor", *extra],
                   help="route: auto tries exact, spectral, galerkin, taylor in this order"
                        + ("; montecarlo: simulation estimates with standard errors and "
                           "the time-step bias (options below)" if extra else ""))
    p.add_argument("--tol", type=float, metavar="TOL",
                   help="target accuracy of the spectral, galerkin and (kernels only) taylor "
                        "routes, 0 < TOL < 1 (default: each route's own, spectral 1e-8 for "
                        "n = 1, 1e-6 for n = 2; ignored by exact under --method auto)")
    p.add_argument("--degree", type=int, metavar="D",
                   help="taylor: degree of the short-lag expansion (default 8 for kernels, "
                        "10 for the series functional); galerkin: total degree of the "
                        "polynomial basis (default by dimension, docs/theory.md §9)")


def _galerkin_args(p: argparse.ArgumentParser, sampling: bool, series: bool = False) -> None:
    """Options of the galerkin route's sampled measure (``--paths``/``--seed`` only where
    Monte Carlo does not already define them) and its time limit."""
    g = p.add_argument_group(
        "galerkin (--method galerkin, or auto where it is chosen)",
        None if sampling else "--paths and --seed (Monte Carlo options below) also set the "
        "samples of p0 and their seed where galerkin samples it")
    if sampling:
        g.add_argument("--paths", type=int, metavar="N",
                       help="samples of the stationary density p0 averaging the Galerkin "
                            "matrices where they are sampled (n ≥ 6 where the Gaussian "
                            "reference does not fit p0, or --measure samples; "
                            f"docs/theory.md §9), {SAMPLE_COUNTS[0]:,}..{SAMPLE_COUNTS[1]:,} "
                            f"(default: {SAMPLE_COUNTS[2]:,})")
        g.add_argument("--seed", type=int, metavar="S",
                       help="seed of those samples, ≥ 0 (default: 0)")
    g.add_argument("--measure", choices=("auto", "samples"),
                   help="galerkin's averaging measure: auto (the best available: for n ≥ 6 "
                        "the exact Gaussian reference where it fits p0, deterministic) or "
                        "samples (an ensemble drawn from p0, --paths of them; docs/theory.md "
                        "§9; default: auto)")
    g.add_argument("--check", choices=("auto", "above", "below"),
                   help="galerkin's truncation check: above (the value of --degree against "
                        "the three degrees above it: an error estimate close to the value's "
                        "own, at the cost of degree + 3), below (against lower degrees: the "
                        "best value the degrees give, its estimate up to 10^4 times its "
                        "error where the basis converges fast) or auto (above on the "
                        "measures of n ≤ 5 without input inside the activation or "
                        "state-dependent noise, on the Gaussian reference where five units "
                        "outgrow the density measure and it fits p0; below on those of "
                        "n ≥ 6, where above costs "
                        "far more and is used only when asked for; docs/theory.md §9; "
                        "default: auto)")
    exact = ("; every route's time integration (exact, spectral, galerkin) is stopped "
             "when it is projected (or found) to take longer" if series else "")
    g.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help=f"galerkin: refuse a degree whose estimated time exceeds "
                        f"SECONDS{exact}, 0 < "
                        f"SECONDS ≤ {MAX_TIME_BUDGET:g} (default: {DEFAULT_TIME_BUDGET:g})")


def build_parser() -> argparse.ArgumentParser:
    """The ``volterra-sym`` argument parser with every sub-command (docs/cli.rst is
    generated from it)."""
    from . import cli_montecarlo

    p = _Parser(prog="volterra-sym", formatter_class=_Formatter, epilog=EXIT_STATUS_HELP,
                description="Symbolic-numeric response theory (Volterra kernels) of "
                            "stochastic recurrent neural networks. MODEL is a TOML model "
                            "file or the name of a built-in example (volterra-sym models).")
    p.add_argument("--version", action="version", version=f"volterra-sym {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kw = dict(formatter_class=_Formatter, epilog=EXIT_STATUS_HELP)

    sp_m = sub.add_parser("models", help="list the built-in example models",
                          description="List the built-in example models, or print one's "
                                      "TOML file (a starting point for your own: "
                                      "volterra-sym models tanh3 > my.toml).", **kw)
    sp_m.add_argument("name", nargs="?", metavar="NAME",
                      help="print this built-in's TOML model file instead of the list")
    sp_m.set_defaults(func=cmd_models, progress=None)

    sp_d = sub.add_parser("derive", help="write a LaTeX derivation of the kernels",
                          description="Write the derivation of the response kernels as a "
                                      "LaTeX document.", **kw)
    sp_d.add_argument("model", help=MODEL_HELP)
    sp_d.add_argument("--order", type=int, default=2, help=f"highest kernel order, 1..{MAX_ORDER}")
    sp_d.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    sp_d.add_argument("--out", required=True, help="output .tex file (required)")
    sp_d.add_argument("--pdf", action="store_true",
                      help="also compile with pdflatex (default: off)")
    sp_d.add_argument("--features", type=int, metavar="DEGREE",
                      help="add the response functional on the path signature from the "
                           "short-lag coefficients of total degree ≤ DEGREE, 1 ≤ DEGREE ≤ 40 "
                           "(default: none)")
    _common(sp_d)
    sp_d.set_defaults(func=cmd_derive)

    sp_k = sub.add_parser("kernel", help="evaluate a response kernel at lags",
                          description="Evaluate the kernel K_{k1..kN}(σ1..σN) at lag points, "
                                      "with an error estimate. Lags σj = t - sj (σ1 the most "
                                      "recent kick) in any order: (channel, lag) pairs are "
                                      "sorted together (docs/theory.md §4).", **kw)
    sp_k.add_argument("model", help=MODEL_HELP)
    sp_k.add_argument("--order", type=int, default=1, help=f"kernel order N, 1..{MAX_ORDER}")
    sp_k.add_argument("--channels", nargs="+", metavar="K",
                      help="N 0-based input channels, space- or comma-separated "
                           "(default: 0 for every lag); with the input inside the "
                           "activation k1+k2 is one kick carrying both (a contact kernel: "
                           "--order 2 --channels 0+1 --lags 0.5)")
    sp_k.add_argument("--lags", nargs="+", required=True, metavar="S1,..,SN",
                      help="lag points (required); for order N each is N comma-separated "
                           "numbers ≥ 0 (one per kick)")
    sp_k.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    _route_args(sp_k, ("montecarlo",))
    _galerkin_args(sp_k, sampling=False)       # --paths, --seed: shared with Monte Carlo
    sp_k.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    _common(sp_k)
    cli_montecarlo.add_kernel_arguments(sp_k)
    sp_k.set_defaults(func=cmd_kernel)

    sp_s = sub.add_parser("series", help="evaluate the truncated Volterra series",
                          description="Evaluate the partial sums of the Volterra series "
                                      "for an input eps·u(t) switched on at t = 0.", **kw)
    sp_s.add_argument("model", help=MODEL_HELP)
    sp_s.add_argument("--input", action="append", required=True, metavar="EXPR",
                      help="input u_k(t), one expression in t per channel (repeat; required)")
    sp_s.add_argument("--eps", type=float, default=0.1, help="input amplitude eps")
    sp_s.add_argument("--order", type=int, default=2,
                      help=f"highest order of the series, 1..{MAX_ORDER}")
    sp_s.add_argument("--t-max", type=float, default=5.0,
                      help=f"last observation time, 0 < T ≤ {MAX_T_MAX:g}")
    sp_s.add_argument("--n-times", type=int, default=201,
                      help=f"number of observation times in [0, T], 2..{MAX_N_TIMES:,}; the "
                           "table prints about 20 of them, --json and --plot every one")
    sp_s.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    _route_args(sp_s)
    _galerkin_args(sp_s, sampling=True, series=True)
    sp_s.add_argument("--plot", metavar="FILE",
                      help="write a figure of <f>_0 and each partial sum against t; .png "
                           "is appended unless FILE ends in an image format (default: none)")
    sp_s.add_argument("--json", action="store_true",
                      help="print JSON with every time, term and error (default: a table of "
                           "the partial sums at about 20 of the times)")
    _common(sp_s)
    sp_s.set_defaults(func=cmd_series)

    sp_v = sub.add_parser("verify", help="check every route against every other and MC",
                          description="Check every route against every other and against "
                                      "Monte Carlo; exit status 1 if a check fails (with "
                                      "--strict also if one is WEAK or was refused). Removes "
                                      "the verify.json and figures of an earlier run from "
                                      "DIR first; verify.json is written last.", **kw)
    sp_v.add_argument("model", help=MODEL_HELP)
    sp_v.add_argument("--order", type=int, default=2, help=f"highest kernel order, 1..{MAX_ORDER}")
    sp_v.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    sp_v.add_argument("--out", default="verify_out", metavar="DIR",
                      help="directory for verify.json, kernels.png and residuals.png")
    sp_v.add_argument("--quick", action="store_true",
                      help="fewer paths, a smoke run (default: off)")
    sp_v.add_argument("--seed", type=int, default=12345, help="random seed, ≥ 0")
    sp_v.add_argument("--paths", type=int, metavar="P",
                      help="paths of the series-vs-MC ensemble (default for n ≤ 2: "
                           "600,000; 100,000 with --quick; fewer for larger networks, whose "
                           "steps cost more; at least 30)")
    sp_v.add_argument("--kernel-paths", type=int, metavar="P",
                      help="paths of the kernel-vs-MC ensembles (default for n ≤ 2: 40,000; "
                           "10,000 with --quick; fewer for larger networks; at least 30)")
    sp_v.add_argument("--strict", action="store_true",
                      help="exit status 1 also when a check is WEAK (agreement within "
                           "tolerances as large as the values) or was skipped for any cause "
                           "but not applying: refused for its cost or accuracy, or unresolved "
                           "by the Monte Carlo noise")
    sp_v.add_argument("--parity", action="store_true",
                      help="also run every ε with −ε on the same paths (twice the series "
                           "Monte Carlo) and check the even and odd parts of the series "
                           "residual: the even part has no first-order noise, so the "
                           "M = 3 residual ε⁴T_4 shows with far fewer paths")
    sp_v.add_argument("--levels", type=int, choices=(2, 3), default=None,
                      help="time-step levels of the series Monte Carlo: 2 (dt, dt/2; the "
                           "default) or 3 (also dt/4: the responses are the second Richardson "
                           "step and the first one's O(dt²) remainder is measured and enters "
                           "the check's floor; 7/3 of the cost per path)")
    sp_v.add_argument("--input", metavar="EXPR",
                      help="input u(t) of the series checks on every channel, an expression "
                           "in t (default: sin(2*t)); one with a non-zero mean drives the "
                           "even orders too")
    _common(sp_v)
    sp_v.set_defaults(func=cmd_verify)

    cli_montecarlo.add_simulate_parser(sub, _common, **kw)
    return p


# ---------------------------------------------------------------------- error handling
def _one_line(text: str, limit: int = 600) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _os_error_line(exc: OSError) -> str:
    path = exc.filename if exc.filename is not None else ""
    what = exc.strerror or str(exc)
    return f"{path}: {what}" if path else what


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each on stderr."""
    print(_one_line(f"warning: {message}"), file=sys.stderr)


#: single-valued options whose value may start with '-' (an expression, ``-inf``)
_DASH_VALUE_OPTIONS = ("--input", "--observable", "--eps")


def _attach_dash_values(argv: list[str]) -> list[str]:
    """``--input -sin(t)`` as ``--input=-sin(t)``: argparse takes a separate value that
    starts with '-' (and is not a plain negative number) for an option and refuses it.
    ``simulate --eps`` takes several values and is left alone."""
    out, i = [], 0
    simulate = bool(argv) and argv[0] == "simulate"
    while i < len(argv):
        a = argv[i]
        if (a in _DASH_VALUE_OPTIONS and not (simulate and a == "--eps")
                and i + 1 < len(argv) and argv[i + 1].startswith("-")
                and not argv[i + 1].startswith("--")):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (module docstring, ``--help``)."""
    def fail(code: int, text: str) -> int:
        print(_one_line(f"error: {text}"), file=sys.stderr)
        return code

    try:
        try:
            args = build_parser().parse_args(_attach_dash_values(
                sys.argv[1:] if argv is None else list(argv)))
        except _UsageError as exc:
            return fail(EXIT_INVALID, str(exc))
        except SystemExit as exc:          # --help, --version
            return int(exc.code or 0)
        memory_budget()           # a malformed VOLTERRA_MEMORY_BUDGET / _TIME_BUDGET is
        montecarlo_seconds()      # refused up front, whichever route would have read it
        with blas_threads():      # ... and so is a malformed VOLTERRA_BLAS_THREADS
            pass
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            # numpy's floating-point notes (from lambdified observables and inputs probed
            # at singular points) are not messages for the user: what they lead to is
            # refused or reported on its own, in one line
            warnings.filterwarnings("ignore", category=RuntimeWarning, message=_FP_NOTES)
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        if argv is None:     # the console command (not a caller's main([...])): a second
            _ignore_sigint()  # Ctrl-C while the process exits is no traceback, still 130
        return EXIT_INTERRUPTED
    except (InvalidInputError, NotApplicableError, ExpressionError) as exc:
        return fail(EXIT_INVALID, str(exc))
    except VolterraSymError as exc:
        return fail(EXIT_FAILED, str(exc))
    except BrokenPipeError:                # e.g. piped into `head`: stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except OSError as exc:
        return fail(EXIT_INVALID, _os_error_line(exc))
    except UnicodeError as exc:
        return fail(EXIT_INVALID, f"cannot decode text as UTF-8: {exc}")
    except MemoryError:
        return fail(EXIT_FAILED, "out of memory; lower the size options (--order, --n-times, "
                                 "--paths, --kernel-paths, --degree, or a looser --tol)")
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into a line
        if os.environ.get("VOLTERRA_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        return fail(EXIT_FAILED, f"internal error: {type(exc).__name__}: {exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
