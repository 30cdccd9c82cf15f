import { Token } from '@lumino/coreutils';

import type { IClusterModel } from './clusters/model';
import type { IEnvironmentsModel } from './envs/model';
import type { ITasksModel } from './envs/tasks-model';
import type { IKernelsModel } from './kernels/model';
import type { ISessionsModel } from './sessions/model';
import type { IClusterSettings } from './settings/model';
import type { ISidecarModel } from './sidecar/model';

export const PLUGIN_PREFIX = 'jupyterlab-hpc';

/** The ids of every command this extension adds. */
export namespace CommandIDs {
  export const openPanel = 'hpc:open-panel';
  export const openCluster = 'hpc:open-cluster';
  export const openSettings = 'hpc:open-settings';
  export const checkSidecar = 'hpc:check-sidecar';
  export const addCluster = 'hpc:add-cluster';
  export const editCluster = 'hpc:edit-cluster';
  export const removeCluster = 'hpc:remove-cluster';
  export const connectCluster = 'hpc:connect-cluster';
  export const disconnectCluster = 'hpc:disconnect-cluster';
  export const testCluster = 'hpc:test-cluster';
  export const setupKey = 'hpc:setup-key';
  export const refreshEnvs = 'hpc:refresh-envs';
  export const registerKernel = 'hpc:register-kernel';
  export const unregisterKernel = 'hpc:unregister-kernel';
  export const installIpykernel = 'hpc:install-ipykernel';
  export const installMiniforge = 'hpc:install-miniforge';
  export const useForJupyterLab = 'hpc:use-env-for-jupyterlab';
  export const showTask = 'hpc:show-task';
  /** args `{ name }`: the launch form of "JupyterLab on <name>". */
  export const launchSession = 'hpc:launch-session';
  /** args `{ name }`: attach to a session on <name> started elsewhere. */
  export const attachSession = 'hpc:attach-session';
  /** args `{ id }` for each of the session commands. */
  export const openSession = 'hpc:open-session';
  export const cancelSession = 'hpc:cancel-session';
  export const dismissSession = 'hpc:dismiss-session';
  export const showSessionLog = 'hpc:show-session-log';
  /** args `{ target, prefix }`: the profile dialog for a cluster environment. */
  export const addKernelProfile = 'hpc:add-kernel-profile';
  /** args `{ id }` (a kernel profile's id). */
  export const editKernelProfile = 'hpc:edit-kernel-profile';
  export const removeKernelProfile = 'hpc:remove-kernel-profile';
  /** args `{ id }` (an allocation's id): scancel it, its kernels stop. */
  export const endAllocation = 'hpc:end-kernel-allocation';
  /** args `{ kernelId }`: give up a waiting cluster kernel start. */
  export const cancelKernelStart = 'hpc:cancel-kernel-start';
}

/** The id of the left side panel, for `app.shell.activateById`. */
export const PANEL_ID = 'jp-hpc-panel';

/** The frontend's view of the sidecar: health, version, events. */
export const IHpcSidecar = new Token<ISidecarModel>(
  `${PLUGIN_PREFIX}:IHpcSidecar`,
  'The jupyterlab-hpc sidecar: its health and the events it pushes.'
);

/** The user's clusters and job defaults from the settings registry. */
export const IHpcClusterSettings = new Token<IClusterSettings>(
  `${PLUGIN_PREFIX}:IHpcClusterSettings`,
  'The clusters and job defaults configured in the HPC settings.'
);

/** The clusters' connection states and the actions on them. */
export const IHpcClusters = new Token<IClusterModel>(
  `${PLUGIN_PREFIX}:IHpcClusters`,
  'The configured clusters as the sidecar sees them: connection states, tests, and connect, disconnect, test and key setup.'
);

/** Conda environments, kernels and install tasks of this computer and the clusters. */
export const IHpcEnvironments = new Token<IEnvironmentsModel>(
  `${PLUGIN_PREFIX}:IHpcEnvironments`,
  'The conda environments of this computer and of each cluster, their kernels, and the install tasks that stream output.'
);

/** The install tasks the sidecar runs (ipykernel, Miniforge) and their output. */
export const IHpcTasks = new Token<ITasksModel>(
  `${PLUGIN_PREFIX}:IHpcTasks`,
  'The install tasks the sidecar runs, their state and their streamed output.'
);

/** JupyterLab sessions in SLURM jobs on the clusters. */
export const IHpcSessions = new Token<ISessionsModel>(
  `${PLUGIN_PREFIX}:IHpcSessions`,
  'JupyterLab sessions in SLURM jobs: their live state, and launch, open, cancel and log.'
);

/** Cluster kernels: profiles (kernelspecs), allocations and waiting starts. */
export const IHpcKernels = new Token<IKernelsModel>(
  `${PLUGIN_PREFIX}:IHpcKernels`,
  'Cluster kernels: their profiles (kernelspecs in the picker), the allocations they run in, and the starts waiting in the queue.'
);

/** The translation domain of every string in this extension. */
export const TRANSLATION_DOMAIN = 'jupyterlab_hpc';
