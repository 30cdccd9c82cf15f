import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  ErrorCode,
  IErrorBody,
  ILaunchProblem,
  REQUEST_HEADER,
  SIDECAR_NAME
} from '../../common/api';

/** Why a sidecar request failed; `code` drives what the UI says. */
export class SidecarRequestError extends Error {
  constructor(
    readonly code: ErrorCode | 'network' | 'not-installed' | 'not-running',
    message: string,
    readonly status: number | null = null,
    /** With `launch-invalid`: what is wrong with each field. */
    readonly problems: readonly ILaunchProblem[] = []
  ) {
    super(message);
  }
}

export function sidecarUrl(
  path: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  return URLExt.join(settings.baseUrl, SIDECAR_NAME, path);
}

export function sidecarWsUrl(
  path: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  let url = URLExt.join(settings.wsUrl, SIDECAR_NAME, path);
  if (settings.token && settings.appendToken) {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return url;
}

/**
 * The one way the frontend talks to the sidecar: Jupyter's own request
 * helper (token, cookie, XSRF) plus the header the sidecar requires on
 * state-changing requests.
 */
export async function requestSidecar<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set(REQUEST_HEADER, '1');
  if (init.body !== undefined && !headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      sidecarUrl(path, settings),
      { ...init, headers },
      settings
    );
  } catch (err) {
    throw new SidecarRequestError(
      'network',
      `The Jupyter server did not answer: ${(err as Error).message}`
    );
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.ok) {
    return body as T;
  }
  const sidecarError = (body as Partial<IErrorBody> | null)?.error;
  if (sidecarError && typeof sidecarError.code === 'string') {
    throw new SidecarRequestError(
      sidecarError.code,
      sidecarError.message,
      response.status,
      Array.isArray(sidecarError.problems) ? sidecarError.problems : []
    );
  }
  // Not the sidecar's own answer: the Jupyter server or the proxy spoke.
  if (response.status === 404) {
    throw new SidecarRequestError(
      'not-installed',
      'The Jupyter server has no jupyterlab-hpc sidecar route.',
      404
    );
  }
  throw new SidecarRequestError(
    'not-running',
    `The sidecar could not be reached (HTTP ${response.status}).`,
    response.status
  );
}
