import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Session } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  deleteIcon,
  downloadIcon,
  jupyterIcon,
  kernelIcon,
  refreshIcon,
  terminalIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { ICondaEnvironment, LOCAL_TARGET } from '../../common/api';
import { toFailure } from '../clusters/model';
import { confirmInstallIpykernel, showMiniforgeDialog } from '../envs/dialogs';
import {
  installIpykernelCommand,
  jupyterEnvironmentValue,
  targetLabel
} from '../envs/messages';
import { IEnvironmentsModel } from '../envs/model';
import { IClusterSettings } from '../settings/model';
import { CommandIDs } from '../tokens';
import { ClusterArg, HitTest } from './cluster-arg';
import { ClusterToasts } from './cluster-toasts';

export interface IEnvCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  envs: IEnvironmentsModel;
  /** Hands changed cluster settings to the sidecar (IClusterModel.sync). */
  syncClusters?: () => Promise<void>;
  /** Open, or bring to the front, the output of a task. */
  showTask: (id: string) => void;
  /** The running sessions, to warn before removing a kernel they use. */
  sessions?: RunningSessions | null;
  /** `app.contextMenuHitTest`, for the items of a cluster row's context menu. */
  hitTest?: HitTest | null;
  /** Errors about a cluster go here, so they follow the cluster's state. */
  toasts?: ClusterToasts | null;
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
  const clusterArg = new ClusterArg(ctx.hitTest ?? null, trans);
  /** The target, or the cluster of the row the context menu was opened on. */
  const targetOf = (args: ReadonlyPartialJSONObject) =>
    String(
      args.target ??
        args.cluster ??
        clusterArg.of({ isContextMenu: args.isContextMenu ?? false }) ??
        ''
    );
  /** Rescan was given no target: it asks for one. */
  const asksTarget = (args: ReadonlyPartialJSONObject) =>
    targetOf(args) === '' && !args.isContextMenu;
  const knownTarget = (target: string) =>
    target === LOCAL_TARGET || settings.clusters.some(c => c.name === target);
  const envOf = (args: ReadonlyPartialJSONObject): ICondaEnvironment | null =>
    envs.env(targetOf(args), String(args.prefix ?? ''));
  const where = (args: ReadonlyPartialJSONObject) =>
    targetLabel(targetOf(args), trans);
  const nameOf = (args: ReadonlyPartialJSONObject) =>
    envOf(args)?.name ?? String(args.prefix ?? '');
  /** An error about a target: one about a cluster follows its state. */
  const errorAbout = (target: string, message: string) => {
    if (ctx.toasts && target !== LOCAL_TARGET) {
      ctx.toasts.error(target, message);
    } else {
      Notification.error(message, { autoClose: false });
    }
  };
  const fail = (
    target: string,
    err: unknown,
    sentence: (message: string) => string
  ) => errorAbout(target, sentence(toFailure(err).message));

  const canRescan = (target: string) =>
    envs.available && knownTarget(target) && !envs.state(target).loading;
  const rescanTargets = () => envs.targets.filter(canRescan);

  commands.addCommand(CommandIDs.refreshEnvs, {
    label: args => {
      if (asksTarget(args)) {
        return trans.__('Rescan Environments…');
      }
      if (args.isContextMenu) {
        return trans.__('Rescan Environments');
      }
      return targetOf(args) === LOCAL_TARGET
        ? trans.__('Rescan Environments of This Computer')
        : trans.__('Rescan Environments on %1', targetOf(args));
    },
    caption: args =>
      asksTarget(args)
        ? trans.__(
            'Choose this computer or a cluster and look for its conda environments again'
          )
        : trans.__('Look for conda environments on %1 again', where(args)),
    icon: refreshIcon,
    isEnabled: args =>
      asksTarget(args) ? rescanTargets().length > 0 : canRescan(targetOf(args)),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          target: {
            type: 'string',
            description: trans.__(
              'The cluster name, or ":local" for this computer; without it the command asks'
            )
          },
          isContextMenu: {
            type: 'boolean',
            description: trans.__(
              'Rescan the cluster whose row the context menu was opened on'
            )
          }
        }
      }
    },
    execute: async args => {
      const target = asksTarget(args)
        ? await askTarget(rescanTargets())
        : targetOf(args);
      if (!target || !canRescan(target)) {
        return;
      }
      const label = targetLabel(target, trans);
      await envs.load(target, { refresh: true });
      const error = envs.state(target).error;
      if (error) {
        errorAbout(
          target,
          trans.__(
            'The environments on %1 could not be listed: %2',
            label,
            error.message
          )
        );
      }
    }
  });

  /** Ask which target to rescan; "This computer" stands for LOCAL_TARGET. */
  const askTarget = async (targets: string[]): Promise<string | null> => {
    const here = targetLabel(LOCAL_TARGET, trans);
    const chosen = await clusterArg.resolve(
      {},
      targets.map(t => (t === LOCAL_TARGET ? here : t)),
      trans.__('Rescan Environments…')
    );
    return chosen === here ? LOCAL_TARGET : chosen;
  };

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
        fail(target, err, message =>
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
      const target = targetOf(args);
      if (
        target === LOCAL_TARGET &&
        !(await confirmUnregisterInUse(kernel, ctx.sessions ?? null, trans))
      ) {
        return;
      }
      try {
        await envs.unregister(target, kernel.name);
        Notification.success(
          target === LOCAL_TARGET
            ? trans.__('Kernel "%1" removed.', kernel.displayName)
            : trans.__(
                'Kernel "%1" removed from %2.',
                kernel.displayName,
                target
              ),
          { autoClose: 5000 }
        );
      } catch (err) {
        fail(target, err, message =>
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
        fail(target, err, message =>
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
        fail(cluster, err, message =>
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
            fail(target, err, message =>
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

/** The part of JupyterLab's session manager the kernel question uses. */
export type RunningSessions = Pick<
  Session.IManager,
  'running' | 'refreshRunning'
>;

/**
 * Like `jupyter kernelspec remove`, ask before removing a kernel, here when
 * open notebooks or consoles use it: they keep their running kernel but
 * cannot restart it. True when nothing uses it or the user confirms.
 */
async function confirmUnregisterInUse(
  kernel: { name: string; displayName: string },
  sessions: RunningSessions | null,
  trans: TranslationBundle
): Promise<boolean> {
  if (sessions) {
    // The list is polled: a notebook opened moments ago, or in another
    // tab, may not be in it yet.
    await sessions.refreshRunning().catch(() => undefined);
  }
  const users = sessions ? sessionsUsing(sessions, kernel.name) : [];
  if (users.length === 0) {
    return true;
  }
  const result = await showDialog({
    title: trans.__('Unregister the kernel "%1"?', kernel.displayName),
    body:
      users.length === 1
        ? trans.__(
            '%1 uses this kernel. It keeps running, but cannot be restarted with this kernel once it is unregistered.',
            users[0]
          )
        : trans.__(
            '%1 open documents use this kernel: %2. They keep running, but cannot be restarted with this kernel once it is unregistered.',
            users.length,
            users.join(', ')
          ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Unregister') })
    ]
  });
  return result.button.accept;
}

/** The paths of the running sessions whose kernel is of `kernelName`. */
export function sessionsUsing(
  sessions: RunningSessions,
  kernelName: string
): string[] {
  const paths: string[] = [];
  for (const session of sessions.running()) {
    if (session.kernel?.name === kernelName) {
      paths.push(session.path || session.name);
    }
  }
  return paths;
}
