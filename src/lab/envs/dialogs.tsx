import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ICondaEnvironment, IInstallMiniforgeRequest } from '../../common/api';
import { newFormId, TextField } from '../clusters/form-field';
import {
  IValidatingBody,
  ValidatingDialog
} from '../clusters/validating-dialog';
import { DEFAULT_MINIFORGE_PREFIX } from './messages';

type MiniforgeProblem = 'prefix-required' | 'prefix-relative' | 'url';

/**
 * The body of "Install Miniforge": where to install it, the installer to
 * download (the `conda.installerUrl` setting, so sites with a mirror set it
 * once) and whether to create the tutorial's `jupyterlab` environment.
 */
export class MiniforgeForm
  extends ReactWidget
  implements IValidatingBody<IInstallMiniforgeRequest>
{
  constructor(
    private readonly _cluster: string,
    installerUrl: string,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HpcMiniforgeForm');
    this._installerUrl = installerUrl;
  }

  readonly ids = {
    prefix: newFormId('miniforge-prefix'),
    url: newFormId('miniforge-url'),
    createEnv: newFormId('miniforge-create-env')
  };

  validate(): boolean {
    this._showAll = true;
    this.update();
    const problems = this._problems();
    const first = problems.prefix
      ? this.ids.prefix
      : problems.url
        ? this.ids.url
        : null;
    if (first) {
      this.node.querySelector<HTMLInputElement>(`#${first}`)?.focus();
    }
    return first === null;
  }

  getValue(): IInstallMiniforgeRequest {
    return {
      prefix: this._prefix.trim(),
      installerUrl: this._installerUrl.trim(),
      createJupyterlabEnv: this._createEnv
    };
  }

  protected render(): React.ReactElement {
    const trans = this._trans;
    const problems = this._problems();
    const say = (p: MiniforgeProblem | undefined): string | null => {
      if (!p || !this._showAll) {
        return null;
      }
      switch (p) {
        case 'prefix-required':
          return trans.__('Required.');
        case 'prefix-relative':
          return trans.__('An absolute path, or one that starts with ~/.');
        case 'url':
          return trans.__('An http:// or https:// address.');
      }
    };
    return (
      <div className="jp-HpcForm">
        <p className="jp-HpcForm-intro">
          {trans.__(
            'No conda, mamba or micromamba was found on %1. Miniforge installs conda and mamba in your home directory, without administrator rights, as the cluster tutorial does by hand. The output is shown while it runs.',
            this._cluster
          )}
        </p>
        <TextField
          id={this.ids.prefix}
          label={trans.__('Install into')}
          value={this._prefix}
          hint={trans.__(
            'On %1; must not exist yet. The tutorial uses %2.',
            this._cluster,
            DEFAULT_MINIFORGE_PREFIX
          )}
          problem={say(problems.prefix)}
          onChange={value => {
            this._prefix = value;
            this.update();
          }}
        />
        <TextField
          id={this.ids.url}
          label={trans.__('Installer URL')}
          value={this._installerUrl}
          hint={trans.__(
            '{arch} becomes the architecture of %1 (uname -m). Change the default in Settings → HPC clusters → Conda.',
            this._cluster
          )}
          problem={say(problems.url)}
          onChange={value => {
            this._installerUrl = value;
            this.update();
          }}
        />
        <div className="jp-HpcForm-field">
          <label className="jp-HpcForm-radio" htmlFor={this.ids.createEnv}>
            <input
              id={this.ids.createEnv}
              type="checkbox"
              checked={this._createEnv}
              aria-describedby={`${this.ids.createEnv}-note`}
              onChange={event => {
                this._createEnv = event.target.checked;
                this.update();
              }}
            />
            {trans.__('Also create the jupyterlab environment')}
          </label>
          <div id={`${this.ids.createEnv}-note`} className="jp-HpcForm-hint">
            {trans.__(
              'conda create -n jupyterlab jupyterlab ipykernel: the JupyterLab environment of the cluster, where registered kernels go.'
            )}
          </div>
        </div>
      </div>
    );
  }

  private _problems(): { prefix?: MiniforgeProblem; url?: MiniforgeProblem } {
    const problems: { prefix?: MiniforgeProblem; url?: MiniforgeProblem } = {};
    const prefix = this._prefix.trim();
    if (!prefix) {
      problems.prefix = 'prefix-required';
    } else if (!prefix.startsWith('/') && !prefix.startsWith('~/')) {
      problems.prefix = 'prefix-relative';
    }
    if (!/^https?:\/\/\S+$/.test(this._installerUrl.trim())) {
      problems.url = 'url';
    }
    return problems;
  }

  private _prefix = DEFAULT_MINIFORGE_PREFIX;
  private _installerUrl: string;
  private _createEnv = true;
  private _showAll = false;
}

/** Ask how to install Miniforge on `cluster`; null if cancelled. */
export async function showMiniforgeDialog(
  cluster: string,
  installerUrl: string,
  trans: TranslationBundle
): Promise<IInstallMiniforgeRequest | null> {
  const form = new MiniforgeForm(cluster, installerUrl, trans);
  const title = trans.__('Install Miniforge on %1', cluster);
  const dialog = new ValidatingDialog<IInstallMiniforgeRequest>({
    title,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Install') })
    ],
    focusNodeSelector: `#${form.ids.prefix}`
  });
  dialog.node.setAttribute('aria-label', title);
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ? result.value : null;
}

/**
 * Explain what ipykernel is for and how to add it by hand, and offer to run
 * the install. True if the user chose to run it.
 */
export async function confirmInstallIpykernel(options: {
  env: ICondaEnvironment;
  where: string;
  command: string;
  trans: TranslationBundle;
}): Promise<boolean> {
  const { env, where, command, trans } = options;
  const title = trans.__('Install ipykernel into %1?', env.name);
  const body = (
    <div className="jp-HpcForm">
      <p className="jp-HpcForm-intro">
        {trans.__(
          'Jupyter runs the Python of an environment as a kernel through the ipykernel package, and %1 does not have it. To add it yourself, run on %2:',
          env.name,
          where
        )}
      </p>
      <pre className="jp-HpcPanel-fix">
        <code>{command}</code>
      </pre>
      <p className="jp-HpcForm-intro">
        {trans.__(
          'Or choose Install to have it run for you now; its output is shown while it runs. Then register the kernel.'
        )}
      </p>
      <p className="jp-HpcForm-hint">{env.prefix}</p>
    </div>
  );
  const dialog = new Dialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Install') })
    ]
  });
  dialog.node.setAttribute('aria-label', title);
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ?? false;
}
