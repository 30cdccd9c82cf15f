import { Token } from '@lumino/coreutils';

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

/** The translation domain of every string in this extension. */
export const TRANSLATION_DOMAIN = 'jupyterlab_hpc';
