"""Layers import downward only: checked by import-linter (pyproject.toml) in CI, and here
at run time for the import that used to go upward."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(module: str) -> set[str]:
    code = (f"import sys, {module}; "
            "print('\\n'.join(m for m in sys.modules if m.startswith('volterra_sym')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_operators_do_not_load_backends_or_density():
    loaded = _loaded_after("volterra_sym.operators")
    assert "volterra_sym.operators" in loaded
    assert not any(m.startswith(("volterra_sym.backends", "volterra_sym.density",
                                 "volterra_sym.hierarchy")) for m in loaded), sorted(loaded)


def test_hierarchy_does_not_load_backends_until_a_number_is_asked_for():
    loaded = _loaded_after("volterra_sym.hierarchy")
    assert not any(m.startswith(("volterra_sym.backends", "volterra_sym.features",
                                 "volterra_sym.montecarlo")) for m in loaded), sorted(loaded)
