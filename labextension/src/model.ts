import { ISignal, Signal } from '@lumino/signaling';

import { APIError, requestAPI } from './handler';

/** A job as the REST API returns it (`GET jobs`). */
export interface IJob {
  id: string;
  kind: string;
  name: string | null;
  /** The name, or for an unnamed job what it works on and its short id. */
  label?: string;
  state: string;
  progress: number | null;
  eta_s: number | null;
  duration_s: number | null;
  created_at: string;
  exit_reason: string | null;
  result?: Record<string, unknown>;
}

/** A study summary (`GET studies`). */
export interface IStudy {
  study: string;
  status?: string | null;
  n_trials?: number;
  directions?: string[];
  objectives?: string[] | null;
  started?: string | null;
}

/** A registered model version (`GET models`). */
export interface IModelVersion {
  id: number;
  name: string;
  version: number;
  ref: string;
  aliases: string[];
  metrics: Record<string, number>;
  created_at: string;
  parent?: string | null;
  /** Parameters, from the safetensors headers of its weights (null: ONNX only). */
  parameters?: number | null;
  /** Bytes of all its files. */
  size_bytes?: number;
}

/** A local pretrained model of the models folder (`GET pretrained`, its `models`). */
export interface IPretrained {
  name: string;
  path: string;
  kind: string;
  model_type: string;
  parameters: number;
  size_bytes: number;
  max_length?: number | null;
  image_size?: number | null;
  tokenizer: boolean;
}

/** A deployment (`GET deployments`). */
export interface IDeployment {
  name: string;
  state: string;
  url?: string | null;
  endpoint?: string | null;
  split?: Record<string, number>;
  versions?: { version: string; ref?: string }[];
  spec?: { model?: string; replicas?: number };
}

/** A rule of a deployment that fired or resolved (`GET alerts`, newest first). */
export interface IAlert {
  id: number;
  deployment: string;
  rule: string;
  metric: string;
  state: string;
  value?: number | null;
  at: string;
  message?: string;
}

/** A long-running service (`GET services`): an inference server or a TensorBoard. */
export interface IService {
  kind: 'server' | 'dashboard' | 'tensorboard';
  id: string;
  name?: string;
  owner: string | null;
  kernel_id?: string | null;
  stop_with_kernel?: boolean;
  idle_s?: number | null;
  idle_timeout_s?: number | null;
  url?: string | null;
  state: string;
  /** Whether the user looking may stop it (only its owner may). */
  can_stop?: boolean;
}

/** A workshop challenge with its first ranks (`GET challenges`). */
export interface IChallenge {
  name: string;
  owner: string;
  public: string;
  metric: string;
  frozen: boolean;
  hidden_rows: number;
  participants?: number;
  submissions?: number;
  leaders?: { rank: number; participant: string; score: number }[];
}

/** A dataset of the workspace (`GET datasets`). */
export interface IDataset {
  name: string;
  source: string;
  task: string | null;
  description?: string | null;
  registered: boolean;
  fingerprint?: string | null;
  created_at?: string | null;
}

/** One row of a page of samples (`GET datasets/{name}/samples`). */
export interface ISampleRow {
  index: number;
  label: unknown;
  thumbnail?: string;
  path?: string;
  error?: string;
  text?: string;
  values?: Record<string, unknown>;
  /** The row in the source file (text, and tables read on demand). */
  row?: number;
}

/** A page of a dataset's samples: only these rows were read on the server. */
export interface ISamplePage {
  part: string;
  start: number;
  total: number;
  kind: 'image' | 'tabular' | 'text';
  rows: ISampleRow[];
}

export const SECTIONS = [
  'jobs',
  'studies',
  'models',
  'pretrained',
  'datasets',
  'deployments',
  'alerts',
  'services',
  'challenges'
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** What one sidebar section shows: its items, or why it has none. */
export interface ISection<T> {
  status: 'loading' | 'ok' | 'unavailable' | 'error';
  items: T[];
  error?: string;
}

export interface ISections {
  jobs: ISection<IJob>;
  studies: ISection<IStudy>;
  models: ISection<IModelVersion>;
  pretrained: ISection<IPretrained>;
  datasets: ISection<IDataset>;
  deployments: ISection<IDeployment>;
  alerts: ISection<IAlert>;
  services: ISection<IService>;
  challenges: ISection<IChallenge>;
}

const ROUTES: Record<SectionName, string> = {
  jobs: 'jobs?limit=50',
  studies: 'studies',
  models: 'models',
  pretrained: 'pretrained',
  datasets: 'datasets',
  deployments: 'deployments',
  alerts: 'alerts?limit=10',
  services: 'services',
  challenges: 'challenges'
};

/** What a section keeps of its route's answer (datasets: the registered ones). */
const KEEP: Partial<Record<SectionName, (item: unknown) => boolean>> = {
  datasets: item => (item as IDataset).registered === true
};

/** The items of a route that answers an object (pretrained: `{"dir", "models"}`). */
const UNWRAP: Partial<Record<SectionName, (answer: unknown) => unknown[]>> = {
  pretrained: answer => {
    const models = (answer as { models?: unknown } | null)?.models;
    return Array.isArray(models) ? models : [];
  },
  alerts: answer => {
    const alerts = (answer as { alerts?: unknown } | null)?.alerts;
    return Array.isArray(alerts) ? alerts : [];
  },
  services: answer => {
    const services = (answer as { services?: unknown } | null)?.services;
    return Array.isArray(services) ? services : [];
  }
};

/** Job states in which a job still changes (the sidebar polls faster then). */
export const ACTIVE_STATES = ['queued', 'running'];

/**
 * The workspace as the sidebar sees it: polls the REST API while someone looks at it.
 *
 * Every section is fetched on its own, so a route the server lacks (404) only marks that
 * section "not available" and the others still show.
 */
export class AimassModel {
  constructor(options: AimassModel.IOptions = {}) {
    this._fastMs = options.fastMs ?? 1500;
    this._slowMs = options.slowMs ?? 5000;
    this._sections = {
      jobs: { status: 'loading', items: [] },
      studies: { status: 'loading', items: [] },
      models: { status: 'loading', items: [] },
      pretrained: { status: 'loading', items: [] },
      datasets: { status: 'loading', items: [] },
      deployments: { status: 'loading', items: [] },
      alerts: { status: 'loading', items: [] },
      services: { status: 'loading', items: [] },
      challenges: { status: 'loading', items: [] }
    };
  }

  /** Emitted after each refresh. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get sections(): ISections {
    return this._sections;
  }

  /** When the last refresh finished (null before the first). */
  get lastUpdated(): Date | null {
    return this._lastUpdated;
  }

  /** Whether the sidebar is shown: polling runs only then. */
  set active(value: boolean) {
    if (this._active === value) {
      return;
    }
    this._active = value;
    if (value) {
      void this.refresh();
    } else {
      this._clearTimer();
    }
  }

  get active(): boolean {
    return this._active;
  }

  /** Fetch every section now (a refresh already under way is joined, not doubled). */
  refresh(): Promise<void> {
    if (this._inFlight) {
      return this._inFlight;
    }
    this._clearTimer();
    this._inFlight = Promise.all(SECTIONS.map(name => this._fetch(name)))
      .then(() => {
        this._lastUpdated = new Date();
        this._changed.emit();
      })
      .finally(() => {
        this._inFlight = null;
        this._schedule();
      });
    return this._inFlight;
  }

  dispose(): void {
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private async _fetch(name: SectionName): Promise<void> {
    const previous = this._sections[name];
    try {
      const answer = await requestAPI<unknown>(ROUTES[name]);
      const keep = KEEP[name];
      const unwrap = UNWRAP[name];
      const items = unwrap
        ? unwrap(answer)
        : Array.isArray(answer)
          ? answer
          : [];
      this._sections = {
        ...this._sections,
        [name]: { status: 'ok', items: keep ? items.filter(keep) : items }
      };
    } catch (error) {
      const section: ISection<unknown> =
        error instanceof APIError && error.notAvailable
          ? { status: 'unavailable', items: [] }
          : {
              status: 'error',
              items: previous.items,
              error: error instanceof Error ? error.message : String(error)
            };
      this._sections = { ...this._sections, [name]: section };
    }
  }

  private _schedule(): void {
    if (this._disposed || !this._active) {
      return;
    }
    const busy = this._sections.jobs.items.some(job =>
      ACTIVE_STATES.includes(job.state)
    );
    const delay = busy && !document.hidden ? this._fastMs : this._slowMs;
    this._timer = window.setTimeout(() => void this.refresh(), delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _sections: ISections;
  private _changed = new Signal<this, void>(this);
  private _lastUpdated: Date | null = null;
  private _active = false;
  private _disposed = false;
  private _timer: number | null = null;
  private _inFlight: Promise<void> | null = null;
  private _fastMs: number;
  private _slowMs: number;
}

export namespace AimassModel {
  export interface IOptions {
    /** Poll interval while a job is queued or running (ms). */
    fastMs?: number;
    /** Poll interval otherwise (ms). */
    slowMs?: number;
  }
}
