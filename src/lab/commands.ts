import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  checkIcon,
  closeIcon,
  deleteIcon,
  editIcon,
  linkIcon,
  lockIcon,
  refreshIcon,
  settingsIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IKeySetupResult } from '../common/api';
import { IClusterConfig } from '../common/settings';
import {
  confirmRemoveCluster,
  showClusterDialog
} from './clusters/cluster-dialog';
import {
  showKeySetupDialog,
  showKeySetupResult
} from './clusters/key-setup-dialog';
import { testHeadline } from './clusters/messages';
import { IClusterModel, toFailure } from './clusters/model';
import { hpcIcon } from './icons';
import { IClusterSettings } from './settings/model';
import { ISidecarModel } from './sidecar/model';

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

export interface IClusterCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  clusters: IClusterModel;
}

/** The `{ name }` argument every per-cluster command takes. */
const NAME_ARG = (trans: TranslationBundle) => ({
  args: {
    type: 'object' as const,
    properties: {
      name: { type: 'string', description: trans.__('The cluster name') }
    },
    required: ['name']
  }
});

/**
 * Why an action failed, unless the user chose it: cancelling a prompt or
 * declining a host key needs no error message.
 */
function notifyFailure(err: unknown, sentence: (message: string) => string) {
  const failure = toFailure(err);
  if (
    failure.code === 'auth-cancelled' ||
    failure.code === 'host-key-rejected'
  ) {
    return;
  }
  Notification.error(sentence(failure.message), { autoClose: false });
}

/** Add, edit, remove, connect, test and key setup of clusters. */
export function addClusterCommands(ctx: IClusterCommandContext): void {
  const { commands, trans, settings, clusters } = ctx;
  const nameOf = (args: ReadonlyPartialJSONObject) => String(args.name ?? '');
  const find = (args: ReadonlyPartialJSONObject): IClusterConfig | null =>
    settings.clusters.find(c => c.name === nameOf(args)) ?? null;
  const state = (args: ReadonlyPartialJSONObject) =>
    clusters.status(nameOf(args))?.state ?? 'idle';
  const usable = (args: ReadonlyPartialJSONObject) =>
    clusters.available && find(args) !== null;

  const save = async (list: IClusterConfig[], failed: string) => {
    try {
      await settings.setClusters(list);
      return true;
    } catch (err) {
      Notification.error(trans.__('%1: %2', failed, toFailure(err).message), {
        autoClose: false
      });
      return false;
    }
  };

  const reveal = (name: string) => {
    if (commands.hasCommand(CommandIDs.openCluster)) {
      void commands.execute(CommandIDs.openCluster, { name });
    }
  };

  commands.addCommand(CommandIDs.addCluster, {
    label: trans.__('Add Cluster…'),
    caption: trans.__(
      'Add an HPC cluster: a host from ~/.ssh/config or any SSH login node'
    ),
    icon: addIcon,
    isEnabled: () => settings.canWrite,
    describedBy: { args: { type: 'object', properties: {} } },
    execute: async () => {
      const cluster = await showClusterDialog({
        trans,
        takenNames: settings.clusters.map(c => c.name),
        loadHosts: () => clusters.sshHosts()
      });
      if (
        cluster &&
        (await save(
          [...settings.clusters, cluster],
          trans.__('Cluster %1 could not be added', cluster.name)
        ))
      ) {
        reveal(cluster.name);
      }
    }
  });

  commands.addCommand(CommandIDs.editCluster, {
    label: trans.__('Edit Cluster…'),
    caption: args =>
      trans.__('Change the settings of the cluster %1', nameOf(args)),
    icon: editIcon,
    isEnabled: args => settings.canWrite && find(args) !== null,
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const old = find(args);
      if (!old) {
        return;
      }
      const cluster = await showClusterDialog({
        trans,
        cluster: old,
        takenNames: settings.clusters
          .map(c => c.name)
          .filter(n => n !== old.name),
        loadHosts: () => clusters.sshHosts()
      });
      if (!cluster) {
        return;
      }
      // The list may have changed while the dialog was open.
      const list = settings.clusters.map(c =>
        c.name === old.name ? cluster : c
      );
      if (
        await save(list, trans.__('Cluster %1 could not be saved', old.name))
      ) {
        reveal(cluster.name);
      }
    }
  });

  commands.addCommand(CommandIDs.removeCluster, {
    label: trans.__('Remove Cluster…'),
    caption: args =>
      trans.__('Remove the cluster %1 from the HPC settings', nameOf(args)),
    icon: deleteIcon,
    isEnabled: args => settings.canWrite && find(args) !== null,
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const name = nameOf(args);
      if (!find(args) || !(await confirmRemoveCluster(name, trans))) {
        return;
      }
      await save(
        settings.clusters.filter(c => c.name !== name),
        trans.__('Cluster %1 could not be removed', name)
      );
    }
  });

  commands.addCommand(CommandIDs.connectCluster, {
    label: trans.__('Connect'),
    caption: args => trans.__('Connect to %1 now', nameOf(args)),
    icon: linkIcon,
    isEnabled: args =>
      usable(args) &&
      !clusters.isBusy(nameOf(args), 'connect') &&
      ['idle', 'error'].includes(state(args)),
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const name = nameOf(args);
      try {
        return await clusters.connect(name);
      } catch (err) {
        notifyFailure(err, message =>
          trans.__('Could not connect to %1: %2', name, message)
        );
      }
    }
  });

  commands.addCommand(CommandIDs.disconnectCluster, {
    label: trans.__('Disconnect'),
    caption: args =>
      trans.__('Close the connection to %1 and its forwards', nameOf(args)),
    icon: closeIcon,
    isEnabled: args =>
      usable(args) &&
      !clusters.isBusy(nameOf(args), 'disconnect') &&
      !['idle', 'error'].includes(state(args)),
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const name = nameOf(args);
      try {
        await clusters.disconnect(name);
      } catch (err) {
        notifyFailure(err, message =>
          trans.__('Could not disconnect from %1: %2', name, message)
        );
      }
    }
  });

  commands.addCommand(CommandIDs.testCluster, {
    label: trans.__('Test Connection'),
    caption: args =>
      trans.__(
        'Measure the round trip to %1 and look for SLURM, conda, mamba and micromamba',
        nameOf(args)
      ),
    icon: checkIcon,
    isEnabled: args => usable(args) && !clusters.isBusy(nameOf(args), 'test'),
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const name = nameOf(args);
      try {
        const result = await clusters.test(name);
        Notification.success(testHeadline(name, result, trans), {
          autoClose: 5000
        });
        return result;
      } catch (err) {
        notifyFailure(err, message =>
          trans.__('The connection test of %1 failed: %2', name, message)
        );
      }
    }
  });

  commands.addCommand(CommandIDs.setupKey, {
    label: trans.__('Set Up SSH Key…'),
    caption: args =>
      trans.__(
        'Create an ed25519 key pair and install it on %1 with one password login',
        nameOf(args)
      ),
    icon: lockIcon,
    isEnabled: args =>
      usable(args) &&
      find(args)?.transport !== 'local' &&
      !clusters.isBusy(nameOf(args), 'setup-key'),
    describedBy: NAME_ARG(trans),
    execute: async args => {
      const name = nameOf(args);
      const request = await showKeySetupDialog(name, trans);
      if (!request) {
        return;
      }
      let result: IKeySetupResult;
      try {
        result = await clusters.setupKey(name, request);
      } catch (err) {
        notifyFailure(err, message =>
          trans.__('The SSH key setup for %1 failed: %2', name, message)
        );
        return;
      } finally {
        delete request.passphrase;
      }
      // Connect with the new key from now on.
      const cluster = find(args);
      if (cluster && cluster.identityFile !== result.keyPath) {
        await save(
          settings.clusters.map(c =>
            c.name === name ? { ...c, identityFile: result.keyPath } : c
          ),
          trans.__('The key of %1 could not be saved in the settings', name)
        );
      }
      await showKeySetupResult(name, result, trans);
    }
  });
}
