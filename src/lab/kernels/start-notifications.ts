import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import { IKernelStartInfo } from '../../common/api';
import { startStatusText } from './messages';
import { IKernelsModel, isWaiting } from './model';

/**
 * JupyterLab drops an update of a toast it has not shown yet (it re-creates
 * the toast under the same id, which react-toastify ignores), and a start
 * often moves on at once (waiting, then queued): a toast younger than this
 * gets its words once it is this old.
 */
export const TOAST_SETTLE_MS = 1000;

interface IToast {
  id: string;
  emittedAt: number;
  /** The start whose words wait for the toast to settle. */
  pending: IKernelStartInfo | null;
  timer: ReturnType<typeof setTimeout> | null;
}

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
    return this._toasts.get(kernelId)?.id ?? null;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._o.kernels.startChanged.disconnect(this._onStart, this);
    for (const toast of this._toasts.values()) {
      this._dismiss(toast);
    }
    this._toasts.clear();
  }

  private _onStart(_: IKernelsModel, start: IKernelStartInfo): void {
    const known = this._toasts.get(start.kernelId);
    if (!isWaiting(start)) {
      if (known) {
        this._dismiss(known);
        this._toasts.delete(start.kernelId);
      }
      return;
    }
    if (!known) {
      this._toasts.set(start.kernelId, {
        id: Notification.emit(
          this._message(start),
          'in-progress',
          this._options(start)
        ),
        emittedAt: Date.now(),
        pending: null,
        timer: null
      });
      return;
    }
    const wait = known.emittedAt + TOAST_SETTLE_MS - Date.now();
    if (wait > 0) {
      known.pending = start;
      known.timer ??= setTimeout(() => {
        known.timer = null;
        const latest = known.pending;
        known.pending = null;
        if (latest && this._toasts.get(latest.kernelId) === known) {
          this._update(known, latest);
        }
      }, wait);
      return;
    }
    this._update(known, start);
  }

  private _update(toast: IToast, start: IKernelStartInfo): void {
    Notification.update({
      id: toast.id,
      message: this._message(start),
      type: 'in-progress',
      ...this._options(start)
    });
  }

  private _dismiss(toast: IToast): void {
    if (toast.timer) {
      clearTimeout(toast.timer);
      toast.timer = null;
    }
    Notification.dismiss(toast.id);
  }

  private _options(start: IKernelStartInfo): Notification.IOptions<never> {
    return {
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

  private _toasts = new Map<string, IToast>();
  private _isDisposed = false;
}
