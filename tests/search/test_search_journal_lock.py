"""A lock file left by a worker killed mid-append does not stall the study for long."""

from __future__ import annotations

import time

import optuna

from aimass_lab.search._factory import JOURNAL_LOCK_GRACE_S, journal_path, open_storage
from aimass_lab.workspace import Workspace


def test_a_stale_journal_lock_is_broken_after_the_grace_period(
    sqlite_workspace: Workspace,
) -> None:
    ws = sqlite_workspace
    storage = open_storage(ws, "locked-study", None)
    optuna.create_study(study_name="locked-study", storage=storage)
    # what a worker killed -9 while appending leaves behind: the lock file, never removed
    lock = journal_path(ws, "locked-study").with_name("locked-study.journal.lock")
    lock.touch()
    start = time.monotonic()
    study = optuna.load_study(
        study_name="locked-study", storage=open_storage(ws, "locked-study", None)
    )
    study.enqueue_trial({"x": 1.0})  # an append: it needs the lock
    took = time.monotonic() - start
    assert not lock.exists()
    assert JOURNAL_LOCK_GRACE_S <= took < JOURNAL_LOCK_GRACE_S + 10, took
    assert len(study.get_trials(deepcopy=False)) == 1
