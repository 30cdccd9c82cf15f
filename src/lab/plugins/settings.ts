import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ClusterSettings, IClusterSettings } from '../settings/model';
import { IHpcClusterSettings } from '../tokens';

/**
 * Owns `schema/plugin.json`: the clusters and job defaults. The id's suffix
 * must stay `plugin` to match the schema file name.
 */
export const settingsPlugin: JupyterFrontEndPlugin<IClusterSettings> = {
  id: 'jupyterlab-hpc:plugin',
  description: 'The HPC clusters and job defaults from the settings registry.',
  autoStart: true,
  provides: IHpcClusterSettings,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null
  ): IClusterSettings => {
    const model = new ClusterSettings();
    if (!registry) {
      model.fail(new Error('this JupyterLab has no settings registry'));
      return model;
    }
    // Not awaited: nothing on JupyterLab's start-up path waits for settings.
    registry
      .load(settingsPlugin.id)
      .then(settings => model.attach(settings))
      .catch(reason => model.fail(reason));
    return model;
  }
};
