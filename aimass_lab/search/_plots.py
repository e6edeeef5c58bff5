"""Live-plot data: one function per view, each returning a plotly figure of the study now.

Every function takes a :class:`~aimass_lab.search.Study` and can be called at any moment
while workers run; widgets redraw by calling it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from aimass_lab.search._study import Study

__all__ = [
    "plot_history",
    "plot_importances",
    "plot_intermediate_values",
    "plot_parallel_coordinate",
    "plot_pareto_front",
]

_STATE_COLOURS = {"COMPLETE": "#1f77b4", "PRUNED": "#d62728", "RUNNING": "#2ca02c"}


def _target(study: Study, objective: int) -> tuple[Any, str]:
    metrics = study.spec.metrics
    if not 0 <= objective < len(metrics):
        from aimass_lab.errors import AimassError

        raise AimassError(
            f"objective index {objective} out of range; accepted: 0..{len(metrics) - 1}"
        )
    if len(metrics) == 1:
        return None, metrics[0]
    return (lambda t: t.values[objective]), metrics[objective]


def plot_history(study: Study, objective: int = 0) -> go.Figure:
    """Optimisation history: each complete trial's value and the best so far."""
    from optuna.visualization import plot_optimization_history

    target, name = _target(study, objective)
    fig = plot_optimization_history(study.optuna_study, target=target, target_name=name)
    fig.update_layout(title=f"{study.name}: optimisation history")
    return fig


def plot_intermediate_values(study: Study) -> go.Figure:
    """Per-epoch reported values of every trial; pruned trials in red and dashed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for t in study.optuna_study.get_trials(deepcopy=False):
        if not t.intermediate_values:
            continue
        steps = sorted(t.intermediate_values)
        state = t.state.name
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=[t.intermediate_values[s] for s in steps],
                mode="lines+markers",
                name=f"trial {t.number} ({state.lower()})",
                line={
                    "color": _STATE_COLOURS.get(state, "#7f7f7f"),
                    "dash": "dash" if state == "PRUNED" else "solid",
                },
                customdata=[[t.number, state, str(t.params)]] * len(steps),
                hovertemplate="trial %{customdata[0]} (%{customdata[1]})<br>epoch %{x}: "
                "%{y:.4g}<br>%{customdata[2]}<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{study.name}: intermediate values ({study.spec.metrics[0]})",
        xaxis_title="epoch",
        yaxis_title=study.spec.metrics[0],
    )
    return fig


def plot_parallel_coordinate(study: Study, objective: int = 0) -> go.Figure:
    """Parameters of complete trials against an objective."""
    from optuna.visualization import plot_parallel_coordinate as optuna_plot

    target, name = _target(study, objective)
    return optuna_plot(study.optuna_study, target=target, target_name=name)


def plot_importances(study: Study, objective: int = 0) -> go.Figure:
    """Parameter importances (fANOVA) for an objective; needs a few complete trials."""
    from optuna.visualization import plot_param_importances

    target, name = _target(study, objective)
    return plot_param_importances(study.optuna_study, target=target, target_name=name)


def plot_pareto_front(study: Study) -> go.Figure:
    """The Pareto front of a multi-objective study; hover shows the trial and its params."""
    from optuna.visualization import plot_pareto_front as optuna_plot

    metrics = study.spec.metrics
    if len(metrics) < 2:
        from aimass_lab.errors import AimassError

        raise AimassError(
            f"study {study.name!r} has one objective; a Pareto front needs two or more "
            "(use plot_history)"
        )
    return optuna_plot(study.optuna_study, target_names=metrics)
