import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';
import { DataConnector, StateDB } from '@jupyterlab/statedb';
import { signalToPromise } from '@jupyterlab/testing';
import { ISignal } from '@lumino/signaling';

import schema from '../../../schema/plugin.json';
import { API_VERSION, IHealth, SidecarEvent } from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';

/** A health answer from a sidecar of this very release. */
export const health: IHealth = {
  name: 'jupyterlab-hpc-sidecar',
  version: PACKAGE_VERSION,
  apiVersion: API_VERSION,
  uptimeSeconds: 5,
  node: 'v20.11.1',
  pid: 4242
};

export const PLUGIN_ID = 'jupyterlab-hpc:plugin';

/**
 * The settings server, in memory: serves the real schema and keeps the raw
 * user settings in a StateDB, as the Jupyter server keeps them in a file.
 */
export class SettingsConnector extends DataConnector<
  ISettingRegistry.IPlugin,
  string
> {
  readonly files = new StateDB();

  async fetch(id: string): Promise<ISettingRegistry.IPlugin | undefined> {
    if (id !== PLUGIN_ID) {
      return undefined;
    }
    const raw = (await this.files.fetch(id)) as string | undefined;
    return {
      id,
      schema: schema as unknown as ISettingRegistry.ISchema,
      raw: raw ?? '{}',
      data: { composite: {}, user: {} },
      version: '0.1.0'
    };
  }

  async save(id: string, raw: string): Promise<void> {
    await this.files.save(id, raw);
  }
}

/** A real SettingRegistry over an in-memory settings server. */
export async function settingsWith(
  user: object = {}
): Promise<{ registry: SettingRegistry; connector: SettingsConnector }> {
  const connector = new SettingsConnector();
  await connector.files.save(PLUGIN_ID, JSON.stringify(user));
  return { registry: new SettingRegistry({ connector }), connector };
}

/**
 * A browser WebSocket as far as the sidecar model uses it; the test opens,
 * feeds and drops it by hand.
 */
export class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  readyState = FakeSocket.CONNECTING;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;

  close(): void {
    this.readyState = FakeSocket.CLOSED;
  }

  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.(new Event('open'));
  }

  send(event: SidecarEvent | object): void {
    this.onmessage?.(
      new MessageEvent('message', { data: JSON.stringify(event) })
    );
  }

  drop(): void {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.(new CloseEvent('close', { code: 1006 }));
  }
}

export interface ISentRequest {
  method: string;
  /** The sidecar path, e.g. /api/v1/clusters. */
  path: string;
  /** The query string, e.g. `?refresh=1`, or ''. */
  search: string;
  body: unknown;
}

type Reply = (body: unknown) => unknown | Response | Promise<unknown>;

export const json = (status: number, body: unknown): Response =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

/** The error body the sidecar sends, with its HTTP status. */
export const sidecarError = (
  status: number,
  code: string,
  message: string
): Response => json(status, { error: { code, message } });

/**
 * The sidecar at the network boundary: the `fetch` of the server settings
 * answers by route, and records every request. Routes answer 404 (our
 * error shape) unless a test sets them with `on`.
 */
export class FakeSidecar {
  constructor() {
    FakeSocket.all = [];
    this.on('GET', '/api/v1/health', () => health);
  }

  readonly requests: ISentRequest[] = [];

  readonly fetch = jest.fn(async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/jupyterlab-hpc/, '');
    const text = await request.text();
    const body = text ? JSON.parse(text) : undefined;
    this.requests.push({
      method: request.method,
      path,
      // Without the cache buster JupyterLab appends to GET requests.
      search: url.search.replace(/[?&]\d+$/, ''),
      body
    });
    const reply = this._routes.get(`${request.method} ${path}`);
    if (!reply) {
      return sidecarError(404, 'not-found', `No such endpoint: ${path}`);
    }
    const answer = await reply(body);
    return answer instanceof Response ? answer : json(200, answer ?? null);
  });

  readonly serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/',
    wsUrl: 'ws://localhost:8888/',
    token: '',
    appendToken: false,
    fetch: this.fetch as unknown as typeof fetch,
    WebSocket: FakeSocket as unknown as typeof WebSocket
  });

  on(method: string, path: string, reply: Reply): void {
    this._routes.set(`${method} ${path}`, reply);
  }

  /** Requests other than health checks, as `METHOD path`. */
  calls(): string[] {
    return this.requests
      .filter(r => r.path !== '/api/v1/health')
      .map(r => `${r.method} ${r.path}`);
  }

  /** The event socket the frontend opened last. */
  get socket(): FakeSocket {
    const socket = FakeSocket.all[FakeSocket.all.length - 1];
    if (!socket) {
      throw new Error('no event socket was opened');
    }
    return socket;
  }

  private _routes = new Map<string, Reply>();
}

/** Resolve once `probe` returns something truthy; fail after `timeout` ms. */
export async function until<T>(
  probe: () => T | null | undefined | false,
  timeout = 3000
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = probe();
    if (found) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${probe.toString()}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

/**
 * Resolve once `probe` returns something truthy, looking again each time
 * `signal` fires instead of polling; fail after `timeout` ms.
 */
export async function whenSignalled<T, U, R>(
  signal: ISignal<T, U>,
  probe: () => R | null | undefined | false,
  timeout = 3000
): Promise<R> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = probe();
    if (found) {
      return found;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${probe.toString()}`)),
        Math.max(0, deadline - Date.now())
      );
    });
    try {
      await Promise.race([signalToPromise(signal), expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
