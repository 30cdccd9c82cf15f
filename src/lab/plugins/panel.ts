import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addPanelCommands } from '../commands/panel';
import { hpcIcon } from '../icons';
import { IClusterModel } from '../clusters/model';
import { IEnvironmentsModel } from '../envs/model';
import { IKernelsModel } from '../kernels/model';
import { HpcPanel } from '../panel/widget';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  CommandIDs,
  IHpcClusters,
  IHpcClusterSettings,
  IHpcEnvironments,
  IHpcKernels,
  IHpcSessions,
  IHpcSidecar,
  PANEL_ID,
  TRANSLATION_DOMAIN
} from '../tokens';

/** The left side panel and the commands that drive it. */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:panel',
  description:
    'The HPC side panel: the sidecar state, the sessions, the clusters and the conda environments.',
  autoStart: true,
  requires: [IHpcSidecar, IHpcClusterSettings, IHpcClusters],
  optional: [
    ITranslator,
    ILayoutRestorer,
    ICommandPalette,
    IHpcEnvironments,
    IStateDB,
    IHpcSessions,
    IHpcKernels
  ],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecarModel,
    settings: IClusterSettings,
    clusters: IClusterModel,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    envs: IEnvironmentsModel | null,
    state: IStateDB | null,
    sessions: ISessionsModel | null,
    kernels: IKernelsModel | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);

    const panel = new HpcPanel({
      sidecar,
      settings,
      clusters,
      commands: app.commands,
      trans,
      envs,
      state,
      sessions,
      kernels
    });
    panel.id = PANEL_ID;
    panel.title.icon = hpcIcon;
    panel.title.caption = trans.__('HPC');
    app.shell.add(panel, 'left', { rank: 400 });
    restorer?.add(panel, PANEL_ID);

    addPanelCommands({
      app,
      trans,
      sidecar,
      clusters: settings,
      revealCluster: name => panel.revealCluster(name)
    });

    const category = trans.__('HPC');
    for (const command of [
      CommandIDs.openPanel,
      CommandIDs.openSettings,
      CommandIDs.checkSidecar
    ]) {
      palette?.addItem({ command, category });
    }
  }
};
