import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { IKernelsModel } from '../kernels/model';
import { AllocationRunningManager } from '../kernels/running';
import { ISessionsModel } from '../sessions/model';
import { SessionRunningManager } from '../sessions/running';
import {
  IHpcKernels,
  IHpcSessions,
  PANEL_ID,
  TRANSLATION_DOMAIN
} from '../tokens';

/** The sessions in JupyterLab's Running sidebar, with Open and Shut down. */
export const runningSessionsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:running-sessions',
  description:
    'Lists the JupyterLab sessions in SLURM jobs in the Running sidebar, with open and shut down.',
  autoStart: true,
  requires: [IHpcSessions, IRunningSessionManagers],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sessions: ISessionsModel,
    managers: IRunningSessionManagers,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    managers.add(
      new SessionRunningManager({ sessions, commands: app.commands, trans })
    );
  }
};

/** Cluster kernel allocations in the Running sidebar, with End allocation. */
export const runningAllocationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:running-kernel-allocations',
  description:
    'Lists the jobs holding cluster kernels in the Running sidebar, with their kernels, time left and end.',
  autoStart: true,
  requires: [IHpcKernels, IRunningSessionManagers],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    kernels: IKernelsModel,
    managers: IRunningSessionManagers,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    managers.add(
      new AllocationRunningManager({
        kernels,
        commands: app.commands,
        trans,
        reveal: () => app.shell.activateById(PANEL_ID)
      })
    );
  }
};
