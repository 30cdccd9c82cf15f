/**
 * Kernelspecs: reading kernel.json files, the kernel.json we write, and the
 * two constant sh programs that write and remove one (run through a
 * transport, their values passed as arguments, never pasted into the text).
 */
import { posix } from 'path';

import { PROVISIONER_NAME, type IKernelspecInfo } from '../../common/api';
import registerKernelSh from './register-kernel.sh';
import unregisterKernelSh from './unregister-kernel.sh';

/** The metadata key that marks a kernelspec as written by jupyterlab-hpc. */
export const MARKER_KEY = 'jupyterlab_hpc';

/** What a kernel name may be (jupyter_client's `_kernel_name_pat`, lowercased). */
export const KERNEL_NAME = /^[a-z0-9._-]{1,128}$/;

export interface IParsedKernelspec {
  info: IKernelspecInfo;
  /** Why the file is not a usable kernelspec, or null. */
  error: string | null;
}

interface IRawSpec {
  argv?: unknown;
  display_name?: unknown;
  language?: unknown;
  metadata?: { [MARKER_KEY]?: { envPrefix?: unknown } } & Record<
    string,
    unknown
  >;
}

/**
 * The env a kernelspec runs in: our marker; nb_conda_kernels' runner
 * (`python -m nb_conda_kernels.runner <conda prefix> <env prefix> ...`);
 * else the longest known env prefix that argv[0] lies in.
 */
function envOf(
  spec: IRawSpec,
  argv: string[],
  knownPrefixes: ReadonlySet<string>
): string | null {
  const marked = spec.metadata?.[MARKER_KEY]?.envPrefix;
  if (typeof marked === 'string' && marked.startsWith('/')) {
    return marked;
  }
  const runner = argv.indexOf('nb_conda_kernels.runner');
  if (runner > 0 && typeof argv[runner + 2] === 'string') {
    return argv[runner + 2];
  }
  const exe = argv[0] ?? '';
  if (!exe.startsWith('/')) {
    return null;
  }
  // The longest known prefix: walk up from the executable.
  for (let dir = posix.dirname(exe); dir !== '/'; dir = posix.dirname(dir)) {
    if (knownPrefixes.has(dir)) {
      return dir;
    }
  }
  return null;
}

/** A parsed kernel.json started by our provisioner: a cluster kernel. */
export function isClusterKernelSpec(spec: unknown): boolean {
  const provisioner = (spec as IRawSpec | null)?.metadata
    ?.kernel_provisioner as { provisioner_name?: unknown } | null | undefined;
  return (
    typeof provisioner === 'object' &&
    provisioner !== null &&
    provisioner.provisioner_name === PROVISIONER_NAME
  );
}

/**
 * Read one `<dir>/<name>/kernel.json`. The name is lowercased as Jupyter
 * lists it. A file that is not a kernelspec still gives an entry (so it is
 * shown and never overwritten), with `error` set.
 */
export function parseKernelspec(
  specDir: string,
  text: string,
  knownPrefixes: ReadonlySet<string>
): IParsedKernelspec {
  const name = posix.basename(specDir).toLowerCase();
  const info: IKernelspecInfo = {
    name,
    displayName: name,
    language: '',
    executable: '',
    path: specDir,
    envPrefix: null,
    managed: false
  };
  let spec: IRawSpec;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { info, error: 'kernel.json is not a JSON object' };
    }
    spec = value as IRawSpec;
  } catch (err) {
    return {
      info,
      error: `kernel.json is not valid JSON (${(err as Error).message})`
    };
  }
  const argv =
    Array.isArray(spec.argv) && spec.argv.every(a => typeof a === 'string')
      ? (spec.argv as string[])
      : null;
  info.displayName =
    typeof spec.display_name === 'string' ? spec.display_name : name;
  info.language = typeof spec.language === 'string' ? spec.language : '';
  info.executable = argv?.[0] ?? '';
  if (isClusterKernelSpec(spec)) {
    // A kernel profile (kernels/profiles.ts): it runs on a cluster, so no
    // env of this computer is registered by it, whatever its argv's python,
    // and only the profile routes remove it.
    return { info, error: null };
  }
  info.managed =
    typeof spec.metadata === 'object' &&
    spec.metadata !== null &&
    typeof spec.metadata[MARKER_KEY] === 'object' &&
    spec.metadata[MARKER_KEY] !== null;
  info.envPrefix = argv ? envOf(spec, argv, knownPrefixes) : null;
  if (!argv || argv.length === 0) {
    return { info, error: 'kernel.json has no argv list' };
  }
  return { info, error: null };
}

/** The kernel.json `python -m ipykernel install` writes, plus our marker. */
export function buildKernelJson(options: {
  prefix: string;
  displayName: string;
  envName: string;
  target: string;
}): string {
  const spec = {
    argv: [
      posix.join(options.prefix, 'bin', 'python'),
      '-m',
      'ipykernel_launcher',
      '-f',
      '{connection_file}'
    ],
    display_name: options.displayName,
    language: 'python',
    metadata: {
      debugger: true,
      [MARKER_KEY]: {
        envPrefix: options.prefix,
        envName: options.envName,
        target: options.target
      }
    }
  };
  return JSON.stringify(spec, null, 1) + '\n';
}

/**
 * Write `<kernels dir>/<name>/kernel.json` and ipykernel's logos, in one
 * command. `$1` kernels dir, `$2` kernel name, `$3` kernel.json text, `$4`
 * env prefix. Creating the directory is the lock: when it exists already
 * with a kernel.json, nothing is written and the file is printed after
 * `exists` NUL, for the caller to decide. Prints `created` NUL on success.
 * Exit 3: the kernels dir cannot be made; 4: the kernelspec dir cannot be;
 * 5: kernel.json cannot be written.
 */
export const REGISTER_SCRIPT = registerKernelSh;

/**
 * Remove one kernelspec directory: `$1` is `<kernels dir>/<name>`. Refuses
 * (exit 4) unless it holds a kernel.json, so a wrong path removes nothing.
 */
export const UNREGISTER_SCRIPT = unregisterKernelSh;
