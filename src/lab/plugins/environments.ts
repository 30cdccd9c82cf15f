import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { LOCAL_TARGET } from '../../common/api';
import { IClusterModel } from '../clusters/model';
import {
  addClusterPaletteItems,
  addClusterRowMenu
} from '../commands/cluster-menus';
import { ClusterToasts } from '../commands/cluster-toasts';
import { addEnvironmentCommands } from '../commands/environments';
import { EnvironmentsModel, IEnvironmentsModel } from '../envs/model';
import { createTaskWidget, TaskView } from '../envs/task-view';
import { ITasksModel } from '../envs/tasks-model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  CommandIDs,
  IHpcClusters,
  IHpcClusterSettings,
  IHpcEnvironments,
  IHpcSidecar,
  IHpcTasks,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Conda environments and kernels: the model behind the panel's
 * Environments sections, the commands that register kernels and install
 * ipykernel or Miniforge, and the tabs that stream their output. Local
 * kernelspec changes refresh JupyterLab's kernelspecs at once, so the kernel
 * picker and the launcher tiles follow.
 */
export const environmentsPlugin: JupyterFrontEndPlugin<IEnvironmentsModel> = {
  id: 'jupyterlab-hpc:environments',
  description:
    'Conda environments of this computer and the clusters, kernel registration and install tasks.',
  autoStart: true,
  provides: IHpcEnvironments,
  requires: [IHpcSidecar, IHpcClusterSettings],
  optional: [IHpcClusters, ITranslator, ICommandPalette, IHpcTasks],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecarModel,
    settings: IClusterSettings,
    clusters: IClusterModel | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    tasks: ITasksModel | null
  ): IEnvironmentsModel => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;
    const syncClusters = clusters ? () => clusters.sync() : undefined;
    const envs = new EnvironmentsModel({
      sidecar,
      settings,
      serverSettings: app.serviceManager.serverSettings,
      kernelspecs: app.serviceManager.kernelspecs,
      syncClusters,
      tasks
    });

    const views = new Map<string, MainAreaWidget<TaskView>>();
    const showTask = (id: string) => {
      const open = views.get(id);
      if (open && !open.isDisposed) {
        app.shell.activateById(open.id);
        return;
      }
      views.set(id, createTaskWidget({ tasks: envs.taskModel, id, trans }));
      const widget = views.get(id)!;
      widget.disposed.connect(() => views.delete(id));
      app.shell.add(widget, 'main', { mode: 'split-bottom' });
      app.shell.activateById(widget.id);
    };

    addEnvironmentCommands({
      commands,
      trans,
      settings,
      envs,
      syncClusters,
      showTask,
      sessions: app.serviceManager.sessions,
      hitTest: test => app.contextMenuHitTest(test),
      toasts: new ClusterToasts({ settings, clusters, trans })
    });
    // Lists, busy states and tasks decide which actions are enabled.
    envs.changed.connect(() => commands.notifyCommandChanged());

    envs.taskEnded.connect((_, { task, prefix }) => {
      const show = {
        label: trans.__('Show output'),
        callback: () => showTask(task.id)
      };
      switch (task.state) {
        case 'succeeded': {
          const actions = [show];
          const args = { target: task.target, prefix: prefix ?? '' };
          if (
            task.kind === 'install-ipykernel' &&
            prefix &&
            commands.hasCommand(CommandIDs.registerKernel)
          ) {
            actions.unshift({
              label: trans.__('Register kernel'),
              callback: () =>
                void commands.execute(CommandIDs.registerKernel, args)
            });
          }
          Notification.success(trans.__('%1: done.', task.title), {
            autoClose: 8000,
            actions
          });
          break;
        }
        case 'failed':
          Notification.error(
            trans.__(
              '%1 failed: %2',
              task.title,
              task.error?.message ?? trans.__('see its output')
            ),
            { autoClose: false, actions: [show] }
          );
          break;
        case 'cancelled':
          Notification.info(trans.__('%1: cancelled.', task.title), {
            autoClose: 5000,
            actions: [show]
          });
          break;
        default:
          break;
      }
    });

    // After Connect, Disconnect and Test of the clusters plugin (ranks 0-2).
    addClusterRowMenu(app, [CommandIDs.refreshEnvs], 10);
    if (palette) {
      const category = trans.__('HPC');
      palette.addItem({
        command: CommandIDs.refreshEnvs,
        category,
        args: { target: LOCAL_TARGET }
      });
      addClusterPaletteItems(
        palette,
        settings,
        [
          {
            command: CommandIDs.refreshEnvs,
            argsFor: target => ({ target })
          }
        ],
        category
      );
    }
    return envs;
  }
};
