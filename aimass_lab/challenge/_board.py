"""Submissions and the board: score a model on the hidden rows, rank participants, export."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from aimass_lab._io import atomic_open
from aimass_lab.challenge._challenge import Challenge, challenge_row
from aimass_lab.challenge._errors import ChallengeFrozenError
from aimass_lab.challenge._score import score
from aimass_lab.errors import AimassError
from aimass_lab.workspace import SubmissionRow, current_user, resolve_workspace, utcnow

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

    WorkspaceLike = Workspace | str | os.PathLike[str] | None

__all__ = ["CSV_COLUMNS", "Leaderboard", "Submission", "export_csv", "leaderboard", "submit"]

#: The columns of :func:`export_csv`, in order.
CSV_COLUMNS = ("rank", "participant", "score", "model", "submitted_at", "submissions")


@dataclass(frozen=True)
class Submission:
    """One scored submission: who, which model, the score on the hidden rows, when."""

    id: int
    challenge: str
    participant: str
    model: str
    score: float
    state: str
    submitted_at: dt.datetime

    @classmethod
    def from_row(cls, row: SubmissionRow) -> Submission:
        return cls(
            id=row.id,
            challenge=row.challenge,
            participant=row.participant,
            model=row.model,
            score=float(row.score),
            state=row.state,
            submitted_at=row.submitted_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "challenge": self.challenge,
            "participant": self.participant,
            "model": self.model,
            "score": self.score,
            "state": self.state,
            "submitted_at": self.submitted_at.isoformat(),
        }


def _is_frozen_error(challenge: Challenge) -> ChallengeFrozenError:
    return ChallengeFrozenError(
        f"challenge {challenge.name!r} is frozen: it takes no more submissions (its owner "
        f"{challenge.owner!r} can unfreeze it)"
    )


def _model_version(model: Any, ws: Workspace, challenge: str) -> tuple[ModelVersion, bool]:
    """The version to score, and whether it was registered here (from a run)."""
    from aimass_lab import registry

    if isinstance(model, registry.ModelVersion):
        return registry.get(model.ref, workspace=ws), False
    if isinstance(model, str):
        return registry.get(model, workspace=ws), False
    if isinstance(getattr(model, "id", None), str):  # a training run (or a trial's run)
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{challenge}-{current_user()}")[:100]
        mv = registry.register(model, name, workspace=ws, lineage={"challenge": challenge})
        return mv, True
    raise AimassError(
        f"cannot submit a {type(model).__name__}: submit a training run or a registered model "
        "version (a ModelVersion or a ref such as 'my-model:1')"
    )


def submit(challenge: str, model: Any, workspace: WorkspaceLike = None) -> Submission:
    """Score ``model`` on ``challenge``'s hidden rows and record it for :func:`current_user`.

    Parameters
    ----------
    challenge
        The challenge's name.
    model
        A registered model version: a :class:`~aimass_lab.registry.ModelVersion` or a ref
        (``"name:version"``, ``"name:alias"``, ``"name"`` for the latest); or a training run
        (``am.train(...)``), registered as ``"<challenge>-<user>"`` first.
    workspace
        The workspace (default: the process's).

    Raises
    ------
    ChallengeFrozenError
        When the challenge is frozen.
    DataError
        When the model was trained on another dataset, or takes other columns.
    NotFoundError
        For an unknown challenge or model.
    """
    from aimass_lab import registry

    ws = resolve_workspace(workspace)
    participant = current_user()
    with ws.store.session() as s:
        row = challenge_row(s, challenge)
        info, hidden = Challenge.from_row(row), dict(row.hidden)
    if info.frozen:
        raise _is_frozen_error(info)
    mv, registered_here = _model_version(model, ws, challenge)
    try:
        value = score(ws, info, hidden, mv)
    except BaseException:
        if registered_here:  # a refused run leaves no version behind
            registry.delete(mv.ref, workspace=ws)
        raise
    with ws.store.session() as s:
        row = challenge_row(s, challenge, lock="share")  # a freeze waits for this insert
        if row.frozen:
            raise _is_frozen_error(Challenge.from_row(row))
        sub = SubmissionRow(
            challenge=challenge,
            participant=participant,
            model=mv.ref,
            score=value,
            state="scored",
            submitted_at=utcnow(),
            details={"metric": info.spec.metric, "model_version_id": mv.id},
        )
        s.add(sub)
        s.flush()
        return Submission.from_row(sub)


@dataclass
class Leaderboard:
    """The board of a challenge: each participant's best score, ranked.

    Ties go to the earlier submission. ``rows`` are dicts with ``rank``, ``participant``,
    ``score``, ``model``, ``submitted_at`` (ISO, of the best submission) and
    ``submissions`` (how many the participant made).
    """

    challenge: Challenge
    rows: list[dict[str, Any]] = field(default_factory=list)
    submissions: int = 0
    workspace: Workspace | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge.to_dict(),
            "rows": self.rows,
            "submissions": self.submissions,
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live board (:class:`aimass_lab.widgets.ChallengePanel`)."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        c = self.challenge
        state = " (frozen)" if c.frozen else ""
        head = "".join(f"<th>{h}</th>" for h in ("#", "participant", c.spec.metric, "model"))
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (r["rank"], r["participant"], f"{r['score']:.4f}", r["model"])
            )
            + "</tr>"
            for r in self.rows
        )
        return (
            f"<b>Challenge {html.escape(c.name)}{state}</b>: {len(self.rows)} participants, "
            f"{self.submissions} submissions<table><tr>{head}</tr>{body}</table>"
        )

    def __repr__(self) -> str:
        lines = [f"Leaderboard({self.challenge.name!r}, {self.challenge.spec.metric})"]
        lines += [f"  {r['rank']:>3}  {r['participant']}  {r['score']:.4f}" for r in self.rows]
        return "\n".join(lines)


def rank(rows: list[SubmissionRow], higher_is_better: bool) -> list[dict[str, Any]]:
    """Each participant's best submission, ranked (ties: the earlier submission first)."""
    sign = -1.0 if higher_is_better else 1.0
    best: dict[str, SubmissionRow] = {}
    counts: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: (r.submitted_at, r.id)):
        counts[row.participant] = counts.get(row.participant, 0) + 1
        held = best.get(row.participant)
        if held is None or sign * row.score < sign * held.score:
            best[row.participant] = row
    ordered = sorted(best.values(), key=lambda r: (sign * r.score, r.submitted_at, r.id))
    return [
        {
            "rank": i,
            "participant": r.participant,
            "score": float(r.score),
            "model": r.model,
            "submitted_at": r.submitted_at.isoformat(),
            "submissions": counts[r.participant],
        }
        for i, r in enumerate(ordered, start=1)
    ]


def leaderboard(challenge: str, workspace: WorkspaceLike = None) -> Leaderboard:
    """The live board of ``challenge``: best score per participant, ranked."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        info = Challenge.from_row(challenge_row(s, challenge))
        rows = list(
            s.scalars(
                select(SubmissionRow).where(
                    SubmissionRow.challenge == challenge, SubmissionRow.state == "scored"
                )
            )
        )
    return Leaderboard(info, rank(rows, info.spec.higher_is_better), len(rows), ws)


def board_csv(board: Leaderboard) -> str:
    """The board as CSV text (:data:`CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in board.rows:
        writer.writerow({k: row[k] for k in CSV_COLUMNS})
    return out.getvalue()


def export_csv(
    challenge: str, path: str | os.PathLike[str], workspace: WorkspaceLike = None
) -> Path:
    """Write the board of ``challenge`` to ``path`` as CSV (atomically); return the path."""
    text = board_csv(leaderboard(challenge, workspace))
    target = Path(path)
    with atomic_open(target, "w") as fh:
        fh.write(text)
    return target
