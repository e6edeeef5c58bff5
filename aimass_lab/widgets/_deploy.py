"""DeployPanel: one-click deploy, endpoint snippets, try-it, live traffic split, metrics."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import SpecError
from aimass_lab.widgets._anywidgets import CopyText
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    dropdown,
    esc,
    guarded,
    section,
    set_options,
    spec_messages,
)
from aimass_lab.widgets._common import version_refs
from aimass_lab.widgets._confirm import Confirm
from aimass_lab.widgets._deploy_metrics import HISTORY, EndpointMetrics
from aimass_lab.widgets._deploy_try import TryIt, example_body

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = [
    "HISTORY",
    "DeployPanel",
    "curl_snippet",
    "deploy_ref",
    "proxied_url",
    "python_snippet",
    "rebalance",
]


def deploy_ref(ref: str, workspace: Workspace, name: str | None = None, **options: Any) -> Any:
    """Deploy a registry ref through :func:`aimass_lab.deploy`; return the Deployment."""
    from aimass_lab.serve.deploy import deploy

    return deploy(ref, name=name or None, workspace=workspace, **options)


def rebalance(weights: dict[str, int], changed: str, value: int) -> dict[str, int]:
    """Set ``weights[changed] = value`` and scale the others so that the sum is 100."""
    value = max(0, min(100, int(value)))
    others = [k for k in weights if k != changed]
    out = {changed: value}
    if not others:
        out[changed] = 100
        return out
    rest = 100 - value
    total = sum(max(0, weights[k]) for k in others)
    if total <= 0:
        shares = {k: rest / len(others) for k in others}
    else:
        shares = {k: rest * max(0, weights[k]) / total for k in others}
    rounded = {k: int(v) for k, v in shares.items()}
    # hand the rounding remainder to the largest shares first
    left = rest - sum(rounded.values())
    for k in sorted(others, key=lambda k: shares[k] - rounded[k], reverse=True)[:left]:
        rounded[k] += 1
    out.update(rounded)
    return out


def proxied_url(endpoint: str) -> str:
    """``endpoint`` (the server's own URL) as the Jupyter server forwards it:
    ``{base_url}aimass-lab/serve/...``, for a browser or a machine that reaches Jupyter only.

    The base URL is JupyterHub's ``JUPYTERHUB_SERVICE_PREFIX`` in a Hub's kernels, else ``/``.
    """
    from urllib.parse import urlsplit

    base = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    path = urlsplit(endpoint).path.lstrip("/")
    return f"{base.rstrip('/')}/aimass-lab/serve/{path}"


def curl_snippet(endpoint: str, body: dict[str, Any]) -> str:
    """A curl command that posts ``body`` to ``endpoint`` (and the same through Jupyter)."""
    data = json.dumps(body)
    return (
        f"curl -s -X POST '{endpoint}' \\\n  -H 'Content-Type: application/json' \\\n"
        f"  -d '{data}'\n\n"
        "# through Jupyter (its login; JUPYTER_URL like http://127.0.0.1:8888):\n"
        f'curl -s -X POST "$JUPYTER_URL{proxied_url(endpoint)}" \\\n'
        "  -H \"Authorization: token $JUPYTER_TOKEN\" -H 'Content-Type: application/json' \\\n"
        f"  -d '{data}'"
    )


def python_snippet(endpoint: str, name: str, body: dict[str, Any]) -> str:
    """Python that calls the endpoint, with httpx and with the Deployment handle."""
    if "records" in body:
        call = f"records={json.dumps(body['records'])}"
    else:
        call = json.dumps(body.get("inputs", []))
    return (
        "import httpx\n\n"
        f"response = httpx.post({endpoint!r}, json={json.dumps(body)})\n"
        "print(response.json())\n\n"
        "# or, from any notebook on this workspace:\n"
        "from aimass_lab.serve import get_deployment\n"
        f"get_deployment({name!r}).predict({call})\n"
    )


class DeployPanel(TryIt, EndpointMetrics, Panel):
    """Deploy a registered version and run its endpoint.

    Deploy starts (or reuses) the workspace's inference server and routes 100% of the
    endpoint's traffic to the version; deploying another version of the model to the same
    endpoint is a hot swap. The endpoint's URL comes with copyable curl and Python snippets
    and a try-it form (a JSON body; raw text, one per line, for a text model; an uploaded
    image for an image model). One slider per loaded version sets the traffic split, applied live
    (the others follow so that the split sums to 100); Rollback returns to the previous
    split. Requests per second, p50/p99 latency and the error rate are charted from the
    server's metrics; an alert shows when p99 or the error rate crosses the thresholds set,
    and the alert history that the deployment's ``alerts`` watcher job recorded is listed.

    Parameters
    ----------
    model
        A registry ref to preselect.
    deployment
        A :class:`~aimass_lab.serve.Deployment` (or its name) to show.
    workspace
        The workspace (default: the current one).
    poll_interval
        Seconds between metric scrapes (at least 0.25).
    """

    title = "Deploy"

    def __init__(
        self,
        model: str | None = None,
        *,
        deployment: Any = None,
        workspace: Workspace | str | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(workspace, poll_interval)
        self.deployment: Any = None
        self.on_deployed: list[Callable[[Any], Any]] = []
        self._adjusting = False

        refresh = self._build_form()
        self._build_endpoint()
        self._build_split()
        self._build_metrics()
        for f in self.fields.values():
            f.control.observe(self._validate, "value")
        self.children = self._layout(refresh)
        self.refresh_lists()
        if model:
            values = [v for _, v in self.model.control.options]
            if model in values:
                self.model.value = model
        self._validate()
        if deployment is not None:
            self.show_deployment(deployment)

    def _build_form(self) -> widgets.Button:
        """The deploy form and its Deploy button; returns the button that reads the lists again."""
        self.model = Field("model", dropdown([], width="18em"))
        self.endpoint_name = Field(
            "endpoint",
            widgets.Text(
                "", placeholder="default: the model name", layout=widgets.Layout(width="14em")
            ),
        )
        self.replicas = Field("replicas", widgets.IntText(1, layout=widgets.Layout(width="8em")))
        self.engine = Field("engine", dropdown(["auto", "onnxruntime", "torch"], width="10em"))
        #: The DeploySpec field path of each field (errors are routed by it).
        self.fields = {
            "model": self.model,
            "name": self.endpoint_name,
            "replicas": self.replicas,
            "engine": self.engine,
        }
        self.deploy_button = button("Deploy", "primary", "rocket")
        self.deploy_button.on_click(self._on_deploy)
        refresh = button("", icon="refresh")
        refresh.on_click(lambda _b: self.refresh_lists())
        return refresh

    def _build_endpoint(self) -> None:
        """The deployment chooser, its URLs and snippets, and the try-it form."""
        self.endpoints = dropdown([], width="18em")
        self.endpoints.observe(self._endpoint_changed, "value")
        self.info = widgets.HTML()
        self.curl = CopyText()
        self.python = CopyText()
        self._build_try()

    def _build_split(self) -> None:
        """The traffic split's sliders (made per deployment) and Rollback, Stop, Start."""
        self.split_box = widgets.VBox()
        self.sliders: dict[str, widgets.IntSlider] = {}
        self.rollback_button = button("Rollback", "warning", "undo")
        self.stop_button = button("Stop endpoint", "", "power-off")
        self.start_button = button("Start endpoint", "success", "play")
        self.rollback_button.on_click(self._on_rollback)
        self.stop_button.on_click(self._on_stop)
        #: Stop asks first, naming the endpoint (and the server when it is its last one).
        self.confirm = Confirm()
        self.start_button.on_click(self._on_start)

    def _layout(self, refresh: widgets.Button) -> list[widgets.Widget]:
        """The panel's rows: deploy, endpoint, try it, traffic split, live metrics."""
        return [
            section("deploy a version"),
            widgets.HBox([self.model.box, refresh]),
            widgets.HBox([self.endpoint_name.box, self.replicas.box]),
            self.engine.box,
            widgets.HBox([self.deploy_button]),
            self.status,
            section("endpoint"),
            widgets.HBox(
                [widgets.Label("deployment", layout=widgets.Layout(width="9em")), self.endpoints]
            ),
            self.info,
            widgets.HTML("<small>curl</small>"),
            self.curl,
            widgets.HTML("<small>Python</small>"),
            self.python,
            section("try it"),
            *self._try_rows(),
            section("traffic split (applied live)"),
            self.split_box,
            widgets.HBox([self.rollback_button, self.stop_button, self.start_button]),
            self.confirm.box,
            section("live metrics"),
            widgets.HBox([self.p99_limit.box, self.error_limit.box]),
            self.alert,
            self.alert_history,
            self.metrics_chart,
            self.metrics_table,
        ]

    # -- lists and form -------------------------------------------------------------------------
    def refresh_lists(self) -> None:
        """Read the registry's versions and the workspace's deployments again."""
        set_options(self.model.control, version_refs(self.workspace))
        try:
            from aimass_lab.serve.deploy import deployments

            names = [d.name for d in deployments(self.workspace)]
        except Exception:
            names = []
        chosen = self.endpoints.value
        self.endpoints.options = names
        if chosen in names:
            self.endpoints.value = chosen
        self._validate()

    def _validate(self, _change: Any = None) -> bool:
        from aimass_lab.specs import DeploySpec

        for f in self.fields.values():
            f.set_error(None)
        ok = True
        if not self.model.value:
            self.model.set_error("no registered model: train one and register it")
            ok = False
        else:
            try:
                DeploySpec(
                    model=self.model.value,
                    name=self.endpoint_name.value.strip() or None,
                    replicas=self.replicas.value,
                    engine=self.engine.value,
                )
            except SpecError as exc:
                ok = False
                for path, message in spec_messages(exc):
                    field = self.fields.get(path.split(".")[0])
                    (field.set_error(message) if field is not None else self.show_error(message))
        self.deploy_button.disabled = not ok
        return ok

    @property
    def valid(self) -> bool:
        """Whether the deploy form is valid."""
        return self._validate()

    # -- actions ------------------------------------------------------------------------------
    @guarded
    def _on_deploy(self, _button: Any = None) -> Any:
        if not self._validate():
            self.show_error("fix the fields marked in red first")
            return None
        ref = self.model.value
        self.show_status(f"deploying {ref}: starting or reusing the workspace's server…")
        self.deploy_button.disabled = True
        try:
            dep = deploy_ref(
                ref,
                self.workspace,
                name=self.endpoint_name.value.strip() or None,
                replicas=self.replicas.value,
                engine=self.engine.value,
            )
        finally:
            self.deploy_button.disabled = False
        self.show_deployment(dep)
        self.show_status(f"deployed {ref} at {dep.endpoint}")
        for callback in self.on_deployed:
            callback(dep)
        return dep

    def deploy(self, ref: str | None = None) -> Any:
        """Press Deploy (for ``ref`` when given); returns the Deployment or None on an error."""
        if ref is not None:
            self.refresh_lists()
            self.model.value = ref
        return self._on_deploy()

    def show_deployment(self, deployment: Any) -> None:
        """Show a deployment (a handle or its name) and poll its metrics."""
        if isinstance(deployment, str):
            from aimass_lab.serve.deploy import get_deployment

            deployment = get_deployment(deployment, self.workspace)
        with self._lock:
            self.deployment = deployment
            self._history.clear()
            self._last_counts = None
            names = list(self.endpoints.options)
            self._adjusting = True
            try:
                if deployment.name not in names:
                    self.endpoints.options = [*names, deployment.name]
                self.endpoints.value = deployment.name
            finally:
                self._adjusting = False
            self._show_endpoint()
        self.refresh_and_poll()

    def _endpoint_changed(self, _change: Any = None) -> None:
        if self._adjusting or not self.endpoints.value:
            return
        try:
            self.show_deployment(self.endpoints.value)
        except Exception as exc:
            self.show_error(exc)

    def _show_endpoint(self) -> None:
        dep = self.deployment
        dep.refresh(sync=False)
        endpoint = dep.endpoint or "(not running)"
        body = example_body(dep.model, self.workspace)
        self.info.value = (
            f"<b>{esc(dep.name)}</b> — {esc(dep.state)} · model {esc(dep.model)}<br>"
            f"JSON: <code>POST {esc(endpoint)}</code><br>"
            f"through Jupyter: <code>POST {esc(proxied_url(endpoint))}</code> "
            "<small>(from a browser or a machine that reaches Jupyter only)</small><br>"
            f"Open Inference Protocol v2: <code>POST {esc(dep.infer_url or '')}</code>"
        )
        self.curl.text = curl_snippet(endpoint, body)
        self.python.text = python_snippet(endpoint, dep.name, body)
        self._show_try(dep.model, body)
        self._build_sliders()
        self._check_request()

    def _build_sliders(self) -> None:
        dep = self.deployment
        weights = dep.split_weights
        refs = dep.refs
        self.sliders = {}
        rows = []
        for version in sorted(dep.versions, key=lambda v: int(v) if v.isdigit() else 0):
            slider = widgets.IntSlider(
                value=int(weights.get(version, 0)),
                min=0,
                max=100,
                step=5,
                continuous_update=False,
                description=f"v{version}",
                layout=widgets.Layout(width="30em"),
            )
            slider.observe(self._slider_changed, "value")
            self.sliders[version] = slider
            rows.append(widgets.HBox([slider, widgets.Label(refs.get(version, ""))]))
        self.split_box.children = rows
        self.rollback_button.disabled = not dep.previous_split
        self.stop_button.disabled = dep.state != "running"
        self.start_button.disabled = dep.state == "running"

    def _slider_changed(self, change: Any) -> None:
        if self._adjusting:
            return
        version = next((v for v, s in self.sliders.items() if s is change["owner"]), None)
        if version is None:
            return
        current = {v: s.value for v, s in self.sliders.items()}
        current[version] = change["old"]
        weights = rebalance(current, version, change["new"])
        self.apply_split(weights)

    @guarded
    def apply_split(self, weights: dict[str, int]) -> None:
        """Route traffic as ``weights`` (``{"3": 90, "4": 10}``), live; the sliders follow."""
        dep = self.deployment
        if dep is None:
            return
        dep.split({k: v for k, v in weights.items()})
        self._sync_sliders()
        shown = ", ".join(f"v{k} {v}%" for k, v in sorted(dep.split_weights.items()))
        self.show_status(f"traffic split applied: {shown}")

    def _sync_sliders(self) -> None:
        dep = self.deployment
        weights = dep.split_weights
        if set(self.sliders) != set(dep.versions):
            self._build_sliders()
            return
        self._adjusting = True
        try:
            for version, slider in self.sliders.items():
                slider.value = int(weights.get(version, 0))
        finally:
            self._adjusting = False
        self.rollback_button.disabled = not dep.previous_split

    @guarded
    def _on_rollback(self, _button: Any = None) -> None:
        if self.deployment is None:
            return
        self.deployment.rollback()
        self._sync_sliders()
        self.show_status(f"rolled back: {self.deployment.split_weights}")

    def _on_stop(self, _button: Any = None) -> None:
        """Ask first: the row under the buttons names the endpoint that would stop."""
        dep = self.deployment
        if dep is None:
            return
        self.confirm.ask(
            f"Stop endpoint {dep.name}? It stops serving (the inference server stops too when "
            "it serves nothing else); its record and split stay, Start serves it again.",
            f"Confirm stop {dep.name}",
            self._stop,
            keep="Keep it running",
        )

    @guarded
    def _stop(self) -> None:
        if self.deployment is None:
            return
        self.deployment.stop()
        self.stop_polling()
        self._show_endpoint()
        self.show_status(f"endpoint {self.deployment.name} stopped")

    @guarded
    def _on_start(self, _button: Any = None) -> None:
        """Serve a stopped or down deployment again as recorded (versions, settings, split)."""
        if self.deployment is None:
            return
        self.show_status(f"starting endpoint {self.deployment.name} ...")
        self.deployment.start()
        self.show_deployment(self.deployment)
        self.show_status(
            f"endpoint {self.deployment.name} running: {self.deployment.split_weights}"
        )

    @guarded
    def _on_predict(self, _button: Any = None) -> Any:
        return self._send_try()

    def predict(self) -> Any:
        """Press Predict with the try-it form's body."""
        return self._on_predict()

    # -- metrics ------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Scrape the endpoint's metrics once; update the charts, the table and the alerts."""
        dep = self.deployment
        if dep is None:
            return False
        self.show_alert_history(dep.name)
        if dep.state != "running":
            self.info.value = f"<b>{esc(dep.name)}</b> — {esc(dep.state)}"
            return False
        self._update_metrics(dep.metrics())
        return True
