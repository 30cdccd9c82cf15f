import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import {
  addClusterPaletteItems,
  addClusterRowMenu
} from '../commands/cluster-menus';
import { addAttachCommand } from '../commands/sessions-attach';
import { addLaunchCommand } from '../commands/sessions-launch';
import { ISessionInfo } from '../../common/api';
import { IEnvironmentsModel } from '../envs/model';
import { StateLaunchMemory } from '../launch/memory';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  CommandIDs,
  IHpcClusterSettings,
  IHpcEnvironments,
  IHpcSessions,
  IHpcSidecar,
  PANEL_ID,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * "JupyterLab on <cluster>": the launch command and its form, and the
 * attach command for sessions started from another computer, in the
 * palette and the cluster rows' context menu (the launcher tiles and the
 * row button are the launcher's and the panel's).
 */
export const launchPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:launch',
  description:
    'The "JupyterLab on <cluster>" command and its form (a SLURM job running JupyterLab), and attaching to sessions started elsewhere.',
  autoStart: true,
  requires: [IHpcSessions, IHpcClusterSettings, IHpcSidecar],
  optional: [IHpcEnvironments, IStateDB, ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    sessions: ISessionsModel,
    settings: IClusterSettings,
    sidecar: ISidecarModel,
    envs: IEnvironmentsModel | null,
    state: IStateDB | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;
    const hitTest = (test: (node: HTMLElement) => boolean) =>
      app.contextMenuHitTest(test);
    const reveal = (session: ISessionInfo) => {
      if (commands.hasCommand(CommandIDs.openCluster)) {
        void commands.execute(CommandIDs.openCluster, {
          name: session.cluster
        });
      } else {
        app.shell.activateById(PANEL_ID);
      }
    };
    addLaunchCommand({
      commands,
      trans,
      settings,
      sessions,
      envs,
      memory: state ? new StateLaunchMemory(state) : null,
      hitTest,
      reveal
    });
    addAttachCommand({ commands, trans, settings, sessions, hitTest, reveal });
    // Enabled only while the sidecar can take the request.
    const notify = () => {
      commands.notifyCommandChanged(CommandIDs.launchSession);
      commands.notifyCommandChanged(CommandIDs.attachSession);
    };
    sidecar.stateChanged.connect(notify);
    settings.changed.connect(notify);

    // First in the row's context menu: the cluster's main action, then
    // its sessions started elsewhere.
    addClusterRowMenu(app, [CommandIDs.launchSession], -1);
    addClusterRowMenu(app, [CommandIDs.attachSession], -0.5);
    if (palette) {
      addClusterPaletteItems(
        palette,
        settings,
        [
          { command: CommandIDs.launchSession, argsFor: name => ({ name }) },
          { command: CommandIDs.attachSession, argsFor: name => ({ name }) }
        ],
        trans.__('HPC')
      );
    }
  }
};
