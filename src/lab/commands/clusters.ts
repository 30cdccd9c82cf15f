import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  checkIcon,
  closeIcon,
  deleteIcon,
  editIcon,
  linkIcon,
  lockIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IKeySetupResult } from '../../common/api';
import { IClusterConfig } from '../../common/settings';
import {
  confirmRemoveCluster,
  showClusterDialog
} from '../clusters/cluster-dialog';
import {
  showKeySetupDialog,
  showKeySetupResult
} from '../clusters/key-setup-dialog';
import { testHeadline } from '../clusters/messages';
import { IClusterModel, toFailure } from '../clusters/model';
import { IClusterSettings } from '../settings/model';
import { CommandIDs } from '../tokens';
import { ClusterArg, HitTest } from './cluster-arg';
import { ClusterToasts } from './cluster-toasts';

export interface IClusterCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  clusters: IClusterModel;
  /** The toasts about each cluster; one of its own without it. */
  toasts?: ClusterToasts;
  /** `app.contextMenuHitTest`, for the items of a cluster row's context menu. */
  hitTest?: HitTest | null;
}

/**
 * Add, edit, remove, connect, disconnect, test and key setup of clusters;
 * returns the toasts they show (`ctx.toasts`, or one made for them).
 * Connect, Disconnect and Test take the cluster from `{ name }`, from the
 * row of the context menu, or ask for it, so they can be bound to keys.
 */
export function addClusterCommands(ctx: IClusterCommandContext): ClusterToasts {
  const { commands, trans, settings, clusters } = ctx;
  const toasts = ctx.toasts ?? new ClusterToasts({ settings, clusters, trans });
  const arg = new ClusterArg(ctx.hitTest ?? null, trans);
  const nameOf = (args: ReadonlyPartialJSONObject) => arg.of(args) ?? '';
  const findByName = (name: string): IClusterConfig | null =>
    settings.clusters.find(c => c.name === name) ?? null;
  const find = (args: ReadonlyPartialJSONObject) => findByName(nameOf(args));
  const stateOf = (name: string) => clusters.status(name)?.state ?? 'idle';
  const usable = (name: string) =>
    clusters.available && findByName(name) !== null;

  /**
   * Why an action failed, unless the user chose it: cancelling a prompt or
   * declining a host key needs no error message.
   */
  const notifyFailure = (
    name: string,
    err: unknown,
    sentence: (message: string) => string
  ) => {
    const failure = toFailure(err);
    if (
      failure.code === 'auth-cancelled' ||
      failure.code === 'host-key-rejected'
    ) {
      return;
    }
    toasts.error(name, sentence(failure.message));
  };

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

  /**
   * A command on one cluster that works from the panel, the context menu,
   * the palette and key bindings; `can` says whether it applies to a cluster.
   */
  const addPerCluster = (
    id: string,
    options: {
      /** In the context menu of a row. */
      label: string;
      /** Names the cluster: palette entries with arguments, key bindings. */
      labelFor: (name: string) => string;
      /** Without a cluster: the command asks which. */
      labelAsking: string;
      caption: (name: string) => string;
      captionAsking: string;
      icon: typeof linkIcon;
      can: (name: string) => boolean;
      run: (name: string) => Promise<unknown>;
    }
  ) => {
    const candidates = () =>
      settings.clusters.map(c => c.name).filter(options.can);
    commands.addCommand(id, {
      label: args => {
        if (arg.asks(args)) {
          return options.labelAsking;
        }
        return args.isContextMenu
          ? options.label
          : options.labelFor(nameOf(args));
      },
      caption: args =>
        arg.asks(args) ? options.captionAsking : options.caption(nameOf(args)),
      icon: options.icon,
      isEnabled: args =>
        arg.asks(args) ? candidates().length > 0 : options.can(nameOf(args)),
      describedBy: arg.schema(),
      execute: async args => {
        const name = await arg.resolve(args, candidates(), options.labelAsking);
        if (name !== null && options.can(name)) {
          return options.run(name);
        }
      }
    });
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

  addPerCluster(CommandIDs.connectCluster, {
    label: trans.__('Connect'),
    labelFor: name => trans.__('Connect to %1', name),
    labelAsking: trans.__('Connect to Cluster…'),
    caption: name => trans.__('Connect to %1 now', name),
    captionAsking: trans.__('Choose a cluster and connect to it now'),
    icon: linkIcon,
    can: name =>
      usable(name) &&
      !clusters.isBusy(name, 'connect') &&
      ['idle', 'error'].includes(stateOf(name)),
    run: async name => {
      try {
        return await clusters.connect(name);
      } catch (err) {
        notifyFailure(name, err, message =>
          trans.__('Could not connect to %1: %2', name, message)
        );
      }
    }
  });

  addPerCluster(CommandIDs.disconnectCluster, {
    label: trans.__('Disconnect'),
    labelFor: name => trans.__('Disconnect from %1', name),
    labelAsking: trans.__('Disconnect from Cluster…'),
    caption: name =>
      trans.__('Close the connection to %1 and its forwards', name),
    captionAsking: trans.__(
      'Choose a connected cluster and close its connection and forwards'
    ),
    icon: closeIcon,
    can: name =>
      usable(name) &&
      !clusters.isBusy(name, 'disconnect') &&
      !['idle', 'error'].includes(stateOf(name)),
    run: async name => {
      try {
        await clusters.disconnect(name);
      } catch (err) {
        notifyFailure(name, err, message =>
          trans.__('Could not disconnect from %1: %2', name, message)
        );
      }
    }
  });

  addPerCluster(CommandIDs.testCluster, {
    label: trans.__('Test Connection'),
    labelFor: name => trans.__('Test Connection to %1', name),
    labelAsking: trans.__('Test Connection to Cluster…'),
    caption: name =>
      trans.__(
        'Measure the round trip to %1 and look for SLURM, conda, mamba and micromamba',
        name
      ),
    captionAsking: trans.__(
      'Choose a cluster, measure the round trip to it and look for SLURM, conda, mamba and micromamba'
    ),
    icon: checkIcon,
    can: name => usable(name) && !clusters.isBusy(name, 'test'),
    run: async name => {
      try {
        const result = await clusters.test(name);
        toasts.success(name, testHeadline(name, result, trans));
        return result;
      } catch (err) {
        notifyFailure(name, err, message =>
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
      usable(nameOf(args)) &&
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
        notifyFailure(name, err, message =>
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
  return toasts;
}

/** The `{ name }` argument of the commands that need a cluster given. */
const NAME_ARG = (trans: TranslationBundle) => ({
  args: {
    type: 'object' as const,
    properties: {
      name: { type: 'string', description: trans.__('The cluster name') }
    },
    required: ['name']
  }
});
