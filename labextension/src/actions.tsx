import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { requestAPI } from './handler';
import { AimassModel, IDeployment, IJob, IModelVersion } from './model';

/** A node of a model version's lineage graph (`GET models/{ref}/lineage`). */
interface ILineageNode {
  id: string;
  kind: string;
  label: string;
  missing?: boolean;
  current?: boolean;
  state?: string;
}

interface ILineage {
  ref: string;
  nodes: ILineageNode[];
  edges: { source: string; target: string; label: string }[];
}

/** What the sidebar's buttons do: REST calls, dialogs, then a refresh. */
export class Actions {
  constructor(
    readonly model: AimassModel,
    private _openLog: (job: IJob) => void
  ) {}

  openLog(job: IJob): void {
    this._openLog(job);
  }

  /**
   * Cancel a job, after a dialog that names it. The inference server (`serve` job) is not
   * cancelled here: it is stopped from the Deployments section ({@link stopServer}).
   */
  async cancel(job: IJob): Promise<void> {
    if (job.kind === SERVE_KIND) {
      return;
    }
    const what =
      job.kind === 'train'
        ? 'It saves a checkpoint and stops; Resume continues from there.'
        : job.kind === 'search'
          ? 'Its worker stops; the trial in progress is queued again.'
          : 'It stops; what it finished so far is kept.';
    const answer = await showDialog({
      title: `Cancel ${jobLabel(job)}?`,
      body: `The ${job.kind} job ${jobLabel(job)} (id ${job.id}) is ${job.state}. ${what}`,
      buttons: [
        Dialog.cancelButton({ label: 'Keep it running' }),
        Dialog.warnButton({
          label: `Cancel ${job.kind} job`,
          ariaLabel: `Cancel ${job.kind} job ${job.id}`
        })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._act(
      requestAPI<IJob>(`jobs/${encodeURIComponent(job.id)}/cancel`, {
        method: 'POST'
      }),
      `Cancelling ${jobLabel(job)}`,
      `Cancel requested: ${jobLabel(job)}`
    );
  }

  async resume(job: IJob): Promise<void> {
    await this._act(
      requestAPI<IJob>(`jobs/${encodeURIComponent(job.id)}/resume`, {
        method: 'POST'
      }),
      `Resuming ${jobLabel(job)}`,
      `Resumed: ${jobLabel(job)}`
    );
  }

  async lineage(version: IModelVersion): Promise<void> {
    let graph: ILineage;
    try {
      graph = await requestAPI<ILineage>(
        `models/${encodeURIComponent(version.ref)}/lineage`
      );
    } catch (error) {
      notifyError(
        `Lineage of ${version.ref}`,
        `Lineage of ${version.ref}: ${message(error)}`
      );
      return;
    }
    await showDialog({
      title: `Lineage of ${version.ref}`,
      body: <LineageView graph={graph} />,
      buttons: [Dialog.okButton({ label: 'Close' })]
    });
  }

  async deploy(version: IModelVersion): Promise<void> {
    const form = new DeployForm(version);
    const answer = await showDialog({
      title: `Deploy ${version.ref}`,
      body: form,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Deploy', ariaLabel: 'Deploy' })
      ],
      focusNodeSelector: 'input'
    });
    if (!answer.button.accept || answer.value === null) {
      return;
    }
    const spec = { model: version.ref, ...answer.value };
    await this._act(
      requestAPI<IDeployment>('deployments', {
        method: 'POST',
        body: JSON.stringify(spec)
      }),
      `Deploying ${version.ref} as "${spec.name}" (starting the inference server when needed)`,
      `Deployed ${version.ref} as "${spec.name}"`
    );
  }

  /** Stop the workspace's inference server (its `serve` job), after a dialog naming what
   * it serves. */
  async stopServer(job: IJob, serving: string[]): Promise<void> {
    const served = serving.length
      ? `Every deployment it serves stops: ${serving.join(', ')}.`
      : 'It serves no deployment.';
    const answer = await showDialog({
      title: 'Stop the inference server?',
      body: `The inference server (job ${job.id}${serverPort(job)}) drains and exits. ${served} Their records stay; Start serves one again.`,
      buttons: [
        Dialog.cancelButton({ label: 'Keep it running' }),
        Dialog.warnButton({ label: 'Stop server', ariaLabel: 'Stop server' })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._act(
      requestAPI<IJob>(`jobs/${encodeURIComponent(job.id)}/cancel`, {
        method: 'POST'
      }),
      'Stopping the inference server (it drains first)',
      'Inference server stopped'
    );
  }

  async stop(deployment: IDeployment): Promise<void> {
    const answer = await showDialog({
      title: `Stop ${deployment.name}?`,
      body: `The endpoint "${deployment.name}" stops serving (the inference server stops too when it serves nothing else); its record and split stay, so Start serves it again.`,
      buttons: [
        Dialog.cancelButton({ label: 'Keep it running' }),
        Dialog.warnButton({ label: 'Stop', ariaLabel: 'Stop deployment' })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._act(
      requestAPI(`deployments/${encodeURIComponent(deployment.name)}`, {
        method: 'DELETE'
      }),
      `Stopping ${deployment.name}`,
      `Stopped ${deployment.name}`
    );
  }

  async start(deployment: IDeployment): Promise<void> {
    await this._act(
      requestAPI<IDeployment>(
        `deployments/${encodeURIComponent(deployment.name)}/start`,
        { method: 'POST' }
      ),
      `Starting ${deployment.name} (its recorded versions, settings and split)`,
      `Started ${deployment.name}`
    );
  }

  private async _act<T>(
    work: Promise<T>,
    pending: string,
    success: string
  ): Promise<T | undefined> {
    const id = Notification.emit(pending, 'in-progress', { autoClose: false });
    try {
      const result = await work;
      Notification.dismiss(id);
      Notification.success(success, { autoClose: 4000 });
      return result;
    } catch (error) {
      notifyError(pending, message(error), id);
      return undefined;
    } finally {
      await this.model.refresh();
    }
  }
}

/** Longer messages than this are cut by JupyterLab's toasts: they get a "Details" action. */
export const TOAST_CHARS = 120;

/**
 * Show an error in a toast; a long one (JupyterLab cuts toasts at 140 characters) gets a
 * "Details" action that opens the whole message in a dialog. Replaces the toast `id` when
 * given (the pending notification of the same action).
 */
export function notifyError(what: string, text: string, id?: string): void {
  const actions: Notification.IAction[] =
    text.length > TOAST_CHARS
      ? [
          {
            label: 'Details',
            caption: 'Show the whole message',
            displayType: 'link',
            callback: () => void showErrorDetails(what, text)
          }
        ]
      : [];
  if (id !== undefined) {
    Notification.dismiss(id);
  }
  Notification.error(text, { autoClose: 10000, actions });
}

async function showErrorDetails(what: string, text: string): Promise<void> {
  const body = document.createElement('pre');
  body.className = 'jp-AimassErrorDetails';
  body.textContent = text;
  await showDialog({
    title: `Failed: ${what.replace(/\u2026$|\.\.\.$/, '')}`,
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

/** The job kind of the workspace's inference server. */
export const SERVE_KIND = 'serve';

/** The random tail of a job id (`a1b2c3` of `20261204-183015-a1b2c3`). */
export function shortId(job: IJob): string {
  const parts = job.id.split('-');
  return parts[parts.length - 1];
}

/** The job's full name (the server's `label`: its name, or what it works on). */
export function jobLabel(job: IJob): string {
  return job.label || job.name || `${job.kind} #${shortId(job)}`;
}

/**
 * The job's name with what tells it from its neighbours first, so that an ellipsis never
 * hides the difference: `trial 3 · digits-mlp-20261204-1830` for a trial of a search.
 */
export function jobTitle(job: IJob): string {
  const label = jobLabel(job);
  const trial = /^(.*)-trial-(\d+)$/.exec(label);
  if (trial) {
    return `trial ${trial[2]} · ${trial[1]}`;
  }
  const worker = /^(.*)-worker-(\d+)$/.exec(label);
  if (worker) {
    return `worker ${worker[2]} · ${worker[1]}`;
  }
  return label;
}

function serverPort(job: IJob): string {
  const port = job.result?.port;
  return port ? `, port ${port}` : '';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The deploy dialog's form: endpoint name and replicas. */
class DeployForm extends Widget {
  constructor(version: IModelVersion) {
    super();
    this.addClass('jp-AimassDeployForm');
    const name = document.createElement('label');
    name.textContent = 'Endpoint name';
    this._name = document.createElement('input');
    this._name.className = 'jp-mod-styled';
    this._name.name = 'name';
    this._name.value = version.name;
    name.appendChild(this._name);
    const replicas = document.createElement('label');
    replicas.textContent = 'Replicas';
    this._replicas = document.createElement('input');
    this._replicas.className = 'jp-mod-styled';
    this._replicas.name = 'replicas';
    this._replicas.type = 'number';
    this._replicas.min = '1';
    this._replicas.value = '1';
    replicas.appendChild(this._replicas);
    const note = document.createElement('p');
    note.className = 'jp-AimassDeployForm-note';
    note.textContent =
      'The workspace inference server routes 100% of the endpoint to this version; the previous split is kept for rollback.';
    this.node.append(name, replicas, note);
  }

  getValue(): { name: string; replicas: number } {
    return {
      name: this._name.value.trim(),
      replicas: Math.max(1, parseInt(this._replicas.value, 10) || 1)
    };
  }

  private _name: HTMLInputElement;
  private _replicas: HTMLInputElement;
}

const KIND_ORDER = ['dataset', 'run', 'trial', 'model', 'deployment'];

/** A lineage graph as a list of its links, in the order the work happened. */
function LineageView(props: { graph: ILineage }): JSX.Element {
  const nodes = new Map(props.graph.nodes.map(n => [n.id, n]));
  const label = (id: string): JSX.Element => {
    const node = nodes.get(id);
    return (
      <span
        className={`jp-AimassLineage-node${node?.current ? ' jp-mod-current' : ''}${node?.missing ? ' jp-mod-missing' : ''}`}
      >
        <span className="jp-AimassLineage-kind">{node?.kind ?? '?'}</span>
        {node?.label ?? id}
      </span>
    );
  };
  const edges = [...props.graph.edges].sort(
    (a, b) =>
      KIND_ORDER.indexOf(nodes.get(a.source)?.kind ?? '') -
      KIND_ORDER.indexOf(nodes.get(b.source)?.kind ?? '')
  );
  if (edges.length === 0) {
    return (
      <div className="jp-AimassLineage">
        {props.graph.nodes.map(n => (
          <div key={n.id}>{label(n.id)}</div>
        ))}
        <p>No recorded origin.</p>
      </div>
    );
  }
  return (
    <ol className="jp-AimassLineage">
      {edges.map((e, i) => (
        <li key={i}>
          {label(e.source)}
          <span className="jp-AimassLineage-edge">{e.label} →</span>
          {label(e.target)}
        </li>
      ))}
    </ol>
  );
}
