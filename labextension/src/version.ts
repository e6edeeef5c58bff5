import { Dialog, showDialog } from '@jupyterlab/apputils';

import { APIError, requestAPI } from './handler';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const PACKAGE = require('../package.json') as { version: string };

/** The version of this front end (package.json, the single source of the version). */
export const FRONTEND_VERSION: string = PACKAGE.version;

/** `0.1.0-dev.1` and `0.1.0.dev1` (npm and Python spellings) compare equal. */
export function normalizeVersion(version: string): string {
  const match = /^v?(\d+(?:\.\d+)*)(.*)$/.exec(version.trim().toLowerCase());
  if (!match) {
    return version.trim().toLowerCase();
  }
  const release = match[1].split('.').map(Number);
  while (release.length < 3) {
    release.push(0);
  }
  return release.join('.') + match[2].replace(/[-_.]/g, '');
}

export interface IVersionCheck {
  frontend: string;
  server: string | null;
  ok: boolean;
  /** Whether to tell the user (not for a passing network error). */
  notify: boolean;
  title: string;
  message: string;
}

/** Ask the server for its version and compare it with the front end's. */
export async function checkVersion(): Promise<IVersionCheck> {
  const frontend = FRONTEND_VERSION;
  let server: string | null = null;
  try {
    server = (await requestAPI<{ version: string }>('version')).version;
  } catch (error) {
    const missing = error instanceof APIError && error.status === 404;
    return {
      frontend,
      server,
      ok: false,
      notify: missing,
      title: 'AI Mass Lab: server extension not available',
      message: missing
        ? `The AI Mass Lab server extension is not running in this Jupyter server, so the sidebar has nothing to show. Install aimass-lab ${frontend} in the environment that runs JupyterLab ("jupyter server extension list" should show aimass_lab enabled) and restart JupyterLab.`
        : `The AI Mass Lab server extension did not answer: ${
            error instanceof Error ? error.message : String(error)
          }`
    };
  }
  const ok = normalizeVersion(server) === normalizeVersion(frontend);
  return {
    frontend,
    server,
    ok,
    notify: !ok,
    title: 'AI Mass Lab: version mismatch',
    message: ok
      ? ''
      : `This page runs the AI Mass Lab front end ${frontend}, but the Jupyter server runs AI Mass Lab ${server}. They must be the same version. Restart JupyterLab from the environment where aimass-lab is installed, then reload this page (a page opened before an upgrade keeps the old front end). If it persists, reinstall: pip install --force-reinstall "aimass-lab==${server}".`
  };
}

/** Check the versions once at start; show a dialog when they do not match. */
export async function versionCheckOnStart(): Promise<IVersionCheck> {
  const result = await checkVersion();
  if (!result.ok) {
    console.warn(`aimass-lab: ${result.message}`);
  }
  if (result.notify) {
    void showDialog({
      title: result.title,
      body: result.message,
      buttons: [Dialog.okButton({ label: 'OK' })]
    });
  }
  return result;
}
