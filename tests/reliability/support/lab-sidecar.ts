/**
 * The sidecar of a real JupyterLab (tests/support/jupyter-lab.ts), reached
 * as the panel reaches it: through the server's proxy route with the lab's
 * token, and its event stream, which is opened again whenever it closes (a
 * killed sidecar drops it; the panel reconnects the same way). `onHello`
 * runs on every hello, as the panel sends its cluster settings to each new
 * sidecar (the sidecar keeps no copy of them).
 */
import WebSocket from 'ws';

import type { ISessionInfo, SidecarEvent } from '../../../src/common/api';
import type { IRunningLab } from '../../support/jupyter-lab';

export const SIDECAR_ROUTE = 'jupyterlab-hpc';

export interface IAnswer<T> {
  status: number;
  body: T;
}

export interface ILabSidecar {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  api<T = any>(
    method: string,
    path: string,
    body?: unknown
  ): Promise<IAnswer<T>>;
  /** A route of the sidecar (`/api/v1/…`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sidecar<T = any>(
    method: string,
    route: string,
    body?: unknown
  ): Promise<IAnswer<T>>;
  /** Every event received, with the time it arrived (performance.now()). */
  events: { at: number; event: SidecarEvent }[];
  /** The first event after index `from` that matches. */
  waitForEvent<T extends SidecarEvent>(
    match: (e: SidecarEvent) => e is T,
    timeoutMs?: number,
    from?: number
  ): Promise<{ at: number; event: T }>;
  close(): void;
}

export function labSidecar(
  lab: IRunningLab,
  onHello?: () => Promise<unknown>
): ILabSidecar {
  const headers = {
    Authorization: `token ${lab.token}`,
    'Content-Type': 'application/json'
  };
  const events: { at: number; event: SidecarEvent }[] = [];
  let closed = false;
  let socket: WebSocket | null = null;
  const open = () => {
    if (closed) {
      return;
    }
    const url =
      lab.url.replace(/^http/, 'ws') + `${SIDECAR_ROUTE}/api/v1/events`;
    const s = new WebSocket(url, {
      headers: { Authorization: headers.Authorization }
    });
    socket = s;
    s.on('message', data => {
      const event = JSON.parse(String(data)) as SidecarEvent;
      events.push({ at: performance.now(), event });
      if (event.type === 'hello' && onHello) {
        void onHello().catch(() => undefined);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (!closed) {
        setTimeout(open, 250).unref();
      }
    });
  };
  open();
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(lab.url + path.replace(/^\//, ''), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // POST /api/sessions waits for a cluster kernel to start.
      signal: AbortSignal.timeout(180_000)
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T };
  };
  return {
    api,
    sidecar: (method, route, body) =>
      api(method, `${SIDECAR_ROUTE}${route}`, body),
    events,
    waitForEvent: async <T extends SidecarEvent>(
      match: (e: SidecarEvent) => e is T,
      timeoutMs = 30_000,
      from = 0
    ) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.slice(from).find(e => match(e.event));
        if (found) {
          return found as { at: number; event: T };
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for an event (${timeoutMs} ms)`);
        }
        await new Promise(r => setTimeout(r, 100));
      }
    },
    close: () => {
      closed = true;
      socket?.close();
    }
  };
}

/** A `session` event of session `id` whose view passes `check`. */
export const sessionEvent =
  (id: string, check: (s: ISessionInfo) => boolean) =>
  (e: SidecarEvent): e is Extract<SidecarEvent, { type: 'session' }> =>
    e.type === 'session' && e.session.id === id && check(e.session);

/**
 * GET /api/status of the session's JupyterLab through its forward, with its
 * token (from the sidecar's open URL): the HTTP status, 0 when nothing
 * answers, or the sidecar's own status when it has no URL to give.
 */
export async function remoteLabStatus(
  s: ILabSidecar,
  id: string
): Promise<number> {
  const open = await s.sidecar<{ url: string }>(
    'GET',
    `/api/v1/sessions/${id}/open`
  );
  if (open.status !== 200) {
    return open.status;
  }
  const url = new URL(open.body.url);
  try {
    const r = await fetch(
      `${url.origin}${url.pathname.replace(/lab$/, '')}api/status`,
      {
        headers: { Authorization: `token ${url.searchParams.get('token')}` },
        signal: AbortSignal.timeout(2000)
      }
    );
    return r.status;
  } catch {
    return 0;
  }
}
