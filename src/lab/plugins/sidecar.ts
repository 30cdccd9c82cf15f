import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { ISidecarModel, SidecarModel } from '../sidecar/model';
import { IHpcSidecar } from '../tokens';

/** Keeps watch on the sidecar: health poll, version handshake, events. */
export const sidecarPlugin: JupyterFrontEndPlugin<ISidecarModel> = {
  id: 'jupyterlab-hpc:sidecar',
  description: 'Watches the jupyterlab-hpc sidecar and relays its events.',
  autoStart: true,
  provides: IHpcSidecar,
  activate: (app: JupyterFrontEnd): ISidecarModel =>
    new SidecarModel({ serverSettings: app.serviceManager.serverSettings })
};
