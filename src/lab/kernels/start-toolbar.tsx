import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { IKernelStartInfo } from '../../common/api';
import { toFailure } from '../clusters/model';
import { startStatusText } from './messages';
import { IKernelsModel } from './model';
import { INotebookKernelFacts, matchStart } from './start-match';

/**
 * The parts of a notebook's SessionContext the start item reads (kept
 * structural: the extension does not depend on @jupyterlab/notebook).
 */
export interface ISessionContextLike {
  readonly path: string;
  readonly kernelPreference: { readonly name?: string };
  readonly session: {
    readonly kernel: { readonly id: string; readonly name: string } | null;
  } | null;
  readonly kernelDisplayName: string;
  readonly statusChanged: ISignal<unknown, unknown>;
  readonly kernelChanged: ISignal<unknown, unknown>;
}

export interface IDocumentContextLike {
  /** The path relative to the server's root, without a drive. */
  readonly localPath: string;
  readonly sessionContext: ISessionContextLike;
}

/** The notebook's facts for matching a start. */
export function notebookFacts(
  context: IDocumentContextLike
): INotebookKernelFacts {
  const session = context.sessionContext;
  const names = [
    session.kernelPreference.name,
    session.session?.kernel?.name
  ].filter((n): n is string => !!n);
  return {
    path: context.localPath,
    specNames: names,
    displayName: session.kernelDisplayName || null,
    kernelId: session.session?.kernel?.id ?? null
  };
}

export interface IKernelStartItemOptions {
  kernels: IKernelsModel;
  context: IDocumentContextLike;
  trans: TranslationBundle;
  /** Clock; injectable for tests. */
  now?: () => number;
}

/**
 * The notebook toolbar's word on a cluster kernel the Jupyter server is
 * still starting: "Queued on hpc: Priority, estimated start 14:05", then
 * "Starting on c1…", with Cancel. Hidden when no start is waiting.
 */
export class KernelStartItem extends ReactWidget {
  constructor(private readonly _o: IKernelStartItemOptions) {
    super();
    this.addClass('jp-HpcKernelStart');
    _o.kernels.changed.connect(this._sync, this);
    _o.context.sessionContext.statusChanged.connect(this._sync, this);
    _o.context.sessionContext.kernelChanged.connect(this._sync, this);
    this._sync();
  }

  /** The start shown now, or null. */
  get start(): IKernelStartInfo | null {
    return this._start;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._o.kernels.changed.disconnect(this._sync, this);
    this._o.context.sessionContext.statusChanged.disconnect(this._sync, this);
    this._o.context.sessionContext.kernelChanged.disconnect(this._sync, this);
    super.dispose();
  }

  protected render(): React.ReactElement | null {
    const start = this._start;
    if (!start) {
      return null;
    }
    const { kernels, trans } = this._o;
    const now = (this._o.now ?? Date.now)();
    const profile = kernels.profile(start.profile);
    const cluster = profile?.cluster ?? trans.__('the cluster');
    const node = start.allocationId
      ? (kernels.allocation(start.allocationId)?.node ?? null)
      : null;
    const text = startStatusText(start, cluster, node, now, trans);
    return (
      <div
        className="jp-HpcKernelStart-body"
        role="status"
        aria-label={trans.__('Cluster kernel start')}
        data-kernel-id={start.kernelId}
        data-state={start.state}
      >
        <span className="jp-HpcKernelStart-dot" aria-hidden="true" />
        <span className="jp-HpcKernelStart-text" title={text}>
          {text}
        </span>
        <Button
          small={true}
          minimal={true}
          className="jp-HpcKernelStart-cancel"
          title={trans.__('Cancel the kernel start on %1', cluster)}
          disabled={this._cancelling}
          onClick={() => void this._cancel(start.kernelId)}
        >
          {this._cancelling ? trans.__('Cancelling…') : trans.__('Cancel')}
        </Button>
        {this._error && (
          <span className="jp-HpcKernelStart-error" role="alert">
            {this._error}
          </span>
        )}
      </div>
    );
  }

  private async _cancel(kernelId: string): Promise<void> {
    this._cancelling = true;
    this._error = null;
    this.update();
    try {
      await this._o.kernels.cancelStart(kernelId);
    } catch (err) {
      this._error = this._o.trans.__(
        'Could not cancel: %1',
        toFailure(err).message
      );
    } finally {
      this._cancelling = false;
      this.update();
    }
  }

  private _sync(): void {
    if (this.isDisposed) {
      return;
    }
    const { kernels, context } = this._o;
    const start = matchStart(
      kernels.starts,
      notebookFacts(context),
      kernels.profiles
    );
    if (start?.kernelId !== this._start?.kernelId) {
      this._error = null;
    }
    this._start = start;
    this.setHidden(start === null);
    this.node.dataset.kernelId = start?.kernelId ?? '';
    this.update();
  }

  private _start: IKernelStartInfo | null = null;
  private _cancelling = false;
  private _error: string | null = null;
}

/** The part of a notebook panel the extension touches. */
export interface IToolbarHostLike {
  readonly toolbar: {
    insertBefore(at: string, name: string, widget: Widget): boolean;
    addItem(name: string, widget: Widget): boolean;
  };
}

/**
 * The DocumentRegistry widget extension for notebooks: one start item in
 * each notebook's toolbar, before the kernel name when there is one.
 */
export class KernelStartExtension {
  constructor(private readonly _o: Omit<IKernelStartItemOptions, 'context'>) {}

  createNew(
    panel: IToolbarHostLike,
    context: IDocumentContextLike
  ): IDisposable {
    const item = new KernelStartItem({ ...this._o, context });
    if (!panel.toolbar.insertBefore('kernelName', 'hpcKernelStart', item)) {
      panel.toolbar.addItem('hpcKernelStart', item);
    }
    return item;
  }
}
