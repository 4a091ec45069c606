"""The ``volterra-sym`` parser for sphinx-argparse, with the epilog (exit status,
environment) shown once as a literal block on docs/cli.rst instead of as reST under every
sub-command."""

from __future__ import annotations

import argparse
from pathlib import Path

from volterra_sym.cli import EXIT_STATUS_HELP, build_parser


def parser() -> argparse.ArgumentParser:
    """:func:`volterra_sym.cli.build_parser` without the epilogs."""
    p = build_parser()
    p.epilog = None
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.epilog = None
    return p


def write_epilog(path: Path) -> None:
    """Write the shared epilog text for ``literalinclude``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != EXIT_STATUS_HELP + "\n":
        path.write_text(EXIT_STATUS_HELP + "\n")
