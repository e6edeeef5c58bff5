"""The ``aimass`` command. Thin: it builds specs, calls the stages and reads the workspace.

One module per command group registers its commands on the root group :data:`cli`
(``_alerts``, ``_train``, ``_jobs``, ``_runs``, ``_datasets``, ``_models``, ``_ensemble``, ``_search``,
``_compress``, ``_quickstart``, ``_serve``, ``_deploy``, ``_gc``, ``_backup``,
``_sources``, ``_challenge``); ``_options`` holds the shared options and the
options generated from spec fields, ``_output`` how results are printed. Heavy modules
(torch, lightning, pandas) are imported inside commands, so ``aimass --help`` starts fast.
"""

from __future__ import annotations

from aimass_lab.cli import (  # noqa: F401  (each registers its commands on `cli`)
    _alerts,
    _backup,
    _challenge,
    _compress,
    _datasets,
    _deploy,
    _ensemble,
    _gc,
    _jobs,
    _models,
    _quickstart,
    _runs,
    _search,
    _serve,
    _sources,
    _train,
)
from aimass_lab.cli._root import cli, main
from aimass_lab.cli._serve import serve_command, serve_main

__all__ = ["cli", "main", "serve_command", "serve_main"]
