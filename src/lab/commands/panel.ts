import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, settingsIcon } from '@jupyterlab/ui-components';

import { hpcIcon } from '../icons';
import { sidecarMessage } from '../panel/messages';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { CommandIDs, PANEL_ID } from '../tokens';

export interface IPanelCommandContext {
  app: JupyterFrontEnd;
  trans: TranslationBundle;
  sidecar: ISidecarModel;
  clusters: IClusterSettings;
  /** Scroll the panel to a cluster and highlight it. */
  revealCluster: (name: string) => void;
}

/** Show the panel or a cluster in it, open the settings, check the sidecar. */
export function addPanelCommands(ctx: IPanelCommandContext): void {
  const { app, trans, sidecar, clusters } = ctx;
  const { commands } = app;

  commands.addCommand(CommandIDs.openPanel, {
    label: args =>
      args.isLauncher ? trans.__('HPC Clusters') : trans.__('Show HPC Panel'),
    caption: trans.__(
      'Show the HPC side panel: clusters and their conda environments'
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
    execute: () => checkSidecar(sidecar, trans)
  });
}

/**
 * Check the sidecar now, with a toast that says so while it runs and then
 * tells the outcome: the running version, or what is wrong and what to do.
 */
async function checkSidecar(
  sidecar: ISidecarModel,
  trans: TranslationBundle
): Promise<SidecarState> {
  const id = Notification.emit(
    trans.__('Checking the HPC sidecar…'),
    'in-progress',
    { autoClose: false }
  );
  try {
    await sidecar.refresh();
  } catch (err) {
    Notification.update({
      id,
      type: 'error',
      message: trans.__(
        'The HPC sidecar could not be checked: %1',
        err instanceof Error ? err.message : String(err)
      ),
      autoClose: false
    });
    return sidecar.state;
  }
  const state = sidecar.state;
  const { tone, title, detail, fix } = sidecarMessage(state, trans);
  if (state.status === 'ready' && tone === 'ok') {
    Notification.update({
      id,
      type: 'success',
      message: trans.__(
        'HPC sidecar is running (version %1).',
        state.health.version
      ),
      autoClose: 5000
    });
    return state;
  }
  // A toast shows 140 characters: the whole story is one click away.
  const actions: Notification.IAction[] = [
    {
      label: trans.__('Details'),
      callback: () =>
        void showDialog({
          title,
          body: fix ? `${detail}\n\n${fix}` : detail,
          buttons: [Dialog.okButton({ label: trans.__('Close') })]
        })
    }
  ];
  if (fix) {
    actions.unshift({
      label: trans.__('Copy command'),
      caption: fix,
      callback: () => Clipboard.copyToSystem(fix)
    });
  }
  Notification.update({
    id,
    type: tone === 'busy' ? 'info' : tone === 'warning' ? 'warning' : 'error',
    message: fix
      ? trans.__('%1. Run: %2', title, fix)
      : trans.__('%1: %2', title, detail),
    autoClose: false,
    actions
  });
  return state;
}
