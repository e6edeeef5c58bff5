"""Challenges: create one (cut the hidden rows off), read them, and the teacher's actions.

The design: creating a challenge reads the dataset's raw rows once and cuts them, seeded and
stratified, in two. The public part is registered as a dataset of its own (``<name>-public``
by default) that participants load and train on like any other; the hidden part is stored
as a Parquet artifact whose sha256 only the challenge's row in the store names. No dataset,
spec or data route refers to it, so participants' data loading never sees those rows; only
:func:`aimass_lab.challenge.submit` reads them, to score a model in the workspace's code.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from aimass_lab.challenge._errors import NotOwnerError
from aimass_lab.errors import DataError, NotFoundError, SpecError, accepted
from aimass_lab.specs import BUILTINS, ChallengeSpec
from aimass_lab.workspace import (
    ChallengeRow,
    SubmissionRow,
    current_user,
    resolve_workspace,
    utcnow,
)

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from aimass_lab.workspace import Workspace

    WorkspaceLike = Workspace | str | os.PathLike[str] | None

__all__ = [
    "Challenge",
    "challenge_row",
    "create",
    "delete_challenge",
    "freeze",
    "get",
    "list_challenges",
    "reset",
    "unfreeze",
]


@dataclass(frozen=True)
class Challenge:
    """A challenge as recorded: its spec, owner, state and hidden split's size.

    Attributes
    ----------
    name, owner
        The challenge and who created it (the only one who may freeze, reset or delete it).
    spec : ChallengeSpec
        Dataset, metric, hidden fraction and seed.
    public : str
        The registered dataset participants train on.
    frozen : bool
        Whether submissions are refused.
    hidden_rows, public_rows : int
        Rows held out for scoring, and rows participants get.
    features : list of str
        The feature columns a submitted model must take.
    created_at : datetime
        When it was created (naive UTC).
    """

    name: str
    owner: str
    spec: ChallengeSpec
    public: str
    frozen: bool
    hidden_rows: int
    public_rows: int
    features: list[str]
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: ChallengeRow) -> Challenge:
        spec = ChallengeSpec.from_dict(row.spec)
        hidden = row.hidden or {}
        return cls(
            name=row.name,
            owner=row.owner,
            spec=spec,
            public=spec.public_name,
            frozen=bool(row.frozen),
            hidden_rows=int(hidden.get("rows", 0)),
            public_rows=int(hidden.get("public_rows", 0)),
            features=[str(c) for c in hidden.get("features", [])],
            created_at=row.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the REST API's challenge object)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "dataset": self.spec.dataset,
            "public": self.public,
            "metric": self.spec.metric,
            "higher_is_better": self.spec.higher_is_better,
            "frozen": self.frozen,
            "hidden_rows": self.hidden_rows,
            "public_rows": self.public_rows,
            "features": self.features,
            "description": self.spec.description,
            "created_at": self.created_at.isoformat(),
        }


# ------------------------------------------------------------------------------- the raw rows
def _raw_table(spec: ChallengeSpec, ws: Workspace) -> tuple[pd.DataFrame, str]:
    """The dataset's raw rows as one table (features and target) and the target's name."""
    import numpy as np
    import pandas as pd

    from aimass_lab.data import RawData, get_source, resolve_spec

    data = resolve_spec(spec.dataset, workspace=ws)
    builtin = BUILTINS.get(data.name or "") if data.source == "builtin" else None
    if (
        data.text is not None
        or (builtin is not None and builtin.text)
        or data.source == "image_folder"
        or data.as_images
    ):
        raise DataError(
            f"challenge {spec.name!r}: dataset {spec.dataset!r} is not a table; a challenge "
            "takes a tabular dataset (a built-in table, CSV, Parquet, SQL, DataFrame or arrays)"
        )
    raw = get_source(data.source).load(data, ws)
    if not isinstance(raw, RawData):
        raise DataError(
            f"challenge {spec.name!r}: dataset {spec.dataset!r} is read on demand (streamed); "
            "a challenge takes a table held in memory"
        )
    X: Any = raw.X
    if raw.y is None:
        if not isinstance(X, pd.DataFrame) or not data.target or data.target not in X.columns:
            raise DataError(
                f"challenge {spec.name!r}: dataset {spec.dataset!r} names no target column"
            )
        target = str(data.target)
        frame = X.set_axis([str(c) for c in X.columns], axis=1).reset_index(drop=True)
    else:
        target = str(data.target or raw.target_name or "target")
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
            if X.ndim != 2:
                raise DataError(
                    f"challenge {spec.name!r}: dataset {spec.dataset!r} has features of shape "
                    f"{X.shape}; a challenge takes a table (rows x columns)"
                )
            names = data.options.get("feature_names") or [f"x{i}" for i in range(X.shape[1])]
            X = pd.DataFrame(X, columns=[str(n) for n in names])
        frame = X.set_axis([str(c) for c in X.columns], axis=1).reset_index(drop=True)
        frame[target] = pd.Series(np.asarray(raw.y)).reset_index(drop=True)
    if data.features:
        frame = frame[[*data.features, target]]
    return frame, target


def _cut(frame: pd.DataFrame, target: str, spec: ChallengeSpec) -> tuple[Any, Any]:
    """The public and hidden row positions: seeded, stratified for classification."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    n = len(frame)
    hidden = int(np.ceil(spec.hidden * n))
    if n < 10 or hidden < 2 or n - hidden < 8:
        raise DataError(
            f"challenge {spec.name!r}: dataset {spec.dataset!r} has {n} rows; holding out "
            f"{spec.hidden} of them leaves {hidden} to score and {n - hidden} to train on. "
            "Use a dataset of at least 10 rows or another hidden fraction"
        )
    rows = np.arange(n)
    labels = frame[target].astype(str) if spec.task == "classification" else None
    try:
        return train_test_split(rows, test_size=hidden, random_state=spec.seed, stratify=labels)
    except ValueError:  # a class with one member: cut without stratifying
        return train_test_split(rows, test_size=hidden, random_state=spec.seed)


def _check_task(frame: pd.DataFrame, target: str, spec: ChallengeSpec) -> None:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(frame[target])
    if spec.task == "regression" and not numeric:
        raise SpecError(
            "ChallengeSpec",
            [
                {
                    "field": "metric",
                    "value": spec.metric,
                    "message": f"metric {spec.metric!r} scores regression, but the target "
                    f"{target!r} of {spec.dataset!r} holds labels; use accuracy or f1_macro",
                }
            ],
        )


def create(spec: ChallengeSpec, workspace: WorkspaceLike = None) -> Challenge:
    """Create ``spec``'s challenge: register the public part, store the hidden part."""
    from aimass_lab.data import from_dataframe, registered_names, remove

    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        if s.get(ChallengeRow, spec.name) is not None:
            raise DataError(
                f"challenge {spec.name!r} already exists; pick another name, or delete it first "
                f"(aimass challenge delete {spec.name})"
            )
    if spec.public_name in registered_names(ws):
        raise DataError(
            f"challenge {spec.name!r}: a dataset named {spec.public_name!r} is already "
            "registered; name the participants' dataset with public=..."
        )
    frame, target = _raw_table(spec, ws)
    _check_task(frame, target, spec)
    public_rows, hidden_rows = _cut(frame, target, spec)
    hidden = frame.iloc[hidden_rows].reset_index(drop=True)
    buffer = io.BytesIO()
    hidden.to_parquet(buffer, index=False)
    digest = ws.artifacts.put_bytes(buffer.getvalue())
    public = frame.iloc[sorted(public_rows)].reset_index(drop=True)
    task = spec.task
    from_dataframe(
        public,
        target,
        name=spec.public_name,
        workspace=ws,
        task=task,
        description=f"challenge {spec.name}: train here ({len(public)} rows)",
    )
    row = ChallengeRow(
        name=spec.name,
        owner=current_user(),
        spec=spec.to_dict(),
        hidden={
            "digest": digest,
            "rows": len(hidden),
            "public_rows": len(public),
            "target": target,
            "features": [c for c in frame.columns if c != target],
        },
        frozen=False,
        created_at=utcnow(),
    )
    try:
        with ws.store.session() as s:
            s.add(row)
    except Exception as exc:  # created meanwhile by someone else: leave nothing half-made
        remove(spec.public_name, workspace=ws)
        if _exists(ws, spec.name):
            raise DataError(f"challenge {spec.name!r} already exists; pick another name") from None
        raise exc
    return Challenge.from_row(row)


def _exists(ws: Workspace, name: str) -> bool:
    """Whether a challenge called ``name`` exists."""
    with ws.store.session() as s:
        return s.get(ChallengeRow, name) is not None


# --------------------------------------------------------------------------------- reading
def challenge_row(session: Session, name: str, *, lock: str | None = None) -> ChallengeRow:
    """The challenge's row (``lock``: ``"share"`` or ``"update"`` on PostgreSQL)."""
    query = select(ChallengeRow).where(ChallengeRow.name == name)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    row = session.scalars(query).first()
    if row is None:
        names = list(session.scalars(select(ChallengeRow.name).order_by(ChallengeRow.name)))
        raise NotFoundError(
            f"no challenge {name!r}; challenges: {accepted(names) if names else 'none yet'}"
        )
    return row


def get(name: str, workspace: WorkspaceLike = None) -> Challenge:
    """The challenge called ``name``."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        return Challenge.from_row(challenge_row(s, name))


def list_challenges(workspace: WorkspaceLike = None) -> list[Challenge]:
    """Every challenge of the workspace, by name."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        rows = s.scalars(select(ChallengeRow).order_by(ChallengeRow.name)).all()
        return [Challenge.from_row(r) for r in rows]


# ---------------------------------------------------------------------------- the teacher
def _owned(session: Session, name: str, action: str) -> ChallengeRow:
    row = challenge_row(session, name, lock="update")
    user = current_user()
    if row.owner != user:
        raise NotOwnerError(
            f"only the owner of challenge {name!r}, {row.owner!r}, may {action} it; "
            f"you are {user!r}"
        )
    return row


def _set_frozen(name: str, frozen: bool, workspace: WorkspaceLike) -> Challenge:
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _owned(s, name, "freeze" if frozen else "unfreeze")
        row.frozen = frozen
        return Challenge.from_row(row)


def freeze(name: str, workspace: WorkspaceLike = None) -> Challenge:
    """Refuse further submissions to ``name`` (its owner only)."""
    return _set_frozen(name, True, workspace)


def unfreeze(name: str, workspace: WorkspaceLike = None) -> Challenge:
    """Accept submissions to ``name`` again (its owner only)."""
    return _set_frozen(name, False, workspace)


def reset(name: str, workspace: WorkspaceLike = None) -> int:
    """Remove every submission of ``name`` (its owner only); return how many."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        _owned(s, name, "reset")
        result = s.execute(delete(SubmissionRow).where(SubmissionRow.challenge == name))
        return int(getattr(result, "rowcount", 0) or 0)


def delete_challenge(name: str, workspace: WorkspaceLike = None) -> None:
    """Remove ``name``, its submissions and its public dataset (its owner only)."""
    from aimass_lab.data import registered_names, remove

    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _owned(s, name, "delete")
        public = Challenge.from_row(row).public
        s.execute(delete(SubmissionRow).where(SubmissionRow.challenge == name))
        s.delete(row)
    if public in registered_names(ws):
        remove(public, workspace=ws)
