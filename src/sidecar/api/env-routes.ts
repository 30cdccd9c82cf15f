/**
 * The environment and kernel part of the API: Routes.envs, Routes.kernels
 * and Routes.kernel, for LOCAL_TARGET (`/api/v1/local/...`) and for each
 * cluster (`/api/v1/clusters/<name>/...`). Checks request bodies and calls
 * the EnvironmentService.
 */
import type {
  IRegisterKernelRequest,
  IRegisterKernelResult,
  IUnregisterKernelResult
} from '../../common/api';
import { LOCAL_TARGET, Routes } from '../../common/api';
import type { EnvironmentService } from '../conda/service';
import { KERNEL_NAME } from '../conda/kernelspec';
import {
  CLUSTER,
  created,
  del,
  get,
  IRequest,
  IRoute,
  KERNEL,
  ok,
  post
} from './router';
import { BadRequest, jsonObject } from './validate';

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

function queryFlag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value !== null && value !== '0' && value !== 'false';
}

/** The same three routes for this computer and for every cluster. */
export function envRoutes(service: EnvironmentService): IRoute[] {
  const routesOf = (at: string, target: (r: IRequest) => string): IRoute[] => [
    get(Routes.envs(at), async r =>
      ok(await service.list(target(r), queryFlag(r.query, 'refresh')))
    ),
    post(Routes.kernels(at), async r => {
      const result: IRegisterKernelResult = await service.register(
        target(r),
        parseRegisterRequest(jsonObject(r.body))
      );
      return result.created ? created(result) : ok(result);
    }),
    del(Routes.kernel(at, KERNEL), async r => {
      const result: IUnregisterKernelResult = {
        kernel: await service.unregister(target(r), r.params.kernel)
      };
      return ok(result);
    })
  ];
  return [
    ...routesOf(LOCAL_TARGET, () => LOCAL_TARGET),
    ...routesOf(CLUSTER, r => r.params.cluster)
  ];
}
