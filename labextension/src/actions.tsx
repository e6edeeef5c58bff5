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

  async cancel(job: IJob): Promise<void> {
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
      Notification.error(`Lineage of ${version.ref}: ${message(error)}`, {
        autoClose: 8000
      });
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

  async stop(deployment: IDeployment): Promise<void> {
    const answer = await showDialog({
      title: `Stop ${deployment.name}?`,
      body: `The endpoint "${deployment.name}" stops serving; its record and split stay, so it can be deployed again.`,
      buttons: [
        Dialog.cancelButton(),
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
    // The notification only needs to know when the work settles, not its value.
    const settled = work.then(() => null);
    Notification.promise(settled, {
      pending: { message: pending, options: { autoClose: false } },
      success: { message: () => success, options: { autoClose: 4000 } },
      error: {
        message: (error: unknown) => message(error),
        options: { autoClose: 10000 }
      }
    });
    try {
      return await work;
    } catch {
      return undefined;
    } finally {
      await this.model.refresh();
    }
  }
}

export function jobLabel(job: IJob): string {
  return job.name || `${job.kind} ${job.id}`;
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
