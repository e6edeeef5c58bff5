import { MainAreaWidget } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { jobLabel } from './actions';
import { requestAPI } from './handler';
import { aimassIcon } from './icons';
import { ACTIVE_STATES, IJob } from './model';

/** The tail of a job's log, refreshed while the job runs. */
export class JobLogView extends Widget {
  constructor(
    readonly job: IJob,
    private _intervalMs = 2000
  ) {
    super();
    this.addClass('jp-AimassLog');
    this._status = document.createElement('div');
    this._status.className = 'jp-AimassLog-status';
    this._pre = document.createElement('pre');
    this._pre.className = 'jp-AimassLog-text';
    this.node.append(this._status, this._pre);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.update_();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stop();
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this._stop();
    super.dispose();
  }

  /** Fetch the job and its log now; again after a while while the job is active. */
  async update_(): Promise<void> {
    this._stop();
    const id = encodeURIComponent(this.job.id);
    let active = false;
    try {
      const [job, log] = await Promise.all([
        requestAPI<IJob>(`jobs/${id}`),
        requestAPI<{ log: string }>(`jobs/${id}/log?tail=1000`)
      ]);
      active = ACTIVE_STATES.includes(job.state);
      const atBottom =
        this.node.scrollHeight - this.node.scrollTop - this.node.clientHeight <
        40;
      this._status.textContent = `${job.kind} job ${job.id} · ${job.state}${
        job.exit_reason ? ` · ${job.exit_reason}` : ''
      }`;
      this._status.dataset.state = job.state;
      this._pre.textContent = log.log || '(the log is empty so far)';
      if (atBottom) {
        this.node.scrollTop = this.node.scrollHeight;
      }
    } catch (error) {
      this._status.textContent = `Could not read the log: ${
        error instanceof Error ? error.message : String(error)
      }`;
      active = true;
    }
    if (active && !this.isDisposed && this.isAttached) {
      this._timer = window.setTimeout(
        () => void this.update_(),
        this._intervalMs
      );
    }
  }

  private _stop(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _status: HTMLDivElement;
  private _pre: HTMLPreElement;
  private _timer: number | null = null;
}

/** A main-area tab with a job's log. */
export function createLogWidget(job: IJob): MainAreaWidget<JobLogView> {
  const widget = new MainAreaWidget({ content: new JobLogView(job) });
  widget.id = `aimass-log-${job.id}`;
  widget.title.label = `Log: ${jobLabel(job)}`;
  widget.title.caption = `Log of ${job.kind} job ${job.id}`;
  widget.title.icon = aimassIcon;
  widget.title.closable = true;
  return widget;
}
