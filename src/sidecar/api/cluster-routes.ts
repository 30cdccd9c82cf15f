/**
 * The cluster part of the API (Routes.clusters and below): parses and checks
 * request bodies and calls the ClusterManager. Its SidecarErrors become
 * answers in status.ts.
 */
import { performance } from 'perf_hooks';

import type {
  IForwardRequest,
  IKeySetupRequest,
  IPromptAnswer,
  IRunRequest,
  IRunResult
} from '../../common/api';
import { Routes } from '../../common/api';
import {
  checkClusters,
  describeRejected,
  IClusterConfig
} from '../../common/settings';
import type { ClusterManager } from '../clusters/manager';
import type { PromptBroker } from '../clusters/prompts';
import { SidecarError } from '../errors';
import {
  CLUSTER,
  created,
  del,
  FORWARD,
  get,
  IRoute,
  ok,
  post,
  PROMPT,
  put
} from './router';
import { BadRequest, jsonObject } from './validate';

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

function parseClusterSync(body: Record<string, unknown>): IClusterConfig[] {
  if (!Array.isArray(body.clusters)) {
    throw new BadRequest('clusters must be a list.');
  }
  const { clusters, rejected } = checkClusters(body.clusters);
  if (rejected.length > 0) {
    // All or nothing: a list applied in part would differ from the settings.
    throw new BadRequest(
      `The cluster list was not applied: ${describeRejected(rejected)}.`
    );
  }
  return clusters;
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

/** What JupyterLab's PUT of the cluster list set. */
export interface IClusterSync {
  clusters: IClusterConfig[];
  allocationGraceMinutes: number | null;
}

/** The cluster routes: the list, one cluster's actions, forwards, prompts. */
export function clusterRoutes(
  clusters: ClusterManager,
  prompts: PromptBroker,
  /** A list applied, with the settings' allocation grace period if sent. */
  onSync?: (sync: IClusterSync) => void
): IRoute[] {
  const optional = (body: Buffer) => jsonObject(body, { emptyIsObject: true });
  return [
    get(Routes.clusters, () => ok({ clusters: clusters.list() })),
    put(Routes.clusters, async ({ body }) => {
      const sync = optional(body);
      const grace = sync.allocationGraceMinutes;
      if (grace !== undefined) {
        if (
          typeof grace !== 'number' ||
          !Number.isFinite(grace) ||
          grace < 0 ||
          grace > 1440
        ) {
          throw new BadRequest(
            'allocationGraceMinutes must be a number of minutes from 0 to 1440.'
          );
        }
      }
      const list = parseClusterSync(sync);
      await clusters.setClusters(list);
      onSync?.({
        clusters: list,
        allocationGraceMinutes: (grace as number | undefined) ?? null
      });
      return ok({ clusters: clusters.list() });
    }),
    get(Routes.sshHosts, () => ok(clusters.sshHosts())),
    get(Routes.prompts, () => ok(prompts.pending())),
    get(Routes.forwards, () => ok(clusters.forwards())),
    get(Routes.cluster(CLUSTER), ({ params }) =>
      ok(clusters.status(params.cluster))
    ),
    post(Routes.connect(CLUSTER), async ({ params }) =>
      ok(await clusters.connect(params.cluster))
    ),
    post(Routes.disconnect(CLUSTER), ({ params }) =>
      ok(clusters.disconnect(params.cluster))
    ),
    post(Routes.test(CLUSTER), async ({ params }) =>
      ok(await clusters.test(params.cluster))
    ),
    post(Routes.run(CLUSTER), async ({ params, body }) => {
      const request = parseRunRequest(optional(body));
      const started = performance.now();
      const out = await clusters.run(
        params.cluster,
        {
          argv: request.argv,
          cwd: request.cwd,
          env: request.env,
          timeoutSeconds: request.timeoutSeconds
        },
        { maxOutputBytes: request.maxOutputBytes }
      );
      return ok(runResult(out, performance.now() - started));
    }),
    post(Routes.clusterForwards(CLUSTER), async ({ params, body }) =>
      created(
        await clusters.openForward(
          params.cluster,
          parseForwardRequest(optional(body))
        )
      )
    ),
    post(Routes.keySetup(CLUSTER), async ({ params, body }) =>
      ok(await clusters.setupKey(params.cluster, parseKeySetup(optional(body))))
    ),
    del(Routes.forward(FORWARD), async ({ params }) => {
      if (!(await clusters.closeForward(params.forward))) {
        throw new SidecarError(
          'not-found',
          `There is no forward ${params.forward}.`
        );
      }
      return ok({ closed: params.forward });
    }),
    post(Routes.prompt(PROMPT), ({ params, body }) => {
      if (!prompts.answer(params.prompt, parsePromptAnswer(optional(body)))) {
        throw new SidecarError(
          'not-found',
          'This question was already answered, cancelled or has expired.'
        );
      }
      return ok({ answered: params.prompt });
    })
  ];
}
