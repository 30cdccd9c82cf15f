/**
 * The install-task part of the API: Routes.tasks, Routes.task(id),
 * Routes.installIpykernel(target) and Routes.installMiniforge(cluster).
 * Bodies are checked here; the work is in tasks/. Errors are answered here
 * with their own status (a refused install is the user's 409, not a 502).
 */
import type { ServerResponse } from 'http';

import type {
  ErrorCode,
  IInstallIpykernelRequest,
  IInstallMiniforgeRequest
} from '../../common/api';
import { LOCAL_TARGET, Routes } from '../../common/api';
import type { ILogger } from '../log';
import {
  IInstallOptions,
  startInstallIpykernel,
  startInstallMiniforge
} from '../tasks/installs';
import type { TaskManager } from '../tasks/manager';
import { SidecarError } from '../errors';
import { Handler, MethodTable, sendFailure } from './cluster-routes';
import { sendError, sendJson } from './respond';
import { BadRequest, jsonObject } from './validate';

const STATUS: Partial<Record<ErrorCode, number>> = {
  'task-not-found': 404,
  'env-not-found': 404,
  'conda-exists': 409,
  'installer-url': 400
};

export interface ITaskRoutesOptions extends IInstallOptions {
  tasks: TaskManager;
  log: ILogger;
}

/** One line of text: no NUL, no line break. */
function line(value: unknown, what: string, max = 4096): string {
  if (
    typeof value !== 'string' ||
    value.length > max ||
    /[\0\r\n]/.test(value)
  ) {
    throw new BadRequest(`${what} must be one line of text.`);
  }
  return value;
}

export function parseInstallIpykernel(
  body: Record<string, unknown>
): IInstallIpykernelRequest {
  const prefix = line(body.prefix, 'prefix');
  if (!prefix.startsWith('/')) {
    throw new BadRequest(
      'prefix must be the absolute path of an environment, as the environment list gives it.'
    );
  }
  return { prefix };
}

export function parseInstallMiniforge(
  body: Record<string, unknown>
): IInstallMiniforgeRequest {
  const request: IInstallMiniforgeRequest = {
    createJupyterlabEnv: false
  };
  if (body.createJupyterlabEnv !== undefined) {
    if (typeof body.createJupyterlabEnv !== 'boolean') {
      throw new BadRequest('createJupyterlabEnv must be true or false.');
    }
    request.createJupyterlabEnv = body.createJupyterlabEnv;
  }
  if (body.prefix !== undefined && body.prefix !== '') {
    request.prefix = line(body.prefix, 'prefix', 1024);
  }
  if (body.installerUrl !== undefined && body.installerUrl !== '') {
    if (typeof body.installerUrl !== 'string') {
      throw new SidecarError('installer-url', 'installerUrl must be text.');
    }
    request.installerUrl = body.installerUrl;
  }
  return request;
}

/** Answer a failure with this module's statuses, else cluster-routes' ones. */
function fail(
  res: ServerResponse,
  err: unknown,
  log: ILogger,
  what: string
): void {
  if (err instanceof SidecarError && STATUS[err.code] !== undefined) {
    log.info(`${what}: ${err.code}: ${err.message}`);
    sendError(res, STATUS[err.code]!, err.code, err.message);
    return;
  }
  sendFailure(res, err, log, what);
}

export function taskRoutes(options: ITaskRoutesOptions): {
  fixed: [string, MethodTable][];
  match: (path: string) => MethodTable | null;
} {
  const { tasks, log } = options;
  const guarded =
    (what: string, handler: Handler): Handler =>
    async (req, res, body) => {
      try {
        await handler(req, res, body);
      } catch (err) {
        fail(res, err, log, `${req.method} ${what}`);
      }
    };

  const fixed: [string, MethodTable][] = [
    [Routes.tasks, { GET: (_req, res) => sendJson(res, 200, tasks.list()) }]
  ];

  const installIpykernel = (target: string): MethodTable => ({
    POST: guarded(Routes.installIpykernel(target), async (_req, res, body) => {
      const request = parseInstallIpykernel(jsonObject(body));
      sendJson(res, 202, await startInstallIpykernel(options, target, request));
    })
  });

  const match = (path: string): MethodTable | null => {
    const segments = path.split('/');
    // ['', 'api', 'v1', <collection>, ...]
    const collection = segments.slice(0, 4).join('/');
    if (path === Routes.installIpykernel(LOCAL_TARGET)) {
      return installIpykernel(LOCAL_TARGET);
    }
    let id: string;
    try {
      id = decodeURIComponent(segments[4] ?? '');
    } catch {
      return null;
    }
    if (id === '') {
      return null;
    }
    const rest = segments.slice(5).join('/');
    if (collection === Routes.tasks && rest === '' && segments.length === 5) {
      return {
        GET: guarded(Routes.task(id), (_req, res) =>
          sendJson(res, 200, tasks.get(id))
        ),
        DELETE: guarded(Routes.task(id), async (_req, res) =>
          sendJson(res, 200, await tasks.cancel(id))
        )
      };
    }
    if (collection === Routes.clusters) {
      if (id === LOCAL_TARGET) {
        return null;
      }
      if (rest === 'miniforge') {
        return {
          POST: guarded(
            Routes.installMiniforge(id),
            async (_req, res, body) => {
              const request = parseInstallMiniforge(jsonObject(body));
              sendJson(
                res,
                202,
                await startInstallMiniforge(options, id, request)
              );
            }
          )
        };
      }
      if (rest === 'envs/install-ipykernel') {
        return installIpykernel(id);
      }
    }
    return null;
  };

  return { fixed, match };
}
