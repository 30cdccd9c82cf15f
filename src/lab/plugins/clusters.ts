import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ClusterModel, IClusterModel } from '../clusters/model';
import { addClusterCommands, CommandIDs } from '../commands';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  IHpcClusters,
  IHpcClusterSettings,
  IHpcSidecar,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * The clusters' connections: hands the configured clusters to the sidecar,
 * follows their states and adds the commands that add, edit, remove,
 * connect, test and set up keys.
 */
export const clustersPlugin: JupyterFrontEndPlugin<IClusterModel> = {
  id: 'jupyterlab-hpc:clusters',
  description:
    'Cluster connections: their states and the commands to add, test and connect clusters.',
  autoStart: true,
  provides: IHpcClusters,
  requires: [IHpcSidecar, IHpcClusterSettings],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecarModel,
    settings: IClusterSettings,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): IClusterModel => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;
    const clusters = new ClusterModel({
      sidecar,
      settings,
      serverSettings: app.serviceManager.serverSettings
    });
    addClusterCommands({ commands, trans, settings, clusters });
    // States, tests and the settings decide which actions are enabled.
    clusters.changed.connect(() => commands.notifyCommandChanged());
    palette?.addItem({
      command: CommandIDs.addCluster,
      category: trans.__('HPC')
    });
    return clusters;
  }
};
