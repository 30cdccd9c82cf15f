/**
 * The environment and kernel part of the API: Routes.envs, Routes.kernels
 * and Routes.kernel, for LOCAL_TARGET (`/api/v1/local/...`) and for each
 * cluster (`/api/v1/clusters/<name>/...`). Checks request bodies, calls the
 * EnvironmentService and answers its errors with their code and sentence.
 */
import type { IncomingMessage, ServerResponse } from 'http';

import type {
  ErrorCode,
  IRegisterKernelRequest,
  IRegisterKernelResult,
  IUnregisterKernelResult
} from '../../common/api';
import { LOCAL_TARGET, Routes } from '../../common/api';
import type { EnvironmentService } from '../conda/service';
import { KERNEL_NAME } from '../conda/kernelspec';
import type { ILogger } from '../log';
import { SidecarError } from '../errors';
import { MethodTable, sendFailure } from './cluster-routes';
import { sendError, sendJson } from './respond';
import { BadRequest, jsonObject } from './validate';

const STATUS: Partial<Record<ErrorCode, number>> = {
  'env-not-found': 404,
  'kernel-not-found': 404,
  'kernel-not-managed': 403,
  'ipykernel-missing': 409,
  'kernel-exists': 409,
  'kernels-dir-unknown': 409,
  'kernel-write-failed': 502,
  'env-scan-failed': 502
};

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Check a POST Routes.kernels body. */
export function parseRegisterRequest(
  body: Record<string, unknown>
): IRegisterKernelRequest {
  const { prefix, kernelName, displayName } = body;
  if (
    typeof prefix !== 'string' ||
    !prefix.startsWith('/') ||
    prefix.includes('\0')
  ) {
    throw new BadRequest('prefix must be the absolute path of an environment.');
  }
  const request: IRegisterKernelRequest = { prefix };
  if (kernelName !== undefined) {
    if (
      typeof kernelName !== 'string' ||
      !KERNEL_NAME.test(kernelName.toLowerCase())
    ) {
      throw new BadRequest(
        'kernelName may hold only letters, digits, ".", "_" and "-" (at most 128).'
      );
    }
    request.kernelName = kernelName.toLowerCase();
  }
  if (displayName !== undefined) {
    if (
      typeof displayName !== 'string' ||
      displayName.trim() === '' ||
      displayName.length > 200 ||
      CONTROL.test(displayName)
    ) {
      throw new BadRequest(
        'displayName must be one line of text of at most 200 characters.'
      );
    }
    request.displayName = displayName;
  }
  return request;
}

function queryFlag(req: IncomingMessage, name: string): boolean {
  const url = new URL(req.url ?? '/', 'http://sidecar');
  const value = url.searchParams.get(name);
  return value !== null && value !== '0' && value !== 'false';
}

/**
 * Matches the environment paths; null for every other path (so other route
 * tables can be asked).
 */
export function envRoutes(
  service: EnvironmentService,
  log: ILogger
): { match: (path: string) => MethodTable | null } {
  const guarded =
    (
      handler: (
        req: IncomingMessage,
        res: ServerResponse,
        body: Buffer
      ) => Promise<void>
    ) =>
    (req: IncomingMessage, res: ServerResponse, body: Buffer) =>
      handler(req, res, body).catch(err => {
        const status =
          err instanceof SidecarError ? STATUS[err.code] : undefined;
        if (status !== undefined && err instanceof SidecarError) {
          log.info(`${req.method} ${req.url?.split('?')[0]}: ${err.code}`);
          sendError(res, status, err.code, err.message);
          return;
        }
        sendFailure(res, err, log, `${req.method} environments`);
      });

  const table = (target: string, rest: string[]): MethodTable | null => {
    if (rest.length === 1 && rest[0] === 'envs') {
      return {
        GET: guarded(async (req, res) =>
          sendJson(
            res,
            200,
            await service.list(target, queryFlag(req, 'refresh'))
          )
        )
      };
    }
    if (rest.length === 1 && rest[0] === 'kernels') {
      return {
        POST: guarded(async (_req, res, body) => {
          const request = parseRegisterRequest(jsonObject(body));
          const result: IRegisterKernelResult = await service.register(
            target,
            request
          );
          sendJson(res, result.created ? 201 : 200, result);
        })
      };
    }
    if (rest.length === 2 && rest[0] === 'kernels' && rest[1] !== '') {
      let name: string;
      try {
        name = decodeURIComponent(rest[1]);
      } catch {
        return null;
      }
      return {
        DELETE: guarded(async (_req, res) => {
          const result: IUnregisterKernelResult = {
            kernel: await service.unregister(target, name)
          };
          sendJson(res, 200, result);
        })
      };
    }
    return null;
  };

  const localBase = Routes.envs(LOCAL_TARGET).slice(0, -'/envs'.length);
  const match = (path: string): MethodTable | null => {
    if (path.startsWith(localBase + '/')) {
      return table(LOCAL_TARGET, path.slice(localBase.length + 1).split('/'));
    }
    const clusters = Routes.clusters + '/';
    if (!path.startsWith(clusters)) {
      return null;
    }
    const [encoded, ...rest] = path.slice(clusters.length).split('/');
    if (!encoded || rest.length === 0) {
      return null;
    }
    let name: string;
    try {
      name = decodeURIComponent(encoded);
    } catch {
      return null;
    }
    // A cluster named like the local target would be unreachable here.
    if (name === LOCAL_TARGET) {
      return null;
    }
    return table(name, rest);
  };
  return { match };
}
