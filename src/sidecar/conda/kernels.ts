/**
 * Registering and removing the kernelspec of a conda environment on a
 * target, as `python -m ipykernel install --prefix=<dir> --name=<name>` and
 * `jupyter kernelspec remove` do: first what a scan says may be done, then
 * the one command that does it.
 */
import { posix } from 'path';

import type {
  IEnvironmentList,
  IKernelspecInfo,
  IRegisterKernelRequest,
  IRegisterKernelResult
} from '../../common/api';
import { SidecarError } from '../errors';
import type { ITransport } from '../transport/types';
import { normalizePrefix } from './build';
import { tail, where } from './describe';
import {
  buildKernelJson,
  parseKernelspec,
  REGISTER_SCRIPT,
  UNREGISTER_SCRIPT
} from './kernelspec';

/** A kernelspec to write: where, under which name, with which text. */
export interface IKernelPlan {
  target: string;
  prefix: string;
  dir: string;
  name: string;
  text: string;
}

/**
 * What registering `request` on the target whose scan is `list` comes to:
 * the kernel that already runs the env, or the kernelspec to write. Throws
 * SidecarError for an env that cannot run a kernel or a name in use.
 */
export function planRegistration(
  target: string,
  list: IEnvironmentList,
  request: IRegisterKernelRequest
): { existing: IRegisterKernelResult } | { plan: IKernelPlan } {
  const prefix = normalizePrefix(request.prefix);
  const env = list.envs.find(e => e.prefix === prefix);
  if (!env || env.problems.some(p => p.code === 'missing-prefix')) {
    throw new SidecarError(
      'env-not-found',
      `There is no conda environment at ${prefix} on ${where(target)}.`
    );
  }
  if (env.problems.some(p => p.code === 'missing-python')) {
    throw new SidecarError(
      'ipykernel-missing',
      `The environment ${env.name} cannot run a kernel: ${prefix}/bin/python is missing.`
    );
  }
  if (env.ipykernelVersion === null) {
    throw new SidecarError(
      'ipykernel-missing',
      `ipykernel is not installed in the environment ${env.name} (${prefix}): install it first.`
    );
  }
  const dir = list.kernelsDir;
  if (dir === null) {
    throw new SidecarError(
      'kernels-dir-unknown',
      `Kernels cannot be registered on ${where(target)}: ${list.warnings[0] ?? 'the JupyterLab environment was not found.'}`
    );
  }
  if (env.registered) {
    return { existing: { kernel: env.registered, created: false } };
  }
  const name = (request.kernelName ?? env.kernelName).toLowerCase();
  const clash = list.kernelspecs.find(k => k.name === name);
  if (clash) {
    throw new SidecarError(
      'kernel-exists',
      `A kernel named ${name} exists already (${clash.path}, running ${clash.envPrefix ?? clash.executable}): choose another name.`
    );
  }
  const text = buildKernelJson({
    prefix,
    displayName: request.displayName ?? env.displayName,
    envName: env.name,
    target
  });
  return { plan: { target, prefix, dir, name, text } };
}

/**
 * Write the planned kernelspec. Answers the kernel when one for the same
 * env was made between the scan and the write, null when it wrote it.
 */
export async function writeKernelspec(
  transport: ITransport,
  plan: IKernelPlan,
  timeoutMs: number
): Promise<IKernelspecInfo | null> {
  const { target, prefix, dir, name, text } = plan;
  const out = await transport.run(
    {
      argv: [
        '/bin/sh',
        '-c',
        REGISTER_SCRIPT,
        'jlhpc-register',
        dir,
        name,
        text,
        prefix
      ]
    },
    { signal: AbortSignal.timeout(timeoutMs), maxOutputBytes: 1e6 }
  );
  const specDir = plannedPath(plan);
  const stdout = out.stdout.toString('utf8');
  if (out.exitCode === 0 && stdout.startsWith('exists\0')) {
    // Made between our scan and the write.
    const existing = parseKernelspec(
      specDir,
      stdout.slice('exists\0'.length),
      new Set([prefix])
    ).info;
    if (existing.envPrefix !== prefix) {
      throw new SidecarError(
        'kernel-exists',
        `A kernel named ${name} exists already (${specDir}): choose another name.`
      );
    }
    return existing;
  }
  if (out.exitCode !== 0 || !stdout.startsWith('created\0')) {
    throw new SidecarError(
      'kernel-write-failed',
      `The kernelspec ${specDir} could not be written on ${where(target)}: ${tail(out.stderr) || `exit status ${out.exitCode}`}`
    );
  }
  return null;
}

/** The kernel a written plan made, as its text describes it. */
export function plannedKernel(plan: IKernelPlan): IKernelspecInfo {
  return parseKernelspec(plannedPath(plan), plan.text, new Set([plan.prefix]))
    .info;
}

function plannedPath(plan: IKernelPlan): string {
  return posix.join(plan.dir, plan.name);
}

/**
 * The kernelspec `name` of the scan, when it may be removed: one that runs
 * a conda env of the target or that we wrote. Throws SidecarError else.
 */
export function planRemoval(
  target: string,
  list: IEnvironmentList,
  name: string
): IKernelspecInfo {
  const wanted = name.toLowerCase();
  const spec = list.kernelspecs.find(k => k.name === wanted);
  if (!spec) {
    throw new SidecarError(
      'kernel-not-found',
      `There is no kernel named ${name} on ${where(target)}.`
    );
  }
  const runsEnv =
    spec.envPrefix !== null && list.envs.some(e => e.prefix === spec.envPrefix);
  if (!spec.managed && !runsEnv) {
    throw new SidecarError(
      'kernel-not-managed',
      `The kernel ${spec.name} (${spec.path}) does not run a conda environment, so it is left alone; remove it with \`jupyter kernelspec remove ${spec.name}\`.`
    );
  }
  return spec;
}

/** Remove the kernelspec directory `planRemoval` allowed. */
export async function removeKernelspec(
  transport: ITransport,
  target: string,
  spec: IKernelspecInfo,
  timeoutMs: number
): Promise<void> {
  const out = await transport.run(
    {
      argv: ['/bin/sh', '-c', UNREGISTER_SCRIPT, 'jlhpc-unregister', spec.path]
    },
    { signal: AbortSignal.timeout(timeoutMs), maxOutputBytes: 1e6 }
  );
  if (out.exitCode === 4) {
    throw new SidecarError(
      'kernel-not-found',
      `The kernel ${spec.name} was already removed from ${where(target)}.`
    );
  }
  if (out.exitCode !== 0) {
    throw new SidecarError(
      'kernel-write-failed',
      `The kernelspec ${spec.path} could not be removed on ${where(target)}: ${tail(out.stderr) || `exit status ${out.exitCode}`}`
    );
  }
}
