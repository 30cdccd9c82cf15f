/**
 * The cluster part of the API (Routes.clusters and below): parses and checks
 * request bodies, calls the ClusterManager, and turns its SidecarErrors
 * into error answers with the same code and sentence.
 */
import type { IncomingMessage, ServerResponse } from 'http';
import { performance } from 'perf_hooks';

import type {
  ErrorCode,
  IForwardRequest,
  IKeySetupRequest,
  IPromptAnswer,
  IRunRequest,
  IRunResult
} from '../../common/api';
import { Routes } from '../../common/api';
import { readClusters } from '../../common/settings';
import type { ClusterManager } from '../clusters/manager';
import type { PromptBroker } from '../clusters/prompts';
import type { ILogger } from '../log';
import { SidecarError } from '../errors';
import { sendError, sendJson } from './respond';
import { BadRequest, jsonObject } from './validate';

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer
) => void | Promise<void>;

export type MethodTable = Partial<Record<string, Handler>>;

const STATUS: Partial<Record<ErrorCode, number>> = {
  'bad-request': 400,
  'not-found': 404,
  'unknown-cluster': 404,
  'ssh-config': 422,
  'auth-cancelled': 409,
  'command-too-long': 413,
  'command-timeout': 504,
  'connect-timeout': 504,
  disconnected: 409
};

/** The status for an error code: 502 for anything the cluster side did. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 502;
}

function stringArray(value: unknown, what: string, min = 0): string[] {
  if (
    !Array.isArray(value) ||
    value.length < min ||
    value.some(v => typeof v !== 'string')
  ) {
    throw new BadRequest(`${what} must be a list of strings.`);
  }
  return value as string[];
}

function port(value: unknown, what: string, allowZero: boolean): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < (allowZero ? 0 : 1) ||
    value > 65535
  ) {
    throw new BadRequest(`${what} must be a port number from 1 to 65535.`);
  }
  return value;
}

export function parseRunRequest(body: Record<string, unknown>): IRunRequest {
  const request: IRunRequest = {
    argv: stringArray(body.argv, 'argv', 1)
  };
  if (body.cwd !== undefined) {
    if (typeof body.cwd !== 'string') {
      throw new BadRequest('cwd must be a string.');
    }
    request.cwd = body.cwd;
  }
  if (body.env !== undefined) {
    if (typeof body.env !== 'object' || body.env === null) {
      throw new BadRequest('env must be an object of strings.');
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(body.env)) {
      if (typeof v !== 'string') {
        throw new BadRequest('env must be an object of strings.');
      }
      env[k] = v;
    }
    request.env = env;
  }
  for (const key of ['timeoutSeconds', 'maxOutputBytes'] as const) {
    const v = body[key];
    if (v !== undefined) {
      if (typeof v !== 'number' || !(v > 0)) {
        throw new BadRequest(`${key} must be a positive number.`);
      }
      request[key] = v;
    }
  }
  return request;
}

function parseForwardRequest(body: Record<string, unknown>): IForwardRequest {
  const host = body.remoteHost;
  if (typeof host !== 'string' || !/^[A-Za-z0-9_.:[\]-]{1,253}$/.test(host)) {
    throw new BadRequest('remoteHost must be a host name or an address.');
  }
  return {
    remoteHost: host,
    remotePort: port(body.remotePort, 'remotePort', false),
    localPort:
      body.localPort === undefined ? 0 : port(body.localPort, 'localPort', true)
  };
}

function parseKeySetup(body: Record<string, unknown>): IKeySetupRequest {
  const request: IKeySetupRequest = {};
  for (const key of ['keyPath', 'passphrase'] as const) {
    const v = body[key];
    if (v !== undefined) {
      if (typeof v !== 'string' || v.includes('\0') || v.includes('\n')) {
        throw new BadRequest(`${key} must be one line of text.`);
      }
      request[key] = v;
    }
  }
  return request;
}

function parsePromptAnswer(body: Record<string, unknown>): IPromptAnswer {
  if (body.cancel === true) {
    return { cancel: true };
  }
  return { answers: stringArray(body.answers, 'answers') };
}

function runResult(
  out: {
    exitCode: number | null;
    stdout: Buffer;
    stderr: Buffer;
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
  },
  durationMs: number
): IRunResult {
  return {
    exitCode: out.exitCode,
    stdout: out.stdout.toString('utf8'),
    stderr: out.stderr.toString('utf8'),
    stdoutTruncated: out.stdoutTruncated,
    stderrTruncated: out.stderrTruncated,
    durationMs: Math.round(durationMs * 100) / 100
  };
}

/** Answer a rejected action: our errors as they are, others as 500. */
export function sendFailure(
  res: ServerResponse,
  err: unknown,
  log: ILogger,
  what: string
): void {
  if (err instanceof SidecarError) {
    if (err.code !== 'bad-request') {
      log.info(`${what}: ${err.code}: ${err.message}`);
    }
    sendError(res, statusOf(err.code), err.code, err.message);
    return;
  }
  log.error(`${what} failed: ${(err as Error).message ?? String(err)}`);
  sendError(res, 500, 'internal', 'The sidecar failed to answer.');
}

/**
 * Handlers for the cluster routes: exact paths in `fixed`, and `match` for
 * the paths with a cluster name, forward id or prompt id in them.
 */
export function clusterRoutes(
  clusters: ClusterManager,
  prompts: PromptBroker
): {
  fixed: [string, MethodTable][];
  match: (path: string) => MethodTable | null;
} {
  const fixed: [string, MethodTable][] = [
    [
      Routes.clusters,
      {
        GET: (_req, res) => sendJson(res, 200, { clusters: clusters.list() }),
        PUT: async (_req, res, body) => {
          const value = jsonObject(body, { emptyIsObject: true }).clusters;
          if (!Array.isArray(value)) {
            throw new BadRequest('clusters must be a list.');
          }
          const accepted = readClusters(value);
          await clusters.setClusters(accepted);
          sendJson(res, 200, { clusters: clusters.list() });
        }
      }
    ],
    [
      Routes.sshHosts,
      { GET: (_req, res) => sendJson(res, 200, clusters.sshHosts()) }
    ],
    [
      Routes.prompts,
      { GET: (_req, res) => sendJson(res, 200, prompts.pending()) }
    ],
    [
      Routes.forwards,
      { GET: (_req, res) => sendJson(res, 200, clusters.forwards()) }
    ]
  ];

  const perCluster = (name: string, action: string): MethodTable | null => {
    switch (action) {
      case '':
        return {
          GET: (_req, res) => sendJson(res, 200, clusters.status(name))
        };
      case 'connect':
        return {
          POST: async (_req, res) =>
            sendJson(res, 200, await clusters.connect(name))
        };
      case 'disconnect':
        return {
          POST: (_req, res) => sendJson(res, 200, clusters.disconnect(name))
        };
      case 'test':
        return {
          POST: async (_req, res) =>
            sendJson(res, 200, await clusters.test(name))
        };
      case 'run':
        return {
          POST: async (_req, res, body) => {
            const request = parseRunRequest(
              jsonObject(body, { emptyIsObject: true })
            );
            const started = performance.now();
            const out = await clusters.run(
              name,
              {
                argv: request.argv,
                cwd: request.cwd,
                env: request.env,
                timeoutSeconds: request.timeoutSeconds
              },
              { maxOutputBytes: request.maxOutputBytes }
            );
            sendJson(res, 200, runResult(out, performance.now() - started));
          }
        };
      case 'forwards':
        return {
          POST: async (_req, res, body) =>
            sendJson(
              res,
              201,
              await clusters.openForward(
                name,
                parseForwardRequest(jsonObject(body, { emptyIsObject: true }))
              )
            )
        };
      case 'key-setup':
        return {
          POST: async (_req, res, body) =>
            sendJson(
              res,
              200,
              await clusters.setupKey(
                name,
                parseKeySetup(jsonObject(body, { emptyIsObject: true }))
              )
            )
        };
      default:
        return null;
    }
  };

  const match = (path: string): MethodTable | null => {
    const segments = path.split('/');
    // ['', 'api', 'v1', <collection>, <id>, <action>?]
    if (segments.length < 5 || segments.length > 6 || segments[4] === '') {
      return null;
    }
    let id: string;
    try {
      id = decodeURIComponent(segments[4]);
    } catch {
      return null;
    }
    const prefix = segments.slice(0, 4).join('/');
    const action = segments[5] ?? '';
    if (prefix === Routes.clusters) {
      return perCluster(id, action);
    }
    if (prefix === Routes.forwards && action === '') {
      return {
        DELETE: async (_req, res) => {
          if (!(await clusters.closeForward(id))) {
            throw new SidecarError('not-found', `There is no forward ${id}.`);
          }
          sendJson(res, 200, { closed: id });
        }
      };
    }
    if (prefix === Routes.prompts && action === '') {
      return {
        POST: (_req, res, body) => {
          if (
            !prompts.answer(
              id,
              parsePromptAnswer(jsonObject(body, { emptyIsObject: true }))
            )
          ) {
            throw new SidecarError(
              'not-found',
              'This question was already answered, cancelled or has expired.'
            );
          }
          sendJson(res, 200, { answered: id });
        }
      };
    }
    return null;
  };

  return { fixed, match };
}
