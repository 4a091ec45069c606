"""Output of ``volterra-sym verify``: the table on stdout, ``verify.json`` and the figures.

Every file is written atomically (a temporary file in the output directory, then
``os.replace``), and :func:`clear_outputs` removes an older ``verify.json`` and figures
before a run starts, so that an interrupted run never leaves files that look current.
``verify.json`` is written last: its presence means the run completed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import sympy as sp

from ..reports.atomic import atomic_path, write_text_atomic
from ..reports.verify_plots import plot_kernels, plot_residuals
from .settings import PASS, SKIP, Check

__all__ = ["OUTPUT_FILES", "jsonable", "table", "clear_outputs", "write_figures",
           "write_json"]

#: the files a run writes into its output directory (``verify.json`` last)
OUTPUT_FILES = ("kernels.png", "residuals.png", "verify.json")


def jsonable(x):
    """``x`` with numpy arrays/scalars, sympy objects and dataclasses made JSON-safe
    (non-finite floats: ``None`` for NaN, ``"inf"``/``"-inf"``)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else (None if math.isnan(x) else str(x))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return jsonable({k.name: getattr(x, k.name) for k in dataclasses.fields(x)})
    if isinstance(x, sp.Basic):
        return str(x)
    if x is None or isinstance(x, (int, str)):
        return x
    return str(x)


def table(checks: list[Check]) -> str:
    """The report as a fixed-width text table (a SKIP shows its cause in brackets)."""
    w1 = max(36, max((len(c.name) for c in checks), default=0))
    w2 = min(44, max(12, max((len(c.value) for c in checks), default=0)))
    w3 = min(36, max(10, max((len(c.tolerance) for c in checks), default=0)))
    lines = [f"{'check':{w1}s}  {'value':{w2}s}  {'tolerance':{w3}s}  status",
             "-" * (w1 + w2 + w3 + 14)]
    for c in checks:
        tail = c.status + (f" [{c.cause}]" if c.status == SKIP else "") \
            + (f"  ({c.reason})" if c.reason and c.status != PASS else "")
        lines.append(f"{c.name:{w1}s}  {c.value[:w2]:{w2}s}  {c.tolerance[:w3]:{w3}s}  {tail}")
    return "\n".join(lines)


def clear_outputs(outdir: Path) -> None:
    """Create ``outdir``, check that files can be created in it (an ``OSError`` before any
    check runs, not after all of them) and remove the files of an earlier run
    (``verify.json`` first)."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot create the output directory ({exc.strerror})",
                        str(outdir)) from None
    try:
        with tempfile.TemporaryFile(dir=outdir, prefix=".verify-probe."):
            pass
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot create files in the output directory "
                        f"({exc.strerror})", str(outdir)) from None
    for name in reversed(OUTPUT_FILES):
        path = outdir / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            raise IsADirectoryError(21, "is in the way of an output file", str(path))


def write_figures(ctx, plots: dict, outdir: Path) -> list[Path]:
    """``kernels.png`` and ``residuals.png`` (each atomically)."""
    paths = [outdir / "kernels.png", outdir / "residuals.png"]
    with atomic_path(paths[0]) as tmp:
        plot_kernels(ctx, plots, tmp)
    with atomic_path(paths[1]) as tmp:
        plot_residuals(plots.get("series"), tmp, title=f"{ctx.model.name}: f = {ctx.f}")
    return paths


def write_json(report: dict, outdir: Path) -> Path:
    """``verify.json`` (atomically)."""
    return write_text_atomic(outdir / "verify.json", json.dumps(jsonable(report), indent=1))
