import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Where the server extension's REST API lives, below the server's base URL. */
export const API_NAMESPACE = 'aimass-lab/api/v1';

/** A field message of a rejected request body (the specs' validation errors). */
export interface IFieldError {
  field?: string;
  value?: unknown;
  message?: string;
}

/** An error answer of the REST API: its status and the server's message. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown
  ) {
    super(message);
    this.name = 'APIError';
  }

  /** The route is not there: an older server, or a stage this server lacks. */
  get notAvailable(): boolean {
    return this.status === 404 && !hasErrorField(this.body);
  }
}

function hasErrorField(body: unknown): body is { error: string } {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { error?: unknown }).error === 'string'
  );
}

/** The server's message, with the field messages of a spec that failed validation. */
export function errorMessage(body: unknown, fallback: string): string {
  if (!hasErrorField(body)) {
    return fallback;
  }
  const fields = (body as { errors?: IFieldError[] }).errors ?? [];
  const details = fields
    .map(e => (e.field ? `${e.field}: ${e.message ?? ''}` : (e.message ?? '')))
    .filter(line => line.length > 0)
    // a spec's message often lists its fields already: say each once
    .filter(line => !body.error.includes(line.replace(/^[^:]*: /, '')));
  return details.length > 0
    ? `${body.error}\n${details.join('\n')}`
    : body.error;
}

/**
 * Call the AI Mass Lab REST API.
 *
 * The URL is built from the server settings' base URL (JupyterHub, Binder), and the request
 * goes through `ServerConnection.makeRequest`, which adds the credentials and the XSRF token.
 *
 * @param endPoint - the path below `{baseUrl}aimass-lab/api/v1/` (with its query)
 * @param init - the fetch options (method, body)
 * @returns the decoded JSON answer
 * @throws APIError for an error status (404 of a missing route: `notAvailable`)
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  if (init.body !== undefined && init.headers === undefined) {
    init = { ...init, headers: { 'Content-Type': 'application/json' } };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  if (!response.ok) {
    throw new APIError(
      response.status,
      errorMessage(data, `${response.status} ${response.statusText}`.trim()),
      data
    );
  }
  return data as T;
}
