"""Optuna samplers, pruners and storages from a SearchSpec."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import NotFoundError, SpecError, WorkspaceError
from aimass_lab.search._space import grid_space
from aimass_lab.specs import SearchSpec
from aimass_lab.workspace import normalize_db_url, redact_url

if TYPE_CHECKING:
    import optuna

    from aimass_lab.workspace import Workspace

__all__ = [
    "RetryTrial",
    "journal_path",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "studies_dir",
    "study_storage",
]

STUDIES_DIRNAME = "studies"
JOURNAL_SUFFIX = ".journal"
#: Seconds after which a journal lock file left by a killed worker is broken (Optuna's
#: default is 30; an append holds the lock for milliseconds).
JOURNAL_LOCK_GRACE_S = 5


class RetryTrial:
    """Queue a failed trial again with the same parameters (at most ``max_retry`` times).

    Like Optuna's ``RetryHeartbeatStaleTrialCallback``, but the retry does not inherit the
    failed trial's user attributes (its dead worker and run), so no one mistakes the retry
    for the dead worker's trial.
    """

    def __init__(self, max_retry: int) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retry:
            return
        study.add_trial(
            optuna.create_trial(
                state=optuna.trial.TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs={"failed_trial": history[0], "retry_history": history},
            )
        )


def make_sampler(spec: SearchSpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler the spec names; worker ``i`` gets seed ``seed + i`` so workers differ."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _sampler(spec, worker)


def _sampler(spec: SearchSpec, worker: int) -> optuna.samplers.BaseSampler:
    import optuna

    seed = None if spec.seed is None else spec.seed + worker
    name = spec.sampler
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_space(spec.space), seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=spec.workers > 1
        )
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise SpecError(
                "SearchSpec",
                [
                    {
                        "field": "sampler",
                        "value": name,
                        "message": "the 'cmaes' sampler needs the cmaes package "
                        "(pip install cmaes); accepted without it: 'random', 'grid', 'tpe', "
                        "'gp', 'nsga2', 'qmc'",
                    }
                ],
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    raise AssertionError(name)  # the spec accepts no other name


def make_pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    """The pruner the spec names."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _pruner(spec)


def _pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    import optuna

    # the pruner's steps are epochs, or folds with cross-validation
    epochs = spec.cv if spec.cv is not None else spec.train.max_epochs
    name = spec.pruner
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=0)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max(epochs, 1), reduction_factor=3
        )
    raise AssertionError(name)


def studies_dir(ws: Workspace) -> Path:
    """The folder of the workspace's journal files (one per study)."""
    return ws.path / STUDIES_DIRNAME


def journal_path(ws: Workspace, study: str) -> Path:
    """The journal file of a study on the default storage."""
    return studies_dir(ws) / f"{study}{JOURNAL_SUFFIX}"


def check_storage_url(url: str) -> None:
    """Connect once to an RDB storage URL; raise :class:`WorkspaceError` when it cannot be used.

    Nothing is created: the check runs before any table, study or job exists.
    """
    from sqlalchemy import create_engine, text

    shown = redact_url(url)
    accepted_hint = (
        "accepted: a reachable postgresql://USER:PASSWORD@HOST:PORT/DB (or mysql://, sqlite:///) "
        "URL, or no storage for the workspace's own journal file"
    )
    try:
        engine_url = normalize_db_url(url)
        connect_args: dict[str, Any] = {}
        if engine_url.startswith("postgresql+psycopg"):
            connect_args["connect_timeout"] = 5
        engine = create_engine(engine_url, connect_args=connect_args)
    except Exception as exc:
        raise WorkspaceError(
            f"the study storage URL {shown!r} cannot be used ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}); {accepted_hint}"
        ) from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WorkspaceError(
            f"cannot reach the study storage {shown} ({first}); nothing was created; "
            f"{accepted_hint}"
        ) from None
    finally:
        engine.dispose()


def open_storage(
    ws: Workspace, study: str, url: str | None, *, max_retry: int = 2
) -> optuna.storages.BaseStorage:
    """The Optuna storage of a study.

    ``url=None`` gives the workspace's journal file ``studies/<study>.journal`` (safe for
    several processes on one machine: appends are serialised by a lock file). A URL gives an
    RDB storage with heartbeats, whose stale trials (a worker that died) are failed and
    retried up to ``max_retry`` times by the next worker that starts a trial.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if url is None:
        path = journal_path(ws, study)
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(
            JournalFileBackend(
                str(path),
                lock_obj=JournalFileOpenLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S),
            )
        )
    check_storage_url(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _rdb_storage(url, max_retry)


def study_storage(ws: Workspace, study: str, url: str | None) -> optuna.storages.BaseStorage:
    """:func:`open_storage` for a study that must exist (``NotFoundError`` naming where it was
    looked for otherwise)."""
    storage = open_storage(ws, study, url)
    try:
        storage.get_study_id_from_name(study)
    except KeyError:
        raise NotFoundError(
            f"no study {study!r} in "
            + ("the workspace" if url is None else "that storage")
            + "; list studies with: aimass search list"
        ) from None
    return storage


def _rdb_storage(url: str, max_retry: int) -> optuna.storages.RDBStorage:
    import optuna

    from aimass_lab.workspace import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT

    return optuna.storages.RDBStorage(
        normalize_db_url(url),
        heartbeat_interval=max(1, round(HEARTBEAT_INTERVAL)),
        grace_period=max(2, round(HEARTBEAT_TIMEOUT)),
        heartbeat_stale_trial_callback=RetryTrial(max_retry),
        engine_kwargs={"pool_pre_ping": True},
    )
