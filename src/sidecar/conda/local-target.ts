/**
 * This computer as a target for environments and kernels: where its
 * Jupyter keeps kernelspecs, and the conda hints of the sidecar's own
 * environment.
 */
import { posix } from 'path';

import type { ITransport } from '../transport/types';
import type { ICollectHints } from './collect-script';

/** This computer: where its Jupyter keeps kernelspecs, and what it knows. */
export interface ILocalEnvTarget {
  transport: ITransport;
  /** The user kernels directory, where registered kernels are written. */
  kernelsDir: string;
  /** Every kernels directory Jupyter reads, in its order. */
  kernelPath: string[];
  /** Prefixes, roots and executables from the sidecar's own environment. */
  hints: ICollectHints;
}

/**
 * Where this computer's Jupyter keeps kernelspecs, from the variables
 * jupyterlab_hpc/proxy.py sets (jupyter_data_dir() and
 * jupyter_path('kernels') of the Jupyter server), else Jupyter's defaults.
 */
export function localEnvTarget(
  transport: ITransport,
  env: NodeJS.ProcessEnv,
  home: string
): ILocalEnvTarget {
  const dataDir =
    env.JUPYTERLAB_HPC_JUPYTER_DATA_DIR ||
    env.JUPYTER_DATA_DIR ||
    posix.join(home, '.local', 'share', 'jupyter');
  const kernelsDir = posix.join(dataDir, 'kernels');
  const given = (env.JUPYTERLAB_HPC_KERNEL_PATH ?? '')
    .split(':')
    .filter(p => p.startsWith('/'));
  const kernelPath = given.length
    ? given
    : [
        ...(env.JUPYTER_PATH ?? '')
          .split(':')
          .filter(p => p.startsWith('/'))
          .map(p => posix.join(p, 'kernels')),
        kernelsDir,
        '/usr/local/share/jupyter/kernels',
        '/usr/share/jupyter/kernels'
      ];
  if (!kernelPath.includes(kernelsDir)) {
    kernelPath.unshift(kernelsDir);
  }
  const exe = env.CONDA_EXE ?? '';
  return {
    transport,
    kernelsDir,
    kernelPath,
    hints: {
      envPrefixes: [env.CONDA_PREFIX ?? ''],
      roots: [
        env.MAMBA_ROOT_PREFIX ?? '',
        /\/(?:bin|condabin)\/conda$/.test(exe)
          ? posix.dirname(posix.dirname(exe))
          : ''
      ],
      executables: [exe, env.MAMBA_EXE ?? '']
    }
  };
}
