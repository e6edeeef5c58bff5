"""``python -m aimass_lab.serve [options]``: ``aimass serve`` on its own (see ``--help``)."""

from aimass_lab.cli import serve_main

if __name__ == "__main__":
    serve_main()
