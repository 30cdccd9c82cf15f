/**
 * The install-task part of the API: Routes.tasks, Routes.task(id),
 * Routes.installIpykernel(target) and Routes.installMiniforge(cluster).
 * Bodies are checked here; the work is in tasks/.
 */
import type {
  IInstallIpykernelRequest,
  IInstallMiniforgeRequest
} from '../../common/api';
import { LOCAL_TARGET, Routes } from '../../common/api';
import {
  IInstallOptions,
  startInstallIpykernel,
  startInstallMiniforge
} from '../tasks/installs';
import type { TaskManager } from '../tasks/manager';
import { SidecarError } from '../errors';
import { accepted, CLUSTER, del, get, IRoute, ok, post, TASK } from './router';
import { BadRequest, jsonObject } from './validate';

export interface ITaskRoutesOptions extends IInstallOptions {
  tasks: TaskManager;
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

/** The task list, one task, and the installs that start tasks. */
export function taskRoutes(options: ITaskRoutesOptions): IRoute[] {
  const { tasks } = options;
  const installIpykernel = async (target: string, body: Buffer) =>
    accepted(
      await startInstallIpykernel(
        options,
        target,
        parseInstallIpykernel(jsonObject(body))
      )
    );
  return [
    get(Routes.tasks, () => ok(tasks.list())),
    get(Routes.task(TASK), ({ params }) => ok(tasks.get(params.task))),
    del(Routes.task(TASK), async ({ params }) =>
      ok(await tasks.cancel(params.task))
    ),
    post(Routes.installIpykernel(LOCAL_TARGET), ({ body }) =>
      installIpykernel(LOCAL_TARGET, body)
    ),
    post(Routes.installIpykernel(CLUSTER), ({ params, body }) =>
      installIpykernel(params.cluster, body)
    ),
    post(Routes.installMiniforge(CLUSTER), async ({ params, body }) =>
      accepted(
        await startInstallMiniforge(
          options,
          params.cluster,
          parseInstallMiniforge(jsonObject(body))
        )
      )
    )
  ];
}
