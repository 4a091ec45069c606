"""The documentation site's sources: every module has an API page, every example is a
gallery example that the build executes, and ``--help`` shows no reST markup.

The build itself (``sphinx-build -W``, every example executed) runs in ``.ci/run``.
"""

import argparse
import os
import pkgutil
import re
import runpy
import sys
from pathlib import Path

import pytest

import volterra_sym
from volterra_sym.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


def _helps() -> dict[str, str]:
    parser = build_parser()
    out = {"volterra-sym": parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub.format_help()
    return out


@pytest.mark.parametrize("name", sorted(_helps()))
def test_help_shows_no_rest_markup(name):
    text = _helps()[name]
    assert "`" not in text, f"{name} --help shows reST backticks"
    assert not re.search(r":(func|class|mod|meth|data|attr):", text), name


def test_every_subcommand_is_documented():
    assert {"models", "derive", "kernel", "series", "verify"} <= set(_helps())


def test_every_top_level_module_has_an_api_page():
    """Sub-packages are documented recursively; a new top-level module needs a page."""
    pages = " ".join(p.read_text() for p in (ROOT / "docs" / "api").glob("*.rst"))
    names = [m.name for m in pkgutil.iter_modules(volterra_sym.__path__)
             if not m.name.startswith("_")]
    missing = [n for n in names if f"volterra_sym.{n}\n" not in pages]
    assert not missing, f"no API page lists {missing}"
    for page in (ROOT / "docs" / "api").glob("*.rst"):
        if page.stem != "index":
            assert ":recursive:" in page.read_text(), page.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_has_a_gallery_title_block(path):
    lines = path.read_text().splitlines()
    assert lines[0] == '"""', f"{path.name}: the docstring must open on its own line"
    title, rule = lines[1], lines[2]
    assert title.strip() and set(rule) == {"="} and len(rule) >= len(title), path.name


def test_gallery_executes_every_example():
    saved_env, saved_path = dict(os.environ), list(sys.path)
    try:                            # conf.py sets environment variables and sys.path
        conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
        quick = os.environ.get("VOLTERRA_EXAMPLES_QUICK")
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
    sg = conf["sphinx_gallery_conf"]
    assert Path(sg["examples_dirs"]) == ROOT / "examples"
    for path in EXAMPLES:
        full = str(path)
        assert re.search(sg["filename_pattern"], full), f"{path.name} would not be executed"
        assert not re.search(sg["ignore_pattern"], full), f"{path.name} would be skipped"
    assert quick == "1" or saved_env.get("VOLTERRA_EXAMPLES_QUICK") is not None


def test_readme_says_how_to_build_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert "sphinx-build -W --keep-going -b html docs docs/_build/html" in readme
    assert 'pip install -e ".[docs]"' in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "sphinx-build -W --keep-going" in ci and ".[test,docs]" in ci


def test_getting_started_code_runs(capsys):
    """The Python blocks of docs/getting_started.md run as written, in order."""
    text = (ROOT / "docs" / "getting_started.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "getting_started.md", "exec"), namespace)  # noqa: S102
    assert namespace["res"].method == "exact"
    assert str(namespace["model"]).startswith("SRNN 'tanh1'")
