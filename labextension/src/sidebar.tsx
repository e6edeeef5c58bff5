import { Clipboard } from '@jupyterlab/apputils';
import {
  caretDownIcon,
  caretRightIcon,
  ReactWidget,
  refreshIcon,
  UseSignal
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { Actions, jobLabel, jobTitle, SERVE_KIND, shortId } from './actions';
import { AlertRow } from './alerts';
import { ChallengeRow } from './challenges';
import { DatasetRow } from './datasets';
import { PretrainedRow } from './pretrained';
import { UploadAction } from './uploads';
import { ServiceRow } from './services';
import {
  formatDuration,
  formatNumber,
  formatWhen,
  metricSummary,
  sizeSummary
} from './format';
import { aimassIcon } from './icons';
import {
  ACTIVE_STATES,
  AimassModel,
  IDeployment,
  IJob,
  IModelVersion,
  ISection,
  IStudy
} from './model';

/** The "AI Mass" sidebar: jobs, studies, models, datasets and deployments of the workspace. */
export class AimassSidebar extends ReactWidget {
  constructor(
    readonly model: AimassModel,
    readonly actions: Actions
  ) {
    super();
    this.id = 'aimass-sidebar';
    this.addClass('jp-AimassSidebar');
    this.title.icon = aimassIcon;
    this.title.caption =
      'AI Mass: jobs, studies, models, datasets, deployments, services, alerts';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.active = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.active = false;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.active = this.isVisible;
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.active = false;
    super.onBeforeDetach(msg);
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <SidebarView model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}

function SidebarView(props: {
  model: AimassModel;
  actions: Actions;
}): JSX.Element {
  const { model, actions } = props;
  const s = model.sections;
  const updated = model.lastUpdated;
  const running = s.jobs.items.filter(j => ACTIVE_STATES.includes(j.state));
  const server = running.find(j => j.kind === SERVE_KIND);
  const jobs = useStableOrder(s.jobs.items);
  const firing = firingNow(s.alerts.items);
  return (
    <div className="jp-AimassSidebar-body">
      <header className="jp-AimassSidebar-header">
        <aimassIcon.react className="jp-AimassSidebar-logo" tag="span" />
        <div className="jp-AimassSidebar-title">
          <h2>AI Mass</h2>
          <span className="jp-AimassSidebar-updated">
            {updated ? `updated ${updated.toLocaleTimeString()}` : 'loading…'}
          </span>
        </div>
        <button
          className="jp-AimassIconButton"
          title="Refresh"
          aria-label="Refresh"
          onClick={() => void model.refresh()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </header>
      <UploadAction onDone={() => void model.refresh()} />
      <Section
        name="jobs"
        title="Jobs"
        onPointer={jobs.setPointer}
        section={s.jobs}
        extra={running.length > 0 ? `${running.length} active` : undefined}
        empty="No jobs yet: training, searches, compressions and servers started from a notebook, the CLI or here show up as they run."
      >
        {jobs.held > 0 && (
          <li className="jp-AimassSection-note jp-AimassJobs-held">
            {jobs.held} new job{jobs.held === 1 ? '' : 's'}: shown when the
            pointer leaves the list
          </li>
        )}
        {jobs.items.map(job => (
          <JobRow key={job.id} job={job} actions={actions} />
        ))}
      </Section>
      <Section
        name="studies"
        title="Studies"
        section={s.studies}
        empty="No studies yet: aimass_lab.search(...) records one."
      >
        {s.studies.items.map(study => (
          <StudyRow key={study.study} study={study} />
        ))}
      </Section>
      <Section
        name="models"
        title="Models"
        section={s.models}
        empty="No registered models yet: run.register(name) adds a version."
      >
        {groupByName(s.models.items).map(([name, versions]) => (
          <ModelGroup
            key={name}
            name={name}
            versions={versions}
            actions={actions}
          />
        ))}
      </Section>
      <Section
        name="pretrained"
        title="Pretrained"
        section={s.pretrained}
        empty="No local pretrained models: copy a folder written by save_pretrained into the models folder (AIMASS_MODELS_DIR, or pretrained/ in the workspace)."
      >
        {s.pretrained.items.map(p => (
          <PretrainedRow key={p.path} model={p} />
        ))}
      </Section>
      <Section
        name="datasets"
        title="Datasets"
        section={s.datasets}
        empty="No registered datasets yet: aimass_lab.datasets.add(name, ...) or aimass datasets add registers one."
      >
        {s.datasets.items.map(d => (
          <DatasetRow key={d.name} dataset={d} />
        ))}
      </Section>
      <Section
        name="deployments"
        title="Deployments"
        section={s.deployments}
        lead={
          server && (
            <ul className="jp-AimassList">
              <ServerRow
                job={server}
                serving={s.deployments.items
                  .filter(d => d.state === 'running')
                  .map(d => d.name)}
                actions={actions}
              />
            </ul>
          )
        }
        empty="No deployments yet: Deploy a model version above, or aimass_lab.deploy(...)."
      >
        {s.deployments.items.map(d => (
          <DeploymentRow key={d.name} deployment={d} actions={actions} />
        ))}
      </Section>
      <Section
        name="services"
        title="Services"
        section={s.services}
        empty="No servers or TensorBoards running. Each shows who started it and how long it has been idle; only its owner may stop it."
      >
        {s.services.items.map(svc => (
          <ServiceRow
            key={`${svc.kind}:${svc.id}`}
            service={svc}
            model={model}
          />
        ))}
      </Section>
      <Section
        name="alerts"
        title="Alerts"
        section={s.alerts}
        extra={firing > 0 ? `${firing} firing` : undefined}
        empty="No alerts recorded: aimass alerts watch NAME --rule '...' watches a deployment, also with no notebook open."
      >
        {s.alerts.items.map(a => (
          <AlertRow key={a.id} alert={a} />
        ))}
      </Section>
      <Section
        name="challenges"
        title="Challenges"
        section={s.challenges}
        empty="No challenges: aimass challenge create NAME DATASET starts a workshop board."
      >
        {s.challenges.items.map(c => (
          <ChallengeRow key={c.name} challenge={c} />
        ))}
      </Section>
    </div>
  );
}

/** Jobs newest first by creation time (a stable order: a row never moves because a job
 * ended). While the pointer is over the list, no new row is inserted above the others, so
 * that what is under the pointer stays the same job; the new ones show when it leaves. */
function useStableOrder(items: IJob[]): {
  items: IJob[];
  held: number;
  setPointer: (inside: boolean) => void;
} {
  const [inside, setInside] = React.useState(false);
  const frozen = React.useRef<string[] | null>(null);
  const sorted = [...items].sort(
    (a, b) =>
      b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id)
  );
  if (!inside || frozen.current === null) {
    frozen.current = sorted.map(j => j.id);
    return { items: sorted, held: 0, setPointer: setInside };
  }
  const shown = new Set(frozen.current);
  const byId = new Map(sorted.map(j => [j.id, j]));
  const kept = frozen.current
    .map(id => byId.get(id))
    .filter((j): j is IJob => j !== undefined);
  return {
    items: kept,
    held: sorted.filter(j => !shown.has(j.id)).length,
    setPointer: setInside
  };
}

function Section(props: {
  name: string;
  title: string;
  section: ISection<unknown>;
  empty: string;
  extra?: string;
  onPointer?: (inside: boolean) => void;
  /** Shown above the items (or the empty note) whatever the items. */
  lead?: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = React.useState(true);
  const { section } = props;
  const Caret = open ? caretDownIcon : caretRightIcon;
  let body: React.ReactNode;
  if (section.status === 'loading') {
    body = <p className="jp-AimassSection-note">Loading…</p>;
  } else if (section.status === 'unavailable') {
    body = (
      <p className="jp-AimassSection-note">
        Not available on this server (its AI Mass Lab has no {props.name}{' '}
        route).
      </p>
    );
  } else {
    body = (
      <>
        {props.lead}
        {section.status === 'error' && (
          <p className="jp-AimassSection-error">{section.error}</p>
        )}
        {section.items.length === 0 && section.status === 'ok' ? (
          <p className="jp-AimassSection-note">{props.empty}</p>
        ) : (
          <ul
            className="jp-AimassList"
            onPointerEnter={() => props.onPointer?.(true)}
            onPointerLeave={() => props.onPointer?.(false)}
          >
            {props.children}
          </ul>
        )}
      </>
    );
  }
  return (
    <section
      className="jp-AimassSection"
      data-section={props.name}
      data-status={section.status}
    >
      <button
        className="jp-AimassSection-header"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <Caret.react tag="span" className="jp-AimassSection-caret" />
        <span className="jp-AimassSection-title">{props.title}</span>
        {props.extra && (
          <span className="jp-AimassSection-extra">{props.extra}</span>
        )}
        {section.status === 'ok' && (
          <span className="jp-AimassSection-count">{section.items.length}</span>
        )}
      </button>
      {open && <div className="jp-AimassSection-body">{body}</div>}
    </section>
  );
}

/** Rules whose newest recorded change (the list is newest first) is "firing". */
function firingNow(
  alerts: { deployment: string; rule: string; state: string }[]
): number {
  const seen = new Set<string>();
  let firing = 0;
  for (const a of alerts) {
    const key = `${a.deployment}\u0000${a.rule}`;
    if (!seen.has(key)) {
      seen.add(key);
      firing += a.state === 'firing' ? 1 : 0;
    }
  }
  return firing;
}

function StateBadge(props: { state: string }): JSX.Element {
  return (
    <span className="jp-AimassBadge" data-state={props.state}>
      {props.state}
    </span>
  );
}

function JobRow(props: { job: IJob; actions: Actions }): JSX.Element {
  const { job, actions } = props;
  const active = ACTIVE_STATES.includes(job.state);
  const server = job.kind === SERVE_KIND;
  const resumable =
    !server && (job.state === 'interrupted' || job.state === 'failed');
  // A server has no progress: it runs until stopped ("stopped", never "succeeded 100%").
  const progress =
    server || job.progress === null || job.progress === undefined
      ? null
      : Math.max(0, Math.min(1, job.progress));
  const meta: string[] = [];
  if (progress !== null) {
    meta.push(`${Math.round(progress * 100)}%`);
  }
  if (job.eta_s !== null && job.eta_s !== undefined && active) {
    meta.push(`${formatDuration(job.eta_s)} left`);
  }
  if (job.duration_s !== null && job.duration_s !== undefined) {
    meta.push(
      active
        ? `${formatDuration(job.duration_s)} so far`
        : `took ${formatDuration(job.duration_s)}`
    );
  } else {
    meta.push(formatWhen(job.created_at));
  }
  return (
    <li
      className="jp-AimassItem jp-AimassJob"
      data-job-id={job.id}
      data-state={job.state}
    >
      <div className="jp-AimassItem-line">
        <StateBadge state={job.state} />
        <span
          className="jp-AimassItem-name"
          title={`${jobLabel(job)}\n${job.kind} job ${job.id}`}
        >
          {server ? 'inference server' : jobTitle(job)}
        </span>
      </div>
      {((active && !server) || progress !== null) && (
        <div
          className="jp-AimassProgress"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={
            progress === null ? undefined : Math.round(progress * 100)
          }
          data-indeterminate={progress === null ? 'true' : undefined}
        >
          <div
            className="jp-AimassProgress-bar"
            style={{ width: `${progress === null ? 100 : progress * 100}%` }}
          />
        </div>
      )}
      {active && server && (
        <div className="jp-AimassItem-line jp-AimassItem-meta">
          <button
            className="jp-AimassItem-hint"
            title="The inference server serves every deployment: stop it from the Deployments section, which asks first."
            onClick={() =>
              document
                .querySelector('.jp-AimassServer')
                ?.scrollIntoView({ block: 'nearest' })
            }
          >
            serves the deployments: stop it from Deployments ↓
          </button>
        </div>
      )}
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span title={job.exit_reason ?? undefined}>
          <span className="jp-AimassItem-kind jp-AimassJob-id" title={job.id}>
            {job.kind} #{shortId(job)}
          </span>
          {' · '}
          {meta.filter(m => m).join(' · ')}
          {job.exit_reason && !active ? ` · ${job.exit_reason}` : ''}
        </span>
        <span className="jp-AimassItem-actions">
          <button
            className="jp-AimassButton"
            onClick={() => actions.openLog(job)}
          >
            Log
          </button>
          {active && !server && (
            <button
              className="jp-AimassButton jp-mod-warn"
              title={`Cancel ${jobLabel(job)} (asks first)`}
              onClick={() => void actions.cancel(job)}
            >
              Cancel
            </button>
          )}
          {resumable && (
            <button
              className="jp-AimassButton"
              onClick={() => void actions.resume(job)}
            >
              Resume
            </button>
          )}
        </span>
      </div>
    </li>
  );
}

function StudyRow(props: { study: IStudy }): JSX.Element {
  const { study } = props;
  const goals = (study.objectives ?? []).map((o, i) =>
    study.directions?.[i] ? `${study.directions[i]} ${o}` : o
  );
  return (
    <li className="jp-AimassItem jp-AimassStudy" data-study={study.study}>
      <div className="jp-AimassItem-line">
        {study.status && <StateBadge state={study.status} />}
        <span className="jp-AimassItem-name">{study.study}</span>
        <span className="jp-AimassItem-kind">
          {study.n_trials ?? 0} trial{study.n_trials === 1 ? '' : 's'}
        </span>
      </div>
      {goals.length > 0 && (
        <div className="jp-AimassItem-line jp-AimassItem-meta">
          {goals.join(', ')}
        </div>
      )}
    </li>
  );
}

function groupByName(versions: IModelVersion[]): [string, IModelVersion[]][] {
  const groups = new Map<string, IModelVersion[]>();
  for (const v of versions) {
    groups.set(v.name, [...(groups.get(v.name) ?? []), v]);
  }
  for (const list of groups.values()) {
    list.sort((a, b) => b.version - a.version);
  }
  return [...groups.entries()];
}

function ModelGroup(props: {
  name: string;
  versions: IModelVersion[];
  actions: Actions;
}): JSX.Element {
  const { versions, actions } = props;
  return (
    <li className="jp-AimassModel" data-model={props.name}>
      <div className="jp-AimassModel-name">{props.name}</div>
      <ul className="jp-AimassList">
        {versions.map(v => (
          <li
            key={v.ref}
            className="jp-AimassItem jp-AimassVersion"
            data-ref={v.ref}
          >
            <div className="jp-AimassItem-line">
              <span
                className="jp-AimassVersion-number"
                title={`${v.ref}, registered ${formatWhen(v.created_at)}`}
              >
                v{v.version}
              </span>
              {v.aliases.map(a => (
                <span key={a} className="jp-AimassChip">
                  {a}
                </span>
              ))}
              <span className="jp-AimassItem-actions">
                <button
                  className="jp-AimassButton"
                  onClick={() => void actions.lineage(v)}
                >
                  Lineage
                </button>
                <button
                  className="jp-AimassButton jp-mod-accept"
                  onClick={() => void actions.deploy(v)}
                >
                  Deploy
                </button>
              </span>
            </div>
            <div className="jp-AimassItem-line jp-AimassItem-meta">
              <span title={metricSummary(v.metrics, 20)}>
                {metricSummary(v.metrics) || 'no metrics recorded'}
              </span>
              <span className="jp-AimassItem-kind">
                {formatWhen(v.created_at)}
              </span>
            </div>
            {sizeSummary(v.parameters, v.size_bytes) && (
              <div className="jp-AimassItem-line jp-AimassItem-meta jp-AimassVersion-size">
                {sizeSummary(v.parameters, v.size_bytes)}
              </div>
            )}
          </li>
        ))}
      </ul>
    </li>
  );
}

/** The workspace's running inference server, at the top of Deployments: Stop server asks
 * first, naming the deployments it serves. */
function ServerRow(props: {
  job: IJob;
  serving: string[];
  actions: Actions;
}): JSX.Element {
  const { job, serving, actions } = props;
  const url = typeof job.result?.url === 'string' ? job.result.url : '';
  return (
    <li
      className="jp-AimassItem jp-AimassServer"
      data-job-id={job.id}
      data-state={job.state}
    >
      <div className="jp-AimassItem-line">
        <StateBadge state={job.state} />
        <span className="jp-AimassItem-name" title={`serve job ${job.id}`}>
          inference server
        </span>
      </div>
      {url && (
        <div className="jp-AimassItem-line jp-AimassEndpoint">
          <code title={url}>{url}</code>
        </div>
      )}
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span>
          serves {serving.length ? serving.join(', ') : 'no deployment'}
        </span>
        <span className="jp-AimassItem-actions">
          <button
            className="jp-AimassButton jp-mod-warn"
            title="Stop the inference server and every deployment on it (asks first)"
            onClick={() => void actions.stopServer(job, serving)}
          >
            Stop server
          </button>
        </span>
      </div>
    </li>
  );
}

function DeploymentRow(props: {
  deployment: IDeployment;
  actions: Actions;
}): JSX.Element {
  const { deployment: d, actions } = props;
  const refs = new Map((d.versions ?? []).map(v => [String(v.version), v.ref]));
  const split = Object.entries(d.split ?? {}).sort(
    (a, b) => Number(a[0]) - Number(b[0])
  );
  return (
    <li
      className="jp-AimassItem jp-AimassDeployment"
      data-deployment={d.name}
      data-state={d.state}
    >
      <div className="jp-AimassItem-line">
        <StateBadge state={d.state} />
        <span className="jp-AimassItem-name">{d.name}</span>
        <span className="jp-AimassItem-kind">{d.spec?.model ?? ''}</span>
      </div>
      {split.length > 0 && (
        <div className="jp-AimassSplit" title="traffic split">
          {split.map(([version, weight]) => (
            <span
              key={version}
              className="jp-AimassSplit-part"
              style={{ flexGrow: Math.max(Number(weight), 1) }}
              title={refs.get(version) ?? `version ${version}`}
            >
              v{version} {formatNumber(weight)}%
            </span>
          ))}
        </div>
      )}
      {d.endpoint && (
        <div className="jp-AimassItem-line jp-AimassEndpoint">
          <code title={d.endpoint}>{d.endpoint}</code>
        </div>
      )}
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span />
        <span className="jp-AimassItem-actions">
          {d.endpoint && d.state === 'running' && (
            <button
              className="jp-AimassButton"
              title="Copy the predict URL"
              onClick={() => Clipboard.copyToSystem(d.endpoint ?? '')}
            >
              Copy URL
            </button>
          )}
          {d.state !== 'running' && (
            <button
              className="jp-AimassButton"
              title="Serve it again as recorded: versions, settings, split"
              onClick={() => void actions.start(d)}
            >
              Start
            </button>
          )}
          {d.state !== 'stopped' && (
            <button
              className="jp-AimassButton jp-mod-warn"
              onClick={() => void actions.stop(d)}
            >
              Stop
            </button>
          )}
        </span>
      </div>
    </li>
  );
}
