import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { DisposableSet } from '@lumino/disposable';

import { IClusterSettings } from '../settings/model';
import { CommandIDs, IHpcClusterSettings, TRANSLATION_DOMAIN } from '../tokens';

/**
 * The "HPC" launcher category: one tile for the panel and, per cluster,
 * "JupyterLab on <cluster>" (the launch form), rebuilt whenever the cluster
 * list changes (as notebook-extension does for kernelspecs). Showing a
 * cluster in the panel is the panel tile's job.
 */
export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:launcher',
  description: 'Adds the HPC category and its tiles to the launcher.',
  autoStart: true,
  requires: [ILauncher, IHpcClusterSettings],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher,
    clusters: IClusterSettings,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const category = trans.__('HPC');
    let tiles = new DisposableSet();

    const rebuild = () => {
      tiles.dispose();
      tiles = new DisposableSet();
      tiles.add(
        launcher.add({
          command: CommandIDs.openPanel,
          category,
          rank: 0,
          args: { isLauncher: true }
        })
      );
      clusters.clusters.forEach((cluster, i) => {
        tiles.add(
          launcher.add({
            command: CommandIDs.launchSession,
            category,
            rank: 10 + i,
            args: { name: cluster.name, isLauncher: true }
          })
        );
      });
    };

    rebuild();
    clusters.changed.connect(rebuild);
  }
};
