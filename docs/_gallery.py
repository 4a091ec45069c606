"""A sphinx-gallery image scraper for examples that save their figures to files.

The examples write PNGs (``--out``, default ``$VOLTERRA_EXAMPLES_OUT``, set by conf.py) and
close their figures, so the matplotlib scraper sees nothing; this one embeds each PNG in
that folder written during this build and not embedded before (so, the ones the code
block that just ran wrote).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

_BUILD_START = time.time()
_EMBEDDED: dict[Path, float] = {}


def png_file_scraper(block, block_vars, gallery_conf):
    """Embed PNG files written by the current example (sphinx-gallery scraper API)."""
    from sphinx_gallery.scrapers import figure_rst

    out = Path(os.environ["VOLTERRA_EXAMPLES_OUT"])
    new = []
    for png in sorted(out.glob("*.png")) if out.is_dir() else []:
        mtime = png.stat().st_mtime
        if mtime >= _BUILD_START and _EMBEDDED.get(png) != mtime:
            _EMBEDDED[png] = mtime
            new.append(png)
    paths = []
    for png, dest in zip(new, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(png, dest)
        paths.append(dest)
    return figure_rst(paths, gallery_conf["src_dir"])
