import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IKeySetupRequest, IKeySetupResult } from '../../common/api';
import { newFormId, TextField } from './form-field';
import { IValidatingBody, ValidatingDialog } from './validating-dialog';

/** Where `ssh-keygen` would be told to write the key of a cluster. */
export function defaultKeyPath(cluster: string): string {
  return `~/.ssh/id_ed25519_${cluster}`;
}

type KeyProblem = 'path-required' | 'mismatch';

/**
 * The body of "Set up SSH key": the key file and an optional passphrase,
 * typed twice. The passphrase never enters React state; `getValue()` reads
 * it once and empties the inputs.
 */
export class KeySetupForm
  extends ReactWidget
  implements IValidatingBody<IKeySetupRequest>
{
  constructor(
    private readonly _cluster: string,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HpcKeySetupForm');
    this._keyPath = defaultKeyPath(_cluster);
  }

  readonly ids = {
    keyPath: newFormId('key-path'),
    passphrase: newFormId('passphrase'),
    repeat: newFormId('passphrase-repeat')
  };

  validate(): boolean {
    this._showAll = true;
    this.update();
    const problems = this._problems();
    const first = problems.keyPath
      ? this.ids.keyPath
      : problems.repeat
        ? this.ids.repeat
        : null;
    if (first) {
      this.node.querySelector<HTMLInputElement>(`#${first}`)?.focus();
    }
    return first === null;
  }

  /** The request, read once: the passphrase inputs are emptied. */
  getValue(): IKeySetupRequest {
    const request: IKeySetupRequest = { keyPath: this._keyPath.trim() };
    const passphrase = this._input(this.ids.passphrase)?.value ?? '';
    this._wipe();
    if (passphrase) {
      request.passphrase = passphrase;
    }
    return request;
  }

  protected render(): React.ReactElement {
    const trans = this._trans;
    const problems = this._problems();
    const problem = (p: KeyProblem | undefined): string | null => {
      if (!p || !this._showAll) {
        return null;
      }
      return p === 'path-required'
        ? trans.__('Required.')
        : trans.__('The two passphrases differ.');
    };
    return (
      <div className="jp-HpcForm">
        <p className="jp-HpcForm-intro">
          {trans.__(
            'Creates an ed25519 key pair on this computer (or reuses the file if it exists) and adds its public key to ~/.ssh/authorized_keys on %1, with one password or verification-code login. From then on %1 connects with the key.',
            this._cluster
          )}
        </p>
        <TextField
          id={this.ids.keyPath}
          label={trans.__('Key file')}
          value={this._keyPath}
          hint={trans.__(
            'The private key; the public key goes beside it (.pub).'
          )}
          problem={problem(problems.keyPath)}
          onChange={value => {
            this._keyPath = value;
            this.update();
          }}
        />
        {/* Uncontrolled: the passphrase never enters React state. */}
        <PassphraseField
          id={this.ids.passphrase}
          label={trans.__('Passphrase (optional)')}
          hint={trans.__(
            'Encrypts the key file; JupyterLab asks for it when it connects and never stores it. Leave empty for none.'
          )}
          onInput={() => this._showAll && this.update()}
        />
        <PassphraseField
          id={this.ids.repeat}
          label={trans.__('Passphrase again')}
          problem={problem(problems.repeat)}
          onInput={() => this._showAll && this.update()}
        />
      </div>
    );
  }

  private _problems(): { keyPath?: KeyProblem; repeat?: KeyProblem } {
    const problems: { keyPath?: KeyProblem; repeat?: KeyProblem } = {};
    if (!this._keyPath.trim()) {
      problems.keyPath = 'path-required';
    }
    const first = this._input(this.ids.passphrase)?.value ?? '';
    const second = this._input(this.ids.repeat)?.value ?? '';
    if (first !== second) {
      problems.repeat = 'mismatch';
    }
    return problems;
  }

  private _wipe(): void {
    for (const id of [this.ids.passphrase, this.ids.repeat]) {
      const input = this._input(id);
      if (input) {
        input.value = '';
      }
    }
  }

  private _input(id: string): HTMLInputElement | null {
    return this.node.querySelector<HTMLInputElement>(`#${id}`);
  }

  private _keyPath: string;
  private _showAll = false;
}

function PassphraseField(props: {
  id: string;
  label: string;
  hint?: string;
  problem?: string | null;
  onInput: () => void;
}): React.ReactElement {
  const { id, label, hint, problem } = props;
  const note = problem ?? hint;
  return (
    <div className="jp-HpcForm-field">
      <label className="jp-HpcForm-label" htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        className="jp-mod-styled jp-HpcForm-input"
        type="password"
        autoComplete="new-password"
        aria-invalid={problem ? true : undefined}
        aria-describedby={note ? `${id}-note` : undefined}
        onInput={props.onInput}
      />
      {note && (
        <div
          id={`${id}-note`}
          className={problem ? 'jp-HpcForm-problem' : 'jp-HpcForm-hint'}
        >
          {note}
        </div>
      )}
    </div>
  );
}

/** Ask where to create the key and for its passphrase; null if cancelled. */
export async function showKeySetupDialog(
  cluster: string,
  trans: TranslationBundle
): Promise<IKeySetupRequest | null> {
  const form = new KeySetupForm(cluster, trans);
  const title = trans.__('Set up an SSH key for %1', cluster);
  const dialog = new ValidatingDialog<IKeySetupRequest>({
    title,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Create and install') })
    ],
    focusNodeSelector: `#${form.ids.keyPath}`
  });
  dialog.node.setAttribute('aria-label', title);
  // Disposed before it was answered: no answer.
  const result = await dialog.launch().catch(() => null);
  return result?.button.accept ? result.value : null;
}

/** What key setup did, in a dialog the user can copy the fingerprint from. */
export async function showKeySetupResult(
  cluster: string,
  result: IKeySetupResult,
  trans: TranslationBundle
): Promise<void> {
  const body = (
    <div className="jp-HpcKeySetupResult">
      <dl className="jp-HpcPrompt-facts">
        <dt>{trans.__('Key file')}</dt>
        <dd>
          <code>{result.keyPath}</code>{' '}
          {result.created
            ? trans.__('(created)')
            : trans.__('(existed, reused)')}
        </dd>
        <dt>{trans.__('Fingerprint')}</dt>
        <dd>
          <code className="jp-HpcPrompt-fingerprint">{result.fingerprint}</code>
        </dd>
        <dt>{trans.__('On %1', cluster)}</dt>
        <dd>
          {result.installed
            ? trans.__('Public key added to ~/.ssh/authorized_keys')
            : trans.__('The public key was already there')}
        </dd>
      </dl>
      <p
        className={result.verified ? 'jp-HpcForm-hint' : 'jp-HpcForm-warning'}
        role="status"
      >
        {result.verified
          ? trans.__(
              '%1 now connects with this key, without a password.',
              cluster
            )
          : trans.__(
              'A login with the key did not work yet. The cluster may not allow key logins, or may need a moment; try "Test connection".'
            )}
      </p>
    </div>
  );
  const title = result.verified
    ? trans.__('SSH key set up for %1', cluster)
    : trans.__('SSH key installed on %1, not verified', cluster);
  const dialog = new Dialog({
    title,
    body,
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
  dialog.node.setAttribute('aria-label', title);
  await dialog.launch().catch(() => undefined);
}
