"""Workshop challenges: a dataset, a metric and hidden rows the workspace scores models on.

A teacher creates a challenge on a shared (PostgreSQL) workspace; participants train on its
public dataset and submit registered model versions; the workspace scores each one on the
hidden rows with its own code and ranks the participants (named by their Jupyter or
JupyterHub identity) on a live board. The owner can freeze, unfreeze and reset the board;
anyone can export it as CSV.

Examples
--------
>>> import aimass_lab as am  # doctest: +SKIP
>>> am.create_challenge("iris-cup", "iris")  # doctest: +SKIP
>>> run = am.train("iris-cup-public", "mlp", max_epochs=5, wait=True)  # doctest: +SKIP
>>> am.submit("iris-cup", run.register("my-iris"))  # doctest: +SKIP
>>> am.leaderboard("iris-cup")  # doctest: +SKIP
"""

from aimass_lab.challenge._api import create_challenge
from aimass_lab.challenge._board import (
    CSV_COLUMNS,
    Leaderboard,
    Submission,
    board_csv,
    export_csv,
    leaderboard,
    submit,
)
from aimass_lab.challenge._challenge import (
    Challenge,
    delete_challenge,
    freeze,
    get,
    list_challenges,
    reset,
    unfreeze,
)
from aimass_lab.challenge._errors import ChallengeFrozenError, NotOwnerError

__all__ = [
    "CSV_COLUMNS",
    "Challenge",
    "ChallengeFrozenError",
    "Leaderboard",
    "NotOwnerError",
    "Submission",
    "board_csv",
    "create_challenge",
    "delete_challenge",
    "export_csv",
    "freeze",
    "get",
    "leaderboard",
    "list_challenges",
    "reset",
    "submit",
    "unfreeze",
]
