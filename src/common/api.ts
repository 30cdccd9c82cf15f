/**
 * The contract between the JupyterLab frontend (src/lab) and the Node sidecar
 * (src/sidecar). Both sides import this module; nothing else crosses the line.
 *
 * The sidecar is reached at `<base_url>jupyterlab-hpc/` through
 * jupyter-server-proxy, which strips that prefix: the sidecar sees the paths
 * in `Routes` as they are written here.
 */

/** The jupyter-server-proxy server name, and so the URL prefix. */
export const SIDECAR_NAME = 'jupyterlab-hpc';

/**
 * Bumped on every incompatible change of the routes or bodies below. The
 * frontend refuses to talk to a sidecar of another API version and tells the
 * user how to fix the install.
 */
export const API_VERSION = 1;

/**
 * State-changing requests must carry this header (or a JSON content type):
 * jupyter-server-proxy enforces Jupyter's authentication but not its XSRF
 * check, and a cross-site form can set neither without a CORS preflight.
 */
export const REQUEST_HEADER = 'X-Jupyterlab-Hpc';

export namespace Routes {
  export const health = '/api/v1/health';
  export const events = '/api/v1/events';
}

/** GET /api/v1/health */
export interface IHealth {
  /** Always 'jupyterlab-hpc-sidecar'; tells our sidecar from anything else. */
  name: 'jupyterlab-hpc-sidecar';
  /** The package version the sidecar was built from. */
  version: string;
  apiVersion: number;
  /** Seconds since the sidecar process started. */
  uptimeSeconds: number;
  /** The Node.js version running the sidecar. */
  node: string;
  pid: number;
}

/** Every error body the sidecar sends; `code` is stable, `message` is for people. */
export interface IErrorBody {
  error: {
    code: ErrorCode;
    message: string;
  };
}

export type ErrorCode =
  | 'not-found'
  | 'method-not-allowed'
  | 'missing-request-header'
  | 'bad-request'
  | 'forbidden-origin'
  | 'payload-too-large'
  | 'internal';

/** Messages pushed on the event WebSocket, one JSON object per frame. */
export type SidecarEvent = IHelloEvent | IHeartbeatEvent;

/** The first message on every event connection. */
export interface IHelloEvent {
  type: 'hello';
  health: IHealth;
}

/** Sent periodically so both sides notice a dead connection. */
export interface IHeartbeatEvent {
  type: 'heartbeat';
  /** Milliseconds since the epoch, on the sidecar's clock. */
  time: number;
}

/** Narrow an unknown JSON value to a SidecarEvent, or null. */
export function parseEvent(data: unknown): SidecarEvent | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const type = (data as { type?: unknown }).type;
  if (type === 'hello' || type === 'heartbeat') {
    return data as SidecarEvent;
  }
  return null;
}

/** True if `body` looks like a health answer from our sidecar. */
export function isHealth(body: unknown): body is IHealth {
  if (typeof body !== 'object' || body === null) {
    return false;
  }
  const h = body as Partial<IHealth>;
  return (
    h.name === 'jupyterlab-hpc-sidecar' &&
    typeof h.version === 'string' &&
    typeof h.apiVersion === 'number'
  );
}
