import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { formatDuration } from './format';
import { APIError, requestAPI } from './handler';
import { AimassModel, IService } from './model';

/** How long a service has been idle, and when it stops by itself. */
export function idleText(s: IService): string {
  const idle =
    s.idle_s === null || s.idle_s === undefined
      ? 'idle time unknown'
      : `idle ${formatDuration(s.idle_s)}`;
  const timeout = s.idle_timeout_s
    ? `, stops after ${formatDuration(s.idle_timeout_s)}`
    : '';
  const kernel = s.stop_with_kernel ? ', stops with its kernel' : '';
  return idle + timeout + kernel;
}

/** What each kind of service is called. */
const SERVICE_NAMES: Record<IService['kind'], string> = {
  server: 'inference server',
  dashboard: 'optuna-dashboard',
  tensorboard: 'TensorBoard'
};

/** Stop a service after a dialog; only its owner may (the server refuses others: 403). */
async function stopService(model: AimassModel, s: IService): Promise<void> {
  const what = SERVICE_NAMES[s.kind] ?? s.kind;
  const answer = await showDialog({
    title: `Stop the ${what}?`,
    body: `${s.name ?? s.id} (started by ${s.owner ?? 'unknown'}) stops${
      s.kind === 'server' ? '; its deployments are recorded stopped' : ''
    }.`,
    buttons: [
      Dialog.cancelButton({ label: 'Keep it running' }),
      Dialog.warnButton({ label: 'Stop', ariaLabel: `Stop ${what}` })
    ]
  });
  if (!answer.button.accept) {
    return;
  }
  const path = `services/${s.kind}/${encodeURIComponent(s.id)}/stop`;
  try {
    await requestAPI<unknown>(path, { method: 'POST', body: '{}' });
    Notification.success(`Stopped the ${what}`, { autoClose: 4000 });
  } catch (error) {
    const text =
      error instanceof APIError || error instanceof Error
        ? error.message
        : String(error);
    Notification.error(text, { autoClose: 10000 });
  } finally {
    void model.refresh();
  }
}

/** One service: owner, kernel, idle time; Stop for its owner only. */
export function ServiceRow(props: {
  service: IService;
  model: AimassModel;
}): JSX.Element {
  const { service: s, model } = props;
  const mine = s.can_stop !== false;
  return (
    <li
      className="jp-AimassItem jp-AimassService"
      data-kind={s.kind}
      data-service-id={s.id}
      data-owner={s.owner ?? ''}
    >
      <div className="jp-AimassItem-line">
        <span className="jp-AimassBadge" data-state={s.state}>
          {s.kind}
        </span>
        <span className="jp-AimassItem-name" title={s.url ?? s.id}>
          {s.kind === 'dashboard' && s.url ? (
            <a href={s.url} target="_blank" rel="noopener noreferrer">
              {s.name ?? s.id}
            </a>
          ) : (
            (s.name ?? s.id)
          )}
        </span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span className="jp-AimassService-owner">
          by {s.owner ?? 'unknown'}
          {s.kernel_id ? ` (kernel ${s.kernel_id.slice(0, 8)})` : ''}
        </span>
        <span className="jp-AimassService-idle">{idleText(s)}</span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span className="jp-AimassItem-actions">
          <button
            className="jp-AimassButton jp-mod-warn jp-AimassService-stop"
            disabled={!mine}
            title={
              mine
                ? 'Stop it (asks first)'
                : `Only its owner, ${s.owner}, may stop it`
            }
            onClick={() => void stopService(model, s)}
          >
            Stop
          </button>
        </span>
      </div>
    </li>
  );
}
