"""Workshop challenges: the hidden cut, scoring by the workspace, the board and the teacher's
actions, on a real workspace with real (tiny) trained models."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from challenge_helpers import iris_challenge, train_public
from common_helpers import train_digits

import aimass_lab as am
from aimass_lab import challenge, datasets
from aimass_lab.errors import DataError, NotFoundError, SpecError
from aimass_lab.workspace import Workspace, acting_as


def test_hidden_rows_never_reach_the_public_dataset(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    with acting_as("teacher"):
        c = iris_challenge(ws)
    assert (c.owner, c.public, c.hidden_rows, c.public_rows) == (
        "teacher",
        "iris-cup-public",
        38,
        112,
    )
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.round(6)
    public = datasets.get("iris-cup-public", workspace=ws)
    assert sum(public.sizes.values()) == 112
    from aimass_lab.challenge._score import hidden_rows
    from aimass_lab.workspace import ChallengeRow

    with ws.store.session() as s:
        row = s.get(ChallengeRow, "iris-cup")
        assert row is not None
        held = hidden_rows(ws, "iris-cup", row.hidden)
    # together they are iris, row for row: no hidden row is in the public data
    spec = datasets.resolve_spec("iris-cup-public", workspace=ws)
    public_frame = pd.read_parquet(ws.artifacts.path(spec.path.removeprefix("sha256:")))
    features = list(iris.columns[:4])
    assert len(held) + len(public_frame) == len(iris) == 150
    assert sorted(
        map(tuple, pd.concat([held, public_frame])[features].round(6).to_numpy().tolist())
    ) == sorted(map(tuple, iris[features].to_numpy().tolist()))
    # stratified: every class keeps its share in the hidden rows
    assert held[row.hidden["target"]].value_counts().min() >= 12


def test_submit_scores_on_the_hidden_rows_and_ranks(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    iris_challenge(ws, metric="accuracy")
    good = train_public(ws, tmp_path / "good", "good", lr=0.05)
    with acting_as("ada"):
        first = am.submit("iris-cup", good.ref, workspace=ws)
    with acting_as("grace"):
        am.submit("iris-cup", "good:1", workspace=ws)
    assert first.participant == "ada" and 0.0 <= first.score <= 1.0
    # the score is the accuracy on the 38 hidden rows: a multiple of 1/38
    assert abs(first.score * 38 - round(first.score * 38)) < 1e-9
    board = am.leaderboard("iris-cup", workspace=ws)
    assert [(r["rank"], r["participant"]) for r in board.rows] == [
        (1, "ada"),
        (2, "grace"),
    ]  # tie: earlier first
    assert board.rows[0]["score"] == first.score and board.submissions == 2
    assert "ada" in board._repr_html_()


def test_a_model_of_another_dataset_is_refused(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    iris_challenge(ws)
    on_iris = train_digits(
        ws, tmp_path / "iris", name="plain-iris", epochs=1, data={"name": "iris"}
    )
    with pytest.raises(DataError) as info:
        am.submit("iris-cup", on_iris, workspace=ws)
    message = str(info.value)
    assert "model plain-iris:1 cannot be scored on challenge 'iris-cup'" in message
    assert "trained on dataset 'iris'" in message and "'iris-cup-public'" in message
    with pytest.raises(NotFoundError, match="no challenge 'nope'; challenges: 'iris-cup'"):
        am.submit("nope", on_iris, workspace=ws)
    assert am.leaderboard("iris-cup", workspace=ws).submissions == 0


def test_different_features_are_refused() -> None:
    from aimass_lab.challenge._score import check_model
    from aimass_lab.specs import ChallengeSpec

    c = SimpleNamespace(
        name="iris-cup", public="iris-cup-public", features=["a", "b"],
        spec=ChallengeSpec(name="iris-cup", dataset="iris"),
    )  # fmt: skip
    mv = SimpleNamespace(ref="m:1", lineage={})
    config = {
        "task": "classification",
        "data_spec": {"name": "iris-cup-public"},
        "preprocess": {"kind": "tabular", "columns": ["a", "z"]},
    }
    with pytest.raises(
        DataError,
        match=r"takes the columns \['a', 'z'\]; the challenge's features are \['a', 'b'\]",
    ):
        check_model(c, mv, config)  # type: ignore[arg-type]
    with pytest.raises(
        DataError, match="it is a regression model; metric 'accuracy' scores classification"
    ):
        check_model(c, mv, {**config, "task": "regression"})  # type: ignore[arg-type]


def test_freeze_refuses_and_only_the_owner_may(workspace: Workspace) -> None:
    ws = workspace
    with acting_as("teacher"):
        iris_challenge(ws)
    with acting_as("student"):
        for action in (challenge.freeze, challenge.unfreeze, challenge.reset):
            with pytest.raises(challenge.NotOwnerError) as info:
                action("iris-cup", ws)
            assert "only the owner of challenge 'iris-cup', 'teacher'" in str(info.value)
            assert "you are 'student'" in str(info.value)
    assert challenge.get("iris-cup", ws).frozen is False
    with acting_as("teacher"):
        assert challenge.freeze("iris-cup", ws).frozen is True
    with acting_as("student"), pytest.raises(challenge.ChallengeFrozenError) as frozen:
        am.submit("iris-cup", "any-model:1", workspace=ws)
    assert "challenge 'iris-cup' is frozen" in str(frozen.value)
    with acting_as("teacher"):
        assert challenge.unfreeze("iris-cup", ws).frozen is False


def test_reset_and_export(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    with acting_as("teacher"):
        iris_challenge(ws, metric="f1_macro")
    mv = train_public(ws, tmp_path / "m", "m")
    for who in ("bob", "alice", "bob"):
        with acting_as(who):
            am.submit("iris-cup", mv, workspace=ws)
    out = challenge.export_csv("iris-cup", tmp_path / "out" / "board.csv", ws)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == list(challenge.CSV_COLUMNS)
    assert [(r["rank"], r["participant"], r["submissions"]) for r in rows] == [
        ("1", "bob", "2"),
        ("2", "alice", "1"),
    ]
    assert float(rows[0]["score"]) == am.leaderboard("iris-cup", workspace=ws).rows[0]["score"]
    assert rows[0]["model"] == "m:1"
    assert [p.name for p in out.parent.iterdir()] == ["board.csv"]  # atomic: no temporary left
    with acting_as("teacher"):
        assert challenge.reset("iris-cup", ws) == 3
    assert am.leaderboard("iris-cup", workspace=ws).rows == []


def _sub(i: int, who: str, value: float, minute: int) -> SimpleNamespace:
    at = dt.datetime(2026, 1, 1, 10, minute)
    return SimpleNamespace(id=i, participant=who, score=value, model=f"m:{i}", submitted_at=at)


def test_rank_best_per_participant_ties_to_the_earlier() -> None:
    from aimass_lab.challenge._board import rank

    subs = [
        _sub(1, "a", 0.8, 1),
        _sub(2, "b", 0.9, 2),
        _sub(3, "a", 0.9, 3),
        _sub(4, "c", 0.9, 0),
        _sub(5, "b", 0.5, 4),
    ]
    rows = rank(subs, higher_is_better=True)  # type: ignore[arg-type]
    assert [(r["rank"], r["participant"], r["model"], r["submissions"]) for r in rows] == [
        (1, "c", "m:4", 1), (2, "b", "m:2", 2), (3, "a", "m:3", 2),
    ]  # fmt: skip
    lower = rank(subs, higher_is_better=False)  # type: ignore[arg-type]
    assert [(r["participant"], r["score"]) for r in lower] == [("b", 0.5), ("a", 0.8), ("c", 0.9)]


def test_bad_challenges_are_refused(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    with pytest.raises(
        SpecError, match="unknown metric 'auc'; accepted: 'accuracy', 'f1_macro', 'r2', 'rmse'"
    ):
        am.create_challenge("c", "iris", metric="auc", workspace=ws)
    with pytest.raises(SpecError, match="metric 'rmse' scores regression, but the target"):
        am.create_challenge("c", "iris", metric="rmse", workspace=ws)
    with pytest.raises(DataError, match="dataset 'reviews' is not a table"):
        am.create_challenge("c", "reviews", workspace=ws)
    iris_challenge(ws)
    with pytest.raises(DataError, match="challenge 'iris-cup' already exists"):
        iris_challenge(ws)
    with pytest.raises(DataError, match="a dataset named 'iris-cup-public' is already registered"):
        iris_challenge(ws, name="other", public="iris-cup-public")
    assert [c.name for c in challenge.list_challenges(ws)] == ["iris-cup"]


def test_backup_keeps_the_hidden_rows(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    from aimass_lab.workspace import backup, restore

    with acting_as("teacher"):
        iris_challenge(sqlite_workspace)
    folder = backup(sqlite_workspace, tmp_path / "backups")
    restore(folder, tmp_path / "restored")
    restored = Workspace(tmp_path / "restored")
    from aimass_lab.challenge._score import hidden_rows
    from aimass_lab.workspace import ChallengeRow

    with restored.store.session() as s:
        row = s.get(ChallengeRow, "iris-cup")
        assert row is not None and row.owner == "teacher"
        assert len(hidden_rows(restored, "iris-cup", row.hidden)) == 38  # its sha256 checked
    assert sum(datasets.get("iris-cup-public", workspace=restored).sizes.values()) == 112


def test_submit_a_run(sqlite_workspace: Workspace) -> None:
    from aimass_lab import registry
    from aimass_lab.workspace import execute_job, job_function, start_job

    ws = sqlite_workspace
    iris_challenge(ws)

    def trained(data: str) -> am.Run:
        run = am.train(data, "mlp", hparams={"hidden": 8}, max_epochs=1, launch=False, workspace=ws)
        assert execute_job(start_job(ws, run.id), job_function("train")) == 0, run.logs(tail=20)
        return run

    with acting_as("ada@example.org"):
        sub = am.submit("iris-cup", trained("iris-cup-public"), workspace=ws)
        assert (sub.participant, sub.model) == ("ada@example.org", "iris-cup-ada-example.org:1")
        with pytest.raises(DataError, match="trained on dataset 'iris'"):
            am.submit("iris-cup", trained("iris"), workspace=ws)
    assert [v.ref for v in registry.list(workspace=ws)] == ["iris-cup-ada-example.org:1"]


def test_metric_values() -> None:
    import numpy as np

    from aimass_lab.challenge._score import metric_value

    truth, guess = np.array(["a", "a", "b", "c"]), np.array(["a", "b", "b", "c"])
    assert metric_value("accuracy", truth, guess) == 0.75
    assert abs(metric_value("f1_macro", truth, guess) - (2 / 3 + 2 / 3 + 1) / 3) < 1e-12
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0])
    assert metric_value("rmse", y, p) == 1.0
    assert metric_value("r2", y, p) == 1.0 - 4.0 / 5.0


def test_a_regression_challenge_ranks_lower_rmse_first(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    c = am.create_challenge("sugar", "diabetes", metric="rmse", workspace=ws)
    assert (c.spec.task, c.spec.higher_is_better, c.hidden_rows) == ("regression", False, 111)
    good = train_public(ws, tmp_path / "good", "good", public="sugar-public", lr=0.05)
    with acting_as("ada"):
        scored = am.submit("sugar", good, workspace=ws).score
    from aimass_lab.challenge._score import hidden_rows
    from aimass_lab.workspace import ChallengeRow

    with ws.store.session() as s:
        row = s.get(ChallengeRow, "sugar")
        assert row is not None
        y = hidden_rows(ws, "sugar", row.hidden)[row.hidden["target"]].to_numpy()
    # predictions are on the target's scale (not standardised): far better than zeros
    assert 0.0 < scored < 0.8 * float((y**2).mean() ** 0.5)
    from aimass_lab.workspace import SubmissionRow, utcnow

    with ws.store.session() as s:  # a better and a worse score, as submit records them
        for who, value in (("grace", scored / 2), ("linus", scored * 2)):
            s.add(SubmissionRow(challenge="sugar", participant=who, model="x:1", score=value,
                                state="scored", submitted_at=utcnow()))  # fmt: skip
    board = am.leaderboard("sugar", workspace=ws)
    assert [r["participant"] for r in board.rows] == ["grace", "ada", "linus"]
