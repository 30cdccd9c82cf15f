/**
 * Environment lists as the sidecar sends them, shaped like the demo
 * cluster's (tests/cluster/demo-cluster.sh) and a laptop's.
 */
import {
  ICondaEnvironment,
  IEnvironmentList,
  IKernelspecInfo,
  ITask,
  LOCAL_TARGET
} from '../../../src/common/api';

export const ROOT = '/home/hpcdemo/.local/miniforge';

export function env(
  name: string,
  more: Partial<ICondaEnvironment> = {}
): ICondaEnvironment {
  const kind = more.kind ?? (name === 'base' ? 'base' : 'named');
  const prefix =
    more.prefix ?? (kind === 'base' ? ROOT : `${ROOT}/envs/${name}`);
  return {
    name,
    prefix,
    kind,
    root: ROOT,
    pythonVersion: '3.11.2',
    ipykernelVersion: '6.29.5',
    jupyterlabVersion: null,
    kernelspecs: [],
    kernelName: name === 'base' ? 'conda-base-py' : `conda-env-${name}-py`,
    displayName:
      name === 'base'
        ? 'Python [conda env:base]'
        : `Python [conda env:${name}]`,
    registered: null,
    sources: ['environments.txt'],
    problems: [],
    ...more
  };
}

export function kernelspec(
  e: ICondaEnvironment,
  kernelsDir: string,
  more: Partial<IKernelspecInfo> = {}
): IKernelspecInfo {
  return {
    name: e.kernelName,
    displayName: e.displayName,
    language: 'python',
    executable: `${e.prefix}/bin/python`,
    path: `${kernelsDir}/${e.kernelName}`,
    envPrefix: e.prefix,
    managed: true,
    ...more
  };
}

/** The demo cluster: five envs, analysis without ipykernel, scratch-env made with -p. */
export function demoList(
  more: Partial<IEnvironmentList> = {}
): IEnvironmentList {
  const lab = `${ROOT}/envs/jupyterlab`;
  return {
    target: 'demo',
    envs: [
      env('base', { ipykernelVersion: null }),
      env('jupyterlab', { jupyterlabVersion: '4.2.5' }),
      env('my-project-env'),
      env('analysis', { ipykernelVersion: null }),
      env('scratch-env', {
        kind: 'prefix',
        prefix: '/home/hpcdemo/projects/scratch-env',
        root: null
      })
    ],
    roots: [ROOT],
    tools: { conda: null, mamba: null, micromamba: null },
    toolsOnPath: [],
    kernelsDir: `${lab}/share/jupyter/kernels`,
    jupyterlabPrefix: lab,
    kernelspecs: [],
    scannedAt: 1_700_000_000_000,
    durationMs: 120,
    roundTrips: 1,
    cached: false,
    warnings: [],
    ...more
  };
}

export const LOCAL_KERNELS = '/tmp/lab/data/kernels';

export function localList(
  envs: ICondaEnvironment[] = [
    env('ui-env', {
      prefix: '/tmp/ui-home/miniforge3/envs/ui-env',
      root: null
    })
  ],
  more: Partial<IEnvironmentList> = {}
): IEnvironmentList {
  return {
    target: LOCAL_TARGET,
    envs,
    roots: [],
    tools: { conda: null, mamba: null, micromamba: null },
    toolsOnPath: [],
    kernelsDir: LOCAL_KERNELS,
    jupyterlabPrefix: null,
    kernelspecs: [],
    scannedAt: 1_700_000_000_000,
    durationMs: 8,
    roundTrips: 0,
    cached: false,
    warnings: [],
    ...more
  };
}

/** A cluster with no conda of any kind and no env. */
export function emptyList(target: string): IEnvironmentList {
  return {
    ...demoList({ target }),
    envs: [],
    roots: [],
    kernelsDir: null,
    jupyterlabPrefix: null
  };
}

export function task(more: Partial<ITask> = {}): ITask {
  return {
    id: 't1',
    kind: 'install-ipykernel',
    target: 'demo',
    title: 'Install ipykernel into analysis on demo',
    prefix: '/home/hpcdemo/.local/miniforge/envs/analysis',
    state: 'running',
    startedAt: 1_700_000_000_000,
    endedAt: null,
    step: 'Installing',
    error: null,
    outputLength: 0,
    ...more
  };
}
