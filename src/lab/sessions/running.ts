import { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ISessionInfo } from '../../common/api';
import { hpcIcon } from '../icons';
import { CommandIDs } from '../tokens';
import { secondsLeft, sessionStatus, sessionTitle } from './messages';
import { ISessionsModel } from './model';

/**
 * The parts of `IRunningSessions.IManager` / `IRunningItem` from
 * @jupyterlab/running this manager fills (the registry takes any object of
 * that shape), kept here so the manager can be tested without the sidebar.
 */
export interface IRunningItemLike {
  className?: string;
  context?: string;
  open?: () => void;
  shutdown?: () => void;
  icon: () => LabIcon | string;
  label: () => string;
  labelTitle?: () => string;
  detail?: () => string;
}

export interface IRunningManagerLike {
  name: string;
  shutdownAll(): void;
  running(options?: { mode: 'tree' | 'list' }): IRunningItemLike[];
  refreshRunning(): void;
  runningChanged: ISignal<unknown, unknown>;
  shutdownLabel?: string;
  shutdownAllLabel?: string;
  shutdownAllConfirmationText?: string | (() => string);
}

export interface ISessionRunningManagerOptions {
  sessions: ISessionsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** Clock for the time left; injectable for tests. */
  now?: () => number;
}

/**
 * The "HPC Sessions" section of JupyterLab's Running sidebar: every session
 * that has not ended, opened with Open (or its log until it runs) and shut
 * down with Cancel.
 */
export class SessionRunningManager implements IRunningManagerLike, IDisposable {
  constructor(private readonly _options: ISessionRunningManagerOptions) {
    this.name = _options.trans.__('HPC Sessions');
    this.shutdownLabel = _options.trans.__('Cancel job');
    this.shutdownAllLabel = _options.trans.__('Cancel All Jobs');
    _options.sessions.changed.connect(this._onChanged, this);
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
    const { trans } = this._options;
    const jobs = this._live().map(s => sessionTitle(s, trans));
    return trans.__(
      'Cancel every JupyterLab job (%1)? Their allocations are given back and work they have not saved is lost.',
      jobs.join(', ')
    );
  };

  running(): IRunningItemLike[] {
    return this._live().map(s => this._item(s.id));
  }

  refreshRunning(): void {
    void this._options.sessions.refresh().catch(() => undefined);
  }

  /** The sidebar asked the user already (shutdownAllConfirmationText). */
  shutdownAll(): void {
    for (const session of this._live()) {
      if (session.phase !== 'ending') {
        void this._options.sessions.cancel(session.id).catch(() => undefined);
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._options.sessions.changed.disconnect(this._onChanged, this);
    Signal.clearData(this);
  }

  private _live(): ISessionInfo[] {
    return this._options.sessions.sessions.filter(s => s.phase !== 'ended');
  }

  private _item(id: string): IRunningItemLike {
    const { sessions, commands, trans } = this._options;
    const now = () => (this._options.now ?? Date.now)();
    // The item outlives a render: read the session when asked.
    const current = () => sessions.get(id);
    return {
      className: 'jp-HpcRunningSession',
      context: id,
      icon: () => hpcIcon,
      // The number first: the sidebar cuts long labels at the end.
      label: () => {
        const s = current();
        if (!s) {
          return id;
        }
        return s.jobId
          ? trans.__('Job %1 on %2', s.jobId, s.cluster)
          : trans.__('New job on %1', s.cluster);
      },
      labelTitle: () => {
        const s = current();
        if (!s) {
          return '';
        }
        const status = sessionStatus(s, now(), trans);
        return [status.label, status.detail, status.warning]
          .filter(Boolean)
          .join('\n');
      },
      detail: () => {
        const s = current();
        if (!s) {
          return '';
        }
        if (s.schedulerUnreachable) {
          return trans.__('scheduler not answering');
        }
        const left = secondsLeft(s, now());
        if (s.phase === 'running' && left !== null) {
          return trans.__('%1 min left', Math.floor(left / 60));
        }
        return phaseWord(s, trans);
      },
      open: () => {
        const s = current();
        void commands.execute(
          s?.phase === 'running'
            ? CommandIDs.openSession
            : CommandIDs.showSessionLog,
          { id }
        );
      },
      shutdown: () => void commands.execute(CommandIDs.cancelSession, { id })
    };
  }

  private _onChanged(): void {
    this._runningChanged.emit();
  }

  private _runningChanged = new Signal<this, void>(this);
  private _isDisposed = false;
}

/** One short word for the detail column. */
function phaseWord(session: ISessionInfo, trans: TranslationBundle): string {
  switch (session.phase) {
    case 'submitting':
      return trans.__('submitting');
    case 'queued':
      return trans.__('queued');
    case 'starting':
      return trans.__('starting');
    case 'connecting':
      return trans.__('connecting');
    case 'running':
      return trans.__('running');
    case 'ending':
      return trans.__('ending');
    case 'ended':
      return trans.__('ended');
  }
}
