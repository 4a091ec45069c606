"""Progress bars for long stages (tqdm, on stderr).

A :class:`StageProgress` bar counts stages; while a stage runs its label is shown and the
elapsed time is refreshed twice a second by a small background thread, so that a stage
that is one long call (a symbolic simplification, a Monte Carlo run) still shows that it
is alive. Bars are shown when stderr is a terminal, unless forced on or off by the caller
(``enabled=True/False``) or the environment variable ``VOLTERRA_PROGRESS`` (``1``/``0``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["progress_enabled", "StageProgress"]


def progress_enabled(enabled: bool | None = None) -> bool:
    """``enabled`` if given; else ``VOLTERRA_PROGRESS`` (``1``/``0``) if set; else whether
    stderr is a terminal."""
    if enabled is not None:
        return bool(enabled)
    env = os.environ.get("VOLTERRA_PROGRESS", "").strip().lower()
    if env in ("1", "true", "yes", "always"):
        return True
    if env in ("0", "false", "no", "never"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class StageProgress:
    """A bar over ``total`` stages on stderr; use :meth:`stage` around each stage."""

    def __init__(self, total: int, desc: str, *, enabled: bool | None = None):
        self.enabled = progress_enabled(enabled)
        self._bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="stage", file=sys.stderr,
                             leave=False, dynamic_ncols=True,
                             bar_format="{desc}: {n_fmt}/{total_fmt} [{elapsed}]{postfix}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):   # a refresh must never break the run
                self._bar.refresh()

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[None]:
        """Show ``label`` while the block runs; count the stage when it ends."""
        if self._bar is None:
            yield
            return
        self._bar.set_postfix_str(label, refresh=True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        try:
            yield
        finally:
            self._bar.update(1)

    def note(self, text: str) -> None:
        """Replace the label of the running stage (e.g. a sub-step)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        """Stop the refresh thread and remove the bar (idempotent; leaving the ``with``
        block calls it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
