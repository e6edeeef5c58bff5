"""Search spaces: sample a trial's parameters and turn them into a training spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimass_lab.errors import SpecError
from aimass_lab.specs import FAMILY_PARAM, ParamSpec, SearchSpec, TrainSpec, split_hparams

if TYPE_CHECKING:
    import optuna

__all__ = ["active", "check_space", "grid_space", "suggest", "trial_spec"]


def active(param: ParamSpec, params: dict[str, Any]) -> bool:
    """Whether ``param``'s condition holds for the parameters sampled so far."""
    for other, wanted in (param.condition or {}).items():
        if other not in params:
            return False
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if params[other] not in allowed:
            return False
    return True


def suggest(trial: optuna.Trial, space: dict[str, ParamSpec]) -> dict[str, Any]:
    """Sample every active parameter of ``space`` in order; return ``{name: value}``."""
    params: dict[str, Any] = {}
    for name, p in space.items():
        if not active(p, params):
            continue
        if p.type == "categorical":
            params[name] = trial.suggest_categorical(name, list(p.choices or []))
        elif p.type == "int":
            assert p.low is not None and p.high is not None
            params[name] = trial.suggest_int(
                name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log
            )
        else:
            assert p.low is not None and p.high is not None
            params[name] = trial.suggest_float(name, p.low, p.high, step=p.step, log=p.log)
    return params


def grid_space(space: dict[str, ParamSpec]) -> dict[str, list[Any]]:
    """The grid sampler's search space: every value of every (finite) parameter."""
    return {name: p.grid_values() for name, p in space.items()}


def trial_spec(base: TrainSpec, params: dict[str, Any], name: str | None = None) -> TrainSpec:
    """The training of one trial: ``base`` with the sampled parameters routed into place.

    ``family`` picks the model family (its hyperparameters start from the family's defaults);
    training fields (``lr``, ``batch_size``, ...) go to the top level; the rest become model
    hyperparameters.
    """
    sampled = dict(params)
    family = sampled.pop(FAMILY_PARAM, None)
    train_hp, model_hp = split_hparams(sampled)
    model = base.model.to_dict()
    if family is not None and family != model["family"]:
        model = {"family": family, "hparams": {}, "target": None}
    model["hparams"] = {**model.get("hparams", {}), **model_hp}
    data = {**base.to_dict(), **train_hp, "model": model}
    if name is not None:
        data["name"] = name
    return TrainSpec.from_dict(data)


def check_space(spec: SearchSpec) -> None:
    """Check that every parameter of the space fits the model it will be given to.

    Each parameter is tried at its bounds (or each choice) with the parameters it depends on;
    a value the model or training would refuse fails now, with the parameter named.
    """
    errors: list[dict[str, Any]] = []
    for name, p in spec.space.items():
        values: list[Any] = list(p.choices or [])
        if p.type != "categorical":
            bounds = [float(p.low or 0.0), float(p.high or 0.0)]
            values = [int(v) for v in bounds] if p.type == "int" else bounds
        context: dict[str, Any] = {}
        for other, wanted in (p.condition or {}).items():
            context[other] = wanted[0] if isinstance(wanted, list) else wanted
        family = context.get(FAMILY_PARAM)
        for value in values:
            trial_params = {**context, name: value}
            if family is None and name != FAMILY_PARAM and FAMILY_PARAM in spec.space:
                # without a condition, the parameter goes to every family the search may pick
                for choice in spec.space[FAMILY_PARAM].choices or []:
                    _try(spec.train, {FAMILY_PARAM: choice, name: value}, name, errors)
                continue
            _try(spec.train, trial_params, name, errors)
    if errors:
        raise SpecError("SearchSpec", errors[:10])


def _try(base: TrainSpec, params: dict[str, Any], name: str, errors: list[dict[str, Any]]) -> None:
    try:
        trial_spec(base, params)
    except SpecError as exc:
        for err in exc.errors:
            message = err.get("message", "")
            if any(e["field"] == f"space.{name}" and e["message"] == message for e in errors):
                continue
            errors.append(
                {"field": f"space.{name}", "value": params[name], "message": f"{message}"}
            )
