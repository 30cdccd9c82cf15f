import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IAllocationInfo } from '../../common/api';
import { hpcIcon } from '../icons';
import { allocationName } from '../commands/kernels';
import { IRunningItemLike, IRunningManagerLike } from '../sessions/running';
import { CommandIDs } from '../tokens';
import { allocationStatus, formatKernelCount } from './messages';
import { IKernelsModel } from './model';

export interface IAllocationRunningManagerOptions {
  kernels: IKernelsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** Reveal the allocation (the panel's Cluster kernels section). */
  reveal?: (allocation: IAllocationInfo) => void;
  /** Clock for the time left; injectable for tests. */
  now?: () => number;
}

/**
 * "HPC Kernel Allocations" in JupyterLab's Running sidebar: every
 * allocation that has not ended, with its kernels and time left, shut
 * down with End allocation (which asks first).
 */
export class AllocationRunningManager
  implements IRunningManagerLike, IDisposable
{
  constructor(private readonly _o: IAllocationRunningManagerOptions) {
    this.name = _o.trans.__('HPC Kernel Allocations');
    this.shutdownLabel = _o.trans.__('End allocation');
    this.shutdownAllLabel = _o.trans.__('End All Allocations');
    _o.kernels.changed.connect(this._onChanged, this);
  }

  readonly name: string;
  readonly shutdownLabel: string;
  readonly shutdownAllLabel: string;

  get runningChanged(): ISignal<this, void> {
    return this._runningChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  shutdownAllConfirmationText = (): string => {
    const { trans } = this._o;
    const jobs = this._live().map(a => allocationName(a, trans));
    return trans.__(
      'End every cluster kernel allocation (%1)? The kernels in them stop; variables and work not saved in them are lost.',
      jobs.join(', ')
    );
  };

  running(): IRunningItemLike[] {
    return this._live().map(a => this._item(a.id));
  }

  refreshRunning(): void {
    void this._o.kernels.refresh().catch(() => undefined);
  }

  /** The sidebar asked the user already (shutdownAllConfirmationText). */
  shutdownAll(): void {
    for (const allocation of this._live()) {
      if (allocation.phase !== 'ending') {
        void this._o.kernels
          .endAllocation(allocation.id)
          .catch(() => undefined);
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._o.kernels.changed.disconnect(this._onChanged, this);
    Signal.clearData(this);
  }

  private _live(): IAllocationInfo[] {
    return this._o.kernels.allocations.filter(a => a.phase !== 'ended');
  }

  private _item(id: string): IRunningItemLike {
    const { kernels, commands, trans } = this._o;
    const now = () => (this._o.now ?? Date.now)();
    const current = () => kernels.allocation(id);
    return {
      className: 'jp-HpcRunningAllocation',
      context: id,
      icon: () => hpcIcon,
      label: () => {
        const a = current();
        if (!a) {
          return id;
        }
        return a.jobId
          ? trans.__('Job %1 on %2', a.jobId, a.cluster)
          : trans.__('New job on %1', a.cluster);
      },
      labelTitle: () => {
        const a = current();
        if (!a) {
          return '';
        }
        const status = allocationStatus(a, now(), trans);
        const notebooks = a.kernels
          .filter(k => k.state !== 'ended')
          .map(k => k.notebookPath ?? k.kernelId);
        return [
          status.label,
          status.detail,
          status.release,
          status.warning,
          ...notebooks
        ]
          .filter(Boolean)
          .join('\n');
      },
      detail: () => {
        const a = current();
        if (!a) {
          return '';
        }
        const status = allocationStatus(a, now(), trans);
        return [
          formatKernelCount(a, trans),
          a.phase === 'running' ? status.detail : status.label
        ]
          .filter(Boolean)
          .join(' · ');
      },
      open: () => {
        const a = current();
        if (a) {
          this._o.reveal?.(a);
        }
      },
      shutdown: () => void commands.execute(CommandIDs.endAllocation, { id })
    };
  }

  private _onChanged(): void {
    this._runningChanged.emit();
  }

  private _runningChanged = new Signal<this, void>(this);
  private _isDisposed = false;
}
