/** Small formatting helpers for the sidebar. */

/** `75` -> `1m 15s`, `3700` -> `1h 01m`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  }
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A metric value with about four significant digits. */
export function formatNumber(value: unknown): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(4);
}

/** A parameter count: `33032` -> `33K`, `4390000` -> `4.39M`, `1.3e9` -> `1.3B`. */
export function formatCount(value: number | null | undefined): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '';
  }
  for (const [unit, scale] of [
    ['B', 1e9],
    ['M', 1e6],
    ['K', 1e3]
  ] as const) {
    if (value >= scale) {
      return `${Number((value / scale).toPrecision(3))}${unit}`;
    }
  }
  return String(value);
}

/** A size in bytes: `132104` -> `132 KB`, `1.76e7` -> `17.6 MB`. */
export function formatBytes(value: number | null | undefined): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '';
  }
  for (const [unit, scale] of [
    ['GB', 1e9],
    ['MB', 1e6],
    ['KB', 1e3]
  ] as const) {
    if (value >= scale) {
      return `${Number((value / scale).toPrecision(3))} ${unit}`;
    }
  }
  return `${value} B`;
}

/** `params 4.39M · 17.6 MB` of a model (what is known of it). */
export function sizeSummary(
  parameters: number | null | undefined,
  sizeBytes: number | null | undefined
): string {
  const parts = [];
  if (typeof parameters === 'number') {
    parts.push(`${formatCount(parameters)} params`);
  }
  if (typeof sizeBytes === 'number') {
    parts.push(formatBytes(sizeBytes));
  }
  return parts.join(' · ');
}

/** `2026-05-01T10:00:00Z` -> the local time, or the date when not today. */
export function formatWhen(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return iso;
  }
  const now = new Date();
  return date.toDateString() === now.toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleDateString();
}

/** Up to `n` metrics of a model version, e.g. `val_acc 0.9733`. */
export function metricSummary(
  metrics: Record<string, unknown> | null | undefined,
  n = 2
): string {
  if (!metrics) {
    return '';
  }
  const keys = Object.keys(metrics)
    .filter(k => typeof metrics[k] === 'number')
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return keys
    .slice(0, n)
    .map(k => `${k} ${formatNumber(metrics[k])}`)
    .join(' · ');
}

function rank(key: string): number {
  if (key.startsWith('test_')) {
    return 0;
  }
  if (key.startsWith('val_')) {
    return 1;
  }
  return 2;
}
