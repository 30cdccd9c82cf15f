import { promises as fs } from 'fs';
import { IncomingHttpHeaders, request } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';

import WebSocket from 'ws';

import {
  API_VERSION,
  IErrorBody,
  IHealth,
  Routes
} from '../../../src/common/api';
import { PACKAGE_VERSION } from '../../../src/common/version';
import {
  createSidecarServer,
  ISidecarServer,
  ISidecarServerOptions
} from '../../../src/sidecar/api/server';
import { clusterRoutes } from '../../../src/sidecar/api/cluster-routes';
import { envRoutes } from '../../../src/sidecar/api/env-routes';
import { get, ok } from '../../../src/sidecar/api/router';
import { MAX_BODY_BYTES } from '../../../src/sidecar/api/respond';
import { ClusterManager } from '../../../src/sidecar/clusters/manager';
import { PromptBroker } from '../../../src/sidecar/clusters/prompts';
import type { EnvironmentService } from '../../../src/sidecar/conda/service';
import { createLogger } from '../../../src/sidecar/log';
import { SIDECAR_VERSION } from '../../../src/sidecar/version';

interface IReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

let dir: string;
let socketPath: string;
let server: ISidecarServer;
let logLines: string[];
/** Every WebSocket client a test opens, dropped after it even on failure. */
let clients: WebSocket[] = [];

async function start(
  options: Partial<ISidecarServerOptions> = {}
): Promise<void> {
  logLines = [];
  server = createSidecarServer({
    version: SIDECAR_VERSION,
    log: createLogger('debug', line => logLines.push(line)),
    ...options
  });
  await new Promise<void>((resolve, reject) => {
    server.http.once('error', reject);
    server.http.listen(socketPath, resolve);
  });
}

beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'hpc-server-'));
  socketPath = join(dir, 'sidecar.sock');
});

afterEach(async () => {
  clients.forEach(ws => ws.terminate());
  clients = [];
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string
): Promise<IReply> {
  return new Promise((resolve, reject) => {
    // An explicit length: Node sends the body of a DELETE or OPTIONS
    // without one, and the server would read it as the next request.
    const length =
      body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) };
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: { ...headers, ...length },
        agent: false
      },
      res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', chunk => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, text })
        );
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = <T>(reply: IReply): T => JSON.parse(reply.text) as T;
const errorCode = (reply: IReply) => json<IErrorBody>(reply).error.code;

const eventsUrl = () => `ws+unix://${socketPath}:/api/v1/events`;

/** A ws client that queues every message from the moment it is created. */
class Client {
  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    clients.push(this.ws);
    this.ws.on('message', data => {
      const message = JSON.parse(String(data));
      const waiter = this._waiters.shift();
      if (waiter) {
        waiter(message);
      } else {
        this._queue.push(message);
      }
    });
    this.closed = new Promise(resolve =>
      this.ws.on('close', (code, reason) =>
        resolve({ code, reason: String(reason) })
      )
    );
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
    });
  }

  next(): Promise<Record<string, unknown>> {
    const queued = this._queue.shift();
    if (queued) {
      return Promise.resolve(queued);
    }
    return new Promise(resolve => this._waiters.push(resolve));
  }

  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private _queue: Record<string, unknown>[] = [];
  private _waiters: ((m: Record<string, unknown>) => void)[] = [];
}

/** The status a refused WebSocket handshake got. */
function refusedStatus(
  url: string,
  options: WebSocket.ClientOptions = {}
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    clients.push(ws);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('the handshake was accepted')));
    ws.on('error', () => undefined);
  });
}

describe('the sidecar HTTP API', () => {
  beforeEach(() => start());

  it('answers GET / with 200 for the proxy readiness probe', async () => {
    const reply = await send('GET', '/');
    expect(reply.status).toBe(200);
    expect(json(reply)).toEqual({ ok: true });
  });

  it('answers GET /api/v1/health with who and what it is', async () => {
    const reply = await send('GET', '/api/v1/health');
    expect(reply.status).toBe(200);
    const health = json<IHealth>(reply);
    expect(health).toEqual({
      name: 'jupyterlab-hpc-sidecar',
      version: PACKAGE_VERSION,
      apiVersion: API_VERSION,
      uptimeSeconds: expect.any(Number),
      node: process.version,
      pid: process.pid
    });
  });

  it('sends JSON that is neither cached nor sniffed', async () => {
    const reply = await send('GET', '/api/v1/health');
    expect(reply.headers['content-type']).toBe(
      'application/json; charset=utf-8'
    );
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    expect(Number(reply.headers['content-length'])).toBe(
      Buffer.byteLength(reply.text)
    );
  });

  it('answers HEAD like GET but without a body', async () => {
    const get = await send('GET', '/api/v1/health');
    const head = await send('HEAD', '/api/v1/health');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it('ignores the query string when routing', async () => {
    const reply = await send('GET', '/api/v1/health?token=abc');
    expect(reply.status).toBe(200);
    expect(json<IHealth>(reply).name).toBe('jupyterlab-hpc-sidecar');
  });

  it('answers an unknown path with 404 not-found, naming the path only', async () => {
    const reply = await send('GET', '/api/v1/nope?token=SECRET');
    expect(reply.status).toBe(404);
    expect(json(reply)).toEqual({
      error: { code: 'not-found', message: 'No such endpoint: /api/v1/nope' }
    });
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])(
    'refuses %s without proof with 403 missing-request-header',
    async method => {
      const reply = await send(method, '/api/v1/health', {
        'Content-Type': 'text/plain'
      });
      expect(reply.status).toBe(403);
      expect(errorCode(reply)).toBe('missing-request-header');
      expect(json<IErrorBody>(reply).error.message).toBe(
        'State-changing requests need a JSON body or the X-Jupyterlab-Hpc header.'
      );
    }
  );

  it('asks for proof before saying whether a path exists', async () => {
    const reply = await send('POST', '/api/v1/nope');
    expect(reply.status).toBe(403);
    expect(errorCode(reply)).toBe('missing-request-header');
  });

  it.each([
    ['POST', { 'X-Jupyterlab-Hpc': '1' }],
    ['PUT', { 'Content-Type': 'application/json; charset=utf-8' }],
    ['DELETE', { 'X-Jupyterlab-Hpc': '1' }],
    ['OPTIONS', {}]
  ])(
    'answers %s with proof %j with 405 and an Allow header',
    async (method, headers) => {
      const reply = await send(method, '/api/v1/health', headers, '{}');
      expect(reply.status).toBe(405);
      expect(json(reply)).toEqual({
        error: {
          code: 'method-not-allowed',
          message: `${method} is not allowed on /api/v1/health`
        }
      });
      const allow = String(reply.headers.allow).split(/,\s*/);
      expect(allow).toContain('GET');
      expect(allow).not.toContain(method);
    }
  );

  it('refuses a body over the limit with 413 payload-too-large', async () => {
    const reply = await send(
      'POST',
      '/api/v1/health',
      // The client would keep the connection; the sidecar must not.
      { 'X-Jupyterlab-Hpc': '1', Connection: 'keep-alive' },
      'x'.repeat(MAX_BODY_BYTES + 1)
    );
    expect(reply.status).toBe(413);
    expect(reply.headers.connection).toBe('close');
    expect(json(reply)).toEqual({
      error: {
        code: 'payload-too-large',
        message: `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`
      }
    });
  });

  it('refuses a path over the HTTP parser limit with 431 in our error shape, and keeps serving', async () => {
    const reply = await send('GET', `/api/v1/sessions/${'x'.repeat(20_000)}`);
    expect(reply.status).toBe(431);
    expect(json(reply)).toEqual({
      error: {
        code: 'request-header-too-large',
        message:
          'The request path or headers are too long for the sidecar (at most 16 KiB).'
      }
    });
    expect((await send('GET', Routes.health)).status).toBe(200);
  });

  it('refuses a chunked body that grows over the limit with 413', async () => {
    const reply = await new Promise<IReply>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          method: 'POST',
          path: '/api/v1/health',
          headers: { 'X-Jupyterlab-Hpc': '1' },
          agent: false
        },
        res => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, text: '' })
          );
        }
      );
      req.on('error', reject);
      const chunk = 'x'.repeat(64 * 1024);
      for (let sent = 0; sent <= MAX_BODY_BYTES; sent += chunk.length) {
        req.write(chunk);
      }
      req.end();
    });
    expect(reply.status).toBe(413);
  });

  it('reads a large body of a request it refuses and still answers', async () => {
    const reply = await send(
      'POST',
      '/api/v1/health',
      { 'Content-Type': 'text/plain' },
      'x'.repeat(512 * 1024)
    );
    expect(reply.status).toBe(403);
    expect(errorCode(reply)).toBe('missing-request-header');
  });

  it('refuses a request from a foreign Origin with 403 forbidden-origin', async () => {
    const reply = await send('GET', '/api/v1/health', {
      Host: 'localhost:8888',
      Origin: 'http://evil.example'
    });
    expect(reply.status).toBe(403);
    expect(json(reply)).toEqual({
      error: {
        code: 'forbidden-origin',
        message: 'Requests from another origin are refused.'
      }
    });
  });

  it('refuses a foreign Origin even with the request header', async () => {
    const reply = await send('POST', '/api/v1/health', {
      Host: 'localhost:8888',
      Origin: 'http://evil.example',
      'X-Jupyterlab-Hpc': '1'
    });
    expect(reply.status).toBe(403);
    expect(errorCode(reply)).toBe('forbidden-origin');
  });

  it('serves a request from its own origin', async () => {
    const reply = await send('GET', '/api/v1/health', {
      Host: 'localhost:8888',
      Origin: 'http://localhost:8888'
    });
    expect(reply.status).toBe(200);
  });
});

describe('routes with names in the path', () => {
  /** An EnvironmentService that says what it was asked. */
  const envs = {
    list: async (target: string, refresh: boolean) => ({ target, refresh }),
    unregister: async (target: string, name: string) => ({ target, name })
  } as unknown as EnvironmentService;

  it('routes a path longer than the shortened one logs show', async () => {
    await start({ routes: envRoutes(envs) });
    const cluster = 'c'.repeat(64);
    const kernel = 'k'.repeat(128);
    const reply = await send('DELETE', Routes.kernel(cluster, kernel), {
      'X-Jupyterlab-Hpc': '1'
    });
    expect(reply.status).toBe(200);
    expect(json(reply)).toEqual({ kernel: { target: cluster, name: kernel } });
  });

  it('decodes names and reads the query string', async () => {
    await start({ routes: envRoutes(envs) });
    const reply = await send('GET', Routes.envs('my cluster') + '?refresh=1');
    expect(json(reply)).toEqual({ target: 'my cluster', refresh: true });
  });

  it.each(['a%2Fb', '%2e%2e', '%00'])(
    'refuses the cluster name %s with 400 bad-request',
    async name => {
      await start({ routes: envRoutes(envs) });
      const reply = await send('GET', `/api/v1/clusters/${name}/envs`);
      expect(reply.status).toBe(400);
      expect(errorCode(reply)).toBe('bad-request');
    }
  );
});

describe('PUT the cluster list', () => {
  const startWithClusters = async () => {
    const broadcast = () => undefined;
    const prompts = new PromptBroker(broadcast);
    const manager = new ClusterManager({ broadcast, prompts });
    await start({ routes: clusterRoutes(manager, prompts) });
  };
  const put = (clusters: unknown[]) =>
    send(
      'PUT',
      Routes.clusters,
      { 'Content-Type': 'application/json' },
      JSON.stringify({ clusters })
    );

  it('refuses a list with an entry the schema rejects, saying which and why', async () => {
    await startWithClusters();
    const reply = await put([
      { name: 'swc', host: 'hpc-gw1' },
      { name: 'bad name', host: 'hpc-gw1', port: 0 }
    ]);
    expect(reply.status).toBe(400);
    expect(json<IErrorBody>(reply).error).toEqual({
      code: 'bad-request',
      message:
        'The cluster list was not applied: entry 2 ("bad name"): ' +
        'name must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"; port must be >= 1.'
    });
    // Nothing of it applied, the valid entry neither.
    expect(json(await send('GET', Routes.clusters))).toEqual({ clusters: [] });
  });

  it('refuses an entry without a name instead of dropping it', async () => {
    await startWithClusters();
    const reply = await put([{ host: 'hpc-gw1' }]);
    expect(reply.status).toBe(400);
    expect(json<IErrorBody>(reply).error.message).toContain(
      'entry 1: name is required'
    );
  });

  it('passes the allocation grace period on, and refuses one out of range', async () => {
    const broadcast = () => undefined;
    const prompts = new PromptBroker(broadcast);
    const manager = new ClusterManager({ broadcast, prompts });
    const minutes: number[] = [];
    await start({
      routes: clusterRoutes(manager, prompts, sync => {
        if (sync.allocationGraceMinutes !== null) {
          minutes.push(sync.allocationGraceMinutes);
        }
      })
    });
    const body = (grace: unknown) =>
      send(
        'PUT',
        Routes.clusters,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ clusters: [], allocationGraceMinutes: grace })
      );
    expect((await body(2.5)).status).toBe(200);
    expect((await body(-1)).status).toBe(400);
    expect((await body('10')).status).toBe(400);
    expect((await put([])).status).toBe(200);
    expect(minutes).toEqual([2.5]);
  });

  it('applies a valid list', async () => {
    await startWithClusters();
    const reply = await put([{ name: 'swc', host: 'hpc-gw1', port: 2222 }]);
    expect(reply.status).toBe(200);
    expect(
      json<{ clusters: { name: string }[] }>(reply).clusters.map(c => c.name)
    ).toEqual(['swc']);
  });
});

describe('routes loaded on first use', () => {
  it('loads them on the first request the others do not answer, once', async () => {
    const loads: string[] = [];
    await start({
      moreRoutes: async () => {
        loads.push('load');
        return [get(Routes.tasks, () => ok(['a task']))];
      }
    });
    expect((await send('GET', '/api/v1/health')).status).toBe(200);
    expect(loads).toEqual([]);
    const [first, second] = await Promise.all([
      send('GET', Routes.tasks),
      send('GET', Routes.tasks)
    ]);
    expect(json(first)).toEqual(['a task']);
    expect(json(second)).toEqual(['a task']);
    expect((await send('GET', '/api/v1/nope')).status).toBe(404);
    expect(loads).toEqual(['load']);
  });

  it('answers 500 when loading fails and tries again on the next request', async () => {
    let attempts = 0;
    await start({
      moreRoutes: async () => {
        if (++attempts === 1) {
          throw new Error('Cannot find module ./services.js');
        }
        return [get(Routes.tasks, () => ok([]))];
      }
    });
    const failed = await send('GET', Routes.tasks);
    expect(failed.status).toBe(500);
    expect(errorCode(failed)).toBe('internal');
    expect((await send('GET', Routes.tasks)).status).toBe(200);
  });
});

describe('uptime', () => {
  it('counts whole seconds on the injected clock', async () => {
    let clock = 1_700_000_000_000;
    await start({ now: () => clock });
    clock += 90_400;
    expect(
      json<IHealth>(await send('GET', '/api/v1/health')).uptimeSeconds
    ).toBe(90);
    expect(server.health().uptimeSeconds).toBe(90);
  });
});

describe('logging', () => {
  beforeEach(() => start());

  it('logs a refused request with its path but not its query string', async () => {
    await send('GET', '/api/v1/health?token=SECRET', {
      Host: 'localhost:8888',
      Origin: 'http://evil.example'
    });
    expect(logLines).toEqual([
      '[jupyterlab-hpc sidecar] WARN refused GET /api/v1/health: foreign Origin'
    ]);
  });

  it('logs a refused WebSocket with its path but not its query string', async () => {
    const status = await refusedStatus(
      `ws+unix://${socketPath}:/api/v1/nope?token=SECRET`
    );
    expect(status).toBe(403);
    expect(logLines).toEqual([
      '[jupyterlab-hpc sidecar] WARN refused WebSocket on /api/v1/nope'
    ]);
  });

  it('never writes a token, cookie or authorization header to the log', async () => {
    const secrets = {
      Authorization: 'token SECRET',
      Cookie: '_xsrf=SECRET; username-localhost-8888=SECRET'
    };
    await send('GET', '/api/v1/health?token=SECRET', secrets);
    await send('GET', '/nope?token=SECRET#SECRET', secrets);
    await send('POST', '/api/v1/health?token=SECRET', secrets);
    await send('POST', '/api/v1/health?token=SECRET', {
      ...secrets,
      'X-Jupyterlab-Hpc': '1'
    });
    await send('GET', '/api/v1/health?token=SECRET', {
      ...secrets,
      Origin: 'http://SECRET.example'
    });
    await refusedStatus(`ws+unix://${socketPath}:/x?token=SECRET`, {
      headers: secrets
    });
    await refusedStatus(`ws+unix://${socketPath}:/api/v1/events?token=SECRET`, {
      headers: secrets,
      origin: 'http://SECRET.example'
    });

    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter(line => line.includes('SECRET'))).toEqual([]);
  });
});

describe('a request aborted mid-body', () => {
  it('is logged as an error, by its path only', async () => {
    let logged: (line: string) => void = () => undefined;
    const line = new Promise<string>(resolve => (logged = resolve));
    await start({ log: createLogger('debug', l => logged(l)) });

    const req = request({
      socketPath,
      method: 'POST',
      path: '/api/v1/health?token=SECRET',
      headers: { 'X-Jupyterlab-Hpc': '1', 'Content-Length': '1000' },
      agent: false
    });
    req.on('error', () => undefined);
    req.write('{"partial":', () => req.destroy());

    expect(await line).toMatch(
      /^\[jupyterlab-hpc sidecar\] ERROR POST \/api\/v1\/health failed: /
    );
  });
});

describe('the event WebSocket', () => {
  it('greets every connection with a hello carrying the health', async () => {
    await start();
    const client = new Client(eventsUrl());
    const hello = await client.next();
    expect(hello).toEqual({
      type: 'hello',
      health: {
        name: 'jupyterlab-hpc-sidecar',
        version: PACKAGE_VERSION,
        apiVersion: API_VERSION,
        uptimeSeconds: expect.any(Number),
        node: process.version,
        pid: process.pid
      }
    });
    expect(server.events.size).toBe(1);
    client.ws.close();
  });

  it('accepts a handshake from its own origin', async () => {
    await start();
    const client = new Client(eventsUrl(), {
      headers: { Host: 'localhost:8888' },
      origin: 'http://localhost:8888'
    });
    expect((await client.next()).type).toBe('hello');
    client.ws.close();
  });

  it('sends heartbeats at the configured interval', async () => {
    await start({ heartbeatMs: 20 });
    const before = Date.now();
    const client = new Client(eventsUrl());
    expect((await client.next()).type).toBe('hello');
    const beat = await client.next();
    expect(beat.type).toBe('heartbeat');
    expect(beat.time).toBeGreaterThanOrEqual(before);
    expect(beat.time).toBeLessThanOrEqual(Date.now());
    client.ws.close();
  });

  it('keeps a client that answers pings across heartbeats', async () => {
    // Wide enough for the pong to come back between two beats on a busy CI.
    await start({ heartbeatMs: 50 });
    const client = new Client(eventsUrl());
    expect((await client.next()).type).toBe('hello');
    for (let i = 0; i < 3; i++) {
      expect((await client.next()).type).toBe('heartbeat');
    }
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(server.events.size).toBe(1);
    client.ws.close();
  });

  it('drops a client that stops answering pings', async () => {
    await start({ heartbeatMs: 20 });
    const client = new Client(eventsUrl(), { autoPong: false });
    expect((await client.next()).type).toBe('hello');
    const { code } = await client.closed;
    // Terminated without a closing handshake.
    expect(code).toBe(1006);
    expect(server.events.size).toBe(0);
  });

  it('broadcasts an event to every client', async () => {
    await start();
    const a = new Client(eventsUrl());
    const b = new Client(eventsUrl());
    await Promise.all([a.next(), b.next()]);
    server.events.broadcast({ type: 'heartbeat', time: 42 });
    expect(await a.next()).toEqual({ type: 'heartbeat', time: 42 });
    expect(await b.next()).toEqual({ type: 'heartbeat', time: 42 });
    a.ws.close();
    b.ws.close();
  });

  it.each([
    ['another path', '/api/v1/health', {}],
    ['the root path', '/', {}],
    [
      'a foreign Origin',
      '/api/v1/events',
      { origin: 'http://evil.example', headers: { Host: 'localhost:8888' } }
    ],
    ['a malformed Origin', '/api/v1/events', { origin: 'null' }]
  ] as [string, string, WebSocket.ClientOptions][])(
    'refuses a handshake on %s with 403',
    async (_case, path, options) => {
      await start();
      expect(
        await refusedStatus(`ws+unix://${socketPath}:${path}`, options)
      ).toBe(403);
      expect(server.events.size).toBe(0);
    }
  );

  it('close() says goodbye to every client and stops listening', async () => {
    await start();
    const client = new Client(eventsUrl());
    await client.next();

    await server.close();

    expect(await client.closed).toEqual({
      code: 1001,
      reason: 'sidecar shutting down'
    });
    expect(server.http.listening).toBe(false);
    expect(server.events.size).toBe(0);
    await expect(send('GET', '/')).rejects.toMatchObject({
      code: expect.stringMatching(/^(ENOENT|ECONNREFUSED)$/)
    });
  });
});
