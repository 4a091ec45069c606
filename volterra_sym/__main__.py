"""``python -m volterra_sym ...``: the ``volterra-sym`` command line (:func:`cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
