"""Model weights from an ``.npz`` file referenced by a model file.

A TOML model file may say ``weights = "net.npz"``: the arrays of that NumPy archive, one per
key, are added to the file's keys as if written in the TOML (``Gamma``, ``W``, ``b``, ``C``,
``sigma`` for an :class:`~volterra_sym.model.SRNN`). The loader is generic over the keys: it
returns whatever arrays the archive holds and the model class that reads the merged mapping
validates them (allowed keys, shapes, stability) exactly as it validates TOML entries, so the
trained weights of another model class load the same way (e.g. ``B``, ``beta``, ``gamma``).

Rules (each broken one raises :class:`~volterra_sym.model.srnn.ModelError` naming the file,
and the key where one is at fault):

* the path is relative to the model file's folder and stays inside it (no absolute paths,
  no ``..`` or symbolic link leading out), ends in ``.npz`` and names a regular file;
* the archive is at most :data:`MAX_WEIGHTS_BYTES` on disk and its members together at most
  that much uncompressed (checked from the zip directory before anything is decompressed),
  with at most :data:`MAX_ARRAYS` arrays;
* no pickles: ``numpy.load(allow_pickle=False)``, so an object array is refused;
* every array is real (integer or floating, not bool or complex), finite, of at most 2
  dimensions and :data:`MAX_ENTRIES` entries; a 0-d array is a scalar;
* a key may not be given both in the TOML and in the archive.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from ..errors import format_bytes
from .srnn import ModelError

__all__ = ["MAX_ARRAYS", "MAX_ENTRIES", "MAX_WEIGHTS_BYTES", "load_weights", "merge_weights"]

#: largest archive, on disk and uncompressed (a dense n = 1000 model is 8 MB per matrix)
MAX_WEIGHTS_BYTES = 64 * 2**20
#: most arrays in one archive
MAX_ARRAYS = 64
#: most entries of one array
MAX_ENTRIES = 4 * 10**6


def _shown(path: PurePath | str) -> str:
    text = repr(str(path))
    return text if len(text) <= 120 else f"{text[:60]}…{text[-60:]}"


def _resolve(ref: object, base_dir: Path) -> Path:
    """The weights path ``ref`` (relative, inside ``base_dir``) or a ModelError."""
    if not isinstance(ref, str) or not ref or "\x00" in ref:
        raise ModelError(f"weights must be a relative path to an .npz file (a string), got "
                         f"{ref!r}", param="weights")
    rel = PurePath(ref)
    if rel.is_absolute() or ref.startswith(("/", "\\", "~")) or (len(ref) > 1 and ref[1] == ":"):
        raise ModelError(f"weights path {_shown(ref)} must be relative to the model file's "
                         "folder, not absolute", param="weights")
    if ".." in rel.parts:
        raise ModelError(f"weights path {_shown(ref)} may not contain '..' (it must stay in "
                         "the model file's folder)", param="weights")
    if rel.suffix.lower() != ".npz":
        raise ModelError(f"weights path {_shown(ref)} must name an .npz file", param="weights")
    try:
        base = base_dir.resolve()
        path = (base / rel).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loop, path too long
        raise ModelError(f"weights file {_shown(ref)} cannot be resolved: {exc}",
                         param="weights") from None
    if not path.is_relative_to(base):
        raise ModelError(f"weights file {_shown(ref)} resolves to {_shown(path)}, outside the "
                         f"model file's folder {_shown(base)} (a symbolic link?)",
                         param="weights")
    if not path.exists():
        raise ModelError(f"weights file {_shown(path)} does not exist", param="weights")
    if not path.is_file():
        raise ModelError(f"weights file {_shown(path)} is not a regular file", param="weights")
    return path


def _check_array(arr: np.ndarray, key: str, shown: str) -> Any:
    if arr.dtype.kind not in "iuf":
        raise ModelError(f"weights file {shown}: array {key!r} must hold real numbers "
                         f"(integer or floating), got dtype {arr.dtype}", param=key)
    if arr.ndim > 2:
        raise ModelError(f"weights file {shown}: array {key!r} must have at most 2 dimensions, "
                         f"got shape {arr.shape}", param=key)
    if arr.size > MAX_ENTRIES:
        raise ModelError(f"weights file {shown}: array {key!r} has {arr.size} entries, more "
                         f"than {MAX_ENTRIES}", param=key)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ModelError(f"weights file {shown}: array {key!r} contains NaN or inf (first at "
                         f"index {list(where)})", param=key)
    return arr.item() if arr.ndim == 0 else arr


def _npy_header(zf: zipfile.ZipFile, member: zipfile.ZipInfo,
                shown: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a member's ``.npy`` header, checked before any data is read
    (so an object array or a huge declared shape is refused without allocating it)."""
    name = member.filename
    if not name.endswith(".npy") or "/" in name:
        raise ModelError(f"weights file {shown}: member {name!r} is not a top-level .npy "
                         "array (an .npz archive holds only those)", param="weights")
    key = name[:-4]
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ModelError(f"weights file {shown}: array {key!r} has an unknown .npy format "
                             f"version {version}", param=key)
    if dtype.hasobject:
        raise ModelError(f"weights file {shown}: array {key!r} is an object array, which "
                         "needs pickles; pickled data is refused", param=key)
    if dtype.kind not in "iuf":
        raise ModelError(f"weights file {shown}: array {key!r} must hold real numbers "
                         f"(integer or floating), got dtype {dtype}", param=key)
    if len(shape) > 2:
        raise ModelError(f"weights file {shown}: array {key!r} must have at most 2 dimensions, "
                         f"got shape {shape}", param=key)
    if int(np.prod(shape, dtype=object)) > MAX_ENTRIES:
        raise ModelError(f"weights file {shown}: array {key!r} declares shape {shape}, more "
                         f"than {MAX_ENTRIES} entries", param=key)
    return tuple(shape), dtype


def load_weights(ref: object, base_dir: str | Path) -> dict[str, Any]:
    """The arrays of the ``.npz`` archive ``ref`` (relative to ``base_dir``), validated as
    in the module docstring: ``{key: ndarray (≤ 2-d) or scalar}``."""
    path = _resolve(ref, Path(base_dir))
    shown = _shown(path)
    try:
        size = path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise ModelError(f"weights file {shown} is larger than "
                             f"{format_bytes(MAX_WEIGHTS_BYTES)}", param="weights")
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            headers = {m.filename: _npy_header(zf, m, shown) for m in members[:MAX_ARRAYS]}
        total = sum(m.file_size for m in members)
        if total > MAX_WEIGHTS_BYTES:
            raise ModelError(f"weights file {shown} unpacks to {format_bytes(total)}, more than "
                             f"{format_bytes(MAX_WEIGHTS_BYTES)}", param="weights")
        if len(members) > MAX_ARRAYS:
            raise ModelError(f"weights file {shown} holds {len(members)} arrays, more than "
                             f"{MAX_ARRAYS}", param="weights")
        out: dict[str, Any] = {}
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    arr = npz[key]
                except ValueError as exc:  # object arrays need pickles
                    raise ModelError(f"weights file {shown}: array {key!r} cannot be loaded "
                                     f"without pickles ({exc}); pickled data is refused",
                                     param=key) from None
                if arr.shape != headers[key + ".npy"][0]:
                    raise ModelError(f"weights file {shown}: array {key!r} changed shape "
                                     "while being read", param=key)
                out[key] = _check_array(arr, key, shown)
    except ModelError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise ModelError(f"weights file {shown} is not a readable .npz archive: "
                         f"{type(exc).__name__}: {exc}", param="weights") from None
    if not out:
        raise ModelError(f"weights file {shown} holds no arrays", param="weights")
    return out


def merge_weights(data: Mapping[str, Any], base_dir: str | Path) -> dict[str, Any]:
    """``data`` (a parsed model file) with its ``weights`` entry replaced by the archive's
    arrays; a key given in both is refused."""
    merged = dict(data)
    arrays = load_weights(merged.pop("weights"), base_dir)
    both = sorted(set(arrays) & set(merged))
    if both:
        raise ModelError(f"keys {both} are given both in the model file and in the weights "
                         f"file {_shown(data['weights'])}; give each once", param=both[0])
    merged.update(arrays)
    return merged
