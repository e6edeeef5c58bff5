import * as React from 'react';

import { APIError, requestAPI } from './handler';

/** The chunk sent per request: what a failed request costs to send again. */
export const CHUNK_BYTES = 8 << 20;
/** Failed chunks in a row before giving up. */
const RETRIES = 5;

/** An upload session as the REST API answers it. */
export interface IUpload {
  id: string;
  offset: number;
  size: number;
  state: string;
  result?: { kind: string; ref?: string; name?: string } | null;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]);

/** An incremental SHA-256 (WebCrypto has none, and holding a large file whole is no option). */
export class Sha256 {
  private h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
    0x1f83d9ab, 0x5be0cd19
  ]);
  private w = new Uint32Array(64);
  private tail = new Uint8Array(64);
  private tailLength = 0;
  private length = 0;

  update(data: Uint8Array): void {
    this.length += data.length;
    let i = 0;
    if (this.tailLength > 0) {
      const take = Math.min(64 - this.tailLength, data.length);
      this.tail.set(data.subarray(0, take), this.tailLength);
      this.tailLength += take;
      i = take;
      if (this.tailLength < 64) {
        return;
      }
      this.block(this.tail, 0);
      this.tailLength = 0;
    }
    for (; i + 64 <= data.length; i += 64) {
      this.block(data, i);
    }
    this.tail.set(data.subarray(i), 0);
    this.tailLength = data.length - i;
  }

  hex(): string {
    const bits = this.length * 8;
    const pad = new Uint8Array(
      ((this.tailLength + 9 + 63) >> 6) * 64 - this.tailLength
    );
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    return Array.from(this.h, x => x.toString(16).padStart(8, '0')).join('');
  }

  private block(d: Uint8Array, at: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const j = at + t * 4;
      w[t] = (d[j] << 24) | (d[j + 1] << 16) | (d[j + 2] << 8) | d[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 =
        ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, b, c, d2, e, f, g, h] = this.h;
    for (let t = 0; t < 64; t++) {
      const S1 =
        ((e >>> 6) | (e << 26)) ^
        ((e >>> 11) | (e << 21)) ^
        ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 =
        ((a >>> 2) | (a << 30)) ^
        ((a >>> 13) | (a << 19)) ^
        ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d2 + t1) | 0;
      d2 = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    const H = this.h;
    H[0] += a;
    H[1] += b;
    H[2] += c;
    H[3] += d2;
    H[4] += e;
    H[5] += f;
    H[6] += g;
    H[7] += h;
  }
}

/** What a file becomes: a model archive is imported, a table registered as a dataset. */
export function uploadKind(filename: string): 'model' | 'dataset' | null {
  const name = filename.toLowerCase();
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) {
    return 'model';
  }
  if (/\.(csv|parquet|pq)$/.test(name)) {
    return 'dataset';
  }
  return null;
}

/** A dataset name from a file name: `sales 2024.csv` -> `sales-2024`. */
export function datasetName(filename: string): string {
  const stem = filename.replace(/\.(csv|parquet|pq)$/i, '');
  return (
    stem.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+/, '') || 'uploaded'
  );
}

async function sha256Of(
  file: Blob,
  onProgress: (done: number) => void
): Promise<string> {
  const hash = new Sha256();
  for (let at = 0; at < file.size; at += CHUNK_BYTES) {
    const piece = file.slice(at, Math.min(at + CHUNK_BYTES, file.size));
    hash.update(new Uint8Array(await piece.arrayBuffer()));
    onProgress(Math.min(at + CHUNK_BYTES, file.size));
  }
  return hash.hex();
}

/**
 * Upload a file in chunks through the uploads REST API, resuming from the server's offset
 * after a failed chunk, then finish (the server verifies the sha256 and registers it).
 */
export async function uploadFile(
  file: File,
  options: Record<string, string>,
  onProgress: (phase: string, done: number, total: number) => void
): Promise<IUpload> {
  const kind = uploadKind(file.name);
  if (kind === null) {
    throw new Error(
      `${file.name}: upload a model archive (*.tar.gz) or a CSV or Parquet file`
    );
  }
  const sha256 = await sha256Of(file, done =>
    onProgress('hashing', done, file.size)
  );
  let upload = await requestAPI<IUpload>('uploads', {
    method: 'POST',
    body: JSON.stringify({
      kind,
      filename: file.name,
      size: file.size,
      sha256,
      options
    })
  });
  let failures = 0;
  while (upload.offset < file.size) {
    const start = upload.offset;
    const end = Math.min(start + CHUNK_BYTES, file.size);
    onProgress('uploading', start, file.size);
    try {
      upload = await requestAPI<IUpload>(`uploads/${upload.id}`, {
        method: 'PUT',
        body: file.slice(start, end),
        headers: {
          'Content-Range': `bytes ${start}-${end - 1}/${file.size}`,
          'Content-Type': 'application/octet-stream'
        }
      });
      failures = 0;
    } catch (error) {
      const status = error instanceof APIError ? error.status : 0;
      failures += 1;
      if (
        failures > RETRIES ||
        ![0, 409, 500, 502, 503, 504].includes(status)
      ) {
        throw error;
      }
      upload = await requestAPI<IUpload>(`uploads/${upload.id}`); // resume from there
    }
  }
  onProgress('verifying', file.size, file.size);
  return requestAPI<IUpload>(`uploads/${upload.id}/finish`, {
    method: 'POST',
    body: '{}'
  });
}

/** What the page offers the notebook widgets (the Data panel's upload): ``window.aimassLab``. */
export interface IAimassLabGlobal {
  /** Bumped when ``uploadFile``'s signature changes. */
  version: number;
  uploadFile: typeof uploadFile;
}

/**
 * Offer {@link uploadFile} to the notebook widgets of this page (``window.aimassLab``): one
 * implementation of the resumable, incrementally hashed upload for the sidebar and the Data
 * panel.
 */
export function exposeUploads(): void {
  const global: IAimassLabGlobal = { version: 1, uploadFile };
  (window as unknown as { aimassLab?: IAimassLabGlobal }).aimassLab = global;
}

/** The sidebar's "Upload model/dataset" action: a file picker, a progress bar, the outcome. */
export function UploadAction(props: { onDone: () => void }): JSX.Element {
  const input = React.useRef<HTMLInputElement>(null);
  const [state, setState] = React.useState<{
    phase: string;
    done: number;
    total: number;
    message?: string;
  } | null>(null);

  const start = async (file: File): Promise<void> => {
    const options: Record<string, string> =
      uploadKind(file.name) === 'dataset'
        ? { name: datasetName(file.name) }
        : {};
    try {
      const up = await uploadFile(file, options, (phase, done, total) =>
        setState({ phase, done, total })
      );
      const what = up.result?.ref ?? up.result?.name ?? file.name;
      setState({
        phase: 'done',
        done: file.size,
        total: file.size,
        message: `registered ${what}`
      });
      props.onDone();
    } catch (error) {
      setState({
        phase: 'failed',
        done: 0,
        total: file.size,
        message: (error as Error).message
      });
    }
  };

  const busy = state !== null && !['done', 'failed'].includes(state.phase);
  return (
    <div className="jp-AimassUpload">
      <button
        className="jp-AimassUpload-button"
        disabled={busy}
        title="Upload a model archive (*.tar.gz) or a CSV/Parquet dataset, in resumable chunks"
        onClick={() => input.current?.click()}
      >
        Upload model/dataset
      </button>
      <input
        ref={input}
        type="file"
        hidden
        accept=".gz,.tgz,.csv,.parquet,.pq"
        aria-label="File to upload"
        onChange={event => {
          const file = event.target.files?.[0];
          event.target.value = '';
          if (file) {
            void start(file);
          }
        }}
      />
      {state !== null && (
        <div className="jp-AimassUpload-status" data-phase={state.phase}>
          <progress max={Math.max(state.total, 1)} value={state.done} />
          <span>
            {state.message ??
              `${state.phase} ${Math.floor((100 * state.done) / Math.max(state.total, 1))}%`}
          </span>
        </div>
      )}
    </div>
  );
}
