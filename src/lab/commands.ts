import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  checkIcon,
  closeIcon,
  deleteIcon,
  downloadIcon,
  editIcon,
  jupyterIcon,
  kernelIcon,
  linkIcon,
  lockIcon,
  refreshIcon,
  settingsIcon,
  terminalIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  ICondaEnvironment,
  IKeySetupResult,
  LOCAL_TARGET
} from '../common/api';
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
import { confirmInstallIpykernel, showMiniforgeDialog } from './envs/dialogs';
import {
  installIpykernelCommand,
  jupyterEnvironmentValue,
  targetLabel
} from './envs/messages';
import { IEnvironmentsModel } from './envs/model';
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
  export const refreshEnvs = 'hpc:refresh-envs';
  export const registerKernel = 'hpc:register-kernel';
  export const unregisterKernel = 'hpc:unregister-kernel';
  export const installIpykernel = 'hpc:install-ipykernel';
  export const installMiniforge = 'hpc:install-miniforge';
  export const useForJupyterLab = 'hpc:use-env-for-jupyterlab';
  export const showTask = 'hpc:show-task';
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

export interface IEnvCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  envs: IEnvironmentsModel;
  /** Hands changed cluster settings to the sidecar (IClusterModel.sync). */
  syncClusters?: () => Promise<void>;
  /** Open, or bring to the front, the output of a task. */
  showTask: (id: string) => void;
}

/** The `{ target, prefix }` arguments of the per-environment commands. */
const ENV_ARGS = (trans: TranslationBundle) => ({
  args: {
    type: 'object' as const,
    properties: {
      target: {
        type: 'string',
        description: trans.__('The cluster name, or ":local" for this computer')
      },
      prefix: {
        type: 'string',
        description: trans.__('The absolute path of the environment')
      }
    },
    required: ['target', 'prefix']
  }
});

/**
 * The environment commands: rescan, register and unregister kernels,
 * install ipykernel or Miniforge (streamed tasks), and choose the env that
 * runs JupyterLab on a cluster.
 */
export function addEnvironmentCommands(ctx: IEnvCommandContext): void {
  const { commands, trans, settings, envs } = ctx;
  const targetOf = (args: ReadonlyPartialJSONObject) =>
    String(args.target ?? args.cluster ?? '');
  const knownTarget = (target: string) =>
    target === LOCAL_TARGET || settings.clusters.some(c => c.name === target);
  const envOf = (args: ReadonlyPartialJSONObject): ICondaEnvironment | null =>
    envs.env(targetOf(args), String(args.prefix ?? ''));
  const where = (args: ReadonlyPartialJSONObject) =>
    targetLabel(targetOf(args), trans);
  const nameOf = (args: ReadonlyPartialJSONObject) =>
    envOf(args)?.name ?? String(args.prefix ?? '');
  const fail = (err: unknown, sentence: (message: string) => string) =>
    Notification.error(sentence(toFailure(err).message), {
      autoClose: false
    });

  commands.addCommand(CommandIDs.refreshEnvs, {
    label: args =>
      targetOf(args) === LOCAL_TARGET
        ? trans.__('Rescan Environments of This Computer')
        : trans.__('Rescan Environments on %1', targetOf(args)),
    caption: args =>
      trans.__('Look for conda environments on %1 again', where(args)),
    icon: refreshIcon,
    isEnabled: args =>
      envs.available &&
      knownTarget(targetOf(args)) &&
      !envs.state(targetOf(args)).loading,
    describedBy: {
      args: {
        type: 'object',
        properties: {
          target: {
            type: 'string',
            description: trans.__(
              'The cluster name, or ":local" for this computer'
            )
          }
        },
        required: ['target']
      }
    },
    execute: async args => {
      const target = targetOf(args);
      await envs.load(target, { refresh: true });
      const error = envs.state(target).error;
      if (error) {
        Notification.error(
          trans.__(
            'The environments on %1 could not be listed: %2',
            where(args),
            error.message
          ),
          { autoClose: false }
        );
      }
    }
  });

  commands.addCommand(CommandIDs.registerKernel, {
    label: trans.__('Register Kernel'),
    caption: args => {
      const env = envOf(args);
      const list = envs.state(targetOf(args)).list;
      if (env && targetOf(args) !== LOCAL_TARGET && !list?.kernelsDir) {
        return trans.__(
          'No JupyterLab environment was found on %1 to register the kernel in; choose one with "Use for JupyterLab"',
          where(args)
        );
      }
      return targetOf(args) === LOCAL_TARGET
        ? trans.__(
            'Make %1 a kernel of this JupyterLab: "%2" in the kernel picker and the launcher',
            nameOf(args),
            env?.displayName ?? nameOf(args)
          )
        : trans.__(
            'Make %1 a kernel in the JupyterLab environment of %2: "%3"',
            nameOf(args),
            where(args),
            env?.displayName ?? nameOf(args)
          );
    },
    icon: kernelIcon,
    isEnabled: args => {
      const env = envOf(args);
      const target = targetOf(args);
      return (
        envs.available &&
        env !== null &&
        env.ipykernelVersion !== null &&
        env.registered === null &&
        !envs.isBusy(target, env.prefix, 'register') &&
        (target === LOCAL_TARGET || !!envs.state(target).list?.kernelsDir)
      );
    },
    describedBy: ENV_ARGS(trans),
    execute: async args => {
      const env = envOf(args);
      const target = targetOf(args);
      if (!env) {
        return;
      }
      try {
        const result = await envs.register(target, { prefix: env.prefix });
        const name = result.kernel.displayName;
        if (!result.created) {
          Notification.info(
            trans.__(
              'The kernel "%1" was registered already; nothing changed.',
              name
            ),
            { autoClose: 5000 }
          );
        } else if (target === LOCAL_TARGET) {
          Notification.success(
            trans.__(
              'Kernel "%1" registered: it is in the kernel picker and the launcher now.',
              name
            ),
            { autoClose: 5000 }
          );
        } else {
          Notification.success(
            trans.__('Kernel "%1" registered on %2.', name, target),
            { autoClose: 5000 }
          );
        }
        return result;
      } catch (err) {
        fail(err, message =>
          trans.__(
            'The kernel of %1 could not be registered: %2',
            env.name,
            message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.unregisterKernel, {
    label: trans.__('Unregister Kernel'),
    caption: args => {
      const kernel = envOf(args)?.registered;
      if (kernel && !kernel.managed) {
        return trans.__(
          'The kernel %1 was not registered by jupyterlab-hpc, so it is left alone; remove it with: jupyter kernelspec remove %1',
          kernel.name
        );
      }
      return trans.__(
        'Remove the kernel "%1" from %2',
        kernel?.displayName ?? nameOf(args),
        where(args)
      );
    },
    icon: deleteIcon,
    isEnabled: args => {
      const env = envOf(args);
      return (
        envs.available &&
        !!env?.registered?.managed &&
        !envs.isBusy(targetOf(args), env.prefix, 'unregister')
      );
    },
    describedBy: ENV_ARGS(trans),
    execute: async args => {
      const env = envOf(args);
      const kernel = env?.registered;
      if (!env || !kernel) {
        return;
      }
      try {
        await envs.unregister(targetOf(args), kernel.name);
        Notification.success(
          trans.__('Kernel "%1" removed.', kernel.displayName),
          { autoClose: 5000 }
        );
      } catch (err) {
        fail(err, message =>
          trans.__(
            'The kernel "%1" could not be removed: %2',
            kernel.displayName,
            message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.installIpykernel, {
    label: trans.__('Install ipykernel…'),
    caption: args =>
      trans.__(
        'Install ipykernel into %1 on %2, so Jupyter can run it',
        nameOf(args),
        where(args)
      ),
    icon: downloadIcon,
    isEnabled: args => {
      const env = envOf(args);
      const target = targetOf(args);
      return (
        envs.available &&
        env !== null &&
        env.ipykernelVersion === null &&
        !envs.isBusy(target, env.prefix, 'install-ipykernel') &&
        envs.runningTask(target, 'install-ipykernel', env.prefix) === null
      );
    },
    describedBy: ENV_ARGS(trans),
    execute: async args => {
      const env = envOf(args);
      const target = targetOf(args);
      if (!env) {
        return;
      }
      const list = envs.state(target).list;
      const ok = await confirmInstallIpykernel({
        env,
        where: where(args),
        command: installIpykernelCommand(list, env),
        trans
      });
      if (!ok) {
        return;
      }
      try {
        const state = await envs.installIpykernel(target, env.prefix);
        ctx.showTask(state.task.id);
        return state.task;
      } catch (err) {
        fail(err, message =>
          trans.__(
            'ipykernel could not be installed into %1: %2',
            env.name,
            message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.installMiniforge, {
    label: trans.__('Install Miniforge…'),
    caption: args =>
      trans.__(
        'Install conda (Miniforge) in your home directory on %1',
        String(args.cluster ?? '')
      ),
    icon: downloadIcon,
    isEnabled: args => {
      const cluster = String(args.cluster ?? '');
      return (
        envs.available &&
        settings.clusters.some(c => c.name === cluster) &&
        envs.runningTask(cluster, 'install-miniforge') === null
      );
    },
    describedBy: {
      args: {
        type: 'object',
        properties: {
          cluster: {
            type: 'string',
            description: trans.__('The cluster name')
          }
        },
        required: ['cluster']
      }
    },
    execute: async args => {
      const cluster = String(args.cluster ?? '');
      const request = await showMiniforgeDialog(
        cluster,
        settings.conda.installerUrl,
        trans
      );
      if (!request) {
        return;
      }
      try {
        const state = await envs.installMiniforge(cluster, request);
        ctx.showTask(state.task.id);
        return state.task;
      } catch (err) {
        fail(err, message =>
          trans.__(
            'Miniforge could not be installed on %1: %2',
            cluster,
            message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.useForJupyterLab, {
    label: trans.__('Use for JupyterLab'),
    caption: args =>
      trans.__(
        'Make %2 the JupyterLab environment of %1: kernels are registered there',
        where(args),
        nameOf(args)
      ),
    icon: jupyterIcon,
    isEnabled: args => {
      const env = envOf(args);
      const target = targetOf(args);
      return (
        settings.canWrite &&
        target !== LOCAL_TARGET &&
        env !== null &&
        env.jupyterlabVersion !== null &&
        envs.state(target).list?.jupyterlabPrefix !== env.prefix &&
        !envs.isBusy(target, env.prefix, 'use-for-jupyterlab')
      );
    },
    describedBy: ENV_ARGS(trans),
    execute: async args => {
      const env = envOf(args);
      const target = targetOf(args);
      if (!env || target === LOCAL_TARGET) {
        return;
      }
      const value = jupyterEnvironmentValue(envs.state(target).list, env);
      await envs.runAction(
        target,
        env.prefix,
        'use-for-jupyterlab',
        async () => {
          try {
            await settings.setClusters(
              settings.clusters.map(c =>
                c.name === target ? { ...c, jupyterEnvironment: value } : c
              )
            );
          } catch (err) {
            fail(err, message =>
              trans.__(
                'The JupyterLab environment of %1 could not be saved: %2',
                target,
                message
              )
            );
            return;
          }
          // The sidecar must have the new setting before it lists again.
          await ctx.syncClusters?.();
          await envs.load(target, { refresh: true });
          Notification.success(
            trans.__(
              'The JupyterLab environment of %1 is %2 from now on; kernels are registered there.',
              target,
              env.name
            ),
            { autoClose: 5000 }
          );
        }
      );
    }
  });

  commands.addCommand(CommandIDs.showTask, {
    label: trans.__('Show Task Output'),
    caption: args =>
      trans.__(
        'Show the output of %1',
        envs.task(String(args.id ?? ''))?.task.title ?? trans.__('a task')
      ),
    icon: terminalIcon,
    isEnabled: args => typeof args.id === 'string' && args.id !== '',
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: { type: 'string', description: trans.__('The task id') }
        },
        required: ['id']
      }
    },
    execute: args => ctx.showTask(String(args.id))
  });
}
