/**
 * What a kernel profile needs to know of the environment it runs, from the
 * target's environment scan: its name (for "Python [conda env:<name>]"),
 * the language of its own kernelspec, and that ipykernel is there to run.
 */
import type { ICondaEnvironment, IEnvironmentList } from '../../common/api';
import { normalizePrefix } from '../conda/build';
import { where } from '../conda/describe';
import { SidecarError } from '../errors';
import { quoteArg } from '../shell/quote';
import type { IKernelEnvFacts } from './profiles';

/** The env at `prefix` in the scan, or null. */
export function findEnv(
  list: IEnvironmentList,
  prefix: string
): ICondaEnvironment | null {
  const wanted = normalizePrefix(prefix);
  return (
    list.envs.find(
      e =>
        e.prefix === wanted &&
        !e.problems.some(p => p.code === 'missing-prefix')
    ) ?? null
  );
}

/**
 * The facts of the env at `prefix` (found with findEnv). Throws SidecarError
 * for one that cannot run a kernel, saying how to fix it.
 */
export function kernelEnvFacts(
  list: IEnvironmentList,
  env: ICondaEnvironment | null,
  prefix: string
): IKernelEnvFacts {
  const target = list.target;
  if (!env) {
    throw new SidecarError(
      'env-not-found',
      `There is no conda environment at ${prefix} on ${where(target)}.`
    );
  }
  if (env.problems.some(p => p.code === 'missing-python')) {
    throw new SidecarError(
      'ipykernel-missing',
      `The environment ${env.name} cannot run a kernel: ${env.prefix}/bin/python is missing.`
    );
  }
  if (env.ipykernelVersion === null) {
    throw new SidecarError(
      'ipykernel-missing',
      `ipykernel is not installed in the environment ${env.name} (${env.prefix}) on ${where(target)}, so it cannot run a kernel: install it with \`conda install -p ${quoteArg(env.prefix)} ipykernel\` (or "Install ipykernel…" in its row), then add the cluster kernel again.`
    );
  }
  // ipykernel's own kernelspec in the env, when it ships one (another
  // language's kernel there is not what the profile runs).
  const own = env.kernelspecs.find(k => k.name === 'python3');
  const named = /^Python \[conda env:(.*)\]$/s.exec(env.displayName);
  return {
    language: own?.language || 'python',
    // ipykernel's spec has no interrupt_mode: Jupyter's default, signal.
    interruptMode: 'signal',
    envName: named ? named[1] : env.name
  };
}
