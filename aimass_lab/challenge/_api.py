"""The Python front of challenges: ``create_challenge`` from arguments."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from aimass_lab.challenge._challenge import Challenge, create
from aimass_lab.specs import ChallengeSpec

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = ["create_challenge"]


def create_challenge(
    name: str,
    dataset: str,
    *,
    metric: str = "accuracy",
    hidden: float = 0.25,
    seed: int = 0,
    public: str | None = None,
    description: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> Challenge:
    """Create a workshop challenge; you (:func:`~aimass_lab.workspace.current_user`) own it.

    The rows of ``dataset`` are cut once: ``hidden`` of them are kept by the workspace to
    score submissions, the rest are registered as the dataset ``public`` (default
    ``"<name>-public"``) that participants train on.

    Parameters
    ----------
    name
        The challenge's name.
    dataset
        A built-in or registered tabular dataset.
    metric
        ``"accuracy"`` or ``"f1_macro"`` (classification), ``"r2"`` or ``"rmse"``
        (regression; lower rmse ranks first).
    hidden
        Fraction of the rows held out for scoring.
    seed
        Seed of the cut.
    public
        Name of the participants' dataset.
    description
        One line for the board.
    workspace
        The workspace (default: the process's); a PostgreSQL one for a workshop.

    Returns
    -------
    Challenge

    Raises
    ------
    SpecError, DataError
        For a bad metric or fraction, a dataset that is not a table, a name in use.

    Examples
    --------
    >>> import aimass_lab as am  # doctest: +SKIP
    >>> am.create_challenge("iris-cup", "iris", metric="f1_macro")  # doctest: +SKIP
    """
    spec = ChallengeSpec(
        name=name,
        dataset=dataset,
        metric=metric,
        hidden=hidden,
        seed=seed,
        public=public,
        description=description,
    )
    return create(spec, workspace)
