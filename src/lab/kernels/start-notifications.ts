import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import { IKernelStartInfo } from '../../common/api';
import { startStatusText } from './messages';
import { IKernelsModel, isWaiting } from './model';

export interface IKernelStartNotifierOptions {
  kernels: IKernelsModel;
  trans: TranslationBundle;
  /** Clock; injectable for tests. */
  now?: () => number;
}

/**
 * One in-progress notification per waiting cluster kernel start, seen from
 * anywhere in JupyterLab: "analysis.ipynb: Queued on hpc: Priority,
 * estimated start 14:05" with Cancel. It goes when the start is over (a
 * failure or a cancel is shown by JupyterLab's own kernel error dialog).
 */
export class KernelStartNotifier implements IDisposable {
  constructor(private readonly _o: IKernelStartNotifierOptions) {
    _o.kernels.startChanged.connect(this._onStart, this);
    for (const start of _o.kernels.starts) {
      this._onStart(_o.kernels, start);
    }
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The notification id of a waiting start, for tests. */
  notificationOf(kernelId: string): string | null {
    return this._toasts.get(kernelId) ?? null;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._o.kernels.startChanged.disconnect(this._onStart, this);
    for (const id of this._toasts.values()) {
      Notification.dismiss(id);
    }
    this._toasts.clear();
  }

  private _onStart(_: IKernelsModel, start: IKernelStartInfo): void {
    const known = this._toasts.get(start.kernelId);
    if (!isWaiting(start)) {
      if (known) {
        Notification.dismiss(known);
        this._toasts.delete(start.kernelId);
      }
      return;
    }
    const message = this._message(start);
    const options = {
      autoClose: false as const,
      actions: [
        {
          label: this._o.trans.__('Cancel'),
          caption: this._o.trans.__('Give up starting this kernel'),
          callback: (event: Event) => {
            // Keep the toast until the start is really over.
            event.preventDefault();
            void this._o.kernels
              .cancelStart(start.kernelId)
              .catch(() => undefined);
          }
        }
      ]
    };
    if (known) {
      Notification.update({
        id: known,
        message,
        type: 'in-progress',
        ...options
      });
    } else {
      this._toasts.set(
        start.kernelId,
        Notification.emit(message, 'in-progress', options)
      );
    }
  }

  private _message(start: IKernelStartInfo): string {
    const { kernels, trans } = this._o;
    const profile = kernels.profile(start.profile);
    const cluster = profile?.cluster ?? trans.__('the cluster');
    const node = start.allocationId
      ? (kernels.allocation(start.allocationId)?.node ?? null)
      : null;
    const text = startStatusText(
      start,
      cluster,
      node,
      (this._o.now ?? Date.now)(),
      trans
    );
    const what = start.notebookPath
      ? start.notebookPath.split('/').pop()
      : profile?.displayName;
    return what ? `${what}: ${text}` : text;
  }

  private _toasts = new Map<string, string>();
  private _isDisposed = false;
}
