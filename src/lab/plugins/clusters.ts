import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ClusterModel, IClusterModel } from '../clusters/model';
import {
  addClusterPaletteItems,
  addClusterRowMenu
} from '../commands/cluster-menus';
import { ClusterToasts } from '../commands/cluster-toasts';
import { addClusterCommands } from '../commands/clusters';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  CommandIDs,
  IHpcClusters,
  IHpcClusterSettings,
  IHpcSidecar,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * The clusters' connections: hands the configured clusters to the sidecar,
 * follows their states and adds the commands that add, edit, remove,
 * connect, test and set up keys; Connect, Disconnect and Test are also in
 * the palette (per cluster) and in a cluster row's context menu.
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
    const toasts = new ClusterToasts({ settings, clusters, trans });
    addClusterCommands({
      commands,
      trans,
      settings,
      clusters,
      toasts,
      hitTest: test => app.contextMenuHitTest(test)
    });
    // States, tests and the settings decide which actions are enabled.
    clusters.changed.connect(() => commands.notifyCommandChanged());

    const perCluster = [
      CommandIDs.connectCluster,
      CommandIDs.disconnectCluster,
      CommandIDs.testCluster
    ];
    addClusterRowMenu(app, perCluster, 0);
    const category = trans.__('HPC');
    palette?.addItem({ command: CommandIDs.addCluster, category });
    if (palette) {
      addClusterPaletteItems(
        palette,
        settings,
        perCluster.map(command => ({ command, argsFor: name => ({ name }) })),
        category
      );
    }
    return clusters;
  }
};
