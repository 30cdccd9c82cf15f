import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { PromptQueue } from '../clusters/prompts';
import { ISidecarModel } from '../sidecar/model';
import { IHpcSidecar, TRANSLATION_DOMAIN } from '../tokens';

/**
 * Shows what the sidecar asks while it connects (host keys, passphrases,
 * passwords, verification codes) in JupyterLab dialogs.
 */
export const promptsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:prompts',
  description:
    'Asks for host key trust, passphrases, passwords and verification codes in dialogs.',
  autoStart: true,
  requires: [IHpcSidecar],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecarModel,
    translator: ITranslator | null
  ): void => {
    new PromptQueue({
      sidecar,
      trans: (translator ?? nullTranslator).load(TRANSLATION_DOMAIN),
      serverSettings: app.serviceManager.serverSettings
    });
  }
};
