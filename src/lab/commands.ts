import { JupyterFrontEnd } from '@jupyterlab/application';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, settingsIcon } from '@jupyterlab/ui-components';

import { hpcIcon } from './icons';
import { IClusterSettings } from './settings/model';
import { ISidecarModel } from './sidecar/model';

export namespace CommandIDs {
  export const openPanel = 'hpc:open-panel';
  export const openCluster = 'hpc:open-cluster';
  export const openSettings = 'hpc:open-settings';
  export const checkSidecar = 'hpc:check-sidecar';
}

/** The id of the left side panel, for `app.shell.activateById`. */
export const PANEL_ID = 'jp-hpc-panel';

export interface ICommandContext {
  app: JupyterFrontEnd;
  trans: TranslationBundle;
  sidecar: ISidecarModel;
  clusters: IClusterSettings;
  /** Scroll the panel to a cluster and highlight it. */
  revealCluster: (name: string) => void;
}

export function addCommands(ctx: ICommandContext): void {
  const { app, trans, sidecar, clusters } = ctx;
  const { commands } = app;

  commands.addCommand(CommandIDs.openPanel, {
    label: args =>
      args.isLauncher ? trans.__('HPC Clusters') : trans.__('Show HPC Panel'),
    caption: trans.__(
      'Show the HPC side panel: clusters, sessions and the sidecar'
    ),
    icon: hpcIcon,
    isEnabled: () => true,
    describedBy: { args: { type: 'object', properties: {} } },
    execute: () => app.shell.activateById(PANEL_ID)
  });

  commands.addCommand(CommandIDs.openCluster, {
    label: args => String(args.name ?? trans.__('Cluster')),
    caption: args =>
      trans.__('Show the cluster %1 in the HPC panel', String(args.name ?? '')),
    icon: hpcIcon,
    isEnabled: args =>
      clusters.clusters.some(c => c.name === String(args.name ?? '')),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: trans.__('The cluster name') }
        },
        required: ['name']
      }
    },
    execute: args => {
      app.shell.activateById(PANEL_ID);
      ctx.revealCluster(String(args.name));
    }
  });

  commands.addCommand(CommandIDs.openSettings, {
    label: trans.__('HPC Cluster Settings'),
    caption: trans.__('Add, edit or remove clusters and job defaults'),
    icon: settingsIcon,
    isEnabled: () => commands.hasCommand('settingeditor:open'),
    describedBy: { args: { type: 'object', properties: {} } },
    execute: () =>
      commands.execute('settingeditor:open', { query: 'HPC clusters' })
  });

  commands.addCommand(CommandIDs.checkSidecar, {
    label: trans.__('Check the HPC Sidecar Again'),
    caption: trans.__('Ask the jupyterlab-hpc sidecar for its health now'),
    icon: refreshIcon,
    isEnabled: () => true,
    describedBy: { args: { type: 'object', properties: {} } },
    execute: () => sidecar.refresh()
  });
}
