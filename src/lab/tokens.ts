import { Token } from '@lumino/coreutils';

import type { IClusterModel } from './clusters/model';
import type { IEnvironmentsModel } from './envs/model';
import type { IClusterSettings } from './settings/model';
import type { ISidecarModel } from './sidecar/model';

export const PLUGIN_PREFIX = 'jupyterlab-hpc';

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

/** The translation domain of every string in this extension. */
export const TRANSLATION_DOMAIN = 'jupyterlab_hpc';
