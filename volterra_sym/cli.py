"""The ``volterra-sym`` command line.

    volterra-sym models                                   # list the built-in example models
    volterra-sym derive MODEL --order N [--observable EXPR] --out FILE.tex [--pdf]
                        [--features DEGREE]
    volterra-sym kernel MODEL --order N --lags 0.1 0.5 ... [--channels 0 1] [--method M] [--json]
    volterra-sym series MODEL --input "sin(2*t)" --eps 0.1 --order 3 --t-max 5
                        [--plot FILE.png] [--json] [--method M]
    volterra-sym verify MODEL [--order N] [--observable EXPR] [--out DIR] [--quick]
                        [--paths P] [--kernel-paths P] [--seed S]

``MODEL`` is a TOML model file or the name of a built-in example (``volterra-sym models``).
Every user expression (observable, input) goes through the safe whitelist parser.
Exit status: 0 on success, 2 on bad input, 1 on a failed computation.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import sympy as sp

from .model import SRNN, ModelError, builtin_models, load_model
from .parsing import ExpressionError, parse_expression

__all__ = ["main", "load_model", "builtin_models", "parse_input"]


def parse_input(exprs: list[str], m: int):
    """Input ``u(t)`` from one safe expression in ``t`` per channel -> callable ``(m,)``."""
    if len(exprs) != m:
        raise ExpressionError(f"--input: the model has m={m} input channel(s); give one "
                              f"--input expression per channel, got {len(exprs)}")
    t = sp.Symbol("t", real=True)
    parsed = [parse_expression(e, {"t": t}, what=f"input channel {k}")
              for k, e in enumerate(exprs)]
    fns = [sp.lambdify(t, e, "numpy") for e in parsed]

    def u(tt):
        return np.array([float(fn(tt)) for fn in fns])
    return u, parsed


def _parse_lags(items: list[str], order: int) -> np.ndarray:
    rows = []
    for it in items:
        try:
            row = [float(x) for x in it.split(",")]
        except ValueError:
            raise ValueError(f"--lags: {it!r} is not a comma-separated list of numbers") \
                from None
        if len(row) != order:
            raise ValueError(f"--lags: {it!r} has {len(row)} value(s); order {order} needs "
                             f"{order} per lag point (comma-separated)")
        rows.append(row)
    return np.asarray(rows)


# ---------------------------------------------------------------------- commands
def cmd_models(args) -> int:
    for name, path in sorted(builtin_models().items()):
        m = SRNN.load(path)
        print(f"{name:12s} n={m.n} m={m.m} activation={m.activation.name:8s} "
              f"observable={m.default_observable}")
    return 0


def cmd_derive(args) -> int:
    from .reports import compile_pdf, derivation_document

    model = load_model(args.model)
    cmd = f"volterra-sym derive {args.model} --order {args.order}"
    if args.observable:
        cmd += f" --observable '{args.observable}'"
    if args.features is not None:
        if args.features < 0:
            raise ValueError(f"--features must be a degree ≥ 0, got {args.features}")
        cmd += f" --features {args.features}"
    doc = derivation_document(model, args.order, args.observable, command=cmd,
                              features=args.features)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)
    print(f"wrote {out} ({len(doc.splitlines())} lines)")
    if args.pdf:
        pdf = compile_pdf(out)
        print(f"wrote {pdf}")
    return 0


def cmd_kernel(args) -> int:
    from .hierarchy import ResponseHierarchy

    model = load_model(args.model)
    hier = ResponseHierarchy(model, args.observable, args.order)
    channels = tuple(args.channels) if args.channels else (0,) * args.order
    if len(channels) != args.order:
        raise ValueError(f"--channels: give {args.order} channel(s) for order {args.order}, "
                         f"got {len(channels)}")
    lags = _parse_lags(args.lags, args.order)
    K = hier.kernel(channels)
    res = K.evaluate(lags, method=args.method)
    vals, errs, used = res.values, res.error_or_nan, res.method
    if args.json:
        print(json.dumps({"model": model.name, "observable": str(hier.f),
                          "channels": list(channels), "method": used,
                          "lags": lags.tolist(), "values": vals.tolist(),
                          "errors": errs.tolist()}, indent=2))
    else:
        print(f"# {sp.sstr(K)} of f = {hier.f} for {model.name} (method: {used})")
        print(f"# {'lags':>24s} {'K':>22s} {'error estimate':>16s}")
        for lag, v, e in zip(lags, vals, errs, strict=True):
            print(f"{','.join(f'{x:g}' for x in lag):>26s} {v:22.15g} {e:16.3g}")
    return 0


def cmd_series(args) -> int:
    from .hierarchy import ResponseHierarchy, diagnose_series

    model = load_model(args.model)
    hier = ResponseHierarchy(model, args.observable, args.order)
    u, parsed = parse_input(args.input, model.m)
    if not (np.isfinite(args.t_max) and args.t_max > 0):
        raise ValueError(f"--t-max must be a positive number, got {args.t_max}")
    if not 2 <= args.n_times <= 10_000_000:
        raise ValueError(f"--n-times must be between 2 and 10,000,000, got {args.n_times}")
    times = np.linspace(0.0, args.t_max, args.n_times)
    res = hier.series_terms(u, times, method=args.method)
    terms, used = np.asarray(res), res.method
    eps = args.eps
    partial = np.cumsum(eps ** np.arange(args.order + 1)[:, None] * terms, axis=0)
    diag = diagnose_series(terms, eps, terminates_at=hier.terminates_at)
    if not diag.meaningful:
        print(f"warning: {diag.message}", file=sys.stderr)
    if args.plot:
        from .reports.plots import plot_series

        plot_series(times, partial, args.plot, title=f"{model.name}: f = {hier.f}, "
                    f"u = {', '.join(map(str, parsed))}, ε = {eps:g} ({used})")
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps({"model": model.name, "observable": str(hier.f), "method": used,
                          "input": [str(p) for p in parsed], "eps": eps,
                          "times": times.tolist(), "terms": terms.tolist(),
                          "partial_sums": partial.tolist(),
                          "radius_estimate": diag.radius if np.isfinite(diag.radius)
                          else None, "meaningful": diag.meaningful,
                          "diagnostic": diag.message}, indent=1))
    else:
        print(f"# {model.name}: f = {hier.f}, method {used}, eps = {eps:g}; "
              f"{diag.message}")
        head = "".join(f"{'S_' + str(N):>16s}" for N in range(args.order + 1))
        print(f"# {'t':>10s}{head}")
        step = max(1, len(times) // 20)
        for i in range(0, len(times), step):
            print(f"{times[i]:12.5g}" + "".join(f"{x:16.9g}" for x in partial[:, i]))
    return 0


def cmd_verify(args) -> int:
    try:
        from .verify import run_verify
    except ModuleNotFoundError:
        print("error: the verify command is not available in this version", file=sys.stderr)
        return 1
    return run_verify(args)


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="volterra-sym", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    sp_m = sub.add_parser("models", help="list the built-in example models")
    sp_m.set_defaults(func=cmd_models)

    sp_d = sub.add_parser("derive", help="write a LaTeX derivation of the kernels")
    sp_d.add_argument("model", help="TOML model file or built-in example name")
    sp_d.add_argument("--order", type=int, default=2, help="highest kernel order (default 2)")
    sp_d.add_argument("--observable", help="observable f(h1..hn) (default: the model's)")
    sp_d.add_argument("--out", required=True, help="output .tex file")
    sp_d.add_argument("--pdf", action="store_true", help="also compile with pdflatex")
    sp_d.add_argument("--features", type=int, metavar="DEGREE",
                      help="add the response functional on the path signature (THEORY §5) "
                           "from short-lag coefficients of total degree ≤ DEGREE")
    sp_d.set_defaults(func=cmd_derive)

    sp_k = sub.add_parser("kernel", help="evaluate a response kernel at lags")
    sp_k.add_argument("model")
    sp_k.add_argument("--order", type=int, default=1)
    sp_k.add_argument("--channels", type=int, nargs="+", help="0-based channels (default 0…)")
    sp_k.add_argument("--lags", nargs="+", required=True,
                      help="lag points; for order N each is N comma-separated numbers")
    sp_k.add_argument("--observable")
    sp_k.add_argument("--method", default="auto", help="auto, exact, spectral or taylor")
    sp_k.add_argument("--json", action="store_true", help="print JSON")
    sp_k.set_defaults(func=cmd_kernel)

    sp_s = sub.add_parser("series", help="evaluate the truncated Volterra series")
    sp_s.add_argument("model")
    sp_s.add_argument("--input", action="append", required=True,
                      help="input u_k(t), one expression in t per channel (repeat)")
    sp_s.add_argument("--eps", type=float, default=0.1)
    sp_s.add_argument("--order", type=int, default=2)
    sp_s.add_argument("--t-max", type=float, default=5.0)
    sp_s.add_argument("--n-times", type=int, default=201)
    sp_s.add_argument("--observable")
    sp_s.add_argument("--method", default="auto")
    sp_s.add_argument("--plot", help="write a PNG of <f>_0 and each partial sum against t")
    sp_s.add_argument("--json", action="store_true")
    sp_s.set_defaults(func=cmd_series)

    sp_v = sub.add_parser("verify", help="check every route against every other and MC")
    sp_v.add_argument("model")
    sp_v.add_argument("--order", type=int, default=2)
    sp_v.add_argument("--observable")
    sp_v.add_argument("--out", default="verify_out", help="directory for JSON and figures")
    sp_v.add_argument("--quick", action="store_true", help="fewer paths (a smoke run)")
    sp_v.add_argument("--seed", type=int, default=12345)
    sp_v.add_argument("--paths", type=int, help="paths of the series-vs-MC ensemble "
                      "(default 600,000; 100,000 with --quick)")
    sp_v.add_argument("--kernel-paths", type=int, help="paths of the kernel-vs-MC ensembles "
                      "(default 40,000; 10,000 with --quick)")
    sp_v.set_defaults(func=cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.func(args) or 0)
    except (ModelError, ExpressionError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
