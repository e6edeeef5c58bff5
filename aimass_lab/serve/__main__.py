"""``python -m aimass_lab.serve [options]``: see ``--help``."""

from aimass_lab.serve._cli import main

if __name__ == "__main__":
    main()
