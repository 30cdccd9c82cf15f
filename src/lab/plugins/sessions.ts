import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { ISessionsModel, SessionsModel } from '../sessions/model';
import { ISidecarModel } from '../sidecar/model';
import { IHpcSessions, IHpcSidecar } from '../tokens';

/**
 * JupyterLab sessions in SLURM jobs: the model the panel, the launch form,
 * the Running sidebar and the notifications share. The sidecar polls the
 * scheduler more slowly while this page is hidden.
 */
export const sessionsPlugin: JupyterFrontEndPlugin<ISessionsModel> = {
  id: 'jupyterlab-hpc:sessions',
  description: 'JupyterLab sessions in SLURM jobs on the clusters.',
  autoStart: true,
  provides: IHpcSessions,
  requires: [IHpcSidecar],
  activate: (app: JupyterFrontEnd, sidecar: ISidecarModel): ISessionsModel => {
    const sessions = new SessionsModel({
      sidecar,
      serverSettings: app.serviceManager.serverSettings
    });
    const onVisibility = () =>
      void sessions
        .setVisible(document.visibilityState !== 'hidden')
        .catch(() => undefined);
    document.addEventListener('visibilitychange', onVisibility);
    onVisibility();
    return sessions;
  }
};
