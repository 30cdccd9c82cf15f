import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IAttachableSession } from '../../common/api';
import { newFormId } from '../clusters/form-field';
import { attachableStatus } from './messages';

/**
 * The body of "Sessions started elsewhere": one radio per session, the
 * first chosen, each with its job, state and where it was started.
 */
export class AttachList
  extends ReactWidget
  implements Dialog.IBodyWidget<string | null>
{
  constructor(
    private readonly _cluster: string,
    private readonly _sessions: readonly IAttachableSession[],
    private readonly _trans: TranslationBundle,
    private readonly _now: () => number = Date.now
  ) {
    super();
    this.addClass('jp-HpcAttachList');
    this._chosen = _sessions[0]?.id ?? null;
  }

  /** The id of the chosen session. */
  getValue(): string | null {
    return this._chosen;
  }

  protected render(): React.ReactElement {
    const trans = this._trans;
    const now = this._now();
    return (
      <div className="jp-HpcForm">
        <p className="jp-HpcForm-intro">
          {trans.__(
            'These JupyterLab sessions run or wait on %1 but are not followed here: they were started from another computer, or by a JupyterLab that lost track of them. Attach one to follow it, open it and cancel it from here.',
            this._cluster
          )}
        </p>
        <div
          role="radiogroup"
          aria-label={trans.__('Sessions on %1', this._cluster)}
          className="jp-HpcAttachList-options"
        >
          {this._sessions.map(session => {
            const id = `${this._name}-${session.id}`;
            const status = attachableStatus(session, now, trans);
            return (
              <label key={session.id} className="jp-HpcForm-radio" htmlFor={id}>
                <input
                  id={id}
                  type="radio"
                  name={this._name}
                  value={session.id}
                  checked={this._chosen === session.id}
                  onChange={() => {
                    this._chosen = session.id;
                    this.update();
                  }}
                />
                <span className="jp-HpcAttachList-text">
                  <span className="jp-HpcAttachList-job">
                    {trans.__('job %1', session.jobId)}
                  </span>{' '}
                  <span className="jp-HpcAttachList-state">{status.label}</span>
                  <span className="jp-HpcForm-hint jp-HpcAttachList-detail">
                    {status.detail}
                  </span>
                </span>
              </label>
            );
          })}
        </div>
      </div>
    );
  }

  private _chosen: string | null;
  private readonly _name = newFormId('attach');
}

/**
 * Ask which session started elsewhere to attach to. Resolves with its id,
 * or null when cancelled; with none, says so and resolves with null.
 */
export async function chooseAttachable(
  cluster: string,
  sessions: readonly IAttachableSession[],
  trans: TranslationBundle
): Promise<string | null> {
  if (sessions.length === 0) {
    await showDialog({
      title: trans.__('No sessions started elsewhere on %1', cluster),
      body: trans.__(
        'No JupyterLab session that this JupyterLab does not follow runs or waits on %1. Sessions it follows are in the Sessions list of the HPC panel.',
        cluster
      ),
      buttons: [Dialog.okButton({ label: trans.__('OK') })]
    });
    return null;
  }
  const result = await showDialog({
    title: trans.__('Sessions started elsewhere on %1', cluster),
    body: new AttachList(cluster, sessions, trans),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Attach') })
    ]
  });
  return result.button.accept ? result.value : null;
}
