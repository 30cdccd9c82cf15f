import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ISessionsModel } from '../sessions/model';
import { SessionRunningManager } from '../sessions/running';
import { IHpcSessions, TRANSLATION_DOMAIN } from '../tokens';

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
