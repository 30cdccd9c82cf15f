import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addKernelCommands } from '../commands/kernels';
import { IEnvironmentsModel } from '../envs/model';
import { IKernelsModel, KernelsModel } from '../kernels/model';
import { KernelStartNotifier } from '../kernels/start-notifications';
import { KernelStartExtension } from '../kernels/start-toolbar';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { ISidecarModel } from '../sidecar/model';
import {
  CommandIDs,
  IHpcClusterSettings,
  IHpcEnvironments,
  IHpcKernels,
  IHpcSessions,
  IHpcSidecar,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Cluster kernels: the model of profiles, allocations and waiting starts
 * that the panel, the Running sidebar and the notebooks share. Profile
 * changes refresh JupyterLab's kernelspecs so the picker follows at once.
 */
export const kernelsPlugin: JupyterFrontEndPlugin<IKernelsModel> = {
  id: 'jupyterlab-hpc:kernels',
  description:
    'Cluster kernels: kernel profiles, the allocations they run in and the starts waiting in the queue.',
  autoStart: true,
  provides: IHpcKernels,
  requires: [IHpcSidecar],
  activate: (app: JupyterFrontEnd, sidecar: ISidecarModel): IKernelsModel =>
    new KernelsModel({
      sidecar,
      serverSettings: app.serviceManager.serverSettings,
      kernelspecs: app.serviceManager.kernelspecs
    })
};

/**
 * What the user does with cluster kernels: the profile dialog from an
 * environment row, End allocation, and in each notebook the queued start
 * ("Queued on hpc: Priority, estimated start 14:05", Cancel), also as a
 * notification seen from anywhere.
 */
export const kernelViewsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:kernel-views',
  description:
    'The cluster kernel profile dialog and commands, and the queued-start status in notebooks.',
  autoStart: true,
  requires: [IHpcKernels, IHpcSessions, IHpcClusterSettings],
  optional: [IHpcEnvironments, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    kernels: IKernelsModel,
    sessions: ISessionsModel,
    settings: IClusterSettings,
    envs: IEnvironmentsModel | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;
    addKernelCommands({ commands, trans, kernels, sessions, settings, envs });
    // Lists and the sidecar's state decide which actions are enabled.
    const notify = () => {
      for (const id of [
        CommandIDs.addKernelProfile,
        CommandIDs.editKernelProfile,
        CommandIDs.removeKernelProfile,
        CommandIDs.endAllocation,
        CommandIDs.cancelKernelStart
      ]) {
        commands.notifyCommandChanged(id);
      }
    };
    kernels.changed.connect(notify);
    sessions.changed.connect(notify);

    const extension = new KernelStartExtension({ kernels, trans });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      extension as unknown as Parameters<
        typeof app.docRegistry.addWidgetExtension
      >[1]
    );
    new KernelStartNotifier({ kernels, trans });
  }
};
