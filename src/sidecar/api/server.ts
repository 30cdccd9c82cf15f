import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import type { Duplex } from 'stream';

import type { WebSocket, WebSocketServer } from 'ws';

import {
  API_VERSION,
  IErrorBody,
  IHealth,
  REQUEST_HEADER,
  Routes
} from '../../common/api';
import { ILogger, safePath } from '../log';
import { EventHub } from './events';
import { BodyTooLargeError, readBody } from './body';
import { hasRequestProof, originAllowed } from './guards';
import { MAX_BODY_BYTES, sendError, sendJson } from './respond';
import { get, IRoute, ok, RouteTable } from './router';
import { sendFailure } from './status';

export interface ISidecarServerOptions {
  version: string;
  log: ILogger;
  /** Routes beside health (cluster-routes.ts, env-routes.ts, ...). */
  routes?: IRoute[];
  /**
   * Routes made on the first request the others do not answer (main.ts:
   * everything behind the clusters, environments and tasks, loaded then).
   */
  moreRoutes?: () => Promise<IRoute[]>;
  /**
   * Who takes kernel lease sockets (Routes.kernelLease): made on the first
   * one (main.ts: the services' KernelLeases). Without it they are refused.
   */
  kernelLeases?: () => Promise<{ accept(ws: WebSocket): void }>;
  /** Milliseconds between heartbeats on the event channel. */
  heartbeatMs?: number;
  /** Clock for uptime; injectable for tests. */
  now?: () => number;
}

export interface ISidecarServer {
  http: Server;
  events: EventHub;
  health(): IHealth;
  /** Close every WebSocket and stop accepting requests. */
  close(): Promise<void>;
}

/**
 * The sidecar's HTTP + WebSocket API. Listening is the caller's business
 * (main.ts binds it to a unix socket); this module only answers.
 */
export function createSidecarServer(
  options: ISidecarServerOptions
): ISidecarServer {
  const now = options.now ?? Date.now;
  const started = now();
  const events = new EventHub(options.heartbeatMs);
  // ws (and the crypto it loads) is only needed once a tab subscribes to
  // events: loading it then keeps it off the cold start, which the first
  // page load of JupyterLab waits for.
  let wss: Promise<WebSocketServer> | null = null;
  const webSockets = () =>
    (wss ??= import('ws').then(
      ({ WebSocketServer }) =>
        new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
    ));

  const health = (): IHealth => ({
    name: 'jupyterlab-hpc-sidecar',
    version: options.version,
    apiVersion: API_VERSION,
    uptimeSeconds: Math.round((now() - started) / 1000),
    node: process.version,
    pid: process.pid
  });

  const routes: IRoute[] = [
    // jupyter-server-proxy probes `GET /` until it answers: keep it cheap.
    get('/', () => ok({ ok: true })),
    get(Routes.health, () => ok(health())),
    ...(options.routes ?? [])
  ];
  let table = new RouteTable(routes);
  let loading: Promise<void> | null = null;
  const loadMoreRoutes = (more: () => Promise<IRoute[]>) =>
    (loading ??= more().then(
      extra => {
        table = new RouteTable([...routes, ...extra]);
      },
      err => {
        loading = null; // the next request tries again
        throw err;
      }
    ));

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer
  ): Promise<void> => {
    // Routed on the whole path as sent (WHATWG URL would resolve `..` and
    // `%2e%2e` into another route); logs and messages get a shortened one.
    const url = splitUrl(req.url);
    const path = safePath(req.url);
    const method = (req.method ?? 'GET').toUpperCase();
    if (!originAllowed(req.headers)) {
      options.log.warn(`refused ${method} ${path}: foreign Origin`);
      sendError(
        res,
        403,
        'forbidden-origin',
        'Requests from another origin are refused.'
      );
      return;
    }
    if (!hasRequestProof(method, req.headers)) {
      sendError(
        res,
        403,
        'missing-request-header',
        `State-changing requests need a JSON body or the ${REQUEST_HEADER} header.`
      );
      return;
    }
    try {
      let match = table.match(method, url.path);
      if (match.kind === 'not-found' && options.moreRoutes) {
        await loadMoreRoutes(options.moreRoutes);
        match = table.match(method, url.path);
      }
      if (match.kind === 'not-found') {
        sendError(res, 404, 'not-found', `No such endpoint: ${path}`);
        return;
      }
      if (match.kind === 'method-not-allowed') {
        res.setHeader('Allow', match.allowed.join(', '));
        sendError(
          res,
          405,
          'method-not-allowed',
          `${method} is not allowed on ${path}`
        );
        return;
      }
      const reply = await match.handler({
        req,
        body,
        params: match.params,
        query: new URLSearchParams(url.query)
      });
      sendJson(res, reply.status, reply.body);
    } catch (err) {
      sendFailure(res, err, options.log, `${method} ${path}`);
    }
  };

  const http = createServer((req, res) => {
    const what = `${req.method} ${safePath(req.url)}`;
    readBody(req, MAX_BODY_BYTES)
      .then(body => handle(req, res, body))
      .catch(err => {
        if (err instanceof BodyTooLargeError) {
          res.setHeader('Connection', 'close');
          sendError(
            res,
            413,
            'payload-too-large',
            `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`
          );
          return;
        }
        options.log.error(`${what} failed: ${describe(err)}`);
        if (!res.headersSent) {
          sendError(res, 500, 'internal', 'The sidecar failed to answer.');
        } else {
          res.destroy();
        }
      });
  });

  // Node answers a request whose line or headers overflow its parser with a
  // bare 431 (or 400) and no body; ours says what was wrong, in our shape.
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: tooLarge
        ? {
            code: 'request-header-too-large',
            message:
              'The request path or headers are too long for the sidecar (at most 16 KiB).'
          }
        : { code: 'bad-request', message: 'The request is not valid HTTP.' }
    } satisfies IErrorBody);
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body
    );
  });

  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  };

  /**
   * A kernel's lease comes only from the provisioner inside the Jupyter
   * server, over the unix socket: a browser always sends Origin (even to
   * its own origin), so any Origin is refused, and our header is required.
   */
  const upgradeLease = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const leases = options.kernelLeases;
    if (
      req.headers.origin !== undefined ||
      req.headers[REQUEST_HEADER.toLowerCase()] === undefined
    ) {
      options.log.warn(
        `refused WebSocket on ${Routes.kernelLease}: ${
          req.headers.origin !== undefined
            ? 'sent from a browser (Origin)'
            : `no ${REQUEST_HEADER} header`
        }`
      );
      refuse(socket, '403 Forbidden');
      return;
    }
    if (!leases) {
      refuse(socket, '404 Not Found');
      return;
    }
    Promise.all([webSockets(), leases()]).then(
      ([server, handler]) =>
        server.handleUpgrade(req, socket, head, ws => handler.accept(ws)),
      err => {
        options.log.error(`kernel leases failed to load: ${describe(err)}`);
        socket.destroy();
      }
    );
  };

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = safePath(req.url);
    if (path === Routes.kernelLease) {
      upgradeLease(req, socket, head);
      return;
    }
    if (path !== Routes.events || !originAllowed(req.headers)) {
      options.log.warn(`refused WebSocket on ${path}`);
      refuse(socket, '403 Forbidden');
      return;
    }
    webSockets().then(
      server =>
        server.handleUpgrade(req, socket, head, ws => {
          events.add(ws, { type: 'hello', health: health() });
        }),
      err => {
        options.log.error(`WebSocket support failed to load: ${describe(err)}`);
        socket.destroy();
      }
    );
  });

  return {
    http,
    events,
    health,
    close: () =>
      new Promise<void>(resolve => {
        events.close();
        void wss?.then(server => server.close());
        http.close(() => resolve());
        http.closeAllConnections();
      })
  };
}

function splitUrl(url = '/'): { path: string; query: string } {
  const query = url.indexOf('?');
  const path = url.slice(0, query === -1 ? undefined : query);
  const hash = path.indexOf('#');
  return {
    path: hash === -1 ? path : path.slice(0, hash),
    query: query === -1 ? '' : url.slice(query + 1).split('#')[0]
  };
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
