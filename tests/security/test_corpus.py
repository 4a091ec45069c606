"""The hostile corpus: every payload of ``payloads.txt`` against every entry point of
``entry_points.toml`` (both kept as data: add a payload or an entry point there).

Each call must end in the project's error — a :class:`~volterra_sym.errors.VolterraSymError`
from the API, exit code 2 with an ``error:`` line (or argparse's usage error) from the
command line — and no payload may create the canary file ``CANARY`` that the code-executing
payloads try to create. Besides the canary, ``sympy.sympify``/``parse_expr`` are watched:
the project must never hand a user string to them.

Run the measurement (payloads × entry points, refused, executed, tracebacks) with::

    python -m tests.security.test_corpus
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
import time
import tomllib
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import volterra_sym.cli
from volterra_sym import SRNN
from volterra_sym.errors import VolterraSymError
from volterra_sym.hierarchy import ResponseHierarchy
from volterra_sym.model import get_activation
from volterra_sym.montecarlo import kick_kernel
from volterra_sym.operators.unevaluated import model_ref
from volterra_sym.parsing import compile_time_function, parse_expression

HERE = Path(__file__).parent
_ESCAPE = re.compile(r"\\(n|r|t|0|\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\"}


def _unescape(line: str) -> str:
    return _ESCAPE.sub(lambda m: _SIMPLE.get(m.group(1)) or chr(int(m.group(1)[1:], 16)),
                       line)


def load_payloads(path: Path = HERE / "payloads.txt") -> list[str]:
    """The payloads: one a line, '#' lines are comments, escapes decoded, <empty> = ''."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        out.append("" if line == "<empty>" else _unescape(line))
    return out


def load_entry_points(path: Path = HERE / "entry_points.toml") -> tuple[list, dict, list]:
    """``(entries, grammar regexes, known bugs)`` of the entry-point list."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return data["entry"], data.get("grammar", {}), data.get("known_bug", [])


PAYLOADS = load_payloads()
ENTRY_POINTS, GRAMMAR, KNOWN_BUGS = load_entry_points()


def expected(entry: dict, payload: str) -> str:
    """``"accepted"`` if the payload is in the entry's documented grammar, else
    ``"refused"``."""
    pattern = GRAMMAR.get(entry.get("accepts", ""), None)
    return "accepted" if pattern and re.match(pattern, payload) else "refused"


def known_bug(entry: dict, payload: str) -> str | None:
    for bug in KNOWN_BUGS:
        if re.fullmatch(bug["entry"], entry["name"]) and re.match(bug["payload"], payload,
                                                                   re.S):
            return bug["reason"]
    return None

# ---------------------------------------------------------------------- API entry points
_MODEL_KW = {"Gamma": [[2.0, 0.0], [0.0, 2.0]], "W": [[0.0, 1.0], [1.0, 0.0]],
             "b": [0.5, 0.0], "C": [[1.0], [0.0]], "sigma": [[1.0, 0.0], [0.0, 1.0]]}
_TOML_BASE = {"Gamma": "[[2, 0], [0, 2]]", "W": "[[0, 1], [1, 0]]", "b": "[0.5, 0]",
              "C": "[[1], [0]]", "sigma": "[[1, 0], [0, 1]]", "activation": '"linear"',
              "name": '"base"', "observable": '"h1"'}
_STATE: dict = {}


def _model() -> SRNN:
    if "model" not in _STATE:
        _STATE["model"] = SRNN(**_MODEL_KW)
    return _STATE["model"]


def _kernel():
    if "kernel" not in _STATE:
        _STATE["kernel"] = ResponseHierarchy(_model(), "h1", 1).kernel(0)
        _STATE["kernel"].evaluate([0.5])
    return _STATE["kernel"]


def _entry(param: str) -> Callable[[str, Path], object]:
    def call(payload, tmp):
        kw = {k: [list(r) if isinstance(r, list) else r for r in v]
              for k, v in _MODEL_KW.items()}
        if param == "b":
            kw["b"][0] = payload
        else:
            kw[param][0][0] = payload
        return SRNN(**kw)
    return call


def _toml(key: str, value_of: Callable[[str], str]) -> Callable[[str, Path], object]:
    def call(payload, tmp):
        body = dict(_TOML_BASE, **{key: value_of(payload)})
        path = tmp / "model.toml"
        path.write_text("".join(f"{k} = {v}\n" for k, v in body.items()), encoding="utf-8")
        return SRNN.load(path)
    return call


def _toml_string(payload: str) -> str:
    return json.dumps(payload, ensure_ascii=False)  # a TOML basic string


def _file_content(payload, tmp):
    path = tmp / "model.toml"
    path.write_text(payload, encoding="utf-8", errors="surrogatepass")
    return SRNN.load(path)


def _toml_key(payload, tmp):
    path = tmp / "model.toml"
    body = "".join(f"{k} = {v}\n" for k, v in _TOML_BASE.items())
    path.write_text(body + f"{_toml_string(payload)} = 1\n", encoding="utf-8")
    return SRNN.load(path)


def _time_function(payload, tmp):
    u = compile_time_function(payload, "input")
    return u(np.array([0.0, 0.5, 1.0]))


API: dict[str, Callable[[str, Path], object]] = {
    "parse_expression": lambda p, tmp: parse_expression(p, ["h1", "h2"], what="observable"),
    "observable": lambda p, tmp: _model().observable(p),
    "hierarchy_observable": lambda p, tmp: ResponseHierarchy(_model(), p, 1),
    "activation": lambda p, tmp: SRNN(**_MODEL_KW, activation=p),
    "get_activation": lambda p, tmp: get_activation(p),
    "name": lambda p, tmp: SRNN(**_MODEL_KW, name=p),
    "time_function": _time_function,
    "lags": lambda p, tmp: _kernel().evaluate(p),
    "kick_observable": lambda p, tmp: kick_kernel(_model(), [0.1], observable=p, n_paths=2,
                                                  dt=0.05),
    "kick_lags": lambda p, tmp: kick_kernel(_model(), p, n_paths=2, dt=0.05),
    **{f"entry_{k}": _entry(k) for k in ("Gamma", "W", "b", "C", "sigma")},
    "load_path": lambda p, tmp: SRNN.load(p),
    "file_content": _file_content,
    **{f"toml_{k}": _toml(k, _toml_string) for k in _TOML_BASE},
    "toml_W_entry": _toml("W", lambda p: f"[[{_toml_string(p)}, 1], [1, 0]]"),
    "toml_key": _toml_key,
    "generator": lambda p, tmp: volterra_sym.generator(_model(), p),
    "fokker_planck": lambda p, tmp: volterra_sym.fokker_planck(_model(), p),
    "perturbation": lambda p, tmp: volterra_sym.perturbation(_model(), 0, p),
    "Generator": lambda p, tmp: volterra_sym.Generator(p, model_ref(_model())),
    "Semigroup_time": lambda p, tmp: volterra_sym.Semigroup(p, "h1", model_ref(_model())),
    "expectation": lambda p, tmp: volterra_sym.stationary_density(_model()).expectation(p),
    "polynomial_degree": lambda p, tmp: _model().polynomial_degree(p),
    "ResponseKernel": lambda p, tmp: volterra_sym.ResponseKernel(p, (0,), model_ref(_model())),
    "subs": lambda p, tmp: SRNN("g", 0, 1, 1, activation="tanh").subs(g=p),
    "noisy_beta": lambda p, tmp: SRNN.noisy_rnn([[0.0]], [[0.5]], [[1.0]], beta=p),
    "noisy_B": lambda p, tmp: SRNN.noisy_rnn([[p]], [[0.5]], [[1.0]]),
}


# ---------------------------------------------------------------------- running
def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = volterra_sym.cli.main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def run_one(entry: dict, payload: str, tmp: Path) -> tuple[str, str]:
    """Run one payload against one entry point: ``(outcome, detail)`` with outcome
    ``"refused"`` (the project's error / CLI exit 2), ``"accepted"`` or ``"traceback"``."""
    canary = tmp / "CANARY"
    text = payload.replace("{CANARY}", str(canary))
    try:
        if entry["kind"] == "api":
            try:
                API[entry["call"]](text, tmp)
            except VolterraSymError as exc:
                return "refused", str(exc)
            return "accepted", ""
        argv = [a.replace("{tmp}", str(tmp)).replace("{payload}", text)
                for a in entry["argv"]]
        code, err = _cli(argv)
        if code == 2 and (err.startswith("error: ") or err.startswith("usage:")):
            return "refused", err.strip().splitlines()[-1]
        return ("accepted" if code == 0 else "traceback"), f"exit {code}: {err.strip()}"
    except BaseException as exc:  # noqa: BLE001 - what the corpus looks for
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "traceback", "".join(traceback.format_exception_only(exc)).strip()


class _Watch:
    """Records every string handed to sympy.sympify / parse_expr (the project must never
    hand a user string to them)."""

    def __init__(self):
        self.calls: list[str] = []

    def __enter__(self):
        from sympy.parsing import sympy_parser

        self._saved = (sp.sympify, sympy_parser.parse_expr)
        real_sympify, real_parse = self._saved

        def sympify(a, *args, **kw):
            if isinstance(a, str):
                self.calls.append(a)
            return real_sympify(a, *args, **kw)

        def parse_expr(s, *args, **kw):
            self.calls.append(s)
            return real_parse(s, *args, **kw)
        sp.sympify, sympy_parser.parse_expr = sympify, parse_expr
        return self

    def __exit__(self, *exc):
        from sympy.parsing import sympy_parser

        sp.sympify, sympy_parser.parse_expr = self._saved


def run_entry(entry: dict, payloads: list[str], tmp: Path) -> dict:
    """All payloads against one entry point, a fresh directory each. ``counts`` of the
    outcomes (refused / accepted / traceback / executed / sympified), ``problems``: calls
    that did not end as :func:`expected`, ``known``: those that are listed known bugs."""
    results = Counter()
    problems, known = [], []
    with _Watch() as watch:
        for i, payload in enumerate(payloads):
            work = tmp / f"p{i}"
            work.mkdir()
            watch.calls.clear()
            outcome, detail = run_one(entry, payload, work)
            executed = (work / "CANARY").exists()
            text = payload.replace("{CANARY}", str(work / "CANARY"))
            sympified = any(s == text or (len(text) >= 4 and text in s) for s in watch.calls)
            results[outcome] += 1
            results["executed"] += executed
            results["sympified"] += sympified
            if executed or sympified or outcome != expected(entry, payload):
                row = (outcome + (" + EXECUTED" if executed else "")
                       + (" + SYMPIFIED" if sympified else ""), payload[:80], detail[:300])
                if not (executed or sympified) and known_bug(entry, payload):
                    known.append(row)
                else:
                    problems.append(row)
    return {"counts": results, "problems": problems, "known": known}


# ---------------------------------------------------------------------- tests
def test_corpus_is_large_enough():
    assert len(PAYLOADS) >= 100
    assert len(set(PAYLOADS)) == len(PAYLOADS), "duplicate payloads"
    assert sum("{CANARY}" in p for p in PAYLOADS) >= 30
    names = [e["name"] for e in ENTRY_POINTS]
    assert len(set(names)) == len(names)
    for e in ENTRY_POINTS:
        assert e["kind"] in ("api", "cli")
        assert e["kind"] == "cli" or e["call"] in API, e
        assert e["kind"] == "api" or any("{payload}" in a for a in e["argv"]), e


def test_the_canary_would_be_seen(tmp_path):
    """The harness itself: a payload that is executed creates the canary."""
    work = tmp_path / "w"
    work.mkdir()
    payload = "__import__('pathlib').Path('{CANARY}').touch()"
    exec(payload.replace("{CANARY}", str(work / "CANARY")))  # noqa: S102 - the test's own
    assert (work / "CANARY").exists()


def test_expected_outcomes_follow_the_documented_grammar():
    name = {"accepts": "name"}
    parameter = {"accepts": "parameter"}
    assert expected(name, "import os") == "accepted"       # a plain label
    assert expected(name, "__init__") == "refused"
    assert expected(parameter, "--help") == "accepted"     # -(-help): a parameter
    assert expected(parameter, "-inf") == "refused"
    assert expected(parameter, "h1") == "refused"          # a state variable
    assert expected({}, "CON") == "refused"


@pytest.mark.security
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=[e["name"] for e in ENTRY_POINTS])
def test_every_payload_is_refused_and_nothing_executes(entry, tmp_path):
    report = run_entry(entry, PAYLOADS, tmp_path)
    counts = report["counts"]
    for row in report["known"]:
        print("known bug (see entry_points.toml):", row)
    assert counts["executed"] == 0, report["problems"]
    assert counts["sympified"] == 0, report["problems"]
    assert not report["problems"], report["problems"]


def main() -> int:
    """Print the measurement: payloads × entry points, outcomes, run time."""
    t0 = time.perf_counter()
    total = Counter()
    with tempfile.TemporaryDirectory() as d:
        for k, entry in enumerate(ENTRY_POINTS):
            tmp = Path(d) / f"e{k}"
            tmp.mkdir()
            t = time.perf_counter()
            report = run_entry(entry, PAYLOADS, tmp)
            c = report["counts"]
            total.update(c)
            print(f"{entry['name']:40s} refused {c['refused']:4d}  accepted {c['accepted']:3d}"
                  f"  tracebacks {c['traceback']:3d}  executed {c['executed']}  "
                  f"sympified {c['sympified']}  ({time.perf_counter() - t:.1f} s)", flush=True)
            for problem in report["problems"]:
                print("    PROBLEM", problem)
            for row in report["known"]:
                print("    known bug", row)
            total["problems"] += len(report["problems"])
            total["known"] += len(report["known"])
    calls = len(PAYLOADS) * len(ENTRY_POINTS)
    print(f"\n{len(PAYLOADS)} payloads × {len(ENTRY_POINTS)} entry points = {calls} calls: "
          f"refused {total['refused']}, accepted {total['accepted']}, "
          f"tracebacks {total['traceback']}, executed {total['executed']}, "
          f"sympified {total['sympified']}; unexpected {total['problems']}, known bugs "
          f"{total['known']}; {time.perf_counter() - t0:.0f} s")
    return 0 if total["problems"] == 0 and total["executed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
