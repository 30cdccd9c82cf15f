/**
 * Kernel names and display names for conda environments, the way
 * nb_conda_kernels makes them, so that a notebook saved on one machine opens
 * with the same kernel on another (anaconda/nb_conda_kernels,
 * nb_conda_kernels/manager.py at a4eca81: `_all_envs`, `_all_specs`,
 * `clean_kernel_name`):
 *
 * - prefixes are taken in sorted order (conda's `list_all_known_prefixes`
 *   returns `sorted(...)`), the base prefix first;
 * - the base prefix is `base`; an env in `<base>/envs` is its directory name;
 *   an env in any other directory called `envs` is `<that dir's parent's
 *   name>-<name>` (so `~/.conda/envs/x` is `.conda-x`), as is a second env
 *   of a name already taken; anything else (`conda create -p`) is the last
 *   path component; a name still taken gets `-2`, `-3`, ...;
 * - kernel `conda-env-<env>-py` (`conda-base-py` for base), with accents
 *   stripped (NFKD) and every character outside `[a-zA-Z0-9._-]` made `_`;
 * - display name `Python [conda env:<env>]`, the env name as it is.
 *
 * One deliberate difference: the kernel name is lowercased, as
 * `jupyter kernelspec install` / `ipykernel install --name` store it and as
 * jupyter_client lists kernels; lookups there are case-insensitive, so a
 * notebook that names `conda-env-MyEnv-py` still finds it.
 */
import { posix } from 'path';

export interface ICondaKernelName {
  /** The env's name in nb_conda_kernels' scheme (before cleaning). */
  envName: string;
  kernelName: string;
  displayName: string;
}

/** nb_conda_kernels' `clean_kernel_name`. */
export function cleanKernelName(name: string): string {
  let out = name;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(out)) {
    out = out.normalize('NFKD').replace(/\p{Mn}/gu, '');
  }
  return out.replace(/[^a-zA-Z0-9._-]/gu, '_');
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Python's ordering of str (code points), which conda sorts with. */
export function compareCodePoints(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b)) {
    // UTF-16 order differs from code point order only here.
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Names for every env prefix. `base` is the base prefix of the conda that
 * lists them (null when there is none: then no env is `base`).
 */
export function condaKernelNames(
  prefixes: readonly string[],
  base: string | null
): Map<string, ICondaKernelName> {
  const sorted = [...new Set(prefixes)].sort(compareCodePoints);
  if (base !== null) {
    const at = sorted.indexOf(base);
    if (at > 0) {
      sorted.splice(at, 1);
    }
    if (at !== 0) {
      sorted.unshift(base);
    }
  }
  const baseEnvs = base === null ? null : posix.join(base, 'envs');
  const taken = new Set<string>();
  const names = new Map<string, ICondaKernelName>();
  for (const prefix of sorted) {
    let envName: string;
    if (prefix === base) {
      envName = 'base';
    } else {
      const parent = posix.dirname(prefix);
      envName = posix.basename(prefix);
      if (
        posix.basename(parent) === 'envs' &&
        (parent !== baseEnvs || taken.has(envName))
      ) {
        envName = `${posix.basename(posix.dirname(parent))}-${envName}`;
      }
    }
    if (taken.has(envName)) {
      const stem = envName;
      for (let n = 2; taken.has(envName); n++) {
        envName = `${stem}-${n}`;
      }
    }
    taken.add(envName);
    const isBase = prefix === base;
    names.set(prefix, {
      envName,
      kernelName: cleanKernelName(
        `conda-${isBase ? '' : 'env-'}${envName}-py`
      ).toLowerCase(),
      displayName: `Python [conda env:${envName}]`
    });
  }
  return names;
}
