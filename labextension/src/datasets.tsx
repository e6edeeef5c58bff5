import * as React from 'react';

import { formatNumber, formatWhen } from './format';
import { requestAPI } from './handler';
import { IDataset, ISamplePage, ISampleRow } from './model';

/** Rows per page of samples. */
export const PAGE_SIZE = 12;
const PARTS = ['train', 'val', 'test'];
/** Table columns shown of a table's rows (the rest are counted). */
const MAX_COLUMNS = 6;

/** A registered dataset; Samples opens a page of its samples (read on the server, one page). */
export function DatasetRow(props: { dataset: IDataset }): JSX.Element {
  const { dataset } = props;
  const [open, setOpen] = React.useState(false);
  return (
    <li className="jp-AimassItem jp-AimassDataset" data-dataset={dataset.name}>
      <div className="jp-AimassItem-line">
        <span
          className="jp-AimassItem-name"
          title={dataset.description ?? dataset.name}
        >
          {dataset.name}
        </span>
        <span className="jp-AimassItem-kind">
          {[dataset.source, dataset.task].filter(s => s).join(' · ')}
        </span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span>{formatWhen(dataset.created_at)}</span>
        <span className="jp-AimassItem-actions">
          <button
            className="jp-AimassButton"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            {open ? 'Hide samples' : 'Samples'}
          </button>
        </span>
      </div>
      {open && <SamplesView name={dataset.name} />}
    </li>
  );
}

/** A page of a dataset's samples with its part and previous/next paging. */
export function SamplesView(props: { name: string }): JSX.Element {
  const { name } = props;
  const [part, setPart] = React.useState('train');
  const [start, setStart] = React.useState(0);
  const [page, setPage] = React.useState<ISamplePage | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);

  React.useEffect(() => {
    let current = true;
    setLoading(true);
    const query = `part=${part}&start=${start}&limit=${PAGE_SIZE}`;
    requestAPI<ISamplePage>(
      `datasets/${encodeURIComponent(name)}/samples?${query}`
    )
      .then(answer => {
        if (current) {
          setPage(answer);
          setError(null);
        }
      })
      .catch(reason => {
        if (current) {
          setPage(null);
          setError(reason instanceof Error ? reason.message : String(reason));
        }
      })
      .finally(() => {
        if (current) {
          setLoading(false);
        }
      });
    return () => {
      current = false;
    };
  }, [name, part, start]);

  const total = page?.total ?? 0;
  const shown = page?.rows.length ?? 0;
  return (
    <div
      className="jp-AimassSamples"
      data-loading={loading ? 'true' : undefined}
      data-kind={page?.kind}
    >
      <div className="jp-AimassSamples-bar">
        <select
          className="jp-AimassSamples-part"
          aria-label="part"
          value={part}
          onChange={event => {
            setPart(event.target.value);
            setStart(0);
          }}
        >
          {PARTS.map(p => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <button
          className="jp-AimassButton"
          disabled={loading || start === 0}
          onClick={() => setStart(Math.max(0, start - PAGE_SIZE))}
        >
          Previous
        </button>
        <button
          className="jp-AimassButton"
          disabled={loading || page === null || start + PAGE_SIZE >= total}
          onClick={() => setStart(start + PAGE_SIZE)}
        >
          Next
        </button>
        <span className="jp-AimassSamples-where">
          {page === null
            ? ''
            : shown > 0
              ? `rows ${start + 1} to ${start + shown} of ${formatNumber(total)}`
              : 'no rows'}
        </span>
      </div>
      {error !== null && <p className="jp-AimassSection-error">{error}</p>}
      {page !== null && page.kind === 'image' && (
        <Thumbnails rows={page.rows} />
      )}
      {page !== null && page.kind !== 'image' && <Rows rows={page.rows} />}
    </div>
  );
}

function label(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

function Thumbnails(props: { rows: ISampleRow[] }): JSX.Element {
  return (
    <div className="jp-AimassThumbs">
      {props.rows.map(row => (
        <figure
          key={row.index}
          className="jp-AimassThumb"
          title={`#${row.index}${row.path ? ` ${row.path}` : ''}: ${row.error ?? label(row.label)}`}
          data-error={row.error ? 'true' : undefined}
        >
          {row.error ? (
            <span className="jp-AimassThumb-error" aria-label={row.error}>
              ⚠
            </span>
          ) : (
            <img src={row.thumbnail} alt={label(row.label)} />
          )}
          <figcaption>{label(row.label)}</figcaption>
        </figure>
      ))}
    </div>
  );
}

function Rows(props: { rows: ISampleRow[] }): JSX.Element {
  const columns: string[] = [];
  for (const row of props.rows) {
    for (const key of Object.keys(row.values ?? {})) {
      if (!columns.includes(key)) {
        columns.push(key);
      }
    }
  }
  const shown = columns.slice(0, MAX_COLUMNS);
  const text = props.rows.some(row => row.text !== undefined);
  return (
    <div className="jp-AimassSampleRows">
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>label</th>
            {text && <th>text</th>}
            {shown.map(c => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map(row => (
            <tr key={row.index}>
              <td>{row.index}</td>
              <td>{label(row.label)}</td>
              {text && <td title={row.text}>{row.text ?? ''}</td>}
              {shown.map(c => (
                <td key={c}>{cell(row.values?.[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {columns.length > shown.length && (
        <p className="jp-AimassSection-note">
          {columns.length - shown.length} more column(s)
        </p>
      )}
    </div>
  );
}

function cell(value: unknown): string {
  return typeof value === 'number' ? formatNumber(value) : label(value);
}
