import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { ITasksModel, TasksModel } from '../envs/tasks-model';
import { ISidecarModel } from '../sidecar/model';
import { IHpcSidecar, IHpcTasks } from '../tokens';

/** Follows the install tasks the sidecar runs and their streamed output. */
export const tasksPlugin: JupyterFrontEndPlugin<ITasksModel> = {
  id: 'jupyterlab-hpc:tasks',
  description:
    'The install tasks the sidecar runs (ipykernel, Miniforge) and their output.',
  autoStart: true,
  provides: IHpcTasks,
  requires: [IHpcSidecar],
  activate: (app: JupyterFrontEnd, sidecar: ISidecarModel): ITasksModel =>
    new TasksModel({
      sidecar,
      serverSettings: app.serviceManager.serverSettings
    })
};
