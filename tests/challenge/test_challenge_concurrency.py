"""30 participants submit at once to a challenge on a PostgreSQL workspace: every submission
is recorded under its own participant, and the board ranks them right."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from challenge_helpers import iris_challenge, train_public

import aimass_lab as am
from aimass_lab import challenge
from aimass_lab.workspace import Workspace, acting_as

PARTICIPANTS = 30


@pytest.fixture
def pg_workspace(pg_url: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "ws", db_url=pg_url)
    yield ws
    ws.store.close()


def test_thirty_concurrent_submitters(pg_workspace: Workspace, tmp_path: Path) -> None:
    ws = pg_workspace
    with acting_as("teacher"):
        iris_challenge(ws)
    models = [
        train_public(ws, tmp_path / f"m{i}", f"m{i}", lr=lr) for i, lr in enumerate((3e-3, 0.05))
    ]
    start = threading.Barrier(PARTICIPANTS)

    def participant(i: int) -> list[challenge.Submission]:
        # each acts as its own user in its own thread; the first ten submit twice
        plan = [models[i % 2]] + ([models[(i + 1) % 2]] if i < 10 else [])
        with acting_as(f"p{i:02d}"):
            start.wait(timeout=120)
            return [am.submit("iris-cup", mv.ref, workspace=ws) for mv in plan]

    with ThreadPoolExecutor(PARTICIPANTS) as pool:
        done = [s for subs in pool.map(participant, range(PARTICIPANTS)) for s in subs]
    assert len(done) == PARTICIPANTS + 10 == len({s.id for s in done})
    assert {s.participant for s in done} == {f"p{i:02d}" for i in range(PARTICIPANTS)}
    board = am.leaderboard("iris-cup", workspace=ws)
    assert board.submissions == PARTICIPANTS + 10  # none lost
    assert [r["rank"] for r in board.rows] == list(range(1, PARTICIPANTS + 1))
    scores = {m.ref: {s.score for s in done if s.model == m.ref} for m in models}
    assert all(len(v) == 1 for v in scores.values())  # one model, one score, whoever submits
    by_participant: dict[str, list[challenge.Submission]] = {}
    for s in done:
        by_participant.setdefault(s.participant, []).append(s)
    for row in board.rows:
        mine = by_participant[row["participant"]]
        best = max(s.score for s in mine)
        first_best = min((s for s in mine if s.score == best), key=lambda s: (s.submitted_at, s.id))
        assert (row["score"], row["model"], row["submissions"]) == (
            best,
            first_best.model,
            len(mine),
        )
        assert row["submitted_at"] == first_best.submitted_at.isoformat()
    keys = [(-r["score"], r["submitted_at"]) for r in board.rows]
    assert keys == sorted(keys)  # best first, ties to the earlier submission


def test_freeze_while_participants_submit(pg_workspace: Workspace, tmp_path: Path) -> None:
    ws = pg_workspace
    with acting_as("teacher"):
        iris_challenge(ws)
    mv = train_public(ws, tmp_path / "m", "m")
    started = threading.Event()
    outcomes: list[str] = []

    def participant(i: int) -> None:
        with acting_as(f"p{i}"):
            for _ in range(4):
                try:
                    am.submit("iris-cup", mv.ref, workspace=ws)
                    outcomes.append("scored")
                    started.set()
                except challenge.ChallengeFrozenError as exc:
                    assert "challenge 'iris-cup' is frozen" in str(exc)
                    outcomes.append("refused")

    threads = [threading.Thread(target=participant, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    assert started.wait(timeout=120)
    with acting_as("teacher"):
        challenge.freeze("iris-cup", ws)
    at_freeze = am.leaderboard("iris-cup", workspace=ws).submissions
    for t in threads:
        t.join(timeout=300)
    # nothing is recorded once the freeze is committed; every submission was scored or refused
    assert am.leaderboard("iris-cup", workspace=ws).submissions == at_freeze
    assert outcomes.count("scored") == at_freeze and len(outcomes) == 32
