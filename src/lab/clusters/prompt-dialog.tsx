import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IPrompt, IPromptAnswer, IPromptField } from '../../common/api';
import { newFormId } from './form-field';

/** A label that asks for a one-time code (2FA), not a password. */
const CODE_LABEL =
  /\b(code|otp|token|verification|one[- ]?time|2fa|mfa|totp|passcode|pin|duo|authenticator)\b/i;

/** The `autocomplete` of a prompt field: codes may come from the phone. */
export function fieldAutocomplete(
  prompt: IPrompt,
  field: IPromptField
): 'one-time-code' | 'off' {
  return prompt.kind === 'keyboard-interactive' && CODE_LABEL.test(field.label)
    ? 'one-time-code'
    : 'off';
}

/**
 * The body of a prompt dialog. Host keys show the fingerprint; the other
 * kinds one input per field. The inputs are uncontrolled, so the answers
 * live only in the DOM until `getValue()` reads and empties them.
 */
export class PromptBody
  extends ReactWidget
  implements Dialog.IBodyWidget<string[]>
{
  constructor(
    readonly prompt: IPrompt,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-HpcPrompt');
    this._id = newFormId('prompt');
  }

  /** The selector of the input that takes the focus first. */
  get firstInput(): string {
    return `#${this._id}-0`;
  }

  /** The answers, read once: the inputs are emptied as they are read. */
  getValue(): string[] {
    return this._inputs().map(input => {
      const value = input.value;
      input.value = '';
      return value;
    });
  }

  protected render(): React.ReactElement {
    const { prompt } = this;
    const trans = this._trans;
    if (prompt.kind === 'host-key' && prompt.hostKey) {
      const key = prompt.hostKey;
      return (
        <div className="jp-HpcPrompt-hostKey">
          <p>
            {trans.__(
              'JupyterLab has not connected to %1 before. Check that the fingerprint is the one your cluster publishes before you trust it.',
              key.host
            )}
          </p>
          <dl className="jp-HpcPrompt-facts">
            <dt>{trans.__('Host')}</dt>
            <dd>{key.host}</dd>
            <dt>{trans.__('Key type')}</dt>
            <dd>{key.keyType}</dd>
            <dt>{trans.__('Fingerprint')}</dt>
            <dd>
              <code className="jp-HpcPrompt-fingerprint">
                {key.fingerprint}
              </code>
            </dd>
          </dl>
          {key.message && (
            <pre className="jp-HpcPrompt-message">{key.message}</pre>
          )}
        </div>
      );
    }
    return (
      <div className="jp-HpcPrompt-fields">
        {prompt.instructions && (
          <p className="jp-HpcPrompt-instructions">{prompt.instructions}</p>
        )}
        {prompt.fields.map((field, i) => {
          const id = `${this._id}-${i}`;
          return (
            <div className="jp-HpcForm-field" key={id}>
              <label className="jp-HpcForm-label" htmlFor={id}>
                {field.label.trim() || trans.__('Answer %1', i + 1)}
              </label>
              <input
                id={id}
                className="jp-mod-styled jp-HpcForm-input jp-HpcPrompt-input"
                type={field.echo ? 'text' : 'password'}
                autoComplete={fieldAutocomplete(prompt, field)}
                autoFocus={i === 0}
                spellCheck={false}
                autoCapitalize="off"
              />
            </div>
          );
        })}
      </div>
    );
  }

  private _inputs(): HTMLInputElement[] {
    return Array.from(
      this.node.querySelectorAll<HTMLInputElement>('input.jp-HpcPrompt-input')
    );
  }

  private _id: string;
}

/** A prompt's dialog while it is shown. */
export interface IOpenPrompt {
  /** The answer to post: answers, or cancel; null if closed from outside. */
  readonly answer: Promise<IPromptAnswer | null>;
  /** Close it without answering (answered elsewhere, or expired). */
  close(): void;
}

/** Show one prompt in a JupyterLab dialog. */
export function openPromptDialog(
  prompt: IPrompt,
  trans: TranslationBundle
): IOpenPrompt {
  const body = new PromptBody(prompt, trans);
  const hostKey = prompt.kind === 'host-key';
  const title = prompt.title || trans.__('%1 asks for input', prompt.cluster);
  const dialog = new Dialog<string[]>({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      hostKey
        ? Dialog.warnButton({ label: trans.__('Trust and connect') })
        : Dialog.okButton({
            label:
              prompt.fields.length > 0
                ? trans.__('Submit')
                : trans.__('Continue')
          })
    ],
    // Trusting a host key takes a deliberate click, as OpenSSH wants "yes".
    defaultButton: hostKey ? 0 : 1,
    focusNodeSelector: hostKey ? '' : body.firstInput
  });
  dialog.addClass('jp-HpcPromptDialog');
  dialog.node.setAttribute('aria-label', title);
  let closed = false;
  const answer = dialog.launch().then(
    (result): IPromptAnswer | null => {
      if (closed) {
        return null;
      }
      if (!result.button.accept) {
        return { cancel: true };
      }
      return { answers: hostKey ? ['yes'] : (result.value ?? []) };
    },
    // Disposed while waiting in JupyterLab's dialog queue.
    () => null
  );
  return {
    answer,
    close: () => {
      closed = true;
      dialog.reject();
      dialog.dispose();
    }
  };
}
