"""``python -m aimass_lab.cli [options] COMMAND``: the ``aimass`` command."""

import sys

from aimass_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
