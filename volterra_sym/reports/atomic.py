"""Atomic output files: write to a temporary file in the target's directory, then rename.

``os.replace`` is atomic on POSIX within one file system, so a reader (or a later run)
sees either the old complete file or the new complete file, never a partial one; an
interrupted or failed write (any exception, ``KeyboardInterrupt`` included) removes the
temporary file and leaves the target untouched.

Symbolic links: ``os.replace`` renames over the directory entry, so an existing symlink at
the target path (dangling or not) is *replaced by the new file*; the link's target is
never opened or written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_text_atomic", "write_bytes_atomic", "check_writable"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | Path) -> Path:
    """The output path as a :class:`Path`; refuses a directory with ``IsADirectoryError``
    (an :class:`OSError` naming the path) before any work is done."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(21, "is a directory, not a file", str(path))
    if path.name in ("", ".", ".."):
        raise IsADirectoryError(21, "names a directory, not a file", str(path))
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so that writers that infer the
    format from the extension keep working); on normal exit it is renamed onto ``path``
    with ``os.replace``, on any exception it is removed."""
    path = check_writable(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part"
                               + path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (module docstring); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (module docstring); returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))
