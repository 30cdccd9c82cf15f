/**
 * The cluster kernel part of the API (src/common/kernels.ts). Each part is
 * a function returning its routes, so the allocation, start and lease
 * routes join the list beside the profile routes.
 */
import {
  LOCAL_TARGET,
  Routes,
  type IKernelProfile,
  type IKernelProfileList,
  type IKernelProfileProblem,
  type IKernelProfileRequest,
  type SidecarEvent
} from '../../common/api';
import { normalizePrefix } from '../conda/build';
import {
  checkProfileRequest,
  ProfileInvalid,
  type IKernelEnvFacts,
  type KernelProfileStore
} from '../kernels/profiles';
import {
  created,
  del,
  get,
  KERNEL,
  ok,
  post,
  put,
  type IReply,
  type IRoute
} from './router';
import { parseLaunchRequest } from './session-routes';
import { BadRequest, jsonObject } from './validate';

export interface IKernelProfileRouteOptions {
  profiles: Pick<
    KernelProfileStore,
    'list' | 'get' | 'add' | 'update' | 'remove'
  >;
  /** The facts of the env at `envPrefix` on `cluster`, from its scan. */
  facts(cluster: string, envPrefix: string): Promise<IKernelEnvFacts>;
  broadcast(event: SidecarEvent): void;
  /** Whether `name` is a configured cluster (LOCAL_TARGET always is). */
  isCluster?(name: string): boolean;
}

/** A POST/PUT body as an IKernelProfileRequest: types only; the checks follow. */
export function parseProfileRequest(
  body: Record<string, unknown>
): IKernelProfileRequest {
  const { cluster, environment, workingDirectory, resources } = body;
  const displayName = body.displayName ?? '';
  if (typeof cluster !== 'string' || cluster.length > 8192) {
    throw new BadRequest('cluster must be the name of a cluster.');
  }
  if (typeof displayName !== 'string' || displayName.length > 8192) {
    throw new BadRequest('displayName must be text.');
  }
  if (
    typeof resources !== 'object' ||
    resources === null ||
    Array.isArray(resources)
  ) {
    throw new BadRequest('resources must be an object of job resources.');
  }
  // The launch form's parser: the same types, the same limits.
  const launch = parseLaunchRequest({
    ...(resources as Record<string, unknown>),
    environment,
    workingDirectory
  });
  return {
    cluster,
    environment:
      launch.environment === '' ? '' : normalizePrefix(launch.environment),
    workingDirectory: launch.workingDirectory,
    displayName,
    resources: {
      partition: launch.partition,
      account: launch.account,
      qos: launch.qos,
      wallTime: launch.wallTime,
      cpus: launch.cpus,
      memory: launch.memory,
      gpus: launch.gpus,
      constraint: launch.constraint
    }
  };
}

function invalid(problems: IKernelProfileProblem[]): IReply {
  return {
    status: 400,
    body: {
      error: {
        code: 'profile-invalid',
        message: problems.map(p => p.message).join(' '),
        problems
      }
    }
  };
}

/** The store's refusal as the same 400 answer, problems included. */
async function refusing(
  change: () => Promise<IKernelProfile>
): Promise<IKernelProfile | IReply> {
  try {
    return await change();
  } catch (err) {
    if (err instanceof ProfileInvalid) {
      return invalid(err.problems);
    }
    throw err;
  }
}

/** Routes.kernelProfiles and Routes.kernelProfile(id). */
export function kernelProfileRoutes(o: IKernelProfileRouteOptions): IRoute[] {
  const changed = (profile: IKernelProfile, removed = false): void =>
    o.broadcast(
      removed
        ? { type: 'kernel-profile', profile, removed: true }
        : { type: 'kernel-profile', profile }
    );
  // The profile id is the `kernel` parameter: the tail of its kernelspec name.
  const profileRoute = Routes.kernelProfile(KERNEL);
  return [
    get(Routes.kernelProfiles, async () => {
      const body: IKernelProfileList = { profiles: await o.profiles.list() };
      return ok(body);
    }),
    post(Routes.kernelProfiles, async ({ body }) => {
      const req = parseProfileRequest(jsonObject(body));
      const problems = checkProfileRequest(req);
      if (
        req.cluster !== '' &&
        req.cluster !== LOCAL_TARGET &&
        o.isCluster &&
        !o.isCluster(req.cluster)
      ) {
        problems.push({
          field: 'cluster',
          message: `There is no cluster named "${req.cluster}".`
        });
      }
      if (problems.length > 0) {
        return invalid(problems);
      }
      const facts = await o.facts(req.cluster, req.environment);
      const profile = await refusing(() => o.profiles.add(req, facts));
      if ('status' in profile) {
        return profile;
      }
      changed(profile);
      return created(profile);
    }),
    put(profileRoute, async ({ params, body }) => {
      const req = parseProfileRequest(jsonObject(body));
      const problems = checkProfileRequest(req);
      if (problems.length > 0) {
        return invalid(problems);
      }
      const profile = await refusing(() =>
        o.profiles.update(params.kernel, req)
      );
      if ('status' in profile) {
        return profile;
      }
      changed(profile);
      return ok(profile);
    }),
    del(profileRoute, async ({ params }) => {
      const profile = await o.profiles.get(params.kernel);
      await o.profiles.remove(params.kernel);
      if (profile) {
        changed(profile, true);
      }
      return ok(profile ?? {});
    })
  ];
}
